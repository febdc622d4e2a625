/* sinks/clickhouse/clickhouse.c: the `clickhouse` sink: events into a ClickHouse table, in
 * compressed batches over HTTP, at least once. write() appends each event's row to the open
 * batch and owns the event from then on; a batch is sealed by size or by tick() once
 * `batch_age` old, and a sender thread keeps up to `inflight` INSERTs running. Only a
 * successful INSERT finishes the batch's events. Retryable failures resend the same bytes;
 * permanent ones split the batch until the rejected rows are alone (422). Threads: write() and
 * tick() on the workers (filling and sealing under `lock`), replies on the sender thread. No
 * dedup here: ReplacingMergeTree collapses replays. docs/architecture.md, "sinks/clickhouse". */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "framework/clock.h"
#include "framework/log.h"
#include "framework/mem.h"
#include "framework/metrics.h"
#include "framework/secret.h"
#include "framework/stage.h"
#include "sinks/clickhouse/clickhouse.h"

struct batch {
    struct ch_ctx *ch;
    struct uf_event **evs;
    size_t *ends; /* end offset of each row in plain */
    size_t n, cap;
    struct uf_strbuf plain, wire; /* the rows as encoded; as sent */
    int attempt;
    int64_t first_us, sent_us;
    struct batch *next; /* in the spare list */
};

struct ch_ctx {
    char *url, *database, *table, *engine, *user, *password;
    json_t *columns, *ddl;
    bool create;
    int format, compression;
    int64_t zstd_level, block_size, batch_rows, batch_bytes, batch_age_ms, inflight;
    int64_t timeout_ms, retry_min_ms, retry_max_ms;

    struct uf_stage *st;
    struct uf_clickhouse_schema schema;
    char *params; /* query string of an INSERT: query=...&decompress=1 */
    struct uf_clickhouse_http *http;
    struct uf_clickhouse_zstd *zstd; /* used under lock, or on the sender thread with zstd_split */
    struct uf_clickhouse_zstd *zstd_split;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct batch *open;  /* being filled */
    struct batch *spare; /* written batches kept for their buffers (under lock) */
    size_t nspare;
    size_t outstanding;      /* sealed, not yet finished */
    atomic_bool closing;     /* set at stop: replies fail their batches instead of retrying */
    atomic_bool unreachable; /* the last insert found no server (or a 5xx): for readiness */
    unsigned seed;           /* jitter, sender thread only */
    _Atomic int64_t *waiting_gauge;
    _Atomic int64_t *plain_bytes; /* encoded rows before compression, of written batches */
};

static const char *const formats[] = { "rowbinary", "jsoneachrow", NULL };
static const char *const compressions[] = { "zstd", "none", NULL };

