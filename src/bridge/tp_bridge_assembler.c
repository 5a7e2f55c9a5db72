/*
 * Bridge receiver: frame reassembly. See tp_bridge_assembler.h.
 */
#include "bridge/tp_bridge_assembler.h"

#include <stdlib.h>
#include <string.h>

#include "common/tp_crc32c.h"
#include "common/tp_error.h"

struct tp_bridge_slot_stct
{
    bool active;
    uint64_t epoch;
    uint64_t seq;
    uint64_t trace_id;
    uint64_t start_ns;
    uint32_t chunk_count;
    uint32_t payload_length;
    uint32_t received;
    uint64_t sum;
    uint8_t header[TP_BRIDGE_HEADER_BYTES];
    uint8_t *data;       /* capacity bytes */
    uint8_t *dest;       /* the sink's destination (direct write), or NULL: the payload is in data */
    uint64_t *entries;   /* per chunk index: offset << 32 | length */
    uint8_t *bits;       /* received bit per chunk index */
};

static const char *const bridge_drop_names[TP_BRIDGE_DROP_COUNT] = {
    "DECODE", "UNKNOWN_SCHEMA", "UNKNOWN_STREAM", "NO_ANNOUNCE", "EPOCH", "CHUNK_COUNT", "HEADER_FLAG",
    "CHUNK_OFFSET", "CHUNK_LENGTH", "OVERSIZE", "CRC", "INCONSISTENT", "TRACE_MISMATCH", "OVERLAP", "TIMEOUT",
    "EVICTED", "STALE_SEQ", "EPOCH_CHANGE", "BAD_HEADER", "POOL_ID", "SOURCE_STRIDE", "NO_LOCAL_POOL",
    "LOCAL_PUBLISH", "PROGRESS", "DEST_CONFLICT", "BAD_ANNOUNCE",
};

const char *tp_bridge_drop_name(int reason)
{
    return reason >= 0 && reason < TP_BRIDGE_DROP_COUNT ? bridge_drop_names[reason] : "UNKNOWN";
}

static void slot_free_buffers(tp_bridge_slot_t *s)
{
    free(s->data);
    free(s->entries);
    free(s->bits);
    s->data = NULL;
    s->entries = NULL;
    s->bits = NULL;
}

int tp_bridge_assembler_init(tp_bridge_assembler_t *a, const tp_bridge_assembler_config_t *config)
{
    if (NULL == a || NULL == config || 0 == config->max_inflight || config->max_inflight > 1024)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "bridge assembler: max_inflight must be 1..1024");
    }
    memset(a, 0, sizeof(*a));
    a->config = *config;
    a->slots = calloc(config->max_inflight, sizeof(*a->slots));
    if (NULL == a->slots)
    {
        return tp_err_set(TP_ERR_NO_MEMORY, "bridge assembler: cannot allocate %u slots", config->max_inflight);
    }
    return 0;
}

void tp_bridge_assembler_close(tp_bridge_assembler_t *a)
{
    if (NULL == a || NULL == a->slots)
    {
        return;
    }
    for (uint32_t i = 0; i < a->config.max_inflight; i++)
    {
        slot_free_buffers(&a->slots[i]);
    }
    free(a->slots);
    a->slots = NULL;
}

static uint8_t *slot_payload(const tp_bridge_slot_t *s)
{
    return NULL != s->dest ? s->dest : s->data;
}

/* The slot no longer writes into the sink's destination (released by the caller or by the sink's abort). */
static void slot_undirect(tp_bridge_assembler_t *a, tp_bridge_slot_t *s)
{
    s->dest = NULL;
    if (a->direct == s)
    {
        a->direct = NULL;
    }
}

static void drop_slot(tp_bridge_assembler_t *a, tp_bridge_slot_t *s, tp_bridge_drop_t reason)
{
    if (s->active)
    {
        s->active = false;
        a->active--;
        a->drops[reason]++;
        if (NULL != s->dest)
        {
            slot_undirect(a, s);
            a->sink.abort(a->sink.clientd, s->seq);
        }
    }
}

