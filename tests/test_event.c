/* tests/test_event.c: event ownership and completions: copies share the completion, the
 * callback runs once after the last release, reply precedence and headers, waiters and
 * timeouts. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "framework/err.h"
#include "framework/event.h"
#include "framework/event_int.h"
#include "framework/uuid.h"

struct seen {
    int calls, status;
    unsigned done, failed, dropped;
    char body[256];
    char headers[256];
};

static void on_done(struct uf_completion *c, void *arg)
{
    struct seen *s = arg;
    s->calls++;
    s->status = uf_completion_status(c);
    s->done = uf_completion_count(c, UF_OUTCOME_DONE);
    s->failed = uf_completion_count(c, UF_OUTCOME_FAILED);
    s->dropped = uf_completion_count(c, UF_OUTCOME_DROPPED);
    char *b = uf_completion_body(c)
                  ? json_dumps(uf_completion_body(c), JSON_COMPACT | JSON_SORT_KEYS)
                  : NULL;
    snprintf(s->body, sizeof s->body, "%s", b ? b : "");
    free(b);
    json_t *h = uf_completion_take_headers(c);
    char *ht = h ? json_dumps(h, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    snprintf(s->headers, sizeof s->headers, "%s", ht ? ht : "");
    free(ht);
    json_decref(h);
}

static void test_completion_after_last_release(void **state)
{
    struct seen s = { 0 };
    struct uf_completion *c = uf_completion_new(on_done, &s);
    struct uf_event *a = uf_event_new(NULL);
    uf_completion_attach(c, a);
    struct uf_event *b = uf_event_copy(a); /* fan-out copy shares the completion */
    assert_ptr_equal(b->done, c);
    uf_completion_release(c); /* creator's reference */
    assert_int_equal(s.calls, 0);
    uf_event_reply(a, 201, json_pack("{s:s}", "ok", "yes"));
    uf_event_done(a);
    assert_int_equal(s.calls, 0);
    uf_event_drop(b, "filtered");
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.status, 201);
    assert_int_equal(s.done, 1);
    assert_int_equal(s.dropped, 1);
    assert_string_equal(s.body, "{\"ok\":\"yes\"}");
}

static void test_error_overrides_success(void **state)
{
    struct seen s = { 0 };
    struct uf_completion *c = uf_completion_new(on_done, &s);
    struct uf_event *a = uf_event_new(NULL), *b = uf_event_new(NULL);
    uf_completion_attach(c, a);
    uf_completion_attach(c, b);
    uf_completion_release(c);
    uf_event_reply(a, 200, json_pack("{s:i}", "n", 1));
    uf_event_done(a);
    uf_event_fail(b, 503, "store_unavailable", "PostgreSQL is unavailable");
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.status, 503);
    assert_int_equal(s.failed, 1);
    assert_string_equal(
        s.body,
        "{\"error\":{\"code\":\"store_unavailable\",\"message\":\"PostgreSQL is unavailable\"}}");
}

static void test_first_success_wins(void **state)
{
    struct seen s = { 0 };
    struct uf_completion *c = uf_completion_new(on_done, &s);
    struct uf_event *a = uf_event_new(NULL);
    uf_completion_attach(c, a);
    uf_completion_release(c);
    uf_event_reply(a, 201, NULL);
    uf_event_reply(a, 200, json_object()); /* ignored (and freed) */
    uf_event_done(a);
    assert_int_equal(s.status, 201);
}

/* Headers from any event of the completion are kept, a later value replacing an earlier one,
 * whichever reply wins; an event without a completion records none. */
static void test_reply_headers(void **state)
{
    struct seen s = { 0 };
    struct uf_completion *c = uf_completion_new(on_done, &s);
    struct uf_event *a = uf_event_new(NULL), *b = uf_event_new(NULL);
    uf_completion_attach(c, a);
    uf_completion_attach(c, b);
    uf_completion_release(c);
    uf_event_reply_header(a, "Event-Id", "x");
    uf_event_reply_header(b, "Event-Id", "y");
    uf_event_reply_header(b, "Location", "/a");
    uf_event_reply(a, 201, NULL);
    uf_event_done(a);
    uf_event_fail(b, 503, "down", "down");
    assert_int_equal(s.status, 503);
    assert_string_equal(s.headers, "{\"Event-Id\":\"y\",\"Location\":\"/a\"}");
    struct uf_event *lone = uf_event_new(NULL);
    uf_event_reply_header(lone, "Event-Id", "z");
    uf_event_free(lone);
}

