/*
 * tp listen announces|descriptors|control|qos|metadata [--json] [--channel C]
 *     [--stream ID] [--transport-dir D] [--count N] [--duration SECONDS]
 *
 * Subscribes to one logical stream over the internal transport and prints
 * every decoded wire message (schema 900) as text or as JSON lines.
 * Undecodable messages are printed as such, never trusted further.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/tp_clock.h"
#include "tensor_pool/tp.h"
#include "tp_args.h"
#include "tp_cli.h"
#include "tp_sbe/wire.h"
#include "transport/tp_transport.h"

int tp_cli_listen(int argc, char **argv);

static volatile sig_atomic_t listen_running = 1;

static void listen_on_signal(int sig)
{
    (void)sig;
    listen_running = 0;
}

typedef struct
{
    bool json;
    bool announces_only;
    uint64_t printed;
    char line[8192];
    size_t len;
    bool first;
} listen_state_t;

static void out_begin(listen_state_t *s, const char *type)
{
    s->len = 0;
    s->first = true;
    s->len += (size_t)snprintf(s->line, sizeof(s->line), s->json ? "{\"type\":\"%s\"" : "%s", type);
}

static void out_raw(listen_state_t *s, const char *key, const char *fmt_json, const char *fmt_text, ...)
    __attribute__((format(printf, 4, 5)));

static void out_raw(listen_state_t *s, const char *key, const char *fmt_json, const char *fmt_text, ...)
{
    (void)fmt_json;
    if (s->len >= sizeof(s->line) - 64)
    {
        return;
    }
    char value[4096];
    va_list ap;
    va_start(ap, fmt_text);
    vsnprintf(value, sizeof(value), fmt_text, ap);
    va_end(ap);
    s->len += (size_t)snprintf(s->line + s->len, sizeof(s->line) - s->len, s->json ? ",\"%s\":%s" : " %s=%s", key, value);
}

static void out_u64(listen_state_t *s, const char *key, uint64_t v)
{
    out_raw(s, key, NULL, "%" PRIu64, v);
}

/* Strings: JSON-escaped (non-printable bytes as \u00XX) or quoted text. */
static void out_str(listen_state_t *s, const char *key, const char *data, uint32_t len)
{
    char esc[2048];
    size_t n = 0;
    esc[n++] = '"';
    for (uint32_t i = 0; i < len && n < sizeof(esc) - 8; i++)
    {
        unsigned char ch = (unsigned char)data[i];
        if ('"' == ch || '\\' == ch)
        {
            esc[n++] = '\\';
            esc[n++] = (char)ch;
        }
        else if (ch < 0x20 || ch >= 0x7f)
        {
            n += (size_t)snprintf(esc + n, sizeof(esc) - n, "\\u%04x", ch);
        }
        else
        {
            esc[n++] = (char)ch;
        }
    }
    esc[n++] = '"';
    esc[n] = '\0';
    out_raw(s, key, NULL, "%s", esc);
}

static void out_end(listen_state_t *s)
{
    printf("%s%s\n", s->line, s->json ? "}" : "");
    fflush(stdout);
    s->printed++;
}

static const char *bool_name(int v)
{
    return 1 == v ? "true" : (0 == v ? "false" : "null");
}

