/*
 * The client side of the driver control plane (tp_driver_lease) fed with
 * hand-made driver messages, no transport: protocol errors on OK responses
 * (§4.2, §4.7a), correlation and duplicates (Appendix B.1), client id
 * auto-assignment (B.2), revocation handling (§4.9), shutdown (§4.13),
 * schema gating (§4.4a) and the keepalive deadline (§4.2, §4.4).
 */
#include <string.h>

#include "client/tp_driver_lease.h"
#include "tp_sbe/driver.h"
#include "tp_test.h"

#define NOW 1000000000ull

typedef struct
{
    int64_t correlation_id;
    int32_t code;
    uint32_t stream_id;
    uint16_t slot_bytes;
    uint32_t pool_nslots;
    uint16_t pools;
    const char *header_uri;
    const char *pool_uri;
    bool null_epoch;
    uint64_t lease_expiry;
    const char *message; /* error message of a non-OK response (NULL: "no") */
} response_t;

static response_t ok_response(const tp_driver_lease_t *l)
{
    response_t r = { .correlation_id = l->correlation_id, .code = 0, .stream_id = l->stream_id, .slot_bytes = 256,
        .pool_nslots = 64, .pools = 1, .header_uri = "shm:file?path=/dev/shm/x/header.ring",
        .pool_uri = "shm:file?path=/dev/shm/x/1.pool", .lease_expiry = UINT64_MAX };
    return r;
}

static size_t encode_response(uint8_t *buf, size_t cap, const response_t *r)
{
    tp_sbe_driver_shm_attach_response_t m = { 0 };
    tp_sbe_driver_shm_attach_response_payload_pools_t g = { 0 };
    tp_sbe_driver_shm_attach_response_wrap_and_apply_header(&m, buf, 0, cap);
    tp_sbe_driver_shm_attach_response_set_correlation_id(&m, r->correlation_id);
    tp_sbe_driver_shm_attach_response_set_code(&m, (tp_sbe_driver_response_code_t)r->code);
    tp_sbe_driver_shm_attach_response_set_lease_id(&m, 0 == r->code ? 7 : UINT64_MAX);
    tp_sbe_driver_shm_attach_response_set_lease_expiry_timestamp_ns(&m, r->lease_expiry);
    tp_sbe_driver_shm_attach_response_set_stream_id(&m, r->stream_id);
    tp_sbe_driver_shm_attach_response_set_epoch(&m, r->null_epoch ? UINT64_MAX : 3);
    tp_sbe_driver_shm_attach_response_set_layout_version(&m, 1);
    tp_sbe_driver_shm_attach_response_set_header_nslots(&m, 64);
    tp_sbe_driver_shm_attach_response_set_header_slot_bytes(&m, r->slot_bytes);
    tp_sbe_driver_shm_attach_response_set_node_id(&m, 9);
    tp_sbe_driver_shm_attach_response_set_payload_pools_count(&m, &g, r->pools);
    for (uint16_t i = 0; i < r->pools; i++)
    {
        tp_sbe_driver_shm_attach_response_payload_pools_next(&g);
        tp_sbe_driver_shm_attach_response_payload_pools_set_pool_id(&g, (uint16_t)(i + 1));
        tp_sbe_driver_shm_attach_response_payload_pools_set_pool_nslots(&g, r->pool_nslots);
        tp_sbe_driver_shm_attach_response_payload_pools_set_stride_bytes(&g, 4096);
        tp_sbe_driver_shm_attach_response_payload_pools_put_region_uri(&g, (const uint8_t *)r->pool_uri,
            (uint32_t)strlen(r->pool_uri));
    }
    tp_sbe_driver_shm_attach_response_put_header_region_uri(&m, (const uint8_t *)r->header_uri,
        (uint32_t)strlen(r->header_uri));
    const char *msg = 0 == r->code ? "" : NULL != r->message ? r->message : "no";
    tp_sbe_driver_shm_attach_response_put_error_message(&m, (const uint8_t *)msg, (uint32_t)strlen(msg));
    return TP_SBE_MESSAGE_HEADER_LENGTH + tp_sbe_driver_shm_attach_response_encoded_length(&m);
}

