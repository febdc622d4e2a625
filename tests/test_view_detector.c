/* test_view_detector.c: the `view_detector` transform: the watched-time threshold, seeks forward
 * and back, pauses, complete, one view per session, pass-through of other events, the client
 * clock, TTL expiry and the max_entries bound, a session's one view id; the behaviour tests run
 * with bodies and with raw texts alike, and raw and body events of one playback make one session.
 * Builds a real graph (generate -> view_detector -> null) without running it, swaps the null sink
 * for a capturing kind and calls process(). */
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

#define MAXCAP 4096
static struct uf_event *captured[MAXCAP];
static size_t ncaptured;

static int capture_write(struct uf_stage *st, void *ctx, struct uf_event **evs, size_t n,
                         struct uf_err *err)
{
    for (size_t i = 0; i < n; i++) {
        assert_true(ncaptured < MAXCAP);
        captured[ncaptured++] = evs[i];
    }
    return UF_OK;
}

static const struct uf_kind capture_kind = { .name = "capture",
                                             .role = UF_SINK,
                                             .write = capture_write };

static struct uf_graph *g;
static struct uf_stage *vd, *out;
static const struct uf_kind *null_kind;

static struct uf_stage *find(const char *name)
{
    for (size_t i = 0; i < g->pipelines[0].nstages; i++)
        if (strcmp(g->pipelines[0].stages[i]->name, name) == 0)
            return g->pipelines[0].stages[i];
    return NULL;
}

static void setup_with(const char *options)
{
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "pipelines:\n  t:\n    components:\n"
             "      src: {kind: generate}\n"
             "      vd: {kind: view_detector, inputs: [src]%s}\n"
             "      out: {kind: null, inputs: [vd]}\n",
             options);
    struct uf_diags d = { 0 };
    struct uf_config *cfg = uf_config_load_string("t.yaml", yaml, &d);
    g = cfg ? uf_graph_build(cfg, NULL, 0, &d) : NULL;
    for (size_t i = 0; i < d.n; i++)
        print_error("%s\n", d.v[i].msg);
    uf_diags_free(&d);
    assert_non_null(g);
    vd = find("vd");
    out = find("out");
    null_kind = out->kind;
    out->kind = &capture_kind;
    ncaptured = 0;
}

/* Whether the test's events are made as raw texts (owned, as enrich's output is) instead of
 * bodies: each behaviour test runs both ways and must see the same views. */
static bool raw;

static int setup_server_clock(void **state)
{
    raw = false;
    setup_with(", clock: server");
    return 0;
}

static int setup_server_clock_raw(void **state)
{
    setup_server_clock(state);
    raw = true;
    return 0;
}

static struct uf_event *make_event(const char *text)
{
    if (!raw)
        return uf_event_new(json_loads(text, 0, NULL));
    struct uf_event *ev = uf_event_new_raw(NULL, 0, NULL);
    uf_event_set_raw(ev, strdup(text), strlen(text));
    return ev;
}

static int teardown(void **state)
{
    for (size_t i = 0; i < ncaptured; i++)
        uf_event_free(captured[i]);
    ncaptured = 0;
    out->kind = null_kind;
    uf_graph_free(g);
    return 0;
}

#define T0 1796052718000000LL

/* One player event of session sid at server time T0 + t_s seconds. */
static void player(const char *sid, const char *event, double pos, double t_s)
{
    char body[256];
    snprintf(body, sizeof body,
             "{\"type\":\"player\",\"event\":\"%s\",\"movie_id\":\"m1\",\"session_id\":\"%s\","
             "\"anonymous_id\":\"a1\",\"position_s\":%g,\"duration_s\":5400}",
             event, sid, pos);
    struct uf_event *ev = make_event(body);
    ev->received_us = T0 + (int64_t)(t_s * 1e6);
    ev->at = vd;
    vd->kind->process(vd, vd->ctx, ev);
}