void tp_bridge_assembler_drop_direct(tp_bridge_assembler_t *a, tp_bridge_drop_t reason)
{
    if (NULL != a && NULL != a->direct)
    {
        drop_slot(a, a->direct, reason);
    }
}

void tp_bridge_assembler_set_sink(tp_bridge_assembler_t *a, const tp_bridge_sink_t *sink)
{
    tp_bridge_assembler_drop_direct(a, TP_BRIDGE_DROP_EPOCH_CHANGE);
    if (NULL != sink && NULL != sink->begin && NULL != sink->abort)
    {
        a->sink = *sink;
    }
    else
    {
        memset(&a->sink, 0, sizeof(a->sink));
    }
}

/* Whether a new frame `seq` may be written directly: no direct frame open, no lower seq in flight. */
static bool may_direct(const tp_bridge_assembler_t *a, uint64_t seq)
{
    if (NULL == a->sink.begin || NULL != a->direct)
    {
        return false;
    }
    for (uint32_t i = 0; i < a->config.max_inflight && a->active > 0; i++)
    {
        if (a->slots[i].active && a->slots[i].seq < seq)
        {
            return false;
        }
    }
    return true;
}

static void drop_all(tp_bridge_assembler_t *a, tp_bridge_drop_t reason)
{
    for (uint32_t i = 0; i < a->config.max_inflight; i++)
    {
        drop_slot(a, &a->slots[i], reason);
    }
}

int tp_bridge_assembler_set_capacity(tp_bridge_assembler_t *a, uint32_t capacity)
{
    if (capacity > a->config.max_payload_bytes)
    {
        capacity = a->config.max_payload_bytes;
    }
    if (capacity == a->capacity)
    {
        return 0;
    }
    uint32_t max_chunks = capacity < TP_BRIDGE_MAX_CHUNKS ? (capacity > 0 ? capacity : 1u) : TP_BRIDGE_MAX_CHUNKS;
    uint32_t n = a->config.max_inflight;
    tp_bridge_slot_t *fresh = calloc(n, sizeof(*fresh));
    if (NULL == fresh)
    {
        return tp_err_set(TP_ERR_NO_MEMORY, "bridge assembler: cannot allocate %u slots", n);
    }
    for (uint32_t i = 0; i < n; i++)
    {
        fresh[i].data = malloc(capacity > 0 ? capacity : 1u);
        fresh[i].entries = malloc((size_t)max_chunks * sizeof(uint64_t));
        fresh[i].bits = malloc((size_t)max_chunks / 8u + 1u);
        if (NULL == fresh[i].data || NULL == fresh[i].entries || NULL == fresh[i].bits)
        {
            for (uint32_t j = 0; j <= i; j++)
            {
                slot_free_buffers(&fresh[j]);
            }
            free(fresh);
            return tp_err_set(TP_ERR_NO_MEMORY, "bridge assembler: cannot allocate %u slots of %u bytes", n, capacity);
        }
    }
    drop_all(a, TP_BRIDGE_DROP_EPOCH_CHANGE);
    for (uint32_t i = 0; i < n; i++)
    {
        slot_free_buffers(&a->slots[i]);
    }
    free(a->slots);
    a->slots = fresh;
    a->direct = NULL;
    a->capacity = capacity;
    a->max_chunks = max_chunks;
    return 0;
}

int tp_bridge_assembler_on_announce(tp_bridge_assembler_t *a, const tp_bridge_source_layout_t *layout)
{
    if (a->source.valid && layout->epoch < a->source.epoch)
    {
        return -1;
    }
    bool changed = !a->source.valid || layout->epoch != a->source.epoch;
    a->source = *layout;
    a->source.valid = true;
    if (changed)
    {
        drop_all(a, TP_BRIDGE_DROP_EPOCH_CHANGE);
        a->min_seq = 0;
    }
    return changed ? 1 : 0;
}

bool tp_bridge_assembler_in_flight(const tp_bridge_assembler_t *a, uint64_t epoch, uint64_t seq)
{
    for (uint32_t i = 0; i < a->config.max_inflight; i++)
    {
        const tp_bridge_slot_t *s = &a->slots[i];
        if (s->active && s->epoch == epoch && s->seq == seq)
        {
            return true;
        }
    }
    return false;
}

