/* tests/test_viz_history.c: the metrics history behind /api/history and the graph page's
 * rates and trouble marks: rates from counter deltas, the ring's wrap-around, interval p99,
 * kind extras (gauges as values, counters as rates), the trouble rules and the sampler thread.
 * Counters are set by hand on a built (not started) graph, and time is passed explicitly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "framework/config.h"
#include "framework/graph.h"
#include "viz/history.h"
#include "tests/support/graph_find.h"

static const char yaml[] = "pipelines:\n"
                           "  p:\n"
                           "    components:\n"
                           "      gen: {kind: generate, rate: 10}\n"
                           "      tag: {kind: set, inputs: [gen], fields: {a: 1}}\n"
                           "      out: {kind: null, inputs: [tag]}\n";

static struct uf_graph *build(void)
{
    struct uf_diags d = { 0 };
    struct uf_config *cfg = uf_config_load_string("t.yaml", yaml, &d);
    assert_non_null(cfg);
    struct uf_graph *g = uf_graph_build(cfg, NULL, 0, &d);
    assert_int_equal(d.n, 0);
    assert_non_null(g);
    return g;
}

static json_t *series(json_t *hist, const char *id, const char *col)
{
    json_t *c = json_object_get(json_object_get(hist, "components"), id);
    assert_non_null(c);
    json_t *s = json_object_get(c, col);
    if (!s)
        s = json_object_get(json_object_get(c, "extra"), col);
    assert_non_null(s);
    return s;
}

static double nth(json_t *hist, const char *id, const char *col, size_t i)
{
    return json_number_value(json_array_get(series(hist, id, col), i));
}

static void test_first_sample_is_a_baseline(void **state)
{
    struct uf_graph *g = build();
    struct uf_history *h = uf_history_new(g, 10);
    uf_metrics_add(&test_stage(g, "tag")->metrics.in, 1000);
    uf_history_sample(h, 1000000);
    json_t *j = uf_history_json(h, NULL);
    assert_int_equal(json_object_size(json_object_get(j, "components")), 3);
    assert_int_equal(json_array_size(series(j, "p/tag", "in")), 0);
    assert_int_equal(json_integer_value(json_object_get(j, "capacity")), 10);
    json_decref(j);
    uf_history_free(h);
    uf_graph_free(g);
}

static void test_rates_from_deltas(void **state)
{
    struct uf_graph *g = build();
    struct uf_history *h = uf_history_new(g, 10);
    struct uf_metrics *m = &test_stage(g, "tag")->metrics;
    uf_metrics_add(&m->in, 1000); /* before the baseline: never counted as a rate */
    uf_history_sample(h, 1000000);
    uf_metrics_add(&m->in, 500);
    uf_metrics_add(&m->out, 400);
    uf_metrics_add(&m->dropped, 100);
    uf_history_sample(h, 2000000);
    uf_metrics_add(&m->in, 100);
    uf_history_sample(h, 2500000); /* half a second: 100 events = 200/s */
    json_t *j = uf_history_json(h, "p/tag");
    assert_int_equal(json_object_size(json_object_get(j, "components")), 1);
    assert_int_equal(json_array_size(series(j, "p/tag", "t")), 2);
    assert_float_equal(nth(j, "p/tag", "in", 0), 500, 1e-9);
    assert_float_equal(nth(j, "p/tag", "out", 0), 400, 1e-9);
    assert_float_equal(nth(j, "p/tag", "dropped", 0), 100, 1e-9);
    assert_float_equal(nth(j, "p/tag", "in", 1), 200, 1e-9);
    assert_float_equal(nth(j, "p/tag", "out", 1), 0, 1e-9);
    json_decref(j);
    j = uf_history_json(h, "p/nope");
    assert_int_equal(json_object_size(json_object_get(j, "components")), 0);
    json_decref(j);
    uf_history_free(h);
    uf_graph_free(g);
}

