/* test_http.c: the `http` source, for real (tests/support/http_fixture.h: http -> "hold" sink,
 * requests through libcurl to a free port): routes and params, the envelope and meta, replies
 * recorded by stages, 404/405/413/415/400/503/504, connection memory, split arrays sharing one
 * completion, fire-and-forget routes. Batch routes run as trees and as text, which must give
 * the same statuses, codes, messages (but the malformed-JSON wording), `position`, `index` and
 * {"accepted": n}. The listener's life: test_http_lifecycle.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "framework/event.h"
#include "framework/event_int.h"
#include "framework/graph.h"
#include "framework/queue.h"
#include "framework/runtime.h"
#include "framework/uuid.h"
#include "tests/support/http_fixture.h"
#include "tests/support/poll.h"

static void test_route_params_query_and_meta(void **state)
{
    struct fixture *fx = *state;
    struct call *c = run(CALL(fx, "GET", "/api/v1/movies/m-42/comments?limit=5&cursor=abc", NULL));
    assert_int_equal(c->status, 200);
    assert_int_equal(json_integer_value(json_object_get(c->json, "accepted")), 1);
    json_t *b = sink.last_body, *m = sink.last_meta;
    assert_string_equal(json_string_value(json_object_get(b, "route")), "comments");
    assert_string_equal(json_string_value(json_object_get(b, "method")), "GET");
    assert_string_equal(json_string_value(json_object_get(b, "path")),
                        "/api/v1/movies/m-42/comments");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(b, "params"), "movie_id")), "m-42");
    assert_string_equal(json_string_value(json_object_get(json_object_get(b, "query"), "limit")),
                        "5");
    assert_null(json_object_get(b, "body"));
    assert_string_equal(json_string_value(json_object_get(m, "route")), "comments");
    assert_string_equal(json_string_value(json_object_get(m, "ip")), "127.0.0.1");
    assert_string_equal(json_string_value(json_object_get(m, "user_agent")), "test-agent/1");
    assert_true(uf_uuid_is_valid(json_string_value(json_object_get(m, "request_id"))));
    assert_null(json_object_get(m, "token"));
    json_decref(c->json);

    /* A literal segment beats a parameter. */
    c = run(CALL(fx, "GET", "/api/v1/movies/mine/comments", NULL));
    assert_int_equal(c->status, 200);
    assert_string_equal(json_string_value(json_object_get(sink.last_body, "route")), "mine");
    json_decref(c->json);
}

static void test_reply_recorded_by_stage(void **state)
{
    struct fixture *fx = *state;
    struct call *c = CALL(fx, "POST", "/api/v1/movies/m1/comments", "{\"text\":\"hi\"}");
    c->extra_header = "Authorization: Bearer abc.def.ghi";
    run(c);
    assert_int_equal(c->status, 201);
    assert_string_equal(json_string_value(json_object_get(c->json, "id")), "c1");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(sink.last_body, "body"), "text")), "hi");
    assert_string_equal(json_string_value(json_object_get(sink.last_meta, "token")), "abc.def.ghi");
    json_decref(c->json);

    /* The route's success status when no stage replied; a client's X-Request-Id is kept. */
    c = CALL(fx, "POST", "/api/v1/movies/m1/like", NULL);
    c->extra_header = "X-Request-Id: req-123";
    run(c);
    assert_int_equal(c->status, 201);
    assert_non_null(strstr(c->headers, "X-Request-Id: req-123"));
    assert_string_equal(json_string_value(json_object_get(sink.last_meta, "request_id")),
                        "req-123");
    json_decref(c->json);
}

