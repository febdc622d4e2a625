/* lg_text.h: the cheap text pieces the loadgen makes every request from (request line, headers,
 * bodies): strings, unsigned numbers and numbers with one decimal appended without printf,
 * whose format parsing cost more than the rest of making a request. The output equals printf's
 * ("%s", "%llu", "%.1f") for the values the workload makes. Pure; no I/O. */
#ifndef UF_LG_TEXT_H
#define UF_LG_TEXT_H
#include <stddef.h>
#include <stdint.h>

#include "framework/strbuf.h"

/* Appends the strings of the NULL-terminated list. */
void uf_lg_put(struct uf_strbuf *sb, ...) __attribute__((sentinel));
void uf_lg_put_u64(struct uf_strbuf *sb, uint64_t v);
/* v with one decimal, like "%.1f"; values outside 0..1e12 (or NaN) go through printf. */
void uf_lg_put_tenths(struct uf_strbuf *sb, double v);
#endif
