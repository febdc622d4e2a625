/* pg_migrate.h: the UGC store's schema, as numbered migrations applied at
 * start. uf_pg_migrate runs every migration the schema's ugcflow_migrations
 * table does not list yet, all in one transaction under a transaction-scoped
 * advisory lock keyed by the schema name, so several ugcflow processes starting
 * together apply each migration exactly once and a failed migration leaves
 * nothing behind. Blocking; uses the connection it is given and leaves its
 * session settings as they were. */
#ifndef UF_PG_MIGRATE_H
#define UF_PG_MIGRATE_H

#include <libpq-fe.h>

#include "err.h"

struct uf_pg_migration {
    int version;
    const char *name;
    const char *sql; /* run with search_path set to the schema */
};
extern const struct uf_pg_migration uf_pg_migrations[];

/* Creates the schema when missing and applies the pending migrations.
 * quoted_schema is an identifier already quoted (PQescapeIdentifier). Returns 0
 * and sets *applied to the number of migrations run, or a negative UF_E* code
 * with err naming the migration and PostgreSQL's message. */
int uf_pg_migrate(PGconn *conn, const char *schema, const char *quoted_schema, int *applied,
                  struct uf_err *err);

#endif
