/* it_postgres.c: the `postgres` kind against the dev stack's PostgreSQL, without HTTP: the
 * `ugc` pipeline's store alone started and fed request events, each with a waiter (status and
 * body as a client gets them). Own schema per run. Covers every operation's statuses, 50
 * concurrent likes by one user, keyset pagination walking every comment once, delete rights,
 * vote counts, progress/history, migrations applied once, PostgreSQL stopped (503) then
 * restarted (recovers in place); operations of other statements are in it_postgres_ops.c.
 * Needs UGCFLOW_PG_DSN and the devstack lock (flock -o /tmp/ugcflow-devstack.lock ctest). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <pthread.h>

#include "framework/config.h"
#include "framework/event.h"
#include "framework/event_int.h"
#include "framework/graph.h"
#include "framework/pg_migrate.h"
#include "sinks/postgres/postgres_pool.h"
#include "tests/support/poll.h"

#define MOVIE "0190a5c4-0000-7000-8000-0000000000aa"
#define USER_A "0190a5c4-0000-7000-8000-00000000000a"
#define USER_B "0190a5c4-0000-7000-8000-00000000000b"

static struct uf_graph *g;
static struct uf_stage *store;
static char schema[64];
static const char *dsn;

struct answer {
    int status;
    json_t *body;
};

/* Sends n requests at once (they share the pool, so they run concurrently) and waits. */
static void send_many(json_t **reqs, const char *const *users, const char *role, size_t n,
                      struct answer *out)
{
    struct uf_waiter **w = calloc(n, sizeof *w);
    struct uf_event **evs = calloc(n, sizeof *evs);
    for (size_t i = 0; i < n; i++) {
        struct uf_completion *c;
        w[i] = uf_waiter_new(&c);
        evs[i] = uf_event_new(reqs[i]);
        uf_completion_attach(c, evs[i]);
        uf_completion_release(c);
        if (users[i])
            uf_event_set_user(evs[i], users[i]);
        if (role)
            json_object_set_new(uf_event_meta(evs[i]), "roles", json_pack("[s]", role));
        evs[i]->at = store;
    }
    struct uf_err err = { 0 };
    assert_int_equal(store->kind->write(store, store->ctx, evs, n, &err), UF_OK);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(uf_waiter_wait(w[i], 10000), 0);
        out[i].status = uf_waiter_status(w[i]);
        json_t *b = uf_waiter_body(w[i]);
        out[i].body = b ? json_incref(b) : NULL;
        uf_waiter_free(w[i]);
    }
    free(w);
    free(evs);
}

/* One request: route, then JSON text for params, query and body (NULL for none). */
static struct answer call(const char *user, const char *role, const char *route, const char *params,
                          const char *query, const char *body)
{
    json_t *req = json_pack("{s:s}", "route", route);
    const char *names[3] = { "params", "query", "body" };
    const char *parts[3] = { params, query, body };
    for (int i = 0; i < 3; i++) {
        if (parts[i])
            json_object_set_new(req, names[i], json_loads(parts[i], 0, NULL));
    }
    struct answer a;
    const char *users[1] = { user };
    send_many(&req, users, role, 1, &a);
    return a;
}

static void drop(struct answer *a)
{
    json_decref(a->body);
    a->body = NULL;
}

static int status_of(const char *user, const char *role, const char *route, const char *params,
                     const char *query, const char *body)
{
    struct answer a = call(user, role, route, params, query, body);
    drop(&a);
    return a.status;
}

static void sql(const char *text)
{
    PGconn *pg = PQconnectdb(dsn);
    assert_int_equal(PQstatus(pg), CONNECTION_OK);
    char *q = NULL;
    assert_true(asprintf(&q, "SET search_path TO %s; %s", schema, text) > 0);
    PGresult *res = PQexec(pg, q);
    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", text, PQresultErrorMessage(res));
    PQclear(res);
    PQfinish(pg);
    free(q);
}

