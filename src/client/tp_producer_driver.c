/*
 * Producer in driver mode (Driver Model spec §2.2, §4.12.2): the regions come
 * from a lease granted by the SHM driver. The conductor keeps the lease
 * (keepalives, revocation, reattach after a driver restart) and hands the
 * regions of a new lease to the application thread, which switches to them
 * between frames; while no lease is valid the hot path refuses frames with
 * TP_PRODUCER_NOT_ATTACHED. The producer never creates, truncates or unlinks
 * a region file in this mode.
 *
 * TraceLink node ids (TraceLink spec §6.2, DECISIONS TL-2): with
 * `trace_enabled` and `trace_node_id` 0 the producer mints its trace ids with
 * the node id of its lease (ShmAttachResponse.nodeId). The conductor checks
 * it with the grant and stores it with the lease's regions; the hot path
 * switches its generator when it switches to those regions, so no extra
 * cross-thread state is read per frame. A lease without a usable node id
 * (null: the driver allocates none) is not used: the first attach fails the
 * add with TP_ERR_CONFIG, a later one is dropped and retried with backoff.
 */
#include <stdio.h>
#include <string.h>

#include "client/tp_producer_internal.h"
#include "common/tp_error.h"
#include "common/tp_log.h"

/* Application thread. */
int64_t tp_producer_driver_gate(tp_producer_t *p)
{
    if (!atomic_load_explicit(&p->lease_valid, memory_order_acquire))
    {
        return TP_PRODUCER_NOT_ATTACHED;
    }
    if (NULL != atomic_load_explicit(&p->next_hot, memory_order_relaxed) && 0 == p->count)
    {
        tp_producer_regions_t *n = atomic_exchange_explicit(&p->next_hot, NULL, memory_order_acq_rel);
        if (NULL != n)
        {
            /* a new lease is a new epoch: sequence numbers restart at 0 (§15.2) */
            p->hot = n;
            p->max_claims = tp_producer_effective_max_claims(&p->config, n->header_nslots);
            if (p->max_claims > p->entries_capacity)
            {
                p->max_claims = p->entries_capacity;
            }
            p->head = 0;
            p->next_seq = 0;
            atomic_store_explicit(&p->current_seq, 0, memory_order_release);
            atomic_store_explicit(&p->epoch, n->epoch, memory_order_release);
            if (0 != n->trace_node_id)
            {
                tp_trace_id_generator_set_node_id(&p->trace_gen, n->trace_node_id); /* the new lease's (TL-2) */
            }
        }
    }
    return 0;
}

uint32_t tp_producer_trace_node_id(const tp_producer_t *producer)
{
    if (NULL == producer || !producer->config.trace_enabled)
    {
        return 0;
    }
    return (uint32_t)(producer->trace_gen.node_bits >> TP_TRACE_SEQUENCE_BITS);
}

/* trace_enabled with trace_node_id 0 in driver mode: mint with the lease's node id (TL-2). */
static bool adopts_lease_node_id(const tp_producer_t *p)
{
    return p->config.trace_enabled && 0 == p->config.trace_node_id;
}

/*
 * Conductor: a lease whose node id cannot be adopted (absent or outside the 10-bit Snowflake field) is not used:
 * TraceLink §6.2 requires a unique node id, and minting with a stale one could collide with its next holder.
 */
static bool refuse_lease_node_id(tp_producer_t *p, uint64_t now_ns)
{
    uint32_t node = p->lease.grant.node_id;
    if (!adopts_lease_node_id(p) || (0 != node && node <= TP_TRACE_NODE_ID_MAX))
    {
        return false;
    }
    if (UINT32_MAX == node)
    {
        snprintf(p->lease.last_error, sizeof(p->lease.last_error), "the driver's lease carries no TraceLink node "
            "id (ShmAttachResponse.nodeId null: it allocates none, or has none left) and trace_enabled with "
            "trace_node_id 0 mints with the lease's; configure trace_node_id (1..%u, unique in the deployment)",
            TP_TRACE_NODE_ID_MAX);
    }
    else
    {
        snprintf(p->lease.last_error, sizeof(p->lease.last_error), "the driver's lease carries TraceLink node id %u, "
            "outside the trace id's node field (1..%u); configure trace_node_id (1..%u, unique in the deployment)",
            node, TP_TRACE_NODE_ID_MAX, TP_TRACE_NODE_ID_MAX);
    }
    TP_LOG_WARN("producer", "stream %u: lease %llu not used: %s", p->config.stream_id,
        (unsigned long long)p->lease.grant.lease_id, p->lease.last_error);
    p->trace_node_refused = true;
    tp_driver_lease_reattach(&p->lease, p->pub_control, now_ns); /* frees it at the driver; retried with backoff */
    return true;
}

