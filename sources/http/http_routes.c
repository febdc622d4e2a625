/* http_routes.c: the `http` source's route table: parsing it from the `routes` option and
 * matching request paths against it.
 * A route key is "METHOD /path/{param}/..."; its value holds the settings listed in `settings`
 * below. Matching walks the path segment by segment without allocating; when several routes
 * match a path, the one with the most literal segments wins (so "/comments/mine" beats
 * "/comments/{id}"). The table is immutable after init, so matching needs no lock. */
#include <stdio.h>
#include <string.h>

#include "framework/mem.h"
#include "framework/options.h"
#include "framework/stage.h"
#include "sources/http/http_int.h"

static const char *const methods[] = { "GET",    "POST", "PUT",     "PATCH",
                                       "DELETE", "HEAD", "OPTIONS", NULL };
static const char *const settings[] = { "name",           "auth",      "body",       "split_array",
                                        "batch",          "max_items", "reply",      "timeout",
                                        "success_status", "max_body",  "rate_limit", NULL };

static bool in_list(const char *const *list, const char *s)
{
    for (size_t i = 0; list[i]; i++)
        if (strcmp(list[i], s) == 0)
            return true;
    return false;
}

static const char *suggest(const char *const *list, const char *s)
{
    for (size_t i = 0; list[i]; i++)
        if (uf_edit_distance(list[i], s) <= 3)
            return list[i];
    return NULL;
}

/* The setting as text: YAML scalars arrive as strings, numbers or booleans. */
static const char *text_of(const json_t *v, char *buf, size_t n)
{
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v))
        snprintf(buf, n, "%lld", (long long)json_integer_value(v));
    else if (json_is_boolean(v))
        snprintf(buf, n, "%s", json_is_true(v) ? "true" : "false");
    else
        return NULL;
    return buf;
}

/* Parses one scalar setting with the same parser as stage options (types, units, ranges). */
static int parse_setting(const json_t *v, enum uf_opt_type type, int64_t min, int64_t max,
                         void *dst, struct uf_err *err)
{
    struct uf_option opt = { .name = "setting", .type = type, .min = min, .max = max };
    char buf[32];
    const char *text = text_of(v, buf, sizeof(buf));
    if (!text)
        return uf_err_set(err, UF_EINVAL, "expected a %s", uf_option_type_name(type));
    return uf_option_parse_scalar(&opt, text, dst, err);
}

static int parse_choice(const json_t *v, const char *const *values, int *out, struct uf_err *err)
{
    const char *s = json_string_value(v);
    for (int i = 0; s && values[i]; i++)
        if (strcmp(values[i], s) == 0) {
            *out = i;
            return 0;
        }
    char list[128] = "";
    for (int i = 0; values[i]; i++)
        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "",
                 values[i]);
    return uf_err_set(err, UF_EINVAL, "expected one of: %s", list);
}

static int parse_key(struct http_route *r, const char *key, struct uf_err *err)
{
    const char *sp = strchr(key, ' ');
    if (!sp || sp[1] != '/')
        return uf_err_set(err, UF_EINVAL, "expected \"METHOD /path\"");
    r->method = uf_xstrndup(key, (size_t)(sp - key));
    if (!in_list(methods, r->method))
        return uf_err_set(err, UF_EINVAL, "unknown method '%s'", r->method);
    for (const char *p = sp + 1; *p;) {
        const char *seg = p + 1, *end = strchr(seg, '/');
        size_t n = end ? (size_t)(end - seg) : strlen(seg);
        if (n == 0 && end)
            return uf_err_set(err, UF_EINVAL, "empty path segment");
        bool param = n > 2 && seg[0] == '{' && seg[n - 1] == '}';
        if (!param && memchr(seg, '{', n))
            return uf_err_set(err, UF_EINVAL, "a parameter must be a whole segment: '{name}'");
        r->segs = uf_xrealloc(r->segs, (r->nsegs + 1) * sizeof(char *));
        r->segs[r->nsegs++] = uf_xstrndup(seg, n);
        r->literals += !param;
        r->nparams += param;
        p = seg + n;
    }
    return 0;
}

/* `auth`'s values, by enum http_auth (the unset one first). */
static const char *const auths[] = { "", "registered", "optional", "none", NULL };

