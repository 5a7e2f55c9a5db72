/*
 * Embedded media driver start-up across processes
 * ($TP_AERON_EMBEDDED_DRIVER=1):
 *
 * - concurrent_start: N processes released at the same instant all init an
 *   aeron transport on one fresh Aeron directory; every one must connect (one
 *   starts the driver under the directory's start-up lock, the others attach
 *   to it), and all must share that one driver: each publishes its pid on one
 *   IPC stream until it has heard every other process.
 * - owner_exit: the process owning the embedded driver exits while another
 *   still uses it; the other's transport reports the loss (do_work < 0) within
 *   its client timeout and closes without hanging (the documented rule).
 *
 * Children are forked from this process before it creates any transport, and
 * only our own children are signalled; the private directory is removed.
 */
#include <errno.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "common/tp_clock.h"
#include "common/tp_error.h"
#include "tp_test.h"
#include "transport/aeron/tp_aeron_driver.h"
#include "transport/aeron/tp_aeron_test_dir.h"
#include "transport/tp_transport.h"

#define TP_STARTUP_PROCS 8
#define TP_STARTUP_STREAM 4242

static char g_dir[PATH_MAX];

/** State of one child's subscription: distinct publisher pids heard so far. */
typedef struct
{
    int32_t pids[TP_STARTUP_PROCS];
    int count;
} tp_startup_heard_t;

/** Fragment handler: records the publishing pid carried by the message. */
static void tp_startup_on_message(void *clientd, const uint8_t *buffer, size_t length, const tp_header_t *header)
{
    tp_startup_heard_t *heard = clientd;
    (void)header;
    int32_t pid;
    if (length != sizeof(pid))
    {
        return;
    }
    memcpy(&pid, buffer, sizeof(pid));
    for (int i = 0; i < heard->count; i++)
    {
        if (heard->pids[i] == pid)
        {
            return;
        }
    }
    if (heard->count < TP_STARTUP_PROCS)
    {
        heard->pids[heard->count++] = pid;
    }
}

/** Init an aeron transport with an embedded driver on g_dir. Returns 0 or -1. */
static int tp_startup_transport(tp_transport_t **t, uint64_t client_timeout_ns)
{
    tp_transport_context_t ctx;
    tp_transport_context_init(&ctx);
    if (tp_transport_context_set_backend(&ctx, "aeron") < 0 || tp_transport_context_set_dir(&ctx, g_dir) < 0)
    {
        return -1;
    }
    ctx.client_timeout_ns = client_timeout_ns;
    return tp_transport_init(t, &ctx);
}

/**
 * Child of concurrent_start: wait for the start signal (`go` closed), connect,
 * publish the pid until every process was heard, report one byte on `done`,
 * then keep serving until `stop` is closed. Exit code 0 on success.
 */
static int tp_startup_child(int go, int done, int stop)
{
    char c;
    if (read(go, &c, 1) < 0)
    {
        return 10;
    }
    tp_transport_t *t = NULL;
    if (tp_startup_transport(&t, UINT64_C(10000000000)) < 0)
    {
        fprintf(stderr, "child %d: transport init: %s\n", (int)getpid(), tp_errmsg());
        return 11;
    }
    tp_publication_t *pub = NULL;
    tp_subscription_t *sub = NULL;
    if (tp_transport_add_publication(&pub, t, "aeron:ipc?term-length=65536", TP_STARTUP_STREAM, 0) < 0 ||
        tp_transport_add_subscription(&sub, t, "aeron:ipc?term-length=65536", TP_STARTUP_STREAM, NULL, NULL, NULL,
            NULL, 0) < 0)
    {
        fprintf(stderr, "child %d: add: %s\n", (int)getpid(), tp_errmsg());
        tp_transport_close(t);
        return 12;
    }
    tp_startup_heard_t heard = { .count = 0 };
    int32_t pid = (int32_t)getpid();
    bool reported = false;
    uint64_t deadline = tp_clock_mono_ns() + UINT64_C(30000000000);
    int rc = 13;
    for (;;)
    {
        tp_transport_do_work(t);
        tp_publication_offer(pub, (const uint8_t *)&pid, sizeof(pid), NULL, NULL);
        tp_subscription_poll(sub, tp_startup_on_message, &heard, 64);
        if (!reported && TP_STARTUP_PROCS == heard.count)
        {
            reported = true;
            if (1 != write(done, "x", 1))
            {
                rc = 14;
                break;
            }
        }
        if (reported)
        {
            struct timeval tv = { 0, 0 };
            fd_set fds;
            FD_ZERO(&fds);
            FD_SET(stop, &fds);
            if (select(stop + 1, &fds, NULL, NULL, &tv) > 0)
            {
                rc = 0;
                break;
            }
        }
        if (tp_clock_mono_ns() > deadline)
        {
            fprintf(stderr, "child %d: heard %d of %d processes\n", (int)getpid(), heard.count, TP_STARTUP_PROCS);
            break;
        }
        tp_sleep_ns(2000000);
    }
    tp_transport_close(t);
    return rc;
}

