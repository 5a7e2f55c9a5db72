#include "transport/aeron/tp_aeron_driver.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/tp_clock.h"

#include "common/tp_error.h"
#include "transport/aeron/tp_aeron_error.h"

#if defined(TP_HAVE_AERON_DRIVER)
#include "aeronmd.h"
#endif

/* A driver whose cnc.dat heartbeat is older than this is considered dead. */
#define TP_AERON_DRIVER_ACTIVE_TIMEOUT_MS 1000

struct tp_aeron_media_driver_stct
{
#if defined(TP_HAVE_AERON_DRIVER)
    aeron_driver_context_t *context;
    aeron_driver_t *driver;
#endif
    char dir[PATH_MAX];
    int refs;                                  /**< references taken by tp_aeron_media_driver_acquire */
    pid_t pid;                                 /**< process running the driver (a fork copy is not it) */
    struct tp_aeron_media_driver_stct *next;   /**< in tp_aeron_shared_drivers */
};

/* Drivers shared by the transports of this process (tp_aeron_media_driver_acquire). */
static pthread_mutex_t tp_aeron_shared_lock = PTHREAD_MUTEX_INITIALIZER;
static tp_aeron_media_driver_t *tp_aeron_shared_drivers = NULL;
static bool tp_aeron_shared_at_exit_registered = false;

/** Log function for aeron_is_driver_active(): its progress messages are not wanted. */
static void tp_aeron_driver_log_none(const char *message)
{
    (void)message;
}

#if defined(TP_HAVE_AERON_DRIVER)

/*
 * Start-up lock of an Aeron directory (see tp_aeron_driver.h): an flock on
 * "<dir>.tp-driver.lock", next to the directory (not inside: the driver
 * deletes and recreates the directory). Whoever holds it may check for a live
 * driver and start or stop one; the cnc.dat of a driver started under the lock
 * is complete (version and heartbeat set by aeron_driver_init) before the lock
 * is released, so no process of ours ever sees a half-initialised cnc.dat of
 * another. The file is unlinked by the driver's owner when the driver stops,
 * while holding the lock; a waiter that then obtains the lock on the unlinked
 * file notices (inode differs from the path's) and retries on a fresh file.
 */

/** How long to wait for the start-up lock (held only while a driver starts or stops). */
#define TP_AERON_DRIVER_LOCK_TIMEOUT_NS (UINT64_C(10) * UINT64_C(1000000000))

/** Name of the start-up lock file of `dir` into `buf`. Returns 0 or -1 (too long). */
static int tp_aeron_driver_lock_path(char *buf, size_t len, const char *dir)
{
    size_t n = strlen(dir);
    while (n > 1 && '/' == dir[n - 1])
    {
        n--;
    }
    int w = snprintf(buf, len, "%.*s.tp-driver.lock", (int)n, dir);
    return w < 0 || (size_t)w >= len ? -1 : 0;
}

/** Create the missing parent directories of `path` (as the driver creates missing parents of its directory). */
static void tp_aeron_driver_make_parents(const char *path)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1; '\0' != *p; p++)
    {
        if ('/' == *p)
        {
            *p = '\0';
            mkdir(buf, 0777);
            *p = '/';
        }
    }
}

/**
 * Take the start-up lock of `dir` (exclusive flock, polled until
 * TP_AERON_DRIVER_LOCK_TIMEOUT_NS). Returns the locked descriptor, or -1 with
 * the tp error set.
 */
