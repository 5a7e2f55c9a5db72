/*
 * Driver control plane (Driver Model spec §4): attach, keepalive, detach,
 * lease expiry and revocation, node ids, shutdown requests. Conductor thread
 * only. Every request gets a response code or a counted drop.
 */
#include <stdio.h>
#include <string.h>

#include "common/tp_clock.h"
#include "common/tp_error.h"
#include "common/tp_log.h"
#include "driver/tp_driver_internal.h"
#include "protocol/tp_proto.h"
#include "tp_sbe/driver.h"

#define TP_DRIVER_SCHEMA_ID 901
#define TP_DRIVER_SCHEMA_VERSION 1
#define TP_ADMIN_RETRIES 3
#define TP_DRIVER_PROMPT_ANNOUNCE_GAP_NS (50000000ull)

static const char *const reject_names[TP_DRIVER_REJECT_COUNT] = { "unknown_stream", "bad_role", "producer_active",
    "client_id_in_use", "layout_version", "hugepages", "node_id", "ids_exhausted", "bad_params", "internal",
    "unsupported", "draining" };

const char *tp_driver_reject_name(int reason)
{
    return (reason >= 0 && reason < TP_DRIVER_REJECT_COUNT) ? reject_names[reason] : "unknown";
}

void tp_driver_offer(tp_driver_t *d, tp_publication_t *pub, const uint8_t *buf, size_t len)
{
    if (NULL == pub)
    {
        return;
    }
    for (int i = 0; i < TP_ADMIN_RETRIES; i++)
    {
        int64_t rc = tp_publication_offer(pub, buf, len, NULL, NULL);
        if (rc >= 0 || TP_PUBLICATION_NOT_CONNECTED == rc)
        {
            return;
        }
        if (TP_PUBLICATION_ADMIN_ACTION != rc && TP_PUBLICATION_BACK_PRESSURED != rc)
        {
            TP_LOG_WARN("driver", "offer on stream %d failed (%lld)", tp_publication_stream_id(pub), (long long)rc);
            return;
        }
    }
    (void)d;
}

/* ------------------------------------------------------------------------- */
/* Encoders                                                                   */
/* ------------------------------------------------------------------------- */

static uint32_t msg_len(const char *s)
{
    size_t n = NULL == s ? 0 : strlen(s);
    return (uint32_t)(n > TP_DRIVER_ERROR_MESSAGE_MAX ? TP_DRIVER_ERROR_MESSAGE_MAX : n);
}

static void send_attach_error(tp_driver_t *d, int64_t correlation_id, tp_sbe_driver_response_code_t code,
    const char *message)
{
    tp_sbe_driver_shm_attach_response_t m = { 0 };
    tp_sbe_driver_shm_attach_response_payload_pools_t g = { 0 };
    uint8_t *buf = d->encode_buffer;
    if (TP_SBE_OK != tp_sbe_driver_shm_attach_response_wrap_and_apply_header(&m, buf, 0, sizeof(d->encode_buffer)))
    {
        return;
    }
    tp_sbe_driver_shm_attach_response_set_correlation_id(&m, correlation_id);
    tp_sbe_driver_shm_attach_response_set_code(&m, code);
    tp_sbe_driver_shm_attach_response_set_lease_id(&m, UINT64_MAX);
    tp_sbe_driver_shm_attach_response_set_lease_expiry_timestamp_ns(&m, UINT64_MAX);
    tp_sbe_driver_shm_attach_response_set_stream_id(&m, UINT32_MAX);
    tp_sbe_driver_shm_attach_response_set_epoch(&m, UINT64_MAX);
    tp_sbe_driver_shm_attach_response_set_layout_version(&m, UINT32_MAX);
    tp_sbe_driver_shm_attach_response_set_header_nslots(&m, UINT32_MAX);
    tp_sbe_driver_shm_attach_response_set_header_slot_bytes(&m, UINT16_MAX);
    tp_sbe_driver_shm_attach_response_set_node_id(&m, UINT32_MAX);
    tp_sbe_driver_shm_attach_response_zero_padding(&m);
    tp_sbe_driver_shm_attach_response_set_payload_pools_count(&m, &g, 0);
    tp_sbe_driver_shm_attach_response_put_header_region_uri(&m, (const uint8_t *)"", 0);
    tp_sbe_driver_shm_attach_response_put_error_message(&m, (const uint8_t *)message, msg_len(message));
    tp_driver_offer(d, d->control_pub, buf,
        TP_SBE_MESSAGE_HEADER_LENGTH + tp_sbe_driver_shm_attach_response_encoded_length(&m));
}

