/*
 * Forwarded-message classifier. See tp_proto_forward.h.
 */
#include "protocol/tp_proto_forward.h"

#include <string.h>

#include "common/tp_error.h"
#include "protocol/tp_proto.h"
#include "tp_sbe/tracelink.h"
#include "tp_sbe/wire.h"

_Static_assert(0 == TP_SBE_WIRE_DATA_SOURCE_ANNOUNCE_STREAM_ID_OFFSET &&
        0 == TP_SBE_WIRE_DATA_SOURCE_META_STREAM_ID_OFFSET && 0 == TP_SBE_WIRE_META_BLOB_ANNOUNCE_STREAM_ID_OFFSET &&
        0 == TP_SBE_WIRE_META_BLOB_CHUNK_STREAM_ID_OFFSET && 0 == TP_SBE_WIRE_META_BLOB_COMPLETE_STREAM_ID_OFFSET &&
        0 == TP_SBE_WIRE_FRAME_PROGRESS_STREAM_ID_OFFSET && 0 == TP_SBE_WIRE_QOS_PRODUCER_STREAM_ID_OFFSET &&
        0 == TP_SBE_WIRE_QOS_CONSUMER_STREAM_ID_OFFSET && 0 == TP_SBE_TRACELINK_TRACE_LINK_SET_STREAM_ID_OFFSET,
    "a forwarded message's streamId moved from block offset 0: forwarders rewrite it there");

/* Decode with `decoder` into a view of `view_type`; copy its stream id (and the named fields) into *out. */
#define FWD_DECODE(view_type, decoder, fwd_kind, ...)                                                        \
    do                                                                                                       \
    {                                                                                                        \
        view_type v;                                                                                         \
        if (decoder(buf, len, &v) < 0)                                                                       \
        {                                                                                                    \
            return -1;                                                                                       \
        }                                                                                                    \
        out->kind = (fwd_kind);                                                                              \
        out->stream_id = v.stream_id;                                                                        \
        __VA_ARGS__;                                                                                         \
        return 1;                                                                                            \
    } while (0)

static int decode_wire(const uint8_t *buf, size_t len, tp_proto_forward_view_t *out)
{
    switch (out->template_id)
    {
        case TP_SBE_WIRE_DATA_SOURCE_ANNOUNCE_TEMPLATE_ID:
            FWD_DECODE(tp_proto_data_source_announce_view_t, tp_proto_decode_data_source_announce,
                TP_PROTO_FWD_METADATA, out->meta_version = v.meta_version);
        case TP_SBE_WIRE_DATA_SOURCE_META_TEMPLATE_ID:
            FWD_DECODE(tp_proto_data_source_meta_view_t, tp_proto_decode_data_source_meta, TP_PROTO_FWD_METADATA,
                out->meta_version = v.meta_version);
        case TP_SBE_WIRE_META_BLOB_ANNOUNCE_TEMPLATE_ID:
            FWD_DECODE(tp_proto_meta_blob_announce_view_t, tp_proto_decode_meta_blob_announce, TP_PROTO_FWD_META_BLOB,
                out->meta_version = v.meta_version);
        case TP_SBE_WIRE_META_BLOB_CHUNK_TEMPLATE_ID:
            FWD_DECODE(tp_proto_meta_blob_chunk_view_t, tp_proto_decode_meta_blob_chunk, TP_PROTO_FWD_META_BLOB,
                out->meta_version = v.meta_version);
        case TP_SBE_WIRE_META_BLOB_COMPLETE_TEMPLATE_ID:
            FWD_DECODE(tp_proto_meta_blob_complete_view_t, tp_proto_decode_meta_blob_complete, TP_PROTO_FWD_META_BLOB,
                out->meta_version = v.meta_version);
        case TP_SBE_WIRE_FRAME_PROGRESS_TEMPLATE_ID:
            FWD_DECODE(tp_proto_frame_progress_view_t, tp_proto_decode_frame_progress, TP_PROTO_FWD_PROGRESS,
                out->epoch = v.epoch; out->seq = v.seq);
        case TP_SBE_WIRE_QOS_PRODUCER_TEMPLATE_ID:
            FWD_DECODE(tp_proto_qos_producer_view_t, tp_proto_decode_qos_producer, TP_PROTO_FWD_QOS, (void)0);
        case TP_SBE_WIRE_QOS_CONSUMER_TEMPLATE_ID:
            FWD_DECODE(tp_proto_qos_consumer_view_t, tp_proto_decode_qos_consumer, TP_PROTO_FWD_QOS, (void)0);
        default:
            return 0;
    }
}

int tp_proto_decode_forwardable(const uint8_t *buf, size_t len, tp_proto_forward_view_t *out)
{
    memset(out, 0, sizeof(*out));
    if (tp_proto_peek(buf, len, &out->schema_id, &out->template_id) < 0)
    {
        return -1;
    }
    if (TP_SBE_WIRE_SCHEMA_ID == out->schema_id)
    {
        int rc = decode_wire(buf, len, out);
        if (rc <= 0)
        {
            out->kind = TP_PROTO_FWD_NONE;
        }
        return rc;
    }
    if (TP_SBE_TRACELINK_SCHEMA_ID == out->schema_id && TP_SBE_TRACELINK_TRACE_LINK_SET_TEMPLATE_ID == out->template_id)
    {
        /* Structural check only (forwarders pass TraceLinkSet on as received; TraceLink consumers validate it). */
        tp_sbe_tracelink_trace_link_set_t t;
        if (TP_SBE_OK != tp_sbe_tracelink_trace_link_set_wrap_for_decode_with_header(&t, buf, 0, len) ||
            TP_SBE_OK != tp_sbe_tracelink_trace_link_set_skip(&t))
        {
            return tp_err_set(TP_ERR_MALFORMED, "TraceLinkSet: truncated or malformed");
        }
        out->kind = TP_PROTO_FWD_TRACELINK;
        out->stream_id = tp_sbe_tracelink_trace_link_set_stream_id(&t);
        out->epoch = tp_sbe_tracelink_trace_link_set_epoch(&t);
        out->seq = tp_sbe_tracelink_trace_link_set_seq(&t);
        return 1;
    }
    return 0;
}
