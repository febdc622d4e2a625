/* tests/it_clickhouse.c: the clickhouse sink's wire format against the dev stack's real
 * ClickHouse (UGCFLOW_CH_URL): a RowBinary batch in zstd blocks with `decompress=1` is taken
 * and reads back as written; the same body with one checksum byte changed is rejected with
 * Code 40 (which proves the server checks our CityHash128 v1.0.2); a JSONEachRow row the server
 * cannot parse is answered with a code uf_clickhouse_classify calls permanent. Own table per run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "framework/mem.h"
#include "sinks/clickhouse/clickhouse.h"

static const char *url;
static char table[64];

struct answer {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool got;
    struct uf_clickhouse_reply r;
    char body[2048];
};

static void on_answer(void *arg, const struct uf_clickhouse_reply *r)
{
    struct answer *a = arg;
    pthread_mutex_lock(&a->mu);
    a->r = *r;
    snprintf(a->body, sizeof(a->body), "%s", r->body);
    a->r.body = a->body;
    a->got = true;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

/* POSTs body as an INSERT and waits for the answer. */
static void post(const char *insert, bool compressed, const struct uf_strbuf *body,
                 struct answer *a)
{
    struct uf_clickhouse_http_cfg cfg = { .url = url, .inflight = 2, .timeout_ms = 30000 };
    struct uf_clickhouse_http *h = uf_clickhouse_http_new(&cfg, NULL);
    char *enc = uf_clickhouse_url_encode(insert);
    char *params = uf_xasprintf("query=%s%s", enc, compressed ? "&decompress=1" : "");
    memset(a, 0, sizeof(*a));
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
    uf_clickhouse_http_post(h, params, body->buf, body->len, 0, on_answer, a);
    pthread_mutex_lock(&a->mu);
    while (!a->got)
        pthread_cond_wait(&a->cv, &a->mu);
    pthread_mutex_unlock(&a->mu);
    uf_clickhouse_http_free(h);
    free(params);
    free(enc);
}

static void exec_ok(const char *sql, struct uf_strbuf *out)
{
    struct uf_clickhouse_http_cfg cfg = { .url = url, .inflight = 1, .timeout_ms = 30000 };
    struct uf_err err = { 0 };
    if (uf_clickhouse_http_exec(&cfg, sql, out, &err) != 0)
        fail_msg("%s: %s", sql, err.msg);
}

static struct uf_clickhouse_schema schema(void)
{
    json_t *specs = json_pack("[s,s,s,s]", "event_id UUID", "ts DateTime('UTC') from received_at",
                              "movie_id String", "position_s Float64");
    struct uf_clickhouse_schema s;
    assert_int_equal(uf_clickhouse_schema_parse(&s, specs, NULL), 0);
    json_decref(specs);
    return s;
}

static void encode_rows(const struct uf_clickhouse_schema *s, enum uf_clickhouse_format f, int n,
                        struct uf_strbuf *raw)
{
    for (int i = 0; i < n; i++) {
        json_t *body = json_pack(
            "{s:s,s:s,s:s,s:f}", "event_id", "01890a5d-ac96-774b-bcce-b302099a8057", "received_at",
            "2024-05-01T12:00:00Z", "movie_id", i % 2 ? "m1" : "m2", "position_s", i * 1.5);
        char id[40];
        snprintf(id, sizeof(id), "01890a5d-ac96-774b-bcce-%012d", i);
        json_object_set_new(body, "event_id", json_string(id));
        assert_int_equal(uf_clickhouse_encode_row(s, f, body, raw, NULL), 0);
        json_decref(body);
    }
}

static int setup(void **state)
{
    url = getenv("UGCFLOW_CH_URL");
    if (!url)
        fail_msg("UGCFLOW_CH_URL is not set: run under script/test or source the dev-stack env");
    snprintf(table, sizeof(table), "it_clickhouse_%d", (int)getpid());
    struct uf_clickhouse_schema s = schema();
    char *create = uf_clickhouse_create_sql(&s, "ugcflow", table, "MergeTree ORDER BY event_id");
    exec_ok(create, NULL);
    free(create);
    uf_clickhouse_schema_free(&s);
    return 0;
}

static int teardown(void **state)
{
    char *drop = uf_xasprintf("DROP TABLE IF EXISTS ugcflow.%s", table);
    exec_ok(drop, NULL);
    free(drop);
    return 0;
}

static void test_compressed_rowbinary_and_checksum(void **state)
{
    struct uf_clickhouse_schema s = schema();
    struct uf_strbuf raw = { 0 }, wire = { 0 }, out = { 0 };
    encode_rows(&s, UF_CLICKHOUSE_FMT_ROWBINARY, 50000, &raw);
    struct uf_clickhouse_zstd *z = uf_clickhouse_zstd_new(1);
    assert_int_equal(uf_clickhouse_compress(z, raw.buf, raw.len, 256 * 1024, &wire, NULL), 0);
    char *ins = uf_clickhouse_insert_sql(&s, "ugcflow", table, UF_CLICKHOUSE_FMT_ROWBINARY);

    /* A wrong checksum first: the server must refuse it, with Code 40, and insert nothing. */
    struct answer a;
    wire.buf[3] ^= 0x01;
    post(ins, true, &wire, &a);
    int code;
    assert_false(a.r.curl_failed);
    assert_non_null(strstr(a.body, "Code: 40"));
    assert_int_equal(uf_clickhouse_classify(false, a.r.status, a.body, &code),
                     UF_CLICKHOUSE_RETRYABLE);
    assert_int_equal(code, 40);
    wire.buf[3] ^= 0x01;

    post(ins, true, &wire, &a);
    assert_int_equal(uf_clickhouse_classify(a.r.curl_failed, a.r.status, a.body, &code),
                     UF_CLICKHOUSE_SENT);
    char *sel = uf_xasprintf("SELECT count(), sum(position_s), uniqExact(event_id), "
                             "toString(min(ts)) FROM ugcflow.%s",
                             table);
    exec_ok(sel, &out);
    assert_string_equal(out.buf, "50000\t1874962500\t50000\t2024-05-01 12:00:00\n");
    free(sel);
    free(ins);
    uf_clickhouse_zstd_free(z);
    uf_strbuf_free(&raw);
    uf_strbuf_free(&wire);
    uf_strbuf_free(&out);
    uf_clickhouse_schema_free(&s);
}

static void test_bad_row_is_permanent(void **state)
{
    struct uf_clickhouse_schema s = schema();
    struct uf_strbuf body = { 0 };
    /* JSONEachRow passes UUID text through, so the server is the one that rejects it. */
    uf_strbuf_puts(&body, "{\"event_id\":\"not-a-uuid\",\"ts\":\"2024-05-01 12:00:00\","
                          "\"movie_id\":\"m\",\"position_s\":1}\n");
    char *ins = uf_clickhouse_insert_sql(&s, "ugcflow", table, UF_CLICKHOUSE_FMT_JSONEACHROW);
    struct answer a;
    post(ins, false, &body, &a);
    int code;
    assert_int_equal(uf_clickhouse_classify(a.r.curl_failed, a.r.status, a.body, &code),
                     UF_CLICKHOUSE_PERMANENT);
    assert_true(code > 0);
    free(ins);
    uf_strbuf_free(&body);
    uf_clickhouse_schema_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compressed_rowbinary_and_checksum),
        cmocka_unit_test(test_bad_row_is_permanent),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
