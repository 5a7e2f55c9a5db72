/*
 * Proves that the rate limiter's steady state allocates nothing: malloc,
 * calloc, realloc and free are interposed in this binary and counted while
 * frames move source -> agent -> consumer after a warm-up, both unlimited
 * (every frame claimed, copied, committed) and rate-limited (candidates
 * staged, superseded and aborted, published when the injected clock opens a
 * slot), with metadata forwarding, ConsumerHello handling and the clients'
 * periodic announces/QoS running.
 */
#include <stdatomic.h>

#include "client/tp_client_test_util.h"
#include "ratelimit/tp_ratelimit.h"
#include "tp_test.h"

#include "tp_noalloc.h"

#if !TP_NOALLOC_SKIP
static uint64_t received;
static uint64_t fake_now = UINT64_C(1000000000000);

static uint64_t fake_clock(void *clientd)
{
    (void)clientd;
    return fake_now;
}

static void on_frame(void *clientd, const tp_frame_t *frame)
{
    (void)clientd;
    (void)frame;
    received++;
}

typedef struct env_stct
{
    tp_client_t *src;
    tp_client_t *dst;
    tp_producer_t *producer;
    tp_ratelimit_t *rl;
} env_t;

static void pump(env_t *e, int cycles)
{
    for (int i = 0; i < cycles; i++)
    {
        tp_client_do_work(e->src);
        tp_ratelimit_do_work(e->rl);
        tp_client_do_work(e->dst);
    }
}

/* `frames` frames; the fake clock moves by `step_ns` after each (0 with the unlimited mapping). */
static void run(env_t *e, int frames, uint64_t step_ns)
{
    static uint8_t payload[4096];
    for (int i = 0; i < frames; i++)
    {
        memset(payload, i, sizeof(payload));
        tp_producer_offer(e->producer, NULL, payload, sizeof(payload), NULL);
        pump(e, 3);
        fake_now += step_ns;
        tp_sleep_ns(200000); /* real time passes too: announces, QoS, hellos, forwarded metadata */
    }
}

