/* tests/test_jwt_mint.c: minting development tokens (framework/jwt_mint.c): HS256 and RS256
 * tokens verify with the verifier the APIs use and carry sub, roles, iat and exp = iat + ttl;
 * a secret shorter than 32 bytes is refused; key files that are missing, too large or not an
 * RSA private key are refused with the file named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "framework/err.h"
#include "framework/jwt.h"
#include "framework/jwt_mint.h"

#define SECRET "test-jwt-mint-secret-0123456789abcdef"
#define SUB "0190a5c4-0000-7000-8000-0000000000a1"
#define NOW 1795967051

static json_t *verify(struct uf_jwt_keys *keys, unsigned algs, const char *token)
{
    struct uf_jwt_rules rules = { .algs = algs, .leeway_s = 5 };
    struct uf_err e = { 0 };
    json_t *claims = uf_jwt_verify(keys, &rules, token, NOW + 10, &e);
    if (!claims)
        fail_msg("minted token does not verify: %s", e.msg);
    return claims;
}

static void test_hs256_claims(void **state)
{
    struct uf_jwt_minter m = { .secret = SECRET, .secret_n = strlen(SECRET) };
    json_t *roles = json_pack("[s,s]", "admin", "moderator");
    char *token = uf_jwt_mint(&m, SUB, roles, NOW, 3600);
    struct uf_jwt_keys *keys = uf_jwt_keys_new();
    assert_int_equal(uf_jwt_keys_set_secret(keys, SECRET, strlen(SECRET), NULL), 0);
    json_t *claims = verify(keys, UF_JWT_HS256, token);
    assert_string_equal(json_string_value(json_object_get(claims, "sub")), SUB);
    assert_int_equal(json_integer_value(json_object_get(claims, "iat")), NOW);
    assert_int_equal(json_integer_value(json_object_get(claims, "exp")), NOW + 3600);
    assert_true(json_equal(json_object_get(claims, "roles"), roles));
    json_decref(claims);
    free(token);
    token = uf_jwt_mint(&m, SUB, NULL, NOW, 60); /* no roles: no claim */
    claims = verify(keys, UF_JWT_HS256, token);
    assert_null(json_object_get(claims, "roles"));
    json_decref(claims);
    free(token);
    uf_jwt_keys_free(keys);
    json_decref(roles);
}

static void test_short_secret_refused(void **state)
{
    struct uf_err e = { 0 };
    assert_int_equal(uf_jwt_minter_check_secret("0123456789abcdef0123456789abcde", 31, &e),
                     UF_EINVAL);
    assert_string_equal(e.msg, "HMAC secret is 31 bytes; at least 32 are required");
    assert_int_equal(uf_jwt_minter_check_secret(NULL, 0, &e), UF_EINVAL);
    assert_int_equal(uf_jwt_minter_check_secret(SECRET, strlen(SECRET), &e), 0);
}

/* Writes an RSA key pair of bits to path (private) and returns the public PEM (new). */
static char *write_rsa(const char *path, unsigned bits)
{
    EVP_PKEY *key = EVP_RSA_gen(bits);
    FILE *f = fopen(path, "w");
    PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(b, key);
    char *p;
    long n = BIO_get_mem_data(b, &p);
    char *pub = strndup(p, (size_t)n);
    BIO_free(b);
    EVP_PKEY_free(key);
    return pub;
}

static void test_rs256_from_file(void **state)
{
    char path[128];
    snprintf(path, sizeof path, "/tmp/test-jwt-mint-%d.pem", (int)getpid());
    char *pub = write_rsa(path, 2048);
    struct uf_err e = { 0 };
    struct uf_jwt_signer *signer = uf_jwt_signer_load(path, &e);
    assert_non_null(signer);
    struct uf_jwt_minter m = { .signer = signer };
    char *token = uf_jwt_mint(&m, SUB, NULL, NOW, 900);
    struct uf_jwt_keys *keys = uf_jwt_keys_new();
    assert_int_equal(uf_jwt_keys_set_public_pem(keys, pub, strlen(pub), NULL), 0);
    json_t *claims = verify(keys, UF_JWT_RS256, token);
    assert_int_equal(json_integer_value(json_object_get(claims, "exp")), NOW + 900);
    json_decref(claims);
    free(token);
    uf_jwt_keys_free(keys);
    uf_jwt_signer_free(signer);
    FILE *f = fopen(path, "w"); /* a public key cannot sign */
    fputs(pub, f);
    fclose(f);
    assert_null(uf_jwt_signer_load(path, &e));
    assert_non_null(strstr(e.msg, "no unencrypted private key found in PEM data"));
    assert_non_null(strstr(e.msg, path));
    unlink(path);
    free(pub);
}

static void test_bad_key_files(void **state)
{
    struct uf_err e = { 0 };
    assert_null(uf_jwt_signer_load("/nonexistent/key.pem", &e));
    assert_string_equal(e.msg, "/nonexistent/key.pem: No such file or directory");
    char path[128];
    snprintf(path, sizeof path, "/tmp/test-jwt-mint-big-%d.pem", (int)getpid());
    FILE *f = fopen(path, "w");
    for (int i = 0; i <= UF_JWT_MAX_KEY_FILE / 64; i++)
        fputs("0123456789012345678901234567890123456789012345678901234567890123", f);
    fclose(f);
    assert_null(uf_jwt_signer_load(path, &e));
    assert_non_null(strstr(e.msg, "larger than 64 KiB"));
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hs256_claims),
        cmocka_unit_test(test_short_secret_refused),
        cmocka_unit_test(test_rs256_from_file),
        cmocka_unit_test(test_bad_key_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
