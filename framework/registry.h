/* registry.h: the list of stage kinds compiled into ugcflow.
 * registry.c holds the only list; adding a kind is one line there. */
#ifndef UF_REGISTRY_H
#define UF_REGISTRY_H

#include <stddef.h>

#include "stage.h"

/* NULL-terminated array of every kind, sources first, then transforms, then sinks. */
extern const struct uf_kind *const uf_kinds[];

const struct uf_kind *uf_registry_find(const char *name);
/* The closest kind name (for "did you mean"), or NULL. */
const char *uf_registry_suggest(const char *name);

#endif
