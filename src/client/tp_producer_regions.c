/*
 * Producer regions and epochs (wire spec §15.2, §15.21a): validation of a
 * layout, creation of the regions of an epoch in the canonical layout
 * (conductor at the add, application thread at a layout change), their
 * release, and the retirement of superseded epochs (conductor). Calls
 * nothing else of the producer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/tp_producer_internal.h"
#include "common/tp_error.h"
#include "common/tp_log.h"
#include "shm/tp_shm_geometry.h"

_Static_assert(TP_PRODUCER_MAX_POOLS <= TP_SHM_GEOMETRY_MAX_POOLS, "a valid producer layout passes the geometry pool count");

/* A local layout against the wire spec's geometry rules (src/shm/tp_shm_geometry.h), as TP_ERR_CONFIG. */
int tp_producer_validate_layout(uint32_t header_nslots, size_t pool_count, const tp_pool_config_t *pools)
{
    if (0 == pool_count || pool_count > TP_PRODUCER_MAX_POOLS)
    {
        return tp_err_set(TP_ERR_CONFIG, "producer: pool_count %zu must be 1..%d", pool_count, TP_PRODUCER_MAX_POOLS);
    }
    tp_shm_pool_geometry_t geometry[TP_PRODUCER_MAX_POOLS];
    for (size_t i = 0; i < pool_count; i++)
    {
        geometry[i].pool_id = pools[i].pool_id;
        geometry[i].nslots = header_nslots; /* every pool has the ring's slot count (§15.5) */
        geometry[i].stride_bytes = pools[i].stride_bytes;
    }
    if (tp_shm_geometry_validate(header_nslots, TP_SHM_GEOMETRY_HEADER_SLOT_BYTES, geometry, pool_count, 0,
            TP_ERR_CONFIG, NULL) < 0)
    {
        return tp_err_prepend("producer");
    }
    return 0;
}

/*
 * Unmap a set of regions; `remove` also unlinks its epoch directory (never in
 * driver mode: the driver owns the files). Files are only unlinked, never
 * truncated: a consumer still mapping them keeps valid pages until it unmaps.
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

/* Move an epoch set's mappings and URIs into a producer region set (the set is left empty). */
static tp_producer_regions_t *regions_from_set(tp_shm_epoch_set_t *set)
{
    tp_producer_regions_t *r = calloc(1, sizeof(*r));
    if (NULL == r)
    {
        tp_shm_epoch_set_close(set, true);
        tp_err_set(TP_ERR_NO_MEMORY, "producer: out of memory");
        return NULL;
    }
    r->epoch = set->epoch;
    r->header_nslots = set->header_nslots;
    memcpy(r->epoch_dir, set->epoch_dir, sizeof(r->epoch_dir));
    memcpy(r->header_uri, set->header_uri, sizeof(r->header_uri));
    r->ring = set->ring;
    r->pool_count = set->pool_count;
    for (size_t i = 0; i < set->pool_count; i++)
    {
        r->pools[i] = set->pools[i];
        r->strides[i] = set->strides[i];
        r->pool_ids[i] = set->pool_ids[i];
        memcpy(r->pool_uris[i], set->pool_uris[i], sizeof(r->pool_uris[i]));
    }
    return r;
}

/*
 * Standalone mode: create the regions of a new epoch (at least `min_epoch`,
 * above every epoch directory present) in the canonical layout. Returns the
 * set or NULL.
 */
tp_producer_regions_t *tp_producer_regions_create(tp_producer_t *p, uint32_t header_nslots, size_t pool_count,
    const tp_pool_config_t *pools, uint64_t min_epoch)
{
    const tp_context_t *ctx = &p->client->ctx;
    tp_shm_epoch_layout_t layout = { .header_nslots = header_nslots, .pool_count = pool_count };
    for (size_t i = 0; i < pool_count && i < TP_SHM_EPOCH_MAX_POOLS; i++)
    {
        layout.pool_ids[i] = pools[i].pool_id;
        layout.strides[i] = pools[i].stride_bytes;
    }
    /* the whole layout against the creation caps and the free space, before any file exists */
    if (tp_shm_layout_check(ctx->shm_base_dir, header_nslots, layout.strides, layout.pool_count, 0, NULL) < 0)
    {
        tp_err_prepend("producer: stream %u", p->config.stream_id);
        return NULL;
    }
    tp_shm_create_options_t opts;
    tp_shm_create_options_defaults(&opts);
    opts.file_mode = p->config.file_mode ? p->config.file_mode : 0600;
    opts.prefault = p->config.prefault;
    opts.mlock = ctx->mlock_shm; /* the creator of the regions: a failure is fatal, as for the driver (§17, DRV-16) */
    tp_shm_epoch_set_t set;
    if (tp_shm_epoch_set_create(&set, ctx->shm_base_dir, ctx->namespace_name, p->config.stream_id, min_epoch, &layout,
            &opts, false) < 0)
    {
        tp_err_prepend("producer");
        return NULL;
    }
    return regions_from_set(&set);
}

