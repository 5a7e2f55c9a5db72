/*
 * MergeMap decode/encode (Join Barrier spec §10, §15). See tp_proto_merge.h.
 */
#include "protocol/tp_proto_merge.h"

#include <string.h>

#include "common/tp_error.h"

#define MERGE_FAIL(E, WHAT) return tp_proto_tl_fail(msg, (E), (WHAT))

/* A required enum: null value -> MISSING_REQUIRED, other undefined value -> BAD_ENUM. */
static tp_proto_error_t merge_enum(bool valid, int64_t v, int64_t null_value)
{
    if (valid)
    {
        return TP_PROTO_OK;
    }
    return v == null_value ? TP_PROTO_MISSING_REQUIRED : TP_PROTO_BAD_ENUM;
}

int tp_proto_decode_seq_merge_map_announce(const uint8_t *buf, size_t len, tp_proto_seq_merge_map_announce_view_t *out)
{
    static const char msg[] = "SequenceMergeMapAnnounce";
    if (NULL == buf || NULL == out)
    {
        MERGE_FAIL(TP_PROTO_NULL_BUFFER, "arguments");
    }
    memset(out, 0, sizeof(*out));
    tp_sbe_merge_sequence_merge_map_announce_t m;
    tp_sbe_merge_sequence_merge_map_announce_rules_t g;
    int rc = tp_sbe_merge_sequence_merge_map_announce_wrap_for_decode_with_header(&m, buf, 0, len);
    if (TP_SBE_OK != rc)
    {
        MERGE_FAIL(tp_proto_tl_from_sbe(rc), tp_sbe_strerror(rc));
    }
    out->out_stream_id = tp_sbe_merge_sequence_merge_map_announce_out_stream_id(&m);
    out->epoch = tp_sbe_merge_sequence_merge_map_announce_epoch(&m);
    out->has_stale_timeout_ns = !tp_sbe_merge_sequence_merge_map_announce_stale_timeout_ns_is_null(&m);
    out->stale_timeout_ns = out->has_stale_timeout_ns ? tp_sbe_merge_sequence_merge_map_announce_stale_timeout_ns(&m) : 0;
    rc = tp_sbe_merge_sequence_merge_map_announce_get_rules(&m, &g);
    if (TP_SBE_OK != rc)
    {
        MERGE_FAIL(tp_proto_tl_from_sbe(rc), "rules header");
    }
    uint64_t count = tp_sbe_merge_sequence_merge_map_announce_rules_count(&g);
    if (count > TP_PROTO_MERGE_MAX_RULES)
    {
        MERGE_FAIL(TP_PROTO_GROUP_OVERFLOW, "rules");
    }
    for (uint32_t i = 0; i < (uint32_t)count; i++)
    {
        tp_proto_seq_merge_rule_view_t *r = &out->rules[i];
        if (TP_SBE_OK != tp_sbe_merge_sequence_merge_map_announce_rules_next(&g))
        {
            MERGE_FAIL(TP_PROTO_TOO_SHORT, "rules element");
        }
        r->input_stream_id = tp_sbe_merge_sequence_merge_map_announce_rules_input_stream_id(&g);
        r->rule_type = tp_sbe_merge_sequence_merge_map_announce_rules_rule_type(&g);
        tp_proto_error_t e = merge_enum(tp_sbe_merge_merge_rule_type_is_valid(r->rule_type), r->rule_type,
            TP_SBE_MERGE_MERGE_RULE_TYPE_NULL_VALUE);
        if (TP_PROTO_OK != e)
        {
            MERGE_FAIL(e, "rules.ruleType");
        }
        r->has_offset = !tp_sbe_merge_sequence_merge_map_announce_rules_offset_is_null(&g);
        r->offset = r->has_offset ? tp_sbe_merge_sequence_merge_map_announce_rules_offset(&g) : 0;
        r->has_window_size = !tp_sbe_merge_sequence_merge_map_announce_rules_window_size_is_null(&g);
        r->window_size = r->has_window_size ? tp_sbe_merge_sequence_merge_map_announce_rules_window_size(&g) : 0;
    }
    out->rule_count = (uint32_t)count;
    return tp_proto_tl_ok();
}

