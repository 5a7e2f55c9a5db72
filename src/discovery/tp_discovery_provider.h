/*
 * Discovery Provider (internal): answers DiscoveryRequest from a registry
 * (Discovery spec §2.2, §4, §5). Embedded in the SHM driver
 * (src/driver/tp_driver_discovery.c feeds it from the driver's own streams)
 * or standalone (`tp discovery serve`, fed by the ShmPoolAnnounce /
 * DataSourceAnnounce / DataSourceMeta it hears from each configured driver).
 *
 * Requests: heard on the provider's own subscription (channel/stream_id of
 * the config), or handed in by the owner (tp_discovery_provider_on_request)
 * when the request stream is shared with other control traffic (the driver's
 * control stream): messages are gated on schemaId 910 and the template id
 * (§4.2), anything else is ignored.
 *
 * Responses (§4.3) go to the endpoint the request names, on a publication
 * from a small cache (TP_DISCOVERY_MAX_RESPONSE_PUBS, least recently used
 * replaced); a response waits (bounded: TP_DISCOVERY_MAX_PENDING, 1 s) for
 * the endpoint to connect. Validation (§5.1): an empty response channel or a
 * channel that is not a well-formed `aeron:` URI of printable ASCII is
 * dropped silently (counted); so is a channel the response endpoint
 * allow-list refuses (DISC-3: an ERROR would go to that very endpoint); a
 * response stream id of 0 with a usable channel is answered ERROR. Every response is in the layout the request
 * used (DECISIONS D1): a reference-tool peer gets bytes it can decode.
 *
 * Single-threaded: the owner's duty cycle calls everything.
 */
#ifndef TP_DISCOVERY_TP_DISCOVERY_PROVIDER_H
#define TP_DISCOVERY_TP_DISCOVERY_PROVIDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "discovery/tp_discovery_allow.h"
#include "discovery/tp_discovery_registry.h"
#include "transport/tp_transport.h"

#define TP_DISCOVERY_MAX_SOURCES 16u
#define TP_DISCOVERY_MAX_CONFIG_STREAMS 64u
#define TP_DISCOVERY_MAX_RESPONSE_PUBS 16u
#define TP_DISCOVERY_MAX_PENDING 8u
#define TP_DISCOVERY_PENDING_TIMEOUT_NS (UINT64_C(1000000000))
/** Default result cap (§5.2 RECOMMENDED: 1000). */
#define TP_DISCOVERY_DEFAULT_MAX_RESULTS 1000u
/** Largest response we encode. */
#define TP_DISCOVERY_RESPONSE_BUFFER (1024u * 1024u)
/** Default standalone endpoints (STREAM_ID_CONVENTIONS.md). */
#define TP_DISCOVERY_DEFAULT_CHANNEL "aeron:ipc?term-length=4m"
#define TP_DISCOVERY_DEFAULT_STREAM_ID 7000u
#define TP_DISCOVERY_DEFAULT_ANNOUNCE_PERIOD_MS 1000u

/** One driver whose streams a provider indexes, and where to hear it. */
typedef struct tp_discovery_source_config_stct
{
    char name[64];                                          /**< label (config table name) */
    char instance_id[TP_DISCOVERY_INSTANCE_ID_MAX + 1];     /**< driver_instance_id of its results */
    char control_channel[TP_DISCOVERY_CHANNEL_MAX + 1];     /**< driver_control_channel of its results */
    uint32_t control_stream_id;                             /**< driver_control_stream_id (non-zero) */
    char announce_channel[TP_DISCOVERY_CHANNEL_MAX + 1];    /**< "" = fed by the owner (embedded) */
    uint32_t announce_stream_id;
    char metadata_channel[TP_DISCOVERY_CHANNEL_MAX + 1];    /**< "" = no metadata subscription */
    uint32_t metadata_stream_id;
    uint32_t announce_period_ms;                            /**< expiry = 3 x this (§6.2) */
}
tp_discovery_source_config_t;

/** Configured metadata of one stream (`[discovery.streams.<name>]`). */
typedef struct tp_discovery_stream_config_stct
{
    char name[64];
    uint32_t source;                                        /**< index into sources */
    uint32_t stream_id;
    uint32_t tag_count;
    char tags[TP_DISCOVERY_MAX_TAGS][TP_DISCOVERY_TAG_MAX + 1];
    bool has_data_source_id;
    uint64_t data_source_id;
    char data_source_name[TP_DISCOVERY_NAME_MAX + 1];
}
tp_discovery_stream_config_t;

