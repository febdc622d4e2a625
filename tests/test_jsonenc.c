/* test_jsonenc.c: the compact JSON encoder against jansson's own json_dumps(JSON_COMPACT |
 * JSON_ENCODE_ANY), byte for byte: every ASCII character in a string and in a key (escapes),
 * multi-byte UTF-8, integers at the limits, reals (".0" added, exponents, the 17-digit
 * precision), literals, empty and nested containers in insertion order, and an event body of
 * the stat pipeline's shape. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "framework/jsonenc.h"

/* Asserts that the encoder writes what json_dumps writes; takes ownership of v. */
static void same_as_jansson(json_t *v)
{
    assert_non_null(v);
    char *want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    size_t len = 0;
    char *got = uf_jsonenc_dumps(v, &len);
    assert_non_null(want);
    assert_string_equal(got, want);
    assert_int_equal(len, strlen(want));
    free(want);
    free(got);
    json_decref(v);
}

static void test_every_ascii_character(void **state)
{
    (void)state;
    for (int c = 1; c < 128; c++) {
        char s[4] = { 'a', (char)c, 'z', 0 };
        same_as_jansson(json_string(s));
        json_t *o = json_object();
        json_object_set_new(o, s, json_integer(c));
        same_as_jansson(o);
    }
}

static void test_strings(void **state)
{
    (void)state;
    same_as_jansson(json_string(""));
    same_as_jansson(json_string("Привет, мир: «кино» 🎬 \xe2\x80\xa8 end"));
    same_as_jansson(json_string("\"\\/\b\f\n\r\t\x01\x1f\x7f"));
    same_as_jansson(json_stringn("nul\0inside", 10));
    json_t *o = json_object();
    json_object_setn_new(o, "k\0ey", 4, json_true());
    same_as_jansson(o);
}

static void test_numbers(void **state)
{
    (void)state;
    const json_int_t ints[] = { 0, 1, -1, 9, 10, -10, 1234567890, INT64_MAX, INT64_MIN };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        same_as_jansson(json_integer(ints[i]));
    const double reals[] = { 0.0,
                             -0.0,
                             1.0,
                             -2.0,
                             0.5,
                             0.1,
                             1.0 / 3,
                             12.5,
                             5400.0,
                             1e15,
                             1e16,
                             1e17,
                             123456789012345678.0,
                             1e21,
                             1e300,
                             -1e-300,
                             2.5e-5,
                             1e-7,
                             4.9e-324,
                             1.7976931348623157e308 };
    for (size_t i = 0; i < sizeof reals / sizeof reals[0]; i++)
        same_as_jansson(json_real(reals[i]));
}

static void test_literals_and_containers(void **state)
{
    (void)state;
    same_as_jansson(json_true());
    same_as_jansson(json_false());
    same_as_jansson(json_null());
    same_as_jansson(json_object());
    same_as_jansson(json_array());
    same_as_jansson(json_loads("[[],{},[1,[2,[3]]],{\"a\":{\"b\":{}}}]", 0, NULL));
    json_t *o = json_object();
    const char *keys[] = { "zeta", "alpha", "mid", "beta", "a" };
    for (size_t i = 0; i < 5; i++)
        json_object_set_new(o, keys[i], json_integer((json_int_t)i));
    json_object_del(o, "mid");
    json_object_set_new(o, "mid", json_null());
    same_as_jansson(o);
}

static void test_event_body(void **state)
{
    (void)state;
    same_as_jansson(
        json_loads("{\"type\":\"movie.card.click\",\"props\":{\"source\":\"home\",\"row\":\"7\","
                   "\"position\":3,\"experiment\":\"b\"},\"anonymous_id\":\"bench-anon-00001\","
                   "\"url\":\"/movies/12\",\"ts\":\"2026-11-29T12:00:00.000Z\",\"position_s\":12.5,"
                   "\"event_id\":\"0192f0c1-aaaa-7bbb-8ccc-000000000001\",\"completed\":false}",
                   0, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_ascii_character),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_literals_and_containers),
        cmocka_unit_test(test_event_body),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
