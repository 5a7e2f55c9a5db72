/* Driver internals: configuration, streams and leases (one conductor thread owns all of it). */
#ifndef TP_DRIVER_TP_DRIVER_INTERNAL_H
#define TP_DRIVER_TP_DRIVER_INTERNAL_H

#include <limits.h>
#include <stdatomic.h>

#include "common/tp_agent_runner.h"
#include "tensor_pool/tp_driver.h"
#include "tensor_pool/tp_shm.h"
#include "shm/tp_shm_epoch.h"
#include "transport/tp_transport.h"
#include "driver/tp_driver_discovery.h"

#define TP_DRIVER_NAME_MAX 64
#define TP_DRIVER_CHANNEL_MAX 256
#define TP_DRIVER_TOKEN_MAX 256
#define TP_DRIVER_MAX_POOLS 16
#define TP_DRIVER_MAX_PROFILES 32
#define TP_DRIVER_MAX_STATIC_STREAMS 256
#define TP_DRIVER_MAX_STREAMS 512
#define TP_DRIVER_MAX_LEASES 1024
#define TP_DRIVER_MAX_ALLOWED_DIRS 8
/* Node ids handed out by the driver: 1..TP_DRIVER_NODE_ID_MAX (10-bit Snowflake node field). */
#define TP_DRIVER_NODE_ID_MAX 1023u
#define TP_DRIVER_URI_MAX (TP_SHM_PATH_MAX + 64)
#define TP_DRIVER_ERROR_MESSAGE_MAX 1024
#define TP_DRIVER_ENCODE_BUFFER 16384
#define TP_DRIVER_UNKNOWN_RING 16
#define TP_DRIVER_MAX_CONSUMERS 1024

typedef struct tp_driver_range_stct
{
    uint32_t first;
    uint32_t last;
    bool set;
} tp_driver_range_t;

typedef struct tp_driver_profile_stct
{
    char name[TP_DRIVER_NAME_MAX];
    uint32_t header_nslots;
    size_t pool_count;
    uint16_t pool_ids[TP_DRIVER_MAX_POOLS];
    uint32_t strides[TP_DRIVER_MAX_POOLS];
} tp_driver_profile_t;

typedef struct tp_driver_static_stream_stct
{
    char name[TP_DRIVER_NAME_MAX];
    uint32_t stream_id;
    size_t profile;
} tp_driver_static_stream_t;

struct tp_driver_config_stct
{
    /* [driver] */
    char instance_id[TP_DRIVER_NAME_MAX];
    char transport_backend[16];
    char transport_dir[PATH_MAX];
    char control_channel[TP_DRIVER_CHANNEL_MAX];
    uint32_t control_stream_id;
    char announce_channel[TP_DRIVER_CHANNEL_MAX];
    uint32_t announce_stream_id;
    bool announce_set;
    char qos_channel[TP_DRIVER_CHANNEL_MAX];
    uint32_t qos_stream_id;
    tp_driver_range_t stream_id_range;
    tp_driver_range_t descriptor_stream_id_range;
    tp_driver_range_t control_stream_id_range;
    /* [shm] */
    char shm_base_dir[PATH_MAX];
    char shm_namespace[TP_SHM_NAME_MAX + 1];
    bool require_hugepages;
    uint32_t page_size_bytes;
    uint32_t permissions_mode;
    char allowed_dirs[TP_DRIVER_MAX_ALLOWED_DIRS][PATH_MAX];
    size_t allowed_dir_count;
    /* [policies] */
    bool allow_dynamic_streams;
    char default_profile[TP_DRIVER_NAME_MAX];
    uint32_t announce_period_ms;
    uint32_t lease_keepalive_interval_ms;
    uint32_t lease_expiry_grace_intervals;
    uint32_t node_id_reuse_cooldown_ms;
    uint32_t max_leases; /* extension: 1..TP_DRIVER_MAX_LEASES active leases */
    bool prefault_shm;
    bool mlock_shm;
    bool cleanup_shm_on_exit;
    bool epoch_gc_enabled;
    uint32_t epoch_gc_keep;
    uint64_t epoch_gc_min_age_ns; /* 0 = 3 x announce period */
    bool epoch_gc_on_startup;
    uint32_t shutdown_timeout_ms;
    char shutdown_token[TP_DRIVER_TOKEN_MAX];
    /* [supervisor] */
    uint32_t supervisor_consumer_stale_ms;
    bool supervisor_force_no_shm;
    uint8_t supervisor_force_mode; /* 0 = no override, 1 STREAM, 2 RATE_LIMITED */
    char supervisor_fallback_uri[TP_DRIVER_CHANNEL_MAX];
    char supervisor_descriptor_channel[TP_DRIVER_CHANNEL_MAX]; /* "" = the channel the consumer asked for */
    char supervisor_control_channel[TP_DRIVER_CHANNEL_MAX];
    /* [profiles.*], [streams.*] */
    tp_driver_profile_t profiles[TP_DRIVER_MAX_PROFILES];
    size_t profile_count;
    tp_driver_static_stream_t streams[TP_DRIVER_MAX_STATIC_STREAMS];
    size_t stream_count;
    /* [discovery] (tp_driver_discovery.c) */
    bool discovery_enabled;
    tp_discovery_provider_config_t discovery;
};

