/*
 * Bridge configuration loader. See tp_bridge_config.h and docs/BRIDGE.md.
 */
#include "bridge/tp_bridge_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/tp_bridge_assembler.h"
#include "common/tp_error.h"
#include "common/tp_toml.h"

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

void tp_bridge_config_defaults(tp_bridge_config_t *c)
{
    memset(c, 0, sizeof(*c));
    c->role = TP_BRIDGE_ROLE_BOTH;
    c->max_chunk_bytes = 65535;
    c->max_payload_bytes = 1073741824u;
    c->forward_metadata = true;
    c->assembly_timeout_ms = 250;
    c->max_inflight_frames = 4;
    c->send_timeout_ms = 100;
    c->announce_forward_ms = 1000;
    snprintf(c->transport_backend, sizeof(c->transport_backend), "embedded");
    snprintf(c->local_channel, sizeof(c->local_channel), "aeron:ipc");
    c->local_control_stream_id = 1000;
    c->local_descriptor_stream_id = 1100;
    c->local_qos_stream_id = 1200;
    c->local_metadata_stream_id = 1300;
    c->announce_period_ms = 1000;
}

uint32_t tp_bridge_config_chunk_bytes(const tp_bridge_config_t *c)
{
    uint32_t b = c->mtu_bytes > 128 ? c->mtu_bytes - 128 : 1;
    if (0 != c->chunk_bytes && c->chunk_bytes < b)
    {
        b = c->chunk_bytes;
    }
    return b < c->max_chunk_bytes ? b : c->max_chunk_bytes;
}

static int get_str(tp_toml_t *doc, const char *path, char *dst, size_t cap)
{
    const char *s = NULL;
    if (tp_toml_get_string(doc, NULL, path, &s, NULL) < 0)
    {
        return -1;
    }
    if (NULL == s)
    {
        return 0;
    }
    if (strlen(s) >= cap)
    {
        return tp_toml_value_error(doc, tp_toml_lookup(tp_toml_root(doc), path), "longer than %zu bytes", cap - 1);
    }
    snprintf(dst, cap, "%s", s);
    return 0;
}

static int get_channel(tp_toml_t *doc, const char *path, char *dst, size_t cap)
{
    if (get_str(doc, path, dst, cap) < 0)
    {
        return -1;
    }
    if ('\0' != dst[0] && 0 != strncmp(dst, "aeron:", 6))
    {
        return tp_toml_value_error(doc, tp_toml_lookup(tp_toml_root(doc), path),
            "expected an Aeron channel (aeron:udp?endpoint=host:port or aeron:ipc), got \"%s\"", dst);
    }
    return 0;
}

static int require(tp_toml_t *doc, const char *path)
{
    return tp_toml_require(doc, NULL, path);
}

static int load_range(tp_toml_t *doc, tp_bridge_config_t *c)
{
    const tp_toml_value_t *v = tp_toml_lookup(tp_toml_root(doc), "bridge.dest_stream_id_range");
    if (NULL == v)
    {
        return 0;
    }
    uint64_t a = 0;
    uint64_t b = 0;
    if (TP_TOML_STRING == tp_toml_type(v))
    {
        const char *s = tp_toml_string(v);
        if ('\0' == s[0])
        {
            return 0;
        }
        char *end = NULL;
        a = strtoull(s, &end, 10);
        if (end == s || '-' != *end)
        {
            return tp_toml_value_error(doc, v, "expected \"first-last\", got \"%s\"", s);
        }
        const char *s2 = end + 1;
        b = strtoull(s2, &end, 10);
        if (end == s2 || '\0' != *end)
        {
            return tp_toml_value_error(doc, v, "expected \"first-last\", got \"%s\"", s);
        }
    }
    else if (TP_TOML_ARRAY == tp_toml_type(v))
    {
        if (0 == tp_toml_array_size(v))
        {
            return 0;
        }
        if (2 != tp_toml_array_size(v) || tp_toml_integer_u64(tp_toml_array_at(v, 0), &a) < 0 ||
            tp_toml_integer_u64(tp_toml_array_at(v, 1), &b) < 0)
        {
            return tp_toml_value_error(doc, v, "expected [first, last] with two stream ids");
        }
    }
    else
    {
        return tp_toml_value_error(doc, v, "expected \"first-last\" or [first, last], got a %s",
            tp_toml_type_name(tp_toml_type(v)));
    }
    if (0 == a || a > b || b > UINT32_MAX)
    {
        return tp_toml_value_error(doc, v, "expected 1 <= first <= last <= 4294967295");
    }
    c->range_set = true;
    c->range_first = (uint32_t)a;
    c->range_last = (uint32_t)b;
    return 0;
}

