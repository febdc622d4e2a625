/* viz/deploy.c: the deployment model from a config (see deploy.h).
 * The connector kinds' options say what a component touches; the table below names, per kind,
 * which option holds the topic, the database or the endpoint. It lists only the kinds that reach
 * outside their process (the registry stays the one list of kinds; a kind missing here is drawn
 * inside its pipeline and nothing else). Values are read from the config tree after ${VAR}
 * interpolation, with the kind's own defaults, because the graph JSON masks secrets and a DSN
 * is one: the store's label keeps only host, port and database, never a user or password. */
#include "viz/deploy.h"

#include <stdio.h>
#include <string.h>

#include "framework/config.h"
#include "framework/registry.h"

enum link { L_PRODUCE, L_CONSUME, L_PG_WRITE, L_PG_READ, L_PG_STATE, L_CH_WRITE, L_FORWARD };

/* What each connector kind touches, through which option. */
static const struct {
    const char *kind, *option;
    enum link link;
} links[] = {
    { "kafka", "topic", L_PRODUCE },         { "kafka_source", "topics", L_CONSUME },
    { "postgres", "dsn", L_PG_WRITE },       { "watch_progress", "dsn", L_PG_WRITE },
    { "postgres_outbox", "dsn", L_PG_READ }, { "view_detector", "state_dsn", L_PG_STATE },
    { "clickhouse", "url", L_CH_WRITE },     { "http_forward", "url", L_FORWARD },
};

struct model {
    json_t *root, *topics, *stores, *edges;
    json_t *listeners; /* "host:port" -> id of the http source listening there */
    json_t *forwards;  /* [[from, "host:port"]] resolved once every listener is known */
};

/* ---- reading options ---- */

static const struct uf_node *map_get(const struct uf_node *map, const char *key)
{
    for (size_t i = 0; map && map->type == UF_NODE_MAP && i < map->n; i++)
        if (strcmp(map->keys[i], key) == 0)
            return map->items[i];
    return NULL;
}

/* The option's scalar value in the component, else the kind's default; NULL when neither. */
static const char *option(const struct uf_component_cfg *c, const char *name)
{
    const struct uf_node *v = map_get(c->body, name);
    if (v && v->type == UF_NODE_SCALAR)
        return v->scalar;
    const struct uf_kind *k = c->kind ? uf_registry_find(c->kind->scalar) : NULL;
    for (const struct uf_option *o = k ? k->options : NULL; o && o->name; o++)
        if (strcmp(o->name, name) == 0)
            return o->def;
    return NULL;
}

/* "scheme://[user[:pw]@]host[:port][/path]" -> host:port (default_port) and the path's first
 * segment. */
static void split_url(const char *url, const char *default_port, char *hostport, size_t hn,
                      char *path, size_t pn)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    const char *end = p + strcspn(p, "/?");
    const char *at = memchr(p, '@', (size_t)(end - p));
    if (at)
        p = at + 1;
    int len = (int)(end - p);
    bool has_port = memchr(p, ':', (size_t)len) != NULL;
    snprintf(hostport, hn, "%.*s%s%s", len, p, has_port ? "" : ":", has_port ? "" : default_port);
    snprintf(path, pn, "%.*s", *end == '/' ? (int)strcspn(end + 1, "/?") : 0,
             *end == '/' ? end + 1 : "");
}

/* A libpq key=value DSN's value for key, into out ("" when absent). */
static void dsn_value(const char *dsn, const char *key, char *out, size_t n)
{
    out[0] = '\0';
    size_t kl = strlen(key);
    for (const char *p = dsn; *p; p += strcspn(p, " ")) {
        p += strspn(p, " ");
        if (strncmp(p, key, kl) == 0 && p[kl] == '=')
            snprintf(out, n, "%.*s", (int)strcspn(p + kl + 1, " "), p + kl + 1);
    }
}

/* host:port/database of a PostgreSQL DSN, URI or key=value, without credentials. */
static void pg_where(const char *dsn, char *out, size_t n)
{
    char hp[256], db[128];
    if (strstr(dsn, "://")) {
        split_url(dsn, "5432", hp, sizeof hp, db, sizeof db);
    } else {
        char host[128], port[16];
        dsn_value(dsn, "host", host, sizeof host);
        dsn_value(dsn, "port", port, sizeof port);
        dsn_value(dsn, "dbname", db, sizeof db);
        snprintf(hp, sizeof hp, "%s:%s", host[0] ? host : "localhost", port[0] ? port : "5432");
    }
    snprintf(out, n, "%s/%s", hp, db);
}

/* ---- topics, stores, edges ---- */

static json_t *find_by_id(json_t *arr, const char *id)
{
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o)
    {
        if (strcmp(json_string_value(json_object_get(o, "id")), id) == 0)
            return o;
    }
    return NULL;
}

