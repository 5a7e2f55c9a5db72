/*
 * Consumer hardening (issue 10): refused announces are logged (warn,
 * rate-limited per reason), FrameProgress regressions are dropped and
 * counted, descriptors before any mapping are counted as unmapped, frames
 * carry the current meta_version, the allow-list holds under a real /dev/shm
 * directory, and a second producer on the same stream is detected.
 * argv[1]: the golden vectors directory (messages are patched from them).
 */
#include <limits.h>
#include <pwd.h>
#include <sys/stat.h>

#include "tp_client_test_util.h"
#include "tp_sbe/wire.h"

static const char *g_vectors;

static size_t load_vector(const char *name, uint8_t *buf, size_t cap)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/wire/%s", g_vectors, name);
    FILE *f = fopen(path, "rb");
    if (NULL == f)
    {
        return 0;
    }
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

static void on_frame_ignore(void *clientd, const tp_frame_t *frame)
{
    (void)clientd;
    (void)frame;
}

/* A raw transport on the client's directory, to inject hand-made messages. */
typedef struct
{
    tp_transport_t *t;
    tp_publication_t *pub;
} raw_pub_t;

static int raw_pub_open(raw_pub_t *r, const tpc_dirs_t *d, int32_t stream)
{
    tp_transport_context_t tctx;
    tp_transport_context_init(&tctx);
    if (tp_transport_context_set_dir(&tctx, d->transport) < 0 || tp_transport_init(&r->t, &tctx) < 0 ||
        tp_transport_add_publication(&r->pub, r->t, "aeron:ipc", stream, 0) < 0)
    {
        return -1;
    }
    return 0;
}

static void raw_send(raw_pub_t *r, tp_client_t *client, const uint8_t *buf, size_t len)
{
    uint64_t deadline = tp_clock_mono_ns() + 2000000000ULL;
    while (tp_publication_offer(r->pub, buf, len, NULL, NULL) < 0 && tp_clock_mono_ns() < deadline)
    {
        tp_client_do_work(client);
    }
}

/* ------------------------------------------------------------------------- */
/* Refusals are logged: one warn line per reason per second                   */
/* ------------------------------------------------------------------------- */

typedef struct
{
    int lines[TP_ANNOUNCE_REJECT_COUNT];
    int suppressed_mentions;
    int other;
} log_capture_t;

static log_capture_t g_log;

static void capture(void *clientd, tp_log_level_t level, const char *module, const char *line)
{
    (void)clientd;
    if (TP_LOG_LEVEL_WARN != level || NULL == module || 0 != strcmp(module, "consumer") ||
        NULL == strstr(line, "ShmPoolAnnounce refused"))
    {
        g_log.other++;
        return;
    }
    for (int r = 0; r < TP_ANNOUNCE_REJECT_COUNT; r++)
    {
        char needle[64];
        snprintf(needle, sizeof(needle), "(%s,", tp_announce_reject_name(r));
        if (NULL != strstr(line, needle))
        {
            g_log.lines[r]++;
        }
    }
    if (NULL != strstr(line, "more since the last report"))
    {
        g_log.suppressed_mentions++;
    }
}

static void send_rejected_announces(raw_pub_t *r, tp_client_t *client, int n)
{
    uint8_t good[512];
    size_t len = load_vector("ShmPoolAnnounce.bin", good, sizeof(good));
    TP_ASSERT(len > 40);
    for (int i = 0; i < n; i++)
    {
        uint8_t b[512];
        tp_sbe_wire_shm_pool_announce_t m;
        /* truncated: DECODE */
        raw_send(r, client, good, 20);
        /* stale (timestamp 0, MONOTONIC): STALE */
        memcpy(b, good, len);
        TP_ASSERT_EQ_I64(TP_SBE_OK, tp_sbe_wire_shm_pool_announce_wrap_for_decode_with_header(&m, b, 0, len));
        tp_sbe_wire_shm_pool_announce_set_stream_id(&m, 10000);
        tp_sbe_wire_shm_pool_announce_set_announce_clock_domain(&m, TP_SBE_WIRE_CLOCK_DOMAIN_MONOTONIC);
        tp_sbe_wire_shm_pool_announce_set_announce_timestamp_ns(&m, 1);
        raw_send(r, client, b, len);
        /* fresh, but the vector's layout_version: LAYOUT_VERSION */
        tp_sbe_wire_shm_pool_announce_set_announce_timestamp_ns(&m, tp_clock_mono_ns());
        raw_send(r, client, b, len);
        tp_client_do_work(client);
    }
}

