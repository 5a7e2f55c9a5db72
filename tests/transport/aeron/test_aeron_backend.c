/*
 * Tests of the aeron transport backend itself (whatever TP_TEST_TRANSPORT
 * says): error translation, missing media driver, external vs embedded
 * driver, close ordering with everything still open (run under ASan in CI's
 * sanitizer build when Aeron is present), join times.
 */
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "common/tp_clock.h"
#include "tp_test.h"
#include "transport/aeron/tp_aeron_driver.h"
#include "transport/aeron/tp_aeron_test_dir.h"
#include "transport/tp_transport.h"

/** Aeron directory of this test process's embedded driver (started in main). */
static char g_dir[PATH_MAX];

/** A transport on the aeron backend and directory `dir`, with a client timeout. */
static int open_transport(tp_transport_t **t, const char *dir, uint64_t client_timeout_ns)
{
    tp_transport_context_t ctx;
    if (tp_transport_context_init(&ctx) < 0 || tp_transport_context_set_backend(&ctx, "aeron") < 0 ||
        tp_transport_context_set_dir(&ctx, dir) < 0)
    {
        return -1;
    }
    if (client_timeout_ns > 0)
    {
        ctx.client_timeout_ns = client_timeout_ns;
    }
    return tp_transport_init(t, &ctx);
}

typedef struct
{
    int available;
    int unavailable;
    uint64_t join_time_ns[8];
    int32_t session_id[8];
} images_t;

static void on_available(void *clientd, tp_subscription_t *sub, const tp_image_t *image)
{
    images_t *im = clientd;
    (void)sub;
    if (im->available < 8)
    {
        im->join_time_ns[im->available] = image->join_time_ns;
        im->session_id[im->available] = image->session_id;
    }
    im->available++;
}

static void on_unavailable(void *clientd, tp_subscription_t *sub, const tp_image_t *image)
{
    (void)sub;
    (void)image;
    ((images_t *)clientd)->unavailable++;
}

/** Run the duty cycle until `*flag >= target` or 5 s. */
static void wait_count(tp_transport_t *t, const int *flag, int target)
{
    uint64_t deadline = tp_clock_mono_ns() + UINT64_C(5000000000);
    while (*flag < target && tp_clock_mono_ns() < deadline)
    {
        tp_transport_do_work(t);
        tp_sleep_ns(1000000);
    }
}

/* No media driver at the directory and none embedded: a clear error within the client timeout. */
static void test_missing_driver_fails_within_timeout(void)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s-missing", g_dir);
    unsetenv(TP_AERON_EMBEDDED_DRIVER_ENV);
    tp_transport_t *t = NULL;
    uint64_t start = tp_clock_mono_ns();
    tp_err_clear();
    int rc = open_transport(&t, dir, UINT64_C(1000000000));
    uint64_t elapsed = tp_clock_mono_ns() - start;
    fprintf(stderr, "  error after %.2f s: %s\n", (double)elapsed / 1e9, tp_errmsg());
    TP_ASSERT_EQ_I64(-1, rc);
    TP_ASSERT(NULL == t);
    TP_ASSERT_EQ_I64(TP_ERR_TIMEOUT, tp_errcode());
    TP_ASSERT(NULL != strstr(tp_errmsg(), "no usable Aeron media driver"));
    TP_ASSERT(NULL != strstr(tp_errmsg(), dir));
    TP_ASSERT(NULL != strstr(tp_errmsg(), TP_AERON_EMBEDDED_DRIVER_ENV));
    TP_ASSERT_MSG(elapsed < UINT64_C(3000000000), "took %.2f s", (double)elapsed / 1e9);
    struct stat st;
    TP_ASSERT_MSG(0 != stat(dir, &st), "%s was created", dir);
}

/* Channels the driver rejects: translated codes, the Aeron message kept. */
static void test_bad_channels_are_translated(void)
{
    tp_transport_t *t = NULL;
    TP_ASSERT_OK(open_transport(&t, g_dir, 0));
    TP_ASSERT_STREQ("aeron", tp_transport_backend_name(t));
    TP_ASSERT_STREQ(g_dir, tp_transport_dir(t));
    tp_publication_t *pub = NULL;
    tp_subscription_t *sub = NULL;
    /* rejected by the driver as an invalid channel */
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_transport_add_publication(&pub, t, "aeron:udp", 1, 0));
    fprintf(stderr, "  %s\n", tp_errmsg());
    TP_ASSERT(NULL != strstr(tp_errmsg(), "aeron:udp"));
    TP_ASSERT(NULL != strstr(tp_errmsg(), "invalid channel"));
    /* a parameter the driver rejects (EINVAL inside a generic driver error) */
    TP_ASSERT_ERR(TP_ERR_MALFORMED,
        tp_transport_add_publication(&pub, t, "aeron:udp?endpoint=127.0.0.1:24400|mtu=100", 1, 0));
    TP_ASSERT(NULL != strstr(tp_errmsg(), "mtu"));
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_transport_add_publication(&pub, t, "aeron:ipc?term-length=3", 1, 0));
    /* rejected by our URI parser before Aeron sees it */
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_transport_add_subscription(&sub, t, "aeron:tcp?endpoint=x", 1, NULL, NULL,
        NULL, NULL, 0));
    /* the transport still works afterwards */
    TP_ASSERT_OK(tp_transport_add_publication(&pub, t, "aeron:ipc", 7, 0));
    TP_ASSERT_EQ_I64(TP_CHANNEL_STATUS_ACTIVE, tp_publication_channel_status(pub));
    TP_ASSERT_OK(tp_transport_close(t));
}

