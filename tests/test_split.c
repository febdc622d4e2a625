/* test_split.c: the `split` transform, and the batch path it closes: http (`batch: true`) ->
 * validate (`items: body`) -> split -> a capturing sink, run for real through libcurl. A valid
 * batch arrives as one event per item (index, count, meta) answered {"accepted": n}; one invalid
 * item rejects the request; 413 beyond max_items; a single object is a batch of one. The same
 * cases run on http -> split -> sink as trees and as text, with the same answers. Then split
 * alone (process() with a waiter), tree and text: user and completion, counts, bad items, no
 * array, text that is not JSON, borrowed or copied texts, and the settings' errors. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "framework/config.h"
#include "framework/event.h"
#include "framework/event_int.h"
#include "framework/graph.h"
#include "framework/jscan.h"
#include "framework/log.h"
#include "framework/metrics.h"
#include "framework/runtime.h"

static const char *yaml =
    "pipelines:\n"
    "  t:\n"
    "    components:\n"
    "      api:\n"
    "        kind: http\n"
    "        address: 127.0.0.1:0\n"
    "        success_status: 202\n"
    "        routes:\n"
    "          \"POST /api/v1/events\": {name: events, auth: optional, body: json, batch: true, "
    "max_items: 500}\n"
    "      check:\n"
    "        kind: validate\n"
    "        inputs: [api]\n"
    "        items: body\n"
    "        rules:\n"
    "          events:\n"
    "            type: {type: string, required: true, max_length: 64, charset: '[a-z0-9._-]'}\n"
    "      items:\n"
    "        kind: split\n"
    "        inputs: [check]\n"
    "      out:\n"
    "        kind: null\n"
    "        inputs: [items]\n";

/* The same route with split alone: the tree path, or the text path (setup_raw). */
static const char *plain_yaml =
    "pipelines:\n"
    "  t:\n"
    "    components:\n"
    "      api:\n"
    "        kind: http\n"
    "        address: 127.0.0.1:0\n"
    "        success_status: 202\n"
    "        routes:\n"
    "          \"POST /api/v1/events\": {name: events, auth: optional, body: json, batch: true, "
    "max_items: 500}\n"
    "      items:\n"
    "        kind: split\n"
    "        inputs: [api]\n"
    "      out:\n"
    "        kind: null\n"
    "        inputs: [items]\n";

/* ---- the capturing sink ---- */

static struct {
    pthread_mutex_t mu;
    json_t *bodies, *metas; /* arrays, in arrival order (a raw event's text parsed) */
    json_t *users;
    json_t *raws;   /* a raw event's text as it came, or null for a tree event */
    size_t owned;   /* raw events that owned their text */
    size_t checked; /* raw events marked raw_checked */
} seen = { .mu = PTHREAD_MUTEX_INITIALIZER };

static struct uf_kind capture_kind;

static int capture_write(struct uf_stage *st, void *ctx, struct uf_event **evs, size_t n,
                         struct uf_err *err)
{
    pthread_mutex_lock(&seen.mu);
    for (size_t i = 0; i < n; i++) {
        struct uf_event *ev = evs[i];
        json_t *body = ev->raw ? json_loadb(ev->raw, ev->raw_len, JSON_DECODE_ANY, NULL)
                               : json_incref(ev->body);
        json_array_append_new(seen.bodies, body);
        json_array_append_new(seen.raws,
                              ev->raw ? json_stringn(ev->raw, ev->raw_len) : json_null());
        seen.owned += ev->raw_owned;
        seen.checked += ev->raw_checked;
        json_t *meta = json_deep_copy(uf_event_meta(evs[i]));
        if (evs[i]->index >= 0) { /* recorded with the meta, as meta_int reads them */
            json_object_set_new(meta, "index", json_integer(evs[i]->index));
            json_object_set_new(meta, "count", json_integer(evs[i]->count));
        }
        json_array_append_new(seen.metas, meta);
        /* A change to one item's nested meta must not reach the items after it. */
        json_object_set_new(json_object_get(uf_event_meta(evs[i]), "params"), "touched",
                            json_true());
        json_array_append_new(seen.users, evs[i]->user ? json_string(evs[i]->user) : json_null());
        uf_event_done(evs[i]);
    }
    pthread_mutex_unlock(&seen.mu);
    return UF_OK;
}

