/* sinks/clickhouse/clickhouse_rowbinary.c: maps an event body to a table row and encodes it.
 * The mapping is the sink's `columns` option, "name Type [from field.path]", limited to types
 * both ClickHouse 18.16 and current servers know (String, UUID, DateTime('UTC'), Date, integers,
 * floats, Nullable of those). RowBinary is ClickHouse's native row layout; JSONEachRow exists to
 * measure against it. A value that cannot fit its column is reported, never coerced; missing
 * or null fields become the zero value (NULL for Nullable). Pure functions. */
#include "sinks/clickhouse/clickhouse.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "framework/mem.h"
#include "framework/timefmt.h"
#include "framework/uuid.h"

struct type_name {
    const char *sql;
    enum uf_clickhouse_type type;
};

static const struct type_name types[] = {
    { "String", UF_CLICKHOUSE_STRING },
    { "UUID", UF_CLICKHOUSE_UUID },
    { "DateTime('UTC')", UF_CLICKHOUSE_DATETIME },
    { "DateTime", UF_CLICKHOUSE_DATETIME },
    { "Date", UF_CLICKHOUSE_DATE },
    { "UInt8", UF_CLICKHOUSE_UINT8 },
    { "UInt16", UF_CLICKHOUSE_UINT16 },
    { "UInt32", UF_CLICKHOUSE_UINT32 },
    { "UInt64", UF_CLICKHOUSE_UINT64 },
    { "Int8", UF_CLICKHOUSE_INT8 },
    { "Int16", UF_CLICKHOUSE_INT16 },
    { "Int32", UF_CLICKHOUSE_INT32 },
    { "Int64", UF_CLICKHOUSE_INT64 },
    { "Float32", UF_CLICKHOUSE_FLOAT32 },
    { "Float64", UF_CLICKHOUSE_FLOAT64 },
};

static bool find_type(const char *sql, size_t n, enum uf_clickhouse_type *t)
{
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        if (strlen(types[i].sql) == n && memcmp(types[i].sql, sql, n) == 0) {
            *t = types[i].type;
            return true;
        }
    }
    return false;
}

static void split_path(struct uf_clickhouse_column *c, const char *path)
{
    c->npath = 1;
    for (const char *p = path; *p; p++)
        c->npath += *p == '.';
    c->path = uf_xcalloc(c->npath, sizeof(char *));
    const char *start = path;
    for (size_t i = 0; i < c->npath; i++) {
        const char *dot = strchr(start, '.');
        size_t n = dot ? (size_t)(dot - start) : strlen(start);
        c->path[i] = uf_xstrndup(start, n);
        start += n + 1;
    }
}

static bool valid_ident(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char)s[i]) && s[i] != '_')
            return false;
    }
    return true;
}

/* Parses "name Type [from path]" into c. */
static int parse_spec(struct uf_clickhouse_column *c, const char *spec, struct uf_err *err)
{
    const char *sp = strchr(spec, ' ');
    if (!sp || !valid_ident(spec, (size_t)(sp - spec)))
        return uf_err_set(err, UF_EINVAL, "'%s': expected \"name Type [from field]\"", spec);
    c->name = uf_xstrndup(spec, (size_t)(sp - spec));
    const char *type = sp + 1;
    const char *from = strstr(type, " from ");
    size_t tlen = from ? (size_t)(from - type) : strlen(type);
    c->type_sql = uf_xstrndup(type, tlen);
    const char *inner = c->type_sql;
    size_t ilen = tlen;
    if (strncmp(inner, "Nullable(", 9) == 0 && inner[tlen - 1] == ')') {
        c->nullable = true;
        inner += 9;
        ilen -= 10;
    }
    if (!find_type(inner, ilen, &c->type))
        return uf_err_set(err, UF_EINVAL,
                          "'%s': unsupported type '%s' (expected String, UUID, "
                          "DateTime('UTC'), Date, [U]Int8..64, Float32/64, or Nullable of those)",
                          spec, c->type_sql);
    const char *path = from ? from + 6 : c->name;
    if (!*path || path[0] == '.' || path[strlen(path) - 1] == '.' || strstr(path, ".."))
        return uf_err_set(err, UF_EINVAL, "'%s': bad field path '%s'", spec, path);
    split_path(c, path);
    return 0;
}

