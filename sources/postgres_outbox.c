/* sources/postgres_outbox.c: the `postgres_outbox` source, the outbox relay: publishes the rows
 * of a transactional outbox table in seq order and deletes each only once the sinks took its
 * event. One thread claims a batch by deleting it in an open transaction (FOR UPDATE SKIP
 * LOCKED), emits the events, and commits when every one was done, or rolls back when any failed
 * passingly or the acks are late. Refused events move to the dead-letter table. The thread
 * waits on LISTEN "<schema>.<table>" and polls. See docs/analytics.md. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "framework/clock.h"
#include "framework/event.h"
#include "framework/log.h"
#include "framework/mem.h"
#include "framework/metrics.h"
#include "framework/pg.h"
#include "framework/stage.h"
#include "framework/uuid.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define STATS_EVERY_US 1000000
#define DEPTH_CAP 10000000

struct ob_ctx {
    char *dsn, *schema, *table, *dead_table;
    int64_t batch_rows, linger_ms, poll_interval_ms, ack_timeout_ms, connect_timeout_ms;

    struct uf_stage *st;
    char *qtable, *qdead, *channel; /* quoted identifiers, built in init */
    char *claim_sql;
    PGconn *pg; /* the relay thread's */
    pthread_t thread;
    bool started;
    int wake[2]; /* stop() writes a byte to wake[1] */
    atomic_bool stop;
    int64_t next_stats_us;
    _Atomic int64_t *m_depth, *m_age, *m_published, *m_retried, *m_dead;
};

static const struct uf_option ob_options[] = {
    { .name = "dsn",
      .type = UF_OPT_STR,
      .flags = UF_OPT_REQUIRED | UF_OPT_SECRET,
      .desc = "libpq connection string or postgresql:// URI of the database holding the outbox",
      .offset = offsetof(struct ob_ctx, dsn) },
    { .name = "schema",
      .type = UF_OPT_STR,
      .def = "public",
      .desc = "Schema of the outbox tables (the UGC store's `schema`)",
      .offset = offsetof(struct ob_ctx, schema) },
    { .name = "table",
      .type = UF_OPT_STR,
      .def = "outbox",
      .desc = "Outbox table: seq, event_id, payload (json), created_at",
      .offset = offsetof(struct ob_ctx, table) },
    { .name = "dead_table",
      .type = UF_OPT_STR,
      .def = "outbox_dead",
      .desc = "Table that receives rows whose events a sink refused for good, with the reason",
      .offset = offsetof(struct ob_ctx, dead_table) },
    { .name = "batch_rows",
      .type = UF_OPT_INT,
      .def = "2000",
      .min = 1,
      .max = 100000,
      .desc = "Most rows claimed and published in one transaction",
      .offset = offsetof(struct ob_ctx, batch_rows) },
    { .name = "linger",
      .type = UF_OPT_DURATION,
      .def = "10ms",
      .min = 0,
      .max = 10000,
      .desc = "After a batch smaller than batch_rows, wait this long before claiming again, so "
              "that rows committed meanwhile share one claim",
      .offset = offsetof(struct ob_ctx, linger_ms) },
    { .name = "poll_interval",
      .type = UF_OPT_DURATION,
      .def = "1s",
      .min = 10,
      .max = 600000,
      .desc = "Longest sleep between looks at the table when no notification comes",
      .offset = offsetof(struct ob_ctx, poll_interval_ms) },
    { .name = "ack_timeout",
      .type = UF_OPT_DURATION,
      .def = "30s",
      .min = 100,
      .max = 600000,
      .desc = "How long a batch may wait for its events to be taken before it is rolled back",
      .offset = offsetof(struct ob_ctx, ack_timeout_ms) },
    { .name = "connect_timeout",
      .type = UF_OPT_DURATION,
      .def = "2s",
      .min = 1000,
      .max = 60000,
      .desc = "Time allowed to open the connection (whole seconds)",
      .offset = offsetof(struct ob_ctx, connect_timeout_ms) },
    { 0 }
};

