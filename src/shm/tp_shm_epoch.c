/* Epoch sets: a header ring and its pools created together (see tp_shm_epoch.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/tp_error.h"
#include "common/tp_log.h"
#include "shm/tp_shm_epoch.h"

bool tp_shm_parse_decimal(const char *name, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if ('\0' == name[0] || ('0' == name[0] && '\0' != name[1]))
    {
        return false;
    }
    for (const char *p = name; '\0' != *p; p++)
    {
        if (*p < '0' || *p > '9' || v > (max - (uint64_t)(*p - '0')) / 10)
        {
            return false;
        }
        v = v * 10 + (uint64_t)(*p - '0');
    }
    *out = v;
    return true;
}

void tp_shm_stride_order(const uint32_t *strides, size_t count, size_t *order)
{
    for (size_t i = 0; i < count; i++)
    {
        order[i] = i;
        for (size_t j = i; j > 0 && strides[order[j]] < strides[order[j - 1]]; j--)
        {
            size_t t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    }
}

/* Longest marker content accepted: 19 digits (INT64_MAX) and a newline. */
#define TP_SHM_EPOCH_MARKER_MAX_BYTES 20

/* The marker's epoch (0: none or ignored); `warn` logs why a marker that is present is ignored. */
static uint64_t tp_shm_marker_read(const char *stream_dir, bool warn)
{
    int dirfd = open(stream_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dirfd < 0)
    {
        return 0;
    }
    /* O_NOFOLLOW: a symlink named like the marker is refused, never followed out of the stream directory */
    int fd = openat(dirfd, TP_SHM_EPOCH_MARKER, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    int open_errno = errno;
    close(dirfd);
    if (fd < 0)
    {
        if (warn && ENOENT != open_errno)
        {
            TP_LOG_WARN("shm", "epoch marker %s/%s ignored: cannot open it (%s); epochs follow the directories only",
                stream_dir, TP_SHM_EPOCH_MARKER, strerror(open_errno));
        }
        return 0;
    }
    struct stat st;
    char buf[TP_SHM_EPOCH_MARKER_MAX_BYTES + 1];
    const char *why = NULL;
    ssize_t n = 0;
    if (0 != fstat(fd, &st))
    {
        why = "cannot stat it";
    }
    else if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || 1 != st.st_nlink)
    {
        why = "not a regular file of the effective user with one link";
    }
    else if (st.st_size < 1 || st.st_size > TP_SHM_EPOCH_MARKER_MAX_BYTES)
    {
        why = "wrong size";
    }
    else if ((n = pread(fd, buf, (size_t)st.st_size, 0)) != (ssize_t)st.st_size)
    {
        why = "short read";
    }
    close(fd);
    uint64_t v = 0;
    if (NULL == why)
    {
        size_t digits = (size_t)n - ('\n' == buf[n - 1] ? 1 : 0); /* one trailing newline is allowed */
        buf[digits] = '\0';
        if (NULL != memchr(buf, '\0', digits) || !tp_shm_parse_decimal(buf, (uint64_t)INT64_MAX, &v) || 0 == v)
        {
            why = "not a decimal epoch in 1..2^63-1";
            v = 0;
        }
    }
    if (NULL != why)
    {
        if (warn)
        {
            TP_LOG_WARN("shm", "epoch marker %s/%s ignored: %s; epochs follow the directories only", stream_dir,
                TP_SHM_EPOCH_MARKER, why);
        }
        return 0;
    }
    return v;
}

uint64_t tp_shm_stream_epoch_marker_read(const char *stream_dir)
{
    return tp_shm_marker_read(stream_dir, true);
}

