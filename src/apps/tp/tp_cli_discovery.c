/*
 * `tp discovery query [filters] [--json]`: ask a Discovery Provider (the
 * driver's embedded one by default, or `tp discovery serve`) which streams
 * exist; `tp discovery serve [CONFIG.toml]`: run a standalone provider fed
 * by the announces of the drivers it is configured with. docs/TOOLS.md,
 * docs/DISCOVERY.md.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/tp_clock.h"
#include "common/tp_error.h"
#include "discovery/tp_discovery_config.h"
#include "discovery/tp_discovery_provider.h"
#include "tensor_pool/tp_context.h"
#include "tensor_pool/tp_discovery.h"
#include "tp_args.h"
#include "tp_cli.h"
#include "tp_cli_agent.h"

/** Entry point of `tp discovery` (argv starts at "discovery"). Returns a TP_CLI_EXIT_* code. */
int tp_cli_discovery(int argc, char **argv);

static int discovery_usage(FILE *out)
{
    fprintf(out,
        "usage: tp discovery query [--stream-id N] [--producer-id N] [--data-source-id N] [--name NAME]\n"
        "                          [--tag T]... [--json] [--request-channel C] [--request-stream-id N]\n"
        "                          [--response-channel C] [--response-stream-id N] [--client-id N]\n"
        "                          [--timeout-ms N] [--attempts N] [--transport-dir DIR]\n"
        "         Ask a discovery provider for streams (filters combine with AND; tags and names are\n"
        "         case-sensitive). Default provider: the driver's embedded one on aeron:ipc stream 1000;\n"
        "         a standalone provider listens on 7000 (--request-stream-id 7000). Results are advisory:\n"
        "         attach through the driver they name. Exit 0 with a response, 1 on ERROR or no response.\n"
        "       tp discovery serve [CONFIG.toml] [--duration SECONDS] [--transport-dir DIR]\n"
        "         Run a standalone provider ([discovery] + [drivers.<name>], docs/DISCOVERY.md). Without\n"
        "         CONFIG: requests on aeron:ipc?term-length=4m / 7000, one driver 'driver-01' whose control\n"
        "         and announce stream is aeron:ipc?term-length=4m / 1000, metadata aeron:ipc / 1300.\n");
    return out == stdout ? TP_CLI_EXIT_OK : TP_CLI_EXIT_USAGE;
}

/* A JSON string (quotes, backslashes and control bytes escaped). */
static void json_str(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; '\0' != *p; p++)
    {
        if ('"' == *p || '\\' == *p)
        {
            printf("\\%c", *p);
        }
        else if (*p < 0x20 || 0x7f == *p)
        {
            printf("\\u%04x", *p);
        }
        else
        {
            putchar(*p);
        }
    }
    putchar('"');
}

static const char *status_name(tp_discovery_status_t s)
{
    switch (s)
    {
        case TP_DISCOVERY_STATUS_OK: return "OK";
        case TP_DISCOVERY_STATUS_NOT_FOUND: return "NOT_FOUND";
        default: return "ERROR";
    }
}

static void print_json(const tp_discovery_results_t *res)
{
    printf("{\"status\":\"%s\",\"error\":", status_name(tp_discovery_results_status(res)));
    json_str(tp_discovery_results_error(res));
    printf(",\"invalid\":%zu,\"results\":[", tp_discovery_results_invalid(res));
    for (size_t i = 0; i < tp_discovery_results_count(res); i++)
    {
        const tp_discovery_result_t *r = tp_discovery_results_at(res, i);
        printf("%s{\"stream_id\":%u,\"producer_id\":%u,\"epoch\":%llu,\"layout_version\":%u,\"header_nslots\":%u,"
               "\"header_slot_bytes\":%u,\"max_dims\":%u,\"header_region_uri\":",
            i ? "," : "", r->stream_id, r->producer_id, (unsigned long long)r->epoch, r->layout_version,
            r->header_nslots, r->header_slot_bytes, r->max_dims);
        json_str(r->header_region_uri);
        printf(",\"payload_pools\":[");
        for (size_t k = 0; k < r->pool_count; k++)
        {
            printf("%s{\"pool_id\":%u,\"pool_nslots\":%u,\"stride_bytes\":%u,\"region_uri\":", k ? "," : "",
                r->pools[k].pool_id, r->pools[k].pool_nslots, r->pools[k].stride_bytes);
            json_str(r->pools[k].region_uri);
            putchar('}');
        }
        printf("],\"data_source_id\":");
        if (r->has_data_source_id)
        {
            printf("%llu", (unsigned long long)r->data_source_id);
        }
        else
        {
            printf("null");
        }
        printf(",\"data_source_name\":");
        json_str(r->data_source_name);
        printf(",\"tags\":[");
        for (size_t k = 0; k < r->tag_count; k++)
        {
            printf("%s", k ? "," : "");
            json_str(r->tags[k]);
        }
        printf("],\"driver_instance_id\":");
        json_str(r->driver_instance_id);
        printf(",\"driver_control_channel\":");
        json_str(r->driver_control_channel);
        printf(",\"driver_control_stream_id\":%u}", r->driver_control_stream_id);
    }
    printf("]}\n");
}

