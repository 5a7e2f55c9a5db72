/* Helpers for the shm tests: a private temporary directory per test process. */
#ifndef TP_TESTS_SHM_TEST_UTIL_H
#define TP_TESTS_SHM_TEST_UTIL_H

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tp_test.h"

/* Create "<base>/tp-test-<name>-XXXXXX" under /dev/shm (or $TMPDIR, or /tmp). */
static inline int tp_test_mkdtemp(char *buf, size_t len, const char *name)
{
    const char *base = "/dev/shm";
    struct stat st;
    if (0 != stat(base, &st) || !S_ISDIR(st.st_mode) || 0 != access(base, W_OK))
    {
        base = getenv("TMPDIR");
        if (NULL == base || '\0' == base[0])
        {
            base = "/tmp";
        }
    }
    snprintf(buf, len, "%s/tp-test-%s-XXXXXX", base, name);
    if (NULL == mkdtemp(buf))
    {
        return -1;
    }
    tp_test_track_dir(buf);
    return 0;
}

/* Remove a directory tree created by tp_test_mkdtemp (does not follow symlinks). */
static inline void tp_test_rmtree(const char *path)
{
    struct stat st;
    if (0 != lstat(path, &st))
    {
        return;
    }
    if (S_ISDIR(st.st_mode))
    {
        DIR *d = opendir(path);
        if (NULL != d)
        {
            struct dirent *e;
            while (NULL != (e = readdir(d)))
            {
                if (0 == strcmp(e->d_name, ".") || 0 == strcmp(e->d_name, ".."))
                {
                    continue;
                }
                char child[4096];
                snprintf(child, sizeof(child), "%s/%s", path, e->d_name);
                tp_test_rmtree(child);
            }
            closedir(d);
        }
        rmdir(path);
    }
    else
    {
        unlink(path);
    }
}

/* Write `len` bytes to a new file. */
static inline int tp_test_write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
    {
        return -1;
    }
    ssize_t n = len > 0 ? write(fd, data, len) : 0;
    close(fd);
    return n == (ssize_t)len ? 0 : -1;
}

#endif
