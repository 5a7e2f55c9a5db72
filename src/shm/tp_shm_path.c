/* Canonical layout (§15.21a.3) and path containment (§15.21a.5). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#if defined(__linux__)
#include <linux/openat2.h>
#endif
#include <sys/types.h>
#include <unistd.h>

#include "common/tp_error.h"
#include "shm/tp_shm_internal.h"
#include "tensor_pool/tp_shm.h"

static bool tp_shm_name_char_ok(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || '.' == c || '_' == c ||
        '-' == c;
}

int tp_shm_name_validate(const char *what, const char *name)
{
    if (NULL == what)
    {
        what = "name";
    }
    if (NULL == name || '\0' == name[0])
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "%s must not be empty", what);
    }
    size_t len = strnlen(name, TP_SHM_NAME_MAX + 1);
    if (len > TP_SHM_NAME_MAX)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "%s '%.32s...' is longer than %u characters", what, name,
            TP_SHM_NAME_MAX);
    }
    if (0 == strcmp(name, ".") || 0 == strcmp(name, ".."))
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "%s must not be '.' or '..'", what);
    }
    for (size_t i = 0; i < len; i++)
    {
        if (!tp_shm_name_char_ok(name[i]))
        {
            return tp_err_set(TP_ERR_INVALID_ARGUMENT,
                "%s '%s' contains '%c' (0x%02x); only [A-Za-z0-9._-] is allowed", what, name,
                (name[i] >= 0x21 && name[i] < 0x7f) ? name[i] : '?', (unsigned char)name[i]);
        }
    }
    return 0;
}

int tp_shm_user_name(char *buf, size_t len)
{
    if (NULL == buf || len < 16)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_shm_user_name: buffer too small");
    }
    uid_t uid = geteuid();
    char pwbuf[4096];
    struct passwd pw;
    struct passwd *result = NULL;
    const char *name = NULL;
    if (0 == getpwuid_r(uid, &pw, pwbuf, sizeof(pwbuf), &result) && NULL != result && NULL != result->pw_name)
    {
        name = result->pw_name;
    }
    size_t n = NULL == name ? 0 : strlen(name);
    if (n > 0 && n < len && n <= TP_SHM_NAME_MAX)
    {
        for (size_t i = 0; i < n; i++)
        {
            buf[i] = tp_shm_name_char_ok(name[i]) ? name[i] : '_';
        }
        buf[n] = '\0';
        if (0 != strcmp(buf, ".") && 0 != strcmp(buf, ".."))
        {
            return 0;
        }
    }
    int w = snprintf(buf, len, "uid%lu", (unsigned long)uid);
    if (w < 0 || (size_t)w >= len)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_shm_user_name: buffer too small");
    }
    return 0;
}

static int tp_shm_base_dir_check(const char *base_dir)
{
    if (NULL == base_dir || '/' != base_dir[0])
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "shm base dir '%s' must be an absolute path",
            NULL == base_dir ? "(null)" : base_dir);
    }
    if (strlen(base_dir) > TP_SHM_PATH_MAX)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "shm base dir is longer than %u bytes", TP_SHM_PATH_MAX);
    }
    return 0;
}

int tp_shm_epoch_dir_path(char *buf, size_t len, const char *base_dir, const char *user, const char *namespace_name,
    uint32_t stream_id, uint64_t epoch)
{
    char user_buf[TP_SHM_NAME_MAX + 1];
    if (NULL == buf || tp_shm_base_dir_check(base_dir) < 0)
    {
        return NULL == buf ? tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_shm_epoch_dir_path: NULL buffer") : -1;
    }
    if (NULL == user)
    {
        if (tp_shm_user_name(user_buf, sizeof(user_buf)) < 0)
        {
            return -1;
        }
        user = user_buf;
    }
    if (tp_shm_name_validate("user name", user) < 0 || tp_shm_name_validate("namespace", namespace_name) < 0)
    {
        return -1;
    }
    size_t blen = strlen(base_dir);
    while (blen > 1 && '/' == base_dir[blen - 1])
    {
        blen--;
    }
    int n = snprintf(buf, len, "%.*s%stensorpool-%s/%s/%u/%llu", (int)blen, base_dir, 1 == blen ? "" : "/", user,
        namespace_name, (unsigned)stream_id, (unsigned long long)epoch);
    if (n < 0 || (size_t)n >= len || (size_t)n > TP_SHM_PATH_MAX)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "epoch directory path does not fit in %zu bytes", len);
    }
    return 0;
}

int tp_shm_header_ring_path(char *buf, size_t len, const char *epoch_dir)
{
    if (NULL == buf || NULL == epoch_dir)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_shm_header_ring_path: NULL argument");
    }
    int n = snprintf(buf, len, "%s/header.ring", epoch_dir);
    if (n < 0 || (size_t)n >= len)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "header ring path does not fit in %zu bytes", len);
    }
    return 0;
}

int tp_shm_pool_path(char *buf, size_t len, const char *epoch_dir, uint16_t pool_id)
{
    if (NULL == buf || NULL == epoch_dir)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_shm_pool_path: NULL argument");
    }
    int n = snprintf(buf, len, "%s/%u.pool", epoch_dir, (unsigned)pool_id);
    if (n < 0 || (size_t)n >= len)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "pool path does not fit in %zu bytes", len);
    }
    return 0;
}

/* mkdir + open one component below dirfd without following symlinks. */
static int tp_shm_mkdir_component(int dirfd, const char *display_parent, const char *name, mode_t mode,
    bool check_owner, int *fd_out)
{
    bool created = false;
    if (0 == mkdirat(dirfd, name, mode & 0777))
    {
        created = true;
    }
    else if (EEXIST != errno)
    {
        return tp_err_set_errno(errno, "cannot create directory %s/%s", display_parent, name);
    }
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
    {
        int e = errno;
        if (ELOOP == e || ENOTDIR == e)
        {
            return tp_err_set(TP_ERR_PERMISSION, "%s/%s exists but is not a directory (or is a symlink): refusing it",
                display_parent, name);
        }
        return tp_err_set_errno(e, "cannot open directory %s/%s", display_parent, name);
    }
    struct stat st;
    if (0 != fstat(fd, &st))
    {
        int e = errno;
        close(fd);
        return tp_err_set_errno(e, "cannot stat directory %s/%s", display_parent, name);
    }
    if (check_owner && st.st_uid != geteuid())
    {
        close(fd);
        return tp_err_set(TP_ERR_PERMISSION,
            "%s/%s is owned by uid %lu, not by the effective user (uid %lu): refusing to use it", display_parent, name,
            (unsigned long)st.st_uid, (unsigned long)geteuid());
    }
    if (created && 0 != fchmod(fd, mode))
    {
        int e = errno;
        close(fd);
        return tp_err_set_errno(e, "cannot set mode %o on %s/%s", (unsigned)mode, display_parent, name);
    }
    *fd_out = fd;
    return 0;
}

