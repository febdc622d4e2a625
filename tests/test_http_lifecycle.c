/* test_http_lifecycle.c: the `http` source's life around its requests (the pipeline and
 * client of tests/support/http_fixture.h): many concurrent requests, a graceful stop, a stop
 * that meets requests still uploading or blocked on a full queue (answered 503, never left
 * suspended: libmicrohttpd aborts the process when stopped with a suspended connection), one
 * listening socket per thread, a port held by someone else, and route table errors. */
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
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "framework/config.h"
#include "framework/event.h"
#include "framework/graph.h"
#include "framework/queue.h"
#include "framework/runtime.h"
#include "tests/support/http_fixture.h"
#include "tests/support/poll.h"

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
        calls[i] = (struct call){
            .method = "POST", .path = "/api/v1/events", .port = fx->port, .body = "{\"type\":\"x\"}"
        };
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
    assert_int_equal(uf_metrics_extra_value(&fx->api->metrics, "http_requests_total", "events"), N);
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
    WAIT_FOR(uf_runtime_is_stopping(fx->rt), 1000);
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
    WAIT_FOR(uf_runtime_is_stopping(fx->rt), 1000);
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
    WAIT_FOR(uf_metrics_extra_value(&fx->api->metrics, "http_inflight_requests", NULL) == n, 5000);
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
    WAIT_FOR(uf_queue_depth(fx->hold->q) >= 1, 1000);
    assert_int_equal(uf_queue_depth(fx->hold->q), 1);
    start_call(c); /* blocks in uf_emit: the queue is full */
    wait_inflight(fx, 3);
    pthread_t t = begin_stop(fx);
    join_call(a); /* abandoned at the deadline */
    join_call(b);
    assert_shutting_down(a);
    assert_shutting_down(b);
    release_sink(); /* the queue drains: c's uf_emit returns after the abandon */
    join_call(c);
    end_stop(fx, t);
    assert_shutting_down(c);
}

/* A batch of offload_items items or more is emitted by a batch worker, a smaller one by its
 * listener thread (as a single request); either way the reply counts what was sent, and a
 * completion that runs while the worker still emits (the sink finishes at once) is answered. */
static void test_big_batches_go_to_a_worker(void **state)
{
    struct fixture *fx = *state;
    const char *name = "http_offloaded_requests_total";
    for (int i = 0; i < 2; i++) {
        struct call *s = run(CALL(fx, "POST", "/api/v1/batch", "[{\"n\":1},{\"n\":2}]"));
        assert_int_equal(s->status, 202);
        assert_int_equal(json_integer_value(json_object_get(s->json, "accepted")), 2);
        json_decref(s->json);
        assert_int_equal(uf_metrics_extra_value(&fx->api->metrics, name, NULL), i);
        struct call *b = run(CALL(fx, "POST", "/api/v1/events", "[{\"a\":1},{\"a\":2},{\"a\":3}]"));
        assert_int_equal(b->status, 202);
        assert_int_equal(json_integer_value(json_object_get(b->json, "accepted")), 3);
        json_decref(b->json);
        assert_int_equal(uf_metrics_extra_value(&fx->api->metrics, name, NULL), i + 1);
    }
    /* A refused batch is answered from the worker too: the completion carries the 503. */
    sink.mode = HOLD;
    struct call *h = CALL(fx, "POST", "/api/v1/batch", "[{\"n\":1},{\"n\":2},{\"n\":3}]");
    start_call(h);
    wait_held(1);
    uf_event_fail(take_held(0), 503, "refused", "refused by the test");
    join_call(h);
    assert_int_equal(h->status, 503);
    json_decref(h->json);
}

/* With both workers stuck in the pipeline (the sink's one-slot queue full, `when_full: block`),
 * eight batches wait for them and the next is emitted by its listener itself; once the
 * pipeline moves, every one is answered. */
static void test_full_worker_queue_falls_back_to_the_listener(void **state)
{
    struct fixture *fx = *state;
    enum { N = 13 }; /* one in write(), one in the queue, two workers blocked, eight waiting */
    const char *name = "http_offloaded_requests_total";
    static struct call calls[N];
    sink.mode = BLOCK;
    for (int i = 0; i < N; i++) {
        calls[i] = *CALL(fx, "POST", "/batch", "[{\"n\":1},{\"n\":2}]");
        start_call(&calls[i]);
        if (i == 0)
            wait_held(1); /* the sink's worker is inside write() */
        wait_inflight(fx, i + 1);
        if (i < N - 1)
            WAIT_FOR(uf_metrics_extra_value(&fx->api->metrics, name, NULL) >= i + 1, 1000);
    }
    release_sink();
    wait_held(N);
    for (size_t i = 0; i < N; i++)
        uf_event_done(take_held(i));
    for (int i = 0; i < N; i++) {
        join_call(&calls[i]);
        assert_int_equal(calls[i].status, 200); /* the route's success status */
        assert_int_equal(json_integer_value(json_object_get(calls[i].json, "accepted")), 2);
        json_decref(calls[i].json);
    }
    /* Every call is answered, so every one was either offloaded or not: the last was not. */
    assert_int_equal(uf_metrics_extra_value(&fx->api->metrics, name, NULL), N - 1);
}

/* An offloaded batch still waiting when stop gives up is answered 503, as one that waits on
 * its listener is, and the workers end with the daemons. */
static void test_stop_answers_offloaded_batch(void **state)
{
    struct fixture *fx = *state;
    sink.mode = HOLD;
    struct call *a = CALL(fx, "POST", "/batch", "[{\"n\":1},{\"n\":2}]");
    start_call(a);
    wait_held(1);
    assert_int_equal(
        uf_metrics_extra_value(&fx->api->metrics, "http_offloaded_requests_total", NULL), 1);
    int64_t t0 = uf_now_us();
    pthread_t t = begin_stop(fx);
    join_call(a);
    assert_shutting_down(a);
    end_stop(fx, t);
    /* The 1 s shutdown deadline, then the abandon: no waiting for a count that never drops. */
    assert_true(uf_now_us() - t0 < 2500000);
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
        if (sscanf(line, " %*d: %*8x:%4x %*8x:%*4x %2x", &lport, &st) == 2 && (int)lport == port &&
            st == 0x0A)
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
        cmocka_unit_test_setup_teardown(test_concurrent_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_graceful_stop_waits_for_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_answers_request_uploading_after_abandon,
                                        setup_stop, teardown),
        cmocka_unit_test_setup_teardown(test_stop_answers_request_blocked_on_full_queue, setup_stop,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_one_listener_per_thread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_big_batches_go_to_a_worker, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_answers_offloaded_batch, setup_stop, teardown),
        cmocka_unit_test_setup_teardown(test_full_worker_queue_falls_back_to_the_listener,
                                        setup_stop, teardown),
        cmocka_unit_test(test_port_in_use_is_refused),
        cmocka_unit_test(test_route_table_errors),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
