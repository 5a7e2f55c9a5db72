/*
 * Discovery client (include/tensor_pool/tp_discovery.h): request, response
 * matching, result validation and de-duplication (Discovery spec §5, §7).
 */
#include "tensor_pool/tp_discovery.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/tp_clock.h"
#include "common/tp_error.h"
#include "protocol/tp_proto_discovery.h"
#include "transport/tp_transport.h"

#define DISC_CLIENT_CHANNEL_MAX 1024
#define DISC_CLIENT_REQUEST_BUFFER 16384

struct tp_discovery_client_stct
{
    tp_transport_t *transport;
    tp_publication_t *request_pub;
    tp_subscription_t *response_sub;
    char response_channel[DISC_CLIENT_CHANNEL_MAX];
    uint32_t response_stream_id;
    uint32_t client_id;
    uint64_t attempt_timeout_ns;
    uint32_t attempts;
    uint64_t next_request_id;
    /* the request in flight */
    uint64_t waiting_id;
    tp_discovery_results_t *received;
    int receive_error;
    tp_discovery_client_stats_t stats;
    uint8_t request[DISC_CLIENT_REQUEST_BUFFER];
};

struct tp_discovery_results_stct
{
    tp_discovery_status_t status;
    char *error;
    size_t count;
    size_t invalid;
    tp_discovery_result_t *results;
    char *arena;
};

void tp_discovery_client_options_defaults(tp_discovery_client_options_t *o)
{
    if (NULL == o)
    {
        return;
    }
    memset(o, 0, sizeof(*o));
    o->attempt_timeout_ns = 1000000000ull;
    o->attempts = 3;
}

void tp_discovery_query_init(tp_discovery_query_t *q)
{
    if (NULL != q)
    {
        memset(q, 0, sizeof(*q));
    }
}

int tp_discovery_client_close(tp_discovery_client_t *c)
{
    if (NULL == c)
    {
        return 0;
    }
    tp_publication_close(c->request_pub);
    tp_subscription_close(c->response_sub);
    tp_transport_close(c->transport);
    tp_discovery_results_close(c->received);
    free(c);
    return 0;
}

int tp_discovery_client_init(tp_discovery_client_t **out, const tp_context_t *ctx,
    const tp_discovery_client_options_t *options)
{
    tp_discovery_client_options_t o;
    tp_discovery_client_options_defaults(&o);
    if (NULL != options)
    {
        o = *options;
    }
    if (NULL == out || NULL == ctx)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_discovery_client_init: out and ctx must not be NULL");
    }
    const char *req_channel = NULL != o.request_channel ? o.request_channel
                                                        : tp_context_get_stream_channel(ctx, TP_STREAM_CONTROL);
    int32_t req_stream = 0 != o.request_stream_id ? o.request_stream_id
                                                  : tp_context_get_stream_id(ctx, TP_STREAM_CONTROL);
    const char *resp_channel = NULL != o.response_channel ? o.response_channel : TP_DISCOVERY_DEFAULT_RESPONSE_CHANNEL;
    int32_t resp_stream = 0 != o.response_stream_id ? o.response_stream_id : TP_DISCOVERY_DEFAULT_RESPONSE_STREAM_ID;
    if (strlen(resp_channel) >= DISC_CLIENT_CHANNEL_MAX || strlen(resp_channel) > TP_PROTO_DISCOVERY_CHANNEL_MAX ||
        '\0' == resp_channel[0] || 0 == o.attempts || 0 == o.attempt_timeout_ns)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT,
            "tp_discovery_client_init: the response channel must be 1..%u bytes (§4.3), attempts and "
            "attempt_timeout_ns non-zero", TP_PROTO_DISCOVERY_CHANNEL_MAX);
    }
    tp_discovery_client_t *c = calloc(1, sizeof(*c));
    if (NULL == c)
    {
        return tp_err_set(TP_ERR_NO_MEMORY, "tp_discovery_client_init: out of memory");
    }
    snprintf(c->response_channel, sizeof(c->response_channel), "%s", resp_channel);
    c->response_stream_id = (uint32_t)resp_stream;
    c->client_id = o.client_id;
    c->attempt_timeout_ns = o.attempt_timeout_ns;
    c->attempts = o.attempts;
    c->next_request_id = (tp_clock_mono_ns() * 2654435761ull) ^ ((uint64_t)getpid() << 32);
    tp_transport_context_t tctx;
    tp_transport_context_init(&tctx);
    if (tp_transport_context_set_backend(&tctx, tp_context_get_transport_backend(ctx)) < 0 ||
        tp_transport_context_set_dir(&tctx, tp_context_get_transport_dir(ctx)) < 0 ||
        tp_transport_init(&c->transport, &tctx) < 0)
    {
        tp_err_prepend("tp_discovery_client_init: transport");
        free(c);
        return -1;
    }
    if (tp_transport_add_subscription(&c->response_sub, c->transport, c->response_channel, resp_stream, NULL, NULL,
            NULL, NULL, 0) < 0)
    {
        tp_err_prepend("tp_discovery_client_init: response endpoint %s/%d", c->response_channel, resp_stream);
        tp_discovery_client_close(c);
        return -1;
    }
    if (tp_transport_add_publication(&c->request_pub, c->transport, req_channel, req_stream, 0) < 0)
    {
        tp_err_prepend("tp_discovery_client_init: request endpoint %s/%d", req_channel, req_stream);
        tp_discovery_client_close(c);
        return -1;
    }
    *out = c;
    return 0;
}