static json_t *topic(struct model *m, const char *name)
{
    char id[300];
    snprintf(id, sizeof id, "topic:%s", name);
    json_t *t = find_by_id(m->topics, id);
    if (!t) {
        t = json_pack("{s:s,s:s,s:[],s:[],s:b}", "id", id, "name", name, "producers", "consumers",
                      "dead_letter", 0);
        json_array_append_new(m->topics, t);
    }
    return t;
}

static json_t *store(struct model *m, const char *kind, const char *where)
{
    char id[400], label[400];
    snprintf(id, sizeof id, "store:%s:%s", kind, where);
    json_t *s = find_by_id(m->stores, id);
    if (!s) {
        snprintf(label, sizeof label, "%s %s",
                 strcmp(kind, "postgres") == 0 ? "PostgreSQL" : "ClickHouse", where);
        s = json_pack("{s:s,s:s,s:s,s:[],s:[]}", "id", id, "kind", kind, "label", label, "writers",
                      "readers");
        json_array_append_new(m->stores, s);
    }
    return s;
}

static void edge(struct model *m, const char *from, const char *to, const char *kind)
{
    json_array_append_new(m->edges,
                          json_pack("{s:s,s:s,s:s}", "from", from, "to", to, "kind", kind));
}

static void produce(struct model *m, const char *id, const char *name, bool dead_letter)
{
    json_t *t = topic(m, name);
    json_array_append_new(json_object_get(t, "producers"), json_string(id));
    if (dead_letter)
        json_object_set_new(t, "dead_letter", json_true());
    edge(m, id, json_string_value(json_object_get(t, "id")), "produce");
}

static void consume(struct model *m, const struct uf_component_cfg *c, const char *id)
{
    const struct uf_node *topics = map_get(c->body, "topics");
    const char *group = option(c, "group");
    for (size_t i = 0; topics && topics->type == UF_NODE_SEQ && i < topics->n; i++) {
        if (topics->items[i]->type != UF_NODE_SCALAR)
            continue;
        json_t *t = topic(m, topics->items[i]->scalar);
        json_array_append_new(json_object_get(t, "consumers"),
                              json_pack("{s:s,s:s}", "component", id, "group", group ? group : ""));
        edge(m, json_string_value(json_object_get(t, "id")), id, "consume");
    }
    const char *dl = option(c, "dead_letter"), *dlq = option(c, "dlq_topic");
    if (dl && strcmp(dl, "kafka") == 0 && dlq)
        produce(m, id, dlq, true);
}

static void use_store(struct model *m, const char *id, const char *kind, const char *where,
                      enum link l)
{
    json_t *s = store(m, kind, where);
    const char *sid = json_string_value(json_object_get(s, "id"));
    bool reads = l == L_PG_READ;
    json_array_append_new(json_object_get(s, reads ? "readers" : "writers"), json_string(id));
    if (reads)
        edge(m, sid, id, "read");
    else
        edge(m, id, sid, l == L_PG_STATE ? "state" : "write");
}

/* The edges a component makes outside its pipeline, by its kind's entry in links[]. */
static void link_component(struct model *m, const struct uf_component_cfg *c, const char *id)
{
    const char *kind = c->kind ? c->kind->scalar : "";
    if (strcmp(kind, "http") == 0) {
        const char *addr = option(c, "address");
        if (addr)
            json_object_set_new(m->listeners, addr, json_string(id));
    }
    for (size_t i = 0; i < sizeof links / sizeof *links; i++) {
        const char *v = strcmp(links[i].kind, kind) == 0 ? option(c, links[i].option) : NULL;
        char where[400], path[128];
        if (links[i].link == L_CONSUME && strcmp(links[i].kind, kind) == 0)
            consume(m, c, id);
        if (!v || !*v)
            continue;
        switch (links[i].link) {
        case L_PRODUCE:
            produce(m, id, v, false);
            break;
        case L_CONSUME:
            break;
        case L_PG_WRITE:
        case L_PG_READ:
        case L_PG_STATE:
            pg_where(v, where, sizeof where);
            use_store(m, id, "postgres", where, links[i].link);
            break;
        case L_CH_WRITE:
            split_url(v, "8123", where, sizeof where, path, sizeof path);
            strncat(where, "/", sizeof where - strlen(where) - 1);
            strncat(where, option(c, "database") ? option(c, "database") : "",
                    sizeof where - strlen(where) - 1);
            use_store(m, id, "clickhouse", where, L_CH_WRITE);
            break;
        case L_FORWARD:
            split_url(v, "80", where, sizeof where, path, sizeof path);
            json_array_append_new(m->forwards, json_pack("[s,s]", id, where));
            break;
        }
    }
}

/* ---- processes ---- */

static const char *role_of(const struct uf_component_cfg *c)
{
    const struct uf_kind *k = c->kind ? uf_registry_find(c->kind->scalar) : NULL;
    if (!k)
        return "transform";
    return k->role == UF_SOURCE ? "source" : k->role == UF_SINK ? "sink" : "transform";
}

