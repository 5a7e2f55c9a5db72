/*
 * Client conductor regression tests: tp_client_close while the conductor
 * thread is inside a blocking callback, a repeated close of a handle whose
 * close timed out, admission of more adds than the client holds (pending
 * adds counted per kind), and transport adds still pending when their add is
 * abandoned (kept on the orphan list, polled and closed).
 */
#include <stdatomic.h>

#include "client/tp_client_internal.h"
#include "tp_client_test_util.h"
#include "tp_test.h"
#include "tpc_faults.h"
#include "transport/tp_transport.h"
#include "transport/tp_transport_internal.h"

typedef struct
{
    atomic_int entered;
    atomic_int done;
    atomic_int release; /* when set, the callback returns early (test_close_timeout_then_retry) */
    uint64_t sleep_ns;
} slow_rx_t;

static void on_frame_slow(void *clientd, const tp_frame_t *frame)
{
    (void)frame;
    slow_rx_t *rx = clientd;
    atomic_fetch_add(&rx->entered, 1);
    uint64_t until = tp_clock_mono_ns() + rx->sleep_ns;
    while (tp_clock_mono_ns() < until && 0 == atomic_load(&rx->release))
    {
        tp_sleep_ns(1000000);
    }
    atomic_fetch_add(&rx->done, 1);
}

/* A threaded client with a short client timeout, one producer and one consumer whose callback sleeps. */
static tp_client_t *slow_client_open(tpc_dirs_t *d, const char *tag, slow_rx_t *rx, tp_producer_t **producer,
    tp_consumer_t **consumer)
{
    if (tpc_dirs_make(d, tag) < 0)
    {
        return NULL;
    }
    tp_context_t *ctx = tpc_context(d);
    tp_client_t *client = NULL;
    if (NULL == ctx || tp_context_set_use_conductor_thread(ctx, true) < 0 ||
        tp_context_set_idle_strategy(ctx, "sleep") < 0 || tp_context_set_client_timeout_ns(ctx, 50000000u) < 0 ||
        tp_client_init(&client, ctx) < 0)
    {
        tp_context_close(ctx);
        return NULL;
    }
    tp_context_close(ctx);
    tp_consumer_config_t cc;
    tp_consumer_config_defaults(&cc);
    cc.on_frame = on_frame_slow;
    cc.clientd = rx;
    tp_producer_config_t pc;
    tp_producer_config_defaults(&pc);
    pc.header_nslots = 64;
    if (tp_client_start(client) < 0 || tp_client_add_consumer(consumer, client, &cc, 5000000000u) < 0 ||
        tp_client_add_producer(producer, client, &pc, 5000000000u) < 0)
    {
        tp_client_close(client);
        return NULL;
    }
    uint64_t deadline = tp_clock_mono_ns() + 5000000000u;
    while (!tp_consumer_is_mapped(*consumer) && tp_clock_mono_ns() < deadline)
    {
        tp_sleep_ns(1000000);
    }
    return client;
}

/* Offer frames until the consumer's callback has been entered. */
static int enter_callback(tp_producer_t *producer, slow_rx_t *rx)
{
    uint8_t buf[64] = { 0 };
    uint64_t deadline = tp_clock_mono_ns() + 5000000000u;
    while (0 == atomic_load(&rx->entered) && tp_clock_mono_ns() < deadline)
    {
        tp_producer_offer(producer, NULL, buf, sizeof(buf), NULL);
        tp_sleep_ns(1000000);
    }
    return atomic_load(&rx->entered) > 0 ? 0 : -1;
}

/* tp_client_close must not release anything while the conductor is still inside a callback. */
static void test_close_waits_for_blocking_callback(void)
{
    tpc_dirs_t d;
    static slow_rx_t rx;
    rx.sleep_ns = 400000000u; /* 8x the client timeout */
    tp_producer_t *producer = NULL;
    tp_consumer_t *consumer = NULL;
    tp_client_t *client = slow_client_open(&d, "slowclose", &rx, &producer, &consumer);
    TP_ASSERT(NULL != client);
    TP_ASSERT_OK(enter_callback(producer, &rx));
    TP_ASSERT_OK(tp_client_close(client)); /* waits (logging) until the callback returned */
    TP_ASSERT_EQ_I64(atomic_load(&rx.entered), atomic_load(&rx.done));
    tpc_dirs_remove(&d);
}

