/*
 * Fuzz target: the TraceLinkSet decoder (src/protocol/tp_proto_tracelink.h).
 * Invariants: a failure sets TP_ERR_MALFORMED and a drop reason; a success
 * yields 1..64 parents, all non-zero and unique, a non-zero trace id, and
 * re-encodes to a message that decodes to the same view (round trip).
 */
#include "tp_fuzz.h"

#include "protocol/tp_proto_tracelink.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static tp_proto_trace_link_set_view_t v, w;
    static uint8_t buf[TP_PROTO_TRACELINK_MAX_LENGTH];
    int rc = tp_proto_decode_trace_link_set(data, size, &v);
    if (rc < 0)
    {
        TP_FUZZ_CHECK(-1 == rc);
        TP_FUZZ_CHECK(TP_ERR_MALFORMED == tp_errcode());
        TP_FUZZ_CHECK(TP_PROTO_OK != tp_proto_tl_last_error());
        return 0;
    }
    TP_FUZZ_CHECK(0 == rc && TP_PROTO_OK == tp_proto_tl_last_error());
    TP_FUZZ_CHECK(v.parent_count >= 1 && v.parent_count <= TP_PROTO_TRACELINK_MAX_PARENTS);
    TP_FUZZ_CHECK(0 != v.trace_id);
    for (uint32_t i = 0; i < v.parent_count; i++)
    {
        TP_FUZZ_CHECK(0 != v.parents[i] && UINT64_MAX != v.parents[i]);
        for (uint32_t j = 0; j < i; j++)
        {
            TP_FUZZ_CHECK(v.parents[i] != v.parents[j]);
        }
    }
    size_t len = 0;
    TP_FUZZ_CHECK(0 == tp_proto_encode_trace_link_set(buf, sizeof(buf), &v, &len));
    TP_FUZZ_CHECK(0 == tp_proto_decode_trace_link_set(buf, len, &w));
    TP_FUZZ_CHECK(0 == memcmp(&v, &w, sizeof(v)));
    return 0;
}
