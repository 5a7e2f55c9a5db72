/*
 * Rate limiter configuration (RateLimiter spec §8): defaults, the strict TOML
 * loader, validation and printing. Keys: docs/RATELIMITER.md.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/tp_error.h"
#include "common/tp_toml.h"
#include "common/tp_toml_pool.h"
#include "ratelimit/tp_ratelimit.h"

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

void tp_ratelimit_mapping_defaults(tp_ratelimit_mapping_config_t *m)
{
    memset(m, 0, sizeof(*m));
    m->per_consumer = true;
    m->header_nslots = 256;
    m->pool_count = 1;
    m->pools[0].pool_id = 1;
    m->pools[0].stride_bytes = 65536;
}

void tp_ratelimit_config_init(tp_ratelimit_config_t *c)
{
    memset(c, 0, sizeof(*c));
    c->forward_metadata = true;
    snprintf(c->control_channel, sizeof(c->control_channel), "%s", TP_RATELIMIT_DEFAULT_CHANNEL);
    snprintf(c->qos_channel, sizeof(c->qos_channel), "%s", TP_RATELIMIT_DEFAULT_CHANNEL);
}

static int validate_mapping(const tp_ratelimit_config_t *c, size_t i, size_t count);

typedef struct loader_stct
{
    tp_toml_t *doc;
    tp_ratelimit_config_t *c;
} loader_t;

static int get_str(loader_t *l, const tp_toml_value_t *table, const char *key, char *dst, size_t cap)
{
    const char *s = NULL;
    if (tp_toml_get_string(l->doc, table, key, &s, dst) < 0)
    {
        return -1;
    }
    if (strlen(s) >= cap)
    {
        return tp_toml_value_error(l->doc, tp_toml_lookup(table ? table : tp_toml_root(l->doc), key),
            "longer than %zu bytes", cap - 1);
    }
    if (s != dst)
    {
        memmove(dst, s, strlen(s) + 1);
    }
    return 0;
}

static int load_rate_limiter(loader_t *l)
{
    tp_ratelimit_config_t *c = l->c;
    const tp_toml_value_t *t = NULL;
    static const char *const keys[] = { "instance_id", "descriptor_channel", "descriptor_stream_id",
        "forward_metadata", "forward_progress", "forward_qos", "max_rate_hz", "control_channel",
        "source_control_stream_id", "dest_control_stream_id", "qos_channel", "source_qos_stream_id",
        "dest_qos_stream_id", "shm_base_dir", "driver_control_channel", "driver_control_stream_id" };
    if (tp_toml_get_table(l->doc, NULL, "rate_limiter", &t) < 0)
    {
        return -1;
    }
    if (NULL == t)
    {
        return tp_err_set(TP_ERR_CONFIG, "%s:1: rate_limiter: required table is missing", tp_toml_name(l->doc));
    }
    if (tp_toml_check_keys(l->doc, t, keys, COUNT_OF(keys), "rate_limiter") < 0 ||
        tp_toml_require(l->doc, t, "instance_id") < 0 || tp_toml_require(l->doc, t, "descriptor_channel") < 0 ||
        tp_toml_require(l->doc, t, "descriptor_stream_id") < 0 ||
        get_str(l, t, "instance_id", c->instance_id, sizeof(c->instance_id)) < 0 ||
        get_str(l, t, "descriptor_channel", c->descriptor_channel, sizeof(c->descriptor_channel)) < 0 ||
        tp_toml_get_u32(l->doc, t, "descriptor_stream_id", &c->descriptor_stream_id, c->descriptor_stream_id) < 0 ||
        tp_toml_get_bool(l->doc, t, "forward_metadata", &c->forward_metadata, c->forward_metadata) < 0 ||
        tp_toml_get_bool(l->doc, t, "forward_progress", &c->forward_progress, c->forward_progress) < 0 ||
        tp_toml_get_bool(l->doc, t, "forward_qos", &c->forward_qos, c->forward_qos) < 0 ||
        tp_toml_get_u32(l->doc, t, "max_rate_hz", &c->max_rate_hz, c->max_rate_hz) < 0 ||
        get_str(l, t, "control_channel", c->control_channel, sizeof(c->control_channel)) < 0 ||
        tp_toml_get_u32(l->doc, t, "source_control_stream_id", &c->source_control_stream_id,
            c->source_control_stream_id) < 0 ||
        tp_toml_get_u32(l->doc, t, "dest_control_stream_id", &c->dest_control_stream_id, c->dest_control_stream_id) < 0 ||
        get_str(l, t, "qos_channel", c->qos_channel, sizeof(c->qos_channel)) < 0 ||
        tp_toml_get_u32(l->doc, t, "source_qos_stream_id", &c->source_qos_stream_id, c->source_qos_stream_id) < 0 ||
        tp_toml_get_u32(l->doc, t, "dest_qos_stream_id", &c->dest_qos_stream_id, c->dest_qos_stream_id) < 0 ||
        get_str(l, t, "shm_base_dir", c->shm_base_dir, sizeof(c->shm_base_dir)) < 0 ||
        get_str(l, t, "driver_control_channel", c->driver_control_channel, sizeof(c->driver_control_channel)) < 0 ||
        tp_toml_get_u32(l->doc, t, "driver_control_stream_id", &c->driver_control_stream_id,
            c->driver_control_stream_id) < 0)
    {
        return -1;
    }
    return 0;
}

static int load_pools(loader_t *l, const tp_toml_value_t *pools, tp_ratelimit_mapping_config_t *m)
{
    size_t n = tp_toml_array_size(pools);
    if (0 == n || n > TP_PRODUCER_MAX_POOLS)
    {
        return tp_toml_value_error(l->doc, pools, "expected 1..%d pools", TP_PRODUCER_MAX_POOLS);
    }
    for (size_t k = 0; k < n; k++)
    {
        const tp_toml_value_t *e = tp_toml_array_at(pools, k);
        if (tp_toml_get_pool_entry(l->doc, e, &m->pools[k].pool_id, &m->pools[k].stride_bytes) < 0)
        {
            return -1;
        }
        if (0 == m->pools[k].pool_id)
        {
            return tp_toml_value_error(l->doc, e, "pool_id must be >= 1");
        }
        if (0 == m->pools[k].stride_bytes || 0 != m->pools[k].stride_bytes % 64)
        {
            return tp_toml_value_error(l->doc, e, "stride_bytes must be a non-zero multiple of 64, got %u",
                m->pools[k].stride_bytes);
        }
        for (size_t j = 0; j < k; j++)
        {
            if (m->pools[j].pool_id == m->pools[k].pool_id)
            {
                return tp_toml_value_error(l->doc, e, "duplicate pool_id %u", m->pools[k].pool_id);
            }
        }
    }
    m->pool_count = n;
    return 0;
}

static int load_mappings(loader_t *l)
{
    const tp_toml_value_t *arr = NULL;
    if (tp_toml_get_array(l->doc, NULL, "mappings", &arr) < 0)
    {
        return -1;
    }
    if (NULL == arr || 0 == tp_toml_array_size(arr))
    {
        return tp_err_set(TP_ERR_CONFIG, "%s:%u: mappings: at least one [[mappings]] entry is required",
            tp_toml_name(l->doc), arr ? tp_toml_value_line(arr) : 1u);
    }
    size_t n = tp_toml_array_size(arr);
    if (n > TP_RATELIMIT_MAX_MAPPINGS)
    {
        return tp_toml_value_error(l->doc, arr, "at most %d mappings per instance", TP_RATELIMIT_MAX_MAPPINGS);
    }
    for (size_t i = 0; i < n; i++)
    {
        const tp_toml_value_t *e = tp_toml_array_at(arr, i);
        if (TP_TOML_TABLE != tp_toml_type(e))
        {
            return tp_toml_value_error(l->doc, e, "expected a table ([[mappings]])");
        }
        static const char *const keys[] = { "source_stream_id", "dest_stream_id", "max_rate_hz",
            "metadata_stream_id", "per_consumer", "header_nslots", "payload_pools" };
        tp_ratelimit_mapping_config_t *m = &l->c->mappings[i];
        tp_ratelimit_mapping_defaults(m);
        const tp_toml_value_t *pools = NULL;
        if (tp_toml_check_keys(l->doc, e, keys, COUNT_OF(keys), NULL) < 0 ||
            tp_toml_require(l->doc, e, "source_stream_id") < 0 || tp_toml_require(l->doc, e, "dest_stream_id") < 0 ||
            tp_toml_get_u32(l->doc, e, "source_stream_id", &m->source_stream_id, 0) < 0 ||
            tp_toml_get_u32(l->doc, e, "dest_stream_id", &m->dest_stream_id, 0) < 0 ||
            tp_toml_get_u32(l->doc, e, "max_rate_hz", &m->max_rate_hz, 0) < 0 ||
            tp_toml_get_u32(l->doc, e, "metadata_stream_id", &m->metadata_stream_id, 0) < 0 ||
            tp_toml_get_bool(l->doc, e, "per_consumer", &m->per_consumer, true) < 0 ||
            tp_toml_get_u32(l->doc, e, "header_nslots", &m->header_nslots, m->header_nslots) < 0 ||
            tp_toml_get_array(l->doc, e, "payload_pools", &pools) < 0)
        {
            return -1;
        }
        m->max_rate_set = NULL != tp_toml_table_get(e, "max_rate_hz");
        if (NULL != pools && load_pools(l, pools, m) < 0)
        {
            return -1;
        }
        l->c->mapping_count = i + 1;
        /* the mapping against itself and the ones before it, so that the error carries its line */
        if (validate_mapping(l->c, i, i + 1) < 0)
        {
            return tp_err_prepend("%s:%u", tp_toml_name(l->doc), tp_toml_value_line(e));
        }
    }
    return 0;
}

