/*
 * Generated-codec behaviour beyond the golden vectors: header gating, bounds
 * checks on hostile lengths and counts, block extension by newer versions,
 * ERRATA 2 (discovery tags as var-data), and generator coverage of sets,
 * composites, char arrays, constants and nested groups (test-schema.xml).
 */
#include <math.h>

#include "tp_test.h"

#include "tp_sbe/bridge.h"
#include "tp_sbe/discovery.h"
#include "tp_sbe/discovery_ref.h"
#include "tp_sbe/testschema.h"
#include "tp_sbe/wire.h"

static size_t encode_frame_descriptor(uint8_t *buf, size_t len)
{
    tp_sbe_wire_frame_descriptor_t m;
    if (0 != tp_sbe_wire_frame_descriptor_wrap_and_apply_header(&m, buf, 0, len))
    {
        return 0;
    }
    tp_sbe_wire_frame_descriptor_set_stream_id(&m, 10000);
    tp_sbe_wire_frame_descriptor_set_epoch(&m, 3);
    tp_sbe_wire_frame_descriptor_set_seq(&m, 77);
    tp_sbe_wire_frame_descriptor_set_timestamp_ns(&m, TP_SBE_WIRE_FRAME_DESCRIPTOR_TIMESTAMP_NS_NULL_VALUE);
    tp_sbe_wire_frame_descriptor_set_meta_version(&m, 5);
    tp_sbe_wire_frame_descriptor_set_trace_id(&m, 0);
    return tp_sbe_wire_frame_descriptor_position(&m);
}

static void test_header_gating(void)
{
    uint8_t buf[64];
    memset(buf, 0, sizeof(buf));
    size_t len = encode_frame_descriptor(buf, sizeof(buf));
    TP_ASSERT_EQ_U64(48, len);

    tp_sbe_wire_frame_descriptor_t m;
    TP_ASSERT_EQ_I64(TP_SBE_OK, tp_sbe_wire_frame_descriptor_wrap_for_decode_with_header(&m, buf, 0, len));
    TP_ASSERT_EQ_U64(77, tp_sbe_wire_frame_descriptor_seq(&m));
    TP_ASSERT(tp_sbe_wire_frame_descriptor_timestamp_ns_is_null(&m));
    TP_ASSERT(!tp_sbe_wire_frame_descriptor_meta_version_is_null(&m));

    /* Another message of the same schema is not a FrameDescriptor. */
    tp_sbe_wire_frame_progress_t p;
    TP_ASSERT_EQ_I64(TP_SBE_ERR_TEMPLATE_ID, tp_sbe_wire_frame_progress_wrap_for_decode_with_header(&p, buf, 0, len));

    uint8_t bad[64];
    memcpy(bad, buf, sizeof(bad));
    tp_sbe_put_u16(bad + 4, 901);
    TP_ASSERT_EQ_I64(TP_SBE_ERR_SCHEMA_ID, tp_sbe_wire_frame_descriptor_wrap_for_decode_with_header(&m, bad, 0, len));
    memcpy(bad, buf, sizeof(bad));
    tp_sbe_put_u16(bad + 6, 2);
    TP_ASSERT_EQ_I64(TP_SBE_ERR_VERSION, tp_sbe_wire_frame_descriptor_wrap_for_decode_with_header(&m, bad, 0, len));
    memcpy(bad, buf, sizeof(bad));
    tp_sbe_put_u16(bad, 39);
    TP_ASSERT_EQ_I64(
        TP_SBE_ERR_BLOCK_LENGTH, tp_sbe_wire_frame_descriptor_wrap_for_decode_with_header(&m, bad, 0, len));
    /* A block longer than the buffer. */
    memcpy(bad, buf, sizeof(bad));
    tp_sbe_put_u16(bad, 60);
    TP_ASSERT_EQ_I64(TP_SBE_ERR_SHORT, tp_sbe_wire_frame_descriptor_wrap_for_decode_with_header(&m, bad, 0, len));
    TP_ASSERT_EQ_I64(TP_SBE_ERR_SHORT, tp_sbe_wire_frame_descriptor_wrap_for_decode_with_header(&m, buf, 0, 7));
    TP_ASSERT_EQ_I64(TP_SBE_ERR_SHORT, tp_sbe_wire_frame_descriptor_wrap_for_decode_with_header(&m, NULL, 0, 0));
    TP_ASSERT_EQ_I64(TP_SBE_ERR_SHORT, tp_sbe_wire_frame_descriptor_wrap_for_decode_with_header(&m, buf, 50, len));
    TP_ASSERT_EQ_I64(TP_SBE_ERR_SHORT, tp_sbe_wire_frame_descriptor_wrap_and_apply_header(&m, buf, 0, 47));

    tp_sbe_header_t h;
    TP_ASSERT_EQ_I64(TP_SBE_OK, tp_sbe_peek_header(buf, len, &h));
    TP_ASSERT_EQ_U64(TP_SBE_WIRE_FRAME_DESCRIPTOR_TEMPLATE_ID, h.template_id);
    TP_ASSERT_EQ_U64(TP_SBE_WIRE_SCHEMA_ID, h.schema_id);
    TP_ASSERT_EQ_I64(TP_SBE_ERR_SHORT, tp_sbe_peek_header(buf, 7, &h));
    TP_ASSERT(NULL != strstr(tp_sbe_strerror(TP_SBE_ERR_VERSION), "version"));
}

