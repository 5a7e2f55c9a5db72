/*
 * Producer control plane (wire spec §10.1.1, §10.1.2, §10.2.2), conductor
 * thread: creation and destruction, ShmPoolAnnounce (periodic, prompt on a
 * ConsumerHello or a new subscriber), activity refresh, QosProducer, the
 * consumer table (ConsumerHello, QosConsumer, staleness), the progress
 * policy and the producer's duty cycle.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/tp_producer_internal.h"
#include "protocol/tp_proto.h"
#include "tp_sbe/driver.h"
#include "common/tp_error.h"
#include "common/tp_log.h"
#include "protocol/tp_proto.h"

static int validate_config(const tp_producer_config_t *c, bool driver_mode)
{
    for (size_t i = 0; i < TP_PRODUCER_CHANNEL_ALLOW_MAX; i++)
    {
        const char *prefix = c->per_consumer_channels[i];
        if (NULL == memchr(prefix, '\0', TP_PRODUCER_CHANNEL_PREFIX_MAX))
        {
            return tp_err_set(TP_ERR_CONFIG, "producer config: per_consumer_channels[%zu] is not NUL-terminated", i);
        }
        if ('\0' != prefix[0] && 0 != strncmp(prefix, "aeron:", 6))
        {
            return tp_err_set(TP_ERR_CONFIG,
                "producer config: per_consumer_channels[%zu] \"%s\" must be an Aeron channel prefix (\"aeron:...\")", i,
                prefix);
        }
    }
    /* driver mode: trace_node_id 0 adopts the node id of the lease (TL-2, tp_producer_driver.c) */
    if (c->trace_enabled && ((0 == c->trace_node_id && !driver_mode) || c->trace_node_id > TP_TRACE_NODE_ID_MAX))
    {
        return tp_err_set(TP_ERR_CONFIG,
            "producer config: trace_enabled needs trace_node_id in 1..%u, unique in the deployment (got %u; 0, the "
            "driver's leased node id, needs driver mode)", TP_TRACE_NODE_ID_MAX, c->trace_node_id);
    }
    return tp_producer_validate_layout(c->header_nslots, c->pool_count, c->pools);
}

static int add_pub(tp_producer_t *p, tp_stream_kind_t kind, tp_publication_t **dst)
{
    tp_pending_adds_t *pa = &p->pending;
    if (tp_transport_async_add_publication(&pa->pub_async[pa->pub_count], p->client->transport,
            p->client->ctx.channel[kind], p->client->ctx.stream_id[kind]) < 0)
    {
        return -1;
    }
    pa->pub_dst[pa->pub_count++] = dst;
    return 0;
}

static int add_sub(tp_producer_t *p, tp_stream_kind_t kind, tp_subscription_t **dst)
{
    tp_pending_adds_t *pa = &p->pending;
    if (tp_transport_async_add_subscription(&pa->sub_async[pa->sub_count], p->client->transport,
            p->client->ctx.channel[kind], p->client->ctx.stream_id[kind], NULL, NULL, NULL, NULL) < 0)
    {
        return -1;
    }
    pa->sub_dst[pa->sub_count++] = dst;
    return 0;
}

