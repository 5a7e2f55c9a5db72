/*
 * Decode layer (src/protocol): golden vectors, strict prefixes, header
 * mutations, hostile group counts and var-data lengths, unknown enums,
 * required values, peek and the attribute iterator.
 * argv[1]: the golden vector directory (TP_VECTORS_DIR).
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "proto_vector_table.h"
#include "protocol/tp_proto_hot.h"
#include "tp_test_file.h"

static const char *vectors_dir = NULL;

/* Read a vector into an exactly sized heap buffer (ASan reports any overread). */
static uint8_t *read_vector(const char *file, size_t *len)
{
    return tp_test_read_file(vectors_dir, file, len);
}

static void test_vectors_decode(void)
{
    for (size_t i = 0; i < PROTO_VECTOR_COUNT; i++)
    {
        size_t len = 0;
        uint8_t *buf = read_vector(proto_vectors[i].file, &len);
        TP_ASSERT_MSG(NULL != buf, "cannot read %s", proto_vectors[i].file);
        int failed_before = tp_test_current_failed;
        proto_vectors[i].check(buf, len);
        free(buf);
        TP_ASSERT_MSG(failed_before == tp_test_current_failed, "vector %s", proto_vectors[i].file);
    }
    TP_ASSERT_EQ_U64(24u, PROTO_VECTOR_COUNT); /* wire: 13 messages + FrameDescriptor.nulls; driver: 8 + 2 variants */
}

static void test_vectors_prefixes_rejected(void)
{
    for (size_t i = 0; i < PROTO_VECTOR_COUNT; i++)
    {
        size_t len = 0;
        uint8_t *full = read_vector(proto_vectors[i].file, &len);
        TP_ASSERT(NULL != full);
        for (size_t n = 0; n < len; n++)
        {
            uint8_t *p = malloc(n > 0 ? n : 1);
            TP_ASSERT(NULL != p);
            memcpy(p, full, n);
            int rc = proto_vectors[i].decode(p, n);
            tp_proto_error_t e = tp_proto_last_error();
            free(p);
            TP_ASSERT_MSG(-1 == rc && TP_PROTO_TOO_SHORT == e, "%s prefix %zu: rc %d reason %s",
                proto_vectors[i].file, n, rc, tp_proto_error_name(e));
        }
        free(full);
    }
}

static void expect_mutation(size_t i, size_t offset, uint16_t value, tp_proto_error_t want)
{
    size_t len = 0;
    uint8_t *buf = read_vector(proto_vectors[i].file, &len);
    TP_ASSERT(NULL != buf);
    tp_sbe_put_u16(buf + offset, value);
    int rc = proto_vectors[i].decode(buf, len);
    tp_proto_error_t e = tp_proto_last_error();
    free(buf);
    TP_ASSERT_MSG(-1 == rc && want == e, "%s: header offset %zu = %u: got %s, want %s", proto_vectors[i].file, offset,
        value, tp_proto_error_name(e), tp_proto_error_name(want));
    TP_ASSERT_EQ_I64(TP_ERR_MALFORMED, tp_errcode());
}

static void test_vectors_header_mutations(void)
{
    for (size_t i = 0; i < PROTO_VECTOR_COUNT; i++)
    {
        size_t len = 0;
        uint8_t *buf = read_vector(proto_vectors[i].file, &len);
        TP_ASSERT(NULL != buf);
        tp_sbe_header_t h;
        TP_ASSERT_EQ_I64(TP_SBE_OK, tp_sbe_peek_header(buf, len, &h));
        free(buf);
        expect_mutation(i, 4, (uint16_t)(h.schema_id + 1), TP_PROTO_WRONG_SCHEMA);
        expect_mutation(i, 4, 0, TP_PROTO_WRONG_SCHEMA);
        expect_mutation(i, 2, (uint16_t)(h.template_id + 100), TP_PROTO_WRONG_TEMPLATE);
        expect_mutation(i, 6, (uint16_t)(h.version + 1), TP_PROTO_BAD_VERSION);
        expect_mutation(i, 0, (uint16_t)(h.block_length - 1), TP_PROTO_BAD_BLOCK_LENGTH);
        expect_mutation(i, 0, 0, TP_PROTO_BAD_BLOCK_LENGTH);
    }
}

