/*
 * Driver configuration: defaults (Driver Model spec §17), TOML loading with
 * environment overrides, and validation. Keys: docs/DRIVER_CONFIG.md.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/tp_error.h"
#include "common/tp_toml.h"
#include "common/tp_toml_pool.h"
#include "driver/tp_driver_internal.h"

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

static void config_defaults(tp_driver_config_t *c)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->instance_id, sizeof(c->instance_id), "driver-01");
    tp_transport_context_t tctx;
    tp_transport_context_init(&tctx);
    snprintf(c->transport_backend, sizeof(c->transport_backend), "%s", tctx.backend);
    snprintf(c->transport_dir, sizeof(c->transport_dir), "%s", tctx.dir);
    snprintf(c->control_channel, sizeof(c->control_channel), "aeron:ipc?term-length=4m");
    c->control_stream_id = 1000;
    snprintf(c->announce_channel, sizeof(c->announce_channel), "%s", c->control_channel);
    c->announce_stream_id = 1000;
    snprintf(c->qos_channel, sizeof(c->qos_channel), "aeron:ipc?term-length=4m");
    c->qos_stream_id = 1200;
    snprintf(c->shm_base_dir, sizeof(c->shm_base_dir), "/dev/shm");
    snprintf(c->shm_namespace, sizeof(c->shm_namespace), "default");
    c->page_size_bytes = 4096;
    c->permissions_mode = 0660;
    c->announce_period_ms = 1000;
    c->lease_keepalive_interval_ms = 1000;
    c->lease_expiry_grace_intervals = 3;
    c->node_id_reuse_cooldown_ms = 10000;
    c->max_leases = TP_DRIVER_MAX_LEASES;
    c->prefault_shm = true;
    c->epoch_gc_enabled = true;
    c->epoch_gc_keep = 2;
    c->shutdown_timeout_ms = 2000;
    c->supervisor_consumer_stale_ms = 5000;
    tp_driver_discovery_config_defaults(c);
}

int tp_driver_config_init(tp_driver_config_t **out)
{
    if (NULL == out)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_driver_config_init: out must not be NULL");
    }
    tp_driver_config_t *c = malloc(sizeof(*c));
    if (NULL == c)
    {
        return tp_err_set(TP_ERR_NO_MEMORY, "tp_driver_config_init: out of memory");
    }
    config_defaults(c);
    *out = c;
    return 0;
}

int tp_driver_config_close(tp_driver_config_t *config)
{
    free(config);
    return 0;
}

int tp_driver_config_find_profile(const tp_driver_config_t *config, const char *name)
{
    for (size_t i = 0; i < config->profile_count; i++)
    {
        if (0 == strcmp(config->profiles[i].name, name))
        {
            return (int)i;
        }
    }
    return -1;
}

uint64_t tp_driver_config_gc_min_age_ns(const tp_driver_config_t *config)
{
    return 0 != config->epoch_gc_min_age_ns ? config->epoch_gc_min_age_ns
                                            : 3ull * config->announce_period_ms * 1000000ull;
}

/* ------------------------------------------------------------------------- */
/* Validation                                                                 */
/* ------------------------------------------------------------------------- */

static int profile_check(const char *name, uint32_t header_nslots, size_t pool_count, const uint16_t *ids,
    const uint32_t *strides)
{
    if (0 == header_nslots || 0 != (header_nslots & (header_nslots - 1)))
    {
        return tp_err_set(TP_ERR_CONFIG, "profiles.%s.header_nslots: must be a power of two > 0, got %u", name,
            header_nslots);
    }
    if (0 == pool_count)
    {
        return tp_err_set(TP_ERR_CONFIG,
            "profiles.%s.payload_pools: at least one pool is required (streams without pools are invalid in v1.0)",
            name);
    }
    if (pool_count > TP_DRIVER_MAX_POOLS)
    {
        return tp_err_set(TP_ERR_CONFIG, "profiles.%s.payload_pools: %zu pools, at most %d", name, pool_count,
            TP_DRIVER_MAX_POOLS);
    }
    for (size_t i = 0; i < pool_count; i++)
    {
        if (0 == strides[i] || 0 != strides[i] % 64)
        {
            return tp_err_set(TP_ERR_CONFIG,
                "profiles.%s.payload_pools[%zu].stride_bytes: must be a non-zero multiple of 64, got %u", name, i,
                strides[i]);
        }
        for (size_t j = 0; j < i; j++)
        {
            if (ids[j] == ids[i])
            {
                return tp_err_set(TP_ERR_CONFIG, "profiles.%s.payload_pools[%zu].pool_id: %u is used twice", name, i,
                    ids[i]);
            }
        }
        tp_shm_region_params_t params = { .region_type = TP_SHM_REGION_PAYLOAD_POOL,
            .layout_version = TP_SHM_LAYOUT_VERSION, .epoch = 1, .stream_id = 1, .pool_id = ids[i],
            .nslots = header_nslots, .stride_bytes = strides[i] };
        if (tp_shm_region_params_validate(&params) < 0)
        {
            return tp_err_prepend("profiles.%s.payload_pools[%zu]", name, i);
        }
    }
    return 0;
}

static bool range_contains(const tp_driver_range_t *r, uint32_t v)
{
    return r->set && v >= r->first && v <= r->last;
}

static bool ranges_overlap(const tp_driver_range_t *a, const tp_driver_range_t *b)
{
    return a->set && b->set && a->first <= b->last && b->first <= a->last;
}

