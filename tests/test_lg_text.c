/* tests/test_lg_text.c: the loadgen's printf-free appends give printf's text: strings in order,
 * unsigned numbers from 0 to UINT64_MAX, and one-decimal numbers, including the halfway and
 * out-of-range values that go through printf. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "bench/loadgen/lg_text.h"

static void test_put_strings(void **state)
{
    struct uf_strbuf sb = { 0 };
    uf_lg_put(&sb, "a", "", "bc", NULL);
    uf_lg_put(&sb, NULL);
    uf_lg_put(&sb, "d", NULL);
    assert_string_equal(sb.buf, "abcd");
    uf_strbuf_free(&sb);
}

static void test_put_u64(void **state)
{
    static const uint64_t vs[] = { 0, 1, 9, 10, 99, 100, 4294967295u, 4294967296u, UINT64_MAX };
    struct uf_strbuf sb = { 0 };
    char want[32];
    for (size_t i = 0; i < sizeof vs / sizeof vs[0]; i++) {
        uf_strbuf_reset(&sb);
        uf_lg_put_u64(&sb, vs[i]);
        snprintf(want, sizeof want, "%llu", (unsigned long long)vs[i]);
        assert_string_equal(sb.buf, want);
    }
    uf_strbuf_free(&sb);
}

static void check_tenths(double v)
{
    struct uf_strbuf sb = { 0 };
    char want[64];
    uf_lg_put_tenths(&sb, v);
    snprintf(want, sizeof want, "%.1f", v);
    if (strcmp(sb.buf, want))
        fail_msg("%.17g: '%s', printf says '%s'", v, sb.buf, want);
    uf_strbuf_free(&sb);
}

static void test_put_tenths(void **state)
{
    for (int i = 0; i <= 200000; i++) /* 0, 0.01 ... 2000: every rounding of a small value */
        check_tenths(i / 100.0);
    for (int i = 0; i < 100000; i++) /* positions as the player makes them: whole seconds */
        check_tenths((double)i * 10);
    static const double odd[] = { 0.05, 0.15, 0.25,     2.5,     1e12,        1e13,
                                  -1.5, NAN,  INFINITY, 5399.95, 0.049999999, 123456.789 };
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++)
        check_tenths(odd[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_strings),
        cmocka_unit_test(test_put_u64),
        cmocka_unit_test(test_put_tenths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