/* A same-version sender with a longer block (trailing extension): fields read, the extra bytes skipped. */
static void test_longer_block_is_skipped(void)
{
    uint8_t buf[256];
    memset(buf, 0, sizeof(buf));
    tp_sbe_wire_control_response_t m;
    TP_ASSERT_EQ_I64(0, tp_sbe_wire_control_response_wrap_and_apply_header(&m, buf, 0, sizeof(buf)));
    tp_sbe_wire_control_response_set_correlation_id(&m, -42);
    tp_sbe_wire_control_response_set_code(&m, TP_SBE_WIRE_RESPONSE_CODE_REJECTED);
    TP_ASSERT_EQ_I64(0, tp_sbe_wire_control_response_put_error_message(&m, "nope", 4));
    size_t len = tp_sbe_wire_control_response_position(&m);

    /* Rebuild with 6 extra block bytes between the fixed block and the var-data. */
    uint8_t ext[256];
    memset(ext, 0xEE, sizeof(ext));
    memcpy(ext, buf, 8 + 12);
    memcpy(ext + 8 + 18, buf + 8 + 12, len - 20);
    tp_sbe_put_u16(ext, 18);
    tp_sbe_wire_control_response_t d;
    TP_ASSERT_EQ_I64(0, tp_sbe_wire_control_response_wrap_for_decode_with_header(&d, ext, 0, len + 6));
    TP_ASSERT_EQ_I64(-42, tp_sbe_wire_control_response_correlation_id(&d));
    TP_ASSERT_EQ_I64(TP_SBE_WIRE_RESPONSE_CODE_REJECTED, tp_sbe_wire_control_response_code(&d));
    const char *msg = NULL;
    uint32_t n = 0;
    TP_ASSERT_EQ_I64(0, tp_sbe_wire_control_response_get_error_message(&d, &msg, &n));
    TP_ASSERT_EQ_U64(4, n);
    TP_ASSERT(NULL != msg && 0 == memcmp(msg, "nope", 4));
    TP_ASSERT_EQ_U64(len + 6, tp_sbe_wire_control_response_position(&d));
}

