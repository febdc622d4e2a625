/* sinks/null.c: the `null` sink: accepts and discards events (counted as written).
 * The end of benchmarks and a placeholder while a pipeline is being built. */
#include "framework/stage.h"

static int null_write(struct uf_stage *st, void *ctx, struct uf_event **evs, size_t n,
                      struct uf_err *err)
{
    for (size_t i = 0; i < n; i++)
        uf_event_done(evs[i]);
    return UF_OK;
}

const struct uf_kind uf_sink_null = {
    .name = "null",
    .role = UF_SINK,
    .summary = "Discard events (counted as written)",
    .write = null_write,
};