static int load_bridge(tp_toml_t *doc, tp_bridge_config_t *c)
{
    static const char *const keys[] = { "instance_id", "role", "payload_channel", "payload_stream_id",
        "control_channel", "control_stream_id", "metadata_channel", "metadata_stream_id", "source_metadata_stream_id",
        "mtu_bytes", "chunk_bytes", "max_chunk_bytes", "max_payload_bytes", "integrity_crc32c", "dest_stream_id_range",
        "forward_metadata", "forward_tracelink", "forward_qos", "forward_progress", "assembly_timeout_ms",
        "max_inflight_frames", "send_timeout_ms", "announce_forward_ms" };
    const tp_toml_value_t *t = NULL;
    if (tp_toml_get_table(doc, NULL, "bridge", &t) < 0)
    {
        return -1;
    }
    if (NULL == t)
    {
        return tp_err_set(TP_ERR_CONFIG, "%s: [bridge] table is missing (required keys: instance_id, "
            "payload_channel, payload_stream_id, control_channel, control_stream_id)", tp_toml_name(doc));
    }
    char role[16] = "both";
    if (tp_toml_check_keys(doc, t, keys, COUNT_OF(keys), "bridge") < 0 || require(doc, "bridge.instance_id") < 0 ||
        get_str(doc, "bridge.instance_id", c->instance_id, sizeof(c->instance_id)) < 0 ||
        get_str(doc, "bridge.role", role, sizeof(role)) < 0 || require(doc, "bridge.payload_channel") < 0 ||
        get_channel(doc, "bridge.payload_channel", c->payload_channel, sizeof(c->payload_channel)) < 0 ||
        require(doc, "bridge.payload_stream_id") < 0 ||
        tp_toml_get_u32(doc, NULL, "bridge.payload_stream_id", &c->payload_stream_id, 0) < 0 ||
        require(doc, "bridge.control_channel") < 0 ||
        get_channel(doc, "bridge.control_channel", c->control_channel, sizeof(c->control_channel)) < 0 ||
        require(doc, "bridge.control_stream_id") < 0 ||
        tp_toml_get_u32(doc, NULL, "bridge.control_stream_id", &c->control_stream_id, 0) < 0 ||
        get_channel(doc, "bridge.metadata_channel", c->metadata_channel, sizeof(c->metadata_channel)) < 0 ||
        tp_toml_get_u32(doc, NULL, "bridge.metadata_stream_id", &c->metadata_stream_id, 0) < 0 ||
        tp_toml_get_u32(doc, NULL, "bridge.source_metadata_stream_id", &c->source_metadata_stream_id,
            c->source_metadata_stream_id) < 0 ||
        tp_toml_get_u32(doc, NULL, "bridge.mtu_bytes", &c->mtu_bytes, 0) < 0 ||
        tp_toml_get_u32(doc, NULL, "bridge.chunk_bytes", &c->chunk_bytes, 0) < 0 ||
        tp_toml_get_u32(doc, NULL, "bridge.max_chunk_bytes", &c->max_chunk_bytes, c->max_chunk_bytes) < 0 ||
        tp_toml_get_u32(doc, NULL, "bridge.max_payload_bytes", &c->max_payload_bytes, c->max_payload_bytes) < 0 ||
        tp_toml_get_bool(doc, NULL, "bridge.integrity_crc32c", &c->integrity_crc32c, false) < 0 ||
        tp_toml_get_bool(doc, NULL, "bridge.forward_metadata", &c->forward_metadata, true) < 0 ||
        tp_toml_get_bool(doc, NULL, "bridge.forward_tracelink", &c->forward_tracelink, false) < 0 ||
        tp_toml_get_bool(doc, NULL, "bridge.forward_qos", &c->forward_qos, false) < 0 ||
        tp_toml_get_bool(doc, NULL, "bridge.forward_progress", &c->forward_progress, false) < 0 ||
        tp_toml_get_u32(doc, NULL, "bridge.assembly_timeout_ms", &c->assembly_timeout_ms, c->assembly_timeout_ms) < 0 ||
        tp_toml_get_u32(doc, NULL, "bridge.max_inflight_frames", &c->max_inflight_frames, c->max_inflight_frames) < 0 ||
        tp_toml_get_u32(doc, NULL, "bridge.send_timeout_ms", &c->send_timeout_ms, c->send_timeout_ms) < 0 ||
        tp_toml_get_u32(doc, NULL, "bridge.announce_forward_ms", &c->announce_forward_ms, c->announce_forward_ms) < 0 ||
        load_range(doc, c) < 0)
    {
        return -1;
    }
    c->forward_metadata_set = NULL != tp_toml_lookup(tp_toml_root(doc), "bridge.forward_metadata");
    const tp_toml_value_t *root = tp_toml_root(doc);
    if (0 == strcmp(role, "sender"))
    {
        c->role = TP_BRIDGE_ROLE_SENDER;
    }
    else if (0 == strcmp(role, "receiver"))
    {
        c->role = TP_BRIDGE_ROLE_RECEIVER;
    }
    else if (0 == strcmp(role, "both"))
    {
        c->role = TP_BRIDGE_ROLE_BOTH;
    }
    else
    {
        return tp_toml_value_error(doc, tp_toml_lookup(root, "bridge.role"),
            "expected \"sender\", \"receiver\" or \"both\", got \"%s\"", role);
    }
    if ('\0' == c->instance_id[0])
    {
        return tp_toml_value_error(doc, tp_toml_lookup(root, "bridge.instance_id"), "must not be empty");
    }
    static const char *const nonzero[] = { "bridge.payload_stream_id", "bridge.control_stream_id" };
    const uint32_t nz_values[] = { c->payload_stream_id, c->control_stream_id };
    for (size_t i = 0; i < COUNT_OF(nonzero); i++)
    {
        if (0 == nz_values[i])
        {
            return tp_toml_value_error(doc, tp_toml_lookup(root, nonzero[i]), "must be a non-zero stream id");
        }
    }
    if ('\0' == c->payload_channel[0] || '\0' == c->control_channel[0])
    {
        return tp_err_set(TP_ERR_CONFIG, "%s: bridge.payload_channel and bridge.control_channel must not be empty",
            tp_toml_name(doc));
    }
    if (0 == c->mtu_bytes)
    {
        const char *m = strstr(c->payload_channel, "mtu=");
        c->mtu_bytes = NULL != m ? (uint32_t)strtoul(m + 4, NULL, 10) : 1408u;
    }
    if (c->mtu_bytes < 512 || c->mtu_bytes > 65504)
    {
        return tp_toml_value_error(doc, NULL != tp_toml_lookup(root, "bridge.mtu_bytes") ?
            tp_toml_lookup(root, "bridge.mtu_bytes") : tp_toml_lookup(root, "bridge.payload_channel"),
            "MTU %u outside 512..65504", c->mtu_bytes);
    }
    if (0 == c->max_chunk_bytes || c->max_chunk_bytes > 65535)
    {
        return tp_toml_value_error(doc, tp_toml_lookup(root, "bridge.max_chunk_bytes"), "must be 1..65535");
    }
    if (0 == c->max_payload_bytes || c->max_payload_bytes > 1073741824u)
    {
        return tp_toml_value_error(doc, tp_toml_lookup(root, "bridge.max_payload_bytes"), "must be 1..1073741824");
    }
    if (0 == c->assembly_timeout_ms)
    {
        return tp_toml_value_error(doc, tp_toml_lookup(root, "bridge.assembly_timeout_ms"),
            "must be > 0 (recommended 100-500)");
    }
    if (0 == c->max_inflight_frames || c->max_inflight_frames > 1024)
    {
        return tp_toml_value_error(doc, tp_toml_lookup(root, "bridge.max_inflight_frames"), "must be 1..1024");
    }
    if (0 == c->announce_forward_ms)
    {
        return tp_toml_value_error(doc, tp_toml_lookup(root, "bridge.announce_forward_ms"), "must be > 0");
    }
    bool meta_transport = '\0' != c->metadata_channel[0] && 0 != c->metadata_stream_id;
    if (c->forward_metadata && c->forward_metadata_set && !meta_transport)
    {
        return tp_toml_value_error(doc, tp_toml_lookup(root, "bridge.forward_metadata"),
            "true needs bridge.metadata_channel and a non-zero bridge.metadata_stream_id (spec §7.1)");
    }
    if (c->forward_tracelink && !meta_transport)
    {
        return tp_toml_value_error(doc, tp_toml_lookup(root, "bridge.forward_tracelink"),
            "true needs bridge.metadata_channel and a non-zero bridge.metadata_stream_id (spec §7.1)");
    }
    if (!meta_transport)
    {
        c->forward_metadata = false;
    }
    /* §2.3: on a shared channel the stream ids must tell payload, control and metadata apart. */
    if (0 == strcmp(c->payload_channel, c->control_channel) && c->payload_stream_id == c->control_stream_id)
    {
        return tp_toml_value_error(doc, tp_toml_lookup(root, "bridge.control_stream_id"),
            "equals bridge.payload_stream_id on the same channel");
    }
    if (meta_transport && ((0 == strcmp(c->metadata_channel, c->payload_channel) &&
        c->metadata_stream_id == c->payload_stream_id) ||
        (0 == strcmp(c->metadata_channel, c->control_channel) && c->metadata_stream_id == c->control_stream_id)))
    {
        return tp_toml_value_error(doc, tp_toml_lookup(root, "bridge.metadata_stream_id"),
            "equals the payload or control stream id on the same channel");
    }
    return 0;
}

