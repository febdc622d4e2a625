/* stat_topic_main.c: `stat_topic`, a small Kafka admin tool for the stat tests and benchmarks:
 * creates or deletes a topic on the given brokers (the dev stack has topic auto-creation off,
 * and every test run uses its own topics).
 *   stat_topic create BROKERS TOPIC PARTITIONS [NAME=VALUE]...   (topic configs)
 *   stat_topic delete BROKERS TOPIC
 * Exits 0 on success (an existing topic counts as created), 1 with a message otherwise. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

static int check(rd_kafka_event_t *ev, const rd_kafka_topic_result_t **res, size_t n)
{
    if (!ev || rd_kafka_event_error(ev)) {
        fprintf(stderr, "stat_topic: %s\n", ev ? rd_kafka_event_error_string(ev) : "timed out");
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        rd_kafka_resp_err_t e = rd_kafka_topic_result_error(res[i]);
        if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
            fprintf(stderr, "stat_topic: %s: %s\n", rd_kafka_topic_result_name(res[i]),
                    rd_kafka_err2str(e));
            return 1;
        }
    }
    return 0;
}

/* Sets each NAME=VALUE of args as a config of the new topic. */
static int set_configs(rd_kafka_NewTopic_t *t, int n, char **args)
{
    for (int i = 0; i < n; i++) {
        char *eq = strchr(args[i], '=');
        if (!eq) {
            fprintf(stderr, "stat_topic: '%s' is not NAME=VALUE\n", args[i]);
            return 1;
        }
        *eq = '\0';
        if (rd_kafka_NewTopic_set_config(t, args[i], eq + 1) != RD_KAFKA_RESP_ERR_NO_ERROR) {
            fprintf(stderr, "stat_topic: config %s refused\n", args[i]);
            return 1;
        }
    }
    return 0;
}

/* Creates the topic of argv (create BROKERS TOPIC PARTITIONS [NAME=VALUE]...). */
static int create_topic(rd_kafka_t *rk, rd_kafka_queue_t *q, int argc, char **argv)
{
    char errstr[256];
    size_t n = 0;
    rd_kafka_NewTopic_t *t =
        rd_kafka_NewTopic_new(argv[3], atoi(argv[4]), 1, errstr, sizeof errstr);
    if (!t) {
        fprintf(stderr, "stat_topic: %s\n", errstr);
        return 2;
    }
    if (set_configs(t, argc - 5, argv + 5) != 0) {
        rd_kafka_NewTopic_destroy(t);
        return 2;
    }
    rd_kafka_CreateTopics(rk, &t, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
    const rd_kafka_topic_result_t **res =
        ev ? rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n) : NULL;
    int rc = check(ev, res, n);
    rd_kafka_event_destroy(ev);
    rd_kafka_NewTopic_destroy(t);
    return rc;
}

static int delete_topic(rd_kafka_t *rk, rd_kafka_queue_t *q, const char *name)
{
    size_t n = 0;
    rd_kafka_DeleteTopic_t *t = rd_kafka_DeleteTopic_new(name);
    rd_kafka_DeleteTopics(rk, &t, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
    const rd_kafka_topic_result_t **res =
        ev ? rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &n) : NULL;
    int rc = check(ev, res, n);
    rd_kafka_event_destroy(ev);
    rd_kafka_DeleteTopic_destroy(t);
    return rc;
}

int main(int argc, char **argv)
{
    bool create = argc >= 5 && strcmp(argv[1], "create") == 0;
    if (!create && !(argc == 4 && strcmp(argv[1], "delete") == 0)) {
        fprintf(stderr, "usage: stat_topic create BROKERS TOPIC PARTITIONS [NAME=VALUE]... | "
                        "delete BROKERS TOPIC\n");
        return 2;
    }
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", argv[2], errstr, sizeof errstr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        fprintf(stderr, "stat_topic: %s\n", errstr);
        return 1;
    }
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    int rc = create ? create_topic(rk, q, argc, argv) : delete_topic(rk, q, argv[3]);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
    return rc;
}
