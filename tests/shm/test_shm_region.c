/* Regions and superblock (wire §6, §7.1, §9, §15.1, §15.5, §15.13, §15.14, §15.22). */
#include "tp_test.h"

#include <errno.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <sys/wait.h>

#include "common/tp_clock.h"
#include "shm_test_util.h"
#include "tensor_pool/tp_shm.h"

static char g_dir[1024];
#ifndef TP_TEST_VECTORS_DIR
#define TP_TEST_VECTORS_DIR "tests/vectors"
#endif
static const char *g_vectors_dir = NULL;
static tp_shm_allowlist_t *g_allow = NULL;

/* ShmRegionSuperblock.shm.bin, field values from vectors/wire/vectors.json. */
static const uint8_t golden_superblock[64] = {
    0x31, 0x4d, 0x48, 0x53, 0x4c, 0x50, 0x4f, 0x54, 0x03, 0x02, 0x01, 0x00, 0x08, 0x07, 0x06, 0x05,
    0x04, 0x03, 0x02, 0x01, 0x13, 0x12, 0x11, 0x10, 0x02, 0x00, 0x15, 0x14, 0x00, 0x04, 0x00, 0x00,
    0x00, 0x00, 0x40, 0x00, 0x00, 0x00, 0x40, 0x00, 0x56, 0x34, 0x12, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0xfa, 0xed, 0x51, 0x72, 0x86, 0x18, 0x01, 0x2f, 0x62, 0x47, 0x52, 0x72, 0x86, 0x18,
};

static tp_shm_superblock_t golden_superblock_values(void)
{
    tp_shm_superblock_t sb;
    memset(&sb, 0, sizeof(sb));
    sb.magic = UINT64_C(6075162711091072305);
    sb.layout_version = 66051;
    sb.epoch = UINT64_C(72623859790382856);
    sb.stream_id = 269554195;
    sb.region_type = TP_SHM_REGION_PAYLOAD_POOL;
    sb.pool_id = 5141;
    sb.nslots = 1024;
    sb.slot_bytes = 4194304;
    sb.stride_bytes = 4194304;
    sb.pid = 1193046;
    sb.start_timestamp_ns = UINT64_C(1767225600000000000);
    sb.activity_timestamp_ns = UINT64_C(1767225601500000001);
    return sb;
}

static void test_shm_superblock_golden_vector(void)
{
    TP_ASSERT_EQ_U64(TP_SHM_MAGIC, UINT64_C(6075162711091072305));
    tp_shm_superblock_t sb = golden_superblock_values();
    uint8_t buf[64];
    memset(buf, 0xee, sizeof(buf));
    TP_ASSERT_OK(tp_shm_superblock_encode(buf, sizeof(buf), &sb));
    TP_ASSERT_MSG(0 == memcmp(buf, golden_superblock, 64), "encoded superblock differs from the golden vector");
    /* Magic bytes in memory: "1MHSLPOT" (ERRATA §5). */
    TP_ASSERT(0 == memcmp(buf, "1MHSLPOT", 8));
    tp_shm_superblock_t back;
    memset(&back, 0, sizeof(back));
    TP_ASSERT_OK(tp_shm_superblock_decode(golden_superblock, 64, &back));
    TP_ASSERT(0 == memcmp(&back, &sb, sizeof(sb)));
    {
        char path[1024];
        snprintf(path, sizeof(path), "%s/wire/ShmRegionSuperblock.shm.bin", g_vectors_dir);
        FILE *f = fopen(path, "rb");
        TP_ASSERT_MSG(NULL != f, "golden vector %s is missing (TP_VECTORS_DIR)", path);
        {
            uint8_t file[65];
            size_t n = fread(file, 1, sizeof(file), f);
            fclose(f);
            TP_ASSERT_EQ_U64(64, n);
            TP_ASSERT_MSG(0 == memcmp(buf, file, 64), "encoded superblock differs from %s", path);
        }
    }
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_shm_superblock_encode(buf, 63, &sb));
    TP_ASSERT_ERR(TP_ERR_VALIDATION, tp_shm_superblock_decode(buf, 63, &back));
}

static tp_shm_region_params_t ring_params(void)
{
    tp_shm_region_params_t p = { TP_SHM_REGION_HEADER_RING, TP_SHM_LAYOUT_VERSION, 9, 1000, 0, 8, 0 };
    return p;
}

static tp_shm_region_params_t pool_params(void)
{
    tp_shm_region_params_t p = { TP_SHM_REGION_PAYLOAD_POOL, TP_SHM_LAYOUT_VERSION, 9, 1000, 2, 8, 4096 };
    return p;
}

static void path_in_dir(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", g_dir, name);
}

