/*
 * Reclaiming the epoch directories of dead producers (wire §15.21a.7,
 * issue 10 item 2): a forked child creates an epoch and is SIGKILLed; its
 * epoch is found (dry run) and removed (apply), while live epochs, fresh
 * timestamps, foreign files, symlinks and other users' trees are left alone.
 */
#include "tp_test.h"

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>

#include "common/tp_clock.h"
#include "shm_test_util.h"
#include "tensor_pool/tp_shm.h"

static char g_dir[1024];

typedef struct collected_stct
{
    int count;
    tp_shm_gc_entry_t entries[16];
} collected_t;

static void collect(void *clientd, const tp_shm_gc_entry_t *entry)
{
    collected_t *c = clientd;
    if (c->count < 16)
    {
        c->entries[c->count++] = *entry;
    }
}

static const tp_shm_gc_entry_t *find(const collected_t *c, uint32_t stream_id, uint64_t epoch)
{
    for (int i = 0; i < c->count; i++)
    {
        if (c->entries[i].stream_id == stream_id && c->entries[i].epoch == epoch)
        {
            return &c->entries[i];
        }
    }
    return NULL;
}

static bool exists(const char *path)
{
    struct stat st;
    return 0 == lstat(path, &st);
}

/* Create the epoch directory and a ring + one pool in it; pid 0 = this process. */
static int make_epoch(const char *base, const char *ns, uint32_t stream_id, uint64_t epoch, uint64_t pid,
    uint64_t activity_ns, char *dir_out, size_t len)
{
    if (tp_shm_epoch_dir_create(dir_out, len, base, ns, stream_id, epoch, false) < 0)
    {
        return -1;
    }
    char path[1400];
    tp_shm_create_options_t o;
    tp_shm_create_options_defaults(&o);
    o.pid = pid;
    o.start_timestamp_ns = activity_ns;
    tp_shm_region_params_t rp = { TP_SHM_REGION_HEADER_RING, TP_SHM_LAYOUT_VERSION, epoch, stream_id, 0, 4, 0 };
    tp_shm_region_params_t pp = { TP_SHM_REGION_PAYLOAD_POOL, TP_SHM_LAYOUT_VERSION, epoch, stream_id, 1, 4, 1024 };
    tp_shm_region_t *r = NULL;
    tp_shm_header_ring_path(path, sizeof(path), dir_out);
    if (tp_shm_region_create(&r, path, &rp, &o) < 0)
    {
        return -1;
    }
    tp_shm_region_close(r);
    tp_shm_pool_path(path, sizeof(path), dir_out, 1);
    if (tp_shm_region_create(&r, path, &pp, &o) < 0)
    {
        return -1;
    }
    tp_shm_region_close(r);
    return 0;
}

/* A pid that certainly ran and is now gone: fork a child that exits at once and reap it. */
static pid_t dead_pid(void)
{
    pid_t pid = fork();
    if (0 == pid)
    {
        _exit(0);
    }
    waitpid(pid, NULL, 0);
    return pid;
}

/*
 * A child creates an epoch the way a producer does, refreshes its activity,
 * and is SIGKILLed: a dry run lists its epoch as dead and removes nothing; an
 * applied run removes it and nothing else; the parent's live epoch stays.
 */
