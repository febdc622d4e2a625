/* postgres_prepare.h: checks a component's operations against PostgreSQL at start (see
 * postgres_prepare.c): every statement prepared and described once, its reply columns found.
 * Blocking; uses the connection it is given and changes its search_path. */
#ifndef UF_POSTGRES_PREPARE_H
#define UF_POSTGRES_PREPARE_H

#include <libpq-fe.h>

#include "framework/err.h"
#include "framework/pg.h"
#include "sinks/postgres/postgres_op.h"

/* Prepares each statement of ops (then deallocates it) and fills its columns. Returns 0, or
 * UF_EINVAL with err naming the operation, its position and where in the statement
 * PostgreSQL found the error (file:line:column), or UF_EIO when the connection failed. */
int uf_pg_ops_prepare(PGconn *pg, const char *quoted_schema, struct uf_pg_ops *ops,
                      struct uf_err *err);

#endif