static int load_local(tp_toml_t *doc, tp_bridge_config_t *c)
{
    static const char *const keys[] = { "transport", "transport_dir", "shm_base_dir", "namespace", "driver_mode",
        "channel", "control_stream_id", "announce_stream_id", "descriptor_stream_id", "qos_stream_id",
        "metadata_stream_id", "announce_period_ms" };
    const tp_toml_value_t *t = NULL;
    if (tp_toml_get_table(doc, NULL, "local", &t) < 0 || tp_toml_check_keys(doc, t, keys, COUNT_OF(keys), "local") < 0 ||
        get_str(doc, "local.transport", c->transport_backend, sizeof(c->transport_backend)) < 0 ||
        get_str(doc, "local.transport_dir", c->transport_dir, sizeof(c->transport_dir)) < 0 ||
        get_str(doc, "local.shm_base_dir", c->shm_base_dir, sizeof(c->shm_base_dir)) < 0 ||
        get_str(doc, "local.namespace", c->namespace_name, sizeof(c->namespace_name)) < 0 ||
        tp_toml_get_bool(doc, NULL, "local.driver_mode", &c->driver_mode, false) < 0 ||
        get_channel(doc, "local.channel", c->local_channel, sizeof(c->local_channel)) < 0 ||
        tp_toml_get_u32(doc, NULL, "local.control_stream_id", &c->local_control_stream_id, 1000) < 0 ||
        tp_toml_get_u32(doc, NULL, "local.announce_stream_id", &c->local_announce_stream_id, 0) < 0 ||
        tp_toml_get_u32(doc, NULL, "local.descriptor_stream_id", &c->local_descriptor_stream_id, 1100) < 0 ||
        tp_toml_get_u32(doc, NULL, "local.qos_stream_id", &c->local_qos_stream_id, 1200) < 0 ||
        tp_toml_get_u32(doc, NULL, "local.metadata_stream_id", &c->local_metadata_stream_id, 1300) < 0 ||
        tp_toml_get_u32(doc, NULL, "local.announce_period_ms", &c->announce_period_ms, 1000) < 0)
    {
        return -1;
    }
    if (0 != strcmp(c->transport_backend, "embedded") && 0 != strcmp(c->transport_backend, "aeron"))
    {
        return tp_toml_value_error(doc, tp_toml_lookup(tp_toml_root(doc), "local.transport"),
            "must be \"embedded\" or \"aeron\", got \"%s\"", c->transport_backend);
    }
    if (0 == c->local_announce_stream_id)
    {
        c->local_announce_stream_id = c->local_control_stream_id;
    }
    if (0 == c->source_metadata_stream_id)
    {
        c->source_metadata_stream_id = c->local_metadata_stream_id;
    }
    if (0 == c->local_control_stream_id || 0 == c->local_descriptor_stream_id || 0 == c->local_qos_stream_id ||
        0 == c->local_metadata_stream_id || 0 == c->announce_period_ms)
    {
        return tp_err_set(TP_ERR_CONFIG, "%s: [local]: stream ids and announce_period_ms must be non-zero",
            tp_toml_name(doc));
    }
    return 0;
}

