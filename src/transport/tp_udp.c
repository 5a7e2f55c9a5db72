#include "transport/tp_udp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/tp_clock.h"
#include "common/tp_error.h"
#include "common/tp_log.h"

_Static_assert(sizeof(tp_udp_header_t) == TP_UDP_HEADER_LENGTH, "udp header size");

#define TP_UDP_MODULE "transport"
#define TP_UDP_SETUP_INTERVAL_NS (UINT64_C(20000000))
#define TP_UDP_MAX_DATAGRAMS_PER_POLL 256

typedef struct tp_udp_publication_stct
{
    int fd;
    pthread_mutex_t lock;
    struct sockaddr_storage dest;
    socklen_t dest_len;
    int32_t session_id;
    int32_t stream_id;
    uint32_t sequence;
    size_t max_payload;
    _Atomic int64_t position;
    _Atomic bool connected;
    _Atomic int64_t channel_status;
    uint64_t last_status_ns;
    uint64_t last_heartbeat_ns;
    uint64_t liveness_timeout_ns;
    uint8_t *scratch;
    size_t scratch_cap;
    _Atomic uint64_t failed_commits; /* commits whose send failed (should stay 0) */
} tp_udp_publication_t;

typedef struct tp_udp_session_stct
{
    bool in_use;
    bool announced;
    bool removed;
    int32_t session_id;
    struct sockaddr_storage source;
    socklen_t source_len;
    uint32_t next_sequence;
    uint64_t last_seen_ns;
    uint64_t last_status_ns;
    uint8_t *buf;
    size_t buf_cap;
    uint32_t assembling_length;
    uint32_t assembled;
    bool assembling;
    tp_image_t image;
} tp_udp_session_t;

typedef struct tp_udp_subscription_stct
{
    int fd;
    pthread_mutex_t lock;
    tp_subscription_t *owner;
    int32_t stream_id;
    uint64_t liveness_timeout_ns;
    uint8_t rx[65536];
    tp_udp_session_t sessions[TP_UDP_MAX_SESSIONS];
    _Atomic int image_count;
    _Atomic uint64_t stat_messages;
    _Atomic uint64_t stat_bytes;
    _Atomic uint64_t stat_lost_messages;
    _Atomic uint64_t stat_lost_bytes;
    _Atomic uint64_t stat_dropped;
} tp_udp_subscription_t;

static bool tp_udp_is_multicast(const struct sockaddr_storage *addr)
{
    if (AF_INET == addr->ss_family)
    {
        return IN_MULTICAST(ntohl(((const struct sockaddr_in *)(const void *)addr)->sin_addr.s_addr));
    }
    return AF_INET6 == addr->ss_family &&
        IN6_IS_ADDR_MULTICAST(&((const struct sockaddr_in6 *)(const void *)addr)->sin6_addr);
}

static void tp_udp_format_addr(const struct sockaddr_storage *addr, char *buf, size_t len)
{
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (AF_INET == addr->ss_family)
    {
        const struct sockaddr_in *a = (const struct sockaddr_in *)(const void *)addr;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
        port = ntohs(a->sin_port);
        snprintf(buf, len, "%s:%u", host, port);
    }
    else
    {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)(const void *)addr;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
        port = ntohs(a->sin6_port);
        snprintf(buf, len, "[%s]:%u", host, port);
    }
}

static int tp_udp_socket(int family, const char *what)
{
    int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
    {
        return tp_err_set_errno(errno, "%s: socket", what);
    }
    return fd;
}

struct tp_udp_params
{
    struct sockaddr_storage endpoint;
    socklen_t endpoint_len;
    struct sockaddr_storage iface;
    socklen_t iface_len;
    bool has_iface;
    uint64_t mtu;
    int64_t ttl;
    bool multicast;
};

