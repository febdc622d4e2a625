/* postgres_op.c: reads the `postgres` kind's `operations` option from the config tree (see
 * postgres_op.h and docs/postgres.md), one small function per part, with each problem at the
 * file:line:column of the node it is about, and declares to the graph the routes the component
 * answers and the event paths each reads. Runs at init: reads SQL files, no other I/O. */
#include "sinks/postgres/postgres_op.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framework/mem.h"
#include "framework/options.h"
#include "framework/stage.h"
#include "framework/strbuf.h"

#define SQL_FILE_MAX (1 << 20)

static const char *const op_keys[] = { "sql",    "sql_file", "params", "status", "not_found",
                                       "errors", "list",     "switch", NULL };
static const char *const list_keys[] = { "limit", "cursor", "keys", NULL };
static const char *const key_types[] = { "text", "int", "uuid", "time", NULL };

struct parser {
    struct uf_stage *st;
    struct uf_pg_ops *ops;
    int errors;
};

static void problem(struct parser *p, const struct uf_pos *pos, const char *op, const char *fmt,
                    const char *a, const char *b)
{
    char msg[512];
    snprintf(msg, sizeof msg, fmt, a, b);
    uf_stage_diag(p->st, pos, "operation '%s': %s", op, msg);
    p->errors++;
}

static int find_word(const char *const *list, const char *s)
{
    for (int i = 0; list[i]; i++)
        if (strcmp(list[i], s) == 0)
            return i;
    return -1;
}

static const char *scalar(struct parser *p, const struct uf_node *n, const char *op,
                          const char *what)
{
    if (n && n->type == UF_NODE_SCALAR)
        return n->scalar;
    problem(p, n ? &n->pos : NULL, op, "%s: expected a scalar%s", what, "");
    return NULL;
}

static bool int_of(struct parser *p, const struct uf_node *n, const char *op, const char *what,
                   int64_t min, int64_t max, int64_t *out)
{
    const char *s = scalar(p, n, op, what);
    char *end = NULL;
    errno = 0;
    long long v = s ? strtoll(s, &end, 10) : 0;
    if (s && *s && !*end && !errno && v >= min && v <= max) {
        *out = v;
        return true;
    }
    if (s) {
        char range[64];
        snprintf(range, sizeof range, "%lld to %lld", (long long)min, (long long)max);
        problem(p, &n->pos, op, "%s: expected an integer from %s", what, range);
    }
    return false;
}

static bool check_keys(struct parser *p, const struct uf_node *map, const char *const *allowed,
                       const char *op, const char *what)
{
    if (!map || map->type != UF_NODE_MAP) {
        problem(p, map ? &map->pos : NULL, op, "%s: expected a mapping%s", what, "");
        return false;
    }
    bool ok = true;
    for (size_t i = 0; i < map->n; i++) {
        if (find_word(allowed, map->keys[i]) >= 0)
            continue;
        char known[256] = "";
        for (size_t k = 0; allowed[k]; k++)
            snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", k ? ", " : "",
                     allowed[k]);
        problem(p, &map->key_pos[i], op, "unknown setting '%s' (expected one of: %s)", map->keys[i],
                known);
        ok = false;
    }
    return ok;
}

/* ---- the statement ---- */

static char *read_file(const char *path, char *msg, size_t msgsize)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(msg, msgsize, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    struct uf_strbuf sb = { 0 };
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0 && sb.len <= SQL_FILE_MAX)
        uf_strbuf_append(&sb, buf, n);
    fclose(f);
    if (sb.len > SQL_FILE_MAX || sb.len == 0) {
        snprintf(msg, msgsize, "%s: %s", path, sb.len ? "larger than 1 MiB" : "empty");
        uf_strbuf_free(&sb);
        return NULL;
    }
    return uf_strbuf_take(&sb);
}

