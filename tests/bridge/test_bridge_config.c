/*
 * Bridge configuration (src/bridge/tp_bridge_config.c): defaults, the example
 * file, and strict errors with the file name, line and key.
 */
#include <stdio.h>
#include <string.h>

#include "tp_test.h"
#include "bridge/tp_bridge_config.h"
#include "common/tp_error.h"

static const char *example_path = NULL;

#define BASE \
    "[bridge]\ninstance_id = \"t\"\npayload_channel = \"aeron:udp?endpoint=127.0.0.1:40000\"\n" \
    "payload_stream_id = 50000\ncontrol_channel = \"aeron:udp?endpoint=127.0.0.1:40001\"\ncontrol_stream_id = 50001\n"
#define MAP "[[mappings]]\nsource_stream_id = 10000\ndest_stream_id = 20000\n"

static int load(tp_bridge_config_t *c, const char *text)
{
    tp_bridge_config_defaults(c);
    return tp_bridge_config_load_string(c, text, strlen(text), "b.toml");
}

static void expect_error(const char *text, const char *needle)
{
    static tp_bridge_config_t c;
    TP_ASSERT_ERR(TP_ERR_CONFIG, load(&c, text));
    TP_ASSERT_MSG(NULL != strstr(tp_errmsg(), needle), "message \"%s\" lacks \"%s\"", tp_errmsg(), needle);
}

static void test_minimal_defaults(void)
{
    static tp_bridge_config_t c;
    TP_ASSERT_OK(load(&c, BASE MAP));
    TP_ASSERT_EQ_I64(TP_BRIDGE_ROLE_BOTH, c.role);
    TP_ASSERT_EQ_U64(1408, c.mtu_bytes);
    TP_ASSERT_EQ_U64(1280, tp_bridge_config_chunk_bytes(&c)); /* mtu - 128 (§10) */
    TP_ASSERT_EQ_U64(65535, c.max_chunk_bytes);
    TP_ASSERT_EQ_U64(1073741824u, c.max_payload_bytes);
    TP_ASSERT_EQ_U64(250, c.assembly_timeout_ms);
    TP_ASSERT(!c.integrity_crc32c);
    TP_ASSERT(!c.forward_metadata); /* default true, but no metadata channel: disabled (§7.1) */
    TP_ASSERT(!c.forward_tracelink && !c.forward_qos && !c.forward_progress);
    TP_ASSERT_EQ_U64(1, c.mapping_count);
    TP_ASSERT_EQ_U64(20000, c.mappings[0].metadata_stream_id); /* defaults to dest_stream_id */
    TP_ASSERT_STREQ("mirror", c.mappings[0].profile);
    TP_ASSERT_EQ_U64(1300, c.source_metadata_stream_id);
    /* chunk_bytes: min(chunk_bytes, mtu - 128), and the channel's mtu= when mtu_bytes is unset. */
    TP_ASSERT_OK(load(&c, "[bridge]\ninstance_id = \"t\"\npayload_channel = \"aeron:udp?endpoint=127.0.0.1:1|mtu=8192\"\n"
        "payload_stream_id = 1\ncontrol_channel = \"aeron:udp?endpoint=127.0.0.1:2\"\ncontrol_stream_id = 2\n"
        "chunk_bytes = 9000\n" MAP));
    TP_ASSERT_EQ_U64(8192 - 128, tp_bridge_config_chunk_bytes(&c));
    TP_ASSERT_OK(load(&c, BASE "chunk_bytes = 512\n" MAP));
    TP_ASSERT_EQ_U64(512, tp_bridge_config_chunk_bytes(&c));
}

static void test_example_file(void)
{
    static tp_bridge_config_t c;
    tp_bridge_config_defaults(&c);
    TP_ASSERT_OK(tp_bridge_config_load_file(&c, example_path));
    TP_ASSERT_EQ_U64(2, c.mapping_count);
    TP_ASSERT(c.forward_metadata);
    TP_ASSERT_EQ_U64(51000, c.mappings[1].dest_stream_id); /* allocated from the range */
    TP_ASSERT(c.mappings[1].dest_allocated);
    TP_ASSERT_EQ_I64(0, c.mappings[1].profile_index);
    TP_ASSERT_EQ_U64(2, c.profiles[0].pool_count);
}

static void test_errors(void)
{
    expect_error(MAP, "[bridge] table is missing");
    expect_error(BASE MAP "bogus = 1\n", "unknown key");
    expect_error(BASE "payload_stream_idd = 3\n" MAP, "unknown key");
    expect_error("[bridge]\ninstance_id = \"t\"\n" MAP, "payload_channel");
    expect_error(BASE, "mappings");
    expect_error(BASE "role = \"relay\"\n" MAP, "b.toml:7");
    expect_error(BASE "mtu_bytes = 100\n" MAP, "MTU");
    expect_error(BASE "max_chunk_bytes = 70000\n" MAP, "1..65535");
    expect_error(BASE "assembly_timeout_ms = 0\n" MAP, "assembly_timeout_ms");
    expect_error(BASE "forward_metadata = true\n" MAP, "metadata_channel");
    expect_error(BASE "forward_tracelink = true\n" MAP, "metadata_channel");
    expect_error(BASE "forward_progress = true\n" MAP, "source_control_stream_id");
    expect_error(BASE "payload_stream_id = \"x\"\n" MAP, "b.toml");
    expect_error(BASE MAP "[[mappings]]\nsource_stream_id = 10000\ndest_stream_id = 20001\n", "mapped twice");
    expect_error(BASE MAP "[[mappings]]\nsource_stream_id = 20000\ndest_stream_id = 10000\n", "feedback loop");
    expect_error(BASE "[[mappings]]\nsource_stream_id = 10000\n", "dest_stream_id_range");
    expect_error(BASE "dest_stream_id_range = \"1000-1001\"\n[[mappings]]\nsource_stream_id = 10000\n", "overlaps");
    expect_error(BASE "dest_stream_id_range = \"9-3\"\n" MAP, "first <= last");
    expect_error(BASE MAP "profile = \"nope\"\n", "unknown profile");
    expect_error(BASE MAP "[profiles.p]\nheader_nslots = 3\npool_strides = [64]\n", "power of two");
    expect_error(BASE MAP "[profiles.p]\npool_strides = [100]\n", "multiple of 64");
    expect_error(BASE "metadata_channel = \"udp://x\"\n" MAP, "Aeron channel");
    expect_error("[bridge]\ninstance_id = \"t\"\npayload_channel = \"aeron:udp?endpoint=127.0.0.1:1\"\n"
        "payload_stream_id = 1\ncontrol_channel = \"aeron:udp?endpoint=127.0.0.1:1\"\ncontrol_stream_id = 1\n" MAP,
        "same channel");
    expect_error(BASE MAP "[local]\ntransport = \"tcp\"\n", "embedded");
}

int main(int argc, char **argv)
{
    example_path = argc > 1 ? argv[1] : "config/bridge_config_example.toml";
    TP_RUN(test_minimal_defaults);
    TP_RUN(test_example_file);
    TP_RUN(test_errors);
    return tp_test_finish();
}
