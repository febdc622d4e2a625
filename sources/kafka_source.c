/* sources/kafka_source.c: the `kafka_source` source: consumes Kafka topics in a consumer group
 * and emits one event per message, committing offsets only behind what the sinks have written
 * (the service noun `kafka` is the producer sink's; kinds share one namespace). Each event has
 * its own completion; a partition commits the offset after its last contiguous finished
 * message. 4xx failures and malformed messages go to the dead-letter place before the commit
 * that passes them. With `payload: raw` a message is scanned only up to its id and held as
 * text. Threads: one consumer thread and `threads` parse threads; completions only store a
 * slot's state and signal. The rest: docs/architecture.md, "sources/kafka_source". */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "framework/clock.h"
#include "framework/event.h"
#include "framework/jscan.h"
#include "framework/log.h"
#include "framework/mem.h"
#include "framework/metrics.h"
#include "framework/stage.h"
#include "framework/uuid.h"

enum slot_state { SLOT_PENDING, SLOT_DONE, SLOT_DEAD, SLOT_UNWRITTEN };
enum { PAYLOAD_JSON, PAYLOAD_RAW };

struct ks_ctx;

struct slot {
    _Atomic int state;
    char *reason;            /* SLOT_DEAD: why; set before state (release) */
    rd_kafka_message_t *msg; /* kept until retired: the dead letter needs the original */
    struct ks_ctx *ks;
};

struct part {
    char *topic;
    int32_t id;
    struct slot *ring;
    size_t cap, head, count;
    int64_t watermark;     /* next offset to commit; -1 until a message was retired */
    int64_t committed;     /* last watermark sent to Kafka */
    bool assigned, zombie; /* zombie: revoked with messages in flight; never reused */
    bool stalled_logged;
    _Atomic int64_t *lag;
    struct part *next;
};

/* Slots waiting to be parsed and emitted by the parse threads: JSON parsing is most of a
 * message's cost, so it runs beside the consumer thread (events of one partition may then
 * reach the sink out of order, which the tables do not mind). */
#define WORK_CAP 8192
/* Slots the consumer thread hands over at once: one lock and one wake-up per batch instead of
 * per message. A batch is handed over when full and whenever the consumer has nothing more
 * ready right now, so a trickle of messages is not held back. */
#define HANDOFF 128

struct work {
    struct slot *v[WORK_CAP];
    size_t head, n;
    bool closed;
    pthread_mutex_t mu;
    pthread_cond_t nonempty, nonfull;
};

struct ks_ctx {
    char *brokers, *group, *dlq_topic, *dlq_file, *id_field;
    json_t *topics, *props;
    int start_at, dead_letter, payload;
    int64_t max_inflight, commit_interval_ms, revoke_timeout_ms;

    struct uf_stage *st;
    rd_kafka_t *rk, *dlq;
    FILE *dlq_fp;
    bool dlq_dirty; /* dead letters written since the last commit */
    struct part *parts;
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t lock;
    pthread_cond_t cond; /* signalled by completions and by the thread's state changes */
    atomic_bool stopping, quit, stopped_emitting;
    int64_t last_commit_us;
    int64_t threads;
    struct work wq;                /* consumer thread -> parse threads, when threads > 1 */
    struct slot *handoff[HANDOFF]; /* consumer thread only: slots not yet in wq */
    size_t nhandoff;
    pthread_t *parsers;
    size_t nparsers;
    _Atomic int64_t *m_stalled; /* partitions whose offsets wait behind an unwritten message */
};

static const char *const starts[] = { "earliest", "latest", NULL };
static const char *const dead_letters[] = { "kafka", "file", NULL };
static const char *const payloads[] = { "json", "raw", NULL };

