/*
 * The bridge end to end in one process: host A (producer of stream 10000 and
 * the bridge sender) and host B (the bridge receiver and a consumer of stream
 * 20000) with separate transport and SHM directories, joined only by UDP on
 * 127.0.0.1. Checks sequence and trace id preservation, payload bytes,
 * multi-chunk frames, CRC32C, metadata / TraceLinkSet / FrameProgress
 * forwarding with stream ids rewritten, and a source epoch change (remap).
 */
#include <stdlib.h>
#include <string.h>

#include "tp_bridge_test_util.h"
#include "bridge/tp_bridge.h"
#include "common/tp_error.h"
#include "protocol/tp_proto.h"
#include "tensor_pool/tp_driver.h"
#include "tp_sbe/tracelink.h"

#define N_FRAMES 300

/* Insert `driver_mode = true` into the [local] table of a generated configuration. */
static void add_driver_mode(char *text, size_t cap)
{
    char *p = strstr(text, "[local]\n");
    if (NULL != p && strlen(text) + 32 < cap)
    {
        p += strlen("[local]\n");
        memmove(p + 19, p, strlen(p) + 1);
        memcpy(p, "driver_mode = true\n", 19);
    }
}

typedef struct
{
    uint64_t count;
    uint64_t bad;
    uint64_t last_seq;
    uint64_t last_epoch;
    uint64_t trace_mismatch;
    uint64_t blobs;        /* meta blobs delivered to the consumer of 20000 (forwarded, DECISIONS BRL-1) */
    uint64_t blobs_bad;
    uint32_t blob_version;
} rx_t;

#define BLOB_LEN 100000u /* two MetaBlobChunks (64 KiB + rest) */
#define BLOB_TYPE 7u

static uint8_t blob_byte(size_t i)
{
    return (uint8_t)(i * 13u + 5u);
}

static void on_blob(void *clientd, uint32_t meta_version, uint32_t blob_type, const uint8_t *data, size_t length)
{
    rx_t *rx = clientd;
    bool ok = BLOB_TYPE == blob_type && BLOB_LEN == length;
    for (size_t i = 0; ok && i < length; i++)
    {
        ok = blob_byte(i) == data[i];
    }
    rx->blobs += ok ? 1 : 0;
    rx->blobs_bad += ok ? 0 : 1;
    rx->blob_version = meta_version;
}

static uint32_t frame_len(uint64_t seq)
{
    return 0 == seq % 50 ? 40000u + (uint32_t)seq : (0 == seq % 7 ? 3000u : 16u + (uint32_t)(seq % 200));
}

static void fill(uint8_t *p, uint32_t len, uint64_t seq)
{
    for (uint32_t i = 0; i < len; i++)
    {
        p[i] = (uint8_t)(seq * 131u + i * 7u);
    }
}

static void on_frame(void *clientd, const tp_frame_t *f)
{
    rx_t *rx = clientd;
    static uint8_t expect[65536];
    bool ok = f->length == frame_len(f->seq) && f->length <= sizeof(expect);
    if (ok)
    {
        fill(expect, (uint32_t)f->length, f->seq);
        ok = 0 == memcmp(expect, f->payload, f->length) && tp_frame_is_valid(f);
    }
    rx->bad += ok ? 0 : 1;
    rx->trace_mismatch += f->trace_id == f->seq + 1000 ? 0 : 1;
    rx->count++;
    rx->last_seq = f->seq;
    rx->last_epoch = f->epoch;
}

typedef struct
{
    uint64_t meta_20000;
    uint64_t tracelink_20000;
    uint64_t progress_20000;
    uint64_t qos_producer_20000;
    uint64_t announces_10000_on_b;
} seen_t;

static void on_b_metadata(void *clientd, const uint8_t *buf, size_t len, const tp_header_t *h)
{
    (void)h;
    seen_t *s = clientd;
    uint16_t schema = 0;
    uint16_t tmpl = 0;
    tp_proto_peek(buf, len, &schema, &tmpl);
    if (TP_SBE_WIRE_SCHEMA_ID == schema && TP_SBE_WIRE_DATA_SOURCE_META_TEMPLATE_ID == tmpl)
    {
        tp_proto_data_source_meta_view_t v;
        if (0 == tp_proto_decode_data_source_meta(buf, len, &v) && 20000 == v.stream_id && 1 == v.attribute_count)
        {
            tp_proto_attribute_view_t a;
            tp_proto_attribute_iter_t it = v.attributes;
            if (1 == tp_proto_attribute_next(&it, &a) && 9 == a.key.length && 0 == memcmp(a.key.data, "bridgekey", 9))
            {
                s->meta_20000++;
            }
        }
    }
    if (TP_SBE_TRACELINK_SCHEMA_ID == schema)
    {
        tp_sbe_tracelink_trace_link_set_t t;
        if (TP_SBE_OK == tp_sbe_tracelink_trace_link_set_wrap_for_decode_with_header(&t, buf, 0, len) &&
            20000 == tp_sbe_tracelink_trace_link_set_stream_id(&t) && 77 == tp_sbe_tracelink_trace_link_set_trace_id(&t))
        {
            s->tracelink_20000++;
        }
    }
}