static void test_var_data_limits(void)
{
    uint8_t buf[1024];
    memset(buf, 0, sizeof(buf));
    tp_sbe_bridge_bridge_frame_chunk_t m;
    TP_ASSERT_EQ_I64(0, tp_sbe_bridge_bridge_frame_chunk_wrap_and_apply_header(&m, buf, 0, sizeof(buf)));
    uint8_t big[300];
    memset(big, 7, sizeof(big));
    /* headerBytes uses varDataEncoding256: maxValue 256 on the length type. */
    TP_ASSERT_EQ_I64(TP_SBE_ERR_BOUNDS, tp_sbe_bridge_bridge_frame_chunk_put_header_bytes(&m, big, 257));
    TP_ASSERT_EQ_I64(0, tp_sbe_bridge_bridge_frame_chunk_put_header_bytes(&m, big, 256));
    TP_ASSERT_EQ_I64(0, tp_sbe_bridge_bridge_frame_chunk_put_payload_bytes(&m, big, 10));
    size_t len = tp_sbe_bridge_bridge_frame_chunk_position(&m);

    /* A hostile length prefix over the encoding's maxValue is rejected on decode. */
    tp_sbe_put_u32(buf + 8 + TP_SBE_BRIDGE_BRIDGE_FRAME_CHUNK_BLOCK_LENGTH, 257);
    tp_sbe_bridge_bridge_frame_chunk_t d;
    TP_ASSERT_EQ_I64(0, tp_sbe_bridge_bridge_frame_chunk_wrap_for_decode_with_header(&d, buf, 0, len));
    TP_ASSERT_EQ_I64(TP_SBE_ERR_BOUNDS, tp_sbe_bridge_bridge_frame_chunk_skip(&d));
    /* A length prefix running past the buffer. */
    tp_sbe_put_u32(buf + 8 + TP_SBE_BRIDGE_BRIDGE_FRAME_CHUNK_BLOCK_LENGTH, 256);
    TP_ASSERT_EQ_I64(0, tp_sbe_bridge_bridge_frame_chunk_wrap_for_decode_with_header(&d, buf, 0, len - 1));
    TP_ASSERT_EQ_I64(TP_SBE_ERR_BOUNDS, tp_sbe_bridge_bridge_frame_chunk_skip(&d));
    /* Put past the end of the buffer. */
    tp_sbe_bridge_bridge_frame_chunk_t e;
    TP_ASSERT_EQ_I64(0, tp_sbe_bridge_bridge_frame_chunk_wrap_and_apply_header(&e, buf, 0, 8 + 53 + 4 + 9));
    TP_ASSERT_EQ_I64(TP_SBE_ERR_BOUNDS, tp_sbe_bridge_bridge_frame_chunk_put_header_bytes(&e, big, 10));
    TP_ASSERT_EQ_I64(0, tp_sbe_bridge_bridge_frame_chunk_put_header_bytes(&e, big, 9));
}

static void test_hostile_group_count(void)
{
    uint8_t buf[128];
    memset(buf, 0, sizeof(buf));
    tp_sbe_wire_shm_pool_announce_t m;
    TP_ASSERT_EQ_I64(0, tp_sbe_wire_shm_pool_announce_wrap_and_apply_header(&m, buf, 0, sizeof(buf)));
    tp_sbe_wire_shm_pool_announce_payload_pools_t g;
    TP_ASSERT_EQ_I64(0, tp_sbe_wire_shm_pool_announce_set_payload_pools_count(&m, &g, 1));
    TP_ASSERT_EQ_I64(0, tp_sbe_wire_shm_pool_announce_payload_pools_next(&g));
    tp_sbe_wire_shm_pool_announce_payload_pools_set_pool_id(&g, 1);
    TP_ASSERT_EQ_I64(0, tp_sbe_wire_shm_pool_announce_payload_pools_put_region_uri(&g, "shm:file?path=/a", 16));
    TP_ASSERT_EQ_I64(0, tp_sbe_wire_shm_pool_announce_put_header_region_uri(&m, "shm:file?path=/b", 16));
    size_t len = tp_sbe_wire_shm_pool_announce_position(&m);

    /* Claim 65535 pools: the walk must stop at the end of the buffer. */
    tp_sbe_put_u16(buf + 8 + TP_SBE_WIRE_SHM_POOL_ANNOUNCE_BLOCK_LENGTH + 2, 65535);
    tp_sbe_wire_shm_pool_announce_t d;
    TP_ASSERT_EQ_I64(0, tp_sbe_wire_shm_pool_announce_wrap_for_decode_with_header(&d, buf, 0, len));
    TP_ASSERT_EQ_I64(TP_SBE_ERR_BOUNDS, tp_sbe_wire_shm_pool_announce_skip(&d));
    /* A group block length shorter than the schema's cannot be read. */
    tp_sbe_put_u16(buf + 8 + TP_SBE_WIRE_SHM_POOL_ANNOUNCE_BLOCK_LENGTH + 2, 1);
    tp_sbe_put_u16(buf + 8 + TP_SBE_WIRE_SHM_POOL_ANNOUNCE_BLOCK_LENGTH, 4);
    TP_ASSERT_EQ_I64(0, tp_sbe_wire_shm_pool_announce_wrap_for_decode_with_header(&d, buf, 0, len));
    TP_ASSERT_EQ_I64(TP_SBE_ERR_BLOCK_LENGTH, tp_sbe_wire_shm_pool_announce_get_payload_pools(&d, &g));
}