int tp_shm_epoch_dir_create(char *buf, size_t len, const char *base_dir, const char *namespace_name,
    uint32_t stream_id, uint64_t epoch, bool shared_group)
{
    char user[TP_SHM_NAME_MAX + 1];
    if (tp_shm_user_name(user, sizeof(user)) < 0 ||
        tp_shm_epoch_dir_path(buf, len, base_dir, user, namespace_name, stream_id, epoch) < 0)
    {
        return -1;
    }
    char c_user[TP_SHM_NAME_MAX + 16];
    char c_stream[16];
    char c_epoch[24];
    snprintf(c_user, sizeof(c_user), "tensorpool-%s", user);
    snprintf(c_stream, sizeof(c_stream), "%u", (unsigned)stream_id);
    snprintf(c_epoch, sizeof(c_epoch), "%llu", (unsigned long long)epoch);
    const char *components[4] = { c_user, namespace_name, c_stream, c_epoch };
    mode_t mode = shared_group ? (S_ISGID | 0770) : 0700;

    int dirfd = open(base_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
    {
        return tp_err_set_errno(errno, "cannot open shm base dir %s", base_dir);
    }
    char shown[PATH_MAX];
    snprintf(shown, sizeof(shown), "%s", base_dir);
    for (size_t i = 0; i < 4; i++)
    {
        int next = -1;
        if (tp_shm_mkdir_component(dirfd, shown, components[i], mode, 0 == i, &next) < 0)
        {
            close(dirfd);
            return -1;
        }
        close(dirfd);
        dirfd = next;
        size_t used = strlen(shown);
        snprintf(shown + used, sizeof(shown) - used, "/%s", components[i]);
    }
    close(dirfd);
    return 0;
}

static bool tp_shm_is_pool_name(const char *name)
{
    size_t n = strlen(name);
    if (n < 6 || n > 10 || 0 != strcmp(name + n - 5, ".pool"))
    {
        return false;
    }
    for (size_t i = 0; i < n - 5; i++)
    {
        if (name[i] < '0' || name[i] > '9')
        {
            return false;
        }
    }
    return true;
}

int tp_shm_epoch_dir_remove(const char *epoch_dir)
{
    if (NULL == epoch_dir || '/' != epoch_dir[0])
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "epoch directory must be an absolute path");
    }
    int dirfd = open(epoch_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dirfd < 0)
    {
        return tp_err_set_errno(errno, "cannot open epoch directory %s", epoch_dir);
    }
    DIR *dir = fdopendir(dirfd);
    if (NULL == dir)
    {
        int e = errno;
        close(dirfd);
        return tp_err_set_errno(e, "cannot read epoch directory %s", epoch_dir);
    }
    int rc = 0;
    struct dirent *ent;
    while (NULL != (ent = readdir(dir)))
    {
        if (0 == strcmp(ent->d_name, "header.ring") || tp_shm_is_pool_name(ent->d_name))
        {
            if (0 != unlinkat(dirfd, ent->d_name, 0) && ENOENT != errno)
            {
                rc = tp_err_set_errno(errno, "cannot unlink %s/%s", epoch_dir, ent->d_name);
            }
        }
    }
    closedir(dir);
    if (0 == rc && 0 != rmdir(epoch_dir))
    {
        rc = tp_err_set_errno(errno, "cannot remove epoch directory %s", epoch_dir);
    }
    return rc;
}

