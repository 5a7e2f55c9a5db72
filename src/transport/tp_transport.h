/*
 * Transport layer: internal interface (never exposed in public headers).
 *
 * Publications and subscriptions keyed by (channel, stream id), shaped after
 * the Aeron C client (aeronc.h) so that an `aeron` backend can implement the
 * same functions by delegating to aeron_async_add_publication,
 * aeron_publication_offer, aeron_fragment_assembler, ...:
 *
 *   tp_transport_context_t ctx; tp_transport_context_init(&ctx);
 *   tp_transport_t *t; tp_transport_init(&t, &ctx);
 *   tp_transport_add_publication(&pub, t, "aeron:ipc", 1000, timeout_ns);
 *   tp_publication_offer(pub, buf, len, NULL, NULL);   // >0 position or TP_PUBLICATION_*
 *   tp_subscription_poll(sub, handler, clientd, 10);   // handler sees whole messages
 *   tp_transport_do_work(t);                           // liveness, images, UDP status, cleanup
 *
 * Threading (as in Aeron): the transport object, the add/close functions and
 * tp_transport_do_work() belong to one thread (the conductor's duty cycle).
 * tp_publication_offer/offerv/try_claim may be called from any thread;
 * tp_subscription_poll from one thread at a time per subscription.
 * Image handlers run from tp_transport_do_work() (and from the async poll
 * that completes a subscription).
 *
 * Backends: "embedded" (always built; aeron:ipc over shared-memory logs in
 * the transport directory and best-effort aeron:udp) and "aeron" (a separate
 * adapter; see tp_transport_internal.h for the ops it must provide).
 */
#ifndef TP_TRANSPORT_TP_TRANSPORT_H
#define TP_TRANSPORT_TP_TRANSPORT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* Publication results (same values as Aeron's AERON_PUBLICATION_*). */
#define TP_PUBLICATION_NOT_CONNECTED (-1L)
#define TP_PUBLICATION_BACK_PRESSURED (-2L)
#define TP_PUBLICATION_ADMIN_ACTION (-3L)
#define TP_PUBLICATION_CLOSED (-4L)
#define TP_PUBLICATION_MAX_POSITION_EXCEEDED (-5L)
#define TP_PUBLICATION_ERROR (-6L)

/* Channel status (same values as Aeron's channel status indicator). */
#define TP_CHANNEL_STATUS_ERRORED (-1)
#define TP_CHANNEL_STATUS_INITIALIZING (0)
#define TP_CHANNEL_STATUS_ACTIVE (1)
#define TP_CHANNEL_STATUS_CLOSING (2)

/* Fragment flags (as in Aeron's data header). */
#define TP_FRAGMENT_FLAG_BEGIN ((uint8_t)0x80)
#define TP_FRAGMENT_FLAG_END ((uint8_t)0x40)
#define TP_FRAGMENT_FLAG_UNFRAGMENTED ((uint8_t)0xC0)

/* Defaults (documented in docs/TRANSPORT.md). */
#define TP_TRANSPORT_DEFAULT_LIVENESS_TIMEOUT_NS (UINT64_C(5000000000))
#define TP_TRANSPORT_DEFAULT_UNBLOCK_TIMEOUT_NS (UINT64_C(1000000000))
#define TP_TRANSPORT_DEFAULT_CLIENT_TIMEOUT_NS (UINT64_C(10000000000))
#define TP_TRANSPORT_DEFAULT_TETHER_TIMEOUT_NS (UINT64_C(100000000))
#define TP_TRANSPORT_DIR_ENV "TP_TRANSPORT_DIR"
#define TP_TRANSPORT_BACKEND_ENV "TP_TRANSPORT_BACKEND"
#define TP_TRANSPORT_TETHER_TIMEOUT_ENV "TP_TETHER_TIMEOUT"

