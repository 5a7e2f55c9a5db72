/*
 * Example consumer: receives frames, checks the example producer's payload
 * pattern (detecting torn reads: a broken pattern in a frame that still
 * validates), measures publish-to-callback latency from the slot timestamp
 * (CLOCK_MONOTONIC, same host) and prints one JSON line of statistics.
 *
 *   tp_example_consumer --transport-dir D --shm-dir S [--stream 10000]
 *       [--duration SECONDS] [--until-seq S] [--min-remaps R] [--min-epochs E] [--check full|sample|none]
 *       [--slow-us N] [--idle spin|yield|backoff] [--namespace NS]
 *
 * --until-seq S: stop once a frame with seq >= S has been delivered while at
 * least R mappings were made (--min-remaps R, default 1) and frames of at
 * least E epochs were delivered (--min-epochs E, default 0), this frame's
 * included.
 *
 * Exit status: 0 ok, 2 torn frame seen, 3 stop condition not reached in time, 1 error.
 */
#include <getopt.h>
#include <sched.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tensor_pool/tp.h"
#include "tp_args.h"
#include "tp_example_common.h"

static volatile sig_atomic_t running = 1;

static void on_signal(int sig)
{
    (void)sig;
    running = 0;
}

typedef struct
{
    int check; /* 0 none, 1 sample, 2 full */
    uint64_t slow_ns;
    uint64_t torn;
    uint64_t intact;
    uint64_t last_epoch;
    uint64_t epochs_seen;
    uint64_t first_ns;
    uint64_t last_ns;
    uint64_t bytes;
    uint64_t until_seq;     /* --until-seq (UINT64_MAX: none) */
    uint64_t min_remaps;    /* --min-remaps */
    uint64_t min_epochs;    /* --min-epochs */
    tp_consumer_t *consumer;
    int reached;            /* a frame with seq >= until_seq was delivered after >= min_remaps mappings */
    tpx_hist_t hist;
} state_t;

static void spin_ns(uint64_t ns)
{
    uint64_t until = tpx_now_ns() + ns;
    while (tpx_now_ns() < until)
    {
    }
}

static void on_frame(void *clientd, const tp_frame_t *frame)
{
    state_t *s = clientd;
    uint64_t now = tpx_now_ns();
    if (0 == s->first_ns)
    {
        s->first_ns = now;
    }
    s->last_ns = now;
    s->bytes += frame->length;
    if (frame->epoch != s->last_epoch)
    {
        s->last_epoch = frame->epoch;
        s->epochs_seen++;
    }
    if (frame->seq >= s->until_seq && s->epochs_seen >= s->min_epochs && NULL != s->consumer)
    {
        /*
         * The stop condition is a delivered frame of the current mapping, not the last descriptor seen: after a
         * restart under the same epoch, a descriptor the old instance left in the stream can still arrive once the
         * new regions are mapped (its frame is not there and is dropped), and must not count as reaching the seq.
         */
        tp_consumer_stats_t cs;
        tp_consumer_stats(s->consumer, &cs);
        s->reached |= cs.remaps >= s->min_remaps;
    }
    int ok = 1;
    if (s->check)
    {
        ok = tpx_check(frame->payload, frame->length, frame->seq, 2 == s->check);
    }
    if (s->slow_ns)
    {
        spin_ns(s->slow_ns);
        if (s->check)
        {
            ok = ok && tpx_check(frame->payload, frame->length, frame->seq, 2 == s->check);
        }
    }
    /* the second seqlock check, after reading: only now is what we read trustworthy */
    if (tp_frame_is_valid(frame))
    {
        if (!ok)
        {
            s->torn++;
        }
        else
        {
            s->intact++;
            if (now >= frame->timestamp_ns)
            {
                tpx_hist_add(&s->hist, now - frame->timestamp_ns);
            }
        }
    }
}

#define P "tp_example_consumer"

