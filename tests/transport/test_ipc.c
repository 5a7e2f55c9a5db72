/* Embedded IPC: functional tests (single process). */
#include "tp_test.h"

#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "tp_transport_test_util.h"
#include "transport/tp_ipc.h"

static char g_dir[256];

/* kill() interposed to count the liveness probes (kill(pid, 0)) the library makes. */
static _Atomic long g_kill_calls;

int kill(pid_t pid, int sig)
{
    atomic_fetch_add(&g_kill_calls, 1);
    return (int)syscall(SYS_kill, pid, sig);
}

typedef struct
{
    int count;
    size_t last_length;
    uint8_t last[256];
    int64_t last_reserved;
    int32_t last_session;
    uint64_t expected_seq;
    int errors;
} rx_t;

static void on_msg(void *clientd, const uint8_t *buf, size_t len, const tp_header_t *hdr)
{
    rx_t *rx = clientd;
    rx->count++;
    rx->last_length = len;
    memcpy(rx->last, buf, len < sizeof(rx->last) ? len : sizeof(rx->last));
    rx->last_reserved = hdr->reserved_value;
    rx->last_session = hdr->session_id;
}

typedef struct
{
    int available;
    int unavailable;
    uint64_t join_time_ns;
    int32_t session_id;
    char source[64];
} images_t;

static void on_avail(void *clientd, tp_subscription_t *sub, const tp_image_t *image)
{
    (void)sub;
    images_t *im = clientd;
    im->available++;
    im->join_time_ns = image->join_time_ns;
    im->session_id = image->session_id;
    snprintf(im->source, sizeof(im->source), "%s", image->source_identity);
}

static void on_unavail(void *clientd, tp_subscription_t *sub, const tp_image_t *image)
{
    (void)sub;
    (void)image;
    ((images_t *)clientd)->unavailable++;
}

static int64_t supplier(void *clientd, uint8_t *buf, size_t len)
{
    (void)clientd;
    (void)buf;
    return (int64_t)len * 1000 + 7;
}

static void test_ipc_basic(void)
{
    tp_transport_t *t = NULL;
    TP_ASSERT_OK(tpt_transport(&t, g_dir, 0, 0));
    TP_ASSERT_STREQ(tpt_backend(), tp_transport_backend_name(t));
    tp_publication_t *pub = NULL;
    TP_ASSERT_OK(tp_transport_add_publication(&pub, t, "aeron:ipc", 10, 0));
    TP_ASSERT(!tp_publication_is_connected(pub));
    uint8_t msg[64] = "hello";
    TP_ASSERT_EQ_I64(TP_PUBLICATION_NOT_CONNECTED, tp_publication_offer(pub, msg, 5, NULL, NULL));
    TP_ASSERT_EQ_I64(TP_CHANNEL_STATUS_ACTIVE, tp_publication_channel_status(pub));

    images_t im = { 0 };
    tp_subscription_t *sub = NULL;
    uint64_t before = tp_clock_mono_ns();
    TP_ASSERT_OK(tp_transport_add_subscription(&sub, t, "aeron:ipc", 10, on_avail, &im, on_unavail, &im, 0));
    TP_ASSERT_EQ_I64(1, im.available);
    TP_ASSERT(im.join_time_ns >= before && im.join_time_ns <= tp_clock_mono_ns());
    TP_ASSERT_EQ_I64(tp_publication_session_id(pub), im.session_id);
    TP_ASSERT(tpt_is_aeron() || 0 == strncmp(im.source, "pid:", 4)); /* Aeron: "aeron:ipc" */
    TP_ASSERT_EQ_I64(1, tp_subscription_image_count(sub));
    TP_ASSERT(tp_subscription_is_connected(sub));
    TP_ASSERT(tp_publication_is_connected(pub));

    int64_t pos = tp_publication_offer(pub, msg, 5, supplier, NULL);
    TP_ASSERT(pos > 0);
    TP_ASSERT_EQ_I64(pos, tp_publication_position(pub));
    rx_t rx = { 0 };
    TP_ASSERT_EQ_I64(1, tp_subscription_poll(sub, on_msg, &rx, 10));
    TP_ASSERT_EQ_U64(5, rx.last_length);
    TP_ASSERT(0 == memcmp(rx.last, "hello", 5));
    TP_ASSERT_EQ_I64(5007, rx.last_reserved);
    TP_ASSERT_EQ_I64(tp_publication_session_id(pub), rx.last_session);
    TP_ASSERT_EQ_I64(0, tp_subscription_poll(sub, on_msg, &rx, 10));

    /* offerv gathers */
    struct iovec iov[3] = { { "ab", 2 }, { "", 0 }, { "cde", 3 } };
    TP_ASSERT(tp_publication_offerv(pub, iov, 3, NULL, NULL) > 0);
    TP_ASSERT_EQ_I64(1, tp_subscription_poll(sub, on_msg, &rx, 10));
    TP_ASSERT_EQ_U64(5, rx.last_length);
    TP_ASSERT(0 == memcmp(rx.last, "abcde", 5));

    /* try_claim commit and abort */
    tp_buffer_claim_t claim;
    TP_ASSERT(tp_publication_try_claim(pub, 4, &claim) > 0);
    memcpy(claim.data, "wxyz", 4);
    TP_ASSERT_OK(tp_buffer_claim_commit(&claim));
    TP_ASSERT_ERR(TP_ERR_STATE, tp_buffer_claim_commit(&claim));
    TP_ASSERT(tp_publication_try_claim(pub, 8, &claim) > 0);
    TP_ASSERT_OK(tp_buffer_claim_abort(&claim));
    TP_ASSERT(tp_publication_offer(pub, msg, 0, NULL, NULL) > 0);
    rx.count = 0;
    TP_ASSERT_EQ_I64(2, tp_subscription_poll(sub, on_msg, &rx, 10));
    TP_ASSERT_EQ_U64(0, rx.last_length);
    TP_ASSERT(tp_publication_try_claim(pub, tp_publication_max_payload_length(pub) + 1, &claim) ==
        TP_PUBLICATION_ERROR);
    TP_ASSERT(tp_publication_offer(pub, msg, tp_publication_max_message_length(pub) + 1, NULL, NULL) ==
        TP_PUBLICATION_ERROR);

    tp_subscription_stats_t st;
    TP_ASSERT_OK(tp_subscription_stats(sub, &st));
    TP_ASSERT_EQ_U64(4, st.messages);
    TP_ASSERT_EQ_U64(0, st.lost_messages);

    char path[PATH_MAX];
    tp_ipc_log_path(path, sizeof(path), g_dir, 10);
    TP_ASSERT(tpt_is_aeron() || 0 == access(path, F_OK)); /* Aeron: logs live in the aeron dir */
    TP_ASSERT_OK(tp_subscription_close(sub));
    TPT_WAIT_UNTIL(t, !tp_publication_is_connected(pub), 5000000000ULL);
    TP_ASSERT(!tp_publication_is_connected(pub));
    int64_t nc = tp_publication_offer(pub, msg, 5, NULL, NULL);
    /* Aeron reports NOT_CONNECTED only once an offer reaches the publication
     * limit, so a few offers may still "succeed" (into a log nobody reads). */
    for (int i = 0; tpt_is_aeron() && nc > 0 && i < 1000000; i++)
    {
        tp_transport_do_work(t);
        nc = tp_publication_offer(pub, msg, 5, NULL, NULL);
    }
    TP_ASSERT_EQ_I64(TP_PUBLICATION_NOT_CONNECTED, nc);
    TP_ASSERT_OK(tp_publication_close(pub));
    TP_ASSERT_MSG(0 != access(path, F_OK), "unused log %s was not removed", path);
    TP_ASSERT_OK(tp_transport_close(t));
}

