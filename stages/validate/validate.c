/* validate.c: the `validate` transform: declarative field rules, checked at the door.
 * `rules` maps a rule set (a route name, or an event `type` with `match: type`) to checks on
 * dotted paths; the first failing check finishes the event with 422 (or the rule's status),
 * naming the field and, for a batch, the item. With `items` a batch is checked item by item
 * and one invalid item rejects it whole. Events held as text are checked from their text, with
 * the same failures. This file: options, lifecycle, the walk over items and the failures; rules
 * in validate_rules.c, one value in validate_check.c. Rules are read-only after init: process()
 * is thread-safe. Rule language and text path: docs/architecture.md, "stages/validate". */
#include "stages/validate/validate_int.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framework/event.h"
#include "framework/jsonpath.h"
#include "framework/mem.h"
#include "framework/stage.h"

static const char *const match_values[] = { "route", "type", NULL };
static const char *const unmatched_values[] = { "pass", "reject", NULL };

static const struct uf_option validate_options[] = {
    { .name = "rules",
      .type = UF_OPT_MAP,
      .flags = UF_OPT_REQUIRED,
      .desc = "Rule sets: name to {field path: checks} (see docs/http.md)",
      .offset = offsetof(struct uf_validate_ctx, rules_opt) },
    { .name = "items",
      .type = UF_OPT_STR,
      .desc = "Dotted path of an array of items (batch routes: body); when an event has one, "
              "the rules apply to each item and one invalid item rejects the whole event",
      .offset = offsetof(struct uf_validate_ctx, items) },
    { .name = "match",
      .type = UF_OPT_ENUM,
      .def = "route",
      .values = match_values,
      .desc = "What names the rule set of an event: meta.route or the body's type",
      .offset = offsetof(struct uf_validate_ctx, match) },
    { .name = "unmatched",
      .type = UF_OPT_ENUM,
      .def = "pass",
      .values = unmatched_values,
      .desc = "Events without a rule set: pass them on, or reject them with 422",
      .offset = offsetof(struct uf_validate_ctx, unmatched) },
    { .name = "status",
      .type = UF_OPT_INT,
      .def = "422",
      .min = 400,
      .max = 499,
      .desc = "Status of a failed check unless the rule sets its own",
      .offset = offsetof(struct uf_validate_ctx, status) },
    { 0 },
};

static int validate_init(struct uf_stage *st, void *ctx, struct uf_err *err)
{
    return uf_validate_parse_rules(ctx, err);
}

static enum uf_batch_role validate_batch(const void *ctx)
{
    /* on_text: items: body, and rules a text allows */
    return ((const struct uf_validate_ctx *)ctx)->on_text ? UF_BATCH_PASS : UF_BATCH_NONE;
}

/* ---- the tree path ---- */

/* Converts a string to the rule's type in place (query and path values are strings). */
static json_t *coerce(const struct uf_validate_rule *r, json_t *parent, json_t *v)
{
    const char *s = json_string_value(v);
    char *end = NULL;
    json_t *out = NULL;
    if (!s || !*s || isspace((unsigned char)*s))
        return v;
    errno = 0;
    if (r->type == UF_VT_INT) {
        long long n = strtoll(s, &end, 10);
        out = *end || errno == ERANGE ? NULL : json_integer(n);
    } else if (r->type == UF_VT_NUMBER) {
        double d = strtod(s, &end);
        out = *end || errno == ERANGE || !isfinite(d) ? NULL : json_real(d);
    } else if (r->type == UF_VT_BOOL && (!strcmp(s, "true") || !strcmp(s, "false")))
        out = json_boolean(!strcmp(s, "true"));
    if (!out)
        return v;
    json_object_set_new(parent, r->parts[r->nparts - 1], out);
    return out;
}

