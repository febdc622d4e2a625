/* event.c: events, their finishing, and completions (see event.h for the ownership rules).
 * Finishing counts on the stage that holds the event (ev->at, maintained by the engine), so a
 * kind never passes its stage around to finish an event. A completion's reference count covers
 * every event attached to it plus its creator; the callback runs exactly once, on the thread
 * that drops the last reference. */
#include "event.h"
#include "event_int.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "err.h"
#include "graph.h"
#include "jsonpath.h"
#include "mem.h"
#include "metrics.h"
#include "stage.h"
#include "uuid.h"

struct uf_completion {
    atomic_int refs;
    pthread_mutex_t mu; /* guards status, body, counts */
    int status;
    json_t *body;
    char *text; /* a body recorded as JSON text instead */
    size_t text_len;
    json_t *headers; /* name -> value, NULL until a stage adds one */
    unsigned counts[3];
    uf_done_fn fn;
    void *arg;
};

struct uf_event *uf_event_new(json_t *body)
{
    struct uf_event *ev = uf_xcalloc(1, sizeof *ev);
    ev->body = body ? body : json_object();
    ev->index = -1;
    ev->received_us = uf_wall_us();
    uf_uuid_v7_at(ev->id, ev->received_us / 1000); /* one clock read for both */
    return ev;
}

struct uf_event *uf_event_new_raw(const char *raw, size_t len, const uint8_t id[16])
{
    struct uf_event *ev = uf_xcalloc(1, sizeof *ev);
    ev->raw = raw; /* no body: the field API reads the text, parsing it only when asked */
    ev->raw_len = len;
    ev->index = -1;
    ev->received_us = uf_wall_us();
    if (id)
        memcpy(ev->id, id, 16);
    else
        uf_uuid_v7_at(ev->id, ev->received_us / 1000);
    return ev;
}

void uf_event_own_raw(struct uf_event *ev)
{
    if (!ev->raw || ev->raw_owned)
        return;
    char *text = uf_xmalloc(ev->raw_len ? ev->raw_len : 1);
    memcpy(text, ev->raw, ev->raw_len);
    for (size_t i = 0; ev->raw_members && i < ev->raw_members->n; i++) {
        struct uf_jmember *m = &ev->raw_members->m[i]; /* the same offsets in the copy */
        m->key = text + (m->key - ev->raw);
        m->val = text + (m->val - ev->raw);
    }
    ev->raw = text;
    ev->raw_owned = true;
}

static void completion_ref(struct uf_completion *c)
{
    atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
}

struct uf_event *uf_event_copy(const struct uf_event *ev)
{
    struct uf_event *cp = uf_xmalloc(sizeof *cp);
    *cp = *ev;
    cp->body = json_deep_copy(ev->body);
    cp->raw_members = NULL;
    if (ev->raw_members)
        uf_event_set_raw_members(cp, ev->raw_members->m, ev->raw_members->n);
    if (ev->raw_owned) { /* a text of the copy's own, its members moved onto it */
        cp->raw_owned = false;
        uf_event_own_raw(cp);
    }
    cp->meta = json_incref(ev->meta);
    cp->user = ev->user ? uf_xstrdup(ev->user) : NULL;
    if (cp->done)
        completion_ref(cp->done);
    return cp;
}

void uf_event_free(struct uf_event *ev)
{
    if (!ev)
        return;
    json_decref(ev->body);
    if (ev->raw_owned)
        free((char *)ev->raw);
    free(ev->raw_members);
    json_decref(ev->meta);
    free(ev->user);
    if (ev->done)
        uf_completion_release(ev->done);
    free(ev);
}

void uf_event_set_raw(struct uf_event *ev, char *text, size_t len)
{
    if (ev->raw_owned)
        free((char *)ev->raw);
    ev->raw = text;
    ev->raw_len = len;
    ev->raw_owned = true;
    ev->raw_checked = false;
    free(ev->raw_members);
    ev->raw_members = NULL;
}