static size_t seen_count(void)
{
    pthread_mutex_lock(&seen.mu);
    size_t n = json_array_size(seen.bodies);
    pthread_mutex_unlock(&seen.mu);
    return n;
}

/* ---- the pipeline ---- */

struct fixture {
    struct uf_graph *g;
    struct uf_runtime *rt;
    struct uf_stage *api, *split;
    int port;
    bool raw; /* the http source holds batches as text (else split is made to refuse them) */
};

static struct uf_stage *stage_named(struct uf_graph *g, const char *name)
{
    for (size_t i = 0; i < g->pipelines[0].nstages; i++)
        if (strcmp(g->pipelines[0].stages[i]->name, name) == 0)
            return g->pipelines[0].stages[i];
    return NULL;
}

extern const struct uf_kind uf_transform_split;
static struct uf_kind tree_split_kind; /* split, with batches held as text refused */

static int setup_with(void **state, const char *config, bool raw)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    struct uf_diags d = { 0 };
    uf_log_level = UF_LOG_ERROR;
    seen.bodies = json_array();
    seen.metas = json_array();
    seen.users = json_array();
    seen.raws = json_array();
    seen.owned = 0;
    seen.checked = 0;
    fx->raw = raw;
    fx->g = uf_graph_build(uf_config_load_string("test.yaml", config, &d), NULL, 0, &d);
    if (d.n)
        uf_diags_print(&d, stderr);
    assert_non_null(fx->g);
    uf_diags_free(&d);
    struct uf_stage *out = stage_named(fx->g, "out");
    capture_kind = *out->kind;
    capture_kind.write = capture_write;
    out->kind = &capture_kind;
    fx->api = stage_named(fx->g, "api");
    fx->split = stage_named(fx->g, "items");
    if (!raw) { /* a split that does not end batches held as text: the http source parses */
        tree_split_kind = *fx->split->kind;
        tree_split_kind.batch = NULL;
        fx->split->kind = &tree_split_kind;
    }
    fx->rt = uf_runtime_new(fx->g);
    struct uf_err err = { 0 };
    assert_int_equal(uf_runtime_start(fx->rt, &err), 0);
    fx->port = (int)uf_metrics_extra_value(&fx->api->metrics, "http_listen_port", NULL);
    assert_true(fx->port > 0);
    assert_int_equal(uf_stage_batches_split(fx->api, 0), raw);
    *state = fx;
    return 0;
}

static int setup(void **state)
{
    return setup_with(state, yaml, false);
}

static int setup_plain(void **state)
{
    return setup_with(state, plain_yaml, false);
}

static int setup_raw(void **state)
{
    return setup_with(state, plain_yaml, true);
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    if (fx->rt) {
        uf_runtime_request_stop(fx->rt);
        uf_runtime_run(fx->rt);
        uf_runtime_free(fx->rt);
    }
    uf_graph_free(fx->g);
    json_decref(seen.bodies);
    json_decref(seen.metas);
    json_decref(seen.users);
    json_decref(seen.raws);
    free(fx);
    return 0;
}

/* ---- the client ---- */

struct reply {
    long status;
    char text[8192];
    size_t len;
    json_t *json;
};

static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
    struct reply *r = arg;
    size_t len = sz * n, room = sizeof(r->text) - 1 - r->len;
    memcpy(r->text + r->len, p, len < room ? len : room);
    r->len += len < room ? len : room;
    r->text[r->len] = '\0';
    return len;
}

/* POSTs body as JSON to path; the caller frees reply.json. */
static struct reply post(const struct fixture *fx, const char *path, const char *body)
{
    struct reply r = { 0 };
    char url[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", fx->port, path);
    CURL *h = curl_easy_init();
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    hdrs = curl_slist_append(hdrs, "X-Request-Id: req-split-1");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "split-test/1");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
    CURLcode rc = curl_easy_perform(h);
    if (rc != CURLE_OK)
        fail_msg("curl POST %s: %s", path, curl_easy_strerror(rc));
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    r.json = json_loads(r.text, 0, NULL);
    return r;
}

static json_t *err_field(const struct reply *r, const char *key)
{
    return json_object_get(json_object_get(r->json, "error"), key);
}

