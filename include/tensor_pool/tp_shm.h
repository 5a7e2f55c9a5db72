/*
 * tensorpool: shared-memory layer (wire spec v1.2 §6–§9, §15.1–15.5, §15.21a,
 * §15.22).
 *
 * - `shm:file` region URIs;
 * - the canonical directory layout and path containment of announced paths;
 * - regions (header ring, payload pools): create, map with validation against
 *   the announced parameters, superblock, liveness timestamp;
 * - the header-ring seqlock: writer begin/commit, zero-copy reads with a
 *   re-check after the application has read the payload, copy-out reads.
 *
 * All functions return 0 on success and -1 on failure with tp_errcode() /
 * tp_errmsg() set, except the read path, which returns a tp_drop_reason_t and
 * never touches the error state (drops are not errors, §15.21).
 */
#ifndef TENSOR_POOL_TP_SHM_H
#define TENSOR_POOL_TP_SHM_H

#include "tensor_pool/tp_common.h"
#include "tensor_pool/tp_tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------- */
/* Constants                                                                  */
/* ------------------------------------------------------------------------- */

/** superblock_size: fixed at 64 bytes in v1.2 (§6). */
#define TP_SHM_SUPERBLOCK_SIZE 64u
/** Size of one header-ring slot (§8.1). */
#define TP_SHM_HEADER_SLOT_BYTES 256u
/** Superblock magic, the u64 0x544F504C53484D31 stored little-endian (ERRATA §5). */
#define TP_SHM_MAGIC UINT64_C(0x544F504C53484D31)
/** SHM layout version written by this implementation. */
#define TP_SHM_LAYOUT_VERSION 1u
/** Longest path accepted (bytes, without the terminating NUL). */
#define TP_SHM_PATH_MAX 4095u
/** Longest user / namespace component of the canonical layout. */
#define TP_SHM_NAME_MAX 64u

/*
 * Creation caps (tp_shm_region_create, tp_shm_layout_check). They keep a
 * mistyped configuration from filling /dev/shm (or the disk); mapping a
 * region created elsewhere is not capped. nslots and stride are fixed
 * maxima; the per-region byte cap is a default that a caller raises with
 * tp_shm_create_options_t.max_region_bytes.
 */
/** Largest header_nslots (and pool nslots) a region is created with: 2^20 slots (a 256 MiB header ring). */
#define TP_SHM_MAX_NSLOTS (1u << 20)
/** Largest pool stride_bytes a pool is created with: 1 GiB. */
#define TP_SHM_MAX_STRIDE_BYTES (1u << 30)
/** Default cap on one region file (superblock + nslots x slot size): 16 GiB. */
#define TP_SHM_DEFAULT_MAX_REGION_BYTES (UINT64_C(1) << 34)

/** Region type stored in the superblock. */
typedef enum tp_shm_region_type_enum
{
    TP_SHM_REGION_HEADER_RING = 1,
    TP_SHM_REGION_PAYLOAD_POOL = 2
} tp_shm_region_type_t;

/** "HEADER_RING", "PAYLOAD_POOL" or "INVALID". */
TP_EXPORT const char *tp_shm_region_type_name(int region_type);

/* ------------------------------------------------------------------------- */
/* shm:file URIs (§15.22)                                                      */
/* ------------------------------------------------------------------------- */

/** A parsed `shm:file?path=<abs>[|require_hugepages=true|false]` URI. */
typedef struct tp_shm_uri_stct
{
    char path[TP_SHM_PATH_MAX + 1];
    bool require_hugepages;
} tp_shm_uri_t;

/**
 * Parse and validate a region URI. Accepts only the `shm:file` scheme with the
 * parameters `path` (required, absolute, 1..TP_SHM_PATH_MAX visible ASCII
 * characters other than `?` and `|`) and `require_hugepages` (`true` or
 * `false`), separated by `|`, each at most once. Fails with
 * TP_ERR_UNSUPPORTED for another scheme and TP_ERR_MALFORMED otherwise.
 */
TP_EXPORT int tp_shm_uri_parse(const char *uri, tp_shm_uri_t *out);

