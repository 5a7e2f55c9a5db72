/*
 * Consumer stream switching (wire spec §5, §10.1.3, §15.12), on the
 * conductor thread: ConsumerConfig, the switch to an assigned per-consumer
 * descriptor stream (with a drain-and-dedup window on the previous one) and
 * to an assigned per-consumer control stream.
 */
#include <stdio.h>
#include <string.h>

#include "client/tp_consumer_internal.h"
#include "common/tp_clock.h"
#include "common/tp_error.h"
#include "common/tp_log.h"
#include "protocol/tp_proto.h"

/* ConsumerConfig: decode (src/protocol; a message that does not decode is ignored), then act on ours. */
void tp_consumer_handle_config(tp_consumer_t *c, const uint8_t *buffer, size_t length)
{
    tp_proto_consumer_config_view_t v;
    if (tp_proto_decode_consumer_config(buffer, length, &v) < 0 || v.stream_id != c->config.stream_id ||
        v.consumer_id != c->consumer_id)
    {
        return;
    }
    tp_counter_add(&c->configs_received, 1);
    if (TP_SBE_WIRE_MODE_STREAM == v.mode || TP_SBE_WIRE_MODE_RATE_LIMITED == v.mode)
    {
        c->config.mode = (tp_consumer_mode_t)v.mode;
    }
    c->use_shm = v.use_shm;
    atomic_store(&c->a_use_shm, c->use_shm);
    if (!c->use_shm)
    {
        /* FALLBACK (§15.12): only aeron: URIs and bridge:// are known schemes; others are unsupported */
        uint32_t uri_len = v.payload_fallback_uri.length;
        size_t n = uri_len < sizeof(c->fallback_uri) - 1 ? uri_len : 0;
        memcpy(c->fallback_uri, v.payload_fallback_uri.data, n);
        c->fallback_uri[n] = '\0';
        if (n > 0 && 0 != strncmp(c->fallback_uri, "aeron:", 6) && 0 != strncmp(c->fallback_uri, "bridge://", 9))
        {
            tp_err_set(TP_ERR_UNSUPPORTED, "payload fallback URI scheme not supported: %s", c->fallback_uri);
            tp_client_report_error(c->client, "ConsumerConfig");
            c->fallback_uri[0] = '\0';
        }
        tp_consumer_unmap(c);
    }
    /* Assigned per-consumer control stream (§5): FrameProgress comes from there from now on. */
    uint32_t csid = v.control_stream_id;
    uint32_t clen = v.control_channel.length;
    if (clen > 0 && csid != 0 && csid <= INT32_MAX && clen < TP_CONSUMER_CHANNEL_MAX &&
        0 != c->config.control_stream_id && NULL == c->pcc_async)
    {
        char channel[TP_CONSUMER_CHANNEL_MAX];
        memcpy(channel, v.control_channel.data, clen);
        channel[clen] = '\0';
        if (!(NULL != c->sub_pc_control && c->pcc_stream_id == (int32_t)csid && 0 == strcmp(c->pcc_channel, channel)))
        {
            snprintf(c->pcc_channel, sizeof(c->pcc_channel), "%s", channel);
            c->pcc_stream_id = (int32_t)csid;
            if (tp_transport_async_add_subscription(&c->pcc_async, c->client->transport, c->pcc_channel,
                    c->pcc_stream_id, NULL, NULL, NULL, NULL) < 0)
            {
                c->pcc_async = NULL;
                tp_client_report_error(c->client, "per-consumer control stream");
            }
        }
    }
    /* Assigned per-consumer descriptor stream (§5): subscribe to it instead of the shared one. */
    uint32_t dsid = v.descriptor_stream_id;
    uint32_t dlen = v.descriptor_channel.length;
    if (0 == dlen || 0 == dsid || dsid > INT32_MAX || dlen >= TP_CONSUMER_CHANNEL_MAX ||
        0 == c->config.descriptor_stream_id)
    {
        return; /* declined (or not requested): stay on the shared stream */
    }
    char channel[TP_CONSUMER_CHANNEL_MAX];
    memcpy(channel, v.descriptor_channel.data, dlen);
    channel[dlen] = '\0';
    if ((c->pc_active || NULL != c->pc_async) && c->pc_stream_id == (int32_t)dsid && 0 == strcmp(c->pc_channel, channel))
    {
        return; /* already on (or joining) it */
    }
    if (NULL != c->pc_async)
    {
        return; /* one switch at a time */
    }
    snprintf(c->pc_channel, sizeof(c->pc_channel), "%s", channel);
    c->pc_stream_id = (int32_t)dsid;
    if (tp_transport_async_add_subscription(&c->pc_async, c->client->transport, c->pc_channel, c->pc_stream_id, NULL,
            NULL, NULL, NULL) < 0)
    {
        c->pc_async = NULL;
        tp_client_report_error(c->client, "per-consumer descriptor stream");
    }
}

