/*
 * Rate limiter agent state (private to src/ratelimit). Every field is written
 * by the agent's duty cycle only; the counters in `stats` are also read by
 * tp_ratelimit_stats() from any thread (relaxed atomic builtins on both sides).
 */
#ifndef TP_RATELIMIT_TP_RATELIMIT_INTERNAL_H
#define TP_RATELIMIT_TP_RATELIMIT_INTERNAL_H

#include "common/tp_agent_runner.h"
#include "common/tp_log.h"
#include "ratelimit/tp_ratelimit.h"
#include "transport/tp_transport.h"

#define TP_RL_STAT_ADD(m, field, n) __atomic_fetch_add(&(m)->stats.field, (uint64_t)(n), __ATOMIC_RELAXED)
#define TP_RL_STAT_SET(m, field, v) __atomic_store_n(&(m)->stats.field, (uint64_t)(v), __ATOMIC_RELAXED)
#define TP_RL_STAT_GET(m, field) __atomic_load_n(&(m)->stats.field, __ATOMIC_RELAXED)

typedef struct tp_rl_mapping_stct
{
    struct tp_ratelimit_stct *rl;
    size_t index;
    tp_ratelimit_mapping_config_t cfg;
    uint32_t fallback_rate_hz;   /* mapping rate or the instance's (§8) */
    uint32_t meta_stream_id;     /* stream_id of forwarded metadata (§6) */
    uint32_t producer_id;        /* our destination producer's id (foreign announce check) */
    tp_consumer_t *consumer;     /* source stream, STREAM mode */
    tp_producer_t *producer;     /* destination stream, single writer = the agent */

    /* rate slot (§4) */
    uint32_t rate_hz;            /* effective: the governing hello's or the fallback */
    uint64_t interval_ns;        /* 0 = unlimited */
    uint64_t next_slot_ns;       /* slot open when now >= next_slot_ns (0 = open: start, remap) */

    /* the staged candidate: the newest source frame, copied into a claimed destination slot */
    bool staged;
    tp_frame_claim_t claim;
    tp_tensor_header_t tensor;
    size_t length;
    uint64_t seq;
    uint64_t timestamp_ns;
    uint64_t trace_id;
    uint32_t meta_version;

    /* epochs (§7) */
    uint64_t source_epoch;       /* 0 = no frame seen yet */
    bool remap_pending;          /* the destination must move to a new epoch before the next frame */
    tp_async_add_producer_t *pending_add; /* driver mode: the new destination lease being asked for */

    /* per-consumer mode (§4): the consumer whose ConsumerHello governs */
    uint32_t consumer_id;        /* 0 = none */
    uint32_t consumer_rate_hz;
    uint64_t consumer_seen_ns;

    tp_log_limiter_t log_hello;    /* ignored hellos */
    tp_log_limiter_t log_announce; /* foreign announces */
    tp_log_limiter_t log_frame;    /* remap / commit failures */

    tp_ratelimit_stats_t stats;
} tp_rl_mapping_t;

struct tp_ratelimit_stct
{
    tp_ratelimit_config_t config;
    tp_client_t *source;          /* invoker mode: consumers of the source streams */
    tp_client_t *dest;            /* invoker mode: producers of the destination streams */
    tp_transport_t *transport;    /* the agent's own subscriptions/publications */
    tp_subscription_t *sub_control;   /* ConsumerHello (+ ShmPoolAnnounce when announces share it) */
    tp_subscription_t *sub_announce;  /* ShmPoolAnnounce when on its own stream (else NULL) */
    tp_subscription_t *sub_metadata;  /* source DataSourceAnnounce/Meta (forward_metadata) */
    tp_publication_t *pub_metadata;
    tp_subscription_t *sub_progress;  /* forward_progress */
    tp_publication_t *pub_progress;
    tp_subscription_t *sub_qos;       /* forward_qos */
    tp_publication_t *pub_qos;
    bool driver_mode;
    uint64_t stale_ns;            /* a governing consumer without hello for this long is forgotten */
    uint64_t client_timeout_ns;
    tp_ratelimit_clock_t clock;
    void *clock_clientd;
    uint64_t now_ns;              /* clock read at the start of the duty cycle */
    tp_agent_runner_t runner;
    bool runner_started;
    /* Test hook (tests/ratelimit): runs after a source frame was copied, before its seqlock re-check (RL17). */
    void (*test_after_copy)(void *clientd, const tp_frame_t *frame);
    void *test_after_copy_clientd;
    size_t mapping_count;
    tp_rl_mapping_t mappings[TP_RATELIMIT_MAX_MAPPINGS];
};

/*
 * tp_ratelimit_init() with the destination client's context given as is
 * (tests: fault injection on the destination transport). `dest_ctx` NULL =
 * derived from `ctx` with the config's descriptor stream; otherwise the
 * caller has set that stream (and anything else) on it.
 */
int tp_rl_init(struct tp_ratelimit_stct **out, const tp_ratelimit_config_t *config, const tp_context_t *ctx,
    const tp_context_t *dest_ctx);

/* Own subscriptions (tp_ratelimit_forward.c): hellos, foreign announces, forwarding. Returns work done. */
int tp_rl_poll_control(struct tp_ratelimit_stct *rl);

/* Re-evaluate the effective rate of a mapping (hello staleness, fallback). */
void tp_rl_update_rate(tp_rl_mapping_t *m, uint64_t now_ns);

/* Mapping serving source stream `stream_id`, or NULL. */
tp_rl_mapping_t *tp_rl_by_source(struct tp_ratelimit_stct *rl, uint32_t stream_id);

/* Mapping serving destination stream `stream_id`, or NULL. */
tp_rl_mapping_t *tp_rl_by_dest(struct tp_ratelimit_stct *rl, uint32_t stream_id);

#endif
