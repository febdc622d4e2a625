/* tests/test_jscan.c: the strict JSON object scanner: member spans and types, escapes decoded
 * (surrogate pairs, \u0000 refused), every refusal with its message and byte offset, and
 * agreement with jansson on a corpus of accepted and refused texts (the scanner must refuse
 * exactly what jansson refuses, duplicate keys and oversized integers aside); whole values and
 * arrays, duplicate keys refused at any depth (against jansson's JSON_REJECT_DUPLICATES),
 * looking members up by name, member spans, and members read as C strings and numbers; arrays
 * read item by item (uf_jscan_items), and what uf_jscan_check finds on the way (elements,
 * numbers jansson refuses). */
#include <setjmp.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "framework/jscan.h"

struct seen {
    struct uf_jmember m[8];
    size_t n;
};

static int collect(void *arg, const struct uf_jmember *m, struct uf_err *err)
{
    (void)err;
    struct seen *s = arg;
    if (s->n < 8)
        s->m[s->n++] = *m;
    return 0;
}

static void assert_span(const char *p, size_t n, const char *want)
{
    assert_int_equal(n, strlen(want));
    assert_memory_equal(p, want, n);
}

static void test_members(void **state)
{
    (void)state;
    const char *t = " {\"a\":\"x\\\"y\", \"b\" : -1.5e3,\"c\":{\"d\":[1,{}]},\"e\":true,"
                    "\"f\":null,\"g\":[],\"h\":0,\"k\\u0065y\":false} \n";
    struct seen s = { 0 };
    struct uf_err err = { 0 };
    assert_int_equal(uf_jscan_object(t, strlen(t), collect, &s, &err), 0);
    assert_int_equal(s.n, 8);
    assert_span(s.m[0].key, s.m[0].key_len, "a");
    assert_int_equal(s.m[0].type, UF_J_STRING);
    assert_span(s.m[0].val, s.m[0].val_len, "x\\\"y");
    assert_true(s.m[0].escaped);
    assert_int_equal(s.m[1].type, UF_J_NUMBER);
    assert_span(s.m[1].val, s.m[1].val_len, "-1.5e3");
    assert_false(s.m[1].integer);
    assert_int_equal(s.m[2].type, UF_J_OBJECT);
    assert_span(s.m[2].val, s.m[2].val_len, "{\"d\":[1,{}]}");
    assert_int_equal(s.m[3].type, UF_J_TRUE);
    assert_int_equal(s.m[4].type, UF_J_NULL);
    assert_int_equal(s.m[5].type, UF_J_ARRAY);
    assert_span(s.m[5].val, s.m[5].val_len, "[]");
    assert_true(s.m[6].integer);
    assert_true(s.m[7].key_escaped);
    assert_true(uf_jscan_key_is(&s.m[7], "key"));
    assert_false(uf_jscan_key_is(&s.m[7], "kez"));
    assert_false(uf_jscan_key_is(&s.m[0], "ab"));
}

static void test_unescape(void **state)
{
    (void)state;
    /* Every short escape, a 2- and a 3-byte BMP character, a surrogate pair (U+1F600), and raw
     * UTF-8 passed through. */
    const char *in = "\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\u20ac\\ud83d\\ude00\xc3\xa9";
    char out[64];
    size_t n = uf_jscan_unescape(in, strlen(in), out);
    const char want[] = "\"\\/\b\f\n\r\t\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xc3\xa9";
    assert_int_equal(n, sizeof(want) - 1);
    assert_memory_equal(out, want, n);
}

/* String members as C strings: plain ones copied (the text after them left out), escaped ones
 * decoded; the output is terminated either way. */
static void test_cstr(void **state)
{
    (void)state;
    const char *t = "{\"a\":\"plain\",\"b\":\"x\\\"\\u00e9\"}";
    const char *keys[] = { "a", "b" };
    struct uf_jmember m[2];
    assert_int_equal(uf_jscan_pick(t, strlen(t), keys, 2, m, NULL), 0);
    char out[16];
    memset(out, 'z', sizeof out);
    assert_int_equal(uf_jscan_cstr(&m[0], out), 5);
    assert_string_equal(out, "plain");
    memset(out, 'z', sizeof out);
    assert_int_equal(uf_jscan_cstr(&m[1], out), 4);
    assert_string_equal(out, "x\"\xc3\xa9");
}

/* Numbers read as jansson reads them; what jansson refuses (beyond int64 or a double) and
 * what is not a number reads as NAN. */
