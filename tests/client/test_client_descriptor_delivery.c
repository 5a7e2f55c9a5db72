/*
 * Descriptor delivery regression tests: the switch to a per-consumer
 * descriptor stream loses nothing and does not take the fan-out's replay for
 * a regression; on the producer's hot path, an empty frame queued behind an
 * open claim, the NO_POOL message, a failed descriptor commit counted as
 * failed, a back-pressured offer leaving its slot in progress; and
 * per-consumer stream requests from untrusted ConsumerHello channels
 * declined.
 */
#include <stdatomic.h>

#include "client/tp_client_internal.h"
#include "tp_client_test_util.h"
#include "tp_test.h"
#include "tpc_faults.h"
#include "transport/tp_transport.h"
#include "transport/tp_transport_internal.h"
#include "shm/tp_shm_lib.h"

typedef struct
{
    uint64_t frames;
    uint64_t first_seq;
    uint64_t last_seq;
    uint64_t out_of_order;
} seq_rx_t;

static void on_frame_seq(void *clientd, const tp_frame_t *frame)
{
    seq_rx_t *rx = clientd;
    if (0 == rx->frames)
    {
        rx->first_seq = frame->seq;
    }
    else if (frame->seq != rx->last_seq + 1)
    {
        rx->out_of_order++;
    }
    rx->last_seq = frame->seq;
    rx->frames++;
}

/* Run only the consumer's client until its descriptor stream is `stream_id` (embedded: one duty cycle). */
static void wait_for_switch(tp_client_t *cclient, tp_consumer_t *consumer, uint32_t stream_id)
{
    tp_consumer_stats_t cs;
    uint64_t deadline = tp_clock_mono_ns() + 5000000000u;
    do
    {
        tp_client_do_work(cclient);
        tp_consumer_stats(consumer, &cs);
    } while (cs.descriptor_stream_id != stream_id && tp_clock_mono_ns() < deadline);
}

static uint64_t offer_burst(tp_producer_t *producer, int n)
{
    uint8_t buf[64] = { 0 };
    uint64_t offered = 0;
    for (int i = 0; i < n; i++)
    {
        if (tp_producer_offer(producer, NULL, buf, sizeof(buf), NULL) >= 0)
        {
            offered++;
        }
    }
    return offered;
}

/*
 * A consumer switching to its per-consumer descriptor stream (producer and consumer in two clients, so that the
 * test orders their duty cycles): descriptors still unread on the shared stream when the switch completes - whose
 * fan-out went to the not yet connected per-consumer publication - must not be lost, and the fan-out's replay of
 * seqs already delivered by the shared stream are duplicates, not a regression (no unmap).
 * `replay`: a burst is read on the shared stream and fanned out only after the switch.
 */
