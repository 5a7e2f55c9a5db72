/*
 * Bridge decode layer: BridgeFrameChunk (schema 902). See tp_proto_bridge.h.
 */
#include "protocol/tp_proto_bridge.h"

#include <string.h>

#include "common/tp_error.h"

static _Thread_local tp_proto_error_t bridge_last_error = TP_PROTO_OK;

tp_proto_error_t tp_proto_bridge_last_error(void)
{
    return bridge_last_error;
}

const char *tp_bridge_chunk_rule_name(tp_bridge_chunk_rule_t r)
{
    switch (r)
    {
        case TP_BRIDGE_RULE_OK: return "OK";
        case TP_BRIDGE_RULE_CHUNK_COUNT: return "CHUNK_COUNT";
        case TP_BRIDGE_RULE_HEADER_FLAG: return "HEADER_FLAG";
        case TP_BRIDGE_RULE_CHUNK_OFFSET: return "CHUNK_OFFSET";
        case TP_BRIDGE_RULE_CHUNK_LENGTH: return "CHUNK_LENGTH";
        case TP_BRIDGE_RULE_OVERSIZE: return "OVERSIZE";
        default: return "UNKNOWN";
    }
}

static int bridge_fail(tp_proto_error_t e, const char *what)
{
    bridge_last_error = e;
    return tp_err_set(TP_ERR_MALFORMED, "BridgeFrameChunk: %s (%s)", tp_proto_error_name(e), what);
}

static tp_proto_error_t bridge_from_sbe(int rc)
{
    switch (rc)
    {
        case TP_SBE_OK: return TP_PROTO_OK;
        case TP_SBE_ERR_SCHEMA_ID: return TP_PROTO_WRONG_SCHEMA;
        case TP_SBE_ERR_TEMPLATE_ID: return TP_PROTO_WRONG_TEMPLATE;
        case TP_SBE_ERR_VERSION: return TP_PROTO_BAD_VERSION;
        case TP_SBE_ERR_BLOCK_LENGTH: return TP_PROTO_BAD_BLOCK_LENGTH;
        default: return TP_PROTO_TOO_SHORT;
    }
}

/* Var-data at pos: length over `max` is VAR_DATA_OVERFLOW (before any copy), past the buffer TOO_SHORT. */
static tp_proto_error_t bridge_var_check(const uint8_t *buf, size_t len, size_t pos, uint64_t max)
{
    if (pos > len || len - pos < 4u)
    {
        return TP_PROTO_TOO_SHORT;
    }
    uint32_t n = tp_sbe_get_u32(buf + pos);
    if (n > max)
    {
        return TP_PROTO_VAR_DATA_OVERFLOW;
    }
    if (n > len - pos - 4u)
    {
        return TP_PROTO_TOO_SHORT;
    }
    return TP_PROTO_OK;
}

