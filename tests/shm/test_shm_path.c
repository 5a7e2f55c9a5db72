/* Canonical layout (§15.21a.3), permissions (§15.10, §15.21a.6) and path containment (§15.21a.5). */
#include "tp_test.h"
#include "shm/tp_shm_internal.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "shm_test_util.h"
#include "tensor_pool/tp_shm.h"

static char g_dir[1024];

static void test_shm_user_name_sanitized(void)
{
    char name[TP_SHM_NAME_MAX + 1];
    TP_ASSERT_OK(tp_shm_user_name(name, sizeof(name)));
    TP_ASSERT(strlen(name) > 0);
    TP_ASSERT_OK(tp_shm_name_validate("user", name));
}

static void test_shm_name_validate_rules(void)
{
    TP_ASSERT_OK(tp_shm_name_validate("namespace", "default"));
    TP_ASSERT_OK(tp_shm_name_validate("namespace", "lab-1_sim.v2"));
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_shm_name_validate("namespace", ""));
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_shm_name_validate("namespace", NULL));
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_shm_name_validate("namespace", "."));
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_shm_name_validate("namespace", ".."));
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_shm_name_validate("namespace", "a/b"));
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_shm_name_validate("namespace", "../etc"));
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_shm_name_validate("namespace", "a b"));
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_shm_name_validate("namespace", "caf\xc3\xa9"));
    char longname[TP_SHM_NAME_MAX + 2];
    memset(longname, 'n', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_shm_name_validate("namespace", longname));
}

static void test_shm_layout_paths(void)
{
    char buf[512];
    char ring[600];
    char pool[600];
    TP_ASSERT_OK(tp_shm_epoch_dir_path(buf, sizeof(buf), "/dev/shm", "alice", "default", 10000, 123456));
    TP_ASSERT_STREQ("/dev/shm/tensorpool-alice/default/10000/123456", buf);
    TP_ASSERT_OK(tp_shm_epoch_dir_path(buf, sizeof(buf), "/dev/shm/", "alice", "lab1", 1, 0));
    TP_ASSERT_STREQ("/dev/shm/tensorpool-alice/lab1/1/0", buf);
    TP_ASSERT_OK(tp_shm_header_ring_path(ring, sizeof(ring), buf));
    TP_ASSERT_STREQ("/dev/shm/tensorpool-alice/lab1/1/0/header.ring", ring);
    TP_ASSERT_OK(tp_shm_pool_path(pool, sizeof(pool), buf, 7));
    TP_ASSERT_STREQ("/dev/shm/tensorpool-alice/lab1/1/0/7.pool", pool);
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT,
        tp_shm_epoch_dir_path(buf, sizeof(buf), "relative", "alice", "default", 1, 1));
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT,
        tp_shm_epoch_dir_path(buf, sizeof(buf), "/dev/shm", "..", "default", 1, 1));
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT,
        tp_shm_epoch_dir_path(buf, sizeof(buf), "/dev/shm", "alice", "../x", 1, 1));
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_shm_epoch_dir_path(buf, 20, "/dev/shm", "alice", "default", 1, 1));
    /* NULL user: the effective user's sanitized name. */
    char user[TP_SHM_NAME_MAX + 1];
    char want[512];
    TP_ASSERT_OK(tp_shm_user_name(user, sizeof(user)));
    snprintf(want, sizeof(want), "/base/tensorpool-%s/ns/5/6", user);
    TP_ASSERT_OK(tp_shm_epoch_dir_path(buf, sizeof(buf), "/base", NULL, "ns", 5, 6));
    TP_ASSERT_STREQ(want, buf);
}