static void test_not_found_and_method_not_allowed(void **state)
{
    struct fixture *fx = *state;
    struct call *c = run(CALL(fx, "GET", "/api/v1/nope", NULL));
    assert_int_equal(c->status, 404);
    assert_string_equal(err_code(c), "not_found");
    assert_string_equal(err_msg(c), "no route for GET /api/v1/nope");
    json_decref(c->json);

    c = run(CALL(fx, "DELETE", "/api/v1/movies/m1/comments", NULL));
    assert_int_equal(c->status, 405);
    assert_string_equal(err_code(c), "method_not_allowed");
    assert_non_null(strstr(c->headers, "Allow: GET, POST"));
    json_decref(c->json);

    /* A path that is not UTF-8 still gets the JSON error body. */
    c = run(CALL(fx, "GET", "/api/v1/\xff\xfe", NULL));
    assert_int_equal(c->status, 404);
    assert_string_equal(err_code(c), "not_found");
    assert_string_equal(err_msg(c), "no route for GET /api/v1/??");
    json_decref(c->json);
}

static void test_body_too_large(void **state)
{
    struct fixture *fx = *state;
    char big[200];
    snprintf(big, sizeof(big), "{\"text\":\"%0150d\"}", 7);
    struct call *c = run(CALL(fx, "POST", "/api/v1/small", big));
    assert_int_equal(c->status, 413);
    assert_string_equal(err_code(c), "body_too_large");
    assert_string_equal(err_msg(c), "request body is larger than 64 bytes");
    json_decref(c->json);

    /* Without Content-Length the limit is checked while reading. */
    c = CALL(fx, "POST", "/api/v1/small", big);
    c->chunked = true;
    run(c);
    assert_int_equal(c->status, 413);
    assert_string_equal(err_code(c), "body_too_large");
    json_decref(c->json);

    c = run(CALL(fx, "POST", "/api/v1/events", "[{},{},{},{}]"));
    assert_int_equal(c->status, 413);
    assert_string_equal(err_code(c), "too_many_items");
    assert_string_equal(err_msg(c), "4 items; at most 3 are accepted");
    json_decref(c->json);
}

/* connection_memory bounds what libmicrohttpd keeps per connection: a body many times larger
 * still arrives whole (it is read in pieces), while request headers that do not fit are refused
 * with 431. */
static void test_connection_memory(void **state)
{
    struct fixture *fx = *state;
    size_t n = 60000;
    char *big = malloc(n + 16);
    memcpy(big, "{\"text\":\"", 9);
    memset(big + 9, 'a', n);
    memcpy(big + 9 + n, "\"}", 3);
    struct call *c = run(&(struct call){
        .method = "POST", .path = "/tiny_json", .body = big, .port = fx->small_port });
    assert_int_equal(c->status, 200);
    json_decref(c->json);
    free(big);
    char hdr[6100] = "X-Big: ";
    memset(hdr + 7, 'h', 6000);
    hdr[6007] = '\0';
    c = run(&(struct call){
        .method = "POST", .path = "/tiny/1", .extra_header = hdr, .port = fx->small_port });
    assert_int_equal(c->status, 431);
    json_decref(c->json);
    c = run(&(struct call){ .method = "POST", .path = "/tiny/2", .port = fx->small_port });
    assert_int_equal(c->status, 200);
    json_decref(c->json);
}

static void test_unsupported_media_type(void **state)
{
    struct fixture *fx = *state;
    struct call *c = CALL(fx, "POST", "/api/v1/movies/m1/comments", "text=hi");
    c->ctype = "application/x-www-form-urlencoded";
    run(c);
    assert_int_equal(c->status, 415);
    assert_string_equal(err_code(c), "unsupported_media_type");
    json_decref(c->json);

    c = CALL(fx, "POST", "/api/v1/movies/m1/comments", "{\"text\":\"x\"}");
    c->ctype = "application/json; charset=utf-8";
    run(c);
    assert_int_equal(c->status, 201);
    json_decref(c->json);
}