static void test_waiter_timeout_then_late_completion(void **state)
{
    struct uf_completion *c;
    struct uf_waiter *w = uf_waiter_new(&c);
    struct uf_event *ev = uf_event_new(NULL);
    uf_completion_attach(c, ev);
    uf_completion_release(c);
    assert_int_equal(uf_waiter_wait(w, 20), UF_ETIMEOUT);
    uf_waiter_free(w); /* the caller gave up (HTTP 504) */
    uf_event_done(ev); /* the late completion is harmless: ASan checks the memory */
}

static void test_waiter_done(void **state)
{
    struct uf_completion *c;
    struct uf_waiter *w = uf_waiter_new(&c);
    struct uf_event *ev = uf_event_new(NULL);
    uf_completion_attach(c, ev);
    uf_completion_release(c);
    uf_event_reply(ev, 202, json_pack("{s:i}", "accepted", 1));
    uf_event_done(ev);
    assert_int_equal(uf_waiter_wait(w, 1000), 0);
    assert_int_equal(uf_waiter_status(w), 202);
    assert_int_equal(json_integer_value(json_object_get(uf_waiter_body(w), "accepted")), 1);
    assert_int_equal(uf_waiter_count(w, UF_OUTCOME_DONE), 1);
    uf_waiter_free(w);
}

static void test_copy_is_deep(void **state)
{
    struct uf_event *a = uf_event_new(json_pack("{s:{s:i}}", "props", "x", 1));
    uf_event_set_user(a, "u1");
    json_object_set_new(uf_event_meta(a), "ip", json_string("10.0.0.1"));
    struct uf_event *b = uf_event_copy(a);
    json_object_set_new(json_object_get(b->body, "props"), "x", json_integer(2));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(a->body, "props"), "x")),
                     1);
    assert_string_equal(b->user, "u1");
    assert_memory_equal(a->id, b->id, 16);
    assert_string_equal(json_string_value(json_object_get(b->meta, "ip")), "10.0.0.1");
    uf_event_free(a);
    uf_event_free(b);
}

/* Meta is shared between a copy, or a request's items, and the event it came from until one of
 * them changes it: then that one gets its own, nested objects included, and the others keep
 * what they saw. */
static void test_meta_copied_on_change(void **state)
{
    struct uf_event *a = uf_event_new(NULL);
    json_object_set_new(uf_event_meta(a), "ip", json_string("10.0.0.1"));
    json_object_set_new(uf_event_meta(a), "params", json_pack("{s:s}", "id", "7"));
    struct uf_event *b = uf_event_copy(a), *c = uf_event_new(NULL);
    uf_event_set_item(c, a->meta, 2, 3);
    assert_ptr_equal(b->meta, a->meta);
    assert_ptr_equal(c->meta, a->meta);
    assert_int_equal(c->index, 2);
    assert_int_equal(c->count, 3);
    assert_int_equal(a->index, -1);
    json_object_set_new(json_object_get(uf_event_meta(b), "params"), "id", json_string("8"));
    json_object_set_new(uf_event_meta(c), "ip", json_string("10.0.0.2"));
    assert_ptr_not_equal(b->meta, a->meta);
    assert_ptr_not_equal(c->meta, a->meta);
    assert_string_equal(json_string_value(json_object_get(uf_event_meta_get(a, "params"), "id")),
                        "7");
    assert_string_equal(json_string_value(uf_event_meta_get(a, "ip")), "10.0.0.1");
    assert_string_equal(json_string_value(json_object_get(uf_event_meta_get(b, "params"), "id")),
                        "8");
    assert_string_equal(json_string_value(uf_event_meta_get(c, "ip")), "10.0.0.2");
    json_t *own = a->meta; /* the last holder changes it in place */
    assert_ptr_equal(uf_event_meta(a), own);
    struct uf_event *d = uf_event_new(NULL);
    assert_null(uf_event_meta_get(d, "ip"));
    assert_null(d->meta);
    uf_event_free(a);
    uf_event_free(b);
    uf_event_free(c);
    uf_event_free(d);
}

/* A borrowed raw text is shared by copies; an owned one is the event's own, copied with it and
 * freed with it (the sanitizer build checks both). */
static void test_raw_owned_and_borrowed(void **state)
{
    static const char text[] = "{\"a\":1}";
    struct uf_event *a = uf_event_new_raw(text, sizeof text - 1, NULL);
    struct uf_event *b = uf_event_copy(a);
    assert_ptr_equal(b->raw, text);
    assert_false(b->raw_owned);
    char *own = strdup("{\"b\":2}");
    uf_event_set_raw(b, own, strlen(own));
    assert_true(b->raw_owned);
    assert_null(b->body);
    struct uf_event *c = uf_event_copy(b);
    assert_ptr_not_equal(c->raw, b->raw);
    assert_memory_equal(c->raw, "{\"b\":2}", 7);
    assert_int_equal(c->raw_len, 7);
    uf_event_set_raw(c, strdup("{}"), 2); /* frees c's previous text */
    assert_memory_equal(c->raw, "{}", 2);
    uf_event_free(a);
    uf_event_free(b);
    uf_event_free(c);
}

