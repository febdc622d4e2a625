/* graph.c: building and validating the stage graph from a config (see graph.h).
 * Every check appends to the diagnostics and carries on, so one run reports all problems of a
 * file. Order: kinds and options per component (then the kind's init, which may declare output
 * ports), then inputs, then the shape of the graph (cycles, dead ends), then topological order.
 * Option values filled into contexts borrow strings from the config tree; LIST and MAP values
 * are JSON owned by the graph and released in uf_graph_free. */
#include "framework/graph.h"

#include <stdlib.h>
#include <string.h>

#include "framework/mem.h"
#include "framework/registry.h"

static const char *const when_full_values[] = { "block", "reject", NULL };

const struct uf_option uf_common_options[] = {
    { .name = "buffer",
      .type = UF_OPT_INT,
      .def = "-1",
      .min = -1,
      .max = 10000000,
      .desc = "Capacity of the queue in front of the component; 0 runs it in the caller's thread, "
              "-1 takes the kind's default (4096 for sinks, 0 otherwise)",
      .offset = offsetof(struct uf_common, buffer) },
    { .name = "when_full",
      .type = UF_OPT_ENUM,
      .def = "block",
      .values = when_full_values,
      .desc = "What a full queue does to producers: wait for room, or reject the event (HTTP 503)",
      .offset = offsetof(struct uf_common, when_full) },
    { .name = "workers",
      .type = UF_OPT_INT,
      .def = "1",
      .min = 1,
      .max = 64,
      .desc = "Threads taking events from the component's queue",
      .offset = offsetof(struct uf_common, workers) },
    { .name = "batch_max",
      .type = UF_OPT_INT,
      .def = "512",
      .min = 1,
      .max = 1000000,
      .desc = "Most events handed to one write() or processed per queue pop",
      .offset = offsetof(struct uf_common, batch_max) },
    { .name = "tick",
      .type = UF_OPT_DURATION,
      .def = "100ms",
      .min = 1,
      .max = 60000,
      .desc = "How often an idle worker calls the kind's tick() (batch age flushes)",
      .offset = offsetof(struct uf_common, tick_ms) },
    { 0 }
};

/* ---- accessors of the stage interface ---- */

const char *uf_stage_name(const struct uf_stage *st)
{
    return st->name;
}
const char *uf_stage_pipeline(const struct uf_stage *st)
{
    return st->pipeline;
}
const struct uf_kind *uf_stage_kind(const struct uf_stage *st)
{
    return st->kind;
}
struct uf_metrics *uf_stage_metrics(struct uf_stage *st)
{
    return &st->metrics;
}

int uf_stage_add_port(struct uf_stage *st, const char *name, struct uf_err *err)
{
    for (size_t i = 0; i < st->nports; i++)
        if (strcmp(st->ports[i].name, name) == 0)
            return uf_err_set(err, UF_EINVAL, "output '%s' is declared twice", name);
    if (!*name || strchr(name, '.'))
        return uf_err_set(err, UF_EINVAL, "output name '%s' must be non-empty without '.'", name);
    st->ports = uf_xrealloc(st->ports, (st->nports + 1) * sizeof *st->ports);
    st->ports[st->nports] = (struct uf_port){ .name = uf_xstrdup(name) };
    return (int)st->nports++;
}

/* Whether any component consumes the port. */
static bool port_connected(const struct uf_stage *st, int port)
{
    return port >= 0 && (size_t)port < st->nports && st->ports[port].nto > 0;
}

bool uf_stage_batches_split(const struct uf_stage *st, int port)
{
    if (!port_connected(st, port))
        return false;
    for (size_t k = 0; k < st->ports[port].nto; k++) {
        const struct uf_stage *c = st->ports[port].to[k];
        enum uf_batch_role r = c->kind->batch ? c->kind->batch(c->ctx) : UF_BATCH_NONE;
        if (r == UF_BATCH_END)
            continue;
        if (r != UF_BATCH_PASS)
            return false;
        bool onward = false; /* a batch passed on must be ended on every output */
        for (size_t p = 0; p < c->nports; p++) {
            if (!port_connected(c, (int)p))
                continue;
            if (!uf_stage_batches_split(c, (int)p))
                return false;
            onward = true;
        }
        if (!onward)
            return false;
    }
    return true;
}

