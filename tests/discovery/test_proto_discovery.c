/*
 * Discovery decode layer (src/protocol/tp_proto_discovery): golden vectors in
 * the reference layout (decoded via the D1 fallback, re-encoded byte for
 * byte), round trips with non-empty tags in the fixed layout, header gating,
 * hostile inputs (every prefix, oversized var-data, group counts over the
 * limits, truncated groups, random mutations): a counted drop, never a crash.
 * argv[1]: the golden vector directory (TP_VECTORS_DIR).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/tp_proto_discovery.h"
#include "tp_test.h"
#include "tp_test_file.h"

static const char *vectors_dir = NULL;

static uint8_t *read_vector(const char *file, size_t *len)
{
    char rel[512];
    snprintf(rel, sizeof(rel), "discovery/%s", file);
    return tp_test_read_file(vectors_dir, rel, len);
}

static bool str_is(tp_proto_str_t s, const char *want)
{
    return s.length == strlen(want) && 0 == memcmp(s.data, want, s.length);
}

static tp_proto_str_t S(const char *s)
{
    tp_proto_str_t r = { s, (uint32_t)strlen(s) };
    return r;
}

/* Copy into an exactly sized heap buffer so that ASan sees any overread. */
static uint8_t *dup_exact(const uint8_t *src, size_t len)
{
    uint8_t *p = malloc(len > 0 ? len : 1);
    memcpy(p, src, len);
    return p;
}

/* ------------------------------------------------------------------ vectors */

static void test_vector_request_reference_layout(void)
{
    size_t len = 0;
    uint8_t *buf = read_vector("DiscoveryRequest.bin", &len);
    TP_ASSERT(NULL != buf);
    if (NULL == buf)
    {
        return;
    }
    tp_proto_discovery_request_view_t v;
    TP_ASSERT_OK(tp_proto_decode_discovery_request(buf, len, &v));
    TP_ASSERT_EQ_U64(TP_PROTO_DISCOVERY_LAYOUT_REFERENCE, v.layout);
    TP_ASSERT_EQ_U64(72623859790382856ull, v.request_id);
    TP_ASSERT_EQ_U64(286397204u, v.client_id);
    TP_ASSERT_EQ_U64(555885348u, v.response_stream_id);
    TP_ASSERT(v.has_stream_id);
    TP_ASSERT_EQ_U64(825373492u, v.stream_id);
    TP_ASSERT(!v.has_producer_id);
    TP_ASSERT(!v.has_data_source_id);
    TP_ASSERT_EQ_U64(2, v.tag_count);
    TP_ASSERT_EQ_U64(0, v.tags[0].length);
    TP_ASSERT_EQ_U64(0, v.tags[1].length);
    TP_ASSERT(str_is(v.response_channel, "aeron:udp?endpoint=10.0.0.9:40200"));
    TP_ASSERT_EQ_U64(0, v.data_source_name.length);
    /* our codec alone does not read these bytes (D1): the fallback did */
    uint8_t out[256];
    size_t out_len = 0;
    TP_ASSERT_OK(tp_proto_encode_discovery_request(out, sizeof(out), &v, TP_PROTO_DISCOVERY_LAYOUT_REFERENCE, &out_len));
    TP_ASSERT_EQ_U64(len, out_len);
    TP_ASSERT(0 == memcmp(buf, out, len));
    free(buf);
}

