/* watch_progress.c: the `watch_progress` sink: keeps each registered viewer's last playback
 * position per movie in PostgreSQL (the table the UGC API reads for progress and history).
 * write() records the newest state per (user, movie) in memory and finishes the events at once
 * (best effort: Kafka has every event); a flusher thread upserts what changed every
 * `flush_interval` in one statement. Newest wins, in memory and in the table. Anonymous viewers
 * and events without a movie or position are dropped (counted). While PostgreSQL is away the
 * positions are kept up to max_keys. docs/architecture.md, "sinks/watch_progress". */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "framework/clock.h"
#include "framework/event.h"
#include "framework/hash.h"
#include "framework/jscan.h"
#include "framework/log.h"
#include "framework/mem.h"
#include "framework/metrics.h"
#include "framework/pg.h"
#include "framework/pg_migrate.h"
#include "framework/stage.h"
#include "framework/strbuf.h"
#include "framework/timefmt.h"
#include "framework/uuid.h"

#define BATCH_ROWS 2000 /* rows per upsert statement: keeps each under a few hundred KiB */

struct wp_row {
    char user[UF_UUID_STR], movie[UF_UUID_STR];
    double position_s, duration_s; /* duration NAN when unknown */
    bool completed;
    int64_t event_us;   /* coalescing order */
    int64_t updated_us; /* server receive time, written as updated_at */
    struct wp_row *next;
};

struct wp_map {
    struct wp_row **buckets;
    size_t nbuckets, n;
};

struct wp_ctx {
    char *dsn;
    char *schema;
    char *migrations_dir;
    int64_t flush_ms;
    int64_t max_keys;

    struct uf_stage *st;
    struct uf_pg_migrations migrations; /* read at init */
    char *qschema, *qtable;             /* "schema", "schema".watch_progress; built in init */
    PGconn *conn;                       /* flusher thread only */
    pthread_mutex_t lock;               /* guards map */
    pthread_cond_t cv;
    struct wp_map map;
    bool stopping, started;
    pthread_t thr;
    _Atomic int64_t *m_pending, *m_written, *m_dropped_full, *m_failures;
    atomic_bool store_down; /* the last flush failed: for readiness */
};

static const struct uf_option wp_options[] = {
    { .name = "dsn",
      .type = UF_OPT_STR,
      .flags = UF_OPT_REQUIRED | UF_OPT_SECRET,
      .desc = "libpq connection string",
      .offset = offsetof(struct wp_ctx, dsn) },
    { .name = "schema",
      .type = UF_OPT_STR,
      .def = "public",
      .desc = "Schema of the UGC store whose watch_progress table the positions go to (its "
              "migrations are applied at connect)",
      .offset = offsetof(struct wp_ctx, schema) },
    { .name = "migrations",
      .type = UF_OPT_STR,
      .desc = "Folder of the schema's NNNN_name.sql migrations (relative to the config file), "
              "applied at connect; unset: none",
      .offset = offsetof(struct wp_ctx, migrations_dir) },
    { .name = "flush_interval",
      .type = UF_OPT_DURATION,
      .def = "1s",
      .min = 10,
      .max = 60000,
      .desc = "How often changed positions are written; each key at most once per interval",
      .offset = offsetof(struct wp_ctx, flush_ms) },
    { .name = "max_keys",
      .type = UF_OPT_INT,
      .def = "200000",
      .min = 1,
      .max = 10000000,
      .desc = "Most (user, movie) positions waiting for a write; new keys beyond are dropped",
      .offset = offsetof(struct wp_ctx, max_keys) },
    { 0 }
};

/* ---- the pending map ---- */

static uint64_t hash_row(const char *user, const char *movie)
{
    return uf_hash_str(uf_hash_str(UF_HASH_SEED, user), movie);
}

static void map_init(struct wp_map *m)
{
    m->nbuckets = 1024;
    m->buckets = uf_xcalloc(m->nbuckets, sizeof(*m->buckets));
    m->n = 0;
}

