/* tests/test_event_fields.c: the field API answers alike whether an event holds a tree or the
 * JSON text a source received: reads, scalar reads, top-level string sets (a text stays text),
 * a tree on demand, the body taken out as text, and batches cut into items. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "framework/err.h"
#include "framework/event.h"

static const char text[] =
    "{\"type\":\"a\\u0062\",\"n\":7,\"r\":1.0,\"t\":true,\"o\":{\"k\":\"v\"}}";

static struct uf_event *from_text(const char *s)
{
    return uf_event_new_raw(s, strlen(s), NULL);
}

static struct uf_event *from_tree(const char *s)
{
    return uf_event_new(json_loads(s, 0, NULL));
}

/* Scalars read the same from both forms, with jansson's types: 1.0 is no integer. */
static void test_scalars_alike(void **state)
{
    struct uf_event *evs[2] = { from_text(text), from_tree(text) };
    for (size_t i = 0; i < 2; i++) {
        struct uf_scalar v;
        struct uf_err err = { 0 };
        assert_int_equal(uf_event_get_scalar(evs[i], "type", &v, &err), 0);
        assert_int_equal(v.type, UF_J_STRING);
        assert_int_equal(v.len, 2);
        assert_memory_equal(v.str, "ab", 2);
        uf_scalar_free(&v);
        assert_int_equal(uf_event_get_scalar(evs[i], "n", &v, &err), 0);
        assert_true(v.type == UF_J_NUMBER && v.int_ok && v.ival == 7);
        assert_int_equal(uf_event_get_scalar(evs[i], "r", &v, &err), 0);
        assert_true(v.type == UF_J_NUMBER && !v.int_ok);
        assert_int_equal(uf_event_get_scalar(evs[i], "t", &v, &err), 0);
        assert_int_equal(v.type, UF_J_TRUE);
        assert_int_equal(uf_event_get_scalar(evs[i], "missing", &v, &err), 0);
        assert_int_equal(v.type, UF_J_NULL);
        assert_int_equal(uf_event_get_scalar(evs[i], "o.k", &v, &err), 0); /* nested: a tree */
        assert_true(v.type == UF_J_STRING && v.len == 1 && v.str[0] == 'v');
        json_t *o = uf_event_get_value(evs[i], "o");
        assert_string_equal(json_string_value(json_object_get(o, "k")), "v");
        json_decref(o);
        uf_event_free(evs[i]);
    }
    struct uf_event *bad = from_text("[1]");
    struct uf_scalar v;
    struct uf_err err = { 0 };
    assert_int_equal(uf_event_get_scalar(bad, "type", &v, &err), UF_EINVAL);
    assert_null(uf_event_body(bad)); /* not one object: no tree either */
    uf_event_free(bad);
}

/* Setting top-level strings keeps a text a text (members kept, names replaced or removed,
 * the fields at the end) and ends with the same fields as on a tree. */
static void test_set_strs_alike(void **state)
{
    static const struct uf_strfield f[] = {
        { "type", "x" },
        { "n", NULL },
        { "user_id", "u\"1" },
    };
    struct uf_event *t = from_text(text), *tree = from_tree(text);
    struct uf_err err = { 0 };
    assert_int_equal(uf_event_set_strs(t, f, 3, &err), 0);
    assert_int_equal(uf_event_set_strs(tree, f, 3, &err), 0);
    size_t len;
    const char *s = uf_event_raw(t, &len);
    assert_non_null(s); /* still text: no tree was needed */
    static const char want[] = "{\"r\":1.0,\"t\":true,\"o\":{\"k\":\"v\"},\"type\":\"x\","
                               "\"user_id\":\"u\\\"1\"}";
    assert_int_equal(len, sizeof want - 1);
    assert_memory_equal(s, want, len);
    assert_true(uf_event_raw_checked(t));
    assert_string_equal(uf_event_get_str(t, "user_id"), "u\"1"); /* parsed on demand */
    assert_null(uf_event_raw(t, &len));
    assert_true(json_equal(uf_event_body(t), uf_event_body(tree)));
    uf_event_free(t);
    uf_event_free(tree);
    struct uf_event *bad = from_text("{\"a\":");
    assert_int_equal(uf_event_set_strs(bad, f, 1, &err), UF_EINVAL);
    assert_non_null(uf_event_raw(bad, &len)); /* unchanged */
    uf_event_free(bad);
}

