/*
 * Fuzz target: canonical SHM paths and path containment (src/shm/tp_shm_path.c).
 *
 * Input: up to four lines, "<namespace>\n<user>\n<relative path>\n<stream id> <epoch>".
 * - tp_shm_name_validate on the namespace and the user;
 * - tp_shm_epoch_dir_path / tp_shm_header_ring_path / tp_shm_pool_path, also
 *   into buffers of input-chosen (often too small) sizes;
 * - tp_shm_allowlist_check / _open and tp_shm_open_beneath on the relative path
 *   joined to a private directory tree created once per process under
 *   $TMPDIR (mkdtemp; removed at exit). Paths are always built beneath that
 *   tree ('..' and symlinks in the input may point out of it: containment
 *   must reject them, and nothing outside is ever opened).
 *
 * The tree: root/allowed/{a.pool, sub/header.ring, link-in -> a.pool,
 * link-out -> ../outside.file, link-dir -> sub, loop -> loop, fifo},
 * root/outside.file, root/allowed-sibling/x.pool; the allowlist is
 * root/allowed. Invariants: an accepted path is canonical, strictly below the
 * allowed directory on a component boundary and a regular file; an opened
 * descriptor refers to a regular file below it too.
 */
#include "tp_fuzz.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shm/tp_shm_internal.h"
#include "tensor_pool/tp_shm.h"

static char root_dir[PATH_MAX];
static char allowed_dir[PATH_MAX];   /* canonical */
static tp_shm_allowlist_t *allowlist;

static const char *const tree_files[] = { "allowed/a.pool", "allowed/sub/header.ring", "outside.file",
    "allowed-sibling/x.pool" };
static const char *const tree_links[][2] = { { "allowed/link-in", "a.pool" },
    { "allowed/link-out", "../outside.file" }, { "allowed/link-dir", "sub" }, { "allowed/loop", "loop" } };
static const char *const tree_dirs[] = { "allowed", "allowed/sub", "allowed-sibling" };

static void tree_path(char *buf, size_t len, const char *rel)
{
    int n = snprintf(buf, len, "%s/%s", root_dir, rel);
    if (n < 0 || (size_t)n >= len)
    {
        abort();
    }
}

static void tree_remove(void)
{
    char p[PATH_MAX];
    tp_shm_allowlist_close(allowlist);
    for (size_t i = 0; i < sizeof(tree_links) / sizeof(tree_links[0]); i++)
    {
        tree_path(p, sizeof(p), tree_links[i][0]);
        unlink(p);
    }
    for (size_t i = 0; i < sizeof(tree_files) / sizeof(tree_files[0]); i++)
    {
        tree_path(p, sizeof(p), tree_files[i]);
        unlink(p);
    }
    tree_path(p, sizeof(p), "allowed/fifo");
    unlink(p);
    for (size_t i = sizeof(tree_dirs) / sizeof(tree_dirs[0]); i-- > 0;)
    {
        tree_path(p, sizeof(p), tree_dirs[i]);
        rmdir(p);
    }
    rmdir(root_dir);
}

static void tree_create(void)
{
    const char *tmp = getenv("TMPDIR");
    if (NULL == tmp || '/' != tmp[0])
    {
        tmp = "/tmp";
    }
    char tmpl[PATH_MAX];
    snprintf(tmpl, sizeof(tmpl), "%s/tp-fuzz-path-XXXXXX", tmp);
    if (NULL == mkdtemp(tmpl) || NULL == realpath(tmpl, root_dir))
    {
        perror("fuzz_shm_path: mkdtemp");
        abort();
    }
    char p[PATH_MAX];
    for (size_t i = 0; i < sizeof(tree_dirs) / sizeof(tree_dirs[0]); i++)
    {
        tree_path(p, sizeof(p), tree_dirs[i]);
        if (0 != mkdir(p, 0700))
        {
            abort();
        }
    }
    for (size_t i = 0; i < sizeof(tree_files) / sizeof(tree_files[0]); i++)
    {
        tree_path(p, sizeof(p), tree_files[i]);
        int fd = open(p, O_CREAT | O_WRONLY | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0)
        {
            abort();
        }
        close(fd);
    }
    for (size_t i = 0; i < sizeof(tree_links) / sizeof(tree_links[0]); i++)
    {
        tree_path(p, sizeof(p), tree_links[i][0]);
        if (0 != symlink(tree_links[i][1], p))
        {
            abort();
        }
    }
    tree_path(p, sizeof(p), "allowed/fifo");
    if (0 != mkfifo(p, 0600))
    {
        abort();
    }
    tree_path(p, sizeof(p), "allowed");
    const char *dirs[] = { p };
    if (tp_shm_allowlist_init(&allowlist, dirs, 1) < 0)
    {
        fprintf(stderr, "fuzz_shm_path: %s\n", tp_errmsg());
        abort();
    }
    snprintf(allowed_dir, sizeof(allowed_dir), "%s", tp_shm_allowlist_dir(allowlist, 0));
    atexit(tree_remove);
}

