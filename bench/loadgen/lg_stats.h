/* lg_stats.h: what `ugcflow loadgen` counts and how it tells it: per-run (and per-step, and
 * per-second) counters and latency histograms, the live line, the text summary and the JSON
 * report. An error is anything that is not an answer of its route (lg_workload.h): a status,
 * a connection that could not be made or broke ("connect"), no reply within --timeout
 * ("timeout"), or a reply we could not read ("protocol"). Latency counts replies and timeouts,
 * from each request's intended send time. Not thread-safe. */
#ifndef UF_LG_STATS_H
#define UF_LG_STATS_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "bench/loadgen/lg_hist.h"
#include "bench/loadgen/lg_workload.h"

enum uf_lg_outcome { UF_LG_REPLY, UF_LG_CONNECT, UF_LG_TIMEOUT, UF_LG_PROTOCOL };

struct uf_lg_stats {
    uint64_t sent, late, replies, ok;
    uint64_t status[600]; /* replies by status code */
    uint64_t error_status[600];
    uint64_t connect, timeout, protocol;
    uint64_t routes[UF_LG_ROUTES_MAX]; /* requests sent per route */
    struct uf_lg_hist hist;
};

void uf_lg_stats_reset(struct uf_lg_stats *s);
void uf_lg_stats_sent(struct uf_lg_stats *s, size_t route, bool late);
/* One request ended: a reply (status), or an error outcome; latency_us from the intended time. */
void uf_lg_stats_ended(struct uf_lg_stats *s, size_t route, enum uf_lg_outcome o, int status,
                       int64_t latency_us);
uint64_t uf_lg_stats_errors(const struct uf_lg_stats *s);
/* Adds every count of src to dst. */
void uf_lg_stats_merge(struct uf_lg_stats *dst, const struct uf_lg_stats *src);

/* What a run was asked for, for the summary and the report. */
struct uf_lg_run_info {
    const char *url, *api, *tag, *workload;
    uint64_t seed, intended;
    double target_rate, duration_s, elapsed_s;
    size_t connections;
    int64_t slack_us;
    const struct uf_lg_workload *w; /* route names */
};

/* The report object (new reference): the fields of docs (README "Load generator"). */
json_t *uf_lg_stats_report(const struct uf_lg_stats *s, const struct uf_lg_run_info *ri);
/* The latency_ms object of s (new reference). */
json_t *uf_lg_stats_latency(const struct uf_lg_stats *s);
void uf_lg_stats_summary(FILE *f, const struct uf_lg_stats *s, const struct uf_lg_run_info *ri);
/* One live line (window: the last second's stats), ending in \r on a terminal. */
void uf_lg_stats_live(FILE *f, double t_s, double target, const struct uf_lg_stats *window,
                      double window_s, size_t inflight);
#endif
