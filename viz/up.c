/* viz/up.c: `ugcflow up FILE` and `ugcflow dash FILE` (see cli.h). up runs every pipeline of
 * the file as its own `ugcflow run FILE --pipeline NAME` child under framework/supervise.c,
 * each logging to DIR/NAME.log, and serves the deployment page with the supervisor's state
 * merged in; dash serves the same page for processes run by something else. Both check the
 * whole file first (as validate does), so a broken file fails here once instead of every
 * child failing over and over. Signals are blocked before any thread starts: the supervisor
 * (or dash's sigwait) takes them, and the listener and poller threads never see one. */
#include "viz/cli.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "framework/admin.h"
#include "framework/config.h"
#include "framework/graph.h"
#include "framework/log.h"
#include "framework/mem.h"
#include "framework/strbuf.h"
#include "framework/supervise.h"
#include "viz/deploy.h"
#include "viz/deploy_http.h"
#include "viz/page.h"

#define MAX_SELECTED 32

struct up_opts {
    const char *cmd, *file, *listen, *log_dir;
    const char *only[MAX_SELECTED];
    size_t nonly;
};

struct up {
    struct up_opts o;
    struct uf_config *cfg;
    struct uf_supervisor *sv;
    struct uf_deploy_site *site;
    char exe[PATH_MAX];
    char **argvs; /* per child: argv strings, freed at the end */
    size_t nargvs;
};

static int up_usage(const char *cmd, const char *msg)
{
    if (msg)
        fprintf(stderr, "ugcflow %s: %s\n", cmd, msg);
    fprintf(stderr, "usage: ugcflow up FILE [--listen ADDR] [--log-dir DIR] [--pipeline NAME]...\n"
                    "       ugcflow dash FILE [--listen ADDR]\n"
                    "  --listen ADDR   the deployment page (default: the file's admin.address)\n"
                    "  --log-dir DIR   up: each pipeline's log as DIR/NAME.log (default: logs)\n"
                    "  --pipeline NAME up: run only these pipelines (the page still shows all)\n");
    return 2;
}

static int parse(int argc, char **argv, struct up_opts *o)
{
    static const struct option longopts[] = { { "listen", required_argument, NULL, 'L' },
                                              { "log-dir", required_argument, NULL, 'd' },
                                              { "pipeline", required_argument, NULL, 'p' },
                                              { NULL, 0, NULL, 0 } };
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "L:d:p:", longopts, NULL)) != -1) {
        if (c == 'L')
            o->listen = optarg;
        else if (c == 'd' && strcmp(o->cmd, "up") == 0)
            o->log_dir = optarg;
        else if (c == 'p' && strcmp(o->cmd, "up") == 0 && o->nonly < MAX_SELECTED)
            o->only[o->nonly++] = optarg;
        else
            return up_usage(o->cmd, NULL);
    }
    if (optind != argc - 1)
        return up_usage(o->cmd, "needs one FILE");
    o->file = argv[optind];
    return 0;
}

/* Loads the file and builds every pipeline once, printing every error. */
static struct uf_config *load_checked(const char *file)
{
    struct uf_diags d = { 0 };
    struct uf_config *cfg = uf_config_load(file, &d);
    if (cfg && d.n == 0) { /* the build takes its config, so it gets a copy of its own */
        struct uf_config *check = uf_config_load(file, &d);
        if (check && d.n == 0)
            uf_graph_free(uf_graph_build(check, NULL, 0, &d));
        else
            uf_config_free(check);
    }
    if (d.n) {
        uf_diags_print(&d, stderr);
        fprintf(stderr, "%s: %zu error%s\n", file, d.n, d.n == 1 ? "" : "s");
        uf_config_free(cfg);
        cfg = NULL;
    }
    uf_diags_free(&d);
    return cfg;
}

static bool selected(const struct up_opts *o, const char *name)
{
    for (size_t i = 0; i < o->nonly; i++)
        if (strcmp(o->only[i], name) == 0)
            return true;
    return o->nonly == 0;
}

/* ---- the supervisor's view on the page and in /metrics ---- */

static int child_of(struct uf_supervisor *sv, const char *name)
{
    for (size_t i = 0; i < uf_supervisor_count(sv); i++)
        if (strcmp(uf_supervisor_name(sv, i), name) == 0)
            return (int)i;
    return -1;
}

