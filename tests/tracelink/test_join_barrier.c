/*
 * Join barriers (Join Barrier spec §6-§9): MergeMap validation and scoping,
 * SEQUENCE offset/window readiness, processed cursors, staleness, epoch
 * handling, TIMESTAMP readiness/lateness/clock domains/monotonicity,
 * LATEST_VALUE selection and invalidation, and no allocation after creation.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "tensor_pool/tp.h"
#include "tp_test.h"

#include "tp_noalloc.h"

#define OUT 500u
#define A 501u
#define B 502u
#define C 503u

static tp_seq_merge_map_t seq_map(uint64_t epoch, int32_t offset_b)
{
    tp_seq_merge_map_t m;
    memset(&m, 0, sizeof(m));
    m.out_stream_id = OUT;
    m.epoch = epoch;
    m.rule_count = 2;
    m.rules[0] = (tp_merge_seq_rule_t){ .input_stream_id = A, .type = TP_MERGE_RULE_OFFSET, .has_offset = true };
    m.rules[1] = (tp_merge_seq_rule_t){
        .input_stream_id = B, .type = TP_MERGE_RULE_OFFSET, .has_offset = true, .offset = offset_b };
    return m;
}

static tp_join_barrier_t *barrier(tp_join_kind_t kind, uint64_t epoch, bool processed)
{
    tp_join_barrier_config_t c = { .kind = kind, .out_stream_id = OUT, .out_epoch = epoch,
        .use_processed_cursor = processed };
    tp_join_barrier_t *b = NULL;
    if (tp_join_barrier_create(&b, &c) < 0)
    {
        abort();
    }
    return b;
}

static void obs(tp_join_barrier_t *b, uint32_t stream, uint64_t epoch, uint64_t seq, uint64_t trace, uint64_t now)
{
    tp_join_barrier_observe(b, stream, epoch, seq, TP_NULL_TIMESTAMP, 1000 + seq, trace, now);
}

/* §6.2: exactly one parameter per rule; invalid maps rejected and the barrier blocked until replaced. */
static void test_map_validation(void)
{
    tp_seq_merge_map_t m = seq_map(1, 0);
    TP_ASSERT_OK(tp_seq_merge_map_validate(&m));
    m.rules[0].has_window_size = true;
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_seq_merge_map_validate(&m));
    m = seq_map(1, 0);
    m.rules[0].has_offset = false;
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_seq_merge_map_validate(&m));
    m = seq_map(1, 0);
    m.rules[1] = (tp_merge_seq_rule_t){ .input_stream_id = B, .type = TP_MERGE_RULE_WINDOW, .has_window_size = true };
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_seq_merge_map_validate(&m)); /* window size 0 */
    m.rules[1].window_size = 3;
    TP_ASSERT_OK(tp_seq_merge_map_validate(&m));
    m.rules[1].has_offset = true;
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_seq_merge_map_validate(&m));
    m = seq_map(1, 0);
    m.rules[1].input_stream_id = A;
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_seq_merge_map_validate(&m)); /* duplicate input */
    m = seq_map(1, 0);
    m.rule_count = 0;
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_seq_merge_map_validate(&m));
    m = seq_map(1, 0);
    m.rules[0].type = (tp_merge_rule_type_t)5;
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_seq_merge_map_validate(&m));

    tp_ts_merge_map_t t;
    memset(&t, 0, sizeof(t));
    t.out_stream_id = OUT;
    t.clock_domain = TP_JOIN_CLOCK_MONOTONIC;
    t.rule_count = 1;
    t.rules[0] = (tp_merge_ts_rule_t){ .input_stream_id = A, .type = TP_MERGE_TIME_RULE_OFFSET_NS,
        .timestamp_source = TP_TIMESTAMP_SOURCE_SLOT_HEADER, .has_offset_ns = true };
    TP_ASSERT_OK(tp_ts_merge_map_validate(&t));
    t.rules[0].has_window_ns = true;
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_ts_merge_map_validate(&t));
    t.rules[0] = (tp_merge_ts_rule_t){ .input_stream_id = A, .type = TP_MERGE_TIME_RULE_WINDOW_NS,
        .timestamp_source = TP_TIMESTAMP_SOURCE_SLOT_HEADER, .has_window_ns = true, .window_ns = 0 };
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_ts_merge_map_validate(&t));
    t.rules[0].window_ns = 5;
    TP_ASSERT_OK(tp_ts_merge_map_validate(&t));
    t.rules[0].timestamp_source = (tp_timestamp_source_t)0;
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_ts_merge_map_validate(&t));
    t.rules[0].timestamp_source = TP_TIMESTAMP_SOURCE_FRAME_DESCRIPTOR;
    t.clock_domain = (tp_join_clock_domain_t)3;
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_ts_merge_map_validate(&t));

    /* the barrier: valid map -> ready; invalid map for the same key -> blocked until a valid one */
    tp_join_barrier_t *b = barrier(TP_JOIN_SEQUENCE, 1, false);
    tp_join_result_t r;
    m = seq_map(1, 0);
    TP_ASSERT_EQ_I64(1, tp_join_barrier_apply_seq_map(b, &m));
    obs(b, A, 1, 0, 11, 1);
    obs(b, B, 1, 0, 12, 1);
    TP_ASSERT_EQ_I64(1, tp_join_barrier_ready_seq(b, 0, 1, &r));
    tp_seq_merge_map_t bad = seq_map(1, 0);
    bad.rules[1].has_window_size = true;
    TP_ASSERT_EQ_I64(-1, tp_join_barrier_apply_seq_map(b, &bad));
    TP_ASSERT(!tp_join_barrier_has_map(b));
    TP_ASSERT_EQ_I64(0, tp_join_barrier_ready_seq(b, 0, 1, &r));
    TP_ASSERT_EQ_I64(1, tp_join_barrier_apply_seq_map(b, &m));
    TP_ASSERT_EQ_I64(1, tp_join_barrier_ready_seq(b, 0, 1, &r));
    tp_join_barrier_stats_t st;
    TP_ASSERT_OK(tp_join_barrier_stats(b, &st));
    TP_ASSERT_EQ_U64(1, st.maps_rejected);
    TP_ASSERT_EQ_U64(1, st.blocked_no_map);
    tp_join_barrier_close(b);
}