/* Conductor: regions of a newly granted lease. Returns the event to record. */
static tp_driver_lease_event_t take_grant(tp_producer_t *p, uint64_t now_ns)
{
    if (refuse_lease_node_id(p, now_ns))
    {
        return TP_LEASE_EVENT_REJECTED;
    }
    tp_producer_regions_t *n = tp_producer_regions_from_grant(p, &p->lease.grant);
    if (NULL == n)
    {
        /* §4.7a: a grant whose regions fail validation is a protocol error: drop it and reattach */
        snprintf(p->lease.last_error, sizeof(p->lease.last_error), "protocol error: the granted regions fail "
            "validation (%.190s)", tp_errmsg());
        TP_LOG_WARN("producer", "stream %u: %s; reattaching", p->config.stream_id, p->lease.last_error);
        p->lease.protocol_errors++;
        tp_driver_lease_reattach(&p->lease, p->pub_control, now_ns);
        return TP_LEASE_EVENT_ATTACHED;
    }
    n->trace_node_id = adopts_lease_node_id(p) ? p->lease.grant.node_id : 0;
    if (0 != n->trace_node_id)
    {
        TP_LOG_INFO("producer", "stream %u: lease %llu, TraceLink node id %u", p->config.stream_id,
            (unsigned long long)p->lease.grant.lease_id, n->trace_node_id);
    }
    if (!p->active)
    {
        /* the first lease: the add completes in tp_producer_poll_ready */
        if (0 != n->trace_node_id)
        {
            tp_trace_id_generator_set_node_id(&p->trace_gen, n->trace_node_id); /* not handed to the application yet */
        }
        p->regions = n;
        p->hot = n;
        atomic_store(&p->epoch, n->epoch);
        atomic_store(&p->applied_epoch, n->epoch);
        atomic_store_explicit(&p->lease_valid, true, memory_order_release);
        return TP_LEASE_EVENT_ATTACHED;
    }
    tp_producer_regions_t *old = p->regions;
    p->regions = n;
    tp_producer_regions_t *untaken = atomic_exchange_explicit(&p->next_hot, n, memory_order_acq_rel);
    if (NULL != untaken)
    {
        tp_producer_regions_free(untaken, false); /* an earlier grant the hot path never switched to */
    }
    else if (NULL == p->switch_from)
    {
        p->switch_from = old; /* the hot path may still be on it: retired once it moved on */
    }
    atomic_store(&p->applied_epoch, n->epoch);
    atomic_store_explicit(&p->lease_valid, true, memory_order_release);
    tp_counter_add(&p->reattaches, 1);
    p->meta_dirty = true; /* DataSourceAnnounce for the new epoch */
    TP_LOG_INFO("producer", "stream %u: lease %llu, epoch %llu (reattached)", p->config.stream_id,
        (unsigned long long)p->lease.grant.lease_id, (unsigned long long)n->epoch);
    return TP_LEASE_EVENT_ATTACHED;
}

static void on_event(tp_producer_t *p, tp_driver_lease_event_t ev, uint64_t now_ns)
{
    switch (ev)
    {
        case TP_LEASE_EVENT_ATTACHED: ev = take_grant(p, now_ns); break;
        case TP_LEASE_EVENT_LOST:
            /* §4.7: stop using the regions of the lease at once; in-flight frames are dropped */
            atomic_store_explicit(&p->lease_valid, false, memory_order_release);
            TP_LOG_WARN("producer", "stream %u: %s", p->config.stream_id, p->lease.last_error);
            break;
        case TP_LEASE_EVENT_REJECTED:
            if (p->active)
            {
                TP_LOG_WARN("producer", "stream %u: %s", p->config.stream_id, p->lease.last_error);
            }
            break;
        default: break;
    }
    if (TP_LEASE_EVENT_NONE != ev)
    {
        p->attach_event = ev;
    }
}

void tp_producer_driver_message(tp_producer_t *p, const uint8_t *buffer, size_t length, const tp_header_t *header,
    uint64_t now_ns)
{
    on_event(p, tp_driver_lease_on_message(&p->lease, buffer, length, header, now_ns), now_ns);
}

int tp_producer_driver_work(tp_producer_t *p, uint64_t now_ns)
{
    tp_driver_lease_event_t ev = TP_LEASE_EVENT_NONE;
    int work = tp_driver_lease_do_work(&p->lease, p->pub_control, now_ns, &ev);
    on_event(p, ev, now_ns);
    if (NULL != p->switch_from && atomic_load(&p->epoch) == p->regions->epoch)
    {
        /* the hot path left the old lease's regions: unmap them after the grace period (files stay: the driver's) */
        tp_producer_regions_t *old = p->switch_from;
        p->switch_from = NULL;
        old->retire_at_ns = now_ns + tp_context_freshness_ns(&p->client->ctx);
        old->next = p->retired;
        p->retired = old;
        work++;
    }
    return work;
}
