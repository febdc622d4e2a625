/* lg_conn.c: the socket work of one loadgen connection (see lg_conn.h). Sockets are
 * non-blocking with Nagle off (a request is one write and must leave at once); SIGPIPE is
 * avoided per send (MSG_NOSIGNAL), so the process keeps the caller's signal setup. A reply is
 * read into a buffer bounded by UF_LG_HTTP_MAX_REPLY. */
#include "bench/loadgen/lg_conn.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "framework/mem.h"

#define READ_CHUNK 16384

static void watch(struct uf_lg_conn *c, int ep, int op, bool out)
{
    struct epoll_event ev = { .events = EPOLLIN | (out ? EPOLLOUT : 0), .data.u32 = c->index };
    epoll_ctl(ep, op, c->fd, &ev);
    c->want_out = out;
}

bool uf_lg_conn_open(struct uf_lg_conn *c, int ep, uint16_t port)
{
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return false;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(c->fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
    struct sockaddr_in sa = { .sin_family = AF_INET,
                              .sin_port = htons(port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    c->in_len = 0;
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
        watch(c, ep, EPOLL_CTL_ADD, false);
        c->state = UF_LG_BUSY;
        return uf_lg_conn_flush(c, ep);
    }
    if (errno != EINPROGRESS) {
        close(c->fd);
        c->fd = -1;
        return false;
    }
    watch(c, ep, EPOLL_CTL_ADD, true);
    c->state = UF_LG_CONNECTING;
    return true;
}

bool uf_lg_conn_connected(struct uf_lg_conn *c, int ep)
{
    int soerr = 0;
    socklen_t n = sizeof soerr;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &n) < 0 || soerr)
        return false;
    c->state = UF_LG_BUSY;
    return uf_lg_conn_flush(c, ep);
}

bool uf_lg_conn_flush(struct uf_lg_conn *c, int ep)
{
    while (c->out_off < c->out.len) {
        ssize_t n = send(c->fd, c->out.buf + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            if (!c->want_out)
                watch(c, ep, EPOLL_CTL_MOD, true);
            return true;
        }
        if (n <= 0)
            return false;
        c->out_off += (size_t)n;
    }
    if (c->want_out)
        watch(c, ep, EPOLL_CTL_MOD, false);
    return true;
}

/* recv of up to room bytes that also keeps the kernel's receive time of the last bytes read
 * (SO_TIMESTAMPNS: CLOCK_REALTIME) in c->rx_real_ns; 0 there when the kernel gave none. */
static ssize_t recv_stamped(struct uf_lg_conn *c, size_t room)
{
    union {
        char buf[CMSG_SPACE(sizeof(struct timespec))];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = { .iov_base = c->in + c->in_len, .iov_len = room };
    struct msghdr m = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf
    };
    ssize_t n = recvmsg(c->fd, &m, 0);
    if (n <= 0)
        return n;
    c->rx_real_ns = 0;
    for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h))
        if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_TIMESTAMPNS) {
            struct timespec ts;
            memcpy(&ts, CMSG_DATA(h), sizeof ts);
            c->rx_real_ns = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
        }
    return n;
}

/* Reads what the socket holds: one recv, unless it filled the buffer's free space (then there
 * may be more). A short read leaves nothing behind, or, if more arrives meanwhile, epoll being
 * level-triggered reports the socket again: no second recv that would only say EAGAIN. Returns
 * -1 on a broken connection, 1 at EOF, 0 otherwise. */
static int fill(struct uf_lg_conn *c)
{
    for (;;) {
        if (c->in_cap - c->in_len < READ_CHUNK) {
            if (c->in_cap >= UF_LG_HTTP_MAX_REPLY + READ_CHUNK)
                return 0; /* the parser calls it too big */
            c->in_cap = c->in_cap ? c->in_cap * 2 : 2 * READ_CHUNK;
            c->in = uf_xrealloc(c->in, c->in_cap);
        }
        size_t room = c->in_cap - c->in_len;
        ssize_t n = recv_stamped(c, room);
        if (n > 0) {
            c->in_len += (size_t)n;
            if ((size_t)n < room)
                return 0;
            continue;
        }
        if (n == 0)
            return 1;
        if (errno == EINTR)
            continue;
        return errno == EAGAIN ? 0 : -1;
    }
}

enum uf_lg_io uf_lg_conn_read(struct uf_lg_conn *c, struct uf_lg_reply *r)
{
    int f = fill(c);
    if (f < 0 || (f > 0 && c->in_len == 0))
        return UF_LG_IO_BROKEN; /* reset, or closed before a byte of the reply */
    int p = uf_lg_http_parse(c->in, c->in_len, f > 0, r);
    if (p < 0)
        return UF_LG_IO_BAD;
    if (p == 0)
        return UF_LG_IO_WAIT;
    if (f > 0 || r->consumed != c->in_len)
        r->close = true; /* the peer is gone, or sent what nobody asked for */
    return UF_LG_IO_REPLY;
}

void uf_lg_conn_close(struct uf_lg_conn *c, int ep)
{
    if (c->fd >= 0) {
        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
    }
    c->fd = -1;
    c->state = UF_LG_CLOSED;
    c->want_out = false;
    c->in_len = 0;
}

void uf_lg_conn_free(struct uf_lg_conn *c)
{
    uf_strbuf_free(&c->out);
    free(c->in);
    uf_lg_request_free(&c->req);
}
