/* metrics.h: per-component counters, gauges and histograms, and their Prometheus exposition.
 * Every component owns one struct uf_metrics, updated on the hot path with relaxed atomics (no
 * locks). Kinds may add their own gauges and counters (consumer lag, spool bytes, state size)
 * with uf_metrics_gauge/uf_metrics_counter during init or start; registration takes a lock,
 * updates do not. Exposition renders every component of a runtime as Prometheus text with
 * names ugcflow_* and labels pipeline, component, kind. */
#ifndef UF_METRICS_H
#define UF_METRICS_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Bucket upper bounds in microseconds: 10us .. 10s, then +Inf. */
#define UF_HISTO_BUCKETS 16
extern const double uf_histo_bounds_us[UF_HISTO_BUCKETS - 1];

struct uf_histo {
    _Atomic uint64_t bucket[UF_HISTO_BUCKETS];
    _Atomic uint64_t count;
    _Atomic uint64_t sum; /* in the histogram's unit (us for latencies, rows for batch sizes) */
};

/* Plain-value histogram for sizes: upper bounds 1, 2, 5, 10 ... 1e6, +Inf. */
extern const double uf_histo_bounds_n[UF_HISTO_BUCKETS - 1];

enum uf_metric_type { UF_METRIC_COUNTER, UF_METRIC_GAUGE };

struct uf_extra_metric {
    char *name; /* without the ugcflow_component_ prefix */
    char *help;
    char *label_key, *label_value; /* optional extra label, both NULL when none */
    enum uf_metric_type type;
    _Atomic int64_t value;
    struct uf_extra_metric *next;
};

struct uf_metrics {
    _Atomic uint64_t in, out, dropped, errors, retries, bytes;
    _Atomic int64_t queue_depth, queue_capacity; /* sampled from the queue when exported */
    struct uf_histo latency_us; /* time spent in process/write per event (or per batch) */
    struct uf_histo batch_rows; /* sinks: events per write or flush */
    struct uf_histo flush_us;   /* sinks: flush duration */
    pthread_mutex_t extra_lock;
    struct uf_extra_metric *extra;
};

/* The name an extra metric goes by in the JSON views (graph page, history): "name", or
 * "name{label value}" for a labelled one, truncated to size. */
void uf_extra_metric_key(const struct uf_extra_metric *e, char *out, size_t size);

void uf_metrics_init(struct uf_metrics *m);
void uf_metrics_destroy(struct uf_metrics *m);

void uf_histo_observe(struct uf_histo *h, const double *bounds, uint64_t value);
/* Approximate quantile q (0..1) from the buckets, interpolated; 0 when empty. */
double uf_histo_quantile(const struct uf_histo *h, const double *bounds, double q);

static inline void uf_metrics_add(_Atomic uint64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/* Registers (or finds) a kind-specific metric on the component; returns its value cell, valid
 * as long as the metrics live. Name must match [a-z0-9_]+. Thread-safe. */
_Atomic int64_t *uf_metrics_extra(struct uf_metrics *m, enum uf_metric_type type, const char *name,
                                  const char *help, const char *label_key, const char *label_value);

/* Reads the value of a registered extra metric or -1 when absent (for tests and the graph). */
int64_t uf_metrics_extra_value(struct uf_metrics *m, const char *name, const char *label_value);

/* One component's identity and metrics, for exposition. */
struct uf_metrics_src {
    const char *pipeline, *component, *kind;
    struct uf_metrics *m;
};

struct uf_strbuf;
/* Appends Prometheus text for every source: one HELP/TYPE header per family, then a sample per
 * component with labels pipeline, component, kind. */
void uf_metrics_render(struct uf_strbuf *sb, const struct uf_metrics_src *srcs, size_t n);

/* A snapshot as JSON: {"in","out","dropped","errors","retries","bytes","queue_depth",
 * "queue_capacity","latency_p50_us","latency_p99_us","batch_rows_avg","flush_p99_us",
 * "extra":{name[{label}]: value}}. New reference. */
json_t *uf_metrics_snapshot(struct uf_metrics *m);

#endif
