/*
 * `tp driver [CONFIG.toml]`: run the SHM driver (Driver Model spec v1.0)
 * until SIGINT/SIGTERM (graceful shutdown: final announce, leases revoked,
 * ShmDriverShutdown) or --duration. Prints one JSON line when the driver is
 * up and one with its counters when it stops.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/tp_clock.h"
#include "common/tp_error.h"
#include "tensor_pool/tp_driver.h"
#include "tp_cli.h"
#include "tp_cli_agent.h"

/** Entry point of `tp driver` (argv starts at "driver"). Returns a TP_CLI_EXIT_* code. */
int tp_cli_driver(int argc, char **argv);

static void tp_cli_driver_usage(FILE *out)
{
    fprintf(out,
        "usage: tp driver [CONFIG.toml] [--print-config] [--check] [--duration SECONDS]\n"
        "  Run the SHM driver: it creates and owns the shared-memory regions of the streams in CONFIG,\n"
        "  grants leases to producers and consumers that attach over the control stream, and announces\n"
        "  every stream. Keys and defaults: docs/DRIVER.md; environment variables override keys\n"
        "  (driver.control_stream_id -> DRIVER_CONTROL_STREAM_ID). Without CONFIG the built-in defaults\n"
        "  apply plus one profile 'default' (1024 slots, one 64 KiB pool) and dynamic streams 20000-29999.\n"
        "  --print-config  print the effective configuration as TOML and exit\n"
        "  --check         validate the configuration and exit (0 valid, 1 invalid)\n"
        "  --duration S    stop after S seconds (default: until SIGINT/SIGTERM)\n");
}

static int parse_seconds(const char *text, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (0 != errno || end == text || '\0' != *end || !isfinite(v) || v <= 0 || v > 1e9)
    {
        fprintf(stderr, "tp driver: --duration: expected a number of seconds > 0, got \"%s\"\n", text);
        return -1;
    }
    *out = v;
    return 0;
}

static int print_config(const void *config, char *buf, size_t len)
{
    return tp_driver_config_print(config, buf, len);
}

/*
 * Another driver on our control stream (DRV-15): one JSON line when first seen and then at most every 10 s while
 * the counts grow, so an operator sees the deployment error on stdout (the driver also logs a warning).
 */
static void tp_cli_driver_check_conflict(const tp_driver_t *driver, uint64_t now_ns, uint64_t *last_check_ns,
    uint64_t *last_print_ns, uint64_t *printed_total)
{
    if (now_ns < *last_check_ns + 1000000000ull)
    {
        return;
    }
    *last_check_ns = now_ns;
    tp_driver_stats_t s;
    if (tp_driver_stats(driver, &s) < 0)
    {
        return;
    }
    uint64_t total = s.foreign_driver_messages + s.foreign_announces;
    if (total == *printed_total || (0 != *last_print_ns && now_ns < *last_print_ns + 10000000000ull))
    {
        return;
    }
    *printed_total = total;
    *last_print_ns = now_ns;
    printf("{\"driver\":\"conflict\",\"reason\":\"another SHM driver on the control stream\","
           "\"foreign_driver_messages\":%llu,\"foreign_announces\":%llu,\"session\":%d}\n",
        (unsigned long long)s.foreign_driver_messages, (unsigned long long)s.foreign_announces,
        (int)s.last_foreign_session);
    fflush(stdout);
}

static void tp_cli_driver_print_stats(const tp_driver_t *driver)
{
    tp_driver_stats_t s;
    if (tp_driver_stats(driver, &s) < 0)
    {
        return;
    }
    printf("{\"driver\":\"stopped\",\"attach_requests\":%llu,\"attach_ok\":%llu,\"attach_rejected\":%llu,"
           "\"keepalives\":%llu,\"detaches\":%llu,\"leases_expired\":%llu,\"epochs_created\":%llu,"
           "\"epochs_collected\":%llu,\"announces\":%llu,\"malformed\":%llu,\"consumers\":%llu,"
           "\"consumer_configs\":%llu,\"per_consumer_assigned\":%llu,\"per_consumer_declined\":%llu,"
           "\"qos_messages\":%llu,\"drops_gap\":%llu,\"drops_late\":%llu,\"foreign_driver_messages\":%llu,"
           "\"foreign_announces\":%llu,\"rejects\":{",
        (unsigned long long)s.attach_requests, (unsigned long long)s.attach_ok, (unsigned long long)s.attach_rejected,
        (unsigned long long)s.keepalives, (unsigned long long)s.detaches, (unsigned long long)s.leases_expired,
        (unsigned long long)s.epochs_created, (unsigned long long)s.epochs_collected, (unsigned long long)s.announces,
        (unsigned long long)s.malformed, (unsigned long long)s.consumers, (unsigned long long)s.consumer_configs,
        (unsigned long long)s.per_consumer_assigned, (unsigned long long)s.per_consumer_declined,
        (unsigned long long)s.qos_messages, (unsigned long long)s.drops_gap, (unsigned long long)s.drops_late,
        (unsigned long long)s.foreign_driver_messages, (unsigned long long)s.foreign_announces);
    for (int i = 0; i < TP_DRIVER_REJECT_COUNT; i++)
    {
        printf("%s\"%s\":%llu", i ? "," : "", tp_driver_reject_name(i), (unsigned long long)s.rejects_by_reason[i]);
    }
    printf("}}\n");
    fflush(stdout);
}

