/*
 * Idle strategies (internal), as in Agrona/Aeron: a duty-cycle loop calls
 * tp_idle_strategy_idle(s, work_count) after each cycle; the strategy does
 * nothing when work was done and otherwise spins, yields, sleeps or backs off.
 * A strategy instance holds state and is used by one thread.
 */
#ifndef TP_COMMON_TP_IDLE_STRATEGY_H
#define TP_COMMON_TP_IDLE_STRATEGY_H

#include <stdint.h>

typedef enum tp_idle_strategy_type_enum
{
    TP_IDLE_BUSY_SPIN = 0, /**< spin with a CPU pause hint: lowest latency, burns a core */
    TP_IDLE_YIELD = 1,     /**< sched_yield() when idle */
    TP_IDLE_SLEEP = 2,     /**< sleep a fixed period when idle */
    TP_IDLE_BACKOFF = 3,   /**< spin, then yield, then sleep with exponential growth */
    TP_IDLE_NOOP = 4       /**< do nothing (caller handles idling) */
} tp_idle_strategy_type_t;

typedef struct tp_idle_strategy_stct
{
    tp_idle_strategy_type_t type;
    uint64_t sleep_ns;     /**< TP_IDLE_SLEEP period */
    uint64_t max_spins;    /**< backoff: spins before yielding */
    uint64_t max_yields;   /**< backoff: yields before sleeping */
    uint64_t min_park_ns;  /**< backoff: first sleep */
    uint64_t max_park_ns;  /**< backoff: longest sleep */
    /* backoff state */
    uint64_t spins;
    uint64_t yields;
    uint64_t park_ns;
} tp_idle_strategy_t;

/** Busy spin. */
void tp_idle_strategy_init_busy_spin(tp_idle_strategy_t *s);
/** sched_yield() when idle. */
void tp_idle_strategy_init_yield(tp_idle_strategy_t *s);
/** Sleep `sleep_ns` when idle. */
void tp_idle_strategy_init_sleeping(tp_idle_strategy_t *s, uint64_t sleep_ns);
/** Backoff: `max_spins` spins, `max_yields` yields, then sleeps doubling from min to max park. */
void tp_idle_strategy_init_backoff(
    tp_idle_strategy_t *s, uint64_t max_spins, uint64_t max_yields, uint64_t min_park_ns, uint64_t max_park_ns);
/** No-op strategy. */
void tp_idle_strategy_init_noop(tp_idle_strategy_t *s);

/**
 * Initialise from a name: "busy_spin" (or "spin"), "yield", "noop", "backoff",
 * "sleep" (1 ms) or "sleep:<n>{ns,us,ms}". Returns 0, or -1 (TP_ERR_CONFIG)
 * listing the accepted names.
 */
int tp_idle_strategy_init_from_name(tp_idle_strategy_t *s, const char *name);

/** Idle according to the strategy if `work_count <= 0`, otherwise reset it. */
void tp_idle_strategy_idle(tp_idle_strategy_t *s, int work_count);

/** Reset backoff state (called automatically when work was done). */
void tp_idle_strategy_reset(tp_idle_strategy_t *s);

/** CPU pause/yield hint for spin loops. */
static inline void tp_cpu_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#else
    __asm__ __volatile__("" ::: "memory");
#endif
}

#endif