static void test_refusals_are_logged_rate_limited(void)
{
    tpc_dirs_t d;
    TP_ASSERT_OK(tpc_dirs_make(&d, "rejlog"));
    tp_context_t *ctx = tpc_context(&d);
    TP_ASSERT(NULL != ctx);
    tp_client_t *client = NULL;
    TP_ASSERT_OK(tp_client_init(&client, ctx));
    tp_context_close(ctx);
    tp_consumer_config_t cc;
    tp_consumer_config_defaults(&cc);
    cc.on_frame = on_frame_ignore;
    tp_consumer_t *c = NULL;
    TP_ASSERT_OK(tp_client_add_consumer(&c, client, &cc, 5000000000u));
    raw_pub_t r = { 0 };
    TP_ASSERT_OK(raw_pub_open(&r, &d, 1000));
    TPC_WAIT_UNTIL(client, tp_publication_is_connected(r.pub), 3000);
    tp_log_level_t saved = tp_log_level();
    tp_log_set_level(TP_LOG_LEVEL_WARN);
    memset(&g_log, 0, sizeof(g_log));
    tp_log_set_handler(capture, NULL);

    uint64_t t0 = tp_clock_mono_ns();
    send_rejected_announces(&r, client, 20);
    TPC_WAIT_UNTIL(client, false, 50);
    tp_consumer_stats_t st;
    TP_ASSERT_OK(tp_consumer_stats(c, &st));
    bool fast = tp_clock_mono_ns() - t0 < 900000000ULL; /* all within one interval (not on an overloaded host) */
    TP_ASSERT_EQ_U64(20, st.announces_rejected[TP_ANNOUNCE_REJECT_DECODE]);
    TP_ASSERT_EQ_U64(20, st.announces_rejected[TP_ANNOUNCE_REJECT_STALE]);
    TP_ASSERT_EQ_U64(20, st.announces_rejected[TP_ANNOUNCE_REJECT_LAYOUT_VERSION]);
    TP_ASSERT_EQ_I64(1, g_log.lines[TP_ANNOUNCE_REJECT_DECODE] >= 1);
    if (fast)
    {
        TP_ASSERT_EQ_I64(1, g_log.lines[TP_ANNOUNCE_REJECT_DECODE]);
        TP_ASSERT_EQ_I64(1, g_log.lines[TP_ANNOUNCE_REJECT_STALE]);
        TP_ASSERT_EQ_I64(1, g_log.lines[TP_ANNOUNCE_REJECT_LAYOUT_VERSION]);
        TP_ASSERT_EQ_I64(0, g_log.suppressed_mentions);
    }
    /* next interval: one more line per reason, saying how many were suppressed */
    tp_sleep_ns(1050000000ULL);
    int before[TP_ANNOUNCE_REJECT_COUNT];
    memcpy(before, g_log.lines, sizeof(before));
    send_rejected_announces(&r, client, 5);
    TPC_WAIT_UNTIL(client, false, 50);
    TP_ASSERT(g_log.lines[TP_ANNOUNCE_REJECT_DECODE] - before[TP_ANNOUNCE_REJECT_DECODE] >= 1);
    if (tp_clock_mono_ns() - t0 < 1900000000ULL)
    {
        TP_ASSERT_EQ_I64(1, g_log.lines[TP_ANNOUNCE_REJECT_DECODE] - before[TP_ANNOUNCE_REJECT_DECODE]);
        TP_ASSERT_EQ_I64(1, g_log.lines[TP_ANNOUNCE_REJECT_STALE] - before[TP_ANNOUNCE_REJECT_STALE]);
        TP_ASSERT_EQ_I64(1, g_log.lines[TP_ANNOUNCE_REJECT_LAYOUT_VERSION] - before[TP_ANNOUNCE_REJECT_LAYOUT_VERSION]);
        TP_ASSERT_EQ_I64(3, g_log.suppressed_mentions); /* "19 more since the last report", per reason */
    }
    for (int i = 0; i < TP_ANNOUNCE_REJECT_COUNT; i++)
    {
        if (TP_ANNOUNCE_REJECT_DECODE != i && TP_ANNOUNCE_REJECT_STALE != i && TP_ANNOUNCE_REJECT_LAYOUT_VERSION != i)
        {
            TP_ASSERT_EQ_I64(0, g_log.lines[i]);
        }
    }
    tp_log_set_handler(NULL, NULL);
    tp_log_set_level(saved);
    tp_transport_close(r.t);
    tp_client_close(client);
    tpc_dirs_remove(&d);
}

