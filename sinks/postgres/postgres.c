/* postgres.c: the `postgres` sink, the UGC store: answers the UGC API's
 * requests from PostgreSQL and, after each successful write, emits an analytics
 * event downstream. A request event ({"route","params","query","body"},
 * ev->user, meta.roles; see postgres_ugc.h) becomes one prepared statement run
 * by the connection pool (postgres_pool.h); its reply is set with
 * uf_event_reply and the event finished only once PostgreSQL answered, so the
 * client never sees a success that was not stored. When PostgreSQL is
 * unavailable requests fail with 503 (the http source adds Retry-After);
 * nothing is retried behind the client's back. Ownership: write() hands every
 * event to the pool and returns UF_OK; the pool's threads finish them.
 * Analytics events are new fire-and-forget events (no completion), emitted
 * after the reply is recorded, so a slow analytics branch cannot hold a UGC
 * reply: put `when_full: reject` on the consumer so a full queue never blocks a
 * connection thread. Schema migrations run in start(); the schema name is
 * quoted once in init(). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "framework/event.h"
#include "framework/log.h"
#include "framework/mem.h"
#include "framework/options.h"
#include "framework/stage.h"
#include "framework/uuid.h"
#include "postgres_migrate.h"
#include "postgres_pool.h"
#include "postgres_ugc.h"
#include "timefmt.h"

struct pg_ctx {
    char *dsn;
    char *schema;
    int64_t pool_size, pipeline_max, max_pending, statement_timeout_ms, connect_timeout_ms;

    struct uf_stage *st;
    char *quoted_schema; /* ours */
    struct uf_pg_pool *pool;
};

static const struct uf_option pg_options[] = {
    {.name = "dsn",
     .type = UF_OPT_STR,
     .flags = UF_OPT_REQUIRED | UF_OPT_SECRET,
     .desc = "libpq connection string or postgresql:// URI",
     .offset = offsetof(struct pg_ctx, dsn)},
    {.name = "schema",
     .type = UF_OPT_STR,
     .def = "public",
     .desc = "PostgreSQL schema holding the UGC tables; created and migrated "
             "at start",
     .offset = offsetof(struct pg_ctx, schema)},
    {.name = "pool_size",
     .type = UF_OPT_INT,
     .def = "4",
     .min = 1,
     .max = 64,
     .desc = "Connections to PostgreSQL, one thread each",
     .offset = offsetof(struct pg_ctx, pool_size)},
    {.name = "pipeline_max",
     .type = UF_OPT_INT,
     .def = "64",
     .min = 1,
     .max = 1024,
     .desc = "Most requests sent on one connection in one round trip (pipeline "
             "mode)",
     .offset = offsetof(struct pg_ctx, pipeline_max)},
    {.name = "max_pending",
     .type = UF_OPT_INT,
     .def = "10000",
     .min = 1,
     .max = 1000000,
     .desc = "Requests queued for the pool beyond which new ones get 503 "
             "overloaded",
     .offset = offsetof(struct pg_ctx, max_pending)},
    {.name = "statement_timeout",
     .type = UF_OPT_DURATION,
     .def = "2s",
     .min = 10,
     .max = 600000,
     .desc = "PostgreSQL statement_timeout; a request waiting a second longer "
             "gets 504",
     .offset = offsetof(struct pg_ctx, statement_timeout_ms)},
    {.name = "connect_timeout",
     .type = UF_OPT_DURATION,
     .def = "2s",
     .min = 1000,
     .max = 60000,
     .desc = "Time allowed to open one connection (whole seconds)",
     .offset = offsetof(struct pg_ctx, connect_timeout_ms)},
    {0},
};

/* "name" with embedded quotes doubled: the SQL standard's identifier quoting.
 */
static char *quote_ident(const char *s)
{
    size_t n = strlen(s), o = 0;
    char *q = uf_xmalloc(2 * n + 3);
    q[o++] = '"';
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            q[o++] = '"';
        q[o++] = s[i];
    }
    q[o++] = '"';
    q[o] = '\0';
    return q;
}

static int pg_init(struct uf_stage *st, void *ctx, struct uf_err *err)
{
    struct pg_ctx *c = ctx;
    c->st = st;
    if (!c->schema[0] || strlen(c->schema) > 63)
        return uf_err_set(err, UF_EINVAL, "schema: must be 1 to 63 characters");
    c->quoted_schema = quote_ident(c->schema);
    return 0;
}

/* ---- finishing requests (pool threads) ---- */

static void emit_analytics(struct pg_ctx *c, const struct uf_pg_call *call, json_t *body)
{
    if (!uf_stage_port_connected(c->st, 0)) {
        json_decref(body);
        return;
    }
    struct uf_event *aev = uf_event_new(body);
    char id[UF_UUID_STR], ts[40];
    uf_uuid_format(aev->id, id);
    int64_t us = uf_wall_us();
    uf_time_format(us, ts);
    json_object_set_new(body, "ts", json_string(ts));
    json_object_set_new(json_object_get(body, "props"), "event_id", json_string(id));
    uf_event_set_user(aev, call->user[0] ? call->user : NULL);
    uf_emit(c->st, aev);
}

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
        if (rep.analytics)
            emit_analytics(c, call, rep.analytics);
        rep.analytics = NULL;
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
    int rc = pg ? uf_pg_migrate(pg, c->schema, c->quoted_schema, &applied, err) : UF_EIO;
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
        .st = st,
        .finish = pg_finish,
        .arg = c,
    };
    c->pool = uf_pg_pool_new(&cfg, err);
    return c->pool ? 0 : UF_EIO;
}

static int pg_write(struct uf_stage *st, void *ctx, struct uf_event **evs, size_t n,
                    struct uf_err *err)
{
    struct pg_ctx *c = ctx;
    for (size_t i = 0; i < n; i++) {
        struct uf_pg_call *call = uf_xmalloc(sizeof *call);
        struct uf_pg_reply rep;
        if (uf_pg_call_build(evs[i], call, &rep) != 0) {
            uf_event_fail(evs[i], rep.status, rep.code, rep.msg);
            free(call);
            continue;
        }
        call->ev = evs[i];
        uf_pg_pool_submit(c->pool, call);
    }
    return UF_OK;
}

static void pg_stop(struct uf_stage *st, void *ctx)
{
    struct pg_ctx *c = ctx;
    if (c->pool && uf_pg_pool_drain(c->pool, uf_stage_deadline_ms(st)) != 0)
        uf_log(UF_LOG_WARN, st, "Requests still in flight at the shutdown deadline.");
    uf_pg_pool_free(c->pool);
    c->pool = NULL;
}

static void pg_destroy(void *ctx)
{
    struct pg_ctx *c = ctx;
    uf_pg_pool_free(c->pool);
    free(c->quoted_schema);
}

const struct uf_kind uf_sink_postgres = {
    .name = "postgres",
    .role = UF_SINK,
    .summary = "UGC store: answers UGC API requests from PostgreSQL, emits "
               "analytics events",
    .options = pg_options,
    .ctx_size = sizeof(struct pg_ctx),
    .emits = true,
    .init = pg_init,
    .start = pg_start,
    .write = pg_write,
    .stop = pg_stop,
    .destroy = pg_destroy,
};
