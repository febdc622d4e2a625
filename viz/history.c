/* viz/history.c: per-component rings of metric samples and the trouble rules (see history.h).
 * All components are sampled together, so one head and one count serve every ring. The
 * sampler thread waits on a condition variable (monotonic clock) rather than sleeping, so
 * uf_history_free never waits out a whole interval. Counters only grow; a delta that would be
 * negative (never expected) is read as zero rather than as a huge unsigned rate. */
#include "viz/history.h"

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "framework/clock.h"
#include "framework/graph.h"
#include "framework/mem.h"
#include "framework/queue.h"

enum col { C_IN, C_OUT, C_ERRORS, C_RETRIES, C_DROPPED, C_QFILL, C_P99, C_BATCH, C_FLUSH, NCOLS };
static const char *const col_names[NCOLS] = { "in",      "out",       "errors",
                                              "retries", "dropped",   "queue_fill",
                                              "p99_us",  "batch_avg", "flush_avg_us" };

struct sample {
    int64_t t_ms; /* wall clock */
    double v[NCOLS];
    double extra[UF_HISTORY_EXTRAS];
};

/* Counter values at the previous sample. */
struct baseline {
    uint64_t in, out, errors, retries, dropped;
    uint64_t lat[UF_HISTO_BUCKETS];
    uint64_t batch_n, batch_sum, flush_n, flush_sum;
    int64_t extra[UF_HISTORY_EXTRAS];
};

struct comp {
    char *id; /* "pipeline/component" */
    struct uf_stage *st;
    struct baseline prev;
    char *extra_names[UF_HISTORY_EXTRAS]; /* "name" or "name{label}", in order first seen */
    bool extra_counter[UF_HISTORY_EXTRAS];
    size_t nextra;
    struct sample *ring;
};

struct uf_history {
    pthread_mutex_t lock;
    struct comp *comps;
    size_t ncomps, cap;
    size_t head, n; /* next slot to write; samples held */
    bool have_baseline;
    int64_t prev_us, interval_ms;
    /* sampler thread */
    pthread_t thread;
    pthread_cond_t wake;
    bool running, stop;
};

struct uf_history *uf_history_new(const struct uf_graph *g, size_t capacity)
{
    struct uf_history *h = uf_xcalloc(1, sizeof *h);
    pthread_mutex_init(&h->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->wake, &ca);
    pthread_condattr_destroy(&ca);
    h->cap = capacity ? capacity : 1;
    h->interval_ms = 1000;
    for (size_t i = 0; i < g->npipelines; i++)
        h->ncomps += g->pipelines[i].nstages;
    h->comps = uf_xcalloc(h->ncomps ? h->ncomps : 1, sizeof *h->comps);
    size_t k = 0;
    for (size_t i = 0; i < g->npipelines; i++)
        for (size_t s = 0; s < g->pipelines[i].nstages; s++, k++) {
            struct comp *c = &h->comps[k];
            c->st = g->pipelines[i].stages[s];
            c->id = uf_xasprintf("%s/%s", g->pipelines[i].name, c->st->name);
            c->ring = uf_xcalloc(h->cap, sizeof *c->ring);
        }
    return h;
}

