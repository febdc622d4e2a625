/* tests/test_lg_workload.c: the loadgen workload: route shares within 1 % of the file's for a
 * fixed seed (stat and UGC), the same seed giving the same requests, the built-in defaults
 * equal to the shipped workload.yaml, request shapes (event ids, tag, tokens, sessions opening
 * first), deletes aiming at what the run made, and errors in a workload file with positions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "bench/loadgen/lg_workload.h"

#define SECRET "test-secret-test-secret-test-secret-0123"

static char shipped[512];

static struct uf_lg_workload *make(const char *file, enum uf_lg_api api, uint64_t seed)
{
    struct uf_lg_workload_opts o = {.file = file, .api = api, .seed = seed, .tag = "run-1",
                                    .secret = SECRET};
    char err[256];
    struct uf_lg_workload *w = uf_lg_workload_new(&o, err, sizeof err);
    if (!w)
        fail_msg("%s", err);
    return w;
}

/* Draws n requests, answering every write with 2xx, and checks each route's share. */
static void check_shares(enum uf_lg_api api, size_t n)
{
    struct uf_lg_workload *w = make(NULL, api, 7);
    size_t count[UF_LG_ROUTES_MAX] = {0};
    struct uf_lg_request req = {0};
    for (size_t i = 0; i < n; i++) {
        uf_lg_workload_next(w, &req, 1795967051000);
        count[req.route]++;
        uf_lg_workload_answered(w, &req, 201, "{\"id\" : \"0192f0c1-1111-7222-8333-000000000001\"}",
                                47);
    }
    for (size_t r = 0; r < uf_lg_workload_nroutes(w); r++) {
        double got = (double)count[r] / (double)n, want = uf_lg_workload_share(w, r);
        if (got < want - 0.01 || got > want + 0.01)
            fail_msg("route %s: share %.4f, expected %.4f", uf_lg_workload_route_name(w, r), got,
                     want);
    }
    uf_lg_request_free(&req);
    uf_lg_workload_free(w);
}

static void test_shares(void **state)
{
    check_shares(UF_LG_API_STAT, 100000);
    check_shares(UF_LG_API_UGC, 100000);
}

static void test_defaults_are_the_shipped_file(void **state)
{
    for (int api = 0; api < 2; api++) {
        struct uf_lg_workload *a = make(NULL, api, 3), *b = make(shipped, api, 3);
        for (size_t r = 0; r < uf_lg_workload_nroutes(a); r++)
            assert_true(uf_lg_workload_share(a, r) == uf_lg_workload_share(b, r));
        struct uf_lg_request x = {0}, y = {0};
        for (int i = 0; i < 2000; i++) { /* same population, sessions and shares: same draws */
            uf_lg_workload_next(a, &x, 1795967051000);
            uf_lg_workload_next(b, &y, 1795967051000);
            assert_int_equal(x.route, y.route);
            assert_int_equal(x.user, y.user);
            assert_string_equal(x.method, y.method);
        }
        uf_lg_request_free(&x);
        uf_lg_request_free(&y);
        uf_lg_workload_free(a);
        uf_lg_workload_free(b);
    }
}

static void test_same_seed_same_requests(void **state)
{
    struct uf_lg_workload *a = make(NULL, UF_LG_API_UGC, 11), *b = make(NULL, UF_LG_API_UGC, 11);
    struct uf_lg_workload *c = make(NULL, UF_LG_API_UGC, 12);
    struct uf_lg_request x = {0}, y = {0}, z = {0};
    size_t differ = 0;
    for (int i = 0; i < 1000; i++) {
        uf_lg_workload_next(a, &x, 1795967051000);
        uf_lg_workload_next(b, &y, 1795967051000);
        uf_lg_workload_next(c, &z, 1795967051000);
        assert_string_equal(x.path, y.path);
        differ += strcmp(x.path, z.path) != 0;
    }
    assert_true(differ > 900);
    uf_lg_request_free(&x);
    uf_lg_request_free(&y);
    uf_lg_request_free(&z);
    uf_lg_workload_free(a);
    uf_lg_workload_free(b);
    uf_lg_workload_free(c);
}

