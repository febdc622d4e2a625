/* view_detector.c: the `view_detector` transform: counts a movie view once per viewer, movie and
 * playback session, when at least `min_watched` seconds were actually watched or the player
 * reported `complete`. It then emits one new `movie.view` event (fire-and-forget: no completion,
 * so it never delays or fails the request that triggered it); every incoming event passes
 * through unchanged.
 * Watched time: between two consecutive player events of a session while the player was playing
 * (after play/progress, until pause/close/complete), the position delta counts, bounded by the
 * time between the events (client `ts` when sent, else the server's receive time). So a seek
 * forward adds at most the elapsed time, a seek back adds nothing, and a fast-forwarding or
 * lying clock cannot add more than the positions moved.
 * State: one entry per session key in a hash table split into lock stripes (process() runs on
 * several threads); each stripe keeps an LRU list. Entries idle longer than `ttl` are swept,
 * and beyond `max_entries` the least recently used entry goes (a view not yet counted for it
 * is then lost: the state_evicted metric says how often). Events without event/movie_id/
 * session_id are not player events and pass untouched.
 * Raw events (event.h) are read with one scan of their text (strings decoded) and pass on as
 * they came; the views the detector makes are bodies either way. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "event.h"
#include "hash.h"
#include "jscan.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "stage.h"
#include "uuid.h"
#include "timefmt.h"

#define STRIPES 64
#define SWEEP_EVERY_US 1000000

struct vd_entry {
    char *key;
    uint64_t hash;
    struct vd_entry *next;             /* hash chain */
    struct vd_entry *newer, *older;    /* LRU list of the stripe */
    double watched_s, pos_s;
    int64_t at_us;                     /* event time of the last event */
    int64_t touched_us;                /* monotonic, for the TTL */
    bool playing, have_pos, counted;
};

struct vd_stripe {
    pthread_mutex_t lock;
    struct vd_entry **buckets;
    size_t nbuckets, n;
    struct vd_entry *newest, *oldest;
};

struct vd_ctx {
    int64_t min_watched_ms;
    int64_t ttl_ms;
    int64_t max_entries;
    char *view_type;
    int clock;

    struct uf_stage *st;
    struct vd_stripe stripes[STRIPES];
    size_t stripe_max;
    atomic_bool sweeping;
    _Atomic int64_t next_sweep_us;
    _Atomic int64_t *m_entries, *m_views, *m_evicted;
};

static const char *const clock_values[] = { "client", "server", NULL };

static const struct uf_option vd_options[] = {
    { .name = "min_watched", .type = UF_OPT_DURATION, .def = "30s", .min = 1, .max = 86400000,
      .desc = "Watched time that makes a view", .offset = offsetof(struct vd_ctx, min_watched_ms) },
    { .name = "ttl", .type = UF_OPT_DURATION, .def = "4h", .min = 1, .max = 7 * 86400000LL,
      .desc = "A session's state is forgotten after this long without events",
      .offset = offsetof(struct vd_ctx, ttl_ms) },
    { .name = "max_entries", .type = UF_OPT_INT, .def = "1000000", .min = STRIPES,
      .max = 100000000, .desc = "Most sessions tracked at once; the least recent go first",
      .offset = offsetof(struct vd_ctx, max_entries) },
    { .name = "view_type", .type = UF_OPT_STR, .def = "movie.view",
      .desc = "The type field of the emitted view events",
      .offset = offsetof(struct vd_ctx, view_type) },
    { .name = "clock", .type = UF_OPT_ENUM, .def = "client", .values = clock_values,
      .desc = "Event time: the client's ts when it sent a valid one, or always the server's",
      .offset = offsetof(struct vd_ctx, clock) },
    { 0 }
};

/* ---- lifecycle ---- */

