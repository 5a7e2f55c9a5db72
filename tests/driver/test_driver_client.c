/*
 * Clients in driver mode against a driver on its own thread, in one process:
 * frames flow through driver-owned regions; the producer never creates a
 * file; a second producer is refused with the driver's reason; without a
 * driver the add times out with a message; after a driver restart both
 * clients reattach by themselves to a newer epoch and frames flow again.
 */
#include <dirent.h>
#include <limits.h>
#include <string.h>

#include "client/tp_client_test_util.h"
#include "tensor_pool/tp_shm.h"
#include "tensor_pool/tp_driver.h"
#include "protocol/tp_proto.h"
#include "shm/tp_shm_epoch.h"
#include "tp_sbe/driver.h"
#include "tp_test.h"

typedef struct
{
    uint64_t frames;
    uint64_t bad;
    uint64_t last_epoch;
    uint64_t last_seq;
} rx_t;

static void on_frame(void *clientd, const tp_frame_t *frame)
{
    rx_t *rx = clientd;
    const uint8_t *p = frame->payload;
    bool ok = frame->length == 256;
    for (size_t i = 0; ok && i < frame->length; i++)
    {
        ok = p[i] == (uint8_t)(frame->seq + i);
    }
    if (!ok || !tp_frame_is_valid(frame))
    {
        rx->bad++;
    }
    rx->frames++;
    rx->last_epoch = frame->epoch;
    rx->last_seq = frame->seq;
}

typedef struct
{
    tpc_dirs_t dirs;
    tp_transport_t *hold;
    tp_driver_t *driver;
    tp_client_t *client;
    tp_producer_t *producer;
    tp_consumer_t *consumer;
    rx_t rx;
} fx_t;

static const char config[] = "[driver]\ndescriptor_stream_id_range = \"31000-31000\"\n"
                             "[policies]\nannounce_period_ms = 100\nlease_keepalive_interval_ms = 100\n"
                             "shutdown_timeout_ms = 50\n"
                             "[profiles.p]\nheader_nslots = 256\npayload_pools = [{ pool_id = 3, stride_bytes = 1024 }]\n"
                             "[streams.s]\nstream_id = 10000\nprofile = \"p\"\n";

/* The same with cleanup_shm_on_exit: a graceful stop removes every epoch directory of stream 10000. */
static const char cleanup_config[] = "[driver]\ndescriptor_stream_id_range = \"31000-31000\"\n"
                                     "[policies]\nannounce_period_ms = 100\nlease_keepalive_interval_ms = 100\n"
                                     "shutdown_timeout_ms = 50\ncleanup_shm_on_exit = true\n"
                                     "[profiles.p]\nheader_nslots = 256\npayload_pools = [{ pool_id = 3, stride_bytes = 1024 }]\n"
                                     "[streams.s]\nstream_id = 10000\nprofile = \"p\"\n";

static int start_driver_with(fx_t *fx, const char *text, size_t len)
{
    tp_driver_config_t *cfg = NULL;
    int rc = -1;
    if (0 == tp_driver_config_init(&cfg) && 0 == tp_driver_config_load_string(cfg, text, len, "t.toml") &&
        0 == tp_driver_config_set_shm_base_dir(cfg, fx->dirs.shm) &&
        0 == tp_driver_config_set_transport(cfg, NULL, fx->dirs.transport) && 0 == tp_driver_init(&fx->driver, cfg) &&
        0 == tp_driver_start(fx->driver))
    {
        rc = 0;
    }
    else
    {
        fprintf(stderr, "driver: %s\n", tp_errmsg());
    }
    tp_driver_config_close(cfg);
    return rc;
}

static int start_driver(fx_t *fx)
{
    return start_driver_with(fx, config, sizeof(config) - 1);
}

static int fx_open(fx_t *fx, bool with_driver)
{
    memset(fx, 0, sizeof(*fx));
    if (tpc_dirs_make(&fx->dirs, "drvc") < 0)
    {
        return -1;
    }
    fx->hold = tpc_driver_hold(&fx->dirs);
    if (with_driver && start_driver(fx) < 0)
    {
        return -1;
    }
    tp_context_t *ctx = tpc_context(&fx->dirs);
    if (NULL == ctx || tp_context_set_driver_mode(ctx, true) < 0 || tp_context_set_driver_keepalive_ns(ctx, 100000000u) < 0 ||
        tp_context_set_client_timeout_ns(ctx, 1500000000u) < 0 || tp_client_init(&fx->client, ctx) < 0)
    {
        tp_context_close(ctx);
        return -1;
    }
    tp_context_close(ctx);
    return 0;
}

