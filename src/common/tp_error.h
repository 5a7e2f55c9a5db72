/* Internal error helpers: set the thread-local error state. */
#ifndef TP_COMMON_TP_ERROR_H
#define TP_COMMON_TP_ERROR_H

#include "tensor_pool/tp_common.h"

#define TP_ERRMSG_MAX 512

/**
 * Set the calling thread's error code and a printf-style message.
 * Always returns -1 so callers can write `return tp_err_set(...);`.
 */
int tp_err_set(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/**
 * Like tp_err_set() for a failed system call: appends ": <strerror(errnum)>"
 * and maps common errno values (EACCES, EPERM, ENOENT, ENOMEM) to codes.
 */
int tp_err_set_errno(int errnum, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/**
 * Prefix the current message with more context ("context: previous message"),
 * keeping the code. Returns -1.
 */
int tp_err_prepend(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