int tp_producer_create(tp_producer_t **out, tp_client_t *client, const tp_producer_config_t *config)
{
    if (validate_config(config, client->ctx.driver_mode) < 0)
    {
        return -1;
    }
    tp_producer_t *p = calloc(1, sizeof(*p));
    if (NULL == p)
    {
        return tp_err_set(TP_ERR_NO_MEMORY, "producer: out of memory");
    }
    p->client = client;
    p->config = *config;
    p->config.name[TP_PRODUCER_NAME_MAX - 1] = '\0';
    if (0 == p->config.producer_id)
    {
        p->config.producer_id = (uint32_t)getpid();
    }
    if (config->trace_enabled && 0 != config->trace_node_id) /* 0: set from each lease (tp_producer_driver.c) */
    {
        tp_trace_id_generator_init(&p->trace_gen, config->trace_node_id);
    }
    p->max_claims = tp_producer_effective_max_claims(config, config->header_nslots);
    p->entries_capacity = p->max_claims;
    p->entries = calloc(p->max_claims, sizeof(*p->entries));
    p->encode_buffer = malloc(TP_PRODUCER_ENCODE_BUFFER);
    atomic_store(&p->progress_interval_ns, TP_PROGRESS_DEFAULT_INTERVAL_NS);
    atomic_store(&p->progress_bytes_delta, TP_PROGRESS_DEFAULT_BYTES);
    if (NULL == p->entries || NULL == p->encode_buffer ||
        tp_spsc_queue_init(&p->fanout, TP_FANOUT_CAPACITY, sizeof(tp_fanout_entry_t)) < 0 ||
        tp_spsc_queue_init(&p->progress_queue, TP_PROGRESS_RING_CAPACITY, sizeof(tp_progress_entry_t)) < 0)
    {
        tp_producer_destroy(p);
        return tp_err_set(TP_ERR_NO_MEMORY, "producer: out of memory");
    }
    p->driver_mode = client->ctx.driver_mode;
    if (p->driver_mode)
    {
        /* driver mode: the regions come with the lease (tp_producer_poll_ready); nslots from the driver's profile */
        tp_driver_lease_init(&p->lease, config->stream_id, p->config.producer_id, TP_LEASE_ROLE_PRODUCER);
        p->lease.publish_mode = 2; /* EXISTING_OR_CREATE: dynamic streams when the driver allows them */
        p->lease.keepalive_interval_ns = client->ctx.driver_keepalive_ns;
        p->lease.driver_silence_ns = 3 * tp_context_freshness_ns(&client->ctx);
    }
    else
    {
        p->regions = tp_producer_regions_create(p, config->header_nslots, config->pool_count, config->pools, 1);
        p->hot = p->regions;
    }
    if (!p->driver_mode && NULL == p->regions)
    {
        int code = tp_errcode();
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", tp_errmsg());
        tp_producer_destroy(p);
        return tp_err_set(code, "%s", msg);
    }
    if (!p->driver_mode)
    {
        atomic_store(&p->epoch, p->regions->epoch);
        atomic_store(&p->applied_epoch, p->regions->epoch);
        tp_producer_reclaim_dead_epochs(p); /* our own epoch exists: a crashed predecessor's may go (§15.21a.7) */
    }
    bool same = tp_context_same_stream(&client->ctx, TP_STREAM_CONTROL, TP_STREAM_ANNOUNCE);
    if (add_pub(p, TP_STREAM_DESCRIPTOR, &p->pub_descriptor) < 0 || add_pub(p, TP_STREAM_CONTROL, &p->pub_control) < 0 ||
        (!same && add_pub(p, TP_STREAM_ANNOUNCE, &p->pub_announce) < 0) ||
        add_pub(p, TP_STREAM_QOS, &p->pub_qos) < 0 || add_pub(p, TP_STREAM_METADATA, &p->pub_metadata) < 0 ||
        add_sub(p, TP_STREAM_CONTROL, &p->sub_control) < 0 || add_sub(p, TP_STREAM_QOS, &p->sub_qos) < 0 ||
        (p->driver_mode && !same && add_sub(p, TP_STREAM_ANNOUNCE, &p->sub_announce) < 0))
    {
        int code = tp_errcode();
        char msg[512];
        snprintf(msg, sizeof(msg), "producer: %s", tp_errmsg());
        tp_producer_destroy(p);
        return tp_err_set(code, "%s", msg);
    }
    *out = p;
    return 0;
}

/*
 * Driver mode, while the add is pending: attach and wait for the grant. A
 * refusal by the driver fails the add with its reason; no answer within the
 * client timeout fails it too. Returns 0 pending, -1 failed, 0 with regions
 * set once granted (the caller then completes).
 */