static const char *state_name(enum uf_sv_state s)
{
    return s == UF_SV_RUNNING    ? "running"
           : s == UF_SV_BACKOFF  ? "restarting"
           : s == UF_SV_STARTING ? "starting"
                                 : "stopped";
}

static void add_status(void *ctx, const char *process, json_t *proc)
{
    struct uf_supervisor *sv = ctx;
    int i = child_of(sv, process);
    json_object_set_new(proc, "supervised", json_boolean(i >= 0));
    if (i < 0)
        return;
    struct uf_sv_status st;
    uf_supervisor_status(sv, (size_t)i, &st);
    json_object_update_new(
        proc, json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:s}", "state", state_name(st.state), "pid",
                        (json_int_t)st.pid, "restarts", (json_int_t)st.restarts, "reloads",
                        (json_int_t)st.reloads, "started_ms", (json_int_t)st.started_ms,
                        "exited_ms", (json_int_t)st.exited_ms, "last_exit", st.last_exit));
}

static char *metrics_text(struct uf_supervisor *sv)
{
    struct uf_strbuf sb = { 0 };
    uf_strbuf_puts(&sb, "# HELP ugcflow_up_restarts_total Times ugcflow up started a pipeline's "
                        "process again after it exited on its own.\n"
                        "# TYPE ugcflow_up_restarts_total counter\n");
    for (size_t i = 0; i < uf_supervisor_count(sv); i++) {
        struct uf_sv_status st;
        uf_supervisor_status(sv, i, &st);
        uf_strbuf_printf(&sb, "ugcflow_up_restarts_total{pipeline=\"%s\"} %llu\n",
                         uf_supervisor_name(sv, i), (unsigned long long)st.restarts);
    }
    uf_strbuf_puts(&sb, "# HELP ugcflow_up_process_running 1 while the pipeline's process runs.\n"
                        "# TYPE ugcflow_up_process_running gauge\n");
    for (size_t i = 0; i < uf_supervisor_count(sv); i++) {
        struct uf_sv_status st;
        uf_supervisor_status(sv, i, &st);
        uf_strbuf_printf(&sb, "ugcflow_up_process_running{pipeline=\"%s\"} %d\n",
                         uf_supervisor_name(sv, i), st.state == UF_SV_RUNNING);
    }
    return uf_strbuf_take(&sb);
}

static bool up_route(void *ctx, const char *url, const struct uf_admin_req *req,
                     struct uf_admin_reply *out)
{
    struct up *u = ctx;
    if (u->sv && strcmp(url, "/metrics") == 0) {
        *out = (struct uf_admin_reply){ .status = 200,
                                        .type = "text/plain; version=0.0.4",
                                        .body = metrics_text(u->sv) };
        return true;
    }
    return uf_viz_asset_route(url, out) || uf_deploy_site_route(u->site, url, req, out);
}

/* ---- children ---- */

static char **child_argv(struct up *u, const char *name)
{
    char **argv = uf_xcalloc(6, sizeof *argv);
    const char *v[] = { u->exe, "run", u->o.file, "--pipeline", name };
    for (size_t i = 0; i < 5; i++)
        argv[i] = uf_xstrdup(v[i]);
    return argv;
}

static int add_children(struct up *u, const json_t *model)
{
    size_t n = json_array_size(json_object_get(model, "processes"));
    int *ranks = uf_xcalloc(n ? n : 1, sizeof *ranks);
    uf_deploy_stop_ranks(model, ranks);
    u->argvs = uf_xcalloc(n ? n * 2 : 1, sizeof *u->argvs);
    for (size_t i = 0; i < n; i++) {
        const char *name = json_string_value(
            json_object_get(json_array_get(json_object_get(model, "processes"), i), "name"));
        if (!selected(&u->o, name))
            continue;
        char **argv = child_argv(u, name);
        char *log = uf_xasprintf("%s/%s.log", u->o.log_dir, name);
        u->argvs[u->nargvs++] = (char *)argv;
        u->argvs[u->nargvs++] = log;
        uf_supervisor_add(
            u->sv, &(struct uf_sv_child_spec){
                       .name = argv[4], .argv = argv, .log_path = log, .stop_rank = ranks[i] });
    }
    free(ranks);
    return 0;
}

