/*
 * Discovery registry (src/discovery/tp_discovery_registry): indexing by
 * (driver_instance_id, stream_id), expiry (§6.2), conflict resolution (§6.3),
 * metadata inputs (§6.4), query matching (§5.1), caps and capacity.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "discovery/tp_discovery_registry.h"
#include "tp_test.h"

#define MS (1000000ull)

static tp_proto_str_t S(const char *s)
{
    tp_proto_str_t r = { s, (uint32_t)strlen(s) };
    return r;
}

static tp_proto_shm_pool_announce_view_t announce(uint32_t stream_id, uint64_t epoch)
{
    tp_proto_shm_pool_announce_view_t a;
    memset(&a, 0, sizeof(a));
    a.stream_id = stream_id;
    a.producer_id = 7;
    a.epoch = epoch;
    a.layout_version = 1;
    a.header_nslots = 64;
    a.header_slot_bytes = 256;
    a.pool_count = 1;
    a.pools[0] = (tp_proto_pool_view_t){ 1, 64, 4096, S("shm:file?path=/dev/shm/x/1") };
    a.header_region_uri = S("shm:file?path=/dev/shm/x/header");
    return a;
}

static const tp_discovery_authority_t A1 = { "driver-a", "aeron:ipc?term-length=4m", 1000 };
static const tp_discovery_authority_t A2 = { "driver-b", "aeron:udp?endpoint=10.0.0.2:40100", 1000 };

static tp_proto_discovery_request_view_t query_all(void)
{
    tp_proto_discovery_request_view_t q;
    memset(&q, 0, sizeof(q));
    return q;
}

static size_t count(const tp_discovery_registry_t *r, const tp_proto_discovery_request_view_t *q, uint64_t now)
{
    return tp_discovery_registry_query(r, q, now, NULL, 0);
}

static void test_index_key_is_driver_and_stream(void)
{
    tp_discovery_registry_t *r = NULL;
    TP_ASSERT_OK(tp_discovery_registry_init(&r, 16));
    tp_proto_shm_pool_announce_view_t a = announce(10, 1);
    TP_ASSERT_EQ_U64(TP_DISCOVERY_UPSERT_INSERTED, tp_discovery_registry_on_announce(r, &A1, &a, 0, 3000 * MS));
    TP_ASSERT_EQ_U64(TP_DISCOVERY_UPSERT_INSERTED, tp_discovery_registry_on_announce(r, &A2, &a, 0, 3000 * MS));
    TP_ASSERT_EQ_U64(TP_DISCOVERY_UPSERT_REFRESHED, tp_discovery_registry_on_announce(r, &A1, &a, 10, 3000 * MS));
    tp_proto_discovery_request_view_t q = query_all();
    TP_ASSERT_EQ_U64(2, count(r, &q, 10)); /* same stream id, two drivers: two entries */
    const tp_discovery_entry_t *out[4];
    q.has_stream_id = true;
    q.stream_id = 10;
    TP_ASSERT_EQ_U64(2, tp_discovery_registry_query(r, &q, 10, out, 4));
    tp_proto_discovery_result_view_t v;
    tp_discovery_registry_result(out[0], &v);
    TP_ASSERT_EQ_U64(1000, v.driver_control_stream_id);
    TP_ASSERT_EQ_U64(8, v.max_dims);
    TP_ASSERT_EQ_U64(1, v.pool_count);
    TP_ASSERT_EQ_U64(64, v.pools[0].pool_nslots);
    TP_ASSERT(0 == memcmp(v.header_region_uri.data, "shm:file?path=/dev/shm/x/header", v.header_region_uri.length));
    q.stream_id = 11;
    TP_ASSERT_EQ_U64(0, count(r, &q, 10));
    tp_discovery_registry_close(r);
}

