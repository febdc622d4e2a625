/* tests/support/http_fixture.h: the scaffolding of the `http` source's tests (test_http.c,
 * test_http_lifecycle.c): a pipeline http -> "hold" sink built from YAML and run, with the
 * sink's write() replaced so a test decides when and how each event finishes (auto: at once,
 * with an optional reply; hold: kept until the test releases it; block: write() waits, to fill
 * the queue), and a libcurl client for the listener on its free port. One pipeline runs at a
 * time per test binary: the sink's state is this module's. */
#ifndef UF_TEST_HTTP_FIXTURE_H
#define UF_TEST_HTTP_FIXTURE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>
#include <jansson.h>

#include "framework/event.h"
#include "framework/graph.h"
#include "framework/runtime.h"

/* The pipelines: routes of every kind beside a second, small listener (http_test_yaml; its
 * batch and split_array requests of 3 items go to a batch worker, smaller ones do not); a short
 * shutdown deadline and a blocking one-slot queue before the sink (http_test_stop_yaml, with
 * batches of 2 items or more offloaded). */
extern const char *const http_test_yaml;
extern const char *const http_test_stop_yaml;

enum hold_mode { AUTO, HOLD, BLOCK };

/* The test sink's state; mu guards it while the runtime runs. */
struct http_test_sink {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    enum hold_mode mode;
    struct uf_event *held[64];
    size_t nheld;
    json_t *last_body, *last_meta;
    char *last_raw; /* the last event's raw text (NUL-terminated copy), NULL for a tree */
    bool last_raw_checked;
    size_t written; /* events write() received */
    bool raw;       /* the sink ends batches held as text (set before the runtime starts) */
    bool release;   /* BLOCK: lets write() return */
};
extern struct http_test_sink sink;

struct fixture {
    struct uf_graph *g;
    struct uf_runtime *rt;
    struct uf_stage *api, *hold, *small_api, *tiny;
    int port, small_port;
};

/* BLOCK: lets every write() waiting for it return (and later ones not wait). */
void release_sink(void);
/* Waits (against a deadline) until n events are held; takes held event i out. */
void wait_held(size_t n);
struct uf_event *take_held(size_t i);

/* cmocka setups: http_test_yaml with a sink that takes trees (setup) or raw events and ends raw
 * batches (setup_raw), or http_test_stop_yaml (setup_stop); teardown stops and frees. */
int setup(void **state);
int setup_raw(void **state);
int setup_stop(void **state);
int teardown(void **state);

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

/* A prepared libcurl handle for c (headers in *hdrs), and the reading of its answer into c. */
CURL *prepare(struct call *c, struct curl_slist **hdrs);
void finish_call(struct call *c, CURL *h, struct curl_slist *hdrs);
/* Runs c now (run returns c), or on a thread of its own (start_call, join_call). */
void perform(struct call *c);
struct call *run(struct call *c);
void start_call(struct call *c);
void join_call(struct call *c);
/* The answer's error code and message, NULL when there is none. */
const char *err_code(const struct call *c);
const char *err_msg(const struct call *c);

#define CALL(fx, m, p, b)                                                                          \
    (&(struct call){ .method = (m), .path = (p), .body = (b), .port = (fx)->port })

#endif