/* Load a named vector, apply a little-endian store at a body offset, decode with fn, expect reason. */
#define EXPECT_PATCHED(FILE, DECODE, VIEW_T, OFFSET, BYTES, VALUE, WANT)                                      \
    do                                                                                                         \
    {                                                                                                          \
        size_t len_ = 0;                                                                                       \
        uint8_t *b_ = read_vector(FILE, &len_);                                                                \
        TP_ASSERT(NULL != b_);                                                                                 \
        uint64_t v_ = (uint64_t)(VALUE);                                                                       \
        memcpy(b_ + (OFFSET), &v_, (BYTES));                                                                   \
        VIEW_T view_;                                                                                          \
        int rc_ = DECODE(b_, len_, &view_);                                                                    \
        tp_proto_error_t e_ = tp_proto_last_error();                                                           \
        free(b_);                                                                                              \
        TP_ASSERT_MSG(-1 == rc_ && (WANT) == e_, "%s @%zu: got %s want %s", FILE, (size_t)(OFFSET),          \
            tp_proto_error_name(e_), tp_proto_error_name(WANT));                                               \
    } while (0)

#define H TP_SBE_MESSAGE_HEADER_LENGTH

static void test_group_count_limits(void)
{
    /* ShmPoolAnnounce: pools group header right after the 35-byte block; numInGroup at +2. */
    size_t pools_hdr = H + TP_SBE_WIRE_SHM_POOL_ANNOUNCE_BLOCK_LENGTH;
    EXPECT_PATCHED("wire/ShmPoolAnnounce.bin", tp_proto_decode_shm_pool_announce, tp_proto_shm_pool_announce_view_t,
        pools_hdr + 2, 2, TP_PROTO_MAX_POOLS + 1, TP_PROTO_GROUP_OVERFLOW);
    EXPECT_PATCHED("wire/ShmPoolAnnounce.bin", tp_proto_decode_shm_pool_announce, tp_proto_shm_pool_announce_view_t,
        pools_hdr + 2, 2, 0xFFFF, TP_PROTO_GROUP_OVERFLOW);
    /* Element block length shorter than the schema's. */
    EXPECT_PATCHED("wire/ShmPoolAnnounce.bin", tp_proto_decode_shm_pool_announce, tp_proto_shm_pool_announce_view_t,
        pools_hdr, 2, TP_SBE_WIRE_SHM_POOL_ANNOUNCE_PAYLOAD_POOLS_BLOCK_LENGTH - 1, TP_PROTO_BAD_BLOCK_LENGTH);
    /* Zero pools: structurally complete but the announce requires one. */
    {
        uint8_t b[128];
        tp_sbe_wire_shm_pool_announce_t m;
        tp_sbe_wire_shm_pool_announce_payload_pools_t g;
        memset(b, 0, sizeof(b));
        TP_ASSERT_EQ_I64(TP_SBE_OK, tp_sbe_wire_shm_pool_announce_wrap_and_apply_header(&m, b, 0, sizeof(b)));
        tp_sbe_wire_shm_pool_announce_set_announce_clock_domain(&m, TP_SBE_WIRE_CLOCK_DOMAIN_MONOTONIC);
        TP_ASSERT_EQ_I64(TP_SBE_OK, tp_sbe_wire_shm_pool_announce_set_payload_pools_count(&m, &g, 0));
        TP_ASSERT_EQ_I64(TP_SBE_OK, tp_sbe_wire_shm_pool_announce_put_header_region_uri(&m, "shm:file?path=/x", 16));
        size_t n = H + tp_sbe_wire_shm_pool_announce_encoded_length(&m);
        tp_proto_shm_pool_announce_view_t v;
        TP_ASSERT_EQ_I64(-1, tp_proto_decode_shm_pool_announce(b, n, &v));
        TP_ASSERT_EQ_I64(TP_PROTO_MISSING_REQUIRED, tp_proto_last_error());
    }
    /* ShmAttachResponse shares the pool limit. */
    size_t resp_hdr = H + TP_SBE_DRIVER_SHM_ATTACH_RESPONSE_BLOCK_LENGTH;
    EXPECT_PATCHED("driver/ShmAttachResponse.bin", tp_proto_decode_shm_attach_response,
        tp_proto_shm_attach_response_view_t, resp_hdr + 2, 2, TP_PROTO_MAX_POOLS + 1, TP_PROTO_GROUP_OVERFLOW);
    /* DataSourceMeta attributes. */
    size_t attr_hdr = H + TP_SBE_WIRE_DATA_SOURCE_META_BLOCK_LENGTH;
    EXPECT_PATCHED("wire/DataSourceMeta.bin", tp_proto_decode_data_source_meta, tp_proto_data_source_meta_view_t,
        attr_hdr + 2, 2, TP_PROTO_MAX_ATTRIBUTES + 1, TP_PROTO_GROUP_OVERFLOW);
    EXPECT_PATCHED("wire/DataSourceMeta.bin", tp_proto_decode_data_source_meta, tp_proto_data_source_meta_view_t,
        attr_hdr + 2, 2, 3, TP_PROTO_TOO_SHORT);
}

