/* kafka_int.h: what the files of the kafka sink share (not a public interface).
 * kafka.c holds the options, the lifecycle and write(); kafka_client.c the librdkafka side:
 * configuration, delivery reports (the poll thread), errors, and the replay thread that drains
 * the spool back to the broker through a producer of its own. `mode_lock` (a readers-writer
 * lock) orders "produce directly or append to the spool" against the replay's "spool drained":
 * while the spool holds anything new events go behind it, which keeps per-key order across an
 * outage. Threads and the lock: docs/architecture.md, "sinks/kafka". */
#ifndef UF_KAFKA_INT_H
#define UF_KAFKA_INT_H

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "framework/err.h"
#include "framework/spool.h"

struct uf_stage;
struct uf_event;

/* A delivery that failed passingly, waiting on the poll thread to be spooled in one append. */
struct uf_kafka_pending {
    struct uf_event *ev;
    char *topic;
    void *key, *value;
    size_t key_len, value_len;
};

struct uf_kafka_ctx {
    /* options (owned by the framework) */
    char *brokers;
    char *topic;
    char *topic_field;
    json_t *key_fields;
    int compression;
    int64_t linger_ms;
    int64_t batch_bytes;
    int64_t queue_messages;
    int64_t message_timeout_ms;
    json_t *properties;
    bool spool_enabled;
    char *spool_dir;
    int64_t spool_max_bytes;
    int64_t spool_segment_bytes;
    int spool_fsync;
    int64_t spool_fsync_interval_ms;
    int64_t replay_interval_ms;
    int64_t replay_linger_ms;

    /* ours */
    struct uf_stage *st;
    const char **pick; /* topic_field (when set) then the key_fields names: what a
                        * raw event's text is scanned for (names borrow options) */
    size_t npick;
    char *spool_path;             /* spool_dir, or the default derived from the component */
    rd_kafka_conf_t *conf;        /* built in init, handed to rd_kafka_new in start */
    rd_kafka_conf_t *conf_replay; /* the same with replay_linger; NULL without a spool */
    rd_kafka_t *rk;
    rd_kafka_t *rk_replay;  /* the replay's producer; NULL without a spool */
    rd_kafka_topic_t *rkt;  /* the default topic, NULL when none */
    struct uf_spool *spool; /* NULL with `spool: false` */
    pthread_t poll_thr, replay_thr;
    bool threads_up;
    atomic_bool stopping; /* no new replays; loops wind down */
    atomic_bool poll_stop;
    atomic_bool broker_down;  /* every broker unreachable: spool without trying */
    atomic_bool purge_wanted; /* set by the error callback, acted on by the poll thread */
    atomic_bool fatal;        /* the idempotent producer hit a fatal error */

    bool locks_ready;           /* mode_lock was initialised (init ran) */
    pthread_rwlock_t mode_lock; /* read: producing directly; write: any spool decision */
    bool spooling;              /* under mode_lock: new events go to the spool */

    struct uf_kafka_pending *pend; /* poll thread only */
    size_t npend, cap_pend;

    size_t rp_inflight; /* replay bookkeeping: replay thread only */
    bool rp_failed;
    char replay_tag; /* its address marks replayed messages' opaque */

    _Atomic int64_t *m_spool_bytes, *m_spool_records, *m_produced, *m_delivery_errors, *m_spooled,
        *m_replayed, *m_spool_full, *m_rejected, *m_spool_discarded;
};

/* A message as the spool keeps it: one record of [u16 topic length][topic][u32 key length][key]
 * [value]. Pointers borrow the record or the caller's buffers. */
struct uf_kafka_msg {
    const char *topic;
    size_t topic_len;
    const void *key;
    size_t key_len;
    const void *value;
    size_t value_len;
};
/* The record of m, in a new buffer of *len bytes. */
void *uf_kafka_msg_pack(const struct uf_kafka_msg *m, size_t *len);
/* Splits a record read back; false when its inner lengths do not add up. */
bool uf_kafka_msg_unpack(const void *data, size_t len, struct uf_kafka_msg *m);

/* Builds the librdkafka configuration from the options (no I/O); for the replay's producer
 * (replay), linger.ms is replay_linger whatever `properties` say. */
rd_kafka_conf_t *uf_kafka_conf_build(struct uf_kafka_ctx *k, bool replay, struct uf_err *err);

/* Makes librdkafka's zstd streams reusable per thread (kafka_zstd.c); called before a producer
 * is made, which also links that file's definitions into the executable. */
void uf_kafka_zstd_reuse(void);
/* Starts the poll and replay threads. */
int uf_kafka_threads_start(struct uf_kafka_ctx *k, struct uf_err *err);
/* Winds the threads down: waits for outstanding deliveries until deadline_us (monotonic), then
 * purges and spools what is left; joins both threads. */
void uf_kafka_threads_stop(struct uf_kafka_ctx *k, int64_t deadline_us);

/* Appends events to the spool and finishes them: done once spooled, failed with 503 when the
 * spool is full or there is none (`spool: false`), 500 on a disk error. Takes ownership of every
 * p[i].ev; frees p's buffers. */
void uf_kafka_spool_events(struct uf_kafka_ctx *k, struct uf_kafka_pending *p, size_t n);
/* Updates the spool gauges. */
void uf_kafka_update_gauges(struct uf_kafka_ctx *k);
/* Whether a delivery error is permanent (the message can never be delivered as it is). */
bool uf_kafka_is_permanent(rd_kafka_resp_err_t e);
/* Whether name (len bytes, not terminated) is a legal Kafka topic name: 1 to 249 characters
 * of [A-Za-z0-9._-], neither "." nor "..". */
bool uf_kafka_topic_is_valid(const char *name, size_t len);

#endif
