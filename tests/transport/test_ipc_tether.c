/*
 * Tether timeout of the embedded IPC log (docs/TRANSPORT.md, "Tether
 * timeout"): a tethered subscriber that stops reading holds its publishers
 * back for at most its tether timeout (default 100 ms), then is untethered;
 * when it resumes it detects the laps, counts the loss, never delivers a torn
 * message, and tethers itself again once it has caught up.
 *
 * Measured "held" = longest time between two accepted offers of a publisher
 * that offers continuously (spinning on BACK_PRESSURED).
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

#include "tp_transport_test_util.h"

static char g_dir[256];

#define MSG_LEN 200
#define END_SEQ UINT64_MAX

typedef struct
{
    uint64_t count;
    uint64_t last;
    uint64_t bad;
    uint64_t out_of_order;
    bool end;
} rx_t;

static void fill(uint8_t *msg, uint64_t seq)
{
    memcpy(msg, &seq, sizeof(seq));
    memset(msg + 8, (int)(uint8_t)(seq * 7u + 1u), MSG_LEN - 8);
}

static void on_msg(void *clientd, const uint8_t *buffer, size_t length, const tp_header_t *header)
{
    (void)header;
    rx_t *rx = clientd;
    uint64_t seq;
    if (MSG_LEN != length)
    {
        rx->bad++;
        return;
    }
    memcpy(&seq, buffer, sizeof(seq));
    if (END_SEQ == seq)
    {
        rx->end = true;
        return;
    }
    for (size_t i = 8; i < length; i++)
    {
        if (buffer[i] != (uint8_t)(seq * 7u + 1u))
        {
            rx->bad++; /* torn */
            return;
        }
    }
    if (rx->count > 0 && seq <= rx->last)
    {
        rx->out_of_order++;
    }
    rx->last = seq;
    rx->count++;
}

/*
 * Offer `n` messages (seq from *next) as fast as possible, spinning on back
 * pressure, for at most `limit_ns`. Returns the longest time the publisher was
 * held (between two accepted offers, or since the last one when it gave up).
 */
static uint64_t publish_spinning(tp_publication_t *pub, uint64_t *next, uint64_t n, uint64_t limit_ns,
    uint64_t *back_pressured)
{
    uint8_t msg[MSG_LEN];
    uint64_t start = tp_clock_mono_ns();
    uint64_t last_ok = start;
    uint64_t held = 0;
    uint64_t end = *next + n;
    while (*next < end)
    {
        fill(msg, *next);
        int64_t rc = tp_publication_offer(pub, msg, sizeof(msg), NULL, NULL);
        uint64_t now = tp_clock_mono_ns();
        if (rc > 0)
        {
            held = now - last_ok > held ? now - last_ok : held;
            last_ok = now;
            (*next)++;
            continue;
        }
        if (TP_PUBLICATION_BACK_PRESSURED == rc && NULL != back_pressured)
        {
            (*back_pressured)++;
        }
        if (now - start > limit_ns)
        {
            held = now - last_ok > held ? now - last_ok : held;
            break;
        }
    }
    return held;
}

static void drain(tp_subscription_t *sub, rx_t *rx)
{
    while (tp_subscription_poll(sub, on_msg, rx, 1000) > 0)
    {
    }
}

