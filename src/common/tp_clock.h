/* Internal clocks. */
#ifndef TP_COMMON_TP_CLOCK_H
#define TP_COMMON_TP_CLOCK_H

#include <stdint.h>
#include <time.h>

/** CLOCK_MONOTONIC in nanoseconds. */
static inline uint64_t tp_clock_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}

/** CLOCK_REALTIME in nanoseconds since the Unix epoch. */
static inline uint64_t tp_clock_realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}

/** Sleep for the given number of nanoseconds (restarts on EINTR). */
void tp_sleep_ns(uint64_t ns);

#endif