void uf_history_free(struct uf_history *h)
{
    if (!h)
        return;
    if (h->running) {
        pthread_mutex_lock(&h->lock);
        h->stop = true;
        pthread_cond_signal(&h->wake);
        pthread_mutex_unlock(&h->lock);
        pthread_join(h->thread, NULL);
    }
    for (size_t i = 0; i < h->ncomps; i++) {
        free(h->comps[i].id);
        free(h->comps[i].ring);
        for (size_t e = 0; e < h->comps[i].nextra; e++)
            free(h->comps[i].extra_names[e]);
    }
    free(h->comps);
    pthread_cond_destroy(&h->wake);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

/* ---- sampling ---- */

static uint64_t ld(_Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

static double rate(uint64_t now, uint64_t before, double dt)
{
    return now > before ? (double)(now - before) / dt : 0;
}

/* p99 of the observations made since the previous sample, from the bucket deltas. */
static double interval_p99(struct uf_histo *h, uint64_t *prev)
{
    struct uf_histo delta;
    memset(&delta, 0, sizeof delta);
    for (size_t b = 0; b < UF_HISTO_BUCKETS; b++) {
        uint64_t now = ld(&h->bucket[b]);
        atomic_init(&delta.bucket[b], now > prev[b] ? now - prev[b] : 0);
        prev[b] = now;
    }
    return uf_histo_quantile(&delta, uf_histo_bounds_us, 0.99);
}

static double mean_since(struct uf_histo *h, uint64_t *prev_n, uint64_t *prev_sum)
{
    uint64_t n = ld(&h->count), sum = ld(&h->sum);
    double v = n > *prev_n ? (double)(sum - *prev_sum) / (double)(n - *prev_n) : 0;
    *prev_n = n;
    *prev_sum = sum;
    return v;
}

static size_t extra_slot(struct comp *c, const char *key, bool counter)
{
    for (size_t i = 0; i < c->nextra; i++)
        if (strcmp(c->extra_names[i], key) == 0)
            return i;
    if (c->nextra == UF_HISTORY_EXTRAS)
        return SIZE_MAX;
    c->extra_names[c->nextra] = uf_xstrdup(key);
    c->extra_counter[c->nextra] = counter;
    return c->nextra++;
}

/* Gauges are kept as values, counters as rates; a counter seen for the first time starts from
 * its current value so it does not show as one huge burst. */
static void sample_extras(struct comp *c, struct sample *s, double dt, bool first)
{
    struct uf_metrics *m = &c->st->metrics;
    pthread_mutex_lock(&m->extra_lock);
    for (struct uf_extra_metric *e = m->extra; e; e = e->next) {
        char key[256];
        uf_extra_metric_key(e, key, sizeof key);
        size_t known = c->nextra;
        size_t i = extra_slot(c, key, e->type == UF_METRIC_COUNTER);
        if (i == SIZE_MAX)
            continue;
        int64_t v = atomic_load(&e->value);
        if (!c->extra_counter[i])
            s->extra[i] = (double)v;
        else if (!first && i < known)
            s->extra[i] = v > c->prev.extra[i] ? (double)(v - c->prev.extra[i]) / dt : 0;
        c->prev.extra[i] = v;
    }
    pthread_mutex_unlock(&m->extra_lock);
}

static void sample_comp(struct comp *c, struct sample *s, double dt, bool first)
{
    struct uf_metrics *m = &c->st->metrics;
    struct baseline *p = &c->prev;
    uint64_t in = ld(&m->in), out = ld(&m->out), errors = ld(&m->errors);
    uint64_t retries = ld(&m->retries), dropped = ld(&m->dropped);
    s->v[C_IN] = rate(in, p->in, dt);
    s->v[C_OUT] = rate(out, p->out, dt);
    s->v[C_ERRORS] = rate(errors, p->errors, dt);
    s->v[C_RETRIES] = rate(retries, p->retries, dt);
    s->v[C_DROPPED] = rate(dropped, p->dropped, dt);
    p->in = in, p->out = out, p->errors = errors, p->retries = retries, p->dropped = dropped;
    if (c->st->q)
        atomic_store(&m->queue_depth, (int64_t)uf_queue_depth(c->st->q));
    int64_t depth = atomic_load(&m->queue_depth), cap = atomic_load(&m->queue_capacity);
    s->v[C_QFILL] = cap > 0 ? (double)depth / (double)cap : 0;
    s->v[C_P99] = interval_p99(&m->latency_us, p->lat);
    s->v[C_BATCH] = mean_since(&m->batch_rows, &p->batch_n, &p->batch_sum);
    s->v[C_FLUSH] = mean_since(&m->flush_us, &p->flush_n, &p->flush_sum);
    sample_extras(c, s, dt, first);
}

void uf_history_sample(struct uf_history *h, int64_t now_us)
{
    pthread_mutex_lock(&h->lock);
    bool first = !h->have_baseline;
    double dt = first ? 1 : (double)(now_us - h->prev_us) / 1e6;
    if (dt <= 0)
        dt = 1e-3; /* two samples in the same microsecond: keep rates finite */
    int64_t wall_ms = uf_wall_us() / 1000;
    for (size_t i = 0; i < h->ncomps; i++) {
        struct sample *s = &h->comps[i].ring[h->head];
        memset(s, 0, sizeof *s);
        s->t_ms = wall_ms;
        sample_comp(&h->comps[i], s, dt, first);
    }
    if (!first) {
        h->head = (h->head + 1) % h->cap;
        if (h->n < h->cap)
            h->n++;
    }
    h->have_baseline = true;
    h->prev_us = now_us;
    pthread_mutex_unlock(&h->lock);
}

/* ---- reading ---- */

/* The i-th held sample, oldest first. */
/* Three decimals are plenty for rates and microseconds, and keep /api/history small. */
static json_t *num(double v)
{
    return json_real(round(v * 1000) / 1000);
}

static const struct sample *at(const struct uf_history *h, const struct comp *c, size_t i)
{
    return &c->ring[(h->head + h->cap - h->n + i) % h->cap];
}

static json_t *column(const struct uf_history *h, const struct comp *c, int col, int extra)
{
    json_t *a = json_array();
    for (size_t i = 0; i < h->n; i++) {
        const struct sample *s = at(h, c, i);
        double v = extra >= 0 ? s->extra[extra] : s->v[col];
        json_array_append_new(a, num(v));
    }
    return a;
}

static json_t *comp_history(const struct uf_history *h, const struct comp *c)
{
    json_t *o = json_object(), *t = json_array(), *extra = json_object();
    for (size_t i = 0; i < h->n; i++)
        json_array_append_new(t, json_integer(at(h, c, i)->t_ms));
    json_object_set_new(o, "t", t);
    for (int k = 0; k < NCOLS; k++)
        json_object_set_new(o, col_names[k], column(h, c, k, -1));
    for (size_t e = 0; e < c->nextra; e++)
        json_object_set_new(extra, c->extra_names[e], column(h, c, 0, (int)e));
    json_object_set_new(o, "extra", extra);
    return o;
}

json_t *uf_history_json(struct uf_history *h, const char *id)
{
    pthread_mutex_lock(&h->lock);
    json_t *comps = json_object();
    for (size_t i = 0; i < h->ncomps; i++)
        if (!id || strcmp(id, h->comps[i].id) == 0)
            json_object_set_new(comps, h->comps[i].id, comp_history(h, &h->comps[i]));
    json_t *o = json_pack("{s:I,s:I,s:o}", "interval_ms", (json_int_t)h->interval_ms, "capacity",
                          (json_int_t)h->cap, "components", comps);
    pthread_mutex_unlock(&h->lock);
    return o;
}

static json_t *latest(const struct uf_history *h, const struct comp *c)
{
    struct sample zero = { 0 };
    const struct sample *s = h->n ? at(h, c, h->n - 1) : &zero;
    json_t *o = json_object(), *extra = json_object();
    for (int k = 0; k < NCOLS; k++)
        json_object_set_new(o, col_names[k], num(s->v[k]));
    for (size_t e = 0; e < c->nextra; e++)
        json_object_set_new(extra, c->extra_names[e], num(s->extra[e]));
    json_object_set_new(o, "extra", extra);
    return o;
}

/* Sum of a rate column over the last `window` samples, as an event count. */
static double recent_total(const struct uf_history *h, const struct comp *c, int col)
{
    double total = 0;
    size_t from = h->n > UF_HISTORY_TROUBLE_WINDOW ? h->n - UF_HISTORY_TROUBLE_WINDOW : 0;
    for (size_t i = from; i < h->n; i++)
        total += at(h, c, i)->v[col] * ((double)h->interval_ms / 1000.0);
    return total;
}

/* Reasons a component needs an operator's eye: errors or retries in the last window, a queue
 * at least 80% full, a non-empty spool (any kind gauge named *spool*) or stalled work (any
 * kind gauge named *stalled*, e.g. Kafka partitions whose commits cannot advance). */
static json_t *trouble(const struct uf_history *h, const struct comp *c)
{
    json_t *why = json_array();
    if (h->n == 0)
        return why;
    const struct sample *s = at(h, c, h->n - 1);
    double errors = recent_total(h, c, C_ERRORS), retries = recent_total(h, c, C_RETRIES);
    if (errors >= 0.5)
        json_array_append_new(why, json_sprintf("errors rising: %.0f in the last %d s", errors,
                                                UF_HISTORY_TROUBLE_WINDOW));
    if (s->v[C_QFILL] >= 0.8)
        json_array_append_new(why, json_sprintf("queue %.0f%% full", s->v[C_QFILL] * 100));
    if (retries >= 0.5)
        json_array_append_new(why, json_sprintf("retrying: %.0f retries in the last %d s", retries,
                                                UF_HISTORY_TROUBLE_WINDOW));
    for (size_t e = 0; e < c->nextra; e++) {
        if (c->extra_counter[e] || s->extra[e] <= 0)
            continue;
        if (strstr(c->extra_names[e], "spool"))
            json_array_append_new(
                why, json_sprintf("spool not empty: %s = %.0f", c->extra_names[e], s->extra[e]));
        else if (strstr(c->extra_names[e], "stalled"))
            json_array_append_new(
                why, json_sprintf("stalled: %s = %.0f", c->extra_names[e], s->extra[e]));
    }
    return why;
}

static const struct comp *find(const struct uf_history *h, const char *id)
{
    for (size_t i = 0; id && i < h->ncomps; i++)
        if (strcmp(h->comps[i].id, id) == 0)
            return &h->comps[i];
    return NULL;
}

void uf_history_annotate(struct uf_history *h, json_t *graph)
{
    pthread_mutex_lock(&h->lock);
    size_t i, k;
    json_t *p, *n;
    json_array_foreach(json_object_get(graph, "pipelines"), i, p)
    {
        json_array_foreach(json_object_get(p, "nodes"), k, n)
        {
            const struct comp *c = find(h, json_string_value(json_object_get(n, "id")));
            if (!c)
                continue;
            json_object_set_new(n, "rates", latest(h, c));
            json_object_set_new(n, "trouble", trouble(h, c));
        }
    }
    pthread_mutex_unlock(&h->lock);
}

/* ---- sampler thread ---- */

static void *sampler(void *arg)
{
    struct uf_history *h = arg;
    uf_history_sample(h, uf_now_us());
    pthread_mutex_lock(&h->lock);
    while (!h->stop) {
        struct timespec ts = uf_clock_after(CLOCK_MONOTONIC, (int64_t)h->interval_ms * 1000);
        while (!h->stop && pthread_cond_timedwait(&h->wake, &h->lock, &ts) == 0)
            ;
        if (h->stop)
            break;
        pthread_mutex_unlock(&h->lock);
        uf_history_sample(h, uf_now_us());
        pthread_mutex_lock(&h->lock);
    }
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

int uf_history_start(struct uf_history *h, int64_t interval_ms, struct uf_err *err)
{
    h->interval_ms = interval_ms > 0 ? interval_ms : 1000;
    if (pthread_create(&h->thread, NULL, sampler, h) != 0)
        return uf_err_set(err, UF_EIO, "history: cannot start the sampler thread");
    h->running = true;
    return 0;
}