/** Wait for our child `pid` at most `timeout_ms`, SIGKILL it (only it) on timeout. Returns its exit code or -1. */
static int tp_startup_wait(pid_t pid, uint64_t timeout_ms)
{
    uint64_t deadline = tp_clock_mono_ns() + timeout_ms * UINT64_C(1000000);
    for (;;)
    {
        int status = 0;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
        {
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
        }
        if (r < 0 && EINTR != errno)
        {
            return -1;
        }
        if (tp_clock_mono_ns() > deadline)
        {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        tp_sleep_ns(10000000);
    }
}

/** Whether `path` exists. */
static bool tp_startup_exists(const char *path)
{
    struct stat st;
    return 0 == stat(path, &st);
}

static void test_concurrent_start(void)
{
    int go[2], done[2], stop[2];
    TP_ASSERT(0 == pipe(go) && 0 == pipe(done) && 0 == pipe(stop));
    pid_t pids[TP_STARTUP_PROCS];
    for (int i = 0; i < TP_STARTUP_PROCS; i++)
    {
        pids[i] = fork();
        TP_ASSERT(pids[i] >= 0);
        if (0 == pids[i])
        {
            close(go[1]);
            close(done[0]);
            close(stop[1]);
            _exit(tp_startup_child(go[0], done[1], stop[0]));
        }
    }
    close(go[0]);
    close(done[1]);
    close(stop[0]);
    /* Release every child at once: all race to start or attach to the driver. */
    close(go[1]);
    int reported = 0;
    uint64_t deadline = tp_clock_mono_ns() + UINT64_C(40000000000);
    while (reported < TP_STARTUP_PROCS && tp_clock_mono_ns() < deadline)
    {
        char buf[TP_STARTUP_PROCS];
        ssize_t n = read(done[0], buf, sizeof(buf));
        if (n <= 0)
        {
            break;
        }
        reported += (int)n;
    }
    close(stop[1]);
    int ok = 0;
    for (int i = 0; i < TP_STARTUP_PROCS; i++)
    {
        int rc = tp_startup_wait(pids[i], 30000);
        if (0 != rc)
        {
            fprintf(stderr, "  child %d exited with %d\n", (int)pids[i], rc);
        }
        ok += 0 == rc;
    }
    close(done[0]);
    TP_ASSERT_EQ_I64(TP_STARTUP_PROCS, reported);
    TP_ASSERT_EQ_I64(TP_STARTUP_PROCS, ok);
    /* The owner stopped the driver when its transport closed: directory and lock file are gone. */
    char lock[PATH_MAX + 32];
    snprintf(lock, sizeof(lock), "%s.tp-driver.lock", g_dir);
    TP_ASSERT(!tp_startup_exists(g_dir));
    TP_ASSERT(!tp_startup_exists(lock));
}

static void test_owner_exit(void)
{
    int up[2], quit[2];
    TP_ASSERT(0 == pipe(up) && 0 == pipe(quit));
    pid_t owner = fork();
    TP_ASSERT(owner >= 0);
    if (0 == owner)
    {
        close(up[0]);
        close(quit[1]);
        tp_transport_t *t = NULL;
        if (tp_startup_transport(&t, UINT64_C(10000000000)) < 0)
        {
            _exit(11);
        }
        char c = 'x';
        if (1 != write(up[1], &c, 1) || read(quit[0], &c, 1) < 0)
        {
            _exit(12);
        }
        tp_transport_close(t);
        _exit(0);
    }
    close(up[1]);
    close(quit[0]);
    char c;
    TP_ASSERT_EQ_I64(1, (int64_t)read(up[0], &c, 1));
    /* This process attaches to the owner's driver (env asks for embedding; a live one is used). */
    tp_transport_t *t = NULL;
    TP_ASSERT_OK(tp_startup_transport(&t, UINT64_C(2000000000)));
    tp_publication_t *pub = NULL;
    TP_ASSERT_OK(tp_transport_add_publication(&pub, t, "aeron:ipc?term-length=65536", TP_STARTUP_STREAM, 0));
    TP_ASSERT(tp_transport_do_work(t) >= 0);
    close(quit[1]);
    TP_ASSERT_EQ_I64(0, tp_startup_wait(owner, 20000));
    close(up[0]);
    /* The driver is gone: the loss shows within the client timeout (2 s) plus Aeron's check period. */
    uint64_t start = tp_clock_mono_ns();
    int work = 0;
    while (work >= 0 && tp_clock_mono_ns() - start < UINT64_C(8000000000))
    {
        work = tp_transport_do_work(t);
        tp_sleep_ns(10000000);
    }
    fprintf(stderr, "  driver loss reported after %.2f s: %s\n", (double)(tp_clock_mono_ns() - start) / 1e9,
        tp_errmsg());
    TP_ASSERT(work < 0);
    uint64_t close_start = tp_clock_mono_ns();
    tp_transport_close(t);
    TP_ASSERT(tp_clock_mono_ns() - close_start < UINT64_C(5000000000));
}

int main(void)
{
    if (!tp_aeron_media_driver_supported())
    {
        fprintf(stderr, "SKIP: built without the Aeron driver library (no embedded media driver)\n");
        return 77;
    }
    setenv(TP_AERON_EMBEDDED_DRIVER_ENV, "1", 1);
    /* A fresh path that does not exist yet: the first driver creates it. */
    if (0 != tp_aeron_test_dir_make(g_dir, sizeof(g_dir), "startup"))
    {
        return 1;
    }
    rmdir(g_dir);
    TP_RUN(test_concurrent_start);
    tp_aeron_test_dir_remove(g_dir);
    TP_RUN(test_owner_exit);
    tp_aeron_test_dir_remove(g_dir);
    char lock[PATH_MAX + 32];
    snprintf(lock, sizeof(lock), "%s.tp-driver.lock", g_dir);
    unlink(lock);
    return tp_test_finish();
}