static void test_vector_response_reference_layout(void)
{
    size_t len = 0;
    uint8_t *buf = read_vector("DiscoveryResponse.bin", &len);
    TP_ASSERT(NULL != buf);
    if (NULL == buf)
    {
        return;
    }
    tp_proto_discovery_response_view_t v;
    TP_ASSERT_OK(tp_proto_decode_discovery_response(buf, len, &v));
    TP_ASSERT_EQ_U64(TP_PROTO_DISCOVERY_LAYOUT_REFERENCE, v.layout);
    TP_ASSERT_EQ_U64(72623859790382856ull, v.request_id);
    TP_ASSERT_EQ_U64(TP_SBE_DISCOVERY_DISCOVERY_STATUS_OK, v.status);
    TP_ASSERT_EQ_U64(2, v.result_count);
    TP_ASSERT_EQ_U64(0, v.error_message.length);
    tp_proto_discovery_result_view_t r[2];
    tp_proto_discovery_result_iter_t it = v.results;
    TP_ASSERT_EQ_I64(1, tp_proto_discovery_result_next(&it, &r[0]));
    TP_ASSERT_EQ_I64(1, tp_proto_discovery_result_next(&it, &r[1]));
    TP_ASSERT_EQ_I64(0, tp_proto_discovery_result_next(&it, &r[1]) > 0 ? 1 : 0);
    TP_ASSERT_EQ_U64(286397204u, r[0].stream_id);
    TP_ASSERT_EQ_U64(555885348u, r[0].producer_id);
    TP_ASSERT_EQ_U64(3544952156018063160ull, r[0].epoch);
    TP_ASSERT_EQ_U64(1094861636u, r[0].layout_version);
    TP_ASSERT_EQ_U64(1364349780u, r[0].header_nslots);
    TP_ASSERT_EQ_U64(24930u, r[0].header_slot_bytes);
    TP_ASSERT_EQ_U64(113u, r[0].max_dims);
    TP_ASSERT(r[0].has_data_source_id);
    TP_ASSERT_EQ_U64(2442302356u, r[0].driver_control_stream_id);
    TP_ASSERT_EQ_U64(2, r[0].pool_count);
    TP_ASSERT_EQ_U64(41378u, r[0].pools[0].pool_id);
    TP_ASSERT_EQ_U64(2981278644u, r[0].pools[0].pool_nslots);
    TP_ASSERT_EQ_U64(3250766788u, r[0].pools[0].stride_bytes);
    TP_ASSERT(str_is(r[0].pools[0].region_uri, "shm:file?path=/dev/shm/r0_pool_1"));
    TP_ASSERT(str_is(r[0].pools[1].region_uri, "shm:file?path=/dev/shm/r0_pool_2"));
    TP_ASSERT_EQ_U64(2, r[0].tag_count);
    TP_ASSERT(str_is(r[0].header_region_uri, "shm:file?path=/dev/shm/r0_header"));
    TP_ASSERT(str_is(r[0].data_source_name, "camera-A"));
    TP_ASSERT(str_is(r[0].driver_instance_id, "driver-7"));
    TP_ASSERT(str_is(r[0].driver_control_channel, "aeron:udp?endpoint=10.0.0.1:40100"));
    TP_ASSERT_EQ_U64(303240213u, r[1].stream_id);
    TP_ASSERT(!r[1].has_data_source_id);
    TP_ASSERT(str_is(r[1].data_source_name, "camera-B"));
    TP_ASSERT(str_is(r[1].driver_control_channel, "aeron:udp?endpoint=10.0.0.2:40100"));
    /* re-encode in the reference layout: the same bytes */
    uint8_t *out = malloc(1024);
    tp_proto_discovery_response_encoder_t enc;
    size_t out_len = 0;
    TP_ASSERT_OK(tp_proto_discovery_response_begin(&enc, out, 1024, TP_PROTO_DISCOVERY_LAYOUT_REFERENCE, v.request_id,
        v.status, 2));
    TP_ASSERT_OK(tp_proto_discovery_response_add(&enc, &r[0]));
    TP_ASSERT_OK(tp_proto_discovery_response_add(&enc, &r[1]));
    TP_ASSERT_OK(tp_proto_discovery_response_finish(&enc, "", 0, &out_len));
    TP_ASSERT_EQ_U64(len, out_len);
    TP_ASSERT(0 == memcmp(buf, out, len));
    /* a copied iterator walks the same results */
    tp_proto_discovery_result_iter_t copy = v.results;
    tp_proto_discovery_result_view_t again;
    TP_ASSERT_EQ_I64(1, tp_proto_discovery_result_next(&copy, &again));
    TP_ASSERT_EQ_U64(r[0].epoch, again.epoch);
    free(out);
    free(buf);
}

/* -------------------------------------------------------------- round trips */

static size_t build_request(uint8_t *buf, size_t cap, tp_proto_discovery_layout_t layout, uint32_t ntags)
{
    static const char *tags[] = { "camera", "Front", "camera", "4k" };
    tp_proto_discovery_request_view_t m;
    memset(&m, 0, sizeof(m));
    m.request_id = 0x1122334455667788ull;
    m.client_id = 42;
    m.response_stream_id = 7004;
    m.has_producer_id = true;
    m.producer_id = 9;
    m.has_data_source_id = true;
    m.data_source_id = 77;
    for (uint32_t i = 0; i < ntags; i++)
    {
        m.tags[i] = S(tags[i % 4]);
    }
    m.tag_count = ntags;
    m.response_channel = S("aeron:ipc?term-length=4m");
    m.data_source_name = S("cam-front");
    size_t len = 0;
    if (tp_proto_encode_discovery_request(buf, cap, &m, layout, &len) < 0)
    {
        return 0;
    }
    return len;
}

