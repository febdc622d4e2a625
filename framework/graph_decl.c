/* graph_decl.c: what a kind may declare about itself at init beyond its options (stage.h): the
 * nodes of nested options, diagnostics with positions, and request routes, which are checked
 * here once the pipeline is wired. The route check walks from each stage that answers routes
 * up through its inputs to the stages that provide routes; transforms in between pass events
 * on unchanged in this respect. Runs at graph build, so `ugcflow validate` reports it; no I/O. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framework/graph.h"
#include "framework/mem.h"
#include "framework/strbuf.h"

const struct uf_node *uf_stage_option_node(const struct uf_stage *st, const char *name)
{
    return st->body ? uf_node_get(st->body, name) : NULL;
}

const char *uf_stage_config_dir(const struct uf_stage *st)
{
    return st->config_dir;
}

void uf_stage_diag(struct uf_stage *st, const struct uf_pos *pos, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct uf_pos here = { st->config_file, 0, 0 };
    if (!pos && st->body)
        here = st->body->pos;
    if (st->diags)
        uf_diags_add(st->diags, pos ? pos : &here, "component '%s' (kind %s): %s", st->name,
                     st->kind->name, msg);
}

static void add_decl(struct uf_stage *st, enum uf_route_decl_kind kind, const char *route,
                     const char *path, const struct uf_pos *pos)
{
    st->routes = uf_xrealloc(st->routes, (st->nroutes + 1) * sizeof *st->routes);
    st->routes[st->nroutes++] = (struct uf_route_decl){
        .kind = kind,
        .route = uf_xstrdup(route),
        .path = path ? uf_xstrdup(path) : NULL,
        .pos = pos ? *pos : (struct uf_pos){ st->config_file, 0, 0 },
    };
}

void uf_stage_route_provides(struct uf_stage *st, const char *route, const char *path,
                             const struct uf_pos *pos)
{
    add_decl(st, UF_ROUTE_PROVIDES, route, path, pos);
}

void uf_stage_route_answers(struct uf_stage *st, const char *route, const struct uf_pos *pos)
{
    add_decl(st, UF_ROUTE_ANSWERS, route, NULL, pos);
}

void uf_stage_route_reads(struct uf_stage *st, const char *route, const char *path,
                          const struct uf_pos *pos)
{
    add_decl(st, UF_ROUTE_READS, route, path, pos);
}

void uf_stage_decls_free(struct uf_stage *st)
{
    for (size_t i = 0; i < st->nroutes; i++) {
        free(st->routes[i].route);
        free(st->routes[i].path);
    }
    free(st->routes);
    st->routes = NULL;
    st->nroutes = 0;
    free(st->config_dir);
    st->config_dir = NULL;
}

/* ---- the route check ---- */

static bool has_decl(const struct uf_stage *st, enum uf_route_decl_kind kind)
{
    for (size_t i = 0; i < st->nroutes; i++)
        if (st->routes[i].kind == kind)
            return true;
    return false;
}

/* Whether a provided path covers a read one: equal, or "x.*" for anything under x. */
static bool covers(const char *provided, const char *path)
{
    size_t n = strlen(provided);
    if (n >= 2 && strcmp(provided + n - 2, ".*") == 0)
        return strncmp(provided, path, n - 1) == 0;
    return strcmp(provided, path) == 0;
}

static const struct uf_route_decl *find_decl(const struct uf_stage *st,
                                             enum uf_route_decl_kind kind, const char *route,
                                             const char *path)
{
    for (size_t i = 0; i < st->nroutes; i++) {
        const struct uf_route_decl *r = &st->routes[i];
        if (r->kind == kind && strcmp(r->route, route) == 0 && (!path || covers(r->path, path)))
            return r;
    }
    return NULL;
}

/* The stages upstream of st (itself excluded) that provide routes, into out (no duplicates). */
static void providers(const struct uf_stage *st, struct uf_stage **out, size_t *n, size_t max,
                      int depth)
{
    for (size_t i = 0; i < st->ninputs && depth < 64; i++) {
        struct uf_stage *in = st->inputs[i];
        bool seen = false;
        for (size_t k = 0; k < *n; k++)
            seen = seen || out[k] == in;
        if (!seen && in->init_ran && has_decl(in, UF_ROUTE_PROVIDES) && *n < max)
            out[(*n)++] = in;
        providers(in, out, n, max, depth + 1);
    }
}

/* What the route provides, for a message: "params.movie_id, query.*". */
static void list_provided(const struct uf_stage *src, const char *route, struct uf_strbuf *sb)
{
    for (size_t i = 0; i < src->nroutes; i++) {
        const struct uf_route_decl *r = &src->routes[i];
        if (r->kind == UF_ROUTE_PROVIDES && strcmp(r->route, route) == 0 && r->path)
            uf_strbuf_printf(sb, "%s%s", sb->len ? ", " : "", r->path);
    }
}

static void check_answered(const struct uf_stage *sink, const struct uf_stage *src,
                           struct uf_diags *d)
{
    for (size_t i = 0; i < src->nroutes; i++) {
        const struct uf_route_decl *r = &src->routes[i];
        if (r->kind != UF_ROUTE_PROVIDES || find_decl(src, UF_ROUTE_PROVIDES, r->route, NULL) != r)
            continue; /* one message per route, at its first declaration */
        if (!find_decl(sink, UF_ROUTE_ANSWERS, r->route, NULL))
            uf_diags_add(d, &r->pos,
                         "route '%s' of '%s' reaches '%s' (kind %s), which declares no "
                         "operation '%s'",
                         r->route, src->name, sink->name, sink->kind->name, r->route);
    }
}

static void check_reads(const struct uf_stage *sink, struct uf_stage **src, size_t nsrc,
                        struct uf_diags *d)
{
    for (size_t i = 0; i < sink->nroutes; i++) {
        const struct uf_route_decl *r = &sink->routes[i];
        const struct uf_stage *has_route = NULL;
        bool provided = false;
        for (size_t k = 0; r->kind == UF_ROUTE_READS && k < nsrc && !provided; k++) {
            if (find_decl(src[k], UF_ROUTE_PROVIDES, r->route, NULL))
                has_route = src[k];
            provided = find_decl(src[k], UF_ROUTE_PROVIDES, r->route, r->path) != NULL;
        }
        if (!has_route || provided)
            continue;
        struct uf_strbuf sb = { 0 };
        list_provided(has_route, r->route, &sb);
        uf_diags_add(d, &r->pos,
                     "component '%s': operation '%s' reads '%s', which no route '%s' provides "
                     "(route '%s' of '%s' provides: %s)",
                     sink->name, r->route, r->path, r->route, r->route, has_route->name,
                     sb.len ? sb.buf : "nothing");
        uf_strbuf_free(&sb);
    }
}

void uf_graph_check_routes(struct uf_stage **v, size_t n, struct uf_diags *d)
{
    struct uf_stage **src = uf_xcalloc(n + 1, sizeof *src);
    for (size_t i = 0; i < n; i++) {
        if (!v[i] || !v[i]->init_ran || !has_decl(v[i], UF_ROUTE_ANSWERS))
            continue;
        size_t nsrc = 0;
        providers(v[i], src, &nsrc, n, 0);
        for (size_t k = 0; k < nsrc; k++)
            check_answered(v[i], src[k], d);
        check_reads(v[i], src, nsrc, d);
    }
    free(src);
}
