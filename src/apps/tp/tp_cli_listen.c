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
#include <stddef.h>
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
static void out_malformed(listen_state_t *s, const char *template_name, const char *reason)
{
    out_begin(s, "Malformed");
    out_name(s, "template", template_name);
    out_name(s, "reason", reason);
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

/*
 * Fields printed by a function of their own: the groups (pools, attributes, rules, parents).
 * Each gets the decoded view of its message.
 */
static void out_announce_pools(listen_state_t *s, const char *key, const void *view)
{
    const tp_proto_shm_pool_announce_view_t *v = view;
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
    out_raw(s, key, NULL, "%s", pools);
}

/* DataSourceMeta attributes: one attr:<key>="value" field each (key and value truncated for display). */
static void out_meta_attributes(listen_state_t *s, const char *key, const void *view)
{
    (void)key;
    const tp_proto_data_source_meta_view_t *v = view;
    tp_proto_attribute_iter_t it = v->attributes;
    tp_proto_attribute_view_t a;
    while (1 == tp_proto_attribute_next(&it, &a))
    {
        char attr_key[160];
        snprintf(attr_key, sizeof(attr_key), "attr:%.*s", (int)(a.key.length > 128 ? 128 : a.key.length), a.key.data);
        out_str(s, attr_key, (const char *)a.value.data, a.value.length > 1024 ? 1024 : a.value.length);
    }
}

static void out_trace_parents(listen_state_t *s, const char *key, const void *view)
{
    const tp_proto_trace_link_set_view_t *v = view;
    out_u64_list(s, key, v->parents, v->parent_count);
}

/* One rule of a MergeMap announce, appended at dst (i: its index, for the separating comma). */
typedef int (*listen_rule_fn)(listen_state_t *s, char *dst, size_t cap, const void *view, uint32_t i);

/* A MergeMap rule group as [rule,rule]; stops early when fewer than reserve bytes are left for the next rule. */
static void out_rules(listen_state_t *s, const char *key, const void *view, uint32_t count, size_t reserve,
    listen_rule_fn rule)
{
    char rules[8192];
    size_t rn = 0;
    rules[rn++] = '[';
    for (uint32_t i = 0; i < count && rn < sizeof(rules) - reserve; i++)
    {
        rn += (size_t)rule(s, rules + rn, sizeof(rules) - rn, view, i);
    }
    rules[rn++] = ']';
    rules[rn] = '\0';
    out_raw(s, key, NULL, "%s", rules);
}

static int seq_merge_rule(listen_state_t *s, char *dst, size_t cap, const void *view, uint32_t i)
{
    const tp_proto_seq_merge_rule_view_t *r = &((const tp_proto_seq_merge_map_announce_view_t *)view)->rules[i];
    char off[24] = "null", win[24] = "null";
    if (r->has_offset)
    {
        snprintf(off, sizeof(off), "%" PRId32, r->offset);
    }
    if (r->has_window_size)
    {
        snprintf(win, sizeof(win), "%" PRIu32, r->window_size);
    }
    return snprintf(dst, cap,
        s->json ? "%s{\"input_stream_id\":%u,\"rule_type\":\"%s\",\"offset\":%s,\"window_size\":%s}"
                : "%s%u:%s(offset=%s,window_size=%s)",
        i ? "," : "", r->input_stream_id, tp_sbe_merge_merge_rule_type_name(r->rule_type), off, win);
}

static int ts_merge_rule(listen_state_t *s, char *dst, size_t cap, const void *view, uint32_t i)
{
    const tp_proto_ts_merge_rule_view_t *r = &((const tp_proto_ts_merge_map_announce_view_t *)view)->rules[i];
    char off[24] = "null", win[24] = "null";
    if (r->has_offset_ns)
    {
        snprintf(off, sizeof(off), "%" PRId64, r->offset_ns);
    }
    if (r->has_window_ns)
    {
        snprintf(win, sizeof(win), "%" PRIu64, r->window_ns);
    }
    return snprintf(dst, cap,
        s->json ? "%s{\"input_stream_id\":%u,\"rule_type\":\"%s\",\"timestamp_source\":\"%s\","
                  "\"offset_ns\":%s,\"window_ns\":%s}"
                : "%s%u:%s/%s(offset_ns=%s,window_ns=%s)",
        i ? "," : "", r->input_stream_id, tp_sbe_merge_merge_time_rule_type_name(r->rule_type),
        tp_sbe_merge_timestamp_source_name(r->timestamp_source), off, win);
}

static void out_seq_merge_rules(listen_state_t *s, const char *key, const void *view)
{
    out_rules(s, key, view, ((const tp_proto_seq_merge_map_announce_view_t *)view)->rule_count, 160, seq_merge_rule);
}

static void out_ts_merge_rules(listen_state_t *s, const char *key, const void *view)
{
    out_rules(s, key, view, ((const tp_proto_ts_merge_map_announce_view_t *)view)->rule_count, 200, ts_merge_rule);
}

/*
 * Table-driven printing: a message is a list of fields, each read from its decoded view at its offset and
 * printed by the one out_* printer (text or JSON). An optional field is printed only when its presence flag
 * is set, or printed as null when absent (a quoted "null" for enum names).
 */
typedef enum
{
    FIELD_NUM,    /* unsigned integer of 1, 2, 4 or 8 bytes; a signed 64-bit value prints as its uint64_t cast */
    FIELD_BOOL,   /* true / false */
    FIELD_ENUM,   /* an enum, printed as the schema's name of its value */
    FIELD_STR,    /* tp_proto_str_t, quoted (JSON-escaped) */
    FIELD_CUSTOM  /* printed by .custom */
} listen_field_kind_t;

typedef struct listen_field_stct
{
    const char *key;
    listen_field_kind_t kind;
    size_t offset;
    size_t size;
    bool optional;         /* printed only when the bool at .presence is true ... */
    bool null_when_absent; /* ... or printed as null when it is false */
    size_t presence;
    const char *(*name)(int64_t);
    void (*custom)(listen_state_t *s, const char *key, const void *view);
}
listen_field_t;

/* Field initialisers; LV is the view type of the message being described. */
#define LF(k, m, kind_) .key = (k), .kind = (kind_), .offset = offsetof(LV, m), .size = sizeof(((const LV *)0)->m)
#define F_NUM(k, m) { LF(k, m, FIELD_NUM) }
#define F_BOOL(k, m) { LF(k, m, FIELD_BOOL) }
#define F_STR(k, m) { LF(k, m, FIELD_STR) }
#define F_ENUM(k, m, fn) { LF(k, m, FIELD_ENUM), .name = (fn) }
#define F_CUSTOM(k, fn) { .key = (k), .kind = FIELD_CUSTOM, .custom = (fn) }
#define F_IF(has) .optional = true, .presence = offsetof(LV, has)
#define F_OR_NULL(has) .optional = true, .null_when_absent = true, .presence = offsetof(LV, has)

static uint64_t field_uint(const void *view, size_t offset, size_t size)
{
    const uint8_t *p = (const uint8_t *)view + offset;
    switch (size)
    {
        case 1: { uint8_t v; memcpy(&v, p, 1); return v; }
        case 2: { uint16_t v; memcpy(&v, p, 2); return v; }
        case 4: { uint32_t v; memcpy(&v, p, 4); return v; }
        default: { uint64_t v; memcpy(&v, p, 8); return v; }
    }
}

static int64_t field_int(const void *view, size_t offset, size_t size)
{
    const uint8_t *p = (const uint8_t *)view + offset;
    switch (size)
    {
        case 1: { int8_t v; memcpy(&v, p, 1); return v; }
        case 2: { int16_t v; memcpy(&v, p, 2); return v; }
        case 4: { int32_t v; memcpy(&v, p, 4); return v; }
        default: { int64_t v; memcpy(&v, p, 8); return v; }
    }
}

static void out_field(listen_state_t *s, const listen_field_t *f, const void *view)
{
    if (f->optional && !*((const bool *)view + f->presence))
    {
        if (f->null_when_absent)
        {
            if (FIELD_ENUM == f->kind)
            {
                out_name(s, f->key, "null");
            }
            else
            {
                out_raw(s, f->key, NULL, "null");
            }
        }
        return;
    }
    switch (f->kind)
    {
        case FIELD_NUM:
            out_u64(s, f->key, field_uint(view, f->offset, f->size));
            return;
        case FIELD_BOOL:
            out_raw(s, f->key, NULL, "%s", bool_name(*((const bool *)view + f->offset)));
            return;
        case FIELD_ENUM:
            out_name(s, f->key, f->name(field_int(view, f->offset, f->size)));
            return;
        case FIELD_STR:
        {
            tp_proto_str_t str;
            memcpy(&str, (const uint8_t *)view + f->offset, sizeof(str));
            out_str(s, f->key, str.data, str.length);
            return;
        }
        case FIELD_CUSTOM:
            f->custom(s, f->key, view);
            return;
    }
}

/* Wire messages (schema 900). */
#define LV tp_proto_shm_pool_announce_view_t
static const listen_field_t shm_pool_announce_fields[] = {
    F_NUM("stream_id", stream_id), F_NUM("producer_id", producer_id), F_NUM("epoch", epoch),
    F_NUM("announce_timestamp_ns", announce_timestamp_ns),
    F_ENUM("clock_domain", announce_clock_domain, tp_sbe_wire_clock_domain_name),
    F_NUM("layout_version", layout_version), F_NUM("header_nslots", header_nslots),
    F_NUM("header_slot_bytes", header_slot_bytes), F_CUSTOM("payload_pools", out_announce_pools),
    F_STR("header_region_uri", header_region_uri),
};
#undef LV
#define LV tp_proto_frame_descriptor_view_t
static const listen_field_t frame_descriptor_fields[] = {
    F_NUM("stream_id", stream_id), F_NUM("epoch", epoch), F_NUM("seq", seq),
    { LF("timestamp_ns", timestamp_ns, FIELD_NUM), F_OR_NULL(has_timestamp_ns) },
    F_NUM("meta_version", meta_version), /* the raw value: 4294967295 when null */
    F_NUM("trace_id", trace_id),         /* 0 when there is no trace (ERRATA 1) */
};
#undef LV
#define LV tp_proto_frame_progress_view_t
static const listen_field_t frame_progress_fields[] = {
    F_NUM("stream_id", stream_id), F_NUM("epoch", epoch), F_NUM("seq", seq),
    F_NUM("payload_bytes_filled", payload_bytes_filled), F_ENUM("state", state, tp_sbe_wire_frame_progress_state_name),
};
#undef LV
#define LV tp_proto_consumer_hello_view_t
static const listen_field_t consumer_hello_fields[] = {
    F_NUM("stream_id", stream_id), F_NUM("consumer_id", consumer_id), F_BOOL("supports_shm", supports_shm),
    F_BOOL("supports_progress", supports_progress), F_ENUM("mode", mode, tp_sbe_wire_mode_name),
    F_NUM("max_rate_hz", max_rate_hz), F_NUM("expected_layout_version", expected_layout_version),
    F_NUM("descriptor_stream_id", descriptor_stream_id), F_NUM("control_stream_id", control_stream_id),
};
#undef LV
#define LV tp_proto_consumer_config_view_t
static const listen_field_t consumer_config_fields[] = {
    F_NUM("stream_id", stream_id), F_NUM("consumer_id", consumer_id), F_BOOL("use_shm", use_shm),
    F_ENUM("mode", mode, tp_sbe_wire_mode_name), F_NUM("descriptor_stream_id", descriptor_stream_id),
    F_NUM("control_stream_id", control_stream_id), F_STR("payload_fallback_uri", payload_fallback_uri),
};
#undef LV
#define LV tp_proto_qos_consumer_view_t
static const listen_field_t qos_consumer_fields[] = {
    F_NUM("stream_id", stream_id), F_NUM("consumer_id", consumer_id), F_NUM("epoch", epoch),
    F_NUM("last_seq_seen", last_seq_seen), F_NUM("drops_gap", drops_gap), F_NUM("drops_late", drops_late),
    F_ENUM("mode", mode, tp_sbe_wire_mode_name),
};
#undef LV
#define LV tp_proto_qos_producer_view_t
static const listen_field_t qos_producer_fields[] = {
    F_NUM("stream_id", stream_id), F_NUM("producer_id", producer_id), F_NUM("epoch", epoch),
    F_NUM("current_seq", current_seq),
};
#undef LV
#define LV tp_proto_data_source_announce_view_t
static const listen_field_t data_source_announce_fields[] = {
    F_NUM("stream_id", stream_id), F_NUM("producer_id", producer_id), F_NUM("epoch", epoch),
    F_NUM("meta_version", meta_version), F_STR("name", name), F_STR("summary", summary),
};
#undef LV
#define LV tp_proto_data_source_meta_view_t
static const listen_field_t data_source_meta_fields[] = {
    F_NUM("stream_id", stream_id), F_NUM("meta_version", meta_version), F_NUM("timestamp_ns", timestamp_ns),
    F_CUSTOM("attributes", out_meta_attributes),
};
#undef LV
#define LV tp_proto_meta_blob_announce_view_t
static const listen_field_t meta_blob_announce_fields[] = {
    F_NUM("stream_id", stream_id), F_NUM("meta_version", meta_version), F_NUM("blob_type", blob_type),
    F_NUM("total_len", total_len), F_NUM("checksum", checksum),
};
#undef LV
#define LV tp_proto_meta_blob_chunk_view_t
static const listen_field_t meta_blob_chunk_fields[] = {
    F_NUM("stream_id", stream_id), F_NUM("meta_version", meta_version), F_NUM("chunk_offset", chunk_offset),
    F_NUM("bytes", bytes.length),
};
#undef LV
#define LV tp_proto_meta_blob_complete_view_t
static const listen_field_t meta_blob_complete_fields[] = {
    F_NUM("stream_id", stream_id), F_NUM("meta_version", meta_version), F_NUM("checksum", checksum),
};
#undef LV

/* Driver control-plane messages (schema 901) on the control stream (Driver Model spec §4). */
#define LV tp_proto_shm_attach_request_view_t
static const listen_field_t shm_attach_request_fields[] = {
    F_NUM("correlation_id", correlation_id), F_NUM("stream_id", stream_id), F_NUM("client_id", client_id),
    F_ENUM("role", role, tp_sbe_driver_role_name), F_NUM("expected_layout_version", expected_layout_version),
    { LF("publish_mode", publish_mode, FIELD_ENUM), .name = tp_sbe_driver_publish_mode_name,
        F_OR_NULL(has_publish_mode) },
    F_ENUM("require_hugepages", require_hugepages, tp_sbe_driver_hugepages_policy_name),
    { LF("desired_node_id", desired_node_id, FIELD_NUM), F_IF(has_desired_node_id) },
};
#undef LV
#define LV tp_proto_shm_attach_response_view_t
static const listen_field_t shm_attach_response_fields[] = {
    F_NUM("correlation_id", correlation_id), F_ENUM("code", code, tp_sbe_driver_response_code_name),
    { LF("lease_id", lease_id, FIELD_NUM), F_IF(has_lease_id) },
    { LF("stream_id", stream_id, FIELD_NUM), F_IF(has_lease_id) },
    { LF("epoch", epoch, FIELD_NUM), F_IF(has_lease_id) },
    { LF("header_nslots", header_nslots, FIELD_NUM), F_IF(has_lease_id) },
    { LF("pools", pool_count, FIELD_NUM), F_IF(has_lease_id) },
    { LF("header_region_uri", header_region_uri, FIELD_STR), F_IF(has_lease_id) },
    { LF("node_id", node_id, FIELD_NUM), F_IF(has_node_id) },
    F_STR("error_message", error_message),
};
#undef LV
#define LV tp_proto_shm_detach_request_view_t
static const listen_field_t shm_detach_request_fields[] = {
    F_NUM("correlation_id", correlation_id), F_NUM("lease_id", lease_id), F_NUM("stream_id", stream_id),
    F_NUM("client_id", client_id), F_ENUM("role", role, tp_sbe_driver_role_name),
};
#undef LV
#define LV tp_proto_shm_detach_response_view_t
static const listen_field_t shm_detach_response_fields[] = {
    F_NUM("correlation_id", correlation_id), F_ENUM("code", code, tp_sbe_driver_response_code_name),
    F_STR("error_message", error_message),
};
#undef LV
#define LV tp_proto_shm_lease_keepalive_view_t
static const listen_field_t shm_lease_keepalive_fields[] = {
    F_NUM("lease_id", lease_id), F_NUM("stream_id", stream_id), F_NUM("client_id", client_id),
    F_ENUM("role", role, tp_sbe_driver_role_name), F_NUM("client_timestamp_ns", client_timestamp_ns),
};
#undef LV
#define LV tp_proto_shm_driver_shutdown_view_t
static const listen_field_t shm_driver_shutdown_fields[] = {
    F_NUM("timestamp_ns", timestamp_ns), F_ENUM("reason", reason, tp_sbe_driver_shutdown_reason_name),
    F_STR("error_message", error_message),
};
#undef LV
#define LV tp_proto_shm_lease_revoked_view_t
static const listen_field_t shm_lease_revoked_fields[] = {
    F_NUM("lease_id", lease_id), F_NUM("stream_id", stream_id), F_NUM("client_id", client_id),
    F_ENUM("role", role, tp_sbe_driver_role_name), F_ENUM("reason", reason, tp_sbe_driver_lease_revoke_reason_name),
    F_STR("error_message", error_message),
};
#undef LV
#define LV tp_proto_shm_driver_shutdown_request_view_t
static const listen_field_t shm_driver_shutdown_request_fields[] = {
    F_NUM("correlation_id", correlation_id), F_ENUM("reason", reason, tp_sbe_driver_shutdown_reason_name),
    F_NUM("token_length", token.length), /* never the token itself */
};
#undef LV

/* TraceLinkSet (schema 904) and MergeMap messages (schema 903). */
#define LV tp_proto_trace_link_set_view_t
static const listen_field_t trace_link_set_fields[] = {
    F_NUM("stream_id", stream_id), F_NUM("epoch", epoch), F_NUM("seq", seq), F_NUM("trace_id", trace_id),
    F_CUSTOM("parents", out_trace_parents),
};
#undef LV
#define LV tp_proto_seq_merge_map_announce_view_t
static const listen_field_t seq_merge_map_announce_fields[] = {
    F_NUM("out_stream_id", out_stream_id), F_NUM("epoch", epoch),
    { LF("stale_timeout_ns", stale_timeout_ns, FIELD_NUM), F_OR_NULL(has_stale_timeout_ns) },
    F_CUSTOM("rules", out_seq_merge_rules),
};
#undef LV
#define LV tp_proto_ts_merge_map_announce_view_t
static const listen_field_t ts_merge_map_announce_fields[] = {
    F_NUM("out_stream_id", out_stream_id), F_NUM("epoch", epoch),
    { LF("stale_timeout_ns", stale_timeout_ns, FIELD_NUM), F_OR_NULL(has_stale_timeout_ns) },
    F_ENUM("clock_domain", clock_domain, tp_sbe_merge_clock_domain_name),
    { LF("lateness_ns", lateness_ns, FIELD_NUM), F_OR_NULL(has_lateness_ns) },
    F_CUSTOM("rules", out_ts_merge_rules),
};
#undef LV
#define LV tp_proto_merge_map_request_view_t
static const listen_field_t merge_map_request_fields[] = {
    F_NUM("out_stream_id", out_stream_id), F_NUM("epoch", epoch),
};
#undef LV

#undef F_OR_NULL
#undef F_IF
#undef F_CUSTOM
#undef F_ENUM
#undef F_STR
#undef F_BOOL
#undef F_NUM
#undef LF

/* Every decoded view, so one buffer serves whichever message arrives. */
typedef union
{
    tp_proto_shm_pool_announce_view_t shm_pool_announce;
    tp_proto_frame_descriptor_view_t frame_descriptor;
    tp_proto_frame_progress_view_t frame_progress;
    tp_proto_consumer_hello_view_t consumer_hello;
    tp_proto_consumer_config_view_t consumer_config;
    tp_proto_qos_consumer_view_t qos_consumer;
    tp_proto_qos_producer_view_t qos_producer;
    tp_proto_data_source_announce_view_t data_source_announce;
    tp_proto_data_source_meta_view_t data_source_meta;
    tp_proto_meta_blob_announce_view_t meta_blob_announce;
    tp_proto_meta_blob_chunk_view_t meta_blob_chunk;
    tp_proto_meta_blob_complete_view_t meta_blob_complete;
    tp_proto_shm_attach_request_view_t shm_attach_request;
    tp_proto_shm_attach_response_view_t shm_attach_response;
    tp_proto_shm_detach_request_view_t shm_detach_request;
    tp_proto_shm_detach_response_view_t shm_detach_response;
    tp_proto_shm_lease_keepalive_view_t shm_lease_keepalive;
    tp_proto_shm_driver_shutdown_view_t shm_driver_shutdown;
    tp_proto_shm_lease_revoked_view_t shm_lease_revoked;
    tp_proto_shm_driver_shutdown_request_view_t shm_driver_shutdown_request;
    tp_proto_trace_link_set_view_t trace_link_set;
    tp_proto_seq_merge_map_announce_view_t seq_merge_map_announce;
    tp_proto_ts_merge_map_announce_view_t ts_merge_map_announce;
    tp_proto_merge_map_request_view_t merge_map_request;
} listen_view_t;

/* The decode layer's decoders behind one signature. */
#define LISTEN_DECODER(kind)                                                                                 \
    static int listen_decode_##kind(const uint8_t *buf, size_t len, void *view)                             \
    {                                                                                                        \
        return tp_proto_decode_##kind(buf, len, view);                                                       \
    }
LISTEN_DECODER(shm_pool_announce)
LISTEN_DECODER(frame_descriptor)
LISTEN_DECODER(frame_progress)
LISTEN_DECODER(consumer_hello)
LISTEN_DECODER(consumer_config)
LISTEN_DECODER(qos_consumer)
LISTEN_DECODER(qos_producer)
LISTEN_DECODER(data_source_announce)
LISTEN_DECODER(data_source_meta)
LISTEN_DECODER(meta_blob_announce)
LISTEN_DECODER(meta_blob_chunk)
LISTEN_DECODER(meta_blob_complete)
LISTEN_DECODER(shm_attach_request)
LISTEN_DECODER(shm_attach_response)
LISTEN_DECODER(shm_detach_request)
LISTEN_DECODER(shm_detach_response)
LISTEN_DECODER(shm_lease_keepalive)
LISTEN_DECODER(shm_driver_shutdown)
LISTEN_DECODER(shm_lease_revoked)
LISTEN_DECODER(shm_driver_shutdown_request)
LISTEN_DECODER(trace_link_set)
LISTEN_DECODER(seq_merge_map_announce)
LISTEN_DECODER(ts_merge_map_announce)
LISTEN_DECODER(seq_merge_map_request)
LISTEN_DECODER(ts_merge_map_request)
#undef LISTEN_DECODER

typedef struct listen_message_stct
{
    uint16_t template_id;
    const char *type;           /* printed message type */
    const char *malformed_name; /* printed as the template of a Malformed line */
    int (*decode)(const uint8_t *buf, size_t len, void *view);
    const listen_field_t *fields;
    size_t field_count;
}
listen_message_t;

/* Wire and driver messages name a Malformed template by their decoder's name (as they always have). */
#define LISTEN_MSG(tid, type, malformed, kind, fields)                                                      \
    { (tid), (type), (malformed), listen_decode_##kind, (fields), sizeof(fields) / sizeof((fields)[0]) }

static const listen_message_t wire_messages[] = {
    LISTEN_MSG(TP_SBE_WIRE_SHM_POOL_ANNOUNCE_TEMPLATE_ID, "ShmPoolAnnounce", "ShmPoolAnnounce", shm_pool_announce,
        shm_pool_announce_fields),
    LISTEN_MSG(TP_SBE_WIRE_FRAME_DESCRIPTOR_TEMPLATE_ID, "FrameDescriptor", "frame_descriptor", frame_descriptor,
        frame_descriptor_fields),
    LISTEN_MSG(TP_SBE_WIRE_FRAME_PROGRESS_TEMPLATE_ID, "FrameProgress", "frame_progress", frame_progress,
        frame_progress_fields),
    LISTEN_MSG(TP_SBE_WIRE_CONSUMER_HELLO_TEMPLATE_ID, "ConsumerHello", "consumer_hello", consumer_hello,
        consumer_hello_fields),
    LISTEN_MSG(TP_SBE_WIRE_CONSUMER_CONFIG_TEMPLATE_ID, "ConsumerConfig", "consumer_config", consumer_config,
        consumer_config_fields),
    LISTEN_MSG(TP_SBE_WIRE_QOS_CONSUMER_TEMPLATE_ID, "QosConsumer", "qos_consumer", qos_consumer, qos_consumer_fields),
    LISTEN_MSG(TP_SBE_WIRE_QOS_PRODUCER_TEMPLATE_ID, "QosProducer", "qos_producer", qos_producer, qos_producer_fields),
    LISTEN_MSG(TP_SBE_WIRE_DATA_SOURCE_ANNOUNCE_TEMPLATE_ID, "DataSourceAnnounce", "data_source_announce",
        data_source_announce, data_source_announce_fields),
    LISTEN_MSG(TP_SBE_WIRE_DATA_SOURCE_META_TEMPLATE_ID, "DataSourceMeta", "data_source_meta", data_source_meta,
        data_source_meta_fields),
    LISTEN_MSG(TP_SBE_WIRE_META_BLOB_ANNOUNCE_TEMPLATE_ID, "MetaBlobAnnounce", "meta_blob_announce", meta_blob_announce,
        meta_blob_announce_fields),
    LISTEN_MSG(TP_SBE_WIRE_META_BLOB_CHUNK_TEMPLATE_ID, "MetaBlobChunk", "meta_blob_chunk", meta_blob_chunk,
        meta_blob_chunk_fields),
    LISTEN_MSG(TP_SBE_WIRE_META_BLOB_COMPLETE_TEMPLATE_ID, "MetaBlobComplete", "meta_blob_complete",
        meta_blob_complete, meta_blob_complete_fields),
};

static const listen_message_t driver_messages[] = {
    LISTEN_MSG(TP_SBE_DRIVER_SHM_ATTACH_REQUEST_TEMPLATE_ID, "ShmAttachRequest", "shm_attach_request",
        shm_attach_request, shm_attach_request_fields),
    LISTEN_MSG(TP_SBE_DRIVER_SHM_ATTACH_RESPONSE_TEMPLATE_ID, "ShmAttachResponse", "shm_attach_response",
        shm_attach_response, shm_attach_response_fields),
    LISTEN_MSG(TP_SBE_DRIVER_SHM_DETACH_REQUEST_TEMPLATE_ID, "ShmDetachRequest", "shm_detach_request",
        shm_detach_request, shm_detach_request_fields),
    LISTEN_MSG(TP_SBE_DRIVER_SHM_DETACH_RESPONSE_TEMPLATE_ID, "ShmDetachResponse", "shm_detach_response",
        shm_detach_response, shm_detach_response_fields),
    LISTEN_MSG(TP_SBE_DRIVER_SHM_LEASE_KEEPALIVE_TEMPLATE_ID, "ShmLeaseKeepalive", "shm_lease_keepalive",
        shm_lease_keepalive, shm_lease_keepalive_fields),
    LISTEN_MSG(TP_SBE_DRIVER_SHM_DRIVER_SHUTDOWN_TEMPLATE_ID, "ShmDriverShutdown", "shm_driver_shutdown",
        shm_driver_shutdown, shm_driver_shutdown_fields),
    LISTEN_MSG(TP_SBE_DRIVER_SHM_LEASE_REVOKED_TEMPLATE_ID, "ShmLeaseRevoked", "shm_lease_revoked", shm_lease_revoked,
        shm_lease_revoked_fields),
    LISTEN_MSG(TP_SBE_DRIVER_SHM_DRIVER_SHUTDOWN_REQUEST_TEMPLATE_ID, "ShmDriverShutdownRequest",
        "shm_driver_shutdown_request", shm_driver_shutdown_request, shm_driver_shutdown_request_fields),
};

static const listen_message_t tracelink_messages[] = {
    LISTEN_MSG(TP_SBE_TRACELINK_TRACE_LINK_SET_TEMPLATE_ID, "TraceLinkSet", "TraceLinkSet", trace_link_set,
        trace_link_set_fields),
};

static const listen_message_t merge_messages[] = {
    LISTEN_MSG(TP_SBE_MERGE_SEQUENCE_MERGE_MAP_ANNOUNCE_TEMPLATE_ID, "SequenceMergeMapAnnounce",
        "SequenceMergeMapAnnounce", seq_merge_map_announce, seq_merge_map_announce_fields),
    LISTEN_MSG(TP_SBE_MERGE_TIMESTAMP_MERGE_MAP_ANNOUNCE_TEMPLATE_ID, "TimestampMergeMapAnnounce",
        "TimestampMergeMapAnnounce", ts_merge_map_announce, ts_merge_map_announce_fields),
    LISTEN_MSG(TP_SBE_MERGE_SEQUENCE_MERGE_MAP_REQUEST_TEMPLATE_ID, "SequenceMergeMapRequest",
        "SequenceMergeMapRequest", seq_merge_map_request, merge_map_request_fields),
    LISTEN_MSG(TP_SBE_MERGE_TIMESTAMP_MERGE_MAP_REQUEST_TEMPLATE_ID, "TimestampMergeMapRequest",
        "TimestampMergeMapRequest", ts_merge_map_request, merge_map_request_fields),
};
#undef LISTEN_MSG

typedef struct listen_schema_stct
{
    uint16_t schema_id;
    const char *other_type; /* a template not in .messages: printed as this type with its id and length */
    bool tl_errors;         /* drop reasons from the TraceLink/MergeMap layer (tp_proto_tl_last_error) */
    const listen_message_t *messages;
    size_t message_count;
}
listen_schema_t;

#define LISTEN_SCHEMA(id, other, tl, messages) { (id), (other), (tl), (messages), sizeof(messages) / sizeof((messages)[0]) }
static const listen_schema_t listen_schemas[] = {
    LISTEN_SCHEMA(TP_SBE_WIRE_SCHEMA_ID, "WireMessage", false, wire_messages),
    LISTEN_SCHEMA(TP_SBE_DRIVER_SCHEMA_ID, "DriverMessage", false, driver_messages),
    LISTEN_SCHEMA(TP_SBE_TRACELINK_SCHEMA_ID, "TraceLinkMessage", true, tracelink_messages),
    LISTEN_SCHEMA(TP_SBE_MERGE_SCHEMA_ID, "MergeMessage", true, merge_messages),
};
#undef LISTEN_SCHEMA

static const listen_schema_t *listen_schema(uint16_t schema_id)
{
    for (size_t i = 0; i < sizeof(listen_schemas) / sizeof(listen_schemas[0]); i++)
    {
        if (listen_schemas[i].schema_id == schema_id)
        {
            return &listen_schemas[i];
        }
    }
    return NULL;
}

/* Decode one message of a known schema with the decode layer and print its fields, or Malformed with the reason. */
static void print_message(listen_state_t *s, const listen_schema_t *schema, uint16_t template_id, const uint8_t *buf,
    size_t len)
{
    static listen_view_t view;
    for (size_t i = 0; i < schema->message_count; i++)
    {
        const listen_message_t *m = &schema->messages[i];
        if (m->template_id != template_id)
        {
            continue;
        }
        memset(&view, 0, sizeof(view));
        if (m->decode(buf, len, &view) < 0)
        {
            out_malformed(s, m->malformed_name,
                schema->tl_errors ? tp_proto_tl_error_name(tp_proto_tl_last_error())
                                  : tp_proto_error_name(tp_proto_last_error()));
            return;
        }
        out_begin(s, m->type);
        for (size_t f = 0; f < m->field_count; f++)
        {
            out_field(s, &m->fields[f], &view);
        }
        out_end(s);
        return;
    }
    out_begin(s, schema->other_type);
    out_u64(s, "template_id", template_id);
    out_u64(s, "length", len);
    out_end(s);
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
            print_message(s, listen_schema(schema_id), template_id, buf, len);
        }
        return;
    }
    /* driver (901), TraceLink (904) and MergeMap (903) messages on the control stream */
    const listen_schema_t *schema = NULL;
    if (0 == tp_proto_peek(buf, len, &schema_id, &template_id) && !s->announces_only &&
        TP_SBE_WIRE_SCHEMA_ID != schema_id && NULL != (schema = listen_schema(schema_id)))
    {
        print_message(s, schema, template_id, buf, len);
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
    print_message(s, listen_schema(TP_SBE_WIRE_SCHEMA_ID), template_id, buf, len);
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
