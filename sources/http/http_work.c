/* http_work.c: the http source's batch workers (option `batch_workers`). A request of a batch or
 * split_array route with at least `offload_items` items is handed over: the listener suspends
 * its connection and queues it, a worker emits its events and settles it (http_req_work), and
 * the completion resumes the connection for the listener to answer. So one listener thread
 * serves single events while the workers take big batches on the other cores. The queue holds
 * four requests per worker; when full, the listener emits the request itself, so a stalled
 * pipeline still slows clients down. docs/architecture.md, "sources/http". */
#include <stdlib.h>

#include "sources/http/http_int.h"

static void *worker_main(void *arg)
{
    struct http_ctx *hc = arg;
    pthread_mutex_lock(&hc->work_lock);
    for (;;) {
        while (!hc->work_head && !hc->work_stop)
            pthread_cond_wait(&hc->work_cond, &hc->work_lock);
        struct http_req *req = hc->work_head;
        if (!req) /* stopping, and nothing left */
            break;
        hc->work_head = req->work_next;
        if (!hc->work_head)
            hc->work_tail = NULL;
        hc->work_len--;
        req->work_next = NULL;
        pthread_mutex_unlock(&hc->work_lock);
        http_req_work(req);
        http_req_unref(req); /* the queue's reference */
        pthread_mutex_lock(&hc->work_lock);
    }
    pthread_mutex_unlock(&hc->work_lock);
    return NULL;
}

void http_work_init(struct http_ctx *hc)
{
    pthread_mutex_init(&hc->work_lock, NULL);
    pthread_cond_init(&hc->work_cond, NULL);
}

int http_work_start(struct http_ctx *hc, struct uf_err *err)
{
    hc->work_stop = false;
    for (int64_t i = 0; i < hc->batch_workers; i++) {
        if (pthread_create(&hc->workers[hc->nworkers], NULL, worker_main, hc) != 0)
            return uf_err_set(err, UF_EIO, "cannot start batch worker %lld", (long long)i);
        hc->nworkers++;
    }
    return 0;
}

bool http_work_offload(struct http_req *req, struct uf_event **evs)
{
    struct http_ctx *hc = req->hc;
    bool many = req->route->batch || req->route->split_array;
    if (!hc->nworkers || !many || !req->route->wait || req->nevents == 0 ||
        (int64_t)req->nitems < hc->offload_items)
        return false;
    pthread_mutex_lock(&hc->work_lock);
    if (hc->work_len >= 4 * hc->nworkers) {
        pthread_mutex_unlock(&hc->work_lock);
        return false;
    }
    req->work = evs;
    atomic_fetch_add_explicit(hc->m_offloaded, 1, memory_order_relaxed);
    atomic_fetch_add(&req->refs, 1); /* the queue's, released by the worker */
    atomic_fetch_add(&hc->suspended, 1);
    /* Suspended before a worker can see it (and resume it); MHD's lock nests inside ours. */
    MHD_suspend_connection(req->conn);
    hc->work_len++;
    if (hc->work_tail)
        hc->work_tail->work_next = req;
    else
        hc->work_head = req;
    hc->work_tail = req;
    pthread_cond_signal(&hc->work_cond);
    pthread_mutex_unlock(&hc->work_lock);
    return true;
}

void http_work_stop(struct http_ctx *hc)
{
    pthread_mutex_lock(&hc->work_lock);
    hc->work_stop = true;
    pthread_cond_broadcast(&hc->work_cond);
    pthread_mutex_unlock(&hc->work_lock);
    for (size_t i = 0; i < hc->nworkers; i++)
        pthread_join(hc->workers[i], NULL);
    hc->nworkers = 0;
}

void http_work_destroy(struct http_ctx *hc)
{
    pthread_mutex_destroy(&hc->work_lock);
    pthread_cond_destroy(&hc->work_cond);
}
