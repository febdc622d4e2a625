/* tests/test_kafka_source.c: the kafka_source against librdkafka's mock cluster: offsets are
 * committed only behind events the sink has finished (a held event at a partition's head keeps
 * its partition uncommitted while the other partition advances), malformed messages and events
 * the sink rejects (4xx) land in the dead-letter file with their reasons, and everything is
 * committed once finished; all of it again with `payload: raw` (events carry the message's text
 * instead of a parsed body);
 * a stop with events the sink could not write still ends.
 * A test sink (t_gate, or t_rawgate for raw) holds events until the test releases them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "framework/config.h"
#include "framework/event_int.h"
#include "framework/graph.h"
#include "framework/mem.h"
#include "framework/registry.h"
#include "framework/runtime.h"
#include "tests/support/poll.h"

#define TOPIC "t.views"
#define PER_PART 20

/* ---- t_gate: holds events; the test finishes them ---- */

static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static struct uf_event *held[256];
static size_t nheld;

static int gate_write(struct uf_stage *st, void *ctx, struct uf_event **evs, size_t n,
                      struct uf_err *err)
{
    pthread_mutex_lock(&gate_mu);
    for (size_t i = 0; i < n; i++)
        held[nheld++] = evs[i];
    pthread_mutex_unlock(&gate_mu);
    return UF_OK;
}

static const struct uf_kind t_gate = {
    .name = "t_gate", .role = UF_SINK, .summary = "test", .write = gate_write
};
static const struct uf_kind t_rawgate = {
    .name = "t_rawgate", .role = UF_SINK, .summary = "test", .write = gate_write
};
static const struct uf_kind *const extra[] = { &t_gate, &t_rawgate, NULL };

static size_t held_count(void)
{
    pthread_mutex_lock(&gate_mu);
    size_t n = nheld;
    pthread_mutex_unlock(&gate_mu);
    return n;
}

/* Finishes held events except the one whose "skip" field equals keep (NULL: none kept):
 * "reject": true fails with 422, everything else is done. */
static void release(const char *keep)
{
    pthread_mutex_lock(&gate_mu);
    size_t k = 0;
    for (size_t i = 0; i < nheld; i++) {
        struct uf_event *ev = held[i];
        /* payload: raw leaves body empty and the message's text in raw. */
        json_t *body = ev->raw ? json_loadb(ev->raw, ev->raw_len, 0, NULL) : json_incref(ev->body);
        assert_true(json_is_object(body) && (ev->raw != NULL) == (json_object_size(ev->body) == 0));
        const char *id = json_string_value(json_object_get(body, "event_id"));
        bool reject = json_is_true(json_object_get(body, "reject"));
        bool poison = json_is_true(json_object_get(body, "poison"));
        if (keep && id && strcmp(id, keep) == 0) {
            held[k++] = ev;
        } else if (reject) {
            uf_event_fail(ev, 422, "rejected", "bad row");
        } else if (poison) { /* a sink that gave up for good (engine UF_FAIL answers 500) */
            uf_event_fail(ev, 500, "write_failed", "permanent");
        } else {
            uf_event_done(ev);
        }
        json_decref(body);
    }
    nheld = k;
    pthread_mutex_unlock(&gate_mu);
}

/* ---- helpers ---- */

static bool wait_until(bool (*cond)(void *), void *arg, int timeout_ms)
{
    POLL_UNTIL(cond(arg), timeout_ms);
    return cond(arg);
}

static char *event_json(int part, int i)
{
    if (i == 5)
        return strdup("not json at all");
    if (i == 7)
        return strdup("{\"type\":\"player\"}");
    return uf_xasprintf("{\"event_id\":\"00000000-0000-4000-8000-0000000%02d%03d\",\"type\":\"p\""
                        "%s}",
                        part, i,
                        i == 9    ? ",\"reject\":true"
                        : i == 11 ? ",\"poison\":true"
                                  : "");
}

static void produce(const char *bootstraps)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps, err, sizeof(err));
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    assert_non_null(p);
    for (int part = 0; part < 2; part++) {
        for (int i = 0; i < PER_PART; i++) {
            char *v = event_json(part, i);
            assert_int_equal(
                rd_kafka_producev(p, RD_KAFKA_V_TOPIC(TOPIC), RD_KAFKA_V_PARTITION(part),
                                  RD_KAFKA_V_VALUE(v, strlen(v)),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
                0);
            free(v);
        }
    }
    assert_int_equal(rd_kafka_flush(p, 10000), 0);
    rd_kafka_destroy(p);
}