/*
 * Join times: local CLOCK_MONOTONIC at the time each image appeared,
 * increasing. Two publishers on one channel and stream need two media
 * drivers (publications of one channel and stream on one driver share one
 * session), so the second publisher uses a second driver, over UDP.
 */
static void test_join_time_monotonic(void)
{
    static const char *channel = "aeron:udp?endpoint=127.0.0.1:24402";
    char dir2[PATH_MAX];
    snprintf(dir2, sizeof(dir2), "%s-second", g_dir);
    tp_aeron_media_driver_t *driver2 = NULL;
    TP_ASSERT_OK(tp_aeron_media_driver_start(&driver2, dir2, 0));
    tp_transport_t *t = NULL;
    tp_transport_t *t2 = NULL;
    tp_transport_t *t3 = NULL;
    tp_publication_t *p2 = NULL;
    tp_publication_t *p3 = NULL;
    tp_subscription_t *sub = NULL;
    images_t im = { 0 };
    int ok = 0;
    uint64_t before = tp_clock_mono_ns();
    uint64_t middle = 0;
    uint64_t after = 0;
    if (0 == open_transport(&t, g_dir, 0) && 0 == open_transport(&t2, g_dir, 0) &&
        0 == open_transport(&t3, dir2, 0) &&
        0 == tp_transport_add_subscription(&sub, t, channel, 20, on_available, &im, on_unavailable, &im, 0) &&
        0 == tp_transport_add_publication(&p2, t2, channel, 20, 0))
    {
        wait_count(t, &im.available, 1);
        tp_sleep_ns(2000000);
        middle = tp_clock_mono_ns();
        if (0 == tp_transport_add_publication(&p3, t3, channel, 20, 0))
        {
            wait_count(t, &im.available, 2);
            after = tp_clock_mono_ns();
            ok = 1;
        }
    }
    int images = NULL != sub ? tp_subscription_image_count(sub) : -1;
    /* a closed publisher's image goes away (after the driver's linger and liveness) */
    int unavailable_before = im.unavailable;
    tp_transport_close(t3);
    t3 = NULL;
    tp_aeron_media_driver_close(driver2);
    if (ok)
    {
        uint64_t deadline = tp_clock_mono_ns() + UINT64_C(15000000000);
        while (im.unavailable == unavailable_before && tp_clock_mono_ns() < deadline)
        {
            tp_transport_do_work(t);
            tp_transport_do_work(t2);
            tp_sleep_ns(1000000);
        }
    }
    int32_t s2 = NULL != p2 ? tp_publication_session_id(p2) : 0;
    int images_after = NULL != sub ? tp_subscription_image_count(sub) : -1;
    tp_transport_close(t2);
    tp_transport_close(t);
    TP_ASSERT_MSG(ok, "setup failed: %s", tp_errmsg());
    TP_ASSERT_EQ_I64(2, im.available);
    TP_ASSERT_EQ_I64(2, images);
    /*
     * Join time contract (docs/TRANSPORT.md "Image join time"): not before the
     * subscription was added, and never after a message the image can deliver:
     * the Aeron backend reports the time the subscription's add started, so an
     * image that appears later (the second publisher) does not get a join time
     * later than its first messages.
     */
    TP_ASSERT(im.join_time_ns[0] >= before && im.join_time_ns[0] <= middle);
    TP_ASSERT(im.join_time_ns[1] >= before && im.join_time_ns[1] <= middle);
    TP_ASSERT(im.join_time_ns[1] <= after);
    TP_ASSERT(im.session_id[0] != im.session_id[1]);
    TP_ASSERT_EQ_I64(s2, im.session_id[0]);
    TP_ASSERT_EQ_I64(unavailable_before + 1, im.unavailable);
    TP_ASSERT_EQ_I64(1, images_after);
}

/*
 * Close ordering: transports closed with publications, subscriptions,
 * claims and adds still pending, in every order (ASan/LSan find leaks and
 * uses after free).
 */
