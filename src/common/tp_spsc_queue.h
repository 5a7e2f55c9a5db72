/*
 * Bounded single-producer single-consumer queue of fixed-size elements
 * (internal), lock-free with C11 atomics: the producer thread publishes with a
 * release store of `tail`, the consumer thread frees slots with a release
 * store of `head`; each side reads the other's index with acquire and keeps a
 * cached copy on its own cache line, so a side touches the other's line only
 * when its cached view says the queue is full (producer) or empty (consumer).
 *
 * Capacity is a power of two fixed at init; the element buffer is allocated
 * once by tp_spsc_queue_init and nothing is allocated afterwards. A full
 * queue is a normal result (-1 / NULL, no error state set), like the MPSC
 * queue's offer. Exactly one thread may call the producer functions and
 * exactly one (possibly other) thread the consumer functions.
 *
 * Used for the producer's descriptor fan-out and progress rings (application
 * thread -> conductor).
 */
#ifndef TP_COMMON_TP_SPSC_QUEUE_H
#define TP_COMMON_TP_SPSC_QUEUE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tp_spsc_queue_stct
{
    uint8_t *buffer;          /* capacity * element_size bytes, read-only pointer after init */
    uint64_t capacity;
    uint64_t mask;
    size_t element_size;
    _Alignas(64) _Atomic uint64_t tail; /* producer writes */
    uint64_t head_cache;                /* producer only: last head it read */
    _Alignas(64) _Atomic uint64_t head; /* consumer writes */
    uint64_t tail_cache;                /* consumer only: last tail it read */
    char pad[64 - 2 * sizeof(uint64_t)];
} tp_spsc_queue_t;

/** Consumer callback of tp_spsc_queue_drain: `element` is valid until the callback returns. */
typedef void (*tp_spsc_queue_handler_t)(void *clientd, void *element);

/**
 * Initialise for `capacity` elements (a power of two, >= 2) of `element_size`
 * bytes (> 0); allocates the zeroed element buffer. Returns 0 or -1
 * (TP_ERR_INVALID_ARGUMENT / TP_ERR_NO_MEMORY).
 */
int tp_spsc_queue_init(tp_spsc_queue_t *q, size_t capacity, size_t element_size);

/** Free the element buffer (no thread may use the queue any more). Safe on a zeroed or closed queue. */
void tp_spsc_queue_close(tp_spsc_queue_t *q);

/** Producer: copy one element in. Returns 0, or -1 when full (nothing written). */
int tp_spsc_queue_offer(tp_spsc_queue_t *q, const void *element);

/**
 * Producer: the next free slot to fill in place, or NULL when full. The
 * element becomes visible to the consumer at tp_spsc_queue_commit(); until
 * then another claim returns the same slot.
 */
void *tp_spsc_queue_claim(tp_spsc_queue_t *q);

/** Producer: publish the slot returned by the last successful tp_spsc_queue_claim(). */
void tp_spsc_queue_commit(tp_spsc_queue_t *q);

/** Consumer: the oldest element (in place) or NULL when empty; it stays queued until tp_spsc_queue_release(). */
void *tp_spsc_queue_peek(tp_spsc_queue_t *q);

/** Consumer: remove the element returned by tp_spsc_queue_peek(). */
void tp_spsc_queue_release(tp_spsc_queue_t *q);

/**
 * Consumer: hand up to `limit` elements (0: no limit) to `handler` in FIFO
 * order, then free their slots with one release store. Returns the number
 * handled.
 */
size_t tp_spsc_queue_drain(tp_spsc_queue_t *q, tp_spsc_queue_handler_t handler, void *clientd, size_t limit);

/** Consumer: drop everything queued so far (e.g. when fan-out starts). Returns the number dropped. */
size_t tp_spsc_queue_discard_all(tp_spsc_queue_t *q);

/** Number of queued elements (exact from either side's thread when the other is idle; approximate otherwise). */
size_t tp_spsc_queue_size(tp_spsc_queue_t *q);

#endif
