/*
 * MergeMap decode/encode layer (internal): the join-barrier schema (id 903;
 * Join Barrier spec §10, §15): SequenceMergeMapAnnounce (1),
 * SequenceMergeMapRequest (2), TimestampMergeMapAnnounce (3),
 * TimestampMergeMapRequest (4). Same contract as tp_proto.h (whole message
 * with its header in buf, nothing read outside it, 0 or -1 with
 * TP_ERR_MALFORMED and tp_proto_tl_last_error() the drop reason, no
 * allocation).
 *
 * Checks are structural: header gating, the rules group inside the buffer
 * and at most TP_PROTO_MERGE_MAX_RULES, enums known (a required enum at its
 * null value is MISSING_REQUIRED). The rule pairing rules of §6.2/§6.3
 * (OFFSET needs offset and no windowSize, ...) are NOT checked here: a map
 * violating them must still reach the join barrier, which treats the map as
 * invalid until replaced (src/join/tp_merge_map.c).
 */
#ifndef TP_PROTOCOL_TP_PROTO_MERGE_H
#define TP_PROTOCOL_TP_PROTO_MERGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/tp_proto_tracelink.h"
#include "tp_sbe/merge.h"

/** Most rules a MergeMap announce may carry here (larger counts: GROUP_OVERFLOW). */
#define TP_PROTO_MERGE_MAX_RULES 64u
/** Largest encoded announce (timestamp rules are the larger ones). */
#define TP_PROTO_MERGE_MAX_LENGTH (8u + 29u + 4u + 30u * TP_PROTO_MERGE_MAX_RULES)

/** One SequenceMergeMapAnnounce rule. */
typedef struct tp_proto_seq_merge_rule_view_stct
{
    uint32_t input_stream_id;
    tp_sbe_merge_merge_rule_type_t rule_type;
    bool has_offset;
    int32_t offset;
    bool has_window_size;
    uint32_t window_size;
}
tp_proto_seq_merge_rule_view_t;

/** SequenceMergeMapAnnounce (template 1). */
typedef struct tp_proto_seq_merge_map_announce_view_stct
{
    uint32_t out_stream_id;
    uint64_t epoch;
    bool has_stale_timeout_ns;
    uint64_t stale_timeout_ns;
    uint32_t rule_count;                                     /**< 0..TP_PROTO_MERGE_MAX_RULES */
    tp_proto_seq_merge_rule_view_t rules[TP_PROTO_MERGE_MAX_RULES];
}
tp_proto_seq_merge_map_announce_view_t;

/** One TimestampMergeMapAnnounce rule. */
typedef struct tp_proto_ts_merge_rule_view_stct
{
    uint32_t input_stream_id;
    tp_sbe_merge_merge_time_rule_type_t rule_type;
    tp_sbe_merge_timestamp_source_t timestamp_source;
    bool has_offset_ns;
    int64_t offset_ns;
    bool has_window_ns;
    uint64_t window_ns;
}
tp_proto_ts_merge_rule_view_t;

/** TimestampMergeMapAnnounce (template 3). */
typedef struct tp_proto_ts_merge_map_announce_view_stct
{
    uint32_t out_stream_id;
    uint64_t epoch;
    bool has_stale_timeout_ns;
    uint64_t stale_timeout_ns;
    tp_sbe_merge_clock_domain_t clock_domain;
    bool has_lateness_ns;
    uint64_t lateness_ns;
    uint32_t rule_count;
    tp_proto_ts_merge_rule_view_t rules[TP_PROTO_MERGE_MAX_RULES];
}
tp_proto_ts_merge_map_announce_view_t;

/** SequenceMergeMapRequest (2) and TimestampMergeMapRequest (4). */
typedef struct tp_proto_merge_map_request_view_stct
{
    uint32_t out_stream_id;
    uint64_t epoch;
}
tp_proto_merge_map_request_view_t;

int tp_proto_decode_seq_merge_map_announce(const uint8_t *buf, size_t len, tp_proto_seq_merge_map_announce_view_t *out);
int tp_proto_decode_seq_merge_map_request(const uint8_t *buf, size_t len, tp_proto_merge_map_request_view_t *out);
int tp_proto_decode_ts_merge_map_announce(const uint8_t *buf, size_t len, tp_proto_ts_merge_map_announce_view_t *out);
int tp_proto_decode_ts_merge_map_request(const uint8_t *buf, size_t len, tp_proto_merge_map_request_view_t *out);

/*
 * Encoders (with the message header). Absent optionals are written as the
 * schema's null values. Fail with TP_ERR_INVALID_ARGUMENT on NULL arguments,
 * more than TP_PROTO_MERGE_MAX_RULES rules or a buffer too small. The rule
 * pairing is the caller's (tp_merge_map validates before announcing; tests
 * encode invalid maps on purpose). Set *length_out; return 0 or -1.
 */
int tp_proto_encode_seq_merge_map_announce(uint8_t *buf, size_t capacity,
    const tp_proto_seq_merge_map_announce_view_t *msg, size_t *length_out);
int tp_proto_encode_seq_merge_map_request(uint8_t *buf, size_t capacity, const tp_proto_merge_map_request_view_t *msg,
    size_t *length_out);
int tp_proto_encode_ts_merge_map_announce(uint8_t *buf, size_t capacity,
    const tp_proto_ts_merge_map_announce_view_t *msg, size_t *length_out);
int tp_proto_encode_ts_merge_map_request(uint8_t *buf, size_t capacity, const tp_proto_merge_map_request_view_t *msg,
    size_t *length_out);

#endif /* TP_PROTOCOL_TP_PROTO_MERGE_H */