static int poll_first_lease(tp_producer_t *p, uint64_t now)
{
    const tp_context_t *ctx = &p->client->ctx;
    if (0 == p->attach_deadline_ns)
    {
        p->attach_deadline_ns = now + ctx->client_timeout_ns;
    }
    tp_producer_driver_work(p, now);
    tp_subscription_poll(p->sub_control, tp_producer_on_control, p, 16);
    if (NULL != p->regions)
    {
        return tp_producer_poll_ready(p);
    }
    if (TP_LEASE_EVENT_REJECTED == p->attach_event && p->trace_node_refused)
    {
        return tp_err_set(TP_ERR_CONFIG, "producer: stream %u: %s", p->config.stream_id, p->lease.last_error);
    }
    if (TP_LEASE_EVENT_REJECTED == p->attach_event && 0 == p->lease.protocol_errors)
    {
        return tp_err_set(TP_ERR_PERMISSION, "producer: the SHM driver refused stream %u: %s", p->config.stream_id,
            p->lease.last_error);
    }
    if (now > p->attach_deadline_ns)
    {
        return tp_err_set(TP_ERR_TIMEOUT,
            "producer: no lease from the SHM driver for stream %u within %llu ms (%s); is `tp driver` running on "
            "control stream %s/%d with the same transport?",
            p->config.stream_id, (unsigned long long)(ctx->client_timeout_ns / 1000000),
            p->lease.last_error[0] ? p->lease.last_error : "no answer", ctx->channel[TP_STREAM_CONTROL],
            ctx->stream_id[TP_STREAM_CONTROL]);
    }
    return 0;
}

int tp_producer_poll_ready(tp_producer_t *p)
{
    int rc = tp_pending_adds_poll(&p->pending);
    if (1 != rc)
    {
        return rc;
    }
    if (NULL == p->pub_announce)
    {
        p->pub_announce = p->pub_control;
    }
    uint64_t now = tp_clock_mono_ns();
    if (p->driver_mode && NULL == p->regions)
    {
        return poll_first_lease(p, now);
    }
    p->active = true;
    /* the first announce precedes the first descriptor (the driver announces in driver mode) */
    if (!p->driver_mode)
    {
        tp_producer_send_announce(p, now);
    }
    p->next_announce_ns = now + p->client->ctx.announce_period_ns;
    p->meta_dirty = true; /* DataSourceAnnounce on the next duty cycle */
    return 1;
}

void tp_producer_destroy(tp_producer_t *p)
{
    if (NULL == p)
    {
        return;
    }
    p->active = false;
    if (p->driver_mode && NULL != p->pub_control)
    {
        tp_driver_lease_detach(&p->lease, p->pub_control, tp_clock_mono_ns()); /* best effort: the lease would expire */
    }
    /* adds still pending are handed to the client, which closes them once they complete */
    tp_pending_adds_release(p->client, &p->pending);
    if (p->pub_announce != p->pub_control)
    {
        tp_publication_close(p->pub_announce);
    }
    tp_publication_close(p->pub_descriptor);
    tp_publication_close(p->pub_control);
    tp_publication_close(p->pub_qos);
    tp_publication_close(p->pub_metadata);
    tp_subscription_close(p->sub_control);
    tp_subscription_close(p->sub_announce);
    tp_subscription_close(p->sub_qos);
    if (p->hot != p->regions && p->hot != p->switch_from)
    {
        tp_producer_regions_free(p->hot, true); /* not reachable in practice: the hot path switches after the conductor */
    }
    tp_producer_regions_free(p->switch_from, false); /* driver mode: the lease the hot path had not left yet */
    tp_producer_regions_free(p->regions, p->config.remove_on_close && !p->driver_mode);
    tp_producer_regions_free(atomic_exchange(&p->pending_regions, NULL), true);
    while (NULL != p->retired)
    {
        tp_producer_regions_t *r = p->retired;
        p->retired = r->next;
        tp_producer_regions_free(r, true); /* superseded epochs are never kept */
    }
    for (size_t i = 0; i < p->consumer_count; i++)
    {
        tp_client_release_publication_add(p->client, p->consumers[i].desc.async);
        tp_client_release_publication_add(p->client, p->consumers[i].ctl.async);
        tp_publication_close(p->consumers[i].desc.pub);
        tp_publication_close(p->consumers[i].ctl.pub);
    }
    tp_producer_meta_free(p->meta);
    free(p->blob);
    free(p->entries);
    free(p->encode_buffer);
    tp_spsc_queue_close(&p->fanout);
    tp_spsc_queue_close(&p->progress_queue);
    free(p);
}

