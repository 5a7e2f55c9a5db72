/*
 * Layout change of a running producer (wire spec §15.2, §15.21, §10.1.1 "on
 * change"): tp_producer_change_layout() bumps the epoch, announces the new
 * regions at once, restarts sequence numbers at 0; the consumer drops the old
 * epoch's frames still in flight, remaps once and receives the new epoch's
 * frames; the old epoch directory is removed after the grace period. Invalid
 * layouts and open claims are refused without side effects. A second test
 * changes the layout while a conductor thread runs (checked under TSan).
 */
#include <limits.h>
#include <stdatomic.h>
#include <unistd.h>

#include "tp_client_test_util.h"
#include "tp_test.h"
#include "tpc_payload.h"


typedef struct
{
    _Atomic uint64_t frames;
    _Atomic uint64_t bad;
    _Atomic uint64_t frames_new_epoch;
    _Atomic uint64_t first_seq_new_epoch;
    _Atomic uint64_t last_seq;
    _Atomic uint64_t new_epoch;     /* set by the test: frames of this epoch are counted separately */
    _Atomic uint64_t wrong_pool;
} lrx_t;

static void on_frame(void *clientd, const tp_frame_t *frame)
{
    lrx_t *rx = clientd;
    if (!tpc_check(frame->payload, frame->length, frame->seq, 1) || !tp_frame_is_valid(frame))
    {
        atomic_fetch_add(&rx->bad, 1);
    }
    uint64_t ne = atomic_load(&rx->new_epoch);
    if (0 != ne && frame->epoch == ne)
    {
        if (0 == atomic_fetch_add(&rx->frames_new_epoch, 1))
        {
            atomic_store(&rx->first_seq_new_epoch, frame->seq);
        }
        if (frame->pool_id != 11 && frame->pool_id != 12)
        {
            atomic_fetch_add(&rx->wrong_pool, 1);
        }
    }
    atomic_store(&rx->last_seq, frame->seq);
    atomic_fetch_add(&rx->frames, 1);
}

static void producer_config(tp_producer_config_t *pc)
{
    tp_producer_config_defaults(pc);
    pc->header_nslots = 64;
    pc->pool_count = 2;
    pc->pools[0].pool_id = 7;
    pc->pools[0].stride_bytes = 4096;
    pc->pools[1].pool_id = 3;
    pc->pools[1].stride_bytes = 256;
    pc->max_claims = 8;
}

/* New layout: 4x the slots, other pool ids and strides (one larger than before). */
static void new_layout(tp_producer_layout_t *l)
{
    memset(l, 0, sizeof(*l));
    l->header_nslots = 256;
    l->pool_count = 2;
    l->pools[0].pool_id = 11;
    l->pools[0].stride_bytes = 8192;
    l->pools[1].pool_id = 12;
    l->pools[1].stride_bytes = 1024;
}

