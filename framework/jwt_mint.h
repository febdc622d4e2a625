/* jwt_mint.h: minting tokens the APIs accept, for development and load tools (`ugcflow token`,
 * `ugcflow loadgen`): the claims (sub, roles, iat, exp) and the signing (HS256 with a shared
 * secret, or RS256 with an RSA private key read from a file) decided once, so every tool's
 * tokens look alike. Verification lives in jwt.h. A minter borrows its secret and signer and is
 * read-only after setup: minting is thread-safe. */
#ifndef UF_JWT_MINT_H
#define UF_JWT_MINT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct uf_err;
struct uf_jwt_signer;

/* Largest private-key file read, in bytes (a 4096-bit PEM key is ~3.3 KiB). */
#define UF_JWT_MAX_KEY_FILE 65536

struct uf_jwt_minter {
    const void *secret; /* HS256 secret; borrowed; used when signer is NULL */
    size_t secret_n;
    const struct uf_jwt_signer *signer; /* RS256 key; borrowed; NULL: HS256 */
};

/* Loads an RS256 signer from a PEM file (see uf_jwt_signer_new_pem). NULL with err filled
 * ("PATH: why") when the file cannot be read, is larger than UF_JWT_MAX_KEY_FILE or holds no
 * RSA private key of 2048 bits or more. */
struct uf_jwt_signer *uf_jwt_signer_load(const char *path, struct uf_err *err);

/* Checks an HS256 secret the way the verifier will (at least 32 bytes, RFC 7518 3.2); 0, or
 * UF_EINVAL with err filled. */
int uf_jwt_minter_check_secret(const void *secret, size_t n, struct uf_err *err);

/* A token for sub, issued at now_s and valid for ttl_s seconds, with the roles claim when roles
 * (an array of strings; borrowed) is not NULL. New string; NULL only if signing fails. */
char *uf_jwt_mint(const struct uf_jwt_minter *m, const char *sub, const json_t *roles,
                  int64_t now_s, int64_t ttl_s);

#endif
