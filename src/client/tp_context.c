/* Client context: configuration with setters; environment supplies defaults. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/tp_client_internal.h"
#include "client/tp_driver_lease.h"
#include "common/tp_error.h"

#define TP_NS_PER_S UINT64_C(1000000000)

static int copy_string(char *dst, size_t cap, const char *src, const char *what)
{
    if (NULL == src)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "%s must not be NULL", what);
    }
    size_t n = strlen(src);
    if (n >= cap)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "%s is too long (%zu bytes, at most %zu)", what, n, cap - 1);
    }
    memcpy(dst, src, n + 1);
    return 0;
}

int tp_context_init(tp_context_t **out)
{
    if (NULL == out)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_context_init: out must not be NULL");
    }
    tp_context_t *ctx = calloc(1, sizeof(*ctx));
    if (NULL == ctx)
    {
        return tp_err_set(TP_ERR_NO_MEMORY, "tp_context_init: out of memory");
    }
    tp_transport_context_t tctx;
    tp_transport_context_init(&tctx);
    snprintf(ctx->backend, sizeof(ctx->backend), "%s", tctx.backend);
    snprintf(ctx->transport_dir, sizeof(ctx->transport_dir), "%s", tctx.dir);
    static const int32_t defaults[TP_STREAM_KIND_COUNT] = { 1000, 1000, 1100, 1200, 1300 };
    for (int i = 0; i < TP_STREAM_KIND_COUNT; i++)
    {
        snprintf(ctx->channel[i], sizeof(ctx->channel[i]), "aeron:ipc");
        ctx->stream_id[i] = defaults[i];
    }
    const char *base = getenv("TP_SHM_BASE_DIR");
    snprintf(ctx->shm_base_dir, sizeof(ctx->shm_base_dir), "%s", (base && base[0]) ? base : "/dev/shm");
    const char *ns = getenv("TP_NAMESPACE");
    snprintf(ctx->namespace_name, sizeof(ctx->namespace_name), "%s", (ns && ns[0]) ? ns : "default");
    ctx->announce_period_ns = TP_NS_PER_S;
    ctx->qos_interval_ns = TP_NS_PER_S;
    ctx->hello_interval_ns = TP_NS_PER_S;
    ctx->client_timeout_ns = 10 * TP_NS_PER_S;
    ctx->driver_keepalive_ns = TP_NS_PER_S;
    const char *dm = getenv("TP_DRIVER_MODE");
    ctx->driver_mode = NULL != dm && (0 == strcmp(dm, "1") || 0 == strcmp(dm, "true"));
    const char *ml = getenv("TP_MLOCK_SHM");
    ctx->mlock_shm = NULL != ml && (0 == strcmp(ml, "1") || 0 == strcmp(ml, "true"));
    snprintf(ctx->idle_strategy, sizeof(ctx->idle_strategy), "backoff");
    *out = ctx;
    return 0;
}

int tp_context_close(tp_context_t *ctx)
{
    free(ctx);
    return 0;
}

#define CHECK_CTX(fn)                                                                                     \
    if (NULL == ctx)                                                                                      \
    {                                                                                                     \
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, fn ": ctx must not be NULL");                          \
    }

int tp_context_set_transport_backend(tp_context_t *ctx, const char *backend)
{
    CHECK_CTX("tp_context_set_transport_backend");
    if (NULL == backend || (0 != strcmp(backend, "embedded") && 0 != strcmp(backend, "aeron")))
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "transport backend must be \"embedded\" or \"aeron\", got \"%s\"",
            backend ? backend : "(null)");
    }
    return copy_string(ctx->backend, sizeof(ctx->backend), backend, "transport backend");
}

int tp_context_set_transport_dir(tp_context_t *ctx, const char *dir)
{
    CHECK_CTX("tp_context_set_transport_dir");
    return copy_string(ctx->transport_dir, sizeof(ctx->transport_dir), dir, "transport dir");
}

int tp_context_set_stream(tp_context_t *ctx, tp_stream_kind_t kind, const char *channel, int32_t stream_id)
{
    CHECK_CTX("tp_context_set_stream");
    if ((int)kind < 0 || kind >= TP_STREAM_KIND_COUNT)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_context_set_stream: unknown stream kind %d", (int)kind);
    }
    if (NULL == channel || 0 != strncmp(channel, "aeron:", 6))
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT,
            "tp_context_set_stream: channel must be an Aeron channel URI (aeron:ipc, aeron:udp?endpoint=...), got \"%s\"",
            channel ? channel : "(null)");
    }
    if (copy_string(ctx->channel[kind], sizeof(ctx->channel[kind]), channel, "channel") < 0)
    {
        return -1;
    }
    ctx->stream_id[kind] = stream_id;
    if (TP_STREAM_ANNOUNCE == kind)
    {
        ctx->announce_set = true;
    }
    else if (TP_STREAM_CONTROL == kind && !ctx->announce_set)
    {
        memcpy(ctx->channel[TP_STREAM_ANNOUNCE], ctx->channel[TP_STREAM_CONTROL], sizeof(ctx->channel[0]));
        ctx->stream_id[TP_STREAM_ANNOUNCE] = stream_id;
    }
    return 0;
}

const char *tp_context_get_stream_channel(const tp_context_t *ctx, tp_stream_kind_t kind)
{
    if (NULL == ctx || (int)kind < 0 || kind >= TP_STREAM_KIND_COUNT)
    {
        return "";
    }
    return ctx->channel[kind];
}

int32_t tp_context_get_stream_id(const tp_context_t *ctx, tp_stream_kind_t kind)
{
    if (NULL == ctx || (int)kind < 0 || kind >= TP_STREAM_KIND_COUNT)
    {
        return -1;
    }
    return ctx->stream_id[kind];
}

const char *tp_context_get_transport_backend(const tp_context_t *ctx)
{
    return NULL != ctx ? ctx->backend : NULL;
}

const char *tp_context_get_transport_dir(const tp_context_t *ctx)
{
    return NULL != ctx ? ctx->transport_dir : NULL;
}

const char *tp_context_get_shm_base_dir(const tp_context_t *ctx)
{
    return NULL != ctx ? ctx->shm_base_dir : NULL;
}

const char *tp_context_get_namespace(const tp_context_t *ctx)
{
    return NULL != ctx ? ctx->namespace_name : NULL;
}

size_t tp_context_get_allowed_base_dir_count(const tp_context_t *ctx)
{
    return NULL != ctx ? ctx->allowed_dir_count : 0;
}

const char *tp_context_get_allowed_base_dir(const tp_context_t *ctx, size_t index)
{
    return NULL != ctx && index < ctx->allowed_dir_count ? ctx->allowed_dirs[index] : NULL;
}

uint64_t tp_context_get_announce_period_ns(const tp_context_t *ctx)
{
    return NULL != ctx ? ctx->announce_period_ns : 0;
}

uint64_t tp_context_get_qos_interval_ns(const tp_context_t *ctx)
{
    return NULL != ctx ? ctx->qos_interval_ns : 0;
}

uint64_t tp_context_get_hello_interval_ns(const tp_context_t *ctx)
{
    return NULL != ctx ? ctx->hello_interval_ns : 0;
}

uint64_t tp_context_get_freshness_window_ns(const tp_context_t *ctx)
{
    return NULL != ctx ? ctx->freshness_window_ns : 0;
}

uint64_t tp_context_get_consumer_stale_timeout_ns(const tp_context_t *ctx)
{
    return NULL != ctx ? ctx->consumer_stale_timeout_ns : 0;
}

bool tp_context_get_use_conductor_thread(const tp_context_t *ctx)
{
    return NULL != ctx && ctx->use_conductor_thread;
}

const char *tp_context_get_idle_strategy(const tp_context_t *ctx)
{
    return NULL != ctx ? ctx->idle_strategy : NULL;
}

tp_error_handler_t tp_context_get_error_handler(const tp_context_t *ctx, void **clientd)
{
    if (NULL != clientd)
    {
        *clientd = NULL != ctx ? ctx->error_handler_clientd : NULL;
    }
    return NULL != ctx ? ctx->error_handler : NULL;
}

uint64_t tp_context_get_client_timeout_ns(const tp_context_t *ctx)
{
    return NULL != ctx ? ctx->client_timeout_ns : 0;
}

bool tp_context_same_stream(const tp_context_t *ctx, tp_stream_kind_t a, tp_stream_kind_t b)
{
    return ctx->stream_id[a] == ctx->stream_id[b] && 0 == strcmp(ctx->channel[a], ctx->channel[b]);
}

int tp_context_set_shm_base_dir(tp_context_t *ctx, const char *dir)
{
    CHECK_CTX("tp_context_set_shm_base_dir");
    if (NULL == dir || dir[0] != '/')
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "SHM base dir must be an absolute path, got \"%s\"",
            dir ? dir : "(null)");
    }
    return copy_string(ctx->shm_base_dir, sizeof(ctx->shm_base_dir), dir, "SHM base dir");
}

int tp_context_set_namespace(tp_context_t *ctx, const char *namespace_name)
{
    CHECK_CTX("tp_context_set_namespace");
    if (tp_shm_name_validate("namespace", namespace_name) < 0)
    {
        return -1;
    }
    return copy_string(ctx->namespace_name, sizeof(ctx->namespace_name), namespace_name, "namespace");
}

int tp_context_add_allowed_base_dir(tp_context_t *ctx, const char *dir)
{
    CHECK_CTX("tp_context_add_allowed_base_dir");
    if (ctx->allowed_dir_count >= TP_CLIENT_MAX_ALLOWED_DIRS)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "at most %d allowed base dirs", TP_CLIENT_MAX_ALLOWED_DIRS);
    }
    if (NULL == dir || dir[0] != '/')
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "allowed base dir must be absolute, got \"%s\"", dir ? dir : "(null)");
    }
    if (copy_string(ctx->allowed_dirs[ctx->allowed_dir_count], PATH_MAX, dir, "allowed base dir") < 0)
    {
        return -1;
    }
    ctx->allowed_dir_count++;
    return 0;
}

#define SET_PERIOD(fn, field)                                                                             \
    int fn(tp_context_t *ctx, uint64_t value)                                                             \
    {                                                                                                     \
        CHECK_CTX(#fn);                                                                                   \
        if (0 == value)                                                                                   \
        {                                                                                                 \
            return tp_err_set(TP_ERR_INVALID_ARGUMENT, #fn ": must be > 0");                               \
        }                                                                                                 \
        ctx->field = value;                                                                               \
        return 0;                                                                                         \
    }

SET_PERIOD(tp_context_set_announce_period_ns, announce_period_ns)
SET_PERIOD(tp_context_set_qos_interval_ns, qos_interval_ns)
SET_PERIOD(tp_context_set_hello_interval_ns, hello_interval_ns)
SET_PERIOD(tp_context_set_client_timeout_ns, client_timeout_ns)
SET_PERIOD(tp_context_set_driver_keepalive_ns, driver_keepalive_ns)

int tp_context_set_driver_mode(tp_context_t *ctx, bool enabled)
{
    CHECK_CTX("tp_context_set_driver_mode");
    ctx->driver_mode = enabled;
    return 0;
}

bool tp_context_driver_mode(const tp_context_t *ctx)
{
    return NULL != ctx && ctx->driver_mode;
}

uint64_t tp_context_driver_keepalive_ns(const tp_context_t *ctx)
{
    return NULL == ctx ? 0 : ctx->driver_keepalive_ns;
}

int tp_context_set_freshness_window_ns(tp_context_t *ctx, uint64_t window_ns)
{
    CHECK_CTX("tp_context_set_freshness_window_ns");
    ctx->freshness_window_ns = window_ns;
    return 0;
}

int tp_context_set_consumer_stale_timeout_ns(tp_context_t *ctx, uint64_t timeout_ns)
{
    CHECK_CTX("tp_context_set_consumer_stale_timeout_ns");
    ctx->consumer_stale_timeout_ns = timeout_ns;
    return 0;
}

int tp_context_set_use_conductor_thread(tp_context_t *ctx, bool use_thread)
{
    CHECK_CTX("tp_context_set_use_conductor_thread");
    ctx->use_conductor_thread = use_thread;
    return 0;
}

int tp_context_set_idle_strategy(tp_context_t *ctx, const char *name)
{
    CHECK_CTX("tp_context_set_idle_strategy");
    tp_idle_strategy_t probe;
    if (NULL == name || tp_idle_strategy_init_from_name(&probe, name) < 0)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT,
            "unknown idle strategy \"%s\" (use backoff, sleep, yield, spin or noop)", name ? name : "(null)");
    }
    return copy_string(ctx->idle_strategy, sizeof(ctx->idle_strategy), name, "idle strategy");
}

int tp_context_set_error_handler(tp_context_t *ctx, tp_error_handler_t handler, void *clientd)
{
    CHECK_CTX("tp_context_set_error_handler");
    ctx->error_handler = handler;
    ctx->error_handler_clientd = clientd;
    return 0;
}

int tp_context_set_mlock_shm(tp_context_t *ctx, bool enabled)
{
    CHECK_CTX("tp_context_set_mlock_shm");
    ctx->mlock_shm = enabled;
    return 0;
}

bool tp_context_get_mlock_shm(const tp_context_t *ctx)
{
    return NULL != ctx && ctx->mlock_shm;
}

int tp_context_set_client_id_source(tp_context_t *ctx, uint32_t (*source)(void *clientd), void *clientd)
{
    CHECK_CTX("tp_context_set_client_id_source");
    ctx->client_id_source = source;
    ctx->client_id_source_clientd = clientd;
    return 0;
}

uint32_t tp_context_next_client_id(const tp_context_t *ctx)
{
    uint32_t id = NULL != ctx->client_id_source ? ctx->client_id_source(ctx->client_id_source_clientd) : 0;
    return 0 != id ? id : tp_driver_lease_random_client_id();
}

int tp_context_set_transport_faults(tp_context_t *ctx, const tp_transport_faults_t *faults)
{
    CHECK_CTX("tp_context_set_transport_faults");
    ctx->transport_faults = faults;
    return 0;
}

uint64_t tp_context_freshness_ns(const tp_context_t *ctx)
{
    return ctx->freshness_window_ns ? ctx->freshness_window_ns : 3 * ctx->announce_period_ns;
}

uint64_t tp_context_stale_ns(const tp_context_t *ctx)
{
    uint64_t base = ctx->hello_interval_ns > ctx->qos_interval_ns ? ctx->hello_interval_ns : ctx->qos_interval_ns;
    return ctx->consumer_stale_timeout_ns ? ctx->consumer_stale_timeout_ns : 4 * base;
}
