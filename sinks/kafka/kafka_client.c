/* kafka_client.c: the librdkafka side of the kafka sink (see kafka_int.h for the threads).
 * Delivery reports run on the poll thread: an ack finishes the event; passing failures are
 * spooled together (one write, one fsync) before those events finish. With every broker down,
 * queued messages are purged at once and spooled, so requests do not wait out
 * message.timeout.ms. The replay thread drains one sealed segment at a time and deletes it only
 * when every record was acked or discarded (a permanent error is dropped and counted). Replay
 * uses its own producer with a longer linger: docs/architecture.md, "sinks/kafka". */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "framework/log.h"
#include "framework/mem.h"
#include "framework/metrics.h"
#include "framework/stage.h"
#include "sinks/kafka/kafka_int.h"

static const char *const compression_names[] = { "none", "gzip", "snappy", "lz4", "zstd" };

/* ---- configuration ---- */

static int set_prop(rd_kafka_conf_t *conf, const char *name, const char *value, struct uf_err *err)
{
    char errstr[256];
    if (rd_kafka_conf_set(conf, name, value, errstr, sizeof errstr) != RD_KAFKA_CONF_OK)
        return uf_err_set(err, UF_EINVAL, "librdkafka property '%s': %s", name, errstr);
    return 0;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque);
static void on_error(rd_kafka_t *rk, int e, const char *reason, void *opaque);
static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf);

/* The user's `properties` come last, so they can override anything (tests use
 * test.mock.num.brokers); their values are strings, numbers or booleans from YAML. */
static int set_user_props(rd_kafka_conf_t *conf, json_t *props, struct uf_err *err)
{
    const char *name;
    json_t *v;
    json_object_foreach(props, name, v)
    {
        char buf[64];
        const char *s = json_string_value(v);
        if (json_is_integer(v))
            snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v)), s = buf;
        else if (json_is_boolean(v))
            s = json_is_true(v) ? "true" : "false";
        else if (json_is_real(v))
            snprintf(buf, sizeof buf, "%g", json_real_value(v)), s = buf;
        if (!s)
            return uf_err_set(err, UF_EINVAL, "librdkafka property '%s': not a scalar", name);
        if (set_prop(conf, name, s, err) < 0)
            return UF_EINVAL;
    }
    return 0;
}

rd_kafka_conf_t *uf_kafka_conf_build(struct uf_kafka_ctx *k, bool replay, struct uf_err *err)
{
    char linger[24], batch[24], queue[24], timeout[24], replay_linger[24];
    snprintf(replay_linger, sizeof replay_linger, "%" PRId64, k->replay_linger_ms);
    snprintf(linger, sizeof linger, "%" PRId64, k->linger_ms);
    snprintf(batch, sizeof batch, "%" PRId64, k->batch_bytes);
    snprintf(queue, sizeof queue, "%" PRId64, k->queue_messages);
    snprintf(timeout, sizeof timeout, "%" PRId64, k->message_timeout_ms);
    const char *props[][2] = {
        { "bootstrap.servers", k->brokers },
        { "enable.idempotence", "true" },
        { "acks", "all" },
        { "compression.type", compression_names[k->compression] },
        { "linger.ms", linger },
        { "batch.size", batch },
        { "queue.buffering.max.messages", queue },
        { "message.timeout.ms", timeout },
        { "client.id", replay ? "ugcflow-replay" : "ugcflow" },
        { "log.connection.close", "false" },
        /* Replies wait for acks: with Nagle on, a small produce request sent while the
         * previous one is unacknowledged waits for the broker's delayed ACK (up to 40 ms),
         * which set the real broker's p99 in the stat benchmark. */
        { "socket.nagle.disable", "true" },
    };
    uf_kafka_zstd_reuse();
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    for (size_t i = 0; i < sizeof props / sizeof props[0]; i++)
        if (set_prop(conf, props[i][0], props[i][1], err) < 0)
            goto fail;
    if (set_user_props(conf, k->properties, err) < 0 ||
        (replay && set_prop(conf, "linger.ms", replay_linger, err) < 0))
        goto fail;
    rd_kafka_conf_set_opaque(conf, k);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_error_cb(conf, on_error);
    rd_kafka_conf_set_log_cb(conf, on_log);
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

/* Errors about the message or its topic, not the connection: sending it again fails the same
 * way (TOPIC_EXCEPTION is the broker's answer to an illegal topic name). */
bool uf_kafka_is_permanent(rd_kafka_resp_err_t e)
{
    switch (e) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR__BAD_MSG:
        return true;
    default:
        return false;
    }
}

