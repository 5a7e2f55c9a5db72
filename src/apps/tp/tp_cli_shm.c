/* `tp shm inspect PATH [--json] [--slots N|--all]`: print a region's superblock and header slots. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/tp_clock.h"
#include "tensor_pool/tp.h"
#include "tensor_pool/tp_shm.h"
#include "tp_args.h"
#include "tp_cli.h"

int tp_cli_shm(int argc, char **argv);

#define TP_INSPECT_DEFAULT_SLOTS 8u

static void tp_shm_usage(FILE *out)
{
    fprintf(out,
        "usage: tp shm inspect PATH [--json] [--slots N | --all]\n"
        "       tp shm gc [--base-dir DIR] [--namespace NS] [--stream ID] [--min-stale SECONDS] [--apply] [--json]\n"
        "\n"
        "gc: list (dry run, the default) or remove (--apply) the epoch directories of\n"
        "dead producers under DIR/tensorpool-<user>/ (default DIR /dev/shm): the\n"
        "superblock's pid is not running and its activity timestamp is older than\n"
        "--min-stale seconds (default 10). Live, unattributable or foreign entries are kept.\n"
        "\n"
        "Print the superblock of a tensorpool SHM region (header ring or payload pool)\n"
        "and, for a header ring, its slot headers (the first %u by default).\n"
        "The file is mapped read-only and validated; garbage files are reported, not trusted.\n"
        "\n"
        "  --json      one JSON object instead of text\n"
        "  --slots N   show the first N slots\n"
        "  --all       show every slot\n"
        "\n"
        "gc options:\n"
        "  --base-dir DIR       shm base directory (default /dev/shm)\n"
        "  --namespace NS       only this namespace\n"
        "  --stream ID          only this stream id\n"
        "  --min-stale SECONDS  activity must be at least this old (default 10, 0 = pid check only)\n"
        "  --apply              remove what a dry run lists\n"
        "  --json               one JSON line per epoch directory, then a summary line\n",
        TP_INSPECT_DEFAULT_SLOTS);
}

static void tp_json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; '\0' != *p; p++)
    {
        if ('"' == *p || '\\' == *p)
        {
            fprintf(out, "\\%c", *p);
        }
        else if (*p < 0x20 || *p >= 0x7f)
        {
            fprintf(out, "\\u%04x", *p);
        }
        else
        {
            fputc(*p, out);
        }
    }
    fputc('"', out);
}

static void tp_print_superblock_text(FILE *out, const tp_shm_superblock_t *sb, uint64_t file_size)
{
    fprintf(out, "superblock:\n");
    fprintf(out, "  magic                  0x%016" PRIx64 " (%s)\n", sb->magic,
        TP_SHM_MAGIC == sb->magic ? "valid" : "INVALID");
    fprintf(out, "  layout_version         %" PRIu32 "\n", sb->layout_version);
    fprintf(out, "  epoch                  %" PRIu64 "\n", sb->epoch);
    fprintf(out, "  stream_id              %" PRIu32 "\n", sb->stream_id);
    fprintf(out, "  region_type            %d (%s)\n", (int)sb->region_type, tp_shm_region_type_name(sb->region_type));
    fprintf(out, "  pool_id                %u\n", (unsigned)sb->pool_id);
    fprintf(out, "  nslots                 %" PRIu32 "\n", sb->nslots);
    fprintf(out, "  slot_bytes             %" PRIu32, sb->slot_bytes);
    if (TP_SHM_REGION_PAYLOAD_POOL == sb->region_type && sb->slot_bytes != sb->stride_bytes &&
        tp_shm_pool_slot_bytes_ok(sb->slot_bytes, sb->stride_bytes))
    {
        /* Other implementations leave a pool's slot_bytes unset (0 or all-ones): the stride applies. */
        fprintf(out, " (%s: unset for a pool, stride_bytes applies)",
            0 == sb->slot_bytes ? "0" : "0xFFFFFFFF");
    }
    fprintf(out, "\n");
    fprintf(out, "  stride_bytes           %" PRIu32 "\n", sb->stride_bytes);
    fprintf(out, "  pid                    %" PRIu64 "\n", sb->pid);
    fprintf(out, "  start_timestamp_ns     %" PRIu64 "\n", sb->start_timestamp_ns);
    fprintf(out, "  activity_timestamp_ns  %" PRIu64, sb->activity_timestamp_ns);
    if (0 != sb->activity_timestamp_ns)
    {
        /* CLOCK_MONOTONIC (ours, the spec's) or CLOCK_REALTIME (older regions): tp_shm_activity_age_ns tells. */
        fprintf(out, " (%.3f s ago)", (double)tp_shm_activity_age_ns(sb->activity_timestamp_ns) / 1e9);
    }
    fprintf(out, "\n  file_size              %" PRIu64 "\n", file_size);
}