/** Format a URI into `buf`; -1 (TP_ERR_INVALID_ARGUMENT) if it does not fit or the path is invalid. */
TP_EXPORT int tp_shm_uri_format(const char *path, bool require_hugepages, char *buf, size_t len);

/* ------------------------------------------------------------------------- */
/* Canonical layout (§15.21a.3)                                                */
/* ------------------------------------------------------------------------- */

/**
 * Effective user name (getpwuid(geteuid())) sanitized for use as a path
 * component: characters outside [A-Za-z0-9._-] become '_', and a name that is
 * empty, "." or ".." (or unknown) becomes "uid<N>".
 */
TP_EXPORT int tp_shm_user_name(char *buf, size_t len);

/**
 * Validate one path component (namespace, user): 1..TP_SHM_NAME_MAX characters
 * of [A-Za-z0-9._-], not "." or "..". `what` names it in the error message.
 */
TP_EXPORT int tp_shm_name_validate(const char *what, const char *name);

/**
 * `<base_dir>/tensorpool-<user>/<namespace>/<stream_id>/<epoch>` into `buf`.
 * `user` NULL means tp_shm_user_name(). base_dir must be absolute.
 */
TP_EXPORT int tp_shm_epoch_dir_path(char *buf, size_t len, const char *base_dir, const char *user,
    const char *namespace_name, uint32_t stream_id, uint64_t epoch);

/** `<epoch_dir>/header.ring` into `buf`. */
TP_EXPORT int tp_shm_header_ring_path(char *buf, size_t len, const char *epoch_dir);

/** `<epoch_dir>/<pool_id>.pool` into `buf`. */
TP_EXPORT int tp_shm_pool_path(char *buf, size_t len, const char *epoch_dir, uint16_t pool_id);

/**
 * Create the canonical epoch directory (and its parents below `base_dir`,
 * which must exist) and store its path in `buf`. Directories are created with
 * mode 0700, or 02770 (setgid) when `shared_group`; every component is opened
 * with O_NOFOLLOW so symlinks are refused, and an existing
 * `tensorpool-<user>` directory must be owned by the effective user.
 */
TP_EXPORT int tp_shm_epoch_dir_create(char *buf, size_t len, const char *base_dir, const char *namespace_name,
    uint32_t stream_id, uint64_t epoch, bool shared_group);

/**
 * Remove an epoch directory created by tp_shm_epoch_dir_create(): unlinks
 * `header.ring` and every `<n>.pool` in it, then the directory itself (fails
 * if anything else is left in it). Parent directories are kept.
 */
TP_EXPORT int tp_shm_epoch_dir_remove(const char *epoch_dir);

/* ------------------------------------------------------------------------- */
/* Reclaiming the epochs of dead producers (§15.21a.7)                        */
/* ------------------------------------------------------------------------- */

/** What tp_shm_gc() concluded about one epoch directory. */
typedef enum tp_shm_gc_verdict_enum
{
    TP_SHM_GC_DEAD = 1,    /**< owner dead and stale: removed (apply) or would be removed (dry run) */
    TP_SHM_GC_LIVE = 2,    /**< owner alive, or activity too recent: kept */
    TP_SHM_GC_SKIPPED = 3  /**< cannot be attributed safely (no readable superblock, mismatch, ...): kept */
} tp_shm_gc_verdict_t;

/** One epoch directory seen by tp_shm_gc(), passed to the callback. */
typedef struct tp_shm_gc_entry_stct
{
    char path[TP_SHM_PATH_MAX + 1]; /**< `<base>/tensorpool-<user>/<namespace>/<stream_id>/<epoch>` */
    char namespace_name[TP_SHM_NAME_MAX + 1];
    uint32_t stream_id;
    uint64_t epoch;
    uint64_t pid;                   /**< from the superblock (0 when none was readable) */
    uint64_t activity_timestamp_ns; /**< from the superblock */
    uint64_t activity_age_ns;       /**< tp_shm_activity_age_ns() of it (UINT64_MAX when unknown) */
    uint64_t bytes;                 /**< total size of its region files */
    tp_shm_gc_verdict_t verdict;
    bool removed;                   /**< apply mode: the directory is gone */
    char reason[160];               /**< why: "pid 1234 is not running", "pid 1234 is alive", ... */
} tp_shm_gc_entry_t;

