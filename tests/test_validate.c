/* test_validate.c: the `validate` stage. A pipeline source -> validate -> sink is built from
 * YAML with the rule sets the UGC and stat pipelines use; events are pushed through process()
 * with a waiter completion; each rule's failure asserts status, message, field and index, and
 * passing events show defaults and coercions applied. Raw events: a table of items is sent both
 * as the http source builds a batch request's tree (an envelope whose body is the array) and as
 * the raw event it sends instead (the text alone), and both must end alike (emitted, or failed
 * with the expected status, code, message, field and index); which rules allow a text;
 * malformed and truncated texts fail cleanly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "framework/config.h"
#include "framework/event.h"
#include "framework/event_int.h"
#include "framework/graph.h"
#include "framework/log.h"

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
    "            type: {type: string, required: true, max_length: 64, charset: '[a-z0-9._-]',\n"
    "                   not_prefix: [ugc., sys.]}\n"
    "            props: {type: object, flat: true, max_keys: 2, max_value_bytes: 4}\n"
    "            ts: {type: rfc3339}\n"
    "            position_s: {type: number, min: 0}\n";

static struct uf_kind capture_kind;
static json_t *seen_body;
static char *seen_raw;          /* the text of a raw event that reached the sink */
static const char *seen_raw_at; /* where it was: the sent text itself when it went on borrowed */

static void forget_seen(void)
{
    json_decref(seen_body);
    seen_body = NULL;
    free(seen_raw);
    seen_raw = NULL;
    seen_raw_at = NULL;
}

static int capture_write(struct uf_stage *st, void *ctx, struct uf_event **evs, size_t n,
                         struct uf_err *err)
{
    for (size_t i = 0; i < n; i++) {
        forget_seen();
        if (evs[i]->raw) {
            seen_raw = strndup(evs[i]->raw, evs[i]->raw_len);
            seen_raw_at = evs[i]->raw;
        } else
            seen_body = json_deep_copy(evs[i]->body);
        uf_event_done(evs[i]);
    }
    return UF_OK;
}

/* Builds source -> validate (with the options in yaml) -> capturing sink; returns the
 * validate stage, or NULL when the graph does not build (diagnostics in *d). */
static struct uf_stage *build(const char *opts, struct uf_graph **g, struct uf_diags *d)
{
    char *y;
    assert_true(asprintf(&y,
                         "pipelines:\n  t:\n    components:\n"
                         "      src: {kind: generate, count: 1}\n"
                         "      check:\n        kind: validate\n        inputs: [src]\n%s"
                         "      out: {kind: null, inputs: [check]}\n",
                         opts) > 0);
    *g = uf_graph_build(uf_config_load_string("t.yaml", y, d), NULL, 0, d);
    free(y);
    if (!*g)
        return NULL;
    struct uf_stage *check = NULL;
    struct uf_pipeline *pl = &(*g)->pipelines[0];
    for (size_t i = 0; i < pl->nstages; i++) {
        if (strcmp(pl->stages[i]->name, "check") == 0)
            check = pl->stages[i];
        if (strcmp(pl->stages[i]->name, "out") == 0) {
            capture_kind = *pl->stages[i]->kind;
            capture_kind.write = capture_write;
            pl->stages[i]->kind = &capture_kind;
        }
    }
    return check;
}

static struct uf_graph *graph;
static struct uf_stage *stage;

static int setup(void **state)
{
    uf_log_level = UF_LOG_ERROR;
    struct uf_diags d = { 0 };
    stage = build(rules, &graph, &d);
    if (d.n)
        uf_diags_print(&d, stderr);
    assert_non_null(stage);
    uf_diags_free(&d);
    return 0;
}

static int teardown(void **state)
{
    uf_graph_free(graph);
    forget_seen();
    return 0;
}

struct outcome {
    int status;
    char msg[256], field[64], code[32];
    long long index;
    bool emitted;
};

/* Runs ev (route in meta.route, and the item's index when index >= 0) through the validate stage st
 * and waits for its completion. */
