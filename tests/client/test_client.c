/*
 * In-process client tests (invoker mode unless noted): offer/receive with
 * payload checks and frame views, queued claims committed in order, claim
 * abort, pool selection and no-pool drops, not-connected descriptors, back
 * pressure without side effects, hostile announces rejected with a counted
 * reason, threaded conductor, metadata, ConsumerHello tracking and stale
 * consumers.
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client/tp_client_internal.h"
#include "client/tp_producer_internal.h"
#include "protocol/tp_proto.h"
#include "shm/tp_shm_epoch.h"
#include "tp_client_test_util.h"
#include "tp_sbe/wire.h"
#include "tp_test.h"
#include "tpc_payload.h"
#include "transport/tp_transport.h"


typedef struct
{
    uint64_t frames;
    uint64_t bad;
    uint64_t copies_ok;
    uint64_t last_seq;
    uint64_t seqs[64];
    size_t nseqs;
    uint16_t last_pool;
    uint8_t copy[8192];
} rx_t;

static void on_frame(void *clientd, const tp_frame_t *frame)
{
    rx_t *rx = clientd;
    int ok = tpc_check(frame->payload, frame->length, frame->seq, 1);
    if (!tp_frame_is_valid(frame) || !ok)
    {
        rx->bad++;
    }
    if (frame->length <= sizeof(rx->copy) && 0 == tp_frame_copy(frame, rx->copy, sizeof(rx->copy)) &&
        tpc_check(rx->copy, frame->length, frame->seq, 1))
    {
        rx->copies_ok++;
    }
    if (rx->nseqs < 64)
    {
        rx->seqs[rx->nseqs++] = frame->seq;
    }
    rx->frames++;
    rx->last_seq = frame->seq;
    rx->last_pool = frame->pool_id;
}

typedef struct
{
    tpc_dirs_t dirs;
    tp_client_t *client;
    tp_producer_t *producer;
    tp_consumer_t *consumer;
    rx_t rx;
} fixture_t;

static uint64_t g_freshness_ns = 0;

static int fixture_open(fixture_t *f, const char *tag, bool with_consumer, bool with_producer, const char *desc_channel)
{
    memset(f, 0, sizeof(*f));
    if (tpc_dirs_make(&f->dirs, tag) < 0)
    {
        return -1;
    }
    tp_context_t *ctx = tpc_context(&f->dirs);
    if (NULL == ctx || tp_context_set_freshness_window_ns(ctx, g_freshness_ns) < 0 || (desc_channel && tp_context_set_stream(ctx, TP_STREAM_DESCRIPTOR, desc_channel, 1100) < 0) ||
        tp_client_init(&f->client, ctx) < 0)
    {
        tp_context_close(ctx);
        return -1;
    }
    tp_context_close(ctx);
    if (with_consumer)
    {
        tp_consumer_config_t cc;
        tp_consumer_config_defaults(&cc);
        cc.on_frame = on_frame;
        cc.clientd = &f->rx;
        if (tp_client_add_consumer(&f->consumer, f->client, &cc, 5000000000u) < 0)
        {
            return -1;
        }
    }
    if (with_producer)
    {
        tp_producer_config_t pc;
        tp_producer_config_defaults(&pc);
        pc.header_nslots = 64;
        pc.pool_count = 2;
        pc.pools[0].pool_id = 7;
        pc.pools[0].stride_bytes = 4096;
        pc.pools[1].pool_id = 3;
        pc.pools[1].stride_bytes = 256;
        pc.max_claims = 8;
        if (tp_client_add_producer(&f->producer, f->client, &pc, 5000000000u) < 0)
        {
            return -1;
        }
    }
    if (with_consumer && with_producer)
    {
        TPC_WAIT_UNTIL(f->client, tp_consumer_is_mapped(f->consumer), 3000);
    }
    return 0;
}

static void fixture_close(fixture_t *f)
{
    tp_client_close(f->client);
    tpc_dirs_remove(&f->dirs);
}

static void test_offer_receive(void)
{
    static fixture_t f;
    TP_ASSERT_OK(fixture_open(&f, "offer", true, true, NULL));
    TP_ASSERT(tp_consumer_is_mapped(f.consumer));
    uint8_t buf[4096];
    for (uint64_t i = 0; i < 1000; i++)
    {
        size_t len = (i % 2) ? 200 : 3000;
        uint64_t seq = tp_producer_next_seq(f.producer);
        tpc_fill(buf, len, seq);
        int64_t rc = tp_producer_offer(f.producer, NULL, buf, len, NULL);
        TP_ASSERT_EQ_I64((int64_t)seq, rc);
        tp_client_do_work(f.client);
        if (i == 1)
        {
            TP_ASSERT_EQ_U64(3, f.rx.last_pool); /* 200 bytes: the 256-byte pool, the smallest that fits */
        }
    }
    TPC_WAIT_UNTIL(f.client, f.rx.frames >= 1000, 3000);
    TP_ASSERT_EQ_U64(1000, f.rx.frames);
    TP_ASSERT_EQ_U64(0, f.rx.bad);
    TP_ASSERT_EQ_U64(1000, f.rx.copies_ok);
    TP_ASSERT_EQ_U64(3, f.rx.last_pool);
    tp_consumer_stats_t cs;
    tp_producer_stats_t ps;
    TP_ASSERT_OK(tp_consumer_stats(f.consumer, &cs));
    TP_ASSERT_OK(tp_producer_stats(f.producer, &ps));
    TP_ASSERT_EQ_U64(0, cs.drops_gap);
    TP_ASSERT_EQ_U64(0, cs.drops_late);
    TP_ASSERT_EQ_U64(1000, ps.frames);
    TP_ASSERT_EQ_U64(1000, ps.descriptors_published);
    TP_ASSERT_EQ_U64(1, cs.remaps);
    TP_ASSERT(ps.announces >= 1);
    /* no pool fits: dropped and counted, no sequence number used */
    uint64_t next = tp_producer_next_seq(f.producer);
    TP_ASSERT_EQ_I64(TP_PRODUCER_NO_POOL, tp_producer_offer(f.producer, NULL, buf, 5000, NULL));
    TP_ASSERT_EQ_U64(next, tp_producer_next_seq(f.producer));
    TP_ASSERT_OK(tp_producer_stats(f.producer, &ps));
    TP_ASSERT_EQ_U64(1, ps.no_pool_drops);
    /* an invalid tensor header is an error without side effects */
    tp_tensor_header_t th = { 0 };
    th.dtype = TP_DTYPE_FLOAT32;
    th.major_order = TP_MAJOR_ORDER_ROW;
    th.ndims = 2;
    th.dims[0] = 100;
    th.dims[1] = 100; /* 40000 bytes > 4096 */
    TP_ASSERT_EQ_I64(TP_PRODUCER_ERROR, tp_producer_offer(f.producer, &th, buf, 4096, NULL));
    TP_ASSERT_EQ_U64(next, tp_producer_next_seq(f.producer));
    fixture_close(&f);
}

static void test_claims_in_order(void)
{
    static fixture_t f;
    TP_ASSERT_OK(fixture_open(&f, "claims", true, true, NULL));
    tp_frame_claim_t c0, c1, c2, c3;
    TP_ASSERT_EQ_I64(0, tp_producer_try_claim(f.producer, 100, &c0));
    TP_ASSERT_EQ_I64(1, tp_producer_try_claim(f.producer, 100, &c1));
    TP_ASSERT_EQ_I64(2, tp_producer_try_claim(f.producer, 1000, &c2));
    TP_ASSERT_EQ_U64(3, c0.pool_id);
    TP_ASSERT_EQ_U64(7, c2.pool_id);
    tpc_fill(c0.data, 100, 0);
    tpc_fill(c1.data, 100, 1);
    tpc_fill(c2.data, 1000, 2);
    /* committing out of order: published in sequence order */
    TP_ASSERT_EQ_I64(TP_PRODUCER_QUEUED, tp_frame_claim_commit(&c2, NULL, 1000, NULL));
    TP_ASSERT_EQ_I64(-1, tp_frame_claim_commit(&c2, NULL, 1000, NULL)); /* already committed */
    TP_ASSERT_EQ_I64(0, tp_frame_claim_commit(&c0, NULL, 100, NULL));
    TPC_WAIT_UNTIL(f.client, f.rx.frames >= 1, 1000);
    TP_ASSERT_EQ_U64(1, f.rx.frames);
    /* aborting a claim that is not the newest leaves a gap; the queued one behind it goes out */
    TP_ASSERT_OK(tp_frame_claim_abort(&c1));
    TPC_WAIT_UNTIL(f.client, f.rx.frames >= 2, 1000);
    TP_ASSERT_EQ_U64(2, f.rx.frames);
    TP_ASSERT_EQ_U64(0, f.rx.seqs[0]);
    TP_ASSERT_EQ_U64(2, f.rx.seqs[1]);
    /* aborting the newest claim gives its sequence number back */
    TP_ASSERT_EQ_I64(3, tp_producer_try_claim(f.producer, 10, &c3));
    TP_ASSERT_OK(tp_frame_claim_abort(&c3));
    TP_ASSERT_EQ_I64(3, tp_producer_try_claim(f.producer, 64, &c3));
    tpc_fill(c3.data, 64, 3);
    /* an offer while a claim is open queues behind it */
    uint8_t buf[64];
    tpc_fill(buf, 64, 4);
    TP_ASSERT_EQ_I64(TP_PRODUCER_QUEUED, tp_producer_offer(f.producer, NULL, buf, 64, NULL));
    TP_ASSERT_EQ_I64(3, tp_frame_claim_commit(&c3, NULL, 64, NULL));
    TPC_WAIT_UNTIL(f.client, f.rx.frames >= 4, 1000);
    TP_ASSERT_EQ_U64(4, f.rx.frames);
    TP_ASSERT_EQ_U64(3, f.rx.seqs[2]);
    TP_ASSERT_EQ_U64(4, f.rx.seqs[3]);
    TP_ASSERT_EQ_U64(0, f.rx.bad);
    tp_consumer_stats_t cs;
    TP_ASSERT_OK(tp_consumer_stats(f.consumer, &cs));
    TP_ASSERT_EQ_U64(1, cs.drops_gap);
    /* claims full */
    tp_frame_claim_t many[8];
    for (int i = 0; i < 8; i++)
    {
        TP_ASSERT(tp_producer_try_claim(f.producer, 10, &many[i]) >= 0);
    }
    TP_ASSERT_EQ_I64(TP_PRODUCER_CLAIMS_FULL, tp_producer_try_claim(f.producer, 10, &c0));
    for (int i = 0; i < 8; i++)
    {
        TP_ASSERT(tp_frame_claim_commit(&many[i], NULL, 10, NULL) >= 0 || i < 7);
    }
    fixture_close(&f);
}

static void test_set_next_seq(void)
{
    static fixture_t f;
    TP_ASSERT_OK(fixture_open(&f, "setseq", true, true, NULL));
    uint8_t buf[256];
    tpc_fill(buf, 100, 0);
    TP_ASSERT_EQ_I64(0, tp_producer_offer(f.producer, NULL, buf, 100, NULL));
    /* a republishing stage keeps the source's sequence numbers: gaps are allowed, going back is not */
    TP_ASSERT_OK(tp_producer_set_next_seq(f.producer, 10));
    TP_ASSERT_EQ_U64(10, tp_producer_next_seq(f.producer));
    tpc_fill(buf, 100, 10);
    TP_ASSERT_EQ_I64(10, tp_producer_offer(f.producer, NULL, buf, 100, NULL));
    TP_ASSERT_EQ_I64(-1, tp_producer_set_next_seq(f.producer, 5));
    TP_ASSERT_EQ_U64(TP_ERR_INVALID_ARGUMENT, (uint64_t)tp_errcode());
    TP_ASSERT_EQ_U64(11, tp_producer_next_seq(f.producer));
    TP_ASSERT_OK(tp_producer_set_next_seq(f.producer, 11)); /* the next one itself: no-op */
    /* not while a claim is open */
    tp_frame_claim_t c;
    TP_ASSERT_EQ_I64(11, tp_producer_try_claim(f.producer, 64, &c));
    TP_ASSERT_EQ_I64(-1, tp_producer_set_next_seq(f.producer, 20));
    TP_ASSERT_EQ_U64(TP_ERR_STATE, (uint64_t)tp_errcode());
    TP_ASSERT_OK(tp_frame_claim_abort(&c));
    TP_ASSERT_OK(tp_producer_set_next_seq(f.producer, 1000));
    tpc_fill(buf, 200, 1000);
    TP_ASSERT_EQ_I64(1000, tp_producer_offer(f.producer, NULL, buf, 200, NULL));
    TPC_WAIT_UNTIL(f.client, f.rx.frames >= 3, 2000);
    TP_ASSERT_EQ_U64(3, f.rx.frames);
    TP_ASSERT_EQ_U64(0, f.rx.seqs[0]);
    TP_ASSERT_EQ_U64(10, f.rx.seqs[1]);
    TP_ASSERT_EQ_U64(1000, f.rx.seqs[2]);
    TP_ASSERT_EQ_U64(3, f.rx.copies_ok); /* payloads checked against their sequence numbers */
    TP_ASSERT_EQ_U64(0, f.rx.bad);
    TP_ASSERT_EQ_I64(-1, tp_producer_set_next_seq(NULL, 0));
    fixture_close(&f);
}

