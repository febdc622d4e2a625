/* tests/test_graph.c: graph building: fan-in and fan-out edges, named outputs, topological
 * order, common options, the graph JSON with masked secrets, and whether a source may emit raw
 * events (every stage downstream, recursively, takes them). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "framework/config.h"
#include "framework/graph.h"

static struct uf_graph *build(const char *yaml, const char *const *names, size_t n)
{
    struct uf_diags d = { 0 };
    struct uf_config *cfg = uf_config_load_string("g.yaml", yaml, &d);
    struct uf_graph *g = cfg ? uf_graph_build(cfg, names, n, &d) : NULL;
    if (d.n)
        uf_diags_print(&d, stderr);
    assert_int_equal(d.n, 0);
    uf_diags_free(&d);
    return g;
}

static const char yaml[] =
    "admin: {address: 127.0.0.1:9999}\n"
    "pipelines:\n"
    "  other:\n    components:\n      g: {kind: generate}\n      n: {kind: null, inputs: [g]}\n"
    "  p:\n    admin: 127.0.0.1:9100\n    components:\n"
    "      out: {kind: stdout, inputs: [a, b], workers: 3, buffer: 100}\n"
    "      a: {kind: set, inputs: [r.x], fields: {k: 1}}\n"
    "      b: {kind: set, inputs: [r.x, r.y], fields: {k: 2}}\n"
    "      r: {kind: route, inputs: [g1, g2], field: t, routes: {x: [1, 2], y: \"*\"}}\n"
    "      g1: {kind: generate}\n"
    "      g2: {kind: generate}\n";

static struct uf_stage *find(struct uf_pipeline *pl, const char *name)
{
    for (size_t i = 0; i < pl->nstages; i++)
        if (strcmp(pl->stages[i]->name, name) == 0)
            return pl->stages[i];
    return NULL;
}

static void test_edges_ports_and_order(void **state)
{
    const char *sel[] = { "p" };
    struct uf_graph *g = build(yaml, sel, 1);
    assert_int_equal(g->npipelines, 1);
    struct uf_pipeline *pl = &g->pipelines[0];
    assert_string_equal(pl->name, "p");
    assert_string_equal(pl->admin, "127.0.0.1:9100");
    assert_string_equal(g->admin_address, "127.0.0.1:9999");
    struct uf_stage *r = find(pl, "r"), *a = find(pl, "a"), *b = find(pl, "b"),
                    *out = find(pl, "out");
    assert_int_equal(r->nports, 3); /* default, x, y */
    assert_string_equal(r->ports[1].name, "x");
    assert_int_equal(r->ports[1].nto, 2); /* fan-out of r.x to a and b */
    assert_int_equal(r->ports[2].nto, 1);
    assert_int_equal(r->ninputs, 2); /* fan-in from g1 and g2 */
    assert_int_equal(out->ninputs, 2);
    assert_int_equal(b->ninputs, 2);
    /* Topological order: every stage after all of its inputs. */
    for (size_t i = 0; i < pl->nstages; i++)
        for (size_t k = 0; k < pl->stages[i]->ninputs; k++)
            assert_true(pl->stages[i]->inputs[k]->topo < pl->stages[i]->topo);
    assert_true(a->topo > r->topo);
    assert_int_equal(out->common.workers, 3);
    assert_int_equal(out->common.buffer, 100);
    assert_int_equal(a->common.buffer, 0); /* transforms default to synchronous */
    assert_int_equal(find(pl, "g1")->common.buffer, 0);
    uf_graph_free(g);
}

static void test_sink_default_buffer(void **state)
{
    struct uf_graph *g = build(yaml, NULL, 0);
    assert_int_equal(g->npipelines, 2);
    assert_int_equal(find(&g->pipelines[0], "n")->common.buffer, 4096);
    uf_graph_free(g);
}

