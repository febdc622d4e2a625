/* sinks/clickhouse/clickhouse_raw.c: RowBinary rows straight from a payload's JSON text.
 * One strict jscan pass records the span of each top-level field a column uses; the columns
 * are then encoded in table order from those spans. The bytes must be exactly what
 * uf_clickhouse_encode_row writes for the parsed body (tests/test_clickhouse.c compares both), so
 * every conversion mirrors jansson's. Nested paths and JSONEachRow go through jansson whole. Pure
 * functions, no shared state. Why and how it stays fast: docs/architecture.md,
 * "sinks/clickhouse". */
#include "sinks/clickhouse/clickhouse.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "framework/jscan.h"
#include "framework/mem.h"
#include "framework/uuid.h"

/* Where a key is filed in the schema's key_slot table: its length and first and last bytes
 * are enough to tell a table's column names apart, and cost no loop. */
static unsigned key_hash(const char *key, size_t len)
{
    if (len == 0)
        return 0;
    unsigned h = (unsigned)len * 7u + (unsigned char)key[0] * 31u + (unsigned char)key[len - 1];
    return h & (UF_CLICKHOUSE_KEY_SLOTS - 1);
}

void uf_clickhouse_schema_index(struct uf_clickhouse_schema *s)
{
    s->keys = uf_xcalloc(s->n, sizeof(*s->keys));
    s->key_len = uf_xcalloc(s->n, sizeof(*s->key_len));
    s->key_of = uf_xcalloc(s->n, sizeof(*s->key_of));
    for (size_t i = 0; i < s->n; i++) {
        const char *k = s->cols[i].path[0];
        size_t j = 0;
        while (j < s->nkeys && strcmp(s->keys[j], k) != 0)
            j++;
        if (j == s->nkeys) {
            s->keys[j] = k;
            s->key_len[j] = strlen(k);
            s->nkeys++;
        }
        s->key_of[i] = j;
        s->nested |= s->cols[i].npath > 1;
    }
    memset(s->key_slot, 0, sizeof(s->key_slot));
    for (size_t j = 0; j < s->nkeys && s->nkeys <= UF_CLICKHOUSE_MAX_KEYS; j++) {
        unsigned h = key_hash(s->keys[j], s->key_len[j]);
        while (s->key_slot[h])
            h = (h + 1) & (UF_CLICKHOUSE_KEY_SLOTS - 1);
        s->key_slot[h] = (unsigned char)(j + 1);
    }
}

struct row {
    const struct uf_clickhouse_schema *s;
    uint64_t seen;                                  /* bit per key index */
    struct uf_jmember vals[UF_CLICKHOUSE_MAX_KEYS]; /* by key index, valid when seen */
};

static bool same_bytes(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return false;
    return true;
}

/* Index of the member's key among the schema's keys, or -1: one probe of the key table in the
 * common case. A key written with escapes (rare) is compared decoded, key by key. */
static long find_key(const struct uf_clickhouse_schema *s, const struct uf_jmember *m)
{
    if (m->key_escaped) {
        for (size_t j = 0; j < s->nkeys; j++)
            if (uf_jscan_key_is(m, s->keys[j]))
                return (long)j;
        return -1;
    }
    for (unsigned h = key_hash(m->key, m->key_len);; h = (h + 1) & (UF_CLICKHOUSE_KEY_SLOTS - 1)) {
        unsigned k = s->key_slot[h];
        if (k-- == 0)
            return -1;
        if (s->key_len[k] == m->key_len && same_bytes(s->keys[k], m->key, m->key_len))
            return (long)k;
    }
}

static int on_member(void *arg, const struct uf_jmember *m, struct uf_err *err)
{
    struct row *r = arg;
    long j = find_key(r->s, m);
    if (j < 0)
        return 0;
    uint64_t bit = (uint64_t)1 << j;
    if (r->seen & bit)
        return uf_err_set(err, UF_EINVAL, "not JSON: duplicate object key '%s'", r->s->keys[j]);
    r->seen |= bit;
    r->vals[j] = *m;
    return 0;
}

/* ---- output ---- */

/* n more bytes at the end of sb, counted as written: the caller fills them. A row is many
 * small pieces, so this is the whole cost of appending one (the NUL comes at the row's end). */
