/*
 * Driver streams: regions per epoch, ShmPoolAnnounce, activity refresh and
 * epoch garbage collection. Conductor thread only.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/tp_clock.h"
#include "common/tp_error.h"
#include "common/tp_log.h"
#include "driver/tp_driver_internal.h"
#include "protocol/tp_proto.h"
#include "shm/tp_shm_epoch.h"
#include "tp_sbe/wire.h"

tp_driver_stream_t *tp_driver_stream_find(tp_driver_t *d, uint32_t stream_id)
{
    for (size_t i = 0; i < d->stream_count; i++)
    {
        if (d->streams[i].stream_id == stream_id)
        {
            return &d->streams[i];
        }
    }
    return NULL;
}

tp_driver_stream_t *tp_driver_stream_get(tp_driver_t *d, uint32_t stream_id, bool create, tp_driver_reject_t *reason)
{
    tp_driver_stream_t *s = tp_driver_stream_find(d, stream_id);
    if (NULL != s)
    {
        return s;
    }
    const tp_driver_config_t *c = &d->config;
    int profile = -1;
    bool dynamic = false;
    for (size_t i = 0; i < c->stream_count; i++)
    {
        if (c->streams[i].stream_id == stream_id)
        {
            profile = (int)c->streams[i].profile;
        }
    }
    if (profile < 0)
    {
        bool in_range = c->stream_id_range.set && stream_id >= c->stream_id_range.first &&
            stream_id <= c->stream_id_range.last;
        if (!create || !c->allow_dynamic_streams || !in_range)
        {
            *reason = TP_DRIVER_REJECT_UNKNOWN_STREAM;
            tp_err_set(TP_ERR_NOT_FOUND, "stream %u is not provisioned%s", stream_id,
                !c->allow_dynamic_streams ? " (dynamic streams are disabled)"
                : !create                 ? " (publishMode is not EXISTING_OR_CREATE)"
                                          : " (outside driver.stream_id_range)");
            return NULL;
        }
        profile = c->default_profile[0] ? tp_driver_config_find_profile(c, c->default_profile) : 0;
        dynamic = true;
    }
    if (d->stream_count >= TP_DRIVER_MAX_STREAMS)
    {
        *reason = TP_DRIVER_REJECT_IDS_EXHAUSTED;
        tp_err_set(TP_ERR_STATE, "the driver manages %d streams already", TP_DRIVER_MAX_STREAMS);
        return NULL;
    }
    s = &d->streams[d->stream_count++];
    memset(s, 0, sizeof(*s));
    s->stream_id = stream_id;
    s->profile = (size_t)profile;
    s->dynamic = dynamic;
    return s;
}

int tp_driver_stream_new_epoch(tp_driver_t *d, tp_driver_stream_t *s, uint64_t now_ns)
{
    const tp_driver_config_t *c = &d->config;
    const tp_driver_profile_t *p = &c->profiles[s->profile];
    tp_driver_regions_t *r = calloc(1, sizeof(*r));
    if (NULL == r)
    {
        return tp_err_set(TP_ERR_NO_MEMORY, "driver: out of memory");
    }
    tp_shm_epoch_layout_t layout = { .header_nslots = p->header_nslots, .pool_count = p->pool_count };
    memcpy(layout.pool_ids, p->pool_ids, p->pool_count * sizeof(p->pool_ids[0]));
    memcpy(layout.strides, p->strides, p->pool_count * sizeof(p->strides[0]));
    tp_shm_create_options_t opts;
    tp_shm_create_options_defaults(&opts);
    opts.file_mode = c->permissions_mode;
    opts.prefault = c->prefault_shm;
    opts.mlock = c->mlock_shm;
    opts.require_hugepages = c->require_hugepages;
    uint64_t min_epoch = NULL != s->regions ? s->regions->set.epoch + 1 : 1;
    if (tp_shm_epoch_set_create(&r->set, c->shm_base_dir, c->shm_namespace, s->stream_id, min_epoch, &layout, &opts,
            0 != (c->permissions_mode & 0070)) < 0)
    {
        free(r);
        return tp_err_prepend("driver: stream %u", s->stream_id);
    }
    if (NULL == s->regions)
    {
        tp_driver_count(d, TP_DRV_C_STREAMS, 1);
    }
    else
    {
        /* the old epoch's files stay until GC: consumers still mapping them keep valid pages */
        s->prev_epoch = s->regions->set.epoch;
        tp_shm_epoch_set_close(&s->regions->set, false);
        free(s->regions);
    }
    s->regions = r;
    s->epoch_created_ns = now_ns;
    s->last_announce_ns = 0;
    tp_driver_count(d, TP_DRV_C_EPOCHS, 1);
    TP_LOG_INFO("driver", "stream %u: epoch %llu at %s", s->stream_id, (unsigned long long)r->set.epoch,
        r->set.epoch_dir);
    return 0;
}

