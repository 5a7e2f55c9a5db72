/*
 * Shared "last decode error" helpers of the decode layers. See tp_proto_status.h.
 */
#include "protocol/tp_proto_status.h"

#include "common/tp_error.h"

int tp_proto_status_fail(tp_proto_status_t *st, const char *msg, tp_proto_error_t e, const char *reason_name,
    const char *what)
{
    st->error = e;
    st->field = what;
    return tp_err_set(TP_ERR_MALFORMED, "%s: %s (%s)", msg, reason_name, what);
}
