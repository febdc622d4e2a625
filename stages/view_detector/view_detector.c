/* view_detector.c: the `view_detector` transform: counts a movie view once per viewer, movie and
 * playback session, when `min_watched` seconds were watched (position deltas while playing,
 * bounded by the time between events) or the player reported `complete`, and emits one
 * `movie.view` event (fire-and-forget; its id is a UUIDv5 of the session, so a view counted
 * twice is one row); every event passes through unchanged. Sessions live in lock-striped hash
 * tables with an LRU list each (process() runs on several threads), bounded by `ttl` and
 * `max_entries`; with `state_dsn` a thread saves the changed ones about once a second and start
 * reads them back (view_detector_state.h). docs/stat.md has the rules. */
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

#include "framework/clock.h"
#include "framework/event.h"
#include "framework/hash.h"
#include "framework/jscan.h"
#include "framework/log.h"
#include "framework/mem.h"
#include "framework/metrics.h"
#include "framework/pg.h"
#include "framework/pg_migrate.h"
#include "framework/stage.h"
#include "framework/timefmt.h"
#include "framework/uuid.h"
#include "stages/view_detector/view_detector_state.h"

#define STRIPES 64
#define SWEEP_EVERY_US 1000000

struct vd_entry {
    char *key;
    uint64_t hash;
    struct vd_entry *next;          /* hash chain */
    struct vd_entry *newer, *older; /* LRU list of the stripe */
    double watched_s, pos_s;
    int64_t at_us;      /* event time of the last event */
    int64_t touched_us; /* monotonic, for the TTL */
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
    char *state_dsn, *state_schema, *state_table, *state_migrations;
    int64_t checkpoint_ms;

    struct uf_stage *st;
    struct uf_pg_migrations migrations; /* read at init */
    struct vd_stripe stripes[STRIPES];
    size_t stripe_max;
    atomic_bool sweeping;
    _Atomic int64_t next_sweep_us;
    _Atomic int64_t *m_entries, *m_views, *m_evicted, *m_saved, *m_save_failed, *m_loaded;
    /* The checkpoint thread, when state_dsn is set. */
    struct uf_view_detector_store *store;
    pthread_t ckpt_thread;
    bool ckpt_started, ckpt_stop; /* ckpt_stop under ckpt_lock */
    pthread_mutex_t ckpt_lock;
    pthread_cond_t ckpt_cond;
    int64_t saved_upto_us; /* sessions touched since this (monotonic) are not saved yet */
};

static const char *const clock_values[] = { "client", "server", NULL };

