/* it_postgres_ops.c: `postgres` components with operations of their own (not the UGC API's)
 * against the dev stack's PostgreSQL: SQL that PostgreSQL rejects fails the start naming the
 * operation and the place in the statement, and a unique or foreign-key violation answers 409
 * conflict. Each run uses its own schema, migrated from sql/ugc/migrations. Needs
 * UGCFLOW_PG_DSN and UGCFLOW_SOURCE_DIR (script/test sets both). */
#include <setjmp.h>
#include <stdarg.h>
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

static char schema[64];
static const char *dsn;

/* A graph `stdin -> st` whose postgres component has the operations given (YAML lines). */
static struct uf_graph *graph(const char *name, const char *ops)
{
    char *yaml = NULL;
    assert_true(asprintf(&yaml,
                         "pipelines:\n  t:\n    components:\n      in: {kind: stdin}\n"
                         "      st:\n        kind: postgres\n        inputs: [in]\n"
                         "        dsn: '%s'\n        schema: %s\n"
                         "        migrations: %s/sql/ugc/migrations\n        operations:\n%s",
                         dsn, schema, getenv("UGCFLOW_SOURCE_DIR"), ops) > 0);
    struct uf_diags diags = { 0 };
    struct uf_config *cfg = uf_config_load_string(name, yaml, &diags);
    free(yaml);
    struct uf_graph *g = cfg ? uf_graph_build(cfg, NULL, 0, &diags) : NULL;
    if (!g)
        uf_diags_print(&diags, stderr);
    uf_diags_free(&diags);
    assert_non_null(g);
    return g;
}

/* Sends one request (route and params JSON) to st and returns its status; code gets the
 * error code when there is one. */
static int request(struct uf_stage *st, const char *route, const char *params, char code[32])
{
    struct uf_completion *c;
    struct uf_waiter *w = uf_waiter_new(&c);
    json_t *body = json_pack("{s:s, s:o}", "route", route, "params", json_loads(params, 0, NULL));
    struct uf_event *ev = uf_event_new(body);
    uf_completion_attach(c, ev);
    uf_completion_release(c);
    uf_event_set_user(ev, USER);
    ev->at = st;
    struct uf_err err = { 0 };
    assert_int_equal(st->kind->write(st, st->ctx, &ev, 1, &err), UF_OK);
    assert_int_equal(uf_waiter_wait(w, 10000), 0);
    int status = uf_waiter_status(w);
    json_t *e = json_object_get(uf_waiter_body(w), "error");
    snprintf(code, 32, "%s", e ? json_string_value(json_object_get(e, "code")) : "");
    uf_waiter_free(w);
    return status;
}

static int setup(void **state)
{
    dsn = getenv("UGCFLOW_PG_DSN");
    if (!dsn || !getenv("UGCFLOW_SOURCE_DIR")) {
        fprintf(stderr, "UGCFLOW_PG_DSN and UGCFLOW_SOURCE_DIR must be set\n");
        return -1;
    }
    snprintf(schema, sizeof schema, "it_postgres_ops_%d", (int)getpid());
    return 0;
}

static int teardown(void **state)
{
    PGconn *pg = PQconnectdb(dsn);
    char *q = NULL;
    if (asprintf(&q, "DROP SCHEMA IF EXISTS %s CASCADE", schema) > 0)
        PQclear(PQexec(pg, q));
    free(q);
    PQfinish(pg);
    return 0;
}

/* SQL that PostgreSQL rejects stops the start, naming the operation and where in the
 * statement (file:line:column) the error is. */
static void test_bad_sql_fails_at_start(void **state)
{
    struct uf_graph *g = graph("bad.yaml", "          good: {sql: 'SELECT 1 AS reply'}\n"
                                           "          broken:\n            sql: |\n"
                                           "              SELECT :m::uuid AS reply\n"
                                           "              FROM no_such_table\n"
                                           "            params: {m: params.movie_id}\n");
    struct uf_stage *st = g->pipelines[0].stages[1];
    struct uf_err err = { 0 };
    assert_int_not_equal(st->kind->start(st, st->ctx, &err), 0);
    const char *want = "postgres 'st': operation 'broken' (bad.yaml:13:11): bad.yaml:14:18 "
                       "(line 2, column 6 of the statement): relation \"no_such_table\" does "
                       "not exist";
    if (!strstr(err.msg, want))
        fail_msg("expected '%s', got '%s'", want, err.msg);
    uf_graph_free(g);
}

/* A unique or foreign-key violation answers 409 conflict (pg_classify). */
static void test_constraint_violation_409(void **state)
{
    struct uf_graph *g =
        graph("strict.yaml",
              "          fav:\n            sql: \"INSERT INTO favorites (user_id, movie_id)"
              " VALUES (:u::uuid, :m::uuid) RETURNING '{}'::json AS reply\"\n"
              "            params: {u: user, m: params.movie_id}\n"
              "          vote:\n            sql: \"INSERT INTO comment_votes (comment_id, user_id,"
              " value) VALUES (:c::uuid, :u::uuid, 1) RETURNING 204 AS status\"\n"
              "            params: {u: user, c: params.comment_id}\n");
    struct uf_stage *st = g->pipelines[0].stages[1];
    struct uf_err err = { 0 };
    if (st->kind->start(st, st->ctx, &err) != 0)
        fail_msg("start: %s", err.msg);
    char code[32];
    const char *p = "{\"movie_id\":\"0190a5c4-0000-7000-8000-0000000000f9\"}";
    assert_int_equal(request(st, "fav", p, code), 200);
    assert_int_equal(request(st, "fav", p, code), 409);
    assert_string_equal(code, "conflict");
    assert_int_equal(
        request(st, "vote", "{\"comment_id\":\"0190a5c4-0000-7000-8000-0000000000f8\"}", code),
        409);
    assert_string_equal(code, "conflict");
    st->kind->stop(st, st->ctx);
    uf_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_constraint_violation_409),
        cmocka_unit_test(test_bad_sql_fails_at_start),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