static int apply_setting(struct http_route *r, const char *k, const json_t *v, struct uf_err *err)
{
    static const char *const bodies[] = { "none", "json", NULL };
    static const char *const replies[] = { "immediate", "wait", NULL };
    int choice = 0, rc = 0;
    int64_t n = 0;
    if (strcmp(k, "name") == 0) {
        if (!json_is_string(v) || !*json_string_value(v))
            return uf_err_set(err, UF_EINVAL, "expected a non-empty string");
        free(r->name);
        r->name = uf_xstrdup(json_string_value(v));
    } else if (strcmp(k, "auth") == 0 && !(rc = parse_choice(v, auths + 1, &choice, err)))
        r->auth = (enum http_auth)(choice + 1);
    else if (strcmp(k, "body") == 0 && !(rc = parse_choice(v, bodies, &choice, err)))
        r->body = (enum http_body)choice;
    else if (strcmp(k, "reply") == 0 && !(rc = parse_choice(v, replies, &choice, err)))
        r->wait = choice == 1;
    else if (strcmp(k, "split_array") == 0)
        rc = parse_setting(v, UF_OPT_BOOL, 0, 0, &r->split_array, err);
    else if (strcmp(k, "batch") == 0)
        rc = parse_setting(v, UF_OPT_BOOL, 0, 0, &r->batch, err);
    else if (strcmp(k, "max_items") == 0)
        rc = parse_setting(v, UF_OPT_INT, 1, 100000, &r->max_items, err);
    else if (strcmp(k, "timeout") == 0)
        rc = parse_setting(v, UF_OPT_DURATION, 1, 600000, &r->timeout_ms, err);
    else if (strcmp(k, "max_body") == 0)
        rc = parse_setting(v, UF_OPT_SIZE, 1, 256 << 20, &r->max_body, err);
    else if (strcmp(k, "rate_limit") == 0) {
        http_limit_free(r->limit);
        rc = (r->limit = http_limit_parse(v, err)) ? 0 : UF_EINVAL;
    } else if (strcmp(k, "success_status") == 0 &&
               !(rc = parse_setting(v, UF_OPT_INT, 200, 299, &n, err)))
        r->success_status = (int)n;
    return rc;
}

static int parse_route(struct http_route *r, const char *key, const json_t *val,
                       const struct http_route_defaults *d, struct uf_err *err)
{
    r->key = uf_xstrdup(key);
    r->name = uf_xstrdup(key);
    r->wait = true;
    r->timeout_ms = d->timeout_ms;
    r->max_body = d->max_body;
    r->max_items = d->max_items;
    r->success_status = d->success_status;
    pthread_mutex_init(&r->lock, NULL);
    if (parse_key(r, key, err))
        return UF_EINVAL;
    if (!json_is_object(val) && !json_is_null(val))
        return uf_err_set(err, UF_EINVAL, "expected a mapping of settings");
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)val, k, v)
    {
        if (!in_list(settings, k)) {
            const char *s = suggest(settings, k);
            return uf_err_set(err, UF_EINVAL, "unknown setting '%s'%s%s%s", k,
                              s ? " (did you mean '" : "", s ? s : "", s ? "'?)" : "");
        }
        if (apply_setting(r, k, v, err)) {
            uf_err_prefix(err, "%s", k);
            return UF_EINVAL;
        }
    }
    if (r->split_array && r->body != HTTP_BODY_JSON)
        return uf_err_set(err, UF_EINVAL, "split_array needs body: json");
    if (r->batch && r->body != HTTP_BODY_JSON)
        return uf_err_set(err, UF_EINVAL, "batch needs body: json");
    if (r->batch && r->split_array)
        return uf_err_set(err, UF_EINVAL, "batch and split_array exclude each other");
    r->j_name = json_string(r->name);
    r->j_method = json_string(r->method);
    r->j_auth = r->auth != HTTP_AUTH_UNSET ? json_string(auths[r->auth]) : NULL;
    if (!r->j_name)
        return uf_err_set(err, UF_EINVAL, "name: not valid UTF-8");
    return 0;
}

/* Routes declaring the same rate_limit mapping (a YAML anchor, typically) draw on one budget:
 * "20 writes a second per user" means across the routes, not 20 on each. */
static void share_limits(struct http_routes *out)
{
    for (size_t i = 0; i < out->n; i++)
        for (size_t j = 0; j < i && out->v[i].limit && !out->v[i].limit_shared; j++)
            if (http_limit_same(out->v[i].limit, out->v[j].limit)) {
                http_limit_free(out->v[i].limit);
                out->v[i].limit = out->v[j].limit;
                out->v[i].limit_shared = true;
            }
}