/* §6.4, §7.3: blocked without a map; maps scoped to (out_stream_id, epoch); an epoch change needs a fresh map. */
static void test_scope_and_late_join(void)
{
    tp_join_barrier_t *b = barrier(TP_JOIN_SEQUENCE, 3, false);
    tp_join_result_t r;
    obs(b, A, 1, 5, 1, 1);
    obs(b, B, 1, 5, 2, 1);
    TP_ASSERT_EQ_I64(0, tp_join_barrier_ready_seq(b, 0, 1, &r)); /* no map: blocked */
    tp_seq_merge_map_t m = seq_map(2, 0);
    TP_ASSERT_EQ_I64(0, tp_join_barrier_apply_seq_map(b, &m)); /* other epoch: ignored */
    m.epoch = 3;
    m.out_stream_id = OUT + 1;
    TP_ASSERT_EQ_I64(0, tp_join_barrier_apply_seq_map(b, &m)); /* other out stream: ignored */
    TP_ASSERT_EQ_I64(0, tp_join_barrier_ready_seq(b, 0, 1, &r));
    m.out_stream_id = OUT;
    TP_ASSERT_EQ_I64(1, tp_join_barrier_apply_seq_map(b, &m));
    obs(b, A, 1, 5, 1, 1);
    obs(b, B, 1, 5, 2, 1);
    TP_ASSERT_EQ_I64(1, tp_join_barrier_ready_seq(b, 5, 1, &r));
    TP_ASSERT_OK(tp_join_barrier_set_epoch(b, 4));
    TP_ASSERT(!tp_join_barrier_has_map(b));
    TP_ASSERT_EQ_I64(0, tp_join_barrier_ready_seq(b, 5, 1, &r)); /* epoch change: fresh map needed */
    TP_ASSERT_EQ_I64(0, tp_join_barrier_apply_seq_map(b, &m));   /* the old epoch's map no longer applies */
    m.epoch = 4;
    TP_ASSERT_EQ_I64(1, tp_join_barrier_apply_seq_map(b, &m));
    TP_ASSERT_EQ_I64(1, tp_join_barrier_ready_seq(b, 5, 1, &r));
    /* a TIMESTAMP map does not apply to a SEQUENCE barrier */
    tp_ts_merge_map_t t;
    memset(&t, 0, sizeof(t));
    t.out_stream_id = OUT;
    t.epoch = 4;
    TP_ASSERT_EQ_I64(0, tp_join_barrier_apply_ts_map(b, &t));
    TP_ASSERT_EQ_I64(-1, tp_join_barrier_ready_latest(b, 1, &r)); /* wrong kind */
    tp_join_barrier_close(b);
}

