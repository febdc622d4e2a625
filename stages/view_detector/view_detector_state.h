/* view_detector_state.h: where the view detector keeps its sessions across restarts: a
 * PostgreSQL table (view_sessions, made by the UGC store's migrations), written in batches of
 * the sessions changed since the last checkpoint and read back at start. One connection, used
 * by one thread at a time (the checkpoint thread, or start before it runs); it reconnects by
 * itself after a failure. */
#ifndef UF_VIEW_DETECTOR_STATE_H
#define UF_VIEW_DETECTOR_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "framework/err.h"

/* One session as saved: what the detector needs to go on counting it. */
struct uf_view_detector_saved {
    char *key; /* viewer \x1f movie \x1f session */
    double watched_s, pos_s;
    int64_t at_us;  /* event time of its last event, UTC microseconds */
    int64_t age_ms; /* loaded: how long ago it was last touched */
    bool playing, have_pos, counted;
};

struct uf_view_detector_store;

/* table is schema-qualified and quoted. Does no I/O. */
struct uf_view_detector_store *uf_view_detector_store_new(const char *dsn, const char *table,
                                                          int64_t connect_timeout_ms);
void uf_view_detector_store_free(struct uf_view_detector_store *s);

typedef void (*uf_view_detector_load_fn)(void *arg, const struct uf_view_detector_saved *v);
/* Calls fn for each session touched within ttl_ms, newest first, at most max of them. */
int uf_view_detector_store_load(struct uf_view_detector_store *s, int64_t ttl_ms, int64_t max,
                                uf_view_detector_load_fn fn, void *arg, struct uf_err *err);
/* Upserts n sessions (newest wins by at_us, so a stale checkpoint never undoes a newer one). */
int uf_view_detector_store_save(struct uf_view_detector_store *s,
                                const struct uf_view_detector_saved *v, size_t n,
                                struct uf_err *err);
/* Deletes the sessions untouched for ttl_ms. */
int uf_view_detector_store_expire(struct uf_view_detector_store *s, int64_t ttl_ms,
                                  struct uf_err *err);

#endif
