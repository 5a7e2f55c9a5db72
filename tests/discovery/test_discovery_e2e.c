/*
 * Discovery end to end, in one process on private directories:
 * - the driver's embedded provider (requests on the driver control stream)
 *   answers a tp_discovery client with the stream a producer attached through
 *   the driver, authority = the driver; filters (tags, name, stream id);
 * - the standalone provider, fed by the driver's announces, answers too;
 * - hostile requests to a provider (garbage, empty or unusable response
 *   channel, response stream 0, a reference-layout peer) are counted drops or
 *   ERROR responses, and a reference-layout request gets a reference-layout
 *   response.
 */
#include <pthread.h>
#include <stddef.h>
#include <stdatomic.h>
#include <string.h>

#include "client/tp_client_test_util.h"
#include "discovery/tp_discovery_provider.h"
#include "protocol/tp_proto_discovery.h"
#include "tensor_pool/tp_discovery.h"
#include "tensor_pool/tp_driver.h"
#include "tp_test.h"

typedef struct
{
    tpc_dirs_t dirs;
    tp_transport_t *hold;
    tp_driver_t *driver;
    tp_client_t *client;
    tp_producer_t *producer;
} fx_t;

static const char base_config[] =
    "[policies]\nannounce_period_ms = 100\nlease_keepalive_interval_ms = 100\nshutdown_timeout_ms = 50\n"
    "[profiles.p]\nheader_nslots = 256\npayload_pools = [{ pool_id = 3, stride_bytes = 1024 }]\n"
    "[streams.s]\nstream_id = 10000\nprofile = \"p\"\n";

static const char discovery_config[] =
    "[discovery]\nenabled = true\nmetadata_channel = \"aeron:ipc\"\nmetadata_stream_id = 1300\n"
    "[discovery.streams.cam]\nstream_id = 10000\ntags = [\"camera\", \"Front\"]\ndata_source_id = 42\n";

static const char discovery_own_stream_config[] =
    "[discovery]\nenabled = true\nchannel = \"aeron:ipc\"\nstream_id = 7000\n";

