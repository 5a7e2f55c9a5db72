/*
 * Consumer control plane (wire spec §10.1, §10.4.1), on the conductor
 * thread: creation and destruction, image join times, ConsumerHello,
 * QosConsumer, the announce/control stream dispatch and the consumer's
 * duty cycle.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/tp_consumer_internal.h"
#include "tp_sbe/driver.h"
#include "common/tp_clock.h"
#include "common/tp_error.h"
#include "common/tp_log.h"
#include "protocol/tp_proto.h"

/* ------------------------------------------------------------------------- */
/* Creation                                                                   */
/* ------------------------------------------------------------------------- */

static void on_available_image(void *clientd, tp_subscription_t *subscription, const tp_image_t *image)
{
    (void)subscription;
    tp_consumer_t *c = clientd;
    for (size_t i = 0; i < c->image_count; i++)
    {
        if (c->images[i].session_id == image->session_id)
        {
            c->images[i].join_time_ns = image->join_time_ns;
            return;
        }
    }
    if (c->image_count < TP_CONSUMER_MAX_IMAGES)
    {
        c->images[c->image_count].session_id = image->session_id;
        c->images[c->image_count].join_time_ns = image->join_time_ns;
        c->image_count++;
    }
}

static void on_unavailable_image(void *clientd, tp_subscription_t *subscription, const tp_image_t *image)
{
    (void)subscription;
    tp_consumer_t *c = clientd;
    for (size_t i = 0; i < c->image_count; i++)
    {
        if (c->images[i].session_id == image->session_id)
        {
            c->images[i] = c->images[--c->image_count];
            return;
        }
    }
}

static int add_sub(tp_consumer_t *c, tp_stream_kind_t kind, tp_subscription_t **dst, bool images)
{
    tp_pending_adds_t *pa = &c->pending;
    if (tp_transport_async_add_subscription(&pa->sub_async[pa->sub_count], c->client->transport,
            c->client->ctx.channel[kind], c->client->ctx.stream_id[kind], images ? on_available_image : NULL, c,
            images ? on_unavailable_image : NULL, c) < 0)
    {
        return -1;
    }
    pa->sub_dst[pa->sub_count++] = dst;
    return 0;
}

static int add_pub(tp_consumer_t *c, tp_stream_kind_t kind, tp_publication_t **dst)
{
    tp_pending_adds_t *pa = &c->pending;
    if (tp_transport_async_add_publication(&pa->pub_async[pa->pub_count], c->client->transport,
            c->client->ctx.channel[kind], c->client->ctx.stream_id[kind]) < 0)
    {
        return -1;
    }
    pa->pub_dst[pa->pub_count++] = dst;
    return 0;
}

