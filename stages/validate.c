/* stages/validate.c: the `validate` transform: declarative field rules, checked at the door.
 * `rules` maps a rule set name (a route name from meta.route, or an event `type`, see `match`)
 * to field rules: a dotted path into the event body ("body.text", "params.movie_id",
 * "query.limit", or "type" for split items) and its checks: required, type (string, int,
 * number, bool, uuid, object, array, rfc3339), min/max_length (UTF-8 characters, or items for
 * arrays), min/max (numbers), charset ("[a-z0-9._-]"), enum, max_bytes, max_keys, flat and
 * max_value_bytes (objects such as props), default, coerce (query strings to numbers/booleans)
 * and status. A string rule is shorthand for {type: <it>, required: true}.
 * The first failing check finishes the event with 422 (or the rule's status) and the body
 * {"error":{"code":"invalid_field","message":"body.text: must be 1..5000 characters",
 * "field":"text","index":N}}, where index is the item of a split request (meta.index).
 * With `items` (a dotted path, `body` for the http source's batch routes), an event whose body
 * holds an array there is checked item by item: rule paths are relative to each item, the rule
 * set is chosen per item (with `match: type`, by the item's type), and the first invalid item
 * rejects the whole event ("events[3].type: ...", index 3), so nothing of the batch goes on.
 * Raw events (the http source's batch routes when every stage downstream takes them: the body's
 * text, one object or an array of objects, no tree) are checked straight from the text with
 * jscan, by the same check functions as trees (struct vval is what both paths hand them), with
 * the same failures; a valid one goes on as it came, except that UUIDs are lower-cased as in a
 * tree (the text is then the event's own copy). That needs rules a text allows (raw_ok): items
 * set to body, every path one top-level name of an item, no default and no coerce (they would
 * rewrite the body).
 * It does not authorise or look anything up. Rules are read-only after init; process() is
 * thread-safe and allocates nothing per item in the common case. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "jscan.h"
#include "jsonpath.h"
#include "mem.h"
#include "stage.h"
#include "uuid.h"
#include "timefmt.h"

enum vtype { T_ANY, T_STRING, T_INT, T_NUMBER, T_BOOL, T_UUID, T_OBJECT, T_ARRAY, T_RFC3339 };
static const char *const type_names[] = { "any",    "string", "int",   "number", "bool",
                                          "uuid",   "object", "array", "rfc3339", NULL };
static const char *const type_phrases[] = {
    "",         "a string", "an integer", "a number",
    "a boolean", "a UUID",  "an object",  "an array", "an RFC 3339 timestamp",
};

struct vrule {
    char *path;
    char **parts;
    size_t nparts;
    const char *field; /* path without its body./params./query. prefix */
    size_t key;        /* a one-name path: its index in validate_ctx.keys; else SIZE_MAX */
    enum vtype type;
    bool required, coerce, flat;
    int64_t min_len, max_len, max_bytes, max_keys, max_value_bytes; /* -1 when unset */
    double min, max;                                                /* NAN when unset */
    bool charset[128];
    char *charset_text;
    json_t *enum_values, *def;
    int status;
};

struct vset {
    const char *name; /* borrowed from the rules option */
    struct vrule *rules;
    size_t n;
};

struct validate_ctx {
    json_t *rules_opt;
    char *items;
    int match, unmatched;
    int64_t status;

    struct vset *sets;
    size_t nsets;
    /* What a raw item's members are picked by (uf_jscan_pick): every one-name rule path of
     * every set, and "type" (at type_key) with match: type. Borrowed from the rules. */
    const char **keys;
    size_t nkeys, type_key;
    bool raw_ok; /* the rules can be checked on text (validate_raw_ok) */
};

static const char *const match_values[] = { "route", "type", NULL };
static const char *const unmatched_values[] = { "pass", "reject", NULL };

static const struct uf_option validate_options[] = {
    { .name = "rules", .type = UF_OPT_MAP, .flags = UF_OPT_REQUIRED,
      .desc = "Rule sets: name to {field path: checks} (see docs/http.md)",
      .offset = offsetof(struct validate_ctx, rules_opt) },
    { .name = "items", .type = UF_OPT_STR,
      .desc = "Dotted path of an array of items (batch routes: body); when an event has one, "
              "the rules apply to each item and one invalid item rejects the whole event",
      .offset = offsetof(struct validate_ctx, items) },
    { .name = "match", .type = UF_OPT_ENUM, .def = "route", .values = match_values,
      .desc = "What names the rule set of an event: meta.route or the body's type",
      .offset = offsetof(struct validate_ctx, match) },
    { .name = "unmatched", .type = UF_OPT_ENUM, .def = "pass", .values = unmatched_values,
      .desc = "Events without a rule set: pass them on, or reject them with 422",
      .offset = offsetof(struct validate_ctx, unmatched) },
    { .name = "status", .type = UF_OPT_INT, .def = "422", .min = 400, .max = 499,
      .desc = "Status of a failed check unless the rule sets its own",
      .offset = offsetof(struct validate_ctx, status) },
    { 0 },
};

/* ---- parsing the rules (init) ---- */

static const char *const rule_keys[] = { "required",  "type",      "min_length", "max_length",
                                         "min",       "max",       "charset",    "enum",
                                         "max_bytes", "max_keys",  "flat",       "max_value_bytes",
                                         "default",   "coerce",    "status",     NULL };