static void send_attach_ok(tp_driver_t *d, const tp_driver_lease_t *lease, const tp_driver_stream_t *s)
{
    const tp_shm_epoch_set_t *set = &s->regions->set;
    tp_sbe_driver_shm_attach_response_t m = { 0 };
    tp_sbe_driver_shm_attach_response_payload_pools_t g = { 0 };
    uint8_t *buf = d->encode_buffer;
    if (TP_SBE_OK != tp_sbe_driver_shm_attach_response_wrap_and_apply_header(&m, buf, 0, sizeof(d->encode_buffer)))
    {
        return;
    }
    tp_sbe_driver_shm_attach_response_set_correlation_id(&m, lease->attach_correlation_id);
    tp_sbe_driver_shm_attach_response_set_code(&m, TP_SBE_DRIVER_RESPONSE_CODE_OK);
    tp_sbe_driver_shm_attach_response_set_lease_id(&m, lease->lease_id);
    /* lease expiry is reported in the driver's monotonic clock domain, as the keepalive deadline */
    tp_sbe_driver_shm_attach_response_set_lease_expiry_timestamp_ns(&m, lease->expiry_ns);
    tp_sbe_driver_shm_attach_response_set_stream_id(&m, s->stream_id);
    tp_sbe_driver_shm_attach_response_set_epoch(&m, set->epoch);
    tp_sbe_driver_shm_attach_response_set_layout_version(&m, TP_SHM_LAYOUT_VERSION);
    tp_sbe_driver_shm_attach_response_set_header_nslots(&m, set->header_nslots);
    tp_sbe_driver_shm_attach_response_set_header_slot_bytes(&m, TP_SHM_HEADER_SLOT_BYTES);
    tp_sbe_driver_shm_attach_response_set_node_id(&m, 0 != lease->node_id ? lease->node_id : UINT32_MAX);
    tp_sbe_driver_shm_attach_response_zero_padding(&m);
    tp_sbe_driver_shm_attach_response_set_payload_pools_count(&m, &g, (uint16_t)set->pool_count);
    for (size_t i = 0; i < set->pool_count; i++)
    {
        tp_sbe_driver_shm_attach_response_payload_pools_next(&g);
        tp_sbe_driver_shm_attach_response_payload_pools_set_pool_id(&g, set->pool_ids[i]);
        tp_sbe_driver_shm_attach_response_payload_pools_set_pool_nslots(&g, set->header_nslots);
        tp_sbe_driver_shm_attach_response_payload_pools_set_stride_bytes(&g, set->strides[i]);
        tp_sbe_driver_shm_attach_response_payload_pools_zero_padding(&g);
        if (TP_SBE_OK != tp_sbe_driver_shm_attach_response_payload_pools_put_region_uri(&g,
                             (const uint8_t *)set->pool_uris[i], (uint32_t)strlen(set->pool_uris[i])))
        {
            return;
        }
    }
    if (TP_SBE_OK != tp_sbe_driver_shm_attach_response_put_header_region_uri(&m, (const uint8_t *)set->header_uri,
                         (uint32_t)strlen(set->header_uri)) ||
        TP_SBE_OK != tp_sbe_driver_shm_attach_response_put_error_message(&m, (const uint8_t *)"", 0))
    {
        return;
    }
    tp_driver_offer(d, d->control_pub, buf,
        TP_SBE_MESSAGE_HEADER_LENGTH + tp_sbe_driver_shm_attach_response_encoded_length(&m));
}

static void send_detach_response(tp_driver_t *d, int64_t correlation_id, tp_sbe_driver_response_code_t code,
    const char *message)
{
    tp_sbe_driver_shm_detach_response_t m = { 0 };
    uint8_t *buf = d->encode_buffer;
    if (TP_SBE_OK != tp_sbe_driver_shm_detach_response_wrap_and_apply_header(&m, buf, 0, sizeof(d->encode_buffer)))
    {
        return;
    }
    tp_sbe_driver_shm_detach_response_set_correlation_id(&m, correlation_id);
    tp_sbe_driver_shm_detach_response_set_code(&m, code);
    tp_sbe_driver_shm_detach_response_zero_padding(&m);
    tp_sbe_driver_shm_detach_response_put_error_message(&m, (const uint8_t *)message, msg_len(message));
    tp_driver_offer(d, d->control_pub, buf,
        TP_SBE_MESSAGE_HEADER_LENGTH + tp_sbe_driver_shm_detach_response_encoded_length(&m));
}

static void send_revoked(tp_driver_t *d, uint64_t now_ns, uint64_t lease_id, uint32_t stream_id, uint32_t client_id,
    uint8_t role, tp_sbe_driver_lease_revoke_reason_t reason, const char *message)
{
    tp_sbe_driver_shm_lease_revoked_t m = { 0 };
    uint8_t *buf = d->encode_buffer;
    if (TP_SBE_OK != tp_sbe_driver_shm_lease_revoked_wrap_and_apply_header(&m, buf, 0, sizeof(d->encode_buffer)))
    {
        return;
    }
    tp_sbe_driver_shm_lease_revoked_set_timestamp_ns(&m, now_ns);
    tp_sbe_driver_shm_lease_revoked_set_lease_id(&m, lease_id);
    tp_sbe_driver_shm_lease_revoked_set_stream_id(&m, stream_id);
    tp_sbe_driver_shm_lease_revoked_set_client_id(&m, client_id);
    tp_sbe_driver_shm_lease_revoked_set_role(&m, (tp_sbe_driver_role_t)role);
    tp_sbe_driver_shm_lease_revoked_set_reason(&m, reason);
    tp_sbe_driver_shm_lease_revoked_zero_padding(&m);
    tp_sbe_driver_shm_lease_revoked_put_error_message(&m, (const uint8_t *)message, msg_len(message));
    tp_driver_offer(d, d->control_pub, buf,
        TP_SBE_MESSAGE_HEADER_LENGTH + tp_sbe_driver_shm_lease_revoked_encoded_length(&m));
}

