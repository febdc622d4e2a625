/* test_postgres.c: unit tests of the `postgres` kind's request mapping, without
 * a database: routes to statements and parameters, the 4xx answers for bad
 * input, rows to replies, and cursor encoding. The
 * database side is in it_postgres.c / it_ugc.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "event.h"
#include "framework/registry.h"
#include "sinks/postgres/postgres_ugc.h"

#define USER "0190a5c4-0000-7000-8000-000000000001"
#define MOVIE "0190a5c4-0000-7000-8000-0000000000aa"
#define COMMENT "0190a5c4-0000-7000-8000-0000000000cc"

static struct uf_event *request(const char *json, const char *user, const char *role)
{
    json_error_t jerr;
    json_t *body = json_loads(json, 0, &jerr);
    assert_non_null(body);
    struct uf_event *ev = uf_event_new(body);
    if (user)
        uf_event_set_user(ev, user);
    if (role)
        json_object_set_new(uf_event_meta(ev), "roles", json_pack("[s]", role));
    return ev;
}

/* Builds a call; returns the 4xx status or 0. */
static int build(const char *json, const char *user, const char *role, struct uf_pg_call *call,
                 struct uf_pg_reply *rep)
{
    struct uf_event *ev = request(json, user, role);
    int rc = uf_pg_call_build(ev, call, rep);
    uf_event_free(ev);
    return rc == 0 ? 0 : rep->status;
}

/* Answers call with rows given as the text of a JSON array: each element becomes one row's text,
 * spaced the way PostgreSQL's json_build_object writes it. Returns the reply's body parsed (NULL
 * when there is none); the reply's text must be compact JSON. */
static json_t *answer(const struct uf_pg_call *call, const char *rows_json, struct uf_pg_reply *rep)
{
    json_t *arr = json_loads(rows_json, 0, NULL);
    assert_non_null(arr);
    size_t n = json_array_size(arr);
    struct uf_pg_row rows[8];
    char *texts[8];
    assert_true(n <= 8);
    for (size_t i = 0; i < n; i++) {
        texts[i] = json_dumps(json_array_get(arr, i), JSON_PRESERVE_ORDER);
        rows[i] = (struct uf_pg_row){texts[i], strlen(texts[i]), NULL};
    }
    uf_pg_call_answer(call, rows, n, rep);
    for (size_t i = 0; i < n; i++)
        free(texts[i]);
    json_decref(arr);
    if (!rep->body)
        return NULL;
    json_t *body = json_loadb(rep->body, rep->body_len, 0, NULL);
    assert_non_null(body);
    char *compact = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
    assert_int_equal(strlen(compact), rep->body_len);
    free(compact);
    return body;
}

static void test_like_maps_to_upsert(void **state)
{
    struct uf_pg_call call;
    struct uf_pg_reply rep;
    assert_int_equal(build("{\"route\":\"like\",\"params\":{\"movie_id\":\"" MOVIE "\"}}", USER,
                           NULL, &call, &rep),
                     0);
    assert_string_equal(uf_pg_stmts[call.stmt].name, "ugc_react_v2");
    assert_int_equal(call.nparams, 3);
    assert_string_equal(call.params[0], USER);
    assert_string_equal(call.params[1], MOVIE);
    assert_string_equal(call.params[2], "1");

    json_t *body = answer(&call, "[{\"created\":true,\"changed\":true,\"updated_at\":\"t\"}]", &rep);
    assert_int_equal(rep.status, 201);
    assert_string_equal(json_string_value(json_object_get(body, "reaction")), "like");
    assert_string_equal(json_string_value(json_object_get(body, "updated_at")), "t");
    assert_string_equal(json_string_value(json_object_get(body, "movie_id")), MOVIE);
    json_decref(body);
    uf_pg_reply_clear(&rep);

    /* Already liked: 200. */
    json_decref(answer(&call, "[{\"created\":false,\"changed\":false,\"updated_at\":\"t\"}]", &rep));
    assert_int_equal(rep.status, 200);
    uf_pg_reply_clear(&rep);
    uf_pg_call_clear(&call);
}

