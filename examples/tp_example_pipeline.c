/*
 * A multi-stage pipeline with TraceLink lineage (docs/TRACELINK.md, docs/JOIN.md):
 *
 *   source A (stream 10001, traced)  ─┐
 *                                     ├─> join (SequenceJoinBarrier) ─> 10003 ─> process (1->1) ─> 10004
 *   source B (stream 10002, traced)  ─┘        new trace id per output,           keeps seq and trace id
 *                                              TraceLinkSet {A, B} emitted
 *
 * One process, one client in invoker mode (every stage runs in the main
 * loop, the frame callbacks only copy into bounded rings). The sources are
 * root stages: their producers mint trace ids (trace_enabled). The join
 * stage learns its MergeMap through the control plane like a late joiner:
 * its barrier starts blocked, a tp_merge_map_listener_t sends a
 * SequenceMergeMapRequest, the stage's tp_merge_map_authority_t answers.
 * Verifier consumers record what every stream carried and a TraceLinkSet
 * listener what the join emitted; at the end every output frame's lineage is
 * checked: output trace == join trace of the same seq, and its TraceLinkSet
 * names exactly [trace of A's frame seq, trace of B's frame seq], in that
 * order; payloads are checked too. Exit status 0 when all FRAMES outputs
 * verify.
 *
 *   tp_example_pipeline [--frames N] [--json] [--dir DIR]
 *
 * --json prints every record (source, join, tracelink, output) and a summary
 * as JSON lines, for tools/tests that check the lineage independently.
 * Without --dir a private temp directory is used and removed.
 */
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tensor_pool/tp.h"
#include "tp_args.h"

#define STREAM_A 10001u
#define STREAM_B 10002u
#define STREAM_J 10003u
#define STREAM_P 10004u
#define RING 256u

typedef struct
{
    uint64_t seq;
    uint64_t trace_id;
    uint64_t value;
    bool used;
} slot_t;

/* One bounded ring per join input (filled by the consumer callbacks, read by the join loop). */
typedef struct
{
    slot_t slots[RING];
} ring_t;

/* What each stream carried, by seq (the verifier's view). */
typedef struct
{
    uint64_t *trace;
    uint64_t *value;
    uint8_t *seen;
} record_t;

typedef struct
{
    uint32_t frames;
    bool json;
    tp_join_barrier_t *barrier;
    ring_t in[2];
    /* process stage: frames of 10003 waiting to be republished */
    slot_t pending[RING];
    uint64_t pending_head, pending_tail;
    record_t rec_a, rec_b, rec_j, rec_p;
    /* TraceLinkSets heard, by output seq */
    uint64_t *link_trace;
    uint64_t (*link_parents)[2];
    uint8_t *link_count;
    uint64_t links_heard, links_bad;
    uint64_t outputs;
    uint64_t dropped_input;
} pipeline_t;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}

static bool read_value(const tp_frame_t *frame, uint64_t *value)
{
    if (frame->length < 8)
    {
        return false;
    }
    memcpy(value, frame->payload, 8);
    return tp_frame_is_valid(frame); /* zero-copy rule: validate after reading */
}

static void record(pipeline_t *p, record_t *r, const tp_frame_t *frame, uint64_t value, const char *type)
{
    if (frame->seq < p->frames)
    {
        r->trace[frame->seq] = frame->trace_id;
        r->value[frame->seq] = value;
        r->seen[frame->seq] = 1;
    }
    if (p->json)
    {
        printf("{\"type\":\"%s\",\"stream_id\":%u,\"epoch\":%" PRIu64 ",\"seq\":%" PRIu64 ",\"trace_id\":%" PRIu64
               ",\"value\":%" PRIu64 "}\n",
            type, frame->stream_id, frame->epoch, frame->seq, frame->trace_id, value);
    }
}

/* Join stage inputs: copy into the ring, tell the barrier. */
static void on_join_input(void *clientd, const tp_frame_t *frame)
{
    pipeline_t *p = clientd;
    uint64_t value = 0;
    if (!read_value(frame, &value))
    {
        p->dropped_input++;
        return;
    }
    ring_t *ring = &p->in[STREAM_A == frame->stream_id ? 0 : 1];
    slot_t *s = &ring->slots[frame->seq % RING];
    *s = (slot_t){ .seq = frame->seq, .trace_id = frame->trace_id, .value = value, .used = true };
    tp_join_barrier_observe_frame(p->barrier, frame, now_ns());
}