static void test_malformed_json(void **state)
{
    struct fixture *fx = *state;
    struct call *c = run(CALL(fx, "POST", "/api/v1/movies/m1/comments", "{\"text\": tru}"));
    assert_int_equal(c->status, 400);
    assert_string_equal(err_code(c), "malformed_json");
    assert_non_null(strstr(err_msg(c), "malformed JSON at line 1, column"));
    assert_true(json_is_integer(json_object_get(json_object_get(c->json, "error"), "position")));
    json_decref(c->json);

    c = run(CALL(fx, "POST", "/api/v1/movies/m1/comments", "[1,2]"));
    assert_int_equal(c->status, 400);
    assert_string_equal(err_msg(c), "body must be a JSON object");
    json_decref(c->json);

    c = run(CALL(fx, "POST", "/api/v1/movies/m1/comments", ""));
    assert_int_equal(c->status, 400);
    assert_string_equal(err_code(c), "empty_body");
    json_decref(c->json);

    c = run(CALL(fx, "POST", "/api/v1/events", "[{\"type\":\"a\"}, 3]"));
    assert_int_equal(c->status, 400);
    assert_string_equal(err_msg(c), "item 1 is not a JSON object");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(c->json, "error"), "index")), 1);
    json_decref(c->json);
}

/* ---- batch routes: the tree path and the raw path give the same answers ---- */

static size_t written(void)
{
    pthread_mutex_lock(&sink.mu);
    size_t n = sink.written;
    pthread_mutex_unlock(&sink.mu);
    return n;
}

/* Whether this fixture's batch routes take the raw path. */
static bool raw_path(const struct fixture *fx)
{
    return uf_stage_batches_split(fx->api, 0);
}

/* POSTs text to the batch route; asserts an accepted request and what reached the sink. */
static void expect_accepted(struct fixture *fx, const char *text, json_int_t n)
{
    struct call *c = CALL(fx, "POST", "/api/v1/batch?src=app", text);
    c->extra_header = "X-Request-Id: batch-1";
    run(c);
    assert_int_equal(c->status, 202);
    assert_int_equal(json_integer_value(json_object_get(c->json, "accepted")), n);
    json_decref(c->json);
    json_t *m = sink.last_meta;
    assert_string_equal(json_string_value(json_object_get(m, "route")), "batch");
    assert_string_equal(json_string_value(json_object_get(m, "method")), "POST");
    assert_string_equal(json_string_value(json_object_get(m, "path")), "/api/v1/batch");
    assert_string_equal(json_string_value(json_object_get(m, "request_id")), "batch-1");
    assert_string_equal(json_string_value(json_object_get(m, "ip")), "127.0.0.1");
    assert_string_equal(json_string_value(json_object_get(m, "user_agent")), "test-agent/1");
    assert_string_equal(json_string_value(json_object_get(json_object_get(m, "query"), "src")),
                        "app");
    assert_int_equal(json_object_size(json_object_get(m, "params")), 0);
    if (raw_path(fx)) { /* the client's bytes, untouched; no tree at all */
        assert_null(sink.last_body);
        assert_string_equal(sink.last_raw, text);
        assert_true(sink.last_raw_checked); /* checked strictly: stages may scan it trusted */
        return;
    }
    assert_null(sink.last_raw);
    json_t *items = json_object_get(sink.last_body, "body");
    assert_int_equal(json_array_size(items), (size_t)n);
    assert_string_equal(json_string_value(json_object_get(sink.last_body, "route")), "batch");
}

static void test_batch_accepted(void **state)
{
    struct fixture *fx = *state;
    expect_accepted(fx, "{\"type\":\"a\",\"n\":1.5e3}", 1);
    expect_accepted(fx, " [{\"type\":\"a\"},\n {\"type\":\"b\",\"x\":{\"y\":[1,2]}}, {}] ", 3);
    expect_accepted(fx, "[]", 0);
    expect_accepted(fx, "{\"a\":9223372036854775807,\"b\":-9223372036854775808,\"c\":1e-400}", 1);
    expect_accepted(fx, "{\"k\":\"\\\"1e999\\\\\",\"t\":\"caf\xc3\xa9 \\u00e9\"}", 1);
    assert_int_equal(written(), 5);
}

struct refusal {
    const char *body;
    int status;
    const char *code;
    const char *tree_msg, *raw_msg; /* the start of the message on each path */
    long long position;             /* on the raw path; -1: no position (either path) */
    long long index;                /* -1: none */
};