static void test_shm_region_params_rules(void)
{
    tp_shm_region_params_t p = pool_params();
    uint64_t size = 0;
    TP_ASSERT_OK(tp_shm_region_size(&p, &size));
    TP_ASSERT_EQ_U64(64 + 8 * 4096, size);
    p = ring_params();
    TP_ASSERT_OK(tp_shm_region_size(&p, &size));
    TP_ASSERT_EQ_U64(64 + 8 * 256, size);
    p.nslots = 0;
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_shm_region_params_validate(&p));
    p.nslots = 12;
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_shm_region_params_validate(&p));
    TP_ASSERT(NULL != strstr(tp_errmsg(), "power of two"));
    p = ring_params();
    p.pool_id = 1;
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_shm_region_params_validate(&p));
    p = pool_params();
    p.stride_bytes = 100;
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_shm_region_params_validate(&p));
    TP_ASSERT(NULL != strstr(tp_errmsg(), "multiple of 64"));
    p.stride_bytes = 0;
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_shm_region_params_validate(&p));
    p.stride_bytes = 192; /* a multiple of 64 that is not a power of two: accepted (ERRATA) */
    TP_ASSERT_OK(tp_shm_region_params_validate(&p));
    /* Largest geometry: computed in 64 bits without wrapping. */
    p.nslots = UINT32_C(1) << 31;
    p.stride_bytes = UINT32_C(0xFFFFFFC0);
    TP_ASSERT_OK(tp_shm_region_size(&p, &size));
    TP_ASSERT_EQ_U64(64 + (UINT64_C(1) << 31) * UINT64_C(0xFFFFFFC0), size);
    p = pool_params();
    p.region_type = (tp_shm_region_type_t)3;
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_shm_region_params_validate(&p));
}

/* Creation caps (issue 10): refused with the value and the cap named, before any file exists. */
static void test_shm_region_create_caps(void)
{
    char path[1024];
    path_in_dir(path, sizeof(path), "capped.pool");
    tp_shm_region_t *r = NULL;
    tp_shm_region_params_t p = ring_params();
    p.nslots = TP_SHM_MAX_NSLOTS * 2;
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_shm_region_create(&r, path, &p, NULL));
    TP_ASSERT_MSG(NULL != strstr(tp_errmsg(), "2097152") && NULL != strstr(tp_errmsg(), "TP_SHM_MAX_NSLOTS"),
        "message: %s", tp_errmsg());
    p = pool_params();
    p.stride_bytes = TP_SHM_MAX_STRIDE_BYTES + 64;
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_shm_region_create(&r, path, &p, NULL));
    TP_ASSERT_MSG(NULL != strstr(tp_errmsg(), "TP_SHM_MAX_STRIDE_BYTES"), "message: %s", tp_errmsg());
    /* The per-region byte cap: the default refuses 2^20 slots x 1 GiB; an option lowers or raises it. */
    p.nslots = TP_SHM_MAX_NSLOTS;
    p.stride_bytes = TP_SHM_MAX_STRIDE_BYTES;
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_shm_region_check_caps(&p, 0, NULL));
    TP_ASSERT_MSG(NULL != strstr(tp_errmsg(), "max_region_bytes"), "message: %s", tp_errmsg());
    p = pool_params(); /* 64 + 8 x 4096 */
    tp_shm_create_options_t o;
    tp_shm_create_options_defaults(&o);
    o.max_region_bytes = 8 * 4096;
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_shm_region_create(&r, path, &p, &o));
    TP_ASSERT_MSG(NULL != strstr(tp_errmsg(), "32832 bytes") && NULL != strstr(tp_errmsg(), "32768"),
        "message: %s", tp_errmsg());
    struct stat st;
    TP_ASSERT(0 != lstat(path, &st));
    o.max_region_bytes = 64 + 8 * 4096;
    TP_ASSERT_OK(tp_shm_region_create(&r, path, &p, &o));
    tp_shm_region_close(r);
    unlink(path);
    /* The layout check sums ring and pools and applies the same caps. */
    uint32_t strides[2] = { 4096, TP_SHM_MAX_STRIDE_BYTES + 64 };
    uint64_t total = 0;
    TP_ASSERT_OK(tp_shm_layout_check(NULL, 8, strides, 1, 0, &total));
    TP_ASSERT_EQ_U64(64 + 8 * 256 + 64 + 8 * 4096, total);
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_shm_layout_check(NULL, 8, strides, 2, 0, &total));
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_shm_layout_check(NULL, TP_SHM_MAX_NSLOTS * 2, strides, 1, 0, &total));
}

/* Superblock timestamps are CLOCK_MONOTONIC (DECISIONS SHM-5), as the spec and the Julia implementation use. */
static void test_shm_region_timestamps_are_monotonic(void)
{
    char path[1024];
    path_in_dir(path, sizeof(path), "clock.pool");
    tp_shm_region_params_t p = pool_params();
    tp_shm_region_t *r = NULL;
    uint64_t before = tp_clock_mono_ns();
    TP_ASSERT_OK(tp_shm_region_create(&r, path, &p, NULL));
    uint64_t after = tp_clock_mono_ns();
    const tp_shm_superblock_t *sb = tp_shm_region_superblock(r);
    uint64_t start = sb->start_timestamp_ns, activity = tp_shm_region_activity_ns(r);
    uint64_t clock = tp_shm_activity_clock_ns();
    tp_shm_region_close(r);
    unlink(path);
    TP_ASSERT_MSG(start >= before && start <= after, "start_timestamp_ns %" PRIu64 " is not CLOCK_MONOTONIC", start);
    TP_ASSERT_EQ_U64(start, activity);
    TP_ASSERT(clock >= after && clock <= tp_clock_mono_ns());
    /* Ages of either domain. */
    TP_ASSERT(tp_shm_activity_age_ns(before) >= after - before);
    TP_ASSERT(tp_shm_activity_age_ns(tp_clock_realtime_ns() - UINT64_C(5000000000)) >= UINT64_C(5000000000));
    TP_ASSERT(tp_shm_activity_age_ns(tp_clock_realtime_ns() - UINT64_C(5000000000)) < UINT64_C(6000000000));
    TP_ASSERT_EQ_U64(0, tp_shm_activity_age_ns(tp_clock_mono_ns() + UINT64_C(1000000000)));
}

