/*
 * Discovery registry: soft-state index keyed by (driver_instance_id,
 * stream_id). See tp_discovery_registry.h.
 */
#include "discovery/tp_discovery_registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/tp_error.h"

typedef struct disc_pool_stct
{
    uint16_t pool_id;
    uint32_t pool_nslots;
    uint32_t stride_bytes;
    uint32_t uri_offset;
    uint32_t uri_length;
}
disc_pool_t;

struct tp_discovery_entry_stct
{
    bool in_use;
    bool announced;          /* a ShmPoolAnnounce was indexed (metadata-only entries are not returned) */
    char instance_id[TP_DISCOVERY_INSTANCE_ID_MAX + 1];
    uint32_t stream_id;
    char control_channel[TP_DISCOVERY_CHANNEL_MAX + 1];
    uint32_t control_stream_id;
    uint64_t last_seen_ns;   /* last announce (metadata for metadata-only entries) */
    uint64_t expiry_ns;
    uint32_t producer_id;
    uint64_t epoch;
    uint32_t layout_version;
    uint32_t header_nslots;
    uint16_t header_slot_bytes;
    uint32_t pool_count;
    disc_pool_t pools[TP_PROTO_MAX_POOLS];
    uint32_t header_uri_length;  /* the header URI is at offset 0 of uris */
    char *uris;                  /* TP_DISCOVERY_ENTRY_URI_BYTES, allocated on first use */
    /* metadata */
    bool has_data_source_id;
    uint64_t data_source_id;
    bool name_announced;
    char name[TP_DISCOVERY_NAME_MAX + 1];
    uint32_t name_length;
    uint32_t static_tag_count;   /* tags[0..static_tag_count) come from the configuration */
    uint32_t tag_count;
    char tags[TP_DISCOVERY_MAX_TAGS][TP_DISCOVERY_TAG_MAX + 1];
    uint32_t tag_lengths[TP_DISCOVERY_MAX_TAGS];
};

typedef struct disc_static_stct
{
    char instance_id[TP_DISCOVERY_INSTANCE_ID_MAX + 1];
    uint32_t stream_id;
    uint32_t tag_count;
    char tags[TP_DISCOVERY_MAX_TAGS][TP_DISCOVERY_TAG_MAX + 1];
    bool has_data_source_id;
    uint64_t data_source_id;
    char name[TP_DISCOVERY_NAME_MAX + 1];
}
disc_static_t;

struct tp_discovery_registry_stct
{
    uint32_t capacity;
    tp_discovery_entry_t *entries;
    disc_static_t *statics;
    uint32_t static_count;
    tp_discovery_registry_stats_t stats;
};

int tp_discovery_registry_init(tp_discovery_registry_t **out, uint32_t max_entries)
{
    if (NULL == out || 0 == max_entries || max_entries > TP_DISCOVERY_MAX_ENTRIES_LIMIT)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "discovery registry: max_entries must be 1..%u, got %u",
            TP_DISCOVERY_MAX_ENTRIES_LIMIT, max_entries);
    }
    tp_discovery_registry_t *r = calloc(1, sizeof(*r));
    if (NULL != r)
    {
        r->entries = calloc(max_entries, sizeof(*r->entries));
        r->statics = calloc(TP_DISCOVERY_MAX_STATIC, sizeof(*r->statics));
    }
    if (NULL == r || NULL == r->entries || NULL == r->statics)
    {
        tp_discovery_registry_close(r);
        return tp_err_set(TP_ERR_NO_MEMORY, "discovery registry: out of memory for %u entries", max_entries);
    }
    r->capacity = max_entries;
    *out = r;
    return 0;
}

void tp_discovery_registry_close(tp_discovery_registry_t *r)
{
    if (NULL == r)
    {
        return;
    }
    if (NULL != r->entries)
    {
        for (uint32_t i = 0; i < r->capacity; i++)
        {
            free(r->entries[i].uris);
        }
    }
    free(r->entries);
    free(r->statics);
    free(r);
}

static bool str_eq(const char *a, const char *b, size_t blen)
{
    return strlen(a) == blen && 0 == memcmp(a, b, blen);
}

