#include "tp_test.h"

#include <pthread.h>
#include <stdatomic.h>

#include "common/tp_agent_runner.h"
#include "common/tp_clock.h"
#include "common/tp_idle_strategy.h"
#include "common/tp_mpsc_queue.h"

static void test_idle_strategies(void)
{
    tp_idle_strategy_t s;
    TP_ASSERT_OK(tp_idle_strategy_init_from_name(&s, "busy_spin"));
    TP_ASSERT_EQ_I64(TP_IDLE_BUSY_SPIN, s.type);
    tp_idle_strategy_idle(&s, 0);
    TP_ASSERT_OK(tp_idle_strategy_init_from_name(&s, "yield"));
    tp_idle_strategy_idle(&s, 0);
    TP_ASSERT_OK(tp_idle_strategy_init_from_name(&s, "sleep:50us"));
    TP_ASSERT_EQ_U64(50000, s.sleep_ns);
    uint64_t t0 = tp_clock_mono_ns();
    tp_idle_strategy_idle(&s, 0);
    TP_ASSERT(tp_clock_mono_ns() - t0 >= 50000);
    TP_ASSERT_OK(tp_idle_strategy_init_from_name(&s, "backoff"));
    for (int i = 0; i < 30; i++)
    {
        tp_idle_strategy_idle(&s, 0);
    }
    TP_ASSERT(s.park_ns > s.min_park_ns);
    tp_idle_strategy_idle(&s, 1);
    TP_ASSERT_EQ_U64(s.min_park_ns, s.park_ns);
    TP_ASSERT_EQ_U64(0, s.spins);
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_idle_strategy_init_from_name(&s, "fast"));
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_idle_strategy_init_from_name(&s, "sleep:10"));
}

typedef struct
{
    atomic_int started;
    atomic_int closed;
    atomic_long work;
    long fail_after;
} agent_state_t;

static void on_start(void *st)
{
    atomic_fetch_add(&((agent_state_t *)st)->started, 1);
}

static int do_work(void *st)
{
    agent_state_t *a = st;
    long n = atomic_fetch_add(&a->work, 1) + 1;
    if (a->fail_after > 0 && n >= a->fail_after)
    {
        return -1;
    }
    return (int)(n & 1);
}

static void on_close(void *st)
{
    atomic_fetch_add(&((agent_state_t *)st)->closed, 1);
}

static void test_agent_thread(void)
{
    agent_state_t st = { 0 };
    tp_agent_runner_t r;
    tp_idle_strategy_t idle;
    tp_idle_strategy_init_sleeping(&idle, 10000);
    TP_ASSERT_OK(tp_agent_runner_init(&r, "test-agent", &st, on_start, do_work, on_close, &idle));
    TP_ASSERT_OK(tp_agent_runner_start(&r));
    TP_ASSERT_ERR(TP_ERR_STATE, tp_agent_runner_start(&r));
    TP_ASSERT_ERR(TP_ERR_STATE, tp_agent_invoker_invoke(&r));
    uint64_t deadline = tp_clock_mono_ns() + 2000000000ULL;
    while (atomic_load(&st.work) < 100 && tp_clock_mono_ns() < deadline)
    {
        tp_sleep_ns(1000000);
    }
    TP_ASSERT(atomic_load(&st.work) >= 100);
    TP_ASSERT_OK(tp_agent_runner_stop(&r, 2000000000ULL));
    TP_ASSERT_EQ_I64(1, atomic_load(&st.started));
    TP_ASSERT_EQ_I64(1, atomic_load(&st.closed));
    TP_ASSERT_OK(tp_agent_runner_stop(&r, 1000));
}

static void test_agent_thread_error_stops(void)
{
    agent_state_t st = { 0 };
    st.fail_after = 5;
    tp_agent_runner_t r;
    TP_ASSERT_OK(tp_agent_runner_init(&r, "failing", &st, NULL, do_work, on_close, NULL));
    TP_ASSERT_OK(tp_agent_runner_start(&r));
    uint64_t deadline = tp_clock_mono_ns() + 2000000000ULL;
    while (tp_agent_runner_is_running(&r) && tp_clock_mono_ns() < deadline)
    {
        tp_sleep_ns(1000000);
    }
    TP_ASSERT(!tp_agent_runner_is_running(&r));
    TP_ASSERT_EQ_I64(-1, atomic_load(&r.exit_status));
    TP_ASSERT_OK(tp_agent_runner_stop(&r, 1000000000ULL));
    TP_ASSERT_EQ_I64(1, atomic_load(&st.closed));
}

