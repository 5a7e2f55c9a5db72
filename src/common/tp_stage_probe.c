/* Stage marks of the frame path (tp_stage_probe.h); storage only with TP_STAGE_PROBES. */
#include "common/tp_stage_probe.h"

#if defined(TP_STAGE_PROBES)
_Atomic uint64_t tp_stage_probe_ticks[TP_STAGE_COUNT];
#endif

int tp_stage_probes_enabled(void)
{
#if defined(TP_STAGE_PROBES)
    return 1;
#else
    return 0;
#endif
}

uint64_t tp_stage_probe_get(tp_stage_t stage)
{
#if defined(TP_STAGE_PROBES)
    return (unsigned)stage < TP_STAGE_COUNT ? atomic_load_explicit(&tp_stage_probe_ticks[stage], memory_order_relaxed)
                                            : 0;
#else
    (void)stage;
    return 0;
#endif
}

void tp_stage_probe_reset(void)
{
#if defined(TP_STAGE_PROBES)
    for (int i = 0; i < TP_STAGE_COUNT; i++)
    {
        atomic_store_explicit(&tp_stage_probe_ticks[i], 0, memory_order_relaxed);
    }
#endif
}
