/*
 * The aeron transport backend: the tp_transport ops over the Aeron C client
 * (aeronc.h), with the same semantics as the embedded backend.
 *
 * - The client runs in agent-invoker mode: its conductor duty cycle
 *   (aeron_main_do_work) runs inside tp_transport_do_work() on the transport's
 *   thread, so image handlers are called from tp_transport_do_work() (and from
 *   the first duty cycle after an asynchronous add completes), as with the
 *   embedded backend, and no client thread is started.
 * - t->dir is the Aeron directory: ctx.dir, else $AERON_DIR, else Aeron's
 *   default (/dev/shm/aeron-<user>). With $TP_AERON_EMBEDDED_DRIVER=1 a media
 *   driver is started in this process (or shared, see tp_aeron_driver.h).
 * - Messages are reassembled by aeron_fragment_assembler (one per
 *   subscription, keyed by session); handlers always see whole messages.
 * - Offer results are Aeron's (the TP_PUBLICATION_* values are the same).
 * - Aeron errors are translated by tp_aeron_err_set().
 * - Close ordering: publications and subscriptions (closed synchronously in
 *   invoker mode) before the client, the client before its context, the
 *   context before the embedded driver.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "aeronc.h"
#include "common/tp_clock.h"
#include "common/tp_error.h"
#include "common/tp_log.h"
#include "transport/aeron/tp_aeron_driver.h"
#include "transport/aeron/tp_aeron_error.h"
#include "transport/tp_transport_internal.h"

#define TP_AERON_MODULE "aeron"

/* Length of Aeron's data frame header (protocol constant, AERON_DATA_HEADER_LENGTH). */
#define TP_AERON_DATA_HEADER_LENGTH ((size_t)32)

/* Gathering offers of more buffers than this are copied into one buffer first. */
#define TP_AERON_MAX_IOV 32

typedef struct tp_aeron_subscription_stct tp_aeron_subscription_t;

/** A tp async struct whose add is pending (abandoned ones are freed at transport close). */
typedef struct tp_aeron_pending_stct
{
    void *async;
    bool is_publication;
} tp_aeron_pending_t;

/** Backend state of one transport (t->backend_state). */
typedef struct tp_aeron_backend_stct
{
    aeron_context_t *context;
    aeron_t *client;
    tp_aeron_media_driver_t *driver;       /**< embedded driver reference, or NULL */
    tp_aeron_subscription_t *pending_subs; /**< subscription adds not yet completed */
    struct tp_aeron_pending_stct *pending_asyncs; /**< tp async structs of adds still pending (freed at close) */
    size_t pending_async_count;
    size_t pending_async_capacity;
    uint64_t last_error_log_ns;
    bool driver_lost;                      /**< the client saw its media driver stop or time out */
    char driver_lost_reason[256];          /**< Aeron's message for driver_lost */
} tp_aeron_backend_t;

/** Publication impl (tp_publication_t::impl). */
typedef struct tp_aeron_publication_stct
{
    aeron_publication_t *publication;
    tp_aeron_backend_t *backend;
    int32_t channel_status_indicator_id;  /**< AERON_NULL_COUNTER_ID for IPC */
} tp_aeron_publication_t;

/** A live image as known by a subscription (for unavailable notifications). */
typedef struct tp_aeron_known_image_stct
{
    tp_image_t image;
    bool announced;  /**< the available handler has been called */
} tp_aeron_known_image_t;

/**
 * Subscription impl (tp_subscription_t::impl). Allocated when the add starts,
 * because Aeron's image handlers receive it as clientd before the add completes.
 */
struct tp_aeron_subscription_stct
{
    tp_aeron_backend_t *backend;
    aeron_async_add_subscription_t *async;
    aeron_subscription_t *subscription;
    int32_t channel_status_indicator_id;    /**< AERON_NULL_COUNTER_ID for IPC */
    aeron_fragment_assembler_t *assembler;
    tp_subscription_t *owner;               /**< set when the add completes */
    tp_aeron_subscription_t *next_pending;  /**< in backend->pending_subs while pending */
    int32_t stream_id;
    uint64_t created_ns;                    /**< CLOCK_MONOTONIC when the add started (image join-time bound) */
    tp_aeron_known_image_t *images;
    size_t image_count;
    size_t image_capacity;
    /* Poll state (valid during tp_subscription_poll). */
    tp_fragment_handler_t handler;
    void *handler_clientd;
    int delivered;
    tp_subscription_stats_t stats;
};

/** State of a pending publication add (tp_async_add_publication_t::backend_state). */
typedef struct tp_aeron_async_publication_stct
{
    aeron_async_add_publication_t *async;
} tp_aeron_async_publication_t;

static const tp_publication_ops_t tp_aeron_publication_ops;
static const tp_subscription_ops_t tp_aeron_subscription_ops;

/* ------------------------------------------------------------------------- */
/* Helpers                                                                    */
/* ------------------------------------------------------------------------- */

/** Remember a tp async struct whose add is pending, so that transport close can free it. */
static int tp_aeron_track_async(tp_aeron_backend_t *b, void *async, bool is_publication)
{
    if (b->pending_async_count == b->pending_async_capacity)
    {
        size_t capacity = 0 == b->pending_async_capacity ? 8 : 2 * b->pending_async_capacity;
        tp_aeron_pending_t *grown = realloc(b->pending_asyncs, capacity * sizeof(*grown));
        if (NULL == grown)
        {
            return tp_err_set(TP_ERR_NO_MEMORY, "aeron backend: out of memory");
        }
        b->pending_asyncs = grown;
        b->pending_async_capacity = capacity;
    }
    b->pending_asyncs[b->pending_async_count].async = async;
    b->pending_asyncs[b->pending_async_count].is_publication = is_publication;
    b->pending_async_count++;
    return 0;
}

