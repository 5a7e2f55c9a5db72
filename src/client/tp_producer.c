/*
 * Producer hot path (wire spec §10.2, §15.18), application thread only: the
 * single writer of the SHM: offer, try_claim, commit, abort, progress,
 * flush. Frames are published strictly in sequence order through a small
 * ring of in-flight entries. Before a slot's seq_commit is set, the
 * FrameDescriptor's space is claimed on the descriptor publication, so back
 * pressure never leaves a committed slot without its descriptor and never
 * burns a sequence number. Committed frames and progress meant for
 * per-consumer streams are handed to the conductor through SPSC rings
 * (tp_producer_fanout.c). No allocation, lock or system call here.
 *
 * The rest of the producer: tp_producer_internal.h.
 */
#include <stdlib.h>
#include <string.h>

#include "client/tp_producer_internal.h"
#include "common/tp_error.h"
#include "common/tp_log.h"

void tp_producer_config_defaults(tp_producer_config_t *config)
{
    if (NULL == config)
    {
        return;
    }
    memset(config, 0, sizeof(*config));
    config->stream_id = 10000;
    config->header_nslots = 1024;
    config->pool_count = 1;
    config->pools[0].pool_id = 1;
    config->pools[0].stride_bytes = 64 * 1024;
    config->max_claims = 16;
    config->prefault = true;
    config->remove_on_close = true;
    config->file_mode = 0600;
}

/* ------------------------------------------------------------------------- */
/* Hot path                                                                   */
/* ------------------------------------------------------------------------- */

static inline int select_pool(const tp_producer_t *p, size_t length)
{
    for (size_t i = 0; i < p->hot->pool_count; i++)
    {
        if (length <= p->hot->strides[i])
        {
            return (int)i;
        }
    }
    return -1;
}

/* Rare path (not steady state): count the drop and say what to configure. No allocation. */
static int64_t no_pool(tp_producer_t *p, size_t length)
{
    tp_counter_add(&p->no_pool_drops, 1);
    size_t n = p->hot->pool_count;
    tp_err_set(TP_ERR_INVALID_ARGUMENT,
        "payload of %zu bytes is larger than the largest pool stride (%u bytes, pool id %u) of stream %u: frame "
        "dropped; configure a pool with stride_bytes >= %zu (tp_producer_config_t.pools, multiple of 64)",
        length, n > 0 ? p->hot->strides[n - 1] : 0u, n > 0 ? (unsigned)p->hot->pool_ids[n - 1] : 0u,
        p->config.stream_id, length);
    return TP_PRODUCER_NO_POOL;
}

/* Claim the descriptor's space. 1: claimed, 0: not connected (no claim), <0: TP_PRODUCER_* code (back pressure counted). */
static int64_t claim_descriptor(tp_producer_t *p, tp_buffer_claim_t *claim)
{
    for (int i = 0; i < TP_ADMIN_RETRIES; i++)
    {
        int64_t rc = tp_publication_try_claim(p->pub_descriptor, TP_DESCRIPTOR_LENGTH, claim);
        if (rc > 0)
        {
            return 1;
        }
        switch (rc)
        {
            case TP_PUBLICATION_NOT_CONNECTED:
                return 0;
            case TP_PUBLICATION_ADMIN_ACTION:
                tp_counter_add(&p->admin_action_retries, 1);
                continue;
            case TP_PUBLICATION_BACK_PRESSURED:
                tp_counter_add(&p->back_pressured, 1);
                return TP_PRODUCER_BACK_PRESSURED;
            case TP_PUBLICATION_CLOSED:
                return TP_PRODUCER_CLOSED;
            default:
                tp_err_set(TP_ERR_IO, "descriptor publication failed (%lld)", (long long)rc);
                return TP_PRODUCER_ERROR;
        }
    }
    tp_counter_add(&p->back_pressured, 1);
    return TP_PRODUCER_BACK_PRESSURED; /* persistent admin action: nothing was done, retry */
}

