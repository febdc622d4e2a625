/* tests/test_cli.c: the ugcflow command line through the real binary: exit codes of validate
 * (0 valid, 1 invalid, 2 usage; routes checked against a store's operations), graph formats,
 * stages, pipelines, --version, and `run` on a finite pipeline that drains and exits 0, plus
 * SIGTERM on an endless one; `token` minting what the verifier accepts and refusing short
 * secrets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "framework/jwt.h"

static char out[65536];

/* Runs "ugcflow ARGS" through the shell; returns the exit code, output (both streams) in out. */
static int ugcflow(const char *args)
{
    const char *bin = getenv("UGCFLOW_BIN");
    assert_non_null(bin);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", bin, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static const char *write_file(const char *name, const char *text)
{
    static char path[4][256];
    static int k;
    char *p = path[k++ % 4];
    snprintf(p, 256, "/tmp/ugcflow-test-cli-%d-%s", (int)getpid(), name);
    FILE *f = fopen(p, "w");
    fputs(text, f);
    fclose(f);
    return p;
}

static const char good[] =
    "pipelines:\n  p:\n    components:\n"
    "      g: {kind: generate, count: 1000}\n"
    "      r: {kind: route, inputs: [g], field: message, routes: {hi: hello}}\n"
    "      n: {kind: null, inputs: [r.hi]}\n";

static void test_validate_codes(void **state)
{
    char args[512];
    snprintf(args, sizeof args, "validate %s", write_file("good.yaml", good));
    assert_int_equal(ugcflow(args), 0);
    assert_non_null(strstr(out, "valid (1 pipeline, 3 components)"));
    const char *bad =
        write_file("bad.yaml", "pipelines:\n  p:\n    components:\n      g: {kind: nope}\n");
    snprintf(args, sizeof args, "validate %s", bad);
    assert_int_equal(ugcflow(args), 1);
    assert_non_null(strstr(out, ":4:17: error: unknown kind 'nope'"));
    assert_int_equal(ugcflow("validate"), 2);
    assert_int_equal(ugcflow("frobnicate"), 2);
    assert_int_equal(ugcflow("validate /nonexistent/pipeline.yaml"), 1);
    assert_non_null(strstr(out, "cannot open the file"));
}

/* An unset ${VAR} does not hide the errors after it: one run reports them all, and the
 * variable's option gets no second error for the empty value. */
static void test_validate_reports_every_error(void **state)
{
    const char *f =
        write_file("many.yaml", "pipelines:\n  p:\n    components:\n"
                                "      g: {kind: generate, count: \"${UGCFLOW_TEST_UNSET}\"}\n"
                                "      x: {kind: nope, inputs: [g]}\n"
                                "      n: {kind: null, bogus: 1, inputs: [zzz]}\n");
    char args[512];
    snprintf(args, sizeof args, "validate %s", f);
    unsetenv("UGCFLOW_TEST_UNSET");
    assert_int_equal(ugcflow(args), 1);
    assert_non_null(strstr(out, ":4:34: error: environment variable 'UGCFLOW_TEST_UNSET'"));
    assert_non_null(strstr(out, ":5:17: error: unknown kind 'nope'"));
    assert_non_null(strstr(out, ":6:23: error: unknown option 'bogus'"));
    assert_non_null(strstr(out, "input 'zzz' does not exist"));
}

/* `ugcflow COMMAND --help` prints that command's usage on stdout and exits 0. */
static void test_help_on_every_command(void **state)
{
    static const char *const cmds[] = { "run",       "validate", "graph",  "pipelines",
                                        "top",       "up",       "dash",   "token",
                                        "reconcile", "stages",   "loadgen" };
    char args[128];
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
        snprintf(args, sizeof args, "%s --help 2>/dev/null", cmds[i]);
        assert_int_equal(ugcflow(args), 0);
        snprintf(args, sizeof args, "%s ", cmds[i]);
        if (strcmp(cmds[i], "loadgen") != 0) /* loadgen's help starts with its arguments */
            assert_non_null(strstr(out, args));
    }
    assert_int_equal(ugcflow("frobnicate --help"), 2);
}

