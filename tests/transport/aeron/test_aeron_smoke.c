/*
 * Installation check of the Aeron C client and driver this build links: an
 * embedded media driver in a temporary directory, then the plain aeronc.h API
 * (no tensorpool transport) over aeron:ipc and aeron:udp on 127.0.0.1:
 * asynchronous adds, image callbacks, offer, fragmented messages through the
 * fragment assembler, try_claim, close in order.
 */
#include <string.h>

#include "aeronc.h"
#include "common/tp_clock.h"
#include "common/tp_error.h"
#include "tp_test.h"
#include "transport/aeron/tp_aeron_driver.h"
#include "transport/aeron/tp_aeron_error.h"
#include "transport/aeron/tp_aeron_test_dir.h"

typedef struct smoke_state_stct
{
    int images_available;
    int images_unavailable;
    int messages;
    size_t last_length;
    int payload_ok;
} smoke_state_t;

static void smoke_on_available(void *clientd, aeron_subscription_t *subscription, aeron_image_t *image)
{
    (void)subscription;
    (void)image;
    ((smoke_state_t *)clientd)->images_available++;
}

static void smoke_on_unavailable(void *clientd, aeron_subscription_t *subscription, aeron_image_t *image)
{
    (void)subscription;
    (void)image;
    ((smoke_state_t *)clientd)->images_unavailable++;
}

static void smoke_on_message(void *clientd, const uint8_t *buffer, size_t length, aeron_header_t *header)
{
    (void)header;
    smoke_state_t *s = clientd;
    s->messages++;
    s->last_length = length;
    s->payload_ok = 1;
    for (size_t i = 0; i < length; i++)
    {
        if (buffer[i] != (uint8_t)(i * 7u))
        {
            s->payload_ok = 0;
            break;
        }
    }
}

/** Run one pub/sub round trip on `channel`. Returns 0 or -1 (message on stderr). */
static int smoke_round_trip(aeron_t *client, const char *channel)
{
    smoke_state_t state = { 0 };
    aeron_async_add_subscription_t *async_sub = NULL;
    aeron_async_add_publication_t *async_pub = NULL;
    aeron_subscription_t *sub = NULL;
    aeron_publication_t *pub = NULL;
    aeron_fragment_assembler_t *assembler = NULL;
    int rc = -1;
    static uint8_t big[200 * 1024];
    for (size_t i = 0; i < sizeof(big); i++)
    {
        big[i] = (uint8_t)(i * 7u);
    }

    if (aeron_async_add_subscription(&async_sub, client, channel, 1001, smoke_on_available, &state,
        smoke_on_unavailable, &state) < 0 ||
        aeron_async_add_publication(&async_pub, client, channel, 1001) < 0)
    {
        fprintf(stderr, "async add on %s: %s\n", channel, aeron_errmsg());
        return -1;
    }
    uint64_t deadline = tp_clock_mono_ns() + UINT64_C(5000000000);
    while ((NULL == sub || NULL == pub) && tp_clock_mono_ns() < deadline)
    {
        aeron_main_do_work(client);
        if (NULL == sub && NULL != async_sub)
        {
            int r = aeron_async_add_subscription_poll(&sub, async_sub);
            if (r < 0)
            {
                fprintf(stderr, "add subscription %s: %s\n", channel, aeron_errmsg());
                return -1;
            }
            async_sub = r > 0 ? NULL : async_sub;
        }
        if (NULL == pub && NULL != async_pub)
        {
            int r = aeron_async_add_publication_poll(&pub, async_pub);
            if (r < 0)
            {
                fprintf(stderr, "add publication %s: %s\n", channel, aeron_errmsg());
                return -1;
            }
            async_pub = r > 0 ? NULL : async_pub;
        }
        tp_sleep_ns(100000);
    }
    if (NULL == sub || NULL == pub || aeron_fragment_assembler_create(&assembler, smoke_on_message, &state) < 0)
    {
        fprintf(stderr, "add timed out on %s\n", channel);
        goto done;
    }
    while ((!aeron_publication_is_connected(pub) || 0 == state.images_available) && tp_clock_mono_ns() < deadline)
    {
        aeron_main_do_work(client);
        tp_sleep_ns(100000);
    }
    aeron_publication_constants_t constants;
    if (!aeron_publication_is_connected(pub) || 1 != state.images_available ||
        aeron_publication_constants(pub, &constants) < 0)
    {
        fprintf(stderr, "not connected on %s (images %d)\n", channel, state.images_available);
        goto done;
    }
    /* One small offer, one fragmented message (> one MTU), one try_claim. */
    int64_t pos = -1;
    while ((pos = aeron_publication_offer(pub, big, 64, NULL, NULL)) < 0 && tp_clock_mono_ns() < deadline)
    {
        aeron_main_do_work(client);
    }
    while ((pos = aeron_publication_offer(pub, big, sizeof(big), NULL, NULL)) < 0 && tp_clock_mono_ns() < deadline)
    {
        aeron_main_do_work(client);
    }
    aeron_buffer_claim_t claim;
    while ((pos = aeron_publication_try_claim(pub, 100, &claim)) < 0 && tp_clock_mono_ns() < deadline)
    {
        aeron_main_do_work(client);
    }
    if (pos < 0)
    {
        fprintf(stderr, "offers failed on %s: %lld\n", channel, (long long)pos);
        goto done;
    }
    for (size_t i = 0; i < 100; i++)
    {
        claim.data[i] = (uint8_t)(i * 7u);
    }
    aeron_buffer_claim_commit(&claim);
    while (state.messages < 3 && tp_clock_mono_ns() < deadline)
    {
        if (0 == aeron_subscription_poll(sub, aeron_fragment_assembler_handler, assembler, 16))
        {
            aeron_main_do_work(client);
        }
    }
    if (3 != state.messages || !state.payload_ok || 100 != state.last_length ||
        constants.max_payload_length >= sizeof(big))
    {
        fprintf(stderr, "received %d messages (ok %d, last %zu) on %s\n", state.messages, state.payload_ok,
            state.last_length, channel);
        goto done;
    }
    rc = 0;

done:
    /* Close ordering: publication and subscription before the client. */
    aeron_publication_close(pub, NULL, NULL);
    aeron_subscription_close(sub, NULL, NULL);
    aeron_main_do_work(client);
    aeron_fragment_assembler_delete(assembler);
    return rc;
}