int tp_discovery_client_stats(const tp_discovery_client_t *c, tp_discovery_client_stats_t *out)
{
    if (NULL == c || NULL == out)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_discovery_client_stats: NULL argument");
    }
    *out = c->stats;
    return 0;
}

/* ------------------------------------------------------------------ results */

void tp_discovery_results_close(tp_discovery_results_t *r)
{
    if (NULL != r)
    {
        free(r->results);
        free(r->arena);
        free(r->error);
        free(r);
    }
}

tp_discovery_status_t tp_discovery_results_status(const tp_discovery_results_t *r)
{
    return NULL == r ? TP_DISCOVERY_STATUS_ERROR : r->status;
}

const char *tp_discovery_results_error(const tp_discovery_results_t *r)
{
    return NULL == r || NULL == r->error ? "" : r->error;
}

size_t tp_discovery_results_count(const tp_discovery_results_t *r)
{
    return NULL == r ? 0 : r->count;
}

const tp_discovery_result_t *tp_discovery_results_at(const tp_discovery_results_t *r, size_t index)
{
    return NULL == r || index >= r->count ? NULL : &r->results[index];
}

size_t tp_discovery_results_invalid(const tp_discovery_results_t *r)
{
    return NULL == r ? 0 : r->invalid;
}

int tp_discovery_result_apply_to_context(const tp_discovery_result_t *r, tp_context_t *ctx)
{
    if (NULL == r || NULL == ctx || NULL == r->driver_control_channel || '\0' == r->driver_control_channel[0] ||
        0 == r->driver_control_stream_id || r->driver_control_stream_id > INT32_MAX)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT,
            "tp_discovery_result_apply_to_context: NULL argument or a result without a valid authority");
    }
    if (tp_context_set_stream(ctx, TP_STREAM_CONTROL, r->driver_control_channel, (int32_t)r->driver_control_stream_id) < 0 ||
        tp_context_set_driver_mode(ctx, true) < 0)
    {
        return tp_err_prepend("tp_discovery_result_apply_to_context");
    }
    return 0;
}

/* §5.2: authority present and non-zero; pool_nslots equal to header_nslots (v1.0). */
static bool result_valid(const tp_proto_discovery_result_view_t *v)
{
    if (0 == v->driver_control_channel.length || 0 == v->driver_control_stream_id ||
        0 == v->driver_instance_id.length)
    {
        return false;
    }
    for (uint32_t i = 0; i < v->pool_count; i++)
    {
        if (v->pools[i].pool_nslots != v->header_nslots)
        {
            return false;
        }
    }
    return true;
}