int tp_driver_config_validate(const tp_driver_config_t *c)
{
    if (0 == c->profile_count)
    {
        return tp_err_set(TP_ERR_CONFIG, "profiles: at least one profile must be defined");
    }
    for (size_t i = 0; i < c->profile_count; i++)
    {
        const tp_driver_profile_t *p = &c->profiles[i];
        if (profile_check(p->name, p->header_nslots, p->pool_count, p->pool_ids, p->strides) < 0)
        {
            return -1;
        }
    }
    if (0 == c->announce_period_ms || 0 == c->lease_keepalive_interval_ms || 0 == c->lease_expiry_grace_intervals)
    {
        return tp_err_set(TP_ERR_CONFIG,
            "policies: announce_period_ms, lease_keepalive_interval_ms and lease_expiry_grace_intervals must be > 0");
    }
    if (0 == c->max_leases || c->max_leases > TP_DRIVER_MAX_LEASES)
    {
        return tp_err_set(TP_ERR_CONFIG, "policies.max_leases: 1..%d, got %u", TP_DRIVER_MAX_LEASES, c->max_leases);
    }
    if (0 == c->epoch_gc_keep)
    {
        return tp_err_set(TP_ERR_CONFIG, "policies.epoch_gc_keep: must be >= 1 (the current epoch is always kept)");
    }
    if ('/' != c->shm_base_dir[0])
    {
        return tp_err_set(TP_ERR_CONFIG, "shm.base_dir: must be an absolute path, got \"%s\"", c->shm_base_dir);
    }
    if (tp_shm_name_validate("shm.namespace", c->shm_namespace) < 0)
    {
        return tp_err_prepend("shm.namespace");
    }
    if (0 == c->page_size_bytes || 0 != (c->page_size_bytes & (c->page_size_bytes - 1)))
    {
        return tp_err_set(TP_ERR_CONFIG, "shm.page_size_bytes: must be a power of two, got %u", c->page_size_bytes);
    }
    const tp_driver_range_t *ranges[3] = { &c->stream_id_range, &c->descriptor_stream_id_range,
        &c->control_stream_id_range };
    static const char *const range_names[3] = { "driver.stream_id_range", "driver.descriptor_stream_id_range",
        "driver.control_stream_id_range" };
    const uint32_t fixed[3] = { c->control_stream_id, c->announce_stream_id, c->qos_stream_id };
    for (size_t i = 0; i < 3; i++)
    {
        if (ranges[i]->set && ranges[i]->first > ranges[i]->last)
        {
            return tp_err_set(TP_ERR_CONFIG, "%s: start %u is above end %u", range_names[i], ranges[i]->first,
                ranges[i]->last);
        }
        for (size_t j = 0; j < i; j++)
        {
            if (ranges_overlap(ranges[i], ranges[j]))
            {
                return tp_err_set(TP_ERR_CONFIG, "%s overlaps %s", range_names[i], range_names[j]);
            }
        }
        for (size_t k = 0; k < 3; k++)
        {
            if (range_contains(ranges[i], fixed[k]))
            {
                return tp_err_set(TP_ERR_CONFIG, "%s contains the driver's control/announce/QoS stream id %u",
                    range_names[i], fixed[k]);
            }
        }
        for (size_t s = 0; s < c->stream_count; s++)
        {
            if (range_contains(ranges[i], c->streams[s].stream_id))
            {
                return tp_err_set(TP_ERR_CONFIG, "%s contains the static stream id %u (streams.%s)", range_names[i],
                    c->streams[s].stream_id, c->streams[s].name);
            }
        }
    }
    if (c->allow_dynamic_streams && !c->stream_id_range.set)
    {
        return tp_err_set(TP_ERR_CONFIG,
            "policies.allow_dynamic_streams is true but driver.stream_id_range is unset (e.g. \"20000-29999\")");
    }
    if (c->default_profile[0] && tp_driver_config_find_profile(c, c->default_profile) < 0)
    {
        return tp_err_set(TP_ERR_CONFIG, "policies.default_profile: no profile named \"%s\"", c->default_profile);
    }
    for (size_t s = 0; s < c->stream_count; s++)
    {
        if (0 == c->streams[s].stream_id)
        {
            return tp_err_set(TP_ERR_CONFIG, "streams.%s.stream_id: must be > 0", c->streams[s].name);
        }
        for (size_t t = 0; t < s; t++)
        {
            if (c->streams[t].stream_id == c->streams[s].stream_id)
            {
                return tp_err_set(TP_ERR_CONFIG, "streams.%s.stream_id: %u is also used by streams.%s",
                    c->streams[s].name, c->streams[s].stream_id, c->streams[t].name);
            }
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------- */
/* Setters                                                                    */
/* ------------------------------------------------------------------------- */

static int copy_str(char *dst, size_t cap, const char *src, const char *what)
{
    if (NULL == src || strlen(src) >= cap)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "%s: NULL or longer than %zu bytes", what, cap - 1);
    }
    memcpy(dst, src, strlen(src) + 1);
    return 0;
}

#define CHECK_CFG(fn)                                                                    \
    if (NULL == config)                                                                  \
    {                                                                                    \
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, fn ": config must not be NULL");      \
    }

int tp_driver_config_set_shm_base_dir(tp_driver_config_t *config, const char *dir)
{
    CHECK_CFG("tp_driver_config_set_shm_base_dir");
    if (NULL == dir || '/' != dir[0])
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "shm base dir must be an absolute path");
    }
    return copy_str(config->shm_base_dir, sizeof(config->shm_base_dir), dir, "shm base dir");
}

const char *tp_driver_config_shm_base_dir(const tp_driver_config_t *config)
{
    return NULL == config ? NULL : config->shm_base_dir;
}

int tp_driver_config_set_namespace(tp_driver_config_t *config, const char *name)
{
    CHECK_CFG("tp_driver_config_set_namespace");
    if (tp_shm_name_validate("namespace", name) < 0)
    {
        return -1;
    }
    return copy_str(config->shm_namespace, sizeof(config->shm_namespace), name, "namespace");
}

const char *tp_driver_config_namespace(const tp_driver_config_t *config)
{
    return NULL == config ? NULL : config->shm_namespace;
}

int tp_driver_config_set_transport(tp_driver_config_t *config, const char *backend, const char *dir)
{
    CHECK_CFG("tp_driver_config_set_transport");
    if (NULL != backend)
    {
        if (0 != strcmp(backend, "embedded") && 0 != strcmp(backend, "aeron"))
        {
            return tp_err_set(TP_ERR_INVALID_ARGUMENT, "transport backend must be \"embedded\" or \"aeron\", got \"%s\"",
                backend);
        }
        snprintf(config->transport_backend, sizeof(config->transport_backend), "%s", backend);
    }
    if (NULL != dir)
    {
        return copy_str(config->transport_dir, sizeof(config->transport_dir), dir, "transport dir");
    }
    return 0;
}

static int check_channel(const char *channel)
{
    if (NULL == channel || 0 != strncmp(channel, "aeron:", 6))
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "channel must be an Aeron channel URI (aeron:ipc, aeron:udp?...), got \"%s\"",
            NULL == channel ? "(null)" : channel);
    }
    return 0;
}

int tp_driver_config_set_control(tp_driver_config_t *config, const char *channel, uint32_t stream_id)
{
    CHECK_CFG("tp_driver_config_set_control");
    if (check_channel(channel) < 0 ||
        copy_str(config->control_channel, sizeof(config->control_channel), channel, "control channel") < 0)
    {
        return -1;
    }
    config->control_stream_id = stream_id;
    if (!config->announce_set)
    {
        snprintf(config->announce_channel, sizeof(config->announce_channel), "%s", channel);
        config->announce_stream_id = stream_id;
    }
    return 0;
}