int tp_consumer_create(tp_consumer_t **out, tp_client_t *client, const tp_consumer_config_t *config)
{
    if (NULL == config->on_frame)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "consumer config: on_frame callback is required");
    }
    if (config->mode != TP_CONSUMER_MODE_STREAM && config->mode != TP_CONSUMER_MODE_RATE_LIMITED)
    {
        return tp_err_set(TP_ERR_CONFIG, "consumer config: mode must be STREAM (1) or RATE_LIMITED (2)");
    }
    tp_consumer_t *c = calloc(1, sizeof(*c));
    if (NULL == c)
    {
        return tp_err_set(TP_ERR_NO_MEMORY, "consumer: out of memory");
    }
    c->client = client;
    c->config = *config;
    if (0 == c->config.fragment_limit)
    {
        c->config.fragment_limit = 64;
    }
    c->consumer_id_auto = 0 == config->consumer_id;
    c->consumer_id = c->consumer_id_auto ? tp_context_next_client_id(&client->ctx) : config->consumer_id;
    c->config.descriptor_channel[TP_CONSUMER_CHANNEL_MAX - 1] = '\0';
    if ((c->config.descriptor_channel[0] != '\0') != (c->config.descriptor_stream_id != 0))
    {
        free(c);
        return tp_err_set(TP_ERR_CONFIG,
            "consumer config: a per-consumer descriptor stream needs both descriptor_channel and a non-zero "
            "descriptor_stream_id (wire spec §10.1.2)");
    }
    atomic_store(&c->a_descriptor_stream_id, (uint32_t)client->ctx.stream_id[TP_STREAM_DESCRIPTOR]);
    c->config.control_channel[TP_CONSUMER_CHANNEL_MAX - 1] = '\0';
    if ((c->config.control_channel[0] != '\0') != (c->config.control_stream_id != 0))
    {
        free(c);
        return tp_err_set(TP_ERR_CONFIG,
            "consumer config: a per-consumer control stream needs both control_channel and a non-zero "
            "control_stream_id (wire spec §10.1.2)");
    }
    atomic_store(&c->a_progress_stream_id, (uint32_t)client->ctx.stream_id[TP_STREAM_CONTROL]);
    c->use_shm = true;
    atomic_store(&c->a_use_shm, true);
    c->meta_version = TP_NULL_META_VERSION;
    c->subscribed_ns = tp_clock_mono_ns();
    c->driver_mode = client->ctx.driver_mode;
    if (c->driver_mode)
    {
        tp_driver_lease_init(&c->lease, config->stream_id, c->consumer_id, TP_LEASE_ROLE_CONSUMER);
        /* a consumer may start before its producer: on a dynamic stream it provisions the regions (§4.3) */
        c->lease.publish_mode = 2;
        c->lease.keepalive_interval_ns = client->ctx.driver_keepalive_ns;
        c->lease.driver_silence_ns = 3 * tp_context_freshness_ns(&client->ctx);
    }
    bool same = tp_context_same_stream(&client->ctx, TP_STREAM_CONTROL, TP_STREAM_ANNOUNCE);
    if (add_sub(c, TP_STREAM_ANNOUNCE, &c->sub_announce, true) < 0 ||
        (!same && add_sub(c, TP_STREAM_CONTROL, &c->sub_control, false) < 0) ||
        add_sub(c, TP_STREAM_DESCRIPTOR, &c->sub_descriptor, false) < 0 ||
        (config->use_metadata && add_sub(c, TP_STREAM_METADATA, &c->sub_metadata, false) < 0) ||
        add_pub(c, TP_STREAM_CONTROL, &c->pub_control) < 0 || add_pub(c, TP_STREAM_QOS, &c->pub_qos) < 0)
    {
        int code = tp_errcode();
        char msg[512];
        snprintf(msg, sizeof(msg), "consumer: %s", tp_errmsg());
        tp_consumer_destroy(c);
        return tp_err_set(code, "%s", msg);
    }
    *out = c;
    return 0;
}

/*
 * Driver mode, while the add is pending: attach and wait for the lease. A
 * refusal fails the add with the driver's reason, as does no answer within
 * the client timeout. The regions are mapped from the driver's announces.
 */
static int poll_first_lease(tp_consumer_t *c, uint64_t now)
{
    const tp_context_t *ctx = &c->client->ctx;
    if (0 == c->attach_deadline_ns)
    {
        c->attach_deadline_ns = now + ctx->client_timeout_ns;
    }
    tp_consumer_driver_work(c, now);
    tp_subscription_poll(NULL != c->sub_control ? c->sub_control : c->sub_announce, tp_consumer_on_announce_stream, c,
        16);
    if (TP_LEASE_ATTACHED == c->lease.state)
    {
        c->active = true;
        return 1;
    }
    if (TP_LEASE_EVENT_REJECTED == c->attach_event && 0 == c->lease.protocol_errors)
    {
        return tp_err_set(TP_ERR_PERMISSION, "consumer: the SHM driver refused stream %u: %s", c->config.stream_id,
            c->lease.last_error);
    }
    if (now > c->attach_deadline_ns)
    {
        return tp_err_set(TP_ERR_TIMEOUT,
            "consumer: no lease from the SHM driver for stream %u within %llu ms (%s); is `tp driver` running on "
            "control stream %s/%d with the same transport?",
            c->config.stream_id, (unsigned long long)(ctx->client_timeout_ns / 1000000),
            c->lease.last_error[0] ? c->lease.last_error : "no answer", ctx->channel[TP_STREAM_CONTROL],
            ctx->stream_id[TP_STREAM_CONTROL]);
    }
    return 0;
}

int tp_consumer_poll_ready(tp_consumer_t *c)
{
    int rc = tp_pending_adds_poll(&c->pending);
    if (1 == rc && c->driver_mode)
    {
        return poll_first_lease(c, tp_clock_mono_ns());
    }
    if (1 == rc)
    {
        c->active = true;
    }
    return rc;
}

