/*
 * tensorpool: MergeMap and JoinBarrier (Join Barrier spec v1.0).
 *
 * A join stage holds N consumers (one per input stream) and one output
 * producer. It feeds every input frame it sees to a join barrier
 * (tp_join_barrier_observe, from the consumers' frame callbacks) and asks the
 * barrier whether an output may be attempted:
 *
 *   SEQUENCE      tp_join_barrier_ready_seq(out_seq)    rules: in_seq = out_seq + offset,
 *                                                       or the window [out_seq - N + 1, out_seq]
 *   TIMESTAMP     tp_join_barrier_ready_time(out_time)  rules: in_time = out_time + offset_ns,
 *                                                       or [out_time - window_ns, out_time]; latenessNs
 *   LATEST_VALUE  tp_join_barrier_ready_latest()        the newest in-epoch frame of every input
 *
 * The rules come from a MergeMap scoped to (out_stream_id, epoch): applied
 * directly (tp_join_barrier_apply_seq_map / _ts_map) or learnt from the
 * control stream through a tp_merge_map_listener_t, which sends
 * SequenceMergeMapRequest / TimestampMergeMapRequest while the barrier has
 * none (late join, §10.3). The MergeMap authority of an output stream
 * (tp_merge_map_authority_t) re-announces its maps at a low cadence and
 * answers requests (§10.1, §10.4).
 *
 * The barrier only gates ATTEMPTS (§5, §7.2, §8.3): it never waits for slot
 * commit, never prevents overwrite; the stage reads the input frames it
 * selected once and drops what fails validation (LATEST_VALUE: report it with
 * tp_join_barrier_invalidate_latest, the input is then absent until a newer
 * frame arrives).
 *
 * Threading: a barrier belongs to one thread (the join stage's duty cycle,
 * e.g. the client conductor in invoker mode). After creation nothing
 * allocates: observe/ready/processed are O(number of inputs), no locks, no
 * system calls. docs/JOIN.md.
 */
#ifndef TENSOR_POOL_TP_JOIN_H
#define TENSOR_POOL_TP_JOIN_H

#include "tensor_pool/tp_common.h"
#include "tensor_pool/tp_consumer.h"
#include "tensor_pool/tp_context.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Most inputs (rules) of one MergeMap / barrier. */
#define TP_JOIN_MAX_INPUTS 32

/** Kinds of join barrier (§4). */
typedef enum tp_join_kind_enum
{
    TP_JOIN_SEQUENCE = 1,
    TP_JOIN_TIMESTAMP = 2,
    TP_JOIN_LATEST_VALUE = 3
} tp_join_kind_t;

/** Sequence rule types (§6.2; wire values of MergeRuleType). */
typedef enum tp_merge_rule_type_enum
{
    TP_MERGE_RULE_OFFSET = 0, /**< in_seq = out_seq + offset */
    TP_MERGE_RULE_WINDOW = 1  /**< in_seq in [out_seq - window_size + 1, out_seq] */
} tp_merge_rule_type_t;

/** Timestamp rule types (§6.3; wire values of MergeTimeRuleType). */
typedef enum tp_merge_time_rule_type_enum
{
    TP_MERGE_TIME_RULE_OFFSET_NS = 0, /**< in_time = out_time + offset_ns */
    TP_MERGE_TIME_RULE_WINDOW_NS = 1  /**< in_time in [out_time - window_ns, out_time] */
} tp_merge_time_rule_type_t;

/** Where a timestamp rule reads an input's time (§8.2; wire values of TimestampSource). */
typedef enum tp_timestamp_source_enum
{
    TP_TIMESTAMP_SOURCE_FRAME_DESCRIPTOR = 1, /**< tp_frame_t.descriptor_timestamp_ns (availability time) */
    TP_TIMESTAMP_SOURCE_SLOT_HEADER = 2       /**< tp_frame_t.timestamp_ns (capture time) */
} tp_timestamp_source_t;

/** Clock domain of a timestamp MergeMap (wire values of ClockDomain). */
typedef enum tp_join_clock_domain_enum
{
    TP_JOIN_CLOCK_MONOTONIC = 1,
    TP_JOIN_CLOCK_REALTIME_SYNCED = 2
} tp_join_clock_domain_t;

