/*
 * TraceLink: Snowflake trace ids (§6.1, §6.2), producer trace_enabled
 * (§8.1: non-zero ids minted, given ids kept, 0 without tracing), the
 * TraceLinkSet emitter on the control stream (§7, §9: best effort, counted
 * drops, invalid parents refused), and the MergeMap authority/listener
 * (Join Barrier §10: late-join request answered, announces applied, invalid
 * announces blocking the barrier, schemaId gating).
 */
#include <string.h>

#include "../client/tp_client_test_util.h"
#include "protocol/tp_proto_merge.h"
#include "protocol/tp_proto_tracelink.h"
#include "tp_test.h"

#include <stdatomic.h>

#include "tp_noalloc.h"

static void test_trace_id_format(void)
{
    tp_trace_id_generator_t g;
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_trace_id_generator_init(&g, 0));
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_trace_id_generator_init(&g, 1024));
    TP_ASSERT_OK(tp_trace_id_generator_init(&g, 513));
    uint64_t now_ms = UINT64_C(1764720000000); /* 2025-12-03 */
    uint64_t id = tp_trace_id_next_at(&g, now_ms);
    TP_ASSERT(0 != id);
    TP_ASSERT_EQ_U64(0, id >> 63);
    TP_ASSERT_EQ_U64(now_ms, tp_trace_id_unix_ms(id));
    TP_ASSERT_EQ_U64(513, tp_trace_id_node_id(id));
    TP_ASSERT_EQ_U64(0, tp_trace_id_sequence(id));
    uint64_t id2 = tp_trace_id_next_at(&g, now_ms);
    TP_ASSERT_EQ_U64(1, tp_trace_id_sequence(id2));
    TP_ASSERT(id2 > id);
    /* 4096 ids per millisecond, then the next millisecond is borrowed: still unique and increasing */
    uint64_t prev = id2;
    for (int i = 0; i < 10000; i++)
    {
        uint64_t x = tp_trace_id_next_at(&g, now_ms);
        TP_ASSERT(x > prev);
        prev = x;
    }
    TP_ASSERT(tp_trace_id_unix_ms(prev) > now_ms);
    /* the clock stepping back never produces a smaller id */
    uint64_t back = tp_trace_id_next_at(&g, now_ms - 5000);
    TP_ASSERT(back > prev);
    /* two nodes at the same instant differ */
    tp_trace_id_generator_t h;
    TP_ASSERT_OK(tp_trace_id_generator_init(&h, 514));
    tp_trace_id_generator_t g2;
    TP_ASSERT_OK(tp_trace_id_generator_init(&g2, 513));
    TP_ASSERT(tp_trace_id_next_at(&h, now_ms) != tp_trace_id_next_at(&g2, now_ms));
    /* the real clock: sortable by time */
    uint64_t a = tp_trace_id_next(&h);
    uint64_t b = tp_trace_id_next(&h);
    TP_ASSERT(b > a && 0 != a);
    TP_ASSERT(tp_trace_id_unix_ms(a) > TP_TRACE_EPOCH_MS);
}

typedef struct
{
    uint64_t frames;
    uint64_t traces[16];
} trace_rx_t;

static void on_frame(void *clientd, const tp_frame_t *frame)
{
    trace_rx_t *rx = clientd;
    if (rx->frames < 16)
    {
        rx->traces[rx->frames] = frame->trace_id;
    }
    rx->frames++;
}

