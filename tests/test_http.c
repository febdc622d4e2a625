/* test_http.c: the `http` source, for real: a pipeline http -> "hold" sink is built from YAML
 * and run; requests go through libcurl to the listener on a free port (port 0). The sink is the
 * engine's `null` kind with its write() replaced by the test, so a test decides when and how
 * each event finishes (auto: at once, with an optional reply; hold: kept until the test
 * releases it; block: write() waits, to fill the queue). Covers routes and params, the envelope
 * and meta, replies recorded by stages, 404/405/413/415/400/503/504, split arrays sharing one
 * completion, concurrent requests, fire-and-forget routes, one listening socket per thread
 * and a port held by someone else, a graceful stop, and a stop that
 * meets requests still uploading or blocked on a full queue (answered 503, never left
 * suspended: libmicrohttpd aborts the process when stopped with a suspended connection).
 * Batch routes run twice, with a sink that does not take raw events (the tree path: the
 * envelope with body = the items) and with one that does (the raw path: the request's bytes,
 * unparsed, with the same meta): both must give the same statuses, codes, messages (but for
 * the malformed-JSON wording), `position` and `index` fields and {"accepted": n}. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "config.h"
#include "event.h"
#include "graph.h"
#include "log.h"
#include "queue.h"
#include "registry.h"
#include "runtime.h"
#include "uuid.h"

static const char *yaml =
    "shutdown_timeout: 5s\n"
    "pipelines:\n"
    "  t:\n"
    "    components:\n"
    "      api:\n"
    "        kind: http\n"
    "        address: 127.0.0.1:0\n"
    "        threads: 2\n"
    "        timeout: 3s\n"
    "        routes:\n"
    "          \"POST /api/v1/movies/{movie_id}/like\": {name: like, body: none, "
    "success_status: 201}\n"
    "          \"GET /api/v1/movies/{movie_id}/comments\": {name: comments}\n"
    "          \"GET /api/v1/movies/mine/comments\": {name: mine}\n"
    "          \"POST /api/v1/movies/{movie_id}/comments\": {name: comment_create, body: json}\n"
    "          \"POST /api/v1/events\": {name: events, auth: optional, body: json, "
    "split_array: true, max_items: 3, success_status: 202}\n"
    "          \"POST /api/v1/slow\": {name: slow, body: json, timeout: 200ms}\n"
    "          \"POST /api/v1/small\": {name: small, body: json, max_body: 64}\n"
    "          \"POST /api/v1/fire\": {name: fire, body: json, reply: immediate, "
    "success_status: 202}\n"
    "          \"POST /api/v1/batch\": {name: batch, body: json, batch: true, max_items: 3, "
    "success_status: 202}\n"
    "          \"POST /api/v1/batchfire\": {name: batchfire, body: json, batch: true, "
    "reply: immediate, success_status: 202}\n"
    "      hold:\n"
    "        kind: null\n"
    "        inputs: [api]\n"
    "      small_api:\n"
    "        kind: http\n"
    "        address: 127.0.0.1:0\n"
    "        connection_memory: 4KiB\n"
    "        event_loop: poll\n"
    "        routes: {\"POST /tiny/{n}\": {name: tiny}, \"POST /tiny_json\": {name: tiny_json, "
    "body: json}}\n"
    "      tiny:\n"
    "        kind: null\n"
    "        inputs: [small_api]\n"
    "        buffer: 1\n"
    "        when_full: reject\n"
    "        batch_max: 1\n";

/* For stop tests: a short shutdown deadline, and a blocking one-slot queue before the sink;
 * its listeners wait with poll (the main pipeline's with epoll), so suspending and resuming
 * runs under both loops. */
