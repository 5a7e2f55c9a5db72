/*
 * tensorpool: the SHM driver (Driver Model spec v1.0).
 *
 * The driver owns every shared-memory region of the streams it manages:
 * it creates them in the canonical layout, hands their URIs to producers and
 * consumers that attach over the control stream (ShmAttachRequest /
 * ShmAttachResponse), tracks their leases (keepalive, detach, expiry,
 * revocation), bumps the epoch whenever the producer side changes, emits
 * ShmPoolAnnounce for every stream, and garbage-collects old epochs and what
 * crashed processes left behind.
 *
 * Usage (as the Aeron C media driver):
 *
 *     tp_driver_config_t *cfg;
 *     tp_driver_config_init(&cfg);                      // defaults (spec §17)
 *     tp_driver_config_load_file(cfg, "driver.toml");   // TOML + environment overrides
 *     tp_driver_t *driver;
 *     tp_driver_init(&driver, cfg);                     // copies cfg
 *     tp_driver_config_close(cfg);
 *     while (!tp_driver_is_terminated(driver)) tp_driver_do_work(driver);  // or tp_driver_start()
 *     tp_driver_close(driver);
 *
 * Threading: a driver is driven by one thread at a time: either the caller's
 * loop (tp_driver_do_work) or its own agent thread (tp_driver_start). Every
 * other function except tp_driver_stats, tp_driver_is_terminated and
 * tp_driver_close may only be called from that thread or before it starts.
 *
 * Configuration keys, defaults and the environment override rule:
 * docs/DRIVER.md.
 */
#ifndef TENSOR_POOL_TP_DRIVER_H
#define TENSOR_POOL_TP_DRIVER_H

#include "tensor_pool/tp_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Opaque driver configuration. */
typedef struct tp_driver_config_stct tp_driver_config_t;

/** Opaque driver. */
typedef struct tp_driver_stct tp_driver_t;

/**
 * Create a configuration holding the defaults of the Driver Model spec §17
 * (control aeron:ipc?term-length=4m / 1000, announce = control, QoS 1200,
 * base dir /dev/shm, namespace "default", announce period 1 s, keepalive
 * 1 s, expiry grace 3 intervals, epoch GC on keeping 2) and no profile or
 * stream: a usable configuration needs at least one profile (load a file or
 * call tp_driver_config_add_profile). Returns 0 or -1.
 */
TP_EXPORT int tp_driver_config_init(tp_driver_config_t **out);

/** Free a configuration (NULL is fine). */
TP_EXPORT int tp_driver_config_close(tp_driver_config_t *config);

/**
 * Load a TOML file over the current values, with environment overrides
 * (`driver.control_stream_id` -> `DRIVER_CONTROL_STREAM_ID`; the environment
 * wins). Unknown keys, wrong types, out-of-range values and semantic errors
 * (no profile, a stride not a multiple of 64, overlapping stream id ranges,
 * a stream naming an unknown profile, ...) fail with TP_ERR_CONFIG and a
 * message "file:line: key: what is wrong". Returns 0 or -1; on failure the
 * configuration is unchanged.
 */
TP_EXPORT int tp_driver_config_load_file(tp_driver_config_t *config, const char *path);

/** As tp_driver_config_load_file, from a string; `name` labels the messages. */
TP_EXPORT int tp_driver_config_load_string(tp_driver_config_t *config, const char *text, size_t len,
    const char *name);

/** Set `shm.base_dir` (absolute path). Returns 0 or -1. */
TP_EXPORT int tp_driver_config_set_shm_base_dir(tp_driver_config_t *config, const char *dir);

/** `shm.base_dir`. */
TP_EXPORT const char *tp_driver_config_shm_base_dir(const tp_driver_config_t *config);

/** Set `shm.namespace`. Returns 0 or -1. */
TP_EXPORT int tp_driver_config_set_namespace(tp_driver_config_t *config, const char *name);

/** `shm.namespace`. */
TP_EXPORT const char *tp_driver_config_namespace(const tp_driver_config_t *config);

/**
 * Set the transport: backend "embedded" or "aeron" (NULL keeps the current
 * one) and its directory (embedded transport dir or Aeron dir; NULL keeps,
 * "" = the backend's default). Returns 0 or -1.
 */
TP_EXPORT int tp_driver_config_set_transport(tp_driver_config_t *config, const char *backend, const char *dir);

