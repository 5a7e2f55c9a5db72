/*
 * Wire decode layer (internal): one function per control message of the wire
 * schema (id 900) and the driver schema (id 901).
 *
 *     int tp_proto_decode_<msg>(const uint8_t *buf, size_t len, tp_proto_<msg>_view_t *out);
 *
 * Contract (see docs/PROTOCOL.md):
 * - buf holds one whole message starting with its 8-byte SBE message header;
 *   len bytes of it are readable. Nothing outside [buf, buf + len) is read.
 * - Returns 0 and fills *out, or -1 with *out unspecified, tp_errcode() set to
 *   TP_ERR_MALFORMED, tp_errmsg() naming the message and the reason, and the
 *   reason available from tp_proto_last_error() (thread-local).
 * - Checks are structural only: header gating (schema id, template id,
 *   version not newer than ours, block length not shorter than ours), every
 *   group and var-data inside the buffer, group counts and var-data lengths
 *   within the limits below, enum values known, required values present.
 *   Semantics (stream ids, epochs, freshness, geometry) stay with the caller.
 * - Views are plain structs: scalars copied out, enums as the generated C
 *   enums (the wire Bool enum as bool), optional fields as has_x + x,
 *   var-data as (pointer, length) into buf (valid while buf is; not
 *   NUL-terminated), groups as a bounded array (payload pools) or an
 *   iterator (DataSourceMeta attributes).
 * - No allocation, no locks, no system calls (except on the error path,
 *   which formats tp_errmsg()).
 *
 * Two encoders live here too (tp_proto_encode_shm_pool_announce,
 * tp_proto_encode_consumer_config): the messages that two writers
 * (standalone producer, driver) send.
 */
#ifndef TP_PROTOCOL_TP_PROTO_H
#define TP_PROTOCOL_TP_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tp_sbe/driver.h"
#include "tp_sbe/wire.h"

/** Most payload pools a ShmPoolAnnounce / ShmAttachResponse may carry (larger counts: GROUP_OVERFLOW). */
#define TP_PROTO_MAX_POOLS 16u
/** Most DataSourceMeta attributes accepted (larger counts: GROUP_OVERFLOW). */
#define TP_PROTO_MAX_ATTRIBUTES 1024u
/** Longest region URI (header or pool) accepted: a maximal SHM path plus the "shm:file?path=" decoration. */
#define TP_PROTO_REGION_URI_MAX (4095u + 64u)
/** Longest var-data of any other field: the schemas' varAsciiEncoding/varDataEncoding maxValue. */
#define TP_PROTO_VAR_DATA_MAX UINT32_C(1073741824)

/** Why a message was dropped. */
typedef enum tp_proto_error_en
{
    TP_PROTO_OK = 0,
    TP_PROTO_TOO_SHORT = 1,          /**< the buffer ends inside the header, block, a group or a var-data field */
    TP_PROTO_WRONG_SCHEMA = 2,       /**< schema id is not the expected one */
    TP_PROTO_WRONG_TEMPLATE = 3,     /**< template id is not the expected message */
    TP_PROTO_BAD_VERSION = 4,        /**< schema version newer than the one compiled in */
    TP_PROTO_BAD_BLOCK_LENGTH = 5,   /**< message or group block length shorter than the schema's */
    TP_PROTO_GROUP_OVERFLOW = 6,     /**< group count above the layer's limit */
    TP_PROTO_VAR_DATA_OVERFLOW = 7,  /**< var-data length above the field's limit */
    TP_PROTO_BAD_ENUM = 8,           /**< an enum field holds a value the schema does not define */
    TP_PROTO_MISSING_REQUIRED = 9,   /**< a required value is null/empty (required enum at its null value, empty required URI, ...) */
    TP_PROTO_NULL_BUFFER = 10        /**< buf or out is NULL */
}
tp_proto_error_t;

/** Name of a drop reason, e.g. "TOO_SHORT" ("UNKNOWN" for values outside the enum). */
const char *tp_proto_error_name(tp_proto_error_t e);

/** The reason of the calling thread's last failed decode (TP_PROTO_OK after a success). */
tp_proto_error_t tp_proto_last_error(void);

/**
 * The field (schema name, e.g. "announceClockDomain", "payloadPools.regionUri
 * is empty") or header problem the calling thread's last failed decode
 * stopped at; "" after a success. A static string: lets a caller that keeps
 * finer drop reasons than tp_proto_error_t tell, for instance, which
 * required value was missing.
 */