static void map_free(struct wp_map *m)
{
    for (size_t i = 0; m->buckets && i < m->nbuckets; i++)
        for (struct wp_row *r = m->buckets[i], *next; r; r = next) {
            next = r->next;
            free(r);
        }
    free(m->buckets);
    m->buckets = NULL;
    m->n = 0;
}

static void map_grow(struct wp_map *m)
{
    size_t nb = m->nbuckets * 2;
    struct wp_row **b = uf_xcalloc(nb, sizeof(*b));
    for (size_t i = 0; i < m->nbuckets; i++)
        for (struct wp_row *r = m->buckets[i], *next; r; r = next) {
            next = r->next;
            size_t j = hash_row(r->user, r->movie) % nb;
            r->next = b[j];
            b[j] = r;
        }
    free(m->buckets);
    m->buckets = b;
    m->nbuckets = nb;
}

/* Keeps the newer of row and what the map holds for its key. Takes ownership of row. Returns
 * false (row freed) when the key is new and the map is full. */
static bool map_merge(struct wp_map *m, struct wp_row *row, size_t max)
{
    size_t i = hash_row(row->user, row->movie) % m->nbuckets;
    for (struct wp_row *r = m->buckets[i]; r; r = r->next) {
        if (strcmp(r->user, row->user) || strcmp(r->movie, row->movie))
            continue;
        if (row->event_us > r->event_us ||
            (row->event_us == r->event_us && row->updated_us >= r->updated_us)) {
            row->next = r->next;
            *r = *row;
        }
        free(row);
        return true;
    }
    if (m->n >= max) {
        free(row);
        return false;
    }
    if (m->n >= m->nbuckets) {
        map_grow(m);
        i = hash_row(row->user, row->movie) % m->nbuckets;
    }
    row->next = m->buckets[i];
    m->buckets[i] = row;
    m->n++;
    return true;
}

/* ---- events ---- */

/* The fields a row is made from, by index; the strings first. */
enum { W_MOVIE, W_EVENT, W_TS, WSTR, W_POS = WSTR, W_DUR, WFIELDS };
static const char *const field_names[WFIELDS] = { "movie_id", "event", "ts", "position_s",
                                                  "duration_s" };

/* What a row is made from (uf_event_fields): the strings, then the numbers. */
_Static_assert(WFIELDS <= UF_FIELDS_MAX, "field_names fits struct uf_fields");

/* The row an event stands for, or NULL (with *why set) when it carries no progress. */
static struct wp_row *row_of(const struct uf_event *ev, const struct uf_fields *f, const char **why)
{
    const char *movie = f->str[W_MOVIE], *event = f->str[W_EVENT];
    double pos = f->num[W_POS], dur = f->num[W_DUR];
    bool complete = event && strcmp(event, "complete") == 0;
    if (complete && isnan(pos))
        pos = dur;
    *why = !uf_event_user(ev)                     ? "anonymous viewer"
           : !uf_uuid_is_valid(uf_event_user(ev)) ? "user id is not a UUID"
           : !movie || !uf_uuid_is_valid(movie)   ? "movie_id is not a UUID"
           : isnan(pos) || pos < 0                ? "no position"
                                                  : NULL;
    if (*why)
        return NULL;
    struct wp_row *r = uf_xcalloc(1, sizeof(*r));
    snprintf(r->user, sizeof r->user, "%s", uf_event_user(ev));
    snprintf(r->movie, sizeof r->movie, "%s", movie);
    r->position_s = pos;
    r->duration_s = dur >= 0 ? dur : NAN;
    r->completed = complete;
    r->updated_us = uf_event_received_us(ev);
    if (!uf_time_parse(f->str[W_TS], &r->event_us))
        r->event_us = uf_event_received_us(ev);
    return r;
}

/* Records ev's position, or drops it (anonymous, no progress, map full); an event held as a
 * text that is not one object (only from a source that checks less than the http one) fails
 * with 400. */
