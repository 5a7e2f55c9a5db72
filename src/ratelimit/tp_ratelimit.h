/*
 * tensorpool: rate limiter agent (SHM RateLimiter spec v1.0).
 *
 * One agent serves one or more mappings (source stream -> destination
 * stream). For each mapping it consumes the source stream's FrameDescriptors
 * through an in-process consumer (which validates announces, maps the
 * source regions and reads each slot under the seqlock), keeps at most one
 * candidate frame staged in a claimed slot of its own destination producer,
 * and commits it when the mapping's rate slot opens (§4): the most recent
 * frame available then is published, with the source's seq, timestamp_ns,
 * meta_version and trace_id (§5). Frames it skips leave sequence gaps on the
 * destination stream.
 *
 * Threading: everything runs in tp_ratelimit_do_work() — the duty cycle of
 * the source client, of the destination client (both in invoker mode) and of
 * the agent's own subscriptions (ConsumerHello on the destination stream,
 * forwarded metadata/progress/QoS). Call it from one thread, or let
 * tp_ratelimit_start() run it on the agent's own thread (tp_agent_runner).
 * Stats may be read from any thread.
 *
 * Counted drops (tp_ratelimit_drop_reason_t): a frame is never waited for;
 * when the destination cannot take it right now it is dropped and counted.
 */
#ifndef TP_RATELIMIT_TP_RATELIMIT_H
#define TP_RATELIMIT_TP_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tensor_pool/tp.h"

/** Most mappings per rate limiter instance. */
#define TP_RATELIMIT_MAX_MAPPINGS 16
/** Longest channel URI in the configuration (bytes with the NUL). */
#define TP_RATELIMIT_CHANNEL_MAX 256
/** Longest instance id (bytes with the NUL). */
#define TP_RATELIMIT_NAME_MAX 64
/** Longest path in the configuration (bytes with the NUL). */
#define TP_RATELIMIT_PATH_MAX 512
/** Default channel of the control and QoS streams (§8). */
#define TP_RATELIMIT_DEFAULT_CHANNEL "aeron:ipc?term-length=1m"

/** One mapping: source stream -> destination stream (§8 `mappings`). */
typedef struct tp_ratelimit_mapping_config_stct
{
    uint32_t source_stream_id;
    uint32_t dest_stream_id;           /**< distinct from every source stream id */
    uint32_t max_rate_hz;              /**< fallback rate while no ConsumerHello governs (0 = unlimited) */
    bool max_rate_set;                 /**< false: inherit tp_ratelimit_config_t.max_rate_hz */
    uint32_t metadata_stream_id;       /**< stream_id written into forwarded metadata (0 = dest_stream_id) */
    bool per_consumer;                 /**< ConsumerHello.max_rate_hz on the destination stream governs (default true) */
    uint32_t header_nslots;            /**< destination ring (standalone; default 256) */
    size_t pool_count;                 /**< destination pools (standalone; default one 64 KiB pool) */
    tp_pool_config_t pools[TP_PRODUCER_MAX_POOLS];
} tp_ratelimit_mapping_config_t;

/** Rate limiter configuration (§8); fill with tp_ratelimit_config_init(). */
typedef struct tp_ratelimit_config_stct
{
    char instance_id[TP_RATELIMIT_NAME_MAX];
    char descriptor_channel[TP_RATELIMIT_CHANNEL_MAX]; /**< destination FrameDescriptor channel */
    uint32_t descriptor_stream_id;                     /**< destination FrameDescriptor stream */
    bool forward_metadata;                             /**< default true */
    bool forward_progress;                             /**< default false */
    bool forward_qos;                                  /**< default false */
    uint32_t max_rate_hz;                              /**< default 0 (unlimited) */
    char control_channel[TP_RATELIMIT_CHANNEL_MAX];
    uint32_t source_control_stream_id;
    uint32_t dest_control_stream_id;
    char qos_channel[TP_RATELIMIT_CHANNEL_MAX];
    uint32_t source_qos_stream_id;
    uint32_t dest_qos_stream_id;
    char shm_base_dir[TP_RATELIMIT_PATH_MAX];          /**< "" = the context's (default /dev/shm) */
    char driver_control_channel[TP_RATELIMIT_CHANNEL_MAX]; /**< "" = control_channel */
    uint32_t driver_control_stream_id;                 /**< non-zero: attach to the SHM driver (driver mode) */
    size_t mapping_count;
    tp_ratelimit_mapping_config_t mappings[TP_RATELIMIT_MAX_MAPPINGS];
} tp_ratelimit_config_t;

/** Fill `config` with the defaults of §8 (no mapping, instance_id/descriptor_channel empty). */
void tp_ratelimit_config_init(tp_ratelimit_config_t *config);

/** Defaults of one mapping (inherits the instance rate, per_consumer, 256 slots, one 64 KiB pool). */
void tp_ratelimit_mapping_defaults(tp_ratelimit_mapping_config_t *mapping);

/**
 * Load a TOML configuration (keys: docs/RATELIMITER.md) over `config`.
 * Strict: unknown keys, wrong types, out-of-range values and missing
 * required keys fail with TP_ERR_CONFIG and "file:line: key: what is wrong".
 * Validates the result (tp_ratelimit_config_validate). Returns 0 or -1.
 */
int tp_ratelimit_config_load_file(tp_ratelimit_config_t *config, const char *path);

/** Same as tp_ratelimit_config_load_file() for text in memory (`name` prefixes errors). */
int tp_ratelimit_config_load_string(tp_ratelimit_config_t *config, const char *text, size_t len, const char *name);