/* §6.2.1, §7.1: offset rule incl. negative offsets; every input must reach its required seq. */
static void test_sequence_offset(void)
{
    tp_join_barrier_t *b = barrier(TP_JOIN_SEQUENCE, 1, false);
    tp_seq_merge_map_t m = seq_map(1, -2);
    TP_ASSERT_EQ_I64(1, tp_join_barrier_apply_seq_map(b, &m));
    tp_join_result_t r;
    for (uint64_t s = 0; s < 10; s++)
    {
        obs(b, A, 1, s, 100 + s, 1);
        obs(b, B, 1, s, 200 + s, 1);
    }
    TP_ASSERT_EQ_I64(0, tp_join_barrier_ready_seq(b, 0, 1, &r)); /* out_seq + offset < 0 */
    TP_ASSERT_EQ_I64(0, tp_join_barrier_ready_seq(b, 1, 1, &r));
    TP_ASSERT_EQ_I64(1, tp_join_barrier_ready_seq(b, 2, 1, &r)); /* out_seq >= -offset */
    TP_ASSERT_EQ_U64(2, r.inputs[0].seq_high);
    TP_ASSERT_EQ_U64(0, r.inputs[1].seq_low);
    TP_ASSERT_EQ_U64(0, r.inputs[1].seq_high);
    TP_ASSERT_EQ_I64(1, tp_join_barrier_ready_seq(b, 9, 1, &r));
    TP_ASSERT_EQ_I64(0, tp_join_barrier_ready_seq(b, 10, 1, &r)); /* A has not reached 10 */
    obs(b, A, 1, 10, 110, 1);
    TP_ASSERT_EQ_I64(1, tp_join_barrier_ready_seq(b, 10, 1, &r)); /* B needs only 8 */
    TP_ASSERT_EQ_I64(0, tp_join_barrier_ready_seq(b, 12, 1, &r));
    TP_ASSERT_EQ_U64(2, r.input_count);
    /* positive offset: B must run ahead */
    m = seq_map(1, 3);
    TP_ASSERT_EQ_I64(1, tp_join_barrier_apply_seq_map(b, &m));
    TP_ASSERT_EQ_I64(1, tp_join_barrier_ready_seq(b, 6, 1, &r)); /* state of A and B kept across map change */
    TP_ASSERT_EQ_I64(0, tp_join_barrier_ready_seq(b, 7, 1, &r)); /* B at 9 < 10 */
    tp_join_barrier_close(b);
}

/* §6.2.2: window rule readiness uses the upper bound; not ready while out_seq + 1 < N. */
static void test_sequence_window(void)
{
    tp_join_barrier_t *b = barrier(TP_JOIN_SEQUENCE, 1, false);
    tp_seq_merge_map_t m = seq_map(1, 0);
    m.rules[1] = (tp_merge_seq_rule_t){ .input_stream_id = B, .type = TP_MERGE_RULE_WINDOW, .has_window_size = true,
        .window_size = 4 };
    TP_ASSERT_EQ_I64(1, tp_join_barrier_apply_seq_map(b, &m));
    tp_join_result_t r;
    for (uint64_t s = 0; s < 8; s++)
    {
        obs(b, A, 1, s, 1, 1);
        obs(b, B, 1, s, 2, 1);
    }
    TP_ASSERT_EQ_I64(0, tp_join_barrier_ready_seq(b, 2, 1, &r)); /* 3 < 4 */
    TP_ASSERT_EQ_I64(1, tp_join_barrier_ready_seq(b, 3, 1, &r));
    TP_ASSERT_EQ_U64(0, r.inputs[1].seq_low);
    TP_ASSERT_EQ_U64(3, r.inputs[1].seq_high);
    TP_ASSERT_EQ_I64(1, tp_join_barrier_ready_seq(b, 7, 1, &r));
    TP_ASSERT_EQ_U64(4, r.inputs[1].seq_low);
    TP_ASSERT_EQ_I64(0, tp_join_barrier_ready_seq(b, 8, 1, &r));
    tp_join_barrier_close(b);
}

