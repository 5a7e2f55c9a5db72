/* Header ring slots and the seq_commit seqlock (wire §8, §9, §15.3–15.5, §15.18, §15.21). */
#include <stdbool.h>
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

/* SlotHeader block offsets (raw block at slot offset 0, no message header), then headerBytes at 60. */
_Static_assert(TP_SBE_WIRE_SLOT_HEADER_VALUES_LEN_BYTES_OFFSET == 8 && TP_SBE_WIRE_SLOT_HEADER_PAYLOAD_SLOT_OFFSET == 12 &&
        TP_SBE_WIRE_SLOT_HEADER_POOL_ID_OFFSET == 16 && TP_SBE_WIRE_SLOT_HEADER_PAYLOAD_OFFSET_OFFSET == 18 &&
        TP_SBE_WIRE_SLOT_HEADER_TIMESTAMP_NS_OFFSET == 22 && TP_SBE_WIRE_SLOT_HEADER_META_VERSION_OFFSET == 30 &&
        TP_SBE_WIRE_SLOT_HEADER_PAD_OFFSET == 34 && TP_SBE_WIRE_SLOT_HEADER_BLOCK_LENGTH == 60,
    "SlotHeader layout changed: update tp_shm_slot_encode_body/decode");
#define TP_SLOT_HEADER_BYTES_LENGTH_OFFSET 60u /* u32 length of headerBytes */
#define TP_SLOT_TENSOR_OFFSET 64u              /* the embedded TensorHeader */

/*
 * Bytes 8..255 of a slot (everything but seq_commit), field by field with the
 * generated little-endian stores, straight into `slot` (a private buffer or
 * the live slot while seq_commit says "in progress"): no flyweight wrap, no
 * separate zeroing pass, no intermediate copy. ndims <= TP_MAX_DIMS is the
 * caller's precondition.
 */
static inline void tp_shm_slot_encode_body(uint8_t *slot, const tp_shm_slot_header_t *h)
{
    tp_sbe_put_u32(slot + 8, h->values_len_bytes);
    tp_sbe_put_u32(slot + 12, h->payload_slot);
    tp_sbe_put_u16(slot + 16, h->pool_id);
    tp_sbe_put_u32(slot + 18, h->payload_offset);
    tp_sbe_put_u64(slot + 22, h->timestamp_ns);
    tp_sbe_put_u32(slot + 30, h->meta_version);
    memset(slot + 34, 0, TP_SLOT_HEADER_BYTES_LENGTH_OFFSET - 34); /* pad (u8) and the block padding */
    tp_sbe_put_u32(slot + TP_SLOT_HEADER_BYTES_LENGTH_OFFSET, TP_TENSOR_HEADER_ENCODED_LENGTH);
    tp_tensor_header_encode_raw(&h->tensor, slot + TP_SLOT_TENSOR_OFFSET);
}

int tp_shm_slot_header_encode(uint8_t *slot, size_t len, const tp_shm_slot_header_t *h)
{
    if (NULL == slot || NULL == h || len < TP_SHM_HEADER_SLOT_BYTES)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "slot header encode needs a %u-byte buffer",
            TP_SHM_HEADER_SLOT_BYTES);
    }
    if (h->tensor.ndims > TP_MAX_DIMS)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tensor ndims %u exceeds %d", (unsigned)h->tensor.ndims,
            TP_MAX_DIMS);
    }
    tp_sbe_put_u64(slot, h->seq_commit);
    tp_shm_slot_encode_body(slot, h);
    return 0;
}

/* The SlotHeader's fixed block (every field before headerBytes). */
static inline void tp_shm_slot_decode_fixed(const uint8_t *slot, tp_shm_slot_header_t *out)
{
    out->seq_commit = tp_sbe_get_u64(slot);
    out->values_len_bytes = tp_sbe_get_u32(slot + 8);
    out->payload_slot = tp_sbe_get_u32(slot + 12);
    out->pool_id = tp_sbe_get_u16(slot + 16);
    out->payload_offset = tp_sbe_get_u32(slot + 18);
    out->timestamp_ns = tp_sbe_get_u64(slot + 22);
    out->meta_version = tp_sbe_get_u32(slot + 30);
}

/*
 * Decode a slot (a snapshot, or the live slot inside a seqlock read: every
 * load is at a fixed offset below TP_SHM_HEADER_SLOT_BYTES, so torn bytes give
 * wrong values, never an out-of-bounds read). Only the bytes that carry fields
 * are read: up to the end of the TensorHeader's strides (slot byte 147), not
 * its padding; with `used_dims_only` only the dims/strides below ndims.
 */
static inline tp_drop_reason_t tp_shm_slot_decode_body(const uint8_t *slot, tp_shm_slot_header_t *out, bool used_dims_only)
{
    tp_shm_slot_decode_fixed(slot, out);
    if (TP_TENSOR_HEADER_ENCODED_LENGTH != tp_sbe_get_u32(slot + TP_SLOT_HEADER_BYTES_LENGTH_OFFSET))
    {
        memset(&out->tensor, 0, sizeof(out->tensor));
        return TP_DROP_HEADER_LENGTH;
    }
    return used_dims_only ? tp_tensor_header_decode_used(slot + TP_SLOT_TENSOR_OFFSET, &out->tensor)
                          : tp_tensor_header_decode(slot + TP_SLOT_TENSOR_OFFSET, TP_TENSOR_HEADER_ENCODED_LENGTH,
                                &out->tensor);
}

tp_drop_reason_t tp_shm_slot_header_decode(const uint8_t *slot, size_t len, tp_shm_slot_header_t *out)
{
    if (NULL == slot || NULL == out || len < TP_SBE_WIRE_SLOT_HEADER_BLOCK_LENGTH)
    {
        return TP_DROP_HEADER_LENGTH;
    }
    if (len < TP_SHM_HEADER_SLOT_BYTES)
    {
        /* the fixed block fits, headerBytes does not */
        tp_shm_slot_decode_fixed(slot, out);
        memset(&out->tensor, 0, sizeof(out->tensor));
        return TP_DROP_HEADER_LENGTH;
    }
    return tp_shm_slot_decode_body(slot, out, false);
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
    /* Every byte but seq_commit, which only write_begin/write_commit touch. */
    tp_shm_slot_encode_body(slot, h);
    return 0;
}

void tp_shm_slot_publish(tp_shm_region_t *ring, uint64_t seq, const tp_shm_slot_header_t *h)
{
    if (NULL == ring || !ring->writable)
    {
        return; /* as write_begin refused it: nothing is written, consumers count the slot as not committed */
    }
    uint8_t *slot = tp_shm_slot_ptr(ring, seq, NULL);
    tp_shm_slot_encode_body(slot, h);
    /* release: the header (and the payload written before it) is visible before COMMITTED */
    atomic_store_explicit(tp_shm_seq_word(slot), (seq << 1) | 1u, memory_order_release);
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
    /*
     * Decode straight from the slot (no 256-byte snapshot): the fields are read between the acquire load of
     * seq_commit and the acquire fence + re-load in read_end, exactly like a snapshot copy would be, and nothing
     * decoded is trusted before read_end confirmed that seq_commit did not move (a torn decode is LATE, whatever
     * it decoded to).
     */
    tp_shm_slot_header_t *h = &view->header;
    tp_drop_reason_t decoded = tp_shm_slot_decode_body(slot, h, true);
    if (TP_DROP_NONE != tp_shm_seqlock_read_end(ring, seq, token))
    {
        return TP_DROP_LATE;
    }
    if (TP_DROP_NONE != decoded)
    {
        return decoded;
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