/** Provider configuration (plain value; tp_discovery_provider_config_defaults). */
typedef struct tp_discovery_provider_config_stct
{
    char channel[TP_DISCOVERY_CHANNEL_MAX + 1];   /**< request channel */
    uint32_t stream_id;                           /**< request stream id */
    bool own_subscription;                        /**< false: the owner hands requests in */
    uint32_t max_results;                         /**< 1..TP_PROTO_DISCOVERY_MAX_RESULTS */
    uint32_t max_entries;                         /**< registry size */
    uint32_t source_count;
    tp_discovery_source_config_t sources[TP_DISCOVERY_MAX_SOURCES];
    uint32_t stream_count;
    tp_discovery_stream_config_t streams[TP_DISCOVERY_MAX_CONFIG_STREAMS];
    /** Response endpoint allow-list (tp_discovery_allow.h; default IPC + loopback UDP, DISC-3). */
    uint32_t response_rule_count;
    char response_rules[TP_DISCOVERY_MAX_RESPONSE_RULES][TP_DISCOVERY_RESPONSE_RULE_MAX];
    /** Called before each query is answered (the embedded provider syncs from the driver). May be NULL. */
    void (*before_query)(void *clientd, uint64_t now_ns);
    void *before_query_clientd;
    /** Sampled query log (§13): the 1st request and every Nth after it at INFO (module "discovery"); 0 = off. */
    uint32_t query_log_every;
}
tp_discovery_provider_config_t;

/** Counters. */
typedef struct tp_discovery_provider_stats_stct
{
    uint64_t requests;              /**< decoded requests */
    uint64_t requests_reference;    /**< of which in the reference layout */
    uint64_t queries_logged;        /**< requests written to the sampled query log (§13) */
    uint64_t responses_ok;
    uint64_t responses_error;
    uint64_t dropped_malformed;     /**< undecodable requests */
    uint64_t dropped_empty_channel; /**< empty response channel: dropped silently (§5.1) */
    uint64_t dropped_bad_channel;   /**< response channel unusable (not a valid aeron: URI, add failed) */
    uint64_t dropped_refused_channel; /**< response channel not allowed by response_endpoints (DISC-3) */
    uint64_t dropped_busy;          /**< no free pending slot */
    uint64_t undelivered;           /**< response not taken within the pending timeout */
    uint64_t announces;             /**< announces indexed from subscriptions */
    uint64_t announces_malformed;
    uint64_t metadata;              /**< DataSourceAnnounce / DataSourceMeta indexed */
    uint64_t ignored;               /**< other messages on the request or source streams */
}
tp_discovery_provider_stats_t;

/** Default sampling of the query log: the first request and every 1024th. */
#define TP_DISCOVERY_DEFAULT_QUERY_LOG_EVERY 1024u

typedef struct tp_discovery_provider_stct tp_discovery_provider_t;

/**
 * Defaults: standalone endpoint 7000, own subscription, 1000 results, 1024 entries, no sources, responses to IPC and
 * loopback UDP, one query in TP_DISCOVERY_DEFAULT_QUERY_LOG_EVERY logged.
 */
void tp_discovery_provider_config_defaults(tp_discovery_provider_config_t *c);

/**
 * Check a configuration: channels are `aeron:` URIs, stream ids non-zero,
 * sources with an instance id and a control endpoint, stream metadata
 * within the caps, 1..TP_DISCOVERY_MAX_RESPONSE_RULES valid response
 * endpoint entries. Returns 0 or -1 (TP_ERR_CONFIG naming the key).
 */
int tp_discovery_provider_config_validate(const tp_discovery_provider_config_t *c);

/**
 * Create a provider on transport `t` (not owned; must outlive it): the
 * request subscription (when own_subscription), the source subscriptions,
 * the registry with the configured stream metadata. Returns 0 or -1.
 */
int tp_discovery_provider_init(tp_discovery_provider_t **out, tp_transport_t *t, const tp_discovery_provider_config_t *c);

/** Close (NULL is fine): publications, subscriptions, registry. */
void tp_discovery_provider_close(tp_discovery_provider_t *p);

/** Poll the subscriptions, deliver pending responses, expire entries. Returns work count. */
int tp_discovery_provider_do_work(tp_discovery_provider_t *p, uint64_t now_ns);

/**
 * Handle one message of a shared control stream: a DiscoveryRequest is
 * answered, anything else (other schema or template) is ignored. Returns 1
 * if it was a discovery message (answered or dropped), 0 if ignored.
 */
int tp_discovery_provider_on_request(tp_discovery_provider_t *p, const uint8_t *buf, size_t len, uint64_t now_ns);

/** The registry (the embedded owner feeds it directly). */
tp_discovery_registry_t *tp_discovery_provider_registry(tp_discovery_provider_t *p);

/** Expiry window of source `index` (3 x its announce period). */
uint64_t tp_discovery_provider_source_expiry_ns(const tp_discovery_provider_t *p, uint32_t index);

/** Counters. */
void tp_discovery_provider_stats(const tp_discovery_provider_t *p, tp_discovery_provider_stats_t *out);

/**
 * Whether `channel` (length bytes, not NUL-terminated) is usable as a
 * response endpoint: 1..TP_PROTO_DISCOVERY_CHANNEL_MAX bytes of printable
 * ASCII, an `aeron:ipc` or `aeron:udp` URI that parses.
 */
bool tp_discovery_channel_valid(const char *channel, size_t length);

#endif
