/* tests/test_lg_plot.c: the loadgen's SVG: both panels' series are drawn (one rate line, three
 * latency lines) at the places their values give, the title is escaped, and an unwritable
 * path is an error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "bench/loadgen/lg_plot.h"

static void test_svg(void **state)
{
    const struct uf_lg_point pt[] = {
        { .offered = 1000, .achieved = 1000, .p50_ms = 1, .p99_ms = 10, .p999_ms = 20 },
        { .offered = 2000, .achieved = 1500, .p50_ms = 50, .p99_ms = 900, .p999_ms = 1000 },
    };
    char path[64], svg[16384];
    snprintf(path, sizeof path, "/tmp/test-lg-plot-%d.svg", (int)getpid());
    assert_int_equal(uf_lg_plot_svg(path, "run <a&b>", pt, 2), 0);
    FILE *f = fopen(path, "r");
    size_t n = fread(svg, 1, sizeof svg - 1, f);
    svg[n] = '\0';
    fclose(f);
    unlink(path);
    assert_true(strncmp(svg, "<svg xmlns='http://www.w3.org/2000/svg'", 39) == 0);
    assert_non_null(strstr(svg, "run &#60;a&#38;b&#62;"));
    size_t lines = 0;
    for (const char *p = svg; (p = strstr(p, "<polyline")); p++)
        lines++;
    assert_int_equal(lines, 4);
    /* x: 2000 of a 2000 axis is the panel's right edge; y: 1500 of 2000 is a quarter down */
    assert_non_null(strstr(svg, "points='290.0,200.0 510.0,125.0 '"));
    /* latency decades 10^0..10^3: 1 ms at the bottom (350), 1000 ms at the top (50) */
    assert_non_null(strstr(svg, "points='810.0,350.0 1030.0,"));
    assert_non_null(strstr(svg, "1030.0,50.0 '"));
    assert_non_null(strstr(svg, "</svg>\n"));
    assert_int_equal(uf_lg_plot_svg("/nonexistent/dir/x.svg", "t", pt, 2), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_svg) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
