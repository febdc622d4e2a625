/* sources/http/http.c: the `http` source, the front door of the UGC and stat APIs.
 * Listens with libmicrohttpd (one epoll daemon per listener thread on one SO_REUSEPORT port,
 * suspend/resume, never a thread per connection) and turns each request that matches the route
 * table into events (http_request.c). Unmatched routes, wrong methods, oversized or non-JSON
 * bodies are answered here without emitting. It does not authenticate (jwt_auth) or validate
 * (validate). This file: options, lifecycle, the libmicrohttpd callbacks. Stop answers what is
 * left with 503 before the daemons stop: docs/architecture.md, "sources/http". */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "framework/clock.h"
#include "framework/log.h"
#include "framework/metrics.h"
#include "framework/stage.h"
#include "sources/http/http_int.h"

static const char *const loop_values[] = { "epoll", "poll", NULL };

static const struct uf_option http_options[] = {
    { .name = "address",
      .type = UF_OPT_STR,
      .def = "127.0.0.1:8080",
      .desc = "Listen address, host:port or [ipv6]:port; port 0 picks a free port",
      .offset = offsetof(struct http_ctx, address) },
    { .name = "routes",
      .type = UF_OPT_MAP,
      .flags = UF_OPT_REQUIRED,
      .desc = "Route table: \"METHOD /path/{param}\" to its settings (see docs/http.md)",
      .offset = offsetof(struct http_ctx, routes_opt) },
    { .name = "threads",
      .type = UF_OPT_INT,
      .def = "2",
      .min = 1,
      .max = 64,
      .desc = "Listener threads, each running one epoll loop",
      .offset = offsetof(struct http_ctx, threads) },
    { .name = "batch_workers",
      .type = UF_OPT_INT,
      .def = "0",
      .min = 0,
      .max = 64,
      .desc = "Threads that emit the events of big batch and split_array requests (at least "
              "offload_items items), so a listener thread goes on serving its other "
              "connections meanwhile; 0: every request is emitted on its listener thread",
      .offset = offsetof(struct http_ctx, batch_workers) },
    { .name = "offload_items",
      .type = UF_OPT_INT,
      .def = "32",
      .min = 1,
      .max = 100000,
      .desc = "Fewest items a request needs to go to the batch workers",
      .offset = offsetof(struct http_ctx, offload_items) },
    { .name = "max_connections",
      .type = UF_OPT_INT,
      .def = "4096",
      .min = 1,
      .max = 1000000,
      .desc = "Most client connections open at once, split evenly over the listener threads "
              "(the kernel picks a thread by the client's address); more are refused",
      .offset = offsetof(struct http_ctx, max_connections) },
    { .name = "max_body",
      .type = UF_OPT_SIZE,
      .def = "1MiB",
      .min = 1,
      .max = 256 << 20,
      .desc = "Default largest request body; larger ones get 413",
      .offset = offsetof(struct http_ctx, max_body) },
    { .name = "max_items",
      .type = UF_OPT_INT,
      .def = "500",
      .min = 1,
      .max = 100000,
      .desc = "Default most items in a batch or split_array request; more get 413",
      .offset = offsetof(struct http_ctx, max_items) },
    { .name = "timeout",
      .type = UF_OPT_DURATION,
      .def = "5s",
      .min = 1,
      .max = 600000,
      .desc = "Default time a request waits for its reply before it gets 504",
      .offset = offsetof(struct http_ctx, timeout_ms) },
    { .name = "success_status",
      .type = UF_OPT_INT,
      .def = "200",
      .min = 200,
      .max = 299,
      .desc = "Default status when no stage recorded a reply",
      .offset = offsetof(struct http_ctx, success_status) },
    { .name = "idle_timeout",
      .type = UF_OPT_DURATION,
      .def = "60s",
      .min = 1000,
      .max = 3600000,
      .desc = "Idle keep-alive connections are closed after this long",
      .offset = offsetof(struct http_ctx, idle_timeout_ms) },
    { .name = "connection_memory",
      .type = UF_OPT_SIZE,
      .def = "32KiB",
      .min = 4096,
      .max = 1 << 20,
      .desc = "Memory of a connection for its request's headers and read buffer, which "
              "libmicrohttpd clears for every request (smaller is cheaper); request headers that "
              "do not fit are refused (431)",
      .offset = offsetof(struct http_ctx, connection_memory) },
    { .name = "event_loop",
      .type = UF_OPT_ENUM,
      .def = "epoll",
      .values = loop_values,
      .desc = "How a listener thread waits for its connections: epoll scales to many idle "
              "ones; poll is cheaper with a few busy ones, such as a proxy's keep-alive pool "
              "(a reply that waits for the pipeline costs no epoll_ctl to suspend and resume)",
      .offset = offsetof(struct http_ctx, event_loop) },
    { .name = "rate_limit",
      .type = UF_OPT_MAP,
      .desc = "Per-client limit for every route without its own rate_limit: {rate: per second, "
              "burst, key: ip, sub or header, header: NAME, slots: clients tracked (65536)}; "
              "over it, 429 with Retry-After",
      .offset = offsetof(struct http_ctx, rate_limit_opt) },
    { .name = "client_ip_header",
      .type = UF_OPT_STR,
      .desc = "Header a trusted proxy sets to the client's IP (X-Forwarded-For: its last "
              "address), for ip-keyed rate limits; unset: the peer address",
      .offset = offsetof(struct http_ctx, client_ip_header) },
    { .name = "retry_after",
      .type = UF_OPT_DURATION,
      .def = "1s",
      .min = 1000,
      .max = 3600000,
      .desc = "Retry-After sent with 503 answers (rounded up to seconds)",
      .offset = offsetof(struct http_ctx, retry_after_ms) },
    { 0 },
};

