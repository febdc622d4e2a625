/* http_forward.c: the `http_forward` sink: POSTs events as JSON arrays to an HTTP endpoint (the
 * stat API's /api/v1/events), in batches, over one keep-alive connection (libcurl).
 * It never holds up its producers: write() copies each event's body into a bounded memory
 * buffer, or, once that is full, appends it to a local disk spool (one compact JSON record per
 * line), and finishes the event at once. A sender thread posts the oldest records first
 * (memory, then spool, so order is kept), retries failures with exponential backoff and commits
 * a batch only after a 2xx. The spool's read offset is saved after each committed batch and the
 * spool is replayed after a restart, so delivery is at least once (the receiver dedups by the
 * `props.event_id` that producers put in); a record torn by a crash is skipped and counted.
 * A batch the receiver rejects as invalid (4xx other than 408/429) cannot succeed by retrying:
 * it is dropped, logged and counted. When both buffer and spool are full, events are dropped
 * and counted the same way; nothing vanishes uncounted. At shutdown, what memory still holds
 * is spilled to the spool. Threads: write() runs on the sink's workers, the sender on its own
 * thread; `lock` guards the buffer and the spool offsets. Does not interpret the events. */
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
#include "framework/stage.h"
#include "framework/strbuf.h"

struct rec {
    struct rec *next;
    size_t len;
    char data[];
};

struct fwd_ctx {
    char *url;
    char *spool_path;
    int64_t post_events, post_bytes, buffer_bytes, spool_bytes_max;
    int64_t timeout_ms, retry_min_ms, retry_max_ms;

    struct uf_stage *st;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct rec *head, *tail; /* memory buffer, oldest first */
    size_t mem_bytes;
    int spool_fd;                  /* -1 without a spool */
    int64_t spool_read, spool_end; /* the unsent part of the spool file */
    bool stopping, sender_running;
    atomic_bool failing; /* the last POST failed: stop() spills instead of waiting */
    pthread_t sender;
    CURL *curl;
    struct curl_slist *headers;
    _Atomic int64_t *m_buffer, *m_spool, *m_sent, *m_spooled, *m_dropped, *m_rejected, *m_fail;
};

static const struct uf_option fwd_options[] = {
    {.name = "url",
     .type = UF_OPT_STR,
     .flags = UF_OPT_REQUIRED,
     .desc = "Endpoint receiving POSTed JSON arrays, e.g. "
             "http://127.0.0.1:8081/api/v1/events",
     .offset = offsetof(struct fwd_ctx, url)},
    {.name = "post_events",
     .type = UF_OPT_INT,
     .def = "500",
     .min = 1,
     .max = 100000,
     .desc = "Most events in one POST",
     .offset = offsetof(struct fwd_ctx, post_events)},
    {.name = "post_bytes",
     .type = UF_OPT_SIZE,
     .def = "512KiB",
     .min = 1024,
     .max = 64 << 20,
     .desc = "Most bytes of events in one POST; a larger event is dropped and "
             "counted",
     .offset = offsetof(struct fwd_ctx, post_bytes)},
    {.name = "buffer_bytes",
     .type = UF_OPT_SIZE,
     .def = "8MiB",
     .min = 1024,
     .max = 1LL << 32,
     .desc = "Memory for events not yet delivered; beyond it they go to the spool",
     .offset = offsetof(struct fwd_ctx, buffer_bytes)},
    {.name = "spool_path",
     .type = UF_OPT_STR,
     .desc = "File spooling events that do not fit in memory; unset means drop "
             "(counted)",
     .offset = offsetof(struct fwd_ctx, spool_path)},
    {.name = "spool_bytes_max",
     .type = UF_OPT_SIZE,
     .def = "1GiB",
     .min = 4096,
     .max = 1LL << 40,
     .desc = "Largest spool file; beyond it events are dropped (counted)",
     .offset = offsetof(struct fwd_ctx, spool_bytes_max)},
    {.name = "timeout",
     .type = UF_OPT_DURATION,
     .def = "5s",
     .min = 10,
     .max = 600000,
     .desc = "Time allowed for one POST",
     .offset = offsetof(struct fwd_ctx, timeout_ms)},
    {.name = "retry_min",
     .type = UF_OPT_DURATION,
     .def = "100ms",
     .min = 1,
     .max = 600000,
     .desc = "First delay after a failed POST; doubles on each failure",
     .offset = offsetof(struct fwd_ctx, retry_min_ms)},
    {.name = "retry_max",
     .type = UF_OPT_DURATION,
     .def = "10s",
     .min = 1,
     .max = 3600000,
     .desc = "Longest delay between retries",
     .offset = offsetof(struct fwd_ctx, retry_max_ms)},
    {0},
};