static void test_bad_input_is_4xx(void **state)
{
    struct uf_pg_call call;
    struct uf_pg_reply rep;
    assert_int_equal(
        build("{\"route\":\"like\",\"params\":{\"movie_id\":\"nope\"}}", USER, NULL, &call, &rep),
        400);
    assert_string_equal(rep.code, "bad_uuid");
    assert_string_equal(rep.msg, "movie_id: not a UUID");

    assert_int_equal(build("{\"route\":\"like\",\"params\":{\"movie_id\":\"" MOVIE "\"}}", NULL,
                           NULL, &call, &rep),
                     401);
    assert_int_equal(build("{\"route\":\"fly\"}", USER, NULL, &call, &rep), 404);
    assert_string_equal(rep.msg, "no UGC operation named 'fly'");

    assert_int_equal(build("{\"route\":\"comments_list\",\"params\":{\"movie_id\":\"" MOVIE
                           "\"},\"query\":{\"limit\":\"101\"}}",
                           NULL, NULL, &call, &rep),
                     422);
    assert_string_equal(rep.msg, "limit: must be an integer from 1 to 100");
    assert_int_equal(build("{\"route\":\"comments_list\",\"params\":{\"movie_id\":\"" MOVIE
                           "\"},\"query\":{\"sort\":\"old\"}}",
                           NULL, NULL, &call, &rep),
                     422);
    assert_int_equal(build("{\"route\":\"comment_create\",\"params\":{\"movie_id\":\"" MOVIE
                           "\"},\"body\":{\"text\":\"\"}}",
                           USER, NULL, &call, &rep),
                     422);
    assert_string_equal(rep.msg, "text: must be 1 to 5000 characters");
    assert_int_equal(build("{\"route\":\"comment_vote_put\",\"params\":{"
                           "\"comment_id\":\"" COMMENT "\"},\"body\":{\"value\":\"sideways\"}}",
                           USER, NULL, &call, &rep),
                     422);
    assert_string_equal(rep.msg, "value: must be up or down");
}

static void test_comment_text_counts_characters(void **state)
{
    struct uf_pg_call call;
    struct uf_pg_reply rep;
    /* 5000 two-byte characters are allowed, 5001 are not. */
    size_t n = 5001;
    char *text = malloc(2 * n + 200);
    char *p = text + sprintf(text, "{\"route\":\"comment_create\",\"params\":{\"movie_id\":\"" MOVIE
                                   "\"},\"body\":{\"text\":\"");
    for (size_t i = 0; i < n; i++, p += 2)
        memcpy(p, "\xc3\xa9", 2);
    strcpy(p, "\"}}");
    assert_int_equal(build(text, USER, NULL, &call, &rep), 422);
    memmove(p - 2, p, strlen(p) + 1);
    assert_int_equal(build(text, USER, NULL, &call, &rep), 0);
    assert_int_equal(call.nparams, 4);
    assert_true(uf_uuid_is_valid(call.params[0]));
    uf_pg_call_clear(&call);
    free(text);
}

static void test_comment_delete_rights(void **state)
{
    struct uf_pg_call call;
    struct uf_pg_reply rep;
    const char *req = "{\"route\":\"comment_delete\",\"params\":{\"comment_id\":\"" COMMENT "\"}}";
    assert_int_equal(build(req, USER, "admin", &call, &rep), 0);
    assert_true(call.admin);
    assert_string_equal(call.params[2], "true");
    uf_pg_call_clear(&call);

    assert_int_equal(build(req, USER, NULL, &call, &rep), 0);
    assert_string_equal(call.params[2], "false");
    assert_null(answer(&call,
                       "[{\"movie_id\":\"" MOVIE "\",\"author\":\"someone\",\"deleted\":false}]",
                       &rep));
    assert_int_equal(rep.status, 403);
    assert_null(answer(&call, "[]", &rep));
    assert_int_equal(rep.status, 404);
    assert_null(answer(&call,
                       "[{\"movie_id\":\"" MOVIE "\",\"author\":\"" USER "\",\"deleted\":true}]",
                       &rep));
    assert_int_equal(rep.status, 204);
    assert_null(rep.body);
    uf_pg_reply_clear(&rep);
    uf_pg_call_clear(&call);
}

