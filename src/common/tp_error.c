#include "common/tp_error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local int tp_tls_errcode = TP_OK;
static _Thread_local char tp_tls_errmsg[TP_ERRMSG_MAX];

int tp_errcode(void)
{
    return tp_tls_errcode;
}

const char *tp_errmsg(void)
{
    return tp_tls_errmsg;
}

void tp_err_clear(void)
{
    tp_tls_errcode = TP_OK;
    tp_tls_errmsg[0] = '\0';
}

int tp_err_set(int code, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    vsnprintf(tp_tls_errmsg, sizeof(tp_tls_errmsg), fmt, args);
    va_end(args);
    tp_tls_errcode = code;
    return -1;
}

int tp_err_set_errno(int errnum, const char *fmt, ...)
{
    char buf[TP_ERRMSG_MAX];
    va_list args;
    va_start(args, fmt);
    vsnprintf(buf, sizeof(buf), fmt, args);
    va_end(args);

    int code = TP_ERR_IO;
    switch (errnum)
    {
        case EACCES:
        case EPERM:
            code = TP_ERR_PERMISSION;
            break;
        case ENOENT:
            code = TP_ERR_NOT_FOUND;
            break;
        case ENOMEM:
            code = TP_ERR_NO_MEMORY;
            break;
        default:
            break;
    }
    snprintf(tp_tls_errmsg, sizeof(tp_tls_errmsg), "%s: %s", buf, strerror(errnum));
    tp_tls_errcode = code;
    return -1;
}

int tp_err_prepend(const char *fmt, ...)
{
    char prefix[TP_ERRMSG_MAX];
    char old[TP_ERRMSG_MAX];
    va_list args;
    va_start(args, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, args);
    va_end(args);
    memcpy(old, tp_tls_errmsg, sizeof(old));
    snprintf(tp_tls_errmsg, sizeof(tp_tls_errmsg), "%s: %s", prefix, old);
    return -1;
}

const char *tp_error_code_name(int code)
{
    switch (code)
    {
        case TP_OK: return "TP_OK";
        case TP_ERR_INVALID_ARGUMENT: return "TP_ERR_INVALID_ARGUMENT";
        case TP_ERR_NO_MEMORY: return "TP_ERR_NO_MEMORY";
        case TP_ERR_IO: return "TP_ERR_IO";
        case TP_ERR_MALFORMED: return "TP_ERR_MALFORMED";
        case TP_ERR_PERMISSION: return "TP_ERR_PERMISSION";
        case TP_ERR_NOT_FOUND: return "TP_ERR_NOT_FOUND";
        case TP_ERR_STATE: return "TP_ERR_STATE";
        case TP_ERR_TIMEOUT: return "TP_ERR_TIMEOUT";
        case TP_ERR_UNSUPPORTED: return "TP_ERR_UNSUPPORTED";
        case TP_ERR_VALIDATION: return "TP_ERR_VALIDATION";
        case TP_ERR_CONFIG: return "TP_ERR_CONFIG";
        case TP_ERR_CLOSED: return "TP_ERR_CLOSED";
        case TP_ERR_WOULD_BLOCK: return "TP_ERR_WOULD_BLOCK";
        default: return "TP_ERR_UNKNOWN";
    }
}

const char *tp_version(void)
{
#define TP_STR2(x) #x
#define TP_STR(x) TP_STR2(x)
    return TP_STR(TP_VERSION_MAJOR) "." TP_STR(TP_VERSION_MINOR) "." TP_STR(TP_VERSION_PATCH);
}