static void expect_refused(struct fixture *fx, const struct refusal *r)
{
    struct call *c = run(CALL(fx, "POST", "/api/v1/batch", r->body));
    bool raw = raw_path(fx);
    if (c->status != r->status || strcmp(err_code(c) ? err_code(c) : "", r->code) != 0 ||
        strncmp(err_msg(c), raw ? r->raw_msg : r->tree_msg,
                strlen(raw ? r->raw_msg : r->tree_msg)) != 0)
        fail_msg("%s body '%s': %ld %s '%s'", raw ? "raw" : "tree", r->body, c->status, err_code(c),
                 err_msg(c));
    json_t *e = json_object_get(c->json, "error");
    json_t *pos = json_object_get(e, "position"), *index = json_object_get(e, "index");
    assert_int_equal(pos != NULL, r->position >= 0);
    if (raw && r->position >= 0)
        assert_int_equal(json_integer_value(pos), r->position);
    assert_int_equal(index ? json_integer_value(index) : -1, r->index);
    json_decref(c->json);
}

static void test_batch_refused(void **state)
{
    static const struct refusal cases[] = {
        { "", 400, "empty_body", "a JSON body is required", "a JSON body is required", -1, -1 },
        { "[{},{},{},{}]", 413, "too_many_items", "4 items; at most 3 are accepted",
          "4 items; at most 3 are accepted", -1, -1 },
        { "[{},{},{},3]", 413, "too_many_items", "4 items; at most 3 are accepted",
          "4 items; at most 3 are accepted", -1, -1 },
        { "[{\"type\":\"a\"}, 3]", 400, "malformed_json", "item 1 is not a JSON object",
          "item 1 is not a JSON object", -1, 1 },
        { "[[], {}]", 400, "malformed_json", "item 0 is not a JSON object",
          "item 0 is not a JSON object", -1, 0 },
        { "{\"text\": tru}", 400, "malformed_json", "malformed JSON at line 1, column",
          "malformed JSON at byte 9: invalid token", 9, -1 },
        { "{\"a\":1,\"a\":2}", 400, "malformed_json", "malformed JSON at line 1, column",
          "malformed JSON at byte 11: duplicate object key", 11, -1 },
        { "[{\"a\":{\"b\":1,\"b\":2}}]", 400, "malformed_json", "malformed JSON at line",
          "malformed JSON at byte 17: duplicate object key", 17, -1 },
        { "[{}] x", 400, "malformed_json", "malformed JSON at line",
          "malformed JSON at byte 5: end of input expected", 5, -1 },
        { " 7", 400, "malformed_json", "malformed JSON at line",
          "malformed JSON at byte 1: '[' or '{' expected", 1, -1 },
        { "\"x\"", 400, "malformed_json", "malformed JSON at line",
          "malformed JSON at byte 0: '[' or '{' expected", 0, -1 },
        { "  ", 400, "malformed_json", "malformed JSON at line",
          "malformed JSON at byte 2: empty input", 2, -1 },
        { "{\"a\":\"\xff\"}", 400, "malformed_json", "malformed JSON at line",
          "malformed JSON at byte 6: invalid UTF-8", 6, -1 },
        { "{\"a\":99999999999999999999}", 400, "malformed_json", "malformed JSON at line",
          "malformed JSON at byte 5: too big integer", 5, -1 },
        { "[{\"a\":[-9223372036854775809]}]", 400, "malformed_json", "malformed JSON at line",
          "malformed JSON at byte 7: too big negative integer", 7, -1 },
        { "[{\"s\":\"1e999\",\"a\":1e400}]", 400, "malformed_json", "malformed JSON at line",
          "malformed JSON at byte 18: real number overflow", 18, -1 },
        /* faults together: the grammar first, then the top-level type, numbers, the items */
        { "[{\"a\":1e400}, tru]", 400, "malformed_json", "malformed JSON at line",
          "malformed JSON at byte 14: invalid token", 14, -1 },
        { " 99999999999999999999", 400, "malformed_json", "malformed JSON at line",
          "malformed JSON at byte 1: '[' or '{' expected", 1, -1 },
        { "[3, {\"a\":1e400}]", 400, "malformed_json", "malformed JSON at line",
          "malformed JSON at byte 9: real number overflow", 9, -1 },
        { "[{},{},{},{\"a\":-1e400}]", 400, "malformed_json", "malformed JSON at line",
          "malformed JSON at byte 15: real number overflow", 15, -1 },
    };
    struct fixture *fx = *state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        expect_refused(fx, &cases[i]);
    assert_int_equal(written(), 0); /* nothing refused reaches the sink */
}

