/*
 * Driver mode across processes: `tp driver`, the example producer and the
 * example consumer (with --driver) as separate processes in a private temp
 * dir, and kill -9 of each of them:
 *
 *   kill_producer  the producer dies: its lease expires, the driver bumps the
 *                  epoch; a new producer attaches and the surviving consumer
 *                  receives its frames intact
 *   kill_consumer  a consumer dies: its lease expires (counted), the producer
 *                  carries on, a new consumer attaches and receives frames
 *   kill_driver    the driver dies: the producer and the consumer stop using
 *                  the regions, reattach by themselves to a new driver
 *                  instance (a strictly newer epoch) and frames flow again
 *
 * Every scenario ends with a graceful driver stop (cleanup_shm_on_exit) and
 * checks that nothing is left in the shm directory: the driver's GC removed
 * what the dead processes (or the dead driver) left behind. Only our own
 * children are signalled and only our own temp dir is removed.
 *
 *   test_driver_mp <scenario> <tp-binary> <producer-binary> <consumer-binary>
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

#include "client/tp_client_test_util.h"
#include "tensor_pool/tp_shm.h"
#include "client/tpc_children.h"
#include "tp_test.h"

static const char *tp_bin;
static const char *producer_bin;
static const char *consumer_bin;
static tpc_dirs_t dirs;
static char config_path[600];

static pid_t spawn(const char *bin, const char *out_name, const char *const *args, bool client)
{
    char out[512];
    snprintf(out, sizeof(out), "%s/%s", dirs.root, out_name);
    const char *argv[40];
    size_t n = 0;
    argv[n++] = bin;
    if (client)
    {
        argv[n++] = "--driver";
        argv[n++] = "--transport-dir";
        argv[n++] = dirs.transport;
        argv[n++] = "--shm-dir";
        argv[n++] = dirs.shm;
    }
    for (size_t i = 0; args[i] && n < 38; i++)
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

static pid_t spawn_driver(const char *out_name)
{
    const char *args[] = { "driver", config_path, NULL };
    return spawn(tp_bin, out_name, args, false);
}

/* Stop a driver gracefully (SIGTERM: drain, revoke, ShmDriverShutdown, cleanup) and return its exit status. */
static int stop_driver(pid_t pid)
{
    kill(pid, SIGTERM);
    return tpc_wait_child(pid, 10000);
}

/* Wait until our driver printed its "up" line. */
static bool driver_up(const char *out_name)
{
    uint64_t deadline = tp_clock_mono_ns() + 5000000000ull;
    while (tp_clock_mono_ns() < deadline)
    {
        if (tpc_output_field(dirs.root, out_name, "pid") > 0)
        {
            return true;
        }
        tp_sleep_ns(20000000);
    }
    return false;
}

/*
 * Epoch directories (and any other entry) left under the stream directory of stream 10000. Hidden entries are
 * not counted: the `.last-epoch` marker (tp_shm_epoch.h) intentionally stays after a graceful stop with
 * cleanup_shm_on_exit, so that the next driver starts above the last epoch (wire §15.2, DECISIONS EF-1).
 */
static size_t left_in_stream_dir(void)
{
    char user[64];
    tp_shm_user_name(user, sizeof(user));
    char path[1024];
    snprintf(path, sizeof(path), "%s/tensorpool-%s/default/10000", dirs.shm, user);
    DIR *d = opendir(path);
    size_t n = 0;
    if (NULL == d)
    {
        return 0;
    }
    struct dirent *e;
    while (NULL != (e = readdir(d)))
    {
        if ('.' != e->d_name[0])
        {
            fprintf(stderr, "  left behind: %s/%s\n", path, e->d_name);
            n++;
        }
    }
    closedir(d);
    return n;
}

