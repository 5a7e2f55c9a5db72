/*
 * Rate limiter agent (RateLimiter spec §3-§7): creation, the frame path
 * (source consumer callback -> staged destination claim -> commit when the
 * rate slot opens), epochs, the duty cycle, stats and close.
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/tp_clock.h"
#include "common/tp_error.h"
#include "common/tp_log.h"
#include "ratelimit/tp_ratelimit_internal.h"
#include "tensor_pool/tp_shm.h"

static const char *const drop_names[TP_RATELIMIT_DROP_COUNT] = { "rate", "dest_too_small", "claim", "source_late",
    "epoch", "seq", "invalid" };

const char *tp_ratelimit_drop_reason_name(int reason)
{
    return reason >= 0 && reason < TP_RATELIMIT_DROP_COUNT ? drop_names[reason] : "unknown";
}

static uint64_t default_clock(void *clientd)
{
    (void)clientd;
    return tp_clock_mono_ns();
}

static void drop(tp_rl_mapping_t *m, tp_ratelimit_drop_reason_t reason)
{
    TP_RL_STAT_ADD(m, drops[reason], 1);
}

/* ------------------------------------------------------------------------- */
/* Rate slots (§4)                                                            */
/* ------------------------------------------------------------------------- */

static void set_rate(tp_rl_mapping_t *m, uint32_t hz)
{
    if (hz == m->rate_hz && (0 == hz) == (0 == m->interval_ns))
    {
        return;
    }
    uint64_t old_interval = m->interval_ns;
    m->rate_hz = hz;
    m->interval_ns = hz ? (UINT64_C(1000000000) + hz - 1) / hz : 0;
    /* keep the time of the last publication: the next slot is one new interval after it */
    if (m->next_slot_ns > old_interval)
    {
        m->next_slot_ns = m->next_slot_ns - old_interval + m->interval_ns;
    }
    else
    {
        m->next_slot_ns = 0;
    }
    TP_RL_STAT_SET(m, rate_hz, hz);
}

void tp_rl_update_rate(tp_rl_mapping_t *m, uint64_t now_ns)
{
    if (0 != m->consumer_id && now_ns - m->consumer_seen_ns > m->rl->stale_ns)
    {
        TP_LOG_INFO("ratelimit", "stream %u: consumer %u sent no ConsumerHello for %llu ms: back to the configured "
            "rate (%u Hz)", m->cfg.dest_stream_id, m->consumer_id,
            (unsigned long long)((now_ns - m->consumer_seen_ns) / 1000000u), m->fallback_rate_hz);
        m->consumer_id = 0;
        TP_RL_STAT_SET(m, consumer_id, 0);
    }
    set_rate(m, 0 != m->consumer_id ? m->consumer_rate_hz : m->fallback_rate_hz);
}

/* ------------------------------------------------------------------------- */
/* Staged frame                                                               */
/* ------------------------------------------------------------------------- */

static void abort_staged(tp_rl_mapping_t *m, tp_ratelimit_drop_reason_t reason)
{
    if (m->staged)
    {
        tp_frame_claim_abort(&m->claim);
        m->staged = false;
        drop(m, reason);
    }
}

/* Commit the staged frame: seq, timestamp, meta_version and trace_id of the source (§5). */
static void publish_staged(tp_rl_mapping_t *m, uint64_t now_ns)
{
    tp_frame_options_t options = { .timestamp_ns = m->timestamp_ns, .trace_id = m->trace_id };
    if (TP_NULL_META_VERSION != m->meta_version)
    {
        tp_producer_set_meta_version(m->producer, m->meta_version);
    }
    int64_t rc = tp_frame_claim_commit(&m->claim, &m->tensor, m->length, &options);
    m->staged = false;
    if (rc >= 0 || TP_PRODUCER_QUEUED == rc || TP_PRODUCER_BACK_PRESSURED == rc || TP_PRODUCER_DEFERRED == rc)
    {
        /* committed, or committed and waiting for descriptor space (flushed by the next duty cycles) */
        TP_RL_STAT_ADD(m, frames_out, 1);
        TP_RL_STAT_ADD(m, bytes_out, m->length);
    }
    else if (TP_PRODUCER_NOT_ATTACHED == rc)
    {
        drop(m, TP_RATELIMIT_DROP_CLAIM); /* the producer aborted the claim itself */
    }
    else
    {
        tp_log_write_limited(&m->log_frame, TP_LOG_LIMIT_INTERVAL_NS, TP_LOG_LEVEL_WARN, "ratelimit",
            "stream %u: seq %llu not republished: %s", m->cfg.dest_stream_id,
            (unsigned long long)m->seq, tp_errmsg());
        if (m->claim.producer)
        {
            tp_frame_claim_abort(&m->claim);
        }
        drop(m, TP_RATELIMIT_DROP_INVALID);
    }
    m->next_slot_ns = now_ns + m->interval_ns;
}

