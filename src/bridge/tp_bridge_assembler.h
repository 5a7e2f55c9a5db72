/*
 * Bridge receiver: frame reassembly (SHM Aeron-UDP Bridge spec v1.1 §5.2,
 * §5.3, §5.3a, §6 steps 1-7, §8). One assembler per mapping. Pure logic: no
 * transport, no clock (the caller passes `now_ns`), no allocation on the
 * chunk path (buffers are sized when the capacity is set, at startup or when
 * a forwarded ShmPoolAnnounce changes the local layout).
 *
 * A frame is assembled in one of `max_inflight` slots; a completed frame is
 * validated (header, pool id, strides) and handed back to the caller, who
 * rematerialises it. Every chunk or frame that is not delivered is counted
 * under one tp_bridge_drop_t reason. Single-threaded (the receiver's duty
 * cycle).
 */
#ifndef TP_BRIDGE_TP_BRIDGE_ASSEMBLER_H
#define TP_BRIDGE_TP_BRIDGE_ASSEMBLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/tp_proto_bridge.h"
#include "tensor_pool/tp_tensor.h"

/** Why a receiver dropped a chunk, a frame or a forwarded message (docs/BRIDGE.md "Drop reasons"). */
typedef enum tp_bridge_drop_en
{
    TP_BRIDGE_DROP_DECODE = 0,          /**< malformed message (structural decode failed) */
    TP_BRIDGE_DROP_UNKNOWN_SCHEMA = 1,  /**< schemaId / templateId not carried on that channel */
    TP_BRIDGE_DROP_UNKNOWN_STREAM = 2,  /**< streamId of no mapping */
    TP_BRIDGE_DROP_NO_ANNOUNCE = 3,     /**< no forwarded ShmPoolAnnounce yet for the mapping (§5.2, §6.2) */
    TP_BRIDGE_DROP_EPOCH = 4,           /**< chunk epoch differs from the announce epoch (§6.3, §8) */
    TP_BRIDGE_DROP_CHUNK_COUNT = 5,     /**< chunkCount 0 / > 65535, chunkIndex >= chunkCount */
    TP_BRIDGE_DROP_HEADER_FLAG = 6,     /**< headerIncluded / headerBytes length rules */
    TP_BRIDGE_DROP_CHUNK_OFFSET = 7,    /**< first chunk offset != 0, slice outside the payload */
    TP_BRIDGE_DROP_CHUNK_LENGTH = 8,    /**< payloadBytes != chunkLength, chunkLength above the chunk bound */
    TP_BRIDGE_DROP_OVERSIZE = 9,        /**< payloadLength above bridge.max_payload_bytes */
    TP_BRIDGE_DROP_CRC = 10,            /**< CRC32C missing or wrong with integrity on (§5.4) */
    TP_BRIDGE_DROP_INCONSISTENT = 11,   /**< chunkCount / payloadLength differ between chunks, lengths do not sum up */
    TP_BRIDGE_DROP_TRACE_MISMATCH = 12, /**< traceId differs between chunks of a frame */
    TP_BRIDGE_DROP_OVERLAP = 13,        /**< conflicting duplicate or overlapping slices */
    TP_BRIDGE_DROP_TIMEOUT = 14,        /**< incomplete after bridge.assembly_timeout_ms (§5.3a) */
    TP_BRIDGE_DROP_EVICTED = 15,        /**< incomplete, evicted to make room (all slots busy) */
    TP_BRIDGE_DROP_STALE_SEQ = 16,      /**< seq below the next local sequence (late, or a duplicate of a delivered frame) */
    TP_BRIDGE_DROP_EPOCH_CHANGE = 17,   /**< in flight when the source epoch changed (§8) */
    TP_BRIDGE_DROP_BAD_HEADER = 18,     /**< SlotHeader / TensorHeader invalid (§6.4) */
    TP_BRIDGE_DROP_POOL_ID = 19,        /**< header pool_id not in the forwarded announce (§6.5) */
    TP_BRIDGE_DROP_SOURCE_STRIDE = 20,  /**< payloadLength above the source pool stride (§6.6) */
    TP_BRIDGE_DROP_NO_LOCAL_POOL = 21,  /**< no local pool fits the payload / no local producer yet (§6.7) */
    TP_BRIDGE_DROP_LOCAL_PUBLISH = 22,  /**< the local producer refused the frame (back pressure, error) */
    TP_BRIDGE_DROP_PROGRESS = 23,       /**< forwarded FrameProgress with no mapping / unknown or expired frame (§9) */
    TP_BRIDGE_DROP_DEST_CONFLICT = 24,  /**< another producer announces the destination stream: the mapping failed (§4) */
    TP_BRIDGE_DROP_BAD_ANNOUNCE = 25,   /**< forwarded ShmPoolAnnounce with an impossible geometry or strides above max_payload_bytes */
    TP_BRIDGE_DROP_COUNT = 26
}
tp_bridge_drop_t;

