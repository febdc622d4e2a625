/* stages/split.c: the `split` transform: one event per item of a batch.
 * An event whose body holds an array at `items` (default `body`: the envelope of the http
 * source's batch routes) becomes one event per item, in order: the item (a JSON object) is the
 * new event's body; it shares the batch's meta (route, method, path, params, query, ip,
 * user_agent, request_id, auth, roles...: one object for every item, copied by an item that
 * changes it, see uf_event_meta) and gets its `index` and `count`; the user, the source and
 * the receive time are the batch's. Each item gets its own event id and shares the batch's
 * completion, so a request is answered when the last item is finished; the http source counts
 * {"accepted": n} from the items it received, not from outcomes.
 * The batch event itself then ends as a drop ("split into its items"): on this component,
 * `in` counts batches, `out` items and `dropped` the consumed batches. Drops are what leaves the
 * completion's DONE count equal to the number of items delivered.
 * Every item is checked before anything is emitted: a batch with an item that is not an object
 * fails whole with 400 (place `validate` with `items` before it to reject by field). An event
 * without an array at `items` passes on unchanged. When the engine refuses an item (a full
 * `when_full: reject` queue, shutdown: the request gets 503), the items after it are not
 * emitted. Keeps no state: process() may run on several threads at once.
 * The items are cut by the framework (uf_event_items), from a tree or from a batch held as its
 * text alike (the http source's, with `items: body`): there a text object is the batch of one,
 * and the event itself goes on as item 0 of 1 (no drop is counted then); a text that is not
 * JSON fails with 400 malformed_json, and any other value passes on unchanged. */
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "stage.h"

struct split_ctx {
    char *items;
};

static const struct uf_option split_options[] = {
    { .name = "items", .type = UF_OPT_STR, .def = "body",
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
static void emit_items(struct uf_stage *st, struct uf_event *batch, struct uf_event **evs,
                       size_t n)
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
    case UF_ITEMS_SPLIT: emit_items(st, ev, evs, n); break;
    case UF_ITEMS_FAIL: uf_event_fail(ev, 400, "malformed_json", err.msg); break;
    default: uf_emit(st, ev); break; /* no batch, or a batch of one that is its own item */
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
