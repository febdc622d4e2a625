/* jscan.c: the strict JSON object scanner (see jscan.h). Hand-written because its uses are hot
 * paths (every Kafka message of the ETL flows, every stat API request) that only need spans of
 * top-level members: a tree parser spends most of its time allocating nodes nobody reads. The
 * rules follow jansson's decoder, so a text is refused here exactly when jansson would refuse it
 * (except that duplicate keys and numbers out of range are only refused or told when asked,
 * uf_jscan_check); tests/test_jscan.c holds the cases. Nested values are checked by recursion,
 * bounded by MAX_DEPTH like jansson's. */
#include "framework/jscan.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "framework/mem.h"

#define MAX_DEPTH 2048 /* jansson's JSON_PARSER_DEFAULT_DEPTH */

struct scan {
    const unsigned char *s;
    size_t n, i;
    int depth;
    bool unique;               /* refuse an object with the same key twice (uf_jscan_value) */
    bool trusted;              /* the text was checked before: skip values without checking them */
    struct uf_jcheck *numbers; /* uf_jscan_check with numbers: where a refused one is told */
    struct uf_err *err;
};

static int fail(struct scan *sc, const char *why)
{
    return uf_err_set(sc->err, UF_EINVAL, "not JSON: %s at byte %zu", why, sc->i);
}

static inline void skip_ws(struct scan *sc)
{
    while (sc->i < sc->n) {
        unsigned char c = sc->s[sc->i];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            return;
        sc->i++;
    }
}

