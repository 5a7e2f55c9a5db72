/*
 * Wire decode layer: structural checks over the generated SBE codecs.
 * See tp_proto.h and docs/PROTOCOL.md for the contract.
 */
#include "protocol/tp_proto.h"

#include <string.h>

#include "common/tp_error.h"
#include "protocol/tp_proto_status.h"

static _Thread_local tp_proto_status_t proto_status = TP_PROTO_STATUS_INIT;

const char *tp_proto_error_name(tp_proto_error_t e)
{
    switch (e)
    {
        case TP_PROTO_OK: return "OK";
        case TP_PROTO_TOO_SHORT: return "TOO_SHORT";
        case TP_PROTO_WRONG_SCHEMA: return "WRONG_SCHEMA";
        case TP_PROTO_WRONG_TEMPLATE: return "WRONG_TEMPLATE";
        case TP_PROTO_BAD_VERSION: return "BAD_VERSION";
        case TP_PROTO_BAD_BLOCK_LENGTH: return "BAD_BLOCK_LENGTH";
        case TP_PROTO_GROUP_OVERFLOW: return "GROUP_OVERFLOW";
        case TP_PROTO_VAR_DATA_OVERFLOW: return "VAR_DATA_OVERFLOW";
        case TP_PROTO_BAD_ENUM: return "BAD_ENUM";
        case TP_PROTO_MISSING_REQUIRED: return "MISSING_REQUIRED";
        case TP_PROTO_NULL_BUFFER: return "NULL_BUFFER";
        default: return "UNKNOWN";
    }
}

tp_proto_error_t tp_proto_last_error(void)
{
    return proto_status.error;
}

const char *tp_proto_last_error_field(void)
{
    return proto_status.field;
}

static int proto_fail(const char *msg, tp_proto_error_t e, const char *what)
{
    return tp_proto_status_fail(&proto_status, msg, e, tp_proto_error_name(e), what);
}

static int proto_ok(void)
{
    return tp_proto_status_ok(&proto_status);
}

/*
 * Check the var-data at pos before the codec reads it, so that a length over
 * the limit (VAR_DATA_OVERFLOW) is told apart from a truncated buffer.
 */
static tp_proto_error_t proto_var_check(const uint8_t *buf, size_t len, size_t pos, uint64_t max)
{
    if (pos > len || len - pos < TP_SBE_VAR_DATA_HEADER_LENGTH)
    {
        return TP_PROTO_TOO_SHORT;
    }
    uint32_t n = tp_sbe_get_u32(buf + pos);
    if (n > max)
    {
        return TP_PROTO_VAR_DATA_OVERFLOW;
    }
    if (n > len - pos - TP_SBE_VAR_DATA_HEADER_LENGTH)
    {
        return TP_PROTO_TOO_SHORT;
    }
    return TP_PROTO_OK;
}

/* A required enum: the null value is MISSING_REQUIRED, any other undefined value BAD_ENUM. */
static tp_proto_error_t proto_enum_check(bool valid, int64_t v, int64_t null_value)
{
    if (valid)
    {
        return TP_PROTO_OK;
    }
    return v == null_value ? TP_PROTO_MISSING_REQUIRED : TP_PROTO_BAD_ENUM;
}

/* The boolean of the wire Bool enum (0/1; 255 missing; anything else unknown). */
static tp_proto_error_t proto_bool(uint8_t v, bool *out)
{
    *out = 1 == v;
    return proto_enum_check(tp_sbe_wire_bool_is_valid(v), v, TP_SBE_WIRE_BOOL_NULL_VALUE);
}

#define PROTO_BEGIN(NAME)                                                                                  \
    static const char proto_msg[] = NAME;                                                                  \
    if (NULL == buf || NULL == out)                                                                        \
    {                                                                                                      \
        return proto_fail(proto_msg, TP_PROTO_NULL_BUFFER, "arguments");                                   \
    }                                                                                                      \
    memset(out, 0, sizeof(*out))

#define PROTO_WRAP(WRAP)                                                                                   \
    do                                                                                                     \
    {                                                                                                      \
        int rc_ = WRAP(&m, buf, 0, len);                                                                   \
        if (TP_SBE_OK != rc_)                                                                              \
        {                                                                                                  \
            return proto_fail(proto_msg, tp_proto_status_from_sbe(rc_), tp_sbe_strerror(rc_));             \
        }                                                                                                  \
    } while (0)

#define PROTO_CHECK(EXPR, WHAT)                                                                            \
    do                                                                                                     \
    {                                                                                                      \
        tp_proto_error_t e_ = (EXPR);                                                                      \
        if (TP_PROTO_OK != e_)                                                                             \
        {                                                                                                  \
            return proto_fail(proto_msg, e_, WHAT);                                                        \
        }                                                                                                  \
    } while (0)

/* Read var-data through the codec getter GET on flyweight FLY (positioned at *POSP); T: the getter's char type. */
#define PROTO_VAR(GET, FLY, POSP, MAX, T, DST, WHAT)                                                       \
    do                                                                                                     \
    {                                                                                                      \
        PROTO_CHECK(proto_var_check(buf, len, *(POSP), (MAX)), WHAT);                                      \
        const T *p_ = NULL;                                                                                \
        if (TP_SBE_OK != GET((FLY), &p_, &(DST).length))                                                   \
        {                                                                                                  \
            return proto_fail(proto_msg, TP_PROTO_TOO_SHORT, WHAT);                                        \
        }                                                                                                  \
        (DST).data = (const void *)p_;                                                                     \
    } while (0)

