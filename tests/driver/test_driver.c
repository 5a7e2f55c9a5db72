/*
 * The SHM driver in one process (invoker mode) against raw control-plane
 * clients: configuration, attach/keepalive/detach, leases, epochs, node ids,
 * rejections with their counted reasons, GC, shutdown, malformed input.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "client/tp_client_test_util.h"
#include "tensor_pool/tp_shm.h"
#include "client/tp_driver_lease.h"
#include "common/tp_clock.h"
#include "tensor_pool/tp_driver.h"
#include "tp_sbe/driver.h"
#include "tp_sbe/wire.h"
#include "tp_test.h"

#define FX_MAX_LEASES 4
#define FX_MAX_RESPONSES 64

typedef struct
{
    int64_t correlation_id;
    int32_t code;
    uint32_t node_id;
    uint64_t lease_id;
    char error[256];
} fx_response_t;

typedef struct
{
    tpc_dirs_t dirs;
    tp_transport_t *hold;
    tp_driver_config_t *cfg;
    tp_driver_t *driver;
    tp_transport_t *t;
    tp_publication_t *pub;
    tp_subscription_t *sub;
    tp_driver_lease_t *leases[FX_MAX_LEASES];
    tp_driver_lease_event_t last_event[FX_MAX_LEASES];
    uint64_t events[FX_MAX_LEASES][6];
    fx_response_t responses[FX_MAX_RESPONSES];
    size_t response_count;
    uint64_t announces;
    uint32_t announce_stream_id;
    uint64_t announce_epoch;
    uint32_t announce_producer_id;
    uint64_t revoked;
    uint8_t last_revoke_reason;
    uint64_t last_revoke_lease;
    uint64_t shutdowns;
    uint64_t detach_responses;
    int32_t last_detach_code;
} fx_t;

static void on_control(void *clientd, const uint8_t *buffer, size_t length, const tp_header_t *header)
{
    (void)header;
    fx_t *fx = clientd;
    uint64_t now = tp_clock_mono_ns();
    for (int i = 0; i < FX_MAX_LEASES; i++)
    {
        if (NULL != fx->leases[i])
        {
            tp_driver_lease_event_t ev = tp_driver_lease_on_message(fx->leases[i], buffer, length, header, now);
            if (TP_LEASE_EVENT_NONE != ev)
            {
                fx->last_event[i] = ev;
                fx->events[i][ev]++;
            }
        }
    }
    tp_sbe_header_t h;
    if (TP_SBE_OK != tp_sbe_peek_header(buffer, length, &h))
    {
        return;
    }
    if (901 == h.schema_id && 2 == h.template_id && fx->response_count < FX_MAX_RESPONSES)
    {
        tp_sbe_driver_shm_attach_response_t m;
        if (TP_SBE_OK == tp_sbe_driver_shm_attach_response_wrap_for_decode_with_header(&m, buffer, 0, length))
        {
            fx_response_t *r = &fx->responses[fx->response_count++];
            r->correlation_id = tp_sbe_driver_shm_attach_response_correlation_id(&m);
            r->code = (int32_t)tp_sbe_driver_shm_attach_response_code(&m);
            r->node_id = tp_sbe_driver_shm_attach_response_node_id(&m);
            r->lease_id = tp_sbe_driver_shm_attach_response_lease_id(&m);
            tp_sbe_driver_shm_attach_response_payload_pools_t g;
            const uint8_t *p = NULL;
            uint32_t n = 0;
            if (TP_SBE_OK == tp_sbe_driver_shm_attach_response_get_payload_pools(&m, &g))
            {
                while (tp_sbe_driver_shm_attach_response_payload_pools_has_next(&g) &&
                    TP_SBE_OK == tp_sbe_driver_shm_attach_response_payload_pools_next(&g) &&
                    TP_SBE_OK == tp_sbe_driver_shm_attach_response_payload_pools_skip(&g))
                {
                }
                if (TP_SBE_OK == tp_sbe_driver_shm_attach_response_get_header_region_uri(&m, &p, &n) &&
                    TP_SBE_OK == tp_sbe_driver_shm_attach_response_get_error_message(&m, &p, &n))
                {
                    snprintf(r->error, sizeof(r->error), "%.*s", (int)(n > 200 ? 200 : n), (const char *)p);
                }
            }
        }
    }
    else if (901 == h.schema_id && 7 == h.template_id)
    {
        tp_sbe_driver_shm_lease_revoked_t m;
        if (TP_SBE_OK == tp_sbe_driver_shm_lease_revoked_wrap_for_decode_with_header(&m, buffer, 0, length))
        {
            fx->revoked++;
            fx->last_revoke_reason = (uint8_t)tp_sbe_driver_shm_lease_revoked_reason(&m);
            fx->last_revoke_lease = tp_sbe_driver_shm_lease_revoked_lease_id(&m);
        }
    }
    else if (901 == h.schema_id && 6 == h.template_id)
    {
        fx->shutdowns++;
    }
    else if (901 == h.schema_id && 4 == h.template_id)
    {
        tp_sbe_driver_shm_detach_response_t m;
        if (TP_SBE_OK == tp_sbe_driver_shm_detach_response_wrap_for_decode_with_header(&m, buffer, 0, length))
        {
            fx->detach_responses++;
            fx->last_detach_code = (int32_t)tp_sbe_driver_shm_detach_response_code(&m);
        }
    }
    else if (h.schema_id == TP_SBE_WIRE_SCHEMA_ID && h.template_id == TP_SBE_WIRE_SHM_POOL_ANNOUNCE_TEMPLATE_ID)
    {
        tp_sbe_wire_shm_pool_announce_t m;
        if (TP_SBE_OK == tp_sbe_wire_shm_pool_announce_wrap_for_decode_with_header(&m, buffer, 0, length))
        {
            fx->announces++;
            fx->announce_stream_id = tp_sbe_wire_shm_pool_announce_stream_id(&m);
            fx->announce_epoch = tp_sbe_wire_shm_pool_announce_epoch(&m);
            fx->announce_producer_id = tp_sbe_wire_shm_pool_announce_producer_id(&m);
        }
    }
}

static const char base_config[] = "[driver]\n"
                                  "stream_id_range = \"20000-20009\"\n"
                                  "[policies]\n"
                                  "allow_dynamic_streams = true\n"
                                  "announce_period_ms = 100\n"
                                  "lease_keepalive_interval_ms = 100\n"
                                  "lease_expiry_grace_intervals = 3\n"
                                  "epoch_gc_min_age_ns = 1\n"
                                  "node_id_reuse_cooldown_ms = 60000\n"
                                  "shutdown_token = \"s3cret\"\n"
                                  "shutdown_timeout_ms = 100\n"
                                  "max_leases = 6\n"
                                  "[profiles.small]\n"
                                  "header_nslots = 64\n"
                                  "payload_pools = [{ pool_id = 1, stride_bytes = 4096 }, { pool_id = 2, stride_bytes = 65536 }]\n"
                                  "[streams.cam]\n"
                                  "stream_id = 10000\n"
                                  "profile = \"small\"\n";

static int fx_start_driver(fx_t *fx)
{
    if (tp_driver_config_init(&fx->cfg) < 0 ||
        tp_driver_config_load_string(fx->cfg, base_config, sizeof(base_config) - 1, "test.toml") < 0 ||
        tp_driver_config_set_shm_base_dir(fx->cfg, fx->dirs.shm) < 0 ||
        tp_driver_config_set_transport(fx->cfg, NULL, fx->dirs.transport) < 0)
    {
        fprintf(stderr, "config: %s\n", tp_errmsg());
        return -1;
    }
    if (tp_driver_init(&fx->driver, fx->cfg) < 0)
    {
        fprintf(stderr, "driver: %s\n", tp_errmsg());
        return -1;
    }
    return 0;
}

static int fx_init(fx_t *fx)
{
    memset(fx, 0, sizeof(*fx));
    if (tpc_dirs_make(&fx->dirs, "drv") < 0)
    {
        return -1;
    }
    fx->hold = tpc_driver_hold(&fx->dirs);
    if (fx_start_driver(fx) < 0)
    {
        return -1;
    }
    tp_transport_context_t tctx;
    tp_transport_context_init(&tctx);
    tp_transport_context_set_dir(&tctx, fx->dirs.transport);
    if (tp_transport_init(&fx->t, &tctx) < 0 ||
        tp_transport_add_publication(&fx->pub, fx->t, "aeron:ipc", 1000, 0) < 0 ||
        tp_transport_add_subscription(&fx->sub, fx->t, "aeron:ipc", 1000, NULL, NULL, NULL, NULL, 0) < 0)
    {
        fprintf(stderr, "client transport: %s\n", tp_errmsg());
        return -1;
    }
    return 0;
}

static void fx_close(fx_t *fx)
{
    tp_subscription_close(fx->sub);
    tp_publication_close(fx->pub);
    tp_transport_close(fx->t);
    tp_driver_close(fx->driver);
    tp_driver_config_close(fx->cfg);
    tpc_driver_release(fx->hold);
    tpc_dirs_remove(&fx->dirs);
}

static void fx_pump_once(fx_t *fx)
{
    uint64_t now = tp_clock_mono_ns();
    if (NULL != fx->driver)
    {
        tp_driver_do_work(fx->driver);
    }
    tp_transport_do_work(fx->t);
    tp_subscription_poll(fx->sub, on_control, fx, 64);
    for (int i = 0; i < FX_MAX_LEASES; i++)
    {
        if (NULL != fx->leases[i])
        {
            tp_driver_lease_event_t ev;
            tp_driver_lease_do_work(fx->leases[i], fx->pub, now, &ev);
            if (TP_LEASE_EVENT_NONE != ev)
            {
                fx->last_event[i] = ev;
                fx->events[i][ev]++;
            }
        }
    }
}

#define FX_PUMP_UNTIL(fx, cond, ms)                                                  \
    do                                                                               \
    {                                                                                \
        uint64_t fx_deadline_ = tp_clock_mono_ns() + (uint64_t)(ms) * 1000000ull;    \
        while (!(cond) && tp_clock_mono_ns() < fx_deadline_)                         \
        {                                                                            \
            fx_pump_once(fx);                                                        \
            tp_sleep_ns(200000);                                                     \
        }                                                                            \
    } while (0)

static void fx_pump_for(fx_t *fx, uint64_t ms)
{
    uint64_t deadline = tp_clock_mono_ns() + ms * 1000000ull;
    while (tp_clock_mono_ns() < deadline)
    {
        fx_pump_once(fx);
        tp_sleep_ns(200000);
    }
}

static void fx_add_lease(fx_t *fx, int slot, tp_driver_lease_t *lease, uint32_t stream, uint32_t client, uint8_t role)
{
    tp_driver_lease_init(lease, stream, client, role);
    lease->keepalive_interval_ns = 50000000ull;
    lease->backoff_min_ns = 20000000ull;
    fx->leases[slot] = lease;
}

static const fx_response_t *fx_find_response(const fx_t *fx, int64_t correlation_id)
{
    for (size_t i = 0; i < fx->response_count; i++)
    {
        if (fx->responses[i].correlation_id == correlation_id)
        {
            return &fx->responses[i];
        }
    }
    return NULL;
}

/* Send a hand-made attach request; returns the response (or NULL after 2 s). */
static const fx_response_t *fx_raw_attach(fx_t *fx, int64_t corr, uint32_t stream, uint32_t client, uint8_t role,
    uint8_t publish_mode, uint8_t hugepages, uint32_t layout, uint32_t desired_node)
{
    uint8_t buf[256];
    tp_sbe_driver_shm_attach_request_t m = { 0 };
    tp_sbe_driver_shm_attach_request_wrap_and_apply_header(&m, buf, 0, sizeof(buf));
    tp_sbe_driver_shm_attach_request_set_correlation_id(&m, corr);
    tp_sbe_driver_shm_attach_request_set_stream_id(&m, stream);
    tp_sbe_driver_shm_attach_request_set_client_id(&m, client);
    tp_sbe_driver_shm_attach_request_set_role(&m, (tp_sbe_driver_role_t)role);
    tp_sbe_driver_shm_attach_request_set_expected_layout_version(&m, layout);
    tp_sbe_driver_shm_attach_request_set_publish_mode(&m, (tp_sbe_driver_publish_mode_t)publish_mode);
    tp_sbe_driver_shm_attach_request_set_require_hugepages(&m, (tp_sbe_driver_hugepages_policy_t)hugepages);
    tp_sbe_driver_shm_attach_request_set_desired_node_id(&m, desired_node);
    tp_sbe_driver_shm_attach_request_zero_padding(&m);
    tp_publication_offer(fx->pub, buf, TP_SBE_MESSAGE_HEADER_LENGTH + tp_sbe_driver_shm_attach_request_encoded_length(&m),
        NULL, NULL);
    FX_PUMP_UNTIL(fx, NULL != fx_find_response(fx, corr), 2000);
    return fx_find_response(fx, corr);
}

