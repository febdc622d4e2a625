/* viz/top.c: `ugcflow top` (see top.h). Every second it fetches /api/graph from each admin
 * address and redraws one table of all components; the rates and trouble reasons come ready
 * from the server's history (viz/history.c), so the first screen is already complete. The
 * terminal is put in raw mode (no echo, no line buffering, Ctrl-C read as a key) so that q and
 * Ctrl-C both leave through the same path that restores it; nothing here installs a signal
 * handler. `--once` prints a single plain snapshot, for scripts and tests. */
#include "viz/top.h"

#include <curl/curl.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "framework/config.h"
#include "framework/mem.h"
#include "framework/strbuf.h"
#include "viz/cli.h"
#include "viz/fetch.h"
#include "viz/labels.h"

#define MAX_ADDRS 32
#define FETCH_TIMEOUT_MS 800L

struct row {
    const char *address, *id, *kind;
    double in, out, errors, qfill, p99_us;
    bool source, has_queue;
    char notes[160];
    char trouble[256];
};

/* ---- formatting ---- */

static double num(const json_t *o, const char *key)
{
    return json_number_value(json_object_get(o, key));
}

static void row_trouble(struct row *r, const json_t *n)
{
    size_t i, used = 0;
    json_t *why;
    json_array_foreach(json_object_get(n, "trouble"), i, why)
    {
        if (used >= sizeof r->trouble - 1)
            break;
        used += (size_t)snprintf(r->trouble + used, sizeof r->trouble - used, "%s%s",
                                 used ? "; " : "", json_string_value(why));
    }
}

static void fill_row(struct row *r, const char *address, const json_t *n)
{
    const json_t *rates = json_object_get(n, "rates"), *m = json_object_get(n, "metrics");
    memset(r, 0, sizeof *r);
    r->address = address;
    r->id = json_string_value(json_object_get(n, "id"));
    r->kind = json_string_value(json_object_get(n, "kind"));
    r->source = strcmp(json_string_value(json_object_get(n, "role")), "source") == 0;
    r->in = num(rates, "in");
    r->out = num(rates, "out");
    r->errors = num(rates, "errors");
    r->p99_us = num(rates, "p99_us");
    double cap = num(m, "queue_capacity");
    r->has_queue = cap > 0;
    r->qfill = cap > 0 ? num(m, "queue_depth") / cap : 0;
    uf_labels_notes(n, r->notes, sizeof r->notes);
    row_trouble(r, n);
}

/* ---- sorting and rendering ---- */

static double sort_key(const struct row *r, enum uf_top_sort sort)
{
    switch (sort) {
    case UF_TOP_SORT_ERRORS:
        return r->errors;
    case UF_TOP_SORT_LATENCY:
        return r->p99_us;
    case UF_TOP_SORT_RATE:
        break;
    }
    return r->in > r->out ? r->in : r->out;
}

static void sort_rows(struct row *rows, size_t n, enum uf_top_sort sort)
{
    /* Insertion sort: a screen holds tens of rows, and unlike qsort it needs no global to know
     * the sort key. */
    for (size_t i = 1; i < n; i++) {
        struct row r = rows[i];
        size_t j = i;
        while (j > 0) {
            double a = sort_key(&rows[j - 1], sort), b = sort_key(&r, sort);
            if (a > b || (a == b && strcmp(rows[j - 1].id, r.id) <= 0))
                break;
            rows[j] = rows[j - 1];
            j--;
        }
        rows[j] = r;
    }
}

static const char *sort_name(enum uf_top_sort s)
{
    return s == UF_TOP_SORT_ERRORS ? "errors" : s == UF_TOP_SORT_LATENCY ? "latency" : "rate";
}

/* Column widths wide enough for the longest id and kind on the screen, so a long kind name
 * (view_detector, postgres_outbox) never shifts the columns after it. */
struct widths {
    int id, kind;
};

static struct widths measure(const struct row *rows, size_t n)
{
    struct widths w = { .id = 30, .kind = 12 };
    for (size_t i = 0; i < n; i++) {
        int il = (int)strlen(rows[i].id), kl = (int)strlen(rows[i].kind);
        w.id = il > w.id ? il : w.id;
        w.kind = kl > w.kind ? kl : w.kind;
    }
    return w;
}

static void render_row(struct uf_strbuf *sb, const struct row *r, struct widths w, bool ansi)
{
    char in[16], out[16], err[16], q[16], p99[16];
    if (r->source)
        snprintf(in, sizeof in, "-");
    else
        uf_fmt_num(in, sizeof in, r->in);
    uf_fmt_num(out, sizeof out, r->out);
    uf_fmt_num(err, sizeof err, r->errors);
    if (r->has_queue)
        snprintf(q, sizeof q, "%.0f%%", r->qfill * 100);
    else
        snprintf(q, sizeof q, "-");
    uf_fmt_us(p99, sizeof p99, r->p99_us);
    bool bad = r->trouble[0] != '\0';
    if (ansi && bad)
        uf_strbuf_puts(sb, "\033[31m");
    /* Trouble first: it is why someone is looking. */
    uf_strbuf_printf(sb, "%-*s %-*s %8s %8s %7s %6s %8s  %-21s %s%s%s%s", w.id, r->id, w.kind,
                     r->kind, in, out, err, q, p99, r->address, bad ? "! " : "", r->trouble,
                     bad && r->notes[0] ? "; " : "", r->notes);
    while (sb->len && sb->buf[sb->len - 1] == ' ')
        sb->buf[--sb->len] = '\0';
    uf_strbuf_puts(sb, ansi && bad ? "\033[0m\n" : "\n");
}

