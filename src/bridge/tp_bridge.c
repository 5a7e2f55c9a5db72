/*
 * The SHM Aeron-UDP bridge runtime: sender and receiver duty cycles.
 * See tp_bridge.h and docs/BRIDGE.md.
 */
#include "bridge/tp_bridge.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/tp_clock.h"
#include "common/tp_crc32c.h"
#include "common/tp_error.h"
#include "common/tp_log.h"
#include "protocol/tp_proto.h"
#include "protocol/tp_proto_bridge.h"
#include "protocol/tp_proto_forward.h"
#include "tensor_pool/tp.h"
#include "tp_sbe/wire.h"

#define BRIDGE_LOG "bridge"
/* Largest control/metadata message forwarded (a ShmPoolAnnounce with 16 long URIs, a large DataSourceMeta). */
#define BRIDGE_MSG_MAX (256u * 1024u)
#define BRIDGE_FRAGMENT_LIMIT 256u

typedef struct bridge_mapping_stct
{
    tp_bridge_mapping_config_t cfg;
    tp_bridge_t *bridge;
    /* sender */
    tp_consumer_t *consumer;
    tp_subscription_t *control_sub;        /* source_control_stream_id: FrameProgress / QoS (when forwarded) */
    uint8_t *announce;                     /* latest source ShmPoolAnnounce (BRIDGE_MSG_MAX) */
    size_t announce_length;
    uint64_t announce_sent_ns;
    uint32_t source_header_nslots;
    /* receiver */
    tp_bridge_assembler_t assembler;
    bool assembler_ready;
    tp_producer_t *producer;
    tp_async_add_producer_t *producer_add;
    tp_producer_layout_t want_layout;
    bool want_set;
    bool bump_epoch;                       /* source epoch changed after frames were published locally */
    tp_publication_t *local_control_pub;   /* dest_control_stream_id */
    uint32_t producer_id;                  /* of the destination producer (tells its announces from others') */
    uint64_t foreign_announce_ns;          /* last announce of dest_stream_id by another producer (0 = none) */
    bool conflict;                         /* another producer owns dest_stream_id: the mapping failed (§4) */
    tp_frame_claim_t claim;                /* the destination slot the assembler writes a frame into directly */
    bool claim_open;
    uint64_t drops[TP_BRIDGE_DROP_COUNT];  /* publish-step drops (not in the assembler) */
    uint64_t frames_published;
}
bridge_mapping_t;

struct tp_bridge_stct
{
    tp_bridge_config_t config;
    tp_bridge_options_t options;
    tp_context_t *ctx;
    tp_client_t *client;
    tp_transport_t *transport;
    bool sender;
    bool receiver;
    uint32_t chunk_bytes;
    size_t claim_limit;
    uint32_t first_cap;
    uint32_t rest_cap;
    uint64_t now_ns;
    /* sender */
    tp_publication_t *payload_pub;
    tp_publication_t *control_pub;
    tp_publication_t *metadata_pub;
    tp_subscription_t *announce_sub;
    tp_subscription_t *source_metadata_sub;
    tp_subscription_t *qos_sub;            /* local QoS stream, when forward_qos and it is not a mapping's control stream */
    /* receiver */
    tp_subscription_t *payload_sub;
    tp_subscription_t *control_sub;
    tp_subscription_t *metadata_sub;
    tp_publication_t *local_metadata_pub;
    tp_subscription_t *local_announce_sub; /* destination host's announces: exclusive-producer check (§4) */
    uint64_t started_ns;
    uint8_t *scratch;                      /* BRIDGE_MSG_MAX + one chunk message */
    size_t scratch_capacity;
    tp_bridge_stats_t stats;               /* global parts; per-mapping parts are added in tp_bridge_stats */
    uint64_t rx_drops[TP_BRIDGE_DROP_COUNT];
    size_t mapping_count;
    bridge_mapping_t mappings[TP_BRIDGE_MAX_MAPPINGS];
};

static const char *const send_drop_names[TP_BRIDGE_SEND_DROP_COUNT] = {
    "NOT_CONNECTED", "BACK_PRESSURED", "TORN", "TOO_LARGE", "FAILED", "INJECTED",
};

const char *tp_bridge_send_drop_name(int reason)
{
    return reason >= 0 && reason < TP_BRIDGE_SEND_DROP_COUNT ? send_drop_names[reason] : "UNKNOWN";
}

static bridge_mapping_t *mapping_by_source(tp_bridge_t *b, uint32_t stream_id)
{
    for (size_t i = 0; i < b->mapping_count; i++)
    {
        if (b->mappings[i].cfg.source_stream_id == stream_id)
        {
            return &b->mappings[i];
        }
    }
    return NULL;
}

/* ======================================================================= sender */

/* The 256-byte SlotHeader block of a frame as the source wrote it (§5.2): 60-byte prefix, length, TensorHeader. */
static void sender_slot_header(const bridge_mapping_t *m, const tp_frame_t *f, uint8_t *h)
{
    memset(h, 0, TP_BRIDGE_HEADER_BYTES);
    uint32_t nslots = m->source_header_nslots;
    tp_sbe_put_u64(h + 0, (f->seq << 1) | 1u);
    tp_sbe_put_u32(h + 8, (uint32_t)f->length);
    tp_sbe_put_u32(h + 12, 0 != nslots ? (uint32_t)(f->seq & (nslots - 1u)) : 0u);
    tp_sbe_put_u16(h + 16, f->pool_id);
    tp_sbe_put_u32(h + 18, 0);
    tp_sbe_put_u64(h + 22, f->timestamp_ns);
    tp_sbe_put_u32(h + 30, f->meta_version);
    tp_sbe_put_u32(h + 60, TP_TENSOR_HEADER_ENCODED_LENGTH);
    (void)tp_tensor_header_encode(f->tensor, h + 64, TP_TENSOR_HEADER_ENCODED_LENGTH);
}

/* Retry a refused offer/claim until bridge.send_timeout_ms; returns true to retry. */
static bool sender_retry(tp_bridge_t *b, int64_t r, uint64_t *deadline, uint32_t *spins)
{
    if (TP_PUBLICATION_BACK_PRESSURED != r && TP_PUBLICATION_ADMIN_ACTION != r)
    {
        return false;
    }
    if (0 == (++*spins & 63u))
    {
        uint64_t now = tp_clock_mono_ns();
        if (0 == *deadline)
        {
            *deadline = now + (uint64_t)b->config.send_timeout_ms * 1000000u;
        }
        else if (now > *deadline)
        {
            return false;
        }
    }
    return true;
}

static int send_result(int64_t r)
{
    if (TP_PUBLICATION_NOT_CONNECTED == r)
    {
        return TP_BRIDGE_SEND_NOT_CONNECTED;
    }
    if (TP_PUBLICATION_BACK_PRESSURED == r || TP_PUBLICATION_ADMIN_ACTION == r)
    {
        return TP_BRIDGE_SEND_BACK_PRESSURED;
    }
    return TP_BRIDGE_SEND_FAILED;
}

/*
 * Send one chunk. The payload is copied from SHM straight into the claimed
 * transport buffer; for the frame's last chunk the seqlock is checked after
 * the copy and the claim aborted when the slot was overwritten meanwhile, so a
 * torn frame never completes at the receiver. Returns -1 (sent) or a
 * tp_bridge_send_drop_t.
 */