/* ---- options ---- */

static json_t *node_to_json(const struct uf_node *n)
{
    if (n->type == UF_NODE_SEQ) {
        json_t *a = json_array();
        for (size_t i = 0; i < n->n; i++)
            json_array_append_new(a, node_to_json(n->items[i]));
        return a;
    }
    if (n->type == UF_NODE_MAP) {
        json_t *o = json_object();
        for (size_t i = 0; i < n->n; i++)
            json_object_set_new(o, n->keys[i], node_to_json(n->items[i]));
        return o;
    }
    if (n->plain) {
        const char *s = n->scalar;
        if (strcmp(s, "true") == 0 || strcmp(s, "false") == 0)
            return json_boolean(s[0] == 't');
        if (strcmp(s, "null") == 0 || strcmp(s, "~") == 0)
            return json_null();
        char *end;
        long long v = strtoll(s, &end, 10);
        if (*s && !*end)
            return json_integer(v);
        double d = strtod(s, &end);
        if (*s && !*end)
            return json_real(d);
    }
    return json_string(n->scalar);
}

static const char *node_kind_name(const struct uf_node *n)
{
    return n->type == UF_NODE_SCALAR ? "a scalar" : n->type == UF_NODE_SEQ ? "a list" : "a mapping";
}

/* Applies one value; returns false (with a diagnostic) when it does not fit the option. */
static bool apply_value(const struct uf_option *opt, const struct uf_node *n, void *dst,
                        struct uf_diags *d)
{
    struct uf_err err = { 0 };
    if (n->unset)
        return false; /* reported where it was read; "" would only add a second, false error */
    switch (opt->type) {
    case UF_OPT_STR:
        if (n->type != UF_NODE_SCALAR)
            break;
        *(const char **)dst = n->scalar;
        return true;
    case UF_OPT_LIST:
        if (n->type == UF_NODE_MAP)
            break;
        for (size_t i = 0; n->type == UF_NODE_SEQ && i < n->n; i++)
            if (n->items[i]->type != UF_NODE_SCALAR) {
                uf_diags_add(d, &n->items[i]->pos, "option '%s': list items must be scalars",
                             opt->name);
                return false;
            }
        json_decref(*(json_t **)dst);
        *(json_t **)dst = n->type == UF_NODE_SEQ ? node_to_json(n) : json_pack("[s]", n->scalar);
        if (n->type == UF_NODE_SEQ)
            for (size_t i = 0; i < n->n; i++)
                json_array_set_new(*(json_t **)dst, i, json_string(n->items[i]->scalar));
        return true;
    case UF_OPT_MAP:
        if (n->type != UF_NODE_MAP)
            break;
        json_decref(*(json_t **)dst);
        *(json_t **)dst = node_to_json(n);
        return true;
    default:
        if (n->type != UF_NODE_SCALAR)
            break;
        if (uf_option_parse_scalar(opt, n->scalar, dst, &err) == 0)
            return true;
        uf_diags_add(d, &n->pos, "%s", err.msg);
        return false;
    }
    uf_diags_add(d, &n->pos, "option '%s' must be a %s, found %s", opt->name,
                 uf_option_type_name(opt->type), node_kind_name(n));
    return false;
}

static void apply_default(const struct uf_option *opt, void *dst)
{
    if (!opt->def)
        return;
    if (opt->type == UF_OPT_STR) {
        *(const char **)dst = opt->def;
        return;
    }
    if (opt->type == UF_OPT_LIST || opt->type == UF_OPT_MAP) {
        *(json_t **)dst = json_loads(opt->def, 0, NULL);
        return;
    }
    struct uf_err err;
    if (uf_option_parse_scalar(opt, opt->def, dst, &err) != 0)
        abort(); /* tests/test_registry.c proves every default parses */
}

static void free_json_options(const struct uf_option *table, void *base)
{
    for (const struct uf_option *o = table; o && o->name; o++)
        if (o->type == UF_OPT_LIST || o->type == UF_OPT_MAP) {
            json_t **j = (json_t **)((char *)base + o->offset);
            json_decref(*j);
            *j = NULL;
        }
}