/** Set the control channel and stream id (the announce stream follows unless set on its own). */
TP_EXPORT int tp_driver_config_set_control(tp_driver_config_t *config, const char *channel, uint32_t stream_id);

/** Control stream id. */
TP_EXPORT uint32_t tp_driver_config_control_stream_id(const tp_driver_config_t *config);

/** Set the announce channel and stream id. */
TP_EXPORT int tp_driver_config_set_announce(tp_driver_config_t *config, const char *channel, uint32_t stream_id);

/** Announce stream id. */
TP_EXPORT uint32_t tp_driver_config_announce_stream_id(const tp_driver_config_t *config);

/**
 * Add a profile (`profiles.<name>`): `header_nslots` a power of two,
 * `pool_count` pools with unique ids and strides multiple of 64. Returns 0
 * or -1.
 */
TP_EXPORT int tp_driver_config_add_profile(tp_driver_config_t *config, const char *name, uint32_t header_nslots,
    size_t pool_count, const uint16_t *pool_ids, const uint32_t *stride_bytes);

/** Add a static stream (`streams.<name>`) using a profile added before. Returns 0 or -1. */
TP_EXPORT int tp_driver_config_add_stream(tp_driver_config_t *config, const char *name, uint32_t stream_id,
    const char *profile);

/** Set `policies.allow_dynamic_streams` and `driver.stream_id_range` (inclusive). Returns 0 or -1. */
TP_EXPORT int tp_driver_config_set_dynamic_streams(tp_driver_config_t *config, bool allow, uint32_t first,
    uint32_t last);

/**
 * Set lease timing: keepalive interval (ms) and the number of missed
 * intervals before a lease expires, and the announce period (ms). Zero keeps
 * the current value. Returns 0 or -1.
 */
TP_EXPORT int tp_driver_config_set_timing(tp_driver_config_t *config, uint32_t keepalive_interval_ms,
    uint32_t expiry_grace_intervals, uint32_t announce_period_ms);

/** Set `policies.shutdown_token` ("" disables ShmDriverShutdownRequest). Returns 0 or -1. */
TP_EXPORT int tp_driver_config_set_shutdown_token(tp_driver_config_t *config, const char *token);

/**
 * Write the effective configuration as TOML to `buf` (for `tp driver
 * --print-config`). Returns the length it needs (excluding the NUL), or -1;
 * the output is truncated (NUL-terminated) when `len` is too small.
 */
TP_EXPORT int tp_driver_config_print(const tp_driver_config_t *config, char *buf, size_t len);

/** Counters of a running driver (snapshot). */
typedef struct tp_driver_stats_stct
{
    uint64_t attach_requests;     /**< ShmAttachRequest received */
    uint64_t attach_ok;           /**< ... answered OK */
    uint64_t attach_rejected;     /**< ... answered with another code */
    uint64_t keepalives;          /**< valid keepalives */
    uint64_t keepalives_unknown;  /**< keepalives for no active lease (dropped) */
    uint64_t detaches;            /**< leases detached */
    uint64_t leases_expired;      /**< leases expired */
    uint64_t leases_revoked;      /**< leases revoked by the driver (shutdown) */
    uint64_t active_leases;       /**< leases active now */
    uint64_t streams;             /**< streams with regions now */
    uint64_t epochs_created;      /**< epochs created (every producer change) */
    uint64_t epochs_collected;    /**< epoch directories removed by GC */
    uint64_t announces;           /**< ShmPoolAnnounce sent */
    uint64_t malformed;           /**< control messages dropped as malformed */
    uint64_t consumers;           /**< supervisor: consumers of managed streams known now */
    uint64_t consumers_stale;     /**< supervisor: consumers dropped as stale */
    uint64_t consumer_configs;    /**< supervisor: ConsumerConfig sent */
    uint64_t per_consumer_assigned; /**< per-consumer descriptor/control stream ids assigned from the ranges */
    uint64_t per_consumer_declined; /**< per-consumer stream requests declined (range unset or exhausted) */
    uint64_t qos_messages;        /**< QosConsumer / QosProducer received */
    uint64_t drops_gap;           /**< sum of the known consumers' drops_gap (latest QosConsumer) */
    uint64_t drops_late;          /**< sum of the known consumers' drops_late */
    uint64_t rejects_by_reason[12]; /**< attach rejections by tp_driver_reject_t */
    /**
     * Another driver instance on this driver's control stream (a deployment
     * error, Driver Model §2.1; DRV-15): ShmAttachResponse, ShmDetachResponse,
     * ShmLeaseRevoked or ShmDriverShutdown published by another transport
     * session than this driver's own publications. Warned about (at most one
     * log line per 10 s).
     */
    uint64_t foreign_driver_messages;
    /** ShmPoolAnnounce of a stream this driver manages from another session (another driver or a standalone producer). */
    uint64_t foreign_announces;
    int32_t last_foreign_session; /**< transport session of the last such message (0 = none yet) */
} tp_driver_stats_t;

