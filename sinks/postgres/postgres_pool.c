/* postgres_pool.c: connection threads running calls in libpq pipeline mode
 * (see the header). Threads: one per connection; the queue is shared and
 * guarded by `lock`. A connection is only touched by its own thread.
 * Connections stay in blocking mode: a batch is at most a few KiB of requests,
 * far below the socket buffers, so sending it whole cannot deadlock against the
 * server's replies; reads poll the socket against the call deadline. Does not
 * interpret rows: the finish callback gets the operation's columns as text. */
#include "sinks/postgres/postgres_pool.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "framework/clock.h"
#include "framework/log.h"
#include "framework/mem.h"
#include "framework/metrics.h"
#include "framework/pg.h"
#include "framework/stage.h"

#define PIPELINE_HARD_MAX 1024
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000

struct conn {
    struct uf_pg_pool *pool;
    PGconn *pg;
    pthread_t thread;
    bool started;
};

struct uf_pg_pool {
    struct uf_pg_pool_cfg cfg;
    pthread_mutex_t lock;
    pthread_cond_t cond; /* work queued, stop asked, or a batch finished */
    struct uf_pg_call *head, *tail;
    size_t pending, inflight; /* under lock */
    bool stopping;            /* under lock */
    atomic_int nup;           /* connections ready */
    atomic_bool down;         /* the last connect failed while none was up */
    struct conn *conns;
    _Atomic int64_t *m_up, *m_lost, *m_unavailable, *m_round_trips;
};

/* ---- finishing ---- */

static void fail(struct uf_pg_pool *p, struct uf_pg_call *call, int status, const char *code,
                 const char *msg)
{
    struct uf_pg_failure f = { .status = status, .code = code };
    snprintf(f.msg, sizeof f.msg, "%s", msg);
    if (status == 503)
        atomic_fetch_add_explicit(p->m_unavailable, 1, memory_order_relaxed);
    p->cfg.finish(p->cfg.arg, call, NULL, 0, &f);
}

static void fail_list(struct uf_pg_pool *p, struct uf_pg_call *head, int status, const char *code,
                      const char *msg)
{
    while (head) {
        struct uf_pg_call *next = head->next;
        fail(p, head, status, code, msg);
        head = next;
    }
}

/* Takes every queued call out of the queue (for failing them outside the lock).
 */
static struct uf_pg_call *take_all(struct uf_pg_pool *p)
{
    pthread_mutex_lock(&p->lock);
    struct uf_pg_call *all = p->head;
    p->head = p->tail = NULL;
    p->pending = 0;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    return all;
}

/* ---- connections ---- */

static int setup(struct uf_pg_pool *p, PGconn *pg, struct uf_err *err)
{
    char *sql = uf_xasprintf("SET search_path TO %s; SET statement_timeout = %lld",
                             p->cfg.quoted_schema, (long long)p->cfg.statement_timeout_ms);
    PGresult *res = PQexec(pg, sql);
    free(sql);
    int rc = PQresultStatus(res) == PGRES_COMMAND_OK
                 ? 0
                 : uf_err_set(err, UF_EIO, "session settings: %s", PQresultErrorMessage(res));
    PQclear(res);
    for (size_t i = 0; rc == 0 && i < p->cfg.ops->n; i++) {
        const struct uf_pg_op *op = &p->cfg.ops->v[i];
        if (!op->sql)
            continue;
        res = PQprepare(pg, op->stmt_name, op->sql, 0, NULL);
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
            rc = uf_err_set(err, UF_EIO, "prepare %s: %s", op->name, PQresultErrorMessage(res));
        PQclear(res);
    }
    if (rc == 0 && p->cfg.notify_channel) {
        /* Its own transaction, after the writes', and one that need not wait for a WAL
         * flush: NOTIFY inside a write would hold the database-wide notify lock through that
         * write's commit, so no two writes could share a flush (group commit). */
        res = PQprepare(pg, "ugc_outbox_notify_v1",
                        "SELECT set_config('synchronous_commit', 'off', true), pg_notify($1, '')",
                        0, NULL);
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
            rc = uf_err_set(err, UF_EIO, "prepare notify: %s", PQresultErrorMessage(res));
        PQclear(res);
    }
    if (rc == 0 && PQenterPipelineMode(pg) != 1)
        rc = uf_err_set(err, UF_EIO, "enter pipeline mode: %s", PQerrorMessage(pg));
    return rc;
}

