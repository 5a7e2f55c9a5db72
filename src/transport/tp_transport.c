#include "transport/tp_transport.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/tp_clock.h"
#include "common/tp_error.h"
#include "common/tp_idle_strategy.h"
#include "common/tp_log.h"
#include "common/tp_uri.h"
#include "transport/tp_transport_internal.h"

int tp_transport_context_init(tp_transport_context_t *ctx)
{
    if (NULL == ctx)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_transport_context_init: NULL ctx");
    }
    memset(ctx, 0, sizeof(*ctx));
    snprintf(ctx->backend, sizeof(ctx->backend), "embedded");
    const char *backend = getenv(TP_TRANSPORT_BACKEND_ENV);
    if (NULL != backend && '\0' != *backend)
    {
        snprintf(ctx->backend, sizeof(ctx->backend), "%s", backend);
    }
    const char *dir = getenv(TP_TRANSPORT_DIR_ENV);
    if (NULL != dir)
    {
        snprintf(ctx->dir, sizeof(ctx->dir), "%s", dir);
    }
    ctx->liveness_timeout_ns = TP_TRANSPORT_DEFAULT_LIVENESS_TIMEOUT_NS;
    ctx->unblock_timeout_ns = TP_TRANSPORT_DEFAULT_UNBLOCK_TIMEOUT_NS;
    ctx->client_timeout_ns = TP_TRANSPORT_DEFAULT_CLIENT_TIMEOUT_NS;
    ctx->tether_timeout_ns = TP_TRANSPORT_DEFAULT_TETHER_TIMEOUT_NS;
    const char *tether = getenv(TP_TRANSPORT_TETHER_TIMEOUT_ENV);
    uint64_t tether_ns = 0;
    if (NULL != tether && '\0' != *tether)
    {
        if (tp_uri_parse_duration(tether, &tether_ns) < 0)
        {
            TP_LOG_WARN("transport", "ignoring %s=%s: not a duration (e.g. 100ms, 2s, 0 = never)",
                TP_TRANSPORT_TETHER_TIMEOUT_ENV, tether);
        }
        else
        {
            ctx->tether_timeout_ns = tether_ns;
        }
    }
    return 0;
}

int tp_transport_context_set_dir(tp_transport_context_t *ctx, const char *dir)
{
    if (NULL == ctx || NULL == dir || strlen(dir) >= sizeof(ctx->dir))
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_transport_context_set_dir: NULL or too long directory");
    }
    snprintf(ctx->dir, sizeof(ctx->dir), "%s", dir);
    return 0;
}

int tp_transport_context_set_backend(tp_transport_context_t *ctx, const char *backend)
{
    if (NULL == ctx || NULL == backend || (0 != strcmp(backend, "embedded") && 0 != strcmp(backend, "aeron")))
    {
        return tp_err_set(TP_ERR_CONFIG, "transport backend '%s' unknown (expected 'embedded' or 'aeron')",
            NULL == backend ? "(null)" : backend);
    }
    snprintf(ctx->backend, sizeof(ctx->backend), "%s", backend);
    return 0;
}

int tp_transport_default_dir(char *buf, size_t len)
{
    int n = snprintf(buf, len, "/dev/shm/tensorpool-%u/transport", (unsigned)getuid());
    if (n < 0 || (size_t)n >= len)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_transport_default_dir: buffer too small");
    }
    return 0;
}

static int tp_mkdir_private(const char *path)
{
    if (0 != mkdir(path, 0700) && EEXIST != errno)
    {
        return tp_err_set_errno(errno, "cannot create transport directory %s", path);
    }
    return 0;
}

static int tp_transport_resolve_dir(tp_transport_t *t)
{
    if ('\0' == t->ctx.dir[0])
    {
        char parent[PATH_MAX];
        snprintf(parent, sizeof(parent), "/dev/shm/tensorpool-%u", (unsigned)getuid());
        if (tp_mkdir_private(parent) < 0 || tp_transport_default_dir(t->dir, sizeof(t->dir)) < 0 ||
            tp_mkdir_private(t->dir) < 0)
        {
            return -1;
        }
    }
    else
    {
        snprintf(t->dir, sizeof(t->dir), "%s", t->ctx.dir);
    }
    struct stat st;
    if (0 != stat(t->dir, &st))
    {
        return tp_err_set_errno(errno, "transport directory %s is not usable (create it, or set another with "
            "tp_transport_context_set_dir / $%s)", t->dir, TP_TRANSPORT_DIR_ENV);
    }
    if (!S_ISDIR(st.st_mode))
    {
        return tp_err_set(TP_ERR_CONFIG, "transport directory %s is not a directory", t->dir);
    }
    if (0 != access(t->dir, R_OK | W_OK | X_OK))
    {
        return tp_err_set(TP_ERR_PERMISSION, "transport directory %s is not writable by uid %u (fix its permissions "
            "or choose another directory)", t->dir, (unsigned)getuid());
    }
    return 0;
}

