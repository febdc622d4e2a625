/* viz/deploy_live.c: one poll of the deployment turned into /api/deployment (see deploy_live.h).
 * Rates come ready from each process's history (the "rates" of /api/graph), and components'
 * trouble reasons from its trouble rules, so this file only adds what no single process can
 * know: topics between processes (messages/s in from the producers' broker acks, lag from the
 * consumers' partition gauges), stores shared by several processes, and unreachable processes.
 * A producer that is a kafka_source writes dead letters: its error rate is what it sends. */
#include "viz/deploy_live.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "framework/mem.h"
#include "viz/deploy.h"
#include "viz/labels.h"

struct series {
    double v[UF_DEPLOY_WINDOW];
    size_t n; /* samples held, up to the window; v[n-1] is the newest */
};

struct consumer_mem {
    bool seen;
    double lag, acked_then; /* its lag and the producers' acks when it last answered */
};

struct topic_mem {
    struct series lag;
    struct consumer_mem *c;
    json_t *parts; /* partition -> lag, kept while the consumers are unreachable */
};

struct proc_mem {
    bool known, up;
    int64_t since_ms;
};

struct uf_deploy_live {
    const json_t *model;
    struct proc_mem *p;
    struct topic_mem *t;
    struct series *s; /* per store: errors and retries per second */
};

/* ---- small helpers ---- */

static void push(struct series *s, double v)
{
    if (s->n == UF_DEPLOY_WINDOW) {
        memmove(s->v, s->v + 1, (UF_DEPLOY_WINDOW - 1) * sizeof *s->v);
        s->n--;
    }
    s->v[s->n++] = v;
}

/* Rose over the whole window and never fell. */
static bool growing(const struct series *s)
{
    if (s->n < UF_DEPLOY_WINDOW || s->v[s->n - 1] <= s->v[0])
        return false;
    for (size_t i = 1; i < s->n; i++)
        if (s->v[i] < s->v[i - 1])
            return false;
    return true;
}

static double sum(const struct series *s)
{
    double t = 0;
    for (size_t i = 0; i < s->n; i++)
        t += s->v[i];
    return t;
}

static const char *str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static double rate(const json_t *node, const char *key)
{
    return json_number_value(json_object_get(json_object_get(node, "rates"), key));
}

static double extra(const json_t *node, const char *bag, const char *key)
{
    const json_t *b = strcmp(bag, "rates") == 0 ? json_object_get(node, "rates")
                                                : json_object_get(node, "metrics");
    return json_number_value(json_object_get(json_object_get(b, "extra"), key));
}

/* ---- lookups ---- */

static int process_index(const struct uf_deploy_live *l, const char *id)
{
    char name[256];
    uf_deploy_process_of(id, name, sizeof name);
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(l->model, "processes"), i, p)
    {
        if (strcmp(str(p, "name"), name) == 0)
            return (int)i;
    }
    return -1;
}

/* The live node of a component id, or NULL when its process did not answer. */
static const json_t *node_of(const struct uf_deploy_live *l, const json_t *const *graphs,
                             const char *id)
{
    int i = process_index(l, id);
    size_t k, j;
    json_t *pl, *n;
    json_array_foreach(json_object_get(i >= 0 ? graphs[i] : NULL, "pipelines"), k, pl)
    {
        json_array_foreach(json_object_get(pl, "nodes"), j, n)
        {
            if (strcmp(str(n, "id"), id) == 0)
                return n;
        }
    }
    return NULL;
}