/* Kafka's own rule (org.apache.kafka.common.internals.Topic): the broker refuses any other
 * name with TOPIC_EXCEPTION, and librdkafka refuses some locally. */
bool uf_kafka_topic_is_valid(const char *name, size_t len)
{
    static const char legal[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-";
    if (len == 0 || len > 249 || (len <= 2 && strspn(name, ".") == len))
        return false;
    for (size_t i = 0; i < len; i++)
        if (!name[i] || !strchr(legal, name[i]))
            return false;
    return true;
}

/* ---- callbacks (poll thread) ---- */

/* A spooled record that can never be delivered (refused for good by the broker or by
 * librdkafka, or unproducible as stored): keeping it would replay its segment for ever, leave
 * the sink spooling and, once the spool is full, fail every new event with 503. */
static void discard_spooled(struct uf_kafka_ctx *k, const char *why)
{
    atomic_fetch_add(k->m_spool_discarded, 1);
    uf_log_limited(UF_LOG_ERROR, k->st, "Spooled message cannot be delivered; discarded.", "err",
                   why);
}

static void replay_delivered(struct uf_kafka_ctx *k, rd_kafka_resp_err_t e)
{
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
        atomic_fetch_add(k->m_replayed, 1);
    } else if (uf_kafka_is_permanent(e)) {
        atomic_fetch_add(k->m_rejected, 1);
        discard_spooled(k, rd_kafka_err2str(e));
    } else {
        atomic_fetch_add(k->m_delivery_errors, 1);
    }
    if (e && !uf_kafka_is_permanent(e))
        k->rp_failed = true;
    k->rp_inflight--;
}

static void pend_push(struct uf_kafka_ctx *k, struct uf_event *ev, const rd_kafka_message_t *m)
{
    if (k->npend == k->cap_pend) {
        k->cap_pend = k->cap_pend ? k->cap_pend * 2 : 256;
        k->pend = uf_xrealloc(k->pend, k->cap_pend * sizeof(*k->pend));
    }
    struct uf_kafka_pending *p = &k->pend[k->npend++];
    p->ev = ev;
    p->topic = uf_xstrdup(rd_kafka_topic_name(m->rkt));
    p->key = m->key_len ? uf_xstrndup(m->key, m->key_len) : NULL;
    p->key_len = m->key_len;
    p->value = uf_xmalloc(m->len ? m->len : 1);
    memcpy(p->value, m->payload, m->len);
    p->value_len = m->len;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct uf_kafka_ctx *k = opaque;
    if (m->_private == &k->replay_tag) { /* on the replay thread, which polls rk_replay */
        replay_delivered(k, m->err);
        return;
    }
    struct uf_event *ev = m->_private;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        atomic_fetch_add(k->m_produced, 1);
        uf_event_done(ev);
        return;
    }
    atomic_fetch_add(k->m_delivery_errors, 1);
    if (uf_kafka_is_permanent(m->err)) {
        atomic_fetch_add(k->m_rejected, 1);
        uf_log_limited(UF_LOG_WARN, k->st, "Message refused.", "err", rd_kafka_err2str(m->err));
        uf_event_fail(ev, 500, "kafka_rejected", rd_kafka_err2str(m->err));
        return;
    }
    uf_log_limited(UF_LOG_WARN, k->st, k->spool ? "Delivery failed, spooling." : "Delivery failed.",
                   "err", rd_kafka_err2str(m->err));
    pend_push(k, ev, m);
}