#define PROTO_ENUM(PREFIX, VALUE, WHAT)                                                                    \
    PROTO_CHECK(proto_enum_check(PREFIX##_is_valid((int64_t)(VALUE)), (int64_t)(VALUE), (int64_t)PREFIX##_NULL_VALUE_C), WHAT)

/* Null values of the enums as int64 (the generated enumerators carry them). */
#define tp_sbe_wire_mode_NULL_VALUE_C TP_SBE_WIRE_MODE_NULL_VALUE
#define tp_sbe_wire_clock_domain_NULL_VALUE_C TP_SBE_WIRE_CLOCK_DOMAIN_NULL_VALUE
#define tp_sbe_wire_frame_progress_state_NULL_VALUE_C TP_SBE_WIRE_FRAME_PROGRESS_STATE_NULL_VALUE
#define tp_sbe_wire_response_code_NULL_VALUE_C TP_SBE_WIRE_RESPONSE_CODE_NULL_VALUE
#define tp_sbe_driver_role_NULL_VALUE_C TP_SBE_DRIVER_ROLE_NULL_VALUE
#define tp_sbe_driver_publish_mode_NULL_VALUE_C TP_SBE_DRIVER_PUBLISH_MODE_NULL_VALUE
#define tp_sbe_driver_hugepages_policy_NULL_VALUE_C TP_SBE_DRIVER_HUGEPAGES_POLICY_NULL_VALUE
#define tp_sbe_driver_response_code_NULL_VALUE_C TP_SBE_DRIVER_RESPONSE_CODE_NULL_VALUE
#define tp_sbe_driver_lease_revoke_reason_NULL_VALUE_C TP_SBE_DRIVER_LEASE_REVOKE_REASON_NULL_VALUE
#define tp_sbe_driver_shutdown_reason_NULL_VALUE_C TP_SBE_DRIVER_SHUTDOWN_REASON_NULL_VALUE

int tp_proto_peek(const uint8_t *buf, size_t len, uint16_t *schema_id, uint16_t *template_id)
{
    tp_sbe_header_t h;
    if (NULL == buf)
    {
        return proto_fail("peek", TP_PROTO_NULL_BUFFER, "arguments");
    }
    if (TP_SBE_OK != tp_sbe_peek_header(buf, len, &h))
    {
        return proto_fail("peek", TP_PROTO_TOO_SHORT, "message header");
    }
    if (NULL != schema_id)
    {
        *schema_id = h.schema_id;
    }
    if (NULL != template_id)
    {
        *template_id = h.template_id;
    }
    return proto_ok();
}

/* ======================================================================== wire */

int tp_proto_decode_shm_pool_announce(const uint8_t *buf, size_t len, tp_proto_shm_pool_announce_view_t *out)
{
    PROTO_BEGIN("ShmPoolAnnounce");
    tp_sbe_wire_shm_pool_announce_t m;
    tp_sbe_wire_shm_pool_announce_payload_pools_t g;
    PROTO_WRAP(tp_sbe_wire_shm_pool_announce_wrap_for_decode_with_header);
    out->stream_id = tp_sbe_wire_shm_pool_announce_stream_id(&m);
    out->producer_id = tp_sbe_wire_shm_pool_announce_producer_id(&m);
    out->epoch = tp_sbe_wire_shm_pool_announce_epoch(&m);
    out->announce_timestamp_ns = tp_sbe_wire_shm_pool_announce_announce_timestamp_ns(&m);
    out->announce_clock_domain = tp_sbe_wire_shm_pool_announce_announce_clock_domain(&m);
    PROTO_ENUM(tp_sbe_wire_clock_domain, out->announce_clock_domain, "announceClockDomain");
    out->layout_version = tp_sbe_wire_shm_pool_announce_layout_version(&m);
    out->header_nslots = tp_sbe_wire_shm_pool_announce_header_nslots(&m);
    out->header_slot_bytes = tp_sbe_wire_shm_pool_announce_header_slot_bytes(&m);
    {
        int rc = tp_sbe_wire_shm_pool_announce_get_payload_pools(&m, &g);
        if (TP_SBE_OK != rc)
        {
            return proto_fail(proto_msg, tp_proto_status_from_sbe(rc), "payloadPools header");
        }
    }
    uint64_t count = tp_sbe_wire_shm_pool_announce_payload_pools_count(&g);
    if (count > TP_PROTO_MAX_POOLS)
    {
        return proto_fail(proto_msg, TP_PROTO_GROUP_OVERFLOW, "payloadPools");
    }
    for (uint32_t i = 0; i < (uint32_t)count; i++)
    {
        tp_proto_pool_view_t *p = &out->pools[i];
        if (TP_SBE_OK != tp_sbe_wire_shm_pool_announce_payload_pools_next(&g))
        {
            return proto_fail(proto_msg, TP_PROTO_TOO_SHORT, "payloadPools element");
        }
        p->pool_id = tp_sbe_wire_shm_pool_announce_payload_pools_pool_id(&g);
        p->pool_nslots = tp_sbe_wire_shm_pool_announce_payload_pools_pool_nslots(&g);
        p->stride_bytes = tp_sbe_wire_shm_pool_announce_payload_pools_stride_bytes(&g);
        PROTO_VAR(tp_sbe_wire_shm_pool_announce_payload_pools_get_region_uri, &g, g.position_ptr,
            TP_PROTO_REGION_URI_MAX, char, p->region_uri, "payloadPools.regionUri");
    }
    out->pool_count = (uint32_t)count;
    PROTO_VAR(tp_sbe_wire_shm_pool_announce_get_header_region_uri, &m, &m.position, TP_PROTO_REGION_URI_MAX, char,
        out->header_region_uri, "headerRegionUri");
    if (0 == out->pool_count)
    {
        return proto_fail(proto_msg, TP_PROTO_MISSING_REQUIRED, "payloadPools is empty");
    }
    for (uint32_t i = 0; i < out->pool_count; i++)
    {
        if (0 == out->pools[i].region_uri.length)
        {
            return proto_fail(proto_msg, TP_PROTO_MISSING_REQUIRED, "payloadPools.regionUri is empty");
        }
    }
    if (0 == out->header_region_uri.length)
    {
        return proto_fail(proto_msg, TP_PROTO_MISSING_REQUIRED, "headerRegionUri is empty");
    }
    return proto_ok();
}

int tp_proto_encode_consumer_config(uint8_t *buf, size_t capacity, const tp_proto_consumer_config_view_t *msg,
    size_t *length_out)
{
    if (NULL == buf || NULL == msg || NULL == length_out)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "ConsumerConfig encode: NULL argument");
    }
    tp_sbe_wire_consumer_config_t m = { 0 };
    if (TP_SBE_OK != tp_sbe_wire_consumer_config_wrap_and_apply_header(&m, buf, 0, capacity))
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "ConsumerConfig encode: %zu bytes are too few", capacity);
    }
    tp_sbe_wire_consumer_config_set_stream_id(&m, msg->stream_id);
    tp_sbe_wire_consumer_config_set_consumer_id(&m, msg->consumer_id);
    tp_sbe_wire_consumer_config_set_use_shm(&m, msg->use_shm ? TP_SBE_WIRE_BOOL_TRUE : TP_SBE_WIRE_BOOL_FALSE);
    tp_sbe_wire_consumer_config_set_mode(&m, msg->mode);
    tp_sbe_wire_consumer_config_set_descriptor_stream_id(&m, msg->descriptor_stream_id);
    tp_sbe_wire_consumer_config_set_control_stream_id(&m, msg->control_stream_id);
    tp_sbe_wire_consumer_config_zero_padding(&m);
    if (TP_SBE_OK != tp_sbe_wire_consumer_config_put_payload_fallback_uri(&m, msg->payload_fallback_uri.data,
                         msg->payload_fallback_uri.length) ||
        TP_SBE_OK != tp_sbe_wire_consumer_config_put_descriptor_channel(&m, msg->descriptor_channel.data,
                         msg->descriptor_channel.length) ||
        TP_SBE_OK != tp_sbe_wire_consumer_config_put_control_channel(&m, msg->control_channel.data,
                         msg->control_channel.length))
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "ConsumerConfig encode: strings do not fit in %zu bytes", capacity);
    }
    *length_out = TP_SBE_MESSAGE_HEADER_LENGTH + tp_sbe_wire_consumer_config_encoded_length(&m);
    return 0;
}

