#include "common/tp_uri.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/tp_error.h"

/* Aeron channel parameter names accepted by the parser. */
static const char *const tp_uri_known_keys[] = {
    "endpoint", "interface", "ttl", "mtu", "term-length", "init-term-id", "term-id", "term-offset",
    "session-id", "alias", "tether", "reliable", "linger", "sparse", "control", "control-mode", "tags",
    "group", "rejoin", "eos", "ssc", "so-sndbuf", "so-rcvbuf", "rcv-wnd", "fc", "cc", "gtag",
    "spies-simulate-connection", "max-resend", "pub-wnd", "untethered-window-limit-timeout",
    "untethered-resting-timeout", "response-correlation-id", "nak-delay", "channel-rcv-ts-offset",
    "channel-snd-ts-offset", "media-rcv-ts-offset", NULL
};

static bool tp_uri_key_known(const char *key)
{
    for (size_t i = 0; NULL != tp_uri_known_keys[i]; i++)
    {
        if (0 == strcmp(key, tp_uri_known_keys[i]))
        {
            return true;
        }
    }
    return false;
}

int tp_uri_parse(const char *uri, tp_uri_t *out)
{
    if (NULL == uri || NULL == out)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_uri_parse: uri and out must not be NULL");
    }
    memset(out, 0, sizeof(*out));
    size_t len = strlen(uri);
    if (len >= TP_URI_MAX_LENGTH)
    {
        return tp_err_set(TP_ERR_MALFORMED, "channel URI too long (%zu bytes, max %d)", len, TP_URI_MAX_LENGTH - 1);
    }
    static const char prefix[] = "aeron:";
    if (0 != strncmp(uri, prefix, sizeof(prefix) - 1))
    {
        return tp_err_set(TP_ERR_MALFORMED, "channel URI '%s' must start with 'aeron:' (e.g. aeron:ipc or "
            "aeron:udp?endpoint=host:port)", uri);
    }
    const char *media = uri + sizeof(prefix) - 1;
    const char *q = strchr(media, '?');
    size_t media_len = NULL == q ? strlen(media) : (size_t)(q - media);
    if (3 == media_len && 0 == strncmp(media, "ipc", 3))
    {
        out->media = TP_URI_MEDIA_IPC;
    }
    else if (3 == media_len && 0 == strncmp(media, "udp", 3))
    {
        out->media = TP_URI_MEDIA_UDP;
    }
    else
    {
        return tp_err_set(TP_ERR_MALFORMED, "channel URI '%s': unknown media '%.*s' (expected 'ipc' or 'udp')", uri,
            (int)media_len, media);
    }
    if (NULL == q)
    {
        return 0;
    }
    const char *p = q + 1;
    if ('\0' == *p)
    {
        return tp_err_set(TP_ERR_MALFORMED, "channel URI '%s': empty parameter list after '?'", uri);
    }
    while (true)
    {
        const char *end = strchr(p, '|');
        size_t plen = NULL == end ? strlen(p) : (size_t)(end - p);
        const char *eq = memchr(p, '=', plen);
        if (NULL == eq)
        {
            return tp_err_set(TP_ERR_MALFORMED, "channel URI '%s': parameter '%.*s' has no '=' (expected key=value, "
                "separated by '|')", uri, (int)plen, p);
        }
        size_t klen = (size_t)(eq - p);
        size_t vlen = plen - klen - 1;
        if (0 == klen)
        {
            return tp_err_set(TP_ERR_MALFORMED, "channel URI '%s': empty parameter name", uri);
        }
        if (0 == vlen)
        {
            return tp_err_set(TP_ERR_MALFORMED, "channel URI '%s': parameter '%.*s' has an empty value", uri,
                (int)klen, p);
        }
        if (klen >= TP_URI_MAX_KEY || vlen >= TP_URI_MAX_VALUE)
        {
            return tp_err_set(TP_ERR_MALFORMED, "channel URI '%s': parameter '%.*s' too long", uri, (int)klen, p);
        }
        if (out->param_count >= TP_URI_MAX_PARAMS)
        {
            return tp_err_set(TP_ERR_MALFORMED, "channel URI '%s': too many parameters (max %d)", uri,
                TP_URI_MAX_PARAMS);
        }
        tp_uri_param_t *param = &out->params[out->param_count];
        memcpy(param->key, p, klen);
        param->key[klen] = '\0';
        memcpy(param->value, eq + 1, vlen);
        param->value[vlen] = '\0';
        if (!tp_uri_key_known(param->key))
        {
            return tp_err_set(TP_ERR_MALFORMED, "channel URI '%s': unknown parameter '%s' (see docs/TRANSPORT.md "
                "for the supported Aeron parameters)", uri, param->key);
        }
        if (NULL != tp_uri_get(out, param->key))
        {
            return tp_err_set(TP_ERR_MALFORMED, "channel URI '%s': parameter '%s' given twice", uri, param->key);
        }
        out->param_count++;
        if (NULL == end)
        {
            break;
        }
        p = end + 1;
        if ('\0' == *p)
        {
            return tp_err_set(TP_ERR_MALFORMED, "channel URI '%s': trailing '|'", uri);
        }
    }
    return 0;
}