static void run_producer(bool trace_enabled, trace_rx_t *rx)
{
    tpc_dirs_t dirs;
    TP_ASSERT_OK(tpc_dirs_make(&dirs, "trace-prod"));
    tp_context_t *ctx = tpc_context(&dirs);
    tp_client_t *client = NULL;
    TP_ASSERT_OK(tp_client_init(&client, ctx));
    tp_consumer_config_t cc;
    tp_consumer_config_defaults(&cc);
    cc.on_frame = on_frame;
    cc.clientd = rx;
    tp_consumer_t *consumer = NULL;
    TP_ASSERT_OK(tp_client_add_consumer(&consumer, client, &cc, 5000000000u));
    tp_producer_config_t pc;
    tp_producer_config_defaults(&pc);
    pc.header_nslots = 64;
    pc.pools[0].stride_bytes = 256;
    pc.trace_enabled = trace_enabled;
    pc.trace_node_id = 77;
    tp_producer_t *producer = NULL;
    TP_ASSERT_OK(tp_client_add_producer(&producer, client, &pc, 5000000000u));
    TPC_WAIT_UNTIL(client, tp_consumer_is_mapped(consumer), 3000);
    TP_ASSERT(tp_consumer_is_mapped(consumer));
    uint8_t payload[32] = { 1 };
    tp_frame_options_t given = { .trace_id = 12345 };
    TP_ASSERT(tp_producer_offer(producer, NULL, payload, sizeof(payload), NULL) >= 0);
    TP_ASSERT(tp_producer_offer(producer, NULL, payload, sizeof(payload), &given) >= 0);
    tp_frame_options_t zero = { .trace_id = 0 };
    TP_ASSERT(tp_producer_offer(producer, NULL, payload, sizeof(payload), &zero) >= 0);
    tp_frame_claim_t claim;
    TP_ASSERT(tp_producer_try_claim(producer, 16, &claim) >= 0);
    TP_ASSERT(tp_frame_claim_commit(&claim, NULL, 16, NULL) >= 0);
    TPC_WAIT_UNTIL(client, rx->frames >= 4, 3000);
    TP_ASSERT_EQ_U64(4, rx->frames);
    tp_client_close(client);
    tp_context_close(ctx);
    tpc_dirs_remove(&dirs);
}

/* §8.1: with tracing on every frame carries a non-zero id (given ones kept); off: 0 unless given. */
static void test_producer_trace_enabled(void)
{
    trace_rx_t rx;
    memset(&rx, 0, sizeof(rx));
    run_producer(true, &rx);
    TP_ASSERT(0 != rx.traces[0] && 0 != rx.traces[2] && 0 != rx.traces[3]);
    TP_ASSERT_EQ_U64(12345, rx.traces[1]);
    TP_ASSERT_EQ_U64(77, tp_trace_id_node_id(rx.traces[0]));
    TP_ASSERT(rx.traces[2] > rx.traces[0] && rx.traces[3] > rx.traces[2]); /* root frames mint fresh ids */
    memset(&rx, 0, sizeof(rx));
    run_producer(false, &rx);
    TP_ASSERT_EQ_U64(0, rx.traces[0]);
    TP_ASSERT_EQ_U64(12345, rx.traces[1]);
    TP_ASSERT_EQ_U64(0, rx.traces[2]);
    TP_ASSERT_EQ_U64(0, rx.traces[3]);
}

/* §6.2: a traced producer needs a node id. */
static void test_producer_trace_config(void)
{
    tpc_dirs_t dirs;
    TP_ASSERT_OK(tpc_dirs_make(&dirs, "trace-cfg"));
    tp_context_t *ctx = tpc_context(&dirs);
    tp_client_t *client = NULL;
    TP_ASSERT_OK(tp_client_init(&client, ctx));
    tp_producer_config_t pc;
    tp_producer_config_defaults(&pc);
    pc.header_nslots = 64;
    pc.pools[0].stride_bytes = 256;
    pc.trace_enabled = true;
    tp_producer_t *producer = NULL;
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_client_add_producer(&producer, client, &pc, 5000000000u));
    TP_ASSERT(NULL != strstr(tp_errmsg(), "trace_node_id"));
    pc.trace_node_id = 2000;
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_client_add_producer(&producer, client, &pc, 5000000000u));
    tp_client_close(client);
    tp_context_close(ctx);
    tpc_dirs_remove(&dirs);
}

typedef struct
{
    int count;
    int other_schema;
    tp_proto_trace_link_set_view_t last;
} tls_rx_t;

static void on_control(void *clientd, const uint8_t *buf, size_t len, const tp_header_t *header)
{
    (void)header;
    tls_rx_t *rx = clientd;
    uint16_t schema = 0;
    if (tp_proto_peek(buf, len, &schema, NULL) < 0 || TP_SBE_TRACELINK_SCHEMA_ID != schema)
    {
        rx->other_schema++;
        return;
    }
    if (0 == tp_proto_decode_trace_link_set(buf, len, &rx->last))
    {
        rx->count++;
    }
}