static void test_steady_state_allocates_nothing(void)
{
    tpc_dirs_t dirs;
    TP_ASSERT_OK(tpc_dirs_make(&dirs, "rlnoalloc"));
    tp_transport_t *hold = tpc_driver_hold(&dirs);
    tp_context_t *ctx = tpc_context(&dirs);
    TP_ASSERT(NULL != ctx);
    env_t e;
    memset(&e, 0, sizeof(e));
    TP_ASSERT_OK(tp_client_init(&e.src, ctx));
    TP_ASSERT_OK(tp_client_start(e.src));
    tp_producer_config_t pc;
    tp_producer_config_defaults(&pc);
    pc.stream_id = 10000;
    pc.header_nslots = 64;
    TP_ASSERT_OK(tp_client_add_producer(&e.producer, e.src, &pc, 0));
    const char *keys[] = { "k" };
    const char *formats[] = { "text" };
    const uint8_t value[] = "v";
    const uint8_t *values[] = { value };
    uint32_t lens[] = { 1 };
    TP_ASSERT(tp_producer_set_metadata(e.producer, 1, keys, formats, values, lens) > 0);
    tp_ratelimit_config_t c;
    tp_ratelimit_config_init(&c);
    snprintf(c.instance_id, sizeof(c.instance_id), "noalloc");
    snprintf(c.descriptor_channel, sizeof(c.descriptor_channel), "aeron:ipc");
    c.descriptor_stream_id = 1101;
    c.mapping_count = 1;
    tp_ratelimit_mapping_defaults(&c.mappings[0]);
    c.mappings[0].source_stream_id = 10000;
    c.mappings[0].dest_stream_id = 10001;
    c.mappings[0].max_rate_hz = 100; /* 10 ms slots on the fake clock */
    c.mappings[0].max_rate_set = true;
    c.mappings[0].per_consumer = true; /* the consumer below asks for 0 = unlimited at first */
    TP_ASSERT_OK(tp_ratelimit_init(&e.rl, &c, ctx));
    tp_ratelimit_set_clock(e.rl, fake_clock, NULL);
    tp_context_t *dctx = tpc_context(&dirs);
    TP_ASSERT(NULL != dctx);
    TP_ASSERT_OK(tp_context_set_stream(dctx, TP_STREAM_DESCRIPTOR, "aeron:ipc", 1101));
    TP_ASSERT_OK(tp_client_init(&e.dst, dctx));
    tp_context_close(dctx);
    TP_ASSERT_OK(tp_client_start(e.dst));
    tp_consumer_config_t cc;
    tp_consumer_config_defaults(&cc);
    cc.stream_id = 10001;
    cc.on_frame = on_frame;
    tp_consumer_t *consumer = NULL;
    TP_ASSERT_OK(tp_client_add_consumer(&consumer, e.dst, &cc, 0));
    uint64_t deadline = tp_clock_mono_ns() + UINT64_C(10000000000);
    while (!(tp_consumer_is_mapped(consumer) && tp_consumer_is_mapped(tp_ratelimit_source_consumer(e.rl, 0))) &&
        tp_clock_mono_ns() < deadline)
    {
        pump(&e, 1);
        tp_sleep_ns(100000);
    }
    TP_ASSERT(tp_consumer_is_mapped(consumer));

    /* unlimited (the governing consumer sent max_rate_hz 0): warm up, then count */
    run(&e, 100, 0);
    tp_ratelimit_stats_t s;
    TP_ASSERT_OK(tp_ratelimit_stats(e.rl, 0, &s));
    TP_ASSERT(s.consumer_id != 0);
    TP_ASSERT_EQ_U64(0, s.rate_hz);
    uint64_t out_before = s.frames_out;
    atomic_store(&allocations, 0);
    atomic_store(&counting, 1);
    run(&e, 300, 0);
    atomic_store(&counting, 0);
    unsigned long unlimited_allocs = atomic_load(&allocations);
    TP_ASSERT_OK(tp_ratelimit_stats(e.rl, 0, &s));
    TP_ASSERT(s.frames_out >= out_before + 300);
    TP_ASSERT(s.metadata_forwarded > 0);
    TP_ASSERT_EQ_U64(0, unlimited_allocs);

    /* rate-limited: once the governing consumer is gone (stale on the agent's clock), the configured rate */
    tp_consumer_close(consumer);
    fake_now += UINT64_C(60000000000); /* the governing consumer is now stale: the configured 100 Hz applies */
    pump(&e, 10);
    TP_ASSERT_OK(tp_ratelimit_stats(e.rl, 0, &s));
    TP_ASSERT_EQ_U64(100, s.rate_hz);
    run(&e, 100, 3000000); /* warm up: 3 ms per frame, 10 ms slots */
    TP_ASSERT_OK(tp_ratelimit_stats(e.rl, 0, &s));
    uint64_t superseded = s.drops[TP_RATELIMIT_DROP_RATE];
    out_before = s.frames_out;
    atomic_store(&allocations, 0);
    atomic_store(&counting, 1);
    run(&e, 300, 3000000);
    atomic_store(&counting, 0);
    unsigned long limited_allocs = atomic_load(&allocations);
    TP_ASSERT_OK(tp_ratelimit_stats(e.rl, 0, &s));
    TP_ASSERT(s.drops[TP_RATELIMIT_DROP_RATE] > superseded); /* the abort path ran */
    TP_ASSERT(s.frames_out > out_before);                    /* and the publish path */
    TP_ASSERT_EQ_U64(0, limited_allocs);

    tp_client_close(e.dst);
    tp_ratelimit_close(e.rl);
    tp_producer_close(e.producer);
    tp_client_close(e.src);
    tp_context_close(ctx);
    tpc_driver_release(hold);
    tpc_dirs_remove(&dirs);
}
#else
static void test_steady_state_allocates_nothing(void)
{
    TP_SKIP("malloc interposition does not combine with sanitizers");
}
#endif

int main(void)
{
    TP_RUN(test_steady_state_allocates_nothing);
    return tp_test_finish();
}
