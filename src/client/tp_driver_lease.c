/* Client side of the driver control plane: attach, keepalive, detach, revocation (see tp_driver_lease.h). */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "client/tp_driver_lease.h"
#include "common/tp_clock.h"
#include "common/tp_log.h"
#include "tp_sbe/driver.h"

#define TP_LEASE_SCHEMA_ID 901
#define TP_LEASE_SCHEMA_VERSION 1

static const char *const state_names[] = { "unattached", "attaching", "attached", "backoff", "detaching", "closed" };

const char *tp_driver_lease_state_name(tp_driver_lease_state_t state)
{
    return (unsigned)state < sizeof(state_names) / sizeof(state_names[0]) ? state_names[state] : "unknown";
}

static uint64_t random_u64(void)
{
    uint64_t v = 0;
    if (sizeof(v) != getrandom(&v, sizeof(v), GRND_NONBLOCK))
    {
        v = tp_clock_realtime_ns() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)&v;
    }
    return v;
}

/* Correlation ids: a random per-process seed plus a counter, so stale responses of earlier runs never match (B.1). */
static _Atomic uint64_t tp_lease_correlation = 0;

static int64_t next_correlation_id(void)
{
    uint64_t cur = atomic_load(&tp_lease_correlation);
    if (0 == cur)
    {
        uint64_t seed = (random_u64() & 0x3FFFFFFFFFFFFFFFull) | 1u;
        atomic_compare_exchange_strong(&tp_lease_correlation, &cur, seed);
    }
    return (int64_t)(atomic_fetch_add(&tp_lease_correlation, 1) & 0x7FFFFFFFFFFFFFFFull);
}

void tp_driver_lease_init(tp_driver_lease_t *lease, uint32_t stream_id, uint32_t client_id, uint8_t role)
{
    memset(lease, 0, sizeof(*lease));
    lease->stream_id = stream_id;
    while (0 == client_id)
    {
        client_id = (uint32_t)random_u64();
    }
    lease->client_id = client_id;
    lease->role = role;
    lease->publish_mode = 1;
    lease->desired_node_id = UINT32_MAX;
    lease->keepalive_interval_ns = 1000000000ull;
    lease->attach_timeout_ns = 1000000000ull;
    lease->backoff_min_ns = 50000000ull;
    lease->backoff_max_ns = 2000000000ull;
    lease->backoff_ns = lease->backoff_min_ns;
    lease->state = TP_LEASE_UNATTACHED;
}

static bool offer(tp_publication_t *pub, const uint8_t *buf, size_t len)
{
    for (int i = 0; i < 3; i++)
    {
        int64_t rc = tp_publication_offer(pub, buf, len, NULL, NULL);
        if (rc >= 0)
        {
            return true;
        }
        if (TP_PUBLICATION_ADMIN_ACTION != rc && TP_PUBLICATION_BACK_PRESSURED != rc)
        {
            return false;
        }
    }
    return false;
}

static void enter_backoff(tp_driver_lease_t *l, uint64_t now_ns)
{
    l->state = TP_LEASE_BACKOFF;
    l->deadline_ns = now_ns + l->backoff_ns;
    l->backoff_ns = l->backoff_ns * 2 > l->backoff_max_ns ? l->backoff_max_ns : l->backoff_ns * 2;
}

static int send_attach(tp_driver_lease_t *l, tp_publication_t *pub, uint64_t now_ns)
{
    tp_sbe_driver_shm_attach_request_t m = { 0 };
    if (TP_SBE_OK != tp_sbe_driver_shm_attach_request_wrap_and_apply_header(&m, l->buffer, 0, sizeof(l->buffer)))
    {
        return 0;
    }
    l->correlation_id = next_correlation_id();
    tp_sbe_driver_shm_attach_request_set_correlation_id(&m, l->correlation_id);
    tp_sbe_driver_shm_attach_request_set_stream_id(&m, l->stream_id);
    tp_sbe_driver_shm_attach_request_set_client_id(&m, l->client_id);
    tp_sbe_driver_shm_attach_request_set_role(&m, (tp_sbe_driver_role_t)l->role);
    tp_sbe_driver_shm_attach_request_set_expected_layout_version(&m, 0);
    tp_sbe_driver_shm_attach_request_set_publish_mode(&m, (tp_sbe_driver_publish_mode_t)l->publish_mode);
    tp_sbe_driver_shm_attach_request_set_require_hugepages(&m, (tp_sbe_driver_hugepages_policy_t)l->require_hugepages);
    tp_sbe_driver_shm_attach_request_set_desired_node_id(&m, l->desired_node_id);
    tp_sbe_driver_shm_attach_request_zero_padding(&m);
    offer(pub, l->buffer, TP_SBE_MESSAGE_HEADER_LENGTH + tp_sbe_driver_shm_attach_request_encoded_length(&m));
    /* not connected yet (no driver): the attach timeout retries, as for a lost request */
    l->state = TP_LEASE_ATTACHING;
    l->deadline_ns = now_ns + l->attach_timeout_ns;
    l->attaches_sent++;
    return 1;
}