static int get_bool(const json_t *v, bool *out, struct uf_err *err)
{
    const char *s = json_string_value(v);
    if (json_is_boolean(v) || (s && (!strcmp(s, "true") || !strcmp(s, "false")))) {
        *out = json_is_true(v) || (s && !strcmp(s, "true"));
        return 0;
    }
    return uf_err_set(err, UF_EINVAL, "expected true or false");
}

static int get_num(const json_t *v, double *out, struct uf_err *err)
{
    char *end = NULL;
    const char *s = json_string_value(v);
    if (json_is_number(v))
        *out = json_number_value(v);
    else if (s && *s && (*out = strtod(s, &end), *end == '\0'))
        return 0;
    else
        return uf_err_set(err, UF_EINVAL, "expected a number");
    return 0;
}

static int get_count(const json_t *v, int64_t *out, struct uf_err *err)
{
    double d;
    if (get_num(v, &d, err) || d < 0 || d != floor(d) || d > 1e15)
        return uf_err_set(err, UF_EINVAL, "expected a whole number >= 0");
    *out = (int64_t)d;
    return 0;
}

static int parse_charset(struct vrule *r, const char *s, struct uf_err *err)
{
    size_t n = strlen(s);
    bool br = n >= 2 && s[0] == '[' && s[n - 1] == ']';
    const char *p = s + br, *end = s + n - br;
    if (p == end)
        return uf_err_set(err, UF_EINVAL, "expected characters such as [a-z0-9._-]");
    for (; p < end; p++) {
        unsigned char lo = (unsigned char)*p, hi = lo;
        if (p + 2 < end && p[1] == '-') {
            hi = (unsigned char)p[2];
            p += 2;
        }
        if (lo > 127 || hi > 127 || lo > hi)
            return uf_err_set(err, UF_EINVAL, "'%s' is not an ASCII character set", s);
        for (unsigned c = lo; c <= hi; c++)
            r->charset[c] = true;
    }
    r->charset_text = br ? uf_xstrdup(s) : uf_xasprintf("[%s]", s);
    return 0;
}

static int parse_type(struct vrule *r, const json_t *v, struct uf_err *err)
{
    const char *s = json_string_value(v);
    for (int i = 1; s && type_names[i]; i++)
        if (strcmp(s, type_names[i]) == 0) {
            r->type = (enum vtype)i;
            return 0;
        }
    return uf_err_set(err, UF_EINVAL,
                      "expected one of: string, int, number, bool, uuid, object, array, rfc3339");
}

static int apply_key(struct vrule *r, const char *k, const json_t *v, struct uf_err *err)
{
    double d;
    int64_t n = 0;
    if (!strcmp(k, "required"))
        return get_bool(v, &r->required, err);
    if (!strcmp(k, "coerce"))
        return get_bool(v, &r->coerce, err);
    if (!strcmp(k, "flat"))
        return get_bool(v, &r->flat, err);
    if (!strcmp(k, "type"))
        return parse_type(r, v, err);
    if (!strcmp(k, "min") || !strcmp(k, "max")) {
        if (get_num(v, &d, err))
            return UF_EINVAL;
        *(k[1] == 'i' ? &r->min : &r->max) = d;
        return 0;
    }
    if (!strcmp(k, "charset"))
        return json_is_string(v) ? parse_charset(r, json_string_value(v), err)
                                 : uf_err_set(err, UF_EINVAL, "expected a string");
    if (!strcmp(k, "enum")) {
        if (!json_is_array(v) || json_array_size(v) == 0)
            return uf_err_set(err, UF_EINVAL, "expected a non-empty list");
        r->enum_values = json_incref((json_t *)v);
        return 0;
    }
    if (!strcmp(k, "default")) {
        r->def = json_incref((json_t *)v);
        return 0;
    }
    if (get_count(v, &n, err))
        return UF_EINVAL;
    if (!strcmp(k, "status")) {
        if (n < 400 || n > 499)
            return uf_err_set(err, UF_EINVAL, "expected a 4xx status");
        r->status = (int)n;
    } else
        *(!strcmp(k, "min_length")  ? &r->min_len
          : !strcmp(k, "max_length") ? &r->max_len
          : !strcmp(k, "max_bytes")  ? &r->max_bytes
          : !strcmp(k, "max_keys")   ? &r->max_keys
                                     : &r->max_value_bytes) = n;
    return 0;
}

static void split_path(struct vrule *r)
{
    for (const char *p = r->path; *p;) {
        size_t n = strcspn(p, ".");
        r->parts = uf_xrealloc(r->parts, (r->nparts + 1) * sizeof(char *));
        r->parts[r->nparts++] = uf_xstrndup(p, n);
        p += n + (p[n] == '.');
    }
    const char *first = r->parts[0];
    bool prefix = r->nparts > 1 && (!strcmp(first, "body") || !strcmp(first, "params") ||
                                    !strcmp(first, "query"));
    r->field = prefix ? r->path + strlen(first) + 1 : r->path;
}

