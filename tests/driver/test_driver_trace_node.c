/*
 * TraceLink node ids from the driver lease (TraceLink spec §6.2, Driver Model
 * spec §4.2, DECISIONS TL-2): a driver-mode producer with trace_enabled and
 * trace_node_id 0 mints its trace ids with the node id of its lease, switches
 * to the new lease's node id after a lease change, two producers get
 * different ones, and a lease without a node id (null) is refused with a
 * clear error. Standalone mode still needs a static node id.
 */
#include <string.h>

#include "client/tp_client_test_util.h"
#include "client/tp_producer_internal.h"
#include "protocol/tp_proto.h"
#include "tensor_pool/tp_driver.h"
#include "tensor_pool/tp_tracelink.h"
#include "tp_sbe/driver.h"
#include "tp_test.h"

typedef struct
{
    uint64_t frames;
    uint64_t untraced;  /* frames with trace id 0 */
    uint32_t last_node; /* node id of the last frame's trace id */
    uint64_t last_trace;
    uint64_t not_increasing; /* trace ids of one producer sort by time: never below the previous one */
} rx_t;

static void on_frame(void *clientd, const tp_frame_t *frame)
{
    rx_t *rx = clientd;
    rx->frames++;
    if (0 == frame->trace_id)
    {
        rx->untraced++;
        return;
    }
    rx->not_increasing += frame->trace_id <= rx->last_trace;
    rx->last_trace = frame->trace_id;
    rx->last_node = tp_trace_id_node_id(frame->trace_id);
}

typedef struct
{
    tpc_dirs_t dirs;
    tp_transport_t *hold;
    tp_driver_t *driver;
    tp_client_t *client;
} fx_t;

static const char config[] = "[policies]\nannounce_period_ms = 100\nlease_keepalive_interval_ms = 100\n"
                             "lease_expiry_grace_intervals = 3\nshutdown_timeout_ms = 50\n"
                             "[profiles.p]\nheader_nslots = 64\npayload_pools = [{ pool_id = 1, stride_bytes = 1024 }]\n"
                             "[streams.a]\nstream_id = 10000\nprofile = \"p\"\n"
                             "[streams.b]\nstream_id = 10001\nprofile = \"p\"\n";