/** Forget a tp async struct (its add completed or failed; the generic layer frees it). */
static void tp_aeron_untrack_async(tp_aeron_backend_t *b, void *async)
{
    for (size_t i = 0; i < b->pending_async_count; i++)
    {
        if (b->pending_asyncs[i].async == async)
        {
            b->pending_asyncs[i] = b->pending_asyncs[--b->pending_async_count];
            return;
        }
    }
}

/** Client error handler (called from aeron_main_do_work): asynchronous errors are logged. */
static void tp_aeron_on_client_error(void *clientd, int errcode, const char *message)
{
    tp_aeron_backend_t *b = clientd;
    if (AERON_CLIENT_ERROR_DRIVER_TIMEOUT == errcode || AERON_CLIENT_ERROR_CLIENT_TIMEOUT == errcode)
    {
        /* The client conductor has terminated: from now on do_work reports the loss. */
        b->driver_lost = true;
        snprintf(b->driver_lost_reason, sizeof(b->driver_lost_reason), "%s", NULL == message ? "" : message);
    }
    TP_LOG_WARN(TP_AERON_MODULE, "Aeron client error %d: %s", errcode, message);
}

/* ------------------------------------------------------------------------- */
/* Images                                                                     */
/* ------------------------------------------------------------------------- */

/** Find the known image of `session_id`, or NULL. */
static tp_aeron_known_image_t *tp_aeron_find_image(tp_aeron_subscription_t *s, int32_t session_id)
{
    for (size_t i = 0; i < s->image_count; i++)
    {
        if (s->images[i].image.session_id == session_id)
        {
            return &s->images[i];
        }
    }
    return NULL;
}

/** Aeron's available-image handler: record the image with its local join time, announce it when possible. */
static void tp_aeron_on_available_image(void *clientd, aeron_subscription_t *subscription, aeron_image_t *image)
{
    tp_aeron_subscription_t *s = clientd;
    /*
     * Join time (docs/TRANSPORT.md "Image join time", wire §10.1.1): Aeron
     * links a subscription to a publication at the publication's current
     * position, so no message sent before the subscription was added can be
     * delivered, and a publication that appears later delivers only messages
     * sent after it appeared. The time the add started is therefore a bound
     * that is never after the first deliverable message, whereas the time of
     * this callback (the conductor's next duty cycle) can be: with it, a new
     * producer's first ShmPoolAnnounce would always fail the join-time rule.
     */
    uint64_t now_ns = tp_clock_mono_ns();
    uint64_t join_time_ns = s->created_ns < now_ns ? s->created_ns : now_ns;
    (void)subscription;
    aeron_image_constants_t constants;
    if (aeron_image_constants(image, &constants) < 0)
    {
        TP_LOG_WARN(TP_AERON_MODULE, "image constants: %s", aeron_errmsg());
        return;
    }
    if (NULL != tp_aeron_find_image(s, constants.session_id))
    {
        return;
    }
    if (s->image_count == s->image_capacity)
    {
        size_t capacity = 0 == s->image_capacity ? 4 : 2 * s->image_capacity;
        tp_aeron_known_image_t *grown = realloc(s->images, capacity * sizeof(*grown));
        if (NULL == grown)
        {
            TP_LOG_ERROR(TP_AERON_MODULE, "out of memory recording an image of stream %d", s->stream_id);
            return;
        }
        s->images = grown;
        s->image_capacity = capacity;
    }
    tp_aeron_known_image_t *known = &s->images[s->image_count++];
    memset(known, 0, sizeof(*known));
    known->image.session_id = constants.session_id;
    known->image.stream_id = s->stream_id;
    known->image.join_time_ns = join_time_ns;
    known->image.join_position = constants.join_position;
    known->image.subscription = s->owner;
    snprintf(known->image.source_identity, sizeof(known->image.source_identity), "%s",
        NULL == constants.source_identity ? "" : constants.source_identity);
    if (NULL != s->owner)
    {
        known->announced = true;
        tp_subscription_notify_available(s->owner, &known->image);
    }
}

/** Aeron's unavailable-image handler: notify (if announced) and forget the image. */
static void tp_aeron_on_unavailable_image(void *clientd, aeron_subscription_t *subscription, aeron_image_t *image)
{
    tp_aeron_subscription_t *s = clientd;
    (void)subscription;
    aeron_image_constants_t constants;
    if (aeron_image_constants(image, &constants) < 0)
    {
        return;
    }
    tp_aeron_known_image_t *known = tp_aeron_find_image(s, constants.session_id);
    if (NULL == known)
    {
        return;
    }
    tp_aeron_known_image_t gone = *known;
    *known = s->images[--s->image_count];
    if (gone.announced && NULL != s->owner)
    {
        tp_subscription_notify_unavailable(s->owner, &gone.image);
    }
}

/* ------------------------------------------------------------------------- */
/* Publications                                                               */
/* ------------------------------------------------------------------------- */