int tp_proto_encode_shm_pool_announce(uint8_t *buf, size_t capacity, const tp_proto_shm_pool_announce_view_t *msg,
    size_t *length_out)
{
    if (NULL == buf || NULL == msg || NULL == length_out || 0 == msg->pool_count || msg->pool_count > TP_PROTO_MAX_POOLS)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "ShmPoolAnnounce encode: NULL argument or pool count not 1..%u",
            TP_PROTO_MAX_POOLS);
    }
    tp_sbe_wire_shm_pool_announce_t m = { 0 };
    tp_sbe_wire_shm_pool_announce_payload_pools_t g = { 0 };
    if (TP_SBE_OK != tp_sbe_wire_shm_pool_announce_wrap_and_apply_header(&m, buf, 0, capacity))
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "ShmPoolAnnounce encode: %zu bytes are too few", capacity);
    }
    tp_sbe_wire_shm_pool_announce_set_stream_id(&m, msg->stream_id);
    tp_sbe_wire_shm_pool_announce_set_producer_id(&m, msg->producer_id);
    tp_sbe_wire_shm_pool_announce_set_epoch(&m, msg->epoch);
    tp_sbe_wire_shm_pool_announce_set_announce_timestamp_ns(&m, msg->announce_timestamp_ns);
    tp_sbe_wire_shm_pool_announce_set_announce_clock_domain(&m, msg->announce_clock_domain);
    tp_sbe_wire_shm_pool_announce_set_layout_version(&m, msg->layout_version);
    tp_sbe_wire_shm_pool_announce_set_header_nslots(&m, msg->header_nslots);
    tp_sbe_wire_shm_pool_announce_set_header_slot_bytes(&m, msg->header_slot_bytes);
    tp_sbe_wire_shm_pool_announce_zero_padding(&m);
    if (TP_SBE_OK != tp_sbe_wire_shm_pool_announce_set_payload_pools_count(&m, &g, (uint16_t)msg->pool_count))
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "ShmPoolAnnounce encode: pools do not fit in %zu bytes", capacity);
    }
    for (uint32_t i = 0; i < msg->pool_count; i++)
    {
        const tp_proto_pool_view_t *p = &msg->pools[i];
        if (TP_SBE_OK != tp_sbe_wire_shm_pool_announce_payload_pools_next(&g))
        {
            return tp_err_set(TP_ERR_INVALID_ARGUMENT, "ShmPoolAnnounce encode: pool %u does not fit", i);
        }
        tp_sbe_wire_shm_pool_announce_payload_pools_set_pool_id(&g, p->pool_id);
        tp_sbe_wire_shm_pool_announce_payload_pools_set_pool_nslots(&g, p->pool_nslots);
        tp_sbe_wire_shm_pool_announce_payload_pools_set_stride_bytes(&g, p->stride_bytes);
        tp_sbe_wire_shm_pool_announce_payload_pools_zero_padding(&g);
        if (TP_SBE_OK !=
            tp_sbe_wire_shm_pool_announce_payload_pools_put_region_uri(&g, p->region_uri.data, p->region_uri.length))
        {
            return tp_err_set(TP_ERR_INVALID_ARGUMENT, "ShmPoolAnnounce encode: pool %u URI does not fit", i);
        }
    }
    if (TP_SBE_OK != tp_sbe_wire_shm_pool_announce_put_header_region_uri(&m, msg->header_region_uri.data,
                         msg->header_region_uri.length))
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "ShmPoolAnnounce encode: header URI does not fit");
    }
    *length_out = TP_SBE_MESSAGE_HEADER_LENGTH + tp_sbe_wire_shm_pool_announce_encoded_length(&m);
    return 0;
}