int tp_proto_decode_bridge_chunk(const uint8_t *buf, size_t len, uint32_t max_payload_bytes,
    tp_proto_bridge_chunk_view_t *out)
{
    if (NULL == buf || NULL == out)
    {
        return bridge_fail(TP_PROTO_NULL_BUFFER, "arguments");
    }
    memset(out, 0, sizeof(*out));
    tp_sbe_bridge_bridge_frame_chunk_t m;
    int rc = tp_sbe_bridge_bridge_frame_chunk_wrap_for_decode_with_header(&m, buf, 0, len);
    if (TP_SBE_OK != rc)
    {
        return bridge_fail(bridge_from_sbe(rc), tp_sbe_strerror(rc));
    }
    out->stream_id = tp_sbe_bridge_bridge_frame_chunk_stream_id(&m);
    out->epoch = tp_sbe_bridge_bridge_frame_chunk_epoch(&m);
    out->seq = tp_sbe_bridge_bridge_frame_chunk_seq(&m);
    out->trace_id = tp_sbe_bridge_bridge_frame_chunk_trace_id_is_null(&m) ? 0 : tp_sbe_bridge_bridge_frame_chunk_trace_id(&m);
    out->chunk_index = tp_sbe_bridge_bridge_frame_chunk_chunk_index(&m);
    out->chunk_count = tp_sbe_bridge_bridge_frame_chunk_chunk_count(&m);
    out->chunk_offset = tp_sbe_bridge_bridge_frame_chunk_chunk_offset(&m);
    out->chunk_length = tp_sbe_bridge_bridge_frame_chunk_chunk_length(&m);
    out->payload_length = tp_sbe_bridge_bridge_frame_chunk_payload_length(&m);
    out->payload_crc32c = tp_sbe_bridge_bridge_frame_chunk_payload_crc32c(&m);
    uint8_t hi = (uint8_t)tp_sbe_bridge_bridge_frame_chunk_header_included(&m);
    if (!tp_sbe_bridge_bool_is_valid(hi))
    {
        return bridge_fail(255 == hi ? TP_PROTO_MISSING_REQUIRED : TP_PROTO_BAD_ENUM, "headerIncluded");
    }
    out->header_included = 1 == hi;
    tp_proto_error_t e = bridge_var_check(buf, len, tp_sbe_bridge_bridge_frame_chunk_position(&m), TP_BRIDGE_HEADER_BYTES);
    if (TP_PROTO_OK != e)
    {
        return bridge_fail(e, "headerBytes");
    }
    if (TP_SBE_OK != tp_sbe_bridge_bridge_frame_chunk_get_header_bytes(&m, &out->header_bytes.data, &out->header_bytes.length))
    {
        return bridge_fail(TP_PROTO_TOO_SHORT, "headerBytes");
    }
    e = bridge_var_check(buf, len, tp_sbe_bridge_bridge_frame_chunk_position(&m), max_payload_bytes);
    if (TP_PROTO_OK != e)
    {
        return bridge_fail(e, "payloadBytes");
    }
    if (TP_SBE_OK != tp_sbe_bridge_bridge_frame_chunk_get_payload_bytes(&m, &out->payload.data, &out->payload.length))
    {
        return bridge_fail(TP_PROTO_TOO_SHORT, "payloadBytes");
    }
    bridge_last_error = TP_PROTO_OK;
    return 0;
}

tp_bridge_chunk_rule_t tp_proto_bridge_chunk_check(const tp_proto_bridge_chunk_view_t *c, uint32_t max_chunk_bytes,
    uint32_t max_payload_bytes)
{
    if (0 == c->chunk_count || c->chunk_count > TP_BRIDGE_MAX_CHUNKS || c->chunk_index >= c->chunk_count)
    {
        return TP_BRIDGE_RULE_CHUNK_COUNT;
    }
    if (c->header_included != (0 == c->chunk_index) ||
        c->header_bytes.length != (c->header_included ? TP_BRIDGE_HEADER_BYTES : 0u))
    {
        return TP_BRIDGE_RULE_HEADER_FLAG;
    }
    if (c->payload_length > max_payload_bytes || c->chunk_count > (c->payload_length > 0 ? c->payload_length : 1u))
    {
        return TP_BRIDGE_RULE_OVERSIZE;
    }
    if (c->payload.length != c->chunk_length || c->chunk_length > max_chunk_bytes ||
        (0 == c->chunk_length && 0 != c->payload_length))
    {
        return TP_BRIDGE_RULE_CHUNK_LENGTH;
    }
    if ((0 == c->chunk_index && 0 != c->chunk_offset) || c->chunk_offset > c->payload_length ||
        c->chunk_length > c->payload_length - c->chunk_offset)
    {
        return TP_BRIDGE_RULE_CHUNK_OFFSET;
    }
    return TP_BRIDGE_RULE_OK;
}

