/*
 * Bridge decode layer (src/protocol/tp_proto_bridge.c): the golden vectors of
 * tests/vectors/bridge, encode/decode round trips, and hostile inputs
 * (truncation at every length, oversized var-data, bad enums, wrong schema,
 * template, version, block length). argv[1]: the golden vector directory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tp_test.h"
#include "common/tp_error.h"
#include "protocol/tp_proto_bridge.h"

static const char *vectors_dir = NULL;

static size_t read_vector(const char *name, uint8_t *buf, size_t cap)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/bridge/%s", vectors_dir, name);
    FILE *f = fopen(path, "rb");
    if (NULL == f)
    {
        return 0;
    }
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

static void test_vector_full(void)
{
    uint8_t buf[256];
    size_t n = read_vector("BridgeFrameChunk.bin", buf, sizeof(buf));
    TP_ASSERT_EQ_U64(105, n);
    tp_proto_bridge_chunk_view_t v;
    TP_ASSERT_OK(tp_proto_decode_bridge_chunk(buf, n, 65535, &v));
    TP_ASSERT_EQ_U64(286397204u, v.stream_id);
    TP_ASSERT_EQ_U64(2387509390608836392ull, v.epoch);
    TP_ASSERT_EQ_U64(3544952156018063160ull, v.seq);
    TP_ASSERT_EQ_U64(4702394921427289928ull, v.trace_id);
    TP_ASSERT_EQ_U64(20818, v.chunk_index);
    TP_ASSERT_EQ_U64(24930, v.chunk_count);
    TP_ASSERT_EQ_U64(1903326068u, v.chunk_offset);
    TP_ASSERT_EQ_U64(33154, v.chunk_length);
    TP_ASSERT_EQ_U64(555885348u, v.payload_length);
    TP_ASSERT_EQ_U64(2711790500u, v.payload_crc32c);
    TP_ASSERT(v.header_included);
    TP_ASSERT_EQ_U64(17, v.header_bytes.length);
    TP_ASSERT(0 == memcmp(v.header_bytes.data, "slot-header-bytes", 17));
    TP_ASSERT_EQ_U64(19, v.payload.length);
    TP_ASSERT(0 == memcmp(v.payload.data, "payload-chunk-bytes", 19));
    /* Structurally fine, semantically not: chunkLength 33154 != 19 payload bytes, header not 256 bytes. */
    TP_ASSERT_EQ_I64(TP_BRIDGE_RULE_HEADER_FLAG, tp_proto_bridge_chunk_check(&v, 65535, 1073741824u));
    /* Re-encoding the view gives the same bytes (chunk_length as the vector's field). */
    uint8_t out[256];
    size_t len = 0;
    tp_proto_bridge_chunk_view_t e = v;
    e.chunk_length = 19; /* encode writes chunk_length payload bytes */
    TP_ASSERT_OK(tp_proto_encode_bridge_chunk(out, sizeof(out), &e, &len));
    TP_ASSERT_EQ_U64(105, len);
    tp_sbe_put_u32(out + 8 + 40, 33154); /* restore the vector's chunkLength field */
    TP_ASSERT(0 == memcmp(out, buf, 105));
}

static void test_vector_nulls(void)
{
    uint8_t buf[256];
    size_t n = read_vector("BridgeFrameChunk.nulls.bin", buf, sizeof(buf));
    TP_ASSERT_EQ_U64(88, n);
    tp_proto_bridge_chunk_view_t v;
    TP_ASSERT_OK(tp_proto_decode_bridge_chunk(buf, n, 65535, &v));
    TP_ASSERT_EQ_U64(0, v.trace_id); /* all-ones null reads as "no trace" (ERRATA 1) */
    TP_ASSERT(!v.header_included);
    TP_ASSERT_EQ_U64(0, v.header_bytes.length);
    TP_ASSERT_EQ_U64(19, v.payload.length);
}

/* A valid first chunk: 256 header bytes, `len` payload bytes. */
static size_t make_chunk(uint8_t *buf, size_t cap, uint32_t len)
{
    static uint8_t header[256];
    static uint8_t payload[2048];
    memset(header, 0xAB, sizeof(header));
    for (size_t i = 0; i < sizeof(payload); i++)
    {
        payload[i] = (uint8_t)i;
    }
    tp_proto_bridge_chunk_view_t c = { .stream_id = 7, .epoch = 3, .seq = 9, .trace_id = 0, .chunk_index = 0,
        .chunk_count = 1, .chunk_offset = 0, .chunk_length = len, .payload_length = len, .header_included = true,
        .header_bytes = { header, 256 }, .payload = { payload, len } };
    size_t n = 0;
    if (tp_proto_encode_bridge_chunk(buf, cap, &c, &n) < 0)
    {
        return 0;
    }
    return n;
}