/** Adapter state of a reserved value supplier call. */
typedef struct tp_aeron_supplier_stct
{
    tp_reserved_value_supplier_t supplier;
    void *clientd;
} tp_aeron_supplier_t;

/** Aeron's supplier sees the whole frame; ours sees the payload (as in the embedded backend). */
static int64_t tp_aeron_reserved_value(void *clientd, uint8_t *buffer, size_t frame_length)
{
    tp_aeron_supplier_t *s = clientd;
    return s->supplier(s->clientd, buffer + TP_AERON_DATA_HEADER_LENGTH, frame_length - TP_AERON_DATA_HEADER_LENGTH);
}

/*
 * ADMIN_ACTION (a term rotation by this or another writer) is retried a few
 * times here: the retry is what Aeron asks for, and the embedded backend never
 * returns it, so callers see the same results on both backends. The codes
 * themselves are Aeron's (TP_PUBLICATION_* have the same values).
 */
#define TP_AERON_ADMIN_ACTION_RETRIES 4

/** Translate an Aeron offer/claim result: errors set the tp error state. */
static int64_t tp_aeron_offer_result(int64_t result, const char *what)
{
    if (AERON_PUBLICATION_ERROR == result)
    {
        tp_aeron_err_set("%s", what);
    }
    else if (AERON_PUBLICATION_CLOSED == result)
    {
        tp_err_set(TP_ERR_CLOSED, "%s: publication closed", what);
    }
    return result;
}

/** offer/offerv: aeron_publication_offer(v) (iovecs copied into aeron_iovec_t), ADMIN_ACTION retried. */
static int64_t tp_aeron_pub_offerv(void *impl, const struct iovec *iov, size_t iovcnt, size_t length,
    tp_reserved_value_supplier_t supplier, void *clientd)
{
    tp_aeron_publication_t *p = impl;
    tp_aeron_supplier_t adapter = { .supplier = supplier, .clientd = clientd };
    aeron_reserved_value_supplier_t aeron_supplier = NULL != supplier ? tp_aeron_reserved_value : NULL;
    void *aeron_supplier_clientd = NULL != supplier ? &adapter : NULL;
    (void)length;
    if (1 == iovcnt)
    {
        int64_t result = AERON_PUBLICATION_ADMIN_ACTION;
        for (int i = 0; i < TP_AERON_ADMIN_ACTION_RETRIES && AERON_PUBLICATION_ADMIN_ACTION == result; i++)
        {
            result = aeron_publication_offer(p->publication, iov[0].iov_base, iov[0].iov_len, aeron_supplier,
                aeron_supplier_clientd);
        }
        return tp_aeron_offer_result(result, "offer");
    }
    if (iovcnt > TP_AERON_MAX_IOV)
    {
        tp_err_set(TP_ERR_INVALID_ARGUMENT, "offerv: at most %d buffers per message", TP_AERON_MAX_IOV);
        return TP_PUBLICATION_ERROR;
    }
    aeron_iovec_t vec[TP_AERON_MAX_IOV];
    for (size_t i = 0; i < iovcnt; i++)
    {
        vec[i].iov_base = iov[i].iov_base;
        vec[i].iov_len = iov[i].iov_len;
    }
    int64_t result = AERON_PUBLICATION_ADMIN_ACTION;
    for (int i = 0; i < TP_AERON_ADMIN_ACTION_RETRIES && AERON_PUBLICATION_ADMIN_ACTION == result; i++)
    {
        result = aeron_publication_offerv(p->publication, vec, iovcnt, aeron_supplier, aeron_supplier_clientd);
    }
    return tp_aeron_offer_result(result, "offerv");
}

/** try_claim: aeron_publication_try_claim; the Aeron claim is kept in the tp claim (frame, data, length). */
static int64_t tp_aeron_pub_try_claim(void *impl, size_t length, tp_buffer_claim_t *claim)
{
    tp_aeron_publication_t *p = impl;
    aeron_buffer_claim_t aeron_claim;
    int64_t result = AERON_PUBLICATION_ADMIN_ACTION;
    for (int i = 0; i < TP_AERON_ADMIN_ACTION_RETRIES && AERON_PUBLICATION_ADMIN_ACTION == result; i++)
    {
        result = aeron_publication_try_claim(p->publication, length, &aeron_claim);
    }
    if (result > 0)
    {
        claim->frame = aeron_claim.frame_header;
        claim->data = aeron_claim.data;
        claim->length = aeron_claim.length;
        claim->impl = p;
        claim->ops = &tp_aeron_publication_ops;
    }
    return tp_aeron_offer_result(result, "try_claim");
}

/** Commit or abort a claim made by tp_aeron_pub_try_claim. */
static int tp_aeron_claim_finish(tp_buffer_claim_t *claim, bool commit)
{
    if (NULL == claim->frame)
    {
        return tp_err_set(TP_ERR_STATE, "buffer claim already committed or aborted");
    }
    aeron_buffer_claim_t aeron_claim = {
        .frame_header = claim->frame,
        .data = claim->data,
        .length = claim->length,
    };
    int rc = commit ? aeron_buffer_claim_commit(&aeron_claim) : aeron_buffer_claim_abort(&aeron_claim);
    claim->frame = NULL;
    claim->data = NULL;
    claim->ops = NULL;
    return rc < 0 ? tp_aeron_err_set(commit ? "claim commit" : "claim abort") : 0;
}