int tp_proto_encode_bridge_chunk_frame(uint8_t *buf, size_t capacity, const tp_proto_bridge_chunk_view_t *c,
    uint32_t header_length, uint8_t **header_out, uint8_t **payload_out, size_t *length_out)
{
    if (NULL == buf || NULL == c || header_length > TP_BRIDGE_HEADER_BYTES)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "BridgeFrameChunk encode: NULL argument or header longer than 256");
    }
    size_t need = tp_proto_bridge_chunk_encoded_length(header_length, c->chunk_length);
    if (need > capacity)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "BridgeFrameChunk encode: needs %zu bytes, buffer has %zu", need,
            capacity);
    }
    tp_sbe_bridge_bridge_frame_chunk_t m;
    if (TP_SBE_OK != tp_sbe_bridge_bridge_frame_chunk_wrap_and_apply_header(&m, buf, 0, capacity))
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "BridgeFrameChunk encode: buffer too small");
    }
    tp_sbe_bridge_bridge_frame_chunk_set_stream_id(&m, c->stream_id);
    tp_sbe_bridge_bridge_frame_chunk_set_epoch(&m, c->epoch);
    tp_sbe_bridge_bridge_frame_chunk_set_seq(&m, c->seq);
    tp_sbe_bridge_bridge_frame_chunk_set_trace_id(&m, c->trace_id);
    tp_sbe_bridge_bridge_frame_chunk_set_chunk_index(&m, c->chunk_index);
    tp_sbe_bridge_bridge_frame_chunk_set_chunk_count(&m, c->chunk_count);
    tp_sbe_bridge_bridge_frame_chunk_set_chunk_offset(&m, c->chunk_offset);
    tp_sbe_bridge_bridge_frame_chunk_set_chunk_length(&m, c->chunk_length);
    tp_sbe_bridge_bridge_frame_chunk_set_payload_length(&m, c->payload_length);
    tp_sbe_bridge_bridge_frame_chunk_set_payload_crc32c(&m, c->payload_crc32c);
    tp_sbe_bridge_bridge_frame_chunk_set_header_included(&m, (tp_sbe_bridge_bool_t)(c->header_included ? 1 : 0));
    uint8_t *p = buf + TP_SBE_MESSAGE_HEADER_LENGTH + TP_SBE_BRIDGE_BRIDGE_FRAME_CHUNK_BLOCK_LENGTH;
    tp_sbe_put_u32(p, header_length);
    if (NULL != header_out)
    {
        *header_out = p + 4;
    }
    p += 4u + header_length;
    tp_sbe_put_u32(p, c->chunk_length);
    if (NULL != payload_out)
    {
        *payload_out = p + 4;
    }
    if (NULL != length_out)
    {
        *length_out = need;
    }
    return 0;
}

int tp_proto_encode_bridge_chunk(uint8_t *buf, size_t capacity, const tp_proto_bridge_chunk_view_t *c,
    size_t *length_out)
{
    if (NULL == c || (c->header_bytes.length > 0 && NULL == c->header_bytes.data) ||
        (c->chunk_length > 0 && NULL == c->payload.data))
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "BridgeFrameChunk encode: NULL argument");
    }
    uint8_t *h = NULL;
    uint8_t *p = NULL;
    if (tp_proto_encode_bridge_chunk_frame(buf, capacity, c, c->header_bytes.length, &h, &p, length_out) < 0)
    {
        return -1;
    }
    if (c->header_bytes.length > 0)
    {
        memcpy(h, c->header_bytes.data, c->header_bytes.length);
    }
    if (c->chunk_length > 0)
    {
        memcpy(p, c->payload.data, c->chunk_length);
    }
    return 0;
}

void tp_proto_bridge_set_crc32c(uint8_t *buf, uint32_t crc)
{
    tp_sbe_put_u32(buf + TP_SBE_MESSAGE_HEADER_LENGTH + TP_SBE_BRIDGE_BRIDGE_FRAME_CHUNK_PAYLOAD_CRC32C_OFFSET, crc);
}
