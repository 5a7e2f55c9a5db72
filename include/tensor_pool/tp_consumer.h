/*
 * tensorpool: consumer (wire spec §10, §11, §15).
 *
 * Everything a consumer does runs in the client conductor's duty cycle:
 * ShmPoolAnnounce handling (freshness window, the MONOTONIC join-time rule,
 * highest epoch wins), mapping and validating the regions, FrameDescriptor
 * polling, the seqlock read and the frame callback, QosConsumer and periodic
 * ConsumerHello, ConsumerConfig, the metadata cache.
 *
 * Frame views (DESIGN trap 1): the callback receives a zero-copy view into
 * the live slot. The producer may overwrite it at any moment; what the
 * application read is only valid if tp_frame_is_valid() returns true AFTER
 * the reading is done (or use tp_frame_copy(), which validates after the
 * copy). The library re-checks after the callback returns and counts
 * drops_late when the frame was overwritten during the callback.
 */
#ifndef TENSOR_POOL_TP_CONSUMER_H
#define TENSOR_POOL_TP_CONSUMER_H

#include "tensor_pool/tp_common.h"
#include "tensor_pool/tp_tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Opaque consumer. */
typedef struct tp_consumer_stct tp_consumer_t;

/** FrameDescriptor.timestamp_ns absent (wire null value). */
#define TP_NULL_TIMESTAMP UINT64_MAX
/** meta_version absent. */
#define TP_NULL_META_VERSION UINT32_MAX

/** Consumer modes (wire §11). */
typedef enum tp_consumer_mode_enum
{
    TP_CONSUMER_MODE_STREAM = 1,      /**< process every descriptor; drop when late */
    TP_CONSUMER_MODE_RATE_LIMITED = 2 /**< at most max_rate_hz frames per second (dropped locally if the producer declines) */
} tp_consumer_mode_t;

/** A zero-copy frame view, valid during the callback only. */
typedef struct tp_frame_stct
{
    uint32_t stream_id;
    uint64_t epoch;
    uint64_t seq;
    uint64_t timestamp_ns;            /**< SlotHeader.timestamp_ns (capture time) */
    uint64_t descriptor_timestamp_ns; /**< FrameDescriptor.timestamp_ns or TP_NULL_TIMESTAMP */
    uint32_t meta_version;
    uint64_t trace_id;                /**< 0 = no trace */
    uint16_t pool_id;
    const tp_tensor_header_t *tensor; /**< validated tensor header snapshot */
    const uint8_t *payload;           /**< into SHM; may be overwritten while read */
    size_t length;                    /**< values_len_bytes */
    const void *internal;             /**< library private */
} tp_frame_t;

/** Frame callback (conductor duty cycle only). */
typedef void (*tp_frame_handler_t)(void *clientd, const tp_frame_t *frame);

/** State of a FrameProgress (wire §10.2.2, FrameProgressState; values are normative). */
typedef enum tp_progress_state_enum
{
    TP_PROGRESS_STATE_UNKNOWN = 0,  /**< not a valid state: never handed to on_progress */
    TP_PROGRESS_STATE_STARTED = 1,  /**< first report of a frame */
    TP_PROGRESS_STATE_PROGRESS = 2, /**< more bytes written */
    TP_PROGRESS_STATE_COMPLETE = 3  /**< the whole claimed length is written */
} tp_progress_state_t;

/**
 * FrameProgress callback (§10.2.2), for consumers configured with
 * supports_progress: a validated hint that `bytes_filled` bytes of frame
 * `seq` are written; `state` is STARTED, PROGRESS or COMPLETE. A hint only:
 * the FrameDescriptor remains the "frame available" signal.
 */
typedef void (*tp_progress_handler_t)(void *clientd, uint64_t epoch, uint64_t seq, uint64_t bytes_filled,
    tp_progress_state_t state);

/**
 * Cheap re-check of the seqlock. Call it AFTER reading the payload: false
 * means the frame was overwritten meanwhile and what was read must be
 * discarded (the library counts it as drops_late when the callback returns).
 */
TP_EXPORT bool tp_frame_is_valid(const tp_frame_t *frame);

/**
 * Copy the payload (`length` bytes) into `dst` and validate after the copy.
 * Returns 0 (the copy is a consistent frame), or -1: TP_ERR_INVALID_ARGUMENT
 * when `dst_len` is too small, TP_ERR_WOULD_BLOCK when the frame was
 * overwritten during the copy (discard `dst`).
 */
TP_EXPORT int tp_frame_copy(const tp_frame_t *frame, void *dst, size_t dst_len);

