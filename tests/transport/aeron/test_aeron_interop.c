/*
 * Interoperability of the aeron backend with a plain Aeron client: a second,
 * independent Aeron C client (aeronc.h only, its own conductor thread, as any
 * other implementation of the specs would run) exchanges messages with a
 * tensorpool transport through one media driver, both ways, over aeron:ipc and
 * aeron:udp on 127.0.0.1: same bytes, whole fragmented messages, reserved
 * values, session ids.
 */
#include <limits.h>
#include <string.h>

#include "aeronc.h"
#include "common/tp_clock.h"
#include "tp_test.h"
#include "transport/aeron/tp_aeron_driver.h"
#include "transport/aeron/tp_aeron_test_dir.h"
#include "transport/tp_transport.h"

static char g_dir[PATH_MAX];
static aeron_context_t *g_plain_context = NULL;
static aeron_t *g_plain = NULL;

#define BIG_LENGTH (100 * 1024)

typedef struct
{
    int count;
    size_t last_length;
    int bad;
    int64_t last_reserved;
    int64_t small_reserved;  /**< reserved value of the 64-byte message */
    int32_t last_session;
} rx_t;

/** Payload byte k of a message of `length` bytes. */
static uint8_t pattern(size_t k, size_t length)
{
    return (uint8_t)(k * 29u + length);
}

static void fill(uint8_t *buf, size_t length)
{
    for (size_t k = 0; k < length; k++)
    {
        buf[k] = pattern(k, length);
    }
}

static void check(rx_t *rx, const uint8_t *buf, size_t length)
{
    rx->count++;
    rx->last_length = length;
    for (size_t k = 0; k < length; k++)
    {
        if (buf[k] != pattern(k, length))
        {
            rx->bad++;
            break;
        }
    }
}

/** Handler of the plain Aeron client (through its fragment assembler). */
static void plain_on_message(void *clientd, const uint8_t *buffer, size_t length, aeron_header_t *header)
{
    rx_t *rx = clientd;
    aeron_header_values_t values;
    if (0 == aeron_header_values(header, &values))
    {
        rx->last_reserved = values.frame.reserved_value;
        rx->last_session = values.frame.session_id;
        if (64 == length)
        {
            rx->small_reserved = values.frame.reserved_value;
        }
    }
    check(rx, buffer, length);
}

/** Handler of the tensorpool subscription. */
static void tp_on_message(void *clientd, const uint8_t *buffer, size_t length, const tp_header_t *header)
{
    rx_t *rx = clientd;
    rx->last_reserved = header->reserved_value;
    rx->last_session = header->session_id;
    check(rx, buffer, length);
}

static int64_t supplier(void *clientd, uint8_t *buffer, size_t length)
{
    (void)clientd;
    (void)buffer;
    return (int64_t)length + 1000;
}

static int open_transport(tp_transport_t **t)
{
    tp_transport_context_t ctx;
    if (tp_transport_context_init(&ctx) < 0 || tp_transport_context_set_backend(&ctx, "aeron") < 0 ||
        tp_transport_context_set_dir(&ctx, g_dir) < 0)
    {
        return -1;
    }
    return tp_transport_init(t, &ctx);
}

/** Blocking add of a plain Aeron subscription (its conductor runs on its own thread). */
static aeron_subscription_t *plain_subscription(const char *channel, int32_t stream_id)
{
    aeron_async_add_subscription_t *async = NULL;
    aeron_subscription_t *sub = NULL;
    if (aeron_async_add_subscription(&async, g_plain, channel, stream_id, NULL, NULL, NULL, NULL) < 0)
    {
        return NULL;
    }
    int rc;
    while (0 == (rc = aeron_async_add_subscription_poll(&sub, async)))
    {
        tp_sleep_ns(1000000);
    }
    return rc > 0 ? sub : NULL;
}

/** Blocking add of a plain Aeron publication. */
static aeron_publication_t *plain_publication(const char *channel, int32_t stream_id)
{
    aeron_async_add_publication_t *async = NULL;
    aeron_publication_t *pub = NULL;
    if (aeron_async_add_publication(&async, g_plain, channel, stream_id) < 0)
    {
        return NULL;
    }
    int rc;
    while (0 == (rc = aeron_async_add_publication_poll(&pub, async)))
    {
        tp_sleep_ns(1000000);
    }
    return rc > 0 ? pub : NULL;
}

/* tensorpool publishes, a plain Aeron client subscribes. */
static void tp_to_plain(const char *channel, int32_t stream_id)
{
    static uint8_t big[BIG_LENGTH];
    tp_transport_t *t = NULL;
    TP_ASSERT_OK(open_transport(&t));
    aeron_subscription_t *sub = plain_subscription(channel, stream_id);
    aeron_fragment_assembler_t *assembler = NULL;
    rx_t rx = { 0 };
    TP_ASSERT_MSG(NULL != sub, "plain subscription: %s", aeron_errmsg());
    TP_ASSERT(0 == aeron_fragment_assembler_create(&assembler, plain_on_message, &rx));
    tp_publication_t *pub = NULL;
    TP_ASSERT_OK(tp_transport_add_publication(&pub, t, channel, stream_id, 0));
    uint64_t deadline = tp_clock_mono_ns() + UINT64_C(5000000000);
    while (!tp_publication_is_connected(pub) && tp_clock_mono_ns() < deadline)
    {
        tp_transport_do_work(t);
        tp_sleep_ns(1000000);
    }
    TP_ASSERT(tp_publication_is_connected(pub));
    fill(big, 64);
    TP_ASSERT(tp_publication_offer(pub, big, 64, supplier, NULL) > 0);
    fill(big, sizeof(big));
    int64_t rc;
    while ((rc = tp_publication_offer(pub, big, sizeof(big), NULL, NULL)) == TP_PUBLICATION_BACK_PRESSURED &&
        tp_clock_mono_ns() < deadline)
    {
        tp_transport_do_work(t);
    }
    TP_ASSERT(rc > 0);
    while (rx.count < 2 && tp_clock_mono_ns() < deadline)
    {
        if (0 == aeron_subscription_poll(sub, aeron_fragment_assembler_handler, assembler, 64))
        {
            tp_transport_do_work(t);
            tp_sleep_ns(100000);
        }
    }
    TP_ASSERT_EQ_I64(2, rx.count);
    TP_ASSERT_EQ_I64(0, rx.bad);
    TP_ASSERT_EQ_U64(sizeof(big), rx.last_length);
    TP_ASSERT_EQ_I64(tp_publication_session_id(pub), rx.last_session);
    TP_ASSERT_EQ_I64(64 + 1000, rx.small_reserved); /* our supplier saw the payload length */
    aeron_subscription_close(sub, NULL, NULL);
    aeron_fragment_assembler_delete(assembler);
    TP_ASSERT_OK(tp_transport_close(t));
}