/* uf_event_pick answers as uf_jscan_pick does, scans the text once and remembers the members
 * (a list handed over with uf_event_set_raw_members is what it answers from), forgets them
 * with a new text, and copies keep them, moved onto the copy's own text when it has one. */
static void test_pick_remembers_members(void **state)
{
    static const char text[] =
        "{\"type\":\"a\",\"n\":5,\"p\":{\"type\":\"no\"},\"k\\u0065y\":\"v\"}";
    static const char *const keys[] = { "type", "n", "missing", "key", "p" };
    struct uf_event *ev = uf_event_new_raw(text, sizeof text - 1, NULL);
    struct uf_jmember want[5], got[5];
    struct uf_err err = { 0 };
    assert_int_equal(uf_jscan_pick(text, sizeof text - 1, keys, 5, want, &err), 0);
    for (int round = 0; round < 2; round++) { /* a scan, then the remembered members */
        assert_int_equal(uf_event_pick(ev, keys, 5, got, &err), 0);
        assert_non_null(ev->raw_members);
        for (size_t i = 0; i < 5; i++) {
            assert_ptr_equal(got[i].key, want[i].key);
            assert_ptr_equal(got[i].val, want[i].val);
            assert_int_equal(got[i].val_len, want[i].val_len);
            assert_int_equal(got[i].type, want[i].type);
        }
    }
    struct uf_jmember told = {
        .key = text + 2, .key_len = 4, .type = UF_J_NUMBER, .val = text + 16, .val_len = 1
    };
    uf_event_set_raw_members(ev, &told, 1);
    assert_int_equal(uf_event_pick(ev, keys, 2, got, &err), 0);
    assert_int_equal(got[0].type, UF_J_NUMBER); /* answered from the list, not the text */
    assert_null(got[1].key);
    struct uf_event *cp = uf_event_copy(ev); /* borrowed text: the same members */
    assert_int_equal(uf_event_pick(cp, keys, 1, got, &err), 0);
    assert_int_equal(got[0].type, UF_J_NUMBER);
    struct uf_event *own = uf_event_new_raw(NULL, 0, NULL);
    uf_event_set_raw(own, strdup(text), sizeof text - 1);
    assert_int_equal(uf_event_pick(own, keys, 5, want, &err), 0);
    struct uf_event *own_cp = uf_event_copy(own);
    uf_event_free(own); /* the copy's members must not point into the freed text */
    assert_non_null(own_cp->raw_members);
    assert_int_equal(uf_event_pick(own_cp, keys, 5, got, &err), 0);
    assert_ptr_equal(got[0].val, own_cp->raw + 9);
    assert_memory_equal(got[4].val, "{\"type\":\"no\"}", got[4].val_len);
    uf_event_free(own_cp);
    uf_event_set_raw(ev, strdup("{\"type\":1"), 9); /* malformed: an error, nothing kept */
    assert_null(ev->raw_members);
    assert_int_equal(uf_event_pick(ev, keys, 1, got, &err), UF_EINVAL);
    assert_null(ev->raw_members);
    uf_event_free(ev);
    uf_event_free(cp);
    /* A text no source checked is checked first, as the tree path's parse would: a key twice
     * is refused rather than read as its last value. */
    static const char dup[] = "{\"type\":\"a\",\"type\":\"b\"}";
    ev = uf_event_new_raw(dup, sizeof dup - 1, NULL);
    assert_int_equal(uf_event_pick(ev, keys, 1, got, &err), UF_EINVAL);
    assert_non_null(strstr(err.msg, "duplicate object key"));
    assert_false(ev->raw_checked);
    assert_int_equal(uf_event_check_raw(ev, &err), UF_EINVAL);
    uf_event_set_raw(ev, strdup("{\"type\":\"b\"}"), 12);
    assert_int_equal(uf_event_check_raw(ev, &err), 0);
    assert_true(ev->raw_checked);
    uf_event_free(ev);
}

/* uf_event_fields reads the same values from a body and from the same raw text: strings
 * decoded (escapes), NULL when absent or not strings, numbers NAN when absent or not numbers;
 * a long string goes to the heap scratch; a text that is not an object is refused. */
