/* stages/route.c: the `route` transform: sends each event to one output by a field's value.
 * `routes` maps output names to a value or a list of values of `field`; the first match wins,
 * in the order written, and "*" matches everything. Unmatched events go to `default` when it is
 * named, else they are dropped and counted. Outputs are declared in init, so
 * `inputs: [router.NAME]` is validated. Raw events are routed by the same rules when `field` is
 * top-level (a dotted one keeps the stage off the raw path); a raw text that is not an object
 * fails with 400. Keeps no per-event state: thread-safe. */
#include <stdlib.h>
#include <string.h>

#include "framework/jscan.h"
#include "framework/jsonpath.h"
#include "framework/mem.h"
#include "framework/stage.h"

struct route_ctx {
    const char *field;
    json_t *routes;
    const char *dflt;
    size_t n;
    int *ports;         /* port per route, in `routes` order */
    json_t **values;    /* borrowed from routes: a string or an array of strings per route */
    int default_port;   /* -1 when none */
};

static const struct uf_option route_options[] = {
    {.name = "field", .type = UF_OPT_STR, .flags = UF_OPT_REQUIRED,
     .desc = "Dotted path of the field compared", .offset = offsetof(struct route_ctx, field)},
    {.name = "routes", .type = UF_OPT_MAP, .flags = UF_OPT_REQUIRED,
     .desc = "Output names mapped to a value or list of values (\"*\" matches any)",
     .offset = offsetof(struct route_ctx, routes)},
    {.name = "default", .type = UF_OPT_STR,
     .desc = "Output for events no route matches; without it they are dropped and counted",
     .offset = offsetof(struct route_ctx, dflt)},
    {0}};

static bool valid_values(const json_t *v)
{
    if (json_is_string(v) || json_is_integer(v) || json_is_boolean(v))
        return true;
    if (!json_is_array(v) || json_array_size(v) == 0)
        return false;
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x) if (!json_is_string(x) && !json_is_integer(x)) return false;
    return true;
}

static int route_init(struct uf_stage *st, void *ctx, struct uf_err *err)
{
    struct route_ctx *c = ctx;
    c->n = json_object_size(c->routes);
    if (c->n == 0)
        return uf_err_set(err, UF_EINVAL, "option 'routes' must name at least one output");
    c->ports = uf_xcalloc(c->n, sizeof *c->ports);
    c->values = uf_xcalloc(c->n, sizeof *c->values);
    c->default_port = -1;
    size_t i = 0;
    const char *name;
    json_t *v;
    json_object_foreach(c->routes, name, v)
    {
        if (!valid_values(v))
            return uf_err_set(err, UF_EINVAL,
                              "route '%s' must map to a value or a non-empty list of values", name);
        int port = uf_stage_add_port(st, name, err);
        if (port < 0)
            return port;
        c->ports[i] = port;
        c->values[i++] = v;
    }
    if (c->dflt) {
        c->default_port = uf_stage_add_port(st, c->dflt, err);
        if (c->default_port < 0)
            return c->default_port;
    }
    return 0;
}

static bool value_matches(const json_t *want, const json_t *have)
{
    if (json_is_string(want) && strcmp(json_string_value(want), "*") == 0)
        return true;
    if (json_is_string(want))
        return json_is_string(have) && strcmp(json_string_value(want), json_string_value(have)) == 0;
    return json_equal((json_t *)want, (json_t *)have);
}

static bool matches(const json_t *values, const json_t *have)
{
    if (!json_is_array(values))
        return value_matches(values, have);
    size_t i;
    json_t *v;
    json_array_foreach(values, i, v) if (value_matches(v, have)) return true;
    return false;
}

/* ---- raw events ---- */