void tp_driver_send_shutdown(tp_driver_t *d, uint64_t now_ns, uint8_t reason, const char *message)
{
    tp_sbe_driver_shm_driver_shutdown_t m = { 0 };
    uint8_t *buf = d->encode_buffer;
    if (TP_SBE_OK != tp_sbe_driver_shm_driver_shutdown_wrap_and_apply_header(&m, buf, 0, sizeof(d->encode_buffer)))
    {
        return;
    }
    tp_sbe_driver_shm_driver_shutdown_set_timestamp_ns(&m, now_ns);
    tp_sbe_driver_shm_driver_shutdown_set_reason(&m, (tp_sbe_driver_shutdown_reason_t)reason);
    tp_sbe_driver_shm_driver_shutdown_zero_padding(&m);
    tp_sbe_driver_shm_driver_shutdown_put_error_message(&m, (const uint8_t *)message, msg_len(message));
    tp_driver_offer(d, d->control_pub, buf,
        TP_SBE_MESSAGE_HEADER_LENGTH + tp_sbe_driver_shm_driver_shutdown_encoded_length(&m));
}

/* ------------------------------------------------------------------------- */
/* Leases and node ids                                                        */
/* ------------------------------------------------------------------------- */

static uint64_t lease_duration_ns(const tp_driver_t *d)
{
    return (uint64_t)d->config.lease_keepalive_interval_ms * d->config.lease_expiry_grace_intervals * 1000000ull;
}

static tp_driver_lease_t *lease_find(tp_driver_t *d, uint64_t lease_id)
{
    if (0 == lease_id)
    {
        return NULL;
    }
    for (size_t i = 0; i < TP_DRIVER_MAX_LEASES; i++)
    {
        if (d->leases[i].lease_id == lease_id)
        {
            return &d->leases[i];
        }
    }
    return NULL;
}

static tp_driver_lease_t *lease_free_slot(tp_driver_t *d)
{
    for (size_t i = 0; i < d->config.max_leases; i++)
    {
        if (0 == d->leases[i].lease_id)
        {
            return &d->leases[i];
        }
    }
    return NULL;
}

static bool node_available(const tp_driver_t *d, uint32_t node, uint64_t now_ns)
{
    if (0 == node || node > TP_DRIVER_NODE_ID_MAX || d->node_active[node])
    {
        return false;
    }
    uint64_t released = d->node_released_ns[node];
    uint64_t cooldown = (uint64_t)d->config.node_id_reuse_cooldown_ms * 1000000ull;
    return 0 == released || now_ns - released >= cooldown;
}

/*
 * desiredNodeId: free and out of cooldown, or free and last held by this very client (a reattach after its lease
 * was lost asks for its node id again, so TraceLink node ids stay stable; the cooldown protects against a *new*
 * holder minting ids that collide with the old one's, DRV-14).
 */
static bool node_grantable(const tp_driver_t *d, uint32_t node, uint32_t client_id, uint64_t now_ns)
{
    if (node_available(d, node, now_ns))
    {
        return true;
    }
    return 0 != node && node <= TP_DRIVER_NODE_ID_MAX && !d->node_active[node] && 0 != client_id &&
        d->node_last_client[node] == client_id;
}

/* Next free node id after the cursor (round robin, so ids are reused as late as possible); 0 when none. */
static uint32_t node_allocate(tp_driver_t *d, uint64_t now_ns)
{
    for (uint32_t i = 1; i <= TP_DRIVER_NODE_ID_MAX; i++)
    {
        uint32_t node = (d->node_cursor + i - 1) % TP_DRIVER_NODE_ID_MAX + 1;
        if (node_available(d, node, now_ns))
        {
            d->node_cursor = node;
            return node;
        }
    }
    return 0;
}

/*
 * Invalidate a lease (DETACHED / EXPIRED / REVOKED): ShmLeaseRevoked first,
 * then, for a producer lease, a new epoch and its announce (§4.7a, §4.9, §6).
 */
static void lease_end(tp_driver_t *d, tp_driver_lease_t *lease, tp_sbe_driver_lease_revoke_reason_t reason,
    const char *message, uint64_t now_ns)
{
    tp_driver_lease_t copy = *lease;
    if (0 != lease->node_id && lease->node_id <= TP_DRIVER_NODE_ID_MAX)
    {
        d->node_active[lease->node_id] = false;
        d->node_released_ns[lease->node_id] = now_ns;
    }
    memset(lease, 0, sizeof(*lease));
    tp_driver_count_sub(d, TP_DRV_C_ACTIVE_LEASES, 1);
    send_revoked(d, now_ns, copy.lease_id, copy.stream_id, copy.client_id, (uint8_t)copy.role, reason, message);
    TP_LOG_INFO("driver", "lease %llu (stream %u, client %u, %s) ended: %s", (unsigned long long)copy.lease_id,
        copy.stream_id, copy.client_id, TP_DRIVER_ROLE_PRODUCER == copy.role ? "producer" : "consumer", message);
    tp_driver_stream_t *s = tp_driver_stream_find(d, copy.stream_id);
    if (TP_DRIVER_ROLE_PRODUCER == copy.role && NULL != s && s->producer_lease_id == copy.lease_id)
    {
        s->producer_lease_id = 0;
        s->producer_client_id = 0;
        if (!d->draining)
        {
            if (tp_driver_stream_new_epoch(d, s, now_ns) < 0)
            {
                TP_LOG_ERROR("driver", "stream %u: cannot create the next epoch after the producer left: %s",
                    s->stream_id, tp_errmsg());
            }
            else
            {
                tp_driver_stream_announce(d, s, now_ns);
            }
        }
    }
}

