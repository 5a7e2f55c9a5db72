/*
 * Fuzz target: the MergeMap decoders (src/protocol/tp_proto_merge.h) and the
 * join barrier fed with what they decode (src/join).
 * Invariants: a failure sets TP_ERR_MALFORMED and a drop reason; a decoded
 * announce has at most 64 rules with known enums and re-encodes to an equal
 * view; applying it to a barrier of its (out stream, epoch) either succeeds
 * (the map passes validation) or leaves the barrier blocked; readiness calls
 * on the result never crash.
 */
#include "tp_fuzz.h"

#include "protocol/tp_proto_merge.h"
#include "tensor_pool/tp_join.h"

static void check_fail(int rc)
{
    TP_FUZZ_CHECK(-1 == rc);
    TP_FUZZ_CHECK(TP_ERR_MALFORMED == tp_errcode());
    TP_FUZZ_CHECK(TP_PROTO_OK != tp_proto_tl_last_error());
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static tp_proto_seq_merge_map_announce_view_t s, s2;
    static tp_proto_ts_merge_map_announce_view_t t, t2;
    static uint8_t buf[TP_PROTO_MERGE_MAX_LENGTH];
    static tp_seq_merge_map_t sm;
    static tp_ts_merge_map_t tm;
    tp_proto_merge_map_request_view_t r;
    size_t len = 0;
    tp_join_result_t res;

    int rc = tp_proto_decode_seq_merge_map_announce(data, size, &s);
    if (rc < 0)
    {
        check_fail(rc);
    }
    else
    {
        TP_FUZZ_CHECK(s.rule_count <= TP_PROTO_MERGE_MAX_RULES);
        TP_FUZZ_CHECK(0 == tp_proto_encode_seq_merge_map_announce(buf, sizeof(buf), &s, &len));
        TP_FUZZ_CHECK(0 == tp_proto_decode_seq_merge_map_announce(buf, len, &s2));
        TP_FUZZ_CHECK(0 == memcmp(&s, &s2, sizeof(s)));
        memset(&sm, 0, sizeof(sm));
        sm.out_stream_id = s.out_stream_id;
        sm.epoch = s.epoch;
        sm.has_stale_timeout_ns = s.has_stale_timeout_ns;
        sm.stale_timeout_ns = s.stale_timeout_ns;
        sm.rule_count = s.rule_count;
        for (uint32_t i = 0; i < s.rule_count && i < TP_JOIN_MAX_INPUTS; i++)
        {
            sm.rules[i] = (tp_merge_seq_rule_t){ .input_stream_id = s.rules[i].input_stream_id,
                .type = (tp_merge_rule_type_t)s.rules[i].rule_type, .has_offset = s.rules[i].has_offset,
                .offset = s.rules[i].offset, .has_window_size = s.rules[i].has_window_size,
                .window_size = s.rules[i].window_size };
        }
        tp_join_barrier_config_t c = { .kind = TP_JOIN_SEQUENCE, .out_stream_id = s.out_stream_id, .out_epoch = s.epoch };
        tp_join_barrier_t *b = NULL;
        TP_FUZZ_CHECK(0 == tp_join_barrier_create(&b, &c));
        int applied = tp_join_barrier_apply_seq_map(b, &sm);
        TP_FUZZ_CHECK((1 == applied) == (0 == tp_seq_merge_map_validate(&sm)));
        TP_FUZZ_CHECK(tp_join_barrier_has_map(b) == (1 == applied));
        for (uint32_t i = 0; i < sm.rule_count && i < TP_JOIN_MAX_INPUTS; i++)
        {
            tp_join_barrier_observe(b, sm.rules[i].input_stream_id, 1, s.epoch, TP_NULL_TIMESTAMP, 1, 1, 5);
        }
        tp_join_barrier_ready_seq(b, s.epoch, 10, &res);
        tp_join_barrier_ready_seq(b, 0, UINT64_MAX, &res);
        tp_join_barrier_ready_seq(b, UINT64_MAX, 10, &res);
        tp_join_barrier_close(b);
    }

    rc = tp_proto_decode_ts_merge_map_announce(data, size, &t);
    if (rc < 0)
    {
        check_fail(rc);
    }
    else
    {
        TP_FUZZ_CHECK(t.rule_count <= TP_PROTO_MERGE_MAX_RULES);
        TP_FUZZ_CHECK(0 == tp_proto_encode_ts_merge_map_announce(buf, sizeof(buf), &t, &len));
        TP_FUZZ_CHECK(0 == tp_proto_decode_ts_merge_map_announce(buf, len, &t2));
        TP_FUZZ_CHECK(0 == memcmp(&t, &t2, sizeof(t)));
        memset(&tm, 0, sizeof(tm));
        tm.out_stream_id = t.out_stream_id;
        tm.epoch = t.epoch;
        tm.clock_domain = (tp_join_clock_domain_t)t.clock_domain;
        tm.has_lateness_ns = t.has_lateness_ns;
        tm.lateness_ns = t.lateness_ns;
        tm.has_stale_timeout_ns = t.has_stale_timeout_ns;
        tm.stale_timeout_ns = t.stale_timeout_ns;
        tm.rule_count = t.rule_count;
        for (uint32_t i = 0; i < t.rule_count && i < TP_JOIN_MAX_INPUTS; i++)
        {
            tm.rules[i] = (tp_merge_ts_rule_t){ .input_stream_id = t.rules[i].input_stream_id,
                .type = (tp_merge_time_rule_type_t)t.rules[i].rule_type,
                .timestamp_source = (tp_timestamp_source_t)t.rules[i].timestamp_source,
                .has_offset_ns = t.rules[i].has_offset_ns, .offset_ns = t.rules[i].offset_ns,
                .has_window_ns = t.rules[i].has_window_ns, .window_ns = t.rules[i].window_ns };
        }
        tp_join_barrier_config_t c = { .kind = TP_JOIN_TIMESTAMP, .out_stream_id = t.out_stream_id, .out_epoch = t.epoch };
        tp_join_barrier_t *b = NULL;
        TP_FUZZ_CHECK(0 == tp_join_barrier_create(&b, &c));
        int applied = tp_join_barrier_apply_ts_map(b, &tm);
        TP_FUZZ_CHECK((1 == applied) == (0 == tp_ts_merge_map_validate(&tm)));
        for (uint32_t i = 0; i < tm.rule_count && i < TP_JOIN_MAX_INPUTS; i++)
        {
            tp_join_barrier_observe(b, tm.rules[i].input_stream_id, 1, 1, t.lateness_ns, t.epoch, 1, 5);
        }
        tp_join_barrier_ready_time(b, t.lateness_ns, tm.clock_domain, 10, &res);
        tp_join_barrier_ready_time(b, UINT64_MAX, tm.clock_domain, UINT64_MAX, &res);
        tp_join_barrier_close(b);
    }

    rc = tp_proto_decode_seq_merge_map_request(data, size, &r);
    if (rc < 0)
    {
        check_fail(rc);
    }
    rc = tp_proto_decode_ts_merge_map_request(data, size, &r);
    if (rc < 0)
    {
        check_fail(rc);
    }
    return 0;
}
