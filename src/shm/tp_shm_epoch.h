/*
 * The regions of one epoch of a stream (wire spec §15.2, §15.21a): a header
 * ring and its payload pools, created together in the canonical layout
 * `<base>/tensorpool-<user>/<namespace>/<stream_id>/<epoch>/`. Used by the
 * standalone producer and by the driver (the only two region creators).
 * Internal API (not installed).
 */
#ifndef TP_SHM_TP_SHM_EPOCH_H
#define TP_SHM_TP_SHM_EPOCH_H

#include <limits.h>
#include <stdbool.h>

#include "tensor_pool/tp_shm.h"

#define TP_SHM_EPOCH_MAX_POOLS 16
#define TP_SHM_REGION_URI_MAX (TP_SHM_PATH_MAX + 64)

/** Geometry of an epoch: the ring's slot count and the pools (any order). */
typedef struct tp_shm_epoch_layout_stct
{
    uint32_t header_nslots;
    size_t pool_count;                        /* 1..TP_SHM_EPOCH_MAX_POOLS */
    uint16_t pool_ids[TP_SHM_EPOCH_MAX_POOLS];
    uint32_t strides[TP_SHM_EPOCH_MAX_POOLS];
} tp_shm_epoch_layout_t;

/** A created epoch: mappings (writable) and URIs. Pools are stored in ascending stride order. */
typedef struct tp_shm_epoch_set_stct
{
    uint64_t epoch;
    uint32_t header_nslots;
    size_t pool_count;
    char epoch_dir[PATH_MAX];
    char stream_dir[PATH_MAX];
    tp_shm_region_t *ring;
    tp_shm_region_t *pools[TP_SHM_EPOCH_MAX_POOLS];
    uint32_t strides[TP_SHM_EPOCH_MAX_POOLS];
    uint16_t pool_ids[TP_SHM_EPOCH_MAX_POOLS];
    char header_uri[TP_SHM_REGION_URI_MAX];
    char pool_uris[TP_SHM_EPOCH_MAX_POOLS][TP_SHM_REGION_URI_MAX];
} tp_shm_epoch_set_t;

/**
 * Parse a directory name of the canonical layout (a stream id or an epoch):
 * decimal digits only, no sign, no leading zero (except "0"), at most `max`.
 * Returns true and sets *out, false for anything else.
 */
bool tp_shm_parse_decimal(const char *name, uint64_t max, uint64_t *out);

/** Fill order[0..count) with the indices of `strides` in ascending stride order (stable): smallest pool first. */
void tp_shm_stride_order(const uint32_t *strides, size_t count, size_t *order);

/**
 * Highest epoch directory present in `stream_dir` (0 when none or when the
 * directory does not exist). Entries that are not canonical decimal numbers
 * (tp_shm_parse_decimal) are ignored.
 */
uint64_t tp_shm_stream_highest_epoch(const char *stream_dir);

/**
 * `<base>/tensorpool-<user>/<namespace>/<stream_id>` into `buf`. Returns 0 or -1.
 */
int tp_shm_stream_dir_path(char *buf, size_t len, const char *base_dir, const char *namespace_name,
    uint32_t stream_id);

/**
 * Create the regions of a new epoch of `stream_id`: the epoch is the larger
 * of `min_epoch` and one above every epoch directory present (so a restarted
 * creator never reuses an epoch, Driver Model §10); a directory that appears
 * concurrently is skipped. `opts` gives file mode, prefault, mlock and
 * hugepages; `shared_group` creates setgid 02770 directories. On failure
 * nothing is left on disk. Fills `set` (caller-owned) and returns 0, or -1.
 */
int tp_shm_epoch_set_create(tp_shm_epoch_set_t *set, const char *base_dir, const char *namespace_name,
    uint32_t stream_id, uint64_t min_epoch, const tp_shm_epoch_layout_t *layout, const tp_shm_create_options_t *opts,
    bool shared_group);

/** Unmap every region of `set`; `remove` also unlinks its epoch directory. Files are never truncated. */
void tp_shm_epoch_set_close(tp_shm_epoch_set_t *set, bool remove);

/** Refresh activity_timestamp_ns of every region of `set` (0 = now). */
void tp_shm_epoch_set_refresh_activity(tp_shm_epoch_set_t *set, uint64_t now_ns);

#endif