static int load_profiles(tp_toml_t *doc, tp_bridge_config_t *c)
{
    const tp_toml_value_t *profiles = tp_toml_lookup(tp_toml_root(doc), "profiles");
    if (NULL == profiles)
    {
        return 0;
    }
    if (TP_TOML_TABLE != tp_toml_type(profiles))
    {
        return tp_toml_value_error(doc, profiles, "expected a table of profiles");
    }
    size_t n = tp_toml_table_size(profiles);
    if (n > TP_BRIDGE_MAX_PROFILES)
    {
        return tp_toml_value_error(doc, profiles, "at most %d profiles", TP_BRIDGE_MAX_PROFILES);
    }
    for (size_t i = 0; i < n; i++)
    {
        const char *name = tp_toml_table_key(profiles, i);
        const tp_toml_value_t *p = tp_toml_table_value(profiles, i);
        tp_bridge_profile_t *out = &c->profiles[i];
        static const char *const keys[] = { "header_nslots", "pool_strides" };
        char path[TP_BRIDGE_NAME_MAX + 16];
        snprintf(path, sizeof(path), "profiles.%s", name);
        if (TP_TOML_TABLE != tp_toml_type(p))
        {
            return tp_toml_value_error(doc, p, "expected a table (a profile)");
        }
        if (strlen(name) >= sizeof(out->name) || 0 == strcmp(name, "mirror"))
        {
            return tp_toml_value_error(doc, p, "profile name too long or reserved (\"mirror\")");
        }
        const tp_toml_value_t *strides = NULL;
        if (tp_toml_check_keys(doc, p, keys, COUNT_OF(keys), path) < 0 ||
            tp_toml_get_u32(doc, p, "header_nslots", &out->header_nslots, 1024) < 0 ||
            tp_toml_require(doc, p, "pool_strides") < 0 || tp_toml_get_array(doc, p, "pool_strides", &strides) < 0)
        {
            return -1;
        }
        if (0 == out->header_nslots || 0 != (out->header_nslots & (out->header_nslots - 1)))
        {
            return tp_toml_value_error(doc, tp_toml_table_get(p, "header_nslots"), "must be a power of two");
        }
        size_t k = tp_toml_array_size(strides);
        if (0 == k || k > TP_BRIDGE_PROFILE_MAX_POOLS)
        {
            return tp_toml_value_error(doc, strides, "expected 1..%d pool strides", TP_BRIDGE_PROFILE_MAX_POOLS);
        }
        for (size_t j = 0; j < k; j++)
        {
            uint64_t v = 0;
            if (tp_toml_integer_u64(tp_toml_array_at(strides, j), &v) < 0 || 0 == v || 0 != v % 64 ||
                v > 1073741824u)
            {
                return tp_toml_value_error(doc, tp_toml_array_at(strides, j),
                    "a pool stride must be a non-zero multiple of 64 up to 1 GiB");
            }
            out->strides[j] = (uint32_t)v;
        }
        out->pool_count = (uint32_t)k;
        snprintf(out->name, sizeof(out->name), "%s", name);
    }
    c->profile_count = n;
    return 0;
}

