/* lg_hist.c: the log-linear latency histogram (see lg_hist.h for the error bound). A value v at
 * or above 256 us falls in power e (v >> e in [128, 256)) and sub-bucket (v >> e) - 128; the
 * bucket is 2^e wide and starts at 128 * 2^e or more, so half its width is under 1/256 of v. */
#include "bench/loadgen/lg_hist.h"

#include <math.h>
#include <string.h>

static size_t bucket_of(int64_t us)
{
    if (us < UF_LG_HIST_EXACT)
        return (size_t)(us < 0 ? 0 : us);
    unsigned e = (unsigned)(63 - __builtin_clzll((unsigned long long)us)) - 7; /* v >> e: 8 bits */
    size_t i = UF_LG_HIST_EXACT + (e - 1) * UF_LG_HIST_SUB + (size_t)((us >> e) - UF_LG_HIST_SUB);
    return i < UF_LG_HIST_BUCKETS ? i : UF_LG_HIST_BUCKETS - 1;
}

/* The middle of bucket i, in microseconds. */
static double bucket_mid(size_t i)
{
    if (i < UF_LG_HIST_EXACT)
        return (double)i;
    size_t k = i - UF_LG_HIST_EXACT;
    unsigned e = (unsigned)(k / UF_LG_HIST_SUB) + 1;
    double lo = (double)((UF_LG_HIST_SUB + k % UF_LG_HIST_SUB) << e);
    return lo + (double)(1ull << e) / 2.0 - 0.5;
}

void uf_lg_hist_reset(struct uf_lg_hist *h)
{
    memset(h, 0, sizeof(*h));
}

void uf_lg_hist_add(struct uf_lg_hist *h, int64_t us)
{
    if (us < 0)
        us = 0;
    h->buckets[bucket_of(us)]++;
    h->count++;
    if (us > h->max_us)
        h->max_us = us;
}

void uf_lg_hist_merge(struct uf_lg_hist *dst, const struct uf_lg_hist *src)
{
    for (size_t i = 0; i < UF_LG_HIST_BUCKETS; i++)
        dst->buckets[i] += src->buckets[i];
    dst->count += src->count;
    if (src->max_us > dst->max_us)
        dst->max_us = src->max_us;
}

double uf_lg_hist_quantile(const struct uf_lg_hist *h, double q)
{
    if (h->count == 0)
        return 0;
    if (q >= 1)
        return (double)h->max_us;
    uint64_t rank = (uint64_t)ceil(q * (double)h->count);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < UF_LG_HIST_BUCKETS; i++) {
        seen += h->buckets[i];
        if (seen >= rank) {
            double v = bucket_mid(i);
            return v > (double)h->max_us ? (double)h->max_us : v;
        }
    }
    return (double)h->max_us;
}