/* ------------------------------------------------------------------------- */
/* Missing assertions                                                         */
/* ------------------------------------------------------------------------- */

typedef struct
{
    uint64_t frames;
    uint32_t meta_version;
    uint64_t progress[8];
    int nprogress;
} rx_t;

static void on_frame(void *clientd, const tp_frame_t *frame)
{
    rx_t *rx = clientd;
    rx->frames++;
    rx->meta_version = frame->meta_version;
}

static void on_progress(void *clientd, uint64_t epoch, uint64_t seq, uint64_t bytes_filled, tp_progress_state_t state)
{
    (void)epoch;
    (void)seq;
    (void)state;
    rx_t *rx = clientd;
    if (rx->nprogress < 8)
    {
        rx->progress[rx->nprogress++] = bytes_filled;
    }
}

typedef struct
{
    tpc_dirs_t d;
    tp_client_t *client;
    tp_producer_t *p;
    tp_consumer_t *c;
    rx_t rx;
} pair_t;

static void pair_open(pair_t *f, const char *tag, bool with_producer, bool progress)
{
    memset(f, 0, sizeof(*f));
    TP_ASSERT_OK(tpc_dirs_make(&f->d, tag));
    tp_context_t *ctx = tpc_context(&f->d);
    TP_ASSERT(NULL != ctx);
    TP_ASSERT_OK(tp_client_init(&f->client, ctx));
    tp_context_close(ctx);
    tp_consumer_config_t cc;
    tp_consumer_config_defaults(&cc);
    cc.on_frame = on_frame;
    cc.clientd = &f->rx;
    cc.supports_progress = progress;
    cc.on_progress = progress ? on_progress : NULL;
    TP_ASSERT_OK(tp_client_add_consumer(&f->c, f->client, &cc, 5000000000u));
    if (with_producer)
    {
        tp_producer_config_t pc;
        tp_producer_config_defaults(&pc);
        pc.header_nslots = 64;
        TP_ASSERT_OK(tp_client_add_producer(&f->p, f->client, &pc, 5000000000u));
        TPC_WAIT_UNTIL(f->client, tp_consumer_is_mapped(f->c), 3000);
        TP_ASSERT(tp_consumer_is_mapped(f->c));
    }
}

static void pair_close(pair_t *f)
{
    tp_client_close(f->client);
    tpc_dirs_remove(&f->d);
}