static const struct uf_option ch_options[] = {
    { .name = "url",
      .type = UF_OPT_STR,
      .flags = UF_OPT_REQUIRED,
      .desc = "ClickHouse HTTP address, e.g. http://127.0.0.1:8123",
      .offset = offsetof(struct ch_ctx, url) },
    { .name = "database",
      .type = UF_OPT_STR,
      .def = "ugcflow",
      .desc = "Database of the table",
      .offset = offsetof(struct ch_ctx, database) },
    { .name = "table",
      .type = UF_OPT_STR,
      .flags = UF_OPT_REQUIRED,
      .desc = "Table the rows go to",
      .offset = offsetof(struct ch_ctx, table) },
    { .name = "columns",
      .type = UF_OPT_LIST,
      .flags = UF_OPT_REQUIRED,
      .desc = "Row mapping, one \"name Type [from field.path]\" per column",
      .offset = offsetof(struct ch_ctx, columns) },
    { .name = "engine",
      .type = UF_OPT_STR,
      .def = "ReplacingMergeTree PARTITION BY toYYYYMM(ts) ORDER BY event_id",
      .desc = "Table engine and keys used when the sink creates the table",
      .offset = offsetof(struct ch_ctx, engine) },
    { .name = "create",
      .type = UF_OPT_BOOL,
      .def = "true",
      .desc = "Create the table at start when it does not exist",
      .offset = offsetof(struct ch_ctx, create) },
    { .name = "ddl",
      .type = UF_OPT_LIST,
      .desc = "Statements run at start after the table exists (aggregates, views)",
      .offset = offsetof(struct ch_ctx, ddl) },
    { .name = "format",
      .type = UF_OPT_ENUM,
      .def = "rowbinary",
      .values = formats,
      .desc = "Row encoding in the POST body",
      .offset = offsetof(struct ch_ctx, format) },
    { .name = "compression",
      .type = UF_OPT_ENUM,
      .def = "zstd",
      .values = compressions,
      .desc = "Body compression (ClickHouse block framing with decompress=1)",
      .offset = offsetof(struct ch_ctx, compression) },
    { .name = "zstd_level",
      .type = UF_OPT_INT,
      .def = "1",
      .min = 1,
      .max = 19,
      .desc = "zstd compression level",
      .offset = offsetof(struct ch_ctx, zstd_level) },
    { .name = "block_size",
      .type = UF_OPT_SIZE,
      .def = "1MiB",
      .min = 4096,
      .max = 16777216,
      .desc = "Uncompressed bytes per compressed block",
      .offset = offsetof(struct ch_ctx, block_size) },
    { .name = "batch_rows",
      .type = UF_OPT_INT,
      .def = "50000",
      .min = 1,
      .max = 1000000,
      .desc = "Most rows per INSERT (below 1,048,576 so that an INSERT is all-or-nothing)",
      .offset = offsetof(struct ch_ctx, batch_rows) },
    { .name = "batch_bytes",
      .type = UF_OPT_SIZE,
      .def = "8MiB",
      .min = 1024,
      .max = 268435456,
      .desc = "Most encoded bytes per INSERT",
      .offset = offsetof(struct ch_ctx, batch_bytes) },
    { .name = "batch_age",
      .type = UF_OPT_DURATION,
      .def = "1s",
      .min = 1,
      .max = 600000,
      .desc = "Longest time a row waits in an open batch",
      .offset = offsetof(struct ch_ctx, batch_age_ms) },
    { .name = "inflight",
      .type = UF_OPT_INT,
      .def = "2",
      .min = 1,
      .max = 64,
      .desc = "INSERTs running at once",
      .offset = offsetof(struct ch_ctx, inflight) },
    { .name = "timeout",
      .type = UF_OPT_DURATION,
      .def = "60s",
      .min = 100,
      .max = 3600000,
      .desc = "Time limit of one INSERT",
      .offset = offsetof(struct ch_ctx, timeout_ms) },
    { .name = "retry_min",
      .type = UF_OPT_DURATION,
      .def = "100ms",
      .min = 1,
      .max = 600000,
      .desc = "First retry delay (doubles per attempt, with jitter)",
      .offset = offsetof(struct ch_ctx, retry_min_ms) },
    { .name = "retry_max",
      .type = UF_OPT_DURATION,
      .def = "10s",
      .min = 1,
      .max = 3600000,
      .desc = "Longest retry delay",
      .offset = offsetof(struct ch_ctx, retry_max_ms) },
    { .name = "user",
      .type = UF_OPT_STR,
      .desc = "HTTP basic auth user",
      .offset = offsetof(struct ch_ctx, user) },
    { .name = "password",
      .type = UF_OPT_STR,
      .flags = UF_OPT_SECRET,
      .desc = "HTTP basic auth password",
      .offset = offsetof(struct ch_ctx, password) },
    { 0 }
};

static int ch_init(struct uf_stage *st, void *ctx, struct uf_err *err)
{
    struct ch_ctx *ch = ctx;
    ch->st = st;
    if (ch->retry_min_ms > ch->retry_max_ms)
        return uf_err_set(err, UF_EINVAL, "retry_min (%lld ms) is above retry_max (%lld ms)",
                          (long long)ch->retry_min_ms, (long long)ch->retry_max_ms);
    if (uf_clickhouse_schema_parse(&ch->schema, ch->columns, err) < 0)
        return UF_EINVAL;
    char *sql = uf_clickhouse_insert_sql(&ch->schema, ch->database, ch->table,
                                         (enum uf_clickhouse_format)ch->format);
    char *enc = uf_clickhouse_url_encode(sql);
    ch->params = uf_xasprintf("query=%s%s", enc, ch->compression == 0 ? "&decompress=1" : "");
    free(enc);
    free(sql);
    pthread_mutex_init(&ch->lock, NULL);
    pthread_cond_init(&ch->cond, NULL);
    return 0;
}

