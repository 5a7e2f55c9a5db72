/*
 * Rate limiter agent (RateLimiter spec v1.0): a real source producer -> the
 * agent -> a real destination consumer, in one thread (invoker mode), with
 * an injected clock for the rate slots: which frames pass is decided by the
 * fake clock only, never by wall-clock timing.
 */
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include <string.h>

#include "client/tp_client_test_util.h"
#include "client/tpc_children.h"
#include "protocol/tp_proto.h"
#include "ratelimit/tp_ratelimit.h"
#include "ratelimit/tp_ratelimit_internal.h"
#include "shm/tp_shm_epoch.h"
#include "client/tpc_faults.h"
#include "tensor_pool/tp_shm.h"

#define SRC_STREAM 10000u
#define DST_STREAM 10001u
#define MAX_RX 512

typedef struct rx_stct
{
    uint64_t seq;
    uint64_t epoch;
    uint64_t trace_id;
    uint64_t timestamp_ns;
    uint32_t meta_version;
    size_t length;
    bool payload_ok; /* bytes identical to what the source wrote for that seq */
} rx_t;

typedef struct env_stct
{
    tpc_dirs_t dirs;
    tp_context_t *ctx;
    tp_client_t *src_client;
    tp_producer_t *producer;
    tp_ratelimit_t *rl;
    tp_client_t *dst_client;
    tp_consumer_t *consumer;
    uint64_t now; /* the fake clock */
    rx_t rx[MAX_RX];
    size_t rx_count;
    uint64_t blobs;      /* meta blobs delivered to the destination consumer */
    uint64_t blobs_bad;
    uint32_t blob_version;
} env_t;

#define BLOB_LEN 100000u /* two MetaBlobChunks (64 KiB + rest) */
#define BLOB_TYPE 9u

static uint8_t blob_byte(size_t i)
{
    return (uint8_t)(i * 11u + 3u);
}

static void on_dest_blob(void *clientd, uint32_t meta_version, uint32_t blob_type, const uint8_t *data, size_t length)
{
    env_t *e = clientd;
    bool ok = BLOB_TYPE == blob_type && BLOB_LEN == length;
    for (size_t i = 0; ok && i < length; i++)
    {
        ok = blob_byte(i) == data[i];
    }
    e->blobs += ok ? 1 : 0;
    e->blobs_bad += ok ? 0 : 1;
    e->blob_version = meta_version;
}

static uint8_t pattern(uint64_t seq, size_t i)
{
    return (uint8_t)(seq * 31u + i * 7u + 1u);
}

static uint64_t fake_clock(void *clientd)
{
    return ((env_t *)clientd)->now;
}

static void on_dest_frame(void *clientd, const tp_frame_t *f)
{
    env_t *e = clientd;
    if (e->rx_count >= MAX_RX)
    {
        return;
    }
    rx_t *r = &e->rx[e->rx_count++];
    r->seq = f->seq;
    r->epoch = f->epoch;
    r->trace_id = f->trace_id;
    r->timestamp_ns = f->timestamp_ns;
    r->meta_version = f->meta_version;
    r->length = f->length;
    /* the source wrote pattern(source seq) with the source's seq numbering; the destination keeps the seq */
    r->payload_ok = true;
    for (size_t i = 0; i < f->length; i++)
    {
        if (f->payload[i] != pattern(f->seq, i))
        {
            r->payload_ok = false;
            break;
        }
    }
}

static void pump_once(env_t *e)
{
    int w = tp_client_do_work(e->src_client);
    w += tp_ratelimit_do_work(e->rl);
    w += tp_client_do_work(e->dst_client);
    if (w <= 0)
    {
        tp_sleep_ns(100000);
    }
}

#define PUMP_UNTIL(e, cond)                                                            \
    do                                                                                 \
    {                                                                                  \
        uint64_t deadline_ = tp_clock_mono_ns() + UINT64_C(10000000000);               \
        while (!(cond) && tp_clock_mono_ns() < deadline_)                              \
        {                                                                              \
            pump_once(e);                                                              \
        }                                                                              \
    } while (0)

/* A few more cycles so that anything wrongly published would show up. */
static void pump_settle(env_t *e)
{
    for (int i = 0; i < 50; i++)
    {
        pump_once(e);
    }
}

static tp_ratelimit_stats_t rl_stats(env_t *e)
{
    tp_ratelimit_stats_t s;
    memset(&s, 0, sizeof(s));
    tp_ratelimit_stats(e->rl, 0, &s);
    return s;
}

static uint64_t rl_frames_in(env_t *e)
{
    return rl_stats(e).frames_in;
}

static void base_config(tp_ratelimit_config_t *c, uint32_t rate_hz)
{
    tp_ratelimit_config_init(c);
    snprintf(c->instance_id, sizeof(c->instance_id), "test-rl");
    snprintf(c->descriptor_channel, sizeof(c->descriptor_channel), "aeron:ipc");
    c->descriptor_stream_id = 1101;
    c->mapping_count = 1;
    tp_ratelimit_mapping_defaults(&c->mappings[0]);
    c->mappings[0].source_stream_id = SRC_STREAM;
    c->mappings[0].dest_stream_id = DST_STREAM;
    c->mappings[0].max_rate_hz = rate_hz;
    c->mappings[0].max_rate_set = true;
    c->mappings[0].per_consumer = false; /* the configured rate governs (the consumer below sends max_rate_hz 0) */
}

static int env_open_faults(env_t *e, const tp_ratelimit_config_t *config, tpc_faults_t *dest_faults);

static int env_open(env_t *e, const tp_ratelimit_config_t *config)
{
    return env_open_faults(e, config, NULL);
}

