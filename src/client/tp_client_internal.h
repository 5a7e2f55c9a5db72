/* Client internals: shared by the context, conductor, producer and consumer. */
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
    bool use_conductor_thread;
    char idle_strategy[16];
    tp_error_handler_t error_handler;
    void *error_handler_clientd;
};

/** Effective values (zeros resolved). */
uint64_t tp_context_freshness_ns(const tp_context_t *ctx);
uint64_t tp_context_stale_ns(const tp_context_t *ctx);
/** True when two logical streams name the same (channel, stream id). */
bool tp_context_same_stream(const tp_context_t *ctx, tp_stream_kind_t a, tp_stream_kind_t b);

/* ------------------------------------------------------------------------- */
/* Commands and async operations (ownership handed over with atomics)        */
/* ------------------------------------------------------------------------- */

enum
{
    TP_CMD_PENDING = 0,
    TP_CMD_DONE = 1,
    TP_CMD_FAILED = 2,
    TP_CMD_ABANDONED = 3
};

typedef enum tp_cmd_type_enum
{
    TP_CMD_ADD_PRODUCER = 1,
    TP_CMD_ADD_CONSUMER = 2,
    TP_CMD_CLOSE_PRODUCER = 3,
    TP_CMD_CLOSE_CONSUMER = 4,
    TP_CMD_SET_METADATA = 5,
    TP_CMD_META_BLOB = 6
} tp_cmd_type_t;

/** A request to the conductor. The requester waits on `state`. */
typedef struct tp_client_cmd_stct
{
    tp_cmd_type_t type;
    _Atomic int state;
    int errcode;
    char errmsg[512];
    void *target;     /* producer / consumer */
    void *payload;    /* command specific, owned by the command */
} tp_client_cmd_t;

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

/** Complete a command from the conductor: frees it when the requester abandoned it. */
void tp_client_cmd_complete(tp_client_cmd_t *cmd, bool ok, void (*on_abandoned)(tp_client_cmd_t *cmd));
/** Report an asynchronous error through the context's handler. */
void tp_client_report_error(tp_client_t *client, const char *what);
/** Submit a command and wait for it (threaded), or run it inline (invoker). */
int tp_client_submit_and_wait(tp_client_t *client, tp_client_cmd_t *cmd);

/* ------------------------------------------------------------------------- */
/* Producer and consumer hooks used by the conductor                          */
/* ------------------------------------------------------------------------- */

/** Allocate and start creating (SHM + async transport adds). Returns 0 or -1. */
int tp_producer_create(tp_producer_t **out, tp_client_t *client, const tp_producer_config_t *config);
/** Continue creation: 1 ready, 0 pending, -1 failed. */
int tp_producer_poll_ready(tp_producer_t *producer);
/** Conductor duty cycle for one producer. Returns work count. */
int tp_producer_do_work(tp_producer_t *producer, uint64_t now_ns);
/** Release everything (conductor). */
void tp_producer_destroy(tp_producer_t *producer);
/** Apply a metadata command payload (conductor). */
void tp_producer_apply_metadata(tp_producer_t *producer, void *payload);
/** Free a metadata payload. */
void tp_producer_metadata_free(void *payload);
/** Take over a meta blob to send (conductor). */
void tp_producer_apply_meta_blob(tp_producer_t *producer, void *blob);

int tp_consumer_create(tp_consumer_t **out, tp_client_t *client, const tp_consumer_config_t *config);
int tp_consumer_poll_ready(tp_consumer_t *consumer);
int tp_consumer_do_work(tp_consumer_t *consumer, uint64_t now_ns);
void tp_consumer_destroy(tp_consumer_t *consumer);

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
