/* metrics.c: counters, histograms and Prometheus text exposition (see metrics.h).
 * Histograms have fixed buckets so observing is one relaxed atomic add per field and the
 * exposition needs no lock. Extra metrics are a per-component linked list; the list only grows,
 * so readers walk it under the lock only to see consistent `next` pointers. */
#include "framework/metrics.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framework/mem.h"
#include "framework/strbuf.h"

const double uf_histo_bounds_us[UF_HISTO_BUCKETS - 1] = { 10,    25,    50,     100,     250,
                                                          500,   1000,  2500,   5000,    10000,
                                                          25000, 50000, 100000, 1000000, 10000000 };
const double uf_histo_bounds_n[UF_HISTO_BUCKETS - 1] = { 1,    2,     5,     10,     20,
                                                         50,   100,   200,   500,    1000,
                                                         5000, 10000, 50000, 100000, 1000000 };

void uf_extra_metric_key(const struct uf_extra_metric *e, char *out, size_t size)
{
    if (e->label_value)
        snprintf(out, size, "%s{%s}", e->name, e->label_value);
    else
        snprintf(out, size, "%s", e->name);
}

void uf_metrics_init(struct uf_metrics *m)
{
    memset(m, 0, sizeof *m);
    pthread_mutex_init(&m->extra_lock, NULL);
}

void uf_metrics_destroy(struct uf_metrics *m)
{
    struct uf_extra_metric *e = m->extra;
    while (e) {
        struct uf_extra_metric *next = e->next;
        free(e->name);
        free(e->help);
        free(e->label_key);
        free(e->label_value);
        free(e);
        e = next;
    }
    m->extra = NULL;
    pthread_mutex_destroy(&m->extra_lock);
}

