/* tests/test_runtime.c: the engine at work: fan-out ownership, request/reply completion and
 * timeout, backpressure that rejects with 503, graceful shutdown that loses nothing, and the
 * Prometheus exposition. Test-only kinds are registered through uf_registry_set_extra. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "framework/config.h"
#include "framework/event_int.h"
#include "framework/graph.h"
#include "framework/registry.h"
#include "framework/runtime.h"
#include "tests/support/poll.h"
#include "tests/support/graph_find.h"

/* ---- test kinds ---- */

static const struct uf_kind t_source = { .name = "t_source", .role = UF_SOURCE, .summary = "test" };

struct reply_ctx {
    int64_t status;
};
static const struct uf_option reply_options[] = { { .name = "status",
                                                    .type = UF_OPT_INT,
                                                    .def = "201",
                                                    .min = 100,
                                                    .max = 599,
                                                    .desc = "status",
                                                    .offset = offsetof(struct reply_ctx, status) },
                                                  { 0 } };
static int reply_write(struct uf_stage *st, void *ctx, struct uf_event **evs, size_t n,
                       struct uf_err *err)
{
    struct reply_ctx *c = ctx;
    for (size_t i = 0; i < n; i++) {
        uf_event_reply(evs[i], (int)c->status, json_pack("{s:O}", "echo", evs[i]->body));
        uf_event_done(evs[i]);
    }
    return UF_OK;
}
static const struct uf_kind t_reply = { .name = "t_reply",
                                        .role = UF_SINK,
                                        .summary = "test",
                                        .options = reply_options,
                                        .ctx_size = sizeof(struct reply_ctx),
                                        .write = reply_write };

/* Holds events until stop(), like a sink waiting on a slow server. */
struct hold_ctx {
    pthread_mutex_t mu;
    struct uf_event *held[64];
    size_t n;
};
static int hold_start(struct uf_stage *st, void *ctx, struct uf_err *err)
{
    pthread_mutex_init(&((struct hold_ctx *)ctx)->mu, NULL);
    return 0;
}
static int hold_write(struct uf_stage *st, void *ctx, struct uf_event **evs, size_t n,
                      struct uf_err *err)
{
    struct hold_ctx *c = ctx;
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < n; i++)
        c->held[c->n++] = evs[i];
    pthread_mutex_unlock(&c->mu);
    return UF_OK;
}
static void hold_stop(struct uf_stage *st, void *ctx)
{
    struct hold_ctx *c = ctx;
    for (size_t i = 0; i < c->n; i++)
        uf_event_done(c->held[i]);
    c->n = 0;
}
static const struct uf_kind t_hold = { .name = "t_hold",
                                       .role = UF_SINK,
                                       .summary = "test",
                                       .ctx_size = sizeof(struct hold_ctx),
                                       .start = hold_start,
                                       .write = hold_write,
                                       .stop = hold_stop };

/* Blocks in write() until released: a stuck downstream. */
static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static bool gate_open, gate_entered;
static int gate_write(struct uf_stage *st, void *ctx, struct uf_event **evs, size_t n,
                      struct uf_err *err)
{
    pthread_mutex_lock(&gate_mu);
    gate_entered = true;
    pthread_cond_broadcast(&gate_cv);
    while (!gate_open)
        pthread_cond_wait(&gate_cv, &gate_mu);
    pthread_mutex_unlock(&gate_mu);
    for (size_t i = 0; i < n; i++)
        uf_event_done(evs[i]);
    return UF_OK;
}
static const struct uf_kind t_gate = {
    .name = "t_gate", .role = UF_SINK, .summary = "test", .write = gate_write
};

/* Slow sink: 200 us per batch, so a queue builds up before shutdown. */
static int slow_write(struct uf_stage *st, void *ctx, struct uf_event **evs, size_t n,
                      struct uf_err *err)
{
    struct timespec ts = { 0, 200000 };
    nanosleep(&ts, NULL);
    for (size_t i = 0; i < n; i++)
        uf_event_done(evs[i]);
    return UF_OK;
}
static const struct uf_kind t_slow = {
    .name = "t_slow", .role = UF_SINK, .summary = "test", .write = slow_write
};

/* Counts tick() calls: a sink that flushes on age. A tick after the stage's stop() is late. */
static atomic_int ticks, late_ticks;
static atomic_bool ticking_stopped;
static void count_tick(struct uf_stage *st, void *ctx)
{
    atomic_fetch_add(&ticks, 1);
    if (atomic_load(&ticking_stopped))
        atomic_fetch_add(&late_ticks, 1);
}
static void mark_stopped(struct uf_stage *st, void *ctx)
{
    atomic_store(&ticking_stopped, true);
}
static const struct uf_kind t_ticking = { .name = "t_ticking",
                                          .role = UF_SINK,
                                          .summary = "test",
                                          .write = slow_write,
                                          .tick = count_tick,
                                          .stop = mark_stopped };

