/* stages/jwt_auth.c: the `jwt_auth` transform: who is calling.
 * Takes the bearer token the http source left in meta.token (and removes it, so nothing later
 * sees it), verifies it with framework/jwt.c, then sets the user from `sub` (a UUID) and
 * meta.roles from the roles claim; the mode (`registered`, `optional`, `none`) comes from the
 * route or the stage. Rejections are 401. It does not check rights (the store's job). Verified
 * tokens are cached (`token_cache`), their expiry still checked. Reads meta and user only, so a
 * batch goes on as it came (UF_BATCH_PASS). Thread-safe: keys are read-only after start, the
 * cache locks per slot. Modes and the cache: docs/architecture.md, "stages/jwt_auth". */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framework/event.h"
#include "framework/jwt.h"
#include "framework/log.h"
#include "framework/mem.h"
#include "framework/metrics.h"
#include "framework/stage.h"
#include "framework/uuid.h"

enum auth_mode { MODE_REGISTERED, MODE_OPTIONAL, MODE_NONE };
enum auth_result { R_ACCEPTED, R_ANONYMOUS, R_MISSING, R_INVALID, R_EXPIRED, R_COUNT };

struct auth_ctx {
    json_t *algorithms;
    char *secret_env, *secret_file, *public_key_file, *issuer, *audience, *roles_claim;
    int64_t leeway_ms, cache_slots;
    int mode;

    struct uf_stage *st;
    struct uf_jwt_keys *keys;
    struct uf_jwt_cache *cache; /* NULL when token_cache is 0 */
    struct uf_jwt_rules rules;
    _Atomic int64_t *m_result[R_COUNT];
};

static const char *const mode_values[] = { "registered", "optional", "none", NULL };

static const struct uf_option auth_options[] = {
    { .name = "algorithms",
      .type = UF_OPT_LIST,
      .def = "[\"HS256\"]",
      .desc = "Signature algorithms accepted (HS256/384/512, RS256/384/512; never none)",
      .offset = offsetof(struct auth_ctx, algorithms) },
    { .name = "secret_env",
      .type = UF_OPT_STR,
      .def = "UGCFLOW_JWT_SECRET",
      .desc = "Environment variable holding the HMAC secret (when secret_file is not set)",
      .offset = offsetof(struct auth_ctx, secret_env) },
    { .name = "secret_file",
      .type = UF_OPT_STR,
      .flags = UF_OPT_SECRET,
      .desc = "File holding the HMAC secret (a trailing newline is ignored)",
      .offset = offsetof(struct auth_ctx, secret_file) },
    { .name = "public_key_file",
      .type = UF_OPT_STR,
      .desc = "PEM file with the RSA public key (or certificate) for RS* tokens",
      .offset = offsetof(struct auth_ctx, public_key_file) },
    { .name = "leeway",
      .type = UF_OPT_DURATION,
      .def = "30s",
      .min = 0,
      .max = 3600000,
      .desc = "Clock skew tolerated when checking exp, nbf and iat",
      .offset = offsetof(struct auth_ctx, leeway_ms) },
    { .name = "issuer",
      .type = UF_OPT_STR,
      .desc = "Required value of the iss claim, if set",
      .offset = offsetof(struct auth_ctx, issuer) },
    { .name = "audience",
      .type = UF_OPT_STR,
      .desc = "Value the aud claim must contain, if set",
      .offset = offsetof(struct auth_ctx, audience) },
    { .name = "roles_claim",
      .type = UF_OPT_STR,
      .def = "roles",
      .desc = "Claim (an array of strings) copied to meta.roles",
      .offset = offsetof(struct auth_ctx, roles_claim) },
    { .name = "token_cache",
      .type = UF_OPT_INT,
      .def = "4096",
      .min = 0,
      .max = 1048576,
      .desc = "Verified tokens remembered (their expiry is still checked on every use); 0: "
              "verify every token",
      .offset = offsetof(struct auth_ctx, cache_slots) },
    { .name = "mode",
      .type = UF_OPT_ENUM,
      .def = "registered",
      .values = mode_values,
      .desc = "Default when the route sets no auth: registered, optional or none",
      .offset = offsetof(struct auth_ctx, mode) },
    { 0 },
};