/* Header written, seq_commit set, descriptor committed (or dropped when not connected). */
static void publish_entry(tp_producer_t *p, tp_producer_entry_t *e, tp_buffer_claim_t *claim, bool connected)
{
    tp_shm_slot_write_header(p->hot->ring, e->seq, &e->header); /* validated before; cannot fail */
    tp_shm_slot_write_commit(p->hot->ring, e->seq);
    if (connected)
    {
        tp_producer_encode_descriptor(p, claim->data, claim->length, p->hot->epoch, e->seq, e->header.meta_version, e->trace_id);
        if (tp_buffer_claim_commit(claim) < 0)
        {
            /* the slot is committed, its descriptor lost: consumers see a gap */
            tp_counter_add(&p->descriptors_failed, 1);
        }
        else
        {
            tp_counter_add(&p->descriptors_published, 1);
        }
    }
    else
    {
        tp_counter_add(&p->descriptors_not_connected, 1);
    }
    tp_counter_add(&p->frames, 1);
    tp_counter_add(&p->bytes, e->length);
    atomic_store_explicit(&p->current_seq, e->seq + 1, memory_order_release);
    if (atomic_load_explicit(&p->fanout_active, memory_order_relaxed))
    {
        tp_fanout_entry_t *f = tp_spsc_queue_claim(&p->fanout);
        if (NULL != f)
        {
            f->epoch = p->hot->epoch;
            f->seq = e->seq;
            f->trace_id = e->trace_id;
            f->meta_version = e->header.meta_version;
            tp_spsc_queue_commit(&p->fanout);
        }
        else
        {
            tp_counter_add(&p->fanout_overflow, 1);
        }
    }
}

/* Publish ready entries in order. Returns count published, or a negative TP_PRODUCER_* code. */
int64_t tp_producer_flush_entries(tp_producer_t *p)
{
    int64_t published = 0;
    while (p->count > 0 && p->entries[p->head].ready)
    {
        tp_producer_entry_t *e = &p->entries[p->head];
        if (!e->aborted)
        {
            tp_buffer_claim_t claim;
            int64_t rc = claim_descriptor(p, &claim);
            if (rc < 0)
            {
                return rc;
            }
            publish_entry(p, e, &claim, 1 == rc);
            published++;
        }
        p->head = (p->head + 1) % p->max_claims;
        p->count--;
    }
    return published;
}

static int fill_header(tp_producer_t *p, tp_producer_entry_t *e, const tp_tensor_header_t *tensor, size_t length,
    const tp_frame_options_t *options)
{
    tp_shm_slot_header_t *h = &e->header;
    if (NULL == tensor)
    {
        if (length > INT32_MAX)
        {
            return tp_err_set(TP_ERR_INVALID_ARGUMENT, "a payload of %zu bytes needs an explicit tensor header", length);
        }
        memset(&h->tensor, 0, sizeof(h->tensor));
        h->tensor.dtype = TP_DTYPE_UINT8;
        h->tensor.major_order = TP_MAJOR_ORDER_ROW;
        h->tensor.ndims = 1;
        h->tensor.progress_unit = TP_PROGRESS_UNIT_NONE;
        h->tensor.dims[0] = (int32_t)length;
    }
    else
    {
        if (TP_DROP_NONE != tp_tensor_header_check(tensor, length, NULL))
        {
            return tp_tensor_header_validate(tensor, length);
        }
        h->tensor = *tensor;
    }
    h->seq_commit = 0;
    h->values_len_bytes = (uint32_t)length;
    h->payload_slot = tp_shm_header_index(e->seq, p->hot->header_nslots);
    h->pool_id = p->hot->pool_ids[e->pool_index];
    h->payload_offset = 0;
    h->timestamp_ns = (options && options->timestamp_ns) ? options->timestamp_ns : tp_clock_mono_ns();
    h->meta_version = atomic_load_explicit(&p->meta_version, memory_order_relaxed);
    e->trace_id = options ? options->trace_id : 0;
    if (0 == e->trace_id && p->config.trace_enabled)
    {
        e->trace_id = tp_trace_id_next(&p->trace_gen); /* TraceLink §8.1: tracing on, no trace id given */
    }
    e->length = length;
    return 0;
}