static const struct uf_kind *const test_kinds[] = { &t_source, &t_reply,   &t_hold, &t_gate,
                                                    &t_slow,   &t_ticking, NULL };

/* ---- helpers ---- */

static struct uf_graph *build(const char *yaml)
{
    struct uf_diags d = { 0 };
    struct uf_config *cfg = uf_config_load_string("t.yaml", yaml, &d);
    struct uf_graph *g = cfg ? uf_graph_build(cfg, NULL, 0, &d) : NULL;
    if (d.n)
        uf_diags_print(&d, stderr);
    assert_int_equal(d.n, 0);
    uf_diags_free(&d);
    assert_non_null(g);
    return g;
}

static uint64_t count(struct uf_graph *g, const char *name,
                      _Atomic uint64_t *(*field)(struct uf_metrics *))
{
    return atomic_load(field(&test_stage(g, name)->metrics));
}
static _Atomic uint64_t *f_in(struct uf_metrics *m)
{
    return &m->in;
}
static _Atomic uint64_t *f_out(struct uf_metrics *m)
{
    return &m->out;
}

/* ---- tests ---- */

static void test_fanout_copies(void **state)
{
    struct uf_graph *g = build("pipelines:\n  p:\n    components:\n"
                               "      src: {kind: t_source}\n"
                               "      a: {kind: set, inputs: [src], fields: {branch: a}}\n"
                               "      b: {kind: set, inputs: [src], fields: {branch: b}}\n"
                               "      out: {kind: t_hold, inputs: [a, b], buffer: 0}\n");
    struct uf_runtime *rt = uf_runtime_new(g);
    struct uf_err err = { 0 };
    assert_int_equal(uf_runtime_start(rt, &err), 0);
    struct uf_completion *c;
    struct uf_waiter *w = uf_waiter_new(&c);
    struct uf_event *ev = uf_event_new(json_pack("{s:s}", "type", "x"));
    uf_completion_attach(c, ev);
    uf_completion_release(c);
    uf_emit(test_stage(g, "src"), ev);
    struct hold_ctx *h = test_stage(g, "out")->ctx;
    assert_int_equal(h->n, 2);
    /* Each branch received its own copy: the two values differ. */
    const char *b0 = json_string_value(json_object_get(h->held[0]->body, "branch"));
    const char *b1 = json_string_value(json_object_get(h->held[1]->body, "branch"));
    assert_string_not_equal(b0, b1);
    assert_ptr_not_equal(h->held[0]->body, h->held[1]->body);
    assert_int_equal(uf_waiter_wait(w, 10), UF_ETIMEOUT); /* both copies still held */
    uf_runtime_request_stop(rt);
    assert_int_equal(uf_runtime_run(rt), 0); /* hold_stop finishes both */
    assert_int_equal(uf_waiter_wait(w, 1000), 0);
    assert_int_equal(uf_waiter_count(w, UF_OUTCOME_DONE), 2);
    uf_waiter_free(w);
    uf_runtime_free(rt);
    uf_graph_free(g);
}

static void test_request_reply(void **state)
{
    struct uf_graph *g = build("pipelines:\n  p:\n    components:\n"
                               "      src: {kind: t_source}\n"
                               "      tag: {kind: set, inputs: [src], fields: {seen: true}}\n"
                               "      store: {kind: t_reply, inputs: [tag], status: 201}\n");
    struct uf_runtime *rt = uf_runtime_new(g);
    struct uf_err err = { 0 };
    assert_int_equal(uf_runtime_start(rt, &err), 0);
    struct uf_completion *c;
    struct uf_waiter *w = uf_waiter_new(&c);
    struct uf_event *ev = uf_event_new(json_pack("{s:s}", "text", "great movie"));
    uf_completion_attach(c, ev);
    uf_completion_release(c);
    uf_emit(test_stage(g, "src"), ev); /* crosses the sink's queue to its worker */
    assert_int_equal(uf_waiter_wait(w, 5000), 0);
    assert_int_equal(uf_waiter_status(w), 201);
    json_t *echo = json_object_get(uf_waiter_body(w), "echo");
    assert_string_equal(json_string_value(json_object_get(echo, "text")), "great movie");
    assert_true(json_is_true(json_object_get(echo, "seen")));
    uf_waiter_free(w);
    uf_runtime_request_stop(rt);
    assert_int_equal(uf_runtime_run(rt), 0);
    uf_runtime_free(rt);
    uf_graph_free(g);
}