/**
 * Check a configuration: required values present, at least one mapping,
 * destination ids distinct from every source id and from each other,
 * forwarding enabled only with non-zero stream ids (§8: fail fast),
 * destination layouts valid. Returns 0 or -1 (TP_ERR_CONFIG, message names
 * the key).
 */
int tp_ratelimit_config_validate(const tp_ratelimit_config_t *config);

/**
 * Print the effective configuration as TOML into `buf` (snprintf
 * semantics). Returns the length it needs.
 */
int tp_ratelimit_config_print(const tp_ratelimit_config_t *config, char *buf, size_t len);

/** Why a source frame was not republished (one counter each). */
typedef enum tp_ratelimit_drop_reason_enum
{
    TP_RATELIMIT_DROP_RATE = 0,        /**< superseded by a newer frame before its rate slot opened (§4) */
    TP_RATELIMIT_DROP_DEST_TOO_SMALL = 1, /**< no destination pool fits the payload (§5) */
    TP_RATELIMIT_DROP_CLAIM = 2,       /**< destination slot not claimable now: back pressure, queue full, no lease (§5) */
    TP_RATELIMIT_DROP_SOURCE_LATE = 3, /**< source slot overwritten while copied (seqlock) */
    TP_RATELIMIT_DROP_EPOCH = 4,       /**< in flight at a source epoch change, or during the remap (§7) */
    TP_RATELIMIT_DROP_SEQ = 5,         /**< seq not above the last republished one (cannot keep seq identity) */
    TP_RATELIMIT_DROP_INVALID = 6,     /**< tensor header rejected, or the destination commit failed */
    TP_RATELIMIT_DROP_COUNT = 7
} tp_ratelimit_drop_reason_t;

/** Stable name of a drop reason ("rate", "dest_too_small", ...). */
const char *tp_ratelimit_drop_reason_name(int reason);

/** Counters of one mapping (monotonic unless noted). */
typedef struct tp_ratelimit_stats_stct
{
    uint32_t source_stream_id;
    uint32_t dest_stream_id;
    uint64_t frames_in;            /**< source frames seen (consumer callbacks) */
    uint64_t frames_out;           /**< frames republished */
    uint64_t bytes_out;
    uint64_t drops[TP_RATELIMIT_DROP_COUNT];
    uint64_t source_epoch_changes; /**< remap boundaries (§7) */
    uint64_t dest_epoch;           /**< current destination epoch */
    uint64_t source_epoch;         /**< current source epoch (0 = none yet) */
    uint64_t rate_hz;              /**< current effective rate (0 = unlimited) */
    uint64_t consumer_id;          /**< consumer whose hello governs the rate (0 = none) */
    uint64_t hellos;               /**< ConsumerHello for the destination stream */
    uint64_t hellos_ignored;       /**< from another consumer than the governing one (no aggregation) */
    uint64_t metadata_forwarded;   /**< DataSourceAnnounce + DataSourceMeta forwarded */
    uint64_t progress_forwarded;
    uint64_t qos_forwarded;
    uint64_t forward_failed;       /**< forwarded messages the destination stream did not take (dropped) */
    uint64_t foreign_dest_announces; /**< ShmPoolAnnounce for the destination stream from another producer */
} tp_ratelimit_stats_t;

/** Clock of the rate slots (nanoseconds, monotonic). Tests inject one. */
typedef uint64_t (*tp_ratelimit_clock_t)(void *clientd);

/** Opaque agent. */
typedef struct tp_ratelimit_stct tp_ratelimit_t;

/**
 * Create the agent: validates `config`, creates the source client (one
 * consumer per mapping, STREAM mode) and the destination client (one
 * producer per mapping; descriptor stream = config descriptor channel/id)
 * from `ctx` (transport, streams, cadences; NULL = defaults), the agent's own
 * subscriptions/publications, and checks that no other live producer owns a
 * destination stream (standalone mode). Blocking (bounded by the client
 * timeout). Returns 0 or -1 with a message.
 */
int tp_ratelimit_init(tp_ratelimit_t **out, const tp_ratelimit_config_t *config, const tp_context_t *ctx);

/** Replace the clock (NULL = CLOCK_MONOTONIC). Before the first duty cycle, from the duty cycle's thread. */
void tp_ratelimit_set_clock(tp_ratelimit_t *rl, tp_ratelimit_clock_t clock, void *clientd);

/** One duty cycle (caller's loop). Returns the work done (0 idle) or -1. Fails with TP_ERR_STATE while the agent thread runs. */
int tp_ratelimit_do_work(tp_ratelimit_t *rl);

/** Run the duty cycle on the agent's own thread ("tp-ratelimit"). Returns 0 or -1. */
int tp_ratelimit_start(tp_ratelimit_t *rl);

/** Stop the agent thread (bounded wait). Returns 0 or -1 (TP_ERR_TIMEOUT). */
int tp_ratelimit_stop(tp_ratelimit_t *rl);

/** Number of mappings. */
size_t tp_ratelimit_mapping_count(const tp_ratelimit_t *rl);

/** Counters of mapping `index`. Any thread. Returns 0 or -1. */
int tp_ratelimit_stats(const tp_ratelimit_t *rl, size_t index, tp_ratelimit_stats_t *stats);

/** Destination producer of mapping `index` (tests and tools; owned by the agent). */
tp_producer_t *tp_ratelimit_dest_producer(const tp_ratelimit_t *rl, size_t index);

/** Source consumer of mapping `index` (tests and tools; owned by the agent; read its stats only). */
tp_consumer_t *tp_ratelimit_source_consumer(const tp_ratelimit_t *rl, size_t index);

/** Stop (if running), close producers, consumers and clients, free. NULL is fine. Returns 0. */
int tp_ratelimit_close(tp_ratelimit_t *rl);

#endif
