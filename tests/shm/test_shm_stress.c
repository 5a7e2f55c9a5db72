/*
 * Multi-process torn-read stress test (wire §8.3, §15.13 "no torn reads").
 *
 * A forked writer process overwrites a small header ring (8 slots) and its
 * payload pool as fast as it can; payload words and header fields are derived
 * from the sequence number. The reader (this process, through its own
 * read-only consumer mapping) reads recent sequences with the seqlock,
 * alternating between the copy-out read and the zero-copy view + re-check,
 * and verifies every accepted frame. Any accepted frame whose contents do not
 * match its sequence is a torn read and fails the test.
 *
 * Stops after TP_STRESS_READS reads (default 10,000,000) or TP_STRESS_SECONDS
 * (default 60); fails if fewer than the floor were done (the full count, or
 * 1,000,000 under a sanitizer).
 */
#include "tp_test.h"

#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "common/tp_clock.h"
#include "shm_test_util.h"
#include "tensor_pool/tp_shm.h"

#define NSLOTS 8u
#define STRIDE 512u
#define MIX UINT64_C(0x9E3779B97F4A7C15)

typedef struct
{
    _Atomic uint64_t latest; /* latest committed seq + 1 (0: none yet) */
    _Atomic int stop;
    _Atomic int writer_error;
} control_t;

static char g_dir[1024];

static uint32_t frame_len(uint64_t seq)
{
    return 64u + (uint32_t)(seq % 8u) * 56u; /* 64..456 bytes, multiple of 8 */
}

static uint64_t word(uint64_t seq, uint32_t i)
{
    return seq * MIX + i;
}

static void writer_main(tp_shm_region_t *ring, tp_shm_region_t *pool, control_t *ctl)
{
    tp_shm_slot_header_t h;
    memset(&h, 0, sizeof(h));
    h.pool_id = 1;
    h.tensor.dtype = TP_DTYPE_UINT64;
    h.tensor.major_order = TP_MAJOR_ORDER_ROW;
    h.tensor.ndims = 1;
    for (uint64_t seq = 0; 0 == atomic_load_explicit(&ctl->stop, memory_order_relaxed); seq++)
    {
        uint32_t len = frame_len(seq);
        uint32_t idx = tp_shm_header_index(seq, NSLOTS);
        if (tp_shm_slot_write_begin(ring, seq) < 0)
        {
            atomic_store(&ctl->writer_error, 1);
            return;
        }
        uint8_t *p = tp_shm_pool_payload(pool, idx);
        for (uint32_t i = 0; i < len / 8; i++)
        {
            uint64_t w = word(seq, i);
            memcpy(p + 8 * i, &w, 8);
        }
        h.values_len_bytes = len;
        h.payload_slot = idx;
        h.timestamp_ns = seq;
        h.meta_version = (uint32_t)seq;
        h.tensor.dims[0] = (int32_t)(len / 8);
        if (tp_shm_slot_write_header(ring, seq, &h) < 0 || tp_shm_slot_write_commit(ring, seq) < 0)
        {
            atomic_store(&ctl->writer_error, 1);
            return;
        }
        atomic_store_explicit(&ctl->latest, seq + 1, memory_order_release);
    }
}

static bool header_matches(const tp_shm_frame_view_t *v, uint64_t seq)
{
    const tp_shm_slot_header_t *h = &v->header;
    uint32_t len = frame_len(seq);
    return h->values_len_bytes == len && h->timestamp_ns == seq && h->meta_version == (uint32_t)seq &&
        h->tensor.dims[0] == (int32_t)(len / 8) && h->payload_slot == tp_shm_header_index(seq, NSLOTS);
}

static bool payload_matches(const uint8_t *p, uint64_t seq, uint32_t len)
{
    bool ok = true;
    for (uint32_t i = 0; i < len / 8; i++)
    {
        uint64_t w;
        memcpy(&w, p + 8 * i, 8);
        ok &= (w == word(seq, i));
    }
    return ok;
}

static uint64_t env_u64(const char *name, uint64_t def)
{
    const char *s = getenv(name);
    return (NULL == s || '\0' == s[0]) ? def : strtoull(s, NULL, 10);
}

