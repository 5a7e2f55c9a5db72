/*
 * tensorpool: producer (wire spec §10, §15), standalone mode: the producer
 * creates its own SHM regions in the canonical layout
 * `<base>/tensorpool-<user>/<namespace>/<stream_id>/<epoch>/`.
 *
 * Threading: the hot path (tp_producer_offer, tp_producer_try_claim,
 * tp_frame_claim_commit/abort, tp_producer_flush) belongs to ONE application
 * thread, the single writer of the producer's SHM. It performs no
 * allocation, lock or system call. Announces, activity refresh, QoS,
 * ConsumerHello handling and metadata run in the client conductor.
 *
 * Results of the hot path (int64_t): >= 0 is the frame's sequence number;
 * negative values are TP_PRODUCER_* codes.
 *
 * Back pressure: the space for the FrameDescriptor is claimed on the
 * descriptor publication BEFORE seq_commit is set, so a committed slot never
 * lacks its descriptor; tp_producer_offer() copies the payload first and
 * claims afterwards, so the claim is never held during the copy. It answers
 * TP_PRODUCER_BACK_PRESSURED without using a sequence number (the slot of
 * the next seq is left in progress, not committed): retry the same call, it
 * rewrites the same seq. Claims committed under back
 * pressure stay queued (uncommitted) and are flushed first by the next call. Admin actions
 * are retried internally. With no subscriber (not connected) the frame is
 * still committed in SHM, the descriptor is dropped and counted
 * (descriptors_not_connected), and the sequence number is returned.
 */
#ifndef TENSOR_POOL_TP_PRODUCER_H
#define TENSOR_POOL_TP_PRODUCER_H

#include "tensor_pool/tp_common.h"
#include "tensor_pool/tp_tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Opaque producer. */
typedef struct tp_producer_stct tp_producer_t;

/*
 * Hot-path result codes (negative). Where a code has the meaning of an Aeron
 * publication result it keeps Aeron's value (-2 back pressured, -4 closed);
 * the other Aeron values are never returned: -3 (admin action) is retried
 * internally, -5 (max position exceeded) and -6 (error) of the descriptor
 * publication are reported as TP_PRODUCER_ERROR, and "not connected" is not
 * an error here (the frame is committed, its descriptor dropped and counted).
 */
#define TP_PRODUCER_ERROR (-1L)          /**< tp_errmsg() says why (e.g. bad tensor header); a claim is not consumed */
#define TP_PRODUCER_BACK_PRESSURED (-2L) /**< descriptor stream full; nothing happened, retry */
#define TP_PRODUCER_CLOSED (-4L)         /**< the producer or its publication is closed */
#define TP_PRODUCER_NO_POOL (-7L)        /**< no pool stride fits the payload; frame dropped and counted; tp_errmsg() names the sizes */
#define TP_PRODUCER_CLAIMS_FULL (-8L)    /**< too many claims in flight (max_claims); commit or abort some */
#define TP_PRODUCER_QUEUED (-9L)         /**< frame accepted, queued behind earlier open claims: published in sequence order once they commit or abort */
#define TP_PRODUCER_DEFERRED (-10L)      /**< claim consumed, but its descriptor publication failed: the frame stays queued (not committed); tp_errmsg() says why; the next hot-path call or tp_producer_flush() retries */
#define TP_PRODUCER_NOT_ATTACHED (-11L) /**< driver mode: no valid lease right now (driver restarting, lease lost); nothing happened, retry */

/** Entries of tp_producer_config_t.per_consumer_channels. */
#define TP_PRODUCER_CHANNEL_ALLOW_MAX 4
/** Longest channel prefix in tp_producer_config_t.per_consumer_channels (bytes, with the NUL). */
#define TP_PRODUCER_CHANNEL_PREFIX_MAX 128
/** Default cap on the term-length a ConsumerHello may request for a per-consumer stream (16 MiB). */
#define TP_PRODUCER_DEFAULT_MAX_TERM_LENGTH (16u * 1024u * 1024u)

