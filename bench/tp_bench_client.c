/*
 * Client benchmark: publish throughput and publish-to-callback latency for
 * 64 B, 64 KiB, 1 MiB and 8 MiB tensors on the copy path (tp_producer_offer)
 * and the claim path (tp_producer_try_claim + tp_frame_claim_commit, payload
 * written in place by the "DMA"), side by side with a plain memcpy of the
 * same size over the same footprint, in the same run.
 *
 * One process: the producer on the main thread, the consumer on the client's
 * conductor thread (busy spin). Built with Aeron, each size is measured on
 * both transport backends in the same run, one after the other: "embedded"
 * and "aeron" (aeron:ipc through an Aeron media driver embedded in this
 * process, SHARED threading mode: one more thread). Prints one JSON line per
 * (backend, path, size):
 *   {"bench":"client","backend":"embedded|aeron","path":"copy|claim","size":N,
 *    "ops":N,"ns_per_op":X,"GBps":X,"memcpy_GBps":X,"ratio_vs_memcpy":X,
 *    "lat_p50_ns":N,"lat_p99_ns":N}
 * and, when both backends ran, one "client_compare" line per (path, size)
 * with both backends' numbers and embedded_vs_aeron_lat_p50 (aeron p50 /
 * embedded p50) and embedded_vs_aeron_throughput (embedded GB/s / aeron GB/s):
 * > 1 means the embedded backend is faster.
 * Throughput counts the bytes the producer publishes (copy: memcpy into SHM
 * + seqlock + descriptor; claim: claim + commit only, the payload is the
 * application's own writes); "frames_per_s" is 1 / ns_per_op. Latency is
 * ping-pong: one frame in flight, measured from just before the publish call
 * to the consumer's callback.
 *
 * Beside the client, in the same run (before each size), the raw embedded IPC
 * transport is measured with the same thread layout: one "raw_transport" line with the
 * ping-pong latency (offer -> fragment handler) of a FrameDescriptor-sized
 * message and the offer throughput with one subscriber draining.
 *
 * --stages (a build configured with -DTP_STAGE_PROBES=ON, e.g.
 * TP_BUILD_DIR=build-stages scripts/build.sh -DTP_STAGE_PROBES=ON) adds a
 * per-stage breakdown of the ping-pong latency: for every frame the library's
 * stage marks (src/common/tp_stage_probe.h) are read after the callback and
 * the time between consecutive stages is summarised as p50/p99, printed as a
 * table and as "client_stages" JSON lines. In other builds the marks compile
 * to nothing and --stages is refused.
 *
 * Threads are pinned (producer on CPU 0, conductor / raw subscriber on CPU 1)
 * unless --no-pin, as in tp_transport_bench.
 *
 *   tp_bench_client [--smoke] [--sizes 64,4096,...] [--backend embedded|aeron|all] [--stages] [--no-pin]
 *                   [--no-raw] [--idle busy_spin|noop|yield|backoff]
 *
 * --idle: the conductor's idle strategy (default busy_spin: a pause instruction per idle duty cycle; noop spins
 * without it).
 *
 * --backend: which backends to measure (default all that are built).
 */
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <string.h>

#include "../examples/tp_example_common.h"
#include "../tests/client/tp_client_test_util.h"
#include "common/tp_stage_probe.h"
#include "tp_sbe/wire.h"
#if defined(TP_HAVE_AERON)
#include "transport/aeron/tp_aeron_driver.h"
#endif

static _Atomic uint64_t seen_seq = UINT64_MAX;
static _Atomic uint64_t seen_ns = 0;
static _Atomic uint64_t seen_ticks = 0;
static bool g_pin = true;
static bool g_stages = false;
static const char *g_idle = "busy_spin";