/** One sequence rule. Exactly one parameter present: OFFSET has_offset, WINDOW has_window_size (>= 1). */
typedef struct tp_merge_seq_rule_stct
{
    uint32_t input_stream_id;
    tp_merge_rule_type_t type;
    bool has_offset;
    int32_t offset;
    bool has_window_size;
    uint32_t window_size;
} tp_merge_seq_rule_t;

/** Sequence MergeMap of (out_stream_id, epoch) (SequenceMergeMapAnnounce). */
typedef struct tp_seq_merge_map_stct
{
    uint32_t out_stream_id;
    uint64_t epoch;
    bool has_stale_timeout_ns;   /**< staleness policy (§7.4); absent: block on missing inputs */
    uint64_t stale_timeout_ns;
    uint32_t rule_count;         /**< 1..TP_JOIN_MAX_INPUTS, one rule per input stream */
    tp_merge_seq_rule_t rules[TP_JOIN_MAX_INPUTS];
} tp_seq_merge_map_t;

/** One timestamp rule. Exactly one parameter: OFFSET_NS has_offset_ns, WINDOW_NS has_window_ns (>= 1). */
typedef struct tp_merge_ts_rule_stct
{
    uint32_t input_stream_id;
    tp_merge_time_rule_type_t type;
    tp_timestamp_source_t timestamp_source;
    bool has_offset_ns;
    int64_t offset_ns;
    bool has_window_ns;
    uint64_t window_ns;
} tp_merge_ts_rule_t;

/** Timestamp MergeMap of (out_stream_id, epoch) (TimestampMergeMapAnnounce). */
typedef struct tp_ts_merge_map_stct
{
    uint32_t out_stream_id;
    uint64_t epoch;
    bool has_stale_timeout_ns;
    uint64_t stale_timeout_ns;
    tp_join_clock_domain_t clock_domain;
    bool has_lateness_ns;        /**< absent: lateness 0 (strict) */
    uint64_t lateness_ns;
    uint32_t rule_count;
    tp_merge_ts_rule_t rules[TP_JOIN_MAX_INPUTS];
} tp_ts_merge_map_t;

/**
 * Check a sequence MergeMap (§6.2): 1..TP_JOIN_MAX_INPUTS rules, input
 * streams unique, a known type with exactly its parameter (OFFSET: offset,
 * no window size; WINDOW: window size >= 1, no offset). Returns 0, or -1
 * with TP_ERR_INVALID_ARGUMENT naming the rule and the problem.
 */
TP_EXPORT int tp_seq_merge_map_validate(const tp_seq_merge_map_t *map);

/** Check a timestamp MergeMap (§6.3, §8.2): as above, plus a known clock domain and timestamp sources. */
TP_EXPORT int tp_ts_merge_map_validate(const tp_ts_merge_map_t *map);

/* ------------------------------------------------------------------------- */
/* Join barrier                                                               */
/* ------------------------------------------------------------------------- */

/** Opaque join barrier. */
typedef struct tp_join_barrier_stct tp_join_barrier_t;

/** Barrier configuration. */
typedef struct tp_join_barrier_config_stct
{
    tp_join_kind_t kind;
    uint32_t out_stream_id;     /**< the output stream the MergeMaps must name */
    uint64_t out_epoch;         /**< the output epoch the MergeMaps must name (tp_join_barrier_set_epoch changes it) */
    bool use_processed_cursor;  /**< also require processed cursors/times (§7.1, §8.1 "if configured") */
} tp_join_barrier_config_t;

/** Per-input part of a readiness answer. */
typedef struct tp_join_input_stct
{
    uint32_t stream_id;
    bool absent;            /**< stale (§7.4) or invalidated (LATEST_VALUE): not part of this output */
    uint64_t seq_low;       /**< SEQUENCE: required in_seq range (OFFSET: low == high) */
    uint64_t seq_high;
    uint64_t time_low;      /**< TIMESTAMP: required in_time range (OFFSET_NS: low == high) */
    uint64_t time_high;
    uint64_t latest_seq;       /**< newest observed frame of the input (current epoch) */
    uint64_t latest_trace_id;  /**< its trace id (0: none) */
    uint64_t latest_time_ns;   /**< its timestamp (rule's source; slot header for SEQUENCE/LATEST_VALUE) */
    uint64_t epoch;            /**< the input's current epoch */
} tp_join_input_t;

