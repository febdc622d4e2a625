/* postgres_call.h: one request through a declared operation (postgres_op.h), kept apart from
 * libpq. A request event is turned into a call (the statement and its text parameters, or a
 * 4xx), and the statement's rows back into the reply: the `reply` column's JSON text spliced
 * in as it is (no tree on the way out), `status` and `event_id` columns when the statement has
 * them, lists as {"items": [...], "next_cursor": ...}. Nothing here does I/O, so all of it is
 * unit-tested without a database. Calls are not shared between threads. */
#ifndef UF_POSTGRES_CALL_H
#define UF_POSTGRES_CALL_H

#include <stddef.h>
#include <stdint.h>

#include "sinks/postgres/postgres_op.h"

struct uf_event;

/* What a finished call answers. */
struct uf_pg_reply {
    int status; /* HTTP status */
    char *body; /* owned JSON text; NULL for no body and for errors */
    size_t body_len;
    const char *code; /* error code when status >= 400, borrowed from the operation or static */
    char msg[256];    /* error message when status >= 400 */
};

struct uf_pg_call {
    const struct uf_pg_op *op; /* the statement operation (a switch already resolved) */
    int nparams;
    char *params[UF_PG_PARAMS_MAX]; /* owned; NULL is SQL NULL */
    int64_t limit;                  /* lists: items asked for (one more is fetched) */
    struct uf_event *ev;            /* owned by whoever holds the call */
    struct uf_pg_call *next;        /* the pool's queue link */
};

/* Fills call from the request event (borrowed): the operation named by its `route`, the
 * parameters from their paths. Returns 0, or -1 with rep set to the 4xx reply (no such
 * operation, no user where one is bound, a bad limit or cursor, a switch value without a
 * case). call->ev is left to the caller. */
int uf_pg_call_build(const struct uf_pg_ops *ops, const struct uf_event *ev,
                     struct uf_pg_call *call, struct uf_pg_reply *rep);

/* One row of a statement's result, the columns the operation names (postgres_prepare.c), all
 * borrowed: NULL for a column the statement lacks or a NULL value. */
struct uf_pg_row {
    const char *text; /* `reply`: a JSON value */
    size_t len;
    const char *event_id;
    const char *status;
    const char *keys[UF_PG_KEYS_MAX]; /* a list's cursor columns */
};

/* Fills rep from the statement's n rows. */
void uf_pg_call_answer(const struct uf_pg_call *call, const struct uf_pg_row *rows, size_t n,
                       struct uf_pg_reply *rep);

/* Frees the parameters (not the event). Accepts a zeroed call. */
void uf_pg_call_clear(struct uf_pg_call *call);
void uf_pg_reply_clear(struct uf_pg_reply *rep);

/* Cursors are opaque to clients: base64url (no padding) of "<tag>|<field>|...".
 * encode returns a new string; decode splits into at most max fields (borrowing
 * into buf, which must hold the decoded text) and returns the number of fields,
 * or -1 when malformed or of another tag. */
char *uf_pg_cursor_encode(const char *tag, const char *const *fields, size_t n);
int uf_pg_cursor_decode(const char *cursor, const char *tag, char *buf, size_t bufsize,
                        const char **fields, size_t max);

#endif
