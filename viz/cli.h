/* viz/cli.h: the commands and admin pages viz/ gives the `ugcflow` binary (framework/cli.h):
 * `top`, `up` (supervise every pipeline and serve the deployment page), `dash` (the page
 * alone), and the graph and deployment pages every `ugcflow run` admin listener serves.
 * The binary's main wires them in; the dependency stays viz -> framework. */
#ifndef UF_VIZ_CLI_H
#define UF_VIZ_CLI_H

#include "framework/cli.h"

/* `ugcflow top [FILE] [--admin ADDR]... [--sort rate|errors|latency] [--once]`. FILE adds the
 * admin address of each of its pipelines. Exit code 0, 1 when no process answered (--once), 2
 * on usage errors. */
extern const struct uf_command uf_viz_top_command;
/* `ugcflow up FILE [--listen ADDR] [--log-dir DIR] [--pipeline NAME]...` and `ugcflow dash FILE
 * [--listen ADDR]`: exit code 0 after a clean stop, 1 on a bad file or start failure, 2 on
 * usage. */
extern const struct uf_command uf_viz_up_command;
extern const struct uf_command uf_viz_dash_command;

/* The graph page, its history and the deployment page (viz/page.h) for `ugcflow run`. */
extern const struct uf_admin_pages uf_viz_admin_pages;

#endif
