/*
 * Producer internals, private to src/client: the producer's state, shared by
 * its source files. Who runs what:
 *
 *   tp_producer.c          application thread: hot path (offer, try_claim,
 *                          commit, abort, progress, flush), stats/accessors
 *   tp_producer_regions.c  regions and epochs: validation, creation
 *                          (conductor at add, application thread at a
 *                          layout change), release, retirement (conductor)
 *   tp_producer_layout.c   application thread: tp_producer_change_layout,
 *                          handing new regions over to the conductor
 *   tp_producer_control.c  conductor: creation/destruction, ShmPoolAnnounce,
 *                          QosProducer, consumer table (ConsumerHello,
 *                          QosConsumer), progress policy, applying a layout
 *                          change, duty cycle
 *   tp_producer_fanout.c   conductor: per-consumer descriptor/control
 *                          streams (§5) and the fan-out of committed frames
 *                          and progress handed over by the application thread
 *   tp_producer_meta.c     metadata and meta blobs: the application thread
 *                          builds the commands, the conductor applies and
 *                          sends them (DataSourceAnnounce/Meta, MetaBlob*)
 *
 * Cross-thread hand-over only goes through the atomics grouped as such in
 * struct tp_producer_stct below, or through conductor commands.
 */
#ifndef TP_CLIENT_TP_PRODUCER_INTERNAL_H
#define TP_CLIENT_TP_PRODUCER_INTERNAL_H

#include <limits.h>
#include <stdatomic.h>

#include "client/tp_client_internal.h"
#include "common/tp_spsc_queue.h"
#include "client/tp_driver_lease.h"
#include "common/tp_clock.h"
#include "common/tp_error.h"
#include "tensor_pool/tp_tracelink.h"
#include "tp_sbe/wire.h"

#define TP_DESCRIPTOR_LENGTH (TP_SBE_MESSAGE_HEADER_LENGTH + TP_SBE_WIRE_FRAME_DESCRIPTOR_BLOCK_LENGTH)
#define TP_PROGRESS_LENGTH (TP_SBE_MESSAGE_HEADER_LENGTH + TP_SBE_WIRE_FRAME_PROGRESS_BLOCK_LENGTH)
#define TP_PRODUCER_ENCODE_BUFFER (128u * 1024u)
#define TP_PRODUCER_MAX_TRACKED_CONSUMERS 64
#define TP_ADMIN_RETRIES 64
/* Producer floors for FrameProgress (consumers may ask for less, never below these). */
#define TP_PROGRESS_MIN_INTERVAL_NS UINT64_C(50000)
#define TP_PROGRESS_MIN_BYTES UINT64_C(4096)
#define TP_PROGRESS_DEFAULT_INTERVAL_NS UINT64_C(250000)
#define TP_PROGRESS_DEFAULT_BYTES UINT64_C(65536)
/* Extra ShmPoolAnnounce on a ConsumerHello or a new subscriber: at most one per this gap (§10.1.1 "on change"). */
#define TP_ANNOUNCE_PROMPT_MIN_GAP_NS UINT64_C(50000000)

typedef struct tp_producer_entry_stct
{
    uint64_t seq;
    uint32_t pool_index;
    bool ready;
    bool aborted;
    uint64_t trace_id;
    tp_shm_slot_header_t header;
    size_t length;
    uint64_t progress_last_ns;
    uint64_t progress_last_bytes;
    uint64_t progress_reported;
    bool progress_started;
} tp_producer_entry_t;

/* One per-consumer stream: requested channel/id, pending add, publication. */
typedef struct tp_consumer_stream_stct
{
    char channel[TP_CLIENT_CHANNEL_MAX];
    int32_t stream_id;
    tp_async_add_publication_t *async;
    tp_publication_t *pub;
} tp_consumer_stream_t;

/* FrameProgress handed from the application thread to the conductor for per-consumer control streams. */
#define TP_PROGRESS_RING_CAPACITY 1024u
typedef struct tp_progress_entry_stct
{
    uint64_t epoch;
    uint64_t seq;
    uint64_t bytes_filled;
    uint8_t state;
} tp_progress_entry_t;

typedef struct tp_tracked_consumer_stct
{
    uint32_t consumer_id;
    uint64_t last_seen_ns;
    bool supports_progress;
    uint32_t progress_interval_us;  /* UINT32_MAX = none */
    uint32_t progress_bytes_delta;  /* UINT32_MAX = none */
    uint32_t max_rate_hz;
    uint8_t mode;
    tp_consumer_stream_t desc; /* per-consumer descriptor stream (§5) */
    tp_consumer_stream_t ctl;  /* per-consumer control stream: FrameProgress only (§5) */
    uint64_t next_allowed_ns;
    uint64_t mapped_epoch; /* epoch of its last QosConsumer (0 = none yet) */
} tp_tracked_consumer_t;