/* With `dest_faults`, the rate limiter's destination client injects them (its descriptor publication). */
static int env_open_faults(env_t *e, const tp_ratelimit_config_t *config, tpc_faults_t *dest_faults)
{
    memset(e, 0, sizeof(*e));
    e->now = UINT64_C(1000000000000);
    if (tpc_dirs_make(&e->dirs, "rl") < 0 || NULL == (e->ctx = tpc_context(&e->dirs)))
    {
        return -1;
    }
    if (tp_client_init(&e->src_client, e->ctx) < 0 || tp_client_start(e->src_client) < 0)
    {
        return -1;
    }
    tp_producer_config_t pc;
    tp_producer_config_defaults(&pc);
    pc.stream_id = SRC_STREAM;
    pc.header_nslots = 64;
    pc.pools[0].stride_bytes = 65536;
    if (tp_client_add_producer(&e->producer, e->src_client, &pc, 0) < 0)
    {
        return -1;
    }
    tp_context_t *rl_dctx = NULL;
    if (NULL != dest_faults)
    {
        rl_dctx = tpc_context(&e->dirs);
        if (NULL == rl_dctx ||
            tp_context_set_stream(rl_dctx, TP_STREAM_DESCRIPTOR, config->descriptor_channel,
                (int32_t)config->descriptor_stream_id) < 0 ||
            tpc_faults_install(dest_faults, rl_dctx) < 0)
        {
            tp_context_close(rl_dctx);
            return -1;
        }
    }
    int rc = tp_rl_init(&e->rl, config, e->ctx, rl_dctx);
    tp_context_close(rl_dctx);
    if (rc < 0)
    {
        fprintf(stderr, "tp_ratelimit_init: %s\n", tp_errmsg());
        return -1;
    }
    tp_ratelimit_set_clock(e->rl, fake_clock, e);
    /* the destination consumer reads descriptors from the rate limiter's descriptor stream */
    tp_context_t *dctx = tpc_context(&e->dirs);
    if (NULL == dctx || tp_context_set_stream(dctx, TP_STREAM_DESCRIPTOR, config->descriptor_channel,
                            (int32_t)config->descriptor_stream_id) < 0 ||
        tp_client_init(&e->dst_client, dctx) < 0 || tp_client_start(e->dst_client) < 0)
    {
        tp_context_close(dctx);
        return -1;
    }
    tp_context_close(dctx);
    tp_consumer_config_t cc;
    tp_consumer_config_defaults(&cc);
    cc.stream_id = DST_STREAM;
    cc.on_frame = on_dest_frame;
    cc.on_meta_blob = on_dest_blob;
    cc.clientd = e;
    if (tp_client_add_consumer(&e->consumer, e->dst_client, &cc, 0) < 0)
    {
        return -1;
    }
    PUMP_UNTIL(e, tp_consumer_is_mapped(e->consumer) && tp_consumer_is_mapped(tp_ratelimit_source_consumer(e->rl, 0)));
    return tp_consumer_is_mapped(e->consumer) && tp_consumer_is_mapped(tp_ratelimit_source_consumer(e->rl, 0)) ? 0
                                                                                                            : -1;
}

static void env_close(env_t *e)
{
    if (e->consumer)
    {
        tp_consumer_close(e->consumer);
    }
    tp_client_close(e->dst_client);
    tp_ratelimit_close(e->rl);
    if (e->producer)
    {
        tp_producer_close(e->producer);
    }
    tp_client_close(e->src_client);
    tp_context_close(e->ctx);
    tpc_dirs_remove(&e->dirs);
}

/* Offer frame `seq` (the producer's next) of `len` bytes with trace id and timestamp derived from seq. */
static int64_t offer(env_t *e, size_t len)
{
    static uint8_t buf[65536];
    uint64_t seq = tp_producer_next_seq(e->producer);
    for (size_t i = 0; i < len; i++)
    {
        buf[i] = pattern(seq, i);
    }
    tp_frame_options_t o = { .timestamp_ns = 5000 + seq, .trace_id = 0xABC00000u + seq };
    return tp_producer_offer(e->producer, NULL, buf, len, &o);
}

/* Offer and wait until the rate limiter has seen it. */
static void offer_seen(env_t *e, size_t len)
{
    uint64_t before = rl_frames_in(e);
    TP_ASSERT(offer(e, len) >= 0);
    PUMP_UNTIL(e, rl_frames_in(e) > before);
}

/* §4: first frame at once; then at most one per slot, the newest when the slot opens; seq gaps (§4, §5). */
static void test_latest_frame_per_slot(void)
{
    env_t e;
    tp_ratelimit_config_t c;
    base_config(&c, 10); /* 100 ms slots */
    TP_ASSERT_OK(env_open(&e, &c));
    offer_seen(&e, 1000); /* seq 0: eligible immediately */
    PUMP_UNTIL(&e, e.rx_count >= 1);
    TP_ASSERT_EQ_U64(1, e.rx_count);
    offer_seen(&e, 1000); /* seq 1, 2, 3 in the same slot: only the newest survives */
    offer_seen(&e, 2000);
    offer_seen(&e, 3000);
    pump_settle(&e);
    TP_ASSERT_EQ_U64(1, e.rx_count); /* slot still closed */
    tp_ratelimit_stats_t s = rl_stats(&e);
    TP_ASSERT_EQ_U64(4, s.frames_in);
    TP_ASSERT_EQ_U64(1, s.frames_out);
    TP_ASSERT_EQ_U64(2, s.drops[TP_RATELIMIT_DROP_RATE]);
    e.now += 99999999; /* 1 ns before the slot opens */
    pump_settle(&e);
    TP_ASSERT_EQ_U64(1, e.rx_count);
    e.now += 1;
    PUMP_UNTIL(&e, e.rx_count >= 2);
    TP_ASSERT_EQ_U64(2, e.rx_count);
    TP_ASSERT_EQ_U64(0, e.rx[0].seq);
    TP_ASSERT_EQ_U64(3, e.rx[1].seq); /* the most recent frame; 1 and 2 are a gap */
    TP_ASSERT_EQ_U64(3000, e.rx[1].length);
    TP_ASSERT(e.rx[0].payload_ok && e.rx[1].payload_ok);
    TP_ASSERT_EQ_U64(0xABC00003u, e.rx[1].trace_id);   /* TraceLink §6.3: 1->1 stage keeps trace_id */
    TP_ASSERT_EQ_U64(5003, e.rx[1].timestamp_ns);       /* §5: timestamp preserved */
    /* next slot: 100 ms after the publication; a frame arriving mid-slot waits for it */
    e.now += 50000000;
    offer_seen(&e, 10);
    pump_settle(&e);
    TP_ASSERT_EQ_U64(2, e.rx_count);
    e.now += 50000000;
    PUMP_UNTIL(&e, e.rx_count >= 3);
    TP_ASSERT_EQ_U64(3, e.rx_count);
    TP_ASSERT_EQ_U64(4, e.rx[2].seq);
    tp_consumer_stats_t cs;
    tp_consumer_stats(e.consumer, &cs);
    TP_ASSERT_EQ_U64(2, cs.drops_gap); /* seq 1 and 2 never published: gaps on the destination */
    /* idle slot: nothing staged, nothing published */
    e.now += 1000000000;
    pump_settle(&e);
    TP_ASSERT_EQ_U64(3, e.rx_count);
    env_close(&e);
}

