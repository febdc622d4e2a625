/* test_validate.c: the `validate` stage. A pipeline source -> validate -> sink is built from
 * YAML with the rule sets the UGC and stat pipelines use; events are pushed through process()
 * with a waiter completion; each rule's failure asserts status, message, field and index, and
 * passing events show defaults and coercions applied. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "event.h"
#include "graph.h"
#include "log.h"

static const char *rules =
    "        items: body\n"
    "        rules:\n"
    "          comment_create:\n"
    "            params.movie_id: {type: uuid, required: true, status: 400}\n"
    "            body.text: {type: string, required: true, min_length: 1, max_length: 5}\n"
    "          comment_vote:\n"
    "            body.value: {required: true, enum: [up, down]}\n"
    "          comments:\n"
    "            query.limit: {type: int, coerce: true, min: 1, max: 100, default: 20}\n"
    "            query.cursor: {type: string, max_bytes: 8}\n"
    "          events:\n"
    "            type: {type: string, required: true, max_length: 64, charset: '[a-z0-9._-]'}\n"
    "            props: {type: object, flat: true, max_keys: 2, max_value_bytes: 4}\n"
    "            ts: {type: rfc3339}\n"
    "            position_s: {type: number, min: 0}\n";

static struct uf_kind capture_kind;
static json_t *seen_body;

static int capture_write(struct uf_stage *st, void *ctx, struct uf_event **evs, size_t n,
                         struct uf_err *err)
{
    for (size_t i = 0; i < n; i++) {
        json_decref(seen_body);
        seen_body = json_deep_copy(evs[i]->body);
        uf_event_done(evs[i]);
    }
    return UF_OK;
}

static struct uf_graph *graph;
static struct uf_stage *stage;

static int setup(void **state)
{
    uf_log_level = UF_LOG_ERROR;
    char *y;
    assert_true(asprintf(&y,
                         "pipelines:\n  t:\n    components:\n"
                         "      src: {kind: generate, count: 1}\n"
                         "      check:\n        kind: validate\n        inputs: [src]\n%s"
                         "      out: {kind: null, inputs: [check]}\n",
                         rules) > 0);
    struct uf_diags d = { 0 };
    graph = uf_graph_build(uf_config_load_string("t.yaml", y, &d), NULL, 0, &d);
    free(y);
    if (d.n)
        uf_diags_print(&d, stderr);
    assert_non_null(graph);
    uf_diags_free(&d);
    struct uf_pipeline *pl = &graph->pipelines[0];
    for (size_t i = 0; i < pl->nstages; i++) {
        if (strcmp(pl->stages[i]->name, "check") == 0)
            stage = pl->stages[i];
        if (strcmp(pl->stages[i]->name, "out") == 0) {
            capture_kind = *pl->stages[i]->kind;
            capture_kind.write = capture_write;
            pl->stages[i]->kind = &capture_kind;
        }
    }
    return 0;
}

static int teardown(void **state)
{
    uf_graph_free(graph);
    json_decref(seen_body);
    return 0;
}

struct outcome {
    int status;
    char msg[256], field[64], code[32];
    long long index;
};

/* Sends body (JSON text) as an event of route; index >= 0 marks a split item. */
static struct outcome send(const char *route, const char *body, int index)
{
    struct uf_completion *c;
    struct uf_waiter *w = uf_waiter_new(&c);
    struct uf_event *ev = uf_event_new(json_loads(body, 0, NULL));
    uf_completion_attach(c, ev);
    uf_completion_release(c);
    json_object_set_new(uf_event_meta(ev), "route", json_string(route));
    if (index >= 0)
        json_object_set_new(uf_event_meta(ev), "index", json_integer(index));
    json_decref(seen_body);
    seen_body = NULL;
    ev->at = stage;
    stage->kind->process(stage, stage->ctx, ev);
    assert_int_equal(uf_waiter_wait(w, 1000), 0);
    struct outcome o = { .status = uf_waiter_status(w), .index = -1 };
    json_t *e = json_object_get(uf_waiter_body(w), "error");
    snprintf(o.msg, sizeof(o.msg), "%s", json_string_value(json_object_get(e, "message")) ?: "");
    snprintf(o.field, sizeof(o.field), "%s", json_string_value(json_object_get(e, "field")) ?: "");
    if (json_object_get(e, "index"))
        o.index = json_integer_value(json_object_get(e, "index"));
    snprintf(o.code, sizeof(o.code), "%s", json_string_value(json_object_get(e, "code")) ?: "");
    uf_waiter_free(w);
    return o;
}