static void send_progress(raw_pub_t *r, tp_client_t *client, uint64_t epoch, uint64_t seq, uint64_t filled)
{
    uint8_t b[256];
    size_t len = load_vector("FrameProgress.bin", b, sizeof(b));
    TP_ASSERT(len > 8);
    tp_sbe_wire_frame_progress_t m;
    TP_ASSERT_EQ_I64(TP_SBE_OK, tp_sbe_wire_frame_progress_wrap_for_decode_with_header(&m, b, 0, len));
    tp_sbe_wire_frame_progress_set_stream_id(&m, 10000);
    tp_sbe_wire_frame_progress_set_epoch(&m, epoch);
    tp_sbe_wire_frame_progress_set_seq(&m, seq);
    tp_sbe_wire_frame_progress_set_payload_bytes_filled(&m, filled);
    tp_sbe_wire_frame_progress_set_state(&m, TP_SBE_WIRE_FRAME_PROGRESS_STATE_PROGRESS);
    raw_send(r, client, b, len);
}

/* bytes_filled going backwards for the same seq is dropped and counted, never handed to on_progress. */
static void test_progress_regression_dropped(void)
{
    static pair_t f;
    pair_open(&f, "progreg", true, true);
    raw_pub_t r = { 0 };
    TP_ASSERT_OK(raw_pub_open(&r, &f.d, 1000));
    TPC_WAIT_UNTIL(f.client, tp_publication_is_connected(r.pub), 3000);
    tp_consumer_stats_t st;
    TP_ASSERT_OK(tp_consumer_stats(f.c, &st));
    uint64_t epoch = st.epoch;
    uint64_t dropped = st.progress_dropped;
    send_progress(&r, f.client, epoch, 5, 1000);
    send_progress(&r, f.client, epoch, 5, 500);  /* regression */
    send_progress(&r, f.client, epoch, 5, 2000);
    TPC_WAIT_UNTIL(f.client, 2 == f.rx.nprogress && (0 == tp_consumer_stats(f.c, &st) && st.progress_dropped > dropped),
        3000);
    TP_ASSERT_OK(tp_consumer_stats(f.c, &st));
    TP_ASSERT_EQ_U64(dropped + 1, st.progress_dropped);
    TP_ASSERT_EQ_I64(2, f.rx.nprogress);
    TP_ASSERT_EQ_U64(1000, f.rx.progress[0]);
    TP_ASSERT_EQ_U64(2000, f.rx.progress[1]);
    tp_transport_close(r.t);
    pair_close(&f);
}

/* Descriptors that arrive before any region is mapped are counted as unmapped. */
static void test_descriptors_before_mapping_unmapped(void)
{
    static pair_t f;
    pair_open(&f, "unmapped", false, false);
    raw_pub_t r = { 0 };
    TP_ASSERT_OK(raw_pub_open(&r, &f.d, 1100));
    TPC_WAIT_UNTIL(f.client, tp_publication_is_connected(r.pub), 3000);
    uint8_t b[256];
    size_t len = load_vector("FrameDescriptor.bin", b, sizeof(b));
    TP_ASSERT(len > 8);
    tp_sbe_wire_frame_descriptor_t m;
    TP_ASSERT_EQ_I64(TP_SBE_OK, tp_sbe_wire_frame_descriptor_wrap_for_decode_with_header(&m, b, 0, len));
    tp_sbe_wire_frame_descriptor_set_stream_id(&m, 10000);
    for (uint64_t seq = 0; seq < 7; seq++)
    {
        tp_sbe_wire_frame_descriptor_set_seq(&m, seq);
        raw_send(&r, f.client, b, len);
    }
    tp_consumer_stats_t st;
    TPC_WAIT_UNTIL(f.client, 0 == tp_consumer_stats(f.c, &st) && st.descriptors_unmapped >= 7, 3000);
    TP_ASSERT_OK(tp_consumer_stats(f.c, &st));
    TP_ASSERT(!st.mapped);
    TP_ASSERT_EQ_U64(7, st.descriptors);
    TP_ASSERT_EQ_U64(7, st.descriptors_unmapped);
    TP_ASSERT_EQ_U64(0, st.frames);
    TP_ASSERT_EQ_U64(0, f.rx.frames);
    tp_transport_close(r.t);
    pair_close(&f);
}

typedef struct
{
    uint32_t meta_version;
    uint64_t count;
} desc_rx_t;