int tp_transport_init(tp_transport_t **out, const tp_transport_context_t *ctx)
{
    if (NULL == out || NULL == ctx)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_transport_init: out and ctx must not be NULL");
    }
    *out = NULL;
    const tp_transport_backend_ops_t *backend = NULL;
    if (0 == strcmp(ctx->backend, "embedded"))
    {
        backend = &tp_embedded_backend_ops;
    }
    else if (0 == strcmp(ctx->backend, "aeron"))
    {
#if defined(TP_HAVE_AERON)
        backend = &tp_aeron_backend_ops;
#else
        return tp_err_set(TP_ERR_UNSUPPORTED, "transport backend 'aeron' is not built in (the Aeron C client was "
            "not found at build time); use backend 'embedded'");
#endif
    }
    else
    {
        return tp_err_set(TP_ERR_CONFIG, "transport backend '%s' unknown (expected 'embedded' or 'aeron')",
            ctx->backend);
    }
    if (0 == ctx->liveness_timeout_ns || 0 == ctx->unblock_timeout_ns)
    {
        return tp_err_set(TP_ERR_CONFIG, "transport context: liveness and unblock timeouts must be > 0");
    }
    tp_transport_t *t = calloc(1, sizeof(*t));
    if (NULL == t)
    {
        return tp_err_set(TP_ERR_NO_MEMORY, "tp_transport_init: out of memory");
    }
    t->ctx = *ctx;
    t->backend = backend;
    int resolved = NULL != backend->resolve_dir ? backend->resolve_dir(t) : tp_transport_resolve_dir(t);
    if (resolved < 0 || backend->init(t) < 0)
    {
        free(t);
        return -1;
    }
    *out = t;
    return 0;
}

int tp_transport_close(tp_transport_t *t)
{
    if (NULL == t)
    {
        return 0;
    }
    while (NULL != t->publications)
    {
        tp_publication_close(t->publications);
    }
    while (NULL != t->subscriptions)
    {
        tp_subscription_close(t->subscriptions);
    }
    t->backend->close(t);
    free(t);
    return 0;
}

int tp_transport_do_work(tp_transport_t *t)
{
    return tp_transport_do_work_at(t, tp_clock_mono_ns());
}

int tp_transport_do_work_at(tp_transport_t *t, uint64_t now)
{
    int work = 0;
    for (tp_publication_t *p = t->publications; NULL != p; p = p->next)
    {
        int w = p->ops->do_work(p->impl, now);
        work += w > 0 ? w : 0;
    }
    for (tp_subscription_t *s = t->subscriptions; NULL != s; s = s->next)
    {
        int w = s->ops->do_work(s->impl, now);
        work += w > 0 ? w : 0;
    }
    int w = t->backend->do_work(t, now);
    /* A backend failure (e.g. the aeron backend lost its media driver) is reported, error state set. */
    return w < 0 ? -1 : work + w;
}

const char *tp_transport_backend_name(const tp_transport_t *t)
{
    return t->backend->name;
}

const char *tp_transport_dir(const tp_transport_t *t)
{
    return t->dir;
}

static int tp_validate_channel(tp_uri_t *uri, const char *channel, int32_t stream_id, char *copy)
{
    if (NULL == channel)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "channel must not be NULL");
    }
    if (tp_uri_parse(channel, uri) < 0)
    {
        return -1;
    }
    (void)stream_id;
    snprintf(copy, TP_URI_MAX_LENGTH, "%s", channel);
    return 0;
}

int tp_transport_async_add_publication(
    tp_async_add_publication_t **async, tp_transport_t *t, const char *channel, int32_t stream_id)
{
    if (NULL == async || NULL == t)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_transport_async_add_publication: NULL argument");
    }
    tp_async_add_publication_t *a = calloc(1, sizeof(*a));
    if (NULL == a)
    {
        return tp_err_set(TP_ERR_NO_MEMORY, "tp_transport_async_add_publication: out of memory");
    }
    a->transport = t;
    a->stream_id = stream_id;
    if (tp_validate_channel(&a->uri, channel, stream_id, a->channel) < 0 || t->backend->async_add_publication(a) < 0)
    {
        free(a);
        return -1;
    }
    *async = a;
    return 0;
}

