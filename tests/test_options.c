/* tests/test_options.c: option value parsing by type: integers, durations, sizes, booleans,
 * enums, ranges (never clamped), and "did you mean" suggestions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "framework/err.h"
#include "framework/options.h"

static const char *const modes[] = { "always", "interval", "never", NULL };
static const struct uf_option table[] = {
    { .name = "count", .type = UF_OPT_INT, .min = 1, .max = 100, .desc = "n" },
    { .name = "timeout", .type = UF_OPT_DURATION, .min = 0, .max = 60000, .desc = "t" },
    { .name = "max_bytes", .type = UF_OPT_SIZE, .desc = "b" },
    { .name = "ratio", .type = UF_OPT_FLOAT, .min = 0, .max = 1, .desc = "r" },
    { .name = "verbose", .type = UF_OPT_BOOL, .desc = "v" },
    { .name = "fsync", .type = UF_OPT_ENUM, .values = modes, .desc = "f" },
    { 0 }
};

static int64_t parse_i(const char *name, const char *text, struct uf_err *err)
{
    int64_t v = -12345;
    if (uf_option_parse_scalar(uf_option_find(table, name), text, &v, err) != 0)
        return -999;
    return v;
}

static void test_durations(void **state)
{
    struct uf_err err;
    assert_int_equal(parse_i("timeout", "250ms", &err), 250);
    assert_int_equal(parse_i("timeout", "2s", &err), 2000);
    assert_int_equal(parse_i("timeout", "1.5s", &err), 1500);
    assert_int_equal(parse_i("timeout", "1m", &err), 60000);
    assert_int_equal(parse_i("timeout", "700", &err), 700);
    assert_int_equal(parse_i("timeout", "2m", &err), -999);
    assert_string_equal(err.msg, "option 'timeout': 2m is out of range (expected 0..60000)");
    assert_int_equal(parse_i("timeout", "soon", &err), -999);
    assert_string_equal(err.msg,
                        "option 'timeout': 'soon' is not a duration (expected e.g. 250ms, 1s, 5m)");
}

static void test_sizes(void **state)
{
    struct uf_err err;
    assert_int_equal(parse_i("max_bytes", "512", &err), 512);
    assert_int_equal(parse_i("max_bytes", "64KiB", &err), 65536);
    assert_int_equal(parse_i("max_bytes", "8MiB", &err), 8 << 20);
    assert_int_equal(parse_i("max_bytes", "1GB", &err), 1000000000);
    assert_int_equal(parse_i("max_bytes", "8 MiB", &err), 8 << 20);
    assert_int_equal(parse_i("max_bytes", "8Mb", &err), -999);
    assert_int_equal(parse_i("max_bytes", "-1", &err), -999);
}

static void test_ints_never_clamped(void **state)
{
    struct uf_err err;
    assert_int_equal(parse_i("count", "100", &err), 100);
    assert_int_equal(parse_i("count", "101", &err), -999);
    assert_string_equal(err.msg, "option 'count': 101 is out of range (expected 1..100)");
    assert_int_equal(parse_i("count", "5x", &err), -999);
    assert_string_equal(err.msg, "option 'count': '5x' is not an integer");
}

static void test_bool_float_enum(void **state)
{
    struct uf_err err;
    bool b = false;
    assert_int_equal(uf_option_parse_scalar(uf_option_find(table, "verbose"), "true", &b, &err), 0);
    assert_true(b);
    assert_int_not_equal(uf_option_parse_scalar(uf_option_find(table, "verbose"), "yes", &b, &err),
                         0);
    assert_string_equal(err.msg,
                        "option 'verbose': 'yes' is not a boolean (expected true or false)");
    double d;
    assert_int_equal(uf_option_parse_scalar(uf_option_find(table, "ratio"), "0.25", &d, &err), 0);
    assert_true(d == 0.25);
    assert_int_not_equal(uf_option_parse_scalar(uf_option_find(table, "ratio"), "2", &d, &err), 0);
    int e = -1;
    assert_int_equal(uf_option_parse_scalar(uf_option_find(table, "fsync"), "never", &e, &err), 0);
    assert_int_equal(e, 2);
    assert_int_not_equal(
        uf_option_parse_scalar(uf_option_find(table, "fsync"), "sometimes", &e, &err), 0);
    assert_string_equal(
        err.msg,
        "option 'fsync': 'sometimes' is not allowed (expected one of: always, interval, never)");
}

static void test_suggest(void **state)
{
    assert_string_equal(uf_option_suggest(table, "cont"), "count");
    assert_string_equal(uf_option_suggest(table, "timeot"), "timeout");
    assert_null(uf_option_suggest(table, "completely_different"));
    assert_int_equal(uf_edit_distance("kitten", "sitting"), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_ints_never_clamped),
        cmocka_unit_test(test_bool_float_enum),
        cmocka_unit_test(test_suggest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