static int load_doc(tp_ratelimit_config_t *config, tp_toml_t *doc)
{
    tp_toml_set_env(doc, tp_toml_env_getenv, NULL); /* RATE_LIMITER_MAX_RATE_HZ overrides rate_limiter.max_rate_hz */
    static const char *const top[] = { "rate_limiter", "mappings" };
    tp_ratelimit_config_t work = *config;
    work.mapping_count = 0;
    loader_t l = { .doc = doc, .c = &work };
    if (tp_toml_check_keys(doc, tp_toml_root(doc), top, COUNT_OF(top), "") < 0 || load_rate_limiter(&l) < 0 ||
        load_mappings(&l) < 0)
    {
        return -1;
    }
    if (tp_ratelimit_config_validate(&work) < 0)
    {
        return tp_err_prepend("%s", tp_toml_name(doc));
    }
    *config = work;
    return 0;
}

int tp_ratelimit_config_load_string(tp_ratelimit_config_t *config, const char *text, size_t len, const char *name)
{
    if (NULL == config || NULL == text)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_ratelimit_config_load_string: NULL argument");
    }
    tp_toml_t *doc = NULL;
    if (tp_toml_parse_string(text, len, name, &doc) < 0)
    {
        return -1;
    }
    int rc = load_doc(config, doc);
    tp_toml_free(doc);
    return rc;
}