/* One process: the subscriber simply stops polling, then resumes. */
static void test_stalled_subscriber_is_untethered(void)
{
    TPT_SKIP_ON_AERON("tether timeout of the embedded IPC log (Aeron: untethered-window-limit-timeout)");
    tp_transport_t *t = NULL;
    TP_ASSERT_OK(tpt_transport(&t, g_dir, 0, 0)); /* default liveness (5 s) and tether timeout (100 ms) */
    tp_subscription_t *sub = NULL;
    tp_publication_t *pub = NULL;
    TP_ASSERT_OK(tp_transport_add_subscription(&sub, t, "aeron:ipc?term-length=64k", 40, NULL, NULL, NULL, NULL, 0));
    TP_ASSERT_OK(tp_transport_add_publication(&pub, t, "aeron:ipc?term-length=64k", 40, 0));
    rx_t rx = { 0 };
    uint64_t next = 0;
    /* healthy: read everything */
    uint8_t msg[MSG_LEN];
    for (; next < 100; next++)
    {
        fill(msg, next);
        TP_ASSERT(tp_publication_offer(pub, msg, sizeof(msg), NULL, NULL) > 0);
    }
    drain(sub, &rx);
    TP_ASSERT_EQ_U64(100, rx.count);

    /* the subscriber stops polling: ~10 rings' worth must still go out, each stall bounded */
    uint64_t bp = 0;
    uint64_t held = publish_spinning(pub, &next, 3000, 3000000000ULL, &bp);
    fprintf(stderr, "  stalled subscriber: publisher held at most %.1f ms (%llu refused offers), %llu sent\n",
        (double)held / 1e6, (unsigned long long)bp, (unsigned long long)next);
    TP_ASSERT_EQ_U64(3100, next);
    TP_ASSERT_MSG(held < 1000000000ULL, "publisher held %.1f ms by a subscriber that stopped reading",
        (double)held / 1e6);
    TP_ASSERT(held >= 90000000ULL); /* tethered until the timeout: flow control still holds it that long */

    /* it resumes: lapped, loss counted, nothing torn, then tethered again */
    drain(sub, &rx);
    tp_subscription_stats_t st;
    TP_ASSERT_OK(tp_subscription_stats(sub, &st));
    TP_ASSERT_EQ_U64(1, st.untethered);
    TP_ASSERT(st.laps >= 1 && st.lost_messages >= 1 && st.lost_bytes > 0);
    TP_ASSERT_EQ_U64(0, rx.bad);
    TP_ASSERT_EQ_U64(0, rx.out_of_order);
    TP_ASSERT(rx.count < 3100); /* it did lose messages */
    for (int i = 0; i < 10; i++)
    {
        tp_transport_do_work(t);
        drain(sub, &rx);
    }
    /* caught up, tethered again: a full ring back-pressures again, without loss when it reads */
    uint64_t before = rx.count;
    uint64_t sent = 0;
    int64_t rc = 0;
    while (sent < 1000 && (rc = tp_publication_offer(pub, (fill(msg, next), msg), sizeof(msg), NULL, NULL)) > 0)
    {
        next++;
        sent++;
    }
    TP_ASSERT_EQ_I64(TP_PUBLICATION_BACK_PRESSURED, rc);
    TP_ASSERT(sent > 200 && sent < 400); /* one 64 KiB ring of 256-byte frames */
    drain(sub, &rx);
    TP_ASSERT_EQ_U64(before + sent, rx.count);
    TP_ASSERT_OK(tp_subscription_stats(sub, &st));
    TP_ASSERT_EQ_U64(1, st.untethered);
    TP_ASSERT_OK(tp_transport_close(t));
}

/* untethered-window-limit-timeout on the subscription channel sets the bound; 0 means never (pure flow control). */
static void test_tether_timeout_channel_parameter(void)
{
    TPT_SKIP_ON_AERON("embedded IPC flow control");
    tp_transport_t *t = NULL;
    TP_ASSERT_OK(tpt_transport(&t, g_dir, 0, 0));
    tp_subscription_t *sub = NULL;
    tp_publication_t *pub = NULL;
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_transport_add_subscription(&sub, t,
        "aeron:ipc?untethered-window-limit-timeout=soon", 41, NULL, NULL, NULL, NULL, 0));
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_transport_add_subscription(&sub, t,
        "aeron:ipc?untethered-window-limit-timeout=10min", 41, NULL, NULL, NULL, NULL, 0));
    /* 0: never untethered, the publisher is held for as long as the subscriber does not read */
    TP_ASSERT_OK(tp_transport_add_subscription(&sub, t, "aeron:ipc?term-length=64k|untethered-window-limit-timeout=0",
        41, NULL, NULL, NULL, NULL, 0));
    TP_ASSERT_OK(tp_transport_add_publication(&pub, t, "aeron:ipc?term-length=64k", 41, 0));
    uint64_t next = 0;
    uint64_t held = publish_spinning(pub, &next, 1000, 400000000ULL, NULL);
    TP_ASSERT(next < 400 && held >= 300000000ULL);
    rx_t rx = { 0 };
    drain(sub, &rx);
    TP_ASSERT_EQ_U64(next, rx.count);
    TP_ASSERT_OK(tp_subscription_close(sub));
    /* 30ms: untethered after about 30 ms */
    TP_ASSERT_OK(tp_transport_add_subscription(&sub, t,
        "aeron:ipc?term-length=64k|untethered-window-limit-timeout=30ms", 41, NULL, NULL, NULL, NULL, 0));
    held = publish_spinning(pub, &next, 1000, 3000000000ULL, NULL);
    fprintf(stderr, "  30 ms tether timeout: publisher held at most %.1f ms\n", (double)held / 1e6);
    TP_ASSERT(held >= 25000000ULL && held < 1000000000ULL);
    TP_ASSERT_OK(tp_transport_close(t));
}

