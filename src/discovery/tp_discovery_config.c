/* Discovery configuration loading (see tp_discovery_config.h, docs/DISCOVERY.md). */
#include "discovery/tp_discovery_config.h"

#include <stdio.h>
#include <string.h>

#include "common/tp_error.h"

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

static int get_str(tp_toml_t *doc, const tp_toml_value_t *t, const char *key, const char *where, char *dst, size_t cap)
{
    const char *v = NULL;
    if (tp_toml_get_string(doc, t, key, &v, NULL) < 0)
    {
        return -1;
    }
    if (NULL == v)
    {
        return 0;
    }
    if (strlen(v) >= cap)
    {
        return tp_err_set(TP_ERR_CONFIG, "%s: %s.%s: longer than %zu bytes", tp_toml_name(doc), where, key, cap - 1);
    }
    memmove(dst, v, strlen(v) + 1);
    return 0;
}

static int get_channel(tp_toml_t *doc, const tp_toml_value_t *t, const char *key, const char *where, char *dst,
    size_t cap)
{
    if (get_str(doc, t, key, where, dst, cap) < 0)
    {
        return -1;
    }
    if ('\0' != dst[0] && !tp_discovery_channel_valid(dst, strlen(dst)))
    {
        return tp_err_set(TP_ERR_CONFIG, "%s: %s.%s: must be an Aeron channel URI (aeron:ipc..., aeron:udp?...), got \"%s\"",
            tp_toml_name(doc), where, key, dst);
    }
    return 0;
}

/* `response_endpoints`: replaces the default allow-list (DISC-3); every entry checked with its line. */
static int load_response_rules(tp_toml_t *doc, const tp_toml_value_t *t, tp_discovery_provider_config_t *c)
{
    const tp_toml_value_t *list = NULL;
    if (tp_toml_get_array(doc, t, "response_endpoints", &list) < 0)
    {
        return -1;
    }
    if (NULL == list)
    {
        return 0;
    }
    size_t n = tp_toml_array_size(list);
    if (0 == n || n > TP_DISCOVERY_MAX_RESPONSE_RULES)
    {
        return tp_toml_value_error(doc, list, "1..%u entries (an empty list answers no "
            "one), got %zu", TP_DISCOVERY_MAX_RESPONSE_RULES, n);
    }
    for (size_t i = 0; i < n; i++)
    {
        const tp_toml_value_t *v = tp_toml_array_at(list, i);
        const char *rule = tp_toml_string(v);
        if (NULL == rule)
        {
            return tp_toml_value_error(doc, v, "entries are strings");
        }
        if (tp_discovery_response_rule_check(rule) < 0)
        {
            char msg[512];
            snprintf(msg, sizeof(msg), "%s", tp_errmsg());
            return tp_toml_value_error(doc, v, "%s", msg);
        }
        snprintf(c->response_rules[i], TP_DISCOVERY_RESPONSE_RULE_MAX, "%s", rule);
    }
    c->response_rule_count = (uint32_t)n;
    return 0;
}

static int find_source(const tp_discovery_provider_config_t *c, const char *name)
{
    for (uint32_t i = 0; i < c->source_count; i++)
    {
        if (0 == strcmp(c->sources[i].name, name))
        {
            return (int)i;
        }
    }
    return -1;
}

