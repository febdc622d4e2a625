/* tests/test_timefmt.c: RFC 3339 formatting and strict parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <cmocka.h>

#include "framework/timefmt.h"

static void test_format(void **state)
{
    char out[UF_TIME_STR];
    uf_time_format(1795967051123456LL, out);
    assert_string_equal(out, "2026-11-29T15:44:11.123456Z");
    uf_time_format(0, out);
    assert_string_equal(out, "1970-01-01T00:00:00.000000Z");
}

/* The arithmetic formatter against libc over four centuries of days and times of day, the
 * leap days and the years libc formats wider. */
static void test_format_matches_libc(void **state)
{
    char out[UF_TIME_STR], want[UF_TIME_STR];
    int64_t from = -2208988800LL * 1000000, step = 86400LL * 1000000 + 3723000017LL;
    for (int64_t us = from; us < from + 146097LL * 86400 * 1000000 * 4 / 3; us += step) {
        time_t t = (time_t)(us / 1000000 - (us % 1000000 < 0));
        struct tm tm;
        gmtime_r(&t, &tm);
        size_t n = strftime(want, sizeof want, "%Y-%m-%dT%H:%M:%S", &tm);
        long long frac = (us % 1000000 + 1000000) % 1000000;
        snprintf(want + n, sizeof want - n, ".%06lldZ", frac);
        uf_time_format(us, out);
        assert_string_equal(out, want);
    }
    uf_time_format(951782400000000LL, out); /* 2000-02-29 */
    assert_string_equal(out, "2000-02-29T00:00:00.000000Z");
    uf_time_format(-1, out);
    assert_string_equal(out, "1969-12-31T23:59:59.999999Z");
    uf_time_format(253402300800000000LL, out); /* year 10000: libc's wider %Y */
    assert_string_equal(out, "10000-01-01T00:00:00.000000Z");
}

static void test_parse(void **state)
{
    int64_t us;
    assert_true(uf_time_parse("2026-11-29T15:44:11.123456Z", &us));
    assert_int_equal(us, 1795967051123456LL);
    assert_true(uf_time_parse("2026-11-29T16:44:11.1234569+01:00", &us)); /* extra digits cut */
    assert_int_equal(us, 1795967051123456LL);
    assert_true(uf_time_parse("2026-11-29T15:44:11z", &us));
    assert_int_equal(us, 1795967051000000LL);
    assert_true(uf_time_parse("2024-02-29T00:00:00-05:30", &us));
    /* The day arithmetic agrees with timegm: leap days, centuries, a leap second, year 0. */
    const char *dates[] = { "2024-02-29T12:00:00Z", "2000-03-01T00:00:00Z", "1900-02-28T23:59:59Z",
                            "2100-12-31T23:59:60Z", "0000-01-01T00:00:00Z", "1969-12-31T23:59:59Z",
                            "9999-12-31T23:59:59Z" };
    for (size_t i = 0; i < sizeof dates / sizeof dates[0]; i++) {
        struct tm tm = { 0 };
        assert_non_null(strptime(dates[i], "%Y-%m-%dT%H:%M:%S", &tm));
        assert_true(uf_time_parse(dates[i], &us));
        assert_int_equal(us, (int64_t)timegm(&tm) * 1000000);
    }
    const char *bad[] = { "2026-11-29 15:44:11Z",
                          "2026-11-29T15:44:11",
                          "2026-13-01T00:00:00Z",
                          "2026-02-29T00:00:00Z",
                          "2026-04-31T00:00:00Z",
                          "2026-11-29T24:00:00Z",
                          "2026-11-29T15:44:11.Z",
                          "2026-11-29T15:44:11+1:00",
                          "2026-11-29T15:44:11Zjunk",
                          "",
                          "yesterday" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (uf_time_parse(bad[i], &us))
            fail_msg("accepted %s", bad[i]);
    assert_false(uf_time_parse(NULL, &us));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_format_matches_libc),
        cmocka_unit_test(test_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