static int vd_init(struct uf_stage *st, void *ctx, struct uf_err *err)
{
    struct vd_ctx *c = ctx;
    c->st = st;
    c->stripe_max = (size_t)(c->max_entries + STRIPES - 1) / STRIPES;
    for (size_t i = 0; i < STRIPES; i++) {
        pthread_mutex_init(&c->stripes[i].lock, NULL);
        c->stripes[i].nbuckets = 64;
        c->stripes[i].buckets = uf_xcalloc(64, sizeof(struct vd_entry *));
    }
    struct uf_metrics *m = uf_stage_metrics(st);
    c->m_entries = uf_metrics_extra(m, UF_METRIC_GAUGE, "view_state_entries",
                                    "Playback sessions tracked", NULL, NULL);
    c->m_views = uf_metrics_extra(m, UF_METRIC_COUNTER, "views_emitted_total",
                                  "View events emitted", NULL, NULL);
    c->m_evicted = uf_metrics_extra(m, UF_METRIC_COUNTER, "view_state_evicted_total",
                                    "Sessions forgotten because max_entries was reached",
                                    NULL, NULL);
    return 0;
}

/* ---- the table ---- */

static void lru_unlink(struct vd_stripe *s, struct vd_entry *e)
{
    if (e->newer)
        e->newer->older = e->older;
    else
        s->newest = e->older;
    if (e->older)
        e->older->newer = e->newer;
    else
        s->oldest = e->newer;
    e->newer = e->older = NULL;
}

static void lru_push(struct vd_stripe *s, struct vd_entry *e)
{
    e->older = s->newest;
    e->newer = NULL;
    if (s->newest)
        s->newest->newer = e;
    s->newest = e;
    if (!s->oldest)
        s->oldest = e;
}

static void remove_entry(struct vd_ctx *c, struct vd_stripe *s, struct vd_entry *e)
{
    struct vd_entry **pp = &s->buckets[(e->hash >> 8) % s->nbuckets];
    while (*pp != e)
        pp = &(*pp)->next;
    *pp = e->next;
    lru_unlink(s, e);
    s->n--;
    atomic_fetch_sub(c->m_entries, 1);
    free(e->key);
    free(e);
}

static void grow(struct vd_stripe *s)
{
    size_t nb = s->nbuckets * 2;
    struct vd_entry **b = uf_xcalloc(nb, sizeof(*b));
    for (size_t i = 0; i < s->nbuckets; i++) {
        for (struct vd_entry *e = s->buckets[i], *next; e; e = next) {
            next = e->next;
            e->next = b[(e->hash >> 8) % nb];
            b[(e->hash >> 8) % nb] = e;
        }
    }
    free(s->buckets);
    s->buckets = b;
    s->nbuckets = nb;
}

/* Finds or creates the entry for key (stripe locked), making it the most recent. */
static struct vd_entry *lookup(struct vd_ctx *c, struct vd_stripe *s, const char *key,
                               uint64_t h)
{
    struct vd_entry *e = s->buckets[(h >> 8) % s->nbuckets];
    while (e && (e->hash != h || strcmp(e->key, key) != 0))
        e = e->next;
    if (e) {
        lru_unlink(s, e);
        lru_push(s, e);
        return e;
    }
    if (s->n >= c->stripe_max) {
        remove_entry(c, s, s->oldest);
        atomic_fetch_add(c->m_evicted, 1);
    }
    if (s->n >= s->nbuckets)
        grow(s);
    e = uf_xcalloc(1, sizeof(*e));
    e->key = uf_xstrdup(key);
    e->hash = h;
    e->next = s->buckets[(h >> 8) % s->nbuckets];
    s->buckets[(h >> 8) % s->nbuckets] = e;
    lru_push(s, e);
    s->n++;
    atomic_fetch_add(c->m_entries, 1);
    return e;
}

/* Forgets idle sessions in every stripe; at most one thread sweeps, about once a second. */
static void sweep(struct vd_ctx *c, int64_t now)
{
    if (now < atomic_load(&c->next_sweep_us) || atomic_exchange(&c->sweeping, true))
        return;
    int64_t every = c->ttl_ms * 1000 / 4 < SWEEP_EVERY_US ? c->ttl_ms * 1000 / 4 : SWEEP_EVERY_US;
    atomic_store(&c->next_sweep_us, now + every);
    for (size_t i = 0; i < STRIPES; i++) {
        struct vd_stripe *s = &c->stripes[i];
        pthread_mutex_lock(&s->lock);
        while (s->oldest && now - s->oldest->touched_us > c->ttl_ms * 1000)
            remove_entry(c, s, s->oldest);
        pthread_mutex_unlock(&s->lock);
    }
    atomic_store(&c->sweeping, false);
}

