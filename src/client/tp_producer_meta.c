/*
 * Producer metadata (wire spec §10.3): DataSourceAnnounce/DataSourceMeta and
 * meta blobs. tp_producer_set_metadata and tp_producer_publish_meta_blob run
 * on the caller's thread and hand their payload to the conductor as a
 * command; applying and sending run on the conductor.
 */
#include <stdlib.h>
#include <string.h>

#include "client/tp_producer_internal.h"
#include "common/tp_crc32c.h"
#include "common/tp_error.h"
#include "common/tp_log.h"

void tp_producer_meta_free(tp_producer_meta_t *m)
{
    if (NULL == m)
    {
        return;
    }
    for (size_t i = 0; i < m->count; i++)
    {
        free(m->keys[i]);
        free(m->formats[i]);
        free(m->values[i]);
    }
    free(m->keys);
    free(m->formats);
    free(m->values);
    free(m->lengths);
    free(m);
}

static void metadata_free(void *payload)
{
    tp_producer_meta_free(payload);
}

static void apply_meta_blob(tp_producer_t *p, void *blob)
{
    free(p->blob); /* a blob still being sent is superseded */
    p->blob = blob;
}

static void apply_metadata(tp_producer_t *p, void *payload)
{
    tp_producer_meta_free(p->meta);
    p->meta = payload;
    p->meta_dirty = true;
}

/* Conductor commands (tp_client_cmd.h): the conductor takes the payload over. */
static void set_metadata_execute(tp_client_t *client, tp_client_cmd_t *cmd)
{
    (void)client;
    apply_metadata(cmd->target, cmd->payload);
    cmd->payload = NULL;
    tp_client_cmd_complete(cmd, true);
}

static const tp_client_cmd_ops_t set_metadata_ops = {
    .kind = TP_CMD_KIND_OTHER,
    .execute = set_metadata_execute,
    .free_payload = metadata_free,
};

static void meta_blob_execute(tp_client_t *client, tp_client_cmd_t *cmd)
{
    (void)client;
    apply_meta_blob(cmd->target, cmd->payload);
    cmd->payload = NULL;
    tp_client_cmd_complete(cmd, true);
}

static const tp_client_cmd_ops_t meta_blob_ops = {
    .kind = TP_CMD_KIND_OTHER,
    .execute = meta_blob_execute,
    .free_payload = free,
};

/* ------------------------------------------------------------------------- */
/* Metadata                                                                   */
/* ------------------------------------------------------------------------- */

int64_t tp_producer_set_metadata(tp_producer_t *p, size_t count, const char *const *keys, const char *const *formats,
    const uint8_t *const *values, const uint32_t *value_lengths)
{
    if (NULL == p || (count > 0 && (NULL == keys || NULL == formats || NULL == values || NULL == value_lengths)))
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_producer_set_metadata: NULL argument");
    }
    if (count > 1024)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_producer_set_metadata: at most 1024 attributes");
    }
    tp_producer_meta_t *m = calloc(1, sizeof(*m));
    tp_client_cmd_t *cmd = calloc(1, sizeof(*cmd));
    if (NULL == m || NULL == cmd)
    {
        free(m);
        free(cmd);
        return tp_err_set(TP_ERR_NO_MEMORY, "out of memory");
    }
    m->count = count;
    m->keys = calloc(count + 1, sizeof(char *));
    m->formats = calloc(count + 1, sizeof(char *));
    m->values = calloc(count + 1, sizeof(uint8_t *));
    m->lengths = calloc(count + 1, sizeof(uint32_t));
    bool ok = m->keys && m->formats && m->values && m->lengths;
    for (size_t i = 0; ok && i < count; i++)
    {
        m->keys[i] = strdup(keys[i] ? keys[i] : "");
        m->formats[i] = strdup(formats[i] ? formats[i] : "");
        m->values[i] = malloc(value_lengths[i] ? value_lengths[i] : 1);
        m->lengths[i] = value_lengths[i];
        ok = m->keys[i] && m->formats[i] && m->values[i];
        if (ok && value_lengths[i])
        {
            memcpy(m->values[i], values[i], value_lengths[i]);
        }
    }
    if (!ok)
    {
        tp_producer_meta_free(m);
        free(cmd);
        return tp_err_set(TP_ERR_NO_MEMORY, "out of memory");
    }
    m->meta_version = atomic_fetch_add(&p->meta_version, 1) + 1;
    cmd->ops = &set_metadata_ops;
    cmd->target = p;
    cmd->payload = m;
    if (tp_client_submit_and_wait(p->client, cmd) < 0)
    {
        return -1;
    }
    return m->meta_version;
}