static void test_round_trip_and_rules(void)
{
    uint8_t buf[4096];
    size_t n = make_chunk(buf, sizeof(buf), 1000);
    TP_ASSERT_EQ_U64(TP_BRIDGE_CHUNK_OVERHEAD + 256 + 1000, n);
    tp_proto_bridge_chunk_view_t v;
    TP_ASSERT_OK(tp_proto_decode_bridge_chunk(buf, n, 65535, &v));
    TP_ASSERT_EQ_U64(0, v.trace_id);
    TP_ASSERT_EQ_U64(0, tp_sbe_get_u64(buf + 8 + 20)); /* "no trace" is written as 0 (ERRATA 1) */
    TP_ASSERT_EQ_I64(TP_BRIDGE_RULE_OK, tp_proto_bridge_chunk_check(&v, 1280, 1u << 20));
    /* Each rule of §5.2 on a copy of the view. */
    tp_proto_bridge_chunk_view_t w = v;
    w.chunk_count = 0;
    TP_ASSERT_EQ_I64(TP_BRIDGE_RULE_CHUNK_COUNT, tp_proto_bridge_chunk_check(&w, 1280, 1u << 20));
    w = v;
    w.chunk_count = 65536;
    TP_ASSERT_EQ_I64(TP_BRIDGE_RULE_CHUNK_COUNT, tp_proto_bridge_chunk_check(&w, 1280, 1u << 20));
    w = v;
    w.chunk_index = 1;
    TP_ASSERT_EQ_I64(TP_BRIDGE_RULE_CHUNK_COUNT, tp_proto_bridge_chunk_check(&w, 1280, 1u << 20));
    w = v;
    w.header_included = false;
    TP_ASSERT_EQ_I64(TP_BRIDGE_RULE_HEADER_FLAG, tp_proto_bridge_chunk_check(&w, 1280, 1u << 20));
    w = v;
    w.header_bytes.length = 255;
    TP_ASSERT_EQ_I64(TP_BRIDGE_RULE_HEADER_FLAG, tp_proto_bridge_chunk_check(&w, 1280, 1u << 20));
    w = v;
    w.chunk_count = 2;
    w.chunk_index = 1;
    w.header_included = false;
    w.header_bytes.length = 0;
    w.payload_length = 2000;
    w.chunk_offset = 1000;
    TP_ASSERT_EQ_I64(TP_BRIDGE_RULE_OK, tp_proto_bridge_chunk_check(&w, 1280, 1u << 20));
    w.header_bytes.length = 3; /* headerIncluded FALSE with header bytes */
    TP_ASSERT_EQ_I64(TP_BRIDGE_RULE_HEADER_FLAG, tp_proto_bridge_chunk_check(&w, 1280, 1u << 20));
    w.header_bytes.length = 0;
    w.chunk_offset = 1001; /* slice past the end */
    TP_ASSERT_EQ_I64(TP_BRIDGE_RULE_CHUNK_OFFSET, tp_proto_bridge_chunk_check(&w, 1280, 1u << 20));
    w = v;
    w.chunk_offset = 5;
    TP_ASSERT_EQ_I64(TP_BRIDGE_RULE_CHUNK_OFFSET, tp_proto_bridge_chunk_check(&w, 1280, 1u << 20));
    w = v;
    w.chunk_length = 999; /* payloadBytes length != chunkLength */
    TP_ASSERT_EQ_I64(TP_BRIDGE_RULE_CHUNK_LENGTH, tp_proto_bridge_chunk_check(&w, 1280, 1u << 20));
    TP_ASSERT_EQ_I64(TP_BRIDGE_RULE_CHUNK_LENGTH, tp_proto_bridge_chunk_check(&v, 999, 1u << 20));
    TP_ASSERT_EQ_I64(TP_BRIDGE_RULE_OVERSIZE, tp_proto_bridge_chunk_check(&v, 1280, 999));
    TP_ASSERT_STREQ("OVERSIZE", tp_bridge_chunk_rule_name(TP_BRIDGE_RULE_OVERSIZE));
}

static void test_truncation_every_length(void)
{
    uint8_t buf[4096];
    size_t n = make_chunk(buf, sizeof(buf), 300);
    for (size_t len = 0; len < n; len++)
    {
        uint8_t *copy = malloc(len > 0 ? len : 1);
        memcpy(copy, buf, len);
        tp_proto_bridge_chunk_view_t v;
        TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_proto_decode_bridge_chunk(copy, len, 65535, &v));
        TP_ASSERT_EQ_I64(TP_PROTO_TOO_SHORT, tp_proto_bridge_last_error());
        free(copy); /* exact-size heap copies: ASan catches any read past len */
    }
    tp_proto_bridge_chunk_view_t v;
    TP_ASSERT_OK(tp_proto_decode_bridge_chunk(buf, n, 65535, &v));
    TP_ASSERT_EQ_I64(TP_PROTO_OK, tp_proto_bridge_last_error());
}

