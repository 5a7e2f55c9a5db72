/*
 * TraceLink (904) and MergeMap (903) decode/encode layer: golden vectors
 * (decode every field, encode byte for byte), every strict prefix rejected,
 * header mutations, hostile groups, the TraceLinkSet rules of §9.2.
 * argv[1]: the golden vector directory (TP_VECTORS_DIR).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/tp_proto_merge.h"
#include "protocol/tp_proto_tracelink.h"
#include "tp_test.h"
#include "tp_test_file.h"

static const char *vectors_dir = NULL;

static uint8_t *read_vector(const char *file, size_t *len)
{
    return tp_test_read_file(vectors_dir, file, len);
}

/* Values of the vectors.json files of tests/vectors (trace-link, join-barrier) */
#define V_STREAM UINT32_C(286397204)
#define V_EPOCH UINT64_C(2387509390608836392)
#define V_SEQ UINT64_C(3544952156018063160)
#define V_TRACE UINT64_C(4702394921427289928)
#define V_P0 UINT64_C(5859837686836516696)
#define V_P1 UINT64_C(7017280452245743464)
#define V_IN0 UINT32_C(1094861636)
#define V_IN1 UINT32_C(1364349780)

typedef int (*decode_fn)(const uint8_t *buf, size_t len);

static int dec_tls(const uint8_t *b, size_t n)
{
    tp_proto_trace_link_set_view_t v;
    return tp_proto_decode_trace_link_set(b, n, &v);
}
static int dec_sma(const uint8_t *b, size_t n)
{
    static tp_proto_seq_merge_map_announce_view_t v;
    return tp_proto_decode_seq_merge_map_announce(b, n, &v);
}
static int dec_smr(const uint8_t *b, size_t n)
{
    tp_proto_merge_map_request_view_t v;
    return tp_proto_decode_seq_merge_map_request(b, n, &v);
}
static int dec_tma(const uint8_t *b, size_t n)
{
    static tp_proto_ts_merge_map_announce_view_t v;
    return tp_proto_decode_ts_merge_map_announce(b, n, &v);
}
static int dec_tmr(const uint8_t *b, size_t n)
{
    tp_proto_merge_map_request_view_t v;
    return tp_proto_decode_ts_merge_map_request(b, n, &v);
}

static const struct
{
    const char *file;
    decode_fn decode;
} vectors[] = {
    { "trace-link/TraceLinkSet.bin", dec_tls },
    { "join-barrier/SequenceMergeMapAnnounce.bin", dec_sma },
    { "join-barrier/SequenceMergeMapRequest.bin", dec_smr },
    { "join-barrier/TimestampMergeMapAnnounce.bin", dec_tma },
    { "join-barrier/TimestampMergeMapRequest.bin", dec_tmr },
};
#define VECTOR_COUNT (sizeof(vectors) / sizeof(vectors[0]))

static void test_trace_link_set_vector(void)
{
    size_t len = 0;
    uint8_t *buf = read_vector("trace-link/TraceLinkSet.bin", &len);
    TP_ASSERT(NULL != buf);
    if (NULL == buf)
    {
        return;
    }
    tp_proto_trace_link_set_view_t v;
    TP_ASSERT_OK(tp_proto_decode_trace_link_set(buf, len, &v));
    TP_ASSERT_EQ_U64(V_STREAM, v.stream_id);
    TP_ASSERT_EQ_U64(V_EPOCH, v.epoch);
    TP_ASSERT_EQ_U64(V_SEQ, v.seq);
    TP_ASSERT_EQ_U64(V_TRACE, v.trace_id);
    TP_ASSERT_EQ_U64(2, v.parent_count);
    TP_ASSERT_EQ_U64(V_P0, v.parents[0]);
    TP_ASSERT_EQ_U64(V_P1, v.parents[1]);
    uint8_t out[TP_PROTO_TRACELINK_MAX_LENGTH];
    size_t out_len = 0;
    TP_ASSERT_OK(tp_proto_encode_trace_link_set(out, sizeof(out), &v, &out_len));
    TP_ASSERT_EQ_U64(len, out_len);
    TP_ASSERT(0 == memcmp(buf, out, len));
    /* too small a buffer: refused, not overrun */
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_proto_encode_trace_link_set(out, len - 1, &v, &out_len));
    free(buf);
}