/* §7.1 "(if configured) processed_cursor". */
static void test_processed_cursor(void)
{
    tp_join_barrier_t *b = barrier(TP_JOIN_SEQUENCE, 1, true);
    tp_seq_merge_map_t m = seq_map(1, 0);
    TP_ASSERT_EQ_I64(1, tp_join_barrier_apply_seq_map(b, &m));
    tp_join_result_t r;
    obs(b, A, 1, 4, 1, 1);
    obs(b, B, 1, 4, 2, 1);
    TP_ASSERT_EQ_I64(0, tp_join_barrier_ready_seq(b, 4, 1, &r));
    TP_ASSERT_EQ_I64(1, tp_join_barrier_processed(b, A, 4, 0));
    TP_ASSERT_EQ_I64(0, tp_join_barrier_ready_seq(b, 4, 1, &r));
    TP_ASSERT_EQ_I64(1, tp_join_barrier_processed(b, B, 4, 0));
    TP_ASSERT_EQ_I64(1, tp_join_barrier_ready_seq(b, 4, 1, &r));
    TP_ASSERT_EQ_I64(0, tp_join_barrier_processed(b, C, 4, 0));
    /* NULL arguments: errors, never a crash */
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_join_barrier_processed(NULL, A, 4, 0));
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_join_barrier_observe(NULL, A, 1, 1, 0, 0, 0, 0));
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_join_barrier_ready_seq(NULL, 4, 1, &r));
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_join_barrier_ready_seq(b, 4, 1, NULL));
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_join_barrier_apply_seq_map(b, NULL));
    TP_ASSERT(!tp_join_barrier_has_map(NULL));
    tp_join_barrier_config_t bad = { .kind = (tp_join_kind_t)9 };
    tp_join_barrier_t *none = NULL;
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_join_barrier_create(&none, &bad));
    tp_join_barrier_close(b);
}

/* §7.4: with staleTimeoutNs a silent input becomes absent (surfaced); without it the barrier blocks. */
static void test_staleness(void)
{
    tp_join_barrier_t *b = barrier(TP_JOIN_SEQUENCE, 1, false);
    tp_seq_merge_map_t m = seq_map(1, 0);
    TP_ASSERT_EQ_I64(1, tp_join_barrier_apply_seq_map(b, &m));
    tp_join_result_t r;
    obs(b, A, 1, 0, 1, 1000);
    obs(b, B, 1, 0, 2, 1000);
    obs(b, A, 1, 1, 1, 2000);
    TP_ASSERT_EQ_I64(0, tp_join_barrier_ready_seq(b, 1, UINT64_C(1000000000000), &r)); /* no timeout: block forever */
    m.has_stale_timeout_ns = true;
    m.stale_timeout_ns = 5000;
    TP_ASSERT_EQ_I64(1, tp_join_barrier_apply_seq_map(b, &m));
    TP_ASSERT_EQ_I64(0, tp_join_barrier_ready_seq(b, 1, 5000, &r)); /* B silent for 4000 ns: not stale */
    TP_ASSERT_EQ_I64(1, tp_join_barrier_ready_seq(b, 1, 6001, &r)); /* 5001 ns: stale -> absent */
    TP_ASSERT(!r.inputs[0].absent);
    TP_ASSERT(r.inputs[1].absent);
    TP_ASSERT_EQ_U64(1, r.absent_count);
    tp_join_barrier_stats_t st;
    tp_join_barrier_stats(b, &st);
    TP_ASSERT_EQ_U64(1, st.stale_absent);
    /* all inputs stale: nothing to join */
    TP_ASSERT_EQ_I64(0, tp_join_barrier_ready_seq(b, 2, 100000, &r));
    tp_join_barrier_close(b);
}

