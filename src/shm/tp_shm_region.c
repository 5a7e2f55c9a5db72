/* SHM regions: superblock, create, map with validation (wire §6, §7, §9, §15.1, §15.14, §15.22). */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/types.h>
#include <unistd.h>

#include "common/tp_clock.h"
#include "common/tp_error.h"
#include "common/tp_fs.h"
#include "common/tp_log.h"
#include "tp_sbe/wire.h"
#include "tp_shm_geometry.h"
#include "tp_shm_internal.h"
#include "tp_shm_lib.h"

_Static_assert(TP_SHM_GEOMETRY_HEADER_SLOT_BYTES == TP_SHM_HEADER_SLOT_BYTES, "header slot size");
_Static_assert(TP_SHM_GEOMETRY_SUPERBLOCK_BYTES == TP_SHM_SUPERBLOCK_SIZE, "superblock size");

#ifndef HUGETLBFS_MAGIC
#define HUGETLBFS_MAGIC 0x958458f6
#endif

_Static_assert(TP_SBE_WIRE_SHM_REGION_SUPERBLOCK_ACTIVITY_TIMESTAMP_NS_OFFSET % 8 == 0,
    "activity_timestamp_ns must be 8-byte aligned for atomic access");
_Static_assert(TP_SBE_WIRE_SHM_REGION_SUPERBLOCK_MAGIC_OFFSET == 0, "magic must be at offset 0");

const char *tp_shm_region_type_name(int region_type)
{
    switch (region_type)
    {
        case TP_SHM_REGION_HEADER_RING: return "HEADER_RING";
        case TP_SHM_REGION_PAYLOAD_POOL: return "PAYLOAD_POOL";
        default: return "INVALID";
    }
}

/* ------------------------------------------------------------------------- */
/* Superblock                                                                 */
/* ------------------------------------------------------------------------- */

int tp_shm_superblock_encode(uint8_t *buf, size_t len, const tp_shm_superblock_t *sb)
{
    if (NULL == buf || NULL == sb || len < TP_SHM_SUPERBLOCK_SIZE)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "superblock encode needs a %u-byte buffer", TP_SHM_SUPERBLOCK_SIZE);
    }
    memset(buf, 0, TP_SHM_SUPERBLOCK_SIZE);
    tp_sbe_wire_shm_region_superblock_t m;
    if (TP_SBE_OK != tp_sbe_wire_shm_region_superblock_wrap_for_encode(&m, buf, 0, TP_SHM_SUPERBLOCK_SIZE))
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "superblock: codec wrap failed");
    }
    tp_sbe_wire_shm_region_superblock_set_magic(&m, sb->magic);
    tp_sbe_wire_shm_region_superblock_set_layout_version(&m, sb->layout_version);
    tp_sbe_wire_shm_region_superblock_set_epoch(&m, sb->epoch);
    tp_sbe_wire_shm_region_superblock_set_stream_id(&m, sb->stream_id);
    tp_sbe_wire_shm_region_superblock_set_region_type(&m, (tp_sbe_wire_region_type_t)sb->region_type);
    tp_sbe_wire_shm_region_superblock_set_pool_id(&m, sb->pool_id);
    tp_sbe_wire_shm_region_superblock_set_nslots(&m, sb->nslots);
    tp_sbe_wire_shm_region_superblock_set_slot_bytes(&m, sb->slot_bytes);
    tp_sbe_wire_shm_region_superblock_set_stride_bytes(&m, sb->stride_bytes);
    tp_sbe_wire_shm_region_superblock_set_pid(&m, sb->pid);
    tp_sbe_wire_shm_region_superblock_set_start_timestamp_ns(&m, sb->start_timestamp_ns);
    tp_sbe_wire_shm_region_superblock_set_activity_timestamp_ns(&m, sb->activity_timestamp_ns);
    return 0;
}