uint32_t tp_driver_config_control_stream_id(const tp_driver_config_t *config)
{
    return NULL == config ? 0 : config->control_stream_id;
}

int tp_driver_config_set_announce(tp_driver_config_t *config, const char *channel, uint32_t stream_id)
{
    CHECK_CFG("tp_driver_config_set_announce");
    if (check_channel(channel) < 0 ||
        copy_str(config->announce_channel, sizeof(config->announce_channel), channel, "announce channel") < 0)
    {
        return -1;
    }
    config->announce_stream_id = stream_id;
    config->announce_set = true;
    return 0;
}

uint32_t tp_driver_config_announce_stream_id(const tp_driver_config_t *config)
{
    return NULL == config ? 0 : config->announce_stream_id;
}

int tp_driver_config_add_profile(tp_driver_config_t *config, const char *name, uint32_t header_nslots,
    size_t pool_count, const uint16_t *pool_ids, const uint32_t *stride_bytes)
{
    CHECK_CFG("tp_driver_config_add_profile");
    if (NULL == name || '\0' == name[0] || strlen(name) >= TP_DRIVER_NAME_MAX || (pool_count > 0 && (NULL == pool_ids || NULL == stride_bytes)))
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_driver_config_add_profile: bad name or pool arrays");
    }
    if (tp_driver_config_find_profile(config, name) >= 0)
    {
        return tp_err_set(TP_ERR_CONFIG, "profiles.%s: defined twice", name);
    }
    if (config->profile_count >= TP_DRIVER_MAX_PROFILES)
    {
        return tp_err_set(TP_ERR_CONFIG, "profiles: at most %d profiles", TP_DRIVER_MAX_PROFILES);
    }
    if (profile_check(name, header_nslots, pool_count, pool_ids, stride_bytes) < 0)
    {
        return -1;
    }
    tp_driver_profile_t *p = &config->profiles[config->profile_count++];
    memset(p, 0, sizeof(*p));
    snprintf(p->name, sizeof(p->name), "%s", name);
    p->header_nslots = header_nslots;
    p->pool_count = pool_count;
    memcpy(p->pool_ids, pool_ids, pool_count * sizeof(*pool_ids));
    memcpy(p->strides, stride_bytes, pool_count * sizeof(*stride_bytes));
    return 0;
}

int tp_driver_config_add_stream(tp_driver_config_t *config, const char *name, uint32_t stream_id, const char *profile)
{
    CHECK_CFG("tp_driver_config_add_stream");
    if (NULL == name || '\0' == name[0] || strlen(name) >= TP_DRIVER_NAME_MAX || NULL == profile)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_driver_config_add_stream: bad name or profile");
    }
    int pi = tp_driver_config_find_profile(config, profile);
    if (pi < 0)
    {
        return tp_err_set(TP_ERR_CONFIG, "streams.%s.profile: no profile named \"%s\"", name, profile);
    }
    if (0 == stream_id)
    {
        return tp_err_set(TP_ERR_CONFIG, "streams.%s.stream_id: must be > 0", name);
    }
    for (size_t i = 0; i < config->stream_count; i++)
    {
        if (config->streams[i].stream_id == stream_id || 0 == strcmp(config->streams[i].name, name))
        {
            return tp_err_set(TP_ERR_CONFIG, "streams.%s: stream id %u or name already defined (streams.%s)", name,
                stream_id, config->streams[i].name);
        }
    }
    if (config->stream_count >= TP_DRIVER_MAX_STATIC_STREAMS)
    {
        return tp_err_set(TP_ERR_CONFIG, "streams: at most %d static streams", TP_DRIVER_MAX_STATIC_STREAMS);
    }
    tp_driver_static_stream_t *s = &config->streams[config->stream_count++];
    snprintf(s->name, sizeof(s->name), "%s", name);
    s->stream_id = stream_id;
    s->profile = (size_t)pi;
    return 0;
}

int tp_driver_config_set_dynamic_streams(tp_driver_config_t *config, bool allow, uint32_t first, uint32_t last)
{
    CHECK_CFG("tp_driver_config_set_dynamic_streams");
    if (allow && (first > last || 0 == first))
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "dynamic stream range %u-%u is empty or starts at 0", first, last);
    }
    config->allow_dynamic_streams = allow;
    config->stream_id_range.set = allow;
    config->stream_id_range.first = first;
    config->stream_id_range.last = last;
    return 0;
}

int tp_driver_config_set_timing(tp_driver_config_t *config, uint32_t keepalive_interval_ms,
    uint32_t expiry_grace_intervals, uint32_t announce_period_ms)
{
    CHECK_CFG("tp_driver_config_set_timing");
    if (keepalive_interval_ms)
    {
        config->lease_keepalive_interval_ms = keepalive_interval_ms;
    }
    if (expiry_grace_intervals)
    {
        config->lease_expiry_grace_intervals = expiry_grace_intervals;
    }
    if (announce_period_ms)
    {
        config->announce_period_ms = announce_period_ms;
    }
    return 0;
}

int tp_driver_config_set_shutdown_token(tp_driver_config_t *config, const char *token)
{
    CHECK_CFG("tp_driver_config_set_shutdown_token");
    return copy_str(config->shutdown_token, sizeof(config->shutdown_token), token, "shutdown token");
}

/* ------------------------------------------------------------------------- */
/* TOML loading                                                               */
/* ------------------------------------------------------------------------- */

typedef struct loader_stct
{
    tp_toml_t *doc;
    tp_driver_config_t *c;
} loader_t;

static int get_str(loader_t *l, const char *path, char *dst, size_t cap)
{
    const char *v = NULL;
    if (tp_toml_get_string(l->doc, NULL, path, &v, dst) < 0)
    {
        return -1;
    }
    if (v != dst)
    {
        if (strlen(v) >= cap)
        {
            return tp_err_set(TP_ERR_CONFIG, "%s: %s: longer than %zu bytes", tp_toml_name(l->doc), path, cap - 1);
        }
        memmove(dst, v, strlen(v) + 1);
    }
    return 0;
}

static int get_channel(loader_t *l, const char *path, char *dst, size_t cap)
{
    if (get_str(l, path, dst, cap) < 0)
    {
        return -1;
    }
    if (0 != strncmp(dst, "aeron:", 6))
    {
        return tp_err_set(TP_ERR_CONFIG, "%s: %s: must be an Aeron channel URI (aeron:ipc..., aeron:udp?...), got \"%s\"",
            tp_toml_name(l->doc), path, dst);
    }
    return 0;
}