/* §7, §9: emission on the control stream, fields as given, parents in order; drops counted, never blocking. */
static void test_emitter(void)
{
    tpc_dirs_t dirs;
    TP_ASSERT_OK(tpc_dirs_make(&dirs, "trace-emit"));
    tp_context_t *ctx = tpc_context(&dirs);
    tp_tracelink_emitter_t *em = NULL;
    TP_ASSERT_OK(tp_tracelink_emitter_create(&em, ctx, NULL, 0));
    uint64_t parents[3] = { 30, 10, 20 };
    /* nobody listens yet: dropped and counted, not an error */
    TP_ASSERT_EQ_I64(0, tp_tracelink_emit(em, 10003, 1, 5, 99, parents, 2));
    tp_tracelink_emitter_stats_t st;
    TP_ASSERT_OK(tp_tracelink_emitter_stats(em, &st));
    TP_ASSERT_EQ_U64(1, st.dropped_not_connected);

    tp_transport_context_t tctx;
    tp_transport_context_init(&tctx);
    tp_transport_context_set_dir(&tctx, dirs.transport);
    tp_transport_t *t = NULL;
    TP_ASSERT_OK(tp_transport_init(&t, &tctx));
    tp_subscription_t *sub = NULL;
    TP_ASSERT_OK(tp_transport_add_subscription(&sub, t, "aeron:ipc", 1000, NULL, NULL, NULL, NULL, 0));
    uint64_t deadline = tp_clock_mono_ns() + 3000000000u;
    while (!tp_tracelink_emitter_is_connected(em) && tp_clock_mono_ns() < deadline)
    {
        tp_tracelink_emitter_do_work(em);
        tp_transport_do_work(t);
        tp_sleep_ns(100000);
    }
    TP_ASSERT(tp_tracelink_emitter_is_connected(em));
    TP_ASSERT_EQ_I64(1, tp_tracelink_emit(em, 10003, 4, 5, 99, parents, 3));
#if !TP_NOALLOC_SKIP
    /* minting and emitting allocate nothing (§14.1: no allocation per message); not connected: dropped */
    tp_trace_id_generator_t gen;
    tp_trace_id_generator_init(&gen, 5);
    tp_tracelink_emitter_t *idle = NULL;
    TP_ASSERT_OK(tp_tracelink_emitter_create(&idle, ctx, "aeron:ipc", 4242));
    atomic_store(&counting, 1);
    for (int i = 0; i < 1000; i++)
    {
        uint64_t p2[2] = { tp_trace_id_next(&gen), tp_trace_id_next(&gen) };
        tp_tracelink_emit(idle, 1, 1, (uint64_t)i, tp_trace_id_next(&gen), p2, 2);
    }
    atomic_store(&counting, 0);
    TP_ASSERT_EQ_U64(0, atomic_load(&allocations));
    tp_tracelink_emitter_stats_t ist;
    TP_ASSERT_OK(tp_tracelink_emitter_stats(idle, &ist));
    TP_ASSERT_EQ_U64(1000, ist.dropped_not_connected);
    tp_tracelink_emitter_close(idle);
#endif
    /* invalid: duplicate parent, zero parent, zero trace id, too many, none */
    uint64_t dup[2] = { 7, 7 };
    uint64_t zero[2] = { 7, 0 };
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_tracelink_emit(em, 10003, 4, 6, 100, dup, 2));
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_tracelink_emit(em, 10003, 4, 6, 100, zero, 2));
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_tracelink_emit(em, 10003, 4, 6, 0, parents, 2));
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_tracelink_emit(em, 10003, 4, 6, 100, parents, 0));
    static uint64_t many[TP_TRACELINK_MAX_PARENTS + 1];
    for (int i = 0; i <= TP_TRACELINK_MAX_PARENTS; i++)
    {
        many[i] = 1 + (uint64_t)i;
    }
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_tracelink_emit(em, 10003, 4, 6, 100, many, TP_TRACELINK_MAX_PARENTS + 1));
    TP_ASSERT_EQ_I64(1, tp_tracelink_emit(em, 10003, 4, 7, 101, many, TP_TRACELINK_MAX_PARENTS));
    tls_rx_t rx;
    memset(&rx, 0, sizeof(rx));
    deadline = tp_clock_mono_ns() + 3000000000u;
    while (rx.count < 2 && tp_clock_mono_ns() < deadline)
    {
        tp_transport_do_work(t);
        if (tp_subscription_poll(sub, on_control, &rx, 10) <= 0)
        {
            tp_sleep_ns(100000);
        }
        if (rx.count == 1)
        {
            TP_ASSERT_EQ_U64(10003, rx.last.stream_id);
            TP_ASSERT_EQ_U64(4, rx.last.epoch);
            TP_ASSERT_EQ_U64(5, rx.last.seq);
            TP_ASSERT_EQ_U64(99, rx.last.trace_id);
            TP_ASSERT_EQ_U64(3, rx.last.parent_count);
            TP_ASSERT_EQ_U64(30, rx.last.parents[0]);
            TP_ASSERT_EQ_U64(10, rx.last.parents[1]);
            TP_ASSERT_EQ_U64(20, rx.last.parents[2]);
        }
    }
    TP_ASSERT_EQ_I64(2, rx.count);
    TP_ASSERT_EQ_U64(TP_TRACELINK_MAX_PARENTS, rx.last.parent_count);
    TP_ASSERT_OK(tp_tracelink_emitter_stats(em, &st));
    TP_ASSERT_EQ_U64(2, st.sent);
    TP_ASSERT_EQ_U64(5, st.rejected);
    tp_subscription_close(sub);
    tp_transport_close(t);
    tp_tracelink_emitter_close(em);
    tp_context_close(ctx);
    tpc_dirs_remove(&dirs);
}

