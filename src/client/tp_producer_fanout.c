/*
 * Producer per-consumer streams (wire spec §5, §10.1.2, §10.1.3), conductor
 * thread: per-consumer descriptor and control stream requests (allow-list,
 * term-length cap), ConsumerConfig, and the fan-out of the committed frames
 * and FrameProgress the application thread hands over through SPSC rings.
 */
#include <stdio.h>
#include <string.h>

#include "client/tp_producer_internal.h"
#include "protocol/tp_proto.h"
#include "common/tp_error.h"
#include "common/tp_log.h"
#include "common/tp_uri.h"

/* Whether `channel` matches an allow-list prefix (see tp_producer_config_t.per_consumer_channels). */
static bool channel_prefix_matches(const char *prefix, const char *channel)
{
    size_t n = strlen(prefix);
    if (0 == n || 0 != strncmp(channel, prefix, n))
    {
        return false;
    }
    return NULL != strchr(prefix, '?') || '\0' == channel[n] || '?' == channel[n];
}

/*
 * A per-consumer stream request from a (untrusted) ConsumerHello: allowed channel and a term-length within the
 * cap. Logs why a request is declined.
 */
static bool channel_allowed(const tp_producer_t *p, const char *channel)
{
    bool any = false;
    bool match = false;
    for (size_t i = 0; i < TP_PRODUCER_CHANNEL_ALLOW_MAX && !match; i++)
    {
        const char *prefix = p->config.per_consumer_channels[i];
        any = any || '\0' != prefix[0];
        match = channel_prefix_matches(prefix, channel);
    }
    if (!any)
    {
        match = channel_prefix_matches("aeron:ipc", channel);
    }
    if (!match)
    {
        TP_LOG_DEBUG("producer", "stream %u: per-consumer channel %s declined: not in the allowed channels",
            p->config.stream_id, channel);
        return false;
    }
    tp_uri_t uri;
    uint64_t cap = p->config.per_consumer_max_term_length ? p->config.per_consumer_max_term_length
                                                          : TP_PRODUCER_DEFAULT_MAX_TERM_LENGTH;
    uint64_t term_length = 0;
    if (tp_uri_parse(channel, &uri) < 0 || tp_uri_get_size(&uri, "term-length", 0, 0, UINT64_MAX, false, &term_length) < 0)
    {
        TP_LOG_DEBUG("producer", "stream %u: per-consumer channel %s declined: %s", p->config.stream_id, channel,
            tp_errmsg());
        return false;
    }
    if (term_length > cap)
    {
        TP_LOG_DEBUG("producer", "stream %u: per-consumer channel %s declined: term-length %llu above the cap %llu",
            p->config.stream_id, channel, (unsigned long long)term_length, (unsigned long long)cap);
        return false;
    }
    return true;
}

/* ConsumerConfig: assigned per-consumer streams, or empty channel and 0 id for what was declined (§10.1.3). */
void tp_producer_send_config(tp_producer_t *p, const tp_tracked_consumer_t *c)
{
    uint8_t buf[2 * TP_CLIENT_CHANNEL_MAX + 128];
    bool d = NULL != c->desc.pub, k = NULL != c->ctl.pub;
    tp_proto_consumer_config_view_t v = { .stream_id = p->config.stream_id, .consumer_id = c->consumer_id,
        .use_shm = true,
        .mode = TP_SBE_WIRE_MODE_RATE_LIMITED == c->mode ? TP_SBE_WIRE_MODE_RATE_LIMITED : TP_SBE_WIRE_MODE_STREAM,
        .descriptor_stream_id = d ? (uint32_t)c->desc.stream_id : 0,
        .control_stream_id = k ? (uint32_t)c->ctl.stream_id : 0,
        .payload_fallback_uri = { "", 0 },
        .descriptor_channel = { d ? c->desc.channel : "", d ? (uint32_t)strlen(c->desc.channel) : 0 },
        .control_channel = { k ? c->ctl.channel : "", k ? (uint32_t)strlen(c->ctl.channel) : 0 } };
    size_t len = 0;
    if (0 == tp_proto_encode_consumer_config(buf, sizeof(buf), &v, &len))
    {
        tp_producer_offer_control(p, p->pub_control, buf, len);
    }
}