static void test_var_data_limits(void)
{
    size_t pools_hdr = H + TP_SBE_WIRE_SHM_POOL_ANNOUNCE_BLOCK_LENGTH;
    size_t first_uri = pools_hdr + TP_SBE_GROUP_HEADER_LENGTH + TP_SBE_WIRE_SHM_POOL_ANNOUNCE_PAYLOAD_POOLS_BLOCK_LENGTH;
    EXPECT_PATCHED("wire/ShmPoolAnnounce.bin", tp_proto_decode_shm_pool_announce, tp_proto_shm_pool_announce_view_t,
        first_uri, 4, TP_PROTO_REGION_URI_MAX + 1, TP_PROTO_VAR_DATA_OVERFLOW);
    EXPECT_PATCHED("wire/ShmPoolAnnounce.bin", tp_proto_decode_shm_pool_announce, tp_proto_shm_pool_announce_view_t,
        first_uri, 4, UINT32_MAX, TP_PROTO_VAR_DATA_OVERFLOW);
    /* Within the limit but past the buffer: truncated. */
    EXPECT_PATCHED("wire/ShmPoolAnnounce.bin", tp_proto_decode_shm_pool_announce, tp_proto_shm_pool_announce_view_t,
        first_uri, 4, TP_PROTO_REGION_URI_MAX, TP_PROTO_TOO_SHORT);
    /* Schema maxValue (1 GiB) for other var-data. */
    size_t err_msg = H + TP_SBE_WIRE_CONTROL_RESPONSE_BLOCK_LENGTH;
    EXPECT_PATCHED("wire/ControlResponse.bin", tp_proto_decode_control_response, tp_proto_control_response_view_t,
        err_msg, 4, TP_PROTO_VAR_DATA_MAX + 1, TP_PROTO_VAR_DATA_OVERFLOW);
    EXPECT_PATCHED("wire/ControlResponse.bin", tp_proto_decode_control_response, tp_proto_control_response_view_t,
        err_msg, 4, TP_PROTO_VAR_DATA_MAX, TP_PROTO_TOO_SHORT);
    size_t chunk = H + TP_SBE_WIRE_META_BLOB_CHUNK_BLOCK_LENGTH;
    EXPECT_PATCHED("wire/MetaBlobChunk.bin", tp_proto_decode_meta_blob_chunk, tp_proto_meta_blob_chunk_view_t, chunk,
        4, UINT32_MAX, TP_PROTO_VAR_DATA_OVERFLOW);
    size_t token = H + TP_SBE_DRIVER_SHM_DRIVER_SHUTDOWN_REQUEST_BLOCK_LENGTH;
    EXPECT_PATCHED("driver/ShmDriverShutdownRequest.bin", tp_proto_decode_shm_driver_shutdown_request,
        tp_proto_shm_driver_shutdown_request_view_t, token, 4, TP_PROTO_VAR_DATA_MAX + 1, TP_PROTO_VAR_DATA_OVERFLOW);
}

