/* http_forward.c: the `http_forward` sink: POSTs events as JSON arrays to an HTTP endpoint (e.g.
 * a stat API's /api/v1/events), in batches, over one keep-alive connection (libcurl). write()
 * copies each body into a bounded memory buffer or, once that is full, the disk spool, and
 * finishes the event at once; a sender thread posts the oldest first and retries with backoff.
 * Delivery is at least once: a segment cut short by a crash is posted again, and nothing here
 * removes the duplicates (a receiver collapses them only if the bodies carry an id it keys on).
 * A batch refused with a 4xx (but 408/429), and events beyond a full spool, are dropped and
 * counted. `lock` guards the buffer. docs/architecture.md, "sinks/http_forward". */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "framework/clock.h"
#include "framework/event.h"
#include "framework/log.h"
#include "framework/mem.h"
#include "framework/metrics.h"
#include "framework/options.h"
#include "framework/ready.h"
#include "framework/spool.h"
#include "framework/stage.h"
#include "framework/strbuf.h"

struct rec {
    struct rec *next;
    size_t len;
    char data[];
};

struct fwd_ctx {
    char *url;
    char *spool_dir;
    int64_t post_events, post_bytes, buffer_bytes, spool_bytes_max;
    int64_t timeout_ms, retry_min_ms, retry_max_ms;

    struct uf_stage *st;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct rec *head, *tail; /* memory buffer, oldest first */
    size_t mem_bytes;
    struct uf_spool *spool;       /* NULL without spool_dir */
    struct uf_spool_segment *seg; /* sender: the segment being posted, NULL when none */
    struct uf_spool_rec carry;    /* sender: a record read from seg that did not fit a batch */
    bool have_carry;
    bool stopping, sender_running;
    atomic_bool failing; /* the last POST failed: stop() spills instead of waiting */
    pthread_t sender;
    CURL *curl;
    struct curl_slist *headers;
    _Atomic int64_t *m_buffer, *m_spool, *m_sent, *m_spooled, *m_dropped, *m_rejected, *m_fail;
};

static const struct uf_option fwd_options[] = {
    { .name = "url",
      .type = UF_OPT_STR,
      .flags = UF_OPT_REQUIRED,
      .desc = "Endpoint receiving POSTed JSON arrays, e.g. "
              "http://127.0.0.1:8081/api/v1/events",
      .offset = offsetof(struct fwd_ctx, url) },
    { .name = "post_events",
      .type = UF_OPT_INT,
      .def = "500",
      .min = 1,
      .max = 100000,
      .desc = "Most events in one POST",
      .offset = offsetof(struct fwd_ctx, post_events) },
    { .name = "post_bytes",
      .type = UF_OPT_SIZE,
      .def = "512KiB",
      .min = 1024,
      .max = 64 << 20,
      .desc = "Most bytes of events in one POST; a larger event is dropped and "
              "counted",
      .offset = offsetof(struct fwd_ctx, post_bytes) },
    { .name = "buffer_bytes",
      .type = UF_OPT_SIZE,
      .def = "8MiB",
      .min = 1024,
      .max = 1LL << 32,
      .desc = "Memory for events not yet delivered; beyond it they go to the spool",
      .offset = offsetof(struct fwd_ctx, buffer_bytes) },
    { .name = "spool_dir",
      .type = UF_OPT_STR,
      .desc = "Directory spooling events that do not fit in memory; unset means drop "
              "(counted)",
      .offset = offsetof(struct fwd_ctx, spool_dir) },
    { .name = "spool_bytes_max",
      .type = UF_OPT_SIZE,
      .def = "1GiB",
      .min = 65536,
      .max = 1LL << 40,
      .desc = "Largest spool; beyond it events are dropped (counted)",
      .offset = offsetof(struct fwd_ctx, spool_bytes_max) },
    { .name = "timeout",
      .type = UF_OPT_DURATION,
      .def = "5s",
      .min = 10,
      .max = 600000,
      .desc = "Time allowed for one POST",
      .offset = offsetof(struct fwd_ctx, timeout_ms) },
    { .name = "retry_min",
      .type = UF_OPT_DURATION,
      .def = "100ms",
      .min = 1,
      .max = 600000,
      .desc = "First delay after a failed POST; doubles on each failure",
      .offset = offsetof(struct fwd_ctx, retry_min_ms) },
    { .name = "retry_max",
      .type = UF_OPT_DURATION,
      .def = "10s",
      .min = 1,
      .max = 3600000,
      .desc = "Longest delay between retries",
      .offset = offsetof(struct fwd_ctx, retry_max_ms) },
    { 0 },
};

