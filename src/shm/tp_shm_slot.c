/* Header ring slots and the seq_commit seqlock (wire §8, §9, §15.3–15.5, §15.18, §15.21). */
#include <string.h>

#include "common/tp_error.h"
#include "tp_sbe/wire.h"
#include "tp_shm_internal.h"
#include "tp_shm_lib.h"

_Static_assert(TP_SBE_WIRE_SLOT_HEADER_SEQ_COMMIT_OFFSET == 0, "seq_commit must be at slot offset 0");
_Static_assert(TP_SBE_WIRE_SLOT_HEADER_BLOCK_LENGTH + 4 + TP_TENSOR_HEADER_ENCODED_LENGTH == TP_SHM_HEADER_SLOT_BYTES,
    "slot = 60-byte block + 4-byte length + 192-byte TensorHeader");
_Static_assert(TP_SBE_MESSAGE_HEADER_LENGTH + TP_SBE_WIRE_TENSOR_HEADER_BLOCK_LENGTH == TP_TENSOR_HEADER_ENCODED_LENGTH,
    "embedded TensorHeader length");

int tp_shm_slot_header_encode(uint8_t *slot, size_t len, const tp_shm_slot_header_t *h)
{
    uint8_t tensor[TP_TENSOR_HEADER_ENCODED_LENGTH];
    if (NULL == slot || NULL == h || len < TP_SHM_HEADER_SLOT_BYTES)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "slot header encode needs a %u-byte buffer",
            TP_SHM_HEADER_SLOT_BYTES);
    }
    if (tp_tensor_header_encode(&h->tensor, tensor, sizeof(tensor)) < 0)
    {
        return -1;
    }
    memset(slot, 0, TP_SHM_HEADER_SLOT_BYTES);
    tp_sbe_wire_slot_header_t m;
    if (TP_SBE_OK != tp_sbe_wire_slot_header_wrap_for_encode(&m, slot, 0, TP_SHM_HEADER_SLOT_BYTES))
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "slot header: codec wrap failed");
    }
    tp_sbe_wire_slot_header_set_seq_commit(&m, h->seq_commit);
    tp_sbe_wire_slot_header_set_values_len_bytes(&m, h->values_len_bytes);
    tp_sbe_wire_slot_header_set_payload_slot(&m, h->payload_slot);
    tp_sbe_wire_slot_header_set_pool_id(&m, h->pool_id);
    tp_sbe_wire_slot_header_set_payload_offset(&m, h->payload_offset);
    tp_sbe_wire_slot_header_set_timestamp_ns(&m, h->timestamp_ns);
    tp_sbe_wire_slot_header_set_meta_version(&m, h->meta_version);
    tp_sbe_wire_slot_header_set_pad(&m, 0);
    tp_sbe_wire_slot_header_zero_padding(&m);
    if (TP_SBE_OK != tp_sbe_wire_slot_header_put_header_bytes(&m, tensor, (uint32_t)sizeof(tensor)))
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "slot header: headerBytes does not fit");
    }
    return 0;
}

tp_drop_reason_t tp_shm_slot_header_decode(const uint8_t *slot, size_t len, tp_shm_slot_header_t *out)
{
    tp_sbe_wire_slot_header_t m;
    if (NULL == slot || NULL == out ||
        TP_SBE_OK != tp_sbe_wire_slot_header_wrap_for_decode(&m, slot, 0, TP_SBE_WIRE_SLOT_HEADER_BLOCK_LENGTH,
                         TP_SBE_WIRE_SCHEMA_VERSION, len))
    {
        return TP_DROP_HEADER_LENGTH;
    }
    out->seq_commit = tp_sbe_wire_slot_header_seq_commit(&m);
    out->values_len_bytes = tp_sbe_wire_slot_header_values_len_bytes(&m);
    out->payload_slot = tp_sbe_wire_slot_header_payload_slot(&m);
    out->pool_id = tp_sbe_wire_slot_header_pool_id(&m);
    out->payload_offset = tp_sbe_wire_slot_header_payload_offset(&m);
    out->timestamp_ns = tp_sbe_wire_slot_header_timestamp_ns(&m);
    out->meta_version = tp_sbe_wire_slot_header_meta_version(&m);
    const uint8_t *data = NULL;
    uint32_t length = 0;
    if (TP_SBE_OK != tp_sbe_wire_slot_header_get_header_bytes(&m, &data, &length) ||
        TP_TENSOR_HEADER_ENCODED_LENGTH != length)
    {
        memset(&out->tensor, 0, sizeof(out->tensor));
        return TP_DROP_HEADER_LENGTH;
    }
    return tp_tensor_header_decode(data, length, &out->tensor);
}