static void test_shm_region_create_writes_superblock(void)
{
    char path[1200];
    path_in_dir(path, sizeof(path), "create.ring");
    tp_shm_region_params_t p = ring_params();
    tp_shm_create_options_t opts;
    tp_shm_create_options_defaults(&opts);
    opts.pid = 4242;
    opts.start_timestamp_ns = 1234567;
    tp_shm_region_t *r = NULL;
    TP_ASSERT_OK(tp_shm_region_create(&r, path, &p, &opts));
    TP_ASSERT(tp_shm_region_is_writable(r));
    TP_ASSERT_EQ_U64(64 + 8 * 256, tp_shm_region_length(r));
    const uint8_t *base = tp_shm_region_base(r);
    tp_shm_superblock_t sb;
    TP_ASSERT_OK(tp_shm_superblock_decode(base, 64, &sb));
    TP_ASSERT_EQ_U64(TP_SHM_MAGIC, sb.magic);
    TP_ASSERT_EQ_U64(TP_SHM_LAYOUT_VERSION, sb.layout_version);
    TP_ASSERT_EQ_U64(9, sb.epoch);
    TP_ASSERT_EQ_U64(1000, sb.stream_id);
    TP_ASSERT_EQ_I64(TP_SHM_REGION_HEADER_RING, sb.region_type);
    TP_ASSERT_EQ_U64(0, sb.pool_id);
    TP_ASSERT_EQ_U64(8, sb.nslots);
    TP_ASSERT_EQ_U64(256, sb.slot_bytes);
    TP_ASSERT_EQ_U64(0, sb.stride_bytes);
    TP_ASSERT_EQ_U64(4242, sb.pid);
    TP_ASSERT_EQ_U64(1234567, sb.start_timestamp_ns);
    TP_ASSERT_EQ_U64(1234567, sb.activity_timestamp_ns);
    /* Creating over an existing file is refused (O_EXCL). */
    tp_shm_region_t *r2 = NULL;
    TP_ASSERT(-1 == tp_shm_region_create(&r2, path, &p, &opts));
    TP_ASSERT(NULL == r2);
    /* Activity refresh is visible to a read-only mapping. */
    tp_shm_region_t *c = NULL;
    TP_ASSERT_OK(tp_shm_region_map(&c, g_allow, path, &p, false));
    TP_ASSERT(!tp_shm_region_is_writable(c));
    TP_ASSERT_OK(tp_shm_region_refresh_activity(r, 99999999));
    TP_ASSERT_EQ_U64(99999999, tp_shm_region_activity_ns(c));
    TP_ASSERT_ERR(TP_ERR_STATE, tp_shm_region_refresh_activity(c, 1));
    /* Now: CLOCK_MONOTONIC, the spec's liveness domain and the other implementations' (DECISIONS SHM-5). */
    uint64_t before = tp_clock_mono_ns();
    TP_ASSERT_OK(tp_shm_region_refresh_activity(r, 0));
    uint64_t after = tp_clock_mono_ns();
    uint64_t activity = tp_shm_region_activity_ns(c);
    TP_ASSERT_MSG(activity >= before && activity <= after, "activity %" PRIu64 " not CLOCK_MONOTONIC [%" PRIu64
        ", %" PRIu64 "]", activity, before, after);
    TP_ASSERT(tp_shm_activity_age_ns(activity) < UINT64_C(1000000000));
    tp_shm_region_close(c);
    tp_shm_region_close(r);

    /* Pool: slot_bytes = stride_bytes = stride, pool_id kept, size 64 + n*stride. */
    path_in_dir(path, sizeof(path), "create.pool");
    p = pool_params();
    TP_ASSERT_OK(tp_shm_region_create(&r, path, &p, NULL));
    TP_ASSERT_OK(tp_shm_superblock_decode(tp_shm_region_base(r), 64, &sb));
    TP_ASSERT_EQ_I64(TP_SHM_REGION_PAYLOAD_POOL, sb.region_type);
    TP_ASSERT_EQ_U64(2, sb.pool_id);
    TP_ASSERT_EQ_U64(4096, sb.slot_bytes);
    TP_ASSERT_EQ_U64(4096, sb.stride_bytes);
    TP_ASSERT_EQ_U64((uint64_t)getpid(), sb.pid);
    struct stat st;
    TP_ASSERT_OK(stat(path, &st));
    TP_ASSERT_EQ_U64(64 + 8 * 4096, st.st_size);
    TP_ASSERT(NULL != tp_shm_pool_payload(r, 7));
    TP_ASSERT(NULL == tp_shm_pool_payload(r, 8));
    TP_ASSERT_EQ_U64(64 + 3 * 4096, (uint64_t)(tp_shm_pool_payload(r, 3) - tp_shm_region_base(r)));
    tp_shm_region_close(r);
}