/* A meta blob being sent by the conductor. */
typedef struct tp_producer_blob_stct
{
    uint32_t meta_version;
    uint32_t blob_type;
    uint64_t length;
    uint64_t offset;   /* next chunk */
    uint32_t checksum;
    bool announced;
    uint8_t data[];
} tp_producer_blob_t;

#define TP_META_BLOB_CHUNK_MAX (64u * 1024u)

/* Committed frames handed from the application thread to the conductor (SPSC) for per-consumer streams. */
#define TP_FANOUT_CAPACITY 4096u
typedef struct tp_fanout_entry_stct
{
    uint64_t epoch;
    uint64_t seq;
    uint64_t trace_id;
    uint32_t meta_version;
} tp_fanout_entry_t;

/*
 * The regions of one epoch (§15.2, §15.21a): immutable after creation except
 * the conductor's retirement fields. The application thread's hot path and
 * the conductor each hold their own pointer; a layout change hands a new set
 * over through `pending_regions`.
 */
typedef struct tp_producer_regions_stct
{
    uint64_t epoch;
    uint32_t header_nslots;
    char epoch_dir[PATH_MAX];
    tp_shm_region_t *ring;
    tp_shm_region_t *pools[TP_PRODUCER_MAX_POOLS]; /* ascending stride */
    uint32_t strides[TP_PRODUCER_MAX_POOLS];
    uint16_t pool_ids[TP_PRODUCER_MAX_POOLS];
    size_t pool_count;
    char header_uri[TP_REGION_URI_MAX];
    char pool_uris[TP_PRODUCER_MAX_POOLS][TP_REGION_URI_MAX];
    uint32_t trace_node_id;                      /* driver mode, leased TraceLink node id adopted (TL-2); else 0 */
    uint64_t retire_at_ns;                       /* conductor: superseded, removed at this time */
    struct tp_producer_regions_stct *next;       /* conductor: retired list */
} tp_producer_regions_t;

typedef struct tp_producer_meta_stct
{
    uint32_t meta_version;
    size_t count;
    char **keys;
    char **formats;
    uint8_t **values;
    uint32_t *lengths;
} tp_producer_meta_t;

struct tp_producer_stct
{
    /*
     * Set by the conductor while the add is pending, read-only once the
     * producer is handed to the application (the add command's state is the
     * release/acquire point). `active` is cleared by the conductor on destroy.
     */
    tp_client_t *client;
    tp_producer_config_t config;
    bool active;
    tp_pending_adds_t pending;      /* conductor: transport adds of the creation */
    tp_publication_t *pub_descriptor; /* application thread (hot path) */
    tp_publication_t *pub_control;    /* conductor; application thread for FrameProgress on the shared stream */
    tp_publication_t *pub_announce;   /* conductor; == pub_control when the streams coincide */
    tp_publication_t *pub_qos;        /* conductor */
    tp_publication_t *pub_metadata;   /* conductor */
    tp_subscription_t *sub_control;   /* conductor */
    tp_subscription_t *sub_announce;  /* conductor, driver mode with an announce stream apart from control */
    tp_subscription_t *sub_qos;       /* conductor */

    /*
     * The groups below are written by different threads: a cache line of padding between them keeps the
     * conductor's per-cycle stores off the lines the hot path writes or reads every frame (whatever the
     * allocation's alignment).
     */
    uint8_t pad_before_hot_[64];

    /* ---- application thread only (hot path) ---- */
    tp_producer_regions_t *hot;     /* the regions the hot path writes */
    uint64_t next_seq;
    tp_producer_entry_t *entries;
    uint32_t entries_capacity;
    uint32_t max_claims;
    uint32_t head;
    uint32_t count;
    tp_trace_id_generator_t trace_gen; /* config.trace_enabled: mints trace ids in fill_header */

    /* ---- written by the application thread, read anywhere (relaxed counters unless noted) ---- */
    _Atomic uint64_t current_seq;   /* release; also reset by the conductor when it applies a layout change */
    _Atomic uint64_t epoch;         /* current epoch of the hot path */
    _Atomic uint64_t frames, bytes, descriptors_published, descriptors_not_connected, descriptors_failed, back_pressured,
        admin_action_retries, no_pool_drops, claims_aborted, progress_sent;
    _Atomic uint64_t fanout_overflow;
    _Atomic uint32_t meta_version;  /* incremented by tp_producer_set_metadata (caller's thread) */
    uint8_t pad_after_hot_[64];

