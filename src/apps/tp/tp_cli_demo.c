/*
 * `tp demo`: a shared-memory round trip in one process. Creates a header ring
 * and a payload pool in the canonical layout under a private temporary
 * directory, publishes frames through the seqlock, maps the regions read-only
 * as a consumer would (containment + superblock validation), reads every frame
 * back (copy-out and zero-copy), shows the drop rules at work, prints timings
 * and removes the directory.
 */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/tp_clock.h"
#include "tensor_pool/tp.h"
#include "tensor_pool/tp_shm.h"
#include "tp_args.h"
#include "tp_cli.h"

int tp_cli_demo(int argc, char **argv);

#define DEMO_NSLOTS 16u
#define DEMO_ROWS 32
#define DEMO_COLS 64
#define DEMO_STRIDE 16384u
#define DEMO_STREAM 1u
#define DEMO_EPOCH 1u

static void demo_usage(FILE *out)
{
    fprintf(out,
        "usage: tp demo [--frames N] [--dir DIR] [--keep]\n"
        "\n"
        "Write frames into a shared-memory tensor pool and read them back as a consumer.\n"
        "  --frames N  number of frames (default 10000)\n"
        "  --dir DIR   parent of the temporary directory (default /dev/shm, else $TMPDIR or /tmp)\n"
        "  --keep      keep the regions (print their paths) instead of removing them\n");
}

static float demo_value(uint64_t seq, uint32_t i)
{
    return (float)((seq * 31u + i) % 100003u) * 0.5f;
}

static void demo_fill(uint8_t *p, uint64_t seq)
{
    for (uint32_t i = 0; i < DEMO_ROWS * DEMO_COLS; i++)
    {
        float v = demo_value(seq, i);
        memcpy(p + 4 * i, &v, 4);
    }
}

static bool demo_check(const uint8_t *p, uint64_t seq)
{
    bool ok = true;
    for (uint32_t i = 0; i < DEMO_ROWS * DEMO_COLS; i++)
    {
        float v;
        memcpy(&v, p + 4 * i, 4);
        ok &= (v == demo_value(seq, i));
    }
    return ok;
}

/* Remove a directory tree we created (never follows symlinks). */
static void demo_rmtree(const char *path)
{
    struct stat st;
    if (0 != lstat(path, &st))
    {
        return;
    }
    if (!S_ISDIR(st.st_mode))
    {
        unlink(path);
        return;
    }
    DIR *d = opendir(path);
    if (NULL != d)
    {
        struct dirent *e;
        while (NULL != (e = readdir(d)))
        {
            if (0 != strcmp(e->d_name, ".") && 0 != strcmp(e->d_name, ".."))
            {
                char child[4096];
                snprintf(child, sizeof(child), "%s/%s", path, e->d_name);
                demo_rmtree(child);
            }
        }
        closedir(d);
    }
    rmdir(path);
}

static const char *demo_parent_dir(const char *requested)
{
    if (NULL != requested)
    {
        return requested;
    }
    struct stat st;
    if (0 == stat("/dev/shm", &st) && S_ISDIR(st.st_mode) && 0 == access("/dev/shm", W_OK))
    {
        return "/dev/shm";
    }
    const char *t = getenv("TMPDIR");
    return (NULL != t && '/' == t[0]) ? t : "/tmp";
}