int tp_shm_superblock_decode(const uint8_t *buf, size_t len, tp_shm_superblock_t *out)
{
    if (NULL == buf || NULL == out || len < TP_SHM_SUPERBLOCK_SIZE)
    {
        return tp_err_set(TP_ERR_VALIDATION, "superblock needs %u bytes, have %zu", TP_SHM_SUPERBLOCK_SIZE,
            NULL == buf ? (size_t)0 : len);
    }
    tp_sbe_wire_shm_region_superblock_t m;
    if (TP_SBE_OK != tp_sbe_wire_shm_region_superblock_wrap_for_decode(&m, buf, 0,
                         TP_SBE_WIRE_SHM_REGION_SUPERBLOCK_BLOCK_LENGTH, TP_SBE_WIRE_SCHEMA_VERSION,
                         TP_SHM_SUPERBLOCK_SIZE))
    {
        return tp_err_set(TP_ERR_VALIDATION, "superblock: codec wrap failed");
    }
    out->magic = tp_sbe_wire_shm_region_superblock_magic(&m);
    out->layout_version = tp_sbe_wire_shm_region_superblock_layout_version(&m);
    out->epoch = tp_sbe_wire_shm_region_superblock_epoch(&m);
    out->stream_id = tp_sbe_wire_shm_region_superblock_stream_id(&m);
    out->region_type = (int16_t)tp_sbe_wire_shm_region_superblock_region_type(&m);
    out->pool_id = tp_sbe_wire_shm_region_superblock_pool_id(&m);
    out->nslots = tp_sbe_wire_shm_region_superblock_nslots(&m);
    out->slot_bytes = tp_sbe_wire_shm_region_superblock_slot_bytes(&m);
    out->stride_bytes = tp_sbe_wire_shm_region_superblock_stride_bytes(&m);
    out->pid = tp_sbe_wire_shm_region_superblock_pid(&m);
    out->start_timestamp_ns = tp_sbe_wire_shm_region_superblock_start_timestamp_ns(&m);
    out->activity_timestamp_ns = tp_sbe_wire_shm_region_superblock_activity_timestamp_ns(&m);
    return 0;
}

bool tp_shm_pool_slot_bytes_ok(uint32_t slot_bytes, uint32_t stride_bytes)
{
    return slot_bytes == stride_bytes || 0 == slot_bytes || TP_SHM_POOL_SLOT_BYTES_UNSET == slot_bytes;
}


int tp_shm_region_params_validate(const tp_shm_region_params_t *p)
{
    if (NULL == p)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "region params are NULL");
    }
    if (TP_SHM_REGION_HEADER_RING != p->region_type && TP_SHM_REGION_PAYLOAD_POOL != p->region_type)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "region_type %d is not HEADER_RING (1) or PAYLOAD_POOL (2)",
            (int)p->region_type);
    }
    if (!tp_shm_geometry_nslots_valid(p->nslots))
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "nslots %u must be a power of two greater than 0",
            (unsigned)p->nslots);
    }
    if (TP_SHM_REGION_HEADER_RING == p->region_type && 0 != p->pool_id)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "pool_id must be 0 for a header ring (got %u)",
            (unsigned)p->pool_id);
    }
    if (TP_SHM_REGION_PAYLOAD_POOL == p->region_type && !tp_shm_geometry_stride_valid(p->stride_bytes))
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "stride_bytes %u must be a non-zero multiple of 64",
            (unsigned)p->stride_bytes);
    }
    uint64_t slot = TP_SHM_REGION_HEADER_RING == p->region_type ? TP_SHM_HEADER_SLOT_BYTES : p->stride_bytes;
    return tp_shm_geometry_region_bytes(p->nslots, slot, NULL);
}

int tp_shm_region_size(const tp_shm_region_params_t *params, uint64_t *size_out)
{
    if (tp_shm_region_params_validate(params) < 0)
    {
        return -1;
    }
    uint64_t slot =
        TP_SHM_REGION_HEADER_RING == params->region_type ? TP_SHM_HEADER_SLOT_BYTES : params->stride_bytes;
    return tp_shm_geometry_region_bytes(params->nslots, slot, size_out);
}

int tp_shm_region_check_caps(const tp_shm_region_params_t *params, uint64_t max_region_bytes, uint64_t *size_out)
{
    uint64_t size;
    if (tp_shm_region_size(params, &size) < 0)
    {
        return -1;
    }
    if (0 == max_region_bytes)
    {
        max_region_bytes = TP_SHM_DEFAULT_MAX_REGION_BYTES;
    }
    if (params->nslots > TP_SHM_MAX_NSLOTS)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "nslots %u exceeds the maximum of %u slots (TP_SHM_MAX_NSLOTS)",
            (unsigned)params->nslots, TP_SHM_MAX_NSLOTS);
    }
    if (TP_SHM_REGION_PAYLOAD_POOL == params->region_type && params->stride_bytes > TP_SHM_MAX_STRIDE_BYTES)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT,
            "pool %u: stride_bytes %u exceeds the maximum of %u bytes (TP_SHM_MAX_STRIDE_BYTES)",
            (unsigned)params->pool_id, (unsigned)params->stride_bytes, TP_SHM_MAX_STRIDE_BYTES);
    }
    if (size > max_region_bytes)
    {
        char what[48];
        if (TP_SHM_REGION_PAYLOAD_POOL == params->region_type)
        {
            snprintf(what, sizeof(what), "pool %u", (unsigned)params->pool_id);
        }
        else
        {
            snprintf(what, sizeof(what), "header ring");
        }
        return tp_err_set(TP_ERR_INVALID_ARGUMENT,
            "%s of %llu bytes (%u slots x %u bytes) exceeds the cap of %llu bytes per region: use fewer or "
            "smaller slots, or raise tp_shm_create_options_t.max_region_bytes",
            what, (unsigned long long)size, (unsigned)params->nslots,
            TP_SHM_REGION_HEADER_RING == params->region_type ? TP_SHM_HEADER_SLOT_BYTES
                                                              : (unsigned)params->stride_bytes,
            (unsigned long long)max_region_bytes);
    }
    if (NULL != size_out)
    {
        *size_out = size;
    }
    return 0;
}