static void on_b_control(void *clientd, const uint8_t *buf, size_t len, const tp_header_t *h)
{
    (void)h;
    seen_t *s = clientd;
    uint16_t schema = 0;
    uint16_t tmpl = 0;
    tp_proto_peek(buf, len, &schema, &tmpl);
    if (TP_SBE_WIRE_SCHEMA_ID == schema && TP_SBE_WIRE_FRAME_PROGRESS_TEMPLATE_ID == tmpl)
    {
        tp_proto_frame_progress_view_t v;
        if (0 == tp_proto_decode_frame_progress(buf, len, &v) && 20000 == v.stream_id && 64 == v.payload_bytes_filled)
        {
            s->progress_20000++;
        }
    }
    if (TP_SBE_WIRE_SCHEMA_ID == schema && TP_SBE_WIRE_QOS_PRODUCER_TEMPLATE_ID == tmpl)
    {
        tp_proto_qos_producer_view_t v;
        if (0 == tp_proto_decode_qos_producer(buf, len, &v) && 20000 == v.stream_id)
        {
            s->qos_producer_20000++;
        }
    }
    if (TP_SBE_WIRE_SCHEMA_ID == schema && TP_SBE_WIRE_SHM_POOL_ANNOUNCE_TEMPLATE_ID == tmpl)
    {
        tp_proto_shm_pool_announce_view_t v;
        if (0 == tp_proto_decode_shm_pool_announce(buf, len, &v) && 10000 == v.stream_id)
        {
            s->announces_10000_on_b++; /* the source announce must never be republished on B (§7.2) */
        }
    }
}

typedef struct
{
    tp_client_t *ca;
    tp_client_t *cb;
    tp_bridge_t *sender;
    tp_bridge_t *receiver;
    tp_transport_t *tb;
    tp_subscription_t *b_meta;
    tp_subscription_t *b_ctrl;
    tp_driver_t *driver_b;   /* host B's SHM driver (driver-mode run, on its own agent thread) */
    seen_t seen;
} world_t;

static int pump(world_t *w)
{
    int work = tp_client_do_work(w->ca) + tp_bridge_do_work(w->sender) + tp_bridge_do_work(w->receiver) +
        tp_client_do_work(w->cb);
    tp_transport_do_work(w->tb);
    work += tp_subscription_poll(w->b_meta, on_b_metadata, &w->seen, 64);
    work += tp_subscription_poll(w->b_ctrl, on_b_control, &w->seen, 64);
    return work;
}

#define PUMP_UNTIL(w, cond, ms)                                                                            \
    do                                                                                                     \
    {                                                                                                      \
        uint64_t dl_ = tp_clock_mono_ns() + (uint64_t)(ms) * 1000000u;                                     \
        while (!(cond) && tp_clock_mono_ns() < dl_)                                                        \
        {                                                                                                  \
            if (pump(w) <= 0)                                                                              \
            {                                                                                              \
                tp_sleep_ns(50000);                                                                        \
            }                                                                                              \
        }                                                                                                  \
    } while (0)

/*
 * Host B's SHM driver: stream 20000 with the source's geometry (256 slots, 64 KiB). Leases get 30 keepalive
 * intervals (3 s): this test does not exercise lease expiry, and one thread pumps both bridges and both clients,
 * so under ThreadSanitizer on a loaded machine it can miss 3 keepalives in a row; an expired lease means a new
 * epoch and a frame lost in the switch, which the exact frame counts below would report.
 */
static tp_driver_t *start_driver_b(const tpc_dirs_t *db)
{
    static const char text[] = "[policies]\nannounce_period_ms = 50\nlease_keepalive_interval_ms = 100\n"
                               "lease_expiry_grace_intervals = 30\n"
                               "shutdown_timeout_ms = 50\n"
                               "[profiles.p]\nheader_nslots = 256\npayload_pools = [{ pool_id = 1, stride_bytes = 65536 }]\n"
                               "[streams.s]\nstream_id = 20000\nprofile = \"p\"\n";
    tp_driver_config_t *cfg = NULL;
    tp_driver_t *d = NULL;
    if (0 != tp_driver_config_init(&cfg) || 0 != tp_driver_config_load_string(cfg, text, sizeof(text) - 1, "b.toml") ||
        0 != tp_driver_config_set_shm_base_dir(cfg, db->shm) ||
        0 != tp_driver_config_set_transport(cfg, NULL, db->transport) || 0 != tp_driver_init(&d, cfg) ||
        0 != tp_driver_start(d))
    {
        fprintf(stderr, "driver: %s\n", tp_errmsg());
        d = NULL;
    }
    tp_driver_config_close(cfg);
    return d;
}