int tp_bridge_assembler_expire(tp_bridge_assembler_t *a, uint64_t now_ns)
{
    int n = 0;
    if (0 == a->active)
    {
        return 0;
    }
    for (uint32_t i = 0; i < a->config.max_inflight; i++)
    {
        tp_bridge_slot_t *s = &a->slots[i];
        if (s->active && now_ns - s->start_ns > a->config.timeout_ns)
        {
            drop_slot(a, s, TP_BRIDGE_DROP_TIMEOUT);
            n++;
        }
    }
    return n;
}

static int drop(tp_bridge_assembler_t *a, tp_bridge_drop_t reason, tp_bridge_drop_t *reason_out)
{
    a->drops[reason]++;
    if (NULL != reason_out)
    {
        *reason_out = reason;
    }
    return -1;
}

static int drop_frame(tp_bridge_assembler_t *a, tp_bridge_slot_t *s, tp_bridge_drop_t reason,
    tp_bridge_drop_t *reason_out)
{
    drop_slot(a, s, reason);
    if (NULL != reason_out)
    {
        *reason_out = reason;
    }
    return -1;
}

static bool bit_get(const uint8_t *bits, uint32_t i)
{
    return 0 != (bits[i >> 3] & (uint8_t)(1u << (i & 7u)));
}

static void bit_set(uint8_t *bits, uint32_t i)
{
    bits[i >> 3] |= (uint8_t)(1u << (i & 7u));
}

/* In-place heapsort of n uint64 keys (no allocation, O(n log n) for hostile orders). */
static void sift_down(uint64_t *v, size_t start, size_t end)
{
    size_t root = start;
    while (2 * root + 1 < end)
    {
        size_t child = 2 * root + 1;
        if (child + 1 < end && v[child] < v[child + 1])
        {
            child++;
        }
        if (v[root] >= v[child])
        {
            return;
        }
        uint64_t t = v[root];
        v[root] = v[child];
        v[child] = t;
        root = child;
    }
}

static void heapsort_u64(uint64_t *v, size_t n)
{
    for (size_t i = n / 2; i-- > 0;)
    {
        sift_down(v, i, n);
    }
    for (size_t end = n; end-- > 1;)
    {
        uint64_t t = v[0];
        v[0] = v[end];
        v[end] = t;
        sift_down(v, 0, end);
    }
}

/* Whether the slices tile [0, payload_length) exactly (their lengths already sum to it). */
static bool slices_tile(uint64_t *entries, uint32_t n, uint32_t payload_length)
{
    bool sorted = true;
    for (uint32_t i = 1; i < n && sorted; i++)
    {
        sorted = entries[i - 1] <= entries[i];
    }
    if (!sorted)
    {
        heapsort_u64(entries, n);
    }
    uint64_t expect = 0;
    for (uint32_t i = 0; i < n; i++)
    {
        uint64_t off = entries[i] >> 32;
        uint64_t len = entries[i] & 0xFFFFFFFFu;
        if (off != expect)
        {
            return false;
        }
        expect = off + len;
    }
    return expect == payload_length;
}

/* §6 steps 4-6: the SlotHeader and its TensorHeader, the pool id and stride of the forwarded announce. */
static tp_bridge_drop_t validate_header(const tp_bridge_assembler_t *a, const tp_bridge_slot_t *s,
    tp_bridge_frame_t *f)
{
    const uint8_t *h = s->header;
    uint64_t seq_commit = tp_sbe_get_u64(h + 0);
    uint32_t values_len = tp_sbe_get_u32(h + 8);
    uint16_t pool_id = tp_sbe_get_u16(h + 16);
    uint32_t payload_offset = tp_sbe_get_u32(h + 18);
    uint32_t embedded_len = tp_sbe_get_u32(h + 60);
    if (seq_commit != ((s->seq << 1) | 1u) || values_len != s->payload_length || 0 != payload_offset ||
        TP_TENSOR_HEADER_ENCODED_LENGTH != embedded_len)
    {
        return TP_BRIDGE_DROP_BAD_HEADER;
    }
    if (TP_DROP_NONE != tp_tensor_header_decode(h + 64, TP_TENSOR_HEADER_ENCODED_LENGTH, &f->tensor) ||
        TP_DROP_NONE != tp_tensor_header_check(&f->tensor, s->payload_length, NULL))
    {
        return TP_BRIDGE_DROP_BAD_HEADER;
    }
    uint32_t i = 0;
    while (i < a->source.pool_count && a->source.pool_ids[i] != pool_id)
    {
        i++;
    }
    if (i == a->source.pool_count)
    {
        return TP_BRIDGE_DROP_POOL_ID;
    }
    if (s->payload_length > a->source.strides[i])
    {
        return TP_BRIDGE_DROP_SOURCE_STRIDE;
    }
    f->source_pool_id = pool_id;
    f->timestamp_ns = tp_sbe_get_u64(h + 22);
    f->meta_version = tp_sbe_get_u32(h + 30);
    return TP_BRIDGE_DROP_COUNT;
}

