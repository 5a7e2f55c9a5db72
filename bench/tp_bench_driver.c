/*
 * Driver benchmark, one process, embedded transport (or $TP_TRANSPORT_BACKEND
 * with an Aeron build):
 *
 * 1. attach latency, the SHM driver on its own thread (tp_driver_start):
 *    - "lease": a raw ShmAttachRequest -> ShmAttachResponse round trip
 *      (tp_driver_lease, consumer role, detached after each), the control
 *      plane alone;
 *    - "add_consumer" / "add_producer": tp_client_add_* in driver mode (the
 *      transport adds, the attach, and for a producer a new epoch of regions
 *      created by the driver and mapped by the producer) beside the same call
 *      in standalone mode (the producer creates its regions itself), same run;
 *    one JSON line each: p50/p99/mean in microseconds.
 * 2. frames, the same producer/consumer pair in standalone and in driver mode
 *    in the same run (consumer on the client's conductor thread, busy spin):
 *    copy-path throughput and ping-pong publish-to-callback latency at 64 B
 *    and 64 KiB; one JSON line per (mode, size) and one "driver_compare" line
 *    per size.
 *
 *   tp_bench_driver [--smoke]
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/tp_client_test_util.h"
#include "client/tp_driver_lease.h"
#include "tensor_pool/tp_driver.h"

static _Atomic uint64_t seen_seq = UINT64_MAX;
static _Atomic uint64_t seen_ns = 0;

static void on_frame(void *clientd, const tp_frame_t *frame)
{
    (void)clientd;
    atomic_store_explicit(&seen_ns, tp_clock_mono_ns(), memory_order_relaxed);
    atomic_store_explicit(&seen_seq, frame->seq, memory_order_release);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void print_latency(const char *op, const char *mode, uint64_t *v, size_t n)
{
    qsort(v, n, sizeof(uint64_t), cmp_u64);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
    {
        sum += (double)v[i];
    }
    printf("{\"bench\":\"driver_attach\",\"op\":\"%s\",\"mode\":\"%s\",\"n\":%zu,\"p50_us\":%.1f,\"p99_us\":%.1f,"
           "\"mean_us\":%.1f}\n",
        op, mode, n, (double)v[n / 2] / 1e3, (double)v[n * 99 / 100] / 1e3, sum / (double)n / 1e3);
    fflush(stdout);
}

static tp_driver_t *start_driver(const tpc_dirs_t *d)
{
    static const char config[] = "[driver]\nstream_id_range = \"20000-20099\"\n"
                                 "[policies]\nallow_dynamic_streams = true\nepoch_gc_min_age_ns = 1\nepoch_gc_keep = 1\n"
                                 "[profiles.small]\nheader_nslots = 256\n"
                                 "payload_pools = [{ pool_id = 1, stride_bytes = 64 }, { pool_id = 2, stride_bytes = 65536 }]\n";
    tp_driver_config_t *cfg = NULL;
    tp_driver_t *driver = NULL;
    if (tp_driver_config_init(&cfg) < 0 || tp_driver_config_load_string(cfg, config, sizeof(config) - 1, "bench") < 0 ||
        tp_driver_config_set_shm_base_dir(cfg, d->shm) < 0 || tp_driver_config_set_transport(cfg, NULL, d->transport) < 0 ||
        tp_driver_init(&driver, cfg) < 0 || tp_driver_start(driver) < 0)
    {
        fprintf(stderr, "tp_bench_driver: driver: %s\n", tp_errmsg());
        tp_driver_close(driver);
        driver = NULL;
    }
    tp_driver_config_close(cfg);
    return driver;
}

typedef struct
{
    tp_driver_lease_t lease;
    tp_driver_lease_event_t event;
} lease_rx_t;

static void on_control(void *clientd, const uint8_t *buffer, size_t length, const tp_header_t *header)
{
    lease_rx_t *rx = clientd;
    tp_driver_lease_event_t ev = tp_driver_lease_on_message(&rx->lease, buffer, length, header, tp_clock_mono_ns());
    if (TP_LEASE_EVENT_NONE != ev)
    {
        rx->event = ev;
    }
}

/* Raw control-plane round trips: attach (consumer, stream 20000) then detach, n times. */
static int bench_lease(const tpc_dirs_t *d, size_t n)
{
    tp_transport_context_t tctx;
    tp_transport_context_init(&tctx);
    tp_transport_context_set_dir(&tctx, d->transport);
    tp_transport_t *t = NULL;
    tp_publication_t *pub = NULL;
    tp_subscription_t *sub = NULL;
    if (tp_transport_init(&t, &tctx) < 0 || tp_transport_add_publication(&pub, t, "aeron:ipc", 1000, 0) < 0 ||
        tp_transport_add_subscription(&sub, t, "aeron:ipc", 1000, NULL, NULL, NULL, NULL, 0) < 0)
    {
        fprintf(stderr, "tp_bench_driver: transport: %s\n", tp_errmsg());
        tp_transport_close(t);
        return -1;
    }
    uint64_t *lat = malloc(n * sizeof(uint64_t));
    lease_rx_t *rx = calloc(1, sizeof(*rx));
    int rc = NULL == lat || NULL == rx ? -1 : 0;
    for (size_t i = 0; i < n && 0 == rc; i++)
    {
        tp_driver_lease_init(&rx->lease, 20000, (uint32_t)(1000 + i), TP_LEASE_ROLE_CONSUMER);
        rx->lease.publish_mode = 2;
        uint64_t start = tp_clock_mono_ns();
        uint64_t deadline = start + 2000000000ull;
        tp_driver_lease_event_t ev;
        tp_driver_lease_do_work(&rx->lease, pub, start, &ev);
        while (TP_LEASE_ATTACHED != rx->lease.state && tp_clock_mono_ns() < deadline)
        {
            tp_transport_do_work(t);
            tp_subscription_poll(sub, on_control, rx, 16);
        }
        lat[i] = tp_clock_mono_ns() - start;
        if (TP_LEASE_ATTACHED != rx->lease.state)
        {
            fprintf(stderr, "tp_bench_driver: attach %zu: %s\n", i, rx->lease.last_error);
            rc = -1;
        }
        tp_driver_lease_detach(&rx->lease, pub, tp_clock_mono_ns());
        /* drain the detach response and the revocation notice */
        uint64_t until = tp_clock_mono_ns() + 200000000ull;
        while (TP_LEASE_CLOSED != rx->lease.state && tp_clock_mono_ns() < until)
        {
            tp_transport_do_work(t);
            tp_subscription_poll(sub, on_control, rx, 16);
        }
    }
    if (0 == rc)
    {
        print_latency("lease", "driver", lat, n);
    }
    free(rx);
    free(lat);
    tp_subscription_close(sub);
    tp_publication_close(pub);
    tp_transport_close(t);
    return rc;
}