static int tp_udp_parse(const tp_uri_t *uri, struct tp_udp_params *p)
{
    memset(p, 0, sizeof(*p));
    const char *endpoint = tp_uri_get(uri, "endpoint");
    if (NULL == endpoint)
    {
        return tp_err_set(TP_ERR_MALFORMED, "aeron:udp channel needs endpoint=host:port (e.g. "
            "aeron:udp?endpoint=127.0.0.1:40123, or a multicast group address)");
    }
    if (tp_uri_resolve_endpoint(endpoint, false, &p->endpoint, &p->endpoint_len) < 0)
    {
        return -1;
    }
    const char *iface = tp_uri_get(uri, "interface");
    if (NULL != iface)
    {
        if (tp_uri_resolve_interface(iface, &p->iface, &p->iface_len) < 0)
        {
            return -1;
        }
        p->has_iface = true;
    }
    if (tp_uri_get_size(uri, "mtu", TP_UDP_DEFAULT_MTU, 64, 65504, false, &p->mtu) < 0 ||
        tp_uri_get_int(uri, "ttl", 0, 0, 255, &p->ttl) < 0)
    {
        return -1;
    }
    if (0 != p->mtu % 32)
    {
        return tp_err_set(TP_ERR_MALFORMED, "channel parameter mtu=%" PRIu64 " must be a multiple of 32", p->mtu);
    }
    p->multicast = tp_udp_is_multicast(&p->endpoint);
    if (p->multicast && AF_INET != p->endpoint.ss_family)
    {
        return tp_err_set(TP_ERR_UNSUPPORTED, "embedded UDP supports IPv4 multicast only (endpoint %s)", endpoint);
    }
    return 0;
}

/* ------------------------------------------------------------------------- */
/* Publication                                                                */
/* ------------------------------------------------------------------------- */

static void tp_udp_header_init(tp_udp_header_t *h, uint8_t type, int32_t session_id, int32_t stream_id)
{
    memset(h, 0, sizeof(*h));
    h->version = TP_UDP_VERSION;
    h->type = type;
    h->session_id = session_id;
    h->stream_id = stream_id;
}

/* Send one datagram; waits briefly for socket space mid-message. Returns 0, 1 (would block) or -1. */
static int tp_udp_send(tp_udp_publication_t *p, const tp_udp_header_t *h, const uint8_t *payload, size_t len,
    bool may_wait)
{
    struct iovec iov[2] = {
        { .iov_base = (void *)(uintptr_t)h, .iov_len = sizeof(*h) },
        { .iov_base = (void *)(uintptr_t)payload, .iov_len = len },
    };
    struct msghdr msg;
    memset(&msg, 0, sizeof(msg));
    msg.msg_name = &p->dest;
    msg.msg_namelen = p->dest_len;
    msg.msg_iov = iov;
    msg.msg_iovlen = len > 0 ? 2 : 1;
    for (int attempt = 0; attempt < 100; attempt++)
    {
        if (sendmsg(p->fd, &msg, MSG_NOSIGNAL) >= 0)
        {
            return 0;
        }
        if (EAGAIN != errno && EWOULDBLOCK != errno && ENOBUFS != errno)
        {
            if (ECONNREFUSED == errno)
            {
                return 0; /* unicast receiver not there (yet): best effort */
            }
            return tp_err_set_errno(errno, "UDP send");
        }
        if (!may_wait)
        {
            return 1;
        }
        struct pollfd pfd = { .fd = p->fd, .events = POLLOUT };
        poll(&pfd, 1, 1);
    }
    return 1;
}

/*
 * Whether the socket's send buffer has room for a datagram now: POLLOUT on a
 * UDP socket (Linux: less than half of SO_SNDBUF in use) guarantees that the
 * next sendmsg is not refused for lack of buffer (the kernel accepts a
 * datagram while less than SO_SNDBUF is in use). The caller holds p->lock,
 * and every send on p->fd takes it, so the room can only grow until it sends.
 */
static bool tp_udp_send_space(tp_udp_publication_t *p)
{
    struct pollfd pfd = { .fd = p->fd, .events = POLLOUT };
    return 1 == poll(&pfd, 1, 0) && 0 != (pfd.revents & POLLOUT);
}

/*
 * Fragment and send one message; the caller holds p->lock. `wait_first`: the
 * first fragment may wait (bounded) for socket space instead of returning
 * BACK_PRESSURED (a committed claim must not fail for lack of buffer).
 */
