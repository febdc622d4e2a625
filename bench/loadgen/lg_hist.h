/* lg_hist.h: the latency histogram of `ugcflow loadgen`: log-linear buckets over microseconds,
 * exact below 256 us and 128 sub-buckets per power of two above, so a reported value (a bucket's
 * middle) is within 0.4 % of every value it stands for, from 1 us to 2^41 us (25 days). Fixed size,
 * no allocation after _new; not thread-safe. */
#ifndef UF_LG_HIST_H
#define UF_LG_HIST_H
#include <stddef.h>
#include <stdint.h>

#define UF_LG_HIST_EXACT 256
#define UF_LG_HIST_SUB 128
#define UF_LG_HIST_POWERS 33
#define UF_LG_HIST_BUCKETS (UF_LG_HIST_EXACT + UF_LG_HIST_POWERS * UF_LG_HIST_SUB)

struct uf_lg_hist {
    uint64_t count;
    int64_t max_us;
    uint64_t buckets[UF_LG_HIST_BUCKETS];
};

void uf_lg_hist_reset(struct uf_lg_hist *h);
/* Counts one value in microseconds (negative counts as 0; beyond the range, the last bucket). */
void uf_lg_hist_add(struct uf_lg_hist *h, int64_t us);
/* Adds every value of src to dst. */
void uf_lg_hist_merge(struct uf_lg_hist *dst, const struct uf_lg_hist *src);
/* The value at quantile q (0..1) in microseconds: the middle of the bucket holding the
 * ceil(q * count)-th value, never above the exact max; 0 when empty. */
double uf_lg_hist_quantile(const struct uf_lg_hist *h, double q);
#endif