/* A close that timed out still completes; closing the handle again must never destroy it twice. */
static void test_close_timeout_then_retry(void)
{
    tpc_dirs_t d;
    static slow_rx_t rx;
    rx.sleep_ns = 300000000u;
    tp_producer_t *producer = NULL;
    tp_consumer_t *consumer = NULL;
    tp_client_t *client = slow_client_open(&d, "retryclose", &rx, &producer, &consumer);
    TP_ASSERT(NULL != client);
    TP_ASSERT_OK(enter_callback(producer, &rx));
    TP_ASSERT_ERR(TP_ERR_TIMEOUT, tp_consumer_close(consumer)); /* conductor busy in the callback */
    /*
     * The mistake: a retry of a dead handle, made while the first close is still queued (the callback is only
     * released afterwards, so that the retry's read of the handle happens before the conductor frees it).
     */
    int rc = tp_consumer_close(consumer);
    TP_ASSERT(rc < 0);
    atomic_store(&rx.release, 1);
    /* the conductor runs both queued closes: the first destroys, the second is refused (ASan: no double free) */
    uint64_t deadline = tp_clock_mono_ns() + 3000000000u;
    while (tp_clock_mono_ns() < deadline && atomic_load(&rx.done) < atomic_load(&rx.entered))
    {
        tp_sleep_ns(1000000);
    }
    tp_sleep_ns(100000000u);
    TP_ASSERT_OK(tp_producer_close(producer));
    TP_ASSERT_OK(tp_client_close(client));
    tpc_dirs_remove(&d);
}

static void on_frame_nop(void *clientd, const tp_frame_t *frame)
{
    (void)clientd;
    (void)frame;
}

/* More async adds than the client holds, all queued before the conductor ran: the extra ones fail cleanly. */
static void test_too_many_async_adds(void)
{
    enum { N = TP_CLIENT_MAX_CONSUMERS + 6 };
    tpc_dirs_t d;
    TP_ASSERT_OK(tpc_dirs_make(&d, "manyadds"));
    tp_context_t *ctx = tpc_context(&d);
    TP_ASSERT(NULL != ctx);
    /* transport adds stay pending for a few polls, as with a media driver */
    static tpc_faults_t faults;
    TP_ASSERT_OK(tpc_faults_install(&faults, ctx));
    atomic_store(&faults.add_pending_polls, 20);
    tp_client_t *client = NULL;
    TP_ASSERT_OK(tp_client_init(&client, ctx));
    tp_context_close(ctx);
    tp_consumer_config_t cc;
    tp_consumer_config_defaults(&cc);
    cc.on_frame = on_frame_nop;
    static tp_async_add_consumer_t *asyncs[N];
    static tp_consumer_t *consumers[N];
    static int state[N];
    for (size_t i = 0; i < N; i++)
    {
        TP_ASSERT_OK(tp_client_async_add_consumer(&asyncs[i], client, &cc));
    }
    size_t done = 0, ok = 0, failed = 0, cycles = 0;
    uint64_t deadline = tp_clock_mono_ns() + 10000000000u;
    while (done < N && tp_clock_mono_ns() < deadline)
    {
        if (++cycles == 10)
        {
            /* every add admitted (16 per cycle), none complete yet: the extra ones were refused at admission */
            TP_ASSERT_EQ_U64(0, ok);
            TP_ASSERT_EQ_U64(N - TP_CLIENT_MAX_CONSUMERS, failed);
            TP_ASSERT_EQ_U64(TP_CLIENT_MAX_CONSUMERS, client->pending_add_count);
        }
        tp_client_do_work(client);
        for (size_t i = 0; i < N; i++)
        {
            if (0 != state[i])
            {
                continue;
            }
            int rc = tp_client_async_add_consumer_poll(&consumers[i], asyncs[i]);
            if (0 != rc)
            {
                state[i] = rc;
                done++;
                if (1 == rc)
                {
                    ok++;
                }
                else
                {
                    TP_ASSERT_EQ_I64(TP_ERR_STATE, tp_errcode());
                    failed++;
                }
            }
        }
    }
    TP_ASSERT_EQ_U64(N, done);
    TP_ASSERT_EQ_U64(TP_CLIENT_MAX_CONSUMERS, ok);
    TP_ASSERT_EQ_U64(N - TP_CLIENT_MAX_CONSUMERS, failed);
    TP_ASSERT_EQ_U64(TP_CLIENT_MAX_CONSUMERS, client->consumer_count);
    TP_ASSERT_OK(tp_client_close(client));
    tpc_dirs_remove(&d);
}

