/* viz/deploy_http.c: /deployment and /api/deployment on an admin listener (see deploy_http.h).
 * The lazy site makes its poller under a mutex on the listener's thread; the first request
 * then waits up to 3 s for the first poll, so a page opened cold is complete at once. A file
 * that no longer loads answers 503 with the reason, as every admin error does, in JSON. */
#include "viz/deploy_http.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "framework/config.h"
#include "framework/mem.h"
#include "viz/deploy.h"
#include "viz/deploy_layout.h"
#include "viz/page.h"

#define FIRST_POLL_WAIT_MS 3000

struct uf_deploy_site {
    struct uf_deploy_poll *poll;
    bool owned, root;
    const char *file; /* lazy: made from this on the first request */
    char err[UF_ERR_MSG_MAX];
    pthread_mutex_t mu;
};

struct uf_deploy_poll *uf_deploy_poll_from_file(const char *file, uf_deploy_status_fn status,
                                                void *status_ctx, struct uf_err *err)
{
    struct uf_diags d = { 0 };
    struct uf_config *cfg = uf_config_load(file, &d);
    if (!cfg || d.n) {
        uf_err_set(err, UF_EINVAL, "deployment: %s: %s", file, d.n ? d.v[0].msg : "cannot read");
        uf_diags_free(&d);
        uf_config_free(cfg);
        return NULL;
    }
    uf_diags_free(&d);
    json_t *model = uf_deploy_model(cfg);
    uf_config_free(cfg);
    struct uf_err lerr = { 0 };
    json_t *layout = uf_deploy_layout(model, &lerr); /* NULL: the page says why */
    if (!layout)
        layout = json_pack("{s:s}", "error", lerr.msg);
    struct uf_deploy_poll *p = uf_deploy_poll_new(model, layout, status, status_ctx);
    if (uf_deploy_poll_start(p, 1000, err) != 0) {
        uf_deploy_poll_free(p);
        return NULL;
    }
    return p;
}

static struct uf_deploy_site *site_new(void)
{
    struct uf_deploy_site *s = uf_xcalloc(1, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    return s;
}

struct uf_deploy_site *uf_deploy_site_new(struct uf_deploy_poll *poll, bool root)
{
    struct uf_deploy_site *s = site_new();
    s->poll = poll;
    s->root = root;
    return s;
}

struct uf_deploy_site *uf_deploy_site_new_lazy(const char *file)
{
    struct uf_deploy_site *s = site_new();
    s->file = file;
    return s;
}

/* The poller, made on first use for a lazy site; NULL with s->err when the file fails. */
static struct uf_deploy_poll *site_poll(struct uf_deploy_site *s)
{
    pthread_mutex_lock(&s->mu);
    if (!s->poll && s->file && !s->err[0]) {
        struct uf_err err = { 0 };
        s->poll = uf_deploy_poll_from_file(s->file, NULL, NULL, &err);
        s->owned = s->poll != NULL;
        if (!s->poll)
            memcpy(s->err, err.msg, sizeof s->err);
    }
    struct uf_deploy_poll *p = s->poll;
    pthread_mutex_unlock(&s->mu);
    return p;
}

static void reply_error(struct uf_admin_reply *out, const char *msg)
{
    json_t *j = json_pack("{s:{s:s,s:s}}", "error", "code", "unavailable", "message", msg);
    *out = (struct uf_admin_reply){ .status = 503,
                                    .type = "application/json",
                                    .body = json_dumps(j, JSON_COMPACT) };
    json_decref(j);
}

bool uf_deploy_site_route(void *site, const char *url, const struct uf_admin_req *req,
                          struct uf_admin_reply *out)
{
    struct uf_deploy_site *s = site;
    if (strcmp(url, "/deployment") == 0 || (s->root && strcmp(url, "/") == 0)) {
        uf_viz_asset_reply("deploy.html", out);
        return true;
    }
    if (strcmp(url, "/api/deployment") != 0)
        return false;
    struct uf_deploy_poll *p = site_poll(s);
    char *text = p ? uf_deploy_poll_text(p, FIRST_POLL_WAIT_MS) : NULL;
    if (text)
        *out = (struct uf_admin_reply){ .status = 200, .type = "application/json", .body = text };
    else
        reply_error(out, s->err[0] ? s->err : "the first poll has not finished yet");
    return true;
}

void uf_deploy_site_free(struct uf_deploy_site *s)
{
    if (!s)
        return;
    if (s->owned)
        uf_deploy_poll_free(s->poll);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