static int64_t tp_udp_send_message_locked(tp_udp_publication_t *p, const uint8_t *data, size_t length,
    tp_reserved_value_supplier_t supplier, void *clientd, bool wait_first)
{
    tp_udp_header_t h;
    tp_udp_header_init(&h, TP_UDP_TYPE_DATA, p->session_id, p->stream_id);
    h.message_length = (uint32_t)length;
    h.reserved_value = NULL != supplier ? supplier(clientd, (uint8_t *)(uintptr_t)data, length) : 0;
    size_t offset = 0;
    do
    {
        size_t chunk = length - offset < p->max_payload ? length - offset : p->max_payload;
        h.flags = (uint8_t)((0 == offset ? TP_FRAGMENT_FLAG_BEGIN : 0) |
            (offset + chunk == length ? TP_FRAGMENT_FLAG_END : 0));
        h.fragment_offset = (uint32_t)offset;
        h.sequence = p->sequence;
        int rc = tp_udp_send(p, &h, data + offset, chunk, wait_first || 0 != offset);
        if (rc < 0)
        {
            atomic_store(&p->channel_status, TP_CHANNEL_STATUS_ERRORED);
            return TP_PUBLICATION_ERROR;
        }
        if (rc > 0)
        {
            /* Nothing sent yet: no side effect. Mid-message: the receiver drops the partial message (counted). */
            if (0 != offset)
            {
                p->sequence++;
            }
            return TP_PUBLICATION_BACK_PRESSURED;
        }
        p->sequence++;
        offset += chunk;
    }
    while (offset < length);
    return atomic_fetch_add(&p->position, (int64_t)(length + TP_UDP_HEADER_LENGTH)) +
        (int64_t)(length + TP_UDP_HEADER_LENGTH);
}

static int64_t tp_udp_offerv(void *impl, const struct iovec *iov, size_t iovcnt, size_t length,
    tp_reserved_value_supplier_t supplier, void *clientd)
{
    tp_udp_publication_t *p = impl;
    if (!atomic_load_explicit(&p->connected, memory_order_acquire))
    {
        return TP_PUBLICATION_NOT_CONNECTED;
    }
    pthread_mutex_lock(&p->lock);
    const uint8_t *data;
    if (1 == iovcnt)
    {
        data = iov[0].iov_base;
    }
    else
    {
        size_t off = 0;
        for (size_t i = 0; i < iovcnt; i++)
        {
            if (iov[i].iov_len > 0)
            {
                memcpy(p->scratch + off, iov[i].iov_base, iov[i].iov_len);
                off += iov[i].iov_len;
            }
        }
        data = p->scratch;
    }
    int64_t result = tp_udp_send_message_locked(p, data, length, supplier, clientd, false);
    pthread_mutex_unlock(&p->lock);
    return result;
}

static const tp_publication_ops_t tp_udp_publication_ops;

static int64_t tp_udp_try_claim(void *impl, size_t length, tp_buffer_claim_t *claim)
{
    tp_udp_publication_t *p = impl;
    if (!atomic_load_explicit(&p->connected, memory_order_acquire))
    {
        return TP_PUBLICATION_NOT_CONNECTED;
    }
    /*
     * The claim buffer is the publication's scratch space; the send happens on
     * commit. Back pressure must be reported here, before the caller does
     * anything it cannot undo (the client commits its SHM slot between claim
     * and commit): refuse the claim unless the socket has room for the
     * datagram (try_claim is limited to one fragment, so one datagram).
     */
    pthread_mutex_lock(&p->lock);
    if (!tp_udp_send_space(p))
    {
        pthread_mutex_unlock(&p->lock);
        return TP_PUBLICATION_BACK_PRESSURED;
    }
    claim->data = p->scratch;
    claim->length = length;
    claim->frame = p->scratch;
    claim->impl = p;
    claim->ops = &tp_udp_publication_ops;
    return atomic_load(&p->position) + (int64_t)(length + TP_UDP_HEADER_LENGTH);
}