static void test_merge_vectors(void)
{
    size_t len = 0;
    uint8_t out[TP_PROTO_MERGE_MAX_LENGTH];
    size_t out_len = 0;

    uint8_t *buf = read_vector("join-barrier/SequenceMergeMapAnnounce.bin", &len);
    TP_ASSERT(NULL != buf);
    static tp_proto_seq_merge_map_announce_view_t s;
    TP_ASSERT_OK(tp_proto_decode_seq_merge_map_announce(buf, len, &s));
    TP_ASSERT_EQ_U64(V_STREAM, s.out_stream_id);
    TP_ASSERT_EQ_U64(V_EPOCH, s.epoch);
    TP_ASSERT(s.has_stale_timeout_ns);
    TP_ASSERT_EQ_U64(V_SEQ, s.stale_timeout_ns);
    TP_ASSERT_EQ_U64(2, s.rule_count);
    TP_ASSERT_EQ_U64(V_IN0, s.rules[0].input_stream_id);
    TP_ASSERT_EQ_U64(TP_SBE_MERGE_MERGE_RULE_TYPE_OFFSET, s.rules[0].rule_type);
    TP_ASSERT(s.rules[0].has_offset && !s.rules[0].has_window_size);
    TP_ASSERT_EQ_I64(-84281096, s.rules[0].offset);
    TP_ASSERT_EQ_U64(V_IN1, s.rules[1].input_stream_id);
    TP_ASSERT_EQ_U64(TP_SBE_MERGE_MERGE_RULE_TYPE_WINDOW, s.rules[1].rule_type);
    TP_ASSERT(!s.rules[1].has_offset && s.rules[1].has_window_size);
    TP_ASSERT_EQ_U64(1633837924, s.rules[1].window_size);
    TP_ASSERT_OK(tp_proto_encode_seq_merge_map_announce(out, sizeof(out), &s, &out_len));
    TP_ASSERT_EQ_U64(len, out_len);
    TP_ASSERT(0 == memcmp(buf, out, len));
    free(buf);

    buf = read_vector("join-barrier/TimestampMergeMapAnnounce.bin", &len);
    TP_ASSERT(NULL != buf);
    static tp_proto_ts_merge_map_announce_view_t t;
    TP_ASSERT_OK(tp_proto_decode_ts_merge_map_announce(buf, len, &t));
    TP_ASSERT_EQ_U64(V_STREAM, t.out_stream_id);
    TP_ASSERT_EQ_U64(V_EPOCH, t.epoch);
    TP_ASSERT(!t.has_stale_timeout_ns);
    TP_ASSERT_EQ_U64(TP_SBE_MERGE_CLOCK_DOMAIN_REALTIME_SYNCED, t.clock_domain);
    TP_ASSERT(t.has_lateness_ns);
    TP_ASSERT_EQ_U64(V_SEQ, t.lateness_ns);
    TP_ASSERT_EQ_U64(2, t.rule_count);
    TP_ASSERT_EQ_U64(V_IN0, t.rules[0].input_stream_id);
    TP_ASSERT_EQ_U64(TP_SBE_MERGE_MERGE_TIME_RULE_TYPE_OFFSET_NS, t.rules[0].rule_type);
    TP_ASSERT_EQ_U64(TP_SBE_MERGE_TIMESTAMP_SOURCE_SLOT_HEADER, t.rules[0].timestamp_source);
    TP_ASSERT(t.rules[0].has_offset_ns && !t.rules[0].has_window_ns);
    TP_ASSERT_EQ_I64(INT64_C(-72623859790382856), t.rules[0].offset_ns);
    TP_ASSERT_EQ_U64(TP_SBE_MERGE_MERGE_TIME_RULE_TYPE_WINDOW_NS, t.rules[1].rule_type);
    TP_ASSERT_EQ_U64(TP_SBE_MERGE_TIMESTAMP_SOURCE_FRAME_DESCRIPTOR, t.rules[1].timestamp_source);
    TP_ASSERT(!t.rules[1].has_offset_ns && t.rules[1].has_window_ns);
    TP_ASSERT_EQ_U64(V_P1, t.rules[1].window_ns);
    TP_ASSERT_OK(tp_proto_encode_ts_merge_map_announce(out, sizeof(out), &t, &out_len));
    TP_ASSERT_EQ_U64(len, out_len);
    TP_ASSERT(0 == memcmp(buf, out, len));
    free(buf);

    const char *reqs[2] = { "join-barrier/SequenceMergeMapRequest.bin", "join-barrier/TimestampMergeMapRequest.bin" };
    for (int i = 0; i < 2; i++)
    {
        buf = read_vector(reqs[i], &len);
        TP_ASSERT(NULL != buf);
        tp_proto_merge_map_request_view_t r;
        TP_ASSERT_OK(0 == i ? tp_proto_decode_seq_merge_map_request(buf, len, &r)
                            : tp_proto_decode_ts_merge_map_request(buf, len, &r));
        TP_ASSERT_EQ_U64(V_STREAM, r.out_stream_id);
        TP_ASSERT_EQ_U64(V_EPOCH, r.epoch);
        TP_ASSERT_OK(0 == i ? tp_proto_encode_seq_merge_map_request(out, sizeof(out), &r, &out_len)
                            : tp_proto_encode_ts_merge_map_request(out, sizeof(out), &r, &out_len));
        TP_ASSERT_EQ_U64(len, out_len);
        TP_ASSERT(0 == memcmp(buf, out, len));
        /* the request of the other kind is a different template */
        TP_ASSERT(-1 == (0 == i ? tp_proto_decode_ts_merge_map_request(buf, len, &r)
                                : tp_proto_decode_seq_merge_map_request(buf, len, &r)));
        TP_ASSERT_EQ_U64(TP_PROTO_WRONG_TEMPLATE, tp_proto_tl_last_error());
        free(buf);
    }
}

