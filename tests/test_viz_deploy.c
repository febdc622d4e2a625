/* tests/test_viz_deploy.c: the deployment model from a config: topics joined between the sinks
 * that produce them and the sources that consume them (with groups, dead letters), PostgreSQL
 * and ClickHouse stores shared by their writers and readers and labelled without credentials,
 * http_forward edges to the process listening at the URL, inner edges with ports, and stop
 * ranks (producers before consumers). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "framework/config.h"
#include "viz/deploy.h"

static const char yaml[] =
    "admin: {address: 127.0.0.1:8600}\n"
    "pipelines:\n"
    "  api:\n"
    "    admin: 127.0.0.1:8601\n"
    "    components:\n"
    "      in: {kind: http, address: 127.0.0.1:9001, routes: {\"POST /e\": {name: e}}}\n"
    "      by: {kind: route, inputs: [in], field: type, routes: {v: view}, default: other}\n"
    "      to_v: {kind: kafka, inputs: [by.v], brokers: b:9092, topic: t.views}\n"
    "      to_o: {kind: kafka, inputs: [by.other], brokers: b:9092, topic: t.events}\n"
    "  ugc:\n"
    "    components:\n"
    "      in: {kind: http, address: 127.0.0.1:9002, routes: {\"POST /l\": {name: l}}}\n"
    "      store: {kind: postgres, inputs: [in], dsn: \"postgresql://u:secret@db:5433/ugc\"}\n"
    "      kv: {kind: watch_progress, inputs: [in], dsn: \"host=db port=5433 dbname=ugc "
    "password=pw\"}\n"
    "  relay:\n"
    "    components:\n"
    "      outbox: {kind: postgres_outbox, dsn: \"postgresql://u:secret@db:5433/ugc\"}\n"
    "      pub: {kind: kafka, inputs: [outbox], brokers: b:9092, topic: t.events}\n"
    "  etl:\n"
    "    components:\n"
    "      c: {kind: kafka_source, brokers: b:9092, topics: [t.events], group: g1}\n"
    "      ch: {kind: clickhouse, inputs: [c], url: \"http://ch:8123\", table: e}\n"
    "      fwd: {kind: http_forward, inputs: [c], url: \"http://127.0.0.1:9003/e\"}\n"
    "  recv:\n"
    "    components:\n"
    "      in: {kind: http, address: 127.0.0.1:9003, routes: {\"POST /e\": {name: e}}}\n"
    "      out: {kind: null, inputs: [in]}\n";

static json_t *model_of(const char *text)
{
    struct uf_diags d = { 0 };
    struct uf_config *cfg = uf_config_load_string("t.yaml", text, &d);
    assert_non_null(cfg);
    assert_int_equal(d.n, 0);
    json_t *m = uf_deploy_model(cfg);
    uf_config_free(cfg);
    uf_diags_free(&d);
    return m;
}

static char *dump(const json_t *j)
{
    return json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
}

static void assert_json(const json_t *j, const char *want)
{
    char *s = dump(j);
    assert_string_equal(s, want);
    free(s);
}

static void test_topics_join_producers_and_consumers(void **state)
{
    json_t *m = model_of(yaml);
    assert_json(json_object_get(m, "topics"),
                "[{\"id\":\"topic:t.views\",\"name\":\"t.views\",\"producers\":[\"api/to_v\"],"
                "\"consumers\":[],\"dead_letter\":false},"
                "{\"id\":\"topic:t.events\",\"name\":\"t.events\",\"producers\":[\"api/to_o\","
                "\"relay/pub\"],\"consumers\":[{\"component\":\"etl/c\",\"group\":\"g1\"}],"
                "\"dead_letter\":false},"
                "{\"id\":\"topic:ugc.dlq\",\"name\":\"ugc.dlq\",\"producers\":[\"etl/c\"],"
                "\"consumers\":[],\"dead_letter\":true}]");
    json_decref(m);
}

static void test_stores_shared_and_without_credentials(void **state)
{
    json_t *m = model_of(yaml);
    assert_json(json_object_get(m, "stores"),
                "[{\"id\":\"store:postgres:db:5433/ugc\",\"kind\":\"postgres\","
                "\"label\":\"PostgreSQL db:5433/ugc\",\"writers\":[\"ugc/store\",\"ugc/kv\"],"
                "\"readers\":[\"relay/outbox\"]},"
                "{\"id\":\"store:clickhouse:ch:8123/ugcflow\",\"kind\":\"clickhouse\","
                "\"label\":\"ClickHouse ch:8123/ugcflow\",\"writers\":[\"etl/ch\"],"
                "\"readers\":[]}]");
    char *s = dump(m);
    assert_null(strstr(s, "secret"));
    assert_null(strstr(s, "pw"));
    free(s);
    json_decref(m);
}

static void test_edges_between_processes(void **state)
{
    json_t *m = model_of(yaml);
    assert_json(
        json_object_get(m, "edges"),
        "[{\"from\":\"api/to_v\",\"to\":\"topic:t.views\",\"kind\":\"produce\"},"
        "{\"from\":\"api/to_o\",\"to\":\"topic:t.events\",\"kind\":\"produce\"},"
        "{\"from\":\"ugc/store\",\"to\":\"store:postgres:db:5433/ugc\",\"kind\":\"write\"},"
        "{\"from\":\"ugc/kv\",\"to\":\"store:postgres:db:5433/ugc\",\"kind\":\"write\"},"
        "{\"from\":\"store:postgres:db:5433/ugc\",\"to\":\"relay/outbox\",\"kind\":\"read\"},"
        "{\"from\":\"relay/pub\",\"to\":\"topic:t.events\",\"kind\":\"produce\"},"
        "{\"from\":\"topic:t.events\",\"to\":\"etl/c\",\"kind\":\"consume\"},"
        "{\"from\":\"etl/c\",\"to\":\"topic:ugc.dlq\",\"kind\":\"produce\"},"
        "{\"from\":\"etl/ch\",\"to\":\"store:clickhouse:ch:8123/ugcflow\",\"kind\":\"write\"},"
        "{\"from\":\"etl/fwd\",\"to\":\"recv/in\",\"kind\":\"forward\"}]");
    json_decref(m);
}

static void test_processes_with_inner_edges(void **state)
{
    json_t *m = model_of(yaml);
    json_t *api = json_array_get(json_object_get(m, "processes"), 0);
    assert_string_equal(json_string_value(json_object_get(api, "admin")), "127.0.0.1:8601");
    assert_json(json_array_get(json_object_get(api, "components"), 2),
                "{\"id\":\"api/to_v\",\"name\":\"to_v\",\"kind\":\"kafka\",\"role\":\"sink\"}");
    assert_json(json_object_get(api, "edges"),
                "[{\"from\":\"api/in\",\"to\":\"api/by\",\"port\":\"\"},"
                "{\"from\":\"api/by\",\"to\":\"api/to_v\",\"port\":\"v\"},"
                "{\"from\":\"api/by\",\"to\":\"api/to_o\",\"port\":\"other\"}]");
    json_t *ugc = json_array_get(json_object_get(m, "processes"), 1);
    assert_string_equal(json_string_value(json_object_get(ugc, "admin")), "127.0.0.1:8600");
    json_decref(m);
}

static void test_stop_ranks_producers_first(void **state)
{
    json_t *m = model_of(yaml);
    int ranks[5];
    uf_deploy_stop_ranks(m, ranks);
    /* api and ugc are fed by nothing; relay reads what ugc wrote; etl consumes the topic api
     * and relay produce; recv gets etl's forwards. */
    int want[] = { 0, 0, 1, 2, 3 };
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(ranks[i], want[i]);
    json_decref(m);
}

