/* postgres.c: the `postgres` sink: answers requests from PostgreSQL through the operations its
 * `operations` option declares (postgres_op.h, docs/postgres.md): a request event becomes one
 * prepared statement run by the pipelined pool (postgres_pool.h), and its rows become the reply;
 * the event is finished only once PostgreSQL answered, so a client never sees a success that was
 * not stored. PostgreSQL unavailable: 503 (the http source adds Retry-After), nothing retried
 * behind the client's back. Ownership: write() hands every event to the pool and returns UF_OK;
 * the pool's threads finish them. start() migrates the schema and prepares every statement
 * once, so SQL that PostgreSQL rejects stops the start with its position. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framework/event.h"
#include "framework/log.h"
#include "framework/mem.h"
#include "framework/metrics.h"
#include "framework/options.h"
#include "framework/pg_migrate.h"
#include "framework/stage.h"
#include "sinks/postgres/postgres_call.h"
#include "sinks/postgres/postgres_op.h"
#include "sinks/postgres/postgres_pool.h"
#include "sinks/postgres/postgres_prepare.h"

struct pg_ctx {
    char *dsn;
    char *schema;
    char *migrations_dir;
    int64_t pool_size, pipeline_max, max_pending, statement_timeout_ms, connect_timeout_ms;
    bool notify_outbox;
    json_t *operations_opt; /* read from the config tree instead, for positions */

    struct uf_stage *st;
    struct uf_pg_ops ops; /* ours */
    struct uf_pg_migrations migrations;
    char *quoted_schema; /* ours */
    char *quoted_outbox;
    char *channel; /* "<schema>.outbox", or NULL */
    struct uf_pg_pool *pool;
    PGconn *stats_pg; /* the ticker's, for the outbox gauges; opened on first use */
    int64_t next_stats_us;
    _Atomic int64_t *m_depth, *m_age;
    _Atomic int64_t *m_up; /* the pool's gauge of connections ready: what readiness reads */
};

static const struct uf_option pg_options[] = {
    { .name = "dsn",
      .type = UF_OPT_STR,
      .flags = UF_OPT_REQUIRED | UF_OPT_SECRET,
      .desc = "libpq connection string or postgresql:// URI",
      .offset = offsetof(struct pg_ctx, dsn) },
    { .name = "schema",
      .type = UF_OPT_STR,
      .def = "public",
      .desc = "PostgreSQL schema of the operations' tables (the search_path); created and "
              "migrated at start",
      .offset = offsetof(struct pg_ctx, schema) },
    { .name = "migrations",
      .type = UF_OPT_STR,
      .desc = "Folder of the schema's NNNN_name.sql migrations (relative to the config file), "
              "applied at start; unset: none",
      .offset = offsetof(struct pg_ctx, migrations_dir) },
    { .name = "pool_size",
      .type = UF_OPT_INT,
      .def = "4",
      .min = 1,
      .max = 64,
      .desc = "Connections to PostgreSQL, one thread each",
      .offset = offsetof(struct pg_ctx, pool_size) },
    { .name = "pipeline_max",
      .type = UF_OPT_INT,
      .def = "64",
      .min = 1,
      .max = 1024,
      .desc = "Most requests sent on one connection in one round trip (pipeline "
              "mode)",
      .offset = offsetof(struct pg_ctx, pipeline_max) },
    { .name = "max_pending",
      .type = UF_OPT_INT,
      .def = "10000",
      .min = 1,
      .max = 1000000,
      .desc = "Requests queued for the pool beyond which new ones get 503 "
              "overloaded",
      .offset = offsetof(struct pg_ctx, max_pending) },
    { .name = "statement_timeout",
      .type = UF_OPT_DURATION,
      .def = "2s",
      .min = 10,
      .max = 600000,
      .desc = "PostgreSQL statement_timeout; a request waiting a second longer "
              "gets 504",
      .offset = offsetof(struct pg_ctx, statement_timeout_ms) },
    { .name = "notify_outbox",
      .type = UF_OPT_BOOL,
      .def = "true",
      .desc = "NOTIFY \"<schema>.outbox\" after each round trip with a write, so the outbox "
              "relay wakes at once",
      .offset = offsetof(struct pg_ctx, notify_outbox) },
    { .name = "operations",
      .type = UF_OPT_MAP,
      .desc = "Per route name, the statement that answers it (sql or sql_file, named :params "
              "bound from event paths), its reply (status, not_found, errors, list) or a switch; "
              "see docs/postgres.md",
      .offset = offsetof(struct pg_ctx, operations_opt) },
    { .name = "connect_timeout",
      .type = UF_OPT_DURATION,
      .def = "2s",
      .min = 1000,
      .max = 60000,
      .desc = "Time allowed to open one connection (whole seconds)",
      .offset = offsetof(struct pg_ctx, connect_timeout_ms) },
    { 0 },
};

