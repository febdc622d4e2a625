/* app/main.c: the `ugcflow` binary. It hands the engine's command line (framework/cli.h) the
 * commands and admin pages of viz/ and the load generator, so the framework includes neither
 * and everything stays one binary. */
#include "bench/loadgen/loadgen.h"
#include "framework/cli.h"
#include "framework/token_cli.h"
#include "viz/cli.h"

static const struct uf_command *const commands[] = {
    &uf_viz_top_command, &uf_viz_up_command, &uf_viz_dash_command,
    &uf_loadgen_command, &uf_token_command,  NULL,
};

int main(int argc, char **argv)
{
    const struct uf_cli_app app = { .commands = commands, .pages = &uf_viz_admin_pages };
    return uf_cli_main(argc, argv, &app);
}
