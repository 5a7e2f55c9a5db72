/*
 * Consumer metadata cache (wire spec §10.3), on the conductor thread:
 * DataSourceAnnounce/DataSourceMeta attributes and meta blob reassembly;
 * tp_consumer_metadata reads the cache.
 */
#include <stdlib.h>
#include <string.h>

#include "client/tp_consumer_internal.h"
#include "common/tp_clock.h"
#include "common/tp_error.h"
#include "common/tp_log.h"

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

/* MetaBlobAnnounce / Chunk / Complete: contiguous increasing offsets covering [0, total), CRC32C. */
static void handle_blob(tp_consumer_t *c, uint16_t template_id, const uint8_t *buffer, size_t length)
{
    if (TP_SBE_WIRE_META_BLOB_ANNOUNCE_TEMPLATE_ID == template_id)
    {
        tp_sbe_wire_meta_blob_announce_t m = { 0 };
        if (TP_SBE_OK != tp_sbe_wire_meta_blob_announce_wrap_for_decode_with_header(&m, buffer, 0, length) ||
            tp_sbe_wire_meta_blob_announce_stream_id(&m) != c->config.stream_id)
        {
            return;
        }
        blob_discard(c); /* an unfinished blob is superseded */
        uint64_t total = tp_sbe_wire_meta_blob_announce_total_len(&m);
        if (total > c->config.max_meta_blob_bytes || NULL == (c->blob = malloc(total ? total : 1)))
        {
            tp_counter_add(&c->meta_blobs_discarded, 1);
            return;
        }
        c->blob_len = total;
        c->blob_received = 0;
        c->blob_version = tp_sbe_wire_meta_blob_announce_meta_version(&m);
        c->blob_type = tp_sbe_wire_meta_blob_announce_blob_type(&m);
        c->blob_checksum = tp_sbe_wire_meta_blob_announce_checksum(&m);
    }
    else if (TP_SBE_WIRE_META_BLOB_CHUNK_TEMPLATE_ID == template_id)
    {
        tp_sbe_wire_meta_blob_chunk_t m = { 0 };
        const uint8_t *data = NULL;
        uint32_t n = 0;
        if (NULL == c->blob || TP_SBE_OK != tp_sbe_wire_meta_blob_chunk_wrap_for_decode_with_header(&m, buffer, 0, length) ||
            tp_sbe_wire_meta_blob_chunk_stream_id(&m) != c->config.stream_id)
        {
            return;
        }
        if (tp_sbe_wire_meta_blob_chunk_meta_version(&m) != c->blob_version ||
            TP_SBE_OK != tp_sbe_wire_meta_blob_chunk_get_bytes(&m, &data, &n) ||
            tp_sbe_wire_meta_blob_chunk_chunk_offset(&m) != c->blob_received || n > c->blob_len - c->blob_received)
        {
            blob_discard(c); /* gap, overlap, overrun or foreign version */
            return;
        }
        memcpy(c->blob + c->blob_received, data, n);
        c->blob_received += n;
    }
    else if (TP_SBE_WIRE_META_BLOB_COMPLETE_TEMPLATE_ID == template_id)
    {
        tp_sbe_wire_meta_blob_complete_t m = { 0 };
        if (NULL == c->blob ||
            TP_SBE_OK != tp_sbe_wire_meta_blob_complete_wrap_for_decode_with_header(&m, buffer, 0, length) ||
            tp_sbe_wire_meta_blob_complete_stream_id(&m) != c->config.stream_id)
        {
            return;
        }
        uint64_t checksum = tp_sbe_wire_meta_blob_complete_checksum(&m);
        /* checksum 0 means "none" (§15.9: optional) */
        bool ok = tp_sbe_wire_meta_blob_complete_meta_version(&m) == c->blob_version &&
            c->blob_received == c->blob_len && checksum == c->blob_checksum &&
            (0 == checksum || tp_crc32c(c->blob, c->blob_len) == checksum);
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

void tp_consumer_on_metadata(void *clientd, const uint8_t *buffer, size_t length, const tp_header_t *header)
{
    (void)header;
    tp_consumer_t *c = clientd;
    tp_sbe_header_t h = { 0 };
    if (tp_sbe_peek_header(buffer, length, &h) < 0 || h.schema_id != TP_SBE_WIRE_SCHEMA_ID)
    {
        return;
    }
    if (TP_SBE_WIRE_META_BLOB_ANNOUNCE_TEMPLATE_ID == h.template_id ||
        TP_SBE_WIRE_META_BLOB_CHUNK_TEMPLATE_ID == h.template_id ||
        TP_SBE_WIRE_META_BLOB_COMPLETE_TEMPLATE_ID == h.template_id)
    {
        handle_blob(c, h.template_id, buffer, length);
        return;
    }
    if (h.template_id != TP_SBE_WIRE_DATA_SOURCE_META_TEMPLATE_ID)
    {
        return;
    }
    tp_sbe_wire_data_source_meta_t m = { 0 };
    tp_sbe_wire_data_source_meta_attributes_t g = { 0 };
    if (TP_SBE_OK != tp_sbe_wire_data_source_meta_wrap_for_decode_with_header(&m, buffer, 0, length) ||
        tp_sbe_wire_data_source_meta_stream_id(&m) != c->config.stream_id)
    {
        return;
    }
    uint32_t version = tp_sbe_wire_data_source_meta_meta_version(&m);
    if (version == c->meta_version || TP_SBE_OK != tp_sbe_wire_data_source_meta_get_attributes(&m, &g))
    {
        return;
    }
    size_t count = (size_t)tp_sbe_wire_data_source_meta_attributes_count(&g);
    tp_consumer_attr_t *attrs = calloc(count ? count : 1, sizeof(*attrs));
    if (NULL == attrs)
    {
        return;
    }
    size_t n = 0;
    bool ok = true;
    for (; ok && n < count; n++)
    {
        const char *k = NULL, *f = NULL;
        const uint8_t *v = NULL;
        uint32_t kl = 0, fl = 0, vl = 0;
        if (TP_SBE_OK != tp_sbe_wire_data_source_meta_attributes_next(&g) ||
            TP_SBE_OK != tp_sbe_wire_data_source_meta_attributes_get_key(&g, &k, &kl) ||
            TP_SBE_OK != tp_sbe_wire_data_source_meta_attributes_get_format(&g, &f, &fl) ||
            TP_SBE_OK != tp_sbe_wire_data_source_meta_attributes_get_value(&g, &v, &vl))
        {
            ok = false;
            break;
        }
        attrs[n].key = strndup(k, kl);
        attrs[n].format = strndup(f, fl);
        attrs[n].value = malloc(vl ? vl : 1);
        attrs[n].length = vl;
        if (NULL == attrs[n].key || NULL == attrs[n].format || NULL == attrs[n].value)
        {
            ok = false;
            n++;
            break;
        }
        memcpy(attrs[n].value, v, vl);
    }
    if (!ok)
    {
        for (size_t i = 0; i < n; i++)
        {
            free(attrs[i].key);
            free(attrs[i].format);
            free(attrs[i].value);
        }
        free(attrs);
        return;
    }
    tp_consumer_free_attrs(c);
    c->attrs = attrs;
    c->attr_count = count;
    c->meta_version = version;
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