static void test_graph_json(void **state)
{
    const char *sel[] = { "p" };
    struct uf_graph *g = build(yaml, sel, 1);
    json_t *j = uf_graph_json(g, true);
    json_t *p = json_array_get(json_object_get(j, "pipelines"), 0);
    assert_int_equal(json_array_size(json_object_get(p, "nodes")), 6);
    assert_int_equal(json_array_size(json_object_get(p, "edges")), 7);
    char *s = json_dumps(j, JSON_COMPACT);
    assert_non_null(strstr(s, "{\"from\":\"p/r\",\"to\":\"p/a\",\"port\":\"x\"}"));
    assert_non_null(
        strstr(s, "\"kind\":\"route\",\"role\":\"transform\",\"where\":\"g.yaml:13:7\""));
    assert_non_null(strstr(s, "\"workers\":3"));
    assert_non_null(strstr(s, "\"metrics\":{\"in\":0"));
    free(s);
    json_decref(j);
    uf_graph_free(g);
}

static const char raw_yaml[] =
    "pipelines:\n"
    "  p:\n    components:\n"
    "      src1: {kind: http, routes: {\"POST /a\": {}}}\n"
    "      r1: {kind: route, inputs: [src1], field: type, routes: {x: a}, default: d}\n"
    "      ch1: {kind: clickhouse, inputs: [r1.x, r1.d], url: 'http://127.0.0.1:1', table: t,\n"
    "            columns: ['type String']}\n"
    "      src2: {kind: http, routes: {\"POST /a\": {}}}\n"
    "      r2: {kind: route, inputs: [src2], field: type, routes: {x: a}, default: d}\n"
    "      ch2: {kind: clickhouse, inputs: [r2.x], url: 'http://127.0.0.1:1', table: t,\n"
    "            columns: ['type String']}\n"
    "      out2: {kind: stdout, inputs: [r2.d]}\n"
    "      src3: {kind: http, routes: {\"POST /a\": {}}}\n"
    "      r3: {kind: route, inputs: [src3], field: a.type, routes: {x: a}}\n"
    "      ch3: {kind: clickhouse, inputs: [r3.x], url: 'http://127.0.0.1:1', table: t,\n"
    "            columns: ['type String']}\n"
    "      src4: {kind: http, routes: {\"POST /a\": {}}}\n"
    "      auth4: {kind: jwt_auth, inputs: [src4], secret_env: UGCFLOW_TEST_UNSET}\n"
    "      split4: {kind: split, inputs: [auth4]}\n"
    "      ch4: {kind: clickhouse, inputs: [split4], url: 'http://127.0.0.1:1', table: t,\n"
    "            columns: ['type String']}\n"
    "      src5: {kind: http, routes: {\"POST /a\": {}}}\n"
    "      split5: {kind: split, inputs: [src5], items: body.items}\n"
    "      ch5: {kind: clickhouse, inputs: [split5], url: 'http://127.0.0.1:1', table: t,\n"
    "            columns: ['type String']}\n"
    "      src6: {kind: http, routes: {\"POST /a\": {}}}\n"
    "      check6: {kind: validate, inputs: [src6], items: body, rules: {a: {t: string}}}\n"
    "      r6: {kind: route, inputs: [check6], field: type, routes: {x: a}, default: d}\n"
    "      ch6: {kind: clickhouse, inputs: [r6.x, r6.d], url: 'http://127.0.0.1:1', table: t,\n"
    "            columns: ['type String']}\n";

/* An http batch is held as its text only when it is ended (split) before any kind reads its
 * fields by name, passing only kinds that pass a batch on (jwt_auth, validate with items: body)
 * on the way; every output of a kind that passes it on must end it. Nothing connected: no. */
static void test_batches_split_on_every_path(void **state)
{
    struct uf_graph *g = build(raw_yaml, NULL, 0);
    struct uf_pipeline *pl = &g->pipelines[0];
    assert_false(uf_stage_batches_split(find(pl, "src1"), 0)); /* route reads the batch */
    assert_false(uf_stage_batches_split(find(pl, "src2"), 0));
    assert_false(uf_stage_batches_split(find(pl, "src3"), 0));
    assert_true(uf_stage_batches_split(find(pl, "src4"), 0));  /* jwt_auth, then split */
    assert_false(uf_stage_batches_split(find(pl, "src5"), 0)); /* split of body.items */
    assert_false(uf_stage_batches_split(find(pl, "src6"), 0)); /* validate, then route */
    assert_false(uf_stage_batches_split(find(pl, "r1"), 0));   /* port 0: no consumer */
    uf_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_edges_ports_and_order),
        cmocka_unit_test(test_sink_default_buffer),
        cmocka_unit_test(test_graph_json),
        cmocka_unit_test(test_batches_split_on_every_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