static inline unsigned char *grow(struct uf_strbuf *sb, size_t n)
{
    if (sb->len + n >= sb->cap)
        uf_strbuf_reserve(sb, n);
    unsigned char *p = (unsigned char *)sb->buf + sb->len;
    sb->len += n;
    return p;
}

/* width bytes of v, little-endian (jscan.h already requires a little-endian machine). */
static inline void put_le(struct uf_strbuf *sb, uint64_t v, size_t width)
{
    memcpy(grow(sb, width), &v, width);
}

static inline void put_uleb(struct uf_strbuf *sb, uint64_t v)
{
    if (v < 0x80) {
        *grow(sb, 1) = (unsigned char)v;
        return;
    }
    uf_clickhouse_put_uleb(sb, v);
}

static inline void put_bytes(struct uf_strbuf *sb, const char *s, size_t n)
{
    put_uleb(sb, n);
    memcpy(grow(sb, n), s, n);
}

/* ---- values ---- */

/* A string value as C text: the span itself when it needs no decoding and buf otherwise (or a
 * heap copy, returned in *heap, when longer than cap). */
static const char *text_of(const struct uf_jmember *v, char *buf, size_t cap, size_t *n,
                           char **heap)
{
    if (!v->escaped) {
        *n = v->val_len;
        return v->val;
    }
    char *out = v->val_len < cap ? buf : (*heap = uf_xmalloc(v->val_len + 1));
    *n = uf_jscan_unescape(v->val, v->val_len, out);
    out[*n] = '\0';
    return out;
}

/* strtoll's rules, which jansson applies to a number without fraction or exponent. Up to 18
 * digits cannot overflow, so those are read here; longer ones go through strtoll for its range
 * check. */
static int parse_int(const struct uf_jmember *v, int64_t *out, struct uf_err *err)
{
    bool neg = v->val[0] == '-';
    if (v->val_len - neg <= 18) {
        int64_t x = 0;
        for (size_t i = neg; i < v->val_len; i++)
            x = x * 10 + (v->val[i] - '0');
        *out = neg ? -x : x;
        return 0;
    }
    errno = 0;
    char *end;
    long long x = strtoll(v->val, &end, 10);
    if (errno == ERANGE)
        return uf_err_set(err, UF_EINVAL, "not JSON: too big integer '%.*s'", (int)v->val_len,
                          v->val);
    *out = x;
    return 0;
}

/* A decimal without exponent and with at most 15 digits, exactly as strtod reads it: the digits
 * are an integer a double holds exactly, and one division by an exact power of ten rounds
 * correctly (Clinger's fast path), which is strtod's result. false: use strtod. */
static bool fast_decimal(const char *p, size_t n, double *out)
{
    static const double pow10[16] = { 1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                      1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15 };
    bool neg = p[0] == '-';
    uint64_t m = 0;
    int ndigits = 0, nfrac = -1;
    for (size_t i = neg; i < n; i++) {
        if (p[i] == '.') {
            nfrac = 0;
            continue;
        }
        if (p[i] < '0' || p[i] > '9' || ++ndigits > 15)
            return false; /* an exponent, or more digits than a double holds exactly */
        m = m * 10 + (uint64_t)(p[i] - '0');
        nfrac += nfrac >= 0;
    }
    double d = (double)m / pow10[nfrac > 0 ? nfrac : 0];
    *out = neg ? -d : d;
    return true;
}

/* jansson's json_number_value: an integer as a double, or the text through strtod. */
static int number_of(const struct uf_jmember *v, double *out, struct uf_err *err)
{
    if (v->integer) {
        int64_t i;
        if (parse_int(v, &i, err) < 0)
            return UF_EINVAL;
        *out = (double)i;
        return 0;
    }
    if (fast_decimal(v->val, v->val_len, out))
        return 0;
    *out = strtod(v->val, NULL); /* the scan checked the grammar: strtod stops at its end */
    if (isinf(*out))
        return uf_err_set(err, UF_EINVAL, "not JSON: real number overflow '%.*s'", (int)v->val_len,
                          v->val);
    return 0;
}

