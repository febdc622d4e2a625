/* test_enrich.c: the `enrich` transform: event_id, received_at, user_id from the token only,
 * IP truncation (IPv4, IPv6, IPv4-mapped, options, garbage), user agent and request id from the
 * request meta, and option errors. Builds a real graph (generate -> enrich -> null) without
 * running it, swaps the null sink for a capturing kind and calls process() directly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "event.h"
#include "graph.h"
#include "uuid.h"

static struct uf_event *captured[8];
static size_t ncaptured;

static int capture_write(struct uf_stage *st, void *ctx, struct uf_event **evs, size_t n,
                         struct uf_err *err)
{
    for (size_t i = 0; i < n; i++)
        captured[ncaptured++] = evs[i];
    return UF_OK;
}

static const struct uf_kind capture_kind = { .name = "capture", .role = UF_SINK,
                                             .write = capture_write };

struct fx {
    struct uf_graph *g;
    struct uf_stage *en;
    const struct uf_kind *null_kind; /* restored before the graph is freed */
};

static struct uf_stage *find(struct uf_graph *g, const char *name)
{
    for (size_t i = 0; i < g->pipelines[0].nstages; i++)
        if (strcmp(g->pipelines[0].stages[i]->name, name) == 0)
            return g->pipelines[0].stages[i];
    return NULL;
}

static struct uf_graph *build(const char *options, struct uf_diags *d)
{
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "pipelines:\n  t:\n    components:\n"
             "      src: {kind: generate}\n"
             "      en: {kind: enrich, inputs: [src]%s}\n"
             "      out: {kind: null, inputs: [en]}\n",
             options);
    struct uf_config *cfg = uf_config_load_string("t.yaml", yaml, d);
    return cfg ? uf_graph_build(cfg, NULL, 0, d) : NULL;
}

static void fx_build(struct fx *f, const char *options)
{
    struct uf_diags d = { 0 };
    f->g = build(options, &d);
    for (size_t i = 0; i < d.n; i++)
        print_error("%s\n", d.v[i].msg);
    assert_non_null(f->g);
    uf_diags_free(&d);
    f->en = find(f->g, "en");
    f->null_kind = find(f->g, "out")->kind;
    find(f->g, "out")->kind = &capture_kind;
    ncaptured = 0;
}

static void fx_free(struct fx *f)
{
    for (size_t i = 0; i < ncaptured; i++)
        uf_event_free(captured[i]);
    ncaptured = 0;
    find(f->g, "out")->kind = f->null_kind;
    uf_graph_free(f->g);
}

/* Runs one event through enrich; returns the captured output (owned by the capture list). */
static struct uf_event *run(struct fx *f, const char *body, const char *user, const char *ip)
{
    struct uf_event *ev = uf_event_new(json_loads(body, 0, NULL));
    ev->received_us = 1796052718123456LL; /* 2026-11-30T15:31:58.123456Z */
    if (user)
        uf_event_set_user(ev, user);
    json_t *meta = uf_event_meta(ev);
    if (ip)
        json_object_set_new(meta, "ip", json_string(ip));
    json_object_set_new(meta, "user_agent", json_string("Mozilla/5.0 (X11)"));
    json_object_set_new(meta, "request_id", json_string("req-42"));
    json_object_set_new(meta, "route", json_string("player"));
    ev->at = f->en;
    f->en->kind->process(f->en, f->en->ctx, ev);
    assert_int_equal(ncaptured, 1);
    return captured[0];
}

static void test_adds_server_fields(void **state)
{
    struct fx f;
    fx_build(&f, "");
    struct uf_event *ev =
        run(&f, "{\"type\":\"click\",\"event_id\":\"forged\",\"received_at\":\"x\"}", NULL,
            "203.0.113.77");
    char id[UF_UUID_STR];
    uf_uuid_format(ev->id, id);
    assert_string_equal(uf_event_get_str(ev, "event_id"), id);
    assert_int_equal(id[14], '7'); /* version 7 */
    assert_string_equal(uf_event_get_str(ev, "received_at"), "2026-11-30T15:31:58.123456Z");
    assert_string_equal(uf_event_get_str(ev, "ip"), "203.0.113.0");
    assert_string_equal(uf_event_get_str(ev, "user_agent"), "Mozilla/5.0 (X11)");
    assert_string_equal(uf_event_get_str(ev, "request_id"), "req-42");
    assert_string_equal(uf_event_get_str(ev, "type"), "click");
    fx_free(&f);
}

