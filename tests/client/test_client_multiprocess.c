/*
 * Multi-process tests: the example producer and consumer run as separate
 * processes over the backend under test ($TP_TEST_TRANSPORT, embedded by
 * default, see tp_client_test_util.h), in a private temp dir. Over Aeron this
 * process holds the embedded media driver for the whole test; the children
 * attach to it.
 *
 *   test_client_multiprocess <scenario> <producer-binary> <consumer-binary>
 *
 * Scenarios: million (1,000,000 frames with payload checks), late_join,
 * restart (producer restarts under a running consumer: epoch bump / remap),
 * sigkill (producer SIGKILLed; a new producer takes over with a higher
 * epoch), slow (slow consumer under overwrite: drops counted, nothing torn).
 * Only our own children are signalled and only our own temp dir is removed.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

#include "tp_client_test_util.h"
#include "tpc_children.h"
#include "tp_test.h"

static const char *producer_bin;
static const char *consumer_bin;
static tpc_dirs_t dirs;

static pid_t spawn(const char *bin, const char *out_name, const char *const *args)
{
    char out[512];
    snprintf(out, sizeof(out), "%s/%s", dirs.root, out_name);
    const char *argv[32];
    size_t n = 0;
    argv[n++] = bin;
    argv[n++] = "--transport-dir";
    argv[n++] = dirs.transport;
    argv[n++] = "--shm-dir";
    argv[n++] = dirs.shm;
    for (size_t i = 0; args[i] && n < 30; i++)
    {
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    pid_t pid = fork();
    if (0 == pid)
    {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0)
        {
            dup2(fd, 1);
            close(fd);
        }
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    if (pid < 0)
    {
        perror("fork");
    }
    tpc_child_track(pid);
    return pid;
}

static void test_million(void)
{
    /*
     * A ring of 2^20 slots cannot be lapped within 1,000,000 frames and the
     * descriptor log is tethered, so whatever the machine's load, every frame
     * must arrive intact: no torn, late or skipped frame is acceptable here.
     * (Overwrite under a slow consumer is the `slow` scenario.) Resync is off
     * (--max-gap 0) so that a consumer lagging behind is not made to skip.
     */
    const char *cargs[] = { "--until-seq", "999999", "--check", "full", "--duration", "50", "--max-gap", "0", NULL };
    setenv("TP_TETHER_TIMEOUT", "60s", 1); /* lossless: not untethered however long the consumer is descheduled */
    pid_t c = spawn(consumer_bin, "consumer.json", cargs);
    unsetenv("TP_TETHER_TIMEOUT");
    const char *pargs[] = { "--frames", "1000000", "--rate", "400000", "--size", "256", "--nslots", "1048576",
        "--wait-consumers", "1", "--announce-ms", "100", "--linger-ms", "200", NULL };
    pid_t p = spawn(producer_bin, "producer.json", pargs);
    int prc = tpc_wait_child(p, 55000);
    int crc = tpc_wait_child(c, 55000);
    tpc_output_dump(dirs.root, "producer.json");
    tpc_output_dump(dirs.root, "consumer.json");
    TP_ASSERT_EQ_I64(0, prc);
    TP_ASSERT_EQ_I64(0, crc);
    TP_ASSERT_EQ_I64(1000000, (int64_t)tpc_output_field(dirs.root, "producer.json", "frames"));
    TP_ASSERT_EQ_I64(1000000, (int64_t)tpc_output_field(dirs.root, "consumer.json", "descriptors"));
    TP_ASSERT_EQ_I64(1000000, (int64_t)tpc_output_field(dirs.root, "consumer.json", "frames"));
    TP_ASSERT_EQ_I64(1000000, (int64_t)tpc_output_field(dirs.root, "consumer.json", "intact"));
    TP_ASSERT_EQ_I64(0, (int64_t)tpc_output_field(dirs.root, "consumer.json", "torn"));
    TP_ASSERT_EQ_I64(0, (int64_t)tpc_output_field(dirs.root, "consumer.json", "drops_late"));
    TP_ASSERT_EQ_I64(0, (int64_t)tpc_output_field(dirs.root, "consumer.json", "drops_gap"));
    TP_ASSERT_EQ_I64(999999, (int64_t)tpc_output_field(dirs.root, "consumer.json", "last_seq"));
}