/* The newest epoch directory under the stream directory of stream 10000 (0: none). */
static uint64_t newest_epoch_dir(void)
{
    char user[64];
    tp_shm_user_name(user, sizeof(user));
    char path[1024];
    snprintf(path, sizeof(path), "%s/tensorpool-%s/default/10000", dirs.shm, user);
    DIR *d = opendir(path);
    uint64_t newest = 0;
    if (NULL == d)
    {
        return 0;
    }
    struct dirent *e;
    while (NULL != (e = readdir(d)))
    {
        char *end = NULL;
        uint64_t epoch = strtoull(e->d_name, &end, 10);
        if (end != e->d_name && '\0' == *end && epoch > newest)
        {
            newest = epoch;
        }
    }
    closedir(d);
    return newest;
}

static void write_config(void)
{
    snprintf(config_path, sizeof(config_path), "%s/driver.toml", dirs.root);
    FILE *f = fopen(config_path, "w");
    if (NULL == f)
    {
        return;
    }
    fprintf(f,
        "[driver]\ntransport_dir = \"%s\"\n"
        "[shm]\nbase_dir = \"%s\"\npermissions_mode = \"600\"\n"
        "[policies]\nannounce_period_ms = 100\nlease_keepalive_interval_ms = 100\nlease_expiry_grace_intervals = 3\n"
        "epoch_gc_keep = 1\nepoch_gc_min_age_ns = 1\nepoch_gc_on_startup = true\ncleanup_shm_on_exit = true\n"
        "shutdown_timeout_ms = 100\n"
        "[profiles.p]\nheader_nslots = 1024\npayload_pools = [{ pool_id = 1, stride_bytes = 4096 }]\n"
        "[streams.s]\nstream_id = 10000\nprofile = \"p\"\n",
        dirs.transport, dirs.shm);
    fclose(f);
}

static void test_kill_producer(void)
{
    pid_t d = spawn_driver("driver.json");
    TP_ASSERT(driver_up("driver.json"));
    /*
     * Stop on seq 1999 of the second epoch that carries frames (the new producer's): how many epochs the
     * consumer maps before that depends on whether it attached before the first producer (the driver creates
     * an epoch for the consumer, then a new one for the producer), so remaps are not counted.
     */
    const char *cargs[] = { "--until-seq", "1999", "--min-epochs", "2", "--check", "full", "--duration", "25", NULL };
    pid_t c = spawn(consumer_bin, "consumer.json", cargs, true);
    const char *p1args[] = { "--rate", "2000", "--duration", "30", "--size", "4096", "--wait-consumers", "1",
        "--announce-ms", "100", NULL };
    pid_t p1 = spawn(producer_bin, "producer1.json", p1args, true);
    tp_sleep_ns(1500000000u);
    uint64_t killed_epoch = newest_epoch_dir(); /* p1's: the driver started it when p1 attached */
    kill(p1, SIGKILL); /* our own child */
    /* a killed child always exits; the bound only keeps a broken run finite (an ASan process under load can take seconds) */
    TP_ASSERT_EQ_I64(128 + SIGKILL, tpc_wait_child(p1, 30000));
    /*
     * The driver revokes p1's lease once it misses its keepalives (3 x 100 ms) and then starts the next epoch;
     * a producer attaching before that is refused (one producer per stream), so wait for the new epoch.
     */
    uint64_t expiry_deadline = tp_clock_mono_ns() + 20000000000ull;
    while (newest_epoch_dir() <= killed_epoch && tp_clock_mono_ns() < expiry_deadline)
    {
        tp_sleep_ns(20000000u);
    }
    TP_ASSERT_MSG(newest_epoch_dir() > killed_epoch, "no epoch after %llu: the driver did not expire the killed "
        "producer's lease", (unsigned long long)killed_epoch);
    const char *p2args[] = { "--rate", "2000", "--frames", "2000", "--size", "4096", "--wait-consumers", "1",
        "--announce-ms", "100", "--linger-ms", "300", NULL };
    pid_t p2 = spawn(producer_bin, "producer2.json", p2args, true);
    int prc = tpc_wait_child(p2, 20000);
    int crc = tpc_wait_child(c, 25000);
    TP_ASSERT_EQ_I64(0, stop_driver(d));
    tpc_output_dump(dirs.root, "producer2.json");
    tpc_output_dump(dirs.root, "consumer.json");
    tpc_output_dump(dirs.root, "driver.json");
    TP_ASSERT_EQ_I64(0, prc);
    TP_ASSERT_EQ_I64(0, crc);
    TP_ASSERT_EQ_I64(0, (int64_t)tpc_output_field(dirs.root, "consumer.json", "torn"));
    TP_ASSERT(tpc_output_field(dirs.root, "consumer.json", "intact") >= 2000);
    TP_ASSERT(tpc_output_field(dirs.root, "consumer.json", "epochs_seen") >= 2);
    TP_ASSERT(tpc_output_field(dirs.root, "driver.json", "leases_expired") >= 1);
    TP_ASSERT(tpc_output_field(dirs.root, "producer2.json", "epoch") > 1);
    TP_ASSERT_EQ_U64(0, left_in_stream_dir());
}