static int sender_send_chunk(tp_bridge_t *b, tp_proto_bridge_chunk_view_t *c, const uint8_t *hdr, const uint8_t *src,
    const tp_frame_t *frame, bool last)
{
    uint32_t hlen = c->header_included ? TP_BRIDGE_HEADER_BYTES : 0u;
    size_t msg_len = tp_proto_bridge_chunk_encoded_length(hlen, c->chunk_length);
    uint64_t deadline = 0;
    uint32_t spins = 0;
    uint8_t *h = NULL;
    uint8_t *p = NULL;
    int64_t r;
    if (msg_len <= b->claim_limit)
    {
        tp_buffer_claim_t claim;
        while ((r = tp_publication_try_claim(b->payload_pub, msg_len, &claim)) < 0)
        {
            if (!sender_retry(b, r, &deadline, &spins))
            {
                return send_result(r);
            }
        }
        (void)tp_proto_encode_bridge_chunk_frame(claim.data, claim.length, c, hlen, &h, &p, NULL);
        memcpy(h, hdr, hlen);
        memcpy(p, src, c->chunk_length);
        if (b->config.integrity_crc32c)
        {
            tp_proto_bridge_set_crc32c(claim.data, tp_crc32c_extend(tp_crc32c_compute(h, hlen), p, c->chunk_length));
        }
        if (last && !tp_frame_is_valid(frame))
        {
            (void)tp_buffer_claim_abort(&claim);
            return TP_BRIDGE_SEND_TORN;
        }
        if (tp_buffer_claim_commit(&claim) < 0)
        {
            return TP_BRIDGE_SEND_FAILED;
        }
    }
    else
    {
        if (msg_len > b->scratch_capacity)
        {
            return TP_BRIDGE_SEND_TOO_LARGE;
        }
        (void)tp_proto_encode_bridge_chunk_frame(b->scratch, b->scratch_capacity, c, hlen, &h, &p, NULL);
        memcpy(h, hdr, hlen);
        memcpy(p, src, c->chunk_length);
        if (b->config.integrity_crc32c)
        {
            tp_proto_bridge_set_crc32c(b->scratch, tp_crc32c_extend(tp_crc32c_compute(h, hlen), p, c->chunk_length));
        }
        if (last && !tp_frame_is_valid(frame))
        {
            return TP_BRIDGE_SEND_TORN;
        }
        while ((r = tp_publication_offer(b->payload_pub, b->scratch, msg_len, NULL, NULL)) < 0)
        {
            if (!sender_retry(b, r, &deadline, &spins))
            {
                return send_result(r);
            }
        }
    }
    b->stats.sender.chunks_sent++;
    b->stats.sender.bytes_sent += c->chunk_length;
    return -1;
}

/* The source consumer's frame callback: split the frame into chunks (§5.2) and send them in order. */
static void sender_on_frame(void *clientd, const tp_frame_t *frame)
{
    bridge_mapping_t *m = clientd;
    tp_bridge_t *b = m->bridge;
    b->stats.sender.frames++;
    if (frame->length > b->config.max_payload_bytes)
    {
        b->stats.sender.frame_drops[TP_BRIDGE_SEND_TOO_LARGE]++;
        return;
    }
    uint32_t len = (uint32_t)frame->length;
    uint32_t first = len < b->first_cap ? len : b->first_cap;
    uint64_t count = 1u + ((uint64_t)(len - first) + b->rest_cap - 1u) / b->rest_cap;
    if (count > TP_BRIDGE_MAX_CHUNKS)
    {
        b->stats.sender.frame_drops[TP_BRIDGE_SEND_TOO_LARGE]++;
        return;
    }
    uint8_t hdr[TP_BRIDGE_HEADER_BYTES];
    sender_slot_header(m, frame, hdr);
    tp_proto_bridge_chunk_view_t c;
    memset(&c, 0, sizeof(c));
    c.stream_id = m->cfg.source_stream_id;
    c.epoch = frame->epoch;
    c.seq = frame->seq;
    c.trace_id = frame->trace_id;   /* §5.2: the source FrameDescriptor.trace_id, 0 when absent */
    c.chunk_count = (uint32_t)count;
    c.payload_length = len;
    uint32_t offset = 0;
    bool injected = false;
    for (uint32_t i = 0; i < c.chunk_count; i++)
    {
        uint32_t clen = 0 == i ? first : (len - offset < b->rest_cap ? len - offset : b->rest_cap);
        c.chunk_index = i;
        c.chunk_offset = offset;
        c.chunk_length = clen;
        c.header_included = 0 == i;
        bool last = i + 1 == c.chunk_count;
        if (NULL != b->options.drop_chunk &&
            b->options.drop_chunk(b->options.drop_chunk_clientd, c.stream_id, c.seq, i, c.chunk_count))
        {
            injected = true;
        }
        else
        {
            int rc = sender_send_chunk(b, &c, hdr, frame->payload + offset, frame, last);
            if (rc >= 0)
            {
                b->stats.sender.frame_drops[rc]++;
                return;
            }
        }
        offset += clen;
    }
    if (injected)
    {
        b->stats.sender.frame_drops[TP_BRIDGE_SEND_INJECTED]++;
        return;
    }
    b->stats.sender.frames_sent++;
}

static void sender_forward_announce(tp_bridge_t *b, bridge_mapping_t *m)
{
    if (0 == m->announce_length)
    {
        return;
    }
    int64_t r = tp_publication_offer(b->control_pub, m->announce, m->announce_length, NULL, NULL);
    if (r > 0)
    {
        b->stats.sender.announces_forwarded++;
        m->announce_sent_ns = b->now_ns;
    }
}

/* Local announce stream: keep the latest ShmPoolAnnounce of each mapped source and forward it (§7.2). */
static void sender_on_announce_msg(void *clientd, const uint8_t *buf, size_t len, const tp_header_t *header)
{
    (void)header;
    tp_bridge_t *b = clientd;
    uint16_t schema = 0;
    uint16_t tmpl = 0;
    if (tp_proto_peek(buf, len, &schema, &tmpl) < 0 || TP_SBE_WIRE_SCHEMA_ID != schema ||
        TP_SBE_WIRE_SHM_POOL_ANNOUNCE_TEMPLATE_ID != tmpl)
    {
        return;
    }
    tp_proto_shm_pool_announce_view_t v;
    if (tp_proto_decode_shm_pool_announce(buf, len, &v) < 0)
    {
        b->stats.sender.local_malformed++;
        return;
    }
    bridge_mapping_t *m = mapping_by_source(b, v.stream_id);
    if (NULL == m || len > BRIDGE_MSG_MAX)
    {
        return;
    }
    memcpy(m->announce, buf, len);
    m->announce_length = len;
    m->source_header_nslots = v.header_nslots;
    sender_forward_announce(b, m);
}

/*
 * Local metadata stream: DataSourceAnnounce / DataSourceMeta and the meta blobs of §10.3.3 (§7.1, forward_metadata;
 * DECISIONS BRL-1) and TraceLinkSet (forward_tracelink).
 */
static void sender_on_metadata_msg(void *clientd, const uint8_t *buf, size_t len, const tp_header_t *header)
{
    (void)header;
    tp_bridge_t *b = clientd;
    tp_proto_forward_view_t v;
    int rc = tp_proto_decode_forwardable(buf, len, &v);
    if (rc < 0)
    {
        b->stats.sender.local_malformed++;
        return;
    }
    bool tracelink = TP_PROTO_FWD_TRACELINK == v.kind;
    if (0 == rc || (!tracelink && TP_PROTO_FWD_METADATA != v.kind && TP_PROTO_FWD_META_BLOB != v.kind))
    {
        return;
    }
    bridge_mapping_t *m = mapping_by_source(b, v.stream_id);
    if (NULL == m || (tracelink ? !m->cfg.forward_tracelink : !m->cfg.forward_metadata))
    {
        return;
    }
    if (tp_publication_offer(b->metadata_pub, buf, len, NULL, NULL) > 0)
    {
        if (tracelink)
        {
            b->stats.sender.tracelinks_forwarded++;
        }
        else
        {
            b->stats.sender.metadata_forwarded++;
        }
    }
}

