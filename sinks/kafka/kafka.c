/* kafka.c: the `kafka` sink: produces each event (an event held as text byte for byte, a tree
 * encoded compactly) to Apache Kafka with librdkafka and finishes it only once the broker
 * acknowledged it (acks=all, idempotent) or it sits in the local disk spool: a reply always
 * means "stored". The topic is fixed or read from `topic_field` (a name Kafka refuses fails with
 * 422); the key is the first non-empty of `key_fields`, so one viewer's events keep their order.
 * This file: options, lifecycle, write(); librdkafka callbacks and replay in kafka_client.c.
 * Not done here: exactly-once (a replayed duplicate keeps its event_id; ClickHouse collapses on
 * it at merge) and schema checks (`validate`). */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "framework/jscan.h"
#include "framework/jsonenc.h"
#include "framework/log.h"
#include "framework/mem.h"
#include "framework/metrics.h"
#include "framework/ready.h"
#include "framework/spool.h"
#include "framework/stage.h"
#include "sinks/kafka/kafka_int.h"

static const char *const compression_values[] = { "none", "gzip", "snappy", "lz4", "zstd", NULL };
static const char *const fsync_values[] = { "always", "interval", "never", NULL };

static const struct uf_option kafka_options[] = {
    { .name = "brokers",
      .type = UF_OPT_STR,
      .def = "127.0.0.1:19092",
      .desc = "Comma-separated bootstrap brokers (host:port)",
      .offset = offsetof(struct uf_kafka_ctx, brokers) },
    { .name = "topic",
      .type = UF_OPT_STR,
      .desc = "Topic for events without a topic field; required unless topic_field is set",
      .offset = offsetof(struct uf_kafka_ctx, topic) },
    { .name = "topic_field",
      .type = UF_OPT_STR,
      .desc = "Body field whose string value names the event's topic (falls back to topic)",
      .offset = offsetof(struct uf_kafka_ctx, topic_field) },
    { .name = "key_fields",
      .type = UF_OPT_LIST,
      .def = "[\"user_id\", \"anonymous_id\", \"session_id\"]",
      .desc = "Body fields tried in order for the message key; the first non-empty one wins",
      .offset = offsetof(struct uf_kafka_ctx, key_fields) },
    { .name = "compression",
      .type = UF_OPT_ENUM,
      .def = "zstd",
      .values = compression_values,
      .desc = "Compression codec of produced batches",
      .offset = offsetof(struct uf_kafka_ctx, compression) },
    { .name = "linger",
      .type = UF_OPT_DURATION,
      .def = "5ms",
      .min = 0,
      .max = 10000,
      .desc = "How long the producer waits to fill a batch (linger.ms)",
      .offset = offsetof(struct uf_kafka_ctx, linger_ms) },
    { .name = "batch_bytes",
      .type = UF_OPT_SIZE,
      .def = "1MiB",
      .min = 1024,
      .max = 64 << 20,
      .desc = "Largest produce batch per partition (batch.size)",
      .offset = offsetof(struct uf_kafka_ctx, batch_bytes) },
    { .name = "queue_messages",
      .type = UF_OPT_INT,
      .def = "200000",
      .min = 1,
      .max = 10000000,
      .desc = "Messages the producer may hold unacknowledged before spooling new ones",
      .offset = offsetof(struct uf_kafka_ctx, queue_messages) },
    { .name = "message_timeout",
      .type = UF_OPT_DURATION,
      .def = "10s",
      .min = 100,
      .max = 900000,
      .desc = "How long a message may wait for its ack before it is spooled",
      .offset = offsetof(struct uf_kafka_ctx, message_timeout_ms) },
    { .name = "properties",
      .type = UF_OPT_MAP,
      .desc = "Extra librdkafka configuration properties, applied last",
      .offset = offsetof(struct uf_kafka_ctx, properties) },
    { .name = "spool",
      .type = UF_OPT_BOOL,
      .def = "true",
      .desc = "Keep events the broker cannot take in a local disk spool and count them stored; "
              "false fails them with 503 once message_timeout passes without an ack (for a source "
              "that keeps them itself)",
      .offset = offsetof(struct uf_kafka_ctx, spool_enabled) },
    { .name = "spool_dir",
      .type = UF_OPT_STR,
      .desc = "Spool directory (default .dev/spool/<pipeline>.<component>, created if missing)",
      .offset = offsetof(struct uf_kafka_ctx, spool_dir) },
    { .name = "spool_max_bytes",
      .type = UF_OPT_SIZE,
      .def = "1GiB",
      .min = 4096,
      .max = INT64_MAX / 2,
      .desc = "Spool size at which new events fail with 503",
      .offset = offsetof(struct uf_kafka_ctx, spool_max_bytes) },
    { .name = "spool_segment_bytes",
      .type = UF_OPT_SIZE,
      .def = "16MiB",
      .min = 4096,
      .max = 1 << 30,
      .desc = "Size at which a spool segment file is sealed and a new one begun",
      .offset = offsetof(struct uf_kafka_ctx, spool_segment_bytes) },
    { .name = "spool_fsync",
      .type = UF_OPT_ENUM,
      .def = "always",
      .values = fsync_values,
      .desc = "When spool writes are synced to disk before events count as stored",
      .offset = offsetof(struct uf_kafka_ctx, spool_fsync) },
    { .name = "spool_fsync_interval",
      .type = UF_OPT_DURATION,
      .def = "1s",
      .min = 1,
      .max = 60000,
      .desc = "Sync period with spool_fsync: interval",
      .offset = offsetof(struct uf_kafka_ctx, spool_fsync_interval_ms) },
    { .name = "replay_interval",
      .type = UF_OPT_DURATION,
      .def = "500ms",
      .min = 10,
      .max = 60000,
      .desc = "How often the spool is checked for a replay to the broker",
      .offset = offsetof(struct uf_kafka_ctx, replay_interval_ms) },
    { .name = "replay_linger",
      .type = UF_OPT_DURATION,
      .def = "20ms",
      .min = 1,
      .max = 1000,
      .desc = "linger.ms of the replay's own producer, whatever `properties` set for live "
              "events: a backlog goes out in full batches, and a sub-millisecond linger would "
              "keep librdkafka's broker thread polling without a pause while it waits",
      .offset = offsetof(struct uf_kafka_ctx, replay_linger_ms) },
    { 0 }
};