static void fx_close(fx_t *fx)
{
    tp_client_close(fx->client);
    tp_driver_close(fx->driver);
    tpc_driver_release(fx->hold);
    tpc_dirs_remove(&fx->dirs);
}

static int add_producer(fx_t *fx, tp_producer_t **out)
{
    tp_producer_config_t pc;
    tp_producer_config_defaults(&pc);
    pc.stream_id = 10000;
    pc.header_nslots = 8; /* ignored in driver mode: the driver's profile decides */
    return tp_client_add_producer(out, fx->client, &pc, 3000000000u);
}

static int add_consumer_to(fx_t *fx, tp_consumer_t **out, rx_t *rx, bool own_stream)
{
    tp_consumer_config_t cc;
    tp_consumer_config_defaults(&cc);
    cc.stream_id = 10000;
    cc.on_frame = on_frame;
    cc.clientd = rx;
    if (own_stream)
    {
        /* ask for a per-consumer descriptor stream: in driver mode the id is a request token, the driver assigns */
        snprintf(cc.descriptor_channel, sizeof(cc.descriptor_channel), "aeron:ipc");
        cc.descriptor_stream_id = 1;
    }
    return tp_client_add_consumer(out, fx->client, &cc, 3000000000u);
}

static int add_consumer(fx_t *fx)
{
    return add_consumer_to(fx, &fx->consumer, &fx->rx, false);
}

/* Offer numbered frames until `n` more arrive (or 3 s); returns frames offered. */
static uint64_t pump_frames(fx_t *fx, uint64_t n)
{
    uint64_t target = fx->rx.frames + n;
    uint64_t offered = 0;
    uint64_t deadline = tp_clock_mono_ns() + 3000000000ull;
    while (fx->rx.frames < target && tp_clock_mono_ns() < deadline)
    {
        tp_frame_claim_t claim;
        if (tp_producer_try_claim(fx->producer, 256, &claim) >= 0)
        {
            for (size_t i = 0; i < 256; i++)
            {
                claim.data[i] = (uint8_t)(claim.seq + i);
            }
            if (tp_frame_claim_commit(&claim, NULL, 256, NULL) >= 0)
            {
                offered++;
            }
        }
        tp_client_do_work(fx->client);
        tp_sleep_ns(100000);
    }
    return offered;
}

static size_t files_under(const char *dir)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    if (NULL == d)
    {
        return 0;
    }
    struct dirent *e;
    while (NULL != (e = readdir(d)))
    {
        n += '.' != e->d_name[0];
    }
    closedir(d);
    return n;
}

static void test_frames_through_driver_regions(void)
{
    fx_t fx;
    TP_ASSERT_OK(fx_open(&fx, true));
    TP_ASSERT_OK(add_consumer(&fx));
    TP_ASSERT_OK(add_producer(&fx, &fx.producer));
    /* the regions are the driver's: 256 slots from its profile, not the producer's 8 */
    tp_producer_layout_t layout;
    TP_ASSERT_OK(tp_producer_layout(fx.producer, &layout));
    TP_ASSERT_EQ_U64(256, layout.header_nslots);
    TP_ASSERT_EQ_U64(3, layout.pools[0].pool_id);
    pump_frames(&fx, 200);
    TP_ASSERT_MSG(fx.rx.frames >= 200, "frames %llu", (unsigned long long)fx.rx.frames);
    TP_ASSERT_EQ_U64(0, fx.rx.bad);
    TP_ASSERT_EQ_U64(tp_producer_epoch(fx.producer), fx.rx.last_epoch);
    /* a layout change is the driver's business in driver mode */
    TP_ASSERT_ERR(TP_ERR_UNSUPPORTED, tp_producer_change_layout(fx.producer, &layout));
    /* a second producer on the stream is refused with the driver's reason */
    tp_producer_t *second = NULL;
    TP_ASSERT_ERR(TP_ERR_PERMISSION, add_producer(&fx, &second));
    TP_ASSERT_MSG(NULL != strstr(tp_errmsg(), "already has a producer"), "%s", tp_errmsg());
    fx_close(&fx);
}