static void descriptor_stream_switch(bool replay)
{
    tpc_dirs_t d;
    TP_ASSERT_OK(tpc_dirs_make(&d, "switch"));
    tp_context_t *ctx = tpc_context(&d);
    TP_ASSERT(NULL != ctx);
    static tpc_faults_t pfaults, cfaults;
    tp_client_t *pclient = NULL, *cclient = NULL;
    TP_ASSERT_OK(tpc_faults_install(&pfaults, ctx));
    TP_ASSERT_OK(tp_client_init(&pclient, ctx));
    TP_ASSERT_OK(tpc_faults_install(&cfaults, ctx));
    TP_ASSERT_OK(tp_client_init(&cclient, ctx));
    tp_context_close(ctx);
    tp_producer_config_t pc;
    tp_producer_config_defaults(&pc);
    pc.header_nslots = 1024;
    pc.pool_count = 1;
    pc.pools[0].pool_id = 1;
    pc.pools[0].stride_bytes = 64;
    tp_producer_t *producer = NULL;
    TP_ASSERT_OK(tp_client_add_producer(&producer, pclient, &pc, 5000000000u));
    static seq_rx_t rx;
    memset(&rx, 0, sizeof(rx));
    tp_consumer_config_t cc;
    tp_consumer_config_defaults(&cc);
    cc.on_frame = on_frame_seq;
    cc.clientd = &rx;
    snprintf(cc.descriptor_channel, sizeof(cc.descriptor_channel), "aeron:ipc");
    cc.descriptor_stream_id = 1170;
    tp_consumer_t *consumer = NULL;
    /* the consumer maps while the producer's per-consumer publication is held back (no ConsumerConfig yet) */
    atomic_store(&pfaults.hold_adds, true);
    TP_ASSERT_OK(tp_client_add_consumer(&consumer, cclient, &cc, 5000000000u));
    tp_consumer_stats_t cs;
    uint64_t deadline = tp_clock_mono_ns() + 5000000000u;
    while (!tp_consumer_is_mapped(consumer) && tp_clock_mono_ns() < deadline)
    {
        tp_client_do_work(pclient);
        tp_client_do_work(cclient);
        tp_sleep_ns(1000000);
    }
    TP_ASSERT(tp_consumer_is_mapped(consumer));
    uint64_t offered = offer_burst(producer, 1); /* one frame delivered before the switch */
    /* now the ConsumerConfig reaches the consumer, whose per-consumer subscription is held back */
    atomic_store(&cfaults.hold_adds, true);
    atomic_store(&pfaults.hold_adds, false);
    deadline = tp_clock_mono_ns() + 5000000000u;
    do
    {
        tp_client_do_work(pclient);
        tp_client_do_work(cclient);
        tp_consumer_stats(consumer, &cs);
    } while (0 == cs.configs_received && tp_clock_mono_ns() < deadline);
    TP_ASSERT(cs.configs_received > 0);
    TP_ASSERT_EQ_U64(1100, cs.descriptor_stream_id); /* not switched yet */
    if (!replay)
    {
        /* burst 1: fanned out while nobody subscribes the per-consumer stream (dropped there), unread on the shared one */
        offered += offer_burst(producer, 40);
        tp_client_do_work(pclient);
        /* burst 2: fanned out only after the consumer switched: delivered by both streams */
        offered += offer_burst(producer, 40);
        atomic_store(&cfaults.hold_adds, false);
        wait_for_switch(cclient, consumer, 1170); /* the switch completes */
    }
    else
    {
        /* a burst read on the shared stream before the switch, fanned out (lagging) only after it */
        offered += offer_burst(producer, 40);
        tp_client_do_work(cclient);
        atomic_store(&cfaults.hold_adds, false);
        wait_for_switch(cclient, consumer, 1170); /* the switch completes */
        tp_client_do_work(pclient);               /* the fan-out replays seqs the consumer has seen */
    }
    TP_ASSERT_OK(tp_consumer_stats(consumer, &cs));
    TP_ASSERT_EQ_U64(1170, cs.descriptor_stream_id);
    /* then steady traffic, both sides running */
    for (int i = 0; i < 100; i++)
    {
        offered += offer_burst(producer, 20);
        tp_client_do_work(pclient);
        tp_client_do_work(cclient);
    }
    deadline = tp_clock_mono_ns() + 3000000000u;
    while (rx.last_seq + 1 < offered && tp_clock_mono_ns() < deadline)
    {
        tp_client_do_work(pclient);
        tp_client_do_work(cclient);
    }
    TP_ASSERT_OK(tp_consumer_stats(consumer, &cs));
    TP_ASSERT_EQ_U64(0, cs.unmaps);
    TP_ASSERT_EQ_U64(1, cs.remaps);
    TP_ASSERT_EQ_U64(0, cs.drops_gap);
    TP_ASSERT_EQ_U64(0, rx.out_of_order);
    TP_ASSERT_EQ_U64(offered - 1, rx.last_seq);
    TP_ASSERT_EQ_U64(0, rx.first_seq);
    TP_ASSERT_EQ_U64(offered, rx.frames);
    TP_ASSERT(cs.descriptors_duplicate >= 40); /* burst 2 came twice */
    TP_ASSERT_OK(tp_client_close(cclient));
    TP_ASSERT_OK(tp_client_close(pclient));
    tpc_dirs_remove(&d);
}

static void test_descriptor_stream_switch_loses_nothing(void)
{
    descriptor_stream_switch(false);
}

static void test_descriptor_stream_switch_replay_is_not_a_regression(void)
{
    descriptor_stream_switch(true);
}