int tp_shm_stream_epoch_marker_write(const char *stream_dir, uint64_t epoch)
{
    if (NULL == stream_dir || 0 == epoch || epoch > (uint64_t)INT64_MAX)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "epoch %llu cannot be recorded in %s/%s (1..2^63-1)",
            (unsigned long long)epoch, NULL == stream_dir ? "(null)" : stream_dir, TP_SHM_EPOCH_MARKER);
    }
    int dirfd = open(stream_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dirfd < 0)
    {
        return tp_err_set_errno(errno, "cannot open stream directory %s to record epoch %llu", stream_dir,
            (unsigned long long)epoch);
    }
    /* Creators of the stream on this host serialise here, so the marker only ever rises (flock is advisory and
     * released by close). Without the lock (e.g. a file system without flock) the epoch directories still keep
     * concurrent creators apart; the marker is only the floor for the next restart. */
    (void)flock(dirfd, LOCK_EX);
    if (tp_shm_marker_read(stream_dir, false) >= epoch)
    {
        close(dirfd);
        return 0;
    }
    char tmp[64];
    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", TP_SHM_EPOCH_MARKER, (long)getpid());
    int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 && EEXIST == errno)
    {
        /* left by a process of ours that died between create and rename (pids are reused) */
        (void)unlinkat(dirfd, tmp, 0);
        fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    }
    if (fd < 0)
    {
        int e = errno;
        close(dirfd);
        return tp_err_set_errno(e, "cannot create %s/%s to record epoch %llu", stream_dir, tmp,
            (unsigned long long)epoch);
    }
    char text[32];
    int len = snprintf(text, sizeof(text), "%llu\n", (unsigned long long)epoch);
    int rc = 0;
    errno = 0;
    if (len != write(fd, text, (size_t)len))
    {
        rc = tp_err_set_errno(0 != errno ? errno : EIO, "cannot write %s/%s", stream_dir, tmp);
    }
    if (0 != close(fd) && 0 == rc)
    {
        rc = tp_err_set_errno(errno, "cannot write %s/%s", stream_dir, tmp);
    }
    if (0 == rc && 0 != renameat(dirfd, tmp, dirfd, TP_SHM_EPOCH_MARKER))
    {
        rc = tp_err_set_errno(errno, "cannot rename %s/%s to %s (remove whatever is in the way)", stream_dir, tmp,
            TP_SHM_EPOCH_MARKER);
    }
    if (0 != rc)
    {
        (void)unlinkat(dirfd, tmp, 0);
    }
    close(dirfd);
    return rc;
}

static uint64_t tp_shm_highest(const char *stream_dir, bool warn)
{
    DIR *d = opendir(stream_dir);
    uint64_t max = 0;
    if (NULL == d)
    {
        return 0;
    }
    struct dirent *e;
    uint64_t v;
    while (NULL != (e = readdir(d)))
    {
        if (tp_shm_parse_decimal(e->d_name, UINT64_MAX, &v) && v > max)
        {
            max = v;
        }
    }
    closedir(d);
    uint64_t marker = tp_shm_marker_read(stream_dir, warn);
    return marker > max ? marker : max;
}

uint64_t tp_shm_stream_highest_epoch(const char *stream_dir)
{
    return tp_shm_highest(stream_dir, true);
}

int tp_shm_stream_dir_path(char *buf, size_t len, const char *base_dir, const char *namespace_name,
    uint32_t stream_id)
{
    if (tp_shm_epoch_dir_path(buf, len, base_dir, NULL, namespace_name, stream_id, 0) < 0)
    {
        return -1;
    }
    char *slash = strrchr(buf, '/');
    if (NULL == slash || slash == buf)
    {
        return tp_err_set(TP_ERR_STATE, "bad epoch directory path %s", buf);
    }
    *slash = '\0';
    return 0;
}

void tp_shm_epoch_set_close(tp_shm_epoch_set_t *set, bool remove)
{
    if (NULL == set)
    {
        return;
    }
    tp_shm_region_close(set->ring);
    set->ring = NULL;
    for (size_t i = 0; i < set->pool_count; i++)
    {
        tp_shm_region_close(set->pools[i]);
        set->pools[i] = NULL;
    }
    if (remove && set->epoch_dir[0])
    {
        tp_shm_epoch_dir_remove(set->epoch_dir);
    }
    set->epoch_dir[0] = '\0';
    set->pool_count = 0;
}

void tp_shm_epoch_set_refresh_activity(tp_shm_epoch_set_t *set, uint64_t now_ns)
{
    tp_shm_region_refresh_activity(set->ring, now_ns);
    for (size_t i = 0; i < set->pool_count; i++)
    {
        tp_shm_region_refresh_activity(set->pools[i], now_ns);
    }
}