static void test_enums(void)
{
    size_t state = H + TP_SBE_WIRE_FRAME_PROGRESS_STATE_OFFSET;
    EXPECT_PATCHED("wire/FrameProgress.bin", tp_proto_decode_frame_progress, tp_proto_frame_progress_view_t, state, 1,
        7, TP_PROTO_BAD_ENUM);
    EXPECT_PATCHED("wire/FrameProgress.bin", tp_proto_decode_frame_progress, tp_proto_frame_progress_view_t, state, 1,
        255, TP_PROTO_MISSING_REQUIRED);
    EXPECT_PATCHED("wire/ConsumerHello.bin", tp_proto_decode_consumer_hello, tp_proto_consumer_hello_view_t,
        H + TP_SBE_WIRE_CONSUMER_HELLO_SUPPORTS_SHM_OFFSET, 1, 2, TP_PROTO_BAD_ENUM);
    EXPECT_PATCHED("wire/ConsumerHello.bin", tp_proto_decode_consumer_hello, tp_proto_consumer_hello_view_t,
        H + TP_SBE_WIRE_CONSUMER_HELLO_MODE_OFFSET, 1, 0, TP_PROTO_BAD_ENUM);
    EXPECT_PATCHED("wire/ConsumerConfig.bin", tp_proto_decode_consumer_config, tp_proto_consumer_config_view_t,
        H + TP_SBE_WIRE_CONSUMER_CONFIG_USE_SHM_OFFSET, 1, 255, TP_PROTO_MISSING_REQUIRED);
    EXPECT_PATCHED("wire/QosConsumer.bin", tp_proto_decode_qos_consumer, tp_proto_qos_consumer_view_t,
        H + TP_SBE_WIRE_QOS_CONSUMER_MODE_OFFSET, 1, 3, TP_PROTO_BAD_ENUM);
    EXPECT_PATCHED("wire/ShmPoolAnnounce.bin", tp_proto_decode_shm_pool_announce, tp_proto_shm_pool_announce_view_t,
        H + TP_SBE_WIRE_SHM_POOL_ANNOUNCE_ANNOUNCE_CLOCK_DOMAIN_OFFSET, 1, 0, TP_PROTO_BAD_ENUM);
    EXPECT_PATCHED("wire/ControlResponse.bin", tp_proto_decode_control_response, tp_proto_control_response_view_t,
        H + TP_SBE_WIRE_CONTROL_RESPONSE_CODE_OFFSET, 4, 5, TP_PROTO_BAD_ENUM);
    EXPECT_PATCHED("driver/ShmAttachRequest.bin", tp_proto_decode_shm_attach_request,
        tp_proto_shm_attach_request_view_t, H + TP_SBE_DRIVER_SHM_ATTACH_REQUEST_PUBLISH_MODE_OFFSET, 1, 3,
        TP_PROTO_BAD_ENUM);
    EXPECT_PATCHED("driver/ShmAttachRequest.bin", tp_proto_decode_shm_attach_request,
        tp_proto_shm_attach_request_view_t, H + TP_SBE_DRIVER_SHM_ATTACH_REQUEST_REQUIRE_HUGEPAGES_OFFSET, 1, 3,
        TP_PROTO_BAD_ENUM);
    EXPECT_PATCHED("driver/ShmAttachRequest.bin", tp_proto_decode_shm_attach_request,
        tp_proto_shm_attach_request_view_t, H + TP_SBE_DRIVER_SHM_ATTACH_REQUEST_ROLE_OFFSET, 1, 255,
        TP_PROTO_MISSING_REQUIRED);
    EXPECT_PATCHED("driver/ShmLeaseRevoked.bin", tp_proto_decode_shm_lease_revoked, tp_proto_shm_lease_revoked_view_t,
        H + TP_SBE_DRIVER_SHM_LEASE_REVOKED_REASON_OFFSET, 1, 0, TP_PROTO_BAD_ENUM);
    EXPECT_PATCHED("driver/ShmDriverShutdown.bin", tp_proto_decode_shm_driver_shutdown,
        tp_proto_shm_driver_shutdown_view_t, H + TP_SBE_DRIVER_SHM_DRIVER_SHUTDOWN_REASON_OFFSET, 1, 9,
        TP_PROTO_BAD_ENUM);
    EXPECT_PATCHED("driver/ShmDetachResponse.bin", tp_proto_decode_shm_detach_response,
        tp_proto_shm_detach_response_view_t, H + TP_SBE_DRIVER_SHM_DETACH_RESPONSE_CODE_OFFSET, 4, -7,
        TP_PROTO_BAD_ENUM);
}

