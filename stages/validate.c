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
 * It does not authorise or look anything up. Rules are read-only after init; process() is
 * thread-safe. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
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
    return 0;
}

/* ---- checking (process) ---- */

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
    const char *key;  /* a key inside an object value (flat, max_value_bytes), or NULL */
    char why[160];
};

static bool fail(struct failure *f, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool fail(struct failure *f, const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->why, sizeof(f->why), fmt, ap);
    va_end(ap);
    f->key = key;
    return false;
}

static bool check_range(struct failure *f, int64_t n, int64_t lo, int64_t hi, const char *unit)
{
    if (lo >= 0 && hi >= 0 && (n < lo || n > hi))
        return fail(f, NULL, "must be %lld..%lld %s", (long long)lo, (long long)hi, unit);
    if (lo >= 0 && n < lo)
        return fail(f, NULL, "must be at least %lld %s", (long long)lo, unit);
    if (hi >= 0 && n > hi)
        return fail(f, NULL, "must be at most %lld %s", (long long)hi, unit);
    return true;
}

/* UUIDs leave validate in lower case, so that every key, row and message built from one
 * compares equal however the client wrote it (one viewer's "AB.." and "ab.." are one). */
static void canonical_uuid(json_t *v, const char *s)
{
    uint8_t id[16];
    char lower[UF_UUID_STR];
    if (uf_uuid_parse(s, id)) {
        uf_uuid_format(id, lower);
        if (strcmp(lower, s) != 0)
            json_string_set(v, lower);
    }
}

static bool check_string(struct failure *f, const json_t *v)
{
    const struct vrule *r = f->rule;
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    int64_t chars = utf8_chars((const unsigned char *)s, n);
    if (chars < 0)
        return fail(f, NULL, "must be valid UTF-8");
    if (r->type == T_UUID && !uf_uuid_is_valid(s))
        return fail(f, NULL, "must be a UUID");
    if (r->type == T_RFC3339 && !uf_time_parse(s, &(int64_t){0}))
        return fail(f, NULL, "must be an RFC 3339 timestamp");
    if (!check_range(f, chars, r->min_len, r->max_len, "characters"))
        return false;
    if (r->max_bytes >= 0 && (int64_t)n > r->max_bytes)
        return fail(f, NULL, "must be at most %lld bytes", (long long)r->max_bytes);
    for (size_t i = 0; r->charset_text && i < n; i++)
        if ((unsigned char)s[i] > 127 || !r->charset[(unsigned char)s[i]])
            return fail(f, NULL, "must contain only %s", r->charset_text);
    if (r->type == T_UUID)
        canonical_uuid((json_t *)v, s); /* last: it replaces the string s points into */
    return true;
}

static bool check_number(struct failure *f, const json_t *v)
{
    const struct vrule *r = f->rule;
    double d = json_number_value(v);
    char lo[32], hi[32];
    snprintf(lo, sizeof(lo), "%.15g", r->min);
    snprintf(hi, sizeof(hi), "%.15g", r->max);
    if (!isnan(r->min) && !isnan(r->max) && (d < r->min || d > r->max))
        return fail(f, NULL, "must be between %s and %s", lo, hi);
    if (!isnan(r->min) && d < r->min)
        return fail(f, NULL, "must be at least %s", lo);
    if (!isnan(r->max) && d > r->max)
        return fail(f, NULL, "must be at most %s", hi);
    return true;
}

static bool check_object(struct failure *f, const json_t *v)
{
    const struct vrule *r = f->rule;
    if (r->max_keys >= 0 && (int64_t)json_object_size(v) > r->max_keys)
        return fail(f, NULL, "must have at most %lld keys", (long long)r->max_keys);
    const char *k;
    const json_t *x;
    json_object_foreach((json_t *)v, k, x) {
        if (r->flat && !json_is_string(x) && !json_is_number(x) && !json_is_boolean(x))
            return fail(f, k, "must be a string, number or boolean");
        if (r->max_value_bytes >= 0 && json_is_string(x) &&
            (int64_t)json_string_length(x) > r->max_value_bytes)
            return fail(f, k, "must be at most %lld bytes", (long long)r->max_value_bytes);
    }
    return true;
}

static bool type_ok(enum vtype t, const json_t *v)
{
    switch (t) {
    case T_ANY: return true;
    case T_STRING: case T_UUID: case T_RFC3339: return json_is_string(v);
    case T_INT: return json_is_integer(v);
    case T_NUMBER: return json_is_number(v);
    case T_BOOL: return json_is_boolean(v);
    case T_OBJECT: return json_is_object(v);
    case T_ARRAY: return json_is_array(v);
    }
    return false;
}