static bool send_keepalive(tp_driver_lease_t *l, tp_publication_t *pub, uint64_t now_ns)
{
    tp_sbe_driver_shm_lease_keepalive_t m = { 0 };
    if (TP_SBE_OK != tp_sbe_driver_shm_lease_keepalive_wrap_and_apply_header(&m, l->buffer, 0, sizeof(l->buffer)))
    {
        return false;
    }
    tp_sbe_driver_shm_lease_keepalive_set_lease_id(&m, l->grant.lease_id);
    tp_sbe_driver_shm_lease_keepalive_set_stream_id(&m, l->stream_id);
    tp_sbe_driver_shm_lease_keepalive_set_client_id(&m, l->client_id);
    tp_sbe_driver_shm_lease_keepalive_set_role(&m, (tp_sbe_driver_role_t)l->role);
    tp_sbe_driver_shm_lease_keepalive_set_client_timestamp_ns(&m, now_ns);
    tp_sbe_driver_shm_lease_keepalive_zero_padding(&m);
    l->keepalives_sent++;
    return offer(pub, l->buffer, TP_SBE_MESSAGE_HEADER_LENGTH + tp_sbe_driver_shm_lease_keepalive_encoded_length(&m));
}

int tp_driver_lease_do_work(tp_driver_lease_t *l, tp_publication_t *control, uint64_t now_ns,
    tp_driver_lease_event_t *event)
{
    *event = TP_LEASE_EVENT_NONE;
    switch (l->state)
    {
        case TP_LEASE_UNATTACHED: return send_attach(l, control, now_ns);
        case TP_LEASE_BACKOFF: return now_ns >= l->deadline_ns ? send_attach(l, control, now_ns) : 0;
        case TP_LEASE_ATTACHING:
            if (now_ns >= l->deadline_ns)
            {
                snprintf(l->last_error, sizeof(l->last_error), "no attach response within %llu ms (is the driver running?)",
                    (unsigned long long)(l->attach_timeout_ns / 1000000));
                enter_backoff(l, now_ns);
                return 1;
            }
            return 0;
        case TP_LEASE_ATTACHED:
        {
            if (now_ns < l->next_keepalive_ns)
            {
                return 0;
            }
            l->next_keepalive_ns = now_ns + l->keepalive_interval_ns;
            if (!send_keepalive(l, control, now_ns))
            {
                snprintf(l->last_error, sizeof(l->last_error), "keepalive could not be sent: reattaching");
                l->losses++;
                enter_backoff(l, now_ns);
                *event = TP_LEASE_EVENT_LOST;
            }
            return 1;
        }
        case TP_LEASE_DETACHING:
            if (now_ns >= l->deadline_ns)
            {
                l->state = TP_LEASE_CLOSED;
            }
            return 0;
        case TP_LEASE_CLOSED: return 0;
    }
    return 0;
}

static bool uri_ok(const uint8_t *s, uint32_t len)
{
    if (0 == len || len >= TP_SHM_REGION_URI_MAX)
    {
        return false;
    }
    for (uint32_t i = 0; i < len; i++)
    {
        if (' ' != s[i] && '\t' != s[i])
        {
            return true;
        }
    }
    return false; /* blank */
}

