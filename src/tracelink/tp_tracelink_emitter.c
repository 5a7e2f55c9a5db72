/*
 * TraceLinkSet emitter (TraceLink spec §7, §9, §14): best effort, never
 * blocks, no allocation per message. See tensor_pool/tp_tracelink.h.
 */
#include <stdlib.h>
#include <string.h>

#include "common/tp_error.h"
#include "protocol/tp_proto_tracelink.h"
#include "tracelink/tp_tracelink_internal.h"

struct tp_tracelink_emitter_stct
{
    tp_transport_t *transport;
    tp_publication_t *pub;
    tp_tracelink_emitter_stats_t stats;
    tp_proto_trace_link_set_view_t msg;              /* preallocated */
    uint8_t buffer[TP_PROTO_TRACELINK_MAX_LENGTH];   /* preallocated */
};

int tp_tl_transport_open(const tp_context_t *ctx, tp_transport_t **out)
{
    tp_transport_context_t tctx;
    tp_transport_context_init(&tctx);
    const char *backend = ctx ? tp_context_get_transport_backend(ctx) : NULL;
    const char *dir = ctx ? tp_context_get_transport_dir(ctx) : NULL;
    if ((NULL != backend && '\0' != backend[0] && tp_transport_context_set_backend(&tctx, backend) < 0) ||
        (NULL != dir && '\0' != dir[0] && tp_transport_context_set_dir(&tctx, dir) < 0) ||
        tp_transport_init(out, &tctx) < 0)
    {
        tp_err_prepend("tracelink: transport");
        return -1;
    }
    return 0;
}

void tp_tl_resolve_stream(const tp_context_t *ctx, tp_stream_kind_t kind, const char *channel, int32_t stream_id,
    const char **channel_out, int32_t *stream_id_out)
{
    const char *c = ctx ? tp_context_get_stream_channel(ctx, kind) : NULL;
    int32_t s = ctx ? tp_context_get_stream_id(ctx, kind) : 0;
    *channel_out = (NULL != channel && '\0' != channel[0]) ? channel : (NULL != c && '\0' != c[0] ? c : "aeron:ipc");
    *stream_id_out = 0 != stream_id ? stream_id : (0 != s ? s : 1000);
}

int tp_tracelink_emitter_create(tp_tracelink_emitter_t **out, const tp_context_t *ctx, const char *channel,
    int32_t stream_id)
{
    if (NULL == out)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_tracelink_emitter_create: NULL out");
    }
    *out = NULL;
    tp_tracelink_emitter_t *e = calloc(1, sizeof(*e));
    if (NULL == e)
    {
        return tp_err_set(TP_ERR_NO_MEMORY, "tp_tracelink_emitter_create: out of memory");
    }
    const char *ch = NULL;
    int32_t sid = 0;
    tp_tl_resolve_stream(ctx, TP_STREAM_CONTROL, channel, stream_id, &ch, &sid);
    if (tp_tl_transport_open(ctx, &e->transport) < 0 ||
        tp_transport_add_publication(&e->pub, e->transport, ch, sid, 0) < 0)
    {
        tp_err_prepend("tp_tracelink_emitter_create");
        tp_tracelink_emitter_close(e);
        return -1;
    }
    *out = e;
    return 0;
}

int tp_tracelink_emit(tp_tracelink_emitter_t *e, uint32_t stream_id, uint64_t epoch, uint64_t seq, uint64_t trace_id,
    const uint64_t *parents, size_t count)
{
    if (NULL == e || (NULL == parents && 0 != count))
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_tracelink_emit: NULL argument");
    }
    if (count > TP_TRACELINK_MAX_PARENTS)
    {
        e->stats.rejected++;
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_tracelink_emit: %zu parents (at most %d)", count,
            TP_TRACELINK_MAX_PARENTS);
    }
    e->msg.stream_id = stream_id;
    e->msg.epoch = epoch;
    e->msg.seq = seq;
    e->msg.trace_id = trace_id;
    e->msg.parent_count = (uint32_t)count;
    if (count > 0)
    {
        memcpy(e->msg.parents, parents, count * sizeof(uint64_t));
    }
    size_t len = 0;
    if (tp_proto_encode_trace_link_set(e->buffer, sizeof(e->buffer), &e->msg, &len) < 0)
    {
        e->stats.rejected++;
        tp_err_prepend("tp_tracelink_emit");
        return -1;
    }
    int64_t rc = tp_publication_offer(e->pub, e->buffer, len, NULL, NULL);
    if (rc >= 0)
    {
        e->stats.sent++;
        return 1;
    }
    if (TP_PUBLICATION_NOT_CONNECTED == rc)
    {
        e->stats.dropped_not_connected++;
    }
    else if (TP_PUBLICATION_BACK_PRESSURED == rc || TP_PUBLICATION_ADMIN_ACTION == rc)
    {
        e->stats.dropped_back_pressure++;
    }
    else
    {
        e->stats.dropped_error++;
    }
    return 0;
}

int tp_tracelink_emitter_do_work(tp_tracelink_emitter_t *e)
{
    if (NULL == e)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_tracelink_emitter_do_work: NULL emitter");
    }
    return tp_transport_do_work(e->transport);
}

bool tp_tracelink_emitter_is_connected(tp_tracelink_emitter_t *e)
{
    return NULL != e && NULL != e->pub && tp_publication_is_connected(e->pub);
}

int tp_tracelink_emitter_stats(const tp_tracelink_emitter_t *e, tp_tracelink_emitter_stats_t *stats)
{
    if (NULL == e || NULL == stats)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_tracelink_emitter_stats: NULL argument");
    }
    *stats = e->stats;
    return 0;
}

int tp_tracelink_emitter_close(tp_tracelink_emitter_t *e)
{
    if (NULL == e)
    {
        return 0;
    }
    if (NULL != e->pub)
    {
        tp_publication_close(e->pub);
    }
    if (NULL != e->transport)
    {
        tp_transport_close(e->transport);
    }
    free(e);
    return 0;
}