static void take_event(struct wp_ctx *c, struct uf_stage *st, struct uf_event *ev)
{
    struct uf_fields f;
    if (!uf_event_fields(ev, field_names, WSTR, WFIELDS, &f)) {
        uf_event_fail(ev, 400, "malformed_json", "the event is not one JSON object");
        return;
    }
    const char *why;
    struct wp_row *r = row_of(ev, &f, &why);
    uf_fields_free(&f);
    if (!r) {
        uf_event_drop(ev, why);
        return;
    }
    if (!map_merge(&c->map, r, (size_t)c->max_keys)) {
        atomic_fetch_add(c->m_dropped_full, 1);
        uf_log_limited(UF_LOG_WARN, st, "Too many positions waiting; dropping.");
        uf_event_drop(ev, "too many positions waiting");
        return;
    }
    uf_event_done(ev);
}

static int wp_write(struct uf_stage *st, void *ctx, struct uf_event **evs, size_t n,
                    struct uf_err *err)
{
    struct wp_ctx *c = ctx;
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < n; i++)
        take_event(c, st, evs[i]);
    atomic_store(c->m_pending, (int64_t)c->map.n);
    pthread_mutex_unlock(&c->lock);
    return UF_OK;
}

/* ---- PostgreSQL ---- */

/* libpq's last message without its trailing newline. */
static const char *pq_msg(PGconn *conn, char *buf, size_t size)
{
    snprintf(buf, size, "%s", PQerrorMessage(conn));
    size_t n = strlen(buf);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    return buf;
}

/* Connects, applies the schema's migrations (they make the table) and prepares the upsert.
 * Statements are bounded: stop() makes one last flush, which must not outlast the shutdown
 * deadline when PostgreSQL hangs instead of refusing. */
static int wp_connect(struct wp_ctx *c, struct uf_err *err)
{
    int applied = 0;
    c->conn = uf_pg_connect(c->dsn, 2000, err);
    if (!c->conn ||
        uf_pg_migrate(c->conn, c->schema, c->qschema, &c->migrations, &applied, err) != 0 ||
        uf_pg_exec(c->conn, "SET statement_timeout TO '2s'", "session", err) != 0)
        return UF_EIO;
    char *upsert = uf_xasprintf(
        "INSERT INTO %s AS t (user_id, movie_id, position_s, duration_s, completed, updated_at)"
        " SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::float8[], $4::float8[],"
        " $5::bool[], $6::timestamptz[])"
        " ON CONFLICT (user_id, movie_id) DO UPDATE SET position_s = EXCLUDED.position_s,"
        " duration_s = COALESCE(EXCLUDED.duration_s, t.duration_s),"
        " completed = EXCLUDED.completed, updated_at = EXCLUDED.updated_at"
        " WHERE t.updated_at <= EXCLUDED.updated_at",
        c->qtable);
    PGresult *res = PQprepare(c->conn, "wp_upsert", upsert, 6, NULL);
    char m[256];
    int rc = PQresultStatus(res) == PGRES_COMMAND_OK
                 ? 0
                 : uf_err_set(err, UF_EIO, "prepare upsert: %s", pq_msg(c->conn, m, sizeof m));
    PQclear(res);
    free(upsert);
    return rc;
}

/* Appends one array element (already safe: UUIDs, numbers, booleans, timestamps). */
static void put_elem(struct uf_strbuf *sb, const char *v)
{
    uf_strbuf_puts(sb, sb->len > 1 ? "," : "");
    uf_strbuf_puts(sb, v);
}

