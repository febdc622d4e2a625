/* test_http_forward.c: the `http_forward` sink against a small HTTP receiver in this process
 * (a thread on a loopback socket bound to port 0): events arrive as JSON arrays in batches of
 * at most post_events over one keep-alive connection; a failing receiver makes the sink retry
 * without losing or delaying the accepted events; a full memory buffer overflows to the disk
 * spool, which is replayed in order and emptied, also after a restart and with a torn record;
 * option errors name the option. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "framework/config.h"
#include "framework/event.h"
#include "framework/event_int.h"
#include "framework/graph.h"
#include "framework/spool.h"
#include "tests/support/poll.h"

/* ---- the receiver ---- */

struct receiver {
    int fd, port;
    pthread_t thread;
    atomic_int status;      /* what to answer */
    atomic_int connections; /* accepted */
    atomic_int posts;       /* answered 2xx */
    pthread_mutex_t lock;
    json_t *events; /* every event of every 2xx POST, in order */
    atomic_bool stop;
};

static bool read_request(int fd, char **body)
{
    char buf[1 << 16];
    size_t len = 0;
    char *end = NULL;
    while (!(end = memmem(buf, len, "\r\n\r\n", 4))) {
        ssize_t n = read(fd, buf + len, sizeof buf - len - 1);
        if (n <= 0)
            return false;
        len += (size_t)n;
    }
    buf[len] = '\0';
    const char *cl = strcasestr(buf, "Content-Length:");
    size_t want = cl ? strtoul(cl + 15, NULL, 10) : 0;
    size_t have = len - (size_t)(end + 4 - buf);
    *body = malloc(want + 1);
    memcpy(*body, end + 4, have);
    while (have < want) {
        ssize_t n = read(fd, *body + have, want - have);
        if (n <= 0)
            return false;
        have += (size_t)n;
    }
    (*body)[want] = '\0';
    return true;
}

static void serve(struct receiver *r, int fd)
{
    char *body = NULL;
    while (read_request(fd, &body)) {
        int status = atomic_load(&r->status);
        if (status == 200) {
            json_t *arr = json_loads(body, 0, NULL);
            pthread_mutex_lock(&r->lock);
            json_array_extend(r->events, arr);
            pthread_mutex_unlock(&r->lock);
            json_decref(arr);
            atomic_fetch_add(&r->posts, 1);
        }
        free(body);
        body = NULL;
        char reply[128];
        int n = snprintf(reply, sizeof reply, "HTTP/1.1 %d X\r\nContent-Length: 0\r\n\r\n", status);
        if (write(fd, reply, (size_t)n) != n)
            break;
    }
    free(body);
    close(fd);
}

static void *receiver_main(void *arg)
{
    struct receiver *r = arg;
    while (!atomic_load(&r->stop)) {
        int fd = accept(r->fd, NULL, NULL);
        if (fd < 0)
            break;
        atomic_fetch_add(&r->connections, 1);
        serve(r, fd);
    }
    return NULL;
}

static struct receiver *receiver_start(void)
{
    struct receiver *r = calloc(1, sizeof *r);
    r->events = json_array();
    pthread_mutex_init(&r->lock, NULL);
    atomic_store(&r->status, 200);
    r->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    assert_int_equal(bind(r->fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(r->fd, 8), 0);
    socklen_t alen = sizeof a;
    getsockname(r->fd, (struct sockaddr *)&a, &alen);
    r->port = ntohs(a.sin_port);
    pthread_create(&r->thread, NULL, receiver_main, r);
    return r;
}

static void receiver_free(struct receiver *r)
{
    atomic_store(&r->stop, true);
    shutdown(r->fd, SHUT_RDWR);
    close(r->fd);
    pthread_join(r->thread, NULL);
    json_decref(r->events);
    free(r);
}

static size_t received(struct receiver *r)
{
    pthread_mutex_lock(&r->lock);
    size_t n = json_array_size(r->events);
    pthread_mutex_unlock(&r->lock);
    return n;
}

static void wait_received(struct receiver *r, size_t n)
{
    WAIT_FOR(received(r) >= n, 5000);
    assert_int_equal(received(r), n);
}

/* ---- the sink ---- */

static struct uf_graph *g;

static struct uf_stage *sink_new(const char *options, struct uf_err *err)
{
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "pipelines:\n  t:\n    components:\n      in: {kind: stdin}\n"
             "      fwd: {kind: http_forward, inputs: [in], %s}\n",
             options);
    struct uf_diags diags = { 0 };
    struct uf_config *cfg = uf_config_load_string("t.yaml", yaml, &diags);
    g = cfg ? uf_graph_build(cfg, NULL, 0, &diags) : NULL;
    if (!g) {
        snprintf(err->msg, sizeof err->msg, "%s", diags.n ? diags.v[0].msg : "no graph");
        uf_diags_free(&diags);
        return NULL;
    }
    uf_diags_free(&diags);
    struct uf_stage *st = g->pipelines[0].stages[1];
    assert_string_equal(st->name, "fwd");
    assert_int_equal(st->kind->start(st, st->ctx, err), 0);
    return st;
}