int tp_proto_decode_consumer_hello(const uint8_t *buf, size_t len, tp_proto_consumer_hello_view_t *out)
{
    PROTO_BEGIN("ConsumerHello");
    tp_sbe_wire_consumer_hello_t m;
    PROTO_WRAP(tp_sbe_wire_consumer_hello_wrap_for_decode_with_header);
    out->stream_id = tp_sbe_wire_consumer_hello_stream_id(&m);
    out->consumer_id = tp_sbe_wire_consumer_hello_consumer_id(&m);
    PROTO_CHECK(proto_bool((uint8_t)tp_sbe_wire_consumer_hello_supports_shm(&m), &out->supports_shm), "supportsShm");
    PROTO_CHECK(proto_bool((uint8_t)tp_sbe_wire_consumer_hello_supports_progress(&m), &out->supports_progress),
        "supportsProgress");
    out->mode = tp_sbe_wire_consumer_hello_mode(&m);
    PROTO_ENUM(tp_sbe_wire_mode, out->mode, "mode");
    out->max_rate_hz = tp_sbe_wire_consumer_hello_max_rate_hz(&m);
    out->expected_layout_version = tp_sbe_wire_consumer_hello_expected_layout_version(&m);
    out->has_progress_interval_us = !tp_sbe_wire_consumer_hello_progress_interval_us_is_null(&m);
    out->progress_interval_us = tp_sbe_wire_consumer_hello_progress_interval_us(&m);
    out->has_progress_bytes_delta = !tp_sbe_wire_consumer_hello_progress_bytes_delta_is_null(&m);
    out->progress_bytes_delta = tp_sbe_wire_consumer_hello_progress_bytes_delta(&m);
    out->has_progress_major_delta_units = !tp_sbe_wire_consumer_hello_progress_major_delta_units_is_null(&m);
    out->progress_major_delta_units = tp_sbe_wire_consumer_hello_progress_major_delta_units(&m);
    out->descriptor_stream_id = tp_sbe_wire_consumer_hello_descriptor_stream_id(&m);
    out->control_stream_id = tp_sbe_wire_consumer_hello_control_stream_id(&m);
    PROTO_VAR(tp_sbe_wire_consumer_hello_get_descriptor_channel, &m, &m.position, TP_PROTO_VAR_DATA_MAX, char,
        out->descriptor_channel, "descriptorChannel");
    PROTO_VAR(tp_sbe_wire_consumer_hello_get_control_channel, &m, &m.position, TP_PROTO_VAR_DATA_MAX, char,
        out->control_channel, "controlChannel");
    return proto_ok();
}

int tp_proto_decode_consumer_config(const uint8_t *buf, size_t len, tp_proto_consumer_config_view_t *out)
{
    PROTO_BEGIN("ConsumerConfig");
    tp_sbe_wire_consumer_config_t m;
    PROTO_WRAP(tp_sbe_wire_consumer_config_wrap_for_decode_with_header);
    out->stream_id = tp_sbe_wire_consumer_config_stream_id(&m);
    out->consumer_id = tp_sbe_wire_consumer_config_consumer_id(&m);
    PROTO_CHECK(proto_bool((uint8_t)tp_sbe_wire_consumer_config_use_shm(&m), &out->use_shm), "useShm");
    out->mode = tp_sbe_wire_consumer_config_mode(&m);
    PROTO_ENUM(tp_sbe_wire_mode, out->mode, "mode");
    out->descriptor_stream_id = tp_sbe_wire_consumer_config_descriptor_stream_id(&m);
    out->control_stream_id = tp_sbe_wire_consumer_config_control_stream_id(&m);
    PROTO_VAR(tp_sbe_wire_consumer_config_get_payload_fallback_uri, &m, &m.position, TP_PROTO_VAR_DATA_MAX, char,
        out->payload_fallback_uri, "payloadFallbackUri");
    PROTO_VAR(tp_sbe_wire_consumer_config_get_descriptor_channel, &m, &m.position, TP_PROTO_VAR_DATA_MAX, char,
        out->descriptor_channel, "descriptorChannel");
    PROTO_VAR(tp_sbe_wire_consumer_config_get_control_channel, &m, &m.position, TP_PROTO_VAR_DATA_MAX, char,
        out->control_channel, "controlChannel");
    return proto_ok();
}

int tp_proto_decode_frame_descriptor(const uint8_t *buf, size_t len, tp_proto_frame_descriptor_view_t *out)
{
    PROTO_BEGIN("FrameDescriptor");
    tp_sbe_wire_frame_descriptor_t m;
    PROTO_WRAP(tp_sbe_wire_frame_descriptor_wrap_for_decode_with_header);
    out->stream_id = tp_sbe_wire_frame_descriptor_stream_id(&m);
    out->epoch = tp_sbe_wire_frame_descriptor_epoch(&m);
    out->seq = tp_sbe_wire_frame_descriptor_seq(&m);
    out->has_timestamp_ns = !tp_sbe_wire_frame_descriptor_timestamp_ns_is_null(&m);
    out->timestamp_ns = tp_sbe_wire_frame_descriptor_timestamp_ns(&m);
    out->has_meta_version = !tp_sbe_wire_frame_descriptor_meta_version_is_null(&m);
    out->meta_version = tp_sbe_wire_frame_descriptor_meta_version(&m);
    uint64_t trace = tp_sbe_wire_frame_descriptor_trace_id(&m);
    out->has_trace_id = 0 != trace && UINT64_MAX != trace; /* ERRATA 1 */
    out->trace_id = out->has_trace_id ? trace : 0;
    return proto_ok();
}