static int load_streams(tp_toml_t *doc, const tp_toml_value_t *streams, tp_discovery_provider_config_t *c, bool embedded)
{
    size_t n = tp_toml_table_size(streams);
    c->stream_count = 0;
    for (size_t i = 0; i < n; i++)
    {
        const char *name = tp_toml_table_key(streams, i);
        const tp_toml_value_t *s = tp_toml_table_value(streams, i);
        if (TP_TOML_TABLE != tp_toml_type(s))
        {
            return tp_toml_value_error(doc, s, "expected a table (a stream's discovery metadata)");
        }
        if (c->stream_count >= TP_DISCOVERY_MAX_CONFIG_STREAMS)
        {
            return tp_toml_value_error(doc, s, "at most %u streams", TP_DISCOVERY_MAX_CONFIG_STREAMS);
        }
        if (strlen(name) >= sizeof(c->streams[0].name))
        {
            return tp_toml_value_error(doc, s, "a stream name of at most %zu bytes", sizeof(c->streams[0].name) - 1);
        }
        static const char *const keys[] = { "stream_id", "driver", "tags", "data_source_id", "data_source_name" };
        char where[128];
        snprintf(where, sizeof(where), "discovery.streams.%s", name);
        tp_discovery_stream_config_t *sc = &c->streams[c->stream_count];
        memset(sc, 0, sizeof(*sc));
        snprintf(sc->name, sizeof(sc->name), "%s", name);
        const tp_toml_value_t *tags = NULL;
        const char *driver = NULL;
        uint64_t dsid = UINT64_MAX;
        if (tp_toml_check_keys(doc, s, keys, COUNT_OF(keys), where) < 0 || tp_toml_require(doc, s, "stream_id") < 0 ||
            tp_toml_get_u32(doc, s, "stream_id", &sc->stream_id, 0) < 0 ||
            tp_toml_get_string(doc, s, "driver", &driver, NULL) < 0 || tp_toml_get_array(doc, s, "tags", &tags) < 0 ||
            tp_toml_get_u64(doc, s, "data_source_id", &dsid, UINT64_MAX) < 0 ||
            get_str(doc, s, "data_source_name", where, sc->data_source_name, sizeof(sc->data_source_name)) < 0)
        {
            return -1;
        }
        if (embedded && NULL != driver)
        {
            return tp_toml_value_error(doc, s, "'driver' is for the standalone provider (here: this driver)");
        }
        if (!embedded)
        {
            int src = NULL == driver ? -1 : find_source(c, driver);
            if (src < 0)
            {
                return tp_toml_value_error(doc, s, "'driver' must name a [drivers.<name>] table, got \"%s\"",
                    NULL == driver ? "" : driver);
            }
            sc->source = (uint32_t)src;
        }
        sc->has_data_source_id = UINT64_MAX != dsid; /* the schema's null value is "absent" */
        sc->data_source_id = dsid;
        size_t nt = tp_toml_array_size(tags);
        if (nt > TP_DISCOVERY_MAX_TAGS)
        {
            return tp_toml_value_error(doc, tags, "at most %u tags", TP_DISCOVERY_MAX_TAGS);
        }
        for (size_t k = 0; k < nt; k++)
        {
            const tp_toml_value_t *t = tp_toml_array_at(tags, k);
            const char *tag = tp_toml_string(t);
            if (NULL == tag || 0 == strlen(tag) || strlen(tag) > TP_DISCOVERY_TAG_MAX)
            {
                return tp_toml_value_error(doc, t, "a tag is a string of 1..%u bytes", TP_DISCOVERY_TAG_MAX);
            }
            memcpy(sc->tags[sc->tag_count++], tag, strlen(tag) + 1);
        }
        c->stream_count++;
    }
    return 0;
}

int tp_discovery_config_load_section(tp_toml_t *doc, tp_discovery_provider_config_t *c, bool embedded, bool *enabled,
    char *backend, char *dir)
{
    const tp_toml_value_t *t = NULL;
    if (tp_toml_get_table(doc, NULL, "discovery", &t) < 0)
    {
        return -1;
    }
    if (NULL == t)
    {
        return 0;
    }
    static const char *const embedded_keys[] = { "enabled", "channel", "stream_id", "max_results", "max_entries",
        "metadata_channel", "metadata_stream_id", "response_endpoints", "streams" };
    static const char *const standalone_keys[] = { "channel", "stream_id", "max_results", "max_entries",
        "transport_backend", "transport_dir", "response_endpoints", "streams" };
    if (tp_toml_check_keys(doc, t, embedded ? embedded_keys : standalone_keys,
            embedded ? COUNT_OF(embedded_keys) : COUNT_OF(standalone_keys), "discovery") < 0)
    {
        return -1;
    }
    if (embedded && tp_toml_get_bool(doc, t, "enabled", enabled, *enabled) < 0)
    {
        return -1;
    }
    if (get_channel(doc, t, "channel", "discovery", c->channel, sizeof(c->channel)) < 0 ||
        tp_toml_get_u32(doc, t, "stream_id", &c->stream_id, c->stream_id) < 0 ||
        tp_toml_get_u32(doc, t, "max_results", &c->max_results, c->max_results) < 0 ||
        tp_toml_get_u32(doc, t, "max_entries", &c->max_entries, c->max_entries) < 0 ||
        load_response_rules(doc, t, c) < 0)
    {
        return -1;
    }
    if (embedded)
    {
        if (0 == c->source_count)
        {
            c->source_count = 1;
        }
        tp_discovery_source_config_t *s = &c->sources[0];
        if (get_channel(doc, t, "metadata_channel", "discovery", s->metadata_channel, sizeof(s->metadata_channel)) < 0 ||
            tp_toml_get_u32(doc, t, "metadata_stream_id", &s->metadata_stream_id, s->metadata_stream_id) < 0)
        {
            return -1;
        }
    }
    else if ((NULL != backend && get_str(doc, t, "transport_backend", "discovery", backend, 16) < 0) ||
        (NULL != dir && get_str(doc, t, "transport_dir", "discovery", dir, PATH_MAX) < 0))
    {
        return -1;
    }
    const tp_toml_value_t *streams = NULL;
    if (tp_toml_get_table(doc, t, "streams", &streams) < 0)
    {
        return -1;
    }
    return NULL == streams ? 0 : load_streams(doc, streams, c, embedded);
}

