/*
 * Snowflake trace ids (TraceLink spec §6.1): see tensor_pool/tp_tracelink.h.
 */
#include "tensor_pool/tp_tracelink.h"

#include "common/tp_clock.h"
#include "common/tp_error.h"

#define TRACE_SEQ_MASK ((UINT64_C(1) << TP_TRACE_SEQUENCE_BITS) - 1)
#define TRACE_TS_SHIFT (TP_TRACE_NODE_ID_BITS + TP_TRACE_SEQUENCE_BITS)
#define TRACE_TS_MASK ((UINT64_C(1) << (63 - TRACE_TS_SHIFT)) - 1)

int tp_trace_id_generator_init(tp_trace_id_generator_t *gen, uint32_t node_id)
{
    if (NULL == gen)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "trace id generator: NULL generator");
    }
    if (0 == node_id || node_id > TP_TRACE_NODE_ID_MAX)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT,
            "trace id generator: node id %u out of range (1..%u, unique in the deployment: TraceLink spec 6.2)",
            node_id, TP_TRACE_NODE_ID_MAX);
    }
    gen->node_bits = (uint64_t)node_id << TP_TRACE_SEQUENCE_BITS;
    gen->last_ms = 0;
    gen->sequence = 0;
    return 0;
}

int tp_trace_id_generator_set_node_id(tp_trace_id_generator_t *gen, uint32_t node_id)
{
    if (NULL == gen || 0 == node_id || node_id > TP_TRACE_NODE_ID_MAX)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT,
            "trace id generator: node id %u out of range (1..%u, unique in the deployment: TraceLink spec 6.2)",
            node_id, TP_TRACE_NODE_ID_MAX);
    }
    uint64_t bits = (uint64_t)node_id << TP_TRACE_SEQUENCE_BITS;
    if (bits != gen->node_bits && 0 != gen->last_ms)
    {
        gen->sequence = TRACE_SEQ_MASK; /* a lower node id in the same millisecond would sort before the last id */
    }
    gen->node_bits = bits;
    return 0;
}

uint64_t tp_trace_id_next_at(tp_trace_id_generator_t *gen, uint64_t now_unix_ms)
{
    uint64_t ms = now_unix_ms > TP_TRACE_EPOCH_MS ? now_unix_ms - TP_TRACE_EPOCH_MS : 1;
    if (ms > gen->last_ms)
    {
        gen->last_ms = ms;
        gen->sequence = 0;
    }
    else if (++gen->sequence > TRACE_SEQ_MASK)
    {
        /* clock stepped back or 4096 ids in this millisecond: continue in the next one (never repeat, never wait) */
        gen->last_ms++;
        gen->sequence = 0;
    }
    uint64_t id = ((gen->last_ms & TRACE_TS_MASK) << TRACE_TS_SHIFT) | gen->node_bits | gen->sequence;
    return 0 != id ? id : 1; /* unreachable with a configured node id (node_bits != 0) */
}

uint64_t tp_trace_id_next(tp_trace_id_generator_t *gen)
{
    return tp_trace_id_next_at(gen, tp_clock_realtime_ns() / UINT64_C(1000000));
}

uint64_t tp_trace_id_unix_ms(uint64_t trace_id)
{
    return (trace_id >> TRACE_TS_SHIFT) + TP_TRACE_EPOCH_MS;
}

uint32_t tp_trace_id_node_id(uint64_t trace_id)
{
    return (uint32_t)((trace_id >> TP_TRACE_SEQUENCE_BITS) & TP_TRACE_NODE_ID_MAX);
}

uint32_t tp_trace_id_sequence(uint64_t trace_id)
{
    return (uint32_t)(trace_id & TRACE_SEQ_MASK);
}
