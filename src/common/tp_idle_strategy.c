#include "common/tp_idle_strategy.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "common/tp_clock.h"
#include "common/tp_error.h"

static void tp_idle_zero(tp_idle_strategy_t *s, tp_idle_strategy_type_t type)
{
    memset(s, 0, sizeof(*s));
    s->type = type;
}

void tp_idle_strategy_init_busy_spin(tp_idle_strategy_t *s)
{
    tp_idle_zero(s, TP_IDLE_BUSY_SPIN);
}

void tp_idle_strategy_init_yield(tp_idle_strategy_t *s)
{
    tp_idle_zero(s, TP_IDLE_YIELD);
}

void tp_idle_strategy_init_sleeping(tp_idle_strategy_t *s, uint64_t sleep_ns)
{
    tp_idle_zero(s, TP_IDLE_SLEEP);
    s->sleep_ns = sleep_ns;
}

void tp_idle_strategy_init_backoff(
    tp_idle_strategy_t *s, uint64_t max_spins, uint64_t max_yields, uint64_t min_park_ns, uint64_t max_park_ns)
{
    tp_idle_zero(s, TP_IDLE_BACKOFF);
    s->max_spins = max_spins;
    s->max_yields = max_yields;
    s->min_park_ns = 0 == min_park_ns ? 1000 : min_park_ns;
    s->max_park_ns = max_park_ns < s->min_park_ns ? s->min_park_ns : max_park_ns;
    s->park_ns = s->min_park_ns;
}

void tp_idle_strategy_init_noop(tp_idle_strategy_t *s)
{
    tp_idle_zero(s, TP_IDLE_NOOP);
}

int tp_idle_strategy_init_from_name(tp_idle_strategy_t *s, const char *name)
{
    if (NULL == s || NULL == name)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_idle_strategy_init_from_name: NULL argument");
    }
    if (0 == strcmp(name, "busy_spin") || 0 == strcmp(name, "spin"))
    {
        tp_idle_strategy_init_busy_spin(s);
        return 0;
    }
    if (0 == strcmp(name, "yield"))
    {
        tp_idle_strategy_init_yield(s);
        return 0;
    }
    if (0 == strcmp(name, "noop"))
    {
        tp_idle_strategy_init_noop(s);
        return 0;
    }
    if (0 == strcmp(name, "backoff"))
    {
        tp_idle_strategy_init_backoff(s, 10, 5, 1000, 1000000);
        return 0;
    }
    if (0 == strcmp(name, "sleep"))
    {
        tp_idle_strategy_init_sleeping(s, 1000000);
        return 0;
    }
    if (0 == strncmp(name, "sleep:", 6))
    {
        char *end = NULL;
        const char *v = name + 6;
        unsigned long long n = strtoull(v, &end, 10);
        uint64_t mult = 0;
        if (end != v && 0 == strcmp(end, "ns"))
        {
            mult = 1;
        }
        else if (end != v && 0 == strcmp(end, "us"))
        {
            mult = 1000;
        }
        else if (end != v && 0 == strcmp(end, "ms"))
        {
            mult = 1000000;
        }
        if (0 != mult && n > 0 && n < 60000000000ULL / mult)
        {
            tp_idle_strategy_init_sleeping(s, (uint64_t)n * mult);
            return 0;
        }
    }
    return tp_err_set(TP_ERR_CONFIG, "unknown idle strategy '%s' (expected busy_spin, yield, noop, backoff, sleep "
        "or sleep:<n>ns|us|ms)", name);
}

void tp_idle_strategy_reset(tp_idle_strategy_t *s)
{
    s->spins = 0;
    s->yields = 0;
    s->park_ns = s->min_park_ns;
}

void tp_idle_strategy_idle(tp_idle_strategy_t *s, int work_count)
{
    if (work_count > 0)
    {
        if (TP_IDLE_BACKOFF == s->type && (s->spins | s->yields) != 0)
        {
            tp_idle_strategy_reset(s);
        }
        return;
    }
    switch (s->type)
    {
        case TP_IDLE_BUSY_SPIN:
            tp_cpu_pause();
            break;
        case TP_IDLE_YIELD:
            sched_yield();
            break;
        case TP_IDLE_SLEEP:
            tp_sleep_ns(s->sleep_ns);
            break;
        case TP_IDLE_BACKOFF:
            if (s->spins < s->max_spins)
            {
                s->spins++;
                tp_cpu_pause();
            }
            else if (s->yields < s->max_yields)
            {
                s->yields++;
                sched_yield();
            }
            else
            {
                tp_sleep_ns(s->park_ns);
                s->park_ns = s->park_ns * 2 > s->max_park_ns ? s->max_park_ns : s->park_ns * 2;
            }
            break;
        case TP_IDLE_NOOP:
        default:
            break;
    }
}