static struct outcome run(struct uf_stage *st, struct uf_event *ev, const char *route, int index)
{
    struct uf_completion *c;
    struct uf_waiter *w = uf_waiter_new(&c);
    uf_completion_attach(c, ev);
    uf_completion_release(c);
    json_object_set_new(uf_event_meta(ev), "route", json_string(route));
    if (index >= 0)
        uf_event_set_item(ev, ev->meta, (size_t)index, (size_t)index + 1);
    forget_seen();
    ev->at = st;
    st->kind->process(st, st->ctx, ev);
    assert_int_equal(uf_waiter_wait(w, 1000), 0);
    struct outcome o = { .status = uf_waiter_status(w), .index = -1 };
    json_t *e = json_object_get(uf_waiter_body(w), "error");
    snprintf(o.msg, sizeof(o.msg), "%s", json_string_value(json_object_get(e, "message")) ?: "");
    snprintf(o.field, sizeof(o.field), "%s", json_string_value(json_object_get(e, "field")) ?: "");
    if (json_object_get(e, "index"))
        o.index = json_integer_value(json_object_get(e, "index"));
    snprintf(o.code, sizeof(o.code), "%s", json_string_value(json_object_get(e, "code")) ?: "");
    o.emitted = seen_body || seen_raw;
    uf_waiter_free(w);
    return o;
}

/* Sends body (JSON text) as an event of route; index >= 0 marks a split item. */
static struct outcome send(const char *route, const char *body, int index)
{
    return run(stage, uf_event_new(json_loads(body, 0, NULL)), route, index);
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
    expect("comment_create",
           "{\"params\":{\"movie_id\":\"0190A0B2-7C3D-7E4F-8A9B-0C1D2E3F4A5B\"},"
           "\"body\":{\"text\":\"fine\"}}",
           0, "", "");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(seen_body, "params"), "movie_id")),
        "0190a0b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b");
}

static void test_query_coercion_and_default(void **state)
{
    expect("comments", "{\"query\":{}}", 0, "", "");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(seen_body, "query"), "limit")), 20);
    expect("comments", "{\"query\":{\"limit\":\"7\"}}", 0, "", "");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(seen_body, "query"), "limit")), 7);
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
    expect("events", "{\"type\":\"sys.x\"}", 422, "type: must not start with 'sys.'", "type");
    expect("events", "{\"type\":\"ugc.like\"}", 422, "type: must not start with 'ugc.'", "type");
    expect("events", "{\"type\":\"ugc\"}", 0, "", "");
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
        { "{r: {x: {not_prefix: []}}}",
          "rules: r: x: not_prefix: expected a prefix or a list of prefixes" },
        { "{r: {x: {not_prefix: [a, '']}}}",
          "rules: r: x: not_prefix: expected a prefix or a list of prefixes" },
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

/* ---- raw events: the same outcomes from the text alone ---- */

/* Whether validate takes batches held as text: only with rules a text allows. */
static bool on_text(const struct uf_stage *st)
{
    return st->kind->batch(st->ctx) == UF_BATCH_PASS;
}

/* Rules a text allows: one-name paths of items, no default or coerce. */
static const char *raw_rules =
    "        items: body\n"
    "        rules:\n"
    "          events:\n"
    "            type: {type: string, required: true, min_length: 1, max_length: 8, "
    "charset: '[a-z0-9._-]', not_prefix: ugc.}\n"
    "            props: {type: object, flat: true, max_keys: 3, max_value_bytes: 4}\n"
    "            ts: {type: rfc3339}\n"
    "            movie_id: {type: uuid, status: 400}\n"
    "            n: {type: int, min: 1, max: 10}\n"
    "            x: {type: number, max: 2.5}\n"
    "            ok: {type: bool}\n"
    "            tags: {type: array, min_length: 1, max_length: 2}\n"
    "            pick: {enum: [a, b, 1, true]}\n"
    "            blob: {type: string, max_bytes: 4}\n"
    "            name: {type: string, max_length: 3}\n"
    "            meta: {type: object}\n";