static int parse_rule(struct vrule *r, const char *path, const json_t *spec, int status,
                      struct uf_err *err)
{
    r->path = uf_xstrdup(path);
    r->min_len = r->max_len = r->max_bytes = r->max_keys = r->max_value_bytes = -1;
    r->min = r->max = NAN;
    r->status = status;
    if (!*path || path[0] == '.' || path[strlen(path) - 1] == '.' || strstr(path, ".."))
        return uf_err_set(err, UF_EINVAL, "'%s' is not a dotted field path", path);
    split_path(r);
    if (json_is_string(spec)) {
        r->required = true;
        return parse_type(r, spec, err);
    }
    if (!json_is_object(spec))
        return uf_err_set(err, UF_EINVAL, "expected a mapping of checks or a type name");
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)spec, k, v) {
        size_t i = 0;
        while (rule_keys[i] && strcmp(rule_keys[i], k))
            i++;
        const char *guess = NULL;
        for (size_t j = 0; !rule_keys[i] && rule_keys[j] && !guess; j++)
            guess = uf_edit_distance(rule_keys[j], k) <= 3 ? rule_keys[j] : NULL;
        if (!rule_keys[i])
            return uf_err_set(err, UF_EINVAL, "unknown check '%s'%s%s%s", k,
                              guess ? " (did you mean '" : "", guess ? guess : "",
                              guess ? "'?)" : "");
        if (apply_key(r, k, v, err)) {
            uf_err_prefix(err, "%s", k);
            return UF_EINVAL;
        }
    }
    return 0;
}

static int parse_set(struct vset *set, const char *name, const json_t *fields, int status,
                     struct uf_err *err)
{
    set->name = name;
    if (!json_is_object(fields))
        return uf_err_set(err, UF_EINVAL, "expected a mapping of field paths");
    set->rules = uf_xcalloc(json_object_size(fields) + 1, sizeof(struct vrule));
    const char *path;
    const json_t *spec;
    json_object_foreach((json_t *)fields, path, spec) {
        if (parse_rule(&set->rules[set->n++], path, spec, status, err)) {
            uf_err_prefix(err, "%s", path);
            return UF_EINVAL;
        }
    }
    return 0;
}

static size_t key_index(struct validate_ctx *vc, const char *name)
{
    for (size_t i = 0; i < vc->nkeys; i++)
        if (strcmp(vc->keys[i], name) == 0)
            return i;
    vc->keys = uf_xrealloc(vc->keys, (vc->nkeys + 1) * sizeof(*vc->keys));
    vc->keys[vc->nkeys] = name;
    return vc->nkeys++;
}

/* Indexes the names raw items are read by, and decides whether raw events can be checked: the
 * text is the items (items: body, as the http source's envelope holds them), so every path
 * must name a member of an item, and nothing may rewrite it (default, coerce). */
static void index_keys(struct validate_ctx *vc)
{
    vc->raw_ok = vc->items && strcmp(vc->items, "body") == 0;
    for (size_t i = 0; i < vc->nsets; i++)
        for (size_t j = 0; j < vc->sets[i].n; j++) {
            struct vrule *r = &vc->sets[i].rules[j];
            r->key = r->nparts == 1 ? key_index(vc, r->parts[0]) : SIZE_MAX;
            vc->raw_ok &= r->nparts == 1 && !r->def && !r->coerce;
        }
    vc->type_key = vc->match == 1 ? key_index(vc, "type") : SIZE_MAX;
}

static int validate_init(struct uf_stage *st, void *ctx, struct uf_err *err)
{
    struct validate_ctx *vc = ctx;
    if (!json_is_object(vc->rules_opt) || json_object_size(vc->rules_opt) == 0)
        return uf_err_set(err, UF_EINVAL, "rules: expected a non-empty mapping");
    vc->sets = uf_xcalloc(json_object_size(vc->rules_opt), sizeof(struct vset));
    const char *name;
    const json_t *fields;
    json_object_foreach(vc->rules_opt, name, fields) {
        if (parse_set(&vc->sets[vc->nsets++], name, fields, (int)vc->status, err)) {
            uf_err_prefix(err, "rules: %s", name);
            return UF_EINVAL;
        }
    }
    index_keys(vc);
    return 0;
}

static bool validate_raw_ok(const void *ctx)
{
    return ((const struct validate_ctx *)ctx)->raw_ok;
}

/* ---- values under check ---- */

/* A value under check, read from a jansson tree or from JSON text (raw events): the checks see
 * only this, so both paths apply the very same rules. */
enum vkind { V_NULL, V_STRING, V_INT, V_REAL, V_BOOL, V_OBJECT, V_ARRAY };

struct vval {
    enum vkind kind;
    const char *str;    /* strings: the decoded bytes, NUL-terminated when nul */
    size_t len;
    bool nul;
    int64_t i;          /* V_INT */
    double num;         /* V_INT and V_REAL */
    bool b;             /* V_BOOL */
    const json_t *tree; /* the tree path's value (what objects and arrays are walked from) */
    const char *text;   /* the raw path's value text (objects and arrays: the whole of it) */
    size_t text_len;
    bool recased;       /* a UUID that is not in lower case: str now points at canon */
    char canon[UF_UUID_STR];
};

static void tree_val(const json_t *v, struct vval *x)
{
    *x = (struct vval){ .tree = v };
    switch (json_typeof(v)) {
    case JSON_STRING:
        x->kind = V_STRING;
        x->str = json_string_value(v);
        x->len = json_string_length(v);
        x->nul = true;
        break;
    case JSON_INTEGER:
        x->kind = V_INT;
        x->i = (int64_t)json_integer_value(v);
        x->num = (double)x->i;
        break;
    case JSON_REAL:
        x->kind = V_REAL;
        x->num = json_real_value(v);
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        x->kind = V_BOOL;
        x->b = json_is_true(v);
        break;
    case JSON_OBJECT: x->kind = V_OBJECT; break;
    case JSON_ARRAY: x->kind = V_ARRAY; break;
    case JSON_NULL: x->kind = V_NULL; break;
    }
}