static int check_tensor(const tp_tensor_header_t *tensor, size_t length)
{
    if (NULL == tensor)
    {
        return length > INT32_MAX ? tp_err_set(TP_ERR_INVALID_ARGUMENT,
                                        "a payload of %zu bytes needs an explicit tensor header", length)
                                  : 0;
    }
    if (TP_DROP_NONE != tp_tensor_header_check(tensor, length, NULL))
    {
        return tp_tensor_header_validate(tensor, length);
    }
    return 0;
}

int64_t tp_producer_offer(tp_producer_t *p, const tp_tensor_header_t *tensor, const void *payload, size_t length,
    const tp_frame_options_t *options)
{
    if (NULL == p || !p->active)
    {
        return TP_PRODUCER_CLOSED;
    }
    if (p->driver_mode && tp_producer_driver_gate(p) < 0)
    {
        return TP_PRODUCER_NOT_ATTACHED;
    }
    if (NULL == payload && length > 0)
    {
        tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_producer_offer: payload is NULL");
        return TP_PRODUCER_ERROR;
    }
    if (p->count > 0)
    {
        int64_t f = tp_producer_flush_entries(p);
        if (f < 0)
        {
            return f;
        }
    }
    int pool = select_pool(p, length);
    if (pool < 0)
    {
        return no_pool(p, length);
    }
    if (check_tensor(tensor, length) < 0)
    {
        return TP_PRODUCER_ERROR;
    }
    if (p->count > 0)
    {
        /* claims still open: queue behind them (descriptors go out in sequence order) */
        if (p->count >= p->max_claims)
        {
            return TP_PRODUCER_CLAIMS_FULL;
        }
        tp_producer_entry_t *e = &p->entries[(p->head + p->count) % p->max_claims];
        e->seq = p->next_seq++;
        e->pool_index = (uint32_t)pool;
        e->aborted = false;
        tp_shm_slot_write_begin(p->hot->ring, e->seq);
        if (length > 0) /* payload may be NULL for an empty frame: memcpy(dst, NULL, 0) is undefined */
        {
            memcpy(tp_shm_pool_payload(p->hot->pools[pool], tp_shm_header_index(e->seq, p->hot->header_nslots)),
                payload, length);
        }
        fill_header(p, e, tensor, length, options);
        e->ready = true;
        p->count++;
        return TP_PRODUCER_QUEUED;
    }
    /*
     * Write the slot first (in progress, payload) under the next seq WITHOUT taking it, then claim the
     * descriptor space: the claim on the shared descriptor log is held only for header + commit + descriptor,
     * never during the copy (subscribers wait for a claimed but uncommitted frame; a producer preempted past
     * the transport's unblock timeout would make them skip it as a dead writer's hole). Under back pressure the
     * slot stays in progress and next_seq is unchanged: the retry rewrites the same seq (nothing burnt, and no
     * committed slot lacks its descriptor).
     */
    tp_producer_entry_t *e = &p->entries[p->head];
    e->seq = p->next_seq;
    e->pool_index = (uint32_t)pool;
    tp_shm_slot_write_begin(p->hot->ring, e->seq);
    if (length > 0)
    {
        memcpy(tp_shm_pool_payload(p->hot->pools[pool], tp_shm_header_index(e->seq, p->hot->header_nslots)), payload,
            length);
    }
    fill_header(p, e, tensor, length, options);
    tp_buffer_claim_t claim;
    int64_t rc = claim_descriptor(p, &claim);
    if (rc < 0)
    {
        return rc;
    }
    p->next_seq++;
    publish_entry(p, e, &claim, 1 == rc);
    return (int64_t)e->seq;
}

