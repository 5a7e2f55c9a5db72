#include "common/tp_mpsc_queue.h"

#include <stdlib.h>
#include <string.h>

#include "common/tp_error.h"

int tp_mpsc_queue_init(tp_mpsc_queue_t *q, size_t capacity)
{
    if (NULL == q || capacity < 2 || 0 != (capacity & (capacity - 1)))
    {
        return tp_err_set(TP_ERR_INVALID_ARGUMENT, "tp_mpsc_queue_init: capacity %zu must be a power of two >= 2",
            capacity);
    }
    memset(q, 0, sizeof(*q));
    q->cells = calloc(capacity, sizeof(tp_mpsc_queue_cell_t));
    if (NULL == q->cells)
    {
        return tp_err_set(TP_ERR_NO_MEMORY, "tp_mpsc_queue_init: cannot allocate %zu cells", capacity);
    }
    for (size_t i = 0; i < capacity; i++)
    {
        atomic_init(&q->cells[i].sequence, i);
    }
    q->capacity = capacity;
    q->mask = capacity - 1;
    atomic_init(&q->tail, 0);
    q->head = 0;
    return 0;
}

void tp_mpsc_queue_close(tp_mpsc_queue_t *q)
{
    if (NULL != q)
    {
        free(q->cells);
        q->cells = NULL;
    }
}

int tp_mpsc_queue_offer(tp_mpsc_queue_t *q, void *item)
{
    if (NULL == item)
    {
        return -1;
    }
    uint_fast64_t pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
    for (;;)
    {
        tp_mpsc_queue_cell_t *cell = &q->cells[pos & q->mask];
        uint64_t seq = atomic_load_explicit(&cell->sequence, memory_order_acquire);
        int64_t diff = (int64_t)(seq - pos);
        if (0 == diff)
        {
            if (atomic_compare_exchange_weak_explicit(
                &q->tail, &pos, pos + 1, memory_order_relaxed, memory_order_relaxed))
            {
                cell->value = item;
                atomic_store_explicit(&cell->sequence, pos + 1, memory_order_release);
                return 0;
            }
        }
        else if (diff < 0)
        {
            return -1;
        }
        else
        {
            pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
        }
    }
}

void *tp_mpsc_queue_poll(tp_mpsc_queue_t *q)
{
    tp_mpsc_queue_cell_t *cell = &q->cells[q->head & q->mask];
    uint64_t seq = atomic_load_explicit(&cell->sequence, memory_order_acquire);
    if (seq != q->head + 1)
    {
        return NULL;
    }
    void *item = cell->value;
    cell->value = NULL;
    atomic_store_explicit(&cell->sequence, q->head + q->capacity, memory_order_release);
    q->head++;
    return item;
}

size_t tp_mpsc_queue_drain(tp_mpsc_queue_t *q, tp_mpsc_queue_handler_t handler, void *clientd, size_t limit)
{
    size_t n = 0;
    while (n < limit)
    {
        void *item = tp_mpsc_queue_poll(q);
        if (NULL == item)
        {
            break;
        }
        handler(clientd, item);
        n++;
    }
    return n;
}

size_t tp_mpsc_queue_size(tp_mpsc_queue_t *q)
{
    uint64_t tail = atomic_load_explicit(&q->tail, memory_order_acquire);
    uint64_t head = q->head;
    return tail > head ? (size_t)(tail - head) : 0;
}
