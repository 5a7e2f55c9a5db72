/*
 * mlock of the regions a client maps (Driver Model spec §17, `mlock_shm`:
 * "mlock is per-process; clients SHOULD mlock their own mappings when
 * enabled"). A failure is reported (the context's error handler, else a log
 * warning) and the mapping is used unlocked: only the region's creator (the
 * driver, or a standalone producer) treats it as fatal (DRV-16).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "client/tp_client_internal.h"
#include "common/tp_error.h"

int tp_client_mlock_region(tp_client_t *client, const tp_shm_region_t *region, const char *what)
{
    if (!client->ctx.mlock_shm || NULL == region)
    {
        return 0;
    }
    const uint8_t *base = tp_shm_region_base(region);
    size_t length = tp_shm_region_length(region);
    if (0 == mlock(base, length))
    {
        return 0;
    }
    int err = errno;
    struct rlimit rl = { 0 };
    char limit[64] = "unknown";
    if (0 == getrlimit(RLIMIT_MEMLOCK, &rl))
    {
        if (RLIM_INFINITY == rl.rlim_cur)
        {
            snprintf(limit, sizeof(limit), "unlimited");
        }
        else
        {
            snprintf(limit, sizeof(limit), "%llu bytes", (unsigned long long)rl.rlim_cur);
        }
    }
    tp_err_set(ENOMEM == err || EPERM == err || EAGAIN == err ? TP_ERR_PERMISSION : TP_ERR_IO,
        "mlock of %s %.256s (%zu bytes) failed: %s (RLIMIT_MEMLOCK %s): raise `ulimit -l` or grant CAP_IPC_LOCK, "
        "or disable mlock_shm; the mapping is used unlocked",
        what, tp_shm_region_path(region), length, strerror(err), limit);
    tp_client_report_error(client, "mlock_shm");
    return -1;
}
