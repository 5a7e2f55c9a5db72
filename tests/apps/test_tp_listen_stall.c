/*
 * `tp listen` never holds a publisher back: it subscribes untethered on IPC.
 * Runs `tp listen descriptors` (our own child), SIGSTOPs it once it is
 * connected, and publishes several rings' worth on its stream: not a single
 * offer may be back-pressured. Then the listener is killed (only our child).
 * argv: tp binary.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "common/tp_clock.h"
#include "tp_test.h"
#include "transport/tp_transport.h"

static const char *tp_bin;

static void test_stopped_listen_does_not_hold_producer(void)
{
    if (NULL != getenv("TP_TEST_TRANSPORT") && 0 == strcmp(getenv("TP_TEST_TRANSPORT"), "aeron"))
    {
        fprintf(stderr, "  skipped over Aeron (embedded transport directory)\n");
        return;
    }
    char root[256];
    snprintf(root, sizeof(root), "/dev/shm/tp-test-listen-stall-%d-XXXXXX", (int)getpid());
    TP_ASSERT(NULL != mkdtemp(root));
    tp_test_track_dir(root);
    tp_transport_context_t tctx;
    tp_transport_t *t = NULL;
    tp_publication_t *pub = NULL;
    tp_transport_context_init(&tctx);
    tctx.tether_timeout_ns = TP_TRANSPORT_DEFAULT_TETHER_TIMEOUT_NS;
    TP_ASSERT_OK(tp_transport_context_set_dir(&tctx, root));
    TP_ASSERT_OK(tp_transport_init(&t, &tctx));
    TP_ASSERT_OK(tp_transport_add_publication(&pub, t, "aeron:ipc?term-length=64k", 1100, 0));
    pid_t l = fork();
    TP_ASSERT(l >= 0);
    if (0 == l)
    {
        int fd = open("/dev/null", O_WRONLY);
        if (fd >= 0)
        {
            dup2(fd, 1);
            close(fd);
        }
        execl(tp_bin, tp_bin, "listen", "descriptors", "--transport-dir", root, "--duration", "30", (char *)NULL);
        _exit(127);
    }
    uint64_t deadline = tp_clock_mono_ns() + 10000000000ULL;
    bool connected = false;
    while (!(connected = tp_publication_is_connected(pub)) && tp_clock_mono_ns() < deadline)
    {
        tp_sleep_ns(10000000);
    }
    tp_sleep_ns(50000000);
    kill(l, SIGSTOP);
    uint8_t msg[1000] = { 0 };
    uint64_t sent = 0, refused = 0, held = 0;
    uint64_t start = tp_clock_mono_ns(), last_ok = start;
    while (connected && sent < 1000 && tp_clock_mono_ns() - start < 5000000000ULL) /* ~16 rings of 64 KiB */
    {
        int64_t rc = tp_publication_offer(pub, msg, sizeof(msg), NULL, NULL);
        uint64_t now = tp_clock_mono_ns();
        if (rc > 0)
        {
            held = now - last_ok > held ? now - last_ok : held;
            last_ok = now;
            sent++;
        }
        else
        {
            refused++;
        }
    }
    kill(l, SIGKILL); /* our own child */
    int status;
    waitpid(l, &status, 0);
    tp_transport_close(t);
    fprintf(stderr, "  stopped tp listen: %llu sent, %llu refused, longest gap %.3f ms\n", (unsigned long long)sent,
        (unsigned long long)refused, (double)held / 1e6);
    TP_ASSERT(connected);
    TP_ASSERT_EQ_U64(1000, sent);
    TP_ASSERT_EQ_U64(0, refused); /* never back-pressured, not even for the tether timeout */
}

int main(int argc, char **argv)
{
    if (argc < 2)
    {
        fprintf(stderr, "usage: %s TP_BINARY\n", argv[0]);
        return 2;
    }
    tp_bin = argv[1];
    TP_RUN(test_stopped_listen_does_not_hold_producer);
    return tp_test_finish();
}