static size_t encode_revoked(uint8_t *buf, size_t cap, uint64_t lease, uint32_t stream, uint32_t client, uint8_t role,
    uint8_t reason)
{
    tp_sbe_driver_shm_lease_revoked_t m = { 0 };
    tp_sbe_driver_shm_lease_revoked_wrap_and_apply_header(&m, buf, 0, cap);
    tp_sbe_driver_shm_lease_revoked_set_lease_id(&m, lease);
    tp_sbe_driver_shm_lease_revoked_set_stream_id(&m, stream);
    tp_sbe_driver_shm_lease_revoked_set_client_id(&m, client);
    tp_sbe_driver_shm_lease_revoked_set_role(&m, (tp_sbe_driver_role_t)role);
    tp_sbe_driver_shm_lease_revoked_set_reason(&m, (tp_sbe_driver_lease_revoke_reason_t)reason);
    tp_sbe_driver_shm_lease_revoked_put_error_message(&m, (const uint8_t *)"", 0);
    return TP_SBE_MESSAGE_HEADER_LENGTH + tp_sbe_driver_shm_lease_revoked_encoded_length(&m);
}

/* A lease that has sent its attach (state ATTACHING) without a transport: the correlation id is set by hand. */
static void attaching(tp_driver_lease_t *l, uint32_t client_id)
{
    tp_driver_lease_init(l, 10000, client_id, TP_LEASE_ROLE_PRODUCER);
    l->state = TP_LEASE_ATTACHING;
    l->correlation_id = 4242;
    l->deadline_ns = NOW + l->attach_timeout_ns;
}

static tp_driver_lease_event_t feed(tp_driver_lease_t *l, const response_t *r)
{
    uint8_t buf[1024];
    size_t n = encode_response(buf, sizeof(buf), r);
    return tp_driver_lease_on_message(l, buf, n, NULL, NOW);
}

/* As feed(), from transport session `session` at `now`. */
static tp_driver_lease_event_t feed_from(tp_driver_lease_t *l, const response_t *r, int32_t session, uint64_t now)
{
    uint8_t buf[1024];
    size_t n = encode_response(buf, sizeof(buf), r);
    tp_header_t h = { .session_id = session, .stream_id = 1000 };
    return tp_driver_lease_on_message(l, buf, n, &h, now);
}

static void test_ok_response_granted(void)
{
    tp_driver_lease_t l;
    attaching(&l, 5);
    response_t r = ok_response(&l);
    TP_ASSERT_EQ_I64(TP_LEASE_EVENT_ATTACHED, feed(&l, &r));
    TP_ASSERT(TP_LEASE_ATTACHED == l.state);
    TP_ASSERT_EQ_U64(7, l.grant.lease_id);
    TP_ASSERT_EQ_U64(3, l.grant.epoch);
    TP_ASSERT_EQ_U64(9, l.grant.node_id);
    TP_ASSERT_STREQ("shm:file?path=/dev/shm/x/header.ring", l.grant.header_uri);
    /* B.1: a duplicate OK, or a non-OK for the same correlation id, changes nothing */
    TP_ASSERT_EQ_I64(TP_LEASE_EVENT_NONE, feed(&l, &r));
    r.code = 3;
    TP_ASSERT_EQ_I64(TP_LEASE_EVENT_NONE, feed(&l, &r));
    TP_ASSERT(TP_LEASE_ATTACHED == l.state);
    TP_ASSERT_EQ_U64(7, l.grant.lease_id);
}

