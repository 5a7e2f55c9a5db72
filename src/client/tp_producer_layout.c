/*
 * Producer layout change (wire spec §15.2), application thread: the layout
 * getter and tp_producer_change_layout, which creates the regions of the new
 * epoch, hands them to the conductor through `pending_regions` (applied and
 * announced by tp_producer_apply_pending_layout, inline in invoker mode) and
 * switches the hot path once the conductor has announced them.
 */
#include <stdlib.h>
#include <string.h>

#include "client/tp_producer_internal.h"
#include "common/tp_error.h"

int tp_producer_layout(const tp_producer_t *p, tp_producer_layout_t *layout)
{
    if (NULL == p || NULL == layout || NULL == p->hot)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_producer_layout: NULL argument");
    }
    memset(layout, 0, sizeof(*layout));
    layout->header_nslots = p->hot->header_nslots;
    layout->pool_count = p->hot->pool_count;
    for (size_t i = 0; i < p->hot->pool_count; i++)
    {
        layout->pools[i].pool_id = p->hot->pool_ids[i];
        layout->pools[i].stride_bytes = p->hot->strides[i];
    }
    return 0;
}

int tp_producer_change_layout(tp_producer_t *p, const tp_producer_layout_t *layout)
{
    if (NULL == p || NULL == layout)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_producer_change_layout: NULL argument");
    }
    if (!p->active)
    {
        return tp_err_set(TP_ERR_CLOSED, "tp_producer_change_layout: producer closed");
    }
    if (p->driver_mode)
    {
        return tp_err_set(TP_ERR_UNSUPPORTED, "tp_producer_change_layout: in driver mode the driver owns the layout; "
            "change the stream's profile in the driver configuration");
    }
    if (tp_producer_validate_layout(layout->header_nslots, layout->pool_count, layout->pools) < 0)
    {
        return tp_err_prepend("tp_producer_change_layout");
    }
    if (p->count > 0)
    {
        tp_producer_flush_entries(p); /* committed frames waiting for descriptor space go out in the old epoch */
    }
    if (p->count > 0)
    {
        return tp_err_set(TP_ERR_STATE,
            "tp_producer_change_layout: %u frame(s) still open or back-pressured: commit/abort the claims or "
            "tp_producer_flush() first", p->count);
    }
    uint32_t max_claims = tp_producer_effective_max_claims(&p->config, layout->header_nslots);
    if (max_claims > p->entries_capacity)
    {
        tp_producer_entry_t *entries = calloc(max_claims, sizeof(*entries));
        if (NULL == entries)
        {
            return tp_err_set(TP_ERR_NO_MEMORY, "tp_producer_change_layout: out of memory");
        }
        free(p->entries);
        p->entries = entries;
        p->entries_capacity = max_claims;
    }
    tp_producer_regions_t *n = tp_producer_regions_create(p, layout->header_nslots, layout->pool_count, layout->pools,
        p->hot->epoch + 1);
    if (NULL == n)
    {
        return tp_err_prepend("tp_producer_change_layout");
    }
    uint64_t epoch = n->epoch;
    tp_client_t *client = p->client;
    atomic_store_explicit(&p->pending_regions, n, memory_order_release);
    if (!atomic_load(&client->threaded))
    {
        tp_producer_apply_pending_layout(p, tp_clock_mono_ns()); /* invoker mode: this thread runs the duty cycle */
    }
    else
    {
        uint64_t deadline = tp_clock_mono_ns() + client->ctx.client_timeout_ns;
        while (atomic_load_explicit(&p->applied_epoch, memory_order_acquire) != epoch)
        {
            if (tp_clock_mono_ns() > deadline)
            {
                tp_producer_regions_t *back = atomic_exchange_explicit(&p->pending_regions, NULL, memory_order_acq_rel);
                if (back == n)
                {
                    tp_producer_regions_free(n, true); /* never announced: the old layout stays in use */
                    return tp_err_set(TP_ERR_TIMEOUT, "tp_producer_change_layout: conductor did not answer within "
                        "%llu ns", (unsigned long long)client->ctx.client_timeout_ns);
                }
                deadline = UINT64_MAX; /* the conductor took it: its answer is a few offers away */
            }
            tp_sleep_ns(50000);
        }
    }
    /* the conductor announced the new epoch: switch the hot path, sequence numbers restart at 0 (§15.2) */
    p->hot = n;
    p->max_claims = max_claims;
    p->head = 0;
    p->count = 0;
    p->next_seq = 0;
    atomic_store_explicit(&p->current_seq, 0, memory_order_release);
    atomic_store(&p->epoch, epoch);
    return 0;
}
