/*
 * tp listen announces|descriptors|control|qos|metadata|tracelink|merge [--json]
 *     [--channel C] [--stream ID] [--transport-dir D] [--count N] [--duration SECONDS]
 *
 * Subscribes to one logical stream over the internal transport and prints
 * every decoded wire message (schema 900), driver control-plane message
 * (schema 901: attach, keepalive, detach, revocations, shutdown), MergeMap
 * message (schema 903) and TraceLinkSet (schema 904) as text or as JSON
 * lines. `tracelink` and `merge` listen to the control stream and print only
 * schema 904 / 903 (gated on MessageHeader.schemaId before decoding).
 * Every message goes through the decode layer (src/protocol); undecodable
 * ones are printed as Malformed with the drop reason, never trusted further.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/tp_clock.h"
#include "protocol/tp_proto.h"
#include "protocol/tp_proto_merge.h"
#include "protocol/tp_proto_tracelink.h"
#include "tensor_pool/tp.h"
#include "tp_args.h"
#include "tp_cli.h"
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
    uint16_t only_schema; /* tracelink (904) / merge (903): print nothing else; 0 = everything */
    uint64_t count;       /* --count: stop printing after this many (0 = no limit) */
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

/* JSON string escaping (non-printable bytes as \u00XX) into dst; returns the length written. */
static size_t escape_into(char *dst, size_t cap, const char *data, uint32_t len)
{
    size_t n = 0;
    for (uint32_t i = 0; i < len && n + 8 < cap; i++)
    {
        unsigned char ch = (unsigned char)data[i];
        if ('"' == ch || '\\' == ch)
        {
            dst[n++] = '\\';
            dst[n++] = (char)ch;
        }
        else if (ch < 0x20 || ch >= 0x7f)
        {
            n += (size_t)snprintf(dst + n, cap - n, "\\u%04x", ch);
        }
        else
        {
            dst[n++] = (char)ch;
        }
    }
    dst[n] = '\0';
    return n;
}

/* Strings: JSON-escaped (non-printable bytes as \u00XX) or quoted text. */
static void out_str(listen_state_t *s, const char *key, const char *data, uint32_t len)
{
    char esc[2048];
    size_t n = 0;
    esc[n++] = '"';
    n += escape_into(esc + n, sizeof(esc) - n - 2, data, len);
    esc[n++] = '"';
    esc[n] = '\0';
    out_raw(s, key, NULL, "%s", esc);
}

static void out_name(listen_state_t *s, const char *key, const char *name)
{
    out_str(s, key, name, (uint32_t)strlen(name));
}

static void out_end(listen_state_t *s)
{
    printf("%s%s\n", s->line, s->json ? "}" : "");
    fflush(stdout);
    s->printed++;
}

static const char *bool_name(bool v)
{
    return v ? "true" : "false";
}

/* A message that failed the decode layer: its name and the drop reason, never trusted further. */
static void out_malformed(listen_state_t *s, const char *template_name)
{
    out_begin(s, "Malformed");
    out_name(s, "template", template_name);
    out_name(s, "reason", tp_proto_error_name(tp_proto_last_error()));
    out_end(s);
}

static void print_announce(listen_state_t *s, const tp_proto_shm_pool_announce_view_t *v)
{
    out_begin(s, "ShmPoolAnnounce");
    out_u64(s, "stream_id", v->stream_id);
    out_u64(s, "producer_id", v->producer_id);
    out_u64(s, "epoch", v->epoch);
    out_u64(s, "announce_timestamp_ns", v->announce_timestamp_ns);
    out_name(s, "clock_domain", tp_sbe_wire_clock_domain_name(v->announce_clock_domain));
    out_u64(s, "layout_version", v->layout_version);
    out_u64(s, "header_nslots", v->header_nslots);
    out_u64(s, "header_slot_bytes", v->header_slot_bytes);
    char pools[4096];
    size_t pn = 0;
    pools[pn++] = s->json ? '[' : '{';
    for (uint32_t i = 0; i < v->pool_count && pn < sizeof(pools) - 2; i++)
    {
        const tp_proto_pool_view_t *p = &v->pools[i];
        uint32_t ulen = p->region_uri.length > 1024 ? 1024 : p->region_uri.length;
        char uri[1024 * 6 + 16];
        if (s->json)
        {
            escape_into(uri, sizeof(uri), p->region_uri.data, ulen);
        }
        else
        {
            snprintf(uri, sizeof(uri), "%.*s", (int)ulen, p->region_uri.data);
        }
        pn += (size_t)snprintf(pools + pn, sizeof(pools) - pn,
            s->json ? "%s{\"pool_id\":%u,\"pool_nslots\":%u,\"stride_bytes\":%u,\"region_uri\":\"%s\"}"
                    : "%s%u:%u*%u@%s",
            pn > 1 ? "," : "", p->pool_id, p->pool_nslots, p->stride_bytes, uri);
        if (pn >= sizeof(pools) - 2)
        {
            pn = sizeof(pools) - 2;
        }
    }
    pools[pn++] = s->json ? ']' : '}';
    pools[pn] = '\0';
    out_raw(s, "payload_pools", NULL, "%s", pools);
    out_str(s, "header_region_uri", v->header_region_uri.data, v->header_region_uri.length);
    out_end(s);
}

