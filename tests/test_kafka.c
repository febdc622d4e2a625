/* test_kafka.c: the `kafka` sink against librdkafka's mock cluster: topic, key and value, the
 * reply only after the ack; an outage (spooled, then replayed in order); a full spool (503);
 * without a spool, 503 then direct delivery; a stopped producer's spool replayed by the next;
 * topics Kafka refuses; option errors. Raw events (owned and borrowed texts) go through the same
 * cases with the same outcomes. The zstd streams are reused per thread, parameters reset. The
 * graph is built from YAML and the sink's callbacks are called directly (no runtime). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>

#include "framework/config.h"
#include "framework/event.h"
#include "framework/event_int.h"
#include "framework/graph.h"
#include "framework/metrics.h"
#include "sinks/kafka/kafka_int.h"

struct fx {
    rd_kafka_t *mock_rk;
    rd_kafka_mock_cluster_t *mc;
    char dir[64];
    struct uf_graph *g;
    struct uf_stage *st;
};

static struct fx *F;

/* Like consume(), but also stops once every n in 0..nseen-1 was seen (when seen != NULL). */
static int consume_until(struct fx *f, const char *topic, int want, char **values, char **keys,
                         int *seen, int nseen);

static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "0", NULL, 0);
    f->mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    assert_non_null(f->mock_rk);
    f->mc = rd_kafka_mock_cluster_new(f->mock_rk, 1);
    assert_non_null(f->mc);
    rd_kafka_mock_topic_create(f->mc, "ugc.events", 2, 1);
    rd_kafka_mock_topic_create(f->mc, "ugc.views", 2, 1);
    strcpy(f->dir, "/tmp/uf-kafka-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    F = f;
    *state = f;
    return 0;
}