static inline uint8_t *tp_shm_slot_ptr(const tp_shm_region_t *ring, uint64_t seq, uint32_t *index_out)
{
    uint32_t index = tp_shm_header_index(seq, ring->nslots);
    if (NULL != index_out)
    {
        *index_out = index;
    }
    return ring->base + tp_shm_slot_offset(index);
}

uint8_t *tp_shm_pool_payload(tp_shm_region_t *pool, uint32_t slot)
{
    if (NULL == pool || !pool->writable || TP_SHM_REGION_PAYLOAD_POOL != pool->type || slot >= pool->nslots)
    {
        return NULL;
    }
    return pool->base + tp_shm_payload_offset(slot, pool->stride_bytes);
}

/* ------------------------------------------------------------------------- */
/* Producer                                                                   */
/* ------------------------------------------------------------------------- */

static int tp_shm_ring_writable(const tp_shm_region_t *ring)
{
    if (NULL == ring || !ring->writable || TP_SHM_REGION_HEADER_RING != ring->type)
    {
        return tp_err_set(TP_ERR_STATE, "not a header ring created (writable) by this process");
    }
    return 0;
}

int tp_shm_slot_write_begin(tp_shm_region_t *ring, uint64_t seq)
{
    if (tp_shm_ring_writable(ring) < 0)
    {
        return -1;
    }
    if (seq > (UINT64_MAX >> 1))
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "sequence %llu does not fit in seq_commit",
            (unsigned long long)seq);
    }
    uint8_t *slot = tp_shm_slot_ptr(ring, seq, NULL);
    atomic_store_explicit(tp_shm_seq_word(slot), seq << 1, memory_order_release);
    /* Store-store barrier: no payload/header store below may become visible before IN-PROGRESS. */
    atomic_thread_fence(memory_order_release);
    return 0;
}

int tp_shm_slot_write_header(tp_shm_region_t *ring, uint64_t seq, const tp_shm_slot_header_t *h)
{
    uint8_t local[TP_SHM_HEADER_SLOT_BYTES];
    uint32_t index;
    if (tp_shm_ring_writable(ring) < 0)
    {
        return -1;
    }
    if (NULL == h)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "slot header is NULL");
    }
    uint8_t *slot = tp_shm_slot_ptr(ring, seq, &index);
    if (h->payload_slot != index)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "payload_slot %u must equal header_index %u (seq %llu) in v1.2",
            (unsigned)h->payload_slot, (unsigned)index, (unsigned long long)seq);
    }
    if (0 != h->payload_offset)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "payload_offset must be 0 in v1.2 (got %u)",
            (unsigned)h->payload_offset);
    }
    if (tp_tensor_header_validate(&h->tensor, h->values_len_bytes) < 0)
    {
        return -1;
    }
    if (tp_shm_slot_header_encode(local, sizeof(local), h) < 0)
    {
        return -1;
    }
    /* Every byte but seq_commit, which only write_begin/write_commit touch. */
    memcpy(slot + 8, local + 8, TP_SHM_HEADER_SLOT_BYTES - 8);
    return 0;
}