/* ------------------------------------------------------------------------- */
/* Allowlist                                                                  */
/* ------------------------------------------------------------------------- */

struct tp_shm_allowlist_stct
{
    size_t count;
    char **dirs;
};

int tp_shm_allowlist_init(tp_shm_allowlist_t **out, const char *const *dirs, size_t count)
{
    if (NULL == out || (count > 0 && NULL == dirs))
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_shm_allowlist_init: NULL argument");
    }
    *out = NULL;
    if (0 == count)
    {
        return tp_err_set(TP_ERR_CONFIG, "allowed_base_dirs is empty: at least one allowed directory is required");
    }
    tp_shm_allowlist_t *a = calloc(1, sizeof(*a));
    if (NULL == a || NULL == (a->dirs = calloc(count, sizeof(char *))))
    {
        free(a);
        return tp_err_set(TP_ERR_NO_MEMORY, "tp_shm_allowlist_init: out of memory");
    }
    for (size_t i = 0; i < count; i++)
    {
        const char *d = dirs[i];
        if (NULL == d || '/' != d[0])
        {
            tp_shm_allowlist_close(a);
            return tp_err_set(TP_ERR_CONFIG, "allowed base dir '%s' is not an absolute path",
                NULL == d ? "(null)" : d);
        }
        char *canon = realpath(d, NULL);
        if (NULL == canon)
        {
            int e = errno;
            tp_shm_allowlist_close(a);
            tp_err_set_errno(e, "allowed base dir %s cannot be resolved", d);
            return -1;
        }
        struct stat st;
        if (0 != stat(canon, &st) || !S_ISDIR(st.st_mode))
        {
            free(canon);
            tp_shm_allowlist_close(a);
            return tp_err_set(TP_ERR_CONFIG, "allowed base dir %s is not a directory", d);
        }
        a->dirs[a->count++] = canon;
    }
    *out = a;
    return 0;
}