static void test_fields_from_body_and_raw(void **state)
{
    static const char *const names[] = { "a", "b", "missing", "n", "s_as_num", "absent" };
    char long_value[2000];
    memset(long_value, 'x', sizeof long_value - 1);
    long_value[sizeof long_value - 1] = '\0';
    char text[2200];
    snprintf(text, sizeof text,
             "{\"a\":\"q\\\"\\u00e9\",\"b\":\"%s\",\"n\":-2.5,"
             "\"s_as_num\":\"7\",\"missing\":3}",
             long_value);
    json_error_t je;
    struct uf_event *tree = uf_event_new(json_loads(text, 0, &je));
    struct uf_event *raw = uf_event_new_raw(text, strlen(text), NULL);
    struct uf_fields a, b;
    assert_true(uf_event_fields(tree, names, 3, 6, &a));
    assert_true(uf_event_fields(raw, names, 3, 6, &b));
    assert_non_null(b.heap); /* 2 KiB of picked string: past the stack scratch */
    for (size_t i = 0; i < 6; i++) {
        if (a.str[i] || b.str[i])
            assert_string_equal(a.str[i], b.str[i]);
        assert_true(isnan(a.num[i]) == isnan(b.num[i]));
        if (!isnan(a.num[i]))
            assert_true(a.num[i] == b.num[i]);
    }
    assert_string_equal(b.str[0], "q\"\xc3\xa9");
    assert_null(b.str[2]); /* a number where a string is asked */
    assert_true(b.num[3] == -2.5);
    assert_true(isnan(b.num[4]) && isnan(b.num[5]));
    uf_fields_free(&a);
    uf_fields_free(&b);
    uf_event_free(tree);
    uf_event_free(raw);
    struct uf_event *bad = uf_event_new_raw("[1]", 3, NULL);
    assert_false(uf_event_fields(bad, names, 3, 6, &b));
    uf_event_free(bad);
}

static void test_uuid_v7(void **state)
{
    uint8_t a[16], b[16];
    char s[UF_UUID_STR];
    uf_uuid_v7(a);
    for (int i = 0; i < 10000; i++) {
        uf_uuid_v7(b);
        assert_true(memcmp(a, b, 16) < 0); /* strictly increasing within a thread */
        memcpy(a, b, 16);
    }
    uf_uuid_format(a, s);
    assert_int_equal(strlen(s), 36);
    assert_int_equal(s[14], '7');               /* version */
    assert_true(strchr("89ab", s[19]) != NULL); /* variant */
    uint8_t back[16];
    assert_true(uf_uuid_parse(s, back));
    assert_memory_equal(a, back, 16);
    assert_false(uf_uuid_is_valid("not-a-uuid"));
    assert_false(uf_uuid_is_valid("0190a0b2-7c3d-7e4f-8a9b-0c1d2e3f4a5")); /* one short */
    assert_true(uf_uuid_is_valid("0190A0B2-7C3D-7E4F-8A9B-0C1D2E3F4A5B"));
    assert_false(uf_uuid_is_valid("0190a0b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b0")); /* one long */
    assert_false(uf_uuid_is_valid("0190a0b2-7c3d-7e4f-8a9b-0c1d2e3f4a5g"));  /* not hex */
    assert_false(uf_uuid_is_valid("g190a0b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b"));
    assert_false(uf_uuid_is_valid("0190a0b2-7c3d-7e4f-8a9b:0c1d2e3f4a5b")); /* separator */
    assert_false(uf_uuid_is_valid("0190a0b207c3d-7e4f-8a9b-0c1d2e3f4a5b"));
    assert_false(uf_uuid_is_valid("0190a0b2-7c3d-7e4f-8a9b-0c1d2e3f4a5\xff"));
    assert_true(uf_uuid_parse("00112233-4455-6677-8899-aabbccddeeff", back));
    static const uint8_t want[16] = { 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                                      0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff };
    assert_memory_equal(back, want, 16);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_completion_after_last_release),
        cmocka_unit_test(test_error_overrides_success),
        cmocka_unit_test(test_first_success_wins),
        cmocka_unit_test(test_reply_headers),
        cmocka_unit_test(test_waiter_timeout_then_late_completion),
        cmocka_unit_test(test_waiter_done),
        cmocka_unit_test(test_copy_is_deep),
        cmocka_unit_test(test_meta_copied_on_change),
        cmocka_unit_test(test_raw_owned_and_borrowed),
        cmocka_unit_test(test_pick_remembers_members),
        cmocka_unit_test(test_fields_from_body_and_raw),
        cmocka_unit_test(test_uuid_v7),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
