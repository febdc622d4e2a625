/* sinks/clickhouse/clickhouse_block.c: ClickHouse's compressed block framing, with zstd.
 * ClickHouse accepts a POST body made of its own compressed blocks when the query string has
 * `decompress=1`; this is how Debian's 18.16 takes compressed inserts at all (it refuses
 * Content-Encoding: zstd). A block is: a 16-byte CityHash128 of everything after it, the
 * method byte (0x90 = ZSTD), the 4-byte little-endian size of header + payload, the 4-byte
 * little-endian uncompressed size, then the zstd frame. The checksum must be the old CityHash
 * v1.0.2 (the later 1.1 changed the function), so it is implemented here rather than taken from
 * a library. This is the only file that includes zstd.h. Not thread-safe per struct
 * uf_clickhouse_zstd. */
#include "sinks/clickhouse/clickhouse.h"

#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "framework/mem.h"

/* ---- CityHash128 v1.0.2 ---- */

static const uint64_t k0 = 0xc3a5c85c97cb3127ULL;
static const uint64_t k1 = 0xb492b66fbe98f273ULL;
static const uint64_t k2 = 0x9ae16a3b2f90404fULL;
static const uint64_t k3 = 0xc949d7c7509e6557ULL;

struct pair64 {
    uint64_t first, second;
};

static uint64_t fetch64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8); /* the checksum is defined on little-endian loads; so is our target */
    return v;
}

static uint32_t fetch32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static uint64_t rot(uint64_t v, int s)
{
    return s == 0 ? v : (v >> s) | (v << (64 - s));
}

static uint64_t shift_mix(uint64_t v)
{
    return v ^ (v >> 47);
}

static uint64_t hash16(uint64_t u, uint64_t v)
{
    const uint64_t mul = 0x9ddfea08eb382d69ULL;
    uint64_t a = (u ^ v) * mul;
    a ^= a >> 47;
    uint64_t b = (v ^ a) * mul;
    b ^= b >> 47;
    return b * mul;
}

static uint64_t hash0to16(const unsigned char *s, size_t len)
{
    if (len > 8) {
        uint64_t a = fetch64(s), b = fetch64(s + len - 8);
        return hash16(a, rot(b + len, (int)len)) ^ b;
    }
    if (len >= 4) {
        uint64_t a = fetch32(s);
        return hash16(len + (a << 3), fetch32(s + len - 4));
    }
    if (len > 0) {
        uint32_t y = (uint32_t)s[0] + ((uint32_t)s[len >> 1] << 8);
        uint32_t z = (uint32_t)len + ((uint32_t)s[len - 1] << 2);
        return shift_mix(y * k2 ^ z * k3) * k2;
    }
    return k2;
}

static struct pair64 weak32(const unsigned char *s, uint64_t a, uint64_t b)
{
    uint64_t w = fetch64(s), x = fetch64(s + 8), y = fetch64(s + 16), z = fetch64(s + 24);
    a += w;
    b = rot(b + a + z, 21);
    uint64_t c = a;
    a += x;
    a += y;
    b += rot(a, 44);
    return (struct pair64){ a + z, b + c };
}

static struct pair64 city_murmur(const unsigned char *s, size_t len, struct pair64 seed)
{
    uint64_t a = seed.first, b = seed.second, c, d;
    if (len <= 16) {
        a = shift_mix(a * k1) * k1;
        c = b * k1 + hash0to16(s, len);
        d = shift_mix(a + (len >= 8 ? fetch64(s) : c));
    } else {
        c = hash16(fetch64(s + len - 8) + k1, a);
        d = hash16(b + len, c + fetch64(s + len - 16));
        a += d;
        for (size_t l = len - 16;; l -= 16) {
            a ^= shift_mix(fetch64(s) * k1) * k1;
            a *= k1;
            b ^= a;
            c ^= shift_mix(fetch64(s + 8) * k1) * k1;
            c *= k1;
            d ^= c;
            s += 16;
            if (l <= 16)
                break;
        }
    }
    a = hash16(a, c);
    b = hash16(d, b);
    return (struct pair64){ a ^ b, hash16(b, a) };
}

