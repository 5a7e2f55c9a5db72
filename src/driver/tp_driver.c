/*
 * The SHM driver agent: lifecycle and duty cycle. Streams and regions are in
 * tp_driver_streams.c, the control plane in tp_driver_control.c.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/tp_clock.h"
#include "common/tp_error.h"
#include "common/tp_idle_strategy.h"
#include "common/tp_log.h"
#include "driver/tp_driver_internal.h"

#define TP_DRIVER_GC_PERIOD_NS (1000000000ull)

static bool same_stream(const char *ca, uint32_t sa, const char *cb, uint32_t sb)
{
    return sa == sb && 0 == strcmp(ca, cb);
}

static int driver_duty_cycle(void *state)
{
    return tp_driver_do_work((tp_driver_t *)state);
}

int tp_driver_init(tp_driver_t **out, const tp_driver_config_t *config)
{
    if (NULL == out || NULL == config)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_driver_init: out and config must not be NULL");
    }
    if (tp_driver_config_validate(config) < 0)
    {
        return tp_err_prepend("tp_driver_init");
    }
    tp_driver_t *d = calloc(1, sizeof(*d));
    if (NULL == d)
    {
        return tp_err_set(TP_ERR_NO_MEMORY, "tp_driver_init: out of memory");
    }
    memcpy(&d->config, config, sizeof(*config));
    d->next_lease_id = 1;
    const tp_driver_config_t *c = &d->config;

    /* the base directory must exist: the driver creates the canonical tree below it, never the base itself */
    const char *dirs[TP_DRIVER_MAX_ALLOWED_DIRS];
    size_t ndirs = 0;
    if (0 == c->allowed_dir_count)
    {
        dirs[ndirs++] = c->shm_base_dir;
    }
    for (size_t i = 0; i < c->allowed_dir_count; i++)
    {
        dirs[ndirs++] = c->allowed_dirs[i];
    }
    if (tp_shm_allowlist_init(&d->allowlist, dirs, ndirs) < 0)
    {
        tp_err_prepend("driver: shm.base_dir / shm.allowed_base_dirs");
        free(d);
        return -1;
    }
    char canonical[PATH_MAX];
    if (NULL == realpath(c->shm_base_dir, canonical))
    {
        tp_err_set_errno(errno, "driver: shm.base_dir %s must exist (the driver creates the canonical tree below it)",
            c->shm_base_dir);
        tp_shm_allowlist_close(d->allowlist);
        free(d);
        return -1;
    }
    bool inside = false;
    for (size_t i = 0; i < tp_shm_allowlist_count(d->allowlist); i++)
    {
        const char *a = tp_shm_allowlist_dir(d->allowlist, i);
        size_t n = strlen(a);
        inside = inside || (0 == strncmp(canonical, a, n) && ('\0' == canonical[n] || '/' == canonical[n] || 1 == n));
    }
    if (!inside)
    {
        tp_err_set(TP_ERR_CONFIG, "driver: shm.base_dir %s is outside shm.allowed_base_dirs", canonical);
        tp_shm_allowlist_close(d->allowlist);
        free(d);
        return -1;
    }

    tp_transport_context_t tctx;
    tp_transport_context_init(&tctx);
    if (tp_transport_context_set_backend(&tctx, c->transport_backend) < 0 ||
        tp_transport_context_set_dir(&tctx, c->transport_dir) < 0 || tp_transport_init(&d->transport, &tctx) < 0)
    {
        tp_err_prepend("driver: transport");
        tp_shm_allowlist_close(d->allowlist);
        free(d);
        return -1;
    }
    if (tp_transport_add_subscription(&d->control_sub, d->transport, c->control_channel,
            (int32_t)c->control_stream_id, NULL, NULL, NULL, NULL, 0) < 0 ||
        tp_transport_add_publication(&d->control_pub, d->transport, c->control_channel, (int32_t)c->control_stream_id,
            0) < 0)
    {
        tp_err_prepend("driver: control stream %s / %u", c->control_channel, c->control_stream_id);
        tp_driver_close(d);
        return -1;
    }
    if (same_stream(c->control_channel, c->control_stream_id, c->announce_channel, c->announce_stream_id))
    {
        d->announce_pub = d->control_pub;
    }
    else if (tp_transport_add_publication(&d->announce_pub, d->transport, c->announce_channel,
                 (int32_t)c->announce_stream_id, 0) < 0)
    {
        tp_err_prepend("driver: announce stream %s / %u", c->announce_channel, c->announce_stream_id);
        tp_driver_close(d);
        return -1;
    }
    if (d->announce_pub != d->control_pub &&
        tp_transport_add_subscription(&d->announce_sub, d->transport, c->announce_channel,
            (int32_t)c->announce_stream_id, NULL, NULL, NULL, NULL, 0) < 0)
    {
        tp_err_prepend("driver: announce stream %s / %u", c->announce_channel, c->announce_stream_id);
        tp_driver_close(d);
        return -1;
    }
    if (tp_transport_add_subscription(&d->qos_sub, d->transport, c->qos_channel, (int32_t)c->qos_stream_id, NULL, NULL,
            NULL, NULL, 0) < 0)
    {
        tp_err_prepend("driver: QoS stream %s / %u", c->qos_channel, c->qos_stream_id);
        tp_driver_close(d);
        return -1;
    }
    if (tp_driver_discovery_init(d) < 0)
    {
        tp_driver_close(d);
        return -1;
    }
    if (c->epoch_gc_enabled && c->epoch_gc_on_startup)
    {
        tp_driver_gc(d, tp_clock_mono_ns(), false);
    }
    d->initialized = true;
    TP_LOG_INFO("driver", "%s: control %s/%u, announce %s/%u, shm %s namespace %s, %zu profiles, %zu streams",
        c->instance_id, c->control_channel, c->control_stream_id, c->announce_channel, c->announce_stream_id,
        c->shm_base_dir, c->shm_namespace, c->profile_count, c->stream_count);
    *out = d;
    return 0;
}

