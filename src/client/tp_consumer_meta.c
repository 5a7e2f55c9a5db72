/*
 * Consumer metadata cache (wire spec §10.3), on the conductor thread:
 * DataSourceAnnounce/DataSourceMeta attributes and meta blob reassembly;
 * tp_consumer_metadata reads the cache.
 */
#include <stdlib.h>
#include <string.h>

#include "client/tp_consumer_internal.h"
#include "common/tp_clock.h"
#include "common/tp_crc32c.h"
#include "common/tp_error.h"
#include "common/tp_log.h"
#include "protocol/tp_proto.h"

void tp_consumer_free_attrs(tp_consumer_t *c)
{
    for (size_t i = 0; i < c->attr_count; i++)
    {
        free(c->attrs[i].key);
        free(c->attrs[i].format);
        free(c->attrs[i].value);
    }
    free(c->attrs);
    c->attrs = NULL;
    c->attr_count = 0;
}

/* ------------------------------------------------------------------------- */
/* Metadata cache                                                             */
/* ------------------------------------------------------------------------- */

static void blob_discard(tp_consumer_t *c)
{
    if (NULL != c->blob)
    {
        free(c->blob);
        c->blob = NULL;
        tp_counter_add(&c->meta_blobs_discarded, 1);
    }
}

/*
 * MetaBlobAnnounce / Chunk / Complete: contiguous increasing offsets covering
 * [0, total), CRC32C. A message that does not decode is ignored (its stream
 * is unknown); a chunk lost that way leaves a gap that discards the blob at
 * the next chunk or at Complete.
 */
static void handle_blob(tp_consumer_t *c, uint16_t template_id, const uint8_t *buffer, size_t length)
{
    if (TP_SBE_WIRE_META_BLOB_ANNOUNCE_TEMPLATE_ID == template_id)
    {
        tp_proto_meta_blob_announce_view_t v;
        if (tp_proto_decode_meta_blob_announce(buffer, length, &v) < 0 || v.stream_id != c->config.stream_id)
        {
            return;
        }
        blob_discard(c); /* an unfinished blob is superseded */
        if (v.total_len > c->config.max_meta_blob_bytes || NULL == (c->blob = malloc(v.total_len ? v.total_len : 1)))
        {
            tp_counter_add(&c->meta_blobs_discarded, 1);
            return;
        }
        c->blob_len = v.total_len;
        c->blob_received = 0;
        c->blob_version = v.meta_version;
        c->blob_type = v.blob_type;
        c->blob_checksum = v.checksum;
    }
    else if (TP_SBE_WIRE_META_BLOB_CHUNK_TEMPLATE_ID == template_id)
    {
        tp_proto_meta_blob_chunk_view_t v;
        if (NULL == c->blob || tp_proto_decode_meta_blob_chunk(buffer, length, &v) < 0 ||
            v.stream_id != c->config.stream_id)
        {
            return;
        }
        uint32_t n = v.bytes.length;
        if (v.meta_version != c->blob_version || v.chunk_offset != c->blob_received ||
            n > c->blob_len - c->blob_received)
        {
            blob_discard(c); /* gap, overlap, overrun or foreign version */
            return;
        }
        memcpy(c->blob + c->blob_received, v.bytes.data, n);
        c->blob_received += n;
    }
    else if (TP_SBE_WIRE_META_BLOB_COMPLETE_TEMPLATE_ID == template_id)
    {
        tp_proto_meta_blob_complete_view_t v;
        if (NULL == c->blob || tp_proto_decode_meta_blob_complete(buffer, length, &v) < 0 ||
            v.stream_id != c->config.stream_id)
        {
            return;
        }
        /* checksum 0 means "none" (§15.9: optional) */
        bool ok = v.meta_version == c->blob_version && c->blob_received == c->blob_len &&
            v.checksum == c->blob_checksum && (0 == v.checksum || tp_crc32c_compute(c->blob, c->blob_len) == v.checksum);
        if (!ok)
        {
            blob_discard(c);
            return;
        }
        tp_counter_add(&c->meta_blobs_received, 1);
        if (NULL != c->config.on_meta_blob)
        {
            c->config.on_meta_blob(c->config.clientd, c->blob_version, c->blob_type, c->blob, c->blob_len);
        }
        free(c->blob);
        c->blob = NULL;
    }
}