static int open_conn(struct conn *c)
{
    struct uf_pg_pool *p = c->pool;
    struct uf_err err = { 0 };
    PGconn *pg = uf_pg_connect(p->cfg.dsn, p->cfg.connect_timeout_ms, &err);
    if (pg && setup(p, pg, &err) == 0) {
        c->pg = pg;
        atomic_fetch_add(&p->nup, 1);
        atomic_store(&p->down, false);
        atomic_store_explicit(p->m_up, atomic_load(&p->nup), memory_order_relaxed);
        uf_log(UF_LOG_INFO, p->cfg.st, "Connected to PostgreSQL.");
        return 0;
    }
    PQfinish(pg);
    uf_log_limited(UF_LOG_WARN, p->cfg.st, "PostgreSQL unavailable.", "err", err.msg);
    if (atomic_load(&p->nup) == 0) {
        /* Nothing can serve queued calls: answer them now rather than after the
         * backoff. */
        atomic_store(&p->down, true);
        fail_list(p, take_all(p), 503, "store_unavailable", "the UGC store is unavailable");
    }
    return -1;
}

static void close_conn(struct conn *c, bool lost)
{
    if (!c->pg)
        return;
    PQfinish(c->pg);
    c->pg = NULL;
    atomic_fetch_sub(&c->pool->nup, 1);
    atomic_store_explicit(c->pool->m_up, atomic_load(&c->pool->nup), memory_order_relaxed);
    if (lost)
        atomic_fetch_add_explicit(c->pool->m_lost, 1, memory_order_relaxed);
}

/* ---- one batch ---- */

enum read_rc { READ_OK, READ_TIMEOUT, READ_BROKEN };

/* The next result, waiting on the socket until deadline_us. */
static enum read_rc next_result(PGconn *pg, int64_t deadline_us, PGresult **out)
{
    while (PQisBusy(pg)) {
        int64_t left = (deadline_us - uf_now_us()) / 1000;
        if (left <= 0)
            return READ_TIMEOUT;
        struct pollfd pfd = { .fd = PQsocket(pg), .events = POLLIN };
        int n = poll(&pfd, 1, left > 1000 ? 1000 : (int)left);
        if (n < 0 && errno != EINTR)
            return READ_BROKEN;
        if (n > 0 && !PQconsumeInput(pg))
            return READ_BROKEN;
    }
    *out = PQgetResult(pg);
    return PQstatus(pg) == CONNECTION_BAD ? READ_BROKEN : READ_OK;
}

static const char *cell(const PGresult *res, int row, int col)
{
    return col >= 0 && !PQgetisnull(res, row, col) ? PQgetvalue(res, row, col) : NULL;
}

/* Hands the rows' columns to the finish callback as they are: no copy, no parse (the reply
 * column is JSON PostgreSQL built, see postgres_call.h). */
static void finish_rows(struct uf_pg_pool *p, struct uf_pg_call *call, const PGresult *res)
{
    struct uf_pg_row few[128];
    const struct uf_pg_op *op = call->op;
    size_t n = (size_t)PQntuples(res);
    struct uf_pg_row *rows = n <= sizeof few / sizeof few[0] ? few : uf_xcalloc(n, sizeof *rows);
    for (int i = 0; i < (int)n; i++) {
        struct uf_pg_row *r = &rows[i];
        *r = (struct uf_pg_row){ .text = cell(res, i, op->col_reply),
                                 .event_id = cell(res, i, op->col_event),
                                 .status = cell(res, i, op->col_status) };
        r->len = r->text ? (size_t)PQgetlength(res, i, op->col_reply) : 0;
        for (size_t k = 0; k < op->list.nkeys; k++)
            r->keys[k] = cell(res, i, op->list.keys[k].col);
    }
    p->cfg.finish(p->cfg.arg, call, rows, n, NULL);
    if (rows != few)
        free(rows);
}

