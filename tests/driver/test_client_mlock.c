/*
 * mlock_shm in the clients (Driver Model spec §17: "clients SHOULD mlock their
 * own mappings when enabled"): with the context setting, a driver-mode
 * producer and a consumer lock the regions they map (VmLck grows by them);
 * where mlock fails (a child without CAP_IPC_LOCK and RLIMIT_MEMLOCK 0) the
 * mapped regions are reported through the error handler (TP_ERR_PERMISSION,
 * naming RLIMIT_MEMLOCK), counted, and used unlocked (frames flow), while a
 * standalone producer, which creates its regions, fails its add (fatal, as
 * for the driver; DRV-16).
 */
#include <linux/capability.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "client/tp_client_test_util.h"
#include "client/tp_consumer_internal.h"
#include "client/tp_producer_internal.h"
#include "tensor_pool/tp_driver.h"
#include "tp_test.h"

static const char config[] = "[policies]\nannounce_period_ms = 100\nlease_keepalive_interval_ms = 100\n"
                             "shutdown_timeout_ms = 50\n"
                             "[profiles.p]\nheader_nslots = 64\npayload_pools = [{ pool_id = 1, stride_bytes = 1024 }]\n"
                             "[streams.s]\nstream_id = 10000\nprofile = \"p\"\n";

typedef struct
{
    uint64_t frames;
} rx_t;

static void on_frame(void *clientd, const tp_frame_t *frame)
{
    (void)frame;
    ((rx_t *)clientd)->frames++;
}

typedef struct
{
    int calls;
    int last_code;
    char last_message[512];
} handler_t;

static void on_error(void *clientd, int errcode, const char *message)
{
    handler_t *h = clientd;
    h->calls++;
    h->last_code = errcode;
    snprintf(h->last_message, sizeof(h->last_message), "%s", message);
}

/* Locked memory of this process (kB), from /proc/self/status; -1 when unknown. */
static long vm_locked_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (NULL != f && NULL != fgets(line, sizeof(line), f))
    {
        if (1 == sscanf(line, "VmLck: %ld kB", &kb))
        {
            break;
        }
    }
    if (NULL != f)
    {
        fclose(f);
    }
    return kb;
}

static tp_driver_t *start_driver(const tpc_dirs_t *dirs)
{
    tp_driver_config_t *cfg = NULL;
    tp_driver_t *d = NULL;
    if (0 != tp_driver_config_init(&cfg) || 0 != tp_driver_config_load_string(cfg, config, sizeof(config) - 1, "t.toml") ||
        0 != tp_driver_config_set_shm_base_dir(cfg, dirs->shm) ||
        0 != tp_driver_config_set_transport(cfg, NULL, dirs->transport) || 0 != tp_driver_init(&d, cfg) ||
        0 != tp_driver_start(d))
    {
        fprintf(stderr, "driver: %s\n", tp_errmsg());
        tp_driver_close(d);
        d = NULL;
    }
    tp_driver_config_close(cfg);
    return d;
}

static tp_client_t *open_client(const tpc_dirs_t *dirs, bool driver_mode, bool mlock_shm, handler_t *h)
{
    tp_context_t *ctx = tpc_context(dirs);
    tp_client_t *client = NULL;
    if (NULL == ctx || tp_context_set_driver_mode(ctx, driver_mode) < 0 ||
        tp_context_set_driver_keepalive_ns(ctx, 100000000u) < 0 || tp_context_set_mlock_shm(ctx, mlock_shm) < 0 ||
        (NULL != h && tp_context_set_error_handler(ctx, on_error, h) < 0) || tp_client_init(&client, ctx) < 0)
    {
        client = NULL;
    }
    tp_context_close(ctx);
    return client;
}

