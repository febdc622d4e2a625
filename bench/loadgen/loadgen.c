/* loadgen.c: `ugcflow loadgen` (see loadgen.h): reads the arguments, loads the workload, runs
 * the engine over the schedule (or, with --find-max, one run per step until a step does not
 * hold), then prints the summary on stdout and writes the report, the plot and the acked log. The
 * live line goes to stderr only when it is a terminal (a log file gets the summary, not 60 carriage
 * returns). */
#include "bench/loadgen/loadgen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/loadgen/lg_cli.h"
#include "bench/loadgen/lg_engine.h"
#include "bench/loadgen/lg_plot.h"
#include "framework/err.h"
#include "framework/jwt.h"
#include "framework/jwt_mint.h"
#include "framework/mem.h"

struct run {
    struct uf_lg_cli cli;
    struct uf_lg_workload *w;
    struct uf_jwt_signer *signer; /* --jwt-key */
    FILE *acked;
};

static int usage_error(const char *msg)
{
    fprintf(stderr, "ugcflow loadgen: %s\n", msg);
    fputs("(ugcflow loadgen --help lists the options)\n", stderr);
    return 2;
}

static int write_report(const char *path, json_t *report)
{
    char *text = json_dumps(report, JSON_INDENT(2) | JSON_REAL_PRECISION(9));
    FILE *f = fopen(path, "w");
    bool ok = f && fputs(text, f) >= 0 && fputc('\n', f) != EOF;
    if (f && fclose(f) != 0)
        ok = false;
    free(text);
    if (!ok) {
        fprintf(stderr, "ugcflow loadgen: cannot write the report to %s\n", path);
        return 1;
    }
    return 0;
}

static void run_info(const struct run *r, const struct uf_lg_sched *s,
                     const struct uf_lg_engine_result *res, struct uf_lg_run_info *ri)
{
    double d = uf_lg_sched_duration(s);
    *ri = (struct uf_lg_run_info){ .url = r->cli.url,
                                   .api = r->cli.api == UF_LG_API_UGC ? "ugc" : "stat",
                                   .tag = r->cli.tag,
                                   .workload = r->cli.workload,
                                   .seed = (uint64_t)r->cli.seed,
                                   .intended = res->intended,
                                   .target_rate = d > 0 ? (double)res->intended / d : 0,
                                   .duration_s = d,
                                   .elapsed_s = res->elapsed_s,
                                   .connections = (size_t)r->cli.connections,
                                   .slack_us = r->cli.slack_us,
                                   .w = r->w };
}

/* One engine run of s into res; 1 (with a message) when the engine could not start. */
static int engine_run(struct run *r, const struct uf_lg_sched *s, struct uf_lg_engine_result *res)
{
    struct uf_lg_engine_opts o = { .target = &r->cli.target,
                                   .sched = s,
                                   .w = r->w,
                                   .connections = (size_t)r->cli.connections,
                                   .timeout_us = r->cli.timeout_ms * 1000,
                                   .slack_ns = r->cli.slack_us * 1000,
                                   .acked = r->acked,
                                   .live = !r->cli.quiet && isatty(2) ? stderr : NULL };
    char err[256];
    if (uf_lg_engine_run(&o, res, err, sizeof err) < 0)
        return fprintf(stderr, "ugcflow loadgen: %s\n", err), 1;
    return 0;
}

static int plot(const struct run *r, const struct uf_lg_point *pt, size_t n)
{
    char title[256];
    snprintf(title, sizeof title, "ugcflow loadgen %s (%s API)", r->cli.url,
             r->cli.api == UF_LG_API_UGC ? "ugc" : "stat");
    if (!r->cli.plot || uf_lg_plot_svg(r->cli.plot, title, pt, n) == 0)
        return 0;
    fprintf(stderr, "ugcflow loadgen: cannot write the plot to %s\n", r->cli.plot);
    return 1;
}

