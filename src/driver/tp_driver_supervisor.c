/*
 * The supervisor duties of the driver (wire spec §10.5, Driver Model §11), a
 * part of the driver's duty cycle on the conductor thread:
 *
 * - a registry of the consumers of the streams the driver manages, fed by
 *   ConsumerHello (control stream) and QosConsumer (QoS stream), swept when
 *   they go stale;
 * - per-consumer descriptor/control stream assignment (§11): a consumer that
 *   asks for its own stream gets an id from driver.descriptor_stream_id_range
 *   / driver.control_stream_id_range in a ConsumerConfig; an unset or
 *   exhausted range declines (empty channel, id 0: the consumer stays on the
 *   shared streams). The producer in driver mode opens the assigned streams
 *   from that ConsumerConfig;
 * - policy overrides from [supervisor] (force_no_shm, force_mode,
 *   payload_fallback_uri) carried by the same ConsumerConfig;
 * - QoS aggregation: drops and liveness per stream, in tp_driver_stats.
 */
#include <stdio.h>
#include <string.h>

#include "common/tp_clock.h"
#include "common/tp_log.h"
#include "driver/tp_driver_internal.h"
#include "protocol/tp_proto.h"

static tp_driver_consumer_t *find_consumer(tp_driver_t *d, uint32_t stream_id, uint32_t consumer_id)
{
    for (size_t i = 0; i < d->consumer_count; i++)
    {
        if (d->consumers[i].stream_id == stream_id && d->consumers[i].consumer_id == consumer_id)
        {
            return &d->consumers[i];
        }
    }
    return NULL;
}

static bool id_in_use(const tp_driver_t *d, uint32_t id, bool control)
{
    for (size_t i = 0; i < d->consumer_count; i++)
    {
        if ((control ? d->consumers[i].control_stream_id : d->consumers[i].descriptor_stream_id) == id)
        {
            return true;
        }
    }
    return false;
}

/* Lowest free id of the range; 0 when the range is unset or exhausted. */
static uint32_t allocate_id(const tp_driver_t *d, const tp_driver_range_t *r, bool control)
{
    if (!r->set)
    {
        return 0;
    }
    for (uint64_t id = r->first; id <= r->last; id++)
    {
        if (!id_in_use(d, (uint32_t)id, control))
        {
            return (uint32_t)id;
        }
    }
    return 0;
}

static void send_config(tp_driver_t *d, const tp_driver_consumer_t *c)
{
    const tp_driver_config_t *cfg = &d->config;
    uint8_t buf[3 * TP_DRIVER_CHANNEL_MAX + 256];
    uint8_t mode = 0 != cfg->supervisor_force_mode ? cfg->supervisor_force_mode : c->mode;
    const char *dch = 0 != c->descriptor_stream_id ? c->descriptor_channel : "";
    const char *cch = 0 != c->control_stream_id ? c->control_channel : "";
    tp_proto_consumer_config_view_t v = { .stream_id = c->stream_id, .consumer_id = c->consumer_id,
        .use_shm = !cfg->supervisor_force_no_shm,
        .mode = TP_SBE_WIRE_MODE_RATE_LIMITED == mode ? TP_SBE_WIRE_MODE_RATE_LIMITED : TP_SBE_WIRE_MODE_STREAM,
        .descriptor_stream_id = c->descriptor_stream_id, .control_stream_id = c->control_stream_id,
        .payload_fallback_uri = { cfg->supervisor_fallback_uri, (uint32_t)strlen(cfg->supervisor_fallback_uri) },
        .descriptor_channel = { dch, (uint32_t)strlen(dch) }, .control_channel = { cch, (uint32_t)strlen(cch) } };
    size_t len = 0;
    if (0 == tp_proto_encode_consumer_config(buf, sizeof(buf), &v, &len))
    {
        tp_driver_offer(d, d->control_pub, buf, len);
        tp_driver_count(d, TP_DRV_C_CONFIGS, 1);
    }
}

/* One requested per-consumer stream: assigned from the range, kept while the request stays the same. */
static bool assign(tp_driver_t *d, tp_driver_consumer_t *c, const tp_proto_str_t *channel, uint32_t token,
    bool control)
{
    uint32_t *id = control ? &c->control_stream_id : &c->descriptor_stream_id;
    char *dst = control ? c->control_channel : c->descriptor_channel;
    bool *declined = control ? &c->control_declined : &c->descriptor_declined;
    bool requested = channel->length > 0 && 0 != token;
    if (!requested || channel->length >= TP_DRIVER_CHANNEL_MAX || 0 != strncmp(channel->data, "aeron:", 6))
    {
        bool changed = 0 != *id;
        *id = 0;
        *declined = false;
        dst[0] = '\0';
        return changed;
    }
    if (0 != *id || *declined)
    {
        return false; /* answered already (assigned or declined): kept while the consumer lives */
    }
    *id = allocate_id(d, control ? &d->config.control_stream_id_range : &d->config.descriptor_stream_id_range,
        control);
    const char *configured = control ? d->config.supervisor_control_channel : d->config.supervisor_descriptor_channel;
    if ('\0' != configured[0])
    {
        snprintf(dst, TP_DRIVER_CHANNEL_MAX, "%s", configured); /* the deployment's channel for per-consumer streams */
    }
    else
    {
        memcpy(dst, channel->data, channel->length);
        dst[channel->length] = '\0';
    }
    if (0 == *id)
    {
        dst[0] = '\0';
        *declined = true;
        tp_driver_count(d, TP_DRV_C_PER_CONSUMER_DECLINED, 1);
        TP_LOG_INFO("driver", "stream %u consumer %u: per-consumer %s stream declined (%s)", c->stream_id,
            c->consumer_id, control ? "control" : "descriptor",
            (control ? d->config.control_stream_id_range.set : d->config.descriptor_stream_id_range.set)
                ? "range exhausted"
                : "no range configured");
    }
    else
    {
        tp_driver_count(d, TP_DRV_C_PER_CONSUMER_ASSIGNED, 1);
        TP_LOG_INFO("driver", "stream %u consumer %u: per-consumer %s stream %s/%u", c->stream_id, c->consumer_id,
            control ? "control" : "descriptor", dst, *id);
    }
    return true;
}