/* Room for a string decoded from JSON text: on the stack for the usual short one, on the heap
 * past it (a body may hold strings up to max_body). Get room once, free once. */
struct sbuf {
    char *p;
    char stack[256];
};

static const char *sbuf_text(struct sbuf *b, const char *s, size_t n, bool escaped, size_t *len)
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

static void sbuf_free(struct sbuf *b)
{
    if (b->p != b->stack)
        free(b->p);
    b->p = NULL;
}

/* A number as jansson reads it: an integer literal within int64 is an integer, any other
 * number a real (jansson refuses an integer beyond int64, so a tree never holds one). */
static void raw_number(const struct uf_jmember *m, struct sbuf *b, struct vval *x)
{
    size_t n;
    const char *s = sbuf_text(b, m->val, m->val_len, false, &n);
    errno = 0;
    long long i = m->integer ? strtoll(s, NULL, 10) : 0;
    if (m->integer && errno != ERANGE) {
        x->kind = V_INT;
        x->i = i;
        x->num = (double)i;
    } else {
        x->kind = V_REAL;
        x->num = strtod(s, NULL);
    }
}

/* Fills x from a member scanned from text (b holds what x points at until sbuf_free). Strings
 * are decoded when escaped, and copied with a NUL when nul asks for one (timestamps). */
static void raw_val(const struct uf_jmember *m, bool nul, struct sbuf *b, struct vval *x)
{
    *x = (struct vval){ .text = m->val, .text_len = m->val_len };
    b->p = NULL;
    switch (m->type) {
    case UF_J_STRING:
        x->kind = V_STRING;
        x->str = m->val;
        x->len = m->val_len;
        x->nul = m->escaped || nul;
        if (x->nul)
            x->str = sbuf_text(b, m->val, m->val_len, m->escaped, &x->len);
        break;
    case UF_J_NUMBER: raw_number(m, b, x); break;
    case UF_J_TRUE:
    case UF_J_FALSE:
        x->kind = V_BOOL;
        x->b = m->type == UF_J_TRUE;
        break;
    case UF_J_OBJECT: x->kind = V_OBJECT; break;
    case UF_J_ARRAY: x->kind = V_ARRAY; break;
    case UF_J_NULL: x->kind = V_NULL; break;
    }
}

/* ---- checks, shared by both paths ---- */

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

struct failure {
    const struct vrule *rule;
    /* A key inside an object value (flat, max_value_bytes), or NULL: a span of the body's tree
     * or text, valid until the event is finished; escaped keys are decoded for the message. */
    const char *key;
    size_t key_len;
    bool key_escaped;
    char why[160];
};

static bool fail(struct failure *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool fail(struct failure *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->why, sizeof(f->why), fmt, ap);
    va_end(ap);
    f->key = NULL;
    return false;
}

static bool check_range(struct failure *f, int64_t n, int64_t lo, int64_t hi, const char *unit)
{
    if (lo >= 0 && hi >= 0 && (n < lo || n > hi))
        return fail(f, "must be %lld..%lld %s", (long long)lo, (long long)hi, unit);
    if (lo >= 0 && n < lo)
        return fail(f, "must be at least %lld %s", (long long)lo, unit);
    if (hi >= 0 && n > hi)
        return fail(f, "must be at most %lld %s", (long long)hi, unit);
    return true;
}

/* UUIDs leave validate in lower case, so that every key, row and message built from one
 * compares equal however the client wrote it (one viewer's "AB.." and "ab.." are one). The
 * value's owner writes canon back (the tree) or into a copy of the text (raw). */
static void recase(struct vval *v, const uint8_t id[16])
{
    uf_uuid_format(id, v->canon);
    if (memcmp(v->canon, v->str, UF_UUID_STR - 1) != 0) {
        v->str = v->canon;
        v->recased = true;
    }
}

static bool check_string(struct failure *f, struct vval *v)
{
    const struct vrule *r = f->rule;
    uint8_t id[16];
    int64_t chars = utf8_chars((const unsigned char *)v->str, v->len);
    if (chars < 0)
        return fail(f, "must be valid UTF-8");
    if (r->type == T_UUID && !uf_uuid_parse_n(v->str, v->len, id))
        return fail(f, "must be a UUID");
    if (r->type == T_RFC3339 && !uf_time_parse(v->str, &(int64_t){0}))
        return fail(f, "must be an RFC 3339 timestamp");
    if (!check_range(f, chars, r->min_len, r->max_len, "characters"))
        return false;
    if (r->max_bytes >= 0 && (int64_t)v->len > r->max_bytes)
        return fail(f, "must be at most %lld bytes", (long long)r->max_bytes);
    for (size_t i = 0; r->charset_text && i < v->len; i++)
        if ((unsigned char)v->str[i] > 127 || !r->charset[(unsigned char)v->str[i]])
            return fail(f, "must contain only %s", r->charset_text);
    if (r->type == T_UUID)
        recase(v, id); /* before enum: the lower-case form is the value from here on */
    return true;
}

