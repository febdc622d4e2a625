/* lg_wlconf.c: reads the loadgen workload YAML (population, batch, player, and the route shares
 * of each API) with libyaml's document API, one small function per section. Every number is
 * checked against its range; nothing is clamped. */
#include "bench/loadgen/lg_wlconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

struct num_key {
    const char *name;
    size_t offset;
    double min, max;
};

#define NK(n, lo, hi)                                                                              \
    {                                                                                              \
#n, offsetof(struct uf_lg_wlconf, n), lo, hi                                               \
    }
static const struct num_key population_keys[] = {
    NK(users, 1, 1e8), NK(registered, 0, 1), NK(movies, 1, 1e7), NK(zipf_s, 0, 5), { 0 }
};
static const struct num_key player_keys[] = { NK(sessions, 1, 1e6),     NK(heartbeat_s, 1, 3600),
                                              NK(duration_s, 1, 1e6),   NK(watch_median_s, 1, 1e6),
                                              NK(pause, 0, 1),          NK(seek, 0, 1),
                                              NK(quality_change, 0, 1), { 0 } };

struct reader {
    yaml_document_t doc;
    const char *path;
    char *err;
    size_t errlen;
};

static int fail(struct reader *r, const yaml_node_t *n, const char *what)
{
    snprintf(r->err, r->errlen, "%s:%zu:%zu: %s", r->path, n->start_mark.line + 1,
             n->start_mark.column + 1, what);
    return -1;
}

static const char *key_of(const yaml_node_t *k)
{
    return k->type == YAML_SCALAR_NODE ? (const char *)k->data.scalar.value : "";
}

static int read_number(struct reader *r, yaml_node_t *v, double min, double max, double *out)
{
    if (v->type != YAML_SCALAR_NODE)
        return fail(r, v, "expected a number");
    char *end;
    const char *s = (const char *)v->data.scalar.value;
    double d = strtod(s, &end);
    if (end == s || *end || d < min || d > max) {
        char msg[128];
        snprintf(msg, sizeof msg, "'%s': expected a number from %g to %g", s, min, max);
        return fail(r, v, msg);
    }
    *out = d;
    return 0;
}

static const struct num_key *find_key(const struct num_key *keys, const char *name)
{
    for (; keys->name; keys++)
        if (strcmp(keys->name, name) == 0)
            return keys;
    return NULL;
}

/* A mapping of numbers, each one of keys. */
static int read_numbers(struct reader *r, yaml_node_t *map, const struct num_key *keys,
                        struct uf_lg_wlconf *c)
{
    if (map->type != YAML_MAPPING_NODE)
        return fail(r, map, "expected a mapping");
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(&r->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(&r->doc, p->value);
        const struct num_key *nk = find_key(keys, key_of(k));
        if (!nk)
            return fail(r, k, "unknown key");
        if (read_number(r, v, nk->min, nk->max, (double *)((char *)c + nk->offset)) < 0)
            return -1;
    }
    return 0;
}

/* The shares of one API: each key a route of that API. */
static int read_shares(struct reader *r, yaml_node_t *map, enum uf_lg_api api,
                       const struct uf_lg_route_def *defs, size_t n, struct uf_lg_wlconf *c)
{
    if (map->type != YAML_MAPPING_NODE)
        return fail(r, map, "expected a mapping of route: share");
    for (size_t i = 0; i < n; i++)
        if (defs[i].api == api)
            c->share[i] = 0;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(&r->doc, p->key);
        size_t i = 0;
        while (i < n && (defs[i].api != api || strcmp(defs[i].name, key_of(k))))
            i++;
        if (i == n)
            return fail(r, k, "unknown route for this API");
        if (read_number(r, yaml_document_get_node(&r->doc, p->value), 0, 1e9, &c->share[i]) < 0)
            return -1;
    }
    return 0;
}

static int read_section(struct reader *r, yaml_node_t *k, yaml_node_t *v,
                        const struct uf_lg_route_def *defs, size_t n, struct uf_lg_wlconf *c)
{
    const char *name = key_of(k);
    if (strcmp(name, "population") == 0)
        return read_numbers(r, v, population_keys, c);
    if (strcmp(name, "player") == 0)
        return read_numbers(r, v, player_keys, c);
    if (strcmp(name, "batch") == 0)
        return read_number(r, v, 1, UF_LG_BATCH_MAX, &c->batch);
    if (strcmp(name, "stat") == 0)
        return read_shares(r, v, UF_LG_API_STAT, defs, n, c);
    if (strcmp(name, "ugc") == 0)
        return read_shares(r, v, UF_LG_API_UGC, defs, n, c);
    return fail(r, k, "unknown section (expected population, batch, player, stat or ugc)");
}

/* The shares of bench/loadgen/workload.yaml, used without --workload (test_lg_workload checks
 * that the file and these agree). */
static const struct {
    const char *route;
    double share;
} default_shares[] = { { "player", 60 },        { "views", 25 },
                       { "events", 15 },        { "reactions_count", 25 },
                       { "comments_list", 15 }, { "reaction_get", 8 },
                       { "favorites_list", 8 }, { "history_list", 5 },
                       { "progress_get", 4 },   { "like", 10 },
                       { "dislike", 4 },        { "reaction_delete", 2 },
                       { "favorite_put", 7 },   { "favorite_delete", 2 },
                       { "comment_create", 5 }, { "comment_vote_put", 5 } };

static void set_defaults(const struct uf_lg_route_def *defs, size_t n, struct uf_lg_wlconf *c)
{
    *c = (struct uf_lg_wlconf){ .users = 500000,
                                .registered = 0.6,
                                .movies = 20000,
                                .zipf_s = 1,
                                .batch = 1,
                                .sessions = 2000,
                                .heartbeat_s = 10,
                                .duration_s = 5400,
                                .watch_median_s = 60,
                                .pause = 0.05,
                                .seek = 0.03,
                                .quality_change = 0.02 };
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < sizeof default_shares / sizeof default_shares[0]; j++)
            if (strcmp(defs[i].name, default_shares[j].route) == 0)
                c->share[i] = default_shares[j].share;
}

static int read_doc(struct reader *r, const struct uf_lg_route_def *defs, size_t n,
                    struct uf_lg_wlconf *c)
{
    yaml_node_t *root = yaml_document_get_root_node(&r->doc);
    if (!root)
        return snprintf(r->err, r->errlen, "%s: empty workload", r->path), -1;
    if (root->type != YAML_MAPPING_NODE)
        return fail(r, root, "expected a mapping of sections");
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
         p++)
        if (read_section(r, yaml_document_get_node(&r->doc, p->key),
                         yaml_document_get_node(&r->doc, p->value), defs, n, c) < 0)
            return -1;
    return 0;
}

int uf_lg_wlconf_load(const char *path, const struct uf_lg_route_def *defs, size_t n,
                      struct uf_lg_wlconf *c, char *err, size_t errlen)
{
    set_defaults(defs, n, c);
    if (!path)
        return 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return snprintf(err, errlen, "%s: cannot open the workload: %m", path), -1;
    struct reader r = { .path = path, .err = err, .errlen = errlen };
    yaml_parser_t parser;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, f);
    int rc = -1;
    if (!yaml_parser_load(&parser, &r.doc)) {
        snprintf(err, errlen, "%s:%zu:%zu: %s", path, parser.problem_mark.line + 1,
                 parser.problem_mark.column + 1, parser.problem ? parser.problem : "bad YAML");
        goto out;
    }
    rc = read_doc(&r, defs, n, c);
    yaml_document_delete(&r.doc);
out:
    yaml_parser_delete(&parser);
    fclose(f);
    return rc;
}