static void test_shm_gc_reclaims_sigkilled_producer(void)
{
    char base[1100];
    snprintf(base, sizeof(base), "%s/killed", g_dir);
    TP_ASSERT_OK(mkdir(base, 0700));
    int fds[2];
    TP_ASSERT_OK(pipe(fds));
    pid_t child = fork();
    TP_ASSERT(child >= 0);
    if (0 == child)
    {
        close(fds[0]);
        char dir[1024];
        char ok = 0 == make_epoch(base, "cam", 7, 1, 0, 0, dir, sizeof(dir)) ? 'y' : 'n';
        if (1 != write(fds[1], &ok, 1))
        {
            _exit(1);
        }
        for (;;)
        {
            pause();
        }
    }
    close(fds[1]);
    char ok = 0;
    ssize_t n = read(fds[0], &ok, 1);
    close(fds[0]);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    TP_ASSERT(1 == n && 'y' == ok);

    char live_dir[1024];
    TP_ASSERT_OK(make_epoch(base, "cam", 7, 2, 0, 0, live_dir, sizeof(live_dir)));
    char dead_dir[1024];
    TP_ASSERT_OK(tp_shm_epoch_dir_path(dead_dir, sizeof(dead_dir), base, NULL, "cam", 7, 1));
    TP_ASSERT(exists(dead_dir));

    /* Dry run (the default), with the staleness window off: the killed child's epoch is listed, nothing removed. */
    collected_t c;
    memset(&c, 0, sizeof(c));
    tp_shm_gc_options_t o;
    tp_shm_gc_options_defaults(&o);
    TP_ASSERT(!o.apply);
    o.min_stale_ns = 0;
    o.on_entry = collect;
    o.clientd = &c;
    TP_ASSERT_EQ_I64(1, tp_shm_gc(base, &o));
    TP_ASSERT_EQ_I64(2, c.count);
    const tp_shm_gc_entry_t *dead = find(&c, 7, 1);
    const tp_shm_gc_entry_t *live = find(&c, 7, 2);
    TP_ASSERT(NULL != dead && NULL != live);
    TP_ASSERT_EQ_U64(TP_SHM_GC_DEAD, dead->verdict);
    TP_ASSERT_EQ_U64((uint64_t)child, dead->pid);
    TP_ASSERT(!dead->removed);
    TP_ASSERT_STREQ(dead_dir, dead->path);
    TP_ASSERT_STREQ("cam", dead->namespace_name);
    TP_ASSERT(dead->bytes == (64 + 4 * 256) + (64 + 4 * 1024));
    TP_ASSERT_MSG(NULL != strstr(dead->reason, "not running"), "reason: %s", dead->reason);
    TP_ASSERT_EQ_U64(TP_SHM_GC_LIVE, live->verdict);
    TP_ASSERT_EQ_U64((uint64_t)getpid(), live->pid);
    TP_ASSERT(exists(dead_dir));

    /* With the default staleness window (10 s) the just-killed producer's fresh timestamp keeps it. */
    memset(&c, 0, sizeof(c));
    o.min_stale_ns = TP_SHM_GC_DEFAULT_MIN_STALE_NS;
    TP_ASSERT_EQ_I64(0, tp_shm_gc(base, &o));
    TP_ASSERT(NULL != find(&c, 7, 1) && TP_SHM_GC_LIVE == find(&c, 7, 1)->verdict);
    TP_ASSERT_MSG(NULL != strstr(find(&c, 7, 1)->reason, "only"), "reason: %s", find(&c, 7, 1)->reason);

    /* Apply. */
    memset(&c, 0, sizeof(c));
    o.min_stale_ns = 0;
    o.apply = true;
    TP_ASSERT_EQ_I64(1, tp_shm_gc(base, &o));
    TP_ASSERT(NULL != find(&c, 7, 1) && find(&c, 7, 1)->removed);
    TP_ASSERT(!exists(dead_dir));
    TP_ASSERT(exists(live_dir));
    char ring[1400];
    tp_shm_header_ring_path(ring, sizeof(ring), live_dir);
    TP_ASSERT(exists(ring));
    /* Idempotent: nothing left to do. */
    TP_ASSERT_EQ_I64(0, tp_shm_gc(base, &o));
    TP_ASSERT_OK(tp_shm_epoch_dir_remove(live_dir));
}

/* An old realtime activity timestamp of a dead pid is stale; the namespace filter restricts the scan. */
static void test_shm_gc_staleness_and_namespace_filter(void)
{
    char base[1100];
    snprintf(base, sizeof(base), "%s/stale", g_dir);
    TP_ASSERT_OK(mkdir(base, 0700));
    char a[1024], b[1024];
    pid_t gone = dead_pid();
    uint64_t long_ago = UINT64_C(1767225600000000000); /* 2026-01-01, realtime */
    TP_ASSERT_OK(make_epoch(base, "nsa", 1, 5, (uint64_t)gone, long_ago, a, sizeof(a)));
    TP_ASSERT_OK(make_epoch(base, "nsb", 1, 5, (uint64_t)gone, long_ago, b, sizeof(b)));
    TP_ASSERT(tp_shm_activity_age_ns(long_ago) > UINT64_C(10000000000));
    TP_ASSERT(tp_shm_activity_age_ns(tp_clock_mono_ns()) < UINT64_C(1000000000));
    TP_ASSERT_EQ_U64(UINT64_MAX, tp_shm_activity_age_ns(0));
    char c2[1024];
    TP_ASSERT_OK(make_epoch(base, "nsa", 2, 5, (uint64_t)gone, long_ago, c2, sizeof(c2)));
    tp_shm_gc_options_t o;
    tp_shm_gc_options_defaults(&o); /* default staleness: 10 s; these are months old */
    o.namespace_name = "nsa";
    o.apply = true;
    /* A producer reclaiming its own stream only. */
    o.only_stream = true;
    o.stream_id = 2;
    TP_ASSERT_EQ_I64(1, tp_shm_gc(base, &o));
    TP_ASSERT(!exists(c2));
    TP_ASSERT(exists(a) && exists(b));
    o.only_stream = false;
    TP_ASSERT_EQ_I64(1, tp_shm_gc(base, &o));
    TP_ASSERT(!exists(a));
    TP_ASSERT(exists(b));
    o.namespace_name = NULL;
    TP_ASSERT_EQ_I64(1, tp_shm_gc(base, &o));
    TP_ASSERT(!exists(b));
}

