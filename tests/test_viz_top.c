/* tests/test_viz_top.c: the screen of `ugcflow top`, byte for byte from hand-made /api/graph
 * answers of two processes and an unreachable one: columns and units, sort orders (ties by
 * name), sink and kind notes (zero extras left out, counters as rates), trouble reasons first,
 * ANSI colour only when asked for; metrics under their labels (a port as a number); long kind
 * names widen the column instead of shifting the ones after it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "viz/top.h"

static const char ugc[] =
    "{\"pipelines\":[{\"name\":\"ugc\",\"nodes\":["
    "{\"id\":\"ugc/api\",\"kind\":\"http\",\"role\":\"source\",\"metrics\":{},"
    " \"rates\":{\"in\":0,\"out\":750,\"errors\":0,\"p99_us\":0,"
    "  \"extra\":{\"http_listen_port\":8081,\"http_requests_total{like}\":12}},\"trouble\":[]},"
    "{\"id\":\"ugc/store\",\"kind\":\"postgres\",\"role\":\"sink\","
    " \"metrics\":{\"queue_depth\":3600,\"queue_capacity\":4000},"
    " \"rates\":{\"in\":740,\"out\":700,\"errors\":2.5,\"p99_us\":12500,\"batch_avg\":48,"
    "  \"flush_avg_us\":3400,\"extra\":{}},"
    " \"trouble\":[\"errors rising: 25 in the last 10 s\",\"queue 90% full\"]}]}]}";
static const char etl[] =
    "{\"pipelines\":[{\"name\":\"etl\",\"nodes\":["
    "{\"id\":\"etl/kafka\",\"kind\":\"kafka\",\"role\":\"source\",\"metrics\":{},"
    " \"rates\":{\"in\":0,\"out\":12000,\"errors\":0,\"p99_us\":40,"
    "  "
    "\"extra\":{\"kafka_consumer_lag_messages{ugc.events/0}\":1500,\"kafka_stalled_partitions\":0,"
    "   \"odd_thing_total\":12}},\"trouble\":[]}]}]}";

static char *render(enum uf_top_sort sort, bool ansi)
{
    json_t *a = json_loads(ugc, 0, NULL), *b = json_loads(etl, 0, NULL);
    assert_non_null(a);
    assert_non_null(b);
    struct uf_top_source srcs[] = {
        { .address = "127.0.0.1:8691", .graph = a },
        { .address = "127.0.0.1:8694", .graph = b },
        { .address = "127.0.0.1:8699", .error = "Couldn't connect to server" },
    };
    char *s = uf_top_render(srcs, 3, sort, ansi);
    json_decref(a);
    json_decref(b);
    return s;
}

static void test_plain_screen_by_rate(void **state)
{
    char *s = render(UF_TOP_SORT_RATE, false);
    assert_string_equal(
        s, "ugcflow top: 2/3 processes up, 3 components, sorted by rate\n"
           "\n"
           "COMPONENT                      KIND             IN/s    OUT/s   ERR/s  QUEUE      P99  "
           "PROCESS               NOTES\n"
           "etl/kafka                      kafka               -      12k       0      -     40us  "
           "127.0.0.1:8694        consumer lag (ugc.events/0) 1.5k, odd thing 12/s\n"
           "ugc/api                        http                -      750       0      -        -  "
           "127.0.0.1:8691        port 8081, requests (like) 12/s\n"
           "ugc/store                      postgres          740      700     2.5    90%   12.5ms  "
           "127.0.0.1:8691        ! errors rising: 25 in the last 10 s; queue 90% full; batch 48 "
           "flush 3.4ms\n"
           "127.0.0.1:8699: unreachable (Couldn't connect to server)\n");
    assert_null(strchr(s, '\033'));
    free(s);
}

static const char *line_of(const char *s, const char *id)
{
    const char *p = strstr(s, id);
    assert_non_null(p);
    return p;
}

static void test_sort_by_errors_and_latency(void **state)
{
    char *s = render(UF_TOP_SORT_ERRORS, false);
    assert_non_null(strstr(s, "sorted by errors"));
    /* store has errors; the two without are ordered by name */
    assert_true(line_of(s, "ugc/store") < line_of(s, "etl/kafka"));
    assert_true(line_of(s, "etl/kafka") < line_of(s, "ugc/api "));
    free(s);
    s = render(UF_TOP_SORT_LATENCY, false);
    assert_true(line_of(s, "ugc/store") < line_of(s, "etl/kafka"));
    assert_true(line_of(s, "etl/kafka") < line_of(s, "ugc/api "));
    free(s);
}

static void test_ansi_marks_trouble_red(void **state)
{
    char *s = render(UF_TOP_SORT_RATE, true);
    assert_non_null(strstr(s, "[q]uit"));
    assert_non_null(strstr(s, "\033[1mCOMPONENT"));
    assert_non_null(strstr(s, "\033[31mugc/store"));
    assert_null(strstr(s, "\033[31mugc/api"));
    assert_non_null(strstr(s, "\033[31m127.0.0.1:8699: unreachable"));
    free(s);
}

static void test_long_kind_keeps_columns(void **state)
{
    json_t *g = json_loads(
        "{\"pipelines\":[{\"name\":\"stat\",\"nodes\":["
        "{\"id\":\"stat/detect\",\"kind\":\"view_detector\",\"role\":\"transform\","
        " \"rates\":{\"in\":5,\"out\":1}},"
        "{\"id\":\"stat/relay\",\"kind\":\"postgres_outbox\",\"role\":\"source\","
        " \"rates\":{\"out\":2}},"
        "{\"id\":\"stat/x\",\"kind\":\"set\",\"role\":\"transform\",\"rates\":{\"in\":3}}]}]}",
        0, NULL);
    struct uf_top_source src = { .address = "127.0.0.1:1", .graph = g };
    char *s = uf_top_render(&src, 1, UF_TOP_SORT_RATE, false);
    /* Every line's PROCESS column starts at the same offset as the header's. */
    const char *hdr = strstr(s, "COMPONENT");
    size_t col = (size_t)(strstr(hdr, "PROCESS") - hdr);
    for (const char *l = strchr(hdr, '\n') + 1; *l; l = strchr(l, '\n') + 1)
        assert_memory_equal(l + col, "127.0.0.1:1", 11);
    assert_non_null(strstr(s, "stat/relay                     postgres_outbox "));
    free(s);
    json_decref(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_screen_by_rate),
        cmocka_unit_test(test_sort_by_errors_and_latency),
        cmocka_unit_test(test_ansi_marks_trouble_red),
        cmocka_unit_test(test_long_kind_keeps_columns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
