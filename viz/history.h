/* viz/history.h: the last minutes of every component's metrics, kept server-side so a freshly
 * opened graph page (or `ugcflow top`) shows rates and sparklines at once.
 * A history holds one ring of samples per component of a graph. Each sample turns the deltas of
 * the component's counters since the previous sample into per-second rates, and its histogram
 * deltas into the interval's p99 latency, mean batch size and mean flush time; kind-specific
 * metrics (consumer lag, spool bytes...) are kept as values (gauges) or rates (counters), up to
 * UF_HISTORY_EXTRAS per component. It also judges whether a component is in trouble.
 * Every function is thread-safe (one mutex per history); nothing here runs on the hot path. */
#ifndef UF_VIZ_HISTORY_H
#define UF_VIZ_HISTORY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "framework/err.h"

#define UF_HISTORY_SAMPLES 300       /* five minutes at one sample per second */
#define UF_HISTORY_EXTRAS 24         /* an http source has 3 + 4 per route */
#define UF_HISTORY_TROUBLE_WINDOW 10 /* samples looked at for rising errors and retries */

struct uf_graph;
struct uf_history;

/* A history of every component of g (borrowed: g must outlive the history), keeping the last
 * `capacity` samples. */
struct uf_history *uf_history_new(const struct uf_graph *g, size_t capacity);
/* Stops the sampler thread if running, then frees. Accepts NULL. */
void uf_history_free(struct uf_history *h);

/* Samples every component at monotonic time now_us (uf_now_us()). The first call only records
 * the counters as a baseline; each later call appends one sample whose rates are the deltas
 * divided by the elapsed time. */
void uf_history_sample(struct uf_history *h, int64_t now_us);

/* {"interval_ms","capacity","components":{ID:{"t":[wall ms],"in":[/s],"out","errors",
 * "retries","dropped","queue_fill":[0..1],"p99_us","batch_avg","flush_avg_us",
 * "extra":{NAME:[..]}}}}, oldest first. id restricts to one component ("pipeline/name"); an
 * unknown id gives an empty "components". New reference. */
json_t *uf_history_json(struct uf_history *h, const char *id);

/* Adds to every node of a graph JSON (uf_graph_json) "rates" (the latest sample, zeros before
 * the first) and "trouble" (an array of human-readable reasons, empty when healthy). */
void uf_history_annotate(struct uf_history *h, json_t *graph);

/* Starts a thread sampling every interval_ms until uf_history_free. 0 or UF_EIO. */
int uf_history_start(struct uf_history *h, int64_t interval_ms, struct uf_err *err);

#endif
