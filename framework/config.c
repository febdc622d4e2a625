/* config.c: loading pipeline.yaml into positioned node trees (see config.h).
 * libyaml's document API gives the whole tree with marks; one small function per section walks
 * it. Scalars are interpolated (${VAR}, ${VAR:-default}) as they are copied, so a missing
 * variable is reported at the scalar's own position. Shape errors are collected, not fatal. */
#include "framework/config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "framework/err.h"
#include "framework/mem.h"
#include "framework/options.h"
#include "framework/strbuf.h"

#define MAX_DEPTH 64

void uf_diags_add(struct uf_diags *d, const struct uf_pos *pos, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 8;
        d->v = uf_xrealloc(d->v, d->cap * sizeof *d->v);
    }
    struct uf_diag *g = &d->v[d->n++];
    g->pos = pos ? *pos : (struct uf_pos){ 0 };
    /* The config (and its file name) may be freed before the diagnostics are printed. */
    g->file = g->pos.file ? uf_xstrdup(g->pos.file) : NULL;
    g->pos.file = g->file;
    g->msg = uf_xstrdup(msg);
}

static int cmp_diag(const void *a, const void *b)
{
    const struct uf_diag *x = a, *y = b;
    if (x->pos.line != y->pos.line)
        return x->pos.line - y->pos.line;
    return x->pos.col - y->pos.col;
}

void uf_diags_print(const struct uf_diags *d, void *f)
{
    if (d->n == 0)
        return;
    struct uf_diag *sorted = uf_xmalloc(d->n * sizeof *sorted);
    memcpy(sorted, d->v, d->n * sizeof *sorted);
    qsort(sorted, d->n, sizeof *sorted, cmp_diag); /* stable enough: equal positions are rare */
    for (size_t i = 0; i < d->n; i++) {
        const struct uf_pos *p = &sorted[i].pos;
        if (p->file && p->line)
            fprintf(f, "%s:%d:%d: error: %s\n", p->file, p->line, p->col, sorted[i].msg);
        else
            fprintf(f, "%s: error: %s\n", p->file ? p->file : "config", sorted[i].msg);
    }
    free(sorted);
}

void uf_diags_free(struct uf_diags *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->v[i].msg);
        free(d->v[i].file);
    }
    free(d->v);
    *d = (struct uf_diags){ 0 };
}

char *uf_config_interpolate(const char *s, char **bad)
{
    struct uf_strbuf sb = { 0 };
    *bad = NULL;
    uf_strbuf_append(&sb, "", 0);
    for (const char *p = s; *p;) {
        if (p[0] == '$' && p[1] == '$') {
            uf_strbuf_append(&sb, "$", 1);
            p += 2;
            continue;
        }
        const char *close = p[0] == '$' && p[1] == '{' ? strchr(p + 2, '}') : NULL;
        if (!close) {
            uf_strbuf_append(&sb, p, 1);
            p++;
            continue;
        }
        char *expr = uf_xstrndup(p + 2, (size_t)(close - p - 2));
        char *dflt = strstr(expr, ":-");
        if (dflt) {
            *dflt = '\0';
            dflt += 2;
        }
        const char *val = getenv(expr);
        if (val && *val)
            uf_strbuf_puts(&sb, val);
        else if (dflt)
            uf_strbuf_puts(&sb, dflt);
        else if (val)
            ; /* set but empty, no default: empty string */
        else {
            *bad = expr;
            uf_strbuf_free(&sb);
            return NULL;
        }
        free(expr);
        p = close + 1;
    }
    return uf_strbuf_take(&sb);
}

struct loader {
    yaml_document_t doc;
    const char *file;
    struct uf_diags *diags;
};

static struct uf_pos pos_of(const struct loader *ld, yaml_mark_t m)
{
    return (struct uf_pos){ .file = ld->file, .line = (int)m.line + 1, .col = (int)m.column + 1 };
}

static struct uf_node *convert(struct loader *ld, yaml_node_t *yn, int depth);

