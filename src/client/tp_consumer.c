/*
 * Consumer frame path (wire spec §10.2, §11, §15.3, §15.4, §15.18), on the
 * conductor thread: FrameDescriptor handling (epoch and seq checks, switch
 * de-duplication, gap and resync accounting, rate limiting), the seqlock
 * read and the frame view handed to on_frame, tp_frame_is_valid /
 * tp_frame_copy, FrameProgress, stats and accessors.
 */
#include <string.h>

#include "client/tp_consumer_internal.h"
#include "common/tp_clock.h"
#include "common/tp_error.h"
#include "common/tp_log.h"
#include "common/tp_stage_probe.h"
#include "protocol/tp_proto.h"
#include "protocol/tp_proto_hot.h"
#include "shm/tp_shm_lib.h"

_Static_assert(TP_PROGRESS_STATE_STARTED == (int)TP_SBE_WIRE_FRAME_PROGRESS_STATE_STARTED &&
        TP_PROGRESS_STATE_PROGRESS == (int)TP_SBE_WIRE_FRAME_PROGRESS_STATE_PROGRESS &&
        TP_PROGRESS_STATE_COMPLETE == (int)TP_SBE_WIRE_FRAME_PROGRESS_STATE_COMPLETE,
    "tp_progress_state_t must keep the wire values of FrameProgressState");

void tp_consumer_config_defaults(tp_consumer_config_t *config)
{
    if (NULL == config)
    {
        return;
    }
    memset(config, 0, sizeof(*config));
    config->stream_id = 10000;
    config->mode = TP_CONSUMER_MODE_STREAM;
    config->max_outstanding_seq_gap = 256;
    config->fragment_limit = 64;
    config->use_metadata = true;
    config->max_meta_blob_bytes = TP_META_BLOB_MAX_BYTES;
}

/* ------------------------------------------------------------------------- */
/* Frame views                                                                */
/* ------------------------------------------------------------------------- */

bool tp_frame_is_valid(const tp_frame_t *frame)
{
    if (NULL == frame || NULL == frame->internal)
    {
        return false;
    }
    const tp_frame_internal_t *fi = frame->internal;
    return TP_DROP_NONE == tp_shm_frame_end(&fi->view);
}

int tp_frame_copy(const tp_frame_t *frame, void *dst, size_t dst_len)
{
    if (NULL == frame || NULL == frame->internal || (NULL == dst && frame->length > 0))
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_frame_copy: NULL argument");
    }
    if (dst_len < frame->length)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_frame_copy: destination has %zu bytes, the frame %zu", dst_len,
            frame->length);
    }
    if (frame->length > 0)
    {
        memcpy(dst, frame->payload, frame->length);
    }
    if (!tp_frame_is_valid(frame))
    {
        return tp_err_set(TP_ERR_WOULD_BLOCK, "frame seq %llu was overwritten during the copy; discard it",
            (unsigned long long)frame->seq);
    }
    return 0;
}

/*
 * FrameProgress (§10.2.2): decode (src/protocol; a message that does not
 * decode, e.g. an unknown state, is counted as dropped), then validate:
 * mapped epoch, monotonic within a frame, within the largest stride.
 */
void tp_consumer_handle_progress(tp_consumer_t *c, const uint8_t *buffer, size_t length)
{
    if (!c->config.supports_progress)
    {
        return;
    }
    tp_proto_frame_progress_view_t v;
    if (tp_proto_decode_frame_progress(buffer, length, &v) < 0)
    {
        tp_counter_add(&c->progress_dropped, 1);
        return;
    }
    if (v.stream_id != c->config.stream_id)
    {
        return;
    }
    uint64_t max_stride = 0;
    for (size_t i = 0; i < c->pool_count; i++)
    {
        uint64_t st = tp_shm_region_superblock(c->pools[i])->stride_bytes;
        max_stride = st > max_stride ? st : max_stride;
    }
    bool regress = c->progress_valid && c->progress_seq == v.seq && v.payload_bytes_filled < c->progress_bytes;
    if (NULL == c->ring || v.epoch != c->epoch || v.payload_bytes_filled > max_stride || regress)
    {
        tp_counter_add(&c->progress_dropped, 1);
        return;
    }
    c->progress_valid = true;
    c->progress_seq = v.seq;
    c->progress_bytes = v.payload_bytes_filled;
    tp_counter_add(&c->progress_received, 1);
    if (NULL != c->config.on_progress)
    {
        /* the decode accepts only the three wire states, which tp_progress_state_t mirrors */
        c->config.on_progress(c->config.clientd, v.epoch, v.seq, v.payload_bytes_filled, (tp_progress_state_t)v.state);
    }
}

/* Per-consumer control stream: only FrameProgress is expected there (§5). */
void tp_consumer_on_pc_control(void *clientd, const uint8_t *buffer, size_t length, const tp_header_t *header)
{
    (void)header;
    tp_consumer_t *c = clientd;
    uint16_t schema_id = 0, template_id = 0;
    if (0 == tp_proto_peek(buffer, length, &schema_id, &template_id) && TP_SBE_WIRE_SCHEMA_ID == schema_id &&
        TP_SBE_WIRE_FRAME_PROGRESS_TEMPLATE_ID == template_id)
    {
        tp_consumer_handle_progress(c, buffer, length);
    }
}

