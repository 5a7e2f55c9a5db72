/*
 * Client side of the driver control plane (Driver Model spec §4, §4.12.1):
 * one lease per producer or consumer in driver mode. The owner (producer or
 * consumer, on the conductor thread) calls tp_driver_lease_do_work() each
 * duty cycle to send attach requests (with timeout and backoff) and
 * keepalives, and hands every driver-schema message of the control stream
 * to tp_driver_lease_on_message(), which reports what happened.
 */
#ifndef TP_CLIENT_TP_DRIVER_LEASE_H
#define TP_CLIENT_TP_DRIVER_LEASE_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "shm/tp_shm_epoch.h"
#include "transport/tp_transport.h"

typedef enum tp_driver_lease_state_enum
{
    TP_LEASE_UNATTACHED = 0, /**< nothing sent yet: the next do_work sends an attach */
    TP_LEASE_ATTACHING = 1,  /**< attach in flight */
    TP_LEASE_ATTACHED = 2,   /**< lease valid: keepalives running */
    TP_LEASE_BACKOFF = 3,    /**< waiting before the next attach */
    TP_LEASE_DETACHING = 4,  /**< detach in flight */
    TP_LEASE_CLOSED = 5      /**< detached or given up */
} tp_driver_lease_state_t;

typedef enum tp_driver_lease_event_enum
{
    TP_LEASE_EVENT_NONE = 0,
    TP_LEASE_EVENT_ATTACHED = 1, /**< a valid OK response: `grant` holds the regions */
    TP_LEASE_EVENT_REJECTED = 2, /**< a non-OK response or a protocol error: backing off */
    TP_LEASE_EVENT_LOST = 3,     /**< own lease revoked/expired, or the driver shut down: stop using the regions */
    TP_LEASE_EVENT_DETACHED = 4, /**< detach answered */
    TP_LEASE_EVENT_PRODUCER_LOST = 5 /**< the producer lease of our stream ended (consumers: await the new epoch) */
} tp_driver_lease_event_t;

/** Role values of the driver schema. */
#define TP_LEASE_ROLE_PRODUCER 1
#define TP_LEASE_ROLE_CONSUMER 2

/** What an OK attach response granted (validated). */
typedef struct tp_driver_grant_stct
{
    uint64_t lease_id;
    uint64_t lease_expiry_ns; /* UINT64_MAX when absent */
    uint32_t stream_id;
    uint64_t epoch;
    uint32_t layout_version;
    uint32_t header_nslots;
    uint32_t node_id; /* UINT32_MAX when absent */
    size_t pool_count;
    uint16_t pool_ids[TP_SHM_EPOCH_MAX_POOLS];
    uint32_t strides[TP_SHM_EPOCH_MAX_POOLS];
    char header_uri[TP_SHM_REGION_URI_MAX];
    char pool_uris[TP_SHM_EPOCH_MAX_POOLS][TP_SHM_REGION_URI_MAX];
} tp_driver_grant_t;

typedef struct tp_driver_lease_stct
{
    /* request */
    uint32_t stream_id;
    uint32_t client_id;
    uint8_t role;
    uint8_t publish_mode;      /* 1 REQUIRE_EXISTING, 2 EXISTING_OR_CREATE */
    uint8_t require_hugepages; /* 0 UNSPECIFIED, 1 STANDARD, 2 HUGEPAGES */
    uint32_t desired_node_id;  /* UINT32_MAX = none */
    uint64_t keepalive_interval_ns;
    uint64_t attach_timeout_ns;
    uint64_t backoff_min_ns;
    uint64_t backoff_max_ns;
    uint64_t driver_silence_ns; /* attached, no ShmPoolAnnounce of our stream for this long: the driver is gone */
    /* state */
    tp_driver_lease_state_t state;
    int64_t correlation_id;
    uint64_t deadline_ns; /* attach timeout, backoff end */
    uint64_t backoff_ns;
    uint64_t next_keepalive_ns;
    uint64_t effective_interval_ns; /* keepalive_interval_ns, shortened to half the granted lease when that is less */
    uint64_t last_driver_sign_ns;   /* grant or last announce of our stream */
    uint64_t effective_silence_ns;  /* driver_silence_ns, at least 3 granted lease durations */
    tp_driver_grant_t grant;
    char last_error[256];
    /* Appendix B.2: the last refusal was "client_id already attached" (the owner may choose a new auto id) */
    bool client_id_refused;
    /* desiredNodeId to ask for on a reattach: the node id of the last granted lease (UINT32_MAX = none) */
    uint32_t preferred_node_id;
    uint32_t sent_node_id; /* desiredNodeId of the outstanding attach (UINT32_MAX = none) */
    /*
     * The driver instance that granted the lease (DRV-15): the transport session of its ShmAttachResponse, and
     * the session of its announces of our stream (the first announce of the granted epoch and header region).
     * Revocations, shutdown notices and announces from other sessions are another driver's: counted, not obeyed
     * while ours is alive.
     */
    bool has_driver_session;
    int32_t driver_session_id;
    bool has_announce_session;
    int32_t announce_session_id;
    uint64_t foreign_revoke_ns; /* another session disowned our lease at this time (0 = no) */
    uint64_t lease_duration_ns; /* granted expiry - grant time (0 = absent) */
    uint64_t last_foreign_warn_ns;
    /* counters */
    uint64_t attaches_sent;
    uint64_t rejections;
    uint64_t protocol_errors;
    uint64_t losses;
    uint64_t keepalives_sent;
    uint64_t foreign_driver_messages; /* responses, revocations, shutdowns, announces of our stream from another driver */
    uint64_t client_id_changes;       /* auto-assigned client ids replaced after "client_id already attached" */
    uint8_t buffer[512];
} tp_driver_lease_t;