static size_t views(void)
{
    size_t n = 0;
    for (size_t i = 0; i < ncaptured; i++) {
        const char *type = uf_event_get_str(captured[i], "type");
        n += type && strcmp(type, "movie.view") == 0;
    }
    return n;
}

static const struct uf_event *last_view(void)
{
    for (size_t i = ncaptured; i-- > 0;) {
        const char *type = uf_event_get_str(captured[i], "type");
        if (type && strcmp(type, "movie.view") == 0)
            return captured[i];
    }
    return NULL;
}

static double num(const struct uf_event *ev, const char *key)
{
    return json_number_value(json_object_get(ev->body, key));
}

static void test_view_after_threshold_once(void **state)
{
    player("s1", "open", 0, 0);
    player("s1", "play", 0, 1);
    for (int i = 1; i <= 2; i++)
        player("s1", "progress", 10 * i, 1 + 10 * i);
    assert_int_equal(views(), 0);
    player("s1", "progress", 30, 31);
    assert_int_equal(views(), 1);
    const struct uf_event *v = last_view();
    assert_true(num(v, "watched_s") == 30.0);
    assert_false(json_is_true(json_object_get(v->body, "completed")));
    assert_string_equal(uf_event_get_str(v, "movie_id"), "m1");
    assert_string_equal(uf_event_get_str(v, "session_id"), "s1");
    assert_string_equal(uf_event_get_str(v, "anonymous_id"), "a1");
    assert_non_null(uf_event_get_str(v, "event_id"));
    assert_non_null(uf_event_get_str(v, "received_at"));
    assert_null(v->done);
    for (int i = 4; i < 20; i++)
        player("s1", "progress", 10 * i, 1 + 10 * i);
    player("s1", "complete", 200, 201);
    assert_int_equal(views(), 1);        /* once per session */
    assert_int_equal(ncaptured, 22 + 1); /* every original passed through, and the view */
}

/* Counts one view of session sid (30 s watched) and returns its event_id (copied). */
static char *count_view(const char *sid)
{
    player(sid, "play", 0, 0);
    player(sid, "progress", 30, 30);
    const struct uf_event *v = last_view();
    assert_non_null(v);
    assert_string_equal(uf_event_get_str(v, "session_id"), sid);
    return strdup(uf_event_get_str(v, "event_id"));
}

/* A session's view has one id, whichever detector counts it (a UUIDv5 of viewer, movie and
 * session): counted again after a restart that lost it, it is the same row in ClickHouse. */
static void test_view_id_is_the_sessions(void **state)
{
    setup_with(", clock: server");
    char *a = count_view("s1"), *b = count_view("s2");
    teardown(state);
    setup_with(", clock: server");
    char *again = count_view("s1");
    assert_string_equal(again, a);
    assert_string_not_equal(a, b);
    assert_int_equal(a[14], '5');
    free(a);
    free(b);
    free(again);
    teardown(state);
}

static void test_seek_forward_counts_only_elapsed_time(void **state)
{
    player("s1", "play", 0, 0);
    player("s1", "seek", 600, 5);      /* 5 s watched, the jump does not count */
    player("s1", "progress", 610, 15); /* 15 */
    player("s1", "progress", 620, 25); /* 25 */
    assert_int_equal(views(), 0);
    player("s1", "progress", 630, 35); /* 35 */
    assert_int_equal(views(), 1);
    assert_true(num(last_view(), "watched_s") == 35.0);
}

static void test_seek_back_adds_nothing(void **state)
{
    player("s1", "play", 100, 0);
    player("s1", "progress", 120, 20); /* 20 */
    player("s1", "seek", 0, 21);       /* backwards: nothing */
    player("s1", "progress", 5, 26);   /* 25 */
    assert_int_equal(views(), 0);
    player("s1", "progress", 10, 31); /* 30 */
    assert_int_equal(views(), 1);
}