static void test_request_round_trip_with_tags(void)
{
    uint8_t buf[1024];
    size_t len = build_request(buf, sizeof(buf), TP_PROTO_DISCOVERY_LAYOUT_FIXED, 4);
    TP_ASSERT(len > 0);
    tp_proto_discovery_request_view_t v;
    TP_ASSERT_OK(tp_proto_decode_discovery_request(buf, len, &v));
    TP_ASSERT_EQ_U64(TP_PROTO_DISCOVERY_LAYOUT_FIXED, v.layout);
    TP_ASSERT_EQ_U64(0x1122334455667788ull, v.request_id);
    TP_ASSERT(!v.has_stream_id);
    TP_ASSERT(v.has_producer_id && 9 == v.producer_id);
    TP_ASSERT(v.has_data_source_id && 77 == v.data_source_id);
    TP_ASSERT_EQ_U64(4, v.tag_count);
    TP_ASSERT(str_is(v.tags[0], "camera"));
    TP_ASSERT(str_is(v.tags[1], "Front"));
    TP_ASSERT(str_is(v.tags[3], "4k"));
    TP_ASSERT(str_is(v.response_channel, "aeron:ipc?term-length=4m"));
    TP_ASSERT(str_is(v.data_source_name, "cam-front"));
    /* the same request from a reference-tool peer: tags carry no bytes, everything else survives */
    uint8_t ref[1024];
    size_t rlen = build_request(ref, sizeof(ref), TP_PROTO_DISCOVERY_LAYOUT_REFERENCE, 4);
    TP_ASSERT_OK(tp_proto_decode_discovery_request(ref, rlen, &v));
    TP_ASSERT_EQ_U64(TP_PROTO_DISCOVERY_LAYOUT_REFERENCE, v.layout);
    TP_ASSERT_EQ_U64(4, v.tag_count);
    TP_ASSERT_EQ_U64(0, v.tags[2].length);
    TP_ASSERT(str_is(v.response_channel, "aeron:ipc?term-length=4m"));
    TP_ASSERT(str_is(v.data_source_name, "cam-front"));
    /* without tags both layouts are the same bytes */
    size_t a = build_request(buf, sizeof(buf), TP_PROTO_DISCOVERY_LAYOUT_FIXED, 0);
    size_t b = build_request(ref, sizeof(ref), TP_PROTO_DISCOVERY_LAYOUT_REFERENCE, 0);
    TP_ASSERT_EQ_U64(a, b);
    TP_ASSERT(0 == memcmp(buf, ref, a));
    TP_ASSERT_OK(tp_proto_decode_discovery_request(buf, a, &v));
    TP_ASSERT_EQ_U64(TP_PROTO_DISCOVERY_LAYOUT_FIXED, v.layout);
}

static void fill_result(tp_proto_discovery_result_view_t *r, uint32_t stream_id, uint32_t ntags)
{
    static const char *tags[] = { "camera", "front", "Lidar", "x" };
    memset(r, 0, sizeof(*r));
    r->stream_id = stream_id;
    r->producer_id = 3;
    r->epoch = 12;
    r->layout_version = 1;
    r->header_nslots = 1024;
    r->header_slot_bytes = 256;
    r->max_dims = 8;
    r->has_data_source_id = stream_id % 2 == 0;
    r->data_source_id = 5;
    r->driver_control_stream_id = 1000;
    r->pool_count = 2;
    r->pools[0] = (tp_proto_pool_view_t){ 1, 1024, 4096, S("shm:file?path=/dev/shm/a/1") };
    r->pools[1] = (tp_proto_pool_view_t){ 2, 1024, 65536, S("shm:file?path=/dev/shm/a/2") };
    for (uint32_t i = 0; i < ntags; i++)
    {
        r->tags[i] = S(tags[i % 4]);
    }
    r->tag_count = ntags;
    r->header_region_uri = S("shm:file?path=/dev/shm/a/header");
    r->data_source_name = S("cam");
    r->driver_instance_id = S("driver-01");
    r->driver_control_channel = S("aeron:ipc?term-length=4m");
}

