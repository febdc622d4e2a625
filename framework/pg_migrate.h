/* pg_migrate.h: a PostgreSQL schema's migrations: numbered SQL files in a folder
 * (NNNN_name.sql), read once and applied at start. uf_pg_migrate runs every migration the
 * schema's ugcflow_migrations table does not list yet, all in one transaction under a
 * transaction-scoped advisory lock keyed by the schema name, so several ugcflow processes
 * starting together apply each migration exactly once and a failed one leaves nothing behind.
 * Blocking; uses the connection it is given and leaves its session settings as they were. */
#ifndef UF_PG_MIGRATE_H
#define UF_PG_MIGRATE_H

#include <libpq-fe.h>
#include <stddef.h>

#include "framework/err.h"

struct uf_stage;

struct uf_pg_migration {
    int version;
    char *name; /* the file's name without .sql */
    char *sql;  /* run with search_path set to the schema */
};

struct uf_pg_migrations {
    struct uf_pg_migration *v; /* by version */
    size_t n;
};

/* Reads dir's migrations (every file must be NNNN_name.sql, each version once). 0, or a
 * negative UF_E* code with err naming the folder or file. */
int uf_pg_migrations_load(const char *dir, struct uf_pg_migrations *out, struct uf_err *err);
void uf_pg_migrations_free(struct uf_pg_migrations *m);

/* For a kind's option naming the folder (relative to the config file; NULL: no migrations):
 * loads them at init, reporting a problem at the option's position (uf_stage_diag). */
int uf_pg_migrations_option(struct uf_stage *st, const char *option, const char *path,
                            struct uf_pg_migrations *out);

/* Creates the schema when missing and applies the pending migrations of list (NULL: none).
 * quoted_schema is an identifier already quoted. Returns 0 and sets *applied to the number of
 * migrations run, or a negative UF_E* code with err naming the migration and PostgreSQL's
 * message. */
int uf_pg_migrate(PGconn *conn, const char *schema, const char *quoted_schema,
                  const struct uf_pg_migrations *list, int *applied, struct uf_err *err);

#endif