static int tp_aeron_driver_lock(const char *dir)
{
    char path[PATH_MAX];
    if (tp_aeron_driver_lock_path(path, sizeof(path), dir) < 0)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "embedded media driver: directory name too long: %s", dir);
    }
    uint64_t deadline = tp_clock_mono_ns() + TP_AERON_DRIVER_LOCK_TIMEOUT_NS;
    for (;;)
    {
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0 && ENOENT == errno)
        {
            tp_aeron_driver_make_parents(path);
            fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        }
        if (fd < 0)
        {
            return tp_err_set(TP_ERR_IO, "embedded media driver: open start-up lock %s: %s", path, strerror(errno));
        }
        if (0 == flock(fd, LOCK_EX | LOCK_NB))
        {
            struct stat held;
            struct stat named;
            if (0 == fstat(fd, &held) && 0 == stat(path, &named) && held.st_ino == named.st_ino &&
                held.st_dev == named.st_dev)
            {
                return fd;
            }
            /* The owner of a stopping driver unlinked this file: lock the current one. */
        }
        else if (EWOULDBLOCK != errno && EINTR != errno)
        {
            int err = errno;
            close(fd);
            return tp_err_set(TP_ERR_IO, "embedded media driver: flock %s: %s", path, strerror(err));
        }
        close(fd);
        if (tp_clock_mono_ns() > deadline)
        {
            return tp_err_set(TP_ERR_TIMEOUT, "embedded media driver: start-up lock %s still held after %llu ms",
                path, (unsigned long long)(TP_AERON_DRIVER_LOCK_TIMEOUT_NS / UINT64_C(1000000)));
        }
        tp_sleep_ns(1000000);
    }
}

/** Release the start-up lock taken by tp_aeron_driver_lock(); `remove` unlinks the file first. */
static void tp_aeron_driver_unlock(int fd, const char *dir, bool remove)
{
    if (fd < 0)
    {
        return;
    }
    char path[PATH_MAX];
    if (remove && 0 == tp_aeron_driver_lock_path(path, sizeof(path), dir))
    {
        unlink(path);
    }
    close(fd);
}

#endif

bool tp_aeron_media_driver_supported(void)
{
#if defined(TP_HAVE_AERON_DRIVER)
    return true;
#else
    return false;
#endif
}

#if defined(TP_HAVE_AERON_DRIVER)

/** Apply the tensorpool settings to a fresh driver context. Returns 0 or -1 (Aeron error set). */
static int tp_aeron_driver_configure(aeron_driver_context_t *context, const char *dir, uint64_t liveness_timeout_ns)
{
    if (aeron_driver_context_set_dir(context, dir) < 0 ||
        /* An active driver in `dir` must not be wiped; a stale one is replaced by the driver itself. */
        aeron_driver_context_set_dir_delete_on_start(context, false) < 0 ||
        aeron_driver_context_set_dir_delete_on_shutdown(context, true) < 0 ||
        aeron_driver_context_set_dir_warn_if_exists(context, false) < 0 ||
        aeron_driver_context_set_threading_mode(context, AERON_THREADING_MODE_SHARED) < 0 ||
        aeron_driver_context_set_term_buffer_sparse_file(context, true) < 0 ||
        aeron_driver_context_set_print_configuration(context, false) < 0)
    {
        return -1;
    }
    if (liveness_timeout_ns > 0)
    {
        /*
         * The transport's liveness timeout ("peers silent longer than this are
         * dead") is Aeron's client and image liveness. Floor of 1 s: clients in
         * invoker mode send keepalives from their duty cycle (every 500 ms).
         */
        uint64_t timeout = liveness_timeout_ns < UINT64_C(1000000000) ? UINT64_C(1000000000) : liveness_timeout_ns;
        /* Aeron checks liveness on its timer, which must fire more often than the timeouts. */
        uint64_t timer = timeout / 10 > UINT64_C(100000000) ? UINT64_C(100000000) : timeout / 10;
        if (aeron_driver_context_set_timer_interval_ns(context, timer) < 0 ||
            aeron_driver_context_set_image_liveness_timeout_ns(context, timeout) < 0 ||
            aeron_driver_context_set_client_liveness_timeout_ns(context, timeout) < 0)
        {
            return -1;
        }
    }
    return 0;
}

