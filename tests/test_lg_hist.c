/* tests/test_lg_hist.c: the loadgen latency histogram against exact percentiles: every
 * quantile within 1 % of the exact value for values spread log-uniformly from 1 us to 60 s,
 * exact below 256 us, the max kept exactly, merging, and the empty case. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <math.h>
#include <cmocka.h>

#include "bench/loadgen/lg_hist.h"

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* The exact value of rank ceil(q n) among n sorted values. */
static double exact(const int64_t *v, size_t n, double q)
{
    size_t rank = (size_t)ceil(q * (double)n);
    return (double)v[(rank ? rank : 1) - 1];
}

static void test_error_bound(void **state)
{
    enum { N = 200000 };
    int64_t *v = malloc(N * sizeof(*v));
    struct uf_lg_hist *h = malloc(sizeof(*h));
    uf_lg_hist_reset(h);
    srand(42);
    for (size_t i = 0; i < N; i++) {
        double u = (double)rand() / RAND_MAX; /* log-uniform over 1 us .. 60 s */
        v[i] = (int64_t)llround(exp(u * log(60e6)));
        uf_lg_hist_add(h, v[i]);
    }
    qsort(v, N, sizeof(*v), cmp64);
    const double qs[] = { 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 0.9999 };
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        double want = exact(v, N, qs[i]), got = uf_lg_hist_quantile(h, qs[i]);
        if (fabs(got - want) > 0.01 * want)
            fail_msg("q %g: histogram %.1f us, exact %.1f us", qs[i], got, want);
    }
    assert_int_equal(uf_lg_hist_quantile(h, 1.0), v[N - 1]);
    assert_int_equal(h->count, N);
    free(v);
    free(h);
}

static void test_every_decade(void **state)
{
    struct uf_lg_hist *h = malloc(sizeof(*h));
    for (int64_t x = 1; x <= 60000000; x = x * 3 + 1) {
        uf_lg_hist_reset(h);
        uf_lg_hist_add(h, x);
        uf_lg_hist_add(h, x + 1);
        double got = uf_lg_hist_quantile(h, 0.5);
        if (fabs(got - (double)x) > 0.01 * (double)x)
            fail_msg("value %lld read back as %.1f", (long long)x, got);
    }
    free(h);
}

static void test_small_exact_merge_empty(void **state)
{
    struct uf_lg_hist *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
    uf_lg_hist_reset(a);
    uf_lg_hist_reset(b);
    assert_true(uf_lg_hist_quantile(a, 0.5) == 0);
    for (int i = 1; i <= 100; i++)
        uf_lg_hist_add(i % 2 ? a : b, i);
    uf_lg_hist_add(a, -5); /* a clock step back counts as 0 */
    uf_lg_hist_merge(a, b);
    assert_int_equal(a->count, 101);
    assert_true(uf_lg_hist_quantile(a, 0.5) == 50);
    assert_true(uf_lg_hist_quantile(a, 0.005) == 0);
    assert_true(uf_lg_hist_quantile(a, 0.99) == 99);
    assert_int_equal(a->max_us, 100);
    uf_lg_hist_add(a, INT64_C(1) << 50); /* beyond the range: the last bucket, max exact */
    assert_true(uf_lg_hist_quantile(a, 1.0) == (double)(INT64_C(1) << 50));
    free(a);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_bound),
        cmocka_unit_test(test_every_decade),
        cmocka_unit_test(test_small_exact_merge_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
