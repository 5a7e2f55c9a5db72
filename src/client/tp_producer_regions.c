/*
 * Producer regions and epochs (wire spec §15.2, §15.21a): creation of the
 * regions of an epoch in the canonical layout (conductor at the add,
 * application thread at a layout change), the layout change itself
 * (application thread, handing the new regions to the conductor through
 * `pending_regions`), its announcement (conductor, or inline in invoker
 * mode) and the retirement of superseded epochs (conductor).
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client/tp_producer_internal.h"
#include "common/tp_error.h"
#include "common/tp_log.h"

int tp_producer_validate_layout(uint32_t header_nslots, size_t pool_count, const tp_pool_config_t *pools)
{
    if (0 == header_nslots || (header_nslots & (header_nslots - 1)) != 0)
    {
        return tp_err_set(TP_ERR_CONFIG, "producer: header_nslots %u must be a power of two", header_nslots);
    }
    if (0 == pool_count || pool_count > TP_PRODUCER_MAX_POOLS)
    {
        return tp_err_set(TP_ERR_CONFIG, "producer: pool_count %zu must be 1..%d", pool_count, TP_PRODUCER_MAX_POOLS);
    }
    for (size_t i = 0; i < pool_count; i++)
    {
        if (0 == pools[i].pool_id)
        {
            return tp_err_set(TP_ERR_CONFIG, "producer: pool %zu has pool_id 0 (reserved for the header ring)", i);
        }
        if (0 == pools[i].stride_bytes || pools[i].stride_bytes % 64 != 0)
        {
            return tp_err_set(TP_ERR_CONFIG, "producer: pool %u stride_bytes %u must be a non-zero multiple of 64",
                pools[i].pool_id, pools[i].stride_bytes);
        }
        for (size_t j = 0; j < i; j++)
        {
            if (pools[j].pool_id == pools[i].pool_id)
            {
                return tp_err_set(TP_ERR_CONFIG, "producer: duplicate pool_id %u", pools[i].pool_id);
            }
        }
    }
    return 0;
}

/* Highest epoch present in the stream directory (0 when none). */
static uint64_t highest_epoch(const char *stream_dir)
{
    DIR *d = opendir(stream_dir);
    uint64_t max = 0;
    if (NULL == d)
    {
        return 0;
    }
    struct dirent *e;
    while (NULL != (e = readdir(d)))
    {
        char *end = NULL;
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
        {
            continue;
        }
        errno = 0;
        unsigned long long v = strtoull(e->d_name, &end, 10);
        if (0 == errno && end && '\0' == *end && v > max)
        {
            max = v;
        }
    }
    closedir(d);
    return max;
}

/*
 * Unmap a set of regions; `remove` also unlinks its epoch directory. Files
 * are only unlinked, never truncated: a consumer still mapping them keeps
 * valid pages until it unmaps.
 */
void tp_producer_regions_free(tp_producer_regions_t *r, bool remove)
{
    if (NULL == r)
    {
        return;
    }
    tp_shm_region_close(r->ring);
    for (size_t i = 0; i < r->pool_count; i++)
    {
        tp_shm_region_close(r->pools[i]);
    }
    if (remove && r->epoch_dir[0])
    {
        tp_shm_epoch_dir_remove(r->epoch_dir);
    }
    free(r);
}

/*
 * Create the regions of a new epoch (at least `min_epoch`, above every epoch
 * directory present) in the canonical layout. Returns the set or NULL.
 */
