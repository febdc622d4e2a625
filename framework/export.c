/* export.c: DOT, Mermaid and SVG renderings of the graph JSON (see export.h). Identifiers are
 * "pipeline/component", which neither format accepts bare, so DOT quotes them and Mermaid gets
 * sanitised ids with the real name as the label. SVG is not drawn here: Graphviz lays out the
 * DOT, run as a child process (no shell) so no library of its is linked into the binary. */
#include "framework/export.h"

#include <ctype.h>
#include <errno.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "framework/mem.h"
#include "framework/strbuf.h"

static const char *dot_shape(const char *role)
{
    return strcmp(role, "source") == 0 ? "cds" : strcmp(role, "sink") == 0 ? "cylinder" : "box";
}

static const char *dot_color(const char *role)
{
    return strcmp(role, "source") == 0 ? "#d8ecff"
           : strcmp(role, "sink") == 0 ? "#e3f5e1"
                                       : "#fff4d6";
}

char *uf_export_dot(const json_t *graph)
{
    struct uf_strbuf sb = { 0 };
    uf_strbuf_puts(&sb, "digraph ugcflow {\n  rankdir=LR;\n"
                        "  graph [fontname=\"Helvetica\", fontsize=13, style=\"rounded,filled\", "
                        "fillcolor=\"#f6f7f9\", color=\"#c9ced8\"];\n"
                        "  node [fontname=\"Helvetica\", fontsize=11, style=filled];\n"
                        "  edge [fontname=\"Helvetica\", fontsize=9, color=\"#6b7485\"];\n");
    size_t i, k;
    json_t *p, *n, *e;
    json_array_foreach(json_object_get(graph, "pipelines"), i, p)
    {
        uf_strbuf_printf(&sb, "  subgraph \"cluster_%s\" {\n    label=\"pipeline %s\";\n",
                         json_string_value(json_object_get(p, "name")),
                         json_string_value(json_object_get(p, "name")));
        json_array_foreach(json_object_get(p, "nodes"), k, n)
        {
            const char *role = json_string_value(json_object_get(n, "role"));
            uf_strbuf_printf(&sb, "    \"%s\" [label=\"%s\\n(%s)\", shape=%s, fillcolor=\"%s\"];\n",
                             json_string_value(json_object_get(n, "id")),
                             json_string_value(json_object_get(n, "name")),
                             json_string_value(json_object_get(n, "kind")), dot_shape(role),
                             dot_color(role));
        }
        uf_strbuf_puts(&sb, "  }\n");
        json_array_foreach(json_object_get(p, "edges"), k, e)
        {
            const char *port = json_string_value(json_object_get(e, "port"));
            uf_strbuf_printf(&sb, "  \"%s\" -> \"%s\"",
                             json_string_value(json_object_get(e, "from")),
                             json_string_value(json_object_get(e, "to")));
            if (port && *port)
                uf_strbuf_printf(&sb, " [label=\"%s\"]", port);
            uf_strbuf_puts(&sb, ";\n");
        }
    }
    uf_strbuf_puts(&sb, "}\n");
    return uf_strbuf_take(&sb);
}

static void mermaid_id(struct uf_strbuf *sb, const char *id)
{
    for (const char *c = id; *c; c++)
        uf_strbuf_append(sb, isalnum((unsigned char)*c) ? c : "_", 1);
}

char *uf_export_mermaid(const json_t *graph)
{
    struct uf_strbuf sb = { 0 };
    uf_strbuf_puts(&sb, "flowchart LR\n");
    size_t i, k;
    json_t *p, *n, *e;
    json_array_foreach(json_object_get(graph, "pipelines"), i, p)
    {
        uf_strbuf_printf(&sb, "  subgraph %s[\"pipeline %s\"]\n",
                         json_string_value(json_object_get(p, "name")),
                         json_string_value(json_object_get(p, "name")));
        json_array_foreach(json_object_get(p, "nodes"), k, n)
        {
            const char *role = json_string_value(json_object_get(n, "role"));
            bool src = strcmp(role, "source") == 0, sink = strcmp(role, "sink") == 0;
            uf_strbuf_puts(&sb, "    ");
            mermaid_id(&sb, json_string_value(json_object_get(n, "id")));
            uf_strbuf_printf(&sb, "%s\"%s<br/>(%s)\"%s\n",
                             src    ? "(["
                             : sink ? "[("
                                    : "[",
                             json_string_value(json_object_get(n, "name")),
                             json_string_value(json_object_get(n, "kind")),
                             src    ? "])"
                             : sink ? ")]"
                                    : "]");
        }
        uf_strbuf_puts(&sb, "  end\n");
        json_array_foreach(json_object_get(p, "edges"), k, e)
        {
            const char *port = json_string_value(json_object_get(e, "port"));
            uf_strbuf_puts(&sb, "  ");
            mermaid_id(&sb, json_string_value(json_object_get(e, "from")));
            if (port && *port)
                uf_strbuf_printf(&sb, " -->|%s| ", port);
            else
                uf_strbuf_puts(&sb, " --> ");
            mermaid_id(&sb, json_string_value(json_object_get(e, "to")));
            uf_strbuf_puts(&sb, "\n");
        }
    }
    return uf_strbuf_take(&sb);
}