static const char *type_rules =
    "        items: body\n"
    "        match: type\n"
    "        unmatched: reject\n"
    "        rules:\n"
    "          click: {x: {type: int, required: true}}\n"
    "          view: {url: {type: string, required: true, max_length: 8}}\n";

struct rcase {
    const char *route;
    const char *items; /* the request body: one object or an array of objects */
    int status;        /* 0: the event goes on */
    const char *code, *msg, *field;
    long long index;
};

/* The event the http source builds on a batch route without raw: an envelope whose body is
 * the array of items (a single object becomes an array of one). */
static struct uf_event *tree_event(const char *route, const char *items)
{
    json_error_t jerr;
    json_t *body = json_loads(items, JSON_REJECT_DUPLICATES, &jerr);
    if (!body)
        fail_msg("%s: %s", items, jerr.text);
    if (json_is_object(body))
        body = json_pack("[o]", body);
    return uf_event_new(json_pack("{s:s,s:s,s:s,s:{},s:{},s:o}", "route", route, "method", "POST",
                                  "path", "/api/v1/x", "params", "query", "body", body));
}

static void assert_outcome(const char *how, const struct rcase *c, const struct outcome *o)
{
    if (o->status != c->status || strcmp(o->code, c->code) || strcmp(o->msg, c->msg) ||
        strcmp(o->field, c->field) || o->index != c->index || o->emitted != (c->status == 0))
        fail_msg("%s %s: got %d %s '%s' field '%s' index %lld%s; want %d %s '%s' '%s' %lld", how,
                 c->items, o->status, o->code, o->msg, o->field, o->index,
                 o->emitted ? " emitted" : "", c->status, c->code, c->msg, c->field, c->index);
}

/* Each case through the tree path and the raw path, scanned strictly and (as the http source
 * marks the texts it checked, and every case is one jansson took) trusted: all three must give
 * the expected outcome. */
static void run_cases(struct uf_stage *st, const struct rcase *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct rcase *c = &cases[i];
        struct outcome t = run(st, tree_event(c->route, c->items), c->route, -1);
        assert_outcome("tree", c, &t);
        struct outcome r =
            run(st, uf_event_new_raw(c->items, strlen(c->items), NULL), c->route, -1);
        assert_outcome("raw", c, &r);
        struct uf_event *ev = uf_event_new_raw(c->items, strlen(c->items), NULL);
        ev->raw_checked = true;
        r = run(st, ev, c->route, -1);
        assert_outcome("raw checked", c, &r);
    }
}

#define OK(items)                                                                                  \
    {                                                                                              \
        "events", items, 0, "", "", "", -1                                                         \
    }
#define BAD(items, msg, field)                                                                     \
    {                                                                                              \
        "events", items, 422, "invalid_field", msg, field, 0                                       \
    }
#define UUID_LC "0190a0b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b"
#define UUID_UC "0190A0B2-7C3D-7E4F-8A9B-0C1D2E3F4A5B"

