/* tests/test_viz_deploy_live.c: one poll of the deployment joined with hand-made /api/graph
 * answers: a topic's rate from its producers' acks and its lag per partition from its
 * consumer; the lag estimated from the producers' acks while the consumer is unreachable, the
 * process marked unreachable since the poll it stopped answering, in the banner; "lag
 * growing" only after a whole window of rising lag; a store's rows/s, errors and outbox depth. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "framework/config.h"
#include "viz/deploy.h"
#include "viz/deploy_live.h"

static const char yaml[] =
    "pipelines:\n"
    "  api:\n"
    "    components:\n"
    "      in: {kind: generate, rate: 1}\n"
    "      to: {kind: kafka, inputs: [in], brokers: b, topic: t}\n"
    "  ugc:\n"
    "    components:\n"
    "      in: {kind: generate, rate: 1}\n"
    "      store: {kind: postgres, inputs: [in], dsn: \"postgresql://db:5432/u\"}\n"
    "  etl:\n"
    "    components:\n"
    "      c: {kind: kafka_source, brokers: b, topics: [t], group: g}\n"
    "      ch: {kind: clickhouse, inputs: [c], url: \"http://ch:8123\", table: e}\n";

struct fixture {
    json_t *model;
    struct uf_deploy_live *live;
};

static int setup(void **state)
{
    struct uf_diags d = { 0 };
    struct uf_config *cfg = uf_config_load_string("t.yaml", yaml, &d);
    assert_int_equal(d.n, 0);
    struct fixture *f = calloc(1, sizeof *f);
    f->model = uf_deploy_model(cfg);
    f->live = uf_deploy_live_new(f->model);
    uf_config_free(cfg);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    uf_deploy_live_free(f->live);
    json_decref(f->model);
    free(f);
    return 0;
}

/* One process's /api/graph with one node. */
static json_t *graph(const char *pipeline, json_t *node)
{
    return json_pack("{s:[{s:s,s:[o]}]}", "pipelines", "name", pipeline, "nodes", node);
}

static json_t *producer(double acked_rate, double acked_total)
{
    return graph("api", json_pack("{s:s,s:s,s:{s:{s:f}},s:{s:{s:f}}}", "id", "api/to", "kind",
                                  "kafka", "rates", "extra", "kafka_acked_events_total", acked_rate,
                                  "metrics", "extra", "kafka_acked_events_total", acked_total));
}

static json_t *consumer(double lag0, double lag1)
{
    return graph("etl",
                 json_pack("{s:s,s:s,s:{s:f,s:{s:f,s:f}}}", "id", "etl/c", "kind", "kafka_source",
                           "rates", "out", 50.0, "extra", "kafka_consumer_lag_messages{t/0}", lag0,
                           "kafka_consumer_lag_messages{t/1}", lag1));
}

static json_t *writer(double out, double errors, double depth)
{
    return graph("ugc",
                 json_pack("{s:s,s:s,s:{s:f,s:f,s:{s:f}}}", "id", "ugc/store", "kind", "postgres",
                           "rates", "out", out, "errors", errors, "extra", "outbox_depth", depth));
}

/* A poll with graphs for api, ugc and etl (NULL: unreachable); returns the deployment. */
static json_t *poll(struct fixture *f, json_t *api, json_t *ugc, json_t *etl, int64_t now)
{
    const json_t *graphs[] = { api, ugc, etl };
    const char *why[] = { "", "", "Couldn't connect to server" };
    json_t *d = uf_deploy_live_update(f->live, graphs, why, now);
    json_decref(api);
    json_decref(ugc);
    json_decref(etl);
    return d;
}

static const json_t *first_topic(const json_t *d)
{
    return json_array_get(json_object_get(d, "topics"), 0);
}

static double num(const json_t *o, const char *key)
{
    return json_number_value(json_object_get(o, key));
}

static void test_topic_rate_and_lag(void **state)
{
    json_t *d = poll(*state, producer(100, 1000), writer(0, 0, 0), consumer(5, 7), 1000);
    const json_t *t = first_topic(d);
    assert_string_equal(json_string_value(json_object_get(t, "name")), "t");
    assert_true(num(t, "rate_in") == 100);
    assert_true(num(t, "lag") == 12);
    assert_false(json_is_true(json_object_get(t, "lag_estimated")));
    assert_true(num(json_object_get(t, "partitions"), "1") == 7);
    assert_int_equal(json_array_size(json_object_get(d, "trouble")), 0);
    json_decref(d);
}