static void test_attach_response_required_fields(void)
{
    /* code=OK with a null leaseId, a null epoch, an empty header URI: MISSING_REQUIRED. */
    EXPECT_PATCHED("driver/ShmAttachResponse.bin", tp_proto_decode_shm_attach_response,
        tp_proto_shm_attach_response_view_t, H + TP_SBE_DRIVER_SHM_ATTACH_RESPONSE_LEASE_ID_OFFSET, 8, UINT64_MAX,
        TP_PROTO_MISSING_REQUIRED);
    EXPECT_PATCHED("driver/ShmAttachResponse.bin", tp_proto_decode_shm_attach_response,
        tp_proto_shm_attach_response_view_t, H + TP_SBE_DRIVER_SHM_ATTACH_RESPONSE_EPOCH_OFFSET, 8, UINT64_MAX,
        TP_PROTO_MISSING_REQUIRED);
    /* The rejection vector (all optionals null, no pools) decodes: the fields are only required for OK. */
    size_t len = 0;
    uint8_t *b = read_vector("driver/ShmAttachResponse.error.bin", &len);
    TP_ASSERT(NULL != b);
    tp_proto_shm_attach_response_view_t v;
    TP_ASSERT_EQ_I64(0, tp_proto_decode_shm_attach_response(b, len, &v));
    /* ... but the same bytes with code=OK are missing everything. */
    tp_sbe_put_i32(b + H + TP_SBE_DRIVER_SHM_ATTACH_RESPONSE_CODE_OFFSET, TP_SBE_DRIVER_RESPONSE_CODE_OK);
    TP_ASSERT_EQ_I64(-1, tp_proto_decode_shm_attach_response(b, len, &v));
    TP_ASSERT_EQ_I64(TP_PROTO_MISSING_REQUIRED, tp_proto_last_error());
    free(b);
}

/* The frame path's inline decoder (tp_proto_hot.h) agrees with tp_proto_decode_frame_descriptor everywhere. */
static void test_frame_descriptor_hot_decoder_agrees(void)
{
    uint8_t valid[64];
    memset(valid, 0, sizeof(valid));
    tp_sbe_wire_frame_descriptor_t m;
    TP_ASSERT_EQ_I64(TP_SBE_OK, tp_sbe_wire_frame_descriptor_wrap_and_apply_header(&m, valid, 0, sizeof(valid)));
    tp_sbe_wire_frame_descriptor_set_stream_id(&m, 10000);
    tp_sbe_wire_frame_descriptor_set_epoch(&m, 3);
    tp_sbe_wire_frame_descriptor_set_seq(&m, 77);
    tp_sbe_wire_frame_descriptor_set_timestamp_ns(&m, 123456789);
    tp_sbe_wire_frame_descriptor_set_meta_version(&m, 5);
    tp_sbe_wire_frame_descriptor_set_trace_id(&m, 99);
    uint32_t rng = 12345;
    size_t accepted = 0, rejected = 0;
    for (int iter = 0; iter < 20000; iter++)
    {
        uint8_t b[64];
        memcpy(b, valid, sizeof(b));
        size_t len = 48;
        int mutations = iter % 4;
        for (int k = 0; k < mutations; k++)
        {
            rng = rng * 1103515245u + 12345u;
            uint32_t r = rng >> 8;
            switch (r % 4)
            {
                case 0: /* a header byte */
                    b[(r >> 4) % 8] ^= (uint8_t)(1u << ((r >> 8) % 8));
                    break;
                case 1: /* a body byte, incl. the null/trace sentinels */
                    b[8 + (r >> 4) % 40] = (r >> 12) & 1 ? 0xff : 0x00;
                    break;
                case 2: /* length */
                    len = (r >> 4) % 65;
                    break;
                default: /* block length */
                    b[0] = (uint8_t)(36 + (r >> 4) % 24);
                    b[1] = 0;
                    break;
            }
        }
        if (len > sizeof(b))
        {
            len = sizeof(b);
        }
        tp_proto_frame_descriptor_view_t slow, fast;
        memset(&fast, 0xa5, sizeof(fast));
        bool slow_ok = 0 == tp_proto_decode_frame_descriptor(b, len, &slow);
        bool fast_ok = tp_proto_hot_decode_frame_descriptor(b, len, &fast);
        TP_ASSERT_EQ_I64(slow_ok, fast_ok);
        if (slow_ok)
        {
            accepted++;
            TP_ASSERT_EQ_U64(slow.stream_id, fast.stream_id);
            TP_ASSERT_EQ_U64(slow.epoch, fast.epoch);
            TP_ASSERT_EQ_U64(slow.seq, fast.seq);
            TP_ASSERT_EQ_I64(slow.has_timestamp_ns, fast.has_timestamp_ns);
            TP_ASSERT_EQ_U64(slow.timestamp_ns, fast.timestamp_ns);
            TP_ASSERT_EQ_I64(slow.has_meta_version, fast.has_meta_version);
            TP_ASSERT_EQ_U64(slow.meta_version, fast.meta_version);
            TP_ASSERT_EQ_I64(slow.has_trace_id, fast.has_trace_id);
            TP_ASSERT_EQ_U64(slow.trace_id, fast.trace_id);
        }
        else
        {
            rejected++;
        }
    }
    TP_ASSERT(accepted > 1000 && rejected > 1000); /* both outcomes were exercised */
    TP_ASSERT(!tp_proto_hot_decode_frame_descriptor(NULL, 48, &(tp_proto_frame_descriptor_view_t){ 0 }));
}