static void on_lease_event(tp_consumer_t *c, tp_driver_lease_event_t ev)
{
    if (TP_LEASE_EVENT_NONE == ev)
    {
        return;
    }
    if (TP_LEASE_EVENT_REJECTED == ev && c->lease.client_id_refused && c->consumer_id_auto)
    {
        /* Appendix B.2: our auto-assigned id collides with another client's: choose a new one and retry after the
         * backoff already scheduled (a configured consumer_id keeps failing with the driver's message) */
        uint32_t old = c->consumer_id;
        uint32_t id = tp_context_next_client_id(&c->client->ctx);
        tp_driver_lease_set_client_id(&c->lease, id);
        c->consumer_id = id;
        TP_LOG_INFO("consumer", "stream %u: auto-assigned client id %u already attached at the driver: retrying as %u",
            c->config.stream_id, old, id);
        return;
    }
    c->attach_event = ev;
    if (TP_LEASE_EVENT_LOST == ev)
    {
        /* §4.7, §4.9: stop using the regions of the lease at once, drop in-flight frames, reattach */
        TP_LOG_WARN("consumer", "stream %u: %s", c->config.stream_id, c->lease.last_error);
        if (NULL != c->ring)
        {
            tp_consumer_unmap(c);
            tp_counter_add(&c->unmaps, 1);
        }
    }
    else if (TP_LEASE_EVENT_REJECTED == ev && c->active)
    {
        TP_LOG_WARN("consumer", "stream %u: %s", c->config.stream_id, c->lease.last_error);
    }
    /* PRODUCER_LOST: the driver's epoch-bumped announce follows and is handled as any epoch change */
}

int tp_consumer_driver_work(tp_consumer_t *c, uint64_t now_ns)
{
    tp_driver_lease_event_t ev = TP_LEASE_EVENT_NONE;
    int work = tp_driver_lease_do_work(&c->lease, c->pub_control, now_ns, &ev);
    on_lease_event(c, ev);
    return work;
}

void tp_consumer_driver_message(tp_consumer_t *c, const uint8_t *buffer, size_t length, const tp_header_t *header,
    uint64_t now_ns)
{
    on_lease_event(c, tp_driver_lease_on_message(&c->lease, buffer, length, header, now_ns));
}

void tp_consumer_destroy(tp_consumer_t *c)
{
    if (NULL == c)
    {
        return;
    }
    tp_consumer_unmap(c);
    if (c->driver_mode && NULL != c->pub_control)
    {
        tp_driver_lease_detach(&c->lease, c->pub_control, tp_clock_mono_ns()); /* best effort: the lease would expire */
    }
    /* adds still pending are handed to the client, which closes them once they complete */
    tp_pending_adds_release(c->client, &c->pending);
    tp_client_release_subscription_add(c->client, c->pcc_async);
    c->pcc_async = NULL;
    tp_subscription_close(c->sub_pc_control);
    tp_client_release_subscription_add(c->client, c->pc_async);
    c->pc_async = NULL;
    tp_subscription_close(c->sub_announce);
    tp_subscription_close(c->sub_control);
    tp_subscription_close(c->sub_descriptor);
    tp_subscription_close(c->sub_descriptor_prev);
    tp_subscription_close(c->sub_metadata);
    tp_publication_close(c->pub_control);
    tp_publication_close(c->pub_qos);
    tp_consumer_free_attrs(c);
    free(c->blob);
    free(c);
}

void tp_consumer_on_announce_stream(void *clientd, const uint8_t *buffer, size_t length, const tp_header_t *header)
{
    tp_consumer_t *c = clientd;
    uint16_t schema_id = 0, template_id = 0;
    if (tp_proto_peek(buffer, length, &schema_id, &template_id) < 0)
    {
        return;
    }
    if (c->driver_mode && TP_SBE_DRIVER_SCHEMA_ID == schema_id)
    {
        tp_consumer_driver_message(c, buffer, length, header, tp_clock_mono_ns());
        return;
    }
    if (schema_id != TP_SBE_WIRE_SCHEMA_ID)
    {
        return;
    }
    bool ours = true;
    if (c->driver_mode && TP_SBE_WIRE_SHM_POOL_ANNOUNCE_TEMPLATE_ID == template_id)
    {
        /* driver mode: only the regions of a valid lease, announced by the driver that granted it (§4.7, DRV-15:
         * another driver's announces of our stream are counted and ignored, no flapping); checked while the add
         * is pending too, so the announce that follows the grant pins the driver's announce session */
        tp_proto_shm_pool_announce_view_t a;
        ours = 0 == tp_proto_decode_shm_pool_announce(buffer, length, &a) && a.stream_id == c->config.stream_id &&
            tp_driver_lease_accept_announce(&c->lease, header->session_id, a.epoch, a.header_region_uri.data,
                a.header_region_uri.length, tp_clock_mono_ns());
    }
    if (!c->active)
    {
        return;
    }
    if (TP_SBE_WIRE_SHM_POOL_ANNOUNCE_TEMPLATE_ID == template_id)
    {
        if (c->use_shm && ours)
        {
            tp_consumer_handle_announce(c, buffer, length, header);
        }
    }
    else if (TP_SBE_WIRE_CONSUMER_CONFIG_TEMPLATE_ID == template_id)
    {
        tp_consumer_handle_config(c, buffer, length);
    }
    else if (TP_SBE_WIRE_FRAME_PROGRESS_TEMPLATE_ID == template_id && NULL == c->sub_pc_control)
    {
        tp_consumer_handle_progress(c, buffer, length);
    }
}