static void test_shm_epoch_dir_create_private(void)
{
    char epoch_dir[1024];
    char path[1200];
    TP_ASSERT_OK(tp_shm_epoch_dir_create(epoch_dir, sizeof(epoch_dir), g_dir, "default", 42, 7, false));
    struct stat st;
    TP_ASSERT_OK(stat(epoch_dir, &st));
    TP_ASSERT(S_ISDIR(st.st_mode));
    TP_ASSERT_EQ_U64(0700, st.st_mode & 07777);
    /* Parents too. */
    char user[TP_SHM_NAME_MAX + 1];
    TP_ASSERT_OK(tp_shm_user_name(user, sizeof(user)));
    snprintf(path, sizeof(path), "%s/tensorpool-%s", g_dir, user);
    TP_ASSERT_OK(stat(path, &st));
    TP_ASSERT_EQ_U64(0700, st.st_mode & 07777);
    /* Idempotent. */
    TP_ASSERT_OK(tp_shm_epoch_dir_create(epoch_dir, sizeof(epoch_dir), g_dir, "default", 42, 7, false));

    /* Files 0600 by default even with a permissive umask. */
    mode_t old = umask(0);
    tp_shm_region_params_t p = { TP_SHM_REGION_HEADER_RING, 1, 7, 42, 0, 4, 0 };
    tp_shm_region_t *ring = NULL;
    TP_ASSERT_OK(tp_shm_header_ring_path(path, sizeof(path), epoch_dir));
    int rc = tp_shm_region_create(&ring, path, &p, NULL);
    umask(old);
    TP_ASSERT_OK(rc);
    TP_ASSERT_OK(stat(path, &st));
    TP_ASSERT_EQ_U64(0600, st.st_mode & 07777);
    TP_ASSERT_EQ_U64(64 + 4 * 256, st.st_size);
    tp_shm_region_close(ring);

    TP_ASSERT_OK(tp_shm_epoch_dir_remove(epoch_dir));
    TP_ASSERT(0 != stat(epoch_dir, &st) && ENOENT == errno);
}

static void test_shm_epoch_dir_create_shared_group(void)
{
    char epoch_dir[1024];
    char path[1200];
    TP_ASSERT_OK(tp_shm_epoch_dir_create(epoch_dir, sizeof(epoch_dir), g_dir, "shared", 1, 1, true));
    struct stat st;
    TP_ASSERT_OK(stat(epoch_dir, &st));
    TP_ASSERT_EQ_U64(02770, st.st_mode & 07777);
    tp_shm_create_options_t opts;
    tp_shm_create_options_defaults(&opts);
    opts.file_mode = 0660;
    tp_shm_region_params_t p = { TP_SHM_REGION_PAYLOAD_POOL, 1, 1, 1, 3, 4, 128 };
    tp_shm_region_t *pool = NULL;
    TP_ASSERT_OK(tp_shm_pool_path(path, sizeof(path), epoch_dir, 3));
    TP_ASSERT_OK(tp_shm_region_create(&pool, path, &p, &opts));
    TP_ASSERT_OK(stat(path, &st));
    TP_ASSERT_EQ_U64(0660, st.st_mode & 07777);
    tp_shm_region_close(pool);
    /* Bad modes are refused. */
    opts.file_mode = 04660;
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT, tp_shm_region_create(&pool, path, &p, &opts));
    TP_ASSERT_OK(tp_shm_epoch_dir_remove(epoch_dir));
}

static void test_shm_epoch_dir_refuses_symlink(void)
{
    char base[1100];
    char target[1100];
    char link[1200];
    char epoch_dir[1024];
    char user[TP_SHM_NAME_MAX + 1];
    snprintf(base, sizeof(base), "%s/symbase", g_dir);
    snprintf(target, sizeof(target), "%s/elsewhere", g_dir);
    TP_ASSERT_OK(mkdir(base, 0700));
    TP_ASSERT_OK(mkdir(target, 0700));
    TP_ASSERT_OK(tp_shm_user_name(user, sizeof(user)));
    snprintf(link, sizeof(link), "%s/tensorpool-%s", base, user);
    TP_ASSERT_OK(symlink(target, link));
    TP_ASSERT_ERR(TP_ERR_PERMISSION, tp_shm_epoch_dir_create(epoch_dir, sizeof(epoch_dir), base, "x", 1, 1, false));
    TP_ASSERT(NULL != strstr(tp_errmsg(), "symlink"));
    TP_ASSERT_ERR(TP_ERR_INVALID_ARGUMENT,
        tp_shm_epoch_dir_create(epoch_dir, sizeof(epoch_dir), base, "../x", 1, 1, false));
}

static void test_shm_epoch_dir_refuses_foreign_owner(void)
{
    char base[1100];
    char userdir[1200];
    char epoch_dir[1024];
    char user[TP_SHM_NAME_MAX + 1];
    snprintf(base, sizeof(base), "%s/ownerbase", g_dir);
    TP_ASSERT_OK(mkdir(base, 0700));
    TP_ASSERT_OK(tp_shm_user_name(user, sizeof(user)));
    snprintf(userdir, sizeof(userdir), "%s/tensorpool-%s", base, user);
    TP_ASSERT_OK(mkdir(userdir, 0777));
    if (0 != geteuid())
    {
        TP_SKIP("not root: cannot give the directory to another uid");
    }
    TP_ASSERT_OK(chown(userdir, 54321, 54321));
    TP_ASSERT_ERR(TP_ERR_PERMISSION, tp_shm_epoch_dir_create(epoch_dir, sizeof(epoch_dir), base, "x", 1, 1, false));
    TP_ASSERT(NULL != strstr(tp_errmsg(), "owned by uid 54321"));
    TP_ASSERT(NULL != strstr(tp_errmsg(), userdir));
}

