/* stages/set.c: the `set` transform: sets fields to fixed values.
 * `fields` maps dotted paths to JSON values; each event gets a copy of each value. Existing
 * values are replaced unless `overwrite: false`. Runs in the caller's thread; it keeps no state,
 * so concurrent calls need no lock. */
#include "framework/jsonpath.h"
#include "framework/stage.h"

struct set_ctx {
    json_t *fields;
    bool overwrite;
};

static const struct uf_option set_options[] = { { .name = "fields",
                                                  .type = UF_OPT_MAP,
                                                  .flags = UF_OPT_REQUIRED,
                                                  .desc =
                                                      "Dotted field paths and the values to set",
                                                  .offset = offsetof(struct set_ctx, fields) },
                                                { .name = "overwrite",
                                                  .type = UF_OPT_BOOL,
                                                  .def = "true",
                                                  .desc = "Replace values that already exist",
                                                  .offset = offsetof(struct set_ctx, overwrite) },
                                                { 0 } };

static int set_init(struct uf_stage *st, void *ctx, struct uf_err *err)
{
    struct set_ctx *c = ctx;
    if (json_object_size(c->fields) == 0)
        return uf_err_set(err, UF_EINVAL, "option 'fields' must name at least one field");
    return 0;
}

static void set_process(struct uf_stage *st, void *ctx, struct uf_event *ev)
{
    struct set_ctx *c = ctx;
    json_t *body = uf_event_body(ev);
    if (!body) {
        uf_event_fail(ev, 400, "malformed_json", "the event is not one JSON object");
        return;
    }
    const char *path;
    json_t *value;
    json_object_foreach(c->fields, path, value)
    {
        if (!c->overwrite && uf_json_get_path(body, path))
            continue;
        if (!uf_json_set_path(body, path, json_deep_copy(value))) {
            uf_event_fail(ev, 422, "invalid_field", "cannot set a field inside a non-object");
            return;
        }
    }
    uf_emit(st, ev);
}

const struct uf_kind uf_transform_set = {
    .name = "set",
    .role = UF_TRANSFORM,
    .summary = "Set fields to fixed values",
    .options = set_options,
    .ctx_size = sizeof(struct set_ctx),
    .init = set_init,
    .process = set_process,
};
