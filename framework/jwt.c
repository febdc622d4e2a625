/* jwt.c: JWT verification (and HS256/RS256 signing for tools) over OpenSSL libcrypto (see jwt.h
 * for the contract).
 * The order of checks matters: the header is decoded first only to learn `alg`; the signature is
 * verified before any claim is parsed, so nothing an attacker wrote is interpreted until it is
 * known to be signed. Only this file includes OpenSSL. */
#include "framework/jwt.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "framework/err.h"
#include "framework/hash.h"
#include "framework/mem.h"

struct uf_jwt_keys {
    unsigned char *secret;
    size_t secret_len;
    EVP_PKEY *pub;
};

static const struct {
    const char *name;
    unsigned bit;
} algs[] = {
    { "HS256", UF_JWT_HS256 }, { "HS384", UF_JWT_HS384 }, { "HS512", UF_JWT_HS512 },
    { "RS256", UF_JWT_RS256 }, { "RS384", UF_JWT_RS384 }, { "RS512", UF_JWT_RS512 },
};

#define HS_MASK (UF_JWT_HS256 | UF_JWT_HS384 | UF_JWT_HS512)

unsigned uf_jwt_alg_parse(const char *name)
{
    for (size_t i = 0; name && i < sizeof(algs) / sizeof(algs[0]); i++)
        if (strcmp(algs[i].name, name) == 0)
            return algs[i].bit;
    return 0;
}

static const EVP_MD *alg_digest(unsigned bit)
{
    if (bit & (UF_JWT_HS256 | UF_JWT_RS256))
        return EVP_sha256();
    if (bit & (UF_JWT_HS384 | UF_JWT_RS384))
        return EVP_sha384();
    return EVP_sha512();
}

struct uf_jwt_keys *uf_jwt_keys_new(void)
{
    return uf_xcalloc(1, sizeof(struct uf_jwt_keys));
}

void uf_jwt_keys_free(struct uf_jwt_keys *keys)
{
    if (!keys)
        return;
    if (keys->secret)
        OPENSSL_cleanse(keys->secret, keys->secret_len);
    free(keys->secret);
    EVP_PKEY_free(keys->pub);
    free(keys);
}

int uf_jwt_keys_set_secret(struct uf_jwt_keys *keys, const void *secret, size_t n,
                           struct uf_err *err)
{
    if (n < 32)
        return uf_err_set(err, UF_EINVAL, "HMAC secret is %zu bytes; at least 32 are required", n);
    free(keys->secret);
    keys->secret = uf_xmalloc(n);
    memcpy(keys->secret, secret, n);
    keys->secret_len = n;
    return 0;
}

/* A certificate is accepted too, since identity providers often publish those. */
static EVP_PKEY *decode_public(const char *pem, size_t n)
{
    EVP_PKEY *pkey = NULL;
    OSSL_DECODER_CTX *dctx =
        OSSL_DECODER_CTX_new_for_pkey(&pkey, "PEM", NULL, "RSA", EVP_PKEY_PUBLIC_KEY, NULL, NULL);
    const unsigned char *p = (const unsigned char *)pem;
    size_t len = n;
    if (dctx)
        OSSL_DECODER_from_data(dctx, &p, &len);
    OSSL_DECODER_CTX_free(dctx);
    if (pkey)
        return pkey;
    BIO *bio = BIO_new_mem_buf(pem, (int)n);
    X509 *cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    if (cert)
        pkey = X509_get_pubkey(cert);
    X509_free(cert);
    BIO_free(bio);
    return pkey;
}

int uf_jwt_keys_set_public_pem(struct uf_jwt_keys *keys, const char *pem, size_t n,
                               struct uf_err *err)
{
    EVP_PKEY *pkey = decode_public(pem, n);
    if (!pkey)
        return uf_err_set(err, UF_EINVAL, "no RSA public key or certificate found in PEM data");
    if (!EVP_PKEY_is_a(pkey, "RSA") || EVP_PKEY_get_bits(pkey) < 2048) {
        EVP_PKEY_free(pkey);
        return uf_err_set(err, UF_EINVAL, "public key must be RSA with at least 2048 bits");
    }
    EVP_PKEY_free(keys->pub);
    keys->pub = pkey;
    return 0;
}