struct uf_deploy_live *uf_deploy_live_new(const json_t *model)
{
    struct uf_deploy_live *l = uf_xcalloc(1, sizeof *l);
    size_t np = json_array_size(json_object_get(model, "processes"));
    size_t nt = json_array_size(json_object_get(model, "topics"));
    size_t ns = json_array_size(json_object_get(model, "stores"));
    l->model = model;
    l->p = uf_xcalloc(np ? np : 1, sizeof *l->p);
    l->t = uf_xcalloc(nt ? nt : 1, sizeof *l->t);
    l->s = uf_xcalloc(ns ? ns : 1, sizeof *l->s);
    for (size_t i = 0; i < nt; i++) {
        json_t *t = json_array_get(json_object_get(model, "topics"), i);
        size_t nc = json_array_size(json_object_get(t, "consumers"));
        l->t[i].c = uf_xcalloc(nc ? nc : 1, sizeof *l->t[i].c);
        l->t[i].parts = json_object();
    }
    return l;
}

void uf_deploy_live_free(struct uf_deploy_live *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < json_array_size(json_object_get(l->model, "topics")); i++) {
        free(l->t[i].c);
        json_decref(l->t[i].parts);
    }
    free(l->p);
    free(l->t);
    free(l->s);
    free(l);
}

/* ---- processes ---- */

static void clock_text(int64_t ms, char *out, size_t n)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, n, "%H:%M:%S UTC", &tm);
}

static json_t *component(const json_t *c, const json_t *node)
{
    json_t *o = json_deep_copy(c);
    json_t *rates = node ? json_object_get(node, "rates") : NULL;
    json_object_set_new(o, "rates", rates ? json_deep_copy(rates) : json_object());
    json_t *trouble = node ? json_object_get(node, "trouble") : NULL;
    json_object_set_new(o, "trouble", trouble ? json_deep_copy(trouble) : json_array());
    /* Labels from the model's role and kind with the live numbers: the counters since start
     * are needed for the queue fill only, and are not sent on. */
    json_t *metrics = node ? json_object_get(node, "metrics") : NULL;
    json_object_set_new(o, "metrics", metrics ? json_deep_copy(metrics) : json_object());
    json_t *lab = uf_labels_node(o);
    json_object_update(o, lab);
    json_decref(lab);
    json_object_del(o, "metrics");
    return o;
}

static json_t *process(struct uf_deploy_live *l, size_t i, const json_t *const *graphs,
                       const char *why, int64_t now, json_t *banner)
{
    const json_t *p = json_array_get(json_object_get(l->model, "processes"), i);
    struct proc_mem *m = &l->p[i];
    bool up = graphs[i] != NULL;
    if (!m->known || m->up != up)
        m->since_ms = now;
    m->known = true;
    m->up = up;
    json_t *o =
        json_pack("{s:s,s:s,s:s,s:I,s:s}", "name", str(p, "name"), "admin", str(p, "admin"),
                  "status", up ? "up" : "unreachable", "since_ms", (json_int_t)m->since_ms, "error",
                  up    ? ""
                  : why ? why
                        : "no answer");
    json_t *comps = json_array();
    size_t k;
    json_t *c;
    json_array_foreach(json_object_get(p, "components"), k, c)
    {
        json_t *cj = component(c, node_of(l, graphs, str(c, "id")));
        size_t r;
        json_t *why_c;
        json_array_foreach(json_object_get(cj, "trouble"), r, why_c)
        {
            json_array_append_new(banner,
                                  json_pack("{s:s,s:O}", "id", str(c, "id"), "reason", why_c));
        }
        json_array_append_new(comps, cj);
    }
    json_object_set_new(o, "components", comps);
    json_object_set(o, "edges", json_object_get(p, "edges"));
    if (!up) {
        char at[32], reason[400];
        clock_text(m->since_ms, at, sizeof at);
        snprintf(reason, sizeof reason, "unreachable since %s (%s)", at, str(o, "error"));
        json_array_append_new(banner,
                              json_pack("{s:s,s:s}", "id", str(p, "name"), "reason", reason));
    }
    return o;
}

/* ---- topics ---- */

/* What a producer sends to its topic per second, and in all (for the lag estimate). */
static void produced(const json_t *node, double *per_s, double *total)
{
    if (strcmp(str(node, "kind"), "kafka_source") == 0) { /* its dead letters */
        *per_s += rate(node, "errors");
        *total += json_number_value(json_object_get(json_object_get(node, "metrics"), "errors"));
        return;
    }
    *per_s += extra(node, "rates", "kafka_acked_events_total");
    *total += extra(node, "metrics", "kafka_acked_events_total");
}