/*
 * Move the destination to a new epoch (§7: a source epoch change is a remap
 * boundary; the source's sequence numbers restart, and a destination seq never
 * goes back within an epoch). Standalone: a layout change to the same layout
 * (inline); driver mode: a new lease, asked for asynchronously and polled by
 * the following duty cycles, so that no mapping waits for the driver.
 * Returns 0 done, 1 still waiting for the driver, -1 failed (retried).
 */
static int remap(tp_rl_mapping_t *m)
{
    abort_staged(m, TP_RATELIMIT_DROP_EPOCH);
    m->remap_pending = true;
    tp_ratelimit_t *rl = m->rl;
    if (!rl->driver_mode)
    {
        tp_producer_layout_t layout;
        if (tp_producer_layout(m->producer, &layout) < 0 || tp_producer_change_layout(m->producer, &layout) < 0)
        {
            return -1;
        }
    }
    else
    {
        if (NULL == m->pending_add)
        {
            tp_producer_config_t pc;
            tp_producer_config_defaults(&pc);
            pc.stream_id = m->cfg.dest_stream_id;
            pc.producer_id = m->producer_id;
            snprintf(pc.name, sizeof(pc.name), "%s", rl->config.instance_id);
            if (NULL != m->producer)
            {
                tp_producer_close(m->producer); /* gives the lease back: the next one has a new epoch */
                m->producer = NULL;
            }
            if (tp_client_async_add_producer(&m->pending_add, rl->dest, &pc) < 0)
            {
                m->pending_add = NULL;
                return -1;
            }
        }
        tp_producer_t *p = NULL;
        int rc = tp_client_async_add_producer_poll(&p, m->pending_add);
        if (0 == rc)
        {
            return 1;
        }
        m->pending_add = NULL; /* freed by the poll */
        if (rc < 0)
        {
            return -1;
        }
        m->producer = p;
    }
    m->remap_pending = false;
    TP_RL_STAT_SET(m, dest_epoch, tp_producer_epoch(m->producer));
    TP_LOG_INFO("ratelimit", "stream %u -> %u: source epoch %llu, destination epoch %llu", m->cfg.source_stream_id,
        m->cfg.dest_stream_id, (unsigned long long)m->source_epoch,
        (unsigned long long)tp_producer_epoch(m->producer));
    return 0;
}

static void remap_failed(tp_rl_mapping_t *m)
{
    tp_log_write_limited(&m->log_frame, TP_LOG_LIMIT_INTERVAL_NS, TP_LOG_LEVEL_WARN, "ratelimit",
        "stream %u: moving the destination to a new epoch failed (retried): %s", m->cfg.dest_stream_id, tp_errmsg());
}

/*
 * Source frame (the source consumer's callback, in the agent's duty cycle):
 * stage it as the newest candidate, replacing the one staged before.
 */