/* ------------------------------------------------------------------------- */
/* Descriptors and frames                                                     */
/* ------------------------------------------------------------------------- */

void tp_consumer_on_descriptor(void *clientd, const uint8_t *buffer, size_t length, const tp_header_t *header)
{
    (void)header;
    tp_consumer_t *c = clientd;
    /*
     * Polled in place (tp_subscription_poll_in_place): `buffer` may point into the shared log, which another
     * process could write during this call, so it is read exactly once, by the decoder below, and only the
     * decoded copy is checked and used after that.
     *
     * Hot path: the inline decoder (src/protocol/tp_proto_hot.h: the checks of tp_proto_decode_frame_descriptor,
     * template first, no call, no error formatting for the other messages of the stream), then the cheapest
     * semantic checks first: stream, mapping, epoch, seq.
     */
    tp_proto_frame_descriptor_view_t v;
    if (!tp_proto_hot_decode_frame_descriptor(buffer, length, &v) || v.stream_id != c->config.stream_id)
    {
        return;
    }
    tp_counter_add(&c->descriptors, 1);
    if (NULL == c->ring)
    {
        tp_counter_add(&c->descriptors_unmapped, 1);
        return;
    }
    uint64_t epoch = v.epoch;
    if (epoch != c->epoch)
    {
        tp_counter_add(&c->descriptors_wrong_epoch, 1);
        return;
    }
    uint64_t seq = v.seq;
    if (c->switch_dedup)
    {
        if (!c->desc_from_prev)
        {
            c->switch_new_seen = true;
        }
        if (c->have_last_seq && seq <= c->last_seq)
        {
            /* already seen on the other stream (or the producer's fan-out lags): not a regression */
            tp_counter_add(&c->descriptors_duplicate, 1);
            return;
        }
        if (!c->desc_from_prev && NULL == c->sub_descriptor_prev)
        {
            c->switch_dedup = false; /* the new stream has passed everything seen: the switch is complete */
        }
    }
    if (c->have_last_seq)
    {
        if (seq <= c->last_seq)
        {
            /* seq regression within an epoch: the producer restarted without bumping the epoch (§15.2) */
            tp_counter_add(&c->drops[TP_DROP_SEQ_STALE], 1);
            TP_LOG_INFO("consumer", "stream %u: seq regressed %llu -> %llu in epoch %llu; remapping",
                c->config.stream_id, (unsigned long long)c->last_seq, (unsigned long long)seq,
                (unsigned long long)c->epoch);
            tp_consumer_unmap(c);
            tp_counter_add(&c->unmaps, 1);
            return;
        }
        uint64_t gap = seq - c->last_seq - 1;
        if (gap > 0 && c->pc_active && c->config.max_rate_hz > 0)
        {
            tp_counter_add(&c->drops_rate_limited, gap); /* thinned out by the producer at our request */
        }
        else if (gap > 0)
        {
            tp_counter_add(&c->drops_gap, gap);
            if (gap > c->config.max_outstanding_seq_gap)
            {
                tp_counter_add(&c->resyncs, 1);
            }
        }
    }
    c->last_seq = seq;
    c->have_last_seq = true;
    atomic_store_explicit(&c->a_last_seq, seq, memory_order_relaxed);
    /*
     * §15.4 resync: when the producer is already more than max_outstanding_seq_gap
     * frames ahead (the slot of seq + gap holds that frame or a newer one), drop
     * to the newest committed frame instead of working through a stale backlog.
     */
    if (seq < c->resync_until)
    {
        tp_counter_add(&c->drops_gap, 1);
        return;
    }
    uint64_t max_gap = c->config.max_outstanding_seq_gap;
    if (max_gap > 0 && max_gap < c->nslots)
    {
        uint64_t probe = seq + max_gap;
        uint64_t word = tp_shm_slot_seq_commit_load(c->ring, tp_shm_header_index(probe, c->nslots));
        if ((word & 1u) && (word >> 1) >= probe)
        {
            c->resync_until = word >> 1;
            tp_counter_add(&c->resyncs, 1);
            tp_counter_add(&c->drops_gap, 1);
            return;
        }
    }
    uint64_t desc_ts = v.timestamp_ns; /* raw: the null value when absent */
    if (TP_CONSUMER_MODE_RATE_LIMITED == c->config.mode && c->config.max_rate_hz > 0)
    {
        uint64_t t = desc_ts != TP_NULL_TIMESTAMP ? desc_ts : tp_clock_mono_ns();
        if (t < c->next_allowed_ns)
        {
            tp_counter_add(&c->drops_rate_limited, 1);
            return;
        }
        c->next_allowed_ns = t + UINT64_C(1000000000) / c->config.max_rate_hz;
    }
    TP_STAGE_MARK(TP_STAGE_C_DESC_OK);
    tp_shm_frame_view_t *view = &c->frame_internal.view;
    tp_drop_reason_t reason =
        tp_shm_frame_begin(c->ring, (const tp_shm_region_t *const *)c->pools, c->pool_count, seq, view);
    if (TP_DROP_NONE != reason)
    {
        tp_counter_add(&c->drops[reason], 1);
        if (TP_DROP_NOT_COMMITTED == reason || TP_DROP_SEQ_AHEAD == reason || TP_DROP_LATE == reason)
        {
            tp_counter_add(&c->drops_late, 1);
        }
        return;
    }
    TP_STAGE_MARK(TP_STAGE_C_SLOT_OK);
    tp_frame_t frame;
    frame.stream_id = c->config.stream_id;
    frame.epoch = epoch;
    frame.seq = seq;
    frame.timestamp_ns = view->header.timestamp_ns;
    frame.descriptor_timestamp_ns = desc_ts;
    frame.meta_version = view->header.meta_version;
    frame.trace_id = v.trace_id; /* ERRATA 1: 0 for both 0 and all-ones ("no trace") */
    frame.pool_id = view->header.pool_id;
    frame.tensor = &view->header.tensor;
    frame.payload = view->payload;
    frame.length = view->header.values_len_bytes;
    frame.internal = &c->frame_internal;
    c->config.on_frame(c->config.clientd, &frame);
    tp_counter_add(&c->frames, 1);
    if (TP_DROP_NONE != tp_shm_frame_end(view))
    {
        tp_counter_add(&c->drops[TP_DROP_LATE], 1);
        tp_counter_add(&c->drops_late, 1);
    }
    else
    {
        tp_counter_add(&c->bytes, frame.length);
    }
}