static int setup(void **state)
{
    dsn = getenv("UGCFLOW_PG_DSN");
    if (!dsn) {
        fprintf(stderr, "UGCFLOW_PG_DSN is not set (eval \"$(script/dev-stack env)\")\n");
        return -1;
    }
    snprintf(schema, sizeof schema, "it_postgres_%d", (int)getpid());
    /* The store of the `ugc` pipeline as pipeline.yaml declares it, on a schema of its own. */
    setenv("UGCFLOW_UGC_SCHEMA", schema, 1);
    setenv("UGCFLOW_UGC_PG_POOL", "4", 1);
    setenv("UGCFLOW_JWT_SECRET", "it-postgres-secret-0123456789abcdef0123456789", 0);
    char path[4096];
    snprintf(path, sizeof path, "%s/pipeline.yaml", getenv("UGCFLOW_SOURCE_DIR"));
    struct uf_diags diags = { 0 };
    struct uf_config *cfg = uf_config_load(path, &diags);
    const char *names[1] = { "ugc" };
    g = cfg ? uf_graph_build(cfg, names, 1, &diags) : NULL;
    if (!g) {
        uf_diags_print(&diags, stderr);
        return -1;
    }
    uf_diags_free(&diags);
    for (size_t i = 0; i < g->pipelines[0].nstages; i++) {
        if (strcmp(g->pipelines[0].stages[i]->name, "store") == 0)
            store = g->pipelines[0].stages[i];
    }
    struct uf_err err = { 0 };
    if (store->kind->start(store, store->ctx, &err) != 0) {
        fprintf(stderr, "start: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    if (!store) /* setup failed before the store started: it said why */
        return 0;
    store->kind->stop(store, store->ctx);
    PGconn *pg = PQconnectdb(dsn);
    char *q = NULL;
    if (asprintf(&q, "DROP SCHEMA %s CASCADE", schema) > 0)
        PQclear(PQexec(pg, q));
    free(q);
    PQfinish(pg);
    uf_graph_free(g);
    return 0;
}

static void test_reactions(void **state)
{
    const char *p = "{\"movie_id\":\"" MOVIE "\"}";
    assert_int_equal(status_of(USER_A, NULL, "reaction_delete", p, NULL, NULL), 404);
    assert_int_equal(status_of(USER_A, NULL, "like", p, NULL, NULL), 201);
    assert_int_equal(status_of(USER_A, NULL, "like", p, NULL, NULL), 200);
    struct answer a = call(USER_A, NULL, "reaction_get", p, NULL, NULL);
    assert_int_equal(a.status, 200);
    assert_true(json_is_true(json_object_get(a.body, "liked")));
    drop(&a);
    assert_int_equal(status_of(USER_A, NULL, "dislike", p, NULL, NULL), 200);
    a = call(NULL, NULL, "reactions_count", p, NULL, NULL);
    assert_int_equal(json_integer_value(json_object_get(a.body, "likes")), 0);
    assert_int_equal(json_integer_value(json_object_get(a.body, "dislikes")), 1);
    drop(&a);
    assert_int_equal(status_of(USER_A, NULL, "reaction_delete", p, NULL, NULL), 204);
    a = call(USER_A, NULL, "reaction_get", p, NULL, NULL);
    assert_true(json_is_null(json_object_get(a.body, "reaction")));
    assert_true(json_is_false(json_object_get(a.body, "liked")));
    drop(&a);
    assert_int_equal(status_of(NULL, NULL, "like", p, NULL, NULL), 401);
    assert_int_equal(status_of(USER_A, NULL, "like", "{\"movie_id\":\"x\"}", NULL, NULL), 400);
}

static void test_concurrent_likes_one_row(void **state)
{
    enum { N = 50 };
    json_t *reqs[N];
    const char *users[N];
    struct answer out[N];
    const char *movie = "0190a5c4-0000-7000-8000-0000000000bb";
    for (int i = 0; i < N; i++) {
        reqs[i] = json_pack("{s:s, s:{s:s}}", "route", "like", "params", "movie_id", movie);
        users[i] = USER_B;
    }
    send_many(reqs, users, NULL, N, out);
    int created = 0;
    for (int i = 0; i < N; i++) {
        assert_true(out[i].status == 201 || out[i].status == 200);
        created += out[i].status == 201;
        drop(&out[i]);
    }
    assert_int_equal(created, 1);
    struct answer a = call(NULL, NULL, "reactions_count",
                           "{\"movie_id\":\"0190a5c4-0000-7000-8000-"
                           "0000000000bb\"}",
                           NULL, NULL);
    assert_int_equal(json_integer_value(json_object_get(a.body, "likes")), 1);
    drop(&a);
}

/* Walks a list page by page; checks each id is seen once; returns the count. */
static size_t walk(const char *route, const char *user, const char *params, const char *extra,
                   const char *key, json_t *seen)
{
    char *cursor = NULL;
    size_t total = 0;
    for (int pages = 0; pages < 100; pages++) {
        char query[512];
        snprintf(query, sizeof query, "{\"limit\":\"7\"%s%s%s%s}", extra,
                 cursor ? ",\"cursor\":\"" : "", cursor ? cursor : "", cursor ? "\"" : "");
        struct answer a = call(user, NULL, route, params, query, NULL);
        assert_int_equal(a.status, 200);
        json_t *items = json_object_get(a.body, "items");
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it)
        {
            const char *id = json_string_value(json_object_get(it, key));
            assert_null(json_object_get(seen, id));
            json_object_set_new(seen, id, json_true());
            total++;
        }
        free(cursor);
        json_t *next = json_object_get(a.body, "next_cursor");
        cursor = json_is_string(next) ? strdup(json_string_value(next)) : NULL;
        drop(&a);
        if (!cursor)
            return total;
    }
    fail_msg("pagination did not end");
    return 0;
}

static void test_comments_pagination_and_rights(void **state)
{
    const char *movie = "{\"movie_id\":\"0190a5c4-0000-7000-8000-0000000000cc\"}";
    char ids[45][40];
    for (int i = 0; i < 45; i++) {
        char body[64];
        snprintf(body, sizeof body, "{\"text\":\"review %d\"}", i);
        struct answer a = call(USER_A, NULL, "comment_create", movie, NULL, body);
        assert_int_equal(a.status, 201);
        snprintf(ids[i], sizeof ids[i], "%s", json_string_value(json_object_get(a.body, "id")));
        drop(&a);
    }
    /* Votes move comments in the `top` order while counts stay consistent. */
    char p[128];
    snprintf(p, sizeof p, "{\"comment_id\":\"%s\"}", ids[3]);
    assert_int_equal(status_of(USER_B, NULL, "comment_vote_put", p, NULL, "{\"value\":\"up\"}"),
                     201);
    assert_int_equal(status_of(USER_B, NULL, "comment_vote_put", p, NULL, "{\"value\":\"down\"}"),
                     200);
    assert_int_equal(status_of(USER_A, NULL, "comment_vote_put", p, NULL, "{\"value\":\"down\"}"),
                     201);
    assert_int_equal(status_of(USER_A, NULL, "comment_vote_delete", p, NULL, NULL), 204);
    assert_int_equal(status_of(USER_A, NULL, "comment_vote_delete", p, NULL, NULL), 404);
    snprintf(p, sizeof p, "{\"comment_id\":\"%s\"}", ids[7]);
    assert_int_equal(status_of(USER_B, NULL, "comment_vote_put", p, NULL, "{\"value\":\"up\"}"),
                     201);

    json_t *seen = json_object();
    assert_int_equal(walk("comments_list", NULL, movie, "", "id", seen), 45);
    json_object_clear(seen);
    assert_int_equal(walk("comments_list", NULL, movie, ",\"sort\":\"top\"", "id", seen), 45);
    json_decref(seen);
    struct answer a =
        call(NULL, NULL, "comments_list", movie, "{\"sort\":\"top\",\"limit\":\"1\"}", NULL);
    json_t *first = json_array_get(json_object_get(a.body, "items"), 0);
    assert_string_equal(json_string_value(json_object_get(first, "id")), ids[7]);
    assert_int_equal(json_integer_value(json_object_get(first, "up")), 1);
    drop(&a);

    /* Delete rights: another user 403, admin 204, then 404. */
    snprintf(p, sizeof p, "{\"comment_id\":\"%s\"}", ids[0]);
    assert_int_equal(status_of(USER_B, NULL, "comment_delete", p, NULL, NULL), 403);
    assert_int_equal(status_of(USER_A, NULL, "comment_delete", p, NULL, NULL), 204);
    assert_int_equal(status_of(USER_A, NULL, "comment_delete", p, NULL, NULL), 404);
    snprintf(p, sizeof p, "{\"comment_id\":\"%s\"}", ids[1]);
    assert_int_equal(status_of(USER_B, "admin", "comment_delete", p, NULL, NULL), 204);
    seen = json_object();
    assert_int_equal(walk("comments_list", NULL, movie, "", "id", seen), 43);
    json_decref(seen);
}

static void test_favorites_and_history(void **state)
{
    const char *p = "{\"movie_id\":\"" MOVIE "\"}";
    assert_int_equal(status_of(USER_A, NULL, "favorite_delete", p, NULL, NULL), 404);
    assert_int_equal(status_of(USER_A, NULL, "favorite_put", p, NULL, NULL), 201);
    assert_int_equal(status_of(USER_A, NULL, "favorite_put", p, NULL, NULL), 200);
    struct answer a = call(USER_A, NULL, "favorite_get", p, NULL, NULL);
    assert_true(json_is_true(json_object_get(a.body, "favorite")));
    drop(&a);
    for (int i = 0; i < 20; i++) {
        char q[96];
        snprintf(q, sizeof q, "{\"movie_id\":\"0190a5c4-0000-7000-8000-%012d\"}", i);
        assert_int_equal(status_of(USER_A, NULL, "favorite_put", q, NULL, NULL), 201);
    }
    json_t *seen = json_object();
    assert_int_equal(walk("favorites_list", USER_A, NULL, "", "movie_id", seen), 21);
    json_decref(seen);
    assert_int_equal(status_of(USER_A, NULL, "favorite_delete", p, NULL, NULL), 204);

    assert_int_equal(status_of(USER_A, NULL, "progress_get", p, NULL, NULL), 404);
    sql("INSERT INTO watch_progress (user_id, movie_id, position_s, duration_s, completed, "
        "updated_at) SELECT '" USER_A "', ('0190a5c4-0000-7000-8000-' || lpad(i::text, 12, '0'))"
        "::uuid, 60 * i, 7200, i % 3 = 0, now() - i * interval '1 minute' "
        "FROM generate_series(1, 30) i");
    a = call(USER_A, NULL, "progress_get",
             "{\"movie_id\":\"0190a5c4-0000-7000-8000-000000000002\"}", NULL, NULL);
    assert_int_equal(a.status, 200);
    assert_int_equal((int)json_number_value(json_object_get(a.body, "position_s")), 120);
    drop(&a);
    seen = json_object();
    assert_int_equal(walk("history_list", USER_A, NULL, "", "movie_id", seen), 30);
    json_object_clear(seen);
    assert_int_equal(
        walk("history_list", USER_A, NULL, ",\"unfinished\":\"true\"", "movie_id", seen), 20);
    json_decref(seen);
}

struct migrate_arg {
    const char *schema;
    int applied, rc;
};

static struct uf_pg_migrations ugc_migrations(void)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/sql/ugc/migrations", getenv("UGCFLOW_SOURCE_DIR"));
    struct uf_pg_migrations list;
    struct uf_err err = { 0 };
    if (uf_pg_migrations_load(dir, &list, &err) != 0)
        fail_msg("%s", err.msg);
    return list;
}