/* ---- base64url ---- */

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *uf_base64url_encode(const void *data, size_t n)
{
    const unsigned char *in = data;
    char *out = uf_xmalloc(n / 3 * 4 + 5);
    size_t o = 0, i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64url[v >> 18 & 63];
        out[o++] = b64url[v >> 12 & 63];
        out[o++] = b64url[v >> 6 & 63];
        out[o++] = b64url[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);
        out[o++] = b64url[v >> 18 & 63];
        out[o++] = b64url[v >> 12 & 63];
        if (i + 1 < n)
            out[o++] = b64url[v >> 6 & 63];
    }
    out[o] = '\0';
    return out;
}

static int b64_value(char c)
{
    const char *p = c ? strchr(b64url, c) : NULL;
    return p ? (int)(p - b64url) : -1;
}

/* Decodes into a new buffer of *out_n bytes (NUL-terminated for convenience); NULL when the
 * input holds a character outside the alphabet, padding, or an impossible length. */
static unsigned char *b64url_decode(const char *s, size_t n, size_t *out_n)
{
    if (n % 4 == 1)
        return NULL;
    unsigned char *out = uf_xmalloc(n / 4 * 3 + 3);
    size_t o = 0;
    uint32_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_value(s[i]);
        if (v < 0) {
            free(out);
            return NULL;
        }
        acc = acc << 6 | (uint32_t)v;
        if (i % 4 == 3) {
            out[o++] = (unsigned char)(acc >> 16);
            out[o++] = (unsigned char)(acc >> 8);
            out[o++] = (unsigned char)acc;
            acc = 0;
        }
    }
    if (n % 4 == 2)
        out[o++] = (unsigned char)(acc >> 4);
    else if (n % 4 == 3) {
        out[o++] = (unsigned char)(acc >> 10);
        out[o++] = (unsigned char)(acc >> 2);
    }
    out[o] = '\0';
    *out_n = o;
    return out;
}

/* ---- verification ---- */

struct parts {
    const char *header, *payload, *sig; /* base64url texts inside the token */
    size_t header_len, payload_len, sig_len;
};

static int split_token(const char *token, struct parts *p, struct uf_err *err)
{
    size_t n = strnlen(token, UF_JWT_MAX_TOKEN + 1);
    if (n > UF_JWT_MAX_TOKEN)
        return uf_err_set(err, UF_EINVAL, "token longer than %d bytes", UF_JWT_MAX_TOKEN);
    const char *d1 = memchr(token, '.', n);
    const char *d2 = d1 ? memchr(d1 + 1, '.', n - (size_t)(d1 + 1 - token)) : NULL;
    if (!d2 || memchr(d2 + 1, '.', n - (size_t)(d2 + 1 - token)))
        return uf_err_set(err, UF_EINVAL, "token is not three dot-separated parts");
    p->header = token;
    p->header_len = (size_t)(d1 - token);
    p->payload = d1 + 1;
    p->payload_len = (size_t)(d2 - d1 - 1);
    p->sig = d2 + 1;
    p->sig_len = n - (size_t)(d2 + 1 - token);
    return 0;
}

static json_t *decode_json_part(const char *s, size_t n, const char *what, struct uf_err *err)
{
    size_t len;
    unsigned char *raw = b64url_decode(s, n, &len);
    if (!raw) {
        uf_err_set(err, UF_EINVAL, "%s is not base64url", what);
        return NULL;
    }
    json_t *obj = json_loadb((const char *)raw, len, JSON_REJECT_DUPLICATES, NULL);
    free(raw);
    if (!json_is_object(obj)) {
        json_decref(obj);
        uf_err_set(err, UF_EINVAL, "%s is not a JSON object", what);
        return NULL;
    }
    return obj;
}