static void on_raw_descriptor(void *clientd, const uint8_t *buffer, size_t length, const tp_header_t *header)
{
    (void)header;
    desc_rx_t *rx = clientd;
    tp_sbe_wire_frame_descriptor_t m;
    if (TP_SBE_OK == tp_sbe_wire_frame_descriptor_wrap_for_decode_with_header(&m, buffer, 0, length))
    {
        rx->meta_version = tp_sbe_wire_frame_descriptor_meta_version(&m);
        rx->count++;
    }
}

/* After tp_producer_set_metadata, the next frames carry the new meta_version (descriptor and frame view). */
static void test_frames_carry_meta_version(void)
{
    static pair_t f;
    pair_open(&f, "metaver", true, false);
    tp_subscription_t *raw = NULL;
    tp_transport_context_t tctx;
    tp_transport_context_init(&tctx);
    tp_transport_t *t = NULL;
    TP_ASSERT_OK(tp_transport_context_set_dir(&tctx, f.d.transport));
    TP_ASSERT_OK(tp_transport_init(&t, &tctx));
    TP_ASSERT_OK(tp_transport_add_subscription(&raw, t, "aeron:ipc?tether=false", 1100, NULL, NULL, NULL, NULL, 0));
    desc_rx_t drx = { 0 };
    uint8_t buf[64] = { 1 };
    for (int round = 0; round < 3; round++)
    {
        const char *keys[] = { "name" };
        const char *formats[] = { "text" };
        char value[16];
        snprintf(value, sizeof(value), "round-%d", round);
        const uint8_t *values[] = { (const uint8_t *)value };
        uint32_t lens[] = { (uint32_t)strlen(value) };
        int64_t version = tp_producer_set_metadata(f.p, 1, keys, formats, values, lens);
        TP_ASSERT(version > 0);
        uint64_t frames = f.rx.frames;
        uint64_t descs = drx.count;
        TP_ASSERT(tp_producer_offer(f.p, NULL, buf, sizeof(buf), NULL) >= 0);
        uint64_t deadline = tp_clock_mono_ns() + 3000000000ULL;
        while ((f.rx.frames == frames || drx.count == descs) && tp_clock_mono_ns() < deadline)
        {
            tp_client_do_work(f.client);
            tp_subscription_poll(raw, on_raw_descriptor, &drx, 10);
        }
        TP_ASSERT_EQ_U64((uint64_t)version, drx.meta_version);
        TP_ASSERT_EQ_U64((uint64_t)version, f.rx.meta_version);
    }
    tp_transport_close(t);
    pair_close(&f);
}

