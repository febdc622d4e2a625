/* reconcile.c: `ugcflow reconcile` (see reconcile.h). Both sides' keys are read whole, sorted
 * bytewise here (so neither server's collation matters) and merged; a check's queries get
 * `{since}` replaced by a Unix time in seconds (0 without --since). ClickHouse is asked over
 * its HTTP interface for TabSeparated rows; keys are ids and need no escaping. */
#include "framework/reconcile.h"

#include <curl/curl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "framework/config.h"
#include "framework/mem.h"
#include "framework/options.h"
#include "framework/pg.h"
#include "framework/strbuf.h"

#define SAMPLES 5

static const char usage_text[] =
    "usage: ugcflow reconcile FILE [--since DURATION]\n"
    "  compares the UGC state in PostgreSQL with the events in ClickHouse, per check of\n"
    "  FILE's `reconcile` section; --since limits both sides to changes in the last DURATION\n"
    "  (e.g. 1h). Exit 0 when they agree, 1 on a difference, 2 on an error.\n";

struct check {
    const char *name, *pg_sql, *ch_sql; /* borrowed from the config */
};

struct setup {
    const char *dsn, *schema, *ch_url, *ch_db, *ch_user, *ch_password;
    struct check *checks;
    size_t nchecks;
};

struct keys {
    char **v;
    size_t n, cap;
    char *blob; /* what ClickHouse's keys point into */
};

static void keys_add(struct keys *k, char *s)
{
    if (k->n == k->cap) {
        k->cap = k->cap ? k->cap * 2 : 1024;
        k->v = uf_xrealloc(k->v, k->cap * sizeof *k->v);
    }
    k->v[k->n++] = s;
}

static void keys_free(struct keys *k, bool owned)
{
    for (size_t i = 0; owned && i < k->n; i++)
        free(k->v[i]);
    free(k->v);
    free(k->blob);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- the configuration ---- */

static const char *scalar(const struct uf_node *map, const char *key, bool required,
                          struct uf_diags *d)
{
    const struct uf_node *n = uf_node_get(map, key);
    if (n && n->type == UF_NODE_SCALAR)
        return n->scalar;
    if (n || required)
        uf_diags_add(d, n ? &n->pos : &map->pos, "reconcile: '%s' must be a string", key);
    return NULL;
}

static const struct uf_node *mapping(const struct uf_node *map, const char *key, struct uf_diags *d)
{
    const struct uf_node *n = uf_node_get(map, key);
    if (n && n->type == UF_NODE_MAP)
        return n;
    uf_diags_add(d, n ? &n->pos : &map->pos, "reconcile: '%s' must be a mapping", key);
    return NULL;
}

static void read_checks(const struct uf_node *checks, struct setup *s, struct uf_diags *d)
{
    s->checks = uf_xcalloc(checks->n ? checks->n : 1, sizeof *s->checks);
    for (size_t i = 0; i < checks->n; i++) {
        const struct uf_node *c = checks->items[i];
        if (c->type != UF_NODE_MAP) {
            uf_diags_add(d, &c->pos, "reconcile: check '%s' must be {postgres, clickhouse}",
                         checks->keys[i]);
            continue;
        }
        s->checks[s->nchecks++] = (struct check){ checks->keys[i], scalar(c, "postgres", true, d),
                                                  scalar(c, "clickhouse", true, d) };
    }
}

static int read_setup(const struct uf_config *cfg, struct setup *s, struct uf_diags *d)
{
    const struct uf_node *r = uf_node_get(cfg->root, "reconcile");
    if (!r || r->type != UF_NODE_MAP) {
        uf_diags_add(d, r ? &r->pos : NULL, "no 'reconcile' mapping in the file");
        return -1;
    }
    const struct uf_node *pg = mapping(r, "postgres", d), *ch = mapping(r, "clickhouse", d),
                         *checks = mapping(r, "checks", d);
    if (pg) {
        s->dsn = scalar(pg, "dsn", true, d);
        s->schema = scalar(pg, "schema", false, d);
    }
    if (ch) {
        s->ch_url = scalar(ch, "url", true, d);
        s->ch_db = scalar(ch, "database", false, d);
        s->ch_user = scalar(ch, "user", false, d);
        s->ch_password = scalar(ch, "password", false, d);
    }
    if (checks)
        read_checks(checks, s, d);
    return d->n ? -1 : 0;
}

/* ---- the two sides ---- */

/* sql with every "{since}" replaced by since (new string). */
static char *with_since(const char *sql, int64_t since)
{
    struct uf_strbuf sb = { 0 };
    const char *p;
    while ((p = strstr(sql, "{since}"))) {
        uf_strbuf_append(&sb, sql, (size_t)(p - sql));
        uf_strbuf_printf(&sb, "%" PRId64, since);
        sql = p + strlen("{since}");
    }
    uf_strbuf_puts(&sb, sql);
    return uf_strbuf_take(&sb);
}

static int pg_keys(PGconn *pg, const char *sql, struct keys *k, struct uf_err *err)
{
    PGresult *res = PQexec(pg, sql);
    int rc = 0;
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        const char *m = PQresultErrorMessage(res);
        rc = uf_err_set(err, UF_EIO, "PostgreSQL: %.*s", (int)strcspn(m, "\n"), m);
    }
    for (int i = 0; rc == 0 && i < PQntuples(res); i++)
        if (!PQgetisnull(res, i, 0))
            keys_add(k, uf_xstrdup(PQgetvalue(res, i, 0)));
    PQclear(res);
    return rc;
}

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
    uf_strbuf_append(arg, p, size * n);
    return size * n;
}

