/*
 * Bridge configuration (SHM Aeron-UDP Bridge spec v1.1 §10): a strict TOML
 * file (unknown keys, wrong types and out-of-range values are errors that
 * name the file, the line and the key). Reference: docs/BRIDGE.md.
 */
#ifndef TP_BRIDGE_TP_BRIDGE_CONFIG_H
#define TP_BRIDGE_TP_BRIDGE_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TP_BRIDGE_MAX_MAPPINGS 16
#define TP_BRIDGE_MAX_PROFILES 8
#define TP_BRIDGE_CHANNEL_MAX 256
#define TP_BRIDGE_NAME_MAX 64
#define TP_BRIDGE_PROFILE_MAX_POOLS 16

/** Which halves of the bridge this instance runs. */
typedef enum tp_bridge_role_en
{
    TP_BRIDGE_ROLE_SENDER = 1,
    TP_BRIDGE_ROLE_RECEIVER = 2,
    TP_BRIDGE_ROLE_BOTH = 3
}
tp_bridge_role_t;

/** A destination pool profile (`[profiles.<name>]`): the receiver's local layout. */
typedef struct tp_bridge_profile_stct
{
    char name[TP_BRIDGE_NAME_MAX];
    uint32_t header_nslots;
    uint32_t pool_count;
    uint32_t strides[TP_BRIDGE_PROFILE_MAX_POOLS];
}
tp_bridge_profile_t;

/** One `[[mappings]]` entry, with the per-mapping effective forwarding switches. */
typedef struct tp_bridge_mapping_config_stct
{
    uint32_t source_stream_id;
    uint32_t dest_stream_id;          /**< allocated from bridge.dest_stream_id_range when configured as 0 */
    bool dest_allocated;
    char profile[TP_BRIDGE_NAME_MAX]; /**< "mirror" (default: the source announce's layout) or a [profiles] name */
    int profile_index;                /**< -1 = mirror */
    uint32_t metadata_stream_id;      /**< stream_id written into forwarded metadata (default dest_stream_id) */
    uint32_t source_control_stream_id;
    uint32_t dest_control_stream_id;
    bool forward_metadata;            /**< effective: bridge.forward_metadata and a metadata channel */
    bool forward_tracelink;
    bool forward_progress;
    bool forward_qos;
}
tp_bridge_mapping_config_t;

/** The whole configuration; fill with tp_bridge_config_defaults() then load. */
typedef struct tp_bridge_config_stct
{
    char instance_id[TP_BRIDGE_NAME_MAX];
    tp_bridge_role_t role;                          /**< bridge.role: "sender", "receiver", "both" (default) */
    char payload_channel[TP_BRIDGE_CHANNEL_MAX];
    uint32_t payload_stream_id;
    char control_channel[TP_BRIDGE_CHANNEL_MAX];
    uint32_t control_stream_id;
    char metadata_channel[TP_BRIDGE_CHANNEL_MAX];   /**< "" = metadata forwarding disabled */
    uint32_t metadata_stream_id;
    uint32_t source_metadata_stream_id;             /**< default: local.metadata_stream_id */
    uint32_t mtu_bytes;                             /**< default: the payload channel's mtu= or 1408 */
    uint32_t chunk_bytes;                           /**< 0 = unset */
    uint32_t max_chunk_bytes;                       /**< default 65535 */
    uint32_t max_payload_bytes;                     /**< default 1 GiB */
    bool integrity_crc32c;
    bool forward_metadata;                          /**< default true (needs a metadata channel) */
    bool forward_metadata_set;                      /**< written explicitly in the file */
    bool forward_tracelink;
    bool forward_qos;
    bool forward_progress;
    uint32_t assembly_timeout_ms;                   /**< default 250 */
    uint32_t max_inflight_frames;                   /**< frames assembled at once per mapping (default 4) */
    uint32_t send_timeout_ms;                       /**< sender: how long a back-pressured chunk is retried (default 100) */
    uint32_t announce_forward_ms;                   /**< sender: re-forward the latest announce this often (default 1000) */
    bool range_set;
    uint32_t range_first;
    uint32_t range_last;
    /* the local host ([local]) */
    char transport_backend[16];                     /**< "embedded" (default) or "aeron" */
    char transport_dir[PATH_MAX];                   /**< "" = default */
    char shm_base_dir[PATH_MAX];                    /**< "" = the client default */
    char namespace_name[TP_BRIDGE_NAME_MAX];        /**< "" = the client default */
    bool driver_mode;
    char local_channel[TP_BRIDGE_CHANNEL_MAX];      /**< default "aeron:ipc" */
    uint32_t local_control_stream_id;               /**< 1000 */
    uint32_t local_announce_stream_id;              /**< default: the control stream */
    uint32_t local_descriptor_stream_id;            /**< 1100 */
    uint32_t local_qos_stream_id;                   /**< 1200 */
    uint32_t local_metadata_stream_id;              /**< 1300 */
    uint32_t announce_period_ms;                    /**< local producers' announce period (default 1000) */
    size_t mapping_count;
    tp_bridge_mapping_config_t mappings[TP_BRIDGE_MAX_MAPPINGS];
    size_t profile_count;
    tp_bridge_profile_t profiles[TP_BRIDGE_MAX_PROFILES];
}
tp_bridge_config_t;

/** Fill the defaults (no mappings; required keys empty). */
void tp_bridge_config_defaults(tp_bridge_config_t *c);

/** Load and validate a TOML file over the defaults. Returns 0, or -1 with TP_ERR_CONFIG "file:line: key: reason". */
int tp_bridge_config_load_file(tp_bridge_config_t *c, const char *path);

/** Same from a string (`name` appears in error messages). */
int tp_bridge_config_load_string(tp_bridge_config_t *c, const char *text, size_t len, const char *name);

/** Effective chunk payload bound: min(chunk_bytes if set, mtu_bytes - 128, max_chunk_bytes) (§5.2, §10). */
uint32_t tp_bridge_config_chunk_bytes(const tp_bridge_config_t *c);

#endif
