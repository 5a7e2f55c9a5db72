/*
 * Allocation counting for the no-allocation tests: include this header in
 * exactly one source file of a test binary. It interposes malloc, calloc,
 * realloc and free (each call counted in `allocations` while `counting` is
 * set) and forwards to glibc's own functions. Under ASan or TSan, whose
 * runtimes own the allocator, nothing is interposed and TP_NOALLOC_SKIP is 1:
 * the test then skips its allocation checks.
 */
#ifndef TP_TESTS_NOALLOC_H
#define TP_TESTS_NOALLOC_H

#include <stdatomic.h>
#include <stddef.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TP_NOALLOC_SKIP 1
#else
#define TP_NOALLOC_SKIP 0
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);

static atomic_int counting = 0;
static atomic_ulong allocations = 0;

static inline void tp_noalloc_count(void)
{
    if (atomic_load_explicit(&counting, memory_order_relaxed))
    {
        atomic_fetch_add(&allocations, 1);
    }
}

void *malloc(size_t n)
{
    tp_noalloc_count();
    return __libc_malloc(n);
}

void *calloc(size_t a, size_t b)
{
    tp_noalloc_count();
    return __libc_calloc(a, b);
}

void *realloc(void *p, size_t n)
{
    tp_noalloc_count();
    return __libc_realloc(p, n);
}

void free(void *p)
{
    if (NULL != p)
    {
        tp_noalloc_count();
    }
    __libc_free(p);
}
#endif

#endif /* TP_TESTS_NOALLOC_H */