/** Stable name of a drop reason, e.g. "TIMEOUT". */
const char *tp_bridge_drop_name(int reason);

/** Most pools remembered from a forwarded announce. */
#define TP_BRIDGE_MAX_POOLS 16u

/** What the receiver keeps of the most recent forwarded ShmPoolAnnounce of a mapping. */
typedef struct tp_bridge_source_layout_stct
{
    bool valid;
    uint64_t epoch;
    uint32_t header_nslots;
    uint32_t pool_count;
    uint16_t pool_ids[TP_BRIDGE_MAX_POOLS];
    uint32_t pool_nslots[TP_BRIDGE_MAX_POOLS];
    uint32_t strides[TP_BRIDGE_MAX_POOLS];
}
tp_bridge_source_layout_t;

/** Assembler configuration. */
typedef struct tp_bridge_assembler_config_stct
{
    uint32_t max_inflight;       /**< frames assembled at once (>= 1) */
    uint32_t max_chunk_bytes;    /**< chunkLength bound: min(chunk_bytes, mtu - 128, max_chunk_bytes) */
    uint32_t max_payload_bytes;  /**< bridge.max_payload_bytes */
    bool integrity_crc32c;       /**< bridge.integrity_crc32c */
    uint64_t timeout_ns;         /**< bridge.assembly_timeout_ms */
}
tp_bridge_assembler_config_t;

/**
 * Direct writes (optional, tp_bridge_assembler_set_sink): the receiver's
 * destination slot instead of a slot buffer. At most one frame at a time is
 * written directly: one that starts while no other direct frame is open and
 * no frame of a lower seq is in flight. Once `begin` has given a destination
 * for seq S, S is the lowest seq that can still be delivered (min_seq = S:
 * the sink took S as its next sequence number).
 */
typedef struct tp_bridge_sink_stct
{
    /** A frame starts: return where its `payload_length` bytes go, or NULL to use a slot buffer. */
    uint8_t *(*begin)(void *clientd, uint64_t seq, uint32_t payload_length);
    /** A frame begun with a destination is dropped (any reason): release the destination. */
    void (*abort)(void *clientd, uint64_t seq);
    void *clientd;
}
tp_bridge_sink_t;

/** A completed, validated frame; pointers valid until the next call on the assembler. */
typedef struct tp_bridge_frame_stct
{
    uint32_t stream_id;
    uint64_t epoch;
    uint64_t seq;
    uint64_t trace_id;
    const uint8_t *header;      /**< the 256-byte SlotHeader block as received */
    const uint8_t *payload;
    uint32_t payload_length;
    uint16_t source_pool_id;
    uint64_t timestamp_ns;
    uint32_t meta_version;
    tp_tensor_header_t tensor;
    bool direct;                /**< payload is the sink's destination (begun by the sink, not yet released) */
}
tp_bridge_frame_t;

typedef struct tp_bridge_slot_stct tp_bridge_slot_t;