static const char *stop_yaml =
    "shutdown_timeout: 1s\n"
    "pipelines:\n"
    "  t:\n"
    "    components:\n"
    "      api:\n"
    "        kind: http\n"
    "        address: 127.0.0.1:0\n"
    "        threads: 4\n"
    "        event_loop: poll\n"
    "        routes:\n"
    "          \"POST /up\": {name: up, body: json}\n"
    "          \"POST /b/{n}\": {name: b}\n"
    "      hold:\n"
    "        kind: null\n"
    "        inputs: [api]\n"
    "        buffer: 1\n"
    "        when_full: block\n"
    "        batch_max: 1\n";

/* ---- the test sink ---- */

enum hold_mode { AUTO, HOLD, BLOCK };

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    enum hold_mode mode;
    struct uf_event *held[64];
    size_t nheld;
    json_t *last_body, *last_meta;
    char *last_raw; /* the last event's raw text (NUL-terminated copy), NULL for a tree */
    bool last_raw_checked;
    size_t written; /* events write() received */
    bool raw;       /* the sink takes raw events (set before the runtime starts) */
    bool release;   /* BLOCK: lets write() return */
} sink = { .mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

static struct uf_kind hold_kind;

static void finish_auto(struct uf_event *ev)
{
    const char *route = json_string_value(json_object_get(uf_event_meta(ev), "route"));
    if (route && strcmp(route, "comment_create") == 0)
        uf_event_reply(ev, 201, json_pack("{s:s}", "id", "c1"));
    uf_event_done(ev);
}

static int hold_write(struct uf_stage *st, void *ctx, struct uf_event **evs, size_t n,
                      struct uf_err *err)
{
    pthread_mutex_lock(&sink.mu);
    for (size_t i = 0; i < n; i++) {
        json_decref(sink.last_body);
        json_decref(sink.last_meta);
        sink.last_body = json_deep_copy(evs[i]->body);
        sink.last_meta = json_deep_copy(uf_event_meta(evs[i]));
        free(sink.last_raw);
        sink.last_raw = evs[i]->raw ? strndup(evs[i]->raw, evs[i]->raw_len) : NULL;
        sink.last_raw_checked = evs[i]->raw_checked;
        sink.written++;
        if (sink.mode == AUTO) {
            finish_auto(evs[i]);
            continue;
        }
        sink.held[sink.nheld++] = evs[i];
    }
    pthread_cond_broadcast(&sink.cond);
    while (sink.mode == BLOCK && !sink.release)
        pthread_cond_wait(&sink.cond, &sink.mu);
    pthread_mutex_unlock(&sink.mu);
    return UF_OK;
}

/* Waits (against a deadline) until n events are held. */
static void wait_held(size_t n)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 5;
    pthread_mutex_lock(&sink.mu);
    while (sink.nheld < n && pthread_cond_timedwait(&sink.cond, &sink.mu, &ts) == 0)
        ;
    size_t got = sink.nheld;
    pthread_mutex_unlock(&sink.mu);
    assert_int_equal(got, n);
}

static struct uf_event *take_held(size_t i)
{
    pthread_mutex_lock(&sink.mu);
    struct uf_event *ev = sink.held[i];
    sink.held[i] = NULL;
    pthread_mutex_unlock(&sink.mu);
    return ev;
}

/* ---- the pipeline ---- */

struct fixture {
    struct uf_graph *g;
    struct uf_runtime *rt;
    struct uf_stage *api, *hold, *small_api, *tiny;
    int port, small_port;
};

static struct uf_stage *stage_named(struct uf_graph *g, const char *name)
{
    for (size_t i = 0; i < g->pipelines[0].nstages; i++)
        if (strcmp(g->pipelines[0].stages[i]->name, name) == 0)
            return g->pipelines[0].stages[i];
    return NULL;
}

static enum uf_batch_role batch_end(const void *ctx)
{
    (void)ctx;
    return UF_BATCH_END;
}

