/* bench/etl/etl_produce_main.c: `etl_produce`, fills a Kafka topic with synthetic stat events
 * for the ETL benchmark and integration tests.
 *   etl_produce BROKERS TOPIC COUNT [--partitions N] [--malformed M] [--kind views|events]
 *               [--seed S]
 * Creates TOPIC when missing, produces COUNT valid events and M malformed ones interleaved,
 * waits for every ack (acks=all) and prints "produced=<COUNT+M> bytes=<payload bytes>". Exit
 * status 1 on any delivery failure. Only 127.0.0.1 brokers are expected. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "framework/stage.h"
#include "framework/uuid.h"

static int failures;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    if (m->err)
        failures++;
}

static int create_topic(rd_kafka_t *rk, const char *topic, int partitions)
{
    char err[256];
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, partitions, 1, err, sizeof(err));
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
    int rc = 0;
    if (!ev) {
        fprintf(stderr, "etl_produce: CreateTopics timed out\n");
        rc = -1;
    } else {
        size_t n;
        const rd_kafka_topic_result_t **res =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
        rd_kafka_resp_err_t e = n ? rd_kafka_topic_result_error(res[0]) : 0;
        if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
            fprintf(stderr, "etl_produce: create %s: %s\n", topic, rd_kafka_err2str(e));
            rc = -1;
        }
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
    return rc;
}

static const char *const players[] = { "open", "play", "progress", "pause", "seek", "complete" };

/* One event as the stat pipeline writes it. */
static int make_event(char *buf, size_t size, uint64_t i, bool views)
{
    char id[UF_UUID_STR], movie[UF_UUID_STR], user[UF_UUID_STR];
    uint8_t raw[16];
    uf_uuid_v7(raw);
    uf_uuid_format(raw, id);
    memset(raw, 0, 16);
    raw[15] = (uint8_t)(i % 97);
    raw[6] = 0x40;
    raw[8] = 0x80;
    uf_uuid_format(raw, movie);
    raw[14] = (uint8_t)(i % 5000 >> 8);
    raw[15] = (uint8_t)(i % 5000);
    uf_uuid_format(raw, user);
    int64_t us = uf_wall_us();
    time_t secs = (time_t)(us / 1000000);
    struct tm tm;
    char at[40];
    gmtime_r(&secs, &tm);
    size_t k = strftime(at, sizeof(at), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(at + k, sizeof(at) - k, ".%06ldZ", (long)(us % 1000000));
    if (!views)
        return snprintf(buf, size,
                        "{\"event_id\":\"%s\",\"type\":\"ugc.like\",\"received_at\":"
                        "\"%s\",\"ts\":null,\"user_id\":\"%s\",\"movie_id\":\"%s\","
                        "\"props\":{\"value\":1},\"ip\":\"10.0.0.0\",\"user_agent\":\"bench\"}",
                        id, at, user, movie);
    return snprintf(buf, size,
                    "{\"event_id\":\"%s\",\"type\":\"player\",\"event\":\"%s\","
                    "\"received_at\":\"%s\",\"ts\":null,\"user_id\":\"%s\","
                    "\"session_id\":\"s-%" PRIu64 "\",\"movie_id\":\"%s\",\"position_s\":%.1f,"
                    "\"duration_s\":5400,\"quality\":\"1080p\",\"url\":\"/movies/%" PRIu64 "\","
                    "\"ip\":\"10.0.0.0\",\"user_agent\":\"Mozilla/5.0 (bench)\"}",
                    id, players[i % 6], at, user, i / 50, movie, (double)(i % 5400), i % 97);
}

/* Malformed messages of three kinds, in turn: no event_id, not JSON at all, and a valid
 * event_id followed by text that is not JSON (caught only by a full check). */
static int make_malformed(char *buf, size_t size, uint64_t i, uint64_t bad)
{
    char id[UF_UUID_STR];
    uint8_t raw[16];
    switch (bad % 3) {
    case 0:
        return snprintf(buf, size, "{\"type\":\"x%" PRIu64 "\"}", i);
    case 1:
        return snprintf(buf, size, "not json %" PRIu64, i);
    default:
        uf_uuid_v7(raw);
        uf_uuid_format(raw, id);
        return snprintf(buf, size, "{\"event_id\":\"%s\",\"type\":\"player\"} x%" PRIu64, id, i);
    }
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: etl_produce BROKERS TOPIC COUNT [--partitions N] "
                        "[--malformed M] [--kind views|events]\n");
        return 2;
    }
    const char *brokers = argv[1], *topic = argv[2];
    uint64_t count = strtoull(argv[3], NULL, 10), malformed = 0;
    int partitions = 4;
    bool views = true;
    for (int i = 4; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--partitions") == 0)
            partitions = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--malformed") == 0)
            malformed = strtoull(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--kind") == 0)
            views = strcmp(argv[i + 1], "views") == 0;
    }
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", brokers, err, sizeof(err));
    rd_kafka_conf_set(conf, "acks", "all", err, sizeof(err));
    rd_kafka_conf_set(conf, "linger.ms", "20", err, sizeof(err));
    rd_kafka_conf_set(conf, "compression.type", "lz4", err, sizeof(err));
    rd_kafka_conf_set(conf, "queue.buffering.max.messages", "1000000", err, sizeof(err));
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!rk || create_topic(rk, topic, partitions) < 0)
        return 1;
    uint64_t bytes = 0, total = count + malformed;
    uint64_t every = malformed ? total / malformed : 0;
    char buf[1024];
    for (uint64_t i = 0, bad = 0; i < total; i++) {
        int n;
        if (every && i % every == every - 1 && bad < malformed)
            n = make_malformed(buf, sizeof(buf), i, bad++);
        else
            n = make_event(buf, sizeof(buf), i, views);
        bytes += (uint64_t)n;
        while (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_VALUE(buf, (size_t)n),
                                 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                 RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(rk, 50);
        rd_kafka_poll(rk, 0);
    }
    rd_kafka_flush(rk, 60000);
    rd_kafka_destroy(rk);
    printf("produced=%" PRIu64 " bytes=%" PRIu64 "\n", total, bytes);
    return failures ? 1 : 0;
}
