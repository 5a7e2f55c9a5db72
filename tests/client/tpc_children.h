/*
 * Child processes of the multi-process tests: wait for one of our own
 * children with a timeout (SIGKILL only it when it overruns), and read the
 * JSON line it printed into its output file under the test's root directory.
 */
#ifndef TP_TESTS_CLIENT_TPC_CHILDREN_H
#define TP_TESTS_CLIENT_TPC_CHILDREN_H

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "common/tp_clock.h"

/* Wait for our child `pid` at most `timeout_ms`; SIGKILL it (only it) on timeout. Returns the exit status or -1. */
static inline int tpc_wait_child(pid_t pid, int timeout_ms)
{
    uint64_t deadline = tp_clock_mono_ns() + (uint64_t)timeout_ms * 1000000u;
    int status = 0;
    for (;;)
    {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
        {
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
        }
        if (r < 0 && EINTR != errno)
        {
            return -1;
        }
        if (tp_clock_mono_ns() > deadline)
        {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        tp_sleep_ns(10000000);
    }
}

/* Read `<root>/<out_name>` into `buf` (NUL-terminated). Returns false when it cannot be read. */
static inline bool tpc_read_output(const char *root, const char *out_name, char *buf, size_t cap)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", root, out_name);
    FILE *f = fopen(path, "r");
    if (NULL == f)
    {
        return false;
    }
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = '\0';
    return true;
}

/* A numeric field "key": of the JSON our child printed into `<root>/<out_name>`, or -1. */
static inline double tpc_output_field(const char *root, const char *out_name, const char *key)
{
    char buf[8192];
    char pat[64];
    if (!tpc_read_output(root, out_name, buf, sizeof(buf)))
    {
        return -1;
    }
    snprintf(pat, sizeof(pat), "\"%s\":", key);
    const char *p = strstr(buf, pat);
    return p ? strtod(p + strlen(pat), NULL) : -1;
}

/* Print our child's output file to stderr (for a failing test's log). */
static inline void tpc_output_dump(const char *root, const char *out_name)
{
    char buf[8192];
    if (tpc_read_output(root, out_name, buf, sizeof(buf)))
    {
        fprintf(stderr, "  %s: %s", out_name, buf);
    }
}

#endif
