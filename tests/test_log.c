/* tests/test_log.c: logfmt lines: quoting, escaping of control characters from untrusted text,
 * level filtering, and rate limiting with a count of suppressed lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "framework/log.h"

static char captured[8192];

/* Runs fn with stderr redirected into `captured`. */
static void capture(void (*fn)(void))
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    int saved = dup(STDERR_FILENO);
    dup2(fds[1], STDERR_FILENO);
    fn();
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(fds[1]);
    ssize_t n = read(fds[0], captured, sizeof captured - 1);
    captured[n > 0 ? n : 0] = '\0';
    close(fds[0]);
}

static void write_lines(void)
{
    uf_log(UF_LOG_WARN, NULL, "Bad input.", "err", "line1\nline2\r\x1b[31m", "plain", "ok",
           "spaced", "a b");
    uf_log(UF_LOG_DEBUG, NULL, "Hidden at info.");
}

static void test_escaping_and_levels(void **state)
{
    uf_log_level = UF_LOG_INFO;
    capture(write_lines);
    assert_non_null(strstr(captured,
                           " level=warn msg=\"Bad input.\" err=\"line1\\nline2\\x0d\\x1b[31m\" "
                           "plain=ok spaced=\"a b\"\n"));
    assert_null(strstr(captured, "Hidden"));
    int lines = 0;
    for (char *p = captured; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 1);
}

static void secret_lines(void)
{
    uf_log(UF_LOG_WARN, NULL, "Connect failed.", "url", "http://ugc:hunter2@h:80/x", "dsn",
           "host=db password=hunter3 user=ugc", "sasl.password", "hunter4", "err",
           "refused (postgresql://u:hunter5@db/ugc)");
}

/* Secrets in values never reach the log: secret-named fields whole, passwords in URLs and DSNs. */
static void test_secrets_masked(void **state)
{
    uf_log_level = UF_LOG_INFO;
    capture(secret_lines);
    assert_null(strstr(captured, "hunter"));
    assert_non_null(strstr(captured, " url=http://ugc:***@h:80/x dsn=\"host=db password=*** "
                                     "user=ugc\" sasl.password=*** err=\"refused "
                                     "(postgresql://u:***@db/ugc)\"\n"));
}

static void repeat_lines(void)
{
    for (int i = 0; i < 100; i++)
        uf_log_limited(UF_LOG_WARN, NULL, "Repeated failure.", "n", "x");
}

static void test_rate_limit(void **state)
{
    capture(repeat_lines);
    const char *first = strstr(captured, "Repeated failure.");
    assert_non_null(first);
    assert_null(strstr(first + 1, "Repeated failure.")); /* 99 suppressed within 10 s */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escaping_and_levels),
        cmocka_unit_test(test_rate_limit),
        cmocka_unit_test(test_secrets_masked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