typedef struct tp_transport_stct tp_transport_t;
typedef struct tp_publication_stct tp_publication_t;
typedef struct tp_subscription_stct tp_subscription_t;
typedef struct tp_async_add_publication_stct tp_async_add_publication_t;
typedef struct tp_async_add_subscription_stct tp_async_add_subscription_t;

/**
 * Fault injection: hooks the transport consults, supplied through its
 * context (tp_transport_context_t.faults; NULL, the default, injects
 * nothing, and so does a NULL hook). Used by tests to simulate a media
 * driver's latency and transport failures; the table and `clientd` must
 * outlive the transport. Hooks run on the thread calling the transport.
 */
typedef struct tp_transport_faults_stct
{
    /**
     * Asked by every poll of a publication or subscription add (`add` is the
     * tp_async_add_publication_t or tp_async_add_subscription_t) before the
     * backend is: true answers "pending" without asking the backend.
     */
    bool (*add_poll_pending)(void *clientd, const void *add);
    /**
     * Asked by every tp_buffer_claim_commit: true aborts the claim instead
     * (the claimed space becomes padding) and fails the commit with TP_ERR_IO.
     */
    bool (*fail_claim_commit)(void *clientd);
    /**
     * Asked by every tp_publication_try_claim: true fails it with
     * TP_PUBLICATION_ERROR (tp_errcode() TP_ERR_IO) and claims nothing.
     */
    bool (*fail_try_claim)(void *clientd);
    void *clientd;
} tp_transport_faults_t;

/** Transport configuration. Initialise with tp_transport_context_init(), then set fields. */
typedef struct tp_transport_context_stct
{
    char backend[16];              /**< "embedded" (default, or $TP_TRANSPORT_BACKEND) or "aeron" */
    char dir[PATH_MAX];            /**< embedded: transport directory; aeron: aeron dir. "" = default */
    uint64_t liveness_timeout_ns;  /**< peers silent longer than this are dead (default 5 s) */
    uint64_t unblock_timeout_ns;   /**< IPC: a claimed frame not committed in this time is skipped (default 1 s) */
    uint64_t client_timeout_ns;    /**< default timeout of the blocking helpers (default 10 s) */
    /**
     * IPC subscriptions: a tethered subscriber that holds publishers back without advancing for this long is
     * untethered (it may then be lapped, and counts the loss); 0 = never (default 100 ms; channel parameter
     * `untethered-window-limit-timeout` overrides it per subscription). docs/TRANSPORT.md, "Tether timeout".
     */
    uint64_t tether_timeout_ns;
    const tp_transport_faults_t *faults; /**< fault injection (tests); NULL = none (default) */
} tp_transport_context_t;

/** An image: one publisher session as seen by a subscription. Valid during the handler call. */
typedef struct tp_image_stct
{
    int32_t session_id;
    int32_t stream_id;
    uint64_t join_time_ns;   /**< CLOCK_MONOTONIC when the publisher became visible to this subscription
                                  (never after a message the image can deliver; docs/TRANSPORT.md) */
    int64_t join_position;   /**< stream position at which the subscription joined */
    char source_identity[64];/**< "pid:<pid>" for IPC, "ip:port" for UDP */
    tp_subscription_t *subscription;
} tp_image_t;

typedef void (*tp_on_available_image_t)(void *clientd, tp_subscription_t *subscription, const tp_image_t *image);
typedef void (*tp_on_unavailable_image_t)(void *clientd, tp_subscription_t *subscription, const tp_image_t *image);

/** Header of a delivered message (like aeron_header_values_t). */
typedef struct tp_header_stct
{
    int32_t session_id;
    int32_t stream_id;
    int64_t position;        /**< stream position after this message */
    int64_t reserved_value;  /**< as returned by the publisher's reserved value supplier (0 otherwise) */
    uint8_t flags;           /**< TP_FRAGMENT_FLAG_UNFRAGMENTED for a whole message */
} tp_header_t;