/* The fields read of each event, in one step (uf_event_fields): topic_field, then key_fields. */
static void build_pick(struct uf_kafka_ctx *k)
{
    k->pick = uf_xmalloc((json_array_size(k->key_fields) + 1) * sizeof(*k->pick));
    if (k->topic_field)
        k->pick[k->npick++] = k->topic_field;
    size_t i;
    json_t *name;
    json_array_foreach(k->key_fields, i, name)
    {
        if (json_string_value(name))
            k->pick[k->npick++] = json_string_value(name);
    }
}

static int kafka_init(struct uf_stage *st, void *ctx, struct uf_err *err)
{
    struct uf_kafka_ctx *k = ctx;
    k->st = st;
    /* Writers first: a switch to the spool must not wait behind a stream of producers. */
    pthread_rwlockattr_t ra;
    pthread_rwlockattr_init(&ra);
    pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&k->mode_lock, &ra);
    pthread_rwlockattr_destroy(&ra);
    k->locks_ready = true;
    if (!k->topic && !k->topic_field)
        return uf_err_set(err, UF_EINVAL, "set topic, topic_field or both");
    if (k->spool_max_bytes < k->spool_segment_bytes)
        return uf_err_set(err, UF_EINVAL,
                          "spool_max_bytes (%" PRId64 ") is below spool_segment_bytes (%" PRId64
                          ")",
                          k->spool_max_bytes, k->spool_segment_bytes);
    if (k->topic && !uf_kafka_topic_is_valid(k->topic, strlen(k->topic)))
        return uf_err_set(err, UF_EINVAL,
                          "topic '%.64s': not a Kafka topic name (1 to 249 characters of "
                          "A-Z a-z 0-9 . _ -)",
                          k->topic);
    k->spool_path =
        k->spool_dir ? uf_xstrdup(k->spool_dir)
                     : uf_xasprintf(".dev/spool/%s.%s", uf_stage_pipeline(st), uf_stage_name(st));
    build_pick(k);
    if (k->npick > UF_FIELDS_MAX)
        return uf_err_set(err, UF_EINVAL, "key_fields: at most %d names (with topic_field)",
                          UF_FIELDS_MAX);
    k->conf = uf_kafka_conf_build(k, false, err);
    if (k->conf && k->spool_enabled)
        k->conf_replay = uf_kafka_conf_build(k, true, err);
    return k->conf && (k->conf_replay || !k->spool_enabled) ? 0 : UF_EINVAL;
}