/* A batch route that answers at once: the request (and its body) may be gone before the sink
 * sees the event, so the raw event owns a copy of the text. */
static void test_batch_fire_and_forget(void **state)
{
    struct fixture *fx = *state;
    sink.mode = HOLD;
    struct call *c = run(CALL(fx, "POST", "/api/v1/batchfire", "[{\"a\":1},{\"a\":2}]"));
    assert_int_equal(c->status, 202);
    assert_int_equal(json_integer_value(json_object_get(c->json, "accepted")), 2);
    json_decref(c->json);
    wait_held(1);
    struct uf_event *ev = take_held(0);
    assert_null(ev->done);
    if (raw_path(fx)) {
        assert_true(ev->raw_owned);
        assert_int_equal(ev->raw_len, 17);
        assert_memory_equal(ev->raw, "[{\"a\":1},{\"a\":2}]", 17);
    } else {
        assert_null(ev->raw);
        assert_int_equal(json_array_size(json_object_get(ev->body, "body")), 2);
    }
    uf_event_done(ev);
}

/* Only batch routes change: others keep the tree path whatever the downstream takes. */
static void test_raw_only_on_batch_routes(void **state)
{
    struct fixture *fx = *state;
    assert_true(raw_path(fx));
    struct call *c = run(CALL(fx, "POST", "/api/v1/movies/m1/comments", "{\"text\":\"hi\"}"));
    assert_int_equal(c->status, 201);
    assert_null(sink.last_raw);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(sink.last_body, "body"), "text")), "hi");
    json_decref(c->json);
    c = run(CALL(fx, "POST", "/api/v1/events", "[{\"type\":\"a\"},{\"type\":\"b\"}]"));
    assert_int_equal(c->status, 202);
    assert_null(sink.last_raw);
    assert_string_equal(uf_event_get_str(&(struct uf_event){ .body = sink.last_body }, "type"),
                        "b");
    json_decref(c->json);
}

static void test_tree_path_when_downstream_needs_trees(void **state)
{
    struct fixture *fx = *state;
    assert_false(raw_path(fx));
    expect_accepted(fx, "[{\"type\":\"a\"}]", 1);
    assert_null(sink.last_raw);
    assert_non_null(sink.last_body);
}

static void test_timeout_gives_504(void **state)
{
    struct fixture *fx = *state;
    sink.mode = HOLD;
    struct call *c = run(CALL(fx, "POST", "/api/v1/slow", "{}"));
    assert_int_equal(c->status, 504);
    assert_string_equal(err_code(c), "timeout");
    assert_string_equal(err_msg(c), "no reply within 200 ms");
    assert_true(c->secs >= 0.19 && c->secs < 2.0);
    json_decref(c->json);
    /* The late completion is harmless. */
    wait_held(1);
    uf_event_reply(sink.held[0], 201, json_pack("{s:b}", "late", 1));
    uf_event_done(take_held(0));
    assert_int_equal(uf_metrics_extra_value(&fx->api->metrics, "http_timeouts_total", "slow"), 1);
}