static struct uf_node *convert_scalar(struct loader *ld, yaml_node_t *yn, struct uf_node *n)
{
    const char *raw = (const char *)yn->data.scalar.value;
    char *bad;
    n->scalar = uf_config_interpolate(raw, &bad);
    if (!n->scalar) {
        uf_diags_add(ld->diags, &n->pos,
                     "environment variable '%s' is not set (use ${%s:-default} to give a default)",
                     bad, bad);
        free(bad);
        n->scalar = uf_xstrdup("");
        n->unset = true;
    }
    n->plain = yn->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    return n;
}

static struct uf_node *convert(struct loader *ld, yaml_node_t *yn, int depth)
{
    struct uf_node *n = uf_xcalloc(1, sizeof *n);
    n->pos = pos_of(ld, yn->start_mark);
    if (depth > MAX_DEPTH) {
        uf_diags_add(ld->diags, &n->pos, "nesting is deeper than %d levels", MAX_DEPTH);
        n->type = UF_NODE_SCALAR;
        n->scalar = uf_xstrdup("");
        return n;
    }
    if (yn->type == YAML_SCALAR_NODE) {
        n->type = UF_NODE_SCALAR;
        return convert_scalar(ld, yn, n);
    }
    if (yn->type == YAML_SEQUENCE_NODE) {
        n->type = UF_NODE_SEQ;
        size_t cnt = (size_t)(yn->data.sequence.items.top - yn->data.sequence.items.start);
        n->items = uf_xcalloc(cnt ? cnt : 1, sizeof *n->items);
        for (yaml_node_item_t *it = yn->data.sequence.items.start; it < yn->data.sequence.items.top;
             it++)
            n->items[n->n++] = convert(ld, yaml_document_get_node(&ld->doc, *it), depth + 1);
        return n;
    }
    n->type = UF_NODE_MAP;
    size_t cnt = (size_t)(yn->data.mapping.pairs.top - yn->data.mapping.pairs.start);
    n->items = uf_xcalloc(cnt ? cnt : 1, sizeof *n->items);
    n->keys = uf_xcalloc(cnt ? cnt : 1, sizeof *n->keys);
    n->key_pos = uf_xcalloc(cnt ? cnt : 1, sizeof *n->key_pos);
    for (yaml_node_pair_t *p = yn->data.mapping.pairs.start; p < yn->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(&ld->doc, p->key);
        struct uf_pos kp = pos_of(ld, k->start_mark);
        if (k->type != YAML_SCALAR_NODE) {
            uf_diags_add(ld->diags, &kp, "mapping keys must be plain strings");
            continue;
        }
        const char *key = (const char *)k->data.scalar.value;
        for (size_t i = 0; i < n->n; i++)
            if (strcmp(n->keys[i], key) == 0)
                uf_diags_add(ld->diags, &kp, "duplicate key '%s' (first defined at line %d)", key,
                             n->key_pos[i].line);
        n->keys[n->n] = uf_xstrdup(key);
        n->key_pos[n->n] = kp;
        n->items[n->n++] = convert(ld, yaml_document_get_node(&ld->doc, p->value), depth + 1);
    }
    return n;
}

static void node_free(struct uf_node *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->n; i++) {
        node_free(n->items[i]);
        if (n->keys)
            free(n->keys[i]);
    }
    free(n->items);
    free(n->keys);
    free(n->key_pos);
    free(n->scalar);
    free(n);
}

const struct uf_node *uf_node_get(const struct uf_node *map, const char *key)
{
    if (!map || map->type != UF_NODE_MAP)
        return NULL;
    for (size_t i = 0; i < map->n; i++)
        if (strcmp(map->keys[i], key) == 0)
            return map->items[i];
    return NULL;
}

static const char *node_type_name(const struct uf_node *n)
{
    return n->type == UF_NODE_SCALAR ? "a scalar" : n->type == UF_NODE_SEQ ? "a list" : "a mapping";
}

static bool expect(struct uf_diags *d, const struct uf_node *n, enum uf_node_type t,
                   const char *what)
{
    if (n->type == t)
        return true;
    uf_diags_add(d, &n->pos, "%s must be %s, found %s", what,
                 t == UF_NODE_SCALAR ? "a scalar"
                 : t == UF_NODE_SEQ  ? "a list"
                                     : "a mapping",
                 node_type_name(n));
    return false;
}