/** Readiness answer: inputs in rule order. */
typedef struct tp_join_result_stct
{
    uint32_t input_count;
    uint32_t absent_count;  /**< inputs marked absent (the stage must surface them, §7.4) */
    tp_join_input_t inputs[TP_JOIN_MAX_INPUTS];
} tp_join_result_t;

/** Barrier counters (monotonic). */
typedef struct tp_join_barrier_stats_stct
{
    uint64_t observed;           /**< frames observed on a mapped input */
    uint64_t observed_unknown;   /**< frames of streams no rule names (ignored) */
    uint64_t maps_applied;
    uint64_t maps_rejected;      /**< invalid maps (the barrier stays blocked until a valid one) */
    uint64_t maps_ignored;       /**< maps for another out stream or epoch */
    uint64_t ready;              /**< ready answers */
    uint64_t not_ready;
    uint64_t blocked_no_map;     /**< asked while no valid map (§7.3) */
    uint64_t stale_absent;       /**< inputs treated as absent because stale */
    uint64_t rejected;           /**< TIMESTAMP: clock-domain mismatch, non-monotonic time (join rejected) */
    uint64_t non_monotonic;      /**< TIMESTAMP: inputs rejected for timestamps going back */
    uint64_t invalidated;        /**< LATEST_VALUE: selections reported invalid */
} tp_join_barrier_stats_t;

/** Create a barrier (the only allocation). Blocked until a matching MergeMap is applied. Returns 0 or -1. */
TP_EXPORT int tp_join_barrier_create(tp_join_barrier_t **out, const tp_join_barrier_config_t *config);

/** Free a barrier. Returns 0. */
TP_EXPORT int tp_join_barrier_close(tp_join_barrier_t *barrier);

/** Kind, output stream and output epoch of the barrier. */
TP_EXPORT tp_join_kind_t tp_join_barrier_kind(const tp_join_barrier_t *barrier);
TP_EXPORT uint32_t tp_join_barrier_out_stream_id(const tp_join_barrier_t *barrier);
TP_EXPORT uint64_t tp_join_barrier_out_epoch(const tp_join_barrier_t *barrier);

/** True while the barrier has a valid MergeMap for its (out_stream_id, epoch). */
TP_EXPORT bool tp_join_barrier_has_map(const tp_join_barrier_t *barrier);

/**
 * Apply a sequence MergeMap (SEQUENCE barriers; LATEST_VALUE barriers take
 * their input streams from it, ignoring the rule parameters, §9.1).
 * Returns 1 applied; 0 ignored (another out_stream_id or epoch, or a
 * TIMESTAMP barrier); -1 invalid (TP_ERR_INVALID_ARGUMENT): a map for this
 * (out_stream_id, epoch) that breaks §6.2 makes the barrier blocked until a
 * valid map replaces it (§6.2 "treated as invalid until replaced"). Any
 * change invalidates readiness until applied (§6.4): the observed state of
 * inputs kept by the new map is retained, others start empty.
 */
TP_EXPORT int tp_join_barrier_apply_seq_map(tp_join_barrier_t *barrier, const tp_seq_merge_map_t *map);

/** Apply a timestamp MergeMap (TIMESTAMP barriers; LATEST_VALUE takes its streams and clock domain). Same results. */
TP_EXPORT int tp_join_barrier_apply_ts_map(tp_join_barrier_t *barrier, const tp_ts_merge_map_t *map);

/**
 * The output stream moved to `epoch` (§6.4): the current MergeMap is dropped
 * and the barrier blocks until a map for the new epoch is applied.
 * Returns 0.
 */
TP_EXPORT int tp_join_barrier_set_epoch(tp_join_barrier_t *barrier, uint64_t epoch);

/**
 * Record a frame of an input stream (its FrameDescriptor / slot was seen):
 * observed cursor = highest seq, observed time per source, latest frame,
 * last-observed local time `now_ns` (CLOCK_MONOTONIC, for staleness). A
 * frame of a new epoch of that input restarts its state (sequence numbers
 * restart; LATEST_VALUE never uses frames of an earlier epoch, §9.1); frames
 * of an older epoch are ignored. `descriptor_timestamp_ns` is
 * TP_NULL_TIMESTAMP when absent, `slot_timestamp_ns` 0 when absent.
 * Returns 1 recorded, 0 ignored (no rule names the stream, or an older
 * epoch), -1 for a NULL barrier.
 */