/* POSTs sql to ClickHouse's HTTP interface; the answer in *out. */
static int ch_query(const struct setup *s, const char *sql, struct uf_strbuf *out,
                    struct uf_err *err)
{
    char *q = uf_xasprintf("%s FORMAT TabSeparated", sql);
    char *url = uf_xasprintf("%s/?database=%s", s->ch_url, s->ch_db ? s->ch_db : "default");
    CURL *e = curl_easy_init();
    char ebuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, q);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 300000L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, ebuf);
    if (s->ch_user) {
        curl_easy_setopt(e, CURLOPT_USERNAME, s->ch_user);
        curl_easy_setopt(e, CURLOPT_PASSWORD, s->ch_password ? s->ch_password : "");
    }
    CURLcode rc = curl_easy_perform(e);
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    int ret = 0;
    if (rc != CURLE_OK)
        ret = uf_err_set(err, UF_EIO, "ClickHouse: %s", ebuf[0] ? ebuf : curl_easy_strerror(rc));
    else if (status != 200)
        ret = uf_err_set(err, UF_EIO, "ClickHouse: HTTP %ld: %.300s", status,
                         out->buf ? out->buf : "");
    curl_easy_cleanup(e);
    free(url);
    free(q);
    return ret;
}

static int ch_keys(const struct setup *s, const char *sql, struct keys *k, struct uf_err *err)
{
    struct uf_strbuf out = { 0 };
    int rc = ch_query(s, sql, &out, err);
    k->blob = uf_strbuf_take(&out);
    for (char *line = k->blob; rc == 0 && line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        keys_add(k, line);
        line = nl ? nl + 1 : NULL;
    }
    return rc;
}

/* ---- the comparison ---- */

struct diff {
    size_t missing, extra;
    const char *miss[SAMPLES], *more[SAMPLES];
};

static void compare(const struct keys *a, const struct keys *b, struct diff *d)
{
    size_t i = 0, j = 0;
    while (i < a->n || j < b->n) {
        int c = i == a->n ? 1 : j == b->n ? -1 : strcmp(a->v[i], b->v[j]);
        if (c < 0 && d->missing < SAMPLES)
            d->miss[d->missing] = a->v[i];
        if (c > 0 && d->extra < SAMPLES)
            d->more[d->extra] = b->v[j];
        d->missing += c < 0;
        d->extra += c > 0;
        i += c <= 0;
        j += c >= 0;
    }
}

static void print_samples(const char *check, const char *what, const char *const *keys, size_t n)
{
    for (size_t i = 0; i < n && i < SAMPLES; i++)
        printf("  %s: %s %s\n", check, what, keys[i]);
    if (n > SAMPLES)
        printf("  %s: ... and %zu more %s\n", check, n - SAMPLES, what);
}