/* The field of a raw event, read once and compared with every route's values. */
struct raw_have {
    enum uf_jtype type;   /* UF_J_NULL also when the field is missing, as the tree path's null */
    const char *str;      /* strings: the decoded text */
    size_t len;
    char *buf;            /* ours: the decoded copy of a string that held escapes */
    bool int_ok;          /* numbers: an integer that fits json_int_t, in ival */
    json_int_t ival;
};

/* Reads the field from ev->raw into *h; fails the event with 400 (and returns false) when the
 * text is not a JSON object. */
static bool raw_read(const struct route_ctx *c, struct uf_event *ev, struct raw_have *h)
{
    struct uf_jmember m;
    struct uf_err err = { 0 };
    if (uf_event_pick(ev, &c->field, 1, &m, &err) != 0) {
        uf_event_fail(ev, 400, "malformed_json", err.msg);
        return false;
    }
    *h = (struct raw_have){ .type = m.key ? m.type : UF_J_NULL, .str = m.val, .len = m.val_len };
    if (m.key && m.type == UF_J_STRING)
        h->str = uf_jscan_str(&m, &h->buf, &h->len);
    int64_t ival = 0;
    h->int_ok = m.key && uf_jscan_integer(&m, &ival);
    h->ival = (json_int_t)ival;
    return true;
}

/* value_matches for a raw field: the same answers for the values valid_values allows. */
static bool raw_value_matches(const json_t *want, const struct raw_have *h)
{
    if (json_is_string(want)) {
        const char *w = json_string_value(want);
        return strcmp(w, "*") == 0 ||
               (h->type == UF_J_STRING && h->len == strlen(w) && memcmp(h->str, w, h->len) == 0);
    }
    if (json_is_integer(want))
        return h->int_ok && h->ival == json_integer_value(want);
    if (json_is_boolean(want))
        return h->type == (json_is_true(want) ? UF_J_TRUE : UF_J_FALSE);
    return false;
}

static bool raw_matches(const json_t *values, const struct raw_have *h)
{
    if (!json_is_array(values))
        return raw_value_matches(values, h);
    size_t i;
    json_t *v;
    json_array_foreach(values, i, v) if (raw_value_matches(v, h)) return true;
    return false;
}

/* The index of the first route that matches the event's field, c->n when none, or -1 when the
 * event was failed (a raw text that is not an object). */
static long pick_route(const struct route_ctx *c, struct uf_event *ev)
{
    size_t i = 0;
    if (!ev->raw) {
        json_t *have = uf_json_get_path(ev->body, c->field);
        while (i < c->n && !matches(c->values[i], have ? have : json_null()))
            i++;
        return (long)i;
    }
    struct raw_have h;
    if (!raw_read(c, ev, &h))
        return -1;
    while (i < c->n && !raw_matches(c->values[i], &h))
        i++;
    free(h.buf);
    return (long)i;
}

static void route_process(struct uf_stage *st, void *ctx, struct uf_event *ev)
{
    struct route_ctx *c = ctx;
    long i = pick_route(c, ev);
    if (i < 0)
        return;
    if ((size_t)i < c->n)
        uf_emit_port(st, c->ports[i], ev);
    else if (c->default_port >= 0)
        uf_emit_port(st, c->default_port, ev);
    else
        uf_event_drop(ev, "no route matched");
}

/* Raw events are read at the top level only (uf_jscan_pick): a dotted field needs the tree. */
static bool route_raw_ok(const void *ctx)
{
    const struct route_ctx *c = ctx;
    return strchr(c->field, '.') == NULL;
}

static void route_destroy(void *ctx)
{
    struct route_ctx *c = ctx;
    free(c->ports);
    free(c->values);
}

const struct uf_kind uf_transform_route = {
    .name = "route", .role = UF_TRANSFORM,
    .summary = "Send each event to one of several outputs by a field's value",
    .options = route_options, .ctx_size = sizeof(struct route_ctx),
    .takes_raw = true, .raw_ok = route_raw_ok,
    .init = route_init, .process = route_process, .destroy = route_destroy,
};
