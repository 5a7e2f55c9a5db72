/*
 * Discovery response endpoint allow-list (DECISIONS DISC-3, docs/DISCOVERY.md):
 * the default allows IPC and loopback UDP only; a fleet lists its networks
 * and hosts; requests naming anything else are dropped and counted, nothing
 * is sent there; broken entries are configuration errors with line numbers,
 * in the driver's `[discovery]` and in the standalone provider's file.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "client/tp_client_test_util.h"
#include "discovery/tp_discovery_allow.h"
#include "discovery/tp_discovery_config.h"
#include "discovery/tp_discovery_provider.h"
#include "protocol/tp_proto_discovery.h"
#include "tensor_pool/tp_driver.h"
#include "tp_test.h"

static bool allowed(const tp_discovery_provider_config_t *c, const char *channel)
{
    return tp_discovery_response_allowed(&c->response_rules[0][0], c->response_rule_count, channel, strlen(channel));
}

static void set_rules(tp_discovery_provider_config_t *c, const char *const *rules, uint32_t n)
{
    c->response_rule_count = n;
    for (uint32_t i = 0; i < n; i++)
    {
        snprintf(c->response_rules[i], sizeof(c->response_rules[i]), "%s", rules[i]);
    }
}

static void test_default_allows_ipc_and_loopback_udp(void)
{
    tp_discovery_provider_config_t c;
    tp_discovery_provider_config_defaults(&c);
    TP_ASSERT_OK(tp_discovery_provider_config_validate(&c));
    static const char *const ok[] = { "aeron:ipc", "aeron:ipc?term-length=4m", "aeron:udp?endpoint=127.0.0.1:40123",
        "aeron:udp?endpoint=127.200.3.4:1|mtu=1408", "aeron:udp?endpoint=localhost:40123",
        "aeron:udp?endpoint=LOCALHOST:9", "aeron:udp?endpoint=[::1]:40123" };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
    {
        TP_ASSERT_MSG(allowed(&c, ok[i]), "refused %s", ok[i]);
    }
    static const char *const refused[] = { "aeron:udp?endpoint=10.0.0.1:40123", "aeron:udp?endpoint=128.0.0.1:40123",
        "aeron:udp?endpoint=evil.example.org:53", "aeron:udp?endpoint=localhost.evil.example.org:53",
        "aeron:udp?endpoint=[::2]:53", "aeron:udp?endpoint=224.0.1.1:40456",
        "aeron:udp?control=127.0.0.1:40000|control-mode=dynamic" /* no endpoint: only "*" */ };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
    {
        TP_ASSERT_MSG(!allowed(&c, refused[i]), "allowed %s", refused[i]);
    }
}

static void test_fleet_rules(void)
{
    tp_discovery_provider_config_t c;
    tp_discovery_provider_config_defaults(&c);
    static const char *const fleet[] = { "ipc", "10.1.0.0/16", "client-7.example.org:40123", "[fd00::7]" };
    set_rules(&c, fleet, 4);
    TP_ASSERT_OK(tp_discovery_provider_config_validate(&c));
    TP_ASSERT(allowed(&c, "aeron:ipc"));
    TP_ASSERT(allowed(&c, "aeron:udp?endpoint=10.1.200.3:40123"));
    TP_ASSERT(allowed(&c, "aeron:udp?endpoint=Client-7.Example.org:40123"));
    TP_ASSERT(allowed(&c, "aeron:udp?endpoint=[fd00::7]:5"));
    TP_ASSERT(!allowed(&c, "aeron:udp?endpoint=client-7.example.org:40124")); /* another port */
    TP_ASSERT(!allowed(&c, "aeron:udp?endpoint=10.2.0.1:40123"));
    TP_ASSERT(!allowed(&c, "aeron:udp?endpoint=127.0.0.1:40123")); /* the list replaces the defaults */
    /* "*": any UDP endpoint, but IPC only when listed */
    static const char *const any[] = { "*" };
    set_rules(&c, any, 1);
    TP_ASSERT(allowed(&c, "aeron:udp?endpoint=203.0.113.9:1"));
    TP_ASSERT(allowed(&c, "aeron:udp?control=127.0.0.1:40000|control-mode=dynamic"));
    TP_ASSERT(!allowed(&c, "aeron:ipc"));
    /* programmatic configurations are validated too */
    static const char *const broken[] = { "ipc", "10.0.0.0/33" };
    set_rules(&c, broken, 2);
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_discovery_provider_config_validate(&c));
    TP_ASSERT_MSG(NULL != strstr(tp_errmsg(), "response_endpoints[1]"), "%s", tp_errmsg());
    c.response_rule_count = 0;
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_discovery_provider_config_validate(&c));
}