/* Checks one rule against body; false with f filled on failure. */
static bool check_rule(struct uf_validate_failure *f, json_t *body)
{
    const struct uf_validate_rule *r = f->rule;
    json_t *parent = body;
    for (size_t i = 0; parent && i + 1 < r->nparts; i++)
        parent = json_object_get(parent, r->parts[i]);
    json_t *v = json_is_object(parent) ? json_object_get(parent, r->parts[r->nparts - 1]) : NULL;
    if (json_is_null(v))
        v = NULL;
    if (!v && r->def && json_is_object(parent)) {
        /* A copy per event: a shared default would be one value mutated by every event. */
        json_object_set_new(parent, r->parts[r->nparts - 1], json_deep_copy(r->def));
        return true;
    }
    if (!v)
        return r->required ? uf_validate_fail(f, "is required") : true;
    if (r->coerce)
        v = coerce(r, parent, v);
    struct uf_validate_val x;
    uf_validate_val_tree(v, &x);
    if (!uf_validate_check_value(f, &x))
        return false;
    if (x.recased)
        json_string_set(v, x.canon);
    return true;
}

/* ---- the raw path ---- */

/* UUIDs a raw event must carry in lower case (validate_check.c): rare, so the list and the
 * rewritten text are allocated only when there is one. */
struct edit {
    size_t off, len; /* the string's span between its quotes, from the start of the text */
    char uuid[UF_UUID_STR];
};

struct edits {
    const char *base;
    struct edit *v;
    size_t n;
};

static void edits_add(struct edits *ed, const struct uf_jmember *m, const char *uuid)
{
    ed->v = uf_xrealloc(ed->v, (ed->n + 1) * sizeof(*ed->v));
    struct edit *e = &ed->v[ed->n++];
    e->off = (size_t)(m->val - ed->base);
    e->len = m->val_len;
    memcpy(e->uuid, uuid, UF_UUID_STR);
}

static int by_offset(const void *a, const void *b)
{
    size_t x = ((const struct edit *)a)->off, y = ((const struct edit *)b)->off;
    return (x > y) - (x < y);
}

/* Gives ev its own text with the edits applied (they come in rule order, not text order). */
static void edits_apply(struct uf_event *ev, struct edits *ed)
{
    size_t raw_len;
    const char *raw = uf_event_raw(ev, &raw_len);
    size_t n = raw_len, at = 0, out = 0;
    qsort(ed->v, ed->n, sizeof(*ed->v), by_offset);
    for (size_t i = 0; i < ed->n; i++)
        n = n - ed->v[i].len + UF_UUID_STR - 1;
    char *text = uf_xmalloc(n + 1);
    for (size_t i = 0; i < ed->n; i++) {
        memcpy(text + out, raw + at, ed->v[i].off - at);
        out += ed->v[i].off - at;
        memcpy(text + out, ed->v[i].uuid, UF_UUID_STR - 1);
        out += UF_UUID_STR - 1;
        at = ed->v[i].off + ed->v[i].len;
    }
    memcpy(text + out, raw + at, raw_len - at);
    text[n] = '\0';
    bool checked = uf_event_raw_checked(ev); /* a UUID lower-cased: still as valid as it was */
    uf_event_set_raw(ev, text, n);
    uf_event_set_raw_checked(ev, checked);
}

/* Checks one rule against the member picked for it from an item's text (key NULL: absent). */
static bool check_member_rule(struct uf_validate_failure *f, const struct uf_jmember *m,
                              struct edits *ed)
{
    const struct uf_validate_rule *r = f->rule;
    if (!m->key || m->type == UF_J_NULL)
        return r->required ? uf_validate_fail(f, "is required") : true;
    struct uf_validate_buf b;
    struct uf_validate_val x;
    uf_validate_val_text(m, r->type == UF_VT_RFC3339, &b, &x);
    bool ok = uf_validate_check_value(f, &x);
    /* An escaped UUID is rewritten too: the text then holds the value as the tree path's. */
    if (ok && r->type == UF_VT_UUID && (x.recased || m->escaped))
        edits_add(ed, m, x.canon);
    uf_validate_buf_free(&b);
    return ok;
}

/* ---- items, rule sets and failures ---- */