int tp_shm_layout_check(const char *dir, uint32_t nslots, const uint32_t *strides, size_t count,
    uint64_t max_region_bytes, uint64_t *total_out)
{
    if (NULL == strides && 0 != count)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_shm_layout_check: NULL strides");
    }
    tp_shm_region_params_t p;
    memset(&p, 0, sizeof(p));
    p.region_type = TP_SHM_REGION_HEADER_RING;
    p.layout_version = TP_SHM_LAYOUT_VERSION;
    p.nslots = nslots;
    uint64_t total = 0;
    if (tp_shm_region_check_caps(&p, max_region_bytes, &total) < 0)
    {
        return tp_err_prepend("header ring");
    }
    for (size_t i = 0; i < count; i++)
    {
        uint64_t size;
        p.region_type = TP_SHM_REGION_PAYLOAD_POOL;
        p.pool_id = (uint16_t)(i + 1);
        p.stride_bytes = strides[i];
        if (tp_shm_region_check_caps(&p, max_region_bytes, &size) < 0)
        {
            return tp_err_prepend("pool #%zu", i);
        }
        if (__builtin_add_overflow(total, size, &total))
        {
            return tp_err_set(TP_ERR_INVALID_ARGUMENT, "layout size overflows");
        }
    }
    if (NULL != total_out)
    {
        *total_out = total;
    }
    if (NULL != dir)
    {
        uint64_t avail;
        if (tp_fs_free_bytes(dir, &avail) < 0)
        {
            return -1;
        }
        if (avail < total)
        {
            return tp_err_set(TP_ERR_IO,
                "not enough space in %.512s for the shared-memory layout (needs %llu bytes = %.1f MiB for the header "
                "ring and %zu pool(s) of %u slots, %llu bytes free): free space there, enlarge the file system "
                "(e.g. docker run --shm-size=...), or use fewer or smaller slots or another directory",
                dir, (unsigned long long)total, (double)total / (1024.0 * 1024.0), count, (unsigned)nslots,
                (unsigned long long)avail);
        }
    }
    return 0;
}

#define TP_SB_MISMATCH(field, fmt, have, want) \
    tp_err_set(TP_ERR_VALIDATION, "superblock " field " mismatch: region has " fmt ", expected " fmt, have, want)

