/*
 * Inline decoders for the frame path (the consumer's descriptor handler runs
 * once per frame): the same structural checks and the same view as the
 * out-of-line decoder in tp_proto.h, without the error state (a message that
 * does not decode is the caller's counted drop). tests/protocol checks that
 * both decoders agree on valid, truncated and mutated messages.
 */
#ifndef TP_PROTOCOL_TP_PROTO_HOT_H
#define TP_PROTOCOL_TP_PROTO_HOT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "protocol/tp_proto.h"
#include "tp_sbe/wire.h"

_Static_assert(TP_SBE_WIRE_FRAME_DESCRIPTOR_STREAM_ID_OFFSET == 0 && TP_SBE_WIRE_FRAME_DESCRIPTOR_EPOCH_OFFSET == 4 &&
        TP_SBE_WIRE_FRAME_DESCRIPTOR_SEQ_OFFSET == 12 && TP_SBE_WIRE_FRAME_DESCRIPTOR_TIMESTAMP_NS_OFFSET == 20 &&
        TP_SBE_WIRE_FRAME_DESCRIPTOR_META_VERSION_OFFSET == 28 && TP_SBE_WIRE_FRAME_DESCRIPTOR_TRACE_ID_OFFSET == 32 &&
        TP_SBE_WIRE_FRAME_DESCRIPTOR_BLOCK_LENGTH == 40,
    "FrameDescriptor layout changed: update tp_proto_hot_decode_frame_descriptor");

/**
 * FrameDescriptor (template 4) of `len` bytes at `buf` into *out, as
 * tp_proto_decode_frame_descriptor does (message header: schema 900,
 * template 4, version <= the schema's, block length >= 40 and within `len`;
 * a longer block from a newer minor version is accepted). Returns true when
 * it decodes; false leaves *out unspecified. No error state, no call.
 */
static inline bool tp_proto_hot_decode_frame_descriptor(const uint8_t *buf, size_t len,
    tp_proto_frame_descriptor_view_t *out)
{
    if (NULL == buf || len < TP_SBE_MESSAGE_HEADER_LENGTH)
    {
        return false;
    }
    /* template first: the cheapest test that tells a descriptor from the other messages of a stream */
    uint16_t block_length = tp_sbe_get_u16(buf);
    if (TP_SBE_WIRE_FRAME_DESCRIPTOR_TEMPLATE_ID != tp_sbe_get_u16(buf + 2) ||
        TP_SBE_WIRE_SCHEMA_ID != tp_sbe_get_u16(buf + 4) || tp_sbe_get_u16(buf + 6) > TP_SBE_WIRE_SCHEMA_VERSION ||
        block_length < TP_SBE_WIRE_FRAME_DESCRIPTOR_BLOCK_LENGTH ||
        block_length > len - TP_SBE_MESSAGE_HEADER_LENGTH)
    {
        return false;
    }
    const uint8_t *m = buf + TP_SBE_MESSAGE_HEADER_LENGTH;
    out->stream_id = tp_sbe_get_u32(m + 0);
    out->epoch = tp_sbe_get_u64(m + 4);
    out->seq = tp_sbe_get_u64(m + 12);
    out->timestamp_ns = tp_sbe_get_u64(m + 20);
    out->has_timestamp_ns = TP_SBE_WIRE_FRAME_DESCRIPTOR_TIMESTAMP_NS_NULL_VALUE != out->timestamp_ns;
    out->meta_version = tp_sbe_get_u32(m + 28);
    out->has_meta_version = TP_SBE_WIRE_FRAME_DESCRIPTOR_META_VERSION_NULL_VALUE != out->meta_version;
    uint64_t trace = tp_sbe_get_u64(m + 32);
    out->has_trace_id = 0 != trace && UINT64_MAX != trace; /* ERRATA 1 */
    out->trace_id = out->has_trace_id ? trace : 0;
    return true;
}

#endif
