/*
 * Client and client conductor: owns the transport and its children (the
 * producers and consumers: their adds and closes), runs the duty cycle of
 * every child, processes cross-thread commands through their ops tables
 * (tp_client_cmd.h) and polls the pending and orphaned transport adds
 * (tp_pending_adds.c). Runs on the conductor thread, or on the
 * application's thread in invoker mode.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/tp_client_internal.h"
#include "client/tp_consumer_internal.h"
#include "client/tp_producer_internal.h"
#include "common/tp_clock.h"
#include "common/tp_error.h"
#include "common/tp_log.h"

/* Longest wait in tp_client_close for released transport adds to complete. */
#define TP_CLIENT_CLOSE_ORPHAN_WAIT_NS (100000000ULL)

/* ------------------------------------------------------------------------- */
/* Children: adds and closes (the conductor owns its producers and consumers) */
/* ------------------------------------------------------------------------- */

/* Returns true when `producer` was registered (and is now removed). */
static bool remove_producer(tp_client_t *client, tp_producer_t *producer)
{
    for (size_t i = 0; i < client->producer_count; i++)
    {
        if (client->producers[i] == producer)
        {
            client->producers[i] = client->producers[--client->producer_count];
            return true;
        }
    }
    return false;
}

/* Returns true when `consumer` was registered (and is now removed). */
static bool remove_consumer(tp_client_t *client, tp_consumer_t *consumer)
{
    for (size_t i = 0; i < client->consumer_count; i++)
    {
        if (client->consumers[i] == consumer)
        {
            client->consumers[i] = client->consumers[--client->consumer_count];
            return true;
        }
    }
    return false;
}

/* Adds of `kind` admitted and still waiting for their transport resources. */
static size_t pending_add_count_of(const tp_client_t *client, tp_cmd_kind_t kind)
{
    size_t n = 0;
    for (size_t i = 0; i < client->pending_add_count; i++)
    {
        if (client->pending_adds[i]->ops->kind == kind)
        {
            n++;
        }
    }
    return n;
}

/* Whether one more add of `kind` fits: completed ones plus those still pending. */
static bool add_admissible(const tp_client_t *client, tp_cmd_kind_t kind)
{
    if (client->pending_add_count >= sizeof(client->pending_adds) / sizeof(client->pending_adds[0]))
    {
        return false;
    }
    size_t pending = pending_add_count_of(client, kind);
    return TP_CMD_KIND_ADD_PRODUCER == kind ? client->producer_count + pending < TP_CLIENT_MAX_PRODUCERS
                                            : client->consumer_count + pending < TP_CLIENT_MAX_CONSUMERS;
}

static int too_many_error(tp_cmd_kind_t kind)
{
    return tp_err_set(TP_ERR_STATE, "too many %s in one client (max %d, counting adds still pending)",
        TP_CMD_KIND_ADD_PRODUCER == kind ? "producers" : "consumers",
        TP_CMD_KIND_ADD_PRODUCER == kind ? TP_CLIENT_MAX_PRODUCERS : TP_CLIENT_MAX_CONSUMERS);
}

/* Shared by both add kinds: `rc` is the result of creating the target. */
static void add_admitted(tp_client_t *client, tp_client_cmd_t *cmd, int rc)
{
    if (rc < 0)
    {
        tp_client_cmd_set_error(cmd);
        tp_client_cmd_complete(cmd, false);
    }
    else
    {
        client->pending_adds[client->pending_add_count++] = cmd;
    }
}

static void add_producer_execute(tp_client_t *client, tp_client_cmd_t *cmd)
{
    int rc;
    if (!add_admissible(client, cmd->ops->kind))
    {
        rc = too_many_error(cmd->ops->kind);
    }
    else
    {
        tp_producer_t *p = NULL;
        rc = tp_producer_create(&p, client, &((tp_async_add_producer_t *)cmd)->config);
        cmd->target = p;
    }
    add_admitted(client, cmd, rc);
}

static int add_producer_poll(tp_client_cmd_t *cmd)
{
    return tp_producer_poll_ready(cmd->target);
}

