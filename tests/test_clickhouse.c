/* tests/test_clickhouse.c: the clickhouse sink's encoding, byte for byte: the CityHash128 v1.0.2
 * checksum (values checked against a real ClickHouse 18.16, which rejects a wrong one with
 * Code 40, see tests/it_clickhouse.c), the compressed block framing, zstd blocks round trip,
 * RowBinary and JSONEachRow rows, rows encoded straight from a payload's text (the same bytes
 * and messages as from the parsed body, malformed text refused), the column-spec parser's
 * errors, and uf_clickhouse_classify (also against the codes docs/analytics.md lists). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "sinks/clickhouse/clickhouse.h"

static void test_cityhash_v102(void **state)
{
    (void)state;
    static const struct {
        size_t len;
        uint64_t lo, hi;
    } want[] = {
        /* Inputs of every branch: empty, < 8, 8..16, = 16, murmur (< 128), = 128, long. */
        { 0, 0x3df09dfc64c09a2bULL, 0x3cb540c392e51e29ULL },
        { 5, 0x769b42b3bb8e4249ULL, 0xcd00ae16776dd6f3ULL },
        { 12, 0x3924a15134c4740eULL, 0xf1894ae12eacd212ULL },
        { 16, 0x21e79cab7f9c2b79ULL, 0xa35615c235313f7aULL },
        { 100, 0xe8ed256df7c36d77ULL, 0x5da4e59606ec0c52ULL },
        { 128, 0x11d00b10d6694d31ULL, 0x108fb9e5b83fdff4ULL },
        { 300, 0xd6306a0c4528ae11ULL, 0x37c2e51cab2517efULL },
    };
    unsigned char buf[300];
    for (int i = 0; i < 300; i++)
        buf[i] = (unsigned char)(i * 7 + 3);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        uint64_t h[2];
        uf_clickhouse_cityhash128(buf, want[i].len, h);
        assert_int_equal(h[0], want[i].lo);
        assert_int_equal(h[1], want[i].hi);
    }
}

static void test_block_framing(void **state)
{
    (void)state;
    static const unsigned char want[] = {
        0x6b, 0x79, 0x58, 0x35, 0x9e, 0x78, 0x79, 0x9a, /* CityHash128 of bytes 16.., low */
        0xcd, 0x4e, 0x6f, 0xf4, 0x1b, 0x59, 0x46, 0x51, /* high */
        0x90,                                           /* ZSTD */
        0x0c, 0x00, 0x00, 0x00,                         /* 9 + 3: header included */
        0x03, 0x00, 0x00, 0x00,                         /* uncompressed size */
        0x61, 0x62, 0x63,
    };
    struct uf_strbuf sb = { 0 };
    uf_clickhouse_block_append(&sb, UF_CLICKHOUSE_METHOD_ZSTD, "abc", 3, 3);
    assert_int_equal(sb.len, sizeof(want));
    assert_memory_equal(sb.buf, want, sizeof(want));
    uf_strbuf_free(&sb);
}

static void test_zstd_blocks_round_trip(void **state)
{
    (void)state;
    struct uf_strbuf raw = { 0 }, wire = { 0 }, back = { 0 };
    for (int i = 0; i < 2000; i++)
        uf_strbuf_printf(&raw, "row %d\n", i);
    struct uf_clickhouse_zstd *z = uf_clickhouse_zstd_new(1);
    struct uf_err err = { 0 };
    assert_int_equal(uf_clickhouse_compress(z, raw.buf, raw.len, 4096, &wire, &err), 0);
    /* Every block names ZSTD and an uncompressed size of at most 4096; they cover raw. */
    size_t off = 0, total = 0, blocks = 0;
    while (off < wire.len) {
        const unsigned char *p = (const unsigned char *)wire.buf + off;
        uint32_t csize = p[17] | p[18] << 8 | p[19] << 16 | (uint32_t)p[20] << 24;
        uint32_t rsize = p[21] | p[22] << 8 | p[23] << 16 | (uint32_t)p[24] << 24;
        assert_int_equal(p[16], 0x90);
        assert_true(rsize <= 4096);
        total += rsize;
        off += 16 + csize;
        blocks++;
    }
    assert_int_equal(off, wire.len);
    assert_int_equal(total, raw.len);
    assert_int_equal(blocks, (raw.len + 4095) / 4096);
    assert_int_equal(uf_clickhouse_decompress(wire.buf, wire.len, &back, &err), 0);
    assert_int_equal(back.len, raw.len);
    assert_memory_equal(back.buf, raw.buf, raw.len);
    /* One flipped bit anywhere after the checksum is caught. */
    wire.buf[30] ^= 1;
    uf_strbuf_reset(&back);
    assert_int_equal(uf_clickhouse_decompress(wire.buf, wire.len, &back, &err), UF_EINVAL);
    assert_string_equal(err.msg, "checksum mismatch");
    uf_clickhouse_zstd_free(z);
    uf_strbuf_free(&raw);
    uf_strbuf_free(&wire);
    uf_strbuf_free(&back);
}