static bool check_number(struct failure *f, const struct vval *v)
{
    const struct vrule *r = f->rule;
    double d = v->num;
    char lo[32], hi[32];
    snprintf(lo, sizeof(lo), "%.15g", r->min);
    snprintf(hi, sizeof(hi), "%.15g", r->max);
    if (!isnan(r->min) && !isnan(r->max) && (d < r->min || d > r->max))
        return fail(f, "must be between %s and %s", lo, hi);
    if (!isnan(r->min) && d < r->min)
        return fail(f, "must be at least %s", lo);
    if (!isnan(r->max) && d > r->max)
        return fail(f, "must be at most %s", hi);
    return true;
}

/* An object value's members as check_object walks them, from a tree or from text. */
struct objwalk {
    const struct vrule *rule;
    int64_t keys;
    bool failed;
    struct failure first; /* the first member that failed */
};

static bool member_ok(struct failure *f, const struct vval *x)
{
    const struct vrule *r = f->rule;
    bool scalar = x->kind == V_STRING || x->kind == V_INT || x->kind == V_REAL || x->kind == V_BOOL;
    if (r->flat && !scalar)
        return fail(f, "must be a string, number or boolean");
    if (r->max_value_bytes >= 0 && x->kind == V_STRING && (int64_t)x->len > r->max_value_bytes)
        return fail(f, "must be at most %lld bytes", (long long)r->max_value_bytes);
    return true;
}

/* Counts and checks one member; false once the walk may stop. */
static bool visit_member(struct objwalk *w, const char *key, size_t key_len, bool key_escaped,
                         const struct vval *x)
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
    json_object_foreach((json_t *)obj, k, v) {
        struct vval x;
        tree_val(v, &x);
        if (!visit_member(w, k, strlen(k), false, &x))
            return;
    }
}

static int text_member(void *arg, const struct uf_jmember *m, struct uf_err *err)
{
    (void)err;
    struct sbuf b;
    struct vval x;
    raw_val(m, false, &b, &x);
    bool more = visit_member(arg, m->key, m->key_len, m->key_escaped, &x);
    sbuf_free(&b);
    return more ? 0 : 1;
}

static bool check_object(struct failure *f, const struct vval *v)
{
    const struct vrule *r = f->rule;
    if (r->max_keys < 0 && !r->flat && r->max_value_bytes < 0)
        return true;
    struct objwalk w = { .rule = r, .first.rule = r };
    if (v->tree)
        walk_tree(&w, v->tree);
    else /* the text was checked as a whole already: it scans */
        uf_jscan_object(v->text, v->text_len, text_member, &w, NULL);
    if (r->max_keys >= 0 && w.keys > r->max_keys)
        return fail(f, "must have at most %lld keys", (long long)r->max_keys);
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

static size_t array_size(const struct vval *v)
{
    size_t n = 0;
    if (v->tree)
        return json_array_size(v->tree);
    uf_jscan_array(v->text, v->text_len, count_element, &n, NULL);
    return n;
}

static bool type_ok(enum vtype t, const struct vval *v)
{
    switch (t) {
    case T_ANY: return true;
    case T_STRING: case T_UUID: case T_RFC3339: return v->kind == V_STRING;
    case T_INT: return v->kind == V_INT;
    case T_NUMBER: return v->kind == V_INT || v->kind == V_REAL;
    case T_BOOL: return v->kind == V_BOOL;
    case T_OBJECT: return v->kind == V_OBJECT;
    case T_ARRAY: return v->kind == V_ARRAY;
    }
    return false;
}

/* json_equal(e, v) for a value that may have no tree: scalars compare as jansson compares them
 * (an integer never equals a real); an object or array from text is parsed for it, as enums of
 * objects are rare. */
static bool same_value(const json_t *e, const struct vval *v)
{
    switch (v->kind) {
    case V_STRING:
        return json_is_string(e) && json_string_length(e) == v->len &&
               memcmp(json_string_value(e), v->str, v->len) == 0;
    case V_INT: return json_is_integer(e) && json_integer_value(e) == v->i;
    case V_REAL: return json_is_real(e) && json_real_value(e) == v->num;
    case V_BOOL: return json_is_boolean(e) && json_is_true(e) == v->b;
    case V_NULL: return json_is_null(e);
    case V_OBJECT:
    case V_ARRAY: break;
    }
    if (v->tree)
        return json_equal(e, v->tree);
    json_t *t = json_loadb(v->text, v->text_len, 0, NULL);
    bool eq = json_equal(e, t);
    json_decref(t);
    return eq;
}

static bool check_enum(struct failure *f, const struct vval *v)
{
    size_t i;
    const json_t *e;
    json_array_foreach(f->rule->enum_values, i, e)
        if (same_value(e, v))
            return true;
    char list[128] = "";
    json_array_foreach(f->rule->enum_values, i, e) {
        char *t = json_is_string(e) ? NULL : json_dumps(e, JSON_ENCODE_ANY);
        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "",
                 t ? t : json_string_value(e));
        free(t);
    }
    return fail(f, "must be one of: %s", list);
}

/* Checks a present (non-null) value against f->rule; false with f filled on failure. */
static bool check_value(struct failure *f, struct vval *v)
{
    const struct vrule *r = f->rule;
    bool ok = true;
    if (!type_ok(r->type, v))
        return fail(f, "must be %s", type_phrases[r->type]);
    if (v->kind == V_STRING)
        ok = check_string(f, v);
    else if (v->kind == V_INT || v->kind == V_REAL)
        ok = check_number(f, v);
    else if (v->kind == V_OBJECT)
        ok = check_object(f, v);
    else if (v->kind == V_ARRAY && (r->min_len >= 0 || r->max_len >= 0))
        ok = check_range(f, (int64_t)array_size(v), r->min_len, r->max_len, "items");
    return ok && (!r->enum_values || check_enum(f, v));
}