/* One body under check: a tree object, or (picked set) the members of an object's text picked
 * by the names in vc->keys. */
struct item {
    json_t *body;
    const struct uf_jmember *picked;
    struct edits *ed;
    long long index; /* its place in a batch; -1 when the event is one body */
};

static const struct uf_validate_set *set_named(const struct uf_validate_ctx *vc, const char *name,
                                               size_t n)
{
    for (size_t i = 0; i < vc->nsets; i++)
        if (strlen(vc->sets[i].name) == n && memcmp(vc->sets[i].name, name, n) == 0)
            return &vc->sets[i];
    return NULL;
}

/* The item's type member (match: type), decoded when escaped. */
static const struct uf_validate_set *set_of_type(const struct uf_validate_ctx *vc,
                                                 const struct item *it)
{
    if (!it->picked) {
        const json_t *t = json_object_get(it->body, "type");
        return json_is_string(t) ? set_named(vc, json_string_value(t), json_string_length(t))
                                 : NULL;
    }
    const struct uf_jmember *m = &it->picked[vc->type_key];
    if (!m->key || m->type != UF_J_STRING)
        return NULL;
    if (!m->escaped)
        return set_named(vc, m->val, m->val_len);
    struct uf_validate_buf b;
    size_t n;
    const char *name = uf_validate_buf_text(&b, m->val, m->val_len, true, &n);
    const struct uf_validate_set *set = set_named(vc, name, n);
    uf_validate_buf_free(&b);
    return set;
}

static const struct uf_validate_set *find_set(const struct uf_validate_ctx *vc, struct uf_event *ev,
                                              const struct item *it)
{
    if (vc->match == 1)
        return set_of_type(vc, it);
    const json_t *route = uf_event_meta_get(ev, "route");
    return json_is_string(route)
               ? set_named(vc, json_string_value(route), json_string_length(route))
               : NULL;
}

/* Names the item a failure is in, for the message: label "events[3]" and sep "." for item 3
 * of a batch (the route name, else the `items` path), label "item 3" and sep ": " for a
 * split_array item (its index), both "" otherwise. Returns the item's index, or -1. */
static long long locate(const struct uf_validate_ctx *vc, struct uf_event *ev, long long item,
                        char *label, size_t n, const char **sep)
{
    const char *route = json_string_value(uf_event_meta_get(ev, "route"));
    label[0] = '\0';
    *sep = "";
    if (item >= 0) {
        snprintf(label, n, "%s[%lld]", route ? route : vc->items, item);
        *sep = ".";
    } else if (uf_event_index(ev) >= 0) {
        item = uf_event_index(ev);
        snprintf(label, n, "item %lld", item);
        *sep = ": ";
    }
    return item;
}

/* Finishes ev with status and {"error":{code,message[,field][,index]}}. */
static void fail_with(struct uf_event *ev, int status, const char *code, const char *msg,
                      const char *field, long long index)
{
    json_t *body = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
    json_t *e = json_object_get(body, "error");
    if (field)
        json_object_set_new(e, "field", json_string(field));
    if (index >= 0)
        json_object_set_new(e, "index", json_integer(index));
    uf_event_reply(ev, status, body);
    uf_event_fail(ev, status, code, msg);
}

/* The failure's member key, decoded, malloc'd; NULL when none. */
static char *failed_key(const struct uf_validate_failure *f)
{
    if (!f->key)
        return NULL;
    char *key = uf_xmalloc(f->key_len + 1);
    size_t n = f->key_escaped ? uf_jscan_unescape(f->key, f->key_len, key) : f->key_len;
    if (!f->key_escaped)
        memcpy(key, f->key, n);
    key[n] = '\0';
    return key;
}

