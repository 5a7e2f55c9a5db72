/*
 * Bridge benchmark: throughput (GB/s) and latency (p50/p99) of frames that
 * cross the SHM Aeron-UDP bridge over loopback UDP, beside the plain UDP
 * transport moving the same bytes, in the same run.
 *
 * One process, one thread: host A (a producer of stream 10000 and the bridge
 * sender) and host B (the bridge receiver and a consumer of stream 20000)
 * with separate transport and SHM directories, joined by embedded UDP on
 * 127.0.0.1; every duty cycle runs in the same loop, so the numbers are those
 * of the whole pipeline on ONE core (SHM write, zero-copy read and chunking,
 * UDP, reassembly, SHM write, SHM read). The baseline is a tp_transport
 * publication and subscription on another UDP port carrying messages of the
 * same size (split at the transport's largest message if needed), pumped by
 * the same loop.
 *
 * Throughput: a window of at most ~2 MiB in flight (embedded UDP has no flow
 * control), bytes delivered / elapsed. Latency: one frame in flight, from
 * just before tp_producer_offer (its SlotHeader.timestamp_ns, which the
 * bridge preserves) to the consumer's callback; for UDP from before the
 * offer to the poll that delivers the last byte. "added" = bridge - UDP.
 * Prints one JSON line per payload size:
 *   {"bench":"bridge","size":N,"mtu":N,"frames":N,"bridge_GBps":X,"udp_GBps":X,
 *    "bridge_lat_p50_us":X,"bridge_lat_p99_us":X,"udp_lat_p50_us":X,"udp_lat_p99_us":X,
 *    "added_lat_p50_us":X,"added_lat_p99_us":X,"bridge_lost":N,"udp_lost":N}
 *
 *   tp_bench_bridge [--smoke] [--sizes 65536,1048576] [--mtu 1408] [--direct]
 *
 * --direct: the receiver writes each frame's chunks straight into a claimed
 * destination slot (tp_bridge_options_t.direct_writes) instead of assembling
 * it in a slot buffer and offering it (the default).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tests/bridge/tp_bridge_test_util.h"
#include "bridge/tp_bridge.h"
#include "common/tp_error.h"

typedef struct
{
    uint64_t frames;
    uint64_t bytes;
    uint64_t last_lat_ns;
    uint64_t last_seq;
} rx_t;

static void on_frame(void *clientd, const tp_frame_t *f)
{
    rx_t *rx = clientd;
    rx->frames++;
    rx->bytes += f->length;
    rx->last_seq = f->seq;
    rx->last_lat_ns = tp_clock_mono_ns() - f->timestamp_ns;
}

typedef struct
{
    uint64_t messages;
    uint64_t bytes;
    uint64_t last_sent_ns;
} udp_rx_t;

static void on_udp(void *clientd, const uint8_t *buf, size_t len, const tp_header_t *h)
{
    (void)h;
    udp_rx_t *u = clientd;
    u->messages++;
    u->bytes += len;
    if (len >= 8)
    {
        memcpy(&u->last_sent_ns, buf, 8);
    }
}

typedef struct
{
    tp_client_t *ca;
    tp_client_t *cb;
    tp_bridge_t *sender;
    tp_bridge_t *receiver;
    tp_transport_t *t;
    tp_subscription_t *usub;
    udp_rx_t urx;
} world_t;

static int pump(world_t *w)
{
    int work = tp_client_do_work(w->ca);
    work += tp_bridge_do_work(w->sender);
    work += tp_bridge_do_work(w->receiver);
    work += tp_client_do_work(w->cb);
    return work;
}

static int pump_udp(world_t *w)
{
    tp_transport_do_work(w->t);
    return tp_subscription_poll(w->usub, on_udp, &w->urx, 1024);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a;
    uint64_t y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct_us(uint64_t *v, size_t n, double p)
{
    if (0 == n)
    {
        return -1;
    }
    qsort(v, n, sizeof(*v), cmp_u64);
    size_t i = (size_t)(p * (double)(n - 1));
    return (double)v[i] / 1000.0;
}

static bool direct;

static int run_size(size_t size, uint32_t mtu, bool smoke)
{
    tpc_dirs_t da;
    tpc_dirs_t db;
    if (tpc_dirs_make(&da, "bbra") < 0 || tpc_dirs_make(&db, "bbrb") < 0)
    {
        fprintf(stderr, "tp_bench_bridge: cannot create directories\n");
        return -1;
    }
    int ports[4] = { tpb_free_udp_port(), tpb_free_udp_port(), tpb_free_udp_port(), tpb_free_udp_port() };
    static world_t w;
    memset(&w, 0, sizeof(w));
    static char text[4096];
    static tp_bridge_config_t cfg;
    char extra[256];
    snprintf(extra, sizeof(extra), "mtu_bytes = %u\nforward_metadata = false\nmax_payload_bytes = %zu\n", mtu,
        size + 4096);
    char chan[128];
    char params[32];
    snprintf(params, sizeof(params), "|mtu=%u", mtu);
    int rc = -1;
    tp_context_t *ctxa = tpc_context(&da);
    tp_context_t *ctxb = tpc_context(&db);
    tp_producer_t *prod = NULL;
    tp_consumer_t *cons = NULL;
    tp_publication_t *upub = NULL;
    rx_t rx;
    memset(&rx, 0, sizeof(rx));
    uint8_t *buf = malloc(size);
    uint64_t frames = smoke ? 20 : (size >= (1u << 20) ? 400 : 6000);
    uint64_t lat_n = smoke ? 10 : (size >= (1u << 20) ? 100 : 1000);
    uint64_t *lat_b = calloc(lat_n, sizeof(uint64_t));
    uint64_t *lat_u = calloc(lat_n, sizeof(uint64_t));
    size_t nb = 0;
    size_t nu = 0;
    uint64_t window = (2u << 20) / size > 0 ? (2u << 20) / size : 1;
    tp_bridge_options_t ropts = { .direct_writes = direct };
    tpb_config_text_params(text, sizeof(text), "receiver", &db, ports, extra, "aeron:ipc", params);
    tp_bridge_config_defaults(&cfg);
    if (NULL == buf || NULL == lat_b || NULL == lat_u ||
        tp_bridge_config_load_string(&cfg, text, strlen(text), "receiver") < 0 ||
        tp_bridge_init(&w.receiver, &cfg, &ropts) < 0)
    {
        goto done;
    }
    tpb_config_text_params(text, sizeof(text), "sender", &da, ports, extra, "aeron:ipc", params);
    tp_bridge_config_defaults(&cfg);
    if (tp_bridge_config_load_string(&cfg, text, strlen(text), "sender") < 0 ||
        tp_bridge_init(&w.sender, &cfg, NULL) < 0 || tp_client_init(&w.ca, ctxa) < 0 ||
        tp_client_init(&w.cb, ctxb) < 0)
    {
        goto done;
    }
    tp_producer_config_t pc;
    tp_producer_config_defaults(&pc);
    pc.stream_id = 10000;
    pc.header_nslots = 64;
    pc.pools[0].stride_bytes = (uint32_t)size;
    tp_consumer_config_t cc;
    tp_consumer_config_defaults(&cc);
    cc.stream_id = 20000;
    cc.on_frame = on_frame;
    cc.clientd = &rx;
    if (tp_client_add_producer(&prod, w.ca, &pc, 0) < 0 || tp_client_add_consumer(&cons, w.cb, &cc, 0) < 0)
    {
        goto done;
    }
    tp_transport_context_t tctx;
    tp_transport_context_init(&tctx);
    tp_transport_context_set_dir(&tctx, da.transport);
    snprintf(chan, sizeof(chan), "aeron:udp?endpoint=127.0.0.1:%d|mtu=%u", ports[3], mtu);
    if (tp_transport_init(&w.t, &tctx) < 0 || tp_transport_add_subscription(&w.usub, w.t, chan, 7, NULL, NULL, NULL,
        NULL, 0) < 0 || tp_transport_add_publication(&upub, w.t, chan, 7, 0) < 0)
    {
        goto done;
    }
    uint64_t dl = tp_clock_mono_ns() + 10000000000ull;
    while ((!tp_consumer_is_mapped(cons) || !tp_publication_is_connected(upub)) && tp_clock_mono_ns() < dl)
    {
        pump(&w);
        pump_udp(&w);
    }
    for (uint64_t t0 = tp_clock_mono_ns(); tp_clock_mono_ns() - t0 < 300000000ull;)
    {
        pump(&w); /* the sender's UDP publications see the receiver */
    }
    memset(buf, 0x5A, size);

    /* ---- bridge throughput */
    uint64_t sent = 0;
    uint64_t start = tp_clock_mono_ns();
    uint64_t progress = start;
    uint64_t seen = 0;
    uint64_t forgiven = 0;
    while (rx.frames + forgiven < frames && tp_clock_mono_ns() - progress < 1000000000ull)
    {
        while (sent < frames && sent < rx.frames + forgiven + window)
        {
            tp_frame_options_t o = { .timestamp_ns = tp_clock_mono_ns() };
            if (tp_producer_offer(prod, NULL, buf, size, &o) < 0)
            {
                break;
            }
            sent++;
        }
        pump(&w);
        if (rx.frames != seen)
        {
            seen = rx.frames;
            progress = tp_clock_mono_ns();
        }
        else if (tp_clock_mono_ns() - progress > 50000000ull && sent > rx.frames + forgiven)
        {
            forgiven = sent - rx.frames; /* lost in flight: do not wait for them */
            progress = tp_clock_mono_ns();
        }
    }
    double b_secs = (double)(tp_clock_mono_ns() - start) / 1e9;
    uint64_t b_bytes = rx.bytes;
    uint64_t b_lost = sent - rx.frames;

    /* ---- UDP throughput: the same bytes as messages */
    size_t maxmsg = tp_publication_max_message_length(upub);
    size_t part = size < maxmsg ? size : maxmsg;
    size_t parts = (size + part - 1) / part;
    uint64_t usent = 0;
    start = tp_clock_mono_ns();
    progress = start;
    seen = 0;
    forgiven = 0;
    while (w.urx.bytes / size + forgiven < frames && tp_clock_mono_ns() - progress < 1000000000ull)
    {
        while (usent < frames && usent < w.urx.bytes / size + forgiven + window)
        {
            uint64_t now = tp_clock_mono_ns();
            memcpy(buf, &now, 8);
            size_t k = 0;
            for (; k < parts; k++)
            {
                size_t n = k + 1 < parts ? part : size - k * part;
                int64_t r;
                while ((r = tp_publication_offer(upub, buf, n, NULL, NULL)) == TP_PUBLICATION_BACK_PRESSURED)
                {
                    pump_udp(&w);
                }
                if (r < 0)
                {
                    break;
                }
            }
            if (k < parts)
            {
                break;
            }
            usent++;
        }
        pump_udp(&w);
        if (w.urx.bytes != seen)
        {
            seen = w.urx.bytes;
            progress = tp_clock_mono_ns();
        }
        else if (tp_clock_mono_ns() - progress > 50000000ull && usent > w.urx.bytes / size + forgiven)
        {
            forgiven = usent - w.urx.bytes / size;
            progress = tp_clock_mono_ns();
        }
    }
    double u_secs = (double)(tp_clock_mono_ns() - start) / 1e9;
    uint64_t u_bytes = w.urx.bytes;
    uint64_t u_lost = usent - w.urx.bytes / size;

    /* ---- latency, one in flight: bridge then UDP */
    for (uint64_t i = 0; i < lat_n; i++)
    {
        uint64_t before = rx.frames;
        tp_frame_options_t o = { .timestamp_ns = tp_clock_mono_ns() };
        if (tp_producer_offer(prod, NULL, buf, size, &o) < 0)
        {
            pump(&w);
            continue;
        }
        uint64_t t0 = tp_clock_mono_ns();
        while (rx.frames == before && tp_clock_mono_ns() - t0 < 200000000ull)
        {
            pump(&w);
        }
        if (rx.frames != before)
        {
            lat_b[nb++] = rx.last_lat_ns;
        }
    }
    for (uint64_t i = 0; i < lat_n; i++)
    {
        uint64_t want = w.urx.bytes + size;
        uint64_t t0 = tp_clock_mono_ns();
        memcpy(buf, &t0, 8);
        for (size_t k = 0; k < parts; k++)
        {
            size_t n = k + 1 < parts ? part : size - k * part;
            while (tp_publication_offer(upub, buf, n, NULL, NULL) == TP_PUBLICATION_BACK_PRESSURED)
            {
                pump_udp(&w);
            }
        }
        while (w.urx.bytes < want && tp_clock_mono_ns() - t0 < 200000000ull)
        {
            pump_udp(&w);
        }
        if (w.urx.bytes >= want)
        {
            lat_u[nu++] = tp_clock_mono_ns() - t0;
        }
        w.urx.bytes = want > w.urx.bytes ? want : w.urx.bytes; /* a lost message does not shift the next one */
    }
    double bp50 = pct_us(lat_b, nb, 0.50);
    double bp99 = pct_us(lat_b, nb, 0.99);
    double up50 = pct_us(lat_u, nu, 0.50);
    double up99 = pct_us(lat_u, nu, 0.99);
    printf("{\"bench\":\"bridge\",\"size\":%zu,\"mtu\":%u,\"frames\":%llu,\"bridge_GBps\":%.3f,\"udp_GBps\":%.3f,"
           "\"bridge_lat_p50_us\":%.1f,\"bridge_lat_p99_us\":%.1f,\"udp_lat_p50_us\":%.1f,\"udp_lat_p99_us\":%.1f,"
           "\"added_lat_p50_us\":%.1f,\"added_lat_p99_us\":%.1f,\"bridge_lost\":%llu,\"udp_lost\":%llu,"
           "\"lat_samples\":%zu}\n",
        size, mtu, (unsigned long long)frames, (double)b_bytes / b_secs / 1e9, (double)u_bytes / u_secs / 1e9, bp50,
        bp99, up50, up99, bp50 - up50, bp99 - up99, (unsigned long long)b_lost, (unsigned long long)u_lost, nb);
    fflush(stdout);
    rc = (b_bytes > 0 && nb > 0) ? 0 : -1;
