/*
 * Discovery Provider: request handling, response endpoints, source
 * subscriptions. See tp_discovery_provider.h.
 */
#include "discovery/tp_discovery_provider.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/tp_error.h"
#include "common/tp_log.h"
#include "common/tp_uri.h"

typedef struct disc_pub_stct
{
    bool in_use;
    char channel[TP_PROTO_DISCOVERY_CHANNEL_MAX + 1];
    int32_t stream_id;
    tp_publication_t *pub;                 /* NULL while the add is pending */
    tp_async_add_publication_t *async;
    uint64_t last_used_ns;
}
disc_pub_t;

typedef struct disc_pending_stct
{
    bool in_use;
    uint32_t pub;            /* index into pubs */
    uint8_t *bytes;
    size_t length;
    bool ok;                 /* status OK (for the counters) */
    uint64_t deadline_ns;
}
disc_pending_t;

typedef struct disc_source_stct
{
    tp_subscription_t *announce_sub;
    tp_subscription_t *metadata_sub;   /* NULL when none or the same stream as announce_sub */
}
disc_source_t;

struct tp_discovery_provider_stct
{
    tp_discovery_provider_config_t config;
    tp_transport_t *transport;
    tp_subscription_t *request_sub;
    disc_source_t sources[TP_DISCOVERY_MAX_SOURCES];
    tp_discovery_registry_t *registry;
    disc_pub_t pubs[TP_DISCOVERY_MAX_RESPONSE_PUBS];
    disc_pending_t pending[TP_DISCOVERY_MAX_PENDING];
    uint8_t *buffer;                              /* TP_DISCOVERY_RESPONSE_BUFFER */
    const tp_discovery_entry_t **matches;         /* max_results */
    uint64_t now_ns;                              /* of the current duty cycle (handlers) */
    uint32_t current_source;                      /* source of the message being handled */
    uint64_t last_expire_ns;
    tp_discovery_provider_stats_t stats;
};

void tp_discovery_provider_config_defaults(tp_discovery_provider_config_t *c)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->channel, sizeof(c->channel), "%s", TP_DISCOVERY_DEFAULT_CHANNEL);
    c->stream_id = TP_DISCOVERY_DEFAULT_STREAM_ID;
    c->own_subscription = true;
    c->max_results = TP_DISCOVERY_DEFAULT_MAX_RESULTS;
    c->max_entries = TP_DISCOVERY_DEFAULT_MAX_ENTRIES;
    c->query_log_every = TP_DISCOVERY_DEFAULT_QUERY_LOG_EVERY;
    static const char *const rules[] = TP_DISCOVERY_DEFAULT_RESPONSE_RULES;
    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
    {
        snprintf(c->response_rules[c->response_rule_count++], TP_DISCOVERY_RESPONSE_RULE_MAX, "%s", rules[i]);
    }
}

bool tp_discovery_channel_valid(const char *channel, size_t length)
{
    if (NULL == channel || 0 == length || length > TP_PROTO_DISCOVERY_CHANNEL_MAX || length >= TP_URI_MAX_LENGTH)
    {
        return false;
    }
    for (size_t i = 0; i < length; i++)
    {
        if (channel[i] < 0x21 || channel[i] > 0x7e)
        {
            return false;
        }
    }
    char text[TP_URI_MAX_LENGTH];
    memcpy(text, channel, length);
    text[length] = '\0';
    tp_uri_t uri;
    return 0 == tp_uri_parse(text, &uri);
}

static bool channel_ok(const char *c)
{
    return tp_discovery_channel_valid(c, strlen(c));
}

