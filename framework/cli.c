/* cli.c: the engine's commands (see cli.h) and the dispatch to the application's.
 * `run` builds the graph, starts it, serves the admin listener and waits for SIGTERM/SIGINT or
 * for every source to finish, then shuts down within the configured deadline. Signals are
 * blocked in every thread and taken by one sigwait() thread, so no handler touches engine state.
 * Exit codes: 0 success, 1 invalid config or runtime failure, 2 usage. */
#include "framework/cli.h"

#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "framework/admin.h"
#include "framework/config.h"
#include "framework/export.h"
#include "framework/graph.h"
#include "framework/log.h"
#include "framework/reconcile.h"
#include "framework/registry.h"
#include "framework/runtime.h"
#include "framework/stagedoc.h"

#define MAX_SELECTED 32

static const char usage_head[] =
    "usage: ugcflow COMMAND [ARGS]\n"
    "\n"
    "commands:\n"
    "  run FILE [--pipeline NAME]... [--admin ADDR] [--log-level LEVEL]\n"
    "                        run the pipelines of FILE (all, or the named ones)\n"
    "  validate FILE         check FILE; exit 0 when valid, 1 when not\n"
    "  graph FILE [--format dot|mermaid|json|svg] [--pipeline NAME]...\n"
    "                        print the pipeline graph (svg needs Graphviz's dot)\n"
    "  pipelines FILE        list the pipelines of FILE with their admin addresses\n";

static const char usage_tail[] =
    "  reconcile FILE [--since DURATION]\n"
    "                        compare the UGC state in PostgreSQL with the events in ClickHouse\n"
    "  stages [KIND] [--markdown]\n"
    "                        list stage kinds, or one kind's options\n"
    "  --help, --version\n";

static void print_usage(FILE *f, const struct uf_cli_app *app)
{
    fputs(usage_head, f);
    for (size_t i = 0; app->commands && app->commands[i]; i++)
        fputs(app->commands[i]->usage, f);
    fputs(usage_tail, f);
}

struct cli {
    const char *file, *admin, *format, *log_level;
    const char *pipelines[MAX_SELECTED];
    size_t npipelines;
    bool markdown;
    const struct uf_cli_app *app;
};

/* Prints the block of lines in text that describes cmd ("  cmd ..." and the lines indented
 * under it); returns whether there was one. */
static bool print_block(FILE *f, const char *text, const char *cmd)
{
    size_t n = strlen(cmd);
    bool in = false, any = false;
    for (const char *line = text; *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line + 1) : strlen(line);
        bool head = strncmp(line, "  ", 2) == 0 && line[2] != ' ';
        if (head)
            in = strncmp(line + 2, cmd, n) == 0 && (line[2 + n] == ' ' || line[2 + n] == '\n');
        if (in)
            any = fwrite(line, 1, len, f) > 0;
        line += len;
    }
    return any;
}

/* `ugcflow COMMAND --help`: the command's own lines of the usage text, on stdout. */
static int command_help(const struct uf_cli_app *app, const char *cmd)
{
    printf("usage: ugcflow COMMAND [ARGS]\n");
    bool found = print_block(stdout, usage_head, cmd) || print_block(stdout, usage_tail, cmd);
    for (size_t i = 0; !found && app->commands && app->commands[i]; i++)
        found = print_block(stdout, app->commands[i]->usage, cmd);
    return found ? 0 : 2;
}

/* These print a fuller help of their own. */
static bool has_own_help(const char *cmd)
{
    return strcmp(cmd, "loadgen") == 0 || strcmp(cmd, "reconcile") == 0 ||
           strcmp(cmd, "token") == 0;
}

/* Whether the arguments after the command ask for help (before any "--"). */
static bool wants_help(int argc, char **argv)
{
    for (int i = 2; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
    return false;
}

static int usage(const struct cli *cli, const char *msg)
{
    if (msg)
        fprintf(stderr, "ugcflow: %s\n", msg);
    print_usage(stderr, cli->app);
    return 2;
}

/* Parses options after the command; returns 0, or 2 after printing usage. */
static int parse_args(int argc, char **argv, struct cli *cli)
{
    static const struct option longopts[] = {
        { "pipeline", required_argument, NULL, 'p' }, { "admin", required_argument, NULL, 'a' },
        { "format", required_argument, NULL, 'f' },   { "log-level", required_argument, NULL, 'l' },
        { "markdown", no_argument, NULL, 'm' },       { NULL, 0, NULL, 0 }
    };
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "p:a:f:l:m", longopts, NULL)) != -1) {
        switch (c) {
        case 'p':
            if (cli->npipelines == MAX_SELECTED)
                return usage(cli, "too many --pipeline options");
            cli->pipelines[cli->npipelines++] = optarg;
            break;
        case 'a':
            cli->admin = optarg;
            break;
        case 'f':
            cli->format = optarg;
            break;
        case 'l':
            cli->log_level = optarg;
            break;
        case 'm':
            cli->markdown = true;
            break;
        default:
            return usage(cli, NULL);
        }
    }
    if (optind < argc)
        cli->file = argv[optind++];
    if (optind < argc)
        return usage(cli, "too many arguments");
    return 0;
}