static int tp_udp_commit(tp_buffer_claim_t *claim)
{
    tp_udp_publication_t *p = claim->impl;
    claim->ops = NULL;
    claim->frame = NULL;
    /*
     * Still holding the lock taken by try_claim: the scratch buffer is ours and
     * nobody else sent on the socket since try_claim saw room for the
     * datagram, so the send cannot be refused for lack of buffer. Waiting
     * (bounded, ~100 ms) is only a safety net.
     */
    int64_t rc = tp_udp_send_message_locked(p, claim->data, claim->length, NULL, NULL, true);
    pthread_mutex_unlock(&p->lock);
    if (rc > 0)
    {
        return 0;
    }
    atomic_fetch_add_explicit(&p->failed_commits, 1, memory_order_relaxed);
    if (TP_PUBLICATION_ERROR == rc)
    {
        return -1; /* tp_udp_send set the error */
    }
    return tp_err_set(TP_ERR_WOULD_BLOCK, "UDP claim commit could not send (socket buffer full; result %" PRId64
        ")", rc);
}

static int tp_udp_abort(tp_buffer_claim_t *claim)
{
    tp_udp_publication_t *p = claim->impl;
    claim->ops = NULL;
    claim->frame = NULL;
    pthread_mutex_unlock(&p->lock);
    return 0;
}

static bool tp_udp_pub_is_connected(void *impl)
{
    tp_udp_publication_t *p = impl;
    return atomic_load(&p->connected);
}

static int64_t tp_udp_pub_channel_status(void *impl)
{
    tp_udp_publication_t *p = impl;
    return atomic_load(&p->channel_status);
}

static int64_t tp_udp_pub_position(void *impl)
{
    tp_udp_publication_t *p = impl;
    return atomic_load(&p->position);
}

static int tp_udp_pub_do_work(void *impl, uint64_t now_ns)
{
    tp_udp_publication_t *p = impl;
    int work = 0;
    uint8_t buf[256];
    for (int i = 0; i < 64; i++)
    {
        ssize_t n = recv(p->fd, buf, sizeof(buf), 0);
        if (n < 0)
        {
            break;
        }
        const tp_udp_header_t *h = (const tp_udp_header_t *)(const void *)buf;
        if ((size_t)n >= sizeof(*h) && TP_UDP_VERSION == h->version && TP_UDP_TYPE_STATUS == h->type &&
            h->session_id == p->session_id && h->stream_id == p->stream_id)
        {
            p->last_status_ns = now_ns;
            work++;
        }
    }
    bool connected = 0 != p->last_status_ns && now_ns - p->last_status_ns < p->liveness_timeout_ns;
    if (connected != atomic_load(&p->connected))
    {
        atomic_store_explicit(&p->connected, connected, memory_order_release);
        work++;
    }
    uint64_t interval = connected ? p->liveness_timeout_ns / 10 : TP_UDP_SETUP_INTERVAL_NS;
    if (now_ns - p->last_heartbeat_ns >= interval)
    {
        tp_udp_header_t h;
        tp_udp_header_init(&h, TP_UDP_TYPE_HEARTBEAT, p->session_id, p->stream_id);
        pthread_mutex_lock(&p->lock);
        h.sequence = p->sequence;
        tp_udp_send(p, &h, NULL, 0, false);
        pthread_mutex_unlock(&p->lock);
        p->last_heartbeat_ns = now_ns;
        work++;
    }
    return work;
}

static int tp_udp_pub_close(void *impl)
{
    tp_udp_publication_t *p = impl;
    close(p->fd);
    pthread_mutex_destroy(&p->lock);
    free(p->scratch);
    free(p);
    return 0;
}

static const tp_publication_ops_t tp_udp_publication_ops = {
    .offerv = tp_udp_offerv,
    .try_claim = tp_udp_try_claim,
    .commit = tp_udp_commit,
    .abort = tp_udp_abort,
    .is_connected = tp_udp_pub_is_connected,
    .channel_status = tp_udp_pub_channel_status,
    .position = tp_udp_pub_position,
    .do_work = tp_udp_pub_do_work,
    .close = tp_udp_pub_close,
};

int tp_udp_publication_socket(const tp_publication_t *pub)
{
    if (NULL == pub || &tp_udp_publication_ops != pub->ops)
    {
        return -1;
    }
    return ((const tp_udp_publication_t *)pub->impl)->fd;
}

uint64_t tp_udp_publication_failed_commits(const tp_publication_t *pub)
{
    if (NULL == pub || &tp_udp_publication_ops != pub->ops)
    {
        return 0;
    }
    return atomic_load(&((tp_udp_publication_t *)pub->impl)->failed_commits);
}