static uint64_t reject_count(const fx_t *fx, tp_driver_reject_t why)
{
    tp_driver_stats_t s;
    tp_driver_stats(fx->driver, &s);
    return s.rejects_by_reason[why];
}

static size_t count_epoch_dirs(const fx_t *fx, uint32_t stream)
{
    char user[64];
    tp_shm_user_name(user, sizeof(user));
    char path[1024];
    snprintf(path, sizeof(path), "%s/tensorpool-%s/default/%u", fx->dirs.shm, user, stream);
    DIR *d = opendir(path);
    size_t n = 0;
    if (NULL == d)
    {
        return 0;
    }
    struct dirent *e;
    while (NULL != (e = readdir(d)))
    {
        n += e->d_name[0] >= '0' && e->d_name[0] <= '9';
    }
    closedir(d);
    return n;
}

/* ------------------------------------------------------------------------- */

static void test_config_errors(void)
{
    tp_driver_config_t *c = NULL;
    TP_ASSERT_OK(tp_driver_config_init(&c));
    static const char unknown[] = "[driver]\ncontrol_stream_id = 1000\ncontrl_stream_id = 5\n";
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_driver_config_load_string(c, unknown, sizeof(unknown) - 1, "u.toml"));
    TP_ASSERT_MSG(NULL != strstr(tp_errmsg(), "u.toml:3") && NULL != strstr(tp_errmsg(), "contrl_stream_id"), "%s",
        tp_errmsg());
    static const char stride[] = "[profiles.p]\nheader_nslots = 64\npayload_pools = [{ pool_id = 1, stride_bytes = 100 }]\n";
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_driver_config_load_string(c, stride, sizeof(stride) - 1, "s.toml"));
    TP_ASSERT_MSG(NULL != strstr(tp_errmsg(), "multiple of 64"), "%s", tp_errmsg());
    static const char nslots[] = "[profiles.p]\nheader_nslots = 100\npayload_pools = [{ pool_id = 1, stride_bytes = 64 }]\n";
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_driver_config_load_string(c, nslots, sizeof(nslots) - 1, "n.toml"));
    TP_ASSERT_MSG(NULL != strstr(tp_errmsg(), "power of two"), "%s", tp_errmsg());
    static const char noprof[] = "[driver]\ninstance_id = \"x\"\n";
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_driver_config_load_string(c, noprof, sizeof(noprof) - 1, "p.toml"));
    TP_ASSERT_MSG(NULL != strstr(tp_errmsg(), "at least one profile"), "%s", tp_errmsg());
    static const char overlap[] = "[driver]\nstream_id_range = \"100-200\"\ndescriptor_stream_id_range = [150, 300]\n"
                                  "[profiles.p]\npayload_pools = [{ pool_id = 1, stride_bytes = 64 }]\n";
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_driver_config_load_string(c, overlap, sizeof(overlap) - 1, "o.toml"));
    TP_ASSERT_MSG(NULL != strstr(tp_errmsg(), "overlaps"), "%s", tp_errmsg());
    static const char ctrl_in_range[] = "[driver]\nstream_id_range = \"900-1100\"\n"
                                        "[profiles.p]\npayload_pools = [{ pool_id = 1, stride_bytes = 64 }]\n";
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_driver_config_load_string(c, ctrl_in_range, sizeof(ctrl_in_range) - 1, "c.toml"));
    static const char badstream[] = "[profiles.p]\npayload_pools = [{ pool_id = 1, stride_bytes = 64 }]\n"
                                    "[streams.a]\nstream_id = 5\nprofile = \"q\"\n";
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_driver_config_load_string(c, badstream, sizeof(badstream) - 1, "b.toml"));
    TP_ASSERT_MSG(NULL != strstr(tp_errmsg(), "b.toml:3") && NULL != strstr(tp_errmsg(), "\"q\""), "%s", tp_errmsg());
    static const char dyn[] = "[policies]\nallow_dynamic_streams = true\n"
                              "[profiles.p]\npayload_pools = [{ pool_id = 1, stride_bytes = 64 }]\n";
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_driver_config_load_string(c, dyn, sizeof(dyn) - 1, "d.toml"));
    TP_ASSERT_MSG(NULL != strstr(tp_errmsg(), "stream_id_range"), "%s", tp_errmsg());
    static const char mode[] = "[shm]\npermissions_mode = \"666\"\n"
                               "[profiles.p]\npayload_pools = [{ pool_id = 1, stride_bytes = 64 }]\n";
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_driver_config_load_string(c, mode, sizeof(mode) - 1, "m.toml"));
    static const char reuse[] = "[policies]\nreuse_existing_shm = true\n"
                                "[profiles.p]\npayload_pools = [{ pool_id = 1, stride_bytes = 64 }]\n";
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_driver_config_load_string(c, reuse, sizeof(reuse) - 1, "r.toml"));
    static const char sup[] = "[supervisor]\nper_consumer_descriptor_base = 31000\nper_consumer_descriptor_range = 100\n"
                              "force_mode = 2\nconsumer_stale_ms = 3000\n"
                              "[profiles.p]\npayload_pools = [{ pool_id = 1, stride_bytes = 64 }]\n";
    TP_ASSERT_OK(tp_driver_config_load_string(c, sup, sizeof(sup) - 1, "sup.toml"));
    char printed[8192];
    TP_ASSERT(tp_driver_config_print(c, printed, sizeof(printed)) > 0);
    TP_ASSERT_MSG(NULL != strstr(printed, "descriptor_stream_id_range = \"31000-31099\"") &&
            NULL != strstr(printed, "force_mode = 2"),
        "%s", printed);
    static const char sup_bad[] = "[supervisor]\nforce_mode = 7\n[profiles.p]\npayload_pools = [{ pool_id = 1, stride_bytes = 64 }]\n";
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_driver_config_load_string(c, sup_bad, sizeof(sup_bad) - 1, "sb.toml"));
    static const char sup_ctl[] = "[supervisor]\ncontrol_stream_id = 4000\n[profiles.p]\npayload_pools = [{ pool_id = 1, stride_bytes = 64 }]\n";
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_driver_config_load_string(c, sup_ctl, sizeof(sup_ctl) - 1, "sc.toml"));
    TP_ASSERT_MSG(NULL != strstr(tp_errmsg(), "inside the driver"), "%s", tp_errmsg());
    /* a failed load leaves the configuration unchanged */
    TP_ASSERT_EQ_U64(1000, tp_driver_config_control_stream_id(c));
    tp_driver_config_close(c);
}