static struct uf_clickhouse_http_cfg http_cfg(const struct ch_ctx *ch)
{
    return (struct uf_clickhouse_http_cfg){ .url = ch->url,
                                            .user = ch->user,
                                            .password = ch->password,
                                            .inflight = (int)ch->inflight,
                                            .timeout_ms = ch->timeout_ms };
}

static int create_schema(struct ch_ctx *ch, struct uf_err *err)
{
    struct uf_clickhouse_http_cfg cfg = http_cfg(ch);
    char *sql = uf_clickhouse_create_sql(&ch->schema, ch->database, ch->table, ch->engine);
    int rc = uf_clickhouse_http_exec(&cfg, sql, NULL, err);
    free(sql);
    if (rc < 0) {
        uf_err_prefix(err, "CREATE TABLE `%s`.`%s`", ch->database, ch->table);
        return rc;
    }
    for (size_t i = 0; ch->ddl && i < json_array_size(ch->ddl); i++) {
        rc =
            uf_clickhouse_http_exec(&cfg, json_string_value(json_array_get(ch->ddl, i)), NULL, err);
        if (rc < 0) {
            uf_err_prefix(err, "ddl[%zu]", i);
            return rc;
        }
    }
    return 0;
}

static int ch_start(struct uf_stage *st, void *ctx, struct uf_err *err)
{
    struct ch_ctx *ch = ctx;
    if (ch->create && create_schema(ch, err) < 0)
        return UF_EIO;
    ch->seed = (unsigned)uf_now_us();
    ch->zstd = uf_clickhouse_zstd_new((int)ch->zstd_level);
    ch->zstd_split = uf_clickhouse_zstd_new((int)ch->zstd_level);
    ch->waiting_gauge =
        uf_metrics_extra(uf_stage_metrics(st), UF_METRIC_GAUGE, "clickhouse_batches_waiting",
                         "Batches sealed and not yet written", NULL, NULL);
    ch->plain_bytes =
        uf_metrics_extra(uf_stage_metrics(st), UF_METRIC_COUNTER, "clickhouse_row_bytes_total",
                         "Encoded row bytes written, before compression", NULL, NULL);
    struct uf_clickhouse_http_cfg cfg = http_cfg(ch);
    ch->http = uf_clickhouse_http_new(&cfg, err);
    if (!ch->http)
        return UF_EIO;
    uf_log(UF_LOG_INFO, st, "ClickHouse sink started.", "table", ch->table, "url", ch->url);
    return 0;
}

/* ---- batches ---- */

static struct batch *batch_new(struct ch_ctx *ch, size_t cap)
{
    struct batch *b = uf_xcalloc(1, sizeof(*b));
    b->ch = ch;
    b->cap = cap ? cap : 64;
    b->evs = uf_xmalloc(b->cap * sizeof(*b->evs));
    b->ends = uf_xmalloc(b->cap * sizeof(*b->ends));
    b->first_us = uf_now_us();
    return b;
}

static void batch_free(struct batch *b)
{
    if (!b)
        return;
    uf_strbuf_free(&b->plain);
    uf_strbuf_free(&b->wire);
    free(b->evs);
    free(b->ends);
    free(b);
}

/* A batch to fill (caller holds lock): a spare one when there is one. A batch's buffers grow to
 * tens of MiB; taking them fresh for every batch cost a page fault per 4 KiB and the copies of
 * every doubling (a tenth of the process's CPU). */
static struct batch *batch_take(struct ch_ctx *ch)
{
    struct batch *b = ch->spare;
    if (!b)
        return batch_new(ch, (size_t)(ch->batch_rows < 4096 ? ch->batch_rows : 4096));
    ch->spare = b->next;
    ch->nspare--;
    b->next = NULL;
    b->first_us = uf_now_us();
    return b;
}

/* Keeps a finished batch's buffers for a later batch, as many as can be in use at once; frees
 * the rest. Takes the lock. */
static void batch_recycle(struct ch_ctx *ch, struct batch *b)
{
    pthread_mutex_lock(&ch->lock);
    if (ch->nspare < (size_t)ch->inflight * 2 + 1) {
        b->n = 0;
        b->attempt = 0;
        uf_strbuf_reset(&b->plain);
        uf_strbuf_reset(&b->wire);
        b->next = ch->spare;
        ch->spare = b;
        ch->nspare++;
        b = NULL;
    }
    pthread_mutex_unlock(&ch->lock);
    batch_free(b);
}

