/* lg_workload.c: draws the requests of the product workload (see lg_workload.h). Users and
 * movies are numbered and named md5('u' || i) / md5('m' || j) as UUIDs, like the UGC dataset;
 * tokens (HS256, or RS256 with a private key) are minted on first use and kept in a
 * direct-mapped cache. Player requests advance one
 * of a fixed set of open sessions through open -> play -> progress... -> complete or close, with
 * the session's own clock in the events' ts, so the view detector sees real watched time. */
#include "bench/loadgen/lg_workload.h"

#include <jansson.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench/loadgen/lg_workload_int.h"
#include "framework/jwt_mint.h"
#include "framework/mem.h"

static const struct uf_lg_route_def route_defs[R_COUNT] = {
    { "player", UF_LG_API_STAT },        { "views", UF_LG_API_STAT },
    { "events", UF_LG_API_STAT },        { "reactions_count", UF_LG_API_UGC },
    { "comments_list", UF_LG_API_UGC },  { "reaction_get", UF_LG_API_UGC },
    { "favorites_list", UF_LG_API_UGC }, { "history_list", UF_LG_API_UGC },
    { "progress_get", UF_LG_API_UGC },   { "like", UF_LG_API_UGC },
    { "dislike", UF_LG_API_UGC },        { "reaction_delete", UF_LG_API_UGC },
    { "favorite_put", UF_LG_API_UGC },   { "favorite_delete", UF_LG_API_UGC },
    { "comment_create", UF_LG_API_UGC }, { "comment_vote_put", UF_LG_API_UGC },
};
_Static_assert(R_COUNT <= UF_LG_ROUTES_MAX, "routes fit the report's table");

/* xoshiro256**, seeded through splitmix64: fast, and the same sequence for the same seed. */
static uint64_t rnd(uint64_t s[4])
{
    uint64_t r = ((s[1] * 5) << 7 | (s[1] * 5) >> 57) * 9, t = s[1] << 17;
    s[2] ^= s[0], s[3] ^= s[1], s[1] ^= s[2], s[0] ^= s[3], s[2] ^= t;
    s[3] = s[3] << 45 | s[3] >> 19;
    return r;
}