static int add_pair(tp_client_t *client, tp_producer_t **p, tp_consumer_t **c, rx_t *rx)
{
    tp_consumer_config_t cc;
    tp_consumer_config_defaults(&cc);
    cc.stream_id = 10000;
    cc.on_frame = on_frame;
    cc.clientd = rx;
    tp_producer_config_t pc;
    tp_producer_config_defaults(&pc);
    pc.stream_id = 10000;
    pc.header_nslots = 64;
    pc.pool_count = 1;
    pc.pools[0].pool_id = 1;
    pc.pools[0].stride_bytes = 1024;
    if (tp_client_add_consumer(c, client, &cc, 3000000000u) < 0 || tp_client_add_producer(p, client, &pc, 3000000000u) < 0)
    {
        return -1;
    }
    return 0;
}

/* Offer frames until the consumer saw `n` (or 3 s). */
static void pump(tp_client_t *client, tp_producer_t *p, rx_t *rx, uint64_t n)
{
    uint8_t payload[64] = { 0 };
    uint64_t deadline = tp_clock_mono_ns() + 3000000000ull;
    while (rx->frames < n && tp_clock_mono_ns() < deadline)
    {
        tp_producer_offer(p, NULL, payload, sizeof(payload), NULL);
        tp_client_do_work(client);
        tp_sleep_ns(200000);
    }
}

/* Lose CAP_IPC_LOCK (root ignores RLIMIT_MEMLOCK with it) and set RLIMIT_MEMLOCK to 0. Returns 0 when mlock fails now. */
static int forbid_mlock(void)
{
    struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
    struct __user_cap_data_struct data[2];
    if (0 == syscall(SYS_capget, &h, data))
    {
        data[CAP_IPC_LOCK / 32].effective &= ~(1u << (CAP_IPC_LOCK % 32));
        data[CAP_IPC_LOCK / 32].permitted &= ~(1u << (CAP_IPC_LOCK % 32));
        (void)syscall(SYS_capset, &h, data);
    }
    struct rlimit rl = { 0, 0 };
    if (0 != setrlimit(RLIMIT_MEMLOCK, &rl))
    {
        return -1;
    }
    static char probe[8192] __attribute__((aligned(4096)));
    if (0 == mlock(probe, 4096))
    {
        munlock(probe, 4096);
        return -1;
    }
    return 0;
}

enum
{
    CHILD_SKIP = 77,
    F_DRIVER = 1,
    F_ADD = 2,
    F_REPORTED = 4,
    F_COUNTED = 8,
    F_FRAMES = 16,
    F_STANDALONE = 32
};

static int child_main(const tpc_dirs_t *dirs)
{
    if (forbid_mlock() < 0)
    {
        return CHILD_SKIP;
    }
    int failures = 0;
    tp_driver_t *driver = start_driver(dirs);
    if (NULL == driver)
    {
        return F_DRIVER;
    }
    handler_t h = { 0 };
    tp_client_t *client = open_client(dirs, true, true, &h);
    tp_producer_t *p = NULL;
    tp_consumer_t *c = NULL;
    rx_t rx = { 0 };
    if (NULL == client || add_pair(client, &p, &c, &rx) < 0)
    {
        fprintf(stderr, "child: %s\n", tp_errmsg());
        failures |= F_ADD;
    }
    else
    {
        pump(client, p, &rx, 50);
        failures |= rx.frames >= 50 ? 0 : F_FRAMES; /* used unlocked */
        failures |= p->mlock_failures >= 2 && c->mlock_failures >= 2 ? 0 : F_COUNTED;
        failures |= h.calls >= 4 && TP_ERR_PERMISSION == h.last_code && NULL != strstr(h.last_message, "RLIMIT_MEMLOCK")
            ? 0
            : F_REPORTED;
        fprintf(stderr, "child: reported %d: %s\n", h.calls, h.last_message);
    }
    tp_client_close(client);
    tp_driver_close(driver);
    /* a standalone producer creates its regions: as for the driver, a failed mlock fails the add */
    tp_client_t *standalone = open_client(dirs, false, true, NULL);
    tp_producer_config_t pc;
    tp_producer_config_defaults(&pc);
    pc.stream_id = 10001;
    pc.header_nslots = 64;
    tp_producer_t *sp = NULL;
    int rc = NULL == standalone ? 0 : tp_client_add_producer(&sp, standalone, &pc, 3000000000u);
    fprintf(stderr, "child: standalone add: %d %s\n", rc, tp_errmsg());
    failures |= rc < 0 && NULL != strstr(tp_errmsg(), "mlock") ? 0 : F_STANDALONE;
    tp_client_close(standalone);
    return failures;
}