int tp_discovery_provider_config_validate(const tp_discovery_provider_config_t *c)
{
    if (NULL == c)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "discovery config: NULL");
    }
    if (!channel_ok(c->channel) || 0 == c->stream_id)
    {
        return tp_err_set(TP_ERR_CONFIG, "discovery.channel/stream_id: an aeron:ipc or aeron:udp URI and a non-zero "
            "stream id, got \"%s\" / %u", c->channel, c->stream_id);
    }
    if (0 == c->response_rule_count || c->response_rule_count > TP_DISCOVERY_MAX_RESPONSE_RULES)
    {
        return tp_err_set(TP_ERR_CONFIG, "discovery.response_endpoints: 1..%u entries (none answers no one), got %u",
            TP_DISCOVERY_MAX_RESPONSE_RULES, c->response_rule_count);
    }
    for (uint32_t i = 0; i < c->response_rule_count; i++)
    {
        if (NULL == memchr(c->response_rules[i], '\0', TP_DISCOVERY_RESPONSE_RULE_MAX) ||
            tp_discovery_response_rule_check(c->response_rules[i]) < 0)
        {
            return tp_err_prepend("discovery.response_endpoints[%u]", i);
        }
    }
    if (0 == c->max_results || c->max_results > TP_PROTO_DISCOVERY_MAX_RESULTS)
    {
        return tp_err_set(TP_ERR_CONFIG, "discovery.max_results: 1..%u, got %u", TP_PROTO_DISCOVERY_MAX_RESULTS,
            c->max_results);
    }
    if (0 == c->max_entries || c->max_entries > TP_DISCOVERY_MAX_ENTRIES_LIMIT)
    {
        return tp_err_set(TP_ERR_CONFIG, "discovery.max_entries: 1..%u, got %u", TP_DISCOVERY_MAX_ENTRIES_LIMIT,
            c->max_entries);
    }
    if (c->source_count > TP_DISCOVERY_MAX_SOURCES || c->stream_count > TP_DISCOVERY_MAX_CONFIG_STREAMS)
    {
        return tp_err_set(TP_ERR_CONFIG, "discovery: at most %u drivers and %u streams", TP_DISCOVERY_MAX_SOURCES,
            TP_DISCOVERY_MAX_CONFIG_STREAMS);
    }
    for (uint32_t i = 0; i < c->source_count; i++)
    {
        const tp_discovery_source_config_t *s = &c->sources[i];
        if ('\0' == s->instance_id[0] || !channel_ok(s->control_channel) || 0 == s->control_stream_id)
        {
            return tp_err_set(TP_ERR_CONFIG, "driver %s: instance_id, control_channel (aeron: URI) and a non-zero "
                "control_stream_id are required (they are the authority of its results, spec §5.2)", s->name);
        }
        if (('\0' != s->announce_channel[0] && (!channel_ok(s->announce_channel) || 0 == s->announce_stream_id)) ||
            ('\0' != s->metadata_channel[0] && (!channel_ok(s->metadata_channel) || 0 == s->metadata_stream_id)))
        {
            return tp_err_set(TP_ERR_CONFIG, "driver %s: announce/metadata channel must be an aeron: URI with a "
                "non-zero stream id", s->name);
        }
        if (0 == s->announce_period_ms || s->announce_period_ms > 3600000u)
        {
            return tp_err_set(TP_ERR_CONFIG, "driver %s: announce_period_ms: 1..3600000, got %u", s->name,
                s->announce_period_ms);
        }
    }
    for (uint32_t i = 0; i < c->stream_count; i++)
    {
        if (c->streams[i].source >= c->source_count && c->source_count > 0)
        {
            return tp_err_set(TP_ERR_CONFIG, "discovery.streams.%s: unknown driver", c->streams[i].name);
        }
    }
    return 0;
}

uint64_t tp_discovery_provider_source_expiry_ns(const tp_discovery_provider_t *p, uint32_t index)
{
    uint32_t ms = NULL != p && index < p->config.source_count ? p->config.sources[index].announce_period_ms
                                                             : TP_DISCOVERY_DEFAULT_ANNOUNCE_PERIOD_MS;
    return 3ull * ms * 1000000ull;
}

tp_discovery_registry_t *tp_discovery_provider_registry(tp_discovery_provider_t *p)
{
    return NULL == p ? NULL : p->registry;
}

void tp_discovery_provider_stats(const tp_discovery_provider_t *p, tp_discovery_provider_stats_t *out)
{
    if (NULL != p && NULL != out)
    {
        *out = p->stats;
    }
}

/* ------------------------------------------------------------------ sources */