static struct uf_clickhouse_schema schema_of(const char *specs_json)
{
    json_t *specs = json_loads(specs_json, 0, NULL);
    struct uf_clickhouse_schema s;
    struct uf_err err = { 0 };
    assert_int_equal(uf_clickhouse_schema_parse(&s, specs, &err), 0);
    json_decref(specs);
    return s;
}

static const char *row_specs =
    "[\"event_id UUID\", \"type String\", \"ts DateTime('UTC') from received_at\","
    " \"client_ts Nullable(DateTime('UTC')) from ts\", \"position_s Float64\","
    " \"props String\", \"n Int16\", \"d Date from received_at\", \"q String from props.q\"]";

static const char *row_json =
    "{\"event_id\":\"61f0c404-5cb3-11e7-907b-a6006ad3dba0\",\"type\":\"movie.play\","
    "\"received_at\":\"2024-05-01T12:00:00.123456Z\",\"ts\":null,\"position_s\":12.5,"
    "\"props\":{\"q\":\"hd\"},\"n\":300}";

static void test_rowbinary_row(void **state)
{
    (void)state;
    static const unsigned char want[] = {
        0xe7, 0x11, 0xb3, 0x5c, 0x04, 0xc4, 0xf0, 0x61, /* UUID: each half little-endian */
        0xa0, 0xdb, 0xd3, 0x6a, 0x00, 0xa6, 0x7b, 0x90, 0x0a, 'm',  'o', 'v',  'i',
        'e',  '.',  'p',  'l',  'a',  'y',  0xc0, 0x2e, 0x32, 0x66, /* 2024-05-01 12:00:00 UTC */
        0x01,                                                       /* client_ts: NULL */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x29, 0x40,             /* 12.5 */
        0x0a, '{',  '"',  'q',  '"',  ':',  '"',  'h',  'd',  '"',  '}', 0x2c, 0x01, /* 300 */
        0x84, 0x4d,                                                                  /* day 19844 */
        0x02, 'h',  'd',
    };
    struct uf_clickhouse_schema s = schema_of(row_specs);
    json_t *body = json_loads(row_json, 0, NULL);
    struct uf_strbuf sb = { 0 };
    struct uf_err err = { 0 };
    assert_int_equal(uf_clickhouse_encode_row(&s, UF_CLICKHOUSE_FMT_ROWBINARY, body, &sb, &err), 0);
    assert_int_equal(sb.len, sizeof(want));
    assert_memory_equal(sb.buf, want, sizeof(want));

    uf_strbuf_reset(&sb);
    assert_int_equal(uf_clickhouse_encode_row(&s, UF_CLICKHOUSE_FMT_JSONEACHROW, body, &sb, &err),
                     0);
    assert_string_equal(sb.buf, "{\"event_id\":\"61f0c404-5cb3-11e7-907b-a6006ad3dba0\","
                                "\"type\":\"movie.play\",\"ts\":\"2024-05-01 12:00:00\","
                                "\"client_ts\":null,\"position_s\":12.5,"
                                "\"props\":\"{\\\"q\\\":\\\"hd\\\"}\",\"n\":300,"
                                "\"d\":\"2024-05-01\",\"q\":\"hd\"}\n");
    json_decref(body);
    uf_strbuf_free(&sb);
    uf_clickhouse_schema_free(&s);
}