int tp_proto_decode_frame_progress(const uint8_t *buf, size_t len, tp_proto_frame_progress_view_t *out)
{
    PROTO_BEGIN("FrameProgress");
    tp_sbe_wire_frame_progress_t m;
    PROTO_WRAP(tp_sbe_wire_frame_progress_wrap_for_decode_with_header);
    out->stream_id = tp_sbe_wire_frame_progress_stream_id(&m);
    out->epoch = tp_sbe_wire_frame_progress_epoch(&m);
    out->seq = tp_sbe_wire_frame_progress_seq(&m);
    out->payload_bytes_filled = tp_sbe_wire_frame_progress_payload_bytes_filled(&m);
    out->state = tp_sbe_wire_frame_progress_state(&m);
    PROTO_ENUM(tp_sbe_wire_frame_progress_state, out->state, "state");
    return proto_ok();
}

int tp_proto_decode_qos_consumer(const uint8_t *buf, size_t len, tp_proto_qos_consumer_view_t *out)
{
    PROTO_BEGIN("QosConsumer");
    tp_sbe_wire_qos_consumer_t m;
    PROTO_WRAP(tp_sbe_wire_qos_consumer_wrap_for_decode_with_header);
    out->stream_id = tp_sbe_wire_qos_consumer_stream_id(&m);
    out->consumer_id = tp_sbe_wire_qos_consumer_consumer_id(&m);
    out->epoch = tp_sbe_wire_qos_consumer_epoch(&m);
    out->last_seq_seen = tp_sbe_wire_qos_consumer_last_seq_seen(&m);
    out->drops_gap = tp_sbe_wire_qos_consumer_drops_gap(&m);
    out->drops_late = tp_sbe_wire_qos_consumer_drops_late(&m);
    out->mode = tp_sbe_wire_qos_consumer_mode(&m);
    PROTO_ENUM(tp_sbe_wire_mode, out->mode, "mode");
    return proto_ok();
}

int tp_proto_decode_qos_producer(const uint8_t *buf, size_t len, tp_proto_qos_producer_view_t *out)
{
    PROTO_BEGIN("QosProducer");
    tp_sbe_wire_qos_producer_t m;
    PROTO_WRAP(tp_sbe_wire_qos_producer_wrap_for_decode_with_header);
    out->stream_id = tp_sbe_wire_qos_producer_stream_id(&m);
    out->producer_id = tp_sbe_wire_qos_producer_producer_id(&m);
    out->epoch = tp_sbe_wire_qos_producer_epoch(&m);
    out->current_seq = tp_sbe_wire_qos_producer_current_seq(&m);
    out->has_watermark = !tp_sbe_wire_qos_producer_watermark_is_null(&m);
    out->watermark = tp_sbe_wire_qos_producer_watermark(&m);
    return proto_ok();
}

int tp_proto_decode_data_source_announce(const uint8_t *buf, size_t len, tp_proto_data_source_announce_view_t *out)
{
    PROTO_BEGIN("DataSourceAnnounce");
    tp_sbe_wire_data_source_announce_t m;
    PROTO_WRAP(tp_sbe_wire_data_source_announce_wrap_for_decode_with_header);
    out->stream_id = tp_sbe_wire_data_source_announce_stream_id(&m);
    out->producer_id = tp_sbe_wire_data_source_announce_producer_id(&m);
    out->epoch = tp_sbe_wire_data_source_announce_epoch(&m);
    out->meta_version = tp_sbe_wire_data_source_announce_meta_version(&m);
    PROTO_VAR(tp_sbe_wire_data_source_announce_get_name, &m, &m.position, TP_PROTO_VAR_DATA_MAX, char, out->name,
        "name");
    PROTO_VAR(tp_sbe_wire_data_source_announce_get_summary, &m, &m.position, TP_PROTO_VAR_DATA_MAX, char,
        out->summary, "summary");
    return proto_ok();
}

/* Walk one attribute element at g's position; fills *a. */
#define PROTO_ATTRIBUTE(G, A)                                                                                  \
    do                                                                                                         \
    {                                                                                                          \
        PROTO_VAR(tp_sbe_wire_data_source_meta_attributes_get_key, (G), (G)->position_ptr,                     \
            TP_PROTO_VAR_DATA_MAX, char, (A)->key, "attributes.key");                                          \
        PROTO_VAR(tp_sbe_wire_data_source_meta_attributes_get_format, (G), (G)->position_ptr,                  \
            TP_PROTO_VAR_DATA_MAX, char, (A)->format, "attributes.format");                                    \
        PROTO_VAR(tp_sbe_wire_data_source_meta_attributes_get_value, (G), (G)->position_ptr,                  \
            TP_PROTO_VAR_DATA_MAX, uint8_t, (A)->value, "attributes.value");                                   \
    } while (0)

int tp_proto_decode_data_source_meta(const uint8_t *buf, size_t len, tp_proto_data_source_meta_view_t *out)
{
    PROTO_BEGIN("DataSourceMeta");
    tp_sbe_wire_data_source_meta_t m;
    tp_sbe_wire_data_source_meta_attributes_t g;
    PROTO_WRAP(tp_sbe_wire_data_source_meta_wrap_for_decode_with_header);
    out->stream_id = tp_sbe_wire_data_source_meta_stream_id(&m);
    out->meta_version = tp_sbe_wire_data_source_meta_meta_version(&m);
    out->timestamp_ns = tp_sbe_wire_data_source_meta_timestamp_ns(&m);
    int rc = tp_sbe_wire_data_source_meta_get_attributes(&m, &g);
    if (TP_SBE_OK != rc)
    {
        return proto_fail(proto_msg, tp_proto_status_from_sbe(rc), "attributes header");
    }
    uint64_t count = tp_sbe_wire_data_source_meta_attributes_count(&g);
    if (count > TP_PROTO_MAX_ATTRIBUTES)
    {
        return proto_fail(proto_msg, TP_PROTO_GROUP_OVERFLOW, "attributes");
    }
    out->attribute_count = (uint32_t)count;
    out->attributes.buffer = buf;
    out->attributes.buffer_length = len;
    out->attributes.position = m.position;
    out->attributes.block_length = g.block_length;
    out->attributes.remaining = (uint32_t)count;
    for (uint64_t i = 0; i < count; i++)
    {
        tp_proto_attribute_view_t a;
        if (TP_SBE_OK != tp_sbe_wire_data_source_meta_attributes_next(&g))
        {
            return proto_fail(proto_msg, TP_PROTO_TOO_SHORT, "attributes element");
        }
        PROTO_ATTRIBUTE(&g, &a);
    }
    return proto_ok();
}

