/* it_postgres_outbox.c: the `postgres_outbox` relay against the dev stack's PostgreSQL, feeding
 * a capturing sink that finishes, holds or fails the events it gets: seq order and the outbox's
 * own ids, rows deleted only once their events are done (held events keep them), a passing
 * failure republishing the same ids, a refusal for good moving rows to the dead letters, two
 * relays never claiming one row, a relay stopped mid-batch publishing it again after a restart,
 * and a notification waking the relay long before its poll interval. Own schema per run; needs
 * UGCFLOW_PG_DSN. */
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
#include <pthread.h>

#include "framework/config.h"
#include "framework/event.h"
#include "framework/event_int.h"
#include "framework/graph.h"
#include "framework/metrics.h"
#include "framework/pg.h"
#include "framework/pg_migrate.h"
#include "framework/registry.h"
#include "framework/runtime.h"
#include "framework/stage.h"
#include "framework/uuid.h"
#include "tests/support/poll.h"

#define MAX_SEEN 20000

enum mode { MODE_DONE, MODE_HOLD, MODE_FAIL_503, MODE_FAIL_422 };

/* What the capture sink saw: each event's seq and event id, in arrival order. */
static struct {
    pthread_mutex_t mu;
    enum mode mode;
    size_t n;
    int64_t seq[MAX_SEEN];
    char id[MAX_SEEN][UF_UUID_STR];
    struct uf_event *held[MAX_SEEN];
    size_t nheld;
} cap = { .mu = PTHREAD_MUTEX_INITIALIZER };

static const char *dsn;
static char schema[64];
static PGconn *pg;

static int capture_write(struct uf_stage *st, void *ctx, struct uf_event **evs, size_t n,
                         struct uf_err *err)
{
    pthread_mutex_lock(&cap.mu);
    for (size_t i = 0; i < n; i++) {
        struct uf_event *ev = evs[i];
        if (cap.n < MAX_SEEN) {
            cap.seq[cap.n] = json_integer_value(json_object_get(ev->body, "seq"));
            snprintf(cap.id[cap.n], UF_UUID_STR, "%s",
                     json_string_value(json_object_get(ev->body, "event_id")));
            char own[UF_UUID_STR];
            uf_uuid_format(ev->id, own);
            assert_string_equal(own, cap.id[cap.n]); /* the event's id is the outbox's */
            cap.n++;
        }
        if (cap.mode == MODE_HOLD)
            cap.held[cap.nheld++] = ev;
        else if (cap.mode == MODE_DONE)
            uf_event_done(ev);
        else
            uf_event_fail(ev, cap.mode == MODE_FAIL_503 ? 503 : 422, "test",
                          cap.mode == MODE_FAIL_503 ? "down for a moment" : "refused for good");
    }
    pthread_mutex_unlock(&cap.mu);
    return UF_OK;
}

static const struct uf_kind capture_kind = {
    .name = "t_capture", .role = UF_SINK, .summary = "test", .write = capture_write
};
static const struct uf_kind *const extra[] = { &capture_kind, NULL };

static void reset(enum mode mode)
{
    pthread_mutex_lock(&cap.mu);
    cap.mode = mode;
    cap.n = 0;
    cap.nheld = 0;
    pthread_mutex_unlock(&cap.mu);
}

static void set_mode(enum mode mode)
{
    pthread_mutex_lock(&cap.mu);
    cap.mode = mode;
    pthread_mutex_unlock(&cap.mu);
}

static size_t seen(void)
{
    pthread_mutex_lock(&cap.mu);
    size_t n = cap.n;
    pthread_mutex_unlock(&cap.mu);
    return n;
}

static void finish_held(void)
{
    pthread_mutex_lock(&cap.mu);
    for (size_t i = 0; i < cap.nheld; i++)
        uf_event_done(cap.held[i]);
    cap.nheld = 0;
    pthread_mutex_unlock(&cap.mu);
}

static long long query_int(const char *fmt, const char *table)
{
    char sql[512];
    snprintf(sql, sizeof sql, fmt, schema, table);
    PGresult *res = PQexec(pg, sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQresultErrorMessage(res));
    long long v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return v;
}

static long long rows(const char *table)
{
    return query_int("SELECT count(*) FROM \"%s\".%s", table);
}

