/*
 * Fuzz target: the rate limiter configuration loader
 * (tp_ratelimit_config_load_string, src/ratelimit/tp_ratelimit.h): TOML
 * parsing plus every key, type, range and semantic check of RateLimiter §8.
 *
 * Invariants: a failed load reports an error and leaves the configuration
 * exactly as it was (compared through tp_ratelimit_config_print); a
 * successful load validates, prints, loads again into a fresh configuration
 * to the same print, and the printed configuration loads back to the same
 * print (`tp ratelimit --print-config`).
 */
#include "tp_fuzz.h"

#include "ratelimit/tp_ratelimit.h"

#define PRINT_MAX (1u << 20)

static char before[PRINT_MAX];
static char after[PRINT_MAX];
static tp_ratelimit_config_t cfg;
static tp_ratelimit_config_t again;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tp_ratelimit_config_init(&cfg);
    TP_FUZZ_CHECK(tp_ratelimit_config_print(&cfg, before, sizeof(before)) >= 0);
    if (tp_ratelimit_config_load_string(&cfg, (const char *)data, size, "fuzz.toml") < 0)
    {
        TP_FUZZ_CHECK_ERROR();
        TP_FUZZ_CHECK(tp_ratelimit_config_print(&cfg, after, sizeof(after)) >= 0);
        TP_FUZZ_CHECK(0 == strcmp(before, after));
        return 0;
    }
    TP_FUZZ_CHECK(0 == tp_ratelimit_config_validate(&cfg));
    TP_FUZZ_CHECK(cfg.mapping_count >= 1 && cfg.mapping_count <= TP_RATELIMIT_MAX_MAPPINGS);
    int n = tp_ratelimit_config_print(&cfg, after, sizeof(after));
    TP_FUZZ_CHECK(n > 0 && (size_t)n < sizeof(after));
    tp_ratelimit_config_init(&again);
    TP_FUZZ_CHECK(0 == tp_ratelimit_config_load_string(&again, (const char *)data, size, "fuzz.toml"));
    TP_FUZZ_CHECK(tp_ratelimit_config_print(&again, before, sizeof(before)) >= 0);
    TP_FUZZ_CHECK(0 == strcmp(before, after));
    tp_ratelimit_config_init(&again);
    TP_FUZZ_CHECK(0 == tp_ratelimit_config_load_string(&again, after, strlen(after), "printed.toml"));
    TP_FUZZ_CHECK(tp_ratelimit_config_print(&again, before, sizeof(before)) >= 0);
    TP_FUZZ_CHECK(0 == strcmp(before, after));
    return 0;
}
