/* Header ring, SlotHeader and the seq_commit seqlock (wire §8, §9, §10.2.1, §15.3–15.5, §15.18, §15.21). */
#include "tp_test.h"

#include "shm_test_util.h"
#include "tensor_pool/tp_shm.h"
#include "shm/tp_shm_lib.h"
#include "tp_sbe/wire.h"

static char g_dir[1024];
#ifndef TP_TEST_VECTORS_DIR
#define TP_TEST_VECTORS_DIR "tests/vectors"
#endif
static const char *g_vectors_dir = NULL;
static tp_shm_allowlist_t *g_allow = NULL;

#define NSLOTS 8u
#define STRIDE 4096u

typedef struct
{
    tp_shm_region_t *ring;   /* producer, writable */
    tp_shm_region_t *pool;   /* producer, writable */
    tp_shm_region_t *cring;  /* consumer, read-only */
    tp_shm_region_t *cpool;  /* consumer, read-only */
    char epoch_dir[1024];
} fixture_t;

static int fixture_open(fixture_t *f, const char *name)
{
    char path[1200];
    memset(f, 0, sizeof(*f));
    snprintf(f->epoch_dir, sizeof(f->epoch_dir), "%s/%s", g_dir, name);
    if (0 != mkdir(f->epoch_dir, 0700))
    {
        return -1;
    }
    tp_shm_region_params_t rp = { TP_SHM_REGION_HEADER_RING, TP_SHM_LAYOUT_VERSION, 3, 77, 0, NSLOTS, 0 };
    tp_shm_region_params_t pp = { TP_SHM_REGION_PAYLOAD_POOL, TP_SHM_LAYOUT_VERSION, 3, 77, 1, NSLOTS, STRIDE };
    tp_shm_header_ring_path(path, sizeof(path), f->epoch_dir);
    if (tp_shm_region_create(&f->ring, path, &rp, NULL) < 0 || tp_shm_region_map(&f->cring, g_allow, path, &rp, false) < 0)
    {
        return -1;
    }
    tp_shm_pool_path(path, sizeof(path), f->epoch_dir, 1);
    if (tp_shm_region_create(&f->pool, path, &pp, NULL) < 0 || tp_shm_region_map(&f->cpool, g_allow, path, &pp, false) < 0)
    {
        return -1;
    }
    return tp_shm_pool_check_ring(f->cring, f->cpool);
}

static void fixture_close(fixture_t *f)
{
    tp_shm_region_close(f->cring);
    tp_shm_region_close(f->cpool);
    tp_shm_region_close(f->ring);
    tp_shm_region_close(f->pool);
    tp_shm_epoch_dir_remove(f->epoch_dir);
}

static tp_shm_slot_header_t frame_header(uint64_t seq, uint32_t len)
{
    tp_shm_slot_header_t h;
    memset(&h, 0, sizeof(h));
    h.values_len_bytes = len;
    h.payload_slot = tp_shm_header_index(seq, NSLOTS);
    h.pool_id = 1;
    h.timestamp_ns = 1000 + seq;
    h.meta_version = 5;
    h.tensor.dtype = TP_DTYPE_UINT8;
    h.tensor.major_order = TP_MAJOR_ORDER_ROW;
    h.tensor.ndims = 1;
    h.tensor.dims[0] = (int32_t)len;
    return h;
}

/* Publish one frame whose payload bytes are (seq + i) & 0xff. */
static int publish(fixture_t *f, uint64_t seq, uint32_t len)
{
    tp_shm_slot_header_t h = frame_header(seq, len);
    if (tp_shm_slot_write_begin(f->ring, seq) < 0)
    {
        return -1;
    }
    uint8_t *p = tp_shm_pool_payload(f->pool, h.payload_slot);
    for (uint32_t i = 0; i < len; i++)
    {
        p[i] = (uint8_t)(seq + i);
    }
    if (tp_shm_slot_write_header(f->ring, seq, &h) < 0)
    {
        return -1;
    }
    return tp_shm_slot_write_commit(f->ring, seq);
}

static uint8_t *mutable_slot(fixture_t *f, uint64_t seq)
{
    return (uint8_t *)(uintptr_t)(tp_shm_region_base(f->ring) + tp_shm_slot_offset(tp_shm_header_index(seq, NSLOTS)));
}