static size_t count_nodes(const struct uf_top_source *srcs, size_t n)
{
    size_t total = 0, i;
    json_t *p;
    for (size_t s = 0; s < n; s++)
        json_array_foreach(json_object_get(srcs[s].graph, "pipelines"), i, p)
        {
            total += json_array_size(json_object_get(p, "nodes"));
        }
    return total;
}

char *uf_top_render(const struct uf_top_source *srcs, size_t n, enum uf_top_sort sort, bool ansi)
{
    size_t total = count_nodes(srcs, n), nrows = 0, up = 0;
    struct row *rows = uf_xcalloc(total ? total : 1, sizeof *rows);
    for (size_t s = 0; s < n; s++) {
        size_t i, k;
        json_t *p, *node;
        up += srcs[s].graph != NULL;
        json_array_foreach(json_object_get(srcs[s].graph, "pipelines"), i, p)
        {
            json_array_foreach(json_object_get(p, "nodes"), k, node)
            {
                fill_row(&rows[nrows++], srcs[s].address, node);
            }
        }
    }
    sort_rows(rows, nrows, sort);
    struct uf_strbuf sb = { 0 };
    uf_strbuf_printf(&sb, "ugcflow top: %zu/%zu process%s up, %zu components, sorted by %s%s\n\n",
                     up, n, n == 1 ? "" : "es", nrows, sort_name(sort),
                     ansi ? "   [r]ate [e]rrors [l]atency, [q]uit" : "");
    struct widths w = measure(rows, nrows);
    uf_strbuf_printf(&sb, "%s%-*s %-*s %8s %8s %7s %6s %8s  %-21s %s%s\n", ansi ? "\033[1m" : "",
                     w.id, "COMPONENT", w.kind, "KIND", "IN/s", "OUT/s", "ERR/s", "QUEUE", "P99",
                     "PROCESS", "NOTES", ansi ? "\033[0m" : "");
    for (size_t i = 0; i < nrows; i++)
        render_row(&sb, &rows[i], w, ansi);
    for (size_t s = 0; s < n; s++)
        if (!srcs[s].graph)
            uf_strbuf_printf(&sb, "%s%s: unreachable (%s)%s\n", ansi ? "\033[31m" : "",
                             srcs[s].address, srcs[s].error ? srcs[s].error : "no answer",
                             ansi ? "\033[0m" : "");
    free(rows);
    return uf_strbuf_take(&sb);
}

/* ---- fetching ---- */

struct top_opts {
    const char *addrs[MAX_ADDRS];
    size_t naddrs;
    enum uf_top_sort sort;
    bool once;
};

/* Fetches every address and renders one screen; *up counts the processes that answered. */
static char *snapshot(CURL *curl, const struct top_opts *o, bool ansi, size_t *up)
{
    struct uf_top_source srcs[MAX_ADDRS];
    char why[MAX_ADDRS][CURL_ERROR_SIZE];
    *up = 0;
    for (size_t i = 0; i < o->naddrs; i++) {
        srcs[i] = (struct uf_top_source){ .address = o->addrs[i], .error = why[i] };
        srcs[i].graph =
            uf_fetch_json(curl, o->addrs[i], "/api/graph", FETCH_TIMEOUT_MS, why[i], sizeof why[i]);
        *up += srcs[i].graph != NULL;
    }
    char *screen = uf_top_render(srcs, o->naddrs, o->sort, ansi);
    for (size_t i = 0; i < o->naddrs; i++)
        json_decref((json_t *)srcs[i].graph);
    return screen;
}

/* ---- the interactive loop ---- */

/* Waits up to ms for a key; 0 when none. */
static int wait_key(bool tty, int ms)
{
    struct pollfd pfd = { .fd = 0, .events = POLLIN };
    if (!tty) { /* stdin may be at EOF, which would poll readable at once: just wait */
        poll(NULL, 0, ms);
        return 0;
    }
    unsigned char c;
    if (poll(&pfd, 1, ms) > 0 && read(0, &c, 1) == 1)
        return c;
    return 0;
}

