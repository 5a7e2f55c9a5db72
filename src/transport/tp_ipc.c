/*
 * Embedded IPC log: multi-producer ring in a shared-memory file.
 *
 * Writers claim [tail, tail + len) with a CAS on the tail (after checking the
 * flow-control limit, so a refused offer has no side effect), then write the
 * frame: frame_length = 0, claimed_length, session, position tag (release),
 * a release fence (store-store barrier: the body never becomes visible before
 * the new tail), body, then frame_length (release) last. Readers check the position tag
 * first (acquire), then frame_length (acquire), copy the payload out and
 * validate that no writer can have overwritten it (their own slot is still
 * registered as tethered, or the tail is less than one ring ahead) before
 * delivering. See docs/TRANSPORT.md.
 */
#include "transport/tp_ipc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/tp_clock.h"
#include "common/tp_error.h"
#include "common/tp_fs.h"
#include "common/tp_log.h"
#include "common/tp_stage_probe.h"

_Static_assert(sizeof(tp_ipc_slot_t) == 64, "slot size");
_Static_assert(offsetof(tp_ipc_log_header_t, tail) == 128, "tail offset");
_Static_assert(offsetof(tp_ipc_log_header_t, publishers) == 256, "publishers offset");
_Static_assert(sizeof(tp_ipc_log_header_t) <= TP_IPC_HEADER_LENGTH, "header size");
_Static_assert(sizeof(tp_ipc_frame_header_t) == TP_IPC_FRAME_HEADER_LENGTH, "frame header size");

#define TP_IPC_MODULE "transport"
/* Refused offers between two clock reads on the refused-offer path (power of two). */
#define TP_IPC_REFUSED_CLOCK_PERIOD 1024u
/* is_connected calls between two clock reads (reaping check) when nothing changed (power of two). */
#define TP_IPC_CONNECTED_CLOCK_PERIOD 64u

typedef struct tp_ipc_log_stct
{
    struct tp_ipc_log_stct *next;
    int refcount;
    bool stale;
    int fd;
    uint8_t *base;
    size_t mapped_length;
    tp_ipc_log_header_t *hdr;
    uint8_t *data;
    uint64_t term_length;
    uint64_t mask;
    int32_t stream_id;
    char path[PATH_MAX];
} tp_ipc_log_t;

typedef struct tp_ipc_publication_stct
{
    tp_ipc_log_t *log;
    tp_transport_t *transport;
    tp_ipc_slot_t *slot;
    uint64_t generation;
    int32_t session_id;
    int32_t stream_id;
    _Atomic uint64_t limit;
    _Atomic bool connected;
    /* Refused-offer path (any thread): what the last scan saw, to rescan only when something changed. */
    _Atomic uint64_t seen_slot_epoch;   /* slot_epoch loaded before the last scan */
    _Atomic int32_t limit_slot;         /* subscriber slot holding the limit back, -1: the tail did */
    _Atomic uint64_t limit_position;    /* its position at the last scan */
    _Atomic uint32_t refused;           /* refused offers (a look at the clock every TP_IPC_REFUSED_CLOCK_PERIOD) */
    _Atomic uint32_t connected_checks;  /* is_connected calls (a look at the clock every TP_IPC_CONNECTED_CLOCK_PERIOD) */
    _Atomic uint64_t next_reap_ns;      /* earliest time the offer path may reap (kill(pid, 0)) again */
    _Atomic uint64_t blocked_since_ns;  /* first back-pressured offer since the limit slot last moved (0: none) */
    uint64_t reap_interval_ns;
    uint64_t last_heartbeat_ns;
    uint64_t liveness_timeout_ns;
    uint64_t requested_term_length;
    bool term_length_explicit;
} tp_ipc_publication_t;

typedef struct tp_ipc_known_image_stct
{
    bool known;
    uint64_t generation;
    tp_image_t image;
} tp_ipc_known_image_t;

typedef struct tp_ipc_subscription_stct
{
    tp_ipc_log_t *log;
    tp_transport_t *transport;
    tp_subscription_t *owner;
    tp_ipc_slot_t *slot;
    uint64_t generation;
    bool tethered;
    bool untethered_seen;     /* our tethered slot was untethered by the tether timeout (counted once) */
    uint64_t tether_timeout_ns;
    uint64_t protected_from;  /* frames from here on are protected while the slot is tethered (re-tether race) */
    int32_t stream_id;
    uint64_t position;
    uint64_t join_position;
    uint64_t join_time_ns;  /* CLOCK_MONOTONIC just before join_position was read */
    uint8_t *copy_buf;
    size_t copy_cap;
    uint64_t hole_position;
    uint64_t hole_since_ns;
    uint32_t poll_count;
    uint32_t idle_polls;
    uint64_t last_image_scan_ns;
    uint64_t seen_slot_epoch;
    uint64_t last_heartbeat_ns;
    uint64_t liveness_timeout_ns;
    uint64_t unblock_timeout_ns;
    uint64_t requested_term_length;
    bool term_length_explicit;
    _Atomic int image_count;
    _Atomic uint64_t stat_messages;
    _Atomic uint64_t stat_bytes;
    _Atomic uint64_t stat_lost_messages;
    _Atomic uint64_t stat_lost_bytes;
    _Atomic uint64_t stat_laps;
    _Atomic uint64_t stat_holes;
    _Atomic uint64_t stat_dropped;
    _Atomic uint64_t stat_untethered;
    tp_ipc_known_image_t images[TP_IPC_MAX_PUBLISHERS];
} tp_ipc_subscription_t;

static inline uint64_t tp_ipc_align(uint64_t v)
{
    return (v + (TP_IPC_FRAME_ALIGNMENT - 1)) & ~(uint64_t)(TP_IPC_FRAME_ALIGNMENT - 1);
}

static inline tp_ipc_frame_header_t *tp_ipc_frame_at(const tp_ipc_log_t *log, uint64_t position)
{
    return (tp_ipc_frame_header_t *)(void *)(log->data + (position & log->mask));
}

int tp_ipc_log_path(char *buf, size_t len, const char *dir, int32_t stream_id)
{
    int n = snprintf(buf, len, "%s/ipc-%" PRId32 ".log", dir, stream_id);
    if (n < 0 || (size_t)n >= len)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "IPC log path in %s too long", dir);
    }
    return 0;
}

/* ------------------------------------------------------------------------- */
/* Log file: open / validate / create                                          */
/* ------------------------------------------------------------------------- */

static int tp_ipc_validate_header(const tp_ipc_log_header_t *h, const char *path, off_t file_size)
{
    if (TP_IPC_MAGIC != h->magic)
    {
        return tp_err_set(TP_ERR_VALIDATION, "IPC log %s is corrupt or not a tensorpool IPC log (bad magic "
            "0x%016" PRIx64 "); remove it if no process uses it", path, h->magic);
    }
    if (TP_IPC_VERSION != h->version)
    {
        return tp_err_set(TP_ERR_VALIDATION, "IPC log %s has version %u, this library supports %u; remove it or "
            "upgrade the peers", path, h->version, TP_IPC_VERSION);
    }
    if (TP_IPC_HEADER_LENGTH != h->header_length || TP_IPC_MAX_PUBLISHERS != h->max_publishers ||
        TP_IPC_MAX_SUBSCRIBERS != h->max_subscribers || TP_IPC_FRAME_ALIGNMENT != h->frame_alignment)
    {
        return tp_err_set(TP_ERR_VALIDATION, "IPC log %s is corrupt: unexpected header layout (header_length %u, "
            "slots %u/%u, alignment %u)", path, h->header_length, h->max_publishers, h->max_subscribers,
            h->frame_alignment);
    }
    uint64_t tl = h->term_length;
    if (tl < TP_IPC_MIN_TERM_LENGTH || tl > TP_IPC_MAX_TERM_LENGTH || 0 != (tl & (tl - 1)))
    {
        return tp_err_set(TP_ERR_VALIDATION, "IPC log %s is corrupt: term length %" PRIu64 " is not a power of two "
            "in [64k, 1g]", path, tl);
    }
    if ((uint64_t)file_size != TP_IPC_HEADER_LENGTH + tl)
    {
        return tp_err_set(TP_ERR_VALIDATION, "IPC log %s is corrupt: file size %lld does not match header + term "
            "length %" PRIu64, path, (long long)file_size, TP_IPC_HEADER_LENGTH + tl);
    }
    return 0;
}

static void tp_ipc_log_unmap(tp_ipc_log_t *log)
{
    if (NULL != log->base)
    {
        munmap(log->base, log->mapped_length);
        log->base = NULL;
    }
    if (log->fd >= 0)
    {
        close(log->fd);
        log->fd = -1;
    }
}

