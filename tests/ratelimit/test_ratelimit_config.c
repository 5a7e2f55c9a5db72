/*
 * Rate limiter configuration (RateLimiter spec §8): defaults, the strict TOML
 * loader (line-numbered errors), forwarding preconditions, printing.
 */
#include <string.h>

#include "common/tp_error.h"
#include "ratelimit/tp_ratelimit.h"
#include "tp_test.h"

static int load(tp_ratelimit_config_t *c, const char *text)
{
    tp_ratelimit_config_init(c);
    return tp_ratelimit_config_load_string(c, text, strlen(text), "rl.toml");
}

static const char minimal[] = "[rate_limiter]\n"
                              "instance_id = \"rl-1\"\n"
                              "descriptor_channel = \"aeron:ipc\"\n"
                              "descriptor_stream_id = 1101\n"
                              "\n"
                              "[[mappings]]\n"
                              "source_stream_id = 10000\n"
                              "dest_stream_id = 10001\n";

/* §8: required keys and the defaults of the optional ones. */
static void test_minimal_and_defaults(void)
{
    tp_ratelimit_config_t c;
    TP_ASSERT_OK(load(&c, minimal));
    TP_ASSERT_STREQ("rl-1", c.instance_id);
    TP_ASSERT_STREQ("aeron:ipc", c.descriptor_channel);
    TP_ASSERT_EQ_U64(1101, c.descriptor_stream_id);
    TP_ASSERT(c.forward_metadata);
    TP_ASSERT(!c.forward_progress);
    TP_ASSERT(!c.forward_qos);
    TP_ASSERT_EQ_U64(0, c.max_rate_hz);
    TP_ASSERT_STREQ("aeron:ipc?term-length=1m", c.control_channel);
    TP_ASSERT_STREQ("aeron:ipc?term-length=1m", c.qos_channel);
    TP_ASSERT_EQ_U64(0, c.source_control_stream_id);
    TP_ASSERT_EQ_U64(0, c.dest_qos_stream_id);
    TP_ASSERT_EQ_U64(0, c.driver_control_stream_id);
    TP_ASSERT_EQ_U64(1, c.mapping_count);
    TP_ASSERT_EQ_U64(10000, c.mappings[0].source_stream_id);
    TP_ASSERT_EQ_U64(10001, c.mappings[0].dest_stream_id);
    TP_ASSERT(!c.mappings[0].max_rate_set); /* inherits rate_limiter.max_rate_hz */
    TP_ASSERT_EQ_U64(0, c.mappings[0].metadata_stream_id); /* = dest_stream_id */
    TP_ASSERT(c.mappings[0].per_consumer);
    TP_ASSERT_EQ_U64(256, c.mappings[0].header_nslots);
    TP_ASSERT_EQ_U64(1, c.mappings[0].pool_count);
}

static void test_full(void)
{
    static const char text[] = "[rate_limiter]\n"
                               "instance_id = \"rl-2\"\n"
                               "descriptor_channel = \"aeron:ipc?term-length=4m\"\n"
                               "descriptor_stream_id = 1101\n"
                               "forward_metadata = false\n"
                               "forward_progress = true\n"
                               "forward_qos = true\n"
                               "max_rate_hz = 30\n"
                               "source_control_stream_id = 1000\n"
                               "dest_control_stream_id = 1001\n"
                               "source_qos_stream_id = 1200\n"
                               "dest_qos_stream_id = 1201\n"
                               "shm_base_dir = \"/dev/shm\"\n"
                               "[[mappings]]\n"
                               "source_stream_id = 10000\n"
                               "dest_stream_id = 10001\n"
                               "max_rate_hz = 5\n"
                               "metadata_stream_id = 10101\n"
                               "per_consumer = false\n"
                               "header_nslots = 64\n"
                               "payload_pools = [{ pool_id = 1, stride_bytes = 4096 }, { pool_id = 2, stride_bytes = 1048576 }]\n"
                               "[[mappings]]\n"
                               "source_stream_id = 20000\n"
                               "dest_stream_id = 20001\n";
    tp_ratelimit_config_t c;
    TP_ASSERT_OK(load(&c, text));
    TP_ASSERT_EQ_U64(2, c.mapping_count);
    TP_ASSERT(c.forward_progress && c.forward_qos && !c.forward_metadata);
    TP_ASSERT_EQ_U64(5, c.mappings[0].max_rate_hz);
    TP_ASSERT(c.mappings[0].max_rate_set);
    TP_ASSERT_EQ_U64(10101, c.mappings[0].metadata_stream_id);
    TP_ASSERT_EQ_U64(2, c.mappings[0].pool_count);
    TP_ASSERT_EQ_U64(1048576, c.mappings[0].pools[1].stride_bytes);
    TP_ASSERT(!c.mappings[1].max_rate_set);
    /* print -> load gives the same configuration */
    char buf[8192];
    int n = tp_ratelimit_config_print(&c, buf, sizeof(buf));
    TP_ASSERT(n > 0 && (size_t)n < sizeof(buf));
    tp_ratelimit_config_t again;
    TP_ASSERT_OK(load(&again, buf));
    TP_ASSERT(!again.mappings[1].max_rate_set); /* still inherited */
    TP_ASSERT_EQ_U64(10101, again.mappings[0].metadata_stream_id);
    TP_ASSERT_EQ_U64(0, again.mappings[1].metadata_stream_id);
    TP_ASSERT_EQ_U64(c.mappings[0].pools[1].stride_bytes, again.mappings[0].pools[1].stride_bytes);
    TP_ASSERT_EQ_U64(c.dest_qos_stream_id, again.dest_qos_stream_id);
}