/* Run the authority until its prompt announce(s) went out (the transport may need a moment to connect). */
static void authority_flush(tp_merge_map_authority_t *auth, uint64_t maps)
{
    tp_merge_map_authority_stats_t as;
    uint64_t deadline = tp_clock_mono_ns() + 5000000000u;
    do
    {
        tp_merge_map_authority_do_work(auth, tp_clock_mono_ns());
        tp_merge_map_authority_stats(auth, &as);
        if (as.announces_sent < maps)
        {
            tp_sleep_ns(1000000);
        }
    } while (as.announces_sent < maps && tp_clock_mono_ns() < deadline);
}

/*
 * Prove the request path whatever the transport delivers to late subscribers: move the barrier to an
 * epoch the authority has no map for (its requests are seen and ignored), then back to `epoch`: with
 * every prompt announce already sent and a re-announce period far away, only an answered request
 * can bring the map back.
 */
static void check_request_path(tp_merge_map_authority_t *auth, tp_merge_map_listener_t *l, tp_join_barrier_t *b,
    uint64_t epoch)
{
    tp_merge_map_authority_stats_t as;
    tp_merge_map_listener_stats_t ls;
    TP_ASSERT_OK(tp_join_barrier_set_epoch(b, epoch + 1000));
    uint64_t deadline = tp_clock_mono_ns() + 5000000000u;
    do
    {
        uint64_t now = tp_clock_mono_ns();
        if (tp_merge_map_authority_do_work(auth, now) + tp_merge_map_listener_do_work(l, now) <= 0)
        {
            tp_sleep_ns(200000);
        }
        tp_merge_map_authority_stats(auth, &as);
    } while (0 == as.requests_ignored && tp_clock_mono_ns() < deadline);
    TP_ASSERT(as.requests_ignored >= 1); /* the listener asks while blocked; unknown epoch: no answer */
    TP_ASSERT(!tp_join_barrier_has_map(b));
    uint64_t answered = as.requests_answered;
    TP_ASSERT_OK(tp_join_barrier_set_epoch(b, epoch));
    deadline = tp_clock_mono_ns() + 5000000000u;
    while (!tp_join_barrier_has_map(b) && tp_clock_mono_ns() < deadline)
    {
        uint64_t now = tp_clock_mono_ns();
        if (tp_merge_map_authority_do_work(auth, now) + tp_merge_map_listener_do_work(l, now) <= 0)
        {
            tp_sleep_ns(200000);
        }
    }
    TP_ASSERT(tp_join_barrier_has_map(b));
    TP_ASSERT_OK(tp_merge_map_authority_stats(auth, &as));
    TP_ASSERT_OK(tp_merge_map_listener_stats(l, &ls));
    TP_ASSERT(as.requests_answered > answered);
    TP_ASSERT(ls.requests_sent >= 2);
}