static void test_number(void **state)
{
    (void)state;
    char big[400] = "{\"long\":1.";
    memset(big + strlen(big), '5', 120);
    strcat(big, ",\"i\":-42,\"r\":2.5e3,\"tiny\":1e-400,\"huge\":1e400,"
                "\"i64\":9223372036854775807,\"over\":9223372036854775808,\"s\":\"1\"}");
    const char *keys[] = { "long", "i", "r", "tiny", "huge", "i64", "over", "s", "none" };
    struct uf_jmember m[9];
    assert_int_equal(uf_jscan_pick(big, strlen(big), keys, 9, m, NULL), 0);
    assert_true(uf_jscan_number(&m[0]) > 1.55 && uf_jscan_number(&m[0]) < 1.56);
    assert_true(uf_jscan_number(&m[1]) == -42.0);
    assert_true(uf_jscan_number(&m[2]) == 2500.0);
    assert_true(uf_jscan_number(&m[3]) == 0.0);
    assert_true(isnan(uf_jscan_number(&m[4])));
    assert_true(uf_jscan_number(&m[5]) == 9223372036854775807.0);
    assert_true(isnan(uf_jscan_number(&m[6])));
    assert_true(isnan(uf_jscan_number(&m[7])));
    assert_true(isnan(uf_jscan_number(&m[8])));
}

static void expect_refused(const char *t, size_t n, const char *msg)
{
    struct uf_err err = { 0 };
    assert_int_equal(uf_jscan_object(t, n, NULL, NULL, &err), UF_EINVAL);
    assert_string_equal(err.msg, msg);
}

#define REFUSED(lit, msg) expect_refused(lit, sizeof(lit) - 1, msg)

static void test_refusals(void **state)
{
    (void)state;
    REFUSED("", "not JSON: empty input at byte 0");
    REFUSED("not json 7", "not JSON: invalid token at byte 0");
    REFUSED("[1,2]", "not a JSON object");
    REFUSED("\"s\"", "not a JSON object");
    REFUSED("{\"a\":1} x", "not JSON: end of input expected at byte 8");
    REFUSED("{\"a\":1", "not JSON: expected ',' or '}' at byte 6");
    REFUSED("{\"a\" 1}", "not JSON: expected ':' at byte 5");
    REFUSED("{a:1}", "not JSON: expected a string key at byte 1");
    REFUSED("{\"a\":1,}", "not JSON: expected a string key at byte 7");
    REFUSED("{\"a\":01}", "not JSON: invalid number at byte 5");
    REFUSED("{\"a\":1.}", "not JSON: invalid number at byte 5");
    REFUSED("{\"a\":-}", "not JSON: invalid number at byte 5");
    REFUSED("{\"a\":1e}", "not JSON: invalid number at byte 5");
    REFUSED("{\"a\":+1}", "not JSON: invalid token at byte 5");
    REFUSED("{\"a\":tru}", "not JSON: invalid token at byte 5");
    REFUSED("{\"a\":\"x", "not JSON: unterminated string at byte 7");
    REFUSED("{\"a\":\"\\x\"}", "not JSON: invalid escape at byte 6");
    REFUSED("{\"a\":\"\\u12\"}", "not JSON: invalid \\u escape at byte 6");
    REFUSED("{\"a\":\"\\u0000\"}", "not JSON: \\u0000 is not allowed at byte 6");
    REFUSED("{\"a\":\"\\udc00\"}", "not JSON: lone low surrogate at byte 6");
    REFUSED("{\"a\":\"\\ud800x\"}", "not JSON: high surrogate without its low surrogate at byte 6");
    REFUSED("{\"a\":\"\x01\"}", "not JSON: control character in a string at byte 6");
    REFUSED("{\"a\":\"\xc3\"}", "not JSON: invalid UTF-8 at byte 6");
    REFUSED("{\"a\":\"\xc0\xaf\"}", "not JSON: invalid UTF-8 at byte 6");         /* overlong */
    REFUSED("{\"a\":\"\xed\xa0\x80\"}", "not JSON: invalid UTF-8 at byte 6");     /* surrogate */
    REFUSED("{\"a\":\"\xf4\x90\x80\x80\"}", "not JSON: invalid UTF-8 at byte 6"); /* > U+10FFFF */
    REFUSED("{\"a\":[1 2]}", "not JSON: expected ',' or ']' at byte 8");
    REFUSED("{\"a\":{\"b\"}}", "not JSON: expected ':' at byte 9");
    /* A NUL byte inside the text is not whitespace. */
    expect_refused("{\"a\":1}\0", 8, "not JSON: end of input expected at byte 7");
    /* The nesting limit is jansson's (2048). */
    char deep[4200];
    size_t n = 0;
    n += (size_t)sprintf(deep, "{\"a\":");
    for (int i = 0; i < 2048; i++)
        deep[n++] = '[';
    deep[n] = '\0';
    struct uf_err err = { 0 };
    assert_int_equal(uf_jscan_object(deep, n, NULL, NULL, &err), UF_EINVAL);
    assert_string_equal(err.msg, "not JSON: maximum parsing depth reached at byte 2052");
}