static const struct uf_option ks_options[] = {
    { .name = "brokers",
      .type = UF_OPT_STR,
      .flags = UF_OPT_REQUIRED,
      .desc = "Kafka bootstrap servers, host:port[,host:port]",
      .offset = offsetof(struct ks_ctx, brokers) },
    { .name = "topics",
      .type = UF_OPT_LIST,
      .flags = UF_OPT_REQUIRED,
      .desc = "Topics to consume",
      .offset = offsetof(struct ks_ctx, topics) },
    { .name = "group",
      .type = UF_OPT_STR,
      .flags = UF_OPT_REQUIRED,
      .desc = "Consumer group id (one per flow)",
      .offset = offsetof(struct ks_ctx, group) },
    { .name = "start",
      .type = UF_OPT_ENUM,
      .def = "earliest",
      .values = starts,
      .desc = "Where a group without committed offsets starts",
      .offset = offsetof(struct ks_ctx, start_at) },
    { .name = "id_field",
      .type = UF_OPT_STR,
      .def = "event_id",
      .desc = "Field every message must carry as a UUID (empty: no check)",
      .offset = offsetof(struct ks_ctx, id_field) },
    { .name = "dead_letter",
      .type = UF_OPT_ENUM,
      .def = "kafka",
      .values = dead_letters,
      .desc = "Where malformed and rejected messages go, with the reason",
      .offset = offsetof(struct ks_ctx, dead_letter) },
    { .name = "dlq_topic",
      .type = UF_OPT_STR,
      .def = "ugc.dlq",
      .desc = "Dead-letter topic (dead_letter: kafka)",
      .offset = offsetof(struct ks_ctx, dlq_topic) },
    { .name = "dlq_file",
      .type = UF_OPT_STR,
      .desc = "Dead-letter file, one JSON line per message (dead_letter: file)",
      .offset = offsetof(struct ks_ctx, dlq_file) },
    { .name = "max_inflight",
      .type = UF_OPT_INT,
      .def = "65536",
      .min = 16,
      .max = 4194304,
      .desc = "Most uncommitted messages per partition before consumption waits (keep it above "
              "the sink's batch rows plus its buffer: a full partition stops the whole consumer)",
      .offset = offsetof(struct ks_ctx, max_inflight) },
    { .name = "commit_interval",
      .type = UF_OPT_DURATION,
      .def = "1s",
      .min = 10,
      .max = 600000,
      .desc = "How often advanced offsets are committed",
      .offset = offsetof(struct ks_ctx, commit_interval_ms) },
    { .name = "revoke_timeout",
      .type = UF_OPT_DURATION,
      .def = "10s",
      .min = 0,
      .max = 600000,
      .desc = "How long a revoke waits for in-flight messages before committing",
      .offset = offsetof(struct ks_ctx, revoke_timeout_ms) },
    { .name = "threads",
      .type = UF_OPT_INT,
      .def = "2",
      .min = 1,
      .max = 16,
      .desc = "Threads that parse messages and emit events (1: the consumer thread itself)",
      .offset = offsetof(struct ks_ctx, threads) },
    { .name = "payload",
      .type = UF_OPT_ENUM,
      .def = "json",
      .values = payloads,
      .desc = "json: parse each message into the event body; raw: check its id and hand the "
              "bytes on unparsed (read as text; parsed only by a kind that needs a tree)",
      .offset = offsetof(struct ks_ctx, payload) },
    { .name = "librdkafka",
      .type = UF_OPT_MAP,
      .desc = "Extra librdkafka consumer properties (e.g. fetch.max.bytes)",
      .offset = offsetof(struct ks_ctx, props) },
    { 0 }
};

static int ks_init(struct uf_stage *st, void *ctx, struct uf_err *err)
{
    struct ks_ctx *ks = ctx;
    ks->st = st;
    if (json_array_size(ks->topics) == 0)
        return uf_err_set(err, UF_EINVAL, "topics: expected at least one topic");
    if (ks->dead_letter == 1 && (!ks->dlq_file || !*ks->dlq_file))
        return uf_err_set(err, UF_EINVAL, "dead_letter: file needs dlq_file");
    pthread_mutex_init(&ks->lock, NULL);
    pthread_cond_init(&ks->cond, NULL);
    return 0;
}

/* ---- configuration ---- */

static int set_prop(rd_kafka_conf_t *conf, const char *k, const char *v, struct uf_err *err)
{
    char buf[256];
    if (rd_kafka_conf_set(conf, k, v, buf, sizeof(buf)) != RD_KAFKA_CONF_OK)
        return uf_err_set(err, UF_EINVAL, "librdkafka property '%s': %s", k, buf);
    return 0;
}