static void tp_print_superblock_json(FILE *out, const tp_shm_superblock_t *sb)
{
    fprintf(out,
        "\"superblock\":{\"magic\":\"0x%016" PRIx64 "\",\"magic_valid\":%s,\"layout_version\":%" PRIu32
        ",\"epoch\":%" PRIu64 ",\"stream_id\":%" PRIu32 ",\"region_type\":%d,\"region_type_name\":\"%s\","
        "\"pool_id\":%u,\"nslots\":%" PRIu32 ",\"slot_bytes\":%" PRIu32 ",\"stride_bytes\":%" PRIu32
        ",\"pid\":%" PRIu64 ",\"start_timestamp_ns\":%" PRIu64 ",\"activity_timestamp_ns\":%" PRIu64,
        sb->magic, TP_SHM_MAGIC == sb->magic ? "true" : "false", sb->layout_version, sb->epoch, sb->stream_id,
        (int)sb->region_type, tp_shm_region_type_name(sb->region_type), (unsigned)sb->pool_id, sb->nslots,
        sb->slot_bytes, sb->stride_bytes, sb->pid, sb->start_timestamp_ns, sb->activity_timestamp_ns);
    if (TP_SHM_REGION_PAYLOAD_POOL == sb->region_type)
    {
        /* The raw slot_bytes is kept above; this says whether it is one of the accepted pool values. */
        fprintf(out, ",\"slot_bytes_unset\":%s",
            sb->slot_bytes != sb->stride_bytes && tp_shm_pool_slot_bytes_ok(sb->slot_bytes, sb->stride_bytes)
                ? "true"
                : "false");
    }
    fputc('}', out);
}

static void tp_print_int_list(FILE *out, const int32_t *v, unsigned n)
{
    fputc('[', out);
    for (unsigned i = 0; i < n; i++)
    {
        fprintf(out, "%s%" PRId32, 0 == i ? "" : ",", v[i]);
    }
    fputc(']', out);
}

static void tp_print_slot(FILE *out, bool json, uint32_t index, const tp_shm_slot_header_t *h, tp_drop_reason_t r)
{
    unsigned nd = h->tensor.ndims <= TP_MAX_DIMS ? h->tensor.ndims : TP_MAX_DIMS;
    const bool committed = 0 != (h->seq_commit & 1u);
    const char *status = TP_DROP_NONE == r ? "OK" : tp_drop_reason_name(r);
    if (json)
    {
        fprintf(out,
            "{\"index\":%" PRIu32 ",\"seq_commit\":%" PRIu64 ",\"seq\":%" PRIu64 ",\"committed\":%s,"
            "\"values_len_bytes\":%" PRIu32 ",\"pool_id\":%u,\"payload_slot\":%" PRIu32 ",\"payload_offset\":%" PRIu32
            ",\"timestamp_ns\":%" PRIu64 ",\"meta_version\":%" PRIu32 ",\"dtype\":%d,\"dtype_name\":\"%s\","
            "\"major_order\":\"%s\",\"ndims\":%u,\"dims\":",
            index, h->seq_commit, h->seq_commit >> 1, committed ? "true" : "false", h->values_len_bytes,
            (unsigned)h->pool_id, h->payload_slot, h->payload_offset, h->timestamp_ns, h->meta_version,
            (int)h->tensor.dtype, tp_dtype_name(h->tensor.dtype), tp_major_order_name(h->tensor.major_order),
            (unsigned)h->tensor.ndims);
        tp_print_int_list(out, h->tensor.dims, nd);
        fprintf(out, ",\"strides\":");
        tp_print_int_list(out, h->tensor.strides, nd);
        fprintf(out, ",\"progress_unit\":\"%s\",\"progress_stride_bytes\":%" PRIu32 ",\"status\":\"%s\"}",
            tp_progress_unit_name(h->tensor.progress_unit), h->tensor.progress_stride_bytes, status);
        return;
    }
    if (0 == h->seq_commit && TP_DROP_NOT_COMMITTED == r)
    {
        fprintf(out, "  [%4" PRIu32 "] empty (never written)\n", index);
        return;
    }
    fprintf(out,
        "  [%4" PRIu32 "] seq=%" PRIu64 " %s values_len=%" PRIu32 " pool=%u payload_slot=%" PRIu32
        " timestamp_ns=%" PRIu64 " meta_version=%" PRIu32 "\n         %s %s ndims=%u dims=",
        index, h->seq_commit >> 1, committed ? "committed" : "IN-PROGRESS", h->values_len_bytes, (unsigned)h->pool_id,
        h->payload_slot, h->timestamp_ns, h->meta_version, tp_dtype_name(h->tensor.dtype),
        tp_major_order_name(h->tensor.major_order), (unsigned)h->tensor.ndims);
    tp_print_int_list(out, h->tensor.dims, nd);
    fprintf(out, " strides=");
    tp_print_int_list(out, h->tensor.strides, nd);
    if (TP_PROGRESS_UNIT_NONE != h->tensor.progress_unit)
    {
        fprintf(out, " progress=%s/%" PRIu32, tp_progress_unit_name(h->tensor.progress_unit),
            h->tensor.progress_stride_bytes);
    }
    fprintf(out, " status=%s\n", status);
}

