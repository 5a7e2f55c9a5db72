/*
 * Agent runner (internal), as in Aeron's agent runner: an agent is a state
 * pointer plus on_start / do_work / on_close functions. The runner either
 * runs the duty cycle on its own thread (tp_agent_runner_start) with an idle
 * strategy, or lets the caller run it in its own loop (invoker mode:
 * tp_agent_invoker_start + tp_agent_invoker_invoke). Never both: the two
 * modes are exclusive for a runner, which enforces "one thread runs a duty
 * cycle".
 */
#ifndef TP_COMMON_TP_AGENT_RUNNER_H
#define TP_COMMON_TP_AGENT_RUNNER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/tp_idle_strategy.h"

/** Duty cycle: returns the amount of work done (0 when idle), or -1 on a fatal error (stops the agent). */
typedef int (*tp_agent_do_work_func_t)(void *state);
/** Called once on the agent thread (or by tp_agent_invoker_start) before the first duty cycle. */
typedef void (*tp_agent_on_start_func_t)(void *state);
/** Called once after the last duty cycle (on the agent thread, or by tp_agent_runner_close in invoker mode). */
typedef void (*tp_agent_on_close_func_t)(void *state);

typedef enum tp_agent_state_enum
{
    TP_AGENT_STATE_INIT = 0,
    TP_AGENT_STATE_RUNNING_THREAD = 1,
    TP_AGENT_STATE_RUNNING_INVOKER = 2,
    TP_AGENT_STATE_STOPPED = 3
} tp_agent_state_t;

typedef struct tp_agent_runner_stct
{
    char name[32];
    void *state;
    tp_agent_on_start_func_t on_start;
    tp_agent_do_work_func_t do_work;
    tp_agent_on_close_func_t on_close;
    tp_idle_strategy_t idle;
    atomic_bool running;       /**< cleared to ask the agent thread to stop */
    atomic_int exit_status;    /**< 0, or -1 when do_work failed */
    tp_agent_state_t mode;
    bool closed_called;
    pthread_t thread;
    uint64_t duty_cycles;      /**< invoker mode: number of invocations */
} tp_agent_runner_t;

/**
 * Initialise a runner. `do_work` is required; `on_start`/`on_close` may be NULL;
 * `idle` is copied (NULL = backoff). Returns 0 or -1 (TP_ERR_INVALID_ARGUMENT).
 */
int tp_agent_runner_init(
    tp_agent_runner_t *runner, const char *name, void *state, tp_agent_on_start_func_t on_start,
    tp_agent_do_work_func_t do_work, tp_agent_on_close_func_t on_close, const tp_idle_strategy_t *idle);

/** Start the duty cycle on a new thread (named after the agent). Returns 0 or -1 (TP_ERR_STATE / TP_ERR_IO). */
int tp_agent_runner_start(tp_agent_runner_t *runner);

/** Whether the agent thread is (still) running its loop. */
bool tp_agent_runner_is_running(const tp_agent_runner_t *runner);

/**
 * Stop: ask the thread to finish, wait at most `timeout_ns` for it (it calls
 * on_close itself). Returns 0 once the thread has been joined, or -1 with
 * TP_ERR_TIMEOUT if it did not stop in time: the thread is then NOT detached,
 * it may still be inside do_work (its state must stay valid) and the runner
 * stays stopping; call stop again to wait further (no other way to release
 * it). -1 with TP_ERR_STATE when called from the agent's own thread.
 * In invoker mode, calls on_close. Idempotent.
 */
int tp_agent_runner_stop(tp_agent_runner_t *runner, uint64_t timeout_ns);

/** Enter invoker mode: calls on_start on the caller's thread. Returns 0 or -1 (TP_ERR_STATE). */
int tp_agent_invoker_start(tp_agent_runner_t *runner);

/**
 * Run one duty cycle on the caller's thread (invoker mode only). Returns the
 * work count, or -1 (TP_ERR_STATE when not in invoker mode, or do_work's error).
 */
int tp_agent_invoker_invoke(tp_agent_runner_t *runner);

#endif