static tp_seq_merge_map_t make_map(uint64_t epoch)
{
    tp_seq_merge_map_t m;
    memset(&m, 0, sizeof(m));
    m.out_stream_id = 600;
    m.epoch = epoch;
    m.rule_count = 2;
    m.rules[0] = (tp_merge_seq_rule_t){ .input_stream_id = 601, .type = TP_MERGE_RULE_OFFSET, .has_offset = true };
    m.rules[1] = (tp_merge_seq_rule_t){ .input_stream_id = 602, .type = TP_MERGE_RULE_WINDOW, .has_window_size = true,
        .window_size = 2 };
    return m;
}

/* §10.1, §10.3, §7.3: a late joiner asks; the authority answers; the barrier resumes. Invalid announces block it. */
static void test_merge_map_late_join(void)
{
    tpc_dirs_t dirs;
    TP_ASSERT_OK(tpc_dirs_make(&dirs, "trace-merge"));
    tp_context_t *ctx = tpc_context(&dirs);
    tp_merge_map_authority_t *auth = NULL;
    /* re-announce period far beyond the test: the map can only arrive through the request path */
    TP_ASSERT_OK(tp_merge_map_authority_create(&auth, ctx, NULL, 0, UINT64_C(600000000000)));
    tp_seq_merge_map_t m = make_map(3);
    TP_ASSERT_OK(tp_merge_map_authority_set_seq_map(auth, &m));
    tp_seq_merge_map_t bad = make_map(3);
    bad.rules[0].has_window_size = true;
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_merge_map_authority_set_seq_map(auth, &bad));
    uint64_t now = tp_clock_mono_ns();
    authority_flush(auth, 1); /* the prompt announce goes out before the listener exists */

    tp_join_barrier_config_t bc = { .kind = TP_JOIN_SEQUENCE, .out_stream_id = 600, .out_epoch = 3 };
    tp_join_barrier_t *b = NULL;
    TP_ASSERT_OK(tp_join_barrier_create(&b, &bc));
    tp_merge_map_listener_t *l = NULL;
    TP_ASSERT_OK(tp_merge_map_listener_create(&l, ctx, NULL, 0, b, 20000000u));
    TP_ASSERT(!tp_join_barrier_has_map(b));
    uint64_t deadline = tp_clock_mono_ns() + 5000000000u;
    while (!tp_join_barrier_has_map(b) && tp_clock_mono_ns() < deadline)
    {
        now = tp_clock_mono_ns();
        int w = tp_merge_map_authority_do_work(auth, now) + tp_merge_map_listener_do_work(l, now);
        if (w <= 0)
        {
            tp_sleep_ns(200000);
        }
    }
    TP_ASSERT(tp_join_barrier_has_map(b));
    tp_merge_map_authority_stats_t as;
    tp_merge_map_listener_stats_t ls;
    TP_ASSERT_OK(tp_merge_map_authority_stats(auth, &as));
    TP_ASSERT_OK(tp_merge_map_listener_stats(l, &ls));
    TP_ASSERT(ls.announces_applied >= 1);
    check_request_path(auth, l, b, 3);
    tp_join_result_t r;
    tp_join_barrier_observe(b, 601, 1, 1, TP_NULL_TIMESTAMP, 1, 1, now);
    tp_join_barrier_observe(b, 602, 1, 1, TP_NULL_TIMESTAMP, 1, 2, now);
    TP_ASSERT_EQ_I64(1, tp_join_barrier_ready_seq(b, 1, now, &r));

    /* an invalid announce for our key (written raw on the control stream) makes the barrier block */
    tp_transport_context_t tctx;
    tp_transport_context_init(&tctx);
    tp_transport_context_set_dir(&tctx, dirs.transport);
    tp_transport_t *t = NULL;
    TP_ASSERT_OK(tp_transport_init(&t, &tctx));
    tp_publication_t *pub = NULL;
    TP_ASSERT_OK(tp_transport_add_publication(&pub, t, "aeron:ipc", 1000, 0));
    static tp_proto_seq_merge_map_announce_view_t v;
    memset(&v, 0, sizeof(v));
    v.out_stream_id = 600;
    v.epoch = 3;
    v.rule_count = 1;
    v.rules[0].input_stream_id = 601;
    v.rules[0].rule_type = TP_SBE_MERGE_MERGE_RULE_TYPE_WINDOW;
    v.rules[0].has_offset = true; /* WINDOW with an offset: invalid */
    uint8_t buf[TP_PROTO_MERGE_MAX_LENGTH];
    size_t len = 0;
    TP_ASSERT_OK(tp_proto_encode_seq_merge_map_announce(buf, sizeof(buf), &v, &len));
    /* garbage with schema 903 and a TraceLinkSet: counted / ignored, never applied */
    uint8_t junk[12] = { 4, 0, 1, 0, 0x87, 0x03, 1, 0, 0, 0, 0, 0 };
    deadline = tp_clock_mono_ns() + 3000000000u;
    while (!tp_publication_is_connected(pub) && tp_clock_mono_ns() < deadline)
    {
        tp_transport_do_work(t);
        tp_merge_map_listener_do_work(l, tp_clock_mono_ns());
        tp_sleep_ns(100000);
    }
    TP_ASSERT(tp_publication_offer(pub, junk, sizeof(junk), NULL, NULL) >= 0);
    TP_ASSERT(tp_publication_offer(pub, buf, len, NULL, NULL) >= 0);
    deadline = tp_clock_mono_ns() + 3000000000u;
    while (tp_join_barrier_has_map(b) && tp_clock_mono_ns() < deadline)
    {
        tp_transport_do_work(t);
        if (tp_merge_map_listener_do_work(l, tp_clock_mono_ns()) <= 0)
        {
            tp_sleep_ns(100000);
        }
    }
    TP_ASSERT(!tp_join_barrier_has_map(b));
    TP_ASSERT_OK(tp_merge_map_listener_stats(l, &ls));
    TP_ASSERT_EQ_U64(1, ls.announces_rejected);
    TP_ASSERT_EQ_U64(1, ls.malformed);
    TP_ASSERT_EQ_I64(0, tp_join_barrier_ready_seq(b, 1, now, &r));
    /* ... until the authority's map replaces it (the listener asks again) */
    deadline = tp_clock_mono_ns() + 5000000000u;
    while (!tp_join_barrier_has_map(b) && tp_clock_mono_ns() < deadline)
    {
        now = tp_clock_mono_ns();
        if (tp_merge_map_authority_do_work(auth, now) + tp_merge_map_listener_do_work(l, now) <= 0)
        {
            tp_sleep_ns(200000);
        }
    }
    TP_ASSERT(tp_join_barrier_has_map(b));
    /* output epoch change: the barrier asks for the new epoch's map, which the authority gets */
    tp_join_barrier_set_epoch(b, 4);
    m.epoch = 4;
    TP_ASSERT_OK(tp_merge_map_authority_set_seq_map(auth, &m));
    deadline = tp_clock_mono_ns() + 5000000000u;
    while (!tp_join_barrier_has_map(b) && tp_clock_mono_ns() < deadline)
    {
        now = tp_clock_mono_ns();
        if (tp_merge_map_authority_do_work(auth, now) + tp_merge_map_listener_do_work(l, now) <= 0)
        {
            tp_sleep_ns(200000);
        }
    }
    TP_ASSERT(tp_join_barrier_has_map(b));
    TP_ASSERT_EQ_U64(4, tp_join_barrier_out_epoch(b));
    tp_publication_close(pub);
    tp_transport_close(t);
    tp_merge_map_listener_close(l);
    tp_merge_map_authority_close(auth);
    tp_join_barrier_close(b);
    tp_context_close(ctx);
    tpc_dirs_remove(&dirs);
}