static int stop_at_b(void *arg, const struct uf_jmember *m, struct uf_err *err)
{
    (void)arg;
    if (uf_jscan_key_is(m, "b"))
        return uf_err_set(err, UF_EINVAL, "b is not wanted");
    return 0;
}

static void test_callback_stops(void **state)
{
    (void)state;
    struct uf_err err = { 0 };
    const char *t = "{\"a\":1,\"b\":2,\"c\":3}";
    assert_int_equal(uf_jscan_object(t, strlen(t), stop_at_b, NULL, &err), UF_EINVAL);
    assert_string_equal(err.msg, "b is not wanted");
}

/* The scanner and jansson agree on what is a JSON object. */
/* uf_jscan_value with unique_keys refuses exactly what json_loadb(JSON_REJECT_DUPLICATES)
 * refuses, at any depth, for small and big objects and escaped keys. */
static void test_value_unique_keys(void **state)
{
    (void)state;
    char big[4096], bigdup[4096];
    size_t o = 0, d = 0;
    o += (size_t)snprintf(big + o, sizeof big - o, "[{");
    d += (size_t)snprintf(bigdup + d, sizeof bigdup - d, "{\"x\":{");
    for (int i = 0; i < 40; i++) {
        o += (size_t)snprintf(big + o, sizeof big - o, "%s\"k%d\":%d", i ? "," : "", i, i);
        d += (size_t)snprintf(bigdup + d, sizeof bigdup - d, "%s\"k%d\":%d", i ? "," : "",
                              i == 37 ? 3 : i, i);
    }
    snprintf(big + o, sizeof big - o, "}]");
    snprintf(bigdup + d, sizeof bigdup - d, "}}");
    const char *const corpus[] = {
        "{\"a\":1,\"b\":2}",
        "{\"a\":1,\"a\":2}",
        "{\"a\":{\"b\":1,\"b\":1}}",
        "[{\"a\":1},{\"a\":1}]",
        "[{\"a\":1,\"b\":[{\"c\":1,\"c\":2}]}]",
        "{\"a\":1,\"\\u0061\":2}",
        "{\"ab\":1,\"a\":2,\"a\\u0062\":3}",
        "{\"a\":1,\"A\":2}",
        "{\"\":1,\"\":2}",
        big,
        bigdup,
        "\"s\"",
        " 12 ",
        "[1,2",
        "{\"a\":1} x",
    };
    for (size_t i = 0; i < sizeof(corpus) / sizeof(corpus[0]); i++) {
        json_error_t je;
        json_t *j =
            json_loadb(corpus[i], strlen(corpus[i]), JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
        bool want = j != NULL;
        json_decref(j);
        struct uf_err err = { 0 };
        struct uf_jmember m;
        bool got = uf_jscan_value(corpus[i], strlen(corpus[i]), true, &m, &err) == 0;
        if (got != want)
            fail_msg("'%s': jansson %s, jscan %s (%s)", corpus[i], want ? "accepts" : "refuses",
                     got ? "accepts" : "refuses", err.msg);
        if (!got && strstr(corpus[i], "\"a\":1,\"a\""))
            assert_non_null(strstr(err.msg, "duplicate object key"));
    }
    struct uf_err err = { 0 };
    assert_int_equal(uf_jscan_value("{\"a\":1,\"a\":2}", 13, false, NULL, &err), 0);
    struct uf_jmember m;
    assert_int_equal(uf_jscan_value(" [1, {\"a\":2}] ", 14, true, &m, &err), 0);
    assert_int_equal(m.type, UF_J_ARRAY);
    assert_span(m.val, m.val_len, "[1, {\"a\":2}]");
    assert_int_equal(uf_jscan_value(" \"x\" ", 5, true, &m, &err), 0);
    assert_span(m.val, m.val_len, "\"x\"");
}

static void test_array_elements(void **state)
{
    (void)state;
    struct seen s = { .n = 0 };
    struct uf_err err = { 0 };
    const char *t = " [ {\"a\":1} ,\"x\", [2] ,3] ";
    assert_int_equal(uf_jscan_array(t, strlen(t), collect, &s, &err), 0);
    assert_int_equal(s.n, 4);
    assert_null(s.m[0].key);
    assert_int_equal(s.m[0].type, UF_J_OBJECT);
    assert_span(s.m[0].val, s.m[0].val_len, "{\"a\":1}");
    assert_int_equal(s.m[1].type, UF_J_STRING);
    assert_span(s.m[1].val, s.m[1].val_len, "x");
    assert_int_equal(s.m[3].index, 3);
    const char *span;
    size_t len;
    uf_jmember_span(&s.m[1], &span, &len);
    assert_span(span, len, "\"x\"");
    s.n = 0;
    assert_int_equal(uf_jscan_array("[]", 2, collect, &s, &err), 0);
    assert_int_equal(s.n, 0);
    assert_int_equal(uf_jscan_array("{}", 2, collect, &s, &err), UF_EINVAL);
    assert_string_equal(err.msg, "not a JSON array");
    assert_int_equal(uf_jscan_array("[1,]", 4, collect, &s, &err), UF_EINVAL);
    assert_int_equal(uf_jscan_array("[1] 2", 5, collect, &s, &err), UF_EINVAL);
}

static void test_pick(void **state)
{
    (void)state;
    assert_int_equal(uf_jscan_first(" \t\r\n[1]", 7), '[');
    assert_int_equal(uf_jscan_first("{}", 2), '{');
    assert_int_equal(uf_jscan_first(" \n", 2), '\0');
    assert_int_equal(uf_jscan_first("[", 0), '\0');
    /* integers as jansson reads them: 64 bits, no fraction or exponent */
    static const char *const nums = "{\"a\":-9223372036854775808,\"b\":9223372036854775808,"
                                    "\"c\":7.0,\"d\":1e2,\"e\":\"7\",\"f\":42}";
    static const char *const nk[] = { "a", "b", "c", "d", "e", "f" };
    struct uf_jmember nm[6];
    struct uf_err nerr = { 0 };
    assert_int_equal(uf_jscan_pick(nums, strlen(nums), nk, 6, nm, &nerr), 0);
    int64_t iv = 0;
    assert_true(uf_jscan_integer(&nm[0], &iv) && iv == INT64_MIN);
    assert_false(uf_jscan_integer(&nm[1], &iv)); /* beyond 64 bits */
    assert_false(uf_jscan_integer(&nm[2], &iv)); /* a real */
    assert_false(uf_jscan_integer(&nm[3], &iv));
    assert_false(uf_jscan_integer(&nm[4], &iv)); /* a string */
    assert_true(uf_jscan_integer(&nm[5], &iv) && iv == 42);
    assert_true(isnan(uf_jscan_number(&nm[1])));
    assert_true(uf_jscan_number(&nm[3]) == 100.0);
    /* a string borrowed from the text, or decoded into a copy of its own when escaped */
    static const char *const strs = "{\"p\":\"plain\",\"q\":\"a\\\"b\"}";
    static const char *const sk[] = { "p", "q" };
    struct uf_jmember sm[2];
    assert_int_equal(uf_jscan_pick(strs, strlen(strs), sk, 2, sm, &nerr), 0);
    char *own = NULL;
    size_t slen;
    const char *sv = uf_jscan_str(&sm[0], &own, &slen);
    assert_ptr_equal(sv, sm[0].val);
    assert_null(own);
    sv = uf_jscan_str(&sm[1], &own, &slen);
    assert_ptr_equal(sv, own);
    assert_int_equal(slen, 3);
    assert_string_equal(sv, "a\"b");
    free(own);
    const char *t = "{\"type\":\"a.b\", \"n\" : 5,\"props\":{\"type\":\"no\"},\"t\\u0079pe2\":1}";
    static const char *const keys[] = { "props", "type", "missing", "type2" };
    struct uf_jmember out[4];
    struct uf_err err = { 0 };
    assert_int_equal(uf_jscan_pick(t, strlen(t), keys, 4, out, &err), 0);
    assert_span(out[0].val, out[0].val_len, "{\"type\":\"no\"}");
    assert_span(out[1].val, out[1].val_len, "a.b");
    assert_null(out[2].key);
    assert_int_equal(out[3].type, UF_J_NUMBER);
    assert_int_equal(out[1].index, 0);
    assert_int_equal(out[0].index, 2);
    const char *span;
    size_t len;
    uf_jmember_span(&out[1], &span, &len);
    assert_span(span, len, "\"type\":\"a.b\"");
    struct seen s = { .n = 0 };
    assert_int_equal(uf_jscan_object(t, strlen(t), collect, &s, &err), 0);
    uf_jmember_span(&s.m[1], &span, &len);
    assert_span(span, len, "\"n\" : 5");
    assert_int_equal(uf_jscan_pick("[1]", 3, keys, 4, out, &err), UF_EINVAL);
}

/* Trusted scans report what strict scans report on valid text: the same members, spans, types
 * and flags; on any text at all (valid or mutated bytes) they stay within bounds (the sanitizer
 * build checks the reads) and never report a span outside the text. */
struct all {
    struct uf_jmember m[64];
    size_t n;
};

static int collect_all(void *arg, const struct uf_jmember *m, struct uf_err *err)
{
    (void)err;
    struct all *a = arg;
    if (a->n < 64)
        a->m[a->n++] = *m;
    return 0;
}

static void assert_same_members(const struct all *a, const struct all *b)
{
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        const struct uf_jmember *x = &a->m[i], *y = &b->m[i];
        assert_ptr_equal(x->key, y->key);
        assert_int_equal(x->key_len, y->key_len);
        assert_int_equal(x->key_escaped, y->key_escaped);
        assert_int_equal(x->type, y->type);
        assert_ptr_equal(x->val, y->val);
        assert_int_equal(x->val_len, y->val_len);
        assert_int_equal(x->escaped, y->escaped);
        assert_int_equal(x->integer, y->integer);
        assert_int_equal(x->index, y->index);
    }
}