void uf_event_set_raw_members(struct uf_event *ev, const struct uf_jmember *m, size_t n)
{
    free(ev->raw_members);
    ev->raw_members = uf_xmalloc(sizeof(*ev->raw_members) + n * sizeof(*m));
    ev->raw_members->n = ev->raw_members->cap = n;
    memcpy(ev->raw_members->m, m, n * sizeof(*m));
}

/* The event's own copy of a shared meta: the strings and numbers are immutable in jansson and
 * stay shared; objects and arrays are copied, since a kind may change them in place. */
static json_t *meta_copy(json_t *meta)
{
    json_t *cp = json_object();
    const char *key;
    json_t *v;
    json_object_foreach(meta, key, v)
    {
        bool nested = json_is_object(v) || json_is_array(v);
        json_object_set_new_nocheck(cp, key, nested ? json_deep_copy(v) : json_incref(v));
    }
    return cp;
}

json_t *uf_event_meta(struct uf_event *ev)
{
    if (!ev->meta) {
        ev->meta = json_object();
    } else if (__atomic_load_n(&ev->meta->refcount, __ATOMIC_ACQUIRE) > 1) {
        /* Only holders can raise the count, so 1 stays 1; acquire pairs with the release of
         * jansson's decrement by the last other holder, whose reads then come before ours. */
        json_t *own = meta_copy(ev->meta);
        json_decref(ev->meta);
        ev->meta = own;
    }
    return ev->meta;
}

json_t *uf_event_meta_get(const struct uf_event *ev, const char *key)
{
    return ev->meta ? json_object_get(ev->meta, key) : NULL;
}

void uf_event_set_item(struct uf_event *ev, json_t *meta, size_t index, size_t count)
{
    if (meta != ev->meta) {
        json_incref(meta);
        json_decref(ev->meta);
        ev->meta = meta;
    }
    ev->index = (int32_t)index;
    ev->count = (int32_t)count;
}

/* The first reply wins, except that an error replaces a success. The reply is body or text. */
static void record_reply(struct uf_completion *c, int status, json_t *body, char *text, size_t len)
{
    pthread_mutex_lock(&c->mu);
    if (c->status == 0 || (status >= 400 && c->status < 400)) {
        c->status = status;
        json_decref(c->body);
        free(c->text);
        c->body = body;
        c->text = text;
        c->text_len = len;
        body = NULL;
        text = NULL;
    }
    pthread_mutex_unlock(&c->mu);
    json_decref(body);
    free(text);
}

void uf_event_reply(struct uf_event *ev, int status, json_t *body)
{
    if (!ev->done) {
        json_decref(body);
        return;
    }
    record_reply(ev->done, status, body, NULL, 0);
}

void uf_event_reply_text(struct uf_event *ev, int status, char *json, size_t len)
{
    if (!ev->done) {
        free(json);
        return;
    }
    record_reply(ev->done, status, NULL, json, len);
}

void uf_event_reply_header(struct uf_event *ev, const char *name, const char *value)
{
    if (!ev->done)
        return;
    struct uf_completion *c = ev->done;
    pthread_mutex_lock(&c->mu);
    if (!c->headers)
        c->headers = json_object();
    json_object_set_new(c->headers, name, json_string(value));
    pthread_mutex_unlock(&c->mu);
}

static void finish(struct uf_event *ev, enum uf_outcome o)
{
    if (ev->at) {
        struct uf_metrics *m = &ev->at->metrics;
        uf_metrics_add(o == UF_OUTCOME_DONE      ? &m->out
                       : o == UF_OUTCOME_DROPPED ? &m->dropped
                                                 : &m->errors,
                       1);
    }
    if (ev->done) {
        pthread_mutex_lock(&ev->done->mu);
        ev->done->counts[o]++;
        pthread_mutex_unlock(&ev->done->mu);
    }
    uf_event_free(ev);
}

void uf_event_done(struct uf_event *ev)
{
    finish(ev, UF_OUTCOME_DONE);
}

void uf_event_drop(struct uf_event *ev, const char *reason)
{
    (void)reason;
    finish(ev, UF_OUTCOME_DROPPED);
}

