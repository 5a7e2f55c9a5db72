/*
 * Consumer (wire spec §10.1, §10.2, §10.4.1, §11, §15.1–15.4, §15.12,
 * §15.18, §15.21). Runs entirely in the conductor duty cycle.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/tp_client_internal.h"
#include "common/tp_clock.h"
#include "common/tp_error.h"
#include "common/tp_log.h"
#include "shm/tp_shm_lib.h"
#include "tp_sbe/wire.h"


#define TP_CONSUMER_MAX_POOLS 16
#define TP_CONSUMER_MAX_IMAGES 32
#define TP_FALLBACK_URI_MAX 1024

typedef struct tp_consumer_image_stct
{
    int32_t session_id;
    uint64_t join_time_ns;
} tp_consumer_image_t;

typedef struct tp_consumer_attr_stct
{
    char *key;
    char *format;
    uint8_t *value;
    uint32_t length;
} tp_consumer_attr_t;

/* Private part of a frame handed to the callback. */
typedef struct tp_frame_internal_stct
{
    tp_shm_frame_view_t view;
} tp_frame_internal_t;

/* Shortest switch window (previous descriptor stream kept open at most this long, or a freshness window). */
#define TP_CONSUMER_SWITCH_MIN_NS (1000000000ULL)

struct tp_consumer_stct
{
    tp_client_t *client;
    tp_consumer_config_t config;
    uint32_t consumer_id;
    bool active;
    tp_pending_adds_t pending;

    tp_subscription_t *sub_announce;
    tp_subscription_t *sub_control; /* NULL when control == announce */
    tp_subscription_t *sub_descriptor;
    tp_subscription_t *sub_metadata;
    tp_publication_t *pub_control;
    tp_publication_t *pub_qos;
    uint64_t subscribed_ns;

    tp_consumer_image_t images[TP_CONSUMER_MAX_IMAGES];
    size_t image_count;

    /* mapping (M0/M1) */
    tp_shm_region_t *ring;
    tp_shm_region_t *pools[TP_CONSUMER_MAX_POOLS];
    size_t pool_count;
    uint64_t epoch;
    uint32_t nslots;
    uint64_t last_announce_ns; /* local monotonic receipt time of the last accepted announce */
    uint64_t last_seq;
    bool have_last_seq;
    uint64_t next_allowed_ns; /* RATE_LIMITED */
    uint64_t resync_until;    /* §15.4: descriptors below this seq are skipped after a resync */

    uint64_t next_hello_ns;
    uint64_t next_qos_ns;

    bool use_shm;
    char fallback_uri[TP_FALLBACK_URI_MAX];

    uint32_t meta_version;
    tp_consumer_attr_t *attrs;
    size_t attr_count;

    tp_frame_internal_t frame_internal;

    /* meta blob reassembly (§10.3.3) */
    uint8_t *blob;
    uint64_t blob_len;
    uint64_t blob_received;
    uint32_t blob_version;
    uint32_t blob_type;
    uint64_t blob_checksum;
    _Atomic uint64_t meta_blobs_received, meta_blobs_discarded;

    /* per-consumer descriptor stream */
    tp_async_add_subscription_t *pc_async;
    char pc_channel[TP_CONSUMER_CHANNEL_MAX];
    int32_t pc_stream_id;
    bool pc_active;
    _Atomic uint32_t a_descriptor_stream_id;
    /*
     * Switch window: the previous descriptor subscription stays open and is drained (polled first) until it is
     * empty after the new stream delivered something (or a deadline); meanwhile, and until the new stream passes
     * last_seq, a descriptor at or below last_seq is a duplicate from the other stream, not a regression.
     */
    tp_subscription_t *sub_descriptor_prev;
    uint64_t switch_deadline_ns;
    bool switch_dedup;
    bool switch_new_seen;
    bool desc_from_prev;
    /* per-consumer control stream (FrameProgress only) */
    tp_async_add_subscription_t *pcc_async;
    tp_subscription_t *sub_pc_control;
    char pcc_channel[TP_CONSUMER_CHANNEL_MAX];
    int32_t pcc_stream_id;
    _Atomic uint32_t a_progress_stream_id;

    _Atomic uint64_t frames, bytes, drops_gap, drops_late, drops_rate_limited, descriptors, descriptors_unmapped,
        descriptors_wrong_epoch, descriptors_duplicate, announces_accepted, remaps, unmaps, resyncs, hellos_sent, qos_sent, configs_received,
        metadata_updates, a_epoch, a_last_seq, progress_received, progress_dropped;
    uint64_t progress_seq;
    uint64_t progress_bytes;
    bool progress_valid;
    _Atomic uint64_t drops[TP_DROP_REASON_COUNT];
    _Atomic uint64_t announces_rejected[TP_ANNOUNCE_REJECT_COUNT];
    atomic_bool mapped;
    atomic_bool a_use_shm;
};


void tp_consumer_config_init(tp_consumer_config_t *config)
{
    if (NULL == config)
    {
        return;
    }
    memset(config, 0, sizeof(*config));
    config->stream_id = 10000;
    config->mode = TP_CONSUMER_MODE_STREAM;
    config->max_outstanding_seq_gap = 256;
    config->fragment_limit = 64;
    config->use_metadata = true;
    config->max_meta_blob_bytes = TP_META_BLOB_MAX_BYTES;
}

