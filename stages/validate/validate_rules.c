/* validate_rules.c: reads the `validate` transform's rules option at init into rule sets
 * (validate_int.h), with every error named by set, path and check, and a guess for a misspelt
 * check; indexes the one-name paths a raw item is read by and decides whether raw events can be
 * checked at all. Runs once per component, before any event; does no I/O. */
#include "stages/validate/validate_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "framework/mem.h"
#include "framework/options.h"

static const char *const type_names[] = { "any",  "string", "int",   "number",  "bool",
                                          "uuid", "object", "array", "rfc3339", NULL };

static const char *const rule_keys[] = { "required",  "type",     "min_length", "max_length",
                                         "min",       "max",      "charset",    "enum",
                                         "max_bytes", "max_keys", "flat",       "max_value_bytes",
                                         "default",   "coerce",   "status",     "not_prefix",
                                         NULL };

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
    double d = 0;
    if (get_num(v, &d, err) || d < 0 || d != floor(d) || d > 1e15)
        return uf_err_set(err, UF_EINVAL, "expected a whole number >= 0");
    *out = (int64_t)d;
    return 0;
}

static int parse_charset(struct uf_validate_rule *r, const char *s, struct uf_err *err)
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

static int parse_type(struct uf_validate_rule *r, const json_t *v, struct uf_err *err)
{
    const char *s = json_string_value(v);
    for (int i = 1; s && type_names[i]; i++)
        if (strcmp(s, type_names[i]) == 0) {
            r->type = (enum uf_validate_type)i;
            return 0;
        }
    return uf_err_set(err, UF_EINVAL,
                      "expected one of: string, int, number, bool, uuid, object, array, rfc3339");
}

/* not_prefix: one prefix or a list of them, none empty. */
static int parse_prefixes(struct uf_validate_rule *r, const json_t *v, struct uf_err *err)
{
    json_t *list = json_is_string(v) ? json_pack("[O]", v) : json_incref((json_t *)v);
    bool ok = json_is_array(list) && json_array_size(list) > 0;
    for (size_t i = 0; ok && i < json_array_size(list); i++) {
        const char *p = json_string_value(json_array_get(list, i));
        ok = p && *p;
    }
    if (!ok) {
        json_decref(list);
        return uf_err_set(err, UF_EINVAL, "expected a prefix or a list of prefixes");
    }
    r->not_prefix = list;
    return 0;
}

static int apply_key(struct uf_validate_rule *r, const char *k, const json_t *v, struct uf_err *err)
{
    double d = 0;
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
    if (!strcmp(k, "not_prefix"))
        return parse_prefixes(r, v, err);
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
        *(!strcmp(k, "min_length")   ? &r->min_len
          : !strcmp(k, "max_length") ? &r->max_len
          : !strcmp(k, "max_bytes")  ? &r->max_bytes
          : !strcmp(k, "max_keys")   ? &r->max_keys
                                     : &r->max_value_bytes) = n;
    return 0;
}

static void split_path(struct uf_validate_rule *r)
{
    for (const char *p = r->path; *p;) {
        size_t n = strcspn(p, ".");
        r->parts = uf_xrealloc(r->parts, (r->nparts + 1) * sizeof(char *));
        r->parts[r->nparts++] = uf_xstrndup(p, n);
        p += n + (p[n] == '.');
    }
    const char *first = r->parts[0];
    bool prefix = r->nparts > 1 &&
                  (!strcmp(first, "body") || !strcmp(first, "params") || !strcmp(first, "query"));
    r->field = prefix ? r->path + strlen(first) + 1 : r->path;
}

static int parse_rule(struct uf_validate_rule *r, const char *path, const json_t *spec, int status,
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
    json_object_foreach((json_t *)spec, k, v)
    {
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

static int parse_set(struct uf_validate_set *set, const char *name, const json_t *fields,
                     int status, struct uf_err *err)
{
    set->name = name;
    if (!json_is_object(fields))
        return uf_err_set(err, UF_EINVAL, "expected a mapping of field paths");
    set->rules = uf_xcalloc(json_object_size(fields) + 1, sizeof(struct uf_validate_rule));
    const char *path;
    const json_t *spec;
    json_object_foreach((json_t *)fields, path, spec)
    {
        if (parse_rule(&set->rules[set->n++], path, spec, status, err)) {
            uf_err_prefix(err, "%s", path);
            return UF_EINVAL;
        }
    }
    return 0;
}

static size_t key_index(struct uf_validate_ctx *vc, const char *name)
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
static void index_keys(struct uf_validate_ctx *vc)
{
    vc->on_text = vc->items && strcmp(vc->items, "body") == 0;
    for (size_t i = 0; i < vc->nsets; i++)
        for (size_t j = 0; j < vc->sets[i].n; j++) {
            struct uf_validate_rule *r = &vc->sets[i].rules[j];
            r->key = r->nparts == 1 ? key_index(vc, r->parts[0]) : SIZE_MAX;
            vc->on_text &= r->nparts == 1 && !r->def && !r->coerce;
        }
    vc->type_key = vc->match == 1 ? key_index(vc, "type") : SIZE_MAX;
    vc->key_lens = uf_xcalloc(vc->nkeys ? vc->nkeys : 1, sizeof(*vc->key_lens));
    for (size_t i = 0; i < vc->nkeys; i++)
        vc->key_lens[i] = strlen(vc->keys[i]);
}

int uf_validate_parse_rules(struct uf_validate_ctx *vc, struct uf_err *err)
{
    if (!json_is_object(vc->rules_opt) || json_object_size(vc->rules_opt) == 0)
        return uf_err_set(err, UF_EINVAL, "rules: expected a non-empty mapping");
    vc->sets = uf_xcalloc(json_object_size(vc->rules_opt), sizeof(struct uf_validate_set));
    const char *name;
    const json_t *fields;
    json_object_foreach(vc->rules_opt, name, fields)
    {
        if (parse_set(&vc->sets[vc->nsets++], name, fields, (int)vc->status, err)) {
            uf_err_prefix(err, "rules: %s", name);
            return UF_EINVAL;
        }
    }
    index_keys(vc);
    return 0;
}

void uf_validate_free_rules(struct uf_validate_ctx *vc)
{
    for (size_t i = 0; i < vc->nsets; i++) {
        for (size_t j = 0; j < vc->sets[i].n; j++) {
            struct uf_validate_rule *r = &vc->sets[i].rules[j];
            for (size_t k = 0; k < r->nparts; k++)
                free(r->parts[k]);
            free(r->parts);
            free(r->path);
            free(r->charset_text);
            json_decref(r->not_prefix);
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
    free(vc->key_lens);
    vc->key_lens = NULL;
    vc->nkeys = 0;
}