/* ---- player events ---- */

enum player_ev { P_OPEN, P_PLAY, P_PAUSE, P_SEEK, P_PROGRESS, P_QUALITY, P_COMPLETE, P_CLOSE,
                 P_OTHER };

static enum player_ev parse_player_ev(const char *s)
{
    static const char *const names[] = { "open",     "play",           "pause",    "seek",
                                          "progress", "quality_change", "complete", "close" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(s, names[i]) == 0)
            return (enum player_ev)i;
    return P_OTHER;
}

/* The fields read from a player event, by index. The strings come first. */
enum { F_EVENT, F_MOVIE, F_SESSION, F_USER, F_ANON, F_TS, NSTR, F_POS = NSTR, F_DUR, NFIELDS };
static const char *const field_names[NFIELDS] = {
    "event", "movie_id", "session_id", "user_id", "anonymous_id", "ts", "position_s", "duration_s",
};

/* What the detector reads of an event (uf_event_fields): the strings, then the numbers; from a
 * raw text the members stay in r.m for the view's copies. */
_Static_assert(NFIELDS <= UF_FIELDS_MAX, "field_names fits struct uf_fields");

static int64_t event_time(const struct vd_ctx *c, const struct uf_fields *r,
                          const struct uf_event *ev)
{
    int64_t us;
    if (c->clock == 0 && uf_time_parse(r->str[F_TS], &us))
        return us;
    return ev->received_us;
}

/* Applies one player event at position pos (NAN when absent); true when a view is due now. */
static bool apply(const struct vd_ctx *c, struct vd_entry *e, enum player_ev pe, double pos,
                  int64_t t)
{
    bool has_pos = !isnan(pos);
    if (pe == P_OPEN) {
        e->playing = false;
    } else if (e->playing && e->have_pos && has_pos && t > e->at_us) {
        double moved = pos - e->pos_s, elapsed = (double)(t - e->at_us) / 1e6;
        if (moved > 0)
            e->watched_s += moved < elapsed ? moved : elapsed;
    }
    if (pe == P_PLAY || pe == P_PROGRESS)
        e->playing = true;
    else if (pe == P_PAUSE || pe == P_CLOSE || pe == P_COMPLETE)
        e->playing = false;
    if (has_pos) {
        e->pos_s = pos;
        e->have_pos = true;
    }
    if (t > e->at_us || pe == P_OPEN)
        e->at_us = t;
    if (e->counted)
        return false;
    e->counted = pe == P_COMPLETE || e->watched_s * 1000 >= (double)c->min_watched_ms;
    return e->counted;
}

/* The value of a raw member as a jansson value (once per view, so a parse is cheap enough);
 * NULL for a number jansson cannot hold. */
static json_t *member_json(const struct uf_jmember *m)
{
    const char *text = m->type == UF_J_STRING ? m->val - 1 : m->val;
    size_t len = m->type == UF_J_STRING ? m->val_len + 2 : m->val_len;
    return json_loadb(text, len, JSON_DECODE_ANY, NULL);
}

/* Copies the viewer's and playback's fields of ev into the view, whatever their type. */
static void copy_fields(json_t *to, const struct uf_event *ev, const struct uf_fields *r)
{
    static const int keep[] = { F_MOVIE, F_SESSION, F_USER, F_ANON, F_POS, F_DUR, F_TS };
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
        const char *key = field_names[keep[i]];
        json_t *v = NULL;
        if (ev->body)
            v = json_incref(json_object_get(ev->body, key));
        else if (r->m[keep[i]].key)
            v = member_json(&r->m[keep[i]]);
        if (v)
            json_object_set_new(to, key, v);
    }
}

