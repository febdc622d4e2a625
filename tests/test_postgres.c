/* test_postgres.c: unit tests of the `postgres` kind without a database: the `operations`
 * option's problems at their file:line:column, the route check of `ugcflow validate` (a route
 * with no operation, a parameter path no route provides), named parameters and positions in
 * statements, binding request events to parameters (paths, user, meta, constants, limits,
 * cursors, switches, the 4xx answers), rows to replies, and cursor encoding. The database side
 * (preparing at start) is in it_postgres.c and it_ugc.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "framework/config.h"
#include "framework/event.h"
#include "framework/graph.h"
#include "framework/registry.h"
#include "sinks/postgres/postgres_call.h"

#define USER "0190a5c4-0000-7000-8000-000000000001"
#define MOVIE "0190a5c4-0000-7000-8000-0000000000aa"
#define COMMENT "0190a5c4-0000-7000-8000-0000000000cc"

#define HEAD                                                                                       \
    "pipelines:\n  t:\n    components:\n      in: {kind: stdin}\n"                                 \
    "      store:\n        kind: postgres\n        inputs: [in]\n"                                 \
    "        dsn: 'host=127.0.0.1'\n        operations:\n"

static const char ops_yaml[] = HEAD
    "          like:\n"
    "            sql: \"SELECT 'x' AS reply, :user::uuid, :movie_id::uuid, :r::int\"\n"
    "            params: {user: user, movie_id: params.movie_id, r: '=1'}\n"
    "          drop:\n"
    "            sql: \"SELECT 1 AS s WHERE :roles::jsonb ? 'admin' -- :not_a_param\"\n"
    "            params: {roles: meta.roles}\n"
    "            status: 204\n"
    "            not_found: thing not found\n"
    "            errors: {403: {code: forbidden, message: not yours}, 409: taken}\n"
    "          list_new:\n"
    "            sql: \"SELECT :m::uuid, :after_at, :after_id, :limit\"\n"
    "            params: {m: params.movie_id}\n"
    "            list:\n"
    "              limit: {from: query.limit, default: 20, max: 100}\n"
    "              cursor: {from: query.cursor, tag: cn}\n"
    "              keys:\n"
    "                after_at: {type: time, first: infinity}\n"
    "                after_id: {type: uuid, first: ffffffff-ffff-ffff-ffff-ffffffffffff}\n"
    "          list_top:\n"
    "            sql: \"SELECT :after_score, :limit\"\n"
    "            list: {keys: {after_score: {type: int, first: '2147483647'}}}\n"
    "          list:\n"
    "            switch: {on: query.sort, cases: {new: list_new, top: list_top}, default: new}\n";

static struct uf_graph *g;
static struct uf_stage *store;
static struct uf_pg_ops ops;

/* Builds the graph of yaml; returns it, or NULL with the diagnostics printed into out. */
static struct uf_graph *build_graph(const char *yaml, char *out, size_t size)
{
    struct uf_diags d = { 0 };
    struct uf_config *cfg = uf_config_load_string("t.yaml", yaml, &d);
    struct uf_graph *gr = cfg ? uf_graph_build(cfg, NULL, 0, &d) : NULL;
    out[0] = '\0';
    for (size_t i = 0; i < d.n; i++)
        snprintf(out + strlen(out), size - strlen(out), "%s:%d:%d: %s\n", d.v[i].file,
                 d.v[i].pos.line, d.v[i].pos.col, d.v[i].msg);
    uf_diags_free(&d);
    return gr;
}

static int setup(void **state)
{
    char msgs[2048];
    g = build_graph(ops_yaml, msgs, sizeof msgs);
    if (!g) {
        fprintf(stderr, "%s", msgs);
        return -1;
    }
    for (size_t i = 0; i < g->pipelines[0].nstages; i++)
        if (strcmp(g->pipelines[0].stages[i]->name, "store") == 0)
            store = g->pipelines[0].stages[i];
    return uf_pg_ops_parse(store, uf_stage_option_node(store, "operations"), &ops);
}

static int teardown(void **state)
{
    uf_pg_ops_free(&ops);
    uf_graph_free(g);
    return 0;
}