static int ob_init(struct uf_stage *st, void *ctx, struct uf_err *err)
{
    struct ob_ctx *c = ctx;
    c->st = st;
    c->wake[0] = c->wake[1] = -1;
    const char *names[] = { c->schema, c->table, c->dead_table };
    for (size_t i = 0; i < 3; i++)
        if (!names[i][0] || strlen(names[i]) > 63)
            return uf_err_set(err, UF_EINVAL, "'%s': a name must be 1 to 63 characters", names[i]);
    char *qs = uf_pg_quote_ident(c->schema), *qt = uf_pg_quote_ident(c->table),
         *qd = uf_pg_quote_ident(c->dead_table);
    char *chan = uf_xasprintf("%s.%s", c->schema, c->table);
    c->qtable = uf_xasprintf("%s.%s", qs, qt);
    c->qdead = uf_xasprintf("%s.%s", qs, qd);
    c->channel = uf_pg_quote_ident(chan);
    /* = ANY(ARRAY(...)), not IN (...): with a backlog the planner would hash-join a scan of
     * the whole table to the claimed seqs; this way both sides are index lookups. Rows come
     * back from the claim in no set order: they are put in seq order before emitting. */
    c->claim_sql = uf_xasprintf(
        "DELETE FROM %s WHERE seq = ANY(ARRAY(SELECT seq FROM %s ORDER BY seq LIMIT %" PRId64
        " FOR UPDATE SKIP LOCKED)) RETURNING seq, event_id, payload::text",
        c->qtable, c->qtable, c->batch_rows);
    free(qs);
    free(qt);
    free(qd);
    free(chan);
    return 0;
}

/* ---- the connection ---- */

static void disconnect(struct ob_ctx *c)
{
    PQfinish(c->pg);
    c->pg = NULL;
}

static int connect_db(struct ob_ctx *c, struct uf_err *err)
{
    c->pg = uf_pg_connect(c->dsn, c->connect_timeout_ms, err);
    if (!c->pg)
        return UF_EIO;
    /* A lost commit of a delete only brings rows back, which are then published again with
     * their ids: no reason to wait for the WAL flush of every batch. */
    char *sql = uf_xasprintf("SET synchronous_commit = off; LISTEN %s", c->channel);
    int rc = uf_pg_exec(c->pg, sql, "listen", err);
    free(sql);
    PGresult *res = rc ? NULL : PQprepare(c->pg, "outbox_claim", c->claim_sql, 0, NULL);
    if (res && PQresultStatus(res) != PGRES_COMMAND_OK) {
        const char *m = PQresultErrorMessage(res);
        rc = uf_err_set(err, UF_EIO, "prepare the claim: %.*s", (int)strcspn(m, "\n"), m);
    }
    PQclear(res);
    if (rc)
        disconnect(c);
    return rc;
}

/* Takes the notifications already received; true when there was one. */
static bool drain_notifies(struct ob_ctx *c)
{
    PGnotify *n;
    bool notified = false;
    while (c->pg && (n = PQnotifies(c->pg))) {
        PQfreemem(n);
        notified = true;
    }
    return notified;
}

/* Sleeps until a notification, stop() or timeout_ms. */
static void wait_for_work(struct ob_ctx *c, int64_t timeout_ms)
{
    if (drain_notifies(c))
        return;
    struct pollfd pfd[2] = { { .fd = c->wake[0], .events = POLLIN },
                             { .fd = c->pg ? PQsocket(c->pg) : -1, .events = POLLIN } };
    /* A broken connection: the next statement notices and reconnects. */
    if (poll(pfd, 2, (int)timeout_ms) > 0 && (pfd[1].revents & POLLIN) && PQconsumeInput(c->pg))
        drain_notifies(c);
}

static void update_stats(struct ob_ctx *c)
{
    if (uf_now_us() < c->next_stats_us)
        return;
    c->next_stats_us = uf_now_us() + STATS_EVERY_US;
    int64_t depth = 0, age = 0;
    struct uf_err err = { 0 };
    if (uf_pg_outbox_depth(c->pg, c->qtable, DEPTH_CAP, &depth, &age, &err) == 0) {
        atomic_store(c->m_depth, depth);
        atomic_store(c->m_age, age);
    }
}

/* ---- one batch ---- */

/* One claimed row and what became of its event. */
struct slot {
    int64_t seq;
    const char *event_id, *payload; /* borrowed from the claim's result */
    int status;                     /* the event's completion status; 0 when none was set */
    bool failed;
    char reason[256];
    struct batch *b;
};

struct batch {
    struct slot *slots;
    size_t n;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* CLOCK_MONOTONIC */
    size_t pending;    /* events not finished yet */
    int refs;          /* the relay, plus one per pending completion; under mu */
};