static void assert_within(const char *t, size_t n, const struct all *a)
{
    for (size_t i = 0; i < a->n; i++) {
        assert_true(a->m[i].val >= t && a->m[i].val + a->m[i].val_len <= t + n);
        if (a->m[i].key)
            assert_true(a->m[i].key >= t && a->m[i].key + a->m[i].key_len <= t + n);
    }
}

static void test_trusted_agrees(void **state)
{
    (void)state;
    static const char *const valid[] = {
        "{}",
        " {\"a\":\"x\\\"y\\\\\", \"b\" : -1.5e3,\"c\":{\"d\":[1,{\"e\":\"]}\"}]},\"f\":true}",
        "{\"k\\u0065y\":false,\"n\":null,\"i\":-0,\"r\":1E+2,\"u\":\"\\u00e9\xe2\x82\xac\"}",
        "{\"long\":\"0123456789abcdef0123456789abcdef\\n\",\"arr\":[[],[[]],\"[\",\"{\"]} ",
        "{\"type\":\"movie.card.click\",\"props\":{\"source\":\"home\",\"row\":\"3\",\"position\":"
        "7},"
        "\"anonymous_id\":\"a-1\",\"ts\":\"2026-11-29T12:00:00.000Z\"}",
    };
    for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
        size_t n = strlen(valid[i]);
        struct all a = { .n = 0 }, b = { .n = 0 };
        struct uf_err err = { 0 };
        assert_int_equal(uf_jscan_object(valid[i], n, collect_all, &a, &err), 0);
        assert_int_equal(uf_jscan_object_trusted(valid[i], n, collect_all, &b, &err), 0);
        assert_same_members(&a, &b);
        /* the same text as the one element of an array */
        char arr[512];
        snprintf(arr, sizeof arr, "[%s, 5, \"s\"]", valid[i]);
        a.n = b.n = 0;
        assert_int_equal(uf_jscan_array(arr, strlen(arr), collect_all, &a, &err), 0);
        assert_int_equal(uf_jscan_array_trusted(arr, strlen(arr), collect_all, &b, &err), 0);
        assert_same_members(&a, &b);
        a.n = b.n = 0;
        assert_int_equal(uf_jscan_items(arr, strlen(arr), collect_all, &a, &err), 0);
        assert_int_equal(uf_jscan_items_trusted(arr, strlen(arr), collect_all, &b, &err), 0);
        assert_same_members(&a, &b);
    }
    const char *t = valid[4];
    static const char *const keys[] = { "props", "ts", "nope", "type" };
    struct uf_jmember x[4], y[4];
    struct uf_err err = { 0 };
    assert_int_equal(uf_jscan_pick(t, strlen(t), keys, 4, x, &err), 0);
    assert_int_equal(uf_jscan_pick_trusted(t, strlen(t), keys, 4, y, &err), 0);
    for (size_t i = 0; i < 4; i++) {
        assert_ptr_equal(x[i].key, y[i].key);
        assert_ptr_equal(x[i].val, y[i].val);
        assert_int_equal(x[i].val_len, y[i].val_len);
    }
}