/* ERRATA 2: our discovery schema carries non-empty tags correctly. */
static void test_discovery_tags_roundtrip(void)
{
    static const char *tags[] = { "camera", "left", "" };
    uint8_t buf[256];
    memset(buf, 0, sizeof(buf));
    tp_sbe_discovery_discovery_request_t m;
    TP_ASSERT_EQ_I64(0, tp_sbe_discovery_discovery_request_wrap_and_apply_header(&m, buf, 0, sizeof(buf)));
    tp_sbe_discovery_discovery_request_set_request_id(&m, 9);
    tp_sbe_discovery_discovery_request_set_stream_id(&m, TP_SBE_DISCOVERY_DISCOVERY_REQUEST_STREAM_ID_NULL_VALUE);
    tp_sbe_discovery_discovery_request_tags_t g;
    TP_ASSERT_EQ_I64(0, tp_sbe_discovery_discovery_request_set_tags_count(&m, &g, 3));
    for (int i = 0; i < 3; i++)
    {
        TP_ASSERT_EQ_I64(0, tp_sbe_discovery_discovery_request_tags_next(&g));
        TP_ASSERT_EQ_I64(0, tp_sbe_discovery_discovery_request_tags_put_tag(&g, tags[i], (uint32_t)strlen(tags[i])));
    }
    TP_ASSERT_EQ_I64(0, tp_sbe_discovery_discovery_request_put_response_channel(&m, "aeron:ipc", 9));
    TP_ASSERT_EQ_I64(0, tp_sbe_discovery_discovery_request_put_data_source_name(&m, "cam", 3));
    size_t len = tp_sbe_discovery_discovery_request_position(&m);

    tp_sbe_discovery_discovery_request_t d;
    TP_ASSERT_EQ_I64(0, tp_sbe_discovery_discovery_request_wrap_for_decode_with_header(&d, buf, 0, len));
    TP_ASSERT(tp_sbe_discovery_discovery_request_stream_id_is_null(&d));
    TP_ASSERT_EQ_I64(0, tp_sbe_discovery_discovery_request_get_tags(&d, &g));
    TP_ASSERT_EQ_U64(3, tp_sbe_discovery_discovery_request_tags_count(&g));
    for (int i = 0; i < 3; i++)
    {
        const char *t = NULL;
        uint32_t n = 0;
        TP_ASSERT_EQ_I64(0, tp_sbe_discovery_discovery_request_tags_next(&g));
        TP_ASSERT_EQ_I64(0, tp_sbe_discovery_discovery_request_tags_get_tag(&g, &t, &n));
        TP_ASSERT_EQ_U64(strlen(tags[i]), n);
        TP_ASSERT(0 == n || (NULL != t && 0 == memcmp(t, tags[i], n)));
    }
    const char *ch = NULL;
    uint32_t n = 0;
    TP_ASSERT_EQ_I64(0, tp_sbe_discovery_discovery_request_get_response_channel(&d, &ch, &n));
    TP_ASSERT(9 == n && NULL != ch && 0 == memcmp(ch, "aeron:ipc", 9));
    TP_ASSERT_EQ_I64(0, tp_sbe_discovery_discovery_request_get_data_source_name(&d, &ch, &n));
    TP_ASSERT_EQ_U64(len, tp_sbe_discovery_discovery_request_position(&d));

    /* With no tags both layouts are the same bytes: the reference-layout codec reads it too. */
    memset(buf, 0, sizeof(buf));
    TP_ASSERT_EQ_I64(0, tp_sbe_discovery_discovery_request_wrap_and_apply_header(&m, buf, 0, sizeof(buf)));
    TP_ASSERT_EQ_I64(0, tp_sbe_discovery_discovery_request_set_tags_count(&m, &g, 0));
    TP_ASSERT_EQ_I64(0, tp_sbe_discovery_discovery_request_put_response_channel(&m, "aeron:ipc", 9));
    TP_ASSERT_EQ_I64(0, tp_sbe_discovery_discovery_request_put_data_source_name(&m, "", 0));
    len = tp_sbe_discovery_discovery_request_position(&m);
    tp_sbe_discovery_ref_discovery_request_t r;
    TP_ASSERT_EQ_I64(0, tp_sbe_discovery_ref_discovery_request_wrap_for_decode_with_header(&r, buf, 0, len));
    TP_ASSERT_EQ_I64(0, tp_sbe_discovery_ref_discovery_request_skip(&r));
    TP_ASSERT_EQ_U64(len, tp_sbe_discovery_ref_discovery_request_position(&r));
}