/* A plain run (constant rate or ramp): one schedule, one report, a point per second. */
static int run_plain(struct run *r)
{
    struct uf_lg_sched s;
    uf_lg_cli_sched(&r->cli, &s);
    struct uf_lg_engine_result *res = uf_xcalloc(1, sizeof(*res));
    int rc = engine_run(r, &s, res);
    if (rc == 0) {
        struct uf_lg_run_info ri;
        run_info(r, &s, res, &ri);
        uf_lg_stats_summary(stdout, &res->total, &ri);
        if (r->cli.report) {
            json_t *j = uf_lg_stats_report(&res->total, &ri);
            rc = write_report(r->cli.report, j);
            json_decref(j);
        }
        rc |= plot(r, res->points, res->npoints);
    }
    uf_lg_engine_result_free(res);
    free(res);
    return rc;
}

/* Whether a --find-max step held: every request sent, errors within 0.1 % of them, and p99
 * within the SLO. */
static bool held(const struct uf_lg_engine_result *res, int64_t slo_ms)
{
    const struct uf_lg_stats *st = &res->total;
    return st->sent == res->intended && uf_lg_stats_errors(st) * 1000 <= res->intended &&
           uf_lg_hist_quantile(&st->hist, 0.99) <= (double)slo_ms * 1000;
}

/* A step's line on stdout, its object in the report and its point in the plot. */
static void step_out(double rate, double dur_s, const struct uf_lg_engine_result *res, bool ok,
                     json_t *steps, struct uf_lg_point *pt)
{
    const struct uf_lg_stats *st = &res->total;
    double achieved = (double)st->replies / dur_s;
    double p99 = uf_lg_hist_quantile(&st->hist, 0.99) / 1000;
    printf("step: offered %.0f req/s  achieved %.1f req/s  p99 %.2f ms  errors %llu  unsent "
           "%llu  %s\n",
           rate, achieved, p99, (unsigned long long)uf_lg_stats_errors(st),
           (unsigned long long)(res->intended - st->sent), ok ? "held" : "did not hold");
    json_array_append_new(steps, json_pack("{s:f,s:f,s:I,s:I,s:I,s:I,s:o,s:b}", "offered_rate",
                                           rate, "achieved_rate", achieved, "intended",
                                           (json_int_t)res->intended, "sent", (json_int_t)st->sent,
                                           "errors_total", (json_int_t)uf_lg_stats_errors(st),
                                           "late_sends", (json_int_t)st->late, "latency_ms",
                                           uf_lg_stats_latency(st), "held", ok));
    *pt = (struct uf_lg_point){ .offered = rate,
                                .achieved = achieved,
                                .p50_ms = uf_lg_hist_quantile(&st->hist, 0.5) / 1000,
                                .p99_ms = p99,
                                .p999_ms = uf_lg_hist_quantile(&st->hist, 0.999) / 1000 };
}

struct steps {
    struct uf_lg_stats all;
    struct uf_lg_point pt[UF_LG_SCHED_MAX];
    size_t n;
    uint64_t intended;
    double elapsed_s, best;
    json_t *json;
};

/* Runs the steps of --find-max until one does not hold (or --max-rate or 64 steps). */
static int steps_run(struct run *r, struct steps *st)
{
    double dur = (double)r->cli.duration_ms / 1000;
    struct uf_lg_engine_result *res = uf_xcalloc(1, sizeof(*res));
    int rc = 0;
    for (bool ok = true; ok && st->n < UF_LG_SCHED_MAX; st->n++) {
        double rate = r->cli.rate + (double)st->n * r->cli.step_rate;
        if (rate > r->cli.max_rate || (st->n > 0 && r->cli.step_rate == 0))
            break;
        struct uf_lg_sched s = { 0 };
        uf_lg_sched_add(&s, rate, rate, dur);
        if ((rc = engine_run(r, &s, res)) != 0)
            break;
        ok = held(res, r->cli.slo_ms);
        step_out(rate, dur, res, ok, st->json, &st->pt[st->n]);
        uf_lg_stats_merge(&st->all, &res->total);
        st->intended += res->intended;
        st->elapsed_s += res->elapsed_s;
        st->best = ok ? rate : st->best;
        uf_lg_engine_result_free(res);
    }
    free(res);
    return rc;
}