/* Process stage input (10003): queue for republishing (the loop publishes). */
static void on_process_input(void *clientd, const tp_frame_t *frame)
{
    pipeline_t *p = clientd;
    uint64_t value = 0;
    if (!read_value(frame, &value) || p->pending_tail - p->pending_head >= RING)
    {
        p->dropped_input++;
        return;
    }
    p->pending[p->pending_tail++ % RING] = (slot_t){ .seq = frame->seq, .trace_id = frame->trace_id, .value = value,
        .used = true };
}

static void on_verify(void *clientd, const tp_frame_t *frame)
{
    pipeline_t *p = clientd;
    uint64_t value = 0;
    if (!read_value(frame, &value))
    {
        return;
    }
    switch (frame->stream_id)
    {
        case STREAM_A: record(p, &p->rec_a, frame, value, "source"); break;
        case STREAM_B: record(p, &p->rec_b, frame, value, "source"); break;
        case STREAM_J: record(p, &p->rec_j, frame, value, "join"); break;
        default:
            record(p, &p->rec_p, frame, value, "output");
            p->outputs++;
            break;
    }
}

static void on_tracelink(void *clientd, uint32_t stream_id, uint64_t epoch, uint64_t seq, uint64_t trace_id,
    const uint64_t *parents, size_t count)
{
    pipeline_t *p = clientd;
    if (STREAM_J != stream_id)
    {
        return;
    }
    p->links_heard++;
    if (seq < p->frames)
    {
        p->link_trace[seq] = trace_id;
        p->link_count[seq] = (uint8_t)(count > 2 ? 3 : count);
        for (size_t i = 0; i < count && i < 2; i++)
        {
            p->link_parents[seq][i] = parents[i];
        }
    }
    else
    {
        p->links_bad++;
    }
    if (p->json)
    {
        printf("{\"type\":\"tracelink\",\"stream_id\":%u,\"epoch\":%" PRIu64 ",\"seq\":%" PRIu64 ",\"trace_id\":%" PRIu64
               ",\"parents\":[",
            stream_id, epoch, seq, trace_id);
        for (size_t i = 0; i < count; i++)
        {
            printf("%s%" PRIu64, i ? "," : "", parents[i]);
        }
        printf("]}\n");
    }
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int add_consumer(tp_client_t *client, uint32_t stream, tp_frame_handler_t fn, void *clientd, tp_consumer_t **out)
{
    tp_consumer_config_t cc;
    tp_consumer_config_defaults(&cc);
    cc.stream_id = stream;
    cc.on_frame = fn;
    cc.clientd = clientd;
    cc.use_metadata = false;
    return tp_client_add_consumer(out, client, &cc, 0);
}

static int add_producer(tp_client_t *client, uint32_t stream, uint32_t trace_node, tp_producer_t **out)
{
    tp_producer_config_t pc;
    tp_producer_config_defaults(&pc);
    pc.stream_id = stream;
    pc.header_nslots = 256;
    pc.pools[0] = (tp_pool_config_t){ .pool_id = 1, .stride_bytes = 64 };
    pc.trace_enabled = 0 != trace_node;
    pc.trace_node_id = trace_node;
    return tp_client_add_producer(out, client, &pc, 0);
}

/* Publish a value frame with sequence `seq` and trace id `trace` (0: the producer decides). 1 done, 0 retry, -1 error. */
static int publish(tp_producer_t *producer, uint64_t seq, uint64_t value, uint64_t trace)
{
    if (tp_producer_next_seq(producer) != seq && tp_producer_set_next_seq(producer, seq) < 0)
    {
        return -1;
    }
    tp_frame_options_t opt = { .timestamp_ns = 0, .trace_id = trace };
    int64_t rc = tp_producer_offer(producer, NULL, &value, sizeof(value), &opt);
    if (rc >= 0)
    {
        return (uint64_t)rc == seq ? 1 : -1;
    }
    return TP_PRODUCER_BACK_PRESSURED == rc || TP_PRODUCER_NOT_ATTACHED == rc ? 0 : -1;
}

static int verify(pipeline_t *p)
{
    uint64_t ok = 0, bad = 0;
    for (uint64_t s = 0; s < p->frames; s++)
    {
        const char *why = NULL;
        uint64_t ta = p->rec_a.trace[s], tb = p->rec_b.trace[s], tj = p->rec_j.trace[s], to = p->rec_p.trace[s];
        if (!p->rec_p.seen[s])
        {
            why = "output frame missing";
        }
        else if (!p->rec_a.seen[s] || !p->rec_b.seen[s] || !p->rec_j.seen[s])
        {
            why = "an upstream frame was not seen by the verifier";
        }
        else if (0 == ta || 0 == tb || ta == tb)
        {
            why = "source trace ids must be non-zero and distinct (root frames mint new ids)";
        }
        else if (0 == to || to != tj)
        {
            why = "output trace id differs from the join frame's (1->1 must propagate)";
        }
        else if (to == ta || to == tb)
        {
            why = "the join reused a parent trace id (N->1 must mint)";
        }
        else if (2 != p->link_count[s] || p->link_trace[s] != to)
        {
            why = "no TraceLinkSet with two parents for the output trace id";
        }
        else if (p->link_parents[s][0] != ta || p->link_parents[s][1] != tb)
        {
            why = "TraceLinkSet parents differ from the frames joined";
        }
        else if (p->rec_p.value[s] != 2 * (p->rec_a.value[s] + p->rec_b.value[s]) ||
            p->rec_a.value[s] != 10 * s + 1 || p->rec_b.value[s] != 10 * s + 2)
        {
            why = "payload values wrong";
        }
        if (NULL == why)
        {
            ok++;
        }
        else
        {
            if (bad < 10)
            {
                fprintf(stderr, "tp_example_pipeline: seq %" PRIu64 ": %s\n", s, why);
            }
            bad++;
        }
    }
    if (p->json)
    {
        printf("{\"type\":\"summary\",\"frames\":%u,\"verified\":%" PRIu64 ",\"failed\":%" PRIu64
               ",\"tracelinks\":%" PRIu64 ",\"ok\":%s}\n",
            p->frames, ok, bad, p->links_heard, 0 == bad ? "true" : "false");
    }
    else
    {
        printf("pipeline: %u frames, %" PRIu64 " outputs with verified lineage, %" PRIu64 " failed, %" PRIu64
               " TraceLinkSets heard\n",
            p->frames, ok, bad, p->links_heard);
    }
    return 0 == bad ? 0 : 1;
}

static int run(const char *dir, pipeline_t *p)
{
    int rc = 1;
    tp_context_t *ctx = NULL;
    tp_client_t *client = NULL;
    tp_tracelink_emitter_t *emitter = NULL;
    tp_tracelink_listener_t *links = NULL;
    tp_merge_map_authority_t *authority = NULL;
    tp_merge_map_listener_t *maps = NULL;
    tp_producer_t *pa = NULL, *pb = NULL, *pj = NULL, *pp = NULL;
    tp_consumer_t *ca = NULL, *cb = NULL, *cj = NULL, *va = NULL, *vb = NULL, *vj = NULL, *vp = NULL;
    tp_trace_id_generator_t join_ids;
    if (tp_context_init(&ctx) < 0 || tp_context_set_shm_base_dir(ctx, dir) < 0 ||
        tp_context_set_transport_dir(ctx, dir) < 0 || tp_context_set_announce_period_ns(ctx, 50000000u) < 0 ||
        tp_context_set_hello_interval_ns(ctx, 50000000u) < 0 || tp_client_init(&client, ctx) < 0 ||
        tp_trace_id_generator_init(&join_ids, 3) < 0)
    {
        goto fail;
    }
    /* sources (root stages: trace ids minted by the producers, nodes 1 and 2) */
    if (add_producer(client, STREAM_A, 1, &pa) < 0 || add_producer(client, STREAM_B, 2, &pb) < 0 ||
        add_producer(client, STREAM_J, 0, &pj) < 0 || add_producer(client, STREAM_P, 0, &pp) < 0)
    {
        goto fail;
    }
    /* join stage: barrier blocked until the MergeMap arrives through the control plane */
    tp_join_barrier_config_t bc = { .kind = TP_JOIN_SEQUENCE, .out_stream_id = STREAM_J,
        .out_epoch = tp_producer_epoch(pj) };
    tp_seq_merge_map_t map;
    memset(&map, 0, sizeof(map));
    map.out_stream_id = STREAM_J;
    map.epoch = tp_producer_epoch(pj);
    map.rule_count = 2;
    map.rules[0] = (tp_merge_seq_rule_t){ .input_stream_id = STREAM_A, .type = TP_MERGE_RULE_OFFSET, .has_offset = true };
    map.rules[1] = (tp_merge_seq_rule_t){ .input_stream_id = STREAM_B, .type = TP_MERGE_RULE_OFFSET, .has_offset = true };
    if (tp_join_barrier_create(&p->barrier, &bc) < 0 ||
        tp_merge_map_authority_create(&authority, ctx, NULL, 0, 0) < 0 ||
        tp_merge_map_authority_set_seq_map(authority, &map) < 0 ||
        tp_merge_map_listener_create(&maps, ctx, NULL, 0, p->barrier, 50000000u) < 0 ||
        tp_tracelink_emitter_create(&emitter, ctx, NULL, 0) < 0 ||
        tp_tracelink_listener_create(&links, ctx, NULL, 0, on_tracelink, p) < 0)
    {
        goto fail;
    }
    if (add_consumer(client, STREAM_A, on_join_input, p, &ca) < 0 ||
        add_consumer(client, STREAM_B, on_join_input, p, &cb) < 0 ||
        add_consumer(client, STREAM_J, on_process_input, p, &cj) < 0 ||
        add_consumer(client, STREAM_A, on_verify, p, &va) < 0 || add_consumer(client, STREAM_B, on_verify, p, &vb) < 0 ||
        add_consumer(client, STREAM_J, on_verify, p, &vj) < 0 || add_consumer(client, STREAM_P, on_verify, p, &vp) < 0)
    {
        goto fail;
    }
    /* setup: everything mapped, the MergeMap learnt, the TraceLinkSet stream connected */
    uint64_t deadline = now_ns() + UINT64_C(20000000000);
    tp_consumer_t *all[] = { ca, cb, cj, va, vb, vj, vp };
    for (;;)
    {
        uint64_t now = now_ns();
        tp_client_do_work(client);
        tp_merge_map_authority_do_work(authority, now);
        tp_merge_map_listener_do_work(maps, now);
        tp_tracelink_emitter_do_work(emitter);
        tp_tracelink_listener_poll(links, 16);
        bool ready = tp_join_barrier_has_map(p->barrier) && tp_tracelink_emitter_is_connected(emitter);
        for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        {
            ready = ready && tp_consumer_is_mapped(all[i]);
        }
        if (ready)
        {
            break;
        }
        if (now > deadline)
        {
            fprintf(stderr, "tp_example_pipeline: setup did not complete (mapping, MergeMap or TraceLink stream)\n");
            goto cleanup;
        }
        struct timespec pause = { 0, 500000 };
        nanosleep(&pause, NULL);
    }
    /* run */
    uint64_t next_src = 0, next_out = 0;
    bool a_done = false;
    deadline = now_ns() + UINT64_C(60000000000);
    while (p->outputs < p->frames || p->links_heard < p->frames)
    {
        uint64_t now = now_ns();
        int work = tp_client_do_work(client);
        tp_merge_map_authority_do_work(authority, now);
        tp_merge_map_listener_do_work(maps, now);
        tp_tracelink_emitter_do_work(emitter);
        work += tp_tracelink_listener_poll(links, 64);
        /* sources: A then B for the same seq, paced by the join (at most RING/2 ahead) */
        if (next_src < p->frames && next_src < next_out + RING / 2)
        {
            if (!a_done)
            {
                int r = publish(pa, next_src, 10 * next_src + 1, 0);
                a_done = r > 0;
                if (r < 0)
                {
                    goto fail;
                }
            }
            if (a_done)
            {
                int r = publish(pb, next_src, 10 * next_src + 2, 0);
                if (r < 0)
                {
                    goto fail;
                }
                if (r > 0)
                {
                    a_done = false;
                    next_src++;
                    work++;
                }
            }
        }
        /* join: every out_seq the barrier allows */
        tp_join_result_t result;
        while (next_out < p->frames && 1 == tp_join_barrier_ready_seq(p->barrier, next_out, now, &result))
        {
            const slot_t *sa = &p->in[0].slots[result.inputs[0].seq_high % RING];
            const slot_t *sb = &p->in[1].slots[result.inputs[1].seq_high % RING];
            if (!sa->used || !sb->used || sa->seq != result.inputs[0].seq_high || sb->seq != result.inputs[1].seq_high)
            {
                fprintf(stderr, "tp_example_pipeline: join input for seq %" PRIu64 " missing from the ring\n", next_out);
                goto cleanup;
            }
            uint64_t trace = tp_trace_id_next(&join_ids); /* N->1: mint */
            int r = publish(pj, next_out, sa->value + sb->value, trace);
            if (r < 0)
            {
                goto fail;
            }
            if (0 == r)
            {
                break; /* back pressure: retry next turn */
            }
            uint64_t parents[2] = { sa->trace_id, sb->trace_id };
            tp_tracelink_emit(emitter, STREAM_J, tp_producer_epoch(pj), next_out, trace, parents, 2);
            next_out++;
            work++;
        }
        /* process (1->1): same seq, same trace id, doubled value */
        while (p->pending_head < p->pending_tail)
        {
            const slot_t *s = &p->pending[p->pending_head % RING];
            int r = publish(pp, s->seq, 2 * s->value, s->trace_id);
            if (r < 0)
            {
                goto fail;
            }
            if (0 == r)
            {
                break;
            }
            p->pending_head++;
            work++;
        }
        if (now > deadline)
        {
            fprintf(stderr, "tp_example_pipeline: timed out with %" PRIu64 " of %u outputs\n", p->outputs, p->frames);
            break;
        }
        if (work <= 0)
        {
            struct timespec pause = { 0, 100000 };
            nanosleep(&pause, NULL);
        }
    }
    rc = verify(p);
    goto cleanup;
fail:
    fprintf(stderr, "tp_example_pipeline: %s\n", tp_errmsg());
cleanup:
    tp_tracelink_listener_close(links);
    tp_tracelink_emitter_close(emitter);
    tp_merge_map_listener_close(maps);
    tp_merge_map_authority_close(authority);
    tp_client_close(client);
    tp_join_barrier_close(p->barrier);
    tp_context_close(ctx);
    return rc;
}

int main(int argc, char **argv)
{
    static pipeline_t p;
    p.frames = 200;
    const char *dir_arg = NULL;
    for (int i = 1; i < argc; i++)
    {
        if (0 == strcmp(argv[i], "--frames"))
        {
            const char *v = tp_args_value("tp_example_pipeline", argc, argv, &i);
            if (NULL == v || tp_args_u32("tp_example_pipeline", "--frames", v, 1, 1000000, "a frame count", &p.frames) < 0)
            {
                return 2;
            }
        }
        else if (0 == strcmp(argv[i], "--json"))
        {
            p.json = true;
        }
        else if (0 == strcmp(argv[i], "--dir"))
        {
            dir_arg = tp_args_value("tp_example_pipeline", argc, argv, &i);
            if (NULL == dir_arg || tp_args_path("tp_example_pipeline", "--dir", dir_arg, 3000) < 0)
            {
                return 2;
            }
        }
        else
        {
            fprintf(stderr, "usage: tp_example_pipeline [--frames N] [--json] [--dir DIR]\n");
            return 2;
        }
    }
    record_t *recs[4] = { &p.rec_a, &p.rec_b, &p.rec_j, &p.rec_p };
    for (int i = 0; i < 4; i++)
    {
        recs[i]->trace = calloc(p.frames, sizeof(uint64_t));
        recs[i]->value = calloc(p.frames, sizeof(uint64_t));
        recs[i]->seen = calloc(p.frames, 1);
    }
    p.link_trace = calloc(p.frames, sizeof(uint64_t));
    p.link_parents = calloc(p.frames, sizeof(*p.link_parents));
    p.link_count = calloc(p.frames, 1);
    char dir[] = "/tmp/tp-pipeline-XXXXXX";
    if (NULL == dir_arg && NULL == mkdtemp(dir))
    {
        perror("mkdtemp");
        return 1;
    }
    int rc = run(NULL != dir_arg ? dir_arg : dir, &p);
    if (NULL == dir_arg)
    {
        nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
    for (int i = 0; i < 4; i++)
    {
        free(recs[i]->trace);
        free(recs[i]->value);
        free(recs[i]->seen);
    }
    free(p.link_trace);
    free(p.link_parents);
    free(p.link_count);
    return rc;
}
