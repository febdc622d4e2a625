/* viz/page.h: what viz serves on an admin listener (framework/admin.h): the graph page at / and
 * /graph, the embedded assets at /assets/, /api/graph with each node's latest rates and trouble,
 * /api/history (the last five minutes per component, ?component=ID), and the deployment page's
 * routes (viz/deploy_http.h). A page of a running graph owns the metrics history and its
 * sampler thread, so every running process keeps the last five minutes for the page. */
#ifndef UF_VIZ_PAGE_H
#define UF_VIZ_PAGE_H

#include <stdbool.h>

#include "framework/admin.h"

/* The pages of a `ugcflow run` listener are uf_viz_admin_pages (viz/cli.h): opened with the
 * runtime (borrowed) and the file it runs (borrowed; the deployment page reads it on its first
 * request), failing when the sampler thread cannot start. */

/* Answers /assets/NAME with the embedded file NAME; false for any other url or name. */
bool uf_viz_asset_route(const char *url, struct uf_admin_reply *out);
/* Fills out with the embedded asset name (which must exist: a missing one is a build bug). */
void uf_viz_asset_reply(const char *name, struct uf_admin_reply *out);

#endif
