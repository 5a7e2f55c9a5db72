/*
 * Discovery decode layer (internal): DiscoveryRequest / DiscoveryResponse of
 * the discovery schema (id 910, Discovery spec §5, §15), in the style of
 * tp_proto.h.
 *
 *     int tp_proto_decode_discovery_request(const uint8_t *buf, size_t len, tp_proto_discovery_request_view_t *out);
 *     int tp_proto_decode_discovery_response(const uint8_t *buf, size_t len, tp_proto_discovery_response_view_t *out);
 *
 * Contract (as tp_proto.h):
 * - buf holds one whole message starting with its 8-byte SBE header; nothing
 *   outside [buf, buf + len) is read.
 * - Returns 0 and fills *out, or -1 with tp_errcode() TP_ERR_MALFORMED, a
 *   message naming the field, and the reason in
 *   tp_proto_discovery_last_error() / tp_proto_discovery_last_error_field()
 *   (thread-local; tp_proto_last_error() is not touched).
 * - Header gating (DECISIONS D2): schema id 910, the template id, a version
 *   not newer than ours (1), a block length not shorter than ours.
 * - Structural checks only: every group and var-data inside the buffer, group
 *   counts and var-data lengths within the limits below, the status enum
 *   known. Semantic rules (empty response channel, response stream id 0,
 *   driver control stream id 0, results with a non-OK status) belong to the
 *   provider and the client, which must tell "drop silently" from "answer
 *   ERROR" (spec §5.1).
 * - Two layouts (DECISIONS D1): the message is decoded with our codec (tags
 *   entries as var-data, ERRATA 2) and, when that fails or leaves bytes over,
 *   with the reference tool's layout (tags entries of blockLength 0 carrying
 *   no bytes). A decode that consumes the whole buffer wins (fixed first);
 *   otherwise a fixed decode with trailing bytes; otherwise the error of our
 *   codec is reported. A reference decode must consume the buffer exactly. The chosen layout is in `layout`. In the
 *   reference layout every tag is empty (length 0 = "not provided", §5.0).
 * - No allocation, no locks, no system calls (except formatting the error).
 */
#ifndef TP_PROTOCOL_TP_PROTO_DISCOVERY_H
#define TP_PROTOCOL_TP_PROTO_DISCOVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/tp_proto.h"
#include "tp_sbe/discovery.h"
#include "tp_sbe/discovery_ref.h"

/** Most tags a request or one result may carry (more: GROUP_OVERFLOW). */
#define TP_PROTO_DISCOVERY_MAX_TAGS 32u
/** Longest tag accepted. */
#define TP_PROTO_DISCOVERY_TAG_MAX 256u
/** Most results a response may carry (more: GROUP_OVERFLOW); providers cap at 1000 by default (§5.2). */
#define TP_PROTO_DISCOVERY_MAX_RESULTS 1024u
/** Longest data source name accepted (the spec says SHOULD be at most 256; we accept 4x that). */
#define TP_PROTO_DISCOVERY_NAME_MAX 1024u
/** Longest channel accepted (response channel, driver control channel). */
#define TP_PROTO_DISCOVERY_CHANNEL_MAX 1024u
/** Longest driver instance id accepted. */
#define TP_PROTO_DISCOVERY_INSTANCE_ID_MAX 256u
/** Longest error message accepted (the spec says SHOULD be at most 1024; we accept 4x that). */
#define TP_PROTO_DISCOVERY_ERROR_MAX 4096u
/** Longest error message we write (§5.2: SHOULD be at most 1024 bytes for UDP MTU safety). */
#define TP_PROTO_DISCOVERY_ERROR_WRITE_MAX 1024u

/** Which layout a message was decoded with (DECISIONS D1). */
typedef enum tp_proto_discovery_layout_en
{
    TP_PROTO_DISCOVERY_LAYOUT_FIXED = 0,     /**< our schema: tags entries are var-data (ERRATA 2) */
    TP_PROTO_DISCOVERY_LAYOUT_REFERENCE = 1  /**< upstream XML as the reference tool encodes it: tags carry no bytes */
}
tp_proto_discovery_layout_t;