/* One 64-byte round of the long-input loop. */
static void round64(const unsigned char *s, uint64_t *x, uint64_t *y, uint64_t *z, struct pair64 *v,
                    struct pair64 *w)
{
    *x = rot(*x + *y + v->first + fetch64(s + 16), 37) * k1;
    *y = rot(*y + v->second + fetch64(s + 48), 42) * k1;
    *x ^= w->second;
    *y ^= v->first;
    *z = rot(*z ^ w->first, 33);
    *v = weak32(s, v->second * k1, *x + w->first);
    *w = weak32(s + 32, *z + w->second, *y);
    uint64_t t = *z;
    *z = *x;
    *x = t;
}

static struct pair64 city128_seed(const unsigned char *s, size_t len, struct pair64 seed)
{
    if (len < 128)
        return city_murmur(s, len, seed);
    struct pair64 v, w;
    uint64_t x = seed.first, y = seed.second, z = len * k1;
    v.first = rot(y ^ k1, 49) * k1 + fetch64(s);
    v.second = rot(v.first, 42) * k1 + fetch64(s + 8);
    w.first = rot(y + z, 35) * k1 + x;
    w.second = rot(x + fetch64(s + 88), 53) * k1;
    do {
        round64(s, &x, &y, &z, &v, &w);
        round64(s + 64, &x, &y, &z, &v, &w);
        s += 128;
        len -= 128;
    } while (len >= 128);
    y += rot(w.first, 37) * k0 + z;
    x += rot(v.first + z, 49) * k0;
    for (size_t done = 0; done < len;) {
        done += 32;
        y = rot(y - x, 42) * k0 + v.second;
        w.first += fetch64(s + len - done + 16);
        x = rot(x, 49) * k0 + w.first;
        w.first += v.first;
        v = weak32(s + len - done, v.first, v.second);
    }
    x = hash16(x, v.first);
    y = hash16(y, w.first);
    return (struct pair64){ hash16(x + v.second, w.second) + y,
                            hash16(x + w.second, y + v.second) };
}

void uf_clickhouse_cityhash128(const void *p, size_t len, uint64_t out[2])
{
    const unsigned char *s = p;
    struct pair64 r;
    if (len >= 16)
        r = city128_seed(s + 16, len - 16, (struct pair64){ fetch64(s) ^ k3, fetch64(s + 8) });
    else if (len >= 8)
        r = city128_seed(NULL, 0,
                         (struct pair64){ fetch64(s) ^ (len * k0), fetch64(s + len - 8) ^ k1 });
    else
        r = city128_seed(s, len, (struct pair64){ k0, k1 });
    out[0] = r.first;
    out[1] = r.second;
}

/* ---- framing ---- */

static void put_le32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* Fills the checksum and header in front of a payload already at p + 25. */
static void frame_in_place(unsigned char *p, uint8_t method, size_t plen, size_t raw_len)
{
    unsigned char *hdr = p + UF_CLICKHOUSE_CHECKSUM;
    hdr[0] = method;
    put_le32(hdr + 1, (uint32_t)(plen + UF_CLICKHOUSE_BLOCK_HEADER));
    put_le32(hdr + 5, (uint32_t)raw_len);
    uint64_t h[2];
    uf_clickhouse_cityhash128(hdr, plen + UF_CLICKHOUSE_BLOCK_HEADER, h);
    put_le64(p, h[0]);
    put_le64(p + 8, h[1]);
}

void uf_clickhouse_block_append(struct uf_strbuf *out, uint8_t method, const void *payload,
                                size_t plen, size_t raw_len)
{
    size_t total = UF_CLICKHOUSE_CHECKSUM + UF_CLICKHOUSE_BLOCK_HEADER + plen;
    uf_strbuf_reserve(out, total);
    unsigned char *p = (unsigned char *)out->buf + out->len;
    memcpy(p + UF_CLICKHOUSE_CHECKSUM + UF_CLICKHOUSE_BLOCK_HEADER, payload, plen);
    frame_in_place(p, method, plen, raw_len);
    out->len += total;
    out->buf[out->len] = '\0';
}