static bool is_reserved(const char *key)
{
    return strcmp(key, "kind") == 0 || strcmp(key, "inputs") == 0 ||
           strcmp(key, "description") == 0;
}

static void unknown_option(const struct uf_stage *st, const char *key, const struct uf_pos *pos,
                           struct uf_diags *d)
{
    const char *s = uf_option_suggest(st->kind->options, key);
    if (!s)
        s = uf_option_suggest(uf_common_options, key);
    if (s)
        uf_diags_add(d, pos, "unknown option '%s' for kind '%s' (did you mean '%s'?)", key,
                     st->kind->name, s);
    else
        uf_diags_add(d, pos, "unknown option '%s' for kind '%s' (see `ugcflow stages %s`)", key,
                     st->kind->name, st->kind->name);
}

/* Fills ctx and common options from the component's mapping; false on any error. */
static bool apply_options(struct uf_stage *st, const struct uf_component_cfg *c, struct uf_diags *d)
{
    bool ok = true;
    for (const struct uf_option *o = st->kind->options; o && o->name; o++)
        apply_default(o, (char *)st->ctx + o->offset);
    for (const struct uf_option *o = uf_common_options; o->name; o++)
        apply_default(o, (char *)&st->common + o->offset);
    for (size_t i = 0; i < c->body->n; i++) {
        const char *key = c->body->keys[i];
        if (is_reserved(key))
            continue;
        const struct uf_option *o = uf_option_find(st->kind->options, key);
        void *base = st->ctx;
        if (!o) {
            o = uf_option_find(uf_common_options, key);
            base = &st->common;
        }
        if (!o) {
            unknown_option(st, key, &c->body->key_pos[i], d);
            ok = false;
            continue;
        }
        ok = apply_value(o, c->body->items[i], (char *)base + o->offset, d) && ok;
    }
    for (const struct uf_option *o = st->kind->options; o && o->name; o++)
        if ((o->flags & UF_OPT_REQUIRED) && !uf_node_get(c->body, o->name)) {
            uf_diags_add(d, &c->pos, "component '%s' (kind %s): missing required option '%s' (%s)",
                         c->name, st->kind->name, o->name, o->desc);
            ok = false;
        }
    return ok;
}

/* ---- building ---- */

struct builder {
    struct uf_config *cfg;
    struct uf_diags *d;
};

static struct uf_stage *stage_new(const struct uf_kind *kind, const struct uf_component_cfg *c,
                                  const char *pipeline)
{
    struct uf_stage *st = uf_xcalloc(1, sizeof *st);
    st->name = uf_xstrdup(c->name);
    st->where = uf_xasprintf("%s:%d:%d", c->pos.file, c->pos.line, c->pos.col);
    st->pipeline = pipeline;
    st->kind = kind;
    st->ctx = uf_xcalloc(1, kind->ctx_size ? kind->ctx_size : 1);
    st->ports = uf_xcalloc(1, sizeof *st->ports);
    st->ports[0].name = uf_xstrdup("");
    st->nports = 1;
    st->body = c->body;
    st->config_file = c->pos.file;
    const char *slash = c->pos.file ? strrchr(c->pos.file, '/') : NULL;
    st->config_dir = !slash ? uf_xstrdup(".")
                     : slash == c->pos.file
                         ? uf_xstrdup("/")
                         : uf_xstrndup(c->pos.file, (size_t)(slash - c->pos.file));
    uf_metrics_init(&st->metrics);
    return st;
}

static void stage_free(struct uf_stage *st)
{
    if (!st)
        return;
    if (st->initialised && st->kind->destroy)
        st->kind->destroy(st->ctx);
    free_json_options(st->kind->options, st->ctx);
    free(st->ctx);
    for (size_t i = 0; i < st->nports; i++) {
        free(st->ports[i].name);
        free(st->ports[i].to);
    }
    free(st->ports);
    free(st->inputs);
    free(st->input_ports);
    uf_metrics_destroy(&st->metrics);
    free(st->threads);
    free(st->where);
    free(st->name);
    uf_stage_decls_free(st);
    free(st);
}