/** Commit a claim: aeron_buffer_claim_commit. */
static int tp_aeron_claim_commit(tp_buffer_claim_t *claim)
{
    return tp_aeron_claim_finish(claim, true);
}

/** Abort a claim: aeron_buffer_claim_abort (subscribers skip the padding). */
static int tp_aeron_claim_abort(tp_buffer_claim_t *claim)
{
    return tp_aeron_claim_finish(claim, false);
}

/** Whether a subscriber is connected (the driver maintains the flag in the log metadata). */
static bool tp_aeron_pub_is_connected(void *impl)
{
    return aeron_publication_is_connected(((tp_aeron_publication_t *)impl)->publication);
}

/**
 * Channel status: Aeron's value, except that a channel without a status
 * counter (IPC) is ACTIVE while open, as in Aeron's Java client (the C client
 * reports NO_ID_ALLOCATED, which has the value of ERRORED).
 */
static int64_t tp_aeron_channel_status(int64_t status, int32_t indicator_id, bool closed)
{
    if (AERON_NULL_COUNTER_ID == indicator_id && !closed)
    {
        return TP_CHANNEL_STATUS_ACTIVE;
    }
    return status;
}

/** Channel status of a publication (see tp_aeron_channel_status). */
static int64_t tp_aeron_pub_channel_status(void *impl)
{
    tp_aeron_publication_t *p = impl;
    return tp_aeron_channel_status(aeron_publication_channel_status(p->publication), p->channel_status_indicator_id,
        aeron_publication_is_closed(p->publication));
}

/** Current position of the publication. */
static int64_t tp_aeron_pub_position(void *impl)
{
    return aeron_publication_position(((tp_aeron_publication_t *)impl)->publication);
}

/** Nothing to do per publication: the client conductor runs in the backend's do_work. */
static int tp_aeron_pub_do_work(void *impl, uint64_t now_ns)
{
    (void)impl;
    (void)now_ns;
    return 0;
}

/** Close the Aeron publication (synchronous in invoker mode) and free the impl. */
static int tp_aeron_pub_close(void *impl)
{
    tp_aeron_publication_t *p = impl;
    int rc = 0;
    if (aeron_publication_close(p->publication, NULL, NULL) < 0)
    {
        rc = tp_aeron_err_set("close publication");
    }
    free(p);
    return rc;
}

static const tp_publication_ops_t tp_aeron_publication_ops = {
    .offerv = tp_aeron_pub_offerv,
    .try_claim = tp_aeron_pub_try_claim,
    .commit = tp_aeron_claim_commit,
    .abort = tp_aeron_claim_abort,
    .is_connected = tp_aeron_pub_is_connected,
    .channel_status = tp_aeron_pub_channel_status,
    .position = tp_aeron_pub_position,
    .do_work = tp_aeron_pub_do_work,
    .close = tp_aeron_pub_close,
};

/* ------------------------------------------------------------------------- */
/* Subscriptions                                                              */
/* ------------------------------------------------------------------------- */

/** Delegate of the fragment assembler: one whole message. */
static void tp_aeron_on_message(void *clientd, const uint8_t *buffer, size_t length, aeron_header_t *header)
{
    tp_aeron_subscription_t *s = clientd;
    aeron_header_values_t values;
    tp_header_t h = { 0 };
    if (aeron_header_values(header, &values) == 0)
    {
        h.session_id = values.frame.session_id;
        h.stream_id = values.frame.stream_id;
        h.reserved_value = values.frame.reserved_value;
    }
    h.position = aeron_header_position(header);
    h.flags = TP_FRAGMENT_FLAG_UNFRAGMENTED;
    s->delivered++;
    s->stats.messages++;
    s->stats.bytes += length;
    s->handler(s->handler_clientd, buffer, length, &h);
}

/** Poll whole messages through the subscription's fragment assembler. Returns messages delivered or -1. */
static int tp_aeron_sub_poll(void *impl, tp_fragment_handler_t handler, void *clientd, size_t fragment_limit)
{
    tp_aeron_subscription_t *s = impl;
    if (NULL == handler)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_subscription_poll: NULL handler");
    }
    s->handler = handler;
    s->handler_clientd = clientd;
    s->delivered = 0;
    /*
     * The limit counts whole messages (as in the embedded backend), Aeron's
     * counts fragments: poll again while fewer than `fragment_limit` messages
     * were delivered and fragments keep coming (a budget of k fragments
     * completes at most k messages, so the limit is never exceeded). A poll
     * that only skips the padding at the end of a term reads no fragment:
     * stop after two empty polls in a row, not one.
     */
    int empty_polls = 0;
    while ((size_t)s->delivered < fragment_limit && empty_polls < 2)
    {
        size_t budget = fragment_limit - (size_t)s->delivered;
        int fragments = aeron_subscription_poll(s->subscription, aeron_fragment_assembler_handler, s->assembler,
            budget);
        if (fragments < 0)
        {
            return tp_aeron_err_set("poll subscription stream %d", s->stream_id);
        }
        empty_polls = 0 == fragments ? empty_polls + 1 : 0;
    }
    return s->delivered;
}

/** Number of images of the subscription (Aeron's count, thread-safe). */
static int tp_aeron_sub_image_count(void *impl)
{
    return aeron_subscription_image_count(((tp_aeron_subscription_t *)impl)->subscription);
}