static const char *meta_str(size_t i, const char *key)
{
    return json_string_value(json_object_get(json_array_get(seen.metas, i), key));
}

static long long meta_int(size_t i, const char *key)
{
    return json_integer_value(json_object_get(json_array_get(seen.metas, i), key));
}

/* ---- through the engine ---- */

static void test_batch_of_three_becomes_three_events(void **state)
{
    struct fixture *fx = *state;
    struct reply r = post(fx, "/api/v1/events",
                          "[{\"type\":\"a\",\"n\":0}, {\"type\":\"b\",\"n\":1}\n,"
                          "{\"type\":\"c\"} ]");
    assert_int_equal(r.status, 202);
    assert_int_equal(json_integer_value(json_object_get(r.json, "accepted")), 3);
    assert_int_equal(seen_count(), 3);
    static const char *const types[] = { "a", "b", "c" };
    static const char *const texts[] = { "{\"type\":\"a\",\"n\":0}", "{\"type\":\"b\",\"n\":1}",
                                         "{\"type\":\"c\"}" };
    for (size_t i = 0; i < 3; i++) {
        /* raw: each item's text is its element's bytes, as the client sent them */
        json_t *raw = json_array_get(seen.raws, i);
        if (fx->raw)
            assert_string_equal(json_string_value(raw), texts[i]);
        else
            assert_true(json_is_null(raw));
        json_t *b = json_array_get(seen.bodies, i);
        assert_string_equal(json_string_value(json_object_get(b, "type")), types[i]);
        assert_null(json_object_get(b, "route")); /* the item, not the envelope */
        assert_int_equal(meta_int(i, "index"), (long long)i);
        assert_int_equal(meta_int(i, "count"), 3);
        assert_string_equal(meta_str(i, "route"), "events");
        assert_string_equal(meta_str(i, "auth"), "optional");
        assert_string_equal(meta_str(i, "ip"), "127.0.0.1");
        assert_string_equal(meta_str(i, "user_agent"), "split-test/1");
        assert_string_equal(meta_str(i, "request_id"), "req-split-1");
        json_t *params = json_object_get(json_array_get(seen.metas, i), "params");
        assert_true(json_is_object(params));
        assert_null(json_object_get(params, "touched"));
    }
    /* one batch in, three items out, the consumed batch counted as a drop */
    assert_int_equal(atomic_load(&fx->split->metrics.in), 1);
    assert_int_equal(atomic_load(&fx->split->metrics.out), 3);
    assert_int_equal(atomic_load(&fx->split->metrics.dropped), 1);
    json_decref(r.json);
}

static void test_invalid_item_rejects_whole_request(void **state)
{
    struct fixture *fx = *state;
    struct reply r = post(fx, "/api/v1/events",
                          "[{\"type\":\"a\"},{\"type\":\"b\"},{\"type\":\"Bad Type\"},"
                          "{\"type\":\"d\"}]");
    assert_int_equal(r.status, 422);
    assert_string_equal(json_string_value(err_field(&r, "code")), "invalid_field");
    assert_string_equal(json_string_value(err_field(&r, "message")),
                        "events[2].type: must contain only [a-z0-9._-]");
    assert_string_equal(json_string_value(err_field(&r, "field")), "type");
    assert_int_equal(json_integer_value(err_field(&r, "index")), 2);
    assert_int_equal(seen_count(), 0);
    assert_int_equal(atomic_load(&fx->split->metrics.in), 0);
    json_decref(r.json);

    r = post(fx, "/api/v1/events", "[{\"type\":\"a\"},{}]");
    assert_int_equal(r.status, 422);
    assert_string_equal(json_string_value(err_field(&r, "message")), "events[1].type: is required");
    assert_int_equal(json_integer_value(err_field(&r, "index")), 1);
    assert_int_equal(seen_count(), 0);
    json_decref(r.json);
}