/* A producer (invoker client) with a consumer on the same client; for the hot-path tests. */
typedef struct
{
    tpc_dirs_t dirs;
    tp_client_t *client;
    tp_producer_t *producer;
    tp_consumer_t *consumer;
    seq_rx_t rx;
    tpc_faults_t faults; /* transport fault injection of the client */
} hot_fixture_t;

static int hot_open(hot_fixture_t *f, const char *tag, bool with_consumer)
{
    memset(f, 0, sizeof(*f));
    if (tpc_dirs_make(&f->dirs, tag) < 0)
    {
        return -1;
    }
    tp_context_t *ctx = tpc_context(&f->dirs);
    if (NULL == ctx || tpc_faults_install(&f->faults, ctx) < 0 || tp_client_init(&f->client, ctx) < 0)
    {
        tp_context_close(ctx);
        return -1;
    }
    tp_context_close(ctx);
    tp_producer_config_t pc;
    tp_producer_config_defaults(&pc);
    pc.header_nslots = 64;
    pc.pool_count = 2;
    pc.pools[0].pool_id = 1;
    pc.pools[0].stride_bytes = 256;
    pc.pools[1].pool_id = 2;
    pc.pools[1].stride_bytes = 4096;
    pc.max_claims = 8;
    if (tp_client_add_producer(&f->producer, f->client, &pc, 5000000000u) < 0)
    {
        return -1;
    }
    if (with_consumer)
    {
        tp_consumer_config_t cc;
        tp_consumer_config_defaults(&cc);
        cc.on_frame = on_frame_seq;
        cc.clientd = &f->rx;
        if (tp_client_add_consumer(&f->consumer, f->client, &cc, 5000000000u) < 0)
        {
            return -1;
        }
        TPC_WAIT_UNTIL(f->client, tp_consumer_is_mapped(f->consumer), 3000);
        if (!tp_consumer_is_mapped(f->consumer))
        {
            return -1;
        }
    }
    return 0;
}

static void hot_close(hot_fixture_t *f)
{
    tp_client_close(f->client);
    tpc_dirs_remove(&f->dirs);
}

/* An empty frame (NULL payload, length 0) queued behind an open claim: no memcpy from NULL (UBSan). */
static void test_offer_empty_frame_queued(void)
{
    static hot_fixture_t f;
    TP_ASSERT_OK(hot_open(&f, "emptyq", true));
    tp_frame_claim_t claim;
    int64_t seq = tp_producer_try_claim(f.producer, 100, &claim);
    TP_ASSERT(seq >= 0);
    TP_ASSERT_EQ_I64(TP_PRODUCER_QUEUED, tp_producer_offer(f.producer, NULL, NULL, 0, NULL));
    memset(claim.data, 7, 100);
    TP_ASSERT_EQ_I64(seq, tp_frame_claim_commit(&claim, NULL, 100, NULL));
    TP_ASSERT_EQ_I64(seq + 2, (int64_t)tp_producer_next_seq(f.producer));
    TPC_WAIT_UNTIL(f.client, f.rx.frames >= 2, 2000);
    TP_ASSERT_EQ_U64(2, f.rx.frames);
    /* and not queued */
    TP_ASSERT_EQ_I64(seq + 2, tp_producer_offer(f.producer, NULL, NULL, 0, NULL));
    TPC_WAIT_UNTIL(f.client, f.rx.frames >= 3, 2000);
    TP_ASSERT_EQ_U64(3, f.rx.frames);
    hot_close(&f);
}

/* NO_POOL says why: payload size, largest stride, what to configure. */
static void test_no_pool_message(void)
{
    static hot_fixture_t f;
    TP_ASSERT_OK(hot_open(&f, "nopool", false));
    static uint8_t buf[5000];
    tp_err_clear();
    TP_ASSERT_EQ_I64(TP_PRODUCER_NO_POOL, tp_producer_offer(f.producer, NULL, buf, sizeof(buf), NULL));
    TP_ASSERT_MSG(NULL != strstr(tp_errmsg(), "5000 bytes") && NULL != strstr(tp_errmsg(), "4096"),
        "NO_POOL message: '%s'", tp_errmsg());
    tp_err_clear();
    tp_frame_claim_t claim;
    TP_ASSERT_EQ_I64(TP_PRODUCER_NO_POOL, tp_producer_try_claim(f.producer, 4097, &claim));
    TP_ASSERT_MSG(NULL != strstr(tp_errmsg(), "4097 bytes") && NULL != strstr(tp_errmsg(), "stride_bytes"),
        "NO_POOL message: '%s'", tp_errmsg());
    hot_close(&f);
}

