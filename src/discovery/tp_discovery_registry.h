/*
 * Discovery registry (internal): the soft-state index of a Discovery
 * Provider (Discovery spec §6), keyed by (driver_instance_id, stream_id).
 *
 * - Source inputs (§6.4): ShmPoolAnnounce for the SHM layout and epoch
 *   (tp_discovery_registry_on_announce), DataSourceAnnounce / DataSourceMeta
 *   for metadata, the driver identity and control endpoint from the caller
 *   (the driver's own configuration, or the provider's per-source config).
 * - Expiry (§6.2): an entry expires `expiry_ns` after its last announce
 *   (3 x announce period by default); expired entries are never returned and
 *   are removed by tp_discovery_registry_expire().
 * - Conflicts (§6.3): a newer epoch replaces the entry; an older epoch is
 *   dropped (counted) unless a driver restart is known: the driver's control
 *   endpoint changed, or the entry had expired.
 * - Bounded memory: `max_entries` entries allocated at init; the region URIs
 *   of an entry live in one buffer of at most TP_DISCOVERY_ENTRY_URI_BYTES;
 *   names, tags and ids have the fixed caps below. Announces beyond the caps
 *   are refused and counted, never truncated (names are returned byte for
 *   byte, §5.1).
 *
 * Single-threaded: the owner's duty cycle calls everything.
 */
#ifndef TP_DISCOVERY_TP_DISCOVERY_REGISTRY_H
#define TP_DISCOVERY_TP_DISCOVERY_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/tp_proto.h"
#include "protocol/tp_proto_discovery.h"

/** Longest driver instance id stored. */
#define TP_DISCOVERY_INSTANCE_ID_MAX 128u
/** Longest driver control channel stored. */
#define TP_DISCOVERY_CHANNEL_MAX 512u
/** Longest data source name stored (§5.1: SHOULD be at most 256 bytes). */
#define TP_DISCOVERY_NAME_MAX 256u
/** Most tags of one entry (configured + announced). */
#define TP_DISCOVERY_MAX_TAGS 16u
/** Longest tag stored. */
#define TP_DISCOVERY_TAG_MAX 64u
/** Most bytes of region URIs (header + pools) of one entry. */
#define TP_DISCOVERY_ENTRY_URI_BYTES 16384u
/** Default and largest number of entries. */
#define TP_DISCOVERY_DEFAULT_MAX_ENTRIES 1024u
#define TP_DISCOVERY_MAX_ENTRIES_LIMIT 65536u

/** The authority of a source: the driver that owns the streams it announces (§5.2 authority fields). */
typedef struct tp_discovery_authority_stct
{
    const char *instance_id;
    const char *control_channel;
    uint32_t control_stream_id;
}
tp_discovery_authority_t;

/** What tp_discovery_registry_on_announce did. */
typedef enum tp_discovery_upsert_en
{
    TP_DISCOVERY_UPSERT_INSERTED = 0,
    TP_DISCOVERY_UPSERT_REFRESHED = 1,   /**< same epoch */
    TP_DISCOVERY_UPSERT_REPLACED = 2,    /**< newer epoch */
    TP_DISCOVERY_UPSERT_RESTARTED = 3,   /**< older epoch accepted: endpoint changed or entry expired */
    TP_DISCOVERY_UPSERT_REGRESSED = 4,   /**< older epoch dropped */
    TP_DISCOVERY_UPSERT_REFUSED = 5      /**< registry full, or a value over a cap */
}
tp_discovery_upsert_t;

/** Counters. */
typedef struct tp_discovery_registry_stats_stct
{
    uint64_t entries;            /**< entries in use (announced or metadata only) */
    uint64_t inserted;
    uint64_t refreshed;
    uint64_t replaced;           /**< newer epoch replaced an entry */
    uint64_t restarts;           /**< older epoch accepted (restart known) */
    uint64_t regressions;        /**< older epoch dropped */
    uint64_t expired;            /**< entries removed by expiry */
    uint64_t refused_full;       /**< no free entry */
    uint64_t refused_caps;       /**< a string, tag count or URI size over a cap */
    uint64_t metadata_updates;
}
tp_discovery_registry_stats_t;

typedef struct tp_discovery_registry_stct tp_discovery_registry_t;