static int run_live(CURL *curl, struct top_opts *o)
{
    struct termios saved, raw;
    bool tty = isatty(0) && tcgetattr(0, &saved) == 0;
    if (tty) {
        raw = saved;
        raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO | ISIG);
        raw.c_cc[VMIN] = 0;
        raw.c_cc[VTIME] = 0;
        tcsetattr(0, TCSANOW, &raw);
    }
    fputs("\033[?1049h\033[?25l", stdout); /* alternate screen, cursor hidden */
    for (int key = 0; key != 'q' && key != 3 /* Ctrl-C */;) {
        size_t up;
        char *screen = snapshot(curl, o, true, &up);
        printf("\033[H\033[2J%s", screen);
        fflush(stdout);
        free(screen);
        key = wait_key(tty, 1000);
        if (key == 'r' || key == 'e' || key == 'l')
            o->sort = key == 'r'   ? UF_TOP_SORT_RATE
                      : key == 'e' ? UF_TOP_SORT_ERRORS
                                   : UF_TOP_SORT_LATENCY;
    }
    fputs("\033[?25h\033[?1049l", stdout);
    fflush(stdout);
    if (tty)
        tcsetattr(0, TCSANOW, &saved);
    return 0;
}

/* ---- command line ---- */

static int top_usage(const char *msg)
{
    if (msg)
        fprintf(stderr, "ugcflow top: %s\n", msg);
    fputs("usage: ugcflow top [FILE] [--admin ADDR]... [--sort rate|errors|latency] [--once]\n"
          "  FILE          watch the admin address of each pipeline of FILE\n"
          "  --admin ADDR  watch the process whose admin listener is ADDR (repeatable;\n"
          "                default 127.0.0.1:8686 when neither FILE nor --admin is given)\n"
          "  --sort KEY    order by events/s (rate), errors/s or p99 latency\n"
          "  --once        print one plain snapshot and exit\n",
          stderr);
    return 2;
}

static int add_addr(struct top_opts *o, const char *addr)
{
    for (size_t i = 0; i < o->naddrs; i++)
        if (strcmp(o->addrs[i], addr) == 0)
            return 0;
    if (o->naddrs == MAX_ADDRS)
        return top_usage("too many admin addresses");
    o->addrs[o->naddrs++] = addr;
    return 0;
}

/* Adds each pipeline's admin address (or the file's default) from FILE; cfg stays alive for
 * the borrowed strings. */
static int addrs_from_file(struct top_opts *o, const char *file, struct uf_config **cfg)
{
    struct uf_diags d = { 0 };
    *cfg = uf_config_load(file, &d);
    int rc = 0;
    if (!*cfg || d.n) {
        uf_diags_print(&d, stderr);
        fprintf(stderr, "ugcflow top: cannot read %s\n", file);
        rc = 1;
    }
    for (size_t i = 0; rc == 0 && i < (*cfg)->npipelines; i++) {
        const struct uf_node *a = (*cfg)->pipelines[i].admin;
        rc = add_addr(o, a && a->scalar ? a->scalar : (*cfg)->admin_address);
    }
    uf_diags_free(&d);
    return rc;
}

static int parse_sort(const char *s, enum uf_top_sort *out)
{
    if (strcmp(s, "rate") == 0)
        *out = UF_TOP_SORT_RATE;
    else if (strcmp(s, "errors") == 0)
        *out = UF_TOP_SORT_ERRORS;
    else if (strcmp(s, "latency") == 0)
        *out = UF_TOP_SORT_LATENCY;
    else
        return top_usage("--sort must be rate, errors or latency");
    return 0;
}

static int top_main(int argc, char **argv)
{
    static const struct option longopts[] = { { "admin", required_argument, NULL, 'a' },
                                              { "sort", required_argument, NULL, 's' },
                                              { "once", no_argument, NULL, 'o' },
                                              { "help", no_argument, NULL, 'h' },
                                              { NULL, 0, NULL, 0 } };
    struct top_opts o = { .sort = UF_TOP_SORT_RATE };
    struct uf_config *cfg = NULL;
    int c, rc = 0;
    optind = 1;
    while (rc == 0 && (c = getopt_long(argc, argv, "a:s:oh", longopts, NULL)) != -1) {
        if (c == 'a')
            rc = add_addr(&o, optarg);
        else if (c == 's')
            rc = parse_sort(optarg, &o.sort);
        else if (c == 'o')
            o.once = true;
        else
            rc = top_usage(NULL);
    }
    if (rc == 0 && optind < argc - 1)
        rc = top_usage("at most one FILE");
    if (rc == 0 && optind < argc)
        rc = addrs_from_file(&o, argv[optind], &cfg);
    if (rc == 0 && o.naddrs == 0)
        add_addr(&o, "127.0.0.1:8686");
    if (rc == 0) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        CURL *curl = curl_easy_init();
        if (o.once) {
            size_t up;
            char *screen = snapshot(curl, &o, false, &up);
            fputs(screen, stdout);
            free(screen);
            rc = up ? 0 : 1;
        } else {
            rc = run_live(curl, &o);
        }
        curl_easy_cleanup(curl);
        curl_global_cleanup();
    }
    uf_config_free(cfg);
    return rc;
}

const struct uf_command uf_viz_top_command = {
    .name = "top",
    .usage = "  top [FILE] [--admin ADDR]... [--sort rate|errors|latency] [--once]\n"
             "                        live metrics of every component of running processes\n",
    .main = top_main,
};