/*
 * Open (or create) the log of `stream_id`, returning with an exclusive flock
 * held on log->fd (the caller registers its slot and then unlocks).
 */
static int tp_ipc_log_open_locked(
    tp_ipc_log_t *log, const char *dir, int32_t stream_id, uint64_t term_length, bool term_length_explicit)
{
    memset(log, 0, sizeof(*log));
    log->fd = -1;
    log->stream_id = stream_id;
    if (tp_ipc_log_path(log->path, sizeof(log->path), dir, stream_id) < 0)
    {
        return -1;
    }
    for (int attempt = 0; attempt < 16; attempt++)
    {
        int fd = open(log->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0)
        {
            return tp_err_set_errno(errno, "cannot open IPC log %s (does the transport directory exist and is it "
                "writable?)", log->path);
        }
        if (0 != flock(fd, LOCK_EX))
        {
            int e = errno;
            close(fd);
            return tp_err_set_errno(e, "flock IPC log %s", log->path);
        }
        struct stat st;
        if (0 != fstat(fd, &st))
        {
            int e = errno;
            close(fd);
            return tp_err_set_errno(e, "fstat IPC log %s", log->path);
        }
        if (0 == st.st_nlink)
        {
            close(fd); /* removed by a cleaner after we opened it: retry with a fresh file */
            continue;
        }
        bool create = false;
        if (0 == st.st_size)
        {
            create = true;
        }
        else if ((size_t)st.st_size < TP_IPC_HEADER_LENGTH)
        {
            close(fd);
            return tp_err_set(TP_ERR_VALIDATION, "IPC log %s is corrupt: %lld bytes is smaller than its header; "
                "remove it if no process uses it", log->path, (long long)st.st_size);
        }
        else
        {
            tp_ipc_log_header_t probe;
            ssize_t n = pread(fd, &probe, sizeof(probe), 0);
            if (n != (ssize_t)sizeof(probe))
            {
                close(fd);
                return tp_err_set(TP_ERR_IO, "cannot read the header of IPC log %s", log->path);
            }
            if (0 == probe.magic && 0 == probe.version && 0 == probe.term_length)
            {
                create = true; /* a creator died before finishing: we hold the lock, start over */
            }
            else if (tp_ipc_validate_header(&probe, log->path, st.st_size) < 0)
            {
                close(fd);
                return -1;
            }
            else if (term_length_explicit && probe.term_length != term_length)
            {
                close(fd);
                return tp_err_set(TP_ERR_CONFIG, "IPC stream %" PRId32 " already exists with term-length %" PRIu64
                    " but the channel asks for %" PRIu64 " (use the same term-length, or omit it)", stream_id,
                    probe.term_length, term_length);
            }
            else
            {
                term_length = probe.term_length;
            }
        }
        size_t total = TP_IPC_HEADER_LENGTH + (size_t)term_length;
        if (create)
        {
            /*
             * Reserve the whole log now: on a full tmpfs a sparse log maps fine and a later frame store (in any
             * process using the stream) raises SIGBUS. On failure the file is removed while we hold the lock (a
             * waiting opener sees st_nlink == 0 and starts over) and nothing is left behind.
             */
            int rc = 0 != ftruncate(fd, (off_t)total)
                ? tp_err_set_errno(errno, "cannot size IPC log %s to %zu bytes (is the file system full?)", log->path,
                      total)
                : tp_fs_reserve(fd, total, log->path);
            if (rc < 0)
            {
                unlink(log->path);
                close(fd);
                return tp_err_prepend("IPC log of stream %" PRId32 " (term-length %" PRIu64 ")", stream_id,
                    term_length);
            }
        }
        void *base = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (MAP_FAILED == base)
        {
            int e = errno;
            close(fd);
            return tp_err_set_errno(e, "cannot map IPC log %s (%zu bytes)", log->path, total);
        }
        log->fd = fd;
        log->base = base;
        log->mapped_length = total;
        log->hdr = base;
        log->data = (uint8_t *)base + TP_IPC_HEADER_LENGTH;
        log->term_length = term_length;
        log->mask = term_length - 1;
        if (create)
        {
            tp_ipc_log_header_t *h = log->hdr;
            memset(base, 0, TP_IPC_HEADER_LENGTH);
            h->version = TP_IPC_VERSION;
            h->header_length = TP_IPC_HEADER_LENGTH;
            h->term_length = term_length;
            h->max_publishers = TP_IPC_MAX_PUBLISHERS;
            h->max_subscribers = TP_IPC_MAX_SUBSCRIBERS;
            h->stream_id = stream_id;
            h->frame_alignment = TP_IPC_FRAME_ALIGNMENT;
            h->creation_time_ns = tp_clock_realtime_ns();
            atomic_store(&h->next_session_id, (int32_t)((uint32_t)getpid() * 2654435761u));
            atomic_store(&h->next_generation, 1);
            atomic_store(&h->tail, 0);
            atomic_thread_fence(memory_order_release);
            h->magic = TP_IPC_MAGIC;
            TP_LOG_DEBUG(TP_IPC_MODULE, "created IPC log %s (term-length %" PRIu64 ")", log->path, term_length);
        }
        else if (log->hdr->stream_id != stream_id)
        {
            tp_ipc_log_unmap(log);
            return tp_err_set(TP_ERR_VALIDATION, "IPC log %s is corrupt: it belongs to stream %" PRId32, log->path,
                log->hdr->stream_id);
        }
        return 0;
    }
    return tp_err_set(TP_ERR_STATE, "IPC log %s keeps being removed while opening it", log->path);
}

static void tp_ipc_log_unlock(tp_ipc_log_t *log)
{
    flock(log->fd, LOCK_UN);
}

static bool tp_ipc_pid_dead(uint32_t pid)
{
    return 0 != pid && 0 != kill((pid_t)pid, 0) && ESRCH == errno;
}

/* Reap a slot whose owner stopped heartbeating (or whose process is gone). Returns true if reaped. */
static bool tp_ipc_slot_maybe_reap(
    tp_ipc_log_header_t *h, tp_ipc_slot_t *slot, uint64_t now_ns, uint64_t liveness_timeout_ns)
{
    uint32_t state = atomic_load(&slot->state);
    if (TP_IPC_SLOT_FREE == state)
    {
        return false;
    }
    if (TP_IPC_SLOT_CLAIMING == (state & 3u))
    {
        /* Being filled by the process whose pid is in the state word: only reap it if that process died. */
        if (tp_ipc_pid_dead(state >> 2) && atomic_compare_exchange_strong(&slot->state, &state, TP_IPC_SLOT_FREE))
        {
            atomic_fetch_add(&h->slot_epoch, 1);
            return true;
        }
        return false;
    }
    uint64_t hb = atomic_load(&slot->heartbeat_ns);
    uint64_t age = now_ns > hb ? now_ns - hb : 0;
    bool dead = age > liveness_timeout_ns ||
        (age > liveness_timeout_ns / 5 && tp_ipc_pid_dead(atomic_load(&slot->pid)));
    if (!dead)
    {
        return false;
    }
    if (!atomic_compare_exchange_strong(&slot->state, &state, TP_IPC_SLOT_FREE))
    {
        return false;
    }
    atomic_fetch_add(&h->slot_epoch, 1);
    return true;
}

/* Acquire a free slot in `slots`; returns its index or -1. */
static int tp_ipc_slot_acquire(
    tp_ipc_log_t *log, tp_ipc_slot_t *slots, uint32_t count, int32_t session_id, bool tethered, uint64_t position,
    uint64_t *generation_out, uint64_t liveness_timeout_ns, uint64_t tether_timeout_ns)
{
    uint64_t now = tp_clock_mono_ns();
    for (int pass = 0; pass < 2; pass++)
    {
        for (uint32_t i = 0; i < count; i++)
        {
            tp_ipc_slot_t *slot = &slots[i];
            if (1 == pass)
            {
                tp_ipc_slot_maybe_reap(log->hdr, slot, now, liveness_timeout_ns);
            }
            uint32_t expected = TP_IPC_SLOT_FREE;
            if (TP_IPC_SLOT_FREE != atomic_load(&slot->state))
            {
                continue;
            }
            /* Fill the slot before publishing it as ACTIVE; the CAS below is the claim. */
            uint64_t generation = atomic_fetch_add(&log->hdr->next_generation, 1);
            uint32_t claiming = TP_IPC_SLOT_CLAIMING | ((uint32_t)getpid() << 2);
            if (!atomic_compare_exchange_strong(&slot->state, &expected, claiming))
            {
                continue;
            }
            atomic_store(&slot->pid, (uint32_t)getpid());
            atomic_store(&slot->session_id, session_id);
            atomic_store(&slot->tethered, tethered ? TP_IPC_TETHERED : TP_IPC_UNTETHERED);
            atomic_store(&slot->tether_timeout_ns, tether_timeout_ns);
            atomic_store(&slot->heartbeat_ns, now);
            atomic_store(&slot->position, position);
            atomic_store(&slot->generation, generation);
            atomic_store(&slot->join_time_ns, now);
            if (!atomic_compare_exchange_strong(&slot->state, &claiming, TP_IPC_SLOT_ACTIVE))
            {
                continue; /* reaped meanwhile (cannot happen while we live, but never share a slot) */
            }
            atomic_fetch_add(&log->hdr->slot_epoch, 1);
            *generation_out = generation;
            return (int)i;
        }
    }
    return -1;
}