/* The single place where PostgreSQL errors become HTTP statuses. */
static void pg_classify(const PGresult *res, struct uf_pg_failure *f)
{
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char *m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    snprintf(f->msg, sizeof f->msg, "%s", m ? m : "statement failed");
    state = state ? state : "XX000";
    if (strncmp(state, "08", 2) == 0 || strncmp(state, "53", 2) == 0 ||
        strncmp(state, "57P", 3) == 0 || strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0)
        *f = (struct uf_pg_failure){ 503, "store_unavailable", "the UGC store is unavailable" };
    else if (strcmp(state, "57014") == 0)
        *f = (struct uf_pg_failure){ 504, "store_timeout", "the UGC store did not answer in time" };
    else if (strncmp(state, "23", 2) == 0)
        f->status = 409, f->code = "conflict";
    else if (strncmp(state, "22", 2) == 0)
        f->status = 400, f->code = "bad_request";
    else
        f->status = 500, f->code = "store_error";
}

/* Reads one call's results: its statement's result, the NULL that ends it, then
 * the sync. */
static enum read_rc read_call(struct uf_pg_pool *p, PGconn *pg, struct uf_pg_call *call,
                              int64_t deadline_us)
{
    PGresult *res = NULL, *end = NULL, *sync = NULL;
    enum read_rc rc = next_result(pg, deadline_us, &res);
    if (rc == READ_OK && PQresultStatus(res) != PGRES_PIPELINE_ABORTED)
        rc = next_result(pg, deadline_us, &end);
    if (rc == READ_OK)
        rc = next_result(pg, deadline_us, &sync);
    if (rc == READ_OK && PQresultStatus(sync) != PGRES_PIPELINE_SYNC)
        rc = READ_BROKEN;
    if (rc == READ_OK) {
        struct uf_pg_failure f = { 0 };
        if (PQresultStatus(res) == PGRES_TUPLES_OK) {
            finish_rows(p, call, res);
        } else {
            pg_classify(res, &f);
            if (f.status == 503)
                atomic_fetch_add_explicit(p->m_unavailable, 1, memory_order_relaxed);
            p->cfg.finish(p->cfg.arg, call, NULL, 0, &f);
        }
    }
    PQclear(res);
    PQclear(end);
    PQclear(sync);
    return rc;
}

/* Sends the calls, each closed by its sync, then, when one of them writes, the outbox
 * notification (*notified). */
static bool send_batch(const struct uf_pg_pool *p, PGconn *pg, struct uf_pg_call **batch, size_t n,
                       bool *notified)
{
    bool writes = false;
    for (size_t i = 0; i < n; i++) {
        const struct uf_pg_call *call = batch[i];
        writes = writes || call->op->writes;
        if (!PQsendQueryPrepared(pg, call->op->stmt_name, call->nparams,
                                 (const char *const *)call->params, NULL, NULL, 0) ||
            !PQpipelineSync(pg))
            return false;
    }
    *notified = writes && p->cfg.notify_channel;
    const char *channel[1] = { p->cfg.notify_channel };
    if (*notified && (!PQsendQueryPrepared(pg, "ugc_outbox_notify_v1", 1, channel, NULL, NULL, 0) ||
                      !PQpipelineSync(pg)))
        return false;
    return PQflush(pg) == 0;
}

/* Reads the notification's result, its end and its sync; a failed one only costs the relay
 * its prompt wake-up (it also polls). */
static enum read_rc read_notify(PGconn *pg, int64_t deadline_us)
{
    PGresult *res = NULL, *end = NULL, *sync = NULL;
    enum read_rc rc = next_result(pg, deadline_us, &res);
    if (rc == READ_OK && PQresultStatus(res) != PGRES_PIPELINE_ABORTED)
        rc = next_result(pg, deadline_us, &end);
    if (rc == READ_OK)
        rc = next_result(pg, deadline_us, &sync);
    if (rc == READ_OK && PQresultStatus(sync) != PGRES_PIPELINE_SYNC)
        rc = READ_BROKEN;
    PQclear(res);
    PQclear(end);
    PQclear(sync);
    return rc;
}

