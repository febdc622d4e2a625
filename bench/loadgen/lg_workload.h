/* lg_workload.h: the product workload of `ugcflow loadgen`: a population of users (registered
 * or anonymous, HS256 or RS256 tokens minted locally), movies with Zipf popularity, player
 * sessions run as a state machine, page views, generic events and UGC actions, drawn at the
 * shares of a YAML file. Every draw comes from one seeded generator, so a seed repeats a run's
 * routes, users, movies and session steps; ids (event ids, session ids) are new in every run, so
 * two runs never collapse into one downstream. Not thread-safe: one workload per generating
 * thread. */
#ifndef UF_LG_WORKLOAD_H
#define UF_LG_WORKLOAD_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "framework/strbuf.h"

#define UF_LG_ROUTES_MAX 24
#define UF_LG_BATCH_MAX 100

enum uf_lg_api { UF_LG_API_STAT, UF_LG_API_UGC };

struct uf_jwt_signer;

struct uf_lg_workload_opts {
    const char *file; /* the workload YAML */
    enum uf_lg_api api;
    uint64_t seed;
    const char *tag;    /* NULL or [A-Za-z0-9._-]{1,40} */
    const char *secret; /* HS256 secret for the registered users' tokens; NULL: all anonymous */
    const struct uf_jwt_signer *signer; /* RS256 key used instead of secret; borrowed, for the
                                           workload's life */
};

/* One HTTP request the workload made. Buffers are reused from request to request. */
struct uf_lg_request {
    size_t route; /* index into uf_lg_workload_route_name */
    const char *method;
    char path[192];
    const char *token;     /* borrowed from the workload's token cache; NULL when anonymous */
    struct uf_strbuf body; /* empty when the request has no body */
    char request_id[64];   /* X-Request-Id: "TAG-n" when tagged, else empty */
    char event_ids[UF_LG_BATCH_MAX][37]; /* the ids put into the body's events (stat API) */
    size_t nevents;
    uint32_t user, item; /* who and what (UGC API): remembered by _answered for later deletes */
};

struct uf_lg_workload;

/* Loads the YAML file and prepares the population. NULL with a message in err (file:line:col
 * when the file is wrong) on failure. */
struct uf_lg_workload *uf_lg_workload_new(const struct uf_lg_workload_opts *o, char *err,
                                          size_t errlen);
void uf_lg_workload_free(struct uf_lg_workload *w);
/* Fills req with the next request (now_ms: wall clock, for the events' ts and ids). */
void uf_lg_workload_next(struct uf_lg_workload *w, struct uf_lg_request *req, int64_t now_ms);
/* Tells the workload a request was answered: what a 2xx write made (a reaction, a favorite, a
 * comment) is kept for the run's later deletes and votes. */
void uf_lg_workload_answered(struct uf_lg_workload *w, const struct uf_lg_request *req, int status,
                             const char *body, size_t n);
size_t uf_lg_workload_nroutes(const struct uf_lg_workload *w);
const char *uf_lg_workload_route_name(const struct uf_lg_workload *w, size_t route);
/* Share (0..1) of requests the workload gives to route. */
double uf_lg_workload_share(const struct uf_lg_workload *w, size_t route);
/* Whether status is an answer of route: a 2xx, or a 404 where "not found" is a normal answer
 * (a delete or a read of one user's item that may not exist). Anything else is an error. */
bool uf_lg_workload_is_answer(size_t route, int status);
void uf_lg_request_free(struct uf_lg_request *req);
#endif