static void test_split_array_shares_one_completion(void **state)
{
    struct fixture *fx = *state;
    sink.mode = HOLD;
    struct call *c =
        CALL(fx, "POST", "/api/v1/events", "[{\"type\":\"a\"},{\"type\":\"b\"},{\"type\":\"c\"}]");
    start_call(c);
    wait_held(3);
    for (size_t i = 0; i < 3; i++) {
        struct uf_event *ev = sink.held[i];
        assert_ptr_equal(ev->done, sink.held[0]->done);
        assert_int_equal(ev->index, i);
        assert_int_equal(ev->count, 3);
        assert_ptr_equal(ev->meta, sink.held[0]->meta); /* one meta for the request's items */
        assert_string_equal(json_string_value(uf_event_meta_get(ev, "route")), "events");
        assert_string_equal(json_string_value(uf_event_meta_get(ev, "auth")), "optional");
    }
    assert_string_equal(uf_event_get_str(sink.held[1], "type"), "b");
    uf_event_done(take_held(0));
    uf_event_done(take_held(2));
    assert_int_equal(c->status, 0); /* not answered while one event is still out */
    uf_event_done(take_held(1));
    join_call(c);
    assert_int_equal(c->status, 202);
    assert_int_equal(json_integer_value(json_object_get(c->json, "accepted")), 3);
    json_decref(c->json);
}

static void test_split_array_one_failure_fails_request(void **state)
{
    struct fixture *fx = *state;
    sink.mode = HOLD;
    struct call *c = CALL(fx, "POST", "/api/v1/events", "[{\"type\":\"a\"},{\"type\":\"b\"}]");
    start_call(c);
    wait_held(2);
    uf_event_done(take_held(0));
    uf_event_fail(take_held(1), 422, "invalid_field", "item 1: type: bad");
    join_call(c);
    assert_int_equal(c->status, 422);
    assert_string_equal(err_msg(c), "item 1: type: bad");
    json_decref(c->json);
}

static void test_full_queue_gives_503(void **state)
{
    struct fixture *fx = *state;
    sink.mode = BLOCK;
    struct call *a = CALL(fx, "POST", "/tiny/1", NULL);
    struct call *b = CALL(fx, "POST", "/tiny/2", NULL);
    a->port = b->port = fx->small_port;
    start_call(a);
    wait_held(1); /* the worker is inside write() */
    start_call(b);
    WAIT_FOR(uf_queue_depth(fx->tiny->q) >= 1, 1000);
    assert_int_equal(uf_queue_depth(fx->tiny->q), 1);
    struct call *e = CALL(fx, "POST", "/tiny/3", NULL);
    e->port = fx->small_port;
    run(e);
    assert_int_equal(e->status, 503);
    assert_string_equal(err_code(e), "overloaded");
    assert_non_null(strstr(e->headers, "Retry-After: 1"));
    json_decref(e->json);
    pthread_mutex_lock(&sink.mu);
    sink.mode = AUTO;
    sink.release = true;
    for (size_t i = 0; i < sink.nheld; i++)
        uf_event_done(sink.held[i]);
    sink.nheld = 0;
    pthread_cond_broadcast(&sink.cond);
    pthread_mutex_unlock(&sink.mu);
    join_call(a);
    join_call(b);
    assert_int_equal(a->status, 200);
    assert_int_equal(b->status, 200);
    json_decref(a->json);
    json_decref(b->json);
}

static void test_fire_and_forget(void **state)
{
    struct fixture *fx = *state;
    sink.mode = HOLD;
    struct call *c = run(CALL(fx, "POST", "/api/v1/fire", "{\"a\":1}"));
    assert_int_equal(c->status, 202);
    json_decref(c->json);
    wait_held(1);
    assert_null(sink.held[0]->done);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_route_params_query_and_meta, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reply_recorded_by_stage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_found_and_method_not_allowed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_too_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_memory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unsupported_media_type, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_accepted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_accepted, setup_raw, teardown),
        cmocka_unit_test_setup_teardown(test_batch_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_refused, setup_raw, teardown),
        cmocka_unit_test_setup_teardown(test_batch_fire_and_forget, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_fire_and_forget, setup_raw, teardown),
        cmocka_unit_test_setup_teardown(test_raw_only_on_batch_routes, setup_raw, teardown),
        cmocka_unit_test_setup_teardown(test_tree_path_when_downstream_needs_trees, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_timeout_gives_504, setup, teardown),
        cmocka_unit_test_setup_teardown(test_split_array_shares_one_completion, setup, teardown),
        cmocka_unit_test_setup_teardown(test_split_array_one_failure_fails_request, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_full_queue_gives_503, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fire_and_forget, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