static void test_shm_slot_addressing(void)
{
    TP_ASSERT_EQ_U64(64, tp_shm_slot_offset(0));
    TP_ASSERT_EQ_U64(64 + 5 * 256, tp_shm_slot_offset(5));
    TP_ASSERT_EQ_U64(64 + 3 * 4096, tp_shm_payload_offset(3, 4096));
    TP_ASSERT_EQ_U64(3, tp_shm_header_index(11, 8));
    TP_ASSERT_EQ_U64(0, tp_shm_header_index(UINT64_C(1) << 40, 8));
    fixture_t f;
    TP_ASSERT_OK(fixture_open(&f, "addr"));
    for (uint32_t i = 0; i < NSLOTS; i++)
    {
        /* seq_commit at slot offset 0 is 8-byte aligned (single aligned atomic store). */
        TP_ASSERT_EQ_U64(0, ((uintptr_t)(tp_shm_region_base(f.ring) + tp_shm_slot_offset(i))) % 8);
    }
    fixture_close(&f);
}

static void test_shm_seqlock_states(void)
{
    fixture_t f;
    TP_ASSERT_OK(fixture_open(&f, "states"));
    const tp_shm_region_t *pools[1] = { f.cpool };
    tp_shm_frame_view_t v;
    uint64_t token;

    /* Never written: seq_commit 0 reads as "seq 0 in progress", any later seq is stale. */
    TP_ASSERT_EQ_I64(TP_DROP_NOT_COMMITTED, tp_shm_frame_begin(f.cring, pools, 1, 0, &v));
    TP_ASSERT_EQ_I64(TP_DROP_SEQ_STALE, tp_shm_frame_begin(f.cring, pools, 1, 5, &v));

    /* In progress. */
    TP_ASSERT_OK(tp_shm_slot_write_begin(f.ring, 10));
    TP_ASSERT_EQ_I64(TP_DROP_NOT_COMMITTED, tp_shm_seqlock_read_begin(f.cring, 10, &token));
    TP_ASSERT_EQ_U64(20, token);
    TP_ASSERT_EQ_I64(TP_DROP_NOT_COMMITTED, tp_shm_frame_begin(f.cring, pools, 1, 10, &v));

    /* Committed. */
    tp_shm_slot_header_t h = frame_header(10, 100);
    TP_ASSERT_OK(tp_shm_slot_write_header(f.ring, 10, &h));
    TP_ASSERT_OK(tp_shm_slot_write_commit(f.ring, 10));
    TP_ASSERT_EQ_I64(TP_DROP_NONE, tp_shm_seqlock_read_begin(f.cring, 10, &token));
    TP_ASSERT_EQ_U64(21, token);
    TP_ASSERT_EQ_I64(TP_DROP_NONE, tp_shm_seqlock_read_end(f.cring, 10, token));

    /* Wrong sequence for the same slot: older expected -> ahead; newer expected -> stale. */
    TP_ASSERT_EQ_I64(TP_DROP_SEQ_AHEAD, tp_shm_frame_begin(f.cring, pools, 1, 2, &v));
    TP_ASSERT_EQ_I64(TP_DROP_SEQ_STALE, tp_shm_frame_begin(f.cring, pools, 1, 18, &v));

    /* Changed between the two reads (zero-copy view, then a re-check after reading). */
    TP_ASSERT_OK(publish(&f, 11, 64));
    TP_ASSERT_EQ_I64(TP_DROP_NONE, tp_shm_frame_begin(f.cring, pools, 1, 11, &v));
    TP_ASSERT_EQ_U64(23, v.seq_commit);
    TP_ASSERT(NULL != v.payload);
    TP_ASSERT_EQ_U64(11, v.payload[0]);
    TP_ASSERT_EQ_I64(TP_DROP_NONE, tp_shm_frame_end(&v));
    TP_ASSERT_OK(tp_shm_slot_write_begin(f.ring, 19)); /* same slot, overwritten */
    TP_ASSERT_EQ_I64(TP_DROP_LATE, tp_shm_frame_end(&v));
    TP_ASSERT_EQ_I64(TP_DROP_LATE, tp_shm_seqlock_read_end(f.cring, 11, 23));
    TP_ASSERT_EQ_I64(TP_DROP_NOT_COMMITTED, tp_shm_frame_begin(f.cring, pools, 1, 19, &v));
    TP_ASSERT_EQ_I64(TP_DROP_SEQ_AHEAD, tp_shm_frame_begin(f.cring, pools, 1, 11, &v));

    /* Regression: slot goes back to a lower sequence -> stale for the newer expectation. */
    TP_ASSERT_OK(publish(&f, 3, 8));
    TP_ASSERT_EQ_I64(TP_DROP_SEQ_STALE, tp_shm_frame_begin(f.cring, pools, 1, 19, &v));

    /* Not a header ring. */
    TP_ASSERT_EQ_I64(TP_DROP_NOT_MAPPED, tp_shm_seqlock_read_begin(f.cpool, 1, &token));
    TP_ASSERT_EQ_I64(TP_DROP_NOT_MAPPED, tp_shm_frame_begin(NULL, pools, 1, 1, &v));
    fixture_close(&f);
}

