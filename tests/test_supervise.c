/* tests/test_supervise.c: the supervisor with tiny shell children: the backoff doubles up to its
 * ceiling; a child that keeps dying is restarted with growing delays and its restarts counted;
 * a SIGKILLed child is back at once with a new pid; SIGHUP is passed on and counted as a reload;
 * a stop goes rank by rank (rank 0 has exited before rank 1 is signalled). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "framework/mem.h"
#include "framework/supervise.h"
#include "tests/support/poll.h"

static const struct uf_sv_opts fast = {
    .backoff_min_ms = 50, .backoff_max_ms = 400, .stable_ms = 5000, .stop_timeout_ms = 3000
};

static void *run_thread(void *arg)
{
    uf_supervisor_run(arg);
    return NULL;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef bool (*cond_fn)(struct uf_supervisor *sv);

/* Polls cond every 10 ms for up to ms; true when it held. */
static bool until(struct uf_supervisor *sv, cond_fn cond, int64_t ms)
{
    POLL_UNTIL(cond(sv), ms);
    return cond(sv);
}

static void test_backoff_doubles_to_ceiling(void **state)
{
    assert_int_equal(uf_sv_backoff_ms(&fast, 1), 50);
    assert_int_equal(uf_sv_backoff_ms(&fast, 2), 100);
    assert_int_equal(uf_sv_backoff_ms(&fast, 4), 400);
    assert_int_equal(uf_sv_backoff_ms(&fast, 40), 400);
    assert_int_equal(uf_sv_backoff_ms(&uf_sv_default_opts, 1), 200);
}

static bool four_restarts(struct uf_supervisor *sv)
{
    struct uf_sv_status st;
    uf_supervisor_status(sv, 0, &st);
    return st.restarts >= 4;
}

static size_t count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    size_t n = 0;
    for (int c; f && (c = fgetc(f)) != EOF;)
        n += c == '\n';
    if (f)
        fclose(f);
    return n;
}

static void test_dying_child_restarts_with_backoff(void **state)
{
    char log[] = "/tmp/ugcflow-sv-XXXXXX";
    close(mkstemp(log));
    char *argv[] = { "sh", "-c", "echo started; exit 3", NULL };
    struct uf_supervisor *sv = uf_supervisor_new(&fast);
    uf_supervisor_add(sv,
                      &(struct uf_sv_child_spec){ .name = "dies", .argv = argv, .log_path = log });
    pthread_t t;
    int64_t t0 = now_ms();
    pthread_create(&t, NULL, run_thread, sv);
    assert_true(until(sv, four_restarts, 5000));
    /* Four restarts wait 50 + 100 + 200 + 400 ms: without the backoff they would take a few. */
    assert_true(now_ms() - t0 >= 750);
    uf_supervisor_request_stop(sv);
    pthread_join(t, NULL);
    struct uf_sv_status st;
    uf_supervisor_status(sv, 0, &st);
    assert_string_equal(st.last_exit, "exit 3");
    assert_int_equal(st.reloads, 0);
    assert_int_equal(st.state, UF_SV_STOPPED);
    assert_true(count_lines(log) >= 5); /* the first start and each restart, appended */
    uf_supervisor_free(sv);
    unlink(log);
}

static pid_t first_pid;

static bool running_again(struct uf_supervisor *sv)
{
    struct uf_sv_status st;
    uf_supervisor_status(sv, 0, &st);
    return st.state == UF_SV_RUNNING && st.pid > 0 && st.pid != first_pid;
}

static bool running(struct uf_supervisor *sv)
{
    struct uf_sv_status st;
    uf_supervisor_status(sv, 0, &st);
    return st.state == UF_SV_RUNNING && st.pid > 0;
}

static void test_killed_child_back_with_new_pid(void **state)
{
    char *argv[] = { "sleep", "30", NULL };
    struct uf_supervisor *sv = uf_supervisor_new(&fast);
    uf_supervisor_add(sv, &(struct uf_sv_child_spec){ .name = "sleeper", .argv = argv });
    pthread_t t;
    pthread_create(&t, NULL, run_thread, sv);
    assert_true(until(sv, running, 2000));
    struct uf_sv_status st;
    uf_supervisor_status(sv, 0, &st);
    first_pid = st.pid;
    kill(first_pid, SIGKILL);
    assert_true(until(sv, running_again, 2000));
    uf_supervisor_status(sv, 0, &st);
    assert_int_equal(st.restarts, 1);
    assert_string_equal(st.last_exit, "killed by SIGKILL");
    uf_supervisor_request_stop(sv);
    pthread_join(t, NULL);
    uf_supervisor_free(sv);
}