int tp_udp_publication_open(tp_transport_t *t, const tp_uri_t *uri, int32_t stream_id, tp_publication_t *pub)
{
    struct tp_udp_params params;
    if (tp_udp_parse(uri, &params) < 0)
    {
        return -1;
    }
    tp_udp_publication_t *p = calloc(1, sizeof(*p));
    if (NULL == p)
    {
        return tp_err_set(TP_ERR_NO_MEMORY, "UDP publication: out of memory");
    }
    p->scratch_cap = TP_UDP_MAX_MESSAGE_LENGTH;
    p->scratch = malloc(p->scratch_cap);
    p->fd = NULL == p->scratch ? -1 : tp_udp_socket(params.endpoint.ss_family, "UDP publication");
    if (p->fd < 0)
    {
        bool oom = NULL == p->scratch;
        free(p->scratch);
        free(p);
        return oom ? tp_err_set(TP_ERR_NO_MEMORY, "UDP publication: out of memory") : -1;
    }
    if (params.multicast)
    {
        unsigned char ttl = (unsigned char)(0 == params.ttl ? 1 : params.ttl);
        unsigned char loop = 1;
        setsockopt(p->fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof(ttl));
        setsockopt(p->fd, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof(loop));
        if (params.has_iface)
        {
            struct in_addr ifaddr = ((struct sockaddr_in *)(void *)&params.iface)->sin_addr;
            if (0 != setsockopt(p->fd, IPPROTO_IP, IP_MULTICAST_IF, &ifaddr, sizeof(ifaddr)))
            {
                int e = errno;
                close(p->fd);
                free(p->scratch);
                free(p);
                return tp_err_set_errno(e, "UDP publication: cannot use interface for multicast");
            }
        }
    }
    else if (params.ttl > 0)
    {
        int ttl = (int)params.ttl;
        setsockopt(p->fd, IPPROTO_IP, IP_TTL, &ttl, sizeof(ttl));
    }
    if (params.has_iface)
    {
        /* Bind the source address to the interface (ephemeral port). */
        if (AF_INET == params.iface.ss_family)
        {
            ((struct sockaddr_in *)(void *)&params.iface)->sin_port = 0;
        }
        if (0 != bind(p->fd, (struct sockaddr *)&params.iface, params.iface_len))
        {
            int e = errno;
            close(p->fd);
            free(p->scratch);
            free(p);
            return tp_err_set_errno(e, "UDP publication: cannot bind to interface");
        }
    }
    pthread_mutex_init(&p->lock, NULL);
    p->dest = params.endpoint;
    p->dest_len = params.endpoint_len;
    p->stream_id = stream_id;
    uint32_t seed = (uint32_t)tp_clock_mono_ns() ^ ((uint32_t)getpid() << 16);
    p->session_id = (int32_t)(seed * 2654435761u);
    p->max_payload = (size_t)params.mtu - TP_UDP_HEADER_LENGTH;
    p->liveness_timeout_ns = t->ctx.liveness_timeout_ns;
    atomic_init(&p->position, 0);
    atomic_init(&p->connected, false);
    atomic_init(&p->channel_status, TP_CHANNEL_STATUS_ACTIVE);
    atomic_init(&p->failed_commits, 0);
    pub->ops = &tp_udp_publication_ops;
    pub->impl = p;
    pub->session_id = p->session_id;
    pub->max_payload_length = p->max_payload;
    pub->max_message_length = TP_UDP_MAX_MESSAGE_LENGTH;
    tp_udp_pub_do_work(p, tp_clock_mono_ns());
    return 0;
}

/* ------------------------------------------------------------------------- */
/* Subscription                                                               */
/* ------------------------------------------------------------------------- */

static bool tp_udp_same_source(const tp_udp_session_t *s, const struct sockaddr_storage *src, socklen_t len)
{
    return s->source_len == len && 0 == memcmp(&s->source, src, len);
}

static void tp_udp_send_status(tp_udp_subscription_t *s, tp_udp_session_t *session, uint64_t now_ns)
{
    tp_udp_header_t h;
    tp_udp_header_init(&h, TP_UDP_TYPE_STATUS, session->session_id, s->stream_id);
    sendto(s->fd, &h, sizeof(h), MSG_NOSIGNAL, (struct sockaddr *)&session->source, session->source_len);
    session->last_status_ns = now_ns;
}