static void test_ipc_image_unavailable_on_close(void)
{
    tp_transport_t *t = NULL;
    TP_ASSERT_OK(tpt_transport(&t, g_dir, 0, 0));
    images_t im = { 0 };
    tp_subscription_t *sub = NULL;
    TP_ASSERT_OK(tp_transport_add_subscription(&sub, t, "aeron:ipc", 11, on_avail, &im, on_unavail, &im, 0));
    TP_ASSERT_EQ_I64(0, im.available);
    TP_ASSERT(!tp_subscription_is_connected(sub));
    tp_publication_t *pub = NULL;
    TP_ASSERT_OK(tp_transport_add_publication(&pub, t, "aeron:ipc", 11, 0));
    tp_transport_do_work(t);
    TPT_WAIT_UNTIL(t, 1 == im.available, 5000000000ULL);
    TP_ASSERT_EQ_I64(1, im.available);
    TP_ASSERT_OK(tp_publication_close(pub));
    tp_transport_do_work(t);
    TPT_WAIT_UNTIL(t, 1 == im.unavailable, 15000000000ULL);
    TP_ASSERT_EQ_I64(1, im.unavailable);
    TP_ASSERT_EQ_I64(0, tp_subscription_image_count(sub));
    TP_ASSERT_OK(tp_transport_close(t));
    TP_ASSERT_EQ_I64(0, tpt_count_files(g_dir));
}

/*
 * A publisher that appears after the subscription and offers at once: the
 * image's join time must not be later than that first message's send time
 * (the wire spec's join-time rule would otherwise reject it), nor earlier
 * than the subscription's creation (no replay of older messages).
 */
static void test_ipc_join_time_not_after_first_message(void)
{
    tp_transport_t *t = NULL;
    TP_ASSERT_OK(tpt_transport(&t, g_dir, 0, 0));
    images_t im = { 0 };
    tp_subscription_t *sub = NULL;
    uint64_t before_sub = tp_clock_mono_ns();
    TP_ASSERT_OK(tp_transport_add_subscription(&sub, t, "aeron:ipc", 30, on_avail, &im, on_unavail, &im, 0));
    uint64_t after_sub = tp_clock_mono_ns();
    TP_ASSERT_EQ_I64(0, im.available);
    tp_sleep_ns(2000000); /* the subscription's next scan is clearly later than its creation */
    /* The publisher is another client (as another process would be): the
     * subscriber's transport does no work until after the first message. */
    tp_transport_t *t2 = NULL;
    TP_ASSERT_OK(tpt_transport(&t2, g_dir, 0, 0));
    tp_publication_t *pub = NULL;
    TP_ASSERT_OK(tp_transport_add_publication(&pub, t2, "aeron:ipc", 30, 0));
    uint64_t send_time = tp_clock_mono_ns();
    int64_t offered = 0;
    for (int i = 0; i < 100000 && (offered = tp_publication_offer(pub, (const uint8_t *)&send_time,
        sizeof(send_time), NULL, NULL)) < 0; i++)
    {
        tp_transport_do_work(t2); /* aeron: the publication connects asynchronously */
        send_time = tp_clock_mono_ns();
    }
    TP_ASSERT(offered > 0);
    tp_sleep_ns(2000000); /* the scan that notices the publisher comes later still */
    tp_transport_do_work(t);
    TPT_WAIT_UNTIL(t, 1 == im.available, 5000000000ULL);
    TP_ASSERT_EQ_I64(1, im.available);
    rx_t rx = { 0 };
    TP_ASSERT_EQ_I64(1, tp_subscription_poll(sub, on_msg, &rx, 10));
    uint64_t sent;
    memcpy(&sent, rx.last, sizeof(sent));
    TP_ASSERT_EQ_U64(send_time, sent);
    TP_ASSERT_MSG(im.join_time_ns <= sent, "join time %llu is after the first message's send time %llu",
        (unsigned long long)im.join_time_ns, (unsigned long long)sent);
    TP_ASSERT_MSG(im.join_time_ns >= before_sub, "join time %llu precedes the subscription (%llu)",
        (unsigned long long)im.join_time_ns, (unsigned long long)before_sub);
    TP_ASSERT_OK(tp_publication_close(pub));
    TP_ASSERT_OK(tp_subscription_close(sub));
    TP_ASSERT_OK(tp_transport_close(t2));

    /* A publisher that existed before the subscription: joins at the subscription's creation. */
    TP_ASSERT_OK(tp_transport_add_publication(&pub, t, "aeron:ipc", 30, 0));
    tp_sleep_ns(2000000);
    im = (images_t){ 0 };
    before_sub = tp_clock_mono_ns();
    TP_ASSERT_OK(tp_transport_add_subscription(&sub, t, "aeron:ipc", 30, on_avail, &im, on_unavail, &im, 0));
    after_sub = tp_clock_mono_ns();
    TP_ASSERT_EQ_I64(1, im.available);
    TP_ASSERT(im.join_time_ns >= before_sub && im.join_time_ns <= after_sub);
    TP_ASSERT_OK(tp_subscription_close(sub));
    TP_ASSERT_OK(tp_publication_close(pub));
    TP_ASSERT_OK(tp_transport_close(t));
}