static void *migrate_main(void *arg)
{
    struct migrate_arg *m = arg;
    struct uf_err err = { 0 };
    PGconn *pg = uf_pg_connect(dsn, 2000, &err);
    char quoted[80];
    snprintf(quoted, sizeof quoted, "\"%s\"", m->schema);
    struct uf_pg_migrations list = ugc_migrations();
    m->rc = pg ? uf_pg_migrate(pg, m->schema, quoted, &list, &m->applied, &err) : -1;
    uf_pg_migrations_free(&list);
    PQfinish(pg);
    return NULL;
}

/* Migrations apply once: again on a migrated schema applies none, and two processes starting
 * together on a fresh schema apply each migration exactly once between them. */
static void test_migrations_once(void **state)
{
    struct migrate_arg again = { .schema = schema };
    migrate_main(&again);
    assert_int_equal(again.rc, 0);
    assert_int_equal(again.applied, 0);

    char fresh[80];
    snprintf(fresh, sizeof fresh, "%s_fresh", schema);
    struct migrate_arg a = { .schema = fresh }, b = { .schema = fresh };
    pthread_t ta, tb;
    pthread_create(&ta, NULL, migrate_main, &a);
    pthread_create(&tb, NULL, migrate_main, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    assert_int_equal(a.rc, 0);
    assert_int_equal(b.rc, 0);
    struct uf_pg_migrations list = ugc_migrations();
    assert_int_equal(a.applied + b.applied, (int)list.n);
    uf_pg_migrations_free(&list);
    char *q = NULL;
    assert_true(asprintf(&q, "DROP SCHEMA %s CASCADE", fresh) > 0);
    PGconn *pg = PQconnectdb(dsn);
    PQclear(PQexec(pg, q));
    PQfinish(pg);
    free(q);
}

/* The per-movie counts kept by the trigger equal a count of the reactions after concurrent
 * likes, dislikes, switches and deletes by many users. */
static void test_counts_match_reactions(void **state)
{
    enum { N = 60 };
    static char ids[N][40];
    json_t *reqs[N];
    const char *users[N];
    struct answer out[N];
    const char *p = "{\"movie_id\":\"0190a5c4-0000-7000-8000-0000000000cc\"}";
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < N; i++) {
            snprintf(ids[i], sizeof ids[i], "0190a5c4-0000-7000-8000-%012d", 1000 + i);
            /* round 0: even users like, odd ones dislike; 1: every third switches; 2: every
             * fifth deletes, the others repeat their reaction (no change). */
            bool likes = (i % 2 == 0) != (round > 0 && i % 3 == 0);
            const char *route = round == 2 && i % 5 == 0 ? "reaction_delete"
                                : likes                  ? "like"
                                                         : "dislike";
            reqs[i] = json_pack("{s:s, s:{s:s}}", "route", route, "params", "movie_id",
                                "0190a5c4-0000-7000-8000-0000000000cc");
            users[i] = ids[i];
        }
        send_many(reqs, users, NULL, N, out);
        for (int i = 0; i < N; i++) {
            assert_true(out[i].status < 300);
            drop(&out[i]);
        }
    }
    PGconn *pg = PQconnectdb(dsn);
    char *q = NULL;
    assert_true(asprintf(&q,
                         "SELECT count(*) FILTER (WHERE reaction = 1), count(*) FILTER (WHERE "
                         "reaction = -1) FROM %s.reactions WHERE movie_id = "
                         "'0190a5c4-0000-7000-8000-0000000000cc'",
                         schema) > 0);
    PGresult *res = PQexec(pg, q);
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    long likes = atol(PQgetvalue(res, 0, 0)), dislikes = atol(PQgetvalue(res, 0, 1));
    PQclear(res);
    PQfinish(pg);
    free(q);
    assert_int_equal(likes + dislikes, N - N / 5);
    struct answer a = call(NULL, NULL, "reactions_count", p, NULL, NULL);
    assert_int_equal(a.status, 200);
    assert_int_equal(json_integer_value(json_object_get(a.body, "likes")), likes);
    assert_int_equal(json_integer_value(json_object_get(a.body, "dislikes")), dislikes);
    drop(&a);
}