static struct uf_stage *make_stage(const struct uf_component_cfg *c, const char *pipeline,
                                   struct uf_diags *d)
{
    if (!c->kind)
        return NULL;
    const struct uf_kind *kind = uf_registry_find(c->kind->scalar);
    if (!kind) {
        const char *s = uf_registry_suggest(c->kind->scalar);
        uf_diags_add(d, &c->kind->pos, "unknown kind '%s'%s%s%s (see `ugcflow stages`)",
                     c->kind->scalar, s ? " (did you mean '" : "", s ? s : "", s ? "'?)" : "");
        return NULL;
    }
    struct uf_stage *st = stage_new(kind, c, pipeline);
    if (!apply_options(st, c, d))
        return st; /* kept so input checks still run; init is skipped */
    if (st->common.buffer < 0)
        st->common.buffer = kind->role == UF_SINK ? 4096 : 0;
    struct uf_err err = { 0 };
    st->diags = d;
    st->diags_before = d->n;
    int rc = kind->init ? kind->init(st, st->ctx, &err) : 0;
    st->diags = NULL;
    st->init_ran = true;
    if (rc != 0 || d->n > st->diags_before) {
        if (rc != 0 && (err.msg[0] || d->n == st->diags_before))
            uf_diags_add(d, &c->pos, "component '%s' (kind %s): %s", c->name, kind->name, err.msg);
        if (kind->destroy)
            kind->destroy(st->ctx);
        return st;
    }
    st->initialised = true;
    return st;
}

static struct uf_stage *find_stage(struct uf_stage **v, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] && strcmp(v[i]->name, name) == 0)
            return v[i];
    return NULL;
}

static int find_port(const struct uf_stage *st, const char *port)
{
    for (size_t i = 0; i < st->nports; i++)
        if (strcmp(st->ports[i].name, port) == 0)
            return (int)i;
    return -1;
}

static void connect(struct uf_stage *from, int port, struct uf_stage *to)
{
    struct uf_port *p = &from->ports[port];
    p->to = uf_xrealloc(p->to, (p->nto + 1) * sizeof *p->to);
    p->to[p->nto++] = to;
    to->inputs = uf_xrealloc(to->inputs, (to->ninputs + 1) * sizeof *to->inputs);
    to->input_ports = uf_xrealloc(to->input_ports, (to->ninputs + 1) * sizeof *to->input_ports);
    to->inputs[to->ninputs] = from;
    to->input_ports[to->ninputs++] = port;
}

static void suggest_component(struct uf_stage **v, size_t n, const char *name, char *out,
                              size_t outlen)
{
    size_t best = 3;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++)
        if (v[i] && uf_edit_distance(name, v[i]->name) < best) {
            best = uf_edit_distance(name, v[i]->name);
            snprintf(out, outlen, " (did you mean '%s'?)", v[i]->name);
        }
}

/* Resolves one `inputs` entry of component `to`. */
static void resolve_input(struct uf_stage **v, size_t n, struct uf_stage *to,
                          const struct uf_node *in, struct uf_diags *d)
{
    char *ref = uf_xstrdup(in->scalar);
    char *dot = strchr(ref, '.');
    const char *port = "";
    if (dot) {
        *dot = '\0';
        port = dot + 1;
    }
    struct uf_stage *from = find_stage(v, n, ref);
    char hint[300];
    if (!from) {
        suggest_component(v, n, ref, hint, sizeof hint);
        uf_diags_add(d, &in->pos, "component '%s': input '%s' does not exist in this pipeline%s",
                     to->name, in->scalar, hint);
    } else if (from == to) {
        uf_diags_add(d, &in->pos, "component '%s' lists itself as an input", to->name);
    } else if (from->kind->role == UF_SINK && !from->kind->emits) {
        uf_diags_add(d, &in->pos,
                     "component '%s': input '%s' is a sink (kind %s), which has no output",
                     to->name, ref, from->kind->name);
    } else if (find_port(from, port) < 0) {
        uf_diags_add(d, &in->pos, "component '%s': '%s' has no output named '%s'", to->name, ref,
                     port);
    } else {
        connect(from, find_port(from, port), to);
    }
    free(ref);
}

