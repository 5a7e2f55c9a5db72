/*
 * tensorpool: TraceLink (TraceLink spec v1.0): trace ids and TraceLinkSet.
 *
 * Trace ids (§6.1) are 64-bit Snowflake ids in the Agrona SnowflakeIdGenerator
 * layout: bit 63 zero, 41 bits of milliseconds since TP_TRACE_EPOCH_MS, 10
 * bits of node id, 12 bits of per-millisecond sequence. They sort by their
 * embedded time. 0 is the null trace id ("no trace", §8.1). The generator
 * never goes back in time: when the clock steps back or a millisecond's 4096
 * ids are used up it continues from the last timestamp plus one (borrowing
 * from the future) instead of spinning or failing, so it needs no system call
 * beyond the vDSO clock read and never blocks.
 *
 * Propagation (§6.3, §8.1): a root stage mints ids (a producer with
 * tp_producer_config_t.trace_enabled does it for every frame the application
 * passes no trace id for); a 1->1 stage passes the input frame's
 * tp_frame_t.trace_id to tp_frame_options_t.trace_id unchanged; an N->1 stage
 * mints a new id per output (tp_trace_id_next) and emits a TraceLinkSet
 * listing the parents (tp_tracelink_emit). docs/TRACELINK.md.
 */
#ifndef TENSOR_POOL_TP_TRACELINK_H
#define TENSOR_POOL_TP_TRACELINK_H

#include "tensor_pool/tp_common.h"
#include "tensor_pool/tp_context.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The null trace id (no trace). */
#define TP_TRACE_ID_NONE UINT64_C(0)
/** Bits of the node id field. */
#define TP_TRACE_NODE_ID_BITS 10
/** Bits of the per-millisecond sequence field. */
#define TP_TRACE_SEQUENCE_BITS 12
/** Largest node id (1023). Node id 0 is reserved (not configured). */
#define TP_TRACE_NODE_ID_MAX ((UINT32_C(1) << TP_TRACE_NODE_ID_BITS) - 1)
/** Timestamp origin of the ids: 2020-01-01T00:00:00Z in Unix milliseconds. */
#define TP_TRACE_EPOCH_MS UINT64_C(1577836800000)
/** Most parents of one TraceLinkSet. */
#define TP_TRACELINK_MAX_PARENTS 64

/** Trace id generator: single thread (the stage's). Plain struct so it can live inside other objects. */
typedef struct tp_trace_id_generator_stct
{
    uint64_t node_bits; /**< node id shifted into place */
    uint64_t last_ms;   /**< timestamp of the last id (ms since TP_TRACE_EPOCH_MS) */
    uint64_t sequence;  /**< sequence within last_ms */
} tp_trace_id_generator_t;

/**
 * Initialise a generator for `node_id` (1..TP_TRACE_NODE_ID_MAX, unique in
 * the deployment: §6.2). Returns 0, or -1 with TP_ERR_INVALID_ARGUMENT.
 */
TP_EXPORT int tp_trace_id_generator_init(tp_trace_id_generator_t *gen, uint32_t node_id);

/**
 * Switch a generator to `node_id` (1..TP_TRACE_NODE_ID_MAX), e.g. the node id
 * of a new driver lease (DECISIONS TL-2). Its ids stay strictly increasing:
 * after a switch the next id moves on to the next millisecond when it would
 * otherwise share the last one's. Returns 0, or -1 with
 * TP_ERR_INVALID_ARGUMENT (the generator is unchanged). Same thread as
 * tp_trace_id_next; no allocation.
 */
TP_EXPORT int tp_trace_id_generator_set_node_id(tp_trace_id_generator_t *gen, uint32_t node_id);

/** Next trace id (never 0, strictly increasing for this generator). No allocation, no lock, no blocking. */
TP_EXPORT uint64_t tp_trace_id_next(tp_trace_id_generator_t *gen);

/** Next trace id as if the wall clock read `now_unix_ms` (tests, simulations). */
TP_EXPORT uint64_t tp_trace_id_next_at(tp_trace_id_generator_t *gen, uint64_t now_unix_ms);

/** Unix milliseconds embedded in a trace id. */
TP_EXPORT uint64_t tp_trace_id_unix_ms(uint64_t trace_id);
/** Node id embedded in a trace id. */
TP_EXPORT uint32_t tp_trace_id_node_id(uint64_t trace_id);
/** Per-millisecond sequence embedded in a trace id. */
TP_EXPORT uint32_t tp_trace_id_sequence(uint64_t trace_id);

/* ------------------------------------------------------------------------- */
/* TraceLinkSet emission                                                      */
/* ------------------------------------------------------------------------- */

/** Opaque TraceLinkSet emitter: a publication on the control stream. */
typedef struct tp_tracelink_emitter_stct tp_tracelink_emitter_t;