static void test_protocol_errors_drop_and_reattach(void)
{
    /* each is an OK response that must be treated as a protocol error: dropped, counted, backoff (reattach) */
    for (int k = 0; k < 7; k++)
    {
        tp_driver_lease_t l;
        attaching(&l, 5);
        response_t r = ok_response(&l);
        switch (k)
        {
            case 0: r.slot_bytes = 128; break;            /* headerSlotBytes != 256 */
            case 1: r.pools = 0; break;                   /* empty payloadPools */
            case 2: r.pool_nslots = 32; break;            /* poolNslots != headerNslots */
            case 3: r.header_uri = ""; break;             /* empty header URI */
            case 4: r.pool_uri = "   "; break;            /* blank pool URI */
            case 5: r.null_epoch = true; break;           /* required field at its null value */
            case 6: r.stream_id = 10001; break;           /* not the stream asked for */
        }
        TP_ASSERT_EQ_I64(TP_LEASE_EVENT_REJECTED, feed(&l, &r));
        TP_ASSERT_MSG(TP_LEASE_BACKOFF == l.state, "case %d: %s", k, tp_driver_lease_state_name(l.state));
        TP_ASSERT_EQ_U64(1, l.protocol_errors);
        TP_ASSERT_EQ_U64(0, l.rejections);
        TP_ASSERT(NULL != strstr(l.last_error, "protocol error"));
    }
}

static void test_refusal_and_foreign_responses(void)
{
    tp_driver_lease_t l;
    attaching(&l, 5);
    response_t r = ok_response(&l);
    r.correlation_id = 99; /* someone else's */
    TP_ASSERT_EQ_I64(TP_LEASE_EVENT_NONE, feed(&l, &r));
    TP_ASSERT(TP_LEASE_ATTACHING == l.state);
    r = ok_response(&l);
    r.code = 3;
    TP_ASSERT_EQ_I64(TP_LEASE_EVENT_REJECTED, feed(&l, &r));
    TP_ASSERT_EQ_U64(1, l.rejections);
    TP_ASSERT(NULL != strstr(l.last_error, "code 3"));
    /* §4.4a: a newer schema version or another schema is not ours */
    attaching(&l, 5);
    uint8_t buf[1024];
    r = ok_response(&l);
    size_t n = encode_response(buf, sizeof(buf), &r);
    buf[6] = 2; /* version */
    TP_ASSERT_EQ_I64(TP_LEASE_EVENT_NONE, tp_driver_lease_on_message(&l, buf, n, NULL, NOW));
    buf[6] = 1;
    buf[4] = 0x84; /* schema 900 */
    TP_ASSERT_EQ_I64(TP_LEASE_EVENT_NONE, tp_driver_lease_on_message(&l, buf, n, NULL, NOW));
    TP_ASSERT(TP_LEASE_ATTACHING == l.state);
}

static void test_revocations(void)
{
    tp_driver_lease_t l;
    attaching(&l, 5);
    response_t r = ok_response(&l);
    feed(&l, &r);
    uint8_t buf[256];
    /* unknown role or reason values are rejected (§4.9) */
    size_t n = encode_revoked(buf, sizeof(buf), 7, 10000, 5, 9, 2);
    TP_ASSERT_EQ_I64(TP_LEASE_EVENT_NONE, tp_driver_lease_on_message(&l, buf, n, NULL, NOW));
    n = encode_revoked(buf, sizeof(buf), 7, 10000, 5, 1, 9);
    TP_ASSERT_EQ_I64(TP_LEASE_EVENT_NONE, tp_driver_lease_on_message(&l, buf, n, NULL, NOW));
    TP_ASSERT(TP_LEASE_ATTACHED == l.state);
    TP_ASSERT_EQ_U64(2, l.protocol_errors);
    /* another lease's revocation does not tear ours down, nor one naming another client (a keepalive of another
     * client with our lease id, answered "unknown lease" by the driver) */
    n = encode_revoked(buf, sizeof(buf), 7, 10000, 6, 1, 2);
    TP_ASSERT_EQ_I64(TP_LEASE_EVENT_NONE, tp_driver_lease_on_message(&l, buf, n, NULL, NOW));
    TP_ASSERT(TP_LEASE_ATTACHED == l.state);
    n = encode_revoked(buf, sizeof(buf), 8, 10000, 5, 1, 2);
    TP_ASSERT_EQ_I64(TP_LEASE_EVENT_NONE, tp_driver_lease_on_message(&l, buf, n, NULL, NOW));
    TP_ASSERT(TP_LEASE_ATTACHED == l.state);
    /* ours: lost at once; a duplicate is tolerated (no second event) */
    n = encode_revoked(buf, sizeof(buf), 7, 10000, 5, 1, 2);
    TP_ASSERT_EQ_I64(TP_LEASE_EVENT_LOST, tp_driver_lease_on_message(&l, buf, n, NULL, NOW));
    TP_ASSERT(TP_LEASE_BACKOFF == l.state);
    TP_ASSERT_EQ_I64(TP_LEASE_EVENT_NONE, tp_driver_lease_on_message(&l, buf, n, NULL, NOW));
    /* a consumer sees the producer lease of its stream end */
    tp_driver_lease_t c;
    tp_driver_lease_init(&c, 10000, 6, TP_LEASE_ROLE_CONSUMER);
    n = encode_revoked(buf, sizeof(buf), 7, 10000, 5, 1, 2);
    TP_ASSERT_EQ_I64(TP_LEASE_EVENT_PRODUCER_LOST, tp_driver_lease_on_message(&c, buf, n, NULL, NOW));
    n = encode_revoked(buf, sizeof(buf), 7, 10001, 5, 1, 2);
    TP_ASSERT_EQ_I64(TP_LEASE_EVENT_NONE, tp_driver_lease_on_message(&c, buf, n, NULL, NOW));
}

