/* event_items.c: cutting a batch event into its items (uf_event_items), from a tree or from
 * the batch's text alike: each item becomes an event of its own that shares the batch's meta,
 * user, source, receive time and completion. Items of a text are spans of it, borrowed while
 * the shared completion keeps the text alive, copied otherwise. */
#include "event.h"
#include "event_int.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "jsonpath.h"
#include "mem.h"

/* Gives the event for item i of n what it shares with the batch. */
static void inherit(struct uf_event *ev, const struct uf_event *batch, size_t i, size_t n)
{
    uf_event_set_item(ev, batch->meta, i, n);
    uf_event_set_user(ev, batch->user);
    ev->source = batch->source;
    ev->received_us = batch->received_us;
    if (batch->done)
        uf_completion_attach(batch->done, ev);
}

static int not_object(struct uf_err *err, size_t i)
{
    return uf_err_set(err, UF_EINVAL, "item %zu is not a JSON object", i);
}

/* The items of the array at path in the batch's tree. */
static enum uf_items_rc tree_items(struct uf_event *ev, const char *path, struct uf_event ***out,
                                   size_t *n, struct uf_err *err)
{
    json_t *body = uf_event_body(ev); /* a text that is not a batch is parsed */
    if (!body)
        return uf_err_set(err, UF_EINVAL, "the event is not one JSON object"), UF_ITEMS_FAIL;
    json_t *items = uf_json_get_path(body, path);
    if (!json_is_array(items))
        return UF_ITEMS_NONE;
    *n = json_array_size(items);
    for (size_t i = 0; i < *n; i++)
        if (!json_is_object(json_array_get(items, i)))
            return not_object(err, i), UF_ITEMS_FAIL;
    /* The batch lets go of its items: once emitted, an item may be changed on another thread,
     * so it must have one owner. */
    *out = uf_xmalloc((*n ? *n : 1) * sizeof(**out));
    for (size_t i = 0; i < *n; i++) {
        (*out)[i] = uf_event_new(json_incref(json_array_get(items, i)));
        inherit((*out)[i], ev, i, *n);
    }
    json_array_clear(items);
    return UF_ITEMS_SPLIT;
}

/* The elements of an array text, as spans into it. */
struct spans {
    struct uf_jmember *v;
    size_t n, cap;
    size_t bad; /* the first element that is not an object; SIZE_MAX when none */
};

/* Scans on past an element that is not an object, so that a text that is not JSON further on
 * is reported as such, as a parser would. */
static int collect(void *arg, const struct uf_jmember *m, struct uf_err *err)
{
    (void)err;
    struct spans *sp = arg;
    if (m->type != UF_J_OBJECT) {
        sp->bad = sp->bad < m->index ? sp->bad : m->index;
        return 0;
    }
    if (sp->n == sp->cap) {
        sp->cap = sp->cap ? sp->cap * 2 : 16;
        sp->v = uf_xrealloc(sp->v, sp->cap * sizeof(*sp->v));
    }
    sp->v[sp->n++] = *m;
    return 0;
}

/* The event for the text item at m, i of n: borrowed like the batch's text, which lives until
 * the shared completion runs; a copy when the batch owns its text or has no completion. */
static struct uf_event *text_item(const struct uf_event *batch, const struct uf_jmember *m,
                                  size_t i, size_t n)
{
    struct uf_event *ev = uf_event_new_raw(m->val, m->val_len, NULL);
    ev->raw_checked = batch->raw_checked; /* a part of a checked text is checked */
    if (batch->raw_owned || !batch->done)
        uf_event_own_raw(ev);
    inherit(ev, batch, i, n);
    return ev;
}

static enum uf_items_rc text_array(struct uf_event *ev, struct uf_event ***out, size_t *n,
                                   struct uf_err *err)
{
    struct spans sp = { .bad = SIZE_MAX };
    enum uf_items_rc rc = UF_ITEMS_FAIL;
    if (uf_event_check_raw(ev, err) != 0 ||
        uf_jscan_array_trusted(ev->raw, ev->raw_len, collect, &sp, err) != 0)
        goto out;
    if (sp.bad != SIZE_MAX) {
        not_object(err, sp.bad);
        goto out;
    }
    *n = sp.n;
    *out = uf_xmalloc((sp.n ? sp.n : 1) * sizeof(**out));
    for (size_t i = 0; i < sp.n; i++)
        (*out)[i] = text_item(ev, &sp.v[i], i, sp.n);
    rc = UF_ITEMS_SPLIT;
out:
    free(sp.v);
    return rc;
}

enum uf_items_rc uf_event_items(struct uf_event *ev, const char *path, struct uf_event ***out,
                                size_t *n, struct uf_err *err)
{
    *out = NULL;
    *n = 0;
    if (!ev->raw || strcmp(path, "body") != 0)
        return tree_items(ev, path, out, n, err);
    char first = uf_jscan_first(ev->raw, ev->raw_len);
    if (first == '[')
        return text_array(ev, out, n, err);
    if (first != '{')
        return UF_ITEMS_NONE;
    uf_event_set_item(ev, ev->meta, 0, 1); /* a batch of one: the event is its only item */
    return UF_ITEMS_SELF;
}