static int setup_with(void **state, const char *config)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    struct uf_diags d = { 0 };
    uf_log_level = UF_LOG_ERROR;
    sink.mode = AUTO;
    sink.nheld = 0;
    sink.release = false;
    fx->g = uf_graph_build(uf_config_load_string("test.yaml", config, &d), NULL, 0, &d);
    if (d.n)
        uf_diags_print(&d, stderr);
    assert_non_null(fx->g);
    uf_diags_free(&d);
    fx->api = stage_named(fx->g, "api");
    fx->hold = stage_named(fx->g, "hold");
    hold_kind = *fx->hold->kind;
    hold_kind.write = hold_write;
    hold_kind.takes_raw = sink.raw;
    hold_kind.raw_batch = sink.raw ? batch_end : NULL; /* it writes a batch whole */
    fx->hold->kind = &hold_kind;
    fx->small_api = stage_named(fx->g, "small_api");
    fx->tiny = stage_named(fx->g, "tiny");
    if (fx->tiny)
        fx->tiny->kind = &hold_kind;
    fx->rt = uf_runtime_new(fx->g);
    struct uf_err err = { 0 };
    assert_int_equal(uf_runtime_start(fx->rt, &err), 0);
    fx->port = (int)uf_metrics_extra_value(&fx->api->metrics, "http_listen_port", NULL);
    assert_true(fx->port > 0);
    if (fx->small_api)
        fx->small_port =
            (int)uf_metrics_extra_value(&fx->small_api->metrics, "http_listen_port", NULL);
    *state = fx;
    return 0;
}

static int setup(void **state)
{
    return setup_with(state, yaml);
}

/* The same pipeline, but its sink takes raw events: batch routes take the raw path. */
static int setup_raw(void **state)
{
    sink.raw = true;
    int rc = setup_with(state, yaml);
    sink.raw = false;
    return rc;
}

static int setup_stop(void **state)
{
    return setup_with(state, stop_yaml);
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    pthread_mutex_lock(&sink.mu);
    sink.release = true;
    sink.mode = AUTO;
    for (size_t i = 0; i < sink.nheld; i++)
        if (sink.held[i])
            uf_event_done(sink.held[i]);
    sink.nheld = 0;
    pthread_cond_broadcast(&sink.cond);
    pthread_mutex_unlock(&sink.mu);
    uf_runtime_request_stop(fx->rt);
    uf_runtime_run(fx->rt);
    uf_runtime_free(fx->rt);
    uf_graph_free(fx->g);
    json_decref(sink.last_body);
    json_decref(sink.last_meta);
    sink.last_body = sink.last_meta = NULL;
    free(sink.last_raw);
    sink.last_raw = NULL;
    sink.written = 0;
    free(fx);
    return 0;
}

/* ---- the client ---- */

struct call {
    const char *method, *path, *body, *ctype, *extra_header;
    bool chunked;
    int port;
    long status;
    char resp[8192], headers[4096];
    size_t rlen, hlen;
    json_t *json;
    double secs;
    pthread_t thread;
};

static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
    struct call *c = arg;
    size_t len = sz * n, room = sizeof(c->resp) - 1 - c->rlen;
    memcpy(c->resp + c->rlen, p, len < room ? len : room);
    c->rlen += len < room ? len : room;
    c->resp[c->rlen] = '\0';
    return len;
}

static size_t on_header(char *p, size_t sz, size_t n, void *arg)
{
    struct call *c = arg;
    size_t len = sz * n, room = sizeof(c->headers) - 1 - c->hlen;
    memcpy(c->headers + c->hlen, p, len < room ? len : room);
    c->hlen += len < room ? len : room;
    c->headers[c->hlen] = '\0';
    return len;
}

static CURL *prepare(struct call *c, struct curl_slist **hdrs)
{
    char url[512], ct[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", c->port, c->path);
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, c->method);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, c);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "test-agent/1");
    snprintf(ct, sizeof(ct), "Content-Type: %s", c->ctype ? c->ctype : "application/json");
    *hdrs = curl_slist_append(NULL, ct);
    if (c->extra_header)
        *hdrs = curl_slist_append(*hdrs, c->extra_header);
    if (c->chunked)
        *hdrs = curl_slist_append(*hdrs, "Transfer-Encoding: chunked");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, *hdrs);
    if (c->body)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, c->body);
    return h;
}