static tp_discovery_entry_t *find(const tp_discovery_registry_t *r, const char *id, uint32_t stream_id)
{
    for (uint32_t i = 0; i < r->capacity; i++)
    {
        tp_discovery_entry_t *e = &r->entries[i];
        if (e->in_use && e->stream_id == stream_id && 0 == strcmp(e->instance_id, id))
        {
            return e;
        }
    }
    return NULL;
}

const tp_discovery_entry_t *tp_discovery_registry_find(const tp_discovery_registry_t *r, const char *instance_id,
    uint32_t stream_id)
{
    return NULL == r || NULL == instance_id ? NULL : find(r, instance_id, stream_id);
}

static const disc_static_t *find_static(const tp_discovery_registry_t *r, const char *id, uint32_t stream_id)
{
    for (uint32_t i = 0; i < r->static_count; i++)
    {
        if (r->statics[i].stream_id == stream_id && 0 == strcmp(r->statics[i].instance_id, id))
        {
            return &r->statics[i];
        }
    }
    return NULL;
}

static bool expired(const tp_discovery_entry_t *e, uint64_t now_ns)
{
    return now_ns > e->last_seen_ns && now_ns - e->last_seen_ns > e->expiry_ns;
}

bool tp_discovery_entry_live(const tp_discovery_entry_t *e, uint64_t now_ns)
{
    return NULL != e && e->in_use && e->announced && !expired(e, now_ns);
}

uint64_t tp_discovery_entry_epoch(const tp_discovery_entry_t *e)
{
    return NULL == e ? 0 : e->epoch;
}

/* Configured tags first, then the announced ones; configured name/id until announced. */
static void apply_static(const tp_discovery_registry_t *r, tp_discovery_entry_t *e)
{
    const disc_static_t *s = find_static(r, e->instance_id, e->stream_id);
    uint32_t announced = e->tag_count - e->static_tag_count;
    char keep[TP_DISCOVERY_MAX_TAGS][TP_DISCOVERY_TAG_MAX + 1];
    uint32_t keep_len[TP_DISCOVERY_MAX_TAGS];
    for (uint32_t i = 0; i < announced; i++)
    {
        memcpy(keep[i], e->tags[e->static_tag_count + i], sizeof(keep[i]));
        keep_len[i] = e->tag_lengths[e->static_tag_count + i];
    }
    uint32_t n = 0;
    if (NULL != s)
    {
        for (uint32_t i = 0; i < s->tag_count; i++, n++)
        {
            memcpy(e->tags[n], s->tags[i], sizeof(e->tags[n]));
            e->tag_lengths[n] = (uint32_t)strlen(s->tags[i]);
        }
        if (s->has_data_source_id && !e->has_data_source_id)
        {
            e->has_data_source_id = true;
            e->data_source_id = s->data_source_id;
        }
        if (!e->name_announced && '\0' != s->name[0])
        {
            e->name_length = (uint32_t)strlen(s->name);
            memcpy(e->name, s->name, e->name_length + 1);
        }
    }
    e->static_tag_count = n;
    for (uint32_t i = 0; i < announced && n < TP_DISCOVERY_MAX_TAGS; i++, n++)
    {
        memcpy(e->tags[n], keep[i], sizeof(keep[i]));
        e->tag_lengths[n] = keep_len[i];
    }
    e->tag_count = n;
}

static tp_discovery_entry_t *insert(tp_discovery_registry_t *r, const char *id, uint32_t stream_id, uint64_t now_ns)
{
    tp_discovery_entry_t *slot = NULL;
    for (uint32_t i = 0; i < r->capacity && NULL == slot; i++)
    {
        if (!r->entries[i].in_use)
        {
            slot = &r->entries[i];
        }
    }
    if (NULL == slot)
    {
        /* full: reuse an expired entry rather than refusing */
        for (uint32_t i = 0; i < r->capacity && NULL == slot; i++)
        {
            if (expired(&r->entries[i], now_ns))
            {
                slot = &r->entries[i];
                r->stats.expired++;
                r->stats.entries--; /* counted again below */
            }
        }
    }
    if (NULL == slot)
    {
        r->stats.refused_full++;
        tp_err_set(TP_ERR_STATE, "discovery registry: all %u entries in use (raise max_entries)", r->capacity);
        return NULL;
    }
    char *uris = slot->uris;
    memset(slot, 0, sizeof(*slot));
    slot->uris = uris;
    slot->in_use = true;
    snprintf(slot->instance_id, sizeof(slot->instance_id), "%s", id);
    slot->stream_id = stream_id;
    slot->last_seen_ns = now_ns;
    apply_static(r, slot);
    r->stats.entries++;
    r->stats.inserted++;
    return slot;
}