/* Upserts rows (at most BATCH_ROWS). Returns 0 or UF_EIO with err filled. */
static int upsert(struct wp_ctx *c, struct wp_row **rows, size_t n, struct uf_err *err)
{
    struct uf_strbuf a[6] = { { 0 } };
    for (int k = 0; k < 6; k++)
        uf_strbuf_puts(&a[k], "{");
    for (size_t i = 0; i < n; i++) {
        char buf[40];
        put_elem(&a[0], rows[i]->user);
        put_elem(&a[1], rows[i]->movie);
        snprintf(buf, sizeof buf, "%.17g", rows[i]->position_s);
        put_elem(&a[2], buf);
        if (isnan(rows[i]->duration_s))
            snprintf(buf, sizeof buf, "NULL");
        else
            snprintf(buf, sizeof buf, "%.17g", rows[i]->duration_s);
        put_elem(&a[3], buf);
        put_elem(&a[4], rows[i]->completed ? "t" : "f");
        uf_time_format(rows[i]->updated_us, buf);
        put_elem(&a[5], buf);
    }
    const char *params[6];
    for (int k = 0; k < 6; k++) {
        uf_strbuf_puts(&a[k], "}");
        params[k] = a[k].buf;
    }
    PGresult *res = PQexecPrepared(c->conn, "wp_upsert", 6, params, NULL, NULL, 0);
    int rc = 0;
    char m[256];
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        rc = uf_err_set(err, UF_EIO, "upsert into %s: %s", c->qtable, pq_msg(c->conn, m, sizeof m));
    PQclear(res);
    for (int k = 0; k < 6; k++)
        uf_strbuf_free(&a[k]);
    return rc;
}

/* ---- the flusher ---- */

/* Puts rows that could not be written back, unless newer ones arrived meanwhile. */
static void requeue(struct wp_ctx *c, struct wp_row **rows, size_t n)
{
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < n; i++)
        if (!map_merge(&c->map, rows[i], (size_t)c->max_keys))
            atomic_fetch_add(c->m_dropped_full, 1);
    atomic_store(c->m_pending, (int64_t)c->map.n);
    pthread_mutex_unlock(&c->lock);
}

static void flush(struct wp_ctx *c)
{
    pthread_mutex_lock(&c->lock);
    struct wp_map m = c->map;
    map_init(&c->map);
    pthread_mutex_unlock(&c->lock);
    struct wp_row **rows = uf_xmalloc((m.n ? m.n : 1) * sizeof(*rows));
    size_t n = 0;
    for (size_t i = 0; i < m.nbuckets; i++)
        for (struct wp_row *r = m.buckets[i]; r; r = r->next)
            rows[n++] = r;
    free(m.buckets);
    struct uf_err err = { 0 };
    int rc = n && !c->conn ? wp_connect(c, &err) : 0;
    size_t done = 0;
    int64_t t0 = uf_now_us();
    while (rc == 0 && done < n) {
        size_t k = n - done < BATCH_ROWS ? n - done : BATCH_ROWS;
        rc = upsert(c, rows + done, k, &err);
        if (rc == 0)
            done += k;
    }
    for (size_t i = 0; i < done; i++)
        free(rows[i]);
    if (done) {
        atomic_fetch_add(c->m_written, (int64_t)done);
        uf_stage_observe_flush(c->st, done, 0, (uint64_t)(uf_now_us() - t0));
    }
    if (rc != 0) {
        atomic_fetch_add(c->m_failures, 1);
        uf_log_limited(UF_LOG_WARN, c->st, "Progress write failed; retrying.", "err", err.msg);
        PQfinish(c->conn); /* reconnect next time */
        c->conn = NULL;
    }
    if (n)
        atomic_store(&c->store_down, rc != 0);
    requeue(c, rows + done, n - done); /* also refreshes the pending gauge */
    free(rows);
}