const char *tp_proto_last_error_field(void);

/**
 * Read the message header for dispatch. Returns 0 and sets *schema_id and
 * *template_id (either pointer may be NULL), or -1 (TOO_SHORT / NULL_BUFFER)
 * if buf is NULL or len < 8. Nothing else is checked.
 */
int tp_proto_peek(const uint8_t *buf, size_t len, uint16_t *schema_id, uint16_t *template_id);

/** Var-data of an ASCII field: points into the decoded buffer, not NUL-terminated. */
typedef struct tp_proto_str_stct
{
    const char *data;
    uint32_t length;
}
tp_proto_str_t;

/** Var-data of a binary field: points into the decoded buffer. */
typedef struct tp_proto_bytes_stct
{
    const uint8_t *data;
    uint32_t length;
}
tp_proto_bytes_t;

/** One payloadPools element (ShmPoolAnnounce and ShmAttachResponse share the layout). */
typedef struct tp_proto_pool_view_stct
{
    uint16_t pool_id;
    uint32_t pool_nslots;
    uint32_t stride_bytes;
    tp_proto_str_t region_uri;   /**< non-empty, at most TP_PROTO_REGION_URI_MAX bytes */
}
tp_proto_pool_view_t;

/* ------------------------------------------------------------------ wire (900) */

/** ShmPoolAnnounce (template 1). At least one pool; every URI non-empty. */
typedef struct tp_proto_shm_pool_announce_view_stct
{
    uint32_t stream_id;
    uint32_t producer_id;
    uint64_t epoch;
    uint64_t announce_timestamp_ns;
    tp_sbe_wire_clock_domain_t announce_clock_domain;
    uint32_t layout_version;
    uint32_t header_nslots;
    uint16_t header_slot_bytes;
    uint32_t pool_count;                              /**< 1..TP_PROTO_MAX_POOLS */
    tp_proto_pool_view_t pools[TP_PROTO_MAX_POOLS];   /**< first pool_count valid, wire order */
    tp_proto_str_t header_region_uri;
}
tp_proto_shm_pool_announce_view_t;

/** ConsumerHello (template 2). */
typedef struct tp_proto_consumer_hello_view_stct
{
    uint32_t stream_id;
    uint32_t consumer_id;
    bool supports_shm;
    bool supports_progress;
    tp_sbe_wire_mode_t mode;
    uint32_t max_rate_hz;
    uint32_t expected_layout_version;
    bool has_progress_interval_us;
    uint32_t progress_interval_us;
    bool has_progress_bytes_delta;
    uint32_t progress_bytes_delta;
    bool has_progress_major_delta_units;
    uint32_t progress_major_delta_units;
    uint32_t descriptor_stream_id;
    uint32_t control_stream_id;
    tp_proto_str_t descriptor_channel;   /**< may be empty */
    tp_proto_str_t control_channel;      /**< may be empty */
}
tp_proto_consumer_hello_view_t;

/** ConsumerConfig (template 3). */
typedef struct tp_proto_consumer_config_view_stct
{
    uint32_t stream_id;
    uint32_t consumer_id;
    bool use_shm;
    tp_sbe_wire_mode_t mode;
    uint32_t descriptor_stream_id;
    uint32_t control_stream_id;
    tp_proto_str_t payload_fallback_uri;   /**< may be empty */
    tp_proto_str_t descriptor_channel;     /**< may be empty (no per-consumer stream) */
    tp_proto_str_t control_channel;        /**< may be empty */
}
tp_proto_consumer_config_view_t;

/** FrameDescriptor (template 4). trace_id: both 0 and all-ones mean "no trace" (ERRATA 1). */
typedef struct tp_proto_frame_descriptor_view_stct
{
    uint32_t stream_id;
    uint64_t epoch;
    uint64_t seq;
    bool has_timestamp_ns;
    uint64_t timestamp_ns;
    bool has_meta_version;
    uint32_t meta_version;
    bool has_trace_id;
    uint64_t trace_id;   /**< 0 when !has_trace_id */
}
tp_proto_frame_descriptor_view_t;

/** FrameProgress (template 11). */
typedef struct tp_proto_frame_progress_view_stct
{
    uint32_t stream_id;
    uint64_t epoch;
    uint64_t seq;
    uint64_t payload_bytes_filled;
    tp_sbe_wire_frame_progress_state_t state;
}
tp_proto_frame_progress_view_t;