/*
 * A slot keeps its pid after being reaped (a normal close clears it), so a
 * peer that was only declared dead for not heartbeating, but whose process is
 * alive, still keeps the file: it re-registers in it on its next duty cycle.
 */
static bool tp_ipc_slot_in_use(
    tp_ipc_log_header_t *h, tp_ipc_slot_t *slot, uint64_t now_ns, uint64_t liveness_timeout_ns)
{
    tp_ipc_slot_maybe_reap(h, slot, now_ns, liveness_timeout_ns);
    if (TP_IPC_SLOT_FREE != atomic_load(&slot->state))
    {
        return true;
    }
    uint32_t pid = atomic_load(&slot->pid);
    return 0 != pid && !tp_ipc_pid_dead(pid);
}

static bool tp_ipc_log_in_use(tp_ipc_log_t *log, uint64_t now_ns, uint64_t liveness_timeout_ns)
{
    bool used = false;
    for (uint32_t i = 0; i < TP_IPC_MAX_PUBLISHERS; i++)
    {
        used |= tp_ipc_slot_in_use(log->hdr, &log->hdr->publishers[i], now_ns, liveness_timeout_ns);
    }
    for (uint32_t i = 0; i < TP_IPC_MAX_SUBSCRIBERS; i++)
    {
        used |= tp_ipc_slot_in_use(log->hdr, &log->hdr->subscribers[i], now_ns, liveness_timeout_ns);
    }
    return used;
}

/*
 * Logs are shared by all publications and subscriptions of a transport on the
 * same stream (one mapping per process: atomics must be seen at one address).
 * Acquire returns with the file lock held; the caller registers its slot and
 * unlocks.
 */
static int tp_ipc_log_acquire(
    tp_transport_t *t, int32_t stream_id, uint64_t term_length, bool term_length_explicit, tp_ipc_log_t **out)
{
    for (tp_ipc_log_t *log = t->ipc_logs; NULL != log; log = log->next)
    {
        if (log->stale || log->stream_id != stream_id)
        {
            continue;
        }
        struct stat st;
        if (0 != flock(log->fd, LOCK_EX) || 0 != fstat(log->fd, &st))
        {
            return tp_err_set_errno(errno, "lock IPC log %s", log->path);
        }
        if (0 == st.st_nlink)
        {
            log->stale = true; /* removed while we still had it mapped: use a new file */
            flock(log->fd, LOCK_UN);
            break;
        }
        if (term_length_explicit && term_length != log->term_length)
        {
            flock(log->fd, LOCK_UN);
            return tp_err_set(TP_ERR_CONFIG, "IPC stream %" PRId32 " already exists with term-length %" PRIu64
                " but the channel asks for %" PRIu64 " (use the same term-length, or omit it)", stream_id,
                log->term_length, term_length);
        }
        log->refcount++;
        *out = log;
        return 0;
    }
    tp_ipc_log_t *log = calloc(1, sizeof(*log));
    if (NULL == log)
    {
        return tp_err_set(TP_ERR_NO_MEMORY, "IPC log: out of memory");
    }
    if (tp_ipc_log_open_locked(log, t->dir, stream_id, term_length, term_length_explicit) < 0)
    {
        free(log);
        return -1;
    }
    log->refcount = 1;
    log->next = t->ipc_logs;
    t->ipc_logs = log;
    *out = log;
    return 0;
}

/* Release our slot (if any) and our reference; remove the file when no live user remains. */
static void tp_ipc_log_put(
    tp_transport_t *t, tp_ipc_log_t *log, tp_ipc_slot_t *slot, uint64_t generation, uint64_t liveness_ns,
    bool locked)
{
    if (!locked)
    {
        flock(log->fd, LOCK_EX);
    }
    uint32_t active = TP_IPC_SLOT_ACTIVE;
    if (NULL != slot && atomic_load(&slot->generation) == generation)
    {
        atomic_store(&slot->pid, 0u); /* a closed slot never keeps the file alive */
        if (atomic_compare_exchange_strong(&slot->state, &active, TP_IPC_SLOT_FREE))
        {
            atomic_fetch_add(&log->hdr->slot_epoch, 1);
        }
    }
    if (!tp_ipc_log_in_use(log, tp_clock_mono_ns(), liveness_ns))
    {
        if (0 == unlink(log->path))
        {
            TP_LOG_DEBUG(TP_IPC_MODULE, "removed unused IPC log %s", log->path);
        }
        log->stale = true;
    }
    flock(log->fd, LOCK_UN);
    if (--log->refcount > 0)
    {
        return;
    }
    for (tp_ipc_log_t **pp = (tp_ipc_log_t **)&t->ipc_logs; NULL != *pp; pp = &(*pp)->next)
    {
        if (*pp == log)
        {
            *pp = log->next;
            break;
        }
    }
    tp_ipc_log_unmap(log);
    free(log);
}

int tp_ipc_cleanup_dir(const char *dir, uint64_t liveness_timeout_ns)
{
    DIR *d = opendir(dir);
    if (NULL == d)
    {
        return tp_err_set_errno(errno, "cannot read transport directory %s", dir);
    }
    int removed = 0;
    struct dirent *e;
    uint64_t now = tp_clock_mono_ns();
    while (NULL != (e = readdir(d)))
    {
        size_t n = strlen(e->d_name);
        if (0 != strncmp(e->d_name, "ipc-", 4) || n < 8 || 0 != strcmp(e->d_name + n - 4, ".log"))
        {
            continue;
        }
        char path[PATH_MAX];
        if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= (int)sizeof(path))
        {
            continue;
        }
        int fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd < 0)
        {
            continue;
        }
        struct stat st;
        tp_ipc_log_header_t probe;
        if (0 != flock(fd, LOCK_EX | LOCK_NB) || 0 != fstat(fd, &st) || 0 == st.st_nlink ||
            (size_t)st.st_size < TP_IPC_HEADER_LENGTH ||
            pread(fd, &probe, sizeof(probe), 0) != (ssize_t)sizeof(probe) ||
            tp_ipc_validate_header(&probe, path, st.st_size) < 0)
        {
            close(fd);
            continue;
        }
        tp_ipc_log_t log;
        memset(&log, 0, sizeof(log));
        log.fd = fd;
        log.mapped_length = TP_IPC_HEADER_LENGTH;
        log.base = mmap(NULL, TP_IPC_HEADER_LENGTH, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (MAP_FAILED == log.base)
        {
            close(fd);
            continue;
        }
        log.hdr = (tp_ipc_log_header_t *)(void *)log.base;
        if (!tp_ipc_log_in_use(&log, now, liveness_timeout_ns) && 0 == unlink(path))
        {
            TP_LOG_INFO(TP_IPC_MODULE, "removed stale IPC log %s", path);
            removed++;
        }
        tp_ipc_log_unmap(&log);
    }
    closedir(d);
    tp_err_clear();
    return removed;
}

/* ------------------------------------------------------------------------- */
/* Publication                                                                */
/* ------------------------------------------------------------------------- */

/*
 * Recompute the flow-control limit and connectedness from the subscriber
 * slots. With `reap`, dead slots are reaped first (needs `now_ns`, and may
 * call kill(pid, 0) for slots whose heartbeat is older than liveness / 5);
 * without, it is only loads.
 */
