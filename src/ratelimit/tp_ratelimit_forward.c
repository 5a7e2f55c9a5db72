/*
 * Rate limiter control plane (RateLimiter spec §3, §4, §6, §6.1): the agent's
 * own subscriptions. ConsumerHello for a destination stream sets the rate of
 * that mapping (per-consumer mode); ShmPoolAnnounce for a destination stream
 * from another producer is counted (exclusive producer); source metadata,
 * FrameProgress and QoS are forwarded with their stream id rewritten.
 *
 * Forwarding keeps the message as received (validated by the tp_proto
 * decoder first) and rewrites only the fields the spec names, in a copy of
 * the block's first bytes sent with a gathering offer: no allocation.
 */
#include <string.h>
#include <sys/uio.h>

#include "common/tp_error.h"
#include "common/tp_log.h"
#include "protocol/tp_proto.h"
#include "protocol/tp_proto_forward.h"
#include "ratelimit/tp_ratelimit_internal.h"

/* Every forwarded message starts with streamId (uint32) at block offset 0; FrameProgress has epoch at 4. */
#define RL_PATCH_BYTES 16u

tp_rl_mapping_t *tp_rl_by_source(tp_ratelimit_t *rl, uint32_t stream_id)
{
    for (size_t i = 0; i < rl->mapping_count; i++)
    {
        if (rl->mappings[i].cfg.source_stream_id == stream_id)
        {
            return &rl->mappings[i];
        }
    }
    return NULL;
}