static void expect_row_error(const char *json, const char *msg)
{
    struct uf_clickhouse_schema s = schema_of(row_specs);
    json_t *body = json_loads(json, 0, NULL);
    struct uf_strbuf sb = { 0 };
    uf_strbuf_puts(&sb, "kept");
    struct uf_err err = { 0 };
    assert_int_equal(uf_clickhouse_encode_row(&s, UF_CLICKHOUSE_FMT_ROWBINARY, body, &sb, &err),
                     UF_EINVAL);
    assert_string_equal(err.msg, msg);
    assert_int_equal(sb.len, 4); /* a failed row leaves nothing behind */
    json_decref(body);
    uf_strbuf_free(&sb);
    uf_clickhouse_schema_free(&s);
}

static void test_row_errors(void **state)
{
    (void)state;
    expect_row_error("{\"event_id\":\"nope\"}", "column 'event_id': expected a UUID");
    expect_row_error("{\"n\":40000}", "column 'n': 40000 out of range for Int16");
    expect_row_error("{\"n\":\"7\"}", "column 'n': expected an integer");
    expect_row_error("{\"received_at\":\"yesterday\"}",
                     "column 'ts': 'yesterday' is not an RFC 3339 time");
    expect_row_error("{\"position_s\":\"far\"}", "column 'position_s': expected a number");
}

static void expect_schema_error(const char *specs_json, const char *msg)
{
    json_t *specs = json_loads(specs_json, 0, NULL);
    struct uf_clickhouse_schema s;
    struct uf_err err = { 0 };
    assert_int_equal(uf_clickhouse_schema_parse(&s, specs, &err), UF_EINVAL);
    assert_string_equal(err.msg, msg);
    uf_clickhouse_schema_free(&s);
    json_decref(specs);
}

static void test_schema_errors(void **state)
{
    (void)state;
    expect_schema_error("[\"a String\", \"b DateTime64(3)\"]",
                        "columns[1]: 'b DateTime64(3)': unsupported type 'DateTime64(3)' "
                        "(expected String, UUID, DateTime('UTC'), Date, [U]Int8..64, "
                        "Float32/64, or Nullable of those)");
    expect_schema_error("[\"nospace\"]",
                        "columns[0]: 'nospace': expected \"name Type [from field]\"");
    expect_schema_error("[\"a String from x..y\"]",
                        "columns[0]: 'a String from x..y': bad field path 'x..y'");
    expect_schema_error("[]", "columns: expected a non-empty list");
}

static void test_sql(void **state)
{
    (void)state;
    struct uf_clickhouse_schema s =
        schema_of("[\"event_id UUID\", \"ts DateTime('UTC') from received_at\"]");
    char *ins = uf_clickhouse_insert_sql(&s, "ugcflow", "events", UF_CLICKHOUSE_FMT_ROWBINARY);
    assert_string_equal(ins, "INSERT INTO `ugcflow`.`events` (`event_id`, `ts`) FORMAT RowBinary");
    char *cr =
        uf_clickhouse_create_sql(&s, "ugcflow", "events", "ReplacingMergeTree ORDER BY event_id");
    assert_string_equal(cr, "CREATE TABLE IF NOT EXISTS `ugcflow`.`events` (`event_id` UUID, "
                            "`ts` DateTime('UTC')) ENGINE = ReplacingMergeTree ORDER BY event_id");
    char *enc = uf_clickhouse_url_encode("INSERT a=b&c");
    assert_string_equal(enc, "INSERT%20a%3Db%26c");
    free(ins);
    free(cr);
    free(enc);
    uf_clickhouse_schema_free(&s);
}

static int parse_time(const char *s, int64_t *us)
{
    return uf_clickhouse_parse_time(s, strlen(s), us);
}