/* Loads and builds; prints every diagnostic. NULL when invalid. */
static struct uf_graph *load_graph(const struct cli *cli)
{
    struct uf_diags diags = { 0 };
    struct uf_config *cfg = uf_config_load(cli->file, &diags);
    struct uf_graph *g = NULL;
    /* Built even after the file's own errors (an unset ${VAR}, say), so that one run reports
     * every error; a graph from a file with errors is never returned. */
    size_t file_errors = diags.n;
    if (cfg)
        g = uf_graph_build(cfg, cli->pipelines, cli->npipelines, &diags);
    if (g && file_errors) {
        uf_graph_free(g);
        g = NULL;
    }
    if (diags.n) {
        uf_diags_print(&diags, stderr);
        fprintf(stderr, "%s: %zu error%s\n", cli->file, diags.n, diags.n == 1 ? "" : "s");
    }
    uf_diags_free(&diags);
    return g;
}

static int cmd_validate(const struct cli *cli)
{
    if (!cli->file)
        return usage(cli, "validate needs a FILE");
    struct uf_graph *g = load_graph(cli);
    if (!g)
        return 1;
    size_t n = 0;
    for (size_t i = 0; i < g->npipelines; i++)
        n += g->pipelines[i].nstages;
    printf("%s: valid (%zu pipeline%s, %zu components)\n", cli->file, g->npipelines,
           g->npipelines == 1 ? "" : "s", n);
    uf_graph_free(g);
    return 0;
}

static int cmd_graph(const struct cli *cli)
{
    const char *fmt = cli->format ? cli->format : "dot";
    if (!cli->file)
        return usage(cli, "graph needs a FILE");
    if (strcmp(fmt, "dot") && strcmp(fmt, "mermaid") && strcmp(fmt, "json") && strcmp(fmt, "svg"))
        return usage(cli, "--format must be dot, mermaid, json or svg");
    struct uf_graph *g = load_graph(cli);
    if (!g)
        return 1;
    json_t *j = uf_graph_json(g, false);
    struct uf_err err = { 0 };
    char *out = strcmp(fmt, "dot") == 0       ? uf_export_dot(j)
                : strcmp(fmt, "mermaid") == 0 ? uf_export_mermaid(j)
                : strcmp(fmt, "svg") == 0     ? uf_export_svg(j, &err)
                                              : json_dumps(j, JSON_INDENT(2));
    if (!out) {
        fprintf(stderr, "ugcflow: %s\n", err.msg);
        json_decref(j);
        uf_graph_free(g);
        return 1;
    }
    fputs(out, stdout);
    if (strcmp(fmt, "json") == 0)
        fputc('\n', stdout);
    free(out);
    json_decref(j);
    uf_graph_free(g);
    return 0;
}

static int cmd_stages(const struct cli *cli)
{
    const struct uf_kind *k = NULL;
    if (cli->file && !(k = uf_registry_find(cli->file))) {
        const char *s = uf_registry_suggest(cli->file);
        fprintf(stderr, "ugcflow: unknown kind '%s'%s%s%s\n", cli->file,
                s ? " (did you mean '" : "", s ? s : "", s ? "'?)" : "");
        return 1;
    }
    char *text = cli->markdown ? uf_stagedoc_markdown() : uf_stagedoc_text(k);
    fputs(text, stdout);
    free(text);
    return 0;
}

static int cmd_pipelines(const struct cli *cli)
{
    if (!cli->file)
        return usage(cli, "pipelines needs a FILE");
    struct uf_graph *g = load_graph(cli);
    if (!g)
        return 1;
    for (size_t i = 0; i < g->npipelines; i++)
        printf("%s %s\n", g->pipelines[i].name,
               g->pipelines[i].admin ? g->pipelines[i].admin : g->admin_address);
    uf_graph_free(g);
    return 0;
}

static void *signal_thread(void *arg)
{
    struct uf_runtime *rt = arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    int sig;
    if (sigwait(&set, &sig) == 0) {
        /* There is no reload in place: SIGHUP drains and exits like SIGTERM, and `ugcflow up`
         * starts the pipeline again at once with the file read anew. */
        uf_log(UF_LOG_INFO, NULL, "Signal received, shutting down.", "signal",
               sig == SIGINT   ? "SIGINT"
               : sig == SIGHUP ? "SIGHUP"
                               : "SIGTERM");
        uf_runtime_request_stop(rt);
    }
    return NULL;
}

