/*
 * Ring and pool geometry rules of the wire spec (v1.2), in one place:
 * - header_nslots is a power of two greater than 0 (§3; slot index = seq & (nslots - 1));
 * - header_slot_bytes is 256 (§10.1.1);
 * - every payload pool has a non-zero pool_id (0 is the header ring, §7.1),
 *   pool ids are unique, pool_nslots == header_nslots (§15.5), stride_bytes
 *   is a non-zero multiple of 64 (§15.22; any multiple, not only powers of
 *   two — see ERRATA) and, when hugepages are required, a multiple of the
 *   hugepage size;
 * - 1..TP_SHM_GEOMETRY_MAX_POOLS pools, and every region size
 *   (64-byte superblock + nslots * slot) fits in int64_t and size_t.
 *
 * Used by the SHM layer (region creation), by producers (local layout
 * configuration) and by consumers (ShmPoolAnnounce / attach responses).
 * Self-contained: includes nothing of the SHM internals, no allocation.
 */
#ifndef TP_SHM_TP_SHM_GEOMETRY_H
#define TP_SHM_TP_SHM_GEOMETRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Most payload pools per stream (same bound as the decode layer's TP_PROTO_MAX_POOLS). */
#define TP_SHM_GEOMETRY_MAX_POOLS 16u
/** The only header slot size of layout version 1. */
#define TP_SHM_GEOMETRY_HEADER_SLOT_BYTES 256u
/** Size of the superblock at the start of every region. */
#define TP_SHM_GEOMETRY_SUPERBLOCK_BYTES 64u
/** Payload strides are multiples of this. */
#define TP_SHM_GEOMETRY_STRIDE_ALIGN 64u

/** Which rule a layout broke. */
typedef enum tp_shm_geometry_error_en
{
    TP_SHM_GEOMETRY_OK = 0,
    TP_SHM_GEOMETRY_NSLOTS = 1,            /**< header_nslots zero or not a power of two */
    TP_SHM_GEOMETRY_SLOT_BYTES = 2,        /**< header_slot_bytes != 256 */
    TP_SHM_GEOMETRY_POOL_COUNT = 3,        /**< no pools, or more than TP_SHM_GEOMETRY_MAX_POOLS */
    TP_SHM_GEOMETRY_POOL_ID = 4,           /**< pool_id 0 (reserved for the header ring) */
    TP_SHM_GEOMETRY_DUPLICATE_POOL_ID = 5, /**< two pools with the same id */
    TP_SHM_GEOMETRY_POOL_NSLOTS = 6,       /**< pool_nslots != header_nslots */
    TP_SHM_GEOMETRY_STRIDE = 7,            /**< stride zero or not a multiple of 64 */
    TP_SHM_GEOMETRY_HUGEPAGE_STRIDE = 8,   /**< stride not a multiple of the required hugepage size */
    TP_SHM_GEOMETRY_SIZE_OVERFLOW = 9      /**< a region size overflows */
}
tp_shm_geometry_error_t;

/** One payload pool as announced or configured. */
typedef struct tp_shm_pool_geometry_stct
{
    uint16_t pool_id;
    uint32_t nslots;
    uint32_t stride_bytes;
}
tp_shm_pool_geometry_t;

/** Name of a rule, e.g. "NSLOTS". */
const char *tp_shm_geometry_error_name(tp_shm_geometry_error_t e);

/** Whether nslots is a valid ring size: a power of two greater than 0. */
bool tp_shm_geometry_nslots_valid(uint32_t nslots);

/** Whether stride_bytes is a valid pool stride: non-zero and a multiple of 64. */
bool tp_shm_geometry_stride_valid(uint32_t stride_bytes);

/**
 * Size of a region of nslots slots of slot_bytes each plus the superblock.
 * Returns 0 and sets *bytes_out, or -1 (tp_err TP_ERR_INVALID_ARGUMENT) if it
 * overflows uint64_t, int64_t (file offsets) or size_t (mappings).
 */
int tp_shm_geometry_region_bytes(uint32_t nslots, uint64_t slot_bytes, uint64_t *bytes_out);

/**
 * Check a whole stream layout against every rule above.
 * - pools: pool_count entries (may be NULL when pool_count is 0, which fails);
 * - hugepage_size: 0, or the page size strides must be multiples of;
 * - err_code: the tp_err code to set on failure (TP_ERR_CONFIG for a local
 *   configuration, TP_ERR_VALIDATION for an announce, ...);
 * - reason: optional, receives the broken rule (TP_SHM_GEOMETRY_OK on success).
 * Returns 0, or -1 with tp_err set (message names the rule and the values).
 */
int tp_shm_geometry_validate(uint32_t header_nslots, uint32_t header_slot_bytes, const tp_shm_pool_geometry_t *pools,
    size_t pool_count, uint64_t hugepage_size, int err_code, tp_shm_geometry_error_t *reason);

#endif