static void register_metrics(struct uf_kafka_ctx *k)
{
    struct uf_metrics *m = uf_stage_metrics(k->st);
    k->m_spool_bytes =
        uf_metrics_extra(m, UF_METRIC_GAUGE, "spool_bytes", "Bytes in the disk spool", NULL, NULL);
    k->m_spool_records = uf_metrics_extra(m, UF_METRIC_GAUGE, "spool_records",
                                          "Messages in the disk spool", NULL, NULL);
    k->m_produced = uf_metrics_extra(m, UF_METRIC_COUNTER, "kafka_acked_events_total",
                                     "Messages acknowledged by the broker", NULL, NULL);
    k->m_delivery_errors =
        uf_metrics_extra(m, UF_METRIC_COUNTER, "kafka_delivery_errors_total",
                         "Deliveries that failed (then spooled or rejected)", NULL, NULL);
    k->m_spooled = uf_metrics_extra(m, UF_METRIC_COUNTER, "spool_written_events_total",
                                    "Events written to the disk spool", NULL, NULL);
    k->m_replayed = uf_metrics_extra(m, UF_METRIC_COUNTER, "spool_replayed_events_total",
                                     "Spooled messages delivered to the broker", NULL, NULL);
    k->m_spool_full =
        uf_metrics_extra(m, UF_METRIC_COUNTER, "spool_full_events_total",
                         "Events failed with 503 because the spool was full", NULL, NULL);
    k->m_rejected = uf_metrics_extra(m, UF_METRIC_COUNTER, "kafka_rejected_events_total",
                                     "Messages the broker refused for good", NULL, NULL);
    k->m_spool_discarded = uf_metrics_extra(
        m, UF_METRIC_COUNTER, "spool_discarded_records_total",
        "Spooled messages dropped because they can never be delivered", NULL, NULL);
}

static int kafka_start(struct uf_stage *st, void *ctx, struct uf_err *err)
{
    struct uf_kafka_ctx *k = ctx;
    register_metrics(k);
    struct uf_spool_cfg scfg = { .dir = k->spool_path,
                                 .max_bytes = k->spool_max_bytes,
                                 .segment_bytes = k->spool_segment_bytes,
                                 .fsync = (enum uf_spool_fsync)k->spool_fsync,
                                 .fsync_interval_ms = k->spool_fsync_interval_ms };
    if (k->spool_enabled && !(k->spool = uf_spool_open(&scfg, err)))
        goto fail;
    k->spooling = k->spool && !uf_spool_is_empty(k->spool);
    uf_kafka_update_gauges(k);
    char errstr[512];
    k->rk = rd_kafka_new(RD_KAFKA_PRODUCER, k->conf, errstr, sizeof errstr);
    if (!k->rk) {
        uf_err_set(err, UF_EIO, "create producer: %s", errstr);
        goto fail;
    }
    k->conf = NULL; /* rd_kafka_new took it */
    if (k->topic)
        k->rkt = rd_kafka_topic_new(k->rk, k->topic, NULL);
    if (k->spool &&
        !(k->rk_replay = rd_kafka_new(RD_KAFKA_PRODUCER, k->conf_replay, errstr, sizeof errstr))) {
        uf_err_set(err, UF_EIO, "create the replay's producer: %s", errstr);
        goto fail;
    }
    if (k->rk_replay)
        k->conf_replay = NULL;
    if (uf_kafka_threads_start(k, err) < 0)
        goto fail;
    uf_log(UF_LOG_INFO, st, "Producer started.", "brokers", k->brokers, "spool",
           k->spool ? k->spool_path : "none", "spooled", k->spooling ? "yes" : "no");
    return 0;
fail:
    return err && err->code ? err->code : UF_EIO;
}

/* One event ready to produce: topic and key are copies (topic_own, key_own, freed by write()),
 * value is ours until librdkafka or the spool takes it. */
struct encoded {
    const char *topic;
    const char *key;
    size_t key_len;
    char *value;
    size_t value_len;
    char *topic_own, *key_own;
};

/* The topic_field value (NULL when missing or not a string) and the key (the first key field
 * holding a non-empty string), in one read of the event's fields (k->pick). Returns false when
 * the event holds a text that is not one JSON object (err set). */
static bool read_fields(const struct uf_kafka_ctx *k, struct uf_event *ev, struct encoded *out,
                        struct uf_err *err)
{
    struct uf_fields f;
    if (!uf_event_fields(ev, k->pick, k->npick, k->npick, &f)) {
        *err = f.err;
        return false;
    }
    size_t first_key = k->topic_field ? 1 : 0;
    if (k->topic_field && f.str[0])
        out->topic = out->topic_own = uf_xstrdup(f.str[0]);
    for (size_t i = first_key; i < k->npick; i++) {
        if (f.str[i] && *f.str[i]) {
            out->key_len = strlen(f.str[i]);
            out->key = out->key_own = uf_xstrdup(f.str[i]);
            break;
        }
    }
    uf_fields_free(&f);
    return true;
}

