/* lg_http.c: the request writer and reply parser of `ugcflow loadgen` (see lg_http.h). The parser
 * reads a reply again from its first byte each time more bytes arrive: replies are small, and a
 * stateless parser has no partial states to get wrong. A chunked body is first walked without
 * writing, and decoded in place only once it is complete. */
#include "bench/loadgen/lg_http.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bench/loadgen/lg_text.h"
#include "bench/loadgen/lg_workload.h"

bool uf_lg_target_parse(const char *url, struct uf_lg_target *t, char *err, size_t errlen)
{
    static const char *const hosts[] = { "http://127.0.0.1:", "http://localhost:" };
    const char *p = NULL;
    for (size_t i = 0; i < 2 && !p; i++)
        if (strncmp(url, hosts[i], strlen(hosts[i])) == 0)
            p = url + strlen(hosts[i]);
    if (!p)
        return snprintf(err, errlen,
                        "'%s': expected http://127.0.0.1:PORT/PATH (the load "
                        "generator only sends to this machine)",
                        url),
               false;
    char *end;
    long port = strtol(p, &end, 10);
    if (end == p || port < 1 || port > 65535 || (*end && *end != '/'))
        return snprintf(err, errlen, "'%s': expected a port from 1 to 65535", url), false;
    size_t n = strlen(end);
    while (n > 0 && end[n - 1] == '/')
        n--;
    if (n >= sizeof t->base || strpbrk(end, " \r\n?#"))
        return snprintf(err, errlen, "'%s': the path must be a plain path under 127 bytes", url),
               false;
    t->port = (uint16_t)port;
    snprintf(t->host, sizeof t->host, "127.0.0.1:%ld", port);
    memcpy(t->base, end, n);
    t->base[n] = '\0';
    return true;
}

void uf_lg_http_write(struct uf_strbuf *out, const struct uf_lg_target *t,
                      const struct uf_lg_request *req)
{
    uf_lg_put(out, req->method, " ", t->base, req->path, " HTTP/1.1\r\nHost: ", t->host,
              "\r\nUser-Agent: ugcflow-loadgen\r\n", NULL);
    if (req->token)
        uf_lg_put(out, "Authorization: Bearer ", req->token, "\r\n", NULL);
    if (req->request_id[0])
        uf_lg_put(out, "X-Request-Id: ", req->request_id, "\r\n", NULL);
    if (req->body.len) {
        uf_lg_put(out, "Content-Type: application/json\r\nContent-Length: ", NULL);
        uf_lg_put_u64(out, req->body.len);
        uf_lg_put(out, "\r\n\r\n", NULL);
        uf_strbuf_append(out, req->body.buf, req->body.len);
    } else if (strcmp(req->method, "GET") && strcmp(req->method, "DELETE")) {
        uf_strbuf_puts(out, "Content-Length: 0\r\n\r\n");
    } else {
        uf_strbuf_puts(out, "\r\n");
    }
}

/* Whether the header value v (n bytes) holds the token word, case-insensitively. */
static bool has_token(const char *v, size_t n, const char *word)
{
    size_t w = strlen(word);
    for (size_t i = 0; i + w <= n; i++)
        if (strncasecmp(v + i, word, w) == 0)
            return true;
    return false;
}

struct head {
    long long clen; /* -1: none */
    bool chunked;
};

/* One header line [p, e): picks the headers the generator needs. */
static int header_line(const char *p, const char *e, struct uf_lg_reply *r, struct head *h)
{
    const char *colon = memchr(p, ':', (size_t)(e - p));
    if (!colon)
        return -1;
    size_t nlen = (size_t)(colon - p);
    const char *v = colon + 1;
    while (v < e && (*v == ' ' || *v == '\t'))
        v++;
    size_t vlen = (size_t)(e - v);
    if (nlen == 14 && strncasecmp(p, "Content-Length", 14) == 0) {
        char *end;
        h->clen = strtoll(v, &end, 10);
        if (end == v || h->clen < 0 || h->clen > (long long)UF_LG_HTTP_MAX_REPLY)
            return -1;
    } else if (nlen == 17 && strncasecmp(p, "Transfer-Encoding", 17) == 0) {
        h->chunked = has_token(v, vlen, "chunked");
    } else if (nlen == 10 && strncasecmp(p, "Connection", 10) == 0) {
        r->close = has_token(v, vlen, "close")        ? true
                   : has_token(v, vlen, "keep-alive") ? false
                                                      : r->close;
    } else if (nlen == 8 && strncasecmp(p, "Event-Id", 8) == 0 && vlen < sizeof r->event_id) {
        memcpy(r->event_id, v, vlen);
        r->event_id[vlen] = '\0';
    }
    return 0;
}