int uf_clickhouse_schema_parse(struct uf_clickhouse_schema *s, const json_t *specs,
                               struct uf_err *err)
{
    memset(s, 0, sizeof(*s));
    if (!json_is_array(specs) || json_array_size(specs) == 0)
        return uf_err_set(err, UF_EINVAL, "columns: expected a non-empty list");
    s->cols = uf_xcalloc(json_array_size(specs), sizeof(*s->cols));
    for (size_t i = 0; i < json_array_size(specs); i++) {
        const char *spec = json_string_value(json_array_get(specs, i));
        s->n++;
        int rc = spec ? parse_spec(&s->cols[i], spec, err)
                      : uf_err_set(err, UF_EINVAL, "expected a string");
        if (rc < 0) {
            uf_err_prefix(err, "columns[%zu]", i);
            return rc;
        }
    }
    uf_clickhouse_schema_index(s);
    return 0;
}

void uf_clickhouse_schema_free(struct uf_clickhouse_schema *s)
{
    for (size_t i = 0; i < s->n; i++) {
        struct uf_clickhouse_column *c = &s->cols[i];
        for (size_t j = 0; j < c->npath; j++)
            free(c->path[j]);
        free(c->path);
        free(c->name);
        free(c->type_sql);
    }
    free(s->cols);
    free(s->keys);
    free(s->key_len);
    free(s->key_of);
    memset(s, 0, sizeof(*s));
}

char *uf_clickhouse_insert_sql(const struct uf_clickhouse_schema *s, const char *db,
                               const char *table, enum uf_clickhouse_format f)
{
    struct uf_strbuf sb = { 0 };
    uf_strbuf_printf(&sb, "INSERT INTO `%s`.`%s` (", db, table);
    for (size_t i = 0; i < s->n; i++)
        uf_strbuf_printf(&sb, "%s`%s`", i ? ", " : "", s->cols[i].name);
    uf_strbuf_puts(&sb, f == UF_CLICKHOUSE_FMT_ROWBINARY ? ") FORMAT RowBinary"
                                                         : ") FORMAT JSONEachRow");
    return uf_strbuf_take(&sb);
}

char *uf_clickhouse_create_sql(const struct uf_clickhouse_schema *s, const char *db,
                               const char *table, const char *engine)
{
    struct uf_strbuf sb = { 0 };
    uf_strbuf_printf(&sb, "CREATE TABLE IF NOT EXISTS `%s`.`%s` (", db, table);
    for (size_t i = 0; i < s->n; i++)
        uf_strbuf_printf(&sb, "%s`%s` %s", i ? ", " : "", s->cols[i].name, s->cols[i].type_sql);
    uf_strbuf_printf(&sb, ") ENGINE = %s", engine);
    return uf_strbuf_take(&sb);
}

/* ---- time ---- */

static bool digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* The zone after the time: "Z" or "+hh:mm" / "-hh:mm", exactly the n bytes at p. */
static int parse_offset(const char *p, size_t n, int64_t *off_s)
{
    int hh, mm;
    if (*p == 'Z' || *p == 'z') {
        *off_s = 0;
        return n == 1 ? 0 : -1;
    }
    if (n != 6 || (*p != '+' && *p != '-') || !digits(p + 1, 2, &hh) || p[3] != ':' ||
        !digits(p + 4, 2, &mm))
        return -1;
    *off_s = (*p == '-' ? -1 : 1) * (int64_t)(hh * 3600 + mm * 60);
    return 0;
}