/** Channel status of a subscription (see tp_aeron_channel_status). */
static int64_t tp_aeron_sub_channel_status(void *impl)
{
    tp_aeron_subscription_t *s = impl;
    return tp_aeron_channel_status(aeron_subscription_channel_status(s->subscription),
        s->channel_status_indicator_id, aeron_subscription_is_closed(s->subscription));
}

/** Counters of the subscription: messages and bytes delivered (Aeron does not lose or lap). */
static int tp_aeron_sub_stats(void *impl, tp_subscription_stats_t *stats)
{
    *stats = ((tp_aeron_subscription_t *)impl)->stats;
    return 0;
}

/** Announce the images that became available before the add completed. */
static int tp_aeron_sub_do_work(void *impl, uint64_t now_ns)
{
    tp_aeron_subscription_t *s = impl;
    (void)now_ns;
    int work = 0;
    for (size_t i = 0; i < s->image_count && NULL != s->owner; i++)
    {
        if (!s->images[i].announced)
        {
            s->images[i].announced = true;
            s->images[i].image.subscription = s->owner;
            tp_subscription_notify_available(s->owner, &s->images[i].image);
            work++;
        }
    }
    return work;
}

/** Free a subscription impl (its Aeron subscription is closed or was never created). */
static void tp_aeron_sub_free(tp_aeron_subscription_t *s)
{
    if (NULL != s->assembler)
    {
        aeron_fragment_assembler_delete(s->assembler);
    }
    free(s->images);
    free(s);
}

/** Close the Aeron subscription (synchronous in invoker mode: no handler runs afterwards) and free the impl. */
static int tp_aeron_sub_close(void *impl)
{
    tp_aeron_subscription_t *s = impl;
    int rc = 0;
    s->owner = NULL;
    if (aeron_subscription_close(s->subscription, NULL, NULL) < 0)
    {
        rc = tp_aeron_err_set("close subscription stream %d", s->stream_id);
    }
    tp_aeron_sub_free(s);
    return rc;
}

static const tp_subscription_ops_t tp_aeron_subscription_ops = {
    .poll = tp_aeron_sub_poll,
    .image_count = tp_aeron_sub_image_count,
    .channel_status = tp_aeron_sub_channel_status,
    .stats = tp_aeron_sub_stats,
    .do_work = tp_aeron_sub_do_work,
    .close = tp_aeron_sub_close,
};

/* ------------------------------------------------------------------------- */
/* Transport                                                                  */
/* ------------------------------------------------------------------------- */

/** t->dir = ctx.dir, else $AERON_DIR, else Aeron's default directory. */
static int tp_aeron_resolve_dir(tp_transport_t *t)
{
    const char *env = getenv("AERON_DIR");
    if ('\0' != t->ctx.dir[0])
    {
        snprintf(t->dir, sizeof(t->dir), "%s", t->ctx.dir);
    }
    else if (NULL != env && '\0' != env[0])
    {
        snprintf(t->dir, sizeof(t->dir), "%s", env);
    }
    else if (aeron_default_path(t->dir, sizeof(t->dir)) < 0)
    {
        return tp_aeron_err_set("aeron backend: default aeron dir");
    }
    return 0;
}

/** Whether $TP_AERON_EMBEDDED_DRIVER asks for an embedded media driver. */
static bool tp_aeron_embedded_driver_requested(void)
{
    const char *env = getenv(TP_AERON_EMBEDDED_DRIVER_ENV);
    return NULL != env && (0 == strcmp(env, "1") || 0 == strcmp(env, "true") || 0 == strcmp(env, "yes"));
}

static void tp_aeron_close(tp_transport_t *t);

/** Pause between connection attempts while a media driver's cnc.dat is being (re)created. */
#define TP_AERON_CONNECT_RETRY_NS UINT64_C(5000000)

/**
 * Whether a failed aeron_init() is worth retrying: the cnc.dat was caught
 * half-written (mapped while being created or truncated: EINVAL, or gone
 * between the length check and the map: ENOENT) by a driver starting or a
 * stale directory being replaced. An incompatible cnc version (also EINVAL)
 * and Aeron's own timeouts are final.
 */
static bool tp_aeron_connect_retryable(int errcode, const char *message)
{
    if (EINVAL != errcode && ENOENT != errcode && EAGAIN != errcode)
    {
        return false;
    }
    return NULL == message || NULL == strstr(message, "not compatible");
}

/**
 * Create the Aeron client context and connect to the media driver of t->dir in
 * invoker mode, retrying while the driver's cnc.dat is still being initialised
 * (see tp_aeron_connect_retryable), until client_timeout_ns has passed. Each
 * attempt gets the whole client_timeout_ns as its driver timeout (it is also
 * the client's driver liveness timeout afterwards). Returns 0 (b->context,
 * b->client set) or -1 (tp error set, nothing left allocated).
 */
