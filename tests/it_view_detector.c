/* it_view_detector.c: the view detector's sessions across restarts, against the dev stack's
 * PostgreSQL: a playback watched 20 s before a restart and 20 s after counts exactly one view,
 * a view counted before a restart is not counted again after it, sessions are saved while the
 * detector runs (not only at stop), and a detector whose database is down still counts. Each
 * "restart" is a new graph over the same schema (own schema per run). Needs UGCFLOW_PG_DSN. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "framework/config.h"
#include "framework/event.h"
#include "framework/event_int.h"
#include "framework/graph.h"
#include "framework/metrics.h"
#include "framework/pg.h"
#include "framework/stage.h"
#include "tests/support/poll.h"

#define T0 1796052718000000LL

static const char *dsn;
static char schema[64];
static size_t views_seen;

static int count_views(struct uf_stage *st, void *ctx, struct uf_event **evs, size_t n,
                       struct uf_err *err)
{
    for (size_t i = 0; i < n; i++) {
        const char *type = uf_event_get_str(evs[i], "type");
        views_seen += type && strcmp(type, "movie.view") == 0;
        uf_event_done(evs[i]);
    }
    return UF_OK;
}

static const struct uf_kind counter_kind = { .name = "counter",
                                             .role = UF_SINK,
                                             .write = count_views };

struct detector {
    struct uf_graph *g;
    struct uf_stage *vd, *out;
    const struct uf_kind *null_kind;
};

/* A detector over the run's schema (or another dsn), started. */
static struct detector start(const char *state_dsn)
{
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "pipelines:\n  t:\n    components:\n"
             "      src: {kind: generate}\n"
             "      vd: {kind: view_detector, inputs: [src], clock: server, state_dsn: '%s',"
             " state_schema: %s, checkpoint_interval: 50ms,"
             " state_migrations: sql/ugc/migrations}\n"
             "      out: {kind: null, inputs: [vd]}\n",
             state_dsn, schema);
    struct uf_diags d = { 0 };
    char name[4096]; /* in the source tree, whose migrations the config names */
    snprintf(name, sizeof name, "%s/t.yaml", getenv("UGCFLOW_SOURCE_DIR"));
    struct uf_config *cfg = uf_config_load_string(name, yaml, &d);
    struct detector x = { .g = cfg ? uf_graph_build(cfg, NULL, 0, &d) : NULL };
    uf_diags_free(&d);
    assert_non_null(x.g);
    for (size_t i = 0; i < x.g->pipelines[0].nstages; i++) {
        struct uf_stage *st = x.g->pipelines[0].stages[i];
        if (strcmp(st->name, "vd") == 0)
            x.vd = st;
        if (strcmp(st->name, "out") == 0)
            x.out = st;
    }
    x.null_kind = x.out->kind;
    x.out->kind = &counter_kind;
    struct uf_err err = { 0 };
    assert_int_equal(x.vd->kind->start(x.vd, x.vd->ctx, &err), 0);
    return x;
}

static void stop(struct detector *x)
{
    x->vd->kind->stop(x->vd, x->vd->ctx);
    x->out->kind = x->null_kind;
    uf_graph_free(x->g);
}

/* One player event of session sid at position pos, t_s seconds after T0 (server clock). */
static void player(struct detector *x, const char *sid, const char *event, double pos, double t_s)
{
    char body[256];
    snprintf(body, sizeof body,
             "{\"type\":\"player\",\"event\":\"%s\",\"movie_id\":\"m1\",\"session_id\":\"%s\","
             "\"anonymous_id\":\"a1\",\"position_s\":%g}",
             event, sid, pos);
    struct uf_event *ev = uf_event_new(json_loads(body, 0, NULL));
    ev->received_us = T0 + (int64_t)(t_s * 1e6);
    ev->at = x->vd;
    x->vd->kind->process(x->vd, x->vd->ctx, ev);
}

static int64_t metric(struct detector *x, const char *name)
{
    return uf_metrics_extra_value(&x->vd->metrics, name, NULL);
}

static void test_split_playback_counts_one_view(void **state)
{
    views_seen = 0;
    struct detector a = start(dsn);
    player(&a, "split", "play", 0, 0);
    player(&a, "split", "progress", 20, 20);
    stop(&a);
    struct detector b = start(dsn);
    assert_true(metric(&b, "view_state_loaded") >= 1);
    player(&b, "split", "progress", 25, 25);
    assert_int_equal(views_seen, 0); /* 25 s watched: 20 before the restart, 5 after */
    player(&b, "split", "progress", 40, 40);
    assert_int_equal(views_seen, 1); /* 40 s: 20 before, 20 after */
    stop(&b);
    struct detector c = start(dsn);
    player(&c, "split", "progress", 60, 60); /* counted before this restart: not again */
    player(&c, "split", "complete", 90, 90);
    assert_int_equal(views_seen, 1);
    stop(&c);
}

static void test_sessions_saved_while_running(void **state)
{
    struct detector a = start(dsn);
    player(&a, "running", "play", 0, 0);
    player(&a, "running", "progress", 10, 10);
    WAIT_FOR(metric(&a, "view_state_saved_total") >= 1, 5000);
    PGconn *pg = uf_pg_connect(dsn, 2000, NULL);
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT watched_s FROM \"%s\".view_sessions WHERE key LIKE 'a1%%running%%'", schema);
    PGresult *res = PQexec(pg, sql);
    assert_int_equal(PQntuples(res), 1);
    assert_true(strtod(PQgetvalue(res, 0, 0), NULL) == 10.0);
    PQclear(res);
    PQfinish(pg);
    stop(&a);
}

static void test_database_down_still_counts(void **state)
{
    views_seen = 0;
    struct detector a = start("postgresql://ugcflow:ugcflow@127.0.0.1:1/ugcflow");
    player(&a, "nodb", "play", 0, 0);
    player(&a, "nodb", "progress", 30, 30);
    assert_int_equal(views_seen, 1);
    WAIT_FOR(metric(&a, "view_state_save_failures_total") >= 1, 10000);
    stop(&a);
}

static int setup(void **state)
{
    dsn = getenv("UGCFLOW_PG_DSN");
    if (!dsn)
        fail_msg(
            "UGCFLOW_PG_DSN is not set (run through script/test, or eval script/dev-stack env)");
    snprintf(schema, sizeof schema, "it_views_%d", (int)getpid());
    return 0;
}

static int teardown(void **state)
{
    PGconn *pg = uf_pg_connect(dsn, 2000, NULL);
    char sql[128];
    snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS \"%s\" CASCADE", schema);
    uf_pg_exec(pg, sql, "drop", NULL);
    PQfinish(pg);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_playback_counts_one_view),
        cmocka_unit_test(test_sessions_saved_while_running),
        cmocka_unit_test(test_database_down_still_counts),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