TP_EXPORT int tp_join_barrier_observe(tp_join_barrier_t *barrier, uint32_t stream_id, uint64_t epoch, uint64_t seq,
    uint64_t descriptor_timestamp_ns, uint64_t slot_timestamp_ns, uint64_t trace_id, uint64_t now_ns);

/** tp_join_barrier_observe() with the fields of a consumer's frame view. */
TP_EXPORT int tp_join_barrier_observe_frame(tp_join_barrier_t *barrier, const tp_frame_t *frame, uint64_t now_ns);

/**
 * Record that the stage processed input frame `seq` (time `time_ns` in the
 * rule's source, 0 if unknown) of `stream_id`: the processed cursor/time
 * used when config.use_processed_cursor is set. Returns 1, 0 (unknown stream) or -1 (NULL barrier).
 */
TP_EXPORT int tp_join_barrier_processed(tp_join_barrier_t *barrier, uint32_t stream_id, uint64_t seq, uint64_t time_ns);

/**
 * SEQUENCE readiness of `out_seq` (§7.1): for every rule, observed cursor
 * (and processed cursor if configured) >= the required in_seq (OFFSET:
 * out_seq + offset, not ready while negative; WINDOW: the upper bound
 * out_seq, not ready while out_seq + 1 < N). With a staleness timeout in the
 * map, inputs whose last frame is older than it (local time) are marked
 * absent and the rest decide (at least one input must be present).
 * Returns 1 ready (`result` filled: required ranges, latest frames, absent
 * inputs), 0 not ready or blocked (no valid map), -1 wrong barrier kind.
 */
TP_EXPORT int tp_join_barrier_ready_seq(tp_join_barrier_t *barrier, uint64_t out_seq, uint64_t now_ns,
    tp_join_result_t *result);

/**
 * TIMESTAMP readiness of `out_time` in `clock_domain` (§8.1): for every
 * rule, observed time (and processed time if configured) >= required upper
 * bound - lateness_ns (OFFSET_NS: out_time + offset_ns, not ready while
 * negative; WINDOW_NS: out_time, not ready while out_time < window_ns); an
 * input with no timestamp yet is not ready. Returns 1 ready, 0 not ready or
 * blocked, -1 rejected: clock_domain differs from the map's, out_time went
 * back for this output, or an input's timestamps went back (that input is
 * rejected for timestamp joins until its next epoch, §8.2).
 */
TP_EXPORT int tp_join_barrier_ready_time(tp_join_barrier_t *barrier, uint64_t out_time,
    tp_join_clock_domain_t clock_domain, uint64_t now_ns, tp_join_result_t *result);

/**
 * LATEST_VALUE readiness (§9): ready when every input named by the map has
 * at least one observed frame in its current epoch that was not
 * invalidated; `result` names the newest frame of each (by sequence).
 * Stale inputs (map's staleTimeoutNs) are marked absent instead of blocking.
 * Returns 1 ready, 0 not ready or blocked, -1 wrong kind.
 */
TP_EXPORT int tp_join_barrier_ready_latest(tp_join_barrier_t *barrier, uint64_t now_ns, tp_join_result_t *result);

/**
 * LATEST_VALUE: the selected frame `seq` of `stream_id` was overwritten or
 * failed slot validation (§9.1): the input is absent until a newer frame is
 * observed. Returns 1 applied, 0 nothing to do.
 */
TP_EXPORT int tp_join_barrier_invalidate_latest(tp_join_barrier_t *barrier, uint32_t stream_id, uint64_t seq);

/** Copy the counters. Returns 0 or -1. */
TP_EXPORT int tp_join_barrier_stats(const tp_join_barrier_t *barrier, tp_join_barrier_stats_t *stats);

/* ------------------------------------------------------------------------- */
/* MergeMap control plane (§10): authority and listener                       */
/* ------------------------------------------------------------------------- */

/** Opaque MergeMap authority (the owner of an output stream's maps). */
typedef struct tp_merge_map_authority_stct tp_merge_map_authority_t;

/** Default re-announce period of an authority (1 s). */
#define TP_MERGE_MAP_DEFAULT_ANNOUNCE_PERIOD_NS UINT64_C(1000000000)