static void test_trusted_stays_in_bounds(void **state)
{
    (void)state;
    const char *seed =
        "{\"a\":\"x\\\"y\",\"b\":[1,{\"c\":\"]\"}],\"d\":-1.5e3,\"e\":true,\"f\":null,"
        "\"k\\u0065y\":\"\\ud83d\\ude00\"}";
    size_t n = strlen(seed);
    unsigned rng = 12345;
    static const char bytes[] = "{}[]\",:\\ 0-euqd8";
    static const char *const names[] = { "a", "key", "f" };
    for (int round = 0; round < 20000; round++) {
        char *t = malloc(n); /* exact size: the sanitizer sees a read past it */
        memcpy(t, seed, n);
        size_t len = n;
        for (int k = 0; k < 3; k++) {
            rng = rng * 1103515245u + 12345u;
            size_t at = (rng >> 8) % n;
            rng = rng * 1103515245u + 12345u;
            t[at] = bytes[(rng >> 8) % (sizeof bytes - 1)];
        }
        rng = rng * 1103515245u + 12345u;
        if (rng % 4 == 0)
            len = (rng >> 8) % n; /* truncated too */
        struct all a = { .n = 0 };
        struct uf_err err = { 0 };
        uf_jscan_object_trusted(t, len, collect_all, &a, &err);
        assert_within(t, len, &a);
        a.n = 0;
        uf_jscan_array_trusted(t, len, collect_all, &a, &err);
        assert_within(t, len, &a);
        a.n = 0;
        uf_jscan_items_trusted(t, len, collect_all, &a, &err);
        assert_within(t, len, &a);
        struct uf_jmember picked[3]; /* names compared through escapes, values decoded */
        if (uf_jscan_pick_trusted(t, len, names, 3, picked, &err) == 0) {
            for (size_t i = 0; i < 3; i++) {
                if (!picked[i].key)
                    continue;
                char *out = malloc(picked[i].val_len + 1);
                uf_jscan_unescape(picked[i].val, picked[i].val_len, out);
                free(out);
            }
        }
        free(t);
    }
}

