/* SPSC queue: single-thread semantics, and a two-thread stress (labelled tsan) checking order and completeness. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "tp_test.h"

#include "common/tp_spsc_queue.h"

typedef struct
{
    uint64_t seq;
    uint64_t check; /* derived from seq: a torn or stale element fails the comparison */
    uint32_t bytes;
} entry_t;

static uint64_t mix(uint64_t v)
{
    v ^= v >> 33;
    v *= UINT64_C(0xff51afd7ed558ccd);
    v ^= v >> 33;
    return v;
}

static void test_init_arguments(void)
{
    tp_spsc_queue_t q;
    TP_ASSERT_EQ_I64(-1, tp_spsc_queue_init(&q, 0, 8));
    TP_ASSERT_EQ_I64(TP_ERR_INVALID_ARGUMENT, tp_errcode());
    TP_ASSERT_EQ_I64(-1, tp_spsc_queue_init(&q, 1, 8));
    TP_ASSERT_EQ_I64(-1, tp_spsc_queue_init(&q, 12, 8));
    TP_ASSERT_EQ_I64(-1, tp_spsc_queue_init(&q, 16, 0));
    TP_ASSERT_EQ_I64(-1, tp_spsc_queue_init(&q, (size_t)1 << 62, 64));
    TP_ASSERT_EQ_I64(-1, tp_spsc_queue_init(NULL, 16, 8));
    TP_ASSERT_OK(tp_spsc_queue_init(&q, 2, 1));
    tp_spsc_queue_close(&q);
    tp_spsc_queue_close(&q); /* idempotent */
    TP_ASSERT((uintptr_t)&q.head - (uintptr_t)&q.tail >= 64); /* head and tail on separate cache lines */
}

static void test_fifo_full_and_wrap(void)
{
    tp_spsc_queue_t q;
    TP_ASSERT_OK(tp_spsc_queue_init(&q, 8, sizeof(entry_t)));
    uint64_t next_in = 0, next_out = 0;
    for (int round = 0; round < 5; round++)
    {
        /* fill to capacity: the ninth offer fails and writes nothing */
        while (0 == tp_spsc_queue_offer(&q, &(entry_t){ .seq = next_in, .check = mix(next_in) }))
        {
            next_in++;
        }
        TP_ASSERT_EQ_U64(8u, tp_spsc_queue_size(&q));
        TP_ASSERT(NULL == tp_spsc_queue_claim(&q));
        /* take 5 out, in order */
        for (int i = 0; i < 5; i++)
        {
            entry_t *e = tp_spsc_queue_peek(&q);
            TP_ASSERT(NULL != e);
            TP_ASSERT_EQ_U64(next_out, e->seq);
            TP_ASSERT_EQ_U64(mix(next_out), e->check);
            tp_spsc_queue_release(&q);
            next_out++;
        }
        TP_ASSERT_EQ_U64(3u, tp_spsc_queue_size(&q));
    }
    while (NULL != tp_spsc_queue_peek(&q))
    {
        TP_ASSERT_EQ_U64(next_out, ((entry_t *)tp_spsc_queue_peek(&q))->seq);
        tp_spsc_queue_release(&q);
        next_out++;
    }
    TP_ASSERT_EQ_U64(next_in, next_out);
    TP_ASSERT_EQ_U64(0u, tp_spsc_queue_size(&q));
    tp_spsc_queue_close(&q);
}

static void test_claim_commit(void)
{
    tp_spsc_queue_t q;
    TP_ASSERT_OK(tp_spsc_queue_init(&q, 4, sizeof(entry_t)));
    entry_t *a = tp_spsc_queue_claim(&q);
    TP_ASSERT(NULL != a);
    TP_ASSERT(a == tp_spsc_queue_claim(&q)); /* not published yet: same slot */
    a->seq = 41;
    TP_ASSERT(NULL == tp_spsc_queue_peek(&q)); /* invisible before the commit */
    tp_spsc_queue_commit(&q);
    entry_t *b = tp_spsc_queue_peek(&q);
    TP_ASSERT(b == a);
    TP_ASSERT_EQ_U64(41u, b->seq);
    tp_spsc_queue_release(&q);
    TP_ASSERT(NULL == tp_spsc_queue_peek(&q));
    tp_spsc_queue_close(&q);
}

typedef struct
{
    uint64_t expect;
    bool ok;
} drain_state_t;

static void on_entry(void *clientd, void *element)
{
    drain_state_t *s = clientd;
    entry_t *e = element;
    s->ok = s->ok && e->seq == s->expect && e->check == mix(e->seq);
    s->expect++;
}