/** Why an attach was refused (counted in tp_driver_stats_t.rejects_by_reason). */
typedef enum tp_driver_reject_enum
{
    TP_DRIVER_REJECT_UNKNOWN_STREAM = 0,    /**< not configured and dynamic streams off / REQUIRE_EXISTING */
    TP_DRIVER_REJECT_BAD_ROLE = 1,          /**< role not PRODUCER or CONSUMER */
    TP_DRIVER_REJECT_PRODUCER_ACTIVE = 2,   /**< exclusive producer rule (§5) */
    TP_DRIVER_REJECT_CLIENT_ID_IN_USE = 3,  /**< client id holds an active lease for this stream and role */
    TP_DRIVER_REJECT_LAYOUT_VERSION = 4,    /**< expectedLayoutVersion mismatch */
    TP_DRIVER_REJECT_HUGEPAGES = 5,         /**< hugepage policy cannot be satisfied */
    TP_DRIVER_REJECT_NODE_ID = 6,           /**< desiredNodeId unavailable */
    TP_DRIVER_REJECT_IDS_EXHAUSTED = 7,     /**< no lease slot, stream id or node id left */
    TP_DRIVER_REJECT_BAD_PARAMS = 8,        /**< malformed parameters (client id 0, bad publish mode, ...) */
    TP_DRIVER_REJECT_INTERNAL = 9,          /**< region creation failed (disk full, permissions, ...) */
    TP_DRIVER_REJECT_UNSUPPORTED = 10,      /**< newer schema version */
    TP_DRIVER_REJECT_DRAINING = 11,         /**< the driver is shutting down */
    TP_DRIVER_REJECT_COUNT = 12
} tp_driver_reject_t;

/** Name of a reject reason ("unknown_stream", ...). */
TP_EXPORT const char *tp_driver_reject_name(int reason);

/**
 * Create a driver from `config` (copied): opens the transport, adds the
 * control subscription and the control/announce publications, provisions
 * nothing yet (regions are created on the first attach of a stream), and
 * runs epoch GC when `policies.epoch_gc_on_startup` is set. Returns 0 or -1.
 */
TP_EXPORT int tp_driver_init(tp_driver_t **out, const tp_driver_config_t *config);

/** Run the duty cycle on the driver's own agent thread. Returns 0 or -1. */
TP_EXPORT int tp_driver_start(tp_driver_t *driver);

/**
 * One duty cycle (invoker mode): control messages, lease expiry, announces,
 * GC. Returns the amount of work done (0 when idle) or -1 on a fatal error.
 */
TP_EXPORT int tp_driver_do_work(tp_driver_t *driver);

/**
 * Begin a graceful shutdown (as an accepted ShmDriverShutdownRequest does):
 * new attaches are refused, a final ShmPoolAnnounce goes out, and after
 * `policies.shutdown_timeout_ms` ShmDriverShutdown is published and the
 * driver reports terminated. Thread-safe (e.g. from a signal-handling loop).
 */
TP_EXPORT void tp_driver_request_shutdown(tp_driver_t *driver);

/** True once a shutdown has completed (the duty cycle then does nothing). Thread-safe. */
TP_EXPORT bool tp_driver_is_terminated(const tp_driver_t *driver);

/** Counter snapshot. Thread-safe. Returns 0 or -1. */
TP_EXPORT int tp_driver_stats(const tp_driver_t *driver, tp_driver_stats_t *stats);

/**
 * Stop the agent thread (if started), publish ShmDriverShutdown if no
 * graceful shutdown ran, close the transport and unmap every region. Files
 * stay unless `policies.cleanup_shm_on_exit` is set. NULL is fine.
 */
TP_EXPORT int tp_driver_close(tp_driver_t *driver);

#ifdef __cplusplus
}
#endif

#endif