static int fwd_init(struct uf_stage *st, void *ctx, struct uf_err *err)
{
    struct fwd_ctx *c = ctx;
    c->st = st;
    c->spool_fd = -1;
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

/* ---- the spool (under lock) ---- */

static void save_offset(struct fwd_ctx *c)
{
    char *path = uf_xasprintf("%s.offset", c->spool_path);
    char *tmp = uf_xasprintf("%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (f && fprintf(f, "%lld\n", (long long)c->spool_read) > 0 && fclose(f) == 0)
        rename(tmp, path);
    else if (f)
        fclose(f);
    free(tmp);
    free(path);
}

static int64_t load_offset(const struct fwd_ctx *c)
{
    char *path = uf_xasprintf("%s.offset", c->spool_path);
    FILE *f = fopen(path, "r");
    long long off = 0;
    if (f && fscanf(f, "%lld", &off) != 1)
        off = 0;
    if (f)
        fclose(f);
    free(path);
    return off;
}

/* Creates the directories above path, like mkdir -p on its dirname. */
static void make_parents(const char *path)
{
    char *dir = uf_xstrdup(path);
    for (char *p = strchr(dir + 1, '/'); p; p = strchr(p + 1, '/')) {
        *p = '\0';
        mkdir(dir, 0755);
        *p = '/';
    }
    free(dir);
}

static int open_spool(struct fwd_ctx *c, struct uf_err *err)
{
    make_parents(c->spool_path);
    c->spool_fd = open(c->spool_path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (c->spool_fd < 0)
        return uf_err_set(err, UF_EIO, "spool_path: open %s: %s", c->spool_path, strerror(errno));
    struct stat sb;
    fstat(c->spool_fd, &sb);
    c->spool_end = sb.st_size;
    c->spool_read = load_offset(c);
    if (c->spool_read < 0 || c->spool_read > c->spool_end)
        c->spool_read = 0;
    /* A record torn by a crash: end its line, so it is skipped alone (see batch_from_spool). */
    char last = '\n';
    if (c->spool_end > 0 && pread(c->spool_fd, &last, 1, c->spool_end - 1) == 1 && last != '\n' &&
        write(c->spool_fd, "\n", 1) == 1)
        c->spool_end++;
    atomic_store(c->m_spool, c->spool_end - c->spool_read);
    return 0;
}

/* The spool was read to its end: start it over, so it never grows while the
 * receiver is up. */
static void reset_spool(struct fwd_ctx *c)
{
    if (ftruncate(c->spool_fd, 0) == 0) {
        c->spool_read = c->spool_end = 0;
        save_offset(c);
    }
}

static bool spool_append(struct fwd_ctx *c, const char *data, size_t len)
{
    if (c->spool_fd < 0 || c->spool_end + (int64_t)len + 1 > c->spool_bytes_max)
        return false;
    char *line = uf_xmalloc(len + 1);
    memcpy(line, data, len);
    line[len] = '\n';
    ssize_t n = write(c->spool_fd, line, len + 1);
    bool ok = n == (ssize_t)(len + 1);
    free(line);
    if (!ok && n > 0 && ftruncate(c->spool_fd, c->spool_end) != 0)
        uf_log_limited(UF_LOG_ERROR, c->st, "Spool: cannot remove a partly written record.");
    if (ok) {
        c->spool_end += (int64_t)len + 1;
        atomic_store(c->m_spool, c->spool_end - c->spool_read);
    }
    return ok;
}

/* ---- accepting events ---- */

/* Appends one record; false when neither the buffer nor the spool has room.
 * Under lock. */
static bool accept_rec(struct fwd_ctx *c, const char *data, size_t len)
{
    bool spooling = c->spool_end > c->spool_read;
    if (!spooling && c->mem_bytes + len <= (size_t)c->buffer_bytes) {
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
        char *text = json_dumps(evs[i]->body, JSON_COMPACT);
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
    size_t skipped;        /* spool lines that are not records (torn or oversized) */
    int64_t spool_next;    /* spool batches: the read offset once committed; -1 for
                              memory */
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
    b->spool_next = -1;
}

/* Whole lines from the spool's read offset. Under lock (reads are short and
 * local). */
static void batch_from_spool(struct fwd_ctx *c, struct batch *b)
{
    size_t want = (size_t)(c->spool_end - c->spool_read);
    if (want > (size_t)c->post_bytes)
        want = (size_t)c->post_bytes;
    char *buf = uf_xmalloc(want + 1);
    ssize_t got = pread(c->spool_fd, buf, want, c->spool_read);
    size_t off = 0;
    uf_strbuf_puts(&b->body, "[");
    while (got > 0 && off < (size_t)got && b->n < (size_t)c->post_events) {
        char *nl = memchr(buf + off, '\n', (size_t)got - off);
        if (!nl)
            break;
        size_t len = (size_t)(nl - (buf + off));
        json_t *rec = json_loadb(buf + off, len, 0, NULL);
        if (json_is_object(rec)) {
            if (b->n)
                uf_strbuf_puts(&b->body, ",");
            uf_strbuf_append(&b->body, buf + off, len);
            b->n++;
        } else {
            b->skipped++;
        }
        json_decref(rec);
        off = (size_t)(nl - buf) + 1;
    }
    if (off == 0 && got > 0) { /* no line end in a whole window: a record over post_bytes */
        off = (size_t)got;
        b->skipped++;
    }
    uf_strbuf_puts(&b->body, "]");
    b->spool_next = c->spool_read + (int64_t)off;
    free(buf);
}

/* Waits for records (or stop) and builds the next batch; false when stopping
 * with none. */
static bool next_batch(struct fwd_ctx *c, struct batch *b)
{
    pthread_mutex_lock(&c->lock);
    while (!c->head && c->spool_end == c->spool_read && !c->stopping)
        pthread_cond_wait(&c->cond, &c->lock);
    if (c->head)
        batch_from_memory(c, b);
    else if (c->spool_end > c->spool_read)
        batch_from_spool(c, b);
    bool have = b->n > 0 || b->spool_next > c->spool_read;
    pthread_mutex_unlock(&c->lock);
    return have;
}

static void commit(struct fwd_ctx *c, const struct batch *b)
{
    pthread_mutex_lock(&c->lock);
    if (b->spool_next < 0) {
        for (size_t i = 0; i < b->n; i++) {
            struct rec *r = c->head;
            c->head = r->next;
            c->mem_bytes -= r->len;
            free(r);
        }
        if (!c->head)
            c->tail = NULL;
    } else {
        if (b->skipped) {
            atomic_fetch_add(c->m_dropped, (int64_t)b->skipped);
            uf_log_limited(UF_LOG_ERROR, c->st, "Spool: records torn or too large, skipped.");
        }
        c->spool_read = b->spool_next;
        if (c->spool_read == c->spool_end)
            reset_spool(c);
        else
            save_offset(c);
    }
    atomic_store(c->m_buffer, (int64_t)c->mem_bytes);
    atomic_store(c->m_spool, c->spool_end - c->spool_read);
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
        struct batch b = {0};
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
    if (c->spool_path && open_spool(c, err))
        return UF_EIO;
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
        bool empty = !c->head && c->spool_end == c->spool_read;
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
    if (c->spool_fd >= 0)
        close(c->spool_fd);
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->lock);
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
};
