/* hash.h: FNV-1a over NUL-terminated strings, for the in-memory tables keyed by ids and tokens
 * (the view detector's sessions, the watch-progress sink's pending rows, the verified-token
 * cache). Not for anything an attacker must not be able to collide: a collision only costs a
 * table a longer chain or a cache a miss. Chaining calls hashes several strings as one key. */
#ifndef UF_HASH_H
#define UF_HASH_H

#include <stdint.h>

#define UF_HASH_SEED 1469598103934665603ULL

/* Continues the hash h (start with UF_HASH_SEED) over the bytes of s. */
static inline uint64_t uf_hash_str(uint64_t h, const char *s)
{
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

#endif