    /* ---- conductor only ---- */
    tp_producer_regions_t *regions; /* the regions announced */
    tp_producer_regions_t *retired; /* superseded epochs kept for the grace period */
    uint64_t next_announce_ns;
    uint64_t last_announce_ns;
    bool announce_requested;     /* a ConsumerHello or a new announce subscriber asks for a prompt announce */
    bool announce_connected;     /* last seen tp_publication_is_connected(pub_announce) */
    uint64_t next_qos_ns;
    bool meta_dirty;
    tp_producer_meta_t *meta;
    tp_tracked_consumer_t consumers[TP_PRODUCER_MAX_TRACKED_CONSUMERS];
    size_t consumer_count;
    uint8_t *encode_buffer;
    tp_producer_blob_t *blob;

    /* ---- written by the conductor, read anywhere ---- */
    _Atomic uint64_t applied_epoch; /* epoch of the regions announced (release) */
    _Atomic uint64_t announces, qos_sent, hellos_received, consumers_known, consumers_stale, prompt_announces,
        layout_changes, per_consumer_descriptors, per_consumer_rate_limited, meta_blobs_sent;
    _Atomic bool progress_enabled;        /* progress policy (§10.2.2), read by the hot path */
    _Atomic uint64_t progress_interval_ns;
    _Atomic uint64_t progress_bytes_delta;
    _Atomic bool fanout_active;           /* a consumer has its own descriptor stream: push to `fanout` */
    _Atomic bool progress_fanout_active;  /* a progress consumer has its own control stream: push to `progress_queue` */
    _Atomic bool progress_shared;         /* a progress consumer listens on the shared control stream */

    /* ---- driver mode (Driver Model spec): immutable flag, conductor-owned lease ---- */
    bool driver_mode;
    tp_driver_lease_t lease;            /* conductor */
    uint64_t attach_deadline_ns;        /* conductor: the add fails when the first attach is not granted by then */
    tp_driver_lease_event_t attach_event; /* conductor: the last lease event */
    tp_producer_regions_t *switch_from; /* conductor: regions of the lost lease until the hot path left them */
    bool trace_node_refused;            /* conductor: a lease was not used for want of a TraceLink node id (TL-2) */
    uint64_t mlock_failures;            /* conductor: leased regions mlock_shm could not lock (used unlocked) */
    _Atomic bool lease_valid;           /* conductor -> hot path: publishing allowed (release) */
    _Atomic(tp_producer_regions_t *) next_hot; /* conductor -> hot path: regions of a new lease */
    _Atomic uint64_t reattaches, frames_dropped_unattached;

    /* ---- hand-over application thread -> conductor ---- */
    _Atomic(tp_producer_regions_t *) pending_regions; /* layout change (tp_producer_change_layout) */
    /* committed frames (tp_fanout_entry_t) while per-consumer descriptor streams exist; producer side: the
     * application thread, consumer side: the conductor */
    tp_spsc_queue_t fanout;
    /* FrameProgress (tp_progress_entry_t) while per-consumer control streams exist; same sides */
    tp_spsc_queue_t progress_queue;
};

_Static_assert(TP_SBE_WIRE_FRAME_DESCRIPTOR_STREAM_ID_OFFSET == 0 && TP_SBE_WIRE_FRAME_DESCRIPTOR_EPOCH_OFFSET == 4 &&
        TP_SBE_WIRE_FRAME_DESCRIPTOR_SEQ_OFFSET == 12 && TP_SBE_WIRE_FRAME_DESCRIPTOR_TIMESTAMP_NS_OFFSET == 20 &&
        TP_SBE_WIRE_FRAME_DESCRIPTOR_META_VERSION_OFFSET == 28 && TP_SBE_WIRE_FRAME_DESCRIPTOR_TRACE_ID_OFFSET == 32 &&
        TP_SBE_WIRE_FRAME_DESCRIPTOR_BLOCK_LENGTH == 40,
    "FrameDescriptor layout changed: update tp_producer_encode_descriptor");

/*
 * FrameDescriptor with its message header into buf (hot path and per-consumer
 * fan-out): the fixed 48 bytes written directly with the generated
 * little-endian stores (no flyweight wrap). `len` must be at least
 * TP_DESCRIPTOR_LENGTH (a shorter buffer is left untouched).
 */