static bool add_producer_attach(tp_client_t *client, tp_client_cmd_t *cmd)
{
    if (client->producer_count >= TP_CLIENT_MAX_PRODUCERS)
    {
        return false;
    }
    client->producers[client->producer_count++] = cmd->target;
    return true;
}

static void add_producer_detach(tp_client_t *client, tp_client_cmd_t *cmd)
{
    remove_producer(client, cmd->target);
}

static void add_producer_abandoned(tp_client_cmd_t *cmd)
{
    tp_producer_destroy(cmd->target); /* NULL is ignored */
    cmd->target = NULL;
}

static const tp_client_cmd_ops_t add_producer_ops = {
    .kind = TP_CMD_KIND_ADD_PRODUCER,
    .execute = add_producer_execute,
    .poll = add_producer_poll,
    .attach = add_producer_attach,
    .detach = add_producer_detach,
    .on_abandoned = add_producer_abandoned,
};

static void add_consumer_execute(tp_client_t *client, tp_client_cmd_t *cmd)
{
    int rc;
    if (!add_admissible(client, cmd->ops->kind))
    {
        rc = too_many_error(cmd->ops->kind);
    }
    else
    {
        tp_consumer_t *c = NULL;
        rc = tp_consumer_create(&c, client, &((tp_async_add_consumer_t *)cmd)->config);
        cmd->target = c;
    }
    add_admitted(client, cmd, rc);
}

static int add_consumer_poll(tp_client_cmd_t *cmd)
{
    return tp_consumer_poll_ready(cmd->target);
}

static bool add_consumer_attach(tp_client_t *client, tp_client_cmd_t *cmd)
{
    if (client->consumer_count >= TP_CLIENT_MAX_CONSUMERS)
    {
        return false;
    }
    client->consumers[client->consumer_count++] = cmd->target;
    return true;
}

static void add_consumer_detach(tp_client_t *client, tp_client_cmd_t *cmd)
{
    remove_consumer(client, cmd->target);
}

static void add_consumer_abandoned(tp_client_cmd_t *cmd)
{
    tp_consumer_destroy(cmd->target); /* NULL is ignored */
    cmd->target = NULL;
}

static const tp_client_cmd_ops_t add_consumer_ops = {
    .kind = TP_CMD_KIND_ADD_CONSUMER,
    .execute = add_consumer_execute,
    .poll = add_consumer_poll,
    .attach = add_consumer_attach,
    .detach = add_consumer_detach,
    .on_abandoned = add_consumer_abandoned,
};

static void close_producer_execute(tp_client_t *client, tp_client_cmd_t *cmd)
{
    /* only a registered producer is destroyed: a repeated close (e.g. after a timed-out one) is refused */
    if (remove_producer(client, cmd->target))
    {
        tp_producer_destroy(cmd->target);
        tp_client_cmd_complete(cmd, true);
    }
    else
    {
        tp_err_set(TP_ERR_CLOSED, "producer already closed (or not of this client)");
        tp_client_cmd_set_error(cmd);
        tp_client_cmd_complete(cmd, false);
    }
}

static const tp_client_cmd_ops_t close_producer_ops = { .kind = TP_CMD_KIND_OTHER, .execute = close_producer_execute };

static void close_consumer_execute(tp_client_t *client, tp_client_cmd_t *cmd)
{
    if (remove_consumer(client, cmd->target))
    {
        tp_consumer_destroy(cmd->target);
        tp_client_cmd_complete(cmd, true);
    }
    else
    {
        tp_err_set(TP_ERR_CLOSED, "consumer already closed (or not of this client)");
        tp_client_cmd_set_error(cmd);
        tp_client_cmd_complete(cmd, false);
    }
}

static const tp_client_cmd_ops_t close_consumer_ops = { .kind = TP_CMD_KIND_OTHER, .execute = close_consumer_execute };

/* Closing a child is a conductor command: the conductor owns its producers and consumers. */
static int submit_close(tp_client_t *client, const tp_client_cmd_ops_t *ops, void *target, const char *what)
{
    tp_client_cmd_t *cmd = calloc(1, sizeof(*cmd));
    if (NULL == cmd)
    {
        return tp_err_set(TP_ERR_NO_MEMORY, "%s: out of memory", what);
    }
    cmd->ops = ops;
    cmd->target = target;
    return tp_client_submit_and_wait(client, cmd);
}