typedef void (*tp_shm_gc_callback_t)(void *clientd, const tp_shm_gc_entry_t *entry);

/** Options of tp_shm_gc(); initialise with tp_shm_gc_options_defaults(). */
typedef struct tp_shm_gc_options_stct
{
    bool apply;                  /**< false (default): dry run, only report */
    const char *user;            /**< NULL (default): the effective user (tp_shm_user_name) */
    const char *namespace_name;  /**< NULL (default): every namespace */
    bool only_stream;            /**< true: only epochs of `stream_id` (a producer reclaiming its own stream) */
    uint32_t stream_id;          /**< with only_stream */
    uint64_t min_stale_ns;       /**< activity must be at least this old (default TP_SHM_GC_DEFAULT_MIN_STALE_NS) */
    tp_shm_gc_callback_t on_entry; /**< called for every epoch directory found (may be NULL) */
    void *clientd;
} tp_shm_gc_options_t;

/** Default staleness a dead owner's activity timestamp must also have: 10 s (the spec's 3-5 x 1 s cadence, doubled). */
#define TP_SHM_GC_DEFAULT_MIN_STALE_NS UINT64_C(10000000000)

/** Fill `opts` with the defaults (dry run, effective user, all namespaces, 10 s staleness, no callback). */
TP_EXPORT void tp_shm_gc_options_defaults(tp_shm_gc_options_t *opts);

/**
 * Find, and with opts->apply remove, the epoch directories of dead producers
 * under `base_dir` in the canonical layout
 * `<base_dir>/tensorpool-<user>/<namespace>/<stream_id>/<epoch>/`.
 *
 * An epoch is dead when the superblock of its `header.ring` (or, when that is
 * missing, of its first `<n>.pool`) belongs to it (magic, stream id and epoch
 * match the directory) and records a `pid` that is not running (kill(pid, 0)
 * fails with ESRCH) and an `activity_timestamp_ns` at least
 * `opts->min_stale_ns` old (tp_shm_activity_age_ns). A running pid (also one
 * owned by another user, or reused), a fresh timestamp, a missing or foreign
 * superblock keep the directory. Removal unlinks only `header.ring` and
 * `<n>.pool` files, then the directory; anything else in it keeps the
 * directory (reported). Every directory is opened relative to its parent
 * with O_NOFOLLOW and symlinks are never followed or removed, so nothing
 * outside `base_dir` is touched; other users' `tensorpool-<user>` trees are
 * not scanned unless opts->user names them.
 *
 * Returns the number of dead epochs (removed, or that would be removed in a
 * dry run), or -1 when `base_dir` cannot be read; a missing user directory
 * is 0. A removal that fails is reported through the callback (removed
 * false, reason set) and counted as not removed.
 */
TP_EXPORT int tp_shm_gc(const char *base_dir, const tp_shm_gc_options_t *opts);

/**
 * Age of a superblock activity timestamp in nanoseconds, whichever clock
 * domain wrote it: values above 10^18 (after 2001 as Unix time, 31 years as
 * an uptime) are taken as CLOCK_REALTIME, smaller ones as CLOCK_MONOTONIC (the
 * spec's and the Julia implementation's domain; DECISIONS SHM-5). A timestamp
 * in the future has age 0; 0 (never written) gives UINT64_MAX.
 */
TP_EXPORT uint64_t tp_shm_activity_age_ns(uint64_t activity_timestamp_ns);

/* ------------------------------------------------------------------------- */
/* Path containment (§15.21a.5)                                               */
/* ------------------------------------------------------------------------- */

/** Canonicalized allowed base directories (opaque). */
typedef struct tp_shm_allowlist_stct tp_shm_allowlist_t;

/**
 * Canonicalize (realpath) each allowed base directory once. Each must exist
 * and be a directory. At least one is required.
 */
TP_EXPORT int tp_shm_allowlist_init(tp_shm_allowlist_t **out, const char *const *dirs, size_t count);