static void on_frame(void *clientd, const tp_frame_t *f)
{
    tp_rl_mapping_t *m = clientd;
    TP_RL_STAT_ADD(m, frames_in, 1);
    if (f->epoch != m->source_epoch)
    {
        if (0 != m->source_epoch)
        {
            TP_RL_STAT_ADD(m, source_epoch_changes, 1);
            abort_staged(m, TP_RATELIMIT_DROP_EPOCH); /* in flight from the old epoch */
            m->remap_pending = true;
        }
        m->source_epoch = f->epoch;
        TP_RL_STAT_SET(m, source_epoch, f->epoch);
        m->next_slot_ns = 0; /* timer reset: the first frame after the remap is eligible at once */
    }
    if (m->remap_pending)
    {
        int rc = remap(m);
        if (0 != rc)
        {
            if (rc < 0)
            {
                remap_failed(m);
            }
            drop(m, TP_RATELIMIT_DROP_EPOCH); /* until the destination is in its new epoch */
            return;
        }
    }
    if (NULL == m->producer)
    {
        drop(m, TP_RATELIMIT_DROP_CLAIM);
        return;
    }
    if (!m->staged && !m->remap_pending && f->seq + 1 < tp_producer_next_seq(m->producer))
    {
        /*
         * Below the last republished seq within the same epoch number: the source restarted without a new epoch
         * (e.g. a standalone producer whose directory was removed). Same treatment as an epoch change, else
         * every frame would be dropped until the source caught up (DECISIONS RL-5).
         */
        TP_LOG_INFO("ratelimit", "stream %u: seq went back from %llu to %llu in epoch %llu: treated as a remap",
            m->cfg.source_stream_id, (unsigned long long)(tp_producer_next_seq(m->producer) - 1),
            (unsigned long long)f->seq, (unsigned long long)f->epoch);
        TP_RL_STAT_ADD(m, source_epoch_changes, 1);
        m->next_slot_ns = 0;
        int rc = remap(m);
        if (0 != rc)
        {
            if (rc < 0)
            {
                remap_failed(m);
            }
            drop(m, TP_RATELIMIT_DROP_EPOCH);
            return;
        }
    }
    if (m->staged)
    {
        if (f->seq <= m->seq)
        {
            drop(m, TP_RATELIMIT_DROP_SEQ);
            return;
        }
        abort_staged(m, TP_RATELIMIT_DROP_RATE); /* superseded before its slot opened */
    }
    if (tp_producer_set_next_seq(m->producer, f->seq) < 0)
    {
        drop(m, TP_ERR_STATE == tp_errcode() ? TP_RATELIMIT_DROP_CLAIM : TP_RATELIMIT_DROP_SEQ);
        return;
    }
    int64_t rc = tp_producer_try_claim(m->producer, f->length, &m->claim);
    if (rc < 0)
    {
        drop(m, TP_PRODUCER_NO_POOL == rc ? TP_RATELIMIT_DROP_DEST_TOO_SMALL : TP_RATELIMIT_DROP_CLAIM);
        return;
    }
    if (f->length > 0)
    {
        memcpy(m->claim.data, f->payload, f->length);
    }
    if (NULL != m->rl->test_after_copy)
    {
        m->rl->test_after_copy(m->rl->test_after_copy_clientd, f);
    }
    if (!tp_frame_is_valid(f))
    {
        tp_frame_claim_abort(&m->claim);
        drop(m, TP_RATELIMIT_DROP_SOURCE_LATE);
        return;
    }
    m->tensor = *f->tensor;
    m->length = f->length;
    m->seq = f->seq;
    m->timestamp_ns = f->timestamp_ns;
    m->trace_id = f->trace_id;
    m->meta_version = f->meta_version;
    m->staged = true;
    if (0 == m->interval_ns)
    {
        publish_staged(m, m->rl->now_ns); /* unlimited: every frame passes */
    }
}

/* ------------------------------------------------------------------------- */
/* Duty cycle                                                                 */
/* ------------------------------------------------------------------------- */