int tp_cli_demo(int argc, char **argv)
{
    uint64_t frames = 10000;
    const char *parent = NULL;
    bool keep = false;
    for (int i = 1; i < argc; i++)
    {
        if (0 == strcmp(argv[i], "--frames"))
        {
            const char *v = tp_args_value("tp demo", argc, argv, &i);
            if (NULL == v || tp_args_u64("tp demo", "--frames", v, 1, UINT64_C(1000000000), "a frame count",
                                 &frames) < 0)
            {
                return TP_CLI_EXIT_USAGE;
            }
        }
        else if (0 == strcmp(argv[i], "--dir"))
        {
            parent = tp_args_value("tp demo", argc, argv, &i);
            if (NULL == parent || tp_args_path("tp demo", "--dir", parent, 900) < 0)
            {
                return TP_CLI_EXIT_USAGE;
            }
        }
        else if (0 == strcmp(argv[i], "--keep"))
        {
            keep = true;
        }
        else if (0 == strcmp(argv[i], "--help") || 0 == strcmp(argv[i], "-h"))
        {
            demo_usage(stdout);
            return TP_CLI_EXIT_OK;
        }
        else
        {
            fprintf(stderr, "tp demo: unknown argument '%s'\n", argv[i]);
            demo_usage(stderr);
            return TP_CLI_EXIT_USAGE;
        }
    }

    char base[1024];
    snprintf(base, sizeof(base), "%s/tp-demo-XXXXXX", demo_parent_dir(parent));
    if (NULL == mkdtemp(base))
    {
        perror("tp demo: mkdtemp");
        return TP_CLI_EXIT_FAIL;
    }

    int rc = TP_CLI_EXIT_FAIL;
    char epoch_dir[2048];
    char ring_path[2100];
    char pool_path[2100];
    char ring_uri[2200];
    char pool_uri[2200];
    tp_shm_region_t *ring = NULL;
    tp_shm_region_t *pool = NULL;
    tp_shm_region_t *cring = NULL;
    tp_shm_region_t *cpool = NULL;
    tp_shm_allowlist_t *allow = NULL;
    const uint32_t frame_bytes = DEMO_ROWS * DEMO_COLS * 4;

    printf("tp demo: tensorpool %s shared-memory round trip\n", tp_version());
    tp_shm_region_params_t rp = { TP_SHM_REGION_HEADER_RING, TP_SHM_LAYOUT_VERSION, DEMO_EPOCH, DEMO_STREAM, 0,
        DEMO_NSLOTS, 0 };
    tp_shm_region_params_t pp = { TP_SHM_REGION_PAYLOAD_POOL, TP_SHM_LAYOUT_VERSION, DEMO_EPOCH, DEMO_STREAM, 1,
        DEMO_NSLOTS, DEMO_STRIDE };
    const char *dirs[1] = { base };
    if (tp_shm_epoch_dir_create(epoch_dir, sizeof(epoch_dir), base, "demo", DEMO_STREAM, DEMO_EPOCH, false) < 0 ||
        tp_shm_header_ring_path(ring_path, sizeof(ring_path), epoch_dir) < 0 ||
        tp_shm_pool_path(pool_path, sizeof(pool_path), epoch_dir, 1) < 0 ||
        tp_shm_region_create(&ring, ring_path, &rp, NULL) < 0 ||
        tp_shm_region_create(&pool, pool_path, &pp, NULL) < 0 ||
        tp_shm_uri_format(ring_path, false, ring_uri, sizeof(ring_uri)) < 0 ||
        tp_shm_uri_format(pool_path, false, pool_uri, sizeof(pool_uri)) < 0)
    {
        fprintf(stderr, "tp demo: producer setup failed: %s\n", tp_errmsg());
        goto cleanup;
    }
    printf("  producer      created %s\n", epoch_dir);
    printf("  header ring   %s (%u slots x %u B)\n", ring_uri, DEMO_NSLOTS, TP_SHM_HEADER_SLOT_BYTES);
    printf("  payload pool  %s (%u slots x %u B)\n", pool_uri, DEMO_NSLOTS, DEMO_STRIDE);

    if (tp_shm_allowlist_init(&allow, dirs, 1) < 0 || tp_shm_region_map_uri(&cring, allow, ring_uri, &rp) < 0 ||
        tp_shm_region_map_uri(&cpool, allow, pool_uri, &pp) < 0 || tp_shm_pool_check_ring(cring, cpool) < 0)
    {
        fprintf(stderr, "tp demo: consumer mapping failed: %s\n", tp_errmsg());
        goto cleanup;
    }
    printf("  consumer      mapped both read-only: path contained in %s, superblocks match the\n"
           "                announced layout_version %u, epoch %u, stream %u, nslots %u, stride %u\n",
        tp_shm_allowlist_dir(allow, 0), TP_SHM_LAYOUT_VERSION, DEMO_EPOCH, DEMO_STREAM, DEMO_NSLOTS, DEMO_STRIDE);
    printf("  tensor        FLOAT32 [%d, %d] row-major, %u B per frame\n", DEMO_ROWS, DEMO_COLS, frame_bytes);

    tp_shm_slot_header_t h;
    memset(&h, 0, sizeof(h));
    h.values_len_bytes = frame_bytes;
    h.pool_id = 1;
    h.meta_version = 1;
    h.tensor.dtype = TP_DTYPE_FLOAT32;
    h.tensor.major_order = TP_MAJOR_ORDER_ROW;
    h.tensor.ndims = 2;
    h.tensor.dims[0] = DEMO_ROWS;
    h.tensor.dims[1] = DEMO_COLS;
    h.tensor.progress_unit = TP_PROGRESS_UNIT_ROWS;
    h.tensor.progress_stride_bytes = DEMO_COLS * 4;

    const tp_shm_region_t *pools[1] = { cpool };
    static uint8_t copy[DEMO_STRIDE];
    uint64_t copied = 0;
    uint64_t zero_copy = 0;
    uint64_t mismatches = 0;
    uint64_t drops = 0;
    uint64_t publish_ns = 0;
    uint64_t read_ns = 0;
    for (uint64_t seq = 0; seq < frames; seq++)
    {
        uint64_t t0 = tp_clock_mono_ns();
        uint32_t idx = tp_shm_header_index(seq, DEMO_NSLOTS);
        h.payload_slot = idx;
        h.timestamp_ns = t0;
        if (tp_shm_slot_write_begin(ring, seq) < 0)
        {
            break;
        }
        demo_fill(tp_shm_pool_payload(pool, idx), seq);
        if (tp_shm_slot_write_header(ring, seq, &h) < 0 || tp_shm_slot_write_commit(ring, seq) < 0)
        {
            fprintf(stderr, "tp demo: publish failed: %s\n", tp_errmsg());
            goto cleanup;
        }
        uint64_t t1 = tp_clock_mono_ns();
        tp_shm_frame_view_t v;
        tp_drop_reason_t r;
        bool ok;
        if (seq & 1)
        {
            r = tp_shm_frame_read_copy(cring, pools, 1, seq, &v, copy, sizeof(copy));
            ok = TP_DROP_NONE == r && demo_check(copy, seq);
            copied += TP_DROP_NONE == r;
        }
        else
        {
            r = tp_shm_frame_begin(cring, pools, 1, seq, &v);
            ok = TP_DROP_NONE == r && demo_check(v.payload, seq);
            if (TP_DROP_NONE == r)
            {
                r = tp_shm_frame_end(&v); /* the re-check after reading in place */
            }
            zero_copy += TP_DROP_NONE == r;
        }
        uint64_t t2 = tp_clock_mono_ns();
        if (0 == (seq & 1023))
        {
            tp_shm_region_refresh_activity(ring, 0); /* liveness, normally at announce cadence */
            tp_shm_region_refresh_activity(pool, 0);
        }
        publish_ns += t1 - t0;
        read_ns += t2 - t1;
        drops += TP_DROP_NONE != r;
        mismatches += (TP_DROP_NONE == r && !ok);
    }
    printf("  wrote         %" PRIu64 " frames, %.1f MB\n", frames, (double)frames * frame_bytes / 1e6);
    printf("  read back     %" PRIu64 " frames (copy-out %" PRIu64 ", zero-copy %" PRIu64 "), %" PRIu64
           " drops, %" PRIu64 " payload mismatches\n",
        copied + zero_copy, copied, zero_copy, drops, mismatches);

    /* The drop rules at work. */
    tp_shm_frame_view_t v;
    uint64_t next = frames;
    tp_drop_reason_t overwritten = frames > DEMO_NSLOTS
        ? tp_shm_frame_begin(cring, pools, 1, frames - 1 - DEMO_NSLOTS, &v)
        : TP_DROP_SEQ_AHEAD;
    tp_shm_slot_write_begin(ring, next);
    tp_drop_reason_t in_progress = tp_shm_frame_begin(cring, pools, 1, next, &v);
    tp_drop_reason_t not_yet = tp_shm_frame_begin(cring, pools, 1, next + DEMO_NSLOTS, &v);
    printf("  drop rules    overwritten seq -> %s, in-progress slot -> %s, future seq -> %s\n",
        tp_drop_reason_name(overwritten), tp_drop_reason_name(in_progress), tp_drop_reason_name(not_yet));

    /* Header-only micro loop: the commit protocol and the seqlock read without payload traffic. */
    const uint64_t micro = 200000;
    tp_shm_slot_header_t e = h;
    e.values_len_bytes = 0;
    e.tensor.dims[0] = 0;
    e.tensor.progress_unit = TP_PROGRESS_UNIT_NONE;
    uint64_t t0 = tp_clock_mono_ns();
    for (uint64_t s = next; s < next + micro; s++)
    {
        e.payload_slot = tp_shm_header_index(s, DEMO_NSLOTS);
        tp_shm_slot_write_begin(ring, s);
        tp_shm_slot_write_header(ring, s, &e);
        tp_shm_slot_write_commit(ring, s);
    }
    uint64_t t1 = tp_clock_mono_ns();
    uint64_t accepted = 0;
    for (uint64_t s = next + micro - DEMO_NSLOTS; s < next + micro; s++)
    {
        for (int k = 0; k < 1000; k++)
        {
            accepted += TP_DROP_NONE == tp_shm_frame_begin(cring, pools, 1, s, &v) && TP_DROP_NONE == tp_shm_frame_end(&v);
        }
    }
    uint64_t t2 = tp_clock_mono_ns();
    printf("  timing        publish %.0f ns/frame (fill %u B + header + commit), read %.0f ns/frame\n"
           "                (seqlock + validation + copy/verify of the payload)\n"
           "                without payload: commit %.0f ns (begin + header + commit), read %.0f ns\n"
           "                (begin + validation + end), over %" PRIu64 " commits and %u reads\n",
        (double)publish_ns / (double)frames, frame_bytes, (double)read_ns / (double)frames,
        (double)(t1 - t0) / (double)micro, (double)(t2 - t1) / (double)(DEMO_NSLOTS * 1000), micro,
        DEMO_NSLOTS * 1000);

    bool good = 0 == mismatches && 0 == drops && copied + zero_copy == frames && TP_DROP_SEQ_AHEAD == overwritten &&
        TP_DROP_NOT_COMMITTED == in_progress && TP_DROP_SEQ_STALE == not_yet && accepted == DEMO_NSLOTS * 1000;
    printf("  result        %s\n", good ? "OK: every frame read back intact" : "FAILED");
    rc = good ? TP_CLI_EXIT_OK : TP_CLI_EXIT_FAIL;

cleanup:
    tp_shm_region_close(cring);
    tp_shm_region_close(cpool);
    tp_shm_region_close(ring);
    tp_shm_region_close(pool);
    tp_shm_allowlist_close(allow);
    if (keep)
    {
        printf("  kept          %s (remove it with: rm -r %s)\n", base, base);
    }
    else
    {
        demo_rmtree(base);
        printf("  cleaned up    %s\n", base);
    }
    return rc;
}