/** Message handler: `buffer`/`length` is the whole (reassembled) message, valid during the call. */
typedef void (*tp_fragment_handler_t)(void *clientd, const uint8_t *buffer, size_t length, const tp_header_t *header);

/** Called after the message is written, before it is committed; the result goes in the reserved value. */
typedef int64_t (*tp_reserved_value_supplier_t)(void *clientd, uint8_t *buffer, size_t length);

/** A claimed region of the log (tp_publication_try_claim). */
typedef struct tp_buffer_claim_stct
{
    uint8_t *data;       /**< write `length` bytes here, then commit or abort */
    size_t length;
    void *frame;         /**< backend private */
    void *impl;          /**< backend private */
    const void *ops;     /**< backend private */
} tp_buffer_claim_t;

/** Loss and progress counters of a subscription. */
typedef struct tp_subscription_stats_stct
{
    uint64_t messages;       /**< messages delivered */
    uint64_t bytes;          /**< payload bytes delivered */
    uint64_t lost_messages;  /**< messages known lost (UDP gaps, skipped IPC holes; a lap counts as >= 1) */
    uint64_t lost_bytes;     /**< log bytes skipped (IPC laps and holes) or bytes of dropped partial messages */
    uint64_t laps;           /**< IPC: times the subscriber was lapped by the writers */
    uint64_t holes;          /**< IPC: uncommitted frames skipped after the unblock timeout */
    uint64_t dropped;        /**< malformed or foreign frames/datagrams dropped */
    uint64_t untethered;     /**< IPC: times this tethered subscriber was untethered by the tether timeout */
} tp_subscription_stats_t;

/* ------------------------------------------------------------------------- */
/* Context and transport                                                      */
/* ------------------------------------------------------------------------- */

/**
 * Fill `ctx` with defaults: backend from $TP_TRANSPORT_BACKEND or "embedded",
 * dir from $TP_TRANSPORT_DIR or "" (= /dev/shm/tensorpool-<uid>/transport).
 * Returns 0 or -1 (NULL ctx).
 */
int tp_transport_context_init(tp_transport_context_t *ctx);

/** Set the transport directory (copied). Returns 0 or -1 if too long. */
int tp_transport_context_set_dir(tp_transport_context_t *ctx, const char *dir);

/** Set the backend name ("embedded" or "aeron"). Returns 0 or -1 if unknown. */
int tp_transport_context_set_backend(tp_transport_context_t *ctx, const char *backend);

/** The per-user default transport directory, written to `buf`. Returns 0 or -1 if it does not fit. */
int tp_transport_default_dir(char *buf, size_t len);

/**
 * Create a transport. Embedded: the default directory is created (0700) when
 * missing; an explicitly configured directory must exist and be writable
 * (TP_ERR_NOT_FOUND / TP_ERR_PERMISSION otherwise). Stale IPC logs with no
 * live users are removed. Returns 0 or -1.
 */
int tp_transport_init(tp_transport_t **out, const tp_transport_context_t *ctx);

/** Close the transport (closes remaining publications and subscriptions). Returns 0 or -1. */
int tp_transport_close(tp_transport_t *t);

/**
 * Duty cycle: heartbeats, liveness of peers, image notifications, UDP
 * receive of status messages, reaping of dead peers. Call it regularly
 * (at least every liveness_timeout / 10). Returns work count, or -1 when the
 * backend failed (tp error set; e.g. the aeron backend lost its media driver:
 * TP_ERR_CLOSED on every later call).
 */
int tp_transport_do_work(tp_transport_t *t);

/**
 * tp_transport_do_work() with the caller's CLOCK_MONOTONIC reading `now_ns`
 * (a duty cycle that already read the clock saves a second read; a reading
 * a few microseconds old is fine, the transport's timers are milliseconds).
 */
int tp_transport_do_work_at(tp_transport_t *t, uint64_t now_ns);