static int duty_cycle(void *state)
{
    tp_ratelimit_t *rl = state;
    int work = 0;
    rl->now_ns = rl->clock(rl->clock_clientd);
    int n = tp_rl_poll_control(rl); /* hellos first: the rate of this cycle's frames */
    work += n > 0 ? n : 0;
    for (size_t i = 0; i < rl->mapping_count; i++)
    {
        tp_rl_update_rate(&rl->mappings[i], rl->now_ns);
    }
    n = tp_client_do_work(rl->source); /* frame callbacks stage candidates */
    if (n < 0)
    {
        return -1;
    }
    work += n;
    for (size_t i = 0; i < rl->mapping_count; i++)
    {
        tp_rl_mapping_t *m = &rl->mappings[i];
        if (m->remap_pending && !m->staged)
        {
            int rc = remap(m);
            if (rc < 0)
            {
                remap_failed(m);
            }
            work += 0 == rc ? 1 : 0;
        }
        if (NULL == m->producer)
        {
            continue;
        }
        TP_RL_STAT_SET(m, dest_epoch, tp_producer_epoch(m->producer)); /* driver mode: a new lease, a new epoch */
        if (m->staged && rl->now_ns >= m->next_slot_ns)
        {
            publish_staged(m, rl->now_ns);
            work++;
        }
        if (!m->staged)
        {
            int f = tp_producer_flush(m->producer); /* frames committed under back pressure */
            work += f > 0 ? f : 0;
        }
    }
    n = tp_client_do_work(rl->dest);
    if (n < 0)
    {
        return -1;
    }
    return work + n;
}

int tp_ratelimit_do_work(tp_ratelimit_t *rl)
{
    if (NULL == rl)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_ratelimit_do_work: NULL agent");
    }
    if (rl->runner_started)
    {
        return tp_err_set(TP_ERR_STATE, "tp_ratelimit_do_work: the agent runs on its own thread");
    }
    return duty_cycle(rl);
}

void tp_ratelimit_set_clock(tp_ratelimit_t *rl, tp_ratelimit_clock_t clock, void *clientd)
{
    if (NULL != rl)
    {
        rl->clock = clock ? clock : default_clock;
        rl->clock_clientd = clock ? clientd : NULL;
    }
}

int tp_ratelimit_start(tp_ratelimit_t *rl)
{
    if (NULL == rl)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_ratelimit_start: NULL agent");
    }
    if (rl->runner_started)
    {
        return tp_err_set(TP_ERR_STATE, "tp_ratelimit_start: already started");
    }
    if (tp_agent_runner_init(&rl->runner, "tp-ratelimit", rl, NULL, duty_cycle, NULL, NULL) < 0 ||
        tp_agent_runner_start(&rl->runner) < 0)
    {
        return -1;
    }
    rl->runner_started = true;
    return 0;
}

int tp_ratelimit_stop(tp_ratelimit_t *rl)
{
    if (NULL == rl || !rl->runner_started)
    {
        return 0;
    }
    if (tp_agent_runner_stop(&rl->runner, rl->client_timeout_ns) < 0)
    {
        return -1;
    }
    rl->runner_started = false;
    return 0;
}

/* ------------------------------------------------------------------------- */
/* Creation                                                                   */
/* ------------------------------------------------------------------------- */