static void expect(const char *route, const char *body, int status, const char *msg,
                   const char *field)
{
    struct outcome o = send(route, body, -1);
    if (o.status != status)
        fail_msg("%s %s: status %d (%s)", route, body, o.status, o.msg);
    assert_string_equal(o.msg, msg);
    assert_string_equal(o.field, field);
    assert_string_equal(o.code, status ? "invalid_field" : "");
}

#define MOVIE "\"params\":{\"movie_id\":\"0190a5c4-0000-7000-8000-0000000000aa\"}"

static void test_comment_rules(void **state)
{
    expect("comment_create", "{" MOVIE ",\"body\":{\"text\":\"hey\"}}", 0, "", "");
    expect("comment_create", "{" MOVIE ",\"body\":{}}", 422, "body.text: is required", "text");
    expect("comment_create", "{" MOVIE ",\"body\":{\"text\":\"\"}}", 422,
           "body.text: must be 1..5 characters", "text");
    /* five characters, ten bytes: lengths count UTF-8 characters */
    expect("comment_create", "{" MOVIE ",\"body\":{\"text\":\"\u00e9\u00e9\u00e9\u00e9\u00e9\"}}",
           0, "", "");
    expect("comment_create", "{" MOVIE ",\"body\":{\"text\":\"abcdef\"}}", 422,
           "body.text: must be 1..5 characters", "text");
    expect("comment_create", "{" MOVIE ",\"body\":{\"text\":7}}", 422,
           "body.text: must be a string", "text");
    expect("comment_create", "{\"params\":{\"movie_id\":\"42\"},\"body\":{\"text\":\"a\"}}", 400,
           "params.movie_id: must be a UUID", "movie_id");
    expect("comment_vote", "{\"body\":{\"value\":\"sideways\"}}", 422,
           "body.value: must be one of: up, down", "value");
    expect("comment_vote", "{\"body\":{\"value\":\"up\"}}", 0, "", "");
}

static void test_uuid_canonical(void **state)
{
    expect("comment_create", "{\"params\":{\"movie_id\":\"0190A0B2-7C3D-7E4F-8A9B-0C1D2E3F4A5B\"},"
                       "\"body\":{\"text\":\"fine\"}}", 0, "", "");
    assert_string_equal(json_string_value(json_object_get(json_object_get(seen_body, "params"),
                                                          "movie_id")),
                        "0190a0b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b");
}

static void test_query_coercion_and_default(void **state)
{
    expect("comments", "{\"query\":{}}", 0, "", "");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(seen_body, "query"),
                                                        "limit")),
                     20);
    expect("comments", "{\"query\":{\"limit\":\"7\"}}", 0, "", "");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(seen_body, "query"),
                                                        "limit")),
                     7);
    expect("comments", "{\"query\":{\"limit\":\"0\"}}", 422,
           "query.limit: must be between 1 and 100", "limit");
    expect("comments", "{\"query\":{\"limit\":\"ten\"}}", 422, "query.limit: must be an integer",
           "limit");
    /* Not silently accepted: leading blanks, or digits beyond a 64-bit integer. */
    expect("comments", "{\"query\":{\"limit\":\" 5\"}}", 422, "query.limit: must be an integer",
           "limit");
    expect("comments", "{\"query\":{\"limit\":\"99999999999999999999\"}}", 422,
           "query.limit: must be an integer", "limit");
    expect("comments", "{\"query\":{\"cursor\":\"123456789\"}}", 422,
           "query.cursor: must be at most 8 bytes", "cursor");
}