/** Backend name of a transport ("embedded", "aeron"). */
const char *tp_transport_backend_name(const tp_transport_t *t);

/** The resolved transport directory. */
const char *tp_transport_dir(const tp_transport_t *t);

/* ------------------------------------------------------------------------- */
/* Asynchronous and blocking creation                                          */
/* ------------------------------------------------------------------------- */

/**
 * Start adding a publication on (channel, stream_id). The channel URI is
 * validated immediately. Returns 0 (poll `*async`) or -1.
 */
int tp_transport_async_add_publication(
    tp_async_add_publication_t **async, tp_transport_t *t, const char *channel, int32_t stream_id);

/** Poll: 1 done (`*pub` set, async freed), 0 pending, -1 error (async freed). */
int tp_transport_async_add_publication_poll(tp_publication_t **pub, tp_async_add_publication_t *async);

/**
 * Start adding a subscription. Image handlers (may be NULL) are called from
 * tp_transport_do_work() (and from the poll that completes the add).
 * Returns 0 or -1.
 */
int tp_transport_async_add_subscription(
    tp_async_add_subscription_t **async, tp_transport_t *t, const char *channel, int32_t stream_id,
    tp_on_available_image_t on_available, void *on_available_clientd, tp_on_unavailable_image_t on_unavailable,
    void *on_unavailable_clientd);

/**
 * Detach the image handlers of a pending subscription add: the subscription
 * it yields calls neither (for an owner that gives the add up before it
 * completes). Call before the add completes.
 */
void tp_transport_async_add_subscription_detach_handlers(tp_async_add_subscription_t *async);

/** Poll: 1 done (`*sub` set, async freed), 0 pending, -1 error (async freed). */
int tp_transport_async_add_subscription_poll(tp_subscription_t **sub, tp_async_add_subscription_t *async);

/** Blocking helper: async add + poll (running do_work) until done or `timeout_ns` (0 = context default). */
int tp_transport_add_publication(
    tp_publication_t **pub, tp_transport_t *t, const char *channel, int32_t stream_id, uint64_t timeout_ns);

/** Blocking helper for subscriptions (see tp_transport_add_publication). */
int tp_transport_add_subscription(
    tp_subscription_t **sub, tp_transport_t *t, const char *channel, int32_t stream_id,
    tp_on_available_image_t on_available, void *on_available_clientd, tp_on_unavailable_image_t on_unavailable,
    void *on_unavailable_clientd, uint64_t timeout_ns);

/* ------------------------------------------------------------------------- */
/* Publications                                                               */
/* ------------------------------------------------------------------------- */

/**
 * Offer a message (copied). Returns the new stream position (> 0) or one of
 * TP_PUBLICATION_NOT_CONNECTED (no live subscriber: the message is dropped),
 * TP_PUBLICATION_BACK_PRESSURED (retry later; nothing was written),
 * TP_PUBLICATION_ADMIN_ACTION (retry), TP_PUBLICATION_CLOSED,
 * TP_PUBLICATION_MAX_POSITION_EXCEEDED, TP_PUBLICATION_ERROR (tp_errmsg()
 * says why, e.g. message longer than tp_publication_max_message_length()).
 * Thread-safe. No allocation, lock or system call on IPC.
 */
int64_t tp_publication_offer(
    tp_publication_t *pub, const uint8_t *buffer, size_t length, tp_reserved_value_supplier_t supplier,
    void *clientd);

/** Gathering offer of `iovcnt` buffers as one message (same results as tp_publication_offer). */
int64_t tp_publication_offerv(
    tp_publication_t *pub, const struct iovec *iov, size_t iovcnt, tp_reserved_value_supplier_t supplier,
    void *clientd);

