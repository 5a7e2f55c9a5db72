/*
 * Library-internal API of the shm layer: what the other layers of
 * libtensorpool (the client) need beyond the public tensor_pool/tp_shm.h,
 * without exposing the region struct (tp_shm_internal.h stays private to
 * src/shm). Not installed, not exported.
 */
#ifndef TP_SHM_TP_SHM_LIB_H
#define TP_SHM_TP_SHM_LIB_H

#include <stdint.h>

#include "tensor_pool/tp_shm.h"

/**
 * Whether `path` names the file `region` maps (same device and inode).
 * Returns 1 same file, 0 another file (or the region's file cannot be
 * examined), -1 when `path` itself cannot be examined (e.g. removed).
 */
int tp_shm_region_same_file(const tp_shm_region_t *region, const char *path);

/**
 * The seq_commit word of header slot `index` of `ring` (acquire load): bit 0
 * set = committed, the upper 63 bits the seq (wire spec §15.18). `index`
 * must be below the ring's nslots.
 */
uint64_t tp_shm_slot_seq_commit_load(const tp_shm_region_t *ring, uint32_t index);

#endif
