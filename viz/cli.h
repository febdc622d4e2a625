/* viz/cli.h: the commands and admin routes viz/ gives the `ugcflow` binary, so that
 * framework/main.c includes one viz header and the dependency stays viz -> framework:
 * `top`, `up` (supervise every pipeline and serve the deployment page), `dash` (the page
 * alone), and the /deployment routes every `ugcflow run` admin listener serves. */
#ifndef UF_VIZ_CLI_H
#define UF_VIZ_CLI_H

#include "framework/admin.h"
#include "viz/top.h"

struct uf_deploy_site;

/* `ugcflow up FILE [--listen ADDR] [--log-dir DIR] [--pipeline NAME]...`; argv[0] is "up".
 * Returns the exit code: 0 after a clean stop, 1 on a bad file or start failure, 2 on usage. */
int uf_up_main(int argc, char **argv);
/* `ugcflow dash FILE [--listen ADDR]`; argv[0] is "dash". Exit codes as uf_up_main. */
int uf_dash_main(int argc, char **argv);

/* Fills out with /deployment and /api/deployment for the pipelines of file (borrowed; read on
 * the first request). Returns the routes' context for uf_viz_admin_routes_free. */
struct uf_deploy_site *uf_viz_admin_routes(const char *file, struct uf_admin_routes *out);
void uf_viz_admin_routes_free(struct uf_deploy_site *s);

#endif