static size_t build_response(uint8_t *buf, size_t cap, tp_proto_discovery_layout_t layout, uint32_t nresults,
    uint32_t ntags, const char *error)
{
    tp_proto_discovery_response_encoder_t enc;
    tp_proto_discovery_result_view_t r;
    size_t len = 0;
    if (tp_proto_discovery_response_begin(&enc, buf, cap, layout, 99, TP_SBE_DISCOVERY_DISCOVERY_STATUS_OK, nresults) < 0)
    {
        return 0;
    }
    for (uint32_t i = 0; i < nresults; i++)
    {
        fill_result(&r, 100 + i, ntags);
        if (tp_proto_discovery_response_add(&enc, &r) < 0)
        {
            return 0;
        }
    }
    if (tp_proto_discovery_response_finish(&enc, error, strlen(error), &len) < 0)
    {
        return 0;
    }
    return len;
}

static void test_response_round_trip_with_tags(void)
{
    uint8_t *buf = malloc(65536);
    size_t len = build_response(buf, 65536, TP_PROTO_DISCOVERY_LAYOUT_FIXED, 3, 3, "");
    TP_ASSERT(len > 0);
    tp_proto_discovery_response_view_t v;
    TP_ASSERT_OK(tp_proto_decode_discovery_response(buf, len, &v));
    TP_ASSERT_EQ_U64(TP_PROTO_DISCOVERY_LAYOUT_FIXED, v.layout);
    TP_ASSERT_EQ_U64(99, v.request_id);
    TP_ASSERT_EQ_U64(3, v.result_count);
    tp_proto_discovery_result_view_t r;
    tp_proto_discovery_result_iter_t it = v.results;
    for (uint32_t i = 0; i < 3; i++)
    {
        TP_ASSERT_EQ_I64(1, tp_proto_discovery_result_next(&it, &r));
        TP_ASSERT_EQ_U64(100 + i, r.stream_id);
        TP_ASSERT_EQ_U64(3, r.tag_count);
        TP_ASSERT(str_is(r.tags[0], "camera"));
        TP_ASSERT(str_is(r.tags[2], "Lidar"));
        TP_ASSERT_EQ_U64(2, r.pool_count);
        TP_ASSERT(str_is(r.pools[1].region_uri, "shm:file?path=/dev/shm/a/2"));
        TP_ASSERT_EQ_U64(65536, r.pools[1].stride_bytes);
        TP_ASSERT(str_is(r.driver_instance_id, "driver-01"));
        TP_ASSERT(r.has_data_source_id == (0 == (100 + i) % 2));
        TP_ASSERT_EQ_U64(1000, r.driver_control_stream_id);
    }
    TP_ASSERT_EQ_I64(0, tp_proto_discovery_result_next(&it, &r));
    /* tp_proto_discovery_result_encoded_length predicts the size */
    fill_result(&r, 100, 3);
    size_t one = tp_proto_discovery_result_encoded_length(&r, TP_PROTO_DISCOVERY_LAYOUT_FIXED);
    size_t empty = build_response(buf, 65536, TP_PROTO_DISCOVERY_LAYOUT_FIXED, 0, 0, "");
    size_t single = build_response(buf, 65536, TP_PROTO_DISCOVERY_LAYOUT_FIXED, 1, 3, "");
    TP_ASSERT_EQ_U64(empty + one, single);
    /* ERROR with a message; an over-long message is cut at 1024 bytes */
    char big[2000];
    memset(big, 'e', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    tp_proto_discovery_response_encoder_t enc;
    TP_ASSERT_OK(tp_proto_discovery_response_begin(&enc, buf, 65536, TP_PROTO_DISCOVERY_LAYOUT_FIXED, 5,
        TP_SBE_DISCOVERY_DISCOVERY_STATUS_ERROR, 0));
    TP_ASSERT_OK(tp_proto_discovery_response_finish(&enc, big, strlen(big), &len));
    TP_ASSERT_OK(tp_proto_decode_discovery_response(buf, len, &v));
    TP_ASSERT_EQ_U64(TP_SBE_DISCOVERY_DISCOVERY_STATUS_ERROR, v.status);
    TP_ASSERT_EQ_U64(TP_PROTO_DISCOVERY_ERROR_WRITE_MAX, v.error_message.length);
    /* the encoder refuses to finish before every announced result is written */
    TP_ASSERT_OK(tp_proto_discovery_response_begin(&enc, buf, 65536, TP_PROTO_DISCOVERY_LAYOUT_FIXED, 5,
        TP_SBE_DISCOVERY_DISCOVERY_STATUS_OK, 2));
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_proto_discovery_response_finish(&enc, "", 0, &len));
    /* reference layout with tags: decoded via the fallback, tags empty */
    len = build_response(buf, 65536, TP_PROTO_DISCOVERY_LAYOUT_REFERENCE, 2, 3, "");
    TP_ASSERT_OK(tp_proto_decode_discovery_response(buf, len, &v));
    TP_ASSERT_EQ_U64(TP_PROTO_DISCOVERY_LAYOUT_REFERENCE, v.layout);
    it = v.results;
    TP_ASSERT_EQ_I64(1, tp_proto_discovery_result_next(&it, &r));
    TP_ASSERT_EQ_U64(3, r.tag_count);
    TP_ASSERT_EQ_U64(0, r.tags[0].length);
    TP_ASSERT(str_is(r.driver_control_channel, "aeron:ipc?term-length=4m"));
    free(buf);
}