const char *tp_announce_reject_name(int reason)
{
    static const char *names[TP_ANNOUNCE_REJECT_COUNT] = { "TP_ANNOUNCE_REJECT_DECODE",
        "TP_ANNOUNCE_REJECT_CLOCK_DOMAIN", "TP_ANNOUNCE_REJECT_STALE", "TP_ANNOUNCE_REJECT_BEFORE_JOIN",
        "TP_ANNOUNCE_REJECT_OLD_EPOCH", "TP_ANNOUNCE_REJECT_LAYOUT_VERSION", "TP_ANNOUNCE_REJECT_SLOT_BYTES",
        "TP_ANNOUNCE_REJECT_NSLOTS", "TP_ANNOUNCE_REJECT_STRIDE", "TP_ANNOUNCE_REJECT_NO_POOLS",
        "TP_ANNOUNCE_REJECT_URI", "TP_ANNOUNCE_REJECT_PATH", "TP_ANNOUNCE_REJECT_SUPERBLOCK",
        "TP_ANNOUNCE_REJECT_MAP" };
    return (reason >= 0 && reason < TP_ANNOUNCE_REJECT_COUNT) ? names[reason] : "UNKNOWN";
}

/* ------------------------------------------------------------------------- */
/* Frame views                                                                */
/* ------------------------------------------------------------------------- */

bool tp_frame_is_valid(const tp_frame_t *frame)
{
    if (NULL == frame || NULL == frame->internal)
    {
        return false;
    }
    const tp_frame_internal_t *fi = frame->internal;
    return TP_DROP_NONE == tp_shm_frame_end(&fi->view);
}

int tp_frame_copy(const tp_frame_t *frame, void *dst, size_t dst_len)
{
    if (NULL == frame || NULL == frame->internal || (NULL == dst && frame->length > 0))
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_frame_copy: NULL argument");
    }
    if (dst_len < frame->length)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_frame_copy: destination has %zu bytes, the frame %zu", dst_len,
            frame->length);
    }
    if (frame->length > 0)
    {
        memcpy(dst, frame->payload, frame->length);
    }
    if (!tp_frame_is_valid(frame))
    {
        return tp_err_set(TP_ERR_WOULD_BLOCK, "frame seq %llu was overwritten during the copy; discard it",
            (unsigned long long)frame->seq);
    }
    return 0;
}

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