/* §4: max_rate_hz = 0 passes every frame, same seq, same bytes. */
static void test_unlimited_passes_everything(void)
{
    env_t e;
    tp_ratelimit_config_t c;
    base_config(&c, 0);
    TP_ASSERT_OK(env_open(&e, &c));
    for (int i = 0; i < 40; i++)
    {
        offer_seen(&e, (size_t)(64 + i * 100));
    }
    PUMP_UNTIL(&e, e.rx_count >= 40);
    TP_ASSERT_EQ_U64(40, e.rx_count);
    for (size_t i = 0; i < e.rx_count; i++)
    {
        TP_ASSERT_EQ_U64(i, e.rx[i].seq);
        TP_ASSERT_EQ_U64(64 + i * 100, e.rx[i].length);
        TP_ASSERT(e.rx[i].payload_ok);
        TP_ASSERT_EQ_U64(0xABC00000u + i, e.rx[i].trace_id);
    }
    tp_ratelimit_stats_t s = rl_stats(&e);
    TP_ASSERT_EQ_U64(40, s.frames_out);
    for (int r = 0; r < TP_RATELIMIT_DROP_COUNT; r++)
    {
        TP_ASSERT_EQ_U64(0, s.drops[r]);
    }
    env_close(&e);
}

/* §5: seq of the destination descriptor equals the source seq and seq_commit >> 1 in the destination header. */
static void test_seq_preserved_in_dest_header(void)
{
    env_t e;
    tp_ratelimit_config_t c;
    base_config(&c, 0);
    TP_ASSERT_OK(env_open(&e, &c));
    /* skip source seqs 0..9 by publishing them while the rate limiter does not run */
    for (int i = 0; i < 10; i++)
    {
        TP_ASSERT(offer(&e, 100) >= 0);
    }
    PUMP_UNTIL(&e, e.rx_count >= 10);
    TP_ASSERT_EQ_U64(10, e.rx_count);
    TP_ASSERT_EQ_U64(10, tp_producer_next_seq(tp_ratelimit_dest_producer(e.rl, 0)));
    /* the destination header of the last frame: seq_commit >> 1 == seq (read it through the SHM layer) */
    char path[1024];
    snprintf(path, sizeof(path), "%s/header.ring", tp_producer_epoch_dir(tp_ratelimit_dest_producer(e.rl, 0)));
    tp_shm_region_t *ring = NULL;
    TP_ASSERT_OK(tp_shm_region_map_inspect(&ring, path));
    tp_shm_slot_header_t h;
    TP_ASSERT_EQ_I64(TP_DROP_NONE, tp_shm_slot_read(ring, 9, &h));
    TP_ASSERT_EQ_U64(9, h.seq_commit >> 1);
    TP_ASSERT_EQ_U64(1, h.seq_commit & 1);
    TP_ASSERT_EQ_U64(5009, h.timestamp_ns);
    tp_shm_region_close(ring);
    env_close(&e);
}

/* Test hook: the source producer laps its 64-slot ring while the rate limiter holds a copied frame. */
static int overwrite_armed;

static void overwrite_source(void *clientd, const tp_frame_t *f)
{
    env_t *e = clientd;
    (void)f;
    if (overwrite_armed)
    {
        overwrite_armed = 0;
        for (int i = 0; i < 64; i++)
        {
            (void)offer(e, 100);
        }
    }
}

/* §5 (RL17): a source slot overwritten while the agent copied it is dropped (source_late), never republished. */
static void test_source_overwritten_during_copy(void)
{
    env_t e;
    tp_ratelimit_config_t c;
    base_config(&c, 0);
    TP_ASSERT_OK(env_open(&e, &c));
    e.rl->test_after_copy = overwrite_source;
    e.rl->test_after_copy_clientd = &e;
    overwrite_armed = 1;
    uint64_t first = tp_producer_next_seq(e.producer);
    offer_seen(&e, 100);
    TP_ASSERT_EQ_I64(0, overwrite_armed);
    PUMP_UNTIL(&e, rl_stats(&e).drops[TP_RATELIMIT_DROP_SOURCE_LATE] > 0);
    pump_settle(&e);
    tp_ratelimit_stats_t s = rl_stats(&e);
    TP_ASSERT_EQ_U64(1, s.drops[TP_RATELIMIT_DROP_SOURCE_LATE]);
    for (size_t i = 0; i < e.rx_count; i++)
    {
        TP_ASSERT(e.rx[i].seq != first); /* the torn copy never reached the destination */
        TP_ASSERT(e.rx[i].payload_ok);
    }
    /* later frames still pass */
    size_t before = e.rx_count;
    offer_seen(&e, 100);
    PUMP_UNTIL(&e, e.rx_count > before);
    TP_ASSERT(e.rx_count > before);
    TP_ASSERT(e.rx[e.rx_count - 1].payload_ok);
    env_close(&e);
}

