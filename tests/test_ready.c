/* tests/test_ready.c: the spool rule of readiness (framework/ready.c): ready up to 80 % of the
 * limit, not above, with a reason that says how full; no limit means no rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "framework/ready.h"

static void test_spool_rule(void **state)
{
    char why[128] = "";
    assert_true(uf_ready_spool_ok(0, 1000, why, sizeof why));
    assert_true(uf_ready_spool_ok(800, 1000, why, sizeof why));
    assert_string_equal(why, "");
    assert_false(uf_ready_spool_ok(801, 1000, why, sizeof why));
    assert_string_equal(why, "spool 80 % full (801 of 1000 bytes)");
    assert_false(uf_ready_spool_ok(1000, 1000, why, sizeof why));
    assert_string_equal(why, "spool 100 % full (1000 of 1000 bytes)");
    assert_true(uf_ready_spool_ok(1u << 30, 0, why, sizeof why));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spool_rule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