int tp_shm_superblock_validate(const tp_shm_superblock_t *sb, const tp_shm_region_params_t *e)
{
    if (NULL == sb || NULL == e)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_shm_superblock_validate: NULL argument");
    }
    if (TP_SHM_MAGIC != sb->magic)
    {
        return tp_err_set(TP_ERR_VALIDATION, "superblock magic mismatch: region has 0x%016llx, expected 0x%016llx",
            (unsigned long long)sb->magic, (unsigned long long)TP_SHM_MAGIC);
    }
    if (sb->layout_version != e->layout_version)
    {
        return TP_SB_MISMATCH("layout_version", "%u", (unsigned)sb->layout_version, (unsigned)e->layout_version);
    }
    if (sb->epoch != e->epoch)
    {
        return TP_SB_MISMATCH("epoch", "%llu", (unsigned long long)sb->epoch, (unsigned long long)e->epoch);
    }
    if (sb->stream_id != e->stream_id)
    {
        return TP_SB_MISMATCH("stream_id", "%u", (unsigned)sb->stream_id, (unsigned)e->stream_id);
    }
    if (sb->region_type != (int16_t)e->region_type)
    {
        return tp_err_set(TP_ERR_VALIDATION, "superblock region_type mismatch: region has %d (%s), expected %d (%s)",
            (int)sb->region_type, tp_shm_region_type_name(sb->region_type), (int)e->region_type,
            tp_shm_region_type_name(e->region_type));
    }
    uint16_t want_pool = TP_SHM_REGION_HEADER_RING == e->region_type ? 0 : e->pool_id;
    if (sb->pool_id != want_pool)
    {
        return TP_SB_MISMATCH("pool_id", "%u", (unsigned)sb->pool_id, (unsigned)want_pool);
    }
    if (sb->nslots != e->nslots)
    {
        return TP_SB_MISMATCH("nslots", "%u", (unsigned)sb->nslots, (unsigned)e->nslots);
    }
    if (TP_SHM_REGION_HEADER_RING == e->region_type)
    {
        if (TP_SHM_HEADER_SLOT_BYTES != sb->slot_bytes)
        {
            return TP_SB_MISMATCH("slot_bytes", "%u", (unsigned)sb->slot_bytes, TP_SHM_HEADER_SLOT_BYTES);
        }
        if (0 != sb->stride_bytes && TP_SHM_HEADER_SLOT_BYTES != sb->stride_bytes)
        {
            return tp_err_set(TP_ERR_VALIDATION,
                "superblock stride_bytes mismatch: region has %u, expected 0 or %u for a header ring",
                (unsigned)sb->stride_bytes, TP_SHM_HEADER_SLOT_BYTES);
        }
    }
    else
    {
        /*
         * The spec does not say what a pool's slot_bytes holds: we write the stride, other implementations
         * write 0 or 0xFFFFFFFF ("not applicable"). All three are accepted; stride_bytes is what addresses
         * the pool and must match exactly (DECISIONS SHM-1).
         */
        if (!tp_shm_pool_slot_bytes_ok(sb->slot_bytes, e->stride_bytes))
        {
            return tp_err_set(TP_ERR_VALIDATION,
                "superblock slot_bytes mismatch: region has %u, expected %u (the stride), 0 or 0xFFFFFFFF for a "
                "payload pool",
                (unsigned)sb->slot_bytes, (unsigned)e->stride_bytes);
        }
        if (sb->stride_bytes != e->stride_bytes)
        {
            return TP_SB_MISMATCH("stride_bytes", "%u", (unsigned)sb->stride_bytes, (unsigned)e->stride_bytes);
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------- */
/* Regions                                                                    */
/* ------------------------------------------------------------------------- */

void tp_shm_create_options_defaults(tp_shm_create_options_t *opts)
{
    if (NULL != opts)
    {
        memset(opts, 0, sizeof(*opts));
        opts->file_mode = 0600;
        opts->prefault = true;
    }
}

static tp_shm_region_t *tp_shm_region_alloc(void)
{
    tp_shm_region_t *r = calloc(1, sizeof(*r));
    if (NULL == r)
    {
        tp_err_set(TP_ERR_NO_MEMORY, "out of memory allocating a region");
        return NULL;
    }
    r->fd = -1;
    r->base = MAP_FAILED;
    return r;
}

int tp_shm_region_close(tp_shm_region_t *r)
{
    if (NULL == r)
    {
        return 0;
    }
    if (MAP_FAILED != r->base && NULL != r->base)
    {
        munmap(r->base, r->length);
    }
    if (r->fd >= 0)
    {
        close(r->fd);
    }
    free(r);
    return 0;
}

static int tp_shm_fs_info(int fd, const char *path, bool *is_huge, uint64_t *page_size)
{
    struct statfs sfs;
    if (0 != fstatfs(fd, &sfs))
    {
        return tp_err_set_errno(errno, "fstatfs %s", path);
    }
    *is_huge = (unsigned long)sfs.f_type == (unsigned long)HUGETLBFS_MAGIC;
    *page_size = *is_huge ? (uint64_t)sfs.f_bsize : (uint64_t)sysconf(_SC_PAGESIZE);
    if (0 == *page_size)
    {
        *page_size = 4096;
    }
    return 0;
}

static uint64_t tp_round_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) / a * a;
}

