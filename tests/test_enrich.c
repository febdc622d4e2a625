/* test_enrich.c: the `enrich` transform: event_id (a producer's own kept), received_at, user_id
 * from the token only, IP truncation (IPv4, IPv6, IPv4-mapped, options, garbage), user agent and
 * request id from the request meta, and option errors; every case also runs as a raw text, whose
 * rewritten text must parse to the body path's result (escapes, client keys written with escapes,
 * layout kept, and 400 for a text that is not an object). Builds a real graph (generate -> enrich
 * -> null) without running it, swaps the null sink for a capturing kind and calls process()
 * directly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "framework/config.h"
#include "framework/event.h"
#include "framework/event_int.h"
#include "framework/graph.h"
#include "framework/jscan.h"
#include "framework/uuid.h"

static struct uf_event *captured[8];
static size_t ncaptured;

static int capture_write(struct uf_stage *st, void *ctx, struct uf_event **evs, size_t n,
                         struct uf_err *err)
{
    for (size_t i = 0; i < n; i++)
        captured[ncaptured++] = evs[i];
    return UF_OK;
}

static const struct uf_kind capture_kind = { .name = "capture",
                                             .role = UF_SINK,
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

struct req {
    const char *user, *ip, *agent, *request_id;
};

static void set_meta(struct uf_event *ev, const struct req *r)
{
    ev->received_us = 1796052718123456LL; /* 2026-11-30T15:31:58.123456Z */
    if (r->user)
        uf_event_set_user(ev, r->user);
    json_t *meta = uf_event_meta(ev);
    if (r->ip)
        json_object_set_new(meta, "ip", json_string(r->ip));
    json_object_set_new(meta, "user_agent", json_string(r->agent ? r->agent : "Mozilla/5.0 (X11)"));
    json_object_set_new(meta, "request_id", json_string(r->request_id ? r->request_id : "req-42"));
    json_object_set_new(meta, "route", json_string("player"));
}

static struct uf_event *process(struct fx *f, struct uf_event *ev)
{
    size_t before = ncaptured;
    ev->at = f->en;
    f->en->kind->process(f->en, f->en->ctx, ev);
    assert_int_equal(ncaptured, before + 1);
    return captured[before];
}

struct seen_members {
    struct uf_jmember m[64];
    size_t n;
};

static int see_member(void *arg, const struct uf_jmember *m, struct uf_err *err)
{
    (void)err;
    struct seen_members *s = arg;
    if (s->n < 64)
        s->m[s->n++] = *m;
    return 0;
}

/* The members enrich remembered for its text (uf_event_set_raw_members) are exactly what a
 * scan of that text finds: same spans, types and flags, looked up by every name. */
static void assert_members_told(struct uf_event *ev)
{
    assert_non_null(ev->raw_members);
    struct seen_members s = { .n = 0 };
    struct uf_err err = { 0 };
    assert_int_equal(uf_jscan_object(ev->raw, ev->raw_len, see_member, &s, &err), 0);
    for (size_t i = 0; i < s.n; i++) {
        char name[256];
        size_t n = uf_jscan_unescape(s.m[i].key, s.m[i].key_len, name);
        name[n] = '\0';
        const char *keys[1] = { name };
        struct uf_jmember got;
        assert_int_equal(uf_event_pick(ev, keys, 1, &got, &err), 0);
        assert_ptr_equal(got.key, s.m[i].key);
        assert_int_equal(got.key_len, s.m[i].key_len);
        assert_int_equal(got.key_escaped, s.m[i].key_escaped);
        assert_int_equal(got.type, s.m[i].type);
        assert_ptr_equal(got.val, s.m[i].val);
        assert_int_equal(got.val_len, s.m[i].val_len);
        assert_int_equal(got.escaped, s.m[i].escaped);
        assert_int_equal(got.integer, s.m[i].integer);
    }
}

/* Runs body through enrich twice, as a tree and as a raw text (borrowed from body, which the
 * caller keeps), and checks that the raw output parses (duplicate keys refused) to exactly the
 * tree's body with the same id. Returns the tree event (owned by the capture list). */
static struct uf_event *run_req(struct fx *f, const char *body, const struct req *r)
{
    struct uf_event *tree = uf_event_new(json_loads(body, 0, NULL));
    set_meta(tree, r);
    tree = process(f, tree);
    struct uf_event *raw = uf_event_new_raw(body, strlen(body), tree->id);
    set_meta(raw, r);
    raw = process(f, raw);
    assert_null(raw->body);
    assert_true(raw->raw_owned);
    json_error_t je;
    json_t *parsed = json_loadb(raw->raw, raw->raw_len, JSON_REJECT_DUPLICATES, &je);
    if (!parsed)
        fail_msg("raw output is not JSON: %s: %.*s", je.text, (int)raw->raw_len, raw->raw);
    if (!json_equal(parsed, tree->body)) {
        char *want = json_dumps(tree->body, JSON_SORT_KEYS);
        print_error("tree: %s\nraw:  %.*s\n", want, (int)raw->raw_len, raw->raw);
        free(want);
        fail();
    }
    json_decref(parsed);
    assert_members_told(raw);
    /* The same text marked checked is read at once with the trusted scanner: the same bytes
     * out; an unchecked one is checked first, so both come out checked. */
    struct uf_event *trusted = uf_event_new_raw(body, strlen(body), tree->id);
    trusted->raw_checked = true;
    set_meta(trusted, r);
    trusted = process(f, trusted);
    assert_true(raw->raw_checked);
    assert_true(trusted->raw_checked);
    assert_int_equal(trusted->raw_len, raw->raw_len);
    /* received_at differs between the two runs only if the clock moved: compare what precedes
     * it in the fields enrich writes, and the client's members, which come first */
    const char *cut = strstr(raw->raw, "\"received_at\"");
    size_t upto = cut ? (size_t)(cut - raw->raw) : raw->raw_len;
    assert_memory_equal(trusted->raw, raw->raw, upto);
    return tree;
}