/*
 * Nothing outside the layout is touched: a symlinked epoch directory pointing
 * outside the base, a symlink named header.ring, foreign files in a dead
 * epoch, a superblock that belongs to another epoch, an epoch without
 * superblocks, another user's tree, non-numeric names.
 */
static void test_shm_gc_never_follows_or_removes_foreign_things(void)
{
    char base[1100], outside[1100];
    snprintf(base, sizeof(base), "%s/safety", g_dir);
    snprintf(outside, sizeof(outside), "%s/outside", g_dir);
    TP_ASSERT_OK(mkdir(base, 0700));
    TP_ASSERT_OK(mkdir(outside, 0700));
    pid_t gone = dead_pid();
    uint64_t long_ago = UINT64_C(1767225600000000000);

    /* A real dead epoch outside the base, reachable through a symlink named like an epoch. */
    char outside_epoch[1024];
    TP_ASSERT_OK(make_epoch(outside, "ns", 3, 1, (uint64_t)gone, long_ago, outside_epoch, sizeof(outside_epoch)));
    char user[TP_SHM_NAME_MAX + 1];
    TP_ASSERT_OK(tp_shm_user_name(user, sizeof(user)));
    char stream_dir[1400], link[1500];
    snprintf(stream_dir, sizeof(stream_dir), "%s/tensorpool-%s/ns/3", base, user);
    char tmp[1024];
    TP_ASSERT_OK(make_epoch(base, "ns", 3, 2, (uint64_t)gone, long_ago, tmp, sizeof(tmp))); /* creates stream_dir */
    snprintf(link, sizeof(link), "%s/1", stream_dir);
    TP_ASSERT_OK(symlink(outside_epoch, link));

    /* Epoch 2 (dead) gets a foreign file: its region files go, the directory and the file stay. */
    char foreign[1400];
    snprintf(foreign, sizeof(foreign), "%s/notes.txt", tmp);
    TP_ASSERT_OK(tp_test_write_file(foreign, "keep", 4));

    /* Epoch 3 (dead): its header.ring is a symlink to an outside file named like a region. */
    char e3[1024], e3ring[1400], victim[1200];
    TP_ASSERT_OK(make_epoch(base, "ns", 3, 3, (uint64_t)gone, long_ago, e3, sizeof(e3)));
    tp_shm_header_ring_path(e3ring, sizeof(e3ring), e3);
    TP_ASSERT_OK(unlink(e3ring));
    snprintf(victim, sizeof(victim), "%s/header.ring", outside);
    TP_ASSERT_OK(tp_test_write_file(victim, "victim", 6));
    TP_ASSERT_OK(symlink(victim, e3ring));

    /* Epoch 4: its files claim epoch 9 (copied from elsewhere): not attributable, kept. */
    char e9[1024], e4[1400];
    TP_ASSERT_OK(make_epoch(base, "ns", 3, 9, (uint64_t)gone, long_ago, e9, sizeof(e9)));
    snprintf(e4, sizeof(e4), "%s/4", stream_dir);
    TP_ASSERT_OK(rename(e9, e4));

    /* Epoch 5: empty (no superblock to attribute it). Epoch "x6" and stream "abc": not part of the layout. */
    char e5[1400], ex[1400], sx[1400];
    snprintf(e5, sizeof(e5), "%s/5", stream_dir);
    snprintf(ex, sizeof(ex), "%s/x6", stream_dir);
    snprintf(sx, sizeof(sx), "%s/tensorpool-%s/ns/abc", base, user);
    TP_ASSERT_OK(mkdir(e5, 0700));
    TP_ASSERT_OK(mkdir(ex, 0700));
    TP_ASSERT_OK(mkdir(sx, 0700));

    /* Another user's tree with a dead epoch: not scanned unless asked for. */
    char other[1400], other_epoch[1500];
    snprintf(other, sizeof(other), "%s/tensorpool-someoneelse/ns/3/1", base);
    snprintf(other_epoch, sizeof(other_epoch), "%s/tensorpool-someoneelse", base);
    TP_ASSERT_OK(mkdir(other_epoch, 0700));
    snprintf(other_epoch, sizeof(other_epoch), "%s/tensorpool-someoneelse/ns", base);
    TP_ASSERT_OK(mkdir(other_epoch, 0700));
    snprintf(other_epoch, sizeof(other_epoch), "%s/tensorpool-someoneelse/ns/3", base);
    TP_ASSERT_OK(mkdir(other_epoch, 0700));
    TP_ASSERT_OK(mkdir(other, 0700));

    collected_t c;
    memset(&c, 0, sizeof(c));
    tp_shm_gc_options_t o;
    tp_shm_gc_options_defaults(&o);
    o.apply = true;
    o.on_entry = collect;
    o.clientd = &c;
    int rc = tp_shm_gc(base, &o);
    TP_ASSERT_MSG(rc >= 0, "gc failed");

    /* The symlink was not followed: the outside epoch is intact, and so is the link itself. */
    char outside_ring[1400];
    tp_shm_header_ring_path(outside_ring, sizeof(outside_ring), outside_epoch);
    TP_ASSERT(exists(outside_ring));
    TP_ASSERT(exists(link));
    TP_ASSERT(NULL == find(&c, 3, 1));
    /* Epoch 2: dead, region files removed, directory kept for the foreign file. */
    const tp_shm_gc_entry_t *e = find(&c, 3, 2);
    TP_ASSERT(NULL != e && TP_SHM_GC_DEAD == e->verdict && !e->removed);
    TP_ASSERT_MSG(NULL != strstr(e->reason, "other than"), "reason: %s", e->reason);
    TP_ASSERT(exists(foreign));
    /* Epoch 3: the symlinked ring was neither read nor removed; its target is intact. */
    TP_ASSERT(exists(victim));
    TP_ASSERT(exists(e3ring));
    e = find(&c, 3, 3);
    TP_ASSERT(NULL != e && TP_SHM_GC_DEAD == e->verdict && !e->removed); /* attributed through its pool */
    /* Epoch 4: superblock of another epoch: skipped, intact. */
    e = find(&c, 3, 4);
    TP_ASSERT(NULL != e && TP_SHM_GC_SKIPPED == e->verdict);
    TP_ASSERT_MSG(NULL != strstr(e->reason, "does not belong"), "reason: %s", e->reason);
    TP_ASSERT(exists(e4));
    /* Epoch 5: no superblock: skipped. */
    e = find(&c, 3, 5);
    TP_ASSERT(NULL != e && TP_SHM_GC_SKIPPED == e->verdict);
    TP_ASSERT(exists(e5) && exists(ex) && exists(sx));
    /* The other user's tree was not scanned. */
    TP_ASSERT(exists(other));
    TP_ASSERT_EQ_I64(4, c.count);

    /* Asking for that user explicitly scans it (its epoch has no superblock: skipped, kept). */
    memset(&c, 0, sizeof(c));
    o.user = "someoneelse";
    TP_ASSERT_EQ_I64(0, tp_shm_gc(base, &o));
    TP_ASSERT_EQ_I64(1, c.count);
    TP_ASSERT(exists(other));

    /* Arguments. */
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_shm_gc("relative/dir", NULL));
    o.user = "../x";
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_shm_gc(base, &o));
    char missing[1200];
    snprintf(missing, sizeof(missing), "%s/nope", g_dir);
    TP_ASSERT_EQ_I64(-1, tp_shm_gc(missing, NULL));
    TP_ASSERT(NULL != strstr(tp_errmsg(), missing));
    char empty_base[1200];
    snprintf(empty_base, sizeof(empty_base), "%s/empty", g_dir);
    TP_ASSERT_OK(mkdir(empty_base, 0700));
    TP_ASSERT_EQ_I64(0, tp_shm_gc(empty_base, NULL));
}

int main(void)
{
    if (0 != tp_test_mkdtemp(g_dir, sizeof(g_dir), "gc"))
    {
        perror("mkdtemp");
        return 1;
    }
    TP_RUN(test_shm_gc_reclaims_sigkilled_producer);
    TP_RUN(test_shm_gc_staleness_and_namespace_filter);
    TP_RUN(test_shm_gc_never_follows_or_removes_foreign_things);
    tp_test_rmtree(g_dir);
    return tp_test_finish();
}