int tp_proto_attribute_next(tp_proto_attribute_iter_t *it, tp_proto_attribute_view_t *out)
{
    static const char proto_msg[] = "DataSourceMeta attribute";
    if (NULL == it || NULL == out)
    {
        return proto_fail(proto_msg, TP_PROTO_NULL_BUFFER, "arguments");
    }
    if (0 == it->remaining)
    {
        return 0;
    }
    const uint8_t *buf = it->buffer;
    size_t len = it->buffer_length;
    /* A one-element group flyweight over the stored position (the header was checked by the decode). */
    tp_sbe_wire_data_source_meta_attributes_t g;
    memset(&g, 0, sizeof(g));
    g.buffer = (uint8_t *)buf;
    g.buffer_length = len;
    g.position_ptr = &it->position;
    g.block_length = it->block_length;
    g.count = 1;
    if (TP_SBE_OK != tp_sbe_wire_data_source_meta_attributes_next(&g))
    {
        return proto_fail(proto_msg, TP_PROTO_TOO_SHORT, "attributes element");
    }
    PROTO_ATTRIBUTE(&g, out);
    it->remaining--;
    return 1;
}

int tp_proto_decode_meta_blob_announce(const uint8_t *buf, size_t len, tp_proto_meta_blob_announce_view_t *out)
{
    PROTO_BEGIN("MetaBlobAnnounce");
    tp_sbe_wire_meta_blob_announce_t m;
    PROTO_WRAP(tp_sbe_wire_meta_blob_announce_wrap_for_decode_with_header);
    out->stream_id = tp_sbe_wire_meta_blob_announce_stream_id(&m);
    out->meta_version = tp_sbe_wire_meta_blob_announce_meta_version(&m);
    out->blob_type = tp_sbe_wire_meta_blob_announce_blob_type(&m);
    out->total_len = tp_sbe_wire_meta_blob_announce_total_len(&m);
    out->checksum = tp_sbe_wire_meta_blob_announce_checksum(&m);
    return proto_ok();
}

int tp_proto_decode_meta_blob_chunk(const uint8_t *buf, size_t len, tp_proto_meta_blob_chunk_view_t *out)
{
    PROTO_BEGIN("MetaBlobChunk");
    tp_sbe_wire_meta_blob_chunk_t m;
    PROTO_WRAP(tp_sbe_wire_meta_blob_chunk_wrap_for_decode_with_header);
    out->stream_id = tp_sbe_wire_meta_blob_chunk_stream_id(&m);
    out->meta_version = tp_sbe_wire_meta_blob_chunk_meta_version(&m);
    out->chunk_offset = tp_sbe_wire_meta_blob_chunk_chunk_offset(&m);
    PROTO_VAR(tp_sbe_wire_meta_blob_chunk_get_bytes, &m, &m.position, TP_PROTO_VAR_DATA_MAX, uint8_t, out->bytes,
        "bytes");
    return proto_ok();
}

int tp_proto_decode_meta_blob_complete(const uint8_t *buf, size_t len, tp_proto_meta_blob_complete_view_t *out)
{
    PROTO_BEGIN("MetaBlobComplete");
    tp_sbe_wire_meta_blob_complete_t m;
    PROTO_WRAP(tp_sbe_wire_meta_blob_complete_wrap_for_decode_with_header);
    out->stream_id = tp_sbe_wire_meta_blob_complete_stream_id(&m);
    out->meta_version = tp_sbe_wire_meta_blob_complete_meta_version(&m);
    out->checksum = tp_sbe_wire_meta_blob_complete_checksum(&m);
    return proto_ok();
}

int tp_proto_decode_control_response(const uint8_t *buf, size_t len, tp_proto_control_response_view_t *out)
{
    PROTO_BEGIN("ControlResponse");
    tp_sbe_wire_control_response_t m;
    PROTO_WRAP(tp_sbe_wire_control_response_wrap_for_decode_with_header);
    out->correlation_id = tp_sbe_wire_control_response_correlation_id(&m);
    out->code = tp_sbe_wire_control_response_code(&m);
    PROTO_ENUM(tp_sbe_wire_response_code, out->code, "code");
    PROTO_VAR(tp_sbe_wire_control_response_get_error_message, &m, &m.position, TP_PROTO_VAR_DATA_MAX, char,
        out->error_message, "errorMessage");
    return proto_ok();
}

/* ====================================================================== driver */