static void load_component(struct uf_config *cfg, struct uf_pipeline_cfg *p, size_t i,
                           struct uf_diags *d)
{
    const struct uf_node *comps = uf_node_get(uf_node_get(cfg->root, "pipelines"), p->name);
    comps = uf_node_get(comps, "components");
    const struct uf_node *body = comps->items[i];
    struct uf_component_cfg *c = &p->comps[p->ncomps];
    char what[300];
    snprintf(what, sizeof what, "component '%s'", comps->keys[i]);
    if (!expect(d, body, UF_NODE_MAP, what))
        return;
    c->name = uf_xstrdup(comps->keys[i]);
    c->pos = comps->key_pos[i];
    c->body = body;
    c->kind = uf_node_get(body, "kind");
    c->inputs = uf_node_get(body, "inputs");
    if (!c->kind)
        uf_diags_add(d, &c->pos, "component '%s' has no 'kind' (expected e.g. kind: http)",
                     c->name);
    else if (!expect(d, c->kind, UF_NODE_SCALAR, "'kind'"))
        c->kind = NULL;
    if (c->inputs && c->inputs->type == UF_NODE_SCALAR)
        ; /* a single input written as a scalar is accepted by graph.c */
    else if (c->inputs && !expect(d, c->inputs, UF_NODE_SEQ, "'inputs'"))
        c->inputs = NULL;
    p->ncomps++;
}

static void load_pipeline(struct uf_config *cfg, const struct uf_node *pipes, size_t i,
                          struct uf_diags *d)
{
    const struct uf_node *pn = pipes->items[i];
    char what[300];
    snprintf(what, sizeof what, "pipeline '%s'", pipes->keys[i]);
    if (!expect(d, pn, UF_NODE_MAP, what))
        return;
    struct uf_pipeline_cfg *p = &cfg->pipelines[cfg->npipelines++];
    p->name = uf_xstrdup(pipes->keys[i]);
    p->pos = pipes->key_pos[i];
    for (size_t k = 0; k < pn->n; k++) {
        if (strcmp(pn->keys[k], "components") && strcmp(pn->keys[k], "admin") &&
            strcmp(pn->keys[k], "description"))
            uf_diags_add(
                d, &pn->key_pos[k],
                "unknown key '%s' in pipeline '%s' (expected components, admin, description)",
                pn->keys[k], p->name);
    }
    p->admin = uf_node_get(pn, "admin");
    if (p->admin && !expect(d, p->admin, UF_NODE_SCALAR, "'admin' (a listen address)"))
        p->admin = NULL;
    const struct uf_node *comps = uf_node_get(pn, "components");
    if (!comps) {
        uf_diags_add(d, &p->pos, "pipeline '%s' has no 'components'", p->name);
        return;
    }
    if (!expect(d, comps, UF_NODE_MAP, "'components'"))
        return;
    p->comps = uf_xcalloc(comps->n ? comps->n : 1, sizeof *p->comps);
    for (size_t c = 0; c < comps->n; c++)
        load_component(cfg, p, c, d);
}

static void load_globals(struct uf_config *cfg, struct uf_diags *d)
{
    const struct uf_node *root = cfg->root;
    static const char *const known[] = { "pipelines", "admin",     "shutdown_timeout",
                                         "log_level", "reconcile", NULL };
    for (size_t k = 0; k < root->n; k++) {
        bool ok = false;
        for (int j = 0; known[j]; j++)
            ok = ok || strcmp(root->keys[k], known[j]) == 0;
        if (!ok)
            uf_diags_add(d, &root->key_pos[k],
                         "unknown top-level key '%s' (expected pipelines, admin, shutdown_timeout, "
                         "log_level, reconcile)",
                         root->keys[k]);
    }
    const struct uf_node *admin = uf_node_get(root, "admin");
    const struct uf_node *addr = admin ? uf_node_get(admin, "address") : NULL;
    if (admin && expect(d, admin, UF_NODE_MAP, "'admin'") && addr &&
        expect(d, addr, UF_NODE_SCALAR, "'admin.address'"))
        cfg->admin_address = uf_xstrdup(addr->scalar);
    const struct uf_node *st = uf_node_get(root, "shutdown_timeout");
    if (st && expect(d, st, UF_NODE_SCALAR, "'shutdown_timeout'")) {
        static const struct uf_option opt = {
            .name = "shutdown_timeout", .type = UF_OPT_DURATION, .min = 0, .max = 3600000
        };
        int64_t ms;
        struct uf_err err;
        if (uf_option_parse_scalar(&opt, st->scalar, &ms, &err))
            uf_diags_add(d, &st->pos, "%s", err.msg);
        else
            cfg->shutdown_timeout_ms = (long)ms;
    }
    const struct uf_node *ll = uf_node_get(root, "log_level");
    if (ll && expect(d, ll, UF_NODE_SCALAR, "'log_level'"))
        cfg->log_level = uf_xstrdup(ll->scalar);
}