/**
 * Initialise a lease for (stream, client, role) with the spec's defaults:
 * keepalive 1 s, attach timeout 1 s, backoff 50 ms doubling to 2 s.
 * `client_id` 0 draws a random non-zero id (Appendix B.2).
 */
void tp_driver_lease_init(tp_driver_lease_t *lease, uint32_t stream_id, uint32_t client_id, uint8_t role);

/**
 * Duty cycle: send an attach when due (unattached, backoff over, attach
 * timed out), keepalives while attached. Returns the number of messages
 * sent. A failed keepalive send moves the lease to LOST (returned through
 * *event), as §4.4 recommends.
 */
int tp_driver_lease_do_work(tp_driver_lease_t *lease, tp_publication_t *control, uint64_t now_ns,
    tp_driver_lease_event_t *event);

/**
 * Handle a message of the control stream. Messages of other schemas or
 * for other leases return TP_LEASE_EVENT_NONE. A response for our
 * outstanding attach yields ATTACHED (grant validated per §4.2: required
 * fields non-null, URIs present, header slot bytes 256, pools non-empty,
 * pool_nslots == header_nslots) or REJECTED (backoff scheduled; protocol
 * errors are counted apart; `client_id_refused` is set when the driver's
 * message is "client_id already attached", Appendix B.2).
 *
 * `header` (may be NULL: any sender is trusted) identifies the sender's
 * transport session: the grant pins the driver instance that answered, and
 * while attached a ShmLeaseRevoked or ShmDriverShutdown from another session
 * (a second driver on the control stream, a deployment error) is counted in
 * `foreign_driver_messages` and only acted on when our own driver stays
 * silent for a lease duration after it (tp_driver_lease_do_work), so a client
 * does not flap between two drivers (DRV-15).
 */
tp_driver_lease_event_t tp_driver_lease_on_message(tp_driver_lease_t *lease, const uint8_t *buffer, size_t length,
    const tp_header_t *header, uint64_t now_ns);

/**
 * An announce of our stream (ShmPoolAnnounce with our stream id) arrived on
 * `session_id` with `epoch` and header region URI `header_uri` (length
 * `uri_length`). Returns true when it comes from the driver that granted the
 * lease (and notes that driver alive, tp_driver_lease_note_announce), false
 * for another driver's announce (counted; the caller ignores it) or when not
 * attached. The announce session is pinned by the first announce of the
 * granted epoch and header region.
 */
bool tp_driver_lease_accept_announce(tp_driver_lease_t *lease, int32_t session_id, uint64_t epoch,
    const char *header_uri, size_t uri_length, uint64_t now_ns);

/**
 * Replace the client id (an auto-assigned one refused with "client_id already
 * attached", Appendix B.2): the next attach, after the backoff already
 * scheduled, uses `client_id` (non-zero).
 */
void tp_driver_lease_set_client_id(tp_driver_lease_t *lease, uint32_t client_id);

/** A random non-zero client id (Appendix B.2 auto-assignment). */
uint32_t tp_driver_lease_random_client_id(void);

/**
 * The driver announced our stream (a ShmPoolAnnounce seen by the owner):
 * proof that it is alive. Keepalives are one-way and other subscribers keep
 * the control stream "connected", so a driver killed without a shutdown
 * notice is only noticed by its silence (§4.13: rely on announces): after
 * `driver_silence_ns` without one, do_work reports LOST and reattaches.
 */
void tp_driver_lease_note_announce(tp_driver_lease_t *lease, uint64_t now_ns);

/** Send a detach for an attached lease (best effort) and close it. */
void tp_driver_lease_detach(tp_driver_lease_t *lease, tp_publication_t *control, uint64_t now_ns);

/**
 * Drop the lease (a detach is sent when it was granted, so the driver frees
 * it at once) and attach again after the backoff, e.g. after the granted
 * regions failed validation.
 */
void tp_driver_lease_reattach(tp_driver_lease_t *lease, tp_publication_t *control, uint64_t now_ns);

/** State name for logs. */
const char *tp_driver_lease_state_name(tp_driver_lease_state_t state);

#endif
