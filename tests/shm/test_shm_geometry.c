/* Ring/pool geometry rules (src/shm/tp_shm_geometry.h): one test per rule, plus the region layer using them. */
#include "tp_test.h"

#include "shm/tp_shm_geometry.h"
#include "shm/tp_shm_internal.h"

static tp_shm_pool_geometry_t pools[TP_SHM_GEOMETRY_MAX_POOLS + 1];

static void reset_pools(size_t n, uint32_t nslots)
{
    for (size_t i = 0; i < n; i++)
    {
        pools[i].pool_id = (uint16_t)(i + 1);
        pools[i].nslots = nslots;
        pools[i].stride_bytes = (uint32_t)(64u << i);
    }
}

static tp_shm_geometry_error_t check(uint32_t header_nslots, uint32_t slot_bytes, size_t n, uint64_t huge)
{
    tp_shm_geometry_error_t reason = (tp_shm_geometry_error_t)-1;
    int rc = tp_shm_geometry_validate(header_nslots, slot_bytes, n ? pools : NULL, n, huge, TP_ERR_VALIDATION, &reason);
    if ((0 == rc) != (TP_SHM_GEOMETRY_OK == reason))
    {
        return (tp_shm_geometry_error_t)-2;
    }
    if (0 != rc && TP_ERR_VALIDATION != tp_errcode())
    {
        return (tp_shm_geometry_error_t)-3;
    }
    return reason;
}

static void test_predicates(void)
{
    TP_ASSERT(!tp_shm_geometry_nslots_valid(0));
    TP_ASSERT(tp_shm_geometry_nslots_valid(1));
    TP_ASSERT(tp_shm_geometry_nslots_valid(1024));
    TP_ASSERT(tp_shm_geometry_nslots_valid(UINT32_C(1) << 31));
    TP_ASSERT(!tp_shm_geometry_nslots_valid(3));
    TP_ASSERT(!tp_shm_geometry_nslots_valid(UINT32_MAX));
    TP_ASSERT(!tp_shm_geometry_stride_valid(0));
    TP_ASSERT(!tp_shm_geometry_stride_valid(32));
    TP_ASSERT(!tp_shm_geometry_stride_valid(100));
    TP_ASSERT(tp_shm_geometry_stride_valid(64));
    TP_ASSERT(tp_shm_geometry_stride_valid(192)); /* any multiple of 64 (ERRATA: not only powers of two) */
    TP_ASSERT(tp_shm_geometry_stride_valid(UINT32_MAX - 63));
    uint64_t bytes = 0;
    TP_ASSERT_OK(tp_shm_geometry_region_bytes(16, 256, &bytes));
    TP_ASSERT_EQ_U64(64u + 16u * 256u, bytes);
    TP_ASSERT_OK(tp_shm_geometry_region_bytes(UINT32_C(1) << 31, UINT32_MAX - 63, &bytes));
    TP_ASSERT_EQ_I64(-1, tp_shm_geometry_region_bytes(UINT32_MAX, UINT64_C(1) << 40, &bytes));
    TP_ASSERT_EQ_I64(TP_ERR_INVALID_ARGUMENT, tp_errcode());
    TP_ASSERT_EQ_I64(-1, tp_shm_geometry_region_bytes(2, UINT64_MAX / 2, &bytes));
    TP_ASSERT_STREQ("DUPLICATE_POOL_ID", tp_shm_geometry_error_name(TP_SHM_GEOMETRY_DUPLICATE_POOL_ID));
    TP_ASSERT_STREQ("UNKNOWN", tp_shm_geometry_error_name((tp_shm_geometry_error_t)77));
}

static void test_valid_layouts(void)
{
    reset_pools(1, 64);
    TP_ASSERT_EQ_I64(TP_SHM_GEOMETRY_OK, check(64, 256, 1, 0));
    reset_pools(TP_SHM_GEOMETRY_MAX_POOLS, 1);
    TP_ASSERT_EQ_I64(TP_SHM_GEOMETRY_OK, check(1, 256, TP_SHM_GEOMETRY_MAX_POOLS, 0));
    reset_pools(2, 8);
    pools[0].stride_bytes = 2u * 1024 * 1024;
    pools[1].stride_bytes = 4u * 1024 * 1024;
    TP_ASSERT_EQ_I64(TP_SHM_GEOMETRY_OK, check(8, 256, 2, 2u * 1024 * 1024));
    /* reason may be NULL */
    TP_ASSERT_OK(tp_shm_geometry_validate(8, 256, pools, 2, 0, TP_ERR_CONFIG, NULL));
}