static void test_shm_frame_copy_out(void)
{
    fixture_t f;
    TP_ASSERT_OK(fixture_open(&f, "copy"));
    const tp_shm_region_t *pools[1] = { f.cpool };
    tp_shm_frame_view_t v;
    uint8_t dst[STRIDE];
    for (uint64_t seq = 0; seq < 3 * NSLOTS; seq++)
    {
        uint32_t len = (uint32_t)(1 + (seq * 97) % STRIDE);
        TP_ASSERT_OK(publish(&f, seq, len));
        memset(dst, 0, sizeof(dst));
        TP_ASSERT_EQ_I64(TP_DROP_NONE, tp_shm_frame_read_copy(f.cring, pools, 1, seq, &v, dst, sizeof(dst)));
        TP_ASSERT_EQ_U64(len, v.header.values_len_bytes);
        TP_ASSERT_EQ_U64(len, v.extent_bytes);
        TP_ASSERT_EQ_U64(tp_shm_header_index(seq, NSLOTS), v.header.payload_slot);
        TP_ASSERT_EQ_U64(1000 + seq, v.header.timestamp_ns);
        TP_ASSERT_EQ_U64(5, v.header.meta_version);
        TP_ASSERT_EQ_U64((seq << 1) | 1, v.header.seq_commit);
        for (uint32_t i = 0; i < len; i++)
        {
            TP_ASSERT_EQ_U64((uint8_t)(seq + i), dst[i]);
        }
    }
    TP_ASSERT_OK(publish(&f, 100, 600));
    TP_ASSERT_EQ_I64(TP_DROP_BUFFER_TOO_SMALL, tp_shm_frame_read_copy(f.cring, pools, 1, 100, &v, dst, 599));
    /* Empty payload: valid, committed, no payload pointer, nothing copied. */
    TP_ASSERT_OK(publish(&f, 101, 0));
    TP_ASSERT_EQ_I64(TP_DROP_NONE, tp_shm_frame_read_copy(f.cring, pools, 1, 101, &v, NULL, 0));
    TP_ASSERT(NULL == v.payload);
    TP_ASSERT_EQ_U64(0, v.header.values_len_bytes);
    fixture_close(&f);
}

static void test_shm_writer_full_overwrite(void)
{
    fixture_t f;
    TP_ASSERT_OK(fixture_open(&f, "overwrite"));
    uint8_t *slot = mutable_slot(&f, 4);
    memset(slot + 8, 0xff, 248); /* garbage from a previous life */
    tp_shm_slot_header_t h = frame_header(4, 32);
    TP_ASSERT_OK(tp_shm_slot_write_begin(f.ring, 4));
    TP_ASSERT_OK(tp_shm_slot_write_header(f.ring, 4, &h));
    TP_ASSERT_OK(tp_shm_slot_write_commit(f.ring, 4));
    uint8_t want[256];
    h.seq_commit = 9;
    TP_ASSERT_OK(tp_shm_slot_header_encode(want, sizeof(want), &h));
    TP_ASSERT(0 == memcmp(slot, want, 256));
    fixture_close(&f);
}