static void test_cursor_round_trip(void **state)
{
    const char *f[3] = {"-3", "2024-05-01T10:00:00.123456Z", COMMENT};
    char *c = uf_pg_cursor_encode("ct", f, 3);
    assert_null(strpbrk(c, "+/=|"));
    char buf[256];
    const char *out[3];
    assert_int_equal(uf_pg_cursor_decode(c, "ct", buf, sizeof buf, out, 3), 3);
    assert_string_equal(out[0], "-3");
    assert_string_equal(out[1], f[1]);
    assert_string_equal(out[2], COMMENT);
    /* A cursor of another list, or garbage, is refused. */
    assert_int_equal(uf_pg_cursor_decode(c, "cn", buf, sizeof buf, out, 3), -1);
    assert_int_equal(uf_pg_cursor_decode("!!!", "ct", buf, sizeof buf, out, 3), -1);
    assert_int_equal(uf_pg_cursor_decode(c, "ct", buf, 8, out, 3), -1);
    free(c);
}

static void test_list_pages(void **state)
{
    struct uf_pg_call call;
    struct uf_pg_reply rep;
    assert_int_equal(build("{\"route\":\"comments_list\",\"params\":{\"movie_id\":\"" MOVIE
                           "\"},\"query\":{\"limit\":\"2\"}}",
                           NULL, NULL, &call, &rep),
                     0);
    assert_string_equal(call.params[3], "3"); /* one more than asked, to know about a next page */
    assert_string_equal(call.params[1], "infinity");
    json_t *body = answer(&call,
                          "[{\"id\":\"" COMMENT "\",\"created_at\":\"2024-05-01T10:00:02Z\","
                          "\"text\":\"a \\\"quoted\\\" word,  two  spaces\"},"
                          "{\"id\":\"" COMMENT "\",\"created_at\":\"2024-05-01T10:00:01Z\"},"
                          "{\"id\":\"" COMMENT "\",\"created_at\":\"2024-05-01T10:00:00Z\"}]",
                          &rep);
    assert_int_equal(rep.status, 200);
    assert_int_equal(json_array_size(json_object_get(body, "items")), 2);
    /* Whitespace inside strings is kept, only that between tokens goes. */
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(json_object_get(body, "items"), 0), "text")),
        "a \"quoted\" word,  two  spaces");
    const char *next = json_string_value(json_object_get(body, "next_cursor"));
    assert_non_null(next);
    uf_pg_call_clear(&call);

    /* The next page starts after the last item shown. */
    char *req = NULL;
    asprintf(&req,
             "{\"route\":\"comments_list\",\"params\":{\"movie_id\":\"" MOVIE
             "\"},\"query\":{\"limit\":\"2\",\"cursor\":\"%s\"}}",
             next);
    uf_pg_reply_clear(&rep);
    json_decref(body);
    struct uf_pg_reply rep2;
    assert_int_equal(build(req, NULL, NULL, &call, &rep2), 0);
    assert_string_equal(call.params[1], "2024-05-01T10:00:01Z");
    assert_string_equal(call.params[2], COMMENT);
    uf_pg_call_clear(&call);
    free(req);
}

static void test_kinds_registered(void **state)
{
    const struct uf_kind *k = uf_registry_find("postgres");
    assert_non_null(k);
    assert_false(k->emits); /* its analytics events go through the outbox table */
    assert_non_null(uf_registry_find("http_forward"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_like_maps_to_upsert),
        cmocka_unit_test(test_bad_input_is_4xx),
        cmocka_unit_test(test_comment_text_counts_characters),
        cmocka_unit_test(test_comment_delete_rights),
        cmocka_unit_test(test_cursor_round_trip),
        cmocka_unit_test(test_list_pages),
        cmocka_unit_test(test_kinds_registered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
