/*
 * MergeMap control plane (Join Barrier spec §10): the authority that
 * announces an output stream's maps (periodically and on request) and the
 * listener that feeds announces to a join barrier and asks for a map while
 * the barrier has none (late join). Both gate on MessageHeader.schemaId 903
 * before decoding (§14): the control stream also carries wire (900), driver
 * (901) and TraceLink (904) messages. See tensor_pool/tp_join.h.
 */
#include <stdlib.h>
#include <string.h>

#include "common/tp_error.h"
#include "protocol/tp_proto_merge.h"
#include "tensor_pool/tp_join.h"
#include "tracelink/tp_tracelink_internal.h"

#define AUTHORITY_MAX_MAPS 8

/* ------------------------------------------------------------------ conversions */

static void seq_map_to_view(const tp_seq_merge_map_t *m, tp_proto_seq_merge_map_announce_view_t *v)
{
    memset(v, 0, sizeof(*v));
    v->out_stream_id = m->out_stream_id;
    v->epoch = m->epoch;
    v->has_stale_timeout_ns = m->has_stale_timeout_ns;
    v->stale_timeout_ns = m->stale_timeout_ns;
    v->rule_count = m->rule_count;
    for (uint32_t i = 0; i < m->rule_count && i < TP_JOIN_MAX_INPUTS; i++)
    {
        const tp_merge_seq_rule_t *r = &m->rules[i];
        v->rules[i].input_stream_id = r->input_stream_id;
        v->rules[i].rule_type = (tp_sbe_merge_merge_rule_type_t)r->type;
        v->rules[i].has_offset = r->has_offset;
        v->rules[i].offset = r->offset;
        v->rules[i].has_window_size = r->has_window_size;
        v->rules[i].window_size = r->window_size;
    }
}

static void seq_view_to_map(const tp_proto_seq_merge_map_announce_view_t *v, tp_seq_merge_map_t *m)
{
    memset(m, 0, sizeof(*m));
    m->out_stream_id = v->out_stream_id;
    m->epoch = v->epoch;
    m->has_stale_timeout_ns = v->has_stale_timeout_ns;
    m->stale_timeout_ns = v->stale_timeout_ns;
    m->rule_count = v->rule_count; /* more than TP_JOIN_MAX_INPUTS: kept, so that validation rejects the map */
    for (uint32_t i = 0; i < v->rule_count && i < TP_JOIN_MAX_INPUTS; i++)
    {
        const tp_proto_seq_merge_rule_view_t *r = &v->rules[i];
        m->rules[i].input_stream_id = r->input_stream_id;
        m->rules[i].type = (tp_merge_rule_type_t)r->rule_type;
        m->rules[i].has_offset = r->has_offset;
        m->rules[i].offset = r->offset;
        m->rules[i].has_window_size = r->has_window_size;
        m->rules[i].window_size = r->window_size;
    }
}

static void ts_map_to_view(const tp_ts_merge_map_t *m, tp_proto_ts_merge_map_announce_view_t *v)
{
    memset(v, 0, sizeof(*v));
    v->out_stream_id = m->out_stream_id;
    v->epoch = m->epoch;
    v->has_stale_timeout_ns = m->has_stale_timeout_ns;
    v->stale_timeout_ns = m->stale_timeout_ns;
    v->clock_domain = (tp_sbe_merge_clock_domain_t)m->clock_domain;
    v->has_lateness_ns = m->has_lateness_ns;
    v->lateness_ns = m->lateness_ns;
    v->rule_count = m->rule_count;
    for (uint32_t i = 0; i < m->rule_count && i < TP_JOIN_MAX_INPUTS; i++)
    {
        const tp_merge_ts_rule_t *r = &m->rules[i];
        v->rules[i].input_stream_id = r->input_stream_id;
        v->rules[i].rule_type = (tp_sbe_merge_merge_time_rule_type_t)r->type;
        v->rules[i].timestamp_source = (tp_sbe_merge_timestamp_source_t)r->timestamp_source;
        v->rules[i].has_offset_ns = r->has_offset_ns;
        v->rules[i].offset_ns = r->offset_ns;
        v->rules[i].has_window_ns = r->has_window_ns;
        v->rules[i].window_ns = r->window_ns;
    }
}