/*
 * A commit whose descriptor claim fails with an error: the claim is consumed, the frame stays queued
 * uncommitted (TP_PRODUCER_DEFERRED, not TP_PRODUCER_ERROR, which would say the claim was not consumed), and
 * tp_producer_flush() publishes it.
 */
static void test_commit_deferred_when_descriptor_claim_fails(void)
{
    static hot_fixture_t f;
    TP_ASSERT_OK(hot_open(&f, "deferred", true));
    tp_frame_claim_t claim;
    int64_t seq = tp_producer_try_claim(f.producer, 64, &claim);
    TP_ASSERT_EQ_I64(0, seq);
    memset(claim.data, 5, 64);
    atomic_store(&f.faults.fail_try_claims, 1);
    TP_ASSERT_EQ_I64(TP_PRODUCER_DEFERRED, tp_frame_claim_commit(&claim, NULL, 64, NULL));
    TP_ASSERT_EQ_I64(TP_ERR_IO, tp_errcode());
    TP_ASSERT_EQ_I64(TP_PRODUCER_ERROR, tp_frame_claim_commit(&claim, NULL, 64, NULL)); /* consumed */
    tp_producer_stats_t ps;
    TP_ASSERT_OK(tp_producer_stats(f.producer, &ps));
    TP_ASSERT_EQ_U64(0, ps.frames);
    TP_ASSERT_EQ_I64(1, tp_producer_flush(f.producer));
    TP_ASSERT_OK(tp_producer_stats(f.producer, &ps));
    TP_ASSERT_EQ_U64(1, ps.frames);
    TP_ASSERT_EQ_U64(1, ps.descriptors_published);
    TPC_WAIT_UNTIL(f.client, f.rx.frames >= 1, 2000);
    TP_ASSERT_EQ_U64(1, f.rx.frames);
    TP_ASSERT_EQ_U64(0, f.rx.first_seq);
    hot_close(&f);
}

/* A descriptor whose commit fails in the transport is counted as failed, not as published. */
static void test_descriptor_commit_failure_counted(void)
{
    static hot_fixture_t f;
    TP_ASSERT_OK(hot_open(&f, "commitfail", true));
    uint8_t buf[64] = { 0 };
    TP_ASSERT_EQ_I64(0, tp_producer_offer(f.producer, NULL, buf, sizeof(buf), NULL));
    atomic_store(&f.faults.fail_claim_commits, 1);
    TP_ASSERT_EQ_I64(1, tp_producer_offer(f.producer, NULL, buf, sizeof(buf), NULL)); /* committed in SHM */
    atomic_store(&f.faults.fail_claim_commits, 0);
    TP_ASSERT_EQ_I64(2, tp_producer_offer(f.producer, NULL, buf, sizeof(buf), NULL));
    tp_producer_stats_t ps;
    TP_ASSERT_OK(tp_producer_stats(f.producer, &ps));
    TP_ASSERT_EQ_U64(3, ps.frames);
    TP_ASSERT_EQ_U64(2, ps.descriptors_published);
    TP_ASSERT_EQ_U64(1, ps.descriptors_failed);
    TPC_WAIT_UNTIL(f.client, f.rx.frames >= 2, 2000);
    tp_consumer_stats_t cs;
    TP_ASSERT_OK(tp_consumer_stats(f.consumer, &cs));
    TP_ASSERT_EQ_U64(2, f.rx.frames);
    TP_ASSERT_EQ_U64(1, cs.drops_gap); /* the lost descriptor */
    hot_close(&f);
}

static void ignore_fragment(void *clientd, const uint8_t *buffer, size_t length, const tp_header_t *header)
{
    (void)clientd;
    (void)buffer;
    (void)length;
    (void)header;
}

/* Seq word of the ring slot of `seq` (low bit set: committed), read through a separate inspection mapping. */
static uint64_t ring_seq_word(tp_producer_t *producer, uint64_t seq, uint32_t nslots)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/header.ring", tp_producer_epoch_dir(producer));
    tp_shm_region_t *ring = NULL;
    if (tp_shm_region_map_inspect(&ring, path) < 0)
    {
        return UINT64_MAX;
    }
    uint64_t word = tp_shm_slot_seq_commit_load(ring, tp_shm_header_index(seq, nslots));
    tp_shm_region_close(ring);
    return word;
}