static void test_each_rule(void)
{
    reset_pools(2, 16);
    TP_ASSERT_EQ_I64(TP_SHM_GEOMETRY_NSLOTS, check(0, 256, 2, 0));
    TP_ASSERT_EQ_I64(TP_SHM_GEOMETRY_NSLOTS, check(12, 256, 2, 0));
    TP_ASSERT(NULL != strstr(tp_errmsg(), "power of two"));
    TP_ASSERT_EQ_I64(TP_SHM_GEOMETRY_SLOT_BYTES, check(16, 128, 2, 0));
    TP_ASSERT_EQ_I64(TP_SHM_GEOMETRY_POOL_COUNT, check(16, 256, 0, 0));
    reset_pools(TP_SHM_GEOMETRY_MAX_POOLS + 1, 16);
    for (size_t i = 0; i <= TP_SHM_GEOMETRY_MAX_POOLS; i++)
    {
        pools[i].stride_bytes = 64;
    }
    TP_ASSERT_EQ_I64(TP_SHM_GEOMETRY_POOL_COUNT, check(16, 256, TP_SHM_GEOMETRY_MAX_POOLS + 1, 0));
    reset_pools(2, 16);
    pools[1].pool_id = 0;
    TP_ASSERT_EQ_I64(TP_SHM_GEOMETRY_POOL_ID, check(16, 256, 2, 0));
    reset_pools(2, 16);
    pools[1].pool_id = pools[0].pool_id;
    TP_ASSERT_EQ_I64(TP_SHM_GEOMETRY_DUPLICATE_POOL_ID, check(16, 256, 2, 0));
    TP_ASSERT(NULL != strstr(tp_errmsg(), "duplicate pool_id 1"));
    reset_pools(2, 16);
    pools[1].nslots = 32;
    TP_ASSERT_EQ_I64(TP_SHM_GEOMETRY_POOL_NSLOTS, check(16, 256, 2, 0));
    reset_pools(2, 16);
    pools[0].stride_bytes = 0;
    TP_ASSERT_EQ_I64(TP_SHM_GEOMETRY_STRIDE, check(16, 256, 2, 0));
    pools[0].stride_bytes = 96;
    TP_ASSERT_EQ_I64(TP_SHM_GEOMETRY_STRIDE, check(16, 256, 2, 0));
    TP_ASSERT(NULL != strstr(tp_errmsg(), "multiple of 64"));
    reset_pools(2, 16);
    TP_ASSERT_EQ_I64(TP_SHM_GEOMETRY_HUGEPAGE_STRIDE, check(16, 256, 2, 2u * 1024 * 1024));
    /* The largest layout: 2^31 slots of almost 4 GiB still fits int64_t (2^63 - 2^37 + 64 bytes), so with
       power-of-two slot counts SIZE_OVERFLOW can only trigger where size_t is 32 bits. */
    reset_pools(1, UINT32_C(1) << 31);
    pools[0].stride_bytes = UINT32_MAX - 63;
    TP_ASSERT_EQ_I64(sizeof(size_t) >= 8 ? TP_SHM_GEOMETRY_OK : TP_SHM_GEOMETRY_SIZE_OVERFLOW,
        check(UINT32_C(1) << 31, 256, 1, 0));
    /* The caller picks the error code. */
    reset_pools(1, 3);
    TP_ASSERT_EQ_I64(-1, tp_shm_geometry_validate(3, 256, pools, 1, 0, TP_ERR_CONFIG, NULL));
    TP_ASSERT_EQ_I64(TP_ERR_CONFIG, tp_errcode());
}

static void test_region_params_use_the_rules(void)
{
    tp_shm_region_params_t p = { .region_type = TP_SHM_REGION_PAYLOAD_POOL, .layout_version = 1, .epoch = 1,
        .stream_id = 1, .pool_id = 1, .nslots = 16, .stride_bytes = 192 };
    TP_ASSERT_OK(tp_shm_region_params_validate(&p));
    uint64_t size = 0;
    TP_ASSERT_OK(tp_shm_region_size(&p, &size));
    TP_ASSERT_EQ_U64(64u + 16u * 192u, size);
    p.nslots = 12;
    TP_ASSERT_EQ_I64(-1, tp_shm_region_params_validate(&p));
    p.nslots = 16;
    p.stride_bytes = 100;
    TP_ASSERT_EQ_I64(-1, tp_shm_region_params_validate(&p));
    TP_ASSERT(NULL != strstr(tp_errmsg(), "multiple of 64"));
}

int main(void)
{
    TP_RUN(test_predicates);
    TP_RUN(test_valid_layouts);
    TP_RUN(test_each_rule);
    TP_RUN(test_region_params_use_the_rules);
    return tp_test_finish();
}
