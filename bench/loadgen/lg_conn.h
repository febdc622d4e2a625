/* lg_conn.h: one client connection of the loadgen engine: a non-blocking TCP socket to the
 * target, its request bytes and reply buffer, and the request it carries. lg_conn.c does the
 * socket work (connect, write, read, close) and knows nothing of schedules or counting; the
 * engine (lg_engine.c) decides what a result means. Not thread-safe. */
#ifndef UF_LG_CONN_H
#define UF_LG_CONN_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench/loadgen/lg_http.h"
#include "bench/loadgen/lg_workload.h"
#include "framework/strbuf.h"

enum uf_lg_conn_state { UF_LG_CLOSED, UF_LG_CONNECTING, UF_LG_IDLE, UF_LG_BUSY };

struct uf_lg_conn {
    int fd;
    uint32_t index; /* in the engine's pool; the epoll key */
    enum uf_lg_conn_state state;
    bool want_out; /* EPOLLOUT asked for */
    struct uf_strbuf out;
    size_t out_off;
    char *in;
    size_t in_len, in_cap;
    struct uf_lg_request req;
    int64_t intended_ns, sent_ns;
    int64_t rx_real_ns; /* when the kernel received the last reply bytes read (CLOCK_REALTIME) */
    size_t step;
};

/* What a socket event led to. */
enum uf_lg_io { UF_LG_IO_WAIT, UF_LG_IO_REPLY, UF_LG_IO_BROKEN, UF_LG_IO_BAD };

/* Starts connecting c to 127.0.0.1:port and registers it with epoll fd ep; the request in c->out
 * is written once connected. false when the socket could not even be started. */
bool uf_lg_conn_open(struct uf_lg_conn *c, int ep, uint16_t port);
/* Writes what is left of c->out (c must be connected). false when the connection broke. */
bool uf_lg_conn_flush(struct uf_lg_conn *c, int ep);
/* After EPOLLOUT while connecting: true when the connection is made. */
bool uf_lg_conn_connected(struct uf_lg_conn *c, int ep);
/* Reads what is there; on UF_LG_IO_REPLY, r is the reply (pointing into c->in) and
 * c->rx_real_ns its receive time (0 when unknown). */
enum uf_lg_io uf_lg_conn_read(struct uf_lg_conn *c, struct uf_lg_reply *r);
void uf_lg_conn_close(struct uf_lg_conn *c, int ep);
void uf_lg_conn_free(struct uf_lg_conn *c);
#endif