/* ------------------------------------------------------------------------- */
/* Accessors                                                                  */
/* ------------------------------------------------------------------------- */

int tp_consumer_stats(const tp_consumer_t *consumer, tp_consumer_stats_t *s)
{
    if (NULL == consumer || NULL == s)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_consumer_stats: NULL argument");
    }
    tp_consumer_t *c = (tp_consumer_t *)consumer;
    memset(s, 0, sizeof(*s));
    s->frames = tp_counter_get(&c->frames);
    s->bytes = tp_counter_get(&c->bytes);
    s->drops_gap = tp_counter_get(&c->drops_gap);
    s->drops_late = tp_counter_get(&c->drops_late);
    for (int i = 0; i < TP_DROP_REASON_COUNT; i++)
    {
        s->drops[i] = tp_counter_get(&c->drops[i]);
    }
    for (int i = 0; i < TP_ANNOUNCE_REJECT_COUNT; i++)
    {
        s->announces_rejected[i] = tp_counter_get(&c->announces_rejected[i]);
    }
    s->drops_rate_limited = tp_counter_get(&c->drops_rate_limited);
    s->descriptors = tp_counter_get(&c->descriptors);
    s->descriptors_unmapped = tp_counter_get(&c->descriptors_unmapped);
    s->descriptors_wrong_epoch = tp_counter_get(&c->descriptors_wrong_epoch);
    s->descriptors_duplicate = tp_counter_get(&c->descriptors_duplicate);
    s->announces_accepted = tp_counter_get(&c->announces_accepted);
    s->remaps = tp_counter_get(&c->remaps);
    s->unmaps = tp_counter_get(&c->unmaps);
    s->resyncs = tp_counter_get(&c->resyncs);
    s->hellos_sent = tp_counter_get(&c->hellos_sent);
    s->qos_sent = tp_counter_get(&c->qos_sent);
    s->configs_received = tp_counter_get(&c->configs_received);
    s->metadata_updates = tp_counter_get(&c->metadata_updates);
    s->progress_received = tp_counter_get(&c->progress_received);
    s->meta_blobs_received = tp_counter_get(&c->meta_blobs_received);
    s->meta_blobs_discarded = tp_counter_get(&c->meta_blobs_discarded);
    s->progress_dropped = tp_counter_get(&c->progress_dropped);
    s->other_producer_announces = tp_counter_get(&c->other_producer_announces);
    s->epoch = tp_counter_get(&c->a_epoch);
    s->last_seq = tp_counter_get(&c->a_last_seq);
    s->mapped = atomic_load(&c->mapped);
    s->descriptor_stream_id = atomic_load(&c->a_descriptor_stream_id);
    s->progress_stream_id = atomic_load(&c->a_progress_stream_id);
    s->use_shm = atomic_load(&c->a_use_shm);
    return 0;
}

uint32_t tp_consumer_id(const tp_consumer_t *consumer)
{
    return consumer ? consumer->consumer_id : 0;
}

bool tp_consumer_is_mapped(const tp_consumer_t *consumer)
{
    return consumer && atomic_load(&((tp_consumer_t *)consumer)->mapped);
}

int tp_consumer_fallback_uri(const tp_consumer_t *consumer, char *buf, size_t len)
{
    if (NULL == consumer || NULL == buf)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_consumer_fallback_uri: NULL argument");
    }
    size_t n = strlen(consumer->fallback_uri);
    if (n + 1 > len)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "fallback URI needs %zu bytes", n + 1);
    }
    memcpy(buf, consumer->fallback_uri, n + 1);
    return (int)n;
}