int64_t tp_producer_try_claim(tp_producer_t *p, size_t length, tp_frame_claim_t *claim)
{
    if (NULL == p || !p->active)
    {
        return TP_PRODUCER_CLOSED;
    }
    if (NULL == claim)
    {
        tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_producer_try_claim: claim is NULL");
        return TP_PRODUCER_ERROR;
    }
    if (p->driver_mode && tp_producer_driver_gate(p) < 0)
    {
        return TP_PRODUCER_NOT_ATTACHED;
    }
    int pool = select_pool(p, length);
    if (pool < 0)
    {
        return no_pool(p, length);
    }
    if (p->count >= p->max_claims)
    {
        return TP_PRODUCER_CLAIMS_FULL;
    }
    uint32_t index = (p->head + p->count) % p->max_claims;
    tp_producer_entry_t *e = &p->entries[index];
    e->seq = p->next_seq++;
    e->pool_index = (uint32_t)pool;
    e->ready = false;
    e->aborted = false;
    e->length = length;
    e->progress_started = false;
    e->progress_last_bytes = 0;
    e->progress_reported = 0;
    e->progress_last_ns = 0;
    p->count++;
    uint32_t slot = tp_shm_header_index(e->seq, p->hot->header_nslots);
    tp_shm_slot_write_begin(p->hot->ring, e->seq);
    claim->seq = e->seq;
    claim->data = tp_shm_pool_payload(p->hot->pools[pool], slot);
    claim->capacity = p->hot->strides[pool];
    claim->length = length;
    claim->pool_id = p->hot->pool_ids[pool];
    claim->producer = p;
    claim->index = index;
    return (int64_t)e->seq;
}

static tp_producer_entry_t *claim_entry(tp_frame_claim_t *claim)
{
    if (NULL == claim || NULL == claim->producer)
    {
        tp_err_set(TP_ERR_STATE, "frame claim is not open (already committed or aborted?)");
        return NULL;
    }
    tp_producer_t *p = claim->producer;
    if (claim->index >= p->max_claims || p->entries[claim->index].seq != claim->seq || p->entries[claim->index].ready)
    {
        tp_err_set(TP_ERR_STATE, "frame claim for seq %llu is not open", (unsigned long long)claim->seq);
        return NULL;
    }
    return &p->entries[claim->index];
}

int64_t tp_frame_claim_commit(tp_frame_claim_t *claim, const tp_tensor_header_t *tensor, size_t length,
    const tp_frame_options_t *options)
{
    tp_producer_entry_t *e = claim_entry(claim);
    if (NULL == e)
    {
        return TP_PRODUCER_ERROR;
    }
    tp_producer_t *p = claim->producer;
    if (p->driver_mode && !atomic_load_explicit(&p->lease_valid, memory_order_acquire))
    {
        /* the lease was lost while the frame was being filled: its regions are no longer ours (§4.7) */
        tp_frame_claim_abort(claim);
        tp_counter_add(&p->frames_dropped_unattached, 1);
        return TP_PRODUCER_NOT_ATTACHED;
    }
    if (length > claim->capacity)
    {
        tp_err_set(TP_ERR_INVALID_ARGUMENT, "commit length %zu exceeds the claimed slot capacity %zu", length,
            claim->capacity);
        return TP_PRODUCER_ERROR;
    }
    if (check_tensor(tensor, length) < 0)
    {
        return TP_PRODUCER_ERROR;
    }
    fill_header(p, e, tensor, length, options);
    e->ready = true;
    uint64_t seq = claim->seq;
    claim->producer = NULL;
    int64_t f = tp_producer_flush_entries(p);
    if (0 == p->count || p->entries[p->head].seq > seq)
    {
        return (int64_t)seq;
    }
    if (f < 0 && p->entries[p->head].seq == seq)
    {
        /*
         * The claim is consumed: -1 (TP_PRODUCER_ERROR) would say it was not. A descriptor publication error
         * leaves the frame queued, uncommitted, like back pressure; tp_errmsg() keeps the reason and the next
         * hot-path call or tp_producer_flush() retries (and reports) it.
         */
        return TP_PRODUCER_ERROR != f ? f : TP_PRODUCER_DEFERRED;
    }
    return TP_PRODUCER_QUEUED; /* behind earlier frames still open or waiting for descriptor space */
}