static void test_no_driver_times_out_with_a_message(void)
{
    fx_t fx;
    TP_ASSERT_OK(fx_open(&fx, false));
    tp_producer_t *p = NULL;
    TP_ASSERT_ERR(TP_ERR_TIMEOUT, add_producer(&fx, &p));
    TP_ASSERT_MSG(NULL != strstr(tp_errmsg(), "tp driver"), "%s", tp_errmsg());
    /* nothing was created by the client */
    TP_ASSERT_EQ_U64(0, files_under(fx.dirs.shm));
    fx_close(&fx);
}

static void test_reattach_after_driver_restart(void)
{
    fx_t fx;
    TP_ASSERT_OK(fx_open(&fx, true));
    TP_ASSERT_OK(add_consumer(&fx));
    TP_ASSERT_OK(add_producer(&fx, &fx.producer));
    pump_frames(&fx, 50);
    TP_ASSERT(fx.rx.frames >= 50);
    uint64_t epoch = tp_producer_epoch(fx.producer);
    /* the driver goes away (graceful: ShmDriverShutdown); the producer stops publishing */
    tp_driver_close(fx.driver);
    fx.driver = NULL;
    uint8_t payload[256] = { 0 };
    int64_t rc = 0;
    uint64_t deadline = tp_clock_mono_ns() + 2000000000ull;
    while (TP_PRODUCER_NOT_ATTACHED != rc && tp_clock_mono_ns() < deadline)
    {
        tp_client_do_work(fx.client);
        rc = tp_producer_offer(fx.producer, NULL, payload, sizeof(payload), NULL);
        tp_sleep_ns(1000000);
    }
    TP_ASSERT_EQ_I64(TP_PRODUCER_NOT_ATTACHED, rc);
    TP_ASSERT(!tp_consumer_is_mapped(fx.consumer));
    /* a new driver: both reattach by themselves, a newer epoch, frames again from seq 0 */
    TP_ASSERT_OK(start_driver(&fx));
    uint64_t before = fx.rx.frames;
    pump_frames(&fx, 50);
    TP_ASSERT_MSG(fx.rx.frames >= before + 50, "frames %llu -> %llu", (unsigned long long)before,
        (unsigned long long)fx.rx.frames);
    TP_ASSERT(tp_producer_epoch(fx.producer) > epoch);
    TP_ASSERT_EQ_U64(tp_producer_epoch(fx.producer), fx.rx.last_epoch);
    TP_ASSERT_EQ_U64(0, fx.rx.bad);
    fx_close(&fx);
}

/* Epoch directories under the stream directory of stream 10000 (the hidden epoch marker is not one). */
static size_t epoch_dirs_of_stream(const fx_t *fx, char *stream_dir)
{
    if (0 != tp_shm_stream_dir_path(stream_dir, PATH_MAX, fx->dirs.shm, "default", 10000))
    {
        return 0;
    }
    DIR *d = opendir(stream_dir);
    size_t n = 0;
    if (NULL == d)
    {
        return 0;
    }
    struct dirent *e;
    uint64_t v;
    while (NULL != (e = readdir(d)))
    {
        n += tp_shm_parse_decimal(e->d_name, UINT64_MAX, &v);
    }
    closedir(d);
    return n;
}

/*
 * Wire §15.2: a driver stopped gracefully with cleanup_shm_on_exit removes every epoch directory; the next driver
 * still starts the stream above the last epoch (the marker survives the cleanup), so consumers holding the old
 * instance's descriptors cannot take them for the new one's.
 */
