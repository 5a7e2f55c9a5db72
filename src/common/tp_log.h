/*
 * Internal logging. Level from TP_LOG_LEVEL (error, warn, info, debug, trace;
 * default warn); TP_LOG_MODULES restricts output to a comma-separated list of
 * modules (e.g. "shm,transport"; default all). Output goes to stderr unless a
 * handler is installed with tp_log_set_handler().
 */
#ifndef TP_COMMON_TP_LOG_H
#define TP_COMMON_TP_LOG_H

#include "tensor_pool/tp_log.h"

/** Whether a message at `level` for `module` would be emitted. */
bool tp_log_enabled(tp_log_level_t level, const char *module);

/** Emit a log line (use the TP_LOG macro instead). */
void tp_log_write(tp_log_level_t level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define TP_LOG(level, module, ...) \
    do \
    { \
        if (tp_log_enabled((level), (module))) \
        { \
            tp_log_write((level), (module), __VA_ARGS__); \
        } \
    } \
    while (0)

/**
 * Rate limiter for repetitive log lines (one per condition per owner, e.g.
 * per consumer and reject reason). Not thread-safe: owned by one thread.
 * Zero-initialise it.
 */
typedef struct tp_log_limiter_stct
{
    uint64_t next_ns;     /* earliest time of the next line (0: none logged yet) */
    uint64_t suppressed;  /* lines suppressed since the last one logged */
} tp_log_limiter_t;

/** Default interval of rate-limited lines: at most one per second. */
#define TP_LOG_LIMIT_INTERVAL_NS (UINT64_C(1000000000))

/**
 * Log at most one line per `interval_ns` through `limiter`; a line that
 * follows suppressed ones says how many were suppressed ("; N more since the
 * last report"). Returns true when the line was written. Only a level check
 * when `level` is disabled.
 */
bool tp_log_write_limited(tp_log_limiter_t *limiter, uint64_t interval_ns, tp_log_level_t level, const char *module,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#define TP_LOG_ERROR(module, ...) TP_LOG(TP_LOG_LEVEL_ERROR, module, __VA_ARGS__)
#define TP_LOG_WARN(module, ...) TP_LOG(TP_LOG_LEVEL_WARN, module, __VA_ARGS__)
#define TP_LOG_INFO(module, ...) TP_LOG(TP_LOG_LEVEL_INFO, module, __VA_ARGS__)
#define TP_LOG_DEBUG(module, ...) TP_LOG(TP_LOG_LEVEL_DEBUG, module, __VA_ARGS__)

#endif
