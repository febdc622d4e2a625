/* validate_check.c: the checks of the `validate` transform, on one value at a time: type,
 * lengths in UTF-8 characters or items, bytes, range, charset, enum, an object's keys and
 * members, UUID case. A value comes as a struct uf_validate_val, from a jansson tree or from JSON
 * text (validate_int.h), and only the few steps that must reach into it (an object's members, an
 * array's size, an enum of objects) look at where it came from. The checks allocate nothing
 * unless a decoded string outgrows the stack. Pure functions over read-only rules. */
#include "stages/validate/validate_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framework/mem.h"
#include "framework/timefmt.h"

static const char *const type_phrases[] = {
    "",          "a string",  "an integer",
    "a number",  "a boolean", "a UUID",
    "an object", "an array",  "an RFC 3339 timestamp",
};

/* ---- values ---- */

void uf_validate_val_tree(const json_t *v, struct uf_validate_val *x)
{
    *x = (struct uf_validate_val){ .tree = v };
    switch (json_typeof(v)) {
    case JSON_STRING:
        x->kind = UF_VK_STRING;
        x->str = json_string_value(v);
        x->len = json_string_length(v);
        x->nul = true;
        break;
    case JSON_INTEGER:
        x->kind = UF_VK_INT;
        x->i = (int64_t)json_integer_value(v);
        x->num = (double)x->i;
        break;
    case JSON_REAL:
        x->kind = UF_VK_REAL;
        x->num = json_real_value(v);
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        x->kind = UF_VK_BOOL;
        x->b = json_is_true(v);
        break;
    case JSON_OBJECT:
        x->kind = UF_VK_OBJECT;
        break;
    case JSON_ARRAY:
        x->kind = UF_VK_ARRAY;
        break;
    case JSON_NULL:
        x->kind = UF_VK_NULL;
        break;
    }
}

const char *uf_validate_buf_text(struct uf_validate_buf *b, const char *s, size_t n, bool escaped,
                                 size_t *len)
{
    b->p = n < sizeof(b->stack) ? b->stack : uf_xmalloc(n + 1);
    if (escaped) {
        *len = uf_jscan_unescape(s, n, b->p); /* decoding never grows a string */
    } else {
        memcpy(b->p, s, n);
        *len = n;
    }
    b->p[*len] = '\0';
    return b->p;
}

void uf_validate_buf_free(struct uf_validate_buf *b)
{
    if (b->p != b->stack)
        free(b->p);
    b->p = NULL;
}

/* A number as jansson reads it: an integer literal within int64 is an integer, any other
 * number a real (jansson refuses an integer beyond int64, so a tree never holds one). */
static void raw_number(const struct uf_jmember *m, struct uf_validate_buf *b,
                       struct uf_validate_val *x)
{
    int64_t i;
    if (uf_jscan_integer(m, &i)) {
        x->kind = UF_VK_INT;
        x->i = i;
        x->num = (double)i;
    } else {
        size_t n;
        const char *s = uf_validate_buf_text(b, m->val, m->val_len, false, &n);
        x->kind = UF_VK_REAL;
        x->num = strtod(s, NULL);
    }
}

void uf_validate_val_text(const struct uf_jmember *m, bool nul, struct uf_validate_buf *b,
                          struct uf_validate_val *x)
{
    *x = (struct uf_validate_val){ .text = m->val, .text_len = m->val_len };
    b->p = NULL;
    switch (m->type) {
    case UF_J_STRING:
        x->kind = UF_VK_STRING;
        x->str = m->val;
        x->len = m->val_len;
        x->nul = m->escaped || nul;
        if (x->nul)
            x->str = uf_validate_buf_text(b, m->val, m->val_len, m->escaped, &x->len);
        break;
    case UF_J_NUMBER:
        raw_number(m, b, x);
        break;
    case UF_J_TRUE:
    case UF_J_FALSE:
        x->kind = UF_VK_BOOL;
        x->b = m->type == UF_J_TRUE;
        break;
    case UF_J_OBJECT:
        x->kind = UF_VK_OBJECT;
        break;
    case UF_J_ARRAY:
        x->kind = UF_VK_ARRAY;
        break;
    case UF_J_NULL:
        x->kind = UF_VK_NULL;
        break;
    }
}

/* ---- checks ---- */