/* The allow-list holds under a real /dev/shm directory: a sibling directory and a symlink escape are refused. */
static void test_allow_list_under_dev_shm(void)
{
    TPC_SKIP_ON_AERON("same check; the transport does not matter");
    char root[256];
    snprintf(root, sizeof(root), "/dev/shm/tp-test-allow-%d-XXXXXX", (int)getpid());
    if (NULL == mkdtemp(root))
    {
        TP_SKIP("no writable /dev/shm");
    }
    tp_test_track_dir(root);
    char allowed[300], sibling[300], transport[300], link[400], target[400];
    snprintf(transport, sizeof(transport), "%s/transport", root);
    TP_ASSERT(0 == mkdir(transport, 0700));
    struct passwd *pw = getpwuid(geteuid());
    TP_ASSERT(NULL != pw);

    for (int round = 0; round < 3; round++)
    {
        snprintf(allowed, sizeof(allowed), "%s/allowed%d", root, round);
        snprintf(sibling, sizeof(sibling), "%s/allowed%d-sibling", root, round); /* shares the prefix */
        TP_ASSERT(0 == mkdir(allowed, 0700) && 0 == mkdir(sibling, 0700));
        /*
         * round 0: producer in the allowed dir (control: mapped); 1: in the sibling dir; 2: announced inside the
         * allowed dir, but the epoch directory was moved to the sibling and replaced by a symlink to it.
         */
        const char *producer_base = 1 == round ? sibling : allowed;
        tp_context_t *pctx = NULL, *cctx = NULL;
        TP_ASSERT_OK(tp_context_init(&pctx));
        TP_ASSERT_OK(tp_context_set_transport_dir(pctx, transport));
        TP_ASSERT_OK(tp_context_set_shm_base_dir(pctx, producer_base));
        TP_ASSERT_OK(tp_context_set_announce_period_ns(pctx, 50000000u));
        TP_ASSERT_OK(tp_context_init(&cctx));
        TP_ASSERT_OK(tp_context_set_transport_dir(cctx, transport));
        TP_ASSERT_OK(tp_context_set_shm_base_dir(cctx, allowed));
        tp_client_t *pclient = NULL, *cclient = NULL;
        TP_ASSERT_OK(tp_client_init(&pclient, pctx));
        tp_context_close(pctx);
        tp_producer_config_t pc;
        tp_producer_config_defaults(&pc);
        pc.stream_id = 10001 + (uint32_t)round;
        pc.header_nslots = 64;
        tp_producer_t *p = NULL;
        int prc = tp_client_add_producer(&p, pclient, &pc, 5000000000u);
        TP_ASSERT_MSG(0 == prc, "round %d: producer: %s", round, tp_errmsg());
        if (2 == round)
        {
            char moved_parent[400];
            snprintf(link, sizeof(link), "%s/tensorpool-%s/default/%u/1", allowed, pw->pw_name, pc.stream_id);
            snprintf(moved_parent, sizeof(moved_parent), "%s/moved", sibling);
            snprintf(target, sizeof(target), "%s/moved/1", sibling);
            TP_ASSERT(0 == mkdir(moved_parent, 0700));
            TP_ASSERT(0 == rename(link, target));
            TP_ASSERT(0 == symlink(target, link)); /* allowed/.../1 -> sibling/moved/1 */
        }
        TP_ASSERT_OK(tp_client_init(&cclient, cctx));
        tp_context_close(cctx);
        tp_consumer_config_t cc;
        tp_consumer_config_defaults(&cc);
        cc.on_frame = on_frame_ignore;
        cc.stream_id = pc.stream_id;
        tp_consumer_t *c = NULL;
        TP_ASSERT_OK(tp_client_add_consumer(&c, cclient, &cc, 5000000000u));
        tp_consumer_stats_t st = { 0 };
        uint64_t deadline = tp_clock_mono_ns() + 2000000000ULL;
        while (tp_clock_mono_ns() < deadline && !tp_consumer_is_mapped(c) &&
            !(0 == tp_consumer_stats(c, &st) && st.announces_rejected[TP_ANNOUNCE_REJECT_PATH] >= 2))
        {
            tp_client_do_work(pclient);
            tp_client_do_work(cclient);
            tp_sleep_ns(1000000);
        }
        TP_ASSERT_OK(tp_consumer_stats(c, &st));
        if (0 == round)
        {
            TP_ASSERT(tp_consumer_is_mapped(c));
        }
        else
        {
            TP_ASSERT_MSG(!tp_consumer_is_mapped(c), "round %d: mapped a region outside %s", round, allowed);
            TP_ASSERT(st.announces_rejected[TP_ANNOUNCE_REJECT_PATH] >= 2);
            TP_ASSERT_EQ_U64(0, st.remaps);
        }
        tp_client_close(pclient);
        tp_client_close(cclient);
    }
}

/* ------------------------------------------------------------------------- */
/* A second producer on the same stream is detected, counted, logged, ignored */
/* ------------------------------------------------------------------------- */

static int g_other_lines;

static void capture_other(void *clientd, tp_log_level_t level, const char *module, const char *line)
{
    (void)clientd;
    (void)module;
    if (TP_LOG_LEVEL_WARN == level && NULL != strstr(line, "a second producer announces this stream"))
    {
        g_other_lines++;
    }
}

