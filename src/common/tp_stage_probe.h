/*
 * Per-stage timestamps of the frame path, for `tp_bench_client --stages`
 * only. Compiled in with the CMake option TP_STAGE_PROBES=ON (a separate
 * build directory); in every other build TP_STAGE_MARK() expands to nothing,
 * so the production hot path carries no instrumentation at all.
 *
 * Each mark stores the time-stamp counter (x86-64: rdtsc; elsewhere
 * CLOCK_MONOTONIC in ns) of the last time a stage was passed, one slot per
 * stage, relaxed. The benchmark keeps one frame in flight (ping-pong), so the
 * slots describe that frame once its callback has run; the bench converts
 * ticks to ns with its own calibration.
 */
#ifndef TP_COMMON_TP_STAGE_PROBE_H
#define TP_COMMON_TP_STAGE_PROBE_H

#include <stdatomic.h>
#include <stdint.h>

#include "common/tp_clock.h"

/** Stages, in the order a frame passes them. */
typedef enum
{
    TP_STAGE_P_SLOT = 0,     /* producer: payload in the slot, header prepared (claim path: commit called) */
    TP_STAGE_P_DESC_CLAIM,   /* producer: descriptor space claimed on the descriptor publication */
    TP_STAGE_P_SEQLOCK,      /* producer: slot header written and seq_commit committed */
    TP_STAGE_P_DESC_COMMIT,  /* producer: descriptor written and committed on the transport */
    TP_STAGE_C_SEEN,         /* transport poll: the frame is visible at the subscriber's position */
    TP_STAGE_C_DELIVERED,    /* transport poll: copied and checked, handed to the fragment handler */
    TP_STAGE_C_DESC_OK,      /* consumer: descriptor decoded, stream/epoch/seq checks passed */
    TP_STAGE_C_SLOT_OK,      /* consumer: seqlock read and slot validated, frame view ready */
    TP_STAGE_COUNT
} tp_stage_t;

/** Time-stamp counter (x86-64) or CLOCK_MONOTONIC ns. */
static inline uint64_t tp_stage_ticks(void)
{
#if defined(__x86_64__)
    return __builtin_ia32_rdtsc();
#else
    return tp_clock_mono_ns();
#endif
}

#if defined(TP_STAGE_PROBES)
extern _Atomic uint64_t tp_stage_probe_ticks[TP_STAGE_COUNT];
#define TP_STAGE_MARK(stage) \
    atomic_store_explicit(&tp_stage_probe_ticks[(stage)], tp_stage_ticks(), memory_order_relaxed)
#else
#define TP_STAGE_MARK(stage) ((void)0)
#endif

/** Whether this build records stage marks (TP_STAGE_PROBES). */
int tp_stage_probes_enabled(void);
/** The last mark of `stage` (0 when never passed or not compiled in). */
uint64_t tp_stage_probe_get(tp_stage_t stage);
/** Clear every mark. */
void tp_stage_probe_reset(void);

#endif