static void on_source_message(void *clientd, const uint8_t *buf, size_t len, const tp_header_t *header)
{
    (void)header;
    tp_discovery_provider_t *p = clientd;
    uint32_t si = p->current_source;
    const tp_discovery_source_config_t *s = &p->config.sources[si];
    uint64_t expiry = tp_discovery_provider_source_expiry_ns(p, si);
    uint16_t schema = 0;
    uint16_t tmpl = 0;
    if (tp_proto_peek(buf, len, &schema, &tmpl) < 0 || TP_SBE_WIRE_SCHEMA_ID != schema)
    {
        p->stats.ignored++;
        return;
    }
    if (TP_SBE_WIRE_SHM_POOL_ANNOUNCE_TEMPLATE_ID == tmpl)
    {
        tp_proto_shm_pool_announce_view_t v;
        if (tp_proto_decode_shm_pool_announce(buf, len, &v) < 0)
        {
            p->stats.announces_malformed++;
            return;
        }
        tp_discovery_authority_t a = { s->instance_id, s->control_channel, s->control_stream_id };
        tp_discovery_registry_on_announce(p->registry, &a, &v, p->now_ns, expiry);
        p->stats.announces++;
    }
    else if (TP_SBE_WIRE_DATA_SOURCE_ANNOUNCE_TEMPLATE_ID == tmpl)
    {
        tp_proto_data_source_announce_view_t v;
        if (tp_proto_decode_data_source_announce(buf, len, &v) == 0 &&
            tp_discovery_registry_on_data_source(p->registry, s->instance_id, &v, p->now_ns, expiry) == 0)
        {
            p->stats.metadata++;
        }
    }
    else if (TP_SBE_WIRE_DATA_SOURCE_META_TEMPLATE_ID == tmpl)
    {
        tp_proto_data_source_meta_view_t v;
        if (tp_proto_decode_data_source_meta(buf, len, &v) == 0 &&
            tp_discovery_registry_on_meta(p->registry, s->instance_id, &v, p->now_ns, expiry) == 0)
        {
            p->stats.metadata++;
        }
    }
    else
    {
        p->stats.ignored++;
    }
}

/* --------------------------------------------------------------- responses */

static void pub_release(disc_pub_t *e)
{
    if (NULL != e->pub)
    {
        tp_publication_close(e->pub);
    }
    if (NULL != e->async)
    {
        tp_publication_t *pub = NULL;
        /* an add cannot be cancelled: finish it and close what it produced */
        if (1 == tp_transport_async_add_publication_poll(&pub, e->async))
        {
            tp_publication_close(pub);
        }
    }
    memset(e, 0, sizeof(*e));
}

static bool pub_has_pending(const tp_discovery_provider_t *p, uint32_t index)
{
    for (uint32_t i = 0; i < TP_DISCOVERY_MAX_PENDING; i++)
    {
        if (p->pending[i].in_use && p->pending[i].pub == index)
        {
            return true;
        }
    }
    return false;
}

/*
 * The publication entry for (channel, stream): cached, or a new add (LRU
 * replaced). -1 if the transport refuses the channel, -2 when every cached
 * publication still has a response pending.
 */
static int pub_get(tp_discovery_provider_t *p, const char *channel, size_t length, int32_t stream_id, uint64_t now_ns)
{
    int free_slot = -1;
    int lru = -1;
    for (uint32_t i = 0; i < TP_DISCOVERY_MAX_RESPONSE_PUBS; i++)
    {
        disc_pub_t *e = &p->pubs[i];
        if (!e->in_use)
        {
            free_slot = free_slot < 0 ? (int)i : free_slot;
            continue;
        }
        if (e->stream_id == stream_id && strlen(e->channel) == length && 0 == memcmp(e->channel, channel, length))
        {
            e->last_used_ns = now_ns;
            return (int)i;
        }
        if (!pub_has_pending(p, i) && NULL == e->async && (lru < 0 || e->last_used_ns < p->pubs[lru].last_used_ns))
        {
            lru = (int)i;
        }
    }
    int slot = free_slot >= 0 ? free_slot : lru;
    if (slot < 0)
    {
        return -2;
    }
    disc_pub_t *e = &p->pubs[slot];
    if (e->in_use)
    {
        pub_release(e);
    }
    memcpy(e->channel, channel, length);
    e->channel[length] = '\0';
    e->stream_id = stream_id;
    if (tp_transport_async_add_publication(&e->async, p->transport, e->channel, stream_id) < 0)
    {
        TP_LOG_DEBUG("discovery", "response channel %s/%d: %s", e->channel, stream_id, tp_errmsg());
        memset(e, 0, sizeof(*e));
        return -1;
    }
    e->in_use = true;
    e->last_used_ns = now_ns;
    return slot;
}