int tp_driver_start(tp_driver_t *d)
{
    if (NULL == d || d->runner_started)
    {
        return tp_err_set(TP_ERR_STATE, "tp_driver_start: NULL driver or already started");
    }
    tp_idle_strategy_t idle;
    tp_idle_strategy_init_backoff(&idle, 10, 20, 1000, 1000000);
    if (tp_agent_runner_init(&d->runner, "tp-driver", d, NULL, driver_duty_cycle, NULL, &idle) < 0 ||
        tp_agent_runner_start(&d->runner) < 0)
    {
        return tp_err_prepend("tp_driver_start");
    }
    d->runner_started = true;
    return 0;
}

void tp_driver_request_shutdown(tp_driver_t *d)
{
    if (NULL != d)
    {
        atomic_store(&d->shutdown_requested, true);
    }
}

bool tp_driver_is_terminated(const tp_driver_t *d)
{
    return NULL == d || atomic_load(&((tp_driver_t *)d)->terminated);
}

static int shutdown_work(tp_driver_t *d, uint64_t now_ns)
{
    if (!d->draining)
    {
        d->draining = true;
        d->drain_deadline_ns = now_ns + (uint64_t)d->config.shutdown_timeout_ms * 1000000ull;
        TP_LOG_INFO("driver", "draining for %u ms", d->config.shutdown_timeout_ms);
        /* final announce of every stream, then the leases end (no new epochs while draining) */
        for (size_t i = 0; i < d->stream_count; i++)
        {
            tp_driver_stream_announce(d, &d->streams[i], now_ns);
        }
        return 1;
    }
    if (now_ns >= d->drain_deadline_ns && !d->shutdown_sent)
    {
        tp_driver_leases_revoke_all(d, now_ns);
        tp_driver_send_shutdown(d, now_ns, d->shutdown_reason, "driver shutdown");
        d->shutdown_sent = true;
        atomic_store(&d->terminated, true);
        TP_LOG_INFO("driver", "shut down");
        return 1;
    }
    return 0;
}

int tp_driver_do_work(tp_driver_t *d)
{
    if (NULL == d)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_driver_do_work: NULL driver");
    }
    if (atomic_load(&d->terminated))
    {
        return 0;
    }
    uint64_t now_ns = tp_clock_mono_ns();
    int work = 0;
    if (tp_transport_do_work(d->transport) < 0)
    {
        return tp_err_prepend("driver: transport");
    }
    work += tp_driver_control_poll(d, now_ns);
    work += tp_driver_announce_poll(d);
    if (atomic_load(&d->shutdown_requested))
    {
        work += shutdown_work(d, now_ns);
        if (atomic_load(&d->terminated))
        {
            return work;
        }
    }
    work += tp_driver_leases_check(d, now_ns);
    work += tp_driver_streams_do_work(d, now_ns);
    work += tp_driver_supervisor_do_work(d, now_ns);
    work += tp_driver_discovery_do_work(d, now_ns);
    if (d->config.epoch_gc_enabled && now_ns - d->last_gc_ns >= TP_DRIVER_GC_PERIOD_NS)
    {
        d->last_gc_ns = now_ns;
        work += tp_driver_gc(d, now_ns, false);
    }
    return work;
}

