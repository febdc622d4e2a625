/* lg_workload_int.h: what lg_workload.c (population, draws, tokens) and lg_routes.c (the request
 * of each route) share: the workload's state and its draw helpers. Not for other files. */
#ifndef UF_LG_WORKLOAD_INT_H
#define UF_LG_WORKLOAD_INT_H
#include <stdbool.h>
#include <stdint.h>

#include "bench/loadgen/lg_wlconf.h"
#include "bench/loadgen/lg_workload.h"
#include "framework/uuid.h"

enum route {
    R_PLAYER,
    R_VIEWS,
    R_EVENTS,
    R_REACTIONS_COUNT,
    R_COMMENTS_LIST,
    R_REACTION_GET,
    R_FAVORITES_LIST,
    R_HISTORY_LIST,
    R_PROGRESS_GET,
    R_LIKE,
    R_DISLIKE,
    R_REACTION_DELETE,
    R_FAVORITE_PUT,
    R_FAVORITE_DELETE,
    R_COMMENT_CREATE,
    R_COMMENT_VOTE_PUT,
    R_COUNT
};

#define TOKEN_SLOTS 16384 /* more than the open player sessions, so their tokens stay minted */
#define RING 4096         /* pairs liked or favorited by this run, for its deletes */
#define MOVIE_SLOTS 8192  /* movie ids kept: Zipf draws hit the popular ones again and again */

enum pstate { P_NEW, P_OPEN, P_PLAYING, P_PAUSED };

struct session {
    uint32_t user, movie;
    uint64_t id;
    enum pstate state;
    double pos_s, target_s, clock_s; /* clock_s: playback time since open, for ts */
    int64_t opened_ms;
    int quality;
};

struct movie_slot {
    uint32_t movie_1; /* the movie + 1; 0: empty */
    char id[UF_UUID_STR];
};

struct token_slot {
    uint32_t user;
    char *token;
};

/* A stack that forgets its oldest entries when full: what a run made, newest first. */
struct pair_ring {
    uint32_t user[RING], item[RING];
    size_t head, n;
};

struct uf_lg_workload {
    struct uf_lg_wlconf c;
    enum uf_lg_api api;
    char tag[48];
    char *secret;
    const struct uf_jwt_signer *signer; /* borrowed: RS256 tokens instead of HS256 */
    uint32_t nonce; /* tells this run's session ids from another run's with the same seed */
    char session_prefix[16]; /* "lg" and the nonce in hex: the start of every session_id */
    char duration_text[32];  /* duration_s as the player events write it ("%.0f") */
    uint64_t rng[4];
    double *zipf_cdf;
    double cum_share[R_COUNT];
    size_t last_route; /* the API's last route with a share: where rounding lands */
    struct session *sessions;
    uint64_t next_session, nreq;
    struct token_slot tokens[TOKEN_SLOTS];
    struct movie_slot movie_ids[MOVIE_SLOTS];
    struct pair_ring reacted, favorited;
    char comments[RING][UF_UUID_STR];
    size_t ncomments;
};

double uf_lg_unit(struct uf_lg_workload *w);
uint32_t uf_lg_below(struct uf_lg_workload *w, uint32_t n);
double uf_lg_gauss(struct uf_lg_workload *w);
uint32_t uf_lg_zipf_movie(struct uf_lg_workload *w);
/* md5(prefix || i) as a UUID, like PostgreSQL's md5(...)::uuid in the UGC dataset. */
void uf_lg_id_of(char prefix, uint32_t i, char out[UF_UUID_STR]);
/* Movie m's id (uf_lg_id_of('m', m)), from a direct-mapped cache; valid until the next call. */
const char *uf_lg_movie_id(struct uf_lg_workload *w, uint32_t m);
uint32_t uf_lg_registered(const struct uf_lg_workload *w);
/* The user's token (minted on first use, cached); NULL for an anonymous user. */
const char *uf_lg_token_of(struct uf_lg_workload *w, uint32_t user);

bool uf_lg_ring_pop(struct pair_ring *r, uint32_t *user, uint32_t *item);

/* lg_routes.c: fills req for its route (req->route already set). */
void uf_lg_build_stat(struct uf_lg_workload *w, struct uf_lg_request *req, int64_t now_ms);
void uf_lg_build_ugc(struct uf_lg_workload *w, struct uf_lg_request *req);
#endif
