/* http_reply.c: builds and queues the `http` source's responses.
 * Every body is JSON; errors are {"error":{"code","message",...}}. The headers a status calls
 * for are added here, in one place: Allow for 405, `WWW-Authenticate: Bearer` for 401 (with
 * error="invalid_token" when a token was presented, RFC 6750 section 3), Retry-After for 503,
 * and the headers stages recorded (uf_event_reply_header). Runs on libmicrohttpd's threads only. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "framework/jsonenc.h"
#include "framework/metrics.h"
#include "sources/http/http_int.h"

/* Length of the valid UTF-8 sequence at p (1..4), or 0 when it is not one. */
static size_t utf8_len(const unsigned char *p)
{
    size_t n = p[0] < 0x80             ? 1
               : (p[0] & 0xe0) == 0xc0 ? 2
               : (p[0] & 0xf0) == 0xe0 ? 3
               : (p[0] & 0xf8) == 0xf0 ? 4
                                       : 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    return n;
}

/* Messages quote request text (paths, headers) that may be cut mid-character or not be UTF-8
 * at all; jansson refuses such strings, so they become '?' rather than an error without body. */
static void make_utf8(char *msg)
{
    unsigned char *p = (unsigned char *)msg;
    while (*p) {
        size_t n = utf8_len(p);
        if (n == 0) {
            *p++ = '?';
            continue;
        }
        p += n;
    }
}

json_t *http_error_body(const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    make_utf8(msg);
    return json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
}

static const char *error_code(const json_t *body)
{
    return json_string_value(json_object_get(json_object_get(body, "error"), "code"));
}

/* body: the reply's tree, for the error code of a 401; has_body: whether a body is sent. */
static void add_headers(struct MHD_Response *resp, int status, const json_t *body, bool has_body,
                        const struct http_reply_info *info)
{
    if (has_body)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    if (info->request_id && *info->request_id)
        MHD_add_response_header(resp, "X-Request-Id", info->request_id);
    if (status == 405 && info->allow)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, info->allow);
    if (status == 401) {
        const char *code = error_code(body);
        bool bad =
            code && (strcmp(code, "invalid_token") == 0 || strcmp(code, "token_expired") == 0);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                bad ? "Bearer error=\"invalid_token\"" : "Bearer");
    }
    if (status == 503 || status == 429) {
        char secs[24];
        snprintf(secs, sizeof(secs), "%lld", (long long)((info->retry_after_ms + 999) / 1000));
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, secs);
    }
    if (info->close)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    const char *name;
    json_t *value;
    json_object_foreach((json_t *)info->headers, name, value)
        MHD_add_response_header(resp, name, json_string_value(value));
}

enum MHD_Result http_send(struct MHD_Connection *conn, int status, json_t *body,
                          const struct http_reply_info *info)
{
    char *text = NULL;
    size_t len = 0;
    if (body && status != 204 && status != 304) {
        text = uf_jsonenc_dumps(body, &len);
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        len, text ? text : (char *)"", text ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    add_headers(resp, status, text ? body : NULL, text != NULL, info);
    enum MHD_Result rc = MHD_queue_response(conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    json_decref(body);
    return rc;
}

enum MHD_Result http_send_text(struct MHD_Connection *conn, int status, char *text, size_t len,
                               const struct http_reply_info *info)
{
    bool send = status != 204 && status != 304;
    struct MHD_Response *resp =
        send ? MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE)
             : MHD_create_response_from_buffer(0, (char *)"", MHD_RESPMEM_PERSISTENT);
    if (!send)
        free(text);
    add_headers(resp, status, NULL, send, info);
    enum MHD_Result rc = MHD_queue_response(conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return rc;
}

enum MHD_Result http_send_error(struct MHD_Connection *conn, int status, const char *code,
                                const char *msg, const struct http_reply_info *info)
{
    return http_send(conn, status, http_error_body(code, "%s", msg), info);
}

void http_count_status(struct http_route *route, int status)
{
    if (!route)
        return;
    atomic_fetch_add_explicit(route->m_requests, 1, memory_order_relaxed);
    if (status >= 400 && status < 500)
        atomic_fetch_add_explicit(route->m_client_errors, 1, memory_order_relaxed);
    else if (status >= 500)
        atomic_fetch_add_explicit(route->m_server_errors, 1, memory_order_relaxed);
    if (status == 504)
        atomic_fetch_add_explicit(route->m_timeouts, 1, memory_order_relaxed);
}