done:
    if (rc < 0)
    {
        fprintf(stderr, "tp_bench_bridge: size %zu failed: %s\n", size, tp_errmsg());
    }
    tp_publication_close(upub);
    tp_subscription_close(w.usub);
    if (NULL != w.t)
    {
        tp_transport_close(w.t);
    }
    if (NULL != cons)
    {
        tp_consumer_close(cons);
    }
    if (NULL != prod)
    {
        tp_producer_close(prod);
    }
    tp_bridge_close(w.sender);
    tp_bridge_close(w.receiver);
    tp_client_close(w.ca);
    tp_client_close(w.cb);
    tp_context_close(ctxa);
    tp_context_close(ctxb);
    tpc_dirs_remove(&da);
    tpc_dirs_remove(&db);
    free(buf);
    free(lat_b);
    free(lat_u);
    return rc;
}

int main(int argc, char **argv)
{
    bool smoke = false;
    uint32_t mtu = 1408;
    size_t sizes[8] = { 65536, 1048576 };
    size_t nsizes = 2;
    for (int i = 1; i < argc; i++)
    {
        if (0 == strcmp(argv[i], "--smoke"))
        {
            smoke = true;
        }
        else if (0 == strcmp(argv[i], "--direct"))
        {
            direct = true;
        }
        else if (0 == strcmp(argv[i], "--mtu") && i + 1 < argc)
        {
            mtu = (uint32_t)strtoul(argv[++i], NULL, 10);
        }
        else if (0 == strcmp(argv[i], "--sizes") && i + 1 < argc)
        {
            nsizes = 0;
            for (char *s = strtok(argv[++i], ","); NULL != s && nsizes < 8; s = strtok(NULL, ","))
            {
                sizes[nsizes++] = (size_t)strtoull(s, NULL, 10);
            }
        }
        else
        {
            fprintf(stderr, "usage: tp_bench_bridge [--smoke] [--sizes 65536,1048576] [--mtu 1408] [--direct]\n");
            return 2;
        }
    }
    setenv("TP_TRANSPORT_BACKEND", "embedded", 1);
    int rc = 0;
    for (size_t i = 0; i < nsizes; i++)
    {
        if (sizes[i] < 64 || run_size(sizes[i], mtu, smoke) < 0)
        {
            rc = 1;
        }
    }
    return rc;
}