static void release_stream(tp_producer_t *p, tp_consumer_stream_t *st)
{
    /* still pending: the client polls it until it completes and closes it */
    tp_client_release_publication_add(p->client, st->async);
    st->async = NULL;
    tp_publication_close(st->pub);
    st->pub = NULL;
    st->channel[0] = '\0';
    st->stream_id = 0;
}

void tp_producer_release_consumer_streams(tp_producer_t *p, tp_tracked_consumer_t *c)
{
    release_stream(p, &c->desc);
    release_stream(p, &c->ctl);
}

void tp_producer_update_fanout_active(tp_producer_t *p)
{
    bool desc = false, ctl = false, shared = false;
    for (size_t i = 0; i < p->consumer_count; i++)
    {
        const tp_tracked_consumer_t *c = &p->consumers[i];
        desc = desc || NULL != c->desc.pub;
        if (c->supports_progress)
        {
            ctl = ctl || NULL != c->ctl.pub;
            shared = shared || NULL == c->ctl.pub;
        }
    }
    if (desc && !atomic_load(&p->fanout_active))
    {
        /* start from the current tail: only frames committed from now on are fanned out */
        tp_spsc_queue_discard_all(&p->fanout);
    }
    atomic_store(&p->fanout_active, desc);
    if (ctl && !atomic_load(&p->progress_fanout_active))
    {
        tp_spsc_queue_discard_all(&p->progress_queue);
    }
    atomic_store(&p->progress_fanout_active, ctl);
    atomic_store(&p->progress_shared, shared);
}

/*
 * One per-consumer stream request (§5, §10.1.2): both a channel and a
 * non-zero stream id, an Aeron channel, not one of the shared streams.
 * Returns true when a ConsumerConfig should be sent now (declined, or an
 * idempotent re-assignment).
 */
bool tp_producer_handle_stream_request(tp_producer_t *p, tp_consumer_stream_t *st, const char *ch, uint32_t len,
    uint32_t sid)
{
    const tp_context_t *ctx = &p->client->ctx;
    if (0 == len && 0 == sid)
    {
        if (NULL != st->pub || NULL != st->async)
        {
            release_stream(p, st); /* no longer requested */
        }
        return false;
    }
    char channel[TP_CLIENT_CHANNEL_MAX];
    bool valid = len > 0 && len < sizeof(channel) && sid != 0 && sid <= INT32_MAX;
    if (valid)
    {
        memcpy(channel, ch, len);
        channel[len] = '\0';
        valid = 0 == strncmp(channel, "aeron:", 6);
        for (int k = 0; valid && k < TP_STREAM_KIND_COUNT; k++)
        {
            valid = !(ctx->stream_id[k] == (int32_t)sid && 0 == strcmp(ctx->channel[k], channel));
        }
        valid = valid && channel_allowed(p, channel);
    }
    if (!valid)
    {
        release_stream(p, st);
        return true;
    }
    if ((NULL != st->pub || NULL != st->async) && st->stream_id == (int32_t)sid && 0 == strcmp(st->channel, channel))
    {
        return NULL != st->pub;
    }
    release_stream(p, st);
    snprintf(st->channel, sizeof(st->channel), "%s", channel);
    st->stream_id = (int32_t)sid;
    if (tp_transport_async_add_publication(&st->async, p->client->transport, st->channel, st->stream_id) < 0)
    {
        st->async = NULL;
        release_stream(p, st);
        return true;
    }
    return false;
}

/* Complete a pending per-consumer publication: 1 when it finished (either way), 0 pending. */
static int poll_stream(tp_producer_t *p, tp_consumer_stream_t *st)
{
    if (NULL == st->async)
    {
        return 0;
    }
    int rc = tp_transport_async_add_publication_poll(&st->pub, st->async);
    if (0 == rc)
    {
        return 0;
    }
    st->async = NULL;
    if (1 != rc)
    {
        st->pub = NULL;
        release_stream(p, st);
    }
    return 1;
}