int tp_driver_leases_check(tp_driver_t *d, uint64_t now_ns)
{
    int work = 0;
    for (size_t i = 0; i < TP_DRIVER_MAX_LEASES; i++)
    {
        tp_driver_lease_t *l = &d->leases[i];
        if (0 != l->lease_id && now_ns > l->expiry_ns)
        {
            lease_end(d, l, TP_SBE_DRIVER_LEASE_REVOKE_REASON_EXPIRED, "lease expired (no keepalive)", now_ns);
            tp_driver_count(d, TP_DRV_C_EXPIRED, 1);
            work++;
        }
    }
    return work;
}

void tp_driver_leases_revoke_all(tp_driver_t *d, uint64_t now_ns)
{
    for (size_t i = 0; i < TP_DRIVER_MAX_LEASES; i++)
    {
        if (0 != d->leases[i].lease_id)
        {
            lease_end(d, &d->leases[i], TP_SBE_DRIVER_LEASE_REVOKE_REASON_REVOKED, "driver shutting down", now_ns);
            tp_driver_count(d, TP_DRV_C_REVOKED, 1);
        }
    }
}

/* ------------------------------------------------------------------------- */
/* Requests                                                                   */
/* ------------------------------------------------------------------------- */

static void reject(tp_driver_t *d, int64_t correlation_id, tp_sbe_driver_response_code_t code, tp_driver_reject_t why,
    const char *message)
{
    atomic_fetch_add_explicit(&d->rejects[why], 1, memory_order_relaxed);
    tp_driver_count(d, TP_DRV_C_ATTACH_REJECTED, 1);
    TP_LOG_INFO("driver", "attach %lld refused (%s): %s", (long long)correlation_id, tp_driver_reject_name((int)why),
        message);
    send_attach_error(d, correlation_id, code, message);
}

typedef struct attach_req_stct
{
    int64_t correlation_id;
    uint32_t stream_id;
    uint32_t client_id;
    uint8_t role;
    uint32_t expected_layout_version;
    uint8_t publish_mode; /* 255 = absent */
    uint8_t require_hugepages;
    uint32_t desired_node_id; /* UINT32_MAX = absent */
} attach_req_t;