/* §10.4, §10.5: a TIMESTAMP barrier asks with TimestampMergeMapRequest; the authority answers with its timestamp map. */
static void test_merge_map_late_join_timestamp(void)
{
    tpc_dirs_t dirs;
    TP_ASSERT_OK(tpc_dirs_make(&dirs, "trace-tsmerge"));
    tp_context_t *ctx = tpc_context(&dirs);
    tp_merge_map_authority_t *auth = NULL;
    TP_ASSERT_OK(tp_merge_map_authority_create(&auth, ctx, NULL, 0, UINT64_C(600000000000)));
    tp_ts_merge_map_t m;
    memset(&m, 0, sizeof(m));
    m.out_stream_id = 700;
    m.epoch = 2;
    m.clock_domain = TP_JOIN_CLOCK_MONOTONIC;
    m.has_lateness_ns = true;
    m.lateness_ns = 10;
    m.rule_count = 1;
    m.rules[0] = (tp_merge_ts_rule_t){ .input_stream_id = 701, .type = TP_MERGE_TIME_RULE_WINDOW_NS,
        .timestamp_source = TP_TIMESTAMP_SOURCE_SLOT_HEADER, .has_window_ns = true, .window_ns = 100 };
    TP_ASSERT_OK(tp_merge_map_authority_set_ts_map(auth, &m));
    /* a sequence map for the same out stream is held separately and does not answer timestamp requests */
    tp_seq_merge_map_t sm = make_map(2);
    sm.out_stream_id = 700;
    TP_ASSERT_OK(tp_merge_map_authority_set_seq_map(auth, &sm));
    uint64_t now = tp_clock_mono_ns();
    authority_flush(auth, 2);
    tp_join_barrier_config_t bc = { .kind = TP_JOIN_TIMESTAMP, .out_stream_id = 700, .out_epoch = 2 };
    tp_join_barrier_t *b = NULL;
    TP_ASSERT_OK(tp_join_barrier_create(&b, &bc));
    tp_merge_map_listener_t *l = NULL;
    TP_ASSERT_OK(tp_merge_map_listener_create(&l, ctx, NULL, 0, b, 20000000u));
    uint64_t deadline = tp_clock_mono_ns() + 5000000000u;
    while (!tp_join_barrier_has_map(b) && tp_clock_mono_ns() < deadline)
    {
        now = tp_clock_mono_ns();
        if (tp_merge_map_authority_do_work(auth, now) + tp_merge_map_listener_do_work(l, now) <= 0)
        {
            tp_sleep_ns(200000);
        }
    }
    TP_ASSERT(tp_join_barrier_has_map(b));
    check_request_path(auth, l, b, 2);
    tp_join_result_t r;
    tp_join_barrier_observe(b, 701, 1, 0, TP_NULL_TIMESTAMP, 990, 1, now);
    TP_ASSERT_EQ_I64(1, tp_join_barrier_ready_time(b, 1000, TP_JOIN_CLOCK_MONOTONIC, now, &r)); /* lateness 10 applied */
    TP_ASSERT_EQ_I64(0, tp_join_barrier_ready_time(b, 1001, TP_JOIN_CLOCK_MONOTONIC, now, &r));
    tp_merge_map_listener_close(l);
    tp_merge_map_authority_close(auth);
    tp_join_barrier_close(b);
    tp_context_close(ctx);
    tpc_dirs_remove(&dirs);
}

int main(void)
{
    TP_RUN(test_trace_id_format);
    TP_RUN(test_producer_trace_enabled);
    TP_RUN(test_producer_trace_config);
    TP_RUN(test_emitter);
    TP_RUN(test_merge_map_late_join);
    TP_RUN(test_merge_map_late_join_timestamp);
    tp_test_cleanup_tracked();
    return tp_test_finish();
}
