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
 * Name of the per-stream epoch marker in the stream directory: the last epoch
 * created there, as decimal text and a newline (0600, replaced atomically by
 * temp file + rename). It survives a clean close and every GC, which remove
 * only epoch directories, so a restarted creator never reuses an epoch (wire
 * §15.2, DECISIONS EF-1). Dot-prefixed and not a directory: tools and GC that
 * walk epoch directories never take it for one.
 */
#define TP_SHM_EPOCH_MARKER ".last-epoch"

/**
 * The epoch recorded in the marker of `stream_dir`, or 0 when there is none.
 * Read strictly (the marker itself opened with O_NOFOLLOW inside the stream
 * directory opened with O_NOFOLLOW; a regular file of the effective user with
 * one link; 1..20 bytes; decimal digits in 1..2^63-1 and an optional
 * newline): anything else is ignored with a warning and 0 is returned.
 */
uint64_t tp_shm_stream_epoch_marker_read(const char *stream_dir);

/**
 * Record `epoch` (1..2^63-1) in the marker of `stream_dir` (which must
 * exist) unless the marker already holds `epoch` or more (it never goes
 * down; writers serialise with flock on the stream directory): written to
 * `.last-epoch.tmp.<pid>` (O_EXCL, O_NOFOLLOW, 0600), then renamed over the
 * marker. Returns 0, or -1 with an error naming the path.
 */
int tp_shm_stream_epoch_marker_write(const char *stream_dir, uint64_t epoch);

/**
 * Highest epoch ever created in `stream_dir` as far as can be told: the
 * larger of the highest epoch directory present and the marker
 * (tp_shm_stream_epoch_marker_read); 0 when neither exists. Entries that are
 * not canonical decimal numbers (tp_shm_parse_decimal) are ignored.
 */
uint64_t tp_shm_stream_highest_epoch(const char *stream_dir);

/**
 * `<base>/tensorpool-<user>/<namespace>/<stream_id>` into `buf`. Returns 0 or -1.
 */
int tp_shm_stream_dir_path(char *buf, size_t len, const char *base_dir, const char *namespace_name,
    uint32_t stream_id);

/**
 * Create the regions of a new epoch of `stream_id`: the epoch is the larger
 * of `min_epoch` and one above tp_shm_stream_highest_epoch (every epoch
 * directory present and the marker), so a restarted creator never reuses an
 * epoch, even after a clean close or a GC removed the directories (wire
 * §15.2, Driver Model §10); a directory that appears concurrently is skipped.
 * The epoch is recorded in the marker before any region is created; failing
 * to record it fails the creation. `opts` gives file mode, prefault, mlock and
 * hugepages; `shared_group` creates setgid 02770 directories. On failure
 * no epoch directory is left on disk (the marker may have been advanced).
 * Fills `set` (caller-owned) and returns 0, or -1.
 */
int tp_shm_epoch_set_create(tp_shm_epoch_set_t *set, const char *base_dir, const char *namespace_name,
    uint32_t stream_id, uint64_t min_epoch, const tp_shm_epoch_layout_t *layout, const tp_shm_create_options_t *opts,
    bool shared_group);

/** Unmap every region of `set`; `remove` also unlinks its epoch directory. Files are never truncated. */
void tp_shm_epoch_set_close(tp_shm_epoch_set_t *set, bool remove);

/** Refresh activity_timestamp_ns of every region of `set` (0 = now). */
void tp_shm_epoch_set_refresh_activity(tp_shm_epoch_set_t *set, uint64_t now_ns);

#endif
