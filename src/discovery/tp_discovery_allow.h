/*
 * Response endpoint allow-list of a Discovery Provider (internal; DECISIONS
 * DISC-3, docs/DISCOVERY.md "Response endpoints"). A DiscoveryRequest names
 * the channel the response goes to (§4.3); the provider only sends to
 * channels an entry of `[discovery] response_endpoints` allows, so a request
 * cannot make it send datagrams to arbitrary hosts. Entries:
 *
 *   "ipc"            any aeron:ipc channel (same host by construction)
 *   "HOST"           aeron:udp channels whose endpoint= host is HOST (a name,
 *                    compared case-insensitively, an IPv4 literal or a
 *                    bracketed IPv6 literal "[::1]"), any port
 *   "HOST:PORT"      the same, that port only
 *   "A.B.C.D/N"      aeron:udp endpoints whose host is an IPv4 literal in
 *                    that network (names are not resolved)
 *   "*"              any aeron:udp endpoint (a trusted network only)
 *
 * A UDP channel without an endpoint= (e.g. a dynamic control-mode channel)
 * is allowed only by "*".
 */
#ifndef TP_DISCOVERY_TP_DISCOVERY_ALLOW_H
#define TP_DISCOVERY_TP_DISCOVERY_ALLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Most entries of the allow-list. */
#define TP_DISCOVERY_MAX_RESPONSE_RULES 32u
/** Longest entry (bytes, with the NUL). */
#define TP_DISCOVERY_RESPONSE_RULE_MAX 128u
/** Default entries: IPC and loopback UDP. */
#define TP_DISCOVERY_DEFAULT_RESPONSE_RULES { "ipc", "127.0.0.0/8", "localhost", "[::1]" }

/**
 * Check one entry. Returns 0, or -1 with TP_ERR_CONFIG saying what is
 * wrong and what an entry looks like (the caller adds where it is).
 */
int tp_discovery_response_rule_check(const char *rule);

/**
 * Whether `channel` (length bytes, not NUL-terminated; already checked by
 * tp_discovery_channel_valid) is allowed by one of `count` entries stored
 * TP_DISCOVERY_RESPONSE_RULE_MAX bytes apart from `rules` (NUL-terminated).
 */
bool tp_discovery_response_allowed(const char *rules, uint32_t count,
    const char *channel, size_t length);

#endif