/* The consumer's lag on this topic from its partition gauges, filling parts (partition -> lag).
 * False when the node carries no lag for the topic. */
static bool consumer_lag(const json_t *node, const char *topic, json_t *parts, double *lag)
{
    char prefix[300];
    int pl = snprintf(prefix, sizeof prefix, "kafka_consumer_lag_messages{%s/", topic);
    const char *key;
    json_t *v;
    bool any = false;
    *lag = 0;
    json_object_foreach(json_object_get(json_object_get(node, "rates"), "extra"), key, v)
    {
        if (strncmp(key, prefix, (size_t)pl) != 0)
            continue;
        char part[32];
        snprintf(part, sizeof part, "%.*s", (int)strcspn(key + pl, "}"), key + pl);
        json_object_set_new(parts, part, json_real(json_number_value(v)));
        *lag += json_number_value(v);
        any = true;
    }
    return any;
}

struct topic_sums {
    double rate_in, acked, lag;
    bool estimated;
};

static json_t *consumers(struct uf_deploy_live *l, size_t ti, const json_t *t,
                         const json_t *const *graphs, struct topic_sums *ts)
{
    json_t *out = json_array();
    size_t k;
    json_t *c;
    json_array_foreach(json_object_get(t, "consumers"), k, c)
    {
        struct consumer_mem *m = &l->t[ti].c[k];
        const json_t *node = node_of(l, graphs, str(c, "component"));
        double lag = 0;
        bool live = node && consumer_lag(node, str(t, "name"), l->t[ti].parts, &lag);
        if (live)
            *m = (struct consumer_mem){ .seen = true, .lag = lag, .acked_then = ts->acked };
        else if (m->seen) /* unreachable: what it knew plus what arrived since */
            lag = m->lag + (ts->acked > m->acked_then ? ts->acked - m->acked_then : 0);
        ts->estimated |= !live && !node;
        ts->lag += lag;
        json_array_append_new(out, json_pack("{s:s,s:s,s:f,s:b}", "component", str(c, "component"),
                                             "group", str(c, "group"), "lag", lag, "estimated",
                                             !live && !node));
    }
    return out;
}

static json_t *topic(struct uf_deploy_live *l, size_t ti, const json_t *const *graphs,
                     json_t *banner)
{
    const json_t *t = json_array_get(json_object_get(l->model, "topics"), ti);
    struct topic_sums ts = { 0 };
    size_t k;
    json_t *p;
    json_array_foreach(json_object_get(t, "producers"), k, p)
    {
        const json_t *node = node_of(l, graphs, json_string_value(p));
        if (node)
            produced(node, &ts.rate_in, &ts.acked);
    }
    json_t *o = json_deep_copy(t);
    json_object_set_new(o, "consumers", consumers(l, ti, t, graphs, &ts));
    push(&l->t[ti].lag, ts.lag);
    json_object_set_new(o, "rate_in", json_real(ts.rate_in));
    json_object_set_new(o, "lag", json_real(ts.lag));
    json_object_set_new(o, "lag_estimated", json_boolean(ts.estimated));
    json_object_set(o, "partitions", l->t[ti].parts);
    json_t *trouble = json_array();
    if (growing(&l->t[ti].lag))
        json_array_append_new(trouble, json_sprintf("lag growing: %.0f, up %.0f in %d s", ts.lag,
                                                    ts.lag - l->t[ti].lag.v[0], UF_DEPLOY_WINDOW));
    json_array_foreach(trouble, k, p)
    {
        json_array_append_new(banner, json_pack("{s:s,s:O}", "id", str(t, "id"), "reason", p));
    }
    json_object_set_new(o, "trouble", trouble);
    return o;
}

/* ---- stores ---- */