/* ---- SVG through Graphviz ---- */

/* True when an executable `name` is in PATH, so a missing Graphviz gets a clear message rather
 * than a failed exec deep in a child. */
static bool in_path(const char *name)
{
    const char *path = getenv("PATH");
    if (!path)
        return false;
    char *copy = uf_xstrdup(path), *save = NULL;
    bool found = false;
    for (char *dir = strtok_r(copy, ":", &save); dir && !found; dir = strtok_r(NULL, ":", &save)) {
        char *file = uf_xasprintf("%s/%s", *dir ? dir : ".", name);
        found = access(file, X_OK) == 0;
        free(file);
    }
    free(copy);
    return found;
}

/* Spawns `dot -T<format>` with stdin from the file descriptor `in` and returns what it printed. The
 * DOT goes through a temporary file so that writing it can never block on a full pipe while
 * dot is itself blocked writing its output. */
static char *run_dot(int in, const char *format, struct uf_err *err)
{
    int out[2];
    if (pipe(out) != 0) {
        uf_err_set(err, UF_EIO, "graph svg: pipe: %s", strerror(errno));
        return NULL;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in, 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    char fmt[32];
    snprintf(fmt, sizeof fmt, "-T%s", format);
    char *argv[] = { "dot", fmt, NULL };
    pid_t pid;
    int rc = posix_spawnp(&pid, "dot", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    struct uf_strbuf sb = { 0 };
    char buf[8192];
    ssize_t n;
    while (rc == 0 && (n = read(out[0], buf, sizeof buf)) > 0)
        uf_strbuf_append(&sb, buf, (size_t)n);
    close(out[0]);
    int status = 0;
    if (rc == 0)
        waitpid(pid, &status, 0);
    if (rc != 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0 || sb.len == 0) {
        uf_err_set(err, UF_EIO, "graph %s: `dot %s` failed (%s)", format, fmt,
                   rc ? strerror(rc) : "see its message above");
        uf_strbuf_free(&sb);
        return NULL;
    }
    return uf_strbuf_take(&sb);
}

char *uf_export_svg(const json_t *graph, struct uf_err *err)
{
    char *dot = uf_export_dot(graph);
    char *svg = uf_export_run_dot(dot, "svg", err);
    free(dot);
    return svg;
}

char *uf_export_run_dot(const char *dot, const char *format, struct uf_err *err)
{
    if (!in_path("dot")) {
        uf_err_set(err, UF_ENOTFOUND,
                   "graph %s: Graphviz's `dot` is not in PATH: install graphviz "
                   "(script/bootstrap does) or use --format dot",
                   format);
        return NULL;
    }
    char path[] = "/tmp/ugcflow-graph-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) {
        uf_err_set(err, UF_EIO, "graph %s: temporary file: %s", format, strerror(errno));
        return NULL;
    }
    unlink(path); /* the open descriptor is all dot needs */
    size_t len = strlen(dot), off = 0;
    ssize_t n = 0;
    while (off < len && (n = write(fd, dot + off, len - off)) > 0)
        off += (size_t)n;
    char *out = NULL;
    if (off < len)
        uf_err_set(err, UF_EIO, "graph %s: temporary file: %s", format, strerror(errno));
    else if (lseek(fd, 0, SEEK_SET) == 0)
        out = run_dot(fd, format, err);
    else
        uf_err_set(err, UF_EIO, "graph %s: temporary file: %s", format, strerror(errno));
    close(fd);
    return out;
}