static void print_text(const tp_discovery_results_t *res)
{
    size_t n = tp_discovery_results_count(res);
    printf("status %s, %zu stream%s%s%s\n", status_name(tp_discovery_results_status(res)), n, 1 == n ? "" : "s",
        '\0' != tp_discovery_results_error(res)[0] ? ": " : "", tp_discovery_results_error(res));
    for (size_t i = 0; i < n; i++)
    {
        const tp_discovery_result_t *r = tp_discovery_results_at(res, i);
        printf("stream %u  producer %u  epoch %llu  layout %u  slots %u  pools %zu  name \"%s\"", r->stream_id,
            r->producer_id, (unsigned long long)r->epoch, r->layout_version, r->header_nslots, r->pool_count,
            r->data_source_name);
        if (r->has_data_source_id)
        {
            printf("  id %llu", (unsigned long long)r->data_source_id);
        }
        printf("  tags [");
        for (size_t k = 0; k < r->tag_count; k++)
        {
            printf("%s%s", k ? "," : "", r->tags[k]);
        }
        printf("]\n  authority %s  %s / %u\n", r->driver_instance_id, r->driver_control_channel,
            r->driver_control_stream_id);
    }
}

static int discovery_query(int argc, char **argv)
{
    static const char prog[] = "tp discovery query";
    tp_discovery_client_options_t o;
    tp_discovery_client_options_defaults(&o);
    tp_discovery_query_t q;
    tp_discovery_query_init(&q);
    const char *tags[TP_DISCOVERY_QUERY_MAX_TAGS];
    const char *dir = NULL;
    bool json = false;
    uint64_t v = 0;
    uint32_t u = 0;
    for (int i = 2; i < argc; i++)
    {
        const char *a = argv[i];
        const char *val = NULL;
        if (0 == strcmp(a, "--json"))
        {
            json = true;
        }
        else if (0 == strcmp(a, "--help") || 0 == strcmp(a, "-h"))
        {
            return discovery_usage(stdout);
        }
        else if (0 == strcmp(a, "--stream-id"))
        {
            if (NULL == (val = tp_args_value(prog, argc, argv, &i)) ||
                tp_args_u32(prog, a, val, 0, UINT32_MAX - 1, "a stream id", &q.stream_id) < 0)
            {
                return TP_CLI_EXIT_USAGE;
            }
            q.has_stream_id = true;
        }
        else if (0 == strcmp(a, "--producer-id"))
        {
            if (NULL == (val = tp_args_value(prog, argc, argv, &i)) ||
                tp_args_u32(prog, a, val, 0, UINT32_MAX - 1, "a producer id", &q.producer_id) < 0)
            {
                return TP_CLI_EXIT_USAGE;
            }
            q.has_producer_id = true;
        }
        else if (0 == strcmp(a, "--data-source-id"))
        {
            if (NULL == (val = tp_args_value(prog, argc, argv, &i)) ||
                tp_args_u64(prog, a, val, 0, UINT64_MAX - 1, "a data source id", &q.data_source_id) < 0)
            {
                return TP_CLI_EXIT_USAGE;
            }
            q.has_data_source_id = true;
        }
        else if (0 == strcmp(a, "--name"))
        {
            if (NULL == (val = tp_args_value(prog, argc, argv, &i)))
            {
                return TP_CLI_EXIT_USAGE;
            }
            q.data_source_name = val;
        }
        else if (0 == strcmp(a, "--tag"))
        {
            if (NULL == (val = tp_args_value(prog, argc, argv, &i)))
            {
                return TP_CLI_EXIT_USAGE;
            }
            if ('\0' == val[0] || q.tag_count >= TP_DISCOVERY_QUERY_MAX_TAGS)
            {
                fprintf(stderr, "%s: --tag: a non-empty tag, at most %d of them\n", prog, TP_DISCOVERY_QUERY_MAX_TAGS);
                return TP_CLI_EXIT_USAGE;
            }
            tags[q.tag_count++] = val;
        }
        else if (0 == strcmp(a, "--request-channel") || 0 == strcmp(a, "--response-channel"))
        {
            if (NULL == (val = tp_args_value(prog, argc, argv, &i)) || tp_args_path(prog, a, val, 1024) < 0)
            {
                return TP_CLI_EXIT_USAGE;
            }
            if ('q' == a[4]) /* --request-channel */
            {
                o.request_channel = val;
            }
            else
            {
                o.response_channel = val;
            }
        }
        else if (0 == strcmp(a, "--request-stream-id") || 0 == strcmp(a, "--response-stream-id"))
        {
            if (NULL == (val = tp_args_value(prog, argc, argv, &i)) ||
                tp_args_u32(prog, a, val, 1, INT32_MAX, "a non-zero stream id", &u) < 0)
            {
                return TP_CLI_EXIT_USAGE;
            }
            if ('q' == a[4])
            {
                o.request_stream_id = (int32_t)u;
            }
            else
            {
                o.response_stream_id = (int32_t)u;
            }
        }
        else if (0 == strcmp(a, "--client-id"))
        {
            if (NULL == (val = tp_args_value(prog, argc, argv, &i)) ||
                tp_args_u32(prog, a, val, 0, UINT32_MAX, "a client id", &o.client_id) < 0)
            {
                return TP_CLI_EXIT_USAGE;
            }
        }
        else if (0 == strcmp(a, "--timeout-ms"))
        {
            if (NULL == (val = tp_args_value(prog, argc, argv, &i)) ||
                tp_args_u64(prog, a, val, 1, 3600000, "milliseconds", &v) < 0)
            {
                return TP_CLI_EXIT_USAGE;
            }
            o.attempt_timeout_ns = v * 1000000ull;
        }
        else if (0 == strcmp(a, "--attempts"))
        {
            if (NULL == (val = tp_args_value(prog, argc, argv, &i)) ||
                tp_args_u32(prog, a, val, 1, 100, "a number of attempts", &o.attempts) < 0)
            {
                return TP_CLI_EXIT_USAGE;
            }
        }
        else if (0 == strcmp(a, "--transport-dir"))
        {
            if (NULL == (dir = tp_args_value(prog, argc, argv, &i)) || tp_args_path(prog, a, dir, 4000) < 0)
            {
                return TP_CLI_EXIT_USAGE;
            }
        }
        else
        {
            fprintf(stderr, "%s: unknown argument '%s'\n", prog, a);
            return discovery_usage(stderr);
        }
    }
    q.tags = tags;
    tp_context_t *ctx = NULL;
    tp_discovery_client_t *dc = NULL;
    tp_discovery_results_t *res = NULL;
    if (tp_context_init(&ctx) < 0 || (NULL != dir && tp_context_set_transport_dir(ctx, dir) < 0) ||
        tp_discovery_client_init(&dc, ctx, &o) < 0 || tp_discovery_query(dc, &q, &res) < 0)
    {
        fprintf(stderr, "%s: %s\n", prog, tp_errmsg());
        tp_discovery_client_close(dc);
        tp_context_close(ctx);
        return TP_CLI_EXIT_FAIL;
    }
    if (json)
    {
        print_json(res);
    }
    else
    {
        print_text(res);
    }
    int rc = TP_DISCOVERY_STATUS_ERROR == tp_discovery_results_status(res) ? TP_CLI_EXIT_FAIL : TP_CLI_EXIT_OK;
    tp_discovery_results_close(res);
    tp_discovery_client_close(dc);
    tp_context_close(ctx);
    return rc;
}