int tp_producer_close(tp_producer_t *producer)
{
    if (NULL == producer)
    {
        return 0;
    }
    return submit_close(producer->client, &close_producer_ops, producer, "tp_producer_close");
}

int tp_consumer_close(tp_consumer_t *consumer)
{
    if (NULL == consumer)
    {
        return 0;
    }
    return submit_close(consumer->client, &close_consumer_ops, consumer, "tp_consumer_close");
}

/* ------------------------------------------------------------------------- */
/* Duty cycle                                                                 */
/* ------------------------------------------------------------------------- */

static int poll_pending_adds(tp_client_t *client)
{
    int work = 0;
    for (size_t i = 0; i < client->pending_add_count;)
    {
        tp_client_cmd_t *cmd = client->pending_adds[i];
        int rc;
        if (TP_CMD_ABANDONED == atomic_load(&cmd->state))
        {
            rc = -2;
        }
        else
        {
            rc = cmd->ops->poll(cmd);
        }
        if (0 == rc)
        {
            i++;
            continue;
        }
        work++;
        client->pending_adds[i] = client->pending_adds[--client->pending_add_count];
        if (1 == rc && !cmd->ops->attach(client, cmd))
        {
            /* admission counts pending adds, so this cannot happen; never write past the array regardless */
            too_many_error(cmd->ops->kind);
            rc = -1;
        }
        if (1 == rc)
        {
            int expected = TP_CMD_PENDING;
            if (!atomic_compare_exchange_strong(&cmd->state, &expected, TP_CMD_DONE))
            {
                cmd->ops->detach(client, cmd);
                cmd->ops->on_abandoned(cmd);
                tp_client_cmd_free(cmd);
            }
        }
        else
        {
            if (-1 == rc)
            {
                tp_client_cmd_set_error(cmd);
            }
            cmd->ops->on_abandoned(cmd);
            tp_client_cmd_complete(cmd, false);
        }
    }
    return work;
}

static void drain_handler(void *clientd, void *item)
{
    tp_client_cmd_run(clientd, item);
}

static int conductor_do_work(void *state)
{
    tp_client_t *client = state;
    int work = (int)tp_mpsc_queue_drain(&client->commands, drain_handler, client, 16);
    uint64_t now_ns = tp_clock_mono_ns(); /* one clock read per duty cycle, shared with the transport */
    int rc = tp_transport_do_work_at(client->transport, now_ns);
    if (rc < 0)
    {
        tp_client_report_error(client, "transport duty cycle");
    }
    else
    {
        work += rc;
    }
    if (client->pending_add_count > 0)
    {
        work += poll_pending_adds(client);
    }
    if (client->orphans.count > 0)
    {
        work += tp_client_poll_orphan_adds(client);
    }
    for (size_t i = 0; i < client->producer_count; i++)
    {
        work += tp_producer_do_work(client->producers[i], now_ns);
    }
    for (size_t i = 0; i < client->consumer_count; i++)
    {
        work += tp_consumer_do_work(client->consumers[i], now_ns);
    }
    return work;
}

/* ------------------------------------------------------------------------- */
/* Client                                                                     */
/* ------------------------------------------------------------------------- */