/* Runs one check; 0, 1 on a difference, 2 on an error. */
static int run_check(const struct setup *s, PGconn *pg, const struct check *c, int64_t since,
                     size_t *missing, size_t *extra)
{
    struct keys a = { 0 }, b = { 0 };
    struct uf_err err = { 0 };
    char *pq = with_since(c->pg_sql, since), *cq = with_since(c->ch_sql, since);
    int rc = pg_keys(pg, pq, &a, &err) || ch_keys(s, cq, &b, &err) ? 2 : 0;
    if (rc) {
        fprintf(stderr, "ugcflow reconcile: check '%s': %s\n", c->name, err.msg);
    } else {
        qsort(a.v, a.n, sizeof *a.v, cmp_str);
        qsort(b.v, b.n, sizeof *b.v, cmp_str);
        struct diff d = { 0 };
        compare(&a, &b, &d);
        printf("%-24s %12zu %12zu %9zu %9zu\n", c->name, a.n, b.n, d.missing, d.extra);
        print_samples(c->name, "missing", d.miss, d.missing);
        print_samples(c->name, "extra", d.more, d.extra);
        *missing += d.missing;
        *extra += d.extra;
        rc = d.missing || d.extra;
    }
    free(pq);
    free(cq);
    keys_free(&a, true);
    keys_free(&b, false);
    return rc;
}

static PGconn *open_pg(const struct setup *s)
{
    struct uf_err err = { 0 };
    PGconn *pg = uf_pg_connect(s->dsn, 5000, &err);
    if (pg && s->schema) {
        char *q = uf_pg_quote_ident(s->schema), *sql = uf_xasprintf("SET search_path TO %s", q);
        if (uf_pg_exec(pg, sql, "search_path", &err) != 0) {
            PQfinish(pg);
            pg = NULL;
        }
        free(sql);
        free(q);
    }
    if (!pg)
        fprintf(stderr, "ugcflow reconcile: PostgreSQL: %s\n", err.msg);
    return pg;
}

static int run(const struct setup *s, int64_t since)
{
    PGconn *pg = open_pg(s);
    if (!pg)
        return 2;
    printf("%-24s %12s %12s %9s %9s\n", "check", "postgres", "clickhouse", "missing", "extra");
    size_t missing = 0, extra = 0;
    int worst = 0;
    for (size_t i = 0; i < s->nchecks; i++) {
        int rc = run_check(s, pg, &s->checks[i], since, &missing, &extra);
        worst = rc > worst ? rc : worst;
    }
    PQfinish(pg);
    printf("reconcile: %zu checks, %zu missing, %zu extra%s\n", s->nchecks, missing, extra,
           worst == 2 ? ", some checks failed to run" : "");
    return worst;
}

/* --since DURATION as a Unix time in seconds; 0 without it. -1 when malformed. */
static int64_t parse_since(const char *text)
{
    if (!text)
        return 0;
    static const struct uf_option opt = {
        .name = "--since", .type = UF_OPT_DURATION, .min = 1000, .max = INT64_MAX / 2
    };
    int64_t ms;
    struct uf_err err;
    if (uf_option_parse_scalar(&opt, text, &ms, &err) != 0) {
        fprintf(stderr, "ugcflow reconcile: %s\n", err.msg);
        return -1;
    }
    int64_t t = (int64_t)time(NULL) - ms / 1000;
    return t > 0 ? t : 0;
}

int uf_reconcile_main(int argc, char **argv)
{
    static const struct option longopts[] = { { "since", required_argument, NULL, 's' },
                                              { "help", no_argument, NULL, 'h' },
                                              { 0 } };
    const char *since_text = NULL;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "s:h", longopts, NULL)) != -1) {
        if (c == 's') {
            since_text = optarg;
            continue;
        }
        fputs(usage_text, c == 'h' ? stdout : stderr);
        return c == 'h' ? 0 : 2;
    }
    int64_t since = parse_since(since_text);
    if (optind != argc - 1 || since < 0) {
        fputs(usage_text, stderr);
        return 2;
    }
    struct uf_diags d = { 0 };
    struct uf_config *cfg = uf_config_load(argv[optind], &d);
    struct setup s = { 0 };
    int rc = cfg && d.n == 0 && read_setup(cfg, &s, &d) == 0 ? run(&s, since) : 2;
    if (d.n)
        uf_diags_print(&d, stderr);
    uf_diags_free(&d);
    free(s.checks);
    uf_config_free(cfg);
    return rc;
}
