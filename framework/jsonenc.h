/* jsonenc.h: compact JSON text from jansson values, fast, for the per-event hot paths (Kafka
 * payloads, HTTP replies). The output is byte for byte what json_dumps(v, JSON_COMPACT |
 * JSON_ENCODE_ANY) writes (keys in insertion order, the same escapes, reals as "%.17g" with
 * ".0" added when needed), without its per-call costs: jansson builds a cycle-detection table
 * with a formatted pointer key for every object and array, and writes through a callback per
 * fragment. Here the text is appended to a uf_strbuf in one pass. Values are read only; a value
 * must not contain itself (events never do: they are trees). Thread-safe on distinct buffers. */
#ifndef UF_JSONENC_H
#define UF_JSONENC_H

#include <jansson.h>
#include <stddef.h>

#include "framework/strbuf.h"

/* Appends the n bytes at s (UTF-8) as a JSON string, quotes included, escaped as jansson
 * escapes: for texts assembled without a tree. At most 6 * n + 2 bytes. */
void uf_jsonenc_append_str(struct uf_strbuf *sb, const char *s, size_t n);
/* The compact text of v as a new NUL-terminated string (caller frees); its length in *len
 * when len is not NULL. Never NULL. */
char *uf_jsonenc_dumps(const json_t *v, size_t *len);

#endif