/* Fails ev when it has no usable topic (out->topic NULL then): none at all, or a topic_field
 * value that Kafka would refuse. A bad name fails here, once, with 422: produced, it would fail
 * at the broker or reach the spool, which could never replay it. */
static bool check_topic(const struct uf_kafka_ctx *k, struct uf_event *ev, struct encoded *out)
{
    if (!out->topic || !*out->topic)
        out->topic = k->topic;
    if (!out->topic) {
        uf_event_fail(ev, 500, "no_topic", "the event names no Kafka topic");
        return false;
    }
    if (!uf_kafka_topic_is_valid(out->topic, strlen(out->topic))) {
        char msg[192];
        snprintf(msg, sizeof msg,
                 "field '%.32s' is not a valid Kafka topic name (1 to 249 characters of "
                 "A-Z a-z 0-9 . _ -)",
                 k->topic_field ? k->topic_field : "topic");
        out->topic = NULL;
        uf_event_fail(ev, 422, "invalid_topic", msg);
        return false;
    }
    return true;
}

/* Encodes ev into *out, or fails it (out->topic NULL then, nothing left to free): a text that
 * is not one object (only from a source that checks less than the http one), or no usable
 * topic. The event goes on only as a handle for its delivery report: its data is freed here,
 * on this thread, where it was built and is still in cache (freed by the report on the poll
 * thread instead, it cost 8% of the stat pipeline's CPU). */
static void encode(const struct uf_kafka_ctx *k, struct uf_event *ev, struct encoded *out)
{
    *out = (struct encoded){ .topic = NULL };
    struct uf_err err = { 0 };
    if (!read_fields(k, ev, out, &err)) {
        uf_event_fail(ev, 400, "malformed_json", err.msg);
        return;
    }
    if (!check_topic(k, ev, out)) {
        free(out->topic_own);
        free(out->key_own);
        out->topic_own = out->key_own = NULL;
        return;
    }
    out->value = uf_event_take_text(ev, &out->value_len);
    uf_event_release_data(ev);
}

/* Hands the message to librdkafka; on success it owns value and will report on ev. */
static rd_kafka_resp_err_t produce(struct uf_kafka_ctx *k, struct uf_event *ev,
                                   const struct encoded *e)
{
    if (k->rkt && e->topic == k->topic)
        return rd_kafka_producev(k->rk, RD_KAFKA_V_RKT(k->rkt), RD_KAFKA_V_KEY(e->key, e->key_len),
                                 RD_KAFKA_V_VALUE(e->value, e->value_len),
                                 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE), RD_KAFKA_V_OPAQUE(ev),
                                 RD_KAFKA_V_END);
    return rd_kafka_producev(k->rk, RD_KAFKA_V_TOPIC(e->topic), RD_KAFKA_V_KEY(e->key, e->key_len),
                             RD_KAFKA_V_VALUE(e->value, e->value_len),
                             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE), RD_KAFKA_V_OPAQUE(ev),
                             RD_KAFKA_V_END);
}

static void to_pending(struct uf_kafka_pending *p, struct uf_event *ev, struct encoded *e)
{
    p->ev = ev;
    p->topic = uf_xstrdup(e->topic);
    p->key = e->key_len ? uf_xstrndup(e->key, e->key_len) : NULL;
    p->key_len = e->key_len;
    p->value = e->value;
    p->value_len = e->value_len;
}

static bool may_produce(const struct uf_kafka_ctx *k)
{
    /* Without a spool every event goes to librdkafka, down brokers or not: it reconnects on
     * its own while messages wait, and message_timeout fails them. Gating on our own notion of
     * "down" could outlive the outage (it is cleared by a probe that can keep failing). */
    return !k->spooling && !atomic_load(&k->fatal) && !(k->spool && atomic_load(&k->broker_down));
}

/* Produces one encoded event (mode_lock held). True when that settled it: librdkafka took it,
 * or refused it for good (ev failed); false when it belongs in the spool (a full queue...). */
