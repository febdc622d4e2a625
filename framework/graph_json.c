/* graph_json.c: the graph as JSON for /api/graph, `ugcflow graph --format json` and the graph
 * page. Options are rendered from the kind's table (so every option shows with its effective
 * value, defaults included) and secrets are masked; nothing here touches the hot path. */
#include "framework/graph.h"

#include <string.h>

#include "framework/queue.h"
#include "framework/secret.h"

/* Options of a stage as JSON, secrets replaced by "***". */
static json_t *options_json(const struct uf_stage *st)
{
    json_t *o = json_object();
    for (const struct uf_option *opt = st->kind->options; opt && opt->name; opt++)
        json_object_set_new(o, opt->name, uf_secret_option_json(opt, st->ctx));
    for (const struct uf_option *opt = uf_common_options; opt->name; opt++)
        json_object_set_new(o, opt->name, uf_secret_option_json(opt, &st->common));
    return o;
}

static const char *role_name(enum uf_role r)
{
    return r == UF_SOURCE ? "source" : r == UF_TRANSFORM ? "transform" : "sink";
}

static json_t *node_json(const struct uf_pipeline *pl, struct uf_stage *st, bool metrics)
{
    char id[512];
    snprintf(id, sizeof id, "%s/%s", pl->name, st->name);
    json_t *n = json_pack("{s:s,s:s,s:s,s:s,s:s,s:o}", "id", id, "name", st->name, "kind",
                          st->kind->name, "role", role_name(st->kind->role), "where", st->where,
                          "options", options_json(st));
    json_t *ports = json_array();
    for (size_t i = 1; i < st->nports; i++)
        json_array_append_new(ports, json_string(st->ports[i].name));
    json_object_set_new(n, "ports", ports);
    if (metrics && st->q)
        atomic_store(&st->metrics.queue_depth, (int64_t)uf_queue_depth(st->q));
    if (metrics)
        json_object_set_new(n, "metrics", uf_metrics_snapshot(&st->metrics));
    return n;
}

json_t *uf_graph_json(const struct uf_graph *g, bool metrics)
{
    json_t *pipes = json_array();
    for (size_t i = 0; i < g->npipelines; i++) {
        const struct uf_pipeline *pl = &g->pipelines[i];
        json_t *nodes = json_array(), *edges = json_array();
        for (size_t s = 0; s < pl->nstages; s++) {
            struct uf_stage *st = pl->stages[s];
            json_array_append_new(nodes, node_json(pl, st, metrics));
            for (size_t p = 0; p < st->nports; p++)
                for (size_t k = 0; k < st->ports[p].nto; k++) {
                    char from[512], to[512];
                    snprintf(from, sizeof from, "%s/%s", pl->name, st->name);
                    snprintf(to, sizeof to, "%s/%s", pl->name, st->ports[p].to[k]->name);
                    json_array_append_new(edges, json_pack("{s:s,s:s,s:s}", "from", from, "to", to,
                                                           "port", st->ports[p].name));
                }
        }
        json_array_append_new(
            pipes, json_pack("{s:s,s:o,s:o}", "name", pl->name, "nodes", nodes, "edges", edges));
    }
    return json_pack("{s:s,s:o}", "file", g->file, "pipelines", pipes);
}