int tp_shm_slot_write_commit(tp_shm_region_t *ring, uint64_t seq)
{
    if (tp_shm_ring_writable(ring) < 0)
    {
        return -1;
    }
    uint8_t *slot = tp_shm_slot_ptr(ring, seq, NULL);
    atomic_store_explicit(tp_shm_seq_word(slot), (seq << 1) | 1u, memory_order_release);
    return 0;
}

/* ------------------------------------------------------------------------- */
/* Consumer                                                                   */
/* ------------------------------------------------------------------------- */

static inline tp_drop_reason_t tp_shm_classify(uint64_t observed, uint64_t expected_seq)
{
    uint64_t s = observed >> 1;
    if (s != expected_seq)
    {
        return s < expected_seq ? TP_DROP_SEQ_STALE : TP_DROP_SEQ_AHEAD;
    }
    return 0 == (observed & 1u) ? TP_DROP_NOT_COMMITTED : TP_DROP_NONE;
}

tp_drop_reason_t tp_shm_seqlock_read_begin(const tp_shm_region_t *ring, uint64_t expected_seq, uint64_t *token)
{
    if (NULL == ring || TP_SHM_REGION_HEADER_RING != ring->type || NULL == ring->base || NULL == token)
    {
        return TP_DROP_NOT_MAPPED;
    }
    const uint8_t *slot = tp_shm_slot_ptr(ring, expected_seq, NULL);
    uint64_t v = atomic_load_explicit(tp_shm_seq_word_const(slot), memory_order_acquire);
    *token = v;
    return tp_shm_classify(v, expected_seq);
}

tp_drop_reason_t tp_shm_seqlock_read_end(const tp_shm_region_t *ring, uint64_t expected_seq, uint64_t token)
{
    if (NULL == ring || TP_SHM_REGION_HEADER_RING != ring->type || NULL == ring->base)
    {
        return TP_DROP_NOT_MAPPED;
    }
    const uint8_t *slot = tp_shm_slot_ptr(ring, expected_seq, NULL);
    /* Order every read of the slot/payload above before the re-load below. */
    atomic_thread_fence(memory_order_acquire);
    uint64_t v = atomic_load_explicit(tp_shm_seq_word_const(slot), memory_order_acquire);
    return v == token ? TP_DROP_NONE : TP_DROP_LATE;
}

uint64_t tp_shm_slot_seq_commit_load(const tp_shm_region_t *ring, uint32_t index)
{
    const uint8_t *slot = ring->base + tp_shm_slot_offset(index);
    return atomic_load_explicit(tp_shm_seq_word_const(slot), memory_order_acquire);
}

tp_drop_reason_t tp_shm_slot_read(const tp_shm_region_t *ring, uint32_t index, tp_shm_slot_header_t *out)
{
    uint8_t local[TP_SHM_HEADER_SLOT_BYTES];
    if (NULL == out)
    {
        return TP_DROP_NOT_MAPPED;
    }
    memset(out, 0, sizeof(*out));
    if (NULL == ring || TP_SHM_REGION_HEADER_RING != ring->type || NULL == ring->base || index >= ring->nslots)
    {
        return TP_DROP_NOT_MAPPED;
    }
    const uint8_t *slot = ring->base + tp_shm_slot_offset(index);
    uint64_t before = atomic_load_explicit(tp_shm_seq_word_const(slot), memory_order_acquire);
    memcpy(local, slot, sizeof(local));
    atomic_thread_fence(memory_order_acquire);
    uint64_t after = atomic_load_explicit(tp_shm_seq_word_const(slot), memory_order_acquire);
    tp_drop_reason_t r = tp_shm_slot_header_decode(local, sizeof(local), out);
    out->seq_commit = before;
    if (before != after)
    {
        return TP_DROP_LATE;
    }
    if (TP_DROP_NONE != r)
    {
        return r;
    }
    if (0 == (before & 1u))
    {
        return TP_DROP_NOT_COMMITTED;
    }
    r = tp_tensor_header_check(&out->tensor, out->values_len_bytes, NULL);
    if (TP_DROP_NONE != r)
    {
        return r;
    }
    if (0 != out->payload_offset)
    {
        return TP_DROP_PAYLOAD_OFFSET;
    }
    if (out->payload_slot != index)
    {
        return TP_DROP_PAYLOAD_SLOT;
    }
    return TP_DROP_NONE;
}