static void test_shm_region_prefault_and_mlock(void)
{
    char path[1200];
    path_in_dir(path, sizeof(path), "prefault.pool");
    tp_shm_region_params_t p = pool_params();
    p.nslots = 16;
    tp_shm_create_options_t opts;
    tp_shm_create_options_defaults(&opts);
    opts.prefault = true;
    opts.mlock = true;
    tp_shm_region_t *r = NULL;
    int rc = tp_shm_region_create(&r, path, &p, &opts);
    if (0 == rc)
    {
        size_t page = (size_t)sysconf(_SC_PAGESIZE);
        size_t len = tp_shm_region_length(r);
        size_t pages = (len + page - 1) / page;
        unsigned char vec[64];
        TP_ASSERT(pages <= sizeof(vec));
        TP_ASSERT_OK(mincore((void *)tp_shm_region_base(r), len, vec));
        for (size_t i = 0; i < pages; i++)
        {
            TP_ASSERT_MSG(vec[i] & 1, "page %zu not resident after prefault", i);
        }
        tp_shm_region_close(r);
    }
    else
    {
        /* mlock may legitimately fail without privileges; the failure must be reported, not ignored. */
        TP_ASSERT(NULL != strstr(tp_errmsg(), "mlock"));
        struct stat st;
        TP_ASSERT(0 != stat(path, &st)); /* failed create leaves no file */
    }
    unlink(path);

    /* With RLIMIT_MEMLOCK 0 and no CAP_IPC_LOCK, a requested mlock must fail the create. */
    if (0 != geteuid())
    {
        pid_t pid = fork();
        if (0 == pid)
        {
            struct rlimit rl = { 0, 0 };
            setrlimit(RLIMIT_MEMLOCK, &rl);
            tp_shm_region_t *x = NULL;
            int crc = tp_shm_region_create(&x, path, &p, &opts);
            _exit(-1 == crc ? 0 : 1);
        }
        int status = 0;
        waitpid(pid, &status, 0);
        TP_ASSERT(WIFEXITED(status) && 0 == WEXITSTATUS(status));
        unlink(path);
    }
}