static bool produce_direct(struct uf_kafka_ctx *k, struct uf_event *ev, struct encoded *e)
{
    rd_kafka_resp_err_t rc = produce(k, ev, e);
    if (rc == RD_KAFKA_RESP_ERR_NO_ERROR)
        return true;
    if (!uf_kafka_is_permanent(rc))
        return false;
    uf_log_limited(UF_LOG_WARN, k->st, "Message refused.", "err", rd_kafka_err2str(rc));
    atomic_fetch_add(k->m_rejected, 1);
    uf_event_fail(ev, 500, "kafka_rejected", rd_kafka_err2str(rc));
    free(e->value);
    return true;
}

/* Produces or spools one encoded event (mode_lock held for writing). Returns false when it went
 * to *sp. */
static bool produce_or_hold(struct uf_kafka_ctx *k, struct uf_event *ev, struct encoded *e,
                            struct uf_kafka_pending *sp)
{
    if (may_produce(k) && produce_direct(k, ev, e))
        return true;
    k->spooling = k->spool != NULL; /* everything after this one queues behind it, in order */
    to_pending(sp, ev, e);
    return false;
}

/* Produces or spools every event; always takes the whole batch (UF_OK). The events are
 * serialised before mode_lock is taken: with `buffer: 0` write() runs on every request
 * thread at once, and only the produce-or-spool decision needs to be ordered. */
static int kafka_write(struct uf_stage *st, void *ctx, struct uf_event **evs, size_t n,
                       struct uf_err *err)
{
    struct uf_kafka_ctx *k = ctx;
    struct encoded one[1], *enc = n == 1 ? one : uf_xmalloc(n * sizeof(*enc));
    struct uf_kafka_pending sp_one[1], *sp = n == 1 ? sp_one : uf_xmalloc(n * sizeof(*sp));
    size_t nsp = 0;
    for (size_t i = 0; i < n; i++)
        encode(k, evs[i], &enc[i]);
    /* Producing directly, side by side with the other request threads; from the first event
     * librdkafka does not take, the rest go in order under the write side, spooled if need be. */
    size_t next = 0;
    pthread_rwlock_rdlock(&k->mode_lock);
    if (may_produce(k))
        while (next < n && (!enc[next].topic || produce_direct(k, evs[next], &enc[next])))
            next++;
    pthread_rwlock_unlock(&k->mode_lock);
    if (next < n) {
        pthread_rwlock_wrlock(&k->mode_lock);
        for (; next < n; next++)
            if (enc[next].topic && !produce_or_hold(k, evs[next], &enc[next], &sp[nsp]))
                nsp++;
        if (nsp)
            uf_kafka_spool_events(k, sp, nsp);
        pthread_rwlock_unlock(&k->mode_lock);
    }
    for (size_t i = 0; i < n; i++)
        if (enc[i].topic) {
            free(enc[i].topic_own);
            free(enc[i].key_own);
        }
    if (enc != one)
        free(enc);
    if (sp != sp_one)
        free(sp);
    return UF_OK;
}

/* Without a spool the events fail at once with 503, for their source to send again. */
static void fail_unspooled(struct uf_kafka_ctx *k, struct uf_kafka_pending *p, size_t n)
{
    const char *why = atomic_load(&k->fatal) ? "the producer failed for good" : "delivery failed";
    uf_log_limited(UF_LOG_WARN, k->st, "Failing events with 503 (no spool).", "reason", why);
    for (size_t i = 0; i < n; i++) {
        uf_event_fail(p[i].ev, 503, "kafka_unavailable", "the event store is unavailable");
        free(p[i].topic);
        free(p[i].key);
        free(p[i].value);
    }
}

void uf_kafka_spool_events(struct uf_kafka_ctx *k, struct uf_kafka_pending *p, size_t n)
{
    if (!k->spool) {
        fail_unspooled(k, p, n);
        return;
    }
    struct uf_spool_rec *recs = uf_xmalloc(n * sizeof(*recs));
    for (size_t i = 0; i < n; i++) {
        struct uf_kafka_msg m = { .topic = p[i].topic,
                                  .topic_len = strlen(p[i].topic),
                                  .key = p[i].key,
                                  .key_len = p[i].key_len,
                                  .value = p[i].value,
                                  .value_len = p[i].value_len };
        recs[i].data = uf_kafka_msg_pack(&m, &recs[i].len);
    }
    struct uf_err err = { 0 };
    int rc = uf_spool_append(k->spool, recs, n, &err);
    uf_kafka_update_gauges(k); /* before the events finish: whoever sees them done sees them */
    if (rc == 0) {
        atomic_fetch_add(k->m_spooled, (int64_t)n);
        uf_metrics_add(&uf_stage_metrics(k->st)->retries, n);
    } else if (rc == UF_EFULL) {
        atomic_fetch_add(k->m_spool_full, (int64_t)n);
        uf_log_limited(UF_LOG_ERROR, k->st, "Spool full, refusing events.", "err", err.msg);
    } else {
        uf_log_limited(UF_LOG_ERROR, k->st, "Spool write failed.", "err", err.msg);
    }
    for (size_t i = 0; i < n; i++) {
        if (rc == 0)
            uf_event_done(p[i].ev);
        else if (rc == UF_EFULL)
            uf_event_fail(p[i].ev, 503, "spool_full",
                          "the event store is unavailable and its buffer is full; retry later");
        else
            uf_event_fail(p[i].ev, 503, "spool_error", "the event store is unavailable");
        free(p[i].topic);
        free(p[i].key);
        free(p[i].value);
        free((void *)recs[i].data);
    }
    free(recs);
}

