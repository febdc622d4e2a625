/* pg.h: what every PostgreSQL user of ugcflow shares: opening a connection with the
 * product's session defaults, quoting identifiers, and reading the outbox's depth. The only
 * header besides the postgres kinds' own that includes libpq. Blocking calls; a PGconn is used
 * by one thread at a time. */
#ifndef UF_PG_H
#define UF_PG_H

#include <libpq-fe.h>
#include <stdint.h>

#include "framework/err.h"

/* Opens one connection (blocking, at most connect_timeout_ms rounded up to whole seconds),
 * with server notices kept off stderr. NULL with err naming the host, port and cause. */
PGconn *uf_pg_connect(const char *dsn, int64_t connect_timeout_ms, struct uf_err *err);

/* "name" with embedded quotes doubled (the SQL standard's identifier quoting). New string. */
char *uf_pg_quote_ident(const char *s);

/* Runs one command without parameters; 0, or UF_EIO with err = "what: PostgreSQL's message"
 * (its first line). */
int uf_pg_exec(PGconn *pg, const char *sql, const char *what, struct uf_err *err);

/* The outbox's backlog: rows waiting (counted up to `cap`, so a huge backlog costs a bounded
 * scan) and the age in milliseconds of the oldest (0 when empty). `table` is quoted and
 * schema-qualified. 0, or UF_EIO with err set. */
int uf_pg_outbox_depth(PGconn *pg, const char *table, int64_t cap, int64_t *depth,
                       int64_t *oldest_age_ms, struct uf_err *err);

#endif