const char *tp_uri_get(const tp_uri_t *uri, const char *key)
{
    for (size_t i = 0; i < uri->param_count; i++)
    {
        if (0 == strcmp(uri->params[i].key, key))
        {
            return uri->params[i].value;
        }
    }
    return NULL;
}

int tp_uri_get_size(
    const tp_uri_t *uri, const char *key, uint64_t default_value, uint64_t min_value, uint64_t max_value,
    bool power_of_two, uint64_t *out)
{
    const char *v = tp_uri_get(uri, key);
    uint64_t value = default_value;
    if (NULL != v)
    {
        if (*v < '0' || *v > '9')
        {
            return tp_err_set(TP_ERR_MALFORMED, "channel parameter %s=%s is not a size (e.g. 65536, 64k, 16m)",
                key, v);
        }
        char *end = NULL;
        errno = 0;
        unsigned long long n = strtoull(v, &end, 10);
        uint64_t mult = 1;
        if ('k' == *end || 'K' == *end)
        {
            mult = 1024;
            end++;
        }
        else if ('m' == *end || 'M' == *end)
        {
            mult = 1024 * 1024;
            end++;
        }
        else if ('g' == *end || 'G' == *end)
        {
            mult = 1024 * 1024 * 1024;
            end++;
        }
        if (0 != errno || '\0' != *end || n > UINT64_MAX / mult)
        {
            return tp_err_set(TP_ERR_MALFORMED, "channel parameter %s=%s is not a size (e.g. 65536, 64k, 16m)",
                key, v);
        }
        value = (uint64_t)n * mult;
    }
    if (value < min_value || value > max_value)
    {
        return tp_err_set(TP_ERR_MALFORMED, "channel parameter %s=%" PRIu64 " out of range [%" PRIu64 ", %" PRIu64
            "]", key, value, min_value, max_value);
    }
    if (power_of_two && 0 != (value & (value - 1)))
    {
        return tp_err_set(TP_ERR_MALFORMED, "channel parameter %s=%" PRIu64 " must be a power of two", key, value);
    }
    *out = value;
    return 0;
}

int tp_uri_get_int(
    const tp_uri_t *uri, const char *key, int64_t default_value, int64_t min_value, int64_t max_value, int64_t *out)
{
    const char *v = tp_uri_get(uri, key);
    int64_t value = default_value;
    if (NULL != v)
    {
        char *end = NULL;
        errno = 0;
        long long n = strtoll(v, &end, 10);
        if (0 != errno || end == v || '\0' != *end)
        {
            return tp_err_set(TP_ERR_MALFORMED, "channel parameter %s=%s is not an integer", key, v);
        }
        value = (int64_t)n;
    }
    if (value < min_value || value > max_value)
    {
        return tp_err_set(TP_ERR_MALFORMED, "channel parameter %s=%" PRId64 " out of range [%" PRId64 ", %" PRId64
            "]", key, value, min_value, max_value);
    }
    *out = value;
    return 0;
}

int tp_uri_parse_duration(const char *v, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    uint64_t unit = 1;
    if (0 != errno || end == v || '-' == v[0] || ' ' == v[0])
    {
        return -1;
    }
    if (0 == strcmp(end, "s"))
    {
        unit = UINT64_C(1000000000);
    }
    else if (0 == strcmp(end, "ms"))
    {
        unit = UINT64_C(1000000);
    }
    else if (0 == strcmp(end, "us"))
    {
        unit = UINT64_C(1000);
    }
    else if (0 != strcmp(end, "ns") && '\0' != *end)
    {
        return -1;
    }
    if ((uint64_t)n > UINT64_MAX / unit)
    {
        return -1;
    }
    *out = (uint64_t)n * unit;
    return 0;
}

