#include "common/tp_log.h"
#include "common/tp_clock.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define TP_LOG_MODULES_MAX 512

static atomic_int tp_log_level_value = -1; /* -1: not yet read from the environment */
static char tp_log_modules[TP_LOG_MODULES_MAX];
static pthread_once_t tp_log_once = PTHREAD_ONCE_INIT;
static tp_log_handler_t tp_log_handler = NULL;
static void *tp_log_handler_clientd = NULL;

int tp_log_level_parse(const char *name)
{
    static const char *names[] = { "off", "error", "warn", "info", "debug", "trace" };
    if (NULL == name)
    {
        return -1;
    }
    for (int i = 0; i < (int)(sizeof(names) / sizeof(names[0])); i++)
    {
        if (0 == strcasecmp(name, names[i]))
        {
            return i;
        }
    }
    if (0 == strcasecmp(name, "warning"))
    {
        return TP_LOG_LEVEL_WARN;
    }
    return -1;
}

static void tp_log_init_from_env(void)
{
    const char *modules = getenv("TP_LOG_MODULES");
    if (NULL != modules)
    {
        snprintf(tp_log_modules, sizeof(tp_log_modules), "%s", modules);
    }
    int expected = -1;
    int level = tp_log_level_parse(getenv("TP_LOG_LEVEL"));
    atomic_compare_exchange_strong(&tp_log_level_value, &expected, level < 0 ? TP_LOG_LEVEL_WARN : level);
}

void tp_log_set_level(tp_log_level_t level)
{
    pthread_once(&tp_log_once, tp_log_init_from_env);
    atomic_store(&tp_log_level_value, (int)level);
}

tp_log_level_t tp_log_level(void)
{
    pthread_once(&tp_log_once, tp_log_init_from_env);
    return (tp_log_level_t)atomic_load(&tp_log_level_value);
}

void tp_log_set_handler(tp_log_handler_t handler, void *clientd)
{
    tp_log_handler = handler;
    tp_log_handler_clientd = clientd;
}

static bool tp_log_module_listed(const char *module)
{
    if ('\0' == tp_log_modules[0] || NULL == module)
    {
        return true;
    }
    size_t len = strlen(module);
    const char *p = tp_log_modules;
    while (*p)
    {
        const char *end = strchr(p, ',');
        size_t n = NULL == end ? strlen(p) : (size_t)(end - p);
        if (n == len && 0 == strncmp(p, module, n))
        {
            return true;
        }
        if (NULL == end)
        {
            break;
        }
        p = end + 1;
    }
    return false;
}

bool tp_log_enabled(tp_log_level_t level, const char *module)
{
    return (int)level <= (int)tp_log_level() && tp_log_module_listed(module);
}

bool tp_log_write_limited(tp_log_limiter_t *limiter, uint64_t interval_ns, tp_log_level_t level, const char *module,
    const char *fmt, ...)
{
    if (!tp_log_enabled(level, module))
    {
        return false;
    }
    uint64_t now = tp_clock_mono_ns();
    if (0 != limiter->next_ns && now < limiter->next_ns)
    {
        limiter->suppressed++;
        return false;
    }
    limiter->next_ns = now + interval_ns;
    char line[900];
    va_list args;
    va_start(args, fmt);
    vsnprintf(line, sizeof(line), fmt, args);
    va_end(args);
    if (0 != limiter->suppressed)
    {
        tp_log_write(level, module, "%s; %llu more since the last report", line,
            (unsigned long long)limiter->suppressed);
        limiter->suppressed = 0;
    }
    else
    {
        tp_log_write(level, module, "%s", line);
    }
    return true;
}

void tp_log_write(tp_log_level_t level, const char *module, const char *fmt, ...)
{
    static const char *labels[] = { "OFF", "ERROR", "WARN", "INFO", "DEBUG", "TRACE" };
    char line[1024];
    int saved_errno = errno;
    va_list args;
    va_start(args, fmt);
    vsnprintf(line, sizeof(line), fmt, args);
    va_end(args);

    if (NULL != tp_log_handler)
    {
        tp_log_handler(tp_log_handler_clientd, level, module, line);
    }
    else
    {
        uint64_t now = tp_clock_realtime_ns();
        fprintf(stderr, "%llu.%06llu %-5s [%s] %s\n",
            (unsigned long long)(now / 1000000000ULL), (unsigned long long)((now % 1000000000ULL) / 1000ULL),
            labels[(int)level <= 5 ? (int)level : 0], NULL == module ? "-" : module, line);
    }
    errno = saved_errno;
}