/*
 * A producer spinning on offer while back-pressured must not make a system
 * call per attempt: the subscriber holding it back is alive (our pid) but its
 * heartbeat is older than liveness / 5, which used to cost a kill(pid, 0) per
 * refused offer. Liveness is unchanged: it is not reaped before the liveness
 * timeout, and is reaped from the offer path after it even without do_work.
 */
static void test_ipc_refused_offers_no_syscalls(void)
{
    TPT_SKIP_ON_AERON("embedded IPC flow control");
    const uint64_t liveness = 1000000000ULL;
    tp_transport_t *t = NULL;
    TP_ASSERT_OK(tpt_transport(&t, g_dir, liveness, 0));
    tp_subscription_t *sub = NULL;
    tp_publication_t *pub = NULL;
    /* not untethered (tether timeout 60 s): only the liveness timeout releases the publisher */
    TP_ASSERT_OK(tp_transport_add_subscription(&sub, t, "aeron:ipc?term-length=64k|untethered-window-limit-timeout=60s",
        31, NULL, NULL, NULL, NULL, 0));
    uint64_t heartbeat = tp_clock_mono_ns(); /* the subscription's last heartbeat is before this */
    TP_ASSERT_OK(tp_transport_add_publication(&pub, t, "aeron:ipc?term-length=64k", 31, 0));
    static uint8_t msg[1000];
    int64_t rc = 0;
    for (int i = 0; i < 1000 && (rc = tp_publication_offer(pub, msg, sizeof(msg), NULL, NULL)) > 0; i++)
    {
    }
    TP_ASSERT_EQ_I64(TP_PUBLICATION_BACK_PRESSURED, rc);
    tp_sleep_ns(liveness / 5 + 100000000ULL); /* older than liveness / 5, no do_work, no poll */

    /*
     * Up to 100,000 refused offers, but stop well before the liveness timeout
     * (a heavily loaded machine may preempt the loop for a long time): the
     * claim is "no system call per refused offer", i.e. a handful per
     * liveness / 50 interval at most, whatever the number of offers.
     */
    long kills = atomic_load(&g_kill_calls);
    uint64_t loop_start = tp_clock_mono_ns();
    uint64_t loop_end = heartbeat + liveness * 7 / 10;
    int offers = 0;
    for (; offers < 100000; offers++)
    {
        rc = tp_publication_offer(pub, msg, sizeof(msg), NULL, NULL);
        if (TP_PUBLICATION_BACK_PRESSURED != rc || (0 == (offers & 1023) && tp_clock_mono_ns() >= loop_end))
        {
            break;
        }
    }
    uint64_t elapsed = tp_clock_mono_ns() - loop_start;
    TP_ASSERT_EQ_I64(TP_PUBLICATION_BACK_PRESSURED, rc); /* alive: not reaped before the liveness timeout */
    TP_ASSERT_MSG(offers >= 1024, "only %d offers before the deadline", offers);
    kills = atomic_load(&g_kill_calls) - kills;
    long allowed = 5 + (long)(elapsed / (liveness / 50));
    TP_ASSERT_MSG(kills <= allowed, "%ld kill() calls for %d refused offers in %llu ns (allowed %ld)", kills,
        offers, (unsigned long long)elapsed, allowed);

    /* After the liveness timeout, spinning offers alone reap it: no subscriber left. */
    uint64_t deadline = tp_clock_mono_ns() + 3 * liveness;
    while (TP_PUBLICATION_BACK_PRESSURED == (rc = tp_publication_offer(pub, msg, sizeof(msg), NULL, NULL)) &&
        tp_clock_mono_ns() < deadline)
    {
    }
    TP_ASSERT_EQ_I64(TP_PUBLICATION_NOT_CONNECTED, rc);
    TP_ASSERT(tp_clock_mono_ns() - heartbeat >= liveness);
    TP_ASSERT_OK(tp_publication_close(pub));
    TP_ASSERT_OK(tp_subscription_close(sub));
    TP_ASSERT_OK(tp_transport_close(t));
}

