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
#include <unistd.h>

#include "common/tp_clock.h"

/*
 * Children this test process started and has not reaped yet. A test that
 * fails an assertion returns before it waits for its children: at exit the
 * ones still running are SIGKILLed and reaped (only these pids, and only by
 * the process that started them), so nothing is left behind.
 */
#define TPC_MAX_CHILDREN 32
static pid_t tpc_children[TPC_MAX_CHILDREN];
static pid_t tpc_children_owner = 0;

static inline void tpc_child_forget(pid_t pid)
{
    for (int i = 0; i < TPC_MAX_CHILDREN; i++)
    {
        if (tpc_children[i] == pid)
        {
            tpc_children[i] = 0;
        }
    }
}

/* Kill and reap every child still tracked (registered with atexit by tpc_child_track). */
static inline void tpc_children_kill_all(void)
{
    if (getpid() != tpc_children_owner)
    {
        return;
    }
    for (int i = 0; i < TPC_MAX_CHILDREN; i++)
    {
        pid_t pid = tpc_children[i];
        if (pid > 0)
        {
            int status = 0;
            if (0 == waitpid(pid, &status, WNOHANG))
            {
                fprintf(stderr, "  killing our child %d, still running at exit\n", (int)pid);
                kill(pid, SIGKILL);
                waitpid(pid, &status, 0);
            }
            tpc_children[i] = 0;
        }
    }
}

/* Track a child started by fork() (call in the parent); pid <= 0 is ignored. */
static inline void tpc_child_track(pid_t pid)
{
    if (pid <= 0)
    {
        return;
    }
    if (tpc_children_owner != getpid())
    {
        tpc_children_owner = getpid();
        memset(tpc_children, 0, sizeof(tpc_children));
        atexit(tpc_children_kill_all);
    }
    for (int i = 0; i < TPC_MAX_CHILDREN; i++)
    {
        if (0 == tpc_children[i])
        {
            tpc_children[i] = pid;
            return;
        }
    }
}

/* Wait for our child `pid` at most `timeout_ms`; SIGKILL it (only it) on timeout. Returns the exit status or -1. */
static inline int tpc_wait_child(pid_t pid, int timeout_ms)
{
    if (pid <= 0)
    {
        fprintf(stderr, "  tpc_wait_child: no child (fork failed?)\n");
        return -1; /* never kill(0 or -1, ...): that would signal other processes */
    }
    uint64_t deadline = tp_clock_mono_ns() + (uint64_t)timeout_ms * 1000000u;
    int status = 0;
    for (;;)
    {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
        {
            tpc_child_forget(pid);
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
        }
        if (r < 0 && EINTR != errno)
        {
            fprintf(stderr, "  tpc_wait_child: waitpid(%d): %s\n", (int)pid, strerror(errno));
            return -1;
        }
        if (tp_clock_mono_ns() > deadline)
        {
            char path[64], st[512] = "?";
            snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
            FILE *f = fopen(path, "r");
            if (NULL != f)
            {
                size_t n = fread(st, 1, sizeof(st) - 1, f);
                st[n] = '\0';
                fclose(f);
            }
            fprintf(stderr, "  tpc_wait_child: child %d still running after %d ms, killed (stat: %.120s)\n", (int)pid,
                timeout_ms, st);
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            tpc_child_forget(pid);
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