/*
 * The producer's hot path (tp_shm_slot_publish: header + commit in one call) leaves exactly the bytes of
 * write_header + write_commit over a slot full of garbage, and the frame view reads it back with dims/strides
 * beyond ndims reported as 0 (DECISIONS PERF-3) even when the slot holds garbage there.
 */
static void test_shm_slot_publish_matches_write_header(void)
{
    fixture_t f;
    TP_ASSERT_OK(fixture_open(&f, "publish"));
    uint8_t *slot = mutable_slot(&f, 5);
    memset(slot + 8, 0xff, 248);
    tp_shm_slot_header_t h = frame_header(5, 48);
    h.tensor.ndims = 2;
    h.tensor.dims[0] = 4;
    h.tensor.dims[1] = 12;
    TP_ASSERT_OK(tp_shm_slot_write_begin(f.ring, 5));
    tp_shm_slot_publish(f.ring, 5, &h);
    uint8_t want[256];
    h.seq_commit = (5u << 1) | 1u;
    TP_ASSERT_OK(tp_shm_slot_header_encode(want, sizeof(want), &h));
    TP_ASSERT(0 == memcmp(slot, want, 256));
    /* a foreign writer's nonzero dims beyond ndims: tools see them, the frame view does not */
    tp_sbe_put_u32(slot + 64 + 8 + 11 + 4 * 5, 777);
    tp_shm_slot_header_t raw;
    TP_ASSERT_EQ_I64(TP_DROP_NONE, tp_shm_slot_header_decode(slot, 256, &raw));
    TP_ASSERT_EQ_I64(777, raw.tensor.dims[5]);
    const tp_shm_region_t *pools[1] = { f.cpool };
    tp_shm_frame_view_t v;
    TP_ASSERT_EQ_I64(TP_DROP_NONE, tp_shm_frame_begin(f.cring, pools, 1, 5, &v));
    TP_ASSERT_EQ_I64(2, v.header.tensor.ndims);
    TP_ASSERT_EQ_I64(4, v.header.tensor.dims[0]);
    TP_ASSERT_EQ_I64(12, v.header.tensor.dims[1]);
    TP_ASSERT_EQ_I64(0, v.header.tensor.dims[5]);
    TP_ASSERT_EQ_U64(48, v.extent_bytes);
    TP_ASSERT_EQ_U64(1005, v.header.timestamp_ns);
    TP_ASSERT_EQ_U64(5, v.header.meta_version);
    TP_ASSERT_EQ_I64(TP_DROP_NONE, tp_shm_frame_end(&v));
    fixture_close(&f);
}

static void test_shm_writer_rejects_bad_headers(void)
{
    fixture_t f;
    TP_ASSERT_OK(fixture_open(&f, "writer"));
    tp_shm_slot_header_t h = frame_header(6, 32);
    h.payload_slot = 5;
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_shm_slot_write_header(f.ring, 6, &h));
    TP_ASSERT(NULL != strstr(tp_errmsg(), "header_index"));
    h = frame_header(6, 32);
    h.payload_offset = 64;
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_shm_slot_write_header(f.ring, 6, &h));
    h = frame_header(6, 32);
    h.tensor.ndims = 0;
    TP_ASSERT_ERR(TP_ERR_VALIDATION, tp_shm_slot_write_header(f.ring, 6, &h));
    h = frame_header(6, 32);
    h.values_len_bytes = 31;
    TP_ASSERT_ERR(TP_ERR_VALIDATION, tp_shm_slot_write_header(f.ring, 6, &h));
    /* Consumer mappings are read-only. */
    h = frame_header(6, 32);
    TP_ASSERT_ERR(TP_ERR_STATE, tp_shm_slot_write_begin(f.cring, 6));
    TP_ASSERT_ERR(TP_ERR_STATE, tp_shm_slot_write_header(f.cring, 6, &h));
    TP_ASSERT_ERR(TP_ERR_STATE, tp_shm_slot_write_commit(f.cring, 6));
    TP_ASSERT_ERR(TP_ERR_STATE, tp_shm_slot_write_begin(f.pool, 6));
    TP_ASSERT(NULL == tp_shm_pool_payload(f.cpool, 0));
    fixture_close(&f);
}

