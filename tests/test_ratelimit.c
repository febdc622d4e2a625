/* tests/test_ratelimit.c: token buckets per key (framework/ratelimit.c): a key over its burst is
 * refused with a Retry-After that fits the rate while another key is served; the bucket refills
 * after the window; 100,000 distinct keys leave the table's size as it was and the keys in use
 * still limited; threads taking from one key never hand out more than burst + rate * time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "framework/ratelimit.h"

#define T0 1000000000LL

static bool take(struct uf_ratelimit *rl, const char *key, int64_t now, int64_t *retry)
{
    return uf_ratelimit_take(rl, key, strlen(key), now, retry);
}

static void test_one_over_other_served(void **state)
{
    struct uf_ratelimit *rl = uf_ratelimit_new(20, 40, 1024);
    int64_t retry = 0;
    for (int i = 0; i < 40; i++)
        assert_true(take(rl, "10.0.0.1", T0, &retry));
    assert_false(take(rl, "10.0.0.1", T0, &retry));
    assert_int_equal(retry, 51); /* one token at 20/s: 50 ms, rounded up */
    assert_true(take(rl, "10.0.0.2", T0, &retry));
    uf_ratelimit_free(rl);
}

static void test_recovers(void **state)
{
    struct uf_ratelimit *rl = uf_ratelimit_new(10, 5, 64);
    int64_t retry = 0;
    for (int i = 0; i < 5; i++)
        assert_true(take(rl, "u", T0, &retry));
    assert_false(take(rl, "u", T0 + 50000, &retry)); /* half a token back */
    assert_true(take(rl, "u", T0 + 100000, &retry)); /* one token after 100 ms at 10/s */
    assert_false(take(rl, "u", T0 + 100000, &retry));
    int ok = 0; /* a long pause refills to the burst, not beyond */
    for (int i = 0; i < 10; i++)
        ok += take(rl, "u", T0 + 60000000, &retry);
    assert_int_equal(ok, 5);
    uf_ratelimit_free(rl);
}

static void test_many_keys_bounded(void **state)
{
    struct uf_ratelimit *rl = uf_ratelimit_new(1, 2, 4096);
    size_t bytes = uf_ratelimit_bytes(rl);
    assert_true(bytes < 4096 * 64);
    int64_t retry;
    char key[32];
    for (int i = 0; i < 100000; i++) {
        snprintf(key, sizeof key, "k%d", i);
        assert_true(take(rl, key, T0 + i, &retry)); /* each new key has its full burst */
    }
    assert_int_equal(uf_ratelimit_bytes(rl), bytes);
    /* A key in use keeps its bucket while others come and go within the table's size. */
    assert_true(take(rl, "hot", T0 + 200000, &retry));
    assert_true(take(rl, "hot", T0 + 200000, &retry));
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof key, "n%d", i);
        take(rl, key, T0 + 200001, &retry);
    }
    assert_false(take(rl, "hot", T0 + 200002, &retry));
    uf_ratelimit_free(rl);
}

struct worker {
    struct uf_ratelimit *rl;
    int allowed;
};

static void *hammer(void *arg)
{
    struct worker *w = arg;
    int64_t retry;
    for (int i = 0; i < 20000; i++)
        w->allowed += uf_ratelimit_take(w->rl, "same", 4, T0 + i, &retry);
    return NULL;
}

static void test_threads(void **state)
{
    struct uf_ratelimit *rl = uf_ratelimit_new(100, 50, 256);
    struct worker w[4] = { { rl, 0 }, { rl, 0 }, { rl, 0 }, { rl, 0 } };
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, hammer, &w[i]);
    int total = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        total += w[i].allowed;
    }
    assert_true(total >= 50 && total <= 50 + 3); /* 20 ms at 100/s: at most 2 more tokens */
    uf_ratelimit_free(rl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_over_other_served),
        cmocka_unit_test(test_recovers),
        cmocka_unit_test(test_many_keys_bounded),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
