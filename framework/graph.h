/* graph.h: a validated graph of stage instances built from a config, and the stage struct.
 * uf_graph_build checks every component against its kind and reports all problems with their
 * positions (docs/architecture.md, "Configuration errors"). A built graph has every kind's
 * context filled and init() run, but nothing started: runtime.h runs it. Every component also
 * takes the engine's common options (uf_common_options: buffer, when_full, workers, batch_max,
 * tick; see "Module notes" there). */
#ifndef UF_GRAPH_H
#define UF_GRAPH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "framework/config.h"
#include "framework/metrics.h"
#include "framework/stage.h"

struct uf_queue;
struct uf_runtime;

extern const struct uf_option uf_common_options[];

struct uf_common {
    int64_t buffer; /* queue capacity; -1 = the kind's default (sinks 4096, others 0) */
    int when_full;  /* 0 block, 1 reject */
    int64_t workers;
    int64_t batch_max;
    int64_t tick_ms;
};

struct uf_port {
    char *name;           /* "" for the default output */
    struct uf_stage **to; /* consumers, in config order */
    size_t nto;
};

/* One route declaration of a stage (stage.h, uf_stage_route_*). */
enum uf_route_decl_kind { UF_ROUTE_PROVIDES, UF_ROUTE_ANSWERS, UF_ROUTE_READS };
struct uf_route_decl {
    enum uf_route_decl_kind kind;
    char *route, *path; /* path NULL for ANSWERS */
    struct uf_pos pos;
};

struct uf_stage {
    char *name;
    char *where;          /* "file:line:col" */
    const char *pipeline; /* borrowed from the graph */
    const struct uf_kind *kind;
    void *ctx;
    struct uf_common common;
    struct uf_port *ports; /* ports[0] is the default output */
    size_t nports;
    struct uf_stage **inputs; /* upstream stages (for the graph JSON) */
    int *input_ports;
    size_t ninputs;
    struct uf_metrics metrics;
    struct uf_queue *q; /* set at start when buffered */
    pthread_t *threads;
    pthread_t ticker; /* unbuffered stages with tick(): calls it every tick_ms */
    bool has_ticker;
    atomic_bool ticker_stop;
    struct uf_runtime *rt;
    atomic_bool source_done;
    bool initialised, started;
    bool init_ran;              /* init was called (its route declarations stand) */
    size_t topo;                /* index in topological order */
    const struct uf_node *body; /* the component's mapping, borrowed from the config */
    const char *config_file;    /* borrowed from the config */
    char *config_dir;           /* the config file's folder, "." when it names none */
    struct uf_diags *diags;     /* set while init runs */
    size_t diags_before;
    struct uf_route_decl *routes;
    size_t nroutes;
};

struct uf_pipeline {
    char *name;
    char *admin;              /* admin address for this pipeline, NULL for the default */
    struct uf_stage **stages; /* topological order */
    size_t nstages;
};

struct uf_graph {
    char *file;
    struct uf_pipeline *pipelines;
    size_t npipelines;
    char *admin_address;
    long shutdown_timeout_ms;
    struct uf_config *cfg; /* owned: option values borrow from it */
};

/* Builds the graph for the selected pipelines (names NULL or n == 0: all). Returns NULL and
 * fills diags when there is any problem. Takes ownership of cfg either way. */
struct uf_graph *uf_graph_build(struct uf_config *cfg, const char *const *names, size_t n,
                                struct uf_diags *diags);
void uf_graph_free(struct uf_graph *g);

/* Graph JSON: {"pipelines":[{"name","nodes":[{"id","name","kind","role","options":{..masked},
 * "where","metrics":{..}}],"edges":[{"from","to","port"}]}]}. With metrics=false, no snapshot. */
json_t *uf_graph_json(const struct uf_graph *g, bool metrics);

/* Checks the route declarations of a pipeline's stages (graph_decl.c): v holds n stages. */
void uf_graph_check_routes(struct uf_stage **v, size_t n, struct uf_diags *d);
/* Frees what the stage's declarations hold (graph_decl.c). */
void uf_stage_decls_free(struct uf_stage *st);

#endif