int tp_frame_claim_abort(tp_frame_claim_t *claim)
{
    tp_producer_entry_t *e = claim_entry(claim);
    if (NULL == e)
    {
        return -1;
    }
    tp_producer_t *p = claim->producer;
    tp_counter_add(&p->claims_aborted, 1);
    uint32_t newest = (p->head + p->count - 1) % p->max_claims;
    claim->producer = NULL;
    if (claim->index == newest && e->seq + 1 == p->next_seq)
    {
        /* give the sequence number back; the slot stays "in progress" until it is rewritten */
        p->next_seq--;
        p->count--;
        e->seq = UINT64_MAX;
    }
    else
    {
        e->ready = true;
        e->aborted = true;
    }
    tp_producer_flush_entries(p);
    return 0;
}

int tp_producer_flush(tp_producer_t *p)
{
    if (NULL == p || !p->active)
    {
        return tp_err_set(TP_ERR_CLOSED, "tp_producer_flush: producer closed");
    }
    int64_t rc = tp_producer_flush_entries(p);
    if (rc < 0 && TP_PRODUCER_BACK_PRESSURED != rc)
    {
        return -1;
    }
    return rc < 0 ? 0 : (int)rc;
}

int tp_frame_claim_progress(tp_frame_claim_t *claim, uint64_t bytes_filled)
{
    tp_producer_entry_t *e = claim_entry(claim);
    if (NULL == e)
    {
        return -1;
    }
    tp_producer_t *p = claim->producer;
    if (bytes_filled > e->length || bytes_filled < e->progress_reported)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT,
            "progress %llu bytes must be monotonic and at most the claimed length %zu (last %llu)",
            (unsigned long long)bytes_filled, e->length, (unsigned long long)e->progress_reported);
    }
    e->progress_reported = bytes_filled;
    if (!atomic_load_explicit(&p->progress_enabled, memory_order_relaxed))
    {
        return 0;
    }
    uint64_t now = tp_clock_mono_ns();
    uint8_t state = TP_SBE_WIRE_FRAME_PROGRESS_STATE_PROGRESS;
    if (!e->progress_started)
    {
        state = TP_SBE_WIRE_FRAME_PROGRESS_STATE_STARTED;
    }
    else if (bytes_filled == e->length)
    {
        state = TP_SBE_WIRE_FRAME_PROGRESS_STATE_COMPLETE;
    }
    else if (now - e->progress_last_ns < atomic_load_explicit(&p->progress_interval_ns, memory_order_relaxed) ||
        bytes_filled - e->progress_last_bytes < atomic_load_explicit(&p->progress_bytes_delta, memory_order_relaxed))
    {
        return 0;
    }
    bool sent = false;
    if (atomic_load_explicit(&p->progress_shared, memory_order_relaxed))
    {
        uint8_t buf[TP_PROGRESS_LENGTH];
        tp_producer_encode_progress(p, buf, sizeof(buf), p->hot->epoch, e->seq, bytes_filled, state);
        sent = tp_publication_offer(p->pub_control, buf, sizeof(buf), NULL, NULL) > 0;
    }
    if (atomic_load_explicit(&p->progress_fanout_active, memory_order_relaxed))
    {
        /* per-consumer control streams belong to the conductor: hand the hint over (SPSC) */
        tp_progress_entry_t *pe = tp_spsc_queue_claim(&p->progress_queue);
        if (NULL != pe)
        {
            pe->epoch = p->hot->epoch;
            pe->seq = e->seq;
            pe->bytes_filled = bytes_filled;
            pe->state = state;
            tp_spsc_queue_commit(&p->progress_queue);
            sent = true;
        }
    }
    if (!sent)
    {
        return 0; /* progress is best effort: the descriptor stays the canonical signal */
    }
    e->progress_started = true;
    e->progress_last_ns = now;
    e->progress_last_bytes = bytes_filled;
    tp_counter_add(&p->progress_sent, 1);
    return 1;
}

/* ------------------------------------------------------------------------- */
/* Accessors                                                                  */
/* ------------------------------------------------------------------------- */