static void sink_free(struct uf_stage *st)
{
    st->kind->stop(st, st->ctx);
    uf_graph_free(g);
    g = NULL;
}

static void send_events(struct uf_stage *st, int from, int n)
{
    struct uf_event *evs[64];
    for (int i = 0; i < n; i++) {
        evs[i] = uf_event_new(json_pack("{s:s, s:i}", "type", "ugc.like", "seq", from + i));
        evs[i]->at = st;
    }
    struct uf_err err = { 0 };
    int64_t t0 = uf_now_us();
    assert_int_equal(st->kind->write(st, st->ctx, evs, (size_t)n, &err), UF_OK);
    /* Accepting never waits for the receiver. */
    assert_true(uf_now_us() - t0 < 100 * 1000);
}

static void assert_in_order(struct receiver *r, int n)
{
    for (int i = 0; i < n; i++)
        assert_int_equal(json_integer_value(json_object_get(json_array_get(r->events, i), "seq")),
                         i);
}

static int64_t failed_posts(struct uf_stage *st)
{
    return uf_metrics_extra_value(uf_stage_metrics(st), "forward_failed_posts_total", NULL);
}

/* Waits until the sink has counted at least n refused posts: proof that it tried. */
static void wait_failed_posts(struct uf_stage *st, int64_t n)
{
    WAIT_FOR(failed_posts(st) >= n, 5000);
}

static void test_batches_over_one_connection(void **state)
{
    struct receiver *r = receiver_start();
    char opts[256];
    snprintf(opts, sizeof opts, "url: 'http://127.0.0.1:%d/api/v1/events', post_events: 3",
             r->port);
    struct uf_err err = { 0 };
    struct uf_stage *st = sink_new(opts, &err);
    send_events(st, 0, 7);
    wait_received(r, 7);
    assert_in_order(r, 7);
    assert_true(atomic_load(&r->posts) >= 3);
    assert_int_equal(atomic_load(&r->connections), 1);
    sink_free(st);
    receiver_free(r);
}

static void test_retries_until_the_receiver_recovers(void **state)
{
    struct receiver *r = receiver_start();
    atomic_store(&r->status, 503);
    char opts[256];
    snprintf(opts, sizeof opts, "url: 'http://127.0.0.1:%d/e', retry_min: 10ms, retry_max: 50ms",
             r->port);
    struct uf_err err = { 0 };
    struct uf_stage *st = sink_new(opts, &err);
    send_events(st, 0, 10);
    wait_failed_posts(st, 2);
    assert_int_equal(received(r), 0);
    atomic_store(&r->status, 200);
    wait_received(r, 10);
    assert_in_order(r, 10);
    sink_free(st);
    receiver_free(r);
}

/* New events arriving while the receiver fails do not cut the backoff short: with retries at
 * 100, 200 and 400 ms, 600 ms of steady writes (measured on the clock, so a slow machine
 * writes fewer events, never for longer) see at most 4 attempts, not one per write. */
static void test_backoff_holds_while_events_arrive(void **state)
{
    struct receiver *r = receiver_start();
    atomic_store(&r->status, 503);
    char opts[256];
    snprintf(opts, sizeof opts, "url: 'http://127.0.0.1:%d/e', retry_min: 100ms, retry_max: 1s",
             r->port);
    struct uf_err err = { 0 };
    struct uf_stage *st = sink_new(opts, &err);
    int sent = 0;
    for (int64_t end = test_now_ms() + 600; test_now_ms() < end; sent++) {
        send_events(st, sent, 1);
        if (failed_posts(st) > 5)
            fail_msg("%lld posts after %d events: each write cut the backoff short",
                     (long long)failed_posts(st), sent + 1);
        nanosleep(&(struct timespec){ .tv_nsec = 5000000 }, NULL); /* the writes' pace */
    }
    assert_true(failed_posts(st) >= 1);
    atomic_store(&r->status, 200);
    wait_received(r, (size_t)sent);
    assert_in_order(r, sent);
    sink_free(st);
    receiver_free(r);
}

