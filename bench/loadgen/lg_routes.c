/* lg_routes.c: the request of each workload route, in the stat and UGC APIs' own shapes (see
 * pipeline.yaml's validate rules). Stat events carry a UUIDv7 event_id made here (a retry is the
 * same event downstream) and, with --tag, "tag" at the top level, where the stat API keeps
 * unknown members. A batch (workload `batch`) is one client's buffered events: one user, one
 * token. UGC deletes and votes aim at what this run created, so they delete something. */
#include "bench/loadgen/lg_workload_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bench/loadgen/lg_text.h"
#include "framework/timefmt.h"

static const char *const qualities[] = { "480p", "720p", "1080p", "2160p" };
static const char *const event_types[] = { "movie.card.click", "search.query", "trailer.play",
                                           "banner.show", "settings.change" };

/* `{"event_id":"…",` with a new id, remembered in req for the acked log. */
static void open_event(struct uf_lg_request *req, int64_t now_ms)
{
    uint8_t id[16];
    uf_uuid_v7_at(id, now_ms);
    char *out = req->event_ids[req->nevents++];
    uf_uuid_format(id, out);
    uf_lg_put(&req->body, "{\"event_id\":\"", out, "\",", NULL);
}

/* The viewer's fields and the event's end: anonymous_id when anonymous, ts, tag. */
static void close_event(struct uf_lg_workload *w, struct uf_lg_request *req, uint32_t user,
                        int64_t ts_ms)
{
    char ts[UF_TIME_STR];
    uf_time_format(ts_ms * 1000, ts);
    if (!req->token) {
        uf_lg_put(&req->body, "\"anonymous_id\":\"anon-", NULL);
        uf_lg_put_u64(&req->body, user);
        uf_lg_put(&req->body, "\",", NULL);
    }
    uf_lg_put(&req->body, "\"ts\":\"", ts, "\"", NULL);
    if (w->tag[0])
        uf_lg_put(&req->body, ",\"tag\":\"", w->tag, "\"", NULL);
    uf_strbuf_puts(&req->body, "}");
}

/* A new playback of slot s's viewer: its movie and how long it is watched (log-normal). */
static void session_open(struct uf_lg_workload *w, struct session *s, int64_t now_ms)
{
    s->movie = uf_lg_zipf_movie(w);
    s->id = w->next_session++;
    s->pos_s = s->clock_s = 0;
    s->target_s = fmin(w->c.watch_median_s * exp(uf_lg_gauss(w)), w->c.duration_s);
    s->opened_ms = now_ms;
    s->quality = (int)uf_lg_below(w, 4);
}

/* One step of a playing session: a pause, seek or quality change at their odds, else a
 * heartbeat of progress, which ends the session once the watched time is reached. */
static const char *playing_step(struct uf_lg_workload *w, struct session *s)
{
    double u = uf_lg_unit(w);
    if (u < w->c.pause) {
        s->state = P_PAUSED;
        return "pause";
    }
    if ((u -= w->c.pause) < w->c.seek) {
        s->pos_s = fmax(0, fmin(s->pos_s + (double)uf_lg_below(w, 180) - 60, w->c.duration_s));
        return "seek";
    }
    if ((u -= w->c.seek) < w->c.quality_change) {
        s->quality = (s->quality + 1 + (int)uf_lg_below(w, 3)) % 4;
        return "quality_change";
    }
    s->pos_s += w->c.heartbeat_s;
    s->clock_s += w->c.heartbeat_s;
    if (s->pos_s >= w->c.duration_s) {
        s->pos_s = w->c.duration_s;
        s->state = P_NEW;
        return "complete";
    }
    if (s->clock_s >= s->target_s) {
        s->state = P_NEW;
        return "close";
    }
    return "progress";
}