static void on_error(rd_kafka_t *rk, int e, const char *reason, void *opaque)
{
    struct uf_kafka_ctx *k = opaque;
    if (e == RD_KAFKA_RESP_ERR__FATAL) {
        char buf[256];
        rd_kafka_fatal_error(rk, buf, sizeof buf);
        atomic_store(&k->fatal, true);
        atomic_store(&k->purge_wanted, true);
        uf_log(UF_LOG_ERROR, k->st, "Producer failed for good; spooling until restart.", "err",
               buf);
        return;
    }
    if (e == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
        atomic_store(&k->broker_down, true);
        /* Only a spool takes purged events. Without one, in-flight messages are left to
         * librdkafka: purging them voids the idempotent producer's sequence state. */
        if (k->spool)
            atomic_store(&k->purge_wanted, true);
    }
    uf_log_limited(UF_LOG_WARN, k->st, "Kafka client error.", "err", rd_kafka_err2str(e), "reason",
                   reason);
}

static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    struct uf_kafka_ctx *k = rd_kafka_opaque(rk);
    /* Connection failures arrive at syslog level 3; the error callback already reports the
     * state that matters (all brokers down), so none of these needs an operator. */
    enum uf_level l = level <= 4 ? UF_LOG_WARN : UF_LOG_DEBUG;
    uf_log_limited(l, k->st, "librdkafka.", "facility", fac, "text", buf);
}

/* ---- poll thread ---- */

static void flush_pending(struct uf_kafka_ctx *k)
{
    if (!k->npend)
        return;
    pthread_rwlock_wrlock(&k->mode_lock);
    k->spooling = k->spool != NULL;
    uf_kafka_spool_events(k, k->pend, k->npend);
    pthread_rwlock_unlock(&k->mode_lock);
    k->npend = 0;
}