static bool check_enum(struct failure *f, const json_t *v)
{
    size_t i;
    const json_t *e;
    json_array_foreach(f->rule->enum_values, i, e)
        if (json_equal(e, v))
            return true;
    char list[128] = "";
    json_array_foreach(f->rule->enum_values, i, e) {
        char *t = json_is_string(e) ? NULL : json_dumps(e, JSON_ENCODE_ANY);
        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "",
                 t ? t : json_string_value(e));
        free(t);
    }
    return fail(f, NULL, "must be one of: %s", list);
}

static bool check_value(struct failure *f, const json_t *v)
{
    const struct vrule *r = f->rule;
    if (!type_ok(r->type, v))
        return fail(f, NULL, "must be %s", type_phrases[r->type]);
    if (json_is_string(v) && !check_string(f, v))
        return false;
    if (json_is_number(v) && !check_number(f, v))
        return false;
    if (json_is_object(v) && !check_object(f, v))
        return false;
    if (json_is_array(v) && !check_range(f, (int64_t)json_array_size(v), r->min_len, r->max_len,
                                         "items"))
        return false;
    return !r->enum_values || check_enum(f, v);
}

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
        return r->required ? fail(f, NULL, "is required") : true;
    if (r->coerce)
        v = coerce(r, parent, v);
    return check_value(f, v);
}

/* The rule set of one body (the event's body, or an item of a batch). */
static const struct vset *find_set(const struct validate_ctx *vc, struct uf_event *ev,
                                   const json_t *body)
{
    const char *name = vc->match == 0
                           ? json_string_value(json_object_get(uf_event_meta(ev), "route"))
                           : json_string_value(json_object_get(body, "type"));
    for (size_t i = 0; name && i < vc->nsets; i++)
        if (strcmp(vc->sets[i].name, name) == 0)
            return &vc->sets[i];
    return NULL;
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

static void reject(const struct validate_ctx *vc, struct uf_event *ev, const struct failure *f,
                   long long item)
{
    const struct vrule *r = f->rule;
    char label[192], field[256];
    const char *sep;
    long long index = locate(vc, ev, item, label, sizeof(label), &sep);
    snprintf(field, sizeof(field), "%s%s%s", r->field, f->key ? "." : "", f->key ? f->key : "");
    char *msg = uf_xasprintf("%s%s%s%s%s: %s", label, sep, r->path, f->key ? "." : "",
                             f->key ? f->key : "", f->why);
    fail_with(ev, r->status, "invalid_field", msg, field, index);
    free(msg);
}

/* Checks body (the event's, or item `item` of its batch, -1 otherwise) against its rule set.
 * Returns false when it failed, after finishing ev with the failure. */
static bool check_body(const struct validate_ctx *vc, struct uf_event *ev, json_t *body,
                       long long item)
{
    const struct vset *set = find_set(vc, ev, body);
    if (!set && vc->unmatched == 1) {
        char label[192];
        const char *sep;
        long long index = locate(vc, ev, item, label, sizeof(label), &sep);
        char *msg = uf_xasprintf("%s%sno validation rules for this event", label,
                                 index >= 0 ? ": " : "");
        fail_with(ev, (int)vc->status, "invalid_event", msg, NULL, index);
        free(msg);
        return false;
    }
    for (size_t i = 0; set && i < set->n; i++) {
        struct failure f = { .rule = &set->rules[i] };
        if (!check_rule(&f, body)) {
            reject(vc, ev, &f, item);
            return false;
        }
    }
    return true;
}

static void validate_process(struct uf_stage *st, void *ctx, struct uf_event *ev)
{
    struct validate_ctx *vc = ctx;
    json_t *items = vc->items ? uf_json_get_path(ev->body, vc->items) : NULL;
    if (!json_is_array(items)) {
        if (check_body(vc, ev, ev->body, -1))
            uf_emit(st, ev);
        return;
    }
    /* Every item is checked before anything goes on: one invalid item rejects the batch. */
    size_t i;
    json_t *item;
    json_array_foreach(items, i, item) {
        if (!json_is_object(item)) {
            char *msg = uf_xasprintf("item %zu is not a JSON object", i);
            fail_with(ev, 400, "malformed_json", msg, NULL, (long long)i);
            free(msg);
            return;
        }
        if (!check_body(vc, ev, item, (long long)i))
            return;
    }
    uf_emit(st, ev);
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
}

const struct uf_kind uf_transform_validate = {
    .name = "validate",
    .role = UF_TRANSFORM,
    .summary = "Check event fields against declarative rules; reject with 422 naming the field",
    .options = validate_options,
    .ctx_size = sizeof(struct validate_ctx),
    .init = validate_init,
    .process = validate_process,
    .destroy = validate_destroy,
};
