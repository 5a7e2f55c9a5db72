#include "transport/aeron/tp_aeron_error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "aeronc.h"
#include "common/tp_error.h"

/* Aeron's control-protocol error codes (command/aeron_control_protocol.h), negated by the client. */
#define TP_AERON_DRIVER_INVALID_CHANNEL (-1)
#define TP_AERON_DRIVER_UNKNOWN_SUBSCRIPTION (-2)
#define TP_AERON_DRIVER_UNKNOWN_PUBLICATION (-3)
#define TP_AERON_DRIVER_CHANNEL_ENDPOINT_ERROR (-4)
#define TP_AERON_DRIVER_UNKNOWN_COUNTER (-5)
#define TP_AERON_DRIVER_NOT_SUPPORTED (-8)
#define TP_AERON_DRIVER_UNKNOWN_HOST (-9)
#define TP_AERON_DRIVER_RESOURCE_TEMPORARILY_UNAVAILABLE (-10)
#define TP_AERON_DRIVER_GENERIC_ERROR (-11)
#define TP_AERON_DRIVER_STORAGE_SPACE (-12)
#define TP_AERON_DRIVER_IMAGE_REJECTED (-13)
#define TP_AERON_DRIVER_PUBLICATION_REVOKED (-14)

int tp_aeron_map_errcode(int aeron_code)
{
    switch (aeron_code)
    {
        case TP_AERON_DRIVER_INVALID_CHANNEL:
            return TP_ERR_MALFORMED;
        case TP_AERON_DRIVER_UNKNOWN_SUBSCRIPTION:
        case TP_AERON_DRIVER_UNKNOWN_PUBLICATION:
        case TP_AERON_DRIVER_UNKNOWN_COUNTER:
        case ENOENT:
            return TP_ERR_NOT_FOUND;
        case TP_AERON_DRIVER_NOT_SUPPORTED:
            return TP_ERR_UNSUPPORTED;
        case TP_AERON_DRIVER_UNKNOWN_HOST:
            return TP_ERR_CONFIG;
        case TP_AERON_DRIVER_RESOURCE_TEMPORARILY_UNAVAILABLE:
        case AERON_CLIENT_ERROR_BUFFER_FULL:
        case EAGAIN:
            return TP_ERR_WOULD_BLOCK;
        case TP_AERON_DRIVER_IMAGE_REJECTED:
        case TP_AERON_DRIVER_PUBLICATION_REVOKED:
            return TP_ERR_CLOSED;
        case AERON_CLIENT_ERROR_DRIVER_TIMEOUT:
        case AERON_CLIENT_ERROR_CLIENT_TIMEOUT:
        case AERON_CLIENT_ERROR_CONDUCTOR_SERVICE_TIMEOUT:
        case ETIMEDOUT:
            return TP_ERR_TIMEOUT;
        case EACCES:
        case EPERM:
            return TP_ERR_PERMISSION;
        case ENOMEM:
            return TP_ERR_NO_MEMORY;
        case EINVAL:
            return TP_ERR_INVALID_ARGUMENT;
        case TP_AERON_DRIVER_CHANNEL_ENDPOINT_ERROR:
        case TP_AERON_DRIVER_STORAGE_SPACE:
        default:
            return TP_ERR_IO;
    }
}

int tp_aeron_err_set(const char *fmt, ...)
{
    char context[TP_ERRMSG_MAX];
    char detail[TP_ERRMSG_MAX];
    va_list args;
    va_start(args, fmt);
    vsnprintf(context, sizeof(context), fmt, args);
    va_end(args);

    int aeron_code = aeron_errcode();
    const char *msg = aeron_errmsg();
    /* Aeron stacks messages one per line ("[func, file:line] text"): fold them. */
    size_t n = 0;
    for (const char *p = (NULL == msg ? "" : msg); '\0' != *p && n + 1 < sizeof(detail); p++)
    {
        char c = ('\n' == *p || '\r' == *p) ? ' ' : *p;
        if (' ' == c && (0 == n || ' ' == detail[n - 1]))
        {
            continue;
        }
        detail[n++] = c;
    }
    while (n > 0 && ' ' == detail[n - 1])
    {
        n--;
    }
    detail[n] = '\0';
    int code = tp_aeron_map_errcode(aeron_code);
    if (TP_AERON_DRIVER_GENERIC_ERROR == aeron_code && NULL != strstr(detail, "Invalid argument"))
    {
        /* The driver wraps a rejected channel parameter (mtu, port, ...) as a generic error over EINVAL. */
        code = TP_ERR_MALFORMED;
    }
    return tp_err_set(code, "%s: %s (aeron errcode %d)", context,
        0 == n ? "no detail from Aeron" : detail, aeron_code);
}