/* Local control stream of a mapping: FrameProgress and QoS of the source stream (§9). */
static void sender_on_control_msg(void *clientd, const uint8_t *buf, size_t len, const tp_header_t *header)
{
    (void)header;
    bridge_mapping_t *m = clientd;
    tp_bridge_t *b = m->bridge;
    tp_proto_forward_view_t v;
    int rc = tp_proto_decode_forwardable(buf, len, &v);
    bool progress = TP_PROTO_FWD_PROGRESS == v.kind;
    if (rc < 0)
    {
        /* only messages of this stream's forwarded kinds count as malformed (the stream carries others too) */
        if (TP_SBE_WIRE_SCHEMA_ID == v.schema_id && ((TP_SBE_WIRE_FRAME_PROGRESS_TEMPLATE_ID == v.template_id &&
            m->cfg.forward_progress) || (m->cfg.forward_qos && (TP_SBE_WIRE_QOS_PRODUCER_TEMPLATE_ID == v.template_id ||
            TP_SBE_WIRE_QOS_CONSUMER_TEMPLATE_ID == v.template_id))))
        {
            b->stats.sender.local_malformed++;
        }
        return;
    }
    if (!(progress ? m->cfg.forward_progress : (TP_PROTO_FWD_QOS == v.kind && m->cfg.forward_qos)))
    {
        return;
    }
    /* §9: FrameProgress.streamId is the source stream id on the bridge; everything else is preserved. */
    if (v.stream_id != m->cfg.source_stream_id)
    {
        return;
    }
    if (tp_publication_offer(b->control_pub, buf, len, NULL, NULL) > 0)
    {
        if (progress)
        {
            b->stats.sender.progress_forwarded++;
        }
        else
        {
            b->stats.sender.qos_forwarded++;
        }
    }
}

/* Local QoS stream: QosProducer / QosConsumer of the mapped sources (§9, forward_qos; DECISIONS BR-7). */
static void sender_on_qos_msg(void *clientd, const uint8_t *buf, size_t len, const tp_header_t *header)
{
    tp_bridge_t *b = clientd;
    tp_proto_forward_view_t v;
    if (tp_proto_decode_forwardable(buf, len, &v) < 0)
    {
        if (TP_SBE_WIRE_SCHEMA_ID == v.schema_id && (TP_SBE_WIRE_QOS_PRODUCER_TEMPLATE_ID == v.template_id ||
            TP_SBE_WIRE_QOS_CONSUMER_TEMPLATE_ID == v.template_id))
        {
            b->stats.sender.local_malformed++;
        }
        return;
    }
    if (TP_PROTO_FWD_QOS != v.kind)
    {
        return;
    }
    bridge_mapping_t *m = mapping_by_source(b, v.stream_id);
    if (NULL != m && m->cfg.forward_qos && m->cfg.source_control_stream_id != b->config.local_qos_stream_id)
    {
        sender_on_control_msg(m, buf, len, header);
    }
}

/* ===================================================================== receiver */

/* Release a directly written frame before the destination producer is closed or relaid. */
static void receiver_drop_direct(bridge_mapping_t *m, tp_bridge_drop_t reason)
{
    if (m->assembler_ready)
    {
        tp_bridge_assembler_drop_direct(&m->assembler, reason);
    }
}

static void receiver_layout_from(const bridge_mapping_t *m, const tp_bridge_config_t *cfg,
    const tp_bridge_source_layout_t *src, tp_producer_layout_t *out)
{
    memset(out, 0, sizeof(*out));
    if (m->cfg.profile_index >= 0)
    {
        const tp_bridge_profile_t *p = &cfg->profiles[m->cfg.profile_index];
        out->header_nslots = p->header_nslots;
        out->pool_count = p->pool_count;
        for (uint32_t i = 0; i < p->pool_count; i++)
        {
            out->pools[i].pool_id = (uint16_t)(i + 1u);
            out->pools[i].stride_bytes = p->strides[i];
        }
        return;
    }
    out->header_nslots = src->header_nslots;
    out->pool_count = src->pool_count;
    for (uint32_t i = 0; i < src->pool_count && i < TP_PRODUCER_MAX_POOLS; i++)
    {
        out->pools[i].pool_id = src->pool_ids[i];
        out->pools[i].stride_bytes = src->strides[i];
    }
}

static uint32_t layout_max_stride(const tp_producer_layout_t *l)
{
    uint32_t max = 0;
    for (size_t i = 0; i < l->pool_count; i++)
    {
        max = l->pools[i].stride_bytes > max ? l->pools[i].stride_bytes : max;
    }
    return max;
}

static bool layout_equal(const tp_producer_layout_t *a, const tp_producer_layout_t *b)
{
    if (a->header_nslots != b->header_nslots || a->pool_count != b->pool_count)
    {
        return false;
    }
    for (size_t i = 0; i < a->pool_count; i++)
    {
        if (a->pools[i].pool_id != b->pools[i].pool_id || a->pools[i].stride_bytes != b->pools[i].stride_bytes)
        {
            return false;
        }
    }
    return true;
}

/* Bring the destination producer to the wanted layout: create it, or change its layout (new local epoch, §8). */
static int receiver_apply_layout(tp_bridge_t *b, bridge_mapping_t *m)
{
    if (!m->want_set)
    {
        return 0;
    }
    if (tp_bridge_assembler_set_capacity(&m->assembler, layout_max_stride(&m->want_layout)) < 0)
    {
        TP_LOG_ERROR(BRIDGE_LOG, "mapping %u -> %u: %s", m->cfg.source_stream_id, m->cfg.dest_stream_id, tp_errmsg());
        return -1;
    }
    if (m->conflict)
    {
        return 0;
    }
    if (NULL != m->producer && b->config.driver_mode && m->bump_epoch)
    {
        /*
         * Driver mode: the driver owns the layout and the epoch (no tp_producer_change_layout). A source
         * remap releases the lease and attaches again: the new lease comes with the next epoch, where
         * sequence numbers may start again (DECISIONS BR-17).
         */
        receiver_drop_direct(m, TP_BRIDGE_DROP_EPOCH_CHANGE);
        tp_producer_close(m->producer);
        m->producer = NULL;
        m->bump_epoch = false;
        b->stats.receiver.local_epochs++;
    }
    if (NULL == m->producer)
    {
        /* §4: attach as the exclusive producer: first listen one announce window for another producer. */
        uint64_t listen_ns = b->config.driver_mode ? 0 : 2u * (uint64_t)b->config.announce_period_ms * 1000000u;
        if (NULL != m->producer_add || tp_clock_mono_ns() - b->started_ns < listen_ns)
        {
            return 0;
        }
        if (0 != m->foreign_announce_ns && tp_clock_mono_ns() - m->foreign_announce_ns < 3u * listen_ns)
        {
            m->conflict = true;
            TP_LOG_ERROR(BRIDGE_LOG, "mapping %u -> %u: another producer announces destination stream %u: the "
                "mapping is disabled (remap it to a free dest_stream_id)", m->cfg.source_stream_id,
                m->cfg.dest_stream_id, m->cfg.dest_stream_id);
            return -1;
        }
        tp_producer_config_t pc;
        tp_producer_config_defaults(&pc);
        pc.stream_id = m->cfg.dest_stream_id;
        pc.producer_id = m->producer_id;
        pc.remove_on_close = false; /* §8: a restarted receiver creates the next local epoch */
        /*
         * §4: no per-consumer streams. A channel prefix with a parameter no channel may carry: every
         * request matches nothing that parses, so the producer declines them all (ConsumerConfig with
         * an empty channel) and consumers stay on the shared descriptor stream.
         */
        snprintf(pc.per_consumer_channels[0], sizeof(pc.per_consumer_channels[0]), "%s",
            "aeron:ipc?tp-bridge-no-per-consumer-streams=1");
        pc.header_nslots = m->want_layout.header_nslots;
        pc.pool_count = m->want_layout.pool_count;
        memcpy(pc.pools, m->want_layout.pools, sizeof(pc.pools));
        snprintf(pc.name, sizeof(pc.name), "%s", b->config.instance_id);
        if (tp_client_async_add_producer(&m->producer_add, b->client, &pc) < 0)
        {
            TP_LOG_ERROR(BRIDGE_LOG, "mapping %u -> %u: cannot add the destination producer (retried at the next "
                "announce): %s", m->cfg.source_stream_id, m->cfg.dest_stream_id, tp_errmsg());
            m->producer_add = NULL;
            m->want_set = false;
            return -1;
        }
        m->bump_epoch = false;
        return 0;
    }
    tp_producer_layout_t cur;
    if (tp_producer_layout(m->producer, &cur) < 0)
    {
        return -1;
    }
    if (b->config.driver_mode)
    {
        return 0; /* the driver's layout (adopted when the producer attached) */
    }
    if (!m->bump_epoch && layout_equal(&cur, &m->want_layout))
    {
        return 0;
    }
    receiver_drop_direct(m, TP_BRIDGE_DROP_EPOCH_CHANGE); /* no claim may be open across a layout change */
    if (tp_producer_change_layout(m->producer, &m->want_layout) < 0)
    {
        TP_LOG_WARN(BRIDGE_LOG, "mapping %u -> %u: local layout change failed (retried at the next announce): %s",
            m->cfg.source_stream_id, m->cfg.dest_stream_id, tp_errmsg());
        m->want_set = false;
        return -1;
    }
    m->bump_epoch = false;
    b->stats.receiver.local_epochs++;
    return 1;
}