static void tp_ipc_publication_refresh(tp_ipc_publication_t *p, bool reap, uint64_t now_ns)
{
    tp_ipc_log_header_t *h = p->log->hdr;
    uint64_t epoch = atomic_load(&h->slot_epoch); /* before the scan: a change during it triggers another */
    uint64_t tail = atomic_load(&h->tail);
    uint64_t min_position = UINT64_MAX;
    int32_t min_slot = -1;
    uint32_t live = 0;
    for (uint32_t i = 0; i < TP_IPC_MAX_SUBSCRIBERS; i++)
    {
        tp_ipc_slot_t *slot = &h->subscribers[i];
        if (TP_IPC_SLOT_ACTIVE != atomic_load(&slot->state))
        {
            continue;
        }
        if (reap && tp_ipc_slot_maybe_reap(h, slot, now_ns, p->liveness_timeout_ns))
        {
            TP_LOG_INFO(TP_IPC_MODULE, "IPC stream %" PRId32 ": reaped subscriber slot %u (no heartbeat)",
                p->stream_id, i);
            continue;
        }
        live++;
        if (TP_IPC_TETHERED == atomic_load(&slot->tethered))
        {
            uint64_t pos = atomic_load_explicit(&slot->position, memory_order_acquire);
            if (pos < min_position)
            {
                min_position = pos;
                min_slot = (int32_t)i;
            }
        }
    }
    uint64_t base = min_position < tail ? min_position : tail;
    int32_t limit_slot = min_position < tail ? min_slot : -1;
    if (limit_slot != atomic_load_explicit(&p->limit_slot, memory_order_relaxed) ||
        min_position != atomic_load_explicit(&p->limit_position, memory_order_relaxed))
    {
        atomic_store_explicit(&p->blocked_since_ns, 0, memory_order_relaxed); /* it moved: flow control, not a stall */
    }
    atomic_store_explicit(&p->limit_slot, limit_slot, memory_order_relaxed);
    atomic_store_explicit(&p->limit_position, min_position, memory_order_relaxed);
    atomic_store_explicit(&p->seen_slot_epoch, epoch, memory_order_relaxed);
    atomic_store_explicit(&p->limit, base + p->log->term_length, memory_order_release);
    atomic_store_explicit(&p->connected, live > 0, memory_order_relaxed);
}

/* Whether the offer path may reap now (at most once per reap interval across threads). */
static bool tp_ipc_publication_reap_due(tp_ipc_publication_t *p, uint64_t now_ns)
{
    uint64_t next = atomic_load_explicit(&p->next_reap_ns, memory_order_relaxed);
    return now_ns >= next && atomic_compare_exchange_strong_explicit(
        &p->next_reap_ns, &next, now_ns + p->reap_interval_ns, memory_order_relaxed, memory_order_relaxed);
}

/*
 * An offer was refused by the cached state (not connected, or past the cached
 * limit). A producer may spin on offer here, so this must not cost a system
 * call or a full scan per attempt:
 *  - rescan (loads only) when slot_epoch changed (a subscriber joined, left or
 *    was reaped) or, when back-pressured, when the subscriber that held the
 *    limit back moved (or the tail did); otherwise nothing can have changed;
 *  - every TP_IPC_REFUSED_CLOCK_PERIOD refused offers, read the clock and
 *    rescan, reaping dead subscribers (kill(pid, 0)) at most once per reap
 *    interval: a dead subscriber is still reaped from the offer path, at most
 *    one interval late, even if do_work is not called.
 * do_work refreshes and reaps every liveness / 10 regardless.
 */
static void tp_ipc_publication_on_refused(tp_ipc_publication_t *p)
{
    uint32_t n = atomic_fetch_add_explicit(&p->refused, 1, memory_order_relaxed) + 1;
    if (0 == n % TP_IPC_REFUSED_CLOCK_PERIOD)
    {
        uint64_t now = tp_clock_mono_ns();
        tp_ipc_publication_refresh(p, tp_ipc_publication_reap_due(p, now), now);
        return;
    }
    if (atomic_load(&p->log->hdr->slot_epoch) != atomic_load_explicit(&p->seen_slot_epoch, memory_order_relaxed))
    {
        tp_ipc_publication_refresh(p, false, 0);
        return;
    }
    if (!atomic_load_explicit(&p->connected, memory_order_relaxed))
    {
        return; /* no subscriber slot was active at the last scan and none changed since */
    }
    int32_t idx = atomic_load_explicit(&p->limit_slot, memory_order_relaxed);
    if (idx < 0 || (idx < (int32_t)TP_IPC_MAX_SUBSCRIBERS &&
        atomic_load_explicit(&p->log->hdr->subscribers[idx].position, memory_order_relaxed) !=
        atomic_load_explicit(&p->limit_position, memory_order_relaxed)))
    {
        tp_ipc_publication_refresh(p, false, 0);
    }
}

/*
 * Tether timeout (docs/TRANSPORT.md): the offer is back-pressured by the
 * tethered subscriber in `limit_slot`, whose position has not moved since the
 * last scan. Time how long; once that subscriber has held us back for its
 * tether timeout without advancing, untether it (CAS TETHERED ->
 * UNTETHERED_TIMEOUT, then bump slot_epoch so every publisher rescans). It
 * stays registered and keeps reading, now checked for laps like an untethered
 * reader, and tethers itself again once it has caught up. Returns true when
 * the caller should retry its claim (the limit was recomputed).
 *
 * The untether is seen by a reader that copied bytes written past its old
 * protection: the CAS (seq_cst) is read by the refresh that raised the limit
 * (seq_cst load) before the writer's CAS on the tail and its release fence,
 * which pairs with the reader's acquire fence before it loads `tethered`.
 * One clock read per back-pressured offer (vDSO, no system call).
 */
static bool tp_ipc_publication_check_tether(tp_ipc_publication_t *p)
{
    int32_t idx = atomic_load_explicit(&p->limit_slot, memory_order_relaxed);
    if (idx < 0 || idx >= (int32_t)TP_IPC_MAX_SUBSCRIBERS)
    {
        return false;
    }
    tp_ipc_slot_t *slot = &p->log->hdr->subscribers[idx];
    uint64_t timeout = atomic_load_explicit(&slot->tether_timeout_ns, memory_order_relaxed);
    if (0 == timeout)
    {
        return false;
    }
    uint64_t now = tp_clock_mono_ns();
    uint64_t since = atomic_load_explicit(&p->blocked_since_ns, memory_order_relaxed);
    if (0 == since)
    {
        atomic_compare_exchange_strong_explicit(
            &p->blocked_since_ns, &since, now, memory_order_relaxed, memory_order_relaxed);
        return false;
    }
    /* another thread offering on this publication may have stored a `since` read after our `now` */
    if (now <= since || now - since < timeout)
    {
        return false;
    }
    uint64_t position = atomic_load(&slot->position);
    uint32_t expected = TP_IPC_TETHERED;
    if (position == atomic_load_explicit(&p->limit_position, memory_order_relaxed) &&
        TP_IPC_SLOT_ACTIVE == atomic_load(&slot->state) &&
        atomic_compare_exchange_strong(&slot->tethered, &expected, TP_IPC_UNTETHERED_TIMEOUT))
    {
        atomic_fetch_add(&p->log->hdr->slot_epoch, 1);
        TP_LOG_WARN(TP_IPC_MODULE, "IPC stream %" PRId32 ": subscriber slot %d (pid %u) held publishers back for %"
            PRIu64 " ms without reading (stopped or stuck?): untethered; it may be lapped and will count the loss",
            p->stream_id, (int)idx, atomic_load(&slot->pid), (now - since) / 1000000);
    }
    atomic_store_explicit(&p->blocked_since_ns, 0, memory_order_relaxed);
    tp_ipc_publication_refresh(p, false, 0);
    return true;
}

/*
 * Start a frame claimed by the CAS on the tail: tag it, then a store-store
 * barrier. The caller's later plain stores (body, header fields) overwrite
 * bytes that a lagging reader may be copying. The reader's torn-copy check
 * (copy, acquire fence, then "tail - position > term_length" or its slot
 * still registered) relies on: it saw a byte of this frame => it sees the
 * new tail (and the slot state this writer saw when it checked the limit).
 * Release stores and acq_rel RMWs only order the accesses *before* them, so
 * without this fence the body stores could become visible before the CAS on
 * the tail (allowed by C11 and ARMv8/POWER; x86 TSO never does it). The
 * release fence orders the CAS and the tag before every later store, and
 * pairs with the reader's acquire fence (the seqlock argument, as in
 * tp_shm_slot_write_begin). On x86 it compiles to nothing.
 */
static void tp_ipc_frame_begin(tp_ipc_frame_header_t *f, uint64_t position, int32_t session_id, uint64_t length)
{
    atomic_store_explicit(&f->frame_length, 0, memory_order_relaxed);
    atomic_store_explicit(&f->claimed_length, (int32_t)length, memory_order_relaxed);
    atomic_store_explicit(&f->session_id, session_id, memory_order_relaxed);
    atomic_store_explicit(&f->position, (int64_t)position, memory_order_release);
    atomic_thread_fence(memory_order_release);
}

