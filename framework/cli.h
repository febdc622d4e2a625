/* cli.h: the `ugcflow` command line. The engine's own commands (run, validate, graph,
 * pipelines, reconcile, stages) live here; the application adds its commands and the pages its
 * admin listeners serve through struct uf_cli_app, so the framework depends on neither.
 * Exit codes: 0 success, 1 invalid config or runtime failure, 2 usage. */
#ifndef UF_CLI_H
#define UF_CLI_H

#include "framework/admin.h"
#include "framework/err.h"

struct uf_runtime;

/* A command of the binary. main gets argv with argv[0] the command's name and returns the
 * exit code. */
struct uf_command {
    const char *name;
    const char *usage; /* its lines of the usage text, each ending in a newline */
    int (*main)(int argc, char **argv);
};

/* Routes `ugcflow run` adds to its admin listener. open makes them for rt (borrowed) running
 * file, before the listener starts: it fills *out and returns their state, or NULL with err
 * (the run then fails to start). close frees that state once the listener has stopped. */
struct uf_admin_pages {
    void *(*open)(struct uf_runtime *rt, const char *file, struct uf_admin_routes *out,
                  struct uf_err *err);
    void (*close)(void *state);
};

struct uf_cli_app {
    const struct uf_command *const *commands; /* NULL-terminated; may be NULL */
    const struct uf_admin_pages *pages;       /* may be NULL */
};

/* Runs the command argv[1]: one of app's, or the engine's. Returns the exit code. */
int uf_cli_main(int argc, char **argv, const struct uf_cli_app *app);

#endif
