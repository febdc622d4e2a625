/* postgres_op.h: the operations of a `postgres` component, as its `operations` option declares
 * them (docs/postgres.md): per route name, one SQL statement with named parameters bound from
 * event paths or constants and what its rows answer (one row, a list with a keyset cursor, no
 * row -> 404), or a switch that picks another operation by an event value. Parsed once at init,
 * with every problem reported at its file:line:column; the statements' result columns are
 * found at start (postgres_prepare.c). Immutable afterwards, so threads share it unlocked. */
#ifndef UF_POSTGRES_OP_H
#define UF_POSTGRES_OP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "framework/config.h"

struct uf_stage;

#define UF_PG_PARAMS_MAX 16
#define UF_PG_KEYS_MAX 4
#define UF_PG_ERRORS_MAX 8
#define UF_PG_CASES_MAX 8

/* Where a parameter's value comes from. */
enum uf_pg_src {
    UF_PG_SRC_PATH,  /* a path into the event body: params.movie_id, query.x, body.text */
    UF_PG_SRC_USER,  /* the event's user; absent: 401 */
    UF_PG_SRC_META,  /* a member of meta: meta.roles (non-strings as JSON text) */
    UF_PG_SRC_CONST, /* "=text" */
    UF_PG_SRC_LIMIT, /* a list's page size plus one */
    UF_PG_SRC_KEY,   /* a field of a list's cursor, or its first-page value */
};

struct uf_pg_param {
    char *name;
    enum uf_pg_src src;
    char *arg;         /* PATH: the path; META: the key; CONST: the text; NULL otherwise */
    int key;           /* KEY: index into the list's keys */
    struct uf_pos pos; /* where it is declared */
};

/* The types a cursor field is checked against before it reaches SQL. */
enum uf_pg_key_type { UF_PG_KEY_TEXT, UF_PG_KEY_INT, UF_PG_KEY_UUID, UF_PG_KEY_TIME };

struct uf_pg_key {
    char *name; /* the parameter it binds and the column the next cursor is read from */
    enum uf_pg_key_type type;
    char *first; /* its value on the first page */
    int col;     /* result column, found at start */
};

struct uf_pg_error {
    int status;
    char *code, *message;
};

struct uf_pg_list {
    char *limit_path; /* e.g. query.limit */
    int64_t limit_def, limit_max;
    char *cursor_path; /* e.g. query.cursor */
    char *tag;         /* tells one list's cursors from another's */
    struct uf_pg_key keys[UF_PG_KEYS_MAX];
    size_t nkeys;
};

struct uf_pg_op {
    char *name;
    struct uf_pos pos; /* of its key in `operations` */
    /* A switch: the operation named by the value at switch_path. */
    char *switch_path;
    char *case_values[UF_PG_CASES_MAX];
    int case_ops[UF_PG_CASES_MAX]; /* indexes into the operations */
    char *case_names[UF_PG_CASES_MAX];
    size_t ncases;
    int default_case; /* -1: the value is required */
    /* A statement. */
    char *stmt_name;   /* the prepared statement's name */
    char *sql;         /* with $n in place of the named parameters */
    char *source;      /* the statement as written */
    char *source_file; /* NULL when inline */
    struct uf_pos sql_pos;
    size_t *anchors; /* pairs (offset in sql, offset in source), one per parameter use */
    size_t nanchors;
    struct uf_pg_param params[UF_PG_PARAMS_MAX];
    int nparams;
    int status;      /* a row's status when the statement gives none */
    char *not_found; /* the message of 404 */
    struct uf_pg_error errors[UF_PG_ERRORS_MAX];
    size_t nerrors;
    bool is_list;
    struct uf_pg_list list;
    /* Result columns (start): -1 when the statement has none of that name. */
    int col_reply, col_status, col_event;
    bool writes; /* it returns event_id: it may put an event in the outbox */
};

struct uf_pg_ops {
    struct uf_pg_op *v;
    size_t n;
};

/* Parses the `operations` node (NULL: none) into ops. SQL files are read relative to the
 * config's directory. Every problem goes to uf_stage_diag; declares the routes answered and
 * the paths read (uf_stage_route_*). Returns the number of problems. */
int uf_pg_ops_parse(struct uf_stage *st, const struct uf_node *node, struct uf_pg_ops *ops);
void uf_pg_ops_free(struct uf_pg_ops *ops);
/* The operation named name, or NULL. */
const struct uf_pg_op *uf_pg_ops_find(const struct uf_pg_ops *ops, const char *name);

/* Turns op->source into op->sql, numbering the named parameters (:name, not ::type and not in
 * literals, quoted names or remarks) in the order of op->params. Fills msg and returns -1
 * when the statement uses a name params does not bind, or the index of the first bound
 * parameter it never uses plus 1. */
int uf_pg_sql_rewrite(struct uf_pg_op *op, char *msg, size_t msgsize);
/* Where the character at 1-based position pos of op->sql (PostgreSQL's error position) is in
 * the statement as written: "file:line:col", inside the file or counted from the sql key. */
void uf_pg_sql_where(const struct uf_pg_op *op, int pos, char *buf, size_t size);

#endif