static void test_parse_time(void **state)
{
    (void)state;
    int64_t us;
    assert_int_equal(parse_time("2024-05-01T12:00:00.123456Z", &us), 0);
    assert_int_equal(us, 1714564800123456LL);
    assert_int_equal(parse_time("2024-05-01T14:00:00+02:00", &us), 0);
    assert_int_equal(us, 1714564800000000LL);
    assert_int_equal(parse_time("2024-05-01 12:00:00", &us), 0);
    assert_int_equal(us, 1714564800000000LL);
    /* The day arithmetic agrees with timegm across leap years, centuries and month ends. */
    static const char *const days[] = { "1970-01-01", "1999-12-31", "2000-02-29", "2000-03-01",
                                        "2023-02-31", "2024-02-29", "2100-03-01", "2106-02-07",
                                        "1969-12-31", "1900-02-28" };
    for (size_t i = 0; i < sizeof(days) / sizeof(days[0]); i++) {
        char t[32];
        snprintf(t, sizeof(t), "%sT23:59:60Z", days[i]);
        struct tm tm = { 0 };
        sscanf(days[i], "%d-%d-%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday);
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        tm.tm_hour = 23;
        tm.tm_min = 59;
        tm.tm_sec = 60;
        assert_int_equal(parse_time(t, &us), 0);
        assert_int_equal(us, (int64_t)timegm(&tm) * 1000000);
    }
    assert_int_equal(parse_time("2024-13-01T12:00:00Z", &us), UF_EINVAL);
    assert_int_equal(parse_time("2024-05-01T12:00:00Zjunk", &us), UF_EINVAL);
}

static void test_classify(void **state)
{
    (void)state;
    int code;
    assert_int_equal(uf_clickhouse_classify(true, 0, "Connection refused", &code),
                     UF_CLICKHOUSE_RETRYABLE);
    assert_int_equal(uf_clickhouse_classify(false, 200, "", &code), UF_CLICKHOUSE_SENT);
    assert_int_equal(
        uf_clickhouse_classify(false, 500,
                               "Code: 252, e.displayText() = DB::Exception: Too many parts", &code),
        UF_CLICKHOUSE_RETRYABLE);
    assert_int_equal(code, 252);
    assert_int_equal(
        uf_clickhouse_classify(false, 500, "Code: 241, e.displayText() = Memory limit", &code),
        UF_CLICKHOUSE_RETRYABLE);
    assert_int_equal(
        uf_clickhouse_classify(false, 500, "Code: 27, e.displayText() = Cannot parse input", &code),
        UF_CLICKHOUSE_PERMANENT);
    assert_int_equal(code, 27);
    /* 18.16 answers some errors with 400 and some with 500: the code decides, not the status. */
    assert_int_equal(uf_clickhouse_classify(false, 400, "Code: 16, No such column", &code),
                     UF_CLICKHOUSE_PERMANENT);
    assert_int_equal(uf_clickhouse_classify(false, 503, "Service Unavailable", &code),
                     UF_CLICKHOUSE_RETRYABLE);
    assert_int_equal(code, 0);
    assert_int_equal(uf_clickhouse_classify(false, 404, "not found", &code),
                     UF_CLICKHOUSE_PERMANENT);
    /* A missing table or a refused login is for an operator: the rows wait, not dead-letter. */
    assert_int_equal(
        uf_clickhouse_classify(false, 404, "Code: 60, Table ugcflow.x doesn't exist", &code),
        UF_CLICKHOUSE_RETRYABLE);
    assert_int_equal(uf_clickhouse_classify(false, 500, "Code: 516, Authentication failed", &code),
                     UF_CLICKHOUSE_RETRYABLE);
}

/* The codes of docs/analytics.md's table of retryable ClickHouse codes (the rows after the
 * "| codes |" header), as a set: listed[c] for 0 <= c < n. */
static void documented_codes(bool *listed, int n)
{
    const char *src = getenv("UGCFLOW_SOURCE_DIR");
    assert_non_null(src);
    char path[4096], line[512];
    snprintf(path, sizeof path, "%s/docs/analytics.md", src);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    bool in_table = false;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "  | codes |", 11) == 0) {
            in_table = true;
            continue;
        }
        if (in_table && strncmp(line, "  | ---", 7) == 0)
            continue;
        if (in_table && strncmp(line, "  | ", 4) != 0)
            break;
        for (char *p = line + 4; in_table && *p && *p != '|';) {
            char *end;
            long c = strtol(p, &end, 10);
            assert_true(end != p && c >= 0 && c < n);
            listed[c] = true;
            p = end + strspn(end, ", ");
        }
    }
    fclose(f);
    assert_true(in_table);
}

/* The doc's list is the code's: every documented code retries, and no other code below 1000
 * does (ClickHouse's codes that matter here are all below 1000). */
static void test_retryable_codes_documented(void **state)
{
    enum { N = 1000 };
    static bool listed[N];
    documented_codes(listed, N);
    for (int c = 1; c < N; c++) {
        char body[64];
        int code;
        snprintf(body, sizeof body, "Code: %d, e.displayText() = something", c);
        bool retries = uf_clickhouse_classify(false, 500, body, &code) == UF_CLICKHOUSE_RETRYABLE;
        if (retries != listed[c])
            fail_msg("Code %d: the sink %s it, docs/analytics.md %s", c,
                     retries ? "retries" : "does not retry", listed[c] ? "lists it" : "does not");
    }
}