static void seed_rng(uint64_t s[4], uint64_t seed)
{
    for (int i = 0; i < 4; i++) {
        uint64_t z = (seed += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        s[i] = z ^ (z >> 31);
    }
}

double uf_lg_unit(struct uf_lg_workload *w)
{
    return (double)(rnd(w->rng) >> 11) * 0x1.0p-53;
}

uint32_t uf_lg_below(struct uf_lg_workload *w, uint32_t n)
{
    return (uint32_t)(uf_lg_unit(w) * n);
}

double uf_lg_gauss(struct uf_lg_workload *w)
{
    double u = uf_lg_unit(w), v = uf_lg_unit(w);
    return sqrt(-2.0 * log(u > 0 ? u : 1e-300)) * cos(2 * M_PI * v);
}

uint32_t uf_lg_zipf_movie(struct uf_lg_workload *w)
{
    double u = uf_lg_unit(w);
    size_t lo = 0, hi = (size_t)w->c.movies - 1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (w->zipf_cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (uint32_t)lo;
}

void uf_lg_id_of(char prefix, uint32_t i, char out[UF_UUID_STR])
{
    char s[16];
    unsigned char h[16];
    unsigned hn = 0;
    int n = snprintf(s, sizeof s, "%c%u", prefix, i);
    EVP_Digest(s, (size_t)n, h, &hn, EVP_md5(), NULL);
    uf_uuid_format(h, out);
}

const char *uf_lg_movie_id(struct uf_lg_workload *w, uint32_t m)
{
    struct movie_slot *s = &w->movie_ids[m % MOVIE_SLOTS];
    if (s->movie_1 != m + 1) {
        uf_lg_id_of('m', m, s->id);
        s->movie_1 = m + 1;
    }
    return s->id;
}

uint32_t uf_lg_registered(const struct uf_lg_workload *w)
{
    return w->secret || w->signer ? (uint32_t)(w->c.users * w->c.registered) : 0;
}

const char *uf_lg_token_of(struct uf_lg_workload *w, uint32_t user)
{
    if (user >= uf_lg_registered(w))
        return NULL;
    struct token_slot *t = &w->tokens[user % TOKEN_SLOTS];
    if (t->token && t->user == user)
        return t->token;
    char sub[UF_UUID_STR];
    uf_lg_id_of('u', user, sub);
    struct uf_jwt_minter m = { .secret = w->secret,
                               .secret_n = w->secret ? strlen(w->secret) : 0,
                               .signer = w->signer };
    free(t->token);
    t->token = uf_jwt_mint(&m, sub, NULL, (int64_t)time(NULL), 86400);
    t->user = user;
    return t->token;
}

static int prepare(struct uf_lg_workload *w, const struct uf_lg_workload_opts *o, char *err,
                   size_t errlen)
{
    double sum = 0;
    for (size_t i = 0; i < R_COUNT; i++)
        sum += route_defs[i].api == o->api ? w->c.share[i] : 0;
    if (sum <= 0)
        return snprintf(err, errlen, "%s: every route of this API has share 0",
                        o->file ? o->file : "workload"),
               -1;
    double acc = 0;
    for (size_t i = 0; i < R_COUNT; i++) {
        acc += route_defs[i].api == o->api ? w->c.share[i] / sum : 0;
        w->cum_share[i] = acc;
        if (route_defs[i].api == o->api && w->c.share[i] > 0)
            w->last_route = i;
    }
    size_t nm = (size_t)w->c.movies;
    w->zipf_cdf = uf_xmalloc(nm * sizeof(double));
    double z = 0;
    for (size_t i = 0; i < nm; i++)
        w->zipf_cdf[i] = (z += 1.0 / pow((double)(i + 1), w->c.zipf_s));
    for (size_t i = 0; i < nm; i++)
        w->zipf_cdf[i] /= z;
    w->sessions = uf_xcalloc((size_t)w->c.sessions, sizeof(struct session));
    return 0;
}

struct uf_lg_workload *uf_lg_workload_new(const struct uf_lg_workload_opts *o, char *err,
                                          size_t errlen)
{
    struct uf_lg_workload *w = uf_xcalloc(1, sizeof(*w));
    if (uf_lg_wlconf_load(o->file, route_defs, R_COUNT, &w->c, err, errlen) < 0)
        goto fail;
    w->api = o->api;
    w->secret = o->secret && *o->secret && !o->signer ? uf_xstrdup(o->secret) : NULL;
    w->signer = o->signer;
    snprintf(w->tag, sizeof w->tag, "%s", o->tag ? o->tag : "");
    seed_rng(w->rng, o->seed);
    w->nonce = (uint32_t)time(NULL) ^ (uint32_t)getpid() << 16;
    snprintf(w->session_prefix, sizeof w->session_prefix, "lg%08x", w->nonce);
    snprintf(w->duration_text, sizeof w->duration_text, "%.0f", w->c.duration_s);
    if (prepare(w, o, err, errlen) < 0)
        goto fail;
    return w;
fail:
    uf_lg_workload_free(w);
    return NULL;
}

void uf_lg_workload_free(struct uf_lg_workload *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < TOKEN_SLOTS; i++)
        free(w->tokens[i].token);
    free(w->secret);
    free(w->zipf_cdf);
    free(w->sessions);
    free(w);
}

/* The route of the next request: the first whose cumulative share passes u. */
static size_t pick_route(struct uf_lg_workload *w)
{
    double u = uf_lg_unit(w);
    for (size_t r = 0; r < R_COUNT; r++)
        if (route_defs[r].api == w->api && u < w->cum_share[r])
            return r;
    return w->last_route; /* u above a sum that rounding left just under 1 */
}

void uf_lg_workload_next(struct uf_lg_workload *w, struct uf_lg_request *req, int64_t now_ms)
{
    uf_strbuf_reset(&req->body);
    req->route = pick_route(w);
    req->token = NULL;
    req->nevents = 0;
    req->user = req->item = 0;
    w->nreq++;
    if (w->tag[0])
        snprintf(req->request_id, sizeof req->request_id, "%s-%llu", w->tag,
                 (unsigned long long)w->nreq);
    else
        req->request_id[0] = '\0';
    if (w->api == UF_LG_API_STAT)
        uf_lg_build_stat(w, req, now_ms);
    else
        uf_lg_build_ugc(w, req);
}

/* The "id" of a created comment's reply ({"id" : "...", ...}: PostgreSQL's spacing or not). */
static bool comment_id(const char *body, size_t n, char out[UF_UUID_STR])
{
    json_t *j = json_loadb(body, n, 0, NULL);
    const char *id = json_string_value(json_object_get(j, "id"));
    bool ok = id && uf_uuid_is_valid(id);
    if (ok)
        memcpy(out, id, UF_UUID_STR);
    json_decref(j);
    return ok;
}

static void ring_push(struct pair_ring *r, uint32_t user, uint32_t item)
{
    r->head = (r->head + 1) % RING;
    r->user[r->head] = user;
    r->item[r->head] = item;
    if (r->n < RING)
        r->n++;
}

void uf_lg_workload_answered(struct uf_lg_workload *w, const struct uf_lg_request *req, int status,
                             const char *body, size_t n)
{
    if (status < 200 || status > 299)
        return;
    switch (req->route) {
    case R_LIKE:
    case R_DISLIKE:
        ring_push(&w->reacted, req->user, req->item);
        break;
    case R_FAVORITE_PUT:
        ring_push(&w->favorited, req->user, req->item);
        break;
    case R_COMMENT_CREATE:
        if (comment_id(body, n, w->comments[w->ncomments % RING]))
            w->ncomments++;
        break;
    default:
        break;
    }
}

bool uf_lg_workload_is_answer(size_t route, int status)
{
    if (status >= 200 && status <= 299)
        return true;
    return status == 404 && (route == R_REACTION_DELETE || route == R_FAVORITE_DELETE ||
                             route == R_PROGRESS_GET || route == R_COMMENT_VOTE_PUT);
}

bool uf_lg_ring_pop(struct pair_ring *r, uint32_t *user, uint32_t *item)
{
    if (r->n == 0)
        return false;
    *user = r->user[r->head];
    *item = r->item[r->head];
    r->head = (r->head + RING - 1) % RING;
    r->n--;
    return true;
}

size_t uf_lg_workload_nroutes(const struct uf_lg_workload *w)
{
    (void)w;
    return R_COUNT;
}

const char *uf_lg_workload_route_name(const struct uf_lg_workload *w, size_t route)
{
    (void)w;
    return route < R_COUNT ? route_defs[route].name : "?";
}

double uf_lg_workload_share(const struct uf_lg_workload *w, size_t route)
{
    if (route >= R_COUNT || route_defs[route].api != w->api)
        return 0;
    return w->cum_share[route] - (route ? w->cum_share[route - 1] : 0);
}

void uf_lg_request_free(struct uf_lg_request *req)
{
    uf_strbuf_free(&req->body);
}