static int tp_shm_inspect(int argc, char **argv)
{
    const char *path = NULL;
    bool json = false;
    bool all = false;
    unsigned long slots = TP_INSPECT_DEFAULT_SLOTS;
    for (int i = 1; i < argc; i++)
    {
        if (0 == strcmp(argv[i], "--json"))
        {
            json = true;
        }
        else if (0 == strcmp(argv[i], "--all"))
        {
            all = true;
        }
        else if (0 == strcmp(argv[i], "--slots"))
        {
            const char *v = tp_args_value("tp shm inspect", argc, argv, &i);
            uint64_t n = 0;
            if (NULL == v || tp_args_u64("tp shm inspect", "--slots", v, 0, UINT32_MAX, "a slot count", &n) < 0)
            {
                return TP_CLI_EXIT_USAGE;
            }
            slots = (unsigned long)n;
        }
        else if (0 == strcmp(argv[i], "--help") || 0 == strcmp(argv[i], "-h"))
        {
            tp_shm_usage(stdout);
            return TP_CLI_EXIT_OK;
        }
        else if ('-' == argv[i][0])
        {
            fprintf(stderr, "tp shm inspect: unknown option '%s'\n", argv[i]);
            tp_shm_usage(stderr);
            return TP_CLI_EXIT_USAGE;
        }
        else if (NULL == path)
        {
            path = argv[i];
        }
        else
        {
            fprintf(stderr, "tp shm inspect: only one PATH is accepted\n");
            return TP_CLI_EXIT_USAGE;
        }
    }
    if (NULL == path)
    {
        tp_shm_usage(stderr);
        return TP_CLI_EXIT_USAGE;
    }

    tp_shm_region_t *region = NULL;
    if (tp_shm_region_map_inspect(&region, path) < 0)
    {
        char why[512];
        snprintf(why, sizeof(why), "%s", tp_errmsg());
        /* Show what the file claims when its superblock can at least be read. */
        tp_shm_superblock_t raw;
        uint64_t size = 0;
        bool have_raw = 0 == tp_shm_superblock_read_file(path, &raw, &size);
        if (json)
        {
            printf("{\"path\":");
            tp_json_string(stdout, path);
            printf(",\"valid\":false,\"error\":");
            tp_json_string(stdout, why);
            if (have_raw)
            {
                printf(",\"file_size\":%" PRIu64 ",", size);
                tp_print_superblock_json(stdout, &raw);
            }
            printf("}\n");
        }
        else if (have_raw)
        {
            printf("region: %s (INVALID)\n", path);
            tp_print_superblock_text(stdout, &raw, size);
        }
        fprintf(stderr, "tp shm inspect: %s\n", why);
        return TP_CLI_EXIT_FAIL;
    }

    const tp_shm_superblock_t *sb = tp_shm_region_superblock(region);
    uint32_t nslots = sb->nslots;
    uint32_t show = 0;
    if (TP_SHM_REGION_HEADER_RING == sb->region_type)
    {
        show = (all || slots > nslots) ? nslots : (uint32_t)slots;
    }
    uint64_t file_size = 0;
    tp_shm_superblock_t raw;
    if (0 != tp_shm_superblock_read_file(path, &raw, &file_size))
    {
        file_size = tp_shm_region_length(region);
    }
    /* Use the live activity timestamp (atomic load). */
    tp_shm_superblock_t live = *sb;
    live.activity_timestamp_ns = tp_shm_region_activity_ns(region);

    uint32_t counts[3] = { 0, 0, 0 }; /* ok, in-progress/empty, invalid */
    if (json)
    {
        printf("{\"path\":");
        tp_json_string(stdout, tp_shm_region_path(region));
        printf(",\"valid\":true,\"file_size\":%" PRIu64 ",\"hugepages\":%s,", file_size,
            tp_shm_region_is_hugepages(region) ? "true" : "false");
        tp_print_superblock_json(stdout, &live);
        if (TP_SHM_REGION_HEADER_RING == sb->region_type)
        {
            printf(",\"slots_shown\":%" PRIu32 ",\"slots\":[", show);
            for (uint32_t i = 0; i < show; i++)
            {
                tp_shm_slot_header_t h;
                tp_drop_reason_t r = tp_shm_slot_read(region, i, &h);
                if (i > 0)
                {
                    printf(",");
                }
                tp_print_slot(stdout, true, i, &h, r);
            }
            printf("]");
        }
        printf("}\n");
    }
    else
    {
        printf("region: %s\n", tp_shm_region_path(region));
        tp_print_superblock_text(stdout, &live, file_size);
        printf("  hugepages              %s\n", tp_shm_region_is_hugepages(region) ? "yes" : "no");
        if (TP_SHM_REGION_HEADER_RING == sb->region_type)
        {
            printf("slots (%" PRIu32 " of %" PRIu32 "):\n", show, nslots);
            for (uint32_t i = 0; i < show; i++)
            {
                tp_shm_slot_header_t h;
                tp_drop_reason_t r = tp_shm_slot_read(region, i, &h);
                counts[TP_DROP_NONE == r ? 0 : (TP_DROP_NOT_COMMITTED == r ? 1 : 2)]++;
                tp_print_slot(stdout, false, i, &h, r);
            }
            printf("summary: %" PRIu32 " committed and valid, %" PRIu32 " empty or in progress, %" PRIu32
                   " invalid\n",
                counts[0], counts[1], counts[2]);
        }
    }
    tp_shm_region_close(region);
    return TP_CLI_EXIT_OK;
}