static void purge_if_wanted(struct uf_kafka_ctx *k)
{
    if (!atomic_exchange(&k->purge_wanted, false))
        return;
    pthread_rwlock_wrlock(&k->mode_lock);
    k->spooling = k->spool != NULL; /* new events queue behind the purged ones */
    pthread_rwlock_unlock(&k->mode_lock);
    rd_kafka_purge(k->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    if (k->rk_replay) /* a replay under way fails now, not after message.timeout.ms */
        rd_kafka_purge(k->rk_replay, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    if (k->spool)
        uf_log(UF_LOG_WARN, k->st, "Brokers unreachable; spooling to disk.", "spool",
               k->spool_path);
    else /* fatal: nothing will deliver what is queued */
        uf_log(UF_LOG_WARN, k->st, "Failing queued events.");
}

static void *poll_main(void *arg)
{
    struct uf_kafka_ctx *k = arg;
    while (!atomic_load(&k->poll_stop)) {
        rd_kafka_poll(k->rk, 50);
        flush_pending(k);
        purge_if_wanted(k);
    }
    return NULL;
}

/* ---- replay thread ---- */

static void sleep_ms(int64_t ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* Waits up to ms on the replay's producer, serving its reports and callbacks. */
static void replay_poll(struct uf_kafka_ctx *k, int ms)
{
    if (k->rk_replay)
        rd_kafka_poll(k->rk_replay, ms);
    else
        sleep_ms(ms);
}

/* Checks that some broker answers before a replay, so a down broker costs one metadata
 * request per interval rather than message.timeout.ms per segment. */
static bool broker_reachable(struct uf_kafka_ctx *k)
{
    if (!atomic_load(&k->broker_down))
        return true;
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_t *rk = k->rk_replay ? k->rk_replay : k->rk;
    if (rd_kafka_metadata(rk, 0, NULL, &md, 1000) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return false;
    bool up = md->broker_cnt > 0;
    rd_kafka_metadata_destroy(md);
    if (up && atomic_exchange(&k->broker_down, false))
        uf_log(UF_LOG_INFO, k->st, "A broker answers again.");
    return up;
}

/* ---- spool records ---- */

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

void *uf_kafka_msg_pack(const struct uf_kafka_msg *m, size_t *len)
{
    *len = 2 + m->topic_len + 4 + m->key_len + m->value_len;
    unsigned char *p = uf_xmalloc(*len);
    p[0] = (unsigned char)m->topic_len;
    p[1] = (unsigned char)(m->topic_len >> 8);
    memcpy(p + 2, m->topic, m->topic_len);
    put_u32(p + 2 + m->topic_len, (uint32_t)m->key_len);
    if (m->key_len)
        memcpy(p + 6 + m->topic_len, m->key, m->key_len);
    if (m->value_len)
        memcpy(p + 6 + m->topic_len + m->key_len, m->value, m->value_len);
    return p;
}

bool uf_kafka_msg_unpack(const void *data, size_t n, struct uf_kafka_msg *m)
{
    const unsigned char *p = data;
    if (n < 6)
        return false;
    m->topic_len = (size_t)p[0] | (size_t)p[1] << 8;
    if (6 + m->topic_len > n)
        return false;
    m->topic = (const char *)p + 2;
    const unsigned char *k = p + 2 + m->topic_len;
    m->key_len = (size_t)k[0] | (size_t)k[1] << 8 | (size_t)k[2] << 16 | (size_t)k[3] << 24;
    if (m->key_len > n - 6 - m->topic_len)
        return false;
    m->key = p + 6 + m->topic_len;
    m->value = p + 6 + m->topic_len + m->key_len;
    m->value_len = n - 6 - m->topic_len - m->key_len;
    return true;
}

/* Produces one spooled record; __INVALID_ARG (permanent) when it does not unpack or its topic
 * is not a legal name (e.g. in a spool written before topics were checked on the way in). */
static rd_kafka_resp_err_t produce_rec(struct uf_kafka_ctx *k, const struct uf_spool_rec *rec)
{
    char topic[256]; /* legal names have at most 249 characters */
    struct uf_kafka_msg m, *r = &m;
    if (!uf_kafka_msg_unpack(rec->data, rec->len, &m) ||
        !uf_kafka_topic_is_valid(r->topic, r->topic_len))
        return RD_KAFKA_RESP_ERR__INVALID_ARG;
    memcpy(topic, r->topic, r->topic_len);
    topic[r->topic_len] = '\0';
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            k->rk_replay, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(r->key, r->key_len),
            RD_KAFKA_V_VALUE((void *)r->value, r->value_len),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(&k->replay_tag),
            RD_KAFKA_V_END);
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL || atomic_load(&k->stopping))
            return e;
        replay_poll(k, 5); /* acks coming back free room */
    }
}

/* Replays one segment; true when every record was acked or discarded for good. A record that
 * cannot be produced for a passing reason (stopping, fatal producer) ends the attempt. */
static bool replay_segment(struct uf_kafka_ctx *k, struct uf_spool_segment *seg)
{
    k->rp_failed = false;
    struct uf_spool_rec r;
    bool produced_all = true;
    while (uf_spool_segment_read(seg, &r) == 1) {
        if (atomic_load(&k->stopping)) {
            produced_all = false;
            break;
        }
        k->rp_inflight++;
        rd_kafka_resp_err_t e = produce_rec(k, &r);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
            continue;
        replay_delivered(k, e); /* its report: discards a permanent failure */
        if (!uf_kafka_is_permanent(e)) {
            produced_all = false;
            break;
        }
    }
    while (k->rp_inflight > 0) /* a stop purges what is left, so this ends */
        replay_poll(k, 10);
    return produced_all && !k->rp_failed;
}

/* Goes back to producing directly once the spool is empty (under mode_lock, so no append can
 * slip in between the check and the switch). */
static void leave_spooling_if_empty(struct uf_kafka_ctx *k)
{
    pthread_rwlock_wrlock(&k->mode_lock);
    if (k->spooling && uf_spool_is_empty(k->spool) && !atomic_load(&k->fatal)) {
        k->spooling = false;
        uf_log(UF_LOG_INFO, k->st, "Spool drained; producing directly again.");
    }
    pthread_rwlock_unlock(&k->mode_lock);
}

static void replay_once(struct uf_kafka_ctx *k)
{
    if (atomic_load(&k->fatal) || !broker_reachable(k))
        return;
    struct uf_err err = { 0 };
    struct uf_spool_segment *seg;
    while (!atomic_load(&k->stopping) && (seg = uf_spool_next_segment(k->spool, &err))) {
        bool ok = replay_segment(k, seg);
        uf_spool_segment_done(k->spool, seg, ok);
        uf_kafka_update_gauges(k);
        if (!ok) {
            atomic_store(&k->broker_down, true);
            return;
        }
    }
    if (err.code)
        uf_log_limited(UF_LOG_ERROR, k->st, "Spool read failed.", "err", err.msg);
    else
        leave_spooling_if_empty(k);
}

static void *replay_main(void *arg)
{
    struct uf_kafka_ctx *k = arg;
    int64_t next_us = 0;
    while (!atomic_load(&k->stopping)) {
        if (uf_now_us() < next_us) {
            replay_poll(k, 10);
            continue;
        }
        next_us = uf_now_us() + k->replay_interval_ms * 1000;
        if (!k->spool) { /* nothing to replay: only notice when a broker answers again */
            broker_reachable(k);
            continue;
        }
        uf_spool_tick(k->spool); /* the interval fsync, also without a sink worker */
        pthread_rwlock_rdlock(&k->mode_lock);
        bool spooling = k->spooling;
        pthread_rwlock_unlock(&k->mode_lock);
        if (spooling)
            replay_once(k);
    }
    return NULL;
}

/* ---- lifecycle ---- */

int uf_kafka_threads_start(struct uf_kafka_ctx *k, struct uf_err *err)
{
    if (pthread_create(&k->poll_thr, NULL, poll_main, k) != 0)
        return uf_err_set(err, UF_EIO, "start poll thread");
    if (pthread_create(&k->replay_thr, NULL, replay_main, k) != 0) {
        atomic_store(&k->poll_stop, true);
        pthread_join(k->poll_thr, NULL);
        return uf_err_set(err, UF_EIO, "start replay thread");
    }
    k->threads_up = true;
    return 0;
}

/* The live producer only: the replay's queue also counts callbacks that only its thread
 * serves, and a replay cut short is replayed again at the next start. */
static void wait_outq(struct uf_kafka_ctx *k, int64_t deadline_us)
{
    while (rd_kafka_outq_len(k->rk) > 0 && uf_now_us() < deadline_us)
        sleep_ms(5);
}

void uf_kafka_threads_stop(struct uf_kafka_ctx *k, int64_t deadline_us)
{
    if (!k->threads_up)
        return;
    atomic_store(&k->stopping, true); /* no new replays: let what is out finish */
    wait_outq(k, deadline_us);
    /* What is still unacknowledged goes to the spool; the purge reports arrive promptly. */
    rd_kafka_purge(k->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    if (k->rk_replay) /* its records stay in the spool for the next start */
        rd_kafka_purge(k->rk_replay, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    wait_outq(k, uf_now_us() + 2000000);
    pthread_join(k->replay_thr, NULL);
    atomic_store(&k->poll_stop, true);
    pthread_join(k->poll_thr, NULL);
    rd_kafka_poll(k->rk, 0);
    flush_pending(k);
    k->threads_up = false;
}
