/* event_fields.c: an event's field API (event.h): its metadata, its body as a tree or as the
 * JSON text a source received, and the members of that text picked without a tree. The text
 * is parsed into a tree only when a kind asks for one (uf_event_body) or sets a field. */
#include "event.h"
#include "event_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "jsonenc.h"
#include "jsonpath.h"
#include "mem.h"

/* ---- metadata ---- */

const char *uf_event_user(const struct uf_event *ev)
{
    return ev->user;
}
const char *uf_event_source(const struct uf_event *ev)
{
    return ev->source;
}
void uf_event_set_source(struct uf_event *ev, const char *source)
{
    ev->source = source;
}
int64_t uf_event_received_us(const struct uf_event *ev)
{
    return ev->received_us;
}
void uf_event_set_received_us(struct uf_event *ev, int64_t us)
{
    ev->received_us = us;
}
const uint8_t *uf_event_id(const struct uf_event *ev)
{
    return ev->id;
}
void uf_event_set_id(struct uf_event *ev, const uint8_t id[16])
{
    memcpy(ev->id, id, 16);
}
int uf_event_index(const struct uf_event *ev)
{
    return ev->index;
}
int uf_event_count(const struct uf_event *ev)
{
    return ev->count;
}
json_t *uf_event_meta_peek(const struct uf_event *ev)
{
    return ev->meta;
}
struct uf_completion *uf_event_completion(const struct uf_event *ev)
{
    return ev->done;
}

void uf_event_set_meta(struct uf_event *ev, json_t *meta)
{
    json_decref(ev->meta);
    ev->meta = meta;
}

void uf_event_set_user(struct uf_event *ev, const char *user)
{
    free(ev->user);
    ev->user = user ? uf_xstrdup(user) : NULL;
}

/* ---- the body as a tree ---- */

/* Drops the text and what was remembered of it, once a tree holds the body. */
static void forget_raw(struct uf_event *ev)
{
    if (ev->raw_owned)
        free((char *)ev->raw);
    free(ev->raw_members);
    ev->raw = NULL;
    ev->raw_len = 0;
    ev->raw_owned = false;
    ev->raw_checked = false;
    ev->raw_members = NULL;
}

/* The tree, parsed from the text on first use. Parsing changes how the event holds its body,
 * not what the body is, so the readers below that take a const event may call it. */
static json_t *tree_of(struct uf_event *ev)
{
    if (ev->body || !ev->raw)
        return ev->body;
    json_t *t = json_loadb(ev->raw, ev->raw_len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(t)) {
        json_decref(t);
        return NULL;
    }
    ev->body = t;
    forget_raw(ev);
    return t;
}

json_t *uf_event_body(struct uf_event *ev)
{
    return tree_of(ev);
}
json_t *uf_event_tree(const struct uf_event *ev)
{
    return ev->body;
}

void uf_event_set_body(struct uf_event *ev, json_t *body)
{
    json_decref(ev->body);
    ev->body = body;
    forget_raw(ev);
}

void uf_event_set_str(struct uf_event *ev, const char *key, const char *value)
{
    json_object_set_new(tree_of(ev), key, json_string(value));
}

void uf_event_set_int(struct uf_event *ev, const char *key, int64_t value)
{
    json_object_set_new(tree_of(ev), key, json_integer(value));
}

const char *uf_event_get_str(const struct uf_event *ev, const char *key)
{
    return json_string_value(json_object_get(tree_of((struct uf_event *)ev), key));
}

json_t *uf_event_get_path(const struct uf_event *ev, const char *path)
{
    json_t *body = tree_of((struct uf_event *)ev);
    return body ? uf_json_get_path(body, path) : NULL;
}

/* ---- the body as JSON text ---- */

const char *uf_event_raw(const struct uf_event *ev, size_t *len)
{
    *len = ev->raw_len;
    return ev->raw;
}

const char *uf_event_text(struct uf_event *ev, size_t *len)
{
    if (!ev->raw && ev->body) {
        size_t n;
        char *text = uf_jsonenc_dumps(ev->body, &n);
        uf_event_set_body(ev, NULL);
        uf_event_set_raw(ev, text, n);
        ev->raw_checked = true; /* encoded from a tree: valid JSON, keys unique */
    }
    *len = ev->raw_len;
    return ev->raw;
}