/* Corrupt one committed slot in place and check the consumer's verdict. */
static void test_shm_frame_rejects_corrupt_slots(void)
{
    fixture_t f;
    TP_ASSERT_OK(fixture_open(&f, "corrupt"));
    const tp_shm_region_t *pools[1] = { f.cpool };
    tp_shm_frame_view_t v;
    struct
    {
        size_t offset;
        uint8_t value;
        tp_drop_reason_t want;
    } cases[] = {
        { 18, 1, TP_DROP_PAYLOAD_OFFSET },      /* payload_offset = 1 */
        { 16, 9, TP_DROP_POOL_UNKNOWN },        /* pool_id = 9 */
        { 12, 0, TP_DROP_PAYLOAD_SLOT },        /* payload_slot != header_index */
        { 15, 1, TP_DROP_PAYLOAD_SLOT },        /* payload_slot huge */
        { 60, 191, TP_DROP_HEADER_LENGTH },     /* headerBytes length 191 */
        { 61, 1, TP_DROP_HEADER_LENGTH },       /* headerBytes length 448 */
        { 63, 0x80, TP_DROP_HEADER_LENGTH },    /* headerBytes length > 2^31 */
        { 64 + 4, 0x85, TP_DROP_HEADER_SCHEMA_ID },
        { 64 + 2, 51, TP_DROP_HEADER_TEMPLATE_ID },
        { 64 + 6, 9, TP_DROP_HEADER_VERSION },
        { 64 + 0, 200, TP_DROP_HEADER_BLOCK_LENGTH },
        { 64 + 8 + 4, 0, TP_DROP_NDIMS },       /* ndims 0 */
        { 64 + 8 + 4, 9, TP_DROP_NDIMS },       /* ndims 9 */
        { 64 + 8 + 0, 12, TP_DROP_DTYPE },
        { 64 + 8 + 2, 7, TP_DROP_MAJOR_ORDER },
        { 64 + 8 + 6, 5, TP_DROP_PROGRESS_UNIT },
        { 64 + 8 + 14, 0x80, TP_DROP_DIM_NEGATIVE },   /* dims[0] top byte */
        { 64 + 8 + 46, 0x80, TP_DROP_STRIDE_NEGATIVE }, /* strides[0] top byte */
        { 64 + 8 + 43, 1, TP_DROP_STRIDE_LAYOUT },      /* strides[0] = 1 < elem? (uint16 below) */
        { 64 + 8 + 13, 0x10, TP_DROP_EXTENT },          /* dims[0] grows past values_len */
        { 34, 0x77, TP_DROP_NONE },                     /* reserved pad: ignored */
        { 40, 0x77, TP_DROP_NONE },                     /* block padding: ignored */
        { 64 + 8 + 5, 0x77, TP_DROP_NONE },             /* pad_align: ignored */
        { 64 + 8 + 75, 0x77, TP_DROP_NONE },            /* TensorHeader pad: ignored */
        { 64 + 8 + 11 + 4 * 3, 0x77, TP_DROP_NONE },    /* dims[3] beyond ndims: ignored */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    {
        uint64_t seq = 2 + NSLOTS * i;
        /* uint16 tensor of 16 elements, 32 bytes, explicit stride 2. */
        tp_shm_slot_header_t h = frame_header(seq, 32);
        h.tensor.dtype = TP_DTYPE_UINT16;
        h.tensor.dims[0] = 16;
        h.tensor.strides[0] = 2;
        TP_ASSERT_OK(tp_shm_slot_write_begin(f.ring, seq));
        TP_ASSERT_OK(tp_shm_slot_write_header(f.ring, seq, &h));
        mutable_slot(&f, seq)[cases[i].offset] = cases[i].value;
        TP_ASSERT_OK(tp_shm_slot_write_commit(f.ring, seq));
        tp_drop_reason_t got = tp_shm_frame_begin(f.cring, pools, 1, seq, &v);
        TP_ASSERT_MSG(cases[i].want == got, "case %zu (offset %zu = 0x%02x): expected %s, got %s", i,
            cases[i].offset, cases[i].value, tp_drop_reason_name(cases[i].want), tp_drop_reason_name(got));
    }
    /* values_len_bytes > stride_bytes (tensor consistent with it). */
    uint64_t seq = 1000 * NSLOTS + 1;
    tp_shm_slot_header_t h = frame_header(seq, STRIDE + 64);
    TP_ASSERT_OK(tp_shm_slot_write_begin(f.ring, seq));
    TP_ASSERT_OK(tp_shm_slot_write_header(f.ring, seq, &h));
    TP_ASSERT_OK(tp_shm_slot_write_commit(f.ring, seq));
    TP_ASSERT_EQ_I64(TP_DROP_VALUES_LEN, tp_shm_frame_begin(f.cring, pools, 1, seq, &v));
    /* No pools at all. */
    TP_ASSERT_OK(publish(&f, seq + NSLOTS, 8));
    TP_ASSERT_EQ_I64(TP_DROP_POOL_UNKNOWN, tp_shm_frame_begin(f.cring, NULL, 0, seq + NSLOTS, &v));
    fixture_close(&f);
}

/* A producer attaching read-write to regions created by another party (the driver). */
static void test_shm_producer_attaches_writable(void)
{
    fixture_t f;
    TP_ASSERT_OK(fixture_open(&f, "attach"));
    char path[1200];
    tp_shm_region_params_t rp = { TP_SHM_REGION_HEADER_RING, TP_SHM_LAYOUT_VERSION, 3, 77, 0, NSLOTS, 0 };
    tp_shm_region_params_t pp = { TP_SHM_REGION_PAYLOAD_POOL, TP_SHM_LAYOUT_VERSION, 3, 77, 1, NSLOTS, STRIDE };
    tp_shm_region_t *wring = NULL;
    tp_shm_region_t *wpool = NULL;
    tp_shm_header_ring_path(path, sizeof(path), f.epoch_dir);
    TP_ASSERT_OK(tp_shm_region_map_writable(&wring, g_allow, path, &rp, false));
    rp.epoch = 4;
    TP_ASSERT_ERR(TP_ERR_VALIDATION, tp_shm_region_map_writable(&wpool, g_allow, path, &rp, false));
    tp_shm_pool_path(path, sizeof(path), f.epoch_dir, 1);
    TP_ASSERT_OK(tp_shm_region_map_writable(&wpool, g_allow, path, &pp, false));
    TP_ASSERT(tp_shm_region_is_writable(wring) && tp_shm_region_is_writable(wpool));
    /* Write through the attached mappings, read through the consumer's. */
    fixture_t g = f;
    g.ring = wring;
    g.pool = wpool;
    TP_ASSERT_OK(publish(&g, 42, 100));
    const tp_shm_region_t *pools[1] = { f.cpool };
    tp_shm_frame_view_t v;
    uint8_t dst[STRIDE];
    TP_ASSERT_EQ_I64(TP_DROP_NONE, tp_shm_frame_read_copy(f.cring, pools, 1, 42, &v, dst, sizeof(dst)));
    TP_ASSERT_EQ_U64(42, dst[0]);
    TP_ASSERT_OK(tp_shm_region_refresh_activity(wring, 777));
    TP_ASSERT_EQ_U64(777, tp_shm_region_activity_ns(f.cring));
    tp_shm_region_close(wring);
    tp_shm_region_close(wpool);
    fixture_close(&f);
}

/* Untrusted SHM: random slot contents (and random mutations of a valid slot) never crash or overrun. */
static void test_shm_frame_random_slots_never_crash(void)
{
    fixture_t f;
    TP_ASSERT_OK(fixture_open(&f, "random"));
    const tp_shm_region_t *pools[1] = { f.cpool };
    tp_shm_frame_view_t v;
    uint64_t state = UINT64_C(0x243F6A8885A308D3);
    uint64_t accepted = 0;
    for (uint64_t n = 0; n < 200000; n++)
    {
        uint64_t seq = n;
        TP_ASSERT_OK(publish(&f, seq, (uint32_t)(n % STRIDE)));
        uint8_t *slot = mutable_slot(&f, seq);
        int flips = (int)(n % 7);
        for (int k = 0; k < (0 == flips ? 64 : flips); k++)
        {
            state = state * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
            /* Keep seq_commit intact (bytes 0..7) so the frame gets past the seqlock. */
            slot[8 + (state >> 33) % 248] = (uint8_t)(state >> 17);
        }
        tp_drop_reason_t r = tp_shm_frame_begin(f.cring, pools, 1, seq, &v);
        TP_ASSERT(r < TP_DROP_REASON_COUNT);
        if (TP_DROP_NONE == r)
        {
            accepted++;
            /* Whatever was accepted is in bounds of the pool mapping. */
            TP_ASSERT(v.header.values_len_bytes <= STRIDE);
            TP_ASSERT(v.extent_bytes <= v.header.values_len_bytes);
            if (v.header.values_len_bytes > 0)
            {
                const uint8_t *end = v.payload + v.header.values_len_bytes;
                TP_ASSERT(v.payload >= tp_shm_region_base(f.cpool) + 64);
                TP_ASSERT(end <= tp_shm_region_base(f.cpool) + tp_shm_region_length(f.cpool));
                volatile uint8_t sink = v.payload[v.header.values_len_bytes - 1];
                (void)sink;
            }
        }
        tp_shm_slot_header_t h;
        TP_ASSERT(tp_shm_slot_read(f.cring, tp_shm_header_index(seq, NSLOTS), &h) < TP_DROP_REASON_COUNT);
    }
    fprintf(stderr, "  %llu of 200000 mutated slots still accepted (mutations in ignored or neutral bytes)\n",
        (unsigned long long)accepted);
    fixture_close(&f);
}

/* SlotHeader.shm.bin (vectors/wire); bytes not listed are zero. */
static void golden_slot_bytes(uint8_t out[256])
{
    static const uint8_t head[] = {
        0xad, 0x68, 0x24, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x38, 0x00, 0x56, 0x00, 0x00, 0x00,
        0x15, 0x14, 0x00, 0x00, 0x00, 0x00, 0x15, 0xcd, 0x55, 0xf5, 0x51, 0x72, 0x86, 0x18, 0x34, 0x33,
        0x32, 0x31, 0x5a,
    };
    static const uint8_t tensor_head[] = {
        0xb8, 0x00, 0x34, 0x00, 0x84, 0x03, 0x01, 0x00, 0x09, 0x00, 0x01, 0x00, 0x03, 0xa1, 0x01, 0x00,
        0x0a, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0xe0, 0x01, 0x00, 0x00, 0x80, 0x02, 0x00, 0x00,
    };
    static const uint8_t strides[12] = { 0x00, 0xc0, 0x12, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00 };
    memset(out, 0, 256);
    memcpy(out, head, sizeof(head));
    out[60] = 0xc0; /* headerBytes length 192 */
    memcpy(out + 64, tensor_head, sizeof(tensor_head));
    memcpy(out + 64 + 51, strides, sizeof(strides));
    out[64 + 83] = 0xa2;
}

static void test_shm_slot_header_golden_vector(void)
{
    uint8_t golden[256];
    golden_slot_bytes(golden);
    {
        char path[1024];
        snprintf(path, sizeof(path), "%s/wire/SlotHeader.shm.bin", g_vectors_dir);
        FILE *fp = fopen(path, "rb");
        TP_ASSERT_MSG(NULL != fp, "golden vector %s is missing (TP_VECTORS_DIR)", path);
        {
            uint8_t file[257];
            size_t n = fread(file, 1, sizeof(file), fp);
            fclose(fp);
            TP_ASSERT_EQ_U64(256, n);
            TP_ASSERT_MSG(0 == memcmp(file, golden, 256), "embedded copy differs from %s", path);
        }
    }
    /* Field values from vectors.json. */
    tp_shm_slot_header_t h;
    memset(&h, 0, sizeof(h));
    h.seq_commit = 2386093;
    h.values_len_bytes = 3686400;
    h.payload_slot = 86;
    h.pool_id = 5141;
    h.payload_offset = 0;
    h.timestamp_ns = UINT64_C(1767225600123456789);
    h.meta_version = 825373492;
    h.tensor.dtype = TP_DTYPE_FLOAT32;
    h.tensor.major_order = TP_MAJOR_ORDER_ROW;
    h.tensor.ndims = 3;
    h.tensor.progress_unit = TP_PROGRESS_UNIT_ROWS;
    h.tensor.progress_stride_bytes = 2560;
    h.tensor.dims[0] = 3;
    h.tensor.dims[1] = 480;
    h.tensor.dims[2] = 640;
    h.tensor.strides[0] = 1228800;
    h.tensor.strides[1] = 2560;
    h.tensor.strides[2] = 4;

    /* We write reserved pads as zero; the vector carries 0x5a / 0xa1 / 0xa2 there. */
    uint8_t want[256];
    memcpy(want, golden, 256);
    want[34] = 0;
    want[64 + 13] = 0;
    want[64 + 83] = 0;

    uint8_t buf[256];
    memset(buf, 0xcc, sizeof(buf));
    TP_ASSERT_OK(tp_shm_slot_header_encode(buf, sizeof(buf), &h));
    TP_ASSERT_MSG(0 == memcmp(buf, want, 256), "encoded slot differs from SlotHeader.shm.bin");

    /* Through the live seqlock path: seq 1193046 in a 128-slot ring -> slot 86. */
    char path[1200];
    snprintf(path, sizeof(path), "%s/golden.ring", g_dir);
    tp_shm_region_params_t rp = { TP_SHM_REGION_HEADER_RING, 1, 1, 1, 0, 128, 0 };
    tp_shm_region_t *ring = NULL;
    TP_ASSERT_OK(tp_shm_region_create(&ring, path, &rp, NULL));
    uint64_t seq = 2386093 >> 1;
    TP_ASSERT_EQ_U64(86, tp_shm_header_index(seq, 128));
    TP_ASSERT_OK(tp_shm_slot_write_begin(ring, seq));
    TP_ASSERT_OK(tp_shm_slot_write_header(ring, seq, &h));
    TP_ASSERT_OK(tp_shm_slot_write_commit(ring, seq));
    TP_ASSERT_MSG(0 == memcmp(tp_shm_region_base(ring) + tp_shm_slot_offset(86), want, 256),
        "slot written through the seqlock differs from SlotHeader.shm.bin");
    tp_shm_region_close(ring);

    /* Decoding the golden bytes (pads set) gives the same values. */
    tp_shm_slot_header_t d;
    memset(&d, 0, sizeof(d));
    TP_ASSERT_EQ_I64(TP_DROP_NONE, tp_shm_slot_header_decode(golden, 256, &d));
    TP_ASSERT(0 == memcmp(&d.tensor, &h.tensor, sizeof(h.tensor)));
    TP_ASSERT_EQ_U64(h.seq_commit, d.seq_commit);
    TP_ASSERT_EQ_U64(h.values_len_bytes, d.values_len_bytes);
    TP_ASSERT_EQ_U64(h.payload_slot, d.payload_slot);
    TP_ASSERT_EQ_U64(h.pool_id, d.pool_id);
    TP_ASSERT_EQ_U64(h.timestamp_ns, d.timestamp_ns);
    TP_ASSERT_EQ_U64(h.meta_version, d.meta_version);
    TP_ASSERT_EQ_I64(TP_DROP_HEADER_LENGTH, tp_shm_slot_header_decode(golden, 255, &d));
}

int main(int argc, char **argv)
{
    g_vectors_dir = argc > 1 ? argv[1] : TP_TEST_VECTORS_DIR;
    if (0 != tp_test_mkdtemp(g_dir, sizeof(g_dir), "seqlock"))
    {
        perror("mkdtemp");
        return 1;
    }
    const char *dirs[1] = { g_dir };
    if (0 != tp_shm_allowlist_init(&g_allow, dirs, 1))
    {
        fprintf(stderr, "allowlist: %s\n", tp_errmsg());
        return 1;
    }
    TP_RUN(test_shm_slot_addressing);
    TP_RUN(test_shm_seqlock_states);
    TP_RUN(test_shm_frame_copy_out);
    TP_RUN(test_shm_writer_full_overwrite);
    TP_RUN(test_shm_slot_publish_matches_write_header);
    TP_RUN(test_shm_writer_rejects_bad_headers);
    TP_RUN(test_shm_frame_rejects_corrupt_slots);
    TP_RUN(test_shm_frame_random_slots_never_crash);
    TP_RUN(test_shm_producer_attaches_writable);
    TP_RUN(test_shm_slot_header_golden_vector);
    tp_shm_allowlist_close(g_allow);
    tp_test_rmtree(g_dir);
    return tp_test_finish();
}