static void batch_done(struct uf_pg_pool *p, size_t n)
{
    pthread_mutex_lock(&p->lock);
    p->inflight -= n;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

static void run_batch(struct conn *c, struct uf_pg_call **batch, size_t n)
{
    struct uf_pg_pool *p = c->pool;
    int64_t deadline = uf_now_us() + (p->cfg.statement_timeout_ms + 1000) * 1000;
    size_t i = 0;
    bool notified = false;
    enum read_rc rc = send_batch(p, c->pg, batch, n, &notified) ? READ_OK : READ_BROKEN;
    atomic_fetch_add_explicit(p->m_round_trips, 1, memory_order_relaxed);
    /* i advances only past calls that read_call finished: the failed one is failed below. */
    while (rc == READ_OK && i < n && (rc = read_call(p, c->pg, batch[i], deadline)) == READ_OK)
        i++;
    if (rc == READ_OK && notified)
        rc = read_notify(c->pg, deadline);
    if (rc != READ_OK) {
        uf_log_limited(UF_LOG_WARN, p->cfg.st, "PostgreSQL connection lost.", "err",
                       rc == READ_TIMEOUT ? "no answer before the deadline"
                                          : PQerrorMessage(c->pg));
        for (; i < n; i++) {
            if (rc == READ_TIMEOUT)
                fail(p, batch[i], 504, "store_timeout", "the UGC store did not answer in time");
            else
                fail(p, batch[i], 503, "store_unavailable", "the UGC store is unavailable");
        }
        close_conn(c, true);
    }
    batch_done(p, n);
}

/* ---- threads and queue ---- */

/* Up to max calls, waiting up to wait_ms for the first. Returns 0 on timeout or
 * stop. */
static size_t take(struct uf_pg_pool *p, struct uf_pg_call **out, size_t max, int64_t wait_ms)
{
    struct timespec ts = uf_clock_after(CLOCK_REALTIME, wait_ms * 1000);
    pthread_mutex_lock(&p->lock);
    while (!p->head && !p->stopping) {
        if (pthread_cond_timedwait(&p->cond, &p->lock, &ts) == ETIMEDOUT)
            break;
    }
    size_t n = 0;
    while (p->head && n < max) {
        out[n++] = p->head;
        p->head = p->head->next;
    }
    if (!p->head)
        p->tail = NULL;
    p->pending -= n;
    p->inflight += n;
    pthread_mutex_unlock(&p->lock);
    return n;
}

static bool is_stopping(struct uf_pg_pool *p)
{
    pthread_mutex_lock(&p->lock);
    bool s = p->stopping;
    pthread_mutex_unlock(&p->lock);
    return s;
}

/* The reconnect backoff. Submits and finished batches signal `cond`; they must not cut it
 * short (a lost connection would be retried at the request rate). */
static void wait_ms(struct uf_pg_pool *p, int64_t ms)
{
    struct timespec ts = uf_clock_after(CLOCK_REALTIME, ms * 1000);
    pthread_mutex_lock(&p->lock);
    uf_cond_sleep_until(&p->cond, &p->lock, &p->stopping, &ts);
    pthread_mutex_unlock(&p->lock);
}

/* Notices a connection the server closed while idle (restart, admin shutdown)
 * before a call is sent on it. */
static void check_idle(struct conn *c)
{
    if (c->pg && (!PQconsumeInput(c->pg) || PQstatus(c->pg) == CONNECTION_BAD)) {
        uf_log_limited(UF_LOG_WARN, c->pool->cfg.st, "PostgreSQL connection lost.", "err",
                       PQerrorMessage(c->pg));
        close_conn(c, true);
    }
}

static void *conn_main(void *arg)
{
    struct conn *c = arg;
    struct uf_pg_pool *p = c->pool;
    struct uf_pg_call *batch[PIPELINE_HARD_MAX];
    int64_t backoff = 0;
    while (!is_stopping(p)) {
        if (!c->pg && open_conn(c) != 0) {
            backoff = backoff ? (backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2)
                              : BACKOFF_MIN_MS;
            wait_ms(p, backoff);
            continue;
        }
        backoff = 0;
        size_t n = take(p, batch, (size_t)p->cfg.pipeline_max, 200);
        check_idle(c);
        if (n == 0)
            continue;
        if (!c->pg && open_conn(c) != 0) {
            for (size_t i = 0; i < n; i++)
                fail(p, batch[i], 503, "store_unavailable", "the UGC store is unavailable");
            batch_done(p, n);
            continue;
        }
        run_batch(c, batch, n);
    }
    close_conn(c, false);
    return NULL;
}

/* ---- public ---- */

struct uf_pg_pool *uf_pg_pool_new(const struct uf_pg_pool_cfg *cfg, struct uf_err *err)
{
    struct uf_pg_pool *p = uf_xcalloc(1, sizeof *p);
    p->cfg = *cfg;
    if (p->cfg.pipeline_max > PIPELINE_HARD_MAX)
        p->cfg.pipeline_max = PIPELINE_HARD_MAX;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    struct uf_metrics *m = uf_stage_metrics(cfg->st);
    p->m_up = uf_metrics_extra(m, UF_METRIC_GAUGE, "pg_connections_up",
                               "PostgreSQL connections ready", NULL, NULL);
    p->m_lost = uf_metrics_extra(m, UF_METRIC_COUNTER, "pg_connections_lost_total",
                                 "PostgreSQL connections lost or timed out", NULL, NULL);
    p->m_unavailable =
        uf_metrics_extra(m, UF_METRIC_COUNTER, "pg_unavailable_total",
                         "Requests answered 503 because PostgreSQL was unavailable", NULL, NULL);
    p->m_round_trips = uf_metrics_extra(m, UF_METRIC_COUNTER, "pg_round_trips_total",
                                        "Pipelined batches sent to PostgreSQL", NULL, NULL);
    p->conns = uf_xcalloc((size_t)cfg->size, sizeof *p->conns);
    for (int64_t i = 0; i < cfg->size; i++) {
        p->conns[i].pool = p;
        if (pthread_create(&p->conns[i].thread, NULL, conn_main, &p->conns[i]) != 0) {
            uf_err_set(err, UF_EIO, "start connection thread: %s", strerror(errno));
            uf_pg_pool_free(p);
            return NULL;
        }
        p->conns[i].started = true;
    }
    return p;
}

void uf_pg_pool_submit(struct uf_pg_pool *p, struct uf_pg_call *call)
{
    if (atomic_load(&p->down) && atomic_load(&p->nup) == 0) {
        fail(p, call, 503, "store_unavailable", "the UGC store is unavailable");
        return;
    }
    call->next = NULL;
    pthread_mutex_lock(&p->lock);
    bool ok = !p->stopping && p->pending < (size_t)p->cfg.max_pending;
    if (ok) {
        if (p->tail)
            p->tail->next = call;
        else
            p->head = call;
        p->tail = call;
        p->pending++;
        pthread_cond_signal(&p->cond);
    }
    bool stopping = p->stopping;
    pthread_mutex_unlock(&p->lock);
    if (!ok)
        fail(p, call, 503, stopping ? "shutting_down" : "overloaded",
             stopping ? "the service is shutting down" : "too many requests queued for the store");
}

int uf_pg_pool_drain(struct uf_pg_pool *p, int64_t timeout_ms)
{
    struct timespec ts = uf_clock_after(CLOCK_REALTIME, timeout_ms * 1000);
    pthread_mutex_lock(&p->lock);
    int rc = 0;
    while ((p->pending || p->inflight) && rc == 0)
        rc = pthread_cond_timedwait(&p->cond, &p->lock, &ts);
    bool drained = !p->pending && !p->inflight;
    pthread_mutex_unlock(&p->lock);
    return drained ? 0 : UF_ETIMEOUT;
}

void uf_pg_pool_free(struct uf_pg_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stopping = true;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    for (int64_t i = 0; i < p->cfg.size; i++) {
        if (p->conns[i].started)
            pthread_join(p->conns[i].thread, NULL);
    }
    fail_list(p, take_all(p), 503, "shutting_down", "the service is shutting down");
    free(p->conns);
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
    free(p);
}