static int fwd_init(struct uf_stage *st, void *ctx, struct uf_err *err)
{
    struct fwd_ctx *c = ctx;
    c->st = st;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->cond, NULL);
    if (strncmp(c->url, "http://", 7) != 0 && strncmp(c->url, "https://", 8) != 0)
        return uf_err_set(err, UF_EINVAL, "url: must start with http:// or https://");
    if (c->retry_min_ms > c->retry_max_ms)
        return uf_err_set(err, UF_EINVAL, "retry_min: must not exceed retry_max");
    if (c->post_bytes > c->buffer_bytes)
        return uf_err_set(err, UF_EINVAL, "post_bytes: must not exceed buffer_bytes");
    return 0;
}

/* ---- the spool ---- */

#define SEGMENT_BYTES (1 << 20) /* what a crash may have to post again */

static void spool_gauge(struct fwd_ctx *c)
{
    if (c->spool)
        atomic_store(c->m_spool, (int64_t)uf_spool_bytes(c->spool));
}

static bool spool_append(struct fwd_ctx *c, const char *data, size_t len)
{
    struct uf_spool_rec r = { data, len };
    struct uf_err err = { 0 };
    if (!c->spool || uf_spool_append(c->spool, &r, 1, &err) != 0)
        return false;
    spool_gauge(c);
    return true;
}

/* Whether the spool holds anything still to send (its records queue new ones behind them). */
static bool spool_busy(const struct fwd_ctx *c)
{
    return c->spool && !uf_spool_is_empty(c->spool);
}

/* ---- accepting events ---- */

/* Appends one record; false when neither the buffer nor the spool has room.
 * Under lock. */
static bool accept_rec(struct fwd_ctx *c, const char *data, size_t len)
{
    if (!spool_busy(c) && c->mem_bytes + len <= (size_t)c->buffer_bytes) {
        struct rec *r = uf_xmalloc(sizeof *r + len);
        r->next = NULL;
        r->len = len;
        memcpy(r->data, data, len);
        if (c->tail)
            c->tail->next = r;
        else
            c->head = r;
        c->tail = r;
        c->mem_bytes += len;
        atomic_store(c->m_buffer, (int64_t)c->mem_bytes);
        return true;
    }
    if (!spool_append(c, data, len))
        return false;
    atomic_fetch_add(c->m_spooled, 1);
    return true;
}

static int fwd_write(struct uf_stage *st, void *ctx, struct uf_event **evs, size_t n,
                     struct uf_err *err)
{
    struct fwd_ctx *c = ctx;
    for (size_t i = 0; i < n; i++) {
        char *text = json_dumps(uf_event_body(evs[i]), JSON_COMPACT);
        size_t len = text ? strlen(text) : 0;
        pthread_mutex_lock(&c->lock);
        bool ok = text && len + 2 <= (size_t)c->post_bytes && accept_rec(c, text, len);
        pthread_cond_signal(&c->cond);
        pthread_mutex_unlock(&c->lock);
        free(text);
        if (ok) {
            uf_event_done(evs[i]);
            continue;
        }
        atomic_fetch_add(c->m_dropped, 1);
        uf_log_limited(UF_LOG_ERROR, st, "Event dropped: buffer and spool full, or too large.");
        uf_event_drop(evs[i], "forward_buffer_full");
    }
    return UF_OK;
}

/* ---- the sender ---- */

struct batch {
    struct uf_strbuf body; /* the JSON array */
    size_t n;              /* records */
    bool spooled;          /* from the spool segment, not from memory */
    bool seg_done;         /* the segment has no more records after this batch */
};