/** Most payload pools per producer. */
#define TP_PRODUCER_MAX_POOLS 16
/** Longest data source name (bytes). */
#define TP_PRODUCER_NAME_MAX 128

/** One payload pool: id and stride (a multiple of 64; powers of two recommended). */
typedef struct tp_pool_config_stct
{
    uint16_t pool_id;      /**< >= 1, unique within the producer */
    uint32_t stride_bytes; /**< payload capacity of each slot */
} tp_pool_config_t;

/** Producer configuration; fill with tp_producer_config_defaults(). */
typedef struct tp_producer_config_stct
{
    uint32_t stream_id;            /**< data source stream id (default 10000) */
    uint32_t producer_id;          /**< 0: derived from the pid */
    uint32_t header_nslots;        /**< power of two (default 1024) */
    size_t pool_count;             /**< 1..TP_PRODUCER_MAX_POOLS */
    tp_pool_config_t pools[TP_PRODUCER_MAX_POOLS]; /**< default: {1, 64 KiB} */
    uint32_t max_claims;           /**< claims in flight (default 16; clamped to header_nslots / 2) */
    bool descriptor_timestamp;     /**< put the publish time in FrameDescriptor.timestamp_ns (default false, §10.2.1) */
    bool prefault;                 /**< touch every page of the regions at creation (default true) */
    bool remove_on_close;          /**< unlink the epoch directory on close (default true) */
    uint32_t file_mode;            /**< region file mode (default 0600) */
    char name[TP_PRODUCER_NAME_MAX]; /**< DataSourceAnnounce name (default "") */
    /**
     * Channels a ConsumerHello may request for its per-consumer descriptor /
     * control streams (§5) — hellos are untrusted input. Prefix match; a
     * prefix without '?' matches the channel exactly or followed by '?'
     * (e.g. "aeron:ipc" allows "aeron:ipc" and "aeron:ipc?term-length=64k",
     * not "aeron:ipcx"). All empty (default): only "aeron:ipc" channels.
     * Entries must start with "aeron:". Anything else is declined (§10.1.3:
     * empty channel, stream id 0).
     */
    char per_consumer_channels[TP_PRODUCER_CHANNEL_ALLOW_MAX][TP_PRODUCER_CHANNEL_PREFIX_MAX];
    /** Largest term-length a requested channel may set (0: TP_PRODUCER_DEFAULT_MAX_TERM_LENGTH); larger is declined. */
    uint64_t per_consumer_max_term_length;
    /**
     * TraceLink (TraceLink spec §8.1): every frame the application passes no
     * trace id for (tp_frame_options_t.trace_id 0 or options NULL) gets a
     * freshly minted non-zero Snowflake trace id (tensor_pool/tp_tracelink.h).
     * Frames with a trace id keep it (1->1 stages propagate their input's).
     * Default false: frames without a trace id carry 0.
     */
    bool trace_enabled;
    /**
     * Node id of the minted trace ids: 1..1023, unique in the deployment
     * (§6.2); required with trace_enabled in standalone mode. In driver mode
     * 0 (the default) mints with the node id the driver leases with each
     * lease (ShmAttachResponse.nodeId, reuse cooldown): a new lease switches
     * to its node id. A lease without one (the driver allocates none) is
     * refused: the add fails with TP_ERR_CONFIG (DECISIONS TL-2).
     */
    uint32_t trace_node_id;
} tp_producer_config_t;

/** Fill `config` with the defaults. */
TP_EXPORT void tp_producer_config_defaults(tp_producer_config_t *config);

/** Per-frame options (NULL = defaults). */
typedef struct tp_frame_options_stct
{
    uint64_t timestamp_ns; /**< SlotHeader.timestamp_ns (capture time); 0 = CLOCK_MONOTONIC now */
    uint64_t trace_id;     /**< 0 = no trace */
} tp_frame_options_t;