int tp_shm_epoch_set_create(tp_shm_epoch_set_t *set, const char *base_dir, const char *namespace_name,
    uint32_t stream_id, uint64_t min_epoch, const tp_shm_epoch_layout_t *layout, const tp_shm_create_options_t *opts,
    bool shared_group)
{
    if (NULL == set || NULL == layout || NULL == opts || 0 == layout->pool_count ||
        layout->pool_count > TP_SHM_EPOCH_MAX_POOLS)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_shm_epoch_set_create: bad arguments (1..%d pools)",
            TP_SHM_EPOCH_MAX_POOLS);
    }
    memset(set, 0, sizeof(*set));
    if (tp_shm_stream_dir_path(set->stream_dir, sizeof(set->stream_dir), base_dir, namespace_name, stream_id) < 0)
    {
        return -1;
    }
    uint64_t epoch = tp_shm_stream_highest_epoch(set->stream_dir) + 1;
    epoch = epoch < min_epoch ? min_epoch : epoch;
    int attempts = 0;
    while (tp_shm_epoch_dir_create(set->epoch_dir, sizeof(set->epoch_dir), base_dir, namespace_name, stream_id, epoch,
               shared_group) < 0 ||
        tp_shm_highest(set->stream_dir, false) > epoch)
    {
        if (++attempts > 8)
        {
            set->epoch_dir[0] = '\0';
            return tp_err_prepend("cannot create an epoch directory under %s", set->stream_dir);
        }
        epoch = tp_shm_highest(set->stream_dir, false) + 1;
        epoch = epoch < min_epoch ? min_epoch : epoch;
    }
    /* A directory created concurrently by another creator makes region creation (O_EXCL) fail below. */
    set->epoch = epoch;
    /* Recorded before any region exists: a restart after a clean close (which removes the directory) or after a
     * GC of this epoch still starts above it (wire §15.2, DECISIONS EF-1). */
    if (tp_shm_stream_epoch_marker_write(set->stream_dir, epoch) < 0)
    {
        tp_err_prepend("stream %u epoch %llu", stream_id, (unsigned long long)epoch);
        tp_shm_epoch_set_close(set, true);
        return -1;
    }
    set->header_nslots = layout->header_nslots;

    tp_shm_region_params_t params = { .region_type = TP_SHM_REGION_HEADER_RING, .layout_version = TP_SHM_LAYOUT_VERSION,
        .epoch = epoch, .stream_id = stream_id, .pool_id = 0, .nslots = layout->header_nslots, .stride_bytes = 0 };
    char file[PATH_MAX];
    if (tp_shm_header_ring_path(file, sizeof(file), set->epoch_dir) < 0 ||
        tp_shm_region_create(&set->ring, file, &params, opts) < 0 ||
        tp_shm_uri_format(file, opts->require_hugepages, set->header_uri, sizeof(set->header_uri)) < 0)
    {
        tp_err_prepend("header ring of stream %u epoch %llu", stream_id, (unsigned long long)epoch);
        tp_shm_epoch_set_close(set, true);
        return -1;
    }
    /* pools in ascending stride order: the first that fits a payload is the smallest */
    size_t order[TP_SHM_EPOCH_MAX_POOLS];
    tp_shm_stride_order(layout->strides, layout->pool_count, order);
    for (size_t k = 0; k < layout->pool_count; k++)
    {
        size_t src = order[k];
        params.region_type = TP_SHM_REGION_PAYLOAD_POOL;
        params.pool_id = layout->pool_ids[src];
        params.stride_bytes = layout->strides[src];
        if (tp_shm_pool_path(file, sizeof(file), set->epoch_dir, params.pool_id) < 0 ||
            tp_shm_region_create(&set->pools[k], file, &params, opts) < 0 ||
            tp_shm_uri_format(file, opts->require_hugepages, set->pool_uris[k], sizeof(set->pool_uris[k])) < 0)
        {
            tp_err_prepend("pool %u of stream %u epoch %llu", params.pool_id, stream_id, (unsigned long long)epoch);
            set->pool_count = NULL != set->pools[k] ? k + 1 : k;
            tp_shm_epoch_set_close(set, true);
            return -1;
        }
        set->strides[k] = params.stride_bytes;
        set->pool_ids[k] = params.pool_id;
        set->pool_count = k + 1;
    }
    return 0;
}