/* "first-last" or [first, last]. */
static int get_range(loader_t *l, const tp_toml_value_t *driver, const char *key, tp_driver_range_t *out)
{
    const tp_toml_value_t *v = NULL == driver ? NULL : tp_toml_table_get(driver, key);
    char env_name[128];
    char path[64];
    snprintf(path, sizeof(path), "driver.%s", key);
    const char *env = NULL;
    if (0 == tp_toml_env_override_name(path, env_name, sizeof(env_name)))
    {
        env = getenv(env_name);
    }
    uint64_t a = 0;
    uint64_t b = 0;
    if (NULL != env && '\0' != env[0])
    {
        char *end = NULL;
        errno = 0;
        a = strtoull(env, &end, 10);
        if (0 != errno || '-' != *end)
        {
            return tp_err_set(TP_ERR_CONFIG, "environment %s=\"%s\": %s: expected \"first-last\"", env_name, env, path);
        }
        b = strtoull(end + 1, &end, 10);
        if (0 != errno || '\0' != *end || a > UINT32_MAX || b > UINT32_MAX)
        {
            return tp_err_set(TP_ERR_CONFIG, "environment %s=\"%s\": %s: expected \"first-last\"", env_name, env, path);
        }
    }
    else if (NULL == v)
    {
        return 0;
    }
    else if (TP_TOML_STRING == tp_toml_type(v))
    {
        const char *s = tp_toml_string(v);
        if ('\0' == s[0])
        {
            out->set = false;
            return 0;
        }
        char *end = NULL;
        errno = 0;
        a = strtoull(s, &end, 10);
        bool ok = 0 == errno && end != s && '-' == *end;
        if (ok)
        {
            const char *s2 = end + 1;
            b = strtoull(s2, &end, 10);
            ok = 0 == errno && end != s2 && '\0' == *end;
        }
        if (!ok || a > UINT32_MAX || b > UINT32_MAX)
        {
            return tp_toml_value_error(l->doc, v, "expected \"first-last\" (e.g. \"20000-29999\"), got \"%s\"", s);
        }
    }
    else if (TP_TOML_ARRAY == tp_toml_type(v))
    {
        if (0 == tp_toml_array_size(v))
        {
            out->set = false;
            return 0;
        }
        if (2 != tp_toml_array_size(v) || tp_toml_integer_u64(tp_toml_array_at(v, 0), &a) < 0 ||
            tp_toml_integer_u64(tp_toml_array_at(v, 1), &b) < 0 || a > UINT32_MAX || b > UINT32_MAX)
        {
            return tp_toml_value_error(l->doc, v, "expected [first, last] with two stream ids");
        }
    }
    else
    {
        return tp_toml_value_error(l->doc, v, "expected \"first-last\" or [first, last], got a %s",
            tp_toml_type_name(tp_toml_type(v)));
    }
    if (a > b)
    {
        return tp_err_set(TP_ERR_CONFIG, "%s: %s: start %llu is above end %llu", tp_toml_name(l->doc), path,
            (unsigned long long)a, (unsigned long long)b);
    }
    out->first = (uint32_t)a;
    out->last = (uint32_t)b;
    out->set = true;
    return 0;
}

static int load_driver(loader_t *l)
{
    tp_driver_config_t *c = l->c;
    const tp_toml_value_t *t = NULL;
    static const char *const keys[] = { "instance_id", "aeron_dir", "transport", "transport_dir", "control_channel",
        "control_stream_id", "announce_channel", "announce_stream_id", "qos_channel", "qos_stream_id",
        "stream_id_range", "descriptor_stream_id_range", "control_stream_id_range" };
    if (tp_toml_get_table(l->doc, NULL, "driver", &t) < 0 ||
        tp_toml_check_keys(l->doc, t, keys, COUNT_OF(keys), "driver") < 0)
    {
        return -1;
    }
    char old_control[TP_DRIVER_CHANNEL_MAX];
    snprintf(old_control, sizeof(old_control), "%s", c->control_channel);
    uint32_t old_control_id = c->control_stream_id;
    char aeron_dir[PATH_MAX] = "";
    if (get_str(l, "driver.instance_id", c->instance_id, sizeof(c->instance_id)) < 0 ||
        get_str(l, "driver.transport", c->transport_backend, sizeof(c->transport_backend)) < 0 ||
        get_str(l, "driver.transport_dir", c->transport_dir, sizeof(c->transport_dir)) < 0 ||
        get_str(l, "driver.aeron_dir", aeron_dir, sizeof(aeron_dir)) < 0 ||
        get_channel(l, "driver.control_channel", c->control_channel, sizeof(c->control_channel)) < 0 ||
        tp_toml_get_u32(l->doc, NULL, "driver.control_stream_id", &c->control_stream_id, c->control_stream_id) < 0 ||
        get_channel(l, "driver.qos_channel", c->qos_channel, sizeof(c->qos_channel)) < 0 ||
        tp_toml_get_u32(l->doc, NULL, "driver.qos_stream_id", &c->qos_stream_id, c->qos_stream_id) < 0)
    {
        return -1;
    }
    if (0 != strcmp(c->transport_backend, "embedded") && 0 != strcmp(c->transport_backend, "aeron"))
    {
        return tp_err_set(TP_ERR_CONFIG, "%s: driver.transport: must be \"embedded\" or \"aeron\", got \"%s\"",
            tp_toml_name(l->doc), c->transport_backend);
    }
    if (aeron_dir[0] && 0 == strcmp(c->transport_backend, "aeron"))
    {
        snprintf(c->transport_dir, sizeof(c->transport_dir), "%s", aeron_dir);
    }
    /* The announce stream defaults to the control stream (spec §17) unless set on its own. */
    bool announce_follows = !c->announce_set && 0 == strcmp(c->announce_channel, old_control) &&
        c->announce_stream_id == old_control_id;
    if (announce_follows)
    {
        snprintf(c->announce_channel, sizeof(c->announce_channel), "%s", c->control_channel);
        c->announce_stream_id = c->control_stream_id;
    }
    char before_channel[TP_DRIVER_CHANNEL_MAX];
    snprintf(before_channel, sizeof(before_channel), "%s", c->announce_channel);
    uint32_t before_id = c->announce_stream_id;
    if (get_channel(l, "driver.announce_channel", c->announce_channel, sizeof(c->announce_channel)) < 0 ||
        tp_toml_get_u32(l->doc, NULL, "driver.announce_stream_id", &c->announce_stream_id, c->announce_stream_id) < 0)
    {
        return -1;
    }
    if (0 != strcmp(before_channel, c->announce_channel) || before_id != c->announce_stream_id)
    {
        c->announce_set = true;
    }
    if (get_range(l, t, "stream_id_range", &c->stream_id_range) < 0 ||
        get_range(l, t, "descriptor_stream_id_range", &c->descriptor_stream_id_range) < 0 ||
        get_range(l, t, "control_stream_id_range", &c->control_stream_id_range) < 0)
    {
        return -1;
    }
    return 0;
}