static void test_shutdown_notice(void)
{
    tp_driver_lease_t l;
    attaching(&l, 5);
    response_t r = ok_response(&l);
    feed(&l, &r);
    uint8_t buf[128];
    tp_sbe_driver_shm_driver_shutdown_t m = { 0 };
    tp_sbe_driver_shm_driver_shutdown_wrap_and_apply_header(&m, buf, 0, sizeof(buf));
    tp_sbe_driver_shm_driver_shutdown_set_reason(&m, TP_SBE_DRIVER_SHUTDOWN_REASON_ADMIN);
    tp_sbe_driver_shm_driver_shutdown_put_error_message(&m, (const uint8_t *)"", 0);
    size_t n = TP_SBE_MESSAGE_HEADER_LENGTH + tp_sbe_driver_shm_driver_shutdown_encoded_length(&m);
    TP_ASSERT_EQ_I64(TP_LEASE_EVENT_LOST, tp_driver_lease_on_message(&l, buf, n, NULL, NOW));
    TP_ASSERT(TP_LEASE_BACKOFF == l.state);
}

static void test_client_id_and_correlation(void)
{
    /* B.2: clientId 0 is replaced by a random non-zero id before anything is sent */
    tp_driver_lease_t a;
    tp_driver_lease_t b;
    tp_driver_lease_init(&a, 1, 0, TP_LEASE_ROLE_CONSUMER);
    tp_driver_lease_init(&b, 1, 0, TP_LEASE_ROLE_CONSUMER);
    TP_ASSERT(0 != a.client_id && 0 != b.client_id && a.client_id != b.client_id);
}

static void test_keepalive_deadline(void)
{
    /* §4.2: a granted lease expiry shorter than the configured interval is a hard deadline: keepalives come faster */
    tp_driver_lease_t l;
    attaching(&l, 5);
    l.keepalive_interval_ns = 1000000000ull;
    response_t r = ok_response(&l);
    r.lease_expiry = NOW + 300000000ull;
    TP_ASSERT_EQ_I64(TP_LEASE_EVENT_ATTACHED, feed(&l, &r));
    TP_ASSERT(l.next_keepalive_ns <= NOW + 150000000ull);
    TP_ASSERT_EQ_U64(150000000ull, l.effective_interval_ns);
    /* absent: the configured interval */
    attaching(&l, 5);
    l.keepalive_interval_ns = 1000000000ull;
    r = ok_response(&l);
    TP_ASSERT_EQ_I64(TP_LEASE_EVENT_ATTACHED, feed(&l, &r));
    TP_ASSERT_EQ_U64(NOW + 1000000000ull, l.next_keepalive_ns);
}


