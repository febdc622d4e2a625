/* jwt.h: JSON Web Token verification (RFC 7519, JWS compact form) over OpenSSL libcrypto.
 * HS256/384/512 (shared secret) and RS256/384/512 (RSA public key) signatures, then `exp`
 * (required), `nbf` and `iat` (with a leeway), `iss` and `aud`. `alg: none` is never accepted,
 * and an algorithm must be allowed and match its key's kind (an RSA key is never an HMAC
 * secret); HMAC comparison is constant-time. Knows no events or users (stages/jwt_auth.c maps
 * claims). Keys are immutable once loaded; verification is thread-safe. Signing (HS256, RS256)
 * is for test tools and the load generator. */
#ifndef UF_JWT_H
#define UF_JWT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct uf_err;

enum uf_jwt_alg {
    UF_JWT_HS256 = 1 << 0,
    UF_JWT_HS384 = 1 << 1,
    UF_JWT_HS512 = 1 << 2,
    UF_JWT_RS256 = 1 << 3,
    UF_JWT_RS384 = 1 << 4,
    UF_JWT_RS512 = 1 << 5,
};

/* Longest token accepted, in bytes: bounds every allocation made from a token. */
#define UF_JWT_MAX_TOKEN 8192

/* The bit for an algorithm name ("HS256"...), or 0 when unknown or "none". */
unsigned uf_jwt_alg_parse(const char *name);

struct uf_jwt_keys;

struct uf_jwt_keys *uf_jwt_keys_new(void);
void uf_jwt_keys_free(struct uf_jwt_keys *keys);
/* Sets the HMAC secret (copied). Fails when it is shorter than 32 bytes (RFC 7518 3.2). */
int uf_jwt_keys_set_secret(struct uf_jwt_keys *keys, const void *secret, size_t n,
                           struct uf_err *err);
/* Loads an RSA public key (PEM "PUBLIC KEY", "RSA PUBLIC KEY" or a certificate) from pem. */
int uf_jwt_keys_set_public_pem(struct uf_jwt_keys *keys, const char *pem, size_t n,
                               struct uf_err *err);

struct uf_jwt_rules {
    unsigned algs;        /* allow-list: OR of enum uf_jwt_alg */
    int64_t leeway_s;     /* clock skew tolerated for exp, nbf and iat */
    const char *issuer;   /* required `iss` when not NULL */
    const char *audience; /* required in `aud` (string or array) when not NULL */
};

/* Verifies token at time now_s (Unix seconds). Returns the claims object (new reference) or
 * NULL with err filled: err->code is UF_ETIMEOUT when the token expired (`exp` plus leeway
 * passed) and UF_EINVAL for every other problem (including `nbf` in the future). The message
 * says which check failed and never contains the token. Thread-safe. */
json_t *uf_jwt_verify(const struct uf_jwt_keys *keys, const struct uf_jwt_rules *rules,
                      const char *token, int64_t now_s, struct uf_err *err);

/* A bounded cache of verified tokens, for callers that see the same tokens again and again (a
 * client sends its token with every request): verifying a signature and decoding the claims
 * cost more than the rest of a small request. Direct-mapped: `slots` entries (rounded up to a
 * power of two), a newer token replacing an older one in its slot. Thread-safe. */
struct uf_jwt_cache;
struct uf_jwt_cache *uf_jwt_cache_new(size_t slots);
void uf_jwt_cache_free(struct uf_jwt_cache *cache);
/* uf_jwt_verify through the cache (cache may be NULL). A token equal byte for byte to one that
 * passed with the same keys and rules is not verified again; only its times (exp, nbf, iat)
 * are checked against now_s. The claims returned are shared: read them, never change them. */
json_t *uf_jwt_verify_cached(struct uf_jwt_cache *cache, const struct uf_jwt_keys *keys,
                             const struct uf_jwt_rules *rules, const char *token, int64_t now_s,
                             struct uf_err *err);
/* Signs claims with HS256 and secret, for test tools and load generators. New string. */
char *uf_jwt_sign_hs256(const void *secret, size_t n, const json_t *claims);

/* An RS256 signing key (an RSA private key of at least 2048 bits), for test tools and load
 * generators. Immutable once loaded; signing with it is thread-safe. */
struct uf_jwt_signer;
/* Loads the key from PEM data ("PRIVATE KEY" or "RSA PRIVATE KEY", unencrypted); NULL with err
 * filled when there is none or it is not RSA of 2048 bits or more. */
struct uf_jwt_signer *uf_jwt_signer_new_pem(const char *pem, size_t n, struct uf_err *err);
void uf_jwt_signer_free(struct uf_jwt_signer *signer);
/* Signs claims with RS256. New string; NULL only if OpenSSL fails to sign. */
char *uf_jwt_sign_rs256(const struct uf_jwt_signer *signer, const json_t *claims);

/* The `sub` of token (n bytes) WITHOUT verifying it, into out: for keying a rate limit before
 * the token is verified, never for deciding who the caller is. false when there is none. */
bool uf_jwt_peek_sub(const char *token, size_t n, char *out, size_t out_n);

/* base64url without padding (RFC 4648 section 5), exposed for tests and tools. */
char *uf_base64url_encode(const void *data, size_t n);

#endif
