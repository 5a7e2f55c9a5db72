/*
 * Aeron channel URI parser (internal).
 *
 * Syntax (as in Aeron): `aeron:<media>[?<key>=<value>[|<key>=<value>]...]`
 * with media `ipc` or `udp`. Parsing is strict: unknown media, empty or
 * duplicated keys, missing '=' and unknown parameter names are errors
 * (TP_ERR_MALFORMED with a message naming the offending part). Parameter
 * names are those of Aeron; only a subset is interpreted by the embedded
 * backend (see docs/TRANSPORT.md), the rest is kept for the Aeron backend.
 */
#ifndef TP_COMMON_TP_URI_H
#define TP_COMMON_TP_URI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define TP_URI_MAX_PARAMS 16
#define TP_URI_MAX_KEY 32
#define TP_URI_MAX_VALUE 256
#define TP_URI_MAX_LENGTH 1024

typedef enum tp_uri_media_enum
{
    TP_URI_MEDIA_IPC = 1,
    TP_URI_MEDIA_UDP = 2
} tp_uri_media_t;

typedef struct tp_uri_param_stct
{
    char key[TP_URI_MAX_KEY];
    char value[TP_URI_MAX_VALUE];
} tp_uri_param_t;

/** A parsed channel URI. Plain value type: no cleanup needed. */
typedef struct tp_uri_stct
{
    tp_uri_media_t media;
    size_t param_count;
    tp_uri_param_t params[TP_URI_MAX_PARAMS];
} tp_uri_t;

/**
 * Parse `uri` into `out`. Returns 0, or -1 with TP_ERR_MALFORMED (or
 * TP_ERR_INVALID_ARGUMENT for NULL arguments) and a message that says what
 * is wrong and what is expected.
 */
int tp_uri_parse(const char *uri, tp_uri_t *out);

/** Value of parameter `key`, or NULL when absent. */
const char *tp_uri_get(const tp_uri_t *uri, const char *key);

/**
 * Parse a size parameter (decimal with optional k/m/g suffix, binary units)
 * into `*out`; `*out = default_value` when absent. Range-checked against
 * [min_value, max_value]; when `power_of_two` the value must be one.
 * Returns 0, or -1 (TP_ERR_MALFORMED) naming the parameter.
 */
int tp_uri_get_size(
    const tp_uri_t *uri, const char *key, uint64_t default_value, uint64_t min_value, uint64_t max_value,
    bool power_of_two, uint64_t *out);

/** Parse an integer parameter with range check; default when absent. Returns 0 or -1. */
int tp_uri_get_int(
    const tp_uri_t *uri, const char *key, int64_t default_value, int64_t min_value, int64_t max_value, int64_t *out);

/**
 * Parse a duration (Aeron syntax: nanoseconds, or a number with the suffix
 * `ns`, `us`, `ms` or `s`) into `*out` in nanoseconds. Returns 0, or -1
 * (no error set) when it is not one. tp_uri_get_duration: the same for a
 * channel parameter, default when absent, at most `max_value`, -1 with
 * TP_ERR_MALFORMED.
 */
int tp_uri_parse_duration(const char *value, uint64_t *out);

/** As tp_uri_parse_duration, for parameter `key` of `uri`. */
int tp_uri_get_duration(
    const tp_uri_t *uri, const char *key, uint64_t default_value, uint64_t max_value, uint64_t *out);

/** Parse a boolean parameter (`true`/`false`); default when absent. Returns 0 or -1. */
int tp_uri_get_bool(const tp_uri_t *uri, const char *key, bool default_value, bool *out);

/**
 * Resolve an endpoint `host:port` (IPv4 name or address, or `[v6addr]:port`)
 * into a socket address. Port must be 1..65535 (0 allowed when `allow_port_zero`).
 * Returns 0, or -1 with TP_ERR_MALFORMED / TP_ERR_NOT_FOUND (name not resolved).
 */
int tp_uri_resolve_endpoint(
    const char *endpoint, bool allow_port_zero, struct sockaddr_storage *addr, socklen_t *addr_len);

/** Resolve an `interface=` value (`host` or `host:port`, port ignored) to an address. Returns 0 or -1. */
int tp_uri_resolve_interface(const char *iface, struct sockaddr_storage *addr, socklen_t *addr_len);

#endif