typedef struct
{
    int count;
    size_t len;
    int bad;
} size_rx_t;

static void on_sized(void *clientd, const uint8_t *buf, size_t len, const tp_header_t *hdr)
{
    (void)hdr;
    size_rx_t *r = clientd;
    r->count++;
    r->len = len;
    for (size_t k = 0; k < len; k++)
    {
        if (buf[k] != (uint8_t)(k * 31 + len))
        {
            r->bad++;
            break;
        }
    }
}

static void test_ipc_every_boundary(void)
{
    tp_transport_t *t = NULL;
    TP_ASSERT_OK(tpt_transport(&t, g_dir, 0, 0));
    tp_subscription_t *sub = NULL;
    tp_publication_t *pub = NULL;
    TP_ASSERT_OK(tp_transport_add_subscription(&sub, t, "aeron:ipc?term-length=64k", 12, NULL, NULL, NULL, NULL, 0));
    TP_ASSERT_OK(tp_transport_add_publication(&pub, t, "aeron:ipc?term-length=64k", 12, 0));
    /* max message length: a quarter of the term (embedded), an eighth (Aeron) */
    const size_t max_len = tpt_is_aeron() ? 8192 : 16384;
    TP_ASSERT_EQ_U64(max_len, tp_publication_max_message_length(pub));
    static uint8_t out[16384];
    /* sizes 0..300 cover every alignment residue; then sizes around the max; the ring wraps many times */
    size_t sizes[600];
    size_t n = 0;
    for (size_t s = 0; s <= 300; s++)
    {
        sizes[n++] = s;
    }
    for (size_t s = max_len - 40; s <= max_len; s++)
    {
        sizes[n++] = s;
    }
    for (int rep = 0; rep < 3; rep++)
    {
        for (size_t i = 0; i < n; i++)
        {
            size_t len = sizes[i];
            for (size_t k = 0; k < len; k++)
            {
                out[k] = (uint8_t)(k * 31 + len);
            }
            int64_t rc = tpt_offer_retry(pub, out, len, 1000000000ULL);
            TP_ASSERT_MSG(rc > 0, "offer of %zu bytes: %lld", len, (long long)rc);
            size_rx_t r = { 0 };
            int got = tp_subscription_poll(sub, on_sized, &r, 10);
            TP_ASSERT_MSG(1 == got, "poll after an offer of %zu bytes (rep %d): %d", len, rep, got);
            TP_ASSERT_EQ_U64(len, r.len);
            TP_ASSERT_EQ_I64(0, r.bad);
        }
    }
    /* every offset of the ring end: fill to just before the wrap and offer sizes that straddle it */
    for (size_t len = 1; len < 2048; len += 37)
    {
        for (size_t k = 0; k < len; k++)
        {
            out[k] = (uint8_t)(k * 31 + len);
        }
        for (int j = 0; j < 40; j++)
        {
            TP_ASSERT(tpt_offer_retry(pub, out, len, 1000000000ULL) > 0);
            size_rx_t r = { 0 };
            TP_ASSERT_EQ_I64(1, tp_subscription_poll(sub, on_sized, &r, 1));
            TP_ASSERT_EQ_I64(0, r.bad);
        }
    }
    tp_subscription_stats_t st;
    tp_subscription_stats(sub, &st);
    TP_ASSERT_EQ_U64(0, st.lost_messages);
    TP_ASSERT_OK(tp_transport_close(t));
}

static void test_ipc_one_mib(void)
{
    tp_transport_t *t = NULL;
    TP_ASSERT_OK(tpt_transport(&t, g_dir, 0, 0));
    tp_subscription_t *sub = NULL;
    tp_publication_t *pub = NULL;
    TP_ASSERT_OK(tp_transport_add_subscription(&sub, t, "aeron:ipc", 13, NULL, NULL, NULL, NULL, 0));
    TP_ASSERT_OK(tp_transport_add_publication(&pub, t, "aeron:ipc", 13, 0));
    TP_ASSERT(tp_publication_max_message_length(pub) >= 1024 * 1024);
    size_t len = 1024 * 1024;
    uint8_t *out = malloc(len);
    for (size_t k = 0; k < len; k++)
    {
        out[k] = (uint8_t)(k * 31 + len);
    }
    for (int i = 0; i < 10; i++)
    {
        TP_ASSERT(tpt_offer_retry(pub, out, len - (size_t)i, 2000000000ULL) > 0);
        for (size_t k = 0; k < len; k++)
        {
            out[k] = (uint8_t)(k * 31 + len - (size_t)i - 1);
        }
        size_rx_t r = { 0 };
        TP_ASSERT_EQ_I64(1, tp_subscription_poll(sub, on_sized, &r, 10));
        TP_ASSERT_EQ_U64(len - (size_t)i, r.len);
        TP_ASSERT_EQ_I64(0, r.bad);
    }
    free(out);
    TP_ASSERT_OK(tp_transport_close(t));
}

static void on_count(void *clientd, const uint8_t *buf, size_t len, const tp_header_t *hdr)
{
    (void)hdr;
    rx_t *rx = clientd;
    uint64_t seq;
    if (len < sizeof(seq))
    {
        rx->errors++;
        return;
    }
    memcpy(&seq, buf, sizeof(seq));
    if (seq != rx->expected_seq)
    {
        rx->errors++;
    }
    for (size_t k = sizeof(seq); k < len; k++)
    {
        if (buf[k] != (uint8_t)seq)
        {
            rx->errors++;
            break;
        }
    }
    rx->expected_seq = seq + 1;
    rx->count++;
}