/* One FrameProgress of the application thread to every progress consumer with its own control stream. */
static void fan_out_progress(void *clientd, void *element)
{
    tp_producer_t *p = clientd;
    const tp_progress_entry_t *pe = element;
    uint8_t buf[TP_PROGRESS_LENGTH];
    tp_producer_encode_progress(p, buf, sizeof(buf), pe->epoch, pe->seq, pe->bytes_filled, (int)pe->state);
    for (size_t i = 0; i < p->consumer_count; i++)
    {
        if (NULL != p->consumers[i].ctl.pub && p->consumers[i].supports_progress)
        {
            tp_producer_offer_control(p, p->consumers[i].ctl.pub, buf, sizeof(buf));
        }
    }
}

typedef struct fanout_drain_stct
{
    tp_producer_t *p;
    uint64_t now_ns;
} fanout_drain_t;

/* One committed frame to every consumer with its own descriptor stream (rate limited per consumer). */
static void fan_out_descriptor(void *clientd, void *element)
{
    fanout_drain_t *d = clientd;
    tp_producer_t *p = d->p;
    const tp_fanout_entry_t *f = element;
    uint8_t buf[TP_DESCRIPTOR_LENGTH];
    tp_producer_encode_descriptor(p, buf, sizeof(buf), f->epoch, f->seq, f->meta_version, f->trace_id);
    uint8_t stamped[TP_DESCRIPTOR_LENGTH];
    for (size_t i = 0; i < p->consumer_count; i++)
    {
        tp_tracked_consumer_t *c = &p->consumers[i];
        const uint8_t *msg = buf;
        if (NULL == c->desc.pub)
        {
            continue;
        }
        if (c->max_rate_hz > 0)
        {
            if (d->now_ns < c->next_allowed_ns)
            {
                tp_counter_add(&p->per_consumer_rate_limited, 1);
                continue;
            }
            c->next_allowed_ns = d->now_ns + UINT64_C(1000000000) / c->max_rate_hz;
            /*
             * Stamp the descriptor with the time this gate used (its publish time on this stream, §10.2.1). A
             * RATE_LIMITED consumer gates on FrameDescriptor.timestamp_ns when present (§11 implementation
             * note), so it then passes exactly what this gate passed; gating on its own receipt time instead,
             * it dropped a few of them again on scheduling jitter alone (DECISIONS RL-C1).
             */
            memcpy(stamped, buf, sizeof(stamped));
            tp_sbe_put_u64(stamped + TP_SBE_MESSAGE_HEADER_LENGTH + TP_SBE_WIRE_FRAME_DESCRIPTOR_TIMESTAMP_NS_OFFSET,
                d->now_ns);
            msg = stamped;
        }
        tp_producer_offer_control(p, c->desc.pub, msg, TP_DESCRIPTOR_LENGTH);
        tp_counter_add(&p->per_consumer_descriptors, 1);
    }
}

/* Conductor: complete pending per-consumer publications, then fan committed frames and progress out. */
int tp_producer_fanout_work(tp_producer_t *p, uint64_t now_ns)
{
    int work = 0;
    bool changed = false;
    for (size_t i = 0; i < p->consumer_count; i++)
    {
        tp_tracked_consumer_t *c = &p->consumers[i];
        int done = poll_stream(p, &c->desc) + poll_stream(p, &c->ctl);
        if (done > 0)
        {
            work++;
            changed = true;
            if (NULL == c->desc.async && NULL == c->ctl.async && !p->driver_mode)
            {
                tp_producer_send_config(p, c); /* in driver mode the driver's ConsumerConfig already told the consumer */
            }
        }
    }
    if (changed)
    {
        tp_producer_update_fanout_active(p);
    }
    if (atomic_load_explicit(&p->progress_fanout_active, memory_order_relaxed))
    {
        work += (int)tp_spsc_queue_drain(&p->progress_queue, fan_out_progress, p, 0);
    }
    if (atomic_load_explicit(&p->fanout_active, memory_order_relaxed))
    {
        fanout_drain_t d = { p, now_ns };
        work += (int)tp_spsc_queue_drain(&p->fanout, fan_out_descriptor, &d, 0);
    }
    return work;
}