/* ------------------------------------------------------------------------- */
/* Control plane (conductor)                                                  */
/* ------------------------------------------------------------------------- */

int tp_producer_send_announce(tp_producer_t *p, uint64_t now_ns)
{
    const tp_producer_regions_t *r = p->regions;
    tp_shm_region_refresh_activity(r->ring, 0);
    for (size_t i = 0; i < r->pool_count; i++)
    {
        tp_shm_region_refresh_activity(r->pools[i], 0);
    }
    tp_proto_shm_pool_announce_view_t a = { .stream_id = p->config.stream_id, .producer_id = p->config.producer_id,
        .epoch = r->epoch, .announce_timestamp_ns = now_ns, .announce_clock_domain = TP_SBE_WIRE_CLOCK_DOMAIN_MONOTONIC,
        .layout_version = TP_SHM_LAYOUT_VERSION, .header_nslots = r->header_nslots,
        .header_slot_bytes = TP_SHM_HEADER_SLOT_BYTES, .pool_count = (uint32_t)r->pool_count,
        .header_region_uri = { r->header_uri, (uint32_t)strlen(r->header_uri) } };
    for (size_t i = 0; i < r->pool_count; i++)
    {
        a.pools[i] = (tp_proto_pool_view_t){ r->pool_ids[i], r->header_nslots, r->strides[i],
            { r->pool_uris[i], (uint32_t)strlen(r->pool_uris[i]) } };
    }
    size_t len = 0;
    if (tp_proto_encode_shm_pool_announce(p->encode_buffer, TP_PRODUCER_ENCODE_BUFFER, &a, &len) < 0)
    {
        return -1;
    }
    tp_producer_offer_control(p, p->pub_announce, p->encode_buffer, len);
    tp_counter_add(&p->announces, 1);
    p->last_announce_ns = now_ns;
    return 0;
}

void tp_producer_send_qos(tp_producer_t *p)
{
    uint8_t buf[64];
    tp_sbe_wire_qos_producer_t m = { 0 };
    tp_sbe_wire_qos_producer_wrap_and_apply_header(&m, buf, 0, sizeof(buf));
    tp_sbe_wire_qos_producer_set_stream_id(&m, p->config.stream_id);
    tp_sbe_wire_qos_producer_set_producer_id(&m, p->config.producer_id);
    tp_sbe_wire_qos_producer_set_epoch(&m, p->regions->epoch);
    tp_sbe_wire_qos_producer_set_current_seq(&m, atomic_load_explicit(&p->current_seq, memory_order_acquire));
    tp_sbe_wire_qos_producer_set_watermark(&m, TP_SBE_WIRE_QOS_PRODUCER_WATERMARK_NULL_VALUE);
    tp_producer_offer_control(p, p->pub_qos, buf, TP_SBE_MESSAGE_HEADER_LENGTH + tp_sbe_wire_qos_producer_encoded_length(&m));
    tp_counter_add(&p->qos_sent, 1);
}

tp_tracked_consumer_t *tp_producer_track_consumer(tp_producer_t *p, uint32_t consumer_id, uint64_t now_ns)
{
    for (size_t i = 0; i < p->consumer_count; i++)
    {
        if (p->consumers[i].consumer_id == consumer_id)
        {
            p->consumers[i].last_seen_ns = now_ns;
            return &p->consumers[i];
        }
    }
    if (p->consumer_count >= TP_PRODUCER_MAX_TRACKED_CONSUMERS)
    {
        return NULL;
    }
    tp_tracked_consumer_t *c = &p->consumers[p->consumer_count++];
    memset(c, 0, sizeof(*c));
    c->consumer_id = consumer_id;
    c->last_seen_ns = now_ns;
    c->progress_interval_us = UINT32_MAX;
    c->progress_bytes_delta = UINT32_MAX;
    atomic_store(&p->consumers_known, p->consumer_count);
    return c;
}