/** Authority counters. */
typedef struct tp_merge_map_authority_stats_stct
{
    uint64_t announces_sent;   /**< periodic and prompt announces offered */
    uint64_t requests_answered;/**< requests for one of our (out_stream_id, epoch) answered */
    uint64_t requests_ignored; /**< requests for other streams/epochs */
    uint64_t malformed;        /**< schema-903 messages that failed decoding */
    uint64_t send_failures;    /**< offers refused (retried at the next period) */
} tp_merge_map_authority_stats_t;

/**
 * Create an authority publishing and listening on `channel`/`stream_id`, or
 * (NULL/0) the context's control stream. `announce_period_ns` 0: the
 * default. Opens its own transport connection. Returns 0 or -1.
 */
TP_EXPORT int tp_merge_map_authority_create(tp_merge_map_authority_t **out, const tp_context_t *ctx,
    const char *channel, int32_t stream_id, uint64_t announce_period_ns);

/**
 * Set (replace) the sequence map of (map->out_stream_id, map->epoch) and
 * announce it promptly. Up to 8 maps (distinct out stream/epoch/type) are
 * held; a new epoch of the same out stream replaces the old one. Invalid
 * maps (tp_seq_merge_map_validate) are refused. Returns 0 or -1.
 */
TP_EXPORT int tp_merge_map_authority_set_seq_map(tp_merge_map_authority_t *authority, const tp_seq_merge_map_t *map);

/** Set (replace) a timestamp map; as tp_merge_map_authority_set_seq_map(). */
TP_EXPORT int tp_merge_map_authority_set_ts_map(tp_merge_map_authority_t *authority, const tp_ts_merge_map_t *map);

/**
 * Duty cycle: answer requests for held maps with an announce (§10.3, §10.5)
 * and re-announce every period (soft state). Returns work count or -1.
 */
TP_EXPORT int tp_merge_map_authority_do_work(tp_merge_map_authority_t *authority, uint64_t now_ns);

/** Copy the counters. Returns 0 or -1. */
TP_EXPORT int tp_merge_map_authority_stats(const tp_merge_map_authority_t *authority,
    tp_merge_map_authority_stats_t *stats);

/** Close the authority. Returns 0. */
TP_EXPORT int tp_merge_map_authority_close(tp_merge_map_authority_t *authority);

/** Opaque MergeMap listener: feeds announces on the control stream to one barrier. */
typedef struct tp_merge_map_listener_stct tp_merge_map_listener_t;

/** Default interval between late-join requests while the barrier has no map (200 ms). */
#define TP_MERGE_MAP_DEFAULT_REQUEST_INTERVAL_NS UINT64_C(200000000)

/** Listener counters. */
typedef struct tp_merge_map_listener_stats_stct
{
    uint64_t requests_sent;
    uint64_t announces_applied;
    uint64_t announces_rejected;  /**< invalid maps for our (out stream, epoch) */
    uint64_t announces_ignored;   /**< other streams/epochs or unchanged */
    uint64_t malformed;
} tp_merge_map_listener_stats_t;

/**
 * Create a listener for `barrier` on `channel`/`stream_id` (NULL/0: the
 * context's control stream). `request_interval_ns` 0: the default. The
 * barrier must outlive the listener. Returns 0 or -1.
 */
TP_EXPORT int tp_merge_map_listener_create(tp_merge_map_listener_t **out, const tp_context_t *ctx,
    const char *channel, int32_t stream_id, tp_join_barrier_t *barrier, uint64_t request_interval_ns);

/**
 * Duty cycle (the barrier's thread): apply announces for the barrier's
 * (out_stream_id, epoch) (sequence maps to SEQUENCE/LATEST_VALUE barriers,
 * timestamp maps to TIMESTAMP/LATEST_VALUE), and while the barrier has no
 * valid map send a SequenceMergeMapRequest (TimestampMergeMapRequest for
 * TIMESTAMP barriers) every request interval. Returns work count or -1.
 */
TP_EXPORT int tp_merge_map_listener_do_work(tp_merge_map_listener_t *listener, uint64_t now_ns);

/** Copy the counters. Returns 0 or -1. */
TP_EXPORT int tp_merge_map_listener_stats(const tp_merge_map_listener_t *listener,
    tp_merge_map_listener_stats_t *stats);

/** Close the listener. Returns 0. */
TP_EXPORT int tp_merge_map_listener_close(tp_merge_map_listener_t *listener);

#ifdef __cplusplus
}
#endif

#endif /* TENSOR_POOL_TP_JOIN_H */