static int set_extra(rd_kafka_conf_t *conf, const json_t *props, struct uf_err *err)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)props, k, v)
    {
        char *s =
            json_is_string(v) ? uf_xstrdup(json_string_value(v)) : json_dumps(v, JSON_ENCODE_ANY);
        int rc = set_prop(conf, k, s, err);
        free(s);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- partitions and slots ---- */

static struct part *find_part(struct ks_ctx *ks, const char *topic, int32_t id, bool create)
{
    for (struct part *p = ks->parts; p; p = p->next) {
        if (!p->zombie && p->id == id && strcmp(p->topic, topic) == 0)
            return p;
    }
    if (!create)
        return NULL;
    struct part *p = uf_xcalloc(1, sizeof(*p));
    p->topic = uf_xstrdup(topic);
    p->id = id;
    p->cap = (size_t)ks->max_inflight;
    p->ring = uf_xcalloc(p->cap, sizeof(*p->ring));
    p->watermark = p->committed = -1;
    char label[300];
    snprintf(label, sizeof(label), "%s/%d", topic, id);
    p->lag =
        uf_metrics_extra(uf_stage_metrics(ks->st), UF_METRIC_GAUGE, "kafka_consumer_lag_messages",
                         "Messages in the partition not yet committed", "partition", label);
    p->next = ks->parts;
    ks->parts = p;
    return p;
}

static void part_free(struct part *p)
{
    for (size_t i = 0; i < p->count; i++) {
        struct slot *s = &p->ring[(p->head + i) % p->cap];
        rd_kafka_message_destroy(s->msg);
        free(s->reason);
    }
    free(p->ring);
    free(p->topic);
    free(p);
}

/* The reason recorded for a failed event: the "message" of the completion's error body. */
static char *failure_reason(struct uf_completion *c)
{
    json_t *body = uf_completion_body(c);
    json_t *e = json_object_get(body, "error");
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    return uf_xasprintf("%s: %s", code ? code : "failed", msg ? msg : "no message");
}

/* Completion callback (any thread): a 5xx means "not written", anything else is final. */
static void on_done(struct uf_completion *c, void *arg)
{
    struct slot *s = arg;
    struct ks_ctx *ks = s->ks; /* read before the release: the slot may be reused after it */
    int status = uf_completion_status(c);
    bool failed = uf_completion_count(c, UF_OUTCOME_FAILED) > 0;
    /* 503/504 (or a failure without a status) mean "not written, try later": the offset stays
     * behind the message. Any other failure is permanent — a 500 from a sink that gave up
     * included — and the message goes to the dead letters, so one poison message cannot
     * hold its partition forever. */
    int state = SLOT_DONE;
    if (status == 503 || status == 504 || (status == 0 && failed))
        state = SLOT_UNWRITTEN;
    else if (failed || status >= 400)
        state = SLOT_DEAD;
    if (state == SLOT_DEAD)
        s->reason = failure_reason(c);
    atomic_store_explicit(&s->state, state, memory_order_release);
    pthread_mutex_lock(&ks->lock);
    pthread_cond_broadcast(&ks->cond);
    pthread_mutex_unlock(&ks->lock);
}

/* ---- dead letters ---- */

/* A payload that is not UTF-8, as text: printable ASCII kept, other bytes as \xNN. */
static json_t *escaped(const void *payload, size_t len)
{
    const unsigned char *p = payload;
    char *s = uf_xmalloc(len * 4 + 1), *o = s;
    for (size_t i = 0; i < len; i++)
        o += p[i] >= 0x20 && p[i] < 0x7f ? sprintf(o, "%c", p[i]) : sprintf(o, "\\x%02x", p[i]);
    json_t *j = json_string(s);
    free(s);
    return j;
}

static char *dead_letter_json(const rd_kafka_message_t *m, const char *reason)
{
    json_t *o = json_object();
    json_object_set_new(o, "reason", json_string(reason));
    json_object_set_new(o, "topic", json_string(rd_kafka_topic_name(m->rkt)));
    json_object_set_new(o, "partition", json_integer(m->partition));
    json_object_set_new(o, "offset", json_integer(m->offset));
    json_t *payload = json_stringn(m->payload ? m->payload : "", m->len);
    json_object_set_new(o, "payload", payload ? payload : escaped(m->payload, m->len));
    json_object_set_new(o, "at_us", json_integer(uf_wall_us()));
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

/* Writes the dead letter; returns 0 when it is on its way (Kafka) or written (file). */
static int write_dead_letter(struct ks_ctx *ks, const rd_kafka_message_t *m, const char *reason)
{
    char *line = dead_letter_json(m, reason);
    int rc = 0;
    if (ks->dlq_fp) {
        rc = fprintf(ks->dlq_fp, "%s\n", line) < 0 ? -1 : 0;
    } else {
        rd_kafka_resp_err_t e;
        do {
            e = rd_kafka_producev(ks->dlq, RD_KAFKA_V_TOPIC(ks->dlq_topic),
                                  RD_KAFKA_V_VALUE(line, strlen(line)),
                                  RD_KAFKA_V_KEY(m->key, m->key_len),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
            if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                rd_kafka_poll(ks->dlq, 100);
        } while (e == RD_KAFKA_RESP_ERR__QUEUE_FULL);
        rc = e ? -1 : 0;
    }
    free(line);
    uf_metrics_add(&uf_stage_metrics(ks->st)->errors, 1);
    uf_log_limited(UF_LOG_WARN, ks->st, "Message sent to the dead-letter place.", "reason", reason);
    ks->dlq_dirty = true;
    return rc;
}

/* Makes dead letters durable before a commit passes them. */
static int flush_dead_letters(struct ks_ctx *ks)
{
    if (!ks->dlq_dirty)
        return 0;
    int rc = 0;
    if (ks->dlq_fp)
        rc = fflush(ks->dlq_fp) == 0 && fsync(fileno(ks->dlq_fp)) == 0 ? 0 : -1;
    else
        rc = rd_kafka_flush(ks->dlq, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : -1;
    if (rc == 0)
        ks->dlq_dirty = false;
    else
        uf_log_limited(UF_LOG_ERROR, ks->st, "Dead letters not durable; holding commits.",
                       "dead_letter", ks->dlq_fp ? ks->dlq_file : ks->dlq_topic);
    return rc;
}

/* ---- retiring and committing (consumer thread) ---- */

/* Retires the done slots at the head of p's ring; returns how many. */
static size_t retire(struct ks_ctx *ks, struct part *p)
{
    size_t n = 0;
    while (p->count > 0) {
        struct slot *s = &p->ring[p->head];
        int state = atomic_load_explicit(&s->state, memory_order_acquire);
        if (state == SLOT_UNWRITTEN && !p->stalled_logged) {
            p->stalled_logged = true;
            atomic_fetch_add(ks->m_stalled, 1);
            uf_log(UF_LOG_WARN, ks->st,
                   "A message was not written; offsets of its partition "
                   "stay behind it until restart.",
                   "topic", p->topic);
        }
        if (state == SLOT_PENDING || state == SLOT_UNWRITTEN)
            break;
        if (state == SLOT_DEAD && write_dead_letter(ks, s->msg, s->reason) < 0)
            break;
        p->watermark = s->msg->offset + 1;
        rd_kafka_message_destroy(s->msg);
        free(s->reason);
        s->msg = NULL;
        s->reason = NULL;
        p->head = (p->head + 1) % p->cap;
        p->count--;
        n++;
    }
    return n;
}

static void update_lag(struct ks_ctx *ks, struct part *p)
{
    int64_t lo, hi;
    if (rd_kafka_get_watermark_offsets(ks->rk, p->topic, p->id, &lo, &hi) != 0 || hi < 0)
        return;
    int64_t at = p->watermark >= 0 ? p->watermark : lo;
    atomic_store_explicit(p->lag, hi > at ? hi - at : 0, memory_order_relaxed);
}

/* Commits every assigned partition whose watermark moved (only = NULL) or just `only`. */
static void commit(struct ks_ctx *ks, struct part *only, bool sync)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(4);
    for (struct part *p = ks->parts; p; p = p->next) {
        if ((only && p != only) || p->zombie || !p->assigned)
            continue;
        retire(ks, p);
        update_lag(ks, p);
        if (p->watermark > p->committed)
            rd_kafka_topic_partition_list_add(l, p->topic, p->id)->offset = p->watermark;
    }
    if (l->cnt > 0 && flush_dead_letters(ks) == 0) {
        rd_kafka_resp_err_t e = rd_kafka_commit(ks->rk, l, sync ? 0 : 1);
        if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET)
            uf_log_limited(UF_LOG_WARN, ks->st, "Offset commit failed.", "err",
                           rd_kafka_err2str(e));
        for (int i = 0; !e && i < l->cnt; i++)
            find_part(ks, l->elems[i].topic, l->elems[i].partition, false)->committed =
                l->elems[i].offset;
    }
    rd_kafka_topic_partition_list_destroy(l);
    ks->last_commit_us = uf_now_us();
}

static void wait_signal(struct ks_ctx *ks, int ms)
{
    struct timespec ts = uf_clock_after(CLOCK_REALTIME, (int64_t)ms * 1000);
    pthread_mutex_lock(&ks->lock);
    pthread_cond_timedwait(&ks->cond, &ks->lock, &ts);
    pthread_mutex_unlock(&ks->lock);
}

/* ---- rebalance ---- */

static bool revoked_idle(struct ks_ctx *ks, const rd_kafka_topic_partition_list_t *l)
{
    for (int i = 0; i < l->cnt; i++) {
        struct part *p = find_part(ks, l->elems[i].topic, l->elems[i].partition, false);
        if (!p)
            continue;
        retire(ks, p);
        /* Nothing can be committed past a message that was not written: stop waiting. */
        if (p->count > 0 && atomic_load(&p->ring[p->head].state) != SLOT_UNWRITTEN)
            return false;
    }
    return true;
}

static void hand_off(struct ks_ctx *ks);

static void on_revoke(struct ks_ctx *ks, const rd_kafka_topic_partition_list_t *l)
{
    int64_t deadline = uf_now_us() + ks->revoke_timeout_ms * 1000;
    if (ks->nhandoff > 0)
        hand_off(ks); /* what it waits for must be on its way */
    while (!revoked_idle(ks, l) && uf_now_us() < deadline)
        wait_signal(ks, 50);
    commit(ks, NULL, true);
    for (int i = 0; i < l->cnt; i++) {
        struct part *p = find_part(ks, l->elems[i].topic, l->elems[i].partition, false);
        if (!p)
            continue;
        p->assigned = false;
        if (p->count > 0) {
            /* Late completions still point into this ring: keep it until destroy. */
            p->zombie = true;
            uf_log(UF_LOG_WARN, ks->st,
                   "Partition revoked with messages in flight; they will "
                   "be read again by its next owner.",
                   "topic", p->topic);
        }
    }
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *l, void *opaque)
{
    struct ks_ctx *ks = opaque;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        for (int i = 0; i < l->cnt; i++) {
            struct part *p = find_part(ks, l->elems[i].topic, l->elems[i].partition, true);
            p->assigned = true;
            p->watermark = p->committed = -1;
        }
        uf_log(UF_LOG_INFO, ks->st, "Partitions assigned.", "group", ks->group);
        rd_kafka_assign(rk, l);
        if (atomic_load(&ks->stopping))
            rd_kafka_pause_partitions(rk, l);
    } else {
        on_revoke(ks, l);
        uf_log(UF_LOG_INFO, ks->st, "Partitions revoked.", "group", ks->group);
        rd_kafka_assign(rk, NULL);
    }
}

/* ---- start ---- */

static rd_kafka_t *make_consumer(struct ks_ctx *ks, struct uf_err *err)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char buf[256];
    if (set_prop(conf, "bootstrap.servers", ks->brokers, err) < 0 ||
        set_prop(conf, "group.id", ks->group, err) < 0 ||
        set_prop(conf, "enable.auto.commit", "false", err) < 0 ||
        set_prop(conf, "enable.auto.offset.store", "false", err) < 0 ||
        set_prop(conf, "auto.offset.reset", starts[ks->start_at], err) < 0 ||
        set_prop(conf, "client.id", "ugcflow", err) < 0 ||
        (ks->props && set_extra(conf, ks->props, err) < 0)) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    rd_kafka_conf_set_opaque(conf, ks);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, buf, sizeof(buf));
    if (!rk) {
        uf_err_set(err, UF_EINVAL, "consumer: %s", buf);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    return rk;
}

