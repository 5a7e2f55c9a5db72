/*
 * Helpers shared by the libFuzzer targets (tests/fuzz, TP_FUZZ=ON).
 *
 * A target returns 0 for every input; a broken invariant aborts with a
 * message, so libFuzzer keeps the input as a crash artifact like any ASan or
 * UBSan report.
 */
#ifndef TP_TESTS_FUZZ_TP_FUZZ_H
#define TP_TESTS_FUZZ_TP_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensor_pool/tp_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TP_FUZZ_CHECK(cond)                                                                              \
    do                                                                                                   \
    {                                                                                                    \
        if (!(cond))                                                                                     \
        {                                                                                                \
            fprintf(stderr, "%s:%d: fuzz invariant failed: %s (tp_errmsg: %s)\n", __FILE__, __LINE__,    \
                #cond, tp_errmsg());                                                                     \
            abort();                                                                                     \
        }                                                                                                \
    } while (0)

/** True when [p, p + n) lies inside [base, base + len) (n == 0 with any p inside or NULL is fine). */
static inline bool tp_fuzz_within(const void *p, size_t n, const uint8_t *base, size_t len)
{
    if (0 == n)
    {
        return NULL == p || ((const uint8_t *)p >= base && (const uint8_t *)p <= base + len);
    }
    const uint8_t *q = (const uint8_t *)p;
    return NULL != q && q >= base && q <= base + len && n <= (size_t)(base + len - q);
}

/** A NUL-terminated heap copy of the input (the string parsers take C strings). */
static inline char *tp_fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (NULL == s)
    {
        abort();
    }
    if (size > 0)
    {
        memcpy(s, data, size);
    }
    s[size] = '\0';
    return s;
}

/** A failed call must leave an error code and a non-empty message. */
#define TP_FUZZ_CHECK_ERROR() TP_FUZZ_CHECK(tp_errcode() != 0 && tp_errmsg() != NULL && tp_errmsg()[0] != '\0')

#endif