/** A claimed slot for in-place writes (DMA). Fields are read-only for the application. */
typedef struct tp_frame_claim_stct
{
    uint64_t seq;      /**< sequence number of this frame */
    uint8_t *data;     /**< write up to `capacity` bytes here */
    size_t capacity;   /**< stride of the selected pool */
    size_t length;     /**< length requested at claim time */
    uint16_t pool_id;
    tp_producer_t *producer; /**< owner; NULL once committed or aborted */
    uint32_t index;          /**< internal */
} tp_frame_claim_t;

/** Producer counters (monotonic). */
typedef struct tp_producer_stats_stct
{
    uint64_t frames;                    /**< frames committed in SHM */
    uint64_t bytes;                     /**< payload bytes committed */
    uint64_t descriptors_published;
    uint64_t descriptors_not_connected; /**< committed frames whose descriptor had no subscriber */
    uint64_t descriptors_failed;        /**< committed frames whose descriptor commit failed in the transport (lost) */
    uint64_t back_pressured;            /**< calls answered TP_PRODUCER_BACK_PRESSURED */
    uint64_t admin_action_retries;
    uint64_t no_pool_drops;             /**< payloads larger than every pool */
    uint64_t claims_aborted;
    uint64_t announces;                 /**< ShmPoolAnnounce sent */
    uint64_t prompt_announces;          /**< of which extra ones answering a ConsumerHello / new subscriber */
    uint64_t qos_sent;
    uint64_t hellos_received;
    uint64_t consumers;                 /**< consumers currently known (hello/QoS) */
    uint64_t consumers_stale;           /**< consumers dropped as stale */
    uint64_t progress_sent;
    uint64_t progress_interval_ns;      /**< effective FrameProgress interval (hints within floors) */
    uint64_t progress_bytes_delta;      /**< effective FrameProgress byte delta */
    uint64_t per_consumer_descriptors;  /**< descriptors sent on per-consumer streams */
    uint64_t per_consumer_rate_limited; /**< skipped by a consumer's max_rate_hz */
    uint64_t fanout_overflow;           /**< committed frames not handed to per-consumer streams (ring full) */
    uint64_t meta_blobs_sent;           /**< blobs completely sent (Complete published) */
    uint64_t layout_changes;            /**< tp_producer_change_layout() calls applied (epoch bumps) */
    uint64_t current_seq;               /**< next sequence number */
    uint64_t epoch;
    uint32_t meta_version;
} tp_producer_stats_t;

/**
 * Copy the payload into the smallest pool whose stride fits `length`, write
 * the slot through the seqlock and publish the FrameDescriptor. `tensor`
 * NULL describes a 1-D UINT8 tensor of `length` bytes. Returns the sequence
 * number (>= 0) or a TP_PRODUCER_* code; TP_PRODUCER_QUEUED when claims are
 * open: the payload is copied and the frame published after them, in
 * sequence order.
 */
TP_EXPORT int64_t tp_producer_offer(tp_producer_t *producer, const tp_tensor_header_t *tensor, const void *payload,
    size_t length, const tp_frame_options_t *options);

/**
 * Claim the slot of the next sequence number in the smallest pool that fits
 * `length`, for in-place writes. Several claims may be in flight (up to
 * max_claims); they are announced in sequence order. Returns the sequence
 * number or a TP_PRODUCER_* code (TP_PRODUCER_BACK_PRESSURED is never
 * returned here).
 */
TP_EXPORT int64_t tp_producer_try_claim(tp_producer_t *producer, size_t length, tp_frame_claim_t *claim);

/**
 * Commit a claim: the slot header (`length` payload bytes, `tensor` NULL =
 * 1-D UINT8), seq_commit and the FrameDescriptor are written together, in
 * sequence order. The payload is not copied again. The claim is always
 * consumed (unless -1/TP_PRODUCER_ERROR is returned for invalid arguments).
 * Returns the sequence number when the frame is published now;
 * TP_PRODUCER_QUEUED when earlier claims are still open (it is published
 * when they commit or abort); TP_PRODUCER_DEFERRED when the descriptor
 * publication failed (the frame stays queued, uncommitted; tp_errmsg() says
 * why and the next hot-path call or tp_producer_flush() retries);
 * TP_PRODUCER_BACK_PRESSURED when the descriptor stream is full: the slot is
 * then NOT yet committed, and the next hot-path call or tp_producer_flush()
 * commits and announces it first.
 */