static void set_layout(tp_discovery_entry_t *e, const tp_discovery_authority_t *a, const tp_proto_shm_pool_announce_view_t *v)
{
    snprintf(e->control_channel, sizeof(e->control_channel), "%s", a->control_channel);
    e->control_stream_id = a->control_stream_id;
    e->producer_id = v->producer_id;
    e->epoch = v->epoch;
    e->layout_version = v->layout_version;
    e->header_nslots = v->header_nslots;
    e->header_slot_bytes = v->header_slot_bytes;
    e->pool_count = v->pool_count;
    memcpy(e->uris, v->header_region_uri.data, v->header_region_uri.length);
    e->header_uri_length = v->header_region_uri.length;
    uint32_t off = v->header_region_uri.length;
    for (uint32_t i = 0; i < v->pool_count; i++)
    {
        const tp_proto_pool_view_t *p = &v->pools[i];
        e->pools[i] = (disc_pool_t){ p->pool_id, p->pool_nslots, p->stride_bytes, off, p->region_uri.length };
        memcpy(e->uris + off, p->region_uri.data, p->region_uri.length);
        off += p->region_uri.length;
    }
    e->announced = true;
}

tp_discovery_upsert_t tp_discovery_registry_on_announce(tp_discovery_registry_t *r, const tp_discovery_authority_t *a,
    const tp_proto_shm_pool_announce_view_t *v, uint64_t now_ns, uint64_t expiry_ns)
{
    if (NULL == r || NULL == a || NULL == v || NULL == a->instance_id || NULL == a->control_channel)
    {
        tp_err_set(TP_ERR_INVALID_ARGUMENT, "discovery registry: NULL argument");
        return TP_DISCOVERY_UPSERT_REFUSED;
    }
    size_t uri_bytes = v->header_region_uri.length;
    for (uint32_t i = 0; i < v->pool_count && i < TP_PROTO_MAX_POOLS; i++)
    {
        uri_bytes += v->pools[i].region_uri.length;
    }
    if (strlen(a->instance_id) > TP_DISCOVERY_INSTANCE_ID_MAX || '\0' == a->instance_id[0] ||
        strlen(a->control_channel) > TP_DISCOVERY_CHANNEL_MAX || v->pool_count > TP_PROTO_MAX_POOLS ||
        uri_bytes > TP_DISCOVERY_ENTRY_URI_BYTES)
    {
        r->stats.refused_caps++;
        tp_err_set(TP_ERR_INVALID_ARGUMENT,
            "discovery registry: stream %u: instance id (1..%u bytes), control channel (<= %u), pools (<= %u) or "
            "region URIs (<= %u bytes in all) over the caps", v->stream_id, TP_DISCOVERY_INSTANCE_ID_MAX,
            TP_DISCOVERY_CHANNEL_MAX, TP_PROTO_MAX_POOLS, TP_DISCOVERY_ENTRY_URI_BYTES);
        return TP_DISCOVERY_UPSERT_REFUSED;
    }
    tp_discovery_entry_t *e = find(r, a->instance_id, v->stream_id);
    tp_discovery_upsert_t what = TP_DISCOVERY_UPSERT_INSERTED;
    if (NULL != e && e->announced)
    {
        bool endpoint_changed = 0 != strcmp(e->control_channel, a->control_channel) ||
            e->control_stream_id != a->control_stream_id;
        if (v->epoch > e->epoch)
        {
            what = TP_DISCOVERY_UPSERT_REPLACED;
        }
        else if (v->epoch == e->epoch)
        {
            what = TP_DISCOVERY_UPSERT_REFRESHED;
        }
        else if (endpoint_changed || expired(e, now_ns))
        {
            what = TP_DISCOVERY_UPSERT_RESTARTED;
        }
        else
        {
            r->stats.regressions++;
            return TP_DISCOVERY_UPSERT_REGRESSED;
        }
    }
    else if (NULL == e && NULL == (e = insert(r, a->instance_id, v->stream_id, now_ns)))
    {
        return TP_DISCOVERY_UPSERT_REFUSED;
    }
    if (NULL == e->uris && NULL == (e->uris = malloc(TP_DISCOVERY_ENTRY_URI_BYTES)))
    {
        r->stats.refused_caps++;
        tp_err_set(TP_ERR_NO_MEMORY, "discovery registry: out of memory");
        return TP_DISCOVERY_UPSERT_REFUSED;
    }
    set_layout(e, a, v);
    e->last_seen_ns = now_ns;
    e->expiry_ns = expiry_ns;
    switch (what)
    {
        case TP_DISCOVERY_UPSERT_REFRESHED: r->stats.refreshed++; break;
        case TP_DISCOVERY_UPSERT_REPLACED: r->stats.replaced++; break;
        case TP_DISCOVERY_UPSERT_RESTARTED: r->stats.restarts++; break;
        default: break;
    }
    return what;
}