int tp_client_init(tp_client_t **out, const tp_context_t *ctx)
{
    if (NULL == out || NULL == ctx)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_client_init: out and ctx must not be NULL");
    }
    uint64_t base = ctx->hello_interval_ns > ctx->qos_interval_ns ? ctx->hello_interval_ns : ctx->qos_interval_ns;
    if (ctx->consumer_stale_timeout_ns != 0 &&
        (ctx->consumer_stale_timeout_ns < 3 * base || ctx->consumer_stale_timeout_ns > 5 * base))
    {
        return tp_err_set(TP_ERR_CONFIG,
            "consumer stale timeout %llu ns must be 3-5x the hello/QoS interval (%llu ns) (wire spec §5)",
            (unsigned long long)ctx->consumer_stale_timeout_ns, (unsigned long long)base);
    }
    tp_client_t *client = calloc(1, sizeof(*client));
    if (NULL == client)
    {
        return tp_err_set(TP_ERR_NO_MEMORY, "tp_client_init: out of memory");
    }
    client->ctx = *ctx;
    if (tp_mpsc_queue_init(&client->commands, TP_CLIENT_COMMAND_QUEUE_CAPACITY) < 0)
    {
        free(client);
        return -1;
    }
    tp_transport_context_t tctx;
    tp_transport_context_init(&tctx);
    tctx.faults = ctx->transport_faults;
    if (tp_transport_context_set_backend(&tctx, ctx->backend) < 0 ||
        tp_transport_context_set_dir(&tctx, ctx->transport_dir) < 0 || tp_transport_init(&client->transport, &tctx) < 0)
    {
        tp_err_prepend("tp_client_init: transport");
        tp_mpsc_queue_close(&client->commands);
        free(client);
        return -1;
    }
    const char *dirs[TP_CLIENT_MAX_ALLOWED_DIRS];
    size_t count = 0;
    for (size_t i = 0; i < ctx->allowed_dir_count; i++)
    {
        dirs[count++] = ctx->allowed_dirs[i];
    }
    if (0 == count)
    {
        dirs[count++] = ctx->shm_base_dir;
    }
    if (tp_shm_allowlist_init(&client->allowlist, dirs, count) < 0)
    {
        tp_err_prepend("tp_client_init: allowed base dirs");
        tp_transport_close(client->transport);
        tp_mpsc_queue_close(&client->commands);
        free(client);
        return -1;
    }
    *out = client;
    return 0;
}

int tp_client_start(tp_client_t *client)
{
    if (NULL == client)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_client_start: client must not be NULL");
    }
    if (!client->ctx.use_conductor_thread || atomic_load(&client->threaded))
    {
        return 0;
    }
    tp_idle_strategy_t idle;
    if (tp_idle_strategy_init_from_name(&idle, client->ctx.idle_strategy) < 0 ||
        tp_agent_runner_init(&client->runner, "tp-conductor", client, NULL, conductor_do_work, NULL, &idle) < 0)
    {
        return -1;
    }
    client->runner_initialised = true;
    atomic_store(&client->threaded, true);
    if (tp_agent_runner_start(&client->runner) < 0)
    {
        atomic_store(&client->threaded, false);
        return -1;
    }
    return 0;
}

int tp_client_do_work(tp_client_t *client)
{
    if (NULL == client)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_client_do_work: client must not be NULL");
    }
    if (atomic_load(&client->threaded))
    {
        return tp_err_set(TP_ERR_STATE,
            "tp_client_do_work: the conductor runs on its own thread; do not call do_work (invoker mode only)");
    }
    return conductor_do_work(client);
}

bool tp_client_is_threaded(const tp_client_t *client)
{
    return NULL != client && atomic_load(&((tp_client_t *)client)->threaded);
}