/* A context with every setting of `src` (contexts are opaque: through the getters). */
static int context_copy(const tp_context_t *src, tp_context_t **out)
{
    tp_context_t *c = NULL;
    if (tp_context_init(&c) < 0)
    {
        return -1;
    }
    if (NULL == src)
    {
        *out = c;
        return 0;
    }
    void *eh_clientd = NULL;
    tp_error_handler_t eh = tp_context_get_error_handler(src, &eh_clientd);
    int rc = 0;
    rc |= tp_context_set_transport_backend(c, tp_context_get_transport_backend(src));
    rc |= tp_context_set_transport_dir(c, tp_context_get_transport_dir(src));
    for (int k = TP_STREAM_KIND_COUNT - 1; k >= 0; k--) /* control last: it would move an unset announce stream */
    {
        rc |= tp_context_set_stream(c, (tp_stream_kind_t)k, tp_context_get_stream_channel(src, (tp_stream_kind_t)k),
            tp_context_get_stream_id(src, (tp_stream_kind_t)k));
    }
    rc |= tp_context_set_shm_base_dir(c, tp_context_get_shm_base_dir(src));
    rc |= tp_context_set_namespace(c, tp_context_get_namespace(src));
    for (size_t i = 0; i < tp_context_get_allowed_base_dir_count(src); i++)
    {
        rc |= tp_context_add_allowed_base_dir(c, tp_context_get_allowed_base_dir(src, i));
    }
    rc |= tp_context_set_driver_mode(c, tp_context_driver_mode(src));
    rc |= tp_context_set_driver_keepalive_ns(c, tp_context_driver_keepalive_ns(src));
    rc |= tp_context_set_announce_period_ns(c, tp_context_get_announce_period_ns(src));
    rc |= tp_context_set_qos_interval_ns(c, tp_context_get_qos_interval_ns(src));
    rc |= tp_context_set_hello_interval_ns(c, tp_context_get_hello_interval_ns(src));
    rc |= tp_context_set_freshness_window_ns(c, tp_context_get_freshness_window_ns(src));
    rc |= tp_context_set_consumer_stale_timeout_ns(c, tp_context_get_consumer_stale_timeout_ns(src));
    rc |= tp_context_set_client_timeout_ns(c, tp_context_get_client_timeout_ns(src));
    if (NULL != eh)
    {
        rc |= tp_context_set_error_handler(c, eh, eh_clientd);
    }
    rc |= tp_context_set_use_conductor_thread(c, false);
    if (0 != rc)
    {
        tp_context_close(c);
        return -1;
    }
    *out = c;
    return 0;
}

typedef struct live_check_stct
{
    uint32_t stream_id;
    char path[TP_SHM_PATH_MAX + 1];
    uint64_t pid;
} live_check_t;

static void on_epoch_dir(void *clientd, const tp_shm_gc_entry_t *e)
{
    live_check_t *lc = clientd;
    if (0 == e->pid || (uint64_t)getpid() == e->pid || e->pid > INT32_MAX)
    {
        return;
    }
    if (0 == kill((pid_t)e->pid, 0) || EPERM == errno)
    {
        lc->pid = e->pid;
        snprintf(lc->path, sizeof(lc->path), "%s", e->path);
    }
}

/*
 * Standalone exclusive producer (§3): refuse a destination stream whose
 * epoch directory belongs to another live process.
 */
static int check_exclusive(const tp_context_t *ctx, uint32_t stream_id)
{
    live_check_t lc = { .stream_id = stream_id };
    tp_shm_gc_options_t opts;
    tp_shm_gc_options_defaults(&opts);
    opts.namespace_name = tp_context_get_namespace(ctx);
    opts.only_stream = true;
    opts.stream_id = stream_id;
    opts.on_entry = on_epoch_dir;
    opts.clientd = &lc;
    if (tp_shm_gc(tp_context_get_shm_base_dir(ctx), &opts) < 0)
    {
        tp_err_clear(); /* an unreadable base dir is reported by the producer's own creation */
        return 0;
    }
    if (0 != lc.pid)
    {
        return tp_err_set(TP_ERR_STATE, "destination stream %u already has a live producer (pid %llu, %s); a rate "
            "limiter must be the sole producer of its destination stream", stream_id, (unsigned long long)lc.pid,
            lc.path);
    }
    return 0;
}

static int add_sub(tp_ratelimit_t *rl, tp_subscription_t **sub, const char *channel, uint32_t stream_id)
{
    if (tp_transport_add_subscription(sub, rl->transport, channel, (int32_t)stream_id, NULL, NULL, NULL, NULL,
            rl->client_timeout_ns) < 0)
    {
        return tp_err_prepend("subscription %s stream %u", channel, stream_id);
    }
    return 0;
}

static int add_pub(tp_ratelimit_t *rl, tp_publication_t **pub, const char *channel, uint32_t stream_id)
{
    if (tp_transport_add_publication(pub, rl->transport, channel, (int32_t)stream_id, rl->client_timeout_ns) < 0)
    {
        return tp_err_prepend("publication %s stream %u", channel, stream_id);
    }
    return 0;
}