/* §5: a payload larger than every destination pool is dropped and counted; smaller ones still pass. */
static void test_dest_too_small_counted(void)
{
    env_t e;
    tp_ratelimit_config_t c;
    base_config(&c, 0);
    c.mappings[0].pools[0].stride_bytes = 1024;
    TP_ASSERT_OK(env_open(&e, &c));
    offer_seen(&e, 4096);
    offer_seen(&e, 1024);
    PUMP_UNTIL(&e, e.rx_count >= 1);
    pump_settle(&e);
    tp_ratelimit_stats_t s = rl_stats(&e);
    TP_ASSERT_EQ_U64(1, s.drops[TP_RATELIMIT_DROP_DEST_TOO_SMALL]);
    TP_ASSERT_EQ_U64(1, s.frames_out);
    TP_ASSERT_EQ_U64(1, e.rx_count);
    TP_ASSERT_EQ_U64(1, e.rx[0].seq);
    TP_ASSERT(e.rx[0].payload_ok);
    env_close(&e);
}

/* Epoch the rate limiter's source consumer has mapped. */
static uint64_t source_epoch_of(env_t *e)
{
    tp_consumer_stats_t cs;
    memset(&cs, 0, sizeof(cs));
    tp_consumer_stats(tp_ratelimit_source_consumer(e->rl, 0), &cs);
    return cs.epoch;
}

/* §5: a destination slot that cannot be claimed now is dropped and counted; the agent never waits and goes on. */
static void test_unclaimable_slot_dropped(void)
{
    static tpc_faults_t faults; /* must outlive the destination client */
    memset(&faults, 0, sizeof(faults));
    env_t e;
    tp_ratelimit_config_t c;
    base_config(&c, 0);
    TP_ASSERT_OK(env_open_faults(&e, &c, &faults));
    offer_seen(&e, 100); /* seq 0 */
    PUMP_UNTIL(&e, e.rx_count >= 1);
    /* the next descriptor claim of the destination fails: seq 1 stays queued (committed later by a flush), and
       seq 2, in the same duty cycle, finds the producer still busy with it: dropped, not waited for */
    atomic_store(&faults.fail_try_claims, 1);
    TP_ASSERT(offer(&e, 100) >= 0);
    TP_ASSERT(offer(&e, 100) >= 0);
    PUMP_UNTIL(&e, rl_frames_in(&e) >= 3);
    offer_seen(&e, 100); /* seq 3: the agent went on */
    PUMP_UNTIL(&e, e.rx_count >= 3);
    pump_settle(&e);
    tp_ratelimit_stats_t s = rl_stats(&e);
    TP_ASSERT_EQ_U64(4, s.frames_in);
    TP_ASSERT_EQ_U64(1, s.drops[TP_RATELIMIT_DROP_CLAIM]);
    TP_ASSERT_EQ_U64(3, s.frames_out);
    TP_ASSERT_EQ_U64(3, e.rx_count);
    TP_ASSERT_EQ_U64(0, e.rx[0].seq);
    TP_ASSERT_EQ_U64(1, e.rx[1].seq);
    TP_ASSERT_EQ_U64(3, e.rx[2].seq);
    TP_ASSERT(e.rx[1].payload_ok && e.rx[2].payload_ok);
    env_close(&e);
}

/* §7: a source epoch change drops the in-flight frame, moves the destination to a new epoch, resets the timer. */
static void test_epoch_change_resets_timer(void)
{
    env_t e;
    tp_ratelimit_config_t c;
    base_config(&c, 10);
    TP_ASSERT_OK(env_open(&e, &c));
    offer_seen(&e, 500);
    PUMP_UNTIL(&e, e.rx_count >= 1);
    offer_seen(&e, 500); /* seq 1 staged: its slot is 100 ms away */
    uint64_t dest_epoch = rl_stats(&e).dest_epoch;
    uint64_t src_epoch = tp_producer_epoch(e.producer);
    tp_producer_layout_t l;
    TP_ASSERT_OK(tp_producer_layout(e.producer, &l));
    TP_ASSERT_OK(tp_producer_change_layout(e.producer, &l));
    TP_ASSERT(tp_producer_epoch(e.producer) > src_epoch);
    PUMP_UNTIL(&e, source_epoch_of(&e) == tp_producer_epoch(e.producer));
    TP_ASSERT_EQ_U64(tp_producer_epoch(e.producer), source_epoch_of(&e));
    offer_seen(&e, 700); /* new epoch, seq 0: the clock has not moved, yet it passes at once */
    tp_ratelimit_stats_t s = rl_stats(&e);
    TP_ASSERT_EQ_U64(1, s.source_epoch_changes);
    TP_ASSERT_EQ_U64(1, s.drops[TP_RATELIMIT_DROP_EPOCH]); /* seq 1 of the old epoch, in flight */
    TP_ASSERT(s.dest_epoch > dest_epoch);
    TP_ASSERT_EQ_U64(tp_producer_epoch(e.producer), s.source_epoch);
    PUMP_UNTIL(&e, e.rx_count >= 2);
    TP_ASSERT_EQ_U64(2, e.rx_count);
    TP_ASSERT_EQ_U64(0, e.rx[1].seq);
    TP_ASSERT_EQ_U64(700, e.rx[1].length);
    TP_ASSERT_EQ_U64(s.dest_epoch, e.rx[1].epoch);
    TP_ASSERT(e.rx[1].payload_ok);
    env_close(&e);
}

/*
 * Set the source's "camera" attribute twice (so that the source meta_version differs from the destination
 * producer's own start value). Returns the meta_version, or -1.
 */
static int64_t set_camera_metadata(env_t *e, const uint8_t *value, size_t length)
{
    const char *keys[] = { "camera" };
    const char *formats[] = { "text" };
    const uint8_t *values[] = { value };
    uint32_t lens[] = { (uint32_t)length };
    if (tp_producer_set_metadata(e->producer, 1, keys, formats, values, lens) <= 0)
    {
        return -1;
    }
    return tp_producer_set_metadata(e->producer, 1, keys, formats, values, lens);
}

