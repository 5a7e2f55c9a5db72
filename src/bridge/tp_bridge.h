/*
 * The SHM Aeron-UDP bridge (spec v1.1): a sender that consumes local source
 * streams and publishes BridgeFrameChunk messages over UDP, and a receiver
 * that reassembles them and republishes the frames into local SHM pools as
 * the producer of the destination streams. One instance runs either half or
 * both (bridge.role). docs/BRIDGE.md describes the behaviour, the
 * configuration and the counters.
 *
 * Threading: one duty cycle (tp_bridge_do_work) owns everything: the local
 * client (invoker mode: its conductor, the sender's consumers and the
 * receiver's producers run on the caller's thread) and the bridge
 * transport. Nothing allocates on the per-frame paths: chunk messages are
 * written into claimed transport buffers (or one scratch buffer sized at
 * start), frames are assembled in buffers sized when the layout is known.
 */
#ifndef TP_BRIDGE_TP_BRIDGE_H
#define TP_BRIDGE_TP_BRIDGE_H

#include <stdbool.h>
#include <stdint.h>

#include "bridge/tp_bridge_assembler.h"
#include "bridge/tp_bridge_config.h"
#include "transport/tp_transport.h"

typedef struct tp_bridge_stct tp_bridge_t;

/** Why the sender did not (completely) send a frame. */
typedef enum tp_bridge_send_drop_en
{
    TP_BRIDGE_SEND_NOT_CONNECTED = 0,   /**< no receiver on the payload channel yet */
    TP_BRIDGE_SEND_BACK_PRESSURED = 1,  /**< a chunk stayed back-pressured for bridge.send_timeout_ms */
    TP_BRIDGE_SEND_TORN = 2,            /**< the source slot was overwritten while it was read: last chunk withheld */
    TP_BRIDGE_SEND_TOO_LARGE = 3,       /**< payload above bridge.max_payload_bytes or more than 65535 chunks */
    TP_BRIDGE_SEND_FAILED = 4,          /**< the transport failed a chunk (error, fault injection) */
    TP_BRIDGE_SEND_INJECTED = 5,        /**< test hook dropped a chunk (tp_bridge_options_t.drop_chunk) */
    TP_BRIDGE_SEND_DROP_COUNT = 6
}
tp_bridge_send_drop_t;

/** Stable name of a sender drop reason, e.g. "TORN". */
const char *tp_bridge_send_drop_name(int reason);

/** Sender counters (monotonic). */
typedef struct tp_bridge_sender_stats_stct
{
    uint64_t frames;                    /**< frames read from the source streams */
    uint64_t frames_sent;               /**< frames whose every chunk was handed to the transport */
    uint64_t chunks_sent;
    uint64_t bytes_sent;                /**< payload bytes in sent chunks */
    uint64_t frame_drops[TP_BRIDGE_SEND_DROP_COUNT];
    uint64_t announces_forwarded;       /**< ShmPoolAnnounce sent on the bridge control channel */
    uint64_t metadata_forwarded;        /**< DataSourceAnnounce / DataSourceMeta */
    uint64_t tracelinks_forwarded;      /**< TraceLinkSet */
    uint64_t progress_forwarded;        /**< FrameProgress */
    uint64_t qos_forwarded;             /**< QosProducer / QosConsumer */
    uint64_t local_malformed;           /**< malformed messages on the local control/metadata streams */
    uint64_t source_gaps;               /**< source frames the local consumer never saw (its drops_gap + drops_late) */
}
tp_bridge_sender_stats_t;

/** Receiver counters (monotonic). */
typedef struct tp_bridge_receiver_stats_stct
{
    uint64_t chunks;                    /**< chunks received */
    uint64_t chunks_duplicate;          /**< identical duplicates ignored */
    uint64_t frames_completed;          /**< reassembled and validated */
    uint64_t frames_direct;             /**< of which written straight into the destination slot (no extra copy) */
    uint64_t frames_published;          /**< written to local SHM with a local FrameDescriptor */
    uint64_t drops[TP_BRIDGE_DROP_COUNT]; /**< per tp_bridge_drop_t */
    uint64_t announces;                 /**< forwarded ShmPoolAnnounce accepted */
    uint64_t announces_stale;           /**< older epoch than the current one: ignored */
    uint64_t metadata_published;        /**< DataSourceAnnounce / DataSourceMeta republished locally */
    uint64_t tracelinks_published;
    uint64_t progress_published;
    uint64_t qos_published;
    uint64_t local_not_connected;       /**< republished control/metadata without a local subscriber */
    uint64_t local_epochs;              /**< local epoch changes (source remaps) */
    uint64_t udp_lost_messages;         /**< transport-level loss on the payload subscription (tp_subscription_stats) */
}
tp_bridge_receiver_stats_t;

/** All counters. */
typedef struct tp_bridge_stats_stct
{
    tp_bridge_sender_stats_t sender;
    tp_bridge_receiver_stats_t receiver;
}
tp_bridge_stats_t;

/** Test hook: true drops chunk `chunk_index` of frame (stream, seq) before it is sent. */
typedef bool (*tp_bridge_drop_chunk_fn)(void *clientd, uint32_t stream_id, uint64_t seq, uint32_t chunk_index,
    uint32_t chunk_count);

/** Options that are not configuration (tests, embedding). */
typedef struct tp_bridge_options_stct
{
    const tp_transport_faults_t *faults;   /**< fault injection on the bridge's own transport (NULL = none) */
    tp_bridge_drop_chunk_fn drop_chunk;    /**< loss injection on the sender (NULL = none) */
    void *drop_chunk_clientd;
    bool direct_writes;                    /**< receiver: write each frame's chunks straight into a claimed
                                                destination slot instead of assembling it in a slot buffer and
                                                offering it (tp_bench_bridge --direct; not the default: no faster
                                                here, slower with 1408-byte datagrams, DECISIONS BRL-3) */
}
tp_bridge_options_t;

/**
 * Create the bridge: the local client, the sender's consumers and
 * subscriptions, the receiver's subscriptions, publications and (for fixed
 * profiles) producers. `options` may be NULL. Returns 0 or -1 with tp_err
 * set (a publication, subscription or producer that cannot be created).
 */
int tp_bridge_init(tp_bridge_t **out, const tp_bridge_config_t *config, const tp_bridge_options_t *options);

/** One duty cycle. Returns the amount of work done (>= 0) or -1. */
int tp_bridge_do_work(tp_bridge_t *b);

/** Copy the counters. Returns 0 or -1. */
int tp_bridge_stats(const tp_bridge_t *b, tp_bridge_stats_t *out);

/** The destination producer of mapping `index` (NULL before it exists). For tools and tests. */
struct tp_producer_stct *tp_bridge_dest_producer(const tp_bridge_t *b, size_t index);

/** Close everything (NULL is fine). Returns 0 or -1. */
int tp_bridge_close(tp_bridge_t *b);

/** Print the counters as one JSON object (no newline) into buf. Returns the length or -1 if it does not fit. */
int tp_bridge_stats_json(const tp_bridge_stats_t *s, char *buf, size_t len);

#endif