/* Next '\n'-separated field of [*p, end) as a NUL-terminated copy in buf (truncated to cap - 1). */
static void next_field(const char **p, const char *end, char *buf, size_t cap)
{
    const char *s = *p;
    const char *nl = memchr(s, '\n', (size_t)(end - s));
    const char *e = NULL == nl ? end : nl;
    size_t n = (size_t)(e - s);
    if (n >= cap)
    {
        n = cap - 1;
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    *p = NULL == nl ? end : nl + 1;
}

static bool strictly_below(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    return 0 == strncmp(path, dir, n) && '/' == path[n] && '\0' != path[n + 1];
}

static void check_canonical(const char *canon)
{
    TP_FUZZ_CHECK(strictly_below(canon, allowed_dir));
    TP_FUZZ_CHECK(NULL == strstr(canon, "//") && NULL == strstr(canon, "/./") && NULL == strstr(canon, "/../"));
    struct stat st;
    TP_FUZZ_CHECK(0 == lstat(canon, &st) && S_ISREG(st.st_mode));
}

static void fuzz_containment(const char *base, const char *rel)
{
    static char path[PATH_MAX * 2];
    static char canon[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", base, rel);
    if (0 == tp_shm_allowlist_check(allowlist, path, canon, sizeof(canon)))
    {
        check_canonical(canon);
        int fd = -1;
        static char canon2[PATH_MAX];
        TP_FUZZ_CHECK(0 == tp_shm_allowlist_open(allowlist, path, false, &fd, canon2, sizeof(canon2)));
        TP_FUZZ_CHECK(fd >= 0 && 0 == strcmp(canon, canon2));
        close(fd);
        /* A canonical buffer too small for the result is refused, not overrun. */
        size_t n = strlen(canon);
        char *small = malloc(n);
        TP_FUZZ_CHECK(NULL != small);
        TP_FUZZ_CHECK(tp_shm_allowlist_check(allowlist, path, small, n) < 0);
        free(small);
    }
    else
    {
        TP_FUZZ_CHECK_ERROR();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (NULL == allowlist)
    {
        tree_create();
    }
    const char *p = (const char *)data;
    const char *end = p + size;
    static char ns[256];
    static char user[256];
    static char rel[PATH_MAX + 16];
    static char nums[64];
    next_field(&p, end, ns, sizeof(ns));
    next_field(&p, end, user, sizeof(user));
    next_field(&p, end, rel, sizeof(rel));
    next_field(&p, end, nums, sizeof(nums));
    char *num_end = NULL;
    unsigned long long stream_id = strtoull(nums, &num_end, 10);
    unsigned long long epoch = strtoull(num_end, NULL, 10);

    if (0 == tp_shm_name_validate("namespace", ns))
    {
        size_t n = strlen(ns);
        TP_FUZZ_CHECK(n >= 1 && n <= TP_SHM_NAME_MAX && 0 != strcmp(ns, ".") && 0 != strcmp(ns, ".."));
        TP_FUZZ_CHECK(strspn(ns, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n);
    }
    else
    {
        TP_FUZZ_CHECK(TP_ERR_INVALID_ARGUMENT == tp_errcode());
    }

    static char dir[TP_SHM_PATH_MAX + 1];
    if (0 == tp_shm_epoch_dir_path(dir, sizeof(dir), allowed_dir, user, ns, (uint32_t)stream_id, epoch))
    {
        TP_FUZZ_CHECK(0 == tp_shm_name_validate(NULL, ns) && 0 == tp_shm_name_validate(NULL, user));
        TP_FUZZ_CHECK(strictly_below(dir, allowed_dir));
        TP_FUZZ_CHECK(NULL == strstr(dir + strlen(allowed_dir), "/../"));
        static char file[TP_SHM_PATH_MAX + 32];
        TP_FUZZ_CHECK(0 == tp_shm_header_ring_path(file, sizeof(file), dir));
        TP_FUZZ_CHECK(strictly_below(file, dir));
        TP_FUZZ_CHECK(0 == tp_shm_pool_path(file, sizeof(file), dir, (uint16_t)epoch));
        TP_FUZZ_CHECK(strictly_below(file, dir));
        /* Buffers of an input-chosen size: a result that does not fit is an error, never an overrun. */
        size_t cap = (size_t)(stream_id % (strlen(dir) + 24)) + 1;
        char *small = malloc(cap);
        TP_FUZZ_CHECK(NULL != small);
        if (0 == tp_shm_epoch_dir_path(small, cap, allowed_dir, user, ns, (uint32_t)stream_id, epoch))
        {
            TP_FUZZ_CHECK(0 == strcmp(small, dir));
        }
        if (0 == tp_shm_header_ring_path(small, cap, dir))
        {
            TP_FUZZ_CHECK(strlen(small) < cap);
        }
        if (0 == tp_shm_pool_path(small, cap, dir, (uint16_t)epoch))
        {
            TP_FUZZ_CHECK(strlen(small) < cap);
        }
        free(small);
    }
    else
    {
        TP_FUZZ_CHECK_ERROR();
    }

    fuzz_containment(allowed_dir, rel);
    fuzz_containment(root_dir, rel);

    int fd = tp_shm_open_beneath(allowed_dir, rel, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
    if (fd >= 0)
    {
        char link[64];
        static char target[PATH_MAX];
        snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, target, sizeof(target) - 1);
        if (n > 0)
        {
            target[n] = '\0';
            TP_FUZZ_CHECK(0 == strcmp(target, allowed_dir) || strictly_below(target, allowed_dir));
        }
        close(fd);
    }
    return 0;
}
