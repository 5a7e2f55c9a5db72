/*
 * TraceLinkSet listener: schemaId gate, decode, handler. See tensor_pool/tp_tracelink.h.
 */
#include <stdlib.h>

#include "common/tp_error.h"
#include "protocol/tp_proto_tracelink.h"
#include "tracelink/tp_tracelink_internal.h"

struct tp_tracelink_listener_stct
{
    tp_transport_t *transport;
    tp_subscription_t *sub;
    tp_tracelink_handler_t handler;
    void *clientd;
    tp_tracelink_listener_stats_t stats;
    tp_proto_trace_link_set_view_t view;
};

int tp_tracelink_listener_create(tp_tracelink_listener_t **out, const tp_context_t *ctx, const char *channel,
    int32_t stream_id, tp_tracelink_handler_t handler, void *clientd)
{
    if (NULL == out || NULL == handler)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_tracelink_listener_create: NULL argument");
    }
    *out = NULL;
    tp_tracelink_listener_t *l = calloc(1, sizeof(*l));
    if (NULL == l)
    {
        return tp_err_set(TP_ERR_NO_MEMORY, "tp_tracelink_listener_create: out of memory");
    }
    l->handler = handler;
    l->clientd = clientd;
    const char *ch = NULL;
    int32_t sid = 0;
    tp_tl_resolve_stream(ctx, TP_STREAM_CONTROL, channel, stream_id, &ch, &sid);
    if (tp_tl_transport_open(ctx, &l->transport) < 0 ||
        tp_transport_add_subscription(&l->sub, l->transport, ch, sid, NULL, NULL, NULL, NULL, 0) < 0)
    {
        tp_err_prepend("tp_tracelink_listener_create");
        tp_tracelink_listener_close(l);
        return -1;
    }
    *out = l;
    return 0;
}

static void listener_on_message(void *clientd, const uint8_t *buf, size_t len, const tp_header_t *header)
{
    (void)header;
    tp_tracelink_listener_t *l = clientd;
    uint16_t schema = 0;
    if (tp_proto_peek(buf, len, &schema, NULL) < 0 || TP_SBE_TRACELINK_SCHEMA_ID != schema)
    {
        l->stats.other_schema++;
        return;
    }
    if (tp_proto_decode_trace_link_set(buf, len, &l->view) < 0)
    {
        l->stats.malformed++;
        return;
    }
    l->stats.received++;
    l->handler(l->clientd, l->view.stream_id, l->view.epoch, l->view.seq, l->view.trace_id, l->view.parents,
        l->view.parent_count);
}

int tp_tracelink_listener_poll(tp_tracelink_listener_t *l, int limit)
{
    if (NULL == l)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_tracelink_listener_poll: NULL listener");
    }
    if (tp_transport_do_work(l->transport) < 0)
    {
        return -1;
    }
    return tp_subscription_poll(l->sub, listener_on_message, l, limit > 0 ? limit : 1);
}

int tp_tracelink_listener_stats(const tp_tracelink_listener_t *l, tp_tracelink_listener_stats_t *stats)
{
    if (NULL == l || NULL == stats)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_tracelink_listener_stats: NULL argument");
    }
    *stats = l->stats;
    return 0;
}

int tp_tracelink_listener_close(tp_tracelink_listener_t *l)
{
    if (NULL != l)
    {
        if (NULL != l->sub)
        {
            tp_subscription_close(l->sub);
        }
        if (NULL != l->transport)
        {
            tp_transport_close(l->transport);
        }
        free(l);
    }
    return 0;
}
