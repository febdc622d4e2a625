/* test_watch_progress.c: the `watch_progress` sink without a database: events are finished at
 * once, positions are coalesced per (user, movie) with the newest event time winning, anonymous
 * and incomplete events are dropped, max_keys bounds what waits, and a missing dsn is an error;
 * raw events the same (the behaviour tests run both ways; raw and body events share keys).
 * The DSN points at a closed port, so every flush fails and the positions stay pending (the
 * table itself is covered by tests/it_watch_progress.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "framework/config.h"
#include "framework/event.h"
#include "framework/event_int.h"
#include "framework/graph.h"
#include "framework/metrics.h"

static struct uf_graph *g;
static struct uf_stage *st;

static struct uf_graph *build(const char *options, struct uf_diags *d)
{
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "pipelines:\n  t:\n    components:\n"
             "      src: {kind: generate}\n"
             "      wp: {kind: watch_progress, inputs: [src]%s}\n",
             options);
    struct uf_config *cfg = uf_config_load_string("t.yaml", yaml, d);
    return cfg ? uf_graph_build(cfg, NULL, 0, d) : NULL;
}

static void setup_with(const char *options)
{
    struct uf_diags d = { 0 };
    g = build(options, &d);
    for (size_t i = 0; i < d.n; i++)
        print_error("%s\n", d.v[i].msg);
    uf_diags_free(&d);
    assert_non_null(g);
    st = g->pipelines[0].stages[1];
    struct uf_err err = { 0 };
    assert_int_equal(st->kind->start(st, st->ctx, &err), 0);
    st->started = true;
}

static int teardown(void **state)
{
    st->kind->stop(st, st->ctx);
    st->started = false;
    uf_graph_free(g);
    return 0;
}

#define USER "0192f0c1-1111-7222-8333-444455556666"
#define MOVIE "0192f0c1-aaaa-7bbb-8ccc-ddddeeeeffff"

/* Whether put() makes raw events (owned texts, as enrich's output is) instead of bodies: the
 * behaviour tests run both ways and must see the same outcomes. */
static bool raw;

static struct uf_event *make_event(const char *body)
{
    if (!raw)
        return uf_event_new(json_loads(body, 0, NULL));
    struct uf_event *ev = uf_event_new_raw(NULL, 0, NULL);
    uf_event_set_raw(ev, strdup(body), strlen(body));
    return ev;
}

/* Writes one event; returns the waiter of its completion, finished already. */
static struct uf_waiter *write_event(const char *user, const char *body)
{
    struct uf_event *ev = make_event(body);
    if (user)
        uf_event_set_user(ev, user);
    struct uf_completion *c;
    struct uf_waiter *w = uf_waiter_new(&c);
    uf_completion_attach(c, ev);
    uf_completion_release(c);
    ev->at = st;
    struct uf_err err = { 0 };
    assert_int_equal(st->kind->write(st, st->ctx, &ev, 1, &err), UF_OK);
    assert_int_equal(uf_waiter_wait(w, 0), 0); /* finished before write() returned */
    return w;
}

/* Writes one event; returns the outcome its completion saw. */
static enum uf_outcome put(const char *user, const char *body)
{
    struct uf_waiter *w = write_event(user, body);
    enum uf_outcome o = uf_waiter_count(w, UF_OUTCOME_DONE)      ? UF_OUTCOME_DONE
                        : uf_waiter_count(w, UF_OUTCOME_DROPPED) ? UF_OUTCOME_DROPPED
                                                                 : UF_OUTCOME_FAILED;
    assert_int_equal(uf_waiter_status(w), 0);
    uf_waiter_free(w);
    return o;
}

static int64_t pending(void)
{
    return uf_metrics_extra_value(&st->metrics, "progress_pending_keys", NULL);
}

static void coalesces_and_drops(void **state)
{
    setup_with(", dsn: \"postgresql://x@127.0.0.1:1/x?connect_timeout=1\", flush_interval: 60s");
    const char *ev = "{\"event\":\"progress\",\"movie_id\":\"" MOVIE "\",\"position_s\":%d}";
    char body[256];
    for (int i = 0; i < 5; i++) {
        snprintf(body, sizeof body, ev, i * 10);
        assert_int_equal(put(USER, body), UF_OUTCOME_DONE);
    }
    assert_int_equal(pending(), 1); /* five heartbeats, one write */
    assert_int_equal(
        put(NULL, "{\"event\":\"progress\",\"movie_id\":\"" MOVIE "\",\"position_s\":1}"),
        UF_OUTCOME_DROPPED);
    assert_int_equal(put(USER, "{\"event\":\"progress\",\"movie_id\":\"m1\",\"position_s\":1}"),
                     UF_OUTCOME_DROPPED);
    assert_int_equal(put(USER, "{\"event\":\"open\",\"movie_id\":\"" MOVIE "\"}"),
                     UF_OUTCOME_DROPPED);
    assert_int_equal(put(USER, "{\"event\":\"complete\",\"duration_s\":5400,\"movie_id\":"
                               "\"0192f0c1-aaaa-7bbb-8ccc-000000000001\"}"),
                     UF_OUTCOME_DONE);
    assert_int_equal(pending(), 2);
    teardown(state);
}

