/* lg_wlconf.h: the workload file of `ugcflow loadgen` as plain numbers (lg_wlconf.c reads it
 * with libyaml's document API). Shares are indexed like lg_workload.c's route table. */
#ifndef UF_LG_WLCONF_H
#define UF_LG_WLCONF_H
#include <stddef.h>

#include "bench/loadgen/lg_workload.h"

struct uf_lg_wlconf {
    double users, registered, movies, zipf_s, batch;
    double sessions, heartbeat_s, duration_s, watch_median_s, pause, seek, quality_change;
    double share[UF_LG_ROUTES_MAX];
};

struct uf_lg_route_def {
    const char *name;
    enum uf_lg_api api;
};

/* Reads path into c, whose routes are defs[0..n); path NULL gives the defaults (the shipped
 * workload.yaml's values). What the file leaves out keeps its default. Unknown keys, wrong types
 * and values out of range are errors ("file:line:col: ..." in err). Returns 0 or -1. */
int uf_lg_wlconf_load(const char *path, const struct uf_lg_route_def *defs, size_t n,
                      struct uf_lg_wlconf *c, char *err, size_t errlen);
#endif