static void parse_sql(struct parser *p, struct uf_pg_op *op, const struct uf_node *body)
{
    const struct uf_node *inl = uf_node_get(body, "sql"), *file = uf_node_get(body, "sql_file");
    if (!inl == !file) {
        problem(p, &op->pos, op->name, "needs exactly one of sql, sql_file or switch%s%s", "", "");
        return;
    }
    const struct uf_node *n = inl ? inl : file;
    const char *s = scalar(p, n, op->name, inl ? "sql" : "sql_file");
    if (!s)
        return;
    op->sql_pos = n->pos;
    if (inl) {
        op->source = uf_xstrdup(s);
        return;
    }
    const char *dir = uf_stage_config_dir(p->st);
    op->source_file = s[0] == '/' ? uf_xstrdup(s) : uf_xasprintf("%s/%s", dir, s);
    char msg[400];
    if (!(op->source = read_file(op->source_file, msg, sizeof msg)))
        problem(p, &n->pos, op->name, "sql_file: %s%s", msg, "");
}

/* ---- parameters ---- */

static bool param_name_ok(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n < 64 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == n &&
           !(s[0] >= '0' && s[0] <= '9');
}

static struct uf_pg_param *add_param(struct parser *p, struct uf_pg_op *op, const char *name,
                                     const struct uf_pos *pos)
{
    if (!param_name_ok(name)) {
        problem(p, pos, op->name, "parameter '%s': names are [a-z_][a-z0-9_]*%s", name, "");
        return NULL;
    }
    for (int i = 0; i < op->nparams; i++)
        if (strcmp(op->params[i].name, name) == 0) {
            problem(p, pos, op->name, "parameter '%s' is bound twice%s", name, "");
            return NULL;
        }
    if (op->nparams == UF_PG_PARAMS_MAX) {
        problem(p, pos, op->name, "more than 16 parameters%s%s", "", "");
        return NULL;
    }
    struct uf_pg_param *pa = &op->params[op->nparams++];
    pa->name = uf_xstrdup(name);
    pa->pos = *pos;
    return pa;
}

/* A parameter's source: "=text", "user", "meta.key" or a path into the event. */
static void param_source(struct parser *p, struct uf_pg_op *op, struct uf_pg_param *pa,
                         const struct uf_node *n)
{
    const char *s = scalar(p, n, op->name, pa->name);
    if (!s)
        return;
    if (s[0] == '=') {
        pa->src = UF_PG_SRC_CONST;
        pa->arg = uf_xstrdup(s + 1);
        return;
    }
    bool ok = *s &&
              strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") ==
                  strlen(s) &&
              s[0] != '.' && s[strlen(s) - 1] != '.' && !strstr(s, "..");
    if (!ok) {
        problem(p, &n->pos, op->name,
                "parameter '%s': '%s' is neither an event path nor a constant (=text)", pa->name,
                s);
        return;
    }
    pa->src = strcmp(s, "user") == 0        ? UF_PG_SRC_USER
              : strncmp(s, "meta.", 5) == 0 ? UF_PG_SRC_META
                                            : UF_PG_SRC_PATH;
    pa->arg = uf_xstrdup(pa->src == UF_PG_SRC_META ? s + 5 : s);
    if (pa->src != UF_PG_SRC_CONST)
        uf_stage_route_reads(p->st, op->name, s, &n->pos);
}

static void parse_params(struct parser *p, struct uf_pg_op *op, const struct uf_node *map)
{
    if (!map)
        return;
    if (map->type != UF_NODE_MAP) {
        problem(p, &map->pos, op->name, "params: expected a mapping of name: source%s", "", "");
        return;
    }
    for (size_t i = 0; i < map->n; i++) {
        struct uf_pg_param *pa = add_param(p, op, map->keys[i], &map->key_pos[i]);
        if (pa)
            param_source(p, op, pa, map->items[i]);
    }
}

/* ---- replies ---- */

static const char *default_code(int status)
{
    switch (status) {
    case 401:
        return "unauthorized";
    case 403:
        return "forbidden";
    case 404:
        return "not_found";
    case 409:
        return "conflict";
    case 422:
        return "invalid_field";
    default:
        return status < 500 ? "bad_request" : "store_error";
    }
}