static int fx_open(fx_t *fx, bool with_driver, bool driver_mode)
{
    memset(fx, 0, sizeof(*fx));
    if (tpc_dirs_make(&fx->dirs, "trnode") < 0)
    {
        return -1;
    }
    fx->hold = tpc_driver_hold(&fx->dirs);
    if (with_driver)
    {
        tp_driver_config_t *cfg = NULL;
        int rc = -1;
        if (0 == tp_driver_config_init(&cfg) &&
            0 == tp_driver_config_load_string(cfg, config, sizeof(config) - 1, "t.toml") &&
            0 == tp_driver_config_set_shm_base_dir(cfg, fx->dirs.shm) &&
            0 == tp_driver_config_set_transport(cfg, NULL, fx->dirs.transport) &&
            0 == tp_driver_init(&fx->driver, cfg) && 0 == tp_driver_start(fx->driver))
        {
            rc = 0;
        }
        else
        {
            fprintf(stderr, "driver: %s\n", tp_errmsg());
        }
        tp_driver_config_close(cfg);
        if (rc < 0)
        {
            return -1;
        }
    }
    tp_context_t *ctx = tpc_context(&fx->dirs);
    if (NULL == ctx || tp_context_set_driver_mode(ctx, driver_mode) < 0 ||
        tp_context_set_driver_keepalive_ns(ctx, 100000000u) < 0 ||
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

static int add_traced_producer(fx_t *fx, uint32_t stream_id, tp_producer_t **out)
{
    tp_producer_config_t pc;
    tp_producer_config_defaults(&pc);
    pc.stream_id = stream_id;
    pc.trace_enabled = true; /* trace_node_id 0: the lease's */
    return tp_client_add_producer(out, fx->client, &pc, 3000000000u);
}

static int add_consumer(fx_t *fx, uint32_t stream_id, rx_t *rx, tp_consumer_t **out)
{
    tp_consumer_config_t cc;
    tp_consumer_config_defaults(&cc);
    cc.stream_id = stream_id;
    cc.on_frame = on_frame;
    cc.clientd = rx;
    return tp_client_add_consumer(out, fx->client, &cc, 3000000000u);
}

/* Offer frames (no trace id given: the producer mints one) until `rx` received `n` more, or 3 s. */
static void pump(fx_t *fx, tp_producer_t *p, rx_t *rx, uint64_t n)
{
    uint8_t payload[64] = { 0 };
    uint64_t target = rx->frames + n;
    uint64_t deadline = tp_clock_mono_ns() + 3000000000ull;
    while (rx->frames < target && tp_clock_mono_ns() < deadline)
    {
        tp_producer_offer(p, NULL, payload, sizeof(payload), NULL);
        tp_client_do_work(fx->client);
        tp_sleep_ns(200000);
    }
}

static void test_trace_ids_carry_the_leased_node_id(void)
{
    fx_t fx;
    TP_ASSERT_OK(fx_open(&fx, true, true));
    rx_t rx = { 0 };
    tp_consumer_t *c = NULL;
    tp_producer_t *p = NULL;
    TP_ASSERT_OK(add_consumer(&fx, 10000, &rx, &c));
    TP_ASSERT_OK(add_traced_producer(&fx, 10000, &p));
    uint32_t leased = p->lease.grant.node_id; /* invoker mode: the conductor's state, read on its thread */
    TP_ASSERT(leased >= 1 && leased <= TP_TRACE_NODE_ID_MAX);
    TP_ASSERT_EQ_U64(leased, tp_producer_trace_node_id(p));
    pump(&fx, p, &rx, 50);
    TP_ASSERT(rx.frames >= 50);
    TP_ASSERT_EQ_U64(0, rx.untraced);
    TP_ASSERT_EQ_U64(leased, rx.last_node);
    TP_ASSERT_EQ_U64(0, rx.not_increasing);
    fx_close(&fx);
}

static void test_lease_loss_keeps_node_id(void)
{
    fx_t fx;
    TP_ASSERT_OK(fx_open(&fx, true, true));
    rx_t rx = { 0 };
    tp_consumer_t *c = NULL;
    tp_producer_t *p = NULL;
    TP_ASSERT_OK(add_consumer(&fx, 10000, &rx, &c));
    TP_ASSERT_OK(add_traced_producer(&fx, 10000, &p));
    uint32_t first = tp_producer_trace_node_id(p);
    uint64_t first_lease = p->lease.grant.lease_id;
    pump(&fx, p, &rx, 20);
    TP_ASSERT_EQ_U64(first, rx.last_node);
    /* the client goes silent (no keepalives): the running driver expires its leases and puts their node ids in
     * the reuse cooldown (10 s); round robin would hand out the next id */
    tp_driver_stats_t ds = { 0 };
    uint64_t deadline = tp_clock_mono_ns() + 5000000000ull;
    while (ds.leases_expired < 2 && tp_clock_mono_ns() < deadline)
    {
        tp_sleep_ns(10000000);
        TP_ASSERT_OK(tp_driver_stats(fx.driver, &ds));
    }
    TP_ASSERT_MSG(ds.leases_expired >= 2, "expired %llu", (unsigned long long)ds.leases_expired);
    /* back: the producer reattaches asking for its node id (desiredNodeId), which the driver gives back to the
     * client that held it even while it cools down (DRV-14): TraceLink node ids stay stable */
    deadline = tp_clock_mono_ns() + 5000000000ull;
    while ((TP_LEASE_ATTACHED != p->lease.state || p->lease.grant.lease_id == first_lease) &&
        tp_clock_mono_ns() < deadline)
    {
        pump(&fx, p, &rx, 1);
    }
    TP_ASSERT(p->lease.grant.lease_id != first_lease);
    TP_ASSERT_EQ_U64(first, p->lease.grant.node_id);
    TP_ASSERT_EQ_U64(first, p->lease.sent_node_id); /* it asked for it */
    uint64_t before = rx.frames;
    pump(&fx, p, &rx, 20);
    TP_ASSERT(rx.frames >= before + 20);
    TP_ASSERT_EQ_U64(first, rx.last_node);
    TP_ASSERT_EQ_U64(first, tp_producer_trace_node_id(p));
    TP_ASSERT_EQ_U64(0, rx.untraced);
    TP_ASSERT_EQ_U64(0, rx.not_increasing); /* the generator's ids keep increasing across the reattach */
    fx_close(&fx);
}

static void test_two_producers_two_node_ids(void)
{
    fx_t fx;
    TP_ASSERT_OK(fx_open(&fx, true, true));
    rx_t rx1 = { 0 };
    rx_t rx2 = { 0 };
    tp_consumer_t *c1 = NULL;
    tp_consumer_t *c2 = NULL;
    tp_producer_t *p1 = NULL;
    tp_producer_t *p2 = NULL;
    TP_ASSERT_OK(add_consumer(&fx, 10000, &rx1, &c1));
    TP_ASSERT_OK(add_consumer(&fx, 10001, &rx2, &c2));
    TP_ASSERT_OK(add_traced_producer(&fx, 10000, &p1));
    TP_ASSERT_OK(add_traced_producer(&fx, 10001, &p2));
    uint32_t n1 = tp_producer_trace_node_id(p1);
    uint32_t n2 = tp_producer_trace_node_id(p2);
    TP_ASSERT(0 != n1 && 0 != n2);
    TP_ASSERT_MSG(n1 != n2, "both producers have node id %u", n1);
    pump(&fx, p1, &rx1, 10);
    pump(&fx, p2, &rx2, 10);
    TP_ASSERT_EQ_U64(n1, rx1.last_node);
    TP_ASSERT_EQ_U64(n2, rx2.last_node);
    fx_close(&fx);
}

/* A fake driver: answers every producer attach with OK and the given node id (regions never mapped). */
typedef struct
{
    tp_publication_t *pub;
    uint32_t node_id;
    uint64_t answered;
} fake_driver_t;

static void fake_on_control(void *clientd, const uint8_t *buffer, size_t length, const tp_header_t *header)
{
    (void)header;
    fake_driver_t *f = clientd;
    tp_proto_shm_attach_request_view_t req;
    uint16_t schema = 0, tmpl = 0;
    if (tp_proto_peek(buffer, length, &schema, &tmpl) < 0 || TP_SBE_DRIVER_SCHEMA_ID != schema ||
        TP_SBE_DRIVER_SHM_ATTACH_REQUEST_TEMPLATE_ID != tmpl ||
        tp_proto_decode_shm_attach_request(buffer, length, &req) < 0)
    {
        return;
    }
    static const char uri[] = "shm:file?path=/dev/shm/tp-test-none/header";
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
    tp_sbe_driver_shm_attach_response_set_node_id(&m, f->node_id);
    tp_sbe_driver_shm_attach_response_set_payload_pools_count(&m, &g, 1);
    tp_sbe_driver_shm_attach_response_payload_pools_next(&g);
    tp_sbe_driver_shm_attach_response_payload_pools_set_pool_id(&g, 1);
    tp_sbe_driver_shm_attach_response_payload_pools_set_pool_nslots(&g, 64);
    tp_sbe_driver_shm_attach_response_payload_pools_set_stride_bytes(&g, 1024);
    tp_sbe_driver_shm_attach_response_payload_pools_put_region_uri(&g, (const uint8_t *)uri, sizeof(uri) - 1);
    tp_sbe_driver_shm_attach_response_put_header_region_uri(&m, (const uint8_t *)uri, sizeof(uri) - 1);
    tp_sbe_driver_shm_attach_response_put_error_message(&m, (const uint8_t *)"", 0);
    tp_publication_offer(f->pub, buf, TP_SBE_MESSAGE_HEADER_LENGTH + tp_sbe_driver_shm_attach_response_encoded_length(&m),
        NULL, NULL);
    f->answered++;
}

/* Add a traced producer (trace_node_id 0) against a fake driver leasing `node_id`. Returns the add's result. */
static int add_against_fake(fx_t *fx, uint32_t node_id, uint64_t *answered)
{
    tp_transport_context_t tctx;
    tp_transport_context_init(&tctx);
    tp_transport_context_set_dir(&tctx, fx->dirs.transport);
    tp_transport_t *t = NULL;
    fake_driver_t f = { .node_id = node_id };
    tp_subscription_t *sub = NULL;
    if (tp_transport_init(&t, &tctx) < 0 || tp_transport_add_publication(&f.pub, t, "aeron:ipc", 1000, 0) < 0 ||
        tp_transport_add_subscription(&sub, t, "aeron:ipc", 1000, NULL, NULL, NULL, NULL, 0) < 0)
    {
        tp_transport_close(t);
        return -2;
    }
    tp_producer_config_t pc;
    tp_producer_config_defaults(&pc);
    pc.stream_id = 10000;
    pc.trace_enabled = true;
    tp_async_add_producer_t *async = NULL;
    tp_producer_t *p = NULL;
    int rc = tp_client_async_add_producer(&async, fx->client, &pc);
    uint64_t deadline = tp_clock_mono_ns() + 5000000000ull;
    while (0 == rc && 0 == (rc = tp_client_async_add_producer_poll(&p, async)) && tp_clock_mono_ns() < deadline)
    {
        tp_client_do_work(fx->client);
        tp_transport_do_work(t);
        tp_subscription_poll(sub, fake_on_control, &f, 16);
        tp_sleep_ns(200000);
    }
    char msg[512];
    int code = tp_errcode();
    snprintf(msg, sizeof(msg), "%s", tp_errmsg());
    *answered = f.answered;
    tp_subscription_close(sub);
    tp_publication_close(f.pub);
    tp_transport_close(t);
    tp_err_set(code, "%s", msg);
    return rc;
}

static void test_lease_without_node_id_refused(void)
{
    /* Driver Model §4.2: nodeId is null when the driver assigns none; TraceLink §6.2: a producer needs a unique
     * node id. The grant is refused before any region is mapped and the add fails at once with the reason. */
    fx_t fx;
    TP_ASSERT_OK(fx_open(&fx, false, true));
    uint64_t answered = 0;
    TP_ASSERT_EQ_I64(-1, add_against_fake(&fx, UINT32_MAX, &answered));
    TP_ASSERT_EQ_I64(TP_ERR_CONFIG, tp_errcode());
    TP_ASSERT_MSG(NULL != strstr(tp_errmsg(), "no TraceLink node id") && NULL != strstr(tp_errmsg(), "trace_node_id"),
        "%s", tp_errmsg());
    TP_ASSERT_EQ_U64(1, answered); /* refused on the first grant, not after the client timeout */
    /* a node id outside the 10-bit node field (another driver's allocation scheme) is refused the same way */
    TP_ASSERT_EQ_I64(-1, add_against_fake(&fx, TP_TRACE_NODE_ID_MAX + 1, &answered));
    TP_ASSERT_EQ_I64(TP_ERR_CONFIG, tp_errcode());
    TP_ASSERT_MSG(NULL != strstr(tp_errmsg(), "outside"), "%s", tp_errmsg());
    fx_close(&fx);
}

static void test_standalone_needs_a_static_node_id(void)
{
    fx_t fx;
    TP_ASSERT_OK(fx_open(&fx, false, false));
    tp_producer_t *p = NULL;
    TP_ASSERT_ERR(TP_ERR_CONFIG, add_traced_producer(&fx, 10000, &p));
    TP_ASSERT_MSG(NULL != strstr(tp_errmsg(), "trace_node_id"), "%s", tp_errmsg());
    fx_close(&fx);
}

static void test_generator_switch_keeps_ids_increasing(void)
{
    tp_trace_id_generator_t g;
    TP_ASSERT_OK(tp_trace_id_generator_init(&g, 900));
    uint64_t ms = TP_TRACE_EPOCH_MS + 1000;
    uint64_t a = tp_trace_id_next_at(&g, ms);
    TP_ASSERT_OK(tp_trace_id_generator_set_node_id(&g, 3)); /* a lower node id within the same millisecond */
    uint64_t b = tp_trace_id_next_at(&g, ms);
    TP_ASSERT(b > a);
    TP_ASSERT_EQ_U64(3, tp_trace_id_node_id(b));
    TP_ASSERT_EQ_U64(ms + 1, tp_trace_id_unix_ms(b));
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_trace_id_generator_set_node_id(&g, 0));
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_trace_id_generator_set_node_id(&g, TP_TRACE_NODE_ID_MAX + 1));
    TP_ASSERT_EQ_U64(3, tp_trace_id_node_id(tp_trace_id_next_at(&g, ms + 5))); /* unchanged by a refused switch */
}

int main(void)
{
    TP_RUN(test_generator_switch_keeps_ids_increasing);
    TP_RUN(test_standalone_needs_a_static_node_id);
    TP_RUN(test_trace_ids_carry_the_leased_node_id);
    TP_RUN(test_two_producers_two_node_ids);
    TP_RUN(test_lease_loss_keeps_node_id);
    TP_RUN(test_lease_without_node_id_refused);
    return tp_test_finish();
}