/* "name" or "name.port" of an input -> edge from pipeline/name with that port. */
static void input_edge(json_t *edges, const char *pl, const char *input, const char *to)
{
    const char *dot = strchr(input, '.');
    char from[300];
    snprintf(from, sizeof from, "%s/%.*s", pl, dot ? (int)(dot - input) : (int)strlen(input),
             input);
    json_array_append_new(
        edges, json_pack("{s:s,s:s,s:s}", "from", from, "to", to, "port", dot ? dot + 1 : ""));
}

static json_t *process(struct model *m, const struct uf_config *cfg,
                       const struct uf_pipeline_cfg *p)
{
    json_t *comps = json_array(), *edges = json_array();
    for (size_t i = 0; i < p->ncomps; i++) {
        const struct uf_component_cfg *c = &p->comps[i];
        char id[300];
        snprintf(id, sizeof id, "%s/%s", p->name, c->name);
        json_array_append_new(comps,
                              json_pack("{s:s,s:s,s:s,s:s}", "id", id, "name", c->name, "kind",
                                        c->kind ? c->kind->scalar : "?", "role", role_of(c)));
        for (size_t k = 0; c->inputs && k < c->inputs->n; k++)
            if (c->inputs->items[k]->type == UF_NODE_SCALAR)
                input_edge(edges, p->name, c->inputs->items[k]->scalar, id);
        link_component(m, c, id);
    }
    const char *admin = p->admin && p->admin->scalar ? p->admin->scalar : cfg->admin_address;
    return json_pack("{s:s,s:s,s:o,s:o}", "name", p->name, "admin", admin ? admin : "",
                     "components", comps, "edges", edges);
}

static void resolve_forwards(struct model *m)
{
    size_t i;
    json_t *f;
    json_array_foreach(m->forwards, i, f)
    {
        const char *where = json_string_value(json_array_get(f, 1));
        const char *to = json_string_value(json_object_get(m->listeners, where));
        if (to)
            edge(m, json_string_value(json_array_get(f, 0)), to, "forward");
    }
}

json_t *uf_deploy_model(const struct uf_config *cfg)
{
    struct model m = { .topics = json_array(),
                       .stores = json_array(),
                       .edges = json_array(),
                       .listeners = json_object(),
                       .forwards = json_array() };
    json_t *procs = json_array();
    for (size_t i = 0; i < cfg->npipelines; i++)
        json_array_append_new(procs, process(&m, cfg, &cfg->pipelines[i]));
    resolve_forwards(&m);
    json_decref(m.listeners);
    json_decref(m.forwards);
    return json_pack("{s:s,s:o,s:o,s:o,s:o}", "file", cfg->file ? cfg->file : "", "processes",
                     procs, "topics", m.topics, "stores", m.stores, "edges", m.edges);
}

/* ---- stop ranks ---- */

void uf_deploy_process_of(const char *id, char *out, size_t size)
{
    const char *slash = strchr(id, '/');
    bool component = slash && strncmp(id, "topic:", 6) != 0 && strncmp(id, "store:", 6) != 0;
    snprintf(out, size, "%.*s", component ? (int)(slash - id) : 0, id);
}

static int process_index(const json_t *procs, const char *id)
{
    char name[256];
    uf_deploy_process_of(id, name, sizeof name);
    size_t i;
    json_t *p;
    json_array_foreach(procs, i, p)
    {
        if (name[0] && strcmp(json_string_value(json_object_get(p, "name")), name) == 0)
            return (int)i;
    }
    return -1;
}

/* Relaxes every path producer -> (topic|store) -> consumer, or forward, once: true when a rank
 * rose. Each component edge into a node and each edge out of it form one process hop. */
static bool relax(const json_t *model, int *ranks)
{
    const json_t *procs = json_object_get(model, "processes"),
                 *edges = json_object_get(model, "edges");
    size_t n = json_array_size(procs);
    bool changed = false;
    size_t i, k;
    json_t *in, *out;
    json_array_foreach(edges, i, in)
    {
        int a = process_index(procs, json_string_value(json_object_get(in, "from")));
        const char *mid = json_string_value(json_object_get(in, "to"));
        bool direct = process_index(procs, mid) >= 0;
        json_array_foreach(edges, k, out)
        {
            const char *from = json_string_value(json_object_get(out, "from"));
            int b = direct
                        ? (k == i ? process_index(procs, mid) : -1)
                        : (strcmp(from, mid) == 0
                               ? process_index(procs, json_string_value(json_object_get(out, "to")))
                               : -1);
            if (a >= 0 && b >= 0 && a != b && ranks[b] < ranks[a] + 1 && ranks[a] + 1 < (int)n) {
                ranks[b] = ranks[a] + 1;
                changed = true;
            }
        }
    }
    return changed;
}

void uf_deploy_stop_ranks(const json_t *model, int *ranks)
{
    size_t n = json_array_size(json_object_get(model, "processes"));
    for (size_t i = 0; i < n; i++)
        ranks[i] = 0;
    /* A longest path visits each process once: n rounds settle any acyclic graph; a cycle's
     * ranks stop at n - 1 (their order is then arbitrary, but the stop still ends). */
    for (size_t round = 0; round < n && relax(model, ranks); round++) {
    }
}