/** Validate a whole configuration (ranges, profiles, streams). Returns 0 or -1 (TP_ERR_CONFIG). */
int tp_driver_config_validate(const tp_driver_config_t *config);

/** Index of the profile named `name`, or -1. */
int tp_driver_config_find_profile(const tp_driver_config_t *config, const char *name);

/** Effective epoch GC minimum age in ns. */
uint64_t tp_driver_config_gc_min_age_ns(const tp_driver_config_t *config);

/* ------------------------------------------------------------------------- */
/* Streams: the regions of the current epoch                                  */
/* ------------------------------------------------------------------------- */

typedef struct tp_driver_regions_stct
{
    tp_shm_epoch_set_t set;
} tp_driver_regions_t;

typedef struct tp_driver_stream_stct
{
    uint32_t stream_id;
    size_t profile;
    bool dynamic;
    tp_driver_regions_t *regions; /* current epoch (NULL until the first attach) */
    uint64_t producer_lease_id;   /* 0 = no producer */
    uint32_t producer_client_id;
    uint64_t last_announce_ns;
    uint64_t epoch_created_ns;
    uint64_t prev_epoch; /* the epoch before the current one (our own announces of it may still be in flight) */
    uint64_t last_producer_qos_ns; /* supervisor: last QosProducer */
    uint64_t producer_seq;
} tp_driver_stream_t;

/* A consumer of a managed stream, as the supervisor knows it (ConsumerHello, QosConsumer). */
typedef struct tp_driver_consumer_stct
{
    uint32_t stream_id;
    uint32_t consumer_id;
    uint64_t last_seen_ns;
    uint8_t mode;
    uint32_t descriptor_stream_id; /* assigned per-consumer stream, 0 = none */
    uint32_t control_stream_id;
    char descriptor_channel[TP_DRIVER_CHANNEL_MAX];
    char control_channel[TP_DRIVER_CHANNEL_MAX];
    bool descriptor_declined; /* the request was declined: not re-evaluated on every hello */
    bool control_declined;
    uint64_t drops_gap;
    uint64_t drops_late;
} tp_driver_consumer_t;

typedef enum tp_driver_role_enum
{
    TP_DRIVER_ROLE_PRODUCER = 1,
    TP_DRIVER_ROLE_CONSUMER = 2
} tp_driver_role_t;

typedef struct tp_driver_lease_stct
{
    uint64_t lease_id; /* 0 = free slot */
    uint32_t stream_id;
    uint32_t client_id;
    uint32_t node_id;
    tp_driver_role_t role;
    uint64_t expiry_ns;
    int64_t attach_correlation_id;
} tp_driver_lease_t;