int tp_producer_set_meta_version(tp_producer_t *p, uint32_t meta_version)
{
    if (NULL == p)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_producer_set_meta_version: NULL producer");
    }
    atomic_store_explicit(&p->meta_version, meta_version, memory_order_relaxed);
    return 0;
}

/* Public wrapper of the common CRC32C (src/common/tp_crc32c.h), kept for applications. */
uint32_t tp_crc32c(const void *data, size_t length)
{
    return tp_crc32c_compute(data, length);
}

int tp_producer_publish_meta_blob(tp_producer_t *p, uint32_t blob_type, const void *data, size_t length)
{
    if (NULL == p || (NULL == data && length > 0))
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_producer_publish_meta_blob: NULL argument");
    }
    if (length > TP_META_BLOB_MAX_BYTES)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "meta blob of %zu bytes exceeds the %llu-byte limit", length,
            (unsigned long long)TP_META_BLOB_MAX_BYTES);
    }
    tp_producer_blob_t *b = malloc(sizeof(*b) + (length ? length : 1));
    tp_client_cmd_t *cmd = calloc(1, sizeof(*cmd));
    if (NULL == b || NULL == cmd)
    {
        free(b);
        free(cmd);
        return tp_err_set(TP_ERR_NO_MEMORY, "out of memory");
    }
    memcpy(b->data, data, length);
    b->length = length;
    b->offset = 0;
    b->blob_type = blob_type;
    b->meta_version = atomic_load(&p->meta_version);
    b->checksum = tp_crc32c_compute(b->data, length);
    b->announced = false;
    cmd->ops = &meta_blob_ops;
    cmd->target = p;
    cmd->payload = b;
    return tp_client_submit_and_wait(p->client, cmd);
}

/* Send the pending blob: announce, chunks (as many as the stream takes), complete. */
int tp_producer_send_blob(tp_producer_t *p)
{
    tp_producer_blob_t *b = p->blob;
    int work = 0;
    uint8_t *buf = p->encode_buffer;
    size_t chunk_max = TP_META_BLOB_CHUNK_MAX;
    size_t max_msg = tp_publication_max_message_length(p->pub_metadata);
    if (max_msg < chunk_max + 64)
    {
        chunk_max = max_msg > 128 ? max_msg - 64 : 64;
    }
    if (!b->announced)
    {
        tp_sbe_wire_meta_blob_announce_t m = { 0 };
        tp_sbe_wire_meta_blob_announce_wrap_and_apply_header(&m, buf, 0, TP_PRODUCER_ENCODE_BUFFER);
        tp_sbe_wire_meta_blob_announce_set_stream_id(&m, p->config.stream_id);
        tp_sbe_wire_meta_blob_announce_set_meta_version(&m, b->meta_version);
        tp_sbe_wire_meta_blob_announce_set_blob_type(&m, b->blob_type);
        tp_sbe_wire_meta_blob_announce_set_total_len(&m, b->length);
        tp_sbe_wire_meta_blob_announce_set_checksum(&m, b->checksum);
        if (tp_publication_offer(p->pub_metadata, buf,
                TP_SBE_MESSAGE_HEADER_LENGTH + tp_sbe_wire_meta_blob_announce_encoded_length(&m), NULL, NULL) <= 0)
        {
            return 0; /* retried next duty cycle */
        }
        b->announced = true;
        work++;
    }
    for (int i = 0; i < 16 && b->offset < b->length; i++)
    {
        size_t n = b->length - b->offset < chunk_max ? (size_t)(b->length - b->offset) : chunk_max;
        tp_sbe_wire_meta_blob_chunk_t m = { 0 };
        tp_sbe_wire_meta_blob_chunk_wrap_and_apply_header(&m, buf, 0, TP_PRODUCER_ENCODE_BUFFER);
        tp_sbe_wire_meta_blob_chunk_set_stream_id(&m, p->config.stream_id);
        tp_sbe_wire_meta_blob_chunk_set_meta_version(&m, b->meta_version);
        tp_sbe_wire_meta_blob_chunk_set_chunk_offset(&m, b->offset);
        tp_sbe_wire_meta_blob_chunk_put_bytes(&m, b->data + b->offset, (uint32_t)n);
        if (tp_publication_offer(p->pub_metadata, buf,
                TP_SBE_MESSAGE_HEADER_LENGTH + tp_sbe_wire_meta_blob_chunk_encoded_length(&m), NULL, NULL) <= 0)
        {
            return work;
        }
        b->offset += n;
        work++;
    }
    if (b->offset >= b->length)
    {
        tp_sbe_wire_meta_blob_complete_t m = { 0 };
        tp_sbe_wire_meta_blob_complete_wrap_and_apply_header(&m, buf, 0, TP_PRODUCER_ENCODE_BUFFER);
        tp_sbe_wire_meta_blob_complete_set_stream_id(&m, p->config.stream_id);
        tp_sbe_wire_meta_blob_complete_set_meta_version(&m, b->meta_version);
        tp_sbe_wire_meta_blob_complete_set_checksum(&m, b->checksum);
        if (tp_publication_offer(p->pub_metadata, buf,
                TP_SBE_MESSAGE_HEADER_LENGTH + tp_sbe_wire_meta_blob_complete_encoded_length(&m), NULL, NULL) > 0)
        {
            free(p->blob);
            p->blob = NULL;
            tp_counter_add(&p->meta_blobs_sent, 1);
            work++;
        }
    }
    return work;
}