static void test_expiry_window(void)
{
    tp_discovery_registry_t *r = NULL;
    TP_ASSERT_OK(tp_discovery_registry_init(&r, 16));
    tp_proto_shm_pool_announce_view_t a = announce(10, 1);
    tp_discovery_registry_on_announce(r, &A1, &a, 1000 * MS, 3000 * MS); /* 3 x a 1 s period */
    tp_proto_discovery_request_view_t q = query_all();
    TP_ASSERT_EQ_U64(1, count(r, &q, 4000 * MS));   /* exactly at the window: still live */
    TP_ASSERT_EQ_U64(0, count(r, &q, 4001 * MS));   /* past it: never returned */
    TP_ASSERT_EQ_U64(0, tp_discovery_registry_expire(r, 2000 * MS));
    TP_ASSERT_EQ_U64(1, tp_discovery_registry_expire(r, 4001 * MS));
    tp_discovery_registry_stats_t s;
    tp_discovery_registry_stats(r, &s);
    TP_ASSERT_EQ_U64(1, s.expired);
    TP_ASSERT_EQ_U64(0, s.entries);
    /* a fresh announce brings it back */
    tp_discovery_registry_on_announce(r, &A1, &a, 5000 * MS, 3000 * MS);
    TP_ASSERT_EQ_U64(1, count(r, &q, 5000 * MS));
    tp_discovery_registry_close(r);
}

static void test_conflicts_newest_epoch_wins(void)
{
    tp_discovery_registry_t *r = NULL;
    TP_ASSERT_OK(tp_discovery_registry_init(&r, 16));
    tp_proto_shm_pool_announce_view_t a = announce(10, 5);
    tp_discovery_registry_on_announce(r, &A1, &a, 0, 3000 * MS);
    a.epoch = 6;
    a.header_nslots = 128;
    TP_ASSERT_EQ_U64(TP_DISCOVERY_UPSERT_REPLACED, tp_discovery_registry_on_announce(r, &A1, &a, 10 * MS, 3000 * MS));
    const tp_discovery_entry_t *e = tp_discovery_registry_find(r, "driver-a", 10);
    TP_ASSERT_EQ_U64(6, tp_discovery_entry_epoch(e));
    /* an older epoch from the same endpoint is dropped */
    a.epoch = 5;
    TP_ASSERT_EQ_U64(TP_DISCOVERY_UPSERT_REGRESSED, tp_discovery_registry_on_announce(r, &A1, &a, 20 * MS, 3000 * MS));
    TP_ASSERT_EQ_U64(6, tp_discovery_entry_epoch(e));
    tp_proto_discovery_result_view_t v;
    tp_discovery_registry_result(e, &v);
    TP_ASSERT_EQ_U64(128, v.header_nslots);
    /* ... unless the driver's endpoint changed (a restart is known) */
    tp_discovery_authority_t moved = { "driver-a", "aeron:ipc?term-length=4m", 1001 };
    TP_ASSERT_EQ_U64(TP_DISCOVERY_UPSERT_RESTARTED, tp_discovery_registry_on_announce(r, &moved, &a, 30 * MS, 3000 * MS));
    TP_ASSERT_EQ_U64(5, tp_discovery_entry_epoch(e));
    tp_discovery_registry_result(e, &v);
    TP_ASSERT_EQ_U64(1001, v.driver_control_stream_id);
    /* ... or the entry had expired */
    a.epoch = 2;
    TP_ASSERT_EQ_U64(TP_DISCOVERY_UPSERT_RESTARTED,
        tp_discovery_registry_on_announce(r, &moved, &a, 30 * MS + 3001 * MS, 3000 * MS));
    tp_discovery_registry_stats_t s;
    tp_discovery_registry_stats(r, &s);
    TP_ASSERT_EQ_U64(1, s.replaced);
    TP_ASSERT_EQ_U64(1, s.regressions);
    TP_ASSERT_EQ_U64(2, s.restarts);
    tp_discovery_registry_close(r);
}