static void test_reply_timeout(void **state)
{
    struct uf_graph *g = build("pipelines:\n  p:\n    components:\n"
                               "      src: {kind: t_source}\n"
                               "      store: {kind: t_hold, inputs: [src]}\n");
    struct uf_runtime *rt = uf_runtime_new(g);
    struct uf_err err = { 0 };
    assert_int_equal(uf_runtime_start(rt, &err), 0);
    struct uf_completion *c;
    struct uf_waiter *w = uf_waiter_new(&c);
    struct uf_event *ev = uf_event_new(NULL);
    uf_completion_attach(c, ev);
    uf_completion_release(c);
    uf_emit(test_stage(g, "src"), ev);
    assert_int_equal(uf_waiter_wait(w, 50), UF_ETIMEOUT); /* the HTTP source answers 504 */
    uf_waiter_free(w);
    uf_runtime_request_stop(rt);
    assert_int_equal(uf_runtime_run(rt), 0); /* the late completion runs after the waiter left */
    uf_runtime_free(rt);
    uf_graph_free(g);
}

static void test_reject_when_full(void **state)
{
    gate_open = false;
    gate_entered = false;
    struct uf_graph *g = build("pipelines:\n  p:\n    components:\n"
                               "      src: {kind: t_source}\n"
                               "      out: {kind: t_gate, inputs: [src], buffer: 1, batch_max: 1,"
                               " when_full: reject}\n");
    struct uf_runtime *rt = uf_runtime_new(g);
    struct uf_err err = { 0 };
    assert_int_equal(uf_runtime_start(rt, &err), 0);
    struct uf_stage *src = test_stage(g, "src");
    assert_int_equal(uf_emit(src, uf_event_new(NULL)), 0); /* taken by the worker, stuck */
    pthread_mutex_lock(&gate_mu);
    while (!gate_entered)
        pthread_cond_wait(&gate_cv, &gate_mu);
    pthread_mutex_unlock(&gate_mu);
    assert_int_equal(uf_emit(src, uf_event_new(NULL)), 0); /* fills the queue */
    struct uf_completion *c;
    struct uf_waiter *w = uf_waiter_new(&c);
    struct uf_event *ev = uf_event_new(NULL);
    uf_completion_attach(c, ev);
    uf_completion_release(c);
    assert_int_equal(uf_emit(src, ev), UF_EFULL);
    assert_int_equal(uf_waiter_wait(w, 1000), 0);
    assert_int_equal(uf_waiter_status(w), 503);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(uf_waiter_body(w), "error"), "code")),
        "overloaded");
    uf_waiter_free(w);
    assert_int_equal(atomic_load(&test_stage(g, "out")->metrics.errors), 1);
    pthread_mutex_lock(&gate_mu);
    gate_open = true;
    pthread_cond_broadcast(&gate_cv);
    pthread_mutex_unlock(&gate_mu);
    uf_runtime_request_stop(rt);
    assert_int_equal(uf_runtime_run(rt), 0);
    assert_int_equal(count(g, "out", f_out), 2);
    uf_runtime_free(rt);
    uf_graph_free(g);
}

static void test_shutdown_drains_everything(void **state)
{
    struct uf_graph *g =
        build("shutdown_timeout: 20s\npipelines:\n  p:\n    components:\n"
              "      gen: {kind: generate, threads: 2}\n"
              "      tag: {kind: set, inputs: [gen], fields: {x: 1}}\n"
              "      out: {kind: t_slow, inputs: [tag], buffer: 4096, batch_max: 16}\n");
    struct uf_runtime *rt = uf_runtime_new(g);
    struct uf_err err = { 0 };
    assert_int_equal(uf_runtime_start(rt, &err), 0);
    WAIT_FOR(atomic_load(&test_stage(g, "out")->metrics.in) >= 20000, 30000);
    uf_runtime_request_stop(rt);
    assert_int_equal(uf_runtime_run(rt), 0);
    uint64_t emitted = count(g, "gen", f_out);
    assert_true(emitted >= 20000);
    assert_int_equal(count(g, "tag", f_in), emitted);
    assert_int_equal(count(g, "out", f_in), emitted);
    assert_int_equal(count(g, "out", f_out), emitted); /* every accepted event was written */
    uf_runtime_free(rt);
    uf_graph_free(g);
}

