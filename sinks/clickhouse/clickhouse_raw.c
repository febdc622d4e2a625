/* sinks/clickhouse/clickhouse_raw.c: RowBinary rows straight from a payload's JSON text.
 * The ETL flows move every Kafka message into a row unchanged, and building a jansson tree per
 * message (then walking it) was most of their CPU. Here one jscan pass over the text (which
 * also checks it strictly) records the span of each top-level field a column uses, then the
 * columns are encoded in table order from those spans. The result must be byte for byte what
 * ch_encode_row writes for the parsed body (tests/test_clickhouse.c compares both on many
 * inputs), so every conversion mirrors jansson's: integers are int64 (strtoll's range), other
 * numbers doubles (strtod; overflow refused), strings UTF-8 with escapes decoded, and a
 * non-string value in a String column is the compact JSON jansson would print (the one case
 * that parses the value with jansson, rare by design). Schemas with nested paths (a.b) and the
 * JSONEachRow format go through jansson whole. Pure functions, no shared state. */
#include "clickhouse.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "jscan.h"
#include "mem.h"
#include "uuid.h"

#define MAX_KEYS 64 /* distinct top-level fields the fast path handles; beyond, jansson */

void ch_schema_index(struct ch_schema *s)
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
}

struct row {
    const struct ch_schema *s;
    size_t next;                      /* where the next key is looked for first */
    bool seen[MAX_KEYS];
    struct uf_jmember vals[MAX_KEYS]; /* by key index, valid when seen */
};

/* Index of the member's key among the schema's keys, or -1. Producers write fields in a fixed
 * order, so the key after the last match is tried first. */
static long find_key(struct row *r, const struct uf_jmember *m)
{
    const struct ch_schema *s = r->s;
    for (size_t k = 0; k < s->nkeys; k++) {
        size_t j = (r->next + k) % s->nkeys;
        bool eq = m->key_escaped ? uf_jscan_key_is(m, s->keys[j])
                                 : m->key_len == s->key_len[j] &&
                                       memcmp(m->key, s->keys[j], m->key_len) == 0;
        if (eq) {
            r->next = j + 1;
            return (long)j;
        }
    }
    return -1;
}

static int on_member(void *arg, const struct uf_jmember *m, struct uf_err *err)
{
    struct row *r = arg;
    long j = find_key(r, m);
    if (j < 0)
        return 0;
    if (r->seen[j])
        return uf_err_set(err, UF_EINVAL, "not JSON: duplicate object key '%s'", r->s->keys[j]);
    r->seen[j] = true;
    r->vals[j] = *m;
    return 0;
}

/* ---- values ---- */

/* A string value as C text: the span itself when it needs no decoding and buf otherwise (or a
 * heap copy, returned in *heap, when longer than cap). */
static const char *text_of(const struct uf_jmember *v, char *buf, size_t cap, size_t *n,
                           char **heap)
{
    char *out = v->val_len < cap ? buf : (*heap = uf_xmalloc(v->val_len + 1));
    if (v->escaped)
        *n = uf_jscan_unescape(v->val, v->val_len, out);
    else
        memcpy(out, v->val, *n = v->val_len);
    out[*n] = '\0';
    return out;
}

/* strtoll's rules, which jansson applies to a number without fraction or exponent. */
static int parse_int(const struct uf_jmember *v, int64_t *out, struct uf_err *err)
{
    errno = 0;
    char *end;
    long long x = strtoll(v->val, &end, 10);
    if (errno == ERANGE)
        return uf_err_set(err, UF_EINVAL, "not JSON: too big integer '%.*s'",
                          (int)v->val_len, v->val);
    *out = x;
    return 0;
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
    *out = strtod(v->val, NULL); /* the scan checked the grammar: strtod stops at its end */
    if (isinf(*out))
        return uf_err_set(err, UF_EINVAL, "not JSON: real number overflow '%.*s'",
                          (int)v->val_len, v->val);
    return 0;
}

