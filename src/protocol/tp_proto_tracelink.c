/*
 * TraceLinkSet decode/encode (TraceLink spec §9, §16). See tp_proto_tracelink.h.
 */
#include "protocol/tp_proto_tracelink.h"

#include <string.h>

#include "common/tp_error.h"
#include "protocol/tp_proto_status.h"

/* The TraceLink/MergeMap layer's own state (its field is not reported). */
static _Thread_local tp_proto_status_t tl_status = TP_PROTO_STATUS_INIT;

tp_proto_error_t tp_proto_tl_last_error(void)
{
    return tl_status.error;
}

const char *tp_proto_tl_error_name(tp_proto_error_t e)
{
    return TP_PROTO_BAD_VALUE == e ? "BAD_VALUE" : tp_proto_error_name(e);
}

int tp_proto_tl_fail(const char *msg, tp_proto_error_t e, const char *what)
{
    return tp_proto_status_fail(&tl_status, msg, e, tp_proto_tl_error_name(e), what);
}

int tp_proto_tl_ok(void)
{
    return tp_proto_status_ok(&tl_status);
}

tp_proto_error_t tp_proto_tl_from_sbe(int rc)
{
    return tp_proto_status_from_sbe(rc);
}

/* 0 and the uint64 null (ERRATA 1) both mean "no trace". */
static bool tl_is_null(uint64_t id)
{
    return 0 == id || UINT64_MAX == id;
}

/* The §9.2 rules on a parent list: TP_PROTO_OK, MISSING_REQUIRED (zero id) or BAD_VALUE (duplicate). */
static tp_proto_error_t tl_check_parents(const uint64_t *parents, uint32_t count, const char **what)
{
    for (uint32_t i = 0; i < count; i++)
    {
        if (tl_is_null(parents[i]))
        {
            *what = "parents.traceId is 0 (the null sentinel is invalid in a TraceLinkSet)";
            return TP_PROTO_MISSING_REQUIRED;
        }
        for (uint32_t j = 0; j < i; j++)
        {
            if (parents[j] == parents[i])
            {
                *what = "parents.traceId repeated (parent ids must be unique)";
                return TP_PROTO_BAD_VALUE;
            }
        }
    }
    return TP_PROTO_OK;
}

int tp_proto_decode_trace_link_set(const uint8_t *buf, size_t len, tp_proto_trace_link_set_view_t *out)
{
    static const char msg[] = "TraceLinkSet";
    if (NULL == buf || NULL == out)
    {
        return tp_proto_tl_fail(msg, TP_PROTO_NULL_BUFFER, "arguments");
    }
    memset(out, 0, sizeof(*out));
    tp_sbe_tracelink_trace_link_set_t m;
    tp_sbe_tracelink_trace_link_set_parents_t g;
    int rc = tp_sbe_tracelink_trace_link_set_wrap_for_decode_with_header(&m, buf, 0, len);
    if (TP_SBE_OK != rc)
    {
        return tp_proto_tl_fail(msg, tp_proto_tl_from_sbe(rc), tp_sbe_strerror(rc));
    }
    out->stream_id = tp_sbe_tracelink_trace_link_set_stream_id(&m);
    out->epoch = tp_sbe_tracelink_trace_link_set_epoch(&m);
    out->seq = tp_sbe_tracelink_trace_link_set_seq(&m);
    out->trace_id = tp_sbe_tracelink_trace_link_set_trace_id(&m);
    rc = tp_sbe_tracelink_trace_link_set_get_parents(&m, &g);
    if (TP_SBE_OK != rc)
    {
        return tp_proto_tl_fail(msg, tp_proto_tl_from_sbe(rc), "parents header");
    }
    uint64_t count = tp_sbe_tracelink_trace_link_set_parents_count(&g);
    if (count > TP_PROTO_TRACELINK_MAX_PARENTS)
    {
        return tp_proto_tl_fail(msg, TP_PROTO_GROUP_OVERFLOW, "parents");
    }
    for (uint32_t i = 0; i < (uint32_t)count; i++)
    {
        if (TP_SBE_OK != tp_sbe_tracelink_trace_link_set_parents_next(&g))
        {
            return tp_proto_tl_fail(msg, TP_PROTO_TOO_SHORT, "parents element");
        }
        out->parents[i] = tp_sbe_tracelink_trace_link_set_parents_trace_id(&g);
    }
    out->parent_count = (uint32_t)count;
    if (tl_is_null(out->trace_id))
    {
        return tp_proto_tl_fail(msg, TP_PROTO_MISSING_REQUIRED, "traceId is 0");
    }
    if (0 == count)
    {
        return tp_proto_tl_fail(msg, TP_PROTO_MISSING_REQUIRED, "parents is empty (numInGroup must be >= 1)");
    }
    const char *what = "";
    tp_proto_error_t e = tl_check_parents(out->parents, out->parent_count, &what);
    if (TP_PROTO_OK != e)
    {
        return tp_proto_tl_fail(msg, e, what);
    }
    return tp_proto_tl_ok();
}

int tp_proto_encode_trace_link_set(uint8_t *buf, size_t capacity, const tp_proto_trace_link_set_view_t *msg,
    size_t *length_out)
{
    if (NULL == buf || NULL == msg || NULL == length_out)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "TraceLinkSet encode: NULL argument");
    }
    if (tl_is_null(msg->trace_id))
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "TraceLinkSet encode: the output trace id must be non-zero");
    }
    if (0 == msg->parent_count || msg->parent_count > TP_PROTO_TRACELINK_MAX_PARENTS)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "TraceLinkSet encode: %u parents (1..%u allowed)", msg->parent_count,
            TP_PROTO_TRACELINK_MAX_PARENTS);
    }
    const char *what = "";
    if (TP_PROTO_OK != tl_check_parents(msg->parents, msg->parent_count, &what))
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "TraceLinkSet encode: %s", what);
    }
    tp_sbe_tracelink_trace_link_set_t m = { 0 };
    tp_sbe_tracelink_trace_link_set_parents_t g;
    if (TP_SBE_OK != tp_sbe_tracelink_trace_link_set_wrap_and_apply_header(&m, buf, 0, capacity))
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "TraceLinkSet encode: buffer of %zu bytes too small", capacity);
    }
    tp_sbe_tracelink_trace_link_set_set_stream_id(&m, msg->stream_id);
    tp_sbe_tracelink_trace_link_set_set_epoch(&m, msg->epoch);
    tp_sbe_tracelink_trace_link_set_set_seq(&m, msg->seq);
    tp_sbe_tracelink_trace_link_set_set_trace_id(&m, msg->trace_id);
    if (TP_SBE_OK != tp_sbe_tracelink_trace_link_set_set_parents_count(&m, &g, (uint16_t)msg->parent_count))
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "TraceLinkSet encode: buffer of %zu bytes too small", capacity);
    }
    for (uint32_t i = 0; i < msg->parent_count; i++)
    {
        if (TP_SBE_OK != tp_sbe_tracelink_trace_link_set_parents_next(&g))
        {
            return tp_err_set(TP_ERR_INVALID_ARGUMENT, "TraceLinkSet encode: buffer of %zu bytes too small", capacity);
        }
        tp_sbe_tracelink_trace_link_set_parents_set_trace_id(&g, msg->parents[i]);
    }
    *length_out = 8u + tp_sbe_tracelink_trace_link_set_encoded_length(&m);
    return 0;
}
