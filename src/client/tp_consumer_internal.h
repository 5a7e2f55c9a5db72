/*
 * Consumer internals, private to src/client: the consumer's state, shared by
 * its source files. The consumer runs entirely on the conductor thread (or
 * the application's thread in invoker mode); its callbacks run there too.
 *
 *   tp_consumer.c          frame path: descriptors, seqlock reads, frame
 *                          views, FrameProgress, stats/accessors
 *   tp_consumer_mapping.c  ShmPoolAnnounce handling: validation, mapping,
 *                          remapping and unmapping of the regions
 *   tp_consumer_switch.c   ConsumerConfig and the switch to assigned
 *                          per-consumer descriptor/control streams
 *   tp_consumer_control.c  creation/destruction, ConsumerHello, QosConsumer,
 *                          dispatch of the announce/control stream, duty cycle
 *   tp_consumer_meta.c     metadata cache: DataSourceAnnounce/Meta, meta blobs
 */
#ifndef TP_CLIENT_TP_CONSUMER_INTERNAL_H
#define TP_CLIENT_TP_CONSUMER_INTERNAL_H

#include "client/tp_client_internal.h"
#include "common/tp_log.h"
#include "client/tp_driver_lease.h"
#include "tp_sbe/wire.h"

#define TP_CONSUMER_MAX_POOLS 16
#define TP_CONSUMER_MAX_IMAGES 32
#define TP_FALLBACK_URI_MAX 1024

typedef struct tp_consumer_image_stct
{
    int32_t session_id;
    uint64_t join_time_ns;
} tp_consumer_image_t;

typedef struct tp_consumer_attr_stct
{
    char *key;
    char *format;
    uint8_t *value;
    uint32_t length;
} tp_consumer_attr_t;

/* Private part of a frame handed to the callback. */
typedef struct tp_frame_internal_stct
{
    tp_shm_frame_view_t view;
} tp_frame_internal_t;

/* Shortest switch window (previous descriptor stream kept open at most this long, or a freshness window). */
#define TP_CONSUMER_SWITCH_MIN_NS (1000000000ULL)

/*
 * All of it is written by the conductor (the consumer runs entirely in the
 * duty cycle); the _Atomic fields are also read by any thread (stats and
 * accessors), relaxed unless noted.
 */
struct tp_consumer_stct
{
    tp_client_t *client;
    tp_consumer_config_t config;
    _Atomic uint32_t consumer_id; /* the lease's client id in driver mode (an auto id may be replaced, B.2) */
    bool consumer_id_auto;        /* not configured: chosen by tp_context_next_client_id */
    uint64_t mlock_failures;      /* mapped regions mlock_shm could not lock (reported, used unlocked) */
    bool active;
    tp_pending_adds_t pending;

    /* driver mode (conductor): the lease; announces are acted on only while it is valid */
    bool driver_mode;
    tp_driver_lease_t lease;
    uint64_t attach_deadline_ns;
    tp_driver_lease_event_t attach_event;

    tp_subscription_t *sub_announce;
    tp_subscription_t *sub_control; /* NULL when control == announce */
    tp_subscription_t *sub_descriptor;
    tp_subscription_t *sub_metadata;
    tp_publication_t *pub_control;
    tp_publication_t *pub_qos;
    uint64_t subscribed_ns;

    tp_consumer_image_t images[TP_CONSUMER_MAX_IMAGES];
    size_t image_count;

    /* mapping (M0/M1) */
    tp_shm_region_t *ring;
    tp_shm_region_t *pools[TP_CONSUMER_MAX_POOLS];
    size_t pool_count;
    uint64_t epoch;
    uint32_t nslots;
    uint64_t last_announce_ns; /* local monotonic receipt time of the last accepted announce */
    uint64_t last_seq;
    bool have_last_seq;
    uint64_t next_allowed_ns; /* RATE_LIMITED */
    uint64_t resync_until;    /* §15.4: descriptors below this seq are skipped after a resync */

    uint64_t next_hello_ns;
    uint64_t next_qos_ns;

    bool use_shm;
    char fallback_uri[TP_FALLBACK_URI_MAX];

    uint32_t meta_version;
    tp_consumer_attr_t *attrs;
    size_t attr_count;

    tp_frame_internal_t frame_internal;

    /* meta blob reassembly (§10.3.3) */
    uint8_t *blob;
    uint64_t blob_len;
    uint64_t blob_received;
    uint32_t blob_version;
    uint32_t blob_type;
    uint64_t blob_checksum;
    _Atomic uint64_t meta_blobs_received, meta_blobs_discarded;

    /* per-consumer descriptor stream */
    tp_async_add_subscription_t *pc_async;
    char pc_channel[TP_CONSUMER_CHANNEL_MAX];
    int32_t pc_stream_id;
    bool pc_active;
    _Atomic uint32_t a_descriptor_stream_id;
    /*
     * Switch window: the previous descriptor subscription stays open and is drained (polled first) until it is
     * empty after the new stream delivered something (or a deadline); meanwhile, and until the new stream passes
     * last_seq, a descriptor at or below last_seq is a duplicate from the other stream, not a regression.
     */
    tp_subscription_t *sub_descriptor_prev;
    uint64_t switch_deadline_ns;
    bool switch_dedup;
    bool switch_new_seen;
    bool desc_from_prev;
    /* per-consumer control stream (FrameProgress only) */
    tp_async_add_subscription_t *pcc_async;
    tp_subscription_t *sub_pc_control;
    char pcc_channel[TP_CONSUMER_CHANNEL_MAX];
    int32_t pcc_stream_id;
    _Atomic uint32_t a_progress_stream_id;

