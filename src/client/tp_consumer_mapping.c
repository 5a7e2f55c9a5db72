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
#include "protocol/tp_proto.h"
#include "shm/tp_shm_geometry.h"
#include "shm/tp_shm_lib.h"

_Static_assert(TP_CONSUMER_MAX_POOLS == TP_PROTO_MAX_POOLS && TP_CONSUMER_MAX_POOLS == TP_SHM_GEOMETRY_MAX_POOLS,
    "an announce that decodes fits the consumer's pool table");

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

/* A ShmPoolAnnounce that does not decode: the consumer's reject reason for the decode layer's drop reason. */
static tp_announce_reject_t decode_reject_reason(void)
{
    const char *field = tp_proto_last_error_field();
    switch (tp_proto_last_error())
    {
        case TP_PROTO_BAD_ENUM:
            return TP_ANNOUNCE_REJECT_CLOCK_DOMAIN; /* the message's only enum */
        case TP_PROTO_MISSING_REQUIRED:
            if (0 == strncmp(field, "announceClockDomain", 19))
            {
                return TP_ANNOUNCE_REJECT_CLOCK_DOMAIN;
            }
            return NULL != strstr(field, "egionUri") ? TP_ANNOUNCE_REJECT_URI : TP_ANNOUNCE_REJECT_NO_POOLS;
        case TP_PROTO_GROUP_OVERFLOW:
            return TP_ANNOUNCE_REJECT_NO_POOLS; /* more pools than TP_PROTO_MAX_POOLS */
        case TP_PROTO_VAR_DATA_OVERFLOW:
            return TP_ANNOUNCE_REJECT_URI; /* a region URI longer than any SHM path */
        default:
            return TP_ANNOUNCE_REJECT_DECODE;
    }
}

/* A layout that breaks a geometry rule (tp_shm_geometry_validate): the consumer's reject reason. */
static tp_announce_reject_t geometry_reject_reason(tp_shm_geometry_error_t e)
{
    switch (e)
    {
        case TP_SHM_GEOMETRY_SLOT_BYTES:
            return TP_ANNOUNCE_REJECT_SLOT_BYTES;
        case TP_SHM_GEOMETRY_NSLOTS:
        case TP_SHM_GEOMETRY_POOL_NSLOTS:
            return TP_ANNOUNCE_REJECT_NSLOTS;
        case TP_SHM_GEOMETRY_STRIDE:
        case TP_SHM_GEOMETRY_HUGEPAGE_STRIDE:
            return TP_ANNOUNCE_REJECT_STRIDE;
        case TP_SHM_GEOMETRY_POOL_COUNT:
        case TP_SHM_GEOMETRY_POOL_ID:
        case TP_SHM_GEOMETRY_DUPLICATE_POOL_ID:
            return TP_ANNOUNCE_REJECT_NO_POOLS;
        default:
            return TP_ANNOUNCE_REJECT_MAP; /* a region size that cannot be mapped */
    }
}

/*
 * ShmPoolAnnounce: decode (src/protocol), validate (freshness, join time,
 * epoch, layout version, geometry), act (keep, remap or map). Every drop is
 * counted under a tp_announce_reject_t.
 */
