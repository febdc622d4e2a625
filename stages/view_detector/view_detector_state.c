/* view_detector_state.c: the view detector's sessions in PostgreSQL (see view_detector_state.h).
 * Saves are multi-row upserts with text parameters (keys are client strings: no quoting by
 * hand), in chunks that stay under the protocol's 65,535 parameters. */
#include "stages/view_detector/view_detector_state.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framework/mem.h"
#include "framework/pg.h"
#include "framework/strbuf.h"

#define FIELDS 7
#define CHUNK 1000

struct uf_view_detector_store {
    char *dsn, *table;
    int64_t connect_timeout_ms;
    PGconn *pg;
};

struct uf_view_detector_store *uf_view_detector_store_new(const char *dsn, const char *table,
                                                          int64_t connect_timeout_ms)
{
    struct uf_view_detector_store *s = uf_xcalloc(1, sizeof *s);
    s->dsn = uf_xstrdup(dsn);
    s->table = uf_xstrdup(table);
    s->connect_timeout_ms = connect_timeout_ms;
    return s;
}

void uf_view_detector_store_free(struct uf_view_detector_store *s)
{
    if (!s)
        return;
    PQfinish(s->pg);
    free(s->dsn);
    free(s->table);
    free(s);
}

static PGconn *conn(struct uf_view_detector_store *s, struct uf_err *err)
{
    if (s->pg && PQstatus(s->pg) != CONNECTION_OK) {
        PQfinish(s->pg);
        s->pg = NULL;
    }
    if (!s->pg)
        s->pg = uf_pg_connect(s->dsn, s->connect_timeout_ms, err);
    return s->pg;
}

static int failed(PGresult *res, const char *what, struct uf_err *err)
{
    const char *m = PQresultErrorMessage(res);
    int rc = uf_err_set(err, UF_EIO, "%s: %.*s", what, (int)strcspn(m, "\n"), m);
    PQclear(res);
    return rc;
}

int uf_view_detector_store_load(struct uf_view_detector_store *s, int64_t ttl_ms, int64_t max,
                                uf_view_detector_load_fn fn, void *arg, struct uf_err *err)
{
    PGconn *pg = conn(s, err);
    if (!pg)
        return UF_EIO;
    char *sql = uf_xasprintf("SELECT key, watched_s, pos_s, at_us, playing, have_pos, counted,"
                             " floor(extract(epoch FROM now() - touched_at) * 1000)::bigint"
                             " FROM %s WHERE touched_at > now() - make_interval(secs => %" PRId64
                             " / 1000.0)"
                             " ORDER BY touched_at DESC LIMIT %" PRId64,
                             s->table, ttl_ms, max);
    PGresult *res = PQexec(pg, sql);
    free(sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        return failed(res, "load sessions", err);
    for (int i = 0; i < PQntuples(res); i++) {
        struct uf_view_detector_saved v = {
            .key = PQgetvalue(res, i, 0),
            .watched_s = strtod(PQgetvalue(res, i, 1), NULL),
            .pos_s = strtod(PQgetvalue(res, i, 2), NULL),
            .at_us = strtoll(PQgetvalue(res, i, 3), NULL, 10),
            .playing = PQgetvalue(res, i, 4)[0] == 't',
            .have_pos = PQgetvalue(res, i, 5)[0] == 't',
            .counted = PQgetvalue(res, i, 6)[0] == 't',
            .age_ms = strtoll(PQgetvalue(res, i, 7), NULL, 10),
        };
        fn(arg, &v);
    }
    PQclear(res);
    return 0;
}

/* The upsert of n rows: ($1..$7), ($8..$14), ... */
static char *upsert_sql(const char *table, size_t n)
{
    struct uf_strbuf sb = { 0 };
    uf_strbuf_printf(&sb,
                     "INSERT INTO %s AS t (key, watched_s, pos_s, at_us, playing, have_pos,"
                     " counted) VALUES ",
                     table);
    for (size_t i = 0; i < n; i++) {
        size_t b = i * FIELDS;
        uf_strbuf_printf(&sb,
                         "%s($%zu, $%zu::float8, $%zu::float8, $%zu::bigint, $%zu::bool,"
                         " $%zu::bool, $%zu::bool)",
                         i ? ", " : "", b + 1, b + 2, b + 3, b + 4, b + 5, b + 6, b + 7);
    }
    uf_strbuf_printf(&sb, " ON CONFLICT (key) DO UPDATE SET watched_s = EXCLUDED.watched_s,"
                          " pos_s = EXCLUDED.pos_s, at_us = EXCLUDED.at_us,"
                          " playing = EXCLUDED.playing, have_pos = EXCLUDED.have_pos,"
                          " counted = EXCLUDED.counted, touched_at = now()"
                          " WHERE t.at_us <= EXCLUDED.at_us");
    return uf_strbuf_take(&sb);
}

static int save_chunk(PGconn *pg, const char *table, const struct uf_view_detector_saved *v,
                      size_t n, struct uf_err *err)
{
    char(*num)[3][32] = uf_xmalloc(n * sizeof *num);
    const char **params = uf_xmalloc(n * FIELDS * sizeof *params);
    for (size_t i = 0; i < n; i++) {
        snprintf(num[i][0], 32, "%.17g", v[i].watched_s);
        snprintf(num[i][1], 32, "%.17g", v[i].pos_s);
        snprintf(num[i][2], 32, "%" PRId64, v[i].at_us);
        const char *row[FIELDS] = { v[i].key,
                                    num[i][0],
                                    num[i][1],
                                    num[i][2],
                                    v[i].playing ? "t" : "f",
                                    v[i].have_pos ? "t" : "f",
                                    v[i].counted ? "t" : "f" };
        memcpy(&params[i * FIELDS], row, sizeof row);
    }
    char *sql = upsert_sql(table, n);
    PGresult *res = PQexecParams(pg, sql, (int)(n * FIELDS), NULL, params, NULL, NULL, 0);
    free(sql);
    free(params);
    free(num);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        return failed(res, "save sessions", err);
    PQclear(res);
    return 0;
}

int uf_view_detector_store_save(struct uf_view_detector_store *s,
                                const struct uf_view_detector_saved *v, size_t n,
                                struct uf_err *err)
{
    PGconn *pg = conn(s, err);
    if (!pg)
        return UF_EIO;
    for (size_t at = 0; at < n; at += CHUNK) {
        int rc = save_chunk(pg, s->table, v + at, n - at < CHUNK ? n - at : CHUNK, err);
        if (rc)
            return rc;
    }
    return 0;
}

int uf_view_detector_store_expire(struct uf_view_detector_store *s, int64_t ttl_ms,
                                  struct uf_err *err)
{
    PGconn *pg = conn(s, err);
    if (!pg)
        return UF_EIO;
    char *sql = uf_xasprintf(
        "DELETE FROM %s WHERE touched_at < now() - make_interval(secs => %" PRId64 " / 1000.0)",
        s->table, ttl_ms);
    int rc = uf_pg_exec(pg, sql, "expire sessions", err);
    free(sql);
    return rc;
}