void tp_driver_supervisor_on_wire(tp_driver_t *d, uint16_t template_id, const uint8_t *buffer, size_t length,
    uint64_t now_ns)
{
    if (TP_SBE_WIRE_CONSUMER_HELLO_TEMPLATE_ID == template_id)
    {
        tp_proto_consumer_hello_view_t v;
        if (tp_proto_decode_consumer_hello(buffer, length, &v) < 0)
        {
            tp_driver_count(d, TP_DRV_C_MALFORMED, 1);
            return;
        }
        if (NULL == tp_driver_stream_find(d, v.stream_id))
        {
            return; /* not a stream of this driver */
        }
        tp_driver_consumer_t *c = find_consumer(d, v.stream_id, v.consumer_id);
        bool fresh = NULL == c;
        if (fresh)
        {
            if (d->consumer_count >= TP_DRIVER_MAX_CONSUMERS)
            {
                tp_driver_count(d, TP_DRV_C_CONSUMERS_REFUSED, 1);
                return;
            }
            c = &d->consumers[d->consumer_count++];
            memset(c, 0, sizeof(*c));
            c->stream_id = v.stream_id;
            c->consumer_id = v.consumer_id;
        }
        c->last_seen_ns = now_ns;
        c->mode = (uint8_t)v.mode;
        bool changed = assign(d, c, &v.descriptor_channel, v.descriptor_stream_id, false);
        changed = assign(d, c, &v.control_channel, v.control_stream_id, true) || changed;
        bool policy = d->config.supervisor_force_no_shm || 0 != d->config.supervisor_force_mode ||
            '\0' != d->config.supervisor_fallback_uri[0];
        bool asked = v.descriptor_channel.length > 0 || v.control_channel.length > 0;
        if (changed || (fresh && (policy || asked)))
        {
            send_config(d, c);
        }
    }
}

void tp_driver_supervisor_on_qos(tp_driver_t *d, const uint8_t *buffer, size_t length, uint64_t now_ns)
{
    uint16_t schema_id = 0;
    uint16_t template_id = 0;
    if (tp_proto_peek(buffer, length, &schema_id, &template_id) < 0 || TP_SBE_WIRE_SCHEMA_ID != schema_id)
    {
        return;
    }
    if (TP_SBE_WIRE_QOS_CONSUMER_TEMPLATE_ID == template_id)
    {
        tp_proto_qos_consumer_view_t v;
        if (tp_proto_decode_qos_consumer(buffer, length, &v) < 0)
        {
            tp_driver_count(d, TP_DRV_C_MALFORMED, 1);
            return;
        }
        tp_driver_count(d, TP_DRV_C_QOS, 1);
        tp_driver_consumer_t *c = find_consumer(d, v.stream_id, v.consumer_id);
        if (NULL != c)
        {
            c->last_seen_ns = now_ns;
            c->drops_gap = v.drops_gap;
            c->drops_late = v.drops_late;
        }
    }
    else if (TP_SBE_WIRE_QOS_PRODUCER_TEMPLATE_ID == template_id)
    {
        tp_proto_qos_producer_view_t v;
        if (tp_proto_decode_qos_producer(buffer, length, &v) < 0)
        {
            tp_driver_count(d, TP_DRV_C_MALFORMED, 1);
            return;
        }
        tp_driver_count(d, TP_DRV_C_QOS, 1);
        tp_driver_stream_t *s = tp_driver_stream_find(d, v.stream_id);
        if (NULL != s)
        {
            s->last_producer_qos_ns = now_ns;
            s->producer_seq = v.current_seq;
        }
    }
}

static void qos_handler(void *clientd, const uint8_t *buffer, size_t length, const tp_header_t *header)
{
    (void)header;
    tp_driver_supervisor_on_qos((tp_driver_t *)clientd, buffer, length, tp_clock_mono_ns());
}

int tp_driver_supervisor_do_work(tp_driver_t *d, uint64_t now_ns)
{
    int work = 0;
    if (NULL != d->qos_sub)
    {
        int rc = tp_subscription_poll(d->qos_sub, qos_handler, d, 16);
        work += rc > 0 ? rc : 0;
    }
    uint64_t stale = (uint64_t)d->config.supervisor_consumer_stale_ms * 1000000ull;
    uint64_t gap = 0;
    uint64_t late = 0;
    for (size_t i = 0; i < d->consumer_count;)
    {
        tp_driver_consumer_t *c = &d->consumers[i];
        if (now_ns > c->last_seen_ns + stale) /* last_seen may be later than now_ns (set by this cycle's poll) */
        {
            /* stale (§10.1.3): its per-consumer stream ids go back to the ranges */
            tp_driver_count(d, TP_DRV_C_CONSUMERS_STALE, 1);
            d->consumers[i] = d->consumers[--d->consumer_count];
            work++;
            continue;
        }
        gap += c->drops_gap;
        late += c->drops_late;
        i++;
    }
    atomic_store_explicit(&d->counters[TP_DRV_C_CONSUMERS], d->consumer_count, memory_order_relaxed);
    atomic_store_explicit(&d->counters[TP_DRV_C_DROPS_GAP], gap, memory_order_relaxed);
    atomic_store_explicit(&d->counters[TP_DRV_C_DROPS_LATE], late, memory_order_relaxed);
    return work;
}