static void reject(const struct uf_validate_ctx *vc, struct uf_event *ev,
                   const struct uf_validate_failure *f, long long item)
{
    const struct uf_validate_rule *r = f->rule;
    char label[192], field[256];
    const char *sep;
    long long index = locate(vc, ev, item, label, sizeof(label), &sep);
    char *key = failed_key(f);
    snprintf(field, sizeof(field), "%s%s%s", r->field, key ? "." : "", key ? key : "");
    char *msg =
        uf_xasprintf("%s%s%s%s%s: %s", label, sep, r->path, key ? "." : "", key ? key : "", f->why);
    fail_with(ev, r->status, "invalid_field", msg, field, index);
    free(msg);
    free(key);
}

static void reject_unmatched(const struct uf_validate_ctx *vc, struct uf_event *ev, long long item)
{
    char label[192];
    const char *sep;
    long long index = locate(vc, ev, item, label, sizeof(label), &sep);
    char *msg =
        uf_xasprintf("%s%sno validation rules for this event", label, index >= 0 ? ": " : "");
    fail_with(ev, (int)vc->status, "invalid_event", msg, NULL, index);
    free(msg);
}

static void reject_not_object(struct uf_event *ev, size_t i)
{
    char *msg = uf_xasprintf("item %zu is not a JSON object", i);
    fail_with(ev, 400, "malformed_json", msg, NULL, (long long)i);
    free(msg);
}

/* Checks one item against its rule set. Returns false when it failed, after finishing ev with
 * the failure. */
static bool check_item(const struct uf_validate_ctx *vc, struct uf_event *ev, const struct item *it)
{
    const struct uf_validate_set *set = find_set(vc, ev, it);
    if (!set && vc->unmatched == 1) {
        reject_unmatched(vc, ev, it->index);
        return false;
    }
    for (size_t i = 0; set && i < set->n; i++) {
        struct uf_validate_failure f;
        f.rule = &set->rules[i];
        f.key = NULL;
        if (it->picked ? !check_member_rule(&f, &it->picked[f.rule->key], it->ed)
                       : !check_rule(&f, it->body)) {
            reject(vc, ev, &f, it->index);
            return false;
        }
    }
    return true;
}

/* ---- process ---- */

static void process_tree(struct uf_stage *st, const struct uf_validate_ctx *vc, struct uf_event *ev)
{
    json_t *body = uf_event_body(ev);
    if (!body) {
        fail_with(ev, 400, "malformed_json", "the event is not one JSON object", NULL, -1);
        return;
    }
    json_t *items = vc->items ? uf_json_get_path(body, vc->items) : NULL;
    if (!json_is_array(items)) {
        struct item it = { .body = body, .index = -1 };
        if (check_item(vc, ev, &it))
            uf_emit(st, ev);
        return;
    }
    /* Every item is checked before anything goes on: one invalid item rejects the batch. */
    size_t i;
    json_t *item;
    json_array_foreach(items, i, item)
    {
        struct item it = { .body = item, .index = (long long)i };
        if (!json_is_object(item)) {
            reject_not_object(ev, i);
            return;
        }
        if (!check_item(vc, ev, &it))
            return;
    }
    uf_emit(st, ev);
}

/* A raw event's text and what its check gathered; picked holds the members of the item
 * under check, by the names in vc->keys (absent: key NULL). */
struct rawcheck {
    const struct uf_validate_ctx *vc;
    struct uf_event *ev;
    struct edits ed;
    struct uf_jmember *picked;
};

/* Checks the item whose members are picked. Returns 0 when it passed, 1 after finishing the
 * event with its failure. */
static int check_picked(struct rawcheck *rc, long long index)
{
    struct item it = { .picked = rc->picked, .ed = &rc->ed, .index = index };
    return check_item(rc->vc, rc->ev, &it) ? 0 : 1;
}

/* Checks the object s[0..n) (an event that is one item). Returns check_picked's values, or
 * UF_EINVAL (err set) when the text is not a JSON object. */
static int check_text(struct rawcheck *rc, const char *s, size_t n, long long index,
                      struct uf_err *err)
{
    int r = uf_jscan_pick_trusted(s, n, rc->vc->keys, rc->vc->nkeys, rc->picked, err);
    return r == 0 ? check_picked(rc, index) : r;
}