static void test_config_env_and_defaults(void)
{
    tp_driver_config_t *c = NULL;
    TP_ASSERT_OK(tp_driver_config_init(&c));
    static const char text[] = "[driver]\ncontrol_stream_id = 1500\n"
                               "[profiles.p]\npayload_pools = [{ pool_id = 1, stride_bytes = 64 }]\n";
    TP_ASSERT_OK(tp_driver_config_load_string(c, text, sizeof(text) - 1, "e.toml"));
    TP_ASSERT_EQ_U64(1500, tp_driver_config_control_stream_id(c));
    TP_ASSERT_EQ_U64(1500, tp_driver_config_announce_stream_id(c)); /* spec §17: announce defaults to control */
    setenv("DRIVER_CONTROL_STREAM_ID", "1600", 1);
    setenv("DRIVER_ANNOUNCE_STREAM_ID", "1601", 1);
    TP_ASSERT_OK(tp_driver_config_load_string(c, text, sizeof(text) - 1, "e.toml"));
    unsetenv("DRIVER_CONTROL_STREAM_ID");
    unsetenv("DRIVER_ANNOUNCE_STREAM_ID");
    TP_ASSERT_EQ_U64(1600, tp_driver_config_control_stream_id(c)); /* the environment wins over the file */
    TP_ASSERT_EQ_U64(1601, tp_driver_config_announce_stream_id(c));
    setenv("DRIVER_QOS_STREAM_ID", "-1", 1);
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_driver_config_load_string(c, text, sizeof(text) - 1, "e.toml"));
    unsetenv("DRIVER_QOS_STREAM_ID");
    TP_ASSERT_MSG(NULL != strstr(tp_errmsg(), "DRIVER_QOS_STREAM_ID"), "%s", tp_errmsg());
    char buf[8192];
    int n = tp_driver_config_print(c, buf, sizeof(buf));
    TP_ASSERT(n > 0 && (size_t)n < sizeof(buf));
    TP_ASSERT(NULL != strstr(buf, "control_stream_id = 1600"));
    /* the printed configuration loads back to the same values */
    tp_driver_config_t *c2 = NULL;
    TP_ASSERT_OK(tp_driver_config_init(&c2));
    TP_ASSERT_OK(tp_driver_config_load_string(c2, buf, (size_t)n, "printed.toml"));
    TP_ASSERT_EQ_U64(1600, tp_driver_config_control_stream_id(c2));
    tp_driver_config_close(c2);
    tp_driver_config_close(c);
}

