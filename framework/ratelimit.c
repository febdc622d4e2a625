/* ratelimit.c: the table of token buckets (see ratelimit.h).
 * Set-associative: a key hashes (FNV-1a seeded at random per table, so a client cannot choose
 * keys that land on another's slot) to a set of WAYS slots under one lock; its bucket is the
 * slot with its hash, or the set's least recently used one. Buckets refill lazily on use, so
 * there is no timer and an idle key costs nothing. Locks are padded to a cache line each. */
#include "framework/ratelimit.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "framework/mem.h"

#define WAYS 8

struct slot {
    uint64_t hash; /* 0: free */
    int64_t last_us;
    double tokens;
};

struct set {
    pthread_mutex_t lock;
    struct slot slots[WAYS];
} __attribute__((aligned(64)));

struct uf_ratelimit {
    double rate, burst;
    uint64_t seed;
    size_t nsets; /* a power of two */
    struct set *sets;
};

struct uf_ratelimit *uf_ratelimit_new(double rate, double burst, size_t slots)
{
    struct uf_ratelimit *rl = uf_xcalloc(1, sizeof(*rl));
    rl->rate = rate;
    rl->burst = burst;
    rl->nsets = 1;
    while (rl->nsets * WAYS < slots)
        rl->nsets <<= 1;
    if (getrandom(&rl->seed, sizeof rl->seed, 0) != sizeof rl->seed)
        rl->seed = (uint64_t)(uintptr_t)rl ^ 0x9e3779b97f4a7c15ULL;
    if (posix_memalign((void **)&rl->sets, 64, rl->nsets * sizeof(struct set)) != 0)
        abort();
    memset(rl->sets, 0, rl->nsets * sizeof(struct set));
    for (size_t i = 0; i < rl->nsets; i++)
        pthread_mutex_init(&rl->sets[i].lock, NULL);
    return rl;
}

void uf_ratelimit_free(struct uf_ratelimit *rl)
{
    if (!rl)
        return;
    for (size_t i = 0; i < rl->nsets; i++)
        pthread_mutex_destroy(&rl->sets[i].lock);
    free(rl->sets);
    free(rl);
}

static uint64_t hash_key(const struct uf_ratelimit *rl, const unsigned char *k, size_t n)
{
    uint64_t h = 1469598103934665603ULL ^ rl->seed;
    for (size_t i = 0; i < n; i++)
        h = (h ^ k[i]) * 1099511628211ULL;
    h ^= h >> 33; /* the low bits pick the set: mix the high ones down */
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h ? h : 1;
}

/* key's slot in s: its own, else a free one, else the least recently used (made a full
 * bucket: the evicted key starts again). */
static struct slot *find(struct set *s, uint64_t h, double burst)
{
    struct slot *victim = &s->slots[0];
    for (int i = 0; i < WAYS; i++) {
        struct slot *x = &s->slots[i];
        if (x->hash == h)
            return x;
        if (victim->hash && (!x->hash || x->last_us < victim->last_us))
            victim = x;
    }
    victim->hash = h;
    victim->tokens = burst;
    victim->last_us = 0;
    return victim;
}

bool uf_ratelimit_take(struct uf_ratelimit *rl, const void *key, size_t n, int64_t now_us,
                       int64_t *retry_after_ms)
{
    uint64_t h = hash_key(rl, key, n);
    struct set *s = &rl->sets[h & (rl->nsets - 1)];
    pthread_mutex_lock(&s->lock);
    struct slot *b = find(s, h, rl->burst);
    if (b->last_us && now_us > b->last_us) {
        b->tokens += (double)(now_us - b->last_us) * rl->rate / 1e6;
        if (b->tokens > rl->burst)
            b->tokens = rl->burst;
    }
    b->last_us = now_us > b->last_us ? now_us : b->last_us;
    bool ok = b->tokens >= 1.0;
    double missing = 1.0 - b->tokens;
    if (ok)
        b->tokens -= 1.0;
    pthread_mutex_unlock(&s->lock);
    if (!ok && retry_after_ms) {
        int64_t ms = (int64_t)(missing * 1000.0 / rl->rate) + 1;
        *retry_after_ms = ms > 0 ? ms : 1;
    }
    return ok;
}

size_t uf_ratelimit_bytes(const struct uf_ratelimit *rl)
{
    return sizeof(*rl) + rl->nsets * sizeof(struct set);
}
