/*
 * Embedded Discovery Provider (see tp_driver_discovery.h): the driver is the
 * authority, so the registry is fed from the driver's own streams.
 */
#include <stdio.h>
#include <string.h>

#include "common/tp_error.h"
#include "common/tp_log.h"
#include "discovery/tp_discovery_config.h"
#include "driver/tp_driver_internal.h"

/* Period of the registry sync from the driver's streams (also done before every query). */
#define TP_DRIVER_DISCOVERY_SYNC_NS (100000000ull)

void tp_driver_discovery_config_defaults(tp_driver_config_t *c)
{
    c->discovery_enabled = false;
    tp_discovery_provider_config_defaults(&c->discovery);
    c->discovery.channel[0] = '\0'; /* "" / 0: the driver control endpoint (§4.2) */
    c->discovery.stream_id = 0;
    c->discovery.source_count = 1;
}

/* The effective provider configuration: endpoint resolved, source 0 = this driver. */
static void resolve(const tp_driver_config_t *c, tp_discovery_provider_config_t *out)
{
    memcpy(out, &c->discovery, sizeof(*out));
    if ('\0' == out->channel[0])
    {
        snprintf(out->channel, sizeof(out->channel), "%s", c->control_channel);
    }
    if (0 == out->stream_id)
    {
        out->stream_id = c->control_stream_id;
    }
    /* requests on the control stream are handed in by the control handler: no second subscription */
    out->own_subscription = !(0 == strcmp(out->channel, c->control_channel) && out->stream_id == c->control_stream_id);
    out->source_count = 1;
    tp_discovery_source_config_t *s = &out->sources[0];
    snprintf(s->name, sizeof(s->name), "%s", "driver");
    snprintf(s->instance_id, sizeof(s->instance_id), "%s", c->instance_id);
    snprintf(s->control_channel, sizeof(s->control_channel), "%s", c->control_channel);
    s->control_stream_id = c->control_stream_id;
    s->announce_channel[0] = '\0'; /* fed from the driver's own state */
    s->announce_stream_id = 0;
    s->announce_period_ms = c->announce_period_ms;
    for (uint32_t i = 0; i < out->stream_count; i++)
    {
        out->streams[i].source = 0;
    }
}

int tp_driver_discovery_config_load(tp_toml_t *doc, tp_driver_config_t *c)
{
    if (tp_discovery_config_load_section(doc, &c->discovery, true, &c->discovery_enabled, NULL, NULL) < 0)
    {
        return -1;
    }
    if (c->discovery_enabled)
    {
        tp_discovery_provider_config_t eff;
        resolve(c, &eff);
        if (tp_discovery_provider_config_validate(&eff) < 0)
        {
            return tp_err_prepend("%s: [discovery]", tp_toml_name(doc));
        }
    }
    return 0;
}

/* A TOML basic string (quotes, backslashes and control bytes escaped) so that the print loads back. */
static size_t print_quoted(char *buf, size_t len, size_t used, const char *v)
{
    int n = snprintf(NULL == buf || used >= len ? NULL : buf + used, used >= len ? 0 : len - used, "\"");
    used += n > 0 ? (size_t)n : 0;
    for (const unsigned char *p = (const unsigned char *)v; '\0' != *p; p++)
    {
        char *dst = NULL == buf || used >= len ? NULL : buf + used;
        size_t room = used >= len ? 0 : len - used;
        if ('"' == *p || '\\' == *p)
        {
            n = snprintf(dst, room, "\\%c", *p);
        }
        else if (*p < 0x20 || 0x7f == *p)
        {
            n = snprintf(dst, room, "\\u%04x", *p);
        }
        else
        {
            n = snprintf(dst, room, "%c", *p);
        }
        used += n > 0 ? (size_t)n : 0;
    }
    n = snprintf(NULL == buf || used >= len ? NULL : buf + used, used >= len ? 0 : len - used, "\"");
    return used + (n > 0 ? (size_t)n : 0);
}

static size_t print_str(char *buf, size_t len, size_t used, const char *key, const char *v)
{
    int n = snprintf(NULL == buf || used >= len ? NULL : buf + used, used >= len ? 0 : len - used, "%s = ", key);
    used = print_quoted(buf, len, used + (n > 0 ? (size_t)n : 0), v);
    n = snprintf(NULL == buf || used >= len ? NULL : buf + used, used >= len ? 0 : len - used, "\n");
    return used + (n > 0 ? (size_t)n : 0);
}

#define PRINTF(...)                                                                                        \
    do                                                                                                     \
    {                                                                                                      \
        int n_ = snprintf(NULL == buf || used >= len ? NULL : buf + used, used >= len ? 0 : len - used,  \
            __VA_ARGS__);                                                                                  \
        used += n_ > 0 ? (size_t)n_ : 0;                                                                   \
    } while (0)