/* Most aggressive common policy within the producer floors (§10.2.2). */
static void update_progress_policy(tp_producer_t *p)
{
    bool enabled = false;
    uint64_t interval = UINT64_MAX, bytes = UINT64_MAX;
    for (size_t i = 0; i < p->consumer_count; i++)
    {
        const tp_tracked_consumer_t *c = &p->consumers[i];
        if (!c->supports_progress)
        {
            continue;
        }
        enabled = true;
        if (c->progress_interval_us != UINT32_MAX && (uint64_t)c->progress_interval_us * 1000 < interval)
        {
            interval = (uint64_t)c->progress_interval_us * 1000;
        }
        if (c->progress_bytes_delta != UINT32_MAX && c->progress_bytes_delta < bytes)
        {
            bytes = c->progress_bytes_delta;
        }
    }
    interval = interval == UINT64_MAX ? TP_PROGRESS_DEFAULT_INTERVAL_NS
                                      : (interval < TP_PROGRESS_MIN_INTERVAL_NS ? TP_PROGRESS_MIN_INTERVAL_NS : interval);
    bytes = bytes == UINT64_MAX ? TP_PROGRESS_DEFAULT_BYTES : (bytes < TP_PROGRESS_MIN_BYTES ? TP_PROGRESS_MIN_BYTES : bytes);
    atomic_store(&p->progress_interval_ns, interval);
    atomic_store(&p->progress_bytes_delta, bytes);
    atomic_store(&p->progress_enabled, enabled);
}

/* Shared control stream: ConsumerHello (decode through src/protocol, then track; one that does not decode is ignored). */
void tp_producer_on_control(void *clientd, const uint8_t *buffer, size_t length, const tp_header_t *header)
{
    tp_producer_t *p = clientd;
    uint16_t schema_id = 0, template_id = 0;
    if (tp_proto_peek(buffer, length, &schema_id, &template_id) < 0)
    {
        return;
    }
    if (p->driver_mode && TP_SBE_DRIVER_SCHEMA_ID == schema_id)
    {
        tp_producer_driver_message(p, buffer, length, header, tp_clock_mono_ns());
        return;
    }
    if (p->driver_mode && TP_SBE_WIRE_SCHEMA_ID == schema_id && TP_SBE_WIRE_SHM_POOL_ANNOUNCE_TEMPLATE_ID == template_id)
    {
        tp_proto_shm_pool_announce_view_t a;
        if (0 == tp_proto_decode_shm_pool_announce(buffer, length, &a) && a.stream_id == p->config.stream_id)
        {
            /* the driver that granted our lease is alive; another driver's announce is counted (DRV-15) */
            tp_driver_lease_accept_announce(&p->lease, header->session_id, a.epoch, a.header_region_uri.data,
                a.header_region_uri.length, tp_clock_mono_ns());
        }
        return;
    }
    if (schema_id != TP_SBE_WIRE_SCHEMA_ID || NULL == p->regions)
    {
        return;
    }
    uint64_t now = tp_clock_mono_ns();
    if (p->driver_mode && TP_SBE_WIRE_CONSUMER_CONFIG_TEMPLATE_ID == template_id)
    {
        /* the driver's per-consumer stream assignment (Driver Model §11): open the streams it assigned */
        tp_proto_consumer_config_view_t cv;
        if (tp_proto_decode_consumer_config(buffer, length, &cv) < 0 || cv.stream_id != p->config.stream_id)
        {
            return;
        }
        tp_tracked_consumer_t *tc = tp_producer_track_consumer(p, cv.consumer_id, now);
        if (NULL != tc)
        {
            tp_producer_handle_stream_request(p, &tc->desc, cv.descriptor_channel.data, cv.descriptor_channel.length,
                cv.descriptor_stream_id);
            tp_producer_handle_stream_request(p, &tc->ctl, cv.control_channel.data, cv.control_channel.length,
                cv.control_stream_id);
            tp_producer_update_fanout_active(p);
        }
        return;
    }
    if (TP_SBE_WIRE_CONSUMER_HELLO_TEMPLATE_ID != template_id)
    {
        return;
    }
    tp_proto_consumer_hello_view_t v;
    if (tp_proto_decode_consumer_hello(buffer, length, &v) < 0 || v.stream_id != p->config.stream_id)
    {
        return;
    }
    tp_counter_add(&p->hellos_received, 1);
    tp_tracked_consumer_t *c = tp_producer_track_consumer(p, v.consumer_id, now);
    if (NULL == c)
    {
        return;
    }
    c->supports_progress = v.supports_progress;
    c->progress_interval_us = v.progress_interval_us; /* raw: the null value when absent */
    c->progress_bytes_delta = v.progress_bytes_delta;
    c->max_rate_hz = v.max_rate_hz;
    c->mode = (uint8_t)v.mode;
    update_progress_policy(p);
    if (!p->driver_mode) /* in driver mode the driver assigns per-consumer streams (ConsumerConfig above) */
    {
        bool send = tp_producer_handle_stream_request(p, &c->desc, v.descriptor_channel.data,
            v.descriptor_channel.length, v.descriptor_stream_id);
        send = tp_producer_handle_stream_request(p, &c->ctl, v.control_channel.data, v.control_channel.length,
                   v.control_stream_id) ||
            send;
        if (send && NULL == c->desc.async && NULL == c->ctl.async)
        {
            tp_producer_send_config(p, c);
        }
    }
    tp_producer_update_fanout_active(p);
    if (c->mapped_epoch != p->regions->epoch)
    {
        /* a consumer not (yet) on our epoch, e.g. one that just started and ignores announces older than its
         * join time (§10.1.1): answer with a prompt announce (rate limited) instead of the next period's */
        p->announce_requested = true;
    }
}