int tp_transport_async_add_publication_poll(tp_publication_t **pub, tp_async_add_publication_t *async)
{
    if (NULL == pub || NULL == async)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_transport_async_add_publication_poll: NULL argument");
    }
    const tp_transport_faults_t *faults = async->transport->ctx.faults;
    if (NULL != faults && NULL != faults->add_poll_pending && faults->add_poll_pending(faults->clientd, async))
    {
        return 0;
    }
    tp_publication_t *p = calloc(1, sizeof(*p));
    if (NULL == p)
    {
        free(async);
        return tp_err_set(TP_ERR_NO_MEMORY, "tp_transport_async_add_publication_poll: out of memory");
    }
    int rc = async->transport->backend->async_add_publication_poll(async, p);
    if (0 == rc)
    {
        free(p);
        return 0;
    }
    if (rc < 0)
    {
        tp_err_prepend("add publication %s stream %d", async->channel, async->stream_id);
        free(p);
        free(async);
        return -1;
    }
    tp_transport_t *t = async->transport;
    if (NULL != t->ctx.faults &&
        (NULL != t->ctx.faults->fail_claim_commit || NULL != t->ctx.faults->fail_try_claim) &&
        tp_transport_faults_wrap_publication(p, t->ctx.faults) < 0)
    {
        p->ops->close(p->impl);
        free(p);
        free(async);
        return -1;
    }
    p->transport = t;
    p->stream_id = async->stream_id;
    snprintf(p->channel, sizeof(p->channel), "%s", async->channel);
    p->next = t->publications;
    t->publications = p;
    free(async);
    *pub = p;
    return 1;
}

int tp_transport_async_add_subscription(
    tp_async_add_subscription_t **async, tp_transport_t *t, const char *channel, int32_t stream_id,
    tp_on_available_image_t on_available, void *on_available_clientd, tp_on_unavailable_image_t on_unavailable,
    void *on_unavailable_clientd)
{
    if (NULL == async || NULL == t)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_transport_async_add_subscription: NULL argument");
    }
    tp_async_add_subscription_t *a = calloc(1, sizeof(*a));
    if (NULL == a)
    {
        return tp_err_set(TP_ERR_NO_MEMORY, "tp_transport_async_add_subscription: out of memory");
    }
    a->transport = t;
    a->stream_id = stream_id;
    a->on_available = on_available;
    a->on_available_clientd = on_available_clientd;
    a->on_unavailable = on_unavailable;
    a->on_unavailable_clientd = on_unavailable_clientd;
    if (tp_validate_channel(&a->uri, channel, stream_id, a->channel) < 0 ||
        t->backend->async_add_subscription(a) < 0)
    {
        free(a);
        return -1;
    }
    *async = a;
    return 0;
}

void tp_transport_async_add_subscription_detach_handlers(tp_async_add_subscription_t *async)
{
    if (NULL != async)
    {
        async->on_available = NULL;
        async->on_available_clientd = NULL;
        async->on_unavailable = NULL;
        async->on_unavailable_clientd = NULL;
    }
}

int tp_transport_async_add_subscription_poll(tp_subscription_t **sub, tp_async_add_subscription_t *async)
{
    if (NULL == sub || NULL == async)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_transport_async_add_subscription_poll: NULL argument");
    }
    const tp_transport_faults_t *faults = async->transport->ctx.faults;
    if (NULL != faults && NULL != faults->add_poll_pending && faults->add_poll_pending(faults->clientd, async))
    {
        return 0;
    }
    tp_subscription_t *s = calloc(1, sizeof(*s));
    if (NULL == s)
    {
        free(async);
        return tp_err_set(TP_ERR_NO_MEMORY, "tp_transport_async_add_subscription_poll: out of memory");
    }
    tp_transport_t *t = async->transport;
    s->transport = t;
    s->stream_id = async->stream_id;
    s->on_available = async->on_available;
    s->on_available_clientd = async->on_available_clientd;
    s->on_unavailable = async->on_unavailable;
    s->on_unavailable_clientd = async->on_unavailable_clientd;
    snprintf(s->channel, sizeof(s->channel), "%s", async->channel);
    int rc = t->backend->async_add_subscription_poll(async, s);
    if (0 == rc)
    {
        free(s);
        return 0;
    }
    if (rc < 0)
    {
        tp_err_prepend("add subscription %s stream %d", async->channel, async->stream_id);
        free(s);
        free(async);
        return -1;
    }
    s->next = t->subscriptions;
    t->subscriptions = s;
    free(async);
    *sub = s;
    /* First duty cycle: announce the images that already exist. */
    s->ops->do_work(s->impl, tp_clock_mono_ns());
    return 1;
}