static void test_not_connected(void)
{
    static fixture_t f;
    TP_ASSERT_OK(fixture_open(&f, "nc", false, true, NULL));
    uint8_t buf[64] = { 0 };
    TP_ASSERT_EQ_I64(0, tp_producer_offer(f.producer, NULL, buf, sizeof(buf), NULL));
    TP_ASSERT_EQ_I64(1, tp_producer_offer(f.producer, NULL, buf, sizeof(buf), NULL));
    tp_producer_stats_t ps;
    TP_ASSERT_OK(tp_producer_stats(f.producer, &ps));
    TP_ASSERT_EQ_U64(2, ps.frames);
    TP_ASSERT_EQ_U64(2, ps.descriptors_not_connected);
    TP_ASSERT_EQ_U64(0, ps.descriptors_published);
    /* the slot is committed in SHM all the same */
    tp_shm_region_t *ring = f.producer ? NULL : NULL;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/header.ring", tp_producer_epoch_dir(f.producer));
    TP_ASSERT_OK(tp_shm_region_map_inspect(&ring, path));
    uint64_t token = 0;
    TP_ASSERT_EQ_U64(TP_DROP_NONE, tp_shm_seqlock_read_begin(ring, 1, &token));
    tp_shm_region_close(ring);
    fixture_close(&f);
}

static void ignore_message(void *clientd, const uint8_t *buffer, size_t length, const tp_header_t *header)
{
    (void)clientd;
    (void)buffer;
    (void)length;
    (void)header;
}

static void test_back_pressure(void)
{
    static fixture_t f;
    TP_ASSERT_OK(fixture_open(&f, "bp", false, true, "aeron:ipc?term-length=65536"));
    /* a tethered subscriber that never polls: the descriptor log fills up */
    tp_transport_context_t tctx;
    tp_transport_context_init(&tctx);
    tp_transport_context_set_dir(&tctx, f.dirs.transport);
    tp_transport_t *t = NULL;
    tp_subscription_t *sub = NULL;
    TP_ASSERT_OK(tp_transport_init(&t, &tctx));
    TP_ASSERT_OK(tp_transport_add_subscription(&sub, t, "aeron:ipc?term-length=65536|untethered-window-limit-timeout=60s",
        1100, NULL, NULL, NULL, NULL, 0));
    uint8_t buf[64] = { 0 };
    int64_t rc = 0;
    uint64_t published = 0;
    for (int i = 0; i < 100000; i++)
    {
        rc = tp_producer_offer(f.producer, NULL, buf, sizeof(buf), NULL);
        if (rc < 0)
        {
            break;
        }
        published++;
        if (0 == (i & 255))
        {
            tp_client_do_work(f.client);
        }
    }
    TP_ASSERT_EQ_I64(TP_PRODUCER_BACK_PRESSURED, rc);
    tp_producer_stats_t ps;
    TP_ASSERT_OK(tp_producer_stats(f.producer, &ps));
    TP_ASSERT_EQ_U64(published, ps.frames);
    TP_ASSERT_EQ_U64(published, tp_producer_next_seq(f.producer)); /* no sequence number burnt */
    /* the claim path: commit under back pressure keeps the slot uncommitted and queued */
    tp_frame_claim_t c;
    TP_ASSERT_EQ_I64((int64_t)published, tp_producer_try_claim(f.producer, 64, &c));
    TP_ASSERT_EQ_I64(TP_PRODUCER_BACK_PRESSURED, tp_frame_claim_commit(&c, NULL, 64, NULL));
    TP_ASSERT_OK(tp_producer_stats(f.producer, &ps));
    TP_ASSERT_EQ_U64(published, ps.frames);
    TP_ASSERT_EQ_I64(TP_PRODUCER_BACK_PRESSURED, tp_producer_offer(f.producer, NULL, buf, sizeof(buf), NULL));
    /* drain: the queued frame is committed and announced first (flow control may update asynchronously) */
    int flushed = 0;
    uint64_t deadline = tp_clock_mono_ns() + 5000000000u;
    while (0 == flushed && tp_clock_mono_ns() < deadline)
    {
        while (tp_subscription_poll(sub, ignore_message, NULL, 1000) > 0)
        {
        }
        tp_transport_do_work(t);
        tp_client_do_work(f.client);
        flushed = tp_producer_flush(f.producer);
    }
    TP_ASSERT_EQ_I64(1, flushed);
    TP_ASSERT_EQ_I64((int64_t)published + 1, tp_producer_offer(f.producer, NULL, buf, sizeof(buf), NULL));
    TP_ASSERT_OK(tp_producer_stats(f.producer, &ps));
    TP_ASSERT_EQ_U64(published + 2, ps.frames);
    TP_ASSERT_EQ_U64(published + 2, ps.descriptors_published);
    tp_subscription_close(sub);
    tp_transport_close(t);
    fixture_close(&f);
}

/* ------------------------------------------------------------------------- */
/* Hostile announces                                                          */
/* ------------------------------------------------------------------------- */

typedef struct
{
    uint16_t id;
    uint32_t nslots;
    uint32_t stride;
    const char *uri;
} pool_spec_t;

static size_t encode_announce(uint8_t *buf, size_t cap, uint64_t epoch, uint64_t ts, uint32_t nslots, uint16_t slot_bytes,
    const char *header_uri, const pool_spec_t *pools, size_t pool_count, uint8_t domain)
{
    tp_sbe_wire_shm_pool_announce_t m = { 0 };
    tp_sbe_wire_shm_pool_announce_payload_pools_t g = { 0 };
    tp_sbe_wire_shm_pool_announce_wrap_and_apply_header(&m, buf, 0, cap);
    tp_sbe_wire_shm_pool_announce_set_stream_id(&m, 10000);
    tp_sbe_wire_shm_pool_announce_set_producer_id(&m, 99);
    tp_sbe_wire_shm_pool_announce_set_epoch(&m, epoch);
    tp_sbe_wire_shm_pool_announce_set_announce_timestamp_ns(&m, ts);
    tp_sbe_wire_shm_pool_announce_set_announce_clock_domain(&m, (tp_sbe_wire_clock_domain_t)domain);
    tp_sbe_wire_shm_pool_announce_set_layout_version(&m, 1);
    tp_sbe_wire_shm_pool_announce_set_header_nslots(&m, nslots);
    tp_sbe_wire_shm_pool_announce_set_header_slot_bytes(&m, slot_bytes);
    tp_sbe_wire_shm_pool_announce_set_payload_pools_count(&m, &g, (uint16_t)pool_count);
    for (size_t i = 0; i < pool_count; i++)
    {
        tp_sbe_wire_shm_pool_announce_payload_pools_next(&g);
        tp_sbe_wire_shm_pool_announce_payload_pools_set_pool_id(&g, pools[i].id);
        tp_sbe_wire_shm_pool_announce_payload_pools_set_pool_nslots(&g, pools[i].nslots);
        tp_sbe_wire_shm_pool_announce_payload_pools_set_stride_bytes(&g, pools[i].stride);
        tp_sbe_wire_shm_pool_announce_payload_pools_put_region_uri(&g, pools[i].uri, (uint32_t)strlen(pools[i].uri));
    }
    tp_sbe_wire_shm_pool_announce_put_header_region_uri(&m, header_uri, (uint32_t)strlen(header_uri));
    return TP_SBE_MESSAGE_HEADER_LENGTH + tp_sbe_wire_shm_pool_announce_encoded_length(&m);
}

/* Create a real ring + pool pair for `epoch` in `base` and return their URIs. */
static int make_regions(const char *base, uint64_t epoch, char *ring_uri, char *pool_uri, char *ring_path)
{
    char dir[PATH_MAX], file[PATH_MAX];
    tp_shm_region_t *r = NULL, *p = NULL;
    tp_shm_region_params_t params = { TP_SHM_REGION_HEADER_RING, 1, epoch, 10000, 0, 16, 0 };
    if (tp_shm_epoch_dir_create(dir, sizeof(dir), base, "default", 10000, epoch, false) < 0 ||
        tp_shm_header_ring_path(file, sizeof(file), dir) < 0 || tp_shm_region_create(&r, file, &params, NULL) < 0)
    {
        return -1;
    }
    snprintf(ring_path, PATH_MAX, "%s", file);
    tp_shm_uri_format(file, false, ring_uri, TP_REGION_URI_MAX);
    params.region_type = TP_SHM_REGION_PAYLOAD_POOL;
    params.pool_id = 1;
    params.stride_bytes = 256;
    if (tp_shm_pool_path(file, sizeof(file), dir, 1) < 0 || tp_shm_region_create(&p, file, &params, NULL) < 0)
    {
        return -1;
    }
    tp_shm_uri_format(file, false, pool_uri, TP_REGION_URI_MAX);
    tp_shm_region_close(r);
    tp_shm_region_close(p);
    return 0;
}