/* QoS stream: QosConsumer (decode through src/protocol) refreshes the consumer's liveness and mapped epoch. */
static void on_qos(void *clientd, const uint8_t *buffer, size_t length, const tp_header_t *header)
{
    (void)header;
    tp_producer_t *p = clientd;
    uint16_t schema_id = 0, template_id = 0;
    tp_proto_qos_consumer_view_t v;
    if (tp_proto_peek(buffer, length, &schema_id, &template_id) < 0 || schema_id != TP_SBE_WIRE_SCHEMA_ID ||
        template_id != TP_SBE_WIRE_QOS_CONSUMER_TEMPLATE_ID || tp_proto_decode_qos_consumer(buffer, length, &v) < 0 ||
        v.stream_id != p->config.stream_id)
    {
        return;
    }
    tp_tracked_consumer_t *c = tp_producer_track_consumer(p, v.consumer_id, tp_clock_mono_ns());
    if (NULL != c)
    {
        c->mapped_epoch = v.epoch;
    }
}

/*
 * Conductor (or the application thread inline in invoker mode): take a new
 * layout handed over by tp_producer_change_layout(), announce it at once
 * (§10.1.1 "on change"), with DataSourceAnnounce and QosProducer of the new
 * epoch, and keep the old regions mapped and on disk for the grace period.
 */
int tp_producer_apply_pending_layout(tp_producer_t *p, uint64_t now_ns)
{
    tp_producer_regions_t *n = atomic_exchange_explicit(&p->pending_regions, NULL, memory_order_acq_rel);
    if (NULL == n)
    {
        return 0;
    }
    const tp_context_t *ctx = &p->client->ctx;
    tp_producer_regions_t *old = p->regions;
    old->retire_at_ns = now_ns + tp_context_freshness_ns(ctx);
    old->next = p->retired;
    p->retired = old;
    p->regions = n;
    atomic_store_explicit(&p->current_seq, 0, memory_order_release); /* the application thread waits meanwhile */
    tp_producer_send_announce(p, now_ns);
    tp_producer_send_data_source(p, now_ns, true);
    p->meta_dirty = false;
    p->announce_requested = false;
    p->next_announce_ns = now_ns + ctx->announce_period_ns;
    tp_producer_send_qos(p);
    p->next_qos_ns = now_ns + ctx->qos_interval_ns;
    tp_counter_add(&p->layout_changes, 1);
    TP_LOG_INFO("producer", "stream %u: layout changed, epoch %llu -> %llu (%u slots, %zu pools)", p->config.stream_id,
        (unsigned long long)old->epoch, (unsigned long long)n->epoch, n->header_nslots, n->pool_count);
    atomic_store_explicit(&p->applied_epoch, n->epoch, memory_order_release);
    return 1;
}