static void test_restart_after_cleanup_gets_higher_epoch(void)
{
    fx_t fx;
    TP_ASSERT_OK(fx_open(&fx, false));
    TP_ASSERT_OK(start_driver_with(&fx, cleanup_config, sizeof(cleanup_config) - 1));
    TP_ASSERT_OK(add_consumer(&fx));
    TP_ASSERT_OK(add_producer(&fx, &fx.producer));
    pump_frames(&fx, 20);
    TP_ASSERT(fx.rx.frames >= 20);
    uint64_t epoch = tp_producer_epoch(fx.producer);
    tp_driver_close(fx.driver);
    fx.driver = NULL;
    char stream_dir[PATH_MAX];
    TP_ASSERT_EQ_U64(0, epoch_dirs_of_stream(&fx, stream_dir)); /* the cleanup removed them all */
    TP_ASSERT_EQ_U64(epoch, tp_shm_stream_epoch_marker_read(stream_dir)); /* intentionally kept */
    uint8_t payload[256] = { 0 };
    int64_t rc = 0;
    uint64_t deadline = tp_clock_mono_ns() + 2000000000ull;
    while (TP_PRODUCER_NOT_ATTACHED != rc && tp_clock_mono_ns() < deadline)
    {
        tp_client_do_work(fx.client);
        rc = tp_producer_offer(fx.producer, NULL, payload, sizeof(payload), NULL);
        tp_sleep_ns(1000000);
    }
    TP_ASSERT_EQ_I64(TP_PRODUCER_NOT_ATTACHED, rc);
    TP_ASSERT_OK(start_driver_with(&fx, cleanup_config, sizeof(cleanup_config) - 1));
    uint64_t before = fx.rx.frames;
    pump_frames(&fx, 20);
    TP_ASSERT(fx.rx.frames >= before + 20);
    TP_ASSERT_MSG(tp_producer_epoch(fx.producer) > epoch, "epoch %llu after a restart from %llu",
        (unsigned long long)tp_producer_epoch(fx.producer), (unsigned long long)epoch);
    TP_ASSERT_EQ_U64(tp_producer_epoch(fx.producer), fx.rx.last_epoch);
    TP_ASSERT_EQ_U64(0, fx.rx.bad);
    fx_close(&fx);
}

static void test_per_consumer_streams_assigned_by_driver(void)
{
    fx_t fx;
    TP_ASSERT_OK(fx_open(&fx, true));
    rx_t rx2 = { 0 };
    tp_consumer_t *c2 = NULL;
    TP_ASSERT_OK(add_consumer_to(&fx, &fx.consumer, &fx.rx, true));
    TP_ASSERT_OK(add_producer(&fx, &fx.producer));
    pump_frames(&fx, 100);
    /* the range holds one id: the first consumer gets 31000, the second is declined and stays on the shared stream */
    TP_ASSERT_OK(add_consumer_to(&fx, &c2, &rx2, true));
    uint64_t deadline = tp_clock_mono_ns() + 2000000000ull;
    tp_consumer_stats_t s1;
    tp_consumer_stats_t s2;
    do
    {
        pump_frames(&fx, 20);
        tp_consumer_stats(fx.consumer, &s1);
        tp_consumer_stats(c2, &s2);
    } while ((31000 != s1.descriptor_stream_id || 0 == rx2.frames) && tp_clock_mono_ns() < deadline);
    TP_ASSERT_EQ_U64(31000, s1.descriptor_stream_id);
    TP_ASSERT_EQ_U64(1100, s2.descriptor_stream_id);
    uint64_t f1 = fx.rx.frames;
    uint64_t f2 = rx2.frames;
    pump_frames(&fx, 200);
    TP_ASSERT(fx.rx.frames >= f1 + 200);
    TP_ASSERT(rx2.frames > f2);
    TP_ASSERT_EQ_U64(0, fx.rx.bad);
    TP_ASSERT_EQ_U64(0, rx2.bad);
    tp_driver_stats_t ds;
    TP_ASSERT_OK(tp_driver_stats(fx.driver, &ds));
    TP_ASSERT_EQ_U64(1, ds.per_consumer_assigned);
    TP_ASSERT_EQ_U64(1, ds.per_consumer_declined);
    TP_ASSERT_EQ_U64(2, ds.consumers);
    tp_consumer_close(c2);
    fx_close(&fx);
}