static tp_client_t *make_client(const tpc_dirs_t *d, bool driver_mode, bool threaded)
{
    tp_context_t *ctx = tpc_context(d);
    tp_client_t *client = NULL;
    if (NULL == ctx || tp_context_set_driver_mode(ctx, driver_mode) < 0 ||
        (threaded && (tp_context_set_use_conductor_thread(ctx, true) < 0 || tp_context_set_idle_strategy(ctx, "spin") < 0)) ||
        tp_client_init(&client, ctx) < 0 || (threaded && tp_client_start(client) < 0))
    {
        fprintf(stderr, "tp_bench_driver: client: %s\n", tp_errmsg());
        tp_client_close(client);
        client = NULL;
    }
    tp_context_close(ctx);
    return client;
}

/*
 * tp_client_add_consumer + close, n times, then tp_client_add_producer +
 * close, n times, in one mode. After each close the clock stops for 50 ms, so
 * the next add does not wait for the driver's work on the previous one (a
 * producer's detach makes the driver create the stream's next epoch, §6).
 */
static int bench_adds(const tpc_dirs_t *d, bool driver_mode, size_t n)
{
    tp_client_t *client = make_client(d, driver_mode, false);
    uint64_t *cons = malloc(n * sizeof(uint64_t));
    uint64_t *prod = malloc(n * sizeof(uint64_t));
    int rc = NULL == client || NULL == cons || NULL == prod ? -1 : 0;
    for (size_t k = 0; k < 2 * n && 0 == rc; k++)
    {
        bool producer = k >= n;
        uint64_t t0 = tp_clock_mono_ns();
        if (producer)
        {
            tp_producer_config_t pc;
            tp_producer_config_defaults(&pc);
            pc.stream_id = 20010;
            pc.header_nslots = 256;
            pc.pools[0].stride_bytes = 65536;
            tp_producer_t *p = NULL;
            rc = tp_client_add_producer(&p, client, &pc, 0);
            prod[k - n] = tp_clock_mono_ns() - t0;
            tp_producer_close(p);
        }
        else
        {
            tp_consumer_config_t cc;
            tp_consumer_config_defaults(&cc);
            cc.stream_id = 20010;
            cc.on_frame = on_frame;
            cc.use_metadata = false;
            tp_consumer_t *c = NULL;
            rc = tp_client_add_consumer(&c, client, &cc, 0);
            cons[k] = tp_clock_mono_ns() - t0;
            tp_consumer_close(c);
        }
        if (rc < 0)
        {
            fprintf(stderr, "tp_bench_driver: add (%s): %s\n", driver_mode ? "driver" : "standalone", tp_errmsg());
        }
        uint64_t settle = tp_clock_mono_ns() + 50000000ull;
        while (tp_clock_mono_ns() < settle)
        {
            if (tp_client_do_work(client) <= 0) /* detaches go out */
            {
                tp_sleep_ns(200000);
            }
        }
    }
    if (0 == rc)
    {
        print_latency("add_consumer", driver_mode ? "driver" : "standalone", cons, n);
        print_latency("add_producer", driver_mode ? "driver" : "standalone", prod, n);
    }
    free(cons);
    free(prod);
    tp_client_close(client);
    return rc;
}

