/*
 * Transport benchmark: embedded IPC, the same aeron:ipc channel over the
 * Aeron backend (when built with Aeron; media driver embedded in this
 * process), and a plain Unix-domain socket baseline, in the same run, side
 * by side.
 *
 * For each message size (32 B, 256 B, 4 KiB) and each pattern
 *   - 1to1: one publisher (this process) to one subscriber process, busy spin
 *   - 1to4: one publisher to four subscriber processes, yielding
 * it measures one-way latency (publisher stamps CLOCK_MONOTONIC into each
 * paced message; subscribers compute receive time - stamp; p50/p90/p99/p99.9)
 * and throughput (messages/s from the first send until every subscriber has
 * received every message), and prints one JSON line per (transport, pattern,
 * size) plus one comparison line with the ratios.
 *
 * Usage: tp_transport_bench [--smoke] [--dir DIR] [--pattern 1to1|1to4] [--size N] [--no-pin]
 *                           [--latency-msgs N] [--throughput-msgs N] [--backend embedded|aeron|all]
 *                           [--aeron-dir DIR]
 * --backend: which tensorpool backends to measure (default: all that are built).
 * --aeron-dir: use the media driver already running there instead of embedding one.
 * 1:1 runs pin the publisher to CPU 0 and the subscriber to CPU 1 unless --no-pin.
 */

#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tensor_pool/tp_common.h"
#include "common/tp_clock.h"
#include "common/tp_idle_strategy.h"
#include "transport/tp_transport.h"
#if defined(TP_HAVE_AERON)
#include "transport/aeron/tp_aeron_driver.h"
#endif

#define MAX_SUBS 4

typedef struct
{
    atomic_int ready;
    atomic_int done;
    atomic_uint_fast64_t send_start_ns;
    atomic_uint_fast64_t last_rx_ns[MAX_SUBS];
    atomic_uint_fast64_t received[MAX_SUBS];
    uint64_t latency_count[MAX_SUBS];
} shared_t;

typedef struct
{
    const char *transport; /* "ipc" (embedded backend), "aeron" (aeron backend, aeron:ipc) or "uds" */
    const char *pattern;
    int nsubs;
    bool busy_spin;
    size_t size;
    uint64_t lat_msgs;
    uint64_t tp_msgs;
    uint64_t pace_ns;
} run_cfg_t;

typedef struct
{
    double min, p50, p90, p99, p999, max;
    double msgs_per_s;
    double mb_per_s;
    uint64_t lost;
} run_result_t;

static char g_dir[512];
static const char *g_only_pattern = NULL;
static size_t g_only_size = 0;
static bool g_pin = true;
static char g_aeron_dir[512];  /* aeron dir of the aeron backend runs ("" = not measured) */

/** Transport context of a benchmark run: the embedded backend on g_dir, or Aeron on g_aeron_dir. */
static int bench_context(tp_transport_context_t *ctx, const char *transport)
{
    tp_transport_context_init(ctx);
    if (0 == strcmp(transport, "aeron"))
    {
        return tp_transport_context_set_backend(ctx, "aeron") < 0 ? -1 :
            tp_transport_context_set_dir(ctx, g_aeron_dir);
    }
    return tp_transport_context_set_backend(ctx, "embedded") < 0 ? -1 : tp_transport_context_set_dir(ctx, g_dir);
}

/* 1:1 busy spin: publisher on CPU 0, subscriber on CPU 1 (when there are two CPUs). */
static void pin_cpu(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(0, sizeof(set), &set);
}
static int g_stream = 5000;
static shared_t *g_shared;
static uint64_t *g_lat; /* MAX_SUBS * lat_msgs samples, shared */

static void idle(bool busy_spin)
{
    if (busy_spin)
    {
        tp_cpu_pause();
    }
    else
    {
        sched_yield();
    }
}

/* ---------------------------------------------------------------- subscriber side */

typedef struct
{
    int index;
    const run_cfg_t *cfg;
    uint64_t count;
} sub_ctx_t;