struct group {
    rd_kafka_t *rk;
    int64_t off[2];
};

/* Reads the group's committed offsets (-1001 when none). */
static bool read_committed(struct group *g)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(2);
    rd_kafka_topic_partition_list_add(l, TOPIC, 0);
    rd_kafka_topic_partition_list_add(l, TOPIC, 1);
    bool ok = rd_kafka_committed(g->rk, l, 5000) == 0;
    for (int i = 0; ok && i < 2; i++)
        g->off[l->elems[i].partition] = l->elems[i].offset;
    rd_kafka_topic_partition_list_destroy(l);
    return ok;
}

static bool p1_committed(void *arg)
{
    struct group *g = arg;
    return read_committed(g) && g->off[1] == PER_PART;
}

static bool all_committed(void *arg)
{
    struct group *g = arg;
    return read_committed(g) && g->off[0] == PER_PART && g->off[1] == PER_PART;
}

static bool all_held(void *arg)
{
    return held_count() == *(size_t *)arg;
}

static void *run_thread(void *arg)
{
    uf_runtime_run(arg);
    return NULL;
}

static int count_lines(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    char line[2048];
    int n = 0;
    while (f && fgets(line, sizeof(line), f))
        n += strstr(line, needle) != NULL;
    if (f)
        fclose(f);
    return n;
}

/* ---- the test ---- */

/* The scenario, with the messages parsed (payload: json) or handed on as text (raw). */
static void commits_follow_completions(const char *payload, const char *group)
{
    uf_registry_set_extra(extra);
    char err[256];
    rd_kafka_conf_t *mconf = rd_kafka_conf_new();
    rd_kafka_conf_set(mconf, "test.mock.num.brokers", "1", err, sizeof(err));
    rd_kafka_t *mrk = rd_kafka_new(RD_KAFKA_PRODUCER, mconf, err, sizeof(err));
    rd_kafka_mock_cluster_t *mc = rd_kafka_handle_mock_cluster(mrk);
    assert_int_equal(rd_kafka_mock_topic_create(mc, TOPIC, 2, 1), 0);
    const char *boot = rd_kafka_mock_cluster_bootstraps(mc);
    produce(boot);

    char dlq[] = "/tmp/ugcflow-test-dlq-XXXXXX";
    close(mkstemp(dlq));
    char *yaml = uf_xasprintf("shutdown_timeout: 5s\n"
                              "pipelines:\n  etl:\n    components:\n"
                              "      consume: {kind: kafka_source, brokers: '%s', topics: [%s],"
                              " group: %s, dead_letter: file, dlq_file: '%s',"
                              " commit_interval: 20ms, payload: %s}\n"
                              "      gate: {kind: %s, inputs: [consume]}\n",
                              boot, TOPIC, group, dlq, payload,
                              strcmp(payload, "raw") == 0 ? "t_rawgate" : "t_gate");
    struct uf_diags d = { 0 };
    struct uf_config *cfg = uf_config_load_string("t.yaml", yaml, &d);
    struct uf_graph *g = cfg ? uf_graph_build(cfg, NULL, 0, &d) : NULL;
    if (d.n)
        uf_diags_print(&d, stderr);
    assert_non_null(g);
    struct uf_runtime *rt = uf_runtime_new(g);
    struct uf_err uerr = { 0 };
    assert_int_equal(uf_runtime_start(rt, &uerr), 0);
    pthread_t t;
    pthread_create(&t, NULL, run_thread, rt);

    /* 2 malformed per partition go straight to the dead letters; the rest reach the sink. */
    size_t want = 2 * (PER_PART - 2);
    assert_true(wait_until(all_held, &want, 30000));

    rd_kafka_conf_t *gconf = rd_kafka_conf_new();
    rd_kafka_conf_set(gconf, "bootstrap.servers", boot, err, sizeof(err));
    rd_kafka_conf_set(gconf, "group.id", group, err, sizeof(err));
    struct group grp = { .rk = rd_kafka_new(RD_KAFKA_CONSUMER, gconf, err, sizeof(err)) };
    assert_true(read_committed(&grp));
    assert_true(grp.off[0] < 0 && grp.off[1] < 0); /* nothing finished: nothing committed */

    /* Everything but partition 0's first message: partition 1 commits fully, partition 0 must
     * not move past its unfinished head. */
    release("00000000-0000-4000-8000-000000000000");
    assert_true(wait_until(p1_committed, &grp, 10000));
    assert_true(grp.off[0] < 0);

    release(NULL);
    assert_true(wait_until(all_committed, &grp, 10000));
    assert_int_equal(count_lines(dlq, "\"reason\":\"not JSON"), 2);
    assert_int_equal(count_lines(dlq, "\"reason\":\"missing event_id\""), 2);
    assert_int_equal(count_lines(dlq, "\"reason\":\"rejected: bad row\""), 2);
    /* A permanent 500 does not hold the partition: it is dead-lettered and committed past. */
    assert_int_equal(count_lines(dlq, "\"reason\":\"write_failed: permanent\""), 2);

    uf_runtime_request_stop(rt);
    pthread_join(t, NULL);
    uf_runtime_free(rt);
    uf_graph_free(g);
    uf_diags_free(&d);
    rd_kafka_destroy(grp.rk);
    rd_kafka_destroy(mrk);
    unlink(dlq);
    free(yaml);
}

