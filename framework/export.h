/* export.h: renderings of the graph JSON (uf_graph_json) for people and tools: Graphviz DOT
 * and Mermaid flowcharts, left to right, one cluster per pipeline, shapes by role, and SVG
 * (the DOT laid out by Graphviz's `dot` program, which must be installed). */
#ifndef UF_EXPORT_H
#define UF_EXPORT_H

#include <jansson.h>

#include "framework/err.h"

/* Each returns a new string (caller frees). */
char *uf_export_dot(const json_t *graph);
char *uf_export_mermaid(const json_t *graph);
/* Runs `dot -Tsvg` (found through PATH) on the DOT rendering. Returns the SVG (caller frees),
 * or NULL with err set when dot is missing or fails. Blocks until dot exits. */
char *uf_export_svg(const json_t *graph, struct uf_err *err);
/* Runs `dot -T<format>` on DOT text and returns what it printed (caller frees), or NULL with
 * err set. Blocks until dot exits. */
char *uf_export_run_dot(const char *dot, const char *format, struct uf_err *err);

#endif