/** Free an allowlist (NULL is fine). */
TP_EXPORT int tp_shm_allowlist_close(tp_shm_allowlist_t *allowlist);

/** Number of directories of the allowlist. */
TP_EXPORT size_t tp_shm_allowlist_count(const tp_shm_allowlist_t *allowlist);

/** The `index`-th canonical directory of the allowlist (NULL if out of range). */
TP_EXPORT const char *tp_shm_allowlist_dir(const tp_shm_allowlist_t *allowlist, size_t index);

/**
 * Check an announced path: absolute, canonicalized with realpath, contained in
 * one allowed directory (on a component boundary), and a regular file. The
 * canonical path is stored in `canonical` (may be NULL). Fails with
 * TP_ERR_PERMISSION (outside / not regular) or TP_ERR_INVALID_ARGUMENT /
 * TP_ERR_NOT_FOUND.
 */
TP_EXPORT int tp_shm_allowlist_check(const tp_shm_allowlist_t *allowlist, const char *path, char *canonical,
    size_t canonical_len);

/**
 * tp_shm_allowlist_check(), then open the canonical path with
 * O_NOFOLLOW|O_CLOEXEC|O_NONBLOCK (read-only, or read-write when `writable`),
 * fstat the descriptor and require a regular file with the same st_dev/st_ino
 * as the checked path (TOCTOU guard). On success *fd_out owns the descriptor.
 */
TP_EXPORT int tp_shm_allowlist_open(const tp_shm_allowlist_t *allowlist, const char *path, bool writable,
    int *fd_out, char *canonical, size_t canonical_len);

/* ------------------------------------------------------------------------- */
/* Superblock (§7.1)                                                          */
/* ------------------------------------------------------------------------- */

/** Decoded ShmRegionSuperblock. */
typedef struct tp_shm_superblock_stct
{
    uint64_t magic;
    uint32_t layout_version;
    uint64_t epoch;
    uint32_t stream_id;
    int16_t region_type;
    uint16_t pool_id;
    uint32_t nslots;
    uint32_t slot_bytes;
    uint32_t stride_bytes;
    uint64_t pid;
    uint64_t start_timestamp_ns;
    uint64_t activity_timestamp_ns;
} tp_shm_superblock_t;

/** Encode every field into the first 64 bytes of `buf` (padding zeroed) through the SBE codec. */
TP_EXPORT int tp_shm_superblock_encode(uint8_t *buf, size_t len, const tp_shm_superblock_t *superblock);

/** Decode a 64-byte superblock (no validation). -1 if `len` < 64. */
TP_EXPORT int tp_shm_superblock_decode(const uint8_t *buf, size_t len, tp_shm_superblock_t *out);

/**
 * The parameters a region is expected to have, taken from the producer's
 * configuration or from a ShmPoolAnnounce.
 */
typedef struct tp_shm_region_params_stct
{
    tp_shm_region_type_t region_type;
    uint32_t layout_version;
    uint64_t epoch;
    uint32_t stream_id;
    uint16_t pool_id;      /**< 0 for the header ring */
    uint32_t nslots;       /**< power of two, > 0; pools use the header ring's nslots (§15.5) */
    uint32_t stride_bytes; /**< pools: payload stride, a multiple of 64; header ring: ignored */
} tp_shm_region_params_t;

/** Region size in bytes for `params` (64 + nslots * slot size); -1 on invalid params or overflow. */
TP_EXPORT int tp_shm_region_size(const tp_shm_region_params_t *params, uint64_t *size_out);

/** Validate params for creation or mapping (type, nslots power of two, stride multiple of 64, size). */
TP_EXPORT int tp_shm_region_params_validate(const tp_shm_region_params_t *params);

/**
 * Check the creation caps for one region: nslots <= TP_SHM_MAX_NSLOTS, a
 * pool's stride <= TP_SHM_MAX_STRIDE_BYTES, size <= `max_region_bytes` (0:
 * TP_SHM_DEFAULT_MAX_REGION_BYTES), after tp_shm_region_params_validate().
 * Stores the region size in *size_out (may be NULL).
 */
TP_EXPORT int tp_shm_region_check_caps(const tp_shm_region_params_t *params, uint64_t max_region_bytes,
    uint64_t *size_out);