static void test_ipc_back_pressure_no_loss(void)
{
    tp_transport_t *t = NULL;
    TP_ASSERT_OK(tpt_transport(&t, g_dir, 0, 0));
    tp_subscription_t *sub = NULL;
    tp_publication_t *pub = NULL;
    TP_ASSERT_OK(tp_transport_add_subscription(&sub, t,
        "aeron:ipc?term-length=64k|untethered-window-limit-timeout=60s", 14, NULL, NULL, NULL, NULL, 0));
    TP_ASSERT_OK(tp_transport_add_publication(&pub, t, "aeron:ipc", 14, 0));
    uint8_t msg[100];
    uint64_t sent = 0;
    int64_t rc;
    /* fill the ring: a tethered subscriber that is not polled holds the publisher back */
    for (;;)
    {
        memcpy(msg, &sent, sizeof(sent));
        memset(msg + 8, (int)(uint8_t)sent, sizeof(msg) - 8);
        rc = tp_publication_offer(pub, msg, sizeof(msg), NULL, NULL);
        if (rc < 0)
        {
            break;
        }
        sent++;
    }
    TP_ASSERT_EQ_I64(TP_PUBLICATION_BACK_PRESSURED, rc);
    /* embedded: the 64 KiB ring of the first user; Aeron: the publication's term window */
    TP_ASSERT(tpt_is_aeron() || (sent > 400 && sent < 600));
    int64_t pos = tp_publication_position(pub);
    TP_ASSERT_EQ_I64(TP_PUBLICATION_BACK_PRESSURED, tp_publication_offer(pub, msg, sizeof(msg), NULL, NULL));
    TP_ASSERT_EQ_I64(pos, tp_publication_position(pub)); /* back pressure has no side effect */
    rx_t rx = { 0 };
    uint64_t total = sent + 5000;
    while (sent < total)
    {
        memcpy(msg, &sent, sizeof(sent));
        memset(msg + 8, (int)(uint8_t)sent, sizeof(msg) - 8);
        if (tp_publication_offer(pub, msg, sizeof(msg), NULL, NULL) > 0)
        {
            sent++;
        }
        else
        {
            tp_subscription_poll(sub, on_count, &rx, 7);
        }
    }
    while (tp_subscription_poll(sub, on_count, &rx, 100) > 0)
    {
    }
    TP_ASSERT_EQ_U64(total, (uint64_t)rx.count);
    TP_ASSERT_EQ_I64(0, rx.errors);
    TP_ASSERT_OK(tp_transport_close(t));
}

/* An untethered subscriber that falls a whole ring behind is lapped: it detects it, skips and counts. */
static void test_ipc_lapped(void)
{
    TPT_SKIP_ON_AERON("lapping of an untethered reader is a property of the embedded IPC log");
    tp_transport_t *t = NULL;
    TP_ASSERT_OK(tpt_transport(&t, g_dir, 0, 0));
    tp_subscription_t *sub = NULL;
    tp_publication_t *pub = NULL;
    TP_ASSERT_OK(tp_transport_add_subscription(&sub, t, "aeron:ipc?term-length=64k|tether=false", 15, NULL, NULL,
        NULL, NULL, 0));
    TP_ASSERT_OK(tp_transport_add_publication(&pub, t, "aeron:ipc?term-length=64k", 15, 0));
    uint8_t msg[100];
    for (uint64_t seq = 0; seq < 3000; seq++) /* ~ 3000 * 160 bytes = 7 rings */
    {
        memcpy(msg, &seq, sizeof(seq));
        memset(msg + 8, (int)(uint8_t)seq, sizeof(msg) - 8);
        TP_ASSERT(tp_publication_offer(pub, msg, sizeof(msg), NULL, NULL) > 0);
    }
    rx_t rx = { 0 };
    rx.expected_seq = UINT64_MAX;
    int n = tp_subscription_poll(sub, on_count, &rx, 10000);
    tp_subscription_stats_t st;
    TP_ASSERT_OK(tp_subscription_stats(sub, &st));
    TP_ASSERT(st.laps >= 1);
    TP_ASSERT(st.lost_messages >= 1);
    TP_ASSERT(st.lost_bytes > 0);
    /* after the skip, the following messages arrive whole and in order */
    for (uint64_t seq = 3000; seq < 3100; seq++)
    {
        memcpy(msg, &seq, sizeof(seq));
        memset(msg + 8, (int)(uint8_t)seq, sizeof(msg) - 8);
        TP_ASSERT(tp_publication_offer(pub, msg, sizeof(msg), NULL, NULL) > 0);
    }
    rx.errors = 0;
    rx.count = 0;
    rx.expected_seq = 3000;
    n = tp_subscription_poll(sub, on_count, &rx, 10000);
    TP_ASSERT_EQ_I64(100, n);
    TP_ASSERT_EQ_I64(0, rx.errors);
    TP_ASSERT_OK(tp_transport_close(t));
}

/* Records where each message was handed over, and checks its content (on_count). */
typedef struct
{
    rx_t rx;
    const uint8_t *where[8];
    int n;
} where_t;

static void on_where(void *clientd, const uint8_t *buf, size_t len, const tp_header_t *hdr)
{
    where_t *w = clientd;
    if (w->n < 8)
    {
        w->where[w->n++] = buf;
    }
    on_count(&w->rx, buf, len, hdr);
}

/*
 * tp_subscription_poll_in_place: a tethered IPC subscription hands out each
 * message where it lies in the log (distinct addresses, 32-byte frame
 * spacing), an untethered one copies (one private buffer for all), and both
 * deliver the same whole messages in order as tp_subscription_poll.
 */