/*
 * Found by fuzz_driver_config: tp_driver_config_print wrote strings and
 * table names verbatim, so a value holding a quote, a backslash or a control
 * character (or a profile name that is not a bare key) printed TOML that did
 * not load back. Strings are escaped and such names quoted now.
 */
static void test_config_print_escapes(void)
{
    static const char text[] = "[driver]\n"
                               "instance_id = \"a\\\"b\\\\c\\nd\\te\\u0001f\\u007Fg\\fh\\ri\\bj\u00e9\"\n"
                               "[shm]\n"
                               "namespace = \"ns\"\n"
                               "allowed_base_dirs = [\"/dev/shm\", \"/tmp/x\\\"y\"]\n"
                               "[profiles.\"cam.1 x\"]\n"
                               "payload_pools = [{ pool_id = 1, stride_bytes = 64 }]\n"
                               "[streams.\"s\\\"t\"]\n"
                               "stream_id = 10000\n"
                               "profile = \"cam.1 x\"\n";
    tp_driver_config_t *c = NULL;
    TP_ASSERT_OK(tp_driver_config_init(&c));
    TP_ASSERT_OK(tp_driver_config_load_string(c, text, sizeof(text) - 1, "esc.toml"));
    static char buf[16384];
    static char again[16384];
    int n = tp_driver_config_print(c, buf, sizeof(buf));
    TP_ASSERT(n > 0 && (size_t)n < sizeof(buf));
    TP_ASSERT_MSG(NULL != strstr(buf, "instance_id = \"a\\\"b\\\\c\\nd\\te\\u0001f\\u007Fg\\fh\\ri\\bj\u00e9\"\n"), "%s",
        buf);
    TP_ASSERT_MSG(NULL != strstr(buf, "[profiles.\"cam.1 x\"]\n"), "%s", buf);
    TP_ASSERT_MSG(NULL != strstr(buf, "[streams.\"s\\\"t\"]\n"), "%s", buf);
    tp_driver_config_t *c2 = NULL;
    TP_ASSERT_OK(tp_driver_config_init(&c2));
    TP_ASSERT_OK(tp_driver_config_load_string(c2, buf, (size_t)n, "printed.toml"));
    TP_ASSERT_EQ_I64(n, tp_driver_config_print(c2, again, sizeof(again)));
    TP_ASSERT_STREQ(buf, again);
    tp_driver_config_close(c2);
    tp_driver_config_close(c);
}