static void test_agent_invoker(void)
{
    agent_state_t st = { 0 };
    tp_agent_runner_t r;
    TP_ASSERT_OK(tp_agent_runner_init(&r, "invoker", &st, on_start, do_work, on_close, NULL));
    TP_ASSERT_ERR(TP_ERR_STATE, tp_agent_invoker_invoke(&r));
    TP_ASSERT_OK(tp_agent_invoker_start(&r));
    TP_ASSERT_ERR(TP_ERR_STATE, tp_agent_runner_start(&r));
    TP_ASSERT_EQ_I64(1, atomic_load(&st.started));
    TP_ASSERT_EQ_I64(1, tp_agent_invoker_invoke(&r));
    TP_ASSERT_EQ_I64(0, tp_agent_invoker_invoke(&r));
    TP_ASSERT_EQ_I64(2, atomic_load(&st.work));
    TP_ASSERT_OK(tp_agent_runner_stop(&r, 0));
    TP_ASSERT_EQ_I64(1, atomic_load(&st.closed));
}

#define QP 4
#define QN 20000

static tp_mpsc_queue_t queue;

static void *producer(void *arg)
{
    uintptr_t id = (uintptr_t)arg;
    for (uintptr_t i = 1; i <= QN; i++)
    {
        while (tp_mpsc_queue_offer(&queue, (void *)((id << 32) | i)) < 0)
        {
            tp_cpu_pause();
        }
    }
    return NULL;
}

static void test_mpsc_queue(void)
{
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_mpsc_queue_init(&queue, 3));
    TP_ASSERT_OK(tp_mpsc_queue_init(&queue, 4));
    int a = 1;
    for (int i = 0; i < 4; i++)
    {
        TP_ASSERT_EQ_I64(0, tp_mpsc_queue_offer(&queue, &a));
    }
    TP_ASSERT_EQ_I64(-1, tp_mpsc_queue_offer(&queue, &a));
    TP_ASSERT_EQ_U64(4, tp_mpsc_queue_size(&queue));
    for (int i = 0; i < 4; i++)
    {
        TP_ASSERT(&a == tp_mpsc_queue_poll(&queue));
    }
    TP_ASSERT(NULL == tp_mpsc_queue_poll(&queue));
    tp_mpsc_queue_close(&queue);

    TP_ASSERT_OK(tp_mpsc_queue_init(&queue, 256));
    pthread_t th[QP];
    for (uintptr_t i = 0; i < QP; i++)
    {
        pthread_create(&th[i], NULL, producer, (void *)(i + 1));
    }
    uintptr_t last[QP + 1] = { 0 };
    long received = 0;
    uint64_t deadline = tp_clock_mono_ns() + 20000000000ULL;
    while (received < (long)QP * QN && tp_clock_mono_ns() < deadline)
    {
        void *item = tp_mpsc_queue_poll(&queue);
        if (NULL == item)
        {
            continue;
        }
        uintptr_t v = (uintptr_t)item;
        uintptr_t id = v >> 32;
        uintptr_t seq = v & 0xffffffffu;
        TP_ASSERT(id >= 1 && id <= QP);
        TP_ASSERT_EQ_U64(last[id] + 1, seq);
        last[id] = seq;
        received++;
    }
    for (int i = 0; i < QP; i++)
    {
        pthread_join(th[i], NULL);
    }
    TP_ASSERT_EQ_I64((long)QP * QN, received);
    tp_mpsc_queue_close(&queue);
}

int main(void)
{
    TP_RUN(test_idle_strategies);
    TP_RUN(test_agent_thread);
    TP_RUN(test_agent_thread_error_stops);
    TP_RUN(test_agent_invoker);
    TP_RUN(test_mpsc_queue);
    return tp_test_finish();
}