static void test_commits_follow_completions(void **state)
{
    (void)state;
    commits_follow_completions("json", "g1");
}

static void test_raw_payload(void **state)
{
    (void)state;
    commits_follow_completions("raw", "g2");
}

static void fail_all_unwritten(void)
{
    pthread_mutex_lock(&gate_mu);
    for (size_t i = 0; i < nheld; i++)
        uf_event_fail(held[i], 503, "unavailable", "the store is down");
    nheld = 0;
    pthread_mutex_unlock(&gate_mu);
}

static void *free_thread(void *arg)
{
    uf_runtime_free(arg);
    return NULL;
}

/* Events a sink could not write (503, e.g. ClickHouse down at shutdown) keep their messages in
 * the source's slots, uncommitted: the process still stops. It used to hang for ever in
 * rd_kafka_destroy, which waits for every message still referenced. */
static void test_stop_with_unwritten_events(void **state)
{
    (void)state;
    uf_registry_set_extra(extra);
    nheld = 0;
    char err[256];
    rd_kafka_conf_t *mconf = rd_kafka_conf_new();
    rd_kafka_conf_set(mconf, "test.mock.num.brokers", "1", err, sizeof(err));
    rd_kafka_t *mrk = rd_kafka_new(RD_KAFKA_PRODUCER, mconf, err, sizeof(err));
    rd_kafka_mock_cluster_t *mc = rd_kafka_handle_mock_cluster(mrk);
    assert_int_equal(rd_kafka_mock_topic_create(mc, TOPIC, 2, 1), 0);
    const char *boot = rd_kafka_mock_cluster_bootstraps(mc);
    produce(boot);
    char *yaml = uf_xasprintf("shutdown_timeout: 2s\n"
                              "pipelines:\n  etl:\n    components:\n"
                              "      consume: {kind: kafka_source, brokers: '%s', topics: [%s],"
                              " group: g4, dead_letter: file, dlq_file: /dev/null}\n"
                              "      gate: {kind: t_gate, inputs: [consume]}\n",
                              boot, TOPIC);
    struct uf_diags d = { 0 };
    struct uf_config *cfg = uf_config_load_string("t.yaml", yaml, &d);
    struct uf_graph *g = cfg ? uf_graph_build(cfg, NULL, 0, &d) : NULL;
    assert_non_null(g);
    struct uf_runtime *rt = uf_runtime_new(g);
    struct uf_err uerr = { 0 };
    assert_int_equal(uf_runtime_start(rt, &uerr), 0);
    size_t want = 2 * (PER_PART - 2);
    assert_true(wait_until(all_held, &want, 30000));
    fail_all_unwritten();
    uf_runtime_request_stop(rt);
    assert_int_equal(uf_runtime_run(rt), 0);
    pthread_t t;
    pthread_create(&t, NULL, free_thread, rt);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 20;
    assert_int_equal(pthread_timedjoin_np(t, NULL, &until), 0); /* not hung in destroy */
    uf_graph_free(g);
    uf_diags_free(&d);
    rd_kafka_destroy(mrk);
    free(yaml);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commits_follow_completions),
        cmocka_unit_test(test_raw_payload),
        cmocka_unit_test(test_stop_with_unwritten_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
