/* test_route.c: the `route` transform. A pipeline generate -> route -> one capturing sink per
 * output is built from YAML (never started: with no queues the sinks run in the caller's
 * thread); events go through the stage's process() with a waiter completion. Every case runs
 * twice, as a tree event and as a raw event of the same text, and must reach the same output:
 * strings (escaped or not), integers (1.0 and 1e0 are reals, no integer), booleans, null, a
 * missing field, nested values, the first match winning, the catch-all, the default output and
 * the drop. Raw only: a text that is not an object fails with 400; a dotted field keeps the
 * stage off the raw path. */
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

static const char *yaml =
    "pipelines:\n"
    "  t:\n"
    "    components:\n"
    "      src: {kind: generate, count: 1}\n"
    "      r:\n"
    "        kind: route\n"
    "        inputs: [src]\n"
    "        field: type\n"
    "        default: other\n"
    "        routes: {str: [a, \"\xc3\xa9\"], num: [7, 0], yes: true, no: false, again: a}\n"
    "      nodef:\n"
    "        kind: route\n"
    "        inputs: [src]\n"
    "        field: type\n"
    "        routes: {str: a, any: \"*\"}\n"
    "      strict:\n"
    "        kind: route\n"
    "        inputs: [src]\n"
    "        field: type\n"
    "        routes: {str: a}\n"
    "      dotted:\n"
    "        kind: route\n"
    "        inputs: [src]\n"
    "        field: a.type\n"
    "        routes: {str: a}\n"
    "      o_str: {kind: null, inputs: [r.str, nodef.str, strict.str, dotted.str]}\n"
    "      o_num: {kind: null, inputs: [r.num]}\n"
    "      o_yes: {kind: null, inputs: [r.yes]}\n"
    "      o_no: {kind: null, inputs: [r.no]}\n"
    "      o_again: {kind: null, inputs: [r.again]}\n"
    "      o_other: {kind: null, inputs: [r.other]}\n"
    "      o_any: {kind: null, inputs: [nodef.any]}\n";

/* ---- the capturing sinks: they remember which one got the event ---- */

static struct uf_kind capture_kind;
static char seen_sink[32];
static char *seen_raw;

static int capture_write(struct uf_stage *st, void *ctx, struct uf_event **evs, size_t n,
                         struct uf_err *err)
{
    for (size_t i = 0; i < n; i++) {
        snprintf(seen_sink, sizeof(seen_sink), "%s", uf_stage_name(st));
        free(seen_raw);
        seen_raw = evs[i]->raw ? strndup(evs[i]->raw, evs[i]->raw_len) : NULL;
        uf_event_done(evs[i]);
    }
    return UF_OK;
}

static struct uf_graph *g;

static struct uf_stage *stage_named(const char *name)
{
    for (size_t i = 0; i < g->pipelines[0].nstages; i++)
        if (strcmp(g->pipelines[0].stages[i]->name, name) == 0)
            return g->pipelines[0].stages[i];
    fail_msg("no stage '%s'", name);
    return NULL;
}

static int setup(void **state)
{
    struct uf_diags d = { 0 };
    uf_log_level = UF_LOG_ERROR;
    g = uf_graph_build(uf_config_load_string("t.yaml", yaml, &d), NULL, 0, &d);
    if (d.n)
        uf_diags_print(&d, stderr);
    assert_non_null(g);
    uf_diags_free(&d);
    capture_kind = *stage_named("o_str")->kind;
    capture_kind.write = capture_write;
    for (size_t i = 0; i < g->pipelines[0].nstages; i++)
        if (strncmp(g->pipelines[0].stages[i]->name, "o_", 2) == 0)
            g->pipelines[0].stages[i]->kind = &capture_kind;
    return 0;
}

static int teardown(void **state)
{
    uf_graph_free(g);
    free(seen_raw);
    seen_raw = NULL;
    return 0;
}

/* Routes ev (takes ownership) through the stage named router; returns the sink that got it,
 * "dropped", or "failed <status>: <message>". */
static const char *route_one(const char *router, struct uf_event *ev)
{
    static char out[300];
    struct uf_stage *r = stage_named(router);
    struct uf_completion *c;
    struct uf_waiter *w = uf_waiter_new(&c);
    uf_completion_attach(c, ev);
    uf_completion_release(c);
    seen_sink[0] = '\0';
    ev->at = r;
    r->kind->process(r, r->ctx, ev);
    assert_int_equal(uf_waiter_wait(w, 1000), 0);
    json_t *e = json_object_get(uf_waiter_body(w), "error");
    if (uf_waiter_count(w, UF_OUTCOME_FAILED))
        snprintf(out, sizeof(out), "failed %d: %s", uf_waiter_status(w),
                 json_string_value(json_object_get(e, "message")));
    else if (uf_waiter_count(w, UF_OUTCOME_DROPPED))
        snprintf(out, sizeof(out), "dropped");
    else
        snprintf(out, sizeof(out), "%s", seen_sink);
    uf_waiter_free(w);
    return out;
}