static const struct rcase scalar_cases[] = {
    OK("[{\"type\":\"a\"},{\"type\":\"b\"}]"),
    OK("{\"type\":\"a\"}"),
    OK(" [ {\"type\" : \"a\"} ] "),
    OK("[]"),
    BAD("{}", "events[0].type: is required", "type"),
    BAD("{\"type\":null}", "events[0].type: is required", "type"),
    BAD("{\"type\":7}", "events[0].type: must be a string", "type"),
    BAD("{\"type\":\"\"}", "events[0].type: must be 1..8 characters", "type"),
    BAD("{\"type\":\"abcdefghi\"}", "events[0].type: must be 1..8 characters", "type"),
    BAD("{\"type\":\"Page\"}", "events[0].type: must contain only [a-z0-9._-]", "type"),
    BAD("{\"type\":\"\\u00e9\"}", "events[0].type: must contain only [a-z0-9._-]", "type"),
    BAD("{\"t\\u0079pe\":\"P\"}", "events[0].type: must contain only [a-z0-9._-]", "type"),
    OK("{\"type\":\"pa\\u0067e\"}"),
    /* eight characters, 48 bytes of text */
    OK("{\"type\":\"\\u0061\\u0062\\u0063\\u0064\\u0065\\u0066\\u0067\\u0068\"}"),
    BAD("{\"type\":\"P\\u0061ge\"}", "events[0].type: must contain only [a-z0-9._-]", "type"),
    OK("{\"type\":\"a\",\"name\":\"\\u00e9\\u00e9\\u00e9\"}"),
    OK("{\"type\":\"a\",\"name\":\"\xc3\xa9\xc3\xa9\xc3\xa9\"}"),
    BAD("{\"type\":\"a\",\"name\":\"\\u00e9\\u00e9\\u00e9\\u00e9\"}",
        "events[0].name: must be at most 3 characters", "name"),
    BAD("{\"type\":\"a\",\"name\":\"\\ud83d\\ude00\\ud83d\\ude00ab\"}",
        "events[0].name: must be at most 3 characters", "name"),
    OK("{\"type\":\"a\",\"blob\":\"\\u0041bc\\n\"}"),
    BAD("{\"type\":\"a\",\"blob\":\"abcde\"}", "events[0].blob: must be at most 4 bytes", "blob"),
    BAD("{\"type\":\"a\",\"blob\":\"\\u00e9\\u00e9\\u00e9\"}",
        "events[0].blob: must be at most 4 bytes", "blob"),
    OK("{\"type\":\"a\",\"ts\":\"2024-02-29T10:00:00.123+03:00\"}"),
    OK("{\"type\":\"a\",\"ts\":\"2024-02-29T10:00:00\\u002e123Z\"}"),
    BAD("{\"type\":\"a\",\"ts\":\"2024-02-30T10:00:00Z\"}",
        "events[0].ts: must be an RFC 3339 timestamp", "ts"),
    BAD("{\"type\":\"a\",\"ts\":1}", "events[0].ts: must be an RFC 3339 timestamp", "ts"),
    OK("{\"type\":\"a\",\"movie_id\":\"" UUID_LC "\"}"),
    { "events", "{\"type\":\"a\",\"movie_id\":\"42\"}", 400, "invalid_field",
      "events[0].movie_id: must be a UUID", "movie_id", 0 },
    { "events", "{\"type\":\"a\",\"movie_id\":\"" UUID_LC "0\"}", 400, "invalid_field",
      "events[0].movie_id: must be a UUID", "movie_id", 0 },
    OK("{\"type\":\"a\",\"n\":5}"),
    OK("{\"type\":\"a\",\"x\":-1e308}"),
    BAD("{\"type\":\"a\",\"n\":1e0}", "events[0].n: must be an integer", "n"),
    BAD("{\"type\":\"a\",\"n\":0}", "events[0].n: must be between 1 and 10", "n"),
    BAD("{\"type\":\"a\",\"n\":-0}", "events[0].n: must be between 1 and 10", "n"),
    BAD("{\"type\":\"a\",\"n\":11}", "events[0].n: must be between 1 and 10", "n"),
    BAD("{\"type\":\"a\",\"n\":5.0}", "events[0].n: must be an integer", "n"),
    BAD("{\"type\":\"a\",\"n\":\"5\"}", "events[0].n: must be an integer", "n"),
    BAD("{\"type\":\"a\",\"n\":-9223372036854775808}", "events[0].n: must be between 1 and 10",
        "n"),
    OK("{\"type\":\"a\",\"x\":2.5}"),
    OK("{\"type\":\"a\",\"x\":2}"),
    BAD("{\"type\":\"a\",\"x\":2.6}", "events[0].x: must be at most 2.5", "x"),
    OK("{\"type\":\"a\",\"x\":25e-1}"),
    BAD("{\"type\":\"a\",\"x\":true}", "events[0].x: must be a number", "x"),
    OK("{\"type\":\"a\",\"ok\":false}"),
    BAD("{\"type\":\"a\",\"ok\":\"true\"}", "events[0].ok: must be a boolean", "ok"),
    OK("{\"type\":\"a\",\"tags\":[[1],{\"a\":[]}]}"),
    BAD("{\"type\":\"a\",\"tags\":[]}", "events[0].tags: must be 1..2 items", "tags"),
    BAD("{\"type\":\"a\",\"tags\":[1,2,3]}", "events[0].tags: must be 1..2 items", "tags"),
    BAD("{\"type\":\"a\",\"tags\":{}}", "events[0].tags: must be an array", "tags"),
    OK("{\"type\":\"a\",\"pick\":\"b\"}"),
    OK("{\"type\":\"a\",\"pick\":\"\\u0061\"}"),
    OK("{\"type\":\"a\",\"pick\":1}"),
    BAD("{\"type\":\"a\",\"pick\":\"1\"}", "events[0].pick: must be one of: a, b, 1, true", "pick"),
    OK("{\"type\":\"a\",\"pick\":true}"),
    /* as jansson compares: the integer 1 is not the real 1.0 */
    BAD("{\"type\":\"a\",\"pick\":1.0}", "events[0].pick: must be one of: a, b, 1, true", "pick"),
    BAD("{\"type\":\"a\",\"pick\":\"c\"}", "events[0].pick: must be one of: a, b, 1, true", "pick"),
    BAD("{\"type\":\"a\",\"pick\":{\"a\":1}}", "events[0].pick: must be one of: a, b, 1, true",
        "pick"),
    BAD("{\"type\":\"a\",\"pick\":[\"a\"]}", "events[0].pick: must be one of: a, b, 1, true",
        "pick"),
    OK("{\"type\":\"a\",\"meta\":{\"deep\":{\"x\":[1,{\"y\":2}]}}}"),
};

