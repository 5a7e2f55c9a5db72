/*
 * Join overhead per output frame (docs/JOIN.md): what a sequence join stage
 * adds per frame on top of receiving its inputs, at 2 and 8 inputs:
 *
 *   barrier   N x tp_join_barrier_observe + tp_join_barrier_ready_seq
 *   +trace    the same, plus minting the output trace id and encoding the
 *             TraceLinkSet with N parents (what tp_tracelink_emit does
 *             before its single non-blocking offer)
 *
 * Frames are timed in batches of BATCH (clock reads amortised); the per-frame
 * cost of each batch is one sample; p50/p99/mean over the samples are printed
 * as one JSON line per configuration. Single thread, no transport.
 *
 *   tp_bench_join [--frames N] [--smoke]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/tp_clock.h"
#include "protocol/tp_proto_tracelink.h"
#include "tensor_pool/tp.h"

#define BATCH 64u

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static volatile uint64_t sink;

static int run(uint32_t inputs, bool with_trace, uint64_t frames)
{
    tp_join_barrier_config_t c = { .kind = TP_JOIN_SEQUENCE, .out_stream_id = 1, .out_epoch = 1 };
    tp_join_barrier_t *b = NULL;
    if (tp_join_barrier_create(&b, &c) < 0)
    {
        return -1;
    }
    tp_seq_merge_map_t m;
    memset(&m, 0, sizeof(m));
    m.out_stream_id = 1;
    m.epoch = 1;
    m.rule_count = inputs;
    for (uint32_t i = 0; i < inputs; i++)
    {
        m.rules[i] = (tp_merge_seq_rule_t){ .input_stream_id = 100 + i, .type = TP_MERGE_RULE_OFFSET,
            .has_offset = true };
    }
    tp_join_barrier_apply_seq_map(b, &m);
    tp_trace_id_generator_t gen;
    tp_trace_id_generator_init(&gen, 9);
    static tp_proto_trace_link_set_view_t msg;
    static uint8_t buf[TP_PROTO_TRACELINK_MAX_LENGTH];
    uint64_t batches = frames / BATCH;
    uint64_t *samples = calloc(batches, sizeof(uint64_t));
    if (NULL == samples)
    {
        return -1;
    }
    tp_join_result_t r;
    uint64_t seq = 0, ready = 0;
    for (uint64_t k = 0; k < batches; k++)
    {
        uint64_t t0 = tp_clock_mono_ns();
        for (uint32_t f = 0; f < BATCH; f++, seq++)
        {
            for (uint32_t i = 0; i < inputs; i++)
            {
                tp_join_barrier_observe(b, 100 + i, 1, seq, TP_NULL_TIMESTAMP, seq, seq * 8 + i + 1, t0);
            }
            if (1 == tp_join_barrier_ready_seq(b, seq, t0, &r))
            {
                ready++;
                if (with_trace)
                {
                    msg.stream_id = 1;
                    msg.epoch = 1;
                    msg.seq = seq;
                    msg.trace_id = tp_trace_id_next(&gen);
                    msg.parent_count = inputs;
                    for (uint32_t i = 0; i < inputs; i++)
                    {
                        msg.parents[i] = r.inputs[i].latest_trace_id;
                    }
                    size_t len = 0;
                    tp_proto_encode_trace_link_set(buf, sizeof(buf), &msg, &len);
                    sink += len;
                }
            }
        }
        samples[k] = (tp_clock_mono_ns() - t0) * 1000 / BATCH; /* picoseconds per frame */
    }
    qsort(samples, batches, sizeof(uint64_t), cmp_u64);
    uint64_t sum = 0;
    for (uint64_t k = 0; k < batches; k++)
    {
        sum += samples[k];
    }
    printf("{\"bench\":\"join\",\"mode\":\"%s\",\"inputs\":%u,\"frames\":%" PRIu64 ",\"ready\":%" PRIu64
           ",\"ns_per_frame_p50\":%.1f,\"ns_per_frame_p99\":%.1f,\"ns_per_frame_mean\":%.1f}\n",
        with_trace ? "barrier+tracelink" : "barrier", inputs, batches * BATCH, ready, samples[batches / 2] / 1000.0,
        samples[(batches * 99) / 100] / 1000.0, (double)sum / (double)batches / 1000.0);
    free(samples);
    tp_join_barrier_close(b);
    return ready == batches * BATCH ? 0 : -1;
}

int main(int argc, char **argv)
{
    uint64_t frames = 2000000;
    for (int i = 1; i < argc; i++)
    {
        if (0 == strcmp(argv[i], "--smoke"))
        {
            frames = 20000;
        }
        else if (0 == strcmp(argv[i], "--frames") && i + 1 < argc)
        {
            frames = strtoull(argv[++i], NULL, 10);
        }
        else
        {
            fprintf(stderr, "usage: tp_bench_join [--frames N] [--smoke]\n");
            return 2;
        }
    }
    if (frames < BATCH * 10)
    {
        frames = BATCH * 10;
    }
    uint32_t sizes[2] = { 2, 8 };
    for (int t = 0; t < 2; t++)
    {
        for (int s = 0; s < 2; s++)
        {
            if (run(sizes[s], 1 == t, frames) < 0)
            {
                fprintf(stderr, "tp_bench_join: failed (%s)\n", tp_errmsg());
                return 1;
            }
        }
    }
    return 0;
}