static const struct uf_option vd_options[] = {
    { .name = "min_watched",
      .type = UF_OPT_DURATION,
      .def = "30s",
      .min = 1,
      .max = 86400000,
      .desc = "Watched time that makes a view",
      .offset = offsetof(struct vd_ctx, min_watched_ms) },
    { .name = "ttl",
      .type = UF_OPT_DURATION,
      .def = "4h",
      .min = 1,
      .max = 7 * 86400000LL,
      .desc = "A session's state is forgotten after this long without events",
      .offset = offsetof(struct vd_ctx, ttl_ms) },
    { .name = "max_entries",
      .type = UF_OPT_INT,
      .def = "1000000",
      .min = STRIPES,
      .max = 100000000,
      .desc = "Most sessions tracked at once; the least recent go first",
      .offset = offsetof(struct vd_ctx, max_entries) },
    { .name = "view_type",
      .type = UF_OPT_STR,
      .def = "movie.view",
      .desc = "The type field of the emitted view events",
      .offset = offsetof(struct vd_ctx, view_type) },
    { .name = "clock",
      .type = UF_OPT_ENUM,
      .def = "client",
      .values = clock_values,
      .desc = "Event time: the client's ts when it sent a valid one, or always the server's",
      .offset = offsetof(struct vd_ctx, clock) },
    { .name = "state_dsn",
      .type = UF_OPT_STR,
      .flags = UF_OPT_SECRET,
      .desc = "PostgreSQL holding the sessions across restarts (unset: memory only)",
      .offset = offsetof(struct vd_ctx, state_dsn) },
    { .name = "state_schema",
      .type = UF_OPT_STR,
      .def = "public",
      .desc = "Schema of the sessions table (the UGC store's `schema`, whose migrations make it)",
      .offset = offsetof(struct vd_ctx, state_schema) },
    { .name = "state_table",
      .type = UF_OPT_STR,
      .def = "view_sessions",
      .desc = "Table of the sessions saved",
      .offset = offsetof(struct vd_ctx, state_table) },
    { .name = "state_migrations",
      .type = UF_OPT_STR,
      .desc = "Folder of the state schema's NNNN_name.sql migrations, which make the table "
              "(relative to the config file; unset: none)",
      .offset = offsetof(struct vd_ctx, state_migrations) },
    { .name = "checkpoint_interval",
      .type = UF_OPT_DURATION,
      .def = "1s",
      .min = 10,
      .max = 600000,
      .desc = "How often the sessions changed since the last save are saved",
      .offset = offsetof(struct vd_ctx, checkpoint_ms) },
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
    c->m_evicted =
        uf_metrics_extra(m, UF_METRIC_COUNTER, "view_state_evicted_total",
                         "Sessions forgotten because max_entries was reached", NULL, NULL);
    c->m_saved = uf_metrics_extra(m, UF_METRIC_COUNTER, "view_state_saved_total",
                                  "Sessions saved to PostgreSQL", NULL, NULL);
    c->m_save_failed =
        uf_metrics_extra(m, UF_METRIC_COUNTER, "view_state_save_failures_total",
                         "Checkpoints that failed (retried at the next one)", NULL, NULL);
    c->m_loaded = uf_metrics_extra(m, UF_METRIC_GAUGE, "view_state_loaded",
                                   "Sessions read back from PostgreSQL at start", NULL, NULL);
    pthread_mutex_init(&c->ckpt_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->ckpt_cond, &ca);
    pthread_condattr_destroy(&ca);
    if (c->state_dsn && (!c->state_schema[0] || !c->state_table[0]))
        return uf_err_set(err, UF_EINVAL, "state_schema and state_table must not be empty");
    uf_pg_migrations_option(st, "state_migrations", c->state_migrations, &c->migrations);
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
static struct vd_entry *lookup(struct vd_ctx *c, struct vd_stripe *s, const char *key, uint64_t h)
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

enum player_ev {
    P_OPEN,
    P_PLAY,
    P_PAUSE,
    P_SEEK,
    P_PROGRESS,
    P_QUALITY,
    P_COMPLETE,
    P_CLOSE,
    P_OTHER
};

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

/* What the detector reads of an event (uf_event_fields): the strings, then the numbers. */
_Static_assert(NFIELDS <= UF_FIELDS_MAX, "field_names fits struct uf_fields");

static int64_t event_time(const struct vd_ctx *c, const struct uf_fields *r,
                          const struct uf_event *ev)
{
    int64_t us;
    if (c->clock == 0 && uf_time_parse(r->str[F_TS], &us))
        return us;
    return uf_event_received_us(ev);
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

/* Copies the viewer's and playback's fields of ev into the view, whatever their type. */
static void copy_fields(json_t *to, struct uf_event *ev)
{
    static const int keep[] = { F_MOVIE, F_SESSION, F_USER, F_ANON, F_POS, F_DUR, F_TS };
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
        const char *key = field_names[keep[i]];
        json_t *v = uf_event_get_value(ev, key);
        if (v)
            json_object_set_new(to, key, v);
    }
}

/* The namespace of view ids: uuid5(it, session key) is a session's one view, so a view counted
 * again (after a restart that lost the session's `counted`) is the same row in ClickHouse. */
static const uint8_t view_ns[16] = { 0x6d, 0x2a, 0x51, 0x0e, 0x8c, 0x33, 0x4f, 0x71,
                                     0x9a, 0x05, 0x3b, 0xd2, 0x47, 0xe8, 0x16, 0xc9 };

/* The movie.view event for the session of ev (a new, fire-and-forget event). */
static struct uf_event *make_view(const struct vd_ctx *c, struct uf_event *ev, const char *key,
                                  double watched_s, bool completed)
{
    json_t *body = json_object();
    struct uf_event *view = uf_event_new(body);
    char buf[UF_UUID_STR > 32 ? UF_UUID_STR : 32];
    uint8_t id[16];
    uf_event_set_str(view, "type", c->view_type);
    uf_uuid_v5(view_ns, key, strlen(key), id);
    uf_event_set_id(view, id);
    uf_uuid_format(id, buf);
    uf_event_set_str(view, "event_id", buf);
    uf_time_format(uf_event_received_us(view), buf);
    uf_event_set_str(view, "received_at", buf);
    copy_fields(body, ev);
    json_object_set_new(body, "watched_s", json_real(round(watched_s * 1000) / 1000));
    json_object_set_new(body, "completed", json_boolean(completed));
    if (uf_event_user(ev))
        uf_event_set_user(view, uf_event_user(ev));
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
    if (session_key(&r, uf_event_user(ev), key, sizeof key))
        pe = parse_player_ev(r.str[F_EVENT]);
    double watched;
    struct uf_event *view = NULL;
    if (pe != P_OTHER && track(c, key, pe, r.num[F_POS], event_time(c, &r, ev), &watched))
        view = make_view(c, ev, key, watched, pe == P_COMPLETE);
    uf_fields_free(&r);
    uf_emit(st, ev);
    if (view) {
        atomic_fetch_add(c->m_views, 1);
        uf_emit(st, view);
    }
}

/* ---- sessions across restarts (state_dsn) ---- */

struct saved_list {
    struct uf_view_detector_saved *v;
    size_t n, cap;
};

static void save_push(struct saved_list *l, const struct vd_entry *e)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 1024;
        l->v = uf_xrealloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n++] = (struct uf_view_detector_saved){ .key = uf_xstrdup(e->key),
                                                    .watched_s = e->watched_s,
                                                    .pos_s = e->pos_s,
                                                    .at_us = e->at_us,
                                                    .playing = e->playing,
                                                    .have_pos = e->have_pos,
                                                    .counted = e->counted };
}