static void test_ipc_poll_in_place(void)
{
    TPT_SKIP_ON_AERON("in-place delivery from the embedded IPC log (Aeron's poll hands out term pointers itself)");
    tp_transport_t *t = NULL;
    TP_ASSERT_OK(tpt_transport(&t, g_dir, 0, 0));
    tp_subscription_t *tethered = NULL, *untethered = NULL;
    tp_publication_t *pub = NULL;
    TP_ASSERT_OK(tp_transport_add_subscription(&tethered, t, "aeron:ipc?term-length=64k", 16, NULL, NULL, NULL,
        NULL, 0));
    TP_ASSERT_OK(tp_transport_add_subscription(&untethered, t, "aeron:ipc?term-length=64k|tether=false", 16, NULL,
        NULL, NULL, NULL, 0));
    TP_ASSERT_OK(tp_transport_add_publication(&pub, t, "aeron:ipc?term-length=64k", 16, 0));
    uint8_t msg[48];
    for (uint64_t seq = 0; seq < 4; seq++)
    {
        memcpy(msg, &seq, sizeof(seq));
        memset(msg + 8, (int)(uint8_t)seq, sizeof(msg) - 8);
        TP_ASSERT(tp_publication_offer(pub, msg, sizeof(msg), NULL, NULL) > 0);
    }
    where_t a = { 0 }, b = { 0 };
    TP_ASSERT_EQ_I64(4, tp_subscription_poll_in_place(tethered, on_where, &a, 10));
    TP_ASSERT_EQ_I64(4, tp_subscription_poll_in_place(untethered, on_where, &b, 10));
    TP_ASSERT_EQ_I64(0, a.rx.errors);
    TP_ASSERT_EQ_I64(0, b.rx.errors);
    TP_ASSERT_EQ_U64(4, a.rx.expected_seq);
    TP_ASSERT_EQ_U64(4, b.rx.expected_seq);
    for (int i = 1; i < 4; i++)
    {
        /* 48 + 32-byte header = 80, aligned to 96 */
        TP_ASSERT_EQ_I64(96, a.where[i] - a.where[i - 1]);
        TP_ASSERT(b.where[i] == b.where[0]);
    }
    TP_ASSERT(a.where[0] != b.where[0]);
    /* nothing left, and the positions moved on for both */
    TP_ASSERT_EQ_I64(0, tp_subscription_poll_in_place(tethered, on_where, &a, 10));
    TP_ASSERT_EQ_I64(0, tp_subscription_poll(untethered, on_where, &b, 10));
    TP_ASSERT_OK(tp_transport_close(t));
}

static void test_ipc_errors(void)
{
    TPT_SKIP_ON_AERON("checks of the embedded transport directory and log files (Aeron errors: test_aeron_backend)");
    tp_transport_t *t = NULL;
    char missing[300];
    snprintf(missing, sizeof(missing), "%s/does-not-exist", g_dir);
    TP_ASSERT_ERR(TP_ERR_NOT_FOUND, tpt_transport(&t, missing, 0, 0));
    TP_ASSERT(NULL != strstr(tp_errmsg(), "does-not-exist"));
    char file[300];
    snprintf(file, sizeof(file), "%s/plainfile", g_dir);
    int fd = open(file, O_CREAT | O_WRONLY, 0600);
    close(fd);
    TP_ASSERT_ERR(TP_ERR_CONFIG, tpt_transport(&t, file, 0, 0));
    unlink(file);
    if (0 != geteuid())
    {
        char ro[300];
        snprintf(ro, sizeof(ro), "%s/ro", g_dir);
        mkdir(ro, 0500);
        TP_ASSERT_ERR(TP_ERR_PERMISSION, tpt_transport(&t, ro, 0, 0));
        rmdir(ro);
    }
    else if (0 != access("/proc/1", W_OK))
    {
        /* root can write almost anywhere: a procfs directory is one it cannot */
        TP_ASSERT_ERR(TP_ERR_PERMISSION, tpt_transport(&t, "/proc/1", 0, 0));
        TP_ASSERT(NULL != strstr(tp_errmsg(), "not writable"));
    }

    TP_ASSERT_OK(tpt_transport(&t, g_dir, 0, 0));
    tp_publication_t *pub = NULL;
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_transport_add_publication(&pub, t, "aeron:ipc?term-length=1000", 16, 0));
    TP_ASSERT(NULL != strstr(tp_errmsg(), "term-length"));
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_transport_add_publication(&pub, t, "aeron:xyz", 16, 0));
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_transport_add_publication(&pub, t, "aeron:ipc?tether=maybe", 16, 0));

    /* term-length mismatch with an existing log */
    TP_ASSERT_OK(tp_transport_add_publication(&pub, t, "aeron:ipc?term-length=64k", 16, 0));
    tp_subscription_t *sub = NULL;
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_transport_add_subscription(&sub, t, "aeron:ipc?term-length=128k", 16, NULL, NULL,
        NULL, NULL, 0));
    TP_ASSERT_OK(tp_transport_add_subscription(&sub, t, "aeron:ipc", 16, NULL, NULL, NULL, NULL, 0));

    /* corrupt logs: bad magic, truncated, wrong size */
    char path[PATH_MAX];
    tp_ipc_log_path(path, sizeof(path), g_dir, 17);
    fd = open(path, O_CREAT | O_WRONLY, 0600);
    uint8_t junk[TP_IPC_HEADER_LENGTH];
    memset(junk, 0x5a, sizeof(junk));
    TP_ASSERT(write(fd, junk, sizeof(junk)) == (ssize_t)sizeof(junk));
    close(fd);
    TP_ASSERT_ERR(TP_ERR_VALIDATION, tp_transport_add_publication(&pub, t, "aeron:ipc", 17, 0));
    TP_ASSERT(NULL != strstr(tp_errmsg(), "corrupt"));
    TP_ASSERT_ERR(TP_ERR_VALIDATION, tp_transport_add_subscription(&sub, t, "aeron:ipc", 17, NULL, NULL, NULL, NULL,
        0));
    fd = open(path, O_WRONLY | O_TRUNC);
    TP_ASSERT(write(fd, junk, 100) == 100);
    close(fd);
    TP_ASSERT_ERR(TP_ERR_VALIDATION, tp_transport_add_publication(&pub, t, "aeron:ipc", 17, 0));
    /* a valid header but a truncated file */
    tp_ipc_log_header_t h;
    memset(&h, 0, sizeof(h));
    h.magic = TP_IPC_MAGIC;
    h.version = TP_IPC_VERSION;
    h.header_length = TP_IPC_HEADER_LENGTH;
    h.term_length = 65536;
    h.max_publishers = TP_IPC_MAX_PUBLISHERS;
    h.max_subscribers = TP_IPC_MAX_SUBSCRIBERS;
    h.frame_alignment = TP_IPC_FRAME_ALIGNMENT;
    h.stream_id = 17;
    fd = open(path, O_WRONLY | O_TRUNC);
    TP_ASSERT(write(fd, &h, sizeof(h)) == (ssize_t)sizeof(h));
    TP_ASSERT(0 == ftruncate(fd, TP_IPC_HEADER_LENGTH + 1000));
    close(fd);
    TP_ASSERT_ERR(TP_ERR_VALIDATION, tp_transport_add_publication(&pub, t, "aeron:ipc", 17, 0));
    TP_ASSERT(NULL != strstr(tp_errmsg(), "file size"));
    unlink(path);
    TP_ASSERT_OK(tp_transport_close(t));
}