static int pg_init(struct uf_stage *st, void *ctx, struct uf_err *err)
{
    struct pg_ctx *c = ctx;
    c->st = st;
    if (!c->schema[0] || strlen(c->schema) > 63)
        return uf_err_set(err, UF_EINVAL, "schema: must be 1 to 63 characters");
    int bad = uf_pg_migrations_option(st, "migrations", c->migrations_dir, &c->migrations);
    if (uf_pg_ops_parse(st, uf_stage_option_node(st, "operations"), &c->ops) != 0 || bad)
        return uf_err_set(err, UF_EINVAL, "%s", "");
    c->quoted_schema = uf_pg_quote_ident(c->schema);
    c->quoted_outbox = uf_xasprintf("%s.outbox", c->quoted_schema);
    if (c->notify_outbox)
        c->channel = uf_xasprintf("%s.outbox", c->schema);
    return 0;
}

/* ---- finishing requests (pool threads) ---- */

static void pg_finish(void *arg, struct uf_pg_call *call, const struct uf_pg_row *rows, size_t n,
                      const struct uf_pg_failure *f)
{
    struct pg_ctx *c = arg;
    struct uf_event *ev = call->ev;
    if (f) {
        uf_log(UF_LOG_TRACE, c->st, "Request failed.", "code", f->code, "err", f->msg);
        uf_event_fail(ev, f->status, f->code, f->msg);
    } else {
        struct uf_pg_reply rep;
        uf_pg_call_answer(call, rows, n, &rep);
        if (rep.status < 400 && n > 0 && rows[0].event_id)
            uf_event_reply_header(ev, "Event-Id", rows[0].event_id);
        if (rep.status >= 400) {
            uf_event_fail(ev, rep.status, rep.code, rep.msg);
        } else if (rep.body) {
            uf_event_reply_text(ev, rep.status, rep.body, rep.body_len);
            rep.body = NULL;
            uf_event_done(ev);
        } else {
            uf_event_reply(ev, rep.status, NULL);
            uf_event_done(ev);
        }
        uf_pg_reply_clear(&rep);
    }
    uf_pg_call_clear(call);
    free(call);
}

/* ---- lifecycle ---- */

static int pg_start(struct uf_stage *st, void *ctx, struct uf_err *err)
{
    struct pg_ctx *c = ctx;
    PGconn *pg = uf_pg_connect(c->dsn, c->connect_timeout_ms, err);
    int applied = 0;
    int rc =
        pg ? uf_pg_migrate(pg, c->schema, c->quoted_schema, &c->migrations, &applied, err) : UF_EIO;
    if (rc == 0)
        rc = uf_pg_ops_prepare(pg, c->quoted_schema, &c->ops, err);
    PQfinish(pg);
    if (rc) {
        uf_err_prefix(err, "postgres '%s'", uf_stage_name(st));
        return rc;
    }
    char n[16];
    snprintf(n, sizeof n, "%d", applied);
    uf_log(UF_LOG_INFO, st, "Schema ready.", "schema", c->schema, "migrations_applied", n);
    struct uf_pg_pool_cfg cfg = {
        .dsn = c->dsn,
        .quoted_schema = c->quoted_schema,
        .size = c->pool_size,
        .pipeline_max = c->pipeline_max,
        .max_pending = c->max_pending,
        .statement_timeout_ms = c->statement_timeout_ms,
        .connect_timeout_ms = c->connect_timeout_ms,
        .notify_channel = c->channel,
        .ops = &c->ops,
        .st = st,
        .finish = pg_finish,
        .arg = c,
    };
    c->pool = uf_pg_pool_new(&cfg, err);
    struct uf_metrics *m = uf_stage_metrics(st);
    c->m_up = uf_metrics_extra(m, UF_METRIC_GAUGE, "pg_connections_up",
                               "PostgreSQL connections ready", NULL, NULL);
    c->m_depth =
        uf_metrics_extra(m, UF_METRIC_GAUGE, "outbox_depth",
                         "Analytics events waiting in the outbox for the relay", NULL, NULL);
    c->m_age = uf_metrics_extra(m, UF_METRIC_GAUGE, "outbox_oldest_age_ms",
                                "Age of the oldest event waiting in the outbox", NULL, NULL);
    return c->pool ? 0 : UF_EIO;
}

