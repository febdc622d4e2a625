/* main.c: the `ugcflow` command line: run, validate, graph, stages, top, up, dash, reconcile,
 * loadgen.
 * `run` builds the graph, starts it, serves the admin listener and waits for SIGTERM/SIGINT or
 * for every source to finish, then shuts down within the configured deadline. Signals are
 * blocked in every thread and taken by one sigwait() thread, so no handler touches engine state.
 * Exit codes: 0 success, 1 invalid config or runtime failure, 2 usage. */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin.h"
#include "config.h"
#include "export.h"
#include "graph.h"
#include "log.h"
#include "reconcile.h"
#include "registry.h"
#include "runtime.h"
#include "stagedoc.h"
#include "token_cli.h"
#include "bench/loadgen/loadgen.h"
#include "viz/cli.h"

#define MAX_SELECTED 32

static const char usage_text[] =
    "usage: ugcflow COMMAND [ARGS]\n"
    "\n"
    "commands:\n"
    "  run FILE [--pipeline NAME]... [--admin ADDR] [--log-level LEVEL]\n"
    "                        run the pipelines of FILE (all, or the named ones)\n"
    "  validate FILE         check FILE; exit 0 when valid, 1 when not\n"
    "  graph FILE [--format dot|mermaid|json|svg] [--pipeline NAME]...\n"
    "                        print the pipeline graph (svg needs Graphviz's dot)\n"
    "  pipelines FILE        list the pipelines of FILE with their admin addresses\n"
    "  top [FILE] [--admin ADDR]... [--sort rate|errors|latency] [--once]\n"
    "                        live metrics of every component of running processes\n"
    "  up FILE [--listen ADDR] [--log-dir DIR] [--pipeline NAME]...\n"
    "                        run every pipeline as its own supervised process and serve\n"
    "                        the deployment page\n"
    "  dash FILE [--listen ADDR]\n"
    "                        serve the deployment page of processes run by something else\n"
    "  reconcile FILE [--since DURATION]\n"
    "                        compare the UGC state in PostgreSQL with the events in ClickHouse\n"
    "  loadgen URL --rate R --duration D [--api stat|ugc] [--report FILE] [...]\n"
    "                        open-model load on the stat or UGC API (loadgen --help)\n"
    "  token --sub UUID [--roles R,...] [--ttl 1h] [--secret-env VAR | --key FILE]\n"
    "                        print a token the APIs accept (HS256 or RS256)\n"
    "  stages [KIND] [--markdown]\n"
    "                        list stage kinds, or one kind's options\n"
    "  --help, --version\n";

static int usage(const char *msg)
{
    if (msg)
        fprintf(stderr, "ugcflow: %s\n", msg);
    fputs(usage_text, stderr);
    return 2;
}

struct cli {
    const char *file, *admin, *format, *log_level;
    const char *pipelines[MAX_SELECTED];
    size_t npipelines;
    bool markdown;
};

/* Parses options after the command; returns 0, or 2 after printing usage. */
static int parse_args(int argc, char **argv, struct cli *cli)
{
    static const struct option longopts[] = {
        {"pipeline", required_argument, NULL, 'p'}, {"admin", required_argument, NULL, 'a'},
        {"format", required_argument, NULL, 'f'},   {"log-level", required_argument, NULL, 'l'},
        {"markdown", no_argument, NULL, 'm'},       {NULL, 0, NULL, 0}};
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "p:a:f:l:m", longopts, NULL)) != -1) {
        switch (c) {
        case 'p':
            if (cli->npipelines == MAX_SELECTED)
                return usage("too many --pipeline options");
            cli->pipelines[cli->npipelines++] = optarg;
            break;
        case 'a': cli->admin = optarg; break;
        case 'f': cli->format = optarg; break;
        case 'l': cli->log_level = optarg; break;
        case 'm': cli->markdown = true; break;
        default: return usage(NULL);
        }
    }
    if (optind < argc)
        cli->file = argv[optind++];
    if (optind < argc)
        return usage("too many arguments");
    return 0;
}

/* Loads and builds; prints every diagnostic. NULL when invalid. */
static struct uf_graph *load_graph(const struct cli *cli)
{
    struct uf_diags diags = {0};
    struct uf_config *cfg = uf_config_load(cli->file, &diags);
    struct uf_graph *g = NULL;
    if (cfg && diags.n == 0)
        g = uf_graph_build(cfg, cli->pipelines, cli->npipelines, &diags);
    else
        uf_config_free(cfg);
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
        return usage("validate needs a FILE");
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
        return usage("graph needs a FILE");
    if (strcmp(fmt, "dot") && strcmp(fmt, "mermaid") && strcmp(fmt, "json") && strcmp(fmt, "svg"))
        return usage("--format must be dot, mermaid, json or svg");
    struct uf_graph *g = load_graph(cli);
    if (!g)
        return 1;
    json_t *j = uf_graph_json(g, false);
    struct uf_err err = {0};
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
        fprintf(stderr, "ugcflow: unknown kind '%s'%s%s%s\n", cli->file, s ? " (did you mean '" : "",
                s ? s : "", s ? "'?)" : "");
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
        return usage("pipelines needs a FILE");
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
               sig == SIGINT ? "SIGINT" : sig == SIGHUP ? "SIGHUP" : "SIGTERM");
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

static int cmd_run(const struct cli *cli)
{
    if (!cli->file)
        return usage("run needs a FILE");
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
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* inherited by every thread started below */
    signal(SIGPIPE, SIG_IGN);

    struct uf_runtime *rt = uf_runtime_new(g);
    struct uf_err err = {0};
    int rc = 0;
    struct uf_admin_routes routes;
    struct uf_deploy_site *site = uf_viz_admin_routes(cli->file, &routes);
    struct uf_admin *admin = uf_admin_start_routes(rt, admin_address(cli, g), &routes, &err);
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
    uf_viz_admin_routes_free(site);
    uf_log(UF_LOG_INFO, NULL, rc ? "Stopped with errors." : "Stopped.");
    uf_runtime_free(rt);
    uf_graph_free(g);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage(NULL);
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("ugcflow %s\n", UF_VERSION);
        return 0;
    }
    if (strcmp(cmd, "top") == 0)
        return uf_top_main(argc - 1, argv + 1);
    if (strcmp(cmd, "up") == 0)
        return uf_up_main(argc - 1, argv + 1);
    if (strcmp(cmd, "dash") == 0)
        return uf_dash_main(argc - 1, argv + 1);
    if (strcmp(cmd, "reconcile") == 0)
        return uf_reconcile_main(argc - 1, argv + 1);
    if (strcmp(cmd, "loadgen") == 0)
        return uf_loadgen_main(argc - 1, argv + 1);
    if (strcmp(cmd, "token") == 0)
        return uf_token_main(argc - 1, argv + 1);
    struct cli cli = {0};
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
    return usage("unknown command");
}