/**
 * Claim `length` bytes (at most tp_publication_max_payload_length(), i.e. one
 * fragment, as in Aeron) to write in place, then tp_buffer_claim_commit() or
 * tp_buffer_claim_abort(). Returns the new position (> 0) or a
 * TP_PUBLICATION_* code. Commit/abort promptly: a claim left open longer than
 * the unblock timeout is skipped by subscribers.
 */
int64_t tp_publication_try_claim(tp_publication_t *pub, size_t length, tp_buffer_claim_t *claim);

/** Commit a claim (makes it visible). Returns 0 or -1. */
int tp_buffer_claim_commit(tp_buffer_claim_t *claim);

/** Abort a claim (subscribers skip it). Returns 0 or -1. */
int tp_buffer_claim_abort(tp_buffer_claim_t *claim);

/** Whether at least one live subscriber exists (heartbeats / status messages). */
bool tp_publication_is_connected(tp_publication_t *pub);

/** TP_CHANNEL_STATUS_ACTIVE, _ERRORED, ... */
int64_t tp_publication_channel_status(tp_publication_t *pub);

/** Current stream position of this publication. */
int64_t tp_publication_position(tp_publication_t *pub);

/** Largest payload of a single fragment (the try_claim limit). */
size_t tp_publication_max_payload_length(const tp_publication_t *pub);

/** Largest message that offer accepts. */
size_t tp_publication_max_message_length(const tp_publication_t *pub);

int32_t tp_publication_session_id(const tp_publication_t *pub);
int32_t tp_publication_stream_id(const tp_publication_t *pub);
const char *tp_publication_channel(const tp_publication_t *pub);

/** Close and free a publication (conductor thread). Returns 0 or -1. NULL is a no-op. */
int tp_publication_close(tp_publication_t *pub);

/* ------------------------------------------------------------------------- */
/* Subscriptions                                                              */
/* ------------------------------------------------------------------------- */

/**
 * Deliver up to `fragment_limit` whole messages to `handler`. Returns the
 * number of messages delivered (0 when none) or -1. Never delivers a torn
 * message; losses are counted (tp_subscription_stats).
 */
int tp_subscription_poll(
    tp_subscription_t *sub, tp_fragment_handler_t handler, void *clientd, size_t fragment_limit);

/**
 * tp_subscription_poll for handlers that can read a message in place: where
 * the backend can, `buffer` points into its shared log instead of a private
 * copy (IPC: while the subscription is tethered, so that no writer following
 * the protocol can reach the message before the subscriber's position moves
 * past it, unless the tether timeout untethers the subscription during the
 * call; otherwise, or on other backends, a copy as in
 * tp_subscription_poll). Saves the copy and lets the handler's loads start
 * as soon as the message is seen.
 *
 * The log is shared memory: another process mapping it can still write the
 * message during the call (a broken or hostile writer). The handler must
 * therefore read each byte at most once, check the values it read (never
 * re-read the buffer after a check), and not keep `buffer` after returning.
 * A message torn that way is then as harmless as a malformed one.
 */
int tp_subscription_poll_in_place(
    tp_subscription_t *sub, tp_fragment_handler_t handler, void *clientd, size_t fragment_limit);

/** Number of images (live publisher sessions) currently known. */
int tp_subscription_image_count(tp_subscription_t *sub);

/** Whether at least one image is connected. */
bool tp_subscription_is_connected(tp_subscription_t *sub);

/** TP_CHANNEL_STATUS_ACTIVE, _ERRORED, ... */
int64_t tp_subscription_channel_status(tp_subscription_t *sub);

/** Copy the subscription's counters into `*stats`. Returns 0 or -1. */
int tp_subscription_stats(tp_subscription_t *sub, tp_subscription_stats_t *stats);

int32_t tp_subscription_stream_id(const tp_subscription_t *sub);
const char *tp_subscription_channel(const tp_subscription_t *sub);

/** Close and free a subscription (conductor thread). Returns 0 or -1. NULL is a no-op. */
int tp_subscription_close(tp_subscription_t *sub);

#endif
