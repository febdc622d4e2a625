/* tests/test_lg_sched.c: the loadgen schedule: intended times of a constant rate are k / rate
 * without drift, a ramp's counts follow the area under its rate, times never go back, segments
 * chain, and invalid segments are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <cmocka.h>

#include "bench/loadgen/lg_sched.h"

static void test_constant(void **state)
{
    struct uf_lg_sched s = { 0 };
    assert_true(uf_lg_sched_add(&s, 2000, 2000, 5));
    assert_int_equal(uf_lg_sched_total(&s), 10000);
    assert_true(uf_lg_sched_time(&s, 0) == 0);
    assert_true(fabs(uf_lg_sched_time(&s, 1) - 0.0005) < 1e-12);
    assert_true(fabs(uf_lg_sched_time(&s, 9999) - 4.9995) < 1e-9);
    assert_true(uf_lg_sched_time(&s, 10000) < 0);
    assert_true(uf_lg_sched_rate_at(&s, 1) == 2000);
    assert_true(uf_lg_sched_rate_at(&s, 6) == 0);
}

static void test_ramp_and_steps(void **state)
{
    struct uf_lg_sched s = { 0 };
    assert_true(uf_lg_sched_add(&s, 0, 1000, 10)); /* 5000 requests */
    assert_true(uf_lg_sched_add(&s, 1000, 1000, 2));
    assert_true(uf_lg_sched_add(&s, 1000, 1000.000001, 1)); /* a slope next to 0 */
    assert_int_equal(uf_lg_sched_total(&s), 8000);
    assert_true(fabs(uf_lg_sched_duration(&s) - 13) < 1e-12);
    /* N(t) = 50 t^2 on the ramp: request 1250 is due at 5 s */
    assert_true(fabs(uf_lg_sched_time(&s, 1250) - 5) < 1e-9);
    assert_true(fabs(uf_lg_sched_time(&s, 5000) - 10) < 1e-9);
    assert_true(fabs(uf_lg_sched_time(&s, 7500) - 12.5) < 1e-6);
    double prev = -1;
    for (uint64_t k = 0; k < 8000; k++) {
        double t = uf_lg_sched_time(&s, k);
        if (!(t >= prev) || t >= 13)
            fail_msg("request %llu at %.9f after %.9f", (unsigned long long)k, t, prev);
        prev = t;
    }
    assert_int_equal(uf_lg_sched_segment_at(&s, 9.99), 0);
    assert_int_equal(uf_lg_sched_segment_at(&s, 10), 1);
    assert_int_equal(uf_lg_sched_segment_at(&s, 13), 3);
    assert_true(fabs(uf_lg_sched_rate_at(&s, 5) - 500) < 1e-9);
}

static void test_invalid(void **state)
{
    struct uf_lg_sched s = { 0 };
    assert_false(uf_lg_sched_add(&s, 0, 0, 1));
    assert_false(uf_lg_sched_add(&s, -1, 10, 1));
    assert_false(uf_lg_sched_add(&s, 10, 10, 0));
    for (int i = 0; i < UF_LG_SCHED_MAX; i++)
        assert_true(uf_lg_sched_add(&s, 1, 1, 1));
    assert_false(uf_lg_sched_add(&s, 1, 1, 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_constant),
        cmocka_unit_test(test_ramp_and_steps),
        cmocka_unit_test(test_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