static int tp_aeron_connect(tp_aeron_backend_t *b, tp_transport_t *t)
{
    uint64_t timeout_ms = t->ctx.client_timeout_ns / UINT64_C(1000000);
    uint64_t deadline = tp_clock_mono_ns() + t->ctx.client_timeout_ns;
    for (int attempt = 1;; attempt++)
    {
        if (aeron_context_init(&b->context) < 0 || aeron_context_set_dir(b->context, t->dir) < 0 ||
            aeron_context_set_driver_timeout_ms(b->context, 0 == timeout_ms ? 1 : timeout_ms) < 0 ||
            aeron_context_set_use_conductor_agent_invoker(b->context, true) < 0 ||
            aeron_context_set_error_handler(b->context, tp_aeron_on_client_error, b) < 0 ||
            aeron_context_set_client_name(b->context, "tensorpool") < 0)
        {
            tp_aeron_err_set("aeron backend: client context");
            aeron_context_close(b->context);
            b->context = NULL;
            return -1;
        }
        if (0 == aeron_init(&b->client, b->context))
        {
            return 0;
        }
        b->client = NULL;
        bool retry = tp_aeron_connect_retryable(aeron_errcode(), aeron_errmsg()) && tp_clock_mono_ns() < deadline;
        tp_aeron_err_set("aeron backend: no usable Aeron media driver at %s after %d attempt(s) (start one with "
            "AERON_DIR=%s, set the transport dir to the driver's aeron dir, or set %s=1 to embed one)", t->dir,
            attempt, t->dir, TP_AERON_EMBEDDED_DRIVER_ENV);
        aeron_context_close(b->context);
        b->context = NULL;
        if (!retry)
        {
            return -1;
        }
        TP_LOG_DEBUG(TP_AERON_MODULE, "connect to %s: retrying (%s)", t->dir, tp_errmsg());
        tp_sleep_ns(TP_AERON_CONNECT_RETRY_NS);
    }
}

/**
 * Backend init: embedded media driver when requested, then an Aeron client in
 * invoker mode on t->dir (driver timeout = client_timeout_ns). Returns 0 or -1.
 */
static int tp_aeron_init(tp_transport_t *t)
{
    tp_aeron_backend_t *b = calloc(1, sizeof(*b));
    if (NULL == b)
    {
        return tp_err_set(TP_ERR_NO_MEMORY, "aeron backend: out of memory");
    }
    t->backend_state = b;
    if (tp_aeron_embedded_driver_requested() &&
        tp_aeron_media_driver_acquire(&b->driver, t->dir, t->ctx.liveness_timeout_ns) < 0)
    {
        tp_err_prepend("aeron backend (%s=1)", TP_AERON_EMBEDDED_DRIVER_ENV);
        tp_aeron_close(t);
        return -1;
    }
    if (tp_aeron_connect(b, t) < 0)
    {
        tp_aeron_close(t);
        return -1;
    }
    if (aeron_start(b->client) < 0)
    {
        tp_aeron_err_set("aeron backend: start client on %s", t->dir);
        tp_aeron_close(t);
        return -1;
    }
    TP_LOG_DEBUG(TP_AERON_MODULE, "Aeron client %s connected to %s%s", aeron_version_full(), t->dir,
        NULL != b->driver ? " (embedded media driver)" : "");
    return 0;
}

/* How long transport close waits for the driver to answer adds still pending. */
#define TP_AERON_CLOSE_PENDING_TIMEOUT_NS UINT64_C(2000000000)

/**
 * Complete the adds still pending, then close what they created: Aeron's
 * client frees an add's command only when it is polled to completion. Bounded
 * by TP_AERON_CLOSE_PENDING_TIMEOUT_NS (a dead driver never answers; what is
 * left is then reported and left to Aeron).
 */
static void tp_aeron_finish_pending(tp_aeron_backend_t *b)
{
    uint64_t deadline = tp_clock_mono_ns() + TP_AERON_CLOSE_PENDING_TIMEOUT_NS;
    for (;;)
    {
        bool remaining = false;
        for (size_t i = 0; i < b->pending_async_count; i++)
        {
            tp_aeron_pending_t *pending = &b->pending_asyncs[i];
            tp_aeron_async_publication_t *state =
                pending->is_publication ? ((tp_async_add_publication_t *)pending->async)->backend_state : NULL;
            if (NULL == state || NULL == state->async)
            {
                continue;
            }
            aeron_publication_t *publication = NULL;
            int rc = aeron_async_add_publication_poll(&publication, state->async);
            if (0 == rc)
            {
                remaining = true;
                continue;
            }
            state->async = NULL;
            if (rc > 0)
            {
                aeron_publication_close(publication, NULL, NULL);
            }
        }
        for (tp_aeron_subscription_t *s = b->pending_subs; NULL != s; s = s->next_pending)
        {
            if (NULL == s->async)
            {
                continue;
            }
            aeron_subscription_t *subscription = NULL;
            int rc = aeron_async_add_subscription_poll(&subscription, s->async);
            if (0 == rc)
            {
                remaining = true;
                continue;
            }
            s->async = NULL;
            if (rc > 0)
            {
                aeron_subscription_close(subscription, NULL, NULL);
            }
        }
        if (!remaining)
        {
            return;
        }
        if (tp_clock_mono_ns() > deadline || aeron_main_do_work(b->client) < 0)
        {
            TP_LOG_WARN(TP_AERON_MODULE, "transport close: the media driver did not answer adds still pending");
            return;
        }
        tp_sleep_ns(100000);
    }
}

/**
 * Close in order: pending adds (their subscription impls and tp async structs),
 * then the client (which releases whatever it still holds), its context, and
 * last the embedded driver. Publications and subscriptions were closed before
 * by tp_transport_close().
 */