/* A statement stuck behind a lock past statement_timeout answers 504, and the pool goes on. */
static void test_statement_timeout_504(void **state)
{
    const char *p = "{\"movie_id\":\"0190a5c4-0000-7000-8000-0000000000dd\"}";
    assert_int_equal(status_of(USER_A, NULL, "like", p, NULL, NULL), 201);
    PGconn *pg = PQconnectdb(dsn);
    char *q = NULL;
    assert_true(asprintf(&q,
                         "BEGIN; SELECT * FROM %s.reactions WHERE movie_id = "
                         "'0190a5c4-0000-7000-8000-0000000000dd' FOR UPDATE",
                         schema) > 0);
    PGresult *res = PQexec(pg, q);
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    PQclear(res);
    struct answer a = call(USER_A, NULL, "dislike", p, NULL, NULL);
    assert_int_equal(a.status, 504);
    drop(&a);
    PQclear(PQexec(pg, "ROLLBACK"));
    PQfinish(pg);
    free(q);
    assert_int_equal(status_of(USER_A, NULL, "dislike", p, NULL, NULL), 200);
}

/* The next notification the listener pg received, NULL when none came yet. */
static PGnotify *next_notify(PGconn *pg)
{
    PQconsumeInput(pg);
    return PQnotifies(pg);
}