int tp_aeron_media_driver_start(tp_aeron_media_driver_t **out, const char *dir, uint64_t liveness_timeout_ns)
{
    if (NULL == out || NULL == dir || '\0' == dir[0])
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_aeron_media_driver_start: out and dir must be set");
    }
    *out = NULL;
    if (strlen(dir) >= PATH_MAX)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_aeron_media_driver_start: directory name too long");
    }
    int lock_fd = tp_aeron_driver_lock(dir);
    if (lock_fd < 0)
    {
        return -1;
    }
    if (tp_aeron_media_driver_is_active(dir, TP_AERON_DRIVER_ACTIVE_TIMEOUT_MS))
    {
        tp_aeron_driver_unlock(lock_fd, dir, false);
        return tp_err_set(TP_ERR_STATE, "embedded media driver: an active media driver already uses %s (share it "
            "instead: unset %s, or choose another aeron dir)", dir, TP_AERON_EMBEDDED_DRIVER_ENV);
    }
    tp_aeron_media_driver_t *md = calloc(1, sizeof(*md));
    if (NULL == md)
    {
        tp_aeron_driver_unlock(lock_fd, dir, false);
        return tp_err_set(TP_ERR_NO_MEMORY, "tp_aeron_media_driver_start: out of memory");
    }
    snprintf(md->dir, sizeof(md->dir), "%s", dir);

    if (aeron_driver_context_init(&md->context) < 0)
    {
        tp_aeron_err_set("embedded media driver: context init");
        free(md);
        tp_aeron_driver_unlock(lock_fd, dir, false);
        return -1;
    }
    if (tp_aeron_driver_configure(md->context, dir, liveness_timeout_ns) < 0)
    {
        tp_aeron_err_set("embedded media driver: configure %s", dir);
        aeron_driver_context_close(md->context);
        free(md);
        tp_aeron_driver_unlock(lock_fd, dir, false);
        return -1;
    }
    /* aeron_driver_init writes the whole cnc.dat, its heartbeat and last its version, all under our lock. */
    if (aeron_driver_init(&md->driver, md->context) < 0)
    {
        bool active = aeron_is_driver_active(dir, TP_AERON_DRIVER_ACTIVE_TIMEOUT_MS, tp_aeron_driver_log_none);
        tp_aeron_err_set("embedded media driver: init in %s", dir);
        if (active)
        {
            /* A driver not started by tensorpool (no lock) came up meanwhile. */
            tp_err_set(TP_ERR_STATE, "embedded media driver: an active media driver already uses %s (share it "
                "instead: unset %s, or choose another aeron dir)", dir, TP_AERON_EMBEDDED_DRIVER_ENV);
        }
        /* The directory may belong to another driver: closing this context must not delete it. */
        aeron_driver_context_set_dir_delete_on_shutdown(md->context, false);
        aeron_driver_context_close(md->context);
        free(md);
        /* Nobody else's driver runs there: the lock file can go. */
        tp_aeron_driver_unlock(lock_fd, dir, !active);
        return -1;
    }
    /* manual_main_loop = false: the driver runs its agents on its own thread (SHARED mode: one thread). */
    if (aeron_driver_start(md->driver, false) < 0)
    {
        tp_aeron_err_set("embedded media driver: start in %s", dir);
        aeron_driver_close(md->driver);
        aeron_driver_context_close(md->context);
        free(md);
        tp_aeron_driver_unlock(lock_fd, dir, true);
        return -1;
    }
    tp_aeron_driver_unlock(lock_fd, dir, false);
    *out = md;
    return 0;
}

bool tp_aeron_media_driver_is_active(const char *dir, uint64_t timeout_ms)
{
    return NULL != dir && aeron_is_driver_active(dir, (int64_t)timeout_ms, tp_aeron_driver_log_none);
}

int tp_aeron_media_driver_close(tp_aeron_media_driver_t *driver)
{
    if (NULL == driver)
    {
        return 0;
    }
    int rc = 0;
    /* Under the start-up lock, so that nobody checks or starts a driver on a half-deleted directory;
     * stopping proceeds without it when the lock cannot be had (the directory is ours). */
    int lock_fd = tp_aeron_driver_lock(driver->dir);
    /* aeron_driver_close stops and joins the agent thread, then frees the driver;
     * the context (owned by us) is closed afterwards and deletes the directory. */
    if (aeron_driver_close(driver->driver) < 0)
    {
        rc = tp_aeron_err_set("embedded media driver: close %s", driver->dir);
    }
    if (aeron_driver_context_close(driver->context) < 0 && 0 == rc)
    {
        rc = tp_aeron_err_set("embedded media driver: context close %s", driver->dir);
    }
    tp_aeron_driver_unlock(lock_fd, driver->dir, true);
    free(driver);
    return rc;
}