/* Queue `len` bytes of p->buffer for (channel, stream). */
static void respond(tp_discovery_provider_t *p, const char *channel, size_t channel_length, int32_t stream_id,
    size_t len, bool ok, uint64_t now_ns)
{
    int slot = -1;
    for (uint32_t i = 0; i < TP_DISCOVERY_MAX_PENDING && slot < 0; i++)
    {
        slot = p->pending[i].in_use ? -1 : (int)i;
    }
    if (slot < 0)
    {
        p->stats.dropped_busy++;
        return;
    }
    int pub = pub_get(p, channel, channel_length, stream_id, now_ns);
    if (pub < 0)
    {
        if (-2 == pub)
        {
            p->stats.dropped_busy++;
        }
        else
        {
            p->stats.dropped_bad_channel++;
        }
        return;
    }
    disc_pending_t *q = &p->pending[slot];
    q->bytes = malloc(len);
    if (NULL == q->bytes)
    {
        p->stats.dropped_busy++;
        return;
    }
    memcpy(q->bytes, p->buffer, len);
    q->length = len;
    q->pub = (uint32_t)pub;
    q->ok = ok;
    q->deadline_ns = now_ns + TP_DISCOVERY_PENDING_TIMEOUT_NS;
    q->in_use = true;
}

static int pending_do_work(tp_discovery_provider_t *p, uint64_t now_ns)
{
    int work = 0;
    for (uint32_t i = 0; i < TP_DISCOVERY_MAX_RESPONSE_PUBS; i++)
    {
        disc_pub_t *e = &p->pubs[i];
        if (e->in_use && NULL != e->async)
        {
            int rc = tp_transport_async_add_publication_poll(&e->pub, e->async);
            if (0 != rc)
            {
                e->async = NULL;
                work++;
            }
            if (rc < 0)
            {
                TP_LOG_DEBUG("discovery", "response channel %s/%d: %s", e->channel, e->stream_id, tp_errmsg());
                e->pub = NULL;
                e->in_use = false; /* pending responses for it fail below */
            }
        }
    }
    for (uint32_t i = 0; i < TP_DISCOVERY_MAX_PENDING; i++)
    {
        disc_pending_t *q = &p->pending[i];
        if (!q->in_use)
        {
            continue;
        }
        disc_pub_t *e = &p->pubs[q->pub];
        bool done = false;
        if (!e->in_use)
        {
            p->stats.dropped_bad_channel++;
            done = true;
        }
        else if (NULL != e->pub)
        {
            int64_t rc = tp_publication_offer(e->pub, q->bytes, q->length, NULL, NULL);
            if (rc > 0)
            {
                if (q->ok)
                {
                    p->stats.responses_ok++;
                }
                else
                {
                    p->stats.responses_error++;
                }
                done = true;
            }
            else if (TP_PUBLICATION_CLOSED == rc || TP_PUBLICATION_ERROR == rc ||
                TP_PUBLICATION_MAX_POSITION_EXCEEDED == rc)
            {
                p->stats.undelivered++;
                done = true;
            }
        }
        if (!done && now_ns >= q->deadline_ns)
        {
            p->stats.undelivered++;
            done = true;
        }
        if (done)
        {
            free(q->bytes);
            memset(q, 0, sizeof(*q));
            work++;
        }
    }
    return work;
}

/* Encode an ERROR response (no results) into p->buffer. */
static size_t encode_error(tp_discovery_provider_t *p, tp_proto_discovery_layout_t layout, uint64_t request_id,
    const char *message)
{
    tp_proto_discovery_response_encoder_t enc;
    size_t len = 0;
    if (tp_proto_discovery_response_begin(&enc, p->buffer, TP_DISCOVERY_RESPONSE_BUFFER, layout, request_id,
            TP_SBE_DISCOVERY_DISCOVERY_STATUS_ERROR, 0) < 0 ||
        tp_proto_discovery_response_finish(&enc, message, strlen(message), &len) < 0)
    {
        return 0;
    }
    return len;
}