static void ts_view_to_map(const tp_proto_ts_merge_map_announce_view_t *v, tp_ts_merge_map_t *m)
{
    memset(m, 0, sizeof(*m));
    m->out_stream_id = v->out_stream_id;
    m->epoch = v->epoch;
    m->has_stale_timeout_ns = v->has_stale_timeout_ns;
    m->stale_timeout_ns = v->stale_timeout_ns;
    m->clock_domain = (tp_join_clock_domain_t)v->clock_domain;
    m->has_lateness_ns = v->has_lateness_ns;
    m->lateness_ns = v->lateness_ns;
    m->rule_count = v->rule_count;
    for (uint32_t i = 0; i < v->rule_count && i < TP_JOIN_MAX_INPUTS; i++)
    {
        const tp_proto_ts_merge_rule_view_t *r = &v->rules[i];
        m->rules[i].input_stream_id = r->input_stream_id;
        m->rules[i].type = (tp_merge_time_rule_type_t)r->rule_type;
        m->rules[i].timestamp_source = (tp_timestamp_source_t)r->timestamp_source;
        m->rules[i].has_offset_ns = r->has_offset_ns;
        m->rules[i].offset_ns = r->offset_ns;
        m->rules[i].has_window_ns = r->has_window_ns;
        m->rules[i].window_ns = r->window_ns;
    }
}

/* ------------------------------------------------------------------ shared endpoint */

typedef struct merge_endpoint_stct
{
    tp_transport_t *transport;
    tp_publication_t *pub;
    tp_subscription_t *sub;
    uint8_t buffer[TP_PROTO_MERGE_MAX_LENGTH];
} merge_endpoint_t;

static int endpoint_open(merge_endpoint_t *ep, const tp_context_t *ctx, const char *channel, int32_t stream_id)
{
    const char *ch = NULL;
    int32_t sid = 0;
    tp_tl_resolve_stream(ctx, TP_STREAM_CONTROL, channel, stream_id, &ch, &sid);
    if (tp_tl_transport_open(ctx, &ep->transport) < 0 ||
        tp_transport_add_publication(&ep->pub, ep->transport, ch, sid, 0) < 0 ||
        tp_transport_add_subscription(&ep->sub, ep->transport, ch, sid, NULL, NULL, NULL, NULL, 0) < 0)
    {
        return -1;
    }
    return 0;
}

static void endpoint_close(merge_endpoint_t *ep)
{
    if (NULL != ep->sub)
    {
        tp_subscription_close(ep->sub);
    }
    if (NULL != ep->pub)
    {
        tp_publication_close(ep->pub);
    }
    if (NULL != ep->transport)
    {
        tp_transport_close(ep->transport);
    }
}

/* Offer buffer[0..len): true when accepted. Never waits. */
static bool endpoint_offer(merge_endpoint_t *ep, size_t len)
{
    return tp_publication_offer(ep->pub, ep->buffer, len, NULL, NULL) >= 0;
}

/* ------------------------------------------------------------------ authority */

typedef struct authority_map_stct
{
    bool used;
    bool is_ts;
    tp_seq_merge_map_t seq;
    tp_ts_merge_map_t ts;
} authority_map_t;

struct tp_merge_map_authority_stct
{
    merge_endpoint_t ep;
    uint64_t period_ns;
    uint64_t next_announce_ns;
    bool announce_due;
    authority_map_t maps[AUTHORITY_MAX_MAPS];
    tp_merge_map_authority_stats_t stats;
};

int tp_merge_map_authority_create(tp_merge_map_authority_t **out, const tp_context_t *ctx, const char *channel,
    int32_t stream_id, uint64_t announce_period_ns)
{
    if (NULL == out)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_merge_map_authority_create: NULL out");
    }
    *out = NULL;
    tp_merge_map_authority_t *a = calloc(1, sizeof(*a));
    if (NULL == a)
    {
        return tp_err_set(TP_ERR_NO_MEMORY, "tp_merge_map_authority_create: out of memory");
    }
    a->period_ns = 0 != announce_period_ns ? announce_period_ns : TP_MERGE_MAP_DEFAULT_ANNOUNCE_PERIOD_NS;
    if (endpoint_open(&a->ep, ctx, channel, stream_id) < 0)
    {
        tp_err_prepend("tp_merge_map_authority_create");
        tp_merge_map_authority_close(a);
        return -1;
    }
    *out = a;
    return 0;
}