static const char *admin_address(const struct cli *cli, const struct uf_graph *g)
{
    if (cli->admin)
        return cli->admin;
    if (g->npipelines == 1 && g->pipelines[0].admin)
        return g->pipelines[0].admin;
    return g->admin_address;
}

/* The admin listener with the application's pages, whose state goes to *pages. NULL with err
 * when either cannot start. */
static struct uf_admin *start_admin(const struct cli *cli, struct uf_runtime *rt,
                                    const struct uf_graph *g, void **pages, struct uf_err *err)
{
    const struct uf_admin_pages *p = cli->app->pages;
    struct uf_admin_routes routes = { 0 };
    *pages = NULL;
    if (p && !(*pages = p->open(rt, cli->file, &routes, err)))
        return NULL;
    return uf_admin_start(rt, admin_address(cli, g), &routes, err);
}

static void block_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* inherited by every thread started later */
    signal(SIGPIPE, SIG_IGN);
}

/* Starts everything, waits for the stop and tears down; the exit code. */
static int run_graph(const struct cli *cli, struct uf_graph *g)
{
    struct uf_runtime *rt = uf_runtime_new(g);
    struct uf_err err = { 0 };
    int rc = 0;
    void *pages;
    struct uf_admin *admin = start_admin(cli, rt, g, &pages, &err);
    if (!admin || uf_runtime_start(rt, &err) != 0) {
        uf_log(UF_LOG_ERROR, NULL, "Start failed.", "err", err.msg);
        uf_runtime_request_stop(rt); /* stop what started; nothing else will ask */
        rc = 1;
    } else {
        char port[16];
        snprintf(port, sizeof port, "%d", uf_admin_port(admin));
        uf_log(UF_LOG_INFO, NULL, "Running.", "file", cli->file, "admin_port", port);
    }
    pthread_t sig;
    pthread_create(&sig, NULL, signal_thread, rt);
    pthread_detach(sig);
    if (uf_runtime_run(rt) != 0) {
        /* A worker may still be inside a sink: tearing the graph down under it would crash. */
        uf_log(UF_LOG_ERROR, NULL, "Stopped before everything drained.");
        _exit(1);
    }
    uf_admin_stop(admin);
    if (pages)
        cli->app->pages->close(pages);
    uf_log(UF_LOG_INFO, NULL, rc ? "Stopped with errors." : "Stopped.");
    uf_runtime_free(rt);
    return rc;
}

static int cmd_run(const struct cli *cli)
{
    if (!cli->file)
        return usage(cli, "run needs a FILE");
    struct uf_graph *g = load_graph(cli);
    if (!g)
        return 1;
    const char *level = cli->log_level ? cli->log_level : g->cfg->log_level;
    if (level && uf_log_parse_level(level) < 0) {
        fprintf(stderr, "ugcflow: unknown log level '%s'\n", level);
        uf_graph_free(g);
        return 2;
    }
    if (level)
        uf_log_level = (enum uf_level)uf_log_parse_level(level);
    block_signals();
    int rc = run_graph(cli, g);
    uf_graph_free(g);
    return rc;
}

static const struct uf_command *find_command(const struct uf_cli_app *app, const char *name)
{
    for (size_t i = 0; app->commands && app->commands[i]; i++)
        if (strcmp(app->commands[i]->name, name) == 0)
            return app->commands[i];
    return NULL;
}

int uf_cli_main(int argc, char **argv, const struct uf_cli_app *app)
{
    struct cli cli = { .app = app };
    if (argc < 2)
        return usage(&cli, NULL);
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        print_usage(stdout, app);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("ugcflow %s\n", UF_VERSION);
        return 0;
    }
    const struct uf_command *ext = find_command(app, cmd);
    if (!has_own_help(cmd) && wants_help(argc, argv))
        return command_help(app, cmd);
    if (ext)
        return ext->main(argc - 1, argv + 1);
    if (strcmp(cmd, "reconcile") == 0)
        return uf_reconcile_main(argc - 1, argv + 1);
    if (parse_args(argc - 1, argv + 1, &cli) != 0)
        return 2;
    if (strcmp(cmd, "run") == 0)
        return cmd_run(&cli);
    if (strcmp(cmd, "validate") == 0)
        return cmd_validate(&cli);
    if (strcmp(cmd, "graph") == 0)
        return cmd_graph(&cli);
    if (strcmp(cmd, "stages") == 0)
        return cmd_stages(&cli);
    if (strcmp(cmd, "pipelines") == 0)
        return cmd_pipelines(&cli);
    return usage(&cli, "unknown command");
}
