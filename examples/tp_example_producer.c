/*
 * Example producer: publishes frames of a fixed size at a given rate (or as
 * fast as possible) on the copy path (tp_producer_offer) or the claim path
 * (tp_producer_try_claim + tp_frame_claim_commit). Invoker mode: the
 * application loop drives the client conductor.
 *
 *   tp_example_producer --transport-dir D --shm-dir S [--stream 10000] [--size 1024]
 *       [--frames N] [--duration SECONDS] [--rate HZ] [--claim] [--nslots 1024]
 *       [--wait-consumers N] [--announce-ms 1000] [--linger-ms 0] [--namespace NS]
 *       [--change-layout-at N]
 *
 * --change-layout-at N: after N frames, tp_producer_change_layout() with
 * twice the slots and twice the stride (new epoch, sequence from 0).
 */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tensor_pool/tp.h"
#include "tensor_pool/tp_shm.h"
#include "tp_args.h"
#include "tp_example_common.h"

static volatile sig_atomic_t running = 1;

static void on_signal(int sig)
{
    (void)sig;
    running = 0;
}

#define P "tp_example_producer"

static void usage(FILE *out)
{
    fprintf(out,
        "usage: tp_example_producer [--transport-dir D] [--shm-dir S] [--driver] [--namespace NS] [--stream ID]\n"
        "       [--size BYTES] [--frames N] [--duration SECONDS] [--rate HZ] [--claim] [--nslots N]\n"
        "       [--wait-consumers N] [--announce-ms MS] [--linger-ms MS] [--change-layout-at N]\n");
}