static void test_hostile_announces(void)
{
    static fixture_t f;
    /* Taken before the consumer (and its subscriptions) exist: precedes any image join time on either backend. */
    uint64_t before_join = tp_clock_mono_ns() - 1000000u;
    g_freshness_ns = 5000000000u;
    TP_ASSERT_OK(fixture_open(&f, "hostile", true, false, NULL));
    g_freshness_ns = 0;
    tp_transport_context_t tctx;
    tp_transport_context_init(&tctx);
    tp_transport_context_set_dir(&tctx, f.dirs.transport);
    tp_transport_t *t = NULL;
    tp_publication_t *pub = NULL;
    TP_ASSERT_OK(tp_transport_init(&t, &tctx));
    TP_ASSERT_OK(tp_transport_add_publication(&pub, t, "aeron:ipc", 1000, 0));
    TPC_WAIT_UNTIL(f.client, tp_publication_is_connected(pub) || (tp_transport_do_work(t) < 0), 2000);

    static char ring_uri[TP_REGION_URI_MAX], pool_uri[TP_REGION_URI_MAX], ring_path[PATH_MAX];
    static char bad_ring_uri[TP_REGION_URI_MAX], bad_pool_uri[TP_REGION_URI_MAX], bad_ring_path[PATH_MAX];
    static char out_ring_uri[TP_REGION_URI_MAX], out_pool_uri[TP_REGION_URI_MAX], out_ring_path[PATH_MAX];
    TP_ASSERT_OK(make_regions(f.dirs.shm, 5, ring_uri, pool_uri, ring_path));
    TP_ASSERT_OK(make_regions(f.dirs.shm, 6, bad_ring_uri, bad_pool_uri, bad_ring_path));
    /* wrong magic in epoch 6's ring */
    int fd = open(bad_ring_path, O_WRONLY);
    TP_ASSERT(fd >= 0);
    TP_ASSERT_EQ_I64(8, pwrite(fd, "BADMAGIC", 8, 0));
    close(fd);
    /* regions outside the allowed base dir */
    char outside[PATH_MAX];
    snprintf(outside, sizeof(outside), "%s/outside", f.dirs.root);
    mkdir(outside, 0700);
    TP_ASSERT_OK(make_regions(outside, 7, out_ring_uri, out_pool_uri, out_ring_path));

    uint64_t now = tp_clock_mono_ns();
    static uint8_t buf[65536];
    pool_spec_t good = { 1, 16, 256, pool_uri };
    pool_spec_t stride63 = { 1, 16, 100, pool_uri };
    pool_spec_t mismatched = { 1, 32, 256, pool_uri };
    pool_spec_t badpool = { 1, 16, 256, bad_pool_uri };
    pool_spec_t outpool = { 1, 16, 256, out_pool_uri };
    pool_spec_t missing = { 1, 16, 256, "shm:file?path=/nonexistent/tp/1.pool" };
    struct
    {
        size_t len;
        tp_announce_reject_t expect;
    } cases[24];
    size_t n = 0;
    uint64_t fresh = now + 100000000u; /* after the join time, within the freshness window */
    cases[n].len = encode_announce(buf, sizeof(buf), 7, fresh, 16, 256, out_ring_uri, &outpool, 1, 1);
    cases[n++].expect = TP_ANNOUNCE_REJECT_PATH;
    cases[n].len = encode_announce(buf, sizeof(buf), 6, fresh, 16, 256, bad_ring_uri, &badpool, 1, 1);
    cases[n++].expect = TP_ANNOUNCE_REJECT_SUPERBLOCK;
    cases[n].len = encode_announce(buf, sizeof(buf), 5, fresh, 16, 256, ring_uri, &stride63, 1, 1);
    cases[n++].expect = TP_ANNOUNCE_REJECT_STRIDE;
    cases[n].len = encode_announce(buf, sizeof(buf), 5, fresh, 16, 256, ring_uri, &mismatched, 1, 1);
    cases[n++].expect = TP_ANNOUNCE_REJECT_NSLOTS;
    cases[n].len = encode_announce(buf, sizeof(buf), 5, fresh, 16, 256, ring_uri, &good, 0, 1);
    cases[n++].expect = TP_ANNOUNCE_REJECT_NO_POOLS;
    cases[n].len = encode_announce(buf, sizeof(buf), 5, fresh, 16, 256, ring_uri, &missing, 1, 1);
    cases[n++].expect = TP_ANNOUNCE_REJECT_PATH;
    cases[n].len = encode_announce(buf, sizeof(buf), 5, fresh, 16, 128, ring_uri, &good, 1, 1);
    cases[n++].expect = TP_ANNOUNCE_REJECT_SLOT_BYTES;
    cases[n].len = encode_announce(buf, sizeof(buf), 5, fresh, 12, 256, ring_uri, &good, 1, 1);
    cases[n++].expect = TP_ANNOUNCE_REJECT_NSLOTS;
    cases[n].len = encode_announce(buf, sizeof(buf), 5, fresh, 16, 256, "file:///etc/passwd", &good, 1, 1);
    cases[n++].expect = TP_ANNOUNCE_REJECT_URI;
    cases[n].len = encode_announce(buf, sizeof(buf), 5, fresh - 10 * UINT64_C(1000000000), 16, 256, ring_uri, &good, 1, 1);
    cases[n++].expect = TP_ANNOUNCE_REJECT_STALE;
    cases[n].len = encode_announce(buf, sizeof(buf), 5, fresh, 16, 256, ring_uri, &good, 1, 9);
    cases[n++].expect = TP_ANNOUNCE_REJECT_CLOCK_DOMAIN;
    /* drop reasons of the decode layer mapped onto the consumer's (cases 11..15) */
    pool_spec_t empty_uri = { 1, 16, 256, "" };
    static pool_spec_t many[TP_PROTO_MAX_POOLS + 1];
    for (size_t i = 0; i <= TP_PROTO_MAX_POOLS; i++)
    {
        many[i] = good;
        many[i].id = (uint16_t)(i + 1);
    }
    pool_spec_t twins[2] = { good, good };
    cases[n].len = 0;
    cases[n++].expect = TP_ANNOUNCE_REJECT_URI;          /* 11: empty header region URI */
    cases[n].len = 0;
    cases[n++].expect = TP_ANNOUNCE_REJECT_URI;          /* 12: empty pool region URI */
    cases[n].len = 0;
    cases[n++].expect = TP_ANNOUNCE_REJECT_NO_POOLS;     /* 13: more pools than the limit */
    cases[n].len = 0;
    cases[n++].expect = TP_ANNOUNCE_REJECT_CLOCK_DOMAIN; /* 14: clock domain at its null value */
    cases[n].len = 0;
    cases[n++].expect = TP_ANNOUNCE_REJECT_NO_POOLS;     /* 15: duplicate pool id */
    cases[n].len = 0;
    cases[n++].expect = TP_ANNOUNCE_REJECT_BEFORE_JOIN;
    for (size_t i = 0; i < n; i++)
    {
        /* re-encode each case right before sending (buf is shared) */
        size_t len = 0;
        switch (i)
        {
            case 0: len = encode_announce(buf, sizeof(buf), 7, fresh, 16, 256, out_ring_uri, &outpool, 1, 1); break;
            case 1: len = encode_announce(buf, sizeof(buf), 6, fresh, 16, 256, bad_ring_uri, &badpool, 1, 1); break;
            case 2: len = encode_announce(buf, sizeof(buf), 5, fresh, 16, 256, ring_uri, &stride63, 1, 1); break;
            case 3: len = encode_announce(buf, sizeof(buf), 5, fresh, 16, 256, ring_uri, &mismatched, 1, 1); break;
            case 4: len = encode_announce(buf, sizeof(buf), 5, fresh, 16, 256, ring_uri, &good, 0, 1); break;
            case 5: len = encode_announce(buf, sizeof(buf), 5, fresh, 16, 256, ring_uri, &missing, 1, 1); break;
            case 6: len = encode_announce(buf, sizeof(buf), 5, fresh, 16, 128, ring_uri, &good, 1, 1); break;
            case 7: len = encode_announce(buf, sizeof(buf), 5, fresh, 12, 256, ring_uri, &good, 1, 1); break;
            case 8: len = encode_announce(buf, sizeof(buf), 5, fresh, 16, 256, "file:///etc/passwd", &good, 1, 1); break;
            case 9:
                len = encode_announce(buf, sizeof(buf), 5, fresh - 10 * UINT64_C(1000000000), 16, 256, ring_uri, &good, 1, 1);
                break;
            case 10: len = encode_announce(buf, sizeof(buf), 5, fresh, 16, 256, ring_uri, &good, 1, 9); break;
            case 11: len = encode_announce(buf, sizeof(buf), 5, fresh, 16, 256, "", &good, 1, 1); break;
            case 12: len = encode_announce(buf, sizeof(buf), 5, fresh, 16, 256, ring_uri, &empty_uri, 1, 1); break;
            case 13:
                len = encode_announce(buf, sizeof(buf), 5, fresh, 16, 256, ring_uri, many, TP_PROTO_MAX_POOLS + 1, 1);
                break;
            case 14: len = encode_announce(buf, sizeof(buf), 5, fresh, 16, 256, ring_uri, &good, 1, 255); break;
            case 15: len = encode_announce(buf, sizeof(buf), 5, fresh, 16, 256, ring_uri, twins, 2, 1); break;
            default: len = encode_announce(buf, sizeof(buf), 5, before_join, 16, 256, ring_uri, &good, 1, 1); break;
        }
        tp_consumer_stats_t before, after;
        tp_consumer_stats(f.consumer, &before);
        TP_ASSERT(tp_publication_offer(pub, buf, len, NULL, NULL) > 0);
        TPC_WAIT_UNTIL(f.client,
            (tp_consumer_stats(f.consumer, &after), after.announces_rejected[cases[i].expect] >
                                                        before.announces_rejected[cases[i].expect]),
            2000);
        TP_ASSERT_MSG(after.announces_rejected[cases[i].expect] == before.announces_rejected[cases[i].expect] + 1,
            "case %zu: expected %s", i, tp_announce_reject_name(cases[i].expect));
        TP_ASSERT(!tp_consumer_is_mapped(f.consumer));
    }
    /* truncated message */
    size_t len = encode_announce(buf, sizeof(buf), 5, fresh, 16, 256, ring_uri, &good, 1, 1);
    TP_ASSERT(tp_publication_offer(pub, buf, len - 5, NULL, NULL) > 0);
    tp_consumer_stats_t st;
    TPC_WAIT_UNTIL(f.client, (tp_consumer_stats(f.consumer, &st), st.announces_rejected[TP_ANNOUNCE_REJECT_DECODE] > 0),
        2000);
    TP_ASSERT_EQ_U64(1, st.announces_rejected[TP_ANNOUNCE_REJECT_DECODE]);
    /* and a good one maps */
    len = encode_announce(buf, sizeof(buf), 5, tp_clock_mono_ns(), 16, 256, ring_uri, &good, 1, 1);
    TP_ASSERT(tp_publication_offer(pub, buf, len, NULL, NULL) > 0);
    TPC_WAIT_UNTIL(f.client, tp_consumer_is_mapped(f.consumer), 2000);
    TP_ASSERT(tp_consumer_is_mapped(f.consumer));
    /* a lower epoch while the mapped one is fresh loses (highest epoch wins) */
    len = encode_announce(buf, sizeof(buf), 4, tp_clock_mono_ns(), 16, 256, ring_uri, &good, 1, 1);
    TP_ASSERT(tp_publication_offer(pub, buf, len, NULL, NULL) > 0);
    TPC_WAIT_UNTIL(f.client, (tp_consumer_stats(f.consumer, &st), st.announces_rejected[TP_ANNOUNCE_REJECT_OLD_EPOCH] > 0),
        2000);
    TP_ASSERT_EQ_U64(1, st.announces_rejected[TP_ANNOUNCE_REJECT_OLD_EPOCH]);
    TP_ASSERT_EQ_U64(5, st.epoch);
    /* REALTIME_SYNCED: freshness against CLOCK_REALTIME, no join-time rule */
    uint64_t accepted = st.announces_accepted;
    len = encode_announce(buf, sizeof(buf), 5, tp_clock_realtime_ns(), 16, 256, ring_uri, &good, 1, 2);
    TP_ASSERT(tp_publication_offer(pub, buf, len, NULL, NULL) > 0);
    TPC_WAIT_UNTIL(f.client, (tp_consumer_stats(f.consumer, &st), st.announces_accepted > accepted), 2000);
    TP_ASSERT_EQ_U64(accepted + 1, st.announces_accepted);
    uint64_t stale = st.announces_rejected[TP_ANNOUNCE_REJECT_STALE];
    len = encode_announce(buf, sizeof(buf), 5, tp_clock_mono_ns(), 16, 256, ring_uri, &good, 1, 2); /* wrong clock */
    TP_ASSERT(tp_publication_offer(pub, buf, len, NULL, NULL) > 0);
    TPC_WAIT_UNTIL(f.client, (tp_consumer_stats(f.consumer, &st), st.announces_rejected[TP_ANNOUNCE_REJECT_STALE] > stale),
        2000);
    TP_ASSERT_EQ_U64(stale + 1, st.announces_rejected[TP_ANNOUNCE_REJECT_STALE]);
    tp_publication_close(pub);
    tp_transport_close(t);
    fixture_close(&f);
}

/* ------------------------------------------------------------------------- */
/* Threaded conductor, metadata, hello tracking                               */
/* ------------------------------------------------------------------------- */