/*
 * Claim room for a frame of `payload_length`; returns the new tail (> 0) or a
 * TP_PUBLICATION_* code, with *frame_position set. A padding frame is written
 * first when the frame would straddle the end of the ring.
 */
static int64_t tp_ipc_claim(tp_ipc_publication_t *p, size_t payload_length, uint64_t *frame_position)
{
    tp_ipc_log_t *log = p->log;
    uint64_t frame_length = tp_ipc_align(payload_length + TP_IPC_FRAME_HEADER_LENGTH);
    uint64_t pos = atomic_load_explicit(&log->hdr->tail, memory_order_relaxed);
    uint64_t pad;
    uint64_t new_tail;
    for (;;)
    {
        uint64_t offset = pos & log->mask;
        pad = offset + frame_length > log->term_length ? log->term_length - offset : 0;
        new_tail = pos + pad + frame_length;
        if (!atomic_load_explicit(&p->connected, memory_order_relaxed) ||
            new_tail > atomic_load_explicit(&p->limit, memory_order_acquire))
        {
            tp_ipc_publication_on_refused(p);
            if (!atomic_load_explicit(&p->connected, memory_order_relaxed))
            {
                return TP_PUBLICATION_NOT_CONNECTED;
            }
            if (new_tail > atomic_load_explicit(&p->limit, memory_order_acquire))
            {
                if (!tp_ipc_publication_check_tether(p) ||
                    new_tail > atomic_load_explicit(&p->limit, memory_order_acquire))
                {
                    return TP_PUBLICATION_BACK_PRESSURED;
                }
            }
        }
        if (new_tail > (uint64_t)INT64_MAX)
        {
            return TP_PUBLICATION_MAX_POSITION_EXCEEDED;
        }
        if (atomic_compare_exchange_weak_explicit(
            &log->hdr->tail, &pos, new_tail, memory_order_acq_rel, memory_order_relaxed))
        {
            break;
        }
    }
    if (0 != pad)
    {
        tp_ipc_frame_header_t *f = tp_ipc_frame_at(log, pos);
        tp_ipc_frame_begin(f, pos, p->session_id, pad);
        f->version = 1;
        f->flags = TP_FRAGMENT_FLAG_UNFRAGMENTED;
        f->type = TP_IPC_FRAME_TYPE_PAD;
        f->reserved_value = 0;
        atomic_store_explicit(&f->frame_length, (int32_t)pad, memory_order_release);
    }
    *frame_position = pos + pad;
    tp_ipc_frame_begin(tp_ipc_frame_at(log, *frame_position), *frame_position, p->session_id, frame_length);
    return (int64_t)new_tail;
}

static int64_t tp_ipc_offerv(void *impl, const struct iovec *iov, size_t iovcnt, size_t length,
    tp_reserved_value_supplier_t supplier, void *clientd)
{
    tp_ipc_publication_t *p = impl;
    uint64_t frame_position;
    int64_t rc = tp_ipc_claim(p, length, &frame_position);
    if (rc < 0)
    {
        return rc;
    }
    tp_ipc_frame_header_t *f = tp_ipc_frame_at(p->log, frame_position);
    uint8_t *dst = (uint8_t *)f + TP_IPC_FRAME_HEADER_LENGTH;
    size_t off = 0;
    for (size_t i = 0; i < iovcnt; i++)
    {
        if (iov[i].iov_len > 0)
        {
            memcpy(dst + off, iov[i].iov_base, iov[i].iov_len);
            off += iov[i].iov_len;
        }
    }
    f->version = 1;
    f->flags = TP_FRAGMENT_FLAG_UNFRAGMENTED;
    f->type = TP_IPC_FRAME_TYPE_DATA;
    f->reserved_value = NULL != supplier ? supplier(clientd, dst, length) : 0;
    atomic_store_explicit(&f->frame_length, (int32_t)(length + TP_IPC_FRAME_HEADER_LENGTH), memory_order_release);
    return rc;
}

static const tp_publication_ops_t tp_ipc_publication_ops;

static int64_t tp_ipc_try_claim(void *impl, size_t length, tp_buffer_claim_t *claim)
{
    tp_ipc_publication_t *p = impl;
    uint64_t frame_position;
    int64_t rc = tp_ipc_claim(p, length, &frame_position);
    if (rc < 0)
    {
        return rc;
    }
    tp_ipc_frame_header_t *f = tp_ipc_frame_at(p->log, frame_position);
    f->version = 1;
    f->flags = TP_FRAGMENT_FLAG_UNFRAGMENTED;
    f->reserved_value = 0;
    claim->frame = f;
    claim->data = (uint8_t *)f + TP_IPC_FRAME_HEADER_LENGTH;
    claim->length = length;
    claim->impl = p;
    claim->ops = &tp_ipc_publication_ops;
    return rc;
}

static int tp_ipc_claim_finish(tp_buffer_claim_t *claim, uint16_t type)
{
    tp_ipc_frame_header_t *f = claim->frame;
    if (NULL == f)
    {
        return tp_err_set(TP_ERR_STATE, "buffer claim already committed or aborted");
    }
    f->type = type;
    int32_t length = TP_IPC_FRAME_TYPE_DATA == type ? (int32_t)(claim->length + TP_IPC_FRAME_HEADER_LENGTH) :
        atomic_load_explicit(&f->claimed_length, memory_order_relaxed);
    atomic_store_explicit(&f->frame_length, length, memory_order_release);
    claim->frame = NULL;
    claim->data = NULL;
    claim->ops = NULL;
    return 0;
}

static int tp_ipc_commit(tp_buffer_claim_t *claim)
{
    return tp_ipc_claim_finish(claim, TP_IPC_FRAME_TYPE_DATA);
}

static int tp_ipc_abort(tp_buffer_claim_t *claim)
{
    return tp_ipc_claim_finish(claim, TP_IPC_FRAME_TYPE_PAD);
}

/*
 * Connectedness changes only when a subscriber slot is taken, released or
 * reaped, and each of those bumps slot_epoch: rescan (loads only) when it
 * moved since the last scan, otherwise the cached answer is exact. A caller
 * polling this every duty cycle (the producer's conductor) therefore pays two
 * loads, not a 64-slot scan and a clock read. Dead subscribers are still
 * reaped from here, at most once per reap interval, on one call in
 * TP_IPC_CONNECTED_CLOCK_PERIOD (and by do_work every liveness / 10).
 */
static bool tp_ipc_pub_is_connected(void *impl)
{
    tp_ipc_publication_t *p = impl;
    uint32_t n = atomic_load_explicit(&p->connected_checks, memory_order_relaxed) + 1;
    atomic_store_explicit(&p->connected_checks, n, memory_order_relaxed); /* a lost increment is harmless */
    if (1 == n || 0 == n % TP_IPC_CONNECTED_CLOCK_PERIOD)
    {
        uint64_t now = tp_clock_mono_ns();
        if (tp_ipc_publication_reap_due(p, now))
        {
            tp_ipc_publication_refresh(p, true, now);
            return atomic_load_explicit(&p->connected, memory_order_relaxed);
        }
    }
    if (atomic_load(&p->log->hdr->slot_epoch) != atomic_load_explicit(&p->seen_slot_epoch, memory_order_relaxed))
    {
        tp_ipc_publication_refresh(p, false, 0);
    }
    return atomic_load_explicit(&p->connected, memory_order_relaxed);
}

static int64_t tp_ipc_pub_channel_status(void *impl)
{
    (void)impl;
    return TP_CHANNEL_STATUS_ACTIVE;
}

static int64_t tp_ipc_pub_position(void *impl)
{
    tp_ipc_publication_t *p = impl;
    return (int64_t)atomic_load_explicit(&p->log->hdr->tail, memory_order_acquire);
}

static int tp_ipc_pub_do_work(void *impl, uint64_t now_ns)
{
    tp_ipc_publication_t *p = impl;
    if (now_ns - p->last_heartbeat_ns < p->liveness_timeout_ns / 10)
    {
        return 0;
    }
    p->last_heartbeat_ns = now_ns;
    if (TP_IPC_SLOT_ACTIVE != atomic_load(&p->slot->state) || atomic_load(&p->slot->generation) != p->generation)
    {
        /* We were declared dead (no do_work for too long): register again. */
        TP_LOG_WARN(TP_IPC_MODULE, "IPC publication on stream %" PRId32 " lost its slot (do_work not called "
            "within the liveness timeout?); re-registering", p->stream_id);
        int idx = tp_ipc_slot_acquire(p->log, p->log->hdr->publishers, TP_IPC_MAX_PUBLISHERS, p->session_id, false,
            0, &p->generation, p->liveness_timeout_ns, 0);
        if (idx < 0)
        {
            return 0;
        }
        p->slot = &p->log->hdr->publishers[idx];
    }
    atomic_store(&p->slot->heartbeat_ns, now_ns);
    tp_ipc_publication_refresh(p, true, now_ns);
    return 1;
}

