/*
 * The bridge across processes: a sender process (host A) and a receiver
 * process (host B) joined only by embedded UDP on 127.0.0.1; this process
 * produces ONE MILLION frames on stream 10000 of host A (small frames, every
 * 1000th a 6000-byte multi-chunk frame) and consumes stream 20000 on host B.
 * The sender injects loss (whole single-chunk frames and one chunk of some
 * multi-chunk frames). Checked: every delivered frame's bytes, length and
 * trace id match its seq (never a partial or corrupt frame); no frame with an
 * injected loss is delivered; sequence numbers increase; and every frame that
 * did not arrive is accounted for by a counted drop (sender, receiver, UDP
 * loss or the consumer). End-to-end window: the producer stays at most
 * TPB_WINDOW frames ahead of the last delivered one, so UDP socket buffers do
 * not overflow on a busy machine (no retransmission in embedded UDP).
 *
 * TP_BRIDGE_FRAMES overrides the frame count (e.g. for a quick local run).
 */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "tp_bridge_test_util.h"
#include "bridge/tp_bridge.h"
#include "client/tpc_children.h"
#include "common/tp_error.h"
#include "common/tp_idle_strategy.h"

#define TPB_WINDOW 256u
#define TPB_BIG_EVERY 1000u
#define TPB_BIG_LEN 6000u

static uint32_t frame_len(uint64_t seq)
{
    return 0 == seq % TPB_BIG_EVERY ? TPB_BIG_LEN : 32u + (uint32_t)(seq % 128u);
}

static void fill(uint8_t *p, uint32_t len, uint64_t seq)
{
    uint8_t a = (uint8_t)(seq * 131u);
    uint8_t b = (uint8_t)(seq >> 8);
    for (uint32_t i = 0; i < len; i++)
    {
        p[i] = (uint8_t)(a + (uint8_t)(i * 7u)) ^ b;
    }
}

/* The loss the sender injects: the only chunk of some small frames, one chunk (first, middle or last) of some big ones. */
static bool injected(uint64_t seq, uint32_t chunk_index, uint32_t chunk_count)
{
    if (chunk_count > 1)
    {
        uint64_t k = seq / TPB_BIG_EVERY;
        return 3 == k % 7 && chunk_index == (uint32_t)((k / 7) % chunk_count);
    }
    return 11 == seq % 1009;
}

static bool frame_injected(uint64_t seq)
{
    return frame_len(seq) > 1100 ? 3 == (seq / TPB_BIG_EVERY) % 7 : 11 == seq % 1009;
}

static bool drop_hook(void *clientd, uint32_t stream_id, uint64_t seq, uint32_t chunk_index, uint32_t chunk_count)
{
    (void)clientd;
    (void)stream_id;
    return injected(seq, chunk_index, chunk_count);
}

static volatile sig_atomic_t child_stop = 0;

static void on_term(int sig)
{
    (void)sig;
    child_stop = 1;
}