int tp_shm_allowlist_close(tp_shm_allowlist_t *allowlist)
{
    if (NULL != allowlist)
    {
        for (size_t i = 0; i < allowlist->count; i++)
        {
            free(allowlist->dirs[i]);
        }
        free(allowlist->dirs);
        free(allowlist);
    }
    return 0;
}

size_t tp_shm_allowlist_count(const tp_shm_allowlist_t *allowlist)
{
    return NULL == allowlist ? 0 : allowlist->count;
}

const char *tp_shm_allowlist_dir(const tp_shm_allowlist_t *allowlist, size_t index)
{
    return (NULL == allowlist || index >= allowlist->count) ? NULL : allowlist->dirs[index];
}

/* `path` (canonical) is strictly below `dir` (canonical), on a component boundary. */
int tp_shm_open_beneath(const char *dir, const char *rel, int flags)
{
#if defined(SYS_openat2)
    int dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
    {
        return -1;
    }
    struct open_how how;
    memset(&how, 0, sizeof(how));
    how.flags = (uint64_t)(unsigned)flags;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    long fd = syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));
    int e = errno;
    close(dirfd);
    errno = e;
    return fd < 0 ? -1 : (int)fd;
#else
    (void)dir;
    (void)rel;
    (void)flags;
    errno = ENOSYS;
    return -1;
#endif
}

static bool tp_shm_path_within(const char *path, const char *dir)
{
    size_t dlen = strlen(dir);
    if (1 == dlen && '/' == dir[0])
    {
        return '/' == path[0] && '\0' != path[1];
    }
    return 0 == strncmp(path, dir, dlen) && '/' == path[dlen] && '\0' != path[dlen + 1];
}

static const char *tp_shm_file_type_name(mode_t mode)
{
    if (S_ISDIR(mode))
    {
        return "a directory";
    }
    if (S_ISFIFO(mode))
    {
        return "a FIFO";
    }
    if (S_ISSOCK(mode))
    {
        return "a socket";
    }
    if (S_ISCHR(mode))
    {
        return "a character device";
    }
    if (S_ISBLK(mode))
    {
        return "a block device";
    }
    if (S_ISLNK(mode))
    {
        return "a symlink";
    }
    return "not a regular file";
}

static int tp_shm_allowlist_check_stat(const tp_shm_allowlist_t *allowlist, const char *path, char *canonical,
    size_t canonical_len, struct stat *st_out)
{
    if (NULL == allowlist || NULL == path)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "path containment: NULL argument");
    }
    if ('/' != path[0])
    {
        return tp_err_set(TP_ERR_PERMISSION, "region path '%.256s' is not absolute: rejected", path);
    }
    if (strlen(path) > TP_SHM_PATH_MAX)
    {
        return tp_err_set(TP_ERR_PERMISSION, "region path is longer than %u bytes: rejected", TP_SHM_PATH_MAX);
    }
    char canon[PATH_MAX];
    if (NULL == realpath(path, canon))
    {
        int e = errno;
        tp_err_set_errno(e, "region path %.256s cannot be resolved", path);
        return -1;
    }
    bool contained = false;
    for (size_t i = 0; i < allowlist->count && !contained; i++)
    {
        contained = tp_shm_path_within(canon, allowlist->dirs[i]);
    }
    if (!contained)
    {
        if (0 != strcmp(canon, path))
        {
            return tp_err_set(TP_ERR_PERMISSION,
                "region path %.256s resolves to %.256s, which is outside the allowed base directories: rejected",
                path, canon);
        }
        return tp_err_set(TP_ERR_PERMISSION, "region path %.256s is outside the allowed base directories: rejected",
            canon);
    }
    struct stat st;
    if (0 != lstat(canon, &st))
    {
        int e = errno;
        tp_err_set_errno(e, "cannot stat region path %.256s", canon);
        return -1;
    }
    if (!S_ISREG(st.st_mode))
    {
        return tp_err_set(TP_ERR_PERMISSION, "region path %.256s is %s, not a regular file: rejected", canon,
            tp_shm_file_type_name(st.st_mode));
    }
    if (NULL != canonical)
    {
        size_t n = strlen(canon);
        if (n >= canonical_len)
        {
            return tp_err_set(TP_ERR_INVALID_ARGUMENT, "canonical path buffer too small");
        }
        memcpy(canonical, canon, n + 1);
    }
    if (NULL != st_out)
    {
        *st_out = st;
    }
    return 0;
}

