/* viz/page.c: the graph page's routes on an admin listener (see page.h). The history is
 * sampled once a second on its own thread; the routes only read it (under its mutex). */
#include "viz/page.h"

#include <stdlib.h>
#include <string.h>

#include "framework/graph.h"
#include "framework/mem.h"
#include "framework/runtime.h"
#include "viz/assets.h"
#include "viz/cli.h"
#include "viz/deploy_http.h"
#include "viz/history.h"

struct uf_viz_page {
    struct uf_runtime *rt;
    struct uf_history *hist;
    struct uf_deploy_site *site;
};

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

static const struct uf_asset *find_asset(const char *name)
{
    for (const struct uf_asset *a = uf_assets; a->name; a++)
        if (strcmp(a->name, name) == 0)
            return a;
    return NULL;
}

void uf_viz_asset_reply(const char *name, struct uf_admin_reply *out)
{
    const struct uf_asset *a = find_asset(name);
    *out = (struct uf_admin_reply){
        .status = 200, .type = content_type(name), .data = a->data, .size = a->size
    };
}

bool uf_viz_asset_route(const char *url, struct uf_admin_reply *out)
{
    if (strncmp(url, "/assets/", 8) != 0 || !find_asset(url + 8))
        return false;
    uf_viz_asset_reply(url + 8, out);
    return true;
}

static void reply_json(struct uf_admin_reply *out, json_t *j)
{
    *out = (struct uf_admin_reply){ .status = 200,
                                    .type = "application/json",
                                    .body = json_dumps(j, JSON_COMPACT) };
    json_decref(j);
}

static bool page_route(void *ctx, const char *url, const struct uf_admin_req *req,
                       struct uf_admin_reply *out)
{
    struct uf_viz_page *p = ctx;
    if (strcmp(url, "/") == 0 || strcmp(url, "/graph") == 0) {
        uf_viz_asset_reply("index.html", out);
    } else if (strcmp(url, "/api/graph") == 0) {
        json_t *g = uf_graph_json(uf_runtime_graph(p->rt), true);
        uf_history_annotate(p->hist, g);
        reply_json(out, g);
    } else if (strcmp(url, "/api/history") == 0) {
        reply_json(out, uf_history_json(p->hist, uf_admin_req_arg(req, "component")));
    } else {
        return uf_viz_asset_route(url, out) || uf_deploy_site_route(p->site, url, req, out);
    }
    return true;
}

static void page_free(struct uf_viz_page *p)
{
    if (!p)
        return;
    uf_history_free(p->hist);
    uf_deploy_site_free(p->site);
    free(p);
}

static struct uf_viz_page *page_new(struct uf_runtime *rt, const char *file, struct uf_err *err)
{
    struct uf_viz_page *p = uf_xcalloc(1, sizeof *p);
    p->rt = rt;
    p->hist = uf_history_new(uf_runtime_graph(rt), UF_HISTORY_SAMPLES);
    if (uf_history_start(p->hist, 1000, err) != 0) {
        page_free(p);
        return NULL;
    }
    p->site = uf_deploy_site_new_lazy(file);
    return p;
}

static void *pages_open(struct uf_runtime *rt, const char *file, struct uf_admin_routes *out,
                        struct uf_err *err)
{
    struct uf_viz_page *p = page_new(rt, file, err);
    if (p)
        *out = (struct uf_admin_routes){ .fn = page_route, .ctx = p };
    return p;
}

static void pages_close(void *state)
{
    page_free(state);
}

const struct uf_admin_pages uf_viz_admin_pages = { .open = pages_open, .close = pages_close };