/* Parses "host:port" or "[v6]:port" with a numeric host (or "localhost"): no name lookup. */
static int parse_address(struct http_ctx *hc, struct uf_err *err)
{
    const char *a = hc->address;
    const char *colon = strrchr(a, ':');
    char host[64];
    char *end;
    long port = colon ? strtol(colon + 1, &end, 10) : -1;
    if (!colon || colon[1] == '\0' || *end || port < 0 || port > 65535 ||
        (size_t)(colon - a) >= sizeof(host))
        return uf_err_set(err, UF_EINVAL, "address '%s': expected host:port", a);
    bool v6 = a[0] == '[';
    snprintf(host, sizeof(host), "%.*s", (int)(colon - a) - (v6 ? 2 : 0), a + v6);
    memset(&hc->addr, 0, sizeof(hc->addr));
    hc->ipv6 = v6;
    if (v6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&hc->addr;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        if (colon[-1] == ']' && inet_pton(AF_INET6, host, &s6->sin6_addr) == 1)
            return 0;
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&hc->addr;
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        if (strcmp(host, "localhost") == 0)
            snprintf(host, sizeof(host), "127.0.0.1");
        if (inet_pton(AF_INET, host, &s4->sin_addr) == 1)
            return 0;
    }
    return uf_err_set(err, UF_EINVAL, "address '%s': '%s' is not a numeric IP address", a, host);
}

static void register_metrics(struct http_ctx *hc)
{
    struct uf_metrics *m = uf_stage_metrics(hc->st);
    hc->m_port = uf_metrics_extra(m, UF_METRIC_GAUGE, "http_listen_port",
                                  "TCP port the listener is bound to", NULL, NULL);
    hc->m_inflight = uf_metrics_extra(m, UF_METRIC_GAUGE, "http_inflight_requests",
                                      "Requests received and not yet answered", NULL, NULL);
    hc->m_not_found =
        uf_metrics_extra(m, UF_METRIC_COUNTER, "http_unrouted_total",
                         "Requests answered 404 or 405 by the route table", NULL, NULL);
    hc->m_offloaded =
        uf_metrics_extra(m, UF_METRIC_COUNTER, "http_offloaded_requests_total",
                         "Batch requests whose events a batch worker emitted", NULL, NULL);
    for (size_t i = 0; i < hc->routes.n; i++) {
        struct http_route *r = &hc->routes.v[i];
        r->m_requests = uf_metrics_extra(m, UF_METRIC_COUNTER, "http_requests_total",
                                         "Requests answered, per route", "route", r->name);
        r->m_client_errors = uf_metrics_extra(m, UF_METRIC_COUNTER, "http_client_errors_total",
                                              "Requests answered 4xx, per route", "route", r->name);
        r->m_server_errors = uf_metrics_extra(m, UF_METRIC_COUNTER, "http_server_errors_total",
                                              "Requests answered 5xx, per route", "route", r->name);
        r->m_limited =
            uf_metrics_extra(m, UF_METRIC_COUNTER, "http_rate_limited_total",
                             "Requests answered 429 by a rate limit, per route", "route", r->name);
        r->m_timeouts =
            uf_metrics_extra(m, UF_METRIC_COUNTER, "http_timeouts_total",
                             "Requests answered 504 after their timeout", "route", r->name);
    }
}