static bool id_reserved(const tp_bridge_config_t *c, uint32_t id)
{
    const uint32_t fixed[] = { c->local_control_stream_id, c->local_announce_stream_id, c->local_descriptor_stream_id,
        c->local_qos_stream_id, c->local_metadata_stream_id, c->payload_stream_id, c->control_stream_id,
        c->metadata_stream_id, c->source_metadata_stream_id };
    for (size_t i = 0; i < COUNT_OF(fixed); i++)
    {
        if (fixed[i] == id)
        {
            return true;
        }
    }
    for (size_t i = 0; i < c->mapping_count; i++)
    {
        const tp_bridge_mapping_config_t *m = &c->mappings[i];
        if (m->source_stream_id == id || m->dest_stream_id == id || m->metadata_stream_id == id ||
            m->source_control_stream_id == id || m->dest_control_stream_id == id)
        {
            return true;
        }
    }
    return false;
}

static int load_mappings(tp_toml_t *doc, tp_bridge_config_t *c)
{
    const tp_toml_value_t *arr = NULL;
    if (tp_toml_require(doc, NULL, "mappings") < 0 || tp_toml_get_array(doc, NULL, "mappings", &arr) < 0)
    {
        return -1;
    }
    size_t n = tp_toml_array_size(arr);
    if (0 == n || n > TP_BRIDGE_MAX_MAPPINGS)
    {
        return tp_toml_value_error(doc, arr, "expected 1..%d [[mappings]]", TP_BRIDGE_MAX_MAPPINGS);
    }
    for (size_t i = 0; i < n; i++)
    {
        const tp_toml_value_t *e = tp_toml_array_at(arr, i);
        tp_bridge_mapping_config_t *m = &c->mappings[i];
        static const char *const keys[] = { "source_stream_id", "dest_stream_id", "profile", "metadata_stream_id",
            "source_control_stream_id", "dest_control_stream_id" };
        if (TP_TOML_TABLE != tp_toml_type(e))
        {
            return tp_toml_value_error(doc, e, "expected a table ([[mappings]])");
        }
        const char *profile = NULL;
        if (tp_toml_check_keys(doc, e, keys, COUNT_OF(keys), "mappings") < 0 ||
            tp_toml_require(doc, e, "source_stream_id") < 0 ||
            tp_toml_get_u32(doc, e, "source_stream_id", &m->source_stream_id, 0) < 0 ||
            tp_toml_get_u32(doc, e, "dest_stream_id", &m->dest_stream_id, 0) < 0 ||
            tp_toml_get_string(doc, e, "profile", &profile, "mirror") < 0 ||
            tp_toml_get_u32(doc, e, "metadata_stream_id", &m->metadata_stream_id, 0) < 0 ||
            tp_toml_get_u32(doc, e, "source_control_stream_id", &m->source_control_stream_id, 0) < 0 ||
            tp_toml_get_u32(doc, e, "dest_control_stream_id", &m->dest_control_stream_id, 0) < 0)
        {
            return -1;
        }
        if (0 == m->source_stream_id)
        {
            return tp_toml_value_error(doc, tp_toml_table_get(e, "source_stream_id"), "must be non-zero");
        }
        m->profile_index = -1;
        snprintf(m->profile, sizeof(m->profile), "%s", profile);
        if (0 != strcmp(profile, "mirror"))
        {
            for (size_t k = 0; k < c->profile_count; k++)
            {
                if (0 == strcmp(c->profiles[k].name, profile))
                {
                    m->profile_index = (int)k;
                }
            }
            if (m->profile_index < 0)
            {
                return tp_toml_value_error(doc, tp_toml_table_get(e, "profile"),
                    "unknown profile \"%s\" (use \"mirror\" or define [profiles.%s])", profile, profile);
            }
        }
        if (c->forward_progress && (0 == m->source_control_stream_id || 0 == m->dest_control_stream_id))
        {
            return tp_toml_value_error(doc, e, "bridge.forward_progress = true needs non-zero source_control_stream_id "
                "and dest_control_stream_id in every mapping (spec §9)");
        }
        m->forward_metadata = c->forward_metadata;
        m->forward_tracelink = c->forward_tracelink;
        m->forward_progress = c->forward_progress;
        m->forward_qos = c->forward_qos && 0 != m->source_control_stream_id && 0 != m->dest_control_stream_id;
        for (size_t k = 0; k < i; k++)
        {
            if (c->mappings[k].source_stream_id == m->source_stream_id)
            {
                return tp_toml_value_error(doc, e, "source_stream_id %u is mapped twice", m->source_stream_id);
            }
            if (0 != m->dest_stream_id && c->mappings[k].dest_stream_id == m->dest_stream_id)
            {
                return tp_toml_value_error(doc, e, "dest_stream_id %u is used by two mappings", m->dest_stream_id);
            }
        }
        c->mapping_count = i + 1;
    }
    /* §2.3: no feedback loops on one instance: a destination may not be a bridged source. */
    for (size_t i = 0; i < n; i++)
    {
        for (size_t k = 0; k < n; k++)
        {
            if (0 != c->mappings[i].dest_stream_id && c->mappings[i].dest_stream_id == c->mappings[k].source_stream_id)
            {
                return tp_toml_value_error(doc, tp_toml_array_at(arr, i),
                    "dest_stream_id %u is also a source_stream_id: a feedback loop", c->mappings[i].dest_stream_id);
            }
        }
    }
    /* §4: dest_stream_id 0 allocates from bridge.dest_stream_id_range, avoiding every configured stream id. */
    if (c->range_set)
    {
        for (uint32_t id = c->range_first;; id++)
        {
            if (id_reserved(c, id))
            {
                const tp_toml_value_t *v = tp_toml_lookup(tp_toml_root(doc), "bridge.dest_stream_id_range");
                return tp_toml_value_error(doc, v, "overlaps stream id %u used by the configuration (local streams, "
                    "bridge streams or a mapping)", id);
            }
            if (id == c->range_last)
            {
                break;
            }
        }
    }
    uint32_t next = c->range_first;
    for (size_t i = 0; i < n; i++)
    {
        tp_bridge_mapping_config_t *m = &c->mappings[i];
        if (0 != m->dest_stream_id)
        {
            continue;
        }
        if (!c->range_set)
        {
            return tp_toml_value_error(doc, tp_toml_array_at(arr, i),
                "dest_stream_id is 0 or missing and bridge.dest_stream_id_range is not set");
        }
        if (next > c->range_last || next < c->range_first)
        {
            return tp_toml_value_error(doc, tp_toml_lookup(tp_toml_root(doc), "bridge.dest_stream_id_range"),
                "exhausted: more mappings with dest_stream_id = 0 than ids in the range");
        }
        m->dest_stream_id = next++;
        m->dest_allocated = true;
    }
    for (size_t i = 0; i < n; i++)
    {
        if (0 == c->mappings[i].metadata_stream_id)
        {
            c->mappings[i].metadata_stream_id = c->mappings[i].dest_stream_id;
        }
    }
    return 0;
}

