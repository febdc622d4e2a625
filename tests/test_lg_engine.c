/* tests/test_lg_engine.c: the loadgen engine against a loopback server of the test's own:
 * a server that stalls 1 s once gives the corrected latency (from the intended send time) to
 * every request scheduled during the stall, not the service time; requests wait for a free
 * connection and are counted late, on connections kept alive; the send slack sends requests
 * early by no more than the slack (none early without it), timed from their send; a server
 * that never answers gives timeouts; a closed port gives connect errors and the run still ends
 * on time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "bench/loadgen/lg_engine.h"

#define MAXC 128
#define MAXREQ 4096

struct server {
    int lfd;
    uint16_t port;
    atomic_bool stop;
    bool answer;       /* false: read requests and never reply */
    double stall_at_s; /* the first request read after this stalls the server for 1 s */
    int accepted;
    struct timespec t0;
    int64_t arrived_ns[MAXREQ]; /* by X-Request-Id "t-N": when request N-1 was read */
};

static int64_t mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* Notes when the request [p, h) arrived, by its X-Request-Id. */
static void note_arrival(struct server *s, const char *p, const char *h)
{
    const char *id = memmem(p, (size_t)(h - p), "X-Request-Id: t-", 16);
    unsigned long n = id ? strtoul(id + 16, NULL, 10) : 0;
    if (n >= 1 && n <= MAXREQ && !s->arrived_ns[n - 1])
        s->arrived_ns[n - 1] = mono_ns();
}

static double since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Answers every whole request in buf (headers and Content-Length body); returns bytes used. */
static size_t answer(struct server *s, int fd, char *buf, size_t n)
{
    static const char reply[] = "HTTP/1.1 202 Accepted\r\nContent-Length: 14\r\n\r\n"
                                "{\"accepted\":1}";
    size_t used = 0;
    for (char *h; (h = memmem(buf + used, n - used, "\r\n\r\n", 4));) {
        char *cl = memmem(buf + used, (size_t)(h - buf) - used, "Content-Length: ", 16);
        size_t len = (size_t)(h - buf) + 4 + (cl ? strtoul(cl + 16, NULL, 10) : 0);
        if (len > n)
            break;
        note_arrival(s, buf + used, h);
        used = len;
        if (s->stall_at_s > 0 && since(&s->t0) >= s->stall_at_s) {
            s->stall_at_s = 0;
            usleep(1000000);
        }
        if (s->answer && write(fd, reply, sizeof reply - 1) < 0)
            break;
    }
    return used;
}

static void *serve(void *arg)
{
    struct server *s = arg;
    struct pollfd p[MAXC + 1] = { { .fd = s->lfd, .events = POLLIN } };
    static char bufs[MAXC][8192];
    size_t lens[MAXC] = { 0 }, n = 1;
    while (!atomic_load(&s->stop)) {
        if (poll(p, n, 50) <= 0)
            continue;
        if ((p[0].revents & POLLIN) && n <= MAXC) {
            p[n++] = (struct pollfd){ .fd = accept(s->lfd, NULL, NULL), .events = POLLIN };
            s->accepted++;
        }
        for (size_t i = 1; i < n; i++) {
            if (!(p[i].revents & (POLLIN | POLLHUP)))
                continue;
            ssize_t r = read(p[i].fd, bufs[i - 1] + lens[i - 1], 8192 - lens[i - 1]);
            if (r <= 0) {
                p[i].fd = -p[i].fd - 1; /* closed: poll skips negative fds */
                continue;
            }
            lens[i - 1] += (size_t)r;
            size_t used = answer(s, p[i].fd, bufs[i - 1], lens[i - 1]);
            memmove(bufs[i - 1], bufs[i - 1] + used, lens[i - 1] - used);
            lens[i - 1] -= used;
        }
    }
    for (size_t i = 1; i < n; i++)
        close(p[i].fd < 0 ? -p[i].fd - 1 : p[i].fd);
    return NULL;
}