static void log_unremoved_epoch(void *clientd, const tp_shm_gc_entry_t *e)
{
    (void)clientd;
    if (TP_SHM_GC_DEAD == e->verdict && !e->removed)
    {
        TP_LOG_WARN("producer", "dead epoch %s: %s", e->path, e->reason);
    }
}

/*
 * Standalone mode, after the first epoch exists: remove the epoch
 * directories of this stream left by dead producers (tp_shm_gc: pid not
 * running and activity at least TP_SHM_GC_DEFAULT_MIN_STALE_NS old, so a
 * producer in another pid namespace that is still refreshing keeps its
 * epoch). Never fatal: failures are logged at warn.
 */
void tp_producer_reclaim_dead_epochs(tp_producer_t *p)
{
    const tp_context_t *ctx = &p->client->ctx;
    tp_shm_gc_options_t gc;
    tp_shm_gc_options_defaults(&gc);
    gc.apply = true;
    gc.namespace_name = ctx->namespace_name;
    gc.only_stream = true;
    gc.stream_id = p->config.stream_id;
    gc.on_entry = log_unremoved_epoch;
    int n = tp_shm_gc(ctx->shm_base_dir, &gc);
    if (n < 0)
    {
        TP_LOG_WARN("producer", "stream %u: reclaiming dead epochs under %s failed: %s", p->config.stream_id,
            ctx->shm_base_dir, tp_errmsg());
        tp_err_clear();
    }
    else if (n > 0)
    {
        TP_LOG_INFO("producer", "stream %u: removed %d epoch(s) of dead producers", p->config.stream_id, n);
    }
}

/*
 * Driver mode: map the regions of a lease writable (the producer is their
 * single writer; the driver created them), validating every superblock
 * against the grant. Returns the set or NULL (the caller drops the lease).
 */
tp_producer_regions_t *tp_producer_regions_from_grant(tp_producer_t *p, const tp_driver_grant_t *g)
{
    tp_shm_epoch_set_t set;
    memset(&set, 0, sizeof(set));
    set.epoch = g->epoch;
    set.header_nslots = g->header_nslots;
    tp_shm_region_params_t params = { .region_type = TP_SHM_REGION_HEADER_RING, .layout_version = g->layout_version,
        .epoch = g->epoch, .stream_id = p->config.stream_id, .pool_id = 0, .nslots = g->header_nslots };
    tp_shm_uri_t uri;
    if (tp_shm_uri_parse(g->header_uri, &uri) < 0 ||
        tp_shm_region_map_writable(&set.ring, p->client->allowlist, uri.path, &params, uri.require_hugepages) < 0)
    {
        tp_err_prepend("producer: header ring granted by the driver (%s)", g->header_uri);
        return NULL;
    }
    snprintf(set.header_uri, sizeof(set.header_uri), "%s", g->header_uri);
    /* ascending stride: the first pool that fits a payload is the smallest */
    size_t order[TP_SHM_EPOCH_MAX_POOLS];
    tp_shm_stride_order(g->strides, g->pool_count, order);
    for (size_t k = 0; k < g->pool_count; k++)
    {
        size_t i = order[k];
        params.region_type = TP_SHM_REGION_PAYLOAD_POOL;
        params.pool_id = g->pool_ids[i];
        params.stride_bytes = g->strides[i];
        if (tp_shm_uri_parse(g->pool_uris[i], &uri) < 0 ||
            tp_shm_region_map_writable(&set.pools[k], p->client->allowlist, uri.path, &params, uri.require_hugepages) < 0 ||
            tp_shm_pool_check_ring(set.ring, set.pools[k]) < 0)
        {
            tp_err_prepend("producer: pool %u granted by the driver (%s)", g->pool_ids[i], g->pool_uris[i]);
            set.pool_count = NULL != set.pools[k] ? k + 1 : k;
            tp_shm_epoch_set_close(&set, false);
            return NULL;
        }
        set.pool_ids[k] = g->pool_ids[i];
        set.strides[k] = g->strides[i];
        snprintf(set.pool_uris[k], sizeof(set.pool_uris[k]), "%s", g->pool_uris[i]);
        set.pool_count = k + 1;
    }
    /* mlock_shm (§17): a client SHOULD lock its own mappings; a failure is reported and the regions used unlocked */
    int unlocked = tp_client_mlock_region(p->client, set.ring, "header ring") < 0;
    for (size_t k = 0; k < set.pool_count; k++)
    {
        unlocked += tp_client_mlock_region(p->client, set.pools[k], "payload pool") < 0;
    }
    p->mlock_failures += (uint64_t)unlocked;
    tp_producer_regions_t *r = regions_from_set(&set);
    if (NULL != r)
    {
        r->epoch_dir[0] = '\0'; /* never removed by the producer */
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
