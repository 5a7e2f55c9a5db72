/*
 * Bridge receiver reassembly (src/bridge/tp_bridge_assembler.c): in-order and
 * reordered delivery, identical duplicates, and every way a frame is dropped
 * and counted (missing chunk + timeout, CRC mismatch, epoch mismatch, no
 * announce, oversize, bad header, conflicting duplicate, overlap, trace id
 * mismatch, inconsistent fields, eviction, stale seq, remap). Every test
 * runs twice: with slot buffers only, and with a direct-write sink (the
 * receiver's claimed destination slot), where it must behave the same.
 */
#include <stdlib.h>
#include <string.h>

#include "tp_test.h"
#include "bridge/tp_bridge_assembler.h"
#include "common/tp_crc32c.h"

#define MS 1000000ull
/* A check inside a non-void helper: counted, asserted by finish(). */
#define SINK_CHECK(cond) \
    (sink.errors += (cond) ? 0u : (fprintf(stderr, "sink check failed: %s (line %d)\n", #cond, __LINE__), 1u))

typedef struct
{
    tp_proto_bridge_chunk_view_t c[64];
    uint32_t n;
    uint8_t header[256];
    uint8_t payload[8192];
} frame_t;

static void make_header(uint8_t *h, uint64_t seq, uint32_t len, uint16_t pool_id)
{
    memset(h, 0, 256);
    tp_sbe_put_u64(h, (seq << 1) | 1u);
    tp_sbe_put_u32(h + 8, len);
    tp_sbe_put_u16(h + 16, pool_id);
    tp_sbe_put_u64(h + 22, 12345);
    tp_sbe_put_u32(h + 60, 192);
    tp_tensor_header_t t = { .dtype = TP_DTYPE_UINT8, .major_order = TP_MAJOR_ORDER_ROW, .ndims = 1,
        .progress_unit = TP_PROGRESS_UNIT_NONE };
    t.dims[0] = (int32_t)len;
    tp_tensor_header_encode(&t, h + 64, 192);
}

/* Split a frame of `len` bytes into chunks of `chunk` bytes (epoch 5, stream 10). */
static void make_frame(frame_t *f, uint64_t seq, uint32_t len, uint32_t chunk, bool crc)
{
    memset(f, 0, sizeof(*f));
    make_header(f->header, seq, len, 1);
    for (uint32_t i = 0; i < len; i++)
    {
        f->payload[i] = (uint8_t)(seq * 31u + i);
    }
    uint32_t count = 0 == len ? 1 : (len + chunk - 1) / chunk;
    for (uint32_t i = 0; i < count; i++)
    {
        tp_proto_bridge_chunk_view_t *c = &f->c[i];
        uint32_t off = i * chunk;
        uint32_t l = len - off < chunk ? len - off : chunk;
        if (0 == len)
        {
            l = 0;
        }
        *c = (tp_proto_bridge_chunk_view_t){ .stream_id = 10, .epoch = 5, .seq = seq, .trace_id = seq + 100,
            .chunk_index = i, .chunk_count = count, .chunk_offset = off, .chunk_length = l, .payload_length = len,
            .header_included = 0 == i, .header_bytes = { f->header, 0 == i ? 256u : 0u },
            .payload = { f->payload + off, l } };
        if (crc)
        {
            c->payload_crc32c = tp_crc32c_extend(tp_crc32c_compute(c->header_bytes.data, c->header_bytes.length),
                c->payload.data, l);
        }
    }
    f->n = count;
}

/* A fake direct-write sink: one destination buffer, at most one frame written into it at a time. */
typedef struct
{
    uint8_t buf[8192];
    bool open;
    bool decline;
    uint64_t seq;
    uint64_t begun;
    uint64_t aborted;
    uint64_t released;
    uint64_t errors; /* sink contract violations (checked by finish()) */
} fake_sink_t;

static fake_sink_t sink;
static bool with_sink;

static uint8_t *sink_begin(void *clientd, uint64_t seq, uint32_t payload_length)
{
    fake_sink_t *k = clientd;
    SINK_CHECK(!k->open);
    SINK_CHECK(payload_length <= sizeof(k->buf));
    if (k->decline)
    {
        return NULL;
    }
    k->open = true;
    k->seq = seq;
    k->begun++;
    memset(k->buf, 0xEE, sizeof(k->buf));
    return k->buf;
}

static void sink_abort(void *clientd, uint64_t seq)
{
    fake_sink_t *k = clientd;
    SINK_CHECK(k->open);
    SINK_CHECK(k->seq == seq);
    k->open = false;
    k->aborted++;
}

static void maybe_sink(tp_bridge_assembler_t *a)
{
    memset(&sink, 0, sizeof(sink));
    if (with_sink)
    {
        tp_bridge_sink_t s = { .begin = sink_begin, .abort = sink_abort, .clientd = &sink };
        tp_bridge_assembler_set_sink(a, &s);
    }
}

/* tp_bridge_assembler_on_chunk; a completed direct frame is released (committed) as the receiver does. */
static int chunk(tp_bridge_assembler_t *a, const tp_proto_bridge_chunk_view_t *c, uint64_t now, tp_bridge_frame_t *out,
    tp_bridge_drop_t *why)
{
    int rc = tp_bridge_assembler_on_chunk(a, c, now, out, why);
    if (1 == rc && out->direct)
    {
        SINK_CHECK(sink.open);
        SINK_CHECK(out->payload == sink.buf);
        SINK_CHECK(sink.seq == out->seq);
        sink.open = false;
        sink.released++;
    }
    SINK_CHECK(sink.open == (NULL != a->direct)); /* the sink's destination is held exactly while a frame uses it */
    return rc;
}

/* Close the assembler; no sink contract violation happened. */
static void finish(tp_bridge_assembler_t *a)
{
    tp_bridge_assembler_close(a);
    TP_ASSERT_EQ_U64(0, sink.errors);
}

static tp_bridge_source_layout_t layout(uint64_t epoch)
{
    tp_bridge_source_layout_t l = { .valid = true, .epoch = epoch, .header_nslots = 64, .pool_count = 1 };
    l.pool_ids[0] = 1;
    l.pool_nslots[0] = 64;
    l.strides[0] = 4096;
    return l;
}

static void setup(tp_bridge_assembler_t *a, bool crc, uint32_t inflight)
{
    tp_bridge_assembler_config_t cfg = { .max_inflight = inflight, .max_chunk_bytes = 1024, .max_payload_bytes = 8192,
        .integrity_crc32c = crc, .timeout_ns = 250 * MS };
    TP_ASSERT_OK(tp_bridge_assembler_init(a, &cfg));
    TP_ASSERT_OK(tp_bridge_assembler_set_capacity(a, 8192));
    maybe_sink(a);
    tp_bridge_source_layout_t l = layout(5);
    TP_ASSERT_EQ_I64(1, tp_bridge_assembler_on_announce(a, &l));
}

static uint64_t total_drops(const tp_bridge_assembler_t *a)
{
    uint64_t n = 0;
    for (int i = 0; i < TP_BRIDGE_DROP_COUNT; i++)
    {
        n += a->drops[i];
    }
    return n;
}

/* Feed chunks in the given order; return the last result. */
static int feed(tp_bridge_assembler_t *a, frame_t *f, const uint32_t *order, uint32_t n, uint64_t now,
    tp_bridge_frame_t *out)
{
    int rc = 0;
    for (uint32_t i = 0; i < n; i++)
    {
        rc = chunk(a, &f->c[order ? order[i] : i], now, out, NULL);
    }
    return rc;
}

static void check_frame(const tp_bridge_frame_t *out, const frame_t *f, uint64_t seq)
{
    TP_ASSERT_EQ_U64(seq, out->seq);
    TP_ASSERT_EQ_U64(seq + 100, out->trace_id);
    TP_ASSERT_EQ_U64(f->c[0].payload_length, out->payload_length);
    TP_ASSERT(0 == memcmp(out->payload, f->payload, out->payload_length));
    TP_ASSERT_EQ_U64(12345, out->timestamp_ns);
    TP_ASSERT_EQ_U64(1, out->source_pool_id);
    TP_ASSERT_EQ_I64(TP_DTYPE_UINT8, out->tensor.dtype);
}

static frame_t fr;

static void test_in_order_and_reordered(void)
{
    tp_bridge_assembler_t a;
    setup(&a, false, 4);
    tp_bridge_frame_t out;
    make_frame(&fr, 1, 4000, 1000, false);
    TP_ASSERT_EQ_I64(1, feed(&a, &fr, NULL, fr.n, 0, &out));
    check_frame(&out, &fr, 1);
    uint32_t order[] = { 3, 1, 0, 2 };
    make_frame(&fr, 2, 3900, 1000, false);
    TP_ASSERT_EQ_I64(0, feed(&a, &fr, order, 3, 0, &out));
    TP_ASSERT_EQ_I64(1, feed(&a, &fr, order + 3, 1, 0, &out));
    check_frame(&out, &fr, 2);
    /* Empty payload: one chunk of length 0. */
    make_frame(&fr, 3, 0, 1000, false);
    TP_ASSERT_EQ_I64(1, feed(&a, &fr, NULL, fr.n, 0, &out));
    TP_ASSERT_EQ_U64(0, out.payload_length);
    /* Uneven slices in reverse order (offsets need not follow the index order). */
    make_frame(&fr, 4, 2500, 1000, false);
    tp_proto_bridge_chunk_view_t c1 = fr.c[1];
    tp_proto_bridge_chunk_view_t c2 = fr.c[2];
    TP_ASSERT_EQ_I64(0, chunk(&a, &c2, 0, &out, NULL));
    TP_ASSERT_EQ_I64(0, chunk(&a, &c1, 0, &out, NULL));
    TP_ASSERT_EQ_I64(1, chunk(&a, &fr.c[0], 0, &out, NULL));
    check_frame(&out, &fr, 4);
    TP_ASSERT_EQ_U64(4, a.frames_completed);
    TP_ASSERT_EQ_U64(0, total_drops(&a));
    finish(&a);
}

static void test_duplicates(void)
{
    tp_bridge_assembler_t a;
    setup(&a, false, 4);
    tp_bridge_frame_t out;
    make_frame(&fr, 1, 3000, 1000, false);
    uint32_t order[] = { 0, 1, 1, 0, 2 };
    TP_ASSERT_EQ_I64(1, feed(&a, &fr, order, 5, 0, &out));
    check_frame(&out, &fr, 1);
    TP_ASSERT_EQ_U64(2, a.chunks_duplicate);
    TP_ASSERT_EQ_U64(0, total_drops(&a));
    /* A duplicate of a delivered frame: STALE_SEQ, not a second delivery. */
    TP_ASSERT_EQ_I64(-1, feed(&a, &fr, NULL, 1, 0, &out));
    TP_ASSERT_EQ_U64(1, a.drops[TP_BRIDGE_DROP_STALE_SEQ]);
    /* Conflicting duplicate (same index, other bytes): the frame is dropped. */
    make_frame(&fr, 2, 3000, 1000, false);
    TP_ASSERT_EQ_I64(0, feed(&a, &fr, NULL, 2, 0, &out));
    tp_proto_bridge_chunk_view_t bad = fr.c[1];
    static uint8_t other[1000];
    memset(other, 0x5A, sizeof(other));
    bad.payload.data = other;
    tp_bridge_drop_t why = TP_BRIDGE_DROP_COUNT;
    TP_ASSERT_EQ_I64(-1, chunk(&a, &bad, 0, &out, &why));
    TP_ASSERT_EQ_I64(TP_BRIDGE_DROP_OVERLAP, why);
    TP_ASSERT_EQ_I64(0, feed(&a, &fr, NULL, 2, 0, &out)); /* restarts a fresh assembly: chunk 2 is missing */
    TP_ASSERT_EQ_U64(1, a.drops[TP_BRIDGE_DROP_OVERLAP]);
    finish(&a);
}

static void test_missing_chunk_times_out(void)
{
    tp_bridge_assembler_t a;
    setup(&a, false, 4);
    tp_bridge_frame_t out;
    make_frame(&fr, 1, 3000, 1000, false);
    uint32_t order[] = { 0, 2 };
    TP_ASSERT_EQ_I64(0, feed(&a, &fr, order, 2, 10 * MS, &out));
    TP_ASSERT(tp_bridge_assembler_in_flight(&a, 5, 1));
    TP_ASSERT_EQ_I64(0, tp_bridge_assembler_expire(&a, 200 * MS));
    TP_ASSERT_EQ_I64(1, tp_bridge_assembler_expire(&a, 261 * MS));
    TP_ASSERT_EQ_U64(1, a.drops[TP_BRIDGE_DROP_TIMEOUT]);
    TP_ASSERT(!tp_bridge_assembler_in_flight(&a, 5, 1));
    /* The late chunk starts a new assembly that can never complete: it times out too, nothing is delivered. */
    TP_ASSERT_EQ_I64(0, chunk(&a, &fr.c[1], 300 * MS, &out, NULL));
    TP_ASSERT_EQ_I64(1, tp_bridge_assembler_expire(&a, 600 * MS));
    TP_ASSERT_EQ_U64(0, a.frames_completed);
    TP_ASSERT_EQ_U64(0, a.active);
    finish(&a);
}

static void test_crc(void)
{
    tp_bridge_assembler_t a;
    setup(&a, true, 4);
    tp_bridge_frame_t out;
    make_frame(&fr, 1, 3000, 1000, true);
    TP_ASSERT_EQ_I64(1, feed(&a, &fr, NULL, fr.n, 0, &out));
    make_frame(&fr, 2, 3000, 1000, true);
    TP_ASSERT_EQ_I64(0, feed(&a, &fr, NULL, 1, 0, &out));
    fr.payload[1500] ^= 1; /* corrupt chunk 1 in flight */
    tp_bridge_drop_t why = TP_BRIDGE_DROP_COUNT;
    TP_ASSERT_EQ_I64(-1, chunk(&a, &fr.c[1], 0, &out, &why));
    TP_ASSERT_EQ_I64(TP_BRIDGE_DROP_CRC, why);
    TP_ASSERT(!tp_bridge_assembler_in_flight(&a, 5, 2));
    /* Missing (zero) CRC with integrity on. */
    make_frame(&fr, 3, 100, 1000, false);
    TP_ASSERT_EQ_I64(-1, feed(&a, &fr, NULL, 1, 0, &out));
    /* CRC over header || payload: a flipped header byte fails too. */
    make_frame(&fr, 4, 100, 1000, true);
    fr.header[100] ^= 0x80;
    TP_ASSERT_EQ_I64(-1, feed(&a, &fr, NULL, 1, 0, &out));
    TP_ASSERT_EQ_U64(3, a.drops[TP_BRIDGE_DROP_CRC]);
    TP_ASSERT_EQ_U64(1, a.frames_completed);
    finish(&a);
}

static void test_epoch_and_announce(void)
{
    tp_bridge_assembler_t a;
    tp_bridge_assembler_config_t cfg = { .max_inflight = 2, .max_chunk_bytes = 1024, .max_payload_bytes = 8192,
        .timeout_ns = 250 * MS };
    TP_ASSERT_OK(tp_bridge_assembler_init(&a, &cfg));
    TP_ASSERT_OK(tp_bridge_assembler_set_capacity(&a, 8192));
    maybe_sink(&a);
    tp_bridge_frame_t out;
    make_frame(&fr, 1, 100, 1000, false);
    TP_ASSERT_EQ_I64(-1, feed(&a, &fr, NULL, 1, 0, &out)); /* no announce yet */
    TP_ASSERT_EQ_U64(1, a.drops[TP_BRIDGE_DROP_NO_ANNOUNCE]);
    tp_bridge_source_layout_t l = layout(4);
    TP_ASSERT_EQ_I64(1, tp_bridge_assembler_on_announce(&a, &l));
    TP_ASSERT_EQ_I64(-1, feed(&a, &fr, NULL, 1, 0, &out)); /* chunk epoch 5, announce 4 */
    TP_ASSERT_EQ_U64(1, a.drops[TP_BRIDGE_DROP_EPOCH]);
    l = layout(5);
    TP_ASSERT_EQ_I64(1, tp_bridge_assembler_on_announce(&a, &l));
    make_frame(&fr, 7, 3000, 1000, false);
    TP_ASSERT_EQ_I64(0, feed(&a, &fr, NULL, 2, 0, &out));
    TP_ASSERT_EQ_I64(0, tp_bridge_assembler_on_announce(&a, &l)); /* refresh: nothing dropped */
    TP_ASSERT(tp_bridge_assembler_in_flight(&a, 5, 7));
    l = layout(3);
    TP_ASSERT_EQ_I64(-1, tp_bridge_assembler_on_announce(&a, &l)); /* older epoch ignored */
    l = layout(6);
    TP_ASSERT_EQ_I64(1, tp_bridge_assembler_on_announce(&a, &l)); /* remap: in-flight frames dropped */
    TP_ASSERT_EQ_U64(1, a.drops[TP_BRIDGE_DROP_EPOCH_CHANGE]);
    TP_ASSERT(!tp_bridge_assembler_in_flight(&a, 5, 7));
    TP_ASSERT_EQ_I64(-1, feed(&a, &fr, NULL, 1, 0, &out)); /* an older epoch after the higher one */
    TP_ASSERT_EQ_U64(2, a.drops[TP_BRIDGE_DROP_EPOCH]);
    finish(&a);
}

static void test_oversize_and_limits(void)
{
    tp_bridge_assembler_t a;
    setup(&a, false, 4);
    tp_bridge_frame_t out;
    tp_bridge_drop_t why = TP_BRIDGE_DROP_COUNT;
    make_frame(&fr, 1, 3000, 1000, false);
    tp_proto_bridge_chunk_view_t c = fr.c[0];
    c.payload_length = 9000; /* above max_payload_bytes 8192 */
    TP_ASSERT_EQ_I64(-1, chunk(&a, &c, 0, &out, &why));
    TP_ASSERT_EQ_I64(TP_BRIDGE_DROP_OVERSIZE, why);
    /* Above the local capacity (largest local stride) but within max_payload_bytes. */
    TP_ASSERT_OK(tp_bridge_assembler_set_capacity(&a, 2048));
    TP_ASSERT_EQ_I64(-1, feed(&a, &fr, NULL, 1, 0, &out));
    TP_ASSERT_EQ_U64(1, a.drops[TP_BRIDGE_DROP_NO_LOCAL_POOL]);
    TP_ASSERT_OK(tp_bridge_assembler_set_capacity(&a, 8192));
    /* Above the source pool stride (4096) in the announce. */
    make_frame(&fr, 2, 5000, 1000, false);
    TP_ASSERT_EQ_I64(-1, feed(&a, &fr, NULL, fr.n, 0, &out));
    TP_ASSERT_EQ_U64(1, a.drops[TP_BRIDGE_DROP_SOURCE_STRIDE]);
    /* chunkLength above the chunk bound (1024). */
    make_frame(&fr, 3, 3000, 1500, false);
    TP_ASSERT_EQ_I64(-1, feed(&a, &fr, NULL, 1, 0, &out));
    TP_ASSERT_EQ_U64(1, a.drops[TP_BRIDGE_DROP_CHUNK_LENGTH]);
    /* chunkCount 0, chunk 0 without its header, a later chunk with offset outside the payload. */
    make_frame(&fr, 4, 3000, 1000, false);
    c = fr.c[1];
    c.chunk_count = 0;
    TP_ASSERT_EQ_I64(-1, chunk(&a, &c, 0, &out, &why));
    TP_ASSERT_EQ_I64(TP_BRIDGE_DROP_CHUNK_COUNT, why);
    c = fr.c[0];
    c.header_bytes.length = 200;
    TP_ASSERT_EQ_I64(-1, chunk(&a, &c, 0, &out, &why));
    TP_ASSERT_EQ_I64(TP_BRIDGE_DROP_HEADER_FLAG, why);
    c = fr.c[2];
    c.chunk_offset = 2500;
    TP_ASSERT_EQ_I64(-1, chunk(&a, &c, 0, &out, &why));
    TP_ASSERT_EQ_I64(TP_BRIDGE_DROP_CHUNK_OFFSET, why);
    TP_ASSERT_EQ_U64(0, a.frames_completed);
    finish(&a);
}

static void test_bad_headers(void)
{
    tp_bridge_assembler_t a;
    setup(&a, false, 4);
    tp_bridge_frame_t out;
    struct
    {
        size_t off;
        uint32_t value;
        int width;
        tp_bridge_drop_t expect;
    } cases[] = {
        { 0, 99, 8, TP_BRIDGE_DROP_BAD_HEADER },        /* seq_commit not (seq << 1) | 1 */
        { 8, 99, 4, TP_BRIDGE_DROP_BAD_HEADER },        /* values_len_bytes != payloadLength */
        { 18, 4, 4, TP_BRIDGE_DROP_BAD_HEADER },        /* payload_offset != 0 */
        { 60, 191, 4, TP_BRIDGE_DROP_BAD_HEADER },      /* embedded header length != 192 */
        { 64 + 4, 901, 2, TP_BRIDGE_DROP_BAD_HEADER },  /* TensorHeader schemaId */
        { 64 + 2, 51, 2, TP_BRIDGE_DROP_BAD_HEADER },   /* TensorHeader templateId */
        { 64 + 8, 77, 1, TP_BRIDGE_DROP_BAD_HEADER },   /* dtype unknown */
        { 16, 9, 2, TP_BRIDGE_DROP_POOL_ID },           /* pool id not announced */
    };
    for (uint64_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    {
        make_frame(&fr, 10 + i, 100, 1000, false);
        uint8_t *p = fr.header + cases[i].off;
        if (8 == cases[i].width)
        {
            tp_sbe_put_u64(p, cases[i].value);
        }
        else if (4 == cases[i].width)
        {
            tp_sbe_put_u32(p, cases[i].value);
        }
        else if (2 == cases[i].width)
        {
            tp_sbe_put_u16(p, (uint16_t)cases[i].value);
        }
        else
        {
            *p = (uint8_t)cases[i].value;
        }
        tp_bridge_drop_t why = TP_BRIDGE_DROP_COUNT;
        TP_ASSERT_EQ_I64(-1, chunk(&a, &fr.c[0], 0, &out, &why));
        TP_ASSERT_EQ_I64(cases[i].expect, why);
    }
    TP_ASSERT_EQ_U64(7, a.drops[TP_BRIDGE_DROP_BAD_HEADER]);
    TP_ASSERT_EQ_U64(1, a.drops[TP_BRIDGE_DROP_POOL_ID]);
    TP_ASSERT_EQ_U64(0, a.frames_completed);
    finish(&a);
}

static void test_inconsistent_chunks(void)
{
    tp_bridge_assembler_t a;
    setup(&a, false, 4);
    tp_bridge_frame_t out;
    tp_bridge_drop_t why = TP_BRIDGE_DROP_COUNT;
    /* traceId differs between chunks of one frame. */
    make_frame(&fr, 1, 3000, 1000, false);
    TP_ASSERT_EQ_I64(0, feed(&a, &fr, NULL, 1, 0, &out));
    tp_proto_bridge_chunk_view_t c = fr.c[1];
    c.trace_id = 1;
    TP_ASSERT_EQ_I64(-1, chunk(&a, &c, 0, &out, &why));
    TP_ASSERT_EQ_I64(TP_BRIDGE_DROP_TRACE_MISMATCH, why);
    /* chunkCount differs. */
    make_frame(&fr, 2, 3000, 1000, false);
    TP_ASSERT_EQ_I64(0, feed(&a, &fr, NULL, 1, 0, &out));
    c = fr.c[1];
    c.chunk_count = 4;
    TP_ASSERT_EQ_I64(-1, chunk(&a, &c, 0, &out, &why));
    TP_ASSERT_EQ_I64(TP_BRIDGE_DROP_INCONSISTENT, why);
    /* Overlapping slices under different indices (the sum would exceed payloadLength). */
    make_frame(&fr, 3, 3000, 1000, false);
    TP_ASSERT_EQ_I64(0, feed(&a, &fr, NULL, 2, 0, &out));
    c = fr.c[2];
    c.chunk_offset = 1500;
    c.chunk_length = 1000;
    c.payload.data = fr.payload + 1500;
    c.payload.length = 1000;
    TP_ASSERT_EQ_I64(-1, chunk(&a, &c, 0, &out, &why));
    TP_ASSERT_EQ_I64(TP_BRIDGE_DROP_OVERLAP, why);
    /* Overlap that keeps the sum right but leaves a hole: detected when the frame completes. */
    make_frame(&fr, 4, 3000, 1000, false);
    c = fr.c[1];
    c.chunk_offset = 500; /* [500,1500) overlaps chunk 0, [1000,... never covered... */
    c.payload.data = fr.payload + 500;
    TP_ASSERT_EQ_I64(0, feed(&a, &fr, NULL, 1, 0, &out));
    TP_ASSERT_EQ_I64(0, chunk(&a, &c, 0, &out, &why));
    TP_ASSERT_EQ_I64(-1, chunk(&a, &fr.c[2], 0, &out, &why));
    TP_ASSERT_EQ_I64(TP_BRIDGE_DROP_OVERLAP, why);
    TP_ASSERT_EQ_U64(2, a.drops[TP_BRIDGE_DROP_OVERLAP]);
    TP_ASSERT_EQ_U64(0, a.frames_completed);
    finish(&a);
}

static void test_eviction_and_stale(void)
{
    tp_bridge_assembler_t a;
    setup(&a, false, 2);
    tp_bridge_frame_t out;
    static frame_t f1, f2, f3;
    make_frame(&f1, 1, 2000, 1000, false);
    make_frame(&f2, 2, 2000, 1000, false);
    make_frame(&f3, 3, 2000, 1000, false);
    TP_ASSERT_EQ_I64(0, feed(&a, &f1, NULL, 1, 1, &out));
    TP_ASSERT_EQ_I64(0, feed(&a, &f2, NULL, 1, 2, &out));
    TP_ASSERT_EQ_I64(0, feed(&a, &f3, NULL, 1, 3, &out)); /* both slots busy: the oldest (seq 1) is evicted */
    TP_ASSERT_EQ_U64(1, a.drops[TP_BRIDGE_DROP_EVICTED]);
    TP_ASSERT(!tp_bridge_assembler_in_flight(&a, 5, 1));
    /* Frame 3 completes first: frame 2, still in flight, can no longer be published in order. */
    TP_ASSERT_EQ_I64(1, chunk(&a, &f3.c[1], 4, &out, NULL));
    check_frame(&out, &f3, 3);
    TP_ASSERT_EQ_U64(1, a.drops[TP_BRIDGE_DROP_STALE_SEQ]);
    TP_ASSERT_EQ_I64(-1, chunk(&a, &f2.c[1], 5, &out, NULL));
    TP_ASSERT_EQ_U64(2, a.drops[TP_BRIDGE_DROP_STALE_SEQ]);
    TP_ASSERT_EQ_U64(0, a.active);
    TP_ASSERT_STREQ("TIMEOUT", tp_bridge_drop_name(TP_BRIDGE_DROP_TIMEOUT));
    TP_ASSERT_STREQ("UNKNOWN", tp_bridge_drop_name(TP_BRIDGE_DROP_COUNT));
    finish(&a);
}

/*
 * Direct writes: one frame at a time goes straight into the sink's destination (the lowest in flight); a frame
 * that starts meanwhile uses a slot buffer; a declined destination falls back to the buffer; every drop of a
 * direct frame (timeout, bad header, explicit) aborts the destination; a frame below the direct one is stale
 * (the sink took the direct frame's seq).
 */
static void test_direct_writes(void)
{
    tp_bridge_assembler_t a;
    bool saved = with_sink;
    with_sink = true;
    setup(&a, false, 4);
    tp_bridge_frame_t out;
    tp_bridge_drop_t why = TP_BRIDGE_DROP_COUNT;
    static frame_t f2, f3, f4, f5;
    make_frame(&f2, 2, 3000, 1000, false);
    make_frame(&f3, 3, 2000, 1000, false);
    TP_ASSERT_EQ_I64(0, feed(&a, &f2, NULL, 1, 0, &out)); /* frame 2 begins in the destination */
    TP_ASSERT_EQ_U64(1, sink.begun);
    TP_ASSERT_EQ_I64(0, feed(&a, &f3, NULL, 1, 0, &out)); /* frame 3: destination busy -> slot buffer */
    TP_ASSERT_EQ_U64(1, sink.begun);
    TP_ASSERT_EQ_I64(0, chunk(&a, &f2.c[2], 0, &out, NULL));
    TP_ASSERT_EQ_I64(0, chunk(&a, &f2.c[2], 0, &out, NULL)); /* identical duplicate, compared in the destination */
    TP_ASSERT_EQ_U64(1, a.chunks_duplicate);
    TP_ASSERT_EQ_I64(1, chunk(&a, &f2.c[1], 0, &out, NULL));
    TP_ASSERT(out.direct);
    check_frame(&out, &f2, 2);
    TP_ASSERT_EQ_U64(1, sink.released);
    TP_ASSERT_EQ_I64(1, chunk(&a, &f3.c[1], 0, &out, NULL));
    TP_ASSERT(!out.direct);
    TP_ASSERT(out.payload != sink.buf);
    check_frame(&out, &f3, 3);
    /* frame 5 takes the destination; frame 4 arriving after it can no longer be delivered */
    make_frame(&f5, 5, 2000, 1000, false);
    make_frame(&f4, 4, 2000, 1000, false);
    TP_ASSERT_EQ_I64(0, feed(&a, &f5, NULL, 1, 0, &out));
    TP_ASSERT_EQ_I64(-1, chunk(&a, &f4.c[0], 0, &out, &why));
    TP_ASSERT_EQ_I64(TP_BRIDGE_DROP_STALE_SEQ, why);
    /* an explicit drop (producer closed / relaid) aborts the destination */
    tp_bridge_assembler_drop_direct(&a, TP_BRIDGE_DROP_EPOCH_CHANGE);
    TP_ASSERT_EQ_U64(1, sink.aborted);
    TP_ASSERT_EQ_U64(1, a.drops[TP_BRIDGE_DROP_EPOCH_CHANGE]);
    TP_ASSERT(NULL == a.direct);
    /* an incomplete direct frame times out: aborted */
    make_frame(&fr, 6, 2000, 1000, false);
    TP_ASSERT_EQ_I64(0, feed(&a, &fr, NULL, 1, 0, &out));
    TP_ASSERT_EQ_I64(1, tp_bridge_assembler_expire(&a, 300 * MS));
    TP_ASSERT_EQ_U64(2, sink.aborted);
    TP_ASSERT(NULL == a.direct);
    /* a declined destination: the frame is assembled in a slot buffer */
    sink.decline = true;
    make_frame(&fr, 7, 2000, 1000, false);
    TP_ASSERT_EQ_I64(1, feed(&a, &fr, NULL, fr.n, 0, &out));
    TP_ASSERT(!out.direct);
    check_frame(&out, &fr, 7);
    sink.decline = false;
    /* a direct frame whose header is invalid is dropped at completion: aborted */
    make_frame(&fr, 8, 2000, 1000, false);
    tp_sbe_put_u64(fr.header, 99);
    TP_ASSERT_EQ_I64(-1, feed(&a, &fr, NULL, fr.n, 0, &out));
    TP_ASSERT_EQ_U64(3, sink.aborted);
    TP_ASSERT_EQ_U64(1, a.drops[TP_BRIDGE_DROP_BAD_HEADER]);
    /* no sink: slot buffers only */
    tp_bridge_assembler_set_sink(&a, NULL);
    uint64_t begun = sink.begun;
    make_frame(&fr, 9, 2000, 1000, false);
    TP_ASSERT_EQ_I64(1, feed(&a, &fr, NULL, fr.n, 0, &out));
    TP_ASSERT(!out.direct);
    check_frame(&out, &fr, 9);
    TP_ASSERT_EQ_U64(begun, sink.begun);
    TP_ASSERT_EQ_U64(1, a.frames_direct);
    TP_ASSERT_EQ_U64(4, a.frames_completed);
    finish(&a);
    with_sink = saved;
}

int main(void)
{
    for (int pass = 0; pass < 2; pass++)
    {
        with_sink = 1 == pass;
        fprintf(stderr, "pass %d: %s\n", pass, with_sink ? "direct-write sink" : "slot buffers only");
        TP_RUN(test_in_order_and_reordered);
        TP_RUN(test_duplicates);
        TP_RUN(test_missing_chunk_times_out);
        TP_RUN(test_crc);
        TP_RUN(test_epoch_and_announce);
        TP_RUN(test_oversize_and_limits);
        TP_RUN(test_bad_headers);
        TP_RUN(test_inconsistent_chunks);
        TP_RUN(test_eviction_and_stale);
    }
    TP_RUN(test_direct_writes);
    return tp_test_finish();
}