/** Why an announce was rejected (counted per reason). */
typedef enum tp_announce_reject_enum
{
    TP_ANNOUNCE_REJECT_DECODE = 0,         /**< malformed message */
    TP_ANNOUNCE_REJECT_CLOCK_DOMAIN = 1,   /**< unknown clock domain */
    TP_ANNOUNCE_REJECT_STALE = 2,          /**< older than the freshness window */
    TP_ANNOUNCE_REJECT_BEFORE_JOIN = 3,    /**< MONOTONIC timestamp before the image join time */
    TP_ANNOUNCE_REJECT_OLD_EPOCH = 4,      /**< lower epoch than the one mapped (highest epoch wins) */
    TP_ANNOUNCE_REJECT_LAYOUT_VERSION = 5, /**< unsupported layout_version */
    TP_ANNOUNCE_REJECT_SLOT_BYTES = 6,     /**< header_slot_bytes != 256 */
    TP_ANNOUNCE_REJECT_NSLOTS = 7,         /**< header_nslots not a power of two, or a pool's nslots differs */
    TP_ANNOUNCE_REJECT_STRIDE = 8,         /**< stride_bytes zero or not a multiple of 64 */
    TP_ANNOUNCE_REJECT_NO_POOLS = 9,       /**< no payload pool, too many, or duplicate ids */
    TP_ANNOUNCE_REJECT_URI = 10,           /**< region URI not a valid shm:file URI */
    TP_ANNOUNCE_REJECT_PATH = 11,          /**< path outside the allowed dirs, missing, or not a regular file */
    TP_ANNOUNCE_REJECT_SUPERBLOCK = 12,    /**< magic/epoch/geometry of a region does not match the announce */
    TP_ANNOUNCE_REJECT_MAP = 13,           /**< other mapping failure */
    TP_ANNOUNCE_REJECT_COUNT = 14
} tp_announce_reject_t;

/** Stable name of a reject reason, e.g. "TP_ANNOUNCE_REJECT_PATH". */
TP_EXPORT const char *tp_announce_reject_name(int reason);

/**
 * Meta blob callback (§10.3.3): a complete blob whose chunks were contiguous
 * and whose CRC32C matched. `data` is valid during the call.
 */
typedef void (*tp_meta_blob_handler_t)(void *clientd, uint32_t meta_version, uint32_t blob_type, const uint8_t *data,
    size_t length);

/** Longest per-consumer channel URI (bytes, with the terminating NUL). */
#define TP_CONSUMER_CHANNEL_MAX 256

/** Consumer configuration; fill with tp_consumer_config_defaults(). */
typedef struct tp_consumer_config_stct
{
    uint32_t stream_id;                /**< data source (default 10000) */
    uint32_t consumer_id;              /**< 0: random */
    tp_frame_handler_t on_frame;       /**< required */
    void *clientd;
    tp_consumer_mode_t mode;           /**< default STREAM */
    uint32_t max_rate_hz;              /**< RATE_LIMITED: frames per second (0 = unlimited) */
    uint64_t max_outstanding_seq_gap;  /**< resync threshold (default 256, §15.4; 0 = never; only below nslots) */
    uint32_t fragment_limit;           /**< descriptors per duty cycle (default 64) */
    bool supports_progress;            /**< ConsumerHello.supports_progress */
    tp_progress_handler_t on_progress; /**< optional, with supports_progress */
    uint32_t progress_interval_us;     /**< ConsumerHello hint: min interval between PROGRESS (0 = none) */
    uint32_t progress_bytes_delta;     /**< ConsumerHello hint: min byte delta (0 = none) */
    uint32_t progress_major_delta_units; /**< ConsumerHello hint: min rows/columns delta (0 = none) */
    bool use_metadata;                 /**< subscribe to the metadata stream and cache it (default true) */
    /**
     * Request a per-consumer descriptor stream (§5): channel and non-zero
     * stream id, or ""/0 for the shared stream (default). The producer may
     * decline; the consumer then stays on the shared stream. With an assigned
     * stream the producer applies max_rate_hz.
     */
    char descriptor_channel[TP_CONSUMER_CHANNEL_MAX];
    uint32_t descriptor_stream_id;
    /**
     * Request a per-consumer control stream for FrameProgress (§5): channel
     * and non-zero stream id, or ""/0. Other control messages stay on the
     * shared control stream.
     */
    char control_channel[TP_CONSUMER_CHANNEL_MAX];
    uint32_t control_stream_id;
    tp_meta_blob_handler_t on_meta_blob; /**< optional (needs use_metadata) */
    uint64_t max_meta_blob_bytes;        /**< larger blobs are discarded (default 64 MiB) */
} tp_consumer_config_t;