static bool same_key(const tp_proto_discovery_result_view_t *a, const tp_proto_discovery_result_view_t *b)
{
    return a->stream_id == b->stream_id && a->driver_instance_id.length == b->driver_instance_id.length &&
        0 == memcmp(a->driver_instance_id.data, b->driver_instance_id.data, a->driver_instance_id.length);
}

static char *arena_str(char **cursor, const tp_proto_str_t *s)
{
    char *p = *cursor;
    if (s->length > 0)
    {
        memcpy(p, s->data, s->length);
    }
    p[s->length] = '\0';
    *cursor = p + s->length + 1;
    return p;
}

/* Build a result set from a decoded response: validate, de-duplicate, copy. Returns NULL on no memory. */
static tp_discovery_results_t *results_build(const tp_proto_discovery_response_view_t *v)
{
    tp_discovery_results_t *r = calloc(1, sizeof(*r));
    if (NULL == r)
    {
        return NULL;
    }
    r->status = (tp_discovery_status_t)v->status;
    r->error = malloc(v->error_message.length + 1);
    if (NULL == r->error)
    {
        tp_discovery_results_close(r);
        return NULL;
    }
    memcpy(r->error, v->error_message.data, v->error_message.length);
    r->error[v->error_message.length] = '\0';
    if (TP_DISCOVERY_STATUS_OK != r->status || 0 == v->result_count)
    {
        return r; /* §5.2: results of a non-OK status are ignored */
    }
    /* pass 1: which results survive (valid, highest epoch per (instance, stream)) and their sizes */
    uint32_t n = v->result_count;
    bool *keep = calloc(n, sizeof(bool));
    tp_proto_discovery_result_view_t *views = malloc((size_t)n * sizeof(*views));
    if (NULL == keep || NULL == views)
    {
        free(keep);
        free(views);
        tp_discovery_results_close(r);
        return NULL;
    }
    tp_proto_discovery_result_iter_t it = v->results;
    size_t bytes = 0;
    size_t kept = 0;
    for (uint32_t i = 0; i < n && 1 == tp_proto_discovery_result_next(&it, &views[i]); i++)
    {
        if (!result_valid(&views[i]))
        {
            r->invalid++;
            continue;
        }
        keep[i] = true;
        for (uint32_t j = 0; j < i; j++)
        {
            if (keep[j] && same_key(&views[j], &views[i]))
            {
                if (views[i].epoch > views[j].epoch)
                {
                    keep[j] = false; /* §7: discard the stale epoch */
                }
                else
                {
                    keep[i] = false;
                }
                break;
            }
        }
    }
    for (uint32_t i = 0; i < n; i++)
    {
        if (!keep[i])
        {
            continue;
        }
        const tp_proto_discovery_result_view_t *x = &views[i];
        kept++;
        bytes += x->header_region_uri.length + x->data_source_name.length + x->driver_instance_id.length +
            x->driver_control_channel.length + 4;
        for (uint32_t k = 0; k < x->pool_count; k++)
        {
            bytes += x->pools[k].region_uri.length + 1;
        }
        bytes += sizeof(char *) * (x->tag_count + 1);
        for (uint32_t k = 0; k < x->tag_count; k++)
        {
            bytes += x->tags[k].length + 1;
        }
    }
    r->results = calloc(kept > 0 ? kept : 1, sizeof(*r->results));
    r->arena = malloc(bytes + sizeof(char *));
    if (NULL == r->results || NULL == r->arena)
    {
        free(keep);
        free(views);
        tp_discovery_results_close(r);
        return NULL;
    }
    /* pointer arrays first (aligned), strings after */
    char **ptrs = (char **)(void *)r->arena;
    size_t nptrs = 0;
    for (uint32_t i = 0; i < n; i++)
    {
        nptrs += keep[i] ? views[i].tag_count + 1 : 0;
    }
    char *cursor = r->arena + nptrs * sizeof(char *);
    for (uint32_t i = 0; i < n; i++)
    {
        if (!keep[i])
        {
            continue;
        }
        const tp_proto_discovery_result_view_t *x = &views[i];
        tp_discovery_result_t *o = &r->results[r->count++];
        o->stream_id = x->stream_id;
        o->producer_id = x->producer_id;
        o->epoch = x->epoch;
        o->layout_version = x->layout_version;
        o->header_nslots = x->header_nslots;
        o->header_slot_bytes = x->header_slot_bytes;
        o->max_dims = x->max_dims;
        o->header_region_uri = arena_str(&cursor, &x->header_region_uri);
        o->pool_count = x->pool_count;
        for (uint32_t k = 0; k < x->pool_count; k++)
        {
            o->pools[k].pool_id = x->pools[k].pool_id;
            o->pools[k].pool_nslots = x->pools[k].pool_nslots;
            o->pools[k].stride_bytes = x->pools[k].stride_bytes;
            o->pools[k].region_uri = arena_str(&cursor, &x->pools[k].region_uri);
        }
        o->has_data_source_id = x->has_data_source_id;
        o->data_source_id = x->data_source_id;
        o->data_source_name = arena_str(&cursor, &x->data_source_name);
        char **tags = ptrs;
        size_t t = 0;
        for (uint32_t k = 0; k < x->tag_count; k++)
        {
            if (x->tags[k].length > 0) /* empty = not provided (reference layout) */
            {
                tags[t++] = arena_str(&cursor, &x->tags[k]);
            }
        }
        tags[t] = NULL;
        ptrs += x->tag_count + 1;
        o->tag_count = t;
        o->tags = (const char *const *)tags;
        o->driver_instance_id = arena_str(&cursor, &x->driver_instance_id);
        o->driver_control_channel = arena_str(&cursor, &x->driver_control_channel);
        o->driver_control_stream_id = x->driver_control_stream_id;
    }
    free(keep);
    free(views);
    return r;
}