/* The movie.view event for the session of ev (a new, fire-and-forget event). */
static struct uf_event *make_view(const struct vd_ctx *c, const struct uf_event *ev,
                                  const struct uf_fields *r, double watched_s, bool completed)
{
    struct uf_event *view = uf_event_new(json_object());
    char buf[UF_UUID_STR > 32 ? UF_UUID_STR : 32];
    uf_event_set_str(view, "type", c->view_type);
    uf_uuid_format(view->id, buf);
    uf_event_set_str(view, "event_id", buf);
    uf_time_format(view->received_us, buf);
    uf_event_set_str(view, "received_at", buf);
    copy_fields(view->body, ev, r);
    json_object_set_new(view->body, "watched_s", json_real(round(watched_s * 1000) / 1000));
    json_object_set_new(view->body, "completed", json_boolean(completed));
    if (ev->user)
        uf_event_set_user(view, ev->user);
    return view;
}

/* The session key, or false when ev is not a player event. */
static bool session_key(const struct uf_fields *r, const char *user, char *out, size_t size)
{
    if (!r->str[F_MOVIE] || !r->str[F_SESSION] || !r->str[F_EVENT])
        return false;
    const char *viewer = r->str[F_USER];
    if (!viewer)
        viewer = user;
    if (!viewer)
        viewer = r->str[F_ANON];
    const char *part[3] = { viewer ? viewer : "", r->str[F_MOVIE], r->str[F_SESSION] };
    size_t at = 0;
    for (int i = 0; i < 3; i++) { /* viewer \x1f movie \x1f session, as snprintf would, but
                                   * without its cost on every player event */
        size_t n = strlen(part[i]);
        if (at + n + 1 > size)
            return false;
        memcpy(out + at, part[i], n);
        at += n;
        out[at++] = i < 2 ? '\x1f' : '\0';
    }
    return true;
}

/* Updates the session of a player event; true when its view is due now (*watched set). */
static bool track(struct vd_ctx *c, const char *key, enum player_ev pe, double pos, int64_t t,
                  double *watched)
{
    int64_t now = uf_now_us();
    uint64_t h = uf_hash_str(UF_HASH_SEED, key);
    struct vd_stripe *s = &c->stripes[h % STRIPES];
    pthread_mutex_lock(&s->lock);
    struct vd_entry *e = lookup(c, s, key, h);
    e->touched_us = now;
    bool due = apply(c, e, pe, pos, t);
    *watched = e->watched_s;
    pthread_mutex_unlock(&s->lock);
    sweep(c, now);
    return due;
}

static void vd_process(struct uf_stage *st, void *ctx, struct uf_event *ev)
{
    struct vd_ctx *c = ctx;
    struct uf_fields r;
    if (!uf_event_fields(ev, field_names, NSTR, NFIELDS, &r)) {
        uf_event_fail(ev, 400, "malformed_json", "the event is not one JSON object");
        return;
    }
    char key[512];
    enum player_ev pe = P_OTHER;
    if (session_key(&r, ev->user, key, sizeof key))
        pe = parse_player_ev(r.str[F_EVENT]);
    double watched;
    struct uf_event *view = NULL;
    if (pe != P_OTHER && track(c, key, pe, r.num[F_POS], event_time(c, &r, ev), &watched))
        view = make_view(c, ev, &r, watched, pe == P_COMPLETE);
    uf_fields_free(&r);
    uf_emit(st, ev);
    if (view) {
        atomic_fetch_add(c->m_views, 1);
        uf_emit(st, view);
    }
}

static void vd_destroy(void *ctx)
{
    struct vd_ctx *c = ctx;
    for (size_t i = 0; i < STRIPES; i++) {
        struct vd_stripe *s = &c->stripes[i];
        if (!s->buckets)
            continue;
        for (struct vd_entry *e = s->oldest, *newer; e; e = newer) {
            newer = e->newer;
            free(e->key);
            free(e);
        }
        free(s->buckets);
        pthread_mutex_destroy(&s->lock);
    }
}

const struct uf_kind uf_transform_view_detector = {
    .name = "view_detector",
    .role = UF_TRANSFORM,
    .summary = "Emit one movie.view per viewer, movie and session after enough watched time",
    .options = vd_options,
    .ctx_size = sizeof(struct vd_ctx),
    .init = vd_init,
    .process = vd_process,
    .destroy = vd_destroy,
    .takes_raw = true,
};