static void test_stop_ranks_cycle_ends(void **state)
{
    json_t *m = model_of("pipelines:\n"
                         "  a:\n"
                         "    components:\n"
                         "      c: {kind: kafka_source, brokers: b, topics: [x], group: g}\n"
                         "      p: {kind: kafka, inputs: [c], brokers: b, topic: y}\n"
                         "  b:\n"
                         "    components:\n"
                         "      c: {kind: kafka_source, brokers: b, topics: [y], group: g}\n"
                         "      p: {kind: kafka, inputs: [c], brokers: b, topic: x}\n");
    int ranks[2];
    uf_deploy_stop_ranks(m, ranks); /* returns: n rounds at most */
    assert_true(ranks[0] <= 1 && ranks[1] <= 1);
    json_decref(m);
}

static void test_process_of(void **state)
{
    char p[64];
    uf_deploy_process_of("etl-events/consume", p, sizeof p);
    assert_string_equal(p, "etl-events");
    uf_deploy_process_of("topic:a/b", p, sizeof p);
    assert_string_equal(p, "");
    uf_deploy_process_of("store:postgres:h:1/db", p, sizeof p);
    assert_string_equal(p, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topics_join_producers_and_consumers),
        cmocka_unit_test(test_stores_shared_and_without_credentials),
        cmocka_unit_test(test_edges_between_processes),
        cmocka_unit_test(test_processes_with_inner_edges),
        cmocka_unit_test(test_stop_ranks_producers_first),
        cmocka_unit_test(test_stop_ranks_cycle_ends),
        cmocka_unit_test(test_process_of),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