struct tp_driver_stct
{
    tp_driver_config_t config;
    tp_transport_t *transport;
    tp_subscription_t *control_sub;
    tp_publication_t *control_pub;
    tp_publication_t *announce_pub; /* == control_pub when the streams are the same */
    tp_subscription_t *qos_sub;     /* supervisor: QosConsumer / QosProducer */
    tp_subscription_t *announce_sub; /* announce stream when it is not the control stream: another driver's announces */
    uint64_t last_foreign_warn_ns;   /* a second driver on our streams: warned at most every 10 s (DRV-15) */
    _Atomic int32_t last_foreign_session;
    tp_driver_consumer_t consumers[TP_DRIVER_MAX_CONSUMERS];
    size_t consumer_count;
    tp_shm_allowlist_t *allowlist;
    tp_agent_runner_t runner;
    bool runner_started;
    bool initialized; /* tp_driver_init completed: close announces the shutdown */
    tp_driver_stream_t streams[TP_DRIVER_MAX_STREAMS];
    size_t stream_count;
    tp_driver_lease_t leases[TP_DRIVER_MAX_LEASES];
    uint64_t next_lease_id;
    uint64_t node_released_ns[TP_DRIVER_NODE_ID_MAX + 1]; /* 0 = never used */
    bool node_active[TP_DRIVER_NODE_ID_MAX + 1];
    uint32_t node_last_client[TP_DRIVER_NODE_ID_MAX + 1]; /* client id of the last lease holding it (0 = none) */
    uint32_t node_cursor;
    uint64_t unknown_revoked[16]; /* lease ids told "unknown lease" recently (one notice each) */
    size_t unknown_cursor;
    uint64_t shutdown_rejected;
    uint64_t last_gc_ns;
    uint64_t last_expiry_check_ns;
    atomic_bool shutdown_requested;
    bool draining;
    uint64_t drain_deadline_ns;
    uint8_t shutdown_reason;
    atomic_bool terminated;
    bool shutdown_sent;
    uint8_t encode_buffer[TP_DRIVER_ENCODE_BUFFER];
    tp_discovery_provider_t *discovery; /* embedded discovery provider (NULL when disabled) */
    uint64_t discovery_last_sync_ns;
    /* counters: written by the conductor, read by tp_driver_stats from any thread */
    _Atomic uint64_t counters[32];
    _Atomic uint64_t rejects[TP_DRIVER_REJECT_COUNT];
};

enum
{
    TP_DRV_C_ATTACH = 0,
    TP_DRV_C_ATTACH_OK,
    TP_DRV_C_ATTACH_REJECTED,
    TP_DRV_C_KEEPALIVE,
    TP_DRV_C_KEEPALIVE_UNKNOWN,
    TP_DRV_C_DETACH,
    TP_DRV_C_EXPIRED,
    TP_DRV_C_REVOKED,
    TP_DRV_C_EPOCHS,
    TP_DRV_C_GC,
    TP_DRV_C_ANNOUNCES,
    TP_DRV_C_MALFORMED,
    TP_DRV_C_ACTIVE_LEASES,
    TP_DRV_C_STREAMS,
    TP_DRV_C_CONFIGS,
    TP_DRV_C_PER_CONSUMER_ASSIGNED,
    TP_DRV_C_PER_CONSUMER_DECLINED,
    TP_DRV_C_CONSUMERS_REFUSED,
    TP_DRV_C_CONSUMERS_STALE,
    TP_DRV_C_QOS,
    TP_DRV_C_CONSUMERS,
    TP_DRV_C_DROPS_GAP,
    TP_DRV_C_DROPS_LATE,
    TP_DRV_C_FOREIGN_DRIVER,
    TP_DRV_C_FOREIGN_ANNOUNCE
};