static void resolve_inputs(struct uf_stage **v, const struct uf_pipeline_cfg *p, struct uf_diags *d)
{
    for (size_t i = 0; i < p->ncomps; i++) {
        const struct uf_component_cfg *c = &p->comps[i];
        if (!v[i] || !c->inputs)
            continue;
        if (v[i]->kind->role == UF_SOURCE) {
            uf_diags_add(d, &c->inputs->pos,
                         "component '%s' is a source (kind %s) and cannot have inputs", c->name,
                         v[i]->kind->name);
            continue;
        }
        if (c->inputs->type == UF_NODE_SCALAR) {
            resolve_input(v, p->ncomps, v[i], c->inputs, d);
            continue;
        }
        for (size_t k = 0; k < c->inputs->n; k++) {
            if (c->inputs->items[k]->type != UF_NODE_SCALAR)
                uf_diags_add(d, &c->inputs->items[k]->pos, "inputs must be component names");
            else
                resolve_input(v, p->ncomps, v[i], c->inputs->items[k], d);
        }
    }
}

static bool has_consumers(const struct uf_stage *st)
{
    for (size_t i = 0; i < st->nports; i++)
        if (st->ports[i].nto)
            return true;
    return false;
}

static void check_ends(struct uf_stage **v, const struct uf_pipeline_cfg *p, struct uf_diags *d)
{
    for (size_t i = 0; i < p->ncomps; i++) {
        struct uf_stage *st = v[i];
        if (!st)
            continue;
        if (st->kind->role != UF_SINK && !has_consumers(st))
            uf_diags_add(d, &p->comps[i].pos,
                         "component '%s' (kind %s): its output goes nowhere (expected another "
                         "component to list it in 'inputs')",
                         st->name, st->kind->name);
        if (st->kind->role != UF_SOURCE && st->ninputs == 0 && p->comps[i].inputs == NULL)
            uf_diags_add(d, &p->comps[i].pos,
                         "component '%s' (kind %s) has no inputs (expected inputs: [NAME, ...])",
                         st->name, st->kind->name);
    }
}

/* Depth-first search for a cycle; on finding one, reports it as "a -> b -> a". */
static bool find_cycle(struct uf_stage *st, int *color, struct uf_stage **stack, size_t depth,
                       struct uf_stage **v, size_t n, const struct uf_pipeline_cfg *p,
                       struct uf_diags *d)
{
    size_t idx = 0;
    while (v[idx] != st)
        idx++;
    if (color[idx] == 2)
        return false;
    stack[depth] = st;
    if (color[idx] == 1) {
        size_t start = 0;
        while (stack[start] != st)
            start++;
        char path[1024] = "";
        for (size_t i = start; i <= depth; i++) {
            strncat(path, stack[i]->name, sizeof path - strlen(path) - 1);
            if (i < depth)
                strncat(path, " -> ", sizeof path - strlen(path) - 1);
        }
        uf_diags_add(d, &p->comps[idx].pos, "cycle in pipeline '%s': %s", p->name, path);
        return true;
    }
    color[idx] = 1;
    for (size_t i = 0; i < st->nports; i++)
        for (size_t k = 0; k < st->ports[i].nto; k++)
            if (find_cycle(st->ports[i].to[k], color, stack, depth + 1, v, n, p, d))
                return true;
    color[idx] = 2;
    return false;
}

static bool check_cycles(struct uf_stage **v, const struct uf_pipeline_cfg *p, struct uf_diags *d)
{
    int *color = uf_xcalloc(p->ncomps + 1, sizeof *color);
    struct uf_stage **stack = uf_xcalloc(p->ncomps + 2, sizeof *stack);
    bool found = false;
    for (size_t i = 0; i < p->ncomps && !found; i++)
        if (v[i] && !color[i])
            found = find_cycle(v[i], color, stack, 0, v, p->ncomps, p, d);
    free(color);
    free(stack);
    return found;
}