static int parse_mode(loader_t *l, const char *text, uint32_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long m = strtoul(text, &end, 8);
    if (0 != errno || end == text || '\0' != *end || m > 0777 || 0 == (m & 0600) || 0 != (m & 0007))
    {
        return tp_err_set(TP_ERR_CONFIG,
            "%s: shm.permissions_mode: expected an octal mode with owner read/write and no access for others "
            "(\"600\" or \"660\"), got \"%s\"",
            tp_toml_name(l->doc), text);
    }
    *out = (uint32_t)m;
    return 0;
}

static int load_shm(loader_t *l)
{
    tp_driver_config_t *c = l->c;
    const tp_toml_value_t *t = NULL;
    static const char *const keys[] = { "base_dir", "namespace", "require_hugepages", "page_size_bytes",
        "permissions_mode", "allowed_base_dirs" };
    if (tp_toml_get_table(l->doc, NULL, "shm", &t) < 0 || tp_toml_check_keys(l->doc, t, keys, COUNT_OF(keys), "shm") < 0)
    {
        return -1;
    }
    char mode[16];
    snprintf(mode, sizeof(mode), "%o", c->permissions_mode);
    if (get_str(l, "shm.base_dir", c->shm_base_dir, sizeof(c->shm_base_dir)) < 0 ||
        get_str(l, "shm.namespace", c->shm_namespace, sizeof(c->shm_namespace)) < 0 ||
        tp_toml_get_bool(l->doc, NULL, "shm.require_hugepages", &c->require_hugepages, c->require_hugepages) < 0 ||
        tp_toml_get_u32(l->doc, NULL, "shm.page_size_bytes", &c->page_size_bytes, c->page_size_bytes) < 0 ||
        get_str(l, "shm.permissions_mode", mode, sizeof(mode)) < 0 || parse_mode(l, mode, &c->permissions_mode) < 0)
    {
        return -1;
    }
    const tp_toml_value_t *dirs = NULL;
    if (tp_toml_get_array(l->doc, NULL, "shm.allowed_base_dirs", &dirs) < 0)
    {
        return -1;
    }
    if (NULL != dirs)
    {
        size_t n = tp_toml_array_size(dirs);
        if (n > TP_DRIVER_MAX_ALLOWED_DIRS)
        {
            return tp_toml_value_error(l->doc, dirs, "at most %d directories", TP_DRIVER_MAX_ALLOWED_DIRS);
        }
        for (size_t i = 0; i < n; i++)
        {
            const tp_toml_value_t *e = tp_toml_array_at(dirs, i);
            const char *s = tp_toml_string(e);
            if (NULL == s || '/' != s[0] || strlen(s) >= PATH_MAX)
            {
                return tp_toml_value_error(l->doc, e, "expected an absolute directory path");
            }
            snprintf(c->allowed_dirs[i], sizeof(c->allowed_dirs[i]), "%s", s);
        }
        c->allowed_dir_count = n;
    }
    return 0;
}

static int load_policies(loader_t *l)
{
    tp_driver_config_t *c = l->c;
    const tp_toml_value_t *t = NULL;
    static const char *const keys[] = { "allow_dynamic_streams", "default_profile", "announce_period_ms",
        "lease_keepalive_interval_ms", "lease_expiry_grace_intervals", "node_id_reuse_cooldown_ms", "max_leases", "prefault_shm",
        "mlock_shm", "reuse_existing_shm", "cleanup_shm_on_exit", "epoch_gc_enabled", "epoch_gc_keep",
        "epoch_gc_min_age_ns", "epoch_gc_on_startup", "shutdown_timeout_ms", "shutdown_token" };
    if (tp_toml_get_table(l->doc, NULL, "policies", &t) < 0 ||
        tp_toml_check_keys(l->doc, t, keys, COUNT_OF(keys), "policies") < 0)
    {
        return -1;
    }
    bool reuse = false;
    if (tp_toml_get_bool(l->doc, NULL, "policies.allow_dynamic_streams", &c->allow_dynamic_streams,
            c->allow_dynamic_streams) < 0 ||
        get_str(l, "policies.default_profile", c->default_profile, sizeof(c->default_profile)) < 0 ||
        tp_toml_get_u32(l->doc, NULL, "policies.announce_period_ms", &c->announce_period_ms, c->announce_period_ms) < 0 ||
        tp_toml_get_u32(l->doc, NULL, "policies.lease_keepalive_interval_ms", &c->lease_keepalive_interval_ms,
            c->lease_keepalive_interval_ms) < 0 ||
        tp_toml_get_u32(l->doc, NULL, "policies.lease_expiry_grace_intervals", &c->lease_expiry_grace_intervals,
            c->lease_expiry_grace_intervals) < 0 ||
        tp_toml_get_u32(l->doc, NULL, "policies.node_id_reuse_cooldown_ms", &c->node_id_reuse_cooldown_ms,
            c->node_id_reuse_cooldown_ms) < 0 ||
        tp_toml_get_u32(l->doc, NULL, "policies.max_leases", &c->max_leases, c->max_leases) < 0 ||
        tp_toml_get_bool(l->doc, NULL, "policies.prefault_shm", &c->prefault_shm, c->prefault_shm) < 0 ||
        tp_toml_get_bool(l->doc, NULL, "policies.mlock_shm", &c->mlock_shm, c->mlock_shm) < 0 ||
        tp_toml_get_bool(l->doc, NULL, "policies.reuse_existing_shm", &reuse, false) < 0 ||
        tp_toml_get_bool(l->doc, NULL, "policies.cleanup_shm_on_exit", &c->cleanup_shm_on_exit,
            c->cleanup_shm_on_exit) < 0 ||
        tp_toml_get_bool(l->doc, NULL, "policies.epoch_gc_enabled", &c->epoch_gc_enabled, c->epoch_gc_enabled) < 0 ||
        tp_toml_get_u32(l->doc, NULL, "policies.epoch_gc_keep", &c->epoch_gc_keep, c->epoch_gc_keep) < 0 ||
        tp_toml_get_u64(l->doc, NULL, "policies.epoch_gc_min_age_ns", &c->epoch_gc_min_age_ns,
            c->epoch_gc_min_age_ns) < 0 ||
        tp_toml_get_bool(l->doc, NULL, "policies.epoch_gc_on_startup", &c->epoch_gc_on_startup,
            c->epoch_gc_on_startup) < 0 ||
        tp_toml_get_u32(l->doc, NULL, "policies.shutdown_timeout_ms", &c->shutdown_timeout_ms,
            c->shutdown_timeout_ms) < 0 ||
        get_str(l, "policies.shutdown_token", c->shutdown_token, sizeof(c->shutdown_token)) < 0)
    {
        return -1;
    }
    if (reuse)
    {
        return tp_err_set(TP_ERR_CONFIG,
            "%s: policies.reuse_existing_shm = true is not supported: every epoch gets fresh files, as the epoch "
            "rules (Driver Model §6, §10) require after a restart; remove the key or set it to false",
            tp_toml_name(l->doc));
    }
    return 0;
}