/* Every strict prefix of every vector is rejected (TOO_SHORT), read from an exactly sized copy. */
static void test_prefixes_rejected(void)
{
    for (size_t i = 0; i < VECTOR_COUNT; i++)
    {
        size_t len = 0;
        uint8_t *full = read_vector(vectors[i].file, &len);
        TP_ASSERT(NULL != full);
        for (size_t n = 0; NULL != full && n < len; n++)
        {
            uint8_t *p = malloc(n ? n : 1);
            memcpy(p, full, n);
            int rc = vectors[i].decode(p, n);
            TP_ASSERT_MSG(-1 == rc && TP_PROTO_TOO_SHORT == tp_proto_tl_last_error(), "%s prefix %zu: rc %d reason %s",
                vectors[i].file, n, rc, tp_proto_tl_error_name(tp_proto_tl_last_error()));
            free(p);
        }
        free(full);
    }
}

static void put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

/* Header gating: wrong schema, wrong template, newer version, short block length. */
static void test_header_mutations(void)
{
    for (size_t i = 0; i < VECTOR_COUNT; i++)
    {
        size_t len = 0;
        uint8_t *buf = read_vector(vectors[i].file, &len);
        TP_ASSERT(NULL != buf);
        if (NULL == buf)
        {
            continue;
        }
        uint8_t *m = malloc(len);
        struct
        {
            size_t off;
            uint16_t value;
            tp_proto_error_t want;
        } cases[] = {
            { 4, 900, TP_PROTO_WRONG_SCHEMA },
            { 4, 901, TP_PROTO_WRONG_SCHEMA },
            { 2, 77, TP_PROTO_WRONG_TEMPLATE },
            { 6, 2, TP_PROTO_BAD_VERSION },
            { 0, 3, TP_PROTO_BAD_BLOCK_LENGTH },
        };
        for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
        {
            memcpy(m, buf, len);
            put_u16(m + cases[c].off, cases[c].value);
            int rc = vectors[i].decode(m, len);
            TP_ASSERT_MSG(-1 == rc && cases[c].want == tp_proto_tl_last_error(), "%s case %zu: got %d %s",
                vectors[i].file, c, rc, tp_proto_tl_error_name(tp_proto_tl_last_error()));
        }
        free(m);
        free(buf);
    }
}