/* uf_jscan_items: an object element's members, then the element; other elements alone. */
static void test_items_reports(void **state)
{
    (void)state;
    const char *t = " [ {\"a\":1, \"b\":{\"c\":2}} ,\"x\", {}, [2] ,3] ";
    struct all a = { .n = 0 }, b = { .n = 0 };
    struct uf_err err = { 0 };
    assert_int_equal(uf_jscan_items(t, strlen(t), collect_all, &a, &err), 0);
    assert_int_equal(a.n, 7);
    assert_span(a.m[0].key, a.m[0].key_len, "a");
    assert_int_equal(a.m[0].index, 0);
    assert_span(a.m[1].key, a.m[1].key_len, "b");
    assert_span(a.m[1].val, a.m[1].val_len, "{\"c\":2}");
    assert_int_equal(a.m[1].index, 1);
    assert_null(a.m[2].key);
    assert_int_equal(a.m[2].type, UF_J_OBJECT);
    assert_span(a.m[2].val, a.m[2].val_len, "{\"a\":1, \"b\":{\"c\":2}}");
    assert_int_equal(a.m[2].index, 0);
    assert_int_equal(a.m[3].type, UF_J_STRING);
    assert_span(a.m[3].val, a.m[3].val_len, "x");
    assert_int_equal(a.m[4].type, UF_J_OBJECT);
    assert_span(a.m[4].val, a.m[4].val_len, "{}");
    assert_int_equal(a.m[4].index, 2);
    assert_int_equal(a.m[5].type, UF_J_ARRAY);
    assert_int_equal(a.m[6].index, 4);
    assert_int_equal(uf_jscan_items_trusted(t, strlen(t), collect_all, &b, &err), 0);
    assert_same_members(&a, &b);
    a.n = 0;
    assert_int_equal(uf_jscan_items(" [ ] ", 5, collect_all, &a, &err), 0);
    assert_int_equal(a.n, 0);
}

/* The strict uf_jscan_items refuses what uf_jscan_array refuses, with the same message. */
static void test_items_refusals(void **state)
{
    (void)state;
    static const char *const corpus[] = {
        "[1,]",
        "[1] 2",
        "{}",
        "\"s\"",
        "",
        "  ",
        "[",
        "[{",
        "[{\"a\"",
        "[{\"a\":}]",
        "[{\"a\":1,}]",
        "[{\"a\":1 \"b\":2}]",
        "[{\"a\":\"\xff\"}]",
        "[{1:2}]",
        "[{\"a\":1}}",
        "[{\"a\":[1,]}]",
        "[{\"a\":1},]",
        "[{\"a\":\"\\ud800\"}]",
        "[{\"a\":01}]",
        "[{},{}",
        "[{\"a\":1,\"a\":2}]",
        "[{\"a\":tru}]",
        "[{\"a\":1}] {}",
    };
    for (size_t i = 0; i < sizeof(corpus) / sizeof(corpus[0]); i++) {
        struct uf_err ea = { 0 }, eb = { 0 };
        size_t n = strlen(corpus[i]);
        int ra = uf_jscan_array(corpus[i], n, NULL, NULL, &ea);
        int rb = uf_jscan_items(corpus[i], n, NULL, NULL, &eb);
        if (ra != rb || strcmp(ea.msg, eb.msg) != 0)
            fail_msg("'%s': array %d '%s', items %d '%s'", corpus[i], ra, ea.msg, rb, eb.msg);
    }
    /* nesting is counted from the array, as jansson counts it: 2048 levels pass, 2049 do not */
    size_t deep = 2048, len = 0;
    char *t = malloc(2 * deep + 16);
    len += (size_t)sprintf(t, "[{\"a\":");
    for (int round = 0; round < 2; round++, deep++, len = 6) {
        memset(t + len, '[', deep - 2);
        memset(t + len + deep - 2, ']', deep - 2);
        memcpy(t + len + 2 * (deep - 2), "}]", 2);
        len += 2 * (deep - 2) + 2;
        json_t *j = json_loadb(t, len, 0, NULL);
        int want = j ? 0 : UF_EINVAL;
        json_decref(j);
        assert_int_equal(want, round == 0 ? 0 : UF_EINVAL);
        struct uf_err err = { 0 };
        assert_int_equal(uf_jscan_array(t, len, NULL, NULL, &err), want);
        assert_int_equal(uf_jscan_items(t, len, NULL, NULL, &err), want);
    }
    free(t);
}