static void test_query_filters_and_tags(void)
{
    tp_discovery_registry_t *r = NULL;
    TP_ASSERT_OK(tp_discovery_registry_init(&r, 16));
    const char *tags10[] = { "camera", "Front" };
    TP_ASSERT_OK(tp_discovery_registry_set_static(r, "driver-a", 10, tags10, 2, true, 42, "cam-front"));
    tp_proto_shm_pool_announce_view_t a = announce(10, 1);
    tp_discovery_registry_on_announce(r, &A1, &a, 0, 3000 * MS);
    a = announce(11, 1);
    a.producer_id = 8;
    tp_discovery_registry_on_announce(r, &A1, &a, 0, 3000 * MS);
    /* metadata of stream 11: name from DataSourceAnnounce, tags from DataSourceMeta */
    tp_proto_data_source_announce_view_t ds;
    memset(&ds, 0, sizeof(ds));
    ds.stream_id = 11;
    ds.name = S("lidar-top");
    TP_ASSERT_OK(tp_discovery_registry_on_data_source(r, "driver-a", &ds, 0, 3000 * MS));

    tp_proto_discovery_request_view_t q = query_all();
    TP_ASSERT_EQ_U64(2, count(r, &q, 0));
    q.has_producer_id = true;
    q.producer_id = 8;
    TP_ASSERT_EQ_U64(1, count(r, &q, 0));
    q = query_all();
    q.data_source_name = S("cam-front");
    TP_ASSERT_EQ_U64(1, count(r, &q, 0));
    q.data_source_name = S("CAM-FRONT"); /* case-sensitive */
    TP_ASSERT_EQ_U64(0, count(r, &q, 0));
    q.data_source_name = S("lidar-top");
    TP_ASSERT_EQ_U64(1, count(r, &q, 0));
    q = query_all();
    q.has_data_source_id = true;
    q.data_source_id = 42;
    TP_ASSERT_EQ_U64(1, count(r, &q, 0));
    q.data_source_id = 43;
    TP_ASSERT_EQ_U64(0, count(r, &q, 0));
    /* tags: all requested must be present, case-sensitive, duplicates once */
    q = query_all();
    q.tag_count = 3;
    q.tags[0] = S("camera");
    q.tags[1] = S("Front");
    q.tags[2] = S("camera");
    TP_ASSERT_EQ_U64(1, count(r, &q, 0));
    q.tags[1] = S("front");
    TP_ASSERT_EQ_U64(0, count(r, &q, 0));
    q.tags[1] = S(""); /* an empty tag (reference layout) is "not provided" */
    TP_ASSERT_EQ_U64(1, count(r, &q, 0));
    /* AND: stream + tag that it lacks */
    q = query_all();
    q.has_stream_id = true;
    q.stream_id = 11;
    q.tag_count = 1;
    q.tags[0] = S("camera");
    TP_ASSERT_EQ_U64(0, count(r, &q, 0));
    /* the full tag set is returned, not the filtered subset */
    q = query_all();
    q.tag_count = 1;
    q.tags[0] = S("Front");
    const tp_discovery_entry_t *out[2];
    TP_ASSERT_EQ_U64(1, tp_discovery_registry_query(r, &q, 0, out, 2));
    tp_proto_discovery_result_view_t v;
    tp_discovery_registry_result(out[0], &v);
    TP_ASSERT_EQ_U64(2, v.tag_count);
    TP_ASSERT(v.has_data_source_id && 42 == v.data_source_id);
    TP_ASSERT_EQ_U64(9, v.data_source_name.length);
    tp_discovery_registry_close(r);
}

static void test_meta_attributes_tags(void)
{
    tp_discovery_registry_t *r = NULL;
    TP_ASSERT_OK(tp_discovery_registry_init(&r, 4));
    /* a DataSourceMeta with tag / tags / data_source_id attributes, encoded with the wire codec */
    uint8_t buf[512];
    tp_sbe_wire_data_source_meta_t m;
    tp_sbe_wire_data_source_meta_attributes_t g;
    tp_sbe_wire_data_source_meta_wrap_and_apply_header(&m, buf, 0, sizeof(buf));
    tp_sbe_wire_data_source_meta_set_stream_id(&m, 20);
    tp_sbe_wire_data_source_meta_set_meta_version(&m, 1);
    tp_sbe_wire_data_source_meta_set_timestamp_ns(&m, 1);
    tp_sbe_wire_data_source_meta_set_attributes_count(&m, &g, 4);
    const char *kv[4][2] = { { "tag", "thermal" }, { "tags", "a, b,,thermal" }, { "data_source_id", "123" },
        { "unit", "K" } };
    for (int i = 0; i < 4; i++)
    {
        tp_sbe_wire_data_source_meta_attributes_next(&g);
        tp_sbe_wire_data_source_meta_attributes_put_key(&g, kv[i][0], (uint32_t)strlen(kv[i][0]));
        tp_sbe_wire_data_source_meta_attributes_put_format(&g, "text", 4);
        tp_sbe_wire_data_source_meta_attributes_put_value(&g, (const uint8_t *)kv[i][1], (uint32_t)strlen(kv[i][1]));
    }
    size_t len = TP_SBE_MESSAGE_HEADER_LENGTH + tp_sbe_wire_data_source_meta_encoded_length(&m);
    tp_proto_data_source_meta_view_t mv;
    TP_ASSERT_OK(tp_proto_decode_data_source_meta(buf, len, &mv));
    TP_ASSERT_OK(tp_discovery_registry_on_meta(r, "driver-a", &mv, 0, 3000 * MS));
    tp_proto_discovery_request_view_t q = query_all();
    TP_ASSERT_EQ_U64(0, count(r, &q, 0)); /* metadata only: not returned until announced */
    tp_proto_shm_pool_announce_view_t a = announce(20, 1);
    tp_discovery_registry_on_announce(r, &A1, &a, 0, 3000 * MS);
    q.tag_count = 3;
    q.tags[0] = S("thermal");
    q.tags[1] = S("a");
    q.tags[2] = S("b");
    TP_ASSERT_EQ_U64(1, count(r, &q, 0));
    const tp_discovery_entry_t *out[1];
    tp_discovery_registry_query(r, &q, 0, out, 1);
    tp_proto_discovery_result_view_t v;
    tp_discovery_registry_result(out[0], &v);
    TP_ASSERT_EQ_U64(3, v.tag_count); /* thermal, a, b (duplicate and empty dropped) */
    TP_ASSERT(v.has_data_source_id && 123 == v.data_source_id);
    tp_discovery_registry_close(r);
}