/** QosConsumer (template 5). */
typedef struct tp_proto_qos_consumer_view_stct
{
    uint32_t stream_id;
    uint32_t consumer_id;
    uint64_t epoch;
    uint64_t last_seq_seen;
    uint64_t drops_gap;
    uint64_t drops_late;
    tp_sbe_wire_mode_t mode;
}
tp_proto_qos_consumer_view_t;

/** QosProducer (template 6). */
typedef struct tp_proto_qos_producer_view_stct
{
    uint32_t stream_id;
    uint32_t producer_id;
    uint64_t epoch;
    uint64_t current_seq;
    bool has_watermark;
    uint32_t watermark;
}
tp_proto_qos_producer_view_t;

/** DataSourceAnnounce (template 7). */
typedef struct tp_proto_data_source_announce_view_stct
{
    uint32_t stream_id;
    uint32_t producer_id;
    uint64_t epoch;
    uint32_t meta_version;
    tp_proto_str_t name;
    tp_proto_str_t summary;
}
tp_proto_data_source_announce_view_t;

/** One DataSourceMeta attribute. */
typedef struct tp_proto_attribute_view_stct
{
    tp_proto_str_t key;
    tp_proto_str_t format;
    tp_proto_bytes_t value;
}
tp_proto_attribute_view_t;

/**
 * Iterator over the DataSourceMeta attributes. The decode has already walked
 * and checked every element, so tp_proto_attribute_next() cannot fail on a
 * buffer that is unchanged since the decode.
 */
typedef struct tp_proto_attribute_iter_stct
{
    const uint8_t *buffer;
    size_t buffer_length;
    size_t position;       /**< start of the next element */
    size_t block_length;   /**< acting element block length */
    uint32_t remaining;
}
tp_proto_attribute_iter_t;

/** DataSourceMeta (template 8). */
typedef struct tp_proto_data_source_meta_view_stct
{
    uint32_t stream_id;
    uint32_t meta_version;
    uint64_t timestamp_ns;
    uint32_t attribute_count;                /**< 0..TP_PROTO_MAX_ATTRIBUTES */
    tp_proto_attribute_iter_t attributes;    /**< positioned at the first attribute */
}
tp_proto_data_source_meta_view_t;

/**
 * Next attribute of a decoded DataSourceMeta: returns 1 and fills *out, 0 at
 * the end, -1 (TOO_SHORT) if the buffer no longer matches the decode.
 * Iterate a copy of view.attributes to walk the list more than once.
 */
int tp_proto_attribute_next(tp_proto_attribute_iter_t *it, tp_proto_attribute_view_t *out);

/** MetaBlobAnnounce (template 10). */
typedef struct tp_proto_meta_blob_announce_view_stct
{
    uint32_t stream_id;
    uint32_t meta_version;
    uint32_t blob_type;
    uint64_t total_len;
    uint64_t checksum;
}
tp_proto_meta_blob_announce_view_t;

/** MetaBlobChunk (template 12). */
typedef struct tp_proto_meta_blob_chunk_view_stct
{
    uint32_t stream_id;
    uint32_t meta_version;
    uint64_t chunk_offset;
    tp_proto_bytes_t bytes;
}
tp_proto_meta_blob_chunk_view_t;

/** MetaBlobComplete (template 13). */
typedef struct tp_proto_meta_blob_complete_view_stct
{
    uint32_t stream_id;
    uint32_t meta_version;
    uint64_t checksum;
}
tp_proto_meta_blob_complete_view_t;

/** ControlResponse (template 9). */
typedef struct tp_proto_control_response_view_stct
{
    int64_t correlation_id;
    tp_sbe_wire_response_code_t code;
    tp_proto_str_t error_message;   /**< may be empty */
}
tp_proto_control_response_view_t;

/** Decode a ShmPoolAnnounce. */
int tp_proto_decode_shm_pool_announce(const uint8_t *buf, size_t len, tp_proto_shm_pool_announce_view_t *out);
/**
 * Encode a ShmPoolAnnounce (the one encoder of the standalone producer and
 * the driver): the message header and every field of `msg`, pools in array
 * order (region URIs need not be NUL-terminated). Padding is zeroed.
 * Returns 0 and sets *length_out (header included), or -1 with tp_err set
 * (TP_ERR_INVALID_ARGUMENT: NULL argument, pool_count not 1..TP_PROTO_MAX_POOLS,
 * or the message does not fit in `capacity`).
 */
