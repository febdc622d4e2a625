/* postgres_prepare.c: the start-time check of a component's operations against its database:
 * each statement is prepared once (so SQL that PostgreSQL rejects stops the start, naming the
 * operation and where in the statement as written the error is), then described, which finds
 * the columns the replies are made of (`reply`, `status`, `event_id`, a list's cursor keys).
 * Blocking; runs in start() on the migration's connection, before the pool exists. */
#include "sinks/postgres/postgres_prepare.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framework/mem.h"

static int fail_prepare(struct uf_pg_op *op, const PGresult *res, struct uf_err *err)
{
    const char *m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    const char *pos = PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION);
    char where[512];
    if (pos)
        uf_pg_sql_where(op, atoi(pos), where, sizeof where);
    else
        snprintf(where, sizeof where, "%s:%d:%d", op->sql_pos.file, op->sql_pos.line,
                 op->sql_pos.col);
    return uf_err_set(err, UF_EINVAL, "operation '%s' (%s:%d:%d): %s: %s", op->name, op->pos.file,
                      op->pos.line, op->pos.col, where, m ? m : PQresultErrorMessage(res));
}

/* Finds the columns by name; a list must return each of its cursor keys. */
static int find_columns(struct uf_pg_op *op, const PGresult *desc, struct uf_err *err)
{
    op->col_reply = PQfnumber(desc, "reply");
    op->col_status = PQfnumber(desc, "status");
    op->col_event = PQfnumber(desc, "event_id");
    op->writes = op->col_event >= 0;
    for (size_t k = 0; k < op->list.nkeys; k++) {
        char quoted[80];
        snprintf(quoted, sizeof quoted, "\"%s\"", op->list.keys[k].name);
        if ((op->list.keys[k].col = PQfnumber(desc, quoted)) < 0)
            return uf_err_set(err, UF_EINVAL,
                              "operation '%s' (%s:%d:%d): the statement returns no column '%s' "
                              "for the cursor",
                              op->name, op->pos.file, op->pos.line, op->pos.col,
                              op->list.keys[k].name);
    }
    if (op->col_reply < 0 && (op->is_list || op->status != 204) && op->col_status < 0)
        return uf_err_set(err, UF_EINVAL,
                          "operation '%s' (%s:%d:%d): the statement returns no column 'reply' "
                          "(nor 'status'), so it can answer nothing",
                          op->name, op->pos.file, op->pos.line, op->pos.col);
    return 0;
}

static int prepare_one(PGconn *pg, struct uf_pg_op *op, struct uf_err *err)
{
    PGresult *res = PQprepare(pg, op->stmt_name, op->sql, 0, NULL);
    int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : fail_prepare(op, res, err);
    PQclear(res);
    if (rc)
        return rc;
    res = PQdescribePrepared(pg, op->stmt_name);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        rc = uf_err_set(err, UF_EIO, "describe %s: %s", op->name, PQresultErrorMessage(res));
    else
        rc = find_columns(op, res, err);
    PQclear(res);
    char *dealloc = uf_xasprintf("DEALLOCATE \"%s\"", op->stmt_name);
    PQclear(PQexec(pg, dealloc));
    free(dealloc);
    return rc;
}

int uf_pg_ops_prepare(PGconn *pg, const char *quoted_schema, struct uf_pg_ops *ops,
                      struct uf_err *err)
{
    char *sql = uf_xasprintf("SET search_path TO %s", quoted_schema);
    int rc = uf_pg_exec(pg, sql, "search_path", err);
    free(sql);
    for (size_t i = 0; rc == 0 && i < ops->n; i++)
        if (ops->v[i].sql)
            rc = prepare_one(pg, &ops->v[i], err);
    return rc;
}