/*
 * [supervisor] (the C reference's keys, DRIVER_USAGE.md): the supervisor runs
 * in the driver's duty cycle, on the driver's control stream; per-consumer
 * ranges given as base/range map onto driver.*_stream_id_range when those are
 * unset.
 */
static int load_supervisor(loader_t *l)
{
    tp_driver_config_t *c = l->c;
    const tp_toml_value_t *t = NULL;
    static const char *const keys[] = { "control_channel", "control_stream_id", "qos_channel", "qos_stream_id",
        "consumer_capacity", "consumer_stale_ms", "per_consumer_enabled", "per_consumer_descriptor_channel",
        "per_consumer_descriptor_base", "per_consumer_descriptor_range", "per_consumer_control_channel",
        "per_consumer_control_base", "per_consumer_control_range", "force_no_shm", "force_mode",
        "payload_fallback_uri" };
    if (tp_toml_get_table(l->doc, NULL, "supervisor", &t) < 0 ||
        tp_toml_check_keys(l->doc, t, keys, COUNT_OF(keys), "supervisor") < 0)
    {
        return -1;
    }
    if (NULL == t)
    {
        return 0;
    }
    char control[TP_DRIVER_CHANNEL_MAX];
    snprintf(control, sizeof(control), "%s", c->control_channel);
    uint32_t control_id = c->control_stream_id;
    uint32_t capacity = TP_DRIVER_MAX_CONSUMERS;
    uint32_t mode = c->supervisor_force_mode;
    bool enabled = true;
    uint32_t dbase = 0, drange = 0, cbase = 0, crange = 0;
    if (get_str(l, "supervisor.control_channel", control, sizeof(control)) < 0 ||
        tp_toml_get_u32(l->doc, NULL, "supervisor.control_stream_id", &control_id, control_id) < 0 ||
        get_channel(l, "supervisor.qos_channel", c->qos_channel, sizeof(c->qos_channel)) < 0 ||
        tp_toml_get_u32(l->doc, NULL, "supervisor.qos_stream_id", &c->qos_stream_id, c->qos_stream_id) < 0 ||
        tp_toml_get_u32(l->doc, NULL, "supervisor.consumer_capacity", &capacity, capacity) < 0 ||
        tp_toml_get_u32(l->doc, NULL, "supervisor.consumer_stale_ms", &c->supervisor_consumer_stale_ms,
            c->supervisor_consumer_stale_ms) < 0 ||
        tp_toml_get_bool(l->doc, NULL, "supervisor.per_consumer_enabled", &enabled, true) < 0 ||
        get_str(l, "supervisor.per_consumer_descriptor_channel", c->supervisor_descriptor_channel,
            sizeof(c->supervisor_descriptor_channel)) < 0 ||
        get_str(l, "supervisor.per_consumer_control_channel", c->supervisor_control_channel,
            sizeof(c->supervisor_control_channel)) < 0 ||
        tp_toml_get_u32(l->doc, NULL, "supervisor.per_consumer_descriptor_base", &dbase, 0) < 0 ||
        tp_toml_get_u32(l->doc, NULL, "supervisor.per_consumer_descriptor_range", &drange, 0) < 0 ||
        tp_toml_get_u32(l->doc, NULL, "supervisor.per_consumer_control_base", &cbase, 0) < 0 ||
        tp_toml_get_u32(l->doc, NULL, "supervisor.per_consumer_control_range", &crange, 0) < 0 ||
        tp_toml_get_bool(l->doc, NULL, "supervisor.force_no_shm", &c->supervisor_force_no_shm,
            c->supervisor_force_no_shm) < 0 ||
        tp_toml_get_u32(l->doc, NULL, "supervisor.force_mode", &mode, mode) < 0 ||
        get_str(l, "supervisor.payload_fallback_uri", c->supervisor_fallback_uri, sizeof(c->supervisor_fallback_uri)) < 0)
    {
        return -1;
    }
    if (0 != strcmp(control, c->control_channel) || control_id != c->control_stream_id)
    {
        return tp_err_set(TP_ERR_CONFIG,
            "%s: supervisor.control_channel/control_stream_id must be the driver's control stream (%s/%u): the "
            "supervisor runs inside the driver",
            tp_toml_name(l->doc), c->control_channel, c->control_stream_id);
    }
    if (capacity > TP_DRIVER_MAX_CONSUMERS || 0 == capacity)
    {
        return tp_err_set(TP_ERR_CONFIG, "%s: supervisor.consumer_capacity: 1..%d", tp_toml_name(l->doc),
            TP_DRIVER_MAX_CONSUMERS);
    }
    if (mode > 2)
    {
        return tp_err_set(TP_ERR_CONFIG, "%s: supervisor.force_mode: 0 (no override), 1 (STREAM) or 2 (RATE_LIMITED), got %u",
            tp_toml_name(l->doc), mode);
    }
    c->supervisor_force_mode = (uint8_t)mode;
    if (0 == c->supervisor_consumer_stale_ms)
    {
        return tp_err_set(TP_ERR_CONFIG, "%s: supervisor.consumer_stale_ms must be > 0", tp_toml_name(l->doc));
    }
    if (!enabled)
    {
        c->descriptor_stream_id_range.set = false;
        c->control_stream_id_range.set = false;
        return 0;
    }
    if (0 != drange && !c->descriptor_stream_id_range.set)
    {
        c->descriptor_stream_id_range = (tp_driver_range_t){ .first = dbase, .last = dbase + drange - 1, .set = true };
    }
    if (0 != crange && !c->control_stream_id_range.set)
    {
        c->control_stream_id_range = (tp_driver_range_t){ .first = cbase, .last = cbase + crange - 1, .set = true };
    }
    return 0;
}