/* A log left behind by a crashed process is removed at transport start; a live user's log is kept. */
static void test_ipc_cleanup_stale(void)
{
    TPT_SKIP_ON_AERON("removal of stale embedded IPC log files (the Aeron media driver owns its logs)");
    char path[PATH_MAX];
    tp_ipc_log_path(path, sizeof(path), g_dir, 18);
    pid_t child = fork();
    if (0 == child)
    {
        tp_transport_t *ct = NULL;
        tp_publication_t *cp = NULL;
        if (tpt_transport(&ct, g_dir, 0, 0) < 0 || tp_transport_add_publication(&cp, ct, "aeron:ipc", 18, 0) < 0)
        {
            _exit(2);
        }
        _exit(0); /* "crash": no close */
    }
    int status = 0;
    waitpid(child, &status, 0);
    TP_ASSERT(WIFEXITED(status) && 0 == WEXITSTATUS(status));
    TP_ASSERT(0 == access(path, F_OK));
    /* a live but silent user (this process) keeps its log even when its heartbeat is stale */
    tp_transport_t *t = NULL;
    TP_ASSERT_OK(tpt_transport(&t, g_dir, 0, 0));
    tp_publication_t *pub = NULL;
    TP_ASSERT_OK(tp_transport_add_publication(&pub, t, "aeron:ipc", 20, 0));
    char live_path[PATH_MAX];
    tp_ipc_log_path(live_path, sizeof(live_path), g_dir, 20);
    tp_sleep_ns(300000000ULL);
    tp_transport_t *t2 = NULL;
    TP_ASSERT_OK(tpt_transport(&t2, g_dir, 100000000ULL, 0));
    TP_ASSERT_MSG(0 != access(path, F_OK), "log of a crashed process not removed");
    TP_ASSERT_MSG(0 == access(live_path, F_OK), "log of a live process removed");
    TP_ASSERT_OK(tp_transport_close(t2));
    /* the silent publisher's slot was reaped; its next duty cycle re-registers it */
    tp_subscription_t *sub = NULL;
    TP_ASSERT_OK(tp_transport_add_subscription(&sub, t, "aeron:ipc", 20, NULL, NULL, NULL, NULL, 0));
    uint64_t t0 = tp_clock_mono_ns();
    while (1 != tp_subscription_image_count(sub) && tp_clock_mono_ns() - t0 < 2000000000ULL)
    {
        tp_transport_do_work(t);
        tp_sleep_ns(10000000);
    }
    TP_ASSERT_EQ_I64(1, tp_subscription_image_count(sub));
    TP_ASSERT(tp_publication_is_connected(pub));
    TP_ASSERT_OK(tp_transport_close(t));
    TP_ASSERT_MSG(0 != access(live_path, F_OK), "log not removed after its last user closed");
}

/*
 * A writer that died right after its claim, before writing anything (not even
 * its frame's position tag): subscribers scan forward to the next frame after
 * the unblock timeout and count one hole.
 */