static void *flusher_main(void *arg)
{
    struct wp_ctx *c = arg;
    pthread_mutex_lock(&c->lock);
    while (!c->stopping) {
        struct timespec dl = uf_clock_after(CLOCK_MONOTONIC, c->flush_ms * 1000);
        pthread_cond_timedwait(&c->cv, &c->lock, &dl);
        pthread_mutex_unlock(&c->lock);
        flush(c);
        pthread_mutex_lock(&c->lock);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

/* ---- lifecycle ---- */

static int wp_init(struct uf_stage *st, void *ctx, struct uf_err *err)
{
    struct wp_ctx *c = ctx;
    c->st = st;
    if (!c->schema[0] || strlen(c->schema) > 63)
        return uf_err_set(err, UF_EINVAL, "schema: must be 1 to 63 characters");
    c->qschema = uf_pg_quote_ident(c->schema);
    c->qtable = uf_xasprintf("%s.watch_progress", c->qschema);
    uf_pg_migrations_option(st, "migrations", c->migrations_dir, &c->migrations);
    pthread_mutex_init(&c->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cv, &ca);
    pthread_condattr_destroy(&ca);
    map_init(&c->map);
    struct uf_metrics *m = uf_stage_metrics(st);
    c->m_pending = uf_metrics_extra(m, UF_METRIC_GAUGE, "progress_pending_keys",
                                    "Positions waiting for the next write", NULL, NULL);
    c->m_written = uf_metrics_extra(m, UF_METRIC_COUNTER, "progress_written_rows_total",
                                    "Positions upserted", NULL, NULL);
    c->m_dropped_full =
        uf_metrics_extra(m, UF_METRIC_COUNTER, "progress_dropped_events_total",
                         "Positions dropped because max_keys were waiting", NULL, NULL);
    c->m_failures = uf_metrics_extra(m, UF_METRIC_COUNTER, "progress_write_failures_total",
                                     "Flushes that failed and were retried", NULL, NULL);
    return 0;
}

static int wp_start(struct uf_stage *st, void *ctx, struct uf_err *err)
{
    struct wp_ctx *c = ctx;
    struct uf_err cerr = { 0 };
    /* PostgreSQL down must not stop the stat pipeline: the flusher keeps retrying. */
    if (wp_connect(c, &cerr) < 0) {
        uf_log(UF_LOG_WARN, st, "PostgreSQL unreachable; will retry.", "err", cerr.msg);
        PQfinish(c->conn);
        c->conn = NULL;
    }
    if (pthread_create(&c->thr, NULL, flusher_main, c) != 0)
        return uf_err_set(err, UF_EIO, "start flusher thread");
    c->started = true;
    return 0;
}

static void wp_stop(struct uf_stage *st, void *ctx)
{
    struct wp_ctx *c = ctx;
    if (!c->started)
        return;
    pthread_mutex_lock(&c->lock);
    c->stopping = true;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->thr, NULL);
    c->started = false;
    flush(c); /* the last positions; one attempt */
    PQfinish(c->conn);
    c->conn = NULL;
}

static void wp_destroy(void *ctx)
{
    struct wp_ctx *c = ctx;
    if (c->started)
        wp_stop(c->st, c);
    if (!c->st)
        return; /* init never ran */
    map_free(&c->map);
    uf_pg_migrations_free(&c->migrations);
    free(c->qtable);
    free(c->qschema);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->cv);
}

/* Not ready while the last flush failed: positions wait in memory until PostgreSQL answers. */
static bool wp_ready(const void *ctx, char *why, size_t n)
{
    const struct wp_ctx *c = ctx;
    if (!atomic_load(&((struct wp_ctx *)c)->store_down))
        return true;
    snprintf(why, n, "PostgreSQL unavailable, %lld positions waiting",
             (long long)atomic_load(c->m_pending));
    return false;
}

const struct uf_kind uf_sink_watch_progress = {
    .name = "watch_progress",
    .role = UF_SINK,
    .summary = "Upsert each registered viewer's last position per movie into PostgreSQL",
    .options = wp_options,
    .ctx_size = sizeof(struct wp_ctx),
    .init = wp_init,
    .start = wp_start,
    .write = wp_write,
    .stop = wp_stop,
    .destroy = wp_destroy,
    .ready = wp_ready,
};