static const char *session_step(struct uf_lg_workload *w, struct session *s, int64_t now_ms)
{
    switch (s->state) {
    case P_NEW:
        session_open(w, s, now_ms);
        s->state = P_OPEN;
        return "open";
    case P_OPEN:
        s->state = P_PLAYING;
        return "play";
    case P_PAUSED:
        s->clock_s += 1 + uf_lg_below(w, 30); /* paused for a while, then resumed */
        s->state = P_PLAYING;
        return "play";
    case P_PLAYING:
        break;
    }
    return playing_step(w, s);
}

static void player_event(struct uf_lg_workload *w, struct uf_lg_request *req, struct session *s,
                         int64_t now_ms)
{
    const char *ev = session_step(w, s, now_ms);
    struct uf_strbuf *b = &req->body;
    open_event(req, now_ms);
    uf_lg_put(b, "\"movie_id\":\"", uf_lg_movie_id(w, s->movie), "\",\"session_id\":\"",
              w->session_prefix, "-p", NULL);
    uf_lg_put_u64(b, s->id);
    uf_lg_put(b, "\",\"event\":\"", ev, "\",\"position_s\":", NULL);
    uf_lg_put_tenths(b, s->pos_s);
    uf_lg_put(b, ",\"duration_s\":", w->duration_text, ",\"quality\":\"", qualities[s->quality],
              "\",", NULL);
    close_event(w, req, s->user, s->opened_ms + (int64_t)(s->clock_s * 1000));
}

static void view_event(struct uf_lg_workload *w, struct uf_lg_request *req, uint32_t user,
                       int64_t now_ms)
{
    uint32_t m = uf_lg_zipf_movie(w);
    struct uf_strbuf *b = &req->body;
    open_event(req, now_ms);
    uf_lg_put(b, "\"url\":\"/movies/", NULL);
    uf_lg_put_u64(b, m);
    uf_lg_put(b, "\",\"referrer\":\"/\",\"title\":\"Movie ", NULL);
    uf_lg_put_u64(b, m);
    uf_lg_put(b, "\",\"session_id\":\"", w->session_prefix, "-u", NULL);
    uf_lg_put_u64(b, user);
    uf_lg_put(b, "\",", NULL);
    close_event(w, req, user, now_ms);
}

static void generic_event(struct uf_lg_workload *w, struct uf_lg_request *req, uint32_t user,
                          int64_t now_ms)
{
    const char *movie = uf_lg_movie_id(w, uf_lg_zipf_movie(w));
    const char *type = event_types[uf_lg_below(w, 5)];
    uint32_t row = uf_lg_below(w, 20), position = uf_lg_below(w, 40);
    struct uf_strbuf *b = &req->body;
    open_event(req, now_ms);
    uf_lg_put(b, "\"type\":\"", type, "\",\"props\":{\"row\":\"", NULL);
    uf_lg_put_u64(b, row);
    uf_lg_put(b, "\",\"position\":", NULL);
    uf_lg_put_u64(b, position);
    uf_lg_put(b, ",\"source\":\"home\"},\"movie_id\":\"", movie, "\",\"session_id\":\"",
              w->session_prefix, "-u", NULL);
    uf_lg_put_u64(b, user);
    uf_lg_put(b, "\",\"url\":\"/\",", NULL);
    close_event(w, req, user, now_ms);
}

static const char *const stat_paths[] = { "/player", "/views", "/events" };

void uf_lg_build_stat(struct uf_lg_workload *w, struct uf_lg_request *req, int64_t now_ms)
{
    size_t n = (size_t)w->c.batch;
    struct session *s = &w->sessions[uf_lg_below(w, (uint32_t)w->c.sessions)];
    if (req->route == R_PLAYER && s->state == P_NEW)
        s->user = uf_lg_below(w, (uint32_t)w->c.users); /* a new viewer in the slot; within a
                                                           batch, the same viewer goes on */
    uint32_t user = req->route == R_PLAYER ? s->user : uf_lg_below(w, (uint32_t)w->c.users);
    req->method = "POST";
    strcpy(req->path, stat_paths[req->route]);
    req->token = uf_lg_token_of(w, user);
    req->user = user;
    if (n > 1)
        uf_strbuf_puts(&req->body, "[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            uf_strbuf_puts(&req->body, ",");
        if (req->route == R_PLAYER)
            player_event(w, req, s, now_ms);
        else if (req->route == R_VIEWS)
            view_event(w, req, user, now_ms);
        else
            generic_event(w, req, user, now_ms);
    }
    if (n > 1)
        uf_strbuf_puts(&req->body, "]");
}