static void test_rule_syntax(void)
{
    static const char *const good[] = { "ipc", "*", "localhost", "127.0.0.1", "127.0.0.1:40123", "10.0.0.0/8",
        "0.0.0.0/0", "[::1]", "[::1]:9", "host-a.example.org", "host_b:65535" };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
    {
        TP_ASSERT_MSG(0 == tp_discovery_response_rule_check(good[i]), "%s: %s", good[i], tp_errmsg());
    }
    static const char *const bad[] = { "", "aeron:ipc", "::1", "[zz]", "[::1", "host:0", "host:65536", "host:",
        "a b", "10.0.0.0/33", "10.0.0/8", "10.0.0.0/", "example.org/8", "*.example.org" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    {
        TP_ASSERT_MSG(tp_discovery_response_rule_check(bad[i]) < 0, "accepted \"%s\"", bad[i]);
        TP_ASSERT_EQ_I64(TP_ERR_CONFIG, tp_errcode());
        TP_ASSERT_MSG(NULL != strstr(tp_errmsg(), "HOST:PORT"), "the message shows the forms: %s", tp_errmsg());
    }
}

static const char driver_base[] = "[profiles.p]\nheader_nslots = 64\npayload_pools = [{ pool_id = 1, stride_bytes = 1024 }]\n"
                                  "[streams.s]\nstream_id = 10000\nprofile = \"p\"\n"; /* 6 lines */

static void test_driver_config_errors_are_line_numbered(void)
{
    tp_driver_config_t *cfg = NULL;
    TP_ASSERT_OK(tp_driver_config_init(&cfg));
    static const struct
    {
        const char *section;
        const char *where; /* expected in the message */
    } cases[] = {
        { "[discovery]\nenabled = true\nresponse_endpoints = [\"ipc\",\n  \"10.0.0.0/33\"]\n", "bad.toml:10:" },
        { "[discovery]\nenabled = true\nresponse_endpoints = []\n", "bad.toml:9:" },
        { "[discovery]\nenabled = true\nresponse_endpoints = \"ipc\"\n", "bad.toml:9:" },
        { "[discovery]\nenabled = true\n\nresponse_endpoints = [\"ipc\", 7]\n", "bad.toml:10:" },
        { "[discovery]\nresponse_endpoints = [\"aeron:udp?endpoint=1.2.3.4:5\"]\n", "bad.toml:8:" },
    };
    char text[2048];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    {
        snprintf(text, sizeof(text), "%s%s", driver_base, cases[i].section);
        TP_ASSERT_ERR(TP_ERR_CONFIG, tp_driver_config_load_string(cfg, text, strlen(text), "bad.toml"));
        TP_ASSERT_MSG(NULL != strstr(tp_errmsg(), cases[i].where) && NULL != strstr(tp_errmsg(), "response_endpoints"),
            "case %zu: want %s: %s", i, cases[i].where, tp_errmsg());
    }
    /* a valid list prints and loads back (tp driver --print-config) */
    snprintf(text, sizeof(text), "%s[discovery]\nenabled = true\nresponse_endpoints = [\"ipc\", \"10.1.0.0/16\", "
        "\"client-7.example.org:40123\"]\n", driver_base);
    TP_ASSERT_OK(tp_driver_config_load_string(cfg, text, strlen(text), "ok.toml"));
    char printed[8192];
    TP_ASSERT(tp_driver_config_print(cfg, printed, sizeof(printed)) < (int)sizeof(printed));
    TP_ASSERT_MSG(NULL != strstr(printed, "response_endpoints = [\"ipc\", \"10.1.0.0/16\", \"client-7.example.org:40123\"]"),
        "%s", printed);
    tp_driver_config_close(cfg);
}

static void test_standalone_config_file(void)
{
    char path[] = "/tmp/tp-test-disc-allow-XXXXXX";
    int fd = mkstemp(path);
    TP_ASSERT(fd >= 0);
    close(fd);
    tp_discovery_provider_config_t c;
    char backend[16] = "";
    char dir[PATH_MAX] = "";
    FILE *f = fopen(path, "w");
    TP_ASSERT(NULL != f);
    fputs("[discovery]\nstream_id = 7000\nresponse_endpoints = [\"ipc\", \"10.1.0.0/16\"]\n"
          "[drivers.a]\ninstance_id = \"driver-a\"\n", f);
    fclose(f);
    tp_discovery_provider_config_defaults(&c);
    TP_ASSERT_OK(tp_discovery_config_load_file(path, &c, backend, dir));
    TP_ASSERT_EQ_U64(2, c.response_rule_count);
    TP_ASSERT_STREQ("10.1.0.0/16", c.response_rules[1]);
    f = fopen(path, "w");
    TP_ASSERT(NULL != f);
    fputs("[drivers.a]\ninstance_id = \"driver-a\"\n[discovery]\nstream_id = 7000\n"
          "response_endpoints = [\"ipc\", \"::1\"]\n", f);
    fclose(f);
    tp_discovery_provider_config_defaults(&c);
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_discovery_config_load_file(path, &c, backend, dir));
    char want[128];
    snprintf(want, sizeof(want), "%s:5:", path);
    TP_ASSERT_MSG(NULL != strstr(tp_errmsg(), want) && NULL != strstr(tp_errmsg(), "bracketed"), "%s", tp_errmsg());
    unlink(path);
}