static void test_shm_region_map_validates_each_field(void)
{
    char rpath[1200];
    char ppath[1200];
    path_in_dir(rpath, sizeof(rpath), "fields.ring");
    path_in_dir(ppath, sizeof(ppath), "fields.pool");
    tp_shm_region_params_t rp = ring_params();
    tp_shm_region_params_t pp = pool_params();
    tp_shm_region_t *ring = NULL;
    tp_shm_region_t *pool = NULL;
    TP_ASSERT_OK(tp_shm_region_create(&ring, rpath, &rp, NULL));
    TP_ASSERT_OK(tp_shm_region_create(&pool, ppath, &pp, NULL));

    tp_shm_region_t *m = NULL;
    TP_ASSERT_OK(tp_shm_region_map(&m, g_allow, rpath, &rp, false));
    tp_shm_region_close(m);
    TP_ASSERT_OK(tp_shm_region_map(&m, g_allow, ppath, &pp, false));
    tp_shm_region_close(m);

    struct
    {
        const char *field;
        tp_shm_region_params_t p;
        const char *path;
    } cases[16];
    size_t n = 0;
#define TP_CASE(name, base, which, mutate) \
    do \
    { \
        cases[n].field = name; \
        cases[n].p = base; \
        cases[n].path = which; \
        mutate; \
        n++; \
    } \
    while (0)
    TP_CASE("layout_version", rp, rpath, cases[n].p.layout_version = 2);
    TP_CASE("epoch", rp, rpath, cases[n].p.epoch = 10);
    TP_CASE("stream_id", rp, rpath, cases[n].p.stream_id = 1001);
    TP_CASE("region_type", pp, rpath, (void)0);
    TP_CASE("region_type", rp, ppath, (void)0);
    TP_CASE("pool_id", pp, ppath, cases[n].p.pool_id = 3);
    TP_CASE("nslots", rp, rpath, cases[n].p.nslots = 4);
    TP_CASE("nslots", pp, ppath, cases[n].p.nslots = 4);
    TP_CASE("slot_bytes", pp, ppath, cases[n].p.stride_bytes = 2048);
#undef TP_CASE
    for (size_t i = 0; i < n; i++)
    {
        m = (tp_shm_region_t *)(uintptr_t)1;
        tp_err_clear();
        int rc = tp_shm_region_map(&m, g_allow, cases[i].path, &cases[i].p, false);
        TP_ASSERT_MSG(-1 == rc, "case %zu (%s) was accepted", i, cases[i].field);
        TP_ASSERT(NULL == m);
        TP_ASSERT_MSG(TP_ERR_VALIDATION == tp_errcode(), "case %zu: %s", i, tp_errmsg());
        TP_ASSERT_MSG(NULL != strstr(tp_errmsg(), cases[i].field), "case %zu: '%s' does not name %s", i, tp_errmsg(),
            cases[i].field);
    }
    /* Message names both values. */
    tp_shm_region_params_t bad = rp;
    bad.epoch = 77;
    TP_ASSERT_ERR(TP_ERR_VALIDATION, tp_shm_region_map(&m, g_allow, rpath, &bad, false));
    TP_ASSERT(NULL != strstr(tp_errmsg(), "region has 9, expected 77"));

    /* Fields the params cannot express: corrupt the file. */
    int fd = open(rpath, O_RDWR);
    TP_ASSERT(fd >= 0);
    uint8_t sb_bytes[64];
    TP_ASSERT_EQ_I64(64, pread(fd, sb_bytes, 64, 0));
    uint8_t tmp[64];

    /* magic */
    memcpy(tmp, sb_bytes, 64);
    tmp[7] ^= 0xff;
    TP_ASSERT_EQ_I64(64, pwrite(fd, tmp, 64, 0));
    TP_ASSERT_ERR(TP_ERR_VALIDATION, tp_shm_region_map(&m, g_allow, rpath, &rp, false));
    TP_ASSERT(NULL != strstr(tp_errmsg(), "magic"));
    /* header ring slot_bytes must be 256 */
    memcpy(tmp, sb_bytes, 64);
    tmp[32] = 0;
    tmp[33] = 2; /* 512 */
    TP_ASSERT_EQ_I64(64, pwrite(fd, tmp, 64, 0));
    TP_ASSERT_ERR(TP_ERR_VALIDATION, tp_shm_region_map(&m, g_allow, rpath, &rp, false));
    TP_ASSERT(NULL != strstr(tp_errmsg(), "slot_bytes"));
    /* header ring stride_bytes: 0 or 256 accepted, anything else rejected */
    memcpy(tmp, sb_bytes, 64);
    tmp[36] = 0;
    tmp[37] = 1; /* 256 */
    TP_ASSERT_EQ_I64(64, pwrite(fd, tmp, 64, 0));
    TP_ASSERT_OK(tp_shm_region_map(&m, g_allow, rpath, &rp, false));
    tp_shm_region_close(m);
    tmp[37] = 2; /* 512 */
    TP_ASSERT_EQ_I64(64, pwrite(fd, tmp, 64, 0));
    TP_ASSERT_ERR(TP_ERR_VALIDATION, tp_shm_region_map(&m, g_allow, rpath, &rp, false));
    TP_ASSERT(NULL != strstr(tp_errmsg(), "stride_bytes"));
    /* header ring pool_id must be 0 */
    memcpy(tmp, sb_bytes, 64);
    tmp[26] = 5;
    TP_ASSERT_EQ_I64(64, pwrite(fd, tmp, 64, 0));
    TP_ASSERT_ERR(TP_ERR_VALIDATION, tp_shm_region_map(&m, g_allow, rpath, &rp, false));
    TP_ASSERT(NULL != strstr(tp_errmsg(), "pool_id"));
    TP_ASSERT_EQ_I64(64, pwrite(fd, sb_bytes, 64, 0));
    close(fd);

    /* Pool stride_bytes field corrupted (slot_bytes intact). */
    fd = open(ppath, O_RDWR);
    TP_ASSERT(fd >= 0);
    TP_ASSERT_EQ_I64(64, pread(fd, sb_bytes, 64, 0));
    memcpy(tmp, sb_bytes, 64);
    tmp[37] = 0x20; /* 8192 */
    TP_ASSERT_EQ_I64(64, pwrite(fd, tmp, 64, 0));
    TP_ASSERT_ERR(TP_ERR_VALIDATION, tp_shm_region_map(&m, g_allow, ppath, &pp, false));
    TP_ASSERT(NULL != strstr(tp_errmsg(), "stride_bytes"));
    /*
     * Pool slot_bytes (DECISIONS SHM-1): the stride (ours), 0 and 0xFFFFFFFF (other implementations) are
     * accepted, by the consumer mapping and by the inspection mapping; anything else is refused.
     */
    static const struct
    {
        uint32_t slot_bytes;
        bool ok;
    } pool_slot_cases[] = {
        { 4096, true }, { 0, true }, { 0xFFFFFFFFu, true }, { 2048, false }, { 8192, false }, { 0xFFFFFFFEu, false },
        { 256, false },
    };
    for (size_t i = 0; i < sizeof(pool_slot_cases) / sizeof(pool_slot_cases[0]); i++)
    {
        memcpy(tmp, sb_bytes, 64);
        uint32_t v = pool_slot_cases[i].slot_bytes;
        memcpy(tmp + 32, &v, 4); /* slot_bytes at offset 32, little-endian */
        TP_ASSERT_EQ_I64(64, pwrite(fd, tmp, 64, 0));
        if (pool_slot_cases[i].ok)
        {
            TP_ASSERT_MSG(0 == tp_shm_region_map(&m, g_allow, ppath, &pp, false), "pool slot_bytes %#x refused",
                (unsigned)v);
            TP_ASSERT_EQ_U64(v, tp_shm_region_superblock(m)->slot_bytes);
            TP_ASSERT_EQ_U64(4096, tp_shm_region_superblock(m)->stride_bytes);
            tp_shm_region_close(m);
            TP_ASSERT_MSG(0 == tp_shm_region_map_inspect(&m, ppath), "inspect: pool slot_bytes %#x refused",
                (unsigned)v);
            tp_shm_region_close(m);
        }
        else
        {
            TP_ASSERT_ERR(TP_ERR_VALIDATION, tp_shm_region_map(&m, g_allow, ppath, &pp, false));
            TP_ASSERT_MSG(NULL != strstr(tp_errmsg(), "slot_bytes"), "message: %s", tp_errmsg());
            TP_ASSERT_ERR(TP_ERR_VALIDATION, tp_shm_region_map_inspect(&m, ppath));
        }
    }
    /* An unset slot_bytes does not excuse a wrong stride_bytes. */
    memcpy(tmp, sb_bytes, 64);
    memset(tmp + 32, 0xff, 4);
    tmp[37] = 0x20; /* stride 8192 */
    TP_ASSERT_EQ_I64(64, pwrite(fd, tmp, 64, 0));
    TP_ASSERT_ERR(TP_ERR_VALIDATION, tp_shm_region_map(&m, g_allow, ppath, &pp, false));
    TP_ASSERT(NULL != strstr(tp_errmsg(), "stride_bytes"));
    TP_ASSERT(tp_shm_pool_slot_bytes_ok(0, 64) && tp_shm_pool_slot_bytes_ok(64, 64) &&
        tp_shm_pool_slot_bytes_ok(TP_SHM_POOL_SLOT_BYTES_UNSET, 64) && !tp_shm_pool_slot_bytes_ok(128, 64));
    TP_ASSERT_EQ_I64(64, pwrite(fd, sb_bytes, 64, 0));
    close(fd);

    tp_shm_region_close(ring);
    tp_shm_region_close(pool);
}