static void max_keys_bounds_waiting_positions(void **state)
{
    setup_with(", dsn: \"postgresql://x@127.0.0.1:1/x?connect_timeout=1\", flush_interval: 60s,"
               " max_keys: 3");
    for (int i = 0; i < 5; i++) {
        char body[256];
        snprintf(body, sizeof body,
                 "{\"event\":\"progress\",\"movie_id\":"
                 "\"0192f0c1-aaaa-7bbb-8ccc-00000000000%d\",\"position_s\":5}",
                 i);
        assert_int_equal(put(USER, body), i < 3 ? UF_OUTCOME_DONE : UF_OUTCOME_DROPPED);
    }
    assert_int_equal(pending(), 3);
    assert_int_equal(uf_metrics_extra_value(&st->metrics, "progress_dropped_events_total", NULL),
                     2);
    teardown(state);
}

static void test_failed_flush_keeps_positions(void **state)
{
    setup_with(", dsn: \"postgresql://x@127.0.0.1:1/x?connect_timeout=1\", flush_interval: 20ms");
    assert_int_equal(
        put(USER, "{\"event\":\"pause\",\"movie_id\":\"" MOVIE "\",\"position_s\":42}"),
        UF_OUTCOME_DONE);
    int64_t deadline = uf_now_us() + 5000000;
    while (uf_metrics_extra_value(&st->metrics, "progress_write_failures_total", NULL) < 2)
        assert_true(uf_now_us() < deadline);
    assert_int_equal(pending(), 1);
    teardown(state);
}

/* Runs check with its events made as bodies, then again as raw texts. */
static void in_both_forms(void (*check)(void **), void **state)
{
    raw = false;
    check(state);
    raw = true;
    check(state);
    raw = false;
}

/* Raw and body events of one viewer and movie are one key (escaped strings decoded); values
 * of the wrong type count as missing, as in a body; a text that is not an object fails. */
static void test_coalesces_and_drops(void **state)
{
    in_both_forms(coalesces_and_drops, state);
}

static void test_max_keys_bounds_waiting_positions(void **state)
{
    in_both_forms(max_keys_bounds_waiting_positions, state);
}

static void test_raw_reads_like_body(void **state)
{
    setup_with(", dsn: \"postgresql://x@127.0.0.1:1/x?connect_timeout=1\", flush_interval: 60s");
    raw = false;
    assert_int_equal(
        put(USER, "{\"event\":\"progress\",\"movie_id\":\"" MOVIE "\",\"position_s\":10}"),
        UF_OUTCOME_DONE);
    raw = true;
    assert_int_equal(put(USER, " { \"event\" : \"progress\", \"movie_id\":"
                               "\"\\u0030192f0c1-aaaa-7bbb-8ccc-ddddeeeeffff\", \"position_s\":2e1,"
                               "\"ts\":\"2026-11-29T10:00:00Z\", \"x\":[{}]}"),
                     UF_OUTCOME_DONE);
    assert_int_equal(pending(), 1);
    const char *dropped[] = {
        "{\"event\":\"progress\",\"movie_id\":\"" MOVIE "\",\"position_s\":\"10\"}",
        "{\"event\":\"progress\",\"movie_id\":\"" MOVIE "\",\"position_s\":-1}",
        "{\"event\":\"progress\",\"movie_id\":\"" MOVIE "\",\"position_s\":1e400}",
        "{\"event\":\"progress\",\"movie_id\":7,\"position_s\":1}",
        "{\"event\":\"complete\",\"movie_id\":\"" MOVIE "\",\"duration_s\":null}",
    };
    for (size_t i = 0; i < sizeof dropped / sizeof dropped[0]; i++)
        assert_int_equal(put(USER, dropped[i]), UF_OUTCOME_DROPPED);
    assert_int_equal(put(USER, "{\"event\":\"compl\\u0065te\",\"duration_s\":5400,"
                               "\"movie_id\":\"0192f0c1-aaaa-7bbb-8ccc-000000000001\"}"),
                     UF_OUTCOME_DONE);
    assert_int_equal(pending(), 2);
    char pad[1000], text[1200]; /* beyond the stack scratch: decoded on the heap */
    memset(pad, 'p', sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    snprintf(text, sizeof text,
             "{\"pad\":\"%s\",\"event\":\"pause\",\"movie_id\":\"" MOVIE "\",\"position_s\":1}",
             pad);
    assert_int_equal(put(USER, text), UF_OUTCOME_DONE);
    assert_int_equal(pending(), 2);
    const char *bad[] = { "[]", "{\"event\":", "" };
    for (size_t i = 0; i < 3; i++) {
        struct uf_waiter *w = write_event(USER, bad[i]);
        assert_int_equal(uf_waiter_status(w), 400);
        uf_waiter_free(w);
    }
    raw = false;
    teardown(state);
}

static void test_dsn_is_required(void **state)
{
    struct uf_diags d = { 0 };
    assert_null(build("", &d));
    assert_int_equal(d.n, 1);
    assert_non_null(strstr(d.v[0].msg, "dsn"));
    assert_int_equal(d.v[0].pos.line, 5);
    uf_diags_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_coalesces_and_drops),
        cmocka_unit_test(test_max_keys_bounds_waiting_positions),
        cmocka_unit_test(test_failed_flush_keeps_positions),
        cmocka_unit_test(test_raw_reads_like_body),
        cmocka_unit_test(test_dsn_is_required),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