int tp_ratelimit_config_load_file(tp_ratelimit_config_t *config, const char *path)
{
    if (NULL == config || NULL == path)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_ratelimit_config_load_file: NULL argument");
    }
    tp_toml_t *doc = NULL;
    if (tp_toml_parse_file(path, &doc) < 0)
    {
        return -1;
    }
    int rc = load_doc(config, doc);
    tp_toml_free(doc);
    return rc;
}

static bool is_pow2(uint32_t v)
{
    return v && 0 == (v & (v - 1));
}

/* Mapping `i` against mappings [0, count) (count > i). Returns 0 or -1 (TP_ERR_CONFIG naming mappings[i]). */
static int validate_mapping(const tp_ratelimit_config_t *c, size_t i, size_t count)
{
    const tp_ratelimit_mapping_config_t *m = &c->mappings[i];
    uint32_t meta_id = m->metadata_stream_id ? m->metadata_stream_id : m->dest_stream_id;
    if (0 == m->source_stream_id || 0 == m->dest_stream_id)
    {
        return tp_err_set(TP_ERR_CONFIG, "mappings[%zu]: source_stream_id and dest_stream_id must be non-zero", i);
    }
    if (!is_pow2(m->header_nslots))
    {
        return tp_err_set(TP_ERR_CONFIG, "mappings[%zu].header_nslots: must be a power of two, got %u", i,
            m->header_nslots);
    }
    if (0 == m->pool_count || m->pool_count > TP_PRODUCER_MAX_POOLS)
    {
        return tp_err_set(TP_ERR_CONFIG, "mappings[%zu].payload_pools: expected 1..%d pools", i,
            TP_PRODUCER_MAX_POOLS);
    }
    for (size_t j = 0; j < count; j++)
    {
        const tp_ratelimit_mapping_config_t *o = &c->mappings[j];
        if (m->dest_stream_id == o->source_stream_id || meta_id == o->source_stream_id)
        {
            /* §3: never publish for a source stream (and never feed our own output back in) */
            return tp_err_set(TP_ERR_CONFIG, "mappings[%zu]: destination/metadata stream id %u is the source "
                "stream of mappings[%zu]; a rate limiter publishes only on distinct destination streams", i,
                m->dest_stream_id == o->source_stream_id ? m->dest_stream_id : meta_id, j);
        }
        if (j < i && m->dest_stream_id == o->dest_stream_id)
        {
            return tp_err_set(TP_ERR_CONFIG, "mappings[%zu]: dest_stream_id %u is also the destination of "
                "mappings[%zu] (one producer per destination stream)", i, m->dest_stream_id, j);
        }
        if (j < i && m->source_stream_id == o->source_stream_id)
        {
            /* §4: one policy per instance and source; more policies are more instances */
            return tp_err_set(TP_ERR_CONFIG, "mappings[%zu]: source_stream_id %u is already mapped by "
                "mappings[%zu]; use a second rate limiter instance for a second policy", i, m->source_stream_id,
                j);
        }
    }
    return 0;
}