/* The entry for metadata: existing, or a new metadata-only one. */
static tp_discovery_entry_t *meta_entry(tp_discovery_registry_t *r, const char *id, uint32_t stream_id,
    uint64_t now_ns, uint64_t expiry_ns)
{
    if (NULL == r || NULL == id || '\0' == id[0] || strlen(id) > TP_DISCOVERY_INSTANCE_ID_MAX)
    {
        tp_err_set(TP_ERR_INVALID_ARGUMENT, "discovery registry: bad instance id");
        return NULL;
    }
    tp_discovery_entry_t *e = find(r, id, stream_id);
    if (NULL == e)
    {
        e = insert(r, id, stream_id, now_ns);
        if (NULL != e)
        {
            e->expiry_ns = expiry_ns;
        }
    }
    else if (!e->announced)
    {
        e->last_seen_ns = now_ns;
    }
    return e;
}

int tp_discovery_registry_on_data_source(tp_discovery_registry_t *r, const char *instance_id,
    const tp_proto_data_source_announce_view_t *v, uint64_t now_ns, uint64_t expiry_ns)
{
    if (NULL == v)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "discovery registry: NULL announce");
    }
    if (v->name.length > TP_DISCOVERY_NAME_MAX)
    {
        if (NULL != r)
        {
            r->stats.refused_caps++;
        }
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "discovery registry: data source name of %u bytes (at most %u)",
            v->name.length, TP_DISCOVERY_NAME_MAX);
    }
    tp_discovery_entry_t *e = meta_entry(r, instance_id, v->stream_id, now_ns, expiry_ns);
    if (NULL == e)
    {
        return -1;
    }
    if (0 == v->name.length)
    {
        return 0; /* length 0: not provided (§5.0) */
    }
    memcpy(e->name, v->name.data, v->name.length);
    e->name[v->name.length] = '\0';
    e->name_length = v->name.length;
    e->name_announced = true;
    r->stats.metadata_updates++;
    return 0;
}

static bool has_tag(const tp_discovery_entry_t *e, const char *t, size_t len)
{
    for (uint32_t i = 0; i < e->tag_count; i++)
    {
        if (e->tag_lengths[i] == len && 0 == memcmp(e->tags[i], t, len))
        {
            return true;
        }
    }
    return false;
}

static void add_tag(tp_discovery_entry_t *e, const char *t, size_t len, bool *overflow)
{
    while (len > 0 && ' ' == t[0])
    {
        t++;
        len--;
    }
    while (len > 0 && ' ' == t[len - 1])
    {
        len--;
    }
    if (0 == len || has_tag(e, t, len))
    {
        return;
    }
    if (len > TP_DISCOVERY_TAG_MAX || e->tag_count >= TP_DISCOVERY_MAX_TAGS || NULL != memchr(t, '\0', len))
    {
        *overflow = true;
        return;
    }
    memcpy(e->tags[e->tag_count], t, len);
    e->tags[e->tag_count][len] = '\0';
    e->tag_lengths[e->tag_count++] = (uint32_t)len;
}