static int open_transport(tp_ratelimit_t *rl, const tp_context_t *ctx)
{
    const tp_ratelimit_config_t *c = &rl->config;
    tp_transport_context_t tctx;
    if (tp_transport_context_init(&tctx) < 0 ||
        tp_transport_context_set_backend(&tctx, tp_context_get_transport_backend(ctx)) < 0 ||
        tp_transport_context_set_dir(&tctx, tp_context_get_transport_dir(ctx)) < 0 ||
        tp_transport_init(&rl->transport, &tctx) < 0)
    {
        return -1;
    }
    const char *control = tp_context_get_stream_channel(ctx, TP_STREAM_CONTROL);
    uint32_t control_id = (uint32_t)tp_context_get_stream_id(ctx, TP_STREAM_CONTROL);
    const char *announce = tp_context_get_stream_channel(ctx, TP_STREAM_ANNOUNCE);
    uint32_t announce_id = (uint32_t)tp_context_get_stream_id(ctx, TP_STREAM_ANNOUNCE);
    if (add_sub(rl, &rl->sub_control, control, control_id) < 0)
    {
        return -1;
    }
    if ((0 != strcmp(control, announce) || control_id != announce_id) &&
        add_sub(rl, &rl->sub_announce, announce, announce_id) < 0)
    {
        return -1;
    }
    if (c->forward_metadata)
    {
        const char *meta = tp_context_get_stream_channel(ctx, TP_STREAM_METADATA);
        uint32_t meta_id = (uint32_t)tp_context_get_stream_id(ctx, TP_STREAM_METADATA);
        if (add_sub(rl, &rl->sub_metadata, meta, meta_id) < 0 || add_pub(rl, &rl->pub_metadata, meta, meta_id) < 0)
        {
            return -1;
        }
    }
    if (c->forward_progress &&
        (add_sub(rl, &rl->sub_progress, c->control_channel, c->source_control_stream_id) < 0 ||
            add_pub(rl, &rl->pub_progress, c->control_channel, c->dest_control_stream_id) < 0))
    {
        return -1;
    }
    if (c->forward_qos && (add_sub(rl, &rl->sub_qos, c->qos_channel, c->source_qos_stream_id) < 0 ||
                              add_pub(rl, &rl->pub_qos, c->qos_channel, c->dest_qos_stream_id) < 0))
    {
        return -1;
    }
    return 0;
}

static int add_mapping(tp_ratelimit_t *rl, size_t i, const tp_context_t *dest_ctx)
{
    tp_rl_mapping_t *m = &rl->mappings[i];
    const tp_ratelimit_mapping_config_t *mc = &rl->config.mappings[i];
    m->rl = rl;
    m->index = i;
    m->cfg = *mc;
    m->fallback_rate_hz = mc->max_rate_set ? mc->max_rate_hz : rl->config.max_rate_hz;
    m->meta_stream_id = mc->metadata_stream_id ? mc->metadata_stream_id : mc->dest_stream_id;
    /* unique per process and agent: a second producer on the destination stream is told apart by its id */
    static atomic_uint next_instance = 1;
    uint32_t n = atomic_fetch_add(&next_instance, 1);
    m->producer_id = ((uint32_t)getpid() * 2654435761u) ^ (n * 40503u) ^ 0x52000000u;
    m->stats.source_stream_id = mc->source_stream_id;
    m->stats.dest_stream_id = mc->dest_stream_id;
    m->meta_version = TP_NULL_META_VERSION;
    set_rate(m, m->fallback_rate_hz);
    if (!rl->driver_mode && check_exclusive(dest_ctx, mc->dest_stream_id) < 0)
    {
        return -1;
    }
    tp_producer_config_t pc;
    tp_producer_config_defaults(&pc);
    pc.stream_id = mc->dest_stream_id;
    pc.producer_id = m->producer_id;
    pc.header_nslots = mc->header_nslots;
    pc.pool_count = mc->pool_count;
    memcpy(pc.pools, mc->pools, sizeof(pc.pools));
    pc.remove_on_close = false; /* the next start sees this epoch and takes a higher one (§7); DECISIONS RL-6 */
    snprintf(pc.name, sizeof(pc.name), "%s", rl->config.instance_id);
    if (tp_client_add_producer(&m->producer, rl->dest, &pc, rl->client_timeout_ns) < 0)
    {
        m->producer = NULL;
        return tp_err_prepend("mappings[%zu]: destination producer for stream %u", i, mc->dest_stream_id);
    }
    TP_RL_STAT_SET(m, dest_epoch, tp_producer_epoch(m->producer));
    tp_consumer_config_t cc;
    tp_consumer_config_defaults(&cc);
    cc.stream_id = mc->source_stream_id;
    cc.on_frame = on_frame;
    cc.clientd = m;
    cc.mode = TP_CONSUMER_MODE_STREAM;
    cc.use_metadata = false; /* metadata is forwarded from the raw stream (§6) */
    if (tp_client_add_consumer(&m->consumer, rl->source, &cc, rl->client_timeout_ns) < 0)
    {
        m->consumer = NULL;
        return tp_err_prepend("mappings[%zu]: source consumer for stream %u", i, mc->source_stream_id);
    }
    return 0;
}