int tp_proto_decode_ts_merge_map_announce(const uint8_t *buf, size_t len, tp_proto_ts_merge_map_announce_view_t *out)
{
    static const char msg[] = "TimestampMergeMapAnnounce";
    if (NULL == buf || NULL == out)
    {
        MERGE_FAIL(TP_PROTO_NULL_BUFFER, "arguments");
    }
    memset(out, 0, sizeof(*out));
    tp_sbe_merge_timestamp_merge_map_announce_t m;
    tp_sbe_merge_timestamp_merge_map_announce_rules_t g;
    int rc = tp_sbe_merge_timestamp_merge_map_announce_wrap_for_decode_with_header(&m, buf, 0, len);
    if (TP_SBE_OK != rc)
    {
        MERGE_FAIL(tp_proto_tl_from_sbe(rc), tp_sbe_strerror(rc));
    }
    out->out_stream_id = tp_sbe_merge_timestamp_merge_map_announce_out_stream_id(&m);
    out->epoch = tp_sbe_merge_timestamp_merge_map_announce_epoch(&m);
    out->has_stale_timeout_ns = !tp_sbe_merge_timestamp_merge_map_announce_stale_timeout_ns_is_null(&m);
    out->stale_timeout_ns = out->has_stale_timeout_ns ? tp_sbe_merge_timestamp_merge_map_announce_stale_timeout_ns(&m) : 0;
    out->clock_domain = tp_sbe_merge_timestamp_merge_map_announce_clock_domain(&m);
    tp_proto_error_t e = merge_enum(tp_sbe_merge_clock_domain_is_valid(out->clock_domain), out->clock_domain,
        TP_SBE_MERGE_CLOCK_DOMAIN_NULL_VALUE);
    if (TP_PROTO_OK != e)
    {
        MERGE_FAIL(e, "clockDomain");
    }
    out->has_lateness_ns = !tp_sbe_merge_timestamp_merge_map_announce_lateness_ns_is_null(&m);
    out->lateness_ns = out->has_lateness_ns ? tp_sbe_merge_timestamp_merge_map_announce_lateness_ns(&m) : 0;
    rc = tp_sbe_merge_timestamp_merge_map_announce_get_rules(&m, &g);
    if (TP_SBE_OK != rc)
    {
        MERGE_FAIL(tp_proto_tl_from_sbe(rc), "rules header");
    }
    uint64_t count = tp_sbe_merge_timestamp_merge_map_announce_rules_count(&g);
    if (count > TP_PROTO_MERGE_MAX_RULES)
    {
        MERGE_FAIL(TP_PROTO_GROUP_OVERFLOW, "rules");
    }
    for (uint32_t i = 0; i < (uint32_t)count; i++)
    {
        tp_proto_ts_merge_rule_view_t *r = &out->rules[i];
        if (TP_SBE_OK != tp_sbe_merge_timestamp_merge_map_announce_rules_next(&g))
        {
            MERGE_FAIL(TP_PROTO_TOO_SHORT, "rules element");
        }
        r->input_stream_id = tp_sbe_merge_timestamp_merge_map_announce_rules_input_stream_id(&g);
        r->rule_type = tp_sbe_merge_timestamp_merge_map_announce_rules_rule_type(&g);
        e = merge_enum(tp_sbe_merge_merge_time_rule_type_is_valid(r->rule_type), r->rule_type,
            TP_SBE_MERGE_MERGE_TIME_RULE_TYPE_NULL_VALUE);
        if (TP_PROTO_OK != e)
        {
            MERGE_FAIL(e, "rules.ruleType");
        }
        r->timestamp_source = tp_sbe_merge_timestamp_merge_map_announce_rules_timestamp_source(&g);
        e = merge_enum(tp_sbe_merge_timestamp_source_is_valid(r->timestamp_source), r->timestamp_source,
            TP_SBE_MERGE_TIMESTAMP_SOURCE_NULL_VALUE);
        if (TP_PROTO_OK != e)
        {
            MERGE_FAIL(e, "rules.timestampSource");
        }
        r->has_offset_ns = !tp_sbe_merge_timestamp_merge_map_announce_rules_offset_ns_is_null(&g);
        r->offset_ns = r->has_offset_ns ? tp_sbe_merge_timestamp_merge_map_announce_rules_offset_ns(&g) : 0;
        r->has_window_ns = !tp_sbe_merge_timestamp_merge_map_announce_rules_window_ns_is_null(&g);
        r->window_ns = r->has_window_ns ? tp_sbe_merge_timestamp_merge_map_announce_rules_window_ns(&g) : 0;
    }
    out->rule_count = (uint32_t)count;
    return tp_proto_tl_ok();
}

