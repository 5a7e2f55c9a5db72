#include "common/tp_clock.h"

#include <errno.h>

void tp_sleep_ns(uint64_t ns)
{
    struct timespec req = { .tv_sec = (time_t)(ns / 1000000000ULL), .tv_nsec = (long)(ns % 1000000000ULL) };
    struct timespec rem;
    while (0 != nanosleep(&req, &rem) && EINTR == errno)
    {
        req = rem;
    }
}
