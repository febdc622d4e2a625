/* registry.h: the list of stage kinds compiled into ugcflow.
 * registry.c holds the only list; adding a kind is one line there. */
#ifndef UF_REGISTRY_H
#define UF_REGISTRY_H

#include <stddef.h>

#include "framework/stage.h"

/* NULL-terminated array of every kind, sources first, then transforms, then sinks. */
extern const struct uf_kind *const uf_kinds[];

const struct uf_kind *uf_registry_find(const char *name);

/* Adds kinds that uf_registry_find also knows (tests define their own kinds this way). The
 * array is borrowed and must stay alive; NULL removes them. Not thread-safe: call before
 * building graphs. */
void uf_registry_set_extra(const struct uf_kind *const *kinds);
/* The closest kind name (for "did you mean"), or NULL. */
const char *uf_registry_suggest(const char *name);

#endif