/* Saves the sessions touched since the last save: the head of each stripe's LRU list. */
static void checkpoint(struct vd_ctx *c)
{
    int64_t started = uf_now_us();
    struct saved_list l = { 0 };
    for (size_t i = 0; i < STRIPES; i++) {
        struct vd_stripe *s = &c->stripes[i];
        pthread_mutex_lock(&s->lock);
        for (struct vd_entry *e = s->newest; e && e->touched_us >= c->saved_upto_us; e = e->older)
            save_push(&l, e);
        pthread_mutex_unlock(&s->lock);
    }
    struct uf_err err = { 0 };
    if (l.n == 0 || uf_view_detector_store_save(c->store, l.v, l.n, &err) == 0) {
        c->saved_upto_us = started; /* a failed save is retried whole by the next one */
        atomic_fetch_add(c->m_saved, (int64_t)l.n);
    } else {
        atomic_fetch_add(c->m_save_failed, 1);
        uf_log_limited(UF_LOG_WARN, c->st, "Sessions not saved; retrying.", "err", err.msg);
    }
    for (size_t i = 0; i < l.n; i++)
        free(l.v[i].key);
    free(l.v);
}

static void *checkpoint_main(void *arg)
{
    struct vd_ctx *c = arg;
    int64_t next_expire = uf_now_us();
    pthread_mutex_lock(&c->ckpt_lock);
    while (!c->ckpt_stop) {
        struct timespec ts = uf_clock_after(CLOCK_MONOTONIC, c->checkpoint_ms * 1000);
        if (!uf_cond_sleep_until(&c->ckpt_cond, &c->ckpt_lock, &c->ckpt_stop, &ts))
            break;
        pthread_mutex_unlock(&c->ckpt_lock);
        checkpoint(c);
        if (uf_now_us() >= next_expire) {
            uf_view_detector_store_expire(c->store, c->ttl_ms, NULL);
            next_expire = uf_now_us() + 60 * 1000000LL;
        }
        pthread_mutex_lock(&c->ckpt_lock);
    }
    pthread_mutex_unlock(&c->ckpt_lock);
    checkpoint(c); /* the last changes, once stop() asked (even before the first interval) */
    return NULL;
}