static const struct rcase object_cases[] = {
    OK("{\"type\":\"a\",\"props\":{\"a\":\"x\",\"b\":1.5,\"c\":true}}"),
    OK("{\"type\":\"a\",\"props\":{}}"),
    /* four bytes decoded, 24 in the text */
    OK("{\"type\":\"a\",\"props\":{\"a\":\"\\u0041\\u0042\\u0043\\u0044\"}}"),
    BAD("{\"type\":\"a\",\"props\":{\"a\":null}}",
        "events[0].props.a: must be a string, number or boolean", "props.a"),
    BAD("{\"type\":\"a\",\"props\":{\"a\":\"x\",\"b\":{\"n\":1}}}",
        "events[0].props.b: must be a string, number or boolean", "props.b"),
    BAD("{\"type\":\"a\",\"props\":{\"k\\u0065y\":[1]}}",
        "events[0].props.key: must be a string, number or boolean", "props.key"),
    BAD("{\"type\":\"a\",\"props\":{\"a\":\"12345\"}}",
        "events[0].props.a: must be at most 4 bytes", "props.a"),
    BAD("{\"type\":\"a\",\"props\":{\"a\":\"\\\"\\\"\\\"\\\"\\\"\"}}",
        "events[0].props.a: must be at most 4 bytes", "props.a"),
    BAD("{\"type\":\"a\",\"props\":{\"a\":1,\"b\":2,\"c\":3,\"d\":4}}",
        "events[0].props: must have at most 3 keys", "props"),
    /* too many keys outranks a member's failure, wherever it is */
    BAD("{\"type\":\"a\",\"props\":{\"a\":[1],\"b\":2,\"c\":3,\"d\":4}}",
        "events[0].props: must have at most 3 keys", "props"),
    BAD("{\"type\":\"a\",\"props\":\"x\"}", "events[0].props: must be an object", "props"),
    BAD("{\"type\":\"ugc.x\"}", "events[0].type: must not start with 'ugc.'", "type"),
    BAD("{\"type\":\"\\u0075gc.x\"}", "events[0].type: must not start with 'ugc.'", "type"),
    /* rules apply in their order, not the text's */
    BAD("{\"n\":0,\"type\":\"A\"}", "events[0].type: must contain only [a-z0-9._-]", "type"),
};