static void handle_attach(tp_driver_t *d, const attach_req_t *r, uint64_t now_ns)
{
    char msg[TP_DRIVER_ERROR_MESSAGE_MAX];
    tp_driver_count(d, TP_DRV_C_ATTACH, 1);
    if (d->draining)
    {
        reject(d, r->correlation_id, TP_SBE_DRIVER_RESPONSE_CODE_REJECTED, TP_DRIVER_REJECT_DRAINING,
            "driver is shutting down");
        return;
    }
    if (TP_DRIVER_ROLE_PRODUCER != r->role && TP_DRIVER_ROLE_CONSUMER != r->role)
    {
        snprintf(msg, sizeof(msg), "unknown role %u (expected 1=PRODUCER or 2=CONSUMER)", r->role);
        reject(d, r->correlation_id, TP_SBE_DRIVER_RESPONSE_CODE_INVALID_PARAMS, TP_DRIVER_REJECT_BAD_ROLE, msg);
        return;
    }
    if (0 == r->client_id)
    {
        reject(d, r->correlation_id, TP_SBE_DRIVER_RESPONSE_CODE_INVALID_PARAMS, TP_DRIVER_REJECT_BAD_PARAMS,
            "clientId 0 is the auto-assign sentinel: choose a non-zero clientId before attaching");
        return;
    }
    if (255 != r->publish_mode && 1 != r->publish_mode && 2 != r->publish_mode)
    {
        snprintf(msg, sizeof(msg), "unknown publishMode %u", r->publish_mode);
        reject(d, r->correlation_id, TP_SBE_DRIVER_RESPONSE_CODE_INVALID_PARAMS, TP_DRIVER_REJECT_BAD_PARAMS, msg);
        return;
    }
    if (r->require_hugepages > 2)
    {
        snprintf(msg, sizeof(msg), "unknown requireHugepages %u", r->require_hugepages);
        reject(d, r->correlation_id, TP_SBE_DRIVER_RESPONSE_CODE_INVALID_PARAMS, TP_DRIVER_REJECT_BAD_PARAMS, msg);
        return;
    }
    if ((2 == r->require_hugepages && !d->config.require_hugepages) ||
        (1 == r->require_hugepages && d->config.require_hugepages))
    {
        snprintf(msg, sizeof(msg), "requireHugepages=%s cannot be satisfied: this driver provides %s regions",
            2 == r->require_hugepages ? "HUGEPAGES" : "STANDARD",
            d->config.require_hugepages ? "hugepage-backed" : "standard-page");
        reject(d, r->correlation_id, TP_SBE_DRIVER_RESPONSE_CODE_REJECTED, TP_DRIVER_REJECT_HUGEPAGES, msg);
        return;
    }
    if (0 != r->expected_layout_version && TP_SHM_LAYOUT_VERSION != r->expected_layout_version)
    {
        snprintf(msg, sizeof(msg), "expectedLayoutVersion %u does not match the active layout version %u",
            r->expected_layout_version, TP_SHM_LAYOUT_VERSION);
        reject(d, r->correlation_id, TP_SBE_DRIVER_RESPONSE_CODE_REJECTED, TP_DRIVER_REJECT_LAYOUT_VERSION, msg);
        return;
    }
    /* a retried request (same correlation id, client, stream, role): answer with the lease already granted */
    tp_driver_lease_t *same_client = NULL;
    for (size_t i = 0; i < TP_DRIVER_MAX_LEASES; i++)
    {
        tp_driver_lease_t *l = &d->leases[i];
        if (0 != l->lease_id && l->stream_id == r->stream_id && l->client_id == r->client_id &&
            (uint8_t)l->role == r->role)
        {
            if (l->attach_correlation_id == r->correlation_id)
            {
                tp_driver_stream_t *s = tp_driver_stream_find(d, r->stream_id);
                if (NULL != s && NULL != s->regions)
                {
                    send_attach_ok(d, l, s);
                    tp_driver_count(d, TP_DRV_C_ATTACH_OK, 1);
                }
                return;
            }
            same_client = l;
        }
    }
    tp_driver_stream_t *existing = tp_driver_stream_find(d, r->stream_id);
    if (TP_DRIVER_ROLE_PRODUCER == r->role && NULL != existing && 0 != existing->producer_lease_id)
    {
        snprintf(msg, sizeof(msg), "stream %u already has a producer (client %u): one producer per stream",
            existing->stream_id, existing->producer_client_id);
        reject(d, r->correlation_id, TP_SBE_DRIVER_RESPONSE_CODE_REJECTED, TP_DRIVER_REJECT_PRODUCER_ACTIVE, msg);
        return;
    }
    if (NULL != same_client)
    {
        reject(d, r->correlation_id, TP_SBE_DRIVER_RESPONSE_CODE_REJECTED, TP_DRIVER_REJECT_CLIENT_ID_IN_USE,
            "client_id already attached");
        return;
    }
    uint32_t node = 0;
    if (UINT32_MAX != r->desired_node_id)
    {
        if (!node_grantable(d, r->desired_node_id, r->client_id, now_ns))
        {
            snprintf(msg, sizeof(msg), "desiredNodeId %u is unavailable (in use, cooling down, or outside 1..%u)",
                r->desired_node_id, TP_DRIVER_NODE_ID_MAX);
            reject(d, r->correlation_id, TP_SBE_DRIVER_RESPONSE_CODE_REJECTED, TP_DRIVER_REJECT_NODE_ID, msg);
            return;
        }
        node = r->desired_node_id;
    }
    tp_driver_reject_t why = TP_DRIVER_REJECT_UNKNOWN_STREAM;
    tp_driver_stream_t *s = tp_driver_stream_get(d, r->stream_id, 2 == r->publish_mode, &why);
    if (NULL == s)
    {
        reject(d, r->correlation_id,
            TP_DRIVER_REJECT_IDS_EXHAUSTED == why ? TP_SBE_DRIVER_RESPONSE_CODE_REJECTED
                                                  : TP_SBE_DRIVER_RESPONSE_CODE_INVALID_PARAMS,
            why, tp_errmsg());
        return;
    }
    if (TP_DRIVER_ROLE_PRODUCER == r->role && 0 != s->producer_lease_id)
    {
        snprintf(msg, sizeof(msg), "stream %u already has a producer (client %u): one producer per stream",
            s->stream_id, s->producer_client_id);
        reject(d, r->correlation_id, TP_SBE_DRIVER_RESPONSE_CODE_REJECTED, TP_DRIVER_REJECT_PRODUCER_ACTIVE, msg);
        return;
    }
    tp_driver_lease_t *lease = lease_free_slot(d);
    if (NULL == lease)
    {
        snprintf(msg, sizeof(msg), "no lease slot left (%u active leases, policies.max_leases)", d->config.max_leases);
        reject(d, r->correlation_id, TP_SBE_DRIVER_RESPONSE_CODE_REJECTED, TP_DRIVER_REJECT_IDS_EXHAUSTED, msg);
        return;
    }
    /* a producer attaching to a stream with no producer lease starts a new epoch (§6); a consumer provisions once */
    if (TP_DRIVER_ROLE_PRODUCER == r->role || NULL == s->regions)
    {
        if (tp_driver_stream_new_epoch(d, s, now_ns) < 0)
        {
            reject(d, r->correlation_id, TP_SBE_DRIVER_RESPONSE_CODE_INTERNAL_ERROR, TP_DRIVER_REJECT_INTERNAL,
                tp_errmsg());
            return;
        }
    }
    if (0 == node)
    {
        node = node_allocate(d, now_ns);
    }
    if (0 != node)
    {
        d->node_active[node] = true;
        d->node_last_client[node] = r->client_id;
    }
    lease->lease_id = d->next_lease_id++;
    lease->stream_id = s->stream_id;
    lease->client_id = r->client_id;
    lease->role = (tp_driver_role_t)r->role;
    lease->node_id = node;
    lease->expiry_ns = now_ns + lease_duration_ns(d);
    lease->attach_correlation_id = r->correlation_id;
    if (TP_DRIVER_ROLE_PRODUCER == r->role)
    {
        s->producer_lease_id = lease->lease_id;
        s->producer_client_id = r->client_id;
    }
    send_attach_ok(d, lease, s);
    tp_driver_count(d, TP_DRV_C_ATTACH_OK, 1);
    tp_driver_count(d, TP_DRV_C_ACTIVE_LEASES, 1);
    TP_LOG_INFO("driver", "lease %llu: stream %u epoch %llu, client %u, %s, node %u",
        (unsigned long long)lease->lease_id, s->stream_id, (unsigned long long)s->regions->set.epoch, r->client_id,
        TP_DRIVER_ROLE_PRODUCER == r->role ? "producer" : "consumer", node);
    /* a new epoch is announced at once; a new consumer gets a prompt announce too (at most one per 50 ms), so it
     * maps the regions without waiting for the period */
    if (TP_DRIVER_ROLE_PRODUCER == r->role || now_ns >= s->last_announce_ns + TP_DRIVER_PROMPT_ANNOUNCE_GAP_NS)
    {
        tp_driver_stream_announce(d, s, now_ns);
    }
}

