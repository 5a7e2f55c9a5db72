/*
 * Fuzz target: the bridge decode layer (src/protocol/tp_proto_bridge.h) and
 * the receiver's reassembly (src/bridge/tp_bridge_assembler.h).
 *
 * The whole input is decoded as one BridgeFrameChunk; then it is read as a
 * sequence of [u16 length][message] records that are decoded and handed to an
 * assembler (announce epoch = the first chunk's epoch, pool 1 of 64 KiB,
 * small chunk bound, 2 slots, CRC on when the input's first byte is odd,
 * a direct-write sink when its second bit is set).
 *
 * Invariants: a failed decode sets TP_ERR_MALFORMED and a drop reason; a
 * successful one has its var-data inside the input, headerBytes <= 256 and
 * payloadBytes <= the bound; a completed frame has the announced epoch, a
 * payload of exactly payloadLength bytes within the slot capacity and a valid
 * tensor header; the drop counters plus completions never exceed the chunks;
 * with the sink, its destination is held exactly while a frame is written
 * into it, and a direct frame is delivered from it.
 */
#include "tp_fuzz.h"

#include "bridge/tp_bridge_assembler.h"
#include "protocol/tp_proto_bridge.h"

#define MAX_CHUNK 4096u

/* Direct-write sink: one 64 KiB destination, held from begin to abort or delivery. */
typedef struct
{
    uint8_t buf[65536];
    bool open;
    uint64_t seq;
} fuzz_sink_t;

static fuzz_sink_t sink;

static uint8_t *sink_begin(void *clientd, uint64_t seq, uint32_t payload_length)
{
    fuzz_sink_t *k = clientd;
    TP_FUZZ_CHECK(!k->open && payload_length <= sizeof(k->buf));
    k->open = true;
    k->seq = seq;
    return k->buf;
}

static void sink_abort(void *clientd, uint64_t seq)
{
    fuzz_sink_t *k = clientd;
    TP_FUZZ_CHECK(k->open && k->seq == seq);
    k->open = false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tp_proto_bridge_chunk_view_t v;
    int rc = tp_proto_decode_bridge_chunk(data, size, MAX_CHUNK, &v);
    if (rc < 0)
    {
        TP_FUZZ_CHECK(-1 == rc && TP_ERR_MALFORMED == tp_errcode());
        TP_FUZZ_CHECK(TP_PROTO_OK != tp_proto_bridge_last_error());
    }
    else
    {
        TP_FUZZ_CHECK(tp_fuzz_within(v.header_bytes.data, v.header_bytes.length, data, size));
        TP_FUZZ_CHECK(tp_fuzz_within(v.payload.data, v.payload.length, data, size));
        TP_FUZZ_CHECK(v.header_bytes.length <= 256 && v.payload.length <= MAX_CHUNK);
        (void)tp_proto_bridge_chunk_check(&v, MAX_CHUNK, 1u << 20);
    }

    tp_bridge_assembler_t a;
    tp_bridge_assembler_config_t cfg = { .max_inflight = 2, .max_chunk_bytes = MAX_CHUNK,
        .max_payload_bytes = 1u << 20, .integrity_crc32c = size > 0 && (data[0] & 1u), .timeout_ns = 1000 };
    if (tp_bridge_assembler_init(&a, &cfg) < 0 || tp_bridge_assembler_set_capacity(&a, 65536) < 0)
    {
        tp_bridge_assembler_close(&a);
        return 0;
    }
    sink.open = false;
    if (size > 0 && (data[0] & 2u))
    {
        tp_bridge_sink_t sk = { .begin = sink_begin, .abort = sink_abort, .clientd = &sink };
        tp_bridge_assembler_set_sink(&a, &sk);
    }
    size_t pos = size > 0 ? 1 : 0;
    uint64_t now = 0;
    uint64_t completed = 0;
    bool announced = false;
    while (pos + 2 <= size)
    {
        size_t len = (size_t)data[pos] | ((size_t)data[pos + 1] << 8);
        pos += 2;
        if (len > size - pos)
        {
            len = size - pos;
        }
        const uint8_t *msg = data + pos;
        pos += len;
        now += 300;
        if (0 != tp_proto_decode_bridge_chunk(msg, len, MAX_CHUNK, &v))
        {
            continue;
        }
        if (!announced)
        {
            tp_bridge_source_layout_t l = { .valid = true, .epoch = v.epoch, .header_nslots = 64, .pool_count = 1 };
            l.pool_ids[0] = 1;
            l.pool_nslots[0] = 64;
            l.strides[0] = 65536;
            TP_FUZZ_CHECK(1 == tp_bridge_assembler_on_announce(&a, &l));
            announced = true;
        }
        tp_bridge_frame_t f;
        tp_bridge_drop_t why = TP_BRIDGE_DROP_COUNT;
        rc = tp_bridge_assembler_on_chunk(&a, &v, now, &f, &why);
        if (1 == rc)
        {
            completed++;
            TP_FUZZ_CHECK(f.epoch == a.source.epoch);
            TP_FUZZ_CHECK(f.payload_length <= a.capacity);
            TP_FUZZ_CHECK(TP_DROP_NONE == tp_tensor_header_check(&f.tensor, f.payload_length, NULL));
            TP_FUZZ_CHECK(1 == f.source_pool_id && f.payload_length <= 65536);
            if (f.direct)
            {
                TP_FUZZ_CHECK(sink.open && f.payload == sink.buf && f.seq == sink.seq);
                sink.open = false; /* committed */
            }
        }
        else if (rc < 0)
        {
            TP_FUZZ_CHECK(why < TP_BRIDGE_DROP_COUNT);
        }
        (void)tp_bridge_assembler_expire(&a, now);
        TP_FUZZ_CHECK(sink.open == (NULL != a.direct));
    }
    TP_FUZZ_CHECK(completed == a.frames_completed);
    TP_FUZZ_CHECK(a.active <= cfg.max_inflight);
    tp_bridge_assembler_close(&a);
    return 0;
}
