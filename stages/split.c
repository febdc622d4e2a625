/* stages/split.c: the `split` transform: one event per item of a batch.
 * An event whose body holds an array at `items` (default `body`: the envelope of the http
 * source's batch routes) becomes one event per item, in order: the item (a JSON object) is the
 * new event's body; its meta is a copy of the batch's meta (route, method, path, params, query,
 * ip, user_agent, request_id, auth, roles...) plus `index` and `count`; the user, the source and
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
 * emitted. Keeps no state: process() may run on several threads at once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "jsonpath.h"
#include "mem.h"
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

/* A copy of the batch's meta for one item: its own object, and its own copies of the nested
 * objects and arrays (params, query, roles), which stages may change. The strings and numbers
 * are shared: no stage edits a meta value in place (a stage replaces it), and jansson counts
 * references atomically. Deep copies of those ten or so strings per item were 6 % of the CPU
 * of a batch request. */
static json_t *copy_meta(json_t *meta)
{
    json_t *cp = json_object();
    const char *key;
    json_t *v;
    json_object_foreach(meta, key, v) {
        bool nested = json_is_object(v) || json_is_array(v);
        json_object_set_new_nocheck(cp, key, nested ? json_deep_copy(v) : json_incref(v));
    }
    return cp;
}

/* The event for item i of n; shares the batch's completion. Takes ownership of item. The last
 * item takes the batch's meta (the batch only ends after this), the others get copies. */
static struct uf_event *item_event(struct uf_event *batch, json_t *item, size_t i, size_t n)
{
    struct uf_event *ev = uf_event_new(item);
    if (batch->meta && i + 1 < n)
        ev->meta = copy_meta(batch->meta);
    else if (batch->meta) {
        ev->meta = batch->meta;
        batch->meta = NULL;
    }
    json_object_set_new(uf_event_meta(ev), "index", json_integer((json_int_t)i));
    json_object_set_new(uf_event_meta(ev), "count", json_integer((json_int_t)n));
    uf_event_set_user(ev, batch->user);
    ev->source = batch->source;
    ev->received_us = batch->received_us;
    if (batch->done)
        uf_completion_attach(batch->done, ev);
    return ev;
}

/* Index of the first item that is not an object, or n when all are. */
static size_t first_non_object(const json_t *items)
{
    size_t n = json_array_size(items), i = 0;
    while (i < n && json_is_object(json_array_get(items, i)))
        i++;
    return i;
}

static void split_process(struct uf_stage *st, void *ctx, struct uf_event *ev)
{
    struct split_ctx *sc = ctx;
    json_t *items = uf_json_get_path(ev->body, sc->items);
    if (!json_is_array(items)) {
        uf_emit(st, ev);
        return;
    }
    size_t n = json_array_size(items), bad = first_non_object(items);
    if (bad < n) {
        char *msg = uf_xasprintf("item %zu is not a JSON object", bad);
        uf_event_fail(ev, 400, "malformed_json", msg);
        free(msg);
        return;
    }
    /* All item events are built, and the batch lets go of its items, before the first emit:
     * once emitted, an item may be changed on another thread, so it must have one owner. */
    struct uf_event **evs = uf_xmalloc((n ? n : 1) * sizeof(*evs));
    for (size_t i = 0; i < n; i++)
        evs[i] = item_event(ev, json_incref(json_array_get(items, i)), i, n);
    json_array_clear(items);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (rc)
            uf_event_free(evs[i]); /* never emitted: the refusal already answered 503 */
        else
            rc = uf_emit(st, evs[i]);
    }
    free(evs);
    uf_event_drop(ev, "split into its items");
}

const struct uf_kind uf_transform_split = {
    .name = "split",
    .role = UF_TRANSFORM,
    .summary = "Turn a batch (an array of objects) into one event per item, sharing its reply",
    .options = split_options,
    .ctx_size = sizeof(struct split_ctx),
    .init = split_init,
    .process = split_process,
};
