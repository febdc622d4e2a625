/* queue.c: bounded MPMC ring of event pointers (see queue.h).
 * One mutex and two condition variables: a batch pop moves up to `max` pointers per lock
 * round trip, which is what keeps a queue hop cheap at high rates. Producers wake a consumer
 * only when the queue was empty, and consumers wake producers only when it was full, so the
 * common case makes no futex calls. */
#include "framework/queue.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "framework/clock.h"
#include "framework/err.h"
#include "framework/mem.h"

struct uf_queue {
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
    struct uf_event **ring;
    size_t cap, head, count;
    size_t waiting_producers, waiting_consumers;
    bool closed;
};

struct uf_queue *uf_queue_new(size_t capacity)
{
    struct uf_queue *q = uf_xcalloc(1, sizeof *q);
    q->cap = capacity ? capacity : 1;
    q->ring = uf_xcalloc(q->cap, sizeof *q->ring);
    pthread_mutex_init(&q->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->not_empty, &ca);
    pthread_cond_init(&q->not_full, &ca);
    pthread_condattr_destroy(&ca);
    return q;
}

void uf_queue_free(struct uf_queue *q)
{
    if (!q)
        return;
    pthread_cond_destroy(&q->not_empty);
    pthread_cond_destroy(&q->not_full);
    pthread_mutex_destroy(&q->mu);
    free(q->ring);
    free(q);
}

int uf_queue_push(struct uf_queue *q, struct uf_event *ev, bool block)
{
    pthread_mutex_lock(&q->mu);
    while (!q->closed && q->count == q->cap) {
        if (!block) {
            pthread_mutex_unlock(&q->mu);
            return UF_EFULL;
        }
        q->waiting_producers++;
        pthread_cond_wait(&q->not_full, &q->mu);
        q->waiting_producers--;
    }
    if (q->closed) {
        pthread_mutex_unlock(&q->mu);
        return UF_ECLOSED;
    }
    q->ring[(q->head + q->count) % q->cap] = ev;
    q->count++;
    if (q->waiting_consumers)
        pthread_cond_signal(&q->not_empty);
    pthread_mutex_unlock(&q->mu);
    return 0;
}

size_t uf_queue_pop(struct uf_queue *q, struct uf_event **out, size_t max, int timeout_ms)
{
    struct timespec dl = timeout_ms > 0
                             ? uf_clock_after(CLOCK_MONOTONIC, (int64_t)timeout_ms * 1000)
                             : (struct timespec){ 0 };
    pthread_mutex_lock(&q->mu);
    while (q->count == 0 && !q->closed && timeout_ms != 0) {
        q->waiting_consumers++;
        int rc = timeout_ms < 0 ? pthread_cond_wait(&q->not_empty, &q->mu)
                                : pthread_cond_timedwait(&q->not_empty, &q->mu, &dl);
        q->waiting_consumers--;
        if (rc != 0)
            break;
    }
    size_t n = q->count < max ? q->count : max;
    for (size_t i = 0; i < n; i++) {
        out[i] = q->ring[q->head];
        q->head = (q->head + 1) % q->cap;
    }
    q->count -= n;
    if (n && q->waiting_producers)
        pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->mu);
    return n;
}

void uf_queue_close(struct uf_queue *q)
{
    pthread_mutex_lock(&q->mu);
    q->closed = true;
    pthread_cond_broadcast(&q->not_empty);
    pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->mu);
}

bool uf_queue_is_drained(struct uf_queue *q)
{
    pthread_mutex_lock(&q->mu);
    bool r = q->closed && q->count == 0;
    pthread_mutex_unlock(&q->mu);
    return r;
}

size_t uf_queue_depth(struct uf_queue *q)
{
    pthread_mutex_lock(&q->mu);
    size_t n = q->count;
    pthread_mutex_unlock(&q->mu);
    return n;
}