static size_t transport_subscription_count(tp_transport_t *t)
{
    size_t n = 0;
    for (tp_subscription_t *s = t->subscriptions; NULL != s; s = s->next)
    {
        n++;
    }
    return n;
}

static size_t transport_publication_count(tp_transport_t *t)
{
    size_t n = 0;
    for (tp_publication_t *p = t->publications; NULL != p; p = p->next)
    {
        n++;
    }
    return n;
}

/* Adds abandoned while their transport adds are pending: the client keeps polling them and closes them. */
static void test_abandoned_adds_release_pending_transport_adds(void)
{
    tpc_dirs_t d;
    TP_ASSERT_OK(tpc_dirs_make(&d, "orphans"));
    tp_context_t *ctx = tpc_context(&d);
    TP_ASSERT(NULL != ctx);
    static tpc_faults_t faults;
    TP_ASSERT_OK(tpc_faults_install(&faults, ctx));
    atomic_store(&faults.add_pending_polls, 5);
    tp_client_t *client = NULL;
    TP_ASSERT_OK(tp_client_init(&client, ctx));
    tp_context_close(ctx);
    tp_consumer_config_t cc;
    tp_consumer_config_defaults(&cc);
    cc.on_frame = on_frame_nop;
    tp_producer_config_t pc;
    tp_producer_config_defaults(&pc);
    pc.header_nslots = 64;
    tp_consumer_t *consumer = NULL;
    tp_producer_t *producer = NULL;
    /* a 1 ns timeout: abandoned at once, destroyed by the conductor with its transport adds pending */
    TP_ASSERT_ERR(TP_ERR_TIMEOUT, tp_client_add_consumer(&consumer, client, &cc, 1));
    TP_ASSERT_ERR(TP_ERR_TIMEOUT, tp_client_add_producer(&producer, client, &pc, 1));
    TP_ASSERT_EQ_U64(0, client->consumer_count);
    TP_ASSERT_EQ_U64(0, client->producer_count);
    TP_ASSERT_EQ_U64(0, client->pending_add_count);
    TP_ASSERT(tp_client_orphan_add_count(client) > 0);
    TPC_WAIT_UNTIL(client, 0 == tp_client_orphan_add_count(client), 5000);
    /* every released add completed and was closed: nothing registered, nothing leaked (ASan) */
    TP_ASSERT_EQ_U64(0, tp_client_orphan_add_count(client));
    TP_ASSERT_EQ_U64(0, transport_subscription_count(client->transport));
    TP_ASSERT_EQ_U64(0, transport_publication_count(client->transport));
    /* a consumer that completes normally afterwards still works */
    atomic_store(&faults.add_pending_polls, 0);
    TP_ASSERT_OK(tp_client_add_consumer(&consumer, client, &cc, 5000000000u));
    TP_ASSERT_OK(tp_consumer_close(consumer));
    TP_ASSERT_OK(tp_client_close(client));
    tpc_dirs_remove(&d);
}

int main(void)
{
    TP_RUN(test_close_waits_for_blocking_callback);
    TP_RUN(test_close_timeout_then_retry);
    TP_RUN(test_too_many_async_adds);
    TP_RUN(test_abandoned_adds_release_pending_transport_adds);
    return tp_test_finish();
}