int tp_shm_region_create(tp_shm_region_t **out, const char *path, const tp_shm_region_params_t *params,
    const tp_shm_create_options_t *opts_in)
{
    tp_shm_create_options_t opts;
    uint64_t size;
    if (NULL == out || NULL == path)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_shm_region_create: NULL argument");
    }
    *out = NULL;
    if (NULL == opts_in)
    {
        tp_shm_create_options_defaults(&opts);
    }
    else
    {
        opts = *opts_in;
    }
    if ('/' != path[0] || strlen(path) > TP_SHM_PATH_MAX)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "region path '%.256s' must be absolute and at most %u bytes",
            path, TP_SHM_PATH_MAX);
    }
    if (0 != (opts.file_mode & ~0777u))
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "file mode %o: only permission bits (0777) are allowed",
            (unsigned)opts.file_mode);
    }
    if (tp_shm_region_check_caps(params, opts.max_region_bytes, &size) < 0)
    {
        return tp_err_prepend("creating %.256s", path);
    }

    tp_shm_region_t *r = tp_shm_region_alloc();
    if (NULL == r)
    {
        return -1;
    }
    snprintf(r->path, sizeof(r->path), "%s", path);
    r->fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, (mode_t)opts.file_mode);
    if (r->fd < 0)
    {
        int e = errno;
        tp_shm_region_close(r);
        tp_err_set_errno(e, "cannot create region file %.256s", path);
        return -1;
    }
    bool huge = false;
    uint64_t page = 4096;
    if (0 != fchmod(r->fd, (mode_t)opts.file_mode))
    {
        tp_err_set_errno(errno, "cannot set mode %o on %.256s", (unsigned)opts.file_mode, path);
        goto fail;
    }
    if (tp_shm_fs_info(r->fd, path, &huge, &page) < 0)
    {
        goto fail;
    }
    if (opts.require_hugepages && !huge)
    {
        tp_err_set(TP_ERR_VALIDATION, "require_hugepages: %.256s is not on a hugetlbfs filesystem", path);
        goto fail;
    }
    if (huge && TP_SHM_REGION_PAYLOAD_POOL == params->region_type && 0 != params->stride_bytes % page)
    {
        tp_err_set(TP_ERR_INVALID_ARGUMENT, "stride_bytes %u is not a multiple of the hugepage size %llu",
            (unsigned)params->stride_bytes, (unsigned long long)page);
        goto fail;
    }
    uint64_t map_len = huge ? tp_round_up(size, page) : size;
    if (map_len > (uint64_t)INT64_MAX || 0 != ftruncate(r->fd, (off_t)map_len))
    {
        tp_err_set_errno(errno, "cannot size %.256s to %llu bytes", path, (unsigned long long)map_len);
        goto fail;
    }
    /* Reserve every page now: on a full tmpfs a sparse file maps fine and the first store raises SIGBUS. */
    if (tp_fs_reserve(r->fd, map_len, path) < 0)
    {
        tp_err_prepend("creating %s region", tp_shm_region_type_name(params->region_type));
        goto fail;
    }
    void *base = mmap(NULL, (size_t)map_len, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
    if (MAP_FAILED == base)
    {
        tp_err_set_errno(errno, "cannot mmap %.256s (%llu bytes)", path, (unsigned long long)map_len);
        goto fail;
    }
    r->base = base;
    r->length = (size_t)map_len;
    r->used_bytes = size;
    r->writable = true;
    r->hugepages = huge;
    r->page_size = page;
    r->type = params->region_type;
    r->nslots = params->nslots;
    r->slot_bytes =
        TP_SHM_REGION_HEADER_RING == params->region_type ? TP_SHM_HEADER_SLOT_BYTES : params->stride_bytes;
    r->stride_bytes = TP_SHM_REGION_HEADER_RING == params->region_type ? 0 : params->stride_bytes;

    if (opts.prefault)
    {
        /* Touch (zero) every page so that later writes do not fault. */
        memset(r->base, 0, r->length);
    }
    if (opts.mlock && 0 != mlock(r->base, r->length))
    {
        tp_err_set_errno(errno, "mlock of %.256s (%zu bytes) failed (check RLIMIT_MEMLOCK)", path, r->length);
        goto fail;
    }

    uint64_t now = tp_shm_activity_clock_ns();
    tp_shm_superblock_t *sb = &r->superblock;
    sb->magic = TP_SHM_MAGIC;
    sb->layout_version = params->layout_version;
    sb->epoch = params->epoch;
    sb->stream_id = params->stream_id;
    sb->region_type = (int16_t)params->region_type;
    sb->pool_id = TP_SHM_REGION_HEADER_RING == params->region_type ? 0 : params->pool_id;
    sb->nslots = params->nslots;
    sb->slot_bytes = r->slot_bytes;
    sb->stride_bytes = r->stride_bytes;
    sb->pid = 0 != opts.pid ? opts.pid : (uint64_t)getpid();
    sb->start_timestamp_ns = 0 != opts.start_timestamp_ns ? opts.start_timestamp_ns : now;
    sb->activity_timestamp_ns = sb->start_timestamp_ns;

    uint8_t block[TP_SHM_SUPERBLOCK_SIZE];
    if (tp_shm_superblock_encode(block, sizeof(block), sb) < 0)
    {
        goto fail;
    }
    /* Everything but the magic first, then the magic: a reader never sees a valid magic on a partial block. */
    memcpy(r->base + 8, block + 8, TP_SHM_SUPERBLOCK_SIZE - 8);
    atomic_thread_fence(memory_order_release);
    uint64_t magic_word;
    memcpy(&magic_word, block, 8);
    atomic_store_explicit(tp_shm_seq_word(r->base), magic_word, memory_order_release);

    TP_LOG_DEBUG("shm", "created %s %s: nslots=%u slot_bytes=%u size=%llu%s", tp_shm_region_type_name(r->type),
        path, (unsigned)r->nslots, (unsigned)r->slot_bytes, (unsigned long long)size, huge ? " (hugetlbfs)" : "");
    *out = r;
    return 0;

fail:
    unlink(path);
    tp_shm_region_close(r);
    return -1;
}