static int http_init(struct uf_stage *st, void *ctx, struct uf_err *err)
{
    struct http_ctx *hc = ctx;
    hc->st = st;
    struct http_route_defaults d = {
        .timeout_ms = hc->timeout_ms,
        .max_body = hc->max_body,
        .max_items = hc->max_items,
        .success_status = (int)hc->success_status,
    };
    if (parse_address(hc, err) || http_routes_parse(hc->routes_opt, &d, &hc->routes, err))
        return UF_EINVAL;
    if (hc->rate_limit_opt && !(hc->limit = http_limit_parse(hc->rate_limit_opt, err))) {
        uf_err_prefix(err, "rate_limit");
        return UF_EINVAL;
    }
    pthread_mutex_init(&hc->timer_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&hc->timer_cond, &ca);
    pthread_condattr_destroy(&ca);
    http_work_init(hc);
    register_metrics(hc);
    http_routes_declare(&hc->routes, st);
    return 0;
}

/* ---- libmicrohttpd callbacks (MHD threads) ---- */

static bool is_json_type(const char *ct)
{
    if (!ct)
        return false;
    size_t n = strcspn(ct, ";");
    while (n > 0 && ct[n - 1] == ' ')
        n--;
    return (n == 16 && strncasecmp(ct, "application/json", 16) == 0) ||
           (n > 17 && strncasecmp(ct, "application/", 12) == 0 &&
            strncasecmp(ct + n - 5, "+json", 5) == 0);
}

static bool has_body(struct MHD_Connection *conn)
{
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
    const char *te = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Transfer-Encoding");
    return (cl && strtoull(cl, NULL, 10) > 0) || te;
}

/* Checks made before any of the body is read, so a client that sent `Expect: 100-continue`
 * is refused before it uploads. Returns 0 or the status to answer with. */
static int check_headers(struct http_route *r, struct MHD_Connection *conn, json_t **body)
{
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
    if (cl && strtoull(cl, NULL, 10) > (unsigned long long)r->max_body) {
        *body = http_error_body("body_too_large", "request body is larger than %lld bytes",
                                (long long)r->max_body);
        return 413;
    }
    const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
    if (r->body == HTTP_BODY_JSON && has_body(conn) && !is_json_type(ct)) {
        *body = http_error_body("unsupported_media_type",
                                "Content-Type must be application/json, not '%.64s'",
                                ct ? ct : "(none)");
        return 415;
    }
    return 0;
}

/* The route's rate limit, else the listener's; false with the 429 body and Retry-After. */
static bool within_limit(struct http_ctx *hc, struct http_route *r, struct MHD_Connection *conn,
                         struct http_reply_info *info, json_t **body)
{
    const struct http_limit *l = r->limit ? r->limit : hc->limit;
    int64_t retry_ms = 0;
    if (!l || http_limit_allows(l, conn, hc->client_ip_header, &retry_ms))
        return true;
    atomic_fetch_add_explicit(r->m_limited, 1, memory_order_relaxed);
    info->retry_after_ms = retry_ms;
    *body =
        http_error_body("rate_limited", "too many requests; retry in %lld ms", (long long)retry_ms);
    return false;
}