/** "fixed" or "reference". */
const char *tp_proto_discovery_layout_name(tp_proto_discovery_layout_t layout);

/** The reason of the calling thread's last failed discovery decode (TP_PROTO_OK after a success). */
tp_proto_error_t tp_proto_discovery_last_error(void);

/** The field the calling thread's last failed discovery decode stopped at ("" after a success). */
const char *tp_proto_discovery_last_error_field(void);

/** DiscoveryRequest (template 1). Optional filters as has_x + x. */
typedef struct tp_proto_discovery_request_view_stct
{
    uint64_t request_id;
    uint32_t client_id;
    uint32_t response_stream_id;       /**< 0 is invalid (§5.1): checked by the provider, not here */
    bool has_stream_id;
    uint32_t stream_id;
    bool has_producer_id;
    uint32_t producer_id;
    bool has_data_source_id;
    uint64_t data_source_id;
    uint32_t tag_count;                                  /**< 0..TP_PROTO_DISCOVERY_MAX_TAGS, wire order */
    tp_proto_str_t tags[TP_PROTO_DISCOVERY_MAX_TAGS];    /**< empty entries mean "not provided" */
    tp_proto_str_t response_channel;                     /**< empty is invalid (§5.1): checked by the provider */
    tp_proto_str_t data_source_name;                     /**< empty = no filter */
    tp_proto_discovery_layout_t layout;
}
tp_proto_discovery_request_view_t;

/** One result of a DiscoveryResponse (also the encoder's input). */
typedef struct tp_proto_discovery_result_view_stct
{
    uint32_t stream_id;
    uint32_t producer_id;
    uint64_t epoch;
    uint32_t layout_version;
    uint32_t header_nslots;
    uint16_t header_slot_bytes;
    uint8_t max_dims;
    bool has_data_source_id;
    uint64_t data_source_id;
    uint32_t driver_control_stream_id;
    uint32_t pool_count;                                 /**< 0..TP_PROTO_MAX_POOLS */
    tp_proto_pool_view_t pools[TP_PROTO_MAX_POOLS];
    uint32_t tag_count;                                  /**< 0..TP_PROTO_DISCOVERY_MAX_TAGS */
    tp_proto_str_t tags[TP_PROTO_DISCOVERY_MAX_TAGS];
    tp_proto_str_t header_region_uri;
    tp_proto_str_t data_source_name;
    tp_proto_str_t driver_instance_id;
    tp_proto_str_t driver_control_channel;
}
tp_proto_discovery_result_view_t;

/**
 * Iterator over the results of a decoded DiscoveryResponse. The decode has
 * walked and checked every result, so tp_proto_discovery_result_next()
 * cannot fail on a buffer unchanged since the decode. Copy it to walk twice.
 */
typedef struct tp_proto_discovery_result_iter_stct
{
    tp_proto_discovery_layout_t layout;
    uint32_t remaining;
    union
    {
        struct
        {
            tp_sbe_discovery_discovery_response_t m;
            tp_sbe_discovery_discovery_response_results_t g;
        } fixed;
        struct
        {
            tp_sbe_discovery_ref_discovery_response_t m;
            tp_sbe_discovery_ref_discovery_response_results_t g;
        } ref;
    } u;
}
tp_proto_discovery_result_iter_t;

/** DiscoveryResponse (template 2). */
typedef struct tp_proto_discovery_response_view_stct
{
    uint64_t request_id;
    tp_sbe_discovery_discovery_status_t status;   /**< OK, NOT_FOUND or ERROR (others: BAD_ENUM / MISSING_REQUIRED) */
    uint32_t result_count;                        /**< as on the wire (clients ignore results unless status is OK) */
    tp_proto_discovery_result_iter_t results;     /**< positioned at the first result */
    tp_proto_str_t error_message;                 /**< may be empty */
    tp_proto_discovery_layout_t layout;
}
tp_proto_discovery_response_view_t;

