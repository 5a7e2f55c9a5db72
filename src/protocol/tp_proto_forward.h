/*
 * Forwarded-message classifier (internal): the wire and TraceLink messages a
 * republishing stage (bridge, rate limiter) forwards with only streamId
 * rewritten. One call peeks the SBE header, runs the message's full decoder
 * and returns its class, stream id and the fields forwarding decisions need.
 * Same contract as tp_proto.h: nothing outside [buf, buf + len) is read, no
 * allocation, no locks, no system calls.
 *
 * Every message classified here has streamId (uint32) at block offset 0
 * (checked at compile time in tp_proto_forward.c): a forwarder rewrites the
 * four bytes after the 8-byte message header and leaves everything else,
 * meta_version included, as received.
 */
#ifndef TP_PROTOCOL_TP_PROTO_FORWARD_H
#define TP_PROTOCOL_TP_PROTO_FORWARD_H

#include <stddef.h>
#include <stdint.h>

/** What a forwardable message is. */
typedef enum tp_proto_forward_kind_en
{
    TP_PROTO_FWD_NONE = 0,      /**< not a forwardable message (other schema/template): ignore it */
    TP_PROTO_FWD_METADATA = 1,  /**< DataSourceAnnounce (wire 2) or DataSourceMeta (wire 3) */
    TP_PROTO_FWD_META_BLOB = 2, /**< MetaBlobAnnounce (10), MetaBlobChunk (12), MetaBlobComplete (13) */
    TP_PROTO_FWD_TRACELINK = 3, /**< TraceLinkSet (schema 904, template 1) */
    TP_PROTO_FWD_PROGRESS = 4,  /**< FrameProgress (wire 11) */
    TP_PROTO_FWD_QOS = 5        /**< QosConsumer (wire 5) or QosProducer (wire 6) */
}
tp_proto_forward_kind_t;

/** A classified forwardable message. */
typedef struct tp_proto_forward_view_stct
{
    tp_proto_forward_kind_t kind;
    uint16_t schema_id;
    uint16_t template_id;
    uint32_t stream_id;
    uint32_t meta_version; /**< METADATA and META_BLOB */
    uint64_t epoch;        /**< PROGRESS and TRACELINK */
    uint64_t seq;          /**< PROGRESS and TRACELINK */
}
tp_proto_forward_view_t;

/**
 * Classify and decode `buf`. Returns 1 with *out filled for a well-formed
 * forwardable message, 0 for any other (well-framed) message (out->kind
 * TP_PROTO_FWD_NONE), -1 when the header is unreadable or the message's
 * decoder rejects it (tp_errmsg() says why).
 */
int tp_proto_decode_forwardable(const uint8_t *buf, size_t len, tp_proto_forward_view_t *out);

#endif /* TP_PROTOCOL_TP_PROTO_FORWARD_H */