/** Emitter counters (monotonic). */
typedef struct tp_tracelink_emitter_stats_stct
{
    uint64_t sent;                 /**< TraceLinkSets offered successfully */
    uint64_t dropped_not_connected;/**< dropped: no subscriber */
    uint64_t dropped_back_pressure;/**< dropped: stream full (never waits) */
    uint64_t dropped_error;        /**< dropped: transport error */
    uint64_t rejected;             /**< invalid arguments (zero/duplicate parent, too many, zero trace id) */
} tp_tracelink_emitter_stats_t;

/**
 * Create an emitter publishing on `channel`/`stream_id`, or (NULL/0) on the
 * context's control stream (TP_STREAM_CONTROL, default aeron:ipc 1000): the
 * TraceLinkSet is a control-plane message (§9, §13) and receivers gate on
 * MessageHeader.schemaId = 904. It owns its own transport connection (the
 * context's backend and transport directory). Not a hot-path call. Returns 0 or -1.
 */
TP_EXPORT int tp_tracelink_emitter_create(tp_tracelink_emitter_t **out, const tp_context_t *ctx, const char *channel,
    int32_t stream_id);

/**
 * Emit a TraceLinkSet for output frame (stream_id, epoch, seq) whose trace id
 * is `trace_id`, with `count` parents in the order the join observed them.
 * Best effort and non-blocking (§5, §7): the message is encoded into a
 * preallocated buffer and offered once; when the stream is back pressured or
 * has no subscriber it is dropped and counted. The spec asks for emission
 * only when count > 1 (count == 1 is allowed for re-rooting). Returns 1 sent,
 * 0 dropped, -1 invalid arguments (TP_ERR_INVALID_ARGUMENT: trace_id 0,
 * count 0 or > TP_TRACELINK_MAX_PARENTS, a parent 0 or repeated). The
 * emitter's thread only; no allocation.
 */
TP_EXPORT int tp_tracelink_emit(tp_tracelink_emitter_t *emitter, uint32_t stream_id, uint64_t epoch, uint64_t seq,
    uint64_t trace_id, const uint64_t *parents, size_t count);

/** Duty cycle of the emitter's transport (liveness, connection). Call regularly. Returns work count or -1. */
TP_EXPORT int tp_tracelink_emitter_do_work(tp_tracelink_emitter_t *emitter);

/** True when at least one subscriber listens to the emitter's stream. */
TP_EXPORT bool tp_tracelink_emitter_is_connected(tp_tracelink_emitter_t *emitter);

/** Copy the counters. Returns 0 or -1. */
TP_EXPORT int tp_tracelink_emitter_stats(const tp_tracelink_emitter_t *emitter, tp_tracelink_emitter_stats_t *stats);

/** Close the emitter and its transport connection. Returns 0 or -1. */
TP_EXPORT int tp_tracelink_emitter_close(tp_tracelink_emitter_t *emitter);

/* ------------------------------------------------------------------------- */
/* TraceLinkSet reception                                                     */
/* ------------------------------------------------------------------------- */

/** Opaque TraceLinkSet listener: a subscription on the control stream. */
typedef struct tp_tracelink_listener_stct tp_tracelink_listener_t;

/**
 * A decoded, valid TraceLinkSet: output frame (stream_id, epoch, seq) has
 * trace id `trace_id`, derived from `count` (>= 1) unique non-zero parents
 * (valid during the call).
 */
typedef void (*tp_tracelink_handler_t)(void *clientd, uint32_t stream_id, uint64_t epoch, uint64_t seq,
    uint64_t trace_id, const uint64_t *parents, size_t count);

/** Listener counters. */
typedef struct tp_tracelink_listener_stats_stct
{
    uint64_t received;     /**< valid TraceLinkSets handed to the handler */
    uint64_t malformed;    /**< schema-904 messages that failed decoding (zero/duplicate parents, truncated, ...) */
    uint64_t other_schema; /**< other control-plane messages skipped by the schemaId gate (§13) */
} tp_tracelink_listener_stats_t;

/**
 * Create a listener on `channel`/`stream_id` (NULL/0: the context's control
 * stream). Messages of other schemas are skipped before decoding (§13).
 * Returns 0 or -1.
 */
TP_EXPORT int tp_tracelink_listener_create(tp_tracelink_listener_t **out, const tp_context_t *ctx, const char *channel,
    int32_t stream_id, tp_tracelink_handler_t handler, void *clientd);

/** Run the transport duty cycle and deliver up to `limit` messages. Returns the number of messages polled or -1. */
TP_EXPORT int tp_tracelink_listener_poll(tp_tracelink_listener_t *listener, int limit);

/** Copy the counters. Returns 0 or -1. */
TP_EXPORT int tp_tracelink_listener_stats(const tp_tracelink_listener_t *listener, tp_tracelink_listener_stats_t *stats);

/** Close the listener. Returns 0. */
TP_EXPORT int tp_tracelink_listener_close(tp_tracelink_listener_t *listener);

#ifdef __cplusplus
}
#endif

#endif /* TENSOR_POOL_TP_TRACELINK_H */
