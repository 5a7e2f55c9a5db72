/*
 * TraceLink layer (internal): shared by src/tracelink and src/join.
 *
 * Layering: tracelink and join sit beside client: they use protocol,
 * transport and common, plus the public context getters; client includes
 * only the header-only generator core below (for trace_enabled producers).
 */
#ifndef TP_TRACELINK_TP_TRACELINK_INTERNAL_H
#define TP_TRACELINK_TP_TRACELINK_INTERNAL_H

#include "tensor_pool/tp_context.h"
#include "tensor_pool/tp_tracelink.h"
#include "transport/tp_transport.h"

/**
 * Open a transport with the context's backend and directory (the same ones
 * the context's client uses). Returns 0 or -1.
 */
int tp_tl_transport_open(const tp_context_t *ctx, tp_transport_t **out);

/** Channel and stream of `kind` from the context, overridden by channel/stream_id when non-NULL/non-zero. */
void tp_tl_resolve_stream(const tp_context_t *ctx, tp_stream_kind_t kind, const char *channel, int32_t stream_id,
    const char **channel_out, int32_t *stream_id_out);

#endif /* TP_TRACELINK_TP_TRACELINK_INTERNAL_H */
