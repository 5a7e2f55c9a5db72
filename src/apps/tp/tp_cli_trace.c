/*
 * tp trace SEQ [--stream-id N] [--json] [--channel URI] [--descriptor-stream ID]
 *     [--control-stream ID] [--transport-dir DIR] [--duration SECONDS] [--settle SECONDS]
 *
 * Prints the lineage of frame SEQ (of stream N, or of the first stream on
 * which that sequence number is heard) from what it hears: it subscribes to
 * the descriptor stream (FrameDescriptor: stream, epoch, seq, trace_id) and
 * the control stream (TraceLinkSet, schema 904) and keeps the most recent
 * TRACE_FRAMES descriptors and TRACE_LINKS TraceLinkSets in a bounded
 * in-memory store (oldest overwritten). Once the frame is heard it waits
 * --settle seconds (default 0.5) for the TraceLinkSets and parent frames
 * still in flight, then prints:
 *   the frame; the other frames that carry the same trace id (1->1 stages);
 *   the TraceLinkSet of its trace id, if any, and for every parent trace the
 *   frames that carried it, recursively (at most TRACE_DEPTH levels).
 * Frames published before tp trace subscribed are unknown to it (there is no
 * persistent store: docs/TOOLS.md). Exit status 0 when the frame was heard,
 * 1 when --duration (default 10 s) passed without it.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/tp_clock.h"
#include "protocol/tp_proto.h"
#include "protocol/tp_proto_tracelink.h"
#include "tensor_pool/tp.h"
#include "tp_args.h"
#include "tp_cli.h"
#include "transport/tp_transport.h"

int tp_cli_trace(int argc, char **argv);

#define TRACE_FRAMES 65536u
#define TRACE_LINKS 8192u
#define TRACE_DEPTH 8
#define TRACE_MAX_SHOWN 16

typedef struct
{
    uint32_t stream_id;
    uint64_t epoch;
    uint64_t seq;
    uint64_t trace_id;
} trace_frame_t;

typedef struct
{
    trace_frame_t frame; /* the output frame the TraceLinkSet names */
    uint32_t parent_count;
    uint64_t parents[TP_PROTO_TRACELINK_MAX_PARENTS];
} trace_link_t;

typedef struct
{
    trace_frame_t *frames;
    uint64_t frame_count; /* total heard; the store holds the last TRACE_FRAMES */
    trace_link_t *links;
    uint64_t link_count;
    bool have_stream;
    uint32_t stream_id;
    uint64_t seq;
    bool found;
    trace_frame_t target;
    uint64_t found_ns;
    bool json;
    tp_proto_trace_link_set_view_t view;
} trace_state_t;

static volatile sig_atomic_t trace_running = 1;

static void trace_on_signal(int sig)
{
    (void)sig;
    trace_running = 0;
}

static void on_descriptor(void *clientd, const uint8_t *buf, size_t len, const tp_header_t *header)
{
    (void)header;
    trace_state_t *s = clientd;
    uint16_t schema = 0, template_id = 0;
    tp_proto_frame_descriptor_view_t v;
    if (tp_proto_peek(buf, len, &schema, &template_id) < 0 || TP_SBE_WIRE_SCHEMA_ID != schema ||
        TP_SBE_WIRE_FRAME_DESCRIPTOR_TEMPLATE_ID != template_id || tp_proto_decode_frame_descriptor(buf, len, &v) < 0)
    {
        return;
    }
    trace_frame_t f = { .stream_id = v.stream_id, .epoch = v.epoch, .seq = v.seq, .trace_id = v.trace_id };
    s->frames[s->frame_count++ % TRACE_FRAMES] = f;
    if (!s->found && f.seq == s->seq && (!s->have_stream || f.stream_id == s->stream_id))
    {
        s->found = true;
        s->target = f;
        s->found_ns = tp_clock_mono_ns();
    }
}