static int tp_ipc_pub_close(void *impl)
{
    tp_ipc_publication_t *p = impl;
    tp_ipc_log_put(p->transport, p->log, p->slot, p->generation, p->liveness_timeout_ns, false);
    free(p);
    return 0;
}

static const tp_publication_ops_t tp_ipc_publication_ops = {
    .offerv = tp_ipc_offerv,
    .try_claim = tp_ipc_try_claim,
    .commit = tp_ipc_commit,
    .abort = tp_ipc_abort,
    .is_connected = tp_ipc_pub_is_connected,
    .channel_status = tp_ipc_pub_channel_status,
    .position = tp_ipc_pub_position,
    .do_work = tp_ipc_pub_do_work,
    .close = tp_ipc_pub_close,
};

static int tp_ipc_parse_params(const tp_uri_t *uri, uint64_t *term_length, bool *explicit_term, uint64_t *mtu,
    bool *tethered)
{
    *explicit_term = NULL != tp_uri_get(uri, "term-length");
    if (tp_uri_get_size(uri, "term-length", TP_IPC_DEFAULT_TERM_LENGTH, TP_IPC_MIN_TERM_LENGTH,
        TP_IPC_MAX_TERM_LENGTH, true, term_length) < 0)
    {
        return -1;
    }
    if (tp_uri_get_size(uri, "mtu", TP_IPC_DEFAULT_MTU, 64, 65504, false, mtu) < 0)
    {
        return -1;
    }
    if (0 != *mtu % TP_IPC_FRAME_ALIGNMENT)
    {
        return tp_err_set(TP_ERR_MALFORMED, "channel parameter mtu=%" PRIu64 " must be a multiple of 32", *mtu);
    }
    return tp_uri_get_bool(uri, "tether", true, tethered);
}

/*
 * Publication and subscription alike: the channel's parameters (term length,
 * mtu, tether) and the stream's log, acquired with its file lock held (the
 * caller registers its slot and unlocks). Returns 0 or -1.
 */
static int tp_ipc_open_log(tp_transport_t *t, const tp_uri_t *uri, int32_t stream_id, tp_ipc_log_t **log,
    uint64_t *mtu, bool *tethered)
{
    uint64_t term_length;
    bool explicit_term;
    if (tp_ipc_parse_params(uri, &term_length, &explicit_term, mtu, tethered) < 0)
    {
        return -1;
    }
    return tp_ipc_log_acquire(t, stream_id, term_length, explicit_term, log);
}

int tp_ipc_publication_open(tp_transport_t *t, const tp_uri_t *uri, int32_t stream_id, tp_publication_t *pub)
{
    uint64_t mtu;
    bool tethered;
    tp_ipc_publication_t *p = calloc(1, sizeof(*p));
    if (NULL == p)
    {
        return tp_err_set(TP_ERR_NO_MEMORY, "IPC publication: out of memory");
    }
    p->transport = t;
    p->stream_id = stream_id;
    p->liveness_timeout_ns = t->ctx.liveness_timeout_ns;
    if (tp_ipc_open_log(t, uri, stream_id, &p->log, &mtu, &tethered) < 0)
    {
        free(p);
        return -1;
    }
    p->session_id = atomic_fetch_add(&p->log->hdr->next_session_id, 1);
    int idx = tp_ipc_slot_acquire(p->log, p->log->hdr->publishers, TP_IPC_MAX_PUBLISHERS, p->session_id, false, 0,
        &p->generation, p->liveness_timeout_ns, 0);
    if (idx < 0)
    {
        tp_ipc_log_put(t, p->log, NULL, 0, p->liveness_timeout_ns, true);
        free(p);
        return tp_err_set(TP_ERR_STATE, "IPC stream %" PRId32 " already has %u live publishers (the maximum)",
            stream_id, TP_IPC_MAX_PUBLISHERS);
    }
    tp_ipc_log_unlock(p->log);
    p->slot = &p->log->hdr->publishers[idx];
    p->last_heartbeat_ns = tp_clock_mono_ns();
    p->reap_interval_ns = p->liveness_timeout_ns / 50;
    atomic_store(&p->next_reap_ns, p->last_heartbeat_ns + p->reap_interval_ns);
    tp_ipc_publication_refresh(p, true, p->last_heartbeat_ns);
    pub->ops = &tp_ipc_publication_ops;
    pub->impl = p;
    pub->session_id = p->session_id;
    pub->max_payload_length = (size_t)mtu - TP_IPC_FRAME_HEADER_LENGTH;
    pub->max_message_length = (size_t)(p->log->term_length / 4);
    return 0;
}

/* ------------------------------------------------------------------------- */
/* Subscription                                                               */
/* ------------------------------------------------------------------------- */

static inline bool tp_ipc_sub_protected(tp_ipc_subscription_t *s, uint64_t position)
{
    /*
     * While our slot stays registered and tethered, no writer can claim past our position + term length (for
     * frames from protected_from on: see tp_ipc_sub_check_untethered).
     */
    return s->tethered && position >= s->protected_from && TP_IPC_SLOT_ACTIVE == atomic_load(&s->slot->state) &&
        atomic_load(&s->slot->generation) == s->generation && TP_IPC_TETHERED == atomic_load(&s->slot->tethered);
}

static void tp_ipc_sub_lapped(tp_ipc_subscription_t *s, uint64_t *position, uint64_t tail)
{
    TP_LOG_DEBUG(TP_IPC_MODULE, "IPC stream %" PRId32 ": subscriber lapped at %" PRIu64 ", skipping to %" PRIu64,
        s->stream_id, *position, tail);
    atomic_fetch_add_explicit(&s->stat_laps, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->stat_lost_messages, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->stat_lost_bytes, tail - *position, memory_order_relaxed);
    *position = tail;
    s->hole_position = UINT64_MAX;
}

/*
 * A publisher untethered our slot (tether timeout: we held it back without
 * reading). Count it once, read on unprotected (laps are detected and
 * counted), and tether again once caught up with the tail: store TETHERED,
 * then re-read the tail T (both seq_cst). A publisher whose scan missed the
 * re-tether read the tail before it (scan: tail, then slot loads), so its
 * limit is at most T + term length: frames from T on are protected at once,
 * older ones (only if written in between) are still lap-checked
 * (protected_from). Called at the end of a poll.
 */
static void tp_ipc_sub_check_untethered(tp_ipc_subscription_t *s, uint64_t *position)
{
    if (!s->tethered || TP_IPC_UNTETHERED_TIMEOUT != atomic_load_explicit(&s->slot->tethered, memory_order_relaxed) ||
        atomic_load(&s->slot->generation) != s->generation)
    {
        return;
    }
    if (!s->untethered_seen)
    {
        s->untethered_seen = true;
        atomic_fetch_add_explicit(&s->stat_untethered, 1, memory_order_relaxed);
        TP_LOG_WARN(TP_IPC_MODULE, "IPC subscription on stream %" PRId32 " was untethered: it held publishers back "
            "for its tether timeout (%" PRIu64 " ms) without reading; messages it was lapped by are counted as lost",
            s->stream_id, s->tether_timeout_ns / 1000000);
    }
    uint64_t tail = atomic_load(&s->log->hdr->tail);
    if (tail - *position > s->log->term_length && tail > *position)
    {
        tp_ipc_sub_lapped(s, position, tail);
    }
    if (tail != *position)
    {
        return; /* not caught up yet */
    }
    atomic_store(&s->slot->position, *position);
    uint32_t expected = TP_IPC_UNTETHERED_TIMEOUT;
    if (atomic_compare_exchange_strong(&s->slot->tethered, &expected, TP_IPC_TETHERED))
    {
        s->protected_from = atomic_load(&s->log->hdr->tail);
        s->untethered_seen = false;
        atomic_fetch_add(&s->log->hdr->slot_epoch, 1);
        TP_LOG_INFO(TP_IPC_MODULE, "IPC subscription on stream %" PRId32 " caught up: tethered again", s->stream_id);
    }
}

/*
 * The frame at `position` is not committed although writers claimed past it.
 * After the unblock timeout (a writer died mid-message), skip it. Returns true
 * if the position moved.
 */