/*
 * Poll the previous descriptor subscription until it has nothing more (bounded). Returns the fragments read;
 * *drained tells whether it came up empty.
 */
static int drain_previous_descriptors_bounded(tp_consumer_t *c, bool *drained)
{
    int work = 0;
    *drained = false;
    c->desc_from_prev = true;
    for (int i = 0; i < 16; i++)
    {
        int rc = tp_subscription_poll(c->sub_descriptor_prev, tp_consumer_on_descriptor, c, c->config.fragment_limit);
        if (rc <= 0)
        {
            *drained = true;
            break;
        }
        work += rc;
    }
    c->desc_from_prev = false;
    return work;
}

static void drain_previous_descriptors(tp_consumer_t *c)
{
    bool drained;
    drain_previous_descriptors_bounded(c, &drained);
}

/*
 * Switch window duty: drain the previous stream first; close it once it is empty after the new stream has
 * delivered (everything it held is then consumed), or at the deadline. *backlog: it still holds descriptors
 * (the new stream is not polled this cycle, so that older descriptors come first).
 */
int tp_consumer_poll_previous_descriptor_stream(tp_consumer_t *c, uint64_t now_ns, bool *backlog)
{
    bool drained;
    int work = drain_previous_descriptors_bounded(c, &drained);
    *backlog = !drained;
    if ((drained && c->switch_new_seen) || now_ns >= c->switch_deadline_ns)
    {
        tp_subscription_close(c->sub_descriptor_prev);
        c->sub_descriptor_prev = NULL;
        *backlog = false;
        TP_LOG_DEBUG("consumer", "stream %u: previous descriptor stream drained and closed", c->config.stream_id);
        work++;
    }
    return work;
}

/* Complete a switch to the assigned descriptor stream. */
int tp_consumer_poll_descriptor_switch(tp_consumer_t *c)
{
    tp_subscription_t *sub = NULL;
    int rc = tp_transport_async_add_subscription_poll(&sub, c->pc_async);
    if (0 == rc)
    {
        return 0;
    }
    c->pc_async = NULL;
    if (rc < 0)
    {
        tp_client_report_error(c->client, "per-consumer descriptor stream");
        return 1;
    }
    if (NULL != c->sub_descriptor_prev)
    {
        /* a switch during a switch window: the intermediate stream gives way at once */
        drain_previous_descriptors(c);
        tp_subscription_close(c->sub_descriptor_prev);
    }
    /* keep the shared stream until its unread descriptors are consumed (see drain_previous_descriptors) */
    c->sub_descriptor_prev = c->sub_descriptor;
    c->sub_descriptor = sub;
    c->switch_dedup = true;
    c->switch_new_seen = false;
    uint64_t window = tp_context_freshness_ns(&c->client->ctx);
    c->switch_deadline_ns = tp_clock_mono_ns() + (window > TP_CONSUMER_SWITCH_MIN_NS ? window : TP_CONSUMER_SWITCH_MIN_NS);
    c->pc_active = true;
    atomic_store(&c->a_descriptor_stream_id, (uint32_t)c->pc_stream_id);
    TP_LOG_INFO("consumer", "stream %u: descriptors now on %s stream %d", c->config.stream_id, c->pc_channel,
        c->pc_stream_id);
    return 1;
}

/* Complete a switch to the assigned per-consumer control stream: 1 when it finished (either way), 0 pending. */
int tp_consumer_poll_control_switch(tp_consumer_t *c)
{
    tp_subscription_t *sub = NULL;
    int prc = tp_transport_async_add_subscription_poll(&sub, c->pcc_async);
    if (0 == prc)
    {
        return 0;
    }
    c->pcc_async = NULL;
    if (1 == prc)
    {
        tp_subscription_close(c->sub_pc_control);
        c->sub_pc_control = sub;
        atomic_store(&c->a_progress_stream_id, (uint32_t)c->pcc_stream_id);
    }
    else
    {
        tp_client_report_error(c->client, "per-consumer control stream");
    }
    return 1;
}