/* Memory records from the head, without removing them. Under lock. */
static void batch_from_memory(struct fwd_ctx *c, struct batch *b)
{
    uf_strbuf_puts(&b->body, "[");
    for (struct rec *r = c->head; r && b->n < (size_t)c->post_events; r = r->next) {
        if (b->n && b->body.len + r->len + 2 > (size_t)c->post_bytes)
            break;
        if (b->n)
            uf_strbuf_puts(&b->body, ",");
        uf_strbuf_append(&b->body, r->data, r->len);
        b->n++;
    }
    uf_strbuf_puts(&b->body, "]");
}

/* The next records of the segment being sent (the oldest one, taken out when none is). On the
 * sender thread only: the spool keeps the segment out for it. */
static void batch_from_spool(struct fwd_ctx *c, struct batch *b)
{
    struct uf_err err = { 0 };
    if (!c->seg && !(c->seg = uf_spool_next_segment(c->spool, &err)))
        return;
    b->spooled = true;
    uf_strbuf_puts(&b->body, "[");
    struct uf_spool_rec r;
    while (b->n < (size_t)c->post_events) {
        if (c->have_carry) {
            r = c->carry;
            c->have_carry = false;
        } else if (uf_spool_segment_read(c->seg, &r) != 1) {
            b->seg_done = true;
            break;
        }
        if (b->n && b->body.len + r.len + 2 > (size_t)c->post_bytes) {
            c->carry = r;
            c->have_carry = true;
            break;
        }
        if (b->n)
            uf_strbuf_puts(&b->body, ",");
        uf_strbuf_append(&b->body, r.data, r.len);
        b->n++;
    }
    uf_strbuf_puts(&b->body, "]");
}

/* Waits for records (or stop) and builds the next batch; false when stopping
 * with none. */
static bool next_batch(struct fwd_ctx *c, struct batch *b)
{
    pthread_mutex_lock(&c->lock);
    while (!c->head && !c->seg && !spool_busy(c) && !c->stopping)
        pthread_cond_wait(&c->cond, &c->lock);
    bool from_memory = c->head && !c->seg; /* memory holds the oldest records */
    if (from_memory)
        batch_from_memory(c, b);
    pthread_mutex_unlock(&c->lock);
    if (!from_memory && (c->seg || spool_busy(c)))
        batch_from_spool(c, b); /* reads the segment outside the lock */
    return b->n > 0 || b->seg_done;
}

static void commit(struct fwd_ctx *c, const struct batch *b)
{
    if (b->spooled) {
        if (b->seg_done) {
            uf_spool_segment_done(c->spool, c->seg, true);
            c->seg = NULL;
        }
        spool_gauge(c);
        return;
    }
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < b->n; i++) {
        struct rec *r = c->head;
        c->head = r->next;
        c->mem_bytes -= r->len;
        free(r);
    }
    if (!c->head)
        c->tail = NULL;
    atomic_store(c->m_buffer, (int64_t)c->mem_bytes);
    pthread_mutex_unlock(&c->lock);
}

static size_t discard_body(char *p, size_t size, size_t n, void *arg)
{
    return size * n;
}

/* libcurl's progress callback: abort a POST in flight once stop() gave up on the receiver, so
 * the shutdown deadline holds even with a long `timeout` (the batch is spilled to the spool). */
static int abort_on_stop(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                         curl_off_t ulnow)
{
    struct fwd_ctx *c = arg;
    pthread_mutex_lock(&c->lock);
    bool stopping = c->stopping;
    pthread_mutex_unlock(&c->lock);
    return stopping ? 1 : 0;
}

/* POSTs the batch: returns the HTTP status, or 0 when no answer came. */
static long post(struct fwd_ctx *c, const struct batch *b, char *errbuf)
{
    curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, b->body.buf);
    curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)b->body.len);
    curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, errbuf);
    errbuf[0] = '\0';
    long status = 0;
    if (curl_easy_perform(c->curl) == CURLE_OK)
        curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