static bool tp_ipc_sub_check_hole(tp_ipc_subscription_t *s, uint64_t *position, uint64_t tail)
{
    if (s->hole_position != *position)
    {
        /* First sight: usually a live writer mid-copy, so do not even read the clock yet. */
        s->hole_position = *position;
        s->hole_since_ns = 0;
        return false;
    }
    uint64_t now = tp_clock_mono_ns();
    if (0 == s->hole_since_ns)
    {
        s->hole_since_ns = now;
        return false;
    }
    if (now - s->hole_since_ns < s->unblock_timeout_ns)
    {
        return false;
    }
    tp_ipc_log_t *log = s->log;
    uint64_t p = *position;
    tp_ipc_frame_header_t *f = tp_ipc_frame_at(log, p);
    uint64_t next = 0;
    if ((int64_t)p == atomic_load_explicit(&f->position, memory_order_acquire))
    {
        int32_t claimed = atomic_load_explicit(&f->claimed_length, memory_order_relaxed);
        uint64_t offset = p & log->mask;
        if (claimed >= (int32_t)TP_IPC_FRAME_HEADER_LENGTH && 0 == claimed % TP_IPC_FRAME_ALIGNMENT &&
            (uint64_t)claimed <= log->term_length - offset)
        {
            next = p + (uint64_t)claimed;
        }
    }
    if (0 == next)
    {
        /* The writer died before tagging its frame: find the next tagged frame. */
        next = p + TP_IPC_FRAME_ALIGNMENT;
        while (next < tail &&
            (int64_t)next != atomic_load_explicit(&tp_ipc_frame_at(log, next)->position, memory_order_acquire))
        {
            next += TP_IPC_FRAME_ALIGNMENT;
        }
    }
    TP_LOG_WARN(TP_IPC_MODULE, "IPC stream %" PRId32 ": frame at %" PRIu64 " not committed after %" PRIu64
        " ms (writer died?): skipping %" PRIu64 " bytes", s->stream_id, p, s->unblock_timeout_ns / 1000000,
        next - p);
    atomic_fetch_add_explicit(&s->stat_holes, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->stat_lost_messages, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->stat_lost_bytes, next - p, memory_order_relaxed);
    *position = next;
    s->hole_position = UINT64_MAX;
    return true;
}

/*
 * One poll; `in_place` (a compile-time constant in each caller) hands the
 * handler a pointer into the log instead of s->copy_buf while the message is
 * protected (tp_subscription_poll_in_place).
 */
static inline __attribute__((always_inline)) int tp_ipc_sub_poll_impl(
    tp_ipc_subscription_t *s, tp_fragment_handler_t handler, void *clientd, size_t fragment_limit, bool in_place)
{
    tp_ipc_log_t *log = s->log;
    tp_ipc_log_header_t *h = log->hdr;
    uint64_t position = s->position;
    uint64_t term_length = log->term_length;
    size_t delivered = 0;
    uint64_t bytes = 0;
    if (0 == (++s->poll_count & 1023u))
    {
        atomic_store_explicit(&s->slot->heartbeat_ns, tp_clock_mono_ns(), memory_order_relaxed);
    }
    while (delivered < fragment_limit)
    {
        uint64_t offset = position & log->mask;
        tp_ipc_frame_header_t *f = (tp_ipc_frame_header_t *)(void *)(log->data + offset);
        /*
         * A frame of a FrameDescriptor's size (32 + 48 bytes) always spans two cache lines: ask for the second
         * with the tag's, so that when a writer commits both lines cross cores together instead of one after
         * the other (the copy or the handler would otherwise miss on it only after the checks below). A
         * prefetch never faults; past the end of the term it is only wasted.
         */
        __builtin_prefetch((const uint8_t *)f + 64);
        int64_t tag = atomic_load_explicit(&f->position, memory_order_acquire);
        int32_t frame_length = 0;
        if (tag == (int64_t)position)
        {
            frame_length = atomic_load_explicit(&f->frame_length, memory_order_acquire);
        }
        if (0 == frame_length)
        {
            /*
             * Nothing (yet) at our position. Looking at the tail (lap and dead
             * writer detection) would pull the publishers' hot cache line on
             * every idle poll, so do it on 1 idle poll in 64 only, or at once
             * when the tag already shows a newer lap.
             */
            if (0 != (++s->idle_polls & 63u) && tag <= (int64_t)position)
            {
                break;
            }
            uint64_t tail = atomic_load_explicit(&h->tail, memory_order_acquire);
            if (tail - position > term_length && tail > position)
            {
                tp_ipc_sub_lapped(s, &position, tail);
                continue;
            }
            if (tail > position && tp_ipc_sub_check_hole(s, &position, tail))
            {
                continue;
            }
            break;
        }
        TP_STAGE_MARK(TP_STAGE_C_SEEN);
        uint64_t aligned = tp_ipc_align((uint64_t)(uint32_t)frame_length);
        if (frame_length < (int32_t)TP_IPC_FRAME_HEADER_LENGTH || aligned > term_length - offset)
        {
            /* Untrusted shared memory: never follow a bad length; resume at the tail (a frame boundary). */
            uint64_t tail = atomic_load_explicit(&h->tail, memory_order_acquire);
            if (tail <= position)
            {
                break; /* nothing claimed here yet: wait for a writer to overwrite the garbage */
            }
            TP_LOG_WARN(TP_IPC_MODULE, "IPC stream %" PRId32 ": malformed frame length %" PRId32 " at %" PRIu64
                ", skipping to %" PRIu64, s->stream_id, frame_length, position, tail);
            atomic_fetch_add_explicit(&s->stat_dropped, 1, memory_order_relaxed);
            tp_ipc_sub_lapped(s, &position, tail);
            continue;
        }
        if (TP_IPC_FRAME_TYPE_DATA != f->type)
        {
            position += aligned;
            continue;
        }
        size_t length = (size_t)frame_length - TP_IPC_FRAME_HEADER_LENGTH;
        if (length > s->copy_cap)
        {
            atomic_fetch_add_explicit(&s->stat_dropped, 1, memory_order_relaxed);
            position += aligned;
            continue;
        }
        const uint8_t *message = (const uint8_t *)f + TP_IPC_FRAME_HEADER_LENGTH;
        bool in_log = in_place && tp_ipc_sub_protected(s, position);
        if (!in_log)
        {
            memcpy(s->copy_buf, message, length);
            message = s->copy_buf;
        }
        tp_header_t header = {
            .session_id = atomic_load_explicit(&f->session_id, memory_order_relaxed),
            .stream_id = s->stream_id,
            .position = (int64_t)(position + aligned),
            .reserved_value = f->reserved_value,
            .flags = f->flags,
        };
        atomic_thread_fence(memory_order_acquire);
        if (!in_log && !tp_ipc_sub_protected(s, position))
        {
            uint64_t tail = atomic_load_explicit(&h->tail, memory_order_acquire);
            if (tail - position > term_length)
            {
                tp_ipc_sub_lapped(s, &position, tail); /* the copy may be torn: drop it */
                continue;
            }
        }
        position += aligned;
        delivered++;
        bytes += length;
        TP_STAGE_MARK(TP_STAGE_C_DELIVERED);
        handler(clientd, message, length, &header);
    }
    if (delivered > 0)
    {
        /* single writer: plain load + store, no locked instruction on the hot path */
        atomic_store_explicit(&s->stat_messages,
            atomic_load_explicit(&s->stat_messages, memory_order_relaxed) + delivered, memory_order_relaxed);
        atomic_store_explicit(&s->stat_bytes,
            atomic_load_explicit(&s->stat_bytes, memory_order_relaxed) + bytes, memory_order_relaxed);
    }
    tp_ipc_sub_check_untethered(s, &position);
    if (position != s->position)
    {
        s->position = position;
        atomic_store_explicit(&s->slot->position, position, memory_order_release);
    }
    return (int)delivered;
}

static int tp_ipc_sub_poll(void *impl, tp_fragment_handler_t handler, void *clientd, size_t fragment_limit)
{
    return tp_ipc_sub_poll_impl(impl, handler, clientd, fragment_limit, false);
}

static int tp_ipc_sub_poll_in_place(void *impl, tp_fragment_handler_t handler, void *clientd, size_t fragment_limit)
{
    return tp_ipc_sub_poll_impl(impl, handler, clientd, fragment_limit, true);
}

static int tp_ipc_sub_image_count(void *impl)
{
    tp_ipc_subscription_t *s = impl;
    return atomic_load(&s->image_count);
}

static int64_t tp_ipc_sub_channel_status(void *impl)
{
    (void)impl;
    return TP_CHANNEL_STATUS_ACTIVE;
}