int tp_ratelimit_init(tp_ratelimit_t **out, const tp_ratelimit_config_t *config, const tp_context_t *ctx)
{
    return tp_rl_init(out, config, ctx, NULL);
}

int tp_rl_init(tp_ratelimit_t **out, const tp_ratelimit_config_t *config, const tp_context_t *ctx,
    const tp_context_t *dest_ctx)
{
    if (NULL == out || NULL == config)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_ratelimit_init: NULL argument");
    }
    if (tp_ratelimit_config_validate(config) < 0)
    {
        return -1;
    }
    tp_ratelimit_t *rl = calloc(1, sizeof(*rl));
    if (NULL == rl)
    {
        return tp_err_set(TP_ERR_NO_MEMORY, "tp_ratelimit_init: out of memory");
    }
    rl->config = *config;
    rl->clock = default_clock;
    tp_context_t *sctx = NULL;
    tp_context_t *dctx = NULL;
    int rc = -1;
    if (context_copy(ctx, &sctx) < 0)
    {
        goto done;
    }
    if ('\0' != config->shm_base_dir[0] && tp_context_set_shm_base_dir(sctx, config->shm_base_dir) < 0)
    {
        goto done;
    }
    if (0 != config->driver_control_stream_id)
    {
        const char *ch = config->driver_control_channel[0] ? config->driver_control_channel : config->control_channel;
        if (tp_context_set_driver_mode(sctx, true) < 0 ||
            tp_context_set_stream(sctx, TP_STREAM_CONTROL, ch, (int32_t)config->driver_control_stream_id) < 0)
        {
            goto done;
        }
    }
    rl->driver_mode = tp_context_driver_mode(sctx);
    rl->client_timeout_ns = tp_context_get_client_timeout_ns(sctx);
    uint64_t stale = tp_context_get_consumer_stale_timeout_ns(sctx);
    if (0 == stale)
    {
        uint64_t h = tp_context_get_hello_interval_ns(sctx);
        uint64_t q = tp_context_get_qos_interval_ns(sctx);
        stale = 4 * (h > q ? h : q);
    }
    rl->stale_ns = stale;
    if (NULL == dest_ctx &&
        (context_copy(sctx, &dctx) < 0 ||
            tp_context_set_stream(dctx, TP_STREAM_DESCRIPTOR, config->descriptor_channel,
                (int32_t)config->descriptor_stream_id) < 0))
    {
        goto done;
    }
    if (tp_client_init(&rl->source, sctx) < 0 || tp_client_init(&rl->dest, dest_ctx ? dest_ctx : dctx) < 0 ||
        tp_client_start(rl->source) < 0 || tp_client_start(rl->dest) < 0)
    {
        goto done;
    }
    if (open_transport(rl, sctx) < 0)
    {
        goto done;
    }
    for (size_t i = 0; i < config->mapping_count; i++)
    {
        rl->mapping_count = i + 1;
        if (add_mapping(rl, i, dest_ctx ? dest_ctx : dctx) < 0)
        {
            goto done;
        }
    }
    rc = 0;