/* ---------------------------------------------------------------- containment */

static tp_shm_allowlist_t *make_allowlist(const char *dir)
{
    const char *dirs[1] = { dir };
    tp_shm_allowlist_t *a = NULL;
    if (tp_shm_allowlist_init(&a, dirs, 1) < 0)
    {
        return NULL;
    }
    return a;
}

static void test_shm_allowlist_init_rules(void)
{
    tp_shm_allowlist_t *a = NULL;
    const char *rel[1] = { "relative/dir" };
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_shm_allowlist_init(&a, rel, 1));
    TP_ASSERT_ERR(TP_ERR_CONFIG, tp_shm_allowlist_init(&a, rel, 0));
    const char *missing[1] = { "/nonexistent-tp-dir/x" };
    TP_ASSERT_ERR(TP_ERR_NOT_FOUND, tp_shm_allowlist_init(&a, missing, 1));
    char file[1100];
    snprintf(file, sizeof(file), "%s/plainfile", g_dir);
    TP_ASSERT_OK(tp_test_write_file(file, "x", 1));
    const char *notdir[1] = { file };
    TP_ASSERT(-1 == tp_shm_allowlist_init(&a, notdir, 1));
    /* Canonicalized once: a trailing slash and "." components disappear. */
    char messy[1100];
    snprintf(messy, sizeof(messy), "%s/./", g_dir);
    const char *ok[1] = { messy };
    TP_ASSERT_OK(tp_shm_allowlist_init(&a, ok, 1));
    char canon[4096];
    TP_ASSERT(NULL != realpath(g_dir, canon));
    TP_ASSERT_STREQ(canon, tp_shm_allowlist_dir(a, 0));
    TP_ASSERT_EQ_U64(1, tp_shm_allowlist_count(a));
    tp_shm_allowlist_close(a);
}