static void test_late_join(void)
{
    const char *pargs[] = { "--rate", "2000", "--frames", "8000", "--size", "1024", "--announce-ms", "200", NULL };
    pid_t p = spawn(producer_bin, "producer.json", pargs);
    tp_sleep_ns(1000000000u); /* the consumer joins a running stream */
    const char *cargs[] = { "--until-seq", "7999", "--check", "full", "--duration", "10", NULL };
    pid_t c = spawn(consumer_bin, "consumer.json", cargs);
    int crc = tpc_wait_child(c, 15000);
    int prc = tpc_wait_child(p, 15000);
    tpc_output_dump(dirs.root, "producer.json");
    tpc_output_dump(dirs.root, "consumer.json");
    TP_ASSERT_EQ_I64(0, prc);
    TP_ASSERT_EQ_I64(0, crc);
    TP_ASSERT_EQ_I64(1, (int64_t)tpc_output_field(dirs.root, "consumer.json", "remaps"));
    TP_ASSERT_EQ_I64(0, (int64_t)tpc_output_field(dirs.root, "consumer.json", "torn"));
    TP_ASSERT(tpc_output_field(dirs.root, "consumer.json", "intact") >= 2000);
}

static void test_restart(void)
{
    const char *cargs[] = { "--until-seq", "2999", "--min-remaps", "2", "--check", "full", "--duration", "15", NULL };
    pid_t c = spawn(consumer_bin, "consumer.json", cargs);
    const char *pargs[] = { "--rate", "2000", "--frames", "3000", "--size", "512", "--announce-ms", "100",
        "--wait-consumers", "1", NULL };
    pid_t p1 = spawn(producer_bin, "producer1.json", pargs);
    TP_ASSERT_EQ_I64(0, tpc_wait_child(p1, 10000));
    /* the same stream restarts: new regions, sequence from 0, the consumer must remap */
    pid_t p2 = spawn(producer_bin, "producer2.json", pargs);
    int crc = tpc_wait_child(c, 20000);
    int prc = tpc_wait_child(p2, 20000);
    tpc_output_dump(dirs.root, "producer1.json");
    tpc_output_dump(dirs.root, "producer2.json");
    tpc_output_dump(dirs.root, "consumer.json");
    TP_ASSERT_EQ_I64(0, prc);
    TP_ASSERT_EQ_I64(0, crc);
    TP_ASSERT(tpc_output_field(dirs.root, "consumer.json", "remaps") >= 2);
    TP_ASSERT_EQ_I64(0, (int64_t)tpc_output_field(dirs.root, "consumer.json", "torn"));
    TP_ASSERT(tpc_output_field(dirs.root, "consumer.json", "intact") >= 3000);
}