static struct uf_config *load(const char *name, yaml_parser_t *parser, struct uf_diags *d)
{
    struct loader ld = { .file = NULL, .diags = d };
    struct uf_config *cfg = uf_xcalloc(1, sizeof *cfg);
    cfg->file = uf_xstrdup(name);
    cfg->shutdown_timeout_ms = 10000;
    ld.file = cfg->file;
    if (!yaml_parser_load(parser, &ld.doc)) {
        struct uf_pos p = { cfg->file, (int)parser->problem_mark.line + 1,
                            (int)parser->problem_mark.column + 1 };
        uf_diags_add(d, &p, "YAML syntax: %s%s%s", parser->problem ? parser->problem : "error",
                     parser->context ? " " : "", parser->context ? parser->context : "");
        uf_config_free(cfg);
        return NULL;
    }
    yaml_node_t *top = yaml_document_get_root_node(&ld.doc);
    if (!top) {
        struct uf_pos p = { cfg->file, 1, 1 };
        uf_diags_add(d, &p, "the file is empty (expected a 'pipelines' mapping)");
        yaml_document_delete(&ld.doc);
        uf_config_free(cfg);
        return NULL;
    }
    cfg->root = convert(&ld, top, 0);
    yaml_document_delete(&ld.doc);
    if (!expect(d, cfg->root, UF_NODE_MAP, "the top level"))
        return cfg;
    load_globals(cfg, d);
    const struct uf_node *pipes = uf_node_get(cfg->root, "pipelines");
    struct uf_pos top_pos = { cfg->file, 1, 1 };
    if (!pipes)
        uf_diags_add(d, &top_pos,
                     "no 'pipelines' section (expected pipelines: {NAME: {components: ...}})");
    else if (expect(d, pipes, UF_NODE_MAP, "'pipelines'")) {
        cfg->pipelines = uf_xcalloc(pipes->n ? pipes->n : 1, sizeof *cfg->pipelines);
        for (size_t i = 0; i < pipes->n; i++)
            load_pipeline(cfg, pipes, i, d);
    }
    return cfg;
}

struct uf_config *uf_config_load(const char *path, struct uf_diags *diags)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        struct uf_pos p = { path, 0, 0 };
        uf_diags_add(diags, &p, "cannot open the file: %m");
        return NULL;
    }
    yaml_parser_t parser;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, f);
    struct uf_config *cfg = load(path, &parser, diags);
    yaml_parser_delete(&parser);
    fclose(f);
    return cfg;
}

struct uf_config *uf_config_load_string(const char *name, const char *yaml, struct uf_diags *diags)
{
    yaml_parser_t parser;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, strlen(yaml));
    struct uf_config *cfg = load(name, &parser, diags);
    yaml_parser_delete(&parser);
    return cfg;
}

void uf_config_free(struct uf_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->npipelines; i++) {
        for (size_t c = 0; c < cfg->pipelines[i].ncomps; c++)
            free(cfg->pipelines[i].comps[c].name);
        free(cfg->pipelines[i].comps);
        free(cfg->pipelines[i].name);
    }
    free(cfg->pipelines);
    node_free(cfg->root);
    free(cfg->admin_address);
    free(cfg->log_level);
    free(cfg->file);
    free(cfg);
}
