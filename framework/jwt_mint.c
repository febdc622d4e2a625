/* jwt_mint.c: the claims and signing of development and load-test tokens (jwt_mint.h).
 * The secret rule is the verifier's (32 bytes at least): a tool must never mint a token the
 * APIs would refuse for its key. Reads a key file in one bounded read; keeps nothing. */
#include "framework/jwt_mint.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framework/err.h"
#include "framework/jwt.h"
#include "framework/mem.h"

/* The same minimum as uf_jwt_keys_set_secret (RFC 7518 3.2). */
#define MIN_SECRET 32

struct uf_jwt_signer *uf_jwt_signer_load(const char *path, struct uf_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return uf_err_set(err, UF_EIO, "%s: %s", path, strerror(errno)), NULL;
    char *pem = uf_xmalloc(UF_JWT_MAX_KEY_FILE + 1);
    size_t n = fread(pem, 1, UF_JWT_MAX_KEY_FILE + 1, f);
    fclose(f);
    struct uf_jwt_signer *signer = NULL;
    if (n > UF_JWT_MAX_KEY_FILE)
        uf_err_set(err, UF_EINVAL, "%s: larger than %d KiB", path, UF_JWT_MAX_KEY_FILE / 1024);
    else if (!(signer = uf_jwt_signer_new_pem(pem, n, err)))
        uf_err_prefix(err, "%s", path);
    free(pem);
    return signer;
}

int uf_jwt_minter_check_secret(const void *secret, size_t n, struct uf_err *err)
{
    if (!secret || n < MIN_SECRET)
        return uf_err_set(err, UF_EINVAL, "HMAC secret is %zu bytes; at least %d are required",
                          secret ? n : 0, MIN_SECRET);
    return 0;
}

char *uf_jwt_mint(const struct uf_jwt_minter *m, const char *sub, const json_t *roles,
                  int64_t now_s, int64_t ttl_s)
{
    json_t *claims = json_pack("{s:s,s:I,s:I}", "sub", sub, "iat", (json_int_t)now_s, "exp",
                               (json_int_t)(now_s + ttl_s));
    if (roles)
        json_object_set(claims, "roles", (json_t *)roles);
    char *token = m->signer ? uf_jwt_sign_rs256(m->signer, claims)
                            : uf_jwt_sign_hs256(m->secret, m->secret_n, claims);
    json_decref(claims);
    return token;
}