int tp_producer_do_work(tp_producer_t *p, uint64_t now_ns)
{
    if (!p->active)
    {
        return 0;
    }
    int work = 0;
    const tp_context_t *ctx = &p->client->ctx;
    if (NULL != atomic_load_explicit(&p->pending_regions, memory_order_relaxed))
    {
        work += tp_producer_apply_pending_layout(p, now_ns);
    }
    if (NULL != p->retired)
    {
        work += tp_producer_retire_regions(p, now_ns);
    }
    if (p->driver_mode)
    {
        work += tp_producer_driver_work(p, now_ns);
    }
    bool connected = !p->driver_mode && tp_publication_is_connected(p->pub_announce);
    if (connected && !p->announce_connected)
    {
        p->announce_requested = true; /* first subscriber appeared */
    }
    if (connected != p->announce_connected)
    {
        p->announce_connected = connected; /* stored on change only: no store per duty cycle */
    }
    bool prompt = p->announce_requested && now_ns >= p->last_announce_ns + TP_ANNOUNCE_PROMPT_MIN_GAP_NS;
    if (now_ns >= p->next_announce_ns || prompt)
    {
        if (prompt && now_ns < p->next_announce_ns)
        {
            tp_counter_add(&p->prompt_announces, 1);
        }
        p->announce_requested = false;
        if (!p->driver_mode)
        {
            tp_producer_send_announce(p, now_ns); /* in driver mode the driver announces (§8) */
        }
        tp_producer_send_data_source(p, now_ns, true);
        p->meta_dirty = false;
        p->next_announce_ns = now_ns + ctx->announce_period_ns;
        work++;
    }
    else if (p->meta_dirty)
    {
        tp_producer_send_data_source(p, now_ns, true);
        p->meta_dirty = false;
        work++;
    }
    if (now_ns >= p->next_qos_ns)
    {
        tp_producer_send_qos(p);
        p->next_qos_ns = now_ns + ctx->qos_interval_ns;
        work++;
    }
    int rc = tp_subscription_poll(p->sub_control, tp_producer_on_control, p, 16);
    if (NULL != p->sub_announce)
    {
        /* driver mode with a separate announce stream: the driver's announces prove it is alive */
        int arc = tp_subscription_poll(p->sub_announce, tp_producer_on_control, p, 16);
        work += arc > 0 ? arc : 0;
    }
    work += rc > 0 ? rc : 0;
    rc = tp_subscription_poll(p->sub_qos, on_qos, p, 16);
    work += rc > 0 ? rc : 0;
    uint64_t stale_ns = tp_context_stale_ns(ctx);
    bool changed = false;
    for (size_t i = 0; i < p->consumer_count;)
    {
        if (now_ns > p->consumers[i].last_seen_ns + stale_ns)
        {
            tp_producer_release_consumer_streams(p, &p->consumers[i]); /* §5: close per-consumer publications of stale consumers */
            p->consumers[i] = p->consumers[--p->consumer_count];
            tp_counter_add(&p->consumers_stale, 1);
            changed = true;
            continue;
        }
        i++;
    }
    if (changed)
    {
        atomic_store(&p->consumers_known, p->consumer_count);
        update_progress_policy(p);
        tp_producer_update_fanout_active(p);
    }
    work += tp_producer_fanout_work(p, now_ns);
    if (NULL != p->blob)
    {
        work += tp_producer_send_blob(p);
    }
    return work;
}
