/* runtime.h: runs a built graph: starts stages in reverse topological order (sinks first, so a
 * source never emits into a stage that is not ready), runs worker threads at asynchronous
 * boundaries, and shuts down gracefully: sources stop, then each buffered stage in topological
 * order closes its queue, drains it and flushes, all within the shutdown deadline. */
#ifndef UF_RUNTIME_H
#define UF_RUNTIME_H

#include <stdbool.h>

#include "framework/err.h"
#include "framework/graph.h"

struct uf_runtime;

/* Does not take ownership of g, which must outlive the runtime. */
struct uf_runtime *uf_runtime_new(struct uf_graph *g);
int uf_runtime_start(struct uf_runtime *rt, struct uf_err *err);
/* Asks for shutdown; async-signal-safe (writes to a pipe). */
void uf_runtime_request_stop(struct uf_runtime *rt);
/* Blocks until stop is requested or every source is done, then shuts down within the deadline.
 * Returns 0 when everything drained, UF_ETIMEOUT when the deadline cut the drain short: then
 * some worker may still run, and the caller must exit without freeing the runtime or graph. */
int uf_runtime_run(struct uf_runtime *rt);
bool uf_runtime_is_stopping(const struct uf_runtime *rt);
bool uf_runtime_is_ready(const struct uf_runtime *rt);
void uf_runtime_free(struct uf_runtime *rt);
struct uf_graph *uf_runtime_graph(struct uf_runtime *rt);

/* Prometheus text exposition of every component (new string, caller frees). */
char *uf_runtime_metrics_text(struct uf_runtime *rt);

#endif