static void test_paused_time_does_not_count(void **state)
{
    player("s1", "play", 0, 0);
    player("s1", "pause", 10, 10);     /* 10 */
    player("s1", "progress", 10, 500); /* paused 490 s: nothing, but playing again */
    player("s1", "progress", 25, 515); /* 25 */
    assert_int_equal(views(), 0);
    /* A position jump larger than the elapsed time counts only the elapsed time. */
    player("s1", "progress", 400, 519); /* 29 */
    assert_int_equal(views(), 0);
    player("s1", "progress", 401, 520); /* 30 */
    assert_int_equal(views(), 1);
}

static void test_complete_counts_at_once_per_session(void **state)
{
    player("s1", "play", 5390, 0);
    player("s1", "complete", 5400, 10);
    assert_int_equal(views(), 1);
    assert_true(json_is_true(json_object_get(last_view()->body, "completed")));
    player("s2", "play", 0, 0); /* another session of the same viewer and movie */
    player("s2", "complete", 5400, 3);
    assert_int_equal(views(), 2);
    assert_int_equal(uf_metrics_extra_value(&vd->metrics, "view_state_entries", NULL), 2);
    assert_int_equal(uf_metrics_extra_value(&vd->metrics, "views_emitted_total", NULL), 2);
}

static void test_other_events_pass_untouched(void **state)
{
    const char *click = "{\"type\":\"click\",\"url\":\"/m\"}";
    struct uf_event *ev = make_event(click);
    ev->at = vd;
    vd->kind->process(vd, vd->ctx, ev);
    /* a player event without session_id is not tracked either, nor one whose ids are not
     * strings */
    const char *others[] = { "{\"event\":\"play\",\"movie_id\":\"m\"}",
                             "{\"event\":\"play\",\"movie_id\":1,\"session_id\":\"s\"}" };
    for (size_t i = 0; i < 2; i++) {
        ev = make_event(others[i]);
        ev->at = vd;
        vd->kind->process(vd, vd->ctx, ev);
    }
    assert_int_equal(ncaptured, 3);
    if (raw) {
        assert_memory_equal(captured[0]->raw, click, strlen(click));
        assert_int_equal(captured[0]->raw_len, strlen(click));
    } else {
        assert_string_equal(uf_event_get_str(captured[0], "url"), "/m");
        assert_int_equal(json_object_size(captured[0]->body), 2);
    }
    assert_int_equal(uf_metrics_extra_value(&vd->metrics, "view_state_entries", NULL), 0);
}

/* Raw texts are read as bodies are: escaped strings name the same session (the tree events
 * and the raw ones below are one playback), the view copies the fields with their types. */
static void test_raw_and_tree_events_are_one_session(void **state)
{
    const char *evs[] = {
        "{\"event\":\"play\",\"movie_id\":\"m1\",\"session_id\":\"s\\\"1\",\"user_id\":\"u\","
        "\"position_s\":0}",
        "{ \"event\" : \"progr\\u0065ss\", \"movie_id\":\"m\\u0031\",\"session_id\":\"s\\\"1\","
        "\"user_id\":\"\\u0075\",\"position_s\":2e1,\"duration_s\":5400.5,\"ts\":\"x\"}",
        "{\"event\":\"progress\",\"movie_id\":\"m1\",\"session_id\":\"s\\\"1\",\"user_id\":\"u\","
        "\"position_s\":30,\"duration_s\":5400,\"extra\":[1,{\"a\":2}],\"ts\":\"t\\u00e9\"}",
    };
    for (size_t i = 0; i < 3; i++) {
        raw = i % 2 == 1;
        struct uf_event *ev = make_event(evs[i]);
        ev->received_us = T0 + (int64_t)i * 10000000;
        ev->at = vd;
        vd->kind->process(vd, vd->ctx, ev);
    }
    assert_int_equal(views(), 0); /* 20 s so far: 0 -> 20 in 10 s counts 10 */
    raw = true;
    struct uf_event *ev = make_event(evs[2]);
    ev->received_us = T0 + 40000000;
    ev->at = vd;
    vd->kind->process(vd, vd->ctx, ev); /* 10 more s at the same position: none */
    ev = make_event("{\"event\":\"complete\",\"movie_id\":\"m1\",\"session_id\":\"s\\\"1\","
                    "\"user_id\":\"u\",\"position_s\":5400,\"duration_s\":5400,"
                    "\"ts\":\"t\\u00e9\"}");
    ev->received_us = T0 + 50000000;
    ev->at = vd;
    vd->kind->process(vd, vd->ctx, ev);
    assert_int_equal(views(), 1);
    assert_int_equal(uf_metrics_extra_value(&vd->metrics, "view_state_entries", NULL), 1);
    const struct uf_event *v = last_view();
    json_t *want = json_pack("{s:s, s:s, s:s, s:i, s:i, s:s, s:f, s:b}", "movie_id", "m1",
                             "session_id", "s\"1", "user_id", "u", "position_s", 5400, "duration_s",
                             5400, "ts", "t\u00e9", "watched_s", 30.0, "completed", 1);
    json_t *got = json_deep_copy(v->body);
    json_object_del(got, "type");
    json_object_del(got, "event_id");
    json_object_del(got, "received_at");
    assert_true(json_equal(got, want));
    json_decref(got);
    json_decref(want);
}