bool uf_jwt_peek_sub(const char *token, size_t n, char *out, size_t out_n)
{
    const char *end = token + n, *p = memchr(token, '.', n);
    const char *q = p ? memchr(p + 1, '.', (size_t)(end - p - 1)) : NULL;
    if (!q || n > UF_JWT_MAX_TOKEN)
        return false;
    json_t *claims = decode_json_part(p + 1, (size_t)(q - p - 1), "payload", NULL);
    const char *sub = json_string_value(json_object_get(claims, "sub"));
    bool ok = sub && strlen(sub) < out_n;
    if (ok)
        memcpy(out, sub, strlen(sub) + 1);
    json_decref(claims);
    return ok;
}

/* The algorithm named by the header, checked against the allow-list and the loaded keys. */
static unsigned header_alg(const struct uf_jwt_keys *keys, const struct uf_jwt_rules *rules,
                           const struct parts *p, struct uf_err *err)
{
    json_t *hdr = decode_json_part(p->header, p->header_len, "header", err);
    if (!hdr)
        return 0;
    const char *name = json_string_value(json_object_get(hdr, "alg"));
    unsigned bit = uf_jwt_alg_parse(name);
    if (json_object_get(hdr, "crit"))
        uf_err_set(err, UF_EINVAL, "header has 'crit' extensions, which are not supported");
    else if (!bit || !(bit & rules->algs))
        uf_err_set(err, UF_EINVAL, "algorithm '%.16s' is not allowed", name ? name : "(none)");
    else if ((bit & HS_MASK) ? !keys->secret : !keys->pub)
        uf_err_set(err, UF_EINVAL, "no key configured for algorithm '%s'", name);
    else {
        json_decref(hdr);
        return bit;
    }
    json_decref(hdr);
    return 0;
}

static bool verify_hmac(const struct uf_jwt_keys *keys, unsigned bit, const struct parts *p,
                        const unsigned char *sig, size_t sig_len)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned mac_len = 0;
    size_t signed_len = p->header_len + 1 + p->payload_len;
    if (!HMAC(alg_digest(bit), keys->secret, (int)keys->secret_len,
              (const unsigned char *)p->header, signed_len, mac, &mac_len))
        return false;
    return sig_len == mac_len && CRYPTO_memcmp(mac, sig, mac_len) == 0;
}

static bool verify_rsa(const struct uf_jwt_keys *keys, unsigned bit, const struct parts *p,
                       const unsigned char *sig, size_t sig_len)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    bool ok = md && EVP_DigestVerifyInit(md, NULL, alg_digest(bit), NULL, keys->pub) == 1 &&
              EVP_DigestVerify(md, sig, sig_len, (const unsigned char *)p->header,
                               p->header_len + 1 + p->payload_len) == 1;
    EVP_MD_CTX_free(md);
    return ok;
}

static int verify_signature(const struct uf_jwt_keys *keys, unsigned bit, const struct parts *p,
                            struct uf_err *err)
{
    size_t sig_len;
    unsigned char *sig = b64url_decode(p->sig, p->sig_len, &sig_len);
    if (!sig)
        return uf_err_set(err, UF_EINVAL, "signature is not base64url");
    bool ok = (bit & HS_MASK) ? verify_hmac(keys, bit, p, sig, sig_len)
                              : verify_rsa(keys, bit, p, sig, sig_len);
    free(sig);
    return ok ? 0 : uf_err_set(err, UF_EINVAL, "signature does not match");
}

static bool audience_matches(const json_t *aud, const char *want)
{
    if (json_is_string(aud))
        return strcmp(json_string_value(aud), want) == 0;
    size_t i;
    const json_t *v;
    json_array_foreach(aud, i, v) if (json_is_string(v) &&
                                      strcmp(json_string_value(v), want) == 0) return true;
    return false;
}