tp_drop_reason_t tp_shm_frame_begin(const tp_shm_region_t *ring, const tp_shm_region_t *const *pools,
    size_t pool_count, uint64_t seq, tp_shm_frame_view_t *view)
{
    uint8_t local[TP_SHM_HEADER_SLOT_BYTES];
    uint64_t token = 0;
    if (NULL == view)
    {
        return TP_DROP_NOT_MAPPED;
    }
    view->seq = seq;
    view->payload = NULL;
    view->ring = ring;
    view->pool = NULL;
    tp_drop_reason_t r = tp_shm_seqlock_read_begin(ring, seq, &token);
    view->seq_commit = token;
    if (TP_DROP_NONE != r)
    {
        return r;
    }
    uint32_t index;
    const uint8_t *slot = tp_shm_slot_ptr(ring, seq, &index);
    view->header_index = index;
    memcpy(local, slot, sizeof(local));
    if (TP_DROP_NONE != tp_shm_seqlock_read_end(ring, seq, token))
    {
        return TP_DROP_LATE;
    }
    /* `local` is now a consistent snapshot of a committed slot for `seq`. */
    tp_shm_slot_header_t *h = &view->header;
    r = tp_shm_slot_header_decode(local, sizeof(local), h);
    if (TP_DROP_NONE != r)
    {
        return r;
    }
    h->seq_commit = token;
    r = tp_tensor_header_check(&h->tensor, h->values_len_bytes, &view->extent_bytes);
    if (TP_DROP_NONE != r)
    {
        return r;
    }
    if (0 != h->payload_offset)
    {
        return TP_DROP_PAYLOAD_OFFSET;
    }
    const tp_shm_region_t *pool = NULL;
    for (size_t i = 0; i < pool_count && NULL != pools; i++)
    {
        if (NULL != pools[i] && pools[i]->superblock.pool_id == h->pool_id)
        {
            pool = pools[i];
            break;
        }
    }
    if (NULL == pool)
    {
        return TP_DROP_POOL_UNKNOWN;
    }
    if (TP_SHM_REGION_PAYLOAD_POOL != pool->type || NULL == pool->base)
    {
        return TP_DROP_NOT_MAPPED;
    }
    if (h->payload_slot != index || h->payload_slot >= pool->nslots)
    {
        return TP_DROP_PAYLOAD_SLOT;
    }
    if (h->values_len_bytes > pool->stride_bytes)
    {
        return TP_DROP_VALUES_LEN;
    }
    view->pool = pool;
    if (h->values_len_bytes > 0)
    {
        view->payload = pool->base + tp_shm_payload_offset(h->payload_slot, pool->stride_bytes);
    }
    return TP_DROP_NONE;
}

tp_drop_reason_t tp_shm_frame_end(const tp_shm_frame_view_t *view)
{
    if (NULL == view)
    {
        return TP_DROP_NOT_MAPPED;
    }
    return tp_shm_seqlock_read_end(view->ring, view->seq, view->seq_commit);
}

tp_drop_reason_t tp_shm_frame_read_copy(const tp_shm_region_t *ring, const tp_shm_region_t *const *pools,
    size_t pool_count, uint64_t seq, tp_shm_frame_view_t *view, void *dst, size_t dst_len)
{
    tp_drop_reason_t r = tp_shm_frame_begin(ring, pools, pool_count, seq, view);
    if (TP_DROP_NONE != r)
    {
        return r;
    }
    uint32_t n = view->header.values_len_bytes;
    if (n > 0)
    {
        if (NULL == dst || dst_len < n)
        {
            return TP_DROP_BUFFER_TOO_SMALL;
        }
        memcpy(dst, view->payload, n);
    }
    return tp_shm_frame_end(view);
}