/* §6: DataSourceMeta forwarded with stream_id rewritten, meta_version preserved (also in the slot header). */
static void test_metadata_forwarded(void)
{
    env_t e;
    tp_ratelimit_config_t c;
    base_config(&c, 0);
    TP_ASSERT_OK(env_open(&e, &c));
    const uint8_t value[] = "front-left";
    int64_t mv = set_camera_metadata(&e, value, sizeof(value));
    TP_ASSERT(mv >= 2);
    char buf[64];
    uint32_t got_version = 0;
    PUMP_UNTIL(&e, tp_consumer_metadata(e.consumer, "camera", buf, sizeof(buf), &got_version) > 0 &&
                       got_version == (uint32_t)mv);
    int n = tp_consumer_metadata(e.consumer, "camera", buf, sizeof(buf), &got_version);
    TP_ASSERT_EQ_I64((int64_t)sizeof(value), n);
    TP_ASSERT(0 == memcmp(buf, value, sizeof(value)));
    TP_ASSERT_EQ_U64((uint64_t)mv, got_version);
    TP_ASSERT(rl_stats(&e).metadata_forwarded > 0);
    offer_seen(&e, 256);
    PUMP_UNTIL(&e, e.rx_count >= 1);
    TP_ASSERT_EQ_U64(1, e.rx_count);
    TP_ASSERT_EQ_U64((uint64_t)mv, e.rx[0].meta_version);
    env_close(&e);
}

/* §6 + wire §10.3.3: a source meta blob reaches the destination consumer, meta_version kept (DECISIONS BRL-1). */
static void test_meta_blob_forwarded(void)
{
    env_t e;
    tp_ratelimit_config_t c;
    base_config(&c, 0);
    TP_ASSERT_OK(env_open(&e, &c));
    const uint8_t value[] = "rear";
    int64_t mv = set_camera_metadata(&e, value, sizeof(value));
    TP_ASSERT(mv >= 2);
    static uint8_t blob[BLOB_LEN];
    for (size_t i = 0; i < BLOB_LEN; i++)
    {
        blob[i] = blob_byte(i);
    }
    uint64_t forwarded = rl_stats(&e).metadata_forwarded;
    TP_ASSERT_OK(tp_producer_publish_meta_blob(e.producer, BLOB_TYPE, blob, BLOB_LEN));
    PUMP_UNTIL(&e, e.blobs > 0);
    TP_ASSERT_MSG(e.blobs > 0, "the destination consumer never received the forwarded meta blob");
    TP_ASSERT_EQ_U64(1, e.blobs);
    TP_ASSERT_EQ_U64(0, e.blobs_bad);
    TP_ASSERT_EQ_U64((uint64_t)mv, e.blob_version);
    /* announce + 2 chunks + complete went through the forwarder (besides any DataSource* repeats) */
    TP_ASSERT(rl_stats(&e).metadata_forwarded >= forwarded + 4);
    env_close(&e);
}

/* §4 per-consumer: ConsumerHello.max_rate_hz governs; a second consumer is not aggregated (ignored, counted). */
static void test_consumer_hello_governs(void)
{
    env_t e;
    tp_ratelimit_config_t c;
    base_config(&c, 50);
    c.mappings[0].per_consumer = true;
    TP_ASSERT_OK(env_open(&e, &c));
    /* the consumer of env_open sends max_rate_hz 0 (STREAM): unlimited */
    PUMP_UNTIL(&e, rl_stats(&e).consumer_id != 0);
    tp_ratelimit_stats_t s = rl_stats(&e);
    TP_ASSERT_EQ_U64(tp_consumer_id(e.consumer), s.consumer_id);
    TP_ASSERT_EQ_U64(0, s.rate_hz);
    /* a second consumer asking for 5 Hz: ignored, the first still governs */
    tp_consumer_config_t cc;
    tp_consumer_config_defaults(&cc);
    cc.stream_id = DST_STREAM;
    cc.on_frame = on_dest_frame;
    cc.clientd = &e;
    cc.mode = TP_CONSUMER_MODE_RATE_LIMITED;
    cc.max_rate_hz = 5;
    tp_consumer_t *second = NULL;
    TP_ASSERT_OK(tp_client_add_consumer(&second, e.dst_client, &cc, 0));
    PUMP_UNTIL(&e, rl_stats(&e).hellos_ignored >= 2);
    s = rl_stats(&e);
    TP_ASSERT(s.hellos_ignored >= 2);
    TP_ASSERT_EQ_U64(tp_consumer_id(e.consumer), s.consumer_id);
    TP_ASSERT_EQ_U64(0, s.rate_hz);
    /*
     * The first consumer leaves: once it is stale, the second one's 5 Hz governs. Staleness is judged on the
     * agent's clock, moved by 60 s. A hello the first consumer sent before it closed can still be in flight (its
     * client runs on its own thread) and make it govern again, fresh on the agent's clock: the clock moves on
     * again whenever the first one governs.
     */
    uint64_t first_id = tp_consumer_id(e.consumer);
    tp_consumer_close(e.consumer);
    e.consumer = NULL;
    uint64_t deadline = tp_clock_mono_ns() + UINT64_C(10000000000);
    while (rl_stats(&e).consumer_id != tp_consumer_id(second) && tp_clock_mono_ns() < deadline)
    {
        if (rl_stats(&e).consumer_id == first_id)
        {
            e.now += UINT64_C(60000000000);
        }
        pump_once(&e);
    }
    s = rl_stats(&e);
    TP_ASSERT_EQ_U64(tp_consumer_id(second), s.consumer_id);
    TP_ASSERT_EQ_U64(5, s.rate_hz);
    tp_consumer_close(second);
    env_close(&e);
}

/* §4 per-consumer: with no hello the mapping's configured rate applies. */
static void test_fallback_rate_without_hello(void)
{
    env_t e;
    tp_ratelimit_config_t c;
    base_config(&c, 25);
    TP_ASSERT_OK(env_open(&e, &c)); /* per_consumer = false: hellos never govern */
    pump_settle(&e);
    tp_ratelimit_stats_t s = rl_stats(&e);
    TP_ASSERT_EQ_U64(25, s.rate_hz);
    TP_ASSERT_EQ_U64(0, s.consumer_id);
    TP_ASSERT_EQ_U64(0, s.hellos);
    env_close(&e);
}