void tp_producer_send_data_source(tp_producer_t *p, uint64_t now_ns, bool meta)
{
    uint8_t *buf = p->encode_buffer;
    tp_sbe_wire_data_source_announce_t a = { 0 };
    tp_sbe_wire_data_source_announce_wrap_and_apply_header(&a, buf, 0, TP_PRODUCER_ENCODE_BUFFER);
    tp_sbe_wire_data_source_announce_set_stream_id(&a, p->config.stream_id);
    tp_sbe_wire_data_source_announce_set_producer_id(&a, p->config.producer_id);
    tp_sbe_wire_data_source_announce_set_epoch(&a, p->regions->epoch);
    tp_sbe_wire_data_source_announce_set_meta_version(&a, atomic_load(&p->meta_version));
    tp_sbe_wire_data_source_announce_put_name(&a, p->config.name, (uint32_t)strlen(p->config.name));
    tp_sbe_wire_data_source_announce_put_summary(&a, "", 0);
    tp_producer_offer_control(p, p->pub_metadata, buf, TP_SBE_MESSAGE_HEADER_LENGTH + tp_sbe_wire_data_source_announce_encoded_length(&a));
    if (!meta || NULL == p->meta)
    {
        return;
    }
    tp_sbe_wire_data_source_meta_t m = { 0 };
    tp_sbe_wire_data_source_meta_attributes_t g = { 0 };
    tp_sbe_wire_data_source_meta_wrap_and_apply_header(&m, buf, 0, TP_PRODUCER_ENCODE_BUFFER);
    tp_sbe_wire_data_source_meta_set_stream_id(&m, p->config.stream_id);
    tp_sbe_wire_data_source_meta_set_meta_version(&m, p->meta->meta_version);
    tp_sbe_wire_data_source_meta_set_timestamp_ns(&m, now_ns);
    if (TP_SBE_OK != tp_sbe_wire_data_source_meta_set_attributes_count(&m, &g, (uint16_t)p->meta->count))
    {
        return;
    }
    for (size_t i = 0; i < p->meta->count; i++)
    {
        if (TP_SBE_OK != tp_sbe_wire_data_source_meta_attributes_next(&g) ||
            TP_SBE_OK != tp_sbe_wire_data_source_meta_attributes_put_key(&g, p->meta->keys[i], (uint32_t)strlen(p->meta->keys[i])) ||
            TP_SBE_OK != tp_sbe_wire_data_source_meta_attributes_put_format(&g, p->meta->formats[i], (uint32_t)strlen(p->meta->formats[i])) ||
            TP_SBE_OK != tp_sbe_wire_data_source_meta_attributes_put_value(&g, p->meta->values[i], p->meta->lengths[i]))
        {
            tp_err_set(TP_ERR_INVALID_ARGUMENT, "metadata does not fit in %u bytes", TP_PRODUCER_ENCODE_BUFFER);
            tp_client_report_error(p->client, "DataSourceMeta");
            return;
        }
    }
    tp_producer_offer_control(p, p->pub_metadata, buf, TP_SBE_MESSAGE_HEADER_LENGTH + tp_sbe_wire_data_source_meta_encoded_length(&m));
}