/* Validate and copy an OK response (§4.2). Returns NULL on success or what is wrong. */
static const char *take_grant(tp_driver_lease_t *l, tp_sbe_driver_shm_attach_response_t *m)
{
    tp_driver_grant_t *g = &l->grant;
    memset(g, 0, sizeof(*g));
    if (tp_sbe_driver_shm_attach_response_lease_id_is_null(m) || tp_sbe_driver_shm_attach_response_stream_id_is_null(m) ||
        tp_sbe_driver_shm_attach_response_epoch_is_null(m) || tp_sbe_driver_shm_attach_response_layout_version_is_null(m) ||
        tp_sbe_driver_shm_attach_response_header_nslots_is_null(m) ||
        tp_sbe_driver_shm_attach_response_header_slot_bytes_is_null(m))
    {
        return "a required field is null";
    }
    g->lease_id = tp_sbe_driver_shm_attach_response_lease_id(m);
    g->lease_expiry_ns = tp_sbe_driver_shm_attach_response_lease_expiry_timestamp_ns(m);
    g->stream_id = tp_sbe_driver_shm_attach_response_stream_id(m);
    g->epoch = tp_sbe_driver_shm_attach_response_epoch(m);
    g->layout_version = tp_sbe_driver_shm_attach_response_layout_version(m);
    g->header_nslots = tp_sbe_driver_shm_attach_response_header_nslots(m);
    g->node_id = tp_sbe_driver_shm_attach_response_node_id(m);
    if (g->stream_id != l->stream_id)
    {
        return "streamId differs from the request";
    }
    if (256 != tp_sbe_driver_shm_attach_response_header_slot_bytes(m))
    {
        return "headerSlotBytes is not 256";
    }
    tp_sbe_driver_shm_attach_response_payload_pools_t grp;
    if (TP_SBE_OK != tp_sbe_driver_shm_attach_response_get_payload_pools(m, &grp))
    {
        return "payloadPools group is truncated";
    }
    uint64_t n = tp_sbe_driver_shm_attach_response_payload_pools_count(&grp);
    if (0 == n)
    {
        return "payloadPools is empty";
    }
    if (n > TP_SHM_EPOCH_MAX_POOLS)
    {
        return "too many payload pools";
    }
    for (uint64_t i = 0; i < n; i++)
    {
        const uint8_t *uri = NULL;
        uint32_t len = 0;
        if (TP_SBE_OK != tp_sbe_driver_shm_attach_response_payload_pools_next(&grp) ||
            TP_SBE_OK != tp_sbe_driver_shm_attach_response_payload_pools_get_region_uri(&grp, &uri, &len))
        {
            return "payloadPools entry is truncated";
        }
        if (tp_sbe_driver_shm_attach_response_payload_pools_pool_nslots(&grp) != g->header_nslots)
        {
            return "a pool's poolNslots differs from headerNslots";
        }
        if (!uri_ok(uri, len))
        {
            return "a pool regionUri is empty or blank";
        }
        g->pool_ids[i] = tp_sbe_driver_shm_attach_response_payload_pools_pool_id(&grp);
        g->strides[i] = tp_sbe_driver_shm_attach_response_payload_pools_stride_bytes(&grp);
        memcpy(g->pool_uris[i], uri, len);
        g->pool_uris[i][len] = '\0';
    }
    g->pool_count = (size_t)n;
    const uint8_t *uri = NULL;
    uint32_t len = 0;
    if (TP_SBE_OK != tp_sbe_driver_shm_attach_response_get_header_region_uri(m, &uri, &len))
    {
        return "headerRegionUri is truncated";
    }
    if (!uri_ok(uri, len))
    {
        return "headerRegionUri is empty or blank";
    }
    memcpy(g->header_uri, uri, len);
    g->header_uri[len] = '\0';
    return NULL;
}