/**
 * Producer, before creating anything: check a whole layout, a header ring of
 * `nslots` slots and one pool of `nslots` slots per `strides[i]`, against the
 * creation caps (tp_shm_region_check_caps), store the sum of the region sizes
 * in *total_out (may be NULL) and, when `dir` is not NULL, fail with TP_ERR_IO
 * if the file system holding `dir` has less free space than that total (the
 * message names the total, the directory and the free space). The free-space
 * check is advisory (space can vanish before the files are created);
 * tp_shm_region_create() enforces it per file.
 */
TP_EXPORT int tp_shm_layout_check(const char *dir, uint32_t nslots, const uint32_t *strides, size_t count,
    uint64_t max_region_bytes, uint64_t *total_out);

/**
 * A payload pool's superblock `slot_bytes` as written by some other
 * implementations ("not applicable"); 0 is also seen. We write the stride.
 */
#define TP_SHM_POOL_SLOT_BYTES_UNSET UINT32_C(0xFFFFFFFF)

/**
 * True when `slot_bytes` is acceptable in the superblock of a payload pool of
 * stride `stride_bytes`: the stride itself, 0, or TP_SHM_POOL_SLOT_BYTES_UNSET
 * (the spec leaves a pool's slot_bytes undefined; DECISIONS SHM-1).
 */
TP_EXPORT bool tp_shm_pool_slot_bytes_ok(uint32_t slot_bytes, uint32_t stride_bytes);

/**
 * Check a superblock against the expected parameters: magic, layout_version,
 * epoch, stream_id, region_type, pool_id (0 for the header ring), nslots,
 * slot_bytes (256 for the header ring; for a pool the stride, 0 or
 * 0xFFFFFFFF, see tp_shm_pool_slot_bytes_ok) and
 * stride_bytes (0 or 256 for the header ring, the stride for a pool). Fails
 * with TP_ERR_VALIDATION naming the first mismatching field and both values.
 */
TP_EXPORT int tp_shm_superblock_validate(const tp_shm_superblock_t *superblock,
    const tp_shm_region_params_t *expected);

/* ------------------------------------------------------------------------- */
/* Regions                                                                    */
/* ------------------------------------------------------------------------- */

/** A mapped header ring or payload pool (opaque). */
typedef struct tp_shm_region_stct tp_shm_region_t;

/** Options for tp_shm_region_create(); initialize with tp_shm_create_options_defaults(). */
typedef struct tp_shm_create_options_stct
{
    uint32_t file_mode;     /**< default 0600; 0660 for shared-group deployments */
    bool require_hugepages; /**< fail unless the file is on hugetlbfs; stride must be a hugepage multiple */
    bool prefault;          /**< zero every page after mapping (default true) */
    bool mlock;             /**< mlock the mapping; failure is an error (default false) */
    uint64_t pid;           /**< 0: getpid() */
    uint64_t start_timestamp_ns; /**< 0: tp_shm_activity_clock_ns() now (CLOCK_MONOTONIC) */
    uint64_t max_region_bytes;   /**< cap on the region size; 0: TP_SHM_DEFAULT_MAX_REGION_BYTES */
} tp_shm_create_options_t;

/** Fill `opts` with the defaults documented in tp_shm_create_options_t. */
TP_EXPORT void tp_shm_create_options_defaults(tp_shm_create_options_t *opts);

/**
 * Create a region file at `path` (must not exist: O_CREAT|O_EXCL|O_NOFOLLOW),
 * set its mode, size it, reserve its whole size in the file system
 * (posix_fallocate, or writing zeros where that is unsupported), map it
 * read-write and write the full superblock (magic last). `opts` NULL means
 * defaults.
 *
 * Refused before anything is created: nslots above TP_SHM_MAX_NSLOTS, a pool
 * stride above TP_SHM_MAX_STRIDE_BYTES, a region above
 * opts->max_region_bytes (TP_ERR_INVALID_ARGUMENT, naming the value and the
 * cap). Not enough space in the file system fails with TP_ERR_IO and a
 * message naming the size, the directory and its free space, and the file is
 * removed, instead of a SIGBUS on a later store into the mapping.
 */