static void parse_error(struct parser *p, struct uf_pg_op *op, const char *key,
                        const struct uf_pos *kpos, const struct uf_node *v)
{
    int64_t status;
    struct uf_node k = { .type = UF_NODE_SCALAR, .pos = *kpos, .scalar = (char *)key };
    if (!int_of(p, &k, op->name, "errors", 400, 599, &status))
        return;
    if (op->nerrors == UF_PG_ERRORS_MAX) {
        problem(p, kpos, op->name, "errors: at most 8%s%s", "", "");
        return;
    }
    struct uf_pg_error *e = &op->errors[op->nerrors++];
    e->status = (int)status;
    const struct uf_node *code = v && v->type == UF_NODE_MAP ? uf_node_get(v, "code") : NULL;
    const struct uf_node *msg = v && v->type == UF_NODE_MAP ? uf_node_get(v, "message") : v;
    const char *m = scalar(p, msg, op->name, "errors: message");
    e->message = uf_xstrdup(m ? m : "");
    e->code =
        uf_xstrdup(code && code->type == UF_NODE_SCALAR ? code->scalar : default_code(e->status));
}

static void parse_reply(struct parser *p, struct uf_pg_op *op, const struct uf_node *body)
{
    int64_t status = 200;
    const struct uf_node *n = uf_node_get(body, "status");
    if (n)
        int_of(p, n, op->name, "status", 200, 599, &status);
    op->status = (int)status;
    const char *nf =
        (n = uf_node_get(body, "not_found")) ? scalar(p, n, op->name, "not_found") : NULL;
    op->not_found = uf_xstrdup(nf ? nf : "not found");
    const struct uf_node *errs = uf_node_get(body, "errors");
    if (errs && errs->type != UF_NODE_MAP)
        problem(p, &errs->pos, op->name, "errors: expected a mapping of status: message%s", "", "");
    for (size_t i = 0; errs && errs->type == UF_NODE_MAP && i < errs->n; i++)
        parse_error(p, op, errs->keys[i], &errs->key_pos[i], errs->items[i]);
}

/* ---- lists ---- */

static void parse_key(struct parser *p, struct uf_pg_op *op, const char *name,
                      const struct uf_pos *kpos, const struct uf_node *v)
{
    struct uf_pg_list *l = &op->list;
    if (l->nkeys == UF_PG_KEYS_MAX) {
        problem(p, kpos, op->name, "list: at most 4 cursor keys%s%s", "", "");
        return;
    }
    static const char *const kk[] = { "type", "first", NULL };
    struct uf_pg_param *pa =
        check_keys(p, v, kk, op->name, "list: keys") ? add_param(p, op, name, kpos) : NULL;
    const char *type = pa ? scalar(p, uf_node_get(v, "type"), op->name, "type") : NULL;
    const char *first = type ? scalar(p, uf_node_get(v, "first"), op->name, "first") : NULL;
    int t = type ? find_word(key_types, type) : -1;
    if (type && t < 0)
        problem(p, &uf_node_get(v, "type")->pos, op->name,
                "list key '%s': type '%s' is not one of text, int, uuid, time", name, type);
    if (!first || t < 0)
        return;
    pa->src = UF_PG_SRC_KEY;
    pa->key = (int)l->nkeys;
    l->keys[l->nkeys++] = (struct uf_pg_key){ .name = uf_xstrdup(name),
                                              .type = (enum uf_pg_key_type)t,
                                              .first = uf_xstrdup(first),
                                              .col = -1 };
}

static const char *path_of(struct parser *p, struct uf_pg_op *op, const struct uf_node *map,
                           const char *what)
{
    const struct uf_node *n = map ? uf_node_get(map, "from") : NULL;
    const char *s = scalar(p, n ? n : map, op->name, what);
    if (s)
        uf_stage_route_reads(p->st, op->name, s, &(n ? n : map)->pos);
    return s;
}