static void test_attach_producer_and_consumer(void)
{
    fx_t fx;
    TP_ASSERT_OK(fx_init(&fx));
    tp_driver_lease_t prod;
    tp_driver_lease_t cons;
    fx_add_lease(&fx, 0, &prod, 10000, 0, TP_LEASE_ROLE_PRODUCER);
    fx_add_lease(&fx, 1, &cons, 10000, 0, TP_LEASE_ROLE_CONSUMER);
    FX_PUMP_UNTIL(&fx, TP_LEASE_ATTACHED == prod.state && TP_LEASE_ATTACHED == cons.state, 3000);
    TP_ASSERT_MSG(TP_LEASE_ATTACHED == prod.state, "producer %s: %s", tp_driver_lease_state_name(prod.state),
        prod.last_error);
    TP_ASSERT(TP_LEASE_ATTACHED == cons.state);
    TP_ASSERT_EQ_U64(10000, prod.grant.stream_id);
    TP_ASSERT_EQ_U64(64, prod.grant.header_nslots);
    TP_ASSERT_EQ_U64(2, prod.grant.pool_count);
    TP_ASSERT_EQ_U64(1, prod.grant.layout_version);
    TP_ASSERT(prod.grant.node_id >= 1 && prod.grant.node_id <= 1023);
    TP_ASSERT(cons.grant.node_id != prod.grant.node_id);
    TP_ASSERT(prod.grant.lease_id != cons.grant.lease_id);
    /* both leases see the same epoch (whoever came first) and the producer's attach made the newest */
    TP_ASSERT(prod.grant.epoch >= 1);
    /* the regions are in the canonical layout and map with full validation */
    TP_ASSERT(NULL != strstr(prod.grant.header_uri, "/default/10000/"));
    tp_shm_allowlist_t *allow = NULL;
    const char *dirs[1] = { fx.dirs.shm };
    TP_ASSERT_OK(tp_shm_allowlist_init(&allow, dirs, 1));
    tp_shm_region_t *ring = NULL;
    tp_shm_region_params_t expected = { .region_type = TP_SHM_REGION_HEADER_RING, .layout_version = 1,
        .epoch = prod.grant.epoch, .stream_id = 10000, .nslots = 64 };
    TP_ASSERT_OK(tp_shm_region_map_uri(&ring, allow, prod.grant.header_uri, &expected));
    tp_shm_region_close(ring);
    tp_shm_allowlist_close(allow);
    /* the driver announces the stream with the producer's client id */
    FX_PUMP_UNTIL(&fx, fx.announces > 0 && fx.announce_producer_id == prod.client_id, 2000);
    TP_ASSERT_EQ_U64(prod.client_id, fx.announce_producer_id);
    TP_ASSERT_EQ_U64(10000, fx.announce_stream_id);
    /* keepalives keep both leases alive well past the expiry (3 x 100 ms) */
    fx_pump_for(&fx, 600);
    TP_ASSERT(TP_LEASE_ATTACHED == prod.state && TP_LEASE_ATTACHED == cons.state);
    tp_driver_stats_t s;
    TP_ASSERT_OK(tp_driver_stats(fx.driver, &s));
    TP_ASSERT(s.keepalives >= 10);
    TP_ASSERT_EQ_U64(2, s.active_leases);
    TP_ASSERT_EQ_U64(0, s.leases_expired);
    fx_close(&fx);
}

static void test_exclusive_producer_and_epochs(void)
{
    fx_t fx;
    TP_ASSERT_OK(fx_init(&fx));
    tp_driver_lease_t p1;
    fx_add_lease(&fx, 0, &p1, 10000, 0, TP_LEASE_ROLE_PRODUCER);
    FX_PUMP_UNTIL(&fx, TP_LEASE_ATTACHED == p1.state, 3000);
    TP_ASSERT(TP_LEASE_ATTACHED == p1.state);
    uint64_t epoch1 = p1.grant.epoch;
    /* a second producer is refused, with the reason counted */
    const fx_response_t *r = fx_raw_attach(&fx, 77, 10000, 4242, 1, 1, 0, 0, UINT32_MAX);
    TP_ASSERT(NULL != r);
    TP_ASSERT_EQ_I64(TP_SBE_DRIVER_RESPONSE_CODE_REJECTED, r->code);
    TP_ASSERT_EQ_U64(UINT32_MAX, r->node_id);
    TP_ASSERT_EQ_U64(1, reject_count(&fx, TP_DRIVER_REJECT_PRODUCER_ACTIVE));
    /* detach: OK, a DETACHED notice, then a new epoch announced with no producer */
    tp_driver_lease_detach(&p1, fx.pub, tp_clock_mono_ns());
    FX_PUMP_UNTIL(&fx, TP_LEASE_CLOSED == p1.state && fx.announce_epoch > epoch1, 2000);
    TP_ASSERT(TP_LEASE_CLOSED == p1.state);
    TP_ASSERT_EQ_I64(TP_SBE_DRIVER_RESPONSE_CODE_OK, fx.last_detach_code);
    TP_ASSERT_EQ_U64(1, fx.last_revoke_reason); /* DETACHED */
    TP_ASSERT(fx.announce_epoch > epoch1);
    TP_ASSERT_EQ_U64(0, fx.announce_producer_id);
    /* a new producer gets a newer epoch still */
    tp_driver_lease_t p2;
    fx_add_lease(&fx, 1, &p2, 10000, 0, TP_LEASE_ROLE_PRODUCER);
    FX_PUMP_UNTIL(&fx, TP_LEASE_ATTACHED == p2.state, 3000);
    TP_ASSERT(TP_LEASE_ATTACHED == p2.state);
    TP_ASSERT(p2.grant.epoch > fx.announce_epoch - 1 && p2.grant.epoch > epoch1 + 1);
    /* detaching an unknown lease is refused */
    tp_driver_lease_t ghost = p1;
    ghost.state = TP_LEASE_ATTACHED;
    fx.leases[2] = NULL;
    tp_driver_lease_detach(&ghost, fx.pub, tp_clock_mono_ns());
    uint64_t before = fx.detach_responses;
    FX_PUMP_UNTIL(&fx, fx.detach_responses > before, 2000);
    TP_ASSERT_EQ_I64(TP_SBE_DRIVER_RESPONSE_CODE_REJECTED, fx.last_detach_code);
    fx_close(&fx);
}

