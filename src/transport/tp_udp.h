/*
 * Embedded UDP backend (aeron:udp): best-effort datagrams with fragmentation,
 * reassembly and loss counting. Reliable UDP needs the Aeron backend.
 * Wire format and limits: docs/TRANSPORT.md.
 */
#ifndef TP_TRANSPORT_TP_UDP_H
#define TP_TRANSPORT_TP_UDP_H

#include <stdint.h>

#include "transport/tp_transport_internal.h"

#define TP_UDP_VERSION 1u
#define TP_UDP_HEADER_LENGTH 32u
#define TP_UDP_DEFAULT_MTU 1408u
#define TP_UDP_MAX_MESSAGE_LENGTH (1024u * 1024u)
#define TP_UDP_MAX_SESSIONS 16u
#define TP_UDP_TYPE_DATA 1u
#define TP_UDP_TYPE_HEARTBEAT 2u
#define TP_UDP_TYPE_STATUS 3u

/** Datagram header (little endian on the wire). */
typedef struct tp_udp_header_stct
{
    uint8_t version;
    uint8_t type;
    uint8_t flags;          /* TP_FRAGMENT_FLAG_BEGIN / _END */
    uint8_t reserved;
    int32_t session_id;
    int32_t stream_id;
    uint32_t sequence;      /* per-session datagram sequence (DATA only) */
    uint32_t message_length;
    uint32_t fragment_offset;
    int64_t reserved_value;
} tp_udp_header_t;

/** Create a UDP publication; fills pub. Returns 0 or -1. */
int tp_udp_publication_open(tp_transport_t *t, const tp_uri_t *uri, int32_t stream_id, tp_publication_t *pub);

/** The socket of a UDP publication of the embedded backend (diagnostics and tests), or -1. */
int tp_udp_publication_socket(const tp_publication_t *pub);

/** Number of tp_buffer_claim_commit() calls on a UDP publication whose send failed (0 if not UDP). */
uint64_t tp_udp_publication_failed_commits(const tp_publication_t *pub);

/** Create a UDP subscription; fills sub. Returns 0 or -1. */
int tp_udp_subscription_open(tp_transport_t *t, const tp_uri_t *uri, int32_t stream_id, tp_subscription_t *sub);

#endif
