/* shm:file region URIs (wire spec §15.22). */
#include <stdio.h>
#include <string.h>

#include "common/tp_error.h"
#include "tensor_pool/tp_shm.h"

#define TP_SHM_URI_PREFIX "shm:file?"

/* abs-path = 1*( VCHAR except "?" and "|" and SP ); VCHAR = %x21-7E. */
static int tp_shm_uri_path_check(const char *path, size_t len)
{
    if (0 == len)
    {
        return tp_err_set(TP_ERR_MALFORMED, "shm:file URI: path is empty");
    }
    if (len > TP_SHM_PATH_MAX)
    {
        return tp_err_set(TP_ERR_MALFORMED, "shm:file URI: path is %zu bytes long, the limit is %u", len,
            TP_SHM_PATH_MAX);
    }
    if ('/' != path[0])
    {
        return tp_err_set(TP_ERR_MALFORMED, "shm:file URI: path '%.*s' is not absolute (must start with '/')",
            (int)(len > 200 ? 200 : len), path);
    }
    for (size_t i = 0; i < len; i++)
    {
        unsigned char c = (unsigned char)path[i];
        if (c < 0x21 || c > 0x7e || '?' == c || '|' == c)
        {
            return tp_err_set(TP_ERR_MALFORMED,
                "shm:file URI: path contains byte 0x%02x at offset %zu; only visible ASCII except '?' and '|' is "
                "allowed",
                c, i);
        }
    }
    return 0;
}

int tp_shm_uri_parse(const char *uri, tp_shm_uri_t *out)
{
    if (NULL == uri || NULL == out)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_shm_uri_parse: NULL argument");
    }
    const size_t prefix_len = sizeof(TP_SHM_URI_PREFIX) - 1;
    if (0 != strncmp(uri, TP_SHM_URI_PREFIX, prefix_len))
    {
        const char *colon = strchr(uri, ':');
        int scheme_len = NULL == colon ? (int)strnlen(uri, 64) : (int)(colon - uri);
        if (NULL != colon && 0 == strncmp(uri, "shm:", 4))
        {
            const char *q = strchr(uri, '?');
            int kind_len = NULL == q ? (int)strnlen(uri + 4, 64) : (int)(q - uri - 4);
            if (0 == strncmp(uri, "shm:file", 8) && NULL == q)
            {
                return tp_err_set(TP_ERR_MALFORMED, "region URI '%.64s': missing '?path=...'", uri);
            }
            return tp_err_set(TP_ERR_UNSUPPORTED,
                "region URI: unsupported shm backend 'shm:%.*s' (only 'shm:file?path=...' is supported)",
                kind_len > 64 ? 64 : kind_len, uri + 4);
        }
        return tp_err_set(TP_ERR_UNSUPPORTED,
            "region URI: unsupported scheme '%.*s' (only 'shm:file?path=...' is supported)",
            scheme_len > 64 ? 64 : scheme_len, uri);
    }

    bool have_path = false;
    bool have_huge = false;
    out->path[0] = '\0';
    out->require_hugepages = false;

    const char *p = uri + prefix_len;
    for (;;)
    {
        const char *end = strchr(p, '|');
        size_t entry_len = NULL == end ? strlen(p) : (size_t)(end - p);
        if (0 == entry_len)
        {
            return tp_err_set(TP_ERR_MALFORMED, "shm:file URI: empty parameter (stray '|')");
        }
        const char *eq = memchr(p, '=', entry_len);
        if (NULL == eq)
        {
            return tp_err_set(TP_ERR_MALFORMED, "shm:file URI: parameter '%.*s' has no '=value'",
                (int)(entry_len > 64 ? 64 : entry_len), p);
        }
        size_t key_len = (size_t)(eq - p);
        const char *value = eq + 1;
        size_t value_len = entry_len - key_len - 1;

        if (4 == key_len && 0 == strncmp(p, "path", 4))
        {
            if (have_path)
            {
                return tp_err_set(TP_ERR_MALFORMED, "shm:file URI: duplicate parameter 'path'");
            }
            if (tp_shm_uri_path_check(value, value_len) < 0)
            {
                return -1;
            }
            memcpy(out->path, value, value_len);
            out->path[value_len] = '\0';
            have_path = true;
        }
        else if (17 == key_len && 0 == strncmp(p, "require_hugepages", 17))
        {
            if (have_huge)
            {
                return tp_err_set(TP_ERR_MALFORMED, "shm:file URI: duplicate parameter 'require_hugepages'");
            }
            if (4 == value_len && 0 == strncmp(value, "true", 4))
            {
                out->require_hugepages = true;
            }
            else if (5 == value_len && 0 == strncmp(value, "false", 5))
            {
                out->require_hugepages = false;
            }
            else
            {
                return tp_err_set(TP_ERR_MALFORMED,
                    "shm:file URI: require_hugepages must be 'true' or 'false', got '%.*s'",
                    (int)(value_len > 32 ? 32 : value_len), value);
            }
            have_huge = true;
        }
        else if (0 == key_len)
        {
            return tp_err_set(TP_ERR_MALFORMED, "shm:file URI: parameter with an empty name");
        }
        else
        {
            return tp_err_set(TP_ERR_MALFORMED,
                "shm:file URI: unknown parameter '%.*s' (only 'path' and 'require_hugepages' are defined)",
                (int)(key_len > 64 ? 64 : key_len), p);
        }

        if (NULL == end)
        {
            break;
        }
        p = end + 1;
    }

    if (!have_path)
    {
        return tp_err_set(TP_ERR_MALFORMED, "shm:file URI: missing required parameter 'path'");
    }
    return 0;
}

int tp_shm_uri_format(const char *path, bool require_hugepages, char *buf, size_t len)
{
    if (NULL == path || NULL == buf)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_shm_uri_format: NULL argument");
    }
    if (tp_shm_uri_path_check(path, strlen(path)) < 0)
    {
        char msg[TP_ERRMSG_MAX];
        snprintf(msg, sizeof(msg), "%s", tp_errmsg());
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "%s", msg);
    }
    int n = snprintf(buf, len, "shm:file?path=%s|require_hugepages=%s", path, require_hugepages ? "true" : "false");
    if (n < 0 || (size_t)n >= len)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_shm_uri_format: buffer of %zu bytes is too small", len);
    }
    return 0;
}