static void test_threaded_conductor(void)
{
    tpc_dirs_t d;
    TP_ASSERT_OK(tpc_dirs_make(&d, "thread"));
    tp_context_t *ctx = tpc_context(&d);
    TP_ASSERT(NULL != ctx);
    TP_ASSERT_OK(tp_context_set_use_conductor_thread(ctx, true));
    TP_ASSERT_OK(tp_context_set_idle_strategy(ctx, "sleep"));
    tp_client_t *client = NULL;
    TP_ASSERT_OK(tp_client_init(&client, ctx));
    tp_context_close(ctx);
    TP_ASSERT_OK(tp_client_start(client));
    TP_ASSERT(tp_client_is_threaded(client));
    TP_ASSERT_ERR(TP_ERR_STATE, tp_client_do_work(client));
    static rx_t rx;
    tp_consumer_config_t cc;
    tp_consumer_config_defaults(&cc);
    cc.on_frame = on_frame;
    cc.clientd = &rx;
    tp_consumer_t *consumer = NULL;
    tp_producer_t *producer = NULL;
    /* async add + poll while the conductor thread runs */
    tp_async_add_consumer_t *async = NULL;
    TP_ASSERT_OK(tp_client_async_add_consumer(&async, client, &cc));
    int rc = 0;
    uint64_t deadline = tp_clock_mono_ns() + 5000000000u;
    while (0 == (rc = tp_client_async_add_consumer_poll(&consumer, async)) && tp_clock_mono_ns() < deadline)
    {
        tp_sleep_ns(1000000);
    }
    TP_ASSERT_EQ_I64(1, rc);
    tp_producer_config_t pc;
    tp_producer_config_defaults(&pc);
    TP_ASSERT_OK(tp_client_add_producer(&producer, client, &pc, 5000000000u));
    deadline = tp_clock_mono_ns() + 5000000000u;
    while (!tp_consumer_is_mapped(consumer) && tp_clock_mono_ns() < deadline)
    {
        tp_sleep_ns(1000000);
    }
    TP_ASSERT(tp_consumer_is_mapped(consumer));
    const char *keys[] = { "camera_serial" };
    const char *formats[] = { "text/plain" };
    const uint8_t *values[] = { (const uint8_t *)"SN-42" };
    uint32_t lengths[] = { 5 };
    TP_ASSERT_EQ_I64(1, tp_producer_set_metadata(producer, 1, keys, formats, values, lengths));
    uint8_t buf[256];
    for (uint64_t i = 0; i < 200; i++)
    {
        tpc_fill(buf, sizeof(buf), tp_producer_next_seq(producer));
        TP_ASSERT(tp_producer_offer(producer, NULL, buf, sizeof(buf), NULL) >= 0);
        tp_sleep_ns(100000);
    }
    tp_consumer_stats_t cs;
    tp_producer_stats_t ps;
    deadline = tp_clock_mono_ns() + 5000000000u;
    do
    {
        tp_sleep_ns(1000000);
        tp_consumer_stats(consumer, &cs);
        tp_producer_stats(producer, &ps);
    } while ((cs.frames < 200 || cs.metadata_updates < 1 || ps.consumers < 1) && tp_clock_mono_ns() < deadline);
    TP_ASSERT_EQ_U64(200, cs.frames);
    TP_ASSERT_EQ_U64(0, rx.bad);
    TP_ASSERT(cs.metadata_updates >= 1);
    TP_ASSERT(ps.hellos_received >= 1);
    TP_ASSERT_EQ_U64(1, ps.consumers);
    TP_ASSERT(cs.qos_sent >= 1 && ps.qos_sent >= 1);
    TP_ASSERT_OK(tp_client_close(client)); /* stops the thread, closes producer and consumer */
    /* metadata cache content is readable after the conductor stopped: checked in test_metadata_and_stale */
    tpc_dirs_remove(&d);
}

static void test_metadata_and_stale(void)
{
    static fixture_t f;
    TP_ASSERT_OK(fixture_open(&f, "meta", true, true, NULL));
    const char *keys[] = { "camera_serial", "intrinsics" };
    const char *formats[] = { "text/plain", "application/json" };
    const uint8_t *values[] = { (const uint8_t *)"SN-42", (const uint8_t *)"{\"fx\":1}" };
    uint32_t lengths[] = { 5, 8 };
    TP_ASSERT_EQ_I64(1, tp_producer_set_metadata(f.producer, 2, keys, formats, values, lengths));
    char out[64];
    uint32_t version = 0;
    TPC_WAIT_UNTIL(f.client, tp_consumer_metadata(f.consumer, "intrinsics", out, sizeof(out), &version) > 0, 2000);
    TP_ASSERT_EQ_I64(8, tp_consumer_metadata(f.consumer, "intrinsics", out, sizeof(out), &version));
    TP_ASSERT_EQ_U64(1, version);
    TP_ASSERT(0 == memcmp(out, "{\"fx\":1}", 8));
    /* frames carry the meta_version */
    uint8_t buf[64];
    tpc_fill(buf, 64, tp_producer_next_seq(f.producer));
    TP_ASSERT(tp_producer_offer(f.producer, NULL, buf, 64, NULL) >= 0);
    tp_producer_stats_t ps;
    TPC_WAIT_UNTIL(f.client, (tp_producer_stats(f.producer, &ps), ps.consumers >= 1), 2000);
    TP_ASSERT_EQ_U64(1, ps.consumers);
    /* the consumer goes away: stale after 4 x 50 ms */
    TP_ASSERT_OK(tp_consumer_close(f.consumer));
    TPC_WAIT_UNTIL(f.client, (tp_producer_stats(f.producer, &ps), ps.consumers == 0), 3000);
    TP_ASSERT_EQ_U64(0, ps.consumers);
    TP_ASSERT_EQ_U64(1, ps.consumers_stale);
    fixture_close(&f);
}

static uint64_t progress_calls;

static void on_progress(void *clientd, uint64_t epoch, uint64_t seq, uint64_t bytes, tp_progress_state_t state)
{
    (void)clientd;
    (void)epoch;
    (void)seq;
    (void)bytes;
    (void)state;
    progress_calls++;
}

static void test_progress_and_rate_limited(void)
{
    tpc_dirs_t d;
    TP_ASSERT_OK(tpc_dirs_make(&d, "progress"));
    tp_context_t *ctx = tpc_context(&d);
    tp_client_t *client = NULL;
    TP_ASSERT_OK(tp_client_init(&client, ctx));
    tp_context_close(ctx);
    static rx_t rx_progress, rx_rate;
    tp_consumer_config_t cc;
    tp_consumer_config_defaults(&cc);
    cc.on_frame = on_frame;
    cc.clientd = &rx_progress;
    cc.supports_progress = true;
    cc.on_progress = on_progress;
    tp_consumer_t *c1 = NULL, *c2 = NULL;
    TP_ASSERT_OK(tp_client_add_consumer(&c1, client, &cc, 5000000000u));
    cc.supports_progress = false;
    cc.on_progress = NULL;
    cc.clientd = &rx_rate;
    cc.mode = TP_CONSUMER_MODE_RATE_LIMITED;
    cc.max_rate_hz = 100;
    TP_ASSERT_OK(tp_client_add_consumer(&c2, client, &cc, 5000000000u));
    tp_producer_config_t pc;
    tp_producer_config_defaults(&pc);
    pc.header_nslots = 256;
    tp_producer_t *p = NULL;
    TP_ASSERT_OK(tp_client_add_producer(&p, client, &pc, 5000000000u));
    tp_producer_stats_t ps;
    TPC_WAIT_UNTIL(client,
        tp_consumer_is_mapped(c1) && tp_consumer_is_mapped(c2) && (tp_producer_stats(p, &ps), ps.consumers == 2), 3000);
    TP_ASSERT(tp_consumer_is_mapped(c1) && tp_consumer_is_mapped(c2));
    /* progress: gated on a consumer that supports it (c1 said so in its hello) */
    tp_frame_claim_t claim;
    TP_ASSERT(tp_producer_try_claim(p, 65536, &claim) >= 0);
    TP_ASSERT_EQ_I64(1, tp_frame_claim_progress(&claim, 0));          /* STARTED */
    TP_ASSERT_EQ_I64(0, tp_frame_claim_progress(&claim, 100));        /* throttled: below the byte delta */
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_frame_claim_progress(&claim, 50)); /* regression */
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_frame_claim_progress(&claim, 70000)); /* beyond the claim */
    TP_ASSERT_EQ_I64(1, tp_frame_claim_progress(&claim, 65536));      /* COMPLETE */
    memset(claim.data, 0, 65536);
    tpc_fill(claim.data, 65536, claim.seq);
    TP_ASSERT(tp_frame_claim_commit(&claim, NULL, 65536, NULL) >= 0);
    tp_consumer_stats_t cs;
    TPC_WAIT_UNTIL(client, (tp_consumer_stats(c1, &cs), cs.progress_received >= 2 && cs.frames >= 1), 2000);
    TP_ASSERT_EQ_U64(2, cs.progress_received);
    TP_ASSERT_EQ_U64(2, progress_calls);
    TP_ASSERT_OK(tp_producer_stats(p, &ps));
    TP_ASSERT_EQ_U64(2, ps.progress_sent);
    /* RATE_LIMITED at 100 Hz: 200 frames over ~0.4 s arrive as ~40 */
    uint8_t buf[256];
    for (int i = 0; i < 200; i++)
    {
        tpc_fill(buf, sizeof(buf), tp_producer_next_seq(p));
        TP_ASSERT(tp_producer_offer(p, NULL, buf, sizeof(buf), NULL) >= 0);
        tp_client_do_work(client);
        tp_sleep_ns(2000000);
    }
    TPC_WAIT_UNTIL(client, (tp_consumer_stats(c1, &cs), cs.frames >= 201), 2000);
    TP_ASSERT_EQ_U64(201, cs.frames);
    TP_ASSERT_OK(tp_consumer_stats(c2, &cs));
    TP_ASSERT_MSG(cs.frames >= 15 && cs.frames <= 60, "rate limited consumer got %llu frames",
        (unsigned long long)cs.frames);
    TP_ASSERT_EQ_U64(201, cs.frames + cs.drops_rate_limited);
    TP_ASSERT_EQ_U64(0, rx_rate.bad);
    tp_client_close(client);
    tpc_dirs_remove(&d);
}

static size_t encode_config(uint8_t *buf, size_t cap, uint32_t consumer_id, bool use_shm, const char *uri)
{
    tp_sbe_wire_consumer_config_t m = { 0 };
    tp_sbe_wire_consumer_config_wrap_and_apply_header(&m, buf, 0, cap);
    tp_sbe_wire_consumer_config_set_stream_id(&m, 10000);
    tp_sbe_wire_consumer_config_set_consumer_id(&m, consumer_id);
    tp_sbe_wire_consumer_config_set_use_shm(&m, use_shm ? TP_SBE_WIRE_BOOL_TRUE : TP_SBE_WIRE_BOOL_FALSE);
    tp_sbe_wire_consumer_config_set_mode(&m, TP_SBE_WIRE_MODE_STREAM);
    tp_sbe_wire_consumer_config_set_descriptor_stream_id(&m, 0);
    tp_sbe_wire_consumer_config_set_control_stream_id(&m, 0);
    tp_sbe_wire_consumer_config_put_payload_fallback_uri(&m, uri, (uint32_t)strlen(uri));
    tp_sbe_wire_consumer_config_put_descriptor_channel(&m, "", 0);
    tp_sbe_wire_consumer_config_put_control_channel(&m, "", 0);
    return TP_SBE_MESSAGE_HEADER_LENGTH + tp_sbe_wire_consumer_config_encoded_length(&m);
}

static void test_consumer_config_fallback(void)
{
    static fixture_t f;
    TP_ASSERT_OK(fixture_open(&f, "fallback", true, true, NULL));
    TP_ASSERT(tp_consumer_is_mapped(f.consumer));
    tp_transport_context_t tctx;
    tp_transport_context_init(&tctx);
    tp_transport_context_set_dir(&tctx, f.dirs.transport);
    tp_transport_t *t = NULL;
    tp_publication_t *pub = NULL;
    TP_ASSERT_OK(tp_transport_init(&t, &tctx));
    TP_ASSERT_OK(tp_transport_add_publication(&pub, t, "aeron:ipc", 1000, 0));
    uint8_t buf[512];
    /* a config for another consumer id is ignored */
    size_t len = encode_config(buf, sizeof(buf), tp_consumer_id(f.consumer) + 1, false, "aeron:udp?endpoint=x:1");
    TPC_WAIT_UNTIL(f.client, tp_publication_offer(pub, buf, len, NULL, NULL) > 0, 2000);
    len = encode_config(buf, sizeof(buf), tp_consumer_id(f.consumer), false, "aeron:udp?endpoint=127.0.0.1:40123");
    TP_ASSERT(tp_publication_offer(pub, buf, len, NULL, NULL) > 0);
    tp_consumer_stats_t cs;
    TPC_WAIT_UNTIL(f.client, (tp_consumer_stats(f.consumer, &cs), cs.configs_received >= 1), 2000);
    TP_ASSERT_EQ_U64(1, cs.configs_received);
    TP_ASSERT(!cs.use_shm);
    TP_ASSERT(!cs.mapped); /* FALLBACK: SHM unmapped, announces ignored */
    char uri[256];
    TP_ASSERT(tp_consumer_fallback_uri(f.consumer, uri, sizeof(uri)) > 0);
    TP_ASSERT_STREQ("aeron:udp?endpoint=127.0.0.1:40123", uri);
    /* undefined schemes are unsupported */
    len = encode_config(buf, sizeof(buf), tp_consumer_id(f.consumer), false, "ftp://bridge");
    TP_ASSERT(tp_publication_offer(pub, buf, len, NULL, NULL) > 0);
    TPC_WAIT_UNTIL(f.client, (tp_consumer_stats(f.consumer, &cs), cs.configs_received >= 2), 2000);
    TP_ASSERT_EQ_I64(0, tp_consumer_fallback_uri(f.consumer, uri, sizeof(uri)));
    /* back to SHM: the next announce maps again */
    len = encode_config(buf, sizeof(buf), tp_consumer_id(f.consumer), true, "");
    TP_ASSERT(tp_publication_offer(pub, buf, len, NULL, NULL) > 0);
    TPC_WAIT_UNTIL(f.client, tp_consumer_is_mapped(f.consumer), 2000);
    TP_ASSERT(tp_consumer_is_mapped(f.consumer));
    tp_publication_close(pub);
    tp_transport_close(t);
    fixture_close(&f);
}