static authority_map_t *authority_slot(tp_merge_map_authority_t *a, uint32_t out_stream_id, bool is_ts)
{
    authority_map_t *free_slot = NULL;
    for (int i = 0; i < AUTHORITY_MAX_MAPS; i++)
    {
        authority_map_t *m = &a->maps[i];
        if (m->used && m->is_ts == is_ts && (is_ts ? m->ts.out_stream_id : m->seq.out_stream_id) == out_stream_id)
        {
            return m;
        }
        if (!m->used && NULL == free_slot)
        {
            free_slot = m;
        }
    }
    return free_slot;
}

int tp_merge_map_authority_set_seq_map(tp_merge_map_authority_t *a, const tp_seq_merge_map_t *map)
{
    if (NULL == a || tp_seq_merge_map_validate(map) < 0)
    {
        return NULL == a ? tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_merge_map_authority_set_seq_map: NULL authority")
                         : tp_err_prepend("tp_merge_map_authority_set_seq_map");
    }
    authority_map_t *m = authority_slot(a, map->out_stream_id, false);
    if (NULL == m)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_merge_map_authority_set_seq_map: already %d maps held",
            AUTHORITY_MAX_MAPS);
    }
    m->used = true;
    m->is_ts = false;
    m->seq = *map;
    a->announce_due = true;
    return 0;
}

int tp_merge_map_authority_set_ts_map(tp_merge_map_authority_t *a, const tp_ts_merge_map_t *map)
{
    if (NULL == a || tp_ts_merge_map_validate(map) < 0)
    {
        return NULL == a ? tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_merge_map_authority_set_ts_map: NULL authority")
                         : tp_err_prepend("tp_merge_map_authority_set_ts_map");
    }
    authority_map_t *m = authority_slot(a, map->out_stream_id, true);
    if (NULL == m)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_merge_map_authority_set_ts_map: already %d maps held",
            AUTHORITY_MAX_MAPS);
    }
    m->used = true;
    m->is_ts = true;
    m->ts = *map;
    a->announce_due = true;
    return 0;
}

static bool authority_send(tp_merge_map_authority_t *a, const authority_map_t *m)
{
    size_t len = 0;
    int rc;
    if (m->is_ts)
    {
        tp_proto_ts_merge_map_announce_view_t v;
        ts_map_to_view(&m->ts, &v);
        rc = tp_proto_encode_ts_merge_map_announce(a->ep.buffer, sizeof(a->ep.buffer), &v, &len);
    }
    else
    {
        tp_proto_seq_merge_map_announce_view_t v;
        seq_map_to_view(&m->seq, &v);
        rc = tp_proto_encode_seq_merge_map_announce(a->ep.buffer, sizeof(a->ep.buffer), &v, &len);
    }
    if (rc < 0 || !endpoint_offer(&a->ep, len))
    {
        a->stats.send_failures++;
        return false;
    }
    a->stats.announces_sent++;
    return true;
}

static void authority_on_message(void *clientd, const uint8_t *buf, size_t len, const tp_header_t *header)
{
    (void)header;
    tp_merge_map_authority_t *a = clientd;
    uint16_t schema = 0, template_id = 0;
    if (tp_proto_peek(buf, len, &schema, &template_id) < 0 || TP_SBE_MERGE_SCHEMA_ID != schema)
    {
        return; /* §14: gate on schemaId before decoding */
    }
    bool is_ts;
    tp_proto_merge_map_request_view_t req;
    if (TP_SBE_MERGE_SEQUENCE_MERGE_MAP_REQUEST_TEMPLATE_ID == template_id)
    {
        is_ts = false;
        if (tp_proto_decode_seq_merge_map_request(buf, len, &req) < 0)
        {
            a->stats.malformed++;
            return;
        }
    }
    else if (TP_SBE_MERGE_TIMESTAMP_MERGE_MAP_REQUEST_TEMPLATE_ID == template_id)
    {
        is_ts = true;
        if (tp_proto_decode_ts_merge_map_request(buf, len, &req) < 0)
        {
            a->stats.malformed++;
            return;
        }
    }
    else
    {
        return; /* announces (ours or another authority's) */
    }
    for (int i = 0; i < AUTHORITY_MAX_MAPS; i++)
    {
        const authority_map_t *m = &a->maps[i];
        if (m->used && m->is_ts == is_ts && (is_ts ? m->ts.out_stream_id : m->seq.out_stream_id) == req.out_stream_id &&
            (is_ts ? m->ts.epoch : m->seq.epoch) == req.epoch)
        {
            if (authority_send(a, m))
            {
                a->stats.requests_answered++;
            }
            return;
        }
    }
    a->stats.requests_ignored++;
}

