/*
 * tensorpool: Discovery client (Discovery Service spec v1.0).
 *
 * A Discovery Provider (embedded in the SHM driver, or the standalone
 * `tp discovery serve`) keeps an advisory index of the streams that drivers
 * announce. A discovery client sends a DiscoveryRequest with optional
 * filters (AND: stream id, producer id, data source id, data source name,
 * tags) and collects the DiscoveryResponse on its own response endpoint.
 *
 *     tp_discovery_client_options_t o;
 *     tp_discovery_client_options_defaults(&o);        // request: the context's control stream
 *     tp_discovery_client_t *dc;
 *     tp_discovery_client_init(&dc, ctx, &o);
 *     tp_discovery_query_t q;
 *     tp_discovery_query_init(&q);
 *     q.has_stream_id = true; q.stream_id = 10000;
 *     tp_discovery_results_t *res;
 *     if (tp_discovery_query(dc, &q, &res) == 0) {
 *         for (size_t i = 0; i < tp_discovery_results_count(res); i++) {
 *             const tp_discovery_result_t *r = tp_discovery_results_at(res, i);
 *             // r->driver_control_channel / r->driver_control_stream_id: where to attach
 *         }
 *         tp_discovery_results_close(res);
 *     }
 *     tp_discovery_client_close(dc);
 *
 * Authority (spec §3, §7): results are advisory snapshots. The driver named
 * by a result (driver_control_channel / driver_control_stream_id) is the
 * authority: attach there (tp_context_set_driver_mode + the control stream),
 * and let the attach validate epoch, layout version and superblocks. Never
 * map the region URIs of a result directly.
 *
 * What the client checks for you (§5.2, §7, §10): responses with another
 * request id are dropped; messages of another schema or a newer schema
 * version are rejected; results of a non-OK status are ignored; results
 * with an empty control channel, a zero control stream id, or a pool whose
 * pool_nslots differs from header_nslots are dropped (counted in
 * tp_discovery_results_invalid); results are de-duplicated by
 * (driver_instance_id, stream_id), keeping the highest epoch.
 *
 * Threading: a client is used by one thread at a time. It owns its own
 * transport connection (the context's backend and directory), so it does not
 * need a tp_client.
 */
#ifndef TENSOR_POOL_TP_DISCOVERY_H
#define TENSOR_POOL_TP_DISCOVERY_H

#include "tensor_pool/tp_common.h"
#include "tensor_pool/tp_context.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Default response endpoint (STREAM_ID_CONVENTIONS.md: discovery response stream 7004). */
#define TP_DISCOVERY_DEFAULT_RESPONSE_CHANNEL "aeron:ipc?term-length=4m"
#define TP_DISCOVERY_DEFAULT_RESPONSE_STREAM_ID 7004
/** Most tags a query may carry. */
#define TP_DISCOVERY_QUERY_MAX_TAGS 32
/** Most payload pools per result. */
#define TP_DISCOVERY_RESULT_MAX_POOLS 16

/** Opaque discovery client. */
typedef struct tp_discovery_client_stct tp_discovery_client_t;

/** Opaque result set of one query. */
typedef struct tp_discovery_results_stct tp_discovery_results_t;

/** Client options (caller-owned; strings are copied by init). */
typedef struct tp_discovery_client_options_stct
{
    /** Provider request channel; NULL = the context's control channel (embedded provider). */
    const char *request_channel;
    /** Provider request stream id; 0 = the context's control stream id. */
    int32_t request_stream_id;
    /** Where the provider answers (§4.3); NULL = TP_DISCOVERY_DEFAULT_RESPONSE_CHANNEL. */
    const char *response_channel;
    /** Response stream id (non-zero); 0 = TP_DISCOVERY_DEFAULT_RESPONSE_STREAM_ID. */
    int32_t response_stream_id;
    /** Opaque client id sent with every request (§5.1: not an authentication token). */
    uint32_t client_id;
    /** How long one attempt waits for the response (default 1 s). */
    uint64_t attempt_timeout_ns;
    /** Attempts before giving up (default 3; the same request id is resent). */
    uint32_t attempts;
} tp_discovery_client_options_t;

/** Fill `o` with the defaults above. */
TP_EXPORT void tp_discovery_client_options_defaults(tp_discovery_client_options_t *o);

/**
 * Create a client: connects to the context's transport (backend and
 * directory), adds the request publication and the response subscription.
 * Returns 0 or -1 (bad option, transport unavailable).
 */
TP_EXPORT int tp_discovery_client_init(tp_discovery_client_t **out, const tp_context_t *ctx,
    const tp_discovery_client_options_t *options);

/** Close a client (NULL is fine). Result sets stay valid. */
TP_EXPORT int tp_discovery_client_close(tp_discovery_client_t *client);