void uf_event_fail(struct uf_event *ev, int status, const char *code, const char *msg)
{
    if (ev->done) {
        json_t *body = json_pack("{s:{s:s,s:s}}", "error", "code", code ? code : "error", "message",
                                 msg ? msg : "");
        record_reply(ev->done, status, body, NULL, 0);
    }
    finish(ev, UF_OUTCOME_FAILED);
}

/* ---- completions ---- */

struct uf_completion *uf_completion_new(uf_done_fn fn, void *arg)
{
    struct uf_completion *c = uf_xcalloc(1, sizeof *c);
    atomic_init(&c->refs, 1);
    pthread_mutex_init(&c->mu, NULL);
    c->fn = fn;
    c->arg = arg;
    return c;
}

void uf_completion_attach(struct uf_completion *c, struct uf_event *ev)
{
    completion_ref(c);
    ev->done = c;
}

void uf_completion_release(struct uf_completion *c)
{
    if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
        return;
    if (c->fn)
        c->fn(c, c->arg);
    json_decref(c->body);
    json_decref(c->headers);
    free(c->text);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

int uf_completion_status(const struct uf_completion *c)
{
    return c->status;
}
json_t *uf_completion_body(const struct uf_completion *c)
{
    return c->body;
}

json_t *uf_completion_take_body(struct uf_completion *c)
{
    json_t *b = c->body;
    c->body = NULL;
    return b;
}

char *uf_completion_take_text(struct uf_completion *c, size_t *len)
{
    char *t = c->text;
    *len = c->text_len;
    c->text = NULL;
    c->text_len = 0;
    return t;
}

json_t *uf_completion_take_headers(struct uf_completion *c)
{
    json_t *h = c->headers;
    c->headers = NULL;
    return h;
}

unsigned uf_completion_count(const struct uf_completion *c, enum uf_outcome o)
{
    return c->counts[o];
}

/* ---- waiter ---- */

struct uf_waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_int refs; /* the completion's callback and the waiter's owner */
    bool done;
    int status;
    json_t *body;
    unsigned counts[3];
};

static void waiter_unref(struct uf_waiter *w)
{
    if (atomic_fetch_sub(&w->refs, 1) != 1)
        return;
    json_decref(w->body);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

static void waiter_done(struct uf_completion *c, void *arg)
{
    struct uf_waiter *w = arg;
    pthread_mutex_lock(&w->mu);
    w->status = c->status;
    w->body = uf_completion_take_body(c);
    if (!w->body && c->text) /* waiters are for tests and simple callers: give them a tree */
        w->body = json_loadb(c->text, c->text_len, 0, NULL);
    memcpy(w->counts, c->counts, sizeof w->counts);
    w->done = true;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    waiter_unref(w);
}

struct uf_waiter *uf_waiter_new(struct uf_completion **c)
{
    struct uf_waiter *w = uf_xcalloc(1, sizeof *w);
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    atomic_init(&w->refs, 2);
    *c = uf_completion_new(waiter_done, w);
    return w;
}

int uf_waiter_wait(struct uf_waiter *w, int timeout_ms)
{
    struct timespec dl = uf_clock_after(CLOCK_MONOTONIC, (int64_t)timeout_ms * 1000);
    pthread_mutex_lock(&w->mu);
    int rc = 0;
    while (!w->done && rc == 0)
        rc = pthread_cond_timedwait(&w->cv, &w->mu, &dl);
    bool done = w->done;
    pthread_mutex_unlock(&w->mu);
    return done ? 0 : UF_ETIMEOUT;
}

int uf_waiter_status(const struct uf_waiter *w)
{
    return w->status;
}
json_t *uf_waiter_body(const struct uf_waiter *w)
{
    return w->body;
}
unsigned uf_waiter_count(const struct uf_waiter *w, enum uf_outcome o)
{
    return w->counts[o];
}
void uf_waiter_free(struct uf_waiter *w)
{
    if (w)
        waiter_unref(w);
}
