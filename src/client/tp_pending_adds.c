/*
 * Pending transport adds (conductor thread): the adds of a producer or
 * consumer under creation, and the client's orphan list of adds released
 * before they completed.
 */
#include <stdlib.h>

#include "client/tp_client_internal.h"
#include "common/tp_log.h"

/* ------------------------------------------------------------------------- */
/* Pending transport adds                                                     */
/* ------------------------------------------------------------------------- */

/*
 * Remove entry i of a pending list (async and destination arrays of the same
 * length): the last entry takes its place.
 */
#define TP_PENDING_REMOVE(asyncs, dsts, count, i) \
    do                                             \
    {                                              \
        (asyncs)[i] = (asyncs)[--(count)];         \
        (dsts)[i] = (dsts)[count];                 \
    } while (0)

int tp_pending_adds_poll(tp_pending_adds_t *pending)
{
    int failed = 0;
    /* a completed add (1) and a failed one (-1, async freed by the transport) both leave the list */
    for (size_t i = 0; i < pending->pub_count;)
    {
        int rc = tp_transport_async_add_publication_poll(pending->pub_dst[i], pending->pub_async[i]);
        failed = rc < 0 ? -1 : failed;
        if (0 == rc)
        {
            i++;
            continue;
        }
        TP_PENDING_REMOVE(pending->pub_async, pending->pub_dst, pending->pub_count, i);
    }
    for (size_t i = 0; i < pending->sub_count;)
    {
        int rc = tp_transport_async_add_subscription_poll(pending->sub_dst[i], pending->sub_async[i]);
        failed = rc < 0 ? -1 : failed;
        if (0 == rc)
        {
            i++;
            continue;
        }
        TP_PENDING_REMOVE(pending->sub_async, pending->sub_dst, pending->sub_count, i);
    }
    if (failed < 0)
    {
        return -1;
    }
    return (0 == pending->pub_count && 0 == pending->sub_count) ? 1 : 0;
}

void tp_pending_adds_release(tp_client_t *client, tp_pending_adds_t *pending)
{
    for (size_t i = 0; i < pending->pub_count; i++)
    {
        tp_client_release_publication_add(client, pending->pub_async[i]);
    }
    for (size_t i = 0; i < pending->sub_count; i++)
    {
        tp_client_release_subscription_add(client, pending->sub_async[i]);
    }
    pending->pub_count = 0;
    pending->sub_count = 0;
}

/* ------------------------------------------------------------------------- */
/* Orphaned transport adds                                                    */
/* ------------------------------------------------------------------------- */

static void orphan_keep(tp_client_t *client, tp_async_add_publication_t *pub, tp_async_add_subscription_t *sub)
{
    if (client->orphans.count == client->orphans.capacity)
    {
        size_t capacity = 0 == client->orphans.capacity ? 16 : 2 * client->orphans.capacity;
        tp_client_orphan_add_t *grown = realloc(client->orphans.items, capacity * sizeof(*grown));
        if (NULL == grown)
        {
            /* the transport still owns the add and frees it at close; it just stays registered until then */
            TP_LOG_ERROR("client", "out of memory tracking a released transport add; it stays open until close");
            return;
        }
        client->orphans.items = grown;
        client->orphans.capacity = capacity;
    }
    client->orphans.items[client->orphans.count].pub = pub;
    client->orphans.items[client->orphans.count].sub = sub;
    client->orphans.count++;
}

void tp_client_release_publication_add(tp_client_t *client, tp_async_add_publication_t *async)
{
    if (NULL == async)
    {
        return;
    }
    tp_publication_t *pub = NULL;
    int rc = tp_transport_async_add_publication_poll(&pub, async);
    if (1 == rc)
    {
        tp_publication_close(pub);
    }
    else if (0 == rc)
    {
        orphan_keep(client, async, NULL);
    }
}

void tp_client_release_subscription_add(tp_client_t *client, tp_async_add_subscription_t *async)
{
    if (NULL == async)
    {
        return;
    }
    tp_transport_async_add_subscription_detach_handlers(async);
    tp_subscription_t *sub = NULL;
    int rc = tp_transport_async_add_subscription_poll(&sub, async);
    if (1 == rc)
    {
        tp_subscription_close(sub);
    }
    else if (0 == rc)
    {
        orphan_keep(client, NULL, async);
    }
}

int tp_client_poll_orphan_adds(tp_client_t *client)
{
    int work = 0;
    for (size_t i = 0; i < client->orphans.count;)
    {
        tp_client_orphan_add_t *o = &client->orphans.items[i];
        int rc;
        if (NULL != o->pub)
        {
            tp_publication_t *pub = NULL;
            rc = tp_transport_async_add_publication_poll(&pub, o->pub);
            if (1 == rc)
            {
                tp_publication_close(pub);
            }
        }
        else
        {
            tp_subscription_t *sub = NULL;
            rc = tp_transport_async_add_subscription_poll(&sub, o->sub);
            if (1 == rc)
            {
                tp_subscription_close(sub);
            }
        }
        if (0 == rc)
        {
            i++;
            continue;
        }
        client->orphans.items[i] = client->orphans.items[--client->orphans.count];
        work++;
    }
    return work;
}

size_t tp_client_orphan_add_count(const tp_client_t *client)
{
    return client->orphans.count;
}

void tp_client_orphan_adds_free(tp_client_t *client)
{
    free(client->orphans.items);
    client->orphans.items = NULL;
    client->orphans.count = 0;
    client->orphans.capacity = 0;
}