static void test_drain_and_discard(void)
{
    tp_spsc_queue_t q;
    TP_ASSERT_OK(tp_spsc_queue_init(&q, 16, sizeof(entry_t)));
    for (uint64_t i = 0; i < 10; i++)
    {
        TP_ASSERT_OK(tp_spsc_queue_offer(&q, &(entry_t){ .seq = i, .check = mix(i) }));
    }
    drain_state_t s = { 0, true };
    TP_ASSERT_EQ_U64(4u, tp_spsc_queue_drain(&q, on_entry, &s, 4));
    TP_ASSERT_EQ_U64(6u, tp_spsc_queue_drain(&q, on_entry, &s, 0));
    TP_ASSERT(s.ok);
    TP_ASSERT_EQ_U64(10u, s.expect);
    TP_ASSERT_EQ_U64(0u, tp_spsc_queue_drain(&q, on_entry, &s, 0));
    for (uint64_t i = 10; i < 15; i++)
    {
        TP_ASSERT_OK(tp_spsc_queue_offer(&q, &(entry_t){ .seq = i, .check = mix(i) }));
    }
    TP_ASSERT_EQ_U64(5u, tp_spsc_queue_discard_all(&q));
    TP_ASSERT_EQ_U64(0u, tp_spsc_queue_size(&q));
    TP_ASSERT(NULL == tp_spsc_queue_peek(&q));
    /* the whole capacity is free again */
    for (uint64_t i = 0; i < 16; i++)
    {
        TP_ASSERT_OK(tp_spsc_queue_offer(&q, &(entry_t){ .seq = i }));
    }
    TP_ASSERT_EQ_I64(-1, tp_spsc_queue_offer(&q, &(entry_t){ .seq = 99 }));
    tp_spsc_queue_close(&q);
}

/* ------------------------------------------------------------------ stress */

#define STRESS_COUNT (UINT64_C(1) << 20)

typedef struct
{
    tp_spsc_queue_t q;
    _Atomic uint64_t full_spins;
} stress_t;

static void *stress_producer(void *arg)
{
    stress_t *s = arg;
    for (uint64_t i = 0; i < STRESS_COUNT; i++)
    {
        if (0 == (i & 1))
        {
            entry_t e = { .seq = i, .check = mix(i), .bytes = (uint32_t)i };
            while (0 != tp_spsc_queue_offer(&s->q, &e))
            {
                atomic_fetch_add_explicit(&s->full_spins, 1, memory_order_relaxed);
            }
        }
        else
        {
            entry_t *e;
            while (NULL == (e = tp_spsc_queue_claim(&s->q)))
            {
                atomic_fetch_add_explicit(&s->full_spins, 1, memory_order_relaxed);
            }
            e->seq = i;
            e->check = mix(i);
            e->bytes = (uint32_t)i;
            tp_spsc_queue_commit(&s->q);
        }
    }
    return NULL;
}

static void test_two_thread_stress(void)
{
    static stress_t s;
    TP_ASSERT_OK(tp_spsc_queue_init(&s.q, 64, sizeof(entry_t)));
    pthread_t th;
    TP_ASSERT_EQ_I64(0, pthread_create(&th, NULL, stress_producer, &s));
    drain_state_t d = { 0, true };
    uint64_t polls = 0;
    while (d.expect < STRESS_COUNT && d.ok)
    {
        if (0 == (polls++ & 1))
        {
            tp_spsc_queue_drain(&s.q, on_entry, &d, 7);
        }
        else
        {
            entry_t *e = tp_spsc_queue_peek(&s.q);
            if (NULL != e)
            {
                on_entry(&d, e);
                tp_spsc_queue_release(&s.q);
            }
        }
    }
    pthread_join(th, NULL);
    TP_ASSERT_MSG(d.ok, "out of order or torn element at %" PRIu64, d.expect);
    TP_ASSERT_EQ_U64(STRESS_COUNT, d.expect);
    TP_ASSERT_EQ_U64(0u, tp_spsc_queue_size(&s.q));
    fprintf(stderr, "  %" PRIu64 " elements, %" PRIu64 " full spins\n", STRESS_COUNT,
        (uint64_t)atomic_load(&s.full_spins));
    tp_spsc_queue_close(&s.q);
}

int main(int argc, char **argv)
{
    if (argc > 1 && 0 == strcmp(argv[1], "stress"))
    {
        TP_RUN(test_two_thread_stress);
        return tp_test_finish();
    }
    TP_RUN(test_init_arguments);
    TP_RUN(test_fifo_full_and_wrap);
    TP_RUN(test_claim_commit);
    TP_RUN(test_drain_and_discard);
    return tp_test_finish();
}
