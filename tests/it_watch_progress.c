/* it_watch_progress.c: the `watch_progress` sink against the dev stack's PostgreSQL: the rows
 * it upserts from raw events (texts, as the stat pipeline's http source emits them) are the
 * rows it upserts from the same events as bodies: position, duration, completed and updated_at,
 * with the newest event time winning and a complete without a position taking the duration.
 * Each run uses its own schema (made by the migrations the sink applies), dropped at the end.
 * Needs UGCFLOW_PG_DSN. */
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
#include <libpq-fe.h>

#include "framework/config.h"
#include "framework/event.h"
#include "framework/event_int.h"
#include "framework/graph.h"

#define USER "0190a5c4-0000-7000-8000-00000000000a"
#define T0 1796052718000000LL

static const char *dsn;
static char schema[64], table[96];

static PGresult *sql(PGconn *pg, const char *q)
{
    PGresult *res = PQexec(pg, q);
    ExecStatusType s = PQresultStatus(res);
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK)
        fail_msg("%s: %s", q, PQerrorMessage(pg));
    return res;
}

static struct uf_stage *start_sink(struct uf_graph **g)
{
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "pipelines:\n  t:\n    components:\n"
             "      src: {kind: generate}\n"
             "      wp: {kind: watch_progress, inputs: [src], dsn: \"%s\", schema: %s,"
             " flush_interval: 60s, migrations: sql/ugc/migrations}\n",
             dsn, schema);
    struct uf_diags d = { 0 };
    char name[4096]; /* in the source tree, whose migrations the config names */
    snprintf(name, sizeof name, "%s/t.yaml", getenv("UGCFLOW_SOURCE_DIR"));
    struct uf_config *cfg = uf_config_load_string(name, yaml, &d);
    *g = cfg ? uf_graph_build(cfg, NULL, 0, &d) : NULL;
    for (size_t i = 0; i < d.n; i++)
        print_error("%s\n", d.v[i].msg);
    uf_diags_free(&d);
    assert_non_null(*g);
    struct uf_stage *st = (*g)->pipelines[0].stages[1];
    struct uf_err err = { 0 };
    assert_int_equal(st->kind->start(st, st->ctx, &err), 0);
    st->started = true;
    return st;
}

/* Writes one event made from text (its %s is the movie id) as a body or as a raw text. */
static void put(struct uf_stage *st, const char *fmt, const char *movie, bool raw, int64_t at)
{
    char text[512];
    snprintf(text, sizeof text, fmt, movie);
    struct uf_event *ev;
    if (raw) {
        ev = uf_event_new_raw(NULL, 0, NULL);
        uf_event_set_raw(ev, strdup(text), strlen(text));
    } else {
        ev = uf_event_new(json_loads(text, 0, NULL));
        assert_non_null(ev->body);
    }
    uf_event_set_user(ev, USER);
    ev->received_us = at;
    ev->at = st;
    struct uf_err err = { 0 };
    assert_int_equal(st->kind->write(st, st->ctx, &ev, 1, &err), UF_OK);
}

/* The stored row of movie as text: position, duration, completed, updated_at. */
static char *row(PGconn *pg, const char *movie)
{
    char q[512];
    snprintf(q, sizeof q,
             "SELECT position_s || '|' || coalesce(duration_s::text, 'null') || '|' || completed"
             " || '|' || (extract(epoch FROM updated_at) * 1000000)::bigint FROM %s"
             " WHERE user_id = '%s' AND movie_id = '%s'",
             table, USER, movie);
    PGresult *res = sql(pg, q);
    assert_int_equal(PQntuples(res), 1);
    char *s = strdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    return s;
}

static void test_raw_rows_equal_body_rows(void **state)
{
    static const char *const events[] = {
        "{\"event\":\"progr\\u0065ss\",\"movie_id\":\"%s\",\"position_s\":10,"
        "\"duration_s\":600,\"ts\":\"2026-11-29T10:00:10Z\"}",
        " { \"event\" : \"pause\", \"movie_id\" : \"%s\", \"position_s\" : 40.5,"
        " \"duration_s\" : 6e2, \"ts\" : \"2026-11-29T11:00:40+01:00\", \"x\" : [{}] } ",
        "{\"event\":\"progress\",\"movie_id\":\"%s\",\"position_s\":5,"
        "\"ts\":\"2026-11-29T10:00:05Z\"}", /* older by event time: loses */
    };
    static const char *const complete =
        "{\"event\":\"complete\",\"movie_id\":\"%s\",\"duration_s\":5400}";
    const char *movies[2][2] = {
        { "0190a5c4-0000-7000-8000-0000000000b1", "0190a5c4-0000-7000-8000-0000000000b2" },
        { "0190a5c4-0000-7000-8000-0000000000c1", "0190a5c4-0000-7000-8000-0000000000c2" }
    };
    struct uf_graph *g;
    struct uf_stage *st = start_sink(&g);
    for (int raw = 0; raw < 2; raw++) {
        for (size_t i = 0; i < 3; i++)
            put(st, events[i], movies[raw][0], raw, T0 + (int64_t)i * 1000000);
        put(st, complete, movies[raw][1], raw, T0 + 5000000);
    }
    st->kind->stop(st, st->ctx); /* the last flush writes every pending row */
    st->started = false;
    uf_graph_free(g);

    PGconn *pg = PQconnectdb(dsn);
    assert_int_equal(PQstatus(pg), CONNECTION_OK);
    for (int k = 0; k < 2; k++) {
        char *tree = row(pg, movies[0][k]), *raw = row(pg, movies[1][k]);
        assert_string_equal(raw, tree);
        free(tree);
        free(raw);
    }
    char *paused = row(pg, movies[1][0]), *done = row(pg, movies[1][1]);
    char want[128];
    snprintf(want, sizeof want, "40.5|600|false|%lld", (long long)(T0 + 1000000));
    assert_string_equal(paused, want);
    snprintf(want, sizeof want, "5400|5400|true|%lld", (long long)(T0 + 5000000));
    assert_string_equal(done, want);
    free(paused);
    free(done);
    PQfinish(pg);
}

static int setup(void **state)
{
    dsn = getenv("UGCFLOW_PG_DSN");
    if (!dsn || !*dsn) {
        print_error("it_watch_progress: UGCFLOW_PG_DSN is not set\n");
        return -1;
    }
    snprintf(schema, sizeof schema, "it_wp_%ld", (long)getpid());
    snprintf(table, sizeof table, "%s.watch_progress", schema);
    return 0;
}

static int teardown(void **state)
{
    if (!dsn || !*dsn) /* the setup failed: nothing was made */
        return 0;
    PGconn *pg = PQconnectdb(dsn);
    char q[128];
    snprintf(q, sizeof q, "DROP SCHEMA IF EXISTS %s CASCADE", schema);
    PQclear(PQexec(pg, q));
    PQfinish(pg);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_raw_rows_equal_body_rows),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