/* A bridge child: run until SIGTERM, then print a flat JSON line of counters on stdout (the output file). */
static int child_main(const char *role, const tpc_dirs_t *d, const int *ports, const char *out)
{
    int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0)
    {
        dup2(fd, 1);
        close(fd);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    static char text[4096];
    static tp_bridge_config_t cfg;
    tpb_config_text(text, sizeof(text), role, d, ports, "assembly_timeout_ms = 100\n", "aeron:ipc");
    tp_bridge_config_defaults(&cfg);
    tp_bridge_options_t opts = { 0 };
    opts.drop_chunk = 's' == role[0] ? drop_hook : NULL;
    tp_bridge_t *b = NULL;
    if (tp_bridge_config_load_string(&cfg, text, strlen(text), role) < 0 || tp_bridge_init(&b, &cfg, &opts) < 0)
    {
        printf("{\"error\":1}\n");
        fprintf(stderr, "bridge %s child: %s\n", role, tp_errmsg());
        return 3;
    }
    tp_idle_strategy_t idle;
    tp_idle_strategy_init_backoff(&idle, 50, 20, 20000, 200000);
    uint64_t deadline = tp_clock_mono_ns() + 170ull * 1000000000ull;
    while (!child_stop && tp_clock_mono_ns() < deadline)
    {
        tp_idle_strategy_idle(&idle, tp_bridge_do_work(b));
    }
    tp_bridge_stats_t s;
    tp_bridge_stats(b, &s);
    uint64_t sdrops = 0;
    for (int k = 0; k < TP_BRIDGE_SEND_DROP_COUNT; k++)
    {
        sdrops += s.sender.frame_drops[k];
    }
    uint64_t rdrops = 0;
    for (int k = 0; k < TP_BRIDGE_DROP_COUNT; k++)
    {
        rdrops += s.receiver.drops[k];
    }
    printf("{\"frames\":%llu,\"frames_sent\":%llu,\"chunks_sent\":%llu,\"sender_drops\":%llu,\"injected\":%llu,"
           "\"torn\":%llu,\"source_gaps\":%llu,\"chunks\":%llu,\"completed\":%llu,\"published\":%llu,"
           "\"rx_drops\":%llu,\"timeouts\":%llu,\"evicted\":%llu,\"stale\":%llu,\"udp_lost\":%llu,\"crc\":%llu,"
           "\"bad_header\":%llu}\n",
        (unsigned long long)s.sender.frames, (unsigned long long)s.sender.frames_sent,
        (unsigned long long)s.sender.chunks_sent, (unsigned long long)sdrops,
        (unsigned long long)s.sender.frame_drops[TP_BRIDGE_SEND_INJECTED],
        (unsigned long long)s.sender.frame_drops[TP_BRIDGE_SEND_TORN], (unsigned long long)s.sender.source_gaps,
        (unsigned long long)s.receiver.chunks, (unsigned long long)s.receiver.frames_completed,
        (unsigned long long)s.receiver.frames_published, (unsigned long long)rdrops,
        (unsigned long long)s.receiver.drops[TP_BRIDGE_DROP_TIMEOUT],
        (unsigned long long)s.receiver.drops[TP_BRIDGE_DROP_EVICTED],
        (unsigned long long)s.receiver.drops[TP_BRIDGE_DROP_STALE_SEQ],
        (unsigned long long)s.receiver.udp_lost_messages, (unsigned long long)s.receiver.drops[TP_BRIDGE_DROP_CRC],
        (unsigned long long)s.receiver.drops[TP_BRIDGE_DROP_BAD_HEADER]);
    fflush(stdout);
    tp_bridge_close(b);
    return 0;
}

typedef struct
{
    uint64_t count;
    uint64_t bad;
    uint64_t injected_delivered;
    uint64_t out_of_order;
    uint64_t big;
    uint64_t last_seq;
    bool any;
    uint64_t last_progress_ns;
} rx_t;

static void on_frame(void *clientd, const tp_frame_t *f)
{
    rx_t *rx = clientd;
    static uint8_t expect[TPB_BIG_LEN];
    uint32_t len = frame_len(f->seq);
    bool ok = f->length == len && f->trace_id == f->seq + 1;
    if (ok)
    {
        fill(expect, len, f->seq);
        ok = 0 == memcmp(expect, f->payload, len) && tp_frame_is_valid(f);
    }
    rx->bad += ok ? 0 : 1;
    rx->injected_delivered += frame_injected(f->seq) ? 1 : 0;
    rx->out_of_order += rx->any && f->seq <= rx->last_seq ? 1 : 0;
    rx->big += len > 1100 ? 1 : 0;
    rx->any = true;
    rx->last_seq = f->seq;
    rx->count++;
    rx->last_progress_ns = tp_clock_mono_ns();
}