static void test_too_many_items_and_non_objects(void **state)
{
    struct fixture *fx = *state;
    size_t cap = 501 * 16 + 16, len = 0;
    char *body = malloc(cap);
    body[len++] = '[';
    for (int i = 0; i < 501; i++)
        len += (size_t)snprintf(body + len, cap - len, "%s{\"type\":\"t\"}", i ? "," : "");
    snprintf(body + len, cap - len, "]");
    struct reply r = post(fx, "/api/v1/events", body);
    free(body);
    assert_int_equal(r.status, 413);
    assert_string_equal(json_string_value(err_field(&r, "code")), "too_many_items");
    assert_string_equal(json_string_value(err_field(&r, "message")),
                        "501 items; at most 500 are accepted");
    json_decref(r.json);

    r = post(fx, "/api/v1/events", "[{\"type\":\"a\"},\"b\"]");
    assert_int_equal(r.status, 400);
    assert_string_equal(json_string_value(err_field(&r, "message")), "item 1 is not a JSON object");
    assert_int_equal(json_integer_value(err_field(&r, "index")), 1);
    json_decref(r.json);

    r = post(fx, "/api/v1/events", "7");
    assert_int_equal(r.status, 400);
    assert_string_equal(json_string_value(err_field(&r, "code")), "malformed_json");
    json_decref(r.json);
    assert_int_equal(seen_count(), 0);
}

static void test_single_object_is_a_batch_of_one(void **state)
{
    struct fixture *fx = *state;
    struct reply r = post(fx, "/api/v1/events", "{\"type\":\"page.view\"}");
    assert_int_equal(r.status, 202);
    assert_int_equal(json_integer_value(json_object_get(r.json, "accepted")), 1);
    assert_int_equal(seen_count(), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(seen.bodies, 0), "type")),
                        "page.view");
    assert_int_equal(meta_int(0, "index"), 0);
    assert_int_equal(meta_int(0, "count"), 1);
    assert_string_equal(meta_str(0, "route"), "events");
    assert_string_equal(meta_str(0, "request_id"), "req-split-1");
    if (fx->raw) /* the request's own text, unchanged */
        assert_string_equal(json_string_value(json_array_get(seen.raws, 0)),
                            "{\"type\":\"page.view\"}");
    json_decref(r.json);

    /* An empty batch is accepted with nothing to publish. */
    r = post(fx, "/api/v1/events", "[]");
    assert_int_equal(r.status, 202);
    assert_int_equal(json_integer_value(json_object_get(r.json, "accepted")), 0);
    assert_int_equal(seen_count(), 1);
    json_decref(r.json);
}

/* ---- split on its own ---- */

struct sent {
    int status;
    unsigned done, dropped, failed;
    char msg[256];
};

/* Runs one event through split's process() (the runtime is not started: the sink runs in this
 * thread) and waits for its completion. Takes ownership of ev. */
static struct sent split_one(struct fixture *fx, struct uf_event *ev)
{
    struct uf_completion *c;
    struct uf_waiter *w = uf_waiter_new(&c);
    uf_completion_attach(c, ev);
    uf_completion_release(c);
    ev->at = fx->split;
    fx->split->kind->process(fx->split, fx->split->ctx, ev);
    assert_int_equal(uf_waiter_wait(w, 1000), 0);
    struct sent s = { .status = uf_waiter_status(w),
                      .done = uf_waiter_count(w, UF_OUTCOME_DONE),
                      .dropped = uf_waiter_count(w, UF_OUTCOME_DROPPED),
                      .failed = uf_waiter_count(w, UF_OUTCOME_FAILED) };
    const char *m =
        json_string_value(json_object_get(json_object_get(uf_waiter_body(w), "error"), "message"));
    snprintf(s.msg, sizeof(s.msg), "%s", m ? m : "");
    uf_waiter_free(w);
    return s;
}

static void test_split_carries_user_meta_and_completion(void **state)
{
    struct fixture *fx = *state;
    struct uf_event *ev =
        uf_event_new(json_pack("{s:s,s:[{s:i},{s:i}]}", "route", "events", "body", "n", 0, "n", 1));
    uf_event_set_user(ev, "0190a5c4-0000-7000-8000-0000000000aa");
    json_object_set_new(uf_event_meta(ev), "roles", json_pack("[s]", "viewer"));
    ev->received_us = 42;
    struct sent s = split_one(fx, ev);
    assert_int_equal(s.status, 0);
    assert_int_equal(s.done, 2);    /* the items, delivered */
    assert_int_equal(s.dropped, 1); /* the batch, consumed */
    assert_int_equal(s.failed, 0);
    assert_int_equal(seen_count(), 2);
    for (size_t i = 0; i < 2; i++) {
        assert_string_equal(json_string_value(json_array_get(seen.users, i)),
                            "0190a5c4-0000-7000-8000-0000000000aa");
        assert_string_equal(json_string_value(json_array_get(
                                json_object_get(json_array_get(seen.metas, i), "roles"), 0)),
                            "viewer");
        assert_int_equal(meta_int(i, "index"), (long long)i);
        assert_int_equal(json_integer_value(json_object_get(json_array_get(seen.bodies, i), "n")),
                         (long long)i);
    }
}