static void test_per_consumer_streams(void)
{
    tpc_dirs_t d;
    TP_ASSERT_OK(tpc_dirs_make(&d, "perconsumer"));
    tp_context_t *ctx = tpc_context(&d);
    tp_client_t *client = NULL;
    TP_ASSERT_OK(tp_client_init(&client, ctx));
    tp_context_close(ctx);
    static rx_t rx_a, rx_b, rx_c;
    tp_consumer_config_t cc;
    tp_consumer_t *a = NULL, *b = NULL, *c = NULL, *bad = NULL;
    tp_consumer_config_defaults(&cc);
    cc.on_frame = on_frame;
    cc.clientd = &rx_a;
    snprintf(cc.descriptor_channel, sizeof(cc.descriptor_channel), "aeron:ipc");
    cc.descriptor_stream_id = 1150;
    TP_ASSERT_OK(tp_client_add_consumer(&a, client, &cc, 5000000000u));
    cc.clientd = &rx_b;
    cc.descriptor_stream_id = 1151;
    cc.mode = TP_CONSUMER_MODE_RATE_LIMITED;
    cc.max_rate_hz = 50;
    TP_ASSERT_OK(tp_client_add_consumer(&b, client, &cc, 5000000000u));
    cc.clientd = &rx_c;
    cc.descriptor_stream_id = 1100; /* the shared descriptor stream: invalid request, declined */
    cc.mode = TP_CONSUMER_MODE_STREAM;
    cc.max_rate_hz = 0;
    TP_ASSERT_OK(tp_client_add_consumer(&c, client, &cc, 5000000000u));
    cc.descriptor_stream_id = 0; /* channel without stream id: refused locally */
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_client_add_consumer(&bad, client, &cc, 1000000000u));
    tp_producer_config_t pc;
    tp_producer_config_defaults(&pc);
    pc.header_nslots = 256;
    tp_producer_t *p = NULL;
    TP_ASSERT_OK(tp_client_add_producer(&p, client, &pc, 5000000000u));
    tp_consumer_stats_t sa, sb, sc;
    TPC_WAIT_UNTIL(client,
        (tp_consumer_stats(a, &sa), tp_consumer_stats(b, &sb), tp_consumer_stats(c, &sc),
            sa.mapped && sb.mapped && sc.mapped && sa.descriptor_stream_id == 1150 && sb.descriptor_stream_id == 1151 &&
                sc.configs_received > 0),
        3000);
    TP_ASSERT_EQ_U64(1150, sa.descriptor_stream_id);
    TP_ASSERT_EQ_U64(1151, sb.descriptor_stream_id);
    TP_ASSERT_EQ_U64(1100, sc.descriptor_stream_id); /* declined: stays on the shared stream */
    TP_ASSERT(sc.configs_received > 0);
    uint8_t buf[128];
    for (int i = 0; i < 100; i++)
    {
        tpc_fill(buf, sizeof(buf), tp_producer_next_seq(p));
        TP_ASSERT(tp_producer_offer(p, NULL, buf, sizeof(buf), NULL) >= 0);
        tp_client_do_work(client);
        tp_sleep_ns(2000000);
    }
    TPC_WAIT_UNTIL(client,
        (tp_consumer_stats(a, &sa), tp_consumer_stats(c, &sc), sa.frames >= 100 && sc.frames >= 100), 2000);
    tp_consumer_stats(b, &sb);
    TP_ASSERT_EQ_U64(100, sa.frames);
    TP_ASSERT_EQ_U64(100, sc.frames);
    TP_ASSERT_EQ_U64(0, sa.drops_gap);
    TP_ASSERT_MSG(sb.frames >= 5 && sb.frames <= 25, "50 Hz per-consumer stream delivered %llu of 100 in ~0.2 s",
        (unsigned long long)sb.frames);
    TP_ASSERT_EQ_U64(0, sb.drops_gap); /* thinned by the producer on request: counted as rate limited */
    TP_ASSERT_EQ_U64(0, rx_a.bad + rx_b.bad + rx_c.bad);
    /*
     * The fan-out runs on the conductor: once it has taken all 100 frames, a got each one on its stream
     * and b each one either on its stream or counted as thinned by the producer.
     */
    tp_producer_stats_t ps;
    TPC_WAIT_UNTIL(client,
        (tp_producer_stats(p, &ps), ps.per_consumer_descriptors + ps.per_consumer_rate_limited == 200), 2000);
    TP_ASSERT_EQ_U64(200, ps.per_consumer_descriptors + ps.per_consumer_rate_limited);
    TP_ASSERT(ps.per_consumer_rate_limited >= 70);
    /*
     * Every descriptor sent on b's stream arrives (b may still have one in flight). Counted as descriptors,
     * not frames: while its switch window is open b also reads the shared stream (a frame or two more), and
     * its own 50 Hz limiter, which goes by receipt time, may drop one the producer's (fan-out time) let
     * through.
     */
    uint64_t sent_b = ps.per_consumer_descriptors - 100;
    TPC_WAIT_UNTIL(client, (tp_consumer_stats(b, &sb), sb.descriptors >= sent_b), 2000);
    TP_ASSERT_MSG(sb.descriptors >= sent_b, "b received %llu descriptors, %llu were sent on its stream",
        (unsigned long long)sb.descriptors, (unsigned long long)sent_b);
    /* a per-consumer control stream carries FrameProgress for a consumer that asked for one */
    static rx_t rx_d;
    tp_consumer_t *dd = NULL;
    tp_consumer_config_defaults(&cc);
    cc.on_frame = on_frame;
    cc.clientd = &rx_d;
    cc.supports_progress = true;
    cc.on_progress = on_progress;
    snprintf(cc.control_channel, sizeof(cc.control_channel), "aeron:ipc");
    cc.control_stream_id = 1160;
    TP_ASSERT_OK(tp_client_add_consumer(&dd, client, &cc, 5000000000u));
    tp_consumer_stats_t sd;
    TPC_WAIT_UNTIL(client, (tp_consumer_stats(dd, &sd), sd.mapped && sd.progress_stream_id == 1160), 3000);
    TP_ASSERT_EQ_U64(1160, sd.progress_stream_id);
    TP_ASSERT_EQ_U64(1100, sd.descriptor_stream_id);
    TPC_WAIT_UNTIL(client, (tp_producer_stats(p, &ps), ps.consumers == 4), 2000);
    uint64_t calls = progress_calls;
    tp_frame_claim_t claim;
    TP_ASSERT(tp_producer_try_claim(p, 100, &claim) >= 0);
    TP_ASSERT_EQ_I64(1, tp_frame_claim_progress(&claim, 0));
    TP_ASSERT_EQ_I64(1, tp_frame_claim_progress(&claim, 100));
    tpc_fill(claim.data, 100, claim.seq);
    TP_ASSERT(tp_frame_claim_commit(&claim, NULL, 100, NULL) >= 0);
    TPC_WAIT_UNTIL(client, (tp_consumer_stats(dd, &sd), sd.progress_received >= 2 && sd.frames >= 1), 2000);
    TP_ASSERT_EQ_U64(2, sd.progress_received);
    TP_ASSERT_EQ_U64(calls + 2, progress_calls);
    TP_ASSERT_EQ_U64(0, rx_d.bad);
    /* a consumer that goes away is dropped after the stale timeout, its stream closed */
    TP_ASSERT_OK(tp_consumer_close(a));
    TPC_WAIT_UNTIL(client, (tp_producer_stats(p, &ps), ps.consumers == 3), 3000);
    TP_ASSERT_EQ_U64(3, ps.consumers);
    tp_client_close(client);
    tpc_dirs_remove(&d);
}

typedef struct
{
    uint64_t frames;
    uint64_t stamps[512];
    uint64_t seqs[512];
    size_t n;
} stamp_rx_t;

static void on_stamped_frame(void *clientd, const tp_frame_t *frame)
{
    stamp_rx_t *rx = clientd;
    if (rx->n < 512)
    {
        rx->stamps[rx->n] = frame->descriptor_timestamp_ns;
        rx->seqs[rx->n++] = frame->seq;
    }
    rx->frames++;
}

/*
 * A RATE_LIMITED consumer on its own descriptor stream gets every descriptor
 * the producer's per-consumer gate let through, and no more: the producer
 * stamps each with the time its gate used (so the stamps are >= 1/rate
 * apart), and the consumer's own gate, which goes by that stamp, passes the
 * same ones instead of thinning them again by receipt time.
 */
static void test_per_consumer_rate_not_thinned_twice(void)
{
    tpc_dirs_t d;
    TP_ASSERT_OK(tpc_dirs_make(&d, "pcrate"));
    tp_context_t *ctx = tpc_context(&d);
    tp_client_t *client = NULL;
    TP_ASSERT_OK(tp_client_init(&client, ctx));
    tp_context_close(ctx);
    static stamp_rx_t rx;
    memset(&rx, 0, sizeof(rx));
    tp_consumer_config_t cc;
    tp_consumer_config_defaults(&cc);
    cc.on_frame = on_stamped_frame;
    cc.clientd = &rx;
    snprintf(cc.descriptor_channel, sizeof(cc.descriptor_channel), "aeron:ipc");
    cc.descriptor_stream_id = 1152;
    cc.mode = TP_CONSUMER_MODE_RATE_LIMITED;
    cc.max_rate_hz = 100;
    tp_consumer_t *b = NULL;
    TP_ASSERT_OK(tp_client_add_consumer(&b, client, &cc, 5000000000u));
    tp_producer_config_t pc;
    tp_producer_config_defaults(&pc);
    pc.header_nslots = 256;
    tp_producer_t *p = NULL;
    TP_ASSERT_OK(tp_client_add_producer(&p, client, &pc, 5000000000u));
    tp_consumer_stats_t sb;
    TPC_WAIT_UNTIL(client, (tp_consumer_stats(b, &sb), sb.mapped && sb.descriptor_stream_id == 1152), 3000);
    TP_ASSERT_EQ_U64(1152, sb.descriptor_stream_id);
    uint8_t buf[128];
    /* until b has taken a frame from its own stream (the switch window, which also reads the shared one, is over) */
    tp_producer_stats_t ps;
    for (int i = 0; i < 2000; i++)
    {
        tpc_fill(buf, sizeof(buf), tp_producer_next_seq(p));
        TP_ASSERT(tp_producer_offer(p, NULL, buf, sizeof(buf), NULL) >= 0);
        tp_client_do_work(client);
        tp_client_do_work(client);
        tp_producer_stats(p, &ps);
        tp_consumer_stats(b, &sb);
        if (ps.per_consumer_descriptors >= 3 && sb.frames >= 3)
        {
            break;
        }
        tp_sleep_ns(500000);
    }
    TPC_WAIT_UNTIL(client, (tp_producer_stats(p, &ps), tp_consumer_stats(b, &sb), sb.frames >= ps.per_consumer_descriptors), 2000);
    uint64_t f0 = sb.frames, s0 = ps.per_consumer_descriptors;
    size_t n0 = rx.n;
    TP_ASSERT(s0 >= 3);
    /* ~0.4 s at ~2 kHz through a 100 Hz gate */
    for (int i = 0; i < 800; i++)
    {
        tpc_fill(buf, sizeof(buf), tp_producer_next_seq(p));
        TP_ASSERT(tp_producer_offer(p, NULL, buf, sizeof(buf), NULL) >= 0);
        tp_client_do_work(client);
        tp_sleep_ns(500000);
    }
    uint64_t published = tp_producer_next_seq(p);
    TPC_WAIT_UNTIL(client,
        (tp_producer_stats(p, &ps), ps.per_consumer_descriptors + ps.per_consumer_rate_limited == published), 2000);
    TP_ASSERT_EQ_U64(published, ps.per_consumer_descriptors + ps.per_consumer_rate_limited);
    TPC_WAIT_UNTIL(client, (tp_consumer_stats(b, &sb), sb.frames - f0 >= ps.per_consumer_descriptors - s0), 2000);
    tp_consumer_stats(b, &sb);
    uint64_t sent = ps.per_consumer_descriptors - s0;
    TP_ASSERT(sent >= 10);
    TP_ASSERT_MSG(sb.frames - f0 == sent, "the producer let %llu descriptors through on b's stream, b delivered %llu",
        (unsigned long long)sent, (unsigned long long)(sb.frames - f0));
    /* every descriptor on b's stream carries the gate's time, 1/rate (10 ms) apart at least */
    TP_ASSERT(rx.n > n0 + 1);
    for (size_t i = n0; i < rx.n; i++)
    {
        TP_ASSERT_MSG(TP_NULL_TIMESTAMP != rx.stamps[i], "frame %llu of b's stream has no descriptor timestamp",
            (unsigned long long)rx.seqs[i]);
        if (i > n0)
        {
            TP_ASSERT_MSG(rx.stamps[i] >= rx.stamps[i - 1] + 10000000u, "stamps %llu and %llu are < 10 ms apart",
                (unsigned long long)rx.stamps[i - 1], (unsigned long long)rx.stamps[i]);
        }
    }
    tp_client_close(client);
    tpc_dirs_remove(&d);
}