static inline void tp_producer_encode_descriptor(const tp_producer_t *p, uint8_t *buf, size_t len, uint64_t epoch, uint64_t seq,
    uint32_t meta_version, uint64_t trace_id)
{
    if (len < TP_DESCRIPTOR_LENGTH)
    {
        return;
    }
    tp_sbe_put_header(buf, TP_SBE_WIRE_FRAME_DESCRIPTOR_BLOCK_LENGTH, TP_SBE_WIRE_FRAME_DESCRIPTOR_TEMPLATE_ID,
        TP_SBE_WIRE_SCHEMA_ID, TP_SBE_WIRE_SCHEMA_VERSION);
    uint8_t *m = buf + TP_SBE_MESSAGE_HEADER_LENGTH;
    tp_sbe_put_u32(m + 0, p->config.stream_id);
    tp_sbe_put_u64(m + 4, epoch);
    tp_sbe_put_u64(m + 12, seq);
    tp_sbe_put_u64(m + 20, p->config.descriptor_timestamp ? tp_clock_mono_ns()
                                                         : TP_SBE_WIRE_FRAME_DESCRIPTOR_TIMESTAMP_NS_NULL_VALUE);
    tp_sbe_put_u32(m + 28, meta_version);
    tp_sbe_put_u64(m + 32, trace_id);
}

/* FrameProgress with its message header into buf (shared control stream and per-consumer fan-out). */
static inline void tp_producer_encode_progress(const tp_producer_t *p, uint8_t *buf, size_t len, uint64_t epoch, uint64_t seq,
    uint64_t bytes_filled, int state)
{
    tp_sbe_wire_frame_progress_t m = { 0 };
    tp_sbe_wire_frame_progress_wrap_and_apply_header(&m, buf, 0, len);
    tp_sbe_wire_frame_progress_set_stream_id(&m, p->config.stream_id);
    tp_sbe_wire_frame_progress_set_epoch(&m, epoch);
    tp_sbe_wire_frame_progress_set_seq(&m, seq);
    tp_sbe_wire_frame_progress_set_payload_bytes_filled(&m, bytes_filled);
    tp_sbe_wire_frame_progress_set_state(&m, (tp_sbe_wire_frame_progress_state_t)state);
}

/*
 * Conductor: offer a control-plane message, retrying admin actions; real
 * errors go to the client's error handler (not connected and back pressure
 * are not errors for the periodic control plane).
 */
static inline void tp_producer_offer_control(tp_producer_t *p, tp_publication_t *pub, const uint8_t *buf, size_t len)
{
    for (int i = 0; i < TP_ADMIN_RETRIES; i++)
    {
        int64_t rc = tp_publication_offer(pub, buf, len, NULL, NULL);
        if (TP_PUBLICATION_ADMIN_ACTION != rc)
        {
            if (rc < 0 && TP_PUBLICATION_NOT_CONNECTED != rc && TP_PUBLICATION_BACK_PRESSURED != rc)
            {
                tp_err_set(TP_ERR_IO, "offer on stream %d failed (%lld)", tp_publication_stream_id(pub), (long long)rc);
                tp_client_report_error(p->client, "producer control plane");
            }
            return;
        }
    }
}

/* ------------------------------------------------------------------------- */
/* tp_producer.c (application thread)                                         */
/* ------------------------------------------------------------------------- */

/* Publish ready entries in order. Returns count published, or a negative TP_PRODUCER_* code. */
int64_t tp_producer_flush_entries(tp_producer_t *p);

/* ------------------------------------------------------------------------- */
/* tp_producer_regions.c                                                      */
/* ------------------------------------------------------------------------- */

/* Validate a pool layout (any thread). Returns 0 or -1. */
int tp_producer_validate_layout(uint32_t header_nslots, size_t pool_count, const tp_pool_config_t *pools);
/* Claims in flight for a ring of `nslots` (documented clamp to nslots / 2). */
uint32_t tp_producer_effective_max_claims(const tp_producer_config_t *config, uint32_t nslots);
/* Create the regions of a new epoch (at least `min_epoch`). Returns the set or NULL. */
tp_producer_regions_t *tp_producer_regions_create(tp_producer_t *p, uint32_t header_nslots, size_t pool_count,
    const tp_pool_config_t *pools, uint64_t min_epoch);