/* Input epochs: a new input epoch restarts its cursor; frames of an older epoch are ignored. */
static void test_input_epochs(void)
{
    tp_join_barrier_t *b = barrier(TP_JOIN_SEQUENCE, 1, false);
    tp_seq_merge_map_t m = seq_map(1, 0);
    TP_ASSERT_EQ_I64(1, tp_join_barrier_apply_seq_map(b, &m));
    tp_join_result_t r;
    obs(b, A, 1, 50, 1, 1);
    obs(b, B, 1, 50, 2, 1);
    TP_ASSERT_EQ_I64(1, tp_join_barrier_ready_seq(b, 50, 1, &r));
    obs(b, A, 2, 0, 3, 1); /* A restarted */
    TP_ASSERT_EQ_I64(0, tp_join_barrier_ready_seq(b, 50, 1, &r));
    TP_ASSERT_EQ_I64(0, tp_join_barrier_observe(b, A, 1, 60, TP_NULL_TIMESTAMP, 1, 4, 1)); /* old epoch */
    TP_ASSERT_EQ_I64(0, tp_join_barrier_observe(b, C, 1, 60, TP_NULL_TIMESTAMP, 1, 4, 1)); /* unknown stream */
    TP_ASSERT_EQ_I64(1, tp_join_barrier_ready_seq(b, 0, 1, &r));
    TP_ASSERT_EQ_U64(2, r.inputs[0].epoch);
    tp_join_barrier_close(b);
}

static tp_ts_merge_map_t ts_map(void)
{
    tp_ts_merge_map_t t;
    memset(&t, 0, sizeof(t));
    t.out_stream_id = OUT;
    t.epoch = 1;
    t.clock_domain = TP_JOIN_CLOCK_MONOTONIC;
    t.rule_count = 2;
    t.rules[0] = (tp_merge_ts_rule_t){ .input_stream_id = A, .type = TP_MERGE_TIME_RULE_OFFSET_NS,
        .timestamp_source = TP_TIMESTAMP_SOURCE_SLOT_HEADER, .has_offset_ns = true, .offset_ns = 0 };
    t.rules[1] = (tp_merge_ts_rule_t){ .input_stream_id = B, .type = TP_MERGE_TIME_RULE_WINDOW_NS,
        .timestamp_source = TP_TIMESTAMP_SOURCE_FRAME_DESCRIPTOR, .has_window_ns = true, .window_ns = 100 };
    return t;
}

/* §6.3, §8.1, §8.2: timestamp offsets, windows, lateness, sources, clock domains, monotonicity. */
static void test_timestamp(void)
{
    tp_join_barrier_t *b = barrier(TP_JOIN_TIMESTAMP, 1, false);
    tp_ts_merge_map_t t = ts_map();
    TP_ASSERT_EQ_I64(1, tp_join_barrier_apply_ts_map(b, &t));
    tp_join_result_t r;
    /* A: slot time 1000; B: descriptor time absent -> B not ready (absent timestamp) */
    tp_join_barrier_observe(b, A, 1, 0, TP_NULL_TIMESTAMP, 1000, 1, 1);
    tp_join_barrier_observe(b, B, 1, 0, TP_NULL_TIMESTAMP, 5000, 2, 1);
    TP_ASSERT_EQ_I64(0, tp_join_barrier_ready_time(b, 1000, TP_JOIN_CLOCK_MONOTONIC, 1, &r));
    tp_join_barrier_observe(b, B, 1, 1, 990, 5001, 2, 1);
    TP_ASSERT_EQ_I64(0, tp_join_barrier_ready_time(b, 1000, TP_JOIN_CLOCK_MONOTONIC, 1, &r)); /* 990 < 1000 */
    tp_join_barrier_observe(b, B, 1, 2, 1000, 5002, 2, 1);
    TP_ASSERT_EQ_I64(1, tp_join_barrier_ready_time(b, 1000, TP_JOIN_CLOCK_MONOTONIC, 1, &r));
    TP_ASSERT_EQ_U64(900, r.inputs[1].time_low);
    TP_ASSERT_EQ_U64(1000, r.inputs[1].time_high);
    TP_ASSERT_EQ_I64(0, tp_join_barrier_ready_time(b, 1001, TP_JOIN_CLOCK_MONOTONIC, 1, &r));
    /* lateness 50: observed >= required - 50 */
    t.has_lateness_ns = true;
    t.lateness_ns = 50;
    TP_ASSERT_EQ_I64(1, tp_join_barrier_apply_ts_map(b, &t));
    TP_ASSERT_EQ_I64(1, tp_join_barrier_ready_time(b, 1050, TP_JOIN_CLOCK_MONOTONIC, 1, &r));
    TP_ASSERT_EQ_I64(0, tp_join_barrier_ready_time(b, 1051, TP_JOIN_CLOCK_MONOTONIC, 1, &r));
    /* clock domain mismatch: rejected */
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_join_barrier_ready_time(b, 1051, TP_JOIN_CLOCK_REALTIME_SYNCED, 1, &r));
    /* out_time going back: rejected */
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_join_barrier_ready_time(b, 10, TP_JOIN_CLOCK_MONOTONIC, 1, &r));
    /* window not ready while out_time < window_ns (new barrier: out_time restarts) */
    tp_join_barrier_t *w = barrier(TP_JOIN_TIMESTAMP, 1, false);
    TP_ASSERT_EQ_I64(1, tp_join_barrier_apply_ts_map(w, &t));
    tp_join_barrier_observe(w, A, 1, 0, TP_NULL_TIMESTAMP, 5000, 1, 1);
    tp_join_barrier_observe(w, B, 1, 0, 5000, 5000, 1, 1);
    TP_ASSERT_EQ_I64(0, tp_join_barrier_ready_time(w, 99, TP_JOIN_CLOCK_MONOTONIC, 1, &r));
    TP_ASSERT_EQ_I64(1, tp_join_barrier_ready_time(w, 100, TP_JOIN_CLOCK_MONOTONIC, 1, &r));
    /* non-monotonic input timestamps: the stream is rejected for timestamp joins */
    tp_join_barrier_observe(w, A, 1, 1, TP_NULL_TIMESTAMP, 4000, 1, 1);
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_join_barrier_ready_time(w, 200, TP_JOIN_CLOCK_MONOTONIC, 1, &r));
    tp_join_barrier_stats_t st;
    tp_join_barrier_stats(w, &st);
    TP_ASSERT_EQ_U64(1, st.non_monotonic);
    /* ... until the input's next epoch */
    tp_join_barrier_observe(w, A, 2, 0, TP_NULL_TIMESTAMP, 6000, 1, 1);
    TP_ASSERT_EQ_I64(1, tp_join_barrier_ready_time(w, 300, TP_JOIN_CLOCK_MONOTONIC, 1, &r));
    tp_join_barrier_close(w);
    tp_join_barrier_close(b);
}