static void test_resync(void)
{
    tpc_dirs_t d;
    TP_ASSERT_OK(tpc_dirs_make(&d, "resync"));
    tp_context_t *ctx = tpc_context(&d);
    tp_client_t *client = NULL;
    TP_ASSERT_OK(tp_client_init(&client, ctx));
    tp_context_close(ctx);
    static rx_t rx;
    tp_consumer_config_t cc;
    tp_consumer_config_defaults(&cc);
    cc.on_frame = on_frame;
    cc.clientd = &rx;
    cc.fragment_limit = 1000;
    tp_consumer_t *c = NULL;
    TP_ASSERT_OK(tp_client_add_consumer(&c, client, &cc, 5000000000u));
    tp_producer_config_t pc;
    tp_producer_config_defaults(&pc);
    pc.header_nslots = 1024;
    tp_producer_t *p = NULL;
    TP_ASSERT_OK(tp_client_add_producer(&p, client, &pc, 5000000000u));
    TPC_WAIT_UNTIL(client, tp_consumer_is_mapped(c), 3000);
    TP_ASSERT(tp_consumer_is_mapped(c));
    /* 600 frames while the consumer does not run: it is 600 behind when it resumes */
    uint8_t buf[64];
    for (int i = 0; i < 600; i++)
    {
        tpc_fill(buf, sizeof(buf), tp_producer_next_seq(p));
        TP_ASSERT(tp_producer_offer(p, NULL, buf, sizeof(buf), NULL) >= 0);
    }
    tp_consumer_stats_t cs;
    TPC_WAIT_UNTIL(client, (tp_consumer_stats(c, &cs), cs.last_seq >= 599), 2000);
    /* at seq 0 the slot of 256 is taken: skip to 256; at 256 the slot of 512: skip to 512; then read 512..599 */
    TP_ASSERT_EQ_U64(2, cs.resyncs);
    TP_ASSERT_EQ_U64(88, cs.frames);
    TP_ASSERT_EQ_U64(512, cs.drops_gap);
    TP_ASSERT_EQ_U64(0, cs.drops_late);
    TP_ASSERT_EQ_U64(512, rx.seqs[0]);
    TP_ASSERT_EQ_U64(0, rx.bad);
    tp_client_close(client);
    tpc_dirs_remove(&d);
}

static uint8_t blob_seen[300000];
static size_t blob_seen_len;
static uint32_t blob_seen_type;

static void on_blob(void *clientd, uint32_t meta_version, uint32_t blob_type, const uint8_t *data, size_t length)
{
    (void)clientd;
    (void)meta_version;
    blob_seen_type = blob_type;
    blob_seen_len = length <= sizeof(blob_seen) ? length : 0;
    memcpy(blob_seen, data, blob_seen_len);
}

static void test_meta_blob(void)
{
    tpc_dirs_t d;
    TP_ASSERT_OK(tpc_dirs_make(&d, "blob"));
    tp_context_t *ctx = tpc_context(&d);
    tp_client_t *client = NULL;
    TP_ASSERT_OK(tp_client_init(&client, ctx));
    tp_context_close(ctx);
    static rx_t rx;
    tp_consumer_config_t cc;
    tp_consumer_config_defaults(&cc);
    cc.on_frame = on_frame;
    cc.clientd = &rx;
    cc.on_meta_blob = on_blob;
    tp_consumer_t *c = NULL;
    TP_ASSERT_OK(tp_client_add_consumer(&c, client, &cc, 5000000000u));
    tp_producer_config_t pc;
    tp_producer_config_defaults(&pc);
    tp_producer_t *p = NULL;
    TP_ASSERT_OK(tp_client_add_producer(&p, client, &pc, 5000000000u));
    TPC_WAIT_UNTIL(client, tp_consumer_is_mapped(c), 3000);
    static uint8_t blob[300000]; /* 5 chunks of 64 KiB */
    for (size_t i = 0; i < sizeof(blob); i++)
    {
        blob[i] = (uint8_t)(i * 7 + 3);
    }
    TP_ASSERT_OK(tp_producer_publish_meta_blob(p, 42, blob, sizeof(blob)));
    tp_consumer_stats_t cs;
    TPC_WAIT_UNTIL(client, (tp_consumer_stats(c, &cs), cs.meta_blobs_received >= 1), 3000);
    TP_ASSERT_EQ_U64(1, cs.meta_blobs_received);
    TP_ASSERT_EQ_U64(0, cs.meta_blobs_discarded);
    TP_ASSERT_EQ_U64(sizeof(blob), blob_seen_len);
    TP_ASSERT_EQ_U64(42, blob_seen_type);
    TP_ASSERT(0 == memcmp(blob, blob_seen, sizeof(blob)));
    tp_producer_stats_t ps;
    TP_ASSERT_OK(tp_producer_stats(p, &ps));
    TP_ASSERT_EQ_U64(1, ps.meta_blobs_sent);
    /* a corrupt stream: chunk with a gap → discarded */
    tp_transport_context_t tctx;
    tp_transport_context_init(&tctx);
    tp_transport_context_set_dir(&tctx, d.transport);
    tp_transport_t *t = NULL;
    tp_publication_t *pub = NULL;
    TP_ASSERT_OK(tp_transport_init(&t, &tctx));
    TP_ASSERT_OK(tp_transport_add_publication(&pub, t, "aeron:ipc", 1300, 0));
    uint8_t buf[256];
    tp_sbe_wire_meta_blob_announce_t a = { 0 };
    tp_sbe_wire_meta_blob_announce_wrap_and_apply_header(&a, buf, 0, sizeof(buf));
    tp_sbe_wire_meta_blob_announce_set_stream_id(&a, 10000);
    tp_sbe_wire_meta_blob_announce_set_meta_version(&a, 0);
    tp_sbe_wire_meta_blob_announce_set_total_len(&a, 100);
    tp_sbe_wire_meta_blob_announce_set_checksum(&a, 0);
    TPC_WAIT_UNTIL(client, tp_publication_offer(pub, buf, 8 + tp_sbe_wire_meta_blob_announce_encoded_length(&a), NULL, NULL) > 0, 2000);
    tp_sbe_wire_meta_blob_chunk_t ch = { 0 };
    tp_sbe_wire_meta_blob_chunk_wrap_and_apply_header(&ch, buf, 0, sizeof(buf));
    tp_sbe_wire_meta_blob_chunk_set_stream_id(&ch, 10000);
    tp_sbe_wire_meta_blob_chunk_set_meta_version(&ch, 0);
    tp_sbe_wire_meta_blob_chunk_set_chunk_offset(&ch, 50); /* gap: [0, 50) missing */
    tp_sbe_wire_meta_blob_chunk_put_bytes(&ch, blob, 50);
    TP_ASSERT(tp_publication_offer(pub, buf, 8 + tp_sbe_wire_meta_blob_chunk_encoded_length(&ch), NULL, NULL) > 0);
    TPC_WAIT_UNTIL(client, (tp_consumer_stats(c, &cs), cs.meta_blobs_discarded >= 1), 2000);
    TP_ASSERT_EQ_U64(1, cs.meta_blobs_discarded);
    TP_ASSERT_EQ_U64(1, cs.meta_blobs_received);
    tp_publication_close(pub);
    tp_transport_close(t);
    TP_ASSERT_EQ_U64(0xE3069283u, tp_crc32c("123456789", 9)); /* CRC-32C check value */
    tp_client_close(client);
    tpc_dirs_remove(&d);
}

static void test_progress_policy(void)
{
    tpc_dirs_t d;
    TP_ASSERT_OK(tpc_dirs_make(&d, "policy"));
    tp_context_t *ctx = tpc_context(&d);
    tp_client_t *client = NULL;
    TP_ASSERT_OK(tp_client_init(&client, ctx));
    tp_context_close(ctx);
    tp_producer_config_t pc;
    tp_producer_config_defaults(&pc);
    tp_producer_t *p = NULL;
    TP_ASSERT_OK(tp_client_add_producer(&p, client, &pc, 5000000000u));
    static rx_t rx;
    tp_consumer_config_t cc;
    tp_consumer_config_defaults(&cc);
    cc.on_frame = on_frame;
    cc.clientd = &rx;
    cc.supports_progress = true;
    cc.progress_interval_us = 1000;
    cc.progress_bytes_delta = 8192;
    tp_consumer_t *c1 = NULL, *c2 = NULL, *c3 = NULL;
    TP_ASSERT_OK(tp_client_add_consumer(&c1, client, &cc, 5000000000u));
    cc.progress_interval_us = 300;
    cc.progress_bytes_delta = 100000;
    TP_ASSERT_OK(tp_client_add_consumer(&c2, client, &cc, 5000000000u));
    tp_producer_stats_t ps;
    TPC_WAIT_UNTIL(client, (tp_producer_stats(p, &ps), ps.consumers == 2), 2000);
    /* the most aggressive common policy: smallest interval, smallest delta */
    TP_ASSERT_EQ_U64(300000, ps.progress_interval_ns);
    TP_ASSERT_EQ_U64(8192, ps.progress_bytes_delta);
    cc.progress_interval_us = 1;
    cc.progress_bytes_delta = 16;
    TP_ASSERT_OK(tp_client_add_consumer(&c3, client, &cc, 5000000000u));
    TPC_WAIT_UNTIL(client, (tp_producer_stats(p, &ps), ps.consumers == 3), 2000);
    /* ... but never below the producer's floors */
    TP_ASSERT_EQ_U64(50000, ps.progress_interval_ns);
    TP_ASSERT_EQ_U64(4096, ps.progress_bytes_delta);
    tp_client_close(client);
    tpc_dirs_remove(&d);
}

static void on_error_nop(void *clientd, int errcode, const char *message)
{
    (void)clientd;
    (void)errcode;
    (void)message;
}