int tp_shm_allowlist_check(const tp_shm_allowlist_t *allowlist, const char *path, char *canonical,
    size_t canonical_len)
{
    return tp_shm_allowlist_check_stat(allowlist, path, canonical, canonical_len, NULL);
}

int tp_shm_allowlist_open(const tp_shm_allowlist_t *allowlist, const char *path, bool writable, int *fd_out,
    char *canonical, size_t canonical_len)
{
    char canon[PATH_MAX];
    struct stat st;
    if (NULL == fd_out)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_shm_allowlist_open: NULL fd_out");
    }
    *fd_out = -1;
    if (tp_shm_allowlist_check_stat(allowlist, path, canon, sizeof(canon), &st) < 0)
    {
        return -1;
    }
    /*
     * §15.21a.5 step 6: open without following symlinks. Where the kernel has
     * openat2, resolve the canonical path *beneath* the allowed directory with
     * every symlink refused, so an intermediate directory swapped for a
     * symlink after realpath() is caught too; otherwise O_NOFOLLOW covers the
     * last component. Either way the dev/inode check below must pass.
     */
    int open_flags = (writable ? O_RDWR : O_RDONLY) | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;
    int fd = -1;
    errno = ENOSYS;
    for (size_t i = 0; i < allowlist->count; i++)
    {
        const char *dir = allowlist->dirs[i];
        if (tp_shm_path_within(canon, dir))
        {
            size_t dl = strlen(dir);
            const char *rel = canon + dl;
            while ('/' == *rel)
            {
                rel++;
            }
            fd = tp_shm_open_beneath(dir, rel, open_flags);
            break;
        }
    }
    if (fd < 0 && ENOSYS == errno)
    {
        fd = open(canon, open_flags);
    }
    if (fd < 0)
    {
        int e = errno;
        if (ELOOP == e || EXDEV == e)
        {
            return tp_err_set(TP_ERR_PERMISSION, "region path %.256s became a symlink: rejected", canon);
        }
        tp_err_set_errno(e, "cannot open region %.256s", canon);
        return -1;
    }
    struct stat fst;
    if (0 != fstat(fd, &fst))
    {
        int e = errno;
        close(fd);
        tp_err_set_errno(e, "cannot fstat region %.256s", canon);
        return -1;
    }
    if (!S_ISREG(fst.st_mode) || fst.st_dev != st.st_dev || fst.st_ino != st.st_ino)
    {
        close(fd);
        return tp_err_set(TP_ERR_PERMISSION,
            "region %.256s changed between the containment check and open (dev/inode mismatch): rejected", canon);
    }
    /* A hard link can make a file from anywhere on the same filesystem appear inside an allowed
     * directory without any symlink; producers never link region files, so refuse them. */
    if (1 != fst.st_nlink)
    {
        close(fd);
        return tp_err_set(TP_ERR_PERMISSION,
            "region %.256s has %lu hard links (a region file has exactly one): rejected", canon,
            (unsigned long)fst.st_nlink);
    }
    if (NULL != canonical)
    {
        size_t n = strlen(canon);
        if (n >= canonical_len)
        {
            close(fd);
            return tp_err_set(TP_ERR_INVALID_ARGUMENT, "canonical path buffer too small");
        }
        memcpy(canonical, canon, n + 1);
    }
    *fd_out = fd;
    return 0;
}