/* A non-string value in a String column: jansson's compact JSON of it. */
static int put_json_text(const struct ch_column *c, const struct uf_jmember *v,
                         struct uf_strbuf *sb, struct uf_err *err)
{
    json_error_t je;
    json_t *j = json_loadb(v->val, v->val_len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
    if (!j)
        return uf_err_set(err, UF_EINVAL, "column '%s': not JSON: %s", c->name, je.text);
    char *t = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    size_t n = strlen(t);
    ch_put_uleb(sb, n);
    uf_strbuf_append(sb, t, n);
    free(t);
    json_decref(j);
    return 0;
}

static int put_string(const struct ch_column *c, const struct uf_jmember *v,
                      struct uf_strbuf *sb, struct uf_err *err)
{
    if (!v || v->type == UF_J_NULL) {
        ch_put_uleb(sb, 0);
        return 0;
    }
    if (v->type != UF_J_STRING)
        return put_json_text(c, v, sb, err);
    char buf[512], *heap = NULL;
    size_t n;
    const char *t = v->escaped ? text_of(v, buf, sizeof(buf), &n, &heap) : v->val;
    if (!v->escaped)
        n = v->val_len;
    ch_put_uleb(sb, n);
    uf_strbuf_append(sb, t, n);
    free(heap);
    return 0;
}

static int put_uuid(const struct ch_column *c, const struct uf_jmember *v, struct uf_strbuf *sb,
                    struct uf_err *err)
{
    uint8_t id[16] = { 0 };
    if (v && v->type != UF_J_NULL) {
        char buf[64], *heap = NULL;
        size_t n;
        bool ok = v->type == UF_J_STRING && uf_uuid_parse(text_of(v, buf, sizeof(buf), &n,
                                                                  &heap), id);
        free(heap);
        if (!ok)
            return uf_err_set(err, UF_EINVAL, "column '%s': expected a UUID", c->name);
    }
    ch_put_uuid(sb, id);
    return 0;
}

/* Seconds for a DateTime or Date column, as time_value() in clickhouse_rowbinary.c. */
static int time_secs(const struct ch_column *c, const struct uf_jmember *v, int64_t *secs,
                     struct uf_err *err)
{
    int64_t us;
    double d;
    if (v->type == UF_J_STRING) {
        char buf[128], *heap = NULL;
        size_t n;
        const char *t = text_of(v, buf, sizeof(buf), &n, &heap);
        int rc = ch_parse_time(t, &us) < 0
                     ? uf_err_set(err, UF_EINVAL, "column '%s': '%.40s' is not an RFC 3339 time",
                                  c->name, t)
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

static int put_time(const struct ch_column *c, const struct uf_jmember *v, struct uf_strbuf *sb,
                    struct uf_err *err)
{
    int64_t secs = 0;
    if (v && v->type != UF_J_NULL && time_secs(c, v, &secs, err) < 0)
        return UF_EINVAL;
    if (c->type == CH_DATE)
        ch_put_le(sb, (uint64_t)(secs / 86400), 2);
    else
        ch_put_le(sb, (uint64_t)secs, 4);
    return 0;
}

static int put_float(const struct ch_column *c, const struct uf_jmember *v,
                     struct uf_strbuf *sb, struct uf_err *err)
{
    double d = 0;
    if (v && v->type != UF_J_NULL) {
        if (v->type != UF_J_NUMBER)
            return uf_err_set(err, UF_EINVAL, "column '%s': expected a number", c->name);
        if (number_of(v, &d, err) < 0)
            return UF_EINVAL;
    }
    ch_put_float(sb, c->type, d);
    return 0;
}

/* Integers as int_value() in clickhouse_rowbinary.c: booleans are 0/1, and a whole real number
 * below 9e15 counts as an integer. */
static int put_int(const struct ch_column *c, const struct uf_jmember *v, struct uf_strbuf *sb,
                   struct uf_err *err)
{
    struct ch_int_range r = ch_int_range(c->type);
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
    ch_put_le(sb, (uint64_t)i, r.width);
    return 0;
}

static int put_value(const struct ch_column *c, const struct uf_jmember *v, struct uf_strbuf *sb,
                     struct uf_err *err)
{
    if (c->nullable) {
        bool null = !v || v->type == UF_J_NULL;
        uf_strbuf_append(sb, null ? "\1" : "\0", 1);
        if (null)
            return 0;
    }
    switch (c->type) {
    case CH_STRING: return put_string(c, v, sb, err);
    case CH_UUID: return put_uuid(c, v, sb, err);
    case CH_DATETIME:
    case CH_DATE: return put_time(c, v, sb, err);
    case CH_FLOAT32:
    case CH_FLOAT64: return put_float(c, v, sb, err);
    default: return put_int(c, v, sb, err);
    }
}

/* The text through jansson and ch_encode_row: nested paths, JSONEachRow, very wide rows. */
static int encode_parsed(const struct ch_schema *s, enum ch_format f, const char *raw,
                         size_t len, struct uf_strbuf *sb, struct uf_err *err)
{
    json_error_t je;
    json_t *body = json_loadb(raw, len, JSON_REJECT_DUPLICATES, &je);
    if (!body)
        return uf_err_set(err, UF_EINVAL, "not JSON: %s at byte %d", je.text, je.position);
    int rc = json_is_object(body) ? ch_encode_row(s, f, body, sb, err)
                                  : uf_err_set(err, UF_EINVAL, "not a JSON object");
    json_decref(body);
    return rc;
}

int ch_encode_raw(const struct ch_schema *s, enum ch_format f, const char *raw, size_t len,
                  struct uf_strbuf *sb, struct uf_err *err)
{
    if (f != CH_FMT_ROWBINARY || s->nested || s->nkeys > MAX_KEYS)
        return encode_parsed(s, f, raw, len, sb, err);
    struct uf_err local = { 0 };
    err = err ? err : &local;
    struct row r = { .s = s };
    int rc = uf_jscan_object(raw, len, on_member, &r, err);
    if (rc != 0)
        return rc;
    size_t mark = sb->len;
    for (size_t i = 0; i < s->n && rc == 0; i++) {
        size_t k = s->key_of[i];
        rc = put_value(&s->cols[i], r.seen[k] ? &r.vals[k] : NULL, sb, err);
    }
    if (rc < 0) {
        sb->len = mark;
        if (sb->buf)
            sb->buf[mark] = '\0';
    }
    return rc;
}