typedef struct fwd_rx_stct
{
    uint32_t progress_stream_id;
    uint64_t progress_seq;
    uint64_t progress_epoch;
    uint32_t qos_stream_id;
    int progress_count;
    int qos_count;
} fwd_rx_t;

static void on_forwarded(void *clientd, const uint8_t *buffer, size_t length, const tp_header_t *header)
{
    (void)header;
    fwd_rx_t *r = clientd;
    tp_proto_frame_progress_view_t pv;
    tp_proto_qos_producer_view_t qv;
    if (0 == tp_proto_decode_frame_progress(buffer, length, &pv))
    {
        r->progress_stream_id = pv.stream_id;
        r->progress_seq = pv.seq;
        r->progress_epoch = pv.epoch;
        r->progress_count++;
    }
    else if (0 == tp_proto_decode_qos_producer(buffer, length, &qv))
    {
        r->qos_stream_id = qv.stream_id;
        r->qos_count++;
    }
}

/* §6.1: FrameProgress and QosProducer forwarded on the destination ids, streamId rewritten, seq preserved. */
static void test_progress_and_qos_forwarded(void)
{
    env_t e;
    tp_ratelimit_config_t c;
    base_config(&c, 0);
    c.forward_progress = true;
    snprintf(c.control_channel, sizeof(c.control_channel), "aeron:ipc");
    c.source_control_stream_id = 1000; /* the clients' control stream */
    c.dest_control_stream_id = 1001;
    c.forward_qos = true;
    snprintf(c.qos_channel, sizeof(c.qos_channel), "aeron:ipc");
    c.source_qos_stream_id = 1200; /* the clients' QoS stream: the source producer's QosProducer */
    c.dest_qos_stream_id = 1201;
    TP_ASSERT_OK(env_open(&e, &c));
    offer_seen(&e, 100); /* the rate limiter now mirrors the source epoch */
    tp_transport_context_t tctx;
    tp_transport_context_init(&tctx);
    tp_transport_context_set_dir(&tctx, e.dirs.transport);
    tp_transport_t *t = NULL;
    TP_ASSERT_OK(tp_transport_init(&t, &tctx));
    tp_subscription_t *sub_progress = NULL;
    tp_subscription_t *sub_qos = NULL;
    tp_publication_t *pub = NULL;
    TP_ASSERT_OK(tp_transport_add_subscription(&sub_progress, t, "aeron:ipc", 1001, NULL, NULL, NULL, NULL, 0));
    TP_ASSERT_OK(tp_transport_add_subscription(&sub_qos, t, "aeron:ipc", 1201, NULL, NULL, NULL, NULL, 0));
    TP_ASSERT_OK(tp_transport_add_publication(&pub, t, "aeron:ipc", 1000, 0));
    uint8_t buf[128];
    tp_sbe_wire_frame_progress_t m;
    TP_ASSERT_EQ_I64(TP_SBE_OK, tp_sbe_wire_frame_progress_wrap_and_apply_header(&m, buf, 0, sizeof(buf)));
    tp_sbe_wire_frame_progress_set_stream_id(&m, SRC_STREAM);
    tp_sbe_wire_frame_progress_set_epoch(&m, tp_producer_epoch(e.producer));
    tp_sbe_wire_frame_progress_set_seq(&m, 77);
    tp_sbe_wire_frame_progress_set_payload_bytes_filled(&m, 10);
    tp_sbe_wire_frame_progress_set_state(&m, TP_SBE_WIRE_FRAME_PROGRESS_STATE_PROGRESS);
    size_t len = TP_SBE_MESSAGE_HEADER_LENGTH + tp_sbe_wire_frame_progress_encoded_length(&m);
    fwd_rx_t r;
    memset(&r, 0, sizeof(r));
    uint64_t deadline = tp_clock_mono_ns() + UINT64_C(10000000000);
    while ((0 == r.progress_count || 0 == r.qos_count) && tp_clock_mono_ns() < deadline)
    {
        if (0 == r.progress_count)
        {
            tp_publication_offer(pub, buf, len, NULL, NULL);
        }
        pump_once(&e);
        tp_transport_do_work(t);
        tp_subscription_poll(sub_progress, on_forwarded, &r, 16);
        tp_subscription_poll(sub_qos, on_forwarded, &r, 16);
    }
    TP_ASSERT(r.progress_count > 0);
    TP_ASSERT_EQ_U64(DST_STREAM, r.progress_stream_id);
    TP_ASSERT_EQ_U64(77, r.progress_seq);
    TP_ASSERT_EQ_U64(rl_stats(&e).dest_epoch, r.progress_epoch);
    TP_ASSERT(r.qos_count > 0);
    TP_ASSERT_EQ_U64(DST_STREAM, r.qos_stream_id);
    tp_ratelimit_stats_t s = rl_stats(&e);
    TP_ASSERT(s.progress_forwarded > 0 && s.qos_forwarded > 0);
    tp_transport_close(t);
    env_close(&e);
}

static void on_meta_raw(void *clientd, const uint8_t *buffer, size_t length, const tp_header_t *header)
{
    (void)header;
    tp_proto_data_source_meta_view_t v;
    if (0 == tp_proto_decode_data_source_meta(buffer, length, &v) && 10101u == v.stream_id)
    {
        *(uint32_t *)clientd = v.meta_version;
    }
}