static void test_split_rejects_non_objects_and_passes_non_batches(void **state)
{
    struct fixture *fx = *state;
    struct sent s = split_one(fx, uf_event_new(json_pack("{s:[{},i]}", "body", 3)));
    assert_int_equal(s.status, 400);
    assert_string_equal(s.msg, "item 1 is not a JSON object");
    assert_int_equal(s.failed, 1);
    assert_int_equal(seen_count(), 0);

    s = split_one(fx, uf_event_new(json_pack("{s:{s:s}}", "body", "text", "hi")));
    assert_int_equal(s.status, 0);
    assert_int_equal(s.done, 1);
    assert_int_equal(seen_count(), 1);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_array_get(seen.bodies, 0), "body"), "text")),
                        "hi");
}

/* split_one with a raw event over text (borrowed; it outlives the completion); a valid text is
 * marked checked, as the http source marks what it checked. */
static struct sent split_raw_one(struct fixture *fx, const char *text, const char *user)
{
    struct uf_event *ev = uf_event_new_raw(text, strlen(text), NULL);
    ev->raw_checked = uf_jscan_value(text, strlen(text), true, NULL, &(struct uf_err){ 0 }) == 0;
    uf_event_set_user(ev, user);
    json_object_set_new(uf_event_meta(ev), "roles", json_pack("[s]", "viewer"));
    json_object_set_new(uf_event_meta(ev), "route", json_string("events"));
    ev->received_us = 42;
    return split_one(fx, ev);
}

static void test_split_raw_batches(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(uf_transform_split.batch(fx->split->ctx), UF_BATCH_END);
    static const char arr[] = " [ {\"n\":0} ,{\"n\":1,\"a\":[1,{\"b\":\"]\"}]}]\n";
    struct sent s = split_raw_one(fx, arr, "0190a5c4-0000-7000-8000-0000000000aa");
    assert_int_equal(s.status, 0);
    assert_int_equal(s.done, 2);    /* the items, delivered */
    assert_int_equal(s.dropped, 1); /* the batch, consumed */
    assert_int_equal(s.failed, 0);
    assert_int_equal(seen_count(), 2);
    assert_string_equal(json_string_value(json_array_get(seen.raws, 0)), "{\"n\":0}");
    assert_string_equal(json_string_value(json_array_get(seen.raws, 1)),
                        "{\"n\":1,\"a\":[1,{\"b\":\"]\"}]}");
    assert_int_equal(seen.owned, 0);   /* borrowed: the batch's text lives as long as its items */
    assert_int_equal(seen.checked, 2); /* parts of a checked text, scanned trusted from here */
    for (size_t i = 0; i < 2; i++) {
        assert_string_equal(json_string_value(json_array_get(seen.users, i)),
                            "0190a5c4-0000-7000-8000-0000000000aa");
        assert_string_equal(json_string_value(json_array_get(
                                json_object_get(json_array_get(seen.metas, i), "roles"), 0)),
                            "viewer");
        assert_string_equal(meta_str(i, "route"), "events");
        assert_int_equal(meta_int(i, "index"), (long long)i);
        assert_int_equal(meta_int(i, "count"), 2);
        assert_int_equal(json_integer_value(json_object_get(json_array_get(seen.bodies, i), "n")),
                         (long long)i);
    }

    /* An object is the batch of one: the event itself, with the tree path's index and count. */
    s = split_raw_one(fx, "{\"n\":7}", NULL);
    assert_int_equal(s.status, 0);
    assert_int_equal(s.done, 1);
    assert_int_equal(s.dropped, 0);
    assert_int_equal(seen_count(), 3);
    assert_string_equal(json_string_value(json_array_get(seen.raws, 2)), "{\"n\":7}");
    assert_int_equal(meta_int(2, "index"), 0);
    assert_int_equal(meta_int(2, "count"), 1);
    assert_true(json_is_null(json_array_get(seen.users, 2)));

    /* An empty batch: nothing delivered, the batch consumed, as for a tree. */
    s = split_raw_one(fx, "[]", NULL);
    assert_int_equal(s.status, 0);
    assert_int_equal(s.done, 0);
    assert_int_equal(s.dropped, 1);
    assert_int_equal(seen_count(), 3);
}

