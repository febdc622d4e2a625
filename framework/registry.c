/* registry.c: the only list of stage kinds. Adding a kind is one extern and one line here. */
#include "framework/registry.h"

#include <string.h>

#include "framework/options.h"

extern const struct uf_kind uf_source_generate, uf_source_stdin;
extern const struct uf_kind uf_source_http;
extern const struct uf_kind uf_source_kafka_source, uf_source_postgres_outbox;
extern const struct uf_kind uf_transform_set, uf_transform_remap, uf_transform_route;
extern const struct uf_kind uf_transform_jwt_auth, uf_transform_validate;
extern const struct uf_kind uf_sink_stdout, uf_sink_null;
extern const struct uf_kind uf_sink_postgres, uf_sink_http_forward;
extern const struct uf_kind uf_transform_enrich, uf_transform_view_detector;
extern const struct uf_kind uf_transform_split;
extern const struct uf_kind uf_sink_kafka, uf_sink_watch_progress;
extern const struct uf_kind uf_sink_clickhouse;

const struct uf_kind *const uf_kinds[] = {
    /* sources */
    &uf_source_generate,
    &uf_source_stdin,
    &uf_source_http,
    &uf_source_kafka_source,
    &uf_source_postgres_outbox,
    /* transforms */
    &uf_transform_set,
    &uf_transform_remap,
    &uf_transform_route,
    &uf_transform_jwt_auth,
    &uf_transform_validate,
    &uf_transform_enrich,
    &uf_transform_view_detector,
    &uf_transform_split,
    /* sinks */
    &uf_sink_stdout,
    &uf_sink_null,
    &uf_sink_postgres,
    &uf_sink_http_forward,
    &uf_sink_kafka,
    &uf_sink_watch_progress,
    &uf_sink_clickhouse,
    NULL,
};

static const struct uf_kind *const *extra_kinds;

void uf_registry_set_extra(const struct uf_kind *const *kinds)
{
    extra_kinds = kinds;
}

const struct uf_kind *uf_registry_find(const char *name)
{
    for (size_t i = 0; uf_kinds[i]; i++)
        if (strcmp(uf_kinds[i]->name, name) == 0)
            return uf_kinds[i];
    for (size_t i = 0; extra_kinds && extra_kinds[i]; i++)
        if (strcmp(extra_kinds[i]->name, name) == 0)
            return extra_kinds[i];
    return NULL;
}

const char *uf_registry_suggest(const char *name)
{
    const char *best = NULL;
    size_t best_d = 3; /* at most two edits: beyond that a guess misleads */
    for (size_t i = 0; uf_kinds[i]; i++) {
        size_t d = uf_edit_distance(name, uf_kinds[i]->name);
        if (d < best_d) {
            best_d = d;
            best = uf_kinds[i]->name;
        }
    }
    return best;
}
