/*
 * Producer regions and epochs (wire spec §15.2, §15.21a): validation of a
 * layout, creation of the regions of an epoch in the canonical layout
 * (conductor at the add, application thread at a layout change), their
 * release, and the retirement of superseded epochs (conductor). Calls
 * nothing else of the producer.
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