static int load_profiles(loader_t *l)
{
    tp_driver_config_t *c = l->c;
    const tp_toml_value_t *profiles = NULL;
    if (tp_toml_get_table(l->doc, NULL, "profiles", &profiles) < 0)
    {
        return -1;
    }
    if (NULL != profiles)
    {
        c->profile_count = 0; /* a document's profiles replace those loaded before */
    }
    size_t n = tp_toml_table_size(profiles);
    for (size_t i = 0; i < n; i++)
    {
        const char *name = tp_toml_table_key(profiles, i);
        const tp_toml_value_t *p = tp_toml_table_value(profiles, i);
        if (TP_TOML_TABLE != tp_toml_type(p))
        {
            return tp_toml_value_error(l->doc, p, "expected a table (a profile)");
        }
        static const char *const keys[] = { "header_nslots", "payload_pools" };
        char path[TP_DRIVER_NAME_MAX + 32];
        snprintf(path, sizeof(path), "profiles.%s", name);
        uint32_t nslots = 1024;
        const tp_toml_value_t *pools = NULL;
        if (tp_toml_check_keys(l->doc, p, keys, COUNT_OF(keys), path) < 0 ||
            tp_toml_get_u32(l->doc, p, "header_nslots", &nslots, 1024) < 0 ||
            tp_toml_get_array(l->doc, p, "payload_pools", &pools) < 0)
        {
            return -1;
        }
        if (NULL == pools || 0 == tp_toml_array_size(pools))
        {
            return tp_err_set(TP_ERR_CONFIG, "%s:%u: %s.payload_pools: at least one pool entry is required",
                tp_toml_name(l->doc), tp_toml_value_line(p), path);
        }
        size_t pc = tp_toml_array_size(pools);
        if (pc > TP_DRIVER_MAX_POOLS)
        {
            return tp_toml_value_error(l->doc, pools, "at most %d pools", TP_DRIVER_MAX_POOLS);
        }
        uint16_t ids[TP_DRIVER_MAX_POOLS];
        uint32_t strides[TP_DRIVER_MAX_POOLS];
        for (size_t k = 0; k < pc; k++)
        {
            if (tp_toml_get_pool_entry(l->doc, tp_toml_array_at(pools, k), &ids[k], &strides[k]) < 0)
            {
                return -1;
            }
        }
        if (tp_driver_config_add_profile(c, name, nslots, pc, ids, strides) < 0)
        {
            return tp_err_prepend("%s:%u", tp_toml_name(l->doc), tp_toml_value_line(p));
        }
    }
    return 0;
}

static int load_streams(loader_t *l)
{
    const tp_toml_value_t *streams = NULL;
    if (tp_toml_get_table(l->doc, NULL, "streams", &streams) < 0)
    {
        return -1;
    }
    if (NULL != streams || NULL != tp_toml_lookup(tp_toml_root(l->doc), "profiles"))
    {
        l->c->stream_count = 0; /* streams refer to profiles: replaced together */
    }
    size_t n = tp_toml_table_size(streams);
    for (size_t i = 0; i < n; i++)
    {
        const char *name = tp_toml_table_key(streams, i);
        const tp_toml_value_t *s = tp_toml_table_value(streams, i);
        if (TP_TOML_TABLE != tp_toml_type(s))
        {
            return tp_toml_value_error(l->doc, s, "expected a table (a stream)");
        }
        static const char *const keys[] = { "stream_id", "profile" };
        char path[TP_DRIVER_NAME_MAX + 32];
        snprintf(path, sizeof(path), "streams.%s", name);
        uint32_t id = 0;
        const char *profile = NULL;
        if (tp_toml_check_keys(l->doc, s, keys, COUNT_OF(keys), path) < 0 || tp_toml_require(l->doc, s, "stream_id") < 0 ||
            tp_toml_require(l->doc, s, "profile") < 0 || tp_toml_get_u32(l->doc, s, "stream_id", &id, 0) < 0 ||
            tp_toml_get_string(l->doc, s, "profile", &profile, NULL) < 0)
        {
            return -1;
        }
        if (tp_driver_config_add_stream(l->c, name, id, profile) < 0)
        {
            return tp_err_prepend("%s:%u", tp_toml_name(l->doc), tp_toml_value_line(s));
        }
    }
    return 0;
}

static int load_doc(tp_driver_config_t *config, tp_toml_t *doc)
{
    tp_toml_set_env(doc, tp_toml_env_getenv, NULL);
    static const char *const top[] = { "driver", "shm", "policies", "profiles", "streams", "supervisor",
        "discovery" };
    tp_driver_config_t *work = malloc(sizeof(*work));
    if (NULL == work)
    {
        return tp_err_set(TP_ERR_NO_MEMORY, "driver config: out of memory");
    }
    memcpy(work, config, sizeof(*work));
    loader_t l = { .doc = doc, .c = work };
    int rc = -1;
    if (tp_toml_check_keys(doc, tp_toml_root(doc), top, COUNT_OF(top), "") == 0 && load_driver(&l) == 0 &&
        load_shm(&l) == 0 && load_policies(&l) == 0 && load_profiles(&l) == 0 && load_streams(&l) == 0 &&
        load_supervisor(&l) == 0 && tp_driver_discovery_config_load(doc, work) == 0)
    {
        if (tp_driver_config_validate(work) < 0)
        {
            tp_err_prepend("%s", tp_toml_name(doc));
        }
        else
        {
            memcpy(config, work, sizeof(*work));
            rc = 0;
        }
    }
    free(work);
    return rc;
}

int tp_driver_config_load_file(tp_driver_config_t *config, const char *path)
{
    CHECK_CFG("tp_driver_config_load_file");
    tp_toml_t *doc = NULL;
    if (tp_toml_parse_file(path, &doc) < 0)
    {
        return -1;
    }
    int rc = load_doc(config, doc);
    tp_toml_free(doc);
    return rc;
}

int tp_driver_config_load_string(tp_driver_config_t *config, const char *text, size_t len, const char *name)
{
    CHECK_CFG("tp_driver_config_load_string");
    tp_toml_t *doc = NULL;
    if (tp_toml_parse_string(text, len, NULL == name ? "config" : name, &doc) < 0)
    {
        return -1;
    }
    int rc = load_doc(config, doc);
    tp_toml_free(doc);
    return rc;
}