/* ------------------------------------------------------------------ hostile */

static void test_header_gating(void)
{
    uint8_t buf[512];
    size_t len = build_request(buf, sizeof(buf), TP_PROTO_DISCOVERY_LAYOUT_FIXED, 2);
    tp_proto_discovery_request_view_t v;
    uint8_t m[512];
    memcpy(m, buf, len);
    m[4] = 0x85; /* schema 901 */
    m[5] = 0x03;
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_proto_decode_discovery_request(m, len, &v));
    TP_ASSERT_EQ_U64(TP_PROTO_WRONG_SCHEMA, tp_proto_discovery_last_error());
    memcpy(m, buf, len);
    m[2] = 2; /* template: a response */
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_proto_decode_discovery_request(m, len, &v));
    TP_ASSERT_EQ_U64(TP_PROTO_WRONG_TEMPLATE, tp_proto_discovery_last_error());
    memcpy(m, buf, len);
    m[6] = 2; /* version 2: newer than ours (§10) */
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_proto_decode_discovery_request(m, len, &v));
    TP_ASSERT_EQ_U64(TP_PROTO_BAD_VERSION, tp_proto_discovery_last_error());
    memcpy(m, buf, len);
    m[0] = 31; /* block length shorter than ours */
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_proto_decode_discovery_request(m, len, &v));
    TP_ASSERT_EQ_U64(TP_PROTO_BAD_BLOCK_LENGTH, tp_proto_discovery_last_error());
    /* version 0 (older) and a longer block are accepted (D2) */
    memcpy(m, buf, len);
    m[6] = 0;
    TP_ASSERT_OK(tp_proto_decode_discovery_request(m, len, &v));
    uint8_t longer[520];
    memcpy(longer, buf, 8);
    longer[0] = 36;
    memcpy(longer + 8, buf + 8, 32);
    memset(longer + 40, 0xEE, 4);
    memcpy(longer + 44, buf + 40, len - 40);
    TP_ASSERT_OK(tp_proto_decode_discovery_request(longer, len + 4, &v));
    TP_ASSERT(str_is(v.data_source_name, "cam-front"));
    TP_ASSERT_EQ_U64(2, v.tag_count);
    /* status values */
    uint8_t *r = malloc(65536);
    size_t rlen = build_response(r, 65536, TP_PROTO_DISCOVERY_LAYOUT_FIXED, 1, 1, "");
    tp_proto_discovery_response_view_t rv;
    r[16] = 9;
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_proto_decode_discovery_response(r, rlen, &rv));
    TP_ASSERT_EQ_U64(TP_PROTO_BAD_ENUM, tp_proto_discovery_last_error());
    r[16] = 255;
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_proto_decode_discovery_response(r, rlen, &rv));
    TP_ASSERT_EQ_U64(TP_PROTO_MISSING_REQUIRED, tp_proto_discovery_last_error());
    free(r);
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_proto_decode_discovery_request(NULL, 10, &v));
    TP_ASSERT_EQ_U64(TP_PROTO_NULL_BUFFER, tp_proto_discovery_last_error());
}