/* Pin the calling thread to `cpu` when pinning is on and the machine has more than one CPU. */
static void pin_cpu(int cpu)
{
    if (!g_pin || sysconf(_SC_NPROCESSORS_ONLN) < 2)
    {
        return;
    }
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void on_frame(void *clientd, const tp_frame_t *frame)
{
    bool *pinned = clientd;
    if (g_stages)
    {
        atomic_store_explicit(&seen_ticks, tp_stage_ticks(), memory_order_relaxed);
    }
    atomic_store_explicit(&seen_ns, tpx_now_ns(), memory_order_relaxed);
    atomic_store_explicit(&seen_seq, frame->seq, memory_order_release);
    if (!*pinned)
    {
        *pinned = true; /* the conductor thread: the first (warm-up) frame pins it */
        pin_cpu(1);
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* ------------------------------------------------------------------------- */
/* Stage breakdown (--stages)                                                 */
/* ------------------------------------------------------------------------- */

/* Rows of the breakdown: the interval that ends at each mark. Mark 0 is the bench's start, the last the callback. */
#define TP_BENCH_MARKS (TP_STAGE_COUNT + 2)
static const char *const tp_bench_stage_names[TP_BENCH_MARKS - 1] = {
    "entry -> payload in slot, header prepared",
    "-> descriptor space claimed",
    "-> slot header + seq_commit (seqlock)",
    "-> descriptor encoded + committed",
    "-> poll sees the descriptor",
    "-> transport copy/check, handler entry",
    "-> descriptor decoded + checked",
    "-> seqlock read + slot validated",
    "-> on_frame callback entry",
};

static double g_ticks_per_ns = 1.0;

/* Calibrate the stage clock (rdtsc on x86-64) against CLOCK_MONOTONIC. */
static void stage_calibrate(void)
{
    uint64_t n0 = tpx_now_ns(), t0 = tp_stage_ticks();
    while (tpx_now_ns() - n0 < 50000000u)
    {
    }
    uint64_t n1 = tpx_now_ns(), t1 = tp_stage_ticks();
    g_ticks_per_ns = (double)(t1 - t0) / (double)(n1 - n0);
}

/**
 * Per-frame stage samples: samples[i * lat_ops + k] = ns from mark i to mark i + 1 of frame k. A frame whose
 * marks are out of order (a mark missing: e.g. a control message was the last one the transport saw) is
 * discarded.
 */
static bool stage_sample(uint64_t *samples, uint64_t lat_ops, uint64_t k, uint64_t start_ticks)
{
    uint64_t m[TP_BENCH_MARKS];
    m[0] = start_ticks;
    for (int i = 0; i < TP_STAGE_COUNT; i++)
    {
        m[i + 1] = tp_stage_probe_get((tp_stage_t)i);
    }
    m[TP_BENCH_MARKS - 1] = atomic_load_explicit(&seen_ticks, memory_order_relaxed);
    for (int i = 1; i < TP_BENCH_MARKS; i++)
    {
        if (m[i] < m[i - 1])
        {
            return false;
        }
    }
    for (int i = 0; i < TP_BENCH_MARKS - 1; i++)
    {
        samples[(uint64_t)i * lat_ops + k] = (uint64_t)((double)(m[i + 1] - m[i]) / g_ticks_per_ns + 0.5);
    }
    return true;
}

static void stage_report(const char *backend, const char *path, size_t size, uint64_t *samples, uint64_t lat_ops,
    uint64_t n, uint64_t p50_total, uint64_t p99_total)
{
    if (0 == n)
    {
        fprintf(stderr, "stages (%s, %s, %zu B): no complete sample\n", backend, path, size);
        return;
    }
    printf("# stages: %s %s %zu B, %llu frames (ns; p50 of the total is not the sum of the p50s)\n", backend, path,
        size, (unsigned long long)n);
    printf("# %-44s %8s %8s\n", "stage", "p50", "p99");
    for (int i = 0; i < TP_BENCH_MARKS - 1; i++)
    {
        uint64_t *row = samples + (uint64_t)i * lat_ops;
        qsort(row, n, sizeof(uint64_t), cmp_u64);
        uint64_t p50 = row[n / 2], p99 = row[n * 99 / 100];
        printf("# %-44s %8llu %8llu\n", tp_bench_stage_names[i], (unsigned long long)p50, (unsigned long long)p99);
        printf("{\"bench\":\"client_stages\",\"backend\":\"%s\",\"path\":\"%s\",\"size\":%zu,\"stage\":%d,"
               "\"name\":\"%s\",\"p50_ns\":%llu,\"p99_ns\":%llu}\n",
            backend, path, size, i, tp_bench_stage_names[i], (unsigned long long)p50, (unsigned long long)p99);
    }
    printf("# %-44s %8llu %8llu\n", "total publish -> callback", (unsigned long long)p50_total,
        (unsigned long long)p99_total);
    fflush(stdout);
}

static double memcpy_gbps(uint8_t *dst, const uint8_t *src, size_t size, uint32_t nslots, size_t stride, uint64_t ops)
{
    uint64_t t0 = tpx_now_ns();
    for (uint64_t i = 0; i < ops; i++)
    {
        memcpy(dst + (i & (nslots - 1)) * stride, src, size);
        __asm__ __volatile__("" ::: "memory");
    }
    uint64_t dt = tpx_now_ns() - t0;
    return (double)size * (double)ops / (double)dt;
}

static int64_t publish(tp_producer_t *p, int claim, const uint8_t *src, size_t size)
{
    for (;;)
    {
        int64_t rc;
        if (claim)
        {
            tp_frame_claim_t c;
            rc = tp_producer_try_claim(p, size, &c);
            if (rc >= 0)
            {
                c.data[0] = (uint8_t)rc; /* the application's (DMA's) own writes are not the library's cost */
                rc = tp_frame_claim_commit(&c, NULL, size, NULL);
                if (TP_PRODUCER_BACK_PRESSURED == rc)
                {
                    while (tp_producer_flush(p) == 0)
                    {
                    }
                    rc = c.seq;
                }
            }
        }
        else
        {
            rc = tp_producer_offer(p, NULL, src, size, NULL);
        }
        if (TP_PRODUCER_BACK_PRESSURED != rc)
        {
            return rc;
        }
    }
}

/** Result of one (backend, path, size) measurement. */
typedef struct
{
    bool valid;
    uint64_t ops;
    double ns_per_op;
    double gbps;
    double memcpy_gbps;
    uint64_t p50_ns;
    uint64_t p99_ns;
} tp_bench_result_t;

/**
 * Measure one tensor size on one backend, both paths (out[0] copy, out[1]
 * claim): a fresh client (own temp dirs; over aeron an embedded media driver
 * on "<root>/aeron"), a producer and a consumer on stream 20000 + si. Prints
 * one JSON line per path. Returns 0 or -1.
 */
static int tp_bench_size(const char *backend, size_t size, size_t si, int smoke, tp_bench_result_t out[2])
{
    tpc_dirs_t d;
    if (tpc_dirs_make(&d, "bench") < 0)
    {
        perror("mkdtemp");
        return -1;
    }
    char aeron_dir[400];
    snprintf(aeron_dir, sizeof(aeron_dir), "%s/aeron", d.root);
    bool aeron = 0 == strcmp(backend, "aeron");
    tp_context_t *ctx = tpc_context(&d);
    tp_client_t *client = NULL;
    if (NULL == ctx || tp_context_set_transport_backend(ctx, backend) < 0 ||
        (aeron && tp_context_set_transport_dir(ctx, aeron_dir) < 0) ||
        tp_context_set_use_conductor_thread(ctx, true) < 0 || tp_context_set_idle_strategy(ctx, g_idle) < 0 ||
        tp_client_init(&client, ctx) < 0 || tp_client_start(client) < 0)
    {
        fprintf(stderr, "tp_bench_client (%s): %s\n", backend, tp_errmsg());
        tp_context_close(ctx);
        tp_client_close(client);
        tpc_dirs_remove(&d);
        return -1;
    }
    tp_context_close(ctx);
    atomic_store(&seen_seq, UINT64_MAX);
    int rc_exit = 0;
    uint32_t stride = 64;
    while (stride < size)
    {
        stride <<= 1;
    }
    uint32_t nslots = size >= (1u << 20) ? 8 : 256;
    tp_producer_config_t pc;
    tp_producer_config_defaults(&pc);
    pc.stream_id = 20000 + (uint32_t)si;
    pc.header_nslots = nslots;
    pc.pools[0].stride_bytes = stride;
    tp_consumer_config_t cc;
    tp_consumer_config_defaults(&cc);
    cc.stream_id = pc.stream_id;
    cc.on_frame = on_frame;
    bool conductor_pinned = false;
    cc.clientd = &conductor_pinned;
    cc.use_metadata = false;
    tp_producer_t *p = NULL;
    tp_consumer_t *c = NULL;
    if (tp_client_add_consumer(&c, client, &cc, 0) < 0 || tp_client_add_producer(&p, client, &pc, 0) < 0)
    {
        fprintf(stderr, "tp_bench_client (%s): %s\n", backend, tp_errmsg());
        tp_client_close(client);
        tpc_dirs_remove(&d);
        return -1;
    }
    uint64_t deadline = tpx_now_ns() + 5000000000u;
    while (!tp_consumer_is_mapped(c) && tpx_now_ns() < deadline)
    {
        tp_sleep_ns(1000000);
    }
    uint8_t *src = malloc(size);
    /* the memcpy destination lives on the same tmpfs as the pools, prefaulted like them */
    char dst_path[512];
    snprintf(dst_path, sizeof(dst_path), "%s/memcpy-baseline", d.shm);
    size_t dst_len = (size_t)nslots * stride;
    int fd = open(dst_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    uint8_t *dst = (fd >= 0 && 0 == ftruncate(fd, (off_t)dst_len))
        ? mmap(NULL, dst_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
        : MAP_FAILED;
    if (fd >= 0)
    {
        close(fd);
        unlink(dst_path);
    }
    uint64_t lat_ops = smoke ? 200 : 5000;
    uint64_t *lat = malloc(lat_ops * sizeof(uint64_t));
    uint64_t *stages = g_stages ? malloc(lat_ops * (TP_BENCH_MARKS - 1) * sizeof(uint64_t)) : NULL;
    if (MAP_FAILED == dst || NULL == src || NULL == lat || (g_stages && NULL == stages))
    {
        perror("tp_bench_client: buffers");
        free(src);
        free(lat);
        free(stages);
        tp_client_close(client);
        tpc_dirs_remove(&d);
        return -1;
    }
    memset(src, 0x5a, size);
    memset(dst, 0, dst_len);
    uint64_t budget = smoke ? (UINT64_C(64) << 20) : (UINT64_C(4) << 30); /* bytes per measurement */
    uint64_t ops = budget / size;
    ops = ops < 200 ? 200 : (ops > 2000000 ? 2000000 : ops);
    if (smoke)
    {
        ops = ops > 20000 ? 20000 : ops;
    }
    for (int claim = 0; claim <= 1 && 0 == rc_exit; claim++)
    {
        /* warm-up */
        for (uint64_t i = 0; i < 100; i++)
        {
            publish(p, claim, src, size);
        }
        /* interleaved rounds, best of each: the host is shared, the best round is the least disturbed */
        double mgbps = 0;
        uint64_t dt = UINT64_MAX;
        for (int round = 0; round < (smoke ? 1 : 3) && 0 == rc_exit; round++)
        {
            double m = memcpy_gbps(dst, src, size, nslots, stride, ops);
            mgbps = m > mgbps ? m : mgbps;
            uint64_t t0 = tpx_now_ns();
            for (uint64_t i = 0; i < ops; i++)
            {
                if (publish(p, claim, src, size) < 0)
                {
                    fprintf(stderr, "tp_bench_client (%s): publish failed: %s\n", backend, tp_errmsg());
                    rc_exit = 1;
                    break;
                }
            }
            uint64_t t = tpx_now_ns() - t0;
            dt = t < dt ? t : dt;
        }
        /* let the consumer drain the burst before measuring latency */
        uint64_t last = tp_producer_next_seq(p) - 1, until_drained = tpx_now_ns() + 2000000000u;
        while (atomic_load_explicit(&seen_seq, memory_order_acquire) != last && tpx_now_ns() < until_drained)
        {
            tp_sleep_ns(10000);
        }
        /* ping-pong latency */
        uint64_t stage_n = 0;
        for (uint64_t i = 0; i < lat_ops && 0 == rc_exit; i++)
        {
            uint64_t seq = tp_producer_next_seq(p);
            if (g_stages)
            {
                tp_stage_probe_reset();
            }
            uint64_t start = tpx_now_ns();
            uint64_t start_ticks = g_stages ? tp_stage_ticks() : 0;
            publish(p, claim, src, size);
            uint64_t until = start + 1000000000u;
            while (atomic_load_explicit(&seen_seq, memory_order_acquire) != seq && tpx_now_ns() < until)
            {
            }
            uint64_t at = atomic_load_explicit(&seen_ns, memory_order_relaxed);
            lat[i] = at > start ? at - start : 0;
            if (g_stages && stage_sample(stages, lat_ops, stage_n, start_ticks))
            {
                stage_n++;
            }
        }
        if (0 != rc_exit)
        {
            break;
        }
        qsort(lat, lat_ops, sizeof(uint64_t), cmp_u64);
        tp_bench_result_t *r = &out[claim];
        r->valid = true;
        r->ops = ops;
        r->ns_per_op = (double)dt / (double)ops;
        r->gbps = (double)size * (double)ops / (double)dt;
        r->memcpy_gbps = mgbps;
        r->p50_ns = lat[lat_ops / 2];
        r->p99_ns = lat[lat_ops * 99 / 100];
        double load[1] = { 0 };
        getloadavg(load, 1);
        printf("{\"bench\":\"client\",\"backend\":\"%s\",\"loadavg\":%.2f,\"path\":\"%s\",\"size\":%zu,\"ops\":%llu,"
               "\"ns_per_op\":%.1f,\"frames_per_s\":%.0f,\"GBps\":%.3f,\"memcpy_GBps\":%.3f,\"ratio_vs_memcpy\":%.3f,"
               "\"lat_p50_ns\":%llu,\"lat_p99_ns\":%llu}\n",
            backend, load[0], claim ? "claim" : "copy", size, (unsigned long long)ops, r->ns_per_op,
            1e9 / r->ns_per_op, r->gbps, r->memcpy_gbps, r->gbps / r->memcpy_gbps, (unsigned long long)r->p50_ns,
            (unsigned long long)r->p99_ns);
        fflush(stdout);
        if (g_stages)
        {
            stage_report(backend, claim ? "claim" : "copy", size, stages, lat_ops, stage_n, r->p50_ns, r->p99_ns);
        }
    }
    free(stages);
    free(lat);
    free(src);
    munmap(dst, dst_len);
    tp_producer_close(p);
    tp_consumer_close(c);
    tp_client_close(client);
    tpc_dirs_remove(&d);
    return 0 == rc_exit ? 0 : -1;
}

/* ------------------------------------------------------------------------- */
/* Raw embedded IPC transport, same thread layout                             */
/* ------------------------------------------------------------------------- */

typedef struct
{
    tp_transport_t *t;
    tp_subscription_t *sub;
    atomic_bool stop;
    _Atomic uint64_t received;
    _Atomic uint64_t last_seq;
    _Atomic uint64_t last_ns;
} tp_bench_raw_t;

static void raw_on_fragment(void *clientd, const uint8_t *buffer, size_t length, const tp_header_t *header)
{
    (void)header;
    tp_bench_raw_t *r = clientd;
    uint64_t seq = 0;
    memcpy(&seq, buffer, length < sizeof(seq) ? length : sizeof(seq));
    atomic_store_explicit(&r->last_ns, tpx_now_ns(), memory_order_relaxed);
    atomic_store_explicit(&r->received, atomic_load_explicit(&r->received, memory_order_relaxed) + 1,
        memory_order_relaxed);
    atomic_store_explicit(&r->last_seq, seq, memory_order_release);
}

/* The subscriber's thread: busy-spin polling (and the transport's duty cycle now and then), like the conductor. */
static void *raw_poller(void *arg)
{
    tp_bench_raw_t *r = arg;
    pin_cpu(1);
    uint64_t loops = 0;
    while (!atomic_load_explicit(&r->stop, memory_order_relaxed))
    {
        if (0 == tp_subscription_poll(r->sub, raw_on_fragment, r, 64) && 0 == (++loops & 0xfff))
        {
            tp_transport_do_work(r->t);
        }
    }
    return NULL;
}

static int64_t raw_offer(tp_publication_t *pub, const uint8_t *msg, size_t len)
{
    for (;;)
    {
        int64_t rc = tp_publication_offer(pub, msg, len, NULL, NULL);
        if (TP_PUBLICATION_BACK_PRESSURED != rc && TP_PUBLICATION_ADMIN_ACTION != rc)
        {
            return rc;
        }
    }
}

/**
 * The raw embedded IPC transport in this process, with the client's thread layout (offers on the main thread,
 * a busy-polling subscriber thread): ping-pong latency offer -> fragment handler and offer throughput of a
 * FrameDescriptor-sized message (48 B). Prints one "raw_transport" line. Returns 0 or -1.
 */
static int tp_bench_raw_transport(int smoke)
{
    const size_t len = TP_SBE_MESSAGE_HEADER_LENGTH + TP_SBE_WIRE_FRAME_DESCRIPTOR_BLOCK_LENGTH;
    tpc_dirs_t d;
    if (tpc_dirs_make(&d, "bench-raw") < 0)
    {
        perror("mkdtemp");
        return -1;
    }
    tp_bench_raw_t r = { 0 };
    tp_publication_t *pub = NULL;
    tp_transport_context_t tctx;
    tp_transport_context_init(&tctx);
    if (tp_transport_context_set_backend(&tctx, "embedded") < 0 || tp_transport_context_set_dir(&tctx, d.transport) < 0 ||
        tp_transport_init(&r.t, &tctx) < 0 ||
        tp_transport_add_subscription(&r.sub, r.t, "aeron:ipc", 19999, NULL, NULL, NULL, NULL, 0) < 0 ||
        tp_transport_add_publication(&pub, r.t, "aeron:ipc", 19999, 0) < 0)
    {
        fprintf(stderr, "tp_bench_client (raw transport): %s\n", tp_errmsg());
        tp_transport_close(r.t);
        tpc_dirs_remove(&d);
        return -1;
    }
    atomic_store(&r.last_seq, UINT64_MAX);
    pthread_t thread;
    if (0 != pthread_create(&thread, NULL, raw_poller, &r))
    {
        perror("pthread_create");
        tp_transport_close(r.t);
        tpc_dirs_remove(&d);
        return -1;
    }
    uint8_t msg[64] = { 0 };
    uint64_t lat_ops = smoke ? 200 : 5000;
    uint64_t ops = smoke ? 20000 : 2000000;
    uint64_t *lat = malloc(lat_ops * sizeof(uint64_t));
    int rc_exit = NULL == lat ? -1 : 0;
    uint64_t seq = 0;
    /* warm-up, then ping-pong */
    for (uint64_t i = 0; i < 100 + lat_ops && 0 == rc_exit; i++, seq++)
    {
        memcpy(msg, &seq, sizeof(seq));
        uint64_t start = tpx_now_ns();
        if (raw_offer(pub, msg, len) < 0)
        {
            fprintf(stderr, "tp_bench_client (raw transport): offer failed: %s\n", tp_errmsg());
            rc_exit = -1;
            break;
        }
        uint64_t until = start + 1000000000u;
        while (atomic_load_explicit(&r.last_seq, memory_order_acquire) != seq && tpx_now_ns() < until)
        {
        }
        uint64_t at = atomic_load_explicit(&r.last_ns, memory_order_relaxed);
        if (i >= 100)
        {
            lat[i - 100] = at > start ? at - start : 0;
        }
    }
    /* throughput: back to back, until the subscriber has everything */
    uint64_t t0 = tpx_now_ns();
    uint64_t target = atomic_load(&r.received) + ops;
    for (uint64_t i = 0; i < ops && 0 == rc_exit; i++, seq++)
    {
        memcpy(msg, &seq, sizeof(seq));
        if (raw_offer(pub, msg, len) < 0)
        {
            rc_exit = -1;
        }
    }
    uint64_t until = tpx_now_ns() + 5000000000u;
    while (atomic_load_explicit(&r.received, memory_order_acquire) < target && tpx_now_ns() < until)
    {
    }
    uint64_t dt = tpx_now_ns() - t0;
    atomic_store(&r.stop, true);
    pthread_join(thread, NULL);
    if (0 == rc_exit)
    {
        qsort(lat, lat_ops, sizeof(uint64_t), cmp_u64);
        printf("{\"bench\":\"raw_transport\",\"backend\":\"embedded\",\"size\":%zu,\"lat_p50_ns\":%llu,"
               "\"lat_p99_ns\":%llu,\"msgs_per_s\":%.0f,\"ns_per_msg\":%.1f}\n",
            len, (unsigned long long)lat[lat_ops / 2], (unsigned long long)lat[lat_ops * 99 / 100],
            (double)ops * 1e9 / (double)dt, (double)dt / (double)ops);
        fflush(stdout);
    }
    free(lat);
    tp_publication_close(pub);
    tp_transport_close(r.t);
    tpc_dirs_remove(&d);
    return rc_exit;
}

/** Print the side-by-side line of one (path, size) measured on both backends. */
static void tp_bench_compare(const char *path, size_t size, const tp_bench_result_t *e, const tp_bench_result_t *a)
{
    printf("{\"bench\":\"client_compare\",\"path\":\"%s\",\"size\":%zu,\"embedded_lat_p50_ns\":%llu,"
           "\"aeron_lat_p50_ns\":%llu,\"embedded_lat_p99_ns\":%llu,\"aeron_lat_p99_ns\":%llu,\"embedded_GBps\":%.3f,"
           "\"aeron_GBps\":%.3f,\"embedded_vs_aeron_lat_p50\":%.2f,\"embedded_vs_aeron_throughput\":%.2f}\n",
        path, size, (unsigned long long)e->p50_ns, (unsigned long long)a->p50_ns, (unsigned long long)e->p99_ns,
        (unsigned long long)a->p99_ns, e->gbps, a->gbps, e->p50_ns > 0 ? (double)a->p50_ns / (double)e->p50_ns : 0,
        a->gbps > 0 ? e->gbps / a->gbps : 0);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    int smoke = 0;
    size_t sizes[8] = { 64, 4096, 65536, 1048576, 8388608 };
    size_t nsizes = 5;
    bool raw = true;
    const char *backends = "all";
    for (int i = 1; i < argc; i++)
    {
        if (0 == strcmp(argv[i], "--smoke"))
        {
            smoke = 1;
        }
        else if (0 == strcmp(argv[i], "--sizes") && i + 1 < argc)
        {
            nsizes = 0;
            for (char *tok = strtok(argv[++i], ","); tok && nsizes < 8; tok = strtok(NULL, ","))
            {
                sizes[nsizes++] = (size_t)strtoull(tok, NULL, 10);
            }
        }
        else if (0 == strcmp(argv[i], "--backend") && i + 1 < argc)
        {
            backends = argv[++i];
        }
        else if (0 == strcmp(argv[i], "--stages"))
        {
            g_stages = true;
        }
        else if (0 == strcmp(argv[i], "--no-pin"))
        {
            g_pin = false;
        }
        else if (0 == strcmp(argv[i], "--idle") && i + 1 < argc)
        {
            g_idle = argv[++i];
        }
        else if (0 == strcmp(argv[i], "--no-raw"))
        {
            raw = false;
        }
        else
        {
            fprintf(stderr, "usage: tp_bench_client [--smoke] [--sizes 64,4096,...] [--backend embedded|aeron|all] "
                "[--stages] [--no-pin] [--no-raw] [--idle busy_spin|noop|...]\n");
            return 1;
        }
    }
    if (g_stages && !tp_stage_probes_enabled())
    {
        fprintf(stderr, "--stages needs a build with the stage marks compiled in: "
            "TP_BUILD_DIR=build-stages scripts/build.sh -DTP_STAGE_PROBES=ON, then build-stages/tp_bench_client\n");
        return 2;
    }
    if (g_stages)
    {
        stage_calibrate();
    }
    pin_cpu(0);
    bool run_embedded = 0 == strcmp(backends, "all") || 0 == strcmp(backends, "embedded");
    bool run_aeron = 0 == strcmp(backends, "all") || 0 == strcmp(backends, "aeron");
    if (!run_embedded && !run_aeron)
    {
        fprintf(stderr, "--backend must be embedded, aeron or all\n");
        return 2;
    }
#if defined(TP_HAVE_AERON)
    if (run_aeron && !tp_aeron_media_driver_supported())
    {
        fprintf(stderr, "aeron backend not measured: no embedded media driver in this build\n");
        if (0 != strcmp(backends, "all"))
        {
            return 2;
        }
        run_aeron = false;
    }
    /* The aeron runs embed their media driver (one per client, in this process). */
    setenv("TP_AERON_EMBEDDED_DRIVER", "1", 1);
#else
    if (run_aeron && 0 != strcmp(backends, "all"))
    {
        fprintf(stderr, "this build has no Aeron backend (configure with -DTP_WITH_AERON=ON)\n");
        return 2;
    }
    run_aeron = false;
#endif
    /* The backend is chosen per run here, not by the test environment. */
    unsetenv("TP_TEST_TRANSPORT");
    int rc_exit = 0;
    for (size_t si = 0; si < nsizes && 0 == rc_exit; si++)
    {
        /* the raw transport right before each size: this host's cache-line transfer cost can change mid-run */
        if (raw && run_embedded && tp_bench_raw_transport(smoke) < 0)
        {
            rc_exit = 1;
            break;
        }
        tp_bench_result_t embedded[2] = { { 0 } };
        tp_bench_result_t aeron[2] = { { 0 } };
        if (run_embedded && tp_bench_size("embedded", sizes[si], si, smoke, embedded) < 0)
        {
            rc_exit = 1;
        }
        if (0 == rc_exit && run_aeron && tp_bench_size("aeron", sizes[si], si, smoke, aeron) < 0)
        {
            rc_exit = 1;
        }
        for (int claim = 0; claim <= 1 && 0 == rc_exit; claim++)
        {
            if (embedded[claim].valid && aeron[claim].valid)
            {
                tp_bench_compare(claim ? "claim" : "copy", sizes[si], &embedded[claim], &aeron[claim]);
            }
        }
    }
    return rc_exit;
}