static void restore(void *arg, const struct uf_view_detector_saved *v)
{
    struct vd_ctx *c = arg;
    uint64_t h = uf_hash_str(UF_HASH_SEED, v->key);
    struct vd_stripe *s = &c->stripes[h % STRIPES];
    pthread_mutex_lock(&s->lock);
    struct vd_entry *e = lookup(c, s, v->key, h);
    e->watched_s = v->watched_s;
    e->pos_s = v->pos_s;
    e->at_us = v->at_us;
    e->playing = v->playing;
    e->have_pos = v->have_pos;
    e->counted = v->counted;
    e->touched_us = uf_now_us() - v->age_ms * 1000;
    pthread_mutex_unlock(&s->lock);
    atomic_fetch_add(c->m_loaded, 1);
}

/* The schema's migrations (they make the sessions table), then the sessions. Without them the
 * detector still counts (only sessions spanning the restart may miss their view): the stat API
 * does not wait for PostgreSQL. */
static void restore_all(struct vd_ctx *c, const char *quoted_schema)
{
    struct uf_err err = { 0 };
    int applied = 0;
    PGconn *pg = uf_pg_connect(c->state_dsn, 2000, &err);
    int rc = pg ? uf_pg_migrate(pg, c->state_schema, quoted_schema, &c->migrations, &applied, &err)
                : UF_EIO;
    PQfinish(pg);
    if (rc == 0)
        rc = uf_view_detector_store_load(c->store, c->ttl_ms, c->max_entries, restore, c, &err);
    char n[24];
    snprintf(n, sizeof n, "%lld", (long long)atomic_load(c->m_loaded));
    if (rc != 0)
        uf_log(UF_LOG_WARN, c->st, "Sessions not restored.", "err", err.msg);
    else
        uf_log(UF_LOG_INFO, c->st, "Sessions restored.", "sessions", n);
}

static int vd_start(struct uf_stage *st, void *ctx, struct uf_err *err)
{
    struct vd_ctx *c = ctx;
    if (!c->state_dsn)
        return 0;
    char *qs = uf_pg_quote_ident(c->state_schema), *qt = uf_pg_quote_ident(c->state_table);
    char *table = uf_xasprintf("%s.%s", qs, qt);
    c->store = uf_view_detector_store_new(c->state_dsn, table, 2000);
    restore_all(c, qs);
    free(qs);
    free(qt);
    free(table);
    c->saved_upto_us = uf_now_us(); /* what was just loaded is saved already */
    if (pthread_create(&c->ckpt_thread, NULL, checkpoint_main, c) != 0)
        return uf_err_set(err, UF_EIO, "start the checkpoint thread");
    c->ckpt_started = true;
    return 0;
}

/* Upstream has stopped: the checkpoint thread saves the last changes and ends. */
static void vd_stop(struct uf_stage *st, void *ctx)
{
    struct vd_ctx *c = ctx;
    if (!c->ckpt_started)
        return;
    pthread_mutex_lock(&c->ckpt_lock);
    c->ckpt_stop = true;
    pthread_cond_broadcast(&c->ckpt_cond);
    pthread_mutex_unlock(&c->ckpt_lock);
    pthread_join(c->ckpt_thread, NULL);
    c->ckpt_started = false;
}

static void vd_destroy(void *ctx)
{
    struct vd_ctx *c = ctx;
    vd_stop(c->st, c); /* started but never stopped (another stage's start failed) */
    uf_pg_migrations_free(&c->migrations);
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
    uf_view_detector_store_free(c->store);
    if (c->st) {
        pthread_mutex_destroy(&c->ckpt_lock);
        pthread_cond_destroy(&c->ckpt_cond);
    }
}

const struct uf_kind uf_transform_view_detector = {
    .name = "view_detector",
    .role = UF_TRANSFORM,
    .summary = "Emit one movie.view per viewer, movie and session after enough watched time",
    .options = vd_options,
    .ctx_size = sizeof(struct vd_ctx),
    .init = vd_init,
    .start = vd_start,
    .process = vd_process,
    .stop = vd_stop,
    .destroy = vd_destroy,
};