/* A plain Aeron client publishes, tensorpool subscribes. */
static void plain_to_tp(const char *channel, int32_t stream_id)
{
    static uint8_t big[BIG_LENGTH];
    tp_transport_t *t = NULL;
    TP_ASSERT_OK(open_transport(&t));
    tp_subscription_t *sub = NULL;
    TP_ASSERT_OK(tp_transport_add_subscription(&sub, t, channel, stream_id, NULL, NULL, NULL, NULL, 0));
    aeron_publication_t *pub = plain_publication(channel, stream_id);
    TP_ASSERT_MSG(NULL != pub, "plain publication: %s", aeron_errmsg());
    aeron_publication_constants_t constants;
    TP_ASSERT(0 == aeron_publication_constants(pub, &constants));
    uint64_t deadline = tp_clock_mono_ns() + UINT64_C(5000000000);
    while (!(aeron_publication_is_connected(pub) && tp_subscription_is_connected(sub)) &&
        tp_clock_mono_ns() < deadline)
    {
        tp_transport_do_work(t);
        tp_sleep_ns(1000000);
    }
    TP_ASSERT(aeron_publication_is_connected(pub));
    fill(big, 100);
    int64_t rc;
    while ((rc = aeron_publication_offer(pub, big, 100, NULL, NULL)) < 0 && tp_clock_mono_ns() < deadline)
    {
        tp_sleep_ns(100000);
    }
    TP_ASSERT(rc > 0);
    fill(big, sizeof(big));
    while ((rc = aeron_publication_offer(pub, big, sizeof(big), NULL, NULL)) < 0 && tp_clock_mono_ns() < deadline)
    {
        tp_sleep_ns(100000);
    }
    TP_ASSERT(rc > 0);
    rx_t rx = { 0 };
    while (rx.count < 2 && tp_clock_mono_ns() < deadline)
    {
        if (0 == tp_subscription_poll(sub, tp_on_message, &rx, 10))
        {
            tp_transport_do_work(t);
            tp_sleep_ns(100000);
        }
    }
    TP_ASSERT_EQ_I64(2, rx.count);
    TP_ASSERT_EQ_I64(0, rx.bad);
    TP_ASSERT_EQ_U64(sizeof(big), rx.last_length);
    TP_ASSERT_EQ_I64(constants.session_id, rx.last_session);
    aeron_publication_close(pub, NULL, NULL);
    TP_ASSERT_OK(tp_transport_close(t));
}

static void test_tp_to_plain_ipc(void)
{
    tp_to_plain("aeron:ipc", 50);
}

static void test_tp_to_plain_udp(void)
{
    tp_to_plain("aeron:udp?endpoint=127.0.0.1:24410", 51);
}

static void test_plain_to_tp_ipc(void)
{
    plain_to_tp("aeron:ipc", 52);
}

static void test_plain_to_tp_udp(void)
{
    plain_to_tp("aeron:udp?endpoint=127.0.0.1:24411", 53);
}

int main(void)
{
    if (!tp_aeron_media_driver_supported())
    {
        fprintf(stderr, "SKIP: built without the Aeron driver library (no embedded media driver)\n");
        return 77;
    }
    if (0 != tp_aeron_test_dir_make(g_dir, sizeof(g_dir), "interop"))
    {
        return 1;
    }
    tp_aeron_media_driver_t *driver = NULL;
    if (tp_aeron_media_driver_start(&driver, g_dir, 0) < 0)
    {
        fprintf(stderr, "driver: %s\n", tp_errmsg());
        tp_aeron_test_dir_remove(g_dir);
        return 1;
    }
    /* The plain client: default settings (its own conductor thread), like another implementation's. */
    if (aeron_context_init(&g_plain_context) < 0 || aeron_context_set_dir(g_plain_context, g_dir) < 0 ||
        aeron_init(&g_plain, g_plain_context) < 0 || aeron_start(g_plain) < 0)
    {
        fprintf(stderr, "plain Aeron client: %s\n", aeron_errmsg());
        tp_aeron_media_driver_close(driver);
        return 1;
    }
    TP_RUN(test_tp_to_plain_ipc);
    TP_RUN(test_tp_to_plain_udp);
    TP_RUN(test_plain_to_tp_ipc);
    TP_RUN(test_plain_to_tp_udp);
    aeron_close(g_plain);
    aeron_context_close(g_plain_context);
    tp_aeron_media_driver_close(driver);
    return tp_test_finish();
}