static void receiver_on_announce(tp_bridge_t *b, const uint8_t *buf, size_t len)
{
    tp_proto_shm_pool_announce_view_t v;
    if (tp_proto_decode_shm_pool_announce(buf, len, &v) < 0)
    {
        b->rx_drops[TP_BRIDGE_DROP_DECODE]++;
        return;
    }
    bridge_mapping_t *m = mapping_by_source(b, v.stream_id);
    if (NULL == m)
    {
        b->rx_drops[TP_BRIDGE_DROP_UNKNOWN_STREAM]++;
        return;
    }
    /*
     * The announce sizes the assembly buffers and, with the mirror profile, the destination regions: its
     * geometry must be one a producer may announce (wire §15.21a) and its strides within max_payload_bytes.
     */
    bool ok = 256 == v.header_slot_bytes && 0 != v.header_nslots && 0 == (v.header_nslots & (v.header_nslots - 1)) &&
        v.pool_count <= TP_BRIDGE_MAX_POOLS;
    for (uint32_t i = 0; ok && i < v.pool_count; i++)
    {
        ok = 0 != v.pools[i].pool_id && 0 != v.pools[i].stride_bytes && 0 == v.pools[i].stride_bytes % 64 &&
            v.pools[i].stride_bytes <= b->config.max_payload_bytes;
    }
    if (!ok)
    {
        m->drops[TP_BRIDGE_DROP_BAD_ANNOUNCE]++;
        return;
    }
    tp_bridge_source_layout_t src;
    memset(&src, 0, sizeof(src));
    src.valid = true;
    src.epoch = v.epoch;
    src.header_nslots = v.header_nslots;
    src.pool_count = v.pool_count < TP_BRIDGE_MAX_POOLS ? v.pool_count : TP_BRIDGE_MAX_POOLS;
    for (uint32_t i = 0; i < src.pool_count; i++)
    {
        src.pool_ids[i] = v.pools[i].pool_id;
        src.pool_nslots[i] = v.pools[i].pool_nslots;
        src.strides[i] = v.pools[i].stride_bytes;
    }
    int rc = tp_bridge_assembler_on_announce(&m->assembler, &src);
    if (rc < 0)
    {
        b->stats.receiver.announces_stale++;
        return;
    }
    b->stats.receiver.announces++;
    if (0 == rc && m->want_set)
    {
        return;
    }
    /* A new source epoch (or the first announce): a remap boundary (§8). */
    receiver_layout_from(m, &b->config, &src, &m->want_layout);
    m->want_set = true;
    if (NULL != m->producer && tp_producer_next_seq(m->producer) > 0)
    {
        m->bump_epoch = true;
    }
    (void)receiver_apply_layout(b, m);
}

/*
 * Republish a forwarded wire/tracelink message locally with its stream_id rewritten. Every caller has classified
 * the message with tp_proto_decode_forwardable (full decoder) first: streamId is at block offset 0 of every kind.
 */
static void receiver_republish(tp_bridge_t *b, tp_publication_t *pub, const uint8_t *buf, size_t len,
    uint32_t stream_id, uint64_t *counter)
{
    if (NULL == pub || len > b->scratch_capacity || len < TP_SBE_MESSAGE_HEADER_LENGTH + sizeof(uint32_t))
    {
        return;
    }
    uint8_t *s = b->scratch;
    memcpy(s, buf, len);
    tp_sbe_put_u32(s + TP_SBE_MESSAGE_HEADER_LENGTH, stream_id);
    int64_t r = tp_publication_offer(pub, s, len, NULL, NULL);
    if (r > 0)
    {
        (*counter)++;
    }
    else if (TP_PUBLICATION_NOT_CONNECTED == r)
    {
        b->stats.receiver.local_not_connected++;
    }
}

static void receiver_on_progress_or_qos(tp_bridge_t *b, const uint8_t *buf, size_t len)
{
    tp_proto_forward_view_t v;
    if (tp_proto_decode_forwardable(buf, len, &v) <= 0)
    {
        b->rx_drops[TP_BRIDGE_DROP_DECODE]++;
        return;
    }
    bridge_mapping_t *m = mapping_by_source(b, v.stream_id);
    if (TP_PROTO_FWD_QOS == v.kind)
    {
        if (NULL == m || !m->cfg.forward_qos)
        {
            b->rx_drops[TP_BRIDGE_DROP_UNKNOWN_STREAM]++;
            return;
        }
        receiver_republish(b, m->local_control_pub, buf, len, m->cfg.dest_stream_id,
            &b->stats.receiver.qos_published);
        return;
    }
    /*
     * §9: the mapping must be known (announce seen, destination producer in
     * place); progress of another epoch or of a frame already delivered or
     * dropped refers to expired state.
     */
    if (NULL == m || !m->cfg.forward_progress || NULL == m->local_control_pub || NULL == m->producer ||
        !m->assembler.source.valid || v.epoch != m->assembler.source.epoch || v.seq < m->assembler.min_seq)
    {
        if (NULL != m)
        {
            m->drops[TP_BRIDGE_DROP_PROGRESS]++;
        }
        else
        {
            b->rx_drops[TP_BRIDGE_DROP_PROGRESS]++;
        }
        return;
    }
    receiver_republish(b, m->local_control_pub, buf, len, m->cfg.dest_stream_id,
        &b->stats.receiver.progress_published);
}

/* Next local seq = the frame's; a frame still queued by back pressure (committed earlier) is flushed first. */
static int receiver_set_seq(tp_producer_t *p, uint64_t seq)
{
    if (tp_producer_set_next_seq(p, seq) == 0)
    {
        return 0;
    }
    (void)tp_producer_flush(p);
    return tp_producer_set_next_seq(p, seq);
}

/*
 * Direct writes (assembler sink): a frame's chunks go straight into a claimed slot of the destination producer
 * under the frame's own sequence number (no assembly buffer, no second copy). Declined (NULL: the assembler uses a
 * slot buffer and the frame is offered on completion) when no producer is usable, the seq is already behind it, or
 * no local pool fits.
 */
static uint8_t *receiver_sink_begin(void *clientd, uint64_t seq, uint32_t payload_length)
{
    bridge_mapping_t *m = clientd;
    tp_producer_t *p = m->producer;
    if (m->conflict || NULL == p || m->claim_open || seq < tp_producer_next_seq(p) || receiver_set_seq(p, seq) < 0)
    {
        return NULL;
    }
    int64_t r = tp_producer_try_claim(p, payload_length, &m->claim);
    if (r < 0 || (uint64_t)r != seq)
    {
        if (r >= 0)
        {
            (void)tp_frame_claim_abort(&m->claim);
        }
        return NULL;
    }
    m->claim_open = true;
    return m->claim.data;
}

