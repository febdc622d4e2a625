/* tests/test_clip.c: the `clip` transform of docs/examples/clip.c (docs/writing-a-stage.md),
 * through a running pipeline: feed -> clip -> echo, where the test emits each event at the feed
 * and the echo sink replies with the field it got. Cuts on character boundaries, values that
 * fit, missing and non-string fields, on_long: fail, and init's and the table's errors with
 * their positions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "framework/config.h"
#include "framework/graph.h"
#include "framework/log.h"
#include "framework/registry.h"
#include "framework/runtime.h"

extern const struct uf_kind uf_transform_clip;

/* ---- the test's own kinds: a source it emits through, a sink that echoes the field ---- */

static const struct uf_kind t_feed = { .name = "t_feed", .role = UF_SOURCE, .summary = "test" };

static int echo_write(struct uf_stage *st, void *ctx, struct uf_event **evs, size_t n,
                      struct uf_err *err)
{
    for (size_t i = 0; i < n; i++) {
        uf_event_reply(evs[i], 200, json_pack("{s:s?}", "text", uf_event_get_str(evs[i], "text")));
        uf_event_done(evs[i]);
    }
    return UF_OK;
}
static const struct uf_kind t_echo = {
    .name = "t_echo", .role = UF_SINK, .summary = "test", .write = echo_write
};

/* In the product this is the one line in framework/registry.c; a test adds its kinds here. */
static const struct uf_kind *const test_kinds[] = { &uf_transform_clip, &t_feed, &t_echo, NULL };

/* ---- helpers ---- */

static struct uf_graph *build(const char *clip_options, struct uf_diags *d)
{
    char yaml[512];
    snprintf(yaml, sizeof yaml,
             "pipelines:\n  p:\n    components:\n"
             "      feed: {kind: t_feed}\n"
             "      clip: {kind: clip, inputs: [feed]%s}\n"
             "      echo: {kind: t_echo, inputs: [clip], buffer: 0}\n",
             clip_options);
    struct uf_config *cfg = uf_config_load_string("t.yaml", yaml, d);
    return cfg ? uf_graph_build(cfg, NULL, 0, d) : NULL;
}

static struct uf_stage *stage(struct uf_graph *g, const char *name)
{
    for (size_t i = 0; i < g->pipelines[0].nstages; i++)
        if (strcmp(g->pipelines[0].stages[i]->name, name) == 0)
            return g->pipelines[0].stages[i];
    fail_msg("no stage %s", name);
    return NULL;
}

/* Runs body (JSON text) through a clip with clip_options; returns the echoed field as
 * "text=VALUE" ("text=null" when absent), or "failed STATUS: MESSAGE". */
static const char *clip_one(const char *clip_options, const char *body)
{
    static char out[300];
    struct uf_diags d = { 0 };
    struct uf_graph *g = build(clip_options, &d);
    if (d.n)
        uf_diags_print(&d, stderr);
    assert_int_equal(d.n, 0);
    struct uf_runtime *rt = uf_runtime_new(g);
    struct uf_err err = { 0 };
    assert_int_equal(uf_runtime_start(rt, &err), 0);
    struct uf_completion *c;
    struct uf_waiter *w = uf_waiter_new(&c);
    struct uf_event *ev = uf_event_new(json_loads(body, 0, NULL));
    uf_completion_attach(c, ev);
    uf_completion_release(c);
    uf_emit(stage(g, "feed"), ev);
    assert_int_equal(uf_waiter_wait(w, 1000), 0); /* the echo sink runs in this thread */
    json_t *reply = uf_waiter_body(w);
    if (uf_waiter_count(w, UF_OUTCOME_FAILED))
        snprintf(out, sizeof out, "failed %d: %s", uf_waiter_status(w),
                 json_string_value(json_object_get(json_object_get(reply, "error"), "message")));
    else if (json_string_value(json_object_get(reply, "text")))
        snprintf(out, sizeof out, "text=%s", json_string_value(json_object_get(reply, "text")));
    else
        snprintf(out, sizeof out, "text=null");
    uf_waiter_free(w);
    uf_runtime_request_stop(rt);
    assert_int_equal(uf_runtime_run(rt), 0);
    uf_runtime_free(rt);
    uf_graph_free(g);
    uf_diags_free(&d);
    return out;
}

