/* viz/deploy_poll.c: the deployment poller (see deploy_poll.h). The fetches run outside the
 * mutex, one after another on one curl handle: refused connections fail at once, and a process
 * that hangs costs its 500 ms timeout, so a poll stays near a second even with one stuck
 * process. The thread sleeps on a condition variable so that free() wakes it at once. */
#include "viz/deploy_poll.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "framework/clock.h"
#include "framework/mem.h"
#include "viz/deploy_live.h"
#include "viz/fetch.h"

#define FETCH_TIMEOUT_MS 500L

struct uf_deploy_poll {
    json_t *model, *layout;
    struct uf_deploy_live *live;
    uf_deploy_status_fn status;
    void *status_ctx;
    int64_t interval_ms;
    pthread_t thread;
    bool started, stop;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* signalled on stop and when a text is ready */
    char *text;
};

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct uf_deploy_poll *uf_deploy_poll_new(json_t *model, json_t *layout, uf_deploy_status_fn status,
                                          void *status_ctx)
{
    struct uf_deploy_poll *p = uf_xcalloc(1, sizeof *p);
    p->model = model;
    p->layout = layout;
    p->live = uf_deploy_live_new(model);
    p->status = status;
    p->status_ctx = status_ctx;
    pthread_mutex_init(&p->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cv, &ca);
    pthread_condattr_destroy(&ca);
    return p;
}

/* One round: fetch every process, join, publish the text. */
static void poll_once(struct uf_deploy_poll *p, CURL *curl)
{
    const json_t *procs = json_object_get(p->model, "processes");
    size_t n = json_array_size(procs);
    json_t **graphs = uf_xcalloc(n ? n : 1, sizeof *graphs);
    char(*why)[CURL_ERROR_SIZE] = uf_xcalloc(n ? n : 1, sizeof *why);
    const char **whyp = uf_xcalloc(n ? n : 1, sizeof *whyp);
    for (size_t i = 0; i < n; i++) {
        const char *admin = json_string_value(json_object_get(json_array_get(procs, i), "admin"));
        graphs[i] =
            uf_fetch_json(curl, admin, "/api/graph", FETCH_TIMEOUT_MS, why[i], sizeof why[i]);
        whyp[i] = why[i];
    }
    json_t *d = uf_deploy_live_update(p->live, (const json_t *const *)graphs, whyp, wall_ms());
    for (size_t i = 0; p->status && i < n; i++) {
        json_t *pj = json_array_get(json_object_get(d, "processes"), i);
        p->status(p->status_ctx, json_string_value(json_object_get(pj, "name")), pj);
    }
    json_object_set(d, "layout", p->layout ? p->layout : json_null());
    char *text = json_dumps(d, JSON_COMPACT);
    json_decref(d);
    for (size_t i = 0; i < n; i++)
        json_decref(graphs[i]);
    free(graphs);
    free(why);
    free(whyp);
    pthread_mutex_lock(&p->mu);
    free(p->text);
    p->text = text;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

static void *poll_thread(void *arg)
{
    struct uf_deploy_poll *p = arg;
    CURL *curl = curl_easy_init();
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        pthread_mutex_unlock(&p->mu);
        poll_once(p, curl);
        pthread_mutex_lock(&p->mu);
        struct timespec until = uf_clock_after(CLOCK_MONOTONIC, p->interval_ms * 1000);
        uf_cond_sleep_until(&p->cv, &p->mu, &p->stop, &until);
    }
    pthread_mutex_unlock(&p->mu);
    curl_easy_cleanup(curl);
    return NULL;
}

int uf_deploy_poll_start(struct uf_deploy_poll *p, int64_t interval_ms, struct uf_err *err)
{
    p->interval_ms = interval_ms;
    if (pthread_create(&p->thread, NULL, poll_thread, p) != 0)
        return uf_err_set(err, UF_EIO, "deployment poller: cannot start its thread");
    p->started = true;
    return 0;
}

char *uf_deploy_poll_text(struct uf_deploy_poll *p, int64_t wait_ms)
{
    pthread_mutex_lock(&p->mu);
    struct timespec until = uf_clock_after(CLOCK_MONOTONIC, wait_ms * 1000);
    while (!p->text && !p->stop && pthread_cond_timedwait(&p->cv, &p->mu, &until) == 0) {
    }
    char *s = p->text ? uf_xstrdup(p->text) : NULL;
    pthread_mutex_unlock(&p->mu);
    return s;
}

void uf_deploy_poll_free(struct uf_deploy_poll *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    if (p->started)
        pthread_join(p->thread, NULL);
    uf_deploy_live_free(p->live);
    json_decref(p->model);
    json_decref(p->layout);
    free(p->text);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}