/* Map `fd` read-only after checking its size and filesystem; sets r->base/length/hugepages. */
static int tp_shm_region_map_fd(tp_shm_region_t *r, uint64_t required, bool require_hugepages, bool writable)
{
    struct stat st;
    if (0 != fstat(r->fd, &st))
    {
        return tp_err_set_errno(errno, "cannot fstat %.256s", r->path);
    }
    if ((uint64_t)st.st_size < required)
    {
        return tp_err_set(TP_ERR_VALIDATION, "region %.256s is truncated: file has %llu bytes, geometry needs %llu",
            r->path, (unsigned long long)st.st_size, (unsigned long long)required);
    }
    bool huge = false;
    uint64_t page = 4096;
    if (tp_shm_fs_info(r->fd, r->path, &huge, &page) < 0)
    {
        return -1;
    }
    if (require_hugepages && !huge)
    {
        return tp_err_set(TP_ERR_VALIDATION, "require_hugepages: region %.256s is not backed by hugetlbfs", r->path);
    }
    uint64_t map_len = huge ? tp_round_up(required, page) : required;
    if (map_len > (uint64_t)st.st_size || map_len > (uint64_t)SIZE_MAX)
    {
        map_len = required;
    }
    void *base = mmap(NULL, (size_t)map_len, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, r->fd, 0);
    if (MAP_FAILED == base)
    {
        return tp_err_set_errno(errno, "cannot mmap %.256s (%llu bytes)", r->path, (unsigned long long)map_len);
    }
    r->base = base;
    r->length = (size_t)map_len;
    r->used_bytes = required;
    r->hugepages = huge;
    r->page_size = page;
    return 0;
}

static int tp_shm_region_map_impl(tp_shm_region_t **out, const tp_shm_allowlist_t *allowlist, const char *path,
    const tp_shm_region_params_t *expected, bool require_hugepages, bool writable)
{
    uint64_t size;
    if (NULL == out)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_shm_region_map: NULL out");
    }
    *out = NULL;
    if (tp_shm_region_size(expected, &size) < 0)
    {
        return tp_err_prepend("announced region parameters");
    }
    tp_shm_region_t *r = tp_shm_region_alloc();
    if (NULL == r)
    {
        return -1;
    }
    if (tp_shm_allowlist_open(allowlist, path, writable, &r->fd, r->path, sizeof(r->path)) < 0)
    {
        tp_shm_region_close(r);
        return -1;
    }
    /* Validate the superblock first (best diagnostics), then the size, then map and validate again. */
    uint8_t block[TP_SHM_SUPERBLOCK_SIZE];
    ssize_t got = pread(r->fd, block, sizeof(block), 0);
    if (got < 0)
    {
        tp_err_set_errno(errno, "cannot read the superblock of %.256s", r->path);
        tp_shm_region_close(r);
        return -1;
    }
    if (got < (ssize_t)sizeof(block))
    {
        tp_err_set(TP_ERR_VALIDATION, "region %.256s is truncated: %zd bytes, less than the %u-byte superblock",
            r->path, got, TP_SHM_SUPERBLOCK_SIZE);
        tp_shm_region_close(r);
        return -1;
    }
    if (tp_shm_superblock_decode(block, sizeof(block), &r->superblock) < 0 ||
        tp_shm_superblock_validate(&r->superblock, expected) < 0)
    {
        tp_err_prepend("region %.256s", r->path);
        tp_shm_region_close(r);
        return -1;
    }
    if (tp_shm_region_map_fd(r, size, require_hugepages, writable) < 0)
    {
        tp_shm_region_close(r);
        return -1;
    }
    if (require_hugepages && TP_SHM_REGION_PAYLOAD_POOL == expected->region_type &&
        0 != expected->stride_bytes % r->page_size)
    {
        tp_err_set(TP_ERR_VALIDATION, "region %.256s: stride_bytes %u is not a multiple of the hugepage size %llu",
            r->path, (unsigned)expected->stride_bytes, (unsigned long long)r->page_size);
        tp_shm_region_close(r);
        return -1;
    }
    if (tp_shm_superblock_decode(r->base, r->length, &r->superblock) < 0 ||
        tp_shm_superblock_validate(&r->superblock, expected) < 0)
    {
        tp_err_prepend("region %.256s", r->path);
        tp_shm_region_close(r);
        return -1;
    }
    r->type = expected->region_type;
    r->nslots = expected->nslots;
    r->slot_bytes =
        TP_SHM_REGION_HEADER_RING == expected->region_type ? TP_SHM_HEADER_SLOT_BYTES : expected->stride_bytes;
    r->stride_bytes = TP_SHM_REGION_HEADER_RING == expected->region_type ? 0 : expected->stride_bytes;
    r->writable = writable;
    *out = r;
    return 0;
}

int tp_shm_region_map(tp_shm_region_t **out, const tp_shm_allowlist_t *allowlist, const char *path,
    const tp_shm_region_params_t *expected, bool require_hugepages)
{
    return tp_shm_region_map_impl(out, allowlist, path, expected, require_hugepages, false);
}

int tp_shm_region_map_writable(tp_shm_region_t **out, const tp_shm_allowlist_t *allowlist, const char *path,
    const tp_shm_region_params_t *expected, bool require_hugepages)
{
    return tp_shm_region_map_impl(out, allowlist, path, expected, require_hugepages, true);
}