static void parse_list(struct parser *p, struct uf_pg_op *op, const struct uf_node *l)
{
    if (!check_keys(p, l, list_keys, op->name, "list"))
        return;
    op->is_list = true;
    struct uf_pg_list *li = &op->list;
    li->limit_def = 20, li->limit_max = 100;
    const struct uf_node *lim = uf_node_get(l, "limit"), *cur = uf_node_get(l, "cursor");
    static const char *const limk[] = { "from", "default", "max", NULL };
    static const char *const curk[] = { "from", "tag", NULL };
    if (lim && check_keys(p, lim, limk, op->name, "list: limit")) {
        const char *s = path_of(p, op, lim, "list: limit: from");
        li->limit_path = s ? uf_xstrdup(s) : NULL;
        if (uf_node_get(lim, "max"))
            int_of(p, uf_node_get(lim, "max"), op->name, "max", 1, 10000, &li->limit_max);
        if (uf_node_get(lim, "default"))
            int_of(p, uf_node_get(lim, "default"), op->name, "default", 1, li->limit_max,
                   &li->limit_def);
    }
    struct uf_pg_param *pa = add_param(p, op, "limit", &l->pos);
    if (pa)
        pa->src = UF_PG_SRC_LIMIT;
    if (cur && check_keys(p, cur, curk, op->name, "list: cursor")) {
        const char *s = path_of(p, op, cur, "list: cursor: from");
        const char *tag = scalar(p, uf_node_get(cur, "tag"), op->name, "list: cursor: tag");
        li->cursor_path = s ? uf_xstrdup(s) : NULL;
        li->tag = uf_xstrdup(tag && *tag && !strchr(tag, '|') ? tag : "c");
    }
    const struct uf_node *keys = uf_node_get(l, "keys");
    if (cur && (!keys || keys->type != UF_NODE_MAP || keys->n == 0))
        problem(p, &cur->pos, op->name, "list: a cursor needs keys (name: {type, first})%s", "",
                "");
    for (size_t i = 0; keys && keys->type == UF_NODE_MAP && i < keys->n; i++)
        parse_key(p, op, keys->keys[i], &keys->key_pos[i], keys->items[i]);
}

/* ---- switches ---- */

static void parse_switch(struct parser *p, struct uf_pg_op *op, const struct uf_node *sw)
{
    static const char *const swk[] = { "on", "cases", "default", NULL };
    if (!check_keys(p, sw, swk, op->name, "switch"))
        return;
    const char *on = scalar(p, uf_node_get(sw, "on"), op->name, "switch: on");
    const struct uf_node *cases = uf_node_get(sw, "cases");
    if (!on || !cases || cases->type != UF_NODE_MAP || cases->n == 0 ||
        cases->n > UF_PG_CASES_MAX) {
        problem(p, &sw->pos, op->name, "switch: needs on (a path) and 1 to 8 cases%s%s", "", "");
        return;
    }
    op->switch_path = uf_xstrdup(on);
    uf_stage_route_reads(p->st, op->name, on, &uf_node_get(sw, "on")->pos);
    for (size_t i = 0; i < cases->n; i++) {
        const char *target = scalar(p, cases->items[i], op->name, "switch: cases");
        op->case_values[op->ncases] = uf_xstrdup(cases->keys[i]);
        op->case_names[op->ncases] = uf_xstrdup(target ? target : "");
        op->case_ops[op->ncases++] = -1;
    }
    op->default_case = -1;
    const struct uf_node *def = uf_node_get(sw, "default");
    const char *d = def ? scalar(p, def, op->name, "switch: default") : NULL;
    for (size_t i = 0; d && i < op->ncases; i++)
        if (strcmp(op->case_values[i], d) == 0)
            op->default_case = (int)i;
    if (d && op->default_case < 0)
        problem(p, &def->pos, op->name, "switch: default '%s' is not one of the cases%s", d, "");
}

/* Resolves each switch's cases to statement operations, and declares under the switch's name
 * (the route) the paths its cases read. */