int tp_client_close(tp_client_t *client)
{
    if (NULL == client)
    {
        return 0;
    }
    int rc = 0;
    if (atomic_load(&client->threaded))
    {
        if (pthread_equal(pthread_self(), client->runner.thread))
        {
            return tp_err_set(TP_ERR_STATE,
                "tp_client_close: called from the conductor thread (a callback); close from another thread");
        }
        atomic_store(&client->closing, true);
        /*
         * Never tear down while the conductor may still be inside its duty cycle (a callback that blocks):
         * wait for the thread, however long it takes, and say so every client timeout.
         */
        uint64_t waited_ns = 0;
        uint64_t interval_ns = client->ctx.client_timeout_ns ? client->ctx.client_timeout_ns : 1000000000ULL;
        while (tp_agent_runner_stop(&client->runner, interval_ns) < 0)
        {
            if (TP_ERR_TIMEOUT != tp_errcode())
            {
                tp_err_prepend("tp_client_close: conductor thread");
                return -1;
            }
            waited_ns += interval_ns;
            TP_LOG_WARN("client", "tp_client_close: conductor thread still busy after %llu ms (a callback blocks?); "
                "waiting for it before releasing the client", (unsigned long long)(waited_ns / 1000000ULL));
        }
        atomic_store(&client->threaded, false);
    }
    atomic_store(&client->closing, true);
    /* everything below runs on the caller's thread: the conductor has stopped */
    tp_client_cmd_t *cmd;
    while (NULL != (cmd = tp_mpsc_queue_poll(&client->commands)))
    {
        if (TP_CMD_KIND_OTHER != cmd->ops->kind)
        {
            tp_err_set(TP_ERR_CLOSED, "client closed");
            tp_client_cmd_set_error(cmd);
            tp_client_cmd_complete(cmd, false);
        }
        else
        {
            tp_client_cmd_run(client, cmd);
        }
    }
    for (size_t i = 0; i < client->pending_add_count; i++)
    {
        tp_err_set(TP_ERR_CLOSED, "client closed");
        tp_client_cmd_set_error(client->pending_adds[i]);
        client->pending_adds[i]->ops->on_abandoned(client->pending_adds[i]);
        tp_client_cmd_complete(client->pending_adds[i], false);
    }
    client->pending_add_count = 0;
    while (client->producer_count > 0)
    {
        tp_producer_destroy(client->producers[--client->producer_count]);
    }
    while (client->consumer_count > 0)
    {
        tp_consumer_destroy(client->consumers[--client->consumer_count]);
    }
    /*
     * Give adds released meanwhile a short chance to complete, so that they are closed here; what is still
     * pending after that is left to the transport's close (the Aeron backend polls and closes its pending adds).
     */
    uint64_t close_wait_ns = client->ctx.client_timeout_ns < TP_CLIENT_CLOSE_ORPHAN_WAIT_NS ? client->ctx.client_timeout_ns
                                                                                          : TP_CLIENT_CLOSE_ORPHAN_WAIT_NS;
    uint64_t deadline = tp_clock_mono_ns() + close_wait_ns;
    while (client->orphans.count > 0)
    {
        tp_transport_do_work(client->transport);
        if (tp_client_poll_orphan_adds(client) > 0)
        {
            continue;
        }
        if (tp_clock_mono_ns() > deadline)
        {
            TP_LOG_WARN("client", "tp_client_close: %zu transport adds still pending; left to the transport's close",
                client->orphans.count);
            break;
        }
        tp_sleep_ns(100000);
    }
    tp_client_orphan_adds_free(client);
    tp_transport_close(client->transport);
    tp_shm_allowlist_close(client->allowlist);
    tp_mpsc_queue_close(&client->commands);
    free(client);
    return rc;
}

/* ------------------------------------------------------------------------- */
/* Async and blocking adds                                                    */
/* ------------------------------------------------------------------------- */

static int submit_async(tp_client_t *client, tp_client_cmd_t *cmd)
{
    if (atomic_load(&client->closing))
    {
        free(cmd);
        return tp_err_set(TP_ERR_CLOSED, "client is closing");
    }
    if (tp_mpsc_queue_offer(&client->commands, cmd) < 0)
    {
        free(cmd);
        return tp_err_set(TP_ERR_WOULD_BLOCK, "conductor command queue is full; retry after the conductor ran");
    }
    return 0;
}

int tp_client_async_add_producer(tp_async_add_producer_t **async, tp_client_t *client,
    const tp_producer_config_t *config)
{
    if (NULL == async || NULL == client || NULL == config)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_client_async_add_producer: arguments must not be NULL");
    }
    tp_async_add_producer_t *a = calloc(1, sizeof(*a));
    if (NULL == a)
    {
        return tp_err_set(TP_ERR_NO_MEMORY, "out of memory");
    }
    a->cmd.ops = &add_producer_ops;
    a->config = *config;
    if (submit_async(client, &a->cmd) < 0)
    {
        return -1;
    }
    *async = a;
    return 0;
}