/* The body as text without taking it: a text as it is (the same bytes), a tree encoded once,
 * after which the event holds that text and its fields answer as before. */
static void test_text_in_place(void **state)
{
    struct uf_event *t = from_text(text), *tree = from_tree("{\"a\":[1,2],\"s\":\"x\"}");
    size_t len, len2;
    const char *s = uf_event_text(t, &len);
    assert_ptr_equal(s, uf_event_raw(t, &len2));
    assert_int_equal(len, strlen(text));
    s = uf_event_text(tree, &len);
    assert_int_equal(len, strlen("{\"a\":[1,2],\"s\":\"x\"}"));
    assert_memory_equal(s, "{\"a\":[1,2],\"s\":\"x\"}", len);
    assert_null(uf_event_tree(tree));
    assert_true(uf_event_raw_checked(tree));
    assert_string_equal(uf_event_get_str(tree, "s"), "x");
    uf_event_free(t);
    uf_event_free(tree);
}

/* Taking the body out as text: a text as it is (a borrowed one copied), a tree encoded. */
static void test_take_text(void **state)
{
    struct uf_event *t = from_text(text), *tree = from_tree("{\"a\":[1,2]}");
    size_t len;
    char *s = uf_event_take_text(t, &len);
    assert_int_equal(len, strlen(text));
    assert_memory_equal(s, text, len);
    assert_ptr_not_equal(s, text);
    free(s);
    assert_null(uf_event_body(t));
    s = uf_event_take_text(tree, &len);
    assert_int_equal(len, 11);
    assert_memory_equal(s, "{\"a\":[1,2]}", len);
    free(s);
    assert_null(uf_event_tree(tree));
    uf_event_release_data(t);
    uf_event_free(t);
    uf_event_free(tree);
}

/* A batch is cut into the same items from a tree and from its text; a text object is its own
 * item; an item that is not an object fails the batch. */
static void test_items_alike(void **state)
{
    static const char arr[] = "[{\"n\":0},{\"n\":1}]";
    struct uf_event *t = from_text(arr);
    struct uf_event *tree = from_tree("{\"body\":[{\"n\":0},{\"n\":1}]}");
    struct uf_event *b[2] = { t, tree };
    for (size_t k = 0; k < 2; k++) {
        uf_event_set_user(b[k], "u");
        struct uf_event **items;
        size_t n;
        struct uf_err err = { 0 };
        assert_int_equal(uf_event_items(b[k], "body", &items, &n, &err), UF_ITEMS_SPLIT);
        assert_int_equal(n, 2);
        for (size_t i = 0; i < n; i++) {
            struct uf_scalar v;
            assert_int_equal(uf_event_get_scalar(items[i], "n", &v, &err), 0);
            assert_true(v.int_ok && v.ival == (int64_t)i);
            assert_int_equal(uf_event_index(items[i]), (int)i);
            assert_int_equal(uf_event_count(items[i]), 2);
            assert_string_equal(uf_event_user(items[i]), "u");
            uf_event_free(items[i]);
        }
        free(items);
        uf_event_free(b[k]);
    }
    struct uf_event *one = from_text("{\"n\":0}"), **items;
    size_t n;
    struct uf_err err = { 0 };
    assert_int_equal(uf_event_items(one, "body", &items, &n, &err), UF_ITEMS_SELF);
    assert_true(uf_event_index(one) == 0 && uf_event_count(one) == 1);
    uf_event_free(one);
    struct uf_event *bad = from_text("[{},2]");
    assert_int_equal(uf_event_items(bad, "body", &items, &n, &err), UF_ITEMS_FAIL);
    assert_string_equal(err.msg, "item 1 is not a JSON object");
    uf_event_free(bad);
    struct uf_event *none = from_tree("{\"body\":{}}");
    assert_int_equal(uf_event_items(none, "body", &items, &n, &err), UF_ITEMS_NONE);
    uf_event_free(none);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars_alike), cmocka_unit_test(test_set_strs_alike),
        cmocka_unit_test(test_take_text),     cmocka_unit_test(test_text_in_place),
        cmocka_unit_test(test_items_alike),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