static void test_expiry_revokes_and_bumps_epoch(void)
{
    fx_t fx;
    TP_ASSERT_OK(fx_init(&fx));
    tp_driver_lease_t prod;
    tp_driver_lease_t cons;
    fx_add_lease(&fx, 0, &prod, 10000, 0, TP_LEASE_ROLE_PRODUCER);
    fx_add_lease(&fx, 1, &cons, 10000, 0, TP_LEASE_ROLE_CONSUMER);
    FX_PUMP_UNTIL(&fx, TP_LEASE_ATTACHED == prod.state && TP_LEASE_ATTACHED == cons.state, 3000);
    TP_ASSERT(TP_LEASE_ATTACHED == prod.state);
    uint64_t epoch = prod.grant.epoch;
    /* the producer "dies": no more keepalives */
    fx.leases[0] = NULL;
    FX_PUMP_UNTIL(&fx, fx.events[1][TP_LEASE_EVENT_PRODUCER_LOST] > 0 && fx.announce_epoch > epoch, 2000);
    TP_ASSERT_EQ_U64(1, fx.events[1][TP_LEASE_EVENT_PRODUCER_LOST]);
    TP_ASSERT_EQ_U64(2, fx.last_revoke_reason); /* EXPIRED */
    TP_ASSERT(fx.announce_epoch > epoch);
    TP_ASSERT(TP_LEASE_ATTACHED == cons.state); /* an unrelated lease is not torn down */
    tp_driver_stats_t s;
    TP_ASSERT_OK(tp_driver_stats(fx.driver, &s));
    TP_ASSERT_EQ_U64(1, s.leases_expired);
    /* a keepalive for the dead lease gets one "unknown lease" notice; the client reattaches */
    fx.leases[0] = &prod;
    FX_PUMP_UNTIL(&fx, fx.events[0][TP_LEASE_EVENT_LOST] > 0 && TP_LEASE_ATTACHED == prod.state, 3000);
    TP_ASSERT(fx.events[0][TP_LEASE_EVENT_LOST] > 0);
    TP_ASSERT(TP_LEASE_ATTACHED == prod.state);
    TP_ASSERT(prod.grant.epoch > epoch + 1);
    fx_close(&fx);
}