static tp_bridge_slot_t *find_slot(tp_bridge_assembler_t *a, uint64_t epoch, uint64_t seq)
{
    for (uint32_t i = 0; i < a->config.max_inflight; i++)
    {
        tp_bridge_slot_t *s = &a->slots[i];
        if (s->active && s->epoch == epoch && s->seq == seq)
        {
            return s;
        }
    }
    return NULL;
}

static tp_bridge_slot_t *take_slot(tp_bridge_assembler_t *a)
{
    tp_bridge_slot_t *oldest = NULL;
    for (uint32_t i = 0; i < a->config.max_inflight; i++)
    {
        tp_bridge_slot_t *s = &a->slots[i];
        if (!s->active)
        {
            return s;
        }
        if (NULL == oldest || s->start_ns < oldest->start_ns)
        {
            oldest = s;
        }
    }
    drop_slot(a, oldest, TP_BRIDGE_DROP_EVICTED);
    return oldest;
}

int tp_bridge_assembler_on_chunk(tp_bridge_assembler_t *a, const tp_proto_bridge_chunk_view_t *c, uint64_t now_ns,
    tp_bridge_frame_t *frame, tp_bridge_drop_t *reason_out)
{
    a->chunks++;
    switch (tp_proto_bridge_chunk_check(c, a->config.max_chunk_bytes, a->config.max_payload_bytes))
    {
        case TP_BRIDGE_RULE_OK: break;
        case TP_BRIDGE_RULE_CHUNK_COUNT: return drop(a, TP_BRIDGE_DROP_CHUNK_COUNT, reason_out);
        case TP_BRIDGE_RULE_HEADER_FLAG: return drop(a, TP_BRIDGE_DROP_HEADER_FLAG, reason_out);
        case TP_BRIDGE_RULE_CHUNK_OFFSET: return drop(a, TP_BRIDGE_DROP_CHUNK_OFFSET, reason_out);
        case TP_BRIDGE_RULE_CHUNK_LENGTH: return drop(a, TP_BRIDGE_DROP_CHUNK_LENGTH, reason_out);
        default: return drop(a, TP_BRIDGE_DROP_OVERSIZE, reason_out);
    }
    if (!a->source.valid)
    {
        return drop(a, TP_BRIDGE_DROP_NO_ANNOUNCE, reason_out);
    }
    if (c->epoch != a->source.epoch)
    {
        return drop(a, TP_BRIDGE_DROP_EPOCH, reason_out);
    }
    if (c->seq < a->min_seq)
    {
        return drop(a, TP_BRIDGE_DROP_STALE_SEQ, reason_out);
    }
    if (c->payload_length > a->capacity)
    {
        return drop(a, TP_BRIDGE_DROP_NO_LOCAL_POOL, reason_out);
    }
    tp_bridge_slot_t *s = find_slot(a, c->epoch, c->seq);
    if (a->config.integrity_crc32c)
    {
        uint32_t crc = tp_crc32c_compute(c->header_bytes.data, c->header_bytes.length);
        crc = tp_crc32c_extend(crc, c->payload.data, c->payload.length);
        if (0 == c->payload_crc32c || crc != c->payload_crc32c)
        {
            return NULL != s ? drop_frame(a, s, TP_BRIDGE_DROP_CRC, reason_out) : drop(a, TP_BRIDGE_DROP_CRC, reason_out);
        }
    }
    if (NULL == s)
    {
        s = take_slot(a);
        s->active = true;
        a->active++;
        s->epoch = c->epoch;
        s->seq = c->seq;
        s->trace_id = c->trace_id;
        s->start_ns = now_ns;
        s->chunk_count = c->chunk_count;
        s->payload_length = c->payload_length;
        s->received = 0;
        s->sum = 0;
        s->dest = NULL;
        memset(s->bits, 0, (size_t)c->chunk_count / 8u + 1u);
        if (may_direct(a, c->seq))
        {
            s->dest = a->sink.begin(a->sink.clientd, c->seq, c->payload_length);
            if (NULL != s->dest)
            {
                a->direct = s;
                a->min_seq = c->seq; /* the sink took this seq: nothing below it can be delivered any more */
            }
        }
    }
    else if (s->chunk_count != c->chunk_count || s->payload_length != c->payload_length)
    {
        return drop_frame(a, s, TP_BRIDGE_DROP_INCONSISTENT, reason_out);
    }
    else if (s->trace_id != c->trace_id)
    {
        return drop_frame(a, s, TP_BRIDGE_DROP_TRACE_MISMATCH, reason_out);
    }
    uint64_t entry = ((uint64_t)c->chunk_offset << 32) | c->chunk_length;
    if (bit_get(s->bits, c->chunk_index))
    {
        const uint8_t *have = slot_payload(s) + c->chunk_offset;
        bool same = s->entries[c->chunk_index] == entry &&
            (0 == c->chunk_length || 0 == memcmp(have, c->payload.data, c->chunk_length)) &&
            (0 != c->chunk_index || 0 == memcmp(s->header, c->header_bytes.data, TP_BRIDGE_HEADER_BYTES));
        if (same)
        {
            a->chunks_duplicate++;
            return 0;
        }
        return drop_frame(a, s, TP_BRIDGE_DROP_OVERLAP, reason_out);
    }
    if (s->sum + c->chunk_length > s->payload_length)
    {
        return drop_frame(a, s, TP_BRIDGE_DROP_OVERLAP, reason_out);
    }
    if (c->chunk_length > 0)
    {
        memcpy(slot_payload(s) + c->chunk_offset, c->payload.data, c->chunk_length);
    }
    if (0 == c->chunk_index)
    {
        memcpy(s->header, c->header_bytes.data, TP_BRIDGE_HEADER_BYTES);
    }
    bit_set(s->bits, c->chunk_index);
    s->entries[c->chunk_index] = entry;
    s->received++;
    s->sum += c->chunk_length;
    if (s->received < s->chunk_count)
    {
        return 0;
    }
    if (s->sum != s->payload_length)
    {
        return drop_frame(a, s, TP_BRIDGE_DROP_INCONSISTENT, reason_out);
    }
    if (!slices_tile(s->entries, s->chunk_count, s->payload_length))
    {
        return drop_frame(a, s, TP_BRIDGE_DROP_OVERLAP, reason_out);
    }
    memset(frame, 0, sizeof(*frame));
    tp_bridge_drop_t bad = validate_header(a, s, frame);
    if (TP_BRIDGE_DROP_COUNT != bad)
    {
        return drop_frame(a, s, bad, reason_out);
    }
    frame->stream_id = c->stream_id;
    frame->epoch = s->epoch;
    frame->seq = s->seq;
    frame->trace_id = s->trace_id;
    frame->header = s->header;
    frame->payload = slot_payload(s);
    frame->payload_length = s->payload_length;
    frame->direct = NULL != s->dest;
    if (frame->direct)
    {
        slot_undirect(a, s); /* handed to the caller, who commits the destination */
        a->frames_direct++;
    }
    s->active = false;
    a->active--;
    a->frames_completed++;
    a->min_seq = s->seq + 1;
    for (uint32_t i = 0; i < a->config.max_inflight && a->active > 0; i++)
    {
        if (a->slots[i].active && a->slots[i].seq < a->min_seq)
        {
            drop_slot(a, &a->slots[i], TP_BRIDGE_DROP_STALE_SEQ);
        }
    }
    return 1;
}