/* ---- the tree path ---- */

/* Converts a string to the rule's type in place (query and path values are strings). */
static json_t *coerce(const struct vrule *r, json_t *parent, json_t *v)
{
    const char *s = json_string_value(v);
    char *end = NULL;
    json_t *out = NULL;
    if (!s || !*s || isspace((unsigned char)*s))
        return v;
    errno = 0;
    if (r->type == T_INT) {
        long long n = strtoll(s, &end, 10);
        out = *end || errno == ERANGE ? NULL : json_integer(n);
    } else if (r->type == T_NUMBER) {
        double d = strtod(s, &end);
        out = *end || errno == ERANGE || !isfinite(d) ? NULL : json_real(d);
    } else if (r->type == T_BOOL && (!strcmp(s, "true") || !strcmp(s, "false")))
        out = json_boolean(!strcmp(s, "true"));
    if (!out)
        return v;
    json_object_set_new(parent, r->parts[r->nparts - 1], out);
    return out;
}

/* Checks one rule against body; false with f filled on failure. */
static bool check_rule(struct failure *f, json_t *body)
{
    const struct vrule *r = f->rule;
    json_t *parent = body;
    for (size_t i = 0; parent && i + 1 < r->nparts; i++)
        parent = json_object_get(parent, r->parts[i]);
    json_t *v = json_is_object(parent) ? json_object_get(parent, r->parts[r->nparts - 1]) : NULL;
    if (json_is_null(v))
        v = NULL;
    if (!v && r->def && json_is_object(parent)) {
        /* A copy per event: a shared default would be one value mutated by every event. */
        json_object_set_new(parent, r->parts[r->nparts - 1], json_deep_copy(r->def));
        return true;
    }
    if (!v)
        return r->required ? fail(f, "is required") : true;
    if (r->coerce)
        v = coerce(r, parent, v);
    struct vval x;
    tree_val(v, &x);
    if (!check_value(f, &x))
        return false;
    if (x.recased)
        json_string_set(v, x.canon);
    return true;
}

/* ---- the raw path ---- */

/* UUIDs a raw event must carry in lower case (see recase): rare, so the list and the rewritten
 * text are allocated only when there is one. */
struct edit {
    size_t off, len; /* the string's span between its quotes, from the start of the text */
    char uuid[UF_UUID_STR];
};

struct edits {
    const char *base;
    struct edit *v;
    size_t n;
};

static void edits_add(struct edits *ed, const struct uf_jmember *m, const char *uuid)
{
    ed->v = uf_xrealloc(ed->v, (ed->n + 1) * sizeof(*ed->v));
    struct edit *e = &ed->v[ed->n++];
    e->off = (size_t)(m->val - ed->base);
    e->len = m->val_len;
    memcpy(e->uuid, uuid, UF_UUID_STR);
}

static int by_offset(const void *a, const void *b)
{
    size_t x = ((const struct edit *)a)->off, y = ((const struct edit *)b)->off;
    return (x > y) - (x < y);
}

/* Gives ev its own text with the edits applied (they come in rule order, not text order). */
static void edits_apply(struct uf_event *ev, struct edits *ed)
{
    size_t n = ev->raw_len, at = 0, out = 0;
    qsort(ed->v, ed->n, sizeof(*ed->v), by_offset);
    for (size_t i = 0; i < ed->n; i++)
        n = n - ed->v[i].len + UF_UUID_STR - 1;
    char *text = uf_xmalloc(n + 1);
    for (size_t i = 0; i < ed->n; i++) {
        memcpy(text + out, ev->raw + at, ed->v[i].off - at);
        out += ed->v[i].off - at;
        memcpy(text + out, ed->v[i].uuid, UF_UUID_STR - 1);
        out += UF_UUID_STR - 1;
        at = ed->v[i].off + ed->v[i].len;
    }
    memcpy(text + out, ev->raw + at, ev->raw_len - at);
    text[n] = '\0';
    uf_event_set_raw(ev, text, n);
}

/* Checks one rule against the member picked for it from an item's text (key NULL: absent). */
static bool check_member_rule(struct failure *f, const struct uf_jmember *m, struct edits *ed)
{
    const struct vrule *r = f->rule;
    if (!m->key || m->type == UF_J_NULL)
        return r->required ? fail(f, "is required") : true;
    struct sbuf b;
    struct vval x;
    raw_val(m, r->type == T_RFC3339, &b, &x);
    bool ok = check_value(f, &x);
    /* An escaped UUID is rewritten too: the text then holds the value as the tree path's. */
    if (ok && r->type == T_UUID && (x.recased || m->escaped))
        edits_add(ed, m, x.canon);
    sbuf_free(&b);
    return ok;
}

/* ---- items, rule sets and failures ---- */

/* One body under check: a tree object, or the members of an object's text picked by the names
 * in vc->keys. */
struct item {
    json_t *body;
    const struct uf_jmember *picked;
    struct edits *ed;
    long long index; /* its place in a batch; -1 when the event is one body */
};

