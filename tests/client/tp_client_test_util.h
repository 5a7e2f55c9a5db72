/* Helpers for client tests: private temp dirs (SHM base + transport), contexts, bounded waits. */
#ifndef TP_TESTS_CLIENT_UTIL_H
#define TP_TESTS_CLIENT_UTIL_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/tp_clock.h"
#include "tensor_pool/tp.h"

typedef struct
{
    char root[256];
    char shm[300];
    char transport[300];
} tpc_dirs_t;

static inline int tpc_dirs_make(tpc_dirs_t *d, const char *tag)
{
    snprintf(d->root, sizeof(d->root), "/dev/shm/tp-test-%s-%d-XXXXXX", tag, (int)getpid());
    if (NULL == mkdtemp(d->root))
    {
        snprintf(d->root, sizeof(d->root), "/tmp/tp-test-%s-%d-XXXXXX", tag, (int)getpid());
        if (NULL == mkdtemp(d->root))
        {
            return -1;
        }
    }
    snprintf(d->shm, sizeof(d->shm), "%s/shm", d->root);
    snprintf(d->transport, sizeof(d->transport), "%s/transport", d->root);
    return (0 == mkdir(d->shm, 0700) && 0 == mkdir(d->transport, 0700)) ? 0 : -1;
}

static inline int tpc_rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Remove our own test directory tree (never anything else). */
static inline void tpc_dirs_remove(const tpc_dirs_t *d)
{
    if (0 == strncmp(d->root, "/dev/shm/tp-test-", 17) || 0 == strncmp(d->root, "/tmp/tp-test-", 13))
    {
        nftw(d->root, tpc_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    }
}

/* A context on the private dirs with fast cadences (announce 50 ms, hello/QoS 50 ms). */
static inline tp_context_t *tpc_context(const tpc_dirs_t *d)
{
    tp_context_t *ctx = NULL;
    if (tp_context_init(&ctx) < 0 || tp_context_set_transport_dir(ctx, d->transport) < 0 ||
        tp_context_set_shm_base_dir(ctx, d->shm) < 0 || tp_context_set_announce_period_ns(ctx, 50000000u) < 0 ||
        tp_context_set_hello_interval_ns(ctx, 50000000u) < 0 || tp_context_set_qos_interval_ns(ctx, 50000000u) < 0)
    {
        tp_context_close(ctx);
        return NULL;
    }
    return ctx;
}

/* Run the duty cycle until `cond` holds or `timeout_ms` passes. */
#define TPC_WAIT_UNTIL(client, cond, timeout_ms)                                                          \
    do                                                                                                    \
    {                                                                                                     \
        uint64_t tpc_deadline_ = tp_clock_mono_ns() + (uint64_t)(timeout_ms) * 1000000u;                  \
        while (!(cond) && tp_clock_mono_ns() < tpc_deadline_)                                             \
        {                                                                                                 \
            if (tp_client_do_work(client) <= 0)                                                           \
            {                                                                                             \
                tp_sleep_ns(100000);                                                                      \
            }                                                                                             \
        }                                                                                                 \
    } while (0)

#endif