static void test_sigkill(void)
{
    const char *cargs[] = { "--until-seq", "1999", "--min-remaps", "2", "--check", "full", "--duration", "20", NULL };
    pid_t c = spawn(consumer_bin, "consumer.json", cargs);
    const char *p1args[] = { "--rate", "2000", "--duration", "30", "--size", "4096", "--announce-ms", "100",
        "--wait-consumers", "1", NULL };
    pid_t p1 = spawn(producer_bin, "producer1.json", p1args);
    tp_sleep_ns(1500000000u);
    kill(p1, SIGKILL); /* our own child */
    TP_ASSERT_EQ_I64(128 + SIGKILL, tpc_wait_child(p1, 30000)); /* a bound only: a killed child always exits */
    tp_sleep_ns(1000000000u); /* longer than the freshness window (3 x 100 ms): the consumer unmaps */
    const char *p2args[] = { "--rate", "2000", "--frames", "2000", "--size", "4096", "--announce-ms", "100",
        "--wait-consumers", "1", NULL };
    pid_t p2 = spawn(producer_bin, "producer2.json", p2args);
    int crc = tpc_wait_child(c, 25000);
    int prc = tpc_wait_child(p2, 25000);
    tpc_output_dump(dirs.root, "producer2.json");
    tpc_output_dump(dirs.root, "consumer.json");
    TP_ASSERT_EQ_I64(0, prc);
    TP_ASSERT_EQ_I64(0, crc);
    TP_ASSERT(tpc_output_field(dirs.root, "consumer.json", "remaps") >= 2);
    TP_ASSERT(tpc_output_field(dirs.root, "consumer.json", "unmaps") >= 1);
    TP_ASSERT_EQ_I64(2, (int64_t)tpc_output_field(dirs.root, "producer2.json", "epoch")); /* the killed epoch 1 stays on disk */
    TP_ASSERT_EQ_I64(2, (int64_t)tpc_output_field(dirs.root, "consumer.json", "epoch"));
    TP_ASSERT_EQ_I64(0, (int64_t)tpc_output_field(dirs.root, "consumer.json", "torn"));
}

/* Layout change in a running producer process: the consumer process remaps once and follows seq from 0. */
static void test_layout(void)
{
    const char *cargs[] = { "--until-seq", "1999", "--min-remaps", "2", "--check", "full", "--duration", "15", NULL };
    pid_t c = spawn(consumer_bin, "consumer.json", cargs);
    const char *pargs[] = { "--rate", "2000", "--frames", "3000", "--size", "2048", "--nslots", "64",
        "--announce-ms", "100", "--wait-consumers", "1", "--change-layout-at", "1000", "--linger-ms", "200", NULL };
    pid_t p = spawn(producer_bin, "producer.json", pargs);
    int crc = tpc_wait_child(c, 20000);
    int prc = tpc_wait_child(p, 20000);
    tpc_output_dump(dirs.root, "producer.json");
    tpc_output_dump(dirs.root, "consumer.json");
    TP_ASSERT_EQ_I64(0, prc);
    TP_ASSERT_EQ_I64(0, crc);
    TP_ASSERT_EQ_I64(1, (int64_t)tpc_output_field(dirs.root, "producer.json", "layout_changes"));
    TP_ASSERT_EQ_I64(2, (int64_t)tpc_output_field(dirs.root, "producer.json", "epoch"));
    TP_ASSERT_EQ_I64(2, (int64_t)tpc_output_field(dirs.root, "consumer.json", "epoch"));
    TP_ASSERT_EQ_I64(2, (int64_t)tpc_output_field(dirs.root, "consumer.json", "remaps"));
    TP_ASSERT_EQ_I64(1, (int64_t)tpc_output_field(dirs.root, "consumer.json", "unmaps"));
    TP_ASSERT_EQ_I64(1999, (int64_t)tpc_output_field(dirs.root, "consumer.json", "last_seq"));
    TP_ASSERT_EQ_I64(0, (int64_t)tpc_output_field(dirs.root, "consumer.json", "torn"));
    TP_ASSERT(tpc_output_field(dirs.root, "consumer.json", "intact") >= 2000);
}