static void print_announce(listen_state_t *s, const uint8_t *buf, size_t len)
{
    tp_sbe_wire_shm_pool_announce_t m = { 0 };
    tp_sbe_wire_shm_pool_announce_payload_pools_t g = { 0 };
    if (TP_SBE_OK != tp_sbe_wire_shm_pool_announce_wrap_for_decode_with_header(&m, buf, 0, len) ||
        TP_SBE_OK != tp_sbe_wire_shm_pool_announce_get_payload_pools(&m, &g))
    {
        out_begin(s, "Malformed");
        out_str(s, "template", "ShmPoolAnnounce", 15);
        out_end(s);
        return;
    }
    out_begin(s, "ShmPoolAnnounce");
    out_u64(s, "stream_id", tp_sbe_wire_shm_pool_announce_stream_id(&m));
    out_u64(s, "producer_id", tp_sbe_wire_shm_pool_announce_producer_id(&m));
    out_u64(s, "epoch", tp_sbe_wire_shm_pool_announce_epoch(&m));
    out_u64(s, "announce_timestamp_ns", tp_sbe_wire_shm_pool_announce_announce_timestamp_ns(&m));
    const char *dom = tp_sbe_wire_clock_domain_name(tp_sbe_wire_shm_pool_announce_announce_clock_domain(&m));
    out_str(s, "clock_domain", dom, (uint32_t)strlen(dom));
    out_u64(s, "layout_version", tp_sbe_wire_shm_pool_announce_layout_version(&m));
    out_u64(s, "header_nslots", tp_sbe_wire_shm_pool_announce_header_nslots(&m));
    out_u64(s, "header_slot_bytes", tp_sbe_wire_shm_pool_announce_header_slot_bytes(&m));
    char pools[4096];
    size_t pn = 0;
    pools[pn++] = s->json ? '[' : '{';
    while (tp_sbe_wire_shm_pool_announce_payload_pools_has_next(&g))
    {
        const char *uri = NULL;
        uint32_t ulen = 0;
        if (TP_SBE_OK != tp_sbe_wire_shm_pool_announce_payload_pools_next(&g) ||
            TP_SBE_OK != tp_sbe_wire_shm_pool_announce_payload_pools_get_region_uri(&g, &uri, &ulen))
        {
            break;
        }
        pn += (size_t)snprintf(pools + pn, sizeof(pools) - pn,
            s->json ? "%s{\"pool_id\":%u,\"pool_nslots\":%u,\"stride_bytes\":%u,\"region_uri\":\"%.*s\"}"
                    : "%s%u:%u*%u@%.*s",
            pn > 1 ? "," : "", tp_sbe_wire_shm_pool_announce_payload_pools_pool_id(&g),
            tp_sbe_wire_shm_pool_announce_payload_pools_pool_nslots(&g),
            tp_sbe_wire_shm_pool_announce_payload_pools_stride_bytes(&g), (int)(ulen > 1024 ? 1024 : ulen), uri);
        if (pn >= sizeof(pools) - 2)
        {
            pn = sizeof(pools) - 2;
            break;
        }
    }
    pools[pn++] = s->json ? ']' : '}';
    pools[pn] = '\0';
    out_raw(s, "payload_pools", NULL, "%s", pools);
    const char *hdr = NULL;
    uint32_t hlen = 0;
    if (TP_SBE_OK == tp_sbe_wire_shm_pool_announce_get_header_region_uri(&m, &hdr, &hlen))
    {
        out_str(s, "header_region_uri", hdr, hlen);
    }
    out_end(s);
}

