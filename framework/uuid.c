/* uuid.c: UUIDv7/v4/v5 generation and parsing (see uuid.h).
 * The generator is a per-thread xoshiro256** seeded from getrandom(2): ids need uniqueness,
 * not secrecy, and a syscall per event would dominate the cost. Within one millisecond the
 * 12-bit rand_a field counts up (RFC 9562 method 1), so one thread's ids are monotonic. */
#include "framework/uuid.h"

#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <openssl/evp.h>

struct rng {
    uint64_t s[4];
    int seeded;
    int64_t last_ms;
    uint16_t seq;
};

static _Thread_local struct rng tl_rng;

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t next(struct rng *r)
{
    if (!r->seeded) {
        if (getrandom(r->s, sizeof r->s, 0) != (ssize_t)sizeof r->s) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            r->s[0] = (uint64_t)ts.tv_nsec ^ (uint64_t)(uintptr_t)r;
            r->s[1] = (uint64_t)ts.tv_sec * 0x9e3779b97f4a7c15ULL;
            r->s[2] = 0xbf58476d1ce4e5b9ULL;
            r->s[3] = 0x94d049bb133111ebULL;
        }
        r->seeded = 1;
    }
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

void uf_uuid_v7(uint8_t out[16])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uf_uuid_v7_at(out, (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

void uf_uuid_v7_at(uint8_t out[16], int64_t ms)
{
    struct rng *r = &tl_rng;
    if (ms <= r->last_ms && r->seq < 0xfff) {
        ms = r->last_ms;
        r->seq++;
    } else {
        if (ms <= r->last_ms)
            ms = r->last_ms + 1; /* sequence exhausted: borrow the next millisecond */
        r->last_ms = ms;
        r->seq = (uint16_t)(next(r) & 0x1ff); /* random start, leaving room to count */
    }
    uint64_t rnd = next(r);
    for (int i = 0; i < 6; i++)
        out[i] = (uint8_t)(ms >> (40 - 8 * i));
    out[6] = (uint8_t)(0x70 | (r->seq >> 8));
    out[7] = (uint8_t)r->seq;
    out[8] = (uint8_t)(0x80 | (rnd & 0x3f));
    for (int i = 9; i < 16; i++)
        out[i] = (uint8_t)(rnd >> (8 * (i - 8)));
}

void uf_uuid_format(const uint8_t id[16], char out[UF_UUID_STR])
{
    static const char hex[] = "0123456789abcdef";
    char *p = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        *p++ = hex[id[i] >> 4];
        *p++ = hex[id[i] & 15];
    }
    *p = '\0';
}

/* Hex digit values plus one, 0 for anything else: a table, because ids are parsed for every
 * event on the ETL path (several per row). */
static const unsigned char hex1[256] = {
    ['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,  ['6'] = 7,  ['7'] = 8,
    ['8'] = 9,  ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
    ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

bool uf_uuid_parse(const char *s, uint8_t out[16])
{
    return s && uf_uuid_parse_n(s, strnlen(s, 37), out);
}

bool uf_uuid_parse_n(const char *s, size_t n, uint8_t out[16])
{
    /* Byte offsets of the 16 hex pairs in the 8-4-4-4-12 form. */
    static const unsigned char at[16] = {
        0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34
    };
    if (n != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-')
        return false;
    const unsigned char *u = (const unsigned char *)s;
    bool ok = true;
    for (int j = 0; j < 16; j++) {
        unsigned hi = hex1[u[at[j]]], lo = hex1[u[at[j] + 1]];
        ok &= hi != 0 && lo != 0;
        out[j] = (uint8_t)((hi - 1) << 4 | (lo - 1));
    }
    return ok;
}

bool uf_uuid_is_valid(const char *s)
{
    uint8_t tmp[16];
    return uf_uuid_parse(s, tmp);
}

void uf_uuid_v5(const uint8_t ns[16], const void *name, size_t n, uint8_t out[16])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha1(), NULL);
    EVP_DigestUpdate(ctx, ns, 16);
    EVP_DigestUpdate(ctx, name, n);
    EVP_DigestFinal_ex(ctx, md, &len);
    EVP_MD_CTX_free(ctx);
    memcpy(out, md, 16);
    out[6] = (uint8_t)((out[6] & 0x0f) | 0x50);
    out[8] = (uint8_t)((out[8] & 0x3f) | 0x80);
}