static void test_slow(void)
{
    const char *cargs[] = { "--until-seq", "9999", "--check", "full", "--slow-us", "300", "--duration", "40", NULL };
    pid_t c = spawn(consumer_bin, "consumer.json", cargs);
    const char *pargs[] = { "--rate", "10000", "--frames", "10000", "--size", "16384", "--nslots", "16",
        "--announce-ms", "100", "--wait-consumers", "1", NULL };
    pid_t p = spawn(producer_bin, "producer.json", pargs);
    int prc = tpc_wait_child(p, 45000);
    int crc = tpc_wait_child(c, 45000);
    tpc_output_dump(dirs.root, "producer.json");
    tpc_output_dump(dirs.root, "consumer.json");
    TP_ASSERT_EQ_I64(0, prc);
    TP_ASSERT_EQ_I64(0, crc);
    TP_ASSERT_EQ_I64(0, (int64_t)tpc_output_field(dirs.root, "consumer.json", "torn"));
    TP_ASSERT(tpc_output_field(dirs.root, "consumer.json", "drops_late") > 0);
    TP_ASSERT(tpc_output_field(dirs.root, "consumer.json", "intact") > 0);
    /* every descriptor arrives; each frame is either intact or counted late (a frame the application saw
       overwritten is also counted late by the library's own re-check) */
    TP_ASSERT_EQ_I64(10000, (int64_t)tpc_output_field(dirs.root, "consumer.json", "descriptors"));
    TP_ASSERT((int64_t)(tpc_output_field(dirs.root, "consumer.json", "intact") + tpc_output_field(dirs.root, "consumer.json", "drops_late")) >= 10000);
}

static const char *tp_bin;

static void test_listen(void)
{
    char out[512];
    snprintf(out, sizeof(out), "%s/listen.json", dirs.root);
    pid_t l = fork();
    if (0 == l)
    {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0)
        {
            dup2(fd, 1);
            close(fd);
        }
        execl(tp_bin, tp_bin, "listen", "descriptors", "--json", "--transport-dir", dirs.transport, "--count", "3",
            "--duration", "10", (char *)NULL);
        _exit(127);
    }
    tpc_child_track(l);
    tp_sleep_ns(300000000u);
    const char *pargs[] = { "--rate", "100", "--frames", "50", "--size", "64", "--announce-ms", "100", NULL };
    pid_t p = spawn(producer_bin, "producer.json", pargs);
    TP_ASSERT_EQ_I64(0, tpc_wait_child(l, 15000));
    TP_ASSERT_EQ_I64(0, tpc_wait_child(p, 15000));
    char buf[4096] = { 0 };
    FILE *f = fopen(out, "r");
    TP_ASSERT(NULL != f);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    fprintf(stderr, "  listen: %s", buf);
    TP_ASSERT(NULL != strstr(buf, "{\"type\":\"FrameDescriptor\",\"stream_id\":10000,\"epoch\":1,\"seq\":0,"));
    TP_ASSERT(NULL != strstr(buf, "\"seq\":2,"));
}

int main(int argc, char **argv)
{
    if (argc < 4)
    {
        fprintf(stderr, "usage: %s million|late_join|restart|sigkill|slow|layout <producer> <consumer>\n", argv[0]);
        return 1;
    }
    producer_bin = argv[2];
    consumer_bin = argv[3];
    if (tpc_dirs_make(&dirs, argv[1]) < 0)
    {
        perror("mkdtemp");
        return 1;
    }
    tp_transport_t *driver = tpc_driver_hold(&dirs);
    if (0 == strcmp(argv[1], "million"))
    {
        TP_RUN(test_million);
    }
    else if (0 == strcmp(argv[1], "late_join"))
    {
        TP_RUN(test_late_join);
    }
    else if (0 == strcmp(argv[1], "restart"))
    {
        TP_RUN(test_restart);
    }
    else if (0 == strcmp(argv[1], "sigkill"))
    {
        TP_RUN(test_sigkill);
    }
    else if (0 == strcmp(argv[1], "layout"))
    {
        TP_RUN(test_layout);
    }
    else if (0 == strcmp(argv[1], "slow"))
    {
        TP_RUN(test_slow);
    }
    else if (0 == strcmp(argv[1], "listen") && argc > 4)
    {
        tp_bin = argv[4];
        TP_RUN(test_listen);
    }
    else
    {
        fprintf(stderr, "unknown scenario %s\n", argv[1]);
    }
    tpc_children_kill_all(); /* a failed test returns before waiting for its children */
    tpc_driver_release(driver);
    tpc_dirs_remove(&dirs);
    return tp_test_finish();
}
