/* File-system helpers: space reservation with a clear diagnostic instead of a later SIGBUS. */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "common/tp_error.h"
#include "common/tp_fs.h"

int tp_fs_free_bytes(const char *dir, uint64_t *free_out)
{
    struct statvfs vfs;
    if (NULL == dir || NULL == free_out)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_fs_free_bytes: NULL argument");
    }
    if (0 != statvfs(dir, &vfs))
    {
        return tp_err_set_errno(errno, "statvfs %.256s", dir);
    }
    *free_out = (uint64_t)vfs.f_bavail * (uint64_t)vfs.f_frsize;
    return 0;
}

/* The directory part of `path` into `dir` ("." when there is none). */
static void tp_fs_dirname(const char *path, char *dir, size_t len)
{
    const char *slash = strrchr(path, '/');
    if (NULL == slash)
    {
        snprintf(dir, len, ".");
    }
    else if (slash == path)
    {
        snprintf(dir, len, "/");
    }
    else
    {
        snprintf(dir, len, "%.*s", (int)(slash - path), path);
    }
}

static int tp_fs_no_space(int errnum, uint64_t length, const char *path)
{
    char dir[4096];
    uint64_t avail = 0;
    tp_fs_dirname(path, dir, sizeof(dir));
    bool have_free = 0 == tp_fs_free_bytes(dir, &avail);
    if (ENOSPC == errnum || EFBIG == errnum || EDQUOT == errnum)
    {
        char free_text[96] = "free space unknown";
        if (have_free)
        {
            snprintf(free_text, sizeof(free_text), "%llu bytes free", (unsigned long long)avail);
        }
        return tp_err_set(TP_ERR_IO,
            "not enough space in %.512s for %.512s (needs %llu bytes = %.1f MiB, %s; %s): free space there, "
            "enlarge the file system (e.g. docker run --shm-size=...), or use fewer or smaller slots or another "
            "directory",
            dir, path, (unsigned long long)length, (double)length / (1024.0 * 1024.0), free_text, strerror(errnum));
    }
    return tp_err_set_errno(errnum, "cannot reserve %llu bytes for %.512s in %.512s", (unsigned long long)length,
        path, dir);
}

int tp_fs_reserve_by_writing(int fd, uint64_t length, const char *path)
{
    static const uint8_t zeros[65536];
    uint64_t off = 0;
    while (off < length)
    {
        size_t n = length - off < sizeof(zeros) ? (size_t)(length - off) : sizeof(zeros);
        ssize_t w = pwrite(fd, zeros, n, (off_t)off);
        if (w < 0)
        {
            if (EINTR == errno)
            {
                continue;
            }
            int e = errno;
            if (EINVAL == e || EOPNOTSUPP == e)
            {
                return tp_err_set(TP_ERR_UNSUPPORTED,
                    "cannot reserve %llu bytes for %.512s: the file system supports neither fallocate nor writes "
                    "(use tmpfs, e.g. /dev/shm, or hugetlbfs with fallocate support)",
                    (unsigned long long)length, path);
            }
            return tp_fs_no_space(e, length, path);
        }
        if (0 == w)
        {
            return tp_fs_no_space(ENOSPC, length, path);
        }
        off += (uint64_t)w;
    }
    return 0;
}

int tp_fs_reserve(int fd, uint64_t length, const char *path)
{
    if (fd < 0 || NULL == path)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_fs_reserve: bad file descriptor or NULL path");
    }
    if (0 == length)
    {
        return 0;
    }
    if (length > (uint64_t)INT64_MAX)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "cannot reserve %llu bytes for %.512s: too large",
            (unsigned long long)length, path);
    }
    int rc;
    do
    {
        rc = posix_fallocate(fd, 0, (off_t)length); /* returns the error number, does not set errno */
    } while (EINTR == rc);
    if (0 == rc)
    {
        return 0;
    }
    if (EOPNOTSUPP == rc || EINVAL == rc)
    {
        return tp_fs_reserve_by_writing(fd, length, path);
    }
    return tp_fs_no_space(rc, length, path);
}