static void test_client_id_refusal_flag(void)
{
    /* B.2: only the exact "client_id already attached" marks the refusal as a client id collision */
    tp_driver_lease_t l;
    attaching(&l, 5);
    response_t r = ok_response(&l);
    r.code = 3;
    r.message = "client_id already attached";
    TP_ASSERT_EQ_I64(TP_LEASE_EVENT_REJECTED, feed(&l, &r));
    TP_ASSERT(l.client_id_refused);
    attaching(&l, 5);
    r = ok_response(&l);
    r.code = 3;
    r.message = "stream 10000 already has a producer (client 5): one producer per stream";
    TP_ASSERT_EQ_I64(TP_LEASE_EVENT_REJECTED, feed(&l, &r));
    TP_ASSERT(!l.client_id_refused);
    tp_driver_lease_set_client_id(&l, 0); /* ignored */
    TP_ASSERT_EQ_U64(5, l.client_id);
    tp_driver_lease_set_client_id(&l, 6);
    TP_ASSERT_EQ_U64(6, l.client_id);
    TP_ASSERT_EQ_U64(1, l.client_id_changes);
}

static void test_preferred_node_id(void)
{
    /* a lost lease's node id is asked for again; a refusal of that request gives it up (any id next time) */
    tp_driver_lease_t l;
    attaching(&l, 5);
    TP_ASSERT_EQ_U64(UINT32_MAX, l.preferred_node_id);
    response_t r = ok_response(&l);
    TP_ASSERT_EQ_I64(TP_LEASE_EVENT_ATTACHED, feed(&l, &r)); /* node 9 */
    uint8_t buf[256];
    size_t n = encode_revoked(buf, sizeof(buf), 7, 10000, 5, 1, 2);
    TP_ASSERT_EQ_I64(TP_LEASE_EVENT_LOST, tp_driver_lease_on_message(&l, buf, n, NULL, NOW));
    TP_ASSERT_EQ_U64(9, l.preferred_node_id);
    /* the reattach carried desiredNodeId 9 and was refused (taken meanwhile): the preference is dropped */
    l.state = TP_LEASE_ATTACHING;
    l.correlation_id = 4343;
    l.sent_node_id = 9;
    r = ok_response(&l);
    r.code = 3;
    r.message = "desiredNodeId 9 is unavailable";
    TP_ASSERT_EQ_I64(TP_LEASE_EVENT_REJECTED, feed(&l, &r));
    TP_ASSERT_EQ_U64(UINT32_MAX, l.preferred_node_id);
}