/* Builds a call of a request; returns the 4xx status or 0. */
static int build(const char *json, const char *user, const char *roles, struct uf_pg_call *call,
                 struct uf_pg_reply *rep)
{
    struct uf_event *ev = uf_event_new(json_loads(json, 0, NULL));
    if (user)
        uf_event_set_user(ev, user);
    if (roles)
        json_object_set_new(uf_event_meta(ev), "roles", json_loads(roles, 0, NULL));
    int rc = uf_pg_call_build(&ops, ev, call, rep);
    uf_event_free(ev);
    return rc == 0 ? 0 : rep->status;
}

static void expect_problem(const char *ops_part, const char *want)
{
    char yaml[4096], msgs[4096];
    snprintf(yaml, sizeof yaml, "%s%s", HEAD, ops_part);
    struct uf_graph *gr = build_graph(yaml, msgs, sizeof msgs);
    uf_graph_free(gr);
    if (!strstr(msgs, want))
        fail_msg("expected '%s' in:\n%s", want, msgs);
}

static void test_declaration_problems_have_positions(void **state)
{
    expect_problem("          a: {sql: 'SELECT :x', params: {x: user, y: user}}\n",
                   "t.yaml:10:51: component 'store' (kind postgres): operation 'a': parameter "
                   "'y' is not used by the statement (:y)");
    expect_problem("          a: {sql: 'SELECT :x::int'}\n",
                   "t.yaml:10:20: component 'store' (kind postgres): operation 'a': the "
                   "statement uses :x, which params does not bind");
    expect_problem("          a: {sql: 'SELECT 1', reply: {}}\n",
                   "t.yaml:10:32: component 'store' (kind postgres): operation 'a': unknown "
                   "setting 'reply'");
    expect_problem("          a: {sql: 'SELECT 1', status: 99}\n",
                   "t.yaml:10:40: component 'store' (kind postgres): operation 'a': status: "
                   "expected an integer from 200 to 599");
    expect_problem("          a: {switch: {on: query.x, cases: {y: nowhere}}}\n",
                   "t.yaml:10:11: component 'store' (kind postgres): operation 'a': switch: case "
                   "'y' names 'nowhere', which is not a statement operation");
    expect_problem("          a: {sql_file: missing.sql}\n",
                   "t.yaml:10:25: component 'store' (kind postgres): operation 'a': sql_file: "
                   "cannot read ./missing.sql");
    expect_problem("          a: {sql: 'SELECT :k, :limit', list: {keys: {k: {type: date, "
                   "first: x}}}}\n",
                   "operation 'a': list key 'k': type 'date' is not one of text, int, uuid, time");
}

/* The migrations folder is read at init: a missing one, or a file of another name, fails
 * validate at the option. */
static void test_migrations_folder_checked(void **state)
{
    char msgs[2048];
    const char *yaml = "pipelines:\n  t:\n    components:\n      in: {kind: stdin}\n"
                       "      store: {kind: postgres, inputs: [in], dsn: x, migrations: nowhere}\n";
    uf_graph_free(build_graph(yaml, msgs, sizeof msgs));
    assert_non_null(strstr(msgs, "t.yaml:5:65: component 'store' (kind postgres): migrations: "
                                 "cannot open the folder ./nowhere"));
    char dir[] = "/tmp/test-postgres-mig-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128], y[512];
    snprintf(path, sizeof path, "%s/1-first.sql", dir);
    FILE *f = fopen(path, "w");
    fputs("SELECT 1", f);
    fclose(f);
    snprintf(y, sizeof y,
             "pipelines:\n  t:\n    components:\n      in: {kind: stdin}\n"
             "      store: {kind: postgres, inputs: [in], dsn: x, migrations: %s}\n",
             dir);
    uf_graph_free(build_graph(y, msgs, sizeof msgs));
    assert_non_null(strstr(msgs, "1-first.sql: migrations are named NNNN_name.sql"));
    remove(path);
    rmdir(dir);
}

