/* tests/test_loadgen.c: `ugcflow loadgen` through the real binary: bad arguments get a message
 * naming the option and exit 2 (nothing is sent); --help exits 0; an unreachable target is
 * reported as connect errors in the summary and the report, and the run ends on time; and
 * --find-max stops at the first step that does not hold. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

static char out[65536];

/* Runs "ugcflow loadgen ARGS" (stderr into out too); returns the exit code. */
static int loadgen(const char *args)
{
    const char *bin = getenv("UGCFLOW_BIN");
    assert_non_null(bin);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "env -u UGCFLOW_JWT_SECRET %s loadgen %s 2>&1", bin, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static void expect_usage(const char *args, const char *msg)
{
    int rc = loadgen(args);
    if (rc != 2 || !strstr(out, msg))
        fail_msg("loadgen %s: exit %d, output: %s (expected 2 and '%s')", args, rc, out, msg);
}

static void test_bad_arguments(void **state)
{
    const char *u = "http://127.0.0.1:9/api/v1";
    char a[512];
    expect_usage("--rate 10 --duration 1s", "the URL is missing");
    snprintf(a, sizeof a, "%s --duration 1s", u);
    expect_usage(a, "--rate and --duration are required");
    snprintf(a, sizeof a, "%s --rate 0 --duration 1s", u);
    expect_usage(a, "option '--rate': 0 is out of range (expected 1..1000000)");
    snprintf(a, sizeof a, "%s --rate ten --duration 1s", u);
    expect_usage(a, "option '--rate': 'ten' is not a number");
    snprintf(a, sizeof a, "%s --rate 10 --duration 50ms", u);
    expect_usage(a, "option '--duration': '50ms' is out of range (expected 0.1s..8.64e+04s)");
    snprintf(a, sizeof a, "%s --rate 10 --duration 5s parsecs", u);
    expect_usage(a, "one URL expected, got 'parsecs' too");
    snprintf(a, sizeof a, "%s --rate 10 --duration 1x", u);
    expect_usage(a, "option '--duration': '1x' is not a duration");
    snprintf(a, sizeof a, "%s --rate 10 --duration 1s --api grpc", u);
    expect_usage(a, "option '--api': 'grpc' is not allowed (expected one of: stat, ugc)");
    snprintf(a, sizeof a, "%s --rate 10 --duration 1s --tag 'a b'", u);
    expect_usage(a, "--tag: 'a b': expected 1 to 40 of [A-Za-z0-9._-]");
    snprintf(a, sizeof a, "%s --rate 10 --duration 1s --connections 0", u);
    expect_usage(a, "option '--connections': 0 is out of range");
    snprintf(a, sizeof a, "%s --rate 10 --duration 1s --ramp 1:2:3s", u);
    expect_usage(a, "--ramp replaces --rate");
    snprintf(a, sizeof a, "%s --ramp 1:2:3s --find-max", u);
    expect_usage(a, "--find-max makes its own steps");
    snprintf(a, sizeof a, "%s --ramp 1-2-3s", u);
    expect_usage(a, "--ramp: '1-2-3s': expected FROM:TO:DURATION");
    snprintf(a, sizeof a, "%s --rate 10 --duration 1s --bogus", u);
    expect_usage(a, "--bogus: unknown option");
    snprintf(a, sizeof a, "%s --rate 10 --duration", u);
    expect_usage(a, "--duration: needs a value");
    expect_usage("http://192.0.2.1:80/api/v1 --rate 10 --duration 1s",
                 "only sends to this machine");
    snprintf(a, sizeof a, "%s --api ugc --rate 10 --duration 1s", u);
    expect_usage(a, "--api ugc needs UGCFLOW_JWT_SECRET");
    assert_int_equal(loadgen("--help"), 0);
    assert_non_null(strstr(out, "--acked-log"));
}

static void test_unreachable_target(void **state)
{
    char a[512], report[128];
    snprintf(report, sizeof report, "/tmp/test-loadgen-%d.json", (int)getpid());
    snprintf(a, sizeof a, "http://127.0.0.1:9/api/v1 --rate 200 --duration 1s --report %s", report);
    time_t t0 = time(NULL);
    assert_int_equal(loadgen(a), 0);
    assert_true(time(NULL) - t0 <= 3);
    assert_non_null(strstr(out, "errors    200 (connect:200)"));
    FILE *f = fopen(report, "r");
    assert_non_null(f);
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = '\0';
    fclose(f);
    unlink(report);
    assert_non_null(strstr(out, "\"sent\": 200,"));
    assert_non_null(strstr(out, "\"connect\": 200,"));
    assert_non_null(strstr(out, "\"errors_total\": 200,"));
    assert_non_null(strstr(out, "\"corrected\": true,"));
}

static void test_find_max_stops_at_a_failed_step(void **state)
{
    char a[512], report[128];
    snprintf(report, sizeof report, "/tmp/test-loadgen-fm-%d.json", (int)getpid());
    snprintf(a, sizeof a,
             "http://127.0.0.1:9/api/v1 --find-max --rate 100 --duration 200ms "
             "--report %s",
             report);
    assert_int_equal(loadgen(a), 0);
    assert_non_null(strstr(out, "step: offered 100 req/s"));
    assert_non_null(strstr(out, "did not hold"));
    assert_null(strstr(out, "offered 200 req/s")); /* no step after the failed one */
    assert_non_null(strstr(out, "max rate held for a full step: 0 req/s"));
    FILE *f = fopen(report, "r");
    assert_non_null(f);
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = '\0';
    fclose(f);
    unlink(report);
    assert_non_null(strstr(out, "\"max_rate\": 0.0"));
    assert_non_null(strstr(out, "\"held\": false"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_unreachable_target),
        cmocka_unit_test(test_find_max_stops_at_a_failed_step),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