int tp_producer_stats(const tp_producer_t *producer, tp_producer_stats_t *s)
{
    if (NULL == producer || NULL == s)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_producer_stats: NULL argument");
    }
    tp_producer_t *p = (tp_producer_t *)producer;
    memset(s, 0, sizeof(*s));
    s->frames = tp_counter_get(&p->frames);
    s->bytes = tp_counter_get(&p->bytes);
    s->descriptors_published = tp_counter_get(&p->descriptors_published);
    s->descriptors_not_connected = tp_counter_get(&p->descriptors_not_connected);
    s->descriptors_failed = tp_counter_get(&p->descriptors_failed);
    s->back_pressured = tp_counter_get(&p->back_pressured);
    s->admin_action_retries = tp_counter_get(&p->admin_action_retries);
    s->no_pool_drops = tp_counter_get(&p->no_pool_drops);
    s->claims_aborted = tp_counter_get(&p->claims_aborted);
    s->announces = tp_counter_get(&p->announces);
    s->prompt_announces = tp_counter_get(&p->prompt_announces);
    s->qos_sent = tp_counter_get(&p->qos_sent);
    s->hellos_received = tp_counter_get(&p->hellos_received);
    s->consumers = tp_counter_get(&p->consumers_known);
    s->consumers_stale = tp_counter_get(&p->consumers_stale);
    s->progress_sent = tp_counter_get(&p->progress_sent);
    s->per_consumer_descriptors = tp_counter_get(&p->per_consumer_descriptors);
    s->progress_interval_ns = atomic_load(&p->progress_interval_ns);
    s->progress_bytes_delta = atomic_load(&p->progress_bytes_delta);
    s->per_consumer_rate_limited = tp_counter_get(&p->per_consumer_rate_limited);
    s->fanout_overflow = tp_counter_get(&p->fanout_overflow);
    s->meta_blobs_sent = tp_counter_get(&p->meta_blobs_sent);
    s->current_seq = atomic_load(&p->current_seq);
    s->epoch = atomic_load(&p->epoch);
    s->layout_changes = tp_counter_get(&p->layout_changes);
    s->meta_version = atomic_load(&p->meta_version);
    return 0;
}

uint64_t tp_producer_next_seq(const tp_producer_t *producer)
{
    if (NULL == producer)
    {
        return 0;
    }
    /* driver mode: the next offer switches to the regions of a new lease first, where sequences restart at 0 */
    if (producer->driver_mode && 0 == producer->count &&
        NULL != atomic_load_explicit(&((tp_producer_t *)producer)->next_hot, memory_order_relaxed))
    {
        return 0;
    }
    return producer->next_seq;
}

int tp_producer_set_next_seq(tp_producer_t *p, uint64_t seq)
{
    if (NULL == p || !p->active)
    {
        tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_producer_set_next_seq: the producer is NULL or closed");
        return -1;
    }
    if (p->count > 0)
    {
        tp_err_set(TP_ERR_STATE, "tp_producer_set_next_seq: %u claim(s) still open; commit or abort them first",
            p->count);
        return -1;
    }
    if (p->driver_mode && tp_producer_driver_gate(p) < 0)
    {
        tp_err_set(TP_ERR_STATE, "tp_producer_set_next_seq: no valid lease from the driver (not attached)");
        return -1;
    }
    if (seq < p->next_seq)
    {
        tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_producer_set_next_seq: %llu is below the next sequence number %llu "
            "(sequence numbers never go back within an epoch)", (unsigned long long)seq,
            (unsigned long long)p->next_seq);
        return -1;
    }
    p->next_seq = seq;
    return 0;
}

uint64_t tp_producer_epoch(const tp_producer_t *producer)
{
    return producer ? atomic_load(&((tp_producer_t *)producer)->epoch) : 0;
}

uint32_t tp_producer_stream_id(const tp_producer_t *producer)
{
    return producer ? producer->config.stream_id : 0;
}

const char *tp_producer_epoch_dir(const tp_producer_t *producer)
{
    return producer && producer->hot ? producer->hot->epoch_dir : "";
}