/* The first diagnostic of building a clip with clip_options. */
static const char *build_error(const char *clip_options)
{
    static char out[300];
    struct uf_diags d = { 0 };
    struct uf_graph *g = build(clip_options, &d);
    assert_null(g);
    assert_true(d.n >= 1);
    snprintf(out, sizeof out, "%d:%d: %s", d.v[0].pos.line, d.v[0].pos.col, d.v[0].msg);
    uf_diags_free(&d);
    return out;
}

/* ---- tests ---- */

static void test_cuts_long_values(void **state)
{
    assert_string_equal(clip_one(", field: text, max_chars: 5", "{\"text\":\"abcdefgh\"}"),
                        "text=abcde");
    /* Five characters of two bytes each: the cut falls between characters, never inside. */
    assert_string_equal(clip_one(", field: text, max_chars: 3",
                                 "{\"text\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"}"),
                        "text=\xc3\xa9\xc3\xa9\xc3\xa9");
}

static void test_passes_what_fits_or_is_not_a_string(void **state)
{
    assert_string_equal(clip_one(", field: text, max_chars: 5", "{\"text\":\"abcde\"}"),
                        "text=abcde");
    assert_string_equal(clip_one(", field: text", "{\"text\":\"\"}"), "text=");
    assert_string_equal(clip_one(", field: text", "{\"other\":1}"), "text=null");
    assert_string_equal(clip_one(", field: text, max_chars: 1", "{\"text\":42}"), "text=null");
}

static void test_on_long_fail(void **state)
{
    const char *opts = ", field: text, max_chars: 2, on_long: fail";
    assert_string_equal(clip_one(opts, "{\"text\":\"abc\"}"),
                        "failed 422: field 'text' is longer than 2 characters");
    assert_string_equal(clip_one(opts, "{\"text\":\"ab\"}"), "text=ab");
}

/* What the options table checks, and what init adds, each at its position. */
static void test_option_errors(void **state)
{
    assert_string_equal(build_error(", field: a.b"),
                        "5:7: component 'clip' (kind clip): option 'field' must name a "
                        "top-level field, not 'a.b'");
    assert_string_equal(build_error(", field: text, max_chars: 0"),
                        "5:66: option 'max_chars': 0 is out of range (expected 1..65536)");
    assert_string_equal(build_error(", field: text, on_long: trim"),
                        "5:64: option 'on_long': 'trim' is not allowed (expected one of: cut, "
                        "fail)");
    assert_string_equal(build_error(""), "5:7: component 'clip' (kind clip): missing required "
                                         "option 'field' (Top-level string field to clip)");
}

static char *slurp(const char *rel)
{
    const char *src = getenv("UGCFLOW_SOURCE_DIR");
    assert_non_null(src);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", src, rel);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot read %s", path);
    char *text = NULL;
    size_t cap = 0, len = 0, n;
    do {
        text = realloc(text, cap += 65536);
        len += n = fread(text + len, 1, cap - len - 1, f);
    } while (n > 0);
    text[len] = '\0';
    fclose(f);
    return text;
}

/* Every C block of docs/writing-a-stage.md is, word for word, in the example or this test:
 * the walk-through cannot drift from code that builds and passes. */
static void test_doc_shows_this_code(void **state)
{
    char *doc = slurp("docs/writing-a-stage.md");
    char *kind = slurp("docs/examples/clip.c");
    char *test = slurp("tests/test_clip.c");
    size_t blocks = 0;
    for (char *p = doc; (p = strstr(p, "\n```c\n"));) {
        char *start = p + 6, *end = strstr(start, "\n```\n");
        assert_non_null(end);
        *end = '\0';
        if (!strstr(kind, start) && !strstr(test, start))
            fail_msg("docs/writing-a-stage.md shows code found in neither file:\n%.200s", start);
        blocks++;
        p = end + 1;
    }
    assert_true(blocks >= 5);
    free(doc);
    free(kind);
    free(test);
}

static int setup(void **state)
{
    uf_log_level = UF_LOG_ERROR;
    uf_registry_set_extra(test_kinds);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cuts_long_values),
        cmocka_unit_test(test_passes_what_fits_or_is_not_a_string),
        cmocka_unit_test(test_on_long_fail),
        cmocka_unit_test(test_option_errors),
        cmocka_unit_test(test_doc_shows_this_code),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