static void test_user_id_only_from_token(void **state)
{
    struct fx f;
    fx_build(&f, "");
    struct uf_event *ev = run(&f, "{\"user_id\":\"forged\",\"anonymous_id\":\"a1\"}", NULL, NULL);
    assert_null(json_object_get(ev->body, "user_id"));
    assert_string_equal(uf_event_get_str(ev, "anonymous_id"), "a1");
    assert_null(json_object_get(ev->body, "ip"));
    fx_free(&f);

    fx_build(&f, "");
    ev = run(&f, "{\"user_id\":\"forged\",\"session_id\":\"s1\"}",
             "0192f0c1-1111-7222-8333-444455556666", NULL);
    assert_string_equal(uf_event_get_str(ev, "user_id"), "0192f0c1-1111-7222-8333-444455556666");
    assert_string_equal(uf_event_get_str(ev, "session_id"), "s1");
    fx_free(&f);
}

static void check_ip(const char *options, const char *in, const char *want)
{
    struct fx f;
    fx_build(&f, options);
    struct uf_event *ev = run(&f, "{\"ip\":\"1.2.3.4\"}", NULL, in);
    if (want)
        assert_string_equal(uf_event_get_str(ev, "ip"), want);
    else
        assert_null(json_object_get(ev->body, "ip")); /* a client-sent ip never survives */
    fx_free(&f);
}

static void test_ip_truncation(void **state)
{
    check_ip("", "198.51.100.200", "198.51.100.0");
    check_ip("", "2001:db8:abcd:12:1:2:3:4", "2001:db8:abcd::");
    check_ip("", "::ffff:192.0.2.130", "192.0.2.0");
    check_ip("", "not-an-ip", NULL);
    check_ip(", ipv4_prefix: 16, ipv6_prefix: 32", "198.51.100.200", "198.51.0.0");
    check_ip(", ipv4_prefix: 20", "198.51.117.200", "198.51.112.0");
    check_ip(", ipv6_prefix: 32", "2001:db8:abcd:12::1", "2001:db8::");
    check_ip(", ipv4_prefix: 32, ipv6_prefix: 128", "198.51.100.200", "198.51.100.200");
}

static void test_user_agent_can_be_left_out(void **state)
{
    struct fx f;
    fx_build(&f, ", user_agent: false");
    struct uf_event *ev = run(&f, "{}", NULL, "10.1.2.3");
    assert_null(json_object_get(ev->body, "user_agent"));
    assert_string_equal(uf_event_get_str(ev, "request_id"), "req-42");
    fx_free(&f);
}

static void test_route_types(void **state)
{
    struct fx f;
    fx_build(&f, ", route_types: {player: player, views: page_view}");
    struct uf_event *ev = run(&f, "{\"type\":\"forged\",\"event\":\"play\"}", NULL, NULL);
    assert_string_equal(uf_event_get_str(ev, "type"), "player");
    fx_free(&f);
    fx_build(&f, ", route_types: {views: page_view}"); /* other routes keep their type */
    ev = run(&f, "{\"type\":\"click\"}", NULL, NULL);
    assert_string_equal(uf_event_get_str(ev, "type"), "click");
    fx_free(&f);

    struct uf_diags d = { 0 };
    assert_null(build(", route_types: {views: [a, b]}", &d));
    assert_int_equal(d.n, 1);
    assert_non_null(strstr(d.v[0].msg, "route_types: 'views': expected a type name"));
    uf_diags_free(&d);
}

static void test_prefix_out_of_range_is_an_error(void **state)
{
    struct uf_diags d = { 0 };
    assert_null(build(", ipv4_prefix: 33", &d));
    assert_true(d.n >= 1);
    assert_non_null(strstr(d.v[0].msg, "ipv4_prefix"));
    assert_int_equal(d.v[0].pos.line, 5);
    uf_diags_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_adds_server_fields),
        cmocka_unit_test(test_user_id_only_from_token),
        cmocka_unit_test(test_ip_truncation),
        cmocka_unit_test(test_user_agent_can_be_left_out),
        cmocka_unit_test(test_route_types),
        cmocka_unit_test(test_prefix_out_of_range_is_an_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