static void on_control(void *clientd, const uint8_t *buf, size_t len, const tp_header_t *header)
{
    (void)header;
    trace_state_t *s = clientd;
    uint16_t schema = 0;
    if (tp_proto_peek(buf, len, &schema, NULL) < 0 || TP_SBE_TRACELINK_SCHEMA_ID != schema ||
        tp_proto_decode_trace_link_set(buf, len, &s->view) < 0)
    {
        return; /* other control traffic, or an invalid TraceLinkSet (never trusted) */
    }
    trace_link_t *l = &s->links[s->link_count++ % TRACE_LINKS];
    l->frame = (trace_frame_t){ .stream_id = s->view.stream_id, .epoch = s->view.epoch, .seq = s->view.seq,
        .trace_id = s->view.trace_id };
    l->parent_count = s->view.parent_count;
    memcpy(l->parents, s->view.parents, s->view.parent_count * sizeof(uint64_t));
}

static const trace_link_t *find_link(const trace_state_t *s, uint64_t trace_id)
{
    uint64_t n = s->link_count < TRACE_LINKS ? s->link_count : TRACE_LINKS;
    for (uint64_t i = 0; i < n; i++)
    {
        const trace_link_t *l = &s->links[(s->link_count - 1 - i) % TRACE_LINKS]; /* newest first */
        if (l->frame.trace_id == trace_id)
        {
            return l;
        }
    }
    return NULL;
}

/* Frames carrying trace_id (oldest first), at most TRACE_MAX_SHOWN. */
static size_t find_frames(const trace_state_t *s, uint64_t trace_id, trace_frame_t *out)
{
    size_t k = 0;
    uint64_t n = s->frame_count < TRACE_FRAMES ? s->frame_count : TRACE_FRAMES;
    uint64_t first = s->frame_count - n;
    for (uint64_t i = 0; i < n && k < TRACE_MAX_SHOWN; i++)
    {
        const trace_frame_t *f = &s->frames[(first + i) % TRACE_FRAMES];
        if (0 != trace_id && f->trace_id == trace_id)
        {
            out[k++] = *f;
        }
    }
    return k;
}

static void indent(int depth)
{
    for (int i = 0; i < depth; i++)
    {
        fputs("  ", stdout);
    }
}

static void print_frames_json(const trace_frame_t *f, size_t n)
{
    printf("[");
    for (size_t i = 0; i < n; i++)
    {
        printf("%s{\"stream_id\":%u,\"epoch\":%" PRIu64 ",\"seq\":%" PRIu64 "}", i ? "," : "", f[i].stream_id,
            f[i].epoch, f[i].seq);
    }
    printf("]");
}

/* The lineage of trace_id: frames carrying it, its TraceLinkSet and the parents' lineage. */
static void print_trace(const trace_state_t *s, uint64_t trace_id, int depth)
{
    trace_frame_t frames[TRACE_MAX_SHOWN];
    size_t n = find_frames(s, trace_id, frames);
    const trace_link_t *link = 0 != trace_id ? find_link(s, trace_id) : NULL;
    if (s->json)
    {
        printf("{\"trace_id\":%" PRIu64 ",\"frames\":", trace_id);
        print_frames_json(frames, n);
        if (NULL != link)
        {
            printf(",\"link\":{\"stream_id\":%u,\"epoch\":%" PRIu64 ",\"seq\":%" PRIu64 "},\"parents\":[",
                link->frame.stream_id, link->frame.epoch, link->frame.seq);
            for (uint32_t i = 0; i < link->parent_count; i++)
            {
                printf("%s", i ? "," : "");
                if (depth + 1 < TRACE_DEPTH)
                {
                    print_trace(s, link->parents[i], depth + 1);
                }
                else
                {
                    printf("{\"trace_id\":%" PRIu64 ",\"truncated\":true}", link->parents[i]);
                }
            }
            printf("]");
        }
        printf("}");
        return;
    }
    indent(depth);
    printf("trace %" PRIu64 " (node %u, %" PRIu64 " ms)%s\n", trace_id, tp_trace_id_node_id(trace_id),
        tp_trace_id_unix_ms(trace_id), 0 == trace_id ? " no trace" : "");
    for (size_t i = 0; i < n; i++)
    {
        indent(depth + 1);
        printf("frame stream=%u epoch=%" PRIu64 " seq=%" PRIu64 "\n", frames[i].stream_id, frames[i].epoch,
            frames[i].seq);
    }
    if (0 == n && 0 != trace_id)
    {
        indent(depth + 1);
        printf("(no frame with this trace id heard)\n");
    }
    if (NULL == link)
    {
        indent(depth + 1);
        printf("%s\n", 0 == trace_id ? "" : "root (no TraceLinkSet heard)");
        return;
    }
    indent(depth + 1);
    printf("derived: TraceLinkSet stream=%u epoch=%" PRIu64 " seq=%" PRIu64 " parents=%u\n", link->frame.stream_id,
        link->frame.epoch, link->frame.seq, link->parent_count);
    for (uint32_t i = 0; i < link->parent_count; i++)
    {
        if (depth + 1 < TRACE_DEPTH)
        {
            print_trace(s, link->parents[i], depth + 2);
        }
        else
        {
            indent(depth + 2);
            printf("trace %" PRIu64 " (depth limit)\n", link->parents[i]);
        }
    }
}

