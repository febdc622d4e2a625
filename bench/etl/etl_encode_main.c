/* bench/etl/etl_encode_main.c: `etl_encode`, the CPU cost per row of the ETL's message →
 * RowBinary step alone, without Kafka or ClickHouse (so it is steady on a shared machine).
 *   etl_encode [ROWS] [raw]   (raw: time only the raw path, e.g. under perf)
 * Builds ROWS view messages shaped like etl_produce's, then times, single-threaded:
 *   json: what payload: json does (jansson parse with duplicate check, id check,
 * uf_clickhouse_encode_row); raw:  what payload: raw does (the source's check up to the id, then
 * uf_clickhouse_encode_raw); zstd: compressing the RowBinary into ClickHouse blocks (level 1, 1
 * MiB), for scale. Prints CPU seconds per million rows (CLOCK_PROCESS_CPUTIME_ID) for each. Tool
 * only. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "framework/jscan.h"
#include "framework/mem.h"
#include "framework/uuid.h"
#include "sinks/clickhouse/clickhouse.h"

static const char *const view_columns =
    "[\"event_id UUID\", \"type String\", \"event String\", \"ts DateTime('UTC') from "
    "received_at\", \"client_ts Nullable(DateTime('UTC')) from ts\", \"user_id Nullable(UUID)\","
    " \"anonymous_id String\", \"session_id String\", \"movie_id String\", \"position_s Float64\","
    " \"duration_s Float64\", \"quality String\", \"watched_s Float64\", \"completed UInt8\","
    " \"url String\", \"ip String\", \"user_agent String\"]";

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *make_view(uint64_t i, size_t *len)
{
    static const char *const players[] = { "open", "play", "progress", "pause", "seek" };
    char id[UF_UUID_STR];
    uint8_t raw[16];
    uf_uuid_v7(raw);
    uf_uuid_format(raw, id);
    char *s = uf_xasprintf("{\"event_id\":\"%s\",\"type\":\"player\",\"event\":\"%s\","
                           "\"received_at\":\"2026-11-29T15:44:35.%06" PRIu64 "Z\",\"ts\":null,"
                           "\"user_id\":\"00000000-0000-4000-8000-0000000%05" PRIu64 "\","
                           "\"session_id\":\"s-%" PRIu64
                           "\",\"movie_id\":\"00000000-0000-4000-8000-0000000000%02" PRIu64
                           "\",\"position_s\":%.1f,\"duration_s\":5400,\"quality\":\"1080p\","
                           "\"url\":\"/movies/%" PRIu64 "\",\"ip\":\"10.0.0.0\","
                           "\"user_agent\":\"Mozilla/5.0 (bench)\"}",
                           id, players[i % 5], i % 1000000, i % 5000, i / 50, i % 97,
                           (double)(i % 5400), i % 97);
    *len = strlen(s);
    return s;
}

static int check_json(const char *p, size_t n, struct uf_clickhouse_schema *s, struct uf_strbuf *sb)
{
    json_error_t je;
    json_t *body = json_loadb(p, n, JSON_REJECT_DUPLICATES, &je);
    uint8_t id[16];
    if (!body || !uf_uuid_parse(json_string_value(json_object_get(body, "event_id")), id))
        return -1;
    int rc = uf_clickhouse_encode_row(s, UF_CLICKHOUSE_FMT_ROWBINARY, body, sb, NULL);
    json_decref(body);
    return rc;
}

/* The kafka_source's raw check: the text up to event_id, which must be a UUID. */
static int on_member(void *arg, const struct uf_jmember *m, struct uf_err *err)
{
    char buf[64];
    if (!uf_jscan_key_is(m, "event_id") || m->val_len >= sizeof(buf))
        return 0;
    buf[uf_jscan_unescape(m->val, m->val_len, buf)] = '\0';
    return uf_uuid_parse(buf, arg) ? 1 : -1;
}

static int check_raw(const char *p, size_t n)
{
    uint8_t id[16];
    return uf_jscan_object(p, n, on_member, id, NULL) == 1 ? 0 : -1;
}

int main(int argc, char **argv)
{
    size_t rows = argc > 1 ? strtoull(argv[1], NULL, 10) : 200000;
    char **msgs = uf_xmalloc(rows * sizeof(*msgs));
    size_t *lens = uf_xmalloc(rows * sizeof(*lens)), bytes = 0;
    for (size_t i = 0; i < rows; i++) {
        msgs[i] = make_view(i, &lens[i]);
        bytes += lens[i];
    }
    json_t *specs = json_loads(view_columns, 0, NULL);
    struct uf_clickhouse_schema s;
    if (uf_clickhouse_schema_parse(&s, specs, NULL) < 0)
        return 1;
    struct uf_strbuf a = { 0 }, b = { 0 }, wire = { 0 };
    bool only_raw = argc > 2 && strcmp(argv[2], "raw") == 0;
    double t0 = cpu_now();
    for (size_t i = 0; i < rows && !only_raw; i++)
        if (check_json(msgs[i], lens[i], &s, &a) < 0)
            return 1;
    double t1 = cpu_now();
    for (size_t i = 0; i < rows; i++)
        if (check_raw(msgs[i], lens[i]) < 0)
            return 1;
    double t2 = cpu_now();
    for (size_t i = 0; i < rows; i++)
        if (uf_clickhouse_encode_raw(&s, UF_CLICKHOUSE_FMT_ROWBINARY, msgs[i], lens[i], &b, NULL) <
            0)
            return 1;
    double t3 = cpu_now();
    struct uf_clickhouse_zstd *z = uf_clickhouse_zstd_new(1);
    if (uf_clickhouse_compress(z, b.buf, b.len, 1 << 20, &wire, NULL) < 0)
        return 1;
    double t4 = cpu_now();
    if (!only_raw && (a.len != b.len || memcmp(a.buf, b.buf, a.len) != 0)) {
        fprintf(stderr, "etl_encode: json and raw rows differ\n");
        return 1;
    }
    double m = (double)rows / 1e6;
    printf("rows=%zu message_bytes=%zu row_bytes=%zu wire_bytes=%zu\n", rows, bytes, b.len,
           wire.len);
    printf("json: cpu_s_per_million=%.2f (parse, id check, encode)\n"
           "raw:  cpu_s_per_million=%.2f (check %.2f + encode %.2f)\n"
           "zstd: cpu_s_per_million=%.2f\n",
           (t1 - t0) / m, (t3 - t1) / m, (t2 - t1) / m, (t3 - t2) / m, (t4 - t3) / m);
    uf_clickhouse_zstd_free(z);
    uf_clickhouse_schema_free(&s);
    json_decref(specs);
    for (size_t i = 0; i < rows; i++)
        free(msgs[i]);
    free(msgs);
    free(lens);
    uf_strbuf_free(&a);
    uf_strbuf_free(&b);
    uf_strbuf_free(&wire);
    return 0;
}