static void test_embedded_driver_ipc_and_udp(void)
{
    char dir[PATH_MAX];
    TP_ASSERT(0 == tp_aeron_test_dir_make(dir, sizeof(dir), "smoke"));
    tp_aeron_media_driver_t *driver = NULL;
    if (tp_aeron_media_driver_start(&driver, dir, 0) < 0)
    {
        tp_aeron_test_dir_remove(dir);
        TP_ASSERT_MSG(0, "driver start failed");
    }
    TP_ASSERT(tp_aeron_media_driver_is_active(dir, 1000));

    aeron_context_t *context = NULL;
    aeron_t *client = NULL;
    int ok = aeron_context_init(&context) == 0 && aeron_context_set_dir(context, dir) == 0 &&
        aeron_context_set_use_conductor_agent_invoker(context, true) == 0 && aeron_init(&client, context) == 0 &&
        aeron_start(client) == 0;
    if (!ok)
    {
        fprintf(stderr, "client: %s\n", aeron_errmsg());
    }
    int ipc = ok ? smoke_round_trip(client, "aeron:ipc") : -1;
    int udp = ok ? smoke_round_trip(client, "aeron:udp?endpoint=127.0.0.1:24325") : -1;

    aeron_close(client);
    aeron_context_close(context);
    TP_ASSERT_OK(tp_aeron_media_driver_close(driver));
    struct stat st;
    TP_ASSERT_MSG(0 != stat(dir, &st), "aeron dir %s not deleted on driver close", dir);
    TP_ASSERT(ok);
    TP_ASSERT_EQ_I64(0, ipc);
    TP_ASSERT_EQ_I64(0, udp);
}

static void test_second_driver_on_same_dir_is_refused(void)
{
    char dir[PATH_MAX];
    TP_ASSERT(0 == tp_aeron_test_dir_make(dir, sizeof(dir), "dup"));
    tp_aeron_media_driver_t *first = NULL;
    tp_aeron_media_driver_t *second = NULL;
    TP_ASSERT_OK(tp_aeron_media_driver_start(&first, dir, 0));
    int rc = tp_aeron_media_driver_start(&second, dir, 0);
    int code = tp_errcode();
    fprintf(stderr, "  second driver: %s\n", tp_errmsg());
    tp_aeron_media_driver_close(second);
    TP_ASSERT_OK(tp_aeron_media_driver_close(first));
    TP_ASSERT_EQ_I64(-1, rc);
    TP_ASSERT_EQ_I64(TP_ERR_STATE, code);
}

int main(void)
{
    if (!tp_aeron_media_driver_supported())
    {
        fprintf(stderr, "SKIP: built without the Aeron driver library (no embedded media driver)\n");
        return 77;
    }
    TP_RUN(test_embedded_driver_ipc_and_udp);
    TP_RUN(test_second_driver_on_same_dir_is_refused);
    return tp_test_finish();
}