static void sleep_ns(uint64_t ns)
{
    struct timespec ts = { (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) };
    nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
    bool driver_mode = false; /* --driver: attach through the SHM driver (tp driver) */
    const char *transport_dir = NULL, *shm_dir = NULL, *ns = NULL;
    uint32_t stream = 10000, nslots = 1024;
    uint64_t size = 1024;
    int bad = 0;
    uint64_t frames = 0, rate = 0, wait_consumers = 0, announce_ms = 1000, linger_ms = 0, change_at = 0;
    double duration = 0;
    int claim = 0;
    static const struct option opts[] = { { "transport-dir", required_argument, 0, 't' },
        { "shm-dir", required_argument, 0, 's' }, { "namespace", required_argument, 0, 'n' },
        { "stream", required_argument, 0, 'i' }, { "size", required_argument, 0, 'b' },
        { "frames", required_argument, 0, 'f' }, { "duration", required_argument, 0, 'd' },
        { "rate", required_argument, 0, 'r' }, { "claim", no_argument, 0, 'c' },
        { "nslots", required_argument, 0, 'N' }, { "wait-consumers", required_argument, 0, 'w' },
        { "announce-ms", required_argument, 0, 'a' }, { "linger-ms", required_argument, 0, 'l' },
        { "change-layout-at", required_argument, 0, 'L' }, { "driver", no_argument, 0, 'D' }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
    int ch;
    while (-1 != (ch = getopt_long(argc, argv, "", opts, NULL)))
    {
        switch (ch)
        {
            case 't': bad |= tp_args_path(P, "--transport-dir", optarg, 4000); transport_dir = optarg; break;
            case 's': bad |= tp_args_path(P, "--shm-dir", optarg, 4000); shm_dir = optarg; break;
            case 'D': driver_mode = true; break;
            case 'n': bad |= tp_args_path(P, "--namespace", optarg, 64); ns = optarg; break;
            case 'i': bad |= tp_args_u32(P, "--stream", optarg, 0, INT32_MAX, "a stream id", &stream); break;
            /* The largest pool stride the library creates (TP_SHM_MAX_STRIDE_BYTES), so the stride fits. */
            case 'b':
                bad |= tp_args_u64(P, "--size", optarg, 0, TP_SHM_MAX_STRIDE_BYTES, "a byte count", &size);
                break;
            case 'f':
                bad |= tp_args_u64(P, "--frames", optarg, 0, UINT64_MAX, "a frame count (0: no limit)", &frames);
                break;
            case 'd':
                bad |= tp_args_double(P, "--duration", optarg,
                    0, 1e9, "a number of seconds (0: no limit)", &duration);
                break;
            case 'r':
                bad |= tp_args_u64(P, "--rate", optarg, 0, 1000000000, "frames per second (0: no limit)", &rate);
                break;
            case 'c': claim = 1; break;
            case 'N':
                bad |= tp_args_u32(P, "--nslots", optarg, 1, TP_SHM_MAX_NSLOTS, "a power of two", &nslots);
                break;
            case 'w':
                bad |= tp_args_u64(P, "--wait-consumers", optarg, 0, 4096, "a consumer count", &wait_consumers);
                break;
            case 'a': bad |= tp_args_u64(P, "--announce-ms", optarg, 1, 3600000, "milliseconds", &announce_ms); break;
            case 'l': bad |= tp_args_u64(P, "--linger-ms", optarg, 0, 3600000, "milliseconds", &linger_ms); break;
            case 'L':
                bad |= tp_args_u64(P, "--change-layout-at", optarg, 0, UINT64_MAX, "a frame count", &change_at);
                break;
            case 'h': usage(stdout); return 0;
            default: usage(stderr); return 2; /* getopt printed what was wrong */
        }
        if (0 != bad)
        {
            return 2;
        }
    }
    if (optind < argc)
    {
        fprintf(stderr, "%s: unexpected argument '%s'\n", P, argv[optind]);
        usage(stderr);
        return 2;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    tp_context_t *ctx = NULL;
    tp_client_t *client = NULL;
    tp_producer_t *producer = NULL;
    if (tp_context_init(&ctx) < 0 || (transport_dir && tp_context_set_transport_dir(ctx, transport_dir) < 0) ||
        (shm_dir && tp_context_set_shm_base_dir(ctx, shm_dir) < 0) || tp_context_set_driver_mode(ctx, driver_mode) < 0 || (ns && tp_context_set_namespace(ctx, ns) < 0) ||
        tp_context_set_announce_period_ns(ctx, announce_ms * 1000000u) < 0 || tp_client_init(&client, ctx) < 0)
    {
        fprintf(stderr, "tp_example_producer: %s\n", tp_errmsg());
        return 1;
    }
    tp_context_close(ctx);
    tp_producer_config_t config;
    tp_producer_config_defaults(&config);
    config.stream_id = stream;
    config.header_nslots = nslots;
    uint32_t stride = 64;
    while (stride < size)
    {
        stride <<= 1;
    }
    config.pools[0].stride_bytes = stride;
    snprintf(config.name, sizeof(config.name), "tp_example_producer");
    if (tp_client_add_producer(&producer, client, &config, 0) < 0)
    {
        fprintf(stderr, "tp_example_producer: %s\n", tp_errmsg());
        tp_client_close(client);
        return 1;
    }
    const char *keys[] = { "source" };
    const char *formats[] = { "text/plain" };
    const uint8_t *values[] = { (const uint8_t *)"tp_example_producer" };
    uint32_t lengths[] = { 19 };
    tp_producer_set_metadata(producer, 1, keys, formats, values, lengths);

    tp_producer_stats_t st;
    uint64_t deadline = tpx_now_ns() + 10 * UINT64_C(1000000000);
    while (running && wait_consumers > 0)
    {
        tp_producer_stats(producer, &st);
        if (st.consumers >= wait_consumers)
        {
            /* give the consumers one announce period to map the regions */
            uint64_t until = tpx_now_ns() + announce_ms * 2000000u;
            while (running && tpx_now_ns() < until)
            {
                tp_client_do_work(client);
                sleep_ns(200000);
            }
            break;
        }
        if (tpx_now_ns() > deadline)
        {
            fprintf(stderr, "tp_example_producer: no consumer within 10 s\n");
            break;
        }
        tp_client_do_work(client);
        sleep_ns(200000);
    }

    uint8_t *buf = malloc(size ? (size_t)size : 1);
    if (NULL == buf)
    {
        fprintf(stderr, "%s: out of memory allocating %" PRIu64 " bytes\n", P, size);
        tp_producer_close(producer);
        tp_client_close(client);
        return 1;
    }
    uint64_t start = tpx_now_ns();
    uint64_t end = duration > 0 ? start + (uint64_t)(duration * 1e9) : UINT64_MAX;
    uint64_t period = rate ? UINT64_C(1000000000) / rate : 0;
    uint64_t next = start, last_work = start, sent = 0, not_attached = 0;
    int rc_exit = 0;
    while (running && (0 == frames || sent < frames))
    {
        uint64_t now = tpx_now_ns();
        if (now >= end)
        {
            break;
        }
        if (now - last_work > 1000000u || (sent & 255) == 0)
        {
            tp_client_do_work(client);
            last_work = now;
        }
        if (period && now < next)
        {
            /*
             * sleep through most of the wait instead of spinning (a spinning producer would share a core with
             * the consumer on small machines and delay it by whole scheduler slices); spin only the last 20 us
             */
            if (next - now > 40000u)
            {
                sleep_ns((next - now) / 2);
            }
            continue;
        }
        if (change_at > 0 && sent == change_at)
        {
            tp_producer_layout_t layout;
            if (tp_producer_layout(producer, &layout) < 0)
            {
                fprintf(stderr, "tp_example_producer: %s\n", tp_errmsg());
                rc_exit = 1;
                break;
            }
            layout.header_nslots *= 2;
            layout.pools[0].stride_bytes *= 2;
            int lrc;
            while ((lrc = tp_producer_change_layout(producer, &layout)) < 0 && TP_ERR_STATE == tp_errcode() && running)
            {
                tp_producer_flush(producer); /* back-pressured commits must go out first */
                tp_client_do_work(client);
            }
            if (lrc < 0)
            {
                fprintf(stderr, "tp_example_producer: change layout: %s\n", tp_errmsg());
                rc_exit = 1;
                break;
            }
        }
        /*
         * timestamp_ns is taken when the payload is complete, just before it is published, so that the
         * consumer's "publish -> callback" latency measures the library and not the filling of the pattern
         */
        tp_frame_options_t fo = { .timestamp_ns = 0, .trace_id = 0 };
        int64_t rc;
        if (claim)
        {
            tp_frame_claim_t c;
            rc = tp_producer_try_claim(producer, (size_t)size, &c);
            if (rc >= 0)
            {
                tpx_fill(c.data, (size_t)size, c.seq);
                fo.timestamp_ns = tpx_now_ns();
                rc = tp_frame_claim_commit(&c, NULL, (size_t)size, &fo);
                if (TP_PRODUCER_BACK_PRESSURED == rc || TP_PRODUCER_QUEUED == rc || TP_PRODUCER_DEFERRED == rc)
                {
                    rc = 0; /* accepted; published by the next call */
                }
            }
        }
        else
        {
            /* the next sequence number is the current one: fill the pattern for it */
            tpx_fill(buf, (size_t)size, tp_producer_next_seq(producer));
            fo.timestamp_ns = tpx_now_ns();
            rc = tp_producer_offer(producer, NULL, buf, (size_t)size, &fo);
        }
        if (TP_PRODUCER_BACK_PRESSURED == rc || TP_PRODUCER_NOT_ATTACHED == rc)
        {
            /* back pressure, or (driver mode) no lease while the driver restarts: nothing happened, retry */
            not_attached += TP_PRODUCER_NOT_ATTACHED == rc;
            tp_client_do_work(client);
            if (TP_PRODUCER_NOT_ATTACHED == rc)
            {
                sleep_ns(1000000);
            }
            continue;
        }
        if (rc < 0)
        {
            fprintf(stderr, "tp_example_producer: publish failed (%lld): %s\n", (long long)rc, tp_errmsg());
            rc_exit = 1;
            break;
        }
        sent++;
        next += period;
    }
    double secs = (double)(tpx_now_ns() - start) / 1e9;
    uint64_t linger_end = tpx_now_ns() + linger_ms * 1000000u;
    while (running && tpx_now_ns() < linger_end)
    {
        tp_producer_flush(producer);
        tp_client_do_work(client);
        sleep_ns(1000000);
    }
    tp_producer_stats(producer, &st);
    printf("{\"role\":\"producer\",\"frames\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"epoch\":%" PRIu64
           ",\"seconds\":%.3f,\"fps\":%.0f,\"MBps\":%.1f,\"descriptors\":%" PRIu64 ",\"not_connected\":%" PRIu64
           ",\"back_pressured\":%" PRIu64 ",\"no_pool\":%" PRIu64 ",\"consumers\":%" PRIu64 ",\"layout_changes\":%" PRIu64
           ",\"prompt_announces\":%" PRIu64 ",\"not_attached\":%" PRIu64 "}\n",
        st.frames, st.bytes, st.epoch, secs, secs > 0 ? (double)st.frames / secs : 0.0,
        secs > 0 ? (double)st.bytes / secs / 1e6 : 0.0, st.descriptors_published, st.descriptors_not_connected,
        st.back_pressured, st.no_pool_drops, st.consumers, st.layout_changes, st.prompt_announces, not_attached);
    fflush(stdout);
    free(buf);
    tp_producer_close(producer);
    tp_client_close(client);
    return rc_exit;
}