void tp_consumer_handle_announce(tp_consumer_t *c, const uint8_t *buffer, size_t length, const tp_header_t *header)
{
    tp_proto_shm_pool_announce_view_t v;
    if (tp_proto_decode_shm_pool_announce(buffer, length, &v) < 0)
    {
        reject(c, decode_reject_reason());
        return;
    }
    if (v.stream_id != c->config.stream_id)
    {
        return; /* another data source on the shared control stream */
    }
    if (tp_consumer_other_producer(c, v.producer_id, header->session_id, v.epoch))
    {
        return;
    }
    uint64_t epoch = v.epoch;
    uint64_t ts = v.announce_timestamp_ns;
    uint64_t now_mono = tp_clock_mono_ns();
    uint64_t window = tp_context_freshness_ns(&c->client->ctx);
    /* both clock domains are the only values the decode accepts */
    bool monotonic = TP_SBE_WIRE_CLOCK_DOMAIN_MONOTONIC == v.announce_clock_domain;
    /* no join-time rule for REALTIME_SYNCED (§10.1.1) */
    uint64_t now_domain = monotonic ? now_mono : tp_clock_realtime_ns();
    if ((now_domain > ts && now_domain - ts > window) || (ts > now_domain && ts - now_domain > window))
    {
        tp_err_set(TP_ERR_VALIDATION, "announce older than the freshness window");
        reject(c, TP_ANNOUNCE_REJECT_STALE);
        return;
    }
    if (monotonic && ts < join_time(c, header->session_id))
    {
        tp_err_set(TP_ERR_VALIDATION, "announce timestamp precedes the join time (replayed)");
        reject(c, TP_ANNOUNCE_REJECT_BEFORE_JOIN);
        return;
    }
    if (NULL != c->ring)
    {
        if (epoch == c->epoch)
        {
            /* same epoch: is the announced header ring still the file we mapped? */
            if (!live_superblock_ok(c) || !same_file(c, v.header_region_uri.data, v.header_region_uri.length))
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
    if (TP_SHM_LAYOUT_VERSION != v.layout_version)
    {
        tp_err_set(TP_ERR_VALIDATION, "layout_version %u", v.layout_version);
        reject(c, TP_ANNOUNCE_REJECT_LAYOUT_VERSION);
        return;
    }
    uint32_t nslots = v.header_nslots;
    size_t count = v.pool_count; /* 1..TP_PROTO_MAX_POOLS (== TP_CONSUMER_MAX_POOLS) after the decode */
    tp_shm_pool_geometry_t geometry[TP_CONSUMER_MAX_POOLS];
    for (size_t i = 0; i < count; i++)
    {
        geometry[i].pool_id = v.pools[i].pool_id;
        geometry[i].nslots = v.pools[i].pool_nslots;
        geometry[i].stride_bytes = v.pools[i].stride_bytes;
    }
    tp_shm_geometry_error_t broken = TP_SHM_GEOMETRY_OK;
    if (tp_shm_geometry_validate(nslots, v.header_slot_bytes, geometry, count, 0, TP_ERR_VALIDATION, &broken) < 0)
    {
        reject(c, geometry_reject_reason(broken));
        return;
    }
    /* Map everything into locals first: fail closed, keep the old mapping until the new one is complete. */
    tp_shm_region_t *ring = NULL;
    tp_shm_region_t *mapped[TP_CONSUMER_MAX_POOLS] = { 0 };
    tp_shm_region_params_t params = { .region_type = TP_SHM_REGION_HEADER_RING, .layout_version = v.layout_version,
        .epoch = epoch, .stream_id = c->config.stream_id, .pool_id = 0, .nslots = nslots, .stride_bytes = 0 };
    int rc = map_region(c, &ring, v.header_region_uri.data, v.header_region_uri.length, &params);
    for (size_t i = 0; 0 == rc && i < count; i++)
    {
        params.region_type = TP_SHM_REGION_PAYLOAD_POOL;
        params.pool_id = v.pools[i].pool_id;
        params.stride_bytes = v.pools[i].stride_bytes;
        rc = map_region(c, &mapped[i], v.pools[i].region_uri.data, v.pools[i].region_uri.length, &params);
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
    /* mlock_shm (§17): clients SHOULD lock their own mappings; a failure is reported and the mapping used unlocked */
    int unlocked = tp_client_mlock_region(c->client, ring, "header ring") < 0;
    for (size_t i = 0; i < count; i++)
    {
        unlocked += tp_client_mlock_region(c->client, mapped[i], "payload pool") < 0;
    }
    c->mlock_failures += (uint64_t)unlocked;
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
    c->mapped_producer_id = v.producer_id;
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
