/*
 * Rate limiter benchmark: latency the rate limiter adds to each republished
 * frame (unlimited rate, so every frame is republished), at 64 B and 64 KiB.
 *
 * One process, one thread, everything in invoker mode (no thread handoff, so
 * the numbers are the work done, not scheduling): a source producer; a direct
 * consumer of the source stream; the rate limiter (its own source consumer,
 * its destination producer); a consumer of the destination stream. Per frame:
 *   t0  just before tp_producer_offer on the source;
 *   t1  the direct consumer's callback (duty cycles of its client only);
 *   t2  the destination consumer's callback (duty cycles of the rate limiter
 *       and of the destination client only).
 * added = t2 - t1: what a consumer reading through the rate limiter waits
 * more than one reading the source (the agent's seqlock read, copy into its
 * own pool, commit and descriptor, and the second consumer's read). One frame
 * in flight at a time. Prints one JSON line per size:
 *   {"bench":"ratelimit","size":N,"frames":N,"direct_p50_ns":N,"direct_p99_ns":N,
 *    "via_rl_p50_ns":N,"via_rl_p99_ns":N,"added_p50_ns":N,"added_p99_ns":N}
 *
 *   tp_bench_ratelimit [--smoke] [--frames N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tests/client/tp_client_test_util.h"
#include "ratelimit/tp_ratelimit.h"

typedef struct bench_stct
{
    uint64_t direct_seq;
    uint64_t direct_ns;
    uint64_t dest_seq;
    uint64_t dest_ns;
} bench_t;

static void on_direct(void *clientd, const tp_frame_t *f)
{
    bench_t *b = clientd;
    b->direct_ns = tp_clock_mono_ns();
    b->direct_seq = f->seq;
}

static void on_dest(void *clientd, const tp_frame_t *f)
{
    bench_t *b = clientd;
    b->dest_ns = tp_clock_mono_ns();
    b->dest_seq = f->seq;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t pct(uint64_t *v, size_t n, double p)
{
    return n ? v[(size_t)(p * (double)(n - 1))] : 0;
}

static int run_size(size_t size, uint64_t frames)
{
    tpc_dirs_t d;
    if (tpc_dirs_make(&d, "benchrl") < 0)
    {
        perror("mkdtemp");
        return -1;
    }
    int rc = -1;
    bench_t b = { .direct_seq = UINT64_MAX, .dest_seq = UINT64_MAX };
    tp_context_t *ctx = tpc_context(&d);
    tp_context_t *dctx = tpc_context(&d);
    tp_client_t *src = NULL;
    tp_client_t *direct = NULL;
    tp_client_t *dst = NULL;
    tp_ratelimit_t *rl = NULL;
    tp_producer_t *p = NULL;
    tp_consumer_t *c_direct = NULL;
    tp_consumer_t *c_dest = NULL;
    uint8_t *payload = calloc(1, size);
    uint64_t *direct_lat = calloc(frames, sizeof(uint64_t));
    uint64_t *via_lat = calloc(frames, sizeof(uint64_t));
    uint64_t *added = calloc(frames, sizeof(uint64_t));
    tp_ratelimit_config_t config;
    tp_ratelimit_config_init(&config);
    snprintf(config.instance_id, sizeof(config.instance_id), "bench");
    snprintf(config.descriptor_channel, sizeof(config.descriptor_channel), "aeron:ipc");
    config.descriptor_stream_id = 1101;
    config.forward_metadata = false;
    config.mapping_count = 1;
    tp_ratelimit_mapping_defaults(&config.mappings[0]);
    config.mappings[0].source_stream_id = 10000;
    config.mappings[0].dest_stream_id = 10001;
    config.mappings[0].per_consumer = false; /* unlimited whatever the consumer says */
    config.mappings[0].pools[0].stride_bytes = size > 64 ? (uint32_t)size : 64;
    tp_producer_config_t pc;
    tp_producer_config_defaults(&pc);
    pc.stream_id = 10000;
    pc.header_nslots = 256;
    pc.pools[0].stride_bytes = config.mappings[0].pools[0].stride_bytes;
    tp_consumer_config_t cc;
    tp_consumer_config_defaults(&cc);
    cc.use_metadata = false;
    if (NULL == ctx || NULL == dctx || NULL == payload || NULL == direct_lat || NULL == via_lat || NULL == added ||
        tp_context_set_stream(dctx, TP_STREAM_DESCRIPTOR, "aeron:ipc", 1101) < 0 ||
        tp_client_init(&src, ctx) < 0 || tp_client_start(src) < 0 || tp_client_init(&direct, ctx) < 0 ||
        tp_client_start(direct) < 0 || tp_client_init(&dst, dctx) < 0 || tp_client_start(dst) < 0 ||
        tp_client_add_producer(&p, src, &pc, 0) < 0 || tp_ratelimit_init(&rl, &config, ctx) < 0)
    {
        fprintf(stderr, "tp_bench_ratelimit: setup: %s\n", tp_errmsg());
        goto done;
    }
    cc.stream_id = 10000;
    cc.on_frame = on_direct;
    cc.clientd = &b;
    if (tp_client_add_consumer(&c_direct, direct, &cc, 0) < 0)
    {
        goto done;
    }
    cc.stream_id = 10001;
    cc.on_frame = on_dest;
    if (tp_client_add_consumer(&c_dest, dst, &cc, 0) < 0)
    {
        goto done;
    }
    uint64_t deadline = tp_clock_mono_ns() + UINT64_C(10000000000);
    while (!(tp_consumer_is_mapped(c_direct) && tp_consumer_is_mapped(c_dest) &&
               tp_consumer_is_mapped(tp_ratelimit_source_consumer(rl, 0))) &&
        tp_clock_mono_ns() < deadline)
    {
        tp_client_do_work(src);
        tp_client_do_work(direct);
        tp_ratelimit_do_work(rl);
        tp_client_do_work(dst);
    }
    uint64_t warmup = frames / 10 + 10;
    uint64_t n = 0;
    for (uint64_t i = 0; i < warmup + frames; i++)
    {
        tp_client_do_work(src);
        uint64_t t0 = tp_clock_mono_ns();
        int64_t seq = tp_producer_offer(p, NULL, payload, size, NULL);
        if (seq < 0)
        {
            fprintf(stderr, "tp_bench_ratelimit: offer: %lld %s\n", (long long)seq, tp_errmsg());
            goto done;
        }
        deadline = t0 + UINT64_C(1000000000);
        while (b.direct_seq != (uint64_t)seq && tp_clock_mono_ns() < deadline)
        {
            tp_client_do_work(direct);
        }
        while (b.dest_seq != (uint64_t)seq && tp_clock_mono_ns() < deadline)
        {
            tp_ratelimit_do_work(rl);
            tp_client_do_work(dst);
        }
        if (b.direct_seq != (uint64_t)seq || b.dest_seq != (uint64_t)seq)
        {
            fprintf(stderr, "tp_bench_ratelimit: frame %lld not delivered within 1 s\n", (long long)seq);
            goto done;
        }
        if (i >= warmup)
        {
            direct_lat[n] = b.direct_ns - t0;
            via_lat[n] = b.dest_ns - t0;
            added[n] = b.dest_ns - b.direct_ns;
            n++;
        }
    }
    qsort(direct_lat, n, sizeof(uint64_t), cmp_u64);
    qsort(via_lat, n, sizeof(uint64_t), cmp_u64);
    qsort(added, n, sizeof(uint64_t), cmp_u64);
    printf("{\"bench\":\"ratelimit\",\"size\":%zu,\"frames\":%llu,\"direct_p50_ns\":%llu,\"direct_p99_ns\":%llu,"
           "\"via_rl_p50_ns\":%llu,\"via_rl_p99_ns\":%llu,\"added_p50_ns\":%llu,\"added_p99_ns\":%llu}\n",
        size, (unsigned long long)n, (unsigned long long)pct(direct_lat, n, 0.5),
        (unsigned long long)pct(direct_lat, n, 0.99), (unsigned long long)pct(via_lat, n, 0.5),
        (unsigned long long)pct(via_lat, n, 0.99), (unsigned long long)pct(added, n, 0.5),
        (unsigned long long)pct(added, n, 0.99));
    fflush(stdout);
    rc = 0;