static void test_silent_driver_detected(void)
{
    /* §4.13: a driver that dies without a shutdown notice is noticed by the silence of its announces (keepalives
     * are one-way and the consumers keep the control stream connected); the producer stops publishing */
    fx_t fx;
    TP_ASSERT_OK(fx_open(&fx, false));
    tp_driver_config_t *cfg = NULL;
    TP_ASSERT_OK(tp_driver_config_init(&cfg));
    TP_ASSERT_OK(tp_driver_config_load_string(cfg, config, sizeof(config) - 1, "t.toml"));
    TP_ASSERT_OK(tp_driver_config_set_shm_base_dir(cfg, fx.dirs.shm));
    TP_ASSERT_OK(tp_driver_config_set_transport(cfg, NULL, fx.dirs.transport));
    TP_ASSERT_OK(tp_driver_init(&fx.driver, cfg)); /* invoker mode: it only runs while we pump it */
    tp_driver_config_close(cfg);
    /* a consumer (its control subscription keeps the stream connected), added while the driver is pumped */
    tp_consumer_config_t cc;
    tp_consumer_config_defaults(&cc);
    cc.stream_id = 10000;
    cc.on_frame = on_frame;
    cc.clientd = &fx.rx;
    tp_async_add_consumer_t *casync = NULL;
    TP_ASSERT_OK(tp_client_async_add_consumer(&casync, fx.client, &cc));
    int crc = 0;
    uint64_t cdeadline = tp_clock_mono_ns() + 3000000000ull;
    while (0 == (crc = tp_client_async_add_consumer_poll(&fx.consumer, casync)) && tp_clock_mono_ns() < cdeadline)
    {
        tp_driver_do_work(fx.driver);
        tp_client_do_work(fx.client);
        tp_sleep_ns(100000);
    }
    TP_ASSERT_EQ_I64(1, crc);
    tp_producer_config_t pc;
    tp_producer_config_defaults(&pc);
    pc.stream_id = 10000;
    tp_async_add_producer_t *async = NULL;
    TP_ASSERT_OK(tp_client_async_add_producer(&async, fx.client, &pc));
    int rc = 0;
    uint64_t deadline = tp_clock_mono_ns() + 3000000000ull;
    while (0 == (rc = tp_client_async_add_producer_poll(&fx.producer, async)) && tp_clock_mono_ns() < deadline)
    {
        tp_driver_do_work(fx.driver);
        tp_client_do_work(fx.client);
        tp_sleep_ns(100000);
    }
    TP_ASSERT_EQ_I64(1, rc);
    uint8_t payload[256] = { 0 };
    TP_ASSERT(tp_producer_offer(fx.producer, NULL, payload, sizeof(payload), NULL) >= 0);
    /* the driver stops (as if SIGKILLed: no ShmDriverShutdown): within 3 x the freshness window, frames refused */
    uint64_t t0 = tp_clock_mono_ns();
    int64_t r = 0;
    while (TP_PRODUCER_NOT_ATTACHED != r && tp_clock_mono_ns() < t0 + 3000000000ull)
    {
        tp_client_do_work(fx.client);
        r = tp_producer_offer(fx.producer, NULL, payload, sizeof(payload), NULL);
        tp_sleep_ns(1000000);
    }
    TP_ASSERT_EQ_I64(TP_PRODUCER_NOT_ATTACHED, r);
    TP_ASSERT(tp_clock_mono_ns() - t0 >= 400000000ull); /* not before the silence window (3 x 150 ms) */
    fx_close(&fx);
}

/* A fake driver: answers every producer attach with OK and the given URIs. */
typedef struct
{
    tp_publication_t *pub;
    const char *header_uri;
    uint64_t answered;
} fake_driver_t;