int tp_driver_stats(const tp_driver_t *driver, tp_driver_stats_t *s)
{
    if (NULL == driver || NULL == s)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_driver_stats: NULL argument");
    }
    tp_driver_t *d = (tp_driver_t *)driver;
    memset(s, 0, sizeof(*s));
#define LOAD(i) atomic_load_explicit(&d->counters[i], memory_order_relaxed)
    s->attach_requests = LOAD(TP_DRV_C_ATTACH);
    s->attach_ok = LOAD(TP_DRV_C_ATTACH_OK);
    s->attach_rejected = LOAD(TP_DRV_C_ATTACH_REJECTED);
    s->keepalives = LOAD(TP_DRV_C_KEEPALIVE);
    s->keepalives_unknown = LOAD(TP_DRV_C_KEEPALIVE_UNKNOWN);
    s->detaches = LOAD(TP_DRV_C_DETACH);
    s->leases_expired = LOAD(TP_DRV_C_EXPIRED);
    s->leases_revoked = LOAD(TP_DRV_C_REVOKED);
    s->epochs_created = LOAD(TP_DRV_C_EPOCHS);
    s->epochs_collected = LOAD(TP_DRV_C_GC);
    s->announces = LOAD(TP_DRV_C_ANNOUNCES);
    s->malformed = LOAD(TP_DRV_C_MALFORMED);
    s->active_leases = LOAD(TP_DRV_C_ACTIVE_LEASES);
    s->streams = LOAD(TP_DRV_C_STREAMS);
    s->consumers = LOAD(TP_DRV_C_CONSUMERS);
    s->consumers_stale = LOAD(TP_DRV_C_CONSUMERS_STALE);
    s->consumer_configs = LOAD(TP_DRV_C_CONFIGS);
    s->per_consumer_assigned = LOAD(TP_DRV_C_PER_CONSUMER_ASSIGNED);
    s->per_consumer_declined = LOAD(TP_DRV_C_PER_CONSUMER_DECLINED);
    s->qos_messages = LOAD(TP_DRV_C_QOS);
    s->drops_gap = LOAD(TP_DRV_C_DROPS_GAP);
    s->drops_late = LOAD(TP_DRV_C_DROPS_LATE);
    s->foreign_driver_messages = LOAD(TP_DRV_C_FOREIGN_DRIVER);
    s->foreign_announces = LOAD(TP_DRV_C_FOREIGN_ANNOUNCE);
    s->last_foreign_session = atomic_load_explicit(&d->last_foreign_session, memory_order_relaxed);
#undef LOAD
    for (int i = 0; i < TP_DRIVER_REJECT_COUNT; i++)
    {
        s->rejects_by_reason[i] = atomic_load_explicit(&d->rejects[i], memory_order_relaxed);
    }
    return 0;
}

int tp_driver_close(tp_driver_t *d)
{
    if (NULL == d)
    {
        return 0;
    }
    if (d->runner_started)
    {
        tp_agent_runner_stop(&d->runner, 10ull * 1000000000ull);
        d->runner_started = false;
    }
    if (d->initialized && !d->shutdown_sent)
    {
        uint64_t now_ns = tp_clock_mono_ns();
        d->draining = true;
        tp_driver_leases_revoke_all(d, now_ns);
        tp_driver_send_shutdown(d, now_ns, 0, "driver closed");
        d->shutdown_sent = true;
    }
    tp_driver_discovery_close(d);
    tp_driver_streams_close(d, d->config.cleanup_shm_on_exit);
    if (d->config.cleanup_shm_on_exit)
    {
        tp_driver_gc(d, tp_clock_mono_ns(), true);
    }
    if (NULL != d->announce_pub && d->announce_pub != d->control_pub)
    {
        tp_publication_close(d->announce_pub);
    }
    tp_publication_close(d->control_pub);
    tp_subscription_close(d->control_sub);
    tp_subscription_close(d->announce_sub);
    tp_subscription_close(d->qos_sub);
    tp_transport_close(d->transport);
    tp_shm_allowlist_close(d->allowlist);
    atomic_store(&d->terminated, true);
    free(d);
    return 0;
}