/*
 * Offer under back pressure: the payload is written first, the descriptor claimed afterwards; the refused frame
 * leaves its slot IN PROGRESS (never committed without a descriptor), next_seq unchanged, and the retry reuses
 * the seq.
 */
static void test_back_pressured_offer_leaves_slot_in_progress(void)
{
    tpc_dirs_t d;
    TP_ASSERT_OK(tpc_dirs_make(&d, "bpslot"));
    tp_context_t *ctx = tpc_context(&d);
    TP_ASSERT(NULL != ctx);
    TP_ASSERT_OK(tp_context_set_stream(ctx, TP_STREAM_DESCRIPTOR, "aeron:ipc?term-length=65536", 1100));
    tp_client_t *client = NULL;
    TP_ASSERT_OK(tp_client_init(&client, ctx));
    tp_context_close(ctx);
    tp_producer_config_t pc;
    tp_producer_config_defaults(&pc);
    pc.header_nslots = 64;
    pc.pool_count = 1;
    pc.pools[0].pool_id = 1;
    pc.pools[0].stride_bytes = 128;
    tp_producer_t *producer = NULL;
    TP_ASSERT_OK(tp_client_add_producer(&producer, client, &pc, 5000000000u));
    /* a tethered subscriber that never polls: the descriptor log fills up */
    tp_subscription_t *sub = NULL;
    TP_ASSERT_OK(tp_transport_add_subscription(&sub, client->transport,
        "aeron:ipc?term-length=65536|untethered-window-limit-timeout=60s", 1100, NULL, NULL, NULL, NULL, 0));
    uint8_t buf[64];
    int64_t rc = 0;
    uint64_t published = 0;
    for (int i = 0; i < 100000; i++)
    {
        memset(buf, (int)(i & 0xff), sizeof(buf));
        rc = tp_producer_offer(producer, NULL, buf, sizeof(buf), NULL);
        if (rc < 0)
        {
            break;
        }
        published++;
    }
    TP_ASSERT_EQ_I64(TP_PRODUCER_BACK_PRESSURED, rc);
    TP_ASSERT_EQ_U64(published, tp_producer_next_seq(producer)); /* no sequence number burnt */
    uint64_t word = ring_seq_word(producer, published, 64);
    TP_ASSERT_EQ_U64(published << 1, word); /* written, in progress, not committed */
    TP_ASSERT_EQ_U64((published - 1) << 1 | 1u, ring_seq_word(producer, published - 1, 64));
    /* retried while still back pressured: same seq, still in progress */
    TP_ASSERT_EQ_I64(TP_PRODUCER_BACK_PRESSURED, tp_producer_offer(producer, NULL, buf, sizeof(buf), NULL));
    TP_ASSERT_EQ_U64(published, tp_producer_next_seq(producer));
    TP_ASSERT_EQ_U64(published << 1, ring_seq_word(producer, published, 64));
    /* drained: the retry publishes exactly that seq */
    int64_t retry = TP_PRODUCER_BACK_PRESSURED;
    uint64_t deadline = tp_clock_mono_ns() + 5000000000u;
    while (TP_PRODUCER_BACK_PRESSURED == retry && tp_clock_mono_ns() < deadline)
    {
        while (tp_subscription_poll(sub, ignore_fragment, NULL, 1000) > 0)
        {
        }
        tp_client_do_work(client);
        retry = tp_producer_offer(producer, NULL, buf, sizeof(buf), NULL);
    }
    TP_ASSERT_EQ_I64((int64_t)published, retry);
    TP_ASSERT_EQ_U64(published << 1 | 1u, ring_seq_word(producer, published, 64));
    tp_producer_stats_t ps;
    TP_ASSERT_OK(tp_producer_stats(producer, &ps));
    TP_ASSERT_EQ_U64(published + 1, ps.frames);
    TP_ASSERT_EQ_U64(published + 1, ps.descriptors_published);
    tp_subscription_close(sub);
    TP_ASSERT_OK(tp_client_close(client));
    tpc_dirs_remove(&d);
}