static const struct rcase batch_cases[] = {
    { "events", "[{\"type\":\"a\"},{\"type\":\"B\"},{\"type\":\"C\"}]", 422, "invalid_field",
      "events[1].type: must contain only [a-z0-9._-]", "type", 1 },
    { "events", "[{\"type\":\"a\"},{\"type\":\"b\",\"props\":{\"x\":[1]}},7]", 422, "invalid_field",
      "events[1].props.x: must be a string, number or boolean", "props.x", 1 },
    { "events", "[{\"type\":\"a\"},7,{\"type\":\"B\"}]", 400, "malformed_json",
      "item 1 is not a JSON object", "", 1 },
    { "events", "[[],{\"type\":\"a\"}]", 400, "malformed_json", "item 0 is not a JSON object", "",
      0 },
    /* each item is read afresh: nothing of the one before it carries over */
    { "events", "[{\"type\":\"a\",\"n\":5},{\"n\":5}]", 422, "invalid_field",
      "events[1].type: is required", "type", 1 },
    { "events", "[{\"type\":\"a\"},{\"t\\u0079pe\":\"B\"}]", 422, "invalid_field",
      "events[1].type: must contain only [a-z0-9._-]", "type", 1 },
    /* names inside a member's value are not the item's */
    { "events", "[{\"type\":\"a\",\"meta\":{\"n\":0}},{\"type\":\"b\",\"tags\":[{\"type\":7}]}]", 0,
      "", "", "", -1 },
    /* no rule set for the route: unmatched: pass */
    { "other", "[{\"type\":7},{}]", 0, "", "", "", -1 },
};

static const struct rcase type_cases[] = {
    OK("[{\"type\":\"click\",\"x\":1},{\"type\":\"view\",\"url\":\"/a\"}]"),
    OK("{\"type\":\"cl\\u0069ck\",\"x\":1}"),
    { "events", "[{\"type\":\"click\",\"x\":1},{\"type\":\"view\"}]", 422, "invalid_field",
      "events[1].url: is required", "url", 1 },
    BAD("[{\"type\":\"cl\\u0069ck\",\"x\":\"1\"}]", "events[0].x: must be an integer", "x"),
    BAD("{\"type\":\"view\",\"url\":\"/abcdefgh\"}", "events[0].url: must be at most 8 characters",
        "url"),
    { "events", "[{\"type\":\"click\",\"x\":1},{\"type\":\"zzz\"}]", 422, "invalid_event",
      "events[1]: no validation rules for this event", "", 1 },
    { "events", "[{\"x\":1}]", 422, "invalid_event",
      "events[0]: no validation rules for this event", "", 0 },
    { "events", "[{\"type\":5}]", 422, "invalid_event",
      "events[0]: no validation rules for this event", "", 0 },
};

#define NCASES(a) (sizeof(a) / sizeof((a)[0]))

static struct uf_stage *build_ok(const char *opts, struct uf_graph **g)
{
    struct uf_diags d = { 0 };
    struct uf_stage *st = build(opts, g, &d);
    if (d.n)
        uf_diags_print(&d, stderr);
    assert_non_null(st);
    uf_diags_free(&d);
    return st;
}

static void test_raw_matches_tree(void **state)
{
    struct uf_graph *g;
    struct uf_stage *st = build_ok(raw_rules, &g);
    assert_true(on_text(st));
    run_cases(st, scalar_cases, NCASES(scalar_cases));
    run_cases(st, object_cases, NCASES(object_cases));
    run_cases(st, batch_cases, NCASES(batch_cases));
    uf_graph_free(g);
}

static void test_raw_match_type(void **state)
{
    struct uf_graph *g;
    struct uf_stage *st = build_ok(type_rules, &g);
    assert_true(on_text(st));
    run_cases(st, type_cases, NCASES(type_cases));
    uf_graph_free(g);
}

/* A split item (its index, its own body) is named by its index in both forms. */
static void test_raw_split_item(void **state)
{
    struct uf_graph *g;
    struct uf_stage *st = build_ok(raw_rules, &g);
    const char *item = "{\"type\":\"Page\"}";
    struct rcase c = {
        "events", item, 422, "invalid_field", "item 3: type: must contain only [a-z0-9._-]",
        "type",   3
    };
    struct outcome t = run(st, uf_event_new(json_loads(item, 0, NULL)), "events", 3);
    assert_outcome("tree", &c, &t);
    struct outcome r = run(st, uf_event_new_raw(item, strlen(item), NULL), "events", 3);
    assert_outcome("raw", &c, &r);
    uf_graph_free(g);
}