int tp_proto_encode_shm_pool_announce(uint8_t *buf, size_t capacity, const tp_proto_shm_pool_announce_view_t *msg,
    size_t *length_out);

/**
 * Encode a ConsumerConfig (sent by the standalone producer and by the
 * driver's supervisor) from a view: header and every field, padding zeroed,
 * var-data in schema order (fallback URI, descriptor channel, control
 * channel; empty strings mean "none"). Returns 0 and sets *length_out
 * (header included), or -1 with tp_err set (TP_ERR_INVALID_ARGUMENT: NULL
 * argument or the message does not fit in `capacity`).
 */
int tp_proto_encode_consumer_config(uint8_t *buf, size_t capacity, const tp_proto_consumer_config_view_t *msg,
    size_t *length_out);

/** Decode a ConsumerHello. */
int tp_proto_decode_consumer_hello(const uint8_t *buf, size_t len, tp_proto_consumer_hello_view_t *out);
/** Decode a ConsumerConfig. */
int tp_proto_decode_consumer_config(const uint8_t *buf, size_t len, tp_proto_consumer_config_view_t *out);
/** Decode a FrameDescriptor. */
int tp_proto_decode_frame_descriptor(const uint8_t *buf, size_t len, tp_proto_frame_descriptor_view_t *out);
/** Decode a FrameProgress. */
int tp_proto_decode_frame_progress(const uint8_t *buf, size_t len, tp_proto_frame_progress_view_t *out);
/** Decode a QosConsumer. */
int tp_proto_decode_qos_consumer(const uint8_t *buf, size_t len, tp_proto_qos_consumer_view_t *out);
/** Decode a QosProducer. */
int tp_proto_decode_qos_producer(const uint8_t *buf, size_t len, tp_proto_qos_producer_view_t *out);
/** Decode a DataSourceAnnounce. */
int tp_proto_decode_data_source_announce(const uint8_t *buf, size_t len, tp_proto_data_source_announce_view_t *out);
/** Decode a DataSourceMeta (walks and checks every attribute). */
int tp_proto_decode_data_source_meta(const uint8_t *buf, size_t len, tp_proto_data_source_meta_view_t *out);
/** Decode a MetaBlobAnnounce. */
int tp_proto_decode_meta_blob_announce(const uint8_t *buf, size_t len, tp_proto_meta_blob_announce_view_t *out);
/** Decode a MetaBlobChunk. */
int tp_proto_decode_meta_blob_chunk(const uint8_t *buf, size_t len, tp_proto_meta_blob_chunk_view_t *out);
/** Decode a MetaBlobComplete. */
int tp_proto_decode_meta_blob_complete(const uint8_t *buf, size_t len, tp_proto_meta_blob_complete_view_t *out);
/** Decode a ControlResponse. */
int tp_proto_decode_control_response(const uint8_t *buf, size_t len, tp_proto_control_response_view_t *out);

/* ---------------------------------------------------------------- driver (901) */

/** ShmAttachRequest (template 1). */
typedef struct tp_proto_shm_attach_request_view_stct
{
    int64_t correlation_id;
    uint32_t stream_id;
    uint32_t client_id;
    tp_sbe_driver_role_t role;
    uint32_t expected_layout_version;
    bool has_publish_mode;
    tp_sbe_driver_publish_mode_t publish_mode;
    tp_sbe_driver_hugepages_policy_t require_hugepages;
    bool has_desired_node_id;
    uint32_t desired_node_id;
}
tp_proto_shm_attach_request_view_t;

/**
 * ShmAttachResponse (template 2). For code == OK the decode requires
 * lease_id, stream_id, epoch, layout_version, header_nslots,
 * header_slot_bytes, a non-empty header_region_uri and at least one pool
 * (driver spec §4: otherwise MISSING_REQUIRED); other codes may leave them null.
 */
