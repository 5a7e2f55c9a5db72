/*
 * Helpers for transport tests: a private temporary transport directory per
 * test, and the backend under test.
 *
 * Backend: $TP_TEST_TRANSPORT = "embedded" (default) or "aeron". With aeron,
 * tpt_transport() uses "<dir>.aeron" as the Aeron directory and starts an
 * embedded media driver there (shared by the transports of the process, and
 * by child processes while it runs), unless $TP_TEST_AERON_DIR names the
 * directory of a media driver that is already running.
 */
#ifndef TP_TESTS_TRANSPORT_UTIL_H
#define TP_TESTS_TRANSPORT_UTIL_H

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tp_test.h"
#include "common/tp_clock.h"
#include "transport/tp_transport.h"

/** Create a unique directory under /dev/shm (falls back to /tmp). Returns 0 or -1. */
static inline int tpt_make_dir(char *buf, size_t len, const char *tag)
{
    snprintf(buf, len, "/dev/shm/tp-test-%s-%d-XXXXXX", tag, (int)getpid());
    if (NULL != mkdtemp(buf))
    {
        tp_test_track_dir(buf);
        return 0;
    }
    snprintf(buf, len, "/tmp/tp-test-%s-%d-XXXXXX", tag, (int)getpid());
    if (NULL == mkdtemp(buf))
    {
        return -1;
    }
    tp_test_track_dir(buf);
    return 0;
}

/** Remove the files in our own test directory and the directory itself. */
static inline void tpt_remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (NULL != d)
    {
        struct dirent *e;
        while (NULL != (e = readdir(d)))
        {
            if (0 == strcmp(e->d_name, ".") || 0 == strcmp(e->d_name, ".."))
            {
                continue;
            }
            char path[PATH_MAX];
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(dir);
}

static inline int tpt_count_files(const char *dir)
{
    int n = 0;
    DIR *d = opendir(dir);
    if (NULL != d)
    {
        struct dirent *e;
        while (NULL != (e = readdir(d)))
        {
            n += '.' != e->d_name[0];
        }
        closedir(d);
    }
    return n;
}

/** The backend under test: $TP_TEST_TRANSPORT or "embedded". */
static inline const char *tpt_backend(void)
{
    const char *b = getenv("TP_TEST_TRANSPORT");
    return NULL != b && '\0' != b[0] ? b : "embedded";
}

/** Whether the suite runs over the Aeron backend. */
static inline bool tpt_is_aeron(void)
{
    return 0 == strcmp(tpt_backend(), "aeron");
}

/** Skip the current test when running over Aeron (tests of the embedded backend's own mechanisms). */
#define TPT_SKIP_ON_AERON(reason) \
    do \
    { \
        if (tpt_is_aeron()) \
        { \
            TP_SKIP("not applicable to the aeron backend: %s", reason); \
        } \
    } \
    while (0)

/** Set up `ctx` for the backend under test, on the test directory `dir`. */
static inline int tpt_context(tp_transport_context_t *ctx, const char *dir)
{
    tp_transport_context_init(ctx);
    if (tp_transport_context_set_backend(ctx, tpt_backend()) < 0)
    {
        return -1;
    }
    if (!tpt_is_aeron())
    {
        return tp_transport_context_set_dir(ctx, dir);
    }
#if !defined(TP_HAVE_AERON)
    fprintf(stderr, "SKIP: TP_TEST_TRANSPORT=aeron but this build has no Aeron backend (configure with "
        "-DTP_WITH_AERON=ON -DTP_AERON_ROOT=<aeron install prefix>)\n");
    exit(77);
#endif
    const char *external = getenv("TP_TEST_AERON_DIR");
    char aeron_dir[PATH_MAX];
    if (NULL != external && '\0' != external[0])
    {
        snprintf(aeron_dir, sizeof(aeron_dir), "%s", external);
    }
    else
    {
        snprintf(aeron_dir, sizeof(aeron_dir), "%s.aeron", dir);
        setenv("TP_AERON_EMBEDDED_DRIVER", "1", 0);
    }
    return tp_transport_context_set_dir(ctx, aeron_dir);
}

static inline int tpt_transport(tp_transport_t **t, const char *dir, uint64_t liveness_ns, uint64_t unblock_ns)
{
    tp_transport_context_t ctx;
    if (tpt_context(&ctx, dir) < 0)
    {
        return -1;
    }
    if (liveness_ns)
    {
        ctx.liveness_timeout_ns = liveness_ns;
    }
    if (unblock_ns)
    {
        ctx.unblock_timeout_ns = unblock_ns;
    }
    return tp_transport_init(t, &ctx);
}

/**
 * Run the transport duty cycle until `cond` holds or `timeout_ns` passes.
 * Immediate when `cond` already holds (the embedded backend notifies within
 * the call); over Aeron, image and connection changes arrive from the media
 * driver asynchronously.
 */
#define TPT_WAIT_UNTIL(t, cond, timeout_ns) \
    do \
    { \
        uint64_t tpt_deadline_ = tp_clock_mono_ns() + (timeout_ns); \
        while (!(cond) && tp_clock_mono_ns() < tpt_deadline_) \
        { \
            tp_transport_do_work(t); \
            tp_sleep_ns(1000000); \
        } \
    } \
    while (0)

/** Offer with retry on back pressure / admin action until `deadline_ns`. */
static inline int64_t tpt_offer_retry(tp_publication_t *pub, const uint8_t *buf, size_t len, uint64_t timeout_ns)
{
    uint64_t deadline = tp_clock_mono_ns() + timeout_ns;
    for (;;)
    {
        int64_t rc = tp_publication_offer(pub, buf, len, NULL, NULL);
        if (rc > 0 || (rc != TP_PUBLICATION_BACK_PRESSURED && rc != TP_PUBLICATION_ADMIN_ACTION) ||
            tp_clock_mono_ns() > deadline)
        {
            return rc;
        }
    }
}

#endif