int tp_transport_add_publication(
    tp_publication_t **pub, tp_transport_t *t, const char *channel, int32_t stream_id, uint64_t timeout_ns)
{
    tp_async_add_publication_t *async = NULL;
    if (tp_transport_async_add_publication(&async, t, channel, stream_id) < 0)
    {
        return -1;
    }
    uint64_t deadline = tp_clock_mono_ns() + (0 == timeout_ns ? t->ctx.client_timeout_ns : timeout_ns);
    for (;;)
    {
        int rc = tp_transport_async_add_publication_poll(pub, async);
        if (rc != 0)
        {
            return rc > 0 ? 0 : -1;
        }
        if (tp_clock_mono_ns() > deadline)
        {
            /* The backend keeps ownership of a pending add; it is released at transport close. */
            return tp_err_set(TP_ERR_TIMEOUT, "add publication %s stream %d timed out", channel, stream_id);
        }
        tp_transport_do_work(t);
        tp_sleep_ns(100000);
    }
}

int tp_transport_add_subscription(
    tp_subscription_t **sub, tp_transport_t *t, const char *channel, int32_t stream_id,
    tp_on_available_image_t on_available, void *on_available_clientd, tp_on_unavailable_image_t on_unavailable,
    void *on_unavailable_clientd, uint64_t timeout_ns)
{
    tp_async_add_subscription_t *async = NULL;
    if (tp_transport_async_add_subscription(&async, t, channel, stream_id, on_available, on_available_clientd,
        on_unavailable, on_unavailable_clientd) < 0)
    {
        return -1;
    }
    uint64_t deadline = tp_clock_mono_ns() + (0 == timeout_ns ? t->ctx.client_timeout_ns : timeout_ns);
    for (;;)
    {
        int rc = tp_transport_async_add_subscription_poll(sub, async);
        if (rc != 0)
        {
            return rc > 0 ? 0 : -1;
        }
        if (tp_clock_mono_ns() > deadline)
        {
            return tp_err_set(TP_ERR_TIMEOUT, "add subscription %s stream %d timed out", channel, stream_id);
        }
        tp_transport_do_work(t);
        tp_sleep_ns(100000);
    }
}

/* ------------------------------------------------------------------------- */

int64_t tp_publication_offer(
    tp_publication_t *pub, const uint8_t *buffer, size_t length, tp_reserved_value_supplier_t supplier,
    void *clientd)
{
    struct iovec iov = { .iov_base = (void *)(uintptr_t)buffer, .iov_len = length };
    if (NULL == buffer && length > 0)
    {
        tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_publication_offer: NULL buffer");
        return TP_PUBLICATION_ERROR;
    }
    if (length > pub->max_message_length)
    {
        tp_err_set(TP_ERR_INVALID_ARGUMENT, "message of %zu bytes exceeds the max message length %zu of %s "
            "(raise term-length)", length, pub->max_message_length, pub->channel);
        return TP_PUBLICATION_ERROR;
    }
    return pub->ops->offerv(pub->impl, &iov, 1, length, supplier, clientd);
}

int64_t tp_publication_offerv(
    tp_publication_t *pub, const struct iovec *iov, size_t iovcnt, tp_reserved_value_supplier_t supplier,
    void *clientd)
{
    size_t length = 0;
    for (size_t i = 0; i < iovcnt; i++)
    {
        length += iov[i].iov_len;
    }
    if (length > pub->max_message_length)
    {
        tp_err_set(TP_ERR_INVALID_ARGUMENT, "message of %zu bytes exceeds the max message length %zu of %s "
            "(raise term-length)", length, pub->max_message_length, pub->channel);
        return TP_PUBLICATION_ERROR;
    }
    return pub->ops->offerv(pub->impl, iov, iovcnt, length, supplier, clientd);
}

int64_t tp_publication_try_claim(tp_publication_t *pub, size_t length, tp_buffer_claim_t *claim)
{
    if (NULL == claim || length > pub->max_payload_length)
    {
        tp_err_set(TP_ERR_INVALID_ARGUMENT, "try_claim of %zu bytes exceeds the max payload length %zu of %s "
            "(use offer for larger messages)", length, pub->max_payload_length, pub->channel);
        return TP_PUBLICATION_ERROR;
    }
    return pub->ops->try_claim(pub->impl, length, claim);
}