static void batch_push(struct batch *b, struct uf_event *ev)
{
    if (b->n == b->cap) {
        b->cap *= 2;
        b->evs = uf_xrealloc(b->evs, b->cap * sizeof(*b->evs));
        b->ends = uf_xrealloc(b->ends, b->cap * sizeof(*b->ends));
    }
    b->evs[b->n] = ev;
    b->ends[b->n++] = b->plain.len;
}

/* Fills b->wire from b->plain: framed zstd blocks, or the rows as they are. */
static int batch_compress(struct ch_ctx *ch, struct uf_clickhouse_zstd *z, struct batch *b,
                          struct uf_err *err)
{
    uf_strbuf_reset(&b->wire);
    if (ch->compression != 0) {
        uf_strbuf_append(&b->wire, b->plain.buf, b->plain.len);
        return 0;
    }
    return uf_clickhouse_compress(z, b->plain.buf, b->plain.len, (size_t)ch->block_size, &b->wire,
                                  err);
}

static void on_reply(void *arg, const struct uf_clickhouse_reply *r);

static void send_batch(struct ch_ctx *ch, struct batch *b, int64_t not_before_us)
{
    b->sent_us = uf_now_us();
    uf_clickhouse_http_post(ch->http, ch->params, b->wire.buf, b->wire.len, not_before_us, on_reply,
                            b);
}

/* Fails every event of b with status/code/msg and frees it. */
static void batch_fail(struct batch *b, int status, const char *code, const char *msg)
{
    for (size_t i = 0; i < b->n; i++)
        uf_event_fail(b->evs[i], status, code, msg);
    batch_free(b);
}

static void settle(struct ch_ctx *ch, long delta)
{
    pthread_mutex_lock(&ch->lock);
    ch->outstanding = (size_t)((long)ch->outstanding + delta);
    atomic_store_explicit(ch->waiting_gauge, (int64_t)ch->outstanding, memory_order_relaxed);
    pthread_cond_broadcast(&ch->cond);
    pthread_mutex_unlock(&ch->lock);
}

/* Seals the open batch (caller holds lock) and sends it. */
static void seal(struct ch_ctx *ch)
{
    struct batch *b = ch->open;
    ch->open = NULL;
    if (!b)
        return;
    struct uf_err err = { 0 };
    if (batch_compress(ch, ch->zstd, b, &err) < 0) {
        uf_log(UF_LOG_ERROR, ch->st, "Compression failed.", "err", err.msg);
        batch_fail(b, 500, "compression", err.msg);
        return;
    }
    ch->outstanding++;
    atomic_store_explicit(ch->waiting_gauge, (int64_t)ch->outstanding, memory_order_relaxed);
    send_batch(ch, b, 0);
}

/* ---- replies (sender thread) ---- */

static int64_t backoff_us(struct ch_ctx *ch, int attempt)
{
    int64_t ms = ch->retry_min_ms;
    for (int i = 1; i < attempt && ms < ch->retry_max_ms; i++)
        ms *= 2;
    if (ms > ch->retry_max_ms)
        ms = ch->retry_max_ms;
    /* Full jitter over the upper half keeps several sinks from retrying in step. */
    int64_t half = ms * 500;
    return half + (int64_t)((double)rand_r(&ch->seed) / RAND_MAX * (double)half);
}

/* Makes a batch of rows [from, to) of b, moving their events. */
static struct batch *slice(struct ch_ctx *ch, struct batch *b, size_t from, size_t to)
{
    struct batch *s = batch_new(ch, to - from);
    size_t start = from ? b->ends[from - 1] : 0;
    uf_strbuf_append(&s->plain, b->plain.buf + start, b->ends[to - 1] - start);
    for (size_t i = from; i < to; i++) {
        s->evs[s->n] = b->evs[i];
        s->ends[s->n++] = b->ends[i] - start;
    }
    return s;
}

