/*
 * Client internals, private to src/client: the context and client structs
 * shared by the context, the conductor (tp_client.c), the command plumbing
 * (tp_client_cmd.c), the pending-add bookkeeping (tp_pending_adds.c) and the
 * producer and consumer. The conductor's calls into its children are
 * declared in tp_producer_internal.h and tp_consumer_internal.h; the
 * children only call the command plumbing and the pending-add bookkeeping,
 * never the conductor itself.
 */
#ifndef TP_CLIENT_TP_CLIENT_INTERNAL_H
#define TP_CLIENT_TP_CLIENT_INTERNAL_H

#include <limits.h>
#include <stdatomic.h>

#include "common/tp_agent_runner.h"
#include "common/tp_idle_strategy.h"
#include "common/tp_mpsc_queue.h"
#include "tensor_pool/tp_client.h"
#include "tensor_pool/tp_shm.h"
#include "transport/tp_transport.h"
#include "client/tp_client_cmd.h"
#include "client/tp_pending_adds.h"

#define TP_CLIENT_CHANNEL_MAX 256
#define TP_CLIENT_MAX_ALLOWED_DIRS 8
#define TP_CLIENT_MAX_PRODUCERS 64
#define TP_CLIENT_MAX_CONSUMERS 64
#define TP_CLIENT_COMMAND_QUEUE_CAPACITY 256
#define TP_REGION_URI_MAX (TP_SHM_PATH_MAX + 64)

struct tp_context_stct
{
    char backend[16];
    char transport_dir[PATH_MAX];
    char channel[TP_STREAM_KIND_COUNT][TP_CLIENT_CHANNEL_MAX];
    int32_t stream_id[TP_STREAM_KIND_COUNT];
    bool announce_set;
    char shm_base_dir[PATH_MAX];
    char namespace_name[TP_SHM_NAME_MAX + 1];
    char allowed_dirs[TP_CLIENT_MAX_ALLOWED_DIRS][PATH_MAX];
    size_t allowed_dir_count;
    uint64_t announce_period_ns;
    uint64_t qos_interval_ns;
    uint64_t hello_interval_ns;
    uint64_t freshness_window_ns;
    uint64_t consumer_stale_timeout_ns;
    uint64_t client_timeout_ns;
    bool driver_mode;
    uint64_t driver_keepalive_ns;
    bool use_conductor_thread;
    char idle_strategy[16];
    tp_error_handler_t error_handler;
    void *error_handler_clientd;
    const tp_transport_faults_t *transport_faults; /* fault injection (tests); NULL = none */
    bool mlock_shm;                                 /* mlock mapped regions (Driver Model §17) */
    uint32_t (*client_id_source)(void *clientd);    /* auto client ids (tests); NULL = random */
    void *client_id_source_clientd;
};

/**
 * With `mlock_shm` set in the context: mlock a region this client mapped
 * (`what` names it in the message). Returns 0 (locked, or not enabled) or -1
 * after reporting the failure (error handler or log): the caller counts it and
 * keeps using the mapping unlocked.
 */
int tp_client_mlock_region(tp_client_t *client, const tp_shm_region_t *region, const char *what);

/** Effective values (zeros resolved). */
uint64_t tp_context_freshness_ns(const tp_context_t *ctx);
uint64_t tp_context_stale_ns(const tp_context_t *ctx);
/** True when two logical streams name the same (channel, stream id). */
bool tp_context_same_stream(const tp_context_t *ctx, tp_stream_kind_t a, tp_stream_kind_t b);
/**
 * Fault injection (tests): the transport of every client created from `ctx`
 * consults `faults` (tp_transport_faults_t); NULL (the default) = none. The
 * table must outlive those clients. Returns 0 or -1.
 */
int tp_context_set_transport_faults(tp_context_t *ctx, const tp_transport_faults_t *faults);
/**
 * Injection (tests): auto-assigned client ids (consumers without a
 * consumer_id) come from `source` instead of the random generator, e.g. to
 * force two clients onto one id (Appendix B.2). A source returning 0 falls
 * back to a random id. NULL restores the default. Returns 0 or -1.
 */
int tp_context_set_client_id_source(tp_context_t *ctx, uint32_t (*source)(void *clientd), void *clientd);
/** An auto-assigned client id: the injected source's, else a random non-zero id (Appendix B.2). */
uint32_t tp_context_next_client_id(const tp_context_t *ctx);

struct tp_async_add_producer_stct
{
    tp_client_cmd_t cmd;
    tp_producer_config_t config;
};

struct tp_async_add_consumer_stct
{
    tp_client_cmd_t cmd;
    tp_consumer_config_t config;
};

struct tp_client_stct
{
    tp_context_t ctx;
    tp_transport_t *transport;
    tp_shm_allowlist_t *allowlist;
    tp_mpsc_queue_t commands;
    tp_agent_runner_t runner;
    bool runner_initialised;
    atomic_bool threaded;
    atomic_bool closing;
    tp_producer_t *producers[TP_CLIENT_MAX_PRODUCERS];
    size_t producer_count;
    tp_consumer_t *consumers[TP_CLIENT_MAX_CONSUMERS];
    size_t consumer_count;
    /* adds waiting for their publications / subscriptions */
    tp_client_cmd_t *pending_adds[TP_CLIENT_MAX_PRODUCERS + TP_CLIENT_MAX_CONSUMERS];
    size_t pending_add_count;
    /* transport adds whose owner is gone: polled by the duty cycle until they complete, then closed */
    tp_orphan_adds_t orphans;
};

/* Relaxed single-writer counter helpers. */
static inline void tp_counter_add(_Atomic uint64_t *c, uint64_t v)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v, memory_order_relaxed);
}
static inline uint64_t tp_counter_get(const _Atomic uint64_t *c)
{
    return atomic_load_explicit((_Atomic uint64_t *)c, memory_order_relaxed);
}

#endif