static int check_times(const json_t *claims, int64_t leeway, int64_t now, struct uf_err *err)
{
    const json_t *exp = json_object_get(claims, "exp");
    const json_t *nbf = json_object_get(claims, "nbf");
    const json_t *iat = json_object_get(claims, "iat");
    if (!json_is_number(exp))
        return uf_err_set(err, UF_EINVAL, "claim 'exp' is missing or not a number");
    if (json_number_value(exp) + (double)leeway <= (double)now)
        return uf_err_set(err, UF_ETIMEOUT, "token expired");
    if (nbf && (!json_is_number(nbf) || json_number_value(nbf) > (double)(now + leeway)))
        return uf_err_set(err, UF_EINVAL, "token not valid yet ('nbf')");
    if (iat && (!json_is_number(iat) || json_number_value(iat) > (double)(now + leeway)))
        return uf_err_set(err, UF_EINVAL, "token issued in the future ('iat')");
    return 0;
}

static int check_claims(const json_t *claims, const struct uf_jwt_rules *rules, int64_t now,
                        struct uf_err *err)
{
    int rc = check_times(claims, rules->leeway_s, now, err);
    if (rc)
        return rc;
    const char *iss = json_string_value(json_object_get(claims, "iss"));
    if (rules->issuer && (!iss || strcmp(iss, rules->issuer) != 0))
        return uf_err_set(err, UF_EINVAL, "issuer ('iss') does not match");
    if (rules->audience && !audience_matches(json_object_get(claims, "aud"), rules->audience))
        return uf_err_set(err, UF_EINVAL, "audience ('aud') does not match");
    return 0;
}

json_t *uf_jwt_verify(const struct uf_jwt_keys *keys, const struct uf_jwt_rules *rules,
                      const char *token, int64_t now_s, struct uf_err *err)
{
    struct parts p = { 0 };
    if (split_token(token, &p, err))
        return NULL;
    unsigned bit = header_alg(keys, rules, &p, err);
    if (!bit || verify_signature(keys, bit, &p, err))
        return NULL;
    json_t *claims = decode_json_part(p.payload, p.payload_len, "payload", err);
    if (claims && check_claims(claims, rules, now_s, err)) {
        json_decref(claims);
        return NULL;
    }
    return claims;
}

/* ---- verified-token cache ---- */

struct cache_slot {
    pthread_mutex_t mu;
    uint64_t hash;
    char *token;    /* NULL when empty */
    json_t *claims; /* shared, read-only */
};

struct uf_jwt_cache {
    size_t mask;
    struct cache_slot *slots;
};

struct uf_jwt_cache *uf_jwt_cache_new(size_t slots)
{
    size_t n = 1;
    while (n < slots)
        n <<= 1;
    struct uf_jwt_cache *c = uf_xcalloc(1, sizeof *c);
    c->mask = n - 1;
    c->slots = uf_xcalloc(n, sizeof *c->slots);
    for (size_t i = 0; i < n; i++)
        pthread_mutex_init(&c->slots[i].mu, NULL);
    return c;
}

void uf_jwt_cache_free(struct uf_jwt_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i <= c->mask; i++) {
        free(c->slots[i].token);
        json_decref(c->slots[i].claims);
        pthread_mutex_destroy(&c->slots[i].mu);
    }
    free(c->slots);
    free(c);
}