static void test_shm_region_map_truncated_and_garbage(void)
{
    char path[1200];
    path_in_dir(path, sizeof(path), "trunc.pool");
    tp_shm_region_params_t pp = pool_params();
    tp_shm_region_t *r = NULL;
    tp_shm_region_t *m = NULL;
    TP_ASSERT_OK(tp_shm_region_create(&r, path, &pp, NULL));
    tp_shm_region_close(r);
    TP_ASSERT_OK(truncate(path, 64 + 7 * 4096));
    TP_ASSERT_ERR(TP_ERR_VALIDATION, tp_shm_region_map(&m, g_allow, path, &pp, false));
    TP_ASSERT(NULL != strstr(tp_errmsg(), "truncated"));
    TP_ASSERT(NULL == m);
    /* Larger than needed is fine. */
    TP_ASSERT_OK(truncate(path, 64 + 9 * 4096));
    TP_ASSERT_OK(tp_shm_region_map(&m, g_allow, path, &pp, false));
    tp_shm_region_close(m);
    /* Zero-length file. */
    TP_ASSERT_OK(truncate(path, 0));
    TP_ASSERT_ERR(TP_ERR_VALIDATION, tp_shm_region_map(&m, g_allow, path, &pp, false));
    /* Right size, all zeros: wrong magic. */
    TP_ASSERT_OK(truncate(path, 64 + 8 * 4096));
    TP_ASSERT_ERR(TP_ERR_VALIDATION, tp_shm_region_map(&m, g_allow, path, &pp, false));
    TP_ASSERT(NULL != strstr(tp_errmsg(), "magic"));
    unlink(path);
}

static void test_shm_region_map_uri_and_containment(void)
{
    char path[1200];
    char uri[1400];
    path_in_dir(path, sizeof(path), "uri.ring");
    tp_shm_region_params_t rp = ring_params();
    tp_shm_region_t *r = NULL;
    tp_shm_region_t *m = NULL;
    TP_ASSERT_OK(tp_shm_region_create(&r, path, &rp, NULL));
    snprintf(uri, sizeof(uri), "shm:file?path=%s", path);
    TP_ASSERT_OK(tp_shm_region_map_uri(&m, g_allow, uri, &rp));
    tp_shm_region_close(m);
    snprintf(uri, sizeof(uri), "shm:file?path=%s|require_hugepages=false", path);
    TP_ASSERT_OK(tp_shm_region_map_uri(&m, g_allow, uri, &rp));
    tp_shm_region_close(m);
    snprintf(uri, sizeof(uri), "shm:file?path=%s|bogus=1", path);
    TP_ASSERT_ERR(TP_ERR_MALFORMED, tp_shm_region_map_uri(&m, g_allow, uri, &rp));
    /* Not under the allowlist. */
    const char *other[1] = { "/dev" };
    tp_shm_allowlist_t *a2 = NULL;
    TP_ASSERT_OK(tp_shm_allowlist_init(&a2, other, 1));
    if (0 != strncmp(path, "/dev/", 5))
    {
        TP_ASSERT_ERR(TP_ERR_PERMISSION, tp_shm_region_map(&m, a2, path, &rp, false));
    }
    tp_shm_allowlist_close(a2);
    tp_shm_region_close(r);
}

