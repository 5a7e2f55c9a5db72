/*
 * Unique temporary Aeron directories for tests: one per process, under
 * /dev/shm when it exists (like Aeron's default), removed by the driver on
 * close (dir_delete_on_shutdown) or by tp_aeron_test_dir_remove().
 */
#ifndef TP_TESTS_TRANSPORT_AERON_TP_AERON_TEST_DIR_H
#define TP_TESTS_TRANSPORT_AERON_TP_AERON_TEST_DIR_H

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/**
 * Create a fresh private directory named "<base>/tp-aeron-<tag>-XXXXXX" and
 * write its path to `buf`. Returns 0 or -1.
 */
static inline int tp_aeron_test_dir_make(char *buf, size_t len, const char *tag)
{
    struct stat st;
    const char *base = (0 == stat("/dev/shm", &st) && S_ISDIR(st.st_mode)) ? "/dev/shm" : "/tmp";
    int n = snprintf(buf, len, "%s/tp-aeron-%s-XXXXXX", base, tag);
    if (n < 0 || (size_t)n >= len || NULL == mkdtemp(buf))
    {
        return -1;
    }
    return 0;
}

/** Remove a test directory and its contents (best effort, used after failures). */
static inline void tp_aeron_test_dir_remove(const char *dir)
{
    char cmd[PATH_MAX + 32];
    if ('\0' != dir[0] && (size_t)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir) < sizeof(cmd))
    {
        if (0 != system(cmd))
        {
            fprintf(stderr, "could not remove %s\n", dir);
        }
    }
}

#endif