#define MERGE_DECODE_REQUEST(FN, NAME, PFX)                                                                \
    int FN(const uint8_t *buf, size_t len, tp_proto_merge_map_request_view_t *out)                         \
    {                                                                                                      \
        static const char msg[] = NAME;                                                                    \
        if (NULL == buf || NULL == out)                                                                    \
        {                                                                                                  \
            MERGE_FAIL(TP_PROTO_NULL_BUFFER, "arguments");                                                 \
        }                                                                                                  \
        memset(out, 0, sizeof(*out));                                                                      \
        PFX##_t m;                                                                                         \
        int rc = PFX##_wrap_for_decode_with_header(&m, buf, 0, len);                                       \
        if (TP_SBE_OK != rc)                                                                               \
        {                                                                                                  \
            MERGE_FAIL(tp_proto_tl_from_sbe(rc), tp_sbe_strerror(rc));                                     \
        }                                                                                                  \
        out->out_stream_id = PFX##_out_stream_id(&m);                                                      \
        out->epoch = PFX##_epoch(&m);                                                                      \
        return tp_proto_tl_ok();                                                                           \
    }

MERGE_DECODE_REQUEST(tp_proto_decode_seq_merge_map_request, "SequenceMergeMapRequest",
    tp_sbe_merge_sequence_merge_map_request)
MERGE_DECODE_REQUEST(tp_proto_decode_ts_merge_map_request, "TimestampMergeMapRequest",
    tp_sbe_merge_timestamp_merge_map_request)

#define MERGE_ENC_FAIL(NAME) return tp_err_set(TP_ERR_INVALID_ARGUMENT, "%s encode: buffer of %zu bytes too small", NAME, capacity)

int tp_proto_encode_seq_merge_map_announce(uint8_t *buf, size_t capacity,
    const tp_proto_seq_merge_map_announce_view_t *msg, size_t *length_out)
{
    static const char name[] = "SequenceMergeMapAnnounce";
    if (NULL == buf || NULL == msg || NULL == length_out || msg->rule_count > TP_PROTO_MERGE_MAX_RULES)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "%s encode: NULL argument or more than %u rules", name,
            TP_PROTO_MERGE_MAX_RULES);
    }
    tp_sbe_merge_sequence_merge_map_announce_t m = { 0 };
    tp_sbe_merge_sequence_merge_map_announce_rules_t g;
    if (TP_SBE_OK != tp_sbe_merge_sequence_merge_map_announce_wrap_and_apply_header(&m, buf, 0, capacity))
    {
        MERGE_ENC_FAIL(name);
    }
    tp_sbe_merge_sequence_merge_map_announce_set_out_stream_id(&m, msg->out_stream_id);
    tp_sbe_merge_sequence_merge_map_announce_set_epoch(&m, msg->epoch);
    tp_sbe_merge_sequence_merge_map_announce_set_stale_timeout_ns(&m,
        msg->has_stale_timeout_ns ? msg->stale_timeout_ns : TP_SBE_MERGE_SEQUENCE_MERGE_MAP_ANNOUNCE_STALE_TIMEOUT_NS_NULL_VALUE);
    if (TP_SBE_OK != tp_sbe_merge_sequence_merge_map_announce_set_rules_count(&m, &g, (uint16_t)msg->rule_count))
    {
        MERGE_ENC_FAIL(name);
    }
    for (uint32_t i = 0; i < msg->rule_count; i++)
    {
        const tp_proto_seq_merge_rule_view_t *r = &msg->rules[i];
        if (TP_SBE_OK != tp_sbe_merge_sequence_merge_map_announce_rules_next(&g))
        {
            MERGE_ENC_FAIL(name);
        }
        tp_sbe_merge_sequence_merge_map_announce_rules_set_input_stream_id(&g, r->input_stream_id);
        tp_sbe_merge_sequence_merge_map_announce_rules_set_rule_type(&g, r->rule_type);
        tp_sbe_merge_sequence_merge_map_announce_rules_set_offset(&g,
            r->has_offset ? r->offset : TP_SBE_MERGE_SEQUENCE_MERGE_MAP_ANNOUNCE_RULES_OFFSET_NULL_VALUE);
        tp_sbe_merge_sequence_merge_map_announce_rules_set_window_size(&g,
            r->has_window_size ? r->window_size : TP_SBE_MERGE_SEQUENCE_MERGE_MAP_ANNOUNCE_RULES_WINDOW_SIZE_NULL_VALUE);
    }
    *length_out = TP_SBE_MESSAGE_HEADER_LENGTH + tp_sbe_merge_sequence_merge_map_announce_encoded_length(&m);
    return 0;
}