static void test_overflow_goes_to_the_spool_and_back(void **state)
{
    struct receiver *r = receiver_start();
    atomic_store(&r->status, 500);
    char dir[] = "/tmp/test-http-forward-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char opts[512];
    snprintf(opts, sizeof opts,
             "url: 'http://127.0.0.1:%d/e', buffer_bytes: 1KiB, post_bytes: 1KiB, "
             "spool_dir: '%s/sub/spool', retry_min: 10ms, retry_max: 20ms",
             r->port, dir);
    struct uf_err err = { 0 };
    struct uf_stage *st = sink_new(opts, &err);
    for (int i = 0; i < 200; i += 50)
        send_events(st, i, 50);
    struct uf_metrics *m = uf_stage_metrics(st);
    assert_true(uf_metrics_extra_value(m, "forward_spooled_events_total", NULL) > 100);
    assert_true(uf_metrics_extra_value(m, "forward_spool_bytes", NULL) > 0);
    atomic_store(&r->status, 200);
    wait_received(r, 200);
    assert_in_order(r, 200);
    /* The last segment goes once its last batch was answered. */
    WAIT_FOR(uf_metrics_extra_value(m, "forward_spool_bytes", NULL) == 0, 1000);
    assert_int_equal(uf_metrics_extra_value(m, "forward_spool_bytes", NULL), 0);
    sink_free(st);
    receiver_free(r);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* Stopped while the receiver fails: what memory held is spilled to the spool and delivered by
 * the next start. */
static void test_spool_survives_a_restart(void **state)
{
    struct receiver *r = receiver_start();
    atomic_store(&r->status, 503);
    char dir[] = "/tmp/test-http-forward-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char opts[512];
    snprintf(opts, sizeof opts,
             "url: 'http://127.0.0.1:%d/e', spool_dir: '%s/spool', retry_min: 10ms, "
             "retry_max: 20ms",
             r->port, dir);
    struct uf_err err = { 0 };
    struct uf_stage *st = sink_new(opts, &err);
    send_events(st, 0, 30);
    wait_failed_posts(st, 1);
    sink_free(st);
    assert_int_equal(received(r), 0);

    atomic_store(&r->status, 200);
    st = sink_new(opts, &err);
    wait_received(r, 30);
    assert_in_order(r, 30);
    sink_free(st);
    receiver_free(r);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* A spool left by a crash, its last record torn: the whole records and then the new events are
 * delivered in order. */
static void test_torn_spool_record_is_cut(void **state)
{
    struct receiver *r = receiver_start();
    char dir[] = "/tmp/test-http-forward-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/spool", dir);
    struct uf_spool_cfg cfg = { .dir = path, .max_bytes = 1 << 20, .segment_bytes = 1 << 20 };
    struct uf_err err = { 0 };
    struct uf_spool *sp = uf_spool_open(&cfg, &err);
    struct uf_spool_rec recs[2] = { { "{\"seq\":0}", 9 }, { "{\"seq\":9,\"x\":1}", 16 } };
    assert_int_equal(uf_spool_append(sp, recs, 2, &err), 0);
    uf_spool_close(sp);
    char seg[300];
    snprintf(seg, sizeof seg, "%s/0000000000000001.seg", path);
    struct stat sb;
    assert_int_equal(stat(seg, &sb), 0);
    assert_int_equal(truncate(seg, sb.st_size - 5), 0); /* the second record torn */
    char opts[512];
    snprintf(opts, sizeof opts, "url: 'http://127.0.0.1:%d/e', spool_dir: '%s'", r->port, path);
    struct uf_stage *st = sink_new(opts, &err);
    send_events(st, 1, 2);
    wait_received(r, 3);
    assert_in_order(r, 3);
    sink_free(st);
    receiver_free(r);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_option_errors(void **state)
{
    struct uf_err err = { 0 };
    assert_null(sink_new("url: 'ftp://x'", &err));
    assert_non_null(strstr(err.msg, "url: must start with http:// or https://"));
    assert_null(sink_new("url: 'http://x', retry_min: 2s, retry_max: 1s", &err));
    assert_non_null(strstr(err.msg, "retry_min: must not exceed retry_max"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batches_over_one_connection),
        cmocka_unit_test(test_retries_until_the_receiver_recovers),
        cmocka_unit_test(test_backoff_holds_while_events_arrive),
        cmocka_unit_test(test_overflow_goes_to_the_spool_and_back),
        cmocka_unit_test(test_spool_survives_a_restart),
        cmocka_unit_test(test_torn_spool_record_is_cut),
        cmocka_unit_test(test_option_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
