/*
 * Transport internals: backend dispatch. A backend provides a
 * tp_transport_backend_ops_t (transport-level: init, close, do_work,
 * asynchronous adds) and, per publication/subscription, a
 * tp_publication_ops_t / tp_subscription_ops_t. The embedded backend uses
 * one ops pair per media (IPC, UDP); an Aeron adapter in src/transport/aeron/
 * provides its own ops that delegate to aeronc.h.
 */
#ifndef TP_TRANSPORT_TP_TRANSPORT_INTERNAL_H
#define TP_TRANSPORT_TP_TRANSPORT_INTERNAL_H

#include <stdatomic.h>

#include "common/tp_uri.h"
#include "transport/tp_transport.h"

typedef struct tp_publication_ops_stct
{
    int64_t (*offerv)(void *impl, const struct iovec *iov, size_t iovcnt, size_t length,
        tp_reserved_value_supplier_t supplier, void *clientd);
    int64_t (*try_claim)(void *impl, size_t length, tp_buffer_claim_t *claim);
    int (*commit)(tp_buffer_claim_t *claim);
    int (*abort)(tp_buffer_claim_t *claim);
    bool (*is_connected)(void *impl);
    int64_t (*channel_status)(void *impl);
    int64_t (*position)(void *impl);
    int (*do_work)(void *impl, uint64_t now_ns);
    int (*close)(void *impl);
} tp_publication_ops_t;

typedef struct tp_subscription_ops_stct
{
    int (*poll)(void *impl, tp_fragment_handler_t handler, void *clientd, size_t fragment_limit);
    /* tp_subscription_poll_in_place; NULL: the backend has no in-place delivery (poll is used) */
    int (*poll_in_place)(void *impl, tp_fragment_handler_t handler, void *clientd, size_t fragment_limit);
    int (*image_count)(void *impl);
    int64_t (*channel_status)(void *impl);
    int (*stats)(void *impl, tp_subscription_stats_t *stats);
    int (*do_work)(void *impl, uint64_t now_ns);
    int (*close)(void *impl);
} tp_subscription_ops_t;

struct tp_publication_stct
{
    const tp_publication_ops_t *ops;
    void *impl;
    tp_transport_t *transport;
    tp_publication_t *next;
    int32_t stream_id;
    int32_t session_id;
    size_t max_payload_length;
    size_t max_message_length;
    char channel[TP_URI_MAX_LENGTH];
};

struct tp_subscription_stct
{
    const tp_subscription_ops_t *ops;
    void *impl;
    tp_transport_t *transport;
    tp_subscription_t *next;
    int32_t stream_id;
    tp_on_available_image_t on_available;
    void *on_available_clientd;
    tp_on_unavailable_image_t on_unavailable;
    void *on_unavailable_clientd;
    char channel[TP_URI_MAX_LENGTH];
};

struct tp_async_add_publication_stct
{
    tp_transport_t *transport;
    tp_uri_t uri;
    int32_t stream_id;
    char channel[TP_URI_MAX_LENGTH];
    void *backend_state;
};

struct tp_async_add_subscription_stct
{
    tp_transport_t *transport;
    tp_uri_t uri;
    int32_t stream_id;
    char channel[TP_URI_MAX_LENGTH];
    tp_on_available_image_t on_available;
    void *on_available_clientd;
    tp_on_unavailable_image_t on_unavailable;
    void *on_unavailable_clientd;
    void *backend_state;
};

typedef struct tp_transport_backend_ops_stct
{
    const char *name;
    int (*init)(tp_transport_t *t);
    void (*close)(tp_transport_t *t);
    int (*do_work)(tp_transport_t *t, uint64_t now_ns);
    /** Start an add; may complete later. Returns 0 or -1. */
    int (*async_add_publication)(tp_async_add_publication_t *async);
    /** 1 done (fills pub->ops/impl/limits/session), 0 pending, -1 error. */
    int (*async_add_publication_poll)(tp_async_add_publication_t *async, tp_publication_t *pub);
    int (*async_add_subscription)(tp_async_add_subscription_t *async);
    int (*async_add_subscription_poll)(tp_async_add_subscription_t *async, tp_subscription_t *sub);
    /**
     * Optional: resolve t->dir from t->ctx.dir for this backend (e.g. the
     * Aeron directory: $AERON_DIR or Aeron's default, which may not exist
     * before a media driver creates it). NULL = the embedded rule (the
     * transport directory must exist and be writable). Returns 0 or -1.
     */
    int (*resolve_dir)(tp_transport_t *t);
} tp_transport_backend_ops_t;

struct tp_transport_stct
{
    tp_transport_context_t ctx;
    const tp_transport_backend_ops_t *backend;
    void *backend_state;
    char dir[PATH_MAX];
    tp_publication_t *publications;
    tp_subscription_t *subscriptions;
    uint64_t last_cleanup_ns;
    struct tp_ipc_log_stct *ipc_logs; /* embedded IPC: logs mapped by this transport */
};

/**
 * Fault injection (tp_transport_faults_t.fail_try_claim, fail_claim_commit):
 * wrap a new publication's ops so that its claims and claim commits ask the
 * hooks first. Called when the add completes, only when one of these hooks
 * is set. Returns 0 or -1.
 */
int tp_transport_faults_wrap_publication(tp_publication_t *pub, const tp_transport_faults_t *faults);

/** The embedded backend (IPC + UDP). */
extern const tp_transport_backend_ops_t tp_embedded_backend_ops;

#if defined(TP_HAVE_AERON)
/** The Aeron backend (src/transport/aeron/), selected by backend name "aeron" when TP_HAVE_AERON is defined. */
extern const tp_transport_backend_ops_t tp_aeron_backend_ops;
#endif

/** Deliver image notifications (used by backends). */
void tp_subscription_notify_available(tp_subscription_t *sub, const tp_image_t *image);
void tp_subscription_notify_unavailable(tp_subscription_t *sub, const tp_image_t *image);

#endif