int tp_cli_driver(int argc, char **argv)
{
    tp_cli_agent_args_t args;
    int exit_code = TP_CLI_EXIT_OK;
    if (!tp_cli_agent_parse(argc, argv, tp_cli_driver_usage, parse_seconds, &args, &exit_code))
    {
        return exit_code;
    }
    const char *path = args.path;
    tp_driver_config_t *config = NULL;
    if (tp_driver_config_init(&config) < 0)
    {
        fprintf(stderr, "tp driver: %s\n", tp_errmsg());
        return TP_CLI_EXIT_FAIL;
    }
    int rc;
    if (NULL != path)
    {
        rc = tp_driver_config_load_file(config, path);
    }
    else
    {
        /* no file: the documented built-in deployment, still open to environment overrides */
        static const char builtin[] = "[policies]\nallow_dynamic_streams = true\n"
                                      "[driver]\nstream_id_range = \"20000-29999\"\n"
                                      "[profiles.default]\nheader_nslots = 1024\n"
                                      "payload_pools = [{ pool_id = 1, stride_bytes = 65536 }]\n";
        rc = tp_driver_config_load_string(config, builtin, sizeof(builtin) - 1, "(built-in defaults)");
    }
    if (rc < 0)
    {
        fprintf(stderr, "tp driver: %s\n", tp_errmsg());
        tp_driver_config_close(config);
        return TP_CLI_EXIT_FAIL;
    }
    if (tp_cli_agent_print_or_check("tp driver", &args, NULL != path ? path : "(built-in)", print_config, config))
    {
        tp_driver_config_close(config);
        return TP_CLI_EXIT_OK;
    }
    tp_driver_t *driver = NULL;
    rc = tp_driver_init(&driver, config);
    if (rc < 0)
    {
        fprintf(stderr, "tp driver: %s\n", tp_errmsg());
        tp_driver_config_close(config);
        return TP_CLI_EXIT_FAIL;
    }
    printf("{\"driver\":\"up\",\"pid\":%ld,\"control_stream_id\":%u,\"announce_stream_id\":%u,\"shm_base_dir\":\"%s\","
           "\"namespace\":\"%s\"}\n",
        (long)getpid(), tp_driver_config_control_stream_id(config), tp_driver_config_announce_stream_id(config),
        tp_driver_config_shm_base_dir(config), tp_driver_config_namespace(config));
    fflush(stdout);
    tp_driver_config_close(config);
    tp_cli_agent_stop_on_signals();
    uint64_t deadline = tp_cli_agent_deadline_ns(args.duration);
    bool stopping = false;
    uint64_t conflict_check_ns = 0;
    uint64_t conflict_print_ns = 0;
    uint64_t conflict_total = 0;
    while (!tp_driver_is_terminated(driver))
    {
        tp_cli_driver_check_conflict(driver, tp_clock_mono_ns(), &conflict_check_ns, &conflict_print_ns,
            &conflict_total);
        if (!stopping && (tp_cli_agent_stop_requested() || tp_clock_mono_ns() >= deadline))
        {
            tp_driver_request_shutdown(driver);
            stopping = true;
        }
        int work = tp_driver_do_work(driver);
        if (work < 0)
        {
            fprintf(stderr, "tp driver: %s\n", tp_errmsg());
            exit_code = TP_CLI_EXIT_FAIL;
            break;
        }
        if (0 == work)
        {
            tp_sleep_ns(100000);
        }
    }
    tp_cli_driver_print_stats(driver);
    tp_driver_close(driver);
    return exit_code;
}