int tp_ratelimit_config_validate(const tp_ratelimit_config_t *c)
{
    if (NULL == c)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_ratelimit_config_validate: NULL config");
    }
    if ('\0' == c->instance_id[0])
    {
        return tp_err_set(TP_ERR_CONFIG, "rate_limiter.instance_id: required, must not be empty");
    }
    if (0 != strncmp(c->descriptor_channel, "aeron:", 6))
    {
        return tp_err_set(TP_ERR_CONFIG, "rate_limiter.descriptor_channel: expected an aeron: channel URI, got \"%s\"",
            c->descriptor_channel);
    }
    if (0 == c->descriptor_stream_id)
    {
        return tp_err_set(TP_ERR_CONFIG, "rate_limiter.descriptor_stream_id: required, must be non-zero");
    }
    if (c->forward_progress && (0 == c->source_control_stream_id || 0 == c->dest_control_stream_id))
    {
        return tp_err_set(TP_ERR_CONFIG, "rate_limiter.forward_progress = true needs non-zero "
            "rate_limiter.source_control_stream_id and rate_limiter.dest_control_stream_id (got %u and %u)",
            c->source_control_stream_id, c->dest_control_stream_id);
    }
    if (c->forward_qos && (0 == c->source_qos_stream_id || 0 == c->dest_qos_stream_id))
    {
        return tp_err_set(TP_ERR_CONFIG, "rate_limiter.forward_qos = true needs non-zero "
            "rate_limiter.source_qos_stream_id and rate_limiter.dest_qos_stream_id (got %u and %u)",
            c->source_qos_stream_id, c->dest_qos_stream_id);
    }
    if (c->forward_progress && 0 != strncmp(c->control_channel, "aeron:", 6))
    {
        return tp_err_set(TP_ERR_CONFIG, "rate_limiter.control_channel: expected an aeron: channel URI");
    }
    if (c->forward_qos && 0 != strncmp(c->qos_channel, "aeron:", 6))
    {
        return tp_err_set(TP_ERR_CONFIG, "rate_limiter.qos_channel: expected an aeron: channel URI");
    }
    if (0 == c->mapping_count || c->mapping_count > TP_RATELIMIT_MAX_MAPPINGS)
    {
        return tp_err_set(TP_ERR_CONFIG, "mappings: expected 1..%d mappings, got %zu", TP_RATELIMIT_MAX_MAPPINGS,
            c->mapping_count);
    }
    for (size_t i = 0; i < c->mapping_count; i++)
    {
        if (validate_mapping(c, i, c->mapping_count) < 0)
        {
            return -1;
        }
    }
    return 0;
}