/* ------------------------------------------------------------ end to end */

typedef struct
{
    int responses;
    uint64_t request_id;
} seen_t;

static void on_seen(void *clientd, const uint8_t *buf, size_t len, const tp_header_t *h)
{
    (void)h;
    seen_t *s = clientd;
    tp_proto_discovery_response_view_t v;
    if (tp_proto_decode_discovery_response(buf, len, &v) == 0)
    {
        s->responses++;
        s->request_id = v.request_id;
    }
}

static int send_request(tp_publication_t *pub, uint64_t id, const char *channel, uint32_t stream)
{
    tp_proto_discovery_request_view_t m;
    memset(&m, 0, sizeof(m));
    m.request_id = id;
    m.response_stream_id = stream;
    m.response_channel.data = channel;
    m.response_channel.length = (uint32_t)strlen(channel);
    uint8_t buf[2048];
    size_t len = 0;
    if (tp_proto_encode_discovery_request(buf, sizeof(buf), &m, TP_PROTO_DISCOVERY_LAYOUT_FIXED, &len) < 0)
    {
        return -1;
    }
    return tp_publication_offer(pub, buf, len, NULL, NULL) > 0 ? 0 : -1;
}

/* Run provider and transport until `*counter` reaches `want` and `seen` has `responses`, or 3 s. */
static void pump(tp_discovery_provider_t *p, tp_transport_t *t, tp_subscription_t *sub, seen_t *seen,
    const uint64_t *counter, uint64_t want, int responses, tp_discovery_provider_stats_t *st)
{
    uint64_t deadline = tp_clock_mono_ns() + 3000000000ull;
    do
    {
        tp_transport_do_work(t);
        tp_discovery_provider_do_work(p, tp_clock_mono_ns());
        tp_subscription_poll(sub, on_seen, seen, 16);
        tp_discovery_provider_stats(p, st);
        tp_sleep_ns(200000);
    } while ((*counter < want || seen->responses < responses) && tp_clock_mono_ns() < deadline);
}

