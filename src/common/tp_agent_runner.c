#include "common/tp_agent_runner.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/tp_clock.h"
#include "common/tp_error.h"
#include "common/tp_log.h"

int tp_agent_runner_init(
    tp_agent_runner_t *runner, const char *name, void *state, tp_agent_on_start_func_t on_start,
    tp_agent_do_work_func_t do_work, tp_agent_on_close_func_t on_close, const tp_idle_strategy_t *idle)
{
    if (NULL == runner || NULL == do_work)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_agent_runner_init: runner and do_work must not be NULL");
    }
    memset(runner, 0, sizeof(*runner));
    snprintf(runner->name, sizeof(runner->name), "%s", NULL == name ? "tp-agent" : name);
    runner->state = state;
    runner->on_start = on_start;
    runner->do_work = do_work;
    runner->on_close = on_close;
    if (NULL != idle)
    {
        runner->idle = *idle;
    }
    else
    {
        tp_idle_strategy_init_backoff(&runner->idle, 10, 5, 1000, 1000000);
    }
    atomic_init(&runner->running, false);
    atomic_init(&runner->exit_status, 0);
    runner->mode = TP_AGENT_STATE_INIT;
    return 0;
}

static void *tp_agent_runner_main(void *arg)
{
    tp_agent_runner_t *runner = arg;
    char thread_name[16];
    snprintf(thread_name, sizeof(thread_name), "%s", runner->name);
    pthread_setname_np(pthread_self(), thread_name);
    if (NULL != runner->on_start)
    {
        runner->on_start(runner->state);
    }
    while (atomic_load_explicit(&runner->running, memory_order_acquire))
    {
        int work = runner->do_work(runner->state);
        if (work < 0)
        {
            TP_LOG_ERROR("agent", "agent %s stopped: do_work failed: %s", runner->name, tp_errmsg());
            atomic_store(&runner->exit_status, -1);
            break;
        }
        tp_idle_strategy_idle(&runner->idle, work);
    }
    if (NULL != runner->on_close)
    {
        runner->on_close(runner->state);
    }
    atomic_store_explicit(&runner->running, false, memory_order_release);
    return NULL;
}

int tp_agent_runner_start(tp_agent_runner_t *runner)
{
    if (NULL == runner || TP_AGENT_STATE_INIT != runner->mode)
    {
        return tp_err_set(TP_ERR_STATE, "tp_agent_runner_start: agent already started (thread or invoker mode)");
    }
    atomic_store(&runner->running, true);
    int rc = pthread_create(&runner->thread, NULL, tp_agent_runner_main, runner);
    if (0 != rc)
    {
        atomic_store(&runner->running, false);
        return tp_err_set_errno(rc, "tp_agent_runner_start: pthread_create for agent %s", runner->name);
    }
    runner->mode = TP_AGENT_STATE_RUNNING_THREAD;
    return 0;
}

bool tp_agent_runner_is_running(const tp_agent_runner_t *runner)
{
    return atomic_load_explicit(&((tp_agent_runner_t *)runner)->running, memory_order_acquire);
}

int tp_agent_runner_stop(tp_agent_runner_t *runner, uint64_t timeout_ns)
{
    if (NULL == runner)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_agent_runner_stop: NULL runner");
    }
    if (TP_AGENT_STATE_RUNNING_THREAD == runner->mode)
    {
        if (pthread_equal(pthread_self(), runner->thread))
        {
            return tp_err_set(TP_ERR_STATE, "tp_agent_runner_stop: agent %s cannot stop itself from its own duty "
                "cycle (it would wait for itself)", runner->name);
        }
        atomic_store_explicit(&runner->running, false, memory_order_release);
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        uint64_t ns = (uint64_t)deadline.tv_nsec + timeout_ns % 1000000000ULL;
        deadline.tv_sec += (time_t)(timeout_ns / 1000000000ULL + ns / 1000000000ULL);
        deadline.tv_nsec = (long)(ns % 1000000000ULL);
        int rc = pthread_timedjoin_np(runner->thread, NULL, &deadline);
        if (0 != rc)
        {
            /*
             * Not joined: the thread may still be inside do_work, so the agent's state must stay alive.
             * The runner stays in RUNNING_THREAD (with running == false): a later stop joins it.
             */
            return tp_err_set(TP_ERR_TIMEOUT, "agent %s did not stop within %" PRIu64 " ms (its do_work blocks?); "
                "still running, call stop again", runner->name, timeout_ns / 1000000);
        }
        runner->mode = TP_AGENT_STATE_STOPPED;
    }
    else if (TP_AGENT_STATE_RUNNING_INVOKER == runner->mode)
    {
        runner->mode = TP_AGENT_STATE_STOPPED;
        if (NULL != runner->on_close && !runner->closed_called)
        {
            runner->closed_called = true;
            runner->on_close(runner->state);
        }
    }
    else
    {
        runner->mode = TP_AGENT_STATE_STOPPED;
    }
    return 0;
}

int tp_agent_invoker_start(tp_agent_runner_t *runner)
{
    if (NULL == runner || TP_AGENT_STATE_INIT != runner->mode)
    {
        return tp_err_set(TP_ERR_STATE, "tp_agent_invoker_start: agent already started (thread or invoker mode)");
    }
    runner->mode = TP_AGENT_STATE_RUNNING_INVOKER;
    if (NULL != runner->on_start)
    {
        runner->on_start(runner->state);
    }
    return 0;
}

int tp_agent_invoker_invoke(tp_agent_runner_t *runner)
{
    if (NULL == runner || TP_AGENT_STATE_RUNNING_INVOKER != runner->mode)
    {
        return tp_err_set(TP_ERR_STATE, "tp_agent_invoker_invoke: agent is not in invoker mode (call "
            "tp_agent_invoker_start first; a threaded agent cannot be invoked)");
    }
    runner->duty_cycles++;
    return runner->do_work(runner->state);
}