#define HTTP_HEAD                                                                                  \
    "pipelines:\n  t:\n    components:\n"                                                          \
    "      api:\n        kind: http\n        address: 127.0.0.1:0\n        routes:\n"              \
    "          \"GET /m/{movie_id}\": {name: get}\n"                                               \
    "          \"GET /counts/{movie_id}\": {name: counts}\n"                                       \
    "      store:\n        kind: postgres\n        inputs: [api]\n"                                \
    "        dsn: 'host=127.0.0.1'\n        operations:\n"

static void expect_route_problem(const char *ops_part, const char *want)
{
    char yaml[4096], msgs[4096];
    snprintf(yaml, sizeof yaml, "%s%s", HTTP_HEAD, ops_part);
    struct uf_graph *gr = build_graph(yaml, msgs, sizeof msgs);
    uf_graph_free(gr);
    if (want && !strstr(msgs, want))
        fail_msg("expected '%s' in:\n%s", want, msgs);
    if (!want && msgs[0])
        fail_msg("expected no problem, got:\n%s", msgs);
}

/* What `ugcflow validate` checks across components: every route reaching the store has an
 * operation, and every path an operation reads is one its route provides. */
static void test_routes_checked_against_operations(void **state)
{
    expect_route_problem("          get: {sql: 'SELECT :m', params: {m: params.movie_id}}\n",
                         "t.yaml:9:11: route 'counts' of 'api' reaches 'store' (kind postgres), "
                         "which declares no operation 'counts'");
    expect_route_problem("          get: {sql: 'SELECT :m', params: {m: params.movie}}\n"
                         "          counts: {sql: 'SELECT :q', params: {q: query.x}}\n",
                         "t.yaml:15:47: component 'store': operation 'get' reads 'params.movie', "
                         "which no route 'get' provides (route 'get' of 'api' provides: route, "
                         "method, path, query.*, meta.*, params.movie_id, user)");
    expect_route_problem("          get: {sql: 'SELECT :t', params: {t: body.text}}\n"
                         "          counts: {sql: 'SELECT 1'}\n",
                         "operation 'get' reads 'body.text', which no route 'get' provides");
    expect_route_problem("          get: {switch: {on: query.s, cases: {a: one}, default: a}}\n"
                         "          one: {sql: 'SELECT :t', params: {t: params.nope}}\n"
                         "          counts: {sql: 'SELECT 1'}\n",
                         "operation 'get' reads 'params.nope'");
    expect_route_problem("          get: {sql: 'SELECT :m, :u', params: {m: params.movie_id, u: "
                         "user}}\n          counts: {sql: 'SELECT 1'}\n",
                         NULL);
}

static void test_sql_rewrite_and_positions(void **state)
{
    const struct uf_pg_op *op = uf_pg_ops_find(&ops, "like");
    assert_string_equal(op->sql, "SELECT 'x' AS reply, $1::uuid, $2::uuid, $3::int");
    op = uf_pg_ops_find(&ops, "drop");
    assert_string_equal(op->sql, "SELECT 1 AS s WHERE $1::jsonb ? 'admin' -- :not_a_param");
    char where[256];
    uf_pg_sql_where(op, 21, where, sizeof where); /* the "$1" */
    assert_string_equal(where, "t.yaml:14:18 (line 1, column 21 of the statement)");
    uf_pg_sql_where(op, 25, where, sizeof where); /* "jsonb", shifted by ":roles" vs "$1" */
    assert_string_equal(where, "t.yaml:14:18 (line 1, column 29 of the statement)");
}

static void test_binding(void **state)
{
    struct uf_pg_call call;
    struct uf_pg_reply rep;
    assert_int_equal(build("{\"route\":\"like\",\"params\":{\"movie_id\":\"" MOVIE "\"}}", USER,
                           NULL, &call, &rep),
                     0);
    assert_string_equal(call.op->stmt_name, "uf_like");
    assert_int_equal(call.nparams, 3);
    assert_string_equal(call.params[0], USER);
    assert_string_equal(call.params[1], MOVIE);
    assert_string_equal(call.params[2], "1");
    uf_pg_call_clear(&call);

    /* No user where one is bound: 401; a path missing: NULL; meta as JSON text. */
    assert_int_equal(build("{\"route\":\"like\"}", NULL, NULL, &call, &rep), 401);
    assert_string_equal(rep.code, "unauthorized");
    assert_int_equal(build("{\"route\":\"like\"}", USER, NULL, &call, &rep), 0);
    assert_null(call.params[1]);
    uf_pg_call_clear(&call);
    assert_int_equal(build("{\"route\":\"drop\"}", USER, "[\"admin\"]", &call, &rep), 0);
    assert_string_equal(call.params[0], "[\"admin\"]");
    uf_pg_call_clear(&call);

    assert_int_equal(build("{\"route\":\"fly\"}", USER, NULL, &call, &rep), 404);
    assert_string_equal(rep.msg, "no operation named 'fly'");
}