int tp_client_async_add_consumer(tp_async_add_consumer_t **async, tp_client_t *client,
    const tp_consumer_config_t *config)
{
    if (NULL == async || NULL == client || NULL == config)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_client_async_add_consumer: arguments must not be NULL");
    }
    if (NULL == config->on_frame)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "consumer config: on_frame callback is required");
    }
    tp_async_add_consumer_t *a = calloc(1, sizeof(*a));
    if (NULL == a)
    {
        return tp_err_set(TP_ERR_NO_MEMORY, "out of memory");
    }
    a->cmd.ops = &add_consumer_ops;
    a->config = *config;
    if (submit_async(client, &a->cmd) < 0)
    {
        return -1;
    }
    *async = a;
    return 0;
}

static int async_poll(void **out, tp_client_cmd_t *cmd)
{
    int state = atomic_load(&cmd->state);
    if (TP_CMD_PENDING == state)
    {
        return 0;
    }
    if (TP_CMD_DONE == state)
    {
        *out = cmd->target;
        free(cmd);
        return 1;
    }
    tp_err_set(cmd->errcode, "%s", cmd->errmsg);
    free(cmd);
    return -1;
}

int tp_client_async_add_producer_poll(tp_producer_t **producer, tp_async_add_producer_t *async)
{
    if (NULL == producer || NULL == async)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_client_async_add_producer_poll: arguments must not be NULL");
    }
    void *p = NULL;
    int rc = async_poll(&p, &async->cmd);
    if (1 == rc)
    {
        *producer = p;
    }
    return rc;
}

int tp_client_async_add_consumer_poll(tp_consumer_t **consumer, tp_async_add_consumer_t *async)
{
    if (NULL == consumer || NULL == async)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_client_async_add_consumer_poll: arguments must not be NULL");
    }
    void *c = NULL;
    int rc = async_poll(&c, &async->cmd);
    if (1 == rc)
    {
        *consumer = c;
    }
    return rc;
}

static int blocking_wait(tp_client_t *client, tp_client_cmd_t *cmd, void **out, uint64_t timeout_ns)
{
    uint64_t deadline = tp_clock_mono_ns() + (timeout_ns ? timeout_ns : client->ctx.client_timeout_ns);
    for (;;)
    {
        int rc = async_poll(out, cmd);
        if (0 != rc)
        {
            return rc < 0 ? -1 : 0;
        }
        if (tp_clock_mono_ns() > deadline)
        {
            int expected = TP_CMD_PENDING;
            if (atomic_compare_exchange_strong(&cmd->state, &expected, TP_CMD_ABANDONED))
            {
                if (!atomic_load(&client->threaded))
                {
                    conductor_do_work(client); /* let the conductor clean the abandoned add up */
                }
                return tp_err_set(TP_ERR_TIMEOUT, "add did not complete within %llu ns (is the transport running?)",
                    (unsigned long long)(timeout_ns ? timeout_ns : client->ctx.client_timeout_ns));
            }
            continue;
        }
        if (atomic_load(&client->threaded))
        {
            tp_sleep_ns(100000);
        }
        else if (conductor_do_work(client) <= 0)
        {
            tp_sleep_ns(100000);
        }
    }
}

int tp_client_add_producer(tp_producer_t **producer, tp_client_t *client, const tp_producer_config_t *config,
    uint64_t timeout_ns)
{
    tp_async_add_producer_t *async = NULL;
    if (tp_client_async_add_producer(&async, client, config) < 0)
    {
        return -1;
    }
    void *p = NULL;
    if (blocking_wait(client, &async->cmd, &p, timeout_ns) < 0)
    {
        return -1;
    }
    *producer = p;
    return 0;
}

int tp_client_add_consumer(tp_consumer_t **consumer, tp_client_t *client, const tp_consumer_config_t *config,
    uint64_t timeout_ns)
{
    tp_async_add_consumer_t *async = NULL;
    if (tp_client_async_add_consumer(&async, client, config) < 0)
    {
        return -1;
    }
    void *c = NULL;
    if (blocking_wait(client, &async->cmd, &c, timeout_ns) < 0)
    {
        return -1;
    }
    *consumer = c;
    return 0;
}