static int pg_write(struct uf_stage *st, void *ctx, struct uf_event **evs, size_t n,
                    struct uf_err *err)
{
    struct pg_ctx *c = ctx;
    for (size_t i = 0; i < n; i++) {
        struct uf_pg_call *call = uf_xmalloc(sizeof *call);
        struct uf_pg_reply rep;
        if (uf_pg_call_build(&c->ops, evs[i], call, &rep) != 0) {
            uf_event_fail(evs[i], rep.status, rep.code, rep.msg);
            free(call);
            continue;
        }
        call->ev = evs[i];
        uf_pg_pool_submit(c->pool, call);
    }
    return UF_OK;
}

/* The outbox's backlog, once a second: the relay reports it too, but while the relay is down
 * only this process can. Runs on the ticker thread, never on a request's. */
static void pg_tick(struct uf_stage *st, void *ctx)
{
    struct pg_ctx *c = ctx;
    if (uf_now_us() < c->next_stats_us)
        return;
    c->next_stats_us = uf_now_us() + 1000000;
    if (!c->stats_pg && !(c->stats_pg = uf_pg_connect(c->dsn, c->connect_timeout_ms, NULL)))
        return;
    int64_t depth, age;
    if (uf_pg_outbox_depth(c->stats_pg, c->quoted_outbox, 10000000, &depth, &age, NULL) == 0) {
        atomic_store(c->m_depth, depth);
        atomic_store(c->m_age, age);
    } else if (PQstatus(c->stats_pg) != CONNECTION_OK) {
        PQfinish(c->stats_pg);
        c->stats_pg = NULL;
    }
}

static void pg_stop(struct uf_stage *st, void *ctx)
{
    struct pg_ctx *c = ctx;
    if (c->pool && uf_pg_pool_drain(c->pool, uf_stage_deadline_ms(st)) != 0)
        uf_log(UF_LOG_WARN, st, "Requests still in flight at the shutdown deadline.");
    uf_pg_pool_free(c->pool);
    c->pool = NULL;
    PQfinish(c->stats_pg);
    c->stats_pg = NULL;
}

static void pg_destroy(void *ctx)
{
    struct pg_ctx *c = ctx;
    uf_pg_pool_free(c->pool);
    PQfinish(c->stats_pg);
    free(c->quoted_schema);
    free(c->quoted_outbox);
    free(c->channel);
    uf_pg_ops_free(&c->ops);
    uf_pg_migrations_free(&c->migrations);
}

/* Not ready while the pool has no connection: every request would get 503 at once. */
static bool pg_ready(const void *ctx, char *why, size_t n)
{
    const struct pg_ctx *c = ctx;
    if (!c->m_up || atomic_load(c->m_up) > 0)
        return true;
    snprintf(why, n, "no PostgreSQL connection (pool of %lld)", (long long)c->pool_size);
    return false;
}

const struct uf_kind uf_sink_postgres = {
    .name = "postgres",
    .role = UF_SINK,
    .summary = "Answers requests from PostgreSQL with declared operations (a statement and "
               "its reply per route); writes may put events in the outbox",
    .options = pg_options,
    .ctx_size = sizeof(struct pg_ctx),
    .init = pg_init,
    .start = pg_start,
    .write = pg_write,
    .tick = pg_tick,
    .ready = pg_ready,
    .stop = pg_stop,
    .destroy = pg_destroy,
};