/* Every setter has a getter returning what was set. */
static void test_context_getters(void)
{
    tp_context_t *ctx = NULL;
    TP_ASSERT_OK(tp_context_init(&ctx));
    TP_ASSERT_STREQ("backoff", tp_context_get_idle_strategy(ctx));
    TP_ASSERT(!tp_context_get_use_conductor_thread(ctx));
    TP_ASSERT_EQ_U64(0, tp_context_get_allowed_base_dir_count(ctx));
    TP_ASSERT(NULL == tp_context_get_allowed_base_dir(ctx, 0));
    TP_ASSERT_OK(tp_context_set_transport_backend(ctx, "embedded"));
    TP_ASSERT_STREQ("embedded", tp_context_get_transport_backend(ctx));
    TP_ASSERT_OK(tp_context_set_transport_dir(ctx, "/tmp/tp-getters"));
    TP_ASSERT_STREQ("/tmp/tp-getters", tp_context_get_transport_dir(ctx));
    TP_ASSERT_OK(tp_context_set_stream(ctx, TP_STREAM_QOS, "aeron:ipc?term-length=65536", 1201));
    TP_ASSERT_STREQ("aeron:ipc?term-length=65536", tp_context_get_stream_channel(ctx, TP_STREAM_QOS));
    TP_ASSERT_EQ_I64(1201, tp_context_get_stream_id(ctx, TP_STREAM_QOS));
    TP_ASSERT_OK(tp_context_set_shm_base_dir(ctx, "/tmp"));
    TP_ASSERT_STREQ("/tmp", tp_context_get_shm_base_dir(ctx));
    TP_ASSERT_OK(tp_context_set_namespace(ctx, "getters"));
    TP_ASSERT_STREQ("getters", tp_context_get_namespace(ctx));
    TP_ASSERT_OK(tp_context_add_allowed_base_dir(ctx, "/tmp"));
    TP_ASSERT_EQ_U64(1, tp_context_get_allowed_base_dir_count(ctx));
    TP_ASSERT_STREQ("/tmp", tp_context_get_allowed_base_dir(ctx, 0));
    TP_ASSERT_OK(tp_context_set_announce_period_ns(ctx, 2000000000u));
    TP_ASSERT_EQ_U64(2000000000u, tp_context_get_announce_period_ns(ctx));
    TP_ASSERT_OK(tp_context_set_qos_interval_ns(ctx, 3000000000u));
    TP_ASSERT_EQ_U64(3000000000u, tp_context_get_qos_interval_ns(ctx));
    TP_ASSERT_OK(tp_context_set_hello_interval_ns(ctx, 4000000000u));
    TP_ASSERT_EQ_U64(4000000000u, tp_context_get_hello_interval_ns(ctx));
    TP_ASSERT_OK(tp_context_set_freshness_window_ns(ctx, 5000000000u));
    TP_ASSERT_EQ_U64(5000000000u, tp_context_get_freshness_window_ns(ctx));
    TP_ASSERT_OK(tp_context_set_consumer_stale_timeout_ns(ctx, 14000000000u));
    TP_ASSERT_EQ_U64(14000000000u, tp_context_get_consumer_stale_timeout_ns(ctx));
    TP_ASSERT_OK(tp_context_set_use_conductor_thread(ctx, true));
    TP_ASSERT(tp_context_get_use_conductor_thread(ctx));
    TP_ASSERT_OK(tp_context_set_idle_strategy(ctx, "sleep"));
    TP_ASSERT_STREQ("sleep", tp_context_get_idle_strategy(ctx));
    int marker = 0;
    TP_ASSERT_OK(tp_context_set_error_handler(ctx, on_error_nop, &marker));
    void *clientd = NULL;
    TP_ASSERT(on_error_nop == tp_context_get_error_handler(ctx, &clientd));
    TP_ASSERT(&marker == clientd);
    TP_ASSERT_OK(tp_context_set_client_timeout_ns(ctx, 7000000000u));
    TP_ASSERT_EQ_U64(7000000000u, tp_context_get_client_timeout_ns(ctx));
    tp_context_close(ctx);
    TP_ASSERT(NULL == tp_context_get_namespace(NULL));
    TP_ASSERT_EQ_U64(0, tp_context_get_client_timeout_ns(NULL));
}

static void test_context_validation(void)
{
    tp_context_t *ctx = NULL;
    TP_ASSERT_OK(tp_context_init(&ctx));
    TP_ASSERT_EQ_I64(1000, tp_context_get_stream_id(ctx, TP_STREAM_ANNOUNCE));
    TP_ASSERT_OK(tp_context_set_stream(ctx, TP_STREAM_CONTROL, "aeron:ipc", 1005));
    TP_ASSERT_EQ_I64(1005, tp_context_get_stream_id(ctx, TP_STREAM_ANNOUNCE)); /* announce follows control */
    TP_ASSERT_EQ_I64(1100, tp_context_get_stream_id(ctx, TP_STREAM_DESCRIPTOR));
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_context_set_stream(ctx, TP_STREAM_QOS, "udp://x", 1));
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_context_set_shm_base_dir(ctx, "relative"));
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_context_set_namespace(ctx, "../x"));
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_context_set_idle_strategy(ctx, "nap"));
    TP_ASSERT_OK(tp_context_set_consumer_stale_timeout_ns(ctx, 1000000000u)); /* 1x the 1 s interval */
    tp_client_t *client = NULL;
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_client_init(&client, ctx));
    tp_context_close(ctx);
    tp_producer_config_t pc;
    tp_producer_config_defaults(&pc);
    pc.header_nslots = 100;
    tpc_dirs_t d;
    TP_ASSERT_OK(tpc_dirs_make(&d, "ctx"));
    ctx = tpc_context(&d);
    TP_ASSERT_OK(tp_client_init(&client, ctx));
    tp_context_close(ctx);
    tp_producer_t *p = NULL;
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_client_add_producer(&p, client, &pc, 1000000000u));
    pc.header_nslots = 64;
    pc.pools[0].stride_bytes = 100;
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_client_add_producer(&p, client, &pc, 1000000000u));
    tp_consumer_config_t cc;
    tp_consumer_config_defaults(&cc);
    tp_consumer_t *c = NULL;
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_client_add_consumer(&c, client, &cc, 1000000000u));
    /* two producers on one stream: the second gets a higher epoch */
    pc.pools[0].stride_bytes = 128;
    tp_producer_t *p1 = NULL, *p2 = NULL;
    TP_ASSERT_OK(tp_client_add_producer(&p1, client, &pc, 1000000000u));
    TP_ASSERT_OK(tp_client_add_producer(&p2, client, &pc, 1000000000u));
    TP_ASSERT(tp_producer_epoch(p2) > tp_producer_epoch(p1));
    TP_ASSERT_OK(tp_producer_close(p1));
    TP_ASSERT_OK(tp_client_close(client));
    tpc_dirs_remove(&d);
}

/* Run the duty cycle for `ms`, refreshing the producer's activity timestamp every 20 ms (a live producer). */
static void run_with_fresh_activity(fixture_t *f, uint64_t ms)
{
    uint64_t end = tp_clock_mono_ns() + ms * 1000000u;
    while (tp_clock_mono_ns() < end)
    {
        TP_ASSERT_OK(tp_shm_region_refresh_activity(f->producer->regions->ring, 0));
        uint64_t step = tp_clock_mono_ns() + 20000000u;
        while (tp_clock_mono_ns() < step)
        {
            if (tp_client_do_work(f->client) <= 0)
            {
                tp_sleep_ns(100000);
            }
        }
    }
}

/*
 * Producer liveness as the consumer sees it (wire spec §15.14): the regions
 * are unmapped only when announces stopped for longer than the freshness
 * window AND the superblock activity timestamp (CLOCK_MONOTONIC) is that old
 * too. Here the producer stops announcing (its next announce is pushed out of
 * reach) while its activity timestamp is kept fresh, as a producer whose
 * announces are slow or lost but which is alive: the consumer keeps the
 * mapping. Then the activity stops as well (a dead producer): it unmaps.
 */
static void test_slow_announcer_stays_mapped(void)
{
    static fixture_t f;
    g_freshness_ns = 200000000u; /* 200 ms (announces every 50 ms until stopped) */
    int rc = fixture_open(&f, "slowann", true, true, NULL);
    g_freshness_ns = 0;
    TP_ASSERT_OK(rc);
    TP_ASSERT(tp_consumer_is_mapped(f.consumer));
    tp_producer_t *p = f.producer;
    /* no more announces: neither periodic nor prompt ones (the consumer is known and on our epoch) */
    f.client->ctx.announce_period_ns = UINT64_C(3600000000000);
    p->next_announce_ns = UINT64_MAX;
    p->announce_requested = false;
    /* settle: an announce in flight arrives, and a QosConsumer tells the producer that the consumer is on its
     * epoch (until then a ConsumerHello asks for one prompt announce) */
    run_with_fresh_activity(&f, 200);
    tp_consumer_stats_t st;
    tp_consumer_stats(f.consumer, &st);
    uint64_t unmaps = st.unmaps;
    uint64_t accepted = st.announces_accepted;
    TP_ASSERT(tp_consumer_is_mapped(f.consumer));
    /* alive: 1 s (5 freshness windows) without an announce, activity fresh */
    run_with_fresh_activity(&f, 1000);
    tp_consumer_stats(f.consumer, &st);
    TP_ASSERT_EQ_U64(accepted, st.announces_accepted); /* no announce arrived meanwhile */
    TP_ASSERT_EQ_U64(unmaps, st.unmaps);
    TP_ASSERT(tp_consumer_is_mapped(f.consumer));
    /* dead: the activity timestamp stops too; unmapped once it is a freshness window old */
    uint64_t stopped = tp_clock_mono_ns();
    TPC_WAIT_UNTIL(f.client, !tp_consumer_is_mapped(f.consumer), 3000);
    TP_ASSERT(!tp_consumer_is_mapped(f.consumer));
    TP_ASSERT(tp_clock_mono_ns() - stopped >= 150000000u); /* the last refresh was at most 20 ms before */
    tp_consumer_stats(f.consumer, &st);
    TP_ASSERT_EQ_U64(unmaps + 1, st.unmaps);
    fixture_close(&f);
}

/*
 * A child process creates a producer on stream 4242, reports its epoch and
 * waits to be killed. `backdate` rewrites its header ring's activity
 * timestamp 60 s into the past (what the superblock of a producer killed a
 * minute ago looks like; tp_shm_gc reads nothing else). *epoch_out: its epoch.
 */
static void spawn_and_kill_producer(const tpc_dirs_t *dirs, bool backdate, uint64_t *epoch_out)
{
    int fds[2];
    TP_ASSERT_OK(pipe(fds));
    pid_t child = fork();
    TP_ASSERT(child >= 0);
    if (0 == child)
    {
        close(fds[0]);
        uint64_t epoch = 0;
        tp_context_t *ctx = tpc_context(dirs);
        tp_client_t *client = NULL;
        tp_producer_t *p = NULL;
        tp_producer_config_t pc;
        tp_producer_config_defaults(&pc);
        pc.stream_id = 4242;
        pc.header_nslots = 64;
        pc.pools[0].stride_bytes = 1024;
        if (NULL != ctx && 0 == tp_client_init(&client, ctx) && 0 == tp_client_add_producer(&p, client, &pc, 5000000000u))
        {
            uint64_t now = tp_clock_mono_ns();
            if (!backdate || 0 == tp_shm_region_refresh_activity(p->regions->ring,
                                     now > UINT64_C(60000000000) ? now - UINT64_C(60000000000) : 1))
            {
                epoch = p->regions->epoch;
            }
        }
        if (sizeof(epoch) != write(fds[1], &epoch, sizeof(epoch)))
        {
            _exit(1);
        }
        for (;;)
        {
            pause(); /* no duty cycle: nothing refreshes the timestamp any more */
        }
    }
    close(fds[1]);
    uint64_t epoch = 0;
    TP_ASSERT_EQ_I64((int64_t)sizeof(epoch), (int64_t)read(fds[0], &epoch, sizeof(epoch)));
    close(fds[0]);
    kill(child, SIGKILL); /* our own child */
    int status = 0;
    TP_ASSERT_EQ_I64(child, waitpid(child, &status, 0));
    TP_ASSERT(WIFSIGNALED(status) && SIGKILL == WTERMSIG(status));
    *epoch_out = epoch;
}

static bool epoch_dir_exists(const tpc_dirs_t *dirs, uint64_t epoch)
{
    char dir[PATH_MAX];
    struct stat st;
    return 0 == tp_shm_epoch_dir_path(dir, sizeof(dir), dirs->shm, NULL, "default", 4242, epoch) &&
        0 == stat(dir, &st) && S_ISDIR(st.st_mode);
}

