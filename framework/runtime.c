/* runtime.c: running a built graph (see runtime.h).
 * The hot path is uf_emit: for every consumer of a port it either calls the consumer right away
 * in the caller's thread (synchronous transforms: no queue hop per stage) or pushes to the
 * consumer's bounded queue (sinks and `buffer`ed components), blocking or rejecting when full.
 * Workers pop batches from a queue and call process() or write(). Shutdown runs in topological
 * order so every queue is closed only after everything upstream of it has stopped. */
#include "framework/runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "framework/clock.h"
#include "framework/event_int.h"
#include "framework/log.h"
#include "framework/mem.h"
#include "framework/queue.h"
#include "framework/strbuf.h"

struct uf_runtime {
    struct uf_graph *g;
    int stop_pipe[2];
    atomic_bool stopping, ready;
    _Atomic int64_t deadline_us;
    size_t sources_total;
    atomic_size_t sources_done;
};

/* ---- the hot path ---- */

static void write_batch(struct uf_stage *st, struct uf_event **evs, size_t n, bool timed);

/* Whether to time this pass through a synchronous stage: its first 1,024 events, then a
 * random one in eight (a per-thread generator, so no stage of a chain is always or never
 * picked). Two clock reads and a histogram's three shared atomics per stage and event were
 * 3 - 5 % of the CPU of a request through the stat pipeline; a sample keeps the quantiles and
 * the mean (sum / count) true. */
static bool time_this(struct uf_stage *st)
{
    static _Thread_local uint64_t rng = 0x9e3779b97f4a7c15u;
    rng = rng * 6364136223846793005u + 1442695040888963407u;
    return rng >> 61 == 0 || atomic_load_explicit(&st->metrics.in, memory_order_relaxed) <= 1024;
}

static void run_sync(struct uf_stage *st, struct uf_event *ev)
{
    ev->at = st;
    bool timed = time_this(st);
    if (st->kind->role == UF_SINK) {
        write_batch(st, &ev, 1, timed);
        return;
    }
    if (!timed) {
        st->kind->process(st, st->ctx, ev);
        return;
    }
    int64_t t0 = uf_now_us();
    st->kind->process(st, st->ctx, ev);
    uf_histo_observe(&st->metrics.latency_us, uf_histo_bounds_us, (uint64_t)(uf_now_us() - t0));
}

static int deliver(struct uf_stage *to, struct uf_event *ev)
{
    uf_metrics_add(&to->metrics.in, 1);
    if (!to->q) {
        run_sync(to, ev);
        return 0;
    }
    int rc = uf_queue_push(to->q, ev, to->common.when_full == 0);
    if (rc == 0)
        return 0;
    ev->at = to;
    if (rc == UF_EFULL)
        uf_event_fail(ev, 503, "overloaded", "the service is overloaded, retry later");
    else
        uf_event_fail(ev, 503, "shutting_down", "the service is shutting down, retry later");
    return rc;
}

int uf_emit_port(struct uf_stage *st, int port, struct uf_event *ev)
{
    if (port < 0 || (size_t)port >= st->nports || st->ports[port].nto == 0) {
        ev->at = st;
        uf_event_drop(ev, "no consumer for this output");
        return 0;
    }
    struct uf_port *p = &st->ports[port];
    uf_metrics_add(&st->metrics.out, 1);
    /* Copies are made before the original is handed on: after deliver() it is not ours. */
    struct uf_event *copies[16], **cp = copies;
    if (p->nto - 1 > 16)
        cp = uf_xmalloc((p->nto - 1) * sizeof *cp);
    for (size_t k = 1; k < p->nto; k++)
        cp[k - 1] = uf_event_copy(ev);
    int rc = deliver(p->to[0], ev);
    for (size_t k = 1; k < p->nto; k++) {
        int r = deliver(p->to[k], cp[k - 1]);
        rc = rc ? rc : r;
    }
    if (cp != copies)
        free(cp);
    return rc;
}

int uf_emit(struct uf_stage *st, struct uf_event *ev)
{
    return uf_emit_port(st, 0, ev);
}