/* The directly written frame was dropped (timeout, eviction, overlap, CRC, bad header, epoch change, ...). */
static void receiver_sink_abort(void *clientd, uint64_t seq)
{
    (void)seq;
    bridge_mapping_t *m = clientd;
    if (m->claim_open)
    {
        m->claim_open = false;
        (void)tp_frame_claim_abort(&m->claim); /* the newest claim: its sequence number is given back */
    }
}

/* A frame committed under back pressure is queued in the producer: publish it within send_timeout_ms. */
static bool receiver_flush(tp_bridge_t *b, tp_producer_t *p)
{
    uint64_t deadline = 0;
    uint32_t spins = 0;
    int n;
    while (0 == (n = tp_producer_flush(p)))
    {
        if (!sender_retry(b, TP_PUBLICATION_BACK_PRESSURED, &deadline, &spins))
        {
            return false;
        }
    }
    return n > 0;
}

/* §6 steps 7-11: write the frame into the local pool as the destination producer, seq and trace id preserved. */
static void receiver_publish(tp_bridge_t *b, bridge_mapping_t *m, const tp_bridge_frame_t *f)
{
    tp_producer_t *p = m->producer;
    tp_frame_options_t opts = { .timestamp_ns = f->timestamp_ns, .trace_id = f->trace_id };
    int64_t r;
    if (f->direct)
    {
        /* the chunks are already in the claimed slot: header, seq_commit and descriptor only */
        m->claim_open = false;
        r = tp_frame_claim_commit(&m->claim, &f->tensor, f->payload_length, &opts);
        if (TP_PRODUCER_BACK_PRESSURED == r || TP_PRODUCER_DEFERRED == r)
        {
            r = receiver_flush(b, p) ? (int64_t)f->seq : TP_PRODUCER_ERROR;
        }
        else if (TP_PRODUCER_ERROR == r)
        {
            (void)tp_frame_claim_abort(&m->claim); /* refused (not consumed): give the slot back */
        }
    }
    else
    {
        if (m->conflict)
        {
            m->drops[TP_BRIDGE_DROP_DEST_CONFLICT]++;
            return;
        }
        if (NULL == p)
        {
            m->drops[TP_BRIDGE_DROP_NO_LOCAL_POOL]++;
            return;
        }
        if (f->seq < tp_producer_next_seq(p))
        {
            m->drops[TP_BRIDGE_DROP_STALE_SEQ]++;
            return;
        }
        if (receiver_set_seq(p, f->seq) < 0)
        {
            m->drops[TP_BRIDGE_DROP_LOCAL_PUBLISH]++;
            return;
        }
        uint64_t deadline = 0;
        uint32_t spins = 0;
        while ((r = tp_producer_offer(p, &f->tensor, f->payload, f->payload_length, &opts)) ==
            TP_PRODUCER_BACK_PRESSURED)
        {
            if (!sender_retry(b, TP_PUBLICATION_BACK_PRESSURED, &deadline, &spins))
            {
                break;
            }
        }
    }
    if (r >= 0 && (uint64_t)r == f->seq)
    {
        m->frames_published++;
        return;
    }
    m->drops[TP_PRODUCER_NO_POOL == r ? TP_BRIDGE_DROP_NO_LOCAL_POOL : TP_BRIDGE_DROP_LOCAL_PUBLISH]++;
}

static void receiver_on_chunk(tp_bridge_t *b, const uint8_t *buf, size_t len)
{
    tp_proto_bridge_chunk_view_t c;
    if (tp_proto_decode_bridge_chunk(buf, len, b->config.max_chunk_bytes, &c) < 0)
    {
        b->rx_drops[TP_BRIDGE_DROP_DECODE]++;
        return;
    }
    bridge_mapping_t *m = mapping_by_source(b, c.stream_id);
    if (NULL == m)
    {
        b->rx_drops[TP_BRIDGE_DROP_UNKNOWN_STREAM]++;
        return;
    }
    tp_bridge_frame_t f;
    if (1 == tp_bridge_assembler_on_chunk(&m->assembler, &c, b->now_ns, &f, NULL))
    {
        receiver_publish(b, m, &f);
    }
}

/* Bridge payload and control channels: gate on schemaId before decoding anything (§7.2). */
static void receiver_on_bridge_msg(void *clientd, const uint8_t *buf, size_t len, const tp_header_t *header)
{
    (void)header;
    tp_bridge_t *b = clientd;
    uint16_t schema = 0;
    uint16_t tmpl = 0;
    if (tp_proto_peek(buf, len, &schema, &tmpl) < 0)
    {
        b->rx_drops[TP_BRIDGE_DROP_DECODE]++;
        return;
    }
    if (TP_SBE_BRIDGE_BRIDGE_FRAME_CHUNK_SCHEMA_ID == schema && TP_SBE_BRIDGE_BRIDGE_FRAME_CHUNK_TEMPLATE_ID == tmpl)
    {
        receiver_on_chunk(b, buf, len);
    }
    else if (TP_SBE_WIRE_SCHEMA_ID == schema && TP_SBE_WIRE_SHM_POOL_ANNOUNCE_TEMPLATE_ID == tmpl)
    {
        receiver_on_announce(b, buf, len);
    }
    else if (TP_SBE_WIRE_SCHEMA_ID == schema && (TP_SBE_WIRE_FRAME_PROGRESS_TEMPLATE_ID == tmpl ||
        TP_SBE_WIRE_QOS_PRODUCER_TEMPLATE_ID == tmpl || TP_SBE_WIRE_QOS_CONSUMER_TEMPLATE_ID == tmpl))
    {
        receiver_on_progress_or_qos(b, buf, len);
    }
    else
    {
        b->rx_drops[TP_BRIDGE_DROP_UNKNOWN_SCHEMA]++;
    }
}

/* Bridge metadata channel: DataSourceAnnounce / DataSourceMeta / meta blobs / TraceLinkSet, republished locally (§7.1). */
static void receiver_on_metadata_msg(void *clientd, const uint8_t *buf, size_t len, const tp_header_t *header)
{
    (void)header;
    tp_bridge_t *b = clientd;
    tp_proto_forward_view_t v;
    int rc = tp_proto_decode_forwardable(buf, len, &v);
    if (rc < 0)
    {
        b->rx_drops[TP_BRIDGE_DROP_DECODE]++;
        return;
    }
    bool tracelink = TP_PROTO_FWD_TRACELINK == v.kind;
    if (0 == rc || (!tracelink && TP_PROTO_FWD_METADATA != v.kind && TP_PROTO_FWD_META_BLOB != v.kind))
    {
        b->rx_drops[TP_BRIDGE_DROP_UNKNOWN_SCHEMA]++;
        return;
    }
    bridge_mapping_t *m = mapping_by_source(b, v.stream_id);
    if (NULL == m || (tracelink ? !m->cfg.forward_tracelink : !m->cfg.forward_metadata))
    {
        b->rx_drops[TP_BRIDGE_DROP_UNKNOWN_STREAM]++;
        return;
    }
    /* §7.1: stream_id rewritten to the mapping's metadata_stream_id; meta_version and the rest preserved. */
    receiver_republish(b, b->local_metadata_pub, buf, len, m->cfg.metadata_stream_id,
        tracelink ? &b->stats.receiver.tracelinks_published : &b->stats.receiver.metadata_published);
}