static void handle_keepalive(tp_driver_t *d, uint64_t lease_id, uint32_t stream_id, uint32_t client_id, uint8_t role,
    uint64_t now_ns)
{
    tp_driver_lease_t *l = lease_find(d, lease_id);
    if (NULL == l || l->stream_id != stream_id || l->client_id != client_id || (uint8_t)l->role != role)
    {
        tp_driver_count(d, TP_DRV_C_KEEPALIVE_UNKNOWN, 1);
        /*
         * A lease this driver does not know (a previous driver instance's, or
         * one it revoked): tell the client once per lease id, so it reattaches
         * now instead of after its own timeout.
         */
        for (size_t i = 0; i < TP_DRIVER_UNKNOWN_RING; i++)
        {
            if (d->unknown_revoked[i] == lease_id)
            {
                return;
            }
        }
        d->unknown_revoked[d->unknown_cursor++ % TP_DRIVER_UNKNOWN_RING] = lease_id;
        send_revoked(d, now_ns, lease_id, stream_id, client_id, role, TP_SBE_DRIVER_LEASE_REVOKE_REASON_REVOKED,
            "unknown lease: reattach");
        return;
    }
    l->expiry_ns = now_ns + lease_duration_ns(d);
    tp_driver_count(d, TP_DRV_C_KEEPALIVE, 1);
}

static void handle_detach(tp_driver_t *d, int64_t correlation_id, uint64_t lease_id, uint32_t stream_id,
    uint32_t client_id, uint8_t role, uint64_t now_ns)
{
    tp_driver_lease_t *l = lease_find(d, lease_id);
    if (NULL == l || l->stream_id != stream_id || l->client_id != client_id || (uint8_t)l->role != role)
    {
        send_detach_response(d, correlation_id, TP_SBE_DRIVER_RESPONSE_CODE_REJECTED,
            "unknown lease (already detached, expired or revoked)");
        return;
    }
    send_detach_response(d, correlation_id, TP_SBE_DRIVER_RESPONSE_CODE_OK, "");
    lease_end(d, l, TP_SBE_DRIVER_LEASE_REVOKE_REASON_DETACHED, "detached", now_ns);
    tp_driver_count(d, TP_DRV_C_DETACH, 1);
}

static bool token_matches(const char *configured, const uint8_t *token, uint32_t len)
{
    size_t n = strlen(configured);
    if (0 == n || n != len)
    {
        return false;
    }
    unsigned diff = 0;
    for (size_t i = 0; i < n; i++)
    {
        diff |= (unsigned)((uint8_t)configured[i] ^ token[i]);
    }
    return 0 == diff;
}

/* ------------------------------------------------------------------------- */
/* Dispatch                                                                   */
/* ------------------------------------------------------------------------- */

static void malformed(tp_driver_t *d)
{
    tp_driver_count(d, TP_DRV_C_MALFORMED, 1);
    TP_LOG_DEBUG("driver", "dropped: %s", tp_errmsg());
}

/*
 * An attach request that does not decode but whose correlation id can be
 * read (a newer schema version, an unknown enum value): answered with a code,
 * so the client learns why instead of timing out.
 */