/* Characters in s, or -1 when s is not valid UTF-8 (overlong forms and surrogates included). */
static int64_t utf8_chars(const unsigned char *s, size_t n)
{
    int64_t chars = 0;
    for (size_t i = 0; i < n; chars++) {
        unsigned c = s[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (len == 0 || i + len > n)
            return -1;
        uint32_t cp = len == 1 ? c : c & (0x7F >> len);
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return -1;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        static const uint32_t min_cp[] = { 0, 0, 0x80, 0x800, 0x10000 };
        if (cp < min_cp[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return -1;
        i += len;
    }
    return chars;
}

bool uf_validate_fail(struct uf_validate_failure *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->why, sizeof(f->why), fmt, ap);
    va_end(ap);
    f->key = NULL;
    return false;
}

static bool check_range(struct uf_validate_failure *f, int64_t n, int64_t lo, int64_t hi,
                        const char *unit)
{
    if (lo >= 0 && hi >= 0 && (n < lo || n > hi))
        return uf_validate_fail(f, "must be %lld..%lld %s", (long long)lo, (long long)hi, unit);
    if (lo >= 0 && n < lo)
        return uf_validate_fail(f, "must be at least %lld %s", (long long)lo, unit);
    if (hi >= 0 && n > hi)
        return uf_validate_fail(f, "must be at most %lld %s", (long long)hi, unit);
    return true;
}

/* UUIDs leave validate in lower case, so that every key, row and message built from one
 * compares equal however the client wrote it (one viewer's "AB.." and "ab.." are one). The
 * value's owner writes canon back (the tree) or into a copy of the text (raw). */
static void recase(struct uf_validate_val *v, const uint8_t id[16])
{
    uf_uuid_format(id, v->canon);
    if (memcmp(v->canon, v->str, UF_UUID_STR - 1) != 0) {
        v->str = v->canon;
        v->recased = true;
    }
}

static bool check_string(struct uf_validate_failure *f, struct uf_validate_val *v)
{
    const struct uf_validate_rule *r = f->rule;
    uint8_t id[16];
    int64_t chars = utf8_chars((const unsigned char *)v->str, v->len);
    if (chars < 0)
        return uf_validate_fail(f, "must be valid UTF-8");
    if (r->type == UF_VT_UUID && !uf_uuid_parse_n(v->str, v->len, id))
        return uf_validate_fail(f, "must be a UUID");
    if (r->type == UF_VT_RFC3339 && !uf_time_parse(v->str, &(int64_t){ 0 }))
        return uf_validate_fail(f, "must be an RFC 3339 timestamp");
    if (!check_range(f, chars, r->min_len, r->max_len, "characters"))
        return false;
    if (r->max_bytes >= 0 && (int64_t)v->len > r->max_bytes)
        return uf_validate_fail(f, "must be at most %lld bytes", (long long)r->max_bytes);
    for (size_t i = 0; r->charset_text && i < v->len; i++)
        if ((unsigned char)v->str[i] > 127 || !r->charset[(unsigned char)v->str[i]])
            return uf_validate_fail(f, "must contain only %s", r->charset_text);
    size_t i;
    json_t *p;
    json_array_foreach(r->not_prefix, i, p)
    {
        size_t n = json_string_length(p);
        if (v->len >= n && memcmp(v->str, json_string_value(p), n) == 0)
            return uf_validate_fail(f, "must not start with '%s'", json_string_value(p));
    }
    if (r->type == UF_VT_UUID)
        recase(v, id); /* before enum: the lower-case form is the value from here on */
    return true;
}

static bool check_number(struct uf_validate_failure *f, const struct uf_validate_val *v)
{
    const struct uf_validate_rule *r = f->rule;
    double d = v->num;
    bool low = !isnan(r->min) && d < r->min, high = !isnan(r->max) && d > r->max;
    if (!low && !high)
        return true;
    char lo[32], hi[32]; /* formatted only for the message: %g is dear */
    snprintf(lo, sizeof(lo), "%.15g", r->min);
    snprintf(hi, sizeof(hi), "%.15g", r->max);
    if (!isnan(r->min) && !isnan(r->max))
        return uf_validate_fail(f, "must be between %s and %s", lo, hi);
    return low ? uf_validate_fail(f, "must be at least %s", lo)
               : uf_validate_fail(f, "must be at most %s", hi);
}

/* An object value's members as check_object walks them, from a tree or from text. */
struct objwalk {
    const struct uf_validate_rule *rule;
    int64_t keys;
    bool failed;
    struct uf_validate_failure first; /* the first member that failed */
};

static bool member_ok(struct uf_validate_failure *f, const struct uf_validate_val *x)
{
    const struct uf_validate_rule *r = f->rule;
    bool scalar = x->kind == UF_VK_STRING || x->kind == UF_VK_INT || x->kind == UF_VK_REAL ||
                  x->kind == UF_VK_BOOL;
    if (r->flat && !scalar)
        return uf_validate_fail(f, "must be a string, number or boolean");
    if (r->max_value_bytes >= 0 && x->kind == UF_VK_STRING && (int64_t)x->len > r->max_value_bytes)
        return uf_validate_fail(f, "must be at most %lld bytes", (long long)r->max_value_bytes);
    return true;
}

/* Counts and checks one member; false once the walk may stop. */
static bool visit_member(struct objwalk *w, const char *key, size_t key_len, bool key_escaped,
                         const struct uf_validate_val *x)
{
    w->keys++;
    if (!w->failed && !member_ok(&w->first, x)) {
        w->failed = true;
        w->first.key = key;
        w->first.key_len = key_len;
        w->first.key_escaped = key_escaped;
    }
    /* Too many keys outranks any member's failure: count on while that may still happen. */
    if (w->rule->max_keys >= 0)
        return w->keys <= w->rule->max_keys;
    return !w->failed;
}

static void walk_tree(struct objwalk *w, const json_t *obj)
{
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        struct uf_validate_val x;
        uf_validate_val_tree(v, &x);
        if (!visit_member(w, k, strlen(k), false, &x))
            return;
    }
}

static int text_member(void *arg, const struct uf_jmember *m, struct uf_err *err)
{
    (void)err;
    struct uf_validate_buf b;
    struct uf_validate_val x;
    uf_validate_val_text(m, false, &b, &x);
    bool more = visit_member(arg, m->key, m->key_len, m->key_escaped, &x);
    uf_validate_buf_free(&b);
    return more ? 0 : 1;
}

static bool check_object(struct uf_validate_failure *f, const struct uf_validate_val *v)
{
    const struct uf_validate_rule *r = f->rule;
    if (r->max_keys < 0 && !r->flat && r->max_value_bytes < 0)
        return true;
    struct objwalk w = { .rule = r, .first.rule = r };
    if (v->tree)
        walk_tree(&w, v->tree);
    else /* the item's scan checked this text already (or the source did): trusted */
        uf_jscan_object_trusted(v->text, v->text_len, text_member, &w, NULL);
    if (r->max_keys >= 0 && w.keys > r->max_keys)
        return uf_validate_fail(f, "must have at most %lld keys", (long long)r->max_keys);
    if (w.failed)
        *f = w.first;
    return !w.failed;
}

static int count_element(void *arg, const struct uf_jmember *m, struct uf_err *err)
{
    (void)m, (void)err;
    ++*(size_t *)arg;
    return 0;
}

static size_t array_size(const struct uf_validate_val *v)
{
    size_t n = 0;
    if (v->tree)
        return json_array_size(v->tree);
    uf_jscan_array_trusted(v->text, v->text_len, count_element, &n, NULL); /* as above */
    return n;
}

static bool type_ok(enum uf_validate_type t, const struct uf_validate_val *v)
{
    switch (t) {
    case UF_VT_ANY:
        return true;
    case UF_VT_STRING:
    case UF_VT_UUID:
    case UF_VT_RFC3339:
        return v->kind == UF_VK_STRING;
    case UF_VT_INT:
        return v->kind == UF_VK_INT;
    case UF_VT_NUMBER:
        return v->kind == UF_VK_INT || v->kind == UF_VK_REAL;
    case UF_VT_BOOL:
        return v->kind == UF_VK_BOOL;
    case UF_VT_OBJECT:
        return v->kind == UF_VK_OBJECT;
    case UF_VT_ARRAY:
        return v->kind == UF_VK_ARRAY;
    }
    return false;
}

/* json_equal(e, v) for a value that may have no tree: scalars compare as jansson compares them
 * (an integer never equals a real); an object or array from text is parsed for it, as enums of
 * objects are rare. */
static bool same_value(const json_t *e, const struct uf_validate_val *v)
{
    switch (v->kind) {
    case UF_VK_STRING:
        return json_is_string(e) && json_string_length(e) == v->len &&
               memcmp(json_string_value(e), v->str, v->len) == 0;
    case UF_VK_INT:
        return json_is_integer(e) && json_integer_value(e) == v->i;
    case UF_VK_REAL:
        return json_is_real(e) && json_real_value(e) == v->num;
    case UF_VK_BOOL:
        return json_is_boolean(e) && json_is_true(e) == v->b;
    case UF_VK_NULL:
        return json_is_null(e);
    case UF_VK_OBJECT:
    case UF_VK_ARRAY:
        break;
    }
    if (v->tree)
        return json_equal(e, v->tree);
    json_t *t = json_loadb(v->text, v->text_len, 0, NULL);
    bool eq = json_equal(e, t);
    json_decref(t);
    return eq;
}

static bool check_enum(struct uf_validate_failure *f, const struct uf_validate_val *v)
{
    size_t i;
    const json_t *e;
    json_array_foreach(f->rule->enum_values, i, e) if (same_value(e, v)) return true;
    char list[128] = "";
    json_array_foreach(f->rule->enum_values, i, e)
    {
        char *t = json_is_string(e) ? NULL : json_dumps(e, JSON_ENCODE_ANY);
        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "",
                 t ? t : json_string_value(e));
        free(t);
    }
    return uf_validate_fail(f, "must be one of: %s", list);
}

bool uf_validate_check_value(struct uf_validate_failure *f, struct uf_validate_val *v)
{
    const struct uf_validate_rule *r = f->rule;
    bool ok = true;
    if (!type_ok(r->type, v))
        return uf_validate_fail(f, "must be %s", type_phrases[r->type]);
    if (v->kind == UF_VK_STRING)
        ok = check_string(f, v);
    else if (v->kind == UF_VK_INT || v->kind == UF_VK_REAL)
        ok = check_number(f, v);
    else if (v->kind == UF_VK_OBJECT)
        ok = check_object(f, v);
    else if (v->kind == UF_VK_ARRAY && (r->min_len >= 0 || r->max_len >= 0))
        ok = check_range(f, (int64_t)array_size(v), r->min_len, r->max_len, "items");
    return ok && (!r->enum_values || check_enum(f, v));
}
