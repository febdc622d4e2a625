/* lg_engine.h: the open-model engine of `ugcflow loadgen`: sends the workload's requests at the
 * schedule's intended times over a bounded pool of keep-alive connections (one thread, epoll),
 * whatever the server's speed. A request waiting for a connection is still timed from its
 * intended time (no coordinated omission), and one sent over 1 ms late is counted. After the
 * schedule, waiting requests go out as connections free up and get their --timeout; the rest
 * is given up. Blocks for the run. Slack and timing: README, "Load generator". */
#ifndef UF_LG_ENGINE_H
#define UF_LG_ENGINE_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bench/loadgen/lg_http.h"
#include "bench/loadgen/lg_sched.h"
#include "bench/loadgen/lg_stats.h"
#include "bench/loadgen/lg_workload.h"

#define UF_LG_LATE_US 1000 /* a send this far behind its intended time is late */

/* One second of a run, for the plot: offered and achieved rate, latency of its replies. */
struct uf_lg_point {
    double t_s, offered, achieved, p50_ms, p99_ms, p999_ms;
    uint64_t errors;
};

struct uf_lg_engine_opts {
    const struct uf_lg_target *target;
    const struct uf_lg_sched *sched;
    struct uf_lg_workload *w; /* borrowed; advanced by the run */
    size_t connections;
    int64_t timeout_us;
    int64_t slack_ns; /* a wake-up also sends what is due this much later (0: only what is due) */
    FILE *acked;      /* NULL, or where each accepted event id goes, one a line */
    FILE *live;       /* NULL, or where the live line goes once a second */
};

struct uf_lg_engine_result {
    struct uf_lg_stats total;
    struct uf_lg_stats *steps;  /* one per schedule segment, by intended time; ours */
    struct uf_lg_point *points; /* one per second, by completion time; ours */
    size_t npoints;
    uint64_t intended;
    double elapsed_s;
    int64_t t0_ns; /* the start, on CLOCK_MONOTONIC: request k is intended at t0 + time(k) */
};

/* Runs the schedule. Returns 0, or -1 with err when the engine could not start (epoll). The
 * result is the caller's; free its arrays with uf_lg_engine_result_free. */
int uf_lg_engine_run(const struct uf_lg_engine_opts *o, struct uf_lg_engine_result *res, char *err,
                     size_t errlen);
void uf_lg_engine_result_free(struct uf_lg_engine_result *res);
#endif
