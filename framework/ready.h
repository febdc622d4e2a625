/* ready.h: what /ready answers. Each kind reports its own state through the `ready` callback
 * of its descriptor (stage.h); this module asks every started component and the runtime, and
 * names what is not ready. /health is liveness and does not come here. */
#ifndef UF_READY_H
#define UF_READY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct uf_runtime;

/* A spool above this share of its limit makes its component not ready. */
#define UF_READY_SPOOL_PCT 80

/* {"status":"ready"} or {"status":"not_ready","not_ready":[{"component":"pipeline/name",
 * "kind","reason"}...]} and *ready. New reference. Thread-safe when the kinds' callbacks are. */
json_t *uf_ready_report(struct uf_runtime *rt, bool *ready);

/* The spool rule, for kinds with a spool: false with why ("spool 85 % full (...)") when bytes
 * are above UF_READY_SPOOL_PCT % of max_bytes. */
bool uf_ready_spool_ok(uint64_t bytes, int64_t max_bytes, char *why, size_t n);

#endif
