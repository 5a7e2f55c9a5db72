/* Reclaiming the epoch directories of dead producers (wire §15.21a.7). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "common/tp_clock.h"
#include "common/tp_error.h"
#include "shm/tp_shm_epoch.h"
#include "shm/tp_shm_internal.h"
#include "tensor_pool/tp_shm.h"

#define TP_SHM_GC_REALTIME_FLOOR_NS UINT64_C(1000000000000000000)

void tp_shm_gc_options_defaults(tp_shm_gc_options_t *opts)
{
    if (NULL != opts)
    {
        memset(opts, 0, sizeof(*opts));
        opts->min_stale_ns = TP_SHM_GC_DEFAULT_MIN_STALE_NS;
    }
}

uint64_t tp_shm_activity_age_ns(uint64_t activity_timestamp_ns)
{
    if (0 == activity_timestamp_ns)
    {
        return UINT64_MAX;
    }
    uint64_t now = activity_timestamp_ns >= TP_SHM_GC_REALTIME_FLOOR_NS ? tp_clock_realtime_ns() : tp_clock_mono_ns();
    return now > activity_timestamp_ns ? now - activity_timestamp_ns : 0;
}

/* Open the directory `name` below `dirfd`, refusing symlinks and anything that is not a directory. */
static int tp_shm_gc_open_dir(int dirfd, const char *name)
{
    return openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

static bool tp_shm_gc_is_pool_name(const char *name)
{
    uint64_t id;
    size_t n = strlen(name);
    char digits[16];
    if (n < 6 || n > 10 || 0 != strcmp(name + n - 5, ".pool"))
    {
        return false;
    }
    memcpy(digits, name, n - 5);
    digits[n - 5] = '\0';
    return tp_shm_parse_decimal(digits, UINT16_MAX, &id);
}

/* Read the superblock of the regular file `name` in `dirfd` (no symlinks). 0 if it was read, -1 otherwise. */
static int tp_shm_gc_read_superblock(int dirfd, const char *name, tp_shm_superblock_t *sb, uint64_t *size)
{
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
    {
        return -1;
    }
    struct stat st;
    uint8_t block[TP_SHM_SUPERBLOCK_SIZE];
    int rc = -1;
    if (0 == fstat(fd, &st) && S_ISREG(st.st_mode) && st.st_size >= (off_t)TP_SHM_SUPERBLOCK_SIZE &&
        (ssize_t)sizeof(block) == pread(fd, block, sizeof(block), 0) &&
        0 == tp_shm_superblock_decode(block, sizeof(block), sb))
    {
        *size = (uint64_t)st.st_size;
        rc = 0;
    }
    close(fd);
    return rc;
}

/* Examine one epoch directory (open as `epochfd`): fills e->pid, timestamps, bytes, verdict and reason. */
static void tp_shm_gc_examine(int epochfd, const tp_shm_gc_options_t *opts, tp_shm_gc_entry_t *e)
{
    int dupfd = dup(epochfd);
    DIR *dir = dupfd < 0 ? NULL : fdopendir(dupfd);
    if (NULL == dir)
    {
        if (dupfd >= 0)
        {
            close(dupfd);
        }
        e->verdict = TP_SHM_GC_SKIPPED;
        snprintf(e->reason, sizeof(e->reason), "cannot read the directory: %s", strerror(errno));
        return;
    }
    char owner[16] = "";
    bool have_sb = false;
    tp_shm_superblock_t sb;
    memset(&sb, 0, sizeof(sb));
    rewinddir(dir); /* a dup shares the directory offset with earlier reads of the same descriptor */
    struct dirent *ent;
    while (NULL != (ent = readdir(dir)))
    {
        bool ring = 0 == strcmp(ent->d_name, "header.ring");
        if (!ring && !tp_shm_gc_is_pool_name(ent->d_name))
        {
            continue;
        }
        tp_shm_superblock_t cur;
        uint64_t size = 0;
        if (0 != tp_shm_gc_read_superblock(epochfd, ent->d_name, &cur, &size))
        {
            continue;
        }
        e->bytes += size;
        /* The header ring's superblock decides; a pool's only when there is no ring. */
        if (ring || !have_sb)
        {
            sb = cur;
            have_sb = true;
            snprintf(owner, sizeof(owner), "%.15s", ent->d_name);
        }
    }
    closedir(dir);
    if (!have_sb)
    {
        e->verdict = TP_SHM_GC_SKIPPED;
        snprintf(e->reason, sizeof(e->reason), "no readable header.ring or <n>.pool superblock: cannot tell its owner");
        return;
    }
    e->pid = sb.pid;
    e->activity_timestamp_ns = sb.activity_timestamp_ns;
    e->activity_age_ns = tp_shm_activity_age_ns(sb.activity_timestamp_ns);
    if (TP_SHM_MAGIC != sb.magic || sb.stream_id != e->stream_id || sb.epoch != e->epoch)
    {
        e->verdict = TP_SHM_GC_SKIPPED;
        snprintf(e->reason, sizeof(e->reason),
            "%s superblock does not belong here (magic %s, stream %" PRIu32 ", epoch %" PRIu64 ")", owner,
            TP_SHM_MAGIC == sb.magic ? "ok" : "bad", sb.stream_id, sb.epoch);
        return;
    }
    if (0 == sb.pid || sb.pid > (uint64_t)INT32_MAX)
    {
        e->verdict = TP_SHM_GC_SKIPPED;
        snprintf(e->reason, sizeof(e->reason), "%s records no usable pid (%" PRIu64 ")", owner, sb.pid);
        return;
    }
    if (0 == kill((pid_t)sb.pid, 0) || ESRCH != errno)
    {
        e->verdict = TP_SHM_GC_LIVE;
        snprintf(e->reason, sizeof(e->reason), "pid %" PRIu64 " is running", sb.pid);
        return;
    }
    if (UINT64_MAX != e->activity_age_ns && e->activity_age_ns < opts->min_stale_ns)
    {
        e->verdict = TP_SHM_GC_LIVE;
        snprintf(e->reason, sizeof(e->reason),
            "pid %" PRIu64 " is not running but the activity timestamp is only %.1f s old (< %.1f s)", sb.pid,
            (double)e->activity_age_ns / 1e9, (double)opts->min_stale_ns / 1e9);
        return;
    }
    e->verdict = TP_SHM_GC_DEAD;
    snprintf(e->reason, sizeof(e->reason), "pid %" PRIu64 " is not running", sb.pid);
}

/* Remove the region files of an epoch directory, then the directory (relative to `streamfd`). */
static int tp_shm_gc_remove(int streamfd, int epochfd, const char *epoch_name, tp_shm_gc_entry_t *e)
{
    int dupfd = dup(epochfd);
    DIR *dir = dupfd < 0 ? NULL : fdopendir(dupfd);
    if (NULL == dir)
    {
        if (dupfd >= 0)
        {
            close(dupfd);
        }
        return tp_err_set_errno(errno, "cannot read %s", e->path);
    }
    int rc = 0;
    rewinddir(dir); /* a dup shares the directory offset with earlier reads of the same descriptor */
    struct dirent *ent;
    while (NULL != (ent = readdir(dir)))
    {
        if (0 != strcmp(ent->d_name, "header.ring") && !tp_shm_gc_is_pool_name(ent->d_name))
        {
            continue;
        }
        struct stat st;
        /* Regular files only: a symlink or anything else named like a region is left alone. */
        if (0 != fstatat(epochfd, ent->d_name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode))
        {
            continue;
        }
        if (0 != unlinkat(epochfd, ent->d_name, 0) && ENOENT != errno)
        {
            rc = tp_err_set_errno(errno, "cannot unlink %s/%s", e->path, ent->d_name);
        }
    }
    closedir(dir);
    if (0 == rc && 0 != unlinkat(streamfd, epoch_name, AT_REMOVEDIR))
    {
        rc = ENOTEMPTY == errno || EEXIST == errno
            ? tp_err_set(TP_ERR_STATE, "%s holds files other than header.ring and <n>.pool: left in place", e->path)
            : tp_err_set_errno(errno, "cannot remove %s", e->path);
    }
    return rc;
}

typedef struct tp_shm_gc_walk_stct
{
    const tp_shm_gc_options_t *opts;
    int dead;
} tp_shm_gc_walk_t;

/* Iterate over the sub-directories of `dirfd` (not following symlinks), calling fn(name, childfd). */
typedef void (*tp_shm_gc_dir_fn_t)(tp_shm_gc_walk_t *w, int parentfd, int childfd, const char *name,
    const char *path, void *arg);

static void tp_shm_gc_each_dir(tp_shm_gc_walk_t *w, int dirfd, const char *path, tp_shm_gc_dir_fn_t fn, void *arg)
{
    int dupfd = dup(dirfd);
    DIR *dir = dupfd < 0 ? NULL : fdopendir(dupfd);
    if (NULL == dir)
    {
        if (dupfd >= 0)
        {
            close(dupfd);
        }
        return;
    }
    rewinddir(dir); /* a dup shares the directory offset with earlier reads of the same descriptor */
    struct dirent *ent;
    while (NULL != (ent = readdir(dir)))
    {
        if ('.' == ent->d_name[0])
        {
            continue; /* ".", ".." and hidden entries are never part of the layout */
        }
        int child = tp_shm_gc_open_dir(dirfd, ent->d_name);
        if (child < 0)
        {
            continue; /* a file, a symlink (O_NOFOLLOW) or unreadable: not ours to walk */
        }
        char child_path[TP_SHM_PATH_MAX + 1];
        int n = snprintf(child_path, sizeof(child_path), "%s/%s", path, ent->d_name);
        if (n > 0 && (size_t)n < sizeof(child_path))
        {
            fn(w, dirfd, child, ent->d_name, child_path, arg);
        }
        close(child);
    }
    closedir(dir);
}

static void tp_shm_gc_on_epoch(tp_shm_gc_walk_t *w, int streamfd, int epochfd, const char *name, const char *path,
    void *arg)
{
    const tp_shm_gc_entry_t *parent = arg;
    uint64_t epoch;
    if (!tp_shm_parse_decimal(name, UINT64_MAX, &epoch))
    {
        return;
    }
    tp_shm_gc_entry_t e;
    memset(&e, 0, sizeof(e));
    snprintf(e.path, sizeof(e.path), "%s", path);
    memcpy(e.namespace_name, parent->namespace_name, sizeof(e.namespace_name));
    e.stream_id = parent->stream_id;
    e.epoch = epoch;
    e.activity_age_ns = UINT64_MAX;
    tp_shm_gc_examine(epochfd, w->opts, &e);
    if (TP_SHM_GC_DEAD == e.verdict)
    {
        w->dead++;
        if (w->opts->apply)
        {
            if (0 == tp_shm_gc_remove(streamfd, epochfd, name, &e))
            {
                e.removed = true;
            }
            else
            {
                w->dead--;
                size_t used = strlen(e.reason);
                snprintf(e.reason + used, sizeof(e.reason) - used, "; not removed: %s", tp_errmsg());
            }
        }
    }
    if (NULL != w->opts->on_entry)
    {
        w->opts->on_entry(w->opts->clientd, &e);
    }
}

static void tp_shm_gc_on_stream(tp_shm_gc_walk_t *w, int nsfd, int streamfd, const char *name, const char *path,
    void *arg)
{
    (void)nsfd;
    const tp_shm_gc_entry_t *parent = arg;
    uint64_t stream_id;
    if (!tp_shm_parse_decimal(name, UINT32_MAX, &stream_id) ||
        (w->opts->only_stream && stream_id != w->opts->stream_id))
    {
        return;
    }
    tp_shm_gc_entry_t e;
    memset(&e, 0, sizeof(e));
    memcpy(e.namespace_name, parent->namespace_name, sizeof(e.namespace_name));
    e.stream_id = (uint32_t)stream_id;
    tp_shm_gc_each_dir(w, streamfd, path, tp_shm_gc_on_epoch, &e);
}

static void tp_shm_gc_on_namespace(tp_shm_gc_walk_t *w, int userfd, int nsfd, const char *name, const char *path,
    void *arg)
{
    (void)userfd;
    (void)arg;
    if (0 != tp_shm_name_validate("namespace", name) ||
        (NULL != w->opts->namespace_name && 0 != strcmp(name, w->opts->namespace_name)))
    {
        tp_err_clear();
        return;
    }
    tp_shm_gc_entry_t e;
    memset(&e, 0, sizeof(e));
    snprintf(e.namespace_name, sizeof(e.namespace_name), "%s", name);
    tp_shm_gc_each_dir(w, nsfd, path, tp_shm_gc_on_stream, &e);
}

int tp_shm_gc(const char *base_dir, const tp_shm_gc_options_t *opts_in)
{
    tp_shm_gc_options_t opts;
    if (NULL == opts_in)
    {
        tp_shm_gc_options_defaults(&opts);
    }
    else
    {
        opts = *opts_in;
    }
    if (NULL == base_dir || '/' != base_dir[0] || strlen(base_dir) > TP_SHM_PATH_MAX - 200)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "shm base dir '%.256s' must be an absolute path",
            NULL == base_dir ? "(null)" : base_dir);
    }
    char user[TP_SHM_NAME_MAX + 1];
    if (NULL == opts.user)
    {
        if (tp_shm_user_name(user, sizeof(user)) < 0)
        {
            return -1;
        }
    }
    else
    {
        if (tp_shm_name_validate("user name", opts.user) < 0)
        {
            return -1;
        }
        snprintf(user, sizeof(user), "%s", opts.user);
    }
    if (NULL != opts.namespace_name && tp_shm_name_validate("namespace", opts.namespace_name) < 0)
    {
        return -1;
    }
    int basefd = open(base_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (basefd < 0)
    {
        return tp_err_set_errno(errno, "cannot open shm base dir %s", base_dir);
    }
    char user_dir[TP_SHM_NAME_MAX + 16];
    snprintf(user_dir, sizeof(user_dir), "tensorpool-%s", user);
    int userfd = tp_shm_gc_open_dir(basefd, user_dir);
    if (userfd < 0)
    {
        int e = errno;
        close(basefd);
        if (ENOENT == e)
        {
            return 0; /* nothing was ever created here */
        }
        return tp_err_set_errno(e, "cannot open %s/%s (a symlink or not a directory is refused)", base_dir, user_dir);
    }
    close(basefd);
    char path[TP_SHM_PATH_MAX + 1];
    size_t blen = strlen(base_dir);
    while (blen > 1 && '/' == base_dir[blen - 1])
    {
        blen--;
    }
    snprintf(path, sizeof(path), "%.*s%s%s", (int)blen, base_dir, 1 == blen ? "" : "/", user_dir);
    tp_shm_gc_walk_t w = { &opts, 0 };
    tp_shm_gc_each_dir(&w, userfd, path, tp_shm_gc_on_namespace, NULL);
    close(userfd);
    return w.dead;
}