int tp_merge_map_authority_do_work(tp_merge_map_authority_t *a, uint64_t now_ns)
{
    if (NULL == a)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_merge_map_authority_do_work: NULL authority");
    }
    int work = tp_transport_do_work(a->ep.transport);
    if (work < 0)
    {
        return -1;
    }
    int polled = tp_subscription_poll(a->ep.sub, authority_on_message, a, 16);
    work += polled > 0 ? polled : 0;
    if (a->announce_due || now_ns >= a->next_announce_ns)
    {
        bool all = true;
        for (int i = 0; i < AUTHORITY_MAX_MAPS; i++)
        {
            if (a->maps[i].used)
            {
                all = authority_send(a, &a->maps[i]) && all;
                work++;
            }
        }
        a->announce_due = !all && a->announce_due;
        a->next_announce_ns = now_ns + a->period_ns;
    }
    return work;
}

int tp_merge_map_authority_stats(const tp_merge_map_authority_t *a, tp_merge_map_authority_stats_t *stats)
{
    if (NULL == a || NULL == stats)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_merge_map_authority_stats: NULL argument");
    }
    *stats = a->stats;
    return 0;
}

int tp_merge_map_authority_close(tp_merge_map_authority_t *a)
{
    if (NULL != a)
    {
        endpoint_close(&a->ep);
        free(a);
    }
    return 0;
}

/* ------------------------------------------------------------------ listener */

struct tp_merge_map_listener_stct
{
    merge_endpoint_t ep;
    tp_join_barrier_t *barrier;
    uint64_t request_interval_ns;
    uint64_t next_request_ns;
    bool has_last;
    bool last_is_ts;
    uint64_t last_epoch;
    tp_seq_merge_map_t last_seq;
    tp_ts_merge_map_t last_ts;
    tp_proto_seq_merge_map_announce_view_t seq_view; /* decode scratch (large) */
    tp_proto_ts_merge_map_announce_view_t ts_view;
    tp_seq_merge_map_t seq_scratch;
    tp_ts_merge_map_t ts_scratch;
    tp_merge_map_listener_stats_t stats;
};

int tp_merge_map_listener_create(tp_merge_map_listener_t **out, const tp_context_t *ctx, const char *channel,
    int32_t stream_id, tp_join_barrier_t *barrier, uint64_t request_interval_ns)
{
    if (NULL == out || NULL == barrier)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_merge_map_listener_create: NULL argument");
    }
    *out = NULL;
    tp_merge_map_listener_t *l = calloc(1, sizeof(*l));
    if (NULL == l)
    {
        return tp_err_set(TP_ERR_NO_MEMORY, "tp_merge_map_listener_create: out of memory");
    }
    l->barrier = barrier;
    l->request_interval_ns = 0 != request_interval_ns ? request_interval_ns : TP_MERGE_MAP_DEFAULT_REQUEST_INTERVAL_NS;
    if (endpoint_open(&l->ep, ctx, channel, stream_id) < 0)
    {
        tp_err_prepend("tp_merge_map_listener_create");
        tp_merge_map_listener_close(l);
        return -1;
    }
    *out = l;
    return 0;
}

