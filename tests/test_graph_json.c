/* tests/test_graph_json.c: the graph JSON behind /api/graph, `ugcflow graph --format json` and
 * the graph page, and its renderings (DOT, Mermaid, SVG through Graphviz): ids, kinds, roles,
 * positions, named ports and the edges that use them, options with their defaults, secrets
 * masked, the metrics snapshot only when asked for, and a clear error without Graphviz. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "framework/config.h"
#include "framework/export.h"
#include "framework/graph.h"

static const char yaml[] = "pipelines:\n"
                           "  ugc:\n"
                           "    components:\n"
                           "      gen: {kind: generate, rate: 10}\n"
                           "      tag: {kind: set, inputs: [gen], fields: {a: 1}}\n"
                           "      by_type:\n"
                           "        kind: route\n"
                           "        inputs: [tag]\n"
                           "        field: type\n"
                           "        routes: {views: [page_view]}\n"
                           "        default: rest\n"
                           "      store:\n"
                           "        kind: postgres\n"
                           "        inputs: [by_type.views]\n"
                           "        dsn: postgresql://ugc:hunter2@127.0.0.1:1/ugc\n"
                           "      drop: {kind: null, inputs: [by_type.rest]}\n"
                           "  other:\n"
                           "    components:\n"
                           "      g2: {kind: generate}\n"
                           "      n2: {kind: null, inputs: [g2]}\n";

static struct uf_graph *build(void)
{
    struct uf_diags d = { 0 };
    struct uf_config *cfg = uf_config_load_string("t.yaml", yaml, &d);
    assert_non_null(cfg);
    struct uf_graph *g = uf_graph_build(cfg, NULL, 0, &d);
    if (d.n)
        fail_msg("%s", d.v[0].msg);
    assert_non_null(g);
    return g;
}

static json_t *node(json_t *gj, size_t pipeline, const char *id)
{
    size_t i;
    json_t *n;
    json_array_foreach(
        json_object_get(json_array_get(json_object_get(gj, "pipelines"), pipeline), "nodes"), i, n)
    {
        if (strcmp(json_string_value(json_object_get(n, "id")), id) == 0)
            return n;
    }
    fail_msg("no node %s", id);
    return NULL;
}

static const char *str(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static void test_nodes_and_pipelines(void **state)
{
    struct uf_graph *g = build();
    json_t *gj = uf_graph_json(g, false);
    assert_string_equal(str(gj, "file"), "t.yaml");
    json_t *pipes = json_object_get(gj, "pipelines");
    assert_int_equal(json_array_size(pipes), 2);
    assert_string_equal(str(json_array_get(pipes, 0), "name"), "ugc");
    assert_int_equal(json_array_size(json_object_get(json_array_get(pipes, 0), "nodes")), 5);
    json_t *gen = node(gj, 0, "ugc/gen");
    assert_string_equal(str(gen, "name"), "gen");
    assert_string_equal(str(gen, "kind"), "generate");
    assert_string_equal(str(gen, "role"), "source");
    assert_string_equal(str(gen, "where"), "t.yaml:4:7");
    assert_string_equal(str(node(gj, 0, "ugc/tag"), "role"), "transform");
    assert_string_equal(str(node(gj, 0, "ugc/store"), "role"), "sink");
    json_t *ports = json_object_get(node(gj, 0, "ugc/by_type"), "ports");
    assert_int_equal(json_array_size(ports), 2);
    assert_string_equal(json_string_value(json_array_get(ports, 0)), "views");
    assert_string_equal(json_string_value(json_array_get(ports, 1)), "rest");
    assert_null(json_object_get(gen, "metrics"));
    assert_string_equal(str(node(gj, 1, "other/n2"), "kind"), "null");
    json_decref(gj);
    uf_graph_free(g);
}

static bool has_edge(json_t *gj, const char *from, const char *to, const char *port)
{
    size_t i;
    json_t *e;
    json_array_foreach(
        json_object_get(json_array_get(json_object_get(gj, "pipelines"), 0), "edges"), i, e)
    {
        if (strcmp(str(e, "from"), from) == 0 && strcmp(str(e, "to"), to) == 0 &&
            strcmp(str(e, "port"), port) == 0)
            return true;
    }
    return false;
}

static void test_edges_carry_ports(void **state)
{
    struct uf_graph *g = build();
    json_t *gj = uf_graph_json(g, false);
    assert_int_equal(json_array_size(json_object_get(
                         json_array_get(json_object_get(gj, "pipelines"), 0), "edges")),
                     4);
    assert_true(has_edge(gj, "ugc/gen", "ugc/tag", ""));
    assert_true(has_edge(gj, "ugc/tag", "ugc/by_type", ""));
    assert_true(has_edge(gj, "ugc/by_type", "ugc/store", "views"));
    assert_true(has_edge(gj, "ugc/by_type", "ugc/drop", "rest"));
    assert_false(has_edge(gj, "ugc/gen", "ugc/store", ""));
    json_decref(gj);
    uf_graph_free(g);
}

static void test_options_defaults_and_secrets(void **state)
{
    struct uf_graph *g = build();
    json_t *gj = uf_graph_json(g, false);
    json_t *opts = json_object_get(node(gj, 0, "ugc/gen"), "options");
    assert_float_equal(json_real_value(json_object_get(opts, "rate")), 10, 1e-9);
    assert_int_equal(json_integer_value(json_object_get(opts, "threads")), 1); /* a default */
    assert_string_equal(str(opts, "seq_field"), "seq");
    assert_string_equal(str(opts, "when_full"), "block"); /* a common option, as an enum name */
    json_t *fields = json_object_get(json_object_get(node(gj, 0, "ugc/tag"), "options"), "fields");
    assert_int_equal(json_integer_value(json_object_get(fields, "a")), 1);
    assert_string_equal(str(json_object_get(node(gj, 0, "ugc/store"), "options"), "dsn"), "***");
    char *text = json_dumps(gj, 0);
    assert_null(strstr(text, "hunter2"));
    free(text);
    json_decref(gj);
    uf_graph_free(g);
}