static int trace_usage(FILE *out)
{
    fprintf(out,
        "usage: tp trace SEQ [--stream-id N] [--json] [--channel URI] [--descriptor-stream ID]\n"
        "       [--control-stream ID] [--transport-dir DIR] [--duration SECONDS] [--settle SECONDS]\n"
        "Listens to FrameDescriptors (default stream 1100) and TraceLinkSets (control stream 1000) and prints\n"
        "the lineage of frame SEQ (of stream N) once heard: frames sharing its trace id, its TraceLinkSet and\n"
        "the parents' frames, recursively. Keeps the last %u descriptors and %u TraceLinkSets in memory;\n"
        "start it before the frame is published.\n",
        TRACE_FRAMES, TRACE_LINKS);
    return out == stdout ? TP_CLI_EXIT_OK : TP_CLI_EXIT_USAGE;
}

/* tp listen's rule: a diagnostic subscriber never holds an IPC publisher back. */
static const char *untethered(const char *channel, char *buf, size_t len)
{
    if (0 == strncmp(channel, "aeron:ipc", 9) && ('\0' == channel[9] || '?' == channel[9]) &&
        NULL == strstr(channel, "tether="))
    {
        snprintf(buf, len, "%s%stether=false", channel, '\0' == channel[9] ? "?" : "|");
        return buf;
    }
    return channel;
}

