/*
 * Fuzz target: the discovery decoders of src/protocol/tp_proto_discovery.h
 * (both layouts, the D1 fallback) and the provider's response-channel check.
 *
 * Invariants: a failure sets TP_ERR_MALFORMED and a drop reason; a success
 * only for schema 910 and the message's template; every var-data view inside
 * the input and within its cap; tag/pool/result counts within the limits; the
 * result iterator yields exactly result_count results; the reference layout
 * is chosen only when it consumes the input exactly (re-encoding the request
 * in that layout gives the input back byte for byte when the header is ours);
 * a decoded request re-encoded in its layout decodes to the same fields.
 */
#include "tp_fuzz.h"

#include "discovery/tp_discovery_provider.h"
#include "protocol/tp_proto_discovery.h"

#define IN_BUF(s, cap)                                                                                   \
    do                                                                                                   \
    {                                                                                                    \
        TP_FUZZ_CHECK(tp_fuzz_within((s).data, (s).length, data, size));                                \
        TP_FUZZ_CHECK((s).length <= (cap));                                                              \
    } while (0)

static bool same(tp_proto_str_t a, tp_proto_str_t b)
{
    return a.length == b.length && (0 == a.length || 0 == memcmp(a.data, b.data, a.length));
}

static void check_fail(int rc)
{
    TP_FUZZ_CHECK(-1 == rc);
    TP_FUZZ_CHECK(TP_ERR_MALFORMED == tp_errcode());
    TP_FUZZ_CHECK(TP_PROTO_OK != tp_proto_discovery_last_error());
    TP_FUZZ_CHECK(0 != strcmp("UNKNOWN", tp_proto_error_name(tp_proto_discovery_last_error())));
}

static void request(const uint8_t *data, size_t size, uint16_t schema, uint16_t tmpl)
{
    tp_proto_discovery_request_view_t v;
    int rc = tp_proto_decode_discovery_request(data, size, &v);
    if (rc < 0)
    {
        check_fail(rc);
        return;
    }
    TP_FUZZ_CHECK(TP_SBE_DISCOVERY_SCHEMA_ID == schema && TP_SBE_DISCOVERY_DISCOVERY_REQUEST_TEMPLATE_ID == tmpl);
    TP_FUZZ_CHECK(v.tag_count <= TP_PROTO_DISCOVERY_MAX_TAGS);
    for (uint32_t i = 0; i < v.tag_count; i++)
    {
        IN_BUF(v.tags[i], TP_PROTO_DISCOVERY_TAG_MAX);
        TP_FUZZ_CHECK(TP_PROTO_DISCOVERY_LAYOUT_FIXED == v.layout || 0 == v.tags[i].length);
    }
    IN_BUF(v.response_channel, TP_PROTO_DISCOVERY_CHANNEL_MAX);
    IN_BUF(v.data_source_name, TP_PROTO_DISCOVERY_NAME_MAX);
    (void)tp_discovery_channel_valid(v.response_channel.data, v.response_channel.length);
    /* re-encode in the decoded layout and decode again: the same fields */
    uint8_t *out = malloc(size + 64);
    size_t len = 0;
    TP_FUZZ_CHECK(0 == tp_proto_encode_discovery_request(out, size + 64, &v, v.layout, &len));
    if (TP_PROTO_DISCOVERY_LAYOUT_REFERENCE == v.layout && 32 == tp_sbe_get_u16(data) && 1 == tp_sbe_get_u16(data + 6))
    {
        /* our header, exact consumption: byte-for-byte (null optionals are all-ones on both sides) */
        bool nulls_canonical = (v.has_stream_id || UINT32_MAX == tp_sbe_get_u32(data + 8 + 16)) &&
            (v.has_producer_id || UINT32_MAX == tp_sbe_get_u32(data + 8 + 20)) &&
            (v.has_data_source_id || UINT64_MAX == tp_sbe_get_u64(data + 8 + 24));
        uint16_t tags_bl = tp_sbe_get_u16(data + 40);
        if (nulls_canonical && 0 == tags_bl)
        {
            TP_FUZZ_CHECK(len == size && 0 == memcmp(out, data, size));
        }
    }
    tp_proto_discovery_request_view_t w;
    TP_FUZZ_CHECK(0 == tp_proto_decode_discovery_request(out, len, &w));
    TP_FUZZ_CHECK(w.request_id == v.request_id && w.client_id == v.client_id &&
        w.response_stream_id == v.response_stream_id && w.has_stream_id == v.has_stream_id &&
        w.tag_count == v.tag_count && same(w.response_channel, v.response_channel) &&
        same(w.data_source_name, v.data_source_name));
    for (uint32_t i = 0; i < v.tag_count; i++)
    {
        TP_FUZZ_CHECK(same(w.tags[i], v.tags[i]));
    }
    free(out);
}

static void response(const uint8_t *data, size_t size, uint16_t schema, uint16_t tmpl)
{
    tp_proto_discovery_response_view_t v;
    int rc = tp_proto_decode_discovery_response(data, size, &v);
    if (rc < 0)
    {
        check_fail(rc);
        return;
    }
    TP_FUZZ_CHECK(TP_SBE_DISCOVERY_SCHEMA_ID == schema && TP_SBE_DISCOVERY_DISCOVERY_RESPONSE_TEMPLATE_ID == tmpl);
    TP_FUZZ_CHECK(tp_sbe_discovery_discovery_status_is_valid(v.status));
    TP_FUZZ_CHECK(v.result_count <= TP_PROTO_DISCOVERY_MAX_RESULTS);
    IN_BUF(v.error_message, TP_PROTO_DISCOVERY_ERROR_MAX);
    for (int pass = 0; pass < 2; pass++)
    {
        tp_proto_discovery_result_iter_t it = v.results;
        tp_proto_discovery_result_view_t r;
        uint32_t n = 0;
        while (1 == (rc = tp_proto_discovery_result_next(&it, &r)))
        {
            n++;
            TP_FUZZ_CHECK(r.pool_count <= TP_PROTO_MAX_POOLS && r.tag_count <= TP_PROTO_DISCOVERY_MAX_TAGS);
            for (uint32_t i = 0; i < r.pool_count; i++)
            {
                IN_BUF(r.pools[i].region_uri, TP_PROTO_REGION_URI_MAX);
            }
            for (uint32_t i = 0; i < r.tag_count; i++)
            {
                IN_BUF(r.tags[i], TP_PROTO_DISCOVERY_TAG_MAX);
            }
            IN_BUF(r.header_region_uri, TP_PROTO_REGION_URI_MAX);
            IN_BUF(r.data_source_name, TP_PROTO_DISCOVERY_NAME_MAX);
            IN_BUF(r.driver_instance_id, TP_PROTO_DISCOVERY_INSTANCE_ID_MAX);
            IN_BUF(r.driver_control_channel, TP_PROTO_DISCOVERY_CHANNEL_MAX);
        }
        TP_FUZZ_CHECK(0 == rc && n == v.result_count);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint16_t schema = 0;
    uint16_t tmpl = 0;
    tp_proto_peek(data, size, &schema, &tmpl);
    request(data, size, schema, tmpl);
    response(data, size, schema, tmpl);
    return 0;
}