typedef struct
{
    double mfps;
    uint64_t p50_ns;
    uint64_t p99_ns;
} frame_result_t;

static int bench_frames(const tpc_dirs_t *d, bool driver_mode, size_t size, uint32_t stream, bool smoke,
    frame_result_t *out)
{
    tp_client_t *client = make_client(d, driver_mode, true);
    if (NULL == client)
    {
        return -1;
    }
    atomic_store(&seen_seq, UINT64_MAX);
    tp_consumer_config_t cc;
    tp_consumer_config_defaults(&cc);
    cc.stream_id = stream;
    cc.on_frame = on_frame;
    cc.use_metadata = false;
    tp_producer_config_t pc;
    tp_producer_config_defaults(&pc);
    pc.stream_id = stream;
    pc.header_nslots = 256;
    pc.pool_count = 2;
    pc.pools[0].pool_id = 1;
    pc.pools[0].stride_bytes = 64;
    pc.pools[1].pool_id = 2;
    pc.pools[1].stride_bytes = 65536;
    tp_consumer_t *c = NULL;
    tp_producer_t *p = NULL;
    if (tp_client_add_consumer(&c, client, &cc, 0) < 0 || tp_client_add_producer(&p, client, &pc, 0) < 0)
    {
        fprintf(stderr, "tp_bench_driver: frames (%s): %s\n", driver_mode ? "driver" : "standalone", tp_errmsg());
        tp_client_close(client);
        return -1;
    }
    uint64_t deadline = tp_clock_mono_ns() + 5000000000ull;
    while (!tp_consumer_is_mapped(c) && tp_clock_mono_ns() < deadline)
    {
        tp_sleep_ns(1000000);
    }
    uint8_t *src = calloc(1, size);
    uint64_t ops = smoke ? 20000 : (size <= 64 ? 2000000 : 200000);
    uint64_t lat_ops = smoke ? 200 : 5000;
    uint64_t *lat = malloc(lat_ops * sizeof(uint64_t));
    int rc = NULL == src || NULL == lat ? -1 : 0;
    uint64_t best = UINT64_MAX;
    for (int round = 0; round < (smoke ? 1 : 3) && 0 == rc; round++)
    {
        uint64_t t0 = tp_clock_mono_ns();
        for (uint64_t i = 0; i < ops; i++)
        {
            int64_t r;
            while (TP_PRODUCER_BACK_PRESSURED == (r = tp_producer_offer(p, NULL, src, size, NULL)) ||
                TP_PRODUCER_NOT_ATTACHED == r)
            {
            }
            if (r < 0)
            {
                fprintf(stderr, "tp_bench_driver: offer failed (%lld): %s\n", (long long)r, tp_errmsg());
                rc = -1;
                break;
            }
        }
        uint64_t dt = tp_clock_mono_ns() - t0;
        best = dt < best ? dt : best;
    }
    uint64_t last = tp_producer_next_seq(p) - 1;
    uint64_t drained = tp_clock_mono_ns() + 2000000000ull;
    while (atomic_load_explicit(&seen_seq, memory_order_acquire) != last && tp_clock_mono_ns() < drained)
    {
        tp_sleep_ns(10000);
    }
    uint64_t timeouts = 0;
    uint64_t consecutive = 0;
    for (uint64_t i = 0; i < lat_ops && 0 == rc; i++)
    {
        if (consecutive >= 3)
        {
            /* frames stopped arriving (lease lost under CPU starvation, ...): report it, do not wait 1 s per frame */
            fprintf(stderr, "tp_bench_driver: %s %zu B: 3 frames in a row not delivered within 1 s; latency cut short\n",
                driver_mode ? "driver" : "standalone", size);
            lat_ops = i;
            break;
        }
        uint64_t seq = tp_producer_next_seq(p);
        uint64_t start = tp_clock_mono_ns();
        if (tp_producer_offer(p, NULL, src, size, NULL) < 0)
        {
            fprintf(stderr, "tp_bench_driver: offer failed: %s\n", tp_errmsg());
            rc = -1;
            break;
        }
        uint64_t until = start + 1000000000ull;
        while (atomic_load_explicit(&seen_seq, memory_order_acquire) != seq && tp_clock_mono_ns() < until)
        {
        }
        uint64_t at = atomic_load_explicit(&seen_ns, memory_order_relaxed);
        bool delivered = atomic_load_explicit(&seen_seq, memory_order_acquire) == seq;
        timeouts += !delivered;
        consecutive = delivered ? 0 : consecutive + 1;
        lat[i] = delivered && at > start ? at - start : 1000000000ull;
    }
    if (0 == lat_ops)
    {
        lat_ops = 1;
        lat[0] = 1000000000ull;
    }
    if (0 == rc)
    {
        qsort(lat, lat_ops, sizeof(uint64_t), cmp_u64);
        out->mfps = (double)ops / ((double)best / 1e9) / 1e6;
        out->p50_ns = lat[lat_ops / 2];
        out->p99_ns = lat[lat_ops * 99 / 100];
        printf("{\"bench\":\"driver_frames\",\"mode\":\"%s\",\"path\":\"copy\",\"size\":%zu,\"ops\":%llu,"
               "\"Mfps\":%.3f,\"lat_p50_ns\":%llu,\"lat_p99_ns\":%llu,\"lat_samples\":%llu,\"lat_timeouts\":%llu}\n",
            driver_mode ? "driver" : "standalone", size, (unsigned long long)ops, out->mfps,
            (unsigned long long)out->p50_ns, (unsigned long long)out->p99_ns, (unsigned long long)lat_ops,
            (unsigned long long)timeouts);
        fflush(stdout);
    }
    free(src);
    free(lat);
    tp_producer_close(p);
    tp_consumer_close(c);
    tp_client_close(client);
    return rc;
}