/* ------------------------------------------------------------------------- */
/* Printing                                                                   */
/* ------------------------------------------------------------------------- */

typedef tp_toml_out_t out_t;

/* A table name component: bare when it can be, else quoted. */
static void out_key(out_t *o, const char *k)
{
    bool bare = '\0' != k[0];
    for (const char *p = k; bare && '\0' != *p; p++)
    {
        bare = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || '_' == *p ||
            '-' == *p;
    }
    if (bare)
    {
        tp_toml_outf(o, "%s", k);
    }
    else
    {
        tp_toml_out_string(o, k);
    }
}

static void out_range(out_t *o, const char *key, const tp_driver_range_t *r)
{
    if (r->set)
    {
        tp_toml_outf(o, "%s = \"%u-%u\"\n", key, r->first, r->last);
    }
    else
    {
        tp_toml_outf(o, "%s = \"\"\n", key);
    }
}

int tp_driver_config_print(const tp_driver_config_t *c, char *buf, size_t len)
{
    if (NULL == c)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_driver_config_print: config must not be NULL");
    }
    out_t o;
    tp_toml_out_init(&o, buf, len);
    tp_toml_outf(&o, "[driver]\n");
    tp_toml_out_kv_string(&o, "instance_id", c->instance_id);
    tp_toml_out_kv_string(&o, "transport", c->transport_backend);
    tp_toml_out_kv_string(&o, "transport_dir", c->transport_dir);
    tp_toml_out_kv_string(&o, "control_channel", c->control_channel);
    tp_toml_outf(&o, "control_stream_id = %u\n", c->control_stream_id);
    tp_toml_out_kv_string(&o, "announce_channel", c->announce_channel);
    tp_toml_outf(&o, "announce_stream_id = %u\n", c->announce_stream_id);
    tp_toml_out_kv_string(&o, "qos_channel", c->qos_channel);
    tp_toml_outf(&o, "qos_stream_id = %u\n", c->qos_stream_id);
    out_range(&o, "stream_id_range", &c->stream_id_range);
    out_range(&o, "descriptor_stream_id_range", &c->descriptor_stream_id_range);
    out_range(&o, "control_stream_id_range", &c->control_stream_id_range);
    tp_toml_outf(&o, "\n[shm]\n");
    tp_toml_out_kv_string(&o, "base_dir", c->shm_base_dir);
    tp_toml_out_kv_string(&o, "namespace", c->shm_namespace);
    tp_toml_outf(&o, "require_hugepages = %s\npage_size_bytes = %u\npermissions_mode = \"%o\"\nallowed_base_dirs = [",
        c->require_hugepages ? "true" : "false", c->page_size_bytes, c->permissions_mode);
    if (0 == c->allowed_dir_count)
    {
        tp_toml_out_string(&o, c->shm_base_dir);
    }
    for (size_t i = 0; i < c->allowed_dir_count; i++)
    {
        tp_toml_outf(&o, "%s", i ? ", " : "");
        tp_toml_out_string(&o, c->allowed_dirs[i]);
    }
    tp_toml_outf(&o, "]\n\n[policies]\nallow_dynamic_streams = %s\n", c->allow_dynamic_streams ? "true" : "false");
    tp_toml_out_kv_string(&o, "default_profile",
        c->default_profile[0] ? c->default_profile : (c->profile_count ? c->profiles[0].name : ""));
    tp_toml_outf(&o, "announce_period_ms = %u\n"
             "lease_keepalive_interval_ms = %u\nlease_expiry_grace_intervals = %u\nnode_id_reuse_cooldown_ms = %u\n"
             "max_leases = %u\n"
             "prefault_shm = %s\nmlock_shm = %s\ncleanup_shm_on_exit = %s\nepoch_gc_enabled = %s\nepoch_gc_keep = %u\n"
             "epoch_gc_min_age_ns = %llu\nepoch_gc_on_startup = %s\nshutdown_timeout_ms = %u\nshutdown_token = \"%s\"\n",
        c->announce_period_ms, c->lease_keepalive_interval_ms, c->lease_expiry_grace_intervals,
        c->node_id_reuse_cooldown_ms, c->max_leases, c->prefault_shm ? "true" : "false", c->mlock_shm ? "true" : "false",
        c->cleanup_shm_on_exit ? "true" : "false", c->epoch_gc_enabled ? "true" : "false", c->epoch_gc_keep,
        (unsigned long long)tp_driver_config_gc_min_age_ns(c), c->epoch_gc_on_startup ? "true" : "false",
        c->shutdown_timeout_ms, c->shutdown_token[0] ? "<set>" : "");
    tp_toml_outf(&o, "\n[supervisor]\nconsumer_stale_ms = %u\nforce_no_shm = %s\nforce_mode = %u\npayload_fallback_uri = \"%s\"\n"
             "per_consumer_descriptor_channel = \"%s\"\nper_consumer_control_channel = \"%s\"\n",
        c->supervisor_consumer_stale_ms, c->supervisor_force_no_shm ? "true" : "false", c->supervisor_force_mode,
        c->supervisor_fallback_uri, c->supervisor_descriptor_channel, c->supervisor_control_channel);
    for (size_t i = 0; i < c->profile_count; i++)
    {
        const tp_driver_profile_t *p = &c->profiles[i];
        tp_toml_outf(&o, "\n[profiles.");
        out_key(&o, p->name);
        tp_toml_outf(&o, "]\nheader_nslots = %u\npayload_pools = [", p->header_nslots);
        for (size_t k = 0; k < p->pool_count; k++)
        {
            tp_toml_outf(&o, "%s{ pool_id = %u, stride_bytes = %u }", k ? ", " : "", p->pool_ids[k], p->strides[k]);
        }
        tp_toml_outf(&o, "]\n");
    }
    for (size_t i = 0; i < c->stream_count; i++)
    {
        tp_toml_outf(&o, "\n[streams.");
        out_key(&o, c->streams[i].name);
        tp_toml_outf(&o, "]\nstream_id = %u\n", c->streams[i].stream_id);
        tp_toml_out_kv_string(&o, "profile", c->profiles[c->streams[i].profile].name);
    }
    o.used += tp_driver_discovery_config_print(c, NULL == o.buf || o.used >= o.len ? NULL : o.buf + o.used,
        o.used >= o.len ? 0 : o.len - o.used);
    return (int)o.used;
}