static const struct vset *set_named(const struct validate_ctx *vc, const char *name, size_t n)
{
    for (size_t i = 0; i < vc->nsets; i++)
        if (strlen(vc->sets[i].name) == n && memcmp(vc->sets[i].name, name, n) == 0)
            return &vc->sets[i];
    return NULL;
}

/* The item's type member (match: type), decoded when escaped. */
static const struct vset *set_of_type(const struct validate_ctx *vc, const struct item *it)
{
    if (it->body) {
        const json_t *t = json_object_get(it->body, "type");
        return json_is_string(t) ? set_named(vc, json_string_value(t), json_string_length(t))
                                 : NULL;
    }
    const struct uf_jmember *m = &it->picked[vc->type_key];
    if (!m->key || m->type != UF_J_STRING)
        return NULL;
    if (!m->escaped)
        return set_named(vc, m->val, m->val_len);
    struct sbuf b;
    size_t n;
    const char *name = sbuf_text(&b, m->val, m->val_len, true, &n);
    const struct vset *set = set_named(vc, name, n);
    sbuf_free(&b);
    return set;
}

static const struct vset *find_set(const struct validate_ctx *vc, struct uf_event *ev,
                                   const struct item *it)
{
    if (vc->match == 1)
        return set_of_type(vc, it);
    const json_t *route = json_object_get(uf_event_meta(ev), "route");
    return json_is_string(route) ? set_named(vc, json_string_value(route),
                                             json_string_length(route))
                                 : NULL;
}

/* Names the item a failure is in, for the message: label "events[3]" and sep "." for item 3
 * of a batch (the route name, else the `items` path), label "item 3" and sep ": " for a
 * split_array item (meta.index), both "" otherwise. Returns the item's index, or -1. */
static long long locate(const struct validate_ctx *vc, struct uf_event *ev, long long item,
                        char *label, size_t n, const char **sep)
{
    json_t *meta_index = json_object_get(uf_event_meta(ev), "index");
    const char *route = json_string_value(json_object_get(uf_event_meta(ev), "route"));
    label[0] = '\0';
    *sep = "";
    if (item >= 0) {
        snprintf(label, n, "%s[%lld]", route ? route : vc->items, item);
        *sep = ".";
    } else if (json_is_integer(meta_index)) {
        item = (long long)json_integer_value(meta_index);
        snprintf(label, n, "item %lld", item);
        *sep = ": ";
    }
    return item;
}

/* Finishes ev with status and {"error":{code,message[,field][,index]}}. */
static void fail_with(struct uf_event *ev, int status, const char *code, const char *msg,
                      const char *field, long long index)
{
    json_t *body = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
    json_t *e = json_object_get(body, "error");
    if (field)
        json_object_set_new(e, "field", json_string(field));
    if (index >= 0)
        json_object_set_new(e, "index", json_integer(index));
    uf_event_reply(ev, status, body);
    uf_event_fail(ev, status, code, msg);
}

/* The failure's member key, decoded, malloc'd; NULL when none. */
static char *failed_key(const struct failure *f)
{
    if (!f->key)
        return NULL;
    char *key = uf_xmalloc(f->key_len + 1);
    size_t n = f->key_escaped ? uf_jscan_unescape(f->key, f->key_len, key) : f->key_len;
    if (!f->key_escaped)
        memcpy(key, f->key, n);
    key[n] = '\0';
    return key;
}

static void reject(const struct validate_ctx *vc, struct uf_event *ev, const struct failure *f,
                   long long item)
{
    const struct vrule *r = f->rule;
    char label[192], field[256];
    const char *sep;
    long long index = locate(vc, ev, item, label, sizeof(label), &sep);
    char *key = failed_key(f);
    snprintf(field, sizeof(field), "%s%s%s", r->field, key ? "." : "", key ? key : "");
    char *msg = uf_xasprintf("%s%s%s%s%s: %s", label, sep, r->path, key ? "." : "",
                             key ? key : "", f->why);
    fail_with(ev, r->status, "invalid_field", msg, field, index);
    free(msg);
    free(key);
}

static void reject_unmatched(const struct validate_ctx *vc, struct uf_event *ev, long long item)
{
    char label[192];
    const char *sep;
    long long index = locate(vc, ev, item, label, sizeof(label), &sep);
    char *msg = uf_xasprintf("%s%sno validation rules for this event", label,
                             index >= 0 ? ": " : "");
    fail_with(ev, (int)vc->status, "invalid_event", msg, NULL, index);
    free(msg);
}

static void reject_not_object(struct uf_event *ev, size_t i)
{
    char *msg = uf_xasprintf("item %zu is not a JSON object", i);
    fail_with(ev, 400, "malformed_json", msg, NULL, (long long)i);
    free(msg);
}

/* Checks one item against its rule set. Returns false when it failed, after finishing ev with
 * the failure. */
static bool check_item(const struct validate_ctx *vc, struct uf_event *ev, const struct item *it)
{
    const struct vset *set = find_set(vc, ev, it);
    if (!set && vc->unmatched == 1) {
        reject_unmatched(vc, ev, it->index);
        return false;
    }
    for (size_t i = 0; set && i < set->n; i++) {
        struct failure f;
        f.rule = &set->rules[i];
        f.key = NULL;
        if (it->body ? !check_rule(&f, it->body)
                     : !check_member_rule(&f, &it->picked[f.rule->key], it->ed)) {
            reject(vc, ev, &f, it->index);
            return false;
        }
    }
    return true;
}