static void test_split_raw_failures_and_copies(void **state)
{
    struct fixture *fx = *state;
    struct sent s = split_raw_one(fx, "[{},3,{}]", NULL);
    assert_int_equal(s.status, 400);
    assert_string_equal(s.msg, "item 1 is not a JSON object");
    assert_int_equal(s.failed, 1);
    s = split_raw_one(fx, "[{},3,{\"a\":}]", NULL); /* not JSON: reported before the item */
    assert_int_equal(s.status, 400);
    assert_string_equal(s.msg, "not JSON: invalid token at byte 11");
    s = split_raw_one(fx, "[{\"a\":1},", NULL);
    assert_int_equal(s.status, 400);
    assert_string_equal(s.msg, "not JSON: unexpected end of input at byte 9");
    assert_int_equal(seen_count(), 0);

    /* Anything else passes on unchanged, as a tree event without an array does. */
    s = split_raw_one(fx, "7", NULL);
    assert_int_equal(s.done, 1);
    assert_int_equal(seen_count(), 1);
    assert_null(json_object_get(json_array_get(seen.metas, 0), "index"));

    /* A batch that owns its text is freed when split ends it: its items get copies. */
    struct uf_event *ev = uf_event_new_raw(NULL, 0, NULL);
    uf_event_set_raw(ev, strdup("[{\"n\":0},{\"n\":1}]"), 17);
    s = split_one(fx, ev);
    assert_int_equal(s.done, 2);
    assert_int_equal(seen_count(), 3);
    assert_int_equal(seen.owned, 2);
    assert_string_equal(json_string_value(json_array_get(seen.raws, 2)), "{\"n\":1}");
}

static void expect_config_error(const char *components, const char *want)
{
    char *y;
    assert_true(asprintf(&y, "pipelines:\n  t:\n    components:\n%s", components) > 0);
    struct uf_diags d = { 0 };
    struct uf_graph *g = uf_graph_build(uf_config_load_string("t.yaml", y, &d), NULL, 0, &d);
    assert_null(g);
    assert_true(d.n >= 1);
    if (!strstr(d.v[0].msg, want))
        fail_msg("'%s' not in '%s'", want, d.v[0].msg);
    uf_diags_free(&d);
    free(y);
}

static void test_config_errors(void **state)
{
    expect_config_error("      api: {kind: http, routes: {\"POST /x\": {batch: true}}}\n"
                        "      out: {kind: null, inputs: [api]}\n",
                        "routes: \"POST /x\": batch needs body: json");
    expect_config_error("      api: {kind: http, routes: {\"POST /x\": {body: json, batch: true, "
                        "split_array: true}}}\n"
                        "      out: {kind: null, inputs: [api]}\n",
                        "batch and split_array exclude each other");
    expect_config_error("      src: {kind: generate, count: 1}\n"
                        "      s: {kind: split, inputs: [src], items: 'body..x'}\n"
                        "      out: {kind: null, inputs: [s]}\n",
                        "items: 'body..x' is not a dotted field path");
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_batch_of_three_becomes_three_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_item_rejects_whole_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_many_items_and_non_objects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_single_object_is_a_batch_of_one, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_of_three_becomes_three_events, setup_plain,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_too_many_items_and_non_objects, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_single_object_is_a_batch_of_one, setup_plain,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_batch_of_three_becomes_three_events, setup_raw,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_too_many_items_and_non_objects, setup_raw, teardown),
        cmocka_unit_test_setup_teardown(test_single_object_is_a_batch_of_one, setup_raw, teardown),
        cmocka_unit_test_setup_teardown(test_split_raw_batches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_split_raw_failures_and_copies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_split_carries_user_meta_and_completion, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_split_rejects_non_objects_and_passes_non_batches,
                                        setup, teardown),
        cmocka_unit_test(test_config_errors),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
