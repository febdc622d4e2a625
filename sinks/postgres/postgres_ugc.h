/* postgres_ugc.h: the UGC operations of the `postgres` kind, kept apart from
 * libpq. A request event ({"route","params","query","body"} plus ev->user and
 * meta.roles) is turned into a call: one prepared statement and its text
 * parameters. The statement's rows (each row is one JSON object, built by
 * PostgreSQL) are turned back into the HTTP reply; a write's analytics event is
 * made by its statement itself (the outbox, postgres_sql.c). Nothing here does
 * I/O, so all of it is unit-tested without a database. Calls are not shared
 * between threads. */
#ifndef UF_POSTGRES_UGC_H
#define UF_POSTGRES_UGC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "framework/uuid.h"

struct uf_event;

#define UF_PG_PARAMS_MAX 5
#define UF_PG_LIMIT_DEFAULT 20
#define UF_PG_LIMIT_MAX 100
#define UF_PG_TEXT_MAX 5000 /* characters of a comment */

/* A prepared statement: its name and SQL. Every statement answers rows whose
 * first column is a JSON object. Names carry a version so a changed statement
 * never meets an older one. */
struct uf_pg_stmt {
    const char *name;
    const char *sql;
    bool writes; /* it may change rows (and insert an outbox event) */
};
/* Indexes into uf_pg_stmts. */
enum uf_pg_stmt_id {
    ST_REACT,
    ST_REACT_DEL,
    ST_REACT_GET,
    ST_REACT_COUNT,
    ST_COMMENT_ADD,
    ST_COMMENTS_NEW,
    ST_COMMENTS_TOP,
    ST_COMMENT_DEL,
    ST_VOTE_PUT,
    ST_VOTE_DEL,
    ST_FAV_PUT,
    ST_FAV_DEL,
    ST_FAV_GET,
    ST_FAVS,
    ST_PROGRESS,
    ST_HISTORY,
    ST_HISTORY_UNFINISHED,
};
extern const struct uf_pg_stmt uf_pg_stmts[];
extern const size_t uf_pg_nstmts;

/* What a finished call answers. */
struct uf_pg_reply {
    int status;        /* HTTP status */
    char *body;        /* owned JSON text; NULL for 204 and for errors */
    size_t body_len;
    const char *code;  /* static error code when status >= 400 */
    char msg[256];     /* error message when status >= 400 */
};

struct uf_pg_call {
    int route; /* index into the route table */
    int stmt;  /* index into uf_pg_stmts */
    int nparams;
    char *params[UF_PG_PARAMS_MAX]; /* owned; NULL is SQL NULL */
    int64_t limit;                  /* list routes: items asked for (one more is fetched) */
    char user[UF_UUID_STR];         /* "" for anonymous */
    char target[UF_UUID_STR];       /* the movie or comment of the path */
    bool admin;                     /* the token has role admin */
    struct uf_event *ev;            /* owned by whoever holds the call */
    struct uf_pg_call *next;        /* the pool's queue link */
};

/* Fills call from the request event (borrowed). Returns 0, or -1 with rep set
 * to the 4xx reply (unknown route, missing user, bad UUID, bad field). call->ev
 * is left to the caller. */
int uf_pg_call_build(const struct uf_event *ev, struct uf_pg_call *call, struct uf_pg_reply *rep);

/* One row of a statement's result: the JSON object PostgreSQL rendered and, for a write that
 * changed something, the id of the analytics event it put in the outbox (NULL otherwise);
 * both borrowed. */
struct uf_pg_row {
    const char *text;
    size_t len;
    const char *event_id;
};

/* Fills rep from the statement's n rows. */
void uf_pg_call_answer(const struct uf_pg_call *call, const struct uf_pg_row *rows, size_t n,
                       struct uf_pg_reply *rep);

/* Frees the parameters (not the event). Accepts a zeroed call. */
void uf_pg_call_clear(struct uf_pg_call *call);
void uf_pg_reply_clear(struct uf_pg_reply *rep);

/* The route names, for docs and tests: NULL-terminated. */
extern const char *const uf_pg_route_names[];

/* Cursors are opaque to clients: base64url (no padding) of "<tag>|<field>|...".
 * encode returns a new string; decode splits into at most max fields (borrowing
 * into buf, which must hold the decoded text) and returns the number of fields,
 * or -1 when malformed or of another tag. */
char *uf_pg_cursor_encode(const char *tag, const char *const *fields, size_t n);
int uf_pg_cursor_decode(const char *cursor, const char *tag, char *buf, size_t bufsize,
                        const char **fields, size_t max);

#endif