static struct uf_event *run(struct fx *f, const char *body, const char *user, const char *ip)
{
    struct req r = { .user = user, .ip = ip };
    return run_req(f, body, &r);
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

/* A producer's own UUID (a client retrying, an SDK deduplicating) is kept, lower-cased, and
 * becomes the event's id; keep_event_id: false makes a new one whatever was sent. */
static void test_client_event_id(void **state)
{
    static const char body[] = "{\"type\":\"click\",\"event_id\":"
                               "\"0192F0C1-1111-7222-8333-44445555AAAA\"}";
    struct fx f;
    fx_build(&f, "");
    struct uf_event *ev = run(&f, body, NULL, NULL);
    assert_string_equal(uf_event_get_str(ev, "event_id"), "0192f0c1-1111-7222-8333-44445555aaaa");
    char id[UF_UUID_STR];
    uf_uuid_format(ev->id, id);
    assert_string_equal(id, "0192f0c1-1111-7222-8333-44445555aaaa");
    fx_free(&f);

    fx_build(&f, ", keep_event_id: false");
    ev = run(&f, body, NULL, NULL);
    uf_uuid_format(ev->id, id);
    assert_string_equal(uf_event_get_str(ev, "event_id"), id);
    assert_string_not_equal(id, "0192f0c1-1111-7222-8333-44445555aaaa");
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
    check_ip(", ipv4_prefix: 32", "9.10.100.255", "9.10.100.255"); /* 1 to 3 digits */
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

/* Raw texts: values that need escaping on the way out, client keys written with escapes (they
 * name the same member, so they are replaced too), blanks, nesting and unicode kept as sent. */
static void test_raw_escapes_and_layout(void **state)
{
    struct fx f;
    fx_build(&f, ", route_types: {player: player}");
    struct req r = { .user = "u\"1\\x",
                     .ip = "2001:db8:abcd:12::1",
                     .agent = "Agent \"q\" \\ \x01\t\u00e9",
                     .request_id = "r\n\x1f" };
    struct uf_event *ev =
        run_req(&f,
                " {\"user\\u005fid\" : \"forged\", \"n\":{\"a\":[1,2.5e3,{\"b\":null}]},"
                "\"s\":\"\\u00e9\\\"\\n\u00e9\", \"t\\u0079pe\":\"x\",\"ip\":\"1.1.1.1\"} ",
                &r);
    assert_string_equal(uf_event_get_str(ev, "user_id"), "u\"1\\x");
    assert_string_equal(uf_event_get_str(ev, "type"), "player");
    assert_string_equal(uf_event_get_str(ev, "ip"), "2001:db8:abcd::");
    assert_string_equal(uf_event_get_str(ev, "s"), "\u00e9\"\n\u00e9");
    fx_free(&f);

    fx_build(&f, "");
    run(&f, "{}", NULL, NULL);
    run(&f, "{\"event_id\":1,\"received_at\":[],\"user_agent\":{},\"request_id\":null}", NULL,
        "10.0.0.1");
    fx_free(&f);
}

/* The http source only emits checked objects; anything else fails, never crashes. */
static void test_raw_not_an_object_fails(void **state)
{
    struct fx f;
    fx_build(&f, "");
    const char *bad[] = { "[{}]", "{\"a\":}", "", "{\"a\":1} x" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct uf_completion *c;
        struct uf_waiter *w = uf_waiter_new(&c);
        struct uf_event *ev = uf_event_new_raw(bad[i], strlen(bad[i]), NULL);
        uf_completion_attach(c, ev);
        uf_completion_release(c);
        ev->at = f.en;
        f.en->kind->process(f.en, f.en->ctx, ev);
        assert_int_equal(uf_waiter_wait(w, 0), 0);
        assert_int_equal(uf_waiter_status(w), 400);
        json_t *err = json_object_get(uf_waiter_body(w), "error");
        assert_string_equal(json_string_value(json_object_get(err, "code")), "malformed_json");
        uf_waiter_free(w);
    }
    assert_int_equal(ncaptured, 0);
    fx_free(&f);
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
        cmocka_unit_test(test_client_event_id),
        cmocka_unit_test(test_user_id_only_from_token),
        cmocka_unit_test(test_ip_truncation),
        cmocka_unit_test(test_user_agent_can_be_left_out),
        cmocka_unit_test(test_route_types),
        cmocka_unit_test(test_raw_escapes_and_layout),
        cmocka_unit_test(test_raw_not_an_object_fails),
        cmocka_unit_test(test_prefix_out_of_range_is_an_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