/* ------------------------------------------------------------------------- */
/* Hello, QoS, duty cycle                                                     */
/* ------------------------------------------------------------------------- */

static void offer_control(tp_publication_t *pub, const uint8_t *buf, size_t len)
{
    for (int i = 0; i < 64; i++)
    {
        int64_t rc = tp_publication_offer(pub, buf, len, NULL, NULL);
        if (TP_PUBLICATION_ADMIN_ACTION != rc)
        {
            return;
        }
    }
}

static void send_hello(tp_consumer_t *c)
{
    uint8_t buf[2 * TP_CONSUMER_CHANNEL_MAX + 128];
    tp_sbe_wire_consumer_hello_t m = { 0 };
    tp_sbe_wire_consumer_hello_wrap_and_apply_header(&m, buf, 0, sizeof(buf));
    tp_sbe_wire_consumer_hello_set_stream_id(&m, c->config.stream_id);
    tp_sbe_wire_consumer_hello_set_consumer_id(&m, c->consumer_id);
    tp_sbe_wire_consumer_hello_set_supports_shm(&m, TP_SBE_WIRE_BOOL_TRUE);
    tp_sbe_wire_consumer_hello_set_supports_progress(&m,
        c->config.supports_progress ? TP_SBE_WIRE_BOOL_TRUE : TP_SBE_WIRE_BOOL_FALSE);
    tp_sbe_wire_consumer_hello_set_mode(&m, (tp_sbe_wire_mode_t)c->config.mode);
    tp_sbe_wire_consumer_hello_set_max_rate_hz(&m, c->config.max_rate_hz);
    tp_sbe_wire_consumer_hello_set_expected_layout_version(&m, TP_SHM_LAYOUT_VERSION);
    /* absent hints are encoded as the null value (§10.1) */
    tp_sbe_wire_consumer_hello_set_progress_interval_us(&m, c->config.progress_interval_us
            ? c->config.progress_interval_us
            : TP_SBE_WIRE_CONSUMER_HELLO_PROGRESS_INTERVAL_US_NULL_VALUE);
    tp_sbe_wire_consumer_hello_set_progress_bytes_delta(&m, c->config.progress_bytes_delta
            ? c->config.progress_bytes_delta
            : TP_SBE_WIRE_CONSUMER_HELLO_PROGRESS_BYTES_DELTA_NULL_VALUE);
    tp_sbe_wire_consumer_hello_set_progress_major_delta_units(&m, c->config.progress_major_delta_units
            ? c->config.progress_major_delta_units
            : TP_SBE_WIRE_CONSUMER_HELLO_PROGRESS_MAJOR_DELTA_UNITS_NULL_VALUE);
    tp_sbe_wire_consumer_hello_set_descriptor_stream_id(&m, c->config.descriptor_stream_id);
    tp_sbe_wire_consumer_hello_set_control_stream_id(&m, c->config.control_stream_id);
    tp_sbe_wire_consumer_hello_zero_padding(&m);
    tp_sbe_wire_consumer_hello_put_descriptor_channel(&m, c->config.descriptor_channel,
        (uint32_t)strlen(c->config.descriptor_channel));
    tp_sbe_wire_consumer_hello_put_control_channel(&m, c->config.control_channel,
        (uint32_t)strlen(c->config.control_channel));
    offer_control(c->pub_control, buf, TP_SBE_MESSAGE_HEADER_LENGTH + tp_sbe_wire_consumer_hello_encoded_length(&m));
    tp_counter_add(&c->hellos_sent, 1);
}

