/*
 * `tp ratelimit [CONFIG.toml]`: run a rate limiter agent (SHM RateLimiter
 * spec v1.0) until SIGINT/SIGTERM or --duration. Prints one JSON line when
 * it is up and one with each mapping's counters when it stops.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/tp_clock.h"
#include "common/tp_error.h"
#include "ratelimit/tp_ratelimit.h"
#include "tp_args.h"
#include "tp_cli.h"
#include "tp_cli_agent.h"

/** Entry point of `tp ratelimit` (argv starts at "ratelimit"). Returns a TP_CLI_EXIT_* code. */
int tp_cli_ratelimit(int argc, char **argv);

static void tp_cli_ratelimit_usage(FILE *out)
{
    fprintf(out,
        "usage: tp ratelimit [CONFIG.toml] [--print-config] [--check] [--duration SECONDS]\n"
        "  Run a rate limiter: consume each mapping's source stream, republish at most max_rate_hz frames per\n"
        "  second (or the rate of the consumer's ConsumerHello) on the destination stream with its own SHM\n"
        "  pools. CONFIG defaults to $TP_RATELIMIT_CONFIG. Keys: docs/RATELIMITER.md; environment variables\n"
        "  override rate_limiter.* keys (rate_limiter.max_rate_hz -> RATE_LIMITER_MAX_RATE_HZ). Transport and\n"
        "  source streams: the client defaults ($TP_TRANSPORT_DIR, $TP_SHM_BASE_DIR, $TP_NAMESPACE, ...).\n"
        "  --print-config  print the effective configuration as TOML and exit\n"
        "  --check         validate the configuration and exit (0 valid, 1 invalid)\n"
        "  --duration S    stop after S seconds (default: until SIGINT/SIGTERM)\n");
}

static int parse_seconds(const char *text, double *out)
{
    return tp_args_double("tp ratelimit", "--duration", text, 1e-3, 1e9, "a number of seconds", out);
}

static int print_config(const void *config, char *buf, size_t len)
{
    return tp_ratelimit_config_print(config, buf, len);
}

static void tp_cli_ratelimit_print_stats(const tp_ratelimit_t *rl)
{
    printf("{\"ratelimit\":\"stopped\",\"mappings\":[");
    for (size_t i = 0; i < tp_ratelimit_mapping_count(rl); i++)
    {
        tp_ratelimit_stats_t s;
        if (tp_ratelimit_stats(rl, i, &s) < 0)
        {
            continue;
        }
        printf("%s{\"source_stream_id\":%u,\"dest_stream_id\":%u,\"frames_in\":%llu,\"frames_out\":%llu,"
               "\"bytes_out\":%llu,\"source_epoch_changes\":%llu,\"dest_epoch\":%llu,\"rate_hz\":%llu,"
               "\"consumer_id\":%llu,\"hellos\":%llu,\"hellos_ignored\":%llu,\"metadata_forwarded\":%llu,"
               "\"progress_forwarded\":%llu,\"qos_forwarded\":%llu,\"forward_failed\":%llu,"
               "\"foreign_dest_announces\":%llu,\"drops\":{",
            i ? "," : "", s.source_stream_id, s.dest_stream_id, (unsigned long long)s.frames_in,
            (unsigned long long)s.frames_out, (unsigned long long)s.bytes_out,
            (unsigned long long)s.source_epoch_changes, (unsigned long long)s.dest_epoch,
            (unsigned long long)s.rate_hz, (unsigned long long)s.consumer_id, (unsigned long long)s.hellos,
            (unsigned long long)s.hellos_ignored, (unsigned long long)s.metadata_forwarded,
            (unsigned long long)s.progress_forwarded, (unsigned long long)s.qos_forwarded,
            (unsigned long long)s.forward_failed, (unsigned long long)s.foreign_dest_announces);
        for (int r = 0; r < TP_RATELIMIT_DROP_COUNT; r++)
        {
            printf("%s\"%s\":%llu", r ? "," : "", tp_ratelimit_drop_reason_name(r), (unsigned long long)s.drops[r]);
        }
        printf("}}");
    }
    printf("]}\n");
    fflush(stdout);
}

int tp_cli_ratelimit(int argc, char **argv)
{
    tp_cli_agent_args_t args;
    int exit_code = TP_CLI_EXIT_OK;
    if (!tp_cli_agent_parse(argc, argv, tp_cli_ratelimit_usage, parse_seconds, &args, &exit_code))
    {
        return exit_code;
    }
    const char *path = NULL != args.path ? args.path : getenv("TP_RATELIMIT_CONFIG");
    if (NULL == path || '\0' == path[0])
    {
        fprintf(stderr, "tp ratelimit: a configuration file is required (argument or $TP_RATELIMIT_CONFIG): the "
            "mappings have no defaults\n");
        tp_cli_ratelimit_usage(stderr);
        return TP_CLI_EXIT_USAGE;
    }
    tp_ratelimit_config_t config;
    tp_ratelimit_config_init(&config);
    if (tp_ratelimit_config_load_file(&config, path) < 0)
    {
        fprintf(stderr, "tp ratelimit: %s\n", tp_errmsg());
        return TP_CLI_EXIT_FAIL;
    }
    if (tp_cli_agent_print_or_check("tp ratelimit", &args, path, print_config, &config))
    {
        return TP_CLI_EXIT_OK;
    }
    tp_ratelimit_t *rl = NULL;
    if (tp_ratelimit_init(&rl, &config, NULL) < 0)
    {
        fprintf(stderr, "tp ratelimit: %s\n", tp_errmsg());
        return TP_CLI_EXIT_FAIL;
    }
    printf("{\"ratelimit\":\"up\",\"pid\":%ld,\"instance_id\":\"%s\",\"mappings\":[", (long)getpid(),
        config.instance_id);
    for (size_t i = 0; i < tp_ratelimit_mapping_count(rl); i++)
    {
        tp_ratelimit_stats_t s;
        tp_ratelimit_stats(rl, i, &s);
        printf("%s{\"source_stream_id\":%u,\"dest_stream_id\":%u,\"dest_epoch\":%llu,\"rate_hz\":%llu}", i ? "," : "",
            s.source_stream_id, s.dest_stream_id, (unsigned long long)s.dest_epoch, (unsigned long long)s.rate_hz);
    }
    printf("]}\n");
    fflush(stdout);
    tp_cli_agent_stop_on_signals();
    if (tp_ratelimit_start(rl) < 0)
    {
        fprintf(stderr, "tp ratelimit: %s\n", tp_errmsg());
        exit_code = TP_CLI_EXIT_FAIL;
    }
    uint64_t deadline = tp_cli_agent_deadline_ns(args.duration);
    while (TP_CLI_EXIT_OK == exit_code && !tp_cli_agent_stop_requested() && tp_clock_mono_ns() < deadline)
    {
        tp_sleep_ns(10000000);
    }
    tp_ratelimit_stop(rl);
    tp_cli_ratelimit_print_stats(rl);
    tp_ratelimit_close(rl);
    return exit_code;
}
