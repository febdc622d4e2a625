/* tests/test_lg_http.c: the loadgen's HTTP/1.1 byte for byte: the target URL (127.0.0.1 only),
 * the request writer, and the reply parser: Content-Length, chunked (decoded in place),
 * Connection: close, HTTP/1.0, Event-Id, a body ended by close, partial and malformed replies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "bench/loadgen/lg_http.h"
#include "bench/loadgen/lg_workload.h"

static void test_target(void **state)
{
    struct uf_lg_target t;
    char err[256];
    assert_true(uf_lg_target_parse("http://127.0.0.1:8081/api/v1/", &t, err, sizeof err));
    assert_int_equal(t.port, 8081);
    assert_string_equal(t.host, "127.0.0.1:8081");
    assert_string_equal(t.base, "/api/v1");
    assert_true(uf_lg_target_parse("http://localhost:80", &t, err, sizeof err));
    assert_string_equal(t.base, "");
    assert_false(uf_lg_target_parse("http://10.1.2.3:80/api", &t, err, sizeof err));
    assert_non_null(strstr(err, "only sends to this machine"));
    assert_false(uf_lg_target_parse("https://127.0.0.1:443/", &t, err, sizeof err));
    assert_false(uf_lg_target_parse("http://127.0.0.1:70000/", &t, err, sizeof err));
    assert_non_null(strstr(err, "expected a port from 1 to 65535"));
    assert_false(uf_lg_target_parse("http://127.0.0.1:80/a?b", &t, err, sizeof err));
}

static void test_write(void **state)
{
    struct uf_lg_target t;
    char err[64];
    assert_true(uf_lg_target_parse("http://127.0.0.1:8080/api/v1", &t, err, sizeof err));
    struct uf_lg_request req = { .method = "POST", .token = "tok", .request_id = "run1-7" };
    strcpy(req.path, "/events");
    uf_strbuf_puts(&req.body, "{\"type\":\"x\"}");
    struct uf_strbuf out = { 0 };
    uf_lg_http_write(&out, &t, &req);
    assert_string_equal(out.buf, "POST /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
                                 "User-Agent: ugcflow-loadgen\r\nAuthorization: Bearer tok\r\n"
                                 "X-Request-Id: run1-7\r\nContent-Type: application/json\r\n"
                                 "Content-Length: 12\r\n\r\n{\"type\":\"x\"}");
    struct uf_lg_request get = { .method = "GET" }, put = { .method = "PUT" };
    strcpy(get.path, "/favorites?limit=20");
    strcpy(put.path, "/favorites/m");
    uf_strbuf_reset(&out);
    uf_lg_http_write(&out, &t, &get);
    uf_lg_http_write(&out, &t, &put);
    assert_string_equal(out.buf, "GET /api/v1/favorites?limit=20 HTTP/1.1\r\nHost: 127.0.0.1:8080"
                                 "\r\nUser-Agent: ugcflow-loadgen\r\n\r\n"
                                 "PUT /api/v1/favorites/m HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
                                 "User-Agent: ugcflow-loadgen\r\nContent-Length: 0\r\n\r\n");
    uf_strbuf_free(&out);
    uf_lg_request_free(&req);
}

static int parse(const char *text, bool eof, struct uf_lg_reply *r, char *buf)
{
    strcpy(buf, text);
    return uf_lg_http_parse(buf, strlen(text), eof, r);
}

static void test_parse_lengths(void **state)
{
    char buf[512];
    struct uf_lg_reply r;
    const char *ok = "HTTP/1.1 202 Accepted\r\nContent-Length: 14\r\nEvent-Id: 0192-ab\r\n\r\n"
                     "{\"accepted\":1}";
    assert_int_equal(parse(ok, false, &r, buf), 1);
    assert_int_equal(r.status, 202);
    assert_false(r.close);
    assert_string_equal(r.event_id, "0192-ab");
    assert_int_equal(r.body_len, 14);
    assert_memory_equal(r.body, "{\"accepted\":1}", 14);
    assert_int_equal(r.consumed, strlen(ok));
    for (size_t n = 0; n < strlen(ok); n++) /* every prefix: more bytes needed */
        assert_int_equal(uf_lg_http_parse(buf, n, false, &r), 0);
    assert_int_equal(uf_lg_http_parse(buf, strlen(ok) - 1, true, &r), -1);
    assert_int_equal(parse("HTTP/1.1 503 Unavailable\r\ncontent-length: 0\r\nConnection: close"
                           "\r\n\r\n",
                           false, &r, buf),
                     1);
    assert_int_equal(r.status, 503);
    assert_true(r.close);
    assert_int_equal(parse("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi", false, &r, buf), 1);
    assert_true(r.close);
    assert_int_equal(parse("HTTP/1.1 204 No Content\r\n\r\n", false, &r, buf), 1);
    assert_int_equal(r.body_len, 0);
    assert_int_equal(parse("HTTP/1.1 200 OK\r\n\r\nuntil close", false, &r, buf), 0);
    assert_int_equal(parse("HTTP/1.1 200 OK\r\n\r\nuntil close", true, &r, buf), 1);
    assert_int_equal(r.body_len, 11);
    assert_true(r.close);
}

static void test_parse_chunked_and_bad(void **state)
{
    char buf[512];
    struct uf_lg_reply r;
    const char *ch = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\n";
    for (size_t n = 0; n < strlen(ch); n++) {
        strcpy(buf, ch);
        assert_int_equal(uf_lg_http_parse(buf, n, false, &r), 0);
    }
    assert_int_equal(parse(ch, false, &r, buf), 1);
    assert_int_equal(r.body_len, 12);
    assert_memory_equal(r.body, "hello, world", 12);
    assert_int_equal(r.consumed, strlen(ch));
    assert_int_equal(
        parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", false, &r, buf), -1);
    assert_int_equal(parse("SMTP ready\r\n\r\n", false, &r, buf), -1);
    assert_int_equal(parse("HTTP/1.1 2x0 OK\r\n\r\n", false, &r, buf), -1);
    assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: -3\r\n\r\n", false, &r, buf), -1);
    assert_int_equal(parse("HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", false, &r, buf), -1);
    assert_int_equal(parse("HTTP/1.1 100 Continue\r\n\r\n", false, &r, buf), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_target),
        cmocka_unit_test(test_write),
        cmocka_unit_test(test_parse_lengths),
        cmocka_unit_test(test_parse_chunked_and_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