/** Decode a DiscoveryRequest (either layout). */
int tp_proto_decode_discovery_request(const uint8_t *buf, size_t len, tp_proto_discovery_request_view_t *out);

/** Decode a DiscoveryResponse (either layout), walking and checking every result. */
int tp_proto_decode_discovery_response(const uint8_t *buf, size_t len, tp_proto_discovery_response_view_t *out);

/**
 * Next result of a decoded response: returns 1 and fills *out, 0 at the end,
 * -1 (TOO_SHORT) if the buffer no longer matches the decode.
 */
int tp_proto_discovery_result_next(tp_proto_discovery_result_iter_t *it, tp_proto_discovery_result_view_t *out);

/**
 * Encode a DiscoveryRequest from a view (header, fields, optional fields as
 * their null values when !has_x, tags, response channel, data source name).
 * `layout` REFERENCE writes the tags entries without bytes (as the reference
 * tool does; used to test interoperability). Returns 0 and sets *length_out,
 * or -1 with TP_ERR_INVALID_ARGUMENT (NULL argument, tag_count above
 * TP_PROTO_DISCOVERY_MAX_TAGS, or the message does not fit in `capacity`).
 */
int tp_proto_encode_discovery_request(uint8_t *buf, size_t capacity, const tp_proto_discovery_request_view_t *msg,
    tp_proto_discovery_layout_t layout, size_t *length_out);

/** Incremental DiscoveryResponse encoder (results are written one by one). Caller-owned; do not move while in use. */
typedef struct tp_proto_discovery_response_encoder_stct
{
    tp_proto_discovery_layout_t layout;
    uint32_t expected;
    uint32_t written;
    size_t capacity;
    union
    {
        struct
        {
            tp_sbe_discovery_discovery_response_t m;
            tp_sbe_discovery_discovery_response_results_t g;
        } fixed;
        struct
        {
            tp_sbe_discovery_ref_discovery_response_t m;
            tp_sbe_discovery_ref_discovery_response_results_t g;
        } ref;
    } u;
}
tp_proto_discovery_response_encoder_t;

/**
 * Start a response of `result_count` results (0..TP_PROTO_DISCOVERY_MAX_RESULTS)
 * in `buf`. Returns 0, or -1 with TP_ERR_INVALID_ARGUMENT.
 */
int tp_proto_discovery_response_begin(tp_proto_discovery_response_encoder_t *enc, uint8_t *buf, size_t capacity,
    tp_proto_discovery_layout_t layout, uint64_t request_id, tp_sbe_discovery_discovery_status_t status,
    uint32_t result_count);

/**
 * Append one result (pools and tags from the view's arrays). Returns 0, or -1
 * with TP_ERR_INVALID_ARGUMENT (more results than announced to begin, too
 * many pools or tags, or the buffer is full).
 */
int tp_proto_discovery_response_add(tp_proto_discovery_response_encoder_t *enc,
    const tp_proto_discovery_result_view_t *result);

/**
 * Finish: write the error message (may be empty; longer than
 * TP_PROTO_DISCOVERY_ERROR_WRITE_MAX is cut there) and set *length_out
 * (header included). Fails (TP_ERR_INVALID_ARGUMENT) if fewer results were
 * added than announced or the buffer is full.
 */
int tp_proto_discovery_response_finish(tp_proto_discovery_response_encoder_t *enc, const char *error_message,
    size_t error_length, size_t *length_out);

/**
 * Encoded size of one result (its share of a response), so that a provider
 * can size a response before writing it.
 */
size_t tp_proto_discovery_result_encoded_length(const tp_proto_discovery_result_view_t *result,
    tp_proto_discovery_layout_t layout);

#endif