static void test_rejections_with_reasons(void)
{
    fx_t fx;
    TP_ASSERT_OK(fx_init(&fx));
    const fx_response_t *r;
    /* unknown stream, REQUIRE_EXISTING */
    r = fx_raw_attach(&fx, 1, 555, 9, 2, 1, 0, 0, UINT32_MAX);
    TP_ASSERT(NULL != r && TP_SBE_DRIVER_RESPONSE_CODE_INVALID_PARAMS == r->code);
    TP_ASSERT_MSG(NULL != strstr(r->error, "555"), "%s", r->error);
    TP_ASSERT_EQ_U64(1, reject_count(&fx, TP_DRIVER_REJECT_UNKNOWN_STREAM));
    /* dynamic: outside the range refused, inside created */
    r = fx_raw_attach(&fx, 2, 30000, 9, 1, 2, 0, 0, UINT32_MAX);
    TP_ASSERT(NULL != r && TP_SBE_DRIVER_RESPONSE_CODE_INVALID_PARAMS == r->code);
    r = fx_raw_attach(&fx, 3, 20005, 9, 2, 2, 0, 0, UINT32_MAX);
    TP_ASSERT_MSG(NULL != r && TP_SBE_DRIVER_RESPONSE_CODE_OK == r->code, "%s", NULL != r ? r->error : "no response");
    TP_ASSERT_EQ_U64(1, count_epoch_dirs(&fx, 20005));
    /* the same request again (a retry): the same lease */
    uint64_t lease = r->lease_id;
    fx.response_count = 0;
    r = fx_raw_attach(&fx, 3, 20005, 9, 2, 2, 0, 0, UINT32_MAX);
    TP_ASSERT(NULL != r && TP_SBE_DRIVER_RESPONSE_CODE_OK == r->code && lease == r->lease_id);
    /* the same client id with another correlation id on that stream and role: refused */
    r = fx_raw_attach(&fx, 4, 20005, 9, 2, 2, 0, 0, UINT32_MAX);
    TP_ASSERT(NULL != r && TP_SBE_DRIVER_RESPONSE_CODE_REJECTED == r->code);
    TP_ASSERT_STREQ("client_id already attached", r->error);
    TP_ASSERT_EQ_U64(1, reject_count(&fx, TP_DRIVER_REJECT_CLIENT_ID_IN_USE));
    /* bad role, client id 0, bad publish mode, hugepages, layout version */
    r = fx_raw_attach(&fx, 5, 10000, 9, 7, 1, 0, 0, UINT32_MAX);
    TP_ASSERT(NULL != r && TP_SBE_DRIVER_RESPONSE_CODE_INVALID_PARAMS == r->code);
    TP_ASSERT_EQ_U64(1, reject_count(&fx, TP_DRIVER_REJECT_BAD_ROLE));
    r = fx_raw_attach(&fx, 6, 10000, 0, 2, 1, 0, 0, UINT32_MAX);
    TP_ASSERT(NULL != r && TP_SBE_DRIVER_RESPONSE_CODE_INVALID_PARAMS == r->code);
    r = fx_raw_attach(&fx, 7, 10000, 11, 2, 9, 0, 0, UINT32_MAX);
    TP_ASSERT(NULL != r && TP_SBE_DRIVER_RESPONSE_CODE_INVALID_PARAMS == r->code);
    TP_ASSERT_EQ_U64(2, reject_count(&fx, TP_DRIVER_REJECT_BAD_PARAMS));
    r = fx_raw_attach(&fx, 8, 10000, 12, 2, 1, 2, 0, UINT32_MAX);
    TP_ASSERT(NULL != r && TP_SBE_DRIVER_RESPONSE_CODE_REJECTED == r->code);
    TP_ASSERT_EQ_U64(1, reject_count(&fx, TP_DRIVER_REJECT_HUGEPAGES));
    r = fx_raw_attach(&fx, 9, 10000, 13, 2, 1, 0, 99, UINT32_MAX);
    TP_ASSERT(NULL != r && TP_SBE_DRIVER_RESPONSE_CODE_REJECTED == r->code);
    TP_ASSERT_EQ_U64(1, reject_count(&fx, TP_DRIVER_REJECT_LAYOUT_VERSION));
    /* desired node ids: granted once, then unavailable (in use), never outside 1..1023 */
    r = fx_raw_attach(&fx, 10, 10000, 14, 2, 1, 0, 0, 500);
    TP_ASSERT(NULL != r && TP_SBE_DRIVER_RESPONSE_CODE_OK == r->code && 500 == r->node_id);
    r = fx_raw_attach(&fx, 11, 10000, 15, 2, 1, 0, 0, 500);
    TP_ASSERT(NULL != r && TP_SBE_DRIVER_RESPONSE_CODE_REJECTED == r->code && UINT32_MAX == r->node_id);
    r = fx_raw_attach(&fx, 12, 10000, 16, 2, 1, 0, 0, 5000);
    TP_ASSERT(NULL != r && TP_SBE_DRIVER_RESPONSE_CODE_REJECTED == r->code);
    TP_ASSERT_EQ_U64(2, reject_count(&fx, TP_DRIVER_REJECT_NODE_ID));
    /* every lease slot taken (policies.max_leases = 6 here): REJECTED, ids_exhausted */
    int64_t corr = 100;
    uint32_t client = 100;
    const fx_response_t *last = NULL;
    for (int i = 0; i < 8; i++)
    {
        last = fx_raw_attach(&fx, corr++, 10000, client++, 2, 1, 0, 0, UINT32_MAX);
        TP_ASSERT(NULL != last);
    }
    TP_ASSERT_EQ_I64(TP_SBE_DRIVER_RESPONSE_CODE_REJECTED, last->code);
    TP_ASSERT_MSG(NULL != strstr(last->error, "no lease slot"), "%s", last->error);
    TP_ASSERT(reject_count(&fx, TP_DRIVER_REJECT_IDS_EXHAUSTED) >= 1);
    /* a newer schema version: UNSUPPORTED */
    uint8_t buf[64] = { 0 };
    tp_sbe_driver_shm_attach_request_t m;
    tp_sbe_driver_shm_attach_request_wrap_and_apply_header(&m, buf, 0, sizeof(buf));
    tp_sbe_driver_shm_attach_request_set_correlation_id(&m, 13);
    buf[6] = 2; /* version */
    tp_publication_offer(fx.pub, buf, 8 + 27, NULL, NULL);
    FX_PUMP_UNTIL(&fx, NULL != fx_find_response(&fx, 13), 2000);
    r = fx_find_response(&fx, 13);
    TP_ASSERT(NULL != r && TP_SBE_DRIVER_RESPONSE_CODE_UNSUPPORTED == r->code);
    fx_close(&fx);
}

static void test_malformed_messages_counted(void)
{
    fx_t fx;
    TP_ASSERT_OK(fx_init(&fx));
    uint8_t buf[64];
    /* every truncation of a valid attach request and of a keepalive: dropped and counted, never answered */
    tp_sbe_driver_shm_attach_request_t m = { 0 };
    tp_sbe_driver_shm_attach_request_wrap_and_apply_header(&m, buf, 0, sizeof(buf));
    tp_sbe_driver_shm_attach_request_set_correlation_id(&m, 99);
    size_t full = TP_SBE_MESSAGE_HEADER_LENGTH + tp_sbe_driver_shm_attach_request_encoded_length(&m);
    for (size_t len = 8; len < full; len++)
    {
        tp_publication_offer(fx.pub, buf, len, NULL, NULL);
    }
    fx_pump_for(&fx, 200);
    tp_driver_stats_t s;
    TP_ASSERT_OK(tp_driver_stats(fx.driver, &s));
    TP_ASSERT_EQ_U64(full - 8, s.malformed);
    TP_ASSERT(NULL == fx_find_response(&fx, 99));
    /* random bytes under the driver schema header: no crash, no response */
    srand(7);
    for (int i = 0; i < 500; i++)
    {
        for (size_t k = 0; k < sizeof(buf); k++)
        {
            buf[k] = (uint8_t)rand();
        }
        buf[4] = 0x85; /* schema 901 */
        buf[5] = 0x03;
        tp_publication_offer(fx.pub, buf, 8 + (size_t)(rand() % 56), NULL, NULL);
        if (0 == i % 50)
        {
            fx_pump_once(&fx);
        }
    }
    fx_pump_for(&fx, 200);
    TP_ASSERT(NULL != fx.driver);
    tp_driver_lease_t p;
    fx_add_lease(&fx, 0, &p, 10000, 0, TP_LEASE_ROLE_PRODUCER);
    FX_PUMP_UNTIL(&fx, TP_LEASE_ATTACHED == p.state, 3000);
    TP_ASSERT(TP_LEASE_ATTACHED == p.state); /* still serving */
    fx_close(&fx);
}

