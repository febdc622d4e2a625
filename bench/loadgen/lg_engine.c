/* lg_engine.c: the loadgen's one-thread event loop (see lg_engine.h). The queue of waiting
 * requests is implicit: the schedule's next index k and its intended time; a request is made
 * (workload draw, bytes) only when a connection takes it, so a long stall costs no memory. While
 * a connection is free, the loop sleeps until the next intended time (timer slack 1 ns), or the
 * 10 ms timeout sweep or the next live second, without watching the sockets; then it takes the
 * replies that came meanwhile and sends what is due within --slack-us, so a wake-up serves many
 * requests. Every wait is bounded: nothing runs past the schedule's end plus --timeout plus a
 * second. */
#include "bench/loadgen/lg_engine.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "bench/loadgen/lg_conn.h"
#include "framework/mem.h"

#define SWEEP_NS 10000000LL
#define SEC_NS 1000000000LL
#define MAX_EVENTS 64

struct engine {
    const struct uf_lg_engine_opts *o;
    struct uf_lg_engine_result *res;
    int ep;
    struct uf_lg_conn *conns;
    size_t *free_idle, nidle;     /* connected and idle: taken newest first (stays warm) */
    size_t *free_closed, nclosed; /* not connected */
    size_t inflight, points_cap;
    size_t nconnecting; /* connections whose connect has not completed: the loop watches them */
    int64_t t0, end, wall0_ms, next_due, next_sweep, next_second;
    int64_t real_off; /* CLOCK_REALTIME minus CLOCK_MONOTONIC at the last wake-up */
    uint64_t next_k;
    struct uf_lg_stats window; /* the current second, by completion time */
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * SEC_NS + ts.tv_nsec;
}

static int64_t real_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * SEC_NS + ts.tv_nsec;
}

static int64_t due_of(const struct engine *e, uint64_t k)
{
    double t = k < e->res->intended ? uf_lg_sched_time(e->o->sched, k) : -1;
    return t < 0 ? INT64_MAX : e->t0 + (int64_t)llround(t * 1e9);
}

static void log_acked(struct engine *e, const struct uf_lg_conn *c, const struct uf_lg_reply *r)
{
    if (!e->o->acked || r->status < 200 || r->status > 299)
        return;
    for (size_t i = 0; i < c->req.nevents; i++)
        fprintf(e->o->acked, "%s\n", c->req.event_ids[i]);
    if (c->req.nevents == 0 && r->event_id[0])
        fprintf(e->o->acked, "%s\n", r->event_id);
}

static void release(struct engine *e, struct uf_lg_conn *c)
{
    if (c->state == UF_LG_IDLE)
        e->free_idle[e->nidle++] = c->index;
    else
        e->free_closed[e->nclosed++] = c->index;
}

/* When the reply came: the kernel's receive time on the monotonic clock, or now when there is
 * none or it falls outside [sent, now] (the real-time clock was stepped). */
static int64_t replied_at(const struct engine *e, const struct uf_lg_conn *c, int64_t now)
{
    int64_t t = c->rx_real_ns - e->real_off;
    return c->rx_real_ns && t >= c->sent_ns && t <= now ? t : now;
}

/* The request on c ended: counts it everywhere, frees the connection for the next one. */
static void finish(struct engine *e, struct uf_lg_conn *c, enum uf_lg_outcome o,
                   const struct uf_lg_reply *r, int64_t now)
{
    /* From the intended time (a request that waited is charged for it), or from the send when
     * it went early: never less than the server took, never negative. */
    int64_t from = c->sent_ns < c->intended_ns ? c->sent_ns : c->intended_ns;
    int64_t lat_us = ((o == UF_LG_REPLY ? replied_at(e, c, now) : now) - from) / 1000;
    int status = r ? r->status : 0;
    uf_lg_stats_ended(&e->res->total, c->req.route, o, status, lat_us);
    uf_lg_stats_ended(&e->res->steps[c->step], c->req.route, o, status, lat_us);
    uf_lg_stats_ended(&e->window, c->req.route, o, status, lat_us);
    if (r) {
        uf_lg_workload_answered(e->o->w, &c->req, r->status, r->body, r->body_len);
        log_acked(e, c, r);
    }
    if (o == UF_LG_REPLY && !r->close)
        c->state = UF_LG_IDLE;
    else
        uf_lg_conn_close(c, e->ep);
    e->inflight--;
    release(e, c);
}

static struct uf_lg_conn *take_conn(struct engine *e)
{
    if (e->nidle)
        return &e->conns[e->free_idle[--e->nidle]];
    if (e->nclosed)
        return &e->conns[e->free_closed[--e->nclosed]];
    return NULL;
}