static void batch_unref(struct batch *b)
{
    pthread_mutex_lock(&b->mu);
    bool last = --b->refs == 0;
    pthread_mutex_unlock(&b->mu);
    if (!last)
        return;
    pthread_cond_destroy(&b->cv);
    pthread_mutex_destroy(&b->mu);
    free(b->slots);
    free(b);
}

/* A slot's completion: runs once every copy of its event finished, on any thread. */
static void slot_done(struct uf_completion *comp, void *arg)
{
    struct slot *s = arg;
    struct batch *b = s->b;
    pthread_mutex_lock(&b->mu);
    s->status = uf_completion_status(comp);
    s->failed = uf_completion_count(comp, UF_OUTCOME_FAILED) > 0;
    json_t *e = json_object_get(uf_completion_body(comp), "error");
    const char *m = json_string_value(json_object_get(e, "message"));
    snprintf(s->reason, sizeof s->reason, "%s", m ? m : "failed");
    if (--b->pending == 0)
        pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
    batch_unref(b);
}

static int by_seq(const void *a, const void *b)
{
    int64_t x = ((const struct slot *)a)->seq, y = ((const struct slot *)b)->seq;
    return x < y ? -1 : x > y;
}

static struct batch *batch_new(const PGresult *res)
{
    struct batch *b = uf_xcalloc(1, sizeof *b);
    b->n = (size_t)PQntuples(res);
    b->slots = uf_xcalloc(b->n, sizeof *b->slots);
    for (size_t i = 0; i < b->n; i++)
        b->slots[i] = (struct slot){ .seq = strtoll(PQgetvalue(res, (int)i, 0), NULL, 10),
                                     .event_id = PQgetvalue(res, (int)i, 1),
                                     .payload = PQgetvalue(res, (int)i, 2),
                                     .b = b };
    qsort(b->slots, b->n, sizeof *b->slots, by_seq);
    pthread_mutex_init(&b->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&b->cv, &ca);
    pthread_condattr_destroy(&ca);
    b->refs = 1 + (int)b->n;
    b->pending = b->n;
    return b;
}

/* The event of a slot: its payload with the row's event_id and seq; NULL when the payload is
 * not a JSON object (then failed for good). */
static struct uf_event *slot_event(struct ob_ctx *c, struct slot *s)
{
    json_t *body = json_loads(s->payload, 0, NULL);
    if (!json_is_object(body)) {
        json_decref(body);
        return NULL;
    }
    json_object_set_new(body, "event_id", json_string(s->event_id));
    json_object_set_new(body, "seq", json_integer(s->seq));
    struct uf_event *ev = uf_event_new(body);
    uint8_t id[16];
    if (uf_uuid_parse(s->event_id, id))
        uf_event_set_id(ev, id);
    uf_event_set_source(ev, uf_stage_name(c->st));
    uf_event_set_user(ev, json_string_value(json_object_get(body, "user_id")));
    return ev;
}

static void emit_all(struct ob_ctx *c, struct batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        struct slot *s = &b->slots[i];
        struct uf_completion *comp = uf_completion_new(slot_done, s);
        struct uf_event *ev = slot_event(c, s);
        if (!ev) {
            uf_completion_release(comp); /* runs slot_done: neither done nor failed */
            s->failed = true;
            s->status = 422;
            snprintf(s->reason, sizeof s->reason, "payload is not a JSON object");
            continue;
        }
        uf_completion_attach(comp, ev);
        uf_completion_release(comp); /* the event holds it now */
        uf_emit(c->st, ev);
    }
}

/* Waits until every event finished; false when ack_timeout (or, stopping, the shutdown deadline
 * less the time the components after it need to drain) came first. */
static bool wait_batch(struct ob_ctx *c, struct batch *b)
{
    int64_t limit_us = uf_now_us() + c->ack_timeout_ms * 1000;
    pthread_mutex_lock(&b->mu);
    while (b->pending > 0) {
        int64_t left = limit_us - uf_now_us();
        /* Stopping: the components after this one need the end of the deadline to drain. */
        int64_t until_deadline = (uf_stage_deadline_ms(c->st) - 250) * 1000;
        if (atomic_load(&c->stop) && until_deadline < left)
            left = until_deadline;
        if (left <= 0)
            break;
        struct timespec ts = uf_clock_after(CLOCK_MONOTONIC, left < 100000 ? left : 100000);
        pthread_cond_timedwait(&b->cv, &b->mu, &ts);
    }
    bool all = b->pending == 0;
    pthread_mutex_unlock(&b->mu);
    return all;
}