/* §13: sampled query log (one request in query_log_every; the filters, never a result). */
static void log_query(tp_discovery_provider_t *p, const tp_proto_discovery_request_view_t *q)
{
    p->stats.queries_logged++;
    if (!tp_log_enabled(TP_LOG_LEVEL_INFO, "discovery"))
    {
        return;
    }
    char filters[256];
    filters[0] = '\0';
    int n = 0;
    if (q->has_stream_id)
    {
        n += snprintf(filters + n, sizeof(filters) - (size_t)n, " stream_id=%u", q->stream_id);
    }
    if (q->has_producer_id && n < (int)sizeof(filters))
    {
        n += snprintf(filters + n, sizeof(filters) - (size_t)n, " producer_id=%u", q->producer_id);
    }
    if (q->has_data_source_id && n < (int)sizeof(filters))
    {
        n += snprintf(filters + n, sizeof(filters) - (size_t)n, " data_source_id=%llu",
            (unsigned long long)q->data_source_id);
    }
    if (q->data_source_name.length > 0 && n < (int)sizeof(filters))
    {
        n += snprintf(filters + n, sizeof(filters) - (size_t)n, " name=%.*s",
            (int)(q->data_source_name.length > 64 ? 64 : q->data_source_name.length), q->data_source_name.data);
    }
    if (q->tag_count > 0 && n < (int)sizeof(filters))
    {
        snprintf(filters + n, sizeof(filters) - (size_t)n, " tags=%u", q->tag_count);
    }
    tp_log_write(TP_LOG_LEVEL_INFO, "discovery", "query %llu (request %llu, client %u, 1 in %u logged):%s "
        "response %.*s/%u", (unsigned long long)p->stats.requests, (unsigned long long)q->request_id, q->client_id,
        p->config.query_log_every, '\0' != filters[0] ? filters : " no filter",
        (int)(q->response_channel.length > 200 ? 200 : q->response_channel.length),
        NULL != q->response_channel.data ? q->response_channel.data : "", q->response_stream_id);
}

