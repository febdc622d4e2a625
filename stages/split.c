/* stages/split.c: the `split` transform: one event per item of a batch.
 * An event with an array at `items` (default `body`) becomes one event per item, in order,
 * sharing the batch's meta and completion, with its own id, `index` and `count`; the batch
 * event itself ends as a drop. Every item is checked before anything is emitted: an item that
 * is not an object fails the batch with 400. An event without an array passes on unchanged.
 * The framework cuts the items (uf_event_items), from a tree or a batch held as text alike.
 * Keeps no state: process() may run on several threads at once. Counts and batches held as
 * text: docs/architecture.md, "stages/split". */
#include <stdlib.h>
#include <string.h>

#include "framework/event.h"
#include "framework/stage.h"

struct split_ctx {
    char *items;
};

static const struct uf_option split_options[] = {
    { .name = "items",
      .type = UF_OPT_STR,
      .def = "body",
      .desc = "Dotted path of the array whose items become events (batch routes: body)",
      .offset = offsetof(struct split_ctx, items) },
    { 0 },
};

static int split_init(struct uf_stage *st, void *ctx, struct uf_err *err)
{
    struct split_ctx *sc = ctx;
    const char *p = sc->items;
    if (!*p || p[0] == '.' || p[strlen(p) - 1] == '.' || strstr(p, ".."))
        return uf_err_set(err, UF_EINVAL, "items: '%s' is not a dotted field path", p);
    return 0;
}

/* Emits the item events in order, then ends the batch. After a refusal the items left are
 * freed, never emitted: the refusal already answered 503. */
static void emit_items(struct uf_stage *st, struct uf_event *batch, struct uf_event **evs, size_t n)
{
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (rc)
            uf_event_free(evs[i]);
        else
            rc = uf_emit(st, evs[i]);
    }
    free(evs);
    uf_event_drop(batch, "split into its items");
}

static void split_process(struct uf_stage *st, void *ctx, struct uf_event *ev)
{
    const struct split_ctx *sc = ctx;
    struct uf_event **evs;
    size_t n;
    struct uf_err err = { 0 };
    switch (uf_event_items(ev, sc->items, &evs, &n, &err)) {
    case UF_ITEMS_SPLIT:
        emit_items(st, ev, evs, n);
        break;
    case UF_ITEMS_FAIL:
        uf_event_fail(ev, 400, "malformed_json", err.msg);
        break;
    default:
        uf_emit(st, ev);
        break; /* no batch, or a batch of one that is its own item */
    }
}

/* A batch held as text is its items, which is what `items: body` designates (the http
 * source's envelope puts the request body there); another path needs the tree. */
static enum uf_batch_role split_batch(const void *ctx)
{
    const struct split_ctx *sc = ctx;
    return strcmp(sc->items, "body") == 0 ? UF_BATCH_END : UF_BATCH_NONE;
}

const struct uf_kind uf_transform_split = {
    .name = "split",
    .role = UF_TRANSFORM,
    .summary = "Turn a batch (an array of objects) into one event per item, sharing its reply",
    .options = split_options,
    .ctx_size = sizeof(struct split_ctx),
    .batch = split_batch,
    .init = split_init,
    .process = split_process,
};