static int hex4(const unsigned char *p, uint32_t *out)
{
    uint32_t v = 0;
    for (int k = 0; k < 4; k++) {
        unsigned char c = p[k];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (uint32_t)(c - '0');
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
            v |= (uint32_t)((c | 0x20) - 'a' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* A \u escape at s[i] ('\\' 'u' h h h h, maybe a low surrogate after it); advances i. Errors
 * point at the escape. */
static int scan_unicode(struct scan *sc)
{
    size_t at = sc->i;
    uint32_t u, lo;
    if (sc->i + 6 > sc->n || hex4(sc->s + sc->i + 2, &u) < 0)
        return fail(sc, "invalid \\u escape");
    sc->i += 6;
    const char *why = NULL;
    if (u == 0)
        why = "\\u0000 is not allowed";
    else if (u >= 0xdc00 && u <= 0xdfff)
        why = "lone low surrogate";
    else if (u >= 0xd800 && u <= 0xdbff &&
             (sc->i + 6 > sc->n || sc->s[sc->i] != '\\' || sc->s[sc->i + 1] != 'u' ||
              hex4(sc->s + sc->i + 2, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff))
        why = "high surrogate without its low surrogate";
    else if (u >= 0xd800 && u <= 0xdbff)
        sc->i += 6;
    if (!why)
        return 0;
    sc->i = at;
    return fail(sc, why);
}

/* Length of the UTF-8 sequence at p (n bytes available), 0 when invalid: no overlong forms,
 * no surrogates, nothing above U+10FFFF. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
    if (c < 0xc2 || c > 0xf4 || n < len)
        return 0;
    for (size_t k = 1; k < len; k++)
        if ((p[k] & 0xc0) != 0x80)
            return 0;
    if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] > 0x9f) || (c == 0xf0 && p[1] < 0x90) ||
        (c == 0xf4 && p[1] > 0x8f))
        return 0;
    return len;
}

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "word scanning assumes little endian");

/* A mask with the high bit set in the first byte of w (in memory order) that needs a look, a
 * quote, a backslash, a control character or a non-ASCII byte, and maybe in later ones (the
 * borrow of a match can flag the byte after it); 0 when none. Most string bytes need no look,
 * so strings are skipped a word at a time. */
static uint64_t special_mask(uint64_t w)
{
    uint64_t quote = w ^ (ONES * '"'), bslash = w ^ (ONES * '\\');
    return (((quote - ONES) & ~quote) | ((bslash - ONES) & ~bslash) | ((w - ONES * 0x20) & ~w) |
            w) &
           HIGHS;
}

/* The high bit set in the first byte of w (memory order) that is a quote or a backslash, maybe
 * in later ones too (as special_mask); 0 when none. */
static uint64_t quote_mask(uint64_t w)
{
    uint64_t quote = w ^ (ONES * '"'), bslash = w ^ (ONES * '\\');
    return (((quote - ONES) & ~quote) | ((bslash - ONES) & ~bslash)) & HIGHS;
}

/* scan_string on checked text: only quotes and backslashes matter, eight bytes at a time. */
static int skip_string(struct scan *sc, const char **start, size_t *len, bool *escaped)
{
    size_t from = ++sc->i;
    *escaped = false;
    while (sc->i < sc->n) {
        if (sc->n - sc->i >= 8) {
            uint64_t w;
            memcpy(&w, sc->s + sc->i, 8);
            uint64_t m = quote_mask(w);
            if (m == 0) {
                sc->i += 8;
                continue;
            }
            sc->i += (size_t)__builtin_ctzll(m) >> 3;
        }
        unsigned char c = sc->s[sc->i];
        if (c == '"') {
            *start = (const char *)sc->s + from;
            *len = sc->i++ - from;
            return 0;
        }
        if (c == '\\') {
            *escaped = true;
            sc->i++; /* the escaped byte; \uXXXX's digits are no quotes */
        }
        sc->i++;
    }
    return fail(sc, "unterminated string");
}

/* A string starting at the opening quote; fills the span between the quotes. */
static int scan_string(struct scan *sc, const char **start, size_t *len, bool *escaped)
{
    if (sc->trusted)
        return skip_string(sc, start, len, escaped);
    size_t from = ++sc->i;
    *escaped = false;
    while (sc->i < sc->n) {
        if (sc->n - sc->i >= 8) {
            uint64_t w;
            memcpy(&w, sc->s + sc->i, 8);
            uint64_t m = special_mask(w);
            if (m == 0) {
                sc->i += 8;
                continue;
            }
            sc->i += (size_t)__builtin_ctzll(m) >> 3; /* the first byte that needs a look */
        }
        unsigned char c = sc->s[sc->i];
        if (c == '"') {
            *start = (const char *)sc->s + from;
            *len = sc->i++ - from;
            return 0;
        }
        if (c < 0x20)
            return fail(sc, "control character in a string");
        if (c < 0x80 && c != '\\') {
            sc->i++;
        } else if (c == '\\') {
            *escaped = true;
            unsigned char e = sc->i + 1 < sc->n ? sc->s[sc->i + 1] : 0;
            if (e == 'u') {
                if (scan_unicode(sc) < 0)
                    return UF_EINVAL;
            } else if (e && strchr("\"\\/bfnrt", e)) {
                sc->i += 2;
            } else {
                return fail(sc, "invalid escape");
            }
        } else {
            size_t k = utf8_len(sc->s + sc->i, sc->n - sc->i);
            if (k == 0)
                return fail(sc, "invalid UTF-8");
            sc->i += k;
        }
    }
    return fail(sc, "unterminated string");
}

static size_t digits(struct scan *sc)
{
    size_t from = sc->i;
    while (sc->i < sc->n && sc->s[sc->i] >= '0' && sc->s[sc->i] <= '9')
        sc->i++;
    return sc->i - from;
}

static int bad_number(struct scan *sc, size_t start)
{
    sc->i = start;
    return fail(sc, "invalid number");
}

/* jansson's words for the number tok[0..len) when it refuses it, or NULL: an integer beyond
 * 64 bits, a real beyond a double (an underflow is taken, as by jansson). Most numbers are
 * decided by their length, without strtod: an integer of at most 18 digits fits 64 bits, and a
 * real without an exponent and under 300 characters is below 1e300. */
static const char *number_refused(const char *tok, size_t len, bool integer, bool exp)
{
    if (integer ? len - (tok[0] == '-') <= 18 : (!exp && len < 300))
        return NULL;
    char small[64], *buf = len < sizeof(small) ? small : uf_xmalloc(len + 1);
    memcpy(buf, tok, len);
    buf[len] = '\0';
    const char *why = NULL;
    errno = 0;
    if (integer) {
        strtoll(buf, NULL, 10);
        if (errno == ERANGE)
            why = tok[0] == '-' ? "too big negative integer" : "too big integer";
    } else {
        double d = strtod(buf, NULL);
        if (errno == ERANGE && fabs(d) == HUGE_VAL)
            why = "real number overflow";
    }
    if (buf != small)
        free(buf);
    return why;
}

/* Notes the first number jansson refuses (uf_jscan_check with numbers). */
static void note_number(struct scan *sc, size_t start, bool integer, bool exp)
{
    struct uf_jcheck *c = sc->numbers;
    if (!c || c->bad_number)
        return;
    const char *tok = (const char *)sc->s + start;
    c->bad_number_why = number_refused(tok, sc->i - start, integer, exp);
    if (c->bad_number_why)
        c->bad_number = tok;
}

/* scan_number on checked text: the number's bytes, and whether it has a fraction. */
static void skip_number(struct scan *sc, bool *integer)
{
    *integer = true;
    for (; sc->i < sc->n; sc->i++) {
        unsigned char c = sc->s[sc->i];
        if (c == '.' || c == 'e' || c == 'E')
            *integer = false;
        else if (c != '-' && c != '+' && (c < '0' || c > '9'))
            break;
    }
}

/* A number by RFC 8259's grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static int scan_number(struct scan *sc, bool *integer)
{
    if (sc->trusted) {
        skip_number(sc, integer);
        return 0;
    }
    size_t start = sc->i;
    if (sc->s[sc->i] == '-')
        sc->i++;
    size_t at = sc->i;
    size_t k = digits(sc);
    if (k == 0 || (k > 1 && sc->s[at] == '0'))
        return bad_number(sc, start);
    *integer = true;
    if (sc->i < sc->n && sc->s[sc->i] == '.') {
        sc->i++;
        *integer = false;
        if (digits(sc) == 0)
            return bad_number(sc, start);
    }
    bool exp = sc->i < sc->n && (sc->s[sc->i] | 0x20) == 'e';
    if (exp) {
        sc->i++;
        *integer = false;
        if (sc->i < sc->n && (sc->s[sc->i] == '+' || sc->s[sc->i] == '-'))
            sc->i++;
        if (digits(sc) == 0)
            return bad_number(sc, start);
    }
    note_number(sc, start, *integer, exp);
    return 0;
}

static int scan_literal(struct scan *sc, const char *word)
{
    size_t len = strlen(word);
    if (sc->n - sc->i < len || memcmp(sc->s + sc->i, word, len) != 0)
        return fail(sc, "invalid token");
    sc->i += len;
    return 0;
}

static int scan_value(struct scan *sc, struct uf_jmember *m);

/* ---- duplicate keys (uf_jscan_value with unique_keys) ---- */

/* A key as decoded bytes: its text when it has no escape, else a decoded copy (own), made
 * once per key so comparing is memcmp whatever the keys hold. */
struct kspan {
    const char *s;
    size_t len;
    char *own;
};

/* Orders keys by their decoded bytes, so equal decoded keys compare equal. */
static int key_cmp(const struct kspan *a, const struct kspan *b)
{
    int c = memcmp(a->s, b->s, a->len < b->len ? a->len : b->len);
    return c != 0 ? c : a->len < b->len ? -1 : a->len > b->len;
}

static int key_qcmp(const void *a, const void *b)
{
    return key_cmp(a, b);
}

/* The keys of one object: the first few compared pairwise as they come, the rest sorted once
 * the object ends (a big object costs n log n, not n squared). */
#define KEYS_SMALL 8
struct keyset {
    struct kspan small[KEYS_SMALL];
    struct kspan *big; /* every key once there are more than KEYS_SMALL */
    size_t n, cap;
};

static void keys_release(struct keyset *ks)
{
    struct kspan *v = ks->big ? ks->big : ks->small;
    for (size_t i = 0; i < ks->n; i++)
        free(v[i].own);
    free(ks->big);
    ks->big = NULL;
    ks->n = 0;
}

static int keys_add(struct scan *sc, struct keyset *ks, const struct uf_jmember *m)
{
    struct kspan k = { m->key, m->key_len, NULL };
    if (m->key_escaped) {
        k.own = uf_xmalloc(m->key_len ? m->key_len : 1);
        k.len = uf_jscan_unescape(m->key, m->key_len, k.own);
        k.s = k.own;
    }
    if (ks->n < KEYS_SMALL) {
        for (size_t i = 0; i < ks->n; i++) {
            if (key_cmp(&ks->small[i], &k) == 0) {
                free(k.own);
                return fail(sc, "duplicate object key");
            }
        }
        ks->small[ks->n++] = k;
        return 0;
    }
    if (ks->n == KEYS_SMALL || ks->n - KEYS_SMALL >= ks->cap) {
        ks->cap = ks->cap ? ks->cap * 2 : 32;
        struct kspan *big = uf_xrealloc(ks->big, (ks->cap + KEYS_SMALL) * sizeof *big);
        if (!ks->big)
            memcpy(big, ks->small, sizeof ks->small);
        ks->big = big;
    }
    ks->big[ks->n++] = k;
    return 0;
}

/* At the object's end: the check of the keys past the first few; frees the set. */
static int keys_end(struct scan *sc, struct keyset *ks)
{
    int rc = 0;
    if (ks->big) {
        qsort(ks->big, ks->n, sizeof *ks->big, key_qcmp);
        for (size_t i = 1; i < ks->n && rc == 0; i++)
            if (key_cmp(&ks->big[i - 1], &ks->big[i]) == 0)
                rc = fail(sc, "duplicate object key");
    }
    keys_release(ks);
    return rc;
}

/* A member's `"key" :` with the blanks around it, into m's key fields. */
static int scan_key(struct scan *sc, struct uf_jmember *m)
{
    if (sc->i >= sc->n || sc->s[sc->i] != '"')
        return fail(sc, "expected a string key");
    if (scan_string(sc, &m->key, &m->key_len, &m->key_escaped) < 0)
        return UF_EINVAL;
    skip_ws(sc);
    if (sc->i >= sc->n || sc->s[sc->i] != ':')
        return fail(sc, "expected ':'");
    sc->i++;
    skip_ws(sc);
    return 0;
}

/* scan_nested on checked text: to the matching bracket, strings skipped whole. */
static int skip_nested(struct scan *sc)
{
    size_t depth = 0;
    while (sc->i < sc->n) {
        unsigned char c = sc->s[sc->i];
        if (c == '"') {
            const char *str;
            size_t len;
            bool esc;
            if (skip_string(sc, &str, &len, &esc) < 0)
                return UF_EINVAL;
            continue;
        }
        sc->i++;
        if (c == '{' || c == '[')
            depth++;
        else if ((c == '}' || c == ']') && --depth == 0)
            return 0;
    }
    return fail(sc, "unexpected end of input");
}

/* The members or elements of a nested object or array (at its opening bracket). */
static int scan_nested(struct scan *sc, bool object)
{
    if (sc->trusted)
        return skip_nested(sc);
    if (++sc->depth > MAX_DEPTH)
        return fail(sc, "maximum parsing depth reached");
    char close = object ? '}' : ']';
    sc->i++;
    skip_ws(sc);
    if (sc->i < sc->n && sc->s[sc->i] == close) {
        sc->i++;
        sc->depth--;
        return 0;
    }
    struct keyset ks; /* small[] is written before it is read: no need to clear it */
    ks.big = NULL;
    ks.n = ks.cap = 0;
    bool keys = object && sc->unique;
    int rc = 0;
    for (;;) {
        struct uf_jmember m;
        skip_ws(sc);
        if (object && (rc = scan_key(sc, &m)) < 0)
            break;
        if (keys && (rc = keys_add(sc, &ks, &m)) < 0)
            break;
        if ((rc = scan_value(sc, &m)) < 0)
            break;
        skip_ws(sc);
        if (sc->i < sc->n && sc->s[sc->i] == ',') {
            sc->i++;
            continue;
        }
        if (sc->i < sc->n && sc->s[sc->i] == close) {
            sc->i++;
            sc->depth--;
            return keys ? keys_end(sc, &ks) : 0;
        }
        rc = fail(sc, object ? "expected ',' or '}'" : "expected ',' or ']'");
        break;
    }
    keys_release(&ks);
    return rc;
}

/* Any value at s[i]; fills m's type and value span. */
static int scan_value(struct scan *sc, struct uf_jmember *m)
{
    if (sc->i >= sc->n)
        return fail(sc, "unexpected end of input");
    size_t from = sc->i;
    unsigned char c = sc->s[sc->i];
    int rc;
    m->escaped = m->integer = false;
    if (c == '"') {
        m->type = UF_J_STRING;
        return scan_string(sc, &m->val, &m->val_len, &m->escaped);
    }
    if (c == '{' || c == '[') {
        m->type = c == '{' ? UF_J_OBJECT : UF_J_ARRAY;
        rc = scan_nested(sc, c == '{');
    } else if (c == '-' || (c >= '0' && c <= '9')) {
        m->type = UF_J_NUMBER;
        rc = scan_number(sc, &m->integer);
    } else {
        m->type = c == 't' ? UF_J_TRUE : c == 'f' ? UF_J_FALSE : UF_J_NULL;
        rc = scan_literal(sc, c == 't' ? "true" : c == 'f' ? "false" : "null");
    }
    m->val = (const char *)sc->s + from;
    m->val_len = sc->i - from;
    return rc;
}

/* The members of an object at its opening brace, reported one by one: the top-level object
 * (uf_jscan_object) or an element of the top-level array (uf_jscan_items), one level deeper. */
static int scan_members(struct scan *sc, uf_jmember_fn fn, void *arg)
{
    size_t n = 0;
    sc->i++;
    sc->depth++;
    skip_ws(sc);
    if (sc->i < sc->n && sc->s[sc->i] == '}') {
        sc->i++;
        sc->depth--;
        return 0;
    }
    for (;;) {
        struct uf_jmember m;
        skip_ws(sc);
        if (scan_key(sc, &m) < 0)
            return UF_EINVAL;
        if (scan_value(sc, &m) < 0)
            return UF_EINVAL;
        m.index = n++;
        int rc = fn ? fn(arg, &m, sc->err) : 0;
        if (rc != 0)
            return rc;
        skip_ws(sc);
        if (sc->i < sc->n && sc->s[sc->i] == ',') {
            sc->i++;
            continue;
        }
        if (sc->i < sc->n && sc->s[sc->i] == '}') {
            sc->i++;
            sc->depth--;
            return 0;
        }
        return fail(sc, "expected ',' or '}'");
    }
}

static struct scan scanner(const char *s, size_t n, bool trusted, struct uf_err *err)
{
    return (struct scan){ .s = (const unsigned char *)s, .n = n, .trusted = trusted, .err = err };
}

/* What follows a whole text's value: blanks only. */
static int scan_end(struct scan *sc)
{
    skip_ws(sc);
    return sc->i < sc->n ? fail(sc, "end of input expected") : 0;
}

static int scan_object(const char *s, size_t n, bool trusted, uf_jmember_fn fn, void *arg,
                       struct uf_err *err)
{
    struct scan sc = scanner(s, n, trusted, err);
    skip_ws(&sc);
    if (sc.i >= n)
        return fail(&sc, "empty input");
    if (sc.s[sc.i] != '{') {
        struct uf_jmember m;
        if (scan_value(&sc, &m) < 0 || scan_end(&sc) < 0)
            return UF_EINVAL;
        return uf_err_set(err, UF_EINVAL, "not a JSON object");
    }
    int rc = scan_members(&sc, fn, arg);
    return rc != 0 ? rc : scan_end(&sc);
}

char uf_jscan_first(const char *s, size_t n)
{
    struct scan sc = { .s = (const unsigned char *)s, .n = n };
    skip_ws(&sc);
    return sc.i < n ? s[sc.i] : '\0';
}

int uf_jscan_object(const char *s, size_t n, uf_jmember_fn fn, void *arg, struct uf_err *err)
{
    return scan_object(s, n, false, fn, arg, err);
}

int uf_jscan_object_trusted(const char *s, size_t n, uf_jmember_fn fn, void *arg,
                            struct uf_err *err)
{
    return scan_object(s, n, true, fn, arg, err);
}

/* Element k of the top-level array (at its first byte), reported to fn; with items, an object
 * element's members are reported first, as they are scanned (the element is then passed over
 * once, not skipped and scanned again by the caller). */
static int scan_element(struct scan *sc, size_t k, bool items, uf_jmember_fn fn, void *arg)
{
    struct uf_jmember m = { .key = NULL, .index = k };
    size_t from = sc->i;
    if (items && sc->i < sc->n && sc->s[sc->i] == '{') {
        int rc = scan_members(sc, fn, arg);
        if (rc != 0)
            return rc;
        m.type = UF_J_OBJECT;
        m.val = (const char *)sc->s + from;
        m.val_len = sc->i - from;
    } else if (scan_value(sc, &m) < 0) {
        return UF_EINVAL;
    }
    return fn ? fn(arg, &m, sc->err) : 0;
}

/* The elements of the top-level array, at its opening bracket. */
static int scan_elements(struct scan *sc, bool items, uf_jmember_fn fn, void *arg)
{
    sc->i++;
    sc->depth = 1;
    skip_ws(sc);
    if (sc->i < sc->n && sc->s[sc->i] == ']') {
        sc->i++;
        return 0;
    }
    for (size_t k = 0;; k++) {
        skip_ws(sc);
        int rc = scan_element(sc, k, items, fn, arg);
        if (rc != 0)
            return rc;
        skip_ws(sc);
        if (sc->i < sc->n && sc->s[sc->i] == ',') {
            sc->i++;
            continue;
        }
        if (sc->i < sc->n && sc->s[sc->i] == ']') {
            sc->i++;
            return 0;
        }
        return fail(sc, "expected ',' or ']'");
    }
}

/* A whole text that must be one array (uf_jscan_array, uf_jscan_items). */
static int scan_array(struct scan *sc, bool items, uf_jmember_fn fn, void *arg)
{
    skip_ws(sc);
    if (sc->i >= sc->n || sc->s[sc->i] != '[') /* say why: malformed, or just not an array */
        return uf_jscan_value((const char *)sc->s, sc->n, false, NULL, sc->err) < 0
                   ? UF_EINVAL
                   : uf_err_set(sc->err, UF_EINVAL, "not a JSON array");
    int rc = scan_elements(sc, items, fn, arg);
    return rc != 0 ? rc : scan_end(sc);
}

int uf_jscan_array(const char *s, size_t n, uf_jmember_fn fn, void *arg, struct uf_err *err)
{
    struct scan sc = scanner(s, n, false, err);
    return scan_array(&sc, false, fn, arg);
}

int uf_jscan_array_trusted(const char *s, size_t n, uf_jmember_fn fn, void *arg, struct uf_err *err)
{
    struct scan sc = scanner(s, n, true, err);
    return scan_array(&sc, false, fn, arg);
}

int uf_jscan_items(const char *s, size_t n, uf_jmember_fn fn, void *arg, struct uf_err *err)
{
    struct scan sc = scanner(s, n, false, err);
    return scan_array(&sc, true, fn, arg);
}

int uf_jscan_items_trusted(const char *s, size_t n, uf_jmember_fn fn, void *arg, struct uf_err *err)
{
    struct scan sc = scanner(s, n, true, err);
    return scan_array(&sc, true, fn, arg);
}

/* The top-level array's elements for uf_jscan_check. */
static int count_element(void *arg, const struct uf_jmember *m, struct uf_err *err)
{
    (void)err;
    struct uf_jcheck *c = arg;
    if (m->type != UF_J_OBJECT && c->non_object == SIZE_MAX)
        c->non_object = m->index;
    c->elements++;
    return 0;
}

/* The whole text's value into c->value; a top-level array's elements counted on the way. */
static int check_value(struct scan *sc, struct uf_jcheck *c)
{
    size_t from = sc->i;
    if (sc->s[sc->i] != '[')
        return scan_value(sc, &c->value);
    int rc = scan_elements(sc, false, count_element, c);
    c->value.type = UF_J_ARRAY;
    c->value.val = (const char *)sc->s + from;
    c->value.val_len = sc->i - from;
    return rc;
}

int uf_jscan_check(const char *s, size_t n, struct uf_jcheck *c, struct uf_err *err)
{
    struct scan sc = scanner(s, n, false, err);
    sc.unique = c->unique_keys;
    sc.numbers = c->numbers ? c : NULL;
    c->value = (struct uf_jmember){ .key = NULL };
    c->elements = 0;
    c->non_object = SIZE_MAX;
    c->bad_number = c->bad_number_why = NULL;
    skip_ws(&sc);
    if (sc.i >= n)
        return fail(&sc, "empty input");
    if (check_value(&sc, c) < 0 || scan_end(&sc) < 0)
        return UF_EINVAL;
    if (c->value.type == UF_J_STRING) { /* the span of the whole text, quotes included */
        c->value.val--;
        c->value.val_len += 2;
    }
    return 0;
}

int uf_jscan_value(const char *s, size_t n, bool unique_keys, struct uf_jmember *out,
                   struct uf_err *err)
{
    struct uf_jcheck c = { .unique_keys = unique_keys };
    int rc = uf_jscan_check(s, n, &c, err);
    if (rc == 0 && out)
        *out = c.value;
    return rc;
}

/* The names' lengths are measured once per pick, not per member and name. */
#define PICK_LENS 64
struct pick {
    const char *const *keys;
    size_t nkeys;
    size_t lens[PICK_LENS];
    struct uf_jmember *out;
};

static bool pick_is(const struct pick *p, size_t i, const struct uf_jmember *m)
{
    return i < PICK_LENS ? uf_jscan_key_is_n(m, p->keys[i], p->lens[i])
                         : uf_jscan_key_is(m, p->keys[i]);
}

static int pick_member(void *arg, const struct uf_jmember *m, struct uf_err *err)
{
    (void)err;
    struct pick *p = arg;
    for (size_t i = 0; i < p->nkeys; i++)
        if (pick_is(p, i, m))
            p->out[i] = *m;
    return 0;
}

static int pick(const char *s, size_t n, bool trusted, const char *const keys[], size_t nkeys,
                struct uf_jmember out[], struct uf_err *err)
{
    struct pick p = { .keys = keys, .nkeys = nkeys, .out = out };
    for (size_t i = 0; i < nkeys; i++) {
        out[i] = (struct uf_jmember){ .key = NULL };
        if (i < PICK_LENS)
            p.lens[i] = strlen(keys[i]);
    }
    return scan_object(s, n, trusted, pick_member, &p, err);
}

int uf_jscan_pick(const char *s, size_t n, const char *const keys[], size_t nkeys,
                  struct uf_jmember out[], struct uf_err *err)
{
    return pick(s, n, false, keys, nkeys, out, err);
}

int uf_jscan_pick_trusted(const char *s, size_t n, const char *const keys[], size_t nkeys,
                          struct uf_jmember out[], struct uf_err *err)
{
    return pick(s, n, true, keys, nkeys, out, err);
}

void uf_jmember_span(const struct uf_jmember *m, const char **start, size_t *len)
{
    const char *end = m->val + m->val_len + (m->type == UF_J_STRING);
    *start = m->key ? m->key - 1 : m->val - (m->type == UF_J_STRING);
    *len = (size_t)(end - *start);
}

static size_t put_utf8(uint32_t u, char *out)
{
    if (u < 0x80) {
        out[0] = (char)u;
        return 1;
    }
    if (u < 0x800) {
        out[0] = (char)(0xc0 | u >> 6);
        out[1] = (char)(0x80 | (u & 0x3f));
        return 2;
    }
    if (u < 0x10000) {
        out[0] = (char)(0xe0 | u >> 12);
        out[1] = (char)(0x80 | (u >> 6 & 0x3f));
        out[2] = (char)(0x80 | (u & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | u >> 18);
    out[1] = (char)(0x80 | (u >> 12 & 0x3f));
    out[2] = (char)(0x80 | (u >> 6 & 0x3f));
    out[3] = (char)(0x80 | (u & 0x3f));
    return 4;
}

size_t uf_jscan_unescape(const char *s, size_t len, char *out)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        bool esc = p[i] == '\\' && i + 1 < len;
        const char *e = esc && p[i + 1] ? strchr(from, p[i + 1]) : NULL;
        uint32_t u = 0, lo = 0;
        if (e) {
            out[o++] = to[e - from];
            i += 2;
        } else if (esc && p[i + 1] == 'u' && i + 6 <= len && hex4(p + i + 2, &u) == 0) {
            i += 6;
            if (u >= 0xd800 && u <= 0xdbff && i + 6 <= len && p[i] == '\\' && p[i + 1] == 'u' &&
                hex4(p + i + 2, &lo) == 0 && lo >= 0xdc00 && lo <= 0xdfff) {
                u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
                i += 6;
            }
            o += put_utf8(u, out + o);
        } else { /* no escape, or a malformed one (only in text no scan checked): kept as is */
            out[o++] = (char)p[i++];
        }
    }
    return o;
}

void uf_jmembers_init(struct uf_jmembers *l)
{
    l->m = l->few;
    l->n = 0;
    l->cap = sizeof l->few / sizeof l->few[0];
}

struct uf_jmember *uf_jmembers_add(struct uf_jmembers *l)
{
    if (l->n == l->cap) {
        l->cap *= 2;
        if (l->m == l->few) {
            l->m = uf_xmalloc(l->cap * sizeof(*l->m));
            memcpy(l->m, l->few, sizeof l->few);
        } else {
            l->m = uf_xrealloc(l->m, l->cap * sizeof(*l->m));
        }
    }
    return &l->m[l->n++];
}

void uf_jmembers_free(struct uf_jmembers *l)
{
    if (l->m != l->few)
        free(l->m);
    uf_jmembers_init(l);
}

const char *uf_jscan_str(const struct uf_jmember *m, char **own, size_t *len)
{
    if (!m->escaped) {
        *len = m->val_len;
        return m->val;
    }
    *own = uf_xmalloc(m->val_len + 1);
    *len = uf_jscan_cstr(m, *own);
    return *own;
}

size_t uf_jscan_cstr(const struct uf_jmember *m, char *out)
{
    size_t n = m->val_len;
    if (m->escaped)
        n = uf_jscan_unescape(m->val, m->val_len, out);
    else
        memcpy(out, m->val, n);
    out[n] = '\0';
    return n;
}

bool uf_jscan_integer(const struct uf_jmember *m, int64_t *out)
{
    char num[24]; /* "-9223372036854775808" is 20 bytes: anything longer does not fit */
    if (!m->val || m->type != UF_J_NUMBER || !m->integer || m->val_len >= sizeof(num))
        return false;
    memcpy(num, m->val, m->val_len);
    num[m->val_len] = '\0';
    errno = 0;
    long long v = strtoll(num, NULL, 10);
    *out = (int64_t)v;
    return errno == 0;
}

double uf_jscan_number(const struct uf_jmember *m)
{
    if (!m->val || m->type != UF_J_NUMBER)
        return NAN;
    int64_t i;
    if (m->integer) /* jansson reads integers as 64-bit ones and refuses larger */
        return uf_jscan_integer(m, &i) ? (double)i : NAN;
    char small[64], *text = m->val_len < sizeof small ? small : uf_xmalloc(m->val_len + 1);
    memcpy(text, m->val, m->val_len);
    text[m->val_len] = '\0';
    double v = strtod(text, NULL);
    if (text != small)
        free(text);
    return isinf(v) ? NAN : v;
}

bool uf_jscan_key_is(const struct uf_jmember *m, const char *name)
{
    return uf_jscan_key_is_n(m, name, strlen(name));
}

bool uf_jscan_key_is_n(const struct uf_jmember *m, const char *name, size_t n)
{
    if (!m->key_escaped)
        return m->key_len == n && memcmp(m->key, name, n) == 0;
    /* An escape is at most 6 bytes per decoded byte: a longer key cannot decode to name. */
    if (n > 256 || m->key_len > 6 * n)
        return false;
    char buf[6 * 256];
    size_t k = uf_jscan_unescape(m->key, m->key_len, buf);
    return k == n && memcmp(buf, name, n) == 0;
}