typedef struct tp_gc_report_stct
{
    bool json;
    uint64_t dead_bytes;
    unsigned live;
    unsigned skipped;
    unsigned dead;
    unsigned removed;
} tp_gc_report_t;

static const char *tp_gc_verdict_name(tp_shm_gc_verdict_t v)
{
    return TP_SHM_GC_DEAD == v ? "dead" : (TP_SHM_GC_LIVE == v ? "live" : "skipped");
}

static void tp_gc_on_entry(void *clientd, const tp_shm_gc_entry_t *e)
{
    tp_gc_report_t *r = clientd;
    if (TP_SHM_GC_DEAD == e->verdict)
    {
        r->dead++;
        r->dead_bytes += e->bytes;
        r->removed += e->removed ? 1u : 0u;
    }
    else if (TP_SHM_GC_LIVE == e->verdict)
    {
        r->live++;
    }
    else
    {
        r->skipped++;
    }
    if (r->json)
    {
        printf("{\"path\":");
        tp_json_string(stdout, e->path);
        printf(",\"namespace\":");
        tp_json_string(stdout, e->namespace_name);
        printf(",\"stream_id\":%" PRIu32 ",\"epoch\":%" PRIu64 ",\"pid\":%" PRIu64 ",\"activity_age_ns\":", e->stream_id,
            e->epoch, e->pid);
        if (UINT64_MAX == e->activity_age_ns)
        {
            printf("null");
        }
        else
        {
            printf("%" PRIu64, e->activity_age_ns);
        }
        printf(",\"bytes\":%" PRIu64 ",\"verdict\":\"%s\",\"removed\":%s,\"reason\":", e->bytes,
            tp_gc_verdict_name(e->verdict), e->removed ? "true" : "false");
        tp_json_string(stdout, e->reason);
        printf("}\n");
        return;
    }
    const char *action = TP_SHM_GC_DEAD == e->verdict ? (e->removed ? "removed" : "dead   ") : "keep   ";
    printf("%s %s (%s; %" PRIu64 " bytes)\n", action, e->path, e->reason, e->bytes);
}