/* ---- zstd ---- */

struct uf_clickhouse_zstd {
    ZSTD_CCtx *cctx;
    int level;
};

struct uf_clickhouse_zstd *uf_clickhouse_zstd_new(int level)
{
    struct uf_clickhouse_zstd *z = uf_xcalloc(1, sizeof(*z));
    z->cctx = ZSTD_createCCtx();
    z->level = level;
    return z;
}

void uf_clickhouse_zstd_free(struct uf_clickhouse_zstd *z)
{
    if (!z)
        return;
    ZSTD_freeCCtx(z->cctx);
    free(z);
}

int uf_clickhouse_compress(struct uf_clickhouse_zstd *z, const void *raw, size_t len,
                           size_t block_size, struct uf_strbuf *out, struct uf_err *err)
{
    const unsigned char *src = raw;
    for (size_t off = 0; off < len; off += block_size) {
        size_t n = len - off < block_size ? len - off : block_size;
        size_t bound = ZSTD_compressBound(n);
        uf_strbuf_reserve(out, UF_CLICKHOUSE_CHECKSUM + UF_CLICKHOUSE_BLOCK_HEADER + bound);
        unsigned char *p = (unsigned char *)out->buf + out->len;
        size_t c =
            ZSTD_compressCCtx(z->cctx, p + UF_CLICKHOUSE_CHECKSUM + UF_CLICKHOUSE_BLOCK_HEADER,
                              bound, src + off, n, z->level);
        if (ZSTD_isError(c))
            return uf_err_set(err, UF_EIO, "zstd: %s", ZSTD_getErrorName(c));
        frame_in_place(p, UF_CLICKHOUSE_METHOD_ZSTD, c, n);
        out->len += UF_CLICKHOUSE_CHECKSUM + UF_CLICKHOUSE_BLOCK_HEADER + c;
        out->buf[out->len] = '\0';
    }
    return 0;
}

static uint32_t get_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_le64(const unsigned char *p)
{
    return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

int uf_clickhouse_decompress(const void *wire, size_t len, struct uf_strbuf *out,
                             struct uf_err *err)
{
    const unsigned char *p = wire, *end = p + len;
    while (p < end) {
        if ((size_t)(end - p) < UF_CLICKHOUSE_CHECKSUM + UF_CLICKHOUSE_BLOCK_HEADER)
            return uf_err_set(err, UF_EINVAL, "truncated block header");
        uint32_t csize = get_le32(p + UF_CLICKHOUSE_CHECKSUM + 1),
                 rsize = get_le32(p + UF_CLICKHOUSE_CHECKSUM + 5);
        if (csize < UF_CLICKHOUSE_BLOCK_HEADER ||
            csize > (size_t)(end - p) - UF_CLICKHOUSE_CHECKSUM)
            return uf_err_set(err, UF_EINVAL, "bad compressed size %u", csize);
        uint64_t h[2];
        uf_clickhouse_cityhash128(p + UF_CLICKHOUSE_CHECKSUM, csize, h);
        if (h[0] != get_le64(p) || h[1] != get_le64(p + 8))
            return uf_err_set(err, UF_EINVAL, "checksum mismatch");
        const unsigned char *payload = p + UF_CLICKHOUSE_CHECKSUM + UF_CLICKHOUSE_BLOCK_HEADER;
        size_t plen = csize - UF_CLICKHOUSE_BLOCK_HEADER;
        uf_strbuf_reserve(out, rsize);
        if (p[UF_CLICKHOUSE_CHECKSUM] == UF_CLICKHOUSE_METHOD_ZSTD) {
            size_t n = ZSTD_decompress(out->buf + out->len, rsize, payload, plen);
            if (ZSTD_isError(n) || n != rsize)
                return uf_err_set(err, UF_EINVAL, "zstd block does not decompress");
        } else {
            return uf_err_set(err, UF_EINVAL, "unknown method 0x%02x", p[UF_CLICKHOUSE_CHECKSUM]);
        }
        out->len += rsize;
        out->buf[out->len] = '\0';
        p += UF_CLICKHOUSE_CHECKSUM + csize;
    }
    return 0;
}