json_t *uf_jwt_verify_cached(struct uf_jwt_cache *c, const struct uf_jwt_keys *keys,
                             const struct uf_jwt_rules *rules, const char *token, int64_t now_s,
                             struct uf_err *err)
{
    if (!c)
        return uf_jwt_verify(keys, rules, token, now_s, err);
    uint64_t h = uf_hash_str(UF_HASH_SEED, token);
    struct cache_slot *slot = &c->slots[h & c->mask];
    json_t *claims = NULL;
    pthread_mutex_lock(&slot->mu);
    if (slot->token && slot->hash == h && strcmp(slot->token, token) == 0)
        claims = json_incref(slot->claims);
    pthread_mutex_unlock(&slot->mu);
    if (claims) {
        if (check_times(claims, rules->leeway_s, now_s, err) == 0)
            return claims;
        json_decref(claims);
        return NULL;
    }
    claims = uf_jwt_verify(keys, rules, token, now_s, err);
    if (!claims)
        return NULL;
    char *copy = uf_xstrdup(token);
    pthread_mutex_lock(&slot->mu);
    char *old_token = slot->token;
    json_t *old_claims = slot->claims;
    slot->hash = h;
    slot->token = copy;
    slot->claims = json_incref(claims);
    pthread_mutex_unlock(&slot->mu);
    free(old_token);
    json_decref(old_claims);
    return claims;
}

char *uf_jwt_sign_hs256(const void *secret, size_t n, const json_t *claims)
{
    char *payload_json = json_dumps(claims, JSON_COMPACT);
    char *hdr = uf_base64url_encode("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", 27);
    char *payload = uf_base64url_encode(payload_json, strlen(payload_json));
    char *signing = uf_xasprintf("%s.%s", hdr, payload);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned mac_len = 0;
    HMAC(EVP_sha256(), secret, (int)n, (const unsigned char *)signing, strlen(signing), mac,
         &mac_len);
    char *sig = uf_base64url_encode(mac, mac_len);
    char *token = uf_xasprintf("%s.%s", signing, sig);
    free(payload_json);
    free(hdr);
    free(payload);
    free(signing);
    free(sig);
    return token;
}

struct uf_jwt_signer {
    EVP_PKEY *key;
};

struct uf_jwt_signer *uf_jwt_signer_new_pem(const char *pem, size_t n, struct uf_err *err)
{
    BIO *bio = BIO_new_mem_buf(pem, (int)n);
    EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    if (!key)
        return uf_err_set(err, UF_EINVAL, "no unencrypted private key found in PEM data"), NULL;
    if (!EVP_PKEY_is_a(key, "RSA") || EVP_PKEY_get_bits(key) < 2048) {
        EVP_PKEY_free(key);
        return uf_err_set(err, UF_EINVAL, "private key must be RSA with at least 2048 bits"), NULL;
    }
    struct uf_jwt_signer *signer = uf_xmalloc(sizeof(*signer));
    signer->key = key;
    return signer;
}

void uf_jwt_signer_free(struct uf_jwt_signer *signer)
{
    if (!signer)
        return;
    EVP_PKEY_free(signer->key);
    free(signer);
}

/* The RSASSA-PKCS1-v1_5 SHA-256 signature of data, base64url; NULL when OpenSSL fails. */
static char *rsa_sign(EVP_PKEY *key, const char *data)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char sig[1024]; /* up to 8192-bit keys */
    size_t len = sizeof sig;
    bool ok = ctx && EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
              EVP_PKEY_get_size(key) <= (int)sizeof sig &&
              EVP_DigestSign(ctx, sig, &len, (const unsigned char *)data, strlen(data)) == 1;
    EVP_MD_CTX_free(ctx);
    return ok ? uf_base64url_encode(sig, len) : NULL;
}

char *uf_jwt_sign_rs256(const struct uf_jwt_signer *signer, const json_t *claims)
{
    char *payload_json = json_dumps(claims, JSON_COMPACT);
    char *hdr = uf_base64url_encode("{\"alg\":\"RS256\",\"typ\":\"JWT\"}", 27);
    char *payload = uf_base64url_encode(payload_json, strlen(payload_json));
    char *signing = uf_xasprintf("%s.%s", hdr, payload);
    char *sig = rsa_sign(signer->key, signing);
    char *token = sig ? uf_xasprintf("%s.%s", signing, sig) : NULL;
    free(payload_json);
    free(hdr);
    free(payload);
    free(signing);
    free(sig);
    return token;
}
