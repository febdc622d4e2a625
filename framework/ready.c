/* ready.c: /ready's answer (see ready.h): the runtime must be running (not starting, not
 * shutting down) and every started component whose kind has a `ready` callback must say it is
 * ready. Every component is asked, so the body names all that is down at once, not the first.
 * Runs on the admin thread; touches no engine state beyond what the callbacks read. */
#include "framework/ready.h"

#include <stdio.h>

#include "framework/graph.h"
#include "framework/runtime.h"

static json_t *entry(const char *component, const char *kind, const char *reason)
{
    return json_pack("{s:s,s:s,s:s}", "component", component, "kind", kind, "reason", reason);
}

json_t *uf_ready_report(struct uf_runtime *rt, bool *ready)
{
    json_t *down = json_array();
    if (!uf_runtime_is_ready(rt))
        json_array_append_new(down, entry("engine", "runtime", "starting or shutting down"));
    const struct uf_graph *g = uf_runtime_graph(rt);
    for (size_t i = 0; i < g->npipelines; i++) {
        const struct uf_pipeline *pl = &g->pipelines[i];
        for (size_t s = 0; s < pl->nstages; s++) {
            const struct uf_stage *st = pl->stages[s];
            char why[256] = "", id[512];
            if (!st->started || !st->kind->ready || st->kind->ready(st->ctx, why, sizeof why))
                continue;
            snprintf(id, sizeof id, "%s/%s", pl->name, st->name);
            json_array_append_new(down, entry(id, st->kind->name, why[0] ? why : "not ready"));
        }
    }
    *ready = json_array_size(down) == 0;
    if (*ready) {
        json_decref(down);
        return json_pack("{s:s}", "status", "ready");
    }
    return json_pack("{s:s,s:o}", "status", "not_ready", "not_ready", down);
}

bool uf_ready_spool_ok(uint64_t bytes, int64_t max_bytes, char *why, size_t n)
{
    if (max_bytes <= 0 || bytes * 100 <= (uint64_t)max_bytes * UF_READY_SPOOL_PCT)
        return true;
    snprintf(why, n, "spool %llu %% full (%llu of %lld bytes)",
             (unsigned long long)(bytes * 100 / (uint64_t)max_bytes), (unsigned long long)bytes,
             (long long)max_bytes);
    return false;
}