static void send_qos(tp_consumer_t *c)
{
    uint8_t buf[64];
    tp_sbe_wire_qos_consumer_t m = { 0 };
    tp_sbe_wire_qos_consumer_wrap_and_apply_header(&m, buf, 0, sizeof(buf));
    tp_sbe_wire_qos_consumer_set_stream_id(&m, c->config.stream_id);
    tp_sbe_wire_qos_consumer_set_consumer_id(&m, c->consumer_id);
    tp_sbe_wire_qos_consumer_set_epoch(&m, c->epoch);
    tp_sbe_wire_qos_consumer_set_last_seq_seen(&m, c->last_seq);
    tp_sbe_wire_qos_consumer_set_drops_gap(&m, tp_counter_get(&c->drops_gap));
    tp_sbe_wire_qos_consumer_set_drops_late(&m, tp_counter_get(&c->drops_late));
    tp_sbe_wire_qos_consumer_set_mode(&m, (tp_sbe_wire_mode_t)c->config.mode);
    offer_control(c->pub_qos, buf, TP_SBE_MESSAGE_HEADER_LENGTH + tp_sbe_wire_qos_consumer_encoded_length(&m));
    tp_counter_add(&c->qos_sent, 1);
}

int tp_consumer_do_work(tp_consumer_t *c, uint64_t now_ns)
{
    if (!c->active)
    {
        return 0;
    }
    int work = 0;
    const tp_context_t *ctx = &c->client->ctx;
    if (c->driver_mode)
    {
        work += tp_consumer_driver_work(c, now_ns);
    }
    if (now_ns >= c->next_hello_ns)
    {
        send_hello(c);
        c->next_hello_ns = now_ns + ctx->hello_interval_ns;
        work++;
    }
    if (now_ns >= c->next_qos_ns)
    {
        send_qos(c);
        c->next_qos_ns = now_ns + ctx->qos_interval_ns;
        work++;
    }
    /* announces before descriptors: a new epoch is mapped before its first frames are looked at */
    int rc = tp_subscription_poll(c->sub_announce, tp_consumer_on_announce_stream, c, 16);
    work += rc > 0 ? rc : 0;
    if (NULL != c->sub_control)
    {
        rc = tp_subscription_poll(c->sub_control, tp_consumer_on_announce_stream, c, 16);
        work += rc > 0 ? rc : 0;
    }
    if (NULL != c->sub_metadata)
    {
        rc = tp_subscription_poll(c->sub_metadata, tp_consumer_on_metadata, c, 16);
        work += rc > 0 ? rc : 0;
    }
    if (NULL != c->pc_async)
    {
        work += tp_consumer_poll_descriptor_switch(c);
    }
    if (NULL != c->pcc_async)
    {
        work += tp_consumer_poll_control_switch(c);
    }
    if (NULL != c->sub_pc_control)
    {
        rc = tp_subscription_poll(c->sub_pc_control, tp_consumer_on_pc_control, c, 64);
        work += rc > 0 ? rc : 0;
    }
    bool backlog = false;
    if (NULL != c->sub_descriptor_prev)
    {
        work += tp_consumer_poll_previous_descriptor_stream(c, now_ns, &backlog);
    }
    if (!backlog)
    {
        /* in place: tp_consumer_on_descriptor reads the message once, through the inline decoder */
        rc = tp_subscription_poll_in_place(c->sub_descriptor, tp_consumer_on_descriptor, c, c->config.fragment_limit);
        work += rc > 0 ? rc : 0;
    }
    /*
     * A producer that stopped announcing and refreshing its activity timestamp
     * is dead (§15.14). The superblock timestamp is CLOCK_MONOTONIC (older
     * regions: CLOCK_REALTIME); tp_shm_activity_age_ns reads either domain.
     */
    uint64_t window = tp_context_freshness_ns(ctx);
    if (NULL != c->ring && now_ns > c->last_announce_ns && now_ns - c->last_announce_ns > window)
    {
        if (tp_shm_activity_age_ns(tp_shm_region_activity_ns(c->ring)) > window)
        {
            TP_LOG_INFO("consumer", "stream %u: producer of epoch %llu is stale; unmapping", c->config.stream_id,
                (unsigned long long)c->epoch);
            tp_consumer_unmap(c);
            tp_counter_add(&c->unmaps, 1);
            work++;
        }
    }
    return work;
}