/* --print-config output loads back even with quotes, backslashes and control characters in strings. */
static void test_print_escapes(void)
{
    static const char text[] = "[rate_limiter]\n"
                               "instance_id = \"a \\\"quoted\\\" \\\\ name\\u0001\\ttab\"\n"
                               "descriptor_channel = \"aeron:ipc\"\n"
                               "descriptor_stream_id = 1101\n"
                               "shm_base_dir = '/dev/shm/with \"quote'\n"
                               "[[mappings]]\nsource_stream_id = 1\ndest_stream_id = 2\n";
    tp_ratelimit_config_t c;
    TP_ASSERT_OK(load(&c, text));
    TP_ASSERT_STREQ("a \"quoted\" \\ name\001\ttab", c.instance_id);
    char buf[8192];
    char buf2[8192];
    TP_ASSERT(tp_ratelimit_config_print(&c, buf, sizeof(buf)) > 0);
    tp_ratelimit_config_t again;
    TP_ASSERT_OK(load(&again, buf));
    TP_ASSERT_STREQ(c.instance_id, again.instance_id);
    TP_ASSERT_STREQ(c.shm_base_dir, again.shm_base_dir);
    TP_ASSERT(tp_ratelimit_config_print(&again, buf2, sizeof(buf2)) > 0);
    TP_ASSERT_STREQ(buf, buf2);
}

/* Errors carry the file name and line and name the key. */
static void expect_error(const char *text, const char *needle)
{
    tp_ratelimit_config_t c;
    TP_ASSERT_ERR(TP_ERR_CONFIG, load(&c, text));
    TP_ASSERT_MSG(NULL != strstr(tp_errmsg(), needle), "'%s' not in '%s'", needle, tp_errmsg());
}

