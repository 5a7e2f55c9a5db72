/* Bounded SPSC queue of fixed-size elements (see tp_spsc_queue.h). */
#include "common/tp_spsc_queue.h"

#include <stdlib.h>
#include <string.h>

#include "common/tp_error.h"

int tp_spsc_queue_init(tp_spsc_queue_t *q, size_t capacity, size_t element_size)
{
    if (NULL == q)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_spsc_queue_init: NULL queue");
    }
    if (capacity < 2 || 0 != (capacity & (capacity - 1)) || 0 == element_size)
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT,
            "tp_spsc_queue_init: capacity %zu must be a power of two >= 2 and element_size %zu > 0", capacity,
            element_size);
    }
    size_t bytes;
    if (__builtin_mul_overflow(capacity, element_size, &bytes))
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_spsc_queue_init: %zu * %zu bytes overflows", capacity,
            element_size);
    }
    memset(q, 0, sizeof(*q));
    q->buffer = calloc(1, bytes);
    if (NULL == q->buffer)
    {
        return tp_err_set(TP_ERR_NO_MEMORY, "tp_spsc_queue_init: %zu bytes", bytes);
    }
    q->capacity = capacity;
    q->mask = capacity - 1;
    q->element_size = element_size;
    atomic_init(&q->tail, 0);
    atomic_init(&q->head, 0);
    return 0;
}

void tp_spsc_queue_close(tp_spsc_queue_t *q)
{
    if (NULL != q)
    {
        free(q->buffer);
        q->buffer = NULL;
        q->capacity = 0;
    }
}

static inline uint8_t *slot(const tp_spsc_queue_t *q, uint64_t index)
{
    return q->buffer + (size_t)(index & q->mask) * q->element_size;
}

void *tp_spsc_queue_claim(tp_spsc_queue_t *q)
{
    uint64_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
    if (tail - q->head_cache >= q->capacity)
    {
        /* Pairs with the consumer's release of head: its reads of the freed slots happened before. */
        q->head_cache = atomic_load_explicit(&q->head, memory_order_acquire);
        if (tail - q->head_cache >= q->capacity)
        {
            return NULL;
        }
    }
    return slot(q, tail);
}

void tp_spsc_queue_commit(tp_spsc_queue_t *q)
{
    uint64_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
    atomic_store_explicit(&q->tail, tail + 1, memory_order_release);
}

int tp_spsc_queue_offer(tp_spsc_queue_t *q, const void *element)
{
    void *dst = tp_spsc_queue_claim(q);
    if (NULL == dst)
    {
        return -1;
    }
    memcpy(dst, element, q->element_size);
    tp_spsc_queue_commit(q);
    return 0;
}

void *tp_spsc_queue_peek(tp_spsc_queue_t *q)
{
    uint64_t head = atomic_load_explicit(&q->head, memory_order_relaxed);
    if (head == q->tail_cache)
    {
        /* Pairs with the producer's release of tail: the element's bytes are visible. */
        q->tail_cache = atomic_load_explicit(&q->tail, memory_order_acquire);
        if (head == q->tail_cache)
        {
            return NULL;
        }
    }
    return slot(q, head);
}

void tp_spsc_queue_release(tp_spsc_queue_t *q)
{
    uint64_t head = atomic_load_explicit(&q->head, memory_order_relaxed);
    atomic_store_explicit(&q->head, head + 1, memory_order_release);
}

size_t tp_spsc_queue_drain(tp_spsc_queue_t *q, tp_spsc_queue_handler_t handler, void *clientd, size_t limit)
{
    uint64_t head = atomic_load_explicit(&q->head, memory_order_relaxed);
    uint64_t tail = atomic_load_explicit(&q->tail, memory_order_acquire);
    q->tail_cache = tail;
    uint64_t available = tail - head;
    uint64_t n = 0 == limit || available < limit ? available : limit;
    for (uint64_t i = 0; i < n; i++)
    {
        handler(clientd, slot(q, head + i));
    }
    if (n > 0)
    {
        atomic_store_explicit(&q->head, head + n, memory_order_release);
    }
    return (size_t)n;
}

size_t tp_spsc_queue_discard_all(tp_spsc_queue_t *q)
{
    uint64_t head = atomic_load_explicit(&q->head, memory_order_relaxed);
    uint64_t tail = atomic_load_explicit(&q->tail, memory_order_acquire);
    q->tail_cache = tail;
    atomic_store_explicit(&q->head, tail, memory_order_release);
    return (size_t)(tail - head);
}

size_t tp_spsc_queue_size(tp_spsc_queue_t *q)
{
    uint64_t head = atomic_load_explicit(&q->head, memory_order_acquire);
    uint64_t tail = atomic_load_explicit(&q->tail, memory_order_acquire);
    return tail >= head ? (size_t)(tail - head) : 0;
}