int tp_discovery_registry_on_meta(tp_discovery_registry_t *r, const char *instance_id,
    const tp_proto_data_source_meta_view_t *v, uint64_t now_ns, uint64_t expiry_ns)
{
    if (NULL == v)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "discovery registry: NULL meta");
    }
    tp_discovery_entry_t *e = meta_entry(r, instance_id, v->stream_id, now_ns, expiry_ns);
    if (NULL == e)
    {
        return -1;
    }
    e->tag_count = e->static_tag_count; /* announced tags are replaced as a whole */
    bool overflow = false;
    tp_proto_attribute_iter_t it = v->attributes;
    tp_proto_attribute_view_t attr;
    while (1 == tp_proto_attribute_next(&it, &attr))
    {
        const char *val = (const char *)attr.value.data;
        size_t vlen = attr.value.length;
        if (str_eq("tag", attr.key.data, attr.key.length))
        {
            add_tag(e, val, vlen, &overflow);
        }
        else if (str_eq("tags", attr.key.data, attr.key.length))
        {
            size_t start = 0;
            for (size_t i = 0; i <= vlen; i++)
            {
                if (i == vlen || ',' == val[i])
                {
                    add_tag(e, val + start, i - start, &overflow);
                    start = i + 1;
                }
            }
        }
        else if (str_eq("data_source_id", attr.key.data, attr.key.length) && vlen > 0 && vlen <= 20)
        {
            uint64_t id = 0;
            bool ok = true;
            for (size_t i = 0; i < vlen && ok; i++)
            {
                unsigned d = (unsigned)(val[i] - '0');
                ok = d <= 9 && id <= (UINT64_MAX - d) / 10;
                id = id * 10 + d;
            }
            if (ok && UINT64_MAX != id)
            {
                e->has_data_source_id = true;
                e->data_source_id = id;
            }
        }
    }
    r->stats.metadata_updates++;
    if (overflow)
    {
        r->stats.refused_caps++;
    }
    return 0;
}

int tp_discovery_registry_set_static(tp_discovery_registry_t *r, const char *instance_id, uint32_t stream_id,
    const char *const *tags, size_t tag_count, bool has_data_source_id, uint64_t data_source_id, const char *name)
{
    if (NULL == r || NULL == instance_id || '\0' == instance_id[0] || strlen(instance_id) > TP_DISCOVERY_INSTANCE_ID_MAX ||
        tag_count > TP_DISCOVERY_MAX_TAGS || (tag_count > 0 && NULL == tags) ||
        (NULL != name && strlen(name) > TP_DISCOVERY_NAME_MAX))
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT,
            "discovery: stream %u metadata: at most %u tags of 1..%u bytes, a name of at most %u bytes", stream_id,
            TP_DISCOVERY_MAX_TAGS, TP_DISCOVERY_TAG_MAX, TP_DISCOVERY_NAME_MAX);
    }
    disc_static_t *s = (disc_static_t *)find_static(r, instance_id, stream_id);
    if (NULL == s)
    {
        if (r->static_count >= TP_DISCOVERY_MAX_STATIC)
        {
            return tp_err_set(TP_ERR_INVALID_ARGUMENT, "discovery: at most %u streams with configured metadata",
                TP_DISCOVERY_MAX_STATIC);
        }
        s = &r->statics[r->static_count++];
    }
    memset(s, 0, sizeof(*s));
    snprintf(s->instance_id, sizeof(s->instance_id), "%s", instance_id);
    s->stream_id = stream_id;
    for (size_t i = 0; i < tag_count; i++)
    {
        size_t len = NULL == tags[i] ? 0 : strlen(tags[i]);
        if (0 == len || len > TP_DISCOVERY_TAG_MAX)
        {
            s->stream_id = 0;
            r->static_count--;
            return tp_err_set(TP_ERR_INVALID_ARGUMENT, "discovery: stream %u: tag %zu must be 1..%u bytes", stream_id,
                i, TP_DISCOVERY_TAG_MAX);
        }
        bool dup = false;
        for (uint32_t j = 0; j < s->tag_count; j++)
        {
            dup = dup || 0 == strcmp(s->tags[j], tags[i]);
        }
        if (!dup)
        {
            memcpy(s->tags[s->tag_count++], tags[i], len + 1);
        }
    }
    s->has_data_source_id = has_data_source_id;
    s->data_source_id = data_source_id;
    snprintf(s->name, sizeof(s->name), "%s", NULL == name ? "" : name);
    tp_discovery_entry_t *e = find(r, instance_id, stream_id);
    if (NULL != e)
    {
        apply_static(r, e);
    }
    return 0;
}

static void release(tp_discovery_registry_t *r, tp_discovery_entry_t *e)
{
    char *uris = e->uris;
    memset(e, 0, sizeof(*e));
    e->uris = uris; /* kept for reuse */
    r->stats.entries--;
}