static int parse_algorithms(struct auth_ctx *ac, struct uf_err *err)
{
    size_t i;
    json_t *v;
    json_array_foreach(ac->algorithms, i, v)
    {
        unsigned bit = uf_jwt_alg_parse(json_string_value(v));
        if (!bit)
            return uf_err_set(err, UF_EINVAL,
                              "algorithms: '%s' is not supported (HS256, HS384, HS512, RS256, "
                              "RS384, RS512)",
                              json_string_value(v));
        ac->rules.algs |= bit;
    }
    if (!ac->rules.algs)
        return uf_err_set(err, UF_EINVAL, "algorithms: at least one algorithm is required");
    return 0;
}

static bool wants_hmac(const struct auth_ctx *ac)
{
    return ac->rules.algs & (UF_JWT_HS256 | UF_JWT_HS384 | UF_JWT_HS512);
}

static bool wants_rsa(const struct auth_ctx *ac)
{
    return ac->rules.algs & (UF_JWT_RS256 | UF_JWT_RS384 | UF_JWT_RS512);
}

static int auth_init(struct uf_stage *st, void *ctx, struct uf_err *err)
{
    static const char *const results[R_COUNT] = { "accepted", "anonymous", "missing", "invalid",
                                                  "expired" };
    struct auth_ctx *ac = ctx;
    ac->st = st;
    if (parse_algorithms(ac, err))
        return UF_EINVAL;
    if (wants_rsa(ac) && !ac->public_key_file)
        return uf_err_set(err, UF_EINVAL, "RS algorithms need public_key_file");
    if (wants_hmac(ac) && !ac->secret_file && !(ac->secret_env && *ac->secret_env))
        return uf_err_set(err, UF_EINVAL, "HS algorithms need secret_env or secret_file");
    ac->rules.leeway_s = ac->leeway_ms / 1000;
    ac->rules.issuer = ac->issuer;
    ac->rules.audience = ac->audience;
    for (int i = 0; i < R_COUNT; i++)
        ac->m_result[i] =
            uf_metrics_extra(uf_stage_metrics(st), UF_METRIC_COUNTER, "jwt_auth_requests_total",
                             "Events seen by jwt_auth, per result", "result", results[i]);
    return 0;
}

/* Reads a small file whole (keys and secrets are far below the 64 KiB bound). */
static char *read_small_file(const char *path, size_t *n, struct uf_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        uf_err_set(err, UF_EIO, "cannot open '%s': %s", path, strerror(errno));
        return NULL;
    }
    char *buf = uf_xmalloc(65537);
    *n = fread(buf, 1, 65537, f);
    bool too_big = *n > 65536;
    fclose(f);
    if (too_big) {
        free(buf);
        uf_err_set(err, UF_EINVAL, "'%s' is larger than 64 KiB", path);
        return NULL;
    }
    buf[*n] = '\0';
    return buf;
}

static int load_secret(struct auth_ctx *ac, struct uf_err *err)
{
    size_t n = 0;
    char *file = ac->secret_file ? read_small_file(ac->secret_file, &n, err) : NULL;
    if (ac->secret_file && !file)
        return UF_EIO;
    const char *secret = file ? file : getenv(ac->secret_env);
    if (!secret || !*secret) {
        free(file);
        return uf_err_set(err, UF_EINVAL, "no HMAC secret: environment variable %s is not set",
                          ac->secret_env);
    }
    size_t len = strlen(secret);
    n = len;
    while (file && n > 0 && (secret[n - 1] == '\n' || secret[n - 1] == '\r'))
        n--;
    int rc = uf_jwt_keys_set_secret(ac->keys, secret, n, err);
    if (file) {
        memset(file, 0, len);
        free(file);
    }
    if (rc)
        uf_err_prefix(err, "%s", ac->secret_file ? ac->secret_file : ac->secret_env);
    return rc;
}

static int auth_start(struct uf_stage *st, void *ctx, struct uf_err *err)
{
    struct auth_ctx *ac = ctx;
    ac->keys = uf_jwt_keys_new();
    if (ac->cache_slots > 0)
        ac->cache = uf_jwt_cache_new((size_t)ac->cache_slots);
    if (wants_hmac(ac) && load_secret(ac, err))
        return UF_EINVAL;
    if (!wants_rsa(ac))
        return 0;
    size_t n;
    char *pem = read_small_file(ac->public_key_file, &n, err);
    int rc = pem ? uf_jwt_keys_set_public_pem(ac->keys, pem, n, err) : UF_EIO;
    free(pem);
    if (rc)
        uf_err_prefix(err, "public_key_file '%s'", ac->public_key_file);
    return rc;
}