static void test_shm_stress_no_torn_reads(void)
{
#if defined(TP_SANITIZE_ADDRESS) || defined(TP_SANITIZE_THREAD)
    const uint64_t floor_default = 1000000;
#else
    const uint64_t floor_default = 10000000;
#endif
    const uint64_t target = env_u64("TP_STRESS_READS", 10000000);
    const uint64_t seconds = env_u64("TP_STRESS_SECONDS", 60);
    const uint64_t floor_reads = target < floor_default ? target : floor_default;

    char rpath[1200];
    char ppath[1200];
    snprintf(rpath, sizeof(rpath), "%s/header.ring", g_dir);
    snprintf(ppath, sizeof(ppath), "%s/1.pool", g_dir);
    tp_shm_region_params_t rp = { TP_SHM_REGION_HEADER_RING, TP_SHM_LAYOUT_VERSION, 1, 5, 0, NSLOTS, 0 };
    tp_shm_region_params_t pp = { TP_SHM_REGION_PAYLOAD_POOL, TP_SHM_LAYOUT_VERSION, 1, 5, 1, NSLOTS, STRIDE };
    tp_shm_region_t *ring = NULL;
    tp_shm_region_t *pool = NULL;
    TP_ASSERT_OK(tp_shm_region_create(&ring, rpath, &rp, NULL));
    TP_ASSERT_OK(tp_shm_region_create(&pool, ppath, &pp, NULL));

    control_t *ctl = mmap(NULL, sizeof(control_t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    TP_ASSERT(MAP_FAILED != ctl);
    atomic_init(&ctl->latest, 0);
    atomic_init(&ctl->stop, 0);
    atomic_init(&ctl->writer_error, 0);

    pid_t writer = fork();
    TP_ASSERT(writer >= 0);
    if (0 == writer)
    {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        writer_main(ring, pool, ctl);
        _exit(0);
    }
    /* The reader only has its own read-only consumer mappings. */
    tp_shm_region_close(ring);
    tp_shm_region_close(pool);

    const char *dirs[1] = { g_dir };
    tp_shm_allowlist_t *allow = NULL;
    tp_shm_region_t *cring = NULL;
    tp_shm_region_t *cpool = NULL;
    int setup = tp_shm_allowlist_init(&allow, dirs, 1);
    if (0 == setup)
    {
        setup = tp_shm_region_map(&cring, allow, rpath, &rp, false);
    }
    if (0 == setup)
    {
        setup = tp_shm_region_map(&cpool, allow, ppath, &pp, false);
    }
    uint64_t counts[TP_DROP_REASON_COUNT] = { 0 };
    uint64_t reads = 0;
    uint64_t torn = 0;
    uint64_t zero_copy_accepted = 0;
    uint64_t copy_accepted = 0;
    uint64_t bytes = 0;
    uint64_t unguarded = 0;
    const uint64_t start = tp_clock_mono_ns();
    const uint64_t deadline = start + seconds * UINT64_C(1000000000);
    if (0 == setup)
    {
        const tp_shm_region_t *pools[1] = { cpool };
        uint8_t buf[STRIDE];
        tp_shm_frame_view_t v;
        while (0 == atomic_load_explicit(&ctl->latest, memory_order_acquire) &&
            tp_clock_mono_ns() < deadline)
        {
        }
        while (reads < target)
        {
            if (0 == (reads & 0xffff) && (tp_clock_mono_ns() > deadline || atomic_load(&ctl->writer_error)))
            {
                break;
            }
            uint64_t latest = atomic_load_explicit(&ctl->latest, memory_order_acquire) - 1;
            /* From one ahead (being written) to 6 behind (next to be overwritten). */
            uint64_t back = (reads * 7) % NSLOTS;
            uint64_t seq = latest + 1 >= back ? latest + 1 - back : latest;
            if (0 == (reads & 15))
            {
                /* Negative control: the same read without the seqlock shows how often data really changes. */
                uint32_t idx = tp_shm_header_index(seq, NSLOTS);
                memcpy(buf, tp_shm_region_base(cpool) + tp_shm_payload_offset(idx, STRIDE), 64);
                unguarded += payload_matches(buf, seq, 64) ? 0 : 1;
            }
            tp_drop_reason_t r;
            if (reads & 1)
            {
                r = tp_shm_frame_read_copy(cring, pools, 1, seq, &v, buf, sizeof(buf));
                if (TP_DROP_NONE == r)
                {
                    copy_accepted++;
                    bytes += v.header.values_len_bytes;
                    if (!header_matches(&v, seq) || !payload_matches(buf, seq, v.header.values_len_bytes))
                    {
                        torn++;
                    }
                }
            }
            else
            {
                r = tp_shm_frame_begin(cring, pools, 1, seq, &v);
                if (TP_DROP_NONE == r)
                {
                    bool ok = header_matches(&v, seq) &&
                        payload_matches(v.payload, seq, v.header.values_len_bytes);
                    r = tp_shm_frame_end(&v);
                    if (TP_DROP_NONE == r)
                    {
                        zero_copy_accepted++;
                        bytes += v.header.values_len_bytes;
                        if (!ok)
                        {
                            torn++;
                        }
                    }
                }
            }
            counts[r]++;
            reads++;
        }
    }
    const uint64_t elapsed = tp_clock_mono_ns() - start;
    atomic_store(&ctl->stop, 1);
    int status = 0;
    waitpid(writer, &status, 0);
    uint64_t written = atomic_load(&ctl->latest);
    int writer_error = atomic_load(&ctl->writer_error);
    munmap(ctl, sizeof(control_t));
    tp_shm_region_close(cring);
    tp_shm_region_close(cpool);
    tp_shm_allowlist_close(allow);
    TP_ASSERT_OK(setup);

    fprintf(stderr,
        "  stress: %.2f s, frames written %llu, reads %llu, accepted %llu (copy %llu, zero-copy %llu), torn %llu,\n"
        "          rejected-late %llu, rejected-in-progress %llu, seq-ahead (overwritten) %llu, seq-stale %llu, "
        "other %llu, %.1f MB verified;\n"
        "          control: %llu of %llu unguarded reads (no seqlock) saw another frame's bytes\n",
        (double)elapsed / 1e9, (unsigned long long)written, (unsigned long long)reads,
        (unsigned long long)(copy_accepted + zero_copy_accepted), (unsigned long long)copy_accepted,
        (unsigned long long)zero_copy_accepted, (unsigned long long)torn, (unsigned long long)counts[TP_DROP_LATE],
        (unsigned long long)counts[TP_DROP_NOT_COMMITTED], (unsigned long long)counts[TP_DROP_SEQ_AHEAD],
        (unsigned long long)counts[TP_DROP_SEQ_STALE],
        (unsigned long long)(reads - counts[TP_DROP_NONE] - counts[TP_DROP_LATE] - counts[TP_DROP_NOT_COMMITTED] -
            counts[TP_DROP_SEQ_AHEAD] - counts[TP_DROP_SEQ_STALE]),
        (double)bytes / 1e6, (unsigned long long)unguarded, (unsigned long long)(reads / 16));
    TP_ASSERT(WIFEXITED(status) && 0 == WEXITSTATUS(status));
    TP_ASSERT_EQ_I64(0, writer_error);
    TP_ASSERT_EQ_U64(0, torn);
    TP_ASSERT_MSG(reads >= floor_reads, "only %llu reads in %llu s (floor %llu)", (unsigned long long)reads,
        (unsigned long long)seconds, (unsigned long long)floor_reads);
    TP_ASSERT(copy_accepted > 0 && zero_copy_accepted > 0);
    TP_ASSERT(written > NSLOTS);
    /* Only seqlock outcomes are expected: a structurally invalid frame would be a bug. */
    TP_ASSERT_EQ_U64(reads, counts[TP_DROP_NONE] + counts[TP_DROP_LATE] + counts[TP_DROP_NOT_COMMITTED] +
            counts[TP_DROP_SEQ_AHEAD] + counts[TP_DROP_SEQ_STALE]);
}

int main(void)
{
    if (0 != tp_test_mkdtemp(g_dir, sizeof(g_dir), "stress"))
    {
        perror("mkdtemp");
        return 1;
    }
    TP_RUN(test_shm_stress_no_torn_reads);
    tp_test_rmtree(g_dir);
    return tp_test_finish();
}
