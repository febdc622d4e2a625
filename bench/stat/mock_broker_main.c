/* mock_broker_main.c: `mock_broker`, librdkafka's mock cluster as a process of its own, for the
 * stat benchmark's mock setup: the broker's work stays out of the measured ugcflow process (the
 * mock cluster that test.mock.num.brokers starts runs inside the producer's process), and its
 * topics get the partition counts the dev stack gives ugc.events and ugc.views, where a mock
 * cluster would auto-create them with 4.
 *   mock_broker TOPIC:PARTITIONS...     (prints the bootstrap address, runs until SIGINT/TERM) */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

int main(int argc, char **argv)
{
    /* Blocked before any thread starts, so SIGINT/TERM wait for sigwait below. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    rd_kafka_mock_cluster_t *mc = rk ? rd_kafka_mock_cluster_new(rk, 1) : NULL;
    if (!mc) {
        fprintf(stderr, "mock_broker: cannot start the mock cluster: %s\n", errstr);
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        char *colon = strrchr(argv[i], ':');
        int parts = colon ? atoi(colon + 1) : 0;
        if (!colon || parts < 1) {
            fprintf(stderr, "mock_broker: expected TOPIC:PARTITIONS, got '%s'\n", argv[i]);
            return 2;
        }
        *colon = '\0';
        rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(mc, argv[i], parts, 1);
        if (e) {
            fprintf(stderr, "mock_broker: topic %s: %s\n", argv[i], rd_kafka_err2str(e));
            return 1;
        }
    }
    printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
    fflush(stdout);
    int sig;
    sigwait(&sigs, &sig);
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return 0;
}
