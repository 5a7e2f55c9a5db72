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

/**
 * Producer hot path: steps 3 and 4 of the seqlock in one call, for a header
 * the caller built and validated itself: write every byte of the slot for
 * `seq` but seq_commit (the same bytes as tp_shm_slot_write_header), then
 * store seq_commit = (seq << 1) | 1 with release. Preconditions, not checked
 * here (a ring that is not writable is left untouched, never a crash):
 * `ring` is a writable header ring, tp_shm_slot_write_begin(ring, seq)
 * succeeded, header->payload_slot == header_index(seq), payload_offset == 0
 * and the tensor header passes tp_tensor_header_check() for
 * values_len_bytes (the producer checks the application's header once, at
 * offer/commit).
 */
void tp_shm_slot_publish(tp_shm_region_t *ring, uint64_t seq, const tp_shm_slot_header_t *header);

#endif
