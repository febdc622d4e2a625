/* ratelimit.h: token buckets per client key (an IP, a user, a header's value) in a table of
 * fixed size, for the http source's per-client limits. A key may take `burst` requests at once
 * and `rate` per second after that. Memory is the table, whatever the number of keys: a new key
 * takes the least recently used slot of its set, so a flood of distinct keys evicts buckets
 * instead of growing (an evicted key starts again with a full bucket). Thread-safe with one
 * lock per set of slots, never one lock for all requests. */
#ifndef UF_RATELIMIT_H
#define UF_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct uf_ratelimit;

/* rate > 0 tokens per second, burst >= 1, slots >= 1 (rounded up to a power of two, at least
 * one set). Aborts only when out of memory. */
struct uf_ratelimit *uf_ratelimit_new(double rate, double burst, size_t slots);
void uf_ratelimit_free(struct uf_ratelimit *rl);

/* Takes one token from key's bucket (n bytes) at now_us (monotonic). true when allowed; false
 * with *retry_after_ms (at least 1) when the bucket is empty. Thread-safe; never blocks for
 * longer than another caller's update of the same set. */
bool uf_ratelimit_take(struct uf_ratelimit *rl, const void *key, size_t n, int64_t now_us,
                       int64_t *retry_after_ms);

/* Bytes the table holds (fixed at creation). */
size_t uf_ratelimit_bytes(const struct uf_ratelimit *rl);

#endif