/* A valid raw event goes on as it came (the same borrowed text); UUIDs come out in lower case
 * as from a tree, in the event's own copy of the text. */
static void test_raw_emitted_text(void **state)
{
    struct uf_graph *g;
    struct uf_stage *st = build_ok(raw_rules, &g);
    const char *plain = "[{\"type\":\"a\",\"movie_id\":\"" UUID_LC "\"}]";
    assert_true(run(st, uf_event_new_raw(plain, strlen(plain), NULL), "events", -1).emitted);
    assert_ptr_equal(seen_raw_at, plain);

    const char *mixed = "[{\"movie_id\":\"" UUID_UC "\",\"type\":\"a\"},{\"type\":\"b\"},"
                        "{\"type\":\"c\",\"movie_id\":"
                        "\"\\u0030190a0b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b\"}]";
    assert_true(run(st, uf_event_new_raw(mixed, strlen(mixed), NULL), "events", -1).emitted);
    assert_ptr_not_equal(seen_raw_at, mixed);
    assert_string_equal(seen_raw, "[{\"movie_id\":\"" UUID_LC "\",\"type\":\"a\"},{\"type\":\"b\"},"
                                  "{\"type\":\"c\",\"movie_id\":\"" UUID_LC "\"}]");
    assert_true(run(st, tree_event("events", mixed), "events", -1).emitted);
    json_t *items = json_object_get(seen_body, "body");
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 0), "movie_id")),
                        UUID_LC);
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 2), "movie_id")),
                        UUID_LC);
    uf_graph_free(g);
}

/* Texts the http source would have refused, or another source may send: a clean 4xx, never a
 * crash nor a read past the text (each prefix is its own exact-size copy for the sanitizer). */
static void test_raw_malformed(void **state)
{
    struct uf_graph *g;
    struct uf_stage *st = build_ok(raw_rules, &g);
    static const char *const bad[] = { "",
                                       "  ",
                                       "[",
                                       "{",
                                       "7",
                                       "\"x\"",
                                       "null",
                                       "[{\"type\":\"a\"",
                                       "{\"type\":\"a\"} x",
                                       "[{\"type\":\"a\"}]]",
                                       "{\"type\":}" };
    for (size_t i = 0; i < NCASES(bad); i++) {
        struct outcome o = run(st, uf_event_new_raw(bad[i], strlen(bad[i]), NULL), "events", -1);
        if (o.status != 400 || strcmp(o.code, "malformed_json") != 0)
            fail_msg("'%s': %d %s %s", bad[i], o.status, o.code, o.msg);
    }
    /* an integer beyond int64 (jansson refuses the whole body) is no integer */
    const char *big = "{\"type\":\"a\",\"n\":99999999999999999999}";
    struct outcome o = run(st, uf_event_new_raw(big, strlen(big), NULL), "events", -1);
    assert_string_equal(o.msg, "events[0].n: must be an integer");

    const char *full = "[{\"type\":\"a\",\"props\":{\"k\\u0065y\":\"\\u00e9\",\"b\":-1.5e3},"
                       "\"ts\":\"2024-02-29T10:00:00Z\",\"tags\":[1,{\"a\":[]}],\"n\":3,\"x\":1e0},"
                       "{\"type\":\"b\",\"movie_id\":\"" UUID_UC "\"}]";
    for (size_t n = 0; n <= strlen(full); n++) {
        char *text = malloc(n ? n : 1);
        memcpy(text, full, n);
        o = run(st, uf_event_new_raw(text, n, NULL), "events", -1);
        if (n == strlen(full) ? !o.emitted : o.status < 400)
            fail_msg("%zu bytes: %d %s", n, o.status, o.msg);
        free(text);
    }
    /* bytes changed at random (a fixed seed): each text goes on or gets a 4xx */
    unsigned seed = 7;
    static const char alphabet[] = "{}[]\",:\\u0123456789abcdefABCDEF.-+eE tnrl\x80\xc3\xff";
    for (int k = 0; k < 3000; k++) {
        size_t n = strlen(full);
        char *text = malloc(n);
        memcpy(text, full, n);
        for (int j = 0; j < 1 + k % 3; j++)
            text[rand_r(&seed) % n] = alphabet[rand_r(&seed) % (sizeof(alphabet) - 1)];
        o = run(st, uf_event_new_raw(text, n, NULL), "events", -1);
        if (!o.emitted && (o.status < 400 || o.status > 499))
            fail_msg("'%.*s': %d %s", (int)n, text, o.status, o.msg);
        free(text);
    }
    uf_graph_free(g);
}