static void on_sample(sub_ctx_t *c, const uint8_t *buf)
{
    uint64_t now = tp_clock_mono_ns();
    uint64_t seq;
    uint64_t ts;
    memcpy(&seq, buf, 8);
    memcpy(&ts, buf + 8, 8);
    if (seq < c->cfg->lat_msgs)
    {
        g_lat[(uint64_t)c->index * c->cfg->lat_msgs + seq] = now - ts;
        g_shared->latency_count[c->index]++;
    }
    c->count++;
    if (c->count == c->cfg->lat_msgs + c->cfg->tp_msgs)
    {
        atomic_store(&g_shared->last_rx_ns[c->index], now);
    }
}

static void on_fragment(void *clientd, const uint8_t *buf, size_t len, const tp_header_t *hdr)
{
    (void)len;
    (void)hdr;
    on_sample(clientd, buf);
}

static int sub_main_ipc(int index, const run_cfg_t *cfg, int stream)
{
    tp_transport_context_t ctx;
    tp_transport_t *t = NULL;
    tp_subscription_t *sub = NULL;
    if (bench_context(&ctx, cfg->transport) < 0 || tp_transport_init(&t, &ctx) < 0 ||
        tp_transport_add_subscription(&sub, t, "aeron:ipc?term-length=4m", stream, NULL, NULL, NULL, NULL, 0) < 0)
    {
        fprintf(stderr, "subscriber %d: %s\n", index, tp_errmsg());
        return 1;
    }
    atomic_fetch_add(&g_shared->ready, 1);
    sub_ctx_t c = { .index = index, .cfg = cfg };
    uint64_t total = cfg->lat_msgs + cfg->tp_msgs;
    uint64_t deadline = tp_clock_mono_ns() + 120000000000ULL;
    uint64_t loops = 0;
    while (c.count < total)
    {
        if (0 == tp_subscription_poll(sub, on_fragment, &c, 64))
        {
            /* duty cycle: often until the publisher's image is known (Aeron announces it there), then rarely */
            if (0 == (++loops & 0xfff) || 0 == tp_subscription_image_count(sub))
            {
                tp_transport_do_work(t);
                if (tp_clock_mono_ns() > deadline || atomic_load(&g_shared->done))
                {
                    break;
                }
            }
            idle(cfg->busy_spin);
        }
    }
    atomic_store(&g_shared->received[index], c.count);
    tp_transport_close(t);
    return 0;
}

static int sub_main_uds(int index, const run_cfg_t *cfg, int fd)
{
    atomic_fetch_add(&g_shared->ready, 1);
    sub_ctx_t c = { .index = index, .cfg = cfg };
    uint64_t total = cfg->lat_msgs + cfg->tp_msgs;
    uint8_t *buf = malloc(cfg->size + 64);
    uint64_t deadline = tp_clock_mono_ns() + 120000000000ULL;
    uint64_t loops = 0;
    while (c.count < total)
    {
        ssize_t n = recv(fd, buf, cfg->size + 64, MSG_DONTWAIT);
        if (n > 0)
        {
            on_sample(&c, buf);
            continue;
        }
        if (0 == (++loops & 0xfff) && (tp_clock_mono_ns() > deadline || atomic_load(&g_shared->done)))
        {
            break;
        }
        idle(cfg->busy_spin);
    }
    atomic_store(&g_shared->received[index], c.count);
    free(buf);
    return 0;
}

/* ---------------------------------------------------------------- publisher side */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a;
    uint64_t y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct(const uint64_t *sorted, uint64_t n, double p)
{
    if (0 == n)
    {
        return 0;
    }
    uint64_t i = (uint64_t)(p * (double)(n - 1) + 0.5);
    return (double)sorted[i];
}

typedef struct
{
    tp_transport_t *t;
    tp_publication_t *pub;
    int fds[MAX_SUBS];
    int nsubs;
    bool ipc;
    bool busy_spin;
} pub_t;

static int pub_send(pub_t *p, const uint8_t *buf, size_t len)
{
    if (p->ipc)
    {
        uint64_t spins = 0;
        for (;;)
        {
            int64_t rc = tp_publication_offer(p->pub, buf, len, NULL, NULL);
            if (rc > 0)
            {
                return 0;
            }
            if (rc != TP_PUBLICATION_BACK_PRESSURED && rc != TP_PUBLICATION_ADMIN_ACTION)
            {
                fprintf(stderr, "offer failed: %" PRId64 " %s\n", rc, tp_errmsg());
                return -1;
            }
            if (0 == (++spins & 0xffff))
            {
                tp_transport_do_work(p->t);
            }
            idle(p->busy_spin);
        }
    }
    for (int i = 0; i < p->nsubs; i++)
    {
        while (send(p->fds[i], buf, len, 0) < 0)
        {
            if (EINTR != errno)
            {
                perror("send");
                return -1;
            }
        }
    }
    return 0;
}