static tp_udp_session_t *tp_udp_session_find(
    tp_udp_subscription_t *s, int32_t session_id, const struct sockaddr_storage *src, socklen_t len,
    uint32_t sequence, uint64_t now_ns)
{
    tp_udp_session_t *free_slot = NULL;
    for (uint32_t i = 0; i < TP_UDP_MAX_SESSIONS; i++)
    {
        tp_udp_session_t *session = &s->sessions[i];
        if (session->in_use && !session->removed && session->session_id == session_id &&
            tp_udp_same_source(session, src, len))
        {
            return session;
        }
        if (!session->in_use && NULL == free_slot)
        {
            free_slot = session;
        }
    }
    if (NULL == free_slot)
    {
        return NULL;
    }
    uint8_t *buf = free_slot->buf;
    size_t cap = free_slot->buf_cap;
    memset(free_slot, 0, sizeof(*free_slot));
    free_slot->buf = buf;
    free_slot->buf_cap = cap;
    free_slot->in_use = true;
    free_slot->session_id = session_id;
    memcpy(&free_slot->source, src, len);
    free_slot->source_len = len;
    free_slot->next_sequence = sequence;
    free_slot->last_seen_ns = now_ns;
    free_slot->image.session_id = session_id;
    free_slot->image.stream_id = s->stream_id;
    free_slot->image.join_time_ns = now_ns;
    free_slot->image.subscription = s->owner;
    tp_udp_format_addr(src, free_slot->image.source_identity, sizeof(free_slot->image.source_identity));
    tp_udp_send_status(s, free_slot, now_ns);
    return free_slot;
}

static void tp_udp_drop_partial(tp_udp_subscription_t *s, tp_udp_session_t *session)
{
    if (session->assembling)
    {
        atomic_fetch_add(&s->stat_lost_messages, 1);
        atomic_fetch_add(&s->stat_lost_bytes, session->assembled);
        session->assembling = false;
    }
}