tp_producer_regions_t *tp_producer_regions_create(tp_producer_t *p, uint32_t header_nslots, size_t pool_count,
    const tp_pool_config_t *pools, uint64_t min_epoch)
{
    const tp_context_t *ctx = &p->client->ctx;
    char path[PATH_MAX];
    if (tp_shm_epoch_dir_path(path, sizeof(path), ctx->shm_base_dir, NULL, ctx->namespace_name,
            p->config.stream_id, 0) < 0)
    {
        return NULL;
    }
    char *slash = strrchr(path, '/');
    if (NULL == slash)
    {
        tp_err_set(TP_ERR_STATE, "producer: bad epoch dir path %s", path);
        return NULL;
    }
    *slash = '\0';
    tp_producer_regions_t *r = calloc(1, sizeof(*r));
    if (NULL == r)
    {
        tp_err_set(TP_ERR_NO_MEMORY, "producer: out of memory");
        return NULL;
    }
    uint64_t epoch = highest_epoch(path) + 1;
    epoch = epoch < min_epoch ? min_epoch : epoch;
    int attempts = 0;
    while (tp_shm_epoch_dir_create(r->epoch_dir, sizeof(r->epoch_dir), ctx->shm_base_dir, ctx->namespace_name,
               p->config.stream_id, epoch, false) < 0 ||
        highest_epoch(path) > epoch)
    {
        if (++attempts > 8)
        {
            r->epoch_dir[0] = '\0';
            free(r);
            tp_err_prepend("producer: cannot create an epoch directory under %s", path);
            return NULL;
        }
        epoch = highest_epoch(path) + 1;
        epoch = epoch < min_epoch ? min_epoch : epoch;
    }
    /* The directory may already exist (created concurrently); region creation uses O_EXCL and fails then. */
    r->epoch = epoch;
    r->header_nslots = header_nslots;

    tp_shm_create_options_t opts;
    tp_shm_create_options_defaults(&opts);
    opts.file_mode = p->config.file_mode ? p->config.file_mode : 0600;
    opts.prefault = p->config.prefault;

    tp_shm_region_params_t params = { .region_type = TP_SHM_REGION_HEADER_RING, .layout_version = TP_SHM_LAYOUT_VERSION,
        .epoch = epoch, .stream_id = p->config.stream_id, .pool_id = 0, .nslots = header_nslots, .stride_bytes = 0 };
    char file[PATH_MAX];
    if (tp_shm_header_ring_path(file, sizeof(file), r->epoch_dir) < 0 ||
        tp_shm_region_create(&r->ring, file, &params, &opts) < 0 ||
        tp_shm_uri_format(file, false, r->header_uri, sizeof(r->header_uri)) < 0)
    {
        tp_err_prepend("producer: header ring");
        tp_producer_regions_free(r, true);
        return NULL;
    }
    /* pools in ascending stride order: the first that fits is the smallest */
    size_t order[TP_PRODUCER_MAX_POOLS];
    for (size_t i = 0; i < pool_count; i++)
    {
        order[i] = i;
    }
    for (size_t i = 1; i < pool_count; i++)
    {
        for (size_t j = i; j > 0 && pools[order[j]].stride_bytes < pools[order[j - 1]].stride_bytes; j--)
        {
            size_t t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    }
    for (size_t k = 0; k < pool_count; k++)
    {
        const tp_pool_config_t *pc = &pools[order[k]];
        params.region_type = TP_SHM_REGION_PAYLOAD_POOL;
        params.pool_id = pc->pool_id;
        params.stride_bytes = pc->stride_bytes;
        if (tp_shm_pool_path(file, sizeof(file), r->epoch_dir, pc->pool_id) < 0 ||
            tp_shm_region_create(&r->pools[k], file, &params, &opts) < 0 ||
            tp_shm_uri_format(file, false, r->pool_uris[k], sizeof(r->pool_uris[k])) < 0)
        {
            tp_err_prepend("producer: pool %u", pc->pool_id);
            r->pool_count = NULL != r->pools[k] ? k + 1 : k;
            tp_producer_regions_free(r, true);
            return NULL;
        }
        r->strides[k] = pc->stride_bytes;
        r->pool_ids[k] = pc->pool_id;
        r->pool_count = k + 1;
    }
    return r;
}

/* Claims in flight for a ring of `nslots` (documented clamp to nslots / 2). */
uint32_t tp_producer_effective_max_claims(const tp_producer_config_t *config, uint32_t nslots)
{
    uint32_t m = config->max_claims ? config->max_claims : 1;
    if (m > nslots / 2)
    {
        m = nslots > 1 ? nslots / 2 : 1;
    }
    return m;
}

/* ------------------------------------------------------------------------- */
/* Layout change (application thread)                                          */
/* ------------------------------------------------------------------------- */

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

/*
 * Conductor (or the application thread inline in invoker mode): take a new
 * layout handed over by tp_producer_change_layout(), announce it at once
 * (§10.1.1 "on change"), with DataSourceAnnounce and QosProducer of the new
 * epoch, and keep the old regions mapped and on disk for the grace period.
 */
int tp_producer_apply_pending_layout(tp_producer_t *p, uint64_t now_ns)
{
    tp_producer_regions_t *n = atomic_exchange_explicit(&p->pending_regions, NULL, memory_order_acq_rel);
    if (NULL == n)
    {
        return 0;
    }
    const tp_context_t *ctx = &p->client->ctx;
    tp_producer_regions_t *old = p->regions;
    old->retire_at_ns = now_ns + tp_context_freshness_ns(ctx);
    old->next = p->retired;
    p->retired = old;
    p->regions = n;
    atomic_store_explicit(&p->current_seq, 0, memory_order_release); /* the application thread waits meanwhile */
    tp_producer_send_announce(p, now_ns);
    tp_producer_send_data_source(p, now_ns, true);
    p->meta_dirty = false;
    p->announce_requested = false;
    p->next_announce_ns = now_ns + ctx->announce_period_ns;
    tp_producer_send_qos(p);
    p->next_qos_ns = now_ns + ctx->qos_interval_ns;
    tp_counter_add(&p->layout_changes, 1);
    TP_LOG_INFO("producer", "stream %u: layout changed, epoch %llu -> %llu (%u slots, %zu pools)", p->config.stream_id,
        (unsigned long long)old->epoch, (unsigned long long)n->epoch, n->header_nslots, n->pool_count);
    atomic_store_explicit(&p->applied_epoch, n->epoch, memory_order_release);
    return 1;
}

/* Conductor: unmap and remove superseded epochs whose grace period is over. */
int tp_producer_retire_regions(tp_producer_t *p, uint64_t now_ns)
{
    int work = 0;
    for (tp_producer_regions_t **link = &p->retired; NULL != *link;)
    {
        tp_producer_regions_t *r = *link;
        if (now_ns >= r->retire_at_ns)
        {
            *link = r->next;
            tp_producer_regions_free(r, true);
            work++;
            continue;
        }
        link = &r->next;
    }
    return work;
}