void tp_driver_stream_announce(tp_driver_t *d, tp_driver_stream_t *s, uint64_t now_ns)
{
    tp_driver_regions_t *r = s->regions;
    if (NULL == r)
    {
        return;
    }
    tp_shm_epoch_set_refresh_activity(&r->set, 0);
    const tp_shm_epoch_set_t *set = &r->set;
    tp_proto_shm_pool_announce_view_t a = { .stream_id = s->stream_id, .producer_id = s->producer_client_id,
        .epoch = set->epoch, .announce_timestamp_ns = now_ns, .announce_clock_domain = TP_SBE_WIRE_CLOCK_DOMAIN_MONOTONIC,
        .layout_version = TP_SHM_LAYOUT_VERSION, .header_nslots = set->header_nslots,
        .header_slot_bytes = TP_SHM_HEADER_SLOT_BYTES, .pool_count = (uint32_t)set->pool_count,
        .header_region_uri = { set->header_uri, (uint32_t)strlen(set->header_uri) } };
    for (size_t i = 0; i < set->pool_count; i++)
    {
        a.pools[i] = (tp_proto_pool_view_t){ set->pool_ids[i], set->header_nslots, set->strides[i],
            { set->pool_uris[i], (uint32_t)strlen(set->pool_uris[i]) } };
    }
    size_t len = 0;
    if (tp_proto_encode_shm_pool_announce(d->encode_buffer, sizeof(d->encode_buffer), &a, &len) < 0)
    {
        return;
    }
    tp_driver_offer(d, d->announce_pub, d->encode_buffer, len);
    tp_driver_count(d, TP_DRV_C_ANNOUNCES, 1);
    s->last_announce_ns = now_ns;
}

int tp_driver_streams_do_work(tp_driver_t *d, uint64_t now_ns)
{
    int work = 0;
    uint64_t period = (uint64_t)d->config.announce_period_ms * 1000000ull;
    for (size_t i = 0; i < d->stream_count; i++)
    {
        tp_driver_stream_t *s = &d->streams[i];
        if (NULL != s->regions && now_ns >= s->last_announce_ns + period)
        {
            tp_driver_stream_announce(d, s, now_ns);
            work++;
        }
    }
    return work;
}

void tp_driver_streams_close(tp_driver_t *d, bool remove)
{
    for (size_t i = 0; i < d->stream_count; i++)
    {
        tp_driver_stream_t *s = &d->streams[i];
        if (NULL != s->regions)
        {
            tp_shm_epoch_set_close(&s->regions->set, remove);
            free(s->regions);
            s->regions = NULL;
        }
    }
}

/* ------------------------------------------------------------------------- */
/* Epoch GC                                                                   */
/* ------------------------------------------------------------------------- */

static int cmp_desc(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a;
    uint64_t y = *(const uint64_t *)b;
    return x < y ? 1 : (x > y ? -1 : 0);
}

#define TP_DRIVER_GC_MAX_EPOCHS 4096