/* Sleeps ms unless stop is asked; returns false when stopping. Every write signals `cond`,
 * which must not cut the backoff short (a failing receiver would be retried per event). */
static bool pause_ms(struct fwd_ctx *c, int64_t ms)
{
    struct timespec ts = uf_clock_after(CLOCK_REALTIME, ms * 1000);
    pthread_mutex_lock(&c->lock);
    bool go_on = uf_cond_sleep_until(&c->cond, &c->lock, &c->stopping, &ts);
    pthread_mutex_unlock(&c->lock);
    return go_on;
}

/* Sends one batch until it is delivered or rejected; false when stop
 * interrupted the retries. */
static bool deliver(struct fwd_ctx *c, const struct batch *b)
{
    char errbuf[CURL_ERROR_SIZE];
    int64_t delay = c->retry_min_ms;
    for (;;) {
        int64_t t0 = uf_now_us();
        long status = post(c, b, errbuf);
        atomic_store(&c->failing, status < 200 || status >= 300);
        if (status >= 200 && status < 300) {
            atomic_fetch_add(c->m_sent, (int64_t)b->n);
            uf_stage_observe_flush(c->st, b->n, b->body.len, (uint64_t)(uf_now_us() - t0));
            return true;
        }
        if (status >= 400 && status < 500 && status != 408 && status != 429) {
            atomic_fetch_add(c->m_rejected, (int64_t)b->n);
            uf_log_limited(UF_LOG_ERROR, c->st, "Batch rejected by the receiver; dropped.",
                           "status", status == 413 ? "413" : "4xx");
            return true;
        }
        atomic_fetch_add(c->m_fail, 1);
        uf_metrics_add(&uf_stage_metrics(c->st)->retries, 1);
        uf_log_limited(UF_LOG_WARN, c->st, "Forward failed; will retry.", "err",
                       errbuf[0] ? errbuf : "receiver answered an error status");
        if (!pause_ms(c, delay))
            return false; /* stopping: fwd_stop spills what is left to the spool */
        delay = delay * 2 > c->retry_max_ms ? c->retry_max_ms : delay * 2;
    }
}

static void *sender_main(void *arg)
{
    struct fwd_ctx *c = arg;
    for (;;) {
        struct batch b = { 0 };
        if (!next_batch(c, &b))
            break; /* stopping, nothing left */
        bool sent = b.n == 0 || deliver(c, &b);
        if (sent)
            commit(c, &b);
        uf_strbuf_free(&b.body);
        if (!sent)
            break; /* stopping while the receiver fails */
    }
    return NULL;
}

/* ---- lifecycle ---- */

static int fwd_start(struct uf_stage *st, void *ctx, struct uf_err *err)
{
    struct fwd_ctx *c = ctx;
    struct uf_metrics *m = uf_stage_metrics(st);
    c->m_buffer = uf_metrics_extra(m, UF_METRIC_GAUGE, "forward_buffer_bytes",
                                   "Bytes of events waiting in memory", NULL, NULL);
    c->m_spool = uf_metrics_extra(m, UF_METRIC_GAUGE, "forward_spool_bytes",
                                  "Bytes of events waiting in the disk spool", NULL, NULL);
    c->m_sent = uf_metrics_extra(m, UF_METRIC_COUNTER, "forward_sent_events_total",
                                 "Events delivered (2xx)", NULL, NULL);
    c->m_spooled = uf_metrics_extra(m, UF_METRIC_COUNTER, "forward_spooled_events_total",
                                    "Events written to the disk spool", NULL, NULL);
    c->m_dropped =
        uf_metrics_extra(m, UF_METRIC_COUNTER, "forward_dropped_events_total",
                         "Events dropped: buffer and spool full, or too large", NULL, NULL);
    c->m_rejected = uf_metrics_extra(m, UF_METRIC_COUNTER, "forward_rejected_events_total",
                                     "Events in batches the receiver rejected (4xx)", NULL, NULL);
    c->m_fail = uf_metrics_extra(m, UF_METRIC_COUNTER, "forward_failed_posts_total",
                                 "POSTs that failed and were retried", NULL, NULL);
    struct uf_spool_cfg scfg = { .dir = c->spool_dir,
                                 .max_bytes = c->spool_bytes_max,
                                 .segment_bytes = SEGMENT_BYTES,
                                 .fsync = UF_SPOOL_FSYNC_NEVER };
    if (c->spool_dir && !(c->spool = uf_spool_open(&scfg, err)))
        return UF_EIO;
    spool_gauge(c);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    c->curl = curl_easy_init();
    c->headers = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c->curl, CURLOPT_URL, c->url);
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->headers);
    curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
    curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)c->timeout_ms);
    curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->curl, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, discard_body);
    curl_easy_setopt(c->curl, CURLOPT_XFERINFOFUNCTION, abort_on_stop);
    curl_easy_setopt(c->curl, CURLOPT_XFERINFODATA, c);
    curl_easy_setopt(c->curl, CURLOPT_NOPROGRESS, 0L);
    if (pthread_create(&c->sender, NULL, sender_main, c) != 0)
        return uf_err_set(err, UF_EIO, "start sender thread: %s", strerror(errno));
    c->sender_running = true;
    return 0;
}

