/*
 * Fuzz target: the generated SBE codecs of the schemas that have no
 * structural decoder in src/protocol yet: bridge (902), discovery (910, both
 * the project layout and the reference layout 'discovery_ref'), join barrier /
 * merge maps (903) and TraceLink (904).
 *
 * For every message: wrap_for_decode_with_header, then skip() (walks every
 * group, nested group and var-data with bounds checks). Invariants: a
 * successful wrap means the fixed block is inside the input; a successful
 * skip means the whole message is; DiscoveryResponse and BridgeFrameChunk are
 * also walked field by field and every var-data must lie inside the input.
 */
#include "tp_fuzz.h"

#include "tp_sbe/bridge.h"
#include "tp_sbe/discovery.h"
#include "tp_sbe/discovery_ref.h"
#include "tp_sbe/merge.h"
#include "tp_sbe/tracelink.h"

#define IN_BUF(p, n) TP_FUZZ_CHECK(tp_fuzz_within((p), (n), data, size))

#define DECODE_AND_SKIP(P)                                                                               \
    do                                                                                                   \
    {                                                                                                    \
        P##_t m_;                                                                                        \
        int rc_ = P##_wrap_for_decode_with_header(&m_, data, 0, size);                                   \
        TP_FUZZ_CHECK(rc_ <= 0 && rc_ >= TP_SBE_ERR_BOUNDS);                                             \
        if (TP_SBE_OK == rc_)                                                                            \
        {                                                                                                \
            TP_FUZZ_CHECK(m_.offset == TP_SBE_MESSAGE_HEADER_LENGTH);                                    \
            TP_FUZZ_CHECK(m_.acting_block_length <= size - m_.offset);                                   \
            TP_FUZZ_CHECK(m_.position <= size);                                                          \
            rc_ = P##_skip(&m_);                                                                         \
            TP_FUZZ_CHECK(rc_ <= 0 && rc_ >= TP_SBE_ERR_BOUNDS);                                         \
            if (TP_SBE_OK == rc_)                                                                        \
            {                                                                                            \
                TP_FUZZ_CHECK(m_.position <= size);                                                      \
                TP_FUZZ_CHECK(P##_encoded_length(&m_) <= size - m_.offset);                              \
            }                                                                                            \
        }                                                                                                \
    } while (0)

static void walk_discovery_response(const uint8_t *data, size_t size)
{
    tp_sbe_discovery_discovery_response_t m;
    if (TP_SBE_OK != tp_sbe_discovery_discovery_response_wrap_for_decode_with_header(&m, data, 0, size))
    {
        return;
    }
    tp_sbe_discovery_discovery_response_results_t r;
    if (TP_SBE_OK != tp_sbe_discovery_discovery_response_get_results(&m, &r))
    {
        return;
    }
    const char *s;
    uint32_t n;
    while (tp_sbe_discovery_discovery_response_results_has_next(&r))
    {
        if (TP_SBE_OK != tp_sbe_discovery_discovery_response_results_next(&r))
        {
            return;
        }
        (void)tp_sbe_discovery_discovery_response_results_stream_id(&r);
        tp_sbe_discovery_discovery_response_results_payload_pools_t p;
        if (TP_SBE_OK != tp_sbe_discovery_discovery_response_results_get_payload_pools(&r, &p))
        {
            return;
        }
        while (tp_sbe_discovery_discovery_response_results_payload_pools_has_next(&p))
        {
            if (TP_SBE_OK != tp_sbe_discovery_discovery_response_results_payload_pools_next(&p) ||
                TP_SBE_OK != tp_sbe_discovery_discovery_response_results_payload_pools_get_region_uri(&p, &s, &n))
            {
                return;
            }
            IN_BUF(s, n);
        }
        tp_sbe_discovery_discovery_response_results_tags_t t;
        if (TP_SBE_OK != tp_sbe_discovery_discovery_response_results_get_tags(&r, &t))
        {
            return;
        }
        while (tp_sbe_discovery_discovery_response_results_tags_has_next(&t))
        {
            if (TP_SBE_OK != tp_sbe_discovery_discovery_response_results_tags_next(&t) ||
                TP_SBE_OK != tp_sbe_discovery_discovery_response_results_tags_get_tag(&t, &s, &n))
            {
                return;
            }
            IN_BUF(s, n);
        }
        if (TP_SBE_OK != tp_sbe_discovery_discovery_response_results_get_header_region_uri(&r, &s, &n))
        {
            return;
        }
        IN_BUF(s, n);
        if (TP_SBE_OK != tp_sbe_discovery_discovery_response_results_get_data_source_name(&r, &s, &n))
        {
            return;
        }
        IN_BUF(s, n);
        if (TP_SBE_OK != tp_sbe_discovery_discovery_response_results_get_driver_instance_id(&r, &s, &n))
        {
            return;
        }
        IN_BUF(s, n);
        if (TP_SBE_OK != tp_sbe_discovery_discovery_response_results_get_driver_control_channel(&r, &s, &n))
        {
            return;
        }
        IN_BUF(s, n);
    }
    if (TP_SBE_OK == tp_sbe_discovery_discovery_response_get_error_message(&m, &s, &n))
    {
        IN_BUF(s, n);
        TP_FUZZ_CHECK(m.position <= size);
    }
}

static void walk_bridge_chunk(const uint8_t *data, size_t size)
{
    tp_sbe_bridge_bridge_frame_chunk_t m;
    if (TP_SBE_OK != tp_sbe_bridge_bridge_frame_chunk_wrap_for_decode_with_header(&m, data, 0, size))
    {
        return;
    }
    (void)tp_sbe_bridge_bridge_frame_chunk_header_included(&m);
    const uint8_t *p;
    uint32_t n;
    if (TP_SBE_OK != tp_sbe_bridge_bridge_frame_chunk_get_header_bytes(&m, &p, &n))
    {
        return;
    }
    IN_BUF(p, n);
    if (TP_SBE_OK != tp_sbe_bridge_bridge_frame_chunk_get_payload_bytes(&m, &p, &n))
    {
        return;
    }
    IN_BUF(p, n);
    TP_FUZZ_CHECK(m.position <= size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tp_sbe_header_t h;
    TP_FUZZ_CHECK((tp_sbe_peek_header(data, size, &h) == TP_SBE_OK) == (size >= TP_SBE_MESSAGE_HEADER_LENGTH));

    DECODE_AND_SKIP(tp_sbe_bridge_bridge_frame_chunk);
    DECODE_AND_SKIP(tp_sbe_discovery_discovery_request);
    DECODE_AND_SKIP(tp_sbe_discovery_discovery_response);
    DECODE_AND_SKIP(tp_sbe_discovery_ref_discovery_request);
    DECODE_AND_SKIP(tp_sbe_discovery_ref_discovery_response);
    DECODE_AND_SKIP(tp_sbe_merge_sequence_merge_map_announce);
    DECODE_AND_SKIP(tp_sbe_merge_sequence_merge_map_request);
    DECODE_AND_SKIP(tp_sbe_merge_timestamp_merge_map_announce);
    DECODE_AND_SKIP(tp_sbe_merge_timestamp_merge_map_request);
    DECODE_AND_SKIP(tp_sbe_tracelink_trace_link_set);

    walk_discovery_response(data, size);
    walk_bridge_chunk(data, size);
    return 0;
}