static bool path_is_hugetlbfs(const char *p)
{
    struct statfs s;
    return 0 == statfs(p, &s) && (unsigned long)s.f_type == 0x958458f6UL;
}

static void test_shm_region_require_hugepages(void)
{
    char path[1200];
    char uri[1400];
    tp_shm_region_params_t pp = pool_params();
    tp_shm_create_options_t opts;
    tp_shm_create_options_defaults(&opts);
    opts.require_hugepages = true;
    tp_shm_region_t *r = NULL;
    tp_shm_region_t *m = NULL;
    if (!path_is_hugetlbfs(g_dir))
    {
        /* Not hugetlbfs: create and map must both refuse (no silent downgrade). */
        path_in_dir(path, sizeof(path), "huge.pool");
        TP_ASSERT_ERR(TP_ERR_VALIDATION, tp_shm_region_create(&r, path, &pp, &opts));
        TP_ASSERT(NULL != strstr(tp_errmsg(), "hugetlbfs"));
        struct stat st;
        TP_ASSERT(0 != stat(path, &st));
        TP_ASSERT_OK(tp_shm_region_create(&r, path, &pp, NULL));
        TP_ASSERT(!tp_shm_region_is_hugepages(r));
        TP_ASSERT_ERR(TP_ERR_VALIDATION, tp_shm_region_map(&m, g_allow, path, &pp, true));
        snprintf(uri, sizeof(uri), "shm:file?path=%s|require_hugepages=true", path);
        TP_ASSERT_ERR(TP_ERR_VALIDATION, tp_shm_region_map_uri(&m, g_allow, uri, &pp));
        tp_shm_region_close(r);
        unlink(path);
    }
}

/* The positive case, only where a writable hugetlbfs with a free 2 MiB page exists (skipped otherwise). */
static void test_shm_region_require_hugepages_on_hugetlbfs(void)
{
    if (!path_is_hugetlbfs("/dev/hugepages") || 0 != access("/dev/hugepages", W_OK))
    {
        TP_SKIP("no writable hugetlbfs mounted at /dev/hugepages");
    }
    char path[1200];
    tp_shm_region_params_t pp = pool_params();
    tp_shm_create_options_t opts;
    tp_shm_create_options_defaults(&opts);
    opts.require_hugepages = true;
    tp_shm_region_t *r = NULL;
    snprintf(path, sizeof(path), "/dev/hugepages/tp-test-%d.pool", (int)getpid());
    pp.stride_bytes = 2 * 1024 * 1024;
    pp.nslots = 1;
    if (0 != tp_shm_region_create(&r, path, &pp, &opts))
    {
        unlink(path);
        TP_SKIP("hugetlbfs create failed (no free hugepages?): %s", tp_errmsg());
    }
    bool huge = tp_shm_region_is_hugepages(r);
    tp_shm_region_close(r);
    unlink(path);
    TP_ASSERT(huge);
}

static void test_shm_pool_nslots_must_match_ring(void)
{
    char rpath[1200];
    char ppath[1200];
    char ppath2[1200];
    path_in_dir(rpath, sizeof(rpath), "match.ring");
    path_in_dir(ppath, sizeof(ppath), "match.pool");
    path_in_dir(ppath2, sizeof(ppath2), "mismatch.pool");
    tp_shm_region_params_t rp = ring_params();
    tp_shm_region_params_t pp = pool_params();
    tp_shm_region_t *ring = NULL;
    tp_shm_region_t *pool = NULL;
    tp_shm_region_t *pool2 = NULL;
    TP_ASSERT_OK(tp_shm_region_create(&ring, rpath, &rp, NULL));
    TP_ASSERT_OK(tp_shm_region_create(&pool, ppath, &pp, NULL));
    pp.nslots = 16;
    TP_ASSERT_OK(tp_shm_region_create(&pool2, ppath2, &pp, NULL));
    TP_ASSERT_OK(tp_shm_pool_check_ring(ring, pool));
    TP_ASSERT_ERR(TP_ERR_VALIDATION, tp_shm_pool_check_ring(ring, pool2));
    TP_ASSERT(NULL != strstr(tp_errmsg(), "nslots"));
    TP_ASSERT_ERR(TP_ERR_VALIDATION, tp_shm_pool_check_ring(pool, ring));
    tp_shm_region_close(ring);
    tp_shm_region_close(pool);
    tp_shm_region_close(pool2);
}