tp_rl_mapping_t *tp_rl_by_dest(tp_ratelimit_t *rl, uint32_t stream_id)
{
    for (size_t i = 0; i < rl->mapping_count; i++)
    {
        if (rl->mappings[i].cfg.dest_stream_id == stream_id)
        {
            return &rl->mappings[i];
        }
    }
    return NULL;
}

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
    {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
    {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

/*
 * Send `buffer` with streamId (and, when `epoch` is non-zero, the epoch at
 * block offset 4) replaced. The caller has decoded the message, so the
 * header and at least the fields rewritten are present.
 */
static bool forward(tp_rl_mapping_t *m, tp_publication_t *pub, const uint8_t *buffer, size_t length,
    uint32_t stream_id, uint64_t epoch)
{
    uint8_t head[TP_SBE_MESSAGE_HEADER_LENGTH + RL_PATCH_BYTES];
    size_t n = length < sizeof(head) ? length : sizeof(head);
    memcpy(head, buffer, n);
    put_u32(head + TP_SBE_MESSAGE_HEADER_LENGTH, stream_id);
    if (0 != epoch && n >= TP_SBE_MESSAGE_HEADER_LENGTH + 12)
    {
        put_u64(head + TP_SBE_MESSAGE_HEADER_LENGTH + 4, epoch);
    }
    struct iovec iov[2] = { { .iov_base = head, .iov_len = n },
        { .iov_base = (void *)(buffer + n), .iov_len = length - n } };
    int64_t rc = tp_publication_offerv(pub, iov, length > n ? 2 : 1, NULL, NULL);
    if (rc > 0)
    {
        return true;
    }
    if (TP_PUBLICATION_NOT_CONNECTED != rc)
    {
        TP_RL_STAT_ADD(m, forward_failed, 1); /* never retried: the sources repeat announces, metadata and QoS */
    }
    return false;
}

/* ------------------------------------------------------------------------- */
/* Control stream: ConsumerHello (§4), ShmPoolAnnounce of others (§3)        */
/* ------------------------------------------------------------------------- */

static void on_hello(tp_ratelimit_t *rl, const uint8_t *buffer, size_t length)
{
    tp_proto_consumer_hello_view_t v;
    if (tp_proto_decode_consumer_hello(buffer, length, &v) < 0)
    {
        return;
    }
    tp_rl_mapping_t *m = tp_rl_by_dest(rl, v.stream_id);
    if (NULL == m || !m->cfg.per_consumer || 0 == v.consumer_id)
    {
        return;
    }
    TP_RL_STAT_ADD(m, hellos, 1);
    if (0 != m->consumer_id && v.consumer_id != m->consumer_id)
    {
        /* no aggregation across consumers: the first one governs until it goes stale */
        TP_RL_STAT_ADD(m, hellos_ignored, 1);
        tp_log_write_limited(&m->log_hello, TP_LOG_LIMIT_INTERVAL_NS, TP_LOG_LEVEL_WARN, "ratelimit",
            "stream %u: ConsumerHello from consumer %u ignored: consumer %u governs this per-consumer rate limiter "
            "(run one instance per consumer)", m->cfg.dest_stream_id, v.consumer_id, m->consumer_id);
        return;
    }
    if (0 == m->consumer_id)
    {
        TP_LOG_INFO("ratelimit", "stream %u: consumer %u governs the rate (%u Hz)", m->cfg.dest_stream_id,
            v.consumer_id, v.max_rate_hz);
    }
    m->consumer_id = v.consumer_id;
    m->consumer_rate_hz = v.max_rate_hz; /* authoritative, 0 = unlimited */
    m->consumer_seen_ns = rl->now_ns;
    TP_RL_STAT_SET(m, consumer_id, v.consumer_id);
    tp_rl_update_rate(m, rl->now_ns);
}

static void on_announce(tp_ratelimit_t *rl, const uint8_t *buffer, size_t length)
{
    tp_proto_shm_pool_announce_view_t v;
    if (rl->driver_mode || tp_proto_decode_shm_pool_announce(buffer, length, &v) < 0)
    {
        return;
    }
    tp_rl_mapping_t *m = tp_rl_by_dest(rl, v.stream_id);
    if (NULL != m && v.producer_id != m->producer_id)
    {
        TP_RL_STAT_ADD(m, foreign_dest_announces, 1);
        tp_log_write_limited(&m->log_announce, TP_LOG_LIMIT_INTERVAL_NS, TP_LOG_LEVEL_ERROR, "ratelimit",
            "stream %u: another producer (id %u, epoch %llu) announces this rate limiter's destination stream; "
            "consumers may follow it (exclusive producer violated)", v.stream_id, v.producer_id,
            (unsigned long long)v.epoch);
    }
}

static void on_control(void *clientd, const uint8_t *buffer, size_t length, const tp_header_t *header)
{
    (void)header;
    tp_ratelimit_t *rl = clientd;
    uint16_t schema = 0;
    uint16_t template_id = 0;
    if (tp_proto_peek(buffer, length, &schema, &template_id) < 0 || TP_SBE_WIRE_SCHEMA_ID != schema)
    {
        return;
    }
    if (TP_SBE_WIRE_CONSUMER_HELLO_TEMPLATE_ID == template_id)
    {
        on_hello(rl, buffer, length);
    }
    else if (TP_SBE_WIRE_SHM_POOL_ANNOUNCE_TEMPLATE_ID == template_id)
    {
        on_announce(rl, buffer, length);
    }
}

/* ------------------------------------------------------------------------- */
/* Forwarding (§6, §6.1)                                                      */
/* ------------------------------------------------------------------------- */

static void on_metadata(void *clientd, const uint8_t *buffer, size_t length, const tp_header_t *header)
{
    (void)header;
    tp_ratelimit_t *rl = clientd;
    tp_proto_forward_view_t v;
    /* DataSourceAnnounce / DataSourceMeta (§6) and the meta blobs of wire §10.3.3 (DECISIONS BRL-1) */
    if (tp_proto_decode_forwardable(buffer, length, &v) <= 0 ||
        (TP_PROTO_FWD_METADATA != v.kind && TP_PROTO_FWD_META_BLOB != v.kind))
    {
        return;
    }
    tp_rl_mapping_t *m = tp_rl_by_source(rl, v.stream_id);
    if (NULL == m || NULL == m->producer)
    {
        return; /* our own forwarded messages come back here too: their stream ids are never sources */
    }
    if (TP_PROTO_FWD_METADATA == v.kind)
    {
        /* the destination producer's own DataSourceAnnounce then carries the same meta_version */
        tp_producer_set_meta_version(m->producer, v.meta_version);
    }
    if (forward(m, rl->pub_metadata, buffer, length, m->meta_stream_id, 0))
    {
        TP_RL_STAT_ADD(m, metadata_forwarded, 1);
    }
}

static void on_progress(void *clientd, const uint8_t *buffer, size_t length, const tp_header_t *header)
{
    (void)header;
    tp_ratelimit_t *rl = clientd;
    tp_proto_forward_view_t v;
    if (tp_proto_decode_forwardable(buffer, length, &v) <= 0 || TP_PROTO_FWD_PROGRESS != v.kind)
    {
        return;
    }
    tp_rl_mapping_t *m = tp_rl_by_source(rl, v.stream_id);
    if (NULL == m || NULL == m->producer || v.epoch != m->source_epoch || m->remap_pending)
    {
        return; /* only progress of the source epoch the destination epoch currently mirrors */
    }
    /* seq preserved; the epoch is the destination's (receivers check it against the epoch they map) */
    if (forward(m, rl->pub_progress, buffer, length, m->cfg.dest_stream_id, tp_producer_epoch(m->producer)))
    {
        TP_RL_STAT_ADD(m, progress_forwarded, 1);
    }
}

static void on_qos(void *clientd, const uint8_t *buffer, size_t length, const tp_header_t *header)
{
    (void)header;
    tp_ratelimit_t *rl = clientd;
    tp_proto_forward_view_t v;
    if (tp_proto_decode_forwardable(buffer, length, &v) <= 0 || TP_PROTO_FWD_QOS != v.kind)
    {
        return;
    }
    tp_rl_mapping_t *m = tp_rl_by_source(rl, v.stream_id);
    if (NULL == m)
    {
        return;
    }
    if (forward(m, rl->pub_qos, buffer, length, m->cfg.dest_stream_id, 0))
    {
        TP_RL_STAT_ADD(m, qos_forwarded, 1);
    }
}

int tp_rl_poll_control(tp_ratelimit_t *rl)
{
    int work = 0;
    int n = tp_transport_do_work(rl->transport);
    work += n > 0 ? n : 0;
    n = tp_subscription_poll(rl->sub_control, on_control, rl, 32);
    work += n > 0 ? n : 0;
    if (rl->sub_announce)
    {
        n = tp_subscription_poll(rl->sub_announce, on_control, rl, 32);
        work += n > 0 ? n : 0;
    }
    if (rl->sub_metadata)
    {
        n = tp_subscription_poll(rl->sub_metadata, on_metadata, rl, 32);
        work += n > 0 ? n : 0;
    }
    if (rl->sub_progress)
    {
        n = tp_subscription_poll(rl->sub_progress, on_progress, rl, 64);
        work += n > 0 ? n : 0;
    }
    if (rl->sub_qos)
    {
        n = tp_subscription_poll(rl->sub_qos, on_qos, rl, 32);
        work += n > 0 ? n : 0;
    }
    return work;
}
