/* The embedded backend: dispatches aeron:ipc to tp_ipc and aeron:udp to tp_udp. */
#include <string.h>

#include "common/tp_clock.h"
#include "common/tp_error.h"
#include "transport/tp_ipc.h"
#include "transport/tp_transport_internal.h"
#include "transport/tp_udp.h"

static int tp_embedded_init(tp_transport_t *t)
{
    t->last_cleanup_ns = tp_clock_mono_ns();
    return tp_ipc_cleanup_dir(t->dir, t->ctx.liveness_timeout_ns) < 0 ? -1 : 0;
}

static void tp_embedded_close(tp_transport_t *t)
{
    tp_ipc_cleanup_dir(t->dir, t->ctx.liveness_timeout_ns);
}

static int tp_embedded_do_work(tp_transport_t *t, uint64_t now_ns)
{
    if (now_ns - t->last_cleanup_ns < t->ctx.liveness_timeout_ns)
    {
        return 0;
    }
    t->last_cleanup_ns = now_ns;
    int removed = tp_ipc_cleanup_dir(t->dir, t->ctx.liveness_timeout_ns);
    return removed > 0 ? removed : 0;
}

static int tp_embedded_async_add_publication(tp_async_add_publication_t *async)
{
    (void)async;
    return 0;
}

static int tp_embedded_async_add_publication_poll(tp_async_add_publication_t *async, tp_publication_t *pub)
{
    int rc = TP_URI_MEDIA_IPC == async->uri.media ?
        tp_ipc_publication_open(async->transport, &async->uri, async->stream_id, pub) :
        tp_udp_publication_open(async->transport, &async->uri, async->stream_id, pub);
    return rc < 0 ? -1 : 1;
}

static int tp_embedded_async_add_subscription(tp_async_add_subscription_t *async)
{
    (void)async;
    return 0;
}

static int tp_embedded_async_add_subscription_poll(tp_async_add_subscription_t *async, tp_subscription_t *sub)
{
    int rc = TP_URI_MEDIA_IPC == async->uri.media ?
        tp_ipc_subscription_open(async->transport, &async->uri, async->stream_id, sub) :
        tp_udp_subscription_open(async->transport, &async->uri, async->stream_id, sub);
    return rc < 0 ? -1 : 1;
}

const tp_transport_backend_ops_t tp_embedded_backend_ops = {
    .name = "embedded",
    .init = tp_embedded_init,
    .close = tp_embedded_close,
    .do_work = tp_embedded_do_work,
    .async_add_publication = tp_embedded_async_add_publication,
    .async_add_publication_poll = tp_embedded_async_add_publication_poll,
    .async_add_subscription = tp_embedded_async_add_subscription,
    .async_add_subscription_poll = tp_embedded_async_add_subscription_poll,
};