int tp_buffer_claim_commit(tp_buffer_claim_t *claim)
{
    if (NULL == claim || NULL == claim->ops)
    {
        return tp_err_set(TP_ERR_STATE, "tp_buffer_claim_commit: claim is not active");
    }
    const tp_publication_ops_t *ops = claim->ops;
    return ops->commit(claim);
}

int tp_buffer_claim_abort(tp_buffer_claim_t *claim)
{
    if (NULL == claim || NULL == claim->ops)
    {
        return tp_err_set(TP_ERR_STATE, "tp_buffer_claim_abort: claim is not active");
    }
    const tp_publication_ops_t *ops = claim->ops;
    return ops->abort(claim);
}

bool tp_publication_is_connected(tp_publication_t *pub)
{
    return pub->ops->is_connected(pub->impl);
}

int64_t tp_publication_channel_status(tp_publication_t *pub)
{
    return pub->ops->channel_status(pub->impl);
}

int64_t tp_publication_position(tp_publication_t *pub)
{
    return pub->ops->position(pub->impl);
}

size_t tp_publication_max_payload_length(const tp_publication_t *pub)
{
    return pub->max_payload_length;
}

size_t tp_publication_max_message_length(const tp_publication_t *pub)
{
    return pub->max_message_length;
}

int32_t tp_publication_session_id(const tp_publication_t *pub)
{
    return pub->session_id;
}

int32_t tp_publication_stream_id(const tp_publication_t *pub)
{
    return pub->stream_id;
}

const char *tp_publication_channel(const tp_publication_t *pub)
{
    return pub->channel;
}

int tp_publication_close(tp_publication_t *pub)
{
    if (NULL == pub)
    {
        return 0;
    }
    tp_transport_t *t = pub->transport;
    for (tp_publication_t **pp = &t->publications; NULL != *pp; pp = &(*pp)->next)
    {
        if (*pp == pub)
        {
            *pp = pub->next;
            break;
        }
    }
    int rc = pub->ops->close(pub->impl);
    free(pub);
    return rc;
}

int tp_subscription_poll(tp_subscription_t *sub, tp_fragment_handler_t handler, void *clientd, size_t fragment_limit)
{
    return sub->ops->poll(sub->impl, handler, clientd, fragment_limit);
}

int tp_subscription_poll_in_place(
    tp_subscription_t *sub, tp_fragment_handler_t handler, void *clientd, size_t fragment_limit)
{
    if (NULL == sub->ops->poll_in_place)
    {
        return sub->ops->poll(sub->impl, handler, clientd, fragment_limit);
    }
    return sub->ops->poll_in_place(sub->impl, handler, clientd, fragment_limit);
}

int tp_subscription_image_count(tp_subscription_t *sub)
{
    return sub->ops->image_count(sub->impl);
}

bool tp_subscription_is_connected(tp_subscription_t *sub)
{
    return sub->ops->image_count(sub->impl) > 0;
}

int64_t tp_subscription_channel_status(tp_subscription_t *sub)
{
    return sub->ops->channel_status(sub->impl);
}

int tp_subscription_stats(tp_subscription_t *sub, tp_subscription_stats_t *stats)
{
    if (NULL == sub || NULL == stats)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_subscription_stats: NULL argument");
    }
    return sub->ops->stats(sub->impl, stats);
}

int32_t tp_subscription_stream_id(const tp_subscription_t *sub)
{
    return sub->stream_id;
}

const char *tp_subscription_channel(const tp_subscription_t *sub)
{
    return sub->channel;
}

int tp_subscription_close(tp_subscription_t *sub)
{
    if (NULL == sub)
    {
        return 0;
    }
    tp_transport_t *t = sub->transport;
    for (tp_subscription_t **pp = &t->subscriptions; NULL != *pp; pp = &(*pp)->next)
    {
        if (*pp == sub)
        {
            *pp = sub->next;
            break;
        }
    }
    int rc = sub->ops->close(sub->impl);
    free(sub);
    return rc;
}

void tp_subscription_notify_available(tp_subscription_t *sub, const tp_image_t *image)
{
    if (NULL != sub->on_available)
    {
        sub->on_available(sub->on_available_clientd, sub, image);
    }
}

void tp_subscription_notify_unavailable(tp_subscription_t *sub, const tp_image_t *image)
{
    if (NULL != sub->on_unavailable)
    {
        sub->on_unavailable(sub->on_unavailable_clientd, sub, image);
    }
}