static void test_errors(void)
{
    expect_error("[rate_limiter]\ninstance_id = \"x\"\ndescriptor_channel = \"aeron:ipc\"\n"
                 "descriptor_stream_id = 1\nmax_rate = 3\n[[mappings]]\nsource_stream_id = 1\ndest_stream_id = 2\n",
        "rl.toml:");
    expect_error("[rate_limiter]\ninstance_id = \"x\"\ndescriptor_channel = \"aeron:ipc\"\n"
                 "descriptor_stream_id = 1\nmax_rate = 3\n[[mappings]]\nsource_stream_id = 1\ndest_stream_id = 2\n",
        "max_rate");
    /* missing required key */
    expect_error("[rate_limiter]\ninstance_id = \"x\"\ndescriptor_stream_id = 1\n[[mappings]]\nsource_stream_id = 1\n"
                 "dest_stream_id = 2\n",
        "descriptor_channel");
    /* no mappings */
    expect_error("[rate_limiter]\ninstance_id = \"x\"\ndescriptor_channel = \"aeron:ipc\"\ndescriptor_stream_id = 1\n",
        "mappings");
    /* wrong type, with its line */
    expect_error("[rate_limiter]\ninstance_id = \"x\"\ndescriptor_channel = \"aeron:ipc\"\n"
                 "descriptor_stream_id = \"1\"\n[[mappings]]\nsource_stream_id = 1\ndest_stream_id = 2\n",
        "rl.toml:4");
    /* negative rate */
    expect_error("[rate_limiter]\ninstance_id = \"x\"\ndescriptor_channel = \"aeron:ipc\"\n"
                 "descriptor_stream_id = 1\nmax_rate_hz = -1\n[[mappings]]\nsource_stream_id = 1\ndest_stream_id = 2\n",
        "max_rate_hz");
    /* unknown mapping key, with its line */
    expect_error("[rate_limiter]\ninstance_id = \"x\"\ndescriptor_channel = \"aeron:ipc\"\n"
                 "descriptor_stream_id = 1\n[[mappings]]\nsource_stream_id = 1\ndest_stream_id = 2\nrate = 4\n",
        "rate");
    /* dest == source (§3) with the mapping's line */
    expect_error("[rate_limiter]\ninstance_id = \"x\"\ndescriptor_channel = \"aeron:ipc\"\n"
                 "descriptor_stream_id = 1\n[[mappings]]\nsource_stream_id = 1\ndest_stream_id = 1\n",
        "rl.toml:5");
    /* bad pools */
    expect_error("[rate_limiter]\ninstance_id = \"x\"\ndescriptor_channel = \"aeron:ipc\"\n"
                 "descriptor_stream_id = 1\n[[mappings]]\nsource_stream_id = 1\ndest_stream_id = 2\n"
                 "payload_pools = [{ pool_id = 1, stride_bytes = 100 }]\n",
        "multiple of 64");
    expect_error("[rate_limiter]\ninstance_id = \"x\"\ndescriptor_channel = \"aeron:ipc\"\n"
                 "descriptor_stream_id = 1\n[[mappings]]\nsource_stream_id = 1\ndest_stream_id = 2\n"
                 "header_nslots = 100\n",
        "power of two");
    /* unknown top-level table */
    expect_error("[ratelimiter]\ninstance_id = \"x\"\n", "ratelimiter");
}

/* §8: forwarding with a zero stream id fails fast (never starts). */
static void test_forwarding_needs_ids(void)
{
    expect_error("[rate_limiter]\ninstance_id = \"x\"\ndescriptor_channel = \"aeron:ipc\"\ndescriptor_stream_id = 1\n"
                 "forward_progress = true\nsource_control_stream_id = 1000\n"
                 "[[mappings]]\nsource_stream_id = 1\ndest_stream_id = 2\n",
        "dest_control_stream_id");
    expect_error("[rate_limiter]\ninstance_id = \"x\"\ndescriptor_channel = \"aeron:ipc\"\ndescriptor_stream_id = 1\n"
                 "forward_qos = true\ndest_qos_stream_id = 1201\n"
                 "[[mappings]]\nsource_stream_id = 1\ndest_stream_id = 2\n",
        "source_qos_stream_id");
    tp_ratelimit_config_t c;
    TP_ASSERT_OK(load(&c, minimal));
    c.forward_progress = true;
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_ratelimit_config_validate(&c));
    /* tp_ratelimit_init validates too: nothing is created */
    tp_ratelimit_t *rl = NULL;
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_ratelimit_init(&rl, &c, NULL));
    TP_ASSERT(NULL == rl);
}

/* §4: one policy per instance: the same source twice is refused. */
static void test_one_policy_per_source(void)
{
    expect_error("[rate_limiter]\ninstance_id = \"x\"\ndescriptor_channel = \"aeron:ipc\"\ndescriptor_stream_id = 1\n"
                 "[[mappings]]\nsource_stream_id = 1\ndest_stream_id = 2\n"
                 "[[mappings]]\nsource_stream_id = 1\ndest_stream_id = 3\n",
        "second rate limiter instance");
}

int main(void)
{
    TP_RUN(test_minimal_and_defaults);
    TP_RUN(test_full);
    TP_RUN(test_print_escapes);
    TP_RUN(test_errors);
    TP_RUN(test_forwarding_needs_ids);
    TP_RUN(test_one_policy_per_source);
    return tp_test_finish();
}