/* Long strings and numbers and many rule names take the heap instead of the stack: same
 * outcomes. */
static void test_raw_large(void **state)
{
    char opts[4096] = "        items: body\n        rules:\n          events:\n"
                      "            ts: {type: rfc3339}\n"
                      "            num: {type: number, max: 2}\n";
    for (int i = 0; i < 40; i++)
        snprintf(opts + strlen(opts), sizeof(opts) - strlen(opts),
                 "            f%d: {type: string, max_length: 300}\n", i);
    struct uf_graph *g;
    struct uf_stage *st = build_ok(opts, &g);
    char ok[4096] = "{\"f39\":\"", bad[4096] = "{\"f0\":\"";
    char ts[512] = "{\"ts\":\"2024-02-29T10:00:00.", num[512] = "{\"num\":3.";
    for (int i = 0; i < 300; i++) {
        strcat(ok, "\\u00e9");
        strcat(bad, "\\u0041");
        strcat(ts, "1");
        strcat(num, "0");
    }
    strcat(ok, "\"}");
    strcat(bad, "x\",\"f39\":1}");
    strcat(ts, "Z\"}");
    strcat(num, "}");
    char both[8200];
    snprintf(both, sizeof(both), "[%s, %s]", ok, bad);
    struct rcase cases[] = {
        OK(ok),
        { "events", both, 422, "invalid_field", "events[1].f0: must be at most 300 characters",
          "f0", 1 },
        BAD(bad, "events[0].f0: must be at most 300 characters", "f0"),
        OK(ts),
        BAD(num, "events[0].num: must be at most 2", "num"),
    };
    run_cases(st, cases, NCASES(cases));
    uf_graph_free(g);
}

/* Batches held as text: only with rules a text allows. */
static void test_text_batches_need_simple_rules(void **state)
{
    static const struct {
        const char *opts;
        bool ok;
    } cases[] = {
        { "        items: body\n        rules: {r: {x: int, y: {type: object, flat: true}}}\n",
          true },
        { "        items: body\n        rules: {r: {x: {type: int, default: 1}}}\n", false },
        { "        items: body\n        rules: {r: {x: {type: int, coerce: true}}}\n", false },
        { "        items: body\n        rules: {r: {x: int, body.x: int}}\n", false },
        { "        rules: {r: {x: int}}\n", false },
        { "        items: events\n        rules: {r: {x: int}}\n", false },
    };
    assert_false(on_text(stage)); /* the UGC rules: dotted paths, defaults */
    for (size_t i = 0; i < NCASES(cases); i++) {
        struct uf_graph *g;
        struct uf_stage *st = build_ok(cases[i].opts, &g);
        if (on_text(st) != cases[i].ok)
            fail_msg("text batches should be %d for %s", cases[i].ok, cases[i].opts);
        uf_graph_free(g);
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
        cmocka_unit_test(test_raw_matches_tree),
        cmocka_unit_test(test_raw_match_type),
        cmocka_unit_test(test_raw_split_item),
        cmocka_unit_test(test_raw_emitted_text),
        cmocka_unit_test(test_raw_malformed),
        cmocka_unit_test(test_raw_large),
        cmocka_unit_test(test_text_batches_need_simple_rules),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
