/* admin.h: the admin HTTP listener of a process: /health (the process is up) and, for a running
 * graph, /ready (every stage started and not shutting down), /metrics (Prometheus text) and
 * /api/graph (graph JSON with a metrics snapshot). Everything else (the graph page, its history,
 * the deployment page) comes from routes the caller passes in, so the framework knows no page.
 * Runs its own libmicrohttpd thread; never on the hot path. */
#ifndef UF_ADMIN_H
#define UF_ADMIN_H

#include <stdbool.h>
#include <stddef.h>

#include "framework/err.h"

struct uf_runtime;
struct uf_admin;
struct uf_admin_req;

/* An answer from a route: either body (malloc'd, taken by the listener) or data/size (static
 * bytes such as an embedded asset: neither copied nor freed). */
struct uf_admin_reply {
    unsigned status;
    const char *type; /* Content-Type */
    char *body;
    const void *data;
    size_t size;
};

/* Routes, asked first for every GET: true when fn answered into *out. Called on the listener's
 * thread; may block briefly. */
struct uf_admin_routes {
    bool (*fn)(void *ctx, const char *url, const struct uf_admin_req *req,
               struct uf_admin_reply *out);
    void *ctx;
};

/* The value of query argument name of the request being answered, NULL when absent. Borrowed
 * until the route returns. */
const char *uf_admin_req_arg(const struct uf_admin_req *req, const char *name);

/* Listens on address ("host:port"; port 0 picks a free one). Neither rt nor routes is owned;
 * both may be NULL. Without rt the listener serves /health and the routes only (the pages of
 * `ugcflow up` and `dash`). */
struct uf_admin *uf_admin_start(struct uf_runtime *rt, const char *address,
                                const struct uf_admin_routes *routes, struct uf_err *err);
/* The port actually bound. */
int uf_admin_port(const struct uf_admin *a);
void uf_admin_stop(struct uf_admin *a); /* accepts NULL */

#endif
