/*
 * Pending transport adds of a producer or consumer under creation, and the
 * client's list of orphaned adds: adds whose owner was destroyed before they
 * completed, polled by the conductor's duty cycle until they complete and
 * are closed (an Aeron subscription must not stay registered unpolled).
 * Conductor thread only.
 */
#ifndef TP_CLIENT_TP_PENDING_ADDS_H
#define TP_CLIENT_TP_PENDING_ADDS_H

#include <stddef.h>

#include "tensor_pool/tp_client.h"
#include "transport/tp_transport.h"

#define TP_PENDING_MAX 8

typedef struct tp_pending_adds_stct
{
    tp_async_add_publication_t *pub_async[TP_PENDING_MAX];
    tp_publication_t **pub_dst[TP_PENDING_MAX];
    size_t pub_count;
    tp_async_add_subscription_t *sub_async[TP_PENDING_MAX];
    tp_subscription_t **sub_dst[TP_PENDING_MAX];
    size_t sub_count;
} tp_pending_adds_t;

/** A transport add released by its owner before it completed (exactly one of the two is set). */
typedef struct tp_client_orphan_add_stct
{
    tp_async_add_publication_t *pub;
    tp_async_add_subscription_t *sub;
} tp_client_orphan_add_t;

/** The client's orphaned adds (grown on demand). */
typedef struct tp_orphan_adds_stct
{
    tp_client_orphan_add_t *items;
    size_t count;
    size_t capacity;
} tp_orphan_adds_t;

/**
 * Poll every pending add: 1 all done, 0 pending, -1 error (at least one add
 * failed; every other entry was still polled and stays tracked).
 */
int tp_pending_adds_poll(tp_pending_adds_t *pending);

/**
 * Hand every still-pending add of `pending` to the client (conductor, on
 * destroy): see tp_client_release_publication_add. Empties `pending`.
 */
void tp_pending_adds_release(tp_client_t *client, tp_pending_adds_t *pending);

/**
 * Release a transport add whose owner no longer wants it (conductor). Polled
 * once: a completed add is closed at once; a pending one is kept on the
 * client's orphan list, polled by every duty cycle and closed when it
 * completes (an Aeron subscription must not stay registered unpolled).
 * NULL is ignored.
 */
void tp_client_release_publication_add(tp_client_t *client, tp_async_add_publication_t *async);

/**
 * Same for a subscription add; its image handlers are detached first (their
 * clientd is the owner being destroyed).
 */
void tp_client_release_subscription_add(tp_client_t *client, tp_async_add_subscription_t *async);

/** Poll every orphaned add once; close those that completed. Returns the number resolved. */
int tp_client_poll_orphan_adds(tp_client_t *client);

/** Number of released adds still waiting to complete (tests). */
size_t tp_client_orphan_add_count(const tp_client_t *client);

/** Free the orphan list itself (client close, after the last poll). */
void tp_client_orphan_adds_free(tp_client_t *client);

#endif