static void test_hostile_headers(void)
{
    uint8_t buf[4096];
    size_t n = make_chunk(buf, sizeof(buf), 64);
    tp_proto_bridge_chunk_view_t v;
    uint8_t b2[4096];
    struct
    {
        size_t off;
        uint16_t value;
        tp_proto_error_t expect;
    } cases[] = {
        { 4, 900, TP_PROTO_WRONG_SCHEMA },   /* a wire-schema message on the bridge channel */
        { 2, 2, TP_PROTO_WRONG_TEMPLATE },
        { 6, 2, TP_PROTO_BAD_VERSION },
        { 0, 52, TP_PROTO_BAD_BLOCK_LENGTH },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    {
        memcpy(b2, buf, n);
        tp_sbe_put_u16(b2 + cases[i].off, cases[i].value);
        TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_proto_decode_bridge_chunk(b2, n, 65535, &v));
        TP_ASSERT_EQ_I64(cases[i].expect, tp_proto_bridge_last_error());
    }
    /* headerIncluded: 2 unknown, 255 null. */
    memcpy(b2, buf, n);
    b2[8 + 52] = 2;
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_proto_decode_bridge_chunk(b2, n, 65535, &v));
    TP_ASSERT_EQ_I64(TP_PROTO_BAD_ENUM, tp_proto_bridge_last_error());
    b2[8 + 52] = 255;
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_proto_decode_bridge_chunk(b2, n, 65535, &v));
    TP_ASSERT_EQ_I64(TP_PROTO_MISSING_REQUIRED, tp_proto_bridge_last_error());
    /* headerBytes longer than 256 (varDataEncoding256). */
    memcpy(b2, buf, n);
    tp_sbe_put_u32(b2 + 8 + 53, 257);
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_proto_decode_bridge_chunk(b2, n, 65535, &v));
    TP_ASSERT_EQ_I64(TP_PROTO_VAR_DATA_OVERFLOW, tp_proto_bridge_last_error());
    /* payloadBytes above the receiver's max_chunk_bytes: rejected before any use (§5.2). */
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_proto_decode_bridge_chunk(buf, n, 63, &v));
    TP_ASSERT_EQ_I64(TP_PROTO_VAR_DATA_OVERFLOW, tp_proto_bridge_last_error());
    /* A huge payloadBytes length in a short buffer. */
    memcpy(b2, buf, n);
    tp_sbe_put_u32(b2 + 8 + 53 + 4 + 256, 0xFFFFFFF0u);
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_proto_decode_bridge_chunk(b2, n, 0xFFFFFFFFu, &v));
    TP_ASSERT_EQ_I64(TP_PROTO_TOO_SHORT, tp_proto_bridge_last_error());
    /* NULL arguments. */
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_proto_decode_bridge_chunk(NULL, n, 65535, &v));
    TP_ASSERT_EQ_I64(TP_PROTO_NULL_BUFFER, tp_proto_bridge_last_error());
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_proto_encode_bridge_chunk(b2, 10, &v, NULL));
    /* A newer version with a longer block is accepted (the extra bytes are skipped). */
    uint8_t b3[4096];
    memcpy(b3, buf, 8 + 53);
    tp_sbe_put_u16(b3, 61);
    memset(b3 + 8 + 53, 0, 8);
    memcpy(b3 + 8 + 61, buf + 8 + 53, n - 8 - 53);
    tp_proto_bridge_chunk_view_t w;
    TP_ASSERT_OK(tp_proto_decode_bridge_chunk(b3, n + 8, 65535, &w));
    TP_ASSERT_EQ_U64(64, w.payload.length);
}

/* Pseudo-random mutations of a valid chunk: never a crash, never a read outside the buffer (ASan). */
static void test_random_mutations(void)
{
    uint8_t buf[4096];
    size_t n = make_chunk(buf, sizeof(buf), 200);
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (int it = 0; it < 20000; it++)
    {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        size_t len = (size_t)(x % (n + 1));
        uint8_t *m = malloc(len > 0 ? len : 1);
        memcpy(m, buf, len);
        if (len > 0)
        {
            m[(x >> 20) % len] ^= (uint8_t)(x >> 40);
            m[(x >> 30) % len] = (uint8_t)(x >> 48);
        }
        tp_proto_bridge_chunk_view_t v;
        if (0 == tp_proto_decode_bridge_chunk(m, len, 65535, &v))
        {
            TP_ASSERT(v.header_bytes.length <= 256);
            TP_ASSERT(v.payload.length <= 65535);
            TP_ASSERT(v.payload.data + v.payload.length <= m + len);
            (void)tp_proto_bridge_chunk_check(&v, 65535, 1u << 30);
        }
        free(m);
    }
}

int main(int argc, char **argv)
{
    if (argc < 2)
    {
        fprintf(stderr, "usage: %s VECTORS_DIR\n", argv[0]);
        return 2;
    }
    vectors_dir = argv[1];
    TP_RUN(test_vector_full);
    TP_RUN(test_vector_nulls);
    TP_RUN(test_round_trip_and_rules);
    TP_RUN(test_truncation_every_length);
    TP_RUN(test_hostile_headers);
    TP_RUN(test_random_mutations);
    return tp_test_finish();
}