static int load_doc(tp_bridge_config_t *c, tp_toml_t *doc)
{
    static const char *const top[] = { "bridge", "local", "mappings", "profiles" };
    int rc = (tp_toml_check_keys(doc, tp_toml_root(doc), top, COUNT_OF(top), "") == 0 && load_local(doc, c) == 0 &&
        load_bridge(doc, c) == 0 && load_profiles(doc, c) == 0 && load_mappings(doc, c) == 0) ? 0 : -1;
    tp_toml_free(doc);
    return rc;
}

int tp_bridge_config_load_string(tp_bridge_config_t *c, const char *text, size_t len, const char *name)
{
    tp_toml_t *doc = NULL;
    if (NULL == c || tp_toml_parse_string(text, len, name, &doc) < 0)
    {
        return NULL == c ? tp_err_set(TP_ERR_INVALID_ARGUMENT, "bridge config: NULL argument") : -1;
    }
    return load_doc(c, doc);
}

int tp_bridge_config_load_file(tp_bridge_config_t *c, const char *path)
{
    tp_toml_t *doc = NULL;
    if (NULL == c || tp_toml_parse_file(path, &doc) < 0)
    {
        return NULL == c ? tp_err_set(TP_ERR_INVALID_ARGUMENT, "bridge config: NULL argument") : -1;
    }
    return load_doc(c, doc);
}
