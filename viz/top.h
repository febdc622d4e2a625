/* viz/top.h: `ugcflow top`, a terminal view of every component's live metrics across one or
 * more running ugcflow processes (each one's /api/graph, fetched with libcurl every second),
 * sortable by rate, errors or latency. Rendering is apart from fetching so it can be tested
 * byte for byte. */
#ifndef UF_VIZ_TOP_H
#define UF_VIZ_TOP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

enum uf_top_sort { UF_TOP_SORT_RATE, UF_TOP_SORT_ERRORS, UF_TOP_SORT_LATENCY };

/* One process: its admin address and its /api/graph (borrowed), or NULL and why not. */
struct uf_top_source {
    const char *address;
    const json_t *graph;
    const char *error;
};

/* The screen for n processes: a title line, a header, one line per component sorted by `sort`
 * (highest first; ties by name), then one line per unreachable process. With ansi, rows in
 * trouble are red and the header is bold; without, the text is plain. New string. */
char *uf_top_render(const struct uf_top_source *srcs, size_t n, enum uf_top_sort sort, bool ansi);

#endif