static void listener_apply(tp_merge_map_listener_t *l, bool is_ts)
{
    tp_join_barrier_t *b = l->barrier;
    uint32_t out_stream = is_ts ? l->ts_scratch.out_stream_id : l->seq_scratch.out_stream_id;
    uint64_t epoch = is_ts ? l->ts_scratch.epoch : l->seq_scratch.epoch;
    if (out_stream != tp_join_barrier_out_stream_id(b) || epoch != tp_join_barrier_out_epoch(b))
    {
        l->stats.announces_ignored++;
        return;
    }
    bool same = tp_join_barrier_has_map(b) && l->has_last && l->last_is_ts == is_ts && l->last_epoch == epoch &&
        (is_ts ? 0 == memcmp(&l->last_ts, &l->ts_scratch, sizeof(l->ts_scratch))
               : 0 == memcmp(&l->last_seq, &l->seq_scratch, sizeof(l->seq_scratch)));
    if (same)
    {
        l->stats.announces_ignored++; /* soft-state refresh of the map in use */
        return;
    }
    int rc = is_ts ? tp_join_barrier_apply_ts_map(b, &l->ts_scratch) : tp_join_barrier_apply_seq_map(b, &l->seq_scratch);
    if (rc > 0)
    {
        l->stats.announces_applied++;
        l->has_last = true;
        l->last_is_ts = is_ts;
        l->last_epoch = epoch;
        if (is_ts)
        {
            l->last_ts = l->ts_scratch;
        }
        else
        {
            l->last_seq = l->seq_scratch;
        }
    }
    else if (rc < 0)
    {
        l->stats.announces_rejected++;
        l->has_last = false;
    }
    else
    {
        l->stats.announces_ignored++;
    }
}

static void listener_on_message(void *clientd, const uint8_t *buf, size_t len, const tp_header_t *header)
{
    (void)header;
    tp_merge_map_listener_t *l = clientd;
    uint16_t schema = 0, template_id = 0;
    if (tp_proto_peek(buf, len, &schema, &template_id) < 0 || TP_SBE_MERGE_SCHEMA_ID != schema)
    {
        return;
    }
    tp_join_kind_t kind = tp_join_barrier_kind(l->barrier);
    if (TP_SBE_MERGE_SEQUENCE_MERGE_MAP_ANNOUNCE_TEMPLATE_ID == template_id && TP_JOIN_TIMESTAMP != kind)
    {
        if (tp_proto_decode_seq_merge_map_announce(buf, len, &l->seq_view) < 0)
        {
            l->stats.malformed++;
            return;
        }
        seq_view_to_map(&l->seq_view, &l->seq_scratch);
        listener_apply(l, false);
    }
    else if (TP_SBE_MERGE_TIMESTAMP_MERGE_MAP_ANNOUNCE_TEMPLATE_ID == template_id && TP_JOIN_SEQUENCE != kind)
    {
        if (tp_proto_decode_ts_merge_map_announce(buf, len, &l->ts_view) < 0)
        {
            l->stats.malformed++;
            return;
        }
        ts_view_to_map(&l->ts_view, &l->ts_scratch);
        listener_apply(l, true);
    }
}

int tp_merge_map_listener_do_work(tp_merge_map_listener_t *l, uint64_t now_ns)
{
    if (NULL == l)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_merge_map_listener_do_work: NULL listener");
    }
    int work = tp_transport_do_work(l->ep.transport);
    if (work < 0)
    {
        return -1;
    }
    int polled = tp_subscription_poll(l->ep.sub, listener_on_message, l, 16);
    work += polled > 0 ? polled : 0;
    if (!tp_join_barrier_has_map(l->barrier) && now_ns >= l->next_request_ns)
    {
        tp_proto_merge_map_request_view_t req = {
            .out_stream_id = tp_join_barrier_out_stream_id(l->barrier),
            .epoch = tp_join_barrier_out_epoch(l->barrier),
        };
        size_t len = 0;
        int rc = TP_JOIN_TIMESTAMP == tp_join_barrier_kind(l->barrier)
            ? tp_proto_encode_ts_merge_map_request(l->ep.buffer, sizeof(l->ep.buffer), &req, &len)
            : tp_proto_encode_seq_merge_map_request(l->ep.buffer, sizeof(l->ep.buffer), &req, &len);
        if (0 == rc && endpoint_offer(&l->ep, len))
        {
            l->stats.requests_sent++;
            work++;
        }
        l->next_request_ns = now_ns + l->request_interval_ns;
    }
    return work;
}

int tp_merge_map_listener_stats(const tp_merge_map_listener_t *l, tp_merge_map_listener_stats_t *stats)
{
    if (NULL == l || NULL == stats)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_merge_map_listener_stats: NULL argument");
    }
    *stats = l->stats;
    return 0;
}

int tp_merge_map_listener_close(tp_merge_map_listener_t *l)
{
    if (NULL != l)
    {
        endpoint_close(&l->ep);
        free(l);
    }
    return 0;
}