static void test_ipc_hole_without_tag(void)
{
    TPT_SKIP_ON_AERON("writes into the embedded IPC log's frame headers");
    tp_transport_t *t = NULL;
    TP_ASSERT_OK(tpt_transport(&t, g_dir, 0, 100000000ULL));
    tp_subscription_t *sub = NULL;
    tp_publication_t *pub = NULL;
    TP_ASSERT_OK(tp_transport_add_subscription(&sub, t, "aeron:ipc", 19, NULL, NULL, NULL, NULL, 0));
    TP_ASSERT_OK(tp_transport_add_publication(&pub, t, "aeron:ipc", 19, 0));
    uint8_t msg[64];
    uint64_t seq = 0;
    memcpy(msg, &seq, 8);
    memset(msg + 8, 0, sizeof(msg) - 8);
    TP_ASSERT(tp_publication_offer(pub, msg, sizeof(msg), NULL, NULL) > 0);
    /* the "dead writer": advance the shared tail by 3 frames' worth, write nothing */
    char path[PATH_MAX];
    tp_ipc_log_path(path, sizeof(path), g_dir, 19);
    int fd = open(path, O_RDWR);
    TP_ASSERT(fd >= 0);
    tp_ipc_log_header_t *h = mmap(NULL, TP_IPC_HEADER_LENGTH, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    TP_ASSERT(MAP_FAILED != (void *)h);
    atomic_fetch_add(&h->tail, 96);
    munmap(h, TP_IPC_HEADER_LENGTH);
    close(fd);
    for (seq = 1; seq < 4; seq++)
    {
        memcpy(msg, &seq, 8);
        memset(msg + 8, (int)(uint8_t)seq, sizeof(msg) - 8);
        TP_ASSERT(tp_publication_offer(pub, msg, sizeof(msg), NULL, NULL) > 0);
    }
    rx_t rx = { 0 };
    uint64_t t0 = tp_clock_mono_ns();
    while (rx.count < 4 && tp_clock_mono_ns() - t0 < 3000000000ULL)
    {
        if (0 == tp_subscription_poll(sub, on_count, &rx, 10))
        {
            tp_sleep_ns(1000000);
        }
    }
    TP_ASSERT_EQ_I64(4, rx.count);
    TP_ASSERT_EQ_I64(0, rx.errors);
    TP_ASSERT(tp_clock_mono_ns() - t0 >= 100000000ULL);
    tp_subscription_stats_t st;
    tp_subscription_stats(sub, &st);
    TP_ASSERT_EQ_U64(1, st.holes);
    TP_ASSERT_EQ_U64(96, st.lost_bytes);
    TP_ASSERT_OK(tp_transport_close(t));
}

/* Garbage frames in a live ring (hostile or corrupt peer): counted drops, no crash, recovery. */
static void test_ipc_corrupt_frames(void)
{
    TPT_SKIP_ON_AERON("writes garbage into the embedded IPC log file");
    tp_transport_t *t = NULL;
    TP_ASSERT_OK(tpt_transport(&t, g_dir, 0, 0));
    tp_subscription_t *sub = NULL;
    tp_publication_t *pub = NULL;
    TP_ASSERT_OK(tp_transport_add_subscription(&sub, t, "aeron:ipc?term-length=64k", 21, NULL, NULL, NULL, NULL, 0));
    TP_ASSERT_OK(tp_transport_add_publication(&pub, t, "aeron:ipc?term-length=64k", 21, 0));
    char path[PATH_MAX];
    tp_ipc_log_path(path, sizeof(path), g_dir, 21);
    int fd = open(path, O_RDWR);
    TP_ASSERT(fd >= 0);
    size_t total = TP_IPC_HEADER_LENGTH + 65536;
    uint8_t *base = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    TP_ASSERT(MAP_FAILED != (void *)base);
    tp_ipc_log_header_t *h = (tp_ipc_log_header_t *)(void *)base;
    const int32_t bad_lengths[] = { -5, 7, 0x7fffffff, 65536 + 32, 65000 };
    uint8_t msg[40] = { 0 };
    for (size_t i = 0; i < sizeof(bad_lengths) / sizeof(bad_lengths[0]); i++)
    {
        uint64_t pos = atomic_fetch_add(&h->tail, 64);
        tp_ipc_frame_header_t *f = (tp_ipc_frame_header_t *)(void *)(base + TP_IPC_HEADER_LENGTH + (pos & 65535));
        atomic_store(&f->position, (int64_t)pos);
        f->type = TP_IPC_FRAME_TYPE_DATA;
        atomic_store(&f->frame_length, bad_lengths[i]);
        rx_t rx = { 0 };
        tp_subscription_poll(sub, on_count, &rx, 10);
        uint64_t seq = 0;
        memcpy(msg, &seq, 8);
        memset(msg + 8, 0, sizeof(msg) - 8);
        TP_ASSERT(tp_publication_offer(pub, msg, sizeof(msg), NULL, NULL) > 0);
        rx.expected_seq = 0;
        int n = 0;
        for (int k = 0; k < 100 && 0 == n; k++)
        {
            n = tp_subscription_poll(sub, on_count, &rx, 10);
        }
        TP_ASSERT_EQ_I64(1, n);
        TP_ASSERT_EQ_I64(0, rx.errors);
    }
    munmap(base, total);
    tp_subscription_stats_t st;
    tp_subscription_stats(sub, &st);
    TP_ASSERT_EQ_U64(5, st.dropped);
    TP_ASSERT_OK(tp_transport_close(t));
}

int main(void)
{
    if (0 != tpt_make_dir(g_dir, sizeof(g_dir), "ipc"))
    {
        fprintf(stderr, "cannot create a test directory\n");
        return 1;
    }
    TP_RUN(test_ipc_basic);
    TP_RUN(test_ipc_image_unavailable_on_close);
    TP_RUN(test_ipc_join_time_not_after_first_message);
    TP_RUN(test_ipc_every_boundary);
    TP_RUN(test_ipc_one_mib);
    TP_RUN(test_ipc_back_pressure_no_loss);
    TP_RUN(test_ipc_refused_offers_no_syscalls);
    TP_RUN(test_ipc_lapped);
    TP_RUN(test_ipc_poll_in_place);
    TP_RUN(test_ipc_errors);
    TP_RUN(test_ipc_cleanup_stale);
    TP_RUN(test_ipc_hole_without_tag);
    TP_RUN(test_ipc_corrupt_frames);
    tpt_remove_dir(g_dir);
    return tp_test_finish();
}