int tp_proto_encode_ts_merge_map_announce(uint8_t *buf, size_t capacity,
    const tp_proto_ts_merge_map_announce_view_t *msg, size_t *length_out)
{
    static const char name[] = "TimestampMergeMapAnnounce";
    if (NULL == buf || NULL == msg || NULL == length_out || msg->rule_count > TP_PROTO_MERGE_MAX_RULES)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "%s encode: NULL argument or more than %u rules", name,
            TP_PROTO_MERGE_MAX_RULES);
    }
    tp_sbe_merge_timestamp_merge_map_announce_t m = { 0 };
    tp_sbe_merge_timestamp_merge_map_announce_rules_t g;
    if (TP_SBE_OK != tp_sbe_merge_timestamp_merge_map_announce_wrap_and_apply_header(&m, buf, 0, capacity))
    {
        MERGE_ENC_FAIL(name);
    }
    tp_sbe_merge_timestamp_merge_map_announce_set_out_stream_id(&m, msg->out_stream_id);
    tp_sbe_merge_timestamp_merge_map_announce_set_epoch(&m, msg->epoch);
    tp_sbe_merge_timestamp_merge_map_announce_set_stale_timeout_ns(&m, msg->has_stale_timeout_ns
            ? msg->stale_timeout_ns
            : TP_SBE_MERGE_TIMESTAMP_MERGE_MAP_ANNOUNCE_STALE_TIMEOUT_NS_NULL_VALUE);
    tp_sbe_merge_timestamp_merge_map_announce_set_clock_domain(&m, msg->clock_domain);
    tp_sbe_merge_timestamp_merge_map_announce_set_lateness_ns(&m,
        msg->has_lateness_ns ? msg->lateness_ns : TP_SBE_MERGE_TIMESTAMP_MERGE_MAP_ANNOUNCE_LATENESS_NS_NULL_VALUE);
    if (TP_SBE_OK != tp_sbe_merge_timestamp_merge_map_announce_set_rules_count(&m, &g, (uint16_t)msg->rule_count))
    {
        MERGE_ENC_FAIL(name);
    }
    for (uint32_t i = 0; i < msg->rule_count; i++)
    {
        const tp_proto_ts_merge_rule_view_t *r = &msg->rules[i];
        if (TP_SBE_OK != tp_sbe_merge_timestamp_merge_map_announce_rules_next(&g))
        {
            MERGE_ENC_FAIL(name);
        }
        tp_sbe_merge_timestamp_merge_map_announce_rules_set_input_stream_id(&g, r->input_stream_id);
        tp_sbe_merge_timestamp_merge_map_announce_rules_set_rule_type(&g, r->rule_type);
        tp_sbe_merge_timestamp_merge_map_announce_rules_set_timestamp_source(&g, r->timestamp_source);
        tp_sbe_merge_timestamp_merge_map_announce_rules_set_offset_ns(&g,
            r->has_offset_ns ? r->offset_ns : TP_SBE_MERGE_TIMESTAMP_MERGE_MAP_ANNOUNCE_RULES_OFFSET_NS_NULL_VALUE);
        tp_sbe_merge_timestamp_merge_map_announce_rules_set_window_ns(&g,
            r->has_window_ns ? r->window_ns : TP_SBE_MERGE_TIMESTAMP_MERGE_MAP_ANNOUNCE_RULES_WINDOW_NS_NULL_VALUE);
    }
    *length_out = TP_SBE_MESSAGE_HEADER_LENGTH + tp_sbe_merge_timestamp_merge_map_announce_encoded_length(&m);
    return 0;
}

#define MERGE_ENCODE_REQUEST(FN, NAME, PFX)                                                                \
    int FN(uint8_t *buf, size_t capacity, const tp_proto_merge_map_request_view_t *msg, size_t *length_out) \
    {                                                                                                      \
        if (NULL == buf || NULL == msg || NULL == length_out)                                              \
        {                                                                                                  \
            return tp_err_set(TP_ERR_INVALID_ARGUMENT, "%s encode: NULL argument", NAME);                  \
        }                                                                                                  \
        PFX##_t m = { 0 };                                                                                 \
        if (TP_SBE_OK != PFX##_wrap_and_apply_header(&m, buf, 0, capacity))                                \
        {                                                                                                  \
            MERGE_ENC_FAIL(NAME);                                                                          \
        }                                                                                                  \
        PFX##_set_out_stream_id(&m, msg->out_stream_id);                                                   \
        PFX##_set_epoch(&m, msg->epoch);                                                                   \
        *length_out = TP_SBE_MESSAGE_HEADER_LENGTH + PFX##_encoded_length(&m);                             \
        return 0;                                                                                          \
    }

MERGE_ENCODE_REQUEST(tp_proto_encode_seq_merge_map_request, "SequenceMergeMapRequest",
    tp_sbe_merge_sequence_merge_map_request)
MERGE_ENCODE_REQUEST(tp_proto_encode_ts_merge_map_request, "TimestampMergeMapRequest",
    tp_sbe_merge_timestamp_merge_map_request)