int tp_ratelimit_config_print(const tp_ratelimit_config_t *c, char *buf, size_t len)
{
    tp_toml_out_t o;
    tp_toml_out_init(&o, buf, len);
    tp_toml_outf(&o, "[rate_limiter]\n");
    tp_toml_out_kv_string(&o, "instance_id", c->instance_id);
    tp_toml_out_kv_string(&o, "descriptor_channel", c->descriptor_channel);
    tp_toml_outf(&o, "descriptor_stream_id = %u\nforward_metadata = %s\nforward_progress = %s\nforward_qos = %s\n"
             "max_rate_hz = %u\n",
        c->descriptor_stream_id, c->forward_metadata ? "true" : "false", c->forward_progress ? "true" : "false",
        c->forward_qos ? "true" : "false", c->max_rate_hz);
    tp_toml_out_kv_string(&o, "control_channel", c->control_channel);
    tp_toml_outf(&o, "source_control_stream_id = %u\ndest_control_stream_id = %u\n", c->source_control_stream_id,
        c->dest_control_stream_id);
    tp_toml_out_kv_string(&o, "qos_channel", c->qos_channel);
    tp_toml_outf(&o, "source_qos_stream_id = %u\ndest_qos_stream_id = %u\n", c->source_qos_stream_id, c->dest_qos_stream_id);
    tp_toml_out_kv_string(&o, "shm_base_dir", c->shm_base_dir);
    tp_toml_out_kv_string(&o, "driver_control_channel", c->driver_control_channel);
    tp_toml_outf(&o, "driver_control_stream_id = %u\n", c->driver_control_stream_id);
    for (size_t i = 0; i < c->mapping_count; i++)
    {
        const tp_ratelimit_mapping_config_t *m = &c->mappings[i];
        tp_toml_outf(&o, "\n[[mappings]]\nsource_stream_id = %u\ndest_stream_id = %u\n", m->source_stream_id,
            m->dest_stream_id);
        if (m->max_rate_set)
        {
            tp_toml_outf(&o, "max_rate_hz = %u\n", m->max_rate_hz); /* else inherited: printed without the key */
        }
        if (0 != m->metadata_stream_id)
        {
            tp_toml_outf(&o, "metadata_stream_id = %u\n", m->metadata_stream_id);
        }
        tp_toml_outf(&o, "per_consumer = %s\nheader_nslots = %u\npayload_pools = [", m->per_consumer ? "true" : "false",
            m->header_nslots);
        for (size_t k = 0; k < m->pool_count; k++)
        {
            tp_toml_outf(&o, "%s{ pool_id = %u, stride_bytes = %u }", k ? ", " : "", m->pools[k].pool_id,
                m->pools[k].stride_bytes);
        }
        tp_toml_outf(&o, "]\n");
    }
    return (int)o.used;
}
