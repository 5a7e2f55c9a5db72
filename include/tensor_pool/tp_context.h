/*
 * tensorpool: client context (configuration of a tp_client_t).
 *
 * A context is a plain configuration object: create it with
 * tp_context_init(), adjust it with the setters, hand it to tp_client_init()
 * (which copies it), then close it. Environment variables only supply
 * defaults: TP_TRANSPORT_BACKEND, TP_TRANSPORT_DIR, TP_SHM_BASE_DIR,
 * TP_NAMESPACE.
 *
 * Defaults (the SHM Tensor Pool Stream-ID Conventions): control aeron:ipc/1000, announce = the
 * control stream, descriptor 1100, QoS 1200, metadata 1300; SHM base dir
 * /dev/shm, namespace "default", allowed base dirs = {base dir}; announce,
 * QoS and hello periods 1 s; freshness window 3 x announce period; consumer
 * stale timeout 4 x max(hello, QoS) period; invoker mode (the application
 * calls tp_client_do_work()); backoff idle strategy for the conductor thread.
 */
#ifndef TENSOR_POOL_TP_CONTEXT_H
#define TENSOR_POOL_TP_CONTEXT_H

#include "tensor_pool/tp_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Opaque client configuration. */
typedef struct tp_context_stct tp_context_t;

/**
 * Error handler: called from the conductor duty cycle for asynchronous errors
 * (a failed periodic send, a dead transport, ...). `message` is valid during
 * the call only.
 */
typedef void (*tp_error_handler_t)(void *clientd, int errcode, const char *message);

/** Logical streams of the control plane (wire spec §5). */
typedef enum tp_stream_kind_enum
{
    TP_STREAM_CONTROL = 0,    /**< ConsumerHello, ConsumerConfig, FrameProgress (default 1000) */
    TP_STREAM_ANNOUNCE = 1,   /**< ShmPoolAnnounce (default: the control stream) */
    TP_STREAM_DESCRIPTOR = 2, /**< FrameDescriptor (default 1100) */
    TP_STREAM_QOS = 3,        /**< QosProducer, QosConsumer (default 1200) */
    TP_STREAM_METADATA = 4,   /**< DataSourceAnnounce, DataSourceMeta, meta blobs (default 1300) */
    TP_STREAM_KIND_COUNT = 5
} tp_stream_kind_t;

/** Create a context with the defaults listed above. Returns 0 or -1. */
TP_EXPORT int tp_context_init(tp_context_t **out);

/** Free a context (NULL is fine). Clients keep their own copy. */
TP_EXPORT int tp_context_close(tp_context_t *ctx);

/** Transport backend: "embedded" (default) or "aeron". */
TP_EXPORT int tp_context_set_transport_backend(tp_context_t *ctx, const char *backend);

/** Transport directory (embedded: IPC logs; aeron: aeron dir). "" = the transport's default. */
TP_EXPORT int tp_context_set_transport_dir(tp_context_t *ctx, const char *dir);

/**
 * Channel URI and stream id of a logical stream. Setting TP_STREAM_CONTROL
 * also moves the announce stream while it has not been set explicitly.
 */
TP_EXPORT int tp_context_set_stream(tp_context_t *ctx, tp_stream_kind_t kind, const char *channel, int32_t stream_id);

/** Channel of a logical stream (never NULL for a valid kind). */
TP_EXPORT const char *tp_context_get_stream_channel(const tp_context_t *ctx, tp_stream_kind_t kind);

/** Stream id of a logical stream (-1 for an invalid kind). */
TP_EXPORT int32_t tp_context_get_stream_id(const tp_context_t *ctx, tp_stream_kind_t kind);

/** SHM base directory for regions created by producers (default /dev/shm or $TP_SHM_BASE_DIR). */
TP_EXPORT int tp_context_set_shm_base_dir(tp_context_t *ctx, const char *dir);

/** Namespace of the canonical layout (default "default" or $TP_NAMESPACE). */
TP_EXPORT int tp_context_set_namespace(tp_context_t *ctx, const char *namespace_name);

/**
 * Add an allowed base directory for announced region paths (§15.21a.5). When
 * none is added, the SHM base directory is the only allowed one.
 */
TP_EXPORT int tp_context_add_allowed_base_dir(tp_context_t *ctx, const char *dir);

/**
 * Driver mode (Driver Model spec): producers and consumers attach to the SHM
 * driver (`tp driver`) over the control stream instead of creating regions
 * (producers) or trusting any announcer (consumers). The add completes once
 * the driver granted a lease; a refusal fails the add with the driver's
 * reason; leases are kept alive and re-acquired after a driver restart by the
 * duty cycle. Default: standalone, or driver mode when $TP_DRIVER_MODE is 1.
 */
TP_EXPORT int tp_context_set_driver_mode(tp_context_t *ctx, bool enabled);

/** Whether driver mode is set. */
TP_EXPORT bool tp_context_driver_mode(const tp_context_t *ctx);

/**
 * Lease keepalive interval in driver mode (default 1 s, the spec's baseline;
 * use the driver's `policies.lease_keepalive_interval_ms`).
 */
TP_EXPORT int tp_context_set_driver_keepalive_ns(tp_context_t *ctx, uint64_t interval_ns);

/** The driver-mode keepalive interval. */
TP_EXPORT uint64_t tp_context_driver_keepalive_ns(const tp_context_t *ctx);