static void on_response(void *clientd, const uint8_t *buf, size_t len, const tp_header_t *header)
{
    (void)header;
    tp_discovery_client_t *c = clientd;
    uint16_t schema = 0;
    uint16_t tmpl = 0;
    if (tp_proto_peek(buf, len, &schema, &tmpl) < 0 || TP_SBE_DISCOVERY_SCHEMA_ID != schema ||
        TP_SBE_DISCOVERY_DISCOVERY_RESPONSE_TEMPLATE_ID != tmpl)
    {
        return; /* another schema or message on a shared stream (§4.2) */
    }
    tp_proto_discovery_response_view_t v;
    if (tp_proto_decode_discovery_response(buf, len, &v) < 0)
    {
        c->stats.dropped_malformed++; /* includes unsupported versions (§10) */
        return;
    }
    if (0 == c->waiting_id || v.request_id != c->waiting_id || NULL != c->received)
    {
        c->stats.dropped_unknown_id++; /* §5.2: unknown request id */
        return;
    }
    c->received = results_build(&v);
    if (NULL == c->received)
    {
        c->receive_error = TP_ERR_NO_MEMORY;
        return;
    }
    c->stats.responses++;
}

static int encode_query(tp_discovery_client_t *c, const tp_discovery_query_t *q, uint64_t request_id, size_t *len)
{
    tp_proto_discovery_request_view_t m;
    memset(&m, 0, sizeof(m));
    if (q->tag_count > TP_DISCOVERY_QUERY_MAX_TAGS || (q->tag_count > 0 && NULL == q->tags))
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_discovery_query: at most %d tags", TP_DISCOVERY_QUERY_MAX_TAGS);
    }
    m.request_id = request_id;
    m.client_id = c->client_id;
    m.response_stream_id = c->response_stream_id;
    m.has_stream_id = q->has_stream_id;
    m.stream_id = q->stream_id;
    m.has_producer_id = q->has_producer_id;
    m.producer_id = q->producer_id;
    m.has_data_source_id = q->has_data_source_id;
    m.data_source_id = q->data_source_id;
    for (size_t i = 0; i < q->tag_count; i++)
    {
        if (NULL == q->tags[i] || '\0' == q->tags[i][0] || strlen(q->tags[i]) > TP_PROTO_DISCOVERY_TAG_MAX)
        {
            return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_discovery_query: tag %zu must be 1..%u bytes", i,
                TP_PROTO_DISCOVERY_TAG_MAX);
        }
        m.tags[m.tag_count].data = q->tags[i];
        m.tags[m.tag_count++].length = (uint32_t)strlen(q->tags[i]);
    }
    m.response_channel.data = c->response_channel;
    m.response_channel.length = (uint32_t)strlen(c->response_channel);
    if (NULL != q->data_source_name)
    {
        if (strlen(q->data_source_name) > TP_PROTO_DISCOVERY_NAME_MAX)
        {
            return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_discovery_query: data source name over %u bytes",
                TP_PROTO_DISCOVERY_NAME_MAX);
        }
        m.data_source_name.data = q->data_source_name;
        m.data_source_name.length = (uint32_t)strlen(q->data_source_name);
    }
    return tp_proto_encode_discovery_request(c->request, sizeof(c->request), &m, TP_PROTO_DISCOVERY_LAYOUT_FIXED, len);
}

