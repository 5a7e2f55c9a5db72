/*
 * `tp bridge [CONFIG.toml]`: run the SHM Aeron-UDP bridge (sender, receiver or
 * both, per bridge.role) until SIGINT/SIGTERM or --duration. Prints one JSON
 * line when it is up, optional periodic counters, and the final counters.
 * Configuration reference: docs/BRIDGE.md.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/tp_bridge.h"
#include "common/tp_clock.h"
#include "common/tp_error.h"
#include "common/tp_idle_strategy.h"
#include "tp_cli.h"

/** Entry point of `tp bridge` (argv starts at "bridge"). Returns a TP_CLI_EXIT_* code. */
int tp_cli_bridge(int argc, char **argv);

static volatile sig_atomic_t tp_cli_bridge_stop = 0;

static void tp_cli_bridge_on_signal(int sig)
{
    (void)sig;
    tp_cli_bridge_stop = 1;
}

static void tp_cli_bridge_usage(FILE *out)
{
    fprintf(out,
        "usage: tp bridge [CONFIG.toml] [--check] [--duration SECONDS] [--stats SECONDS] [--idle NAME]\n"
        "  Run the SHM Aeron-UDP bridge: the sender consumes the mapped source streams and sends their frames\n"
        "  as BridgeFrameChunk messages over bridge.payload_channel; the receiver reassembles them and\n"
        "  republishes them as the producer of the destination streams. bridge.role picks the halves.\n"
        "  CONFIG defaults to $TP_BRIDGE_CONFIG. Keys, defaults and counters: docs/BRIDGE.md.\n"
        "  --check         validate the configuration and exit (0 valid, 1 invalid)\n"
        "  --duration S    stop after S seconds (default: until SIGINT/SIGTERM)\n"
        "  --stats S       print the counters as a JSON line every S seconds\n"
        "  --idle NAME     idle strategy: backoff (default), yield, spin, sleep:<n>ms\n");
}

static int parse_seconds(const char *text, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (0 != errno || end == text || '\0' != *end || !isfinite(v) || v <= 0 || v > 1e9)
    {
        return -1;
    }
    *out = v;
    return 0;
}

static void tp_cli_bridge_print(const tp_bridge_t *bridge, const char *state)
{
    tp_bridge_stats_t s;
    char buf[8192];
    if (tp_bridge_stats(bridge, &s) < 0 || tp_bridge_stats_json(&s, buf, sizeof(buf)) < 0)
    {
        return;
    }
    printf("{\"bridge\":\"%s\",\"stats\":%s}\n", state, buf);
    fflush(stdout);
}

int tp_cli_bridge(int argc, char **argv)
{
    bool check = false;
    double duration = 0;
    double stats_every = 0;
    const char *idle_name = "backoff";
    static const struct option opts[] = { { "check", no_argument, 0, 'c' },
        { "duration", required_argument, 0, 't' }, { "stats", required_argument, 0, 's' },
        { "idle", required_argument, 0, 'i' }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
    optind = 1;
    int opt;
    while (-1 != (opt = getopt_long(argc, argv, "ct:s:i:h", opts, NULL)))
    {
        switch (opt)
        {
            case 'c': check = true; break;
            case 't':
            case 's':
                if (parse_seconds(optarg, 't' == opt ? &duration : &stats_every) < 0)
                {
                    fprintf(stderr, "tp bridge: --%s: expected a number of seconds > 0, got \"%s\"\n",
                        't' == opt ? "duration" : "stats", optarg);
                    return TP_CLI_EXIT_USAGE;
                }
                break;
            case 'i': idle_name = optarg; break;
            case 'h': tp_cli_bridge_usage(stdout); return TP_CLI_EXIT_OK;
            default: tp_cli_bridge_usage(stderr); return TP_CLI_EXIT_USAGE;
        }
    }
    if (argc - optind > 1)
    {
        tp_cli_bridge_usage(stderr);
        return TP_CLI_EXIT_USAGE;
    }
    const char *path = optind < argc ? argv[optind] : getenv("TP_BRIDGE_CONFIG");
    if (NULL == path || '\0' == path[0])
    {
        fprintf(stderr, "tp bridge: no configuration: pass CONFIG.toml or set TP_BRIDGE_CONFIG "
            "(example: config/bridge_config_example.toml)\n");
        return TP_CLI_EXIT_USAGE;
    }
    tp_idle_strategy_t idle;
    if (tp_idle_strategy_init_from_name(&idle, idle_name) < 0)
    {
        fprintf(stderr, "tp bridge: --idle: %s\n", tp_errmsg());
        return TP_CLI_EXIT_USAGE;
    }
    tp_bridge_config_t *config = malloc(sizeof(*config));
    if (NULL == config)
    {
        fprintf(stderr, "tp bridge: out of memory\n");
        return TP_CLI_EXIT_FAIL;
    }
    tp_bridge_config_defaults(config);
    if (tp_bridge_config_load_file(config, path) < 0)
    {
        fprintf(stderr, "tp bridge: %s\n", tp_errmsg());
        free(config);
        return TP_CLI_EXIT_FAIL;
    }
    if (check)
    {
        printf("tp bridge: configuration %s is valid (%zu mapping(s))\n", path, config->mapping_count);
        for (size_t i = 0; i < config->mapping_count; i++)
        {
            const tp_bridge_mapping_config_t *m = &config->mappings[i];
            printf("  %u -> %u%s profile %s metadata_stream_id %u\n", m->source_stream_id, m->dest_stream_id,
                m->dest_allocated ? " (allocated)" : "", m->profile, m->metadata_stream_id);
        }
        free(config);
        return TP_CLI_EXIT_OK;
    }
    tp_bridge_t *bridge = NULL;
    if (tp_bridge_init(&bridge, config, NULL) < 0)
    {
        fprintf(stderr, "tp bridge: %s\n", tp_errmsg());
        free(config);
        return TP_CLI_EXIT_FAIL;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = tp_cli_bridge_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    printf("{\"bridge\":\"running\",\"instance_id\":\"%s\",\"role\":\"%s\",\"mappings\":%zu,\"chunk_bytes\":%u}\n",
        config->instance_id, TP_BRIDGE_ROLE_SENDER == config->role ? "sender" :
        (TP_BRIDGE_ROLE_RECEIVER == config->role ? "receiver" : "both"), config->mapping_count,
        tp_bridge_config_chunk_bytes(config));
    fflush(stdout);
    uint64_t start = tp_clock_mono_ns();
    uint64_t next_stats = start + (uint64_t)(stats_every * 1e9);
    int rc = TP_CLI_EXIT_OK;
    while (!tp_cli_bridge_stop)
    {
        int work = tp_bridge_do_work(bridge);
        if (work < 0)
        {
            fprintf(stderr, "tp bridge: %s\n", tp_errmsg());
            rc = TP_CLI_EXIT_FAIL;
            break;
        }
        uint64_t now = tp_clock_mono_ns();
        if (duration > 0 && (double)(now - start) >= duration * 1e9)
        {
            break;
        }
        if (stats_every > 0 && now >= next_stats)
        {
            tp_cli_bridge_print(bridge, "running");
            next_stats = now + (uint64_t)(stats_every * 1e9);
        }
        tp_idle_strategy_idle(&idle, work);
    }
    tp_cli_bridge_print(bridge, "stopped");
    tp_bridge_close(bridge);
    free(config);
    return rc;
}
