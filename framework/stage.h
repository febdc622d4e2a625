/* stage.h: the interface between the engine and a stage kind: a struct of callbacks plus an
 * options table (options.h). The engine allocates the kind's zeroed context, fills it from the
 * table and calls init (no I/O: `validate` never touches the network), start, then process
 * (transforms) or write (sinks), stop and destroy. process() may run on several threads at
 * once; write() runs on the sink's `workers`. Order and threads: docs/architecture.md,
 * "framework/stage.h". */
#ifndef UF_STAGE_H
#define UF_STAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "config.h"
#include "err.h"
#include "event.h"
#include "options.h"

struct uf_stage;
struct uf_metrics;

enum uf_role { UF_SOURCE, UF_TRANSFORM, UF_SINK };

/* What a kind does with a batch request's one event held as the request body's text (one
 * object or an array of them), where an event built as a tree has an envelope
 * {"route","method",...,"body"} (see docs/http.md, "Batches"). */
enum uf_batch_role {
    UF_BATCH_NONE, /* it reads fields by name: it must get items, not a batch */
    UF_BATCH_PASS, /* it handles a batch and passes it on as it is (jwt_auth, validate) */
    UF_BATCH_END,  /* it ends a batch: split cuts it into items (a sink may write one whole) */
};

/* What a sink's write() answers. */
enum uf_write_rc {
    UF_OK = 0,    /* the sink took every event of the batch (it finishes them, now or later) */
    UF_RETRY = 1, /* passing failure: the engine keeps the batch, backs off and calls again */
    UF_FAIL = 2,  /* permanent: the engine fails every event of the batch with err's message */
};

struct uf_kind {
    const char *name;
    enum uf_role role;
    const char *summary;             /* one line for `ugcflow stages` and docs */
    const struct uf_option *options; /* NULL-terminated table; may be NULL when none */
    size_t ctx_size;
    bool emits; /* a sink that also emits events downstream */
    /* NULL: UF_BATCH_NONE. Decided per component after init (e.g. by an option's value). */
    enum uf_batch_role (*batch)(const void *ctx);

    int (*init)(struct uf_stage *st, void *ctx, struct uf_err *err);
    int (*start)(struct uf_stage *st, void *ctx, struct uf_err *err);
    /* Transforms: takes ownership of ev (emit it or finish it). */
    void (*process)(struct uf_stage *st, void *ctx, struct uf_event *ev);
    /* Sinks: see enum uf_write_rc for who owns the batch afterwards. */
    int (*write)(struct uf_stage *st, void *ctx, struct uf_event **evs, size_t n,
                 struct uf_err *err);
    /* Optional, sinks and buffered components: called by the worker about every tick_ms
     * (stage option `tick`) even when no events arrive, e.g. to flush batches by age. */
    void (*tick)(struct uf_stage *st, void *ctx);
    void (*stop)(struct uf_stage *st, void *ctx);
    void (*destroy)(void *ctx);
    /* Optional: whether the component's dependencies let it work now (framework/ready.h);
     * false with why filled (what is down) makes /ready answer 503. Called on the admin
     * thread after start: must not block and must be thread-safe. NULL: always ready. */
    bool (*ready)(const void *ctx, char *why, size_t n);
};

/* ---- what a kind may call ---- */

const char *uf_stage_name(const struct uf_stage *st);
const char *uf_stage_pipeline(const struct uf_stage *st);
const struct uf_kind *uf_stage_kind(const struct uf_stage *st);
struct uf_metrics *uf_stage_metrics(struct uf_stage *st);

/* The component's config node of option `name` (init and later), NULL when not given: for a
 * kind that reads a nested option with the positions of its parts. Borrowed from the graph. */
const struct uf_node *uf_stage_option_node(const struct uf_stage *st, const char *name);
/* The directory of the config file ("." when it has none), for options naming files. */
const char *uf_stage_config_dir(const struct uf_stage *st);
/* Init only: reports a problem at pos (NULL: the component's position) with the config's other
 * diagnostics, so one run reports them all; the component then fails as if init had. */
void uf_stage_diag(struct uf_stage *st, const struct uf_pos *pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Request routes, declared at init and checked by the graph once it is wired (graph_decl.c):
 * a source names each route it emits and the event paths it fills on it ("params.movie_id";
 * "query.*" for anything under query); a sink that answers requests by route name names the
 * routes it answers and the paths it reads for each. Every route that reaches such a sink must
 * be answered by it, and every path it reads must be filled by a route of that name. Strings
 * are copied; pos is where the declaration is written (its file lives with the config). */
void uf_stage_route_provides(struct uf_stage *st, const char *route, const char *path,
                             const struct uf_pos *pos);
void uf_stage_route_answers(struct uf_stage *st, const char *route, const struct uf_pos *pos);
void uf_stage_route_reads(struct uf_stage *st, const char *route, const char *path,
                          const struct uf_pos *pos);

/* Declares a named output port (init only); returns its index (>= 1; port 0 is the default
 * output). Downstream components consume it as `inputs: [component.port]`. */
int uf_stage_add_port(struct uf_stage *st, const char *name, struct uf_err *err);
/* Whether every path from the port meets a kind that ends a batch, with only kinds that pass a
 * batch on before it (enum uf_batch_role; start and later: the graph is wired after init): the
 * http source holds a batch as its text only then, so no kind that reads fields by name gets a
 * whole batch. */
bool uf_stage_batches_split(const struct uf_stage *st, int port);

/* Passes ev downstream (takes ownership, whatever happens). Returns 0, or UF_EFULL when a
 * rejecting queue was full (the engine then failed the event with 503 "overloaded"), or
 * UF_ECLOSED during shutdown (failed with 503 "shutting_down"). With no consumer on the port,
 * the event is dropped and counted. Fan-out gives each branch its own copy. */
int uf_emit(struct uf_stage *st, struct uf_event *ev);
int uf_emit_port(struct uf_stage *st, int port, struct uf_event *ev);

/* Sources: no more events will come from this source (e.g. end of input, `count` reached).
 * When every source of the process is done, the engine shuts down gracefully. */
void uf_stage_source_done(struct uf_stage *st);
/* Milliseconds left before the shutdown deadline (a day while running, so callers may scale
 * it to nanoseconds without overflow). */
int64_t uf_stage_deadline_ms(const struct uf_stage *st);

/* Sinks that finish events asynchronously record a batch's size and flush time themselves. */
void uf_stage_observe_flush(struct uf_stage *st, size_t rows, uint64_t bytes, uint64_t us);

#endif