/* A route that reaches a `postgres` store without an operation, and an operation reading a
 * path its route does not fill, fail validate, each at its line and column. */
static void test_validate_routes_against_store(void **state)
{
    const char *yaml =
        "pipelines:\n  p:\n    components:\n"
        "      api:\n        kind: http\n        address: 127.0.0.1:0\n        routes:\n"
        "          \"GET /m/{movie_id}\": {name: get}\n"
        "          \"GET /counts/{movie_id}\": {name: counts}\n"
        "      store:\n        kind: postgres\n        inputs: [api]\n        dsn: x\n"
        "        operations:\n"
        "          get: {sql: 'SELECT :m', params: {m: params.movie}}\n";
    char args[512];
    snprintf(args, sizeof args, "validate %s", write_file("routes.yaml", yaml));
    assert_int_equal(ugcflow(args), 1);
    assert_non_null(strstr(out, ":9:11: error: route 'counts' of 'api' reaches 'store' (kind "
                                "postgres), which declares no operation 'counts'"));
    assert_non_null(strstr(out, ":15:47: error: component 'store': operation 'get' reads "
                                "'params.movie', which no route 'get' provides"));
    assert_non_null(strstr(out, ": 2 errors"));
}

static void test_graph_formats(void **state)
{
    const char *f = write_file("graph.yaml", good);
    char args[512];
    snprintf(args, sizeof args, "graph %s --format dot", f);
    assert_int_equal(ugcflow(args), 0);
    assert_non_null(strstr(out, "\"p/r\" -> \"p/n\" [label=\"hi\"];"));
    snprintf(args, sizeof args, "graph %s --format mermaid", f);
    assert_int_equal(ugcflow(args), 0);
    assert_non_null(strstr(out, "p_r -->|hi| p_n"));
    snprintf(args, sizeof args, "graph %s --format json", f);
    assert_int_equal(ugcflow(args), 0);
    assert_non_null(strstr(out, "\"kind\": \"route\""));
    snprintf(args, sizeof args, "graph %s --format png", f);
    assert_int_equal(ugcflow(args), 2);
}

static void test_stages_and_pipelines(void **state)
{
    assert_int_equal(ugcflow("stages"), 0);
    assert_non_null(strstr(out, "generate"));
    assert_int_equal(ugcflow("stages route"), 0);
    assert_non_null(strstr(out, "routes"));
    assert_int_equal(ugcflow("stages rout"), 1);
    assert_non_null(strstr(out, "did you mean 'route'?"));
    char args[512];
    snprintf(args, sizeof args, "pipelines %s", write_file("list.yaml", good));
    assert_int_equal(ugcflow(args), 0);
    assert_string_equal(out, "p 127.0.0.1:8686\n");
    assert_int_equal(ugcflow("--version"), 0);
    assert_non_null(strstr(out, "ugcflow "));
}

static void test_run_finite(void **state)
{
    char args[512];
    snprintf(args, sizeof args, "run %s --admin 127.0.0.1:0", write_file("run.yaml", good));
    assert_int_equal(ugcflow(args), 0);
    assert_non_null(strstr(out, "msg=Stopped."));
}

static void test_run_bad_admin_address(void **state)
{
    /* The admin listener cannot start: the process stops what it started and exits 1. */
    const char *f = write_file("taken.yaml", "pipelines:\n  p:\n    components:\n"
                                             "      g: {kind: generate, rate: 10}\n"
                                             "      n: {kind: null, inputs: [g]}\n");
    char args[512];
    snprintf(args, sizeof args, "run %s --admin 999.0.0.1:80", f);
    assert_int_equal(ugcflow(args), 1);
    assert_non_null(strstr(out, "msg=\"Start failed.\""));
}