static void test_second_producer_detected(void)
{
    static pair_t f;
    pair_open(&f, "twoprod", true, false); /* producer A (epoch 1), mapped */
    tp_consumer_stats_t st;
    TP_ASSERT_OK(tp_consumer_stats(f.c, &st));
    uint64_t epoch_a = st.epoch;
    TP_ASSERT_EQ_U64(1, st.remaps);
    tp_log_level_t saved = tp_log_level();
    tp_log_set_level(TP_LOG_LEVEL_WARN);
    g_other_lines = 0;
    tp_log_set_handler(capture_other, NULL);
    /* producer B: another client (another session) on the same stream and shm dir: a higher epoch */
    tp_context_t *ctx = tpc_context(&f.d);
    TP_ASSERT(NULL != ctx);
    tp_client_t *client_b = NULL;
    TP_ASSERT_OK(tp_client_init(&client_b, ctx));
    tp_context_close(ctx);
    tp_producer_config_t pc;
    tp_producer_config_defaults(&pc);
    pc.header_nslots = 64;
    pc.producer_id = 4242;
    tp_producer_t *pb = NULL;
    TP_ASSERT_OK(tp_client_add_producer(&pb, client_b, &pc, 5000000000u));
    /* both announce (50 ms period) for 400 ms; A keeps publishing frames */
    uint8_t buf[64] = { 0 };
    uint64_t frames = f.rx.frames;
    uint64_t end = tp_clock_mono_ns() + 400000000ULL;
    while (tp_clock_mono_ns() < end)
    {
        tp_producer_offer(f.p, NULL, buf, sizeof(buf), NULL);
        tp_client_do_work(client_b);
        tp_client_do_work(f.client);
        tp_sleep_ns(1000000);
    }
    TP_ASSERT_OK(tp_consumer_stats(f.c, &st));
    fprintf(stderr, "  two producers: epoch %llu, remaps %llu, other-producer announces %llu, warn lines %d\n",
        (unsigned long long)st.epoch, (unsigned long long)st.remaps, (unsigned long long)st.other_producer_announces,
        g_other_lines);
    TP_ASSERT_EQ_U64(epoch_a, st.epoch);    /* stuck to A: no takeover */
    TP_ASSERT_EQ_U64(1, st.remaps);         /* no remapping back and forth */
    TP_ASSERT(st.other_producer_announces >= 3);
    TP_ASSERT_EQ_I64(1, g_other_lines);     /* rate-limited: one line in the first second */
    TP_ASSERT(f.rx.frames > frames);        /* A's frames still arrive */
    /* A goes away: B takes over (a restart looks the same) */
    TP_ASSERT_OK(tp_producer_close(f.p));
    uint64_t deadline = tp_clock_mono_ns() + 5000000000ULL;
    while (tp_clock_mono_ns() < deadline && (0 != tp_consumer_stats(f.c, &st) || st.epoch == epoch_a || !st.mapped))
    {
        tp_client_do_work(client_b);
        tp_client_do_work(f.client);
        tp_sleep_ns(1000000);
    }
    TP_ASSERT(st.mapped && st.epoch > epoch_a);
    TP_ASSERT_EQ_U64(2, st.remaps);
    tp_log_set_handler(NULL, NULL);
    tp_log_set_level(saved);
    tp_client_close(client_b);
    pair_close(&f);
}

int main(int argc, char **argv)
{
    if (argc < 2)
    {
        fprintf(stderr, "usage: %s VECTORS_DIR\n", argv[0]);
        return 2;
    }
    g_vectors = argv[1];
    TP_RUN(test_refusals_are_logged_rate_limited);
    TP_RUN(test_progress_regression_dropped);
    TP_RUN(test_descriptors_before_mapping_unmapped);
    TP_RUN(test_frames_carry_meta_version);
    TP_RUN(test_allow_list_under_dev_shm);
    TP_RUN(test_second_producer_detected);
    return tp_test_finish();
}