/* A text longer than the stack scratch: its strings are decoded on the heap, same result. */
static void test_raw_long_text(void **state)
{
    char pad[1500], text[2048];
    memset(pad, 'p', sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    const char *events[] = { "play", "complete" };
    for (size_t i = 0; i < 2; i++) {
        snprintf(text, sizeof text,
                 "{\"pad\":\"%s\",\"event\":\"%s\",\"movie_id\":\"m\\u0031\","
                 "\"session_id\":\"s\",\"anonymous_id\":\"a\",\"position_s\":%d}",
                 pad, events[i], (int)i * 10);
        struct uf_event *ev = make_event(text);
        ev->received_us = T0 + (int64_t)i * 10000000;
        ev->at = vd;
        vd->kind->process(vd, vd->ctx, ev);
    }
    assert_int_equal(views(), 1);
    assert_string_equal(uf_event_get_str(last_view(), "movie_id"), "m1");
    assert_true(num(last_view(), "watched_s") == 10.0);
}

/* The http source only emits checked objects; anything else fails with 400, never crashes. */
static void test_raw_not_an_object_fails(void **state)
{
    const char *bad[] = { "[1]", "{\"event\":", "" };
    for (size_t i = 0; i < 3; i++) {
        struct uf_completion *c;
        struct uf_waiter *w = uf_waiter_new(&c);
        struct uf_event *ev = make_event(bad[i]);
        uf_completion_attach(c, ev);
        uf_completion_release(c);
        ev->at = vd;
        vd->kind->process(vd, vd->ctx, ev);
        assert_int_equal(uf_waiter_wait(w, 0), 0);
        assert_int_equal(uf_waiter_status(w), 400);
        uf_waiter_free(w);
    }
    assert_int_equal(ncaptured, 0);
}

static void client_clock(bool as_raw)
{
    setup_with("");
    raw = as_raw;
    const char *evs[] = {
        "{\"event\":\"play\",\"movie_id\":\"m\",\"session_id\":\"s\",\"position_s\":0,"
        "\"ts\":\"2026-11-29T10:00:00Z\"}",
        "{\"event\":\"progress\",\"movie_id\":\"m\",\"session_id\":\"s\",\"position_s\":20,"
        "\"ts\":\"2026-11-29T11:00:20.500+01:00\"}",
        "{\"event\":\"progress\",\"movie_id\":\"m\",\"session_id\":\"s\",\"position_s\":40,"
        "\"ts\":\"2026-11-29T10:00:31.250Z\"}",
    };
    for (size_t i = 0; i < 3; i++) {
        struct uf_event *ev = make_event(evs[i]);
        ev->received_us = T0; /* one batch: the same server time for all */
        ev->at = vd;
        vd->kind->process(vd, vd->ctx, ev);
    }
    assert_int_equal(views(), 1);
    assert_true(num(last_view(), "watched_s") == 30.75);
    teardown(NULL);
}

static void test_client_clock(void **state)
{
    client_clock(false);
    client_clock(true);
}

static void test_idle_sessions_expire(void **state)
{
    setup_with(", clock: server, ttl: 40ms");
    player("old", "play", 0, 0);
    player("old", "progress", 20, 20); /* 20 s watched, not yet a view */
    assert_int_equal(uf_metrics_extra_value(&vd->metrics, "view_state_entries", NULL), 1);
    int64_t expired = uf_now_us() + 60000; /* past the TTL and the next sweep time */
    while (uf_now_us() < expired)
        ;
    player("other", "play", 0, 0); /* any event lets the sweep run */
    assert_int_equal(uf_metrics_extra_value(&vd->metrics, "view_state_entries", NULL), 1);
    /* "old" was forgotten: its next heartbeat starts from nothing, so no view. */
    player("old", "progress", 40, 40);
    assert_int_equal(views(), 0);
    assert_int_equal(uf_metrics_extra_value(&vd->metrics, "view_state_entries", NULL), 2);
    teardown(state);
}

static void test_entries_are_bounded(void **state)
{
    setup_with(", clock: server, max_entries: 64");
    for (int i = 0; i < 500; i++) {
        char sid[16];
        snprintf(sid, sizeof sid, "s%d", i);
        player(sid, "play", 0, 0);
    }
    int64_t n = uf_metrics_extra_value(&vd->metrics, "view_state_entries", NULL);
    assert_true(n > 0 && n <= 64);
    assert_int_equal(uf_metrics_extra_value(&vd->metrics, "view_state_evicted_total", NULL),
                     500 - n);
    teardown(state);
}

static void test_bad_options_are_errors(void **state)
{
    struct uf_diags d = { 0 };
    struct uf_config *cfg = uf_config_load_string(
        "t.yaml",
        "pipelines:\n  t:\n    components:\n      src: {kind: generate}\n"
        "      vd: {kind: view_detector, inputs: [src], max_entries: 10, clock: wall}\n"
        "      out: {kind: null, inputs: [vd]}\n",
        &d);
    assert_null(uf_graph_build(cfg, NULL, 0, &d));
    assert_int_equal(d.n, 2);
    char all[1024] = "";
    for (size_t i = 0; i < d.n; i++) {
        strncat(all, d.v[i].msg, sizeof all - strlen(all) - 1);
        assert_int_equal(d.v[i].pos.line, 5);
    }
    assert_non_null(strstr(all, "max_entries"));
    assert_non_null(strstr(all, "clock"));
    uf_diags_free(&d);
}

#define BOTH(t)                                                                                    \
    cmocka_unit_test_setup_teardown(t, setup_server_clock, teardown),                              \
        cmocka_unit_test_setup_teardown(t, setup_server_clock_raw, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(test_view_after_threshold_once),
        BOTH(test_seek_forward_counts_only_elapsed_time),
        BOTH(test_seek_back_adds_nothing),
        BOTH(test_paused_time_does_not_count),
        BOTH(test_complete_counts_at_once_per_session),
        BOTH(test_other_events_pass_untouched),
        cmocka_unit_test_setup_teardown(test_raw_and_tree_events_are_one_session,
                                        setup_server_clock, teardown),
        cmocka_unit_test_setup_teardown(test_raw_not_an_object_fails, setup_server_clock_raw,
                                        teardown),
        BOTH(test_raw_long_text),
        cmocka_unit_test(test_client_clock),
        cmocka_unit_test(test_view_id_is_the_sessions),
        cmocka_unit_test(test_idle_sessions_expire),
        cmocka_unit_test(test_entries_are_bounded),
        cmocka_unit_test(test_bad_options_are_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