/* A subscriber process that is SIGSTOPped (our own child) stalls the publisher at most the tether timeout. */
static int child_subscriber(int result_fd, int ready_fd)
{
    tp_transport_t *t = NULL;
    tp_subscription_t *sub = NULL;
    if (tpt_transport(&t, g_dir, 0, 0) < 0 ||
        tp_transport_add_subscription(&sub, t, "aeron:ipc?term-length=64k", 42, NULL, NULL, NULL, NULL, 0) < 0)
    {
        return 2;
    }
    char c = 'r';
    if (1 != write(ready_fd, &c, 1))
    {
        return 3;
    }
    rx_t rx = { 0 };
    uint64_t deadline = tp_clock_mono_ns() + 20000000000ULL;
    while (!rx.end && tp_clock_mono_ns() < deadline)
    {
        tp_transport_do_work(t);
        if (0 == tp_subscription_poll(sub, on_msg, &rx, 64))
        {
            tp_sleep_ns(100000);
        }
    }
    tp_subscription_stats_t st;
    tp_subscription_stats(sub, &st);
    uint64_t result[6] = { rx.count, rx.bad, rx.out_of_order, st.untethered, st.laps, st.lost_messages };
    if (sizeof(result) != write(result_fd, result, sizeof(result)))
    {
        return 4;
    }
    tp_transport_close(t);
    return rx.end ? 0 : 5;
}

static void test_sigstopped_subscriber_process(void)
{
    TPT_SKIP_ON_AERON("tether timeout of the embedded IPC log");
    int ready[2], result[2];
    TP_ASSERT(0 == pipe(ready) && 0 == pipe(result));
    pid_t child = fork();
    TP_ASSERT(child >= 0);
    if (0 == child)
    {
        close(ready[0]);
        close(result[0]);
        _exit(child_subscriber(result[1], ready[1]));
    }
    close(ready[1]);
    close(result[1]);
    char c;
    bool ok = 1 == read(ready[0], &c, 1);
    tp_transport_t *t = NULL;
    tp_publication_t *pub = NULL;
    uint64_t held = 0, next = 0, bp = 0;
    uint64_t res[6] = { 0 };
    bool got = false;
    if (ok && 0 == tpt_transport(&t, g_dir, 0, 0) &&
        0 == tp_transport_add_publication(&pub, t, "aeron:ipc?term-length=64k", 42, 0))
    {
        publish_spinning(pub, &next, 200, 2000000000ULL, NULL); /* the child reads these */
        tp_sleep_ns(300000000ULL);
        kill(child, SIGSTOP);
        held = publish_spinning(pub, &next, 3000, 3000000000ULL, &bp);
        kill(child, SIGCONT);
        /* end markers until the child reports (it may be lapped past one) */
        uint8_t msg[MSG_LEN];
        fill(msg, END_SEQ);
        uint64_t deadline = tp_clock_mono_ns() + 10000000000ULL;
        fcntl(result[0], F_SETFL, O_NONBLOCK);
        while (!got && tp_clock_mono_ns() < deadline)
        {
            tp_publication_offer(pub, msg, sizeof(msg), NULL, NULL);
            tp_transport_do_work(t);
            got = sizeof(res) == read(result[0], res, sizeof(res));
            tp_sleep_ns(5000000);
        }
    }
    kill(child, SIGKILL); /* our own child: no-op if it already exited */
    int status = 0;
    waitpid(child, &status, 0);
    close(ready[0]);
    close(result[0]);
    if (NULL != t)
    {
        tp_transport_close(t);
    }
    fprintf(stderr, "  SIGSTOPped subscriber: publisher held at most %.1f ms (%llu refused offers); child got %llu, "
        "bad %llu, untethered %llu, laps %llu, lost %llu\n", (double)held / 1e6, (unsigned long long)bp,
        (unsigned long long)res[0], (unsigned long long)res[1], (unsigned long long)res[3],
        (unsigned long long)res[4], (unsigned long long)res[5]);
    TP_ASSERT(ok);
    TP_ASSERT_EQ_U64(3200, next);
    TP_ASSERT_MSG(held < 1000000000ULL, "publisher held %.1f ms by a stopped subscriber", (double)held / 1e6);
    TP_ASSERT(got);
    TP_ASSERT_EQ_U64(0, res[1]); /* never torn */
    TP_ASSERT_EQ_U64(0, res[2]);
    TP_ASSERT(res[3] >= 1);      /* untethered, counted */
    TP_ASSERT(res[4] >= 1 && res[5] >= 1);
    TP_ASSERT(res[0] >= 200 && res[0] < 3200);
}

int main(void)
{
    if (0 != tpt_make_dir(g_dir, sizeof(g_dir), "tether"))
    {
        return 1;
    }
    TP_RUN(test_stalled_subscriber_is_untethered);
    TP_RUN(test_tether_timeout_channel_parameter);
    TP_RUN(test_sigstopped_subscriber_process);
    tpt_remove_dir(g_dir);
    return tp_test_finish();
}