static void count_failures(const struct batch *b, bool *retry, size_t *dead)
{
    for (size_t i = 0; i < b->n; i++) {
        const struct slot *s = &b->slots[i];
        if (s->failed && s->status >= 400 && s->status < 500)
            (*dead)++;
        else if (s->failed)
            *retry = true; /* a passing failure (5xx): the whole batch comes back */
    }
}

/* Moves the rows whose events were refused for good (4xx) to the dead-letter table, inside the
 * batch's transaction: they are deleted from the outbox only together with that insert. */
static int bury(struct ob_ctx *c, const struct batch *b, struct uf_err *err)
{
    char *sql = uf_xasprintf("INSERT INTO %s (seq, event_id, payload, reason)"
                             " VALUES ($1::bigint, $2::uuid, $3::json, $4)",
                             c->qdead);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < b->n; i++) {
        const struct slot *s = &b->slots[i];
        if (!s->failed || s->status < 400 || s->status >= 500)
            continue;
        char seq[24];
        snprintf(seq, sizeof seq, "%" PRId64, s->seq);
        const char *params[4] = { seq, s->event_id, s->payload, s->reason };
        PGresult *res = PQexecParams(c->pg, sql, 4, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
            rc = uf_err_set(err, UF_EIO, "dead letter: %s", PQresultErrorMessage(res));
        PQclear(res);
        uf_log_limited(UF_LOG_ERROR, c->st, "Event refused for good; moved to the dead letters.",
                       "event_id", s->event_id, "reason", s->reason);
    }
    free(sql);
    return rc;
}

/* Commits the batch (its rows stay deleted) or rolls it back (they come back to be published
 * again, with the same ids). Returns 0 when committed. */
static int settle(struct ob_ctx *c, const struct batch *b, bool all_finished)
{
    bool retry = !all_finished;
    size_t dead = 0;
    count_failures(b, &retry, &dead);
    struct uf_err err = { 0 };
    if (!retry && dead && bury(c, b, &err) != 0)
        retry = true;
    if (!retry && uf_pg_exec(c->pg, "COMMIT", "commit", &err) == 0) {
        atomic_fetch_add(c->m_published, (int64_t)(b->n - dead));
        atomic_fetch_add(c->m_dead, (int64_t)dead);
        return 0;
    }
    uf_pg_exec(c->pg, "ROLLBACK", "rollback", NULL);
    atomic_fetch_add(c->m_retried, 1);
    uf_metrics_add(&uf_stage_metrics(c->st)->retries, b->n);
    uf_log_limited(UF_LOG_WARN, c->st, "Batch not published; it will be sent again.", "err",
                   err.code       ? err.msg
                   : all_finished ? "a sink could not take every event"
                                  : "the events were not taken within ack_timeout");
    return UF_EIO;
}

/* Claims, publishes and settles one batch. Returns the rows claimed, or -1 on a failure. */
static int run_batch(struct ob_ctx *c)
{
    if (uf_pg_exec(c->pg, "BEGIN", "begin", NULL) != 0)
        return -1;
    PGresult *res = PQexecPrepared(c->pg, "outbox_claim", 0, NULL, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        const char *m = PQresultErrorMessage(res);
        char first[256];
        snprintf(first, sizeof first, "%.*s", (int)strcspn(m, "\n"), m);
        uf_log_limited(UF_LOG_WARN, c->st, "Outbox not readable.", "err", first);
        PQclear(res);
        uf_pg_exec(c->pg, "ROLLBACK", "rollback", NULL);
        return -1;
    }
    int n = PQntuples(res);
    int rc = n;
    if (n == 0) {
        if (uf_pg_exec(c->pg, "COMMIT", "commit", NULL) != 0)
            rc = -1;
    } else {
        struct batch *b = batch_new(res);
        emit_all(c, b);
        if (settle(c, b, wait_batch(c, b)) != 0)
            rc = -1;
        batch_unref(b);
    }
    PQclear(res);
    return rc;
}

/* ---- the relay thread ---- */

static void pause_ms(struct ob_ctx *c, int64_t ms)
{
    struct pollfd pfd = { .fd = c->wake[0], .events = POLLIN };
    poll(&pfd, 1, (int)ms);
}

