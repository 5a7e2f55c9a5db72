/*
 * Consumer mapping (wire spec §10.1.1, §15.1, §15.2, §15.21), on the
 * conductor thread: ShmPoolAnnounce validation (clock domain, freshness,
 * join time, epoch, layout), mapping the announced regions through the
 * client's allow-list, remapping on a new epoch, unmapping.
 */
#include <stdio.h>
#include <string.h>

#include "client/tp_consumer_internal.h"
#include "common/tp_clock.h"
#include "common/tp_error.h"
#include "common/tp_log.h"
#include "shm/tp_shm_lib.h"

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

void tp_consumer_unmap(tp_consumer_t *c)
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

/* ------------------------------------------------------------------------- */
/* Announces                                                                  */
/* ------------------------------------------------------------------------- */

static void reject(tp_consumer_t *c, tp_announce_reject_t reason)
{
    tp_counter_add(&c->announces_rejected[reason], 1);
    tp_consumer_log_reject(c, reason);
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

void tp_consumer_handle_announce(tp_consumer_t *c, const uint8_t *buffer, size_t length, const tp_header_t *header)
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
    if (tp_consumer_other_producer(c, tp_sbe_wire_shm_pool_announce_producer_id(&m), header->session_id,
        tp_sbe_wire_shm_pool_announce_epoch(&m)))
    {
        return;
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
                tp_consumer_unmap(c);
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
        tp_consumer_unmap(c); /* epoch change: in-flight frames of the old epoch are dropped (§15.21) */
        tp_counter_add(&c->unmaps, 1);
    }
    c->ring = ring;
    for (size_t i = 0; i < count; i++)
    {
        c->pools[i] = mapped[i];
    }
    c->pool_count = count;
    c->epoch = epoch;
    c->mapped_producer_id = tp_sbe_wire_shm_pool_announce_producer_id(&m);
    c->mapped_session_id = header->session_id;
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