/** Fill `config` with the defaults. */
TP_EXPORT void tp_consumer_config_defaults(tp_consumer_config_t *config);

/** Consumer counters (monotonic unless noted). */
typedef struct tp_consumer_stats_stct
{
    uint64_t frames;               /**< callbacks invoked */
    uint64_t bytes;                /**< payload bytes handed to callbacks */
    uint64_t drops_gap;            /**< sequence numbers never seen (descriptor gaps) */
    uint64_t drops_late;           /**< overwritten before or while being read */
    uint64_t drops[TP_DROP_REASON_COUNT]; /**< per tp_drop_reason_t */
    uint64_t drops_rate_limited;   /**< RATE_LIMITED local drops */
    uint64_t descriptors;          /**< FrameDescriptors received for this stream */
    uint64_t descriptors_unmapped; /**< dropped: no regions mapped (M0) */
    uint64_t descriptors_wrong_epoch; /**< dropped: epoch differs from the mapped one */
    uint64_t descriptors_duplicate; /**< ignored while switching descriptor streams: seq already seen on the other stream */
    uint64_t announces_accepted;
    uint64_t announces_rejected[TP_ANNOUNCE_REJECT_COUNT];
    uint64_t remaps;               /**< successful mappings (first one included) */
    uint64_t unmaps;               /**< epoch changes and stale producers */
    uint64_t resyncs;              /**< lag beyond max_outstanding_seq_gap: dropped to the newest frame (skips in drops_gap) */
    uint64_t hellos_sent;
    uint64_t qos_sent;
    uint64_t configs_received;
    uint64_t metadata_updates;
    uint64_t meta_blobs_received;  /**< complete, verified blobs */
    uint64_t meta_blobs_discarded; /**< gap/overlap, checksum mismatch, too large, or superseded */
    uint64_t progress_received;    /**< FrameProgress accepted */
    uint64_t progress_dropped;     /**< FrameProgress rejected: wrong epoch, regression, beyond the pool stride */
    uint64_t other_producer_announces; /**< ignored: announces for this stream from a second live producer
                                            (another producer_id or session than the mapped one) */
    uint64_t epoch;                /**< current mapped epoch (0 = unmapped) */
    uint64_t last_seq;             /**< last sequence seen (current value) */
    uint32_t descriptor_stream_id; /**< stream the descriptors currently come from (shared or assigned) */
    uint32_t progress_stream_id;   /**< stream FrameProgress currently comes from (shared control or assigned) */
    bool mapped;                   /**< current state */
    bool use_shm;                  /**< false after ConsumerConfig(use_shm=false) */
} tp_consumer_stats_t;

/** Copy the counters. Any thread. Returns 0 or -1. */
TP_EXPORT int tp_consumer_stats(const tp_consumer_t *consumer, tp_consumer_stats_t *stats);

/** This consumer's id (as sent in ConsumerHello / QosConsumer). */
TP_EXPORT uint32_t tp_consumer_id(const tp_consumer_t *consumer);

/** True when regions are mapped (state MAPPED). */
TP_EXPORT bool tp_consumer_is_mapped(const tp_consumer_t *consumer);

/**
 * The payload fallback URI received in ConsumerConfig with use_shm=false
 * (copied into `buf`). Returns its length (0 = none) or -1 if `buf` is too small.
 */
TP_EXPORT int tp_consumer_fallback_uri(const tp_consumer_t *consumer, char *buf, size_t len);

/**
 * Look up a cached metadata attribute of the current meta_version
 * (DataSourceMeta). Conductor thread or after the client stopped. Copies
 * the value into `buf`; returns its length, 0 if absent, -1 if too small.
 */
TP_EXPORT int tp_consumer_metadata(const tp_consumer_t *consumer, const char *key, void *buf, size_t len,
    uint32_t *meta_version);

/**
 * Close a consumer (through the conductor, bounded wait). Returns 0 or -1.
 * The handle is dead once close has been called, whatever it returns: on a
 * timeout (TP_ERR_TIMEOUT) the queued close still completes on the
 * conductor and frees the object. Do not close it again: a repeated close
 * that reaches the conductor after the first one is refused (TP_ERR_CLOSED)
 * and never destroys twice, but once the first close has completed the
 * handle's memory is gone.
 */
TP_EXPORT int tp_consumer_close(tp_consumer_t *consumer);

#ifdef __cplusplus
}
#endif

#endif /* TENSOR_POOL_TP_CONSUMER_H */