    _Atomic uint64_t frames, bytes, drops_gap, drops_late, drops_rate_limited, descriptors, descriptors_unmapped,
        descriptors_wrong_epoch, descriptors_duplicate, announces_accepted, remaps, unmaps, resyncs, hellos_sent, qos_sent, configs_received,
        metadata_updates, a_epoch, a_last_seq, progress_received, progress_dropped;
    uint64_t progress_seq;
    uint64_t progress_bytes;
    bool progress_valid;
    _Atomic uint64_t drops[TP_DROP_REASON_COUNT];
    _Atomic uint64_t announces_rejected[TP_ANNOUNCE_REJECT_COUNT];
    tp_log_limiter_t reject_log[TP_ANNOUNCE_REJECT_COUNT]; /* tp_consumer_log.c: warn once per reason per second */
    uint32_t mapped_producer_id;   /* identity of the producer whose announce is mapped (tp_consumer_log.c) */
    int32_t mapped_session_id;
    _Atomic uint64_t other_producer_announces;
    tp_log_limiter_t other_producer_log;
    atomic_bool mapped;
    atomic_bool a_use_shm;
};

/* ------------------------------------------------------------------------- */
/* tp_consumer.c (frame path)                                                 */
/* ------------------------------------------------------------------------- */

/* Subscription handler of the descriptor streams. */
void tp_consumer_on_descriptor(void *clientd, const uint8_t *buffer, size_t length, const tp_header_t *header);
/* FrameProgress validation and callback (§10.2.2). */
void tp_consumer_handle_progress(tp_consumer_t *c, const uint8_t *buffer, size_t length);
/* Subscription handler of the per-consumer control stream (FrameProgress only, §5). */
void tp_consumer_on_pc_control(void *clientd, const uint8_t *buffer, size_t length, const tp_header_t *header);

/* ------------------------------------------------------------------------- */
/* tp_consumer_mapping.c                                                      */
/* ------------------------------------------------------------------------- */

/* ShmPoolAnnounce: validate, then map (or remap) the announced regions. */
void tp_consumer_handle_announce(tp_consumer_t *c, const uint8_t *buffer, size_t length, const tp_header_t *header);
/* Unmap the regions (no-op when unmapped). */
void tp_consumer_unmap(tp_consumer_t *c);

/* ------------------------------------------------------------------------- */
/* tp_consumer_switch.c                                                       */
/* ------------------------------------------------------------------------- */

/* ConsumerConfig (§10.1.3): mode, fallback, assigned per-consumer streams. */
void tp_consumer_handle_config(tp_consumer_t *c, const uint8_t *buffer, size_t length);
/* Complete a switch to the assigned descriptor stream: 1 when it finished, 0 pending. */
int tp_consumer_poll_descriptor_switch(tp_consumer_t *c);
/* Switch window duty on the previous descriptor stream; *backlog: it still holds descriptors. */
int tp_consumer_poll_previous_descriptor_stream(tp_consumer_t *c, uint64_t now_ns, bool *backlog);
/* Complete a switch to the assigned control stream: 1 when it finished, 0 pending. */
int tp_consumer_poll_control_switch(tp_consumer_t *c);

/* ------------------------------------------------------------------------- */
/* tp_consumer_control.c                                                      */
/* ------------------------------------------------------------------------- */

/* Allocate and start creating (async transport adds). Returns 0 or -1. */
int tp_consumer_create(tp_consumer_t **out, tp_client_t *client, const tp_consumer_config_t *config);
/* Continue creation: 1 ready, 0 pending, -1 failed. */
int tp_consumer_poll_ready(tp_consumer_t *consumer);
/* Conductor duty cycle for one consumer. Returns work count. */
int tp_consumer_do_work(tp_consumer_t *consumer, uint64_t now_ns);
/* Release everything. NULL is ignored. */
void tp_consumer_destroy(tp_consumer_t *consumer);
/* Subscription handler of the announce and control streams. */
/* Driver mode (conductor): lease duty cycle and a driver-schema message of the control stream. */
int tp_consumer_driver_work(tp_consumer_t *c, uint64_t now_ns);
void tp_consumer_driver_message(tp_consumer_t *c, const uint8_t *buffer, size_t length, const tp_header_t *header,
    uint64_t now_ns);
void tp_consumer_on_announce_stream(void *clientd, const uint8_t *buffer, size_t length, const tp_header_t *header);

/* ------------------------------------------------------------------------- */
/* tp_consumer_meta.c                                                         */
/* ------------------------------------------------------------------------- */

/* Subscription handler of the metadata stream. */
void tp_consumer_on_metadata(void *clientd, const uint8_t *buffer, size_t length, const tp_header_t *header);
/* Free the cached attributes. */
void tp_consumer_free_attrs(tp_consumer_t *c);

/* ------------------------------------------------------------------------- */
/* tp_consumer_log.c                                                          */
/* ------------------------------------------------------------------------- */

/* Warn (rate-limited per reason) that an announce was refused: reason, tp_errmsg() and what to check. */
void tp_consumer_log_reject(tp_consumer_t *c, tp_announce_reject_t reason);
/*
 * Standalone mode, an announce for our stream while mapped: true when it comes from a second producer (another producer_id or
 * session) while the mapped one's image is still live; then it is counted, logged (rate-limited) and must be
 * ignored: the consumer sticks to the producer it mapped.
 */
bool tp_consumer_other_producer(tp_consumer_t *c, uint32_t producer_id, int32_t session_id, uint64_t epoch);

#endif