static int tp_ipc_sub_stats(void *impl, tp_subscription_stats_t *stats)
{
    tp_ipc_subscription_t *s = impl;
    stats->messages = atomic_load(&s->stat_messages);
    stats->bytes = atomic_load(&s->stat_bytes);
    stats->lost_messages = atomic_load(&s->stat_lost_messages);
    stats->lost_bytes = atomic_load(&s->stat_lost_bytes);
    stats->laps = atomic_load(&s->stat_laps);
    stats->holes = atomic_load(&s->stat_holes);
    stats->dropped = atomic_load(&s->stat_dropped);
    stats->untethered = atomic_load(&s->stat_untethered);
    return 0;
}

/*
 * Join time reported for an image: when the publisher became visible to this
 * subscription, never later than a message it can deliver. The scan that
 * notices a new publisher slot runs up to a duty cycle after the publisher
 * registered, and a publisher may offer at once, so "now" would be later than
 * the send time of its first messages (and the wire spec's join-time rule
 * would reject its first announce). Instead:
 *
 *   join = min(now, max(subscription join time, publisher slot join time))
 *
 * The slot join time (CLOCK_MONOTONIC, written before the slot becomes
 * ACTIVE) precedes every message of that registration. The subscription join
 * time is read just before its join position: the subscription only reads
 * from that position on, so nothing sent before it can be delivered (no
 * replay). min(now, ...) bounds a bogus slot value from shared memory.
 */
static uint64_t tp_ipc_image_join_time(tp_ipc_subscription_t *s, tp_ipc_slot_t *slot, uint64_t now_ns)
{
    uint64_t slot_join = atomic_load(&slot->join_time_ns);
    uint64_t join = slot_join > s->join_time_ns ? slot_join : s->join_time_ns;
    return join < now_ns ? join : now_ns;
}

static int tp_ipc_sub_scan_images(tp_ipc_subscription_t *s, uint64_t now_ns)
{
    int work = 0;
    int count = 0;
    tp_ipc_log_header_t *h = s->log->hdr;
    for (uint32_t i = 0; i < TP_IPC_MAX_PUBLISHERS; i++)
    {
        tp_ipc_slot_t *slot = &h->publishers[i];
        tp_ipc_known_image_t *known = &s->images[i];
        tp_ipc_slot_maybe_reap(h, slot, now_ns, s->liveness_timeout_ns);
        bool active = TP_IPC_SLOT_ACTIVE == atomic_load(&slot->state);
        uint64_t generation = atomic_load(&slot->generation);
        if (known->known && (!active || generation != known->generation))
        {
            known->known = false;
            tp_subscription_notify_unavailable(s->owner, &known->image);
            work++;
        }
        if (active && !known->known)
        {
            known->known = true;
            known->generation = generation;
            memset(&known->image, 0, sizeof(known->image));
            known->image.session_id = atomic_load(&slot->session_id);
            known->image.stream_id = s->stream_id;
            known->image.join_time_ns = tp_ipc_image_join_time(s, slot, now_ns);
            known->image.join_position = (int64_t)s->join_position;
            known->image.subscription = s->owner;
            snprintf(known->image.source_identity, sizeof(known->image.source_identity), "pid:%u",
                atomic_load(&slot->pid));
            tp_subscription_notify_available(s->owner, &known->image);
            work++;
        }
        count += known->known ? 1 : 0;
    }
    atomic_store(&s->image_count, count);
    return work;
}

static int tp_ipc_sub_do_work(void *impl, uint64_t now_ns)
{
    tp_ipc_subscription_t *s = impl;
    int work = 0;
    if (now_ns - s->last_heartbeat_ns >= s->liveness_timeout_ns / 10)
    {
        s->last_heartbeat_ns = now_ns;
        if (TP_IPC_SLOT_ACTIVE != atomic_load(&s->slot->state) || atomic_load(&s->slot->generation) != s->generation)
        {
            TP_LOG_WARN(TP_IPC_MODULE, "IPC subscription on stream %" PRId32 " lost its slot (not polled within the "
                "liveness timeout?); re-registering at the tail", s->stream_id);
            uint64_t tail = atomic_load(&s->log->hdr->tail);
            int idx = tp_ipc_slot_acquire(s->log, s->log->hdr->subscribers, TP_IPC_MAX_SUBSCRIBERS, 0, s->tethered,
                tail, &s->generation, s->liveness_timeout_ns, s->tether_timeout_ns);
            if (idx >= 0)
            {
                s->slot = &s->log->hdr->subscribers[idx];
                s->join_time_ns = tp_clock_mono_ns(); /* earlier messages are skipped: images found later join now */
                tail = atomic_load(&s->log->hdr->tail);
                atomic_store(&s->slot->position, tail);
                if (tail > s->position)
                {
                    atomic_fetch_add(&s->stat_lost_bytes, tail - s->position);
                    atomic_fetch_add(&s->stat_lost_messages, 1);
                }
                s->position = tail;
                s->protected_from = tail;
                s->untethered_seen = false;
            }
        }
        atomic_store(&s->slot->heartbeat_ns, now_ns);
        work++;
    }
    /* Scan the publisher slots when a slot changed, and every liveness / 10 to reap silent publishers. */
    uint64_t epoch = atomic_load(&s->log->hdr->slot_epoch);
    if (epoch == s->seen_slot_epoch && now_ns - s->last_image_scan_ns < s->liveness_timeout_ns / 10)
    {
        return work;
    }
    s->seen_slot_epoch = epoch;
    s->last_image_scan_ns = now_ns;
    return work + tp_ipc_sub_scan_images(s, now_ns);
}

static int tp_ipc_sub_close(void *impl)
{
    tp_ipc_subscription_t *s = impl;
    tp_ipc_log_put(s->transport, s->log, s->slot, s->generation, s->liveness_timeout_ns, false);
    free(s->copy_buf);
    free(s);
    return 0;
}

static const tp_subscription_ops_t tp_ipc_subscription_ops = {
    .poll = tp_ipc_sub_poll,
    .poll_in_place = tp_ipc_sub_poll_in_place,
    .image_count = tp_ipc_sub_image_count,
    .channel_status = tp_ipc_sub_channel_status,
    .stats = tp_ipc_sub_stats,
    .do_work = tp_ipc_sub_do_work,
    .close = tp_ipc_sub_close,
};

int tp_ipc_subscription_open(tp_transport_t *t, const tp_uri_t *uri, int32_t stream_id, tp_subscription_t *sub)
{
    uint64_t mtu;
    bool tethered;
    tp_ipc_subscription_t *s = calloc(1, sizeof(*s));
    if (NULL == s)
    {
        return tp_err_set(TP_ERR_NO_MEMORY, "IPC subscription: out of memory");
    }
    s->transport = t;
    s->owner = sub;
    s->stream_id = stream_id;
    if (tp_uri_get_duration(uri, "untethered-window-limit-timeout", t->ctx.tether_timeout_ns, UINT64_MAX / 2,
        &s->tether_timeout_ns) < 0)
    {
        free(s);
        return -1;
    }
    s->liveness_timeout_ns = t->ctx.liveness_timeout_ns;
    s->unblock_timeout_ns = t->ctx.unblock_timeout_ns;
    s->hole_position = UINT64_MAX;
    if (tp_ipc_open_log(t, uri, stream_id, &s->log, &mtu, &tethered) < 0)
    {
        free(s);
        return -1;
    }
    s->tethered = tethered;
    s->copy_cap = (size_t)(s->log->term_length / 4);
    s->copy_buf = malloc(s->copy_cap);
    uint64_t tail = atomic_load(&s->log->hdr->tail);
    int idx = NULL == s->copy_buf ? -1 : tp_ipc_slot_acquire(s->log, s->log->hdr->subscribers,
        TP_IPC_MAX_SUBSCRIBERS, 0, tethered, tail, &s->generation, s->liveness_timeout_ns, s->tether_timeout_ns);
    if (idx < 0)
    {
        tp_ipc_log_put(t, s->log, NULL, 0, s->liveness_timeout_ns, true);
        free(s->copy_buf);
        free(s);
        return tp_err_set(TP_ERR_STATE, "IPC stream %" PRId32 ": no free subscriber slot (max %u) or out of memory",
            stream_id, TP_IPC_MAX_SUBSCRIBERS);
    }
    tp_ipc_log_unlock(s->log);
    s->slot = &s->log->hdr->subscribers[idx];
    /*
     * Re-read the tail now that the slot is visible: a publisher that computed
     * its limit before seeing the slot used a tail no greater than this one.
     */
    s->join_time_ns = tp_clock_mono_ns();
    tail = atomic_load(&s->log->hdr->tail);
    atomic_store(&s->slot->position, tail);
    s->position = tail;
    s->protected_from = tail;
    s->join_position = tail;
    s->last_heartbeat_ns = tp_clock_mono_ns();
    sub->ops = &tp_ipc_subscription_ops;
    sub->impl = s;
    return 0;
}