static int load_drivers(tp_toml_t *doc, tp_discovery_provider_config_t *c)
{
    const tp_toml_value_t *drivers = NULL;
    if (tp_toml_get_table(doc, NULL, "drivers", &drivers) < 0)
    {
        return -1;
    }
    size_t n = tp_toml_table_size(drivers);
    c->source_count = 0;
    for (size_t i = 0; i < n; i++)
    {
        const char *name = tp_toml_table_key(drivers, i);
        const tp_toml_value_t *d = tp_toml_table_value(drivers, i);
        if (TP_TOML_TABLE != tp_toml_type(d))
        {
            return tp_toml_value_error(doc, d, "expected a table (a driver)");
        }
        if (c->source_count >= TP_DISCOVERY_MAX_SOURCES)
        {
            return tp_toml_value_error(doc, d, "at most %u drivers", TP_DISCOVERY_MAX_SOURCES);
        }
        if (strlen(name) >= sizeof(c->sources[0].name))
        {
            return tp_toml_value_error(doc, d, "a driver name of at most %zu bytes", sizeof(c->sources[0].name) - 1);
        }
        static const char *const keys[] = { "instance_id", "control_channel", "control_stream_id", "announce_channel",
            "announce_stream_id", "metadata_channel", "metadata_stream_id", "announce_period_ms" };
        char where[128];
        snprintf(where, sizeof(where), "drivers.%s", name);
        tp_discovery_source_config_t *s = &c->sources[c->source_count];
        memset(s, 0, sizeof(*s));
        snprintf(s->name, sizeof(s->name), "%s", name);
        snprintf(s->instance_id, sizeof(s->instance_id), "%s", name);
        snprintf(s->control_channel, sizeof(s->control_channel), "%s", "aeron:ipc?term-length=4m");
        s->control_stream_id = 1000;
        s->announce_period_ms = TP_DISCOVERY_DEFAULT_ANNOUNCE_PERIOD_MS;
        if (tp_toml_check_keys(doc, d, keys, COUNT_OF(keys), where) < 0 ||
            get_str(doc, d, "instance_id", where, s->instance_id, sizeof(s->instance_id)) < 0 ||
            get_channel(doc, d, "control_channel", where, s->control_channel, sizeof(s->control_channel)) < 0 ||
            tp_toml_get_u32(doc, d, "control_stream_id", &s->control_stream_id, s->control_stream_id) < 0)
        {
            return -1;
        }
        memcpy(s->announce_channel, s->control_channel, sizeof(s->announce_channel)); /* driver default: announce = control */
        s->announce_stream_id = s->control_stream_id;
        if (get_channel(doc, d, "announce_channel", where, s->announce_channel, sizeof(s->announce_channel)) < 0 ||
            tp_toml_get_u32(doc, d, "announce_stream_id", &s->announce_stream_id, s->announce_stream_id) < 0 ||
            get_channel(doc, d, "metadata_channel", where, s->metadata_channel, sizeof(s->metadata_channel)) < 0 ||
            tp_toml_get_u32(doc, d, "metadata_stream_id", &s->metadata_stream_id, s->metadata_stream_id) < 0 ||
            tp_toml_get_u32(doc, d, "announce_period_ms", &s->announce_period_ms, s->announce_period_ms) < 0)
        {
            return -1;
        }
        c->source_count++;
    }
    return 0;
}

int tp_discovery_config_load_file(const char *path, tp_discovery_provider_config_t *c, char backend[16],
    char dir[PATH_MAX])
{
    tp_toml_t *doc = NULL;
    if (NULL == path || NULL == c || tp_toml_parse_file(path, &doc) < 0)
    {
        return NULL == path || NULL == c ? tp_err_set(TP_ERR_INVALID_ARGUMENT, "discovery config: NULL argument") : -1;
    }
    tp_toml_set_env(doc, tp_toml_env_getenv, NULL);
    static const char *const top[] = { "discovery", "drivers" };
    int rc = -1;
    if (tp_toml_check_keys(doc, tp_toml_root(doc), top, COUNT_OF(top), "") == 0 && load_drivers(doc, c) == 0 &&
        tp_discovery_config_load_section(doc, c, false, NULL, backend, dir) == 0)
    {
        rc = tp_discovery_provider_config_validate(c);
        if (rc < 0)
        {
            tp_err_prepend("%s", tp_toml_name(doc));
        }
    }
    tp_toml_free(doc);
    return rc;
}
