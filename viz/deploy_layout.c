/* viz/deploy_layout.c: the deployment laid out by Graphviz (see deploy_layout.h). Every box has
 * a fixed size (fixedsize=true), so dot places and routes around exactly what the page draws;
 * labels are left to the page. dot's JSON output gives node centres and cluster boxes in
 * points with y upwards; points are taken as pixels (the sizes were given as px / 72 inches)
 * and y is flipped. Writes into a store that is also read (PostgreSQL's outbox) do not rank
 * their ends (constraint=false): the store is written by components at any depth, and ranking
 * it below the deepest writer put its reader, and all after it, several layers further. */
#include "viz/deploy_layout.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framework/export.h"
#include "framework/strbuf.h"

static const char *str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* A store that is also read (the outbox) is placed by its readers: see the file comment. */
static bool has_readers(const json_t *model, const char *store_id)
{
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(model, "stores"), i, s)
    {
        if (strcmp(str(s, "id"), store_id) == 0)
            return json_array_size(json_object_get(s, "readers")) > 0;
    }
    return false;
}

static void dot_node(struct uf_strbuf *sb, const char *id, double w, double h)
{
    uf_strbuf_printf(sb, "    \"%s\" [width=%.4f, height=%.4f];\n", id, w / 72, h / 72);
}

static void dot_processes(struct uf_strbuf *sb, const json_t *model)
{
    size_t i, k;
    json_t *p, *c, *e;
    json_array_foreach(json_object_get(model, "processes"), i, p)
    {
        /* The label only reserves room for the title the page draws in the group's top band. */
        uf_strbuf_printf(sb, "  subgraph \"cluster_%s\" {\n    label=\"%s\"; margin=10;\n",
                         str(p, "name"), str(p, "name"));
        json_array_foreach(json_object_get(p, "components"), k, c)
        {
            dot_node(sb, str(c, "id"), UF_LAYOUT_NODE_W, UF_LAYOUT_NODE_H);
        }
        uf_strbuf_puts(sb, "  }\n");
        json_array_foreach(json_object_get(p, "edges"), k, e)
        {
            uf_strbuf_printf(sb, "  \"%s\" -> \"%s\";\n", str(e, "from"), str(e, "to"));
        }
    }
}

char *uf_deploy_dot(const json_t *model, const char *rankdir)
{
    struct uf_strbuf sb = { 0 };
    uf_strbuf_printf(&sb,
                     "digraph deployment {\n  rankdir=%s; nodesep=0.22; ranksep=0.3;\n"
                     "  splines=spline; outputorder=edgesfirst; fontsize=14;\n"
                     "  node [shape=box, fixedsize=true, label=\"\"];\n",
                     rankdir);
    dot_processes(&sb, model);
    const char *hubs[] = { "topics", "stores" };
    for (size_t h = 0; h < 2; h++) {
        size_t i;
        json_t *t;
        json_array_foreach(json_object_get(model, hubs[h]), i, t)
        {
            dot_node(&sb, str(t, "id"), UF_LAYOUT_HUB_W, UF_LAYOUT_HUB_H);
        }
    }
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(model, "edges"), i, e)
    {
        const char *kind = str(e, "kind");
        bool to_store = strcmp(kind, "write") == 0 || strcmp(kind, "state") == 0;
        to_store = to_store && has_readers(model, str(e, "to"));
        uf_strbuf_printf(&sb, "  \"%s\" -> \"%s\"%s;\n", str(e, "from"), str(e, "to"),
                         to_store ? " [constraint=false]" : "");
    }
    uf_strbuf_puts(&sb, "}\n");
    return uf_strbuf_take(&sb);
}

/* ---- reading dot's JSON ---- */

struct frame {
    double height; /* of the whole drawing, to flip y */
};

static json_t *box(double x, double y, double w, double h)
{
    return json_pack("{s:f,s:f,s:f,s:f}", "x", x, "y", y, "w", w, "h", h);
}

