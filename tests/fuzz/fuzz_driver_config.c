/*
 * Fuzz target: the driver configuration loader (tp_driver_config_load_string,
 * include/tensor_pool/tp_driver.h): TOML parsing plus every key, type, range
 * and semantic check of the driver model's configuration.
 *
 * Invariants: a failed load reports an error and leaves the configuration
 * exactly as it was (compared through tp_driver_config_print); a successful
 * load prints, and loading the same text again over it succeeds too (the
 * loader must not depend on state it left behind), and the printed
 * configuration loads back to the same printed configuration. The process environment
 * is not touched: overrides come from whatever the fuzzing process inherited.
 */
#include "tp_fuzz.h"

#include "tensor_pool/tp_driver.h"

#define PRINT_MAX (1u << 20)

static char before[PRINT_MAX];
static char after[PRINT_MAX];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tp_driver_config_t *cfg = NULL;
    TP_FUZZ_CHECK(0 == tp_driver_config_init(&cfg));
    TP_FUZZ_CHECK(tp_driver_config_print(cfg, before, sizeof(before)) >= 0);
    if (tp_driver_config_load_string(cfg, (const char *)data, size, "fuzz.toml") < 0)
    {
        TP_FUZZ_CHECK_ERROR();
        TP_FUZZ_CHECK(tp_driver_config_print(cfg, after, sizeof(after)) >= 0);
        TP_FUZZ_CHECK(0 == strcmp(before, after));
    }
    else
    {
        TP_FUZZ_CHECK(tp_driver_config_print(cfg, after, sizeof(after)) >= 0);
        TP_FUZZ_CHECK(NULL != tp_driver_config_namespace(cfg) && NULL != tp_driver_config_shm_base_dir(cfg));
        TP_FUZZ_CHECK('/' == tp_driver_config_shm_base_dir(cfg)[0]);
        tp_driver_config_t *again = NULL;
        TP_FUZZ_CHECK(0 == tp_driver_config_init(&again));
        TP_FUZZ_CHECK(0 == tp_driver_config_load_string(again, (const char *)data, size, "fuzz.toml"));
        TP_FUZZ_CHECK(tp_driver_config_print(again, before, sizeof(before)) >= 0);
        TP_FUZZ_CHECK(0 == strcmp(before, after));
        tp_driver_config_close(again);
        /* What print writes must load back to the same configuration (tp driver --print-config). */
        again = NULL;
        TP_FUZZ_CHECK(0 == tp_driver_config_init(&again));
        TP_FUZZ_CHECK(0 == tp_driver_config_load_string(again, after, strlen(after), "printed.toml"));
        TP_FUZZ_CHECK(tp_driver_config_print(again, before, sizeof(before)) >= 0);
        TP_FUZZ_CHECK(0 == strcmp(before, after));
        tp_driver_config_close(again);
    }
    tp_driver_config_close(cfg);
    return 0;
}