static void check_prefixes(const uint8_t *full, size_t len, bool response, bool reference_ok)
{
    tp_proto_discovery_layout_t layout = TP_PROTO_DISCOVERY_LAYOUT_FIXED;
    for (size_t n = 0; n < len; n++)
    {
        uint8_t *p = dup_exact(full, n);
        int rc;
        if (response)
        {
            tp_proto_discovery_response_view_t v;
            rc = tp_proto_decode_discovery_response(p, n, &v);
            layout = v.layout;
        }
        else
        {
            tp_proto_discovery_request_view_t v;
            rc = tp_proto_decode_discovery_request(p, n, &v);
            layout = v.layout;
        }
        /* a prefix can be a complete reference-layout message (tags carry no bytes there): then it
           decoded exactly in that layout; otherwise it is a counted drop */
        if (0 == rc)
        {
            TP_ASSERT_MSG(reference_ok, "prefix of %zu of %zu bytes decoded", n, len);
            TP_ASSERT_EQ_U64(TP_PROTO_DISCOVERY_LAYOUT_REFERENCE, layout);
        }
        else
        {
            TP_ASSERT_MSG(TP_PROTO_OK != tp_proto_discovery_last_error(), "prefix %zu: no reason", n);
        }
        free(p);
    }
}

static void test_every_prefix_is_a_counted_drop(void)
{
    uint8_t *buf = malloc(65536);
    size_t len = build_request(buf, 65536, TP_PROTO_DISCOVERY_LAYOUT_FIXED, 4);
    check_prefixes(buf, len, false, true);
    len = build_request(buf, 65536, TP_PROTO_DISCOVERY_LAYOUT_REFERENCE, 4);
    check_prefixes(buf, len, false, false);
    len = build_request(buf, 65536, TP_PROTO_DISCOVERY_LAYOUT_FIXED, 0);
    check_prefixes(buf, len, false, false);
    len = build_response(buf, 65536, TP_PROTO_DISCOVERY_LAYOUT_FIXED, 3, 2, "oops");
    check_prefixes(buf, len, true, true);
    len = build_response(buf, 65536, TP_PROTO_DISCOVERY_LAYOUT_FIXED, 3, 0, "oops");
    check_prefixes(buf, len, true, false);
    size_t vlen = 0;
    uint8_t *v = read_vector("DiscoveryRequest.bin", &vlen);
    if (NULL != v)
    {
        check_prefixes(v, vlen, false, false);
        free(v);
    }
    v = read_vector("DiscoveryResponse.bin", &vlen);
    if (NULL != v)
    {
        check_prefixes(v, vlen, true, false);
        free(v);
    }
    free(buf);
}