static int stop_at(void *arg, const struct uf_jmember *m, struct uf_err *err)
{
    (void)err;
    size_t *left = arg;
    (void)m;
    return --*left == 0 ? 7 : 0;
}

/* A non-zero return, from a member or an element, stops the scan and is returned. */
static void test_items_stop(void **state)
{
    (void)state;
    const char *t = "[{\"a\":1,\"b\":2},{\"c\":3},5]";
    for (size_t at = 1; at <= 6; at++) {
        size_t left = at;
        struct uf_err err = { 0 };
        assert_int_equal(uf_jscan_items(t, strlen(t), stop_at, &left, &err), 7);
        left = at;
        assert_int_equal(uf_jscan_items_trusted(t, strlen(t), stop_at, &left, &err), 7);
    }
    size_t left = 7; /* six reports: never stopped */
    assert_int_equal(uf_jscan_items(t, strlen(t), stop_at, &left, NULL), 0);
    assert_int_equal(left, 1);
}

/* uf_jscan_check: the top-level array's elements, and the numbers jansson refuses (told, with
 * jansson's words, in text order, numbers inside strings aside). */
static void test_check(void **state)
{
    (void)state;
    struct uf_jcheck c = { .unique_keys = true, .numbers = true };
    struct uf_err err = { 0 };
    const char *t = " [{\"a\":1}, 2, {}, [], {\"s\":\"99999999999999999999\"}] ";
    assert_int_equal(uf_jscan_check(t, strlen(t), &c, &err), 0);
    assert_int_equal(c.value.type, UF_J_ARRAY);
    assert_ptr_equal(c.value.val, t + 1);
    assert_int_equal(c.value.val_len, strlen(t) - 2);
    assert_int_equal(c.elements, 5);
    assert_int_equal(c.non_object, 1);
    assert_null(c.bad_number);
    assert_int_equal(uf_jscan_check("{\"a\":[1]}", 9, &c, &err), 0);
    assert_int_equal(c.elements, 0);
    assert_int_equal(c.non_object, SIZE_MAX);
    assert_int_equal(uf_jscan_check("[]", 2, &c, &err), 0);
    assert_int_equal(c.elements, 0);
    assert_int_equal(uf_jscan_check("[{\"a\":1,\"a\":2}]", 15, &c, &err), UF_EINVAL);
    assert_string_equal(err.msg, "not JSON: duplicate object key at byte 12");
    t = "[{\"a\":1e400,\"b\":-99999999999999999999}]";
    assert_int_equal(uf_jscan_check(t, strlen(t), &c, &err), 0);
    assert_int_equal(c.bad_number - t, 6);
    assert_string_equal(c.bad_number_why, "real number overflow");
    c.numbers = false;
    assert_int_equal(uf_jscan_check(t, strlen(t), &c, &err), 0);
    assert_null(c.bad_number);
    c.numbers = true;
    static const char *const numbers[] = {
        "9223372036854775807",
        "9223372036854775808",
        "-9223372036854775808",
        "-9223372036854775809",
        "123456789012345678",
        "1e308",
        "1e309",
        "-1e309",
        "1e-400",
        "0.000000000000000000000000000001",
        "1.5E+3",
        "99999999999999999999.0",
        "0",
        "179769313486231570000000000000000000000000000000000000000000000000000000000000000000000"
        "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
        "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
        "000000000000000000000000000000000000000000000000000000000000000.0",
    };
    for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++) {
        char text[512];
        int n = snprintf(text, sizeof text, "{\"x\":[%s]}", numbers[i]);
        json_error_t je;
        json_t *j = json_loadb(text, (size_t)n, 0, &je);
        assert_int_equal(uf_jscan_check(text, (size_t)n, &c, &err), 0);
        if ((j == NULL) != (c.bad_number != NULL))
            fail_msg("%s: jansson %s, jscan %s", numbers[i], j ? "takes" : je.text,
                     c.bad_number_why ? c.bad_number_why : "takes");
        if (c.bad_number) {
            assert_int_equal(c.bad_number - text, 6);
            assert_memory_equal(c.bad_number_why, je.text, strlen(c.bad_number_why)); /* "near" */
        }
        json_decref(j);
    }
}

