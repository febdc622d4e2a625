/* stages/split.c: the `split` transform: one event per item of a batch.
 * An event with an array at `items` (default `body`) becomes one event per item, in order,
 * sharing the batch's meta and completion, with its own id, `index` and `count`; the batch
 * event itself ends as a drop. Every item is checked before anything is emitted: an item that
 * is not an object fails the batch with 400. An event without an array passes on unchanged.
 * Raw batches are cut into the elements' spans of the same text. Keeps no state: process()
 * may run on several threads at once. Counts and the raw path: docs/architecture.md,
 * "stages/split". */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framework/event.h"
#include "framework/jscan.h"
#include "framework/jsonpath.h"
#include "framework/mem.h"
#include "framework/stage.h"

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

/* Gives the event for item i of n what it shares with the batch: meta (shared, copied by the
 * item that changes it), its index and count, the user, the source, the receive time and the
 * completion. */
static void inherit(struct uf_event *ev, struct uf_event *batch, size_t i, size_t n)
{
    uf_event_set_item(ev, batch->meta, i, n);
    uf_event_set_user(ev, batch->user);
    ev->source = batch->source;
    ev->received_us = batch->received_us;
    if (batch->done)
        uf_completion_attach(batch->done, ev);
}

/* The event for item i of n; shares the batch's completion. Takes ownership of item. */
static struct uf_event *item_event(struct uf_event *batch, json_t *item, size_t i, size_t n)
{
    struct uf_event *ev = uf_event_new(item);
    inherit(ev, batch, i, n);
    return ev;
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

/* Index of the first item that is not an object, or n when all are. */
static size_t first_non_object(const json_t *items)
{
    size_t n = json_array_size(items), i = 0;
    while (i < n && json_is_object(json_array_get(items, i)))
        i++;
    return i;
}

static void fail_item(struct uf_event *ev, size_t i)
{
    char *msg = uf_xasprintf("item %zu is not a JSON object", i);
    uf_event_fail(ev, 400, "malformed_json", msg);
    free(msg);
}

static void split_tree(struct uf_stage *st, const struct split_ctx *sc, struct uf_event *ev)
{
    json_t *items = uf_json_get_path(ev->body, sc->items);
    if (!json_is_array(items)) {
        uf_emit(st, ev);
        return;
    }
    size_t n = json_array_size(items), bad = first_non_object(items);
    if (bad < n) {
        fail_item(ev, bad);
        return;
    }
    /* All item events are built, and the batch lets go of its items, before the first emit:
     * once emitted, an item may be changed on another thread, so it must have one owner. */
    struct uf_event **evs = uf_xmalloc((n ? n : 1) * sizeof(*evs));
    for (size_t i = 0; i < n; i++)
        evs[i] = item_event(ev, json_incref(json_array_get(items, i)), i, n);
    json_array_clear(items);
    emit_items(st, ev, evs, n);
}

/* ---- raw batches ---- */

struct span {
    const char *s;
    size_t len;
};

/* The elements of a raw array, as spans into its text. */
struct raw_items {
    struct span *v;
    size_t n, cap;
    size_t bad; /* the first element that is not an object; SIZE_MAX when none */
};

/* Scans on past an element that is not an object, so that a text that is not JSON further on
 * is reported as such, as the tree path's parser would have. */
static int collect_item(void *arg, const struct uf_jmember *m, struct uf_err *err)
{
    (void)err;
    struct raw_items *it = arg;
    if (m->type != UF_J_OBJECT) {
        it->bad = it->bad < m->index ? it->bad : m->index;
        return 0;
    }
    if (it->n == it->cap) {
        it->cap = it->cap ? it->cap * 2 : 16;
        it->v = uf_xrealloc(it->v, it->cap * sizeof(*it->v));
    }
    it->v[it->n++] = (struct span){ m->val, m->val_len };
    return 0;
}

/* The event for raw item i of n (see the file comment for when its text is a copy). */
static struct uf_event *raw_item_event(struct uf_event *batch, struct span sp, size_t i,
                                       size_t n)
{
    struct uf_event *ev = uf_event_new_raw(sp.s, sp.len, NULL);
    ev->raw_checked = batch->raw_checked; /* a part of a checked text is checked */
    if (batch->raw_owned || !batch->done) /* the batch's text goes with it: a copy */
        uf_event_own_raw(ev);
    inherit(ev, batch, i, n);
    return ev;
}

static void split_raw_array(struct uf_stage *st, struct uf_event *ev)
{
    struct raw_items it = { .bad = SIZE_MAX };
    struct uf_err err = { 0 };
    if (uf_event_check_raw(ev, &err) != 0 ||
        uf_jscan_array_trusted(ev->raw, ev->raw_len, collect_item, &it, &err) != 0)
        uf_event_fail(ev, 400, "malformed_json", err.msg);
    else if (it.bad != SIZE_MAX)
        fail_item(ev, it.bad);
    else {
        struct uf_event **evs = uf_xmalloc((it.n ? it.n : 1) * sizeof(*evs));
        for (size_t i = 0; i < it.n; i++)
            evs[i] = raw_item_event(ev, it.v[i], i, it.n);
        emit_items(st, ev, evs, it.n);
    }
    free(it.v);
}

static void split_raw(struct uf_stage *st, struct uf_event *ev)
{
    char first = uf_jscan_first(ev->raw, ev->raw_len);
    if (first == '[') {
        split_raw_array(st, ev);
        return;
    }
    if (first == '{') /* a batch of one: the event is its only item */
        uf_event_set_item(ev, ev->meta, 0, 1);
    uf_emit(st, ev);
}

static void split_process(struct uf_stage *st, void *ctx, struct uf_event *ev)
{
    if (ev->raw)
        split_raw(st, ev);
    else
        split_tree(st, ctx, ev);
}

/* Raw text is the batch itself, which is what `items: body` designates (the http source's
 * envelope puts the request body there); another path needs the tree. */
static bool split_raw_ok(const void *ctx)
{
    const struct split_ctx *sc = ctx;
    return strcmp(sc->items, "body") == 0;
}

static enum uf_batch_role split_raw_batch(const void *ctx)
{
    return split_raw_ok(ctx) ? UF_BATCH_END : UF_BATCH_NONE;
}

const struct uf_kind uf_transform_split = {
    .name = "split",
    .role = UF_TRANSFORM,
    .summary = "Turn a batch (an array of objects) into one event per item, sharing its reply",
    .options = split_options,
    .ctx_size = sizeof(struct split_ctx),
    .takes_raw = true,
    .raw_ok = split_raw_ok,
    .raw_batch = split_raw_batch,
    .init = split_init,
    .process = split_process,
};