/* §6: with metadata_stream_id configured, forwarded metadata carries that stream id. */
static void test_metadata_stream_id(void)
{
    env_t e;
    tp_ratelimit_config_t c;
    base_config(&c, 0);
    c.mappings[0].metadata_stream_id = 10101;
    TP_ASSERT_OK(env_open(&e, &c));
    tp_transport_context_t tctx;
    tp_transport_context_init(&tctx);
    tp_transport_context_set_dir(&tctx, e.dirs.transport);
    tp_transport_t *t = NULL;
    TP_ASSERT_OK(tp_transport_init(&t, &tctx));
    tp_subscription_t *sub = NULL;
    TP_ASSERT_OK(tp_transport_add_subscription(&sub, t, tp_context_get_stream_channel(e.ctx, TP_STREAM_METADATA),
        tp_context_get_stream_id(e.ctx, TP_STREAM_METADATA), NULL, NULL, NULL, NULL, 0));
    const char *keys[] = { "k" };
    const char *formats[] = { "text" };
    const uint8_t value[] = "v";
    const uint8_t *values[] = { value };
    uint32_t lens[] = { 1 };
    int64_t mv = tp_producer_set_metadata(e.producer, 1, keys, formats, values, lens);
    TP_ASSERT(mv > 0);
    uint32_t got = 0;
    uint64_t deadline = tp_clock_mono_ns() + UINT64_C(10000000000);
    while (got != (uint32_t)mv && tp_clock_mono_ns() < deadline)
    {
        pump_once(&e);
        tp_transport_do_work(t);
        tp_subscription_poll(sub, on_meta_raw, &got, 16);
    }
    TP_ASSERT_EQ_U64((uint64_t)mv, got);
    tp_transport_close(t);
    env_close(&e);
}

static uint64_t dest_consumer_epoch(env_t *e)
{
    tp_consumer_stats_t cs;
    memset(&cs, 0, sizeof(cs));
    tp_consumer_stats(e->consumer, &cs);
    return cs.epoch;
}

/* §7: the destination epoch is the rate limiter's own and a restart takes a higher one. */
static void test_dest_epoch_incremented_on_restart(void)
{
    env_t e;
    tp_ratelimit_config_t c;
    base_config(&c, 0);
    TP_ASSERT_OK(env_open(&e, &c));
    uint64_t first = rl_stats(&e).dest_epoch;
    TP_ASSERT(first >= 1);
    tp_ratelimit_close(e.rl);
    e.rl = NULL;
    TP_ASSERT_OK(tp_ratelimit_init(&e.rl, &c, e.ctx));
    tp_ratelimit_set_clock(e.rl, fake_clock, &e);
    TP_ASSERT(rl_stats(&e).dest_epoch > first);
    TP_ASSERT_EQ_U64(0, rl_stats(&e).source_epoch); /* no frame yet: the first one will be eligible at once */
    /* the consumer follows the new epoch; the first frame after the restart passes at once */
    PUMP_UNTIL(&e, tp_consumer_is_mapped(tp_ratelimit_source_consumer(e.rl, 0)) &&
                       dest_consumer_epoch(&e) == rl_stats(&e).dest_epoch);
    offer_seen(&e, 64);
    PUMP_UNTIL(&e, e.rx_count >= 1);
    TP_ASSERT_EQ_U64(1, e.rx_count);
    TP_ASSERT_EQ_U64(rl_stats(&e).dest_epoch, e.rx[0].epoch);
    env_close(&e);
}

/* RL-5: a source that restarts under the same epoch number (seq goes back) is a remap, not a stream of drops. */
static void test_source_restart_same_epoch(void)
{
    env_t e;
    tp_ratelimit_config_t c;
    base_config(&c, 0);
    TP_ASSERT_OK(env_open(&e, &c));
    for (int i = 0; i < 5; i++)
    {
        offer_seen(&e, 64);
    }
    PUMP_UNTIL(&e, e.rx_count >= 5);
    uint64_t epoch = tp_producer_epoch(e.producer);
    uint64_t dest_epoch = rl_stats(&e).dest_epoch;
    char marker[PATH_MAX];
    snprintf(marker, sizeof(marker), "%s", tp_producer_epoch_dir(e.producer));
    char *slash = strrchr(marker, '/');
    TP_ASSERT(NULL != slash);
    snprintf(slash + 1, sizeof(marker) - (size_t)(slash + 1 - marker), "%s", TP_SHM_EPOCH_MARKER);
    TP_ASSERT_OK(tp_producer_close(e.producer)); /* removes its epoch directory */
    e.producer = NULL;
    /* Our producers never reuse an epoch (the stream's epoch marker, DECISIONS EF-1); removing the marker stands in
     * for a source whose implementation does (another vendor, an older build), which is what RL-5 is about. */
    TP_ASSERT_OK(unlink(marker));
    tp_producer_config_t pc;
    tp_producer_config_defaults(&pc);
    pc.stream_id = SRC_STREAM;
    pc.header_nslots = 64;
    TP_ASSERT_OK(tp_client_add_producer(&e.producer, e.src_client, &pc, 0));
    TP_ASSERT_EQ_U64(epoch, tp_producer_epoch(e.producer));
    /* once the source consumer follows the new producer, its seq 0.. pass again */
    uint64_t deadline = tp_clock_mono_ns() + UINT64_C(20000000000);
    while (rl_stats(&e).frames_out < 7 && tp_clock_mono_ns() < deadline)
    {
        offer(&e, 64);
        for (int i = 0; i < 20; i++)
        {
            pump_once(&e);
        }
    }
    tp_ratelimit_stats_t s = rl_stats(&e);
    TP_ASSERT(s.frames_out >= 7);
    TP_ASSERT(s.source_epoch_changes >= 1);
    TP_ASSERT(s.dest_epoch > dest_epoch);
    env_close(&e);
}

/* §3: the destination stream must not be one of the source streams; one producer per destination. */
static void test_config_rejects_source_as_dest(void)
{
    tp_ratelimit_config_t c;
    base_config(&c, 0);
    c.mappings[0].dest_stream_id = SRC_STREAM;
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_ratelimit_config_validate(&c));
    base_config(&c, 0);
    c.mapping_count = 2;
    c.mappings[1] = c.mappings[0];
    c.mappings[1].source_stream_id = 20000;
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_ratelimit_config_validate(&c)); /* same destination twice */
    base_config(&c, 0);
    c.mappings[0].metadata_stream_id = SRC_STREAM;
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_ratelimit_config_validate(&c));
}