/* ---- rows straight from the payload's text (clickhouse_raw.c) ---- */

static const char *flat_specs =
    "[\"event_id UUID\", \"type String\", \"ts DateTime('UTC') from received_at\","
    " \"client_ts Nullable(DateTime('UTC')) from ts\", \"d Date from received_at\","
    " \"user_id Nullable(UUID)\", \"position_s Float64\", \"f32 Float32\", \"completed UInt8\","
    " \"n Int16\", \"big Int64\", \"u64 UInt64\", \"props String\", \"s Nullable(String)\"]";

/* Encodes text both ways (parsed by jansson as the source does, and raw) and checks that the
 * result codes, bytes and messages are the same. */
static void expect_same(const struct uf_clickhouse_schema *s, const char *text)
{
    struct uf_strbuf a = { 0 }, b = { 0 };
    struct uf_err ea = { 0 }, eb = { 0 };
    uf_strbuf_puts(&a, "kept");
    uf_strbuf_puts(&b, "kept");
    json_t *body = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    assert_non_null(body);
    int ra = uf_clickhouse_encode_row(s, UF_CLICKHOUSE_FMT_ROWBINARY, body, &a, &ea);
    int rb = uf_clickhouse_encode_raw(s, UF_CLICKHOUSE_FMT_ROWBINARY, text, strlen(text), &b, &eb);
    if (ra != rb || strcmp(ea.msg, eb.msg) != 0)
        fail_msg("%s: json %d '%s', raw %d '%s'", text, ra, ea.msg, rb, eb.msg);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.buf, b.buf, a.len);
    json_decref(body);
    uf_strbuf_free(&a);
    uf_strbuf_free(&b);
}