static void tp_aeron_close(tp_transport_t *t)
{
    tp_aeron_backend_t *b = t->backend_state;
    if (NULL == b)
    {
        return;
    }
    if (NULL != b->client)
    {
        tp_aeron_finish_pending(b);
        aeron_close(b->client);
        b->client = NULL;
    }
    while (NULL != b->pending_subs)
    {
        tp_aeron_subscription_t *s = b->pending_subs;
        b->pending_subs = s->next_pending;
        tp_aeron_sub_free(s);
    }
    for (size_t i = 0; i < b->pending_async_count; i++)
    {
        /* Pending tp async structs: owned by the backend once abandoned (see tp_transport_add_publication). */
        tp_aeron_pending_t *pending = &b->pending_asyncs[i];
        if (pending->is_publication)
        {
            free(((tp_async_add_publication_t *)pending->async)->backend_state);
        }
        free(pending->async);
    }
    free(b->pending_asyncs);
    if (NULL != b->context)
    {
        aeron_context_close(b->context);
    }
    if (tp_aeron_media_driver_release(b->driver) < 0)
    {
        TP_LOG_WARN(TP_AERON_MODULE, "%s", tp_errmsg());
    }
    free(b);
    t->backend_state = NULL;
}

/* Bound of the client duty cycles run by one drain. */
#define TP_AERON_DRAIN_LIMIT 256

/**
 * Run the client conductor until the driver's pending responses are handled
 * (Aeron handles one per duty cycle): one tp_transport_do_work() then sees
 * every image change the driver has announced, as with the embedded backend.
 * Returns the work count or -1 (Aeron error).
 */
static int tp_aeron_drain(tp_aeron_backend_t *b)
{
    int total = 0;
    for (int i = 0; i < TP_AERON_DRAIN_LIMIT; i++)
    {
        int work = aeron_main_do_work(b->client);
        if (work < 0)
        {
            return -1;
        }
        if (0 == work)
        {
            break;
        }
        total += work;
    }
    return total;
}

/** Backend duty cycle: the Aeron client conductor (drained). Returns work count or -1. */
static int tp_aeron_do_work(tp_transport_t *t, uint64_t now_ns)
{
    tp_aeron_backend_t *b = t->backend_state;
    int work = tp_aeron_drain(b);
    if (b->driver_lost)
    {
        /* Aeron's conductor stops working silently after a driver loss: a permanent error for the caller. */
        tp_err_set(TP_ERR_CLOSED, "aeron backend: lost the media driver of %s (%s); re-create the transport once a "
            "driver runs there again", t->dir, b->driver_lost_reason);
        if (now_ns - b->last_error_log_ns > UINT64_C(1000000000))
        {
            b->last_error_log_ns = now_ns;
            TP_LOG_ERROR(TP_AERON_MODULE, "%s", tp_errmsg());
        }
        return -1;
    }
    if (work < 0)
    {
        /* The client is unusable (driver gone or client timed out): report, rate limited. */
        if (now_ns - b->last_error_log_ns > UINT64_C(1000000000))
        {
            b->last_error_log_ns = now_ns;
            tp_aeron_err_set("aeron client duty cycle on %s", t->dir);
            TP_LOG_ERROR(TP_AERON_MODULE, "%s", tp_errmsg());
        }
        return -1;
    }
    return work;
}

/**
 * Check a UDP channel's endpoint before handing it to Aeron, so that a bad
 * endpoint fails at once with TP_ERR_MALFORMED and the same message as on the
 * embedded backend (Aeron's driver reports some of these later, as generic
 * errors). Everything else is validated by Aeron. Returns 0 or -1.
 */
static int tp_aeron_validate_channel(const tp_uri_t *uri, bool subscription)
{
    const char *endpoint = tp_uri_get(uri, "endpoint");
    if (TP_URI_MEDIA_UDP != uri->media || NULL == endpoint)
    {
        return 0;
    }
    struct sockaddr_storage addr;
    socklen_t addr_len = sizeof(addr);
    return tp_uri_resolve_endpoint(endpoint, subscription, &addr, &addr_len);
}

/** Start aeron_async_add_publication (after checking the endpoint). Returns 0 or -1. */
static int tp_aeron_async_add_publication(tp_async_add_publication_t *async)
{
    tp_aeron_backend_t *b = async->transport->backend_state;
    if (tp_aeron_validate_channel(&async->uri, false) < 0)
    {
        return -1;
    }
    tp_aeron_async_publication_t *state = calloc(1, sizeof(*state));
    if (NULL == state)
    {
        return tp_err_set(TP_ERR_NO_MEMORY, "aeron backend: out of memory");
    }
    if (aeron_async_add_publication(&state->async, b->client, async->channel, async->stream_id) < 0)
    {
        free(state);
        return tp_aeron_err_set("add publication %s stream %d", async->channel, async->stream_id);
    }
    if (tp_aeron_track_async(b, async, true) < 0)
    {
        /* Aeron frees its async command when the registration completes or at client close. */
        free(state);
        return -1;
    }
    async->backend_state = state;
    return 0;
}

/** Free what a completed or failed publication add holds. */
static void tp_aeron_async_publication_done(tp_aeron_backend_t *b, tp_async_add_publication_t *async)
{
    free(async->backend_state);
    async->backend_state = NULL;
    tp_aeron_untrack_async(b, async);
}