int uf_clickhouse_parse_time(const char *s, size_t n, int64_t *us)
{
    int y, mo, d, h, mi, sec;
    if (n < 19 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
        !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != ' ') || !digits(s + 11, 2, &h) ||
        s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' || !digits(s + 17, 2, &sec))
        return UF_EINVAL;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return UF_EINVAL;
    const char *p = s + 19, *end = s + n;
    int64_t frac = 0, scale = 1000000;
    if (p < end && *p == '.') {
        for (p++; p < end && isdigit((unsigned char)*p); p++) {
            if (scale > 1) {
                scale /= 10;
                frac += (*p - '0') * scale;
            }
        }
    }
    int64_t off = 0;
    if (p < end && parse_offset(p, (size_t)(end - p), &off) < 0)
        return UF_EINVAL;
    int64_t secs = uf_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
    *us = (secs - off) * 1000000 + frac;
    return 0;
}

/* ---- values ---- */

/* The field the column comes from, or NULL when missing. */
static const json_t *lookup(const struct uf_clickhouse_column *c, const json_t *body)
{
    const json_t *v = body;
    for (size_t i = 0; i < c->npath && v; i++)
        v = json_is_object(v) ? json_object_get(v, c->path[i]) : NULL;
    return v;
}

void uf_clickhouse_put_uleb(struct uf_strbuf *sb, uint64_t v)
{
    char b[10];
    size_t n = 0;
    do {
        b[n] = (char)(v & 0x7f);
        v >>= 7;
        if (v)
            b[n] |= (char)0x80;
        n++;
    } while (v);
    uf_strbuf_append(sb, b, n);
}

static void put_le(struct uf_strbuf *sb, uint64_t v, size_t width)
{
    char b[8];
    for (size_t i = 0; i < width; i++)
        b[i] = (char)(v >> (8 * i));
    uf_strbuf_append(sb, b, width);
}

static void put_uuid(struct uf_strbuf *sb, const uint8_t id[16])
{
    /* Two 64-bit halves, each little-endian: the reverse of the text's byte order. */
    char b[16];
    for (int h = 0; h < 2; h++)
        for (int k = 0; k < 8; k++)
            b[h * 8 + k] = (char)id[h * 8 + 7 - k];
    uf_strbuf_append(sb, b, 16);
}

static void put_float(struct uf_strbuf *sb, enum uf_clickhouse_type t, double d)
{
    uint64_t bits;
    if (t == UF_CLICKHOUSE_FLOAT32) {
        float f = (float)d;
        uint32_t b32;
        memcpy(&b32, &f, 4);
        bits = b32;
    } else {
        memcpy(&bits, &d, 8);
    }
    put_le(sb, bits, t == UF_CLICKHOUSE_FLOAT32 ? 4 : 8);
}

/* Text of a value for a String column: strings as they are, anything else as compact JSON. */
static char *string_value(const json_t *v, size_t *n)
{
    if (!v || json_is_null(v)) {
        *n = 0;
        return uf_xstrdup("");
    }
    if (json_is_string(v)) {
        *n = json_string_length(v);
        return uf_xstrndup(json_string_value(v), *n);
    }
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    *n = strlen(s);
    return s;
}

struct uf_clickhouse_int_range uf_clickhouse_int_range(enum uf_clickhouse_type t)
{
    switch (t) {
    case UF_CLICKHOUSE_UINT8:
        return (struct uf_clickhouse_int_range){ 0, UINT8_MAX, 1 };
    case UF_CLICKHOUSE_UINT16:
        return (struct uf_clickhouse_int_range){ 0, UINT16_MAX, 2 };
    case UF_CLICKHOUSE_UINT32:
        return (struct uf_clickhouse_int_range){ 0, UINT32_MAX, 4 };
    case UF_CLICKHOUSE_UINT64:
        return (struct uf_clickhouse_int_range){ 0, UINT64_MAX, 8 };
    case UF_CLICKHOUSE_INT8:
        return (struct uf_clickhouse_int_range){ INT8_MIN, INT8_MAX, 1 };
    case UF_CLICKHOUSE_INT16:
        return (struct uf_clickhouse_int_range){ INT16_MIN, INT16_MAX, 2 };
    case UF_CLICKHOUSE_INT32:
        return (struct uf_clickhouse_int_range){ INT32_MIN, INT32_MAX, 4 };
    default:
        return (struct uf_clickhouse_int_range){ INT64_MIN, INT64_MAX, 8 };
    }
}