static int open_dead_letter(struct ks_ctx *ks, struct uf_err *err)
{
    if (ks->dead_letter == 1) {
        ks->dlq_fp = fopen(ks->dlq_file, "a");
        if (!ks->dlq_fp)
            return uf_err_set(err, UF_EIO, "dlq_file '%s': %s", ks->dlq_file, strerror(errno));
        return 0;
    }
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char buf[256];
    if (set_prop(conf, "bootstrap.servers", ks->brokers, err) < 0 ||
        set_prop(conf, "enable.idempotence", "true", err) < 0 ||
        set_prop(conf, "linger.ms", "5", err) < 0) {
        rd_kafka_conf_destroy(conf);
        return UF_EINVAL;
    }
    ks->dlq = rd_kafka_new(RD_KAFKA_PRODUCER, conf, buf, sizeof(buf));
    if (!ks->dlq)
        return uf_err_set(err, UF_EINVAL, "dead-letter producer: %s", buf);
    return 0;
}

static void *consume_main(void *arg);
static void *parse_main(void *arg);

static int ks_start(struct uf_stage *st, void *ctx, struct uf_err *err)
{
    struct ks_ctx *ks = ctx;
    ks->m_stalled =
        uf_metrics_extra(uf_stage_metrics(st), UF_METRIC_GAUGE, "kafka_stalled_partitions",
                         "Partitions whose commits wait behind a message the sink "
                         "could not write (until restart)",
                         NULL, NULL);
    if (open_dead_letter(ks, err) < 0)
        return UF_EIO;
    ks->rk = make_consumer(ks, err);
    if (!ks->rk)
        return UF_EINVAL;
    size_t n = json_array_size(ks->topics);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)n);
    for (size_t i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(l, json_string_value(json_array_get(ks->topics, i)),
                                          RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(ks->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e)
        return uf_err_set(err, UF_EIO, "subscribe: %s", rd_kafka_err2str(e));
    if (ks->threads > 1) {
        pthread_mutex_init(&ks->wq.mu, NULL);
        pthread_cond_init(&ks->wq.nonempty, NULL);
        pthread_cond_init(&ks->wq.nonfull, NULL);
        ks->parsers = uf_xcalloc((size_t)ks->threads, sizeof(pthread_t));
        for (; ks->nparsers < (size_t)ks->threads; ks->nparsers++) {
            if (pthread_create(&ks->parsers[ks->nparsers], NULL, parse_main, ks) != 0)
                return uf_err_set(err, UF_EIO, "cannot start a parse thread");
        }
    }
    if (pthread_create(&ks->thread, NULL, consume_main, ks) != 0)
        return uf_err_set(err, UF_EIO, "cannot start the consumer thread");
    ks->thread_started = true;
    uf_log(UF_LOG_INFO, st, "Kafka consumer started.", "group", ks->group);
    return 0;
}

/* ---- the consumer thread ---- */

/* Why a message cannot become an event, or NULL (then *body is the parsed object). */
static char *check_message(struct ks_ctx *ks, const rd_kafka_message_t *m, json_t **body,
                           uint8_t id[16])
{
    json_error_t je;
    *body = json_loadb(m->payload ? m->payload : "", m->len, JSON_REJECT_DUPLICATES, &je);
    if (!*body)
        return uf_xasprintf("not JSON: %s at byte %d", je.text, je.position);
    char *why = NULL;
    if (!json_is_object(*body)) {
        why = uf_xstrdup("not a JSON object");
    } else if (*ks->id_field) {
        const char *v = json_string_value(json_object_get(*body, ks->id_field));
        if (!v)
            why = uf_xasprintf("missing %s", ks->id_field);
        else if (!uf_uuid_parse(v, id))
            why = uf_xasprintf("%s is not a UUID", ks->id_field);
    }
    if (why) {
        json_decref(*body);
        *body = NULL;
    }
    return why;
}

struct id_check {
    const char *field;
    uint8_t *id;
    int found; /* 0: missing, 1: a UUID, -1: not a UUID */
};

static int on_member(void *arg, const struct uf_jmember *m, struct uf_err *err)
{
    struct id_check *ic = arg;
    if (!uf_jscan_key_is(m, ic->field))
        return 0;
    char buf[64];
    ic->found = -1;
    if (m->type == UF_J_STRING && m->val_len < sizeof(buf)) {
        size_t n = uf_jscan_unescape(m->val, m->val_len, buf);
        buf[n] = '\0';
        ic->found = uf_uuid_parse(buf, ic->id) ? 1 : -1;
    } else if (m->type != UF_J_STRING) {
        ic->found = 0; /* as json_string_value: a non-string counts as missing */
    }
    return 1; /* found: the rest of the text is the consumer's to check */
}

/* check_message for payload: raw: a strict scan (jscan.h) up to the id field instead of a parse,
 * with the same reasons (the text of "not JSON" ones differs from jansson's). The text after
 * the id is not looked at here: the event's readers check it strictly anyway (event.h; the
 * clickhouse sink refuses a malformed row with 422, which dead-letters it), and scanning it
 * twice was a tenth of the flow's CPU. Without an id field there is nothing to check here. */
static char *check_raw(struct ks_ctx *ks, const rd_kafka_message_t *m, uint8_t id[16])
{
    if (!*ks->id_field)
        return NULL;
    struct uf_err err = { 0 };
    struct id_check ic = { .field = ks->id_field, .id = id };
    if (uf_jscan_object(m->payload ? m->payload : "", m->len, on_member, &ic, &err) < 0)
        return uf_xstrdup(err.msg);
    if (ic.found == 0)
        return uf_xasprintf("missing %s", ks->id_field);
    if (ic.found < 0)
        return uf_xasprintf("%s is not a UUID", ks->id_field);
    return NULL;
}

/* Waits for room in p's ring (the sinks are behind); false when stopping. */
static bool wait_room(struct ks_ctx *ks, struct part *p)
{
    while (p->count == p->cap) {
        if (retire(ks, p) > 0)
            break;
        if (atomic_load(&ks->stopping))
            return false;
        wait_signal(ks, 100);
        if (uf_now_us() - ks->last_commit_us >= ks->commit_interval_ms * 1000)
            commit(ks, NULL, false);
    }
    return true;
}

/* Parses the slot's message and emits its event (any thread); while stopping, the message is
 * left unwritten instead, so it is read again after a restart. */
static void parse_emit(struct ks_ctx *ks, struct slot *s)
{
    if (atomic_load(&ks->stopping)) {
        atomic_store_explicit(&s->state, SLOT_UNWRITTEN, memory_order_release);
        return;
    }
    json_t *body = NULL;
    uint8_t id[16];
    bool raw = ks->payload == PAYLOAD_RAW;
    char *why = raw ? check_raw(ks, s->msg, id) : check_message(ks, s->msg, &body, id);
    if (why) {
        s->reason = why;
        atomic_store_explicit(&s->state, SLOT_DEAD, memory_order_release);
        return;
    }
    const uint8_t *given = *ks->id_field ? id : NULL;
    /* raw: the bytes stay in s->msg until the slot retires, after the completion ran. */
    struct uf_event *ev =
        raw ? uf_event_new_raw(s->msg->payload, s->msg->len, given) : uf_event_new(body);
    if (!raw && given)
        uf_event_set_id(ev, id);
    struct uf_completion *c = uf_completion_new(on_done, s);
    uf_completion_attach(c, ev);
    uf_completion_release(c);
    uf_emit(ks->st, ev);
}

/* Hands the consumer thread's pending slots to the parse threads, waiting for room in the
 * queue; while stopping, what finds no room is left unwritten. */
static void hand_off(struct ks_ctx *ks)
{
    struct work *w = &ks->wq;
    size_t k = 0;
    pthread_mutex_lock(&w->mu);
    while (k < ks->nhandoff) {
        while (w->n == WORK_CAP && !atomic_load(&ks->stopping)) {
            struct timespec ts = uf_clock_after(CLOCK_REALTIME, 1000000);
            pthread_cond_timedwait(&w->nonfull, &w->mu, &ts);
        }
        if (w->n == WORK_CAP) /* stopping: no parse thread will take it */
            break;
        for (; k < ks->nhandoff && w->n < WORK_CAP; k++)
            w->v[(w->head + w->n++) % WORK_CAP] = ks->handoff[k];
        pthread_cond_broadcast(&w->nonempty);
    }
    pthread_mutex_unlock(&w->mu);
    for (; k < ks->nhandoff; k++)
        atomic_store_explicit(&ks->handoff[k]->state, SLOT_UNWRITTEN, memory_order_release);
    ks->nhandoff = 0;
}

/* Stopping: slots not handed off yet are not emitted; they are read again after a restart. */
static void drop_handoff(struct ks_ctx *ks)
{
    for (size_t k = 0; k < ks->nhandoff; k++)
        atomic_store_explicit(&ks->handoff[k]->state, SLOT_UNWRITTEN, memory_order_release);
    ks->nhandoff = 0;
}

static void *parse_main(void *arg)
{
    struct ks_ctx *ks = arg;
    struct work *w = &ks->wq;
    struct slot *batch[128];
    for (;;) {
        pthread_mutex_lock(&w->mu);
        while (w->n == 0 && !w->closed)
            pthread_cond_wait(&w->nonempty, &w->mu);
        size_t k = 0;
        for (; k < 128 && w->n > 0; k++, w->n--) {
            batch[k] = w->v[w->head];
            w->head = (w->head + 1) % WORK_CAP;
        }
        pthread_cond_broadcast(&w->nonfull);
        pthread_mutex_unlock(&w->mu);
        if (k == 0)
            return NULL; /* closed and drained */
        for (size_t i = 0; i < k; i++)
            parse_emit(ks, batch[i]);
    }
}

static void handle_message(struct ks_ctx *ks, rd_kafka_message_t *m)
{
    struct part *p = find_part(ks, rd_kafka_topic_name(m->rkt), m->partition, false);
    if (p && p->count == p->cap && ks->nhandoff > 0)
        hand_off(ks); /* the ring frees only as handed-off slots complete */
    if (!p || !wait_room(ks, p)) {
        rd_kafka_message_destroy(m); /* not ours (any more): read again by the owner */
        return;
    }
    struct slot *s = &p->ring[(p->head + p->count) % p->cap];
    s->msg = m;
    s->ks = ks;
    s->reason = NULL;
    atomic_store_explicit(&s->state, SLOT_PENDING, memory_order_relaxed);
    p->count++;
    if (ks->nparsers == 0) {
        parse_emit(ks, s);
        return;
    }
    ks->handoff[ks->nhandoff++] = s;
    if (ks->nhandoff == HANDOFF)
        hand_off(ks);
}

static void pause_all(struct ks_ctx *ks)
{
    rd_kafka_topic_partition_list_t *l = NULL;
    if (rd_kafka_assignment(ks->rk, &l) == 0 && l) {
        rd_kafka_pause_partitions(ks->rk, l);
        rd_kafka_topic_partition_list_destroy(l);
    }
}

static void *consume_main(void *arg)
{
    struct ks_ctx *ks = arg;
    unsigned since_clock = 0;
    while (!atomic_load(&ks->quit)) {
        bool stopping = atomic_load(&ks->stopping);
        if (stopping && !atomic_load(&ks->stopped_emitting)) {
            drop_handoff(ks);
            pause_all(ks);
            pthread_mutex_lock(&ks->lock);
            atomic_store(&ks->stopped_emitting, true);
            pthread_cond_broadcast(&ks->cond);
            pthread_mutex_unlock(&ks->lock);
        }
        /* With slots waiting to be handed off, only take what is ready now. */
        int timeout = ks->nhandoff > 0 ? 0 : stopping ? 50 : 100;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(ks->rk, timeout);
        if (m && m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                uf_log_limited(UF_LOG_WARN, ks->st, "Consumer error.", "err",
                               rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
        } else if (m && stopping) {
            rd_kafka_message_destroy(m); /* beyond every watermark: read again on restart */
        } else if (m) {
            handle_message(ks, m);
        }
        if (!m && ks->nhandoff > 0)
            hand_off(ks);
        /* The clock is read every 64 messages (and when idle), not per message. */
        if ((!m || ++since_clock % 64 == 0) &&
            uf_now_us() - ks->last_commit_us >= ks->commit_interval_ms * 1000)
            commit(ks, NULL, false);
    }
    commit(ks, NULL, true);
    return NULL;
}

/* ---- stop and destroy ---- */

/* Closes the work queue and joins the parse threads (they drain it, leaving what they did not
 * emit unwritten). Called once the consumer thread stopped handing out work. */
static void stop_parsers(struct ks_ctx *ks)
{
    if (ks->nparsers == 0)
        return;
    pthread_mutex_lock(&ks->wq.mu);
    ks->wq.closed = true;
    pthread_cond_broadcast(&ks->wq.nonempty);
    pthread_mutex_unlock(&ks->wq.mu);
    for (size_t i = 0; i < ks->nparsers; i++)
        pthread_join(ks->parsers[i], NULL);
    ks->nparsers = 0;
}

static void ks_stop(struct uf_stage *st, void *ctx)
{
    struct ks_ctx *ks = ctx;
    if (!ks->thread_started)
        return;
    /* Stop emitting now; keep the thread committing (sinks finish events after this returns)
     * until destroy. */
    pthread_mutex_lock(&ks->lock);
    atomic_store(&ks->stopping, true);
    pthread_cond_broadcast(&ks->cond);
    while (!atomic_load(&ks->stopped_emitting))
        pthread_cond_wait(&ks->cond, &ks->lock);
    pthread_mutex_unlock(&ks->lock);
    stop_parsers(ks);
}

static void ks_destroy(void *ctx)
{
    struct ks_ctx *ks = ctx;
    atomic_store(&ks->stopping, true);
    if (ks->thread_started) {
        atomic_store(&ks->quit, true);
        pthread_join(ks->thread, NULL);
    }
    stop_parsers(ks);
    if (ks->parsers) {
        pthread_mutex_destroy(&ks->wq.mu);
        pthread_cond_destroy(&ks->wq.nonempty);
        pthread_cond_destroy(&ks->wq.nonfull);
        free(ks->parsers);
    }
    if (ks->rk)
        rd_kafka_consumer_close(ks->rk); /* revoke: commits what is done */
    /* The slots' messages first: rd_kafka_destroy waits for every message still referenced,
     * and the slots of events a sink could not write (503 at shutdown) still hold theirs. */
    while (ks->parts) {
        struct part *p = ks->parts;
        ks->parts = p->next;
        part_free(p);
    }
    if (ks->rk)
        rd_kafka_destroy(ks->rk);
    if (ks->dlq) {
        rd_kafka_flush(ks->dlq, 10000);
        rd_kafka_destroy(ks->dlq);
    }
    if (ks->dlq_fp)
        fclose(ks->dlq_fp);
    if (ks->st) {
        pthread_mutex_destroy(&ks->lock);
        pthread_cond_destroy(&ks->cond);
    }
}

const struct uf_kind uf_source_kafka_source = {
    .name = "kafka_source",
    .role = UF_SOURCE,
    .summary = "Consume Kafka topics in a group; commit offsets only behind written events",
    .options = ks_options,
    .ctx_size = sizeof(struct ks_ctx),
    .init = ks_init,
    .start = ks_start,
    .stop = ks_stop,
    .destroy = ks_destroy,
};