static void fake_on_control(void *clientd, const uint8_t *buffer, size_t length, const tp_header_t *header)
{
    (void)header;
    fake_driver_t *f = clientd;
    tp_proto_shm_attach_request_view_t req;
    uint16_t schema = 0, tmpl = 0;
    if (tp_proto_peek(buffer, length, &schema, &tmpl) < 0 || 901 != schema || 1 != tmpl ||
        tp_proto_decode_shm_attach_request(buffer, length, &req) < 0)
    {
        return;
    }
    uint8_t buf[1024];
    tp_sbe_driver_shm_attach_response_t m = { 0 };
    tp_sbe_driver_shm_attach_response_payload_pools_t g = { 0 };
    tp_sbe_driver_shm_attach_response_wrap_and_apply_header(&m, buf, 0, sizeof(buf));
    tp_sbe_driver_shm_attach_response_set_correlation_id(&m, req.correlation_id);
    tp_sbe_driver_shm_attach_response_set_code(&m, TP_SBE_DRIVER_RESPONSE_CODE_OK);
    tp_sbe_driver_shm_attach_response_set_lease_id(&m, 1);
    tp_sbe_driver_shm_attach_response_set_lease_expiry_timestamp_ns(&m, UINT64_MAX);
    tp_sbe_driver_shm_attach_response_set_stream_id(&m, req.stream_id);
    tp_sbe_driver_shm_attach_response_set_epoch(&m, 1);
    tp_sbe_driver_shm_attach_response_set_layout_version(&m, 1);
    tp_sbe_driver_shm_attach_response_set_header_nslots(&m, 64);
    tp_sbe_driver_shm_attach_response_set_header_slot_bytes(&m, 256);
    tp_sbe_driver_shm_attach_response_set_node_id(&m, UINT32_MAX);
    tp_sbe_driver_shm_attach_response_set_payload_pools_count(&m, &g, 1);
    tp_sbe_driver_shm_attach_response_payload_pools_next(&g);
    tp_sbe_driver_shm_attach_response_payload_pools_set_pool_id(&g, 1);
    tp_sbe_driver_shm_attach_response_payload_pools_set_pool_nslots(&g, 64);
    tp_sbe_driver_shm_attach_response_payload_pools_set_stride_bytes(&g, 1024);
    tp_sbe_driver_shm_attach_response_payload_pools_put_region_uri(&g, (const uint8_t *)f->header_uri,
        (uint32_t)strlen(f->header_uri));
    tp_sbe_driver_shm_attach_response_put_header_region_uri(&m, (const uint8_t *)f->header_uri,
        (uint32_t)strlen(f->header_uri));
    tp_sbe_driver_shm_attach_response_put_error_message(&m, (const uint8_t *)"", 0);
    tp_publication_offer(f->pub, buf, TP_SBE_MESSAGE_HEADER_LENGTH + tp_sbe_driver_shm_attach_response_encoded_length(&m),
        NULL, NULL);
    f->answered++;
}

static void test_hostile_grant_refused(void)
{
    /* §4.2, §9: URIs from the driver are validated like any other; a grant pointing outside the allowed
     * directories (or at a file that is not a region) is a protocol error: nothing is mapped, the producer
     * reattaches, and the add fails with the reason at the client timeout */
    fx_t fx;
    TP_ASSERT_OK(fx_open(&fx, false));
    tp_transport_context_t tctx;
    tp_transport_context_init(&tctx);
    tp_transport_context_set_dir(&tctx, fx.dirs.transport);
    tp_transport_t *t = NULL;
    fake_driver_t f = { .header_uri = "shm:file?path=/etc/passwd" };
    tp_subscription_t *sub = NULL;
    TP_ASSERT_OK(tp_transport_init(&t, &tctx));
    TP_ASSERT_OK(tp_transport_add_publication(&f.pub, t, "aeron:ipc", 1000, 0));
    TP_ASSERT_OK(tp_transport_add_subscription(&sub, t, "aeron:ipc", 1000, NULL, NULL, NULL, NULL, 0));
    tp_producer_config_t pc;
    tp_producer_config_defaults(&pc);
    pc.stream_id = 10000;
    tp_async_add_producer_t *async = NULL;
    TP_ASSERT_OK(tp_client_async_add_producer(&async, fx.client, &pc));
    tp_producer_t *p = NULL;
    int rc = 0;
    uint64_t deadline = tp_clock_mono_ns() + 5000000000ull;
    while (0 == (rc = tp_client_async_add_producer_poll(&p, async)) && tp_clock_mono_ns() < deadline)
    {
        tp_client_do_work(fx.client);
        tp_transport_do_work(t);
        tp_subscription_poll(sub, fake_on_control, &f, 16);
        tp_sleep_ns(200000);
    }
    TP_ASSERT_EQ_I64(-1, rc);
    TP_ASSERT(f.answered >= 2); /* dropped and reattached, not trusted */
    TP_ASSERT_MSG(NULL != strstr(tp_errmsg(), "protocol error") || NULL != strstr(tp_errmsg(), "outside"), "%s",
        tp_errmsg());
    tp_subscription_close(sub);
    tp_publication_close(f.pub);
    tp_transport_close(t);
    fx_close(&fx);
}

int main(void)
{
    TP_RUN(test_frames_through_driver_regions);
    TP_RUN(test_no_driver_times_out_with_a_message);
    TP_RUN(test_reattach_after_driver_restart);
    TP_RUN(test_restart_after_cleanup_gets_higher_epoch);
    TP_RUN(test_per_consumer_streams_assigned_by_driver);
    TP_RUN(test_hostile_grant_refused);
    TP_RUN(test_silent_driver_detected);
    return tp_test_finish();
}