/**
 * mlock the shared-memory regions this client maps (Driver Model spec §17,
 * `mlock_shm`: "clients SHOULD mlock their own mappings when enabled"):
 * consumers lock the header ring and pools they map, driver-mode producers
 * the regions of their lease, standalone producers the regions they create.
 * A mapping that cannot be locked (RLIMIT_MEMLOCK, `ulimit -l`, without
 * CAP_IPC_LOCK) is a warning for mapped regions (reported to the error
 * handler with TP_ERR_PERMISSION, else logged; the mapping is used unlocked)
 * and an error for regions a standalone producer creates (it owns them, as
 * the driver does: fatal, §17; the add fails). Default: false, or true when
 * $TP_MLOCK_SHM is 1.
 */
TP_EXPORT int tp_context_set_mlock_shm(tp_context_t *ctx, bool enabled);

/** Whether mapped regions are mlocked. */
TP_EXPORT bool tp_context_get_mlock_shm(const tp_context_t *ctx);

/** ShmPoolAnnounce / DataSourceAnnounce / activity refresh period (default 1 s). */
TP_EXPORT int tp_context_set_announce_period_ns(tp_context_t *ctx, uint64_t period_ns);

/** QosProducer / QosConsumer period (default 1 s). */
TP_EXPORT int tp_context_set_qos_interval_ns(tp_context_t *ctx, uint64_t interval_ns);

/** Periodic ConsumerHello period (default 1 s). */
TP_EXPORT int tp_context_set_hello_interval_ns(tp_context_t *ctx, uint64_t interval_ns);

/** Announce freshness window (default 0 = 3 x announce period). */
TP_EXPORT int tp_context_set_freshness_window_ns(tp_context_t *ctx, uint64_t window_ns);

/**
 * Time without ConsumerHello or QosConsumer after which a producer treats a
 * consumer as stale (default 0 = 4 x max(hello, QoS) interval). Must be 3-5 x
 * that interval (wire §5); other values are rejected by tp_client_init().
 */
TP_EXPORT int tp_context_set_consumer_stale_timeout_ns(tp_context_t *ctx, uint64_t timeout_ns);

/**
 * true: tp_client_start() runs the conductor on its own thread; false
 * (default): invoker mode, the application calls tp_client_do_work().
 */
TP_EXPORT int tp_context_set_use_conductor_thread(tp_context_t *ctx, bool use_thread);

/** Idle strategy of the conductor thread: "backoff" (default), "sleep", "yield", "spin", "noop". */
TP_EXPORT int tp_context_set_idle_strategy(tp_context_t *ctx, const char *name);

/** Error handler for asynchronous errors (default: log them). */
TP_EXPORT int tp_context_set_error_handler(tp_context_t *ctx, tp_error_handler_t handler, void *clientd);

/** Default timeout of the blocking helpers when they are given 0 (default 10 s). */
TP_EXPORT int tp_context_set_client_timeout_ns(tp_context_t *ctx, uint64_t timeout_ns);

/* ------------------------------------------------------------------------- */
/* Getters: the values set (or defaulted); a NULL ctx gives NULL / 0 / false.  */
/* ------------------------------------------------------------------------- */

/** Transport backend name ("embedded" or "aeron"). */
TP_EXPORT const char *tp_context_get_transport_backend(const tp_context_t *ctx);

/** Transport directory ("" = the transport's default). */
TP_EXPORT const char *tp_context_get_transport_dir(const tp_context_t *ctx);

/** SHM base directory. */
TP_EXPORT const char *tp_context_get_shm_base_dir(const tp_context_t *ctx);

/** Namespace of the canonical layout. */
TP_EXPORT const char *tp_context_get_namespace(const tp_context_t *ctx);

/** Number of base directories added with tp_context_add_allowed_base_dir(). */
TP_EXPORT size_t tp_context_get_allowed_base_dir_count(const tp_context_t *ctx);

/** Allowed base directory `index` (NULL when out of range). */
TP_EXPORT const char *tp_context_get_allowed_base_dir(const tp_context_t *ctx, size_t index);

/** Announce period. */
TP_EXPORT uint64_t tp_context_get_announce_period_ns(const tp_context_t *ctx);

/** QoS period. */
TP_EXPORT uint64_t tp_context_get_qos_interval_ns(const tp_context_t *ctx);

/** ConsumerHello period. */
TP_EXPORT uint64_t tp_context_get_hello_interval_ns(const tp_context_t *ctx);

/** Announce freshness window as set (0 = 3 x announce period). */
TP_EXPORT uint64_t tp_context_get_freshness_window_ns(const tp_context_t *ctx);

/** Consumer stale timeout as set (0 = 4 x max(hello, QoS) interval). */
TP_EXPORT uint64_t tp_context_get_consumer_stale_timeout_ns(const tp_context_t *ctx);

/** Whether tp_client_start() runs the conductor on its own thread. */
TP_EXPORT bool tp_context_get_use_conductor_thread(const tp_context_t *ctx);

/** Idle strategy name of the conductor thread. */
TP_EXPORT const char *tp_context_get_idle_strategy(const tp_context_t *ctx);

/** Error handler (NULL: errors are logged); its clientd in `*clientd` when `clientd` is not NULL. */
TP_EXPORT tp_error_handler_t tp_context_get_error_handler(const tp_context_t *ctx, void **clientd);

/** Default timeout of the blocking helpers. */
TP_EXPORT uint64_t tp_context_get_client_timeout_ns(const tp_context_t *ctx);

#ifdef __cplusplus
}
#endif

#endif /* TENSOR_POOL_TP_CONTEXT_H */