static void test_change_layout(void)
{
    tpc_dirs_t d;
    TP_ASSERT_OK(tpc_dirs_make(&d, "layout"));
    tp_context_t *ctx = tpc_context(&d); /* announce 50 ms: freshness window (grace period) 150 ms */
    TP_ASSERT(NULL != ctx);
    tp_client_t *client = NULL;
    TP_ASSERT_OK(tp_client_init(&client, ctx));
    tp_context_close(ctx);
    static lrx_t rx;
    tp_consumer_config_t cc;
    tp_consumer_config_defaults(&cc);
    cc.on_frame = on_frame;
    cc.clientd = &rx;
    tp_consumer_t *consumer = NULL;
    TP_ASSERT_OK(tp_client_add_consumer(&consumer, client, &cc, 5000000000u));
    tp_producer_config_t pc;
    producer_config(&pc);
    tp_producer_t *producer = NULL;
    TP_ASSERT_OK(tp_client_add_producer(&producer, client, &pc, 5000000000u));
    TPC_WAIT_UNTIL(client, tp_consumer_is_mapped(consumer), 3000);
    TP_ASSERT(tp_consumer_is_mapped(consumer));
    uint64_t epoch1 = tp_producer_epoch(producer);
    char dir1[PATH_MAX];
    snprintf(dir1, sizeof(dir1), "%s", tp_producer_epoch_dir(producer));

    uint8_t buf[8192];
    for (int i = 0; i < 100; i++)
    {
        uint64_t seq = tp_producer_next_seq(producer);
        tpc_fill(buf, 3000, seq);
        TP_ASSERT_EQ_I64((int64_t)seq, tp_producer_offer(producer, NULL, buf, 3000, NULL));
        tp_client_do_work(client);
    }
    TPC_WAIT_UNTIL(client, atomic_load(&rx.frames) >= 100, 3000);
    TP_ASSERT_EQ_U64(100, atomic_load(&rx.frames));

    /* invalid layouts: clear errors, nothing changes */
    tp_producer_layout_t l;
    TP_ASSERT_OK(tp_producer_layout(producer, &l));
    TP_ASSERT_EQ_U64(64, l.header_nslots);
    TP_ASSERT_EQ_U64(2, l.pool_count);
    TP_ASSERT_EQ_U64(256, l.pools[0].stride_bytes); /* ascending stride */
    new_layout(&l);
    l.header_nslots = 100;
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_producer_change_layout(producer, &l));
    new_layout(&l);
    l.pool_count = 0;
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_producer_change_layout(producer, &l));
    new_layout(&l);
    l.pools[1].stride_bytes = 1000;
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_producer_change_layout(producer, &l));
    new_layout(&l);
    l.pools[1].pool_id = 11;
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_producer_change_layout(producer, &l));
    new_layout(&l);
    l.pools[0].pool_id = 0;
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_producer_change_layout(producer, &l));
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_producer_change_layout(producer, NULL));
    /* open claims: refused (TP_ERR_STATE) until committed or aborted */
    tp_frame_claim_t claim;
    TP_ASSERT(tp_producer_try_claim(producer, 100, &claim) >= 0);
    new_layout(&l);
    TP_ASSERT_ERR(TP_ERR_STATE, tp_producer_change_layout(producer, &l));
    TP_ASSERT_OK(tp_frame_claim_abort(&claim));
    TP_ASSERT_EQ_U64(epoch1, tp_producer_epoch(producer));
    TP_ASSERT_EQ_U64(100, tp_producer_next_seq(producer));

    /* 20 frames whose descriptors are still in flight when the layout changes */
    for (int i = 0; i < 20; i++)
    {
        uint64_t seq = tp_producer_next_seq(producer);
        tpc_fill(buf, 200, seq);
        TP_ASSERT_EQ_I64((int64_t)seq, tp_producer_offer(producer, NULL, buf, 200, NULL));
    }
    tp_producer_stats_t ps;
    TP_ASSERT_OK(tp_producer_stats(producer, &ps));
    uint64_t announces_before = ps.announces;
    TP_ASSERT_OK(tp_producer_change_layout(producer, &l));
    uint64_t epoch2 = tp_producer_epoch(producer);
    atomic_store(&rx.new_epoch, epoch2);
    TP_ASSERT_EQ_U64(epoch1 + 1, epoch2);
    TP_ASSERT_EQ_U64(0, tp_producer_next_seq(producer));
    TP_ASSERT_OK(tp_producer_stats(producer, &ps));
    TP_ASSERT_EQ_U64(announces_before + 1, ps.announces); /* announced on change, before any new frame */
    TP_ASSERT_EQ_U64(1, ps.layout_changes);
    TP_ASSERT_EQ_U64(epoch2, ps.epoch);
    TP_ASSERT_EQ_U64(0, ps.current_seq);
    TP_ASSERT(0 != strcmp(dir1, tp_producer_epoch_dir(producer)));
    TP_ASSERT(0 == access(dir1, F_OK)); /* old epoch kept for the grace period */
    TP_ASSERT_OK(tp_producer_layout(producer, &l));
    TP_ASSERT_EQ_U64(256, l.header_nslots);
    TP_ASSERT_EQ_U64(12, l.pools[0].pool_id);

    /* new epoch: seq from 0, payloads up to the new 8 KiB stride */
    for (int i = 0; i < 300; i++)
    {
        uint64_t seq = tp_producer_next_seq(producer);
        size_t len = (i % 2) ? 8192 : 1000;
        tpc_fill(buf, len, seq);
        TP_ASSERT_EQ_I64((int64_t)seq, tp_producer_offer(producer, NULL, buf, len, NULL));
        tp_client_do_work(client);
    }
    TPC_WAIT_UNTIL(client, atomic_load(&rx.frames_new_epoch) >= 300, 3000);
    tp_consumer_stats_t cs;
    TP_ASSERT_OK(tp_consumer_stats(consumer, &cs));
    TP_ASSERT_EQ_U64(300, atomic_load(&rx.frames_new_epoch));
    TP_ASSERT_EQ_U64(0, atomic_load(&rx.first_seq_new_epoch));
    TP_ASSERT_EQ_U64(299, atomic_load(&rx.last_seq));
    TP_ASSERT_EQ_U64(400, atomic_load(&rx.frames)); /* 100 + 300: the 20 in flight were dropped */
    TP_ASSERT_EQ_U64(0, atomic_load(&rx.bad));
    TP_ASSERT_EQ_U64(0, atomic_load(&rx.wrong_pool));
    TP_ASSERT_EQ_U64(20, cs.descriptors_wrong_epoch);
    TP_ASSERT_EQ_U64(2, cs.remaps); /* the first mapping and one remap */
    TP_ASSERT_EQ_U64(1, cs.unmaps);
    TP_ASSERT_EQ_U64(epoch2, cs.epoch);
    TP_ASSERT_EQ_U64(0, cs.drops_gap);

    /* grace period over (freshness window 150 ms): the old epoch directory is gone, the new one stays */
    TPC_WAIT_UNTIL(client, 0 != access(dir1, F_OK), 3000);
    TP_ASSERT(0 != access(dir1, F_OK));
    char dir2[PATH_MAX];
    snprintf(dir2, sizeof(dir2), "%s", tp_producer_epoch_dir(producer));
    TP_ASSERT(0 == access(dir2, F_OK));
    TP_ASSERT_OK(tp_producer_close(producer));
    TP_ASSERT(0 != access(dir2, F_OK)); /* remove_on_close */
    TP_ASSERT_OK(tp_client_close(client));
    tpc_dirs_remove(&d);
}