static void test_source_done_stops(void **state)
{
    struct uf_graph *g = build("pipelines:\n  p:\n    components:\n"
                               "      gen: {kind: generate, count: 1000}\n"
                               "      out: {kind: null, inputs: [gen]}\n");
    struct uf_runtime *rt = uf_runtime_new(g);
    struct uf_err err = { 0 };
    assert_int_equal(uf_runtime_start(rt, &err), 0);
    assert_int_equal(uf_runtime_run(rt), 0); /* returns by itself once the source is done */
    assert_int_equal(count(g, "out", f_out), 1000);
    uf_runtime_free(rt);
    uf_graph_free(g);
}

static void test_metrics_exposition(void **state)
{
    struct uf_graph *g =
        build("pipelines:\n  p:\n    components:\n"
              "      gen: {kind: generate, count: 5}\n"
              "      r: {kind: route, inputs: [gen], field: message, routes: {hi: hello}}\n"
              "      out: {kind: null, inputs: [r.hi]}\n");
    struct uf_runtime *rt = uf_runtime_new(g);
    struct uf_err err = { 0 };
    assert_int_equal(uf_runtime_start(rt, &err), 0);
    assert_int_equal(uf_runtime_run(rt), 0);
    _Atomic int64_t *lag = uf_metrics_extra(&test_stage(g, "out")->metrics, UF_METRIC_GAUGE,
                                            "consumer_lag", "Messages behind.", "partition", "3");
    atomic_store(lag, 42);
    char *text = uf_runtime_metrics_text(rt);
    const char *expect[] = {
        "# TYPE ugcflow_component_received_events_total counter\n",
        "ugcflow_component_received_events_total{pipeline=\"p\",component=\"out\",kind=\"null\"} "
        "5\n",
        "ugcflow_component_sent_events_total{pipeline=\"p\",component=\"gen\",kind=\"generate\"} "
        "5\n",
        "# TYPE ugcflow_component_latency_seconds histogram\n",
        "ugcflow_component_latency_seconds_bucket{pipeline=\"p\",component=\"r\",kind=\"route\",le="
        "\"+Inf\"} 5\n",
        "ugcflow_component_latency_seconds_count{pipeline=\"p\",component=\"r\",kind=\"route\"} "
        "5\n",
        "ugcflow_component_queue_capacity{pipeline=\"p\",component=\"out\",kind=\"null\"} 4096\n",
        "# TYPE ugcflow_component_consumer_lag gauge\n",
        "ugcflow_component_consumer_lag{pipeline=\"p\",component=\"out\",kind=\"null\",partition="
        "\"3\"} 42\n",
    };
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++)
        if (!strstr(text, expect[i]))
            fail_msg("missing: %s", expect[i]);
    /* Each family is announced exactly once. */
    const char *first = strstr(text, "# TYPE ugcflow_component_errors_total");
    assert_non_null(first);
    assert_null(strstr(first + 1, "# TYPE ugcflow_component_errors_total"));
    /* Every sample line is "name{labels} value". */
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
        if (line[0] != '#')
            assert_non_null(strstr(line, "} "));
    free(text);
    uf_runtime_free(rt);
    uf_graph_free(g);
}

static void test_unbuffered_sink_ticks(void **state)
{
    /* A sink run in the caller's thread (buffer: 0) has no worker, yet its timer still runs. */
    struct uf_graph *g =
        build("pipelines:\n  p:\n    components:\n"
              "      src: {kind: t_source}\n"
              "      out: {kind: t_ticking, inputs: [src], buffer: 0, tick: 5ms}\n");
    struct uf_runtime *rt = uf_runtime_new(g);
    struct uf_err err = { 0 };
    atomic_store(&ticks, 0);
    atomic_store(&late_ticks, 0);
    atomic_store(&ticking_stopped, false);
    assert_int_equal(uf_runtime_start(rt, &err), 0);
    WAIT_FOR(atomic_load(&ticks) >= 3, 2000);
    uf_runtime_request_stop(rt);
    assert_int_equal(uf_runtime_run(rt), 0);
    /* The ticker is joined before the stage's stop(): no tick reaches a stopped stage. */
    assert_true(atomic_load(&ticking_stopped));
    assert_int_equal(atomic_load(&late_ticks), 0);
    uf_runtime_free(rt);
    uf_graph_free(g);
}

int main(void)
{
    uf_registry_set_extra(test_kinds);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fanout_copies),
        cmocka_unit_test(test_request_reply),
        cmocka_unit_test(test_reply_timeout),
        cmocka_unit_test(test_reject_when_full),
        cmocka_unit_test(test_shutdown_drains_everything),
        cmocka_unit_test(test_source_done_stops),
        cmocka_unit_test(test_metrics_exposition),
        cmocka_unit_test(test_unbuffered_sink_ticks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