static void test_provider_drops_refused_endpoints(void)
{
    tpc_dirs_t dirs;
    TP_ASSERT_OK(tpc_dirs_make(&dirs, "disc-allow"));
    tp_transport_t *hold = tpc_driver_hold(&dirs);
    tp_transport_context_t tctx;
    tp_transport_context_init(&tctx);
    tp_transport_context_set_dir(&tctx, dirs.transport);
    tp_transport_t *t = NULL;
    TP_ASSERT_OK(tp_transport_init(&t, &tctx));
    tp_discovery_provider_config_t c;
    tp_discovery_provider_config_defaults(&c); /* IPC + loopback UDP */
    tp_discovery_provider_t *p = NULL;
    TP_ASSERT_OK(tp_discovery_provider_init(&p, t, &c));
    char udp[96];
    snprintf(udp, sizeof(udp), "aeron:udp?endpoint=127.0.0.1:%d", 20000 + (int)(getpid() % 20000));
    tp_publication_t *pub = NULL;
    tp_subscription_t *ipc_sub = NULL;
    tp_subscription_t *udp_sub = NULL;
    TP_ASSERT_OK(tp_transport_add_publication(&pub, t, c.channel, (int32_t)c.stream_id, 2000000000ull));
    TP_ASSERT_OK(tp_transport_add_subscription(&ipc_sub, t, "aeron:ipc", 7004, NULL, NULL, NULL, NULL, 2000000000ull));
    TP_ASSERT_OK(tp_transport_add_subscription(&udp_sub, t, udp, 7005, NULL, NULL, NULL, NULL, 2000000000ull));
    uint64_t deadline = tp_clock_mono_ns() + 2000000000ull;
    while (!tp_publication_is_connected(pub) && tp_clock_mono_ns() < deadline)
    {
        tp_transport_do_work(t);
        tp_discovery_provider_do_work(p, tp_clock_mono_ns());
        tp_sleep_ns(100000);
    }
    seen_t seen_ipc = { 0 };
    seen_t seen_udp = { 0 };
    tp_discovery_provider_stats_t st;
    /* a host outside the list: dropped, counted, nothing answered (there is no allowed endpoint to answer) */
    TP_ASSERT_OK(send_request(pub, 1, "aeron:udp?endpoint=192.0.2.10:40123", 7005));
    TP_ASSERT_OK(send_request(pub, 2, "aeron:udp?endpoint=evil.example.org:53", 7005));
    pump(p, t, ipc_sub, &seen_ipc, &st.dropped_refused_channel, 2, 0, &st);
    TP_ASSERT_EQ_U64(2, st.dropped_refused_channel);
    TP_ASSERT_EQ_U64(2, st.requests);
    TP_ASSERT_EQ_U64(0, st.responses_ok + st.responses_error);
    /* IPC and loopback UDP are answered */
    TP_ASSERT_OK(send_request(pub, 3, "aeron:ipc", 7004));
    pump(p, t, ipc_sub, &seen_ipc, &st.responses_ok, 1, 1, &st);
    TP_ASSERT_EQ_U64(1, seen_ipc.responses);
    TP_ASSERT_EQ_U64(3, seen_ipc.request_id);
    TP_ASSERT_OK(send_request(pub, 4, udp, 7005));
    pump(p, t, udp_sub, &seen_udp, &st.responses_ok, 2, 1, &st);
    TP_ASSERT_MSG(1 == seen_udp.responses, "UDP responses %d, ok %llu, undelivered %llu", seen_udp.responses,
        (unsigned long long)st.responses_ok, (unsigned long long)st.undelivered);
    TP_ASSERT_EQ_U64(4, seen_udp.request_id);
    /* a refused endpoint with response stream 0 is still dropped, not answered ERROR (that would go to it) */
    TP_ASSERT_OK(send_request(pub, 5, "aeron:udp?endpoint=192.0.2.10:40123", 0));
    pump(p, t, ipc_sub, &seen_ipc, &st.dropped_refused_channel, 3, 1, &st);
    TP_ASSERT_EQ_U64(3, st.dropped_refused_channel);
    TP_ASSERT_EQ_U64(0, st.responses_error);
    tp_discovery_provider_close(p);
    /* an IPC-only provider refuses even loopback UDP */
    static const char *const ipc_only[] = { "ipc" };
    set_rules(&c, ipc_only, 1);
    TP_ASSERT_OK(tp_discovery_provider_init(&p, t, &c));
    deadline = tp_clock_mono_ns() + 2000000000ull;
    while (!tp_publication_is_connected(pub) && tp_clock_mono_ns() < deadline)
    {
        tp_transport_do_work(t);
        tp_discovery_provider_do_work(p, tp_clock_mono_ns());
        tp_sleep_ns(100000);
    }
    seen_udp.responses = 0;
    TP_ASSERT_OK(send_request(pub, 6, udp, 7005));
    pump(p, t, udp_sub, &seen_udp, &st.dropped_refused_channel, 1, 0, &st);
    TP_ASSERT_EQ_U64(1, st.dropped_refused_channel);
    TP_ASSERT_EQ_U64(0, seen_udp.responses);
    tp_discovery_provider_close(p);
    tp_subscription_close(ipc_sub);
    tp_subscription_close(udp_sub);
    tp_publication_close(pub);
    tp_transport_close(t);
    tpc_driver_release(hold);
    tpc_dirs_remove(&dirs);
}

/* §13 (DS62): queries are logged at a sampled rate: the first request and every Nth after it. */
typedef struct
{
    int lines;
    char last[512];
} log_seen_t;

