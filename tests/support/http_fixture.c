/* tests/support/http_fixture.c: the `http` source's test pipeline, test sink and client (see
 * http_fixture.h). */
#include "tests/support/http_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "framework/config.h"
#include "framework/event_int.h"
#include "framework/log.h"

const char *const http_test_yaml =
    "shutdown_timeout: 5s\n"
    "pipelines:\n"
    "  t:\n"
    "    components:\n"
    "      api:\n"
    "        kind: http\n"
    "        address: 127.0.0.1:0\n"
    "        threads: 2\n"
    "        batch_workers: 1\n"
    "        offload_items: 3\n"
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
const char *const http_test_stop_yaml =
    "shutdown_timeout: 1s\n"
    "pipelines:\n"
    "  t:\n"
    "    components:\n"
    "      api:\n"
    "        kind: http\n"
    "        address: 127.0.0.1:0\n"
    "        threads: 4\n"
    "        batch_workers: 2\n"
    "        offload_items: 2\n"
    "        event_loop: poll\n"
    "        routes:\n"
    "          \"POST /up\": {name: up, body: json}\n"
    "          \"POST /batch\": {name: batch, body: json, batch: true}\n"
    "          \"POST /b/{n}\": {name: b}\n"
    "      hold:\n"
    "        kind: null\n"
    "        inputs: [api]\n"
    "        buffer: 1\n"
    "        when_full: block\n"
    "        batch_max: 1\n";

/* ---- the test sink ---- */

struct http_test_sink sink = { .mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

static struct uf_kind hold_kind;

static void finish_auto(struct uf_event *ev)
{
    const char *route = json_string_value(uf_event_meta_get(ev, "route"));
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
        sink.last_meta = evs[i]->meta ? json_deep_copy(evs[i]->meta) : json_object();
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

void release_sink(void)
{
    pthread_mutex_lock(&sink.mu);
    sink.release = true;
    pthread_cond_broadcast(&sink.cond);
    pthread_mutex_unlock(&sink.mu);
}

/* Waits (against a deadline) until n events are held. */
void wait_held(size_t n)
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

struct uf_event *take_held(size_t i)
{
    pthread_mutex_lock(&sink.mu);
    struct uf_event *ev = sink.held[i];
    sink.held[i] = NULL;
    pthread_mutex_unlock(&sink.mu);
    return ev;
}

/* ---- the pipeline ---- */

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
    hold_kind.batch = sink.raw ? batch_end : NULL; /* it writes a batch whole */
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

int setup(void **state)
{
    return setup_with(state, http_test_yaml);
}

/* The same pipeline, but its sink ends batches: batch routes hold the request's text. */
int setup_raw(void **state)
{
    sink.raw = true;
    int rc = setup_with(state, http_test_yaml);
    sink.raw = false;
    return rc;
}

int setup_stop(void **state)
{
    return setup_with(state, http_test_stop_yaml);
}

int teardown(void **state)
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

/* Appends what fits of n bytes at p to buf (cap bytes, *used of them taken), NUL-terminated;
 * returns n, so libcurl goes on (a long answer is cut, not failed). */
static size_t keep(char *buf, size_t cap, size_t *used, const char *p, size_t n)
{
    size_t room = cap - 1 - *used, take = n < room ? n : room;
    memcpy(buf + *used, p, take);
    *used += take;
    buf[*used] = '\0';
    return n;
}

static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
    struct call *c = arg;
    return keep(c->resp, sizeof(c->resp), &c->rlen, p, sz * n);
}

static size_t on_header(char *p, size_t sz, size_t n, void *arg)
{
    struct call *c = arg;
    return keep(c->headers, sizeof(c->headers), &c->hlen, p, sz * n);
}

CURL *prepare(struct call *c, struct curl_slist **hdrs)
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

void finish_call(struct call *c, CURL *h, struct curl_slist *hdrs)
{
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &c->status);
    curl_easy_getinfo(h, CURLINFO_TOTAL_TIME, &c->secs);
    c->json = c->rlen ? json_loads(c->resp, 0, NULL) : NULL;
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
}

void perform(struct call *c)
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

void start_call(struct call *c)
{
    assert_int_equal(pthread_create(&c->thread, NULL, call_thread, c), 0);
}

void join_call(struct call *c)
{
    pthread_join(c->thread, NULL);
}

const char *err_code(const struct call *c)
{
    return json_string_value(json_object_get(json_object_get(c->json, "error"), "code"));
}

const char *err_msg(const struct call *c)
{
    return json_string_value(json_object_get(json_object_get(c->json, "error"), "message"));
}

struct call *run(struct call *c)
{
    perform(c);
    return c;
}
