/* Response endpoint allow-list (see tp_discovery_allow.h, DECISIONS DISC-3). */
#include "discovery/tp_discovery_allow.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/tp_error.h"
#include "common/tp_uri.h"

#define RULE_FORMS "\"ipc\", \"*\", \"HOST\", \"HOST:PORT\" (HOST a name, an IPv4 literal or a bracketed IPv6 " \
                   "literal such as \"[::1]\") or an IPv4 network \"A.B.C.D/N\""

typedef struct
{
    char host[TP_URI_MAX_VALUE];
    long port; /* -1: none */
} host_port_t;

/* Split "host[:port]" / "[v6][:port]". Returns false when malformed. */
static bool split_host_port(const char *text, host_port_t *out)
{
    const char *colon = NULL;
    size_t host_len;
    if ('[' == text[0])
    {
        const char *close = strchr(text, ']');
        if (NULL == close || (close[1] != '\0' && close[1] != ':'))
        {
            return false;
        }
        host_len = (size_t)(close - text) + 1;
        colon = ':' == close[1] ? close + 1 : NULL;
        char inner[TP_URI_MAX_VALUE];
        struct in6_addr a6;
        if (host_len - 2 >= sizeof(inner))
        {
            return false;
        }
        memcpy(inner, text + 1, host_len - 2);
        inner[host_len - 2] = '\0';
        if (1 != inet_pton(AF_INET6, inner, &a6))
        {
            return false;
        }
    }
    else
    {
        colon = strchr(text, ':');
        if (NULL != colon && NULL != strchr(colon + 1, ':'))
        {
            return false; /* an IPv6 literal must be bracketed */
        }
        host_len = NULL != colon ? (size_t)(colon - text) : strlen(text);
        for (size_t i = 0; i < host_len; i++)
        {
            unsigned char ch = (unsigned char)text[i];
            if (!isalnum(ch) && '.' != ch && '-' != ch && '_' != ch)
            {
                return false;
            }
        }
    }
    if (0 == host_len || host_len >= sizeof(out->host))
    {
        return false;
    }
    memcpy(out->host, text, host_len);
    out->host[host_len] = '\0';
    out->port = -1;
    if (NULL != colon)
    {
        char *end = NULL;
        if (!isdigit((unsigned char)colon[1]))
        {
            return false;
        }
        out->port = strtol(colon + 1, &end, 10);
        if ('\0' != *end || out->port < 1 || out->port > 65535)
        {
            return false;
        }
    }
    return true;
}

/* "A.B.C.D/N": network and mask (host order). Returns false when not one. */
static bool parse_cidr(const char *rule, uint32_t *net, uint32_t *mask)
{
    const char *slash = strchr(rule, '/');
    char addr[INET_ADDRSTRLEN];
    struct in_addr a;
    if (NULL == slash || (size_t)(slash - rule) >= sizeof(addr) || !isdigit((unsigned char)slash[1]))
    {
        return false;
    }
    memcpy(addr, rule, (size_t)(slash - rule));
    addr[slash - rule] = '\0';
    char *end = NULL;
    long bits = strtol(slash + 1, &end, 10);
    if ('\0' != *end || bits < 0 || bits > 32 || 1 != inet_pton(AF_INET, addr, &a))
    {
        return false;
    }
    *mask = 0 == bits ? 0 : UINT32_MAX << (32 - bits);
    *net = ntohl(a.s_addr) & *mask;
    return true;
}

int tp_discovery_response_rule_check(const char *rule)
{
    host_port_t hp;
    uint32_t net;
    uint32_t mask;
    if (NULL == rule || '\0' == rule[0])
    {
        return tp_err_set(TP_ERR_CONFIG, "an empty entry; an entry is " RULE_FORMS);
    }
    if (strlen(rule) >= TP_DISCOVERY_RESPONSE_RULE_MAX)
    {
        return tp_err_set(TP_ERR_CONFIG, "an entry of at most %u bytes", TP_DISCOVERY_RESPONSE_RULE_MAX - 1);
    }
    if (0 == strcmp(rule, "ipc") || 0 == strcmp(rule, "*") ||
        (NULL != strchr(rule, '/') ? parse_cidr(rule, &net, &mask) : split_host_port(rule, &hp)))
    {
        return 0;
    }
    return tp_err_set(TP_ERR_CONFIG, "\"%s\" is not a response endpoint entry; an entry is " RULE_FORMS, rule);
}

static bool rule_matches_udp(const char *rule, const char *endpoint)
{
    if (0 == strcmp(rule, "*"))
    {
        return true;
    }
    host_port_t ep;
    if (NULL == endpoint || !split_host_port(endpoint, &ep))
    {
        return false;
    }
    uint32_t net;
    uint32_t mask;
    if (NULL != strchr(rule, '/'))
    {
        struct in_addr a;
        return parse_cidr(rule, &net, &mask) && 1 == inet_pton(AF_INET, ep.host, &a) &&
            (ntohl(a.s_addr) & mask) == net;
    }
    host_port_t r;
    return split_host_port(rule, &r) && 0 == strcasecmp(r.host, ep.host) && (r.port < 0 || r.port == ep.port);
}

bool tp_discovery_response_allowed(const char *rules, uint32_t count,
    const char *channel, size_t length)
{
    char text[TP_URI_MAX_LENGTH];
    tp_uri_t uri;
    if (NULL == channel || length >= sizeof(text))
    {
        return false;
    }
    memcpy(text, channel, length);
    text[length] = '\0';
    if (tp_uri_parse(text, &uri) < 0)
    {
        return false;
    }
    const char *endpoint = tp_uri_get(&uri, "endpoint");
    for (uint32_t i = 0; NULL != rules && i < count; i++)
    {
        const char *rule = rules + (size_t)i * TP_DISCOVERY_RESPONSE_RULE_MAX;
        if (TP_URI_MEDIA_IPC == uri.media ? 0 == strcmp(rule, "ipc")
                                          : 0 != strcmp(rule, "ipc") && rule_matches_udp(rule, endpoint))
        {
            return true;
        }
    }
    return false;
}