static void test_frame_descriptor_trace_and_longer_block(void)
{
    /* A longer block (a newer minor layout) is accepted; the extra bytes are skipped. */
    uint8_t b[H + 48];
    memset(b, 0xAB, sizeof(b));
    tp_sbe_wire_frame_descriptor_t m;
    TP_ASSERT_EQ_I64(TP_SBE_OK, tp_sbe_wire_frame_descriptor_wrap_and_apply_header(&m, b, 0, sizeof(b)));
    tp_sbe_wire_frame_descriptor_set_stream_id(&m, 7);
    tp_sbe_wire_frame_descriptor_set_seq(&m, 42);
    tp_sbe_wire_frame_descriptor_set_trace_id(&m, 0);
    tp_sbe_put_u16(b, 48);
    tp_proto_frame_descriptor_view_t v;
    TP_ASSERT_EQ_I64(0, tp_proto_decode_frame_descriptor(b, sizeof(b), &v));
    TP_ASSERT_EQ_U64(7u, v.stream_id);
    TP_ASSERT_EQ_U64(42u, v.seq);
    TP_ASSERT(!v.has_trace_id); /* ERRATA 1: 0 is "no trace" */
    TP_ASSERT_EQ_U64(0u, v.trace_id);
    TP_ASSERT_EQ_I64(-1, tp_proto_decode_frame_descriptor(b, sizeof(b) - 1, &v));
    TP_ASSERT_EQ_I64(TP_PROTO_TOO_SHORT, tp_proto_last_error());
}

static void test_peek_and_arguments(void)
{
    size_t len = 0;
    uint8_t *b = read_vector("driver/ShmLeaseKeepalive.bin", &len);
    TP_ASSERT(NULL != b);
    uint16_t schema = 0, tmpl = 0;
    TP_ASSERT_EQ_I64(0, tp_proto_peek(b, len, &schema, &tmpl));
    TP_ASSERT_EQ_U64(TP_SBE_DRIVER_SCHEMA_ID, schema);
    TP_ASSERT_EQ_U64(TP_SBE_DRIVER_SHM_LEASE_KEEPALIVE_TEMPLATE_ID, tmpl);
    TP_ASSERT_EQ_I64(0, tp_proto_peek(b, 8, NULL, NULL));
    TP_ASSERT_EQ_I64(-1, tp_proto_peek(b, 7, &schema, &tmpl));
    TP_ASSERT_EQ_I64(TP_PROTO_TOO_SHORT, tp_proto_last_error());
    TP_ASSERT_EQ_I64(-1, tp_proto_peek(NULL, 64, &schema, &tmpl));
    TP_ASSERT_EQ_I64(TP_PROTO_NULL_BUFFER, tp_proto_last_error());
    tp_proto_shm_lease_keepalive_view_t v;
    TP_ASSERT_EQ_I64(-1, tp_proto_decode_shm_lease_keepalive(NULL, len, &v));
    TP_ASSERT_EQ_I64(TP_PROTO_NULL_BUFFER, tp_proto_last_error());
    TP_ASSERT_EQ_I64(-1, tp_proto_decode_shm_lease_keepalive(b, len, NULL));
    /* A driver message given to a wire decoder: wrong schema. */
    tp_proto_qos_producer_view_t q;
    TP_ASSERT_EQ_I64(-1, tp_proto_decode_qos_producer(b, len, &q));
    TP_ASSERT_EQ_I64(TP_PROTO_WRONG_SCHEMA, tp_proto_last_error());
    TP_ASSERT(NULL != strstr(tp_errmsg(), "QosProducer: WRONG_SCHEMA"));
    free(b);
}

static void test_error_names(void)
{
    for (int i = 0; i <= TP_PROTO_NULL_BUFFER; i++)
    {
        const char *n = tp_proto_error_name((tp_proto_error_t)i);
        TP_ASSERT(0 != strcmp("UNKNOWN", n));
        for (int j = 0; j < i; j++)
        {
            TP_ASSERT(0 != strcmp(n, tp_proto_error_name((tp_proto_error_t)j)));
        }
    }
    TP_ASSERT_STREQ("UNKNOWN", tp_proto_error_name((tp_proto_error_t)99));
    TP_ASSERT_STREQ("GROUP_OVERFLOW", tp_proto_error_name(TP_PROTO_GROUP_OVERFLOW));
}

