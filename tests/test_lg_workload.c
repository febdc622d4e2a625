/* tests/test_lg_workload.c: the loadgen workload: route shares within 1 % of the file's for a
 * fixed seed (stat and UGC), the same seed giving the same requests, the built-in defaults
 * equal to the shipped workload.yaml, request shapes (event ids, tag, tokens, sessions opening
 * first), deletes aiming at what the run made, tokens minted with an RS256 private key that
 * framework/jwt.c verifies with the public key (and only as RS256), and errors in a workload
 * file or a key with positions or reasons. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "bench/loadgen/lg_workload.h"
#include "framework/err.h"
#include "framework/jwt.h"
#include "framework/uuid.h"

#define SECRET "test-secret-test-secret-test-secret-0123"

static char shipped[512];

static struct uf_lg_workload *make(const char *file, enum uf_lg_api api, uint64_t seed)
{
    struct uf_lg_workload_opts o = {
        .file = file, .api = api, .seed = seed, .tag = "run-1", .secret = SECRET
    };
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
    size_t count[UF_LG_ROUTES_MAX] = { 0 };
    struct uf_lg_request req = { 0 };
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
        struct uf_lg_request x = { 0 }, y = { 0 };
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
    struct uf_lg_request x = { 0 }, y = { 0 }, z = { 0 };
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
    struct uf_lg_request req = { 0 };
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
    struct uf_lg_request req = { 0 };
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
    struct uf_lg_workload_opts o = { .file = path, .api = UF_LG_API_STAT };
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

/* A new RSA key's private and public PEM (test scaffolding: the product only reads keys). */
static void rsa_pems(char **priv, char **pub)
{
    EVP_PKEY *key = EVP_RSA_gen(2048);
    BIO *a = BIO_new(BIO_s_mem()), *b = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PrivateKey(a, key, NULL, NULL, 0, NULL, NULL), 1);
    assert_int_equal(PEM_write_bio_PUBKEY(b, key), 1);
    char *p;
    long n = BIO_get_mem_data(a, &p);
    *priv = strndup(p, (size_t)n);
    n = BIO_get_mem_data(b, &p);
    *pub = strndup(p, (size_t)n);
    BIO_free(a);
    BIO_free(b);
    EVP_PKEY_free(key);
}

/* Verifies token with the public key pub under algs; the claims (new reference) or NULL. */
static json_t *verify(const char *pub, unsigned algs, const char *token, struct uf_err *e)
{
    struct uf_jwt_keys *keys = uf_jwt_keys_new();
    assert_int_equal(uf_jwt_keys_set_public_pem(keys, pub, strlen(pub), e), 0);
    struct uf_jwt_rules rules = { .algs = algs, .leeway_s = 5 };
    json_t *claims = uf_jwt_verify(keys, &rules, token, (int64_t)time(NULL), e);
    uf_jwt_keys_free(keys);
    return claims;
}

static void test_rs256_tokens_verify(void **state)
{
    char *priv, *pub;
    rsa_pems(&priv, &pub);
    struct uf_err e = { 0 };
    struct uf_jwt_signer *signer = uf_jwt_signer_new_pem(priv, strlen(priv), &e);
    assert_non_null(signer);
    struct uf_lg_workload_opts o = {
        .api = UF_LG_API_UGC, .seed = 3, .secret = SECRET, .signer = signer
    }; /* the key wins over the secret */
    char err[256];
    struct uf_lg_workload *w = uf_lg_workload_new(&o, err, sizeof err);
    assert_non_null(w);
    struct uf_lg_request req = { 0 };
    for (int i = 0; i < 100 && !req.token; i++)
        uf_lg_workload_next(w, &req, 1795967051000);
    assert_non_null(req.token);
    json_t *claims = verify(pub, UF_JWT_RS256, req.token, &e);
    if (!claims)
        fail_msg("the minted token does not verify: %s", e.msg);
    assert_true(uf_uuid_is_valid(json_string_value(json_object_get(claims, "sub"))));
    assert_true(json_integer_value(json_object_get(claims, "exp")) > (json_int_t)time(NULL));
    json_decref(claims);
    assert_null(verify(pub, UF_JWT_HS256, req.token, &e)); /* it is RS256, not HS256 */
    uf_lg_request_free(&req);
    uf_lg_workload_free(w);
    uf_jwt_signer_free(signer);
    free(priv);
    free(pub);
}

static void test_rs256_bad_keys(void **state)
{
    char *priv, *pub;
    rsa_pems(&priv, &pub);
    struct uf_err e = { 0 };
    assert_null(uf_jwt_signer_new_pem(pub, strlen(pub), &e)); /* a public key cannot sign */
    assert_string_equal(e.msg, "no unencrypted private key found in PEM data");
    EVP_PKEY *ec = EVP_EC_gen("P-256");
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(b, ec, NULL, NULL, 0, NULL, NULL);
    char *p;
    long n = BIO_get_mem_data(b, &p);
    assert_null(uf_jwt_signer_new_pem(p, (size_t)n, &e));
    assert_string_equal(e.msg, "private key must be RSA with at least 2048 bits");
    BIO_free(b);
    EVP_PKEY_free(ec);
    free(priv);
    free(pub);
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
        cmocka_unit_test(test_rs256_tokens_verify),
        cmocka_unit_test(test_rs256_bad_keys),
        cmocka_unit_test(test_bad_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
