/*
 * tensorpool: common definitions shared by every public header.
 *
 * Error model (as in the Aeron C client): functions return 0 (or a count) on
 * success and -1 on failure; the failure reason is then available from
 * tp_errcode() and tp_errmsg(), which are thread-local and valid until the
 * next failing call on the same thread.
 *
 * Naming (as in the Aeron C client): `tp_x_init(tp_x_t **out, ...)`
 * allocates an object that `tp_x_close()` releases; `tp_x_defaults(&s)`
 * fills a caller-owned configuration struct with its defaults.
 */
#ifndef TENSOR_POOL_TP_COMMON_H
#define TENSOR_POOL_TP_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(TP_BUILDING_LIBRARY)
#define TP_EXPORT __attribute__((visibility("default")))
#else
#define TP_EXPORT
#endif

#define TP_VERSION_MAJOR 0
#define TP_VERSION_MINOR 1
#define TP_VERSION_PATCH 0

/** Error codes reported by tp_errcode(). */
typedef enum tp_error_code_enum
{
    TP_OK = 0,
    TP_ERR_INVALID_ARGUMENT = 1, /**< a caller-supplied argument is invalid */
    TP_ERR_NO_MEMORY = 2,        /**< allocation failed */
    TP_ERR_IO = 3,               /**< a system call failed (message carries errno text) */
    TP_ERR_MALFORMED = 4,        /**< malformed input: message, URI, config, SHM contents */
    TP_ERR_PERMISSION = 5,       /**< access denied or path outside the allowed directories */
    TP_ERR_NOT_FOUND = 6,        /**< a named resource does not exist */
    TP_ERR_STATE = 7,            /**< the object is not in a state that allows the call */
    TP_ERR_TIMEOUT = 8,          /**< a bounded wait expired */
    TP_ERR_UNSUPPORTED = 9,      /**< the request needs a feature that is not available */
    TP_ERR_VALIDATION = 10,      /**< a shared-memory region failed validation (fail closed) */
    TP_ERR_CONFIG = 11,          /**< configuration error */
    TP_ERR_CLOSED = 12,          /**< the resource was closed */
    TP_ERR_WOULD_BLOCK = 13      /**< a transient condition; retry later */
} tp_error_code_t;

/** Last error code of the calling thread (TP_OK when none). */
TP_EXPORT int tp_errcode(void);

/** Last error message of the calling thread ("" when none). Never NULL. */
TP_EXPORT const char *tp_errmsg(void);

/** Clear the calling thread's error state. */
TP_EXPORT void tp_err_clear(void);

/** Name of an error code, e.g. "TP_ERR_MALFORMED". */
TP_EXPORT const char *tp_error_code_name(int code);

/** Library version string, e.g. "0.1.0". */
TP_EXPORT const char *tp_version(void);

#ifdef __cplusplus
}
#endif

#endif /* TENSOR_POOL_TP_COMMON_H */