int tp_cli_trace(int argc, char **argv)
{
    static const char prog[] = "tp trace";
    if (argc < 2 || 0 == strcmp(argv[1], "--help") || 0 == strcmp(argv[1], "-h"))
    {
        return trace_usage(argc < 2 ? stderr : stdout);
    }
    static trace_state_t s;
    memset(&s, 0, sizeof(s));
    if (tp_args_u64(prog, "SEQ", argv[1], 0, UINT64_MAX, "a sequence number", &s.seq) < 0)
    {
        return TP_CLI_EXIT_USAGE;
    }
    const char *channel = "aeron:ipc", *dir = NULL;
    int64_t desc_stream = 1100, ctl_stream = 1000;
    double duration = 10.0, settle = 0.5;
    for (int i = 2; i < argc; i++)
    {
        const char *v = NULL;
        if (0 == strcmp(argv[i], "--json"))
        {
            s.json = true;
        }
        else if (0 == strcmp(argv[i], "--stream-id"))
        {
            uint32_t id = 0;
            if (NULL == (v = tp_args_value(prog, argc, argv, &i)) ||
                tp_args_u32(prog, "--stream-id", v, 0, UINT32_MAX, "a stream id", &id) < 0)
            {
                return TP_CLI_EXIT_USAGE;
            }
            s.have_stream = true;
            s.stream_id = id;
        }
        else if (0 == strcmp(argv[i], "--channel"))
        {
            if (NULL == (channel = tp_args_value(prog, argc, argv, &i)) || tp_args_path(prog, "--channel", channel, 1024) < 0)
            {
                return TP_CLI_EXIT_USAGE;
            }
        }
        else if (0 == strcmp(argv[i], "--descriptor-stream") || 0 == strcmp(argv[i], "--control-stream"))
        {
            const char *opt = argv[i];
            int64_t *dst = 0 == strcmp(opt, "--descriptor-stream") ? &desc_stream : &ctl_stream;
            if (NULL == (v = tp_args_value(prog, argc, argv, &i)) ||
                tp_args_i64(prog, opt, v, INT32_MIN, INT32_MAX, "a stream id", dst) < 0)
            {
                return TP_CLI_EXIT_USAGE;
            }
        }
        else if (0 == strcmp(argv[i], "--transport-dir"))
        {
            if (NULL == (dir = tp_args_value(prog, argc, argv, &i)) || tp_args_path(prog, "--transport-dir", dir, 4000) < 0)
            {
                return TP_CLI_EXIT_USAGE;
            }
        }
        else if (0 == strcmp(argv[i], "--duration") || 0 == strcmp(argv[i], "--settle"))
        {
            const char *opt = argv[i];
            double *dst = 0 == strcmp(opt, "--duration") ? &duration : &settle;
            if (NULL == (v = tp_args_value(prog, argc, argv, &i)) ||
                tp_args_double(prog, opt, v, 0.0, 1e6, "a number of seconds", dst) < 0)
            {
                return TP_CLI_EXIT_USAGE;
            }
        }
        else
        {
            fprintf(stderr, "tp trace: unknown option '%s'\n", argv[i]);
            return trace_usage(stderr);
        }
    }
    s.frames = calloc(TRACE_FRAMES, sizeof(*s.frames));
    s.links = calloc(TRACE_LINKS, sizeof(*s.links));
    if (NULL == s.frames || NULL == s.links)
    {
        fprintf(stderr, "tp trace: out of memory\n");
        free(s.frames);
        free(s.links);
        return TP_CLI_EXIT_FAIL;
    }
    char chbuf[1100];
    channel = untethered(channel, chbuf, sizeof(chbuf));
    tp_transport_context_t tctx;
    tp_transport_t *t = NULL;
    tp_subscription_t *desc = NULL, *ctl = NULL;
    tp_transport_context_init(&tctx);
    int rc = TP_CLI_EXIT_FAIL;
    if ((dir && tp_transport_context_set_dir(&tctx, dir) < 0) || tp_transport_init(&t, &tctx) < 0 ||
        tp_transport_add_subscription(&desc, t, channel, (int32_t)desc_stream, NULL, NULL, NULL, NULL, 0) < 0 ||
        tp_transport_add_subscription(&ctl, t, channel, (int32_t)ctl_stream, NULL, NULL, NULL, NULL, 0) < 0)
    {
        fprintf(stderr, "tp trace: %s\n", tp_errmsg());
        goto done;
    }
    signal(SIGINT, trace_on_signal);
    signal(SIGTERM, trace_on_signal);
    uint64_t end = tp_clock_mono_ns() + (uint64_t)(duration * 1e9);
    while (trace_running && tp_clock_mono_ns() < end)
    {
        tp_transport_do_work(t);
        int n = tp_subscription_poll(desc, on_descriptor, &s, 256) + tp_subscription_poll(ctl, on_control, &s, 256);
        if (s.found && tp_clock_mono_ns() - s.found_ns >= (uint64_t)(settle * 1e9))
        {
            break;
        }
        if (n <= 0)
        {
            tp_sleep_ns(500000);
        }
    }
    if (!s.found)
    {
        fprintf(stderr, "tp trace: frame seq %" PRIu64 "%s not heard within %.1f s (%" PRIu64 " descriptors, %" PRIu64
                        " TraceLinkSets heard)\n",
            s.seq, s.have_stream ? " of the given stream" : "", duration, s.frame_count, s.link_count);
        rc = 1;
        goto done;
    }
    if (s.json)
    {
        printf("{\"frame\":{\"stream_id\":%u,\"epoch\":%" PRIu64 ",\"seq\":%" PRIu64 ",\"trace_id\":%" PRIu64
               "},\"lineage\":",
            s.target.stream_id, s.target.epoch, s.target.seq, s.target.trace_id);
        print_trace(&s, s.target.trace_id, 0);
        printf("}\n");
    }
    else
    {
        printf("frame stream=%u epoch=%" PRIu64 " seq=%" PRIu64 " trace_id=%" PRIu64 "\n", s.target.stream_id,
            s.target.epoch, s.target.seq, s.target.trace_id);
        print_trace(&s, s.target.trace_id, 1);
    }
    rc = TP_CLI_EXIT_OK;
done:
    tp_subscription_close(desc);
    tp_subscription_close(ctl);
    tp_transport_close(t);
    free(s.frames);
    free(s.links);
    return rc;
}