/* Makes request next_k and sends it on c (connecting first when c is closed). */
static void start_request(struct engine *e, struct uf_lg_conn *c, int64_t now)
{
    c->intended_ns = e->next_due;
    c->sent_ns = now;
    c->step = uf_lg_sched_segment_at(e->o->sched, (double)(c->intended_ns - e->t0) / 1e9);
    if (c->step >= e->o->sched->n)
        c->step = e->o->sched->n - 1;
    uf_lg_workload_next(e->o->w, &c->req, e->wall0_ms + (now - e->t0) / 1000000);
    uf_strbuf_reset(&c->out);
    uf_lg_http_write(&c->out, e->o->target, &c->req);
    c->out_off = 0;
    c->in_len = 0; /* the last reply's bytes */
    c->rx_real_ns = 0;
    bool late = now - c->intended_ns > UF_LG_LATE_US * 1000LL;
    uf_lg_stats_sent(&e->res->total, c->req.route, late);
    uf_lg_stats_sent(&e->res->steps[c->step], c->req.route, late);
    uf_lg_stats_sent(&e->window, c->req.route, late);
    e->inflight++;
    bool ok = c->state == UF_LG_CLOSED ? uf_lg_conn_open(c, e->ep, e->o->target->port)
                                       : (c->state = UF_LG_BUSY, uf_lg_conn_flush(c, e->ep));
    e->nconnecting += ok && c->state == UF_LG_CONNECTING;
    if (!ok)
        finish(e, c, UF_LG_CONNECT, NULL, now);
}

/* Sends every request due by now plus the slack, as long as a connection is free; the rest
 * wait (after the end too, until the drain is over: they were due, so they are sent, late). */
static void dispatch(struct engine *e, int64_t now)
{
    while (e->next_due <= now + e->o->slack_ns) {
        struct uf_lg_conn *c = take_conn(e);
        if (!c)
            return;
        start_request(e, c, now);
        e->next_due = due_of(e, ++e->next_k);
    }
}