static json_t *node_box(const json_t *o, struct frame f)
{
    double x, y;
    if (sscanf(str(o, "pos"), "%lf,%lf", &x, &y) != 2)
        return NULL;
    double w = atof(str(o, "width")) * 72, h = atof(str(o, "height")) * 72;
    return box(x - w / 2, f.height - y - h / 2, w, h);
}

static json_t *cluster_box(const json_t *o, struct frame f)
{
    double x1, y1, x2, y2;
    if (sscanf(str(o, "bb"), "%lf,%lf,%lf,%lf", &x1, &y1, &x2, &y2) != 4)
        return NULL;
    return box(x1, f.height - y2, x2 - x1, y2 - y1);
}

/* "e,EX,EY x,y x,y ..." -> {"points":[[x,y]...],"end":[EX,EY]} (flipped). */
static json_t *edge_path(const char *pos, struct frame f)
{
    json_t *pts = json_array(), *end = json_null();
    char *copy = strdup(pos), *save = NULL;
    for (char *tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        double x, y;
        bool is_end = strncmp(tok, "e,", 2) == 0, is_start = strncmp(tok, "s,", 2) == 0;
        if (sscanf(tok + (is_end || is_start ? 2 : 0), "%lf,%lf", &x, &y) != 2)
            continue;
        json_t *pt = json_pack("[f,f]", x, f.height - y);
        if (is_end) {
            json_decref(end);
            end = pt;
        } else if (is_start) {
            json_decref(pt);
        } else {
            json_array_append_new(pts, pt);
        }
    }
    free(copy);
    return json_pack("{s:o,s:o}", "points", pts, "end", end);
}

static json_t *read_layout(const json_t *d)
{
    double x1, y1, x2, y2;
    if (sscanf(str(d, "bb"), "%lf,%lf,%lf,%lf", &x1, &y1, &x2, &y2) != 4)
        return NULL;
    struct frame f = { .height = y2 };
    json_t *nodes = json_object(), *groups = json_object(), *edges = json_array();
    const json_t *objs = json_object_get(d, "objects");
    size_t i;
    json_t *o;
    json_array_foreach(objs, i, o)
    {
        const char *name = str(o, "name");
        if (strncmp(name, "cluster_", 8) == 0)
            json_object_set_new(groups, name + 8, cluster_box(o, f));
        else if (json_object_get(o, "pos"))
            json_object_set_new(nodes, name, node_box(o, f));
    }
    json_array_foreach(json_object_get(d, "edges"), i, o)
    {
        const json_t *t =
            json_array_get(objs, (size_t)json_integer_value(json_object_get(o, "tail")));
        const json_t *h =
            json_array_get(objs, (size_t)json_integer_value(json_object_get(o, "head")));
        json_t *e = edge_path(str(o, "pos"), f);
        json_object_set_new(e, "from", json_string(str(t, "name")));
        json_object_set_new(e, "to", json_string(str(h, "name")));
        json_array_append_new(edges, e);
    }
    return json_pack("{s:f,s:f,s:o,s:o,s:o}", "width", x2 - x1, "height", y2 - y1, "nodes", nodes,
                     "groups", groups, "edges", edges);
}

static json_t *one_direction(const json_t *model, const char *rankdir, struct uf_err *err)
{
    char *dot = uf_deploy_dot(model, rankdir);
    char *out = uf_export_run_dot(dot, "json", err);
    free(dot);
    if (!out)
        return NULL;
    json_error_t jerr;
    json_t *d = json_loads(out, 0, &jerr);
    free(out);
    json_t *l = d ? read_layout(d) : NULL;
    json_decref(d);
    if (!l)
        uf_err_set(err, UF_EIO, "deployment layout: cannot read the output of `dot -Tjson`");
    return l;
}

json_t *uf_deploy_layout(const json_t *model, struct uf_err *err)
{
    json_t *lr = one_direction(model, "LR", err);
    json_t *tb = lr ? one_direction(model, "TB", err) : NULL;
    if (!tb) {
        json_decref(lr);
        return NULL;
    }
    return json_pack("{s:o,s:o}", "LR", lr, "TB", tb);
}