static void test_raw_matches_parsed(void **state)
{
    (void)state;
    struct uf_clickhouse_schema s = schema_of(flat_specs);
    static const char *const bodies[] = {
        /* A view event as the stat pipeline writes it. */
        "{\"event_id\":\"0190d5a2-7c4e-7b1a-9f00-0123456789ab\",\"type\":\"player\","
        "\"received_at\":\"2024-05-01T12:00:00.123456Z\",\"ts\":null,"
        "\"user_id\":\"61f0c404-5cb3-11e7-907b-a6006ad3dba0\",\"position_s\":12.5,"
        "\"f32\":0.1,\"completed\":true,\"n\":-300,\"big\":-9223372036854775808,"
        "\"u64\":9223372036854775807,\"props\":\"x\",\"s\":\"y\"}",
        /* Everything missing: zero values and NULLs. */
        "{}",
        /* Explicit nulls, unknown fields of every kind (skipped), fields in another order. */
        "{\"s\":null,\"zzz\":{\"a\":[1,2,{\"b\":null}]},\"type\":null,\"other\":[],"
        "\"user_id\":null,\"n\":null,\"props\":null,\"x\":1e300}",
        /* Escapes and Unicode in strings; an escaped key. */
        "{\"type\":\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u00e9\\u20ac\\ud83d\\ude00\","
        "\"props\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 caf\xc3\xa9\",\"\\u0073\":\"key\"}",
        /* Non-strings in String columns: jansson's compact JSON. */
        "{\"type\":{\"b\": [1, 2.50, true, null, \"x\"], \"a\" : {}},\"props\":12,\"s\":false}",
        "{\"type\":1.0,\"props\":-0,\"s\":1E2}",
        "{\"type\":[],\"props\":true}",
        /* Numbers: integers in floats, whole reals in integers, booleans, exponents. */
        "{\"position_s\":3,\"f32\":-1.5e-3,\"completed\":false,\"n\":2.0,\"big\":1e15,"
        "\"u64\":0}",
        "{\"position_s\":-0.0,\"f32\":1e-320,\"n\":-32768,\"completed\":255}",
        /* Decimals read without strtod (at most 15 digits) and those just past that. */
        "{\"position_s\":0.1,\"f32\":123456789.012345,\"big\":999999999999999999}",
        "{\"position_s\":-98765.4321,\"f32\":0.000000000000001,\"u64\":100000000000000000}",
        "{\"position_s\":1234567890.1234567,\"f32\":-0.30000000000000004}",
        "{\"position_s\":9007199254740993.0,\"big\":-999999999999999999}",
        "{\"position_s\":0.30000000000000004441,\"big\":-1234567890123456789}",
        /* Keys that share a length and first and last letters with a column's. */
        "{\"tupe\":\"x\",\"tyqe\":\"y\",\"s_\":1,\"b\":2,\"u64x\":3}",
        /* Times: offsets, fractions, a number of seconds, a space separator, the epoch. */
        "{\"received_at\":\"2024-05-01T14:00:00.5+02:00\",\"ts\":1714564800}",
        "{\"received_at\":\"2024-05-01 12:00:00\",\"ts\":1714564800.9}",
        "{\"received_at\":\"1970-01-01T00:00:00Z\",\"ts\":\"2106-02-07T06:28:15Z\"}",
        "{\"received_at\":\"2024-05-01T12:00:00\\u005a\"}",
        "{\"received_at\":\"2024-05-01T12:00:00.123456789Z\",\"ts\":\"2024-05-01T12:00:00-05:30\"}",
        "{\"received_at\":\"2024-05-01T12:00:00.Z\"}",
        "{\"received_at\":\"2024-05-01T12:00:00+05:3\"}",
        /* UUIDs in upper case and with an escape. */
        "{\"event_id\":\"61F0C404-5CB3-11E7-907B-A6006AD3DBA0\","
        "\"user_id\":\"61f0c404-5cb3-11e7-907b-a6006ad3dba\\u0030\"}",
        /* Values that do not fit their column: the same message either way. */
        "{\"event_id\":\"nope\"}",
        "{\"event_id\":12}",
        "{\"user_id\":\"61f0c404-5cb3-11e7-907b-a6006ad3dba0x\"}",
        "{\"n\":40000}",
        "{\"n\":-32769}",
        "{\"completed\":-1}",
        "{\"n\":\"7\"}",
        "{\"n\":2.5}",
        "{\"n\":[1]}",
        "{\"big\":1e16}",
        "{\"u64\":-1}",
        "{\"received_at\":\"yesterday\"}",
        "{\"received_at\":\"2024-05-01T12:00:00Zjunk and a long tail of text beyond forty\"}",
        "{\"received_at\":true}",
        "{\"received_at\":-1}",
        "{\"ts\":4294967296}",
        "{\"ts\":1e30}",
        "{\"received_at\":\"1969-12-31T23:59:59Z\"}",
        "{\"position_s\":\"far\"}",
        "{\"position_s\":true}",
        "{\"f32\":{}}",
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++)
        expect_same(&s, bodies[i]);
    uf_clickhouse_schema_free(&s);
    /* Nested paths go through jansson whole: still the same bytes. */
    s = schema_of(row_specs);
    expect_same(&s, row_json);
    uf_clickhouse_schema_free(&s);
}

static void test_raw_row_bytes(void **state)
{
    (void)state;
    static const unsigned char want[] = {
        0xe7, 0x11, 0xb3, 0x5c, 0x04, 0xc4, 0xf0, 0x61, /* UUID: each half little-endian */
        0xa0, 0xdb, 0xd3, 0x6a, 0x00, 0xa6, 0x7b, 0x90,
        0x04, 'a',  '"',  0xc3, 0xa9,                   /* "a\"\u00e9": 4 bytes */
        0xc0, 0x2e, 0x32, 0x66,                         /* 2024-05-01 12:00:00 UTC */
        0x01,                                           /* client_ts: NULL */
        0x84, 0x4d,                                     /* day 19844 */
        0x01,                                           /* user_id: NULL (missing) */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x29, 0x40, /* 12.5 */
        0x00, 0x00, 0x00, 0x00,                         /* f32 missing: 0 */
        0x01,                                           /* true */
        0x2c, 0x01,                                     /* 300 */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* big missing */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* u64 missing */
        0x07, '{',  '"',  'q',  '"',  ':',  '1',  '}',  /* props: an object as compact JSON */
        0x00, 0x00,                                     /* s: not NULL, empty */
    };
    struct uf_clickhouse_schema s = schema_of(flat_specs);
    const char *text = "{\"event_id\":\"61f0c404-5cb3-11e7-907b-a6006ad3dba0\","
                       "\"type\":\"a\\\"\\u00e9\",\"received_at\":\"2024-05-01T12:00:00Z\","
                       "\"ts\":null,\"position_s\":12.5,\"completed\":true,\"n\":300,"
                       "\"props\":{ \"q\" : 1 },\"s\":\"\"}";
    struct uf_strbuf sb = { 0 };
    struct uf_err err = { 0 };
    assert_int_equal(
        uf_clickhouse_encode_raw(&s, UF_CLICKHOUSE_FMT_ROWBINARY, text, strlen(text), &sb, &err),
        0);
    assert_int_equal(sb.len, sizeof(want));
    assert_memory_equal(sb.buf, want, sizeof(want));
    uf_strbuf_free(&sb);
    uf_clickhouse_schema_free(&s);
}

