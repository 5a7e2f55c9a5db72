/* Shared helpers of the example programs: payload pattern and latency statistics. */
#ifndef TP_EXAMPLE_COMMON_H
#define TP_EXAMPLE_COMMON_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline uint64_t tpx_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}

/* Payload of frame `seq`: 8-byte seq, then bytes (seq * 131 + i) & 0xff; the last 8 bytes repeat seq. */
static inline void tpx_fill(uint8_t *p, size_t len, uint64_t seq)
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
static inline int tpx_check(const uint8_t *p, size_t len, uint64_t seq, int full)
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

/* Latency histogram: 1 ns .. ~17 s in 1/16-octave buckets. No allocation after init. */
#define TPX_HIST_BUCKETS (64 * 16)
typedef struct
{
    uint64_t counts[TPX_HIST_BUCKETS];
    uint64_t total;
} tpx_hist_t;

static inline unsigned tpx_bucket(uint64_t v)
{
    if (v < 16)
    {
        return (unsigned)v;
    }
    unsigned lz = (unsigned)__builtin_clzll(v);
    unsigned msb = 63 - lz;
    unsigned sub = (unsigned)((v >> (msb - 4)) & 15);
    unsigned b = msb * 16 + sub;
    return b < TPX_HIST_BUCKETS ? b : TPX_HIST_BUCKETS - 1;
}

static inline uint64_t tpx_bucket_value(unsigned b)
{
    if (b < 16)
    {
        return b;
    }
    unsigned msb = b / 16, sub = b % 16;
    return ((uint64_t)(16 + sub)) << (msb - 4);
}

static inline void tpx_hist_add(tpx_hist_t *h, uint64_t v)
{
    h->counts[tpx_bucket(v)]++;
    h->total++;
}

static inline uint64_t tpx_hist_pct(const tpx_hist_t *h, double pct)
{
    if (0 == h->total)
    {
        return 0;
    }
    uint64_t target = (uint64_t)((double)h->total * pct / 100.0);
    uint64_t acc = 0;
    for (unsigned b = 0; b < TPX_HIST_BUCKETS; b++)
    {
        acc += h->counts[b];
        if (acc > target)
        {
            return tpx_bucket_value(b);
        }
    }
    return tpx_bucket_value(TPX_HIST_BUCKETS - 1);
}

#endif