static void test_oversized_var_data_and_groups(void)
{
    uint8_t buf[1024];
    tp_proto_discovery_request_view_t v;
    size_t len = build_request(buf, sizeof(buf), TP_PROTO_DISCOVERY_LAYOUT_FIXED, 1);
    /* tags group header at 40, first tag length at 44 */
    TP_ASSERT_EQ_U64(1, buf[42]);
    uint8_t m[1024];
    memcpy(m, buf, len);
    tp_sbe_put_u32(m + 44, TP_PROTO_DISCOVERY_TAG_MAX + 1);
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_proto_decode_discovery_request(m, len, &v));
    TP_ASSERT_EQ_U64(TP_PROTO_VAR_DATA_OVERFLOW, tp_proto_discovery_last_error());
    memcpy(m, buf, len);
    tp_sbe_put_u32(m + 44, 0xFFFFFFF0u);
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_proto_decode_discovery_request(m, len, &v));
    memcpy(m, buf, len);
    tp_sbe_put_u16(m + 42, TP_PROTO_DISCOVERY_MAX_TAGS + 1);
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_proto_decode_discovery_request(m, len, &v));
    TP_ASSERT_EQ_U64(TP_PROTO_GROUP_OVERFLOW, tp_proto_discovery_last_error());
    memcpy(m, buf, len);
    tp_sbe_put_u16(m + 42, 3); /* truncated group: 3 entries announced, 1 present */
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_proto_decode_discovery_request(m, len, &v));
    /* an over-long response channel */
    char chan[2048];
    memset(chan, 'a', sizeof(chan));
    memcpy(chan, "aeron:ipc?x=", 12);
    tp_proto_discovery_request_view_t q;
    memset(&q, 0, sizeof(q));
    q.response_stream_id = 1;
    q.response_channel.data = chan;
    q.response_channel.length = TP_PROTO_DISCOVERY_CHANNEL_MAX + 1;
    uint8_t big[4096];
    size_t blen = 0;
    TP_ASSERT_OK(tp_proto_encode_discovery_request(big, sizeof(big), &q, TP_PROTO_DISCOVERY_LAYOUT_FIXED, &blen));
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_proto_decode_discovery_request(big, blen, &v));
    TP_ASSERT_EQ_U64(TP_PROTO_VAR_DATA_OVERFLOW, tp_proto_discovery_last_error());
    /* responses: result count over the limit, pools over the limit */
    uint8_t *r = malloc(65536);
    size_t rlen = build_response(r, 65536, TP_PROTO_DISCOVERY_LAYOUT_FIXED, 1, 0, "");
    tp_proto_discovery_response_view_t rv;
    uint8_t *rm = malloc(rlen);
    memcpy(rm, r, rlen);
    tp_sbe_put_u16(rm + 19, TP_PROTO_DISCOVERY_MAX_RESULTS + 1); /* results numInGroup at 17 + 2 */
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_proto_decode_discovery_response(rm, rlen, &rv));
    TP_ASSERT_EQ_U64(TP_PROTO_GROUP_OVERFLOW, tp_proto_discovery_last_error());
    memcpy(rm, r, rlen);
    tp_sbe_put_u16(rm + 21 + 39 + 2, TP_PROTO_MAX_POOLS + 1); /* payloadPools numInGroup */
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_proto_decode_discovery_response(rm, rlen, &rv));
    TP_ASSERT_EQ_U64(TP_PROTO_GROUP_OVERFLOW, tp_proto_discovery_last_error());
    memcpy(rm, r, rlen);
    tp_sbe_put_u16(rm + 19, 2); /* truncated results group */
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_proto_decode_discovery_response(rm, rlen, &rv));
    free(rm);
    free(r);
}

/* xorshift: deterministic mutations */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void test_random_mutations_never_crash(void)
{
    uint8_t *req = malloc(4096);
    uint8_t *resp = malloc(65536);
    size_t req_len = build_request(req, 4096, TP_PROTO_DISCOVERY_LAYOUT_FIXED, 3);
    size_t resp_len = build_response(resp, 65536, TP_PROTO_DISCOVERY_LAYOUT_FIXED, 3, 2, "x");
    size_t decoded = 0;
    for (int i = 0; i < 20000; i++)
    {
        bool response = i & 1;
        size_t len = response ? resp_len : req_len;
        uint8_t *m = dup_exact(response ? resp : req, len);
        int flips = 1 + (int)(rng() % 4);
        for (int k = 0; k < flips; k++)
        {
            m[8 + rng() % (len - 8)] = (uint8_t)rng();
        }
        size_t cut = rng() % 4 == 0 ? rng() % len : len;
        int rc;
        if (response)
        {
            tp_proto_discovery_response_view_t v;
            rc = tp_proto_decode_discovery_response(m, cut, &v);
            if (0 == rc)
            {
                tp_proto_discovery_result_view_t r;
                while (1 == tp_proto_discovery_result_next(&v.results, &r))
                {
                }
            }
        }
        else
        {
            tp_proto_discovery_request_view_t v;
            rc = tp_proto_decode_discovery_request(m, cut, &v);
        }
        TP_ASSERT(0 == rc || TP_PROTO_OK != tp_proto_discovery_last_error());
        decoded += 0 == rc;
        free(m);
    }
    TP_ASSERT(decoded > 0); /* some mutations hit only values */
    free(req);
    free(resp);
}

int main(int argc, char **argv)
{
    vectors_dir = argc > 1 ? argv[1] : "tests/vectors";
    TP_RUN(test_vector_request_reference_layout);
    TP_RUN(test_vector_response_reference_layout);
    TP_RUN(test_request_round_trip_with_tags);
    TP_RUN(test_response_round_trip_with_tags);
    TP_RUN(test_header_gating);
    TP_RUN(test_every_prefix_is_a_counted_drop);
    TP_RUN(test_oversized_var_data_and_groups);
    TP_RUN(test_random_mutations_never_crash);
    return tp_test_finish();
}