static void test_shm_region_inspect_mapping(void)
{
    char path[1200];
    path_in_dir(path, sizeof(path), "inspect.pool");
    tp_shm_region_params_t pp = pool_params();
    tp_shm_region_t *r = NULL;
    tp_shm_region_t *m = NULL;
    TP_ASSERT_OK(tp_shm_region_create(&r, path, &pp, NULL));
    TP_ASSERT_OK(tp_shm_region_map_inspect(&m, path));
    TP_ASSERT_EQ_U64(4096, tp_shm_region_superblock(m)->stride_bytes);
    TP_ASSERT_EQ_U64(2, tp_shm_region_superblock(m)->pool_id);
    tp_shm_region_close(m);
    tp_shm_region_close(r);
    /* Garbage: nslots not a power of two. */
    int fd = open(path, O_RDWR);
    uint8_t v = 3;
    TP_ASSERT_EQ_I64(1, pwrite(fd, &v, 1, 28));
    close(fd);
    TP_ASSERT_ERR(TP_ERR_VALIDATION, tp_shm_region_map_inspect(&m, path));
    TP_ASSERT(NULL != strstr(tp_errmsg(), "nslots"));
    /* Directory, FIFO, empty file. */
    TP_ASSERT_ERR(TP_ERR_PERMISSION, tp_shm_region_map_inspect(&m, g_dir));
    char fifo[1200];
    path_in_dir(fifo, sizeof(fifo), "inspect.fifo");
    TP_ASSERT_OK(mkfifo(fifo, 0600));
    TP_ASSERT_ERR(TP_ERR_PERMISSION, tp_shm_region_map_inspect(&m, fifo));
    TP_ASSERT_OK(truncate(path, 10));
    TP_ASSERT_ERR(TP_ERR_VALIDATION, tp_shm_region_map_inspect(&m, path));
    unlink(path);
    unlink(fifo);
}

/* Random superblocks: validation and the inspect mapping never crash and never accept garbage geometry. */
static void test_shm_superblock_random_never_crash(void)
{
    char path[1200];
    path_in_dir(path, sizeof(path), "random.bin");
    uint64_t state = UINT64_C(0x13198A2E03707344);
    tp_shm_region_params_t rp = ring_params();
    tp_shm_region_t *m = NULL;
    for (int n = 0; n < 2000; n++)
    {
        uint8_t block[64 + 8 * 256];
        for (size_t i = 0; i < sizeof(block); i++)
        {
            state = state * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
            block[i] = (uint8_t)(state >> 33);
        }
        if (n & 1)
        {
            /* Valid magic, random rest: exercises every other check. */
            uint64_t magic = TP_SHM_MAGIC;
            memcpy(block, &magic, 8);
            block[24] = (uint8_t)(n % 4);
            block[25] = 0;
        }
        tp_shm_superblock_t sb;
        TP_ASSERT_OK(tp_shm_superblock_decode(block, 64, &sb));
        TP_ASSERT(-1 == tp_shm_superblock_validate(&sb, &rp));
        TP_ASSERT_OK(tp_test_write_file(path, block, n % 3 == 0 ? (size_t)(64 + n % 2048) : sizeof(block)));
        if (0 == tp_shm_region_map_inspect(&m, path))
        {
            /* Accepted only if self-consistent and covered by the file. */
            const tp_shm_superblock_t *s2 = tp_shm_region_superblock(m);
            uint64_t slot = TP_SHM_REGION_HEADER_RING == s2->region_type ? 256 : s2->stride_bytes;
            TP_ASSERT(64 + (uint64_t)s2->nslots * slot <= tp_shm_region_length(m));
            tp_shm_region_close(m);
        }
        TP_ASSERT(-1 == tp_shm_region_map(&m, g_allow, path, &rp, false));
        TP_ASSERT(NULL == m);
    }
    unlink(path);
}

int main(int argc, char **argv)
{
    g_vectors_dir = argc > 1 ? argv[1] : TP_TEST_VECTORS_DIR;
    if (0 != tp_test_mkdtemp(g_dir, sizeof(g_dir), "region"))
    {
        perror("mkdtemp");
        return 1;
    }
    const char *dirs[1] = { g_dir };
    if (0 != tp_shm_allowlist_init(&g_allow, dirs, 1))
    {
        fprintf(stderr, "allowlist: %s\n", tp_errmsg());
        return 1;
    }
    TP_RUN(test_shm_superblock_golden_vector);
    TP_RUN(test_shm_region_params_rules);
    TP_RUN(test_shm_region_create_caps);
    TP_RUN(test_shm_region_timestamps_are_monotonic);
    TP_RUN(test_shm_region_create_writes_superblock);
    TP_RUN(test_shm_region_prefault_and_mlock);
    TP_RUN(test_shm_region_map_validates_each_field);
    TP_RUN(test_shm_region_map_truncated_and_garbage);
    TP_RUN(test_shm_region_map_uri_and_containment);
    TP_RUN(test_shm_region_require_hugepages);
    TP_RUN(test_shm_region_require_hugepages_on_hugetlbfs);
    TP_RUN(test_shm_pool_nslots_must_match_ring);
    TP_RUN(test_shm_region_inspect_mapping);
    TP_RUN(test_shm_superblock_random_never_crash);
    tp_shm_allowlist_close(g_allow);
    tp_test_rmtree(g_dir);
    return tp_test_finish();
}