static void free_children(struct up *u)
{
    for (size_t i = 0; i < u->nargvs; i += 2) {
        char **argv = (char **)u->argvs[i];
        for (size_t k = 0; argv[k]; k++)
            free(argv[k]);
        free(argv);
        free(u->argvs[i + 1]);
    }
    free(u->argvs);
}

/* ---- the commands ---- */

static void block_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static int prepare_up(struct up *u, json_t **model)
{
    ssize_t n = readlink("/proc/self/exe", u->exe, sizeof u->exe - 1);
    if (n <= 0) {
        fprintf(stderr, "ugcflow up: cannot find its own binary: %s\n", strerror(errno));
        return 1;
    }
    u->exe[n] = '\0';
    if (mkdir(u->o.log_dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "ugcflow up: log directory %s: %s\n", u->o.log_dir, strerror(errno));
        return 1;
    }
    u->sv = uf_supervisor_new(NULL);
    *model = uf_deploy_model(u->cfg);
    return add_children(u, *model);
}

/* Waits for SIGTERM/SIGINT (dash) or supervises until one (up). */
static void run_until_stopped(struct up *u)
{
    if (u->sv) {
        uf_supervisor_run(u->sv);
        return;
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    int sig;
    sigwait(&set, &sig);
}

static int serve(struct up *u)
{
    struct uf_err err = { 0 };
    struct uf_deploy_poll *poll =
        uf_deploy_poll_from_file(u->o.file, u->sv ? add_status : NULL, u->sv, &err);
    if (!poll) {
        fprintf(stderr, "ugcflow %s: %s\n", u->o.cmd, err.msg);
        return 1;
    }
    u->site = uf_deploy_site_new(poll, true);
    struct uf_admin_routes routes = { .fn = up_route, .ctx = u };
    const char *listen = u->o.listen ? u->o.listen : u->cfg->admin_address;
    struct uf_admin *admin = uf_admin_start(NULL, listen, &routes, &err);
    int rc = 0;
    if (!admin) {
        uf_log(UF_LOG_ERROR, NULL, "Start failed.", "err", err.msg);
        rc = 1;
    } else {
        char port[16];
        snprintf(port, sizeof port, "%d", uf_admin_port(admin));
        uf_log(UF_LOG_INFO, NULL, "Serving the deployment page.", "file", u->o.file, "listen_port",
               port);
        run_until_stopped(u);
    }
    uf_admin_stop(admin);
    uf_deploy_site_free(u->site);
    uf_deploy_poll_free(poll);
    return rc;
}

static int up_dash_main(const char *cmd, int argc, char **argv)
{
    struct up u = { .o = { .cmd = cmd, .log_dir = "logs" } };
    if (parse(argc, argv, &u.o) != 0)
        return 2;
    if (!(u.cfg = load_checked(u.o.file)))
        return 1;
    if (u.cfg->log_level && uf_log_parse_level(u.cfg->log_level) >= 0)
        uf_log_level = (enum uf_level)uf_log_parse_level(u.cfg->log_level);
    block_signals();
    json_t *model = NULL;
    int rc = strcmp(cmd, "up") == 0 ? prepare_up(&u, &model) : 0;
    if (rc == 0)
        rc = serve(&u);
    json_decref(model);
    uf_supervisor_free(u.sv);
    free_children(&u);
    uf_config_free(u.cfg);
    return rc;
}

static int up_main(int argc, char **argv)
{
    return up_dash_main("up", argc, argv);
}

static int dash_main(int argc, char **argv)
{
    return up_dash_main("dash", argc, argv);
}

const struct uf_command uf_viz_up_command = {
    .name = "up",
    .usage = "  up FILE [--listen ADDR] [--log-dir DIR] [--pipeline NAME]...\n"
             "                        run every pipeline as its own supervised process and serve\n"
             "                        the deployment page\n",
    .main = up_main,
};

const struct uf_command uf_viz_dash_command = {
    .name = "dash",
    .usage =
        "  dash FILE [--listen ADDR]\n"
        "                        serve the deployment page of processes run by something else\n",
    .main = dash_main,
};