static int tp_udp_sub_poll(void *impl, tp_fragment_handler_t handler, void *clientd, size_t fragment_limit)
{
    tp_udp_subscription_t *s = impl;
    int delivered = 0;
    pthread_mutex_lock(&s->lock);
    uint64_t now = 0;
    for (int i = 0; i < TP_UDP_MAX_DATAGRAMS_PER_POLL && (size_t)delivered < fragment_limit; i++)
    {
        struct sockaddr_storage src;
        socklen_t src_len = sizeof(src);
        ssize_t n = recvfrom(s->fd, s->rx, sizeof(s->rx), 0, (struct sockaddr *)&src, &src_len);
        if (n < 0)
        {
            break;
        }
        tp_udp_header_t h;
        if ((size_t)n < sizeof(h))
        {
            atomic_fetch_add(&s->stat_dropped, 1);
            continue;
        }
        memcpy(&h, s->rx, sizeof(h));
        if (TP_UDP_VERSION != h.version || h.stream_id != s->stream_id ||
            (TP_UDP_TYPE_DATA != h.type && TP_UDP_TYPE_HEARTBEAT != h.type))
        {
            if (h.stream_id == s->stream_id)
            {
                atomic_fetch_add(&s->stat_dropped, 1);
            }
            continue;
        }
        if (0 == now)
        {
            now = tp_clock_mono_ns();
        }
        tp_udp_session_t *session = tp_udp_session_find(s, h.session_id, &src, src_len, h.sequence, now);
        if (NULL == session)
        {
            atomic_fetch_add(&s->stat_dropped, 1);
            continue;
        }
        session->last_seen_ns = now;
        if (TP_UDP_TYPE_HEARTBEAT == h.type)
        {
            if (h.sequence != session->next_sequence && (int32_t)(h.sequence - session->next_sequence) > 0)
            {
                /* Datagrams lost before the heartbeat. */
                atomic_fetch_add(&s->stat_lost_messages, h.sequence - session->next_sequence);
                tp_udp_drop_partial(s, session);
                session->next_sequence = h.sequence;
            }
            continue;
        }
        size_t payload = (size_t)n - sizeof(h);
        int32_t gap = (int32_t)(h.sequence - session->next_sequence);
        if (gap < 0)
        {
            atomic_fetch_add(&s->stat_dropped, 1); /* late or duplicate */
            continue;
        }
        if (gap > 0)
        {
            atomic_fetch_add(&s->stat_lost_messages, (uint64_t)gap);
            tp_udp_drop_partial(s, session);
        }
        session->next_sequence = h.sequence + 1;
        if (h.message_length > TP_UDP_MAX_MESSAGE_LENGTH || (uint64_t)h.fragment_offset + payload > h.message_length)
        {
            atomic_fetch_add(&s->stat_dropped, 1);
            tp_udp_drop_partial(s, session);
            continue;
        }
        tp_header_t header = {
            .session_id = h.session_id,
            .stream_id = h.stream_id,
            .position = 0,
            .reserved_value = h.reserved_value,
            .flags = TP_FRAGMENT_FLAG_UNFRAGMENTED,
        };
        if (TP_FRAGMENT_FLAG_UNFRAGMENTED == (h.flags & TP_FRAGMENT_FLAG_UNFRAGMENTED))
        {
            if (payload != h.message_length)
            {
                atomic_fetch_add(&s->stat_dropped, 1);
                continue;
            }
            tp_udp_drop_partial(s, session);
            delivered++;
            atomic_fetch_add(&s->stat_messages, 1);
            atomic_fetch_add(&s->stat_bytes, payload);
            handler(clientd, s->rx + sizeof(h), payload, &header);
            continue;
        }
        if (h.flags & TP_FRAGMENT_FLAG_BEGIN)
        {
            tp_udp_drop_partial(s, session);
            if (0 != h.fragment_offset)
            {
                atomic_fetch_add(&s->stat_dropped, 1);
                continue;
            }
            if (session->buf_cap < h.message_length)
            {
                uint8_t *nb = realloc(session->buf, h.message_length);
                if (NULL == nb)
                {
                    atomic_fetch_add(&s->stat_dropped, 1);
                    continue;
                }
                session->buf = nb;
                session->buf_cap = h.message_length;
            }
            session->assembling = true;
            session->assembling_length = h.message_length;
            session->assembled = 0;
        }
        if (!session->assembling || h.message_length != session->assembling_length ||
            h.fragment_offset != session->assembled)
        {
            atomic_fetch_add(&s->stat_dropped, 1);
            tp_udp_drop_partial(s, session);
            continue;
        }
        memcpy(session->buf + session->assembled, s->rx + sizeof(h), payload);
        session->assembled += (uint32_t)payload;
        if (h.flags & TP_FRAGMENT_FLAG_END)
        {
            session->assembling = false;
            if (session->assembled != session->assembling_length)
            {
                atomic_fetch_add(&s->stat_dropped, 1);
                continue;
            }
            delivered++;
            atomic_fetch_add(&s->stat_messages, 1);
            atomic_fetch_add(&s->stat_bytes, session->assembled);
            handler(clientd, session->buf, session->assembled, &header);
        }
    }
    pthread_mutex_unlock(&s->lock);
    return delivered;
}

static int tp_udp_sub_image_count(void *impl)
{
    tp_udp_subscription_t *s = impl;
    return atomic_load(&s->image_count);
}

static int64_t tp_udp_sub_channel_status(void *impl)
{
    (void)impl;
    return TP_CHANNEL_STATUS_ACTIVE;
}

static int tp_udp_sub_stats(void *impl, tp_subscription_stats_t *stats)
{
    tp_udp_subscription_t *s = impl;
    memset(stats, 0, sizeof(*stats));
    stats->messages = atomic_load(&s->stat_messages);
    stats->bytes = atomic_load(&s->stat_bytes);
    stats->lost_messages = atomic_load(&s->stat_lost_messages);
    stats->lost_bytes = atomic_load(&s->stat_lost_bytes);
    stats->dropped = atomic_load(&s->stat_dropped);
    return 0;
}