int tp_proto_decode_shm_attach_request(const uint8_t *buf, size_t len, tp_proto_shm_attach_request_view_t *out)
{
    PROTO_BEGIN("ShmAttachRequest");
    tp_sbe_driver_shm_attach_request_t m;
    PROTO_WRAP(tp_sbe_driver_shm_attach_request_wrap_for_decode_with_header);
    out->correlation_id = tp_sbe_driver_shm_attach_request_correlation_id(&m);
    out->stream_id = tp_sbe_driver_shm_attach_request_stream_id(&m);
    out->client_id = tp_sbe_driver_shm_attach_request_client_id(&m);
    out->role = tp_sbe_driver_shm_attach_request_role(&m);
    PROTO_ENUM(tp_sbe_driver_role, out->role, "role");
    out->expected_layout_version = tp_sbe_driver_shm_attach_request_expected_layout_version(&m);
    out->publish_mode = tp_sbe_driver_shm_attach_request_publish_mode(&m);
    out->has_publish_mode = !tp_sbe_driver_shm_attach_request_publish_mode_is_null(&m);
    if (out->has_publish_mode && !tp_sbe_driver_publish_mode_is_valid((int64_t)out->publish_mode))
    {
        return proto_fail(proto_msg, TP_PROTO_BAD_ENUM, "publishMode");
    }
    out->require_hugepages = tp_sbe_driver_shm_attach_request_require_hugepages(&m);
    PROTO_ENUM(tp_sbe_driver_hugepages_policy, out->require_hugepages, "requireHugepages");
    out->has_desired_node_id = !tp_sbe_driver_shm_attach_request_desired_node_id_is_null(&m);
    out->desired_node_id = tp_sbe_driver_shm_attach_request_desired_node_id(&m);
    return proto_ok();
}

int tp_proto_decode_shm_attach_response(const uint8_t *buf, size_t len, tp_proto_shm_attach_response_view_t *out)
{
    PROTO_BEGIN("ShmAttachResponse");
    tp_sbe_driver_shm_attach_response_t m;
    tp_sbe_driver_shm_attach_response_payload_pools_t g;
    PROTO_WRAP(tp_sbe_driver_shm_attach_response_wrap_for_decode_with_header);
    out->correlation_id = tp_sbe_driver_shm_attach_response_correlation_id(&m);
    out->code = tp_sbe_driver_shm_attach_response_code(&m);
    PROTO_ENUM(tp_sbe_driver_response_code, out->code, "code");
#define PROTO_OPT(F)                                                                                       \
    out->has_##F = !tp_sbe_driver_shm_attach_response_##F##_is_null(&m);                                  \
    out->F = tp_sbe_driver_shm_attach_response_##F(&m)
    PROTO_OPT(lease_id);
    PROTO_OPT(lease_expiry_timestamp_ns);
    PROTO_OPT(stream_id);
    PROTO_OPT(epoch);
    PROTO_OPT(layout_version);
    PROTO_OPT(header_nslots);
    PROTO_OPT(header_slot_bytes);
    PROTO_OPT(node_id);
#undef PROTO_OPT
    int rc = tp_sbe_driver_shm_attach_response_get_payload_pools(&m, &g);
    if (TP_SBE_OK != rc)
    {
        return proto_fail(proto_msg, tp_proto_status_from_sbe(rc), "payloadPools header");
    }
    uint64_t count = tp_sbe_driver_shm_attach_response_payload_pools_count(&g);
    if (count > TP_PROTO_MAX_POOLS)
    {
        return proto_fail(proto_msg, TP_PROTO_GROUP_OVERFLOW, "payloadPools");
    }
    for (uint32_t i = 0; i < (uint32_t)count; i++)
    {
        tp_proto_pool_view_t *p = &out->pools[i];
        if (TP_SBE_OK != tp_sbe_driver_shm_attach_response_payload_pools_next(&g))
        {
            return proto_fail(proto_msg, TP_PROTO_TOO_SHORT, "payloadPools element");
        }
        p->pool_id = tp_sbe_driver_shm_attach_response_payload_pools_pool_id(&g);
        p->pool_nslots = tp_sbe_driver_shm_attach_response_payload_pools_pool_nslots(&g);
        p->stride_bytes = tp_sbe_driver_shm_attach_response_payload_pools_stride_bytes(&g);
        PROTO_VAR(tp_sbe_driver_shm_attach_response_payload_pools_get_region_uri, &g, g.position_ptr,
            TP_PROTO_REGION_URI_MAX, uint8_t, p->region_uri, "payloadPools.regionUri");
    }
    out->pool_count = (uint32_t)count;
    PROTO_VAR(tp_sbe_driver_shm_attach_response_get_header_region_uri, &m, &m.position, TP_PROTO_REGION_URI_MAX,
        uint8_t, out->header_region_uri, "headerRegionUri");
    PROTO_VAR(tp_sbe_driver_shm_attach_response_get_error_message, &m, &m.position, TP_PROTO_VAR_DATA_MAX, uint8_t,
        out->error_message, "errorMessage");
    if (TP_SBE_DRIVER_RESPONSE_CODE_OK == out->code)
    {
        /* Driver spec §4.2: for code=OK every required field is non-null and every URI non-empty. */
        if (!out->has_lease_id || !out->has_stream_id || !out->has_epoch || !out->has_layout_version ||
            !out->has_header_nslots || !out->has_header_slot_bytes)
        {
            return proto_fail(proto_msg, TP_PROTO_MISSING_REQUIRED, "a required field of an OK response is null");
        }
        if (0 == out->pool_count || 0 == out->header_region_uri.length)
        {
            return proto_fail(proto_msg, TP_PROTO_MISSING_REQUIRED, "OK response without pools or headerRegionUri");
        }
        for (uint32_t i = 0; i < out->pool_count; i++)
        {
            if (0 == out->pools[i].region_uri.length)
            {
                return proto_fail(proto_msg, TP_PROTO_MISSING_REQUIRED, "payloadPools.regionUri is empty");
            }
        }
    }
    return proto_ok();
}