static bool answer_undecodable_attach(tp_driver_t *d, const uint8_t *buffer, size_t length, uint16_t version)
{
    int64_t correlation_id;
    if (length < TP_SBE_MESSAGE_HEADER_LENGTH + sizeof(correlation_id))
    {
        return false;
    }
    memcpy(&correlation_id, buffer + TP_SBE_MESSAGE_HEADER_LENGTH, sizeof(correlation_id));
    char msg[256];
    if (version > TP_DRIVER_SCHEMA_VERSION)
    {
        tp_driver_count(d, TP_DRV_C_ATTACH, 1);
        snprintf(msg, sizeof(msg), "driver schema version %u is not supported (this driver speaks %u)", version,
            TP_DRIVER_SCHEMA_VERSION);
        reject(d, correlation_id, TP_SBE_DRIVER_RESPONSE_CODE_UNSUPPORTED, TP_DRIVER_REJECT_UNSUPPORTED, msg);
        return true;
    }
    if (TP_PROTO_BAD_ENUM == tp_proto_last_error() || TP_PROTO_MISSING_REQUIRED == tp_proto_last_error())
    {
        tp_driver_count(d, TP_DRV_C_ATTACH, 1);
        snprintf(msg, sizeof(msg), "invalid request: %s", tp_errmsg());
        reject(d, correlation_id, TP_SBE_DRIVER_RESPONSE_CODE_INVALID_PARAMS,
            NULL != strstr(tp_errmsg(), "(role)") ? TP_DRIVER_REJECT_BAD_ROLE : TP_DRIVER_REJECT_BAD_PARAMS, msg);
        return true;
    }
    return false;
}

/* ------------------------------------------------------------------------- */
/* Another driver on our streams (a deployment error, §2.1; DRV-15)           */
/* ------------------------------------------------------------------------- */

/* True when `header` is one of this driver's own publications (it hears itself on a shared stream). */
static bool own_session(const tp_driver_t *d, const tp_header_t *header)
{
    return NULL == header || header->session_id == tp_publication_session_id(d->control_pub) ||
        (NULL != d->announce_pub && header->session_id == tp_publication_session_id(d->announce_pub));
}

static void foreign(tp_driver_t *d, int counter, const char *what, int32_t session_id, uint64_t now_ns)
{
    tp_driver_count(d, counter, 1);
    atomic_store_explicit(&d->last_foreign_session, session_id, memory_order_relaxed);
    if (0 == d->last_foreign_warn_ns || now_ns >= d->last_foreign_warn_ns + 10000000000ull)
    {
        d->last_foreign_warn_ns = now_ns;
        TP_LOG_WARN("driver", "%s: %s from transport session %d, not this driver's: another SHM driver (or a "
            "standalone producer) serves control stream %s/%u; only one driver may manage a stream (Driver Model "
            "§2.1): stop one of them (%llu messages of other drivers, %llu announces of managed streams so far)",
            d->config.instance_id, what, (int)session_id, d->config.control_channel, d->config.control_stream_id,
            (unsigned long long)atomic_load_explicit(&d->counters[TP_DRV_C_FOREIGN_DRIVER], memory_order_relaxed),
            (unsigned long long)atomic_load_explicit(&d->counters[TP_DRV_C_FOREIGN_ANNOUNCE], memory_order_relaxed));
    }
}

/* A ShmPoolAnnounce heard on the control or announce stream: another announcer of a stream we manage? */
static void check_announce(tp_driver_t *d, const uint8_t *buffer, size_t length, const tp_header_t *header,
    uint64_t now_ns)
{
    tp_proto_shm_pool_announce_view_t a;
    if (tp_proto_decode_shm_pool_announce(buffer, length, &a) < 0)
    {
        return;
    }
    const tp_driver_stream_t *s = tp_driver_stream_find(d, a.stream_id);
    bool managed = NULL != s;
    for (size_t i = 0; !managed && i < d->config.stream_count; i++)
    {
        managed = d->config.streams[i].stream_id == a.stream_id;
    }
    /*
     * Another session's, or (publications of one stream share a session on an Aeron media driver) one this driver
     * did not send: a stream it has not provisioned, or an epoch that is neither its current nor its previous one.
     */
    bool ours = own_session(d, header) && NULL != s && NULL != s->regions &&
        (a.epoch == s->regions->set.epoch || a.epoch == s->prev_epoch);
    if (managed && !ours)
    {
        foreign(d, TP_DRV_C_FOREIGN_ANNOUNCE, "ShmPoolAnnounce of a managed stream",
            NULL != header ? header->session_id : 0, now_ns);
    }
}

static void on_announce(void *clientd, const uint8_t *buffer, size_t length, const tp_header_t *header)
{
    tp_driver_t *d = clientd;
    tp_sbe_header_t h;
    if (TP_SBE_OK == tp_sbe_peek_header(buffer, length, &h) && TP_SBE_WIRE_SCHEMA_ID == h.schema_id &&
        TP_SBE_WIRE_SHM_POOL_ANNOUNCE_TEMPLATE_ID == h.template_id)
    {
        check_announce(d, buffer, length, header, tp_clock_mono_ns());
    }
}

int tp_driver_announce_poll(tp_driver_t *d)
{
    return NULL == d->announce_sub ? 0 : tp_subscription_poll(d->announce_sub, on_announce, d, 16);
}