static enum MHD_Result begin(struct http_ctx *hc, struct MHD_Connection *conn, const char *url,
                             const char *method, void **con_cls)
{
    struct http_reply_info info = { .retry_after_ms = hc->retry_after_ms };
    if (atomic_load(&hc->stopping)) {
        info.close = true;
        return http_send_error(conn, 503, "shutting_down", "the server is shutting down", &info);
    }
    json_t *params = json_object(), *body = NULL;
    bool known;
    char allow[96];
    struct http_route *r =
        http_routes_match(&hc->routes, method, url, params, &known, allow, sizeof(allow));
    if (!r) {
        json_decref(params);
        atomic_fetch_add_explicit(hc->m_not_found, 1, memory_order_relaxed);
        info.allow = allow;
        if (known)
            body = http_error_body("method_not_allowed", "%.16s is not allowed on %.256s", method,
                                   url);
        return known ? http_send(conn, 405, body, &info)
                     : http_send(
                           conn, 404,
                           http_error_body("not_found", "no route for %.16s %.256s", method, url),
                           &info);
    }
    int status = check_headers(r, conn, &body);
    if (!status && !within_limit(hc, r, conn, &info, &body))
        status = 429;
    if (status) {
        json_decref(params);
        http_count_status(r, status);
        return http_send(conn, status, body, &info);
    }
    *con_cls = http_req_new(hc, r, conn, url, params);
    atomic_fetch_add_explicit(hc->m_inflight, 1, memory_order_relaxed);
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls)
{
    struct http_ctx *hc = cls;
    struct http_req *req = *con_cls;
    if (!req)
        return begin(hc, conn, url, method, con_cls);
    if (req->state == REQ_READING && *upload_size) {
        http_req_append(req, upload_data, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (req->state == REQ_READING)
        return http_req_dispatch(req);
    return http_req_answer(req); /* resumed */
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct http_ctx *hc = cls;
    struct http_req *req = *con_cls;
    if (!req)
        return;
    *con_cls = NULL;
    atomic_fetch_sub_explicit(hc->m_inflight, 1, memory_order_relaxed);
    http_req_unref(req);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct http_ctx *hc = cls;
    char msg[256];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    uf_log_limited(UF_LOG_WARN, hc->st, "libmicrohttpd reported an error.", "err", msg);
}

/* ---- timer: answers late requests with 504 ---- */

static void *timer_main(void *arg)
{
    struct http_ctx *hc = arg;
    pthread_mutex_lock(&hc->timer_lock);
    while (!hc->timer_stop) {
        hc->timer_kick = false;
        pthread_mutex_unlock(&hc->timer_lock);
        int64_t now = uf_now_us();
        int64_t next = http_req_expire(hc, now);
        int64_t wait_us = next == INT64_MAX ? 1000000 : next - now;
        wait_us = wait_us < 1000 ? 1000 : wait_us > 1000000 ? 1000000 : wait_us;
        pthread_mutex_lock(&hc->timer_lock);
        if (hc->timer_stop || hc->timer_kick)
            continue;
        struct timespec ts = uf_clock_after(CLOCK_MONOTONIC, wait_us);
        pthread_cond_timedwait(&hc->timer_cond, &hc->timer_lock, &ts);
    }
    pthread_mutex_unlock(&hc->timer_lock);
    return NULL;
}

/* A plain bind of the listen address: with SO_REUSEPORT, a port another process of ours already
 * listens on would be shared silently instead of failing, so a taken port is refused here first.
 * SO_REUSEADDR as libmicrohttpd sets it: connections left in TIME_WAIT do not count. */
static int check_port_free(const struct http_ctx *hc, struct uf_err *err)
{
    int fd = socket(hc->ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0)
        return uf_err_set(err, UF_EIO, "cannot listen on %s: %s", hc->address, strerror(errno));
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (hc->ipv6) /* as libmicrohttpd's own IPv6 sockets: an IPv4 listener does not conflict */
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    socklen_t len = hc->ipv6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    int rc = bind(fd, (const struct sockaddr *)&hc->addr, len) == 0 ? 0 : errno;
    close(fd);
    if (rc)
        return uf_err_set(err, UF_EIO, "cannot listen on %s: %s", hc->address, strerror(rc));
    return 0;
}

static struct MHD_Daemon *start_daemon(struct http_ctx *hc, bool reuse_port)
{
    unsigned loop = hc->event_loop == 1 ? MHD_USE_POLL : MHD_USE_EPOLL;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | loop | MHD_USE_TURBO |
                     MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG | (hc->ipv6 ? MHD_USE_IPv6 : 0);
    unsigned limit = (unsigned)(hc->max_connections / hc->threads);
    /* The logger goes first: libmicrohttpd reports problems with later options through it.
     * Without reuse_port the list ends before LISTENING_ADDRESS_REUSE, whose 0 would not mean
     * "the default" but "never reuse" (no SO_REUSEADDR either). */
    return MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, hc, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, hc,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&hc->addr, MHD_OPTION_CONNECTION_LIMIT,
        limit ? limit : 1, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)(hc->idle_timeout_ms / 1000),
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, hc, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)hc->connection_memory,
        reuse_port ? MHD_OPTION_LISTENING_ADDRESS_REUSE : MHD_OPTION_END, 1u, MHD_OPTION_END);
}