int tp_proto_decode_shm_detach_request(const uint8_t *buf, size_t len, tp_proto_shm_detach_request_view_t *out)
{
    PROTO_BEGIN("ShmDetachRequest");
    tp_sbe_driver_shm_detach_request_t m;
    PROTO_WRAP(tp_sbe_driver_shm_detach_request_wrap_for_decode_with_header);
    out->correlation_id = tp_sbe_driver_shm_detach_request_correlation_id(&m);
    out->lease_id = tp_sbe_driver_shm_detach_request_lease_id(&m);
    out->stream_id = tp_sbe_driver_shm_detach_request_stream_id(&m);
    out->client_id = tp_sbe_driver_shm_detach_request_client_id(&m);
    out->role = tp_sbe_driver_shm_detach_request_role(&m);
    PROTO_ENUM(tp_sbe_driver_role, out->role, "role");
    return proto_ok();
}

int tp_proto_decode_shm_detach_response(const uint8_t *buf, size_t len, tp_proto_shm_detach_response_view_t *out)
{
    PROTO_BEGIN("ShmDetachResponse");
    tp_sbe_driver_shm_detach_response_t m;
    PROTO_WRAP(tp_sbe_driver_shm_detach_response_wrap_for_decode_with_header);
    out->correlation_id = tp_sbe_driver_shm_detach_response_correlation_id(&m);
    out->code = tp_sbe_driver_shm_detach_response_code(&m);
    PROTO_ENUM(tp_sbe_driver_response_code, out->code, "code");
    PROTO_VAR(tp_sbe_driver_shm_detach_response_get_error_message, &m, &m.position, TP_PROTO_VAR_DATA_MAX, uint8_t,
        out->error_message, "errorMessage");
    return proto_ok();
}

int tp_proto_decode_shm_lease_keepalive(const uint8_t *buf, size_t len, tp_proto_shm_lease_keepalive_view_t *out)
{
    PROTO_BEGIN("ShmLeaseKeepalive");
    tp_sbe_driver_shm_lease_keepalive_t m;
    PROTO_WRAP(tp_sbe_driver_shm_lease_keepalive_wrap_for_decode_with_header);
    out->lease_id = tp_sbe_driver_shm_lease_keepalive_lease_id(&m);
    out->stream_id = tp_sbe_driver_shm_lease_keepalive_stream_id(&m);
    out->client_id = tp_sbe_driver_shm_lease_keepalive_client_id(&m);
    out->role = tp_sbe_driver_shm_lease_keepalive_role(&m);
    PROTO_ENUM(tp_sbe_driver_role, out->role, "role");
    out->client_timestamp_ns = tp_sbe_driver_shm_lease_keepalive_client_timestamp_ns(&m);
    return proto_ok();
}

int tp_proto_decode_shm_driver_shutdown(const uint8_t *buf, size_t len, tp_proto_shm_driver_shutdown_view_t *out)
{
    PROTO_BEGIN("ShmDriverShutdown");
    tp_sbe_driver_shm_driver_shutdown_t m;
    PROTO_WRAP(tp_sbe_driver_shm_driver_shutdown_wrap_for_decode_with_header);
    out->timestamp_ns = tp_sbe_driver_shm_driver_shutdown_timestamp_ns(&m);
    out->reason = tp_sbe_driver_shm_driver_shutdown_reason(&m);
    PROTO_ENUM(tp_sbe_driver_shutdown_reason, out->reason, "reason");
    PROTO_VAR(tp_sbe_driver_shm_driver_shutdown_get_error_message, &m, &m.position, TP_PROTO_VAR_DATA_MAX, uint8_t,
        out->error_message, "errorMessage");
    return proto_ok();
}

int tp_proto_decode_shm_lease_revoked(const uint8_t *buf, size_t len, tp_proto_shm_lease_revoked_view_t *out)
{
    PROTO_BEGIN("ShmLeaseRevoked");
    tp_sbe_driver_shm_lease_revoked_t m;
    PROTO_WRAP(tp_sbe_driver_shm_lease_revoked_wrap_for_decode_with_header);
    out->timestamp_ns = tp_sbe_driver_shm_lease_revoked_timestamp_ns(&m);
    out->lease_id = tp_sbe_driver_shm_lease_revoked_lease_id(&m);
    out->stream_id = tp_sbe_driver_shm_lease_revoked_stream_id(&m);
    out->client_id = tp_sbe_driver_shm_lease_revoked_client_id(&m);
    out->role = tp_sbe_driver_shm_lease_revoked_role(&m);
    PROTO_ENUM(tp_sbe_driver_role, out->role, "role");
    out->reason = tp_sbe_driver_shm_lease_revoked_reason(&m);
    PROTO_ENUM(tp_sbe_driver_lease_revoke_reason, out->reason, "reason");
    PROTO_VAR(tp_sbe_driver_shm_lease_revoked_get_error_message, &m, &m.position, TP_PROTO_VAR_DATA_MAX, uint8_t,
        out->error_message, "errorMessage");
    return proto_ok();
}

int tp_proto_decode_shm_driver_shutdown_request(const uint8_t *buf, size_t len,
    tp_proto_shm_driver_shutdown_request_view_t *out)
{
    PROTO_BEGIN("ShmDriverShutdownRequest");
    tp_sbe_driver_shm_driver_shutdown_request_t m;
    PROTO_WRAP(tp_sbe_driver_shm_driver_shutdown_request_wrap_for_decode_with_header);
    out->correlation_id = tp_sbe_driver_shm_driver_shutdown_request_correlation_id(&m);
    out->reason = tp_sbe_driver_shm_driver_shutdown_request_reason(&m);
    PROTO_ENUM(tp_sbe_driver_shutdown_reason, out->reason, "reason");
    PROTO_VAR(tp_sbe_driver_shm_driver_shutdown_request_get_token, &m, &m.position, TP_PROTO_VAR_DATA_MAX, uint8_t,
        out->token, "token");
    PROTO_VAR(tp_sbe_driver_shm_driver_shutdown_request_get_error_message, &m, &m.position, TP_PROTO_VAR_DATA_MAX,
        uint8_t, out->error_message, "errorMessage");
    return proto_ok();
}