/* A permanent rejection: isolates the bad rows by halving. */
static void split_or_fail(struct ch_ctx *ch, struct batch *b, const char *msg)
{
    if (b->n == 1) {
        uf_log_limited(UF_LOG_WARN, ch->st, "Row rejected by ClickHouse.", "err", msg);
        uf_metrics_add(&uf_stage_metrics(ch->st)->errors, 1);
        batch_fail(b, 422, "clickhouse_rejected", msg);
        settle(ch, -1);
        return;
    }
    struct batch *half[2] = { slice(ch, b, 0, b->n / 2), slice(ch, b, b->n / 2, b->n) };
    b->n = 0;
    batch_free(b);
    settle(ch, +1);
    for (int i = 0; i < 2; i++) {
        struct uf_err err = { 0 };
        if (batch_compress(ch, ch->zstd_split, half[i], &err) < 0) {
            batch_fail(half[i], 500, "compression", err.msg);
            settle(ch, -1);
            continue;
        }
        send_batch(ch, half[i], 0);
    }
}

static void on_sent(struct ch_ctx *ch, struct batch *b)
{
    uf_stage_observe_flush(ch->st, b->n, b->wire.len, (uint64_t)(uf_now_us() - b->sent_us));
    atomic_fetch_add_explicit(ch->plain_bytes, (int64_t)b->plain.len, memory_order_relaxed);
    uf_log(UF_LOG_DEBUG, ch->st, "Batch written.", "table", ch->table);
    for (size_t i = 0; i < b->n; i++)
        uf_event_done(b->evs[i]);
    batch_recycle(ch, b);
    settle(ch, -1);
}

static void on_reply(void *arg, const struct uf_clickhouse_reply *r)
{
    struct batch *b = arg;
    struct ch_ctx *ch = b->ch;
    int code;
    enum uf_clickhouse_class cls =
        uf_clickhouse_classify(r->curl_failed, r->status, r->body, &code);
    char msg[400];
    snprintf(msg, sizeof(msg), "%.*s", (int)strcspn(r->body, "\n"), r->body);
    atomic_store(&ch->unreachable,
                 cls == UF_CLICKHOUSE_RETRYABLE && (r->curl_failed || r->status >= 500));
    if (cls == UF_CLICKHOUSE_SENT) {
        on_sent(ch, b);
    } else if (atomic_load(&ch->closing)) {
        batch_fail(b, 503, "shutting_down", "not written to ClickHouse before shutdown");
        settle(ch, -1);
    } else if (cls == UF_CLICKHOUSE_RETRYABLE) {
        b->attempt++;
        uf_metrics_add(&uf_stage_metrics(ch->st)->retries, 1);
        uf_log_limited(UF_LOG_WARN, ch->st, "Insert failed, retrying.", "table", ch->table, "err",
                       msg);
        send_batch(ch, b, uf_now_us() + backoff_us(ch, b->attempt));
    } else {
        split_or_fail(ch, b, msg);
    }
}

/* ---- engine callbacks ---- */

/* Waits while too many batches are outstanding: this is the sink's backpressure. */
static void wait_for_room(struct ch_ctx *ch)
{
    size_t limit = (size_t)ch->inflight * 2;
    while (ch->outstanding >= limit && uf_stage_deadline_ms(ch->st) > 0) {
        struct timespec ts = uf_clock_after(CLOCK_REALTIME, 100000);
        pthread_cond_timedwait(&ch->cond, &ch->lock, &ts);
    }
}

/* Appends the event's row to rows, encoded from the event's text (the kafka source's payload
 * as received; a tree some stage built is encoded to text once). Needs no lock: the schema is
 * read-only once started. */
static int encode(const struct ch_ctx *ch, struct uf_event *ev, struct uf_strbuf *rows,
                  struct uf_err *err)
{
    size_t len;
    const char *text = uf_event_text(ev, &len);
    if (!text)
        return uf_err_set(err, UF_EINVAL, "the event has no body");
    return uf_clickhouse_encode_raw(&ch->schema, (enum uf_clickhouse_format)ch->format, text, len,
                                    rows, err);
}

/* Moves the encoded rows into open batches, sealing each that is full (caller holds lock). */
static void append_rows(struct ch_ctx *ch, struct uf_event **evs, const size_t *ends, size_t n,
                        const struct uf_strbuf *rows)
{
    for (size_t i = 0, start = 0; i < n; start = ends[i++]) {
        if (!ch->open) {
            wait_for_room(ch);
            ch->open = batch_take(ch);
        }
        uf_strbuf_append(&ch->open->plain, rows->buf + start, ends[i] - start);
        batch_push(ch->open, evs[i]);
        if (ch->open->n >= (size_t)ch->batch_rows || ch->open->plain.len >= (size_t)ch->batch_bytes)
            seal(ch);
    }
}