int tp_shm_region_map_uri(tp_shm_region_t **out, const tp_shm_allowlist_t *allowlist, const char *uri,
    const tp_shm_region_params_t *expected)
{
    tp_shm_uri_t parsed;
    if (NULL != out)
    {
        *out = NULL;
    }
    if (tp_shm_uri_parse(uri, &parsed) < 0)
    {
        return -1;
    }
    return tp_shm_region_map(out, allowlist, parsed.path, expected, parsed.require_hugepages);
}

/* Open `path` for reading with containment relative to its own directory. */
static int tp_shm_open_own_dir(const char *path, int *fd_out, char *canonical, size_t canonical_len)
{
    char canon[PATH_MAX];
    if (NULL == realpath(path, canon))
    {
        return tp_err_set_errno(errno, "cannot resolve %.256s", path);
    }
    char dir[PATH_MAX];
    memcpy(dir, canon, sizeof(dir));
    const char *dirs[1] = { dirname(dir) };
    tp_shm_allowlist_t *allow = NULL;
    if (tp_shm_allowlist_init(&allow, dirs, 1) < 0)
    {
        return -1;
    }
    int rc = tp_shm_allowlist_open(allow, canon, false, fd_out, canonical, canonical_len);
    tp_shm_allowlist_close(allow);
    return rc;
}

int tp_shm_superblock_read_file(const char *path, tp_shm_superblock_t *out, uint64_t *file_size)
{
    int fd = -1;
    char canon[PATH_MAX];
    if (NULL == path || NULL == out)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_shm_superblock_read_file: NULL argument");
    }
    if (tp_shm_open_own_dir(path, &fd, canon, sizeof(canon)) < 0)
    {
        return -1;
    }
    struct stat st;
    uint8_t block[TP_SHM_SUPERBLOCK_SIZE];
    int rc = 0;
    if (0 != fstat(fd, &st))
    {
        rc = tp_err_set_errno(errno, "cannot fstat %.256s", canon);
    }
    else if ((uint64_t)st.st_size < TP_SHM_SUPERBLOCK_SIZE)
    {
        rc = tp_err_set(TP_ERR_VALIDATION, "%.256s has %llu bytes, less than the %u-byte superblock", canon,
            (unsigned long long)st.st_size, TP_SHM_SUPERBLOCK_SIZE);
    }
    else if (pread(fd, block, sizeof(block), 0) != (ssize_t)sizeof(block))
    {
        rc = tp_err_set(TP_ERR_IO, "cannot read the superblock of %.256s", canon);
    }
    else
    {
        rc = tp_shm_superblock_decode(block, sizeof(block), out);
        if (NULL != file_size)
        {
            *file_size = (uint64_t)st.st_size;
        }
    }
    close(fd);
    return rc;
}

int tp_shm_region_map_inspect(tp_shm_region_t **out, const char *path)
{
    if (NULL == out || NULL == path)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_shm_region_map_inspect: NULL argument");
    }
    *out = NULL;
    tp_shm_region_t *r = tp_shm_region_alloc();
    if (NULL == r)
    {
        return -1;
    }
    if (tp_shm_open_own_dir(path, &r->fd, r->path, sizeof(r->path)) < 0)
    {
        tp_shm_region_close(r);
        return -1;
    }
    uint8_t block[TP_SHM_SUPERBLOCK_SIZE];
    struct stat st;
    if (0 != fstat(r->fd, &st))
    {
        tp_err_set_errno(errno, "cannot fstat %.256s", r->path);
        goto fail;
    }
    if ((uint64_t)st.st_size < TP_SHM_SUPERBLOCK_SIZE)
    {
        tp_err_set(TP_ERR_VALIDATION, "%.256s has %llu bytes, less than the %u-byte superblock", r->path,
            (unsigned long long)st.st_size, TP_SHM_SUPERBLOCK_SIZE);
        goto fail;
    }
    ssize_t n = pread(r->fd, block, sizeof(block), 0);
    if (n != (ssize_t)sizeof(block))
    {
        tp_err_set_errno(n < 0 ? errno : EIO, "cannot read the superblock of %.256s", r->path);
        goto fail;
    }
    tp_shm_superblock_t sb;
    tp_shm_superblock_decode(block, sizeof(block), &sb);
    if (TP_SHM_MAGIC != sb.magic)
    {
        tp_err_set(TP_ERR_VALIDATION, "%.256s: bad magic 0x%016llx (expected 0x%016llx): not a tensorpool region",
            r->path, (unsigned long long)sb.magic, (unsigned long long)TP_SHM_MAGIC);
        goto fail;
    }
    tp_shm_region_params_t p;
    memset(&p, 0, sizeof(p));
    p.region_type = (tp_shm_region_type_t)sb.region_type;
    p.layout_version = sb.layout_version;
    p.epoch = sb.epoch;
    p.stream_id = sb.stream_id;
    p.pool_id = sb.pool_id;
    p.nslots = sb.nslots;
    p.stride_bytes = TP_SHM_REGION_HEADER_RING == sb.region_type ? 0 : sb.stride_bytes;
    uint64_t size;
    if (tp_shm_region_size(&p, &size) < 0 || tp_shm_superblock_validate(&sb, &p) < 0)
    {
        char msg[TP_ERRMSG_MAX];
        snprintf(msg, sizeof(msg), "%s", tp_errmsg());
        tp_err_set(TP_ERR_VALIDATION, "%.256s: inconsistent superblock: %s", r->path, msg);
        goto fail;
    }
    if (tp_shm_region_map_fd(r, size, false, false) < 0)
    {
        goto fail;
    }
    r->superblock = sb;
    r->type = p.region_type;
    r->nslots = p.nslots;
    r->slot_bytes = TP_SHM_REGION_HEADER_RING == p.region_type ? TP_SHM_HEADER_SLOT_BYTES : p.stride_bytes;
    r->stride_bytes = p.stride_bytes;
    *out = r;
    return 0;