static void graph_free(struct fx *f)
{
    if (f->st && f->st->started)
        f->st->kind->stop(f->st, f->st->ctx);
    uf_graph_free(f->g);
    f->g = NULL;
    f->st = NULL;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    graph_free(f);
    rd_kafka_mock_cluster_destroy(f->mc);
    rd_kafka_destroy(f->mock_rk);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static struct uf_graph *build(struct fx *f, const char *extra, struct uf_diags *d)
{
    char yaml[2048];
    snprintf(yaml, sizeof yaml,
             "pipelines:\n  t:\n    components:\n"
             "      src: {kind: generate}\n"
             "      out:\n        kind: kafka\n        inputs: [src]\n"
             "        brokers: \"%s\"\n        spool_dir: %s/spool\n"
             "        message_timeout: 3s\n        replay_interval: 20ms\n%s",
             rd_kafka_mock_cluster_bootstraps(f->mc), f->dir, extra);
    struct uf_config *cfg = uf_config_load_string("t.yaml", yaml, d);
    return cfg ? uf_graph_build(cfg, NULL, 0, d) : NULL;
}

/* Builds and starts the sink. */
static void start(struct fx *f, const char *extra)
{
    struct uf_diags d = { 0 };
    f->g = build(f, extra, &d);
    for (size_t i = 0; i < d.n; i++)
        print_error("%s\n", d.v[i].msg);
    uf_diags_free(&d);
    assert_non_null(f->g);
    for (size_t i = 0; i < f->g->pipelines[0].nstages; i++)
        if (strcmp(f->g->pipelines[0].stages[i]->name, "out") == 0)
            f->st = f->g->pipelines[0].stages[i];
    struct uf_err err = { 0 };
    assert_int_equal(f->st->kind->start(f->st, f->st->ctx, &err), 0);
    f->st->started = true;
}

static void stop(struct fx *f)
{
    f->st->kind->stop(f->st, f->st->ctx);
    f->st->started = false;
}

/* How a test event is made: a body, or the same compact text as a raw event that owns it (as
 * enrich's output does) or borrows it (as the http source's items do). */
enum how { TREE, RAW_OWNED, RAW_BORROWED };

static char borrowed[200][160]; /* texts of RAW_BORROWED events, alive for the whole test */

static struct uf_event *make_event(const char *text, enum how how, size_t slot)
{
    if (how == TREE) {
        json_t *body = json_loads(text, 0, NULL);
        assert_non_null(body); /* the test's own text */
        return uf_event_new(body);
    }
    if (how == RAW_BORROWED) {
        snprintf(borrowed[slot], sizeof borrowed[slot], "%s", text);
        return uf_event_new_raw(borrowed[slot], strlen(text), NULL);
    }
    struct uf_event *ev = uf_event_new_raw(NULL, 0, NULL);
    uf_event_set_raw(ev, strdup(text), strlen(text));
    return ev;
}

/* Writes n events {"type":"t","n":i,"user_id":...} as one batch, each with a waiter. */
static void write_events_as(struct fx *f, int from, int n, struct uf_waiter **w, enum how how)
{
    struct uf_event **evs = calloc((size_t)n, sizeof(*evs));
    for (int i = 0; i < n; i++) {
        char body[160];
        snprintf(body, sizeof body,
                 "{\"type\":\"t\",\"n\":%d,\"user_id\":\"u%d\",\"session_id\":\"s\"}", from + i,
                 (from + i) % 3);
        evs[i] = make_event(body, how, (size_t)(from + i) % 200);
        struct uf_completion *c;
        w[i] = uf_waiter_new(&c);
        uf_completion_attach(c, evs[i]);
        uf_completion_release(c);
        evs[i]->at = f->st;
    }
    struct uf_err err = { 0 };
    assert_int_equal(f->st->kind->write(f->st, f->st->ctx, evs, (size_t)n, &err), UF_OK);
    free(evs);
}

static void write_events(struct fx *f, int from, int n, struct uf_waiter **w)
{
    write_events_as(f, from, n, w, TREE);
}

static void wait_all(struct uf_waiter **w, int n, int want_status)
{
    for (int i = 0; i < n; i++) {
        assert_int_equal(uf_waiter_wait(w[i], 10000), 0);
        assert_int_equal(uf_waiter_status(w[i]), want_status);
        assert_int_equal(uf_waiter_count(w[i], want_status ? UF_OUTCOME_FAILED : UF_OUTCOME_DONE),
                         1);
        uf_waiter_free(w[i]);
    }
}

static int64_t metric(struct fx *f, const char *name)
{
    return uf_metrics_extra_value(&f->st->metrics, name, NULL);
}

/* Reads `want` messages of topic from the mock cluster (values and keys, in offset order per
 * partition; bodies carry n, so callers check by n). Returns how many arrived in time. */
static int consume(struct fx *f, const char *topic, int want, char **values, char **keys)
{
    return consume_until(f, topic, want, values, keys, NULL, 0);
}

static int consume_until(struct fx *f, const char *topic, int want, char **values, char **keys,
                         int *seen, int nseen)
{
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", rd_kafka_mock_cluster_bootstraps(f->mc), NULL, 0);
    rd_kafka_conf_set(conf, "group.id", "test", NULL, 0);
    rd_kafka_t *c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(2);
    for (int p = 0; p < 2; p++)
        rd_kafka_topic_partition_list_add(parts, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(c, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    int got = 0, distinct = 0;
    int64_t deadline = uf_now_us() + 10000000;
    while (got < want && (!seen || distinct < nseen) && uf_now_us() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
        if (!m)
            continue;
        if (!m->err) {
            values[got] = strndup(m->payload, m->len);
            keys[got] = strndup(m->key, m->key_len);
            json_t *v = seen ? json_loads(values[got], 0, NULL) : NULL;
            json_int_t n = json_integer_value(json_object_get(v, "n"));
            if (seen && n >= 0 && n < nseen && seen[n]++ == 0)
                distinct++;
            json_decref(v);
            got++;
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    return got;
}

/* Checks that messages 0..n-1 all arrived, with the right key, and per key in order. */
static void check_delivered(struct fx *f, int n)
{
    char **values = calloc((size_t)n + 8, sizeof(char *));
    char **keys = calloc((size_t)n + 8, sizeof(char *));
    int got = consume(f, "ugc.events", n, values, keys);
    assert_int_equal(got, n);
    int *seen = calloc((size_t)n, sizeof(int));
    int last[3] = { -1, -1, -1 };
    for (int i = 0; i < got; i++) {
        json_t *v = json_loads(values[i], 0, NULL);
        assert_non_null(v);
        int num = (int)json_integer_value(json_object_get(v, "n"));
        char want_key[8], want_val[160];
        snprintf(want_key, sizeof want_key, "u%d", num % 3);
        assert_string_equal(keys[i], want_key);
        snprintf(want_val, sizeof want_val,
                 "{\"type\":\"t\",\"n\":%d,\"user_id\":\"u%d\",\"session_id\":\"s\"}", num,
                 num % 3);
        assert_string_equal(values[i], want_val); /* compact, fields in order */
        assert_true(num > last[num % 3]);         /* per-key order */
        last[num % 3] = num;
        seen[num]++;
        json_decref(v);
        free(values[i]);
        free(keys[i]);
    }
    for (int i = 0; i < n; i++)
        assert_int_equal(seen[i], 1);
    free(seen);
    free(values);
    free(keys);
}

static void test_delivers_with_topic_key_and_value(void **state)
{
    struct fx *f = *state;
    start(f, "        topic: ugc.events\n");
    struct uf_waiter *w[20];
    write_events(f, 0, 20, w);
    wait_all(w, 20, 0);
    assert_int_equal(metric(f, "kafka_acked_events_total"), 20);
    assert_int_equal(metric(f, "spool_records"), 0);
    check_delivered(f, 20);
}

/* Raw events, owned and borrowed, give the same messages as bodies (check_delivered compares
 * the bytes with the compact text, which is what the raw texts hold). */
static void test_raw_delivers_like_body(void **state)
{
    struct fx *f = *state;
    start(f, "        topic: ugc.events\n");
    struct uf_waiter *w[20];
    write_events_as(f, 0, 10, w, RAW_OWNED);
    wait_all(w, 10, 0);
    write_events_as(f, 10, 10, w, RAW_BORROWED);
    wait_all(w, 10, 0);
    assert_int_equal(metric(f, "kafka_acked_events_total"), 20);
    check_delivered(f, 20);
}

static void test_topic_from_field(void **state)
{
    struct fx *f = *state;
    start(f, "        topic_field: stream\n");
    struct uf_event *ev = uf_event_new(json_loads("{\"stream\":\"ugc.views\",\"anonymous_id\":"
                                                  "\"a9\"}",
                                                  0, NULL));
    struct uf_completion *c;
    struct uf_waiter *w = uf_waiter_new(&c);
    uf_completion_attach(c, ev);
    uf_completion_release(c);
    struct uf_event *none = uf_event_new(json_loads("{\"x\":1}", 0, NULL));
    struct uf_completion *c2;
    struct uf_waiter *w2 = uf_waiter_new(&c2);
    uf_completion_attach(c2, none);
    uf_completion_release(c2);
    struct uf_event *evs[2] = { ev, none };
    struct uf_err err = { 0 };
    assert_int_equal(f->st->kind->write(f->st, f->st->ctx, evs, 2, &err), UF_OK);
    assert_int_equal(uf_waiter_wait(w, 10000), 0);
    assert_int_equal(uf_waiter_count(w, UF_OUTCOME_DONE), 1);
    assert_int_equal(uf_waiter_wait(w2, 10000), 0);
    assert_int_equal(uf_waiter_status(w2), 500);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(uf_waiter_body(w2), "error"), "code")),
        "no_topic");
    uf_waiter_free(w);
    uf_waiter_free(w2);
    char *values[1], *keys[1];
    assert_int_equal(consume(f, "ugc.views", 1, values, keys), 1);
    assert_string_equal(keys[0], "a9");
    assert_string_equal(values[0], "{\"stream\":\"ugc.views\",\"anonymous_id\":\"a9\"}");
    free(values[0]);
    free(keys[0]);
}

/* A consumed value is the compact text of its event, byte for byte, whatever path it took. */
static void check_value(const char *value)
{
    json_t *v = json_loads(value, 0, NULL);
    assert_non_null(v);
    int num = (int)json_integer_value(json_object_get(v, "n"));
    json_decref(v);
    char want[160];
    snprintf(want, sizeof want,
             "{\"type\":\"t\",\"n\":%d,\"user_id\":\"u%d\",\"session_id\":\"s\"}", num, num % 3);
    assert_string_equal(value, want);
}

static void wait_metric(struct fx *f, const char *name, int64_t want)
{
    int64_t deadline = uf_now_us() + 15000000;
    while (metric(f, name) != want) {
        assert_true(uf_now_us() < deadline);
        usleep(10000);
    }
}

static void test_outage_spools_then_replays_in_order(void **state)
{
    struct fx *f = *state;
    start(f, "        topic: ugc.events\n");
    struct uf_waiter *w[60];
    write_events(f, 0, 10, w);
    wait_all(w, 10, 0);
    rd_kafka_mock_broker_set_down(f->mc, -1);
    write_events_as(f, 10, 30, w, RAW_OWNED); /* the spool stores raw texts as they are */
    wait_all(w, 30, 0);                       /* accepted: acked or spooled, never failed */
    assert_true(metric(f, "spool_written_events_total") > 0);
    assert_true(metric(f, "spool_records") > 0);
    write_events_as(f, 40, 20, w, RAW_BORROWED); /* while spooling, they queue behind it */
    wait_all(w, 20, 0);
    rd_kafka_mock_broker_set_up(f->mc, -1);
    wait_metric(f, "spool_records", 0);
    assert_int_equal(metric(f, "spool_bytes"), 0);
    /* Purged in-flight messages may arrive twice; check_delivered wants each exactly once, so
     * deduplicate by n as ClickHouse does by event_id. */
    char *values[200], *keys[200];
    int seen[60] = { 0 };
    int got = consume_until(f, "ugc.events", 200, values, keys, seen, 60);
    for (int i = 0; i < got; i++) {
        check_value(values[i]);
        free(values[i]);
        free(keys[i]);
    }
    for (int i = 0; i < 60; i++)
        assert_true(seen[i] >= 1);
}

static void test_full_spool_fails_with_503(void **state)
{
    struct fx *f = *state;
    start(f, "        topic: ugc.events\n        spool_max_bytes: 4096\n"
             "        spool_segment_bytes: 4096\n");
    rd_kafka_mock_broker_set_down(f->mc, -1);
    struct uf_waiter *w[200];
    int full = 0, ok = 0;
    for (int round = 0; round < 10; round++) {
        write_events(f, round * 20, 20, w);
        for (int i = 0; i < 20; i++) {
            assert_int_equal(uf_waiter_wait(w[i], 10000), 0);
            if (uf_waiter_status(w[i]) == 503) {
                json_t *e = json_object_get(uf_waiter_body(w[i]), "error");
                assert_string_equal(json_string_value(json_object_get(e, "code")), "spool_full");
                full++;
            } else {
                assert_int_equal(uf_waiter_count(w[i], UF_OUTCOME_DONE), 1);
                ok++;
            }
            uf_waiter_free(w[i]);
        }
    }
    assert_true(full > 0);
    assert_true(metric(f, "spool_bytes") <= 4096);
    assert_int_equal(metric(f, "spool_full_events_total"), full);
    rd_kafka_mock_broker_set_up(f->mc, -1);
}

/* spool: false: an outage fails the events with 503 once message_timeout passes (their source
 * keeps and resends them) and writes no spool; once the broker answers again, events are
 * delivered directly. */
static void test_no_spool_fails_with_503(void **state)
{
    struct fx *f = *state;
    start(f, "        topic: ugc.events\n        spool: false\n");
    struct uf_waiter *w[30];
    write_events(f, 0, 10, w);
    wait_all(w, 10, 0);
    rd_kafka_mock_broker_set_down(f->mc, -1);
    write_events(f, 10, 10, w);
    for (int i = 0; i < 10; i++) { /* in flight when the broker went: up to request timeout */
        assert_int_equal(uf_waiter_wait(w[i], 30000), 0);
        assert_int_equal(uf_waiter_status(w[i]), 503);
        json_t *e = json_object_get(uf_waiter_body(w[i]), "error");
        assert_string_equal(json_string_value(json_object_get(e, "code")), "kafka_unavailable");
        uf_waiter_free(w[i]);
    }
    assert_int_equal(metric(f, "spool_written_events_total"), 0);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "test ! -e '%s/spool'", f->dir);
    assert_int_equal(system(cmd), 0);
    rd_kafka_mock_broker_set_up(f->mc, -1);
    int64_t deadline = uf_now_us() + 20000000;
    bool delivered = false;
    for (int round = 0; !delivered && uf_now_us() < deadline; round++) {
        write_events(f, 20, 1, w);
        assert_int_equal(uf_waiter_wait(w[0], 10000), 0);
        delivered = uf_waiter_status(w[0]) == 0;
        uf_waiter_free(w[0]);
    }
    assert_true(delivered);
}

static void test_restart_replays_the_spool(void **state)
{
    struct fx *f = *state;
    start(f, "        topic: ugc.events\n");
    rd_kafka_mock_broker_set_down(f->mc, -1);
    struct uf_waiter *w[25];
    write_events(f, 0, 12, w);
    wait_all(w, 12, 0);
    write_events_as(f, 12, 13, w, RAW_BORROWED);
    wait_all(w, 13, 0);
    stop(f);
    graph_free(f);

    rd_kafka_mock_broker_set_up(f->mc, -1);
    start(f, "        topic: ugc.events\n");
    wait_metric(f, "spool_records", 0);
    /* A segment whose replay failed half-way is replayed again: at least once, not exactly. */
    assert_true(metric(f, "spool_replayed_events_total") >= 25);
    char *values[100], *keys[100];
    int seen[25] = { 0 };
    int got = consume_until(f, "ugc.events", 100, values, keys, seen, 25);
    for (int i = 0; i < got; i++) {
        check_value(values[i]);
        free(values[i]);
        free(keys[i]);
    }
    for (int i = 0; i < 25; i++)
        assert_true(seen[i] >= 1);
}

/* Writes ev alone, with a waiter for its outcome. */
static struct uf_waiter *write_one(struct fx *f, struct uf_event *ev)
{
    struct uf_completion *c;
    struct uf_waiter *w = uf_waiter_new(&c);
    uf_completion_attach(c, ev);
    uf_completion_release(c);
    ev->at = f->st;
    struct uf_err err = { 0 };
    assert_int_equal(f->st->kind->write(f->st, f->st->ctx, &ev, 1, &err), UF_OK);
    return w;
}

static struct uf_waiter *write_body(struct fx *f, const char *body)
{
    return write_one(f, make_event(body, TREE, 0));
}

static void assert_failed(struct uf_waiter *w, int status, const char *code, const char *msg)
{
    assert_int_equal(uf_waiter_wait(w, 10000), 0);
    assert_int_equal(uf_waiter_status(w), status);
    json_t *e = json_object_get(uf_waiter_body(w), "error");
    assert_string_equal(json_string_value(json_object_get(e, "code")), code);
    if (msg && !strstr(json_string_value(json_object_get(e, "message")), msg))
        fail_msg("'%s' not in '%s'", msg, json_string_value(json_object_get(e, "message")));
    uf_waiter_free(w);
}

/* A topic_field value Kafka would refuse fails its event with 422 at once; before, an over-long
 * name was spooled (200) and then blocked the spool for good. */
static void test_invalid_topic_fails_with_422(void **state)
{
    struct fx *f = *state;
    start(f, "        topic_field: stream\n");
    char body[400], name[301];
    memset(name, 'a', 300);
    name[300] = '\0';
    snprintf(body, sizeof body, "{\"stream\":\"%s\",\"user_id\":\"u1\"}", name);
    const char *msg = "field 'stream' is not a valid Kafka topic name (1 to 249 characters";
    assert_failed(write_body(f, body), 422, "invalid_topic", msg);
    assert_failed(write_body(f, "{\"stream\":\"bad topic!\"}"), 422, "invalid_topic", msg);
    assert_failed(write_body(f, "{\"stream\":\"..\"}"), 422, "invalid_topic", msg);
    struct uf_waiter *ok = write_body(f, "{\"stream\":\"ugc.views\",\"user_id\":\"u1\"}");
    assert_int_equal(uf_waiter_wait(ok, 10000), 0);
    assert_int_equal(uf_waiter_count(ok, UF_OUTCOME_DONE), 1);
    uf_waiter_free(ok);
    assert_int_equal(metric(f, "spool_records"), 0);
    assert_int_equal(metric(f, "spool_written_events_total"), 0);
}

static struct uf_waiter *write_raw(struct fx *f, const char *text)
{
    return write_one(f, make_event(text, RAW_OWNED, 0));
}

static void assert_done(struct uf_waiter *w)
{
    assert_int_equal(uf_waiter_wait(w, 10000), 0);
    assert_int_equal(uf_waiter_count(w, UF_OUTCOME_DONE), 1);
    uf_waiter_free(w);
}

/* From raw texts: the topic and the key read as from a body (escapes decoded, empty or
 * non-string values skipped), the payload the text exactly as it came, blanks and escapes
 * included; the same failures as bodies, and 400 for a text that is not an object. */
static void test_raw_topic_key_and_failures(void **state)
{
    struct fx *f = *state;
    start(f, "        topic_field: stream\n");
    const char *texts[] = {
        " { \"stream\" : \"ugc.views\", \"user_id\":\"\", \"anonymous_id\":7,"
        " \"session_id\":\"s\\\"1\\u00e9\" }",
        "{\"stream\":\"ugc\\u002eviews\",\"anonymous_id\":\"a\\/9\",\"user_id\":null}",
    };
    const char *want_keys[] = { "s\"1\u00e9", "a/9" };
    for (size_t i = 0; i < 2; i++)
        assert_done(write_raw(f, texts[i]));
    const char *msg = "field 'stream' is not a valid Kafka topic name (1 to 249 characters";
    assert_failed(write_raw(f, "{\"x\":1}"), 500, "no_topic", NULL);
    assert_failed(write_raw(f, "{\"stream\":\"bad topic!\"}"), 422, "invalid_topic", msg);
    assert_failed(write_raw(f, "{\"stream\":\"ugc\\u0020views\"}"), 422, "invalid_topic", msg);
    assert_failed(write_raw(f, "[1]"), 400, "malformed_json", "not a JSON object");
    assert_failed(write_raw(f, "{\"stream\":}"), 400, "malformed_json", "not JSON");
    char *values[4], *keys[4];
    assert_int_equal(consume(f, "ugc.views", 2, values, keys), 2);
    for (size_t i = 0; i < 2; i++) {
        size_t k = strstr(values[i], "u002e") ? 1 : 0;
        assert_string_equal(values[i], texts[k]);
        assert_string_equal(keys[i], want_keys[k]);
        free(values[i]);
        free(keys[i]);
    }
    assert_int_equal(metric(f, "spool_records"), 0);
}

/* The broker's TOPIC_EXCEPTION (an illegal topic name) is final: the event fails instead of
 * going to the spool, whose replay would get the same answer for ever. */
static void test_topic_exception_is_permanent(void **state)
{
    struct fx *f = *state;
    start(f, "        topic: ugc.events\n        properties: {linger.ms: 0}\n");
    struct uf_waiter *w[1];
    write_events(f, 0, 1, w);
    wait_all(w, 1, 0); /* connected, metadata known */
    rd_kafka_mock_push_request_errors(f->mc, 0 /* Produce */, 1, RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION);
    write_events(f, 1, 1, w);
    assert_failed(w[0], 500, "kafka_rejected", NULL);
    assert_int_equal(metric(f, "kafka_rejected_events_total"), 1);
    assert_int_equal(metric(f, "spool_written_events_total"), 0);
}

/* Spooled records that can never be produced (an over-long topic, as a spool written before
 * topics were checked may hold; a record that is no message) are discarded and counted; the
 * records between them are replayed and the sink leaves spooling mode. */
static void test_unproducible_spooled_record_is_discarded(void **state)
{
    struct fx *f = *state;
    char dir[128], bad[300];
    snprintf(dir, sizeof dir, "%s/spool", f->dir);
    memset(bad, 'x', sizeof bad);
    struct uf_spool_cfg cfg = { .dir = dir, .max_bytes = 1 << 20, .segment_bytes = 1 << 20 };
    struct uf_err err = { 0 };
    struct uf_spool *sp = uf_spool_open(&cfg, &err);
    assert_non_null(sp);
    const char *good = "{\"type\":\"t\",\"n\":0,\"user_id\":\"u0\",\"session_id\":\"s\"}";
    struct uf_kafka_msg msgs[2] = {
        { .topic = bad, .topic_len = sizeof bad, .value = "{}", .value_len = 2 },
        { .topic = "ugc.events",
          .topic_len = 10,
          .key = "u0",
          .key_len = 2,
          .value = good,
          .value_len = strlen(good) },
    };
    struct uf_spool_rec recs[3];
    for (int i = 0; i < 2; i++)
        recs[i].data = uf_kafka_msg_pack(&msgs[i], &recs[i].len);
    recs[2] = (struct uf_spool_rec){ .data = "\x01", .len = 1 }; /* not a message at all */
    assert_int_equal(uf_spool_append(sp, recs, 3, &err), 0);
    for (int i = 0; i < 2; i++)
        free((void *)recs[i].data);
    uf_spool_close(sp);
    start(f, "        topic: ugc.events\n");
    wait_metric(f, "spool_records", 0);
    assert_int_equal(metric(f, "spool_discarded_records_total"), 2);
    assert_int_equal(metric(f, "spool_replayed_events_total"), 1);
    check_delivered(f, 1);
    struct uf_waiter *w[1]; /* producing directly again */
    write_events(f, 1, 1, w);
    wait_all(w, 1, 0);
    assert_int_equal(metric(f, "kafka_acked_events_total"), 1);
}

/* The replay's producer lingers replay_linger even where `properties` set linger.ms for live
 * events; live events keep the user's value. */
static void test_replay_producer_has_its_own_linger(void **state)
{
    (void)state;
    json_t *props = json_pack("{s:f}", "linger.ms", 0.5);
    struct uf_kafka_ctx k = { .brokers = "127.0.0.1:1",
                              .linger_ms = 5,
                              .batch_bytes = 1 << 20,
                              .queue_messages = 1000,
                              .message_timeout_ms = 1000,
                              .properties = props,
                              .replay_linger_ms = 20 };
    struct uf_err err = { 0 };
    char v[32];
    size_t n;
    for (int replay = 0; replay <= 1; replay++) {
        rd_kafka_conf_t *c = uf_kafka_conf_build(&k, replay, &err);
        assert_non_null(c);
        n = sizeof v;
        assert_int_equal(rd_kafka_conf_get(c, "linger.ms", v, &n), RD_KAFKA_CONF_OK);
        assert_string_equal(v, replay ? "20" : "0.5");
        n = sizeof v;
        assert_int_equal(rd_kafka_conf_get(c, "client.id", v, &n), RD_KAFKA_CONF_OK);
        assert_string_equal(v, replay ? "ugcflow-replay" : "ugcflow");
        rd_kafka_conf_destroy(c);
    }
    json_decref(props);
}

/* A message packed for the spool unpacks to itself; a record too short for its lengths does
 * not unpack. */
static void test_msg_pack_round_trip(void **state)
{
    struct uf_kafka_msg m = { .topic = "ugc.events",
                              .topic_len = 10,
                              .key = "k1",
                              .key_len = 2,
                              .value = "{\"a\":1}",
                              .value_len = 7 },
                        back;
    size_t len;
    unsigned char *p = uf_kafka_msg_pack(&m, &len);
    assert_int_equal(len, 2 + 10 + 4 + 2 + 7);
    assert_true(uf_kafka_msg_unpack(p, len, &back));
    assert_int_equal(back.topic_len, 10);
    assert_memory_equal(back.topic, "ugc.events", 10);
    assert_int_equal(back.key_len, 2);
    assert_memory_equal(back.key, "k1", 2);
    assert_int_equal(back.value_len, 7);
    assert_memory_equal(back.value, "{\"a\":1}", 7);
    assert_false(uf_kafka_msg_unpack(p, 11, &back));
    p[12] = 0xff; /* a key length beyond the record */
    assert_false(uf_kafka_msg_unpack(p, len, &back));
    free(p);
}

static void test_option_errors(void **state)
{
    struct fx *f = *state;
    struct uf_diags d = { 0 };
    assert_null(build(f, "        properties: {no.such.property: 1}\n", &d));
    assert_true(d.n >= 1);
    assert_non_null(strstr(d.v[0].msg, "component 'out' (kind kafka): set topic, topic_field"));
    uf_diags_free(&d);
    memset(&d, 0, sizeof d);
    assert_null(build(f, "        topic: x\n        properties: {no.such.property: 1}\n", &d));
    assert_int_equal(d.n, 1);
    assert_non_null(strstr(d.v[0].msg, "librdkafka property 'no.such.property'"));
    assert_int_equal(d.v[0].pos.line, 5);
    uf_diags_free(&d);
    memset(&d, 0, sizeof d);
    assert_null(build(f, "        topic: \"ugc events\"\n", &d));
    assert_int_equal(d.n, 1);
    assert_non_null(strstr(d.v[0].msg, "topic 'ugc events': not a Kafka topic name"));
    uf_diags_free(&d);
}

/* ---- zstd streams kept for reuse (kafka_zstd.c) ---- */

static void *create_and_free(void *arg)
{
    ZSTD_CStream *cs = ZSTD_createCStream();
    *(void **)arg = cs;
    ZSTD_freeCStream(cs); /* kept by this thread, freed when it exits (LeakSanitizer checks) */
    return NULL;
}

/* Compresses text with a stream as librdkafka does and checks the frame decodes to it. */
static void round_trip(ZSTD_CStream *cs, int level, const char *text)
{
    char out[512], back[512];
    size_t n = strlen(text);
    assert_false(ZSTD_isError(ZSTD_initCStream(cs, level)));
    ZSTD_outBuffer o = { out, sizeof out, 0 };
    ZSTD_inBuffer in = { text, n, 0 };
    assert_false(ZSTD_isError(ZSTD_compressStream(cs, &o, &in)));
    assert_int_equal(ZSTD_endStream(cs, &o), 0);
    assert_int_equal(ZSTD_decompress(back, sizeof back, out, o.pos), n);
    assert_memory_equal(back, text, n);
}

static void test_zstd_streams_are_reused_per_thread(void **state)
{
    (void)state;
    uf_kafka_zstd_reuse();
    ZSTD_CStream *a = ZSTD_createCStream();
    round_trip(a, 1, "{\"type\":\"movie.card.click\",\"props\":{\"row\":\"1\"}}");
    assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(a, ZSTD_c_checksumFlag, 1)));
    ZSTD_freeCStream(a);
    ZSTD_CStream *b = ZSTD_createCStream();
    assert_ptr_equal(a, b); /* the kept stream, as a new one would be: parameters reset */
    int flag = -1;
    assert_false(ZSTD_isError(ZSTD_CCtx_getParameter(b, ZSTD_c_checksumFlag, &flag)));
    assert_int_equal(flag, 0);
    round_trip(b, 3, "another frame, another level");
    ZSTD_CStream *c = ZSTD_createCStream(); /* while b is out: a new one */
    assert_ptr_not_equal(b, c);
    ZSTD_freeCStream(b); /* not the last one made here: freed */
    ZSTD_freeCStream(c); /* kept */
    /* A stream in the caller's own memory is never kept nor handed out again, even when the
     * slot is free. */
    ZSTD_CStream *d = ZSTD_createCStream(); /* the kept one: the slot is free now */
    assert_ptr_equal(d, c);
    size_t size = ZSTD_estimateCStreamSize(1);
    void *mem = malloc(size);
    ZSTD_CStream *st = ZSTD_initStaticCStream(mem, size);
    assert_non_null(st);
    ZSTD_freeCStream(st);
    ZSTD_CStream *e = ZSTD_createCStream();
    assert_ptr_not_equal(e, st);
    ZSTD_freeCStream(e);
    ZSTD_freeCStream(d);
    free(mem);
    void *other = NULL;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, create_and_free, &other), 0);
    pthread_join(t, NULL);
    assert_non_null(other);
    assert_int_equal(ZSTD_freeCStream(NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_delivers_with_topic_key_and_value, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_raw_delivers_like_body, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_topic_from_field, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_raw_topic_key_and_failures, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_outage_spools_then_replays_in_order, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_full_spool_fails_with_503, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_no_spool_fails_with_503, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_restart_replays_the_spool, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_invalid_topic_fails_with_422, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_topic_exception_is_permanent, fx_setup, fx_teardown),
        cmocka_unit_test(test_msg_pack_round_trip),
        cmocka_unit_test(test_replay_producer_has_its_own_linger),
        cmocka_unit_test_setup_teardown(test_unproducible_spooled_record_is_discarded, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_option_errors, fx_setup, fx_teardown),
        cmocka_unit_test(test_zstd_streams_are_reused_per_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