/* A big object of escaped keys goes through the sorted check (each key decoded once, then
 * compared as bytes): unique keys pass, and a key equal to another only once decoded (a5 and
 * \u00615) is found. */
static void test_unique_escaped_keys_big(void **state)
{
    (void)state;
    size_t nkeys = 20000, cap = nkeys * 32 + 16;
    char *t = malloc(cap);
    for (int dup = 0; dup < 2; dup++) {
        size_t o = 0;
        t[o++] = '{';
        for (size_t i = 0; i < nkeys; i++) {
            if (dup && i == nkeys - 1)
                o += (size_t)snprintf(t + o, cap - o, ",\"a5\":0");
            else
                o += (size_t)snprintf(t + o, cap - o, "%s\"\\u0061%zu\":0", i ? "," : "", i);
        }
        t[o++] = '}';
        struct uf_err err = { 0 };
        assert_int_equal(uf_jscan_value(t, o, true, NULL, &err), dup ? UF_EINVAL : 0);
        if (dup)
            assert_non_null(strstr(err.msg, "duplicate object key"));
    }
    free(t);
}

static void test_agrees_with_jansson(void **state)
{
    (void)state;
    static const char *const corpus[] = {
        "{}",
        " { } ",
        "{\"a\":[]}",
        "{\"a\":[1,[2,[3]],{\"b\":{}}]}",
        "{\"a\":-0}",
        "{\"a\":0.5e-7}",
        "{\"a\":1E+2}",
        "{\"a\":\"\\ud83d\\ude00\"}",
        "{\"\":\"\"}",
        "{\"a\":\"\xe2\x82\xac\xf0\x9f\x98\x80\"}",
        "{\"a\":\"\\u00e9\"}",
        "{\"a\":1}\n\t\r ",
        "{\"a\":.5}",
        "{\"a\":00}",
        "{\"a\":\"\\ud800\"}",
        "{\"a\":\"\xff\"}",
        "{\"a\":'x'}",
        "{\"a\":nul}",
        "{\"a\":1,,}",
        "{\"a\"::1}",
        "{\"a\":[,]}",
        "{\"a\":[1,]}",
        "{,}",
        "{\"a\":\"\\U0041\"}",
        "{\"a\":1}{}",
        "\xef\xbb\xbf{}",
        "{\"a\":\"\t\"}",
        "[]",
        "1",
        "{\"a\":\"\xe0\x80\xaf\"}",
        "{\"a\":\"\xf0\x8f\xbf\xbf\"}",
        "{\"a\":-01}",
        "{\"a\":1.5e}",
    };
    for (size_t i = 0; i < sizeof(corpus) / sizeof(corpus[0]); i++) {
        json_error_t je;
        json_t *j = json_loadb(corpus[i], strlen(corpus[i]), 0, &je);
        bool want = j && json_is_object(j);
        json_decref(j);
        struct uf_err err = { 0 };
        bool got = uf_jscan_object(corpus[i], strlen(corpus[i]), NULL, NULL, &err) == 0;
        if (got != want)
            fail_msg("'%s': jansson %s, jscan %s (%s)", corpus[i], want ? "accepts" : "refuses",
                     got ? "accepts" : "refuses", err.msg);
    }
}

/* A member list keeps every member in order past its inline 32 (onto the heap and growing
 * there), and is empty again once freed. */
static void test_member_list_grows(void **state)
{
    (void)state;
    struct uf_jmembers l;
    uf_jmembers_init(&l);
    for (size_t i = 0; i < 100; i++)
        *uf_jmembers_add(&l) = (struct uf_jmember){ .index = i };
    assert_int_equal(l.n, 100);
    assert_ptr_not_equal(l.m, l.few);
    for (size_t i = 0; i < l.n; i++)
        assert_int_equal(l.m[i].index, i);
    uf_jmembers_free(&l);
    assert_int_equal(l.n, 0);
    assert_ptr_equal(l.m, l.few);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_members),
        cmocka_unit_test(test_unescape),
        cmocka_unit_test(test_cstr),
        cmocka_unit_test(test_number),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_callback_stops),
        cmocka_unit_test(test_agrees_with_jansson),
        cmocka_unit_test(test_value_unique_keys),
        cmocka_unit_test(test_array_elements),
        cmocka_unit_test(test_pick),
        cmocka_unit_test(test_unique_escaped_keys_big),
        cmocka_unit_test(test_trusted_agrees),
        cmocka_unit_test(test_trusted_stays_in_bounds),
        cmocka_unit_test(test_items_reports),
        cmocka_unit_test(test_items_refusals),
        cmocka_unit_test(test_items_stop),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_member_list_grows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