static int run(const run_cfg_t *cfg, run_result_t *res)
{
    bool ipc = 0 != strcmp(cfg->transport, "uds"); /* through tp_transport (either backend) */
    memset(g_shared, 0, sizeof(*g_shared));
    memset(g_lat, 0, sizeof(uint64_t) * MAX_SUBS * cfg->lat_msgs);
    int stream = g_stream++;
    pub_t p = { .nsubs = cfg->nsubs, .ipc = ipc, .busy_spin = cfg->busy_spin };
    int child_fds[MAX_SUBS];
    if (!ipc)
    {
        for (int i = 0; i < cfg->nsubs; i++)
        {
            int sv[2];
            if (0 != socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv))
            {
                perror("socketpair");
                return -1;
            }
            int sz = 4 * 1024 * 1024;
            setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
            setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
            p.fds[i] = sv[0];
            child_fds[i] = sv[1];
        }
    }
    pid_t pids[MAX_SUBS];
    for (int i = 0; i < cfg->nsubs; i++)
    {
        pids[i] = fork();
        if (0 == pids[i])
        {
            if (!ipc)
            {
                for (int j = 0; j < cfg->nsubs; j++)
                {
                    close(p.fds[j]);
                    if (j != i)
                    {
                        close(child_fds[j]);
                    }
                }
            }
            if (g_pin && 1 == cfg->nsubs && sysconf(_SC_NPROCESSORS_ONLN) >= 2)
            {
                pin_cpu(1);
            }
            _exit(ipc ? sub_main_ipc(i, cfg, stream) : sub_main_uds(i, cfg, child_fds[i]));
        }
    }
    if (!ipc)
    {
        for (int i = 0; i < cfg->nsubs; i++)
        {
            close(child_fds[i]);
        }
    }
    int rc = 0;
    cpu_set_t saved;
    sched_getaffinity(0, sizeof(saved), &saved);
    if (g_pin && 1 == cfg->nsubs && sysconf(_SC_NPROCESSORS_ONLN) >= 2)
    {
        pin_cpu(0);
    }
    uint64_t deadline = tp_clock_mono_ns() + 10000000000ULL;
    while (atomic_load(&g_shared->ready) < cfg->nsubs && tp_clock_mono_ns() < deadline)
    {
        tp_sleep_ns(1000000);
    }
    if (ipc)
    {
        tp_transport_context_t ctx;
        if (bench_context(&ctx, cfg->transport) < 0 || tp_transport_init(&p.t, &ctx) < 0 ||
            tp_transport_add_publication(&p.pub, p.t, "aeron:ipc?term-length=4m", stream, 0) < 0)
        {
            fprintf(stderr, "publisher: %s\n", tp_errmsg());
            rc = -1;
        }
        while (0 == rc && !tp_publication_is_connected(p.pub) && tp_clock_mono_ns() < deadline)
        {
            tp_sleep_ns(1000000);
        }
    }
    uint8_t *buf = calloc(1, cfg->size);
    tp_sleep_ns(20000000);
    /* latency phase: paced */
    uint64_t next = tp_clock_mono_ns();
    for (uint64_t seq = 0; 0 == rc && seq < cfg->lat_msgs; seq++)
    {
        next += cfg->pace_ns;
        while (tp_clock_mono_ns() < next)
        {
            idle(cfg->busy_spin);
        }
        uint64_t ts = tp_clock_mono_ns();
        memcpy(buf, &seq, 8);
        memcpy(buf + 8, &ts, 8);
        rc = pub_send(&p, buf, cfg->size);
    }
    /* wait until the latency phase is drained, then the throughput phase: as fast as possible */
    while (0 == rc)
    {
        bool drained = true;
        for (int i = 0; i < cfg->nsubs; i++)
        {
            drained &= g_shared->latency_count[i] >= cfg->lat_msgs;
        }
        if (drained || tp_clock_mono_ns() > deadline + 20000000000ULL)
        {
            break;
        }
        tp_sleep_ns(100000);
    }
    uint64_t start = tp_clock_mono_ns();
    atomic_store(&g_shared->send_start_ns, start);
    for (uint64_t seq = cfg->lat_msgs; 0 == rc && seq < cfg->lat_msgs + cfg->tp_msgs; seq++)
    {
        memcpy(buf, &seq, 8);
        memcpy(buf + 8, &start, 8);
        rc = pub_send(&p, buf, cfg->size);
    }
    uint64_t send_end = tp_clock_mono_ns();
    (void)send_end;
    for (int i = 0; i < cfg->nsubs; i++)
    {
        int status;
        uint64_t wait_deadline = tp_clock_mono_ns() + 60000000000ULL;
        while (0 == waitpid(pids[i], &status, WNOHANG))
        {
            if (ipc && NULL != p.t)
            {
                tp_transport_do_work(p.t);
            }
            if (tp_clock_mono_ns() > wait_deadline)
            {
                atomic_store(&g_shared->done, 1);
            }
            tp_sleep_ns(1000000);
        }
    }
    free(buf);
    sched_setaffinity(0, sizeof(saved), &saved);
    if (ipc)
    {
        tp_transport_close(p.t);
    }
    else
    {
        for (int i = 0; i < cfg->nsubs; i++)
        {
            close(p.fds[i]);
        }
    }
    /* results */
    uint64_t n = 0;
    uint64_t *all = malloc(sizeof(uint64_t) * MAX_SUBS * cfg->lat_msgs + 8);
    uint64_t last = 0;
    uint64_t lost = 0;
    for (int i = 0; i < cfg->nsubs; i++)
    {
        for (uint64_t k = 0; k < cfg->lat_msgs; k++)
        {
            uint64_t v = g_lat[(uint64_t)i * cfg->lat_msgs + k];
            if (0 != v)
            {
                all[n++] = v;
            }
        }
        uint64_t got = atomic_load(&g_shared->received[i]);
        lost += cfg->lat_msgs + cfg->tp_msgs - got;
        uint64_t l = atomic_load(&g_shared->last_rx_ns[i]);
        last = l > last ? l : last;
    }
    qsort(all, n, sizeof(uint64_t), cmp_u64);
    res->min = n ? (double)all[0] : 0;
    res->p50 = pct(all, n, 0.50);
    res->p90 = pct(all, n, 0.90);
    res->p99 = pct(all, n, 0.99);
    res->p999 = pct(all, n, 0.999);
    res->max = n ? (double)all[n - 1] : 0;
    double secs = last > start ? (double)(last - start) / 1e9 : 0;
    res->msgs_per_s = secs > 0 ? (double)cfg->tp_msgs / secs : 0;
    res->mb_per_s = res->msgs_per_s * (double)cfg->size / 1e6;
    res->lost = lost;
    free(all);
    return rc;
}