/* Kahn's algorithm; stages end up sources first. */
static void topo_sort(struct uf_pipeline *pl, struct uf_stage **v, size_t n)
{
    size_t *indeg = uf_xcalloc(n + 1, sizeof *indeg);
    for (size_t i = 0; i < n; i++)
        indeg[i] = v[i]->ninputs;
    pl->stages = uf_xcalloc(n + 1, sizeof *pl->stages);
    while (pl->nstages < n) {
        for (size_t i = 0; i < n; i++) {
            if (indeg[i] != 0)
                continue;
            indeg[i] = (size_t)-1;
            v[i]->topo = pl->nstages;
            pl->stages[pl->nstages++] = v[i];
            for (size_t p = 0; p < v[i]->nports; p++)
                for (size_t k = 0; k < v[i]->ports[p].nto; k++)
                    for (size_t j = 0; j < n; j++)
                        if (v[j] == v[i]->ports[p].to[k])
                            indeg[j]--;
        }
    }
    free(indeg);
}

static bool build_pipeline(struct uf_graph *g, const struct uf_pipeline_cfg *p, struct uf_diags *d)
{
    size_t before = d->n;
    struct uf_pipeline *pl = &g->pipelines[g->npipelines++];
    pl->name = uf_xstrdup(p->name);
    pl->admin = p->admin ? uf_xstrdup(p->admin->scalar) : NULL;
    struct uf_stage **v = uf_xcalloc(p->ncomps + 1, sizeof *v);
    for (size_t i = 0; i < p->ncomps; i++)
        v[i] = make_stage(&p->comps[i], pl->name, d);
    if (p->ncomps == 0)
        uf_diags_add(d, &p->pos, "pipeline '%s' has no components", p->name);
    resolve_inputs(v, p, d);
    uf_graph_check_routes(v, p->ncomps, d);
    check_ends(v, p, d);
    bool cyclic = check_cycles(v, p, d);
    bool ok = d->n == before && !cyclic;
    if (ok)
        topo_sort(pl, v, p->ncomps);
    else {
        pl->stages = v; /* kept only to be freed */
        pl->nstages = p->ncomps;
        v = NULL;
    }
    free(v);
    return ok;
}

static bool selected(const char *name, const char *const *names, size_t n)
{
    if (!names || n == 0)
        return true;
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return true;
    return false;
}

static void check_selection(const struct uf_config *cfg, const char *const *names, size_t n,
                            struct uf_diags *d)
{
    for (size_t i = 0; i < n; i++) {
        bool found = false;
        for (size_t p = 0; p < cfg->npipelines; p++)
            found = found || strcmp(cfg->pipelines[p].name, names[i]) == 0;
        if (!found) {
            struct uf_pos pos = { cfg->file, 0, 0 };
            uf_diags_add(d, &pos, "no pipeline named '%s' in the file", names[i]);
        }
    }
}

struct uf_graph *uf_graph_build(struct uf_config *cfg, const char *const *names, size_t n,
                                struct uf_diags *diags)
{
    struct uf_graph *g = uf_xcalloc(1, sizeof *g);
    g->cfg = cfg;
    g->file = uf_xstrdup(cfg->file);
    g->admin_address = uf_xstrdup(cfg->admin_address ? cfg->admin_address : "127.0.0.1:8686");
    g->shutdown_timeout_ms = cfg->shutdown_timeout_ms;
    g->pipelines = uf_xcalloc(cfg->npipelines + 1, sizeof *g->pipelines);
    check_selection(cfg, names, n, diags);
    for (size_t i = 0; i < cfg->npipelines; i++)
        if (selected(cfg->pipelines[i].name, names, n))
            build_pipeline(g, &cfg->pipelines[i], diags);
    if (diags->n) {
        uf_graph_free(g);
        return NULL;
    }
    return g;
}

void uf_graph_free(struct uf_graph *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->npipelines; i++) {
        /* Sinks before sources: a sink's destroy may still finish events whose completions
         * point into its source's state. */
        for (size_t s = g->pipelines[i].nstages; s-- > 0;)
            stage_free(g->pipelines[i].stages[s]);
        free(g->pipelines[i].stages);
        free(g->pipelines[i].name);
        free(g->pipelines[i].admin);
    }
    free(g->pipelines);
    free(g->file);
    free(g->admin_address);
    uf_config_free(g->cfg);
    free(g);
}
