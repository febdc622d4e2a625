/* stages/route.c: the `route` transform: sends each event to one output by a field's value.
 * `routes` maps output names to a value or a list of values of `field`; the first match wins,
 * in the order written, and "*" matches everything. Unmatched events go to `default` when it is
 * named, else they are dropped and counted. Outputs are declared in init, so
 * `inputs: [router.NAME]` is validated. Values compare as jansson reads them
 * (uf_event_get_scalar); a missing field matches only "*"; an event held as text that is not an
 * object fails with 400. Keeps no per-event state: thread-safe. */
#include <stdlib.h>
#include <string.h>

#include "framework/mem.h"
#include "framework/stage.h"

struct route_ctx {
    const char *field;
    json_t *routes;
    const char *dflt;
    size_t n;
    int *ports;       /* port per route, in `routes` order */
    json_t **values;  /* borrowed from routes: a string or an array of strings per route */
    int default_port; /* -1 when none */
};

static const struct uf_option route_options[] = {
    { .name = "field",
      .type = UF_OPT_STR,
      .flags = UF_OPT_REQUIRED,
      .desc = "Dotted path of the field compared",
      .offset = offsetof(struct route_ctx, field) },
    { .name = "routes",
      .type = UF_OPT_MAP,
      .flags = UF_OPT_REQUIRED,
      .desc = "Output names mapped to a value or list of values (\"*\" matches any)",
      .offset = offsetof(struct route_ctx, routes) },
    { .name = "default",
      .type = UF_OPT_STR,
      .desc = "Output for events no route matches; without it they are dropped and counted",
      .offset = offsetof(struct route_ctx, dflt) },
    { 0 }
};

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

/* Whether the field's value h is the route value want: a string after decoding its escapes,
 * an integer by value (1.0 or 1e0 are reals, as jansson reads them, and match no integer), true
 * and false by type; "*" matches anything, a missing field too. */
static bool value_matches(const json_t *want, const struct uf_scalar *h)
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

static bool matches(const json_t *values, const struct uf_scalar *h)
{
    if (!json_is_array(values))
        return value_matches(values, h);
    size_t i;
    json_t *v;
    json_array_foreach(values, i, v) if (value_matches(v, h)) return true;
    return false;
}

/* The index of the first route that matches the event's field, c->n when none, or -1 when the
 * event was failed (a text that is not a JSON object). */
static long pick_route(const struct route_ctx *c, struct uf_event *ev)
{
    struct uf_scalar h;
    struct uf_err err; /* filled on failure; not cleared per event (half a KiB) */
    err.msg[0] = '\0';
    if (uf_event_get_scalar(ev, c->field, &h, &err) != 0) {
        uf_event_fail(ev, 400, "malformed_json", err.msg);
        return -1;
    }
    size_t i = 0;
    while (i < c->n && !matches(c->values[i], &h))
        i++;
    uf_scalar_free(&h);
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

static void route_destroy(void *ctx)
{
    struct route_ctx *c = ctx;
    free(c->ports);
    free(c->values);
}

const struct uf_kind uf_transform_route = {
    .name = "route",
    .role = UF_TRANSFORM,
    .summary = "Send each event to one of several outputs by a field's value",
    .options = route_options,
    .ctx_size = sizeof(struct route_ctx),
    .init = route_init,
    .process = route_process,
    .destroy = route_destroy,
};