static void test_enum_helpers(void)
{
    TP_ASSERT(tp_sbe_wire_dtype_is_valid(TP_SBE_WIRE_DTYPE_FLOAT32));
    TP_ASSERT(!tp_sbe_wire_dtype_is_valid(12));
    TP_ASSERT_STREQ("BIT", tp_sbe_wire_dtype_name(14));
    TP_ASSERT_STREQ("UNKNOWN_VALUE", tp_sbe_wire_dtype_name(12));
    TP_ASSERT_STREQ("NULL_VALUE", tp_sbe_wire_mode_name(TP_SBE_WIRE_MODE_NULL_VALUE));
    TP_ASSERT_EQ_I64(-32768, TP_SBE_WIRE_DTYPE_NULL_VALUE);
    TP_ASSERT_EQ_U64(8, tp_sbe_wire_tensor_header_max_dims());
    TP_ASSERT_EQ_U64(8, TP_SBE_WIRE_TENSOR_HEADER_DIMS_LENGTH);
    TP_ASSERT_EQ_U64(11, TP_SBE_WIRE_TENSOR_HEADER_DIMS_OFFSET);
    TP_ASSERT_EQ_U64(34, TP_SBE_WIRE_SLOT_HEADER_PAD_OFFSET);
    TP_ASSERT_EQ_U64(60, TP_SBE_WIRE_SLOT_HEADER_BLOCK_LENGTH);
}

static void test_zero_padding_and_arrays(void)
{
    uint8_t buf[192];
    memset(buf, 0xAB, sizeof(buf));
    tp_sbe_wire_tensor_header_t m;
    TP_ASSERT_EQ_I64(0, tp_sbe_wire_tensor_header_wrap_and_apply_header(&m, buf, 0, sizeof(buf)));
    tp_sbe_wire_tensor_header_zero_padding(&m);
    for (size_t i = 8 + 76; i < sizeof(buf); i++)
    {
        TP_ASSERT_EQ_U64(0, buf[i]);
    }
    TP_ASSERT_EQ_U64(0xAB, buf[8 + 75]); /* the pad field itself is a field, not padding */
    for (size_t i = 0; i < 8; i++)
    {
        tp_sbe_wire_tensor_header_set_dims(&m, i, (int32_t)(i + 1));
    }
    tp_sbe_wire_tensor_header_set_dims(&m, 8, 99); /* out of range: ignored */
    TP_ASSERT_EQ_I64(8, tp_sbe_wire_tensor_header_dims(&m, 7));
    TP_ASSERT_EQ_I64(0, tp_sbe_wire_tensor_header_dims(&m, 8));
    TP_ASSERT_EQ_U64(0xAB, buf[8 + 43]); /* strides untouched */
}

