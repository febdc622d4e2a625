/* lg_plot.h: the picture of a loadgen run, an SVG written here (no plotting tool needed):
 * achieved against offered rate (with the line where they are equal), and p50/p99/p99.9
 * latency against offered rate on a log scale; one point per second of a run or per step of
 * --find-max. */
#ifndef UF_LG_PLOT_H
#define UF_LG_PLOT_H
#include <stddef.h>

#include "bench/loadgen/lg_engine.h"

/* Writes the SVG of points (in the order given) to path; title names the run. 0, or -1 when
 * the file cannot be written. */
int uf_lg_plot_svg(const char *path, const char *title, const struct uf_lg_point *points, size_t n);
#endif