static void test_attribute_iterator_copy(void)
{
    size_t len = 0;
    uint8_t *b = read_vector("wire/DataSourceMeta.bin", &len);
    TP_ASSERT(NULL != b);
    tp_proto_data_source_meta_view_t v;
    TP_ASSERT_EQ_I64(0, tp_proto_decode_data_source_meta(b, len, &v));
    for (int pass = 0; pass < 2; pass++)
    {
        tp_proto_attribute_iter_t it = v.attributes;
        tp_proto_attribute_view_t a;
        uint32_t n = 0;
        while (1 == tp_proto_attribute_next(&it, &a))
        {
            n++;
        }
        TP_ASSERT_EQ_U64(v.attribute_count, n);
    }
    /* An iterator over a buffer that shrank since the decode reports TOO_SHORT instead of reading past it. */
    tp_proto_attribute_iter_t it = v.attributes;
    it.buffer_length = it.position + 6;
    tp_proto_attribute_view_t a;
    TP_ASSERT_EQ_I64(-1, tp_proto_attribute_next(&it, &a));
    TP_ASSERT_EQ_I64(TP_PROTO_TOO_SHORT, tp_proto_last_error());
    free(b);
}

/*
 * Random mutations of every vector (bytes flipped, length prefixes and counts hit with extreme values): each
 * decode returns 0 or -1 with a known reason and never reads outside the exactly sized buffer (ASan build).
 */
static void test_vectors_random_mutations(void)
{
    uint64_t x = UINT64_C(0x9E3779B97F4A7C15);
    for (size_t i = 0; i < PROTO_VECTOR_COUNT; i++)
    {
        size_t len = 0;
        uint8_t *orig = read_vector(proto_vectors[i].file, &len);
        TP_ASSERT(NULL != orig && len > 8);
        uint8_t *b = malloc(len);
        TP_ASSERT(NULL != b);
        for (int round = 0; round < 3000; round++)
        {
            memcpy(b, orig, len);
            int edits = 1 + round % 4;
            for (int k = 0; k < edits; k++)
            {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                size_t at = 8 + (size_t)(x % (len - 8)); /* keep the header: exercise the body */
                switch ((x >> 32) % 4)
                {
                    case 0: b[at] ^= (uint8_t)(1u << ((x >> 40) % 8)); break;
                    case 1: b[at] = 0xFF; break;
                    case 2: b[at] = 0x00; break;
                    default: b[at] = (uint8_t)(x >> 48); break;
                }
            }
            int rc = proto_vectors[i].decode(b, len);
            tp_proto_error_t e = tp_proto_last_error();
            TP_ASSERT(0 == rc || -1 == rc);
            TP_ASSERT((0 == rc) == (TP_PROTO_OK == e));
            TP_ASSERT(0 != strcmp("UNKNOWN", tp_proto_error_name(e)));
        }
        free(b);
        free(orig);
    }
}

/* The one ShmPoolAnnounce encoder round-trips through the decoder; too small a buffer and bad counts fail. */
static void test_encode_consumer_config(void)
{
    tp_proto_consumer_config_view_t in = { .stream_id = 10000, .consumer_id = 77, .use_shm = false,
        .mode = TP_SBE_WIRE_MODE_RATE_LIMITED, .descriptor_stream_id = 31000, .control_stream_id = 0,
        .payload_fallback_uri = { "aeron:udp?endpoint=h:1", 22 }, .descriptor_channel = { "aeron:ipc", 9 },
        .control_channel = { "", 0 } };
    uint8_t buf[256];
    size_t len = 0;
    TP_ASSERT_OK(tp_proto_encode_consumer_config(buf, sizeof(buf), &in, &len));
    tp_proto_consumer_config_view_t out;
    TP_ASSERT_OK(tp_proto_decode_consumer_config(buf, len, &out));
    TP_ASSERT_EQ_U64(10000, out.stream_id);
    TP_ASSERT_EQ_U64(77, out.consumer_id);
    TP_ASSERT(!out.use_shm);
    TP_ASSERT_EQ_U64(TP_SBE_WIRE_MODE_RATE_LIMITED, out.mode);
    TP_ASSERT_EQ_U64(31000, out.descriptor_stream_id);
    TP_ASSERT_EQ_U64(22, out.payload_fallback_uri.length);
    TP_ASSERT(0 == memcmp("aeron:ipc", out.descriptor_channel.data, 9) && 9 == out.descriptor_channel.length);
    TP_ASSERT_EQ_U64(0, out.control_channel.length);
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_proto_encode_consumer_config(buf, 40, &in, &len));
}

