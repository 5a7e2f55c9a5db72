/*
 * Rate limiter in driver mode (RateLimiter spec §3, Driver Model): the agent
 * attaches to the SHM driver as the destination stream's producer (regions
 * from the driver's profile), frames flow source -> agent -> consumer through
 * driver-owned regions with their seq, the driver refuses a second
 * producer on the destination stream (exclusive producer), and a source
 * epoch change moves the destination to a new lease and epoch (§7).
 */
#include <string.h>

#include "client/tp_client_test_util.h"
#include "ratelimit/tp_ratelimit.h"
#include "tensor_pool/tp_driver.h"
#include "tp_test.h"

static const char driver_config[] = "[policies]\nannounce_period_ms = 100\nlease_keepalive_interval_ms = 100\n"
                                    "shutdown_timeout_ms = 50\n"
                                    "[profiles.p]\nheader_nslots = 64\npayload_pools = [{ pool_id = 1, stride_bytes = 4096 }]\n"
                                    "[streams.src]\nstream_id = 10000\nprofile = \"p\"\n"
                                    "[streams.dst]\nstream_id = 10001\nprofile = \"p\"\n";

typedef struct rx_stct
{
    uint64_t frames;
    uint64_t bad;
    uint64_t last_seq;
} rx_t;

static void on_frame(void *clientd, const tp_frame_t *f)
{
    rx_t *rx = clientd;
    bool ok = 300 == f->length;
    for (size_t i = 0; ok && i < f->length; i++)
    {
        ok = f->payload[i] == (uint8_t)(f->seq * 3 + i);
    }
    rx->bad += ok ? 0 : 1;
    rx->frames++;
    rx->last_seq = f->seq;
}