/* ---- process ---- */

static void process_tree(struct uf_stage *st, const struct validate_ctx *vc, struct uf_event *ev)
{
    json_t *items = vc->items ? uf_json_get_path(ev->body, vc->items) : NULL;
    if (!json_is_array(items)) {
        struct item it = { .body = ev->body, .index = -1 };
        if (check_item(vc, ev, &it))
            uf_emit(st, ev);
        return;
    }
    /* Every item is checked before anything goes on: one invalid item rejects the batch. */
    size_t i;
    json_t *body;
    json_array_foreach(items, i, body) {
        struct item it = { .body = body, .index = (long long)i };
        if (!json_is_object(body)) {
            reject_not_object(ev, i);
            return;
        }
        if (!check_item(vc, ev, &it))
            return;
    }
    uf_emit(st, ev);
}

/* A raw event's text and what its check gathered. */
struct rawcheck {
    const struct validate_ctx *vc;
    struct uf_event *ev;
    struct edits ed;
};

/* Checks the object s[0..n), item index. Returns 0 when it passed, 1 after finishing the event
 * with its failure, UF_EINVAL (err set) when the text is not a JSON object. */
static int check_text(struct rawcheck *rc, const char *s, size_t n, long long index,
                      struct uf_err *err)
{
    enum { ON_STACK = 32 }; /* more names than any rule set seen: no allocation per item */
    struct uf_jmember stack[ON_STACK];
    size_t nkeys = rc->vc->nkeys;
    struct uf_jmember *picked = nkeys <= ON_STACK ? stack : uf_xcalloc(nkeys, sizeof(*picked));
    int r = uf_jscan_pick(s, n, rc->vc->keys, nkeys, picked, err);
    if (r == 0) {
        struct item it = { .picked = picked, .ed = &rc->ed, .index = index };
        r = check_item(rc->vc, rc->ev, &it) ? 0 : 1;
    }
    if (picked != stack)
        free(picked);
    return r;
}

static int check_element(void *arg, const struct uf_jmember *m, struct uf_err *err)
{
    struct rawcheck *rc = arg;
    if (m->type != UF_J_OBJECT) {
        reject_not_object(rc->ev, m->index);
        return 1;
    }
    return check_text(rc, m->val, m->val_len, (long long)m->index, err);
}

/* Where a raw object stands among items: the http source sends a batch route's single object
 * as one (the tree path's array of one: item 0, named after meta.route); split's item carries
 * meta.index, and another source's message is one body: both are checked as the body (-1). */
static long long object_index(struct uf_event *ev)
{
    json_t *meta = uf_event_meta(ev);
    if (json_is_integer(json_object_get(meta, "index")))
        return -1;
    return json_is_string(json_object_get(meta, "route")) ? 0 : -1;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The text is the items (`items: body`, see validate_raw_ok): an array of objects or one. */
static void process_raw(struct uf_stage *st, const struct validate_ctx *vc, struct uf_event *ev)
{
    if (!vc->raw_ok) { /* the graph sends raw only where raw_ok said yes: a bug upstream */
        uf_event_fail(ev, 500, "internal", "validate: these rules need a parsed body");
        return;
    }
    struct rawcheck rc = { .vc = vc, .ev = ev, .ed.base = ev->raw };
    struct uf_err err = { 0 };
    size_t at = 0;
    while (at < ev->raw_len && is_blank(ev->raw[at]))
        at++;
    int r = at < ev->raw_len && ev->raw[at] == '['
                ? uf_jscan_array(ev->raw, ev->raw_len, check_element, &rc, &err)
                : check_text(&rc, ev->raw, ev->raw_len, object_index(ev), &err);
    if (r < 0) /* the http source checked the text already; another source may not have */
        fail_with(ev, 400, "malformed_json", err.msg, NULL, -1);
    else if (r == 0) {
        if (rc.ed.n)
            edits_apply(ev, &rc.ed);
        uf_emit(st, ev);
    }
    free(rc.ed.v);
}

static void validate_process(struct uf_stage *st, void *ctx, struct uf_event *ev)
{
    if (ev->raw)
        process_raw(st, ctx, ev);
    else
        process_tree(st, ctx, ev);
}

static void validate_destroy(void *ctx)
{
    struct validate_ctx *vc = ctx;
    for (size_t i = 0; i < vc->nsets; i++) {
        for (size_t j = 0; j < vc->sets[i].n; j++) {
            struct vrule *r = &vc->sets[i].rules[j];
            for (size_t k = 0; k < r->nparts; k++)
                free(r->parts[k]);
            free(r->parts);
            free(r->path);
            free(r->charset_text);
            json_decref(r->enum_values);
            json_decref(r->def);
        }
        free(vc->sets[i].rules);
    }
    free(vc->sets);
    vc->sets = NULL;
    vc->nsets = 0;
    free(vc->keys);
    vc->keys = NULL;
    vc->nkeys = 0;
}

const struct uf_kind uf_transform_validate = {
    .name = "validate",
    .role = UF_TRANSFORM,
    .summary = "Check event fields against declarative rules; reject with 422 naming the field",
    .options = validate_options,
    .ctx_size = sizeof(struct validate_ctx),
    .takes_raw = true,
    .raw_ok = validate_raw_ok,
    .init = validate_init,
    .process = validate_process,
    .destroy = validate_destroy,
};