static void test_million_frames_two_processes(void)
{
    TPC_SKIP_ON_AERON("both simulated hosts would start embedded media drivers from several processes at once");
    uint64_t n_frames = 1000000;
    const char *env = getenv("TP_BRIDGE_FRAMES");
    if (NULL != env && atoll(env) > 0)
    {
        n_frames = (uint64_t)atoll(env);
    }
    tpc_dirs_t da;
    tpc_dirs_t db;
    TP_ASSERT_OK(tpc_dirs_make(&da, "brma"));
    TP_ASSERT_OK(tpc_dirs_make(&db, "brmb"));
    int ports[3] = { tpb_free_udp_port(), tpb_free_udp_port(), tpb_free_udp_port() };
    TP_ASSERT(0 != ports[0] && 0 != ports[1] && 0 != ports[2]);
    char out_s[512];
    char out_r[512];
    snprintf(out_s, sizeof(out_s), "%s/sender.json", da.root);
    snprintf(out_r, sizeof(out_r), "%s/receiver.json", db.root);
    fflush(NULL);
    pid_t rpid = fork();
    if (0 == rpid)
    {
        _exit(child_main("receiver", &db, ports, out_r));
    }
    tpc_child_track(rpid);
    pid_t spid = fork();
    if (0 == spid)
    {
        _exit(child_main("sender", &da, ports, out_s));
    }
    tpc_child_track(spid);
    TP_ASSERT(rpid > 0 && spid > 0);

    tp_context_t *ctxa = tpc_context(&da);
    tp_context_t *ctxb = tpc_context(&db);
    tp_client_t *ca = NULL;
    tp_client_t *cb = NULL;
    tp_producer_t *prod = NULL;
    tp_consumer_t *cons = NULL;
    rx_t rx;
    memset(&rx, 0, sizeof(rx));
    bool setup_ok = 0 == tp_client_init(&ca, ctxa) && 0 == tp_client_init(&cb, ctxb);
    if (setup_ok)
    {
        tp_producer_config_t pc;
        tp_producer_config_defaults(&pc);
        pc.stream_id = 10000;
        pc.header_nslots = 4096;
        pc.pool_count = 2;
        pc.pools[0] = (tp_pool_config_t){ 1, 256 };
        pc.pools[1] = (tp_pool_config_t){ 2, 8192 };
        tp_consumer_config_t cc;
        tp_consumer_config_defaults(&cc);
        cc.stream_id = 20000;
        cc.on_frame = on_frame;
        cc.clientd = &rx;
        cc.max_outstanding_seq_gap = 0;
        cc.fragment_limit = 256;
        setup_ok = 0 == tp_client_add_producer(&prod, ca, &pc, 0) && 0 == tp_client_add_consumer(&cons, cb, &cc, 0);
    }
    if (setup_ok)
    {
        /* The receiver creates stream 20000 once the sender forwarded the first announce. */
        uint64_t dl = tp_clock_mono_ns() + 20000000000ull;
        while (!tp_consumer_is_mapped(cons) && tp_clock_mono_ns() < dl)
        {
            if (tp_client_do_work(ca) + tp_client_do_work(cb) <= 0)
            {
                tp_sleep_ns(200000);
            }
        }
        setup_ok = tp_consumer_is_mapped(cons);
        dl = tp_clock_mono_ns() + 300000000ull; /* UDP status messages: the sender's publication connects */
        while (tp_clock_mono_ns() < dl)
        {
            tp_client_do_work(ca);
            tp_client_do_work(cb);
            tp_sleep_ns(1000000);
        }
    }
    uint64_t produced = 0;
    uint64_t start = tp_clock_mono_ns();
    if (setup_ok)
    {
        static uint8_t buf[TPB_BIG_LEN];
        uint64_t base = 0;
        uint64_t deadline = start + 150ull * 1000000000ull;
        rx.last_progress_ns = start;
        tp_idle_strategy_t idle;
        tp_idle_strategy_init_backoff(&idle, 50, 20, 20000, 200000);
        while (produced < n_frames && tp_clock_mono_ns() < deadline)
        {
            uint64_t now = tp_clock_mono_ns();
            if (rx.any && rx.last_seq + 1 > base)
            {
                base = rx.last_seq + 1;
            }
            if (now - rx.last_progress_ns > 30000000ull)
            {
                base = produced; /* the window's frames were lost: go on */
                rx.last_progress_ns = now;
            }
            int work = 0;
            while (produced < n_frames && produced < base + TPB_WINDOW)
            {
                uint32_t len = frame_len(produced);
                fill(buf, len, produced);
                tp_frame_options_t o = { .timestamp_ns = 0, .trace_id = produced + 1 };
                int64_t r = tp_producer_offer(prod, NULL, buf, len, &o);
                if (TP_PRODUCER_BACK_PRESSURED == r)
                {
                    break;
                }
                TP_ASSERT_EQ_I64((int64_t)produced, r);
                produced++;
                work++;
            }
            work += tp_client_do_work(ca);
            work += tp_client_do_work(cb);
            tp_idle_strategy_idle(&idle, work);
        }
        /* Drain: until the last frames arrived or nothing moved for 1 s. */
        uint64_t quiet = tp_clock_mono_ns();
        uint64_t seen = rx.count;
        while (tp_clock_mono_ns() - quiet < 1000000000ull && !(rx.any && rx.last_seq + 1 >= produced))
        {
            if (tp_client_do_work(ca) + tp_client_do_work(cb) <= 0)
            {
                tp_sleep_ns(200000);
            }
            if (rx.count != seen)
            {
                seen = rx.count;
                quiet = tp_clock_mono_ns();
            }
        }
    }
    double secs = (double)(tp_clock_mono_ns() - start) / 1e9;
    tp_consumer_stats_t cs;
    memset(&cs, 0, sizeof(cs));
    if (NULL != cons)
    {
        tp_consumer_stats(cons, &cs);
    }
    kill(spid, SIGTERM);
    kill(rpid, SIGTERM);
    int s_rc = tpc_wait_child(spid, 15000);
    int r_rc = tpc_wait_child(rpid, 15000);
    fprintf(stderr, "  produced %llu, delivered %llu (%llu multi-chunk) in %.1f s; consumer drops_gap %llu late %llu\n",
        (unsigned long long)produced, (unsigned long long)rx.count, (unsigned long long)rx.big, secs,
        (unsigned long long)cs.drops_gap, (unsigned long long)cs.drops_late);
    tpc_output_dump(da.root, "sender.json");
    tpc_output_dump(db.root, "receiver.json");
    TP_ASSERT(setup_ok);
    TP_ASSERT_EQ_I64(0, s_rc);
    TP_ASSERT_EQ_I64(0, r_rc);
    TP_ASSERT_EQ_U64(n_frames, produced);
    /* Never a partial, corrupt or reordered frame; never a frame that lost a chunk. */
    TP_ASSERT_EQ_U64(0, rx.bad);
    TP_ASSERT_EQ_U64(0, rx.out_of_order);
    TP_ASSERT_EQ_U64(0, rx.injected_delivered);
    TP_ASSERT(rx.count > 0);
    TP_ASSERT(rx.big > 0);
    uint64_t injected_frames = 0;
    for (uint64_t s = 0; s < produced; s++)
    {
        injected_frames += frame_injected(s) ? 1 : 0;
    }
    double s_injected = tpc_output_field(da.root, "sender.json", "injected");
    double s_drops = tpc_output_field(da.root, "sender.json", "sender_drops");
    double s_gaps = tpc_output_field(da.root, "sender.json", "source_gaps");
    double r_drops = tpc_output_field(db.root, "receiver.json", "rx_drops");
    double r_lost = tpc_output_field(db.root, "receiver.json", "udp_lost");
    double r_partial = tpc_output_field(db.root, "receiver.json", "timeouts") +
        tpc_output_field(db.root, "receiver.json", "evicted") + tpc_output_field(db.root, "receiver.json", "stale");
    double r_published = tpc_output_field(db.root, "receiver.json", "published");
    TP_ASSERT(s_injected >= 0 && s_drops >= 0 && s_gaps >= 0 && r_drops >= 0 && r_lost >= 0);
    /* The sender saw every injected frame (unless the source itself skipped it) and counted each once. */
    TP_ASSERT((double)injected_frames >= s_injected);
    TP_ASSERT(s_injected + s_gaps >= (double)injected_frames);
    /* Multi-chunk frames with a missing chunk were assembled partly, then dropped and counted. */
    TP_ASSERT(r_partial > 0);
    TP_ASSERT_EQ_U64(0, (uint64_t)tpc_output_field(db.root, "receiver.json", "crc"));
    TP_ASSERT_EQ_U64(0, (uint64_t)tpc_output_field(db.root, "receiver.json", "bad_header"));
    /* What the receiver published is what the consumer got (plus what it counted as overwritten). */
    TP_ASSERT((double)rx.count <= r_published);
    TP_ASSERT((double)(rx.count + cs.drops_late) >= r_published);
    /* Every frame that did not arrive is accounted for by a counted drop somewhere. */
    double missing = (double)(produced - rx.count);
    double explained = s_drops + s_gaps + r_drops + r_lost + (double)cs.drops_late;
    TP_ASSERT_MSG(missing <= explained, "%.0f frames missing, only %.0f drops counted", missing, explained);
    /* Without uncontrolled loss (UDP, source laps, overwrites, local back pressure), exactly the rest arrived. */
    if (0 == r_lost && 0 == s_gaps && 0 == cs.drops_late && s_drops == s_injected && r_drops == r_partial)
    {
        TP_ASSERT_EQ_U64(produced - injected_frames, rx.count);
    }
    else
    {
        fprintf(stderr, "  uncontrolled loss present (UDP %.0f, source %.0f, late %llu): exact count not checked\n",
            r_lost, s_gaps, (unsigned long long)cs.drops_late);
    }
    if (NULL != cons)
    {
        tp_consumer_close(cons);
    }
    if (NULL != prod)
    {
        tp_producer_close(prod);
    }
    tp_client_close(ca);
    tp_client_close(cb);
    tp_context_close(ctxa);
    tp_context_close(ctxb);
    tpc_dirs_remove(&da);
    tpc_dirs_remove(&db);
}

int main(void)
{
    TP_RUN(test_million_frames_two_processes);
    return tp_test_finish();
}