static void test_lag_estimated_while_consumer_unreachable(void **state)
{
    json_decref(poll(*state, producer(100, 1000), writer(0, 0, 0), consumer(5, 7), 1000));
    json_t *d = poll(*state, producer(100, 1300), writer(0, 0, 0), NULL, 61000);
    const json_t *t = first_topic(d);
    assert_true(num(t, "lag") == 312); /* 12 known + 300 acknowledged since */
    assert_true(json_is_true(json_object_get(t, "lag_estimated")));
    assert_true(num(json_object_get(t, "partitions"), "0") == 5); /* remembered */
    const json_t *etl = json_array_get(json_object_get(d, "processes"), 2);
    assert_string_equal(json_string_value(json_object_get(etl, "status")), "unreachable");
    assert_true(num(etl, "since_ms") == 61000);
    const json_t *b = json_array_get(json_object_get(d, "trouble"), 0);
    assert_string_equal(json_string_value(json_object_get(b, "id")), "etl");
    assert_string_equal(json_string_value(json_object_get(b, "reason")),
                        "unreachable since 00:01:01 UTC (Couldn't connect to server)");
    json_decref(d);
    /* Still unreachable a poll later: the time it went away stays. */
    d = poll(*state, producer(100, 1400), writer(0, 0, 0), NULL, 62000);
    assert_true(num(json_array_get(json_object_get(d, "processes"), 2), "since_ms") == 61000);
    json_decref(d);
}

static void test_lag_growing_after_a_whole_window(void **state)
{
    json_t *d = NULL;
    for (int i = 0; i < UF_DEPLOY_WINDOW; i++) {
        json_decref(d);
        d = poll(*state, producer(10, 100), writer(0, 0, 0), consumer(10 + i * 5, 0), i * 1000);
        const json_t *why = json_object_get(first_topic(d), "trouble");
        assert_int_equal(json_array_size(why), i == UF_DEPLOY_WINDOW - 1 ? 1 : 0);
    }
    const json_t *why = json_object_get(first_topic(d), "trouble");
    assert_string_equal(json_string_value(json_array_get(why, 0)),
                        "lag growing: 55, up 45 in 10 s");
    const json_t *b = json_array_get(json_object_get(d, "trouble"), 0);
    assert_string_equal(json_string_value(json_object_get(b, "id")), "topic:t");
    json_decref(d);
}

static void test_store_rows_errors_and_outbox(void **state)
{
    json_t *d = poll(*state, producer(0, 0), writer(40, 2, 42), consumer(0, 0), 1000);
    const json_t *pg = json_array_get(json_object_get(d, "stores"), 0);
    assert_string_equal(json_string_value(json_object_get(pg, "label")), "PostgreSQL db:5432/u");
    assert_true(num(pg, "rows_per_s") == 40);
    assert_true(num(pg, "outbox_depth") == 42);
    assert_string_equal(json_string_value(json_array_get(json_object_get(pg, "trouble"), 0)),
                        "errors or retries: 2 in the last 10 s");
    const json_t *ch = json_array_get(json_object_get(d, "stores"), 1);
    assert_null(json_object_get(ch, "outbox_depth"));
    json_decref(d);
}

static void test_components_get_labels(void **state)
{
    json_t *d = poll(*state, producer(0, 0), writer(40, 0, 0), consumer(0, 0), 1000);
    const json_t *ugc = json_array_get(json_object_get(d, "processes"), 1);
    const json_t *store = json_array_get(json_object_get(ugc, "components"), 1);
    char *body = json_dumps(json_object_get(store, "body"), JSON_COMPACT);
    assert_string_equal(body, "[[\"in\",\"0/s\"],[\"out\",\"40/s\"],[\"errors\",\"0/s\"],"
                              "[\"p99\",\"-\"],[\"batch\",\"0\"],[\"flush\",\"-\"]]");
    free(body);
    char *more = json_dumps(json_object_get(store, "more"), JSON_COMPACT);
    assert_string_equal(more, "[[\"outbox depth\",\"0\"]]");
    free(more);
    json_decref(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_topic_rate_and_lag, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lag_estimated_while_consumer_unreachable, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_lag_growing_after_a_whole_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_rows_errors_and_outbox, setup, teardown),
        cmocka_unit_test_setup_teardown(test_components_get_labels, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