/* Inserts n rows and notifies the relay's channel, as the UGC store does after its writes. */
static void insert(int n)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO \"%s\".outbox (payload) SELECT json_build_object('type', 't',"
             " 'n', g, 'user_id', 'u' || (g %% 7)) FROM generate_series(1, %d) g;"
             " SELECT pg_notify('%s.outbox', '')",
             schema, n, schema);
    assert_int_equal(uf_pg_exec(pg, sql, "insert", NULL), 0);
}

static struct uf_graph *build(int relays, int batch_rows, const char *extra_opts)
{
    char comps[2048] = "", yaml[4096];
    for (int i = 0; i < relays; i++) {
        char one[512];
        snprintf(one, sizeof one,
                 "      relay%d: {kind: postgres_outbox, dsn: \"%s\", schema: %s,"
                 " batch_rows: %d, poll_interval: 10s%s}\n",
                 i, dsn, schema, batch_rows, extra_opts);
        strcat(comps, one);
    }
    snprintf(yaml, sizeof yaml,
             "shutdown_timeout: 1s\npipelines:\n  t:\n    components:\n%s"
             "      out: {kind: t_capture, inputs: [%s]}\n",
             comps, relays == 2 ? "relay0, relay1" : "relay0");
    struct uf_diags d = { 0 };
    struct uf_config *cfg = uf_config_load_string("t.yaml", yaml, &d);
    struct uf_graph *g = cfg ? uf_graph_build(cfg, NULL, 0, &d) : NULL;
    if (d.n)
        uf_diags_print(&d, stderr);
    assert_non_null(g);
    uf_diags_free(&d);
    return g;
}

struct run {
    struct uf_graph *g;
    struct uf_runtime *rt;
};

static struct run start(int relays, int batch_rows, const char *extra_opts)
{
    struct run r = { build(relays, batch_rows, extra_opts), NULL };
    r.rt = uf_runtime_new(r.g);
    struct uf_err err = { 0 };
    assert_int_equal(uf_runtime_start(r.rt, &err), 0);
    return r;
}

static void stop(struct run *r)
{
    uf_runtime_request_stop(r->rt);
    assert_int_equal(uf_runtime_run(r->rt), 0);
    finish_held(); /* events a test left held: their batch was rolled back at the deadline */
    uf_runtime_free(r->rt);
    uf_graph_free(r->g);
}

static int64_t relay_metric(struct run *r, const char *name)
{
    for (size_t i = 0; i < r->g->pipelines[0].nstages; i++)
        if (strcmp(r->g->pipelines[0].stages[i]->name, "relay0") == 0)
            return uf_metrics_extra_value(&r->g->pipelines[0].stages[i]->metrics, name, NULL);
    return -1;
}

/* ---- tests ---- */

static void test_in_seq_order_then_deleted(void **state)
{
    reset(MODE_DONE);
    insert(5000);
    struct run r = start(1, 1000, "");
    WAIT_FOR(seen() == 5000 && rows("outbox") == 0, 20000);
    for (size_t i = 1; i < cap.n; i++)
        assert_true(cap.seq[i] > cap.seq[i - 1]);
    assert_int_equal(cap.id[0][14], '7'); /* a UUIDv7, made in PostgreSQL */
    WAIT_FOR(relay_metric(&r, "outbox_published_events_total") == 5000, 5000);
    /* A notification wakes the relay: far sooner than its 10 s poll interval. */
    int64_t t0 = uf_now_us();
    insert(1);
    WAIT_FOR(seen() == 5001, 2000);
    print_message("write -> relay: %.1f ms\n", (double)(uf_now_us() - t0) / 1000);
    stop(&r);
}

static void test_held_events_keep_their_rows(void **state)
{
    reset(MODE_HOLD);
    insert(10);
    struct run r = start(1, 100, "");
    WAIT_FOR(seen() == 10, 5000);
    assert_int_equal(rows("outbox"), 10); /* deleted only inside the open transaction */
    finish_held();
    WAIT_FOR(rows("outbox") == 0, 5000);
    stop(&r);
}