static int int_value(const struct uf_clickhouse_column *c, const json_t *v, int64_t *out,
                     struct uf_err *err)
{
    struct uf_clickhouse_int_range r = uf_clickhouse_int_range(c->type);
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return 0;
    }
    if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)) &&
        fabs(json_real_value(v)) < 9e15) {
        *out = (int64_t)json_real_value(v);
    } else if (json_is_integer(v)) {
        *out = json_integer_value(v);
    } else {
        return uf_err_set(err, UF_EINVAL, "column '%s': expected an integer", c->name);
    }
    if (*out < r.min || (*out > 0 && (uint64_t)*out > r.max))
        return uf_err_set(err, UF_EINVAL, "column '%s': %lld out of range for %s", c->name,
                          (long long)*out, c->type_sql);
    return 0;
}

/* Seconds since the epoch for DateTime/Date: an RFC 3339 string or a number of seconds. */
static int time_value(const struct uf_clickhouse_column *c, const json_t *v, int64_t *secs,
                      struct uf_err *err)
{
    int64_t us;
    if (json_is_string(v)) {
        if (uf_clickhouse_parse_time(json_string_value(v), json_string_length(v), &us) < 0)
            return uf_err_set(err, UF_EINVAL, "column '%s': '%.40s' is not an RFC 3339 time",
                              c->name, json_string_value(v));
        *secs = us >= 0 ? us / 1000000 : -1;
    } else if (json_is_number(v)) {
        *secs = (int64_t)json_number_value(v);
    } else {
        return uf_err_set(err, UF_EINVAL, "column '%s': expected a time", c->name);
    }
    if (*secs < 0 || *secs > (int64_t)UINT32_MAX)
        return uf_err_set(err, UF_EINVAL, "column '%s': time out of DateTime's range", c->name);
    return 0;
}

static int uuid_value(const struct uf_clickhouse_column *c, const json_t *v, uint8_t id[16],
                      struct uf_err *err)
{
    if (!json_is_string(v) || !uf_uuid_parse(json_string_value(v), id))
        return uf_err_set(err, UF_EINVAL, "column '%s': expected a UUID", c->name);
    return 0;
}

/* ---- RowBinary ---- */

static int rb_value(const struct uf_clickhouse_column *c, const json_t *v, struct uf_strbuf *sb,
                    struct uf_err *err)
{
    int64_t i = 0, secs = 0;
    uint8_t id[16] = { 0 };
    bool zero = !v || json_is_null(v);
    switch (c->type) {
    case UF_CLICKHOUSE_STRING: {
        size_t n;
        char *s = string_value(v, &n);
        uf_clickhouse_put_uleb(sb, n);
        uf_strbuf_append(sb, s, n);
        free(s);
        return 0;
    }
    case UF_CLICKHOUSE_UUID:
        if (!zero && uuid_value(c, v, id, err) < 0)
            return UF_EINVAL;
        put_uuid(sb, id);
        return 0;
    case UF_CLICKHOUSE_DATETIME:
    case UF_CLICKHOUSE_DATE:
        if (!zero && time_value(c, v, &secs, err) < 0)
            return UF_EINVAL;
        if (c->type == UF_CLICKHOUSE_DATE)
            put_le(sb, (uint64_t)(secs / 86400), 2);
        else
            put_le(sb, (uint64_t)secs, 4);
        return 0;
    case UF_CLICKHOUSE_FLOAT32:
    case UF_CLICKHOUSE_FLOAT64: {
        if (!zero && !json_is_number(v))
            return uf_err_set(err, UF_EINVAL, "column '%s': expected a number", c->name);
        put_float(sb, c->type, zero ? 0 : json_number_value(v));
        return 0;
    }
    default:
        if (!zero && int_value(c, v, &i, err) < 0)
            return UF_EINVAL;
        put_le(sb, (uint64_t)i, uf_clickhouse_int_range(c->type).width);
        return 0;
    }
}

