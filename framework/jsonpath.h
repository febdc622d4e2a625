/* jsonpath.h: dotted paths into JSON objects ("props.quality"), used by route/set/remap and
 * other kinds that name event fields in their options. Only object keys, no array indexes. */
#ifndef UF_JSONPATH_H
#define UF_JSONPATH_H

#include <jansson.h>
#include <stdbool.h>

/* The value at path, or NULL. Borrowed. */
json_t *uf_json_get_path(json_t *root, const char *path);
/* Sets the value at path (takes ownership of value, always), creating intermediate objects.
 * Returns false when an intermediate value exists and is not an object. */
bool uf_json_set_path(json_t *root, const char *path, json_t *value);
/* Removes the value at path and returns it (caller owns it), or NULL when absent. */
json_t *uf_json_take_path(json_t *root, const char *path);

#endif
