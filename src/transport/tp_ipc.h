/*
 * Embedded IPC backend (aeron:ipc): one shared-memory log file per stream id
 * in the transport directory. Format and protocol: docs/TRANSPORT.md.
 */
#ifndef TP_TRANSPORT_TP_IPC_H
#define TP_TRANSPORT_TP_IPC_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "transport/tp_transport_internal.h"

#define TP_IPC_MAGIC UINT64_C(0x31474f4c43504954) /* "TIPCLOG1" little endian */
#define TP_IPC_VERSION 1u
#define TP_IPC_HEADER_LENGTH 16384u
#define TP_IPC_MAX_PUBLISHERS 64u
#define TP_IPC_MAX_SUBSCRIBERS 64u
#define TP_IPC_FRAME_ALIGNMENT 32u
#define TP_IPC_FRAME_HEADER_LENGTH 32u
#define TP_IPC_DEFAULT_TERM_LENGTH (UINT64_C(4) * 1024 * 1024)
#define TP_IPC_MIN_TERM_LENGTH (UINT64_C(64) * 1024)
#define TP_IPC_MAX_TERM_LENGTH (UINT64_C(1024) * 1024 * 1024)
#define TP_IPC_DEFAULT_MTU 1408u
#define TP_IPC_FRAME_TYPE_PAD 0u
#define TP_IPC_FRAME_TYPE_DATA 1u

#define TP_IPC_SLOT_FREE 0u
#define TP_IPC_SLOT_CLAIMING 1u /* low 2 bits; the claiming process's pid is in bits 2..31 */
#define TP_IPC_SLOT_ACTIVE 2u

/* Subscriber slot `tethered` values. */
#define TP_IPC_UNTETHERED 0u          /* tether=false: never holds publishers back */
#define TP_IPC_TETHERED 1u            /* holds publishers back (flow control) */
#define TP_IPC_UNTETHERED_TIMEOUT 2u  /* tethered, but untethered by a publisher after the tether timeout */

/** Publisher or subscriber slot (64 bytes) in the log header. */
typedef struct tp_ipc_slot_stct
{
    _Atomic uint32_t state;
    _Atomic uint32_t pid;
    _Atomic int32_t session_id;
    _Atomic uint32_t tethered;
    _Atomic uint64_t heartbeat_ns;  /* CLOCK_MONOTONIC of the owner's last heartbeat */
    _Atomic uint64_t position;      /* subscriber: consumed position */
    _Atomic uint64_t generation;    /* unique per registration */
    _Atomic uint64_t join_time_ns;
    _Atomic uint64_t tether_timeout_ns; /* subscriber: untether after holding publishers back this long; 0 = never */
    uint8_t pad[8];
} tp_ipc_slot_t;

/** Log file header (TP_IPC_HEADER_LENGTH bytes; the ring follows). */
typedef struct tp_ipc_log_header_stct
{
    uint64_t magic;
    uint32_t version;
    uint32_t header_length;
    uint64_t term_length;
    uint32_t max_publishers;
    uint32_t max_subscribers;
    int32_t stream_id;
    uint32_t frame_alignment;
    uint64_t creation_time_ns;
    _Atomic int32_t next_session_id;
    uint32_t pad0;
    _Atomic uint64_t next_generation;
    _Atomic uint64_t slot_epoch;    /* offset 64: bumped whenever a slot is taken, released or reaped */
    uint8_t pad1[56];
    _Atomic uint64_t tail;          /* offset 128: next position to claim */
    uint8_t pad2[120];
    tp_ipc_slot_t publishers[TP_IPC_MAX_PUBLISHERS];   /* offset 256 */
    tp_ipc_slot_t subscribers[TP_IPC_MAX_SUBSCRIBERS]; /* offset 4352 */
} tp_ipc_log_header_t;

/** Frame header (32 bytes), frames aligned to 32 bytes, never wrapping. */
typedef struct tp_ipc_frame_header_stct
{
    _Atomic int32_t frame_length;   /* header + payload; 0 until committed (release store, last) */
    uint8_t version;
    uint8_t flags;
    uint16_t type;                  /* TP_IPC_FRAME_TYPE_DATA or _PAD */
    _Atomic int64_t position;       /* stream position of this frame: tells laps apart */
    _Atomic int32_t session_id;
    _Atomic int32_t claimed_length; /* aligned length claimed; lets readers skip a dead writer's frame */
    int64_t reserved_value;
} tp_ipc_frame_header_t;

/** Create an IPC publication on the (already parsed) channel; fills pub. Returns 0 or -1. */
int tp_ipc_publication_open(tp_transport_t *t, const tp_uri_t *uri, int32_t stream_id, tp_publication_t *pub);

/** Create an IPC subscription; fills sub. Returns 0 or -1. */
int tp_ipc_subscription_open(tp_transport_t *t, const tp_uri_t *uri, int32_t stream_id, tp_subscription_t *sub);

/**
 * Remove IPC logs in `dir` that no live publisher or subscriber uses
 * (dead slots are reaped first). Corrupt logs are left alone (logged).
 * Returns the number of logs removed, or -1 if the directory cannot be read.
 */
int tp_ipc_cleanup_dir(const char *dir, uint64_t liveness_timeout_ns);

/** Path of the log of `stream_id` in `dir`. Returns 0 or -1 if too long. */
int tp_ipc_log_path(char *buf, size_t len, const char *dir, int32_t stream_id);

#endif
