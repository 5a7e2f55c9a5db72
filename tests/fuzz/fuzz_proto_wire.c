/*
 * Fuzz target: every wire-schema (900) decoder of src/protocol/tp_proto.h,
 * plus tp_proto_peek and the DataSourceMeta attribute iterator.
 *
 * Each input is offered to every decoder (a wrong template is rejected
 * early, so the cost is small). Invariants: a failure sets TP_ERR_MALFORMED
 * and a drop reason; a success yields views whose var-data lies inside the
 * input, counts within the layer's limits, and an attribute walk that visits
 * exactly attribute_count elements, each inside the input.
 */
#include "tp_fuzz.h"

#include "protocol/tp_proto.h"

#define IN_BUF(s) TP_FUZZ_CHECK(tp_fuzz_within((s).data, (s).length, data, size))

static uint16_t peek_schema;
static uint16_t peek_template;

/* rc of a decode for the message with template id `tmpl`. */
static void check_result(int rc, uint16_t tmpl)
{
    if (rc < 0)
    {
        TP_FUZZ_CHECK(-1 == rc);
        TP_FUZZ_CHECK(TP_ERR_MALFORMED == tp_errcode());
        TP_FUZZ_CHECK(TP_PROTO_OK != tp_proto_last_error());
        TP_FUZZ_CHECK(0 != strcmp("UNKNOWN", tp_proto_error_name(tp_proto_last_error())));
    }
    else
    {
        TP_FUZZ_CHECK(0 == rc);
        TP_FUZZ_CHECK(TP_PROTO_OK == tp_proto_last_error());
        TP_FUZZ_CHECK(TP_SBE_WIRE_SCHEMA_ID == peek_schema && tmpl == peek_template);
    }
}

static void walk_attributes(const tp_proto_data_source_meta_view_t *v, const uint8_t *data, size_t size)
{
    tp_proto_attribute_iter_t it = v->attributes;
    tp_proto_attribute_view_t a;
    uint32_t n = 0;
    int rc;
    while ((rc = tp_proto_attribute_next(&it, &a)) == 1)
    {
        IN_BUF(a.key);
        IN_BUF(a.format);
        IN_BUF(a.value);
        n++;
        TP_FUZZ_CHECK(n <= v->attribute_count);
    }
    TP_FUZZ_CHECK(0 == rc);
    TP_FUZZ_CHECK(n == v->attribute_count);
    TP_FUZZ_CHECK(0 == tp_proto_attribute_next(&it, &a));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    peek_schema = 0;
    peek_template = 0;
    int rc = tp_proto_peek(data, size, &peek_schema, &peek_template);
    TP_FUZZ_CHECK(size < 8 ? rc < 0 : 0 == rc);

    {
        tp_proto_shm_pool_announce_view_t v;
        rc = tp_proto_decode_shm_pool_announce(data, size, &v);
        check_result(rc, TP_SBE_WIRE_SHM_POOL_ANNOUNCE_TEMPLATE_ID);
        if (0 == rc)
        {
            TP_FUZZ_CHECK(v.pool_count >= 1 && v.pool_count <= TP_PROTO_MAX_POOLS);
            for (uint32_t i = 0; i < v.pool_count; i++)
            {
                IN_BUF(v.pools[i].region_uri);
                TP_FUZZ_CHECK(v.pools[i].region_uri.length > 0);
                TP_FUZZ_CHECK(v.pools[i].region_uri.length <= TP_PROTO_REGION_URI_MAX);
            }
            IN_BUF(v.header_region_uri);
            TP_FUZZ_CHECK(v.header_region_uri.length > 0 && v.header_region_uri.length <= TP_PROTO_REGION_URI_MAX);
        }
    }
    {
        tp_proto_consumer_hello_view_t v;
        rc = tp_proto_decode_consumer_hello(data, size, &v);
        check_result(rc, TP_SBE_WIRE_CONSUMER_HELLO_TEMPLATE_ID);
        if (0 == rc)
        {
            IN_BUF(v.descriptor_channel);
            IN_BUF(v.control_channel);
        }
    }
    {
        tp_proto_consumer_config_view_t v;
        rc = tp_proto_decode_consumer_config(data, size, &v);
        check_result(rc, TP_SBE_WIRE_CONSUMER_CONFIG_TEMPLATE_ID);
        if (0 == rc)
        {
            IN_BUF(v.payload_fallback_uri);
            IN_BUF(v.descriptor_channel);
            IN_BUF(v.control_channel);
        }
    }
    {
        tp_proto_frame_descriptor_view_t v;
        rc = tp_proto_decode_frame_descriptor(data, size, &v);
        check_result(rc, TP_SBE_WIRE_FRAME_DESCRIPTOR_TEMPLATE_ID);
        if (0 == rc)
        {
            TP_FUZZ_CHECK(v.has_trace_id ? (0 != v.trace_id && UINT64_MAX != v.trace_id) : 0 == v.trace_id);
        }
    }
    {
        tp_proto_frame_progress_view_t v;
        check_result(tp_proto_decode_frame_progress(data, size, &v), TP_SBE_WIRE_FRAME_PROGRESS_TEMPLATE_ID);
    }
    {
        tp_proto_qos_consumer_view_t v;
        check_result(tp_proto_decode_qos_consumer(data, size, &v), TP_SBE_WIRE_QOS_CONSUMER_TEMPLATE_ID);
    }
    {
        tp_proto_qos_producer_view_t v;
        check_result(tp_proto_decode_qos_producer(data, size, &v), TP_SBE_WIRE_QOS_PRODUCER_TEMPLATE_ID);
    }
    {
        tp_proto_data_source_announce_view_t v;
        rc = tp_proto_decode_data_source_announce(data, size, &v);
        check_result(rc, TP_SBE_WIRE_DATA_SOURCE_ANNOUNCE_TEMPLATE_ID);
        if (0 == rc)
        {
            IN_BUF(v.name);
            IN_BUF(v.summary);
        }
    }
    {
        tp_proto_data_source_meta_view_t v;
        rc = tp_proto_decode_data_source_meta(data, size, &v);
        check_result(rc, TP_SBE_WIRE_DATA_SOURCE_META_TEMPLATE_ID);
        if (0 == rc)
        {
            TP_FUZZ_CHECK(v.attribute_count <= TP_PROTO_MAX_ATTRIBUTES);
            walk_attributes(&v, data, size);
            walk_attributes(&v, data, size);
        }
    }
    {
        tp_proto_meta_blob_announce_view_t v;
        check_result(tp_proto_decode_meta_blob_announce(data, size, &v), TP_SBE_WIRE_META_BLOB_ANNOUNCE_TEMPLATE_ID);
    }
    {
        tp_proto_meta_blob_chunk_view_t v;
        rc = tp_proto_decode_meta_blob_chunk(data, size, &v);
        check_result(rc, TP_SBE_WIRE_META_BLOB_CHUNK_TEMPLATE_ID);
        if (0 == rc)
        {
            IN_BUF(v.bytes);
        }
    }
    {
        tp_proto_meta_blob_complete_view_t v;
        check_result(tp_proto_decode_meta_blob_complete(data, size, &v), TP_SBE_WIRE_META_BLOB_COMPLETE_TEMPLATE_ID);
    }
    {
        tp_proto_control_response_view_t v;
        rc = tp_proto_decode_control_response(data, size, &v);
        check_result(rc, TP_SBE_WIRE_CONTROL_RESPONSE_TEMPLATE_ID);
        if (0 == rc)
        {
            IN_BUF(v.error_message);
        }
    }
    return 0;
}