/* Rows are encoded before the lock is taken, so that several workers (`workers`) encode at
 * once; the lock covers only appending them to the open batch (and sealing it). */
static int ch_write(struct uf_stage *st, void *ctx, struct uf_event **evs, size_t n,
                    struct uf_err *err)
{
    struct ch_ctx *ch = ctx;
    struct uf_strbuf rows = { 0 };
    struct uf_event **ok = uf_xmalloc(n * sizeof(*ok));
    size_t *ends = uf_xmalloc(n * sizeof(*ends)), k = 0;
    for (size_t i = 0; i < n; i++) {
        struct uf_err rerr = { 0 };
        if (encode(ch, evs[i], &rows, &rerr) < 0) {
            uf_log_limited(UF_LOG_WARN, st, "Event does not fit the table.", "err", rerr.msg);
            uf_event_fail(evs[i], 422, "bad_row", rerr.msg);
            continue;
        }
        ok[k] = evs[i];
        ends[k++] = rows.len;
    }
    pthread_mutex_lock(&ch->lock);
    append_rows(ch, ok, ends, k, &rows);
    pthread_mutex_unlock(&ch->lock);
    uf_strbuf_free(&rows);
    free(ok);
    free(ends);
    return UF_OK;
}

static void ch_tick(struct uf_stage *st, void *ctx)
{
    struct ch_ctx *ch = ctx;
    pthread_mutex_lock(&ch->lock);
    if (ch->open && uf_now_us() - ch->open->first_us >= ch->batch_age_ms * 1000)
        seal(ch);
    pthread_mutex_unlock(&ch->lock);
}

static void ch_stop(struct uf_stage *st, void *ctx)
{
    struct ch_ctx *ch = ctx;
    if (!ch->http)
        return;
    pthread_mutex_lock(&ch->lock);
    seal(ch);
    while (ch->outstanding > 0 && uf_stage_deadline_ms(st) > 0) {
        struct timespec ts = uf_clock_after(CLOCK_REALTIME, 1000000);
        pthread_cond_timedwait(&ch->cond, &ch->lock, &ts);
    }
    atomic_store(&ch->closing, true);
    size_t left = ch->outstanding;
    pthread_mutex_unlock(&ch->lock);
    if (left > 0)
        uf_log(UF_LOG_WARN, st,
               "Shutdown deadline passed with batches unwritten; they stay "
               "uncommitted upstream.",
               "table", ch->table);
    uf_clickhouse_http_free(ch->http);
    ch->http = NULL;
}

static void ch_destroy(void *ctx)
{
    struct ch_ctx *ch = ctx;
    if (ch->params) {
        pthread_mutex_destroy(&ch->lock);
        pthread_cond_destroy(&ch->cond);
    }
    uf_clickhouse_http_free(ch->http);
    if (ch->open)
        batch_fail(ch->open, 503, "shutting_down", "not written to ClickHouse before shutdown");
    while (ch->spare) {
        struct batch *b = ch->spare;
        ch->spare = b->next;
        batch_free(b);
    }
    uf_clickhouse_zstd_free(ch->zstd);
    uf_clickhouse_zstd_free(ch->zstd_split);
    uf_clickhouse_schema_free(&ch->schema);
    free(ch->params);
}

/* Not ready while the last insert found ClickHouse unreachable (it is retrying): what the sink
 * knows without a request of its own, so asking costs ClickHouse nothing. */
static bool ch_ready(const void *ctx, char *why, size_t n)
{
    struct ch_ctx *ch = (struct ch_ctx *)ctx;
    if (!atomic_load(&ch->unreachable))
        return true;
    char url[256];
    snprintf(why, n, "ClickHouse unreachable (%s), retrying",
             uf_secret_redact(ch->url, url, sizeof url));
    return false;
}

const struct uf_kind uf_sink_clickhouse = {
    .name = "clickhouse",
    .role = UF_SINK,
    .summary = "Write events to a ClickHouse table in compressed batches, at least once",
    .options = ch_options,
    .ctx_size = sizeof(struct ch_ctx),
    .init = ch_init,
    .start = ch_start,
    .write = ch_write,
    .tick = ch_tick,
    .stop = ch_stop,
    .destroy = ch_destroy,
    .ready = ch_ready,
};
