/* pg.c: shared libpq helpers (see pg.h). */
#include "framework/pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framework/mem.h"

/* Server notices (e.g. "already exists, skipping") are not errors: keep them off stderr. */
static void ignore_notice(void *arg, const char *message)
{
}

PGconn *uf_pg_connect(const char *dsn, int64_t connect_timeout_ms, struct uf_err *err)
{
    char timeout[24];
    snprintf(timeout, sizeof timeout, "%lld", (long long)((connect_timeout_ms + 999) / 1000));
    const char *keys[] = { "dbname", "connect_timeout", "application_name", NULL };
    const char *vals[] = { dsn, timeout, "ugcflow", NULL };
    PGconn *pg = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(pg) == CONNECTION_OK) {
        PQsetNoticeProcessor(pg, ignore_notice, NULL);
        return pg;
    }
    const char *m = PQerrorMessage(pg);
    uf_err_set(err, UF_EIO, "connect to %s:%s: %.*s", PQhost(pg) ? PQhost(pg) : "?",
               PQport(pg) ? PQport(pg) : "?", (int)strcspn(m, "\n"), m);
    PQfinish(pg);
    return NULL;
}

char *uf_pg_quote_ident(const char *s)
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

int uf_pg_exec(PGconn *pg, const char *sql, const char *what, struct uf_err *err)
{
    PGresult *res = PQexec(pg, sql);
    ExecStatusType s = PQresultStatus(res);
    int rc = 0;
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
        const char *m = PQresultErrorMessage(res);
        rc = uf_err_set(err, UF_EIO, "%s: %.*s", what, (int)strcspn(m, "\n"), m);
    }
    PQclear(res);
    return rc;
}

int uf_pg_outbox_depth(PGconn *pg, const char *table, int64_t cap, int64_t *depth,
                       int64_t *oldest_age_ms, struct uf_err *err)
{
    char *sql = uf_xasprintf(
        "SELECT (SELECT count(*) FROM (SELECT 1 FROM %s LIMIT %lld) c),"
        " coalesce((SELECT floor(extract(epoch FROM clock_timestamp() - created_at) * 1000)"
        "  FROM %s ORDER BY seq LIMIT 1), 0)::bigint",
        table, (long long)cap, table);
    PGresult *res = PQexec(pg, sql);
    free(sql);
    int rc = 0;
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
        *depth = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        *oldest_age_ms = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
    } else {
        const char *m = PQresultErrorMessage(res);
        rc = uf_err_set(err, UF_EIO, "outbox depth: %.*s", (int)strcspn(m, "\n"), m);
    }
    PQclear(res);
    return rc;
}