/** One mapping's assembler (embed it; tp_bridge_assembler_init / _close). */
typedef struct tp_bridge_assembler_stct
{
    tp_bridge_assembler_config_t config;
    tp_bridge_source_layout_t source;   /**< most recent forwarded announce */
    uint32_t capacity;                  /**< payload bytes per slot (largest local stride) */
    uint32_t max_chunks;                /**< chunk entries per slot */
    uint64_t min_seq;                   /**< chunks of frames below this are STALE_SEQ */
    tp_bridge_slot_t *slots;
    uint32_t active;                    /**< slots in use */
    uint64_t chunks;                    /**< chunks handed in */
    uint64_t chunks_duplicate;          /**< identical duplicates ignored */
    uint64_t frames_completed;          /**< validated frames handed out */
    uint64_t frames_direct;             /**< of which written straight into the sink's destination */
    tp_bridge_sink_t sink;              /**< begin == NULL: every frame in a slot buffer */
    tp_bridge_slot_t *direct;           /**< the slot written into the sink's destination, or NULL */
    uint64_t drops[TP_BRIDGE_DROP_COUNT];
}
tp_bridge_assembler_t;

/** Initialise with no capacity (every frame is NO_LOCAL_POOL until tp_bridge_assembler_set_capacity). Returns 0 or -1. */
int tp_bridge_assembler_init(tp_bridge_assembler_t *a, const tp_bridge_assembler_config_t *config);

/** Free the buffers. */
void tp_bridge_assembler_close(tp_bridge_assembler_t *a);

/**
 * Size the slots for payloads up to `capacity` bytes (the largest local
 * stride, capped by max_payload_bytes). Discards frames in flight
 * (EPOCH_CHANGE) when the buffers are reallocated. Allocates: not per frame.
 * Returns 0 or -1 (TP_ERR_NO_MEMORY; the old buffers are kept).
 */
int tp_bridge_assembler_set_capacity(tp_bridge_assembler_t *a, uint32_t capacity);

/**
 * A forwarded ShmPoolAnnounce for the mapping: a higher epoch (or the first
 * announce) is a remap boundary: frames in flight are dropped (EPOCH_CHANGE)
 * and min_seq restarts at 0. Returns 1 when the epoch changed, 0 when the
 * announce refreshed the current epoch, -1 when it was older (ignored).
 */
int tp_bridge_assembler_on_announce(tp_bridge_assembler_t *a, const tp_bridge_source_layout_t *layout);

/**
 * Hand in one decoded chunk. Returns 1 and fills *frame when it completed a
 * valid frame, 0 when it was stored (or was an identical duplicate), -1
 * when it (and possibly its frame) was dropped; *reason_out (optional) then
 * holds the tp_bridge_drop_t counted.
 */
int tp_bridge_assembler_on_chunk(tp_bridge_assembler_t *a, const tp_proto_bridge_chunk_view_t *c, uint64_t now_ns,
    tp_bridge_frame_t *frame, tp_bridge_drop_t *reason_out);

/**
 * Set (or with NULL clear) the direct-write sink (see tp_bridge_sink_t).
 * Drops a direct frame in flight (EPOCH_CHANGE).
 */
void tp_bridge_assembler_set_sink(tp_bridge_assembler_t *a, const tp_bridge_sink_t *sink);

/** Drop the frame being written into the sink's destination, if any (counted under `reason`; the sink's abort runs). */
void tp_bridge_assembler_drop_direct(tp_bridge_assembler_t *a, tp_bridge_drop_t reason);

/** Drop frames older than the timeout (TIMEOUT). Returns the number dropped. */
int tp_bridge_assembler_expire(tp_bridge_assembler_t *a, uint64_t now_ns);

/** Whether a frame (epoch, seq) is being assembled. */
bool tp_bridge_assembler_in_flight(const tp_bridge_assembler_t *a, uint64_t epoch, uint64_t seq);

#endif