static int get_port(const struct http_ctx *hc)
{
    return hc->ipv6 ? ntohs(((const struct sockaddr_in6 *)&hc->addr)->sin6_port)
                    : ntohs(((const struct sockaddr_in *)&hc->addr)->sin_port);
}

static void set_port(struct http_ctx *hc, int port)
{
    if (hc->ipv6)
        ((struct sockaddr_in6 *)&hc->addr)->sin6_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in *)&hc->addr)->sin_port = htons((uint16_t)port);
}

/* One single-threaded daemon per listener thread, each with its own SO_REUSEPORT socket on the
 * same port, so the kernel spreads connections over the threads by their addresses.
 * libmicrohttpd's own thread pool lets whichever thread wakes first accept up to ten at a time:
 * the stat benchmark's 64 connections often all landed on one of two threads, which then
 * capped the whole process at one core. Returns the port, or -1 with err set. */
static int start_listeners(struct http_ctx *hc, struct uf_err *err)
{
    bool many = hc->threads > 1;
    if (many && get_port(hc) != 0 && check_port_free(hc, err))
        return -1;
    for (int64_t i = 0; i < hc->threads; i++) {
        errno = 0;
        struct MHD_Daemon *d = start_daemon(hc, many);
        if (!d) {
            uf_err_set(err, UF_EIO, "cannot listen on %s: %s", hc->address,
                       errno ? strerror(errno) : "libmicrohttpd failed to start");
            return -1;
        }
        hc->daemons[hc->ndaemons++] = d;
        if (i == 0) { /* port 0: the others join the port the first one got */
            const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
            set_port(hc, di ? di->port : 0);
        }
    }
    return get_port(hc);
}

/* The workers go after the daemons: until then a request may still be offloaded. */
static void stop_daemons(struct http_ctx *hc)
{
    for (size_t i = 0; i < hc->ndaemons; i++)
        MHD_stop_daemon(hc->daemons[i]);
    hc->ndaemons = 0;
    http_work_stop(hc);
}

static bool abandon_all(struct http_ctx *hc, int64_t limit_ms);

/* A start that failed after some listeners began accepting: their requests are answered first,
 * since libmicrohttpd aborts when stopped with a suspended connection. Daemons that cannot be
 * stopped safely are left to destroy(). */
static void unwind_start(struct http_ctx *hc)
{
    if (hc->ndaemons && !abandon_all(hc, 500))
        return;
    stop_daemons(hc);
}

static int http_start(struct uf_stage *st, void *ctx, struct uf_err *err)
{
    struct http_ctx *hc = ctx;
    /* Before the first request: a batch route decides tree or text with no lock. */
    hc->batch_text = uf_stage_batches_split(st, 0);
    if (http_work_start(hc, err) != 0) {
        http_work_stop(hc);
        return UF_EIO;
    }
    int port = start_listeners(hc, err);
    if (port < 0) {
        unwind_start(hc);
        return UF_EIO;
    }
    atomic_store(hc->m_port, port);
    if (pthread_create(&hc->timer, NULL, timer_main, hc) != 0) {
        unwind_start(hc);
        return uf_err_set(err, UF_EIO, "cannot start the timeout thread");
    }
    hc->timer_running = true;
    char port_s[16];
    snprintf(port_s, sizeof(port_s), "%d", port);
    uf_log(UF_LOG_INFO, st, "Listening.", "address", hc->address, "port", port_s, "text_batches",
           hc->batch_text ? "true" : "false");
    return 0;
}

