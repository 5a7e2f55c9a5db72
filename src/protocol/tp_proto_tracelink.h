/*
 * TraceLink decode/encode layer (internal): TraceLinkSet (schema 904,
 * template 1; TraceLink spec §9, §13, §16). Same contract as tp_proto.h:
 * buf holds one whole message with its 8-byte SBE header; nothing outside
 * [buf, buf + len) is read; returns 0 or -1 with tp_errcode()
 * TP_ERR_MALFORMED, tp_errmsg() naming the reason and tp_proto_tl_last_error()
 * the drop reason. No allocation, no locks, no system calls.
 *
 * Beyond the structural checks the decoder enforces the message's own MUSTs
 * (§9.2): the parents group is non-empty (numInGroup >= 1), every parent id
 * is non-zero (0 and the uint64 null, ERRATA 1, are "no trace") and unique,
 * and the output trace id is non-zero. Violations are MISSING_REQUIRED
 * (empty group, zero id) or BAD_VALUE (duplicate parent).
 */
#ifndef TP_PROTOCOL_TP_PROTO_TRACELINK_H
#define TP_PROTOCOL_TP_PROTO_TRACELINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/tp_proto.h"
#include "tp_sbe/tracelink.h"

/** Most parents a TraceLinkSet may carry here (larger counts: GROUP_OVERFLOW; the public TP_TRACELINK_MAX_PARENTS). */
#define TP_PROTO_TRACELINK_MAX_PARENTS 64u
/** Largest encoded TraceLinkSet: header + block + group header + parents. */
#define TP_PROTO_TRACELINK_MAX_LENGTH (8u + 28u + 4u + 8u * TP_PROTO_TRACELINK_MAX_PARENTS)
/** Extra drop reason of the TraceLink and MergeMap layers: a value the spec forbids (duplicate parent). */
#define TP_PROTO_BAD_VALUE ((tp_proto_error_t)11)

/** TraceLinkSet view. */
typedef struct tp_proto_trace_link_set_view_stct
{
    uint32_t stream_id;
    uint64_t epoch;
    uint64_t seq;
    uint64_t trace_id;                                 /**< non-zero */
    uint32_t parent_count;                             /**< 1..TP_PROTO_TRACELINK_MAX_PARENTS */
    uint64_t parents[TP_PROTO_TRACELINK_MAX_PARENTS];  /**< wire order, non-zero, unique */
}
tp_proto_trace_link_set_view_t;

/** Decode a TraceLinkSet. Returns 0 or -1 (see the file comment). */
int tp_proto_decode_trace_link_set(const uint8_t *buf, size_t len, tp_proto_trace_link_set_view_t *out);

/**
 * Encode a TraceLinkSet (with its message header) into buf. The same rules as
 * the decoder are checked first (1..64 parents, non-zero, unique; non-zero
 * trace id): TP_ERR_INVALID_ARGUMENT otherwise; TP_ERR_INVALID_ARGUMENT also
 * when capacity is too small. Sets *length_out. Returns 0 or -1.
 */
int tp_proto_encode_trace_link_set(uint8_t *buf, size_t capacity, const tp_proto_trace_link_set_view_t *msg,
    size_t *length_out);

/** Drop reason of the calling thread's last failed TraceLink/MergeMap decode (TP_PROTO_OK after a success). */
tp_proto_error_t tp_proto_tl_last_error(void);

/** Name of a drop reason, including TP_PROTO_BAD_VALUE ("BAD_VALUE"). */
const char *tp_proto_tl_error_name(tp_proto_error_t e);

/** Internal: record a drop reason for tp_proto_tl_last_error() and set tp_err (used by tp_proto_merge.c). */
int tp_proto_tl_fail(const char *msg, tp_proto_error_t e, const char *what);
/** Internal: clear the last drop reason; returns 0. */
int tp_proto_tl_ok(void);
/** Internal: map a TP_SBE_ERR_* of a wrap/group read to a drop reason. */
tp_proto_error_t tp_proto_tl_from_sbe(int rc);

#endif /* TP_PROTOCOL_TP_PROTO_TRACELINK_H */
