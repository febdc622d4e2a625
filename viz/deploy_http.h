/* viz/deploy_http.h: the deployment page's routes for an admin listener (framework/admin.h):
 * /deployment (the page, embedded assets) and /api/deployment (the poller's latest JSON).
 * Every pipeline process serves them for the file it runs: the poller is made on the first
 * request (reading the file again), so a process nobody looks at never polls the others. */
#ifndef UF_VIZ_DEPLOY_HTTP_H
#define UF_VIZ_DEPLOY_HTTP_H

#include <stdbool.h>

#include "framework/admin.h"
#include "framework/err.h"
#include "viz/deploy_poll.h"

struct uf_deploy_site;

/* Reads file and starts a poller of all its pipelines, laid out by Graphviz (without a layout
 * when `dot` is missing: the page then says so). NULL with err on a config error. */
struct uf_deploy_poll *uf_deploy_poll_from_file(const char *file, uf_deploy_status_fn status,
                                                void *status_ctx, struct uf_err *err);

/* Routes around an existing poller (borrowed). With root, "/" is the page too. */
struct uf_deploy_site *uf_deploy_site_new(struct uf_deploy_poll *poll, bool root);
/* Routes whose poller is made from file (borrowed) on the first request. */
struct uf_deploy_site *uf_deploy_site_new_lazy(const char *file);
/* The admin routes (uf_admin_routes.fn with the site as ctx). */
bool uf_deploy_site_route(void *site, const char *url, const struct uf_admin_req *req,
                          struct uf_admin_reply *out);
/* Accepts NULL; frees a poller the site made itself. */
void uf_deploy_site_free(struct uf_deploy_site *s);

#endif