static int tp_shm_gc_cmd(int argc, char **argv)
{
    static const char *prog = "tp shm gc";
    const char *base_dir = "/dev/shm";
    tp_shm_gc_options_t opts;
    tp_shm_gc_options_defaults(&opts);
    tp_gc_report_t report;
    memset(&report, 0, sizeof(report));
    for (int i = 1; i < argc; i++)
    {
        const char *v = NULL;
        if (0 == strcmp(argv[i], "--apply"))
        {
            opts.apply = true;
        }
        else if (0 == strcmp(argv[i], "--json"))
        {
            report.json = true;
        }
        else if (0 == strcmp(argv[i], "--base-dir"))
        {
            if (NULL == (v = tp_args_value(prog, argc, argv, &i)) || tp_args_path(prog, "--base-dir", v, 4000) < 0)
            {
                return TP_CLI_EXIT_USAGE;
            }
            if ('/' != v[0])
            {
                fprintf(stderr, "%s: --base-dir must be an absolute path, got '%s'\n", prog, v);
                return TP_CLI_EXIT_USAGE;
            }
            base_dir = v;
        }
        else if (0 == strcmp(argv[i], "--namespace"))
        {
            if (NULL == (v = tp_args_value(prog, argc, argv, &i)))
            {
                return TP_CLI_EXIT_USAGE;
            }
            if (tp_shm_name_validate("--namespace", v) < 0)
            {
                fprintf(stderr, "%s: %s\n", prog, tp_errmsg());
                return TP_CLI_EXIT_USAGE;
            }
            opts.namespace_name = v;
        }
        else if (0 == strcmp(argv[i], "--stream"))
        {
            if (NULL == (v = tp_args_value(prog, argc, argv, &i)) ||
                tp_args_u32(prog, "--stream", v, 0, UINT32_MAX, "a stream id", &opts.stream_id) < 0)
            {
                return TP_CLI_EXIT_USAGE;
            }
            opts.only_stream = true;
        }
        else if (0 == strcmp(argv[i], "--min-stale"))
        {
            double seconds = 0.0;
            if (NULL == (v = tp_args_value(prog, argc, argv, &i)) ||
                tp_args_double(prog, "--min-stale", v, 0.0, 1e9, "a number of seconds", &seconds) < 0)
            {
                return TP_CLI_EXIT_USAGE;
            }
            opts.min_stale_ns = (uint64_t)(seconds * 1e9);
        }
        else if (0 == strcmp(argv[i], "--help") || 0 == strcmp(argv[i], "-h"))
        {
            tp_shm_usage(stdout);
            return TP_CLI_EXIT_OK;
        }
        else
        {
            fprintf(stderr, "%s: unknown argument '%s'\n", prog, argv[i]);
            tp_shm_usage(stderr);
            return TP_CLI_EXIT_USAGE;
        }
    }
    opts.on_entry = tp_gc_on_entry;
    opts.clientd = &report;
    int rc = tp_shm_gc(base_dir, &opts);
    if (rc < 0)
    {
        fprintf(stderr, "%s: %s\n", prog, tp_errmsg());
        return TP_CLI_EXIT_FAIL;
    }
    if (report.json)
    {
        printf("{\"summary\":true,\"base_dir\":");
        tp_json_string(stdout, base_dir);
        printf(",\"apply\":%s,\"dead\":%u,\"removed\":%u,\"live\":%u,\"skipped\":%u,\"dead_bytes\":%" PRIu64 "}\n",
            opts.apply ? "true" : "false", report.dead, report.removed, report.live, report.skipped,
            report.dead_bytes);
    }
    else
    {
        printf("%s: %u dead epoch(s) (%" PRIu64 " bytes)%s, %u live, %u skipped\n", base_dir, report.dead,
            report.dead_bytes,
            opts.apply ? "" : " found; dry run, nothing removed (--apply removes them)", report.live,
            report.skipped);
        if (opts.apply)
        {
            printf("removed %u of %u\n", report.removed, report.dead);
        }
    }
    /* Dead epochs that could not be removed are a failure of --apply. */
    return opts.apply && report.removed != report.dead ? TP_CLI_EXIT_FAIL : TP_CLI_EXIT_OK;
}

int tp_cli_shm(int argc, char **argv)
{
    if (argc < 2 || 0 == strcmp(argv[1], "--help") || 0 == strcmp(argv[1], "-h"))
    {
        tp_shm_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? TP_CLI_EXIT_USAGE : TP_CLI_EXIT_OK;
    }
    if (0 == strcmp(argv[1], "inspect"))
    {
        return tp_shm_inspect(argc - 1, argv + 1);
    }
    if (0 == strcmp(argv[1], "gc"))
    {
        return tp_shm_gc_cmd(argc - 1, argv + 1);
    }
    fprintf(stderr, "tp shm: unknown subcommand '%s'\n", argv[1]);
    tp_shm_usage(stderr);
    return TP_CLI_EXIT_USAGE;
}