static void usage(FILE *out)
{
    fprintf(out, "usage: tp_example_consumer [--transport-dir D] [--shm-dir S] [--driver] [--namespace NS] [--stream ID]\n"
                 "       [--duration S] [--until-seq SEQ] [--min-remaps R] [--min-epochs E] [--check full|sample|none]\n"
                 "       [--slow-us N] [--idle spin|yield|backoff] [--max-gap N (0: never resync)]\n");
}

int main(int argc, char **argv)
{
    bool driver_mode = false; /* --driver: attach through the SHM driver (tp driver) */
    int bad = 0;
    uint64_t slow_us = 0;
    const char *transport_dir = NULL, *shm_dir = NULL, *ns = NULL, *idle = "yield";
    uint32_t stream = 10000;
    double duration = 10;
    uint64_t until_seq = UINT64_MAX, min_remaps = 1, min_epochs = 0, max_gap = 256;
    static state_t st;
    st.check = 1;
    static const struct option opts[] = { { "transport-dir", required_argument, 0, 't' },
        { "shm-dir", required_argument, 0, 's' }, { "namespace", required_argument, 0, 'n' },
        { "stream", required_argument, 0, 'i' }, { "duration", required_argument, 0, 'd' },
        { "until-seq", required_argument, 0, 'u' }, { "min-remaps", required_argument, 0, 'm' },
        { "min-epochs", required_argument, 0, 'e' },
        { "check", required_argument, 0, 'c' }, { "slow-us", required_argument, 0, 'w' },
        { "idle", required_argument, 0, 'I' }, { "max-gap", required_argument, 0, 'g' },
        { "driver", no_argument, 0, 'D' }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
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
            case 'd': bad |= tp_args_double(P, "--duration", optarg, 0, 1e9, "a number of seconds", &duration); break;
            case 'u':
                bad |= tp_args_u64(P, "--until-seq", optarg, 0, UINT64_MAX, "a sequence number", &until_seq);
                break;
            case 'm': bad |= tp_args_u64(P, "--min-remaps", optarg, 0, UINT64_MAX, "a count", &min_remaps); break;
            case 'e': bad |= tp_args_u64(P, "--min-epochs", optarg, 0, UINT64_MAX, "a count", &min_epochs); break;
            case 'c':
                if (0 == strcmp(optarg, "full") || 0 == strcmp(optarg, "sample") || 0 == strcmp(optarg, "none"))
                {
                    st.check = 0 == strcmp(optarg, "full") ? 2 : 0 == strcmp(optarg, "none") ? 0 : 1;
                }
                else
                {
                    fprintf(stderr, "%s: --check must be full, sample or none, got '%s'\n", P, optarg);
                    bad = -1;
                }
                break;
            case 'w':
                bad |= tp_args_u64(P, "--slow-us", optarg, 0, 60000000, "microseconds", &slow_us);
                st.slow_ns = slow_us * 1000u;
                break;
            case 'I':
                if (0 == strcmp(optarg, "spin") || 0 == strcmp(optarg, "yield") || 0 == strcmp(optarg, "backoff"))
                {
                    idle = optarg;
                }
                else
                {
                    fprintf(stderr, "%s: --idle must be spin, yield or backoff, got '%s'\n", P, optarg);
                    bad = -1;
                }
                break;
            case 'g':
                bad |= tp_args_u64(P, "--max-gap", optarg,
                    0, UINT32_MAX, "a frame count (0: never resync)", &max_gap);
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
    tp_consumer_t *consumer = NULL;
    if (tp_context_init(&ctx) < 0 || (transport_dir && tp_context_set_transport_dir(ctx, transport_dir) < 0) ||
        (shm_dir && tp_context_set_shm_base_dir(ctx, shm_dir) < 0) || tp_context_set_driver_mode(ctx, driver_mode) < 0 || (ns && tp_context_set_namespace(ctx, ns) < 0) ||
        tp_client_init(&client, ctx) < 0)
    {
        fprintf(stderr, "tp_example_consumer: %s\n", tp_errmsg());
        return 1;
    }
    tp_context_close(ctx);
    tp_consumer_config_t config;
    tp_consumer_config_defaults(&config);
    st.until_seq = until_seq;
    st.min_remaps = min_remaps;
    st.min_epochs = min_epochs;
    config.stream_id = stream;
    config.on_frame = on_frame;
    config.clientd = &st;
    config.fragment_limit = 256;
    config.max_outstanding_seq_gap = max_gap;
    if (tp_client_add_consumer(&consumer, client, &config, 0) < 0)
    {
        fprintf(stderr, "tp_example_consumer: %s\n", tp_errmsg());
        tp_client_close(client);
        return 1;
    }
    st.consumer = consumer;
    int spin = 0 == strcmp(idle, "spin"), yield = 0 == strcmp(idle, "yield");
    uint64_t start = tpx_now_ns(), end = start + (uint64_t)(duration * 1e9);
    int reached = 0, idle_count = 0;
    tp_consumer_stats_t cs;
    while (running)
    {
        int work = tp_client_do_work(client);
        if (work < 0)
        {
            fprintf(stderr, "tp_example_consumer: %s\n", tp_errmsg());
            break;
        }
        if (0 == work)
        {
            idle_count++;
            if (!spin)
            {
                if (yield || idle_count < 100)
                {
                    sched_yield();
                }
                else
                {
                    struct timespec ts = { 0, 100000 };
                    nanosleep(&ts, NULL);
                }
            }
        }
        else
        {
            idle_count = 0;
        }
        tp_consumer_stats(consumer, &cs);
        if (until_seq != UINT64_MAX && st.reached)
        {
            reached = 1;
            break;
        }
        if (tpx_now_ns() >= end)
        {
            reached = until_seq == UINT64_MAX;
            break;
        }
    }
    double secs = (double)(tpx_now_ns() - start) / 1e9;
    tp_consumer_stats(consumer, &cs);
    uint64_t rejected = 0;
    for (int i = 0; i < TP_ANNOUNCE_REJECT_COUNT; i++)
    {
        rejected += cs.announces_rejected[i];
    }
    printf("{\"role\":\"consumer\",\"frames\":%" PRIu64 ",\"intact\":%" PRIu64 ",\"torn\":%" PRIu64
           ",\"drops_gap\":%" PRIu64 ",\"drops_late\":%" PRIu64 ",\"descriptors\":%" PRIu64
           ",\"unmapped\":%" PRIu64 ",\"wrong_epoch\":%" PRIu64 ",\"remaps\":%" PRIu64 ",\"unmaps\":%" PRIu64
           ",\"epoch\":%" PRIu64 ",\"epochs_seen\":%" PRIu64 ",\"last_seq\":%" PRIu64
           ",\"announces_rejected\":%" PRIu64 ",\"seconds\":%.3f,\"MBps\":%.1f,\"p50_ns\":%" PRIu64
           ",\"p99_ns\":%" PRIu64 ",\"reached\":%d}\n",
        cs.frames, st.intact, st.torn, cs.drops_gap, cs.drops_late, cs.descriptors, cs.descriptors_unmapped,
        cs.descriptors_wrong_epoch, cs.remaps, cs.unmaps, cs.epoch, st.epochs_seen, cs.last_seq, rejected, secs,
        st.last_ns > st.first_ns ? (double)st.bytes * 1e3 / (double)(st.last_ns - st.first_ns) : 0.0,
        tpx_hist_pct(&st.hist, 50), tpx_hist_pct(&st.hist, 99),
        reached);
    fflush(stdout);
    tp_consumer_close(consumer);
    tp_client_close(client);
    if (st.torn > 0)
    {
        return 2;
    }
    return reached ? 0 : 3;
}