fail:
    tp_shm_region_close(r);
    return -1;
}

const tp_shm_superblock_t *tp_shm_region_superblock(const tp_shm_region_t *r)
{
    return NULL == r ? NULL : &r->superblock;
}

const uint8_t *tp_shm_region_base(const tp_shm_region_t *r)
{
    return NULL == r ? NULL : r->base;
}

size_t tp_shm_region_length(const tp_shm_region_t *r)
{
    return NULL == r ? 0 : r->length;
}

int tp_shm_region_same_file(const tp_shm_region_t *region, const char *path)
{
    struct stat a, b;
    if (0 != stat(path, &a))
    {
        return -1;
    }
    return (0 == fstat(region->fd, &b) && a.st_ino == b.st_ino && a.st_dev == b.st_dev) ? 1 : 0;
}

const char *tp_shm_region_path(const tp_shm_region_t *r)
{
    return NULL == r ? NULL : r->path;
}

bool tp_shm_region_is_writable(const tp_shm_region_t *r)
{
    return NULL != r && r->writable;
}

bool tp_shm_region_is_hugepages(const tp_shm_region_t *r)
{
    return NULL != r && r->hugepages;
}

uint64_t tp_shm_activity_clock_ns(void)
{
    return tp_clock_mono_ns();
}

int tp_shm_region_refresh_activity(tp_shm_region_t *r, uint64_t now_ns)
{
    if (NULL == r || !r->writable)
    {
        return tp_err_set(TP_ERR_STATE, "activity timestamp: region is not writable by this process");
    }
    if (0 == now_ns)
    {
        now_ns = tp_shm_activity_clock_ns();
    }
    atomic_store_explicit(tp_shm_seq_word(r->base + TP_SBE_WIRE_SHM_REGION_SUPERBLOCK_ACTIVITY_TIMESTAMP_NS_OFFSET),
        now_ns, memory_order_release);
    r->superblock.activity_timestamp_ns = now_ns;
    return 0;
}

uint64_t tp_shm_region_activity_ns(const tp_shm_region_t *r)
{
    if (NULL == r)
    {
        return 0;
    }
    return atomic_load_explicit(
        tp_shm_seq_word_const(r->base + TP_SBE_WIRE_SHM_REGION_SUPERBLOCK_ACTIVITY_TIMESTAMP_NS_OFFSET),
        memory_order_acquire);
}

int tp_shm_pool_check_ring(const tp_shm_region_t *ring, const tp_shm_region_t *pool)
{
    if (NULL == ring || NULL == pool)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_shm_pool_check_ring: NULL region");
    }
    if (TP_SHM_REGION_HEADER_RING != ring->type || TP_SHM_REGION_PAYLOAD_POOL != pool->type)
    {
        return tp_err_set(TP_ERR_VALIDATION, "expected a header ring and a payload pool, got %s and %s",
            tp_shm_region_type_name(ring->type), tp_shm_region_type_name(pool->type));
    }
    const tp_shm_superblock_t *a = &ring->superblock;
    const tp_shm_superblock_t *b = &pool->superblock;
    if (a->stream_id != b->stream_id || a->epoch != b->epoch || a->layout_version != b->layout_version)
    {
        return tp_err_set(TP_ERR_VALIDATION,
            "pool %u (stream %u, epoch %llu, layout %u) does not belong to header ring (stream %u, epoch %llu, "
            "layout %u)",
            (unsigned)b->pool_id, (unsigned)b->stream_id, (unsigned long long)b->epoch, (unsigned)b->layout_version,
            (unsigned)a->stream_id, (unsigned long long)a->epoch, (unsigned)a->layout_version);
    }
    if (ring->nslots != pool->nslots)
    {
        return tp_err_set(TP_ERR_VALIDATION, "pool %u has nslots %u, header ring has %u: must be equal in v1.2",
            (unsigned)b->pool_id, (unsigned)pool->nslots, (unsigned)ring->nslots);
    }
    return 0;
}