static void test_run_sigterm(void **state)
{
    const char *f = write_file("endless.yaml", "pipelines:\n  p:\n    components:\n"
                                               "      g: {kind: generate, rate: 1000}\n"
                                               "      n: {kind: null, inputs: [g]}\n");
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        execl(getenv("UGCFLOW_BIN"), "ugcflow", "run", f, "--admin", "127.0.0.1:0", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    /* Wait for the "Running." log line, so the signal meets a running pipeline. */
    char log[8192] = "";
    size_t len = 0;
    ssize_t n;
    while (!strstr(log, "msg=Running.") && len < sizeof log - 1 &&
           (n = read(fds[0], log + len, sizeof log - 1 - len)) > 0) {
        len += (size_t)n;
        log[len] = '\0';
    }
    assert_non_null(strstr(log, "msg=Running."));
    kill(pid, SIGTERM);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    close(fds[0]);
}

/* `ugcflow token`: an HS256 token from the secret variable that the verifier accepts, with the
 * sub, roles and ttl asked for; refusals of a short secret, a missing one, a bad sub or ttl. */
static void test_token(void **state)
{
    static const char secret[] = "test-cli-token-secret-0123456789abcdef";
    static const char sub[] = "0190a5c4-0000-7000-8000-0000000000a1";
    char args[512];
    snprintf(args, sizeof args,
             "token --sub %s --roles admin,moderator --ttl 15m "
             "--secret-env TEST_CLI_SECRET",
             sub);
    setenv("TEST_CLI_SECRET", secret, 1);
    assert_int_equal(ugcflow(args), 0);
    out[strcspn(out, "\n")] = '\0';
    struct uf_jwt_keys *keys = uf_jwt_keys_new();
    assert_int_equal(uf_jwt_keys_set_secret(keys, secret, strlen(secret), NULL), 0);
    struct uf_jwt_rules rules = { .algs = UF_JWT_HS256, .leeway_s = 5 };
    json_t *claims = uf_jwt_verify(keys, &rules, out, (int64_t)time(NULL), NULL);
    assert_non_null(claims);
    assert_string_equal(json_string_value(json_object_get(claims, "sub")), sub);
    assert_int_equal(json_integer_value(json_object_get(claims, "exp")) -
                         json_integer_value(json_object_get(claims, "iat")),
                     900);
    assert_string_equal(json_string_value(json_array_get(json_object_get(claims, "roles"), 1)),
                        "moderator");
    json_decref(claims);
    uf_jwt_keys_free(keys);
    setenv("TEST_CLI_SECRET", "only-31-bytes-0123456789abcdefg", 1);
    assert_int_equal(ugcflow(args), 1);
    assert_non_null(strstr(out, "TEST_CLI_SECRET: HMAC secret is 31 bytes; at least 32"));
    unsetenv("TEST_CLI_SECRET");
    assert_int_equal(ugcflow(args), 1);
    assert_non_null(strstr(out, "TEST_CLI_SECRET is not set"));
    assert_int_equal(ugcflow("token --sub not-a-uuid"), 2);
    assert_non_null(strstr(out, "--sub must be a UUID"));
    assert_int_equal(ugcflow("token"), 2);
    snprintf(args, sizeof args, "token --sub %s --ttl 0s", sub);
    assert_int_equal(ugcflow(args), 2);
    snprintf(args, sizeof args, "token --sub %s --key /nonexistent.pem", sub);
    assert_int_equal(ugcflow(args), 1);
    assert_non_null(strstr(out, "--key /nonexistent.pem: No such file or directory"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validate_codes),
        cmocka_unit_test(test_validate_routes_against_store),
        cmocka_unit_test(test_graph_formats),
        cmocka_unit_test(test_stages_and_pipelines),
        cmocka_unit_test(test_run_finite),
        cmocka_unit_test(test_run_bad_admin_address),
        cmocka_unit_test(test_run_sigterm),
        cmocka_unit_test(test_token),
        cmocka_unit_test(test_validate_reports_every_error),
        cmocka_unit_test(test_help_on_every_command),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