static void on_message(void *clientd, const uint8_t *buf, size_t len, const tp_header_t *header)
{
    (void)header;
    listen_state_t *s = clientd;
    tp_sbe_header_t h = { 0 };
    if (tp_sbe_peek_header(buf, len, &h) < 0 || h.schema_id != TP_SBE_WIRE_SCHEMA_ID)
    {
        out_begin(s, "Unknown");
        out_u64(s, "length", len);
        if (len >= 8)
        {
            out_u64(s, "schema_id", h.schema_id);
            out_u64(s, "template_id", h.template_id);
        }
        out_end(s);
        return;
    }
    if (s->announces_only && h.template_id != TP_SBE_WIRE_SHM_POOL_ANNOUNCE_TEMPLATE_ID)
    {
        return;
    }
#define DECODE(kind)                                                                                      \
    tp_sbe_wire_##kind##_t m = { 0 };                                                                      \
    if (TP_SBE_OK != tp_sbe_wire_##kind##_wrap_for_decode_with_header(&m, buf, 0, len))                   \
    {                                                                                                     \
        out_begin(s, "Malformed");                                                                        \
        out_str(s, "template", #kind, (uint32_t)strlen(#kind));                                           \
        out_end(s);                                                                                       \
        return;                                                                                           \
    }
    switch (h.template_id)
    {
        case TP_SBE_WIRE_SHM_POOL_ANNOUNCE_TEMPLATE_ID:
            print_announce(s, buf, len);
            return;
        case TP_SBE_WIRE_FRAME_DESCRIPTOR_TEMPLATE_ID:
        {
            DECODE(frame_descriptor);
            out_begin(s, "FrameDescriptor");
            out_u64(s, "stream_id", tp_sbe_wire_frame_descriptor_stream_id(&m));
            out_u64(s, "epoch", tp_sbe_wire_frame_descriptor_epoch(&m));
            out_u64(s, "seq", tp_sbe_wire_frame_descriptor_seq(&m));
            if (tp_sbe_wire_frame_descriptor_timestamp_ns_is_null(&m))
            {
                out_raw(s, "timestamp_ns", NULL, "null");
            }
            else
            {
                out_u64(s, "timestamp_ns", tp_sbe_wire_frame_descriptor_timestamp_ns(&m));
            }
            out_u64(s, "meta_version", tp_sbe_wire_frame_descriptor_meta_version(&m));
            uint64_t trace = tp_sbe_wire_frame_descriptor_trace_id(&m);
            out_u64(s, "trace_id", UINT64_MAX == trace ? 0 : trace);
            out_end(s);
            return;
        }
        case TP_SBE_WIRE_FRAME_PROGRESS_TEMPLATE_ID:
        {
            DECODE(frame_progress);
            out_begin(s, "FrameProgress");
            out_u64(s, "stream_id", tp_sbe_wire_frame_progress_stream_id(&m));
            out_u64(s, "epoch", tp_sbe_wire_frame_progress_epoch(&m));
            out_u64(s, "seq", tp_sbe_wire_frame_progress_seq(&m));
            out_u64(s, "payload_bytes_filled", tp_sbe_wire_frame_progress_payload_bytes_filled(&m));
            const char *st = tp_sbe_wire_frame_progress_state_name(tp_sbe_wire_frame_progress_state(&m));
            out_str(s, "state", st, (uint32_t)strlen(st));
            out_end(s);
            return;
        }
        case TP_SBE_WIRE_CONSUMER_HELLO_TEMPLATE_ID:
        {
            DECODE(consumer_hello);
            out_begin(s, "ConsumerHello");
            out_u64(s, "stream_id", tp_sbe_wire_consumer_hello_stream_id(&m));
            out_u64(s, "consumer_id", tp_sbe_wire_consumer_hello_consumer_id(&m));
            out_raw(s, "supports_shm", NULL, "%s", bool_name(tp_sbe_wire_consumer_hello_supports_shm(&m)));
            out_raw(s, "supports_progress", NULL, "%s", bool_name(tp_sbe_wire_consumer_hello_supports_progress(&m)));
            const char *mode = tp_sbe_wire_mode_name(tp_sbe_wire_consumer_hello_mode(&m));
            out_str(s, "mode", mode, (uint32_t)strlen(mode));
            out_u64(s, "max_rate_hz", tp_sbe_wire_consumer_hello_max_rate_hz(&m));
            out_u64(s, "expected_layout_version", tp_sbe_wire_consumer_hello_expected_layout_version(&m));
            out_u64(s, "descriptor_stream_id", tp_sbe_wire_consumer_hello_descriptor_stream_id(&m));
            out_u64(s, "control_stream_id", tp_sbe_wire_consumer_hello_control_stream_id(&m));
            out_end(s);
            return;
        }
        case TP_SBE_WIRE_CONSUMER_CONFIG_TEMPLATE_ID:
        {
            DECODE(consumer_config);
            out_begin(s, "ConsumerConfig");
            out_u64(s, "stream_id", tp_sbe_wire_consumer_config_stream_id(&m));
            out_u64(s, "consumer_id", tp_sbe_wire_consumer_config_consumer_id(&m));
            out_raw(s, "use_shm", NULL, "%s", bool_name(tp_sbe_wire_consumer_config_use_shm(&m)));
            const char *mode = tp_sbe_wire_mode_name(tp_sbe_wire_consumer_config_mode(&m));
            out_str(s, "mode", mode, (uint32_t)strlen(mode));
            out_u64(s, "descriptor_stream_id", tp_sbe_wire_consumer_config_descriptor_stream_id(&m));
            out_u64(s, "control_stream_id", tp_sbe_wire_consumer_config_control_stream_id(&m));
            const char *uri = NULL;
            uint32_t ulen = 0;
            if (TP_SBE_OK == tp_sbe_wire_consumer_config_get_payload_fallback_uri(&m, &uri, &ulen))
            {
                out_str(s, "payload_fallback_uri", uri, ulen);
            }
            out_end(s);
            return;
        }
        case TP_SBE_WIRE_QOS_CONSUMER_TEMPLATE_ID:
        {
            DECODE(qos_consumer);
            out_begin(s, "QosConsumer");
            out_u64(s, "stream_id", tp_sbe_wire_qos_consumer_stream_id(&m));
            out_u64(s, "consumer_id", tp_sbe_wire_qos_consumer_consumer_id(&m));
            out_u64(s, "epoch", tp_sbe_wire_qos_consumer_epoch(&m));
            out_u64(s, "last_seq_seen", tp_sbe_wire_qos_consumer_last_seq_seen(&m));
            out_u64(s, "drops_gap", tp_sbe_wire_qos_consumer_drops_gap(&m));
            out_u64(s, "drops_late", tp_sbe_wire_qos_consumer_drops_late(&m));
            const char *mode = tp_sbe_wire_mode_name(tp_sbe_wire_qos_consumer_mode(&m));
            out_str(s, "mode", mode, (uint32_t)strlen(mode));
            out_end(s);
            return;
        }
        case TP_SBE_WIRE_QOS_PRODUCER_TEMPLATE_ID:
        {
            DECODE(qos_producer);
            out_begin(s, "QosProducer");
            out_u64(s, "stream_id", tp_sbe_wire_qos_producer_stream_id(&m));
            out_u64(s, "producer_id", tp_sbe_wire_qos_producer_producer_id(&m));
            out_u64(s, "epoch", tp_sbe_wire_qos_producer_epoch(&m));
            out_u64(s, "current_seq", tp_sbe_wire_qos_producer_current_seq(&m));
            out_end(s);
            return;
        }
        case TP_SBE_WIRE_DATA_SOURCE_ANNOUNCE_TEMPLATE_ID:
        {
            DECODE(data_source_announce);
            out_begin(s, "DataSourceAnnounce");
            out_u64(s, "stream_id", tp_sbe_wire_data_source_announce_stream_id(&m));
            out_u64(s, "producer_id", tp_sbe_wire_data_source_announce_producer_id(&m));
            out_u64(s, "epoch", tp_sbe_wire_data_source_announce_epoch(&m));
            out_u64(s, "meta_version", tp_sbe_wire_data_source_announce_meta_version(&m));
            const char *name = NULL, *summary = NULL;
            uint32_t nl = 0, sl = 0;
            if (TP_SBE_OK == tp_sbe_wire_data_source_announce_get_name(&m, &name, &nl))
            {
                out_str(s, "name", name, nl);
                if (TP_SBE_OK == tp_sbe_wire_data_source_announce_get_summary(&m, &summary, &sl))
                {
                    out_str(s, "summary", summary, sl);
                }
            }
            out_end(s);
            return;
        }
        case TP_SBE_WIRE_DATA_SOURCE_META_TEMPLATE_ID:
        {
            DECODE(data_source_meta);
            tp_sbe_wire_data_source_meta_attributes_t g = { 0 };
            out_begin(s, "DataSourceMeta");
            out_u64(s, "stream_id", tp_sbe_wire_data_source_meta_stream_id(&m));
            out_u64(s, "meta_version", tp_sbe_wire_data_source_meta_meta_version(&m));
            out_u64(s, "timestamp_ns", tp_sbe_wire_data_source_meta_timestamp_ns(&m));
            if (TP_SBE_OK == tp_sbe_wire_data_source_meta_get_attributes(&m, &g))
            {
                while (tp_sbe_wire_data_source_meta_attributes_has_next(&g))
                {
                    const char *k = NULL, *f = NULL;
                    const uint8_t *v = NULL;
                    uint32_t kl = 0, fl = 0, vl = 0;
                    if (TP_SBE_OK != tp_sbe_wire_data_source_meta_attributes_next(&g) ||
                        TP_SBE_OK != tp_sbe_wire_data_source_meta_attributes_get_key(&g, &k, &kl) ||
                        TP_SBE_OK != tp_sbe_wire_data_source_meta_attributes_get_format(&g, &f, &fl) ||
                        TP_SBE_OK != tp_sbe_wire_data_source_meta_attributes_get_value(&g, &v, &vl))
                    {
                        break;
                    }
                    char key[160];
                    snprintf(key, sizeof(key), "attr:%.*s", (int)(kl > 128 ? 128 : kl), k);
                    out_str(s, key, (const char *)v, vl > 1024 ? 1024 : vl);
                }
            }
            out_end(s);
            return;
        }
        case TP_SBE_WIRE_META_BLOB_ANNOUNCE_TEMPLATE_ID:
        {
            DECODE(meta_blob_announce);
            out_begin(s, "MetaBlobAnnounce");
            out_u64(s, "stream_id", tp_sbe_wire_meta_blob_announce_stream_id(&m));
            out_u64(s, "meta_version", tp_sbe_wire_meta_blob_announce_meta_version(&m));
            out_u64(s, "blob_type", tp_sbe_wire_meta_blob_announce_blob_type(&m));
            out_u64(s, "total_len", tp_sbe_wire_meta_blob_announce_total_len(&m));
            out_u64(s, "checksum", tp_sbe_wire_meta_blob_announce_checksum(&m));
            out_end(s);
            return;
        }
        case TP_SBE_WIRE_META_BLOB_CHUNK_TEMPLATE_ID:
        {
            DECODE(meta_blob_chunk);
            const uint8_t *data = NULL;
            uint32_t n = 0;
            out_begin(s, "MetaBlobChunk");
            out_u64(s, "stream_id", tp_sbe_wire_meta_blob_chunk_stream_id(&m));
            out_u64(s, "meta_version", tp_sbe_wire_meta_blob_chunk_meta_version(&m));
            out_u64(s, "chunk_offset", tp_sbe_wire_meta_blob_chunk_chunk_offset(&m));
            if (TP_SBE_OK == tp_sbe_wire_meta_blob_chunk_get_bytes(&m, &data, &n))
            {
                out_u64(s, "bytes", n);
            }
            out_end(s);
            return;
        }
        case TP_SBE_WIRE_META_BLOB_COMPLETE_TEMPLATE_ID:
        {
            DECODE(meta_blob_complete);
            out_begin(s, "MetaBlobComplete");
            out_u64(s, "stream_id", tp_sbe_wire_meta_blob_complete_stream_id(&m));
            out_u64(s, "meta_version", tp_sbe_wire_meta_blob_complete_meta_version(&m));
            out_u64(s, "checksum", tp_sbe_wire_meta_blob_complete_checksum(&m));
            out_end(s);
            return;
        }
        default:
            out_begin(s, "WireMessage");
            out_u64(s, "template_id", h.template_id);
            out_u64(s, "length", len);
            out_end(s);
            return;
    }
#undef DECODE
}

static int listen_usage(FILE *out)
{
    fprintf(out, "usage: tp listen announces|descriptors|control|qos|metadata [--json] [--channel URI]\n"
                 "       [--stream ID] [--transport-dir DIR] [--count N] [--duration SECONDS]\n"
                 "Prints decoded wire messages of one logical stream (defaults: control/announces 1000,\n"
                 "descriptors 1100, qos 1200, metadata 1300 on aeron:ipc).\n");
    return out == stdout ? TP_CLI_EXIT_OK : TP_CLI_EXIT_USAGE;
}

int tp_cli_listen(int argc, char **argv)
{
    if (argc < 2 || 0 == strcmp(argv[1], "--help") || 0 == strcmp(argv[1], "-h"))
    {
        return listen_usage(argc < 2 ? stderr : stdout);
    }
    static listen_state_t s;
    int32_t stream = -1;
    const char *what = argv[1];
    if (0 == strcmp(what, "announces"))
    {
        stream = 1000;
        s.announces_only = true;
    }
    else if (0 == strcmp(what, "control"))
    {
        stream = 1000;
    }
    else if (0 == strcmp(what, "descriptors"))
    {
        stream = 1100;
    }
    else if (0 == strcmp(what, "qos"))
    {
        stream = 1200;
    }
    else if (0 == strcmp(what, "metadata"))
    {
        stream = 1300;
    }
    else
    {
        fprintf(stderr, "tp listen: unknown stream kind '%s'\n", what);
        return listen_usage(stderr);
    }
    const char *channel = "aeron:ipc", *dir = NULL;
    uint64_t count = 0;
    double duration = 0;
    for (int i = 2; i < argc; i++)
    {
        if (0 == strcmp(argv[i], "--json"))
        {
            s.json = true;
        }
        else if (0 == strcmp(argv[i], "--channel"))
        {
            channel = tp_args_value("tp listen", argc, argv, &i);
            if (NULL == channel || tp_args_path("tp listen", "--channel", channel, 1024) < 0)
            {
                return TP_CLI_EXIT_USAGE;
            }
        }
        else if (0 == strcmp(argv[i], "--stream"))
        {
            const char *v = tp_args_value("tp listen", argc, argv, &i);
            int64_t id = 0;
            if (NULL == v || tp_args_i64("tp listen", "--stream", v, INT32_MIN, INT32_MAX, "a stream id", &id) < 0)
            {
                return TP_CLI_EXIT_USAGE;
            }
            stream = (int32_t)id;
        }
        else if (0 == strcmp(argv[i], "--transport-dir"))
        {
            dir = tp_args_value("tp listen", argc, argv, &i);
            if (NULL == dir || tp_args_path("tp listen", "--transport-dir", dir, 4000) < 0)
            {
                return TP_CLI_EXIT_USAGE;
            }
        }
        else if (0 == strcmp(argv[i], "--count"))
        {
            const char *v = tp_args_value("tp listen", argc, argv, &i);
            if (NULL == v || tp_args_u64("tp listen", "--count", v, 0, UINT64_MAX, "a message count", &count) < 0)
            {
                return TP_CLI_EXIT_USAGE;
            }
        }
        else if (0 == strcmp(argv[i], "--duration"))
        {
            const char *v = tp_args_value("tp listen", argc, argv, &i);
            if (NULL == v ||
                tp_args_double("tp listen", "--duration", v, 0.0, 1e9, "a number of seconds", &duration) < 0)
            {
                return TP_CLI_EXIT_USAGE;
            }
        }
        else
        {
            fprintf(stderr, "tp listen: unknown option '%s'\n", argv[i]);
            return listen_usage(stderr);
        }
    }
    tp_transport_context_t tctx;
    tp_transport_t *t = NULL;
    tp_subscription_t *sub = NULL;
    tp_transport_context_init(&tctx);
    if ((dir && tp_transport_context_set_dir(&tctx, dir) < 0) || tp_transport_init(&t, &tctx) < 0 ||
        tp_transport_add_subscription(&sub, t, channel, stream, NULL, NULL, NULL, NULL, 0) < 0)
    {
        fprintf(stderr, "tp listen: %s\n", tp_errmsg());
        tp_transport_close(t);
        return TP_CLI_EXIT_FAIL;
    }
    signal(SIGINT, listen_on_signal);
    signal(SIGTERM, listen_on_signal);
    uint64_t end = duration > 0 ? tp_clock_mono_ns() + (uint64_t)(duration * 1e9) : UINT64_MAX;
    while (listen_running && (0 == count || s.printed < count) && tp_clock_mono_ns() < end)
    {
        tp_transport_do_work(t);
        if (tp_subscription_poll(sub, on_message, &s, 64) <= 0)
        {
            tp_sleep_ns(1000000);
        }
    }
    tp_subscription_close(sub);
    tp_transport_close(t);
    return TP_CLI_EXIT_OK;
}