/** A query: filters combine with AND; an unset filter matches everything (§5.1). */
typedef struct tp_discovery_query_stct
{
    bool has_stream_id;
    uint32_t stream_id;
    bool has_producer_id;
    uint32_t producer_id;
    bool has_data_source_id;
    uint64_t data_source_id;
    /** Exact, case-sensitive, byte-for-byte name; NULL or "" = no filter. */
    const char *data_source_name;
    /** Every tag must be on the stream (case-sensitive); duplicates count once. */
    const char *const *tags;
    size_t tag_count;
} tp_discovery_query_t;

/** Reset a query to "no filter". */
TP_EXPORT void tp_discovery_query_init(tp_discovery_query_t *q);

/**
 * Send `q` and wait for the response: each attempt resends the request
 * (same request id) and polls up to attempt_timeout_ns. Returns 0 and a
 * result set (free with tp_discovery_results_close) when a response
 * arrived — check tp_discovery_results_status(): an ERROR response is a
 * result set too — or -1: TP_ERR_TIMEOUT when no response came after every
 * attempt (no provider on the request stream, or it cannot reach the
 * response endpoint), TP_ERR_INVALID_ARGUMENT for a bad query.
 */
TP_EXPORT int tp_discovery_query(tp_discovery_client_t *client, const tp_discovery_query_t *q,
    tp_discovery_results_t **out);

/** Response status. */
typedef enum tp_discovery_status_enum
{
    TP_DISCOVERY_STATUS_OK = 1,
    TP_DISCOVERY_STATUS_NOT_FOUND = 2,
    TP_DISCOVERY_STATUS_ERROR = 3
} tp_discovery_status_t;

/** One payload pool of a result (informational, §5.2). */
typedef struct tp_discovery_pool_stct
{
    uint16_t pool_id;
    uint32_t pool_nslots;
    uint32_t stride_bytes;
    const char *region_uri;
} tp_discovery_pool_t;

/** One stream (strings NUL-terminated, owned by the result set). */
typedef struct tp_discovery_result_stct
{
    uint32_t stream_id;
    uint32_t producer_id;
    uint64_t epoch;
    uint32_t layout_version;
    uint32_t header_nslots;
    uint16_t header_slot_bytes;
    uint8_t max_dims;
    const char *header_region_uri;
    size_t pool_count;
    tp_discovery_pool_t pools[TP_DISCOVERY_RESULT_MAX_POOLS];
    bool has_data_source_id;
    uint64_t data_source_id;
    const char *data_source_name;   /**< "" when not provided */
    size_t tag_count;
    const char *const *tags;        /**< the stream's full tag set (order unspecified) */
    const char *driver_instance_id; /**< authority (attach there) */
    const char *driver_control_channel;
    uint32_t driver_control_stream_id;
} tp_discovery_result_t;

/** Status of the response. */
TP_EXPORT tp_discovery_status_t tp_discovery_results_status(const tp_discovery_results_t *r);

/** The provider's error message ("" when none). */
TP_EXPORT const char *tp_discovery_results_error(const tp_discovery_results_t *r);

/** Number of valid results (0 unless the status is OK). */
TP_EXPORT size_t tp_discovery_results_count(const tp_discovery_results_t *r);

/** Result `index` (NULL when out of range). */
TP_EXPORT const tp_discovery_result_t *tp_discovery_results_at(const tp_discovery_results_t *r, size_t index);

/** Results the client dropped as invalid (empty/zero authority, pool_nslots != header_nslots). */
TP_EXPORT size_t tp_discovery_results_invalid(const tp_discovery_results_t *r);

/**
 * Point `ctx` at the authority of result `r` (§5.2: clients MUST use the
 * authority fields to attach): driver mode on, the control stream set to
 * r->driver_control_channel / r->driver_control_stream_id. A tp_client made
 * from `ctx` then attaches through that driver, which grants the current
 * epoch and layout; the client validates them and the superblocks and follows
 * ShmPoolAnnounce for liveness (§7). Returns 0, or -1 (TP_ERR_INVALID_ARGUMENT:
 * NULL, empty channel or zero stream id).
 */
TP_EXPORT int tp_discovery_result_apply_to_context(const tp_discovery_result_t *r, tp_context_t *ctx);

/** Free a result set (NULL is fine). */
TP_EXPORT void tp_discovery_results_close(tp_discovery_results_t *r);

/** Client counters. */
typedef struct tp_discovery_client_stats_stct
{
    uint64_t requests_sent;
    uint64_t responses;            /**< responses matched to a request */
    uint64_t dropped_unknown_id;   /**< responses with another request id */
    uint64_t dropped_malformed;    /**< undecodable or unsupported-version messages on the response stream */
    uint64_t timeouts;
} tp_discovery_client_stats_t;

/** Copy the counters. Returns 0 or -1. */
TP_EXPORT int tp_discovery_client_stats(const tp_discovery_client_t *client, tp_discovery_client_stats_t *out);

#ifdef __cplusplus
}
#endif

#endif /* TENSOR_POOL_TP_DISCOVERY_H */
