/* lg_http.h: the HTTP/1.1 of `ugcflow loadgen`, kept apart from the sockets so it can be tested
 * byte for byte: the target (a base URL on 127.0.0.1 only: the generator never loads another
 * machine), the request writer, and a minimal reply parser (status line, Content-Length,
 * chunked bodies, Connection: close, the Event-Id header). Pure functions; no I/O. */
#ifndef UF_LG_HTTP_H
#define UF_LG_HTTP_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "framework/strbuf.h"

/* Largest reply kept (headers and body): bigger ones are protocol errors, not allocations. */
#define UF_LG_HTTP_MAX_REPLY (1u << 20)

struct uf_lg_target {
    uint16_t port;
    char host[32];  /* the Host header: "127.0.0.1:8081" */
    char base[128]; /* the path prefix without a trailing slash: "/api/v1" */
};

/* Parses "http://127.0.0.1:PORT/BASE" (or localhost); false with a reason in err otherwise. */
bool uf_lg_target_parse(const char *url, struct uf_lg_target *t, char *err, size_t errlen);

struct uf_lg_request;

/* Appends the request line, headers and body of req for t to out. */
void uf_lg_http_write(struct uf_strbuf *out, const struct uf_lg_target *t,
                      const struct uf_lg_request *req);

struct uf_lg_reply {
    int status;
    bool close;        /* the connection ends after this reply */
    char event_id[64]; /* the Event-Id header, empty when absent */
    const char *body;  /* within the parsed buffer (chunked bodies are decoded in place) */
    size_t body_len;
    size_t consumed; /* bytes of the buffer the reply took */
};

/* Parses the reply at the start of buf (len bytes; eof: the peer closed after them). Returns 1
 * when a whole reply is there (r filled), 0 when more bytes are needed, -1 when malformed.
 * Modifies buf only when a complete chunked body is decoded. */
int uf_lg_http_parse(char *buf, size_t len, bool eof, struct uf_lg_reply *r);
#endif
