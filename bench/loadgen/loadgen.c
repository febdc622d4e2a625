/* loadgen.c: `ugcflow loadgen` (see loadgen.h): reads the arguments, loads the workload, runs
 * the engine over the schedule, then prints the summary on stdout and writes the report and
 * the acked log. The live line goes to stderr only when it is a terminal (a log file gets the
 * summary, not 60 carriage returns). */
#include "loadgen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lg_cli.h"
#include "lg_engine.h"
#include "mem.h"

struct run {
    struct uf_lg_cli cli;
    struct uf_lg_workload *w;
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
    *ri = (struct uf_lg_run_info){
        .url = r->cli.url, .api = r->cli.api == UF_LG_API_UGC ? "ugc" : "stat",
        .tag = r->cli.tag, .workload = r->cli.workload, .seed = (uint64_t)r->cli.seed,
        .intended = res->intended, .target_rate = d > 0 ? (double)res->intended / d : 0,
        .duration_s = d, .elapsed_s = res->elapsed_s, .connections = (size_t)r->cli.connections,
        .w = r->w};
}

/* A plain run (constant rate or ramp): one schedule, one report. */
static int run_plain(struct run *r)
{
    struct uf_lg_sched s;
    uf_lg_cli_sched(&r->cli, &s);
    struct uf_lg_engine_opts o = {
        .target = &r->cli.target, .sched = &s, .w = r->w,
        .connections = (size_t)r->cli.connections, .timeout_us = r->cli.timeout_ms * 1000,
        .acked = r->acked, .live = !r->cli.quiet && isatty(2) ? stderr : NULL};
    struct uf_lg_engine_result *res = uf_xcalloc(1, sizeof(*res));
    char err[256];
    int rc = uf_lg_engine_run(&o, res, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "ugcflow loadgen: %s\n", err);
        free(res);
        return 1;
    }
    struct uf_lg_run_info ri;
    run_info(r, &s, res, &ri);
    uf_lg_stats_summary(stdout, &res->total, &ri);
    if (r->cli.report) {
        json_t *j = uf_lg_stats_report(&res->total, &ri);
        rc = write_report(r->cli.report, j);
        json_decref(j);
    }
    uf_lg_engine_result_free(res);
    free(res);
    return rc;
}

/* The workload and the acked log; 1 (with a message) when either cannot be had. */
static int prepare(struct run *r)
{
    const char *secret = getenv("UGCFLOW_JWT_SECRET");
    if (r->cli.api == UF_LG_API_UGC && !(secret && *secret))
        return fprintf(stderr, "ugcflow loadgen: --api ugc needs UGCFLOW_JWT_SECRET (the UGC "
                               "API's HS256 secret) to mint its users' tokens\n"), 2;
    struct uf_lg_workload_opts wo = {.file = r->cli.workload, .api = r->cli.api,
                                     .seed = (uint64_t)r->cli.seed, .tag = r->cli.tag,
                                     .secret = secret};
    char err[512];
    if (!(r->w = uf_lg_workload_new(&wo, err, sizeof err)))
        return fprintf(stderr, "ugcflow loadgen: %s\n", err), 1;
    if (r->cli.acked_log && !(r->acked = fopen(r->cli.acked_log, "w")))
        return fprintf(stderr, "ugcflow loadgen: %s: %m\n", r->cli.acked_log), 1;
    if (r->acked)
        setvbuf(r->acked, NULL, _IOFBF, 1 << 20);
    return 0;
}

int uf_loadgen_main(int argc, char **argv)
{
    struct run r = {0};
    char err[512];
    int p = uf_lg_cli_parse(argc, argv, &r.cli, err, sizeof err);
    if (p != 0) {
        if (p > 0)
            uf_lg_cli_usage(stdout);
        return p > 0 ? 0 : usage_error(err);
    }
    int rc = prepare(&r);
    if (rc == 0)
        rc = run_plain(&r);
    if (r.acked && fclose(r.acked) != 0 && rc == 0) {
        fprintf(stderr, "ugcflow loadgen: %s: write failed\n", r.cli.acked_log);
        rc = 1;
    }
    uf_lg_workload_free(r.w);
    return rc;
}
