/*
 * Helpers for client tests: private temp dirs (SHM base + transport), contexts,
 * bounded waits.
 *
 * Backend: $TP_TEST_TRANSPORT = "embedded" (default) or "aeron", as for the
 * transport tests (tests/transport/tp_transport_test_util.h). tpc_dirs_make()
 * exports it as $TP_TRANSPORT_BACKEND, the variable every context of the
 * library and of the example programs takes its default from, so the test's
 * own contexts and transports and every child process it spawns use the same
 * backend. With aeron, the transport dir is the Aeron directory "<root>/aeron"
 * and $TP_AERON_EMBEDDED_DRIVER=1 is exported (an embedded media driver,
 * shared by the transports of a process; other processes attach to it), unless
 * $TP_TEST_AERON_DIR names the directory of a media driver already running
 * (then run ctest -j1: the tests share its streams). Multi-process tests hold
 * the driver in the parent for the whole test (tpc_driver_hold()), so that
 * children only ever attach and none of them owns the driver.
 */
#ifndef TP_TESTS_CLIENT_UTIL_H
#define TP_TESTS_CLIENT_UTIL_H

#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tp_test.h"
#include "common/tp_clock.h"
#include "tensor_pool/tp.h"
#include "transport/tp_transport.h"

typedef struct
{
    char root[256];
    char shm[300];
    char transport[300];
} tpc_dirs_t;

/* Whether the client tests run over the Aeron backend ($TP_TEST_TRANSPORT=aeron). */
static inline bool tpc_is_aeron(void)
{
    const char *b = getenv("TP_TEST_TRANSPORT");
    return NULL != b && 0 == strcmp(b, "aeron");
}

/* Skip the current test function over Aeron (it exercises the embedded backend's own files or mechanisms). */
#define TPC_SKIP_ON_AERON(reason) \
    do \
    { \
        if (tpc_is_aeron()) \
        { \
            TP_SKIP("not applicable to the aeron backend: %s", reason); \
        } \
    } while (0)

static inline void tpc_dirs_remove(const tpc_dirs_t *d);

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
    tp_test_track_dir(d->root);
    snprintf(d->shm, sizeof(d->shm), "%s/shm", d->root);
    snprintf(d->transport, sizeof(d->transport), "%s/transport", d->root);
    if (0 != mkdir(d->shm, 0700))
    {
        return -1;
    }
    if (!tpc_is_aeron())
    {
        setenv("TP_TRANSPORT_BACKEND", "embedded", 1);
        return 0 == mkdir(d->transport, 0700) ? 0 : -1;
    }
#if !defined(TP_HAVE_AERON)
    fprintf(stderr, "SKIP: TP_TEST_TRANSPORT=aeron but this build has no Aeron backend (configure with "
        "-DTP_WITH_AERON=ON -DTP_AERON_ROOT=<aeron install prefix>)\n");
    tpc_dirs_remove(d);
    exit(77);
#endif
    setenv("TP_TRANSPORT_BACKEND", "aeron", 1);
    const char *external = getenv("TP_TEST_AERON_DIR");
    if (NULL != external && '\0' != external[0])
    {
        snprintf(d->transport, sizeof(d->transport), "%s", external);
        unsetenv("TP_AERON_EMBEDDED_DRIVER");
    }
    else
    {
        /* Created by the media driver, deleted by it when it stops. */
        snprintf(d->transport, sizeof(d->transport), "%s/aeron", d->root);
        setenv("TP_AERON_EMBEDDED_DRIVER", "1", 1);
    }
    fprintf(stderr, "  transport backend aeron, Aeron dir %s%s\n", d->transport,
        NULL != getenv("TP_AERON_EMBEDDED_DRIVER") ? " (embedded media driver)" : "");
    return 0;
}

/*
 * Hold the media driver of the test (aeron with an embedded driver): a
 * transport of this process on the test's Aeron directory, which starts the
 * driver (or attaches to a running one) and keeps it up until
 * tpc_driver_release(). Returns NULL on the embedded backend. Exits the test
 * (status 1) when the driver cannot be started.
 */
static inline tp_transport_t *tpc_driver_hold(const tpc_dirs_t *d)
{
    if (!tpc_is_aeron())
    {
        return NULL;
    }
    tp_transport_context_t ctx;
    tp_transport_context_init(&ctx);
    tp_transport_t *t = NULL;
    if (tp_transport_context_set_dir(&ctx, d->transport) < 0 || tp_transport_init(&t, &ctx) < 0)
    {
        fprintf(stderr, "FAIL: media driver for %s: %s\n", d->transport, tp_errmsg());
        tpc_dirs_remove(d);
        exit(1);
    }
    return t;
}

/* Release the driver held by tpc_driver_hold() (stops it when this process started it). NULL is a no-op. */
static inline void tpc_driver_release(tp_transport_t *t)
{
    if (NULL != t)
    {
        tp_transport_close(t);
    }
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