static void store_users(struct uf_deploy_live *l, const json_t *s, const json_t *const *graphs,
                        double *v)
{
    const char *sides[] = { "writers", "readers" };
    for (size_t side = 0; side < 2; side++) {
        size_t k;
        json_t *id;
        json_array_foreach(json_object_get(s, sides[side]), k, id)
        {
            const json_t *n = node_of(l, graphs, json_string_value(id));
            if (!n)
                continue;
            if (side == 0)
                v[0] += rate(n, "out");
            v[1] += rate(n, "errors") + rate(n, "retries");
            double depth = extra(n, "rates", "outbox_depth");
            v[2] = depth > v[2] ? depth : v[2];
        }
    }
}

static json_t *store(struct uf_deploy_live *l, size_t si, const json_t *const *graphs,
                     json_t *banner)
{
    const json_t *s = json_array_get(json_object_get(l->model, "stores"), si);
    double v[3] = { 0 }; /* rows/s written, errors and retries/s, outbox depth */
    store_users(l, s, graphs, v);
    push(&l->s[si], v[1]);
    json_t *o = json_deep_copy(s), *trouble = json_array();
    json_object_set_new(o, "rows_per_s", json_real(v[0]));
    json_object_set_new(o, "errors_per_s", json_real(v[1]));
    if (strcmp(str(s, "kind"), "postgres") == 0)
        json_object_set_new(o, "outbox_depth", json_real(v[2]));
    if (sum(&l->s[si]) > 0)
        json_array_append_new(trouble, json_sprintf("errors or retries: %.0f in the last %d s",
                                                    sum(&l->s[si]), UF_DEPLOY_WINDOW));
    if (json_array_size(trouble))
        json_array_append_new(banner, json_pack("{s:s,s:O}", "id", str(s, "id"), "reason",
                                                json_array_get(trouble, 0)));
    json_object_set_new(o, "trouble", trouble);
    return o;
}

/* ---- edges and the whole ---- */

static double edge_rate(const struct uf_deploy_live *l, const json_t *e,
                        const json_t *const *graphs)
{
    const char *kind = str(e, "kind");
    bool out_side = strcmp(kind, "read") == 0 || strcmp(kind, "consume") == 0;
    const json_t *n = node_of(l, graphs, str(e, out_side ? "to" : "from"));
    if (!n)
        return 0;
    if (strcmp(kind, "produce") == 0) {
        double r = 0, t = 0;
        produced(n, &r, &t);
        return r;
    }
    if (strcmp(kind, "forward") == 0)
        return extra(n, "rates", "forward_sent_events_total");
    return rate(n, "out");
}

json_t *uf_deploy_live_update(struct uf_deploy_live *l, const json_t *const *graphs,
                              const char *const *why, int64_t now_ms)
{
    json_t *banner = json_array(), *procs = json_array(), *topics = json_array();
    json_t *stores = json_array(), *edges = json_array();
    for (size_t i = 0; i < json_array_size(json_object_get(l->model, "processes")); i++)
        json_array_append_new(procs, process(l, i, graphs, why[i], now_ms, banner));
    for (size_t i = 0; i < json_array_size(json_object_get(l->model, "topics")); i++)
        json_array_append_new(topics, topic(l, i, graphs, banner));
    for (size_t i = 0; i < json_array_size(json_object_get(l->model, "stores")); i++)
        json_array_append_new(stores, store(l, i, graphs, banner));
    size_t k;
    json_t *e;
    json_array_foreach(json_object_get(l->model, "edges"), k, e)
    {
        json_t *o = json_deep_copy(e);
        json_object_set_new(o, "rate", json_real(edge_rate(l, e, graphs)));
        json_array_append_new(edges, o);
    }
    return json_pack("{s:s,s:I,s:o,s:o,s:o,s:o,s:o}", "file", str(l->model, "file"), "time_ms",
                     (json_int_t)now_ms, "processes", procs, "topics", topics, "stores", stores,
                     "edges", edges, "trouble", banner);
}