static void print_wire(listen_state_t *s, uint16_t template_id, const uint8_t *buf, size_t len)
{
/* Decode with the decode layer into view v, or print Malformed (with the reason) and stop. */
#define DECODE(kind)                                                                                      \
    tp_proto_##kind##_view_t v;                                                                            \
    if (tp_proto_decode_##kind(buf, len, &v) < 0)                                                          \
    {                                                                                                     \
        out_malformed(s, #kind);                                                                          \
        return;                                                                                           \
    }
    switch (template_id)
    {
        case TP_SBE_WIRE_SHM_POOL_ANNOUNCE_TEMPLATE_ID:
        {
            tp_proto_shm_pool_announce_view_t v;
            if (tp_proto_decode_shm_pool_announce(buf, len, &v) < 0)
            {
                out_malformed(s, "ShmPoolAnnounce");
                return;
            }
            print_announce(s, &v);
            return;
        }
        case TP_SBE_WIRE_FRAME_DESCRIPTOR_TEMPLATE_ID:
        {
            DECODE(frame_descriptor);
            out_begin(s, "FrameDescriptor");
            out_u64(s, "stream_id", v.stream_id);
            out_u64(s, "epoch", v.epoch);
            out_u64(s, "seq", v.seq);
            if (v.has_timestamp_ns)
            {
                out_u64(s, "timestamp_ns", v.timestamp_ns);
            }
            else
            {
                out_raw(s, "timestamp_ns", NULL, "null");
            }
            out_u64(s, "meta_version", v.meta_version); /* the raw value: 4294967295 when null */
            out_u64(s, "trace_id", v.trace_id);         /* 0 when there is no trace (ERRATA 1) */
            out_end(s);
            return;
        }
        case TP_SBE_WIRE_FRAME_PROGRESS_TEMPLATE_ID:
        {
            DECODE(frame_progress);
            out_begin(s, "FrameProgress");
            out_u64(s, "stream_id", v.stream_id);
            out_u64(s, "epoch", v.epoch);
            out_u64(s, "seq", v.seq);
            out_u64(s, "payload_bytes_filled", v.payload_bytes_filled);
            out_name(s, "state", tp_sbe_wire_frame_progress_state_name(v.state));
            out_end(s);
            return;
        }
        case TP_SBE_WIRE_CONSUMER_HELLO_TEMPLATE_ID:
        {
            DECODE(consumer_hello);
            out_begin(s, "ConsumerHello");
            out_u64(s, "stream_id", v.stream_id);
            out_u64(s, "consumer_id", v.consumer_id);
            out_raw(s, "supports_shm", NULL, "%s", bool_name(v.supports_shm));
            out_raw(s, "supports_progress", NULL, "%s", bool_name(v.supports_progress));
            out_name(s, "mode", tp_sbe_wire_mode_name(v.mode));
            out_u64(s, "max_rate_hz", v.max_rate_hz);
            out_u64(s, "expected_layout_version", v.expected_layout_version);
            out_u64(s, "descriptor_stream_id", v.descriptor_stream_id);
            out_u64(s, "control_stream_id", v.control_stream_id);
            out_end(s);
            return;
        }
        case TP_SBE_WIRE_CONSUMER_CONFIG_TEMPLATE_ID:
        {
            DECODE(consumer_config);
            out_begin(s, "ConsumerConfig");
            out_u64(s, "stream_id", v.stream_id);
            out_u64(s, "consumer_id", v.consumer_id);
            out_raw(s, "use_shm", NULL, "%s", bool_name(v.use_shm));
            out_name(s, "mode", tp_sbe_wire_mode_name(v.mode));
            out_u64(s, "descriptor_stream_id", v.descriptor_stream_id);
            out_u64(s, "control_stream_id", v.control_stream_id);
            out_str(s, "payload_fallback_uri", v.payload_fallback_uri.data, v.payload_fallback_uri.length);
            out_end(s);
            return;
        }
        case TP_SBE_WIRE_QOS_CONSUMER_TEMPLATE_ID:
        {
            DECODE(qos_consumer);
            out_begin(s, "QosConsumer");
            out_u64(s, "stream_id", v.stream_id);
            out_u64(s, "consumer_id", v.consumer_id);
            out_u64(s, "epoch", v.epoch);
            out_u64(s, "last_seq_seen", v.last_seq_seen);
            out_u64(s, "drops_gap", v.drops_gap);
            out_u64(s, "drops_late", v.drops_late);
            out_name(s, "mode", tp_sbe_wire_mode_name(v.mode));
            out_end(s);
            return;
        }
        case TP_SBE_WIRE_QOS_PRODUCER_TEMPLATE_ID:
        {
            DECODE(qos_producer);
            out_begin(s, "QosProducer");
            out_u64(s, "stream_id", v.stream_id);
            out_u64(s, "producer_id", v.producer_id);
            out_u64(s, "epoch", v.epoch);
            out_u64(s, "current_seq", v.current_seq);
            out_end(s);
            return;
        }
        case TP_SBE_WIRE_DATA_SOURCE_ANNOUNCE_TEMPLATE_ID:
        {
            DECODE(data_source_announce);
            out_begin(s, "DataSourceAnnounce");
            out_u64(s, "stream_id", v.stream_id);
            out_u64(s, "producer_id", v.producer_id);
            out_u64(s, "epoch", v.epoch);
            out_u64(s, "meta_version", v.meta_version);
            out_str(s, "name", v.name.data, v.name.length);
            out_str(s, "summary", v.summary.data, v.summary.length);
            out_end(s);
            return;
        }
        case TP_SBE_WIRE_DATA_SOURCE_META_TEMPLATE_ID:
        {
            DECODE(data_source_meta);
            out_begin(s, "DataSourceMeta");
            out_u64(s, "stream_id", v.stream_id);
            out_u64(s, "meta_version", v.meta_version);
            out_u64(s, "timestamp_ns", v.timestamp_ns);
            tp_proto_attribute_iter_t it = v.attributes;
            tp_proto_attribute_view_t a;
            while (1 == tp_proto_attribute_next(&it, &a))
            {
                char key[160];
                snprintf(key, sizeof(key), "attr:%.*s", (int)(a.key.length > 128 ? 128 : a.key.length), a.key.data);
                out_str(s, key, (const char *)a.value.data, a.value.length > 1024 ? 1024 : a.value.length);
            }
            out_end(s);
            return;
        }
        case TP_SBE_WIRE_META_BLOB_ANNOUNCE_TEMPLATE_ID:
        {
            DECODE(meta_blob_announce);
            out_begin(s, "MetaBlobAnnounce");
            out_u64(s, "stream_id", v.stream_id);
            out_u64(s, "meta_version", v.meta_version);
            out_u64(s, "blob_type", v.blob_type);
            out_u64(s, "total_len", v.total_len);
            out_u64(s, "checksum", v.checksum);
            out_end(s);
            return;
        }
        case TP_SBE_WIRE_META_BLOB_CHUNK_TEMPLATE_ID:
        {
            DECODE(meta_blob_chunk);
            out_begin(s, "MetaBlobChunk");
            out_u64(s, "stream_id", v.stream_id);
            out_u64(s, "meta_version", v.meta_version);
            out_u64(s, "chunk_offset", v.chunk_offset);
            out_u64(s, "bytes", v.bytes.length);
            out_end(s);
            return;
        }
        case TP_SBE_WIRE_META_BLOB_COMPLETE_TEMPLATE_ID:
        {
            DECODE(meta_blob_complete);
            out_begin(s, "MetaBlobComplete");
            out_u64(s, "stream_id", v.stream_id);
            out_u64(s, "meta_version", v.meta_version);
            out_u64(s, "checksum", v.checksum);
            out_end(s);
            return;
        }
        default:
            out_begin(s, "WireMessage");
            out_u64(s, "template_id", template_id);
            out_u64(s, "length", len);
            out_end(s);
            return;
    }
#undef DECODE
}

/* Decode with the decode layer into view v, or print Malformed (with the reason) and stop. */
#define DECODE(kind)                                                                                      \
    tp_proto_##kind##_view_t v;                                                                            \
    if (tp_proto_decode_##kind(buf, len, &v) < 0)                                                          \
    {                                                                                                     \
        out_malformed(s, #kind);                                                                          \
        return;                                                                                           \
    }
/* Driver control-plane messages (schema 901) on the control stream (Driver Model spec §4). */
static void print_driver(listen_state_t *s, uint16_t template_id, const uint8_t *buf, size_t len)
{
    switch (template_id)
    {
        case TP_SBE_DRIVER_SHM_ATTACH_REQUEST_TEMPLATE_ID:
        {
            DECODE(shm_attach_request);
            out_begin(s, "ShmAttachRequest");
            out_u64(s, "correlation_id", (uint64_t)v.correlation_id);
            out_u64(s, "stream_id", v.stream_id);
            out_u64(s, "client_id", v.client_id);
            out_name(s, "role", tp_sbe_driver_role_name(v.role));
            out_u64(s, "expected_layout_version", v.expected_layout_version);
            out_name(s, "publish_mode", v.has_publish_mode ? tp_sbe_driver_publish_mode_name(v.publish_mode) : "null");
            out_name(s, "require_hugepages", tp_sbe_driver_hugepages_policy_name(v.require_hugepages));
            if (v.has_desired_node_id)
            {
                out_u64(s, "desired_node_id", v.desired_node_id);
            }
            out_end(s);
            return;
        }
        case TP_SBE_DRIVER_SHM_ATTACH_RESPONSE_TEMPLATE_ID:
        {
            DECODE(shm_attach_response);
            out_begin(s, "ShmAttachResponse");
            out_u64(s, "correlation_id", (uint64_t)v.correlation_id);
            out_name(s, "code", tp_sbe_driver_response_code_name(v.code));
            if (v.has_lease_id)
            {
                out_u64(s, "lease_id", v.lease_id);
                out_u64(s, "stream_id", v.stream_id);
                out_u64(s, "epoch", v.epoch);
                out_u64(s, "header_nslots", v.header_nslots);
                out_u64(s, "pools", v.pool_count);
                out_str(s, "header_region_uri", v.header_region_uri.data, v.header_region_uri.length);
            }
            if (v.has_node_id)
            {
                out_u64(s, "node_id", v.node_id);
            }
            out_str(s, "error_message", v.error_message.data, v.error_message.length);
            out_end(s);
            return;
        }
        case TP_SBE_DRIVER_SHM_DETACH_REQUEST_TEMPLATE_ID:
        {
            DECODE(shm_detach_request);
            out_begin(s, "ShmDetachRequest");
            out_u64(s, "correlation_id", (uint64_t)v.correlation_id);
            out_u64(s, "lease_id", v.lease_id);
            out_u64(s, "stream_id", v.stream_id);
            out_u64(s, "client_id", v.client_id);
            out_name(s, "role", tp_sbe_driver_role_name(v.role));
            out_end(s);
            return;
        }
        case TP_SBE_DRIVER_SHM_DETACH_RESPONSE_TEMPLATE_ID:
        {
            DECODE(shm_detach_response);
            out_begin(s, "ShmDetachResponse");
            out_u64(s, "correlation_id", (uint64_t)v.correlation_id);
            out_name(s, "code", tp_sbe_driver_response_code_name(v.code));
            out_str(s, "error_message", v.error_message.data, v.error_message.length);
            out_end(s);
            return;
        }
        case TP_SBE_DRIVER_SHM_LEASE_KEEPALIVE_TEMPLATE_ID:
        {
            DECODE(shm_lease_keepalive);
            out_begin(s, "ShmLeaseKeepalive");
            out_u64(s, "lease_id", v.lease_id);
            out_u64(s, "stream_id", v.stream_id);
            out_u64(s, "client_id", v.client_id);
            out_name(s, "role", tp_sbe_driver_role_name(v.role));
            out_u64(s, "client_timestamp_ns", v.client_timestamp_ns);
            out_end(s);
            return;
        }
        case TP_SBE_DRIVER_SHM_DRIVER_SHUTDOWN_TEMPLATE_ID:
        {
            DECODE(shm_driver_shutdown);
            out_begin(s, "ShmDriverShutdown");
            out_u64(s, "timestamp_ns", v.timestamp_ns);
            out_name(s, "reason", tp_sbe_driver_shutdown_reason_name(v.reason));
            out_str(s, "error_message", v.error_message.data, v.error_message.length);
            out_end(s);
            return;
        }
        case TP_SBE_DRIVER_SHM_LEASE_REVOKED_TEMPLATE_ID:
        {
            DECODE(shm_lease_revoked);
            out_begin(s, "ShmLeaseRevoked");
            out_u64(s, "lease_id", v.lease_id);
            out_u64(s, "stream_id", v.stream_id);
            out_u64(s, "client_id", v.client_id);
            out_name(s, "role", tp_sbe_driver_role_name(v.role));
            out_name(s, "reason", tp_sbe_driver_lease_revoke_reason_name(v.reason));
            out_str(s, "error_message", v.error_message.data, v.error_message.length);
            out_end(s);
            return;
        }
        case TP_SBE_DRIVER_SHM_DRIVER_SHUTDOWN_REQUEST_TEMPLATE_ID:
        {
            DECODE(shm_driver_shutdown_request);
            out_begin(s, "ShmDriverShutdownRequest");
            out_u64(s, "correlation_id", (uint64_t)v.correlation_id);
            out_name(s, "reason", tp_sbe_driver_shutdown_reason_name(v.reason));
            out_u64(s, "token_length", v.token.length); /* never the token itself */
            out_end(s);
            return;
        }
        default:
            out_begin(s, "DriverMessage");
            out_u64(s, "template_id", template_id);
            out_u64(s, "length", len);
            out_end(s);
            return;
    }
}
#undef DECODE

/* A TraceLink/MergeMap message that failed decoding: name and drop reason. */
static void out_malformed_tl(listen_state_t *s, const char *template_name)
{
    out_begin(s, "Malformed");
    out_name(s, "template", template_name);
    out_name(s, "reason", tp_proto_tl_error_name(tp_proto_tl_last_error()));
    out_end(s);
}

/* An array of u64 as JSON [a,b] or text [a,b]. */
static void out_u64_list(listen_state_t *s, const char *key, const uint64_t *v, uint32_t n)
{
    char list[64 * 24];
    size_t ln = 0;
    list[ln++] = '[';
    for (uint32_t i = 0; i < n && ln < sizeof(list) - 24; i++)
    {
        ln += (size_t)snprintf(list + ln, sizeof(list) - ln, "%s%" PRIu64, i ? "," : "", v[i]);
    }
    list[ln++] = ']';
    list[ln] = '\0';
    out_raw(s, key, NULL, "%s", list);
}

static void print_tracelink(listen_state_t *s, uint16_t template_id, const uint8_t *buf, size_t len)
{
    if (TP_SBE_TRACELINK_TRACE_LINK_SET_TEMPLATE_ID != template_id)
    {
        out_begin(s, "TraceLinkMessage");
        out_u64(s, "template_id", template_id);
        out_u64(s, "length", len);
        out_end(s);
        return;
    }
    tp_proto_trace_link_set_view_t v;
    if (tp_proto_decode_trace_link_set(buf, len, &v) < 0)
    {
        out_malformed_tl(s, "TraceLinkSet");
        return;
    }
    out_begin(s, "TraceLinkSet");
    out_u64(s, "stream_id", v.stream_id);
    out_u64(s, "epoch", v.epoch);
    out_u64(s, "seq", v.seq);
    out_u64(s, "trace_id", v.trace_id);
    out_u64_list(s, "parents", v.parents, v.parent_count);
    out_end(s);
}

static void out_opt_u64(listen_state_t *s, const char *key, bool has, uint64_t v)
{
    if (has)
    {
        out_u64(s, key, v);
    }
    else
    {
        out_raw(s, key, NULL, "null");
    }
}

static void print_merge(listen_state_t *s, uint16_t template_id, const uint8_t *buf, size_t len)
{
    static tp_proto_seq_merge_map_announce_view_t sv;
    static tp_proto_ts_merge_map_announce_view_t tv;
    tp_proto_merge_map_request_view_t rv;
    char rules[8192];
    size_t rn = 0;
    switch (template_id)
    {
        case TP_SBE_MERGE_SEQUENCE_MERGE_MAP_ANNOUNCE_TEMPLATE_ID:
            if (tp_proto_decode_seq_merge_map_announce(buf, len, &sv) < 0)
            {
                out_malformed_tl(s, "SequenceMergeMapAnnounce");
                return;
            }
            out_begin(s, "SequenceMergeMapAnnounce");
            out_u64(s, "out_stream_id", sv.out_stream_id);
            out_u64(s, "epoch", sv.epoch);
            out_opt_u64(s, "stale_timeout_ns", sv.has_stale_timeout_ns, sv.stale_timeout_ns);
            rules[rn++] = '[';
            for (uint32_t i = 0; i < sv.rule_count && rn < sizeof(rules) - 160; i++)
            {
                const tp_proto_seq_merge_rule_view_t *r = &sv.rules[i];
                char off[24] = "null", win[24] = "null";
                if (r->has_offset)
                {
                    snprintf(off, sizeof(off), "%" PRId32, r->offset);
                }
                if (r->has_window_size)
                {
                    snprintf(win, sizeof(win), "%" PRIu32, r->window_size);
                }
                rn += (size_t)snprintf(rules + rn, sizeof(rules) - rn,
                    s->json ? "%s{\"input_stream_id\":%u,\"rule_type\":\"%s\",\"offset\":%s,\"window_size\":%s}"
                            : "%s%u:%s(offset=%s,window_size=%s)",
                    i ? "," : "", r->input_stream_id, tp_sbe_merge_merge_rule_type_name(r->rule_type), off, win);
            }
            rules[rn++] = ']';
            rules[rn] = '\0';
            out_raw(s, "rules", NULL, "%s", rules);
            out_end(s);
            return;
        case TP_SBE_MERGE_TIMESTAMP_MERGE_MAP_ANNOUNCE_TEMPLATE_ID:
            if (tp_proto_decode_ts_merge_map_announce(buf, len, &tv) < 0)
            {
                out_malformed_tl(s, "TimestampMergeMapAnnounce");
                return;
            }
            out_begin(s, "TimestampMergeMapAnnounce");
            out_u64(s, "out_stream_id", tv.out_stream_id);
            out_u64(s, "epoch", tv.epoch);
            out_opt_u64(s, "stale_timeout_ns", tv.has_stale_timeout_ns, tv.stale_timeout_ns);
            out_name(s, "clock_domain", tp_sbe_merge_clock_domain_name(tv.clock_domain));
            out_opt_u64(s, "lateness_ns", tv.has_lateness_ns, tv.lateness_ns);
            rules[rn++] = '[';
            for (uint32_t i = 0; i < tv.rule_count && rn < sizeof(rules) - 200; i++)
            {
                const tp_proto_ts_merge_rule_view_t *r = &tv.rules[i];
                char off[24] = "null", win[24] = "null";
                if (r->has_offset_ns)
                {
                    snprintf(off, sizeof(off), "%" PRId64, r->offset_ns);
                }
                if (r->has_window_ns)
                {
                    snprintf(win, sizeof(win), "%" PRIu64, r->window_ns);
                }
                rn += (size_t)snprintf(rules + rn, sizeof(rules) - rn,
                    s->json ? "%s{\"input_stream_id\":%u,\"rule_type\":\"%s\",\"timestamp_source\":\"%s\","
                              "\"offset_ns\":%s,\"window_ns\":%s}"
                            : "%s%u:%s/%s(offset_ns=%s,window_ns=%s)",
                    i ? "," : "", r->input_stream_id, tp_sbe_merge_merge_time_rule_type_name(r->rule_type),
                    tp_sbe_merge_timestamp_source_name(r->timestamp_source), off, win);
            }
            rules[rn++] = ']';
            rules[rn] = '\0';
            out_raw(s, "rules", NULL, "%s", rules);
            out_end(s);
            return;
        case TP_SBE_MERGE_SEQUENCE_MERGE_MAP_REQUEST_TEMPLATE_ID:
        case TP_SBE_MERGE_TIMESTAMP_MERGE_MAP_REQUEST_TEMPLATE_ID:
        {
            bool seq = TP_SBE_MERGE_SEQUENCE_MERGE_MAP_REQUEST_TEMPLATE_ID == template_id;
            const char *name = seq ? "SequenceMergeMapRequest" : "TimestampMergeMapRequest";
            if ((seq ? tp_proto_decode_seq_merge_map_request(buf, len, &rv)
                     : tp_proto_decode_ts_merge_map_request(buf, len, &rv)) < 0)
            {
                out_malformed_tl(s, name);
                return;
            }
            out_begin(s, name);
            out_u64(s, "out_stream_id", rv.out_stream_id);
            out_u64(s, "epoch", rv.epoch);
            out_end(s);
            return;
        }
        default:
            out_begin(s, "MergeMessage");
            out_u64(s, "template_id", template_id);
            out_u64(s, "length", len);
            out_end(s);
            return;
    }
}

static void on_message(void *clientd, const uint8_t *buf, size_t len, const tp_header_t *header)
{
    (void)header;
    listen_state_t *s = clientd;
    uint16_t schema_id = 0, template_id = 0;
    if (0 != s->count && s->printed >= s->count)
    {
        return; /* --count reached within one poll batch */
    }
    if (0 != s->only_schema)
    {
        /* tracelink / merge: gate on the schema id before decoding (TraceLink §13, Join Barrier §14) */
        if (0 == tp_proto_peek(buf, len, &schema_id, &template_id) && schema_id == s->only_schema)
        {
            if (TP_SBE_TRACELINK_SCHEMA_ID == schema_id)
            {
                print_tracelink(s, template_id, buf, len);
            }
            else
            {
                print_merge(s, template_id, buf, len);
            }
        }
        return;
    }
    if (0 == tp_proto_peek(buf, len, &schema_id, &template_id) && !s->announces_only &&
        (TP_SBE_TRACELINK_SCHEMA_ID == schema_id || TP_SBE_MERGE_SCHEMA_ID == schema_id))
    {
        if (TP_SBE_TRACELINK_SCHEMA_ID == schema_id)
        {
            print_tracelink(s, template_id, buf, len);
        }
        else
        {
            print_merge(s, template_id, buf, len);
        }
        return;
    }
    if (0 == tp_proto_peek(buf, len, &schema_id, &template_id) && TP_SBE_DRIVER_SCHEMA_ID == schema_id &&
        !s->announces_only)
    {
        print_driver(s, template_id, buf, len);
        return;
    }
    if (tp_proto_peek(buf, len, &schema_id, &template_id) < 0 || schema_id != TP_SBE_WIRE_SCHEMA_ID)
    {
        out_begin(s, "Unknown");
        out_u64(s, "length", len);
        if (len >= TP_SBE_MESSAGE_HEADER_LENGTH)
        {
            out_u64(s, "schema_id", schema_id);
            out_u64(s, "template_id", template_id);
        }
        out_end(s);
        return;
    }
    if (s->announces_only && template_id != TP_SBE_WIRE_SHM_POOL_ANNOUNCE_TEMPLATE_ID)
    {
        return;
    }
    print_wire(s, template_id, buf, len);
}

static int listen_usage(FILE *out)
{
    fprintf(out, "usage: tp listen announces|descriptors|control|qos|metadata|tracelink|merge [--json]\n"
                 "       [--channel URI] [--stream ID] [--transport-dir DIR] [--count N] [--duration SECONDS]\n"
                 "Prints decoded wire messages of one logical stream (defaults: control/announces 1000,\n"
                 "descriptors 1100, qos 1200, metadata 1300 on aeron:ipc). tracelink and merge print only\n"
                 "the TraceLinkSets (schema 904) / MergeMap messages (schema 903) of the control stream.\n");
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
    else if (0 == strcmp(what, "tracelink"))
    {
        stream = 1000;
        s.only_schema = TP_SBE_TRACELINK_SCHEMA_ID;
    }
    else if (0 == strcmp(what, "merge"))
    {
        stream = 1000;
        s.only_schema = TP_SBE_MERGE_SCHEMA_ID;
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
    /*
     * A diagnostic tool must never hold a publisher back: subscribe untethered on IPC (it may be lapped and then
     * misses messages, never the producer's time) unless the channel says otherwise. Aeron honours the same
     * parameter on IPC subscriptions.
     */
    char untethered[1100];
    if (0 == strncmp(channel, "aeron:ipc", 9) && ('\0' == channel[9] || '?' == channel[9]) &&
        NULL == strstr(channel, "tether="))
    {
        snprintf(untethered, sizeof(untethered), "%s%stether=false", channel, '\0' == channel[9] ? "?" : "|");
        channel = untethered;
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
    s.count = count;
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
