/* tensorpool: logging configuration. */
#ifndef TENSOR_POOL_TP_LOG_H
#define TENSOR_POOL_TP_LOG_H

#include "tensor_pool/tp_common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tp_log_level_enum
{
    TP_LOG_LEVEL_OFF = 0,
    TP_LOG_LEVEL_ERROR = 1,
    TP_LOG_LEVEL_WARN = 2,
    TP_LOG_LEVEL_INFO = 3,
    TP_LOG_LEVEL_DEBUG = 4,
    TP_LOG_LEVEL_TRACE = 5
} tp_log_level_t;

/** Log handler: receives the level, the module name and the formatted line. */
typedef void (*tp_log_handler_t)(void *clientd, tp_log_level_t level, const char *module, const char *line);

/** Set the global log level (overrides TP_LOG_LEVEL). */
TP_EXPORT void tp_log_set_level(tp_log_level_t level);

/** Current global log level. */
TP_EXPORT tp_log_level_t tp_log_level(void);

/** Install a handler (NULL restores the stderr default). Not thread-safe against concurrent logging. */
TP_EXPORT void tp_log_set_handler(tp_log_handler_t handler, void *clientd);

/** Parse a level name ("error", "warn", "info", "debug", "trace", "off"); -1 if unknown. */
TP_EXPORT int tp_log_level_parse(const char *name);

#ifdef __cplusplus
}
#endif

#endif