/* Destination host's announce stream: another producer of a destination stream is a conflict (§4). */
static void receiver_on_local_announce(void *clientd, const uint8_t *buf, size_t len, const tp_header_t *header)
{
    (void)header;
    tp_bridge_t *b = clientd;
    uint16_t schema = 0;
    uint16_t tmpl = 0;
    tp_proto_shm_pool_announce_view_t v;
    if (b->config.driver_mode)
    {
        return; /* the driver announces every stream and itself refuses a second producer */
    }
    if (tp_proto_peek(buf, len, &schema, &tmpl) < 0 || TP_SBE_WIRE_SCHEMA_ID != schema ||
        TP_SBE_WIRE_SHM_POOL_ANNOUNCE_TEMPLATE_ID != tmpl || tp_proto_decode_shm_pool_announce(buf, len, &v) < 0)
    {
        return;
    }
    for (size_t i = 0; i < b->mapping_count; i++)
    {
        bridge_mapping_t *m = &b->mappings[i];
        if (m->cfg.dest_stream_id != v.stream_id || v.producer_id == m->producer_id)
        {
            continue;
        }
        m->foreign_announce_ns = b->now_ns;
        if (NULL != m->producer && !m->conflict)
        {
            m->conflict = true;
            TP_LOG_ERROR(BRIDGE_LOG, "mapping %u -> %u: producer %u also announces destination stream %u: the mapping "
                "is disabled and its producer closed (remap it to a free dest_stream_id)", m->cfg.source_stream_id,
                m->cfg.dest_stream_id, v.producer_id, m->cfg.dest_stream_id);
            receiver_drop_direct(m, TP_BRIDGE_DROP_DEST_CONFLICT);
            tp_producer_close(m->producer);
            m->producer = NULL;
        }
    }
}

/* ======================================================================= set-up */

static int add_pub(tp_bridge_t *b, tp_publication_t **pub, const char *channel, uint32_t stream_id)
{
    if (tp_transport_add_publication(pub, b->transport, channel, (int32_t)stream_id, 0) < 0)
    {
        return tp_err_set(tp_errcode(), "bridge: publication %s stream %u: %s", channel, stream_id, tp_errmsg());
    }
    return 0;
}

static int add_sub(tp_bridge_t *b, tp_subscription_t **sub, const char *channel, uint32_t stream_id)
{
    if (tp_transport_add_subscription(sub, b->transport, channel, (int32_t)stream_id, NULL, NULL, NULL, NULL, 0) < 0)
    {
        return tp_err_set(tp_errcode(), "bridge: subscription %s stream %u: %s", channel, stream_id, tp_errmsg());
    }
    return 0;
}

static int bridge_context(tp_bridge_t *b)
{
    const tp_bridge_config_t *c = &b->config;
    if (tp_context_init(&b->ctx) < 0 || tp_context_set_transport_backend(b->ctx, c->transport_backend) < 0 ||
        tp_context_set_transport_dir(b->ctx, c->transport_dir) < 0 ||
        ('\0' != c->shm_base_dir[0] && tp_context_set_shm_base_dir(b->ctx, c->shm_base_dir) < 0) ||
        ('\0' != c->namespace_name[0] && tp_context_set_namespace(b->ctx, c->namespace_name) < 0) ||
        tp_context_set_driver_mode(b->ctx, c->driver_mode) < 0 ||
        tp_context_set_stream(b->ctx, TP_STREAM_CONTROL, c->local_channel, (int32_t)c->local_control_stream_id) < 0 ||
        tp_context_set_stream(b->ctx, TP_STREAM_ANNOUNCE, c->local_channel, (int32_t)c->local_announce_stream_id) < 0 ||
        tp_context_set_stream(b->ctx, TP_STREAM_DESCRIPTOR, c->local_channel,
            (int32_t)c->local_descriptor_stream_id) < 0 ||
        tp_context_set_stream(b->ctx, TP_STREAM_QOS, c->local_channel, (int32_t)c->local_qos_stream_id) < 0 ||
        tp_context_set_stream(b->ctx, TP_STREAM_METADATA, c->local_channel, (int32_t)c->local_metadata_stream_id) < 0 ||
        tp_context_set_announce_period_ns(b->ctx, (uint64_t)c->announce_period_ms * 1000000u) < 0 ||
        tp_client_init(&b->client, b->ctx) < 0)
    {
        return -1;
    }
    tp_transport_context_t tctx;
    tp_transport_context_init(&tctx);
    tctx.faults = b->options.faults;
    if (tp_transport_context_set_backend(&tctx, c->transport_backend) < 0 ||
        tp_transport_context_set_dir(&tctx, c->transport_dir) < 0 || tp_transport_init(&b->transport, &tctx) < 0)
    {
        return -1;
    }
    return 0;
}

static int bridge_sender_init(tp_bridge_t *b)
{
    const tp_bridge_config_t *c = &b->config;
    bool meta = false;
    for (size_t i = 0; i < b->mapping_count; i++)
    {
        meta = meta || b->mappings[i].cfg.forward_metadata || b->mappings[i].cfg.forward_tracelink;
    }
    if (add_pub(b, &b->payload_pub, c->payload_channel, c->payload_stream_id) < 0 ||
        add_pub(b, &b->control_pub, c->control_channel, c->control_stream_id) < 0 ||
        (meta && add_pub(b, &b->metadata_pub, c->metadata_channel, c->metadata_stream_id) < 0) ||
        add_sub(b, &b->announce_sub, c->local_channel, c->local_announce_stream_id) < 0 ||
        (meta && add_sub(b, &b->source_metadata_sub, c->local_channel, c->source_metadata_stream_id) < 0))
    {
        return -1;
    }
    /* Chunk sizes (§5.2): within the configured bound and, when possible, within one try_claim. */
    b->claim_limit = tp_publication_max_payload_length(b->payload_pub);
    size_t overhead0 = TP_BRIDGE_CHUNK_OVERHEAD + TP_BRIDGE_HEADER_BYTES;
    b->first_cap = b->chunk_bytes;
    b->rest_cap = b->chunk_bytes;
    if (b->claim_limit > overhead0 + 64u && overhead0 + b->first_cap > b->claim_limit)
    {
        b->first_cap = (uint32_t)(b->claim_limit - overhead0);
    }
    if (b->claim_limit > TP_BRIDGE_CHUNK_OVERHEAD + 64u && TP_BRIDGE_CHUNK_OVERHEAD + b->rest_cap > b->claim_limit)
    {
        b->rest_cap = (uint32_t)(b->claim_limit - TP_BRIDGE_CHUNK_OVERHEAD);
    }
    for (size_t i = 0; i < b->mapping_count; i++)
    {
        bridge_mapping_t *m = &b->mappings[i];
        m->announce = malloc(BRIDGE_MSG_MAX);
        if (NULL == m->announce)
        {
            return tp_err_set(TP_ERR_NO_MEMORY, "bridge: announce buffer");
        }
        tp_consumer_config_t cc;
        tp_consumer_config_defaults(&cc);
        cc.stream_id = m->cfg.source_stream_id;
        cc.on_frame = sender_on_frame;
        cc.clientd = m;
        cc.use_metadata = false;
        cc.fragment_limit = BRIDGE_FRAGMENT_LIMIT;
        cc.supports_progress = m->cfg.forward_progress; /* the source producer sends FrameProgress only then */
        if (tp_client_add_consumer(&m->consumer, b->client, &cc, 0) < 0)
        {
            return tp_err_set(tp_errcode(), "bridge: consumer of source stream %u: %s", cc.stream_id, tp_errmsg());
        }
        if ((m->cfg.forward_progress || m->cfg.forward_qos) &&
            add_sub(b, &m->control_sub, c->local_channel, m->cfg.source_control_stream_id) < 0)
        {
            return -1;
        }
        if (m->cfg.forward_qos && m->cfg.source_control_stream_id != c->local_qos_stream_id && NULL == b->qos_sub &&
            add_sub(b, &b->qos_sub, c->local_channel, c->local_qos_stream_id) < 0)
        {
            return -1;
        }
    }
    return 0;
}