static size_t build_tls(uint8_t *buf, size_t cap, uint64_t trace, const uint64_t *parents, uint16_t count)
{
    /* raw encode (bypassing the encoder's checks) for hostile inputs */
    tp_sbe_tracelink_trace_link_set_t m = { 0 };
    tp_sbe_tracelink_trace_link_set_parents_t g;
    tp_sbe_tracelink_trace_link_set_wrap_and_apply_header(&m, buf, 0, cap);
    tp_sbe_tracelink_trace_link_set_set_stream_id(&m, 7);
    tp_sbe_tracelink_trace_link_set_set_epoch(&m, 1);
    tp_sbe_tracelink_trace_link_set_set_seq(&m, 2);
    tp_sbe_tracelink_trace_link_set_set_trace_id(&m, trace);
    tp_sbe_tracelink_trace_link_set_set_parents_count(&m, &g, count);
    for (uint16_t i = 0; i < count; i++)
    {
        tp_sbe_tracelink_trace_link_set_parents_next(&g);
        tp_sbe_tracelink_trace_link_set_parents_set_trace_id(&g, parents[i]);
    }
    return 8 + tp_sbe_tracelink_trace_link_set_encoded_length(&m);
}

/* §9.2: numInGroup >= 1, parents non-zero and unique, output trace id non-zero; group count limit. */
static void test_trace_link_set_rules(void)
{
    static uint8_t buf[8 + 28 + 4 + 8 * 200];
    uint64_t parents[200];
    for (int i = 0; i < 200; i++)
    {
        parents[i] = 1000 + (uint64_t)i;
    }
    tp_proto_trace_link_set_view_t v;
    size_t n = build_tls(buf, sizeof(buf), 99, parents, 2);
    TP_ASSERT_OK(tp_proto_decode_trace_link_set(buf, n, &v));
    n = build_tls(buf, sizeof(buf), 99, parents, 1); /* one parent: allowed (re-rooting) */
    TP_ASSERT_OK(tp_proto_decode_trace_link_set(buf, n, &v));
    n = build_tls(buf, sizeof(buf), 99, parents, 0);
    TP_ASSERT(-1 == tp_proto_decode_trace_link_set(buf, n, &v));
    TP_ASSERT_EQ_U64(TP_PROTO_MISSING_REQUIRED, tp_proto_tl_last_error());
    n = build_tls(buf, sizeof(buf), 0, parents, 2);
    TP_ASSERT(-1 == tp_proto_decode_trace_link_set(buf, n, &v));
    TP_ASSERT_EQ_U64(TP_PROTO_MISSING_REQUIRED, tp_proto_tl_last_error());
    uint64_t zero[2] = { 5, 0 };
    n = build_tls(buf, sizeof(buf), 99, zero, 2);
    TP_ASSERT(-1 == tp_proto_decode_trace_link_set(buf, n, &v));
    TP_ASSERT_EQ_U64(TP_PROTO_MISSING_REQUIRED, tp_proto_tl_last_error());
    uint64_t nul[2] = { 5, UINT64_MAX };
    n = build_tls(buf, sizeof(buf), 99, nul, 2);
    TP_ASSERT(-1 == tp_proto_decode_trace_link_set(buf, n, &v));
    uint64_t dup[3] = { 5, 6, 5 };
    n = build_tls(buf, sizeof(buf), 99, dup, 3);
    TP_ASSERT(-1 == tp_proto_decode_trace_link_set(buf, n, &v));
    TP_ASSERT_EQ_U64(TP_PROTO_BAD_VALUE, tp_proto_tl_last_error());
    TP_ASSERT_STREQ("BAD_VALUE", tp_proto_tl_error_name(TP_PROTO_BAD_VALUE));
    n = build_tls(buf, sizeof(buf), 99, parents, 65);
    TP_ASSERT(-1 == tp_proto_decode_trace_link_set(buf, n, &v));
    TP_ASSERT_EQ_U64(TP_PROTO_GROUP_OVERFLOW, tp_proto_tl_last_error());
    /* a count claiming more elements than the buffer holds */
    n = build_tls(buf, sizeof(buf), 99, parents, 4);
    put_u16(buf + 8 + 28 + 2, 60);
    TP_ASSERT(-1 == tp_proto_decode_trace_link_set(buf, n, &v));
    TP_ASSERT_EQ_U64(TP_PROTO_TOO_SHORT, tp_proto_tl_last_error());
    /* group block length shorter than a parent */
    n = build_tls(buf, sizeof(buf), 99, parents, 2);
    put_u16(buf + 8 + 28, 4);
    TP_ASSERT(-1 == tp_proto_decode_trace_link_set(buf, n, &v));
    /* encoder enforces the same rules */
    tp_proto_trace_link_set_view_t e = { .stream_id = 1, .epoch = 1, .seq = 1, .trace_id = 9, .parent_count = 2 };
    e.parents[0] = 3;
    e.parents[1] = 3;
    size_t out_len = 0;
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_proto_encode_trace_link_set(buf, sizeof(buf), &e, &out_len));
    e.parents[1] = 0;
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_proto_encode_trace_link_set(buf, sizeof(buf), &e, &out_len));
    e.parent_count = 0;
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_proto_encode_trace_link_set(buf, sizeof(buf), &e, &out_len));
    e.parent_count = 1;
    e.parents[0] = 4;
    e.trace_id = 0;
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_proto_encode_trace_link_set(buf, sizeof(buf), &e, &out_len));
    TP_ASSERT(-1 == tp_proto_decode_trace_link_set(NULL, 10, &v));
    TP_ASSERT_EQ_U64(TP_PROTO_NULL_BUFFER, tp_proto_tl_last_error());
}