static void free_attr_array(tp_consumer_attr_t *attrs, size_t n)
{
    for (size_t i = 0; i < n; i++)
    {
        free(attrs[i].key);
        free(attrs[i].format);
        free(attrs[i].value);
    }
    free(attrs);
}

void tp_consumer_on_metadata(void *clientd, const uint8_t *buffer, size_t length, const tp_header_t *header)
{
    (void)header;
    tp_consumer_t *c = clientd;
    uint16_t schema_id = 0, template_id = 0;
    if (tp_proto_peek(buffer, length, &schema_id, &template_id) < 0 || schema_id != TP_SBE_WIRE_SCHEMA_ID)
    {
        return;
    }
    if (TP_SBE_WIRE_META_BLOB_ANNOUNCE_TEMPLATE_ID == template_id ||
        TP_SBE_WIRE_META_BLOB_CHUNK_TEMPLATE_ID == template_id || TP_SBE_WIRE_META_BLOB_COMPLETE_TEMPLATE_ID == template_id)
    {
        handle_blob(c, template_id, buffer, length);
        return;
    }
    tp_proto_data_source_meta_view_t v;
    if (template_id != TP_SBE_WIRE_DATA_SOURCE_META_TEMPLATE_ID || tp_proto_decode_data_source_meta(buffer, length, &v) < 0 ||
        v.stream_id != c->config.stream_id || v.meta_version == c->meta_version)
    {
        return;
    }
    size_t count = v.attribute_count; /* at most TP_PROTO_MAX_ATTRIBUTES, every one checked by the decode */
    tp_consumer_attr_t *attrs = calloc(count ? count : 1, sizeof(*attrs));
    if (NULL == attrs)
    {
        return;
    }
    tp_proto_attribute_iter_t it = v.attributes;
    tp_proto_attribute_view_t a;
    for (size_t n = 0; n < count; n++)
    {
        if (1 != tp_proto_attribute_next(&it, &a))
        {
            free_attr_array(attrs, n);
            return;
        }
        attrs[n].key = strndup(a.key.data, a.key.length);
        attrs[n].format = strndup(a.format.data, a.format.length);
        attrs[n].value = malloc(a.value.length ? a.value.length : 1);
        attrs[n].length = a.value.length;
        if (NULL == attrs[n].key || NULL == attrs[n].format || NULL == attrs[n].value)
        {
            free_attr_array(attrs, n + 1);
            return;
        }
        memcpy(attrs[n].value, a.value.data, a.value.length);
    }
    tp_consumer_free_attrs(c);
    c->attrs = attrs;
    c->attr_count = count;
    c->meta_version = v.meta_version;
    tp_counter_add(&c->metadata_updates, 1);
}

int tp_consumer_metadata(const tp_consumer_t *c, const char *key, void *buf, size_t len, uint32_t *meta_version)
{
    if (NULL == c || NULL == key)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_consumer_metadata: NULL argument");
    }
    if (NULL != meta_version)
    {
        *meta_version = c->meta_version;
    }
    for (size_t i = 0; i < c->attr_count; i++)
    {
        if (0 == strcmp(c->attrs[i].key, key))
        {
            if (c->attrs[i].length > len)
            {
                return tp_err_set(TP_ERR_INVALID_ARGUMENT, "metadata value of %u bytes does not fit in %zu",
                    c->attrs[i].length, len);
            }
            memcpy(buf, c->attrs[i].value, c->attrs[i].length);
            return (int)c->attrs[i].length;
        }
    }
    return 0;
}