/* Conductor thread: the change is handed over through atomics while frames flow (run under TSan too). */
static void test_change_layout_threaded(void)
{
    tpc_dirs_t d;
    TP_ASSERT_OK(tpc_dirs_make(&d, "layoutthr"));
    tp_context_t *ctx = tpc_context(&d);
    TP_ASSERT(NULL != ctx);
    TP_ASSERT_OK(tp_context_set_use_conductor_thread(ctx, true));
    TP_ASSERT_OK(tp_context_set_idle_strategy(ctx, "sleep"));
    tp_client_t *client = NULL;
    TP_ASSERT_OK(tp_client_init(&client, ctx));
    tp_context_close(ctx);
    TP_ASSERT_OK(tp_client_start(client));
    static lrx_t rx;
    tp_consumer_config_t cc;
    tp_consumer_config_defaults(&cc);
    cc.on_frame = on_frame;
    cc.clientd = &rx;
    tp_consumer_t *consumer = NULL;
    TP_ASSERT_OK(tp_client_add_consumer(&consumer, client, &cc, 5000000000u));
    tp_producer_config_t pc;
    producer_config(&pc);
    tp_producer_t *producer = NULL;
    TP_ASSERT_OK(tp_client_add_producer(&producer, client, &pc, 5000000000u));
    uint64_t deadline = tp_clock_mono_ns() + 5000000000u;
    while (!tp_consumer_is_mapped(consumer) && tp_clock_mono_ns() < deadline)
    {
        tp_sleep_ns(1000000);
    }
    TP_ASSERT(tp_consumer_is_mapped(consumer));
    uint8_t buf[8192];
    tp_producer_layout_t l;
    uint64_t epoch0 = tp_producer_epoch(producer);
    for (int round = 0; round < 3; round++)
    {
        for (int i = 0; i < 200; i++)
        {
            uint64_t seq = tp_producer_next_seq(producer);
            tpc_fill(buf, 1000, seq);
            TP_ASSERT(tp_producer_offer(producer, NULL, buf, 1000, NULL) >= 0);
            tp_sleep_ns(50000);
        }
        new_layout(&l);
        l.header_nslots = 128u << round;
        TP_ASSERT_OK(tp_producer_change_layout(producer, &l));
        TP_ASSERT_EQ_U64(epoch0 + (uint64_t)round + 1, tp_producer_epoch(producer));
    }
    uint64_t last = tp_producer_epoch(producer);
    atomic_store(&rx.new_epoch, last);
    for (int i = 0; i < 200; i++)
    {
        uint64_t seq = tp_producer_next_seq(producer);
        tpc_fill(buf, 5000, seq);
        TP_ASSERT_EQ_I64((int64_t)seq, tp_producer_offer(producer, NULL, buf, 5000, NULL));
        tp_sleep_ns(50000);
    }
    tp_consumer_stats_t cs;
    deadline = tp_clock_mono_ns() + 5000000000u;
    do
    {
        tp_sleep_ns(1000000);
        tp_consumer_stats(consumer, &cs);
    } while (atomic_load(&rx.frames_new_epoch) < 200 && tp_clock_mono_ns() < deadline);
    TP_ASSERT_EQ_U64(200, atomic_load(&rx.frames_new_epoch));
    TP_ASSERT_EQ_U64(0, atomic_load(&rx.first_seq_new_epoch));
    TP_ASSERT_EQ_U64(0, atomic_load(&rx.bad));
    TP_ASSERT_EQ_U64(last, cs.epoch);
    /* one remap per change; a consumer stalled beyond the grace period may skip an intermediate epoch */
    TP_ASSERT(cs.remaps >= 2 && cs.remaps <= 4);
    tp_producer_stats_t ps;
    TP_ASSERT_OK(tp_producer_stats(producer, &ps));
    TP_ASSERT_EQ_U64(3, ps.layout_changes);
    TP_ASSERT_EQ_U64(200, ps.current_seq);
    TP_ASSERT_OK(tp_client_close(client));
    tpc_dirs_remove(&d);
}

int main(void)
{
    TP_RUN(test_change_layout);
    TP_RUN(test_change_layout_threaded);
    return tp_test_finish();
}