/* §6.3.1: negative offsets not ready until out_time >= -offset_ns. */
static void test_timestamp_negative_offset(void)
{
    tp_join_barrier_t *b = barrier(TP_JOIN_TIMESTAMP, 1, false);
    tp_ts_merge_map_t t = ts_map();
    t.rule_count = 1;
    t.rules[0].offset_ns = -500;
    TP_ASSERT_EQ_I64(1, tp_join_barrier_apply_ts_map(b, &t));
    tp_join_result_t r;
    tp_join_barrier_observe(b, A, 1, 0, TP_NULL_TIMESTAMP, 10000, 1, 1);
    TP_ASSERT_EQ_I64(0, tp_join_barrier_ready_time(b, 499, TP_JOIN_CLOCK_MONOTONIC, 1, &r));
    TP_ASSERT_EQ_I64(1, tp_join_barrier_ready_time(b, 500, TP_JOIN_CLOCK_MONOTONIC, 1, &r));
    TP_ASSERT_EQ_U64(0, r.inputs[0].time_high);
    TP_ASSERT_EQ_I64(1, tp_join_barrier_ready_time(b, 10500, TP_JOIN_CLOCK_MONOTONIC, 1, &r));
    TP_ASSERT_EQ_I64(0, tp_join_barrier_ready_time(b, 10501, TP_JOIN_CLOCK_MONOTONIC, 1, &r));
    tp_join_barrier_close(b);
}