/* A non-string value in a String column: jansson's compact JSON of it. */
static int put_json_text(const struct uf_clickhouse_column *c, const struct uf_jmember *v,
                         struct uf_strbuf *sb, struct uf_err *err)
{
    json_error_t je;
    json_t *j = json_loadb(v->val, v->val_len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
    if (!j)
        return uf_err_set(err, UF_EINVAL, "column '%s': not JSON: %s", c->name, je.text);
    char *t = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    put_bytes(sb, t, strlen(t));
    free(t);
    json_decref(j);
    return 0;
}

static int put_string(const struct uf_clickhouse_column *c, const struct uf_jmember *v,
                      struct uf_strbuf *sb, struct uf_err *err)
{
    if (!v || v->type == UF_J_NULL) {
        put_uleb(sb, 0);
        return 0;
    }
    if (v->type != UF_J_STRING)
        return put_json_text(c, v, sb, err);
    char buf[512], *heap = NULL;
    size_t n;
    const char *t = text_of(v, buf, sizeof(buf), &n, &heap);
    put_bytes(sb, t, n);
    free(heap);
    return 0;
}

static int put_uuid(const struct uf_clickhouse_column *c, const struct uf_jmember *v,
                    struct uf_strbuf *sb, struct uf_err *err)
{
    uint8_t id[16] = { 0 };
    if (v && v->type != UF_J_NULL) {
        char buf[64], *heap = NULL;
        size_t n = 0;
        const char *t = v->type == UF_J_STRING ? text_of(v, buf, sizeof(buf), &n, &heap) : "";
        bool ok = v->type == UF_J_STRING && uf_uuid_parse_n(t, n, id);
        free(heap);
        if (!ok)
            return uf_err_set(err, UF_EINVAL, "column '%s': expected a UUID", c->name);
    }
    /* Two 64-bit halves, each little-endian: the reverse of the text's byte order. */
    unsigned char *o = grow(sb, 16);
    for (int k = 0; k < 8; k++) {
        o[k] = id[7 - k];
        o[8 + k] = id[15 - k];
    }
    return 0;
}

/* Seconds for a DateTime or Date column, as time_value() in clickhouse_rowbinary.c. */
static int time_secs(const struct uf_clickhouse_column *c, const struct uf_jmember *v,
                     int64_t *secs, struct uf_err *err)
{
    int64_t us;
    double d;
    if (v->type == UF_J_STRING) {
        char buf[128], *heap = NULL;
        size_t n;
        const char *t = text_of(v, buf, sizeof(buf), &n, &heap);
        int rc = uf_clickhouse_parse_time(t, n, &us) < 0
                     ? uf_err_set(err, UF_EINVAL, "column '%s': '%.*s' is not an RFC 3339 time",
                                  c->name, (int)(n < 40 ? n : 40), t)
                     : 0;
        free(heap);
        if (rc < 0)
            return rc;
        *secs = us >= 0 ? us / 1000000 : -1;
    } else if (v->type == UF_J_NUMBER) {
        if (number_of(v, &d, err) < 0)
            return UF_EINVAL;
        /* The cast of the JSON path, kept away from doubles no int64 holds. */
        *secs = d > -1e18 && d < 1e18 ? (int64_t)d : -1;
    } else {
        return uf_err_set(err, UF_EINVAL, "column '%s': expected a time", c->name);
    }
    if (*secs < 0 || *secs > (int64_t)UINT32_MAX)
        return uf_err_set(err, UF_EINVAL, "column '%s': time out of DateTime's range", c->name);
    return 0;
}

static int put_time(const struct uf_clickhouse_column *c, const struct uf_jmember *v,
                    struct uf_strbuf *sb, struct uf_err *err)
{
    int64_t secs = 0;
    if (v && v->type != UF_J_NULL && time_secs(c, v, &secs, err) < 0)
        return UF_EINVAL;
    if (c->type == UF_CLICKHOUSE_DATE)
        put_le(sb, (uint64_t)(secs / 86400), 2);
    else
        put_le(sb, (uint64_t)secs, 4);
    return 0;
}

static int put_float(const struct uf_clickhouse_column *c, const struct uf_jmember *v,
                     struct uf_strbuf *sb, struct uf_err *err)
{
    double d = 0;
    if (v && v->type != UF_J_NULL) {
        if (v->type != UF_J_NUMBER)
            return uf_err_set(err, UF_EINVAL, "column '%s': expected a number", c->name);
        if (number_of(v, &d, err) < 0)
            return UF_EINVAL;
    }
    if (c->type == UF_CLICKHOUSE_FLOAT32) {
        float f = (float)d;
        memcpy(grow(sb, 4), &f, 4);
    } else {
        memcpy(grow(sb, 8), &d, 8);
    }
    return 0;
}

/* Integers as int_value() in clickhouse_rowbinary.c: booleans are 0/1, and a whole real number
 * below 9e15 counts as an integer. */
static int put_int(const struct uf_clickhouse_column *c, const struct uf_jmember *v,
                   struct uf_strbuf *sb, struct uf_err *err)
{
    struct uf_clickhouse_int_range r = uf_clickhouse_int_range(c->type);
    int64_t i = 0;
    double d;
    if (!v || v->type == UF_J_NULL) {
        i = 0;
    } else if (v->type == UF_J_TRUE || v->type == UF_J_FALSE) {
        i = v->type == UF_J_TRUE;
    } else if (v->type == UF_J_NUMBER && v->integer) {
        if (parse_int(v, &i, err) < 0)
            return UF_EINVAL;
    } else if (v->type == UF_J_NUMBER) {
        if (number_of(v, &d, err) < 0)
            return UF_EINVAL;
        if (d != floor(d) || fabs(d) >= 9e15)
            return uf_err_set(err, UF_EINVAL, "column '%s': expected an integer", c->name);
        i = (int64_t)d;
    } else {
        return uf_err_set(err, UF_EINVAL, "column '%s': expected an integer", c->name);
    }
    if (i < r.min || (i > 0 && (uint64_t)i > r.max))
        return uf_err_set(err, UF_EINVAL, "column '%s': %lld out of range for %s", c->name,
                          (long long)i, c->type_sql);
    put_le(sb, (uint64_t)i, r.width);
    return 0;
}

static int put_value(const struct uf_clickhouse_column *c, const struct uf_jmember *v,
                     struct uf_strbuf *sb, struct uf_err *err)
{
    if (c->nullable) {
        bool null = !v || v->type == UF_J_NULL;
        *grow(sb, 1) = null;
        if (null)
            return 0;
    }
    switch (c->type) {
    case UF_CLICKHOUSE_STRING:
        return put_string(c, v, sb, err);
    case UF_CLICKHOUSE_UUID:
        return put_uuid(c, v, sb, err);
    case UF_CLICKHOUSE_DATETIME:
    case UF_CLICKHOUSE_DATE:
        return put_time(c, v, sb, err);
    case UF_CLICKHOUSE_FLOAT32:
    case UF_CLICKHOUSE_FLOAT64:
        return put_float(c, v, sb, err);
    default:
        return put_int(c, v, sb, err);
    }
}

/* The text through jansson and uf_clickhouse_encode_row: nested paths, JSONEachRow, very wide rows.
 */
static int encode_parsed(const struct uf_clickhouse_schema *s, enum uf_clickhouse_format f,
                         const char *raw, size_t len, struct uf_strbuf *sb, struct uf_err *err)
{
    json_error_t je;
    json_t *body = json_loadb(raw, len, JSON_REJECT_DUPLICATES, &je);
    if (!body)
        return uf_err_set(err, UF_EINVAL, "not JSON: %s at byte %d", je.text, je.position);
    int rc = json_is_object(body) ? uf_clickhouse_encode_row(s, f, body, sb, err)
                                  : uf_err_set(err, UF_EINVAL, "not a JSON object");
    json_decref(body);
    return rc;
}

int uf_clickhouse_encode_raw(const struct uf_clickhouse_schema *s, enum uf_clickhouse_format f,
                             const char *raw, size_t len, struct uf_strbuf *sb, struct uf_err *err)
{
    if (f != UF_CLICKHOUSE_FMT_ROWBINARY || s->nested || s->nkeys > UF_CLICKHOUSE_MAX_KEYS)
        return encode_parsed(s, f, raw, len, sb, err);
    struct uf_err local = { 0 };
    err = err ? err : &local;
    struct row r; /* not zeroed whole: only the vals marked seen are read */
    r.s = s;
    r.seen = 0;
    int rc = uf_jscan_object(raw, len, on_member, &r, err);
    if (rc != 0)
        return rc;
    size_t mark = sb->len;
    for (size_t i = 0; i < s->n && rc == 0; i++) {
        size_t k = s->key_of[i];
        rc = put_value(&s->cols[i], r.seen >> k & 1 ? &r.vals[k] : NULL, sb, err);
    }
    if (rc < 0)
        sb->len = mark;
    if (sb->buf)
        sb->buf[sb->len] = '\0';
    return rc;
}