static void test_shm_containment_accepts_regular_file(void)
{
    char allowed[1100];
    char file[1200];
    char canon[4096];
    snprintf(allowed, sizeof(allowed), "%s/allowed", g_dir);
    TP_ASSERT_OK(mkdir(allowed, 0700));
    snprintf(file, sizeof(file), "%s/region", allowed);
    TP_ASSERT_OK(tp_test_write_file(file, "abc", 3));
    tp_shm_allowlist_t *a = make_allowlist(allowed);
    TP_ASSERT(NULL != a);
    TP_ASSERT_OK(tp_shm_allowlist_check(a, file, canon, sizeof(canon)));
    int fd = -1;
    TP_ASSERT_OK(tp_shm_allowlist_open(a, file, false, &fd, canon, sizeof(canon)));
    TP_ASSERT(fd >= 0);
    TP_ASSERT(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    close(fd);
    /* A symlink inside the allowed dir that resolves inside is fine (realpath). */
    char link[1200];
    snprintf(link, sizeof(link), "%s/link-in", allowed);
    TP_ASSERT_OK(symlink(file, link));
    TP_ASSERT_OK(tp_shm_allowlist_check(a, link, canon, sizeof(canon)));
    TP_ASSERT(NULL != strstr(canon, "/allowed/region"));
    tp_shm_allowlist_close(a);
}

static void test_shm_containment_rejects_relative_and_escapes(void)
{
    char allowed[1100];
    char outside[1100];
    char path[1300];
    snprintf(allowed, sizeof(allowed), "%s/allowed2", g_dir);
    snprintf(outside, sizeof(outside), "%s/outside", g_dir);
    TP_ASSERT_OK(mkdir(allowed, 0700));
    TP_ASSERT_OK(mkdir(outside, 0700));
    snprintf(path, sizeof(path), "%s/secret", outside);
    TP_ASSERT_OK(tp_test_write_file(path, "s", 1));
    tp_shm_allowlist_t *a = make_allowlist(allowed);
    TP_ASSERT(NULL != a);

    TP_ASSERT_ERR(TP_ERR_PERMISSION, tp_shm_allowlist_check(a, "relative/region", NULL, 0));
    TP_ASSERT(NULL != strstr(tp_errmsg(), "not absolute"));

    /* ".." escape */
    snprintf(path, sizeof(path), "%s/../outside/secret", allowed);
    TP_ASSERT_ERR(TP_ERR_PERMISSION, tp_shm_allowlist_check(a, path, NULL, 0));
    TP_ASSERT(NULL != strstr(tp_errmsg(), "outside the allowed"));

    /* symlink escape */
    char link[1300];
    snprintf(link, sizeof(link), "%s/escape", allowed);
    snprintf(path, sizeof(path), "%s/secret", outside);
    TP_ASSERT_OK(symlink(path, link));
    TP_ASSERT_ERR(TP_ERR_PERMISSION, tp_shm_allowlist_check(a, link, NULL, 0));
    int fd = -1;
    TP_ASSERT_ERR(TP_ERR_PERMISSION, tp_shm_allowlist_open(a, link, false, &fd, NULL, 0));
    TP_ASSERT_EQ_I64(-1, fd);

    /* String prefix is not containment: <allowed2>-evil/x is outside <allowed2>. */
    char evil[1200];
    snprintf(evil, sizeof(evil), "%s-evil", allowed);
    TP_ASSERT_OK(mkdir(evil, 0700));
    snprintf(path, sizeof(path), "%s/x", evil);
    TP_ASSERT_OK(tp_test_write_file(path, "x", 1));
    TP_ASSERT_ERR(TP_ERR_PERMISSION, tp_shm_allowlist_check(a, path, NULL, 0));

    /* The allowed directory itself is not a region. */
    TP_ASSERT_ERR(TP_ERR_PERMISSION, tp_shm_allowlist_check(a, allowed, NULL, 0));

    /* Missing file */
    snprintf(path, sizeof(path), "%s/missing", allowed);
    TP_ASSERT_ERR(TP_ERR_NOT_FOUND, tp_shm_allowlist_check(a, path, NULL, 0));
    tp_shm_allowlist_close(a);
}

static void test_shm_containment_rejects_non_regular(void)
{
    char allowed[1100];
    char path[1300];
    snprintf(allowed, sizeof(allowed), "%s/allowed3", g_dir);
    TP_ASSERT_OK(mkdir(allowed, 0700));
    tp_shm_allowlist_t *a = make_allowlist(allowed);
    TP_ASSERT(NULL != a);
    int fd = -1;

    /* FIFO: must be rejected without blocking. */
    snprintf(path, sizeof(path), "%s/fifo", allowed);
    TP_ASSERT_OK(mkfifo(path, 0600));
    TP_ASSERT_ERR(TP_ERR_PERMISSION, tp_shm_allowlist_open(a, path, false, &fd, NULL, 0));
    TP_ASSERT(NULL != strstr(tp_errmsg(), "FIFO"));

    /* Directory */
    snprintf(path, sizeof(path), "%s/subdir", allowed);
    TP_ASSERT_OK(mkdir(path, 0700));
    TP_ASSERT_ERR(TP_ERR_PERMISSION, tp_shm_allowlist_open(a, path, false, &fd, NULL, 0));
    TP_ASSERT(NULL != strstr(tp_errmsg(), "directory"));

    /* Unix socket */
    snprintf(path, sizeof(path), "%s/sock", allowed);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    TP_ASSERT(s >= 0);
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof(addr));
    addr.sun_family = AF_UNIX;
    if (strlen(path) < sizeof(addr.sun_path))
    {
        strcpy(addr.sun_path, path);
        TP_ASSERT_OK(bind(s, (struct sockaddr *)&addr, sizeof(addr)));
        TP_ASSERT_ERR(TP_ERR_PERMISSION, tp_shm_allowlist_open(a, path, false, &fd, NULL, 0));
        TP_ASSERT(NULL != strstr(tp_errmsg(), "socket"));
    }
    close(s);
    tp_shm_allowlist_close(a);
    if (strlen(path) >= sizeof(addr.sun_path))
    {
        TP_SKIP("socket path too long for sun_path: the socket case did not run");
    }

    /* Character device: /dev/null with /dev allowed. */
    a = make_allowlist("/dev");
    TP_ASSERT(NULL != a);
    TP_ASSERT_ERR(TP_ERR_PERMISSION, tp_shm_allowlist_open(a, "/dev/null", false, &fd, NULL, 0));
    TP_ASSERT(NULL != strstr(tp_errmsg(), "character device"));
    TP_ASSERT_EQ_I64(-1, fd);
    tp_shm_allowlist_close(a);
}

/* §15.21a.5 step 6: the open resolves beneath the allowed directory and refuses
 * a symlink anywhere on the way (an intermediate directory swapped for a
 * symlink after realpath), not only in the last component. */