done:
    tp_context_close(sctx);
    tp_context_close(dctx);
    if (rc < 0)
    {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", tp_errmsg());
        int code = tp_errcode();
        tp_ratelimit_close(rl);
        return tp_err_set(code ? code : TP_ERR_STATE, "rate limiter %s: %s", config->instance_id, msg);
    }
    *out = rl;
    return 0;
}

/* ------------------------------------------------------------------------- */
/* Accessors and close                                                        */
/* ------------------------------------------------------------------------- */

size_t tp_ratelimit_mapping_count(const tp_ratelimit_t *rl)
{
    return rl ? rl->mapping_count : 0;
}

tp_producer_t *tp_ratelimit_dest_producer(const tp_ratelimit_t *rl, size_t index)
{
    return rl && index < rl->mapping_count ? rl->mappings[index].producer : NULL;
}

tp_consumer_t *tp_ratelimit_source_consumer(const tp_ratelimit_t *rl, size_t index)
{
    return rl && index < rl->mapping_count ? rl->mappings[index].consumer : NULL;
}

int tp_ratelimit_stats(const tp_ratelimit_t *rl, size_t index, tp_ratelimit_stats_t *s)
{
    if (NULL == rl || NULL == s || index >= rl->mapping_count)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_ratelimit_stats: NULL argument or mapping %zu out of range",
            index);
    }
    const tp_rl_mapping_t *m = &rl->mappings[index];
    memset(s, 0, sizeof(*s));
    s->source_stream_id = m->cfg.source_stream_id;
    s->dest_stream_id = m->cfg.dest_stream_id;
#define COPY(f) s->f = TP_RL_STAT_GET(m, f)
    COPY(frames_in);
    COPY(frames_out);
    COPY(bytes_out);
    for (int i = 0; i < TP_RATELIMIT_DROP_COUNT; i++)
    {
        COPY(drops[i]);
    }
    COPY(source_epoch_changes);
    COPY(dest_epoch);
    COPY(source_epoch);
    COPY(rate_hz);
    COPY(consumer_id);
    COPY(hellos);
    COPY(hellos_ignored);
    COPY(metadata_forwarded);
    COPY(progress_forwarded);
    COPY(qos_forwarded);
    COPY(forward_failed);
    COPY(foreign_dest_announces);
#undef COPY
    return 0;
}

int tp_ratelimit_close(tp_ratelimit_t *rl)
{
    if (NULL == rl)
    {
        return 0;
    }
    if (rl->runner_started)
    {
        while (tp_ratelimit_stop(rl) < 0)
        {
            TP_LOG_WARN("ratelimit", "waiting for the agent thread to stop: %s", tp_errmsg());
        }
    }
    for (size_t i = 0; i < rl->mapping_count; i++)
    {
        tp_rl_mapping_t *m = &rl->mappings[i];
        if (m->staged)
        {
            tp_frame_claim_abort(&m->claim);
            m->staged = false;
        }
        if (m->consumer)
        {
            tp_consumer_close(m->consumer);
        }
        if (m->pending_add)
        {
            /* a destination lease asked for at a remap: wait for it (bounded), then give it back */
            tp_producer_t *p = NULL;
            int rc = 0;
            uint64_t deadline = tp_clock_mono_ns() + rl->client_timeout_ns;
            while (0 == (rc = tp_client_async_add_producer_poll(&p, m->pending_add)) && tp_clock_mono_ns() < deadline)
            {
                if (tp_client_do_work(rl->dest) <= 0)
                {
                    tp_sleep_ns(100000);
                }
            }
            if (0 == rc)
            {
                TP_LOG_WARN("ratelimit", "stream %u: a destination lease request still pending at close is left to "
                    "the client's close", m->cfg.dest_stream_id);
            }
            m->producer = 1 == rc ? p : m->producer;
        }
        if (m->producer)
        {
            tp_producer_close(m->producer);
        }
    }
    tp_client_close(rl->source);
    tp_client_close(rl->dest);
    if (rl->transport)
    {
        tp_transport_close(rl->transport); /* closes our subscriptions and publications */
    }
    free(rl);
    return 0;
}