TP_EXPORT int64_t tp_frame_claim_commit(tp_frame_claim_t *claim, const tp_tensor_header_t *tensor, size_t length,
    const tp_frame_options_t *options);

/**
 * Abort a claim. The newest claim gives its sequence number back; an earlier
 * one leaves a gap that consumers count as drops_gap. Returns 0 or -1.
 */
TP_EXPORT int tp_frame_claim_abort(tp_frame_claim_t *claim);

/**
 * Report DMA progress of an open claim (FrameProgress, §10.2.2): sent only
 * when a consumer that supports progress is known, throttled by the
 * consumers' hints within the producer's floors. Returns 1 sent, 0 skipped,
 * -1 error (bytes_filled regressing or above the claim length).
 */
TP_EXPORT int tp_frame_claim_progress(tp_frame_claim_t *claim, uint64_t bytes_filled);

/**
 * Publish descriptors of committed claims still waiting because of back
 * pressure. Returns the number published or -1.
 */
TP_EXPORT int tp_producer_flush(tp_producer_t *producer);

/** Region layout of a producer: ring size and payload pools (same rules as in tp_producer_config_t). */
typedef struct tp_producer_layout_stct
{
    uint32_t header_nslots;                        /**< power of two */
    size_t pool_count;                             /**< 1..TP_PRODUCER_MAX_POOLS */
    tp_pool_config_t pools[TP_PRODUCER_MAX_POOLS]; /**< unique non-zero ids, strides multiples of 64 */
} tp_producer_layout_t;

/**
 * Current layout of the producer's regions (application thread). Returns 0
 * or -1.
 */
TP_EXPORT int tp_producer_layout(const tp_producer_t *producer, tp_producer_layout_t *layout);

/**
 * Change the region layout of a running producer (wire spec §15.2): creates
 * the regions of a new epoch (the next epoch directory, canonical layout),
 * has the conductor announce them at once (ShmPoolAnnounce,
 * DataSourceAnnounce and QosProducer of the new epoch), then switches the hot
 * path to them with sequence numbers restarting at 0. Consumers drop the old
 * epoch's frames still in flight and remap. The old epoch's files stay
 * mapped and on disk for the freshness window (grace period), then are
 * unlinked (never truncated); at close at the latest.
 *
 * Application thread (the producer's single writer), outside any claim:
 * committed frames still waiting for descriptor space are flushed first; if
 * claims are open or the descriptor stream is still back-pressured, fails
 * with TP_ERR_STATE and changes nothing (commit/abort the claims, flush,
 * retry). An invalid layout fails with TP_ERR_CONFIG (same validation as at
 * creation); a region creation failure leaves the old layout in use. With a
 * conductor thread the call waits (bounded by the client timeout) until the
 * new epoch is announced; invoker mode applies it inline. Allocates and makes
 * system calls: not for the steady-state loop. Returns 0 or -1.
 */
TP_EXPORT int tp_producer_change_layout(tp_producer_t *producer, const tp_producer_layout_t *layout);

/**
 * Replace the data source metadata (DataSourceMeta attributes): bumps
 * meta_version, which the following frames carry. `keys`, `formats`,
 * `values`/`value_lengths` have `count` entries. Any thread; applied by the
 * conductor. Returns the new meta_version or -1.
 */
TP_EXPORT int64_t tp_producer_set_metadata(tp_producer_t *producer, size_t count, const char *const *keys,
    const char *const *formats, const uint8_t *const *values, const uint32_t *value_lengths);

/**
 * Set the meta_version that the following frames and DataSourceAnnounce
 * carry, without sending DataSourceMeta: for stages that republish another
 * stream and must keep its meta_version (rate limiter, bridge receiver; the
 * stage forwards the source's DataSourceMeta itself). A later
 * tp_producer_set_metadata() continues from this value. Any thread; a
 * relaxed atomic store (no allocation, no system call). Returns 0 or -1.
 */