static void test_ring_keeps_the_latest_oldest_first(void **state)
{
    struct uf_graph *g = build();
    struct uf_history *h = uf_history_new(g, 3);
    struct uf_metrics *m = &test_stage(g, "gen")->metrics;
    uf_history_sample(h, 0);
    for (int i = 1; i <= 5; i++) {
        uf_metrics_add(&m->out, (uint64_t)i * 10);
        uf_history_sample(h, i * 1000000);
    }
    json_t *j = uf_history_json(h, NULL);
    assert_int_equal(json_array_size(series(j, "p/gen", "out")), 3);
    assert_float_equal(nth(j, "p/gen", "out", 0), 30, 1e-9);
    assert_float_equal(nth(j, "p/gen", "out", 1), 40, 1e-9);
    assert_float_equal(nth(j, "p/gen", "out", 2), 50, 1e-9);
    json_decref(j);
    uf_history_free(h);
    uf_graph_free(g);
}

static void test_p99_and_batches_cover_only_the_interval(void **state)
{
    struct uf_graph *g = build();
    struct uf_history *h = uf_history_new(g, 10);
    struct uf_metrics *m = &test_stage(g, "out")->metrics;
    uf_history_sample(h, 0);
    for (int i = 0; i < 100; i++)
        uf_histo_observe(&m->latency_us, uf_histo_bounds_us, 20);
    uf_histo_observe(&m->batch_rows, uf_histo_bounds_n, 10);
    uf_histo_observe(&m->batch_rows, uf_histo_bounds_n, 30);
    uf_histo_observe(&m->flush_us, uf_histo_bounds_us, 800);
    uf_history_sample(h, 1000000);
    for (int i = 0; i < 100; i++)
        uf_histo_observe(&m->latency_us, uf_histo_bounds_us, 4000);
    uf_history_sample(h, 2000000);
    uf_history_sample(h, 3000000);
    json_t *j = uf_history_json(h, NULL);
    double p0 = nth(j, "p/out", "p99_us", 0), p1 = nth(j, "p/out", "p99_us", 1);
    assert_true(p0 > 10 && p0 <= 25);
    assert_true(p1 > 2500 && p1 <= 5000); /* the 20 us of the first interval do not dilute it */
    assert_float_equal(nth(j, "p/out", "p99_us", 2), 0, 1e-9);
    assert_float_equal(nth(j, "p/out", "batch_avg", 0), 20, 1e-9);
    assert_float_equal(nth(j, "p/out", "flush_avg_us", 0), 800, 1e-9);
    assert_float_equal(nth(j, "p/out", "batch_avg", 1), 0, 1e-9);
    json_decref(j);
    uf_history_free(h);
    uf_graph_free(g);
}

static void test_extras_gauges_and_counters(void **state)
{
    struct uf_graph *g = build();
    struct uf_history *h = uf_history_new(g, 10);
    struct uf_metrics *m = &test_stage(g, "out")->metrics;
    _Atomic int64_t *lag =
        uf_metrics_extra(m, UF_METRIC_GAUGE, "consumer_lag", NULL, "partition", "0");
    _Atomic int64_t *rows = uf_metrics_extra(m, UF_METRIC_COUNTER, "rows_total", NULL, NULL, NULL);
    atomic_store(lag, 42);
    atomic_store(rows, 1000000);
    uf_history_sample(h, 0);
    atomic_fetch_add(rows, 300);
    uf_history_sample(h, 1000000);
    atomic_store(lag, 7);
    atomic_fetch_add(rows, 50);
    uf_history_sample(h, 2000000);
    json_t *j = uf_history_json(h, NULL);
    assert_float_equal(nth(j, "p/out", "consumer_lag{0}", 0), 42, 1e-9);
    assert_float_equal(nth(j, "p/out", "consumer_lag{0}", 1), 7, 1e-9);
    assert_float_equal(nth(j, "p/out", "rows_total", 0), 300, 1e-9);
    assert_float_equal(nth(j, "p/out", "rows_total", 1), 50, 1e-9);
    json_decref(j);
    uf_history_free(h);
    uf_graph_free(g);
}