/* A member of an array's item, kept when a rule names it (the last one when a name repeats,
 * as uf_jscan_pick keeps it; the http source refuses repeated names anyway). */
static void pick_member(struct rawcheck *rc, const struct uf_jmember *m)
{
    const struct uf_validate_ctx *vc = rc->vc;
    for (size_t i = 0; i < vc->nkeys; i++) {
        if (uf_jscan_key_is_n(m, vc->keys[i], vc->key_lens[i]))
            rc->picked[i] = *m;
    }
}

/* uf_jscan_items' reports: an item's members as they come, then the item once it ends, so
 * each item of the array is scanned once. */
static int check_element(void *arg, const struct uf_jmember *m, struct uf_err *err)
{
    (void)err;
    struct rawcheck *rc = arg;
    if (m->key) {
        pick_member(rc, m);
        return 0;
    }
    if (m->type != UF_J_OBJECT) {
        reject_not_object(rc->ev, m->index);
        return 1;
    }
    int r = check_picked(rc, (long long)m->index);
    memset(rc->picked, 0, rc->vc->nkeys * sizeof(*rc->picked)); /* the next item's start */
    return r;
}

/* Where a raw object stands among items: the http source sends a batch route's single object
 * as one (the tree path's array of one: item 0, named after meta.route); split's item carries
 * its index, and another source's message is one body: both are checked as the body (-1). */
static long long object_index(struct uf_event *ev)
{
    if (uf_event_index(ev) >= 0)
        return -1;
    return json_is_string(uf_event_meta_get(ev, "route")) ? 0 : -1;
}

/* The text is the items (`items: body`, see on_text): an array of objects or one. */
static int check_raw(struct rawcheck *rc, struct uf_err *err)
{
    size_t len;
    const char *text = uf_event_raw(rc->ev, &len);
    if (uf_jscan_first(text, len) != '[')
        return check_text(rc, text, len, object_index(rc->ev), err);
    return uf_jscan_items_trusted(text, len, check_element, rc, err);
}

static void process_raw(struct uf_stage *st, const struct uf_validate_ctx *vc, struct uf_event *ev)
{
    enum { ON_STACK = 32 }; /* more names than any rule set seen: no allocation per event */
    struct uf_jmember stack[ON_STACK];
    size_t len;
    const char *text = uf_event_raw(ev, &len);
    struct rawcheck rc = { .vc = vc, .ev = ev, .ed.base = text, .picked = stack };
    if (vc->nkeys > ON_STACK)
        rc.picked = uf_xmalloc(vc->nkeys * sizeof(*rc.picked));
    memset(rc.picked, 0, vc->nkeys * sizeof(*rc.picked));
    struct uf_err err = { 0 };
    int r = uf_event_check_raw(ev, &err); /* at once after the http source, which checked it */
    if (r == 0)
        r = check_raw(&rc, &err);
    if (r < 0)
        fail_with(ev, 400, "malformed_json", err.msg, NULL, -1);
    else if (r == 0) {
        if (rc.ed.n)
            edits_apply(ev, &rc.ed);
        uf_emit(st, ev);
    }
    if (rc.picked != stack)
        free(rc.picked);
    free(rc.ed.v);
}

static void validate_process(struct uf_stage *st, void *ctx, struct uf_event *ev)
{
    const struct uf_validate_ctx *vc = ctx;
    size_t len;
    if (vc->on_text && uf_event_raw(ev, &len))
        process_raw(st, ctx, ev);
    else
        process_tree(st, ctx, ev);
}

static void validate_destroy(void *ctx)
{
    uf_validate_free_rules(ctx);
}

const struct uf_kind uf_transform_validate = {
    .name = "validate",
    .role = UF_TRANSFORM,
    .summary = "Check event fields against declarative rules; reject with 422 naming the field",
    .options = validate_options,
    .ctx_size = sizeof(struct uf_validate_ctx),
    .batch = validate_batch,
    .init = validate_init,
    .process = validate_process,
    .destroy = validate_destroy,
};