#else /* !TP_HAVE_AERON_DRIVER */

int tp_aeron_media_driver_start(tp_aeron_media_driver_t **out, const char *dir, uint64_t liveness_timeout_ns)
{
    (void)dir;
    (void)liveness_timeout_ns;
    if (NULL != out)
    {
        *out = NULL;
    }
    return tp_err_set(TP_ERR_UNSUPPORTED, "embedded media driver: this build has the Aeron client but not the Aeron "
        "driver library (libaeron_driver); run an external media driver (aeronmd) instead");
}

bool tp_aeron_media_driver_is_active(const char *dir, uint64_t timeout_ms)
{
    return NULL != dir && aeron_is_driver_active(dir, (int64_t)timeout_ms, tp_aeron_driver_log_none);
}

int tp_aeron_media_driver_close(tp_aeron_media_driver_t *driver)
{
    free(driver);
    return 0;
}

#endif

const char *tp_aeron_media_driver_dir(const tp_aeron_media_driver_t *driver)
{
    return driver->dir;
}

/**
 * At process exit, stop the shared drivers this process still runs (their
 * transports were never closed, e.g. after a failed test): the driver then
 * deletes its directory instead of leaving it behind.
 */
static void tp_aeron_shared_drivers_at_exit(void)
{
    pthread_mutex_lock(&tp_aeron_shared_lock);
    tp_aeron_media_driver_t *d = tp_aeron_shared_drivers;
    tp_aeron_shared_drivers = NULL;
    pthread_mutex_unlock(&tp_aeron_shared_lock);
    while (NULL != d)
    {
        tp_aeron_media_driver_t *next = d->next;
        if (d->pid == getpid())
        {
            tp_aeron_media_driver_close(d);
        }
        d = next;
    }
}

int tp_aeron_media_driver_acquire(tp_aeron_media_driver_t **out, const char *dir, uint64_t liveness_timeout_ns)
{
    if (NULL == out || NULL == dir)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_aeron_media_driver_acquire: NULL argument");
    }
    *out = NULL;
    int rc = 0;
    pthread_mutex_lock(&tp_aeron_shared_lock);
    tp_aeron_media_driver_t *d = tp_aeron_shared_drivers;
    while (NULL != d && (0 != strcmp(d->dir, dir) || d->pid != getpid()))
    {
        /* Entries copied into a forked child name drivers of the parent: used as external drivers. */
        d = d->next;
    }
    if (NULL != d)
    {
        d->refs++;
        *out = d;
    }
    else
    {
        /* Checks for a live driver and starts one atomically under the directory's start-up lock. */
        rc = tp_aeron_media_driver_start(&d, dir, liveness_timeout_ns);
        if (rc < 0 && TP_ERR_STATE == tp_errcode())
        {
            /* Another process started a driver on `dir` meanwhile: use it. */
            rc = 0;
            d = NULL;
        }
        else if (0 == rc)
        {
            d->refs = 1;
            d->pid = getpid();
            if (!tp_aeron_shared_at_exit_registered)
            {
                tp_aeron_shared_at_exit_registered = 0 == atexit(tp_aeron_shared_drivers_at_exit);
            }
            d->next = tp_aeron_shared_drivers;
            tp_aeron_shared_drivers = d;
            *out = d;
        }
    }
    pthread_mutex_unlock(&tp_aeron_shared_lock);
    return rc;
}

int tp_aeron_media_driver_release(tp_aeron_media_driver_t *driver)
{
    if (NULL == driver)
    {
        return 0;
    }
    pthread_mutex_lock(&tp_aeron_shared_lock);
    bool last = 0 == --driver->refs;
    if (last)
    {
        for (tp_aeron_media_driver_t **pp = &tp_aeron_shared_drivers; NULL != *pp; pp = &(*pp)->next)
        {
            if (*pp == driver)
            {
                *pp = driver->next;
                break;
            }
        }
    }
    pthread_mutex_unlock(&tp_aeron_shared_lock);
    return last ? tp_aeron_media_driver_close(driver) : 0;
}