/* Whatever memory still holds goes to the spool, to be sent after the next
 * start. */
static void spill(struct fwd_ctx *c)
{
    pthread_mutex_lock(&c->lock);
    struct rec *r = c->head;
    size_t lost = 0;
    while (r) {
        struct rec *next = r->next;
        lost += !spool_append(c, r->data, r->len);
        free(r);
        r = next;
    }
    c->head = c->tail = NULL;
    c->mem_bytes = 0;
    pthread_mutex_unlock(&c->lock);
    if (lost) {
        atomic_fetch_add(c->m_dropped, (int64_t)lost);
        uf_log(UF_LOG_ERROR, c->st, "Undelivered events lost at shutdown (no spool room).");
    }
}

static void fwd_stop(struct uf_stage *st, void *ctx)
{
    struct fwd_ctx *c = ctx;
    if (!c->sender_running)
        return;
    /* The sender keeps going until the buffer is empty or the shutdown deadline passed; with
     * the receiver failing, waiting would only delay shutdown: the spool keeps the events. */
    while (uf_stage_deadline_ms(st) > 0 && !atomic_load(&c->failing)) {
        pthread_mutex_lock(&c->lock);
        bool empty = !c->head && !spool_busy(c);
        pthread_mutex_unlock(&c->lock);
        if (empty)
            break;
        pause_ms(c, 20);
    }
    pthread_mutex_lock(&c->lock);
    c->stopping = true;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->sender, NULL);
    c->sender_running = false;
    if (c->seg) /* cut short: posted again from its start after the next start */
        uf_spool_segment_done(c->spool, c->seg, false);
    c->seg = NULL;
    spill(c);
}

static void fwd_destroy(void *ctx)
{
    struct fwd_ctx *c = ctx;
    if (!c->st)
        return;
    for (struct rec *r = c->head, *next; r; r = next) {
        next = r->next;
        free(r);
    }
    curl_slist_free_all(c->headers);
    curl_easy_cleanup(c->curl);
    uf_spool_close(c->spool);
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->lock);
}

/* Not ready with the spool nearly full: events would soon be refused. */
static bool fwd_ready(const void *ctx, char *why, size_t n)
{
    const struct fwd_ctx *c = ctx;
    return !c->m_spool ||
           uf_ready_spool_ok((uint64_t)atomic_load(c->m_spool), c->spool_bytes_max, why, n);
}

const struct uf_kind uf_sink_http_forward = {
    .name = "http_forward",
    .role = UF_SINK,
    .summary = "POST events as JSON arrays to an HTTP endpoint; buffered, "
               "spooled, retried",
    .options = fwd_options,
    .ctx_size = sizeof(struct fwd_ctx),
    .init = fwd_init,
    .start = fwd_start,
    .write = fwd_write,
    .stop = fwd_stop,
    .destroy = fwd_destroy,
    .ready = fwd_ready,
};
