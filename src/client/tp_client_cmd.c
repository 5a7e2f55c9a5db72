/*
 * Conductor commands: submission from any thread (through the client's
 * command queue, or inline in invoker mode), completion on the conductor,
 * ownership hand-over through the command state. What a command does is in
 * its ops table (tp_client_cmd.h); nothing here knows the command kinds.
 */
#include <stdio.h>
#include <stdlib.h>

#include "client/tp_client_internal.h"
#include "common/tp_clock.h"
#include "common/tp_error.h"
#include "common/tp_log.h"

void tp_client_cmd_set_error(tp_client_cmd_t *cmd)
{
    cmd->errcode = tp_errcode() ? tp_errcode() : TP_ERR_STATE;
    snprintf(cmd->errmsg, sizeof(cmd->errmsg), "%s", tp_errmsg());
}

void tp_client_cmd_free(tp_client_cmd_t *cmd)
{
    if (NULL != cmd->ops->free_payload && NULL != cmd->payload)
    {
        cmd->ops->free_payload(cmd->payload);
    }
    free(cmd);
}

void tp_client_cmd_complete(tp_client_cmd_t *cmd, bool ok)
{
    int expected = TP_CMD_PENDING;
    if (!atomic_compare_exchange_strong(&cmd->state, &expected, ok ? TP_CMD_DONE : TP_CMD_FAILED))
    {
        /* the requester gave up waiting: the command is ours to free */
        if (NULL != cmd->ops->on_abandoned)
        {
            cmd->ops->on_abandoned(cmd);
        }
        tp_client_cmd_free(cmd);
    }
}

void tp_client_cmd_run(tp_client_t *client, tp_client_cmd_t *cmd)
{
    cmd->ops->execute(client, cmd);
}

void tp_client_report_error(tp_client_t *client, const char *what)
{
    char msg[768];
    snprintf(msg, sizeof(msg), "%s: %s", what, tp_errmsg());
    if (NULL != client->ctx.error_handler)
    {
        client->ctx.error_handler(client->ctx.error_handler_clientd, tp_errcode(), msg);
    }
    else
    {
        TP_LOG_WARN("client", "%s", msg);
    }
}

/* Submit a command; threaded: through the queue with a bounded wait; invoker: inline. */
int tp_client_submit_and_wait(tp_client_t *client, tp_client_cmd_t *cmd)
{
    atomic_store(&cmd->state, TP_CMD_PENDING);
    if (!atomic_load(&client->threaded))
    {
        tp_client_cmd_run(client, cmd);
        int state = atomic_load(&cmd->state);
        int rc = TP_CMD_DONE == state ? 0 : tp_err_set(cmd->errcode, "%s", cmd->errmsg);
        free(cmd);
        return rc;
    }
    uint64_t deadline = tp_clock_mono_ns() + client->ctx.client_timeout_ns;
    while (tp_mpsc_queue_offer(&client->commands, cmd) < 0)
    {
        if (tp_clock_mono_ns() > deadline)
        {
            tp_client_cmd_free(cmd);
            return tp_err_set(TP_ERR_TIMEOUT, "conductor command queue full for %llu ns",
                (unsigned long long)client->ctx.client_timeout_ns);
        }
        tp_sleep_ns(100000);
    }
    for (;;)
    {
        int state = atomic_load(&cmd->state);
        if (TP_CMD_PENDING != state)
        {
            int rc = TP_CMD_DONE == state ? 0 : tp_err_set(cmd->errcode, "%s", cmd->errmsg);
            free(cmd);
            return rc;
        }
        if (tp_clock_mono_ns() > deadline)
        {
            int expected = TP_CMD_PENDING;
            if (atomic_compare_exchange_strong(&cmd->state, &expected, TP_CMD_ABANDONED))
            {
                return tp_err_set(TP_ERR_TIMEOUT, "conductor did not answer within %llu ns",
                    (unsigned long long)client->ctx.client_timeout_ns);
            }
            continue;
        }
        tp_sleep_ns(50000);
    }
}