/* A write's event lands in the outbox with the id its reply carries, and the store then wakes
 * the relay: a NOTIFY on "<schema>.outbox" arrives at a listener. A read notifies nobody. */
static void test_write_notifies_the_relay(void **state)
{
    PGconn *pg = PQconnectdb(dsn);
    char *q = NULL;
    assert_true(asprintf(&q, "LISTEN \"%s.outbox\"", schema) > 0);
    PQclear(PQexec(pg, q));
    free(q);
    const char *p = "{\"movie_id\":\"0190a5c4-0000-7000-8000-0000000000ee\"}";
    assert_int_equal(status_of(USER_B, NULL, "favorite_get", p, NULL, NULL), 200);
    assert_int_equal(status_of(USER_B, NULL, "favorite_put", p, NULL, NULL), 201);
    PGnotify *n = NULL;
    POLL_UNTIL(n || (n = next_notify(pg)), 2000);
    assert_non_null(n);
    char want[80];
    snprintf(want, sizeof want, "%s.outbox", schema);
    assert_string_equal(n->relname, want);
    PQfreemem(n);
    /* One for the write's round trip, none for the read's: a second one would come as fast. */
    HOLDS_FOR((n = next_notify(pg)) == NULL, 300, "a read's round trip notified the outbox");
    assert_true(asprintf(&q, "SELECT payload->>'type' FROM %s.outbox ORDER BY seq DESC LIMIT 1",
                         schema) > 0);
    PGresult *res = PQexec(pg, q);
    assert_string_equal(PQgetvalue(res, 0, 0), "ugc.favorite_added");
    PQclear(res);
    free(q);
    PQfinish(pg);
}