static void finish_call(struct call *c, CURL *h, struct curl_slist *hdrs)
{
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &c->status);
    curl_easy_getinfo(h, CURLINFO_TOTAL_TIME, &c->secs);
    c->json = c->rlen ? json_loads(c->resp, 0, NULL) : NULL;
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
}

static void perform(struct call *c)
{
    struct curl_slist *hdrs;
    CURL *h = prepare(c, &hdrs);
    CURLcode rc = curl_easy_perform(h);
    if (rc != CURLE_OK)
        fprintf(stderr, "curl %s %s: %s\n", c->method, c->path, curl_easy_strerror(rc));
    finish_call(c, h, hdrs);
}

static void *call_thread(void *arg)
{
    perform(arg);
    return NULL;
}

static void start_call(struct call *c)
{
    assert_int_equal(pthread_create(&c->thread, NULL, call_thread, c), 0);
}

static void join_call(struct call *c)
{
    pthread_join(c->thread, NULL);
}

static const char *err_code(const struct call *c)
{
    return json_string_value(json_object_get(json_object_get(c->json, "error"), "code"));
}

static const char *err_msg(const struct call *c)
{
    return json_string_value(json_object_get(json_object_get(c->json, "error"), "message"));
}

#define CALL(fx, m, p, b) (&(struct call){ .method = (m), .path = (p), .body = (b), .port = (fx)->port })

static struct call *run(struct call *c)
{
    perform(c);
    return c;
}

