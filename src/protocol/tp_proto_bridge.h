/*
 * Bridge decode layer (internal): the BridgeFrameChunk message of the bridge
 * schema (id 902, SHM Aeron-UDP Bridge spec v1.1 §5, §11) and its encoder.
 *
 * Same contract as tp_proto.h: buf holds one whole message starting with
 * its 8-byte SBE message header; nothing outside [buf, buf + len) is read;
 * returns 0 and fills *out, or -1 with tp_errcode() TP_ERR_MALFORMED, a
 * message naming the field, and the reason in tp_proto_bridge_last_error().
 *
 * The decode is structural: header gating (schema 902, template 1, version
 * not newer, block length not shorter), headerIncluded a known Bool,
 * headerBytes at most 256 bytes, payloadBytes at most `max_payload_bytes`
 * (the receiver passes bridge.max_chunk_bytes: oversized var-data is
 * rejected before anything is copied, §5.2), both inside the buffer. The
 * chunking rules of §5.2 (index < count, header presence, lengths, offsets)
 * are checked by tp_proto_bridge_chunk_check(), so that a receiver can count
 * each violation under its own reason. No allocation, no system call
 * (except formatting tp_errmsg() on the error path).
 */
#ifndef TP_PROTOCOL_TP_PROTO_BRIDGE_H
#define TP_PROTOCOL_TP_PROTO_BRIDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/tp_proto.h"
#include "tp_sbe/bridge.h"

/** Size of the SlotHeader block a first chunk carries (§5.2: 60 + 4 + 192). */
#define TP_BRIDGE_HEADER_BYTES 256u
/** Largest chunkCount / chunkIndex + 1 (§5.2). */
#define TP_BRIDGE_MAX_CHUNKS 65535u
/** Fixed part of an encoded chunk: message header, block, two var-data length fields. */
#define TP_BRIDGE_CHUNK_OVERHEAD (8u + 53u + 4u + 4u)

/** A decoded BridgeFrameChunk; header_bytes / payload point into the decoded buffer. */
typedef struct tp_proto_bridge_chunk_view_stct
{
    uint32_t stream_id;
    uint64_t epoch;
    uint64_t seq;
    uint64_t trace_id;          /**< 0 when absent (0 and all-ones both mean "no trace", ERRATA 1) */
    uint32_t chunk_index;
    uint32_t chunk_count;
    uint32_t chunk_offset;
    uint32_t chunk_length;
    uint32_t payload_length;
    uint32_t payload_crc32c;    /**< 0 = absent */
    bool header_included;
    tp_proto_bytes_t header_bytes;   /**< 0..256 bytes */
    tp_proto_bytes_t payload;        /**< payloadBytes */
}
tp_proto_bridge_chunk_view_t;

/** Why a chunk broke the chunking rules of §5.2 (tp_proto_bridge_chunk_check). */
typedef enum tp_bridge_chunk_rule_en
{
    TP_BRIDGE_RULE_OK = 0,
    TP_BRIDGE_RULE_CHUNK_COUNT = 1,    /**< chunkCount 0 or > 65535, or chunkIndex >= chunkCount */
    TP_BRIDGE_RULE_HEADER_FLAG = 2,    /**< headerIncluded not TRUE exactly for chunkIndex 0, or headerBytes length not 256 / 0 */
    TP_BRIDGE_RULE_CHUNK_OFFSET = 3,   /**< chunk 0 with offset != 0, or the slice is outside the payload */
    TP_BRIDGE_RULE_CHUNK_LENGTH = 4,   /**< payloadBytes length != chunkLength, or chunkLength above the limit, or 0 in a non-empty payload */
    TP_BRIDGE_RULE_OVERSIZE = 5        /**< payloadLength above the limit, or more chunks than payload bytes */
}
tp_bridge_chunk_rule_t;

/** Name of a rule, e.g. "CHUNK_COUNT". */
const char *tp_bridge_chunk_rule_name(tp_bridge_chunk_rule_t r);

/** The reason of the calling thread's last failed bridge decode (TP_PROTO_OK after a success). */
tp_proto_error_t tp_proto_bridge_last_error(void);

/**
 * Decode a BridgeFrameChunk whose payloadBytes may be at most
 * `max_payload_bytes` long (larger: VAR_DATA_OVERFLOW).
 */
int tp_proto_decode_bridge_chunk(const uint8_t *buf, size_t len, uint32_t max_payload_bytes,
    tp_proto_bridge_chunk_view_t *out);

/**
 * Check the per-chunk rules of §5.2 on a decoded chunk: counts, header
 * presence and length, offset and slice bounds, payloadBytes length equal to
 * chunkLength and at most `max_chunk_bytes`, payloadLength at most
 * `max_payload_bytes`. Returns TP_BRIDGE_RULE_OK or the first broken rule.
 * Never sets the error state (per-chunk path).
 */
tp_bridge_chunk_rule_t tp_proto_bridge_chunk_check(const tp_proto_bridge_chunk_view_t *c, uint32_t max_chunk_bytes,
    uint32_t max_payload_bytes);

/** Encoded length of a chunk with `header_length` header bytes and `payload_length` payload bytes. */
static inline size_t tp_proto_bridge_chunk_encoded_length(uint32_t header_length, uint32_t payload_length)
{
    return (size_t)TP_BRIDGE_CHUNK_OVERHEAD + header_length + payload_length;
}

/**
 * Encode the chunk `c` (every field; header_bytes and payload as given, their
 * lengths from the view) into buf. trace_id 0 is written as 0 (ERRATA 1).
 * Returns 0 and sets *length_out, or -1 (TP_ERR_INVALID_ARGUMENT: NULL
 * argument, header longer than 256, or capacity too small).
 */
int tp_proto_encode_bridge_chunk(uint8_t *buf, size_t capacity, const tp_proto_bridge_chunk_view_t *c,
    size_t *length_out);

/**
 * Encode only the message header, the block and both var-data length fields
 * of a chunk in place, leaving room for `header_length` header bytes at
 * *header_out and chunk_length payload bytes at *payload_out (for writers
 * that copy the payload straight into a claimed buffer). The CRC field is
 * written from c->payload_crc32c (tp_proto_bridge_set_crc32c can patch it
 * later). Returns 0 or -1 as tp_proto_encode_bridge_chunk.
 */
int tp_proto_encode_bridge_chunk_frame(uint8_t *buf, size_t capacity, const tp_proto_bridge_chunk_view_t *c,
    uint32_t header_length, uint8_t **header_out, uint8_t **payload_out, size_t *length_out);

/** Patch payloadCrc32c of an encoded chunk (buf as produced by the encoders). */
void tp_proto_bridge_set_crc32c(uint8_t *buf, uint32_t crc);

#endif