TP_EXPORT int tp_shm_region_create(tp_shm_region_t **out, const char *path, const tp_shm_region_params_t *params,
    const tp_shm_create_options_t *opts);

/**
 * Map an announced region read-only as a consumer: path containment and
 * no-follow open (tp_shm_allowlist_open), file size checked against the
 * expected geometry, hugetlbfs verified when `require_hugepages`, superblock
 * validated with tp_shm_superblock_validate(). Fails closed: nothing stays
 * mapped on error.
 */
TP_EXPORT int tp_shm_region_map(tp_shm_region_t **out, const tp_shm_allowlist_t *allowlist, const char *path,
    const tp_shm_region_params_t *expected, bool require_hugepages);

/**
 * Producer attaching to regions created by someone else (the driver, driver
 * model spec): the same checks as tp_shm_region_map(), but the file is opened
 * and mapped read-write, so the slot writer and tp_shm_pool_payload() work on
 * it. The caller must be the single writer of the stream (§15.14).
 */
TP_EXPORT int tp_shm_region_map_writable(tp_shm_region_t **out, const tp_shm_allowlist_t *allowlist,
    const char *path, const tp_shm_region_params_t *expected, bool require_hugepages);

/** tp_shm_uri_parse() then tp_shm_region_map() with the URI's path and require_hugepages. */
TP_EXPORT int tp_shm_region_map_uri(tp_shm_region_t **out, const tp_shm_allowlist_t *allowlist, const char *uri,
    const tp_shm_region_params_t *expected);

/**
 * Map a region read-only for inspection without announced parameters: the
 * geometry comes from the file's own superblock, which must be
 * self-consistent (magic, region type, nslots power of two, slot/stride
 * bytes) and fit in the file. Containment is checked against the file's own
 * directory. Used by `tp shm inspect`; never trusts the contents further.
 */
TP_EXPORT int tp_shm_region_map_inspect(tp_shm_region_t **out, const char *path);

/**
 * Read the raw 64-byte superblock of a file without validating it (for tools:
 * shows what a rejected file contains). Containment is checked against the
 * file's own directory; the file must be a regular file of at least 64 bytes.
 */
TP_EXPORT int tp_shm_superblock_read_file(const char *path, tp_shm_superblock_t *out, uint64_t *file_size);

/** Unmap and close (NULL is fine). Does not unlink. */
TP_EXPORT int tp_shm_region_close(tp_shm_region_t *region);

/** Superblock snapshot taken at create/map time. */
TP_EXPORT const tp_shm_superblock_t *tp_shm_region_superblock(const tp_shm_region_t *region);

/** Base address of the mapping (read-only view). */
TP_EXPORT const uint8_t *tp_shm_region_base(const tp_shm_region_t *region);

/** Mapped length in bytes. */
TP_EXPORT size_t tp_shm_region_length(const tp_shm_region_t *region);

/** Canonical path of the backing file. */
TP_EXPORT const char *tp_shm_region_path(const tp_shm_region_t *region);

/** True when the region is mapped read-write (created here, or tp_shm_region_map_writable()). */
TP_EXPORT bool tp_shm_region_is_writable(const tp_shm_region_t *region);

/** True when the backing file is on hugetlbfs. */
TP_EXPORT bool tp_shm_region_is_hugepages(const tp_shm_region_t *region);

/**
 * The clock of the superblock's `start_timestamp_ns` and
 * `activity_timestamp_ns`: CLOCK_MONOTONIC in nanoseconds, the domain of the
 * spec's liveness rules and of the other implementations (DECISIONS SHM-5).
 * Judge a timestamp read from a region with tp_shm_activity_age_ns(), which
 * also understands older regions written with CLOCK_REALTIME.
 */
TP_EXPORT uint64_t tp_shm_activity_clock_ns(void);

/**
 * Producer: store `now_ns` (0: tp_shm_activity_clock_ns() now) into
 * activity_timestamp_ns (§7.1, §15.14). A single aligned 8-byte atomic store,
 * so concurrent readers never see a torn value. Fails on a read-only mapping.
 */