static void on_log(void *clientd, tp_log_level_t level, const char *module, const char *line)
{
    log_seen_t *s = clientd;
    if (TP_LOG_LEVEL_INFO == level && 0 == strcmp(module, "discovery") && NULL != strstr(line, "query "))
    {
        s->lines++;
        snprintf(s->last, sizeof(s->last), "%s", line);
    }
}

static void test_query_log_sampled(void)
{
    tpc_dirs_t dirs;
    TP_ASSERT_OK(tpc_dirs_make(&dirs, "disc-qlog"));
    tp_transport_context_t tctx;
    tp_transport_context_init(&tctx);
    tp_transport_context_set_dir(&tctx, dirs.transport);
    tp_transport_t *t = NULL;
    TP_ASSERT_OK(tp_transport_init(&t, &tctx));
    tp_discovery_provider_config_t c;
    tp_discovery_provider_config_defaults(&c);
    TP_ASSERT_EQ_U64(TP_DISCOVERY_DEFAULT_QUERY_LOG_EVERY, c.query_log_every);
    c.own_subscription = false;
    c.query_log_every = 3;
    tp_discovery_provider_t *p = NULL;
    TP_ASSERT_OK(tp_discovery_provider_init(&p, t, &c));
    log_seen_t seen = { 0 };
    tp_log_level_t old = tp_log_level();
    tp_log_set_level(TP_LOG_LEVEL_INFO);
    tp_log_set_handler(on_log, &seen);
    for (uint64_t id = 1; id <= 7; id++)
    {
        tp_proto_discovery_request_view_t m;
        memset(&m, 0, sizeof(m));
        m.request_id = id;
        m.client_id = 42;
        m.response_stream_id = 7004;
        m.response_channel = (tp_proto_str_t){ "aeron:ipc", 9 };
        m.has_stream_id = true;
        m.stream_id = 10000 + (uint32_t)id;
        uint8_t buf[2048];
        size_t len = 0;
        TP_ASSERT_OK(tp_proto_encode_discovery_request(buf, sizeof(buf), &m, TP_PROTO_DISCOVERY_LAYOUT_FIXED, &len));
        TP_ASSERT_EQ_I64(1, tp_discovery_provider_on_request(p, buf, len, tp_clock_mono_ns()));
    }
    tp_log_set_handler(NULL, NULL);
    tp_log_set_level(old);
    tp_discovery_provider_stats_t st;
    tp_discovery_provider_stats(p, &st);
    TP_ASSERT_EQ_U64(7, st.requests);
    TP_ASSERT_EQ_U64(3, st.queries_logged); /* requests 1, 4 and 7 */
    TP_ASSERT_EQ_I64(3, seen.lines);
    TP_ASSERT_MSG(NULL != strstr(seen.last, "request 7") && NULL != strstr(seen.last, "stream_id=10007") &&
            NULL != strstr(seen.last, "client 42"), "%s", seen.last);
    /* 0 turns the log off */
    tp_discovery_provider_close(p);
    c.query_log_every = 0;
    TP_ASSERT_OK(tp_discovery_provider_init(&p, t, &c));
    tp_proto_discovery_request_view_t m;
    memset(&m, 0, sizeof(m));
    m.request_id = 8;
    m.response_stream_id = 7004;
    m.response_channel = (tp_proto_str_t){ "aeron:ipc", 9 };
    uint8_t buf[2048];
    size_t len = 0;
    TP_ASSERT_OK(tp_proto_encode_discovery_request(buf, sizeof(buf), &m, TP_PROTO_DISCOVERY_LAYOUT_FIXED, &len));
    TP_ASSERT_EQ_I64(1, tp_discovery_provider_on_request(p, buf, len, tp_clock_mono_ns()));
    tp_discovery_provider_stats(p, &st);
    TP_ASSERT_EQ_U64(0, st.queries_logged);
    tp_discovery_provider_close(p);
    tp_transport_close(t);
    tpc_dirs_remove(&dirs);
}

int main(void)
{
    TP_RUN(test_default_allows_ipc_and_loopback_udp);
    TP_RUN(test_fleet_rules);
    TP_RUN(test_rule_syntax);
    TP_RUN(test_driver_config_errors_are_line_numbered);
    TP_RUN(test_standalone_config_file);
    TP_RUN(test_provider_drops_refused_endpoints);
    TP_RUN(test_query_log_sampled);
    return tp_test_finish();
}
