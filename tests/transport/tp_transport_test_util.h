/* Helpers for transport tests: a private temporary transport directory per test. */
#ifndef TP_TESTS_TRANSPORT_UTIL_H
#define TP_TESTS_TRANSPORT_UTIL_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/tp_clock.h"
#include "transport/tp_transport.h"

/** Create a unique directory under /dev/shm (falls back to /tmp). Returns 0 or -1. */
static inline int tpt_make_dir(char *buf, size_t len, const char *tag)
{
    snprintf(buf, len, "/dev/shm/tp-test-%s-%d-XXXXXX", tag, (int)getpid());
    if (NULL != mkdtemp(buf))
    {
        return 0;
    }
    snprintf(buf, len, "/tmp/tp-test-%s-%d-XXXXXX", tag, (int)getpid());
    return NULL != mkdtemp(buf) ? 0 : -1;
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

static inline int tpt_transport(tp_transport_t **t, const char *dir, uint64_t liveness_ns, uint64_t unblock_ns)
{
    tp_transport_context_t ctx;
    tp_transport_context_init(&ctx);
    tp_transport_context_set_dir(&ctx, dir);
    tp_transport_context_set_backend(&ctx, "embedded");
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