/* Polls a request until it answers `want` or timeout_ms passed; returns the last status. */
static int poll_status(int want, int timeout_ms)
{
    for (int64_t end = test_now_ms() + timeout_ms;;) {
        int st =
            status_of(NULL, NULL, "reactions_count", "{\"movie_id\":\"" MOVIE "\"}", NULL, NULL);
        if (st == want || test_now_ms() >= end)
            return st;
        usleep(100 * 1000); /* the pace of the requests, not a wait for something */
    }
}

/* The restarted service must not inherit our descriptors (a caller's lock among them). */
#define FDS " 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-"

static int devstack(const char *verb)
{
    const char *script = getenv("UGCFLOW_DEVSTACK");
    char *cmd = NULL;
    if (script)
        assert_true(asprintf(&cmd, "%s %s postgres >/dev/null" FDS, script, verb) > 0);
    else
        assert_true(asprintf(&cmd, "%s/script/dev-stack %s postgres >/dev/null" FDS,
                             getenv("UGCFLOW_SOURCE_DIR"), verb) > 0);
    /* The script may race another engineer's service start; a second try settles it. */
    int rc = 1;
    for (int attempt = 0; attempt < 3 && rc != 0; attempt++)
        rc = system(cmd);
    free(cmd);
    return rc;
}

static void test_postgres_down_503_then_recovers(void **state)
{
    assert_int_equal(poll_status(200, 0), 200);
    assert_int_equal(devstack("down"), 0);
    assert_int_equal(poll_status(503, 5000), 503);
    /* Still down: fails fast rather than waiting for a connect timeout. */
    int64_t t0 = uf_now_us();
    assert_int_equal(poll_status(503, 0), 503);
    assert_true(uf_now_us() - t0 < 500 * 1000);
    assert_int_equal(devstack("up"), 0);
    assert_int_equal(poll_status(200, 15000), 200);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reactions),
        cmocka_unit_test(test_concurrent_likes_one_row),
        cmocka_unit_test(test_counts_match_reactions),
        cmocka_unit_test(test_comments_pagination_and_rights),
        cmocka_unit_test(test_favorites_and_history),
        cmocka_unit_test(test_migrations_once),
        cmocka_unit_test(test_statement_timeout_504),
        cmocka_unit_test(test_write_notifies_the_relay),
        cmocka_unit_test(test_postgres_down_503_then_recovers),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