static inline void tp_driver_count(tp_driver_t *d, int counter, uint64_t v)
{
    atomic_store_explicit(&d->counters[counter],
        atomic_load_explicit(&d->counters[counter], memory_order_relaxed) + v, memory_order_relaxed);
}

static inline void tp_driver_count_sub(tp_driver_t *d, int counter, uint64_t v)
{
    atomic_store_explicit(&d->counters[counter],
        atomic_load_explicit(&d->counters[counter], memory_order_relaxed) - v, memory_order_relaxed);
}

/* Streams (tp_driver_streams.c) */

/** The stream `stream_id`, or NULL. */
tp_driver_stream_t *tp_driver_stream_find(tp_driver_t *d, uint32_t stream_id);

/**
 * The stream `stream_id`, added from the static config or (when `create` and
 * dynamic streams are allowed) as a dynamic stream of the default profile.
 * NULL with *reason set when it cannot be had.
 */
tp_driver_stream_t *tp_driver_stream_get(tp_driver_t *d, uint32_t stream_id, bool create, tp_driver_reject_t *reason);

/**
 * Create the regions of a new epoch for `s` (above every epoch directory on
 * disk) and make it current; the old epoch's mappings are closed (its files
 * stay for GC). Returns 0 or -1.
 */
int tp_driver_stream_new_epoch(tp_driver_t *d, tp_driver_stream_t *s, uint64_t now_ns);

/** Send ShmPoolAnnounce for `s` (no-op without regions). */
void tp_driver_stream_announce(tp_driver_t *d, tp_driver_stream_t *s, uint64_t now_ns);

/** Refresh activity timestamps and announce streams whose period elapsed. Returns work count. */
int tp_driver_streams_do_work(tp_driver_t *d, uint64_t now_ns);

/**
 * Epoch GC: in the stream directory of every stream this driver manages,
 * remove epoch directories that are not among the newest `epoch_gc_keep`,
 * are older than the minimum age, and are not the current epoch; elsewhere in
 * the namespace remove only what dead processes left (tp_shm_gc). `final`
 * (cleanup_shm_on_exit, after the streams were closed) removes every epoch of
 * the streams this driver managed. Returns the number removed.
 */
int tp_driver_gc(tp_driver_t *d, uint64_t now_ns, bool final);

/** Close every stream's mappings (and remove their directories when `remove`). */
void tp_driver_streams_close(tp_driver_t *d, bool remove);

/* Supervisor duties (tp_driver_supervisor.c) */

/** A wire-schema message of the control stream (ConsumerHello). */
void tp_driver_supervisor_on_wire(tp_driver_t *d, uint16_t template_id, const uint8_t *buffer, size_t length,
    uint64_t now_ns);
/** A message of the QoS stream. */
void tp_driver_supervisor_on_qos(tp_driver_t *d, const uint8_t *buffer, size_t length, uint64_t now_ns);
/** QoS polling, stale consumers, aggregated counters. Returns work count. */
int tp_driver_supervisor_do_work(tp_driver_t *d, uint64_t now_ns);

/* Control plane (tp_driver_control.c) */

/** Poll the announce stream (when it is not the control stream) for other drivers' announces. Returns work count. */
int tp_driver_announce_poll(tp_driver_t *d);

/** Poll the control stream and handle driver messages. Returns work count. */
int tp_driver_control_poll(tp_driver_t *d, uint64_t now_ns);

/** Expire leases past their deadline. Returns work count. */
int tp_driver_leases_check(tp_driver_t *d, uint64_t now_ns);

/** Revoke every lease (shutdown). */
void tp_driver_leases_revoke_all(tp_driver_t *d, uint64_t now_ns);

/** Publish ShmDriverShutdown. */
void tp_driver_send_shutdown(tp_driver_t *d, uint64_t now_ns, uint8_t reason, const char *message);

/** Offer a control-plane message (retries admin actions; failures are logged). */
void tp_driver_offer(tp_driver_t *d, tp_publication_t *pub, const uint8_t *buf, size_t len);

#endif