static void run_mode(bool crc, bool driver_mode)
{
    tpc_dirs_t da;
    tpc_dirs_t db;
    TP_ASSERT_OK(tpc_dirs_make(&da, "bra"));
    TP_ASSERT_OK(tpc_dirs_make(&db, "brb"));
    tp_transport_t *driver_a = tpc_driver_hold(&da);
    tp_transport_t *driver_b = tpc_driver_hold(&db);
    int ports[3] = { tpb_free_udp_port(), tpb_free_udp_port(), tpb_free_udp_port() };
    TP_ASSERT(0 != ports[0] && 0 != ports[1] && 0 != ports[2]);
    static world_t w;
    memset(&w, 0, sizeof(w));
    static char text[4096];
    static tp_bridge_config_t cfg;
    const char *extra = crc ? "forward_metadata = true\nforward_tracelink = true\nforward_progress = true\n"
                              "forward_qos = true\nintegrity_crc32c = true\n"
                            : "forward_metadata = true\nforward_tracelink = true\nforward_progress = true\n"
                              "forward_qos = true\n";
    if (driver_mode)
    {
        w.driver_b = start_driver_b(&db);
        TP_ASSERT(NULL != w.driver_b);
    }
    tpb_config_text(text, sizeof(text), "receiver", &db, ports, extra, "aeron:ipc");
    if (driver_mode)
    {
        add_driver_mode(text, sizeof(text));
    }
    tp_bridge_config_defaults(&cfg);
    TP_ASSERT_OK(tp_bridge_config_load_string(&cfg, text, strlen(text), "receiver.toml"));
    /* the first receiver writes chunks straight into its slots; the restarted one below uses the default buffers */
    tp_bridge_options_t direct = { .direct_writes = true };
    TP_ASSERT_OK(tp_bridge_init(&w.receiver, &cfg, &direct));
    tpb_config_text(text, sizeof(text), "sender", &da, ports, extra, "aeron:ipc");
    tp_bridge_config_defaults(&cfg);
    TP_ASSERT_OK(tp_bridge_config_load_string(&cfg, text, strlen(text), "sender.toml"));
    TP_ASSERT_OK(tp_bridge_init(&w.sender, &cfg, NULL));

    tp_context_t *ctxa = tpc_context(&da);
    tp_context_t *ctxb = tpc_context(&db);
    if (driver_mode)
    {
        TP_ASSERT_OK(tp_context_set_driver_mode(ctxb, true));
    }
    TP_ASSERT_OK(tp_client_init(&w.ca, ctxa));
    TP_ASSERT_OK(tp_client_init(&w.cb, ctxb));
    tp_transport_context_t tctx;
    tp_transport_context_init(&tctx);
    tp_transport_context_set_dir(&tctx, db.transport);
    TP_ASSERT_OK(tp_transport_init(&w.tb, &tctx));
    TP_ASSERT_OK(tp_transport_add_subscription(&w.b_meta, w.tb, "aeron:ipc", 1300, NULL, NULL, NULL, NULL, 0));
    TP_ASSERT_OK(tp_transport_add_subscription(&w.b_ctrl, w.tb, "aeron:ipc", 1000, NULL, NULL, NULL, NULL, 0));

    tp_producer_config_t pc;
    tp_producer_config_defaults(&pc);
    pc.stream_id = 10000;
    pc.header_nslots = 256;
    pc.pools[0].stride_bytes = 65536;
    tp_producer_t *prod = NULL;
    TP_ASSERT_OK(tp_client_add_producer(&prod, w.ca, &pc, 0));
    rx_t rx;
    memset(&rx, 0, sizeof(rx));
    tp_consumer_config_t cc;
    tp_consumer_config_defaults(&cc);
    cc.stream_id = 20000;
    cc.on_frame = on_frame;
    cc.on_meta_blob = on_blob;
    cc.clientd = &rx;
    /* A per-consumer descriptor stream request: the bridge's producer must decline it (§4). */
    snprintf(cc.descriptor_channel, sizeof(cc.descriptor_channel), "aeron:ipc");
    cc.descriptor_stream_id = 1177;
    tp_consumer_t *cons = NULL;
    TP_ASSERT_OK(tp_client_add_consumer(&cons, w.cb, &cc, 0));

    /*
     * The receiver creates the destination producer from the first forwarded announce (mirror profile). In
     * driver mode the consumer can be mapped before that (the driver provisions an epoch when the consumer
     * attaches), so wait for both.
     */
    PUMP_UNTIL(&w, tp_consumer_is_mapped(cons) && NULL != tp_bridge_dest_producer(w.receiver, 0), 10000);
    TP_ASSERT_MSG(tp_consumer_is_mapped(cons), "the destination stream never got mapped");
    tp_producer_t *dest = tp_bridge_dest_producer(w.receiver, 0);
    TP_ASSERT(NULL != dest);
    tp_producer_layout_t dl;
    TP_ASSERT_OK(tp_producer_layout(dest, &dl));
    TP_ASSERT_EQ_U64(256, dl.header_nslots);
    TP_ASSERT_EQ_U64(65536, dl.pools[0].stride_bytes);
    /* Let the UDP publications see the receiver (status messages). */
    PUMP_UNTIL(&w, false, 200);

    const char *key = "bridgekey";
    const char *fmt = "text";
    const uint8_t *val = (const uint8_t *)"v";
    uint32_t vlen = 1;
    int64_t mv = tp_producer_set_metadata(prod, 1, &key, &fmt, &val, &vlen);
    TP_ASSERT(mv > 0);
    /* A meta blob (wire §10.3.3) of the source reaches the consumer behind the bridge, meta_version preserved. */
    static uint8_t blob[BLOB_LEN];
    for (size_t i = 0; i < BLOB_LEN; i++)
    {
        blob[i] = blob_byte(i);
    }
    TP_ASSERT_OK(tp_producer_publish_meta_blob(prod, BLOB_TYPE, blob, BLOB_LEN));
    PUMP_UNTIL(&w, rx.blobs > 0, 5000);
    TP_ASSERT_MSG(rx.blobs > 0, "no forwarded meta blob delivered on B");
    TP_ASSERT_EQ_U64(0, rx.blobs_bad);
    TP_ASSERT_EQ_U64((uint64_t)mv, rx.blob_version);

    static uint8_t buf[65536];
    for (uint64_t i = 0; i < N_FRAMES; i++)
    {
        uint64_t seq = tp_producer_next_seq(prod);
        uint32_t len = frame_len(seq);
        fill(buf, len, seq);
        tp_frame_options_t o = { .timestamp_ns = 0, .trace_id = seq + 1000 };
        int64_t r;
        while ((r = tp_producer_offer(prod, NULL, buf, len, &o)) == TP_PRODUCER_BACK_PRESSURED)
        {
            pump(&w);
        }
        TP_ASSERT_EQ_I64((int64_t)seq, r);
        PUMP_UNTIL(&w, rx.count > i, 2000);
    }
    TP_ASSERT_EQ_U64(N_FRAMES, rx.count);
    TP_ASSERT_EQ_U64(0, rx.bad);
    TP_ASSERT_EQ_U64(0, rx.trace_mismatch);
    TP_ASSERT_EQ_U64(N_FRAMES - 1, rx.last_seq);

    /*
     * §9 (BR97): forwarded FrameProgress for expired assembly state is dropped (PROGRESS): another source epoch,
     * and a frame already delivered (seq below the next local seq); progress of a frame still to come passes.
     * Injected on the receiver's control channel beside the sender (embedded UDP: two images, one subscription).
     */
    if (!tpc_is_aeron())
    {
        char chan[128];
        snprintf(chan, sizeof(chan), "aeron:udp?endpoint=127.0.0.1:%d", ports[1]);
        tp_publication_t *inj = NULL;
        TP_ASSERT_OK(tp_transport_add_publication(&inj, w.tb, chan, 50001, 0));
        PUMP_UNTIL(&w, tp_publication_is_connected(inj), 3000);
        TP_ASSERT(tp_publication_is_connected(inj));
        tp_bridge_stats_t before_st;
        TP_ASSERT_OK(tp_bridge_stats(w.receiver, &before_st));
        uint8_t fp[64];
        tp_sbe_wire_frame_progress_t fpm;
        TP_ASSERT_EQ_I64(TP_SBE_OK, tp_sbe_wire_frame_progress_wrap_and_apply_header(&fpm, fp, 0, sizeof(fp)));
        size_t fp_len = 8 + TP_SBE_WIRE_FRAME_PROGRESS_BLOCK_LENGTH;
        tp_sbe_wire_frame_progress_set_stream_id(&fpm, 10000);
        tp_sbe_wire_frame_progress_set_state(&fpm, TP_SBE_WIRE_FRAME_PROGRESS_STATE_PROGRESS);
        tp_sbe_wire_frame_progress_set_payload_bytes_filled(&fpm, 32);
        tp_sbe_wire_frame_progress_set_epoch(&fpm, tp_producer_epoch(prod) + 7); /* another source epoch */
        tp_sbe_wire_frame_progress_set_seq(&fpm, N_FRAMES + 5);
        PUMP_UNTIL(&w, tp_publication_offer(inj, fp, fp_len, NULL, NULL) > 0, 2000);
        tp_sbe_wire_frame_progress_set_epoch(&fpm, tp_producer_epoch(prod));
        tp_sbe_wire_frame_progress_set_seq(&fpm, 3); /* delivered long ago */
        PUMP_UNTIL(&w, tp_publication_offer(inj, fp, fp_len, NULL, NULL) > 0, 2000);
        tp_sbe_wire_frame_progress_set_seq(&fpm, N_FRAMES + 5); /* not yet delivered: forwarded */
        PUMP_UNTIL(&w, tp_publication_offer(inj, fp, fp_len, NULL, NULL) > 0, 2000);
        tp_bridge_stats_t after_st = before_st;
        PUMP_UNTIL(&w, (tp_bridge_stats(w.receiver, &after_st), after_st.receiver.progress_published >
                               before_st.receiver.progress_published &&
                           after_st.receiver.drops[TP_BRIDGE_DROP_PROGRESS] >=
                               before_st.receiver.drops[TP_BRIDGE_DROP_PROGRESS] + 2), 3000);
        TP_ASSERT_EQ_U64(before_st.receiver.drops[TP_BRIDGE_DROP_PROGRESS] + 2,
            after_st.receiver.drops[TP_BRIDGE_DROP_PROGRESS]);
        TP_ASSERT_EQ_U64(before_st.receiver.progress_published + 1, after_st.receiver.progress_published);
        tp_publication_close(inj);
    }

    /* TraceLinkSet on A's metadata stream, forwarded to B with stream_id rewritten. */
    tp_transport_t *ta = NULL;
    tp_transport_context_t tca;
    tp_transport_context_init(&tca);
    tp_transport_context_set_dir(&tca, da.transport);
    TP_ASSERT_OK(tp_transport_init(&ta, &tca));
    tp_publication_t *a_meta = NULL;
    TP_ASSERT_OK(tp_transport_add_publication(&a_meta, ta, "aeron:ipc", 1300, 0));
    uint8_t tl[128];
    tp_sbe_tracelink_trace_link_set_t t;
    TP_ASSERT_EQ_I64(TP_SBE_OK, tp_sbe_tracelink_trace_link_set_wrap_and_apply_header(&t, tl, 0, sizeof(tl)));
    tp_sbe_tracelink_trace_link_set_set_stream_id(&t, 10000);
    tp_sbe_tracelink_trace_link_set_set_epoch(&t, tp_producer_epoch(prod));
    tp_sbe_tracelink_trace_link_set_set_seq(&t, 3);
    tp_sbe_tracelink_trace_link_set_set_trace_id(&t, 77);
    tp_sbe_tracelink_trace_link_set_parents_t g;
    TP_ASSERT_EQ_I64(TP_SBE_OK, tp_sbe_tracelink_trace_link_set_set_parents_count(&t, &g, 2));
    tp_sbe_tracelink_trace_link_set_parents_next(&g);
    tp_sbe_tracelink_trace_link_set_parents_set_trace_id(&g, 5);
    tp_sbe_tracelink_trace_link_set_parents_next(&g);
    tp_sbe_tracelink_trace_link_set_parents_set_trace_id(&g, 6);
    size_t tl_len = 8 + tp_sbe_tracelink_trace_link_set_encoded_length(&t);
    PUMP_UNTIL(&w, tp_publication_offer(a_meta, tl, tl_len, NULL, NULL) > 0, 2000);

    /* FrameProgress of an open claim on A's control stream, forwarded to B's control stream 1000 as stream 20000. */
    tp_frame_claim_t claim;
    TP_ASSERT(tp_producer_try_claim(prod, 128, &claim) >= 0);
    fill(claim.data, 128, claim.seq);
    PUMP_UNTIL(&w, tp_frame_claim_progress(&claim, 64) > 0, 3000);
    PUMP_UNTIL(&w, w.seen.progress_20000 > 0 && w.seen.tracelink_20000 > 0 && w.seen.meta_20000 > 0, 3000);
    TP_ASSERT_MSG(w.seen.progress_20000 > 0, "no forwarded FrameProgress on B");
    TP_ASSERT_MSG(w.seen.tracelink_20000 > 0, "no forwarded TraceLinkSet on B");
    TP_ASSERT_MSG(w.seen.meta_20000 > 0, "no forwarded DataSourceMeta on B");
    PUMP_UNTIL(&w, w.seen.qos_producer_20000 > 0, 3000);
    TP_ASSERT_MSG(w.seen.qos_producer_20000 > 0, "no forwarded QosProducer on B's control stream");
    tp_consumer_stats_t cst;
    TP_ASSERT_OK(tp_consumer_stats(cons, &cst));
    TP_ASSERT_EQ_U64(1100, cst.descriptor_stream_id); /* still the shared descriptor stream */
    tp_frame_options_t o = { .trace_id = claim.seq + 1000 };
    uint64_t before = rx.count;
    /* frame_len(seq) must match: commit the claim with that length only if it equals 128, else abort. */
    if (128 == frame_len(claim.seq))
    {
        TP_ASSERT(tp_frame_claim_commit(&claim, NULL, 128, &o) >= 0);
        PUMP_UNTIL(&w, rx.count > before, 2000);
    }
    else
    {
        TP_ASSERT_OK(tp_frame_claim_abort(&claim));
    }

    /* A source epoch change: the receiver drops in-flight state and moves the destination to a new local epoch. */
    uint64_t dest_epoch = tp_producer_epoch(dest);
    tp_producer_layout_t nl = { .header_nslots = 128, .pool_count = 1 };
    nl.pools[0].pool_id = 1;
    nl.pools[0].stride_bytes = 65536;
    TP_ASSERT_OK(tp_producer_change_layout(prod, &nl));
    PUMP_UNTIL(&w, tp_producer_epoch(tp_bridge_dest_producer(w.receiver, 0)) > dest_epoch, 5000);
    TP_ASSERT(tp_producer_epoch(tp_bridge_dest_producer(w.receiver, 0)) > dest_epoch);
    /* the consumer remaps to the new local epoch (frames offered before that would not reach it) */
    uint64_t new_epoch = tp_producer_epoch(tp_bridge_dest_producer(w.receiver, 0));
    PUMP_UNTIL(&w, (tp_consumer_stats(cons, &cst), cst.mapped && cst.epoch == new_epoch), 5000);
    TP_ASSERT_MSG(cst.mapped && cst.epoch == new_epoch, "the consumer did not map the new local epoch %llu",
        (unsigned long long)new_epoch);
    before = rx.count;
    for (uint64_t i = 0; i < 20; i++)
    {
        uint64_t seq = tp_producer_next_seq(prod);
        TP_ASSERT_EQ_U64(i, seq);
        uint32_t len = frame_len(seq);
        fill(buf, len, seq);
        tp_frame_options_t oo = { .trace_id = seq + 1000 };
        TP_ASSERT_EQ_I64((int64_t)seq, tp_producer_offer(prod, NULL, buf, len, &oo));
        PUMP_UNTIL(&w, rx.count > before + i, 2000);
    }
    TP_ASSERT_EQ_U64(before + 20, rx.count);
    TP_ASSERT_EQ_U64(19, rx.last_seq);
    TP_ASSERT_EQ_U64(0, rx.bad);

    tp_bridge_stats_t ss;
    tp_bridge_stats_t rs;
    TP_ASSERT_OK(tp_bridge_stats(w.sender, &ss));
    TP_ASSERT_OK(tp_bridge_stats(w.receiver, &rs));
    char json[8192];
    TP_ASSERT(tp_bridge_stats_json(&rs, json, sizeof(json)) > 0);
    fprintf(stderr, "  receiver: %s\n", json);
    TP_ASSERT(ss.sender.announces_forwarded > 0);
    TP_ASSERT(ss.sender.metadata_forwarded > 0);
    TP_ASSERT(rs.receiver.local_epochs >= 1);
    TP_ASSERT_EQ_U64(rs.receiver.frames_completed, rs.receiver.frames_published);
    TP_ASSERT(rs.receiver.frames_direct > 0); /* chunks written straight into the destination slot */
    TP_ASSERT_EQ_U64(0, rs.receiver.drops[TP_BRIDGE_DROP_CRC]);
    TP_ASSERT_EQ_U64(0, rs.receiver.drops[TP_BRIDGE_DROP_BAD_HEADER]);
    TP_ASSERT_EQ_U64(0, w.seen.announces_10000_on_b);
    /* Only bridge chunks and control messages crossed: no FrameDescriptor or other schema over UDP (§7). */
    TP_ASSERT_EQ_U64(0, rs.receiver.drops[TP_BRIDGE_DROP_UNKNOWN_SCHEMA]);
    TP_ASSERT_EQ_U64(0, rs.receiver.drops[TP_BRIDGE_DROP_DECODE]);
    TP_ASSERT(rs.receiver.chunks > rs.receiver.frames_completed); /* multi-chunk frames went through */

    /* §8: a restarted receiver writes into a new local epoch (above the previous one). */
    if (!crc && !driver_mode)
    {
        uint64_t old_epoch = tp_producer_epoch(tp_bridge_dest_producer(w.receiver, 0));
        tp_bridge_close(w.receiver);
        w.receiver = NULL;
        tpb_config_text(text, sizeof(text), "receiver", &db, ports, extra, "aeron:ipc");
        tp_bridge_config_defaults(&cfg);
        TP_ASSERT_OK(tp_bridge_config_load_string(&cfg, text, strlen(text), "receiver.toml"));
        TP_ASSERT_OK(tp_bridge_init(&w.receiver, &cfg, NULL));
        PUMP_UNTIL(&w, NULL != tp_bridge_dest_producer(w.receiver, 0), 5000);
        TP_ASSERT(NULL != tp_bridge_dest_producer(w.receiver, 0));
        TP_ASSERT(tp_producer_epoch(tp_bridge_dest_producer(w.receiver, 0)) > old_epoch);
    }

    tp_publication_close(a_meta);
    tp_transport_close(ta);
    tp_consumer_close(cons);
    tp_producer_close(prod);
    tp_bridge_close(w.sender);
    tp_bridge_close(w.receiver);
    tp_subscription_close(w.b_meta);
    tp_subscription_close(w.b_ctrl);
    tp_transport_close(w.tb);
    tp_client_close(w.ca);
    tp_client_close(w.cb);
    tp_context_close(ctxa);
    tp_context_close(ctxb);
    if (NULL != w.driver_b)
    {
        tp_driver_close(w.driver_b);
    }
    tpc_driver_release(driver_a);
    tpc_driver_release(driver_b);
    tpc_dirs_remove(&da);
    tpc_dirs_remove(&db);
}