done:
    if (c_dest)
    {
        tp_consumer_close(c_dest);
    }
    if (c_direct)
    {
        tp_consumer_close(c_direct);
    }
    tp_ratelimit_close(rl);
    if (p)
    {
        tp_producer_close(p);
    }
    tp_client_close(dst);
    tp_client_close(direct);
    tp_client_close(src);
    tp_context_close(ctx);
    tp_context_close(dctx);
    free(payload);
    free(direct_lat);
    free(via_lat);
    free(added);
    tpc_dirs_remove(&d);
    return rc;
}

int main(int argc, char **argv)
{
    uint64_t frames = 20000;
    for (int i = 1; i < argc; i++)
    {
        if (0 == strcmp(argv[i], "--smoke"))
        {
            frames = 200;
        }
        else if (0 == strcmp(argv[i], "--frames") && i + 1 < argc)
        {
            char *end = NULL;
            frames = strtoull(argv[++i], &end, 10);
            if ('\0' != *end || 0 == frames || frames > 10000000)
            {
                fprintf(stderr, "tp_bench_ratelimit: --frames must be an integer in [1, 10000000]\n");
                return 2;
            }
        }
        else
        {
            fprintf(stderr, "usage: tp_bench_ratelimit [--smoke] [--frames N]\n");
            return 2;
        }
    }
    static const size_t sizes[] = { 64, 65536 };
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
    {
        if (run_size(sizes[i], frames) < 0)
        {
            return 1;
        }
    }
    return 0;
}
