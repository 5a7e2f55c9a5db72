/*
 * Payload pattern of the client tests: every byte of a frame is a function
 * of its seq, so that a reader can tell a torn or foreign payload. (The
 * example programs use the same pattern, examples/tp_example_common.h; the
 * tests do not depend on the examples' sources.)
 */
#ifndef TP_TESTS_CLIENT_PAYLOAD_H
#define TP_TESTS_CLIENT_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Payload of frame `seq`: 8-byte seq, then bytes (seq * 131 + i) & 0xff; the last 8 bytes repeat seq. */
static inline void tpc_fill(uint8_t *p, size_t len, uint64_t seq)
{
    if (len >= 8)
    {
        memcpy(p, &seq, 8);
    }
    for (size_t i = 8; i + 8 < len; i++)
    {
        p[i] = (uint8_t)(seq * 131u + i);
    }
    if (len >= 16)
    {
        memcpy(p + len - 8, &seq, 8);
    }
}

/* Full check when `full`, else the two seq words and a few sample bytes. Returns 1 when intact. */
static inline int tpc_check(const uint8_t *p, size_t len, uint64_t seq, int full)
{
    uint64_t v;
    if (len >= 8)
    {
        memcpy(&v, p, 8);
        if (v != seq)
        {
            return 0;
        }
    }
    if (len >= 16)
    {
        memcpy(&v, p + len - 8, 8);
        if (v != seq)
        {
            return 0;
        }
    }
    if (full)
    {
        for (size_t i = 8; i + 8 < len; i++)
        {
            if (p[i] != (uint8_t)(seq * 131u + i))
            {
                return 0;
            }
        }
    }
    else if (len > 16)
    {
        size_t mid = len / 2;
        if (mid >= 8 && mid + 8 < len && p[mid] != (uint8_t)(seq * 131u + mid))
        {
            return 0;
        }
    }
    return 1;
}

#endif