static enum auth_mode route_mode(const struct auth_ctx *ac, json_t *meta)
{
    const char *m = json_string_value(json_object_get(meta, "auth"));
    for (int i = 0; m && mode_values[i]; i++)
        if (strcmp(m, mode_values[i]) == 0)
            return (enum auth_mode)i;
    return (enum auth_mode)ac->mode;
}

static void reject(struct auth_ctx *ac, struct uf_event *ev, enum auth_result r, const char *msg)
{
    static const char *const codes[R_COUNT] = { NULL, NULL, "unauthorized", "invalid_token",
                                                "token_expired" };
    atomic_fetch_add_explicit(ac->m_result[r], 1, memory_order_relaxed);
    uf_log(UF_LOG_DEBUG, ac->st, "Token rejected.", "reason", msg);
    uf_event_fail(ev, 401, codes[r], msg);
}

/* Applies sub and roles; returns NULL or why the claims are unusable. */
static const char *apply_claims(struct auth_ctx *ac, struct uf_event *ev, const json_t *claims)
{
    uint8_t id[16];
    char user[UF_UUID_STR];
    const char *sub = json_string_value(json_object_get(claims, "sub"));
    if (!sub || !uf_uuid_parse(sub, id))
        return "claim 'sub' must be a UUID";
    json_t *roles = json_object_get(claims, ac->roles_claim);
    size_t i;
    json_t *v;
    json_array_foreach(
        roles, i, v) if (!json_is_string(v)) return "claim 'roles' must be an array of strings";
    if (roles && !json_is_array(roles))
        return "claim 'roles' must be an array of strings";
    uf_uuid_format(id, user);
    uf_event_set_user(ev, user);
    json_object_set_new(uf_event_meta(ev), "roles", roles ? json_deep_copy(roles) : json_array());
    return NULL;
}

static void auth_process(struct uf_stage *st, void *ctx, struct uf_event *ev)
{
    struct auth_ctx *ac = ctx;
    json_t *meta = uf_event_meta(ev);
    json_t *token = json_incref(json_object_get(meta, "token"));
    json_object_del(meta, "token");
    enum auth_mode mode = route_mode(ac, meta);
    if (mode == MODE_NONE || (!token && mode == MODE_OPTIONAL)) {
        json_decref(token);
        atomic_fetch_add_explicit(ac->m_result[R_ANONYMOUS], 1, memory_order_relaxed);
        uf_event_set_user(ev, NULL);
        uf_emit(st, ev);
        return;
    }
    if (!json_is_string(token)) {
        json_decref(token);
        reject(ac, ev, R_MISSING, "a bearer token is required");
        return;
    }
    struct uf_err err = { 0 };
    json_t *claims = uf_jwt_verify_cached(ac->cache, ac->keys, &ac->rules, json_string_value(token),
                                          uf_wall_us() / 1000000, &err);
    json_decref(token);
    bool expired = !claims && err.code == UF_ETIMEOUT;
    const char *why = claims ? apply_claims(ac, ev, claims) : err.msg;
    json_decref(claims);
    if (why) {
        reject(ac, ev, expired ? R_EXPIRED : R_INVALID, why);
        return;
    }
    atomic_fetch_add_explicit(ac->m_result[R_ACCEPTED], 1, memory_order_relaxed);
    uf_emit(st, ev);
}

static void auth_destroy(void *ctx)
{
    struct auth_ctx *ac = ctx;
    uf_jwt_keys_free(ac->keys);
    uf_jwt_cache_free(ac->cache);
    ac->keys = NULL;
    ac->cache = NULL;
}

static enum uf_batch_role jwt_batch(const void *ctx)
{
    (void)ctx;
    return UF_BATCH_PASS; /* meta only: a batch goes on as it came */
}

const struct uf_kind uf_transform_jwt_auth = {
    .name = "jwt_auth",
    .role = UF_TRANSFORM,
    .summary = "Verify the bearer JWT and set the event's user and roles",
    .options = auth_options,
    .ctx_size = sizeof(struct auth_ctx),
    .batch = jwt_batch,
    .init = auth_init,
    .start = auth_start,
    .process = auth_process,
    .destroy = auth_destroy,
};