static void test_second_driver_ignored(void)
{
    /* DRV-15: the grant pins the answering driver's session; another session's revocation of our lease, its
     * shutdown notice and its announces of our stream do not move us while our driver keeps announcing */
    tp_driver_lease_t l;
    attaching(&l, 5);
    l.keepalive_interval_ns = 100000000ull;
    response_t r = ok_response(&l);
    r.lease_expiry = NOW + 300000000ull;
    TP_ASSERT_EQ_I64(TP_LEASE_EVENT_ATTACHED, feed_from(&l, &r, 11, NOW));
    TP_ASSERT(l.has_driver_session);
    TP_ASSERT_EQ_I64(11, l.driver_session_id);
    l.next_keepalive_ns = UINT64_MAX; /* no transport here: no keepalive is due */
    /* the other driver's duplicate answer to our attach */
    TP_ASSERT_EQ_I64(TP_LEASE_EVENT_NONE, feed_from(&l, &r, 22, NOW));
    TP_ASSERT_EQ_U64(1, l.foreign_driver_messages);
    /* announces: ours (the granted epoch and header) pins the announce session; another session's is refused */
    const char *uri = "shm:file?path=/dev/shm/x/header.ring";
    TP_ASSERT(!tp_driver_lease_accept_announce(&l, 22, 5, "shm:file?path=/dev/shm/y/header.ring", 36, NOW));
    TP_ASSERT(tp_driver_lease_accept_announce(&l, 11, 3, uri, strlen(uri), NOW));
    TP_ASSERT(tp_driver_lease_accept_announce(&l, 11, 4, "other", 5, NOW)); /* a new epoch of our driver */
    TP_ASSERT(!tp_driver_lease_accept_announce(&l, 22, 3, uri, strlen(uri), NOW));
    TP_ASSERT_EQ_U64(3, l.foreign_driver_messages);
    /* the other driver disowns our lease ("unknown lease"): not obeyed while ours announces */
    uint8_t buf[256];
    size_t n = encode_revoked(buf, sizeof(buf), 7, 10000, 5, 1, 3);
    tp_header_t other = { .session_id = 22 };
    tp_header_t ours = { .session_id = 11 };
    uint64_t t = NOW + 10000000ull;
    TP_ASSERT_EQ_I64(TP_LEASE_EVENT_NONE, tp_driver_lease_on_message(&l, buf, n, &other, t));
    TP_ASSERT(TP_LEASE_ATTACHED == l.state);
    TP_ASSERT(tp_driver_lease_accept_announce(&l, 11, 4, "other", 5, t + 50000000ull));
    tp_driver_lease_event_t ev = TP_LEASE_EVENT_NONE;
    tp_driver_lease_do_work(&l, NULL, t + 400000000ull, &ev);
    TP_ASSERT_EQ_I64(TP_LEASE_EVENT_NONE, ev);
    TP_ASSERT(TP_LEASE_ATTACHED == l.state);
    TP_ASSERT_EQ_U64(0, l.foreign_revoke_ns);
    /* its shutdown notice does not concern us either */
    uint8_t sbuf[128];
    tp_sbe_driver_shm_driver_shutdown_t m = { 0 };
    tp_sbe_driver_shm_driver_shutdown_wrap_and_apply_header(&m, sbuf, 0, sizeof(sbuf));
    tp_sbe_driver_shm_driver_shutdown_set_reason(&m, TP_SBE_DRIVER_SHUTDOWN_REASON_ADMIN);
    tp_sbe_driver_shm_driver_shutdown_put_error_message(&m, (const uint8_t *)"", 0);
    size_t sn = TP_SBE_MESSAGE_HEADER_LENGTH + tp_sbe_driver_shm_driver_shutdown_encoded_length(&m);
    TP_ASSERT_EQ_I64(TP_LEASE_EVENT_NONE, tp_driver_lease_on_message(&l, sbuf, sn, &other, t));
    TP_ASSERT(TP_LEASE_ATTACHED == l.state);
    /* disowned again, and our driver stays silent for a lease duration: it is gone, reattach */
    uint64_t t2 = t + 500000000ull;
    TP_ASSERT_EQ_I64(TP_LEASE_EVENT_NONE, tp_driver_lease_on_message(&l, buf, n, &other, t2));
    tp_driver_lease_do_work(&l, NULL, t2 + 200000000ull, &ev);
    TP_ASSERT_EQ_I64(TP_LEASE_EVENT_NONE, ev); /* within the window */
    tp_driver_lease_do_work(&l, NULL, t2 + 310000000ull, &ev);
    TP_ASSERT_EQ_I64(TP_LEASE_EVENT_LOST, ev);
    TP_ASSERT(TP_LEASE_BACKOFF == l.state);
    TP_ASSERT(!l.has_driver_session);
    /* our own driver's revocation is obeyed at once */
    attaching(&l, 5);
    r = ok_response(&l);
    TP_ASSERT_EQ_I64(TP_LEASE_EVENT_ATTACHED, feed_from(&l, &r, 11, NOW));
    TP_ASSERT_EQ_I64(TP_LEASE_EVENT_LOST, tp_driver_lease_on_message(&l, buf, n, &ours, NOW));
}

int main(void)
{
    TP_RUN(test_ok_response_granted);
    TP_RUN(test_protocol_errors_drop_and_reattach);
    TP_RUN(test_refusal_and_foreign_responses);
    TP_RUN(test_revocations);
    TP_RUN(test_shutdown_notice);
    TP_RUN(test_client_id_and_correlation);
    TP_RUN(test_keepalive_deadline);
    TP_RUN(test_client_id_refusal_flag);
    TP_RUN(test_preferred_node_id);
    TP_RUN(test_second_driver_ignored);
    return tp_test_finish();
}
