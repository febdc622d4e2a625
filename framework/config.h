/* config.h: pipeline.yaml as a tree of positioned nodes, and the diagnostics list.
 * The loader reads the file with libyaml's document API, applies ${VAR} / ${VAR:-default}
 * interpolation to every scalar, and converts the document into struct uf_node trees that keep
 * the line and column (1-based) of each node, so later checks can point at the exact place.
 * It checks only the file's shape (top-level sections, pipelines, components as mappings); the
 * meaning of components is checked by graph.c against the kinds' option tables. Every problem
 * found is appended to a struct uf_diags, so one run reports all errors of a file. */
#ifndef UF_CONFIG_H
#define UF_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

struct uf_pos {
    const char *file; /* borrowed from the config */
    int line, col;    /* 1-based */
};

enum uf_node_type { UF_NODE_SCALAR, UF_NODE_SEQ, UF_NODE_MAP };

struct uf_node {
    enum uf_node_type type;
    struct uf_pos pos;
    char *scalar;           /* SCALAR: the value after interpolation */
    bool plain;             /* SCALAR: unquoted in YAML (so `123`/`true` may be typed values) */
    bool unset;             /* SCALAR: names an unset ${VAR} (already reported; scalar is "") */
    struct uf_node **items; /* SEQ: items; MAP: values */
    char **keys;            /* MAP: keys, parallel to items */
    struct uf_pos *key_pos; /* MAP: positions of the keys */
    size_t n;
};

struct uf_diag {
    struct uf_pos pos; /* pos.file points at `file`, the diagnostic's own copy */
    char *file;
    char *msg;
};

struct uf_diags {
    struct uf_diag *v;
    size_t n, cap;
};

/* Appends "file:line:col: msg" (pos may be NULL for file-level problems). */
void uf_diags_add(struct uf_diags *d, const struct uf_pos *pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Writes every diagnostic, one per line, sorted by position, to f (a FILE *). */
void uf_diags_print(const struct uf_diags *d, void *f);
void uf_diags_free(struct uf_diags *d);

struct uf_component_cfg {
    char *name;
    struct uf_pos pos;            /* of the component's key */
    const struct uf_node *kind;   /* scalar, or NULL when missing */
    const struct uf_node *inputs; /* seq of scalars, or NULL */
    const struct uf_node *body;   /* the whole mapping: options are its other keys */
};

struct uf_pipeline_cfg {
    char *name;
    struct uf_pos pos;
    const struct uf_node *admin; /* optional scalar: admin listen address for this pipeline */
    struct uf_component_cfg *comps;
    size_t ncomps;
};

struct uf_config {
    char *file;
    struct uf_node *root;
    struct uf_pipeline_cfg *pipelines;
    size_t npipelines;
    char *admin_address;      /* top-level `admin.address`, default 127.0.0.1:8686 */
    long shutdown_timeout_ms; /* top-level `shutdown_timeout`, default 10s */
    char *log_level;          /* top-level `log_level`, default info */
};

/* Loads and shape-checks the file. Returns NULL only when the file cannot be read or parsed
 * at all; otherwise returns the config, and any problems are appended to diags (the caller
 * checks diags->n). Names of the keys reserved in a component: kind, inputs, and the engine's
 * common options (see graph.h). */
struct uf_config *uf_config_load(const char *path, struct uf_diags *diags);
/* Same, from a string (tests); `name` is used as the file name in positions. */
struct uf_config *uf_config_load_string(const char *name, const char *yaml, struct uf_diags *diags);
void uf_config_free(struct uf_config *cfg);

/* Expands ${VAR} and ${VAR:-default} in s; returns a new string, or NULL with *bad set to the
 * offending variable name (owned by caller) when a variable without default is unset. "$$"
 * yields a literal "$". */
char *uf_config_interpolate(const char *s, char **bad);

/* Map lookup: the value node for key, or NULL. */
const struct uf_node *uf_node_get(const struct uf_node *map, const char *key);

#endif
