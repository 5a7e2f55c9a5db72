/*
 * Bounded multi-producer single-consumer queue of pointers (internal),
 * lock-free with C11 atomics (per-cell sequence numbers, after D. Vyukov's
 * bounded queue). Used for cross-thread commands to a conductor agent.
 * Capacity is a fixed power of two; offer returns -1 when full (no error
 * state is set: it is a normal back-pressure result).
 */
#ifndef TP_COMMON_TP_MPSC_QUEUE_H
#define TP_COMMON_TP_MPSC_QUEUE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tp_mpsc_queue_cell_stct
{
    atomic_uint_fast64_t sequence;
    void *value;
} tp_mpsc_queue_cell_t;

typedef struct tp_mpsc_queue_stct
{
    tp_mpsc_queue_cell_t *cells;
    uint64_t capacity;
    uint64_t mask;
    _Alignas(64) atomic_uint_fast64_t tail; /* producers */
    _Alignas(64) uint64_t head;             /* consumer only */
    char pad[64 - sizeof(uint64_t)];
} tp_mpsc_queue_t;

typedef void (*tp_mpsc_queue_handler_t)(void *clientd, void *item);

/** Initialise with `capacity` (power of two, >= 2). Returns 0 or -1 (TP_ERR_INVALID_ARGUMENT / TP_ERR_NO_MEMORY). */
int tp_mpsc_queue_init(tp_mpsc_queue_t *q, size_t capacity);

/** Free the cells (items still queued are not freed). */
void tp_mpsc_queue_close(tp_mpsc_queue_t *q);

/** Enqueue a non-NULL item from any thread. Returns 0, or -1 when full (or item NULL). */
int tp_mpsc_queue_offer(tp_mpsc_queue_t *q, void *item);

/** Dequeue one item (consumer thread only). Returns NULL when empty. */
void *tp_mpsc_queue_poll(tp_mpsc_queue_t *q);

/** Dequeue up to `limit` items into `handler`. Returns the number handled. */
size_t tp_mpsc_queue_drain(tp_mpsc_queue_t *q, tp_mpsc_queue_handler_t handler, void *clientd, size_t limit);

/** Approximate number of queued items (consumer thread only). */
size_t tp_mpsc_queue_size(tp_mpsc_queue_t *q);

#endif