static void expect_raw_error(const char *text, size_t len, const char *msg)
{
    struct uf_clickhouse_schema s = schema_of(flat_specs);
    struct uf_strbuf sb = { 0 };
    uf_strbuf_puts(&sb, "kept");
    struct uf_err err = { 0 };
    assert_int_equal(
        uf_clickhouse_encode_raw(&s, UF_CLICKHOUSE_FMT_ROWBINARY, text, len, &sb, &err), UF_EINVAL);
    assert_string_equal(err.msg, msg);
    assert_int_equal(sb.len, 4); /* a refused row leaves nothing behind */
    assert_string_equal(sb.buf, "kept");
    uf_strbuf_free(&sb);
    uf_clickhouse_schema_free(&s);
}

#define RAW_ERROR(lit, msg) expect_raw_error(lit, sizeof(lit) - 1, msg)

static void test_raw_malformed(void **state)
{
    (void)state;
    RAW_ERROR("", "not JSON: empty input at byte 0");
    RAW_ERROR("not json 17", "not JSON: invalid token at byte 0");
    RAW_ERROR("[{\"type\":\"x\"}]", "not a JSON object");
    RAW_ERROR("{\"type\":\"x\"", "not JSON: expected ',' or '}' at byte 11");
    RAW_ERROR("{\"type\":\"x\"}}", "not JSON: end of input expected at byte 12");
    RAW_ERROR("{\"type\":\"\xff\"}", "not JSON: invalid UTF-8 at byte 9");
    RAW_ERROR("{\"type\":\"a\\u0000b\"}", "not JSON: \\u0000 is not allowed at byte 10");
    RAW_ERROR("{\"type\":\"a\\ud83d\"}", "not JSON: high surrogate without its low surrogate "
                                         "at byte 10");
    RAW_ERROR("{\"type\":\"a\nb\"}", "not JSON: control character in a string at byte 10");
    RAW_ERROR("{\"type\":\"x\",\"n\":1,\"type\":\"y\"}", "not JSON: duplicate object key 'type'");
    RAW_ERROR("{\"type\":\"x\",\"t\\u0079pe\":\"y\"}", "not JSON: duplicate object key 'type'");
    RAW_ERROR("{\"big\":9223372036854775808}", "not JSON: too big integer '9223372036854775808'");
    RAW_ERROR("{\"position_s\":1e400}", "not JSON: real number overflow '1e400'");
    RAW_ERROR("{\"props\":{\"a\":1,\"a\":2}}",
              "column 'props': not JSON: duplicate object key near '\"a\"'");
    /* The first bad column in table order wins, and nothing of the row is kept. */
    RAW_ERROR("{\"big\":\"x\",\"type\":\"ok\",\"n\":99999}",
              "column 'n': 99999 out of range for Int16");
    /* Text after a NUL byte is not ignored. */
    expect_raw_error("{\"type\":\"x\"}\0{", 14, "not JSON: end of input expected at byte 12");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cityhash_v102),
        cmocka_unit_test(test_block_framing),
        cmocka_unit_test(test_zstd_blocks_round_trip),
        cmocka_unit_test(test_rowbinary_row),
        cmocka_unit_test(test_row_errors),
        cmocka_unit_test(test_schema_errors),
        cmocka_unit_test(test_sql),
        cmocka_unit_test(test_parse_time),
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_retryable_codes_documented),
        cmocka_unit_test(test_raw_matches_parsed),
        cmocka_unit_test(test_raw_row_bytes),
        cmocka_unit_test(test_raw_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