static void test_passing_failure_republishes_the_same_ids(void **state)
{
    reset(MODE_FAIL_503);
    insert(10);
    struct run r = start(1, 100, "");
    WAIT_FOR(seen() >= 10, 5000);
    set_mode(MODE_DONE);
    WAIT_FOR(rows("outbox") == 0, 10000);
    size_t n = seen();
    assert_true(n >= 20);
    for (size_t i = 0; i < 10; i++) /* the last attempt carried the first one's ids */
        assert_string_equal(cap.id[n - 10 + i], cap.id[i]);
    assert_true(relay_metric(&r, "outbox_retried_batches_total") >= 1);
    assert_int_equal(rows("outbox_dead"), 0);
    stop(&r);
}

static void test_refusal_goes_to_dead_letters(void **state)
{
    reset(MODE_FAIL_422);
    insert(3);
    struct run r = start(1, 100, "");
    WAIT_FOR(rows("outbox") == 0, 5000);
    assert_int_equal(rows("outbox_dead"), 3);
    assert_int_equal(query_int("SELECT count(*) FROM \"%s\".%s WHERE reason = 'refused for good'",
                               "outbox_dead"),
                     3);
    assert_int_equal(relay_metric(&r, "outbox_dead_letters_total"), 3);
    stop(&r);
    assert_int_equal(uf_pg_exec(pg, "TRUNCATE outbox_dead", "truncate", NULL), 0);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void test_two_relays_claim_apart(void **state)
{
    reset(MODE_DONE);
    insert(5000);
    struct run r = start(2, 50, "");
    WAIT_FOR(rows("outbox") == 0 && seen() >= 5000, 20000);
    assert_int_equal(seen(), 5000); /* none twice */
    qsort(cap.seq, cap.n, sizeof cap.seq[0], cmp_i64);
    for (size_t i = 1; i < cap.n; i++)
        assert_true(cap.seq[i] > cap.seq[i - 1]);
    stop(&r);
}

static void test_restart_republishes_the_batch(void **state)
{
    reset(MODE_HOLD);
    insert(5);
    struct run r = start(1, 100, "");
    WAIT_FOR(seen() == 5, 5000);
    char first[5][UF_UUID_STR];
    memcpy(first, cap.id, sizeof first);
    stop(&r); /* the acks never came: rolled back at the shutdown deadline */
    assert_int_equal(rows("outbox"), 5);
    reset(MODE_DONE);
    r = start(1, 100, "");
    WAIT_FOR(rows("outbox") == 0 && seen() == 5, 5000);
    for (int i = 0; i < 5; i++)
        assert_string_equal(cap.id[i], first[i]);
    stop(&r);
}

static int setup(void **state)
{
    dsn = getenv("UGCFLOW_PG_DSN");
    if (!dsn)
        fail_msg(
            "UGCFLOW_PG_DSN is not set (run through script/test, or eval script/dev-stack env)");
    uf_registry_set_extra(extra);
    snprintf(schema, sizeof schema, "it_outbox_%d", (int)getpid());
    struct uf_err err = { 0 };
    pg = uf_pg_connect(dsn, 2000, &err);
    if (!pg)
        fail_msg("%s", err.msg);
    char *q = uf_pg_quote_ident(schema);
    int applied = 0;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/sql/ugc/migrations", getenv("UGCFLOW_SOURCE_DIR"));
    struct uf_pg_migrations list;
    assert_int_equal(uf_pg_migrations_load(dir, &list, &err), 0);
    assert_int_equal(uf_pg_migrate(pg, schema, q, &list, &applied, &err), 0);
    uf_pg_migrations_free(&list);
    char sql[128];
    snprintf(sql, sizeof sql, "SET search_path TO %s", q);
    assert_int_equal(uf_pg_exec(pg, sql, "search_path", NULL), 0);
    free(q);
    return 0;
}

static int teardown(void **state)
{
    char sql[128];
    snprintf(sql, sizeof sql, "DROP SCHEMA \"%s\" CASCADE", schema);
    uf_pg_exec(pg, sql, "drop", NULL);
    PQfinish(pg);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_seq_order_then_deleted),
        cmocka_unit_test(test_held_events_keep_their_rows),
        cmocka_unit_test(test_passing_failure_republishes_the_same_ids),
        cmocka_unit_test(test_refusal_goes_to_dead_letters),
        cmocka_unit_test(test_two_relays_claim_apart),
        cmocka_unit_test(test_restart_republishes_the_batch),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