void uf_histo_observe(struct uf_histo *h, const double *bounds, uint64_t value)
{
    size_t i = 0;
    while (i < UF_HISTO_BUCKETS - 1 && (double)value > bounds[i])
        i++;
    atomic_fetch_add_explicit(&h->bucket[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum, value, memory_order_relaxed);
}

double uf_histo_quantile(const struct uf_histo *h, const double *bounds, double q)
{
    uint64_t counts[UF_HISTO_BUCKETS], total = 0;
    for (size_t i = 0; i < UF_HISTO_BUCKETS; i++) {
        counts[i] = atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
        total += counts[i];
    }
    if (total == 0)
        return 0;
    double rank = q * (double)total, seen = 0;
    for (size_t i = 0; i < UF_HISTO_BUCKETS; i++) {
        if (seen + (double)counts[i] >= rank && counts[i] > 0) {
            double lo = i ? bounds[i - 1] : 0;
            double hi = i < UF_HISTO_BUCKETS - 1 ? bounds[i] : bounds[UF_HISTO_BUCKETS - 2];
            return lo + (hi - lo) * ((rank - seen) / (double)counts[i]);
        }
        seen += (double)counts[i];
    }
    return bounds[UF_HISTO_BUCKETS - 2];
}

static bool same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

_Atomic int64_t *uf_metrics_extra(struct uf_metrics *m, enum uf_metric_type type, const char *name,
                                  const char *help, const char *label_key, const char *label_value)
{
    pthread_mutex_lock(&m->extra_lock);
    struct uf_extra_metric **tail = &m->extra;
    for (struct uf_extra_metric *e = m->extra; e; e = e->next) {
        if (strcmp(e->name, name) == 0 && same(e->label_value, label_value)) {
            pthread_mutex_unlock(&m->extra_lock);
            return &e->value;
        }
        tail = &e->next;
    }
    struct uf_extra_metric *e = uf_xcalloc(1, sizeof *e);
    e->name = uf_xstrdup(name);
    e->help = uf_xstrdup(help ? help : name);
    e->label_key = label_key ? uf_xstrdup(label_key) : NULL;
    e->label_value = label_value ? uf_xstrdup(label_value) : NULL;
    e->type = type;
    *tail = e;
    pthread_mutex_unlock(&m->extra_lock);
    return &e->value;
}

int64_t uf_metrics_extra_value(struct uf_metrics *m, const char *name, const char *label_value)
{
    int64_t v = -1;
    pthread_mutex_lock(&m->extra_lock);
    for (struct uf_extra_metric *e = m->extra; e; e = e->next)
        if (strcmp(e->name, name) == 0 && same(e->label_value, label_value))
            v = atomic_load(&e->value);
    pthread_mutex_unlock(&m->extra_lock);
    return v;
}

static uint64_t ld(_Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

json_t *uf_metrics_snapshot(struct uf_metrics *m)
{
    uint64_t batches = ld(&m->batch_rows.count);
    json_t *o = json_pack(
        "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:f,s:f,s:f,s:f}", "in", (json_int_t)ld(&m->in),
        "out", (json_int_t)ld(&m->out), "dropped", (json_int_t)ld(&m->dropped), "errors",
        (json_int_t)ld(&m->errors), "retries", (json_int_t)ld(&m->retries), "bytes",
        (json_int_t)ld(&m->bytes), "queue_depth", (json_int_t)atomic_load(&m->queue_depth),
        "queue_capacity", (json_int_t)atomic_load(&m->queue_capacity), "latency_p50_us",
        uf_histo_quantile(&m->latency_us, uf_histo_bounds_us, 0.50), "latency_p99_us",
        uf_histo_quantile(&m->latency_us, uf_histo_bounds_us, 0.99), "batch_rows_avg",
        batches ? (double)ld(&m->batch_rows.sum) / (double)batches : 0.0, "flush_p99_us",
        uf_histo_quantile(&m->flush_us, uf_histo_bounds_us, 0.99), "flush_avg_us",
        ld(&m->flush_us.count) ? (double)ld(&m->flush_us.sum) / (double)ld(&m->flush_us.count)
                               : 0.0);
    json_t *extra = json_object();
    pthread_mutex_lock(&m->extra_lock);
    for (struct uf_extra_metric *e = m->extra; e; e = e->next) {
        char key[256];
        uf_extra_metric_key(e, key, sizeof key);
        json_object_set_new(extra, key, json_integer(atomic_load(&e->value)));
    }
    pthread_mutex_unlock(&m->extra_lock);
    json_object_set_new(o, "extra", extra);
    return o;
}

/* ---- exposition ---- */

static void labels(struct uf_strbuf *sb, const struct uf_metrics_src *s)
{
    uf_strbuf_printf(sb, "pipeline=\"%s\",component=\"%s\",kind=\"%s\"", s->pipeline, s->component,
                     s->kind);
}

enum field { F_IN, F_OUT, F_DROPPED, F_ERRORS, F_RETRIES, F_BYTES, F_QDEPTH, F_QCAP };

static const struct {
    const char *name, *type, *help;
    enum field f;
} scalars[] = {
    { "ugcflow_component_received_events_total", "counter", "Events received by the component.",
      F_IN },
    { "ugcflow_component_sent_events_total", "counter",
      "Events passed on (transforms, sources) or written (sinks).", F_OUT },
    { "ugcflow_component_dropped_events_total", "counter",
      "Events discarded on purpose (filters, unmatched routes).", F_DROPPED },
    { "ugcflow_component_errors_total", "counter", "Events that failed in the component.",
      F_ERRORS },
    { "ugcflow_component_retries_total", "counter", "Retried writes or deliveries.", F_RETRIES },
    { "ugcflow_component_sent_bytes_total", "counter", "Bytes written by the sink.", F_BYTES },
    { "ugcflow_component_queue_depth", "gauge", "Events waiting in the component's queue.",
      F_QDEPTH },
    { "ugcflow_component_queue_capacity", "gauge", "Capacity of the component's queue.", F_QCAP },
};

static int64_t field_value(struct uf_metrics *m, enum field f)
{
    switch (f) {
    case F_IN:
        return (int64_t)ld(&m->in);
    case F_OUT:
        return (int64_t)ld(&m->out);
    case F_DROPPED:
        return (int64_t)ld(&m->dropped);
    case F_ERRORS:
        return (int64_t)ld(&m->errors);
    case F_RETRIES:
        return (int64_t)ld(&m->retries);
    case F_BYTES:
        return (int64_t)ld(&m->bytes);
    case F_QDEPTH:
        return atomic_load(&m->queue_depth);
    case F_QCAP:
        return atomic_load(&m->queue_capacity);
    }
    return 0;
}

static void render_histo(struct uf_strbuf *sb, const char *name, const char *help, double scale,
                         const double *bounds, const struct uf_metrics_src *srcs, size_t n,
                         size_t offset)
{
    uf_strbuf_printf(sb, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    for (size_t i = 0; i < n; i++) {
        struct uf_histo *h = (struct uf_histo *)((char *)srcs[i].m + offset);
        uint64_t cum = 0;
        for (size_t b = 0; b < UF_HISTO_BUCKETS; b++) {
            cum += ld(&h->bucket[b]);
            uf_strbuf_printf(sb, "%s_bucket{", name);
            labels(sb, &srcs[i]);
            if (b < UF_HISTO_BUCKETS - 1)
                uf_strbuf_printf(sb, ",le=\"%g\"} %llu\n", bounds[b] * scale,
                                 (unsigned long long)cum);
            else
                uf_strbuf_printf(sb, ",le=\"+Inf\"} %llu\n", (unsigned long long)cum);
        }
        uf_strbuf_printf(sb, "%s_sum{", name);
        labels(sb, &srcs[i]);
        uf_strbuf_printf(sb, "} %g\n%s_count{", (double)ld(&h->sum) * scale, name);
        labels(sb, &srcs[i]);
        uf_strbuf_printf(sb, "} %llu\n", (unsigned long long)ld(&h->count));
    }
}

static void render_extra(struct uf_strbuf *sb, const struct uf_metrics_src *srcs, size_t n)
{
    /* Families are announced once: remember the names already headed. */
    struct uf_strbuf seen = { 0 };
    uf_strbuf_puts(&seen, "|");
    for (size_t i = 0; i < n; i++) {
        struct uf_metrics *m = srcs[i].m;
        pthread_mutex_lock(&m->extra_lock);
        for (struct uf_extra_metric *e = m->extra; e; e = e->next) {
            char probe[300];
            snprintf(probe, sizeof probe, "|%s|", e->name);
            if (!strstr(seen.buf, probe)) {
                uf_strbuf_printf(&seen, "%s|", e->name);
                uf_strbuf_printf(
                    sb, "# HELP ugcflow_component_%s %s\n# TYPE ugcflow_component_%s %s\n", e->name,
                    e->help, e->name, e->type == UF_METRIC_COUNTER ? "counter" : "gauge");
            }
            uf_strbuf_printf(sb, "ugcflow_component_%s{", e->name);
            labels(sb, &srcs[i]);
            if (e->label_key)
                uf_strbuf_printf(sb, ",%s=\"%s\"", e->label_key, e->label_value);
            uf_strbuf_printf(sb, "} %lld\n", (long long)atomic_load(&e->value));
        }
        pthread_mutex_unlock(&m->extra_lock);
    }
    uf_strbuf_free(&seen);
}

void uf_metrics_render(struct uf_strbuf *sb, const struct uf_metrics_src *srcs, size_t n)
{
    for (size_t k = 0; k < sizeof scalars / sizeof scalars[0]; k++) {
        uf_strbuf_printf(sb, "# HELP %s %s\n# TYPE %s %s\n", scalars[k].name, scalars[k].help,
                         scalars[k].name, scalars[k].type);
        for (size_t i = 0; i < n; i++) {
            uf_strbuf_printf(sb, "%s{", scalars[k].name);
            labels(sb, &srcs[i]);
            uf_strbuf_printf(sb, "} %lld\n", (long long)field_value(srcs[i].m, scalars[k].f));
        }
    }
    render_histo(sb, "ugcflow_component_latency_seconds",
                 "Time spent processing an event (or writing a batch).", 1e-6, uf_histo_bounds_us,
                 srcs, n, offsetof(struct uf_metrics, latency_us));
    render_histo(sb, "ugcflow_component_batch_events", "Events per sink write or flush.", 1,
                 uf_histo_bounds_n, srcs, n, offsetof(struct uf_metrics, batch_rows));
    render_histo(sb, "ugcflow_component_flush_duration_seconds", "Duration of a sink flush.", 1e-6,
                 uf_histo_bounds_us, srcs, n, offsetof(struct uf_metrics, flush_us));
    render_extra(sb, srcs, n);
}