TP_EXPORT int tp_shm_region_refresh_activity(tp_shm_region_t *region, uint64_t now_ns);

/** Current activity_timestamp_ns (atomic load from the mapping). */
TP_EXPORT uint64_t tp_shm_region_activity_ns(const tp_shm_region_t *region);

/**
 * Check that `pool` may serve `ring` (§15.5): both mapped, right types, same
 * stream/epoch/layout and the same nslots.
 */
TP_EXPORT int tp_shm_pool_check_ring(const tp_shm_region_t *ring, const tp_shm_region_t *pool);

/* ------------------------------------------------------------------------- */
/* Header ring and payload addressing (§8.1, §9)                              */
/* ------------------------------------------------------------------------- */

/** slot_offset(i) = 64 + i * 256. */
static inline uint64_t tp_shm_slot_offset(uint32_t index)
{
    return (uint64_t)TP_SHM_SUPERBLOCK_SIZE + (uint64_t)index * TP_SHM_HEADER_SLOT_BYTES;
}

/** payload_slot_offset = 64 + slot * stride_bytes. */
static inline uint64_t tp_shm_payload_offset(uint32_t slot, uint32_t stride_bytes)
{
    return (uint64_t)TP_SHM_SUPERBLOCK_SIZE + (uint64_t)slot * stride_bytes;
}

/** header_index = seq & (nslots - 1) (nslots is a power of two). */
static inline uint32_t tp_shm_header_index(uint64_t seq, uint32_t nslots)
{
    return (uint32_t)(seq & (uint64_t)(nslots - 1u));
}

/** Decoded SlotHeader (seq_commit included as last read). */
typedef struct tp_shm_slot_header_stct
{
    uint64_t seq_commit;
    uint32_t values_len_bytes;
    uint32_t payload_slot;
    uint16_t pool_id;
    uint32_t payload_offset;
    uint64_t timestamp_ns;
    uint32_t meta_version;
    tp_tensor_header_t tensor;
} tp_shm_slot_header_t;

/**
 * Encode a full 256-byte slot into a private buffer: every SlotHeader field
 * (seq_commit with a plain store), zeroed padding, headerBytes length 192 and
 * the embedded TensorHeader. No layout checks; to write a live slot use
 * tp_shm_slot_write_begin/_header/_commit, which copy bytes 8..255 from this
 * encoding and manage seq_commit atomically.
 */
TP_EXPORT int tp_shm_slot_header_encode(uint8_t *slot, size_t len, const tp_shm_slot_header_t *header);

/**
 * Decode a 256-byte slot snapshot: SlotHeader fields (seq_commit with a plain
 * load) and the embedded TensorHeader with its length/schema/template/version
 * /blockLength checks. Returns TP_DROP_NONE or a TP_DROP_HEADER_* reason.
 */
TP_EXPORT tp_drop_reason_t tp_shm_slot_header_decode(const uint8_t *slot, size_t len, tp_shm_slot_header_t *out);

/**
 * Tools: take a consistent snapshot of header slot `index` (< nslots) without
 * an expected sequence: acquire load, copy, acquire fence, re-load (TP_DROP_LATE
 * if it changed), then decode into *out and check the tensor header. Returns
 * TP_DROP_NONE or the first rule the slot breaks; *out holds whatever could
 * be decoded.
 */
TP_EXPORT tp_drop_reason_t tp_shm_slot_read(const tp_shm_region_t *ring, uint32_t index, tp_shm_slot_header_t *out);

/** Producer: writable pointer to a payload slot of a writable pool mapping (NULL otherwise or out of range). */
TP_EXPORT uint8_t *tp_shm_pool_payload(tp_shm_region_t *pool, uint32_t slot);

/* ------------------------------------------------------------------------- */
/* Seqlock: producer side (§8.3, §15.18)                                      */
/* ------------------------------------------------------------------------- */

/**
 * Step 1: store seq_commit = (seq << 1) (in progress) with release, followed
 * by a release fence so that no later payload/header store can become
 * visible before it. Slot = seq & (nslots - 1). `ring` must be writable
 * (created here or mapped with tp_shm_region_map_writable()).
 */