static void test_encode_shm_pool_announce(void)
{
    tp_proto_shm_pool_announce_view_t a;
    memset(&a, 0, sizeof(a));
    a.stream_id = 10000;
    a.producer_id = 7;
    a.epoch = 3;
    a.announce_timestamp_ns = 123456789;
    a.announce_clock_domain = TP_SBE_WIRE_CLOCK_DOMAIN_MONOTONIC;
    a.layout_version = 1;
    a.header_nslots = 64;
    a.header_slot_bytes = 256;
    a.pool_count = 2;
    a.pools[0] = (tp_proto_pool_view_t){ 1, 64, 256, { "shm:file?path=/dev/shm/a/1.pool", 31 } };
    a.pools[1] = (tp_proto_pool_view_t){ 2, 64, 4096, { "shm:file?path=/dev/shm/a/2.poolXYZ", 31 } };
    a.header_region_uri = (tp_proto_str_t){ "shm:file?path=/dev/shm/a/header.ring", 36 };
    uint8_t buf[512];
    size_t len = 0;
    TP_ASSERT_OK(tp_proto_encode_shm_pool_announce(buf, sizeof(buf), &a, &len));
    tp_proto_shm_pool_announce_view_t v;
    TP_ASSERT_OK(tp_proto_decode_shm_pool_announce(buf, len, &v));
    TP_ASSERT_EQ_U64(10000, v.stream_id);
    TP_ASSERT_EQ_U64(7, v.producer_id);
    TP_ASSERT_EQ_U64(3, v.epoch);
    TP_ASSERT_EQ_U64(123456789, v.announce_timestamp_ns);
    TP_ASSERT_EQ_U64(64, v.header_nslots);
    TP_ASSERT_EQ_U64(256, v.header_slot_bytes);
    TP_ASSERT_EQ_U64(2, v.pool_count);
    TP_ASSERT_EQ_U64(2, v.pools[1].pool_id);
    TP_ASSERT_EQ_U64(4096, v.pools[1].stride_bytes);
    TP_ASSERT_EQ_U64(31, v.pools[1].region_uri.length);
    TP_ASSERT(0 == memcmp(v.pools[1].region_uri.data, "shm:file?path=/dev/shm/a/2.pool", 31));
    TP_ASSERT(0 == memcmp(v.header_region_uri.data, a.header_region_uri.data, 36));
    TP_ASSERT_EQ_I64(-1, tp_proto_encode_shm_pool_announce(buf, len - 1, &a, &len));
    a.pool_count = 0;
    TP_ASSERT_EQ_I64(-1, tp_proto_encode_shm_pool_announce(buf, sizeof(buf), &a, &len));
    a.pool_count = TP_PROTO_MAX_POOLS + 1;
    TP_ASSERT_EQ_I64(-1, tp_proto_encode_shm_pool_announce(buf, sizeof(buf), &a, &len));
}

int main(int argc, char **argv)
{
    if (argc < 2)
    {
        fprintf(stderr, "usage: %s VECTORS_DIR\n", argv[0]);
        return 2;
    }
    vectors_dir = argv[1];
    char probe[1024];
    snprintf(probe, sizeof(probe), "%s/wire/vectors.json", vectors_dir);
    if (0 != access(probe, R_OK))
    {
        fprintf(stderr, "vectors not found under %s: skipped\n", vectors_dir);
        return 77;
    }
    TP_RUN(test_vectors_decode);
    TP_RUN(test_vectors_prefixes_rejected);
    TP_RUN(test_vectors_header_mutations);
    TP_RUN(test_group_count_limits);
    TP_RUN(test_var_data_limits);
    TP_RUN(test_enums);
    TP_RUN(test_attach_response_required_fields);
    TP_RUN(test_frame_descriptor_trace_and_longer_block);
    TP_RUN(test_frame_descriptor_hot_decoder_agrees);
    TP_RUN(test_peek_and_arguments);
    TP_RUN(test_error_names);
    TP_RUN(test_attribute_iterator_copy);
    TP_RUN(test_vectors_random_mutations);
    TP_RUN(test_encode_shm_pool_announce);
    TP_RUN(test_encode_consumer_config);
    return tp_test_finish();
}
