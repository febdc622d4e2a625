/* queue.h: a bounded multi-producer multi-consumer queue of event pointers.
 * Used only at asynchronous boundaries (sinks and components with a `buffer`). A full queue
 * either blocks the producer or rejects the push, as the component's policy says. Pops take up to
 * n events at once so that sinks receive batches with one lock round trip. After close, pushes
 * fail with UF_ECLOSED and pops drain what is left, then return 0. Thread-safe. */
#ifndef UF_QUEUE_H
#define UF_QUEUE_H

#include <stdbool.h>
#include <stddef.h>

struct uf_event;
struct uf_queue;

struct uf_queue *uf_queue_new(size_t capacity);
void uf_queue_free(struct uf_queue *q); /* the queue must be empty; accepts NULL */

/* Pushes ev. With block=true waits for room; with block=false returns UF_EFULL when full.
 * Returns UF_ECLOSED after close. On failure the caller keeps ownership of ev. */
int uf_queue_push(struct uf_queue *q, struct uf_event *ev, bool block);

/* Pops up to max events into out, waiting up to timeout_ms for the first one (-1: forever).
 * Returns the number popped; 0 on timeout or when closed and empty (see uf_queue_is_drained). */
size_t uf_queue_pop(struct uf_queue *q, struct uf_event **out, size_t max, int timeout_ms);

void uf_queue_close(struct uf_queue *q);
bool uf_queue_is_drained(struct uf_queue *q); /* closed and empty */
size_t uf_queue_depth(struct uf_queue *q);

#endif