int tp_discovery_registry_remove(tp_discovery_registry_t *r, const char *instance_id, uint32_t stream_id)
{
    tp_discovery_entry_t *e = NULL == r || NULL == instance_id ? NULL : find(r, instance_id, stream_id);
    if (NULL == e)
    {
        return 0;
    }
    release(r, e);
    return 1;
}

size_t tp_discovery_registry_expire(tp_discovery_registry_t *r, uint64_t now_ns)
{
    size_t n = 0;
    for (uint32_t i = 0; NULL != r && i < r->capacity; i++)
    {
        if (r->entries[i].in_use && expired(&r->entries[i], now_ns))
        {
            release(r, &r->entries[i]);
            r->stats.expired++;
            n++;
        }
    }
    return n;
}

static bool matches(const tp_discovery_entry_t *e, const tp_proto_discovery_request_view_t *q)
{
    if ((q->has_stream_id && q->stream_id != e->stream_id) || (q->has_producer_id && q->producer_id != e->producer_id) ||
        (q->has_data_source_id && (!e->has_data_source_id || q->data_source_id != e->data_source_id)))
    {
        return false;
    }
    if (q->data_source_name.length > 0 &&
        (q->data_source_name.length != e->name_length || 0 != memcmp(q->data_source_name.data, e->name, e->name_length)))
    {
        return false;
    }
    for (uint32_t i = 0; i < q->tag_count; i++)
    {
        if (q->tags[i].length > 0 &&
            !has_tag(e, q->tags[i].data, q->tags[i].length))
        {
            return false; /* every requested tag must be present (duplicates: same test twice) */
        }
    }
    return true;
}

size_t tp_discovery_registry_query(const tp_discovery_registry_t *r, const tp_proto_discovery_request_view_t *q,
    uint64_t now_ns, const tp_discovery_entry_t **out, size_t max)
{
    size_t n = 0;
    for (uint32_t i = 0; NULL != r && NULL != q && i < r->capacity; i++)
    {
        const tp_discovery_entry_t *e = &r->entries[i];
        if (!tp_discovery_entry_live(e, now_ns) || '\0' == e->control_channel[0] || 0 == e->control_stream_id ||
            !matches(e, q))
        {
            continue;
        }
        if (n < max && NULL != out)
        {
            out[n] = e;
        }
        n++;
    }
    return n;
}

void tp_discovery_registry_result(const tp_discovery_entry_t *e, tp_proto_discovery_result_view_t *out)
{
    memset(out, 0, sizeof(*out));
    out->stream_id = e->stream_id;
    out->producer_id = e->producer_id;
    out->epoch = e->epoch;
    out->layout_version = e->layout_version;
    out->header_nslots = e->header_nslots;
    out->header_slot_bytes = e->header_slot_bytes;
    out->max_dims = tp_sbe_wire_tensor_header_max_dims();
    out->has_data_source_id = e->has_data_source_id;
    out->data_source_id = e->data_source_id;
    out->driver_control_stream_id = e->control_stream_id;
    out->pool_count = e->pool_count;
    for (uint32_t i = 0; i < e->pool_count; i++)
    {
        out->pools[i].pool_id = e->pools[i].pool_id;
        out->pools[i].pool_nslots = e->pools[i].pool_nslots;
        out->pools[i].stride_bytes = e->pools[i].stride_bytes;
        out->pools[i].region_uri.data = e->uris + e->pools[i].uri_offset;
        out->pools[i].region_uri.length = e->pools[i].uri_length;
    }
    out->tag_count = e->tag_count;
    for (uint32_t i = 0; i < e->tag_count; i++)
    {
        out->tags[i].data = e->tags[i];
        out->tags[i].length = e->tag_lengths[i];
    }
    out->header_region_uri.data = e->uris;
    out->header_region_uri.length = e->header_uri_length;
    out->data_source_name.data = e->name;
    out->data_source_name.length = e->name_length;
    out->driver_instance_id.data = e->instance_id;
    out->driver_instance_id.length = (uint32_t)strlen(e->instance_id);
    out->driver_control_channel.data = e->control_channel;
    out->driver_control_channel.length = (uint32_t)strlen(e->control_channel);
}

void tp_discovery_registry_stats(const tp_discovery_registry_t *r, tp_discovery_registry_stats_t *out)
{
    if (NULL != r && NULL != out)
    {
        *out = r->stats;
    }
}
