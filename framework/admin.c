/* admin.c: the admin listener (see admin.h): the engine's own routes plus the caller's.
 * One libmicrohttpd internal thread is plenty: scrapes and page polls are a few per second,
 * and keeping the admin listener apart from the data listeners means a flooded API never
 * hides the metrics that explain why. */
#include "framework/admin.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "framework/graph.h"
#include "framework/mem.h"
#include "framework/ready.h"
#include "framework/runtime.h"

struct uf_admin {
    struct MHD_Daemon *d;
    struct uf_runtime *rt;
    struct uf_admin_routes routes;
    int port;
};

struct uf_admin_req {
    struct MHD_Connection *c;
};

/* Splits "host:port" into a sockaddr_in for 127.0.0.1-style IPv4 addresses. */
static int parse_listen_address(const char *address, struct sockaddr_in *out, struct uf_err *err)
{
    const char *colon = strrchr(address, ':');
    if (!colon)
        return uf_err_set(err, UF_EINVAL, "listen address '%s' must be host:port", address);
    char host[64];
    size_t hl = (size_t)(colon - address);
    if (hl >= sizeof host)
        return uf_err_set(err, UF_EINVAL, "listen address '%s': host too long", address);
    memcpy(host, address, hl);
    host[hl] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || end == colon + 1 || port < 0 || port > 65535)
        return uf_err_set(err, UF_EINVAL, "listen address '%s': bad port", address);
    memset(out, 0, sizeof *out);
    out->sin_family = AF_INET;
    out->sin_port = htons((uint16_t)port);
    if (strcmp(host, "localhost") == 0)
        strcpy(host, "127.0.0.1");
    if (inet_pton(AF_INET, host[0] ? host : "0.0.0.0", &out->sin_addr) != 1)
        return uf_err_set(err, UF_EINVAL, "listen address '%s': '%s' is not an IPv4 address",
                          address, host);
    return 0;
}

static enum MHD_Result respond(struct MHD_Connection *c, unsigned status, const char *type,
                               char *body, enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), body, mode);
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result respond_json(struct MHD_Connection *c, unsigned status, json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return respond(c, status, "application/json", s, MHD_RESPMEM_MUST_FREE);
}

static enum MHD_Result not_found(struct MHD_Connection *c)
{
    return respond_json(
        c, MHD_HTTP_NOT_FOUND,
        json_pack("{s:{s:s,s:s}}", "error", "code", "not_found", "message", "no such page"));
}

const char *uf_admin_req_arg(const struct uf_admin_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->c, MHD_GET_ARGUMENT_KIND, name);
}

/* The caller's routes' answer, when they have one for url. Static data is sent as it is (an
 * embedded asset: cacheable), a body as the listener's other answers are. */
static bool handle_routes(struct uf_admin *a, struct MHD_Connection *c, const char *url,
                          enum MHD_Result *ok)
{
    struct uf_admin_reply rep = { 0 };
    struct uf_admin_req req = { .c = c };
    if (!a->routes.fn || !a->routes.fn(a->routes.ctx, url, &req, &rep))
        return false;
    if (rep.body) {
        *ok = respond(c, rep.status, rep.type, rep.body, MHD_RESPMEM_MUST_FREE);
        return true;
    }
    struct MHD_Response *r =
        MHD_create_response_from_buffer(rep.size, (void *)rep.data, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(r, "Content-Type", rep.type);
    *ok = MHD_queue_response(c, rep.status, r);
    MHD_destroy_response(r);
    return true;
}

/* What only a listener of a running graph serves. */
static bool handle_runtime(struct uf_admin *a, struct MHD_Connection *c, const char *url,
                           enum MHD_Result *ok)
{
    if (strcmp(url, "/ready") == 0) {
        bool ready;
        json_t *body = uf_ready_report(a->rt, &ready);
        *ok = respond_json(c, ready ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, body);
    } else if (strcmp(url, "/metrics") == 0) {
        *ok = respond(c, MHD_HTTP_OK, "text/plain; version=0.0.4", uf_runtime_metrics_text(a->rt),
                      MHD_RESPMEM_MUST_FREE);
    } else if (strcmp(url, "/api/graph") == 0) {
        *ok = respond_json(c, MHD_HTTP_OK, uf_graph_json(uf_runtime_graph(a->rt), true));
    } else {
        return false;
    }
    return true;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_size, void **req)
{
    struct uf_admin *a = cls;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return respond_json(c, MHD_HTTP_METHOD_NOT_ALLOWED,
                            json_pack("{s:{s:s,s:s}}", "error", "code", "method_not_allowed",
                                      "message", "the admin API is read-only"));
    enum MHD_Result ok;
    if (handle_routes(a, c, url, &ok))
        return ok;
    if (strcmp(url, "/health") == 0)
        return respond_json(c, MHD_HTTP_OK, json_pack("{s:s}", "status", "ok"));
    if (a->rt && handle_runtime(a, c, url, &ok))
        return ok;
    return not_found(c);
}

struct uf_admin *uf_admin_start(struct uf_runtime *rt, const char *address,
                                const struct uf_admin_routes *routes, struct uf_err *err)
{
    struct sockaddr_in sa;
    if (parse_listen_address(address, &sa, err) != 0)
        return NULL;
    struct uf_admin *a = uf_xcalloc(1, sizeof *a);
    a->rt = rt;
    if (routes)
        a->routes = *routes;
    a->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, 0, NULL, NULL, handle,
                            a, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                            MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
    if (!a->d) {
        uf_err_set(err, UF_EIO, "admin listener: cannot listen on %s", address);
        free(a);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(a->d, MHD_DAEMON_INFO_BIND_PORT);
    a->port = info ? info->port : 0;
    return a;
}

int uf_admin_port(const struct uf_admin *a)
{
    return a->port;
}

void uf_admin_stop(struct uf_admin *a)
{
    if (!a)
        return;
    MHD_stop_daemon(a->d);
    free(a);
}