static int fx_open_with(fx_t *fx, const char *tag, const char *extra)
{
    memset(fx, 0, sizeof(*fx));
    if (tpc_dirs_make(&fx->dirs, tag) < 0)
    {
        return -1;
    }
    fx->hold = tpc_driver_hold(&fx->dirs);
    char text[2048];
    snprintf(text, sizeof(text), "%s%s", base_config, extra);
    tp_driver_config_t *cfg = NULL;
    int rc = -1;
    if (0 == tp_driver_config_init(&cfg) && 0 == tp_driver_config_load_string(cfg, text, strlen(text), "t.toml") &&
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
    if (rc < 0)
    {
        return -1;
    }
    tp_context_t *ctx = tpc_context(&fx->dirs);
    if (NULL == ctx || tp_context_set_driver_mode(ctx, true) < 0 || tp_context_set_driver_keepalive_ns(ctx, 100000000u) < 0 ||
        tp_context_set_client_timeout_ns(ctx, 1500000000u) < 0 || tp_context_set_use_conductor_thread(ctx, true) < 0 ||
        tp_client_init(&fx->client, ctx) < 0 || tp_client_start(fx->client) < 0)
    {
        fprintf(stderr, "client: %s\n", tp_errmsg());
        tp_context_close(ctx);
        return -1;
    }
    tp_context_close(ctx);
    tp_producer_config_t pc;
    tp_producer_config_defaults(&pc);
    pc.stream_id = 10000;
    snprintf(pc.name, sizeof(pc.name), "cam-front");
    if (tp_client_add_producer(&fx->producer, fx->client, &pc, 3000000000u) < 0)
    {
        fprintf(stderr, "producer: %s\n", tp_errmsg());
        return -1;
    }
    return 0;
}

static int fx_open(fx_t *fx, const char *tag, bool embedded)
{
    return fx_open_with(fx, tag, embedded ? discovery_config : "");
}

static void fx_close(fx_t *fx)
{
    tp_client_close(fx->client);
    tp_driver_close(fx->driver);
    tpc_driver_release(fx->hold);
    tpc_dirs_remove(&fx->dirs);
}

static tp_discovery_client_t *discovery_client(const fx_t *fx, int32_t request_stream_id)
{
    tp_context_t *ctx = tpc_context(&fx->dirs);
    tp_discovery_client_options_t o;
    tp_discovery_client_options_defaults(&o);
    o.request_stream_id = request_stream_id; /* 0: the context's control stream (embedded provider) */
    o.client_id = 77;
    tp_discovery_client_t *dc = NULL;
    if (NULL == ctx || tp_discovery_client_init(&dc, ctx, &o) < 0)
    {
        fprintf(stderr, "discovery client: %s\n", tp_errmsg());
    }
    tp_context_close(ctx);
    return dc;
}

/* Query until `want` results (or 5 s: metadata arrives asynchronously). Returns the last result set. */
static tp_discovery_results_t *query_until(tp_discovery_client_t *dc, const tp_discovery_query_t *q, size_t want)
{
    tp_discovery_results_t *res = NULL;
    uint64_t deadline = tp_clock_mono_ns() + 5000000000ull;
    do
    {
        tp_discovery_results_close(res);
        res = NULL;
        if (tp_discovery_query(dc, q, &res) < 0)
        {
            fprintf(stderr, "query: %s\n", tp_errmsg());
            return NULL;
        }
        if (tp_discovery_results_count(res) == want)
        {
            return res;
        }
        tp_sleep_ns(50000000);
    } while (tp_clock_mono_ns() < deadline);
    return res;
}

static void ignore_frame(void *clientd, const tp_frame_t *frame)
{
    (void)clientd;
    (void)frame;
}

static void check_result(const tp_discovery_result_t *r, const char *instance_id)
{
    TP_ASSERT(NULL != r);
    if (NULL == r)
    {
        return;
    }
    TP_ASSERT_EQ_U64(10000, r->stream_id);
    TP_ASSERT(r->epoch >= 1);
    TP_ASSERT_EQ_U64(1, r->layout_version);
    TP_ASSERT_EQ_U64(256, r->header_nslots);
    TP_ASSERT_EQ_U64(256, r->header_slot_bytes);
    TP_ASSERT_EQ_U64(8, r->max_dims);
    TP_ASSERT_EQ_U64(1, r->pool_count);
    TP_ASSERT_EQ_U64(3, r->pools[0].pool_id);
    TP_ASSERT_EQ_U64(1024, r->pools[0].stride_bytes);
    TP_ASSERT_EQ_U64(r->header_nslots, r->pools[0].pool_nslots); /* §5.2: pool_nslots == header_nslots */
    TP_ASSERT(0 == strncmp(r->header_region_uri, "shm:file?path=", 14));
    TP_ASSERT_STREQ(instance_id, r->driver_instance_id);
    TP_ASSERT_STREQ("aeron:ipc?term-length=4m", r->driver_control_channel);
    TP_ASSERT_EQ_U64(1000, r->driver_control_stream_id);
}

static void test_embedded_provider_finds_attached_producer(void)
{
    fx_t fx;
    if (fx_open(&fx, "disc-emb", true) < 0)
    {
        TP_ASSERT_MSG(false, "fixture");
        fx_close(&fx);
        return;
    }
    tp_discovery_client_t *dc = discovery_client(&fx, 0);
    TP_ASSERT(NULL != dc);
    tp_discovery_query_t q;
    tp_discovery_query_init(&q);
    q.has_stream_id = true;
    q.stream_id = 10000;
    tp_discovery_results_t *res = query_until(dc, &q, 1);
    TP_ASSERT_EQ_U64(TP_DISCOVERY_STATUS_OK, tp_discovery_results_status(res));
    TP_ASSERT_EQ_U64(1, tp_discovery_results_count(res));
    const tp_discovery_result_t *r = tp_discovery_results_at(res, 0);
    check_result(r, "driver-01");
    if (NULL != r)
    {
        TP_ASSERT(r->has_data_source_id && 42 == r->data_source_id);
        TP_ASSERT_EQ_U64(2, r->tag_count);
        /* attach through the authority the result names (§5.2, §7): a consumer in driver mode */
        tp_context_t *ctx = tpc_context(&fx.dirs);
        tp_client_t *client = NULL;
        tp_consumer_t *consumer = NULL;
        TP_ASSERT_OK(tp_discovery_result_apply_to_context(r, ctx));
        TP_ASSERT(tp_context_driver_mode(ctx));
        TP_ASSERT_STREQ(r->driver_control_channel, tp_context_get_stream_channel(ctx, TP_STREAM_CONTROL));
        TP_ASSERT_OK(tp_client_init(&client, ctx));
        tp_consumer_config_t cc;
        tp_consumer_config_defaults(&cc);
        cc.stream_id = r->stream_id;
        cc.on_frame = ignore_frame;
        TP_ASSERT_OK(tp_client_add_consumer(&consumer, client, &cc, 3000000000u));
        tp_client_close(client);
        tp_context_close(ctx);
    }
    tp_discovery_results_close(res);

    /* tags: AND, case-sensitive */
    const char *tags[] = { "camera", "Front" };
    tp_discovery_query_init(&q);
    q.tags = tags;
    q.tag_count = 2;
    res = query_until(dc, &q, 1);
    TP_ASSERT_EQ_U64(1, tp_discovery_results_count(res));
    tp_discovery_results_close(res);
    const char *wrong[] = { "camera", "front" };
    q.tags = wrong;
    TP_ASSERT_OK(tp_discovery_query(dc, &q, &res));
    TP_ASSERT_EQ_U64(TP_DISCOVERY_STATUS_OK, tp_discovery_results_status(res)); /* OK with zero results (§5.2) */
    TP_ASSERT_EQ_U64(0, tp_discovery_results_count(res));
    tp_discovery_results_close(res);

    /* the producer's DataSourceAnnounce name, heard on the metadata stream */
    tp_discovery_query_init(&q);
    q.data_source_name = "cam-front";
    res = query_until(dc, &q, 1);
    TP_ASSERT_EQ_U64(1, tp_discovery_results_count(res));
    if (1 == tp_discovery_results_count(res))
    {
        TP_ASSERT_STREQ("cam-front", tp_discovery_results_at(res, 0)->data_source_name);
    }
    tp_discovery_results_close(res);

    /* a stream nobody announces */
    tp_discovery_query_init(&q);
    q.has_stream_id = true;
    q.stream_id = 10001;
    TP_ASSERT_OK(tp_discovery_query(dc, &q, &res));
    TP_ASSERT_EQ_U64(0, tp_discovery_results_count(res));
    tp_discovery_results_close(res);
    tp_discovery_client_stats_t s;
    TP_ASSERT_OK(tp_discovery_client_stats(dc, &s));
    TP_ASSERT(s.responses >= 5);
    tp_discovery_client_close(dc);
    fx_close(&fx);
}

/* The embedded provider on a request stream of its own (not the control stream): its own subscription. */
static void test_embedded_provider_on_its_own_stream(void)
{
    fx_t fx;
    if (fx_open_with(&fx, "disc-own", discovery_own_stream_config) < 0)
    {
        TP_ASSERT_MSG(false, "fixture");
        fx_close(&fx);
        return;
    }
    tp_discovery_client_t *dc = discovery_client(&fx, 7000);
    tp_discovery_query_t q;
    tp_discovery_query_init(&q);
    tp_discovery_results_t *res = query_until(dc, &q, 1);
    TP_ASSERT_EQ_U64(1, tp_discovery_results_count(res));
    check_result(tp_discovery_results_at(res, 0), "driver-01");
    tp_discovery_results_close(res);
    tp_discovery_client_close(dc);
    fx_close(&fx);
}

typedef struct
{
    tp_discovery_provider_t *provider;
    tp_transport_t *transport;
    atomic_bool stop;
} runner_t;

static void *run_provider(void *arg)
{
    runner_t *r = arg;
    while (!atomic_load(&r->stop))
    {
        tp_transport_do_work(r->transport);
        if (tp_discovery_provider_do_work(r->provider, tp_clock_mono_ns()) <= 0)
        {
            tp_sleep_ns(200000);
        }
    }
    return NULL;
}

static int open_transport(const fx_t *fx, tp_transport_t **t)
{
    tp_transport_context_t tctx;
    tp_transport_context_init(&tctx);
    return tp_transport_context_set_dir(&tctx, fx->dirs.transport) < 0 ? -1 : tp_transport_init(t, &tctx);
}

static void standalone_config(tp_discovery_provider_config_t *c)
{
    tp_discovery_provider_config_defaults(c);
    c->source_count = 1;
    tp_discovery_source_config_t *s = &c->sources[0];
    snprintf(s->name, sizeof(s->name), "local");
    snprintf(s->instance_id, sizeof(s->instance_id), "driver-01");
    snprintf(s->control_channel, sizeof(s->control_channel), "aeron:ipc?term-length=4m");
    s->control_stream_id = 1000;
    snprintf(s->announce_channel, sizeof(s->announce_channel), "aeron:ipc?term-length=4m");
    s->announce_stream_id = 1000;
    snprintf(s->metadata_channel, sizeof(s->metadata_channel), "aeron:ipc");
    s->metadata_stream_id = 1300;
    s->announce_period_ms = 100;
}

static void test_standalone_provider_fed_by_announces(void)
{
    fx_t fx;
    if (fx_open(&fx, "disc-std", false) < 0)
    {
        TP_ASSERT_MSG(false, "fixture");
        fx_close(&fx);
        return;
    }
    runner_t run = { 0 };
    tp_discovery_provider_config_t c;
    standalone_config(&c);
    TP_ASSERT_OK(open_transport(&fx, &run.transport));
    TP_ASSERT_OK(tp_discovery_provider_init(&run.provider, run.transport, &c));
    pthread_t th;
    TP_ASSERT(0 == pthread_create(&th, NULL, run_provider, &run));
    tp_discovery_client_t *dc = discovery_client(&fx, (int32_t)TP_DISCOVERY_DEFAULT_STREAM_ID);
    tp_discovery_query_t q;
    tp_discovery_query_init(&q);
    tp_discovery_results_t *res = query_until(dc, &q, 1);
    TP_ASSERT_EQ_U64(1, tp_discovery_results_count(res));
    check_result(tp_discovery_results_at(res, 0), "driver-01");
    tp_discovery_results_close(res);
    q.data_source_name = "cam-front";
    res = query_until(dc, &q, 1);
    TP_ASSERT_EQ_U64(1, tp_discovery_results_count(res));
    tp_discovery_results_close(res);
    tp_discovery_client_close(dc);
    atomic_store(&run.stop, true);
    pthread_join(th, NULL);
    tp_discovery_provider_stats_t s;
    tp_discovery_provider_stats(run.provider, &s);
    TP_ASSERT(s.announces > 0);
    TP_ASSERT(s.responses_ok >= 2);
    tp_discovery_provider_close(run.provider);
    tp_transport_close(run.transport);
    fx_close(&fx);
}

/* ------------------------------------------------------------------ hostile */

typedef struct
{
    int responses;
    tp_proto_discovery_layout_t layout;
    tp_sbe_discovery_discovery_status_t status;
    uint64_t request_id;
    uint32_t result_count;
} seen_t;

static void on_seen(void *clientd, const uint8_t *buf, size_t len, const tp_header_t *h)
{
    (void)h;
    seen_t *s = clientd;
    tp_proto_discovery_response_view_t v;
    if (tp_proto_decode_discovery_response(buf, len, &v) == 0)
    {
        s->responses++;
        s->layout = v.layout;
        s->status = v.status;
        s->request_id = v.request_id;
        s->result_count = v.result_count;
    }
}

static size_t request(uint8_t *buf, size_t cap, uint64_t id, const char *channel, size_t channel_len, uint32_t stream,
    tp_proto_discovery_layout_t layout, uint32_t ntags)
{
    tp_proto_discovery_request_view_t m;
    memset(&m, 0, sizeof(m));
    m.request_id = id;
    m.response_stream_id = stream;
    m.response_channel.data = channel;
    m.response_channel.length = (uint32_t)channel_len;
    for (uint32_t i = 0; i < ntags; i++)
    {
        m.tags[i].data = "camera";
        m.tags[i].length = 6;
    }
    m.tag_count = ntags;
    size_t len = 0;
    return tp_proto_encode_discovery_request(buf, cap, &m, layout, &len) == 0 ? len : 0;
}

static void pump(tp_discovery_provider_t *p, tp_transport_t *t, tp_subscription_t *sub, seen_t *seen,
    tp_discovery_provider_stats_t *st, int want_field_offset, uint64_t want, int want_responses)
{
    uint64_t deadline = tp_clock_mono_ns() + 3000000000ull;
    while (tp_clock_mono_ns() < deadline)
    {
        tp_transport_do_work(t);
        tp_discovery_provider_do_work(p, tp_clock_mono_ns());
        tp_subscription_poll(sub, on_seen, seen, 16);
        tp_discovery_provider_stats(p, st);
        uint64_t v = 0;
        memcpy(&v, (const uint8_t *)st + want_field_offset, sizeof(v));
        if (v >= want && seen->responses >= want_responses)
        {
            return;
        }
        tp_sleep_ns(200000);
    }
}

#define FIELD(f) ((int)offsetof(tp_discovery_provider_stats_t, f))

static void test_hostile_requests_are_counted_drops(void)
{
    tpc_dirs_t dirs;
    TP_ASSERT_OK(tpc_dirs_make(&dirs, "disc-bad"));
    tp_transport_t *hold = tpc_driver_hold(&dirs);
    fx_t fx;
    memset(&fx, 0, sizeof(fx));
    fx.dirs = dirs;
    tp_transport_t *t = NULL;
    TP_ASSERT_OK(open_transport(&fx, &t));
    tp_discovery_provider_config_t c;
    tp_discovery_provider_config_defaults(&c);
    c.max_results = 2;
    tp_discovery_provider_t *p = NULL;
    TP_ASSERT_OK(tp_discovery_provider_init(&p, t, &c));
    tp_publication_t *pub = NULL;
    tp_subscription_t *sub = NULL;
    tp_subscription_t *req_watch = NULL;
    TP_ASSERT_OK(tp_transport_add_subscription(&req_watch, t, c.channel, (int32_t)c.stream_id, NULL, NULL, NULL, NULL,
        2000000000ull));
    TP_ASSERT_OK(tp_transport_add_publication(&pub, t, c.channel, (int32_t)c.stream_id, 2000000000ull));
    TP_ASSERT_OK(tp_transport_add_subscription(&sub, t, "aeron:ipc", 7004, NULL, NULL, NULL, NULL, 2000000000ull));
    if (NULL == p || NULL == pub || NULL == sub)
    {
        return;
    }
    seen_t seen = { 0 };
    tp_discovery_provider_stats_t st;
    uint8_t buf[4096];
    /* the provider's subscription must be connected before anything is offered */
    uint64_t deadline = tp_clock_mono_ns() + 2000000000ull;
    while (!tp_publication_is_connected(pub) && tp_clock_mono_ns() < deadline)
    {
        tp_transport_do_work(t);
        tp_discovery_provider_do_work(p, tp_clock_mono_ns());
        tp_sleep_ns(100000);
    }
    /* garbage with the discovery header */
    uint8_t junk[40];
    memset(junk, 0xA5, sizeof(junk));
    tp_sbe_put_header(junk, 32, 1, 910, 1);
    TP_ASSERT(tp_publication_offer(pub, junk, 20, NULL, NULL) > 0);
    pump(p, t, sub, &seen, &st, FIELD(dropped_malformed), 1, 0);
    TP_ASSERT_EQ_U64(1, st.dropped_malformed);
    /* empty response channel: dropped silently (§5.1) */
    size_t n = request(buf, sizeof(buf), 1, "", 0, 7004, TP_PROTO_DISCOVERY_LAYOUT_FIXED, 0);
    TP_ASSERT(tp_publication_offer(pub, buf, n, NULL, NULL) > 0);
    pump(p, t, sub, &seen, &st, FIELD(dropped_empty_channel), 1, 0);
    TP_ASSERT_EQ_U64(1, st.dropped_empty_channel);
    /* hostile channel strings: control bytes, not a URI, an unknown medium, an over-long one */
    static const char ctl[] = "aeron:ipc\n\x01";
    const char *bad[] = { ctl, "not-a-uri", "aeron:tcp?endpoint=x", "aeron:udp?endpoint=" };
    for (int i = 0; i < 4; i++)
    {
        n = request(buf, sizeof(buf), 2, bad[i], strlen(bad[i]), 7004, TP_PROTO_DISCOVERY_LAYOUT_FIXED, 0);
        TP_ASSERT(tp_publication_offer(pub, buf, n, NULL, NULL) > 0);
    }
    char longch[1100];
    memset(longch, 'a', sizeof(longch));
    memcpy(longch, "aeron:ipc?a=", 12);
    n = request(buf, sizeof(buf), 3, longch, sizeof(longch), 7004, TP_PROTO_DISCOVERY_LAYOUT_FIXED, 0);
    TP_ASSERT(tp_publication_offer(pub, buf, n, NULL, NULL) > 0);
    pump(p, t, sub, &seen, &st, FIELD(dropped_bad_channel), 4, 0);
    TP_ASSERT(st.dropped_bad_channel >= 3);
    TP_ASSERT_EQ_U64(2, st.dropped_malformed); /* the over-long channel fails the decode */
    TP_ASSERT_EQ_U64(0, seen.responses);
    /* response stream 0 with a usable channel: ERROR to that endpoint (§5.1 SHOULD) */
    tp_subscription_t *sub0 = NULL;
    TP_ASSERT_OK(tp_transport_add_subscription(&sub0, t, "aeron:ipc", 0, NULL, NULL, NULL, NULL, 2000000000ull));
    seen_t seen0 = { 0 };
    n = request(buf, sizeof(buf), 4, "aeron:ipc", 9, 0, TP_PROTO_DISCOVERY_LAYOUT_FIXED, 0);
    TP_ASSERT(tp_publication_offer(pub, buf, n, NULL, NULL) > 0);
    pump(p, t, sub0, &seen0, &st, FIELD(responses_error), 1, 1);
    TP_ASSERT_EQ_U64(1, st.responses_error);
    TP_ASSERT_EQ_U64(1, seen0.responses);
    TP_ASSERT_EQ_U64(TP_SBE_DISCOVERY_DISCOVERY_STATUS_ERROR, seen0.status);
    TP_ASSERT_EQ_U64(4, seen0.request_id);
    TP_ASSERT_EQ_U64(0, seen0.result_count); /* ERROR: results empty (§5.2) */
    tp_subscription_close(sub0);
    /* a reference-tool peer (tags without bytes) gets a response in its layout */
    n = request(buf, sizeof(buf), 5, "aeron:ipc", 9, 7004, TP_PROTO_DISCOVERY_LAYOUT_REFERENCE, 2);
    TP_ASSERT(tp_publication_offer(pub, buf, n, NULL, NULL) > 0);
    pump(p, t, sub, &seen, &st, FIELD(responses_ok), 1, 1);
    TP_ASSERT_EQ_U64(1, st.requests_reference);
    TP_ASSERT_EQ_U64(1, seen.responses);
    TP_ASSERT_EQ_U64(5, seen.request_id);
    TP_ASSERT_EQ_U64(TP_SBE_DISCOVERY_DISCOVERY_STATUS_OK, seen.status);
    TP_ASSERT_EQ_U64(0, seen.result_count);
    /* a message of another schema on the request stream is ignored */
    uint8_t other[16] = { 0 };
    tp_sbe_put_header(other, 8, 1, 900, 1);
    TP_ASSERT(tp_publication_offer(pub, other, sizeof(other), NULL, NULL) > 0);
    pump(p, t, sub, &seen, &st, FIELD(ignored), 1, 1);
    TP_ASSERT(st.ignored >= 1);
    TP_ASSERT_EQ_U64(7, st.requests); /* decoded: empty channel, 4 bad channels, stream 0, reference */
    /* §4.3: nothing was answered on the request stream (the client did not ask for it) */
    seen_t on_request_stream = { 0 };
    while (tp_subscription_poll(req_watch, on_seen, &on_request_stream, 64) > 0)
    {
    }
    TP_ASSERT_EQ_U64(0, on_request_stream.responses);
    tp_subscription_close(req_watch);
    /* §5.2: more matches than max_results -> ERROR with a message, no results */
    tp_discovery_registry_t *reg = tp_discovery_provider_registry(p);
    tp_discovery_authority_t a = { "driver-z", "aeron:ipc", 1000 };
    for (uint32_t i = 0; i < 3; i++)
    {
        tp_proto_shm_pool_announce_view_t an;
        memset(&an, 0, sizeof(an));
        an.stream_id = 500 + i;
        an.epoch = 1;
        an.header_nslots = 8;
        an.pool_count = 1;
        an.pools[0] = (tp_proto_pool_view_t){ 1, 8, 64, { "shm:file?path=/x", 16 } };
        an.header_region_uri = (tp_proto_str_t){ "shm:file?path=/h", 16 };
        tp_discovery_registry_on_announce(reg, &a, &an, tp_clock_mono_ns(), 60000000000ull);
    }
    seen.responses = 0;
    n = request(buf, sizeof(buf), 6, "aeron:ipc", 9, 7004, TP_PROTO_DISCOVERY_LAYOUT_FIXED, 0);
    TP_ASSERT(tp_publication_offer(pub, buf, n, NULL, NULL) > 0);
    pump(p, t, sub, &seen, &st, FIELD(responses_error), 2, 1);
    TP_ASSERT_EQ_U64(1, seen.responses);
    TP_ASSERT_EQ_U64(TP_SBE_DISCOVERY_DISCOVERY_STATUS_ERROR, seen.status);
    TP_ASSERT_EQ_U64(0, seen.result_count);
    tp_publication_close(pub);
    tp_subscription_close(sub);
    tp_discovery_provider_close(p);
    tp_transport_close(t);
    tpc_driver_release(hold);
    tpc_dirs_remove(&dirs);
}

/* ------------------------------------------------------- client validation */

/* A fake provider on 7000 that answers with crafted responses on 7004. */
typedef struct
{
    tp_transport_t *t;
    tp_subscription_t *sub;
    tp_publication_t *pub;
    atomic_bool stop;
    uint64_t first_id;   /* scenario 1: unknown id, newer version, then mixed results */
    uint64_t second_id;  /* scenario 2: ERROR carrying results */
} fake_t;

static void fake_result(tp_proto_discovery_result_view_t *r, uint32_t stream, uint64_t epoch, const char *channel,
    uint32_t control_stream, uint32_t pool_nslots)
{
    memset(r, 0, sizeof(*r));
    r->stream_id = stream;
    r->epoch = epoch;
    r->layout_version = 1;
    r->header_nslots = 64;
    r->header_slot_bytes = 256;
    r->max_dims = 8;
    r->driver_control_stream_id = control_stream;
    r->pool_count = 1;
    r->pools[0] = (tp_proto_pool_view_t){ 1, pool_nslots, 1024, { "shm:file?path=/p", 16 } };
    r->header_region_uri = (tp_proto_str_t){ "shm:file?path=/h", 16 };
    r->driver_instance_id = (tp_proto_str_t){ "fake", 4 };
    r->driver_control_channel = (tp_proto_str_t){ channel, (uint32_t)strlen(channel) };
}

static void fake_send(fake_t *f, uint64_t id, tp_sbe_discovery_discovery_status_t status,
    const tp_proto_discovery_result_view_t *results, uint32_t n, uint16_t version)
{
    uint8_t *buf = malloc(65536);
    tp_proto_discovery_response_encoder_t enc;
    size_t len = 0;
    tp_proto_discovery_response_begin(&enc, buf, 65536, TP_PROTO_DISCOVERY_LAYOUT_FIXED, id, status, n);
    for (uint32_t i = 0; i < n; i++)
    {
        tp_proto_discovery_response_add(&enc, &results[i]);
    }
    tp_proto_discovery_response_finish(&enc, "", 0, &len);
    tp_sbe_put_u16(buf + 6, version);
    uint64_t deadline = tp_clock_mono_ns() + 2000000000ull;
    while (tp_publication_offer(f->pub, buf, len, NULL, NULL) <= 0 && tp_clock_mono_ns() < deadline)
    {
        tp_transport_do_work(f->t);
        tp_sleep_ns(100000);
    }
    free(buf);
}

static void fake_on_request(void *clientd, const uint8_t *buf, size_t len, const tp_header_t *h)
{
    (void)h;
    fake_t *f = clientd;
    tp_proto_discovery_request_view_t q;
    if (tp_proto_decode_discovery_request(buf, len, &q) < 0)
    {
        return;
    }
    if (0 == f->first_id || q.request_id == f->first_id)
    {
        f->first_id = q.request_id;
        tp_proto_discovery_result_view_t r[7];
        fake_result(&r[0], 1, 1, "aeron:ipc", 1000, 64);
        fake_send(f, q.request_id + 1, TP_SBE_DISCOVERY_DISCOVERY_STATUS_OK, r, 1, 1); /* unknown id */
        fake_send(f, q.request_id, TP_SBE_DISCOVERY_DISCOVERY_STATUS_OK, r, 1, 2);     /* newer version */
        fake_result(&r[0], 1, 5, "aeron:ipc", 1000, 64);
        fake_result(&r[1], 1, 3, "aeron:ipc", 1000, 64);  /* stale epoch of stream 1 */
        fake_result(&r[2], 1, 7, "aeron:ipc", 1000, 64);  /* newer epoch of stream 1 */
        fake_result(&r[3], 2, 1, "", 1000, 64);           /* empty authority channel */
        fake_result(&r[4], 3, 1, "aeron:ipc", 0, 64);     /* zero authority stream */
        fake_result(&r[5], 4, 1, "aeron:ipc", 1000, 32);  /* pool_nslots != header_nslots */
        fake_result(&r[6], 5, 1, "aeron:ipc", 1000, 64);
        fake_send(f, q.request_id, TP_SBE_DISCOVERY_DISCOVERY_STATUS_OK, r, 7, 1);
    }
    else if (0 == f->second_id || q.request_id == f->second_id)
    {
        f->second_id = q.request_id;
        tp_proto_discovery_result_view_t r[1];
        fake_result(&r[0], 1, 1, "aeron:ipc", 1000, 64);
        fake_send(f, q.request_id, TP_SBE_DISCOVERY_DISCOVERY_STATUS_ERROR, r, 1, 1); /* results must be ignored */
    }
}

static void *run_fake(void *arg)
{
    fake_t *f = arg;
    while (!atomic_load(&f->stop))
    {
        tp_transport_do_work(f->t);
        if (tp_subscription_poll(f->sub, fake_on_request, f, 8) <= 0)
        {
            tp_sleep_ns(200000);
        }
    }
    return NULL;
}

static void test_client_validates_responses(void)
{
    tpc_dirs_t dirs;
    TP_ASSERT_OK(tpc_dirs_make(&dirs, "disc-cli"));
    tp_transport_t *hold = tpc_driver_hold(&dirs);
    fx_t fx;
    memset(&fx, 0, sizeof(fx));
    fx.dirs = dirs;
    fake_t f;
    memset(&f, 0, sizeof(f));
    TP_ASSERT_OK(open_transport(&fx, &f.t));
    TP_ASSERT_OK(tp_transport_add_subscription(&f.sub, f.t, "aeron:ipc", 7000, NULL, NULL, NULL, NULL, 2000000000ull));
    TP_ASSERT_OK(tp_transport_add_publication(&f.pub, f.t, TP_DISCOVERY_DEFAULT_RESPONSE_CHANNEL, 7004, 2000000000ull));
    pthread_t th;
    TP_ASSERT(0 == pthread_create(&th, NULL, run_fake, &f));
    tp_discovery_client_t *dc = discovery_client(&fx, 7000);
    tp_discovery_query_t q;
    tp_discovery_query_init(&q);
    tp_discovery_results_t *res = NULL;
    TP_ASSERT_OK(tp_discovery_query(dc, &q, &res));
    TP_ASSERT_EQ_U64(TP_DISCOVERY_STATUS_OK, tp_discovery_results_status(res));
    TP_ASSERT_EQ_U64(2, tp_discovery_results_count(res));   /* stream 1 (epoch 7) and stream 5 */
    TP_ASSERT_EQ_U64(3, tp_discovery_results_invalid(res)); /* empty channel, zero stream, nslots mismatch */
    const tp_discovery_result_t *r0 = tp_discovery_results_at(res, 0);
    if (NULL != r0)
    {
        TP_ASSERT_EQ_U64(1, r0->stream_id);
        TP_ASSERT_EQ_U64(7, r0->epoch); /* stale epochs discarded (§7) */
    }
    TP_ASSERT(NULL == tp_discovery_results_at(res, 2));
    tp_discovery_results_close(res);
    tp_discovery_client_stats_t st;
    TP_ASSERT_OK(tp_discovery_client_stats(dc, &st));
    TP_ASSERT_EQ_U64(1, st.dropped_unknown_id);
    TP_ASSERT_EQ_U64(1, st.dropped_malformed); /* version 2 rejected (§10) */
    /* ERROR with a non-zero result count: the results are ignored (§5.2) */
    TP_ASSERT_OK(tp_discovery_query(dc, &q, &res));
    TP_ASSERT_EQ_U64(TP_DISCOVERY_STATUS_ERROR, tp_discovery_results_status(res));
    TP_ASSERT_EQ_U64(0, tp_discovery_results_count(res));
    tp_discovery_results_close(res);
    tp_discovery_client_close(dc);
    atomic_store(&f.stop, true);
    pthread_join(th, NULL);
    tp_publication_close(f.pub);
    tp_subscription_close(f.sub);
    tp_transport_close(f.t);
    tpc_driver_release(hold);
    tpc_dirs_remove(&dirs);
}

static void test_driver_config_discovery_section(void)
{
    tp_driver_config_t *cfg = NULL;
    TP_ASSERT_OK(tp_driver_config_init(&cfg));
    static const char *const bad[] = {
        "[discovery]\nenabeld = true\n",                                   /* unknown key */
        "[discovery]\nenabled = true\nchannel = \"tcp://x\"\n",          /* not an aeron URI */
        "[discovery]\nenabled = true\nmax_results = 0\n",                 /* out of range */
        "[discovery.streams.a]\nstream_id = 1\ndriver = \"x\"\n",        /* standalone-only key */
        "[discovery.streams.a]\ntags = [\"t\"]\n",                        /* stream_id missing */
        "[discovery.streams.a]\nstream_id = 1\ntags = [\"\"]\n",         /* empty tag */
    };
    char text[2048];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    {
        snprintf(text, sizeof(text), "%s%s", base_config, bad[i]);
        TP_ASSERT_ERR(TP_ERR_CONFIG, tp_driver_config_load_string(cfg, text, strlen(text), "bad.toml"));
        TP_ASSERT_MSG(NULL != strstr(tp_errmsg(), "discovery") || NULL != strstr(tp_errmsg(), "stream_id") ||
            NULL != strstr(tp_errmsg(), "tag"), "case %zu: message names the key: %s", i, tp_errmsg());
    }
    /* a valid section prints and loads back to the same text (tp driver --print-config) */
    snprintf(text, sizeof(text), "%s%s[discovery.streams.b]\nstream_id = 2\ntags = [\"q\\\"x\"]\n"
        "data_source_name = \"a\\nb\"\n", base_config, discovery_config);
    TP_ASSERT_OK(tp_driver_config_load_string(cfg, text, strlen(text), "ok.toml"));
    int n = tp_driver_config_print(cfg, NULL, 0);
    char *p1 = malloc((size_t)n + 1);
    tp_driver_config_print(cfg, p1, (size_t)n + 1);
    TP_ASSERT(NULL != strstr(p1, "[discovery]\nenabled = true"));
    tp_driver_config_t *again = NULL;
    TP_ASSERT_OK(tp_driver_config_init(&again));
    TP_ASSERT_OK(tp_driver_config_load_string(again, p1, strlen(p1), "printed.toml"));
    int n2 = tp_driver_config_print(again, NULL, 0);
    char *p2 = malloc((size_t)n2 + 1);
    tp_driver_config_print(again, p2, (size_t)n2 + 1);
    TP_ASSERT_STREQ(p1, p2);
    free(p1);
    free(p2);
    tp_driver_config_close(again);
    tp_driver_config_close(cfg);
}

int main(void)
{
    TP_RUN(test_driver_config_discovery_section);
    TP_RUN(test_embedded_provider_finds_attached_producer);
    TP_RUN(test_embedded_provider_on_its_own_stream);
    TP_RUN(test_standalone_provider_fed_by_announces);
    TP_RUN(test_hostile_requests_are_counted_drops);
    TP_RUN(test_client_validates_responses);
    return tp_test_finish();
}