void uf_kafka_update_gauges(struct uf_kafka_ctx *k)
{
    if (!k->m_spool_bytes || !k->spool)
        return;
    atomic_store(k->m_spool_bytes, (int64_t)uf_spool_bytes(k->spool));
    atomic_store(k->m_spool_records, (int64_t)uf_spool_records(k->spool));
}

static void kafka_tick(struct uf_stage *st, void *ctx)
{
    struct uf_kafka_ctx *k = ctx;
    if (k->spool)
        uf_spool_tick(k->spool);
}

static void kafka_stop(struct uf_stage *st, void *ctx)
{
    struct uf_kafka_ctx *k = ctx;
    if (!k->rk)
        return;
    int64_t left_ms = uf_stage_deadline_ms(st) - 250; /* keep time to spool the rest */
    if (left_ms < 0)
        left_ms = 0;
    uf_kafka_threads_stop(k, uf_now_us() + left_ms * 1000);
    uf_kafka_update_gauges(k);
    uf_log(UF_LOG_INFO, st, "Producer stopped.", "spooled",
           k->spool && !uf_spool_is_empty(k->spool) ? "yes" : "no");
    if (k->rkt)
        rd_kafka_topic_destroy(k->rkt);
    k->rkt = NULL;
    rd_kafka_destroy(k->rk);
    k->rk = NULL;
    if (k->rk_replay)
        rd_kafka_destroy(k->rk_replay);
    k->rk_replay = NULL;
    uf_spool_close(k->spool);
    k->spool = NULL;
}

static void kafka_destroy(void *ctx)
{
    struct uf_kafka_ctx *k = ctx;
    if (k->rk) /* started but never stopped: should not happen, but do not leak threads */
        kafka_stop(k->st, k);
    uf_spool_close(k->spool); /* when start failed half-way */
    if (k->conf)
        rd_kafka_conf_destroy(k->conf);
    if (k->conf_replay)
        rd_kafka_conf_destroy(k->conf_replay);
    free(k->spool_path);
    free(k->pick);
    free(k->pend);
    if (k->locks_ready) {
        pthread_rwlock_destroy(&k->mode_lock);
    }
}

/* Not ready while no broker answers (events go to the spool, or fail without one), after a fatal
 * producer error, or with the spool nearly full. Reads atomics only. */
static bool kafka_ready(const void *ctx, char *why, size_t n)
{
    const struct uf_kafka_ctx *k = ctx;
    if (atomic_load(&((struct uf_kafka_ctx *)k)->fatal))
        return snprintf(why, n, "the producer hit a fatal error"), false;
    if (atomic_load(&((struct uf_kafka_ctx *)k)->broker_down))
        return snprintf(why, n, "Kafka brokers unreachable (%s)%s", k->brokers,
                        k->spool_enabled ? ", spooling to disk" : ""),
               false;
    return !k->spool_enabled || !k->m_spool_bytes ||
           uf_ready_spool_ok((uint64_t)atomic_load(k->m_spool_bytes), k->spool_max_bytes, why, n);
}

const struct uf_kind uf_sink_kafka = {
    .name = "kafka",
    .role = UF_SINK,
    .summary = "Produce events to Kafka; reply after the broker's ack, spool to disk when down",
    .options = kafka_options,
    .ctx_size = sizeof(struct uf_kafka_ctx),
    .init = kafka_init,
    .start = kafka_start,
    .write = kafka_write,
    .tick = kafka_tick,
    .stop = kafka_stop,
    .destroy = kafka_destroy,
    .ready = kafka_ready,
};