static bool has_publication(tp_transport_t *t, int32_t stream_id)
{
    for (tp_publication_t *p = t->publications; NULL != p; p = p->next)
    {
        if (p->stream_id == stream_id)
        {
            return true;
        }
    }
    return false;
}

/*
 * ConsumerHello is untrusted: per-consumer streams on channels outside the producer's allow-list (default:
 * aeron:ipc only) or with a term-length above the cap are declined (§10.1.3), no publication is opened.
 */
static void test_untrusted_hello_channels_declined(void)
{
    tpc_dirs_t d;
    TP_ASSERT_OK(tpc_dirs_make(&d, "allow"));
    tp_context_t *ctx = tpc_context(&d);
    TP_ASSERT(NULL != ctx);
    tp_client_t *client = NULL;
    TP_ASSERT_OK(tp_client_init(&client, ctx));
    tp_context_close(ctx);
    tp_producer_config_t pc;
    tp_producer_config_defaults(&pc);
    pc.header_nslots = 64;
    snprintf(pc.per_consumer_channels[0], sizeof(pc.per_consumer_channels[0]), "udp:bad");
    tp_producer_t *producer = NULL;
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_client_add_producer(&producer, client, &pc, 5000000000u));
    tp_producer_config_defaults(&pc);
    pc.header_nslots = 64;
    pc.per_consumer_max_term_length = 1024 * 1024;
    TP_ASSERT_OK(tp_client_add_producer(&producer, client, &pc, 5000000000u));
    const char *channels[] = {
        "aeron:udp?endpoint=127.0.0.1:40999", /* not ipc: declined */
        "aeron:ipc?term-length=1g",           /* above the cap: declined */
        "aeron:ipcx",                         /* not the ipc media: declined */
        "aeron:ipc?term-length=64k",          /* allowed */
    };
    const int32_t ids[] = { 1181, 1182, 1183, 1184 };
    static seq_rx_t rx[4];
    tp_consumer_t *consumers[4] = { NULL };
    for (int i = 0; i < 4; i++)
    {
        tp_consumer_config_t cc;
        tp_consumer_config_defaults(&cc);
        cc.on_frame = on_frame_seq;
        cc.clientd = &rx[i];
        snprintf(cc.descriptor_channel, sizeof(cc.descriptor_channel), "%s", channels[i]);
        cc.descriptor_stream_id = ids[i];
        TP_ASSERT_OK(tp_client_add_consumer(&consumers[i], client, &cc, 5000000000u));
    }
    tp_consumer_stats_t cs[4];
    TPC_WAIT_UNTIL(client,
        (tp_consumer_stats(consumers[0], &cs[0]), tp_consumer_stats(consumers[1], &cs[1]),
            tp_consumer_stats(consumers[2], &cs[2]), tp_consumer_stats(consumers[3], &cs[3]),
            cs[0].configs_received > 0 && cs[1].configs_received > 0 && cs[2].configs_received > 0 &&
                1184 == cs[3].descriptor_stream_id),
        3000);
    for (int i = 0; i < 3; i++)
    {
        TP_ASSERT(cs[i].configs_received > 0);              /* answered ... */
        TP_ASSERT_EQ_U64(1100, cs[i].descriptor_stream_id); /* ... with a decline: stays on the shared stream */
        TP_ASSERT(!has_publication(client->transport, ids[i]));
    }
    TP_ASSERT_EQ_U64(1184, cs[3].descriptor_stream_id);
    TP_ASSERT(has_publication(client->transport, 1184));
    TP_ASSERT_OK(tp_client_close(client));
    tpc_dirs_remove(&d);
}

int main(void)
{
    TP_RUN(test_descriptor_stream_switch_loses_nothing);
    TP_RUN(test_descriptor_stream_switch_replay_is_not_a_regression);
    TP_RUN(test_offer_empty_frame_queued);
    TP_RUN(test_no_pool_message);
    TP_RUN(test_commit_deferred_when_descriptor_claim_fails);
    TP_RUN(test_descriptor_commit_failure_counted);
    TP_RUN(test_back_pressured_offer_leaves_slot_in_progress);
    TP_RUN(test_untrusted_hello_channels_declined);
    return tp_test_finish();
}