static void handle_request(tp_discovery_provider_t *p, const uint8_t *buf, size_t len, uint64_t now_ns)
{
    tp_proto_discovery_request_view_t q;
    if (tp_proto_decode_discovery_request(buf, len, &q) < 0)
    {
        p->stats.dropped_malformed++;
        TP_LOG_DEBUG("discovery", "request dropped: %s", tp_errmsg());
        return;
    }
    p->stats.requests++;
    if (TP_PROTO_DISCOVERY_LAYOUT_REFERENCE == q.layout)
    {
        p->stats.requests_reference++;
    }
    if (0 != p->config.query_log_every && 0 == (p->stats.requests - 1u) % p->config.query_log_every)
    {
        log_query(p, &q);
    }
    if (0 == q.response_channel.length)
    {
        p->stats.dropped_empty_channel++; /* §5.1: drop silently, never respond */
        return;
    }
    if (!tp_discovery_channel_valid(q.response_channel.data, q.response_channel.length))
    {
        p->stats.dropped_bad_channel++;
        return;
    }
    if (!tp_discovery_response_allowed(&p->config.response_rules[0][0], p->config.response_rule_count,
            q.response_channel.data, q.response_channel.length))
    {
        /* DISC-3: never send to an endpoint the operator did not allow; sampled log (§13) */
        if (0 == (p->stats.dropped_refused_channel++ & 1023u))
        {
            TP_LOG_WARN("discovery", "request %llu (client %u) dropped: response channel %.*s is not allowed by "
                "discovery.response_endpoints (%llu so far)", (unsigned long long)q.request_id, q.client_id,
                (int)(q.response_channel.length > 200 ? 200 : q.response_channel.length), q.response_channel.data,
                (unsigned long long)p->stats.dropped_refused_channel);
        }
        return;
    }
    size_t out_len = 0;
    bool ok = false;
    char msg[256];
    if (0 == q.response_stream_id)
    {
        out_len = encode_error(p, q.layout, q.request_id, "response_stream_id must be non-zero");
    }
    else
    {
        if (NULL != p->config.before_query)
        {
            p->config.before_query(p->config.before_query_clientd, now_ns);
        }
        size_t n = tp_discovery_registry_query(p->registry, &q, now_ns, p->matches, p->config.max_results);
        if (n > p->config.max_results)
        {
            snprintf(msg, sizeof(msg), "%zu streams match, more than the limit of %u results: narrow the query", n,
                p->config.max_results);
            out_len = encode_error(p, q.layout, q.request_id, msg);
        }
        else
        {
            tp_proto_discovery_response_encoder_t enc;
            tp_proto_discovery_result_view_t r;
            bool fits = tp_proto_discovery_response_begin(&enc, p->buffer, TP_DISCOVERY_RESPONSE_BUFFER, q.layout,
                q.request_id, TP_SBE_DISCOVERY_DISCOVERY_STATUS_OK, (uint32_t)n) == 0;
            for (size_t i = 0; i < n && fits; i++)
            {
                tp_discovery_registry_result(p->matches[i], &r);
                fits = tp_proto_discovery_response_add(&enc, &r) == 0;
            }
            fits = fits && tp_proto_discovery_response_finish(&enc, "", 0, &out_len) == 0;
            ok = fits;
            if (!fits)
            {
                snprintf(msg, sizeof(msg), "%zu results do not fit in a response of %u bytes: narrow the query", n,
                    TP_DISCOVERY_RESPONSE_BUFFER);
                out_len = encode_error(p, q.layout, q.request_id, msg);
            }
        }
    }
    if (0 == out_len)
    {
        p->stats.dropped_busy++;
        return;
    }
    respond(p, q.response_channel.data, q.response_channel.length, (int32_t)q.response_stream_id, out_len, ok, now_ns);
}

int tp_discovery_provider_on_request(tp_discovery_provider_t *p, const uint8_t *buf, size_t len, uint64_t now_ns)
{
    uint16_t schema = 0;
    uint16_t tmpl = 0;
    if (NULL == p || tp_proto_peek(buf, len, &schema, &tmpl) < 0 || TP_SBE_DISCOVERY_SCHEMA_ID != schema ||
        TP_SBE_DISCOVERY_DISCOVERY_REQUEST_TEMPLATE_ID != tmpl)
    {
        if (NULL != p)
        {
            p->stats.ignored++;
        }
        return 0; /* §4.2: gate on schemaId and templateId (responses of other providers included) */
    }
    handle_request(p, buf, len, now_ns);
    return 1;
}

static void on_request_fragment(void *clientd, const uint8_t *buf, size_t len, const tp_header_t *header)
{
    (void)header;
    tp_discovery_provider_t *p = clientd;
    tp_discovery_provider_on_request(p, buf, len, p->now_ns);
}

/* ------------------------------------------------------------------ lifecycle */

static int add_sub(tp_discovery_provider_t *p, tp_subscription_t **sub, const char *channel, uint32_t stream_id,
    const char *what)
{
    if (tp_transport_add_subscription(sub, p->transport, channel, (int32_t)stream_id, NULL, NULL, NULL, NULL, 0) < 0)
    {
        return tp_err_prepend("discovery: %s %s/%u", what, channel, stream_id);
    }
    return 0;
}

