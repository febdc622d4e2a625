/* viz/labels.h: what a person reads about a component, shared by the deployment page and
 * `ugcflow top`: a fixed set of lines per role (in/out rate, errors, p99, queue fill; sinks'
 * batch and flush; sources' consumer lag) and the kind's own metrics under human labels taken
 * from docs/metrics.md, each formatted by its unit (a port is a number, not "8.1k"). Raw metric
 * names never reach the screen: a metric missing from the table is shown in words made from its
 * name. Pure functions over the graph JSON of one node (uf_graph_json plus history rates). */
#ifndef UF_VIZ_LABELS_H
#define UF_VIZ_LABELS_H

#include <jansson.h>
#include <stddef.h>

/* 12.3k, 1.5M, 0.4, 0 */
void uf_fmt_num(char *out, size_t n, double v);
/* 40us, 12.5ms, 1.20s; "-" for 0 */
void uf_fmt_us(char *out, size_t n, double us);

/* The label and the formatted value of one kind metric as the history keys it ("name" or
 * "name{label value}"); counters arrive as rates. Into label and value. */
void uf_label_metric(const char *key, double v, char *label, size_t ln, char *value, size_t vn);

/* {"body":[[LABEL,VALUE]...],"more":[[LABEL,VALUE]...]}: the role's fixed lines, then every
 * kind metric (zero counters left out). node is one node of /api/graph. New reference. */
json_t *uf_labels_node(const json_t *node);

/* One line for top's NOTES column: sinks' batch and flush, sources' lag, then the kind metrics
 * that are not zero, under their labels. Truncated to n. */
void uf_labels_notes(const json_t *node, char *out, size_t n);

#endif