int main(int argc, char **argv)
{
    bool smoke = argc > 1 && 0 == strcmp(argv[1], "--smoke");
    if (argc > 2 || (argc == 2 && !smoke))
    {
        fprintf(stderr, "usage: tp_bench_driver [--smoke]\n");
        return 2;
    }
    tpc_dirs_t d;
    if (tpc_dirs_make(&d, "bench-driver") < 0)
    {
        perror("tp_bench_driver: temp dir");
        return 1;
    }
    tp_transport_t *hold = tpc_driver_hold(&d);
    tp_driver_t *driver = start_driver(&d);
    int rc = NULL == driver ? 1 : 0;
    if (0 == rc)
    {
        rc |= bench_lease(&d, smoke ? 50 : 2000) < 0;
    }
    if (0 == rc)
    {
        rc |= bench_adds(&d, false, smoke ? 5 : 100) < 0;
        rc |= bench_adds(&d, true, smoke ? 5 : 100) < 0;
    }
    static const size_t sizes[2] = { 64, 65536 };
    for (size_t i = 0; i < 2 && 0 == rc; i++)
    {
        frame_result_t s = { 0 };
        frame_result_t m = { 0 };
        rc |= bench_frames(&d, false, sizes[i], 20020 + (uint32_t)i, smoke, &s) < 0;
        rc |= 0 == rc ? bench_frames(&d, true, sizes[i], 20030 + (uint32_t)i, smoke, &m) < 0 : 0;
        if (0 == rc)
        {
            printf("{\"bench\":\"driver_compare\",\"size\":%zu,\"standalone_Mfps\":%.3f,\"driver_Mfps\":%.3f,"
                   "\"standalone_p50_ns\":%llu,\"driver_p50_ns\":%llu,\"standalone_p99_ns\":%llu,\"driver_p99_ns\":%llu}\n",
                sizes[i], s.mfps, m.mfps, (unsigned long long)s.p50_ns, (unsigned long long)m.p50_ns,
                (unsigned long long)s.p99_ns, (unsigned long long)m.p99_ns);
        }
    }
    tp_driver_close(driver);
    tpc_driver_release(hold);
    tpc_dirs_remove(&d);
    return rc;
}