/* Hostile MergeMap announces: bad enums, null required enums, too many rules; pairing left to the join layer. */
static void test_merge_hostile(void)
{
    static uint8_t buf[TP_PROTO_MERGE_MAX_LENGTH * 2];
    static tp_proto_seq_merge_map_announce_view_t s;
    static tp_proto_ts_merge_map_announce_view_t t;
    size_t n = 0;
    memset(&s, 0, sizeof(s));
    s.out_stream_id = 5;
    s.rule_count = 1;
    s.rules[0].rule_type = TP_SBE_MERGE_MERGE_RULE_TYPE_OFFSET;
    s.rules[0].has_offset = true;
    s.rules[0].has_window_size = true; /* breaks §6.2 pairing: still decodes (the barrier rejects it) */
    TP_ASSERT_OK(tp_proto_encode_seq_merge_map_announce(buf, sizeof(buf), &s, &n));
    static tp_proto_seq_merge_map_announce_view_t d;
    TP_ASSERT_OK(tp_proto_decode_seq_merge_map_announce(buf, n, &d));
    TP_ASSERT(d.rules[0].has_offset && d.rules[0].has_window_size);
    s.rules[0].rule_type = (tp_sbe_merge_merge_rule_type_t)7;
    TP_ASSERT_OK(tp_proto_encode_seq_merge_map_announce(buf, sizeof(buf), &s, &n));
    TP_ASSERT(-1 == tp_proto_decode_seq_merge_map_announce(buf, n, &d));
    TP_ASSERT_EQ_U64(TP_PROTO_BAD_ENUM, tp_proto_tl_last_error());
    s.rules[0].rule_type = TP_SBE_MERGE_MERGE_RULE_TYPE_NULL_VALUE;
    TP_ASSERT_OK(tp_proto_encode_seq_merge_map_announce(buf, sizeof(buf), &s, &n));
    TP_ASSERT(-1 == tp_proto_decode_seq_merge_map_announce(buf, n, &d));
    TP_ASSERT_EQ_U64(TP_PROTO_MISSING_REQUIRED, tp_proto_tl_last_error());
    /* 65 rules: group overflow (written raw: the encoder refuses more than 64) */
    s.rules[0].rule_type = TP_SBE_MERGE_MERGE_RULE_TYPE_OFFSET;
    s.rule_count = 64;
    TP_ASSERT_OK(tp_proto_encode_seq_merge_map_announce(buf, sizeof(buf), &s, &n));
    put_u16(buf + 8 + 20 + 2, 65);
    memset(buf + n, 0, 13);
    TP_ASSERT(-1 == tp_proto_decode_seq_merge_map_announce(buf, n + 13, &d));
    TP_ASSERT_EQ_U64(TP_PROTO_GROUP_OVERFLOW, tp_proto_tl_last_error());
    s.rule_count = 65;
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_proto_encode_seq_merge_map_announce(buf, sizeof(buf), &s, &n));

    memset(&t, 0, sizeof(t));
    t.clock_domain = (tp_sbe_merge_clock_domain_t)9;
    t.rule_count = 1;
    t.rules[0].rule_type = TP_SBE_MERGE_MERGE_TIME_RULE_TYPE_OFFSET_NS;
    t.rules[0].timestamp_source = TP_SBE_MERGE_TIMESTAMP_SOURCE_SLOT_HEADER;
    t.rules[0].has_offset_ns = true;
    static tp_proto_ts_merge_map_announce_view_t td;
    TP_ASSERT_OK(tp_proto_encode_ts_merge_map_announce(buf, sizeof(buf), &t, &n));
    TP_ASSERT(-1 == tp_proto_decode_ts_merge_map_announce(buf, n, &td));
    TP_ASSERT_EQ_U64(TP_PROTO_BAD_ENUM, tp_proto_tl_last_error());
    t.clock_domain = TP_SBE_MERGE_CLOCK_DOMAIN_MONOTONIC;
    t.rules[0].timestamp_source = TP_SBE_MERGE_TIMESTAMP_SOURCE_NULL_VALUE;
    TP_ASSERT_OK(tp_proto_encode_ts_merge_map_announce(buf, sizeof(buf), &t, &n));
    TP_ASSERT(-1 == tp_proto_decode_ts_merge_map_announce(buf, n, &td));
    TP_ASSERT_EQ_U64(TP_PROTO_MISSING_REQUIRED, tp_proto_tl_last_error());
    t.rules[0].timestamp_source = TP_SBE_MERGE_TIMESTAMP_SOURCE_FRAME_DESCRIPTOR;
    t.rules[0].rule_type = (tp_sbe_merge_merge_time_rule_type_t)3;
    TP_ASSERT_OK(tp_proto_encode_ts_merge_map_announce(buf, sizeof(buf), &t, &n));
    TP_ASSERT(-1 == tp_proto_decode_ts_merge_map_announce(buf, n, &td));
    TP_ASSERT_EQ_U64(TP_PROTO_BAD_ENUM, tp_proto_tl_last_error());
    /* null optionals round-trip as absent */
    t.rules[0].rule_type = TP_SBE_MERGE_MERGE_TIME_RULE_TYPE_WINDOW_NS;
    t.rules[0].has_offset_ns = false;
    t.rules[0].has_window_ns = true;
    t.rules[0].window_ns = 10;
    TP_ASSERT_OK(tp_proto_encode_ts_merge_map_announce(buf, sizeof(buf), &t, &n));
    TP_ASSERT_OK(tp_proto_decode_ts_merge_map_announce(buf, n, &td));
    TP_ASSERT(!td.has_lateness_ns && !td.has_stale_timeout_ns && !td.rules[0].has_offset_ns);
    TP_ASSERT_EQ_U64(10, td.rules[0].window_ns);
    /* a TraceLinkSet handed to a merge decoder: wrong schema */
    uint64_t parents[2] = { 1, 2 };
    n = build_tls(buf, sizeof(buf), 9, parents, 2);
    TP_ASSERT(-1 == tp_proto_decode_seq_merge_map_announce(buf, n, &d));
    TP_ASSERT_EQ_U64(TP_PROTO_WRONG_SCHEMA, tp_proto_tl_last_error());
}