/* Whether our output file contains `needle`. */
static bool output_has(const char *out_name, const char *needle)
{
    static char buf[1 << 20];
    return tpc_read_output(dirs.root, out_name, buf, sizeof(buf)) && NULL != strstr(buf, needle);
}

static void test_kill_consumer(void)
{
    pid_t d = spawn_driver("driver.json");
    TP_ASSERT(driver_up("driver.json"));
    /* tp listen shows the driver control plane (attach, keepalive, revocation) */
    const char *largs[] = { "listen", "control", "--transport-dir", dirs.transport, "--json", "--duration", "4", NULL };
    pid_t l = spawn(tp_bin, "listen.jsonl", largs, false);
    const char *c1args[] = { "--check", "full", "--duration", "30", NULL };
    pid_t c1 = spawn(consumer_bin, "consumer1.json", c1args, true);
    const char *pargs[] = { "--rate", "2000", "--frames", "8000", "--size", "4096", "--wait-consumers", "1",
        "--announce-ms", "100", "--linger-ms", "300", NULL };
    pid_t p = spawn(producer_bin, "producer.json", pargs, true);
    tp_sleep_ns(1500000000u);
    kill(c1, SIGKILL); /* our own child */
    TP_ASSERT_EQ_I64(128 + SIGKILL, tpc_wait_child(c1, 30000));
    const char *c2args[] = { "--until-seq", "7999", "--check", "full", "--duration", "15", NULL };
    pid_t c2 = spawn(consumer_bin, "consumer2.json", c2args, true);
    int prc = tpc_wait_child(p, 20000);
    int crc = tpc_wait_child(c2, 20000);
    TP_ASSERT_EQ_I64(0, stop_driver(d));
    TP_ASSERT_EQ_I64(0, tpc_wait_child(l, 10000));
    TP_ASSERT(output_has("listen.jsonl", "\"type\":\"ShmAttachRequest\""));
    TP_ASSERT(output_has("listen.jsonl", "\"type\":\"ShmAttachResponse\",\"correlation_id\""));
    TP_ASSERT(output_has("listen.jsonl", "\"code\":\"OK\""));
    TP_ASSERT(output_has("listen.jsonl", "\"type\":\"ShmLeaseKeepalive\""));
    TP_ASSERT(output_has("listen.jsonl", "\"reason\":\"EXPIRED\""));
    tpc_output_dump(dirs.root, "producer.json");
    tpc_output_dump(dirs.root, "consumer2.json");
    tpc_output_dump(dirs.root, "driver.json");
    TP_ASSERT_EQ_I64(0, prc);
    TP_ASSERT_EQ_I64(0, crc);
    TP_ASSERT_EQ_I64(8000, (int64_t)tpc_output_field(dirs.root, "producer.json", "frames"));
    TP_ASSERT_EQ_I64(0, (int64_t)tpc_output_field(dirs.root, "consumer2.json", "torn"));
    TP_ASSERT(tpc_output_field(dirs.root, "consumer2.json", "intact") >= 1000);
    TP_ASSERT(tpc_output_field(dirs.root, "driver.json", "leases_expired") >= 1);
    TP_ASSERT_EQ_U64(0, left_in_stream_dir());
}

