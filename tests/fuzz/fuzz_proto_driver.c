/*
 * Fuzz target: every driver-schema (901) decoder of src/protocol/tp_proto.h.
 *
 * Invariants: a failure sets TP_ERR_MALFORMED and a drop reason; a success
 * only for the header's schema and template, var-data inside the input, pool
 * counts within TP_PROTO_MAX_POOLS, and for ShmAttachResponse code=OK every
 * field the driver spec §4 requires.
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
        TP_FUZZ_CHECK(TP_SBE_DRIVER_SCHEMA_ID == peek_schema && tmpl == peek_template);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    peek_schema = 0;
    peek_template = 0;
    int rc = tp_proto_peek(data, size, &peek_schema, &peek_template);
    TP_FUZZ_CHECK(size < 8 ? rc < 0 : 0 == rc);

    {
        tp_proto_shm_attach_request_view_t v;
        check_result(tp_proto_decode_shm_attach_request(data, size, &v), TP_SBE_DRIVER_SHM_ATTACH_REQUEST_TEMPLATE_ID);
    }
    {
        tp_proto_shm_attach_response_view_t v;
        rc = tp_proto_decode_shm_attach_response(data, size, &v);
        check_result(rc, TP_SBE_DRIVER_SHM_ATTACH_RESPONSE_TEMPLATE_ID);
        if (0 == rc)
        {
            TP_FUZZ_CHECK(v.pool_count <= TP_PROTO_MAX_POOLS);
            for (uint32_t i = 0; i < v.pool_count; i++)
            {
                IN_BUF(v.pools[i].region_uri);
                TP_FUZZ_CHECK(v.pools[i].region_uri.length <= TP_PROTO_REGION_URI_MAX);
            }
            IN_BUF(v.header_region_uri);
            IN_BUF(v.error_message);
            if (TP_SBE_DRIVER_RESPONSE_CODE_OK == v.code)
            {
                TP_FUZZ_CHECK(v.has_lease_id && v.has_stream_id && v.has_epoch && v.has_layout_version);
                TP_FUZZ_CHECK(v.has_header_nslots && v.has_header_slot_bytes);
                TP_FUZZ_CHECK(v.pool_count >= 1 && v.header_region_uri.length > 0);
                for (uint32_t i = 0; i < v.pool_count; i++)
                {
                    TP_FUZZ_CHECK(v.pools[i].region_uri.length > 0);
                }
            }
        }
    }
    {
        tp_proto_shm_detach_request_view_t v;
        check_result(tp_proto_decode_shm_detach_request(data, size, &v), TP_SBE_DRIVER_SHM_DETACH_REQUEST_TEMPLATE_ID);
    }
    {
        tp_proto_shm_detach_response_view_t v;
        rc = tp_proto_decode_shm_detach_response(data, size, &v);
        check_result(rc, TP_SBE_DRIVER_SHM_DETACH_RESPONSE_TEMPLATE_ID);
        if (0 == rc)
        {
            IN_BUF(v.error_message);
        }
    }
    {
        tp_proto_shm_lease_keepalive_view_t v;
        check_result(tp_proto_decode_shm_lease_keepalive(data, size, &v), TP_SBE_DRIVER_SHM_LEASE_KEEPALIVE_TEMPLATE_ID);
    }
    {
        tp_proto_shm_driver_shutdown_view_t v;
        rc = tp_proto_decode_shm_driver_shutdown(data, size, &v);
        check_result(rc, TP_SBE_DRIVER_SHM_DRIVER_SHUTDOWN_TEMPLATE_ID);
        if (0 == rc)
        {
            IN_BUF(v.error_message);
        }
    }
    {
        tp_proto_shm_lease_revoked_view_t v;
        rc = tp_proto_decode_shm_lease_revoked(data, size, &v);
        check_result(rc, TP_SBE_DRIVER_SHM_LEASE_REVOKED_TEMPLATE_ID);
        if (0 == rc)
        {
            IN_BUF(v.error_message);
        }
    }
    {
        tp_proto_shm_driver_shutdown_request_view_t v;
        rc = tp_proto_decode_shm_driver_shutdown_request(data, size, &v);
        check_result(rc, TP_SBE_DRIVER_SHM_DRIVER_SHUTDOWN_REQUEST_TEMPLATE_ID);
        if (0 == rc)
        {
            IN_BUF(v.token);
            IN_BUF(v.error_message);
        }
    }
    return 0;
}