static void stop_timer(struct http_ctx *hc)
{
    if (!hc->timer_running)
        return;
    pthread_mutex_lock(&hc->timer_lock);
    hc->timer_stop = true;
    pthread_cond_signal(&hc->timer_cond);
    pthread_mutex_unlock(&hc->timer_lock);
    pthread_join(hc->timer, NULL);
    hc->timer_running = false;
}

/* Polls the in-flight count until it reaches zero or limit_ms passes. */
static void wait_inflight(struct http_ctx *hc, int64_t limit_ms)
{
    int64_t until = uf_now_us() + limit_ms * 1000;
    while (atomic_load(hc->m_inflight) > 0 && uf_now_us() < until)
        nanosleep(&(struct timespec){ .tv_nsec = 2000000 }, NULL);
}

/* Answers every waiting request with 503 and keeps doing so until no MHD thread is emitting
 * (one may be blocked on a full queue, or have finished an upload just now) and no connection
 * is suspended, or limit_ms passes. Returns whether the daemon may be stopped: libmicrohttpd
 * aborts the process when stopped with a suspended connection, and waits for ever for a
 * thread blocked in uf_emit. */
static bool abandon_all(struct http_ctx *hc, int64_t limit_ms)
{
    int64_t until = uf_now_us() + limit_ms * 1000;
    atomic_store(&hc->abandoning, true); /* from now on wait_or_answer answers instead */
    for (;;) {
        http_req_abandon_all(hc);
        if (atomic_load(&hc->emitting) == 0 && atomic_load(&hc->suspended) == 0)
            return true;
        if (uf_now_us() >= until)
            return false;
        nanosleep(&(struct timespec){ .tv_nsec = 2000000 }, NULL);
    }
}

/* The floor keeps time for requests caught between the first abandon and their suspension
 * even when the graceful wait used the whole shutdown deadline. */
static int64_t abandon_limit_ms(struct uf_stage *st)
{
    int64_t left = uf_stage_deadline_ms(st);
    return left > 500 ? left : 500;
}

static void http_stop(struct uf_stage *st, void *ctx)
{
    struct http_ctx *hc = ctx;
    atomic_store(&hc->stopping, true);
    if (!hc->ndaemons)
        return;
    for (size_t i = 0; i < hc->ndaemons; i++) {
        int fd = MHD_quiesce_daemon(hc->daemons[i]);
        if (fd >= 0)
            close(fd);
    }
    int64_t left = uf_stage_deadline_ms(st);
    wait_inflight(hc, left > 0 ? left : 0);
    stop_timer(hc);
    if (!abandon_all(hc, abandon_limit_ms(st))) {
        /* Stopping the daemon now would abort or hang; destroy() tries again once the queues
         * downstream are closed and every uf_emit has returned. */
        uf_log(UF_LOG_ERROR, st, "Shutdown deadline passed with requests still being emitted.");
        return;
    }
    /* Resumed requests are answered by the MHD threads within a few loop turns. */
    wait_inflight(hc, 500);
    if (atomic_load(hc->m_inflight) > 0)
        uf_log(UF_LOG_WARN, st, "Stopped with requests still in flight.");
    stop_daemons(hc);
    uf_log(UF_LOG_INFO, st, "Stopped.");
}

static void http_destroy(void *ctx)
{
    struct http_ctx *hc = ctx;
    if (hc->ndaemons) {
        stop_timer(hc);
        abandon_all(hc, 2000);
        stop_daemons(hc);
    }
    if (hc->m_port) { /* init completed */
        pthread_mutex_destroy(&hc->timer_lock);
        pthread_cond_destroy(&hc->timer_cond);
        http_work_destroy(hc);
    }
    http_routes_free(&hc->routes);
    http_limit_free(hc->limit);
}

const struct uf_kind uf_source_http = {
    .name = "http",
    .role = UF_SOURCE,
    .summary = "Receive JSON requests over HTTP and reply when their events complete",
    .options = http_options,
    .ctx_size = sizeof(struct http_ctx),
    .init = http_init,
    .start = http_start,
    .stop = http_stop,
    .destroy = http_destroy,
};