static void test_sighup_passed_on_as_reload(void **state)
{
    char *argv[] = { "sleep", "30", NULL };
    struct uf_supervisor *sv = uf_supervisor_new(&fast);
    uf_supervisor_add(sv, &(struct uf_sv_child_spec){ .name = "sleeper", .argv = argv });
    pthread_t t;
    pthread_create(&t, NULL, run_thread, sv);
    assert_true(until(sv, running, 2000));
    struct uf_sv_status st;
    uf_supervisor_status(sv, 0, &st);
    first_pid = st.pid;
    kill(getpid(), SIGHUP); /* blocked in every thread: the supervisor's sigtimedwait takes it */
    assert_true(until(sv, running_again, 2000));
    uf_supervisor_status(sv, 0, &st);
    assert_int_equal(st.reloads, 1);
    assert_int_equal(st.restarts, 0);
    assert_string_equal(st.last_exit, "killed by SIGHUP");
    uf_supervisor_request_stop(sv);
    pthread_join(t, NULL);
    uf_supervisor_free(sv);
}

/* A shell that writes NAME to ORDER on SIGTERM (after `delay`) and exits; it writes a line to
 * READY once its trap is installed. */
static char *noting_child(const char *order, const char *ready, const char *name, const char *delay)
{
    return uf_xasprintf("trap '%s echo %s >> %s; exit 0' TERM; echo %s >> %s; "
                        "while :; do sleep 0.02; done",
                        delay, name, order, name, ready);
}

static int lines_in(const char *path)
{
    FILE *f = fopen(path, "r");
    int n = 0;
    for (int c; f && (c = fgetc(f)) != EOF;)
        n += c == '\n';
    if (f)
        fclose(f);
    return n;
}

static bool both_running(struct uf_supervisor *sv)
{
    struct uf_sv_status a, b;
    uf_supervisor_status(sv, 0, &a);
    uf_supervisor_status(sv, 1, &b);
    return a.pid > 0 && b.pid > 0;
}

static void test_stop_goes_rank_by_rank(void **state)
{
    char order[] = "/tmp/ugcflow-sv-order-XXXXXX", ready[] = "/tmp/ugcflow-sv-ready-XXXXXX";
    close(mkstemp(order));
    close(mkstemp(ready));
    /* Each child notes its name when it gets SIGTERM; the first one takes 300 ms to finish, so
     * a second signalled at the same time would note itself first. */
    char *first = noting_child(order, ready, "first", "sleep 0.3;");
    char *second = noting_child(order, ready, "second", "");
    char *a[] = { "sh", "-c", first, NULL }, *b[] = { "sh", "-c", second, NULL };
    struct uf_supervisor *sv = uf_supervisor_new(&fast);
    uf_supervisor_add(sv, &(struct uf_sv_child_spec){ .name = "b", .argv = b, .stop_rank = 1 });
    uf_supervisor_add(sv, &(struct uf_sv_child_spec){ .name = "a", .argv = a, .stop_rank = 0 });
    pthread_t t;
    pthread_create(&t, NULL, run_thread, sv);
    assert_true(until(sv, both_running, 2000));
    WAIT_FOR(lines_in(ready) == 2, 2000); /* both traps installed: SIGTERM is noted */
    uf_supervisor_request_stop(sv);
    pthread_join(t, NULL);
    FILE *f = fopen(order, "r");
    char text[64] = { 0 };
    assert_non_null(f);
    assert_true(fread(text, 1, sizeof text - 1, f) > 0);
    fclose(f);
    assert_string_equal(text, "first\nsecond\n");
    uf_supervisor_free(sv);
    free(first);
    free(second);
    unlink(order);
    unlink(ready);
}

int main(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff_doubles_to_ceiling),
        cmocka_unit_test(test_dying_child_restarts_with_backoff),
        cmocka_unit_test(test_killed_child_back_with_new_pid),
        cmocka_unit_test(test_sighup_passed_on_as_reload),
        cmocka_unit_test(test_stop_goes_rank_by_rank),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