/* §3 standalone: a destination stream owned by another live process is refused. */
static void test_exclusive_destination(void)
{
    env_t e;
    tp_ratelimit_config_t c;
    base_config(&c, 0);
    TP_ASSERT_OK(env_open(&e, &c));
    /* a second rate limiter on the same destination: announces from the first are seen as foreign... */
    tp_ratelimit_config_t c2;
    base_config(&c2, 0);
    snprintf(c2.instance_id, sizeof(c2.instance_id), "second");
    tp_ratelimit_t *second = NULL;
    /* ...and in this process the directory check cannot tell them apart (same pid), so it starts: */
    TP_ASSERT_OK(tp_ratelimit_init(&second, &c2, e.ctx));
    PUMP_UNTIL(&e, rl_stats(&e).foreign_dest_announces > 0);
    TP_ASSERT(rl_stats(&e).foreign_dest_announces > 0);
    tp_ratelimit_close(second);
    env_close(&e);
}

/* §3 standalone, two processes: a destination stream whose producer is another live process is refused. */
static void test_exclusive_destination_other_process(void)
{
    tpc_dirs_t dirs;
    TP_ASSERT_OK(tpc_dirs_make(&dirs, "rlx"));
    tp_transport_t *held = tpc_driver_hold(&dirs);
    int ready[2];
    int release[2];
    TP_ASSERT_OK(pipe(ready));
    TP_ASSERT_OK(pipe(release));
    pid_t pid = fork();
    TP_ASSERT(pid >= 0);
    if (0 == pid)
    {
        close(ready[0]);
        close(release[1]);
        tp_context_t *ctx = tpc_context(&dirs);
        tp_client_t *client = NULL;
        tp_producer_t *p = NULL;
        tp_producer_config_t pc;
        tp_producer_config_defaults(&pc);
        pc.stream_id = DST_STREAM;
        pc.header_nslots = 64;
        if (NULL == ctx || tp_client_init(&client, ctx) < 0 || tp_client_start(client) < 0 ||
            tp_client_add_producer(&p, client, &pc, 0) < 0)
        {
            _exit(3);
        }
        char c = 'r';
        if (1 != write(ready[1], &c, 1))
        {
            _exit(4);
        }
        (void)!read(release[0], &c, 1); /* until the parent closes its end */
        tp_producer_close(p);
        tp_client_close(client);
        tp_context_close(ctx);
        _exit(0);
    }
    close(ready[1]);
    close(release[0]);
    char c = 0;
    TP_ASSERT_EQ_I64(1, read(ready[0], &c, 1));
    tp_context_t *ctx = tpc_context(&dirs);
    TP_ASSERT(NULL != ctx);
    tp_ratelimit_config_t config;
    base_config(&config, 0);
    tp_ratelimit_t *rl = NULL;
    TP_ASSERT_ERR(TP_ERR_STATE, tp_ratelimit_init(&rl, &config, ctx));
    TP_ASSERT_MSG(NULL != strstr(tp_errmsg(), "live producer"), "%s", tp_errmsg());
    TP_ASSERT(NULL == rl);
    close(release[1]);
    close(ready[0]);
    TP_ASSERT_EQ_I64(0, tpc_wait_child(pid, 20000));
    /* the other process is gone (its epoch removed at close): the stream is free */
    TP_ASSERT_OK(tp_ratelimit_init(&rl, &config, ctx));
    tp_ratelimit_close(rl);
    tp_context_close(ctx);
    tpc_driver_release(held);
    tpc_dirs_remove(&dirs);
}

/* The agent on its own thread with the real clock: frames arrive, seqs increase, bytes are the source's. */
static void test_threaded_end_to_end(void)
{
    env_t e;
    tp_ratelimit_config_t c;
    base_config(&c, 200);
    TP_ASSERT_OK(env_open(&e, &c));
    tp_ratelimit_set_clock(e.rl, NULL, NULL);
    TP_ASSERT_OK(tp_ratelimit_start(e.rl));
    TP_ASSERT_ERR(TP_ERR_STATE, tp_ratelimit_do_work(e.rl));
    for (int i = 0; i < 300 && e.rx_count < 5; i++)
    {
        TP_ASSERT(offer(&e, 4096) >= 0);
        uint64_t until = tp_clock_mono_ns() + 2000000;
        while (tp_clock_mono_ns() < until)
        {
            tp_client_do_work(e.src_client);
            if (tp_client_do_work(e.dst_client) <= 0)
            {
                tp_sleep_ns(100000);
            }
        }
    }
    TP_ASSERT_OK(tp_ratelimit_stop(e.rl));
    TP_ASSERT(e.rx_count >= 5);
    for (size_t i = 0; i < e.rx_count; i++)
    {
        TP_ASSERT(e.rx[i].payload_ok);
        TP_ASSERT_EQ_U64(0xABC00000u + e.rx[i].seq, e.rx[i].trace_id);
        if (i > 0)
        {
            TP_ASSERT(e.rx[i].seq > e.rx[i - 1].seq);
        }
    }
    tp_ratelimit_stats_t s = rl_stats(&e);
    TP_ASSERT(s.frames_in >= s.frames_out);
    env_close(&e);
}

int main(void)
{
    TP_RUN(test_latest_frame_per_slot);
    TP_RUN(test_unlimited_passes_everything);
    TP_RUN(test_seq_preserved_in_dest_header);
    TP_RUN(test_dest_too_small_counted);
    TP_RUN(test_source_overwritten_during_copy);
    TP_RUN(test_unclaimable_slot_dropped);
    TP_RUN(test_epoch_change_resets_timer);
    TP_RUN(test_metadata_forwarded);
    TP_RUN(test_meta_blob_forwarded);
    TP_RUN(test_consumer_hello_governs);
    TP_RUN(test_fallback_rate_without_hello);
    TP_RUN(test_progress_and_qos_forwarded);
    TP_RUN(test_metadata_stream_id);
    TP_RUN(test_dest_epoch_incremented_on_restart);
    TP_RUN(test_source_restart_same_epoch);
    TP_RUN(test_config_rejects_source_as_dest);
    TP_RUN(test_exclusive_destination);
    TP_RUN(test_exclusive_destination_other_process);
    TP_RUN(test_threaded_end_to_end);
    return tp_test_finish();
}