/* Random byte flips over the vectors never crash or read outside (ASan); decode either succeeds or names a reason. */
static void test_random_mutations(void)
{
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < VECTOR_COUNT; i++)
    {
        size_t len = 0;
        uint8_t *buf = read_vector(vectors[i].file, &len);
        TP_ASSERT(NULL != buf);
        uint8_t *m = malloc(len);
        for (int round = 0; NULL != buf && round < 2000; round++)
        {
            memcpy(m, buf, len);
            for (int k = 0; k < 3; k++)
            {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                m[x % len] = (uint8_t)(x >> 32);
            }
            size_t cut = (round % 4 == 0) ? (size_t)(x >> 40) % (len + 1) : len;
            int rc = vectors[i].decode(m, cut);
            TP_ASSERT(0 == rc || (-1 == rc && TP_PROTO_OK != tp_proto_tl_last_error()));
        }
        free(m);
        free(buf);
    }
}

int main(int argc, char **argv)
{
    vectors_dir = argc > 1 ? argv[1] : "tests/vectors";
    char probe[1024];
    snprintf(probe, sizeof(probe), "%s/trace-link/TraceLinkSet.bin", vectors_dir);
    FILE *f = fopen(probe, "rb");
    if (NULL == f)
    {
        fprintf(stderr, "vectors not found under %s: skipped\n", vectors_dir);
        return 77;
    }
    fclose(f);
    TP_RUN(test_trace_link_set_vector);
    TP_RUN(test_merge_vectors);
    TP_RUN(test_prefixes_rejected);
    TP_RUN(test_header_mutations);
    TP_RUN(test_trace_link_set_rules);
    TP_RUN(test_merge_hostile);
    TP_RUN(test_random_mutations);
    return tp_test_finish();
}