int tp_uri_get_duration(
    const tp_uri_t *uri, const char *key, uint64_t default_value, uint64_t max_value, uint64_t *out)
{
    const char *v = tp_uri_get(uri, key);
    uint64_t value = default_value;
    if (NULL != v && tp_uri_parse_duration(v, &value) < 0)
    {
        return tp_err_set(TP_ERR_MALFORMED, "channel parameter %s=%s is not a duration (a number of "
            "nanoseconds, or with the suffix ns, us, ms or s)", key, v);
    }
    if (value > max_value)
    {
        return tp_err_set(TP_ERR_MALFORMED, "channel parameter %s=%" PRIu64 "ns out of range [0, %" PRIu64 "ns]", key,
            value, max_value);
    }
    *out = value;
    return 0;
}

int tp_uri_get_bool(const tp_uri_t *uri, const char *key, bool default_value, bool *out)
{
    const char *v = tp_uri_get(uri, key);
    if (NULL == v)
    {
        *out = default_value;
        return 0;
    }
    if (0 == strcmp(v, "true"))
    {
        *out = true;
        return 0;
    }
    if (0 == strcmp(v, "false"))
    {
        *out = false;
        return 0;
    }
    return tp_err_set(TP_ERR_MALFORMED, "channel parameter %s=%s must be 'true' or 'false'", key, v);
}

static int tp_uri_split_host_port(const char *in, char *host, size_t host_cap, const char **port, bool port_required)
{
    const char *colon;
    const char *h = in;
    size_t hlen;
    if ('[' == *in)
    {
        const char *close = strchr(in, ']');
        if (NULL == close)
        {
            return tp_err_set(TP_ERR_MALFORMED, "address '%s': missing ']' after IPv6 address", in);
        }
        h = in + 1;
        hlen = (size_t)(close - h);
        colon = ':' == close[1] ? close + 1 : NULL;
        if (NULL == colon && '\0' != close[1])
        {
            return tp_err_set(TP_ERR_MALFORMED, "address '%s': expected ':port' after ']'", in);
        }
    }
    else
    {
        colon = strrchr(in, ':');
        hlen = NULL == colon ? strlen(in) : (size_t)(colon - in);
    }
    if (NULL == colon && port_required)
    {
        return tp_err_set(TP_ERR_MALFORMED, "endpoint '%s' must be host:port", in);
    }
    if (0 == hlen || hlen >= host_cap)
    {
        return tp_err_set(TP_ERR_MALFORMED, "address '%s': empty or too long host", in);
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = NULL == colon ? NULL : colon + 1;
    return 0;
}

static int tp_uri_resolve_host(const char *what, const char *host, struct sockaddr_storage *addr, socklen_t *addr_len)
{
    struct addrinfo hints;
    struct addrinfo *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (0 != rc || NULL == res)
    {
        return tp_err_set(TP_ERR_NOT_FOUND, "%s: cannot resolve host '%s': %s", what, host, gai_strerror(rc));
    }
    memcpy(addr, res->ai_addr, res->ai_addrlen);
    *addr_len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

int tp_uri_resolve_endpoint(
    const char *endpoint, bool allow_port_zero, struct sockaddr_storage *addr, socklen_t *addr_len)
{
    char host[256];
    const char *port_str = NULL;
    if (NULL == endpoint || NULL == addr || NULL == addr_len)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_uri_resolve_endpoint: NULL argument");
    }
    if (tp_uri_split_host_port(endpoint, host, sizeof(host), &port_str, true) < 0)
    {
        return -1;
    }
    char *end = NULL;
    errno = 0;
    long port = strtol(port_str, &end, 10);
    if (0 != errno || end == port_str || '\0' != *end || port < (allow_port_zero ? 0 : 1) || port > 65535)
    {
        return tp_err_set(TP_ERR_MALFORMED, "endpoint '%s': port '%s' must be a number in [%d, 65535]", endpoint,
            port_str, allow_port_zero ? 0 : 1);
    }
    if (tp_uri_resolve_host("endpoint", host, addr, addr_len) < 0)
    {
        return -1;
    }
    if (AF_INET == addr->ss_family)
    {
        ((struct sockaddr_in *)addr)->sin_port = htons((uint16_t)port);
    }
    else
    {
        ((struct sockaddr_in6 *)addr)->sin6_port = htons((uint16_t)port);
    }
    return 0;
}

int tp_uri_resolve_interface(const char *iface, struct sockaddr_storage *addr, socklen_t *addr_len)
{
    char host[256];
    const char *port_str = NULL;
    if (NULL == iface)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_uri_resolve_interface: NULL interface");
    }
    /* Aeron allows a '/prefix' subnet suffix: the address part is what we bind to. */
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", iface);
    char *slash = strchr(buf, '/');
    if (NULL != slash)
    {
        *slash = '\0';
    }
    if (tp_uri_split_host_port(buf, host, sizeof(host), &port_str, false) < 0)
    {
        return -1;
    }
    return tp_uri_resolve_host("interface", host, addr, addr_len);
}