/* Standalone mode: remove this stream's epochs of dead producers (tp_shm_gc); failures are logged, never fatal. */
void tp_producer_reclaim_dead_epochs(tp_producer_t *p);
/* Unmap a set of regions; `remove` also unlinks its epoch directory. NULL is ignored. */
void tp_producer_regions_free(tp_producer_regions_t *r, bool remove);
/* Driver mode: map the regions of a lease grant writable and validated. NULL on failure. */
tp_producer_regions_t *tp_producer_regions_from_grant(tp_producer_t *p, const tp_driver_grant_t *g);
/* Driver mode (conductor): lease duty cycle and attach/lease events; returns work count. */
int tp_producer_driver_work(tp_producer_t *p, uint64_t now_ns);
/* Conductor: the tracked consumer `consumer_id` (added when new; NULL when the table is full). */
tp_tracked_consumer_t *tp_producer_track_consumer(tp_producer_t *p, uint32_t consumer_id, uint64_t now_ns);
/* Conductor: handler of the shared control stream (ConsumerHello; driver messages in driver mode). */
void tp_producer_on_control(void *clientd, const uint8_t *buffer, size_t length, const tp_header_t *header);
/* Driver mode (conductor): a driver-schema message of the control stream. */
void tp_producer_driver_message(tp_producer_t *p, const uint8_t *buffer, size_t length, const tp_header_t *header,
    uint64_t now_ns);
/*
 * Driver mode (application thread): 0 when publishing is allowed (switching
 * to the regions of a new lease when one is waiting and no claim is open),
 * TP_PRODUCER_NOT_ATTACHED otherwise.
 */
int64_t tp_producer_driver_gate(tp_producer_t *p);
/* Conductor: remove superseded epochs whose grace period is over. Returns work count. */
int tp_producer_retire_regions(tp_producer_t *p, uint64_t now_ns);

/* ------------------------------------------------------------------------- */
/* tp_producer_control.c (conductor)                                          */
/* ------------------------------------------------------------------------- */

/* Allocate and start creating (SHM + async transport adds). Returns 0 or -1. */
int tp_producer_create(tp_producer_t **out, tp_client_t *client, const tp_producer_config_t *config);
/* Continue creation: 1 ready, 0 pending, -1 failed. */
int tp_producer_poll_ready(tp_producer_t *producer);
/* Conductor duty cycle for one producer. Returns work count. */
int tp_producer_do_work(tp_producer_t *producer, uint64_t now_ns);
/* Release everything. */
void tp_producer_destroy(tp_producer_t *producer);
/*
 * Conductor (or the application thread inline in invoker mode): take and
 * announce a layout handed over by tp_producer_change_layout. Returns work count.
 */
int tp_producer_apply_pending_layout(tp_producer_t *p, uint64_t now_ns);
/* ShmPoolAnnounce of the conductor's regions. Returns 0 or -1. */
int tp_producer_send_announce(tp_producer_t *p, uint64_t now_ns);
/* QosProducer. */
void tp_producer_send_qos(tp_producer_t *p);

/* ------------------------------------------------------------------------- */
/* tp_producer_fanout.c (conductor)                                           */
/* ------------------------------------------------------------------------- */

/*
 * One per-consumer stream request of a ConsumerHello. Returns true when a
 * ConsumerConfig should be sent now (declined, or an idempotent re-assignment).
 */
bool tp_producer_handle_stream_request(tp_producer_t *p, tp_consumer_stream_t *st, const char *ch, uint32_t len,
    uint32_t sid);
/* ConsumerConfig for one tracked consumer (§10.1.3). */
void tp_producer_send_config(tp_producer_t *p, const tp_tracked_consumer_t *c);
/* Release both per-consumer streams of a tracked consumer. */
void tp_producer_release_consumer_streams(tp_producer_t *p, tp_tracked_consumer_t *c);
/* Recompute which hand-over rings the application thread feeds. */
void tp_producer_update_fanout_active(tp_producer_t *p);
/* Complete pending per-consumer publications, fan committed frames and progress out. Returns work count. */
int tp_producer_fanout_work(tp_producer_t *p, uint64_t now_ns);

/* ------------------------------------------------------------------------- */
/* tp_producer_meta.c                                                         */
/* ------------------------------------------------------------------------- */

/* Free a metadata set (NULL is ignored). */
void tp_producer_meta_free(tp_producer_meta_t *m);
/* Conductor: DataSourceAnnounce, and DataSourceMeta when `meta` and metadata is set. */
void tp_producer_send_data_source(tp_producer_t *p, uint64_t now_ns, bool meta);
/* Conductor: send the pending meta blob as far as the stream takes it. Returns work count. */
int tp_producer_send_blob(tp_producer_t *p);

#endif