static void test_lists_and_switches(void **state)
{
    struct uf_pg_call call;
    struct uf_pg_reply rep;
    assert_int_equal(build("{\"route\":\"list\",\"params\":{\"movie_id\":\"" MOVIE "\"}}", NULL,
                           NULL, &call, &rep),
                     0);
    assert_string_equal(call.op->name, "list_new");
    /* Parameters are numbered as declared: m, then the list's limit and keys. */
    assert_string_equal(call.params[1], "21"); /* one more than asked, to know about a next page */
    assert_string_equal(call.params[2], "infinity");
    assert_string_equal(call.params[3], "ffffffff-ffff-ffff-ffff-ffffffffffff");
    uf_pg_call_clear(&call);

    assert_int_equal(build("{\"route\":\"list\",\"query\":{\"sort\":\"top\",\"limit\":\"5\"}}",
                           NULL, NULL, &call, &rep),
                     0);
    assert_string_equal(call.op->name, "list_top");
    assert_string_equal(call.params[0], "21"); /* list_top reads no limit: its default */
    assert_string_equal(call.params[1], "2147483647");
    uf_pg_call_clear(&call);

    assert_int_equal(
        build("{\"route\":\"list\",\"query\":{\"sort\":\"old\"}}", NULL, NULL, &call, &rep), 422);
    assert_string_equal(rep.msg, "sort: must be new or top");
    assert_int_equal(
        build("{\"route\":\"list\",\"query\":{\"limit\":\"101\"}}", NULL, NULL, &call, &rep), 422);
    assert_string_equal(rep.msg, "limit: must be an integer from 1 to 100");
    assert_int_equal(
        build("{\"route\":\"list\",\"query\":{\"cursor\":\"garbage\"}}", NULL, NULL, &call, &rep),
        422);
    assert_string_equal(rep.msg, "cursor: not a cursor of this list");
    /* A cursor of the right tag whose fields are not of their types is refused too. */
    const char *bad[2] = { "yesterday", MOVIE };
    char *c = uf_pg_cursor_encode("cn", bad, 2), req[512];
    snprintf(req, sizeof req, "{\"route\":\"list\",\"query\":{\"cursor\":\"%s\"}}", c);
    free(c);
    assert_int_equal(build(req, NULL, NULL, &call, &rep), 422);
}

static void answer(const struct uf_pg_call *call, const struct uf_pg_row *rows, size_t n,
                   struct uf_pg_reply *rep)
{
    uf_pg_call_answer(call, rows, n, rep);
}

static void test_replies(void **state)
{
    struct uf_pg_call call = { .op = uf_pg_ops_find(&ops, "like") };
    struct uf_pg_reply rep;
    const char *t = "{\"movie_id\" : \"m\", \"text\" : \"a  \\\" b\"}";
    struct uf_pg_row row = { .text = t, .len = strlen(t), .status = "201" };
    answer(&call, &row, 1, &rep);
    assert_int_equal(rep.status, 201);
    assert_string_equal(rep.body, "{\"movie_id\":\"m\",\"text\":\"a  \\\" b\"}");
    uf_pg_reply_clear(&rep);
    row.status = NULL;
    answer(&call, &row, 1, &rep);
    assert_int_equal(rep.status, 200);
    uf_pg_reply_clear(&rep);

    call.op = uf_pg_ops_find(&ops, "drop");
    struct uf_pg_row none = { 0 };
    answer(&call, &none, 1, &rep);
    assert_int_equal(rep.status, 204);
    assert_null(rep.body);
    answer(&call, NULL, 0, &rep);
    assert_int_equal(rep.status, 404);
    assert_string_equal(rep.code, "not_found");
    assert_string_equal(rep.msg, "thing not found");
    none.status = "403";
    answer(&call, &none, 1, &rep);
    assert_int_equal(rep.status, 403);
    assert_string_equal(rep.code, "forbidden");
    assert_string_equal(rep.msg, "not yours");
    none.status = "409";
    answer(&call, &none, 1, &rep);
    assert_string_equal(rep.code, "conflict");
    assert_string_equal(rep.msg, "taken");
}