/* GC one stream directory: returns the number of epoch directories removed. */
static int gc_stream_dir(int nsfd, const char *ns_dir, const char *name, uint64_t current, uint32_t keep,
    uint64_t realtime_now_ns, uint64_t min_age_ns)
{
    int fd = openat(nsfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
    {
        return 0;
    }
    DIR *dir = fdopendir(fd);
    if (NULL == dir)
    {
        close(fd);
        return 0;
    }
    uint64_t *epochs = malloc(TP_DRIVER_GC_MAX_EPOCHS * sizeof(uint64_t));
    size_t n = 0;
    struct dirent *e;
    uint64_t v;
    while (NULL != epochs && n < TP_DRIVER_GC_MAX_EPOCHS && NULL != (e = readdir(dir)))
    {
        if (tp_shm_parse_decimal(e->d_name, UINT64_MAX, &v) && 0 != v)
        {
            epochs[n++] = v;
        }
    }
    int removed = 0;
    if (NULL != epochs)
    {
        qsort(epochs, n, sizeof(uint64_t), cmp_desc);
        for (size_t i = keep; i < n; i++)
        {
            if (epochs[i] == current)
            {
                continue;
            }
            char ename[32];
            snprintf(ename, sizeof(ename), "%llu", (unsigned long long)epochs[i]);
            struct stat st;
            if (0 != fstatat(fd, ename, &st, AT_SYMLINK_NOFOLLOW) || !S_ISDIR(st.st_mode))
            {
                continue;
            }
            uint64_t mtime_ns = (uint64_t)st.st_mtim.tv_sec * 1000000000ull + (uint64_t)st.st_mtim.tv_nsec;
            if (realtime_now_ns < mtime_ns || realtime_now_ns - mtime_ns < min_age_ns)
            {
                continue;
            }
            char path[PATH_MAX];
            if (snprintf(path, sizeof(path), "%s/%s/%s", ns_dir, name, ename) >= (int)sizeof(path))
            {
                continue;
            }
            if (0 == tp_shm_epoch_dir_remove(path))
            {
                removed++;
                TP_LOG_INFO("driver", "epoch GC: removed %s", path);
            }
            else
            {
                TP_LOG_WARN("driver", "epoch GC: %s", tp_errmsg());
            }
        }
    }
    free(epochs);
    closedir(dir);
    return removed;
}

int tp_driver_gc(tp_driver_t *d, uint64_t now_ns, bool final)
{
    const tp_driver_config_t *c = &d->config;
    char ns_dir[PATH_MAX];
    if (tp_shm_stream_dir_path(ns_dir, sizeof(ns_dir), c->shm_base_dir, c->shm_namespace, 1) < 0)
    {
        return 0;
    }
    char *slash = strrchr(ns_dir, '/');
    if (NULL == slash)
    {
        return 0;
    }
    *slash = '\0';
    int nsfd = open(ns_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (nsfd < 0)
    {
        return 0;
    }
    DIR *dir = fdopendir(dup(nsfd));
    if (NULL == dir)
    {
        close(nsfd);
        return 0;
    }
    uint64_t realtime = tp_clock_realtime_ns();
    uint64_t min_age = tp_driver_config_gc_min_age_ns(c);
    int removed = 0;
    struct dirent *e;
    uint64_t sid;
    while (NULL != (e = readdir(dir)))
    {
        if (!tp_shm_parse_decimal(e->d_name, UINT32_MAX, &sid))
        {
            continue;
        }
        tp_driver_stream_t *s = tp_driver_stream_find(d, (uint32_t)sid);
        uint64_t current = (NULL != s && NULL != s->regions) ? s->regions->set.epoch : 0;
        if (final)
        {
            /* cleanup_shm_on_exit: every epoch of the streams this driver managed, nothing of other streams */
            removed += NULL != s ? gc_stream_dir(nsfd, ns_dir, e->d_name, 0, 0, realtime, 0) : 0;
        }
        else if (NULL != s)
        {
            removed += gc_stream_dir(nsfd, ns_dir, e->d_name, current, c->epoch_gc_keep, realtime, min_age);
        }
    }
    closedir(dir);
    close(nsfd);
    (void)now_ns;
    if (!final)
    {
        /* streams this driver does not manage: only what dead processes left (pid gone, activity stale, §15.21a.7) */
        tp_shm_gc_options_t gc;
        tp_shm_gc_options_defaults(&gc);
        gc.apply = true;
        gc.namespace_name = c->shm_namespace;
        int dead = tp_shm_gc(c->shm_base_dir, &gc);
        removed += dead > 0 ? dead : 0;
    }
    if (removed > 0)
    {
        tp_driver_count(d, TP_DRV_C_GC, (uint64_t)removed);
    }
    return removed;
}
