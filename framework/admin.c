/* admin.c: /health, /ready, /metrics, /api/graph, /api/history, the embedded graph page and
 * the caller's extra routes (see admin.h). The listener owns the metrics history (viz/history.h) and its sampler thread,
 * so every running process keeps the last five minutes of each component for the page.
 * One libmicrohttpd internal thread is plenty: scrapes and page polls are a few per second,
 * and keeping the admin listener apart from the data listeners means a flooded API never
 * hides the metrics that explain why. */
#include "admin.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "mem.h"
#include "ready.h"
#include "runtime.h"
#include "viz/assets.h"
#include "viz/history.h"

struct uf_admin {
    struct MHD_Daemon *d;
    struct uf_runtime *rt;
    struct uf_history *hist;
    struct uf_admin_routes extra;
    int port;
};

int uf_parse_listen_address(const char *address, struct sockaddr_in *out, struct uf_err *err)
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

static const char *content_type(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot)
        return "application/octet-stream";
    if (strcmp(dot, ".html") == 0)
        return "text/html; charset=utf-8";
    if (strcmp(dot, ".js") == 0)
        return "text/javascript; charset=utf-8";
    if (strcmp(dot, ".css") == 0)
        return "text/css; charset=utf-8";
    if (strcmp(dot, ".svg") == 0)
        return "image/svg+xml";
    return "application/octet-stream";
}

static enum MHD_Result not_found(struct MHD_Connection *c)
{
    return respond_json(c, MHD_HTTP_NOT_FOUND,
                        json_pack("{s:{s:s,s:s}}", "error", "code", "not_found", "message",
                                  "no such page"));
}

static enum MHD_Result serve_asset(struct MHD_Connection *c, const char *name)
{
    for (const struct uf_asset *a = uf_assets; a->name; a++)
        if (strcmp(a->name, name) == 0) {
            struct MHD_Response *r = MHD_create_response_from_buffer(
                a->size, (void *)a->data, MHD_RESPMEM_PERSISTENT);
            MHD_add_response_header(r, "Content-Type", content_type(name));
            enum MHD_Result ok = MHD_queue_response(c, MHD_HTTP_OK, r);
            MHD_destroy_response(r);
            return ok;
        }
    return not_found(c);
}

/* The extra routes' answer, when they have one for url. */
static bool handle_extra(struct uf_admin *a, struct MHD_Connection *c, const char *url,
                         enum MHD_Result *ok)
{
    struct uf_admin_reply rep = {0};
    if (!a->extra.fn || !a->extra.fn(a->extra.ctx, url, &rep))
        return false;
    if (rep.asset)
        *ok = serve_asset(c, rep.asset);
    else
        *ok = respond(c, rep.status, rep.type, rep.body, MHD_RESPMEM_MUST_FREE);
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
        json_t *g = uf_graph_json(uf_runtime_graph(a->rt), true);
        uf_history_annotate(a->hist, g);
        *ok = respond_json(c, MHD_HTTP_OK, g);
    } else if (strcmp(url, "/api/history") == 0) {
        const char *id = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "component");
        *ok = respond_json(c, MHD_HTTP_OK, uf_history_json(a->hist, id));
    } else if (strcmp(url, "/") == 0 || strcmp(url, "/graph") == 0) {
        *ok = serve_asset(c, "index.html");
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
    if (handle_extra(a, c, url, &ok))
        return ok;
    if (strcmp(url, "/health") == 0)
        return respond_json(c, MHD_HTTP_OK, json_pack("{s:s}", "status", "ok"));
    if (a->rt && handle_runtime(a, c, url, &ok))
        return ok;
    if (strncmp(url, "/assets/", 8) == 0)
        return serve_asset(c, url + 8);
    return not_found(c);
}

struct uf_admin *uf_admin_start(struct uf_runtime *rt, const char *address, struct uf_err *err)
{
    return uf_admin_start_routes(rt, address, NULL, err);
}

struct uf_admin *uf_admin_start_routes(struct uf_runtime *rt, const char *address,
                                       const struct uf_admin_routes *extra, struct uf_err *err)
{
    struct sockaddr_in sa;
    if (uf_parse_listen_address(address, &sa, err) != 0)
        return NULL;
    struct uf_admin *a = uf_xcalloc(1, sizeof *a);
    a->rt = rt;
    if (extra)
        a->extra = *extra;
    a->hist = rt ? uf_history_new(uf_runtime_graph(rt), UF_HISTORY_SAMPLES) : NULL;
    if (a->hist && uf_history_start(a->hist, 1000, err) != 0) {
        uf_history_free(a->hist);
        free(a);
        return NULL;
    }
    a->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, 0, NULL, NULL,
                            handle, a, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                            MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
    if (!a->d) {
        uf_err_set(err, UF_EIO, "admin listener: cannot listen on %s", address);
        uf_history_free(a->hist);
        free(a);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(a->d, MHD_DAEMON_INFO_BIND_PORT);
    a->port = info ? info->port : 0;
    return a;
}

int uf_admin_port(const struct uf_admin *a) { return a->port; }

void uf_admin_stop(struct uf_admin *a)
{
    if (!a)
        return;
    MHD_stop_daemon(a->d);
    uf_history_free(a->hist);
    free(a);
}