/* §9: latest value: one in-epoch frame per input; newest selected; invalidated -> absent until newer; epochs. */
static void test_latest_value(void)
{
    tp_join_barrier_t *b = barrier(TP_JOIN_LATEST_VALUE, 1, false);
    tp_seq_merge_map_t m = seq_map(1, 7); /* parameters ignored (§9.1) */
    TP_ASSERT_EQ_I64(1, tp_join_barrier_apply_seq_map(b, &m));
    tp_join_result_t r;
    TP_ASSERT_EQ_I64(0, tp_join_barrier_ready_latest(b, 1, &r));
    obs(b, A, 1, 3, 33, 1);
    TP_ASSERT_EQ_I64(0, tp_join_barrier_ready_latest(b, 1, &r));
    obs(b, B, 1, 100, 44, 1);
    TP_ASSERT_EQ_I64(1, tp_join_barrier_ready_latest(b, 1, &r)); /* no alignment required */
    TP_ASSERT_EQ_U64(3, r.inputs[0].latest_seq);
    TP_ASSERT_EQ_U64(33, r.inputs[0].latest_trace_id);
    TP_ASSERT_EQ_U64(100, r.inputs[1].latest_seq);
    obs(b, A, 1, 5, 55, 1);
    obs(b, A, 1, 4, 54, 1); /* late older frame: not selected */
    TP_ASSERT_EQ_I64(1, tp_join_barrier_ready_latest(b, 1, &r));
    TP_ASSERT_EQ_U64(5, r.inputs[0].latest_seq);
    TP_ASSERT_EQ_I64(1, tp_join_barrier_invalidate_latest(b, A, 5));
    TP_ASSERT_EQ_I64(0, tp_join_barrier_invalidate_latest(b, A, 5));
    TP_ASSERT_EQ_I64(0, tp_join_barrier_ready_latest(b, 1, &r)); /* absent after failed validation: retry later */
    obs(b, A, 1, 4, 54, 1);
    TP_ASSERT_EQ_I64(0, tp_join_barrier_ready_latest(b, 1, &r)); /* not newer */
    obs(b, A, 1, 6, 66, 1);
    TP_ASSERT_EQ_I64(1, tp_join_barrier_ready_latest(b, 1, &r));
    TP_ASSERT_EQ_U64(66, r.inputs[0].latest_trace_id);
    /* new epoch of B: its earlier frames are never used; seq 0 of the new epoch is */
    obs(b, B, 2, 0, 77, 1);
    TP_ASSERT_EQ_I64(1, tp_join_barrier_ready_latest(b, 1, &r));
    TP_ASSERT_EQ_U64(0, r.inputs[1].latest_seq);
    TP_ASSERT_EQ_U64(77, r.inputs[1].latest_trace_id);
    TP_ASSERT_EQ_U64(2, r.inputs[1].epoch);
    obs(b, B, 1, 200, 88, 1);
    TP_ASSERT_EQ_I64(1, tp_join_barrier_ready_latest(b, 1, &r));
    TP_ASSERT_EQ_U64(77, r.inputs[1].latest_trace_id);
    /* stale input marked absent when the map says so */
    m.has_stale_timeout_ns = true;
    m.stale_timeout_ns = 10;
    TP_ASSERT_EQ_I64(1, tp_join_barrier_apply_seq_map(b, &m));
    tp_join_barrier_invalidate_latest(b, B, 0);
    TP_ASSERT_EQ_I64(1, tp_join_barrier_ready_latest(b, 1000, &r));
    TP_ASSERT(r.inputs[1].absent);
    tp_join_barrier_close(b);
}

/* §5: after creation and map application, observe/ready allocate nothing. */
static void test_no_allocation(void)
{
#if TP_NOALLOC_SKIP
    TP_SKIP("allocation counting is not available under sanitizers");
#else
    tp_join_barrier_t *b = barrier(TP_JOIN_SEQUENCE, 1, false);
    tp_seq_merge_map_t m = seq_map(1, 0);
    tp_join_barrier_apply_seq_map(b, &m);
    tp_join_result_t r;
    atomic_store(&counting, 1);
    uint64_t ready = 0;
    for (uint64_t s = 0; s < 10000; s++)
    {
        obs(b, A, 1, s, s + 1, s);
        obs(b, B, 1, s, s + 2, s);
        ready += (uint64_t)tp_join_barrier_ready_seq(b, s, s, &r);
    }
    atomic_store(&counting, 0);
    TP_ASSERT_EQ_U64(10000, ready);
    TP_ASSERT_EQ_U64(0, atomic_load(&allocations));
    tp_join_barrier_close(b);
#endif
}

int main(void)
{
    TP_RUN(test_map_validation);
    TP_RUN(test_scope_and_late_join);
    TP_RUN(test_sequence_offset);
    TP_RUN(test_sequence_window);
    TP_RUN(test_processed_cursor);
    TP_RUN(test_staleness);
    TP_RUN(test_input_epochs);
    TP_RUN(test_timestamp);
    TP_RUN(test_timestamp_negative_offset);
    TP_RUN(test_latest_value);
    TP_RUN(test_no_allocation);
    return tp_test_finish();
}