char *uf_event_take_text(struct uf_event *ev, size_t *len)
{
    *len = 0;
    if (!ev->raw) {
        char *text = ev->body ? uf_jsonenc_dumps(ev->body, len) : NULL;
        uf_event_set_body(ev, NULL);
        return text;
    }
    char *text = (char *)ev->raw;
    *len = ev->raw_len;
    if (!ev->raw_owned) {
        text = uf_xmalloc(*len ? *len : 1);
        memcpy(text, ev->raw, *len);
    }
    ev->raw_owned = false; /* moved: forget_raw must not free it */
    forget_raw(ev);
    return text;
}

void uf_event_release_data(struct uf_event *ev)
{
    uf_event_set_body(ev, NULL);
    uf_event_set_meta(ev, NULL);
    uf_event_set_user(ev, NULL);
}

bool uf_event_raw_checked(const struct uf_event *ev)
{
    return ev->raw_checked;
}
void uf_event_set_raw_checked(struct uf_event *ev, bool checked)
{
    ev->raw_checked = checked;
}
bool uf_event_raw_owned(const struct uf_event *ev)
{
    return ev->raw_owned;
}

/* ---- picking members of raw ---- */

static int gather_member(void *arg, const struct uf_jmember *m, struct uf_err *err)
{
    (void)err;
    *uf_jmembers_add(arg) = *m;
    return 0;
}

int uf_event_check_raw(struct uf_event *ev, struct uf_err *err)
{
    if (ev->raw_checked)
        return 0;
    int rc = uf_jscan_value(ev->raw, ev->raw_len, true, NULL, err);
    ev->raw_checked = rc == 0;
    return rc;
}

const struct uf_raw_members *uf_event_members(struct uf_event *ev, struct uf_err *err)
{
    if (ev->raw_members)
        return ev->raw_members;
    if (uf_event_check_raw(ev, err) != 0)
        return NULL;
    struct uf_jmembers g;
    uf_jmembers_init(&g);
    int rc = uf_jscan_object_trusted(ev->raw, ev->raw_len, gather_member, &g, err);
    if (rc == 0) { /* with room for a few fields set later (uf_event_set_strs), in place */
        size_t cap = g.n + UF_STRFIELDS_MAX / 2;
        struct uf_raw_members *rm = uf_xmalloc(sizeof(*rm) + cap * sizeof(rm->m[0]));
        rm->n = g.n;
        rm->cap = cap;
        memcpy(rm->m, g.m, g.n * sizeof(g.m[0]));
        free(ev->raw_members);
        ev->raw_members = rm;
    }
    uf_jmembers_free(&g);
    return ev->raw_members;
}

int uf_event_pick(struct uf_event *ev, const char *const keys[], size_t nkeys,
                  struct uf_jmember out[], struct uf_err *err)
{
    const struct uf_raw_members *rm = uf_event_members(ev, err);
    if (!rm)
        return UF_EINVAL;
    for (size_t i = 0; i < nkeys; i++) {
        out[i] = (struct uf_jmember){ .key = NULL };
        size_t len = strlen(keys[i]);
        for (size_t k = 0; k < rm->n; k++) { /* the last one wins, as in uf_jscan_pick */
            const struct uf_jmember *m = &rm->m[k];
            if (uf_jscan_key_is_n(m, keys[i], len))
                out[i] = *m;
        }
    }
    return 0;
}

/* ---- reading a few fields from a body or a raw text ---- */

static void fields_from_body(const struct uf_event *ev, const char *const names[], size_t nstr,
                             size_t n, struct uf_fields *f)
{
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_object_get(ev->body, names[i]);
        f->str[i] = i < nstr ? json_string_value(v) : NULL;
        f->num[i] = i >= nstr && json_is_number(v) ? json_number_value(v) : NAN;
    }
}