static void test_gc_keeps_newest_epochs(void)
{
    fx_t fx;
    TP_ASSERT_OK(fx_init(&fx));
    for (int i = 0; i < 5; i++)
    {
        tp_driver_lease_t p;
        fx_add_lease(&fx, 0, &p, 10000, 0, TP_LEASE_ROLE_PRODUCER);
        FX_PUMP_UNTIL(&fx, TP_LEASE_ATTACHED == p.state, 3000);
        TP_ASSERT(TP_LEASE_ATTACHED == p.state);
        tp_driver_lease_detach(&p, fx.pub, tp_clock_mono_ns());
        FX_PUMP_UNTIL(&fx, TP_LEASE_CLOSED == p.state, 2000);
        fx.leases[0] = NULL;
    }
    /* 10 epochs were created (attach + detach each time); GC runs once a second and keeps 2 */
    FX_PUMP_UNTIL(&fx, count_epoch_dirs(&fx, 10000) <= 2, 3000);
    TP_ASSERT_EQ_U64(2, count_epoch_dirs(&fx, 10000));
    tp_driver_stats_t s;
    TP_ASSERT_OK(tp_driver_stats(fx.driver, &s));
    TP_ASSERT(s.epochs_created >= 10);
    TP_ASSERT_EQ_U64(s.epochs_created - 2, s.epochs_collected);
    fx_close(&fx);
}

static void test_shutdown_request_and_restart(void)
{
    fx_t fx;
    TP_ASSERT_OK(fx_init(&fx));
    tp_driver_lease_t p;
    fx_add_lease(&fx, 0, &p, 10000, 0, TP_LEASE_ROLE_PRODUCER);
    FX_PUMP_UNTIL(&fx, TP_LEASE_ATTACHED == p.state, 3000);
    TP_ASSERT(TP_LEASE_ATTACHED == p.state);
    uint64_t epoch = p.grant.epoch;
    uint8_t buf[128];
    tp_sbe_driver_shm_driver_shutdown_request_t m = { 0 };
    /* a wrong token is ignored */
    tp_sbe_driver_shm_driver_shutdown_request_wrap_and_apply_header(&m, buf, 0, sizeof(buf));
    tp_sbe_driver_shm_driver_shutdown_request_set_correlation_id(&m, 1);
    tp_sbe_driver_shm_driver_shutdown_request_set_reason(&m, TP_SBE_DRIVER_SHUTDOWN_REASON_ADMIN);
    tp_sbe_driver_shm_driver_shutdown_request_put_token(&m, (const uint8_t *)"guess", 5);
    tp_sbe_driver_shm_driver_shutdown_request_put_error_message(&m, (const uint8_t *)"", 0);
    tp_publication_offer(fx.pub, buf, 8 + tp_sbe_driver_shm_driver_shutdown_request_encoded_length(&m), NULL, NULL);
    fx_pump_for(&fx, 300);
    TP_ASSERT(!tp_driver_is_terminated(fx.driver));
    TP_ASSERT_EQ_U64(0, fx.shutdowns);
    /* the right token: drain, revoke, ShmDriverShutdown; the client sees its lease lost */
    tp_sbe_driver_shm_driver_shutdown_request_wrap_and_apply_header(&m, buf, 0, sizeof(buf));
    tp_sbe_driver_shm_driver_shutdown_request_set_correlation_id(&m, 2);
    tp_sbe_driver_shm_driver_shutdown_request_set_reason(&m, TP_SBE_DRIVER_SHUTDOWN_REASON_ADMIN);
    tp_sbe_driver_shm_driver_shutdown_request_put_token(&m, (const uint8_t *)"s3cret", 6);
    tp_sbe_driver_shm_driver_shutdown_request_put_error_message(&m, (const uint8_t *)"", 0);
    tp_publication_offer(fx.pub, buf, 8 + tp_sbe_driver_shm_driver_shutdown_request_encoded_length(&m), NULL, NULL);
    FX_PUMP_UNTIL(&fx, tp_driver_is_terminated(fx.driver) && fx.shutdowns > 0, 2000);
    TP_ASSERT(tp_driver_is_terminated(fx.driver));
    TP_ASSERT_EQ_U64(1, fx.shutdowns);
    TP_ASSERT(fx.events[0][TP_LEASE_EVENT_LOST] > 0);
    /* a new driver instance: the client reattaches by itself to a strictly newer epoch (§10) */
    tp_driver_close(fx.driver);
    fx.driver = NULL;
    tp_driver_config_close(fx.cfg);
    fx.cfg = NULL;
    TP_ASSERT_OK(fx_start_driver(&fx));
    FX_PUMP_UNTIL(&fx, TP_LEASE_ATTACHED == p.state && p.grant.epoch > epoch, 5000);
    TP_ASSERT_MSG(TP_LEASE_ATTACHED == p.state, "%s: %s", tp_driver_lease_state_name(p.state), p.last_error);
    TP_ASSERT(p.grant.epoch > epoch);
    fx_close(&fx);
}

int main(void)
{
    TP_RUN(test_config_errors);
    TP_RUN(test_config_env_and_defaults);
    TP_RUN(test_config_print_escapes);
    TP_RUN(test_attach_producer_and_consumer);
    TP_RUN(test_exclusive_producer_and_epochs);
    TP_RUN(test_expiry_revokes_and_bumps_epoch);
    TP_RUN(test_rejections_with_reasons);
    TP_RUN(test_malformed_messages_counted);
    TP_RUN(test_gc_keeps_newest_epochs);
    TP_RUN(test_shutdown_request_and_restart);
    return tp_test_finish();
}