static void test_driver_mode(void)
{
    tpc_dirs_t dirs;
    TP_ASSERT_OK(tpc_dirs_make(&dirs, "rldrv"));
    tp_transport_t *hold = tpc_driver_hold(&dirs);
    tp_driver_config_t *dcfg = NULL;
    tp_driver_t *driver = NULL;
    TP_ASSERT_OK(tp_driver_config_init(&dcfg));
    TP_ASSERT_OK(tp_driver_config_load_string(dcfg, driver_config, sizeof(driver_config) - 1, "d.toml"));
    TP_ASSERT_OK(tp_driver_config_set_shm_base_dir(dcfg, dirs.shm));
    TP_ASSERT_OK(tp_driver_config_set_transport(dcfg, NULL, dirs.transport));
    TP_ASSERT_OK(tp_driver_init(&driver, dcfg));
    tp_driver_config_close(dcfg);
    TP_ASSERT_OK(tp_driver_start(driver));

    tp_context_t *ctx = tpc_context(&dirs);
    TP_ASSERT(NULL != ctx);
    TP_ASSERT_OK(tp_context_set_driver_mode(ctx, true));
    TP_ASSERT_OK(tp_context_set_driver_keepalive_ns(ctx, 100000000u));
    TP_ASSERT_OK(tp_context_set_client_timeout_ns(ctx, 3000000000u));
    tp_client_t *src = NULL;
    TP_ASSERT_OK(tp_client_init(&src, ctx));
    TP_ASSERT_OK(tp_client_start(src));
    tp_producer_config_t pc;
    tp_producer_config_defaults(&pc);
    pc.stream_id = 10000;
    tp_producer_t *p = NULL;
    TP_ASSERT_OK(tp_client_add_producer(&p, src, &pc, 0));

    tp_ratelimit_config_t c;
    tp_ratelimit_config_init(&c);
    snprintf(c.instance_id, sizeof(c.instance_id), "rl-driver");
    snprintf(c.descriptor_channel, sizeof(c.descriptor_channel), "aeron:ipc");
    c.descriptor_stream_id = 1101;
    snprintf(c.driver_control_channel, sizeof(c.driver_control_channel), "%s",
        tp_context_get_stream_channel(ctx, TP_STREAM_CONTROL));
    c.driver_control_stream_id = (uint32_t)tp_context_get_stream_id(ctx, TP_STREAM_CONTROL);
    c.mapping_count = 1;
    tp_ratelimit_mapping_defaults(&c.mappings[0]);
    c.mappings[0].source_stream_id = 10000;
    c.mappings[0].dest_stream_id = 10001;
    c.mappings[0].per_consumer = false;
    tp_ratelimit_t *rl = NULL;
    TP_ASSERT_OK(tp_ratelimit_init(&rl, &c, ctx));
    TP_ASSERT_OK(tp_ratelimit_start(rl));

    /* a second rate limiter on the same destination: the driver refuses the second producer lease */
    tp_ratelimit_config_t c2 = c;
    snprintf(c2.instance_id, sizeof(c2.instance_id), "rl-driver-2");
    c2.mappings[0].source_stream_id = 10002;
    tp_ratelimit_t *second = NULL;
    TP_ASSERT(tp_ratelimit_init(&second, &c2, ctx) < 0);
    TP_ASSERT(NULL == second);
    fprintf(stderr, "  second rate limiter refused: %s\n", tp_errmsg());

    tp_context_t *dctx = tpc_context(&dirs);
    TP_ASSERT(NULL != dctx);
    TP_ASSERT_OK(tp_context_set_driver_mode(dctx, true));
    TP_ASSERT_OK(tp_context_set_driver_keepalive_ns(dctx, 100000000u));
    TP_ASSERT_OK(tp_context_set_stream(dctx, TP_STREAM_DESCRIPTOR, "aeron:ipc", 1101));
    tp_client_t *dst = NULL;
    TP_ASSERT_OK(tp_client_init(&dst, dctx));
    tp_context_close(dctx);
    TP_ASSERT_OK(tp_client_start(dst));
    rx_t rx;
    memset(&rx, 0, sizeof(rx));
    tp_consumer_config_t cc;
    tp_consumer_config_defaults(&cc);
    cc.stream_id = 10001;
    cc.on_frame = on_frame;
    cc.clientd = &rx;
    tp_consumer_t *consumer = NULL;
    TP_ASSERT_OK(tp_client_add_consumer(&consumer, dst, &cc, 0));
    TPC_WAIT_UNTIL(dst, tp_consumer_is_mapped(consumer), 5000);
    TP_ASSERT(tp_consumer_is_mapped(consumer));

    uint8_t buf[300];
    uint64_t deadline = tp_clock_mono_ns() + UINT64_C(20000000000);
    while (rx.frames < 20 && tp_clock_mono_ns() < deadline)
    {
        uint64_t seq = tp_producer_next_seq(p);
        for (size_t i = 0; i < sizeof(buf); i++)
        {
            buf[i] = (uint8_t)(seq * 3 + i);
        }
        tp_producer_offer(p, NULL, buf, sizeof(buf), NULL);
        for (int i = 0; i < 20; i++)
        {
            tp_client_do_work(src);
            if (tp_client_do_work(dst) <= 0)
            {
                tp_sleep_ns(100000);
            }
        }
    }
    TP_ASSERT(rx.frames >= 20);
    TP_ASSERT_EQ_U64(0, rx.bad);
    tp_ratelimit_stats_t s;
    TP_ASSERT_OK(tp_ratelimit_stats(rl, 0, &s));
    TP_ASSERT(s.frames_out >= 20);
    TP_ASSERT(s.dest_epoch >= 1);
    /* a source epoch change (the source producer takes a new lease): the agent asks the driver for a new
       destination lease without stopping its duty cycle, and frames flow again in the new destination epoch */
    uint64_t dest_epoch = s.dest_epoch;
    uint64_t frames_before = rx.frames;
    TP_ASSERT_OK(tp_producer_close(p));
    p = NULL;
    TP_ASSERT_OK(tp_client_add_producer(&p, src, &pc, 0));
    deadline = tp_clock_mono_ns() + UINT64_C(20000000000);
    while (rx.frames < frames_before + 20 && tp_clock_mono_ns() < deadline)
    {
        uint64_t seq = tp_producer_next_seq(p);
        for (size_t i = 0; i < sizeof(buf); i++)
        {
            buf[i] = (uint8_t)(seq * 3 + i);
        }
        tp_producer_offer(p, NULL, buf, sizeof(buf), NULL);
        for (int i = 0; i < 20; i++)
        {
            tp_client_do_work(src);
            if (tp_client_do_work(dst) <= 0)
            {
                tp_sleep_ns(100000);
            }
        }
    }
    TP_ASSERT(rx.frames >= frames_before + 20);
    TP_ASSERT_EQ_U64(0, rx.bad);
    TP_ASSERT_OK(tp_ratelimit_stats(rl, 0, &s));
    TP_ASSERT(s.source_epoch_changes >= 1);
    TP_ASSERT(s.dest_epoch > dest_epoch);
    TP_ASSERT_OK(tp_ratelimit_stop(rl));
    tp_consumer_close(consumer);
    tp_client_close(dst);
    tp_ratelimit_close(rl);
    tp_producer_close(p);
    tp_client_close(src);
    tp_context_close(ctx);
    tp_driver_close(driver);
    tpc_driver_release(hold);
    tpc_dirs_remove(&dirs);
}

int main(void)
{
    TP_RUN(test_driver_mode);
    return tp_test_finish();
}