bool uf_event_fields(struct uf_event *ev, const char *const names[], size_t nstr, size_t n,
                     struct uf_fields *f)
{
    f->heap = NULL;
    if (!ev->raw) {
        fields_from_body(ev, names, nstr, n, f);
        return true;
    }
    if (uf_event_pick(ev, names, n, f->m, &f->err) != 0)
        return false;
    size_t need = 0; /* the decoded strings: never longer than their spans, plus terminators */
    for (size_t i = 0; i < nstr; i++)
        need += f->m[i].key && f->m[i].type == UF_J_STRING ? f->m[i].val_len + 1 : 0;
    char *p = need <= sizeof f->stack ? f->stack : (f->heap = uf_xmalloc(need));
    for (size_t i = 0; i < n; i++) {
        const struct uf_jmember *m = &f->m[i];
        bool str = i < nstr && m->key && m->type == UF_J_STRING;
        f->str[i] = str ? p : NULL;
        if (str)
            p += uf_jscan_cstr(m, p) + 1;
        f->num[i] = i >= nstr ? uf_jscan_number(m) : NAN;
    }
    return true;
}

void uf_fields_free(struct uf_fields *f)
{
    free(f->heap);
    f->heap = NULL;
}

/* A member's value as jansson reads it (strings: the span between the quotes, so widen it). */
static json_t *member_json(const struct uf_jmember *m)
{
    const char *text = m->type == UF_J_STRING ? m->val - 1 : m->val;
    size_t len = m->type == UF_J_STRING ? m->val_len + 2 : m->val_len;
    return json_loadb(text, len, JSON_DECODE_ANY, NULL);
}

json_t *uf_event_get_value(struct uf_event *ev, const char *key)
{
    if (!ev->raw)
        return json_incref(json_object_get(ev->body, key));
    const char *const keys[1] = { key };
    struct uf_jmember m;
    if (uf_event_pick(ev, keys, 1, &m, NULL) != 0 || !m.key)
        return NULL;
    return member_json(&m);
}

/* ---- one scalar field ---- */

static void scalar_from_tree(const json_t *v, struct uf_scalar *out)
{
    switch (json_typeof(v)) {
    case JSON_STRING:
        out->type = UF_J_STRING;
        out->str = json_string_value(v);
        out->len = json_string_length(v);
        break;
    case JSON_INTEGER:
        out->type = UF_J_NUMBER;
        out->int_ok = true;
        out->ival = json_integer_value(v);
        break;
    case JSON_REAL:
        out->type = UF_J_NUMBER;
        break;
    case JSON_TRUE:
        out->type = UF_J_TRUE;
        break;
    case JSON_FALSE:
        out->type = UF_J_FALSE;
        break;
    case JSON_OBJECT:
        out->type = UF_J_OBJECT;
        break;
    case JSON_ARRAY:
        out->type = UF_J_ARRAY;
        break;
    default:
        break;
    }
}

int uf_event_get_scalar(struct uf_event *ev, const char *path, struct uf_scalar *out,
                        struct uf_err *err)
{
    *out = (struct uf_scalar){ .type = UF_J_NULL };
    if (!ev->raw || strchr(path, '.')) { /* nested members are read from the tree */
        json_t *body = tree_of(ev);
        if (!body && ev->raw)
            return uf_err_set(err, UF_EINVAL, "not JSON: the event is not one JSON object");
        json_t *v = body ? uf_json_get_path(body, path) : NULL;
        if (v)
            scalar_from_tree(v, out);
        return 0;
    }
    struct uf_jmember m;
    int rc = uf_event_pick(ev, &path, 1, &m, err);
    if (rc != 0 || !m.key)
        return rc;
    out->type = m.type;
    out->str = m.val;
    out->len = m.val_len;
    if (m.type == UF_J_STRING)
        out->str = uf_jscan_str(&m, &out->buf, &out->len);
    out->int_ok = uf_jscan_integer(&m, &out->ival);
    return 0;
}

void uf_scalar_free(struct uf_scalar *s)
{
    if (!s->buf) /* the usual case: no call into the allocator per read */
        return;
    free(s->buf);
    s->buf = NULL;
}
