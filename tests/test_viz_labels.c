/* tests/test_viz_labels.c: what a person reads about a component: kind metrics under the labels
 * of docs/metrics.md in their unit (a port as a plain number, bytes, milliseconds, counters as
 * rates, a label value in parentheses), a metric missing from the table in words rather than
 * its raw name, the fixed lines per role, and top's notes line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "viz/labels.h"

static void expect(const char *key, double v, const char *label, const char *value)
{
    char l[160], val[48];
    uf_label_metric(key, v, l, sizeof l, val, sizeof val);
    assert_string_equal(l, label);
    assert_string_equal(val, value);
}

static void test_metrics_by_label_and_unit(void **state)
{
    expect("http_listen_port", 8081, "port", "8081");
    expect("kafka_consumer_lag_messages{ugc.events/3}", 15200, "consumer lag (ugc.events/3)",
           "15k");
    expect("jwt_auth_requests_total{accepted}", 750, "tokens (accepted)", "750/s");
    expect("spool_bytes", 5830, "spool size", "5.7 KiB");
    expect("outbox_oldest_age_ms", 1500, "oldest in outbox", "1.50s");
    expect("pg_connections_up", 4, "connections up", "4");
    expect("some_new_thing_total", 3, "some new thing", "3.0/s");
}

static void test_fixed_lines_per_role(void **state)
{
    json_t *n =
        json_loads("{\"role\":\"source\",\"kind\":\"kafka_source\",\"metrics\":{},"
                   "\"rates\":{\"out\":1200,\"errors\":0,\"p99_us\":420,\"extra\":{"
                   "\"kafka_consumer_lag_messages{t/0}\":30,"
                   "\"kafka_consumer_lag_messages{t/1}\":12,\"kafka_stalled_partitions\":0}}}",
                   0, NULL);
    json_t *l = uf_labels_node(n);
    char *s = json_dumps(l, JSON_COMPACT);
    assert_string_equal(s,
                        "{\"body\":[[\"out\",\"1.2k/s\"],[\"errors\",\"0/s\"],[\"p99\",\"420us\"],"
                        "[\"lag\",\"42\"]],\"more\":[[\"consumer lag (t/0)\",\"30\"],"
                        "[\"consumer lag (t/1)\",\"12\"],[\"stalled partitions\",\"0\"]]}");
    free(s);
    json_decref(l);
    json_decref(n);
}

static void test_sink_lines_queue_and_zero_counters_left_out(void **state)
{
    json_t *n = json_loads("{\"role\":\"sink\",\"kind\":\"kafka\","
                           "\"metrics\":{\"queue_depth\":30,\"queue_capacity\":100},"
                           "\"rates\":{\"in\":10,\"out\":10,\"batch_avg\":4,\"flush_avg_us\":3400,"
                           "\"extra\":{\"kafka_acked_events_total\":0,\"spool_records\":0}}}",
                           0, NULL);
    json_t *l = uf_labels_node(n);
    char *s = json_dumps(l, JSON_COMPACT);
    assert_string_equal(s, "{\"body\":[[\"in\",\"10/s\"],[\"out\",\"10/s\"],[\"errors\",\"0/s\"],"
                           "[\"p99\",\"-\"],[\"queue\",\"30%\"],[\"batch\",\"4.0\"],"
                           "[\"flush\",\"3.4ms\"]],\"more\":[[\"messages spooled\",\"0\"]]}");
    free(s);
    char notes[160];
    uf_labels_notes(n, notes, sizeof notes);
    assert_string_equal(notes, "batch 4.0 flush 3.4ms");
    json_decref(l);
    json_decref(n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_by_label_and_unit),
        cmocka_unit_test(test_fixed_lines_per_role),
        cmocka_unit_test(test_sink_lines_queue_and_zero_counters_left_out),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
