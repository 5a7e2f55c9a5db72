/* Internal definitions shared by the shm sources. */
#ifndef TP_SHM_TP_SHM_INTERNAL_H
#define TP_SHM_TP_SHM_INTERNAL_H

#include <limits.h>
#include <stdatomic.h>

#include "tensor_pool/tp_shm.h"

/* Wire §15.1: little-endian hosts only (no byte swapping in v1.2). */
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "tensorpool SHM layout is little-endian only (wire spec §15.1): big-endian hosts are not supported"
#endif

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free for the SHM seqlock");
_Static_assert(sizeof(unsigned long long) == sizeof(uint64_t), "unsigned long long must be 64-bit");

struct tp_shm_region_stct
{
    uint8_t *base;
    size_t length;       /* mapped bytes */
    uint64_t used_bytes; /* 64 + nslots * slot size */
    int fd;
    bool writable;
    bool hugepages;
    uint64_t page_size; /* hugepage size on hugetlbfs, else the system page size */
    tp_shm_region_type_t type;
    uint32_t nslots;
    uint32_t slot_bytes;   /* 256 for the ring, the stride for a pool */
    uint32_t stride_bytes; /* pool stride; 0 for the ring */
    tp_shm_superblock_t superblock;
    char path[PATH_MAX];
};

/*
 * Open `rel` (a relative path with no "." or ".." components) beneath the
 * directory `dir` with `flags`, refusing any symlink anywhere on the way and
 * any escape from `dir` (openat2 with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
 * RESOLVE_NO_MAGICLINKS). Returns the descriptor, or -1 with errno set;
 * errno ENOSYS means the kernel has no openat2 (the caller falls back to
 * O_NOFOLLOW plus the dev/inode identity check).
 */
int tp_shm_open_beneath(const char *dir, const char *rel, int flags);

/*
 * tp_tensor.c: the 192-byte embedded TensorHeader written field by field
 * (ndims <= TP_MAX_DIMS is the caller's precondition; unused dims/strides and
 * the padding are written as zeros).
 */
void tp_tensor_header_encode_raw(const tp_tensor_header_t *header, uint8_t *buf);

/*
 * tp_tensor.c: tp_tensor_header_decode of a 192-byte embedded TensorHeader
 * that reads only the dims/strides in use (the first min(ndims, 8)); the
 * others are 0 in *out. Every rule of tp_tensor_header_check looks at those
 * only, and a 1-3-D header then stays within the slot's first two cache
 * lines (the frame path's seqlock read touches fewer lines the producer just
 * wrote).
 */
tp_drop_reason_t tp_tensor_header_decode_used(const uint8_t *buf, tp_tensor_header_t *out);

/* The seq_commit word of a header slot (8-byte aligned: base is page aligned, 64 + i*256). */
static inline _Atomic uint64_t *tp_shm_seq_word(uint8_t *slot)
{
    return (_Atomic uint64_t *)(void *)slot;
}

static inline const _Atomic uint64_t *tp_shm_seq_word_const(const uint8_t *slot)
{
    return (const _Atomic uint64_t *)(const void *)slot;
}

#endif