static void test_event_rules_name_the_item(void **state)
{
    struct outcome o = send("events", "{\"type\":\"Page View\"}", 3);
    assert_int_equal(o.status, 422);
    assert_string_equal(o.code, "invalid_field");
    assert_string_equal(o.msg, "item 3: type: must contain only [a-z0-9._-]");
    assert_string_equal(o.field, "type");
    assert_int_equal(o.index, 3);
    expect("events", "{\"type\":\"page.view\",\"props\":{\"a\":\"x\",\"b\":1}}", 0, "", "");
    expect("events", "{\"type\":\"a\",\"props\":{\"a\":{\"n\":1}}}", 422,
           "props.a: must be a string, number or boolean", "props.a");
    expect("events", "{\"type\":\"a\",\"props\":{\"a\":\"12345\"}}", 422,
           "props.a: must be at most 4 bytes", "props.a");
    expect("events", "{\"type\":\"a\",\"props\":{\"a\":1,\"b\":2,\"c\":3}}", 422,
           "props: must have at most 2 keys", "props");
    expect("events", "{\"type\":\"a\",\"ts\":\"2024-02-30T10:00:00Z\"}", 422,
           "ts: must be an RFC 3339 timestamp", "ts");
    expect("events", "{\"type\":\"a\",\"ts\":\"2024-02-29T10:00:00.123+03:00\"}", 0, "", "");
    expect("events", "{\"type\":\"a\",\"position_s\":-1}", 422, "position_s: must be at least 0",
           "position_s");
    expect("events", "{}", 422, "type: is required", "type");
}

/* With `items`, a batch envelope is checked item by item; the first invalid item rejects the
 * whole event, named by route and index. */
static void test_batch_items_checked_one_by_one(void **state)
{
    struct outcome o = send("events",
                            "{\"route\":\"events\",\"body\":[{\"type\":\"a\"},"
                            "{\"type\":\"b\",\"props\":{\"x\":[1]}},{\"type\":\"C\"}]}",
                            -1);
    assert_int_equal(o.status, 422);
    assert_string_equal(o.code, "invalid_field");
    assert_string_equal(o.msg, "events[1].props.x: must be a string, number or boolean");
    assert_string_equal(o.field, "props.x");
    assert_int_equal(o.index, 1);
    assert_null(seen_body);

    expect("events", "{\"body\":[{\"type\":\"a\"},{\"type\":\"b\"}]}", 0, "", "");
    assert_int_equal(json_array_size(json_object_get(seen_body, "body")), 2);
    o = send("events", "{\"body\":[{\"type\":\"a\"},7]}", -1);
    assert_int_equal(o.status, 400);
    assert_string_equal(o.code, "malformed_json");
    assert_string_equal(o.msg, "item 1 is not a JSON object");
    assert_int_equal(o.index, 1);
}

static void test_rule_errors(void **state)
{
    static const char *const bad[][2] = {
        { "{r: {body.text: {min_lenght: 1}}}",
          "rules: r: body.text: unknown check 'min_lenght' (did you mean 'min_length'?)" },
        { "{r: {body.text: {type: text}}}", "rules: r: body.text: type: expected one of" },
        { "{r: {body..x: string}}", "'body..x' is not a dotted field path" },
        { "{r: {x: {max_length: -1}}}", "rules: r: x: max_length: expected a whole number" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *y;
        assert_true(asprintf(&y,
                             "pipelines:\n  t:\n    components:\n"
                             "      src: {kind: generate, count: 1}\n"
                             "      check: {kind: validate, inputs: [src], rules: %s}\n"
                             "      out: {kind: null, inputs: [check]}\n",
                             bad[i][0]) > 0);
        struct uf_diags d = { 0 };
        assert_null(uf_graph_build(uf_config_load_string("t.yaml", y, &d), NULL, 0, &d));
        assert_true(d.n >= 1);
        if (!strstr(d.v[0].msg, bad[i][1]))
            fail_msg("'%s' not in '%s'", bad[i][1], d.v[0].msg);
        uf_diags_free(&d);
        free(y);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_comment_rules),
        cmocka_unit_test(test_query_coercion_and_default),
        cmocka_unit_test(test_uuid_canonical),
        cmocka_unit_test(test_event_rules_name_the_item),
        cmocka_unit_test(test_batch_items_checked_one_by_one),
        cmocka_unit_test(test_rule_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