/* ---- JSONEachRow ---- */

static void put_json_str(struct uf_strbuf *sb, const char *s, size_t n)
{
    json_t *j = json_stringn(s, n);
    char *t = j ? json_dumps(j, JSON_ENCODE_ANY) : uf_xstrdup("\"\"");
    uf_strbuf_puts(sb, t);
    free(t);
    json_decref(j);
}

static int je_value(const struct uf_clickhouse_column *c, const json_t *v, struct uf_strbuf *sb,
                    struct uf_err *err)
{
    bool zero = !v || json_is_null(v);
    if (zero && c->nullable) {
        uf_strbuf_puts(sb, "null");
        return 0;
    }
    if (c->type == UF_CLICKHOUSE_STRING || (c->type == UF_CLICKHOUSE_UUID && json_is_string(v))) {
        /* UUID text goes as it is: the server checks it (which makes bad rows observable). */
        size_t n;
        char *s = string_value(v, &n);
        put_json_str(sb, s, n);
        free(s);
        return 0;
    }
    struct uf_strbuf tmp = { 0 };
    int rc = rb_value(c, v, &tmp, err);
    if (rc == 0 && (c->type == UF_CLICKHOUSE_DATETIME || c->type == UF_CLICKHOUSE_DATE)) {
        int64_t secs = 0;
        if (!zero)
            time_value(c, v, &secs, err);
        time_t t = (time_t)secs;
        struct tm tm;
        gmtime_r(&t, &tm);
        char b[32];
        strftime(b, sizeof(b),
                 c->type == UF_CLICKHOUSE_DATE ? "\"%Y-%m-%d\"" : "\"%Y-%m-%d %H:%M:%S\"", &tm);
        uf_strbuf_puts(sb, b);
    } else if (rc == 0 && c->type == UF_CLICKHOUSE_UUID) {
        uf_strbuf_puts(sb, "\"00000000-0000-0000-0000-000000000000\"");
    } else if (rc == 0) {
        char *s = zero ? uf_xstrdup("0") : json_dumps(v, JSON_ENCODE_ANY);
        uf_strbuf_puts(sb, json_is_boolean(v) ? (json_is_true(v) ? "1" : "0") : s);
        free(s);
    }
    uf_strbuf_free(&tmp);
    return rc;
}

int uf_clickhouse_encode_row(const struct uf_clickhouse_schema *s, enum uf_clickhouse_format f,
                             const json_t *body, struct uf_strbuf *sb, struct uf_err *err)
{
    size_t mark = sb->len;
    int rc = 0;
    if (f == UF_CLICKHOUSE_FMT_JSONEACHROW)
        uf_strbuf_puts(sb, "{");
    for (size_t i = 0; i < s->n && rc == 0; i++) {
        const struct uf_clickhouse_column *c = &s->cols[i];
        const json_t *v = lookup(c, body);
        if (f == UF_CLICKHOUSE_FMT_JSONEACHROW) {
            uf_strbuf_printf(sb, "%s\"%s\":", i ? "," : "", c->name);
            rc = je_value(c, v, sb, err);
            continue;
        }
        if (c->nullable) {
            bool null = !v || json_is_null(v);
            uf_strbuf_append(sb, null ? "\1" : "\0", 1);
            if (null)
                continue;
        }
        rc = rb_value(c, v, sb, err);
    }
    if (rc == 0 && f == UF_CLICKHOUSE_FMT_JSONEACHROW)
        uf_strbuf_puts(sb, "}\n");
    if (rc < 0) {
        sb->len = mark;
        if (sb->buf)
            sb->buf[mark] = '\0';
    }
    return rc;
}