static int bridge_receiver_init(tp_bridge_t *b)
{
    const tp_bridge_config_t *c = &b->config;
    bool meta = false;
    for (size_t i = 0; i < b->mapping_count; i++)
    {
        meta = meta || b->mappings[i].cfg.forward_metadata || b->mappings[i].cfg.forward_tracelink;
    }
    if (add_sub(b, &b->payload_sub, c->payload_channel, c->payload_stream_id) < 0 ||
        add_sub(b, &b->control_sub, c->control_channel, c->control_stream_id) < 0 ||
        (meta && add_sub(b, &b->metadata_sub, c->metadata_channel, c->metadata_stream_id) < 0) ||
        (meta && add_pub(b, &b->local_metadata_pub, c->local_channel, c->local_metadata_stream_id) < 0))
    {
        return -1;
    }
    tp_bridge_assembler_config_t ac = {
        .max_inflight = c->max_inflight_frames,
        .max_chunk_bytes = b->chunk_bytes,
        .max_payload_bytes = c->max_payload_bytes,
        .integrity_crc32c = c->integrity_crc32c,
        .timeout_ns = (uint64_t)c->assembly_timeout_ms * 1000000u,
    };
    for (size_t i = 0; i < b->mapping_count; i++)
    {
        bridge_mapping_t *m = &b->mappings[i];
        if (tp_bridge_assembler_init(&m->assembler, &ac) < 0)
        {
            return -1;
        }
        m->assembler_ready = true;
        if (b->options.direct_writes)
        {
            tp_bridge_sink_t sink = { .begin = receiver_sink_begin, .abort = receiver_sink_abort, .clientd = m };
            tp_bridge_assembler_set_sink(&m->assembler, &sink);
        }
        if ((m->cfg.forward_progress || m->cfg.forward_qos) &&
            add_pub(b, &m->local_control_pub, c->local_channel, m->cfg.dest_control_stream_id) < 0)
        {
            return -1;
        }
        m->producer_id = 0x42520000u ^ (uint32_t)(m->cfg.dest_stream_id * 2654435761u);
        if (m->cfg.profile_index >= 0)
        {
            /* A fixed profile: the layout is known now; the producer is created by the duty cycle (§4 check). */
            receiver_layout_from(m, c, NULL, &m->want_layout);
            m->want_set = true;
            if (tp_bridge_assembler_set_capacity(&m->assembler, layout_max_stride(&m->want_layout)) < 0)
            {
                return -1;
            }
        }
    }
    if (add_sub(b, &b->local_announce_sub, c->local_channel, c->local_announce_stream_id) < 0)
    {
        return -1;
    }
    return 0;
}

int tp_bridge_init(tp_bridge_t **out, const tp_bridge_config_t *config, const tp_bridge_options_t *options)
{
    if (NULL == out || NULL == config || 0 == config->mapping_count || config->mapping_count > TP_BRIDGE_MAX_MAPPINGS)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_bridge_init: NULL argument or no mappings");
    }
    *out = NULL;
    tp_bridge_t *b = calloc(1, sizeof(*b));
    if (NULL == b)
    {
        return tp_err_set(TP_ERR_NO_MEMORY, "tp_bridge_init: out of memory");
    }
    b->config = *config;
    if (NULL != options)
    {
        b->options = *options;
    }
    b->sender = 0 != (config->role & TP_BRIDGE_ROLE_SENDER);
    b->receiver = 0 != (config->role & TP_BRIDGE_ROLE_RECEIVER);
    b->chunk_bytes = tp_bridge_config_chunk_bytes(config);
    b->mapping_count = config->mapping_count;
    for (size_t i = 0; i < b->mapping_count; i++)
    {
        b->mappings[i].cfg = config->mappings[i];
        b->mappings[i].bridge = b;
    }
    b->scratch_capacity = BRIDGE_MSG_MAX + TP_BRIDGE_CHUNK_OVERHEAD + TP_BRIDGE_HEADER_BYTES + 65536u;
    b->scratch = malloc(b->scratch_capacity);
    b->now_ns = tp_clock_mono_ns();
    b->started_ns = b->now_ns;
    if (NULL == b->scratch || bridge_context(b) < 0 || (b->sender && bridge_sender_init(b) < 0) ||
        (b->receiver && bridge_receiver_init(b) < 0))
    {
        int code = tp_errcode();
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", tp_errmsg());
        tp_bridge_close(b);
        return tp_err_set(0 != code ? code : TP_ERR_NO_MEMORY, "%s", msg);
    }
    TP_LOG_INFO(BRIDGE_LOG, "bridge %s: %s%s, %zu mapping(s), chunk %u bytes", config->instance_id,
        b->sender ? "sender" : "", b->receiver ? (b->sender ? "+receiver" : "receiver") : "", b->mapping_count,
        b->chunk_bytes);
    *out = b;
    return 0;
}

tp_producer_t *tp_bridge_dest_producer(const tp_bridge_t *b, size_t index)
{
    return NULL != b && index < b->mapping_count ? b->mappings[index].producer : NULL;
}

/* ====================================================================== duty cycle */

int tp_bridge_do_work(tp_bridge_t *b)
{
    if (NULL == b)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_bridge_do_work: NULL bridge");
    }
    int work = 0;
    b->now_ns = tp_clock_mono_ns();
    int rc = tp_client_do_work(b->client);
    work += rc > 0 ? rc : 0;
    rc = tp_transport_do_work(b->transport);
    work += rc > 0 ? rc : 0;
    if (b->sender)
    {
        rc = tp_subscription_poll(b->announce_sub, sender_on_announce_msg, b, BRIDGE_FRAGMENT_LIMIT);
        work += rc > 0 ? rc : 0;
        if (NULL != b->source_metadata_sub)
        {
            rc = tp_subscription_poll(b->source_metadata_sub, sender_on_metadata_msg, b, BRIDGE_FRAGMENT_LIMIT);
            work += rc > 0 ? rc : 0;
        }
        if (NULL != b->qos_sub)
        {
            rc = tp_subscription_poll(b->qos_sub, sender_on_qos_msg, b, BRIDGE_FRAGMENT_LIMIT);
            work += rc > 0 ? rc : 0;
        }
        uint64_t period = (uint64_t)b->config.announce_forward_ms * 1000000u;
        for (size_t i = 0; i < b->mapping_count; i++)
        {
            bridge_mapping_t *m = &b->mappings[i];
            if (NULL != m->control_sub)
            {
                rc = tp_subscription_poll(m->control_sub, sender_on_control_msg, m, BRIDGE_FRAGMENT_LIMIT);
                work += rc > 0 ? rc : 0;
            }
            if (m->announce_length > 0 && b->now_ns - m->announce_sent_ns >= period)
            {
                sender_forward_announce(b, m);
            }
        }
    }
    if (b->receiver)
    {
        /* Control first: an announce and the first chunks sent right after it arrive in the same cycle. */
        rc = tp_subscription_poll(b->control_sub, receiver_on_bridge_msg, b, BRIDGE_FRAGMENT_LIMIT);
        work += rc > 0 ? rc : 0;
        rc = tp_subscription_poll(b->payload_sub, receiver_on_bridge_msg, b, BRIDGE_FRAGMENT_LIMIT);
        work += rc > 0 ? rc : 0;
        if (NULL != b->metadata_sub)
        {
            rc = tp_subscription_poll(b->metadata_sub, receiver_on_metadata_msg, b, BRIDGE_FRAGMENT_LIMIT);
            work += rc > 0 ? rc : 0;
        }
        rc = tp_subscription_poll(b->local_announce_sub, receiver_on_local_announce, b, BRIDGE_FRAGMENT_LIMIT);
        work += rc > 0 ? rc : 0;
        for (size_t i = 0; i < b->mapping_count; i++)
        {
            bridge_mapping_t *m = &b->mappings[i];
            work += tp_bridge_assembler_expire(&m->assembler, b->now_ns);
            if (NULL != m->producer_add)
            {
                rc = tp_client_async_add_producer_poll(&m->producer, m->producer_add);
                if (0 != rc)
                {
                    m->producer_add = NULL;
                    work++;
                    tp_producer_layout_t granted;
                    if (rc > 0 && b->config.driver_mode && 0 == tp_producer_layout(m->producer, &granted))
                    {
                        /* Driver mode: the driver's profile is the local layout. */
                        m->want_layout = granted;
                        (void)tp_bridge_assembler_set_capacity(&m->assembler, layout_max_stride(&granted));
                    }
                    if (rc < 0)
                    {
                        TP_LOG_ERROR(BRIDGE_LOG, "mapping %u -> %u: destination producer (retried at the next "
                            "announce): %s", m->cfg.source_stream_id, m->cfg.dest_stream_id, tp_errmsg());
                        m->producer = NULL;
                        m->want_set = false;
                    }
                }
            }
            if (NULL != m->producer && m->want_set)
            {
                tp_producer_layout_t cur;
                if (m->bump_epoch || (!b->config.driver_mode && 0 == tp_producer_layout(m->producer, &cur) &&
                    !layout_equal(&cur, &m->want_layout)))
                {
                    work += receiver_apply_layout(b, m) > 0 ? 1 : 0;
                }
            }
            else if (NULL == m->producer && NULL == m->producer_add && m->want_set)
            {
                (void)receiver_apply_layout(b, m);
            }
        }
    }
    return work;
}