static int run_find_max(struct run *r)
{
    struct steps *st = uf_xcalloc(1, sizeof(*st));
    st->json = json_array();
    int rc = steps_run(r, st);
    double d = (double)st->n * (double)r->cli.duration_ms / 1000;
    struct uf_lg_run_info ri = { .url = r->cli.url,
                                 .api = r->cli.api == UF_LG_API_UGC ? "ugc" : "stat",
                                 .tag = r->cli.tag,
                                 .workload = r->cli.workload,
                                 .seed = (uint64_t)r->cli.seed,
                                 .intended = st->intended,
                                 .target_rate = d > 0 ? (double)st->intended / d : 0,
                                 .duration_s = d,
                                 .elapsed_s = st->elapsed_s,
                                 .connections = (size_t)r->cli.connections,
                                 .slack_us = r->cli.slack_us,
                                 .w = r->w };
    printf("max rate held for a full step: %.0f req/s (p99 <= %lld ms, errors <= 0.1 %%)\n",
           st->best, (long long)r->cli.slo_ms);
    if (rc == 0 && r->cli.report) {
        json_t *j = uf_lg_stats_report(&st->all, &ri);
        json_object_set_new(j, "find_max",
                            json_pack("{s:f,s:I,s:f,s:O}", "max_rate", st->best, "slo_ms",
                                      (json_int_t)r->cli.slo_ms, "step_s",
                                      (double)r->cli.duration_ms / 1000, "steps", st->json));
        rc = write_report(r->cli.report, j);
        json_decref(j);
    }
    rc |= rc == 0 ? plot(r, st->pt, st->n) : 0;
    json_decref(st->json);
    free(st);
    return rc;
}

/* The --jwt-key signer; 1 (with a message) when the file is not an RSA private key. */
static int load_key(struct run *r)
{
    struct uf_err e = { 0 };
    if (!(r->signer = uf_jwt_signer_load(r->cli.jwt_key, &e)))
        return fprintf(stderr, "ugcflow loadgen: --jwt-key %s\n", e.msg), 1;
    return 0;
}

/* The workload and the acked log; 1 (with a message) when either cannot be had. */
static int prepare(struct run *r)
{
    const char *secret = getenv("UGCFLOW_JWT_SECRET");
    if (r->cli.api == UF_LG_API_UGC && !(secret && *secret) && !r->cli.jwt_key)
        return fprintf(stderr, "ugcflow loadgen: --api ugc needs UGCFLOW_JWT_SECRET (the UGC "
                               "API's HS256 secret) or --jwt-key to mint its users' tokens\n"),
               2;
    if (r->cli.jwt_key && load_key(r) != 0)
        return 1;
    struct uf_lg_workload_opts wo = { .file = r->cli.workload,
                                      .api = r->cli.api,
                                      .seed = (uint64_t)r->cli.seed,
                                      .tag = r->cli.tag,
                                      .secret = secret,
                                      .signer = r->signer };
    char err[512];
    if (!(r->w = uf_lg_workload_new(&wo, err, sizeof err)))
        return fprintf(stderr, "ugcflow loadgen: %s\n", err), 1;
    if (r->cli.acked_log && !(r->acked = fopen(r->cli.acked_log, "w")))
        return fprintf(stderr, "ugcflow loadgen: %s: %m\n", r->cli.acked_log), 1;
    if (r->acked)
        setvbuf(r->acked, NULL, _IOFBF, 1 << 20);
    return 0;
}

static int loadgen_main(int argc, char **argv)
{
    struct run r = { 0 };
    char err[512];
    int p = uf_lg_cli_parse(argc, argv, &r.cli, err, sizeof err);
    if (p != 0) {
        if (p > 0)
            uf_lg_cli_usage(stdout);
        return p > 0 ? 0 : usage_error(err);
    }
    int rc = prepare(&r);
    if (rc == 0)
        rc = r.cli.find_max ? run_find_max(&r) : run_plain(&r);
    if (r.acked && fclose(r.acked) != 0 && rc == 0) {
        fprintf(stderr, "ugcflow loadgen: %s: write failed\n", r.cli.acked_log);
        rc = 1;
    }
    uf_lg_workload_free(r.w);
    uf_jwt_signer_free(r.signer);
    return rc;
}

const struct uf_command uf_loadgen_command = {
    .name = "loadgen",
    .usage = "  loadgen URL --rate R --duration D [--api stat|ugc] [--report FILE] [...]\n"
             "                        open-model load on the stat or UGC API (loadgen --help)\n",
    .main = loadgen_main,
};
