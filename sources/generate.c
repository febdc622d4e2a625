/* sources/generate.c: the `generate` source: synthetic events, at a rate or as fast as possible.
 * Used by benchmarks, demos and tests of the engine. Each thread emits copies of the `template`
 * object with a sequence number; with `count` the source finishes (and the process shuts down
 * gracefully once every source is done). Rate limiting sleeps in ~1 ms slices, so a rate is
 * kept on average, not per event. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "framework/mem.h"
#include "framework/stage.h"

struct gen_ctx {
    double rate;   /* events/s across all threads; 0 = as fast as possible */
    int64_t count; /* total events; 0 = unlimited */
    int64_t threads;
    json_t *tmpl;
    const char *seq_field;
    pthread_t *tids;
    atomic_int_fast64_t next; /* next sequence number to hand out */
    atomic_bool stop;
    struct uf_stage *st;
};

static const struct uf_option gen_options[] = {
    { .name = "rate",
      .type = UF_OPT_FLOAT,
      .def = "0",
      .min = 0,
      .max = 100000000,
      .desc = "Events per second across all threads; 0 emits as fast as possible",
      .offset = offsetof(struct gen_ctx, rate) },
    { .name = "count",
      .type = UF_OPT_INT,
      .def = "0",
      .min = 0,
      .max = INT64_MAX / 2,
      .desc = "Total events to emit before the source finishes; 0 never finishes",
      .offset = offsetof(struct gen_ctx, count) },
    { .name = "threads",
      .type = UF_OPT_INT,
      .def = "1",
      .min = 1,
      .max = 64,
      .desc = "Emitting threads",
      .offset = offsetof(struct gen_ctx, threads) },
    { .name = "template",
      .type = UF_OPT_MAP,
      .def = "{\"message\": \"hello\"}",
      .desc = "Object every event starts from",
      .offset = offsetof(struct gen_ctx, tmpl) },
    { .name = "seq_field",
      .type = UF_OPT_STR,
      .def = "seq",
      .desc = "Field that receives the event's sequence number (empty: none)",
      .offset = offsetof(struct gen_ctx, seq_field) },
    { 0 }
};

/* Sleeps until `emitted` events fit the rate since `t0`. */
static void pace(const struct gen_ctx *g, int64_t t0, int64_t emitted)
{
    if (g->rate <= 0)
        return;
    double per_thread = g->rate / (double)g->threads;
    int64_t due = t0 + (int64_t)((double)emitted * 1e6 / per_thread);
    int64_t now = uf_now_us();
    if (due > now + 1000) {
        struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)((due - now) * 1000) };
        if (ts.tv_nsec >= 1000000000L)
            ts = (struct timespec){ .tv_sec = (due - now) / 1000000,
                                    .tv_nsec = (long)((due - now) % 1000000) * 1000 };
        nanosleep(&ts, NULL);
    }
}

static void *gen_thread(void *arg)
{
    struct gen_ctx *g = arg;
    int64_t t0 = uf_now_us(), emitted = 0;
    while (!atomic_load_explicit(&g->stop, memory_order_relaxed)) {
        int64_t seq = atomic_fetch_add_explicit(&g->next, 1, memory_order_relaxed);
        if (g->count && seq >= g->count)
            break;
        struct uf_event *ev = uf_event_new(json_deep_copy(g->tmpl));
        if (*g->seq_field)
            json_object_set_new(uf_event_body(ev), g->seq_field, json_integer(seq));
        uf_event_set_source(ev, uf_stage_name(g->st));
        uf_emit(g->st, ev);
        pace(g, t0, ++emitted);
    }
    return NULL;
}

static void *gen_waiter(void *arg)
{
    struct gen_ctx *g = arg;
    for (int64_t i = 0; i < g->threads; i++)
        pthread_join(g->tids[i], NULL);
    if (!atomic_load(&g->stop))
        uf_stage_source_done(g->st);
    return NULL;
}

static int gen_start(struct uf_stage *st, void *ctx, struct uf_err *err)
{
    struct gen_ctx *g = ctx;
    g->st = st;
    g->tids = uf_xcalloc((size_t)g->threads + 1, sizeof *g->tids);
    for (int64_t i = 0; i < g->threads; i++)
        pthread_create(&g->tids[i], NULL, gen_thread, g);
    pthread_create(&g->tids[g->threads], NULL, gen_waiter, g);
    return 0;
}

static void gen_stop(struct uf_stage *st, void *ctx)
{
    struct gen_ctx *g = ctx;
    atomic_store(&g->stop, true);
    pthread_join(g->tids[g->threads], NULL); /* the waiter joins the emitting threads */
}

static void gen_destroy(void *ctx)
{
    struct gen_ctx *g = ctx;
    free(g->tids);
}

const struct uf_kind uf_source_generate = {
    .name = "generate",
    .role = UF_SOURCE,
    .summary = "Emit synthetic events at a rate or as fast as possible",
    .options = gen_options,
    .ctx_size = sizeof(struct gen_ctx),
    .start = gen_start,
    .stop = gen_stop,
    .destroy = gen_destroy,
};