size_t tp_driver_discovery_config_print(const tp_driver_config_t *c, char *buf, size_t len)
{
    size_t used = 0;
    const tp_discovery_provider_config_t *d = &c->discovery;
    PRINTF("\n[discovery]\nenabled = %s\n", c->discovery_enabled ? "true" : "false");
    used = print_str(buf, len, used, "channel", d->channel);
    PRINTF("stream_id = %u\nmax_results = %u\nmax_entries = %u\n", d->stream_id, d->max_results, d->max_entries);
    used = print_str(buf, len, used, "metadata_channel", d->sources[0].metadata_channel);
    PRINTF("metadata_stream_id = %u\nresponse_endpoints = [", d->sources[0].metadata_stream_id);
    for (uint32_t i = 0; i < d->response_rule_count; i++)
    {
        PRINTF("%s", i ? ", " : "");
        used = print_quoted(buf, len, used, d->response_rules[i]);
    }
    PRINTF("]\n");
    for (uint32_t i = 0; i < d->stream_count; i++)
    {
        const tp_discovery_stream_config_t *s = &d->streams[i];
        PRINTF("\n[discovery.streams.");
        used = print_quoted(buf, len, used, s->name);
        PRINTF("]\nstream_id = %u\ntags = [", s->stream_id);
        for (uint32_t k = 0; k < s->tag_count; k++)
        {
            PRINTF("%s", k ? ", " : "");
            used = print_quoted(buf, len, used, s->tags[k]);
        }
        PRINTF("]\n");
        if (s->has_data_source_id)
        {
            PRINTF("data_source_id = %llu\n", (unsigned long long)s->data_source_id);
        }
        used = print_str(buf, len, used, "data_source_name", s->data_source_name);
    }
    return used;
}

static void sync_streams(tp_driver_t *d, uint64_t now_ns)
{
    tp_discovery_registry_t *r = tp_discovery_provider_registry(d->discovery);
    const tp_driver_config_t *c = &d->config;
    tp_discovery_authority_t a = { c->instance_id, c->control_channel, c->control_stream_id };
    uint64_t expiry = tp_discovery_provider_source_expiry_ns(d->discovery, 0);
    for (size_t i = 0; i < d->stream_count; i++)
    {
        tp_driver_stream_t *s = &d->streams[i];
        if (NULL == s->regions)
        {
            tp_discovery_registry_remove(r, c->instance_id, s->stream_id); /* gone: the driver knows */
            continue;
        }
        const tp_shm_epoch_set_t *set = &s->regions->set;
        tp_proto_shm_pool_announce_view_t v = { .stream_id = s->stream_id, .producer_id = s->producer_client_id,
            .epoch = set->epoch, .announce_timestamp_ns = now_ns,
            .announce_clock_domain = TP_SBE_WIRE_CLOCK_DOMAIN_MONOTONIC, .layout_version = TP_SHM_LAYOUT_VERSION,
            .header_nslots = set->header_nslots, .header_slot_bytes = TP_SHM_HEADER_SLOT_BYTES,
            .pool_count = (uint32_t)set->pool_count,
            .header_region_uri = { set->header_uri, (uint32_t)strlen(set->header_uri) } };
        for (size_t k = 0; k < set->pool_count && k < TP_PROTO_MAX_POOLS; k++)
        {
            v.pools[k] = (tp_proto_pool_view_t){ set->pool_ids[k], set->header_nslots, set->strides[k],
                { set->pool_uris[k], (uint32_t)strlen(set->pool_uris[k]) } };
        }
        if (TP_DISCOVERY_UPSERT_REFUSED == tp_discovery_registry_on_announce(r, &a, &v, now_ns, expiry))
        {
            TP_LOG_DEBUG("driver", "discovery: stream %u not indexed: %s", s->stream_id, tp_errmsg());
        }
    }
    d->discovery_last_sync_ns = now_ns;
}

static void before_query(void *clientd, uint64_t now_ns)
{
    sync_streams((tp_driver_t *)clientd, now_ns);
}

int tp_driver_discovery_init(tp_driver_t *d)
{
    if (!d->config.discovery_enabled)
    {
        return 0;
    }
    tp_discovery_provider_config_t eff;
    resolve(&d->config, &eff);
    eff.before_query = before_query;
    eff.before_query_clientd = d;
    if (tp_discovery_provider_init(&d->discovery, d->transport, &eff) < 0)
    {
        return tp_err_prepend("driver: discovery");
    }
    TP_LOG_INFO("driver", "discovery provider on %s/%u%s", eff.channel, eff.stream_id,
        eff.own_subscription ? "" : " (the control stream)");
    return 0;
}

void tp_driver_discovery_close(tp_driver_t *d)
{
    tp_discovery_provider_close(d->discovery);
    d->discovery = NULL;
}

int tp_driver_discovery_do_work(tp_driver_t *d, uint64_t now_ns)
{
    if (NULL == d->discovery)
    {
        return 0;
    }
    if (now_ns - d->discovery_last_sync_ns >= TP_DRIVER_DISCOVERY_SYNC_NS)
    {
        sync_streams(d, now_ns);
    }
    return tp_discovery_provider_do_work(d->discovery, now_ns);
}

void tp_driver_discovery_on_control(tp_driver_t *d, const uint8_t *buffer, size_t length, uint64_t now_ns)
{
    if (NULL != d->discovery)
    {
        tp_discovery_provider_on_request(d->discovery, buffer, length, now_ns);
    }
}