/* The status line and headers, up to hend (the blank line's start). */
static int parse_head(const char *buf, const char *hend, struct uf_lg_reply *r, struct head *h)
{
    if (hend - buf < 12 || strncmp(buf, "HTTP/1.", 7) || !isdigit((unsigned char)buf[9]) ||
        !isdigit((unsigned char)buf[10]) || !isdigit((unsigned char)buf[11]))
        return -1;
    r->close = buf[7] == '0'; /* HTTP/1.0 closes unless it says keep-alive */
    r->status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
    const char *p = memchr(buf, '\n', (size_t)(hend - buf));
    while (p && p < hend) {
        p++;
        const char *e = memchr(p, '\r', (size_t)(hend - p) + 1);
        if (!e || e == p)
            break;
        if (header_line(p, e, r, h) < 0)
            return -1;
        p = memchr(e, '\n', (size_t)(hend - e) + 2);
    }
    return 0;
}

/* Walks a chunked body from p; returns its encoded length when complete, 0 when not, -1 when
 * malformed. With decode, also copies the data to out and sets *out_len. */
static long long walk_chunks(char *p, size_t n, bool decode, char *out, size_t *out_len)
{
    size_t i = 0, o = 0;
    for (int guard = 0; guard < 1 << 20; guard++) {
        char *nl = memchr(p + i, '\n', n - i);
        if (!nl)
            return 0;
        char *end;
        unsigned long long size = strtoull(p + i, &end, 16);
        if (end == p + i || size > UF_LG_HTTP_MAX_REPLY)
            return -1;
        i = (size_t)(nl - p) + 1;
        if (size == 0) { /* trailers (none expected) end with an empty line */
            char *blank = memmem(p + i - 2, n - i + 2, "\r\n\r\n", 4);
            return blank ? (long long)(blank - p) + 4 : 0;
        }
        if (n - i < size + 2)
            return 0;
        if (decode)
            memmove(out + o, p + i, size);
        o += size;
        i += size + 2;
        if (out_len)
            *out_len = o;
    }
    return -1;
}

int uf_lg_http_parse(char *buf, size_t len, bool eof, struct uf_lg_reply *r)
{
    *r = (struct uf_lg_reply){ 0 };
    char *hend = memmem(buf, len, "\r\n\r\n", 4);
    if (!hend)
        return len > UF_LG_HTTP_MAX_REPLY || eof ? -1 : 0;
    struct head h = { .clen = -1 };
    if (parse_head(buf, hend, r, &h) < 0)
        return -1;
    char *body = hend + 4;
    size_t avail = len - (size_t)(body - buf);
    r->body = body;
    if (r->status < 200 || r->status == 204 || r->status == 304) {
        r->consumed = (size_t)(body - buf);
        return r->status < 200 ? -1 : 1; /* no 100-continue is ever asked for */
    }
    if (h.chunked) {
        long long enc = walk_chunks(body, avail, false, NULL, NULL);
        if (enc <= 0)
            return enc < 0 || eof ? -1 : 0;
        walk_chunks(body, avail, true, body, &r->body_len);
        r->consumed = (size_t)(body - buf) + (size_t)enc;
        return 1;
    }
    if (h.clen >= 0) {
        if (avail < (size_t)h.clen)
            return eof ? -1 : 0;
        r->body_len = (size_t)h.clen;
        r->consumed = (size_t)(body - buf) + r->body_len;
        return 1;
    }
    if (!eof) /* no length: the body ends when the server closes */
        return len > UF_LG_HTTP_MAX_REPLY ? -1 : 0;
    r->body_len = avail;
    r->consumed = len;
    r->close = true;
    return 1;
}