static int tp_udp_sub_do_work(void *impl, uint64_t now_ns)
{
    tp_udp_subscription_t *s = impl;
    tp_image_t events[TP_UDP_MAX_SESSIONS];
    bool available[TP_UDP_MAX_SESSIONS];
    int n_events = 0;
    int count = 0;
    pthread_mutex_lock(&s->lock);
    for (uint32_t i = 0; i < TP_UDP_MAX_SESSIONS; i++)
    {
        tp_udp_session_t *session = &s->sessions[i];
        if (!session->in_use)
        {
            continue;
        }
        if (!session->removed && now_ns > session->last_seen_ns &&
            now_ns - session->last_seen_ns > s->liveness_timeout_ns)
        {
            session->removed = true;
            tp_udp_drop_partial(s, session);
        }
        if (session->removed)
        {
            if (session->announced)
            {
                events[n_events] = session->image;
                available[n_events++] = false;
            }
            session->in_use = false;
            continue;
        }
        if (!session->announced)
        {
            session->announced = true;
            events[n_events] = session->image;
            available[n_events++] = true;
        }
        if (now_ns - session->last_status_ns >= s->liveness_timeout_ns / 10)
        {
            tp_udp_send_status(s, session, now_ns);
        }
        count++;
    }
    atomic_store(&s->image_count, count);
    pthread_mutex_unlock(&s->lock);
    for (int i = 0; i < n_events; i++)
    {
        if (available[i])
        {
            tp_subscription_notify_available(s->owner, &events[i]);
        }
        else
        {
            tp_subscription_notify_unavailable(s->owner, &events[i]);
        }
    }
    return n_events;
}

static int tp_udp_sub_close(void *impl)
{
    tp_udp_subscription_t *s = impl;
    close(s->fd);
    for (uint32_t i = 0; i < TP_UDP_MAX_SESSIONS; i++)
    {
        free(s->sessions[i].buf);
    }
    pthread_mutex_destroy(&s->lock);
    free(s);
    return 0;
}

static const tp_subscription_ops_t tp_udp_subscription_ops = {
    .poll = tp_udp_sub_poll,
    .image_count = tp_udp_sub_image_count,
    .channel_status = tp_udp_sub_channel_status,
    .stats = tp_udp_sub_stats,
    .do_work = tp_udp_sub_do_work,
    .close = tp_udp_sub_close,
};

int tp_udp_subscription_open(tp_transport_t *t, const tp_uri_t *uri, int32_t stream_id, tp_subscription_t *sub)
{
    struct tp_udp_params params;
    if (tp_udp_parse(uri, &params) < 0)
    {
        return -1;
    }
    tp_udp_subscription_t *s = calloc(1, sizeof(*s));
    if (NULL == s)
    {
        return tp_err_set(TP_ERR_NO_MEMORY, "UDP subscription: out of memory");
    }
    s->fd = tp_udp_socket(params.endpoint.ss_family, "UDP subscription");
    if (s->fd < 0)
    {
        free(s);
        return -1;
    }
    int one = 1;
    int rcvbuf = 4 * 1024 * 1024;
    setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    char ep[96];
    tp_udp_format_addr(&params.endpoint, ep, sizeof(ep));
    struct sockaddr_storage bind_addr = params.endpoint;
    if (params.multicast)
    {
        setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        setsockopt(s->fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
        struct ip_mreq mreq;
        memset(&mreq, 0, sizeof(mreq));
        mreq.imr_multiaddr = ((struct sockaddr_in *)(void *)&params.endpoint)->sin_addr;
        mreq.imr_interface.s_addr = params.has_iface ?
            ((struct sockaddr_in *)(void *)&params.iface)->sin_addr.s_addr : htonl(INADDR_ANY);
        if (0 != setsockopt(s->fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof(mreq)))
        {
            int e = errno;
            close(s->fd);
            free(s);
            return tp_err_set_errno(e, "UDP subscription: cannot join multicast group %s (check interface=)", ep);
        }
    }
    if (0 != bind(s->fd, (struct sockaddr *)&bind_addr, params.endpoint_len))
    {
        int e = errno;
        close(s->fd);
        free(s);
        return tp_err_set_errno(e, "UDP subscription: cannot bind %s (in use by another subscription, or not a "
            "local address?)", ep);
    }
    pthread_mutex_init(&s->lock, NULL);
    s->owner = sub;
    s->stream_id = stream_id;
    s->liveness_timeout_ns = t->ctx.liveness_timeout_ns;
    sub->ops = &tp_udp_subscription_ops;
    sub->impl = s;
    return 0;
}