static void print_result(const run_cfg_t *cfg, const run_result_t *r)
{
    printf("{\"bench\":\"transport\",\"transport\":\"%s\",\"pattern\":\"%s\",\"subscribers\":%d,\"idle\":\"%s\","
        "\"size\":%zu,\"latency_msgs\":%" PRIu64 ",\"throughput_msgs\":%" PRIu64 ",\"lat_min_ns\":%.0f,\"lat_p50_ns\":%.0f,"
        "\"lat_p90_ns\":%.0f,\"lat_p99_ns\":%.0f,\"lat_p999_ns\":%.0f,\"lat_max_ns\":%.0f,\"msgs_per_s\":%.0f,"
        "\"mb_per_s\":%.1f,\"lost\":%" PRIu64 "}\n",
        cfg->transport, cfg->pattern, cfg->nsubs, cfg->busy_spin ? "busy_spin" : "yield", cfg->size, cfg->lat_msgs,
        cfg->tp_msgs, r->min, r->p50, r->p90, r->p99, r->p999, r->max, r->msgs_per_s, r->mb_per_s, r->lost);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    bool smoke = false;
    uint64_t lat_msgs = 100000;
    uint64_t tp_msgs = 0;
    char own_dir[256] = "";
    const char *backends = "all";
    for (int i = 1; i < argc; i++)
    {
        if (0 == strcmp(argv[i], "--smoke"))
        {
            smoke = true;
        }
        else if (0 == strcmp(argv[i], "--dir") && i + 1 < argc)
        {
            snprintf(g_dir, sizeof(g_dir), "%s", argv[++i]);
        }
        else if (0 == strcmp(argv[i], "--pattern") && i + 1 < argc)
        {
            g_only_pattern = argv[++i];
        }
        else if (0 == strcmp(argv[i], "--size") && i + 1 < argc)
        {
            g_only_size = strtoull(argv[++i], NULL, 10);
        }
        else if (0 == strcmp(argv[i], "--backend") && i + 1 < argc)
        {
            backends = argv[++i];
        }
        else if (0 == strcmp(argv[i], "--aeron-dir") && i + 1 < argc)
        {
            snprintf(g_aeron_dir, sizeof(g_aeron_dir), "%s", argv[++i]);
        }
        else if (0 == strcmp(argv[i], "--no-pin"))
        {
            g_pin = false;
        }
        else if (0 == strcmp(argv[i], "--latency-msgs") && i + 1 < argc)
        {
            lat_msgs = strtoull(argv[++i], NULL, 10);
        }
        else if (0 == strcmp(argv[i], "--throughput-msgs") && i + 1 < argc)
        {
            tp_msgs = strtoull(argv[++i], NULL, 10);
        }
        else
        {
            fprintf(stderr, "usage: %s [--smoke] [--dir DIR] [--pattern 1to1|1to4] [--size N] [--no-pin] "
                "[--latency-msgs N] [--throughput-msgs N] [--backend embedded|aeron|all] [--aeron-dir DIR]\n",
                argv[0]);
            return 2;
        }
    }
    if (smoke)
    {
        lat_msgs = 2000;
    }
    if ('\0' == g_dir[0])
    {
        snprintf(own_dir, sizeof(own_dir), "/dev/shm/tp-bench-%d-XXXXXX", (int)getpid());
        if (NULL == mkdtemp(own_dir))
        {
            perror("mkdtemp");
            return 1;
        }
        snprintf(g_dir, sizeof(g_dir), "%s", own_dir);
    }
    bool run_embedded = 0 == strcmp(backends, "all") || 0 == strcmp(backends, "embedded");
    bool run_aeron = 0 == strcmp(backends, "all") || 0 == strcmp(backends, "aeron");
    if (!run_embedded && !run_aeron)
    {
        fprintf(stderr, "--backend must be embedded, aeron or all\n");
        return 2;
    }
#if defined(TP_HAVE_AERON)
    /* The Aeron runs: a media driver embedded in this (publisher) process, unless one runs at --aeron-dir. */
    tp_aeron_media_driver_t *driver = NULL;
    if (run_aeron && '\0' == g_aeron_dir[0])
    {
        snprintf(g_aeron_dir, sizeof(g_aeron_dir), "%s.aeron", g_dir);
        if (!tp_aeron_media_driver_supported() || tp_aeron_media_driver_start(&driver, g_aeron_dir, 0) < 0)
        {
            fprintf(stderr, "aeron backend not measured: %s\n", tp_aeron_media_driver_supported() ? tp_errmsg() :
                "no embedded media driver in this build (use --aeron-dir)");
            g_aeron_dir[0] = '\0';
        }
    }
    if (!run_aeron)
    {
        g_aeron_dir[0] = '\0';
    }
#else
    if (run_aeron && 0 != strcmp(backends, "all"))
    {
        fprintf(stderr, "this build has no Aeron backend (configure with -DTP_WITH_AERON=ON)\n");
        return 2;
    }
    g_aeron_dir[0] = '\0';
#endif
    g_shared = mmap(NULL, sizeof(shared_t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    g_lat = mmap(NULL, sizeof(uint64_t) * MAX_SUBS * lat_msgs + 8, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
        -1, 0);
    if (MAP_FAILED == (void *)g_shared || MAP_FAILED == (void *)g_lat)
    {
        perror("mmap");
        return 1;
    }
    const size_t sizes[] = { 32, 256, 4096 };
    const struct
    {
        const char *name;
        int nsubs;
        bool busy;
        uint64_t pace_ns;
    } patterns[] = { { "1to1", 1, true, 5000 }, { "1to4", 4, false, 50000 } };
    int rc = 0;
    for (size_t pi = 0; pi < 2; pi++)
    {
        for (size_t si = 0; si < 3; si++)
        {
            if ((NULL != g_only_pattern && 0 != strcmp(g_only_pattern, patterns[pi].name)) ||
                (0 != g_only_size && g_only_size != sizes[si]))
            {
                continue;
            }
            uint64_t n_tp = tp_msgs;
            if (0 == n_tp)
            {
                n_tp = smoke ? 20000 : (sizes[si] >= 4096 ? 200000 : 2000000);
                if (patterns[pi].nsubs > 1)
                {
                    n_tp /= 5;
                }
            }
            run_cfg_t cfg = { .pattern = patterns[pi].name, .nsubs = patterns[pi].nsubs,
                .busy_spin = patterns[pi].busy, .size = sizes[si], .lat_msgs = smoke ? 2000 : lat_msgs,
                .tp_msgs = n_tp, .pace_ns = smoke ? 20000 : patterns[pi].pace_ns };
            if (patterns[pi].nsubs > 1 && !smoke)
            {
                cfg.lat_msgs = lat_msgs / 5;
            }
            run_result_t ipc_r = { 0 };
            run_result_t aeron_r = { 0 };
            run_result_t uds_r = { 0 };
            if (run_embedded)
            {
                cfg.transport = "ipc";
                rc |= run(&cfg, &ipc_r);
                print_result(&cfg, &ipc_r);
            }
            if ('\0' != g_aeron_dir[0])
            {
                cfg.transport = "aeron";
                rc |= run(&cfg, &aeron_r);
                print_result(&cfg, &aeron_r);
            }
            cfg.transport = "uds";
            rc |= run(&cfg, &uds_r);
            print_result(&cfg, &uds_r);
            printf("{\"bench\":\"transport_compare\",\"pattern\":\"%s\",\"size\":%zu,\"ipc_lat_p50_ns\":%.0f,"
                "\"uds_lat_p50_ns\":%.0f,\"ipc_lat_p99_ns\":%.0f,\"uds_lat_p99_ns\":%.0f,"
                "\"lat_p50_speedup\":%.2f,\"lat_p99_speedup\":%.2f,\"ipc_msgs_per_s\":%.0f,\"uds_msgs_per_s\":%.0f,"
                "\"throughput_ratio\":%.2f",
                cfg.pattern, cfg.size, ipc_r.p50, uds_r.p50, ipc_r.p99, uds_r.p99,
                ipc_r.p50 > 0 ? uds_r.p50 / ipc_r.p50 : 0, ipc_r.p99 > 0 ? uds_r.p99 / ipc_r.p99 : 0,
                ipc_r.msgs_per_s, uds_r.msgs_per_s, uds_r.msgs_per_s > 0 ? ipc_r.msgs_per_s / uds_r.msgs_per_s : 0);
            if ('\0' != g_aeron_dir[0])
            {
                /* embedded vs Aeron backend: > 1 means the embedded backend is faster */
                printf(",\"aeron_lat_p50_ns\":%.0f,\"aeron_lat_p99_ns\":%.0f,\"aeron_msgs_per_s\":%.0f,"
                    "\"embedded_vs_aeron_lat_p50\":%.2f,\"embedded_vs_aeron_throughput\":%.2f",
                    aeron_r.p50, aeron_r.p99, aeron_r.msgs_per_s, ipc_r.p50 > 0 ? aeron_r.p50 / ipc_r.p50 : 0,
                    aeron_r.msgs_per_s > 0 ? ipc_r.msgs_per_s / aeron_r.msgs_per_s : 0);
            }
            printf("}\n");
            fflush(stdout);
            if (ipc_r.lost || aeron_r.lost || uds_r.lost)
            {
                fprintf(stderr, "messages lost: ipc %" PRIu64 " aeron %" PRIu64 " uds %" PRIu64 "\n", ipc_r.lost,
                    aeron_r.lost, uds_r.lost);
                rc = 1;
            }
        }
    }
    if ('\0' != own_dir[0])
    {
        rmdir(own_dir);
    }
#if defined(TP_HAVE_AERON)
    if (NULL != driver && tp_aeron_media_driver_close(driver) < 0)
    {
        fprintf(stderr, "media driver close: %s\n", tp_errmsg());
    }
#endif
    return 0 == rc ? 0 : 1;
}