int tp_discovery_provider_init(tp_discovery_provider_t **out, tp_transport_t *t, const tp_discovery_provider_config_t *c)
{
    if (NULL == out || NULL == t || NULL == c)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_discovery_provider_init: NULL argument");
    }
    if (tp_discovery_provider_config_validate(c) < 0)
    {
        return -1;
    }
    tp_discovery_provider_t *p = calloc(1, sizeof(*p));
    if (NULL == p)
    {
        return tp_err_set(TP_ERR_NO_MEMORY, "discovery: out of memory");
    }
    memcpy(&p->config, c, sizeof(*c));
    p->transport = t;
    p->buffer = malloc(TP_DISCOVERY_RESPONSE_BUFFER);
    p->matches = calloc(c->max_results, sizeof(*p->matches));
    if (NULL == p->buffer || NULL == p->matches)
    {
        tp_discovery_provider_close(p);
        return tp_err_set(TP_ERR_NO_MEMORY, "discovery: out of memory");
    }
    if (tp_discovery_registry_init(&p->registry, c->max_entries) < 0)
    {
        tp_discovery_provider_close(p);
        return -1;
    }
    for (uint32_t i = 0; i < c->stream_count; i++)
    {
        const tp_discovery_stream_config_t *s = &c->streams[i];
        const char *tags[TP_DISCOVERY_MAX_TAGS];
        for (uint32_t k = 0; k < s->tag_count; k++)
        {
            tags[k] = s->tags[k];
        }
        const char *id = s->source < c->source_count ? c->sources[s->source].instance_id : "";
        if (tp_discovery_registry_set_static(p->registry, id, s->stream_id, tags, s->tag_count, s->has_data_source_id,
                s->data_source_id, s->data_source_name) < 0)
        {
            tp_err_prepend("discovery.streams.%s", s->name);
            tp_discovery_provider_close(p);
            return -1;
        }
    }
    if (c->own_subscription && add_sub(p, &p->request_sub, c->channel, c->stream_id, "request stream") < 0)
    {
        tp_discovery_provider_close(p);
        return -1;
    }
    for (uint32_t i = 0; i < c->source_count; i++)
    {
        const tp_discovery_source_config_t *s = &c->sources[i];
        bool same = 0 == strcmp(s->announce_channel, s->metadata_channel) && s->announce_stream_id == s->metadata_stream_id;
        if (('\0' != s->announce_channel[0] &&
                add_sub(p, &p->sources[i].announce_sub, s->announce_channel, s->announce_stream_id, "announce stream") < 0) ||
            ('\0' != s->metadata_channel[0] && !same &&
                add_sub(p, &p->sources[i].metadata_sub, s->metadata_channel, s->metadata_stream_id, "metadata stream") < 0))
        {
            tp_discovery_provider_close(p);
            return -1;
        }
    }
    *out = p;
    return 0;
}

void tp_discovery_provider_close(tp_discovery_provider_t *p)
{
    if (NULL == p)
    {
        return;
    }
    for (uint32_t i = 0; i < TP_DISCOVERY_MAX_PENDING; i++)
    {
        free(p->pending[i].bytes);
    }
    for (uint32_t i = 0; i < TP_DISCOVERY_MAX_RESPONSE_PUBS; i++)
    {
        if (p->pubs[i].in_use)
        {
            pub_release(&p->pubs[i]);
        }
    }
    for (uint32_t i = 0; i < TP_DISCOVERY_MAX_SOURCES; i++)
    {
        tp_subscription_close(p->sources[i].announce_sub);
        tp_subscription_close(p->sources[i].metadata_sub);
    }
    tp_subscription_close(p->request_sub);
    tp_discovery_registry_close(p->registry);
    free(p->buffer);
    free(p->matches);
    free(p);
}

static int poll_count(int rc)
{
    return rc > 0 ? rc : 0;
}

int tp_discovery_provider_do_work(tp_discovery_provider_t *p, uint64_t now_ns)
{
    if (NULL == p)
    {
        return 0;
    }
    int work = 0;
    p->now_ns = now_ns;
    for (uint32_t i = 0; i < p->config.source_count; i++)
    {
        p->current_source = i;
        if (NULL != p->sources[i].announce_sub)
        {
            work += poll_count(tp_subscription_poll(p->sources[i].announce_sub, on_source_message, p, 64));
        }
        if (NULL != p->sources[i].metadata_sub)
        {
            work += poll_count(tp_subscription_poll(p->sources[i].metadata_sub, on_source_message, p, 64));
        }
    }
    if (NULL != p->request_sub)
    {
        work += poll_count(tp_subscription_poll(p->request_sub, on_request_fragment, p, 16));
    }
    work += pending_do_work(p, now_ns);
    if (now_ns - p->last_expire_ns >= 100000000ull)
    {
        p->last_expire_ns = now_ns;
        work += (int)tp_discovery_registry_expire(p->registry, now_ns);
    }
    return work;
}