/* ====================================================================== stats / close */

int tp_bridge_stats(const tp_bridge_t *b, tp_bridge_stats_t *out)
{
    if (NULL == b || NULL == out)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_bridge_stats: NULL argument");
    }
    *out = b->stats;
    tp_bridge_receiver_stats_t *r = &out->receiver;
    for (int k = 0; k < TP_BRIDGE_DROP_COUNT; k++)
    {
        r->drops[k] = b->rx_drops[k];
    }
    out->sender.source_gaps = 0;
    for (size_t i = 0; i < b->mapping_count; i++)
    {
        const bridge_mapping_t *m = &b->mappings[i];
        if (NULL != m->consumer)
        {
            tp_consumer_stats_t cs;
            if (0 == tp_consumer_stats(m->consumer, &cs))
            {
                out->sender.source_gaps += cs.drops_gap + cs.drops_late;
            }
        }
        if (m->assembler_ready)
        {
            r->chunks += m->assembler.chunks;
            r->chunks_duplicate += m->assembler.chunks_duplicate;
            r->frames_completed += m->assembler.frames_completed;
            r->frames_direct += m->assembler.frames_direct;
            for (int k = 0; k < TP_BRIDGE_DROP_COUNT; k++)
            {
                r->drops[k] += m->assembler.drops[k];
            }
        }
        for (int k = 0; k < TP_BRIDGE_DROP_COUNT; k++)
        {
            r->drops[k] += m->drops[k];
        }
        r->frames_published += m->frames_published;
    }
    if (NULL != b->payload_sub)
    {
        tp_subscription_stats_t ss;
        if (0 == tp_subscription_stats(b->payload_sub, &ss))
        {
            r->udp_lost_messages = ss.lost_messages;
        }
    }
    return 0;
}

#define JSON_APPEND(...)                                                                                     \
    do                                                                                                       \
    {                                                                                                        \
        int n_ = snprintf(buf + pos, len - pos, __VA_ARGS__);                                                \
        if (n_ < 0 || (size_t)n_ >= len - pos)                                                               \
        {                                                                                                    \
            return -1;                                                                                       \
        }                                                                                                    \
        pos += (size_t)n_;                                                                                   \
    } while (0)

int tp_bridge_stats_json(const tp_bridge_stats_t *s, char *buf, size_t len)
{
    size_t pos = 0;
    if (NULL == s || NULL == buf || 0 == len)
    {
        return -1;
    }
    const tp_bridge_sender_stats_t *t = &s->sender;
    const tp_bridge_receiver_stats_t *r = &s->receiver;
    JSON_APPEND("{\"sender\":{\"frames\":%" PRIu64 ",\"frames_sent\":%" PRIu64 ",\"chunks_sent\":%" PRIu64
        ",\"bytes_sent\":%" PRIu64 ",\"announces_forwarded\":%" PRIu64 ",\"metadata_forwarded\":%" PRIu64
        ",\"tracelinks_forwarded\":%" PRIu64 ",\"progress_forwarded\":%" PRIu64 ",\"qos_forwarded\":%" PRIu64
        ",\"local_malformed\":%" PRIu64 ",\"source_gaps\":%" PRIu64 ",\"drops\":{",
        t->frames, t->frames_sent, t->chunks_sent, t->bytes_sent, t->announces_forwarded, t->metadata_forwarded,
        t->tracelinks_forwarded, t->progress_forwarded, t->qos_forwarded, t->local_malformed, t->source_gaps);
    for (int k = 0; k < TP_BRIDGE_SEND_DROP_COUNT; k++)
    {
        JSON_APPEND("%s\"%s\":%" PRIu64, 0 == k ? "" : ",", tp_bridge_send_drop_name(k), t->frame_drops[k]);
    }
    JSON_APPEND("}},\"receiver\":{\"chunks\":%" PRIu64 ",\"chunks_duplicate\":%" PRIu64 ",\"frames_completed\":%" PRIu64
        ",\"frames_direct\":%" PRIu64 ",\"frames_published\":%" PRIu64 ",\"announces\":%" PRIu64
        ",\"announces_stale\":%" PRIu64 ",\"metadata_published\":%" PRIu64 ",\"tracelinks_published\":%" PRIu64 ",\"progress_published\":%" PRIu64
        ",\"qos_published\":%" PRIu64 ",\"local_not_connected\":%" PRIu64 ",\"local_epochs\":%" PRIu64
        ",\"udp_lost_messages\":%" PRIu64 ",\"drops\":{",
        r->chunks, r->chunks_duplicate, r->frames_completed, r->frames_direct, r->frames_published, r->announces,
        r->announces_stale, r->metadata_published, r->tracelinks_published, r->progress_published, r->qos_published,
        r->local_not_connected, r->local_epochs, r->udp_lost_messages);
    for (int k = 0; k < TP_BRIDGE_DROP_COUNT; k++)
    {
        JSON_APPEND("%s\"%s\":%" PRIu64, 0 == k ? "" : ",", tp_bridge_drop_name(k), r->drops[k]);
    }
    JSON_APPEND("}}}");
    return (int)pos;
}

int tp_bridge_close(tp_bridge_t *b)
{
    if (NULL == b)
    {
        return 0;
    }
    for (size_t i = 0; i < b->mapping_count; i++)
    {
        bridge_mapping_t *m = &b->mappings[i];
        if (NULL != m->consumer)
        {
            tp_consumer_close(m->consumer);
        }
        if (NULL != m->producer_add)
        {
            tp_producer_t *p = NULL;
            for (int k = 0; k < 1000 && 0 == tp_client_async_add_producer_poll(&p, m->producer_add); k++)
            {
                tp_client_do_work(b->client);
            }
            m->producer = NULL != p ? p : m->producer;
        }
        receiver_drop_direct(m, TP_BRIDGE_DROP_EPOCH_CHANGE);
        if (NULL != m->producer)
        {
            tp_producer_close(m->producer);
        }
        tp_subscription_close(m->control_sub);
        tp_publication_close(m->local_control_pub);
        if (m->assembler_ready)
        {
            tp_bridge_assembler_close(&m->assembler);
        }
        free(m->announce);
    }
    tp_publication_close(b->payload_pub);
    tp_publication_close(b->control_pub);
    tp_publication_close(b->metadata_pub);
    tp_subscription_close(b->announce_sub);
    tp_subscription_close(b->source_metadata_sub);
    tp_subscription_close(b->qos_sub);
    tp_subscription_close(b->payload_sub);
    tp_subscription_close(b->control_sub);
    tp_subscription_close(b->metadata_sub);
    tp_publication_close(b->local_metadata_pub);
    tp_subscription_close(b->local_announce_sub);
    if (NULL != b->transport)
    {
        tp_transport_close(b->transport);
    }
    if (NULL != b->client)
    {
        tp_client_close(b->client);
    }
    tp_context_close(b->ctx);
    free(b->scratch);
    free(b);
    return 0;
}