int http_routes_parse(const json_t *map, const struct http_route_defaults *d,
                      struct http_routes *out, struct uf_err *err)
{
    if (!json_is_object(map) || json_object_size(map) == 0)
        return uf_err_set(err, UF_EINVAL, "routes: expected a non-empty mapping");
    out->v = uf_xcalloc(json_object_size(map), sizeof(struct http_route));
    const char *key;
    const json_t *val;
    json_object_foreach((json_t *)map, key, val)
    {
        struct http_route *r = &out->v[out->n++];
        if (parse_route(r, key, val, d, err)) {
            uf_err_prefix(err, "routes: \"%s\"", key);
            return UF_EINVAL;
        }
    }
    share_limits(out);
    return 0;
}

/* The paths a route's events carry: the envelope's members, each path parameter, any query
 * value, the body's fields on a JSON route (not on a split or batch one: its items are the
 * events), and the user and meta (roles come from jwt_auth) unless the route takes no token. */
static void declare_route(const struct http_route *r, struct uf_stage *st, const struct uf_pos *pos)
{
    static const char *const always[] = { "route", "method", "path", "query.*", "meta.*", NULL };
    for (size_t i = 0; always[i]; i++)
        uf_stage_route_provides(st, r->name, always[i], pos);
    for (size_t i = 0; i < r->nsegs; i++) {
        if (r->segs[i][0] != '{')
            continue;
        char path[256];
        snprintf(path, sizeof path, "params.%.*s", (int)strlen(r->segs[i]) - 2, r->segs[i] + 1);
        uf_stage_route_provides(st, r->name, path, pos);
    }
    if (r->body == HTTP_BODY_JSON && !r->split_array && !r->batch)
        uf_stage_route_provides(st, r->name, "body.*", pos);
    if (r->auth != HTTP_AUTH_NONE)
        uf_stage_route_provides(st, r->name, "user", pos);
}

void http_routes_declare(const struct http_routes *r, struct uf_stage *st)
{
    const struct uf_node *map = uf_stage_option_node(st, "routes");
    for (size_t i = 0; i < r->n; i++) {
        const struct uf_pos *pos = NULL;
        for (size_t k = 0; map && map->type == UF_NODE_MAP && k < map->n && !pos; k++)
            if (strcmp(map->keys[k], r->v[i].key) == 0)
                pos = &map->key_pos[k];
        declare_route(&r->v[i], st, pos);
    }
}

void http_routes_free(struct http_routes *r)
{
    for (size_t i = 0; i < r->n; i++) {
        struct http_route *rt = &r->v[i];
        for (size_t j = 0; j < rt->nsegs; j++)
            free(rt->segs[j]);
        free(rt->segs);
        free(rt->key);
        free(rt->name);
        free(rt->method);
        json_decref(rt->j_name);
        json_decref(rt->j_method);
        json_decref(rt->j_auth);
        if (!rt->limit_shared)
            http_limit_free(rt->limit);
        pthread_mutex_destroy(&rt->lock);
    }
    free(r->v);
    r->v = NULL;
    r->n = 0;
}

static bool is_param(const char *seg)
{
    return seg[0] == '{';
}

/* Whether path matches the route's template; fills params when not NULL. A parameter that is
 * not valid UTF-8 is left out of params, which the caller detects. */
static bool match_path(const struct http_route *r, const char *path, json_t *params)
{
    const char *p = path;
    for (size_t i = 0; i < r->nsegs; i++) {
        if (*p != '/')
            return false;
        const char *end = strchr(p + 1, '/');
        size_t n = end ? (size_t)(end - p - 1) : strlen(p + 1);
        const char *seg = r->segs[i];
        if (is_param(seg)) {
            if (n == 0)
                return false;
            if (params) {
                json_t *s = json_stringn(p + 1, n);
                if (s)
                    json_object_setn_new_nocheck(params, seg + 1, strlen(seg) - 2, s);
            }
        } else if (strlen(seg) != n || memcmp(seg, p + 1, n) != 0)
            return false;
        p += n + 1;
    }
    return *p == '\0';
}

static void allow_add(char *allow, size_t allow_len, const char *method)
{
    if (strstr(allow, method))
        return;
    snprintf(allow + strlen(allow), allow_len - strlen(allow), "%s%s", *allow ? ", " : "", method);
}

struct http_route *http_routes_match(const struct http_routes *r, const char *method,
                                     const char *path, json_t *params, bool *path_known,
                                     char *allow, size_t allow_len)
{
    struct http_route *best = NULL;
    *path_known = false;
    allow[0] = '\0';
    for (size_t i = 0; i < r->n; i++) {
        struct http_route *rt = &r->v[i];
        if (!match_path(rt, path, NULL))
            continue;
        if (strcmp(rt->method, method) != 0) {
            *path_known = true;
            allow_add(allow, allow_len, rt->method);
        } else if (!best || rt->literals > best->literals)
            best = rt;
    }
    if (best)
        match_path(best, path, params);
    return best;
}