static int64_t next_backoff(int64_t backoff)
{
    if (!backoff)
        return BACKOFF_MIN_MS;
    return backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
}

static void *relay_main(void *arg)
{
    struct ob_ctx *c = arg;
    int64_t backoff = 0;
    while (!atomic_load(&c->stop)) {
        struct uf_err err = { 0 };
        if (!c->pg && connect_db(c, &err) != 0) {
            uf_log_limited(UF_LOG_WARN, c->st, "PostgreSQL unavailable.", "err", err.msg);
            pause_ms(c, backoff = next_backoff(backoff));
            continue;
        }
        int n = run_batch(c);
        if (n < 0) {
            if (PQstatus(c->pg) != CONNECTION_OK)
                disconnect(c);
            pause_ms(c, backoff = next_backoff(backoff));
            continue;
        }
        backoff = 0;
        update_stats(c);
        if (n == 0) {
            wait_for_work(c, c->poll_interval_ms);
        } else if (n < c->batch_rows && c->linger_ms > 0) {
            /* Rows keep coming: claim them together in a moment rather than one by one,
             * and take the notifications that announced them meanwhile. */
            pause_ms(c, c->linger_ms);
            if (c->pg && PQconsumeInput(c->pg))
                drain_notifies(c);
        }
    }
    disconnect(c);
    return NULL;
}

/* ---- lifecycle ---- */

static void register_metrics(struct ob_ctx *c)
{
    struct uf_metrics *m = uf_stage_metrics(c->st);
    c->m_depth = uf_metrics_extra(m, UF_METRIC_GAUGE, "outbox_depth", "Rows waiting in the outbox",
                                  NULL, NULL);
    c->m_age = uf_metrics_extra(m, UF_METRIC_GAUGE, "outbox_oldest_age_ms",
                                "Age of the oldest row waiting in the outbox", NULL, NULL);
    c->m_published = uf_metrics_extra(m, UF_METRIC_COUNTER, "outbox_published_events_total",
                                      "Outbox rows published and deleted", NULL, NULL);
    c->m_retried = uf_metrics_extra(m, UF_METRIC_COUNTER, "outbox_retried_batches_total",
                                    "Batches rolled back to be published again", NULL, NULL);
    c->m_dead = uf_metrics_extra(m, UF_METRIC_COUNTER, "outbox_dead_letters_total",
                                 "Rows moved to the dead-letter table", NULL, NULL);
}

static int ob_start(struct uf_stage *st, void *ctx, struct uf_err *err)
{
    struct ob_ctx *c = ctx;
    register_metrics(c);
    if (pipe(c->wake) != 0)
        return uf_err_set(err, UF_EIO, "pipe: %s", strerror(errno));
    if (pthread_create(&c->thread, NULL, relay_main, c) != 0)
        return uf_err_set(err, UF_EIO, "start relay thread: %s", strerror(errno));
    c->started = true;
    uf_log(UF_LOG_INFO, st, "Relay started.", "table", c->qtable);
    return 0;
}

/* The thread finishes the batch in flight (its acks may come until the shutdown deadline;
 * otherwise it is rolled back and published again after a restart). */
static void ob_stop(struct uf_stage *st, void *ctx)
{
    struct ob_ctx *c = ctx;
    if (!c->started)
        return;
    atomic_store(&c->stop, true);
    if (write(c->wake[1], "x", 1) < 0)
        uf_log(UF_LOG_WARN, st, "Could not wake the relay thread.");
    pthread_join(c->thread, NULL);
    c->started = false;
}

static void ob_destroy(void *ctx)
{
    struct ob_ctx *c = ctx;
    for (int i = 0; i < 2; i++)
        if (c->wake[i] >= 0)
            close(c->wake[i]);
    free(c->qtable);
    free(c->qdead);
    free(c->channel);
    free(c->claim_sql);
}

const struct uf_kind uf_source_postgres_outbox = {
    .name = "postgres_outbox",
    .role = UF_SOURCE,
    .summary = "Relay a PostgreSQL transactional outbox: publish rows in order, delete after ack",
    .options = ob_options,
    .ctx_size = sizeof(struct ob_ctx),
    .init = ob_init,
    .start = ob_start,
    .stop = ob_stop,
    .destroy = ob_destroy,
};
