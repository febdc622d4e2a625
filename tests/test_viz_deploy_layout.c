/* tests/test_viz_deploy_layout.c: the deployment laid out by Graphviz (installed by
 * script/bootstrap): both directions hold every component, topic and store with the page's
 * box sizes, no two boxes overlap, each process's group holds its components, every edge of
 * the model is routed, and the layout of one model is the same every time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "framework/config.h"
#include "viz/deploy.h"
#include "viz/deploy_layout.h"

static const char yaml[] =
    "pipelines:\n"
    "  api:\n"
    "    components:\n"
    "      in: {kind: generate, rate: 1}\n"
    "      by: {kind: route, inputs: [in], field: type, routes: {v: view}, default: other}\n"
    "      to_v: {kind: kafka, inputs: [by.v], brokers: b, topic: views}\n"
    "      to_o: {kind: kafka, inputs: [by.other], brokers: b, topic: events}\n"
    "      keep: {kind: watch_progress, inputs: [by.v], dsn: \"postgresql://db/u\"}\n"
    "  ugc:\n"
    "    components:\n"
    "      in: {kind: generate, rate: 1}\n"
    "      store: {kind: postgres, inputs: [in], dsn: \"postgresql://db/u\"}\n"
    "  relay:\n"
    "    components:\n"
    "      outbox: {kind: postgres_outbox, dsn: \"postgresql://db/u\"}\n"
    "      pub: {kind: kafka, inputs: [outbox], brokers: b, topic: events}\n"
    "  etl:\n"
    "    components:\n"
    "      c: {kind: kafka_source, brokers: b, topics: [events, views], group: g}\n"
    "      ch: {kind: clickhouse, inputs: [c], url: \"http://ch:8123\", table: e}\n";

static json_t *model(void)
{
    struct uf_diags d = { 0 };
    struct uf_config *cfg = uf_config_load_string("t.yaml", yaml, &d);
    assert_int_equal(d.n, 0);
    json_t *m = uf_deploy_model(cfg);
    uf_config_free(cfg);
    return m;
}

static double num(const json_t *o, const char *k)
{
    return json_number_value(json_object_get(o, k));
}

static bool overlap(const json_t *a, const json_t *b)
{
    return num(a, "x") < num(b, "x") + num(b, "w") && num(b, "x") < num(a, "x") + num(a, "w") &&
           num(a, "y") < num(b, "y") + num(b, "h") && num(b, "y") < num(a, "y") + num(a, "h");
}

static void check_direction(const json_t *m, const json_t *l)
{
    const json_t *nodes = json_object_get(l, "nodes"), *groups = json_object_get(l, "groups");
    assert_int_equal(json_object_size(nodes),
                     11 + 3 + 2); /* components, topics (dlq too), stores */
    const char *id, *id2;
    json_t *b, *b2;
    json_object_foreach((json_t *)nodes, id, b)
    {
        bool hub = strncmp(id, "topic:", 6) == 0 || strncmp(id, "store:", 6) == 0;
        assert_true(num(b, "w") > (hub ? UF_LAYOUT_HUB_W : UF_LAYOUT_NODE_W) - 1);
        assert_true(num(b, "x") >= 0 && num(b, "y") >= 0);
        assert_true(num(b, "x") + num(b, "w") <= num(l, "width") + 1);
        json_object_foreach((json_t *)nodes, id2, b2)
        {
            if (strcmp(id, id2) < 0 && overlap(b, b2))
                fail_msg("%s overlaps %s", id, id2);
        }
    }
    const json_t *etl = json_object_get(groups, "etl"), *c = json_object_get(nodes, "etl/c");
    assert_non_null(etl);
    assert_true(num(c, "x") >= num(etl, "x") && num(c, "y") >= num(etl, "y"));
    size_t inner = 0, i;
    json_t *p, *e;
    json_array_foreach(json_object_get(m, "processes"), i, p)
    {
        inner += json_array_size(json_object_get(p, "edges"));
    }
    assert_int_equal(json_array_size(json_object_get(l, "edges")),
                     inner + json_array_size(json_object_get(m, "edges")));
    json_array_foreach(json_object_get(l, "edges"), i, e)
    {
        assert_int_equal(json_array_size(json_object_get(e, "points")) % 3, 1);
    }
}

static void test_both_directions_hold_everything(void **state)
{
    json_t *m = model();
    struct uf_err err = { 0 };
    json_t *l = uf_deploy_layout(m, &err);
    assert_non_null(l);
    check_direction(m, json_object_get(l, "LR"));
    check_direction(m, json_object_get(l, "TB"));
    json_t *again = uf_deploy_layout(m, &err);
    assert_true(json_equal(l, again));
    json_decref(again);
    json_decref(l);
    json_decref(m);
}

static void test_dot_text(void **state)
{
    json_t *m = model();
    char *dot = uf_deploy_dot(m, "TB");
    assert_non_null(strstr(dot, "rankdir=TB;"));
    assert_non_null(strstr(dot, "subgraph \"cluster_etl\""));
    /* Writes into the store the outbox reads do not rank; reads do. */
    assert_non_null(
        strstr(dot, "\"ugc/store\" -> \"store:postgres:db:5432/u\" [constraint=false];"));
    assert_non_null(strstr(dot, "\"store:postgres:db:5432/u\" -> \"relay/outbox\";"));
    assert_non_null(strstr(dot, "\"etl/ch\" -> \"store:clickhouse:ch:8123/ugcflow\";"));
    free(dot);
    json_decref(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_both_directions_hold_everything),
        cmocka_unit_test(test_dot_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