/* ---- tests ---- */

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
    assert_string_equal(json_string_value(json_object_get(json_object_get(b, "params"),
                                                          "movie_id")),
                        "m-42");
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
    assert_string_equal(json_string_value(json_object_get(json_object_get(sink.last_body, "body"),
                                                          "text")),
                        "hi");
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
    struct call *c = run(&(struct call){ .method = "POST", .path = "/tiny_json", .body = big,
                                         .port = fx->small_port });
    assert_int_equal(c->status, 200);
    json_decref(c->json);
    free(big);
    char hdr[6100] = "X-Big: ";
    memset(hdr + 7, 'h', 6000);
    hdr[6007] = '\0';
    c = run(&(struct call){ .method = "POST", .path = "/tiny/1", .extra_header = hdr,
                            .port = fx->small_port });
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
    assert_int_equal(json_integer_value(json_object_get(json_object_get(c->json, "error"),
                                                        "index")),
                     1);
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
    return uf_stage_consumers_take_raw(fx->api, 0);
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
        fail_msg("%s body '%s': %ld %s '%s'", raw ? "raw" : "tree", r->body, c->status,
                 err_code(c), err_msg(c));
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
    assert_string_equal(json_string_value(json_object_get(json_object_get(sink.last_body, "body"),
                                                          "text")),
                        "hi");
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
    struct call *c = CALL(fx, "POST", "/api/v1/events",
                          "[{\"type\":\"a\"},{\"type\":\"b\"},{\"type\":\"c\"}]");
    start_call(c);
    wait_held(3);
    for (size_t i = 0; i < 3; i++) {
        struct uf_event *ev = sink.held[i];
        assert_ptr_equal(ev->done, sink.held[0]->done);
        assert_int_equal(json_integer_value(json_object_get(uf_event_meta(ev), "index")), i);
        assert_int_equal(json_integer_value(json_object_get(uf_event_meta(ev), "count")), 3);
        assert_string_equal(json_string_value(json_object_get(uf_event_meta(ev), "route")),
                            "events");
        assert_string_equal(json_string_value(json_object_get(uf_event_meta(ev), "auth")),
                            "optional");
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
    for (int i = 0; i < 500 && uf_queue_depth(fx->tiny->q) < 1; i++)
        nanosleep(&(struct timespec){ .tv_nsec = 2000000 }, NULL);
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

static void test_concurrent_requests(void **state)
{
    struct fixture *fx = *state;
    enum { N = 40 };
    struct call calls[N];
    memset(calls, 0, sizeof(calls));
    CURLM *multi = curl_multi_init();
    CURL *handles[N];
    struct curl_slist *hdrs[N];
    for (int i = 0; i < N; i++) {
        calls[i] = (struct call){ .method = "POST", .path = "/api/v1/events", .port = fx->port,
                                  .body = "{\"type\":\"x\"}" };
        handles[i] = prepare(&calls[i], &hdrs[i]);
        curl_multi_add_handle(multi, handles[i]);
    }
    int running = 1;
    while (running) {
        curl_multi_perform(multi, &running);
        if (running)
            curl_multi_poll(multi, NULL, 0, 100, NULL);
    }
    for (int i = 0; i < N; i++) {
        curl_multi_remove_handle(multi, handles[i]);
        finish_call(&calls[i], handles[i], hdrs[i]);
        assert_int_equal(calls[i].status, 202);
        assert_int_equal(json_integer_value(json_object_get(calls[i].json, "accepted")), 1);
        json_decref(calls[i].json);
    }
    curl_multi_cleanup(multi);
    assert_int_equal(uf_metrics_extra_value(&fx->api->metrics, "http_requests_total", "events"),
                     N);
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

static void *run_runtime(void *arg)
{
    uf_runtime_run(arg);
    return NULL;
}

static void test_graceful_stop_waits_for_in_flight(void **state)
{
    struct fixture *fx = *state;
    sink.mode = HOLD;
    struct call *c = CALL(fx, "POST", "/api/v1/movies/m1/like", NULL);
    start_call(c);
    wait_held(1);
    pthread_t t;
    uf_runtime_request_stop(fx->rt);
    pthread_create(&t, NULL, run_runtime, fx->rt);
    for (int i = 0; i < 500 && !uf_runtime_is_stopping(fx->rt); i++)
        nanosleep(&(struct timespec){ .tv_nsec = 2000000 }, NULL);
    uf_event_reply(sink.held[0], 200, json_pack("{s:s}", "done", "yes"));
    uf_event_done(take_held(0));
    join_call(c);
    pthread_join(t, NULL);
    assert_int_equal(c->status, 200);
    assert_string_equal(json_string_value(json_object_get(c->json, "done")), "yes");
    json_decref(c->json);
    sink.nheld = 0;
    uf_runtime_free(fx->rt);
    fx->rt = uf_runtime_new(fx->g); /* teardown stops and frees a runtime */
}

/* Starts the runtime's shutdown in a thread and waits until it began. */
static pthread_t begin_stop(struct fixture *fx)
{
    pthread_t t;
    uf_runtime_request_stop(fx->rt);
    pthread_create(&t, NULL, run_runtime, fx->rt);
    for (int i = 0; i < 500 && !uf_runtime_is_stopping(fx->rt); i++)
        nanosleep(&(struct timespec){ .tv_nsec = 2000000 }, NULL);
    return t;
}

static void end_stop(struct fixture *fx, pthread_t t)
{
    pthread_join(t, NULL);
    uf_runtime_free(fx->rt);
    fx->rt = uf_runtime_new(fx->g); /* teardown stops and frees a runtime */
}

static void wait_inflight(struct fixture *fx, int64_t n)
{
    for (int i = 0; i < 2500; i++) {
        if (uf_metrics_extra_value(&fx->api->metrics, "http_inflight_requests", NULL) == n)
            return;
        nanosleep(&(struct timespec){ .tv_nsec = 2000000 }, NULL);
    }
    fail_msg("in-flight requests never reached %lld", (long long)n);
}

static void assert_shutting_down(struct call *c)
{
    assert_int_equal(c->status, 503);
    assert_string_equal(err_code(c), "shutting_down");
    assert_non_null(strstr(c->headers, "Retry-After: 1"));
    json_decref(c->json);
}

/* Sends the head of a POST /up and the first bytes of its body; returns the socket. */
static int start_upload(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    struct timeval tv = { .tv_sec = 10 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    static const char head[] = "POST /up HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                               "Content-Length: 7\r\n\r\n{\"a\"";
    assert_int_equal(send(fd, head, strlen(head), MSG_NOSIGNAL), (ssize_t)strlen(head));
    return fd;
}

/* Sends the rest of the body and reads the whole answer (the server closes when stopping). */
static void finish_upload(int fd, char *resp, size_t n)
{
    assert_int_equal(send(fd, ":1}", 3, MSG_NOSIGNAL), 3);
    size_t len = 0;
    ssize_t r;
    while (len + 1 < n && (r = recv(fd, resp + len, n - 1 - len, 0)) > 0)
        len += (size_t)r;
    resp[len] = '\0';
    close(fd);
}

/* A body still uploading when stop abandons the waiting requests must not be emitted and
 * suspended afterwards: nothing would resume it, and libmicrohttpd aborts the process when the
 * daemon is stopped with a suspended connection. It gets 503 instead. */
static void test_stop_answers_request_uploading_after_abandon(void **state)
{
    struct fixture *fx = *state;
    sink.mode = HOLD;
    struct call *a = CALL(fx, "POST", "/b/1", NULL);
    start_call(a);
    wait_held(1);
    int fd = start_upload(fx->port);
    wait_inflight(fx, 2);
    pthread_t t = begin_stop(fx);
    join_call(a); /* answered once stop gave up waiting (the 1s deadline) */
    assert_shutting_down(a);
    char resp[2048];
    finish_upload(fd, resp, sizeof(resp));
    assert_non_null(strstr(resp, "HTTP/1.1 503"));
    assert_non_null(strstr(resp, "shutting_down"));
    assert_non_null(strstr(resp, "Retry-After: 1"));
    end_stop(fx, t);
    assert_int_equal(sink.nheld, 1); /* the late body was not emitted */
}

/* A request blocked in uf_emit on a full `when_full: block` queue when stop abandons the
 * waiting requests returns from it later; it must be answered, not suspended. */
static void test_stop_answers_request_blocked_on_full_queue(void **state)
{
    struct fixture *fx = *state;
    sink.mode = BLOCK;
    struct call *a = CALL(fx, "POST", "/b/1", NULL);
    struct call *b = CALL(fx, "POST", "/b/2", NULL);
    struct call *c = CALL(fx, "POST", "/b/3", NULL);
    start_call(a);
    wait_held(1); /* the worker is inside write() */
    start_call(b);
    for (int i = 0; i < 500 && uf_queue_depth(fx->hold->q) < 1; i++)
        nanosleep(&(struct timespec){ .tv_nsec = 2000000 }, NULL);
    assert_int_equal(uf_queue_depth(fx->hold->q), 1);
    start_call(c); /* blocks in uf_emit: the queue is full */
    wait_inflight(fx, 3);
    pthread_t t = begin_stop(fx);
    join_call(a); /* abandoned at the deadline */
    join_call(b);
    assert_shutting_down(a);
    assert_shutting_down(b);
    pthread_mutex_lock(&sink.mu);
    sink.release = true; /* the queue drains: c's uf_emit returns after the abandon */
    pthread_cond_broadcast(&sink.cond);
    pthread_mutex_unlock(&sink.mu);
    join_call(c);
    end_stop(fx, t);
    assert_shutting_down(c);
}

/* Listening sockets (state 0A) on port in /proc/net/tcp. */
static int count_listeners(int port)
{
    FILE *f = fopen("/proc/net/tcp", "r");
    char line[512];
    int n = 0;
    unsigned lport, st;
    assert_non_null(f);
    while (fgets(line, sizeof line, f))
        if (sscanf(line, " %*d: %*8x:%4x %*8x:%*4x %2x", &lport, &st) == 2 &&
            (int)lport == port && st == 0x0A)
            n++;
    fclose(f);
    return n;
}

/* threads: 2 listens with two sockets on one port (SO_REUSEPORT: the kernel spreads the
 * connections over the listener threads), and every request on fresh connections is answered. */
static void test_one_listener_per_thread(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(count_listeners(fx->port), 2);
    for (int i = 0; i < 8; i++) {
        struct call *c = run(CALL(fx, "GET", "/api/v1/movies/m1/comments", NULL));
        assert_int_equal(c->status, 200);
        json_decref(c->json);
    }
}

/* A port held by another listener is refused, even one that allows SO_REUSEPORT sharing: the
 * listener threads share their port, nobody else may. */
static void test_port_in_use_is_refused(void **state)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, len), 0);
    assert_int_equal(listen(fd, 8), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    char *y;
    assert_true(asprintf(&y,
                         "pipelines:\n  t:\n    components:\n      api:\n        kind: http\n"
                         "        address: 127.0.0.1:%d\n        threads: 2\n"
                         "        routes: {\"POST /x\": {}}\n      out:\n        kind: null\n"
                         "        inputs: [api]\n",
                         ntohs(a.sin_port)) > 0);
    struct uf_diags d = { 0 };
    struct uf_graph *g = uf_graph_build(uf_config_load_string("t.yaml", y, &d), NULL, 0, &d);
    assert_non_null(g);
    struct uf_runtime *rt = uf_runtime_new(g);
    struct uf_err err = { 0 };
    assert_int_not_equal(uf_runtime_start(rt, &err), 0);
    if (!strstr(err.msg, "cannot listen on 127.0.0.1:") || !strstr(err.msg, "in use"))
        fail_msg("unexpected error: '%s'", err.msg);
    uf_runtime_request_stop(rt);
    uf_runtime_run(rt);
    uf_runtime_free(rt);
    uf_graph_free(g);
    free(y);
    close(fd);
}

static void test_route_table_errors(void **state)
{
    static const char *const bad[][2] = {
        { "\"POST /x\": {bdy: json}", "routes: \"POST /x\": unknown setting 'bdy' (did you mean "
                                      "'body'?)" },
        { "\"FETCH /x\": {}", "routes: \"FETCH /x\": unknown method 'FETCH'" },
        { "\"POST /x\": {split_array: true}", "routes: \"POST /x\": split_array needs body: json" },
        { "\"POST /x\": {timeout: soon}", "routes: \"POST /x\": timeout" },
        { "\"GET /a/b{id}\": {}", "a parameter must be a whole segment" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *y;
        assert_true(asprintf(&y,
                             "pipelines:\n  t:\n    components:\n      api:\n        kind: http\n"
                             "        routes: {%s}\n      out:\n        kind: null\n"
                             "        inputs: [api]\n",
                             bad[i][0]) > 0);
        struct uf_diags d = { 0 };
        struct uf_graph *g = uf_graph_build(uf_config_load_string("t.yaml", y, &d), NULL, 0, &d);
        assert_null(g);
        assert_true(d.n >= 1);
        if (!strstr(d.v[0].msg, bad[i][1]))
            fail_msg("'%s' not in '%s'", bad[i][1], d.v[0].msg);
        uf_diags_free(&d);
        free(y);
    }
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
        cmocka_unit_test_setup_teardown(test_concurrent_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fire_and_forget, setup, teardown),
        cmocka_unit_test_setup_teardown(test_graceful_stop_waits_for_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_answers_request_uploading_after_abandon,
                                        setup_stop, teardown),
        cmocka_unit_test_setup_teardown(test_stop_answers_request_blocked_on_full_queue,
                                        setup_stop, teardown),
        cmocka_unit_test_setup_teardown(test_one_listener_per_thread, setup, teardown),
        cmocka_unit_test(test_port_in_use_is_refused),
        cmocka_unit_test(test_route_table_errors),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
