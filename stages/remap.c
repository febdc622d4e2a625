/* stages/remap.c: the `remap` transform: renames, copies and deletes fields.
 * Applied in a fixed order — copy, rename, delete — so a field can be copied and then removed
 * under its old name in one component. A missing source field is skipped, not an error. */
#include "framework/jsonpath.h"
#include "framework/stage.h"

struct remap_ctx {
    json_t *rename; /* old path -> new path */
    json_t *copy;   /* source path -> destination path */
    json_t *del;    /* list of paths */
};

static const struct uf_option remap_options[] = { { .name = "copy",
                                                    .type = UF_OPT_MAP,
                                                    .desc =
                                                        "Source paths copied to destination paths",
                                                    .offset = offsetof(struct remap_ctx, copy) },
                                                  { .name = "rename",
                                                    .type = UF_OPT_MAP,
                                                    .desc = "Old field paths and their new paths",
                                                    .offset = offsetof(struct remap_ctx, rename) },
                                                  { .name = "delete",
                                                    .type = UF_OPT_LIST,
                                                    .desc = "Field paths to remove",
                                                    .offset = offsetof(struct remap_ctx, del) },
                                                  { 0 } };

static int check_map_of_strings(const json_t *m, const char *name, struct uf_err *err)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)m, k, v)
    {
        if (!json_is_string(v))
            return uf_err_set(err, UF_EINVAL, "option '%s': '%s' must map to a field path", name,
                              k);
    }
    return 0;
}

static int remap_init(struct uf_stage *st, void *ctx, struct uf_err *err)
{
    struct remap_ctx *c = ctx;
    if (!c->rename && !c->copy && !c->del)
        return uf_err_set(err, UF_EINVAL, "set at least one of 'copy', 'rename' or 'delete'");
    if (check_map_of_strings(c->rename, "rename", err) ||
        check_map_of_strings(c->copy, "copy", err))
        return UF_EINVAL;
    return 0;
}

static void remap_process(struct uf_stage *st, void *ctx, struct uf_event *ev)
{
    struct remap_ctx *c = ctx;
    json_t *body = uf_event_body(ev);
    if (!body) {
        uf_event_fail(ev, 400, "malformed_json", "the event is not one JSON object");
        return;
    }
    const char *from;
    json_t *to;
    json_object_foreach(c->copy, from, to)
    {
        json_t *v = uf_json_get_path(body, from);
        if (v)
            uf_json_set_path(body, json_string_value(to), json_deep_copy(v));
    }
    json_object_foreach(c->rename, from, to)
    {
        json_t *v = uf_json_take_path(body, from);
        if (v)
            uf_json_set_path(body, json_string_value(to), v);
    }
    size_t i;
    json_t *path;
    json_array_foreach(c->del, i, path)
        json_decref(uf_json_take_path(body, json_string_value(path)));
    uf_emit(st, ev);
}

const struct uf_kind uf_transform_remap = {
    .name = "remap",
    .role = UF_TRANSFORM,
    .summary = "Rename, copy and delete fields",
    .options = remap_options,
    .ctx_size = sizeof(struct remap_ctx),
    .init = remap_init,
    .process = remap_process,
};