static void link_switches(struct parser *p)
{
    struct uf_pg_ops *ops = p->ops;
    for (size_t i = 0; i < ops->n; i++) {
        struct uf_pg_op *op = &ops->v[i];
        for (size_t c = 0; c < op->ncases; c++) {
            const struct uf_pg_op *t = uf_pg_ops_find(ops, op->case_names[c]);
            if (!t || t->switch_path) {
                problem(p, &op->pos, op->name,
                        "switch: case '%s' names '%s', which is not a statement operation",
                        op->case_values[c], op->case_names[c]);
                continue;
            }
            op->case_ops[c] = (int)(t - ops->v);
            for (int k = 0; k < t->nparams; k++) {
                const struct uf_pg_param *pa = &t->params[k];
                if (pa->src == UF_PG_SRC_PATH || pa->src == UF_PG_SRC_USER)
                    uf_stage_route_reads(p->st, op->name, pa->arg, &t->pos);
            }
        }
    }
}

/* ---- operations ---- */

static void parse_op(struct parser *p, struct uf_pg_op *op, const struct uf_node *body)
{
    if (!check_keys(p, body, op_keys, op->name, "the operation"))
        return;
    uf_stage_route_answers(p->st, op->name, &op->pos);
    op->col_reply = op->col_status = op->col_event = -1;
    const struct uf_node *sw = uf_node_get(body, "switch");
    if (sw) {
        if (body->n > 1)
            problem(p, &sw->pos, op->name, "a switch has no other settings%s%s", "", "");
        parse_switch(p, op, sw);
        return;
    }
    op->stmt_name = uf_xasprintf("uf_%s", op->name);
    parse_sql(p, op, body);
    parse_params(p, op, uf_node_get(body, "params"));
    parse_reply(p, op, body);
    if (uf_node_get(body, "list"))
        parse_list(p, op, uf_node_get(body, "list"));
    char msg[400];
    int rc = op->source ? uf_pg_sql_rewrite(op, msg, sizeof msg) : 0;
    if (rc != 0)
        problem(p, rc > 0 ? &op->params[rc - 1].pos : &op->sql_pos, op->name, "%s%s", msg, "");
}

int uf_pg_ops_parse(struct uf_stage *st, const struct uf_node *node, struct uf_pg_ops *ops)
{
    struct parser p = { .st = st, .ops = ops };
    memset(ops, 0, sizeof *ops);
    if (!node)
        return 0;
    if (node->type != UF_NODE_MAP) {
        uf_stage_diag(st, &node->pos, "operations: expected a mapping of route name: operation");
        return 1;
    }
    ops->v = uf_xcalloc(node->n + 1, sizeof *ops->v);
    for (size_t i = 0; i < node->n; i++) {
        struct uf_pg_op *op = &ops->v[ops->n++];
        op->name = uf_xstrdup(node->keys[i]);
        op->pos = node->key_pos[i];
        parse_op(&p, op, node->items[i]);
    }
    link_switches(&p);
    return p.errors;
}

const struct uf_pg_op *uf_pg_ops_find(const struct uf_pg_ops *ops, const char *name)
{
    for (size_t i = 0; name && i < ops->n; i++)
        if (strcmp(ops->v[i].name, name) == 0)
            return &ops->v[i];
    return NULL;
}

static void op_free(struct uf_pg_op *op)
{
    free(op->name);
    free(op->switch_path);
    for (size_t i = 0; i < op->ncases; i++) {
        free(op->case_values[i]);
        free(op->case_names[i]);
    }
    free(op->stmt_name);
    free(op->sql);
    free(op->source);
    free(op->source_file);
    free(op->anchors);
    for (int i = 0; i < op->nparams; i++) {
        free(op->params[i].name);
        free(op->params[i].arg);
    }
    free(op->not_found);
    for (size_t i = 0; i < op->nerrors; i++) {
        free(op->errors[i].code);
        free(op->errors[i].message);
    }
    free(op->list.limit_path);
    free(op->list.cursor_path);
    free(op->list.tag);
    for (size_t i = 0; i < op->list.nkeys; i++) {
        free(op->list.keys[i].name);
        free(op->list.keys[i].first);
    }
}

void uf_pg_ops_free(struct uf_pg_ops *ops)
{
    for (size_t i = 0; ops && i < ops->n; i++)
        op_free(&ops->v[i]);
    if (ops) {
        free(ops->v);
        ops->v = NULL;
        ops->n = 0;
    }
}