static tp_driver_lease_event_t on_attach_response(tp_driver_lease_t *l, const uint8_t *buffer, size_t length,
    uint64_t now_ns)
{
    tp_sbe_driver_shm_attach_response_t m;
    if (TP_SBE_OK != tp_sbe_driver_shm_attach_response_wrap_for_decode_with_header(&m, buffer, 0, length))
    {
        return TP_LEASE_EVENT_NONE; /* cannot even read the correlation id reliably */
    }
    if (tp_sbe_driver_shm_attach_response_correlation_id(&m) != l->correlation_id)
    {
        return TP_LEASE_EVENT_NONE;
    }
    if (TP_LEASE_ATTACHING != l->state)
    {
        return TP_LEASE_EVENT_NONE; /* a duplicate: never overrides an accepted OK (B.1) */
    }
    int32_t code = (int32_t)tp_sbe_driver_shm_attach_response_code(&m);
    if (TP_SBE_DRIVER_RESPONSE_CODE_OK != code)
    {
        /* error message follows the pools group: skip the group to read it */
        tp_sbe_driver_shm_attach_response_payload_pools_t grp;
        const uint8_t *msg = NULL;
        uint32_t msg_len = 0;
        const uint8_t *hdr = NULL;
        uint32_t hdr_len = 0;
        if (TP_SBE_OK == tp_sbe_driver_shm_attach_response_get_payload_pools(&m, &grp))
        {
            while (tp_sbe_driver_shm_attach_response_payload_pools_has_next(&grp) &&
                TP_SBE_OK == tp_sbe_driver_shm_attach_response_payload_pools_next(&grp) &&
                TP_SBE_OK == tp_sbe_driver_shm_attach_response_payload_pools_skip(&grp))
            {
            }
            if (TP_SBE_OK == tp_sbe_driver_shm_attach_response_get_header_region_uri(&m, &hdr, &hdr_len))
            {
                tp_sbe_driver_shm_attach_response_get_error_message(&m, &msg, &msg_len);
            }
        }
        int n = (int)(msg_len > 200 ? 200 : msg_len);
        snprintf(l->last_error, sizeof(l->last_error), "attach refused (code %d): %.*s", code, n,
            NULL != msg ? (const char *)msg : "");
        l->rejections++;
        TP_LOG_INFO("client", "stream %u: %s", l->stream_id, l->last_error);
        enter_backoff(l, now_ns);
        return TP_LEASE_EVENT_REJECTED;
    }
    const char *problem = take_grant(l, &m);
    if (NULL != problem)
    {
        snprintf(l->last_error, sizeof(l->last_error), "attach response is a protocol error (%s): reattaching", problem);
        l->protocol_errors++;
        TP_LOG_WARN("client", "stream %u: %s", l->stream_id, l->last_error);
        enter_backoff(l, now_ns);
        return TP_LEASE_EVENT_REJECTED;
    }
    l->state = TP_LEASE_ATTACHED;
    l->backoff_ns = l->backoff_min_ns;
    l->next_keepalive_ns = now_ns + l->keepalive_interval_ns;
    /* leaseExpiryTimestampNs is a hard deadline (§4.2): the first keepalive goes out well before it */
    if (UINT64_MAX != l->grant.lease_expiry_ns && l->grant.lease_expiry_ns > now_ns &&
        now_ns + (l->grant.lease_expiry_ns - now_ns) / 2 < l->next_keepalive_ns)
    {
        l->next_keepalive_ns = now_ns + (l->grant.lease_expiry_ns - now_ns) / 2;
    }
    l->last_error[0] = '\0';
    return TP_LEASE_EVENT_ATTACHED;
}