/** Poll the Aeron add: 1 done (pub filled from the publication constants), 0 pending, -1 error. */
static int tp_aeron_async_add_publication_poll(tp_async_add_publication_t *async, tp_publication_t *pub)
{
    tp_aeron_backend_t *b = async->transport->backend_state;
    tp_aeron_async_publication_t *state = async->backend_state;
    aeron_publication_t *publication = NULL;
    int rc = aeron_async_add_publication_poll(&publication, state->async);
    if (0 == rc)
    {
        return 0;
    }
    tp_aeron_async_publication_done(b, async);
    if (rc < 0)
    {
        return tp_aeron_err_set("Aeron media driver");
    }
    /* The driver links IPC subscribers right after the ready response: handle those images now. */
    tp_aeron_drain(b);
    tp_aeron_publication_t *p = calloc(1, sizeof(*p));
    aeron_publication_constants_t constants;
    if (NULL == p)
    {
        aeron_publication_close(publication, NULL, NULL);
        return tp_err_set(TP_ERR_NO_MEMORY, "aeron backend: out of memory");
    }
    if (aeron_publication_constants(publication, &constants) < 0)
    {
        tp_aeron_err_set("publication constants");
        free(p);
        aeron_publication_close(publication, NULL, NULL);
        return -1;
    }
    p->publication = publication;
    p->backend = b;
    p->channel_status_indicator_id = constants.channel_status_indicator_id;
    pub->ops = &tp_aeron_publication_ops;
    pub->impl = p;
    pub->session_id = constants.session_id;
    pub->max_payload_length = constants.max_payload_length;
    pub->max_message_length = constants.max_message_length;
    return 1;
}

/**
 * Start aeron_async_add_subscription with the impl (and its fragment
 * assembler) as the image handlers' clientd. Returns 0 or -1.
 */
static int tp_aeron_async_add_subscription(tp_async_add_subscription_t *async)
{
    tp_aeron_backend_t *b = async->transport->backend_state;
    if (tp_aeron_validate_channel(&async->uri, true) < 0)
    {
        return -1;
    }
    tp_aeron_subscription_t *s = calloc(1, sizeof(*s));
    if (NULL == s)
    {
        return tp_err_set(TP_ERR_NO_MEMORY, "aeron backend: out of memory");
    }
    s->backend = b;
    s->stream_id = async->stream_id;
    s->created_ns = tp_clock_mono_ns();
    if (aeron_fragment_assembler_create(&s->assembler, tp_aeron_on_message, s) < 0)
    {
        free(s);
        return tp_aeron_err_set("fragment assembler");
    }
    if (aeron_async_add_subscription(&s->async, b->client, async->channel, async->stream_id,
        tp_aeron_on_available_image, s, tp_aeron_on_unavailable_image, s) < 0)
    {
        tp_aeron_sub_free(s);
        return tp_aeron_err_set("add subscription %s stream %d", async->channel, async->stream_id);
    }
    if (tp_aeron_track_async(b, async, false) < 0)
    {
        /* The Aeron add stays registered with s as clientd: keep s until close. */
        s->next_pending = b->pending_subs;
        b->pending_subs = s;
        return -1;
    }
    s->next_pending = b->pending_subs;
    b->pending_subs = s;
    async->backend_state = s;
    return 0;
}

/** Remove `s` from the backend's pending subscriptions. */
static void tp_aeron_unlink_pending(tp_aeron_backend_t *b, tp_aeron_subscription_t *s)
{
    for (tp_aeron_subscription_t **pp = &b->pending_subs; NULL != *pp; pp = &(*pp)->next_pending)
    {
        if (*pp == s)
        {
            *pp = s->next_pending;
            s->next_pending = NULL;
            return;
        }
    }
}

/** Poll the Aeron add: 1 done (sub filled; known images announced by its do_work), 0 pending, -1 error. */
static int tp_aeron_async_add_subscription_poll(tp_async_add_subscription_t *async, tp_subscription_t *sub)
{
    tp_aeron_backend_t *b = async->transport->backend_state;
    tp_aeron_subscription_t *s = async->backend_state;
    aeron_subscription_t *subscription = NULL;
    int rc = aeron_async_add_subscription_poll(&subscription, s->async);
    if (0 == rc)
    {
        return 0;
    }
    tp_aeron_untrack_async(b, async);
    tp_aeron_unlink_pending(b, s);
    async->backend_state = NULL;
    s->async = NULL;
    if (rc < 0)
    {
        tp_aeron_err_set("Aeron media driver");
        tp_aeron_sub_free(s);
        return -1;
    }
    aeron_subscription_constants_t constants;
    if (aeron_subscription_constants(subscription, &constants) < 0)
    {
        tp_aeron_err_set("subscription constants");
        aeron_subscription_close(subscription, NULL, NULL);
        tp_aeron_sub_free(s);
        return -1;
    }
    s->subscription = subscription;
    s->channel_status_indicator_id = constants.channel_status_indicator_id;
    /* Images the driver announced right after the ready response are recorded now, announced by do_work. */
    tp_aeron_drain(b);
    s->owner = sub;
    sub->ops = &tp_aeron_subscription_ops;
    sub->impl = s;
    return 1;
}

const tp_transport_backend_ops_t tp_aeron_backend_ops = {
    .name = "aeron",
    .init = tp_aeron_init,
    .close = tp_aeron_close,
    .do_work = tp_aeron_do_work,
    .async_add_publication = tp_aeron_async_add_publication,
    .async_add_publication_poll = tp_aeron_async_add_publication_poll,
    .async_add_subscription = tp_aeron_async_add_subscription,
    .async_add_subscription_poll = tp_aeron_async_add_subscription_poll,
    .resolve_dir = tp_aeron_resolve_dir,
};
