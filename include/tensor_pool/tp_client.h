/*
 * tensorpool: client and client conductor.
 *
 * A client owns the transport and the conductor. The conductor's duty cycle
 * (tp_client_do_work) runs the control plane of every producer and consumer
 * of the client: announces, QoS, hellos, metadata, descriptor polling,
 * seqlock reads and frame callbacks. It runs either in the application's
 * loop (invoker mode, the default) or on the client's own thread
 * (tp_context_set_use_conductor_thread + tp_client_start), never both.
 * Every callback is invoked from that duty cycle only.
 *
 * Producers and consumers are added asynchronously (start + poll) or with the
 * blocking helpers, which drive the duty cycle themselves in invoker mode.
 * Requests from other threads travel through a lock-free command queue; every
 * wait is bounded by a timeout.
 */
#ifndef TENSOR_POOL_TP_CLIENT_H
#define TENSOR_POOL_TP_CLIENT_H

#include "tensor_pool/tp_common.h"
#include "tensor_pool/tp_context.h"
#include "tensor_pool/tp_consumer.h"
#include "tensor_pool/tp_producer.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Opaque client. */
typedef struct tp_client_stct tp_client_t;
/** Pending asynchronous producer add. */
typedef struct tp_async_add_producer_stct tp_async_add_producer_t;
/** Pending asynchronous consumer add. */
typedef struct tp_async_add_consumer_stct tp_async_add_consumer_t;

/**
 * Create a client from a context (copied; the context may be closed
 * afterwards) and open its transport. Returns 0 or -1.
 */
TP_EXPORT int tp_client_init(tp_client_t **out, const tp_context_t *ctx);

/**
 * Start the client: with a conductor thread configured, start it; in invoker
 * mode this only marks the client started. Returns 0 or -1.
 */
TP_EXPORT int tp_client_start(tp_client_t *client);

/**
 * One conductor duty cycle (invoker mode). Returns the amount of work done
 * (0 when idle) or -1; fails with TP_ERR_STATE when a conductor thread runs.
 */
TP_EXPORT int tp_client_do_work(tp_client_t *client);

/** True when the conductor runs on its own thread. */
TP_EXPORT bool tp_client_is_threaded(const tp_client_t *client);

/**
 * Close the client: stop the conductor thread, close every remaining
 * producer and consumer, close the transport, free everything. Producers and
 * consumers of this client must not be used afterwards.
 *
 * The conductor thread is always joined before anything is released: if it
 * is still inside its duty cycle (a callback that blocks), close waits for
 * it — without bound — and logs a warning every client timeout
 * (tp_context_set_client_timeout_ns). Returns 0; -1 with TP_ERR_STATE (and
 * nothing released) when called from the conductor thread itself, i.e. from
 * a callback.
 */
TP_EXPORT int tp_client_close(tp_client_t *client);

/**
 * Start adding a producer (validated now; SHM regions, publications and the
 * first announce are created by the conductor). Returns 0 or -1.
 */
TP_EXPORT int tp_client_async_add_producer(tp_async_add_producer_t **async, tp_client_t *client,
    const tp_producer_config_t *config);

/**
 * Poll an async producer add: 1 done (`*producer` set, `async` freed), 0 still
 * pending, -1 failed (`async` freed, tp_errmsg() says why). Does not run the
 * duty cycle: call tp_client_do_work() in invoker mode.
 */
TP_EXPORT int tp_client_async_add_producer_poll(tp_producer_t **producer, tp_async_add_producer_t *async);

/** Start adding a consumer. Returns 0 or -1. */
TP_EXPORT int tp_client_async_add_consumer(tp_async_add_consumer_t **async, tp_client_t *client,
    const tp_consumer_config_t *config);

/** Poll an async consumer add (see tp_client_async_add_producer_poll). */
TP_EXPORT int tp_client_async_add_consumer_poll(tp_consumer_t **consumer, tp_async_add_consumer_t *async);

/**
 * Blocking helper: async add + poll, running the duty cycle in invoker mode,
 * until done or `timeout_ns` (0: the context's client timeout) expires
 * (TP_ERR_TIMEOUT; the pending add is then cancelled). Returns 0 or -1.
 */
TP_EXPORT int tp_client_add_producer(tp_producer_t **producer, tp_client_t *client,
    const tp_producer_config_t *config, uint64_t timeout_ns);

/** Blocking helper for consumers (see tp_client_add_producer). */
TP_EXPORT int tp_client_add_consumer(tp_consumer_t **consumer, tp_client_t *client,
    const tp_consumer_config_t *config, uint64_t timeout_ns);

#ifdef __cplusplus
}
#endif

#endif /* TENSOR_POOL_TP_CLIENT_H */