/* ---- workers ---- */

static void backoff(struct uf_stage *st, int attempt)
{
    int64_t ms = 50LL << (attempt < 7 ? attempt : 7); /* 50 ms .. 6.4 s */
    ms = ms / 2 + rand() % (ms / 2 + 1);              /* jitter keeps retries from aligning */
    int64_t left = uf_stage_deadline_ms(st);
    if (ms > left)
        ms = left > 0 ? left : 0;
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* True once shutdown began: sources stop emitting, loops wind down. */
static bool stage_is_stopping(const struct uf_stage *st)
{
    return st->rt && atomic_load(&st->rt->stopping);
}

static void write_batch(struct uf_stage *st, struct uf_event **evs, size_t n, bool timed)
{
    for (int attempt = 0;; attempt++) {
        struct uf_err err = { 0 };
        int64_t t0 = timed ? uf_now_us() : 0;
        int rc = st->kind->write(st, st->ctx, evs, n, &err);
        if (timed)
            uf_histo_observe(&st->metrics.latency_us, uf_histo_bounds_us,
                             (uint64_t)(uf_now_us() - t0));
        if (rc == UF_OK)
            return;
        if (rc == UF_RETRY && (!stage_is_stopping(st) || uf_stage_deadline_ms(st) > 0)) {
            uf_metrics_add(&st->metrics.retries, 1);
            uf_log_limited(UF_LOG_WARN, st, "Write failed, retrying.", "err", err.msg);
            backoff(st, attempt);
            continue;
        }
        uf_log_limited(UF_LOG_ERROR, st, "Write failed permanently.", "err", err.msg);
        for (size_t i = 0; i < n; i++)
            uf_event_fail(evs[i], rc == UF_RETRY ? 503 : 500, "write_failed", err.msg);
        return;
    }
}

/* A worker that found only a few events waits a moment before popping again, so the next pop
 * takes a batch: otherwise a consumer faster than its producer sleeps on the condition variable
 * after every event, and every push pays a futex wake-up. 50 us is far below any reply budget. */
static void linger(void)
{
    struct timespec ts = { .tv_sec = 0, .tv_nsec = 50000 };
    nanosleep(&ts, NULL);
}

static void *worker(void *arg)
{
    struct uf_stage *st = arg;
    size_t max = (size_t)st->common.batch_max;
    struct uf_event **evs = uf_xmalloc(max * sizeof *evs);
    int64_t next_tick = uf_now_us() + st->common.tick_ms * 1000;
    for (;;) {
        size_t n = uf_queue_pop(st->q, evs, max, (int)st->common.tick_ms);
        if (n == 0 && uf_queue_is_drained(st->q))
            break;
        for (size_t i = 0; i < n; i++)
            evs[i]->at = st;
        if (n && st->kind->role == UF_SINK) {
            uf_histo_observe(&st->metrics.batch_rows, uf_histo_bounds_n, n);
            write_batch(st, evs, n, true);
        } else {
            for (size_t i = 0; i < n; i++) {
                int64_t t0 = uf_now_us();
                st->kind->process(st, st->ctx, evs[i]);
                uf_histo_observe(&st->metrics.latency_us, uf_histo_bounds_us,
                                 (uint64_t)(uf_now_us() - t0));
            }
        }
        if (n > 0 && n < max / 4)
            linger();
        if (st->kind->tick && (n == 0 || uf_now_us() >= next_tick)) {
            st->kind->tick(st, st->ctx);
            next_tick = uf_now_us() + st->common.tick_ms * 1000;
        }
    }
    free(evs);
    return NULL;
}

/* An unbuffered stage has no worker to tick it: this thread does, so batch-age flushes and
 * timed fsyncs happen whether or not the component has a queue. */
static void *ticker(void *arg)
{
    struct uf_stage *st = arg;
    struct timespec ts = { .tv_sec = st->common.tick_ms / 1000,
                           .tv_nsec = (st->common.tick_ms % 1000) * 1000000L };
    while (!atomic_load(&st->ticker_stop)) {
        nanosleep(&ts, NULL);
        if (!atomic_load(&st->ticker_stop))
            st->kind->tick(st, st->ctx);
    }
    return NULL;
}

/* ---- lifecycle ---- */

struct uf_runtime *uf_runtime_new(struct uf_graph *g)
{
    struct uf_runtime *rt = uf_xcalloc(1, sizeof *rt);
    rt->g = g;
    if (pipe2(rt->stop_pipe, O_CLOEXEC) != 0)
        abort();
    for (size_t i = 0; i < g->npipelines; i++)
        for (size_t s = 0; s < g->pipelines[i].nstages; s++) {
            struct uf_stage *st = g->pipelines[i].stages[s];
            st->rt = rt;
            if (st->kind->role == UF_SOURCE)
                rt->sources_total++;
        }
    return rt;
}

struct uf_graph *uf_runtime_graph(struct uf_runtime *rt)
{
    return rt->g;
}

static int start_stage(struct uf_stage *st, struct uf_err *err)
{
    bool buffered = st->common.buffer > 0 && st->kind->role != UF_SOURCE;
    if (buffered) {
        st->q = uf_queue_new((size_t)st->common.buffer);
        atomic_store(&st->metrics.queue_capacity, st->common.buffer);
    }
    if (st->kind->start && st->kind->start(st, st->ctx, err) != 0) {
        uf_err_prefix(err, "component '%s' (kind %s, %s)", st->name, st->kind->name, st->where);
        return err->code ? err->code : UF_EIO;
    }
    st->started = true;
    if (!buffered && st->kind->tick && st->kind->role != UF_SOURCE) {
        pthread_create(&st->ticker, NULL, ticker, st);
        st->has_ticker = true;
    }
    if (buffered) {
        st->threads = uf_xcalloc((size_t)st->common.workers, sizeof *st->threads);
        for (int64_t i = 0; i < st->common.workers; i++)
            pthread_create(&st->threads[i], NULL, worker, st);
    }
    return 0;
}

int uf_runtime_start(struct uf_runtime *rt, struct uf_err *err)
{
    /* Sinks first, sources last: nothing emits into a stage that is not running yet. */
    for (size_t i = 0; i < rt->g->npipelines; i++) {
        struct uf_pipeline *pl = &rt->g->pipelines[i];
        for (size_t s = pl->nstages; s-- > 0;) {
            int rc = start_stage(pl->stages[s], err);
            if (rc != 0) {
                uf_runtime_request_stop(rt);
                return rc;
            }
        }
    }
    atomic_store(&rt->ready, true);
    return 0;
}

void uf_runtime_request_stop(struct uf_runtime *rt)
{
    char c = 1;
    ssize_t w = write(rt->stop_pipe[1], &c, 1); /* async-signal-safe */
    (void)w;
}

void uf_stage_source_done(struct uf_stage *st)
{
    if (atomic_exchange(&st->source_done, true))
        return;
    struct uf_runtime *rt = st->rt;
    if (atomic_fetch_add(&rt->sources_done, 1) + 1 == rt->sources_total)
        uf_runtime_request_stop(rt);
}

bool uf_runtime_is_stopping(const struct uf_runtime *rt)
{
    return atomic_load(&rt->stopping);
}
bool uf_runtime_is_ready(const struct uf_runtime *rt)
{
    return atomic_load(&rt->ready) && !atomic_load(&rt->stopping);
}

int64_t uf_stage_deadline_ms(const struct uf_stage *st)
{
    if (!stage_is_stopping(st))
        return 24LL * 3600 * 1000; /* a day: large, yet safe to scale to micro- or nanoseconds */
    return (atomic_load(&st->rt->deadline_us) - uf_now_us()) / 1000;
}

void uf_stage_observe_flush(struct uf_stage *st, size_t rows, uint64_t bytes, uint64_t us)
{
    uf_histo_observe(&st->metrics.batch_rows, uf_histo_bounds_n, rows);
    uf_histo_observe(&st->metrics.flush_us, uf_histo_bounds_us, us);
    uf_metrics_add(&st->metrics.bytes, bytes);
}

static bool join_before(pthread_t t, int64_t deadline_us)
{
    struct timespec ts = uf_clock_after(CLOCK_REALTIME, deadline_us - uf_now_us());
    return pthread_timedjoin_np(t, NULL, &ts) == 0;
}

/* Stops one stage: sources stop emitting; buffered stages drain their queue, then flush. */
static bool stop_stage(struct uf_runtime *rt, struct uf_stage *st)
{
    bool ok = true;
    if (!st->started)
        return true;
    if (st->kind->role == UF_SOURCE && st->kind->stop)
        st->kind->stop(st, st->ctx);
    if (st->q) {
        uf_queue_close(st->q);
        for (int64_t i = 0; i < st->common.workers; i++)
            ok = join_before(st->threads[i], atomic_load(&rt->deadline_us)) && ok;
    }
    if (st->has_ticker) {
        atomic_store(&st->ticker_stop, true);
        pthread_join(st->ticker, NULL);
        st->has_ticker = false;
    }
    if (!ok) {
        /* A worker is still inside write(): stopping or freeing the kind under it would be a
         * use after free. The stage stays "started", and the process exits without teardown. */
        uf_log(UF_LOG_ERROR, st, "Shutdown deadline passed before the queue drained.");
        return false;
    }
    if (st->kind->role != UF_SOURCE && st->kind->stop)
        st->kind->stop(st, st->ctx);
    st->started = false;
    return true;
}

int uf_runtime_run(struct uf_runtime *rt)
{
    struct pollfd pfd = { .fd = rt->stop_pipe[0], .events = POLLIN };
    while (poll(&pfd, 1, -1) < 0 && errno == EINTR)
        ;
    atomic_store(&rt->deadline_us, uf_now_us() + rt->g->shutdown_timeout_ms * 1000);
    atomic_store(&rt->stopping, true);
    uf_log(UF_LOG_INFO, NULL, "Shutting down.");
    bool ok = true;
    for (size_t i = 0; i < rt->g->npipelines; i++) {
        struct uf_pipeline *pl = &rt->g->pipelines[i];
        for (size_t s = 0; s < pl->nstages; s++)
            if (pl->stages[s]->kind->role == UF_SOURCE)
                ok = stop_stage(rt, pl->stages[s]) && ok;
        for (size_t s = 0; s < pl->nstages; s++)
            if (pl->stages[s]->kind->role != UF_SOURCE)
                ok = stop_stage(rt, pl->stages[s]) && ok;
    }
    return ok ? 0 : UF_ETIMEOUT;
}

void uf_runtime_free(struct uf_runtime *rt)
{
    if (!rt)
        return;
    for (size_t i = 0; i < rt->g->npipelines; i++)
        for (size_t s = 0; s < rt->g->pipelines[i].nstages; s++) {
            struct uf_stage *st = rt->g->pipelines[i].stages[s];
            if (st->q && !st->started) {
                uf_queue_free(st->q);
                st->q = NULL;
            }
        }
    close(rt->stop_pipe[0]);
    close(rt->stop_pipe[1]);
    free(rt);
}

char *uf_runtime_metrics_text(struct uf_runtime *rt)
{
    size_t n = 0;
    for (size_t i = 0; i < rt->g->npipelines; i++)
        n += rt->g->pipelines[i].nstages;
    struct uf_metrics_src *srcs = uf_xcalloc(n + 1, sizeof *srcs);
    n = 0;
    for (size_t i = 0; i < rt->g->npipelines; i++)
        for (size_t s = 0; s < rt->g->pipelines[i].nstages; s++) {
            struct uf_stage *st = rt->g->pipelines[i].stages[s];
            if (st->q)
                atomic_store(&st->metrics.queue_depth, (int64_t)uf_queue_depth(st->q));
            srcs[n++] = (struct uf_metrics_src){ rt->g->pipelines[i].name, st->name, st->kind->name,
                                                 &st->metrics };
        }
    struct uf_strbuf sb = { 0 };
    uf_metrics_render(&sb, srcs, n);
    free(srcs);
    return uf_strbuf_take(&sb);
}