/* Routes text as a tree event and as a raw event; both must reach want. */
static void expect_both(const char *router, const char *text, const char *want)
{
    json_t *body = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    assert_non_null(body);
    const char *got = route_one(router, uf_event_new(body));
    if (strcmp(got, want) != 0)
        fail_msg("tree %s: %s went to %s, not %s", router, text, got, want);
    free(seen_raw);
    seen_raw = NULL;
    got = route_one(router, uf_event_new_raw(text, strlen(text), NULL));
    if (strcmp(got, want) != 0)
        fail_msg("raw %s: %s went to %s, not %s", router, text, got, want);
    if (strncmp(want, "o_", 2) == 0)
        assert_string_equal(seen_raw, text); /* the text goes on as it came */
}

/* ---- tests ---- */

static void test_strings_and_first_match(void **state)
{
    expect_both("r", "{\"type\":\"a\"}", "o_str"); /* also matches `again`: the first wins */
    expect_both("r", "{\"n\":1,\"type\":\"\\u0061\"}", "o_str");
    expect_both("r", "{\"type\":\"\xc3\xa9\"}", "o_str");
    expect_both("r", "{\"type\":\"\\u00e9\"}", "o_str");
    expect_both("r", "{\"type\":\"ab\"}", "o_other");
    expect_both("r", "{\"type\":\"\"}", "o_other");
}

static void test_numbers_booleans_and_others(void **state)
{
    expect_both("r", "{\"type\":7}", "o_num");
    expect_both("r", "{\"type\":0}", "o_num");
    expect_both("r", "{\"type\":-0}", "o_num");
    expect_both("r", "{\"type\":7.0}", "o_other");
    expect_both("r", "{\"type\":7e0}", "o_other");
    expect_both("r", "{\"type\":\"7\"}", "o_other");
    expect_both("r", "{\"type\":8}", "o_other");
    expect_both("r", "{\"type\":9223372036854775807}", "o_other");
    expect_both("r", "{\"type\":true}", "o_yes");
    expect_both("r", "{\"type\":false}", "o_no");
    expect_both("r", "{\"type\":null}", "o_other");
    expect_both("r", "{\"type\":[\"a\"]}", "o_other");
    expect_both("r", "{\"type\":{\"type\":\"a\"}}", "o_other");
    expect_both("r", "{\"x\":{\"type\":\"a\"}}", "o_other");
    expect_both("r", "{}", "o_other");
}

static void test_catch_all_and_drop(void **state)
{
    expect_both("nodef", "{\"type\":\"a\"}", "o_str");
    expect_both("nodef", "{\"type\":3}", "o_any");
    expect_both("nodef", "{}", "o_any");
    expect_both("strict", "{\"type\":\"b\"}", "dropped");
    expect_both("strict", "{}", "dropped");
}

static void test_raw_not_an_object_fails(void **state)
{
    static const char *const bad[][2] = {
        { "[{\"type\":\"a\"}]", "failed 400: not a JSON object" },
        { "{\"type\":\"a\"", "failed 400: not JSON: expected ',' or '}' at byte 11" },
        { "", "failed 400: not JSON: empty input at byte 0" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_string_equal(route_one("r", uf_event_new_raw(bad[i][0], strlen(bad[i][0]), NULL)),
                            bad[i][1]);
    assert_string_equal(seen_sink, "");
}

/* A dotted field is read from the tree, parsed from an event held as text when need be. */
static void test_dotted_field_from_text(void **state)
{
    json_t *body = json_pack("{s:{s:s}}", "a", "type", "a");
    assert_string_equal(route_one("dotted", uf_event_new(body)), "o_str");
    static const char text[] = "{\"a\":{\"type\":\"a\"}}";
    assert_string_equal(route_one("dotted", uf_event_new_raw(text, sizeof text - 1, NULL)),
                        "o_str");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_strings_and_first_match, setup, teardown),
        cmocka_unit_test_setup_teardown(test_numbers_booleans_and_others, setup, teardown),
        cmocka_unit_test_setup_teardown(test_catch_all_and_drop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_raw_not_an_object_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dotted_field_from_text, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