static void test_list_reply_and_next_cursor(void **state)
{
    struct uf_pg_call call = { .op = uf_pg_ops_find(&ops, "list_new"), .limit = 2 };
    struct uf_pg_reply rep;
    struct uf_pg_row rows[3] = {
        { .text = "{\"id\" : 1}", .len = 10, .keys = { "2024-05-01T10:00:02Z", COMMENT } },
        { .text = "{\"id\" : 2}", .len = 10, .keys = { "2024-05-01T10:00:01Z", MOVIE } },
        { .text = "{\"id\" : 3}", .len = 10, .keys = { "2024-05-01T10:00:00Z", COMMENT } },
    };
    answer(&call, rows, 3, &rep);
    assert_int_equal(rep.status, 200);
    const char *f[2] = { "2024-05-01T10:00:01Z", MOVIE };
    char *c = uf_pg_cursor_encode("cn", f, 2), want[256];
    snprintf(want, sizeof want, "{\"items\":[{\"id\":1},{\"id\":2}],\"next_cursor\":\"%s\"}", c);
    assert_string_equal(rep.body, want);
    uf_pg_reply_clear(&rep);

    /* The next page starts after the last item shown. */
    char req[512];
    snprintf(req, sizeof req, "{\"route\":\"list\",\"query\":{\"cursor\":\"%s\"}}", c);
    free(c);
    assert_int_equal(build(req, NULL, NULL, &call, &rep), 0);
    assert_string_equal(call.params[2], "2024-05-01T10:00:01Z");
    assert_string_equal(call.params[3], MOVIE);
    uf_pg_call_clear(&call);

    call = (struct uf_pg_call){ .op = uf_pg_ops_find(&ops, "list_new"), .limit = 5 };
    answer(&call, rows, 3, &rep);
    assert_non_null(strstr(rep.body, "\"next_cursor\":null}"));
    uf_pg_reply_clear(&rep);
}

static void test_cursor_round_trip(void **state)
{
    const char *f[3] = { "-3", "2024-05-01T10:00:00.123456Z", COMMENT };
    char *c = uf_pg_cursor_encode("ct", f, 3);
    assert_null(strpbrk(c, "+/=|"));
    char buf[256];
    const char *out[3];
    assert_int_equal(uf_pg_cursor_decode(c, "ct", buf, sizeof buf, out, 3), 3);
    assert_string_equal(out[0], "-3");
    assert_string_equal(out[1], f[1]);
    assert_string_equal(out[2], COMMENT);
    /* A cursor of another list, or garbage, is refused. */
    assert_int_equal(uf_pg_cursor_decode(c, "cn", buf, sizeof buf, out, 3), -1);
    assert_int_equal(uf_pg_cursor_decode("!!!", "ct", buf, sizeof buf, out, 3), -1);
    assert_int_equal(uf_pg_cursor_decode(c, "ct", buf, 8, out, 3), -1);
    free(c);
}

static void test_kinds_registered(void **state)
{
    const struct uf_kind *k = uf_registry_find("postgres");
    assert_non_null(k);
    assert_false(k->emits); /* its analytics events go through the outbox table */
    assert_non_null(uf_option_find(k->options, "operations"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_declaration_problems_have_positions),
        cmocka_unit_test(test_migrations_folder_checked),
        cmocka_unit_test(test_routes_checked_against_operations),
        cmocka_unit_test(test_sql_rewrite_and_positions),
        cmocka_unit_test(test_binding),
        cmocka_unit_test(test_lists_and_switches),
        cmocka_unit_test(test_replies),
        cmocka_unit_test(test_list_reply_and_next_cursor),
        cmocka_unit_test(test_cursor_round_trip),
        cmocka_unit_test(test_kinds_registered),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