/* Between polls: short sleeps first (a local provider answers in tens of microseconds), then 1 ms. */
static void pause_briefly(uint32_t idle)
{
    struct timespec ts = { 0, idle < 200 ? 20000 : 1000000 };
    nanosleep(&ts, NULL);
}

int tp_discovery_query(tp_discovery_client_t *c, const tp_discovery_query_t *q, tp_discovery_results_t **out)
{
    if (NULL == c || NULL == q || NULL == out)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_discovery_query: NULL argument");
    }
    uint64_t request_id = c->next_request_id++;
    if (0 == request_id)
    {
        request_id = c->next_request_id++;
    }
    size_t len = 0;
    if (encode_query(c, q, request_id, &len) < 0)
    {
        return -1;
    }
    tp_discovery_results_close(c->received);
    c->received = NULL;
    c->receive_error = 0;
    c->waiting_id = request_id;
    for (uint32_t attempt = 0; attempt < c->attempts; attempt++)
    {
        uint64_t deadline = tp_clock_mono_ns() + c->attempt_timeout_ns;
        bool sent = false;
        uint32_t idle = 0;
        while (tp_clock_mono_ns() < deadline)
        {
            tp_transport_do_work(c->transport);
            if (!sent)
            {
                int64_t rc = tp_publication_offer(c->request_pub, c->request, len, NULL, NULL);
                if (rc > 0)
                {
                    sent = true;
                    c->stats.requests_sent++;
                }
            }
            int n = tp_subscription_poll(c->response_sub, on_response, c, 16);
            if (NULL != c->received || 0 != c->receive_error)
            {
                c->waiting_id = 0;
                if (0 != c->receive_error)
                {
                    return tp_err_set(c->receive_error, "tp_discovery_query: out of memory for the results");
                }
                *out = c->received;
                c->received = NULL;
                return 0;
            }
            if (n <= 0)
            {
                pause_briefly(idle++);
            }
        }
    }
    c->waiting_id = 0;
    c->stats.timeouts++;
    return tp_err_set(TP_ERR_TIMEOUT,
        "tp_discovery_query: no response after %u attempts of %llu ms: is a discovery provider listening on the "
        "request stream, and can it reach %s / %u?", c->attempts,
        (unsigned long long)(c->attempt_timeout_ns / 1000000ull), c->response_channel, c->response_stream_id);
}