TP_EXPORT int tp_shm_slot_write_begin(tp_shm_region_t *ring, uint64_t seq);

/**
 * Step 3: write the full slot header for `seq` (every byte except
 * seq_commit). Checks the tensor header with tp_tensor_header_check() and
 * that payload_slot == header_index, payload_offset == 0.
 */
TP_EXPORT int tp_shm_slot_write_header(tp_shm_region_t *ring, uint64_t seq, const tp_shm_slot_header_t *header);

/** Step 4: store seq_commit = (seq << 1) | 1 (committed) with release. */
TP_EXPORT int tp_shm_slot_write_commit(tp_shm_region_t *ring, uint64_t seq);

/* ------------------------------------------------------------------------- */
/* Seqlock: consumer side (§8.3, §15.3, §15.21)                               */
/* ------------------------------------------------------------------------- */

/**
 * Low level: acquire-load seq_commit of the slot for `expected_seq` and check
 * it is committed and equal to the expected sequence. On TP_DROP_NONE,
 * *token holds the observed value for tp_shm_seqlock_read_end().
 */
TP_EXPORT tp_drop_reason_t tp_shm_seqlock_read_begin(const tp_shm_region_t *ring, uint64_t expected_seq,
    uint64_t *token);

/**
 * Low level: after reading, an acquire fence then a re-load of seq_commit;
 * TP_DROP_NONE if it still equals `token`, TP_DROP_LATE otherwise.
 */
TP_EXPORT tp_drop_reason_t tp_shm_seqlock_read_end(const tp_shm_region_t *ring, uint64_t expected_seq,
    uint64_t token);

/** A zero-copy frame view. Valid only until tp_shm_frame_end() says otherwise. */
typedef struct tp_shm_frame_view_stct
{
    uint64_t seq;
    uint64_t seq_commit;        /**< value observed by tp_shm_frame_begin() */
    uint32_t header_index;
    tp_shm_slot_header_t header; /**< validated snapshot of the slot header (dims/strides beyond ndims read as 0) */
    uint64_t extent_bytes;       /**< tensor extent implied by dims/strides */
    const uint8_t *payload;      /**< into the pool mapping; NULL when values_len_bytes == 0 */
    const tp_shm_region_t *ring;
    const tp_shm_region_t *pool;
} tp_shm_frame_view_t;

/**
 * Begin a zero-copy read of frame `seq`: seqlock begin, decode the slot's
 * fields, acquire fence and re-check (so the decoded header is a consistent
 * snapshot; a torn read is TP_DROP_LATE), then validate it (embedded
 * header, tensor rules, payload_offset == 0, pool_id among `pools`,
 * payload_slot == header_index < pool nslots,
 * values_len_bytes <= stride_bytes), and point view->payload at the payload.
 * The payload may still be overwritten while the application reads it: call
 * tp_shm_frame_end() after reading and discard what was read unless it
 * returns TP_DROP_NONE. No allocation, no system call, no error state.
 */
TP_EXPORT tp_drop_reason_t tp_shm_frame_begin(const tp_shm_region_t *ring, const tp_shm_region_t *const *pools,
    size_t pool_count, uint64_t seq, tp_shm_frame_view_t *view);

/** Re-check after reading a view: TP_DROP_NONE if the frame was stable the whole time, else TP_DROP_LATE. */
TP_EXPORT tp_drop_reason_t tp_shm_frame_end(const tp_shm_frame_view_t *view);

/**
 * Copy-out read: tp_shm_frame_begin(), copy values_len_bytes of payload into
 * `dst` (TP_DROP_BUFFER_TOO_SMALL if `dst_len` is smaller), then
 * tp_shm_frame_end(). The copy is valid only on TP_DROP_NONE. view->payload is
 * left pointing into SHM; use `dst`.
 */
TP_EXPORT tp_drop_reason_t tp_shm_frame_read_copy(const tp_shm_region_t *ring, const tp_shm_region_t *const *pools,
    size_t pool_count, uint64_t seq, tp_shm_frame_view_t *view, void *dst, size_t dst_len);

#ifdef __cplusplus
}
#endif

#endif /* TENSOR_POOL_TP_SHM_H */