static void test_generator_coverage_schema(void)
{
    uint8_t buf[256];
    memset(buf, 0, sizeof(buf));
    tp_sbe_testschema_sample_t m;
    TP_ASSERT_EQ_U64(48, TP_SBE_TESTSCHEMA_SAMPLE_BLOCK_LENGTH);
    TP_ASSERT_EQ_U64(40, TP_SBE_TESTSCHEMA_SAMPLE_COUNT_OFFSET);
    TP_ASSERT_EQ_I64(0, tp_sbe_testschema_sample_wrap_and_apply_header(&m, buf, 0, sizeof(buf)));
    tp_sbe_testschema_sample_set_id(&m, UINT64_C(0xFFFFFFFFFFFFFFFE));
    tp_sbe_testschema_sample_set_flags(&m, TP_SBE_TESTSCHEMA_FLAGS_READY | TP_SBE_TESTSCHEMA_FLAGS_LAST_BIT);
    tp_sbe_testschema_sample_set_where_x(&m, -5);
    tp_sbe_testschema_sample_set_where_y(&m, 6);
    tp_sbe_testschema_sample_set_where_quality(&m, TP_SBE_TESTSCHEMA_QUALITY_HIGH);
    const char *label = "sensor01";
    for (size_t i = 0; i < TP_SBE_TESTSCHEMA_SAMPLE_NAME_LENGTH; i++)
    {
        tp_sbe_testschema_sample_set_name(&m, i, label[i]);
    }
    tp_sbe_testschema_sample_set_color(&m, TP_SBE_TESTSCHEMA_COLOR_RED);
    tp_sbe_testschema_sample_set_ratio(&m, TP_SBE_TESTSCHEMA_SAMPLE_RATIO_NULL_VALUE);
    tp_sbe_testschema_sample_set_count(&m, TP_SBE_TESTSCHEMA_SAMPLE_COUNT_NULL_VALUE);
    tp_sbe_testschema_sample_items_t items;
    TP_ASSERT_EQ_I64(0, tp_sbe_testschema_sample_set_items_count(&m, &items, 2));
    for (int i = 0; i < 2; i++)
    {
        TP_ASSERT_EQ_I64(0, tp_sbe_testschema_sample_items_next(&items));
        tp_sbe_testschema_sample_items_set_value(&items, -1000 * (i + 1));
        tp_sbe_testschema_sample_items_tags_t tags;
        TP_ASSERT_EQ_I64(0, tp_sbe_testschema_sample_items_set_tags_count(&items, &tags, (uint16_t)(i + 1)));
        for (int j = 0; j <= i; j++)
        {
            TP_ASSERT_EQ_I64(0, tp_sbe_testschema_sample_items_tags_next(&tags));
            tp_sbe_testschema_sample_items_tags_set_code(&tags, (uint8_t)(10 * i + j));
            TP_ASSERT_EQ_I64(0, tp_sbe_testschema_sample_items_tags_put_text(&tags, "t", 1));
        }
        TP_ASSERT_EQ_I64(0, tp_sbe_testschema_sample_items_put_note(&items, "note", 4));
    }
    char long_tail[300];
    memset(long_tail, 'z', sizeof(long_tail));
    TP_ASSERT_EQ_I64(TP_SBE_ERR_BOUNDS, tp_sbe_testschema_sample_put_tail(&m, long_tail, 256)); /* uint8 length */
    TP_ASSERT_EQ_I64(0, tp_sbe_testschema_sample_put_tail(&m, "end", 3));
    size_t len = tp_sbe_testschema_sample_position(&m);

    tp_sbe_testschema_sample_t d;
    TP_ASSERT_EQ_I64(0, tp_sbe_testschema_sample_wrap_for_decode_with_header(&d, buf, 0, len));
    TP_ASSERT_EQ_U64(UINT64_C(0xFFFFFFFFFFFFFFFE), tp_sbe_testschema_sample_id(&d));
    TP_ASSERT(0 != (tp_sbe_testschema_sample_flags(&d) & TP_SBE_TESTSCHEMA_FLAGS_LAST_BIT));
    TP_ASSERT(0 == (tp_sbe_testschema_sample_flags(&d) & TP_SBE_TESTSCHEMA_FLAGS_FAULTED));
    TP_ASSERT_EQ_I64(-5, tp_sbe_testschema_sample_where_x(&d));
    TP_ASSERT_EQ_I64(TP_SBE_TESTSCHEMA_QUALITY_HIGH, tp_sbe_testschema_sample_where_quality(&d));
    TP_ASSERT_EQ_I64('s', tp_sbe_testschema_sample_name(&d, 0));
    TP_ASSERT_EQ_I64('1', tp_sbe_testschema_sample_name(&d, 7));
    TP_ASSERT_EQ_I64('R', tp_sbe_testschema_sample_color(&d));
    TP_ASSERT_EQ_I64('G', tp_sbe_testschema_sample_fixed_color());
    TP_ASSERT(tp_sbe_testschema_sample_ratio_is_null(&d));
    TP_ASSERT(isnan(tp_sbe_testschema_sample_ratio(&d)));
    TP_ASSERT(tp_sbe_testschema_sample_count_is_null(&d));
    TP_ASSERT_EQ_I64(-1, tp_sbe_testschema_sample_count(&d)); /* type-level nullValue is honoured */
    TP_ASSERT_EQ_I64(0, tp_sbe_testschema_sample_get_items(&d, &items));
    TP_ASSERT_EQ_U64(2, tp_sbe_testschema_sample_items_count(&items));
    for (int i = 0; i < 2; i++)
    {
        TP_ASSERT_EQ_I64(0, tp_sbe_testschema_sample_items_next(&items));
        TP_ASSERT_EQ_I64(-1000 * (i + 1), tp_sbe_testschema_sample_items_value(&items));
        tp_sbe_testschema_sample_items_tags_t tags;
        TP_ASSERT_EQ_I64(0, tp_sbe_testschema_sample_items_get_tags(&items, &tags));
        TP_ASSERT_EQ_U64((uint64_t)(i + 1), tp_sbe_testschema_sample_items_tags_count(&tags));
        for (int j = 0; j <= i; j++)
        {
            const char *t = NULL;
            uint32_t n = 0;
            TP_ASSERT_EQ_I64(0, tp_sbe_testschema_sample_items_tags_next(&tags));
            TP_ASSERT_EQ_U64((uint64_t)(10 * i + j), tp_sbe_testschema_sample_items_tags_code(&tags));
            TP_ASSERT_EQ_I64(0, tp_sbe_testschema_sample_items_tags_get_text(&tags, &t, &n));
            TP_ASSERT(1 == n && NULL != t && 't' == t[0]);
        }
        const char *note = NULL;
        uint32_t n = 0;
        TP_ASSERT_EQ_I64(0, tp_sbe_testschema_sample_items_get_note(&items, &note, &n));
        TP_ASSERT(4 == n && NULL != note && 0 == memcmp(note, "note", 4));
    }
    const char *tail = NULL;
    uint32_t n = 0;
    TP_ASSERT_EQ_I64(0, tp_sbe_testschema_sample_get_tail(&d, &tail, &n));
    TP_ASSERT(3 == n && NULL != tail && 0 == memcmp(tail, "end", 3));
    TP_ASSERT_EQ_U64(len, tp_sbe_testschema_sample_position(&d));

    /* Every strict prefix is rejected by a full walk, without overreads (ASan). */
    for (size_t k = 0; k < len; k++)
    {
        uint8_t *p = malloc(k > 0 ? k : 1);
        TP_ASSERT(NULL != p);
        memcpy(p, buf, k);
        tp_sbe_testschema_sample_t w;
        int rc = tp_sbe_testschema_sample_wrap_for_decode_with_header(&w, p, 0, k);
        if (0 == rc)
        {
            rc = tp_sbe_testschema_sample_skip(&w);
        }
        free(p);
        TP_ASSERT_MSG(0 != rc, "prefix of %zu bytes accepted", k);
    }
}

int main(void)
{
    TP_RUN(test_header_gating);
    TP_RUN(test_longer_block_is_skipped);
    TP_RUN(test_var_data_limits);
    TP_RUN(test_hostile_group_count);
    TP_RUN(test_discovery_tags_roundtrip);
    TP_RUN(test_enum_helpers);
    TP_RUN(test_zero_padding_and_arrays);
    TP_RUN(test_generator_coverage_schema);
    return tp_test_finish();
}