static void test_capacity_and_caps(void)
{
    tp_discovery_registry_t *r = NULL;
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_discovery_registry_init(&r, 0));
    TP_ASSERT_OK(tp_discovery_registry_init(&r, 2));
    tp_proto_shm_pool_announce_view_t a = announce(1, 1);
    TP_ASSERT_EQ_U64(TP_DISCOVERY_UPSERT_INSERTED, tp_discovery_registry_on_announce(r, &A1, &a, 0, 1000 * MS));
    a.stream_id = 2;
    TP_ASSERT_EQ_U64(TP_DISCOVERY_UPSERT_INSERTED, tp_discovery_registry_on_announce(r, &A1, &a, 0, 1000 * MS));
    a.stream_id = 3;
    TP_ASSERT_EQ_U64(TP_DISCOVERY_UPSERT_REFUSED, tp_discovery_registry_on_announce(r, &A1, &a, 10 * MS, 1000 * MS));
    /* once one has expired its slot is reused */
    TP_ASSERT_EQ_U64(TP_DISCOVERY_UPSERT_INSERTED, tp_discovery_registry_on_announce(r, &A1, &a, 2000 * MS, 1000 * MS));
    tp_discovery_registry_stats_t s0;
    tp_discovery_registry_stats(r, &s0);
    TP_ASSERT_EQ_U64(2, s0.entries);
    /* an empty control channel or zero control stream id is never returned (§5.2) */
    tp_discovery_registry_t *r2 = NULL;
    TP_ASSERT_OK(tp_discovery_registry_init(&r2, 2));
    tp_discovery_authority_t bad = { "driver-x", "", 0 };
    tp_discovery_registry_on_announce(r2, &bad, &a, 0, 1000 * MS);
    tp_proto_discovery_request_view_t q = query_all();
    TP_ASSERT_EQ_U64(0, count(r2, &q, 0));
    /* an over-long data source name is refused, not truncated */
    char name[400];
    memset(name, 'n', sizeof(name));
    tp_proto_data_source_announce_view_t ds;
    memset(&ds, 0, sizeof(ds));
    ds.stream_id = 3;
    ds.name.data = name;
    ds.name.length = sizeof(name);
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_discovery_registry_on_data_source(r, "driver-a", &ds, 0, 1000 * MS));
    tp_discovery_registry_stats_t s;
    tp_discovery_registry_stats(r, &s);
    TP_ASSERT_EQ_U64(1, s.refused_full);
    TP_ASSERT_EQ_U64(1, s.refused_caps);
    TP_ASSERT_EQ_U64(1, tp_discovery_registry_remove(r, "driver-a", 3));
    TP_ASSERT_EQ_U64(0, tp_discovery_registry_remove(r, "driver-a", 3));
    tp_discovery_registry_close(r2);
    tp_discovery_registry_close(r);
}

int main(void)
{
    TP_RUN(test_index_key_is_driver_and_stream);
    TP_RUN(test_expiry_window);
    TP_RUN(test_conflicts_newest_epoch_wins);
    TP_RUN(test_query_filters_and_tags);
    TP_RUN(test_meta_attributes_tags);
    TP_RUN(test_capacity_and_caps);
    return tp_test_finish();
}