static void test_mlock_failure_reported(void)
{
    tpc_dirs_t dirs;
    TP_ASSERT_OK(tpc_dirs_make(&dirs, "mlockf"));
    tp_transport_t *hold = tpc_driver_hold(&dirs);
    fflush(NULL);
    pid_t pid = fork();
    TP_ASSERT(pid >= 0);
    if (0 == pid)
    {
        _exit(child_main(&dirs));
    }
    int status = 0;
    uint64_t deadline = tp_clock_mono_ns() + 30000000000ull;
    while (0 == waitpid(pid, &status, WNOHANG) && tp_clock_mono_ns() < deadline)
    {
        tp_sleep_ns(10000000);
    }
    if (tp_clock_mono_ns() >= deadline)
    {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    tpc_driver_release(hold);
    tpc_dirs_remove(&dirs);
    TP_ASSERT(WIFEXITED(status));
    if (CHILD_SKIP == WEXITSTATUS(status))
    {
        TP_SKIP("mlock cannot be made to fail here (CAP_IPC_LOCK kept, setrlimit refused, or a sanitizer's "
                "no-op mlock)");
    }
    TP_ASSERT_MSG(0 == WEXITSTATUS(status), "child failures 0x%x (1 driver, 2 add, 4 reported, 8 counted, 16 frames, "
        "32 standalone)", WEXITSTATUS(status));
}

/* True when mlock takes effect here (VmLck grows): ASan, for one, intercepts mlock as a no-op. */
static bool mlock_effective(void)
{
    static char probe[8192] __attribute__((aligned(4096)));
    long before = vm_locked_kb();
    if (before < 0 || 0 != mlock(probe, 4096))
    {
        return false;
    }
    long after = vm_locked_kb();
    munlock(probe, 4096);
    return after > before;
}

static void test_mappings_locked(void)
{
    if (!mlock_effective())
    {
        TP_SKIP("mlock has no effect here (no VmLck, or a sanitizer's no-op interceptor)");
    }
    tpc_dirs_t dirs;
    TP_ASSERT_OK(tpc_dirs_make(&dirs, "mlock"));
    tp_transport_t *hold = tpc_driver_hold(&dirs);
    tp_driver_t *driver = start_driver(&dirs);
    TP_ASSERT(NULL != driver);
    tp_client_t *client = open_client(&dirs, true, true, NULL);
    TP_ASSERT(NULL != client);
    long before = vm_locked_kb();
    tp_producer_t *p = NULL;
    tp_consumer_t *c = NULL;
    rx_t rx = { 0 };
    TP_ASSERT_OK(add_pair(client, &p, &c, &rx));
    pump(client, p, &rx, 20);
    TP_ASSERT(rx.frames >= 20);
    TP_ASSERT(tp_consumer_is_mapped(c));
    long after = vm_locked_kb();
    /* the producer's and the consumer's mappings of the ring (64 x 256 B + superblock) and pool (64 x 1 KiB) */
    TP_ASSERT_MSG(after - before >= 2 * (16 + 64), "VmLck %ld kB -> %ld kB", before, after);
    TP_ASSERT_EQ_U64(0, p->mlock_failures);
    TP_ASSERT_EQ_U64(0, c->mlock_failures);
    TP_ASSERT(tp_context_get_mlock_shm(NULL) == false);
    tp_client_close(client);
    tp_driver_close(driver);
    tpc_driver_release(hold);
    tpc_dirs_remove(&dirs);
}

int main(void)
{
    TP_RUN(test_mlock_failure_reported); /* first: fork before any thread exists */
    TP_RUN(test_mappings_locked);
    return tp_test_finish();
}