static void test_kill_driver(void)
{
    pid_t d1 = spawn_driver("driver1.json");
    TP_ASSERT(driver_up("driver1.json"));
    const char *cargs[] = { "--check", "full", "--min-remaps", "2", "--duration", "30", "--until-seq", "4000", NULL };
    pid_t c = spawn(consumer_bin, "consumer.json", cargs, true);
    const char *pargs[] = { "--rate", "2000", "--frames", "12000", "--size", "4096", "--wait-consumers", "1",
        "--announce-ms", "100", "--linger-ms", "300", NULL };
    pid_t p = spawn(producer_bin, "producer.json", pargs, true);
    tp_sleep_ns(1500000000u);
    kill(d1, SIGKILL); /* our own child: no ShmDriverShutdown, no cleanup */
    TP_ASSERT_EQ_I64(128 + SIGKILL, tpc_wait_child(d1, 30000));
    tp_sleep_ns(500000000u);
    pid_t d2 = spawn_driver("driver2.json");
    TP_ASSERT(driver_up("driver2.json"));
    int prc = tpc_wait_child(p, 40000);
    int crc = tpc_wait_child(c, 40000);
    TP_ASSERT_EQ_I64(0, stop_driver(d2));
    tpc_output_dump(dirs.root, "producer.json");
    tpc_output_dump(dirs.root, "consumer.json");
    tpc_output_dump(dirs.root, "driver2.json");
    TP_ASSERT_EQ_I64(0, prc);
    TP_ASSERT_EQ_I64(0, crc);
    TP_ASSERT_EQ_I64(12000, (int64_t)tpc_output_field(dirs.root, "producer.json", "frames"));
    TP_ASSERT(tpc_output_field(dirs.root, "producer.json", "epoch") > 1); /* the new driver started above every epoch on disk (§10) */
    TP_ASSERT(tpc_output_field(dirs.root, "producer.json", "not_attached") > 0);
    TP_ASSERT_EQ_I64(0, (int64_t)tpc_output_field(dirs.root, "consumer.json", "torn"));
    TP_ASSERT(tpc_output_field(dirs.root, "consumer.json", "epochs_seen") >= 2);
    TP_ASSERT(tpc_output_field(dirs.root, "driver2.json", "attach_ok") >= 2);
    TP_ASSERT_EQ_U64(0, left_in_stream_dir());
}

int main(int argc, char **argv)
{
    if (argc < 5)
    {
        fprintf(stderr, "usage: %s kill_producer|kill_consumer|kill_driver <tp> <producer> <consumer>\n", argv[0]);
        return 2;
    }
    tp_bin = argv[2];
    producer_bin = argv[3];
    consumer_bin = argv[4];
    if (tpc_dirs_make(&dirs, argv[1]) < 0)
    {
        fprintf(stderr, "cannot create test dirs\n");
        return 1;
    }
    tp_transport_t *hold = tpc_driver_hold(&dirs);
    write_config();
    if (0 == strcmp(argv[1], "kill_producer"))
    {
        TP_RUN(test_kill_producer);
    }
    else if (0 == strcmp(argv[1], "kill_consumer"))
    {
        TP_RUN(test_kill_consumer);
    }
    else if (0 == strcmp(argv[1], "kill_driver"))
    {
        TP_RUN(test_kill_driver);
    }
    else
    {
        fprintf(stderr, "unknown scenario %s\n", argv[1]);
        return 2;
    }
    tpc_children_kill_all(); /* a failed test returns before waiting for its children */
    tpc_driver_release(hold);
    tpc_dirs_remove(&dirs);
    return tp_test_finish();
}
