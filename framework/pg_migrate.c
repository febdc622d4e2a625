/* pg_migrate.c: a schema's migrations and the code that applies them (see pg_migrate.h),
 * shared by every kind that keeps data in PostgreSQL (the `postgres` sink, `watch_progress`,
 * the view detector's sessions). Migrations are SQL files in a folder the config names
 * (`NNNN_name.sql`, e.g. sql/ugc/migrations), read at init so `ugcflow validate` reports a
 * missing folder or a bad name, and applied at start. Append-only: a released migration is
 * never edited, a change is a new file with the next version. */
#include "framework/pg_migrate.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framework/mem.h"
#include "framework/pg.h"
#include "framework/stage.h"

#define MIGRATION_MAX (4 << 20)

/* A file name's version: NNNN_name.sql with NNNN > 0; 0 when it is not a migration's name. */
static int version_of(const char *name)
{
    size_t n = strlen(name), digits = strspn(name, "0123456789");
    if (digits == 0 || digits > 6 || name[digits] != '_' || n < digits + 6 ||
        strcmp(name + n - 4, ".sql") != 0)
        return 0;
    return atoi(name);
}

static char *read_sql(const char *path, struct uf_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        uf_err_set(err, UF_EIO, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = uf_xmalloc(MIGRATION_MAX + 1);
    size_t n = fread(buf, 1, MIGRATION_MAX + 1, f);
    fclose(f);
    if (n == 0 || n > MIGRATION_MAX) {
        uf_err_set(err, UF_EINVAL, "%s: %s", path, n ? "larger than 4 MiB" : "empty");
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

static int by_version(const void *a, const void *b)
{
    const struct uf_pg_migration *x = a, *y = b;
    return (x->version > y->version) - (x->version < y->version);
}

/* Adds the file `name` of dir, or fails naming it. */
static int add_file(const char *dir, const char *name, struct uf_pg_migrations *out,
                    struct uf_err *err)
{
    int v = version_of(name);
    if (v <= 0)
        return uf_err_set(err, UF_EINVAL, "%s/%s: migrations are named NNNN_name.sql", dir, name);
    for (size_t i = 0; i < out->n; i++)
        if (out->v[i].version == v)
            return uf_err_set(err, UF_EINVAL, "%s/%s: version %d is also %s", dir, name, v,
                              out->v[i].name);
    char *path = uf_xasprintf("%s/%s", dir, name);
    char *sql = read_sql(path, err);
    free(path);
    if (!sql)
        return err ? err->code : UF_EIO;
    out->v = uf_xrealloc(out->v, (out->n + 1) * sizeof *out->v);
    out->v[out->n++] = (struct uf_pg_migration){ v, uf_xstrndup(name, strlen(name) - 4), sql };
    return 0;
}

int uf_pg_migrations_load(const char *dir, struct uf_pg_migrations *out, struct uf_err *err)
{
    memset(out, 0, sizeof *out);
    DIR *d = opendir(dir);
    if (!d)
        return uf_err_set(err, UF_EIO, "cannot open the folder %s: %s", dir, strerror(errno));
    int rc = 0;
    for (struct dirent *e; rc == 0 && (e = readdir(d));)
        if (e->d_name[0] != '.')
            rc = add_file(dir, e->d_name, out, err);
    closedir(d);
    if (rc == 0 && out->n == 0)
        rc = uf_err_set(err, UF_EINVAL, "the folder %s holds no migrations", dir);
    if (rc) {
        uf_pg_migrations_free(out);
        return rc;
    }
    qsort(out->v, out->n, sizeof *out->v, by_version);
    return 0;
}

void uf_pg_migrations_free(struct uf_pg_migrations *m)
{
    for (size_t i = 0; m && i < m->n; i++) {
        free(m->v[i].name);
        free(m->v[i].sql);
    }
    if (m) {
        free(m->v);
        m->v = NULL;
        m->n = 0;
    }
}

int uf_pg_migrations_option(struct uf_stage *st, const char *option, const char *path,
                            struct uf_pg_migrations *out)
{
    memset(out, 0, sizeof *out);
    if (!path)
        return 0;
    const char *base = uf_stage_config_dir(st);
    char *dir = path[0] == '/' ? uf_xstrdup(path) : uf_xasprintf("%s/%s", base, path);
    struct uf_err err = { 0 };
    int rc = uf_pg_migrations_load(dir, out, &err);
    free(dir);
    if (rc) {
        const struct uf_node *n = uf_stage_option_node(st, option);
        uf_stage_diag(st, n ? &n->pos : NULL, "%s: %s", option, err.msg);
    }
    return rc;
}

static int lock_and_prepare(PGconn *conn, const char *schema, const char *quoted,
                            struct uf_err *err)
{
    const char *params[1] = { schema };
    PGresult *res =
        PQexecParams(conn, "SELECT pg_advisory_xact_lock(hashtext('ugcflow.migrate.' || $1))", 1,
                     NULL, params, NULL, NULL, 0);
    int rc = 0;
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        rc = uf_err_set(err, UF_EIO, "advisory lock: %s", PQresultErrorMessage(res));
    PQclear(res);
    if (rc)
        return rc;
    char *sql = uf_xasprintf("CREATE SCHEMA IF NOT EXISTS %s; SET LOCAL search_path TO %s;"
                             "CREATE TABLE IF NOT EXISTS ugcflow_migrations ("
                             " version integer PRIMARY KEY, name text NOT NULL,"
                             " applied_at timestamptz NOT NULL DEFAULT now())",
                             quoted, quoted);
    rc = uf_pg_exec(conn, sql, "create schema", err);
    free(sql);
    return rc;
}

static int is_applied(PGconn *conn, int version, struct uf_err *err)
{
    char v[16];
    snprintf(v, sizeof v, "%d", version);
    const char *params[1] = { v };
    PGresult *res = PQexecParams(conn, "SELECT 1 FROM ugcflow_migrations WHERE version = $1::int",
                                 1, NULL, params, NULL, NULL, 0);
    int rc = PQresultStatus(res) != PGRES_TUPLES_OK
                 ? uf_err_set(err, UF_EIO, "read versions: %s", PQresultErrorMessage(res))
                 : PQntuples(res) > 0;
    PQclear(res);
    return rc;
}

static int apply(PGconn *conn, const struct uf_pg_migration *m, struct uf_err *err)
{
    char what[64];
    snprintf(what, sizeof what, "migration %d", m->version);
    if (uf_pg_exec(conn, m->sql, what, err))
        return err ? err->code : UF_EIO;
    char v[16];
    snprintf(v, sizeof v, "%d", m->version);
    const char *params[2] = { v, m->name };
    PGresult *res = PQexecParams(conn,
                                 "INSERT INTO ugcflow_migrations (version, name) "
                                 "VALUES ($1::int, $2)",
                                 2, NULL, params, NULL, NULL, 0);
    int rc = 0;
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        rc = uf_err_set(err, UF_EIO, "%s: record version: %s", what, PQresultErrorMessage(res));
    PQclear(res);
    return rc;
}

int uf_pg_migrate(PGconn *conn, const char *schema, const char *quoted_schema,
                  const struct uf_pg_migrations *list, int *applied, struct uf_err *err)
{
    *applied = 0;
    int rc = uf_pg_exec(conn, "BEGIN", "begin", err);
    if (rc)
        return rc;
    rc = lock_and_prepare(conn, schema, quoted_schema, err);
    for (size_t i = 0; rc == 0 && list && i < list->n; i++) {
        const struct uf_pg_migration *m = &list->v[i];
        int done = is_applied(conn, m->version, err);
        if (done < 0)
            rc = done;
        else if (!done && (rc = apply(conn, m, err)) == 0)
            (*applied)++;
    }
    if (rc == 0)
        rc = uf_pg_exec(conn, "COMMIT", "commit", err);
    if (rc) {
        PGresult *res = PQexec(conn, "ROLLBACK");
        PQclear(res);
        uf_err_prefix(err, "schema %s", quoted_schema);
        *applied = 0;
    }
    return rc;
}