static void on_control(void *clientd, const uint8_t *buffer, size_t length, const tp_header_t *header)
{
    tp_driver_t *d = clientd;
    tp_sbe_header_t h;
    if (TP_SBE_OK != tp_sbe_peek_header(buffer, length, &h))
    {
        return;
    }
    uint64_t now_ns = tp_clock_mono_ns();
    if (TP_SBE_WIRE_SCHEMA_ID == h.schema_id)
    {
        if (TP_SBE_WIRE_SHM_POOL_ANNOUNCE_TEMPLATE_ID == h.template_id)
        {
            check_announce(d, buffer, length, header, now_ns);
            return;
        }
        tp_driver_supervisor_on_wire(d, h.template_id, buffer, length, now_ns); /* ConsumerHello */
        return;
    }
    if (TP_SBE_DISCOVERY_SCHEMA_ID == h.schema_id)
    {
        tp_driver_discovery_on_control(d, buffer, length, now_ns); /* embedded discovery on the control stream */
        return;
    }
    if (TP_DRIVER_SCHEMA_ID != h.schema_id)
    {
        return;
    }
    switch (h.template_id)
    {
        case TP_SBE_DRIVER_SHM_ATTACH_REQUEST_TEMPLATE_ID:
        {
            tp_proto_shm_attach_request_view_t v;
            if (tp_proto_decode_shm_attach_request(buffer, length, &v) < 0)
            {
                if (!answer_undecodable_attach(d, buffer, length, h.version))
                {
                    malformed(d);
                }
                return;
            }
            attach_req_t r = {
                .correlation_id = v.correlation_id,
                .stream_id = v.stream_id,
                .client_id = v.client_id,
                .role = (uint8_t)v.role,
                .expected_layout_version = v.expected_layout_version,
                .publish_mode = v.has_publish_mode ? (uint8_t)v.publish_mode : 255,
                .require_hugepages = (uint8_t)v.require_hugepages,
                .desired_node_id = v.has_desired_node_id ? v.desired_node_id : UINT32_MAX,
            };
            handle_attach(d, &r, now_ns);
            return;
        }
        case TP_SBE_DRIVER_SHM_DETACH_REQUEST_TEMPLATE_ID:
        {
            tp_proto_shm_detach_request_view_t v;
            if (tp_proto_decode_shm_detach_request(buffer, length, &v) < 0)
            {
                malformed(d);
                return;
            }
            handle_detach(d, v.correlation_id, v.lease_id, v.stream_id, v.client_id, (uint8_t)v.role, now_ns);
            return;
        }
        case TP_SBE_DRIVER_SHM_LEASE_KEEPALIVE_TEMPLATE_ID:
        {
            tp_proto_shm_lease_keepalive_view_t v;
            if (tp_proto_decode_shm_lease_keepalive(buffer, length, &v) < 0)
            {
                malformed(d);
                return;
            }
            handle_keepalive(d, v.lease_id, v.stream_id, v.client_id, (uint8_t)v.role, now_ns);
            return;
        }
        case TP_SBE_DRIVER_SHM_DRIVER_SHUTDOWN_REQUEST_TEMPLATE_ID:
        {
            tp_proto_shm_driver_shutdown_request_view_t v;
            if (tp_proto_decode_shm_driver_shutdown_request(buffer, length, &v) < 0)
            {
                malformed(d);
                return;
            }
            if (!token_matches(d->config.shutdown_token, (const uint8_t *)v.token.data, v.token.length))
            {
                d->shutdown_rejected++;
                TP_LOG_WARN("driver", "ShmDriverShutdownRequest ignored: %s",
                    d->config.shutdown_token[0] ? "wrong token" : "no policies.shutdown_token configured");
                return;
            }
            d->shutdown_reason = (uint8_t)v.reason;
            TP_LOG_INFO("driver", "shutdown requested over the control stream (reason %u)", (unsigned)v.reason);
            atomic_store(&d->shutdown_requested, true);
            return;
        }
        case TP_SBE_DRIVER_SHM_ATTACH_RESPONSE_TEMPLATE_ID:
        case TP_SBE_DRIVER_SHM_DETACH_RESPONSE_TEMPLATE_ID:
        case TP_SBE_DRIVER_SHM_LEASE_REVOKED_TEMPLATE_ID:
        case TP_SBE_DRIVER_SHM_DRIVER_SHUTDOWN_TEMPLATE_ID:
            /* only drivers send these: ours come back on the shared stream, anyone else's is a second driver; a
             * shutdown notice we did not send is another driver's even from our session (shared on Aeron) */
            if (!own_session(d, header) ||
                (TP_SBE_DRIVER_SHM_DRIVER_SHUTDOWN_TEMPLATE_ID == h.template_id && !d->shutdown_sent))
            {
                foreign(d, TP_DRV_C_FOREIGN_DRIVER,
                    TP_SBE_DRIVER_SHM_ATTACH_RESPONSE_TEMPLATE_ID == h.template_id   ? "ShmAttachResponse"
                    : TP_SBE_DRIVER_SHM_DETACH_RESPONSE_TEMPLATE_ID == h.template_id ? "ShmDetachResponse"
                    : TP_SBE_DRIVER_SHM_LEASE_REVOKED_TEMPLATE_ID == h.template_id   ? "ShmLeaseRevoked"
                                                                                     : "ShmDriverShutdown",
                    NULL != header ? header->session_id : 0, now_ns);
            }
            return;
        default:
            return; /* newer templates */
    }
}

int tp_driver_control_poll(tp_driver_t *d, uint64_t now_ns)
{
    (void)now_ns;
    return tp_subscription_poll(d->control_sub, on_control, d, 16);
}