static void test_shm_open_beneath_refuses_any_symlink(void)
{
    char dir[512];
    char path[1024];
    TP_ASSERT_OK(tp_test_mkdtemp(dir, sizeof(dir), "beneath"));
    snprintf(path, sizeof(path), "%s/a", dir);
    TP_ASSERT_OK(mkdir(path, 0700));
    snprintf(path, sizeof(path), "%s/a/file", dir);
    int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    TP_ASSERT(fd >= 0);
    close(fd);
    snprintf(path, sizeof(path), "%s/link", dir);
    TP_ASSERT_OK(symlink("a", path));

    fd = tp_shm_open_beneath(dir, "a/file", O_RDONLY | O_CLOEXEC);
    if (fd < 0 && ENOSYS == errno)
    {
        tp_test_rmtree(dir);
        fprintf(stderr, "  openat2 not available on this kernel: fallback path (O_NOFOLLOW + dev/inode check) only\n");
        return;
    }
    TP_ASSERT(fd >= 0);
    close(fd);
    errno = 0;
    TP_ASSERT(tp_shm_open_beneath(dir, "link/file", O_RDONLY | O_CLOEXEC) < 0);
    TP_ASSERT_EQ_I64(ELOOP, errno);
    TP_ASSERT(tp_shm_open_beneath(dir, "../x", O_RDONLY | O_CLOEXEC) < 0);
    TP_ASSERT_EQ_I64(EXDEV, errno);

    /* Through the public API: a path with a symlinked directory resolves (realpath) to
     * a contained regular file and is accepted, because the canonical path is opened. */
    const char *dirs[] = { dir };
    tp_shm_allowlist_t *allow = NULL;
    TP_ASSERT_OK(tp_shm_allowlist_init(&allow, dirs, 1));
    snprintf(path, sizeof(path), "%s/link/file", dir);
    char canon[1024];
    TP_ASSERT_OK(tp_shm_allowlist_open(allow, path, false, &fd, canon, sizeof(canon)));
    close(fd);
    tp_shm_allowlist_close(allow);
    tp_test_rmtree(dir);
}

/* A hard link into an allowed directory is refused (no symlink is involved). */
static void test_shm_containment_rejects_hard_link(void)
{
    char dir[512];
    char outside[512];
    char path[1024];
    char link_path[1024];
    TP_ASSERT_OK(tp_test_mkdtemp(dir, sizeof(dir), "hardlink"));
    TP_ASSERT_OK(tp_test_mkdtemp(outside, sizeof(outside), "hardlink-out"));
    snprintf(path, sizeof(path), "%s/secret", outside);
    int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    TP_ASSERT(fd >= 0);
    close(fd);
    snprintf(link_path, sizeof(link_path), "%s/header.ring", dir);
    TP_ASSERT_OK(link(path, link_path));
    const char *dirs[] = { dir };
    tp_shm_allowlist_t *allow = NULL;
    TP_ASSERT_OK(tp_shm_allowlist_init(&allow, dirs, 1));
    TP_ASSERT_ERR(TP_ERR_PERMISSION, tp_shm_allowlist_open(allow, link_path, false, &fd, NULL, 0));
    TP_ASSERT(NULL != strstr(tp_errmsg(), "hard links"));
    /* once the other name is gone the file is an ordinary single-link region file */
    TP_ASSERT_OK(unlink(path));
    TP_ASSERT_OK(tp_shm_allowlist_open(allow, link_path, false, &fd, NULL, 0));
    close(fd);
    tp_shm_allowlist_close(allow);
    tp_test_rmtree(dir);
    tp_test_rmtree(outside);
}

int main(void)
{
    if (0 != tp_test_mkdtemp(g_dir, sizeof(g_dir), "path"))
    {
        perror("mkdtemp");
        return 1;
    }
    TP_RUN(test_shm_user_name_sanitized);
    TP_RUN(test_shm_name_validate_rules);
    TP_RUN(test_shm_layout_paths);
    TP_RUN(test_shm_epoch_dir_create_private);
    TP_RUN(test_shm_epoch_dir_create_shared_group);
    TP_RUN(test_shm_epoch_dir_refuses_symlink);
    TP_RUN(test_shm_epoch_dir_refuses_foreign_owner);
    TP_RUN(test_shm_allowlist_init_rules);
    TP_RUN(test_shm_containment_accepts_regular_file);
    TP_RUN(test_shm_containment_rejects_relative_and_escapes);
    TP_RUN(test_shm_containment_rejects_non_regular);
    TP_RUN(test_shm_open_beneath_refuses_any_symlink);
    TP_RUN(test_shm_containment_rejects_hard_link);
    tp_test_rmtree(g_dir);
    return tp_test_finish();
}