static void test_close_with_everything_open(void)
{
    for (int round = 0; round < 3; round++)
    {
        tp_transport_t *t = NULL;
        TP_ASSERT_OK(open_transport(&t, g_dir, 0));
        images_t im = { 0 };
        tp_subscription_t *sub = NULL;
        tp_publication_t *pub = NULL;
        TP_ASSERT_OK(tp_transport_add_subscription(&sub, t, "aeron:ipc", 30, on_available, &im, on_unavailable, &im,
            0));
        TP_ASSERT_OK(tp_transport_add_publication(&pub, t, "aeron:ipc", 30, 0));
        TP_ASSERT_OK(tp_transport_add_subscription(&sub, t, "aeron:udp?endpoint=127.0.0.1:24401", 31, on_available,
            &im, on_unavailable, &im, 0));
        TP_ASSERT_OK(tp_transport_add_publication(&pub, t, "aeron:udp?endpoint=127.0.0.1:24401", 31, 0));
        uint8_t msg[3000] = { 1, 2, 3 };
        uint64_t deadline = tp_clock_mono_ns() + UINT64_C(5000000000);
        while (tp_publication_offer(pub, msg, sizeof(msg), NULL, NULL) < 0 && tp_clock_mono_ns() < deadline)
        {
            tp_transport_do_work(t);
        }
        /* adds left pending at close: the backend owns and frees them */
        tp_async_add_publication_t *apub = NULL;
        tp_async_add_subscription_t *asub = NULL;
        TP_ASSERT_OK(tp_transport_async_add_publication(&apub, t, "aeron:ipc", 32));
        TP_ASSERT_OK(tp_transport_async_add_subscription(&asub, t, "aeron:ipc", 32, on_available, &im,
            on_unavailable, &im));
        if (1 == round)
        {
            TP_ASSERT_OK(tp_subscription_close(sub));
        }
        if (2 == round)
        {
            TP_ASSERT_OK(tp_publication_close(pub));
            tp_transport_do_work(t);
        }
        TP_ASSERT_OK(tp_transport_close(t));
    }
}

/* With an embedded driver requested while a driver already runs on the dir, the running one is used. */
static void test_embedded_flag_shares_running_driver(void)
{
    setenv(TP_AERON_EMBEDDED_DRIVER_ENV, "1", 1);
    tp_transport_t *t = NULL;
    tp_transport_t *t2 = NULL;
    TP_ASSERT_OK(open_transport(&t, g_dir, 0));
    TP_ASSERT_OK(open_transport(&t2, g_dir, 0));
    tp_publication_t *pub = NULL;
    tp_subscription_t *sub = NULL;
    TP_ASSERT_OK(tp_transport_add_subscription(&sub, t, "aeron:ipc", 40, NULL, NULL, NULL, NULL, 0));
    TP_ASSERT_OK(tp_transport_add_publication(&pub, t2, "aeron:ipc", 40, 0));
    uint64_t deadline = tp_clock_mono_ns() + UINT64_C(5000000000);
    while (!tp_publication_is_connected(pub) && tp_clock_mono_ns() < deadline)
    {
        tp_transport_do_work(t);
        tp_transport_do_work(t2);
    }
    TP_ASSERT(tp_publication_is_connected(pub));
    TP_ASSERT_OK(tp_transport_close(t2));
    TP_ASSERT_OK(tp_transport_close(t));
    unsetenv(TP_AERON_EMBEDDED_DRIVER_ENV);
    /* the driver of main() was not stopped by those transports */
    TP_ASSERT(tp_aeron_media_driver_is_active(g_dir, 1000));

    /* a directory without a driver: the flag starts one in this process and stops it at close */
    char own[PATH_MAX];
    snprintf(own, sizeof(own), "%s-own", g_dir);
    setenv(TP_AERON_EMBEDDED_DRIVER_ENV, "1", 1);
    TP_ASSERT_OK(open_transport(&t, own, 0));
    TP_ASSERT(tp_aeron_media_driver_is_active(own, 1000));
    TP_ASSERT_OK(tp_transport_close(t));
    unsetenv(TP_AERON_EMBEDDED_DRIVER_ENV);
    struct stat st;
    TP_ASSERT_MSG(0 != stat(own, &st), "%s not deleted with its embedded driver", own);
}

int main(void)
{
    if (!tp_aeron_media_driver_supported())
    {
        fprintf(stderr, "SKIP: built without the Aeron driver library (no embedded media driver)\n");
        return 77;
    }
    if (0 != tp_aeron_test_dir_make(g_dir, sizeof(g_dir), "backend"))
    {
        return 1;
    }
    /* A driver as another process would run it: the transports use it as an external driver. */
    tp_aeron_media_driver_t *driver = NULL;
    if (tp_aeron_media_driver_start(&driver, g_dir, UINT64_C(2000000000)) < 0)
    {
        fprintf(stderr, "driver: %s\n", tp_errmsg());
        tp_aeron_test_dir_remove(g_dir);
        return 1;
    }
    unsetenv(TP_AERON_EMBEDDED_DRIVER_ENV);
    TP_RUN(test_missing_driver_fails_within_timeout);
    TP_RUN(test_bad_channels_are_translated);
    TP_RUN(test_join_time_monotonic);
    TP_RUN(test_close_with_everything_open);
    TP_RUN(test_embedded_flag_shares_running_driver);
    if (tp_aeron_media_driver_close(driver) < 0)
    {
        fprintf(stderr, "driver close: %s\n", tp_errmsg());
    }
    return tp_test_finish();
}
