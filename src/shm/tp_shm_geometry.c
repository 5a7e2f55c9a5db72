/* Ring and pool geometry rules (see tp_shm_geometry.h). */
#include "shm/tp_shm_geometry.h"

#include "common/tp_error.h"

const char *tp_shm_geometry_error_name(tp_shm_geometry_error_t e)
{
    switch (e)
    {
        case TP_SHM_GEOMETRY_OK: return "OK";
        case TP_SHM_GEOMETRY_NSLOTS: return "NSLOTS";
        case TP_SHM_GEOMETRY_SLOT_BYTES: return "SLOT_BYTES";
        case TP_SHM_GEOMETRY_POOL_COUNT: return "POOL_COUNT";
        case TP_SHM_GEOMETRY_POOL_ID: return "POOL_ID";
        case TP_SHM_GEOMETRY_DUPLICATE_POOL_ID: return "DUPLICATE_POOL_ID";
        case TP_SHM_GEOMETRY_POOL_NSLOTS: return "POOL_NSLOTS";
        case TP_SHM_GEOMETRY_STRIDE: return "STRIDE";
        case TP_SHM_GEOMETRY_HUGEPAGE_STRIDE: return "HUGEPAGE_STRIDE";
        case TP_SHM_GEOMETRY_SIZE_OVERFLOW: return "SIZE_OVERFLOW";
        default: return "UNKNOWN";
    }
}

bool tp_shm_geometry_nslots_valid(uint32_t nslots)
{
    return 0 != nslots && 0 == (nslots & (nslots - 1));
}

bool tp_shm_geometry_stride_valid(uint32_t stride_bytes)
{
    return 0 != stride_bytes && 0 == stride_bytes % TP_SHM_GEOMETRY_STRIDE_ALIGN;
}

static bool region_bytes(uint32_t nslots, uint64_t slot_bytes, uint64_t *out)
{
    uint64_t size;
    if (__builtin_mul_overflow((uint64_t)nslots, slot_bytes, &size) ||
        __builtin_add_overflow(size, (uint64_t)TP_SHM_GEOMETRY_SUPERBLOCK_BYTES, &size) || size > (uint64_t)SIZE_MAX ||
        size > (uint64_t)INT64_MAX)
    {
        return false;
    }
    *out = size;
    return true;
}

int tp_shm_geometry_region_bytes(uint32_t nslots, uint64_t slot_bytes, uint64_t *bytes_out)
{
    uint64_t size = 0;
    if (!region_bytes(nslots, slot_bytes, &size))
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "region size 64 + %u * %llu overflows", (unsigned)nslots,
            (unsigned long long)slot_bytes);
    }
    if (NULL != bytes_out)
    {
        *bytes_out = size;
    }
    return 0;
}

static int geometry_fail(tp_shm_geometry_error_t e, tp_shm_geometry_error_t *reason)
{
    if (NULL != reason)
    {
        *reason = e;
    }
    return -1;
}

int tp_shm_geometry_validate(uint32_t header_nslots, uint32_t header_slot_bytes, const tp_shm_pool_geometry_t *pools,
    size_t pool_count, uint64_t hugepage_size, int err_code, tp_shm_geometry_error_t *reason)
{
    uint64_t size = 0;
    if (!tp_shm_geometry_nslots_valid(header_nslots))
    {
        tp_err_set(err_code, "header_nslots %u must be a power of two greater than 0", (unsigned)header_nslots);
        return geometry_fail(TP_SHM_GEOMETRY_NSLOTS, reason);
    }
    if (TP_SHM_GEOMETRY_HEADER_SLOT_BYTES != header_slot_bytes)
    {
        tp_err_set(err_code, "header_slot_bytes %u must be %u", (unsigned)header_slot_bytes,
            TP_SHM_GEOMETRY_HEADER_SLOT_BYTES);
        return geometry_fail(TP_SHM_GEOMETRY_SLOT_BYTES, reason);
    }
    if (!region_bytes(header_nslots, TP_SHM_GEOMETRY_HEADER_SLOT_BYTES, &size))
    {
        tp_err_set(err_code, "header ring of %u slots overflows", (unsigned)header_nslots);
        return geometry_fail(TP_SHM_GEOMETRY_SIZE_OVERFLOW, reason);
    }
    if (0 == pool_count || pool_count > TP_SHM_GEOMETRY_MAX_POOLS || NULL == pools)
    {
        tp_err_set(err_code, "pool count %zu must be 1..%u", pool_count, TP_SHM_GEOMETRY_MAX_POOLS);
        return geometry_fail(TP_SHM_GEOMETRY_POOL_COUNT, reason);
    }
    for (size_t i = 0; i < pool_count; i++)
    {
        const tp_shm_pool_geometry_t *p = &pools[i];
        if (0 == p->pool_id)
        {
            tp_err_set(err_code, "pool %zu has pool_id 0 (reserved for the header ring)", i);
            return geometry_fail(TP_SHM_GEOMETRY_POOL_ID, reason);
        }
        for (size_t j = 0; j < i; j++)
        {
            if (pools[j].pool_id == p->pool_id)
            {
                tp_err_set(err_code, "duplicate pool_id %u", (unsigned)p->pool_id);
                return geometry_fail(TP_SHM_GEOMETRY_DUPLICATE_POOL_ID, reason);
            }
        }
        if (p->nslots != header_nslots)
        {
            tp_err_set(err_code, "pool %u nslots %u != header_nslots %u (wire spec 15.5)", (unsigned)p->pool_id,
                (unsigned)p->nslots, (unsigned)header_nslots);
            return geometry_fail(TP_SHM_GEOMETRY_POOL_NSLOTS, reason);
        }
        if (!tp_shm_geometry_stride_valid(p->stride_bytes))
        {
            tp_err_set(err_code, "pool %u stride_bytes %u must be a non-zero multiple of 64", (unsigned)p->pool_id,
                (unsigned)p->stride_bytes);
            return geometry_fail(TP_SHM_GEOMETRY_STRIDE, reason);
        }
        if (0 != hugepage_size && 0 != p->stride_bytes % hugepage_size)
        {
            tp_err_set(err_code, "pool %u stride_bytes %u is not a multiple of the hugepage size %llu",
                (unsigned)p->pool_id, (unsigned)p->stride_bytes, (unsigned long long)hugepage_size);
            return geometry_fail(TP_SHM_GEOMETRY_HUGEPAGE_STRIDE, reason);
        }
        if (!region_bytes(p->nslots, p->stride_bytes, &size))
        {
            tp_err_set(err_code, "pool %u of %u * %u bytes overflows", (unsigned)p->pool_id, (unsigned)p->nslots,
                (unsigned)p->stride_bytes);
            return geometry_fail(TP_SHM_GEOMETRY_SIZE_OVERFLOW, reason);
        }
    }
    if (NULL != reason)
    {
        *reason = TP_SHM_GEOMETRY_OK;
    }
    return 0;
}