/* Standalone producer start (§15.21a.7): the epochs of SIGKILLed producers of its stream are reclaimed once stale. */
static void test_restart_reclaims_dead_epoch(void)
{
    static tpc_dirs_t dirs;
    TP_ASSERT_OK(tpc_dirs_make(&dirs, "reclaim"));
    /* over Aeron this process holds the media driver: a SIGKILLed child must not take it down with it */
    tp_transport_t *hold = tpc_driver_hold(&dirs);
    uint64_t dead_epoch = 0;
    spawn_and_kill_producer(&dirs, true, &dead_epoch);
    TP_ASSERT_EQ_U64(1, dead_epoch);
    TP_ASSERT(epoch_dir_exists(&dirs, 1));
    tp_context_t *ctx = tpc_context(&dirs);
    TP_ASSERT(NULL != ctx);
    tp_client_t *client = NULL;
    TP_ASSERT_OK(tp_client_init(&client, ctx));
    tp_context_close(ctx);
    tp_producer_config_t pc;
    tp_producer_config_defaults(&pc);
    pc.stream_id = 4242;
    pc.header_nslots = 64;
    pc.pools[0].stride_bytes = 1024;
    tp_producer_t *p = NULL;
    TP_ASSERT_OK(tp_client_add_producer(&p, client, &pc, 5000000000u));
    TP_ASSERT_EQ_U64(2, p->regions->epoch); /* epochs are never reused */
    TP_ASSERT(!epoch_dir_exists(&dirs, 1)); /* dead pid, activity a minute old: removed */
    TP_ASSERT(epoch_dir_exists(&dirs, 2));
    /* killed just now: the pid is dead but the activity is fresh (< 10 s), so the epoch is kept (DECISIONS SHM-12) */
    spawn_and_kill_producer(&dirs, false, &dead_epoch);
    TP_ASSERT_EQ_U64(3, dead_epoch);
    TP_ASSERT_OK(tp_producer_close(p)); /* a clean close removes its own epoch 2 */
    TP_ASSERT(!epoch_dir_exists(&dirs, 2));
    TP_ASSERT_OK(tp_client_add_producer(&p, client, &pc, 5000000000u));
    TP_ASSERT_EQ_U64(4, p->regions->epoch);
    TP_ASSERT(epoch_dir_exists(&dirs, 3));
    TP_ASSERT(epoch_dir_exists(&dirs, 4));
    tp_client_close(client);
    tpc_driver_release(hold);
    tpc_dirs_remove(&dirs);
}

/* Path of stream 4242's epoch marker (tp_shm_epoch.h) in `dirs`. */
static void marker_path(const tpc_dirs_t *dirs, char *stream_dir, char *path)
{
    TP_ASSERT_OK(tp_shm_stream_dir_path(stream_dir, PATH_MAX, dirs->shm, "default", 4242));
    snprintf(path, PATH_MAX, "%s/%s", stream_dir, TP_SHM_EPOCH_MARKER);
}

/* Replace the marker by a regular file holding `len` bytes of `text`. */
static void write_marker(const char *path, const char *text, size_t len)
{
    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
    TP_ASSERT(fd >= 0);
    TP_ASSERT_EQ_I64((int64_t)len, (int64_t)write(fd, text, len));
    close(fd);
}

static void count_gc_entry(void *clientd, const tp_shm_gc_entry_t *entry)
{
    (void)entry;
    (*(int *)clientd)++;
}

/*
 * Wire §15.2 "increment epoch on any producer restart": a clean close removes the epoch directory, yet the
 * restarted producer gets a higher epoch (the stream's marker recorded the last one); GC keeps the marker and
 * never lists it; a corrupt or hostile marker is ignored (the directories decide) and never honoured beyond
 * 2^63-1.
 */
static void test_restart_after_clean_close_gets_higher_epoch(void)
{
    static tpc_dirs_t dirs;
    TP_ASSERT_OK(tpc_dirs_make(&dirs, "epochfloor"));
    tp_context_t *ctx = tpc_context(&dirs);
    TP_ASSERT(NULL != ctx);
    tp_client_t *client = NULL;
    TP_ASSERT_OK(tp_client_init(&client, ctx));
    tp_context_close(ctx);
    tp_producer_config_t pc;
    tp_producer_config_defaults(&pc);
    pc.stream_id = 4242;
    pc.header_nslots = 64;
    pc.pools[0].stride_bytes = 1024;
    char stream_dir[PATH_MAX];
    char marker[PATH_MAX];
    marker_path(&dirs, stream_dir, marker);

    tp_producer_t *p = NULL;
    TP_ASSERT_OK(tp_client_add_producer(&p, client, &pc, 5000000000u));
    uint64_t first = tp_producer_epoch(p);
    TP_ASSERT_EQ_U64(1, first);
    TP_ASSERT_OK(tp_producer_close(p)); /* clean close: its epoch directory goes */
    TP_ASSERT(!epoch_dir_exists(&dirs, first));
    struct stat st;
    TP_ASSERT_OK(lstat(marker, &st));
    TP_ASSERT(S_ISREG(st.st_mode));
    TP_ASSERT_EQ_U64(0600, st.st_mode & 07777);
    TP_ASSERT_EQ_U64(first, tp_shm_stream_epoch_marker_read(stream_dir));
    TP_ASSERT_OK(tp_client_add_producer(&p, client, &pc, 5000000000u));
    uint64_t second = tp_producer_epoch(p);
    TP_ASSERT_MSG(second > first, "restart after a clean close reused epoch %llu", (unsigned long long)second);
    TP_ASSERT_OK(tp_producer_close(p));

    /* GC (the library's and `tp shm gc`'s walk) reports no epoch and leaves the marker in place */
    int listed = 0;
    tp_shm_gc_options_t gc;
    tp_shm_gc_options_defaults(&gc);
    gc.apply = true;
    gc.min_stale_ns = 0;
    gc.on_entry = count_gc_entry;
    gc.clientd = &listed;
    TP_ASSERT_EQ_I64(0, tp_shm_gc(dirs.shm, &gc));
    TP_ASSERT_EQ_I64(0, listed);
    TP_ASSERT_EQ_U64(second, tp_shm_stream_epoch_marker_read(stream_dir));

    /* a higher marker is honoured */
    write_marker(marker, "41\n", 3);
    TP_ASSERT_OK(tp_client_add_producer(&p, client, &pc, 5000000000u));
    TP_ASSERT_EQ_U64(42, tp_producer_epoch(p));
    TP_ASSERT_EQ_U64(42, tp_shm_stream_epoch_marker_read(stream_dir));

    /* corrupt markers: ignored with a warning, the open epoch 42 decides, and the creation rewrites the marker */
    static const struct
    {
        const char *text;
        size_t len;
    } bad[] = { { "", 0 }, { "garbage\n", 8 }, { "007\n", 4 }, { "-3\n", 3 }, { "4 1\n", 4 }, { "50\n\n", 4 },
        { "60\0\n", 4 }, { "0\n", 2 }, { "9223372036854775808\n", 20 }, { "18446744073709551615", 20 },
        { "123456789012345678901234567890\n", 31 } };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    {
        write_marker(marker, bad[i].text, bad[i].len);
        TP_ASSERT_EQ_U64(0, tp_shm_stream_epoch_marker_read(stream_dir));
        tp_producer_t *p2 = NULL;
        TP_ASSERT_OK(tp_client_add_producer(&p2, client, &pc, 5000000000u));
        TP_ASSERT_MSG(43 == tp_producer_epoch(p2), "marker #%zu: epoch %llu", i,
            (unsigned long long)tp_producer_epoch(p2));
        TP_ASSERT_EQ_U64(43, tp_shm_stream_epoch_marker_read(stream_dir));
        TP_ASSERT_OK(tp_producer_close(p2));
    }
    /* a symlink is never followed (read or written): its target stays as it was */
    char target[PATH_MAX];
    snprintf(target, sizeof(target), "%s/elsewhere", dirs.root);
    write_marker(target, "1000\n", 5);
    unlink(marker);
    TP_ASSERT_OK(symlink(target, marker));
    TP_ASSERT_EQ_U64(0, tp_shm_stream_epoch_marker_read(stream_dir));
    tp_producer_t *p3 = NULL;
    TP_ASSERT_OK(tp_client_add_producer(&p3, client, &pc, 5000000000u));
    TP_ASSERT_EQ_U64(43, tp_producer_epoch(p3));
    TP_ASSERT_OK(lstat(marker, &st));
    TP_ASSERT(S_ISREG(st.st_mode)); /* the rename replaced the link itself */
    char buf[16] = { 0 };
    int fd = open(target, O_RDONLY);
    TP_ASSERT(fd >= 0);
    TP_ASSERT_EQ_I64(5, (int64_t)read(fd, buf, sizeof(buf) - 1));
    close(fd);
    TP_ASSERT(0 == strcmp("1000\n", buf));
    TP_ASSERT_OK(tp_producer_close(p3));
    /* a directory in the marker's place cannot be replaced: the add fails with the path, no epoch is left */
    unlink(marker);
    TP_ASSERT_OK(mkdir(marker, 0700));
    tp_producer_t *p4 = NULL;
    TP_ASSERT_EQ_I64(-1, tp_client_add_producer(&p4, client, &pc, 5000000000u));
    TP_ASSERT_MSG(NULL != strstr(tp_errmsg(), TP_SHM_EPOCH_MARKER), "%s", tp_errmsg());
    TP_ASSERT(!epoch_dir_exists(&dirs, 43));
    TP_ASSERT_OK(rmdir(marker));
    TP_ASSERT_OK(tp_producer_close(p));
    tp_client_close(client);
    tpc_dirs_remove(&dirs);
}

/* A layout larger than the free space of the SHM file system fails the add up front and creates nothing. */
static void test_layout_checked_before_creation(void)
{
    static tpc_dirs_t dirs;
    TP_ASSERT_OK(tpc_dirs_make(&dirs, "laycheck"));
    tp_context_t *ctx = tpc_context(&dirs);
    TP_ASSERT(NULL != ctx);
    tp_client_t *client = NULL;
    TP_ASSERT_OK(tp_client_init(&client, ctx));
    tp_context_close(ctx);
    tp_producer_config_t pc;
    tp_producer_config_defaults(&pc);
    pc.stream_id = 4242;
    pc.header_nslots = 8192;
    pc.pool_count = 16;
    for (size_t i = 0; i < pc.pool_count; i++)
    {
        pc.pools[i].pool_id = (uint16_t)(i + 1);
        pc.pools[i].stride_bytes = 1u << 20; /* 16 pools of 8 GiB: within the per-region caps, 128 GiB in all */
    }
    struct statvfs vfs;
    TP_ASSERT_OK(statvfs(dirs.shm, &vfs));
    TP_ASSERT((uint64_t)vfs.f_bavail * vfs.f_frsize < (UINT64_C(128) << 30)); /* the premise of this test */
    tp_producer_t *p = NULL;
    TP_ASSERT_EQ_I64(-1, tp_client_add_producer(&p, client, &pc, 5000000000u));
    TP_ASSERT_EQ_I64(TP_ERR_IO, tp_errcode());
    TP_ASSERT_MSG(NULL != strstr(tp_errmsg(), "not enough space"), "%s", tp_errmsg());
    TP_ASSERT(!epoch_dir_exists(&dirs, 1));
    tp_client_close(client);
    tpc_dirs_remove(&dirs);
}

int main(void)
{
    TP_RUN(test_context_validation);
    TP_RUN(test_context_getters);
    TP_RUN(test_offer_receive);
    TP_RUN(test_claims_in_order);
    TP_RUN(test_set_next_seq);
    TP_RUN(test_not_connected);
    TP_RUN(test_back_pressure);
    TP_RUN(test_hostile_announces);
    TP_RUN(test_threaded_conductor);
    TP_RUN(test_metadata_and_stale);
    TP_RUN(test_slow_announcer_stays_mapped);
    TP_RUN(test_restart_reclaims_dead_epoch);
    TP_RUN(test_restart_after_clean_close_gets_higher_epoch);
    TP_RUN(test_layout_checked_before_creation);
    TP_RUN(test_progress_and_rate_limited);
    TP_RUN(test_consumer_config_fallback);
    TP_RUN(test_per_consumer_streams);
    TP_RUN(test_per_consumer_rate_not_thinned_twice);
    TP_RUN(test_resync);
    TP_RUN(test_meta_blob);
    TP_RUN(test_progress_policy);
    return tp_test_finish();
}