static uint32_t random_id(void)
{
    uint32_t v = 0;
    FILE *f = fopen("/dev/urandom", "rb");
    if (NULL != f)
    {
        if (1 != fread(&v, sizeof(v), 1, f))
        {
            v = 0;
        }
        fclose(f);
    }
    if (0 == v)
    {
        v = (uint32_t)(tp_clock_mono_ns() ^ ((uint64_t)getpid() << 16));
    }
    return v ? v : 1;
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
    c->consumer_id = config->consumer_id ? config->consumer_id : random_id();
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

int tp_consumer_poll_ready(tp_consumer_t *c)
{
    int rc = tp_pending_adds_poll(&c->pending);
    if (1 == rc)
    {
        c->active = true;
    }
    return rc;
}

static void unmap(tp_consumer_t *c)
{
    if (NULL == c->ring)
    {
        return;
    }
    tp_shm_region_close(c->ring);
    c->ring = NULL;
    for (size_t i = 0; i < c->pool_count; i++)
    {
        tp_shm_region_close(c->pools[i]);
        c->pools[i] = NULL;
    }
    c->pool_count = 0;
    c->have_last_seq = false;
    c->resync_until = 0;
    c->epoch = 0;
    atomic_store(&c->a_epoch, 0);
    atomic_store(&c->a_last_seq, 0);
    atomic_store(&c->mapped, false);
}

static void free_attrs(tp_consumer_t *c)
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

void tp_consumer_destroy(tp_consumer_t *c)
{
    if (NULL == c)
    {
        return;
    }
    unmap(c);
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
    free_attrs(c);
    free(c->blob);
    free(c);
}

int tp_consumer_close(tp_consumer_t *consumer)
{
    if (NULL == consumer)
    {
        return 0;
    }
    tp_client_cmd_t *cmd = calloc(1, sizeof(*cmd));
    if (NULL == cmd)
    {
        return tp_err_set(TP_ERR_NO_MEMORY, "tp_consumer_close: out of memory");
    }
    cmd->type = TP_CMD_CLOSE_CONSUMER;
    cmd->target = consumer;
    return tp_client_submit_and_wait(consumer->client, cmd);
}

/* ------------------------------------------------------------------------- */
/* Announces                                                                  */
/* ------------------------------------------------------------------------- */

static void reject(tp_consumer_t *c, tp_announce_reject_t reason)
{
    tp_counter_add(&c->announces_rejected[reason], 1);
    TP_LOG_DEBUG("consumer", "stream %u: announce rejected: %s (%s)", c->config.stream_id,
        tp_announce_reject_name(reason), tp_errmsg());
}

static uint64_t join_time(const tp_consumer_t *c, int32_t session_id)
{
    for (size_t i = 0; i < c->image_count; i++)
    {
        if (c->images[i].session_id == session_id)
        {
            return c->images[i].join_time_ns;
        }
    }
    /* image not reported yet: the subscription's creation time is a lower bound of its join time */
    return c->subscribed_ns;
}

static tp_announce_reject_t map_error_reason(void)
{
    switch (tp_errcode())
    {
        case TP_ERR_PERMISSION:
        case TP_ERR_NOT_FOUND:
            return TP_ANNOUNCE_REJECT_PATH;
        case TP_ERR_VALIDATION:
            return TP_ANNOUNCE_REJECT_SUPERBLOCK;
        case TP_ERR_MALFORMED:
        case TP_ERR_UNSUPPORTED:
            return TP_ANNOUNCE_REJECT_URI;
        default:
            return TP_ANNOUNCE_REJECT_MAP;
    }
}

/* Map one region from its announced URI. Returns 0 or a reject reason + 1. */
static int map_region(tp_consumer_t *c, tp_shm_region_t **out, const char *uri, uint32_t uri_len,
    const tp_shm_region_params_t *expected)
{
    char buf[TP_REGION_URI_MAX];
    tp_shm_uri_t parsed;
    if (uri_len >= sizeof(buf))
    {
        tp_err_set(TP_ERR_MALFORMED, "region URI too long (%u bytes)", uri_len);
        return TP_ANNOUNCE_REJECT_URI + 1;
    }
    memcpy(buf, uri, uri_len);
    buf[uri_len] = '\0';
    if (tp_shm_uri_parse(buf, &parsed) < 0)
    {
        return TP_ANNOUNCE_REJECT_URI + 1;
    }
    if (tp_shm_region_map(out, c->client->allowlist, parsed.path, expected, parsed.require_hugepages) < 0)
    {
        return (int)map_error_reason() + 1;
    }
    return 0;
}

/*
 * The announced header ring path must still be the file we mapped (recreation
 * detection, §15.14): false only when the path now names a different file. A
 * missing path (the producer is shutting down and removed it) keeps the
 * mapping; the staleness check retires it.
 */
static bool same_file(const tp_consumer_t *c, const char *uri, uint32_t uri_len)
{
    char buf[TP_REGION_URI_MAX];
    tp_shm_uri_t parsed;
    if (uri_len >= sizeof(buf))
    {
        return false;
    }
    memcpy(buf, uri, uri_len);
    buf[uri_len] = '\0';
    if (0 != tp_shm_uri_parse(buf, &parsed))
    {
        return false;
    }
    return 0 != tp_shm_region_same_file(c->ring, parsed.path); /* -1: the path is gone, keep the mapping */
}

static bool live_superblock_ok(const tp_consumer_t *c)
{
    tp_shm_superblock_t sb;
    if (tp_shm_superblock_decode(tp_shm_region_base(c->ring), 64, &sb) < 0)
    {
        return false;
    }
    return TP_SHM_MAGIC == sb.magic && sb.epoch == c->epoch && TP_SHM_LAYOUT_VERSION == sb.layout_version;
}

/* Same epoch: is the announced header ring still the file we mapped? (walks a copy of the decoder) */
static bool announced_ring_is_mapped(const tp_consumer_t *c, const tp_sbe_wire_shm_pool_announce_t *msg)
{
    tp_sbe_wire_shm_pool_announce_t m = *msg;
    tp_sbe_wire_shm_pool_announce_payload_pools_t g = { 0 };
    if (TP_SBE_OK != tp_sbe_wire_shm_pool_announce_get_payload_pools(&m, &g))
    {
        return false;
    }
    while (tp_sbe_wire_shm_pool_announce_payload_pools_has_next(&g))
    {
        if (TP_SBE_OK != tp_sbe_wire_shm_pool_announce_payload_pools_next(&g) ||
            TP_SBE_OK != tp_sbe_wire_shm_pool_announce_payload_pools_get_region_uri(&g, NULL, NULL))
        {
            return false;
        }
    }
    const char *uri = NULL;
    uint32_t len = 0;
    return TP_SBE_OK == tp_sbe_wire_shm_pool_announce_get_header_region_uri(&m, &uri, &len) && same_file(c, uri, len);
}

static void handle_announce(tp_consumer_t *c, const uint8_t *buffer, size_t length, const tp_header_t *header)
{
    tp_sbe_wire_shm_pool_announce_t m = { 0 };
    tp_sbe_wire_shm_pool_announce_payload_pools_t g = { 0 };
    if (TP_SBE_OK != tp_sbe_wire_shm_pool_announce_wrap_for_decode_with_header(&m, buffer, 0, length))
    {
        tp_err_set(TP_ERR_MALFORMED, "announce does not decode");
        reject(c, TP_ANNOUNCE_REJECT_DECODE);
        return;
    }
    if (tp_sbe_wire_shm_pool_announce_stream_id(&m) != c->config.stream_id)
    {
        return; /* another data source on the shared control stream */
    }
    /* Work on a copy that outlives nothing: decode every field first, bounds-checked. */
    uint64_t epoch = tp_sbe_wire_shm_pool_announce_epoch(&m);
    uint64_t ts = tp_sbe_wire_shm_pool_announce_announce_timestamp_ns(&m);
    int domain = (int)tp_sbe_wire_shm_pool_announce_announce_clock_domain(&m);
    uint32_t layout = tp_sbe_wire_shm_pool_announce_layout_version(&m);
    uint32_t nslots = tp_sbe_wire_shm_pool_announce_header_nslots(&m);
    uint32_t slot_bytes = tp_sbe_wire_shm_pool_announce_header_slot_bytes(&m);
    uint64_t now_mono = tp_clock_mono_ns();
    uint64_t window = tp_context_freshness_ns(&c->client->ctx);

    uint64_t now_domain;
    if (TP_SBE_WIRE_CLOCK_DOMAIN_MONOTONIC == domain)
    {
        now_domain = now_mono;
    }
    else if (TP_SBE_WIRE_CLOCK_DOMAIN_REALTIME_SYNCED == domain)
    {
        now_domain = tp_clock_realtime_ns(); /* no join-time rule for REALTIME_SYNCED (§10.1.1) */
    }
    else
    {
        tp_err_set(TP_ERR_VALIDATION, "unknown clock domain %d", domain);
        reject(c, TP_ANNOUNCE_REJECT_CLOCK_DOMAIN);
        return;
    }
    if ((now_domain > ts && now_domain - ts > window) || (ts > now_domain && ts - now_domain > window))
    {
        tp_err_set(TP_ERR_VALIDATION, "announce older than the freshness window");
        reject(c, TP_ANNOUNCE_REJECT_STALE);
        return;
    }
    if (TP_SBE_WIRE_CLOCK_DOMAIN_MONOTONIC == domain && ts < join_time(c, header->session_id))
    {
        tp_err_set(TP_ERR_VALIDATION, "announce timestamp precedes the join time (replayed)");
        reject(c, TP_ANNOUNCE_REJECT_BEFORE_JOIN);
        return;
    }
    if (NULL != c->ring)
    {
        if (epoch == c->epoch)
        {
            if (!live_superblock_ok(c) || !announced_ring_is_mapped(c, &m))
            {
                TP_LOG_INFO("consumer", "stream %u: epoch %llu regions were recreated; remapping", c->config.stream_id,
                    (unsigned long long)epoch);
                /* recreated under the same epoch, or overwritten: fail closed and remap below */
                unmap(c);
                tp_counter_add(&c->unmaps, 1);
            }
            else
            {
                c->last_announce_ns = now_mono;
                tp_counter_add(&c->announces_accepted, 1);
                return;
            }
        }
        else if (epoch < c->epoch && now_mono - c->last_announce_ns <= window)
        {
            tp_err_set(TP_ERR_VALIDATION, "epoch %llu lower than mapped epoch %llu", (unsigned long long)epoch,
                (unsigned long long)c->epoch);
            reject(c, TP_ANNOUNCE_REJECT_OLD_EPOCH);
            return;
        }
    }
    if (TP_SHM_LAYOUT_VERSION != layout)
    {
        tp_err_set(TP_ERR_VALIDATION, "layout_version %u", layout);
        reject(c, TP_ANNOUNCE_REJECT_LAYOUT_VERSION);
        return;
    }
    if (TP_SHM_HEADER_SLOT_BYTES != slot_bytes)
    {
        tp_err_set(TP_ERR_VALIDATION, "header_slot_bytes %u", slot_bytes);
        reject(c, TP_ANNOUNCE_REJECT_SLOT_BYTES);
        return;
    }
    if (0 == nslots || (nslots & (nslots - 1)) != 0)
    {
        tp_err_set(TP_ERR_VALIDATION, "header_nslots %u not a power of two", nslots);
        reject(c, TP_ANNOUNCE_REJECT_NSLOTS);
        return;
    }
    if (TP_SBE_OK != tp_sbe_wire_shm_pool_announce_get_payload_pools(&m, &g))
    {
        tp_err_set(TP_ERR_MALFORMED, "payload pools group");
        reject(c, TP_ANNOUNCE_REJECT_DECODE);
        return;
    }
    size_t count = (size_t)tp_sbe_wire_shm_pool_announce_payload_pools_count(&g);
    if (0 == count || count > TP_CONSUMER_MAX_POOLS)
    {
        tp_err_set(TP_ERR_VALIDATION, "%zu payload pools", count);
        reject(c, TP_ANNOUNCE_REJECT_NO_POOLS);
        return;
    }
    struct
    {
        uint16_t id;
        uint32_t nslots;
        uint32_t stride;
        const char *uri;
        uint32_t uri_len;
    } pools[TP_CONSUMER_MAX_POOLS];
    for (size_t i = 0; i < count; i++)
    {
        if (TP_SBE_OK != tp_sbe_wire_shm_pool_announce_payload_pools_next(&g) ||
            TP_SBE_OK != tp_sbe_wire_shm_pool_announce_payload_pools_get_region_uri(&g, &pools[i].uri, &pools[i].uri_len))
        {
            tp_err_set(TP_ERR_MALFORMED, "payload pool %zu", i);
            reject(c, TP_ANNOUNCE_REJECT_DECODE);
            return;
        }
        pools[i].id = tp_sbe_wire_shm_pool_announce_payload_pools_pool_id(&g);
        pools[i].nslots = tp_sbe_wire_shm_pool_announce_payload_pools_pool_nslots(&g);
        pools[i].stride = tp_sbe_wire_shm_pool_announce_payload_pools_stride_bytes(&g);
    }
    const char *header_uri = NULL;
    uint32_t header_uri_len = 0;
    if (TP_SBE_OK != tp_sbe_wire_shm_pool_announce_get_header_region_uri(&m, &header_uri, &header_uri_len))
    {
        tp_err_set(TP_ERR_MALFORMED, "header region URI");
        reject(c, TP_ANNOUNCE_REJECT_DECODE);
        return;
    }
    for (size_t i = 0; i < count; i++)
    {
        if (pools[i].nslots != nslots)
        {
            tp_err_set(TP_ERR_VALIDATION, "pool %u nslots %u != header nslots %u (§15.5)", pools[i].id,
                pools[i].nslots, nslots);
            reject(c, TP_ANNOUNCE_REJECT_NSLOTS);
            return;
        }
        if (0 == pools[i].stride || pools[i].stride % 64 != 0)
        {
            tp_err_set(TP_ERR_VALIDATION, "pool %u stride %u not a multiple of 64", pools[i].id, pools[i].stride);
            reject(c, TP_ANNOUNCE_REJECT_STRIDE);
            return;
        }
        for (size_t j = 0; j < i; j++)
        {
            if (pools[j].id == pools[i].id)
            {
                tp_err_set(TP_ERR_VALIDATION, "duplicate pool id %u", pools[i].id);
                reject(c, TP_ANNOUNCE_REJECT_NO_POOLS);
                return;
            }
        }
    }
    /* Map everything into locals first: fail closed, keep the old mapping until the new one is complete. */
    tp_shm_region_t *ring = NULL;
    tp_shm_region_t *mapped[TP_CONSUMER_MAX_POOLS] = { 0 };
    tp_shm_region_params_t params = { .region_type = TP_SHM_REGION_HEADER_RING, .layout_version = layout,
        .epoch = epoch, .stream_id = c->config.stream_id, .pool_id = 0, .nslots = nslots, .stride_bytes = 0 };
    int rc = map_region(c, &ring, header_uri, header_uri_len, &params);
    for (size_t i = 0; 0 == rc && i < count; i++)
    {
        params.region_type = TP_SHM_REGION_PAYLOAD_POOL;
        params.pool_id = pools[i].id;
        params.stride_bytes = pools[i].stride;
        rc = map_region(c, &mapped[i], pools[i].uri, pools[i].uri_len, &params);
        if (0 == rc && tp_shm_pool_check_ring(ring, mapped[i]) < 0)
        {
            rc = TP_ANNOUNCE_REJECT_SUPERBLOCK + 1;
        }
    }
    if (0 != rc)
    {
        reject(c, (tp_announce_reject_t)(rc - 1));
        tp_shm_region_close(ring);
        for (size_t i = 0; i < count; i++)
        {
            tp_shm_region_close(mapped[i]);
        }
        return;
    }
    if (NULL != c->ring)
    {
        unmap(c); /* epoch change: in-flight frames of the old epoch are dropped (§15.21) */
        tp_counter_add(&c->unmaps, 1);
    }
    c->ring = ring;
    for (size_t i = 0; i < count; i++)
    {
        c->pools[i] = mapped[i];
    }
    c->pool_count = count;
    c->epoch = epoch;
    c->nslots = nslots;
    c->have_last_seq = false;
    c->last_announce_ns = now_mono;
    atomic_store(&c->a_epoch, epoch);
    atomic_store(&c->mapped, true);
    tp_counter_add(&c->announces_accepted, 1);
    tp_counter_add(&c->remaps, 1);
    TP_LOG_INFO("consumer", "stream %u: mapped epoch %llu (%u slots, %zu pools)", c->config.stream_id,
        (unsigned long long)epoch, nslots, count);
}

static void handle_config(tp_consumer_t *c, const uint8_t *buffer, size_t length)
{
    tp_sbe_wire_consumer_config_t m = { 0 };
    if (TP_SBE_OK != tp_sbe_wire_consumer_config_wrap_for_decode_with_header(&m, buffer, 0, length) ||
        tp_sbe_wire_consumer_config_stream_id(&m) != c->config.stream_id ||
        tp_sbe_wire_consumer_config_consumer_id(&m) != c->consumer_id)
    {
        return;
    }
    const char *uri = NULL;
    uint32_t uri_len = 0;
    if (TP_SBE_OK != tp_sbe_wire_consumer_config_get_payload_fallback_uri(&m, &uri, &uri_len))
    {
        return;
    }
    tp_counter_add(&c->configs_received, 1);
    int mode = (int)tp_sbe_wire_consumer_config_mode(&m);
    if (TP_CONSUMER_MODE_STREAM == mode || TP_CONSUMER_MODE_RATE_LIMITED == mode)
    {
        c->config.mode = (tp_consumer_mode_t)mode;
    }
    c->use_shm = TP_SBE_WIRE_BOOL_FALSE != tp_sbe_wire_consumer_config_use_shm(&m);
    atomic_store(&c->a_use_shm, c->use_shm);
    if (!c->use_shm)
    {
        /* FALLBACK (§15.12): only aeron: URIs and bridge:// are known schemes; others are unsupported */
        size_t n = uri_len < sizeof(c->fallback_uri) - 1 ? uri_len : 0;
        memcpy(c->fallback_uri, uri, n);
        c->fallback_uri[n] = '\0';
        if (n > 0 && 0 != strncmp(c->fallback_uri, "aeron:", 6) && 0 != strncmp(c->fallback_uri, "bridge://", 9))
        {
            tp_err_set(TP_ERR_UNSUPPORTED, "payload fallback URI scheme not supported: %s", c->fallback_uri);
            tp_client_report_error(c->client, "ConsumerConfig");
            c->fallback_uri[0] = '\0';
        }
        unmap(c);
    }
    /* Assigned per-consumer control stream (§5): FrameProgress comes from there from now on. */
    const char *dch = NULL;
    uint32_t dlen = 0;
    uint32_t csid = tp_sbe_wire_consumer_config_control_stream_id(&m);
    tp_sbe_wire_consumer_config_t m2 = m; /* var-data must be read in order: descriptor channel first */
    const char *cch = NULL;
    uint32_t clen = 0;
    if (TP_SBE_OK == tp_sbe_wire_consumer_config_get_descriptor_channel(&m2, &dch, &dlen) &&
        TP_SBE_OK == tp_sbe_wire_consumer_config_get_control_channel(&m2, &cch, &clen) && clen > 0 && csid != 0 &&
        csid <= INT32_MAX && clen < TP_CONSUMER_CHANNEL_MAX && 0 != c->config.control_stream_id &&
        NULL == c->pcc_async)
    {
        char channel[TP_CONSUMER_CHANNEL_MAX];
        memcpy(channel, cch, clen);
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
    uint32_t dsid = tp_sbe_wire_consumer_config_descriptor_stream_id(&m);
    if (TP_SBE_OK != tp_sbe_wire_consumer_config_get_descriptor_channel(&m, &dch, &dlen) || 0 == dlen || 0 == dsid ||
        dsid > INT32_MAX || dlen >= TP_CONSUMER_CHANNEL_MAX || 0 == c->config.descriptor_stream_id)
    {
        return; /* declined (or not requested): stay on the shared stream */
    }
    char channel[TP_CONSUMER_CHANNEL_MAX];
    memcpy(channel, dch, dlen);
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

static void on_descriptor(void *clientd, const uint8_t *buffer, size_t length, const tp_header_t *header);

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
        int rc = tp_subscription_poll(c->sub_descriptor_prev, on_descriptor, c, c->config.fragment_limit);
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
static int poll_previous_descriptor_stream(tp_consumer_t *c, uint64_t now_ns, bool *backlog)
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
static int poll_descriptor_switch(tp_consumer_t *c)
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

/* FrameProgress validation (§10.2.2): mapped epoch, monotonic within a frame, within the largest stride. */
static void handle_progress(tp_consumer_t *c, const uint8_t *buffer, size_t length)
{
    tp_sbe_wire_frame_progress_t m = { 0 };
    if (!c->config.supports_progress ||
        TP_SBE_OK != tp_sbe_wire_frame_progress_wrap_for_decode_with_header(&m, buffer, 0, length) ||
        tp_sbe_wire_frame_progress_stream_id(&m) != c->config.stream_id)
    {
        return;
    }
    uint64_t epoch = tp_sbe_wire_frame_progress_epoch(&m);
    uint64_t seq = tp_sbe_wire_frame_progress_seq(&m);
    uint64_t filled = tp_sbe_wire_frame_progress_payload_bytes_filled(&m);
    int state = (int)tp_sbe_wire_frame_progress_state(&m);
    uint64_t max_stride = 0;
    for (size_t i = 0; i < c->pool_count; i++)
    {
        uint64_t st = tp_shm_region_superblock(c->pools[i])->stride_bytes;
        max_stride = st > max_stride ? st : max_stride;
    }
    bool regress = c->progress_valid && c->progress_seq == seq && filled < c->progress_bytes;
    if (NULL == c->ring || epoch != c->epoch || filled > max_stride || regress || state < 1 || state > 3)
    {
        tp_counter_add(&c->progress_dropped, 1);
        return;
    }
    c->progress_valid = true;
    c->progress_seq = seq;
    c->progress_bytes = filled;
    tp_counter_add(&c->progress_received, 1);
    if (NULL != c->config.on_progress)
    {
        c->config.on_progress(c->config.clientd, epoch, seq, filled, state);
    }
}

/* Per-consumer control stream: only FrameProgress is expected there (§5). */
static void on_pc_control(void *clientd, const uint8_t *buffer, size_t length, const tp_header_t *header)
{
    (void)header;
    tp_consumer_t *c = clientd;
    tp_sbe_header_t h = { 0 };
    if (tp_sbe_peek_header(buffer, length, &h) == 0 && h.schema_id == TP_SBE_WIRE_SCHEMA_ID &&
        TP_SBE_WIRE_FRAME_PROGRESS_TEMPLATE_ID == h.template_id)
    {
        handle_progress(c, buffer, length);
    }
}

static void on_announce_stream(void *clientd, const uint8_t *buffer, size_t length, const tp_header_t *header)
{
    tp_consumer_t *c = clientd;
    tp_sbe_header_t h;
    if (tp_sbe_peek_header(buffer, length, &h) < 0 || h.schema_id != TP_SBE_WIRE_SCHEMA_ID)
    {
        return;
    }
    if (TP_SBE_WIRE_SHM_POOL_ANNOUNCE_TEMPLATE_ID == h.template_id)
    {
        if (c->use_shm)
        {
            handle_announce(c, buffer, length, header);
        }
    }
    else if (TP_SBE_WIRE_CONSUMER_CONFIG_TEMPLATE_ID == h.template_id)
    {
        handle_config(c, buffer, length);
    }
    else if (TP_SBE_WIRE_FRAME_PROGRESS_TEMPLATE_ID == h.template_id && NULL == c->sub_pc_control)
    {
        handle_progress(c, buffer, length);
    }
}

/* ------------------------------------------------------------------------- */
/* Descriptors and frames                                                     */
/* ------------------------------------------------------------------------- */

static void on_descriptor(void *clientd, const uint8_t *buffer, size_t length, const tp_header_t *header)
{
    (void)header;
    tp_consumer_t *c = clientd;
    tp_sbe_wire_frame_descriptor_t m = { 0 };
    if (length < TP_SBE_MESSAGE_HEADER_LENGTH ||
        tp_sbe_get_u16(buffer + 2) != TP_SBE_WIRE_FRAME_DESCRIPTOR_TEMPLATE_ID ||
        TP_SBE_OK != tp_sbe_wire_frame_descriptor_wrap_for_decode_with_header(&m, buffer, 0, length) ||
        tp_sbe_wire_frame_descriptor_stream_id(&m) != c->config.stream_id)
    {
        return;
    }
    tp_counter_add(&c->descriptors, 1);
    if (NULL == c->ring)
    {
        tp_counter_add(&c->descriptors_unmapped, 1);
        return;
    }
    uint64_t epoch = tp_sbe_wire_frame_descriptor_epoch(&m);
    if (epoch != c->epoch)
    {
        tp_counter_add(&c->descriptors_wrong_epoch, 1);
        return;
    }
    uint64_t seq = tp_sbe_wire_frame_descriptor_seq(&m);
    if (c->switch_dedup)
    {
        if (!c->desc_from_prev)
        {
            c->switch_new_seen = true;
        }
        if (c->have_last_seq && seq <= c->last_seq)
        {
            /* already seen on the other stream (or the producer's fan-out lags): not a regression */
            tp_counter_add(&c->descriptors_duplicate, 1);
            return;
        }
        if (!c->desc_from_prev && NULL == c->sub_descriptor_prev)
        {
            c->switch_dedup = false; /* the new stream has passed everything seen: the switch is complete */
        }
    }
    if (c->have_last_seq)
    {
        if (seq <= c->last_seq)
        {
            /* seq regression within an epoch: the producer restarted without bumping the epoch (§15.2) */
            tp_counter_add(&c->drops[TP_DROP_SEQ_STALE], 1);
            TP_LOG_INFO("consumer", "stream %u: seq regressed %llu -> %llu in epoch %llu; remapping",
                c->config.stream_id, (unsigned long long)c->last_seq, (unsigned long long)seq,
                (unsigned long long)c->epoch);
            unmap(c);
            tp_counter_add(&c->unmaps, 1);
            return;
        }
        uint64_t gap = seq - c->last_seq - 1;
        if (gap > 0 && c->pc_active && c->config.max_rate_hz > 0)
        {
            tp_counter_add(&c->drops_rate_limited, gap); /* thinned out by the producer at our request */
        }
        else if (gap > 0)
        {
            tp_counter_add(&c->drops_gap, gap);
            if (gap > c->config.max_outstanding_seq_gap)
            {
                tp_counter_add(&c->resyncs, 1);
            }
        }
    }
    c->last_seq = seq;
    c->have_last_seq = true;
    atomic_store_explicit(&c->a_last_seq, seq, memory_order_relaxed);
    /*
     * §15.4 resync: when the producer is already more than max_outstanding_seq_gap
     * frames ahead (the slot of seq + gap holds that frame or a newer one), drop
     * to the newest committed frame instead of working through a stale backlog.
     */
    if (seq < c->resync_until)
    {
        tp_counter_add(&c->drops_gap, 1);
        return;
    }
    uint64_t max_gap = c->config.max_outstanding_seq_gap;
    if (max_gap > 0 && max_gap < c->nslots)
    {
        uint64_t probe = seq + max_gap;
        uint64_t word = tp_shm_slot_seq_commit_load(c->ring, tp_shm_header_index(probe, c->nslots));
        if ((word & 1u) && (word >> 1) >= probe)
        {
            c->resync_until = word >> 1;
            tp_counter_add(&c->resyncs, 1);
            tp_counter_add(&c->drops_gap, 1);
            return;
        }
    }
    uint64_t desc_ts = tp_sbe_wire_frame_descriptor_timestamp_ns(&m);
    if (TP_CONSUMER_MODE_RATE_LIMITED == c->config.mode && c->config.max_rate_hz > 0)
    {
        uint64_t t = desc_ts != TP_NULL_TIMESTAMP ? desc_ts : tp_clock_mono_ns();
        if (t < c->next_allowed_ns)
        {
            tp_counter_add(&c->drops_rate_limited, 1);
            return;
        }
        c->next_allowed_ns = t + UINT64_C(1000000000) / c->config.max_rate_hz;
    }
    tp_shm_frame_view_t *view = &c->frame_internal.view;
    tp_drop_reason_t reason =
        tp_shm_frame_begin(c->ring, (const tp_shm_region_t *const *)c->pools, c->pool_count, seq, view);
    if (TP_DROP_NONE != reason)
    {
        tp_counter_add(&c->drops[reason], 1);
        if (TP_DROP_NOT_COMMITTED == reason || TP_DROP_SEQ_AHEAD == reason || TP_DROP_LATE == reason)
        {
            tp_counter_add(&c->drops_late, 1);
        }
        return;
    }
    tp_frame_t frame;
    frame.stream_id = c->config.stream_id;
    frame.epoch = epoch;
    frame.seq = seq;
    frame.timestamp_ns = view->header.timestamp_ns;
    frame.descriptor_timestamp_ns = desc_ts;
    frame.meta_version = view->header.meta_version;
    uint64_t trace = tp_sbe_wire_frame_descriptor_trace_id(&m);
    frame.trace_id = UINT64_MAX == trace ? 0 : trace; /* ERRATA 1: both 0 and all-ones mean "no trace" */
    frame.pool_id = view->header.pool_id;
    frame.tensor = &view->header.tensor;
    frame.payload = view->payload;
    frame.length = view->header.values_len_bytes;
    frame.internal = &c->frame_internal;
    c->config.on_frame(c->config.clientd, &frame);
    tp_counter_add(&c->frames, 1);
    if (TP_DROP_NONE != tp_shm_frame_end(view))
    {
        tp_counter_add(&c->drops[TP_DROP_LATE], 1);
        tp_counter_add(&c->drops_late, 1);
    }
    else
    {
        tp_counter_add(&c->bytes, frame.length);
    }
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

static void on_metadata(void *clientd, const uint8_t *buffer, size_t length, const tp_header_t *header)
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
    free_attrs(c);
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
    int rc = tp_subscription_poll(c->sub_announce, on_announce_stream, c, 16);
    work += rc > 0 ? rc : 0;
    if (NULL != c->sub_control)
    {
        rc = tp_subscription_poll(c->sub_control, on_announce_stream, c, 16);
        work += rc > 0 ? rc : 0;
    }
    if (NULL != c->sub_metadata)
    {
        rc = tp_subscription_poll(c->sub_metadata, on_metadata, c, 16);
        work += rc > 0 ? rc : 0;
    }
    if (NULL != c->pc_async)
    {
        work += poll_descriptor_switch(c);
    }
    if (NULL != c->pcc_async)
    {
        tp_subscription_t *sub = NULL;
        int prc = tp_transport_async_add_subscription_poll(&sub, c->pcc_async);
        if (0 != prc)
        {
            c->pcc_async = NULL;
            work++;
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
        }
    }
    if (NULL != c->sub_pc_control)
    {
        rc = tp_subscription_poll(c->sub_pc_control, on_pc_control, c, 64);
        work += rc > 0 ? rc : 0;
    }
    bool backlog = false;
    if (NULL != c->sub_descriptor_prev)
    {
        work += poll_previous_descriptor_stream(c, now_ns, &backlog);
    }
    if (!backlog)
    {
        rc = tp_subscription_poll(c->sub_descriptor, on_descriptor, c, c->config.fragment_limit);
        work += rc > 0 ? rc : 0;
    }
    /* a producer that stopped announcing and refreshing its activity timestamp is dead (§15.14) */
    uint64_t window = tp_context_freshness_ns(ctx);
    if (NULL != c->ring && now_ns > c->last_announce_ns && now_ns - c->last_announce_ns > window)
    {
        uint64_t activity = tp_shm_region_activity_ns(c->ring);
        uint64_t real = tp_clock_realtime_ns();
        if (real > activity && real - activity > window)
        {
            TP_LOG_INFO("consumer", "stream %u: producer of epoch %llu is stale; unmapping", c->config.stream_id,
                (unsigned long long)c->epoch);
            unmap(c);
            tp_counter_add(&c->unmaps, 1);
            work++;
        }
    }
    return work;
}

/* ------------------------------------------------------------------------- */
/* Accessors                                                                  */
/* ------------------------------------------------------------------------- */

int tp_consumer_stats(const tp_consumer_t *consumer, tp_consumer_stats_t *s)
{
    if (NULL == consumer || NULL == s)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_consumer_stats: NULL argument");
    }
    tp_consumer_t *c = (tp_consumer_t *)consumer;
    memset(s, 0, sizeof(*s));
    s->frames = tp_counter_get(&c->frames);
    s->bytes = tp_counter_get(&c->bytes);
    s->drops_gap = tp_counter_get(&c->drops_gap);
    s->drops_late = tp_counter_get(&c->drops_late);
    for (int i = 0; i < TP_DROP_REASON_COUNT; i++)
    {
        s->drops[i] = tp_counter_get(&c->drops[i]);
    }
    for (int i = 0; i < TP_ANNOUNCE_REJECT_COUNT; i++)
    {
        s->announces_rejected[i] = tp_counter_get(&c->announces_rejected[i]);
    }
    s->drops_rate_limited = tp_counter_get(&c->drops_rate_limited);
    s->descriptors = tp_counter_get(&c->descriptors);
    s->descriptors_unmapped = tp_counter_get(&c->descriptors_unmapped);
    s->descriptors_wrong_epoch = tp_counter_get(&c->descriptors_wrong_epoch);
    s->descriptors_duplicate = tp_counter_get(&c->descriptors_duplicate);
    s->announces_accepted = tp_counter_get(&c->announces_accepted);
    s->remaps = tp_counter_get(&c->remaps);
    s->unmaps = tp_counter_get(&c->unmaps);
    s->resyncs = tp_counter_get(&c->resyncs);
    s->hellos_sent = tp_counter_get(&c->hellos_sent);
    s->qos_sent = tp_counter_get(&c->qos_sent);
    s->configs_received = tp_counter_get(&c->configs_received);
    s->metadata_updates = tp_counter_get(&c->metadata_updates);
    s->progress_received = tp_counter_get(&c->progress_received);
    s->meta_blobs_received = tp_counter_get(&c->meta_blobs_received);
    s->meta_blobs_discarded = tp_counter_get(&c->meta_blobs_discarded);
    s->progress_dropped = tp_counter_get(&c->progress_dropped);
    s->epoch = tp_counter_get(&c->a_epoch);
    s->last_seq = tp_counter_get(&c->a_last_seq);
    s->mapped = atomic_load(&c->mapped);
    s->descriptor_stream_id = atomic_load(&c->a_descriptor_stream_id);
    s->progress_stream_id = atomic_load(&c->a_progress_stream_id);
    s->use_shm = atomic_load(&c->a_use_shm);
    return 0;
}

uint32_t tp_consumer_id(const tp_consumer_t *consumer)
{
    return consumer ? consumer->consumer_id : 0;
}

bool tp_consumer_is_mapped(const tp_consumer_t *consumer)
{
    return consumer && atomic_load(&((tp_consumer_t *)consumer)->mapped);
}

int tp_consumer_fallback_uri(const tp_consumer_t *consumer, char *buf, size_t len)
{
    if (NULL == consumer || NULL == buf)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_consumer_fallback_uri: NULL argument");
    }
    size_t n = strlen(consumer->fallback_uri);
    if (n + 1 > len)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "fallback URI needs %zu bytes", n + 1);
    }
    memcpy(buf, consumer->fallback_uri, n + 1);
    return (int)n;
}