static void test_bridge_end_to_end(void)
{
    run_mode(false, false);
}

static void test_bridge_end_to_end_crc32c(void)
{
    run_mode(true, false);
}

/* Host B in driver mode: the destination producer attaches through B's SHM driver (§4). */
static void test_bridge_end_to_end_driver_mode(void)
{
    run_mode(false, true);
}

/* Bridge-channel input a receiver must drop and count, and a destination stream owned by another producer (§4). */
static void test_receiver_hostile_input_and_conflict(void)
{
    TPC_SKIP_ON_AERON("raw datagrams to the embedded UDP endpoints");
    tpc_dirs_t db;
    TP_ASSERT_OK(tpc_dirs_make(&db, "brh"));
    int ports[3] = { tpb_free_udp_port(), tpb_free_udp_port(), tpb_free_udp_port() };
    static char text[4096];
    static tp_bridge_config_t cfg;
    tpb_config_text(text, sizeof(text), "receiver", &db, ports, "", "aeron:ipc");
    tp_bridge_config_defaults(&cfg);
    TP_ASSERT_OK(tp_bridge_config_load_string(&cfg, text, strlen(text), "receiver.toml"));
    tp_bridge_t *rcv = NULL;
    TP_ASSERT_OK(tp_bridge_init(&rcv, &cfg, NULL));
    /* Another producer already owns destination stream 20000 on host B. */
    tp_context_t *ctxb = tpc_context(&db);
    tp_client_t *cb = NULL;
    TP_ASSERT_OK(tp_client_init(&cb, ctxb));
    tp_producer_config_t pc;
    tp_producer_config_defaults(&pc);
    pc.stream_id = 20000;
    pc.header_nslots = 64;
    tp_producer_t *other = NULL;
    TP_ASSERT_OK(tp_client_add_producer(&other, cb, &pc, 0));

    tp_transport_context_t tctx;
    tp_transport_context_init(&tctx);
    tp_transport_context_set_dir(&tctx, db.transport);
    tp_transport_t *t = NULL;
    TP_ASSERT_OK(tp_transport_init(&t, &tctx));
    char chan[128];
    tp_publication_t *pay = NULL;
    tp_publication_t *ctl = NULL;
    snprintf(chan, sizeof(chan), "aeron:udp?endpoint=127.0.0.1:%d", ports[0]);
    TP_ASSERT_OK(tp_transport_add_publication(&pay, t, chan, 50000, 0));
    snprintf(chan, sizeof(chan), "aeron:udp?endpoint=127.0.0.1:%d", ports[1]);
    TP_ASSERT_OK(tp_transport_add_publication(&ctl, t, chan, 50001, 0));
    uint64_t dl = tp_clock_mono_ns() + 5000000000ull;
    while ((!tp_publication_is_connected(pay) || !tp_publication_is_connected(ctl)) && tp_clock_mono_ns() < dl)
    {
        tp_bridge_do_work(rcv);
        tp_client_do_work(cb);
        tp_transport_do_work(t);
        tp_sleep_ns(1000000);
    }
    TP_ASSERT(tp_publication_is_connected(pay) && tp_publication_is_connected(ctl));

    /* A valid single-chunk frame of stream 10000 before any announce. */
    uint8_t header[256];
    memset(header, 0, sizeof(header));
    tp_sbe_put_u64(header, 1); /* seq 0, committed */
    tp_sbe_put_u32(header + 8, 16);
    tp_sbe_put_u16(header + 16, 1);
    tp_sbe_put_u32(header + 60, 192);
    tp_tensor_header_t th = { .dtype = TP_DTYPE_UINT8, .major_order = TP_MAJOR_ORDER_ROW, .ndims = 1 };
    th.dims[0] = 16;
    TP_ASSERT_OK(tp_tensor_header_encode(&th, header + 64, 192));
    uint8_t payload[16] = { 1, 2, 3 };
    tp_proto_bridge_chunk_view_t c = { .stream_id = 10000, .epoch = 1, .seq = 0, .chunk_index = 0, .chunk_count = 1,
        .chunk_length = 16, .payload_length = 16, .header_included = true, .header_bytes = { header, 256 },
        .payload = { payload, 16 } };
    uint8_t msg[1024];
    size_t len = 0;
    TP_ASSERT_OK(tp_proto_encode_bridge_chunk(msg, sizeof(msg), &c, &len));
    uint8_t garbage[40];
    memset(garbage, 0x77, sizeof(garbage));
    uint8_t fd[64];
    tp_sbe_wire_frame_descriptor_t fdm;
    TP_ASSERT_EQ_I64(TP_SBE_OK, tp_sbe_wire_frame_descriptor_wrap_and_apply_header(&fdm, fd, 0, sizeof(fd)));
    size_t fd_len = 8 + TP_SBE_WIRE_FRAME_DESCRIPTOR_BLOCK_LENGTH;
    /* A ShmPoolAnnounce of a stream no mapping has, and one of the mapped source. */
    tp_proto_shm_pool_announce_view_t a;
    memset(&a, 0, sizeof(a));
    a.stream_id = 999;
    a.producer_id = 5;
    a.epoch = 1;
    a.announce_clock_domain = TP_SBE_WIRE_CLOCK_DOMAIN_MONOTONIC;
    a.layout_version = 1;
    a.header_nslots = 64;
    a.header_slot_bytes = 256;
    a.pool_count = 1;
    a.pools[0] = (tp_proto_pool_view_t){ .pool_id = 1, .pool_nslots = 64, .stride_bytes = 4096,
        .region_uri = { "shm:file?path=/x", 16 } };
    a.header_region_uri = (tp_proto_str_t){ "shm:file?path=/y", 16 };
    uint8_t ann[1024];
    size_t ann_len = 0;
    TP_ASSERT_OK(tp_proto_encode_shm_pool_announce(ann, sizeof(ann), &a, &ann_len));
    TP_ASSERT(tp_publication_offer(pay, msg, len, NULL, NULL) > 0);
    TP_ASSERT(tp_publication_offer(pay, garbage, sizeof(garbage), NULL, NULL) > 0);
    TP_ASSERT(tp_publication_offer(pay, garbage, 3, NULL, NULL) > 0);
    TP_ASSERT(tp_publication_offer(pay, fd, fd_len, NULL, NULL) > 0);
    TP_ASSERT(tp_publication_offer(ctl, ann, ann_len, NULL, NULL) > 0);
    /* An announce of the mapped source with an impossible geometry: never used (BAD_ANNOUNCE). */
    a.stream_id = 10000;
    a.header_slot_bytes = 128;
    TP_ASSERT_OK(tp_proto_encode_shm_pool_announce(ann, sizeof(ann), &a, &ann_len));
    TP_ASSERT(tp_publication_offer(ctl, ann, ann_len, NULL, NULL) > 0);
    a.header_slot_bytes = 256;
    /* FrameProgress of an unknown stream, and of a mapping without progress forwarding: dropped (§9). */
    uint8_t fp[64];
    tp_sbe_wire_frame_progress_t fpm;
    TP_ASSERT_EQ_I64(TP_SBE_OK, tp_sbe_wire_frame_progress_wrap_and_apply_header(&fpm, fp, 0, sizeof(fp)));
    tp_sbe_wire_frame_progress_set_stream_id(&fpm, 999);
    tp_sbe_wire_frame_progress_set_state(&fpm, TP_SBE_WIRE_FRAME_PROGRESS_STATE_STARTED);
    size_t fp_len = 8 + TP_SBE_WIRE_FRAME_PROGRESS_BLOCK_LENGTH;
    TP_ASSERT(tp_publication_offer(ctl, fp, fp_len, NULL, NULL) > 0);
    tp_sbe_wire_frame_progress_set_stream_id(&fpm, 10000);
    TP_ASSERT(tp_publication_offer(ctl, fp, fp_len, NULL, NULL) > 0);
    tp_bridge_stats_t s;
    memset(&s, 0, sizeof(s));
    dl = tp_clock_mono_ns() + 5000000000ull;
    while (tp_clock_mono_ns() < dl && s.receiver.drops[TP_BRIDGE_DROP_NO_ANNOUNCE] == 0)
    {
        tp_bridge_do_work(rcv);
        tp_client_do_work(cb);
        tp_transport_do_work(t);
        tp_sleep_ns(1000000);
        tp_bridge_stats(rcv, &s);
    }
    a.stream_id = 10000;
    TP_ASSERT_OK(tp_proto_encode_shm_pool_announce(ann, sizeof(ann), &a, &ann_len));
    dl = tp_clock_mono_ns() + 5000000000ull;
    while (tp_clock_mono_ns() < dl && (s.receiver.drops[TP_BRIDGE_DROP_DEST_CONFLICT] == 0))
    {
        /* keep announcing the source and sending its frame: the destination must never be created */
        tp_publication_offer(ctl, ann, ann_len, NULL, NULL);
        c.seq++;
        tp_sbe_put_u64(header, (c.seq << 1) | 1u);
        TP_ASSERT_OK(tp_proto_encode_bridge_chunk(msg, sizeof(msg), &c, &len));
        tp_publication_offer(pay, msg, len, NULL, NULL);
        for (int k = 0; k < 20; k++)
        {
            tp_bridge_do_work(rcv);
            tp_client_do_work(cb);
            tp_transport_do_work(t);
            tp_sleep_ns(1000000);
        }
        tp_bridge_stats(rcv, &s);
    }
    char json[8192];
    tp_bridge_stats_json(&s, json, sizeof(json));
    fprintf(stderr, "  %s\n", json);
    TP_ASSERT(s.receiver.drops[TP_BRIDGE_DROP_NO_ANNOUNCE] >= 1);
    TP_ASSERT(s.receiver.drops[TP_BRIDGE_DROP_UNKNOWN_SCHEMA] >= 2); /* garbage and a FrameDescriptor */
    TP_ASSERT(s.receiver.drops[TP_BRIDGE_DROP_DECODE] >= 1);         /* 3 bytes: no message header */
    TP_ASSERT(s.receiver.drops[TP_BRIDGE_DROP_UNKNOWN_STREAM] >= 1);
    TP_ASSERT(s.receiver.drops[TP_BRIDGE_DROP_DEST_CONFLICT] >= 1);
    TP_ASSERT(s.receiver.drops[TP_BRIDGE_DROP_PROGRESS] >= 2);
    TP_ASSERT(s.receiver.drops[TP_BRIDGE_DROP_BAD_ANNOUNCE] >= 1);
    TP_ASSERT_EQ_U64(0, s.receiver.progress_published);
    TP_ASSERT(NULL == tp_bridge_dest_producer(rcv, 0));
    TP_ASSERT_EQ_U64(0, s.receiver.frames_published);
    tp_publication_close(pay);
    tp_publication_close(ctl);
    tp_transport_close(t);
    tp_bridge_close(rcv);
    tp_producer_close(other);
    tp_client_close(cb);
    tp_context_close(ctxb);
    tpc_dirs_remove(&db);
}

int main(void)
{
    TP_RUN(test_receiver_hostile_input_and_conflict);
    TP_RUN(test_bridge_end_to_end);
    TP_RUN(test_bridge_end_to_end_crc32c);
    TP_RUN(test_bridge_end_to_end_driver_mode);
    return tp_test_finish();
}