static void serve_defaults(tp_discovery_provider_config_t *c)
{
    tp_discovery_provider_config_defaults(c);
    c->source_count = 1;
    tp_discovery_source_config_t *s = &c->sources[0];
    snprintf(s->name, sizeof(s->name), "local");
    snprintf(s->instance_id, sizeof(s->instance_id), "driver-01");
    snprintf(s->control_channel, sizeof(s->control_channel), "aeron:ipc?term-length=4m");
    s->control_stream_id = 1000;
    snprintf(s->announce_channel, sizeof(s->announce_channel), "aeron:ipc?term-length=4m");
    s->announce_stream_id = 1000;
    snprintf(s->metadata_channel, sizeof(s->metadata_channel), "aeron:ipc");
    s->metadata_stream_id = 1300;
    s->announce_period_ms = TP_DISCOVERY_DEFAULT_ANNOUNCE_PERIOD_MS;
}

static int discovery_serve(int argc, char **argv)
{
    static const char prog[] = "tp discovery serve";
    const char *path = NULL;
    const char *dir = NULL;
    double duration = 0;
    for (int i = 2; i < argc; i++)
    {
        if (0 == strcmp(argv[i], "--duration"))
        {
            const char *val = tp_args_value(prog, argc, argv, &i);
            if (NULL == val || tp_args_double(prog, "--duration", val, 0.001, 1e9, "a number of seconds", &duration) < 0)
            {
                return TP_CLI_EXIT_USAGE;
            }
        }
        else if (0 == strcmp(argv[i], "--transport-dir"))
        {
            if (NULL == (dir = tp_args_value(prog, argc, argv, &i)) || tp_args_path(prog, "--transport-dir", dir, 4000) < 0)
            {
                return TP_CLI_EXIT_USAGE;
            }
        }
        else if (0 == strcmp(argv[i], "--help") || 0 == strcmp(argv[i], "-h"))
        {
            return discovery_usage(stdout);
        }
        else if ('-' != argv[i][0] && NULL == path)
        {
            path = argv[i];
        }
        else
        {
            fprintf(stderr, "%s: unknown argument '%s'\n", prog, argv[i]);
            return discovery_usage(stderr);
        }
    }
    static tp_discovery_provider_config_t c; /* large: not on the stack */
    char backend[16] = "";
    char tdir[PATH_MAX] = "";
    serve_defaults(&c);
    if (NULL != path)
    {
        c.source_count = 0;
        if (tp_discovery_config_load_file(path, &c, backend, tdir) < 0)
        {
            fprintf(stderr, "%s: %s\n", prog, tp_errmsg());
            return TP_CLI_EXIT_FAIL;
        }
    }
    tp_transport_context_t tctx;
    tp_transport_context_init(&tctx);
    tp_transport_t *t = NULL;
    tp_discovery_provider_t *p = NULL;
    const char *use_dir = NULL != dir ? dir : ('\0' != tdir[0] ? tdir : NULL);
    if (('\0' != backend[0] && tp_transport_context_set_backend(&tctx, backend) < 0) ||
        (NULL != use_dir && tp_transport_context_set_dir(&tctx, use_dir) < 0) || tp_transport_init(&t, &tctx) < 0 ||
        tp_discovery_provider_init(&p, t, &c) < 0)
    {
        fprintf(stderr, "%s: %s\n", prog, tp_errmsg());
        tp_transport_close(t);
        return TP_CLI_EXIT_FAIL;
    }
    printf("{\"discovery\":\"up\",\"pid\":%ld,\"channel\":", (long)getpid());
    json_str(c.channel);
    printf(",\"stream_id\":%u,\"drivers\":%u}\n", c.stream_id, c.source_count);
    fflush(stdout);
    tp_cli_agent_stop_on_signals();
    uint64_t deadline = tp_cli_agent_deadline_ns(duration);
    int exit_code = TP_CLI_EXIT_OK;
    while (!tp_cli_agent_stop_requested() && tp_clock_mono_ns() < deadline)
    {
        if (tp_transport_do_work(t) < 0)
        {
            fprintf(stderr, "%s: %s\n", prog, tp_errmsg());
            exit_code = TP_CLI_EXIT_FAIL;
            break;
        }
        if (tp_discovery_provider_do_work(p, tp_clock_mono_ns()) <= 0)
        {
            tp_sleep_ns(200000);
        }
    }
    tp_discovery_provider_stats_t s;
    tp_discovery_provider_stats(p, &s);
    tp_discovery_registry_stats_t rs;
    tp_discovery_registry_stats(tp_discovery_provider_registry(p), &rs);
    printf("{\"discovery\":\"stopped\",\"requests\":%llu,\"queries_logged\":%llu,\"responses_ok\":%llu,"
           "\"responses_error\":%llu,"
           "\"dropped_malformed\":%llu,\"dropped_empty_channel\":%llu,\"dropped_bad_channel\":%llu,"
           "\"dropped_refused_channel\":%llu,"
           "\"dropped_busy\":%llu,\"undelivered\":%llu,\"announces\":%llu,\"metadata\":%llu,\"entries\":%llu,"
           "\"expired\":%llu,\"regressions\":%llu}\n",
        (unsigned long long)s.requests, (unsigned long long)s.queries_logged, (unsigned long long)s.responses_ok,
        (unsigned long long)s.responses_error,
        (unsigned long long)s.dropped_malformed, (unsigned long long)s.dropped_empty_channel,
        (unsigned long long)s.dropped_bad_channel, (unsigned long long)s.dropped_refused_channel,
        (unsigned long long)s.dropped_busy,
        (unsigned long long)s.undelivered, (unsigned long long)s.announces, (unsigned long long)s.metadata,
        (unsigned long long)rs.entries, (unsigned long long)rs.expired, (unsigned long long)rs.regressions);
    tp_discovery_provider_close(p);
    tp_transport_close(t);
    return exit_code;
}

int tp_cli_discovery(int argc, char **argv)
{
    if (argc < 2)
    {
        return discovery_usage(stderr);
    }
    if (0 == strcmp(argv[1], "query"))
    {
        return discovery_query(argc, argv);
    }
    if (0 == strcmp(argv[1], "serve"))
    {
        return discovery_serve(argc, argv);
    }
    if (0 == strcmp(argv[1], "--help") || 0 == strcmp(argv[1], "-h"))
    {
        return discovery_usage(stdout);
    }
    fprintf(stderr, "tp discovery: unknown subcommand '%s'\n", argv[1]);
    return discovery_usage(stderr);
}