TP_EXPORT int tp_producer_set_meta_version(tp_producer_t *producer, uint32_t meta_version);

/** Largest meta blob accepted by tp_producer_publish_meta_blob() (64 MiB). */
#define TP_META_BLOB_MAX_BYTES (UINT64_C(64) * 1024 * 1024)

/**
 * Publish a large metadata blob (§10.3.3, §15.9: MetaBlobAnnounce, chunks
 * of at most 64 KiB with increasing offsets, MetaBlobComplete; CRC32C
 * checksum) for the current meta_version on the metadata stream. Any thread;
 * the data is copied and sent by the conductor (chunks retried under back
 * pressure). A blob still being sent is replaced. Returns 0 or -1.
 */
TP_EXPORT int tp_producer_publish_meta_blob(tp_producer_t *producer, uint32_t blob_type, const void *data,
    size_t length);

/**
 * CRC32C (Castagnoli, reflected 0x82F63B78) of `length` bytes, as used for
 * meta blob checksums; crc32c("123456789") = 0xE3069283. Any thread.
 */
TP_EXPORT uint32_t tp_crc32c(const void *data, size_t length);

/** Copy the counters. Any thread. Returns 0 or -1. */
TP_EXPORT int tp_producer_stats(const tp_producer_t *producer, tp_producer_stats_t *stats);

/**
 * Sequence number the next tp_producer_offer() / tp_producer_try_claim()
 * will use (application thread: the hot path's own view).
 */
TP_EXPORT uint64_t tp_producer_next_seq(const tp_producer_t *producer);

/**
 * Set the sequence number the next tp_producer_offer() / tp_producer_try_claim()
 * uses, for stages that republish another stream's frames and must keep their
 * sequence identity (rate limiter, bridge receiver: FrameDescriptor.seq equals
 * the source's seq; skipped numbers are gaps). Application thread, between
 * frames: no claim may be open. `seq` must not be below the next sequence
 * number (sequence numbers never go back within an epoch; a layout change or,
 * in driver mode, a new lease restarts them at 0). Returns 0, or -1 with
 * TP_ERR_INVALID_ARGUMENT / TP_ERR_STATE and a message.
 */
TP_EXPORT int tp_producer_set_next_seq(tp_producer_t *producer, uint64_t seq);

/**
 * Node id of the trace ids the producer mints (application thread): the
 * configured trace_node_id, or in driver mode with trace_node_id 0 that of
 * the lease whose regions the hot path uses (switched at the first offer
 * after a new lease). 0 when trace_enabled is off. For provenance records
 * (TraceLink §6.2: node id, process id, start time).
 */
TP_EXPORT uint32_t tp_producer_trace_node_id(const tp_producer_t *producer);

/** Current epoch of the producer's regions (any thread; changes with tp_producer_change_layout()). */
TP_EXPORT uint64_t tp_producer_epoch(const tp_producer_t *producer);

/** Stream id of the producer. */
TP_EXPORT uint32_t tp_producer_stream_id(const tp_producer_t *producer);

/**
 * Path of the producer's current epoch directory (application thread; the
 * string belongs to that epoch and is released after the grace period that
 * follows the next layout change).
 */
TP_EXPORT const char *tp_producer_epoch_dir(const tp_producer_t *producer);

/**
 * Close a producer: stop announcing, close its publications, unmap (and with
 * remove_on_close unlink) its regions. From the application thread; goes
 * through the conductor with a bounded wait. Returns 0 or -1.
 * The handle is dead once close has been called, whatever it returns: on a
 * timeout (TP_ERR_TIMEOUT) the queued close still completes on the
 * conductor and frees the object. Do not close it again: a repeated close
 * that reaches the conductor after the first one is refused (TP_ERR_CLOSED)
 * and never destroys twice, but once the first close has completed the
 * handle's memory is gone.
 */
TP_EXPORT int tp_producer_close(tp_producer_t *producer);

#ifdef __cplusplus
}
#endif

#endif /* TENSOR_POOL_TP_PRODUCER_H */