typedef struct tp_proto_shm_attach_response_view_stct
{
    int64_t correlation_id;
    tp_sbe_driver_response_code_t code;
    bool has_lease_id;
    uint64_t lease_id;
    bool has_lease_expiry_timestamp_ns;
    uint64_t lease_expiry_timestamp_ns;
    bool has_stream_id;
    uint32_t stream_id;
    bool has_epoch;
    uint64_t epoch;
    bool has_layout_version;
    uint32_t layout_version;
    bool has_header_nslots;
    uint32_t header_nslots;
    bool has_header_slot_bytes;
    uint16_t header_slot_bytes;
    bool has_node_id;
    uint32_t node_id;
    uint32_t pool_count;                              /**< 0..TP_PROTO_MAX_POOLS */
    tp_proto_pool_view_t pools[TP_PROTO_MAX_POOLS];
    tp_proto_str_t header_region_uri;
    tp_proto_str_t error_message;
}
tp_proto_shm_attach_response_view_t;

/** ShmDetachRequest (template 3). */
typedef struct tp_proto_shm_detach_request_view_stct
{
    int64_t correlation_id;
    uint64_t lease_id;
    uint32_t stream_id;
    uint32_t client_id;
    tp_sbe_driver_role_t role;
}
tp_proto_shm_detach_request_view_t;

/** ShmDetachResponse (template 4). */
typedef struct tp_proto_shm_detach_response_view_stct
{
    int64_t correlation_id;
    tp_sbe_driver_response_code_t code;
    tp_proto_str_t error_message;
}
tp_proto_shm_detach_response_view_t;

/** ShmLeaseKeepalive (template 5). */
typedef struct tp_proto_shm_lease_keepalive_view_stct
{
    uint64_t lease_id;
    uint32_t stream_id;
    uint32_t client_id;
    tp_sbe_driver_role_t role;
    uint64_t client_timestamp_ns;
}
tp_proto_shm_lease_keepalive_view_t;

/** ShmDriverShutdown (template 6). */
typedef struct tp_proto_shm_driver_shutdown_view_stct
{
    uint64_t timestamp_ns;
    tp_sbe_driver_shutdown_reason_t reason;
    tp_proto_str_t error_message;
}
tp_proto_shm_driver_shutdown_view_t;

/** ShmLeaseRevoked (template 7). */
typedef struct tp_proto_shm_lease_revoked_view_stct
{
    uint64_t timestamp_ns;
    uint64_t lease_id;
    uint32_t stream_id;
    uint32_t client_id;
    tp_sbe_driver_role_t role;
    tp_sbe_driver_lease_revoke_reason_t reason;
    tp_proto_str_t error_message;
}
tp_proto_shm_lease_revoked_view_t;

/** ShmDriverShutdownRequest (template 8). */
typedef struct tp_proto_shm_driver_shutdown_request_view_stct
{
    int64_t correlation_id;
    tp_sbe_driver_shutdown_reason_t reason;
    tp_proto_str_t token;
    tp_proto_str_t error_message;
}
tp_proto_shm_driver_shutdown_request_view_t;

/** Decode a ShmAttachRequest. */
int tp_proto_decode_shm_attach_request(const uint8_t *buf, size_t len, tp_proto_shm_attach_request_view_t *out);
/** Decode a ShmAttachResponse. */
int tp_proto_decode_shm_attach_response(const uint8_t *buf, size_t len, tp_proto_shm_attach_response_view_t *out);
/** Decode a ShmDetachRequest. */
int tp_proto_decode_shm_detach_request(const uint8_t *buf, size_t len, tp_proto_shm_detach_request_view_t *out);
/** Decode a ShmDetachResponse. */
int tp_proto_decode_shm_detach_response(const uint8_t *buf, size_t len, tp_proto_shm_detach_response_view_t *out);
/** Decode a ShmLeaseKeepalive. */
int tp_proto_decode_shm_lease_keepalive(const uint8_t *buf, size_t len, tp_proto_shm_lease_keepalive_view_t *out);
/** Decode a ShmDriverShutdown. */
int tp_proto_decode_shm_driver_shutdown(const uint8_t *buf, size_t len, tp_proto_shm_driver_shutdown_view_t *out);
/** Decode a ShmLeaseRevoked. */
int tp_proto_decode_shm_lease_revoked(const uint8_t *buf, size_t len, tp_proto_shm_lease_revoked_view_t *out);
/** Decode a ShmDriverShutdownRequest. */
int tp_proto_decode_shm_driver_shutdown_request(const uint8_t *buf, size_t len,
    tp_proto_shm_driver_shutdown_request_view_t *out);

#endif