static void on_event(struct engine *e, const struct epoll_event *ev, int64_t now)
{
    struct uf_lg_conn *c = &e->conns[ev->data.u32];
    if (c->state == UF_LG_CONNECTING) {
        e->nconnecting--;
        if (!uf_lg_conn_connected(c, e->ep))
            finish(e, c, UF_LG_CONNECT, NULL, now);
        return;
    }
    if (c->state == UF_LG_IDLE) { /* the server closed a kept-alive connection (or babbled) */
        for (size_t i = 0; i < e->nidle; i++)
            if (e->free_idle[i] == c->index)
                e->free_idle[i] = e->free_idle[--e->nidle];
        uf_lg_conn_close(c, e->ep);
        release(e, c);
        return;
    }
    if (c->state != UF_LG_BUSY)
        return;
    if ((ev->events & EPOLLOUT) && !uf_lg_conn_flush(c, e->ep)) {
        finish(e, c, UF_LG_CONNECT, NULL, now);
        return;
    }
    if (!(ev->events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        return;
    struct uf_lg_reply r;
    switch (uf_lg_conn_read(c, &r)) {
    case UF_LG_IO_WAIT:
        break;
    case UF_LG_IO_REPLY:
        finish(e, c, UF_LG_REPLY, &r, now);
        break;
    case UF_LG_IO_BROKEN:
        finish(e, c, UF_LG_CONNECT, NULL, now);
        break;
    case UF_LG_IO_BAD:
        finish(e, c, UF_LG_PROTOCOL, NULL, now);
        break;
    }
}

/* Gives up on requests past their timeout (all of them once the drain time is over). */
static void sweep(struct engine *e, int64_t now, bool all)
{
    int64_t limit = e->o->timeout_us * 1000;
    for (size_t i = 0; i < e->o->connections; i++) {
        struct uf_lg_conn *c = &e->conns[i];
        bool busy = c->state == UF_LG_BUSY || c->state == UF_LG_CONNECTING;
        if (!busy || !(all || now - c->sent_ns >= limit))
            continue;
        e->nconnecting -= c->state == UF_LG_CONNECTING;
        finish(e, c, UF_LG_TIMEOUT, NULL, now);
    }
}

/* The second that just ended: a live line, and a point of the per-second series. */
static void second(struct engine *e, int64_t now)
{
    double t = (double)(e->next_second - e->t0) / 1e9;
    double offered = uf_lg_sched_rate_at(e->o->sched, t - 0.5);
    if (e->o->live)
        uf_lg_stats_live(e->o->live, t, offered, &e->window, 1.0, e->inflight);
    if (e->res->npoints == e->points_cap) {
        e->points_cap = e->points_cap ? 2 * e->points_cap : 64;
        e->res->points = uf_xrealloc(e->res->points, e->points_cap * sizeof(*e->res->points));
    }
    struct uf_lg_stats *w = &e->window;
    e->res->points[e->res->npoints++] =
        (struct uf_lg_point){ .t_s = t,
                              .offered = offered,
                              .achieved = (double)w->replies,
                              .p50_ms = uf_lg_hist_quantile(&w->hist, 0.5) / 1000,
                              .p99_ms = uf_lg_hist_quantile(&w->hist, 0.99) / 1000,
                              .p999_ms = uf_lg_hist_quantile(&w->hist, 0.999) / 1000,
                              .errors = uf_lg_stats_errors(w) };
    uf_lg_stats_reset(&e->window);
    e->next_second += SEC_NS;
}

/* How long to sleep: until the next due request (if a connection is free to take it), the
 * next sweep or second, or the end of sending. */
static struct timespec wait_for(const struct engine *e, int64_t now)
{
    int64_t wake = e->next_sweep < e->next_second ? e->next_sweep : e->next_second;
    if ((e->nidle || e->nclosed) && e->next_due < wake)
        wake = e->next_due;
    if (now < e->end && e->end < wake)
        wake = e->end;
    int64_t d = wake > now ? wake - now : 0;
    return (struct timespec){ .tv_sec = d / SEC_NS, .tv_nsec = d % SEC_NS };
}

/* Waits until there is something to do; returns the socket events ready by then. While a
 * connection is free for the next request, the sockets are not watched: the loop sleeps until
 * that request (or the sweep, or the second) and then takes every reply that came meanwhile in
 * one go, each timed by its kernel receive time, instead of waking for each. Otherwise (every
 * connection busy, or nothing left to send) any socket event wakes it. */
static int wait_events(struct engine *e, int64_t now, struct epoll_event *evs)
{
    struct timespec ts = wait_for(e, now);
    bool sending = (e->nidle || e->nclosed) && e->next_due != INT64_MAX && !e->nconnecting;
    if (sending && (ts.tv_sec || ts.tv_nsec)) {
        clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
        ts = (struct timespec){ 0 };
    }
    return epoll_pwait2(e->ep, evs, MAX_EVENTS, &ts, NULL);
}

static void loop(struct engine *e)
{
    int64_t hard_end = e->end + e->o->timeout_us * 1000 + SEC_NS;
    struct epoll_event evs[MAX_EVENTS];
    for (int64_t now = now_ns(); now < hard_end; now = now_ns()) {
        dispatch(e, now);
        if (now >= e->end && e->inflight == 0 && e->next_k >= e->res->intended)
            break;
        if (now >= e->next_sweep) {
            sweep(e, now, false);
            e->next_sweep = now + SWEEP_NS;
        }
        if (now >= e->next_second)
            second(e, now);
        int n = wait_events(e, now, evs);
        now = now_ns();
        e->real_off = real_ns() - now;
        for (int i = 0; i < n; i++)
            on_event(e, &evs[i], now);
    }
    sweep(e, now_ns(), true);
}

static void setup(struct engine *e)
{
    size_t n = e->o->connections;
    e->conns = uf_xcalloc(n, sizeof(*e->conns));
    e->free_idle = uf_xcalloc(n, sizeof(size_t));
    e->free_closed = uf_xcalloc(n, sizeof(size_t));
    for (size_t i = 0; i < n; i++) {
        e->conns[i] = (struct uf_lg_conn){ .fd = -1, .index = (uint32_t)i };
        e->free_closed[e->nclosed++] = n - 1 - i; /* the first connection is taken first */
    }
    e->res->steps = uf_xcalloc(e->o->sched->n, sizeof(*e->res->steps));
    e->res->intended = uf_lg_sched_total(e->o->sched);
    prctl(PR_SET_TIMERSLACK, 1UL); /* wake-ups on the intended time, not 50 us after it */
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    e->wall0_ms = (int64_t)wall.tv_sec * 1000 + wall.tv_nsec / 1000000;
    e->t0 = e->res->t0_ns = now_ns();
    e->end = e->t0 + (int64_t)llround(uf_lg_sched_duration(e->o->sched) * 1e9);
    e->next_due = due_of(e, 0);
    e->next_sweep = e->t0 + SWEEP_NS;
    e->next_second = e->t0 + SEC_NS;
}

int uf_lg_engine_run(const struct uf_lg_engine_opts *o, struct uf_lg_engine_result *res, char *err,
                     size_t errlen)
{
    memset(res, 0, sizeof(*res));
    struct engine e = { .o = o, .res = res, .ep = epoll_create1(EPOLL_CLOEXEC) };
    if (e.ep < 0)
        return snprintf(err, errlen, "epoll_create1: %s", strerror(errno)), -1;
    setup(&e);
    loop(&e);
    res->elapsed_s = (double)(now_ns() - e.t0) / 1e9;
    if (o->live)
        fputc('\n', o->live);
    for (size_t i = 0; i < o->connections; i++) {
        uf_lg_conn_close(&e.conns[i], e.ep);
        uf_lg_conn_free(&e.conns[i]);
    }
    free(e.conns);
    free(e.free_idle);
    free(e.free_closed);
    close(e.ep);
    return 0;
}

void uf_lg_engine_result_free(struct uf_lg_engine_result *res)
{
    free(res->steps);
    free(res->points);
    res->steps = NULL;
    res->points = NULL;
}
