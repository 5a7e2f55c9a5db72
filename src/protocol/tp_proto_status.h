/*
 * The "last decode error" state every decode layer keeps (wire and driver in
 * tp_proto.c, discovery, TraceLink/MergeMap): a drop reason and the field it
 * concerns, per thread. Each layer owns its own _Thread_local
 * tp_proto_status_t (their last_error() functions stay independent) and
 * updates it through these helpers. Internal to src/protocol.
 */
#ifndef TP_PROTO_STATUS_H
#define TP_PROTO_STATUS_H

#include "protocol/tp_proto.h"
#include "tp_sbe/common.h"

/** A decode layer's last result: the drop reason (TP_PROTO_OK after a success) and the field ("" then). */
typedef struct tp_proto_status_stct
{
    tp_proto_error_t error;
    const char *field;
}
tp_proto_status_t;

/** Initialiser of a tp_proto_status_t: no error yet. */
#define TP_PROTO_STATUS_INIT { TP_PROTO_OK, "" }

/** Record a successful decode in st. Returns 0. */
static inline int tp_proto_status_ok(tp_proto_status_t *st)
{
    st->error = TP_PROTO_OK;
    st->field = "";
    return 0;
}

/**
 * Record a failed decode in st (reason e, field what) and set the error
 * TP_ERR_MALFORMED "msg: reason_name (what)". Returns -1.
 */
int tp_proto_status_fail(tp_proto_status_t *st, const char *msg, tp_proto_error_t e, const char *reason_name,
    const char *what);

/** The drop reason of a TP_SBE_ERR_* returned by a header/block wrap (anything else: TOO_SHORT). */
static inline tp_proto_error_t tp_proto_status_from_sbe(int rc)
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

#endif