static void test_metrics_snapshot_on_request(void **state)
{
    struct uf_graph *g = build();
    uf_metrics_add(&g->pipelines[0].stages[0]->metrics.out, 7);
    json_t *gj = uf_graph_json(g, true);
    json_t *m = json_object_get(node(gj, 0, "ugc/gen"), "metrics");
    assert_non_null(m);
    assert_int_equal(json_integer_value(json_object_get(m, "out")), 7);
    assert_int_equal(json_integer_value(json_object_get(m, "errors")), 0);
    assert_non_null(json_object_get(m, "latency_p99_us"));
    assert_true(json_is_object(json_object_get(m, "extra")));
    json_decref(gj);
    uf_graph_free(g);
}

static void test_dot_and_mermaid(void **state)
{
    struct uf_graph *g = build();
    json_t *gj = uf_graph_json(g, false);
    char *dot = uf_export_dot(gj);
    assert_non_null(strstr(dot, "rankdir=LR"));
    assert_non_null(strstr(dot, "subgraph \"cluster_ugc\""));
    assert_non_null(strstr(dot, "\"ugc/by_type\" -> \"ugc/store\" [label=\"views\"];"));
    assert_non_null(strstr(dot, "\"ugc/gen\" [label=\"gen\\n(generate)\", shape=cds"));
    char *mm = uf_export_mermaid(gj);
    assert_non_null(strstr(mm, "flowchart LR"));
    assert_non_null(strstr(mm, "ugc_by_type -->|views| ugc_store"));
    assert_null(strstr(mm, "hunter2"));
    free(dot);
    free(mm);
    json_decref(gj);
    uf_graph_free(g);
}

/* Graphviz is installed by script/bootstrap; a missing `dot` fails here loudly. */
static void test_svg_through_graphviz(void **state)
{
    struct uf_graph *g = build();
    json_t *gj = uf_graph_json(g, false);
    struct uf_err err = { 0 };
    char *svg = uf_export_svg(gj, &err);
    if (!svg)
        fail_msg("%s", err.msg);
    assert_non_null(strstr(svg, "<svg"));
    assert_non_null(strstr(svg, "by_type"));
    assert_non_null(strstr(svg, "</svg>"));
    free(svg);
    json_decref(gj);
    uf_graph_free(g);
}

static void test_svg_without_graphviz_is_a_clear_error(void **state)
{
    struct uf_graph *g = build();
    json_t *gj = uf_graph_json(g, false);
    char *path = strdup(getenv("PATH") ? getenv("PATH") : "");
    setenv("PATH", "/nonexistent", 1);
    struct uf_err err = { 0 };
    char *svg = uf_export_svg(gj, &err);
    setenv("PATH", path, 1);
    free(path);
    assert_null(svg);
    assert_int_equal(err.code, UF_ENOTFOUND);
    assert_string_equal(err.msg, "graph svg: Graphviz's `dot` is not in PATH: install graphviz "
                                 "(script/bootstrap does) or use --format dot");
    json_decref(gj);
    uf_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nodes_and_pipelines),
        cmocka_unit_test(test_edges_carry_ports),
        cmocka_unit_test(test_options_defaults_and_secrets),
        cmocka_unit_test(test_metrics_snapshot_on_request),
        cmocka_unit_test(test_dot_and_mermaid),
        cmocka_unit_test(test_svg_through_graphviz),
        cmocka_unit_test(test_svg_without_graphviz_is_a_clear_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
