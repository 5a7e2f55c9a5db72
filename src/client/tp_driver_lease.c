/* Client side of the driver control plane: attach, keepalive, detach, revocation (see tp_driver_lease.h). */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "client/tp_driver_lease.h"
#include "common/tp_clock.h"
#include "common/tp_error.h"
#include "common/tp_log.h"
#include "protocol/tp_proto.h"
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

uint32_t tp_driver_lease_random_client_id(void)
{
    uint32_t id = 0;
    while (0 == id)
    {
        id = (uint32_t)random_u64();
    }
    return id;
}

void tp_driver_lease_init(tp_driver_lease_t *lease, uint32_t stream_id, uint32_t client_id, uint8_t role)
{
    memset(lease, 0, sizeof(*lease));
    lease->stream_id = stream_id;
    lease->client_id = 0 != client_id ? client_id : tp_driver_lease_random_client_id();
    lease->role = role;
    lease->publish_mode = 1;
    lease->desired_node_id = UINT32_MAX;
    lease->preferred_node_id = UINT32_MAX;
    lease->sent_node_id = UINT32_MAX;
    lease->keepalive_interval_ns = 1000000000ull;
    lease->attach_timeout_ns = 1000000000ull;
    lease->backoff_min_ns = 50000000ull;
    lease->backoff_max_ns = 2000000000ull;
    lease->driver_silence_ns = 9000000000ull;
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

/*
 * The lease is gone (lost, revoked, given back): remember its node id, so the reattach asks for it again
 * (desiredNodeId) and TraceLink node ids stay stable across lease losses and driver restarts.
 */
static void lease_ended(tp_driver_lease_t *l)
{
    if (UINT32_MAX != l->grant.node_id && 0 != l->grant.node_id)
    {
        l->preferred_node_id = l->grant.node_id;
    }
    l->has_driver_session = false;
    l->has_announce_session = false;
    l->foreign_revoke_ns = 0;
}

static int send_attach(tp_driver_lease_t *l, tp_publication_t *pub, uint64_t now_ns)
{
    tp_sbe_driver_shm_attach_request_t m = { 0 };
    if (TP_SBE_OK != tp_sbe_driver_shm_attach_request_wrap_and_apply_header(&m, l->buffer, 0, sizeof(l->buffer)))
    {
        return 0;
    }
    l->correlation_id = next_correlation_id();
    l->client_id_refused = false;
    l->sent_node_id = UINT32_MAX != l->desired_node_id ? l->desired_node_id : l->preferred_node_id;
    tp_sbe_driver_shm_attach_request_set_correlation_id(&m, l->correlation_id);
    tp_sbe_driver_shm_attach_request_set_stream_id(&m, l->stream_id);
    tp_sbe_driver_shm_attach_request_set_client_id(&m, l->client_id);
    tp_sbe_driver_shm_attach_request_set_role(&m, (tp_sbe_driver_role_t)l->role);
    tp_sbe_driver_shm_attach_request_set_expected_layout_version(&m, 0);
    tp_sbe_driver_shm_attach_request_set_publish_mode(&m, (tp_sbe_driver_publish_mode_t)l->publish_mode);
    tp_sbe_driver_shm_attach_request_set_require_hugepages(&m, (tp_sbe_driver_hugepages_policy_t)l->require_hugepages);
    tp_sbe_driver_shm_attach_request_set_desired_node_id(&m, l->sent_node_id);
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

/* How long our driver may stay silent after another session disowned our lease before we believe it. */
static uint64_t confirm_window_ns(const tp_driver_lease_t *l)
{
    uint64_t w = 2 * l->effective_interval_ns;
    return l->lease_duration_ns > w ? l->lease_duration_ns : w;
}

/* Warn about a second driver at most every 10 s per lease. */
static void foreign(tp_driver_lease_t *l, const char *what, int32_t session_id, uint64_t now_ns)
{
    l->foreign_driver_messages++;
    if (1 == l->foreign_driver_messages || now_ns >= l->last_foreign_warn_ns + 10000000000ull)
    {
        l->last_foreign_warn_ns = now_ns;
        TP_LOG_WARN("client", "stream %u: %s from another SHM driver instance (transport session %d; ours is %d): "
            "two drivers serve this control stream, a deployment error (Driver Model §2.1); staying with the driver "
            "that granted lease %llu (%llu such messages)", l->stream_id, what, (int)session_id,
            (int)l->driver_session_id, (unsigned long long)l->grant.lease_id,
            (unsigned long long)l->foreign_driver_messages);
    }
}

/* True when `header` comes from another session than the driver that granted our (attached) lease. */
static bool from_other_driver(const tp_driver_lease_t *l, const tp_header_t *header)
{
    return NULL != header && l->has_driver_session && header->session_id != l->driver_session_id;
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
            if (now_ns > l->last_driver_sign_ns + l->effective_silence_ns)
            {
                snprintf(l->last_error, sizeof(l->last_error),
                    "no ShmPoolAnnounce from the driver for %llu ms: driver presumed dead, reattaching",
                    (unsigned long long)(l->effective_silence_ns / 1000000));
                l->losses++;
                lease_ended(l);
                enter_backoff(l, now_ns);
                *event = TP_LEASE_EVENT_LOST;
                return 1;
            }
            if (0 != l->foreign_revoke_ns)
            {
                if (l->last_driver_sign_ns > l->foreign_revoke_ns)
                {
                    l->foreign_revoke_ns = 0; /* our driver is alive: the other one's word does not count */
                }
                else if (now_ns > l->foreign_revoke_ns + confirm_window_ns(l))
                {
                    snprintf(l->last_error, sizeof(l->last_error),
                        "lease %llu unknown to the driver now answering, and the driver that granted it has been "
                        "silent for %llu ms: reattaching",
                        (unsigned long long)l->grant.lease_id, (unsigned long long)(confirm_window_ns(l) / 1000000));
                    l->losses++;
                    lease_ended(l);
                    l->state = TP_LEASE_BACKOFF;
                    l->deadline_ns = now_ns; /* reattach at once */
                    *event = TP_LEASE_EVENT_LOST;
                    return 1;
                }
            }
            if (now_ns < l->next_keepalive_ns)
            {
                return 0;
            }
            l->next_keepalive_ns = now_ns + l->effective_interval_ns;
            if (!send_keepalive(l, control, now_ns))
            {
                snprintf(l->last_error, sizeof(l->last_error), "keepalive could not be sent: reattaching");
                l->losses++;
                lease_ended(l);
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

static bool uri_ok(const tp_proto_str_t *s)
{
    if (0 == s->length || s->length >= TP_SHM_REGION_URI_MAX)
    {
        return false;
    }
    for (uint32_t i = 0; i < s->length; i++)
    {
        if (' ' != s->data[i] && '\t' != s->data[i])
        {
            return true;
        }
    }
    return false; /* blank */
}

/* Validate and copy an OK response (§4.2). Returns NULL on success or what is wrong. */
static const char *take_grant(tp_driver_lease_t *l, const tp_proto_shm_attach_response_view_t *v)
{
    tp_driver_grant_t *g = &l->grant;
    memset(g, 0, sizeof(*g));
    if (!v->has_lease_id || !v->has_stream_id || !v->has_epoch || !v->has_layout_version || !v->has_header_nslots ||
        !v->has_header_slot_bytes)
    {
        return "a required field is null";
    }
    if (v->stream_id != l->stream_id)
    {
        return "streamId differs from the request";
    }
    if (256 != v->header_slot_bytes)
    {
        return "headerSlotBytes is not 256";
    }
    if (0 == v->pool_count)
    {
        return "payloadPools is empty";
    }
    if (v->pool_count > TP_SHM_EPOCH_MAX_POOLS)
    {
        return "too many payload pools";
    }
    if (!uri_ok(&v->header_region_uri))
    {
        return "headerRegionUri is empty or blank";
    }
    for (uint32_t i = 0; i < v->pool_count; i++)
    {
        if (v->pools[i].pool_nslots != v->header_nslots)
        {
            return "a pool's poolNslots differs from headerNslots";
        }
        if (!uri_ok(&v->pools[i].region_uri))
        {
            return "a pool regionUri is empty or blank";
        }
        g->pool_ids[i] = v->pools[i].pool_id;
        g->strides[i] = v->pools[i].stride_bytes;
        memcpy(g->pool_uris[i], v->pools[i].region_uri.data, v->pools[i].region_uri.length);
        g->pool_uris[i][v->pools[i].region_uri.length] = '\0';
    }
    g->pool_count = v->pool_count;
    g->lease_id = v->lease_id;
    g->lease_expiry_ns = v->has_lease_expiry_timestamp_ns ? v->lease_expiry_timestamp_ns : UINT64_MAX;
    g->stream_id = v->stream_id;
    g->epoch = v->epoch;
    g->layout_version = v->layout_version;
    g->header_nslots = v->header_nslots;
    g->node_id = v->has_node_id ? v->node_id : UINT32_MAX;
    memcpy(g->header_uri, v->header_region_uri.data, v->header_region_uri.length);
    g->header_uri[v->header_region_uri.length] = '\0';
    return NULL;
}

static tp_driver_lease_event_t protocol_error(tp_driver_lease_t *l, const char *problem, uint64_t now_ns)
{
    snprintf(l->last_error, sizeof(l->last_error), "attach response is a protocol error (%s): reattaching", problem);
    l->protocol_errors++;
    TP_LOG_WARN("client", "stream %u: %s", l->stream_id, l->last_error);
    enter_backoff(l, now_ns);
    return TP_LEASE_EVENT_REJECTED;
}

static tp_driver_lease_event_t on_attach_response(tp_driver_lease_t *l, const uint8_t *buffer, size_t length,
    const tp_header_t *header, uint64_t now_ns)
{
    int64_t correlation_id;
    if (length < TP_SBE_MESSAGE_HEADER_LENGTH + sizeof(correlation_id))
    {
        return TP_LEASE_EVENT_NONE;
    }
    memcpy(&correlation_id, buffer + TP_SBE_MESSAGE_HEADER_LENGTH, sizeof(correlation_id));
    if (correlation_id != l->correlation_id)
    {
        return TP_LEASE_EVENT_NONE;
    }
    if (TP_LEASE_ATTACHING != l->state)
    {
        if (TP_LEASE_ATTACHED == l->state && from_other_driver(l, header))
        {
            foreign(l, "a second ShmAttachResponse to our attach", header->session_id, now_ns);
        }
        return TP_LEASE_EVENT_NONE; /* not waiting (a duplicate never overrides an accepted OK, B.1) */
    }
    tp_proto_shm_attach_response_view_t v;
    if (tp_proto_decode_shm_attach_response(buffer, length, &v) < 0)
    {
        /* §4.7a: ours, but malformed or an OK with required fields missing: fail closed and reattach */
        return protocol_error(l, tp_errmsg(), now_ns);
    }
    if (TP_SBE_DRIVER_RESPONSE_CODE_OK != v.code)
    {
        int n = (int)(v.error_message.length > 200 ? 200 : v.error_message.length);
        snprintf(l->last_error, sizeof(l->last_error), "attach refused (code %d): %.*s", (int)v.code, n,
            NULL != v.error_message.data ? v.error_message.data : "");
        l->rejections++;
        static const char in_use[] = "client_id already attached"; /* Appendix B.2, exact */
        l->client_id_refused = v.error_message.length == sizeof(in_use) - 1 && NULL != v.error_message.data &&
            0 == memcmp(v.error_message.data, in_use, sizeof(in_use) - 1);
        if (UINT32_MAX != l->sent_node_id && l->sent_node_id == l->preferred_node_id && !l->client_id_refused)
        {
            /* the node id we held is not available (any more): the next attach takes whichever the driver gives */
            l->preferred_node_id = UINT32_MAX;
        }
        TP_LOG_INFO("client", "stream %u: %s", l->stream_id, l->last_error);
        enter_backoff(l, now_ns);
        return TP_LEASE_EVENT_REJECTED;
    }
    const char *problem = take_grant(l, &v);
    if (NULL != problem)
    {
        return protocol_error(l, problem, now_ns);
    }
    l->state = TP_LEASE_ATTACHED;
    l->backoff_ns = l->backoff_min_ns;
    l->last_driver_sign_ns = now_ns;
    l->has_driver_session = NULL != header;
    l->driver_session_id = NULL != header ? header->session_id : 0;
    l->has_announce_session = false;
    l->foreign_revoke_ns = 0;
    l->lease_duration_ns = UINT64_MAX != l->grant.lease_expiry_ns && l->grant.lease_expiry_ns > now_ns
        ? l->grant.lease_expiry_ns - now_ns
        : 0;
    /* the driver's announce period is not known here; its lease duration bounds it: silence is judged over at
     * least 3 lease durations, never less than the configured window */
    l->effective_silence_ns = l->driver_silence_ns;
    if (UINT64_MAX != l->grant.lease_expiry_ns && l->grant.lease_expiry_ns > now_ns &&
        3 * (l->grant.lease_expiry_ns - now_ns) > l->effective_silence_ns)
    {
        l->effective_silence_ns = 3 * (l->grant.lease_expiry_ns - now_ns);
    }
    /*
     * leaseExpiryTimestampNs is a hard deadline (§4.2): keepalives go out at least twice per lease duration the
     * driver granted, even when the configured interval is longer (a driver with short leases is honoured).
     */
    l->effective_interval_ns = l->keepalive_interval_ns;
    if (UINT64_MAX != l->grant.lease_expiry_ns && l->grant.lease_expiry_ns > now_ns &&
        (l->grant.lease_expiry_ns - now_ns) / 2 < l->effective_interval_ns)
    {
        l->effective_interval_ns = (l->grant.lease_expiry_ns - now_ns) / 2;
    }
    l->next_keepalive_ns = now_ns + l->effective_interval_ns;
    l->last_error[0] = '\0';
    return TP_LEASE_EVENT_ATTACHED;
}

tp_driver_lease_event_t tp_driver_lease_on_message(tp_driver_lease_t *l, const uint8_t *buffer, size_t length,
    const tp_header_t *header, uint64_t now_ns)
{
    uint16_t schema_id = 0;
    uint16_t template_id = 0;
    tp_sbe_header_t h;
    if (tp_proto_peek(buffer, length, &schema_id, &template_id) < 0 || TP_LEASE_SCHEMA_ID != schema_id ||
        TP_SBE_OK != tp_sbe_peek_header(buffer, length, &h) || h.version > TP_LEASE_SCHEMA_VERSION)
    {
        return TP_LEASE_EVENT_NONE; /* other schemas, or a newer version than we support (§4.4a: rejected) */
    }
    switch (template_id)
    {
        case TP_SBE_DRIVER_SHM_ATTACH_RESPONSE_TEMPLATE_ID: return on_attach_response(l, buffer, length, header, now_ns);
        case TP_SBE_DRIVER_SHM_DETACH_RESPONSE_TEMPLATE_ID:
        {
            tp_proto_shm_detach_response_view_t v;
            if (TP_LEASE_DETACHING == l->state && 0 == tp_proto_decode_shm_detach_response(buffer, length, &v) &&
                v.correlation_id == l->correlation_id)
            {
                l->state = TP_LEASE_CLOSED;
                return TP_LEASE_EVENT_DETACHED;
            }
            return TP_LEASE_EVENT_NONE;
        }
        case TP_SBE_DRIVER_SHM_DRIVER_SHUTDOWN_TEMPLATE_ID:
        {
            tp_proto_shm_driver_shutdown_view_t v;
            if (tp_proto_decode_shm_driver_shutdown(buffer, length, &v) < 0)
            {
                return TP_LEASE_EVENT_NONE;
            }
            if (TP_LEASE_ATTACHED == l->state && from_other_driver(l, header))
            {
                foreign(l, "ShmDriverShutdown", header->session_id, now_ns);
                return TP_LEASE_EVENT_NONE;
            }
            if (TP_LEASE_ATTACHED == l->state || TP_LEASE_ATTACHING == l->state)
            {
                snprintf(l->last_error, sizeof(l->last_error), "driver shut down: reattaching when it is back");
                l->losses++;
                lease_ended(l);
                enter_backoff(l, now_ns);
                return TP_LEASE_EVENT_LOST;
            }
            return TP_LEASE_EVENT_NONE;
        }
        case TP_SBE_DRIVER_SHM_LEASE_REVOKED_TEMPLATE_ID:
        {
            tp_proto_shm_lease_revoked_view_t v;
            if (tp_proto_decode_shm_lease_revoked(buffer, length, &v) < 0)
            {
                l->protocol_errors++; /* unknown role or reason values are rejected (§4.9) */
                return TP_LEASE_EVENT_NONE;
            }
            if (TP_LEASE_ATTACHED == l->state && v.lease_id == l->grant.lease_id && v.stream_id == l->stream_id &&
                v.client_id == l->client_id && (uint8_t)v.role == l->role && from_other_driver(l, header))
            {
                /* not the driver that granted it: believed only if ours stays silent (do_work) */
                foreign(l, "ShmLeaseRevoked for our lease", header->session_id, now_ns);
                if (0 == l->foreign_revoke_ns)
                {
                    l->foreign_revoke_ns = now_ns;
                }
                return TP_LEASE_EVENT_NONE;
            }
            if (TP_LEASE_ATTACHED == l->state && v.lease_id == l->grant.lease_id && v.stream_id == l->stream_id &&
                v.client_id == l->client_id && (uint8_t)v.role == l->role)
            {
                snprintf(l->last_error, sizeof(l->last_error), "lease %llu %s: reattaching",
                    (unsigned long long)v.lease_id,
                    TP_SBE_DRIVER_LEASE_REVOKE_REASON_DETACHED == v.reason  ? "detached"
                    : TP_SBE_DRIVER_LEASE_REVOKE_REASON_EXPIRED == v.reason ? "expired"
                                                                            : "revoked");
                l->losses++;
                lease_ended(l);
                l->state = TP_LEASE_BACKOFF;
                l->deadline_ns = now_ns; /* reattach at once */
                return TP_LEASE_EVENT_LOST;
            }
            if (TP_LEASE_ROLE_CONSUMER == l->role && TP_SBE_DRIVER_ROLE_PRODUCER == v.role &&
                v.stream_id == l->stream_id && !from_other_driver(l, header))
            {
                return TP_LEASE_EVENT_PRODUCER_LOST;
            }
            return TP_LEASE_EVENT_NONE;
        }
        default: return TP_LEASE_EVENT_NONE;
    }
}

void tp_driver_lease_note_announce(tp_driver_lease_t *l, uint64_t now_ns)
{
    if (now_ns > l->last_driver_sign_ns)
    {
        l->last_driver_sign_ns = now_ns;
    }
}

bool tp_driver_lease_accept_announce(tp_driver_lease_t *l, int32_t session_id, uint64_t epoch,
    const char *header_uri, size_t uri_length, uint64_t now_ns)
{
    if (TP_LEASE_ATTACHED != l->state)
    {
        return false;
    }
    if (!l->has_announce_session)
    {
        /*
         * The granting driver's announce session: its control session when it announces on the control stream
         * (one publication), else the first announce of the epoch and header region it granted.
         */
        bool granted = epoch == l->grant.epoch && NULL != header_uri && uri_length == strlen(l->grant.header_uri) &&
            0 == memcmp(header_uri, l->grant.header_uri, uri_length);
        if (!granted && !(l->has_driver_session && session_id == l->driver_session_id))
        {
            if (l->has_driver_session && session_id != l->driver_session_id)
            {
                foreign(l, "ShmPoolAnnounce of our stream (not our grant)", session_id, now_ns);
            }
            return false; /* an older epoch of our driver, or another driver's: not used */
        }
        l->has_announce_session = true;
        l->announce_session_id = session_id;
    }
    else if (session_id != l->announce_session_id)
    {
        foreign(l, "ShmPoolAnnounce of our stream", session_id, now_ns);
        return false;
    }
    tp_driver_lease_note_announce(l, now_ns);
    return true;
}

void tp_driver_lease_set_client_id(tp_driver_lease_t *l, uint32_t client_id)
{
    if (0 != client_id)
    {
        l->client_id = client_id;
        l->client_id_changes++;
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

void tp_driver_lease_reattach(tp_driver_lease_t *l, tp_publication_t *control, uint64_t now_ns)
{
    if (TP_LEASE_ATTACHED == l->state && NULL != control)
    {
        /* give the lease back first, so the driver does not hold it (and refuse our next attach) until it expires */
        tp_driver_lease_detach(l, control, now_ns);
    }
    lease_ended(l);
    enter_backoff(l, now_ns);
}