/* The UGC routes: method, path (%s: the movie or comment id) and who may call them. */
static const struct {
    const char *method, *path;
    bool registered;
} ugc_routes[R_COUNT] = {
    [R_REACTIONS_COUNT] = { "GET", "/movies/%s/reactions", false },
    [R_COMMENTS_LIST] = { "GET", "/movies/%s/comments?limit=20", false },
    [R_REACTION_GET] = { "GET", "/movies/%s/reaction", true },
    [R_FAVORITES_LIST] = { "GET", "/favorites?limit=20", true },
    [R_HISTORY_LIST] = { "GET", "/history?limit=20", true },
    [R_PROGRESS_GET] = { "GET", "/movies/%s/progress", true },
    [R_LIKE] = { "POST", "/movies/%s/like", true },
    [R_DISLIKE] = { "POST", "/movies/%s/dislike", true },
    [R_REACTION_DELETE] = { "DELETE", "/movies/%s/reaction", true },
    [R_FAVORITE_PUT] = { "PUT", "/favorites/%s", true },
    [R_FAVORITE_DELETE] = { "DELETE", "/favorites/%s", true },
    [R_COMMENT_CREATE] = { "POST", "/movies/%s/comments", true },
    [R_COMMENT_VOTE_PUT] = { "PUT", "/comments/%s/vote", true },
};

/* The viewer and movie of a UGC request: a delete takes back what this run made (newest
 * first), anything else draws them (registered users only where the route needs a token). */
static void ugc_target(struct uf_lg_workload *w, struct uf_lg_request *req)
{
    struct pair_ring *made = req->route == R_REACTION_DELETE   ? &w->reacted
                             : req->route == R_FAVORITE_DELETE ? &w->favorited
                                                               : NULL;
    if (made && uf_lg_ring_pop(made, &req->user, &req->item))
        return;
    uint32_t reg = uf_lg_registered(w);
    bool any = !ugc_routes[req->route].registered || reg == 0;
    req->user = uf_lg_below(w, any ? (uint32_t)w->c.users : reg);
    req->item = uf_lg_zipf_movie(w);
}

/* The comment a vote is for: one this run created, else one of the UGC dataset's. */
static void vote_comment(struct uf_lg_workload *w, char out[UF_UUID_STR])
{
    if (w->ncomments) {
        size_t n = w->ncomments < RING ? w->ncomments : RING;
        memcpy(out, w->comments[uf_lg_below(w, (uint32_t)n)], UF_UUID_STR);
    } else {
        uf_lg_id_of('c', uf_lg_below(w, (uint32_t)w->c.movies), out);
    }
}

void uf_lg_build_ugc(struct uf_lg_workload *w, struct uf_lg_request *req)
{
    ugc_target(w, req);
    char id[UF_UUID_STR];
    if (req->route == R_COMMENT_VOTE_PUT)
        vote_comment(w, id);
    else
        memcpy(id, uf_lg_movie_id(w, req->item), UF_UUID_STR);
    req->method = ugc_routes[req->route].method;
    snprintf(req->path, sizeof req->path, ugc_routes[req->route].path, id);
    req->token = uf_lg_token_of(w, req->user);
    if (req->route == R_COMMENT_CREATE)
        uf_strbuf_printf(&req->body, "{\"text\":\"A review written by the load generator%s%s.\"}",
                         w->tag[0] ? ", run " : "", w->tag);
    else if (req->route == R_COMMENT_VOTE_PUT)
        uf_strbuf_printf(&req->body, "{\"value\":\"%s\"}", uf_lg_unit(w) < 0.8 ? "up" : "down");
}
