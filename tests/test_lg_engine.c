/* tests/test_lg_engine.c: the loadgen engine against a loopback server of the test's own:
 * a server that stalls 1 s once gives the corrected latency (from the intended send time) to
 * every request scheduled during the stall, not the service time; requests wait for a free
 * connection and are counted late, on connections kept alive; a server that never answers gives timeouts; a closed port
 * gives connect errors and the run still ends on time. */
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

struct server {
    int lfd;
    uint16_t port;
    atomic_bool stop;
    bool answer;        /* false: read requests and never reply */
    double stall_at_s;  /* the first request read after this stalls the server for 1 s */
    int accepted;
    struct timespec t0;
};

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
    struct pollfd p[MAXC + 1] = {{.fd = s->lfd, .events = POLLIN}};
    static char bufs[MAXC][8192];
    size_t lens[MAXC] = {0}, n = 1;
    while (!atomic_load(&s->stop)) {
        if (poll(p, n, 50) <= 0)
            continue;
        if ((p[0].revents & POLLIN) && n <= MAXC) {
            p[n++] = (struct pollfd){.fd = accept(s->lfd, NULL, NULL), .events = POLLIN};
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
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
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

/* Runs rate req/s for dur_s against port, into res. */
static void run(uint16_t port, double rate, double dur_s, int64_t timeout_us,
                struct uf_lg_engine_result *res)
{
    struct uf_lg_target t;
    char url[64], err[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/api/v1", port);
    assert_true(uf_lg_target_parse(url, &t, err, sizeof err));
    struct uf_lg_sched s = {0};
    uf_lg_sched_add(&s, rate, rate, dur_s);
    struct uf_lg_workload_opts wo = {.api = UF_LG_API_STAT, .seed = 1};
    struct uf_lg_workload *w = uf_lg_workload_new(&wo, err, sizeof err);
    assert_non_null(w);
    struct uf_lg_engine_opts o = {.target = &t, .sched = &s, .w = w, .connections = 64,
                                  .timeout_us = timeout_us};
    assert_int_equal(uf_lg_engine_run(&o, res, err, sizeof err), 0);
    uf_lg_workload_free(w);
}

static void test_stall_gives_corrected_latency(void **state)
{
    struct server s = {.answer = true, .stall_at_s = 1.0};
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
    struct server s = {.answer = false};
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
    struct server s = {0};
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
        cmocka_unit_test(test_no_reply_times_out),
        cmocka_unit_test(test_closed_port_connect_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