tp_driver_lease_event_t tp_driver_lease_on_message(tp_driver_lease_t *l, const uint8_t *buffer, size_t length,
    uint64_t now_ns)
{
    tp_sbe_header_t h;
    if (TP_SBE_OK != tp_sbe_peek_header(buffer, length, &h) || TP_LEASE_SCHEMA_ID != h.schema_id ||
        h.version > TP_LEASE_SCHEMA_VERSION)
    {
        return TP_LEASE_EVENT_NONE; /* other schemas, or newer than we support (§4.4a: rejected) */
    }
    switch (h.template_id)
    {
        case 2: return on_attach_response(l, buffer, length, now_ns);
        case 4:
        {
            tp_sbe_driver_shm_detach_response_t m;
            if (TP_LEASE_DETACHING == l->state &&
                TP_SBE_OK == tp_sbe_driver_shm_detach_response_wrap_for_decode_with_header(&m, buffer, 0, length) &&
                tp_sbe_driver_shm_detach_response_correlation_id(&m) == l->correlation_id)
            {
                l->state = TP_LEASE_CLOSED;
                return TP_LEASE_EVENT_DETACHED;
            }
            return TP_LEASE_EVENT_NONE;
        }
        case 6:
        {
            tp_sbe_driver_shm_driver_shutdown_t m;
            if (TP_SBE_OK != tp_sbe_driver_shm_driver_shutdown_wrap_for_decode_with_header(&m, buffer, 0, length))
            {
                return TP_LEASE_EVENT_NONE;
            }
            if (TP_LEASE_ATTACHED == l->state || TP_LEASE_ATTACHING == l->state)
            {
                snprintf(l->last_error, sizeof(l->last_error), "driver shut down: reattaching when it is back");
                l->losses++;
                enter_backoff(l, now_ns);
                return TP_LEASE_EVENT_LOST;
            }
            return TP_LEASE_EVENT_NONE;
        }
        case 7:
        {
            tp_sbe_driver_shm_lease_revoked_t m;
            if (TP_SBE_OK != tp_sbe_driver_shm_lease_revoked_wrap_for_decode_with_header(&m, buffer, 0, length))
            {
                return TP_LEASE_EVENT_NONE;
            }
            uint8_t role = (uint8_t)tp_sbe_driver_shm_lease_revoked_role(&m);
            uint8_t reason = (uint8_t)tp_sbe_driver_shm_lease_revoked_reason(&m);
            if ((TP_LEASE_ROLE_PRODUCER != role && TP_LEASE_ROLE_CONSUMER != role) || reason < 1 || reason > 3)
            {
                l->protocol_errors++;
                return TP_LEASE_EVENT_NONE; /* unknown role or reason values are rejected (§4.9) */
            }
            uint64_t lease_id = tp_sbe_driver_shm_lease_revoked_lease_id(&m);
            uint32_t stream_id = tp_sbe_driver_shm_lease_revoked_stream_id(&m);
            if (TP_LEASE_ATTACHED == l->state && lease_id == l->grant.lease_id && stream_id == l->stream_id &&
                role == l->role)
            {
                snprintf(l->last_error, sizeof(l->last_error), "lease %llu %s: reattaching",
                    (unsigned long long)lease_id, 1 == reason ? "detached" : (2 == reason ? "expired" : "revoked"));
                l->losses++;
                l->state = TP_LEASE_BACKOFF;
                l->deadline_ns = now_ns; /* reattach at once */
                return TP_LEASE_EVENT_LOST;
            }
            if (TP_LEASE_ROLE_CONSUMER == l->role && TP_LEASE_ROLE_PRODUCER == role && stream_id == l->stream_id)
            {
                return TP_LEASE_EVENT_PRODUCER_LOST;
            }
            return TP_LEASE_EVENT_NONE;
        }
        default: return TP_LEASE_EVENT_NONE;
    }
}

void tp_driver_lease_detach(tp_driver_lease_t *l, tp_publication_t *control, uint64_t now_ns)
{
    if (TP_LEASE_ATTACHED != l->state || NULL == control)
    {
        l->state = TP_LEASE_CLOSED;
        return;
    }
    tp_sbe_driver_shm_detach_request_t m = { 0 };
    if (TP_SBE_OK == tp_sbe_driver_shm_detach_request_wrap_and_apply_header(&m, l->buffer, 0, sizeof(l->buffer)))
    {
        l->correlation_id = next_correlation_id();
        tp_sbe_driver_shm_detach_request_set_correlation_id(&m, l->correlation_id);
        tp_sbe_driver_shm_detach_request_set_lease_id(&m, l->grant.lease_id);
        tp_sbe_driver_shm_detach_request_set_stream_id(&m, l->stream_id);
        tp_sbe_driver_shm_detach_request_set_client_id(&m, l->client_id);
        tp_sbe_driver_shm_detach_request_set_role(&m, (tp_sbe_driver_role_t)l->role);
        tp_sbe_driver_shm_detach_request_zero_padding(&m);
        offer(control, l->buffer, TP_SBE_MESSAGE_HEADER_LENGTH + tp_sbe_driver_shm_detach_request_encoded_length(&m));
    }
    l->state = TP_LEASE_DETACHING;
    l->deadline_ns = now_ns + l->attach_timeout_ns;
}

void tp_driver_lease_reattach(tp_driver_lease_t *l, uint64_t now_ns)
{
    enter_backoff(l, now_ns);
}