static pthread_t start_server(struct server *s)
{
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof sa;
    assert_int_equal(bind(s->lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(s->lfd, 256), 0);
    getsockname(s->lfd, (struct sockaddr *)&sa, &len);
    s->port = ntohs(sa.sin_port);
    clock_gettime(CLOCK_MONOTONIC, &s->t0);
    pthread_t th;
    pthread_create(&th, NULL, serve, s);
    return th;
}

static void stop_server(struct server *s, pthread_t th)
{
    atomic_store(&s->stop, true);
    pthread_join(th, NULL);
    close(s->lfd);
}

struct run_opts {
    double rate, dur_s;
    int64_t timeout_us, slack_ns;
};

/* Runs o->rate req/s for o->dur_s against port, into res; requests carry X-Request-Id t-N. */
static void run_with(uint16_t port, const struct run_opts *ro, struct uf_lg_engine_result *res)
{
    struct uf_lg_target t;
    char url[64], err[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/api/v1", port);
    assert_true(uf_lg_target_parse(url, &t, err, sizeof err));
    struct uf_lg_sched s = { 0 };
    uf_lg_sched_add(&s, ro->rate, ro->rate, ro->dur_s);
    struct uf_lg_workload_opts wo = { .api = UF_LG_API_STAT, .seed = 1, .tag = "t" };
    struct uf_lg_workload *w = uf_lg_workload_new(&wo, err, sizeof err);
    assert_non_null(w);
    struct uf_lg_engine_opts o = { .target = &t,
                                   .sched = &s,
                                   .w = w,
                                   .connections = 64,
                                   .timeout_us = ro->timeout_us,
                                   .slack_ns = ro->slack_ns };
    assert_int_equal(uf_lg_engine_run(&o, res, err, sizeof err), 0);
    uf_lg_workload_free(w);
}

static void run(uint16_t port, double rate, double dur_s, int64_t timeout_us,
                struct uf_lg_engine_result *res)
{
    run_with(port, &(struct run_opts){ .rate = rate, .dur_s = dur_s, .timeout_us = timeout_us },
             res);
}

/* How many of the run's requests reached the server before their intended time minus by_ns;
 * fails when one came before it minus the slack (it cannot have been sent later than read). */
static int early(const struct server *s, const struct uf_lg_engine_result *res, double rate,
                 int64_t slack_ns, int64_t by_ns)
{
    int n = 0;
    for (uint64_t k = 0; k < res->intended; k++) {
        int64_t intended = res->t0_ns + (int64_t)((double)k / rate * 1e9);
        assert_true(s->arrived_ns[k] > 0);
        if (s->arrived_ns[k] < intended - slack_ns)
            fail_msg("request %llu read %lld ns before its intended time (slack %lld ns)",
                     (unsigned long long)k, (long long)(intended - s->arrived_ns[k]),
                     (long long)slack_ns);
        n += s->arrived_ns[k] < intended - by_ns;
    }
    return n;
}

static void test_slack_sends_early_within_it(void **state)
{
    struct server *s = calloc(1, sizeof(*s));
    s->answer = true;
    pthread_t th = start_server(s);
    struct uf_lg_engine_result *res = calloc(1, sizeof(*res));
    struct run_opts ro = { .rate = 2000, .dur_s = 1, .timeout_us = 10000000, .slack_ns = 2000000 };
    run_with(s->port, &ro, res);
    stop_server(s, th);
    assert_int_equal(res->total.ok, 2000);
    /* a wake-up every 2 ms or so takes the next 4 requests: most go out early */
    int n = early(s, res, ro.rate, ro.slack_ns, 200000);
    if (n < 500)
        fail_msg("only %d of 2000 requests sent early: the slack did not batch", n);
    /* timed from the send, not from the later intended time: no reply counts as 0 us */
    assert_true(uf_lg_hist_quantile(&res->total.hist, 0.01) > 0);
    uf_lg_engine_result_free(res);
    free(res);
    free(s);
}

static void test_no_slack_never_early(void **state)
{
    struct server *s = calloc(1, sizeof(*s));
    s->answer = true;
    pthread_t th = start_server(s);
    struct uf_lg_engine_result *res = calloc(1, sizeof(*res));
    struct run_opts ro = { .rate = 2000, .dur_s = 0.5, .timeout_us = 10000000 };
    run_with(s->port, &ro, res);
    stop_server(s, th);
    assert_int_equal(res->total.ok, 1000);
    assert_int_equal(early(s, res, ro.rate, 0, 0), 0);
    uf_lg_engine_result_free(res);
    free(res);
    free(s);
}

static void test_stall_gives_corrected_latency(void **state)
{
    struct server s = { .answer = true, .stall_at_s = 1.0 };
    pthread_t th = start_server(&s);
    struct uf_lg_engine_result *res = calloc(1, sizeof(*res));
    run(s.port, 200, 3, 10000000, res);
    stop_server(&s, th);
    const struct uf_lg_stats *st = &res->total;
    assert_int_equal(res->intended, 600);
    assert_int_equal(st->ok, 600);
    assert_int_equal(uf_lg_stats_errors(st), 0);
    /* ~100 requests were due in the stall's first half: each waited >= 0.5 s from its intended
     * time. Measured from the actual send, at most the 64 in flight could show it (10.7 %). */
    double q85 = uf_lg_hist_quantile(&st->hist, 0.85), q99 = uf_lg_hist_quantile(&st->hist, 0.99);
    if (q85 < 450000 || q99 < 900000 || st->hist.max_us < 950000)
        fail_msg("p85 %.0f us, p99 %.0f us, max %lld us: not the corrected latency", q85, q99,
                 (long long)st->hist.max_us);
    assert_true(st->late >= 100); /* the ones that waited for a connection were sent late */
    assert_true(uf_lg_hist_quantile(&st->hist, 0.5) < 50000); /* outside the stall: fast */
    assert_in_range(s.accepted, 1, 64); /* kept alive: never more connections than the pool */
    free(res->steps);
    free(res->points);
    free(res);
}

static void test_no_reply_times_out(void **state)
{
    struct server s = { .answer = false };
    pthread_t th = start_server(&s);
    struct uf_lg_engine_result *res = calloc(1, sizeof(*res));
    run(s.port, 20, 0.5, 300000, res);
    stop_server(&s, th);
    assert_int_equal(res->total.sent, 10);
    assert_int_equal(res->total.timeout, 10);
    assert_int_equal(res->total.ok, 0);
    assert_true(res->elapsed_s < 0.5 + 0.3 + 0.2); /* the end, the timeout, one sweep */
    uf_lg_engine_result_free(res);
    free(res);
}

static void test_closed_port_connect_errors(void **state)
{
    struct server s = { 0 };
    pthread_t th = start_server(&s); /* a free port: taken, then closed */
    uint16_t port = s.port;
    stop_server(&s, th);
    struct uf_lg_engine_result *res = calloc(1, sizeof(*res));
    run(port, 100, 0.5, 10000000, res);
    assert_int_equal(res->total.sent, 50);
    assert_int_equal(res->total.connect, 50);
    assert_int_equal(uf_lg_stats_errors(&res->total), 50);
    assert_true(res->elapsed_s < 0.7);
    uf_lg_engine_result_free(res);
    free(res);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stall_gives_corrected_latency),
        cmocka_unit_test(test_slack_sends_early_within_it),
        cmocka_unit_test(test_no_slack_never_early),
        cmocka_unit_test(test_no_reply_times_out),
        cmocka_unit_test(test_closed_port_connect_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