static void test_stat_shapes(void **state)
{
    struct uf_lg_workload *w = make(NULL, UF_LG_API_STAT, 5);
    struct uf_lg_request req = {0};
    size_t tokens = 0, players = 0;
    for (int i = 0; i < 5000; i++) {
        uf_lg_workload_next(w, &req, 1795967051000);
        assert_int_equal(req.nevents, 1);
        char id[64];
        snprintf(id, sizeof id, "{\"event_id\":\"%s\",", req.event_ids[0]);
        assert_memory_equal(req.body.buf, id, strlen(id));
        assert_non_null(strstr(req.body.buf, ",\"tag\":\"run-1\"}"));
        assert_string_equal(req.method, "POST");
        assert_true(strncmp(req.request_id, "run-1-", 6) == 0);
        tokens += req.token != NULL;
        if (strcmp(req.path, "/player") == 0 && players++ == 0) /* a session opens first */
            assert_non_null(strstr(req.body.buf, "\"event\":\"open\""));
        assert_true((req.token != NULL) == (strstr(req.body.buf, "anonymous_id") == NULL));
    }
    assert_true(tokens > 2500 && tokens < 3500); /* 60 % of the users are registered */
    uf_lg_request_free(&req);
    uf_lg_workload_free(w);
}

static void test_ugc_deletes_what_it_made(void **state)
{
    struct uf_lg_workload *w = make(NULL, UF_LG_API_UGC, 9);
    struct uf_lg_request req = {0};
    char liked[192] = "";
    for (int i = 0; i < 20000; i++) {
        uf_lg_workload_next(w, &req, 1795967051000);
        if (strcmp(uf_lg_workload_route_name(w, req.route), "reactions_count") &&
            strcmp(uf_lg_workload_route_name(w, req.route), "comments_list"))
            assert_non_null(req.token); /* the other routes are for registered users */
        if (strstr(req.path, "/like") && !liked[0]) {
            snprintf(liked, sizeof liked, "%.*s/reaction", (int)(strlen(req.path) - 5), req.path);
            uf_lg_workload_answered(w, &req, 201, "{}", 2);
        } else if (liked[0] && strcmp(req.method, "DELETE") == 0 && strstr(req.path, "/reaction")) {
            assert_string_equal(req.path, liked); /* the one like made by this run */
            break;
        }
    }
    assert_true(liked[0]);
    assert_true(uf_lg_workload_is_answer(req.route, 404)); /* gone already: a normal answer */
    assert_false(uf_lg_workload_is_answer(0, 404));
    uf_lg_request_free(&req);
    uf_lg_workload_free(w);
}

static void test_bad_file(void **state)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/test-lg-workload-%d.yaml", (int)getpid());
    FILE *f = fopen(path, "w");
    fputs("population:\n  users: 10\n  visitors: 3\n", f);
    fclose(f);
    struct uf_lg_workload_opts o = {.file = path, .api = UF_LG_API_STAT};
    char err[256], want[128];
    assert_null(uf_lg_workload_new(&o, err, sizeof err));
    snprintf(want, sizeof want, "%s:3:3: unknown key", path);
    assert_string_equal(err, want);
    f = fopen(path, "w");
    fputs("player:\n  pause: 2\n", f);
    fclose(f);
    assert_null(uf_lg_workload_new(&o, err, sizeof err));
    snprintf(want, sizeof want, "%s:2:10: '2': expected a number from 0 to 1", path);
    assert_string_equal(err, want);
    f = fopen(path, "w");
    fputs("stat: {player: 0, views: 0, events: 0}\n", f);
    fclose(f);
    assert_null(uf_lg_workload_new(&o, err, sizeof err));
    assert_non_null(strstr(err, "every route of this API has share 0"));
    unlink(path);
}

int main(void)
{
    const char *src = getenv("UGCFLOW_SOURCE_DIR");
    snprintf(shipped, sizeof shipped, "%s/bench/loadgen/workload.yaml", src ? src : ".");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shares),
        cmocka_unit_test(test_defaults_are_the_shipped_file),
        cmocka_unit_test(test_same_seed_same_requests),
        cmocka_unit_test(test_stat_shapes),
        cmocka_unit_test(test_ugc_deletes_what_it_made),
        cmocka_unit_test(test_bad_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
