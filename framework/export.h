/* export.h: renderings of the graph JSON (uf_graph_json) for people and tools: Graphviz DOT
 * and Mermaid flowcharts, left to right, one cluster per pipeline, shapes by role. */
#ifndef UF_EXPORT_H
#define UF_EXPORT_H

#include <jansson.h>

/* Each returns a new string (caller frees). */
char *uf_export_dot(const json_t *graph);
char *uf_export_mermaid(const json_t *graph);

#endif