/* The trouble reasons of one node of an annotated graph, joined by "|". */
static void reasons(struct uf_graph *g, struct uf_history *h, const char *id, char *out, size_t n)
{
    json_t *gj = uf_graph_json(g, true);
    uf_history_annotate(h, gj);
    out[0] = '\0';
    size_t k, r;
    json_t *node, *why;
    json_array_foreach(
        json_object_get(json_array_get(json_object_get(gj, "pipelines"), 0), "nodes"), k, node)
    {
        if (strcmp(json_string_value(json_object_get(node, "id")), id) != 0)
            continue;
        assert_non_null(json_object_get(node, "rates"));
        json_array_foreach(json_object_get(node, "trouble"), r, why)
        {
            strncat(out, json_string_value(why), n - strlen(out) - 1);
            strncat(out, "|", n - strlen(out) - 1);
        }
    }
    json_decref(gj);
}

static void test_trouble_rules(void **state)
{
    struct uf_graph *g = build();
    struct uf_history *h = uf_history_new(g, 30);
    struct uf_metrics *m = &test_stage(g, "out")->metrics;
    char why[1024];
    uf_history_sample(h, 0);
    uf_history_sample(h, 1000000);
    reasons(g, h, "p/out", why, sizeof why);
    assert_string_equal(why, "");

    uf_metrics_add(&m->errors, 5);
    uf_metrics_add(&m->retries, 3);
    atomic_store(&m->queue_capacity, 100);
    atomic_store(&m->queue_depth, 90);
    atomic_store(uf_metrics_extra(m, UF_METRIC_GAUGE, "spool_bytes", NULL, NULL, NULL), 1234);
    uf_history_sample(h, 2000000);
    reasons(g, h, "p/out", why, sizeof why);
    assert_string_equal(why, "errors rising: 5 in the last 10 s|queue 90% full|"
                             "retrying: 3 retries in the last 10 s|"
                             "spool not empty: spool_bytes = 1234|");
    reasons(g, h, "p/tag", why, sizeof why);
    assert_string_equal(why, "");

    /* Ten quiet seconds later, with the queue drained and the spool empty, all is well. */
    atomic_store(&m->queue_depth, 79);
    atomic_store(uf_metrics_extra(m, UF_METRIC_GAUGE, "spool_bytes", NULL, NULL, NULL), 0);
    for (int i = 3; i < 13; i++)
        uf_history_sample(h, i * 1000000);
    reasons(g, h, "p/out", why, sizeof why);
    assert_string_equal(why, "");
    uf_history_free(h);
    uf_graph_free(g);
}

static void test_sampler_thread_samples_and_stops(void **state)
{
    struct uf_graph *g = build();
    struct uf_history *h = uf_history_new(g, 10);
    assert_int_equal(uf_history_start(h, 10, NULL), 0);
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    size_t n = 0;
    do {
        json_t *j = uf_history_json(h, "p/gen");
        n = json_array_size(series(j, "p/gen", "t"));
        assert_int_equal(json_integer_value(json_object_get(j, "interval_ms")), 10);
        json_decref(j);
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while (n < 3 && now.tv_sec - t0.tv_sec < 5);
    assert_true(n >= 3);
    uf_history_free(h); /* joins the thread without waiting out an interval */
    uf_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_sample_is_a_baseline),
        cmocka_unit_test(test_rates_from_deltas),
        cmocka_unit_test(test_ring_keeps_the_latest_oldest_first),
        cmocka_unit_test(test_p99_and_batches_cover_only_the_interval),
        cmocka_unit_test(test_extras_gauges_and_counters),
        cmocka_unit_test(test_trouble_rules),
        cmocka_unit_test(test_sampler_thread_samples_and_stops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