/** An entry (read-only to callers). */
typedef struct tp_discovery_entry_stct tp_discovery_entry_t;

/** Create a registry of `max_entries` (1..TP_DISCOVERY_MAX_ENTRIES_LIMIT). Returns 0 or -1. */
int tp_discovery_registry_init(tp_discovery_registry_t **out, uint32_t max_entries);

/** Free it (NULL is fine). */
void tp_discovery_registry_close(tp_discovery_registry_t *r);

/**
 * Index a ShmPoolAnnounce heard from (or produced by) the driver `a`;
 * `expiry_ns` is this entry's window (3 x the announce period). Returns what
 * was done; REFUSED also sets tp_err.
 */
tp_discovery_upsert_t tp_discovery_registry_on_announce(tp_discovery_registry_t *r, const tp_discovery_authority_t *a,
    const tp_proto_shm_pool_announce_view_t *v, uint64_t now_ns, uint64_t expiry_ns);

/**
 * Index a DataSourceAnnounce (the data source name) of driver `instance_id`.
 * Creates a metadata-only entry (never returned until announced) when the
 * stream is not known yet. Returns 0, or -1 (full, or name over the cap).
 */
int tp_discovery_registry_on_data_source(tp_discovery_registry_t *r, const char *instance_id,
    const tp_proto_data_source_announce_view_t *v, uint64_t now_ns, uint64_t expiry_ns);

/**
 * Index a DataSourceMeta: attributes with key "tag" add their value as a tag,
 * key "tags" a comma-separated list, key "data_source_id" a decimal id
 * (docs/DISCOVERY.md). The announced tags replace the previously announced
 * ones (configured tags stay). Returns 0 or -1.
 */
int tp_discovery_registry_on_meta(tp_discovery_registry_t *r, const char *instance_id,
    const tp_proto_data_source_meta_view_t *v, uint64_t now_ns, uint64_t expiry_ns);

/**
 * Configured metadata of (instance_id, stream_id): tags (always part of the
 * tag set), a data source id and a name used until one is announced. Kept
 * for the registry's life and applied to the entry whenever it exists.
 * Returns 0 or -1 (caps; at most TP_DISCOVERY_MAX_STATIC records).
 */
#define TP_DISCOVERY_MAX_STATIC 256u
int tp_discovery_registry_set_static(tp_discovery_registry_t *r, const char *instance_id, uint32_t stream_id,
    const char *const *tags, size_t tag_count, bool has_data_source_id, uint64_t data_source_id, const char *name);

/** Remove (instance_id, stream_id) now (the driver knows the stream is gone). Returns 1 if removed, 0 if absent. */
int tp_discovery_registry_remove(tp_discovery_registry_t *r, const char *instance_id, uint32_t stream_id);

/** Remove the expired entries. Returns how many. */
size_t tp_discovery_registry_expire(tp_discovery_registry_t *r, uint64_t now_ns);

/**
 * Entries matching request `q` (AND of its filters, §5.1; tags compared
 * byte for byte, duplicates count once, empty tags ignored) that are
 * announced, not expired, and have a valid authority (non-empty control
 * channel, non-zero control stream id, §5.2). Stores up to `max` of them in
 * out[] and returns the number of matches (which may exceed `max`).
 */
size_t tp_discovery_registry_query(const tp_discovery_registry_t *r, const tp_proto_discovery_request_view_t *q,
    uint64_t now_ns, const tp_discovery_entry_t **out, size_t max);

/** Fill a result view from an entry (pointers into the entry: valid until the registry changes). */
void tp_discovery_registry_result(const tp_discovery_entry_t *e, tp_proto_discovery_result_view_t *out);

/** The entry of (instance_id, stream_id), or NULL. */
const tp_discovery_entry_t *tp_discovery_registry_find(const tp_discovery_registry_t *r, const char *instance_id,
    uint32_t stream_id);

/** Whether `e` has an announce and has not expired at now_ns. */
bool tp_discovery_entry_live(const tp_discovery_entry_t *e, uint64_t now_ns);

/** Epoch of an entry. */
uint64_t tp_discovery_entry_epoch(const tp_discovery_entry_t *e);

/** Counters. */
void tp_discovery_registry_stats(const tp_discovery_registry_t *r, tp_discovery_registry_stats_t *out);

#endif
