/* admin.h: the admin HTTP listener of a running process.
 * Serves /health (the process is up), /ready (every stage started and not shutting down),
 * /metrics (Prometheus text), /api/graph (graph JSON with a metrics snapshot, the latest rates and
 * any trouble per node), /api/history (the last five minutes per component, ?component=ID) and the
 * graph page's embedded assets at / . Runs its own libmicrohttpd thread; never on the hot path. */
#ifndef UF_ADMIN_H
#define UF_ADMIN_H

#include <stdbool.h>

#include "framework/err.h"

struct uf_runtime;
struct uf_admin;

/* Listens on address ("host:port"; port 0 picks a free one). Does not own rt. */
struct uf_admin *uf_admin_start(struct uf_runtime *rt, const char *address, struct uf_err *err);

/* An answer from an extra route: a body it allocated (taken by the listener), or the name of an
 * embedded asset to send instead. */
struct uf_admin_reply {
    unsigned status;
    const char *type; /* Content-Type of body */
    char *body;
    const char *asset;
};

/* Extra routes, asked first for every GET: true when fn answered into *out. Called on the
 * listener's thread; may block briefly. */
struct uf_admin_routes {
    bool (*fn)(void *ctx, const char *url, struct uf_admin_reply *out);
    void *ctx;
};

/* As uf_admin_start, with extra routes (borrowed; may be NULL). rt may be NULL: such a listener
 * serves /health, the assets and the extra routes only (the pages of `ugcflow up` and `dash`). */
struct uf_admin *uf_admin_start_routes(struct uf_runtime *rt, const char *address,
                                       const struct uf_admin_routes *extra, struct uf_err *err);
/* The port actually bound. */
int uf_admin_port(const struct uf_admin *a);
void uf_admin_stop(struct uf_admin *a); /* accepts NULL */

/* Splits "host:port" into a sockaddr_in for 127.0.0.1-style IPv4 addresses; 0 or UF_EINVAL. */
struct sockaddr_in;
int uf_parse_listen_address(const char *address, struct sockaddr_in *out, struct uf_err *err);

#endif
