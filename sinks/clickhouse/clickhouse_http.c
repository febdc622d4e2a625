/* sinks/clickhouse/clickhouse_http.c: HTTP to ClickHouse with libcurl, and uf_clickhouse_classify.
 * One sender thread drives a curl multi handle: several POSTs in flight at once (`inflight`),
 * connections kept alive in the multi handle's pool, requests started no earlier than their
 * `not_before` time (which is how retries back off without blocking anything). Callbacks run
 * on the sender thread, without the lock held, so they may post again. This file does not know
 * about batches or events: it moves bytes and reports what came back. The only file that
 * includes curl.h. */
#include "sinks/clickhouse/clickhouse.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "framework/mem.h"
#include "framework/stage.h"

struct req {
    char *url;
    const void *body;
    size_t len;
    int64_t not_before_us;
    uf_clickhouse_reply_fn fn;
    void *arg;
    CURL *easy;
    struct uf_strbuf resp;
    char errbuf[CURL_ERROR_SIZE];
    struct req *next;
};

struct uf_clickhouse_http {
    char *base, *user, *password;
    int inflight;
    int64_t timeout_ms;
    CURLM *multi;
    pthread_t thread;
    pthread_mutex_t lock;
    struct req *incoming, **incoming_tail; /* posted, not yet seen by the thread */
    bool quit;
    /* sender thread only: */
    struct req *waiting; /* not started yet, in posting order */
    struct req *active;  /* running */
    int running;
};

/* Retryable server codes: the server or the network is in a passing state, or the target is
 * missing or refuses us (an operator must act; nothing is wrong with the rows, so they wait
 * rather than go to the dead letters); the very same batch is expected to succeed later.
 * Everything else that carries a code is about the data or the columns, which a resend would
 * not change. */
static const int retryable_codes[] = {
    3,   /* UNEXPECTED_END_OF_FILE: the upload was cut */
    60,  /* UNKNOWN_TABLE */
    81,  /* UNKNOWN_DATABASE */
    192, /* UNKNOWN_USER */
    193, /* WRONG_PASSWORD */
    194, /* REQUIRED_PASSWORD */
    516, /* AUTHENTICATION_FAILED */
    40,  /* CHECKSUM_DOESNT_MATCH: we compute it deterministically, so it is transit damage */
    159, /* TIMEOUT_EXCEEDED */
    164, /* READONLY */
    202, /* TOO_MANY_SIMULTANEOUS_QUERIES */
    203, /* NO_FREE_CONNECTION */
    209, /* SOCKET_TIMEOUT */
    210, /* NETWORK_ERROR */
    241, /* MEMORY_LIMIT_EXCEEDED */
    242, /* TABLE_IS_READ_ONLY */
    252, /* TOO_MANY_PARTS */
    285, /* TOO_FEW_LIVE_REPLICAS */
    319, /* UNKNOWN_STATUS_OF_INSERT */
    394, /* QUERY_WAS_CANCELLED */
    425, /* SYSTEM_ERROR */
    999, /* KEEPER_EXCEPTION */
};

enum uf_clickhouse_class uf_clickhouse_classify(bool curl_failed, long status, const char *body,
                                                int *code)
{
    *code = 0;
    if (curl_failed)
        return UF_CLICKHOUSE_RETRYABLE;
    const char *p = body ? strstr(body, "Code: ") : NULL;
    if (p)
        *code = atoi(p + 6);
    if (status == 200 && *code == 0)
        return UF_CLICKHOUSE_SENT;
    if (*code == 0) /* no server code: a proxy, an overloaded or starting server */
        return status >= 500 || status == 408 || status == 429 ? UF_CLICKHOUSE_RETRYABLE
                                                               : UF_CLICKHOUSE_PERMANENT;
    for (size_t i = 0; i < sizeof(retryable_codes) / sizeof(retryable_codes[0]); i++) {
        if (retryable_codes[i] == *code)
            return UF_CLICKHOUSE_RETRYABLE;
    }
    return UF_CLICKHOUSE_PERMANENT;
}

char *uf_clickhouse_url_encode(const char *s)
{
    struct uf_strbuf sb = { 0 };
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || strchr("-_.~", *p))
            uf_strbuf_append(&sb, (const char *)p, 1);
        else
            uf_strbuf_printf(&sb, "%%%02X", *p);
    }
    if (!sb.buf)
        uf_strbuf_puts(&sb, "");
    return uf_strbuf_take(&sb);
}

static size_t on_data(char *ptr, size_t size, size_t n, void *arg)
{
    struct uf_strbuf *sb = arg;
    if (sb->len < 64 * 1024) /* error texts are short; never buffer a runaway answer */
        uf_strbuf_append(sb, ptr, size * n);
    return size * n;
}

static CURL *make_easy(const char *url, const char *user, const char *password, int64_t timeout_ms)
{
    CURL *e = curl_easy_init();
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
    if (user) {
        curl_easy_setopt(e, CURLOPT_USERNAME, user);
        curl_easy_setopt(e, CURLOPT_PASSWORD, password ? password : "");
    }
    return e;
}

static void *sender_main(void *arg);

struct uf_clickhouse_http *uf_clickhouse_http_new(const struct uf_clickhouse_http_cfg *cfg,
                                                  struct uf_err *err)
{
    struct uf_clickhouse_http *h = uf_xcalloc(1, sizeof(*h));
    h->base = uf_xstrdup(cfg->url);
    h->user = cfg->user ? uf_xstrdup(cfg->user) : NULL;
    h->password = cfg->password ? uf_xstrdup(cfg->password) : NULL;
    h->inflight = cfg->inflight;
    h->timeout_ms = cfg->timeout_ms;
    h->multi = curl_multi_init();
    curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)cfg->inflight);
    h->incoming_tail = &h->incoming;
    pthread_mutex_init(&h->lock, NULL);
    if (pthread_create(&h->thread, NULL, sender_main, h) != 0) {
        curl_multi_cleanup(h->multi);
        pthread_mutex_destroy(&h->lock);
        free(h->base);
        free(h->user);
        free(h->password);
        free(h);
        uf_err_set(err, UF_EIO, "cannot start the sender thread");
        return NULL;
    }
    return h;
}

void uf_clickhouse_http_post(struct uf_clickhouse_http *h, const char *params, const void *body,
                             size_t len, int64_t not_before_us, uf_clickhouse_reply_fn fn,
                             void *arg)
{
    struct req *r = uf_xcalloc(1, sizeof(*r));
    r->url = uf_xasprintf("%s/?%s", h->base, params);
    r->body = body;
    r->len = len;
    r->not_before_us = not_before_us;
    r->fn = fn;
    r->arg = arg;
    pthread_mutex_lock(&h->lock);
    *h->incoming_tail = r;
    h->incoming_tail = &r->next;
    pthread_mutex_unlock(&h->lock);
    curl_multi_wakeup(h->multi);
}

static void finish(struct req *r, bool failed, long status, const char *text)
{
    struct uf_clickhouse_reply rep = { .curl_failed = failed, .status = status, .body = text };
    r->fn(r->arg, &rep);
    uf_strbuf_free(&r->resp);
    free(r->url);
    free(r);
}

static void start(struct uf_clickhouse_http *h, struct req *r)
{
    r->easy = make_easy(r->url, h->user, h->password, h->timeout_ms);
    curl_easy_setopt(r->easy, CURLOPT_POST, 1L);
    curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, r->body);
    curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->len);
    curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, &r->resp);
    curl_easy_setopt(r->easy, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
    curl_multi_add_handle(h->multi, r->easy);
    r->next = h->active;
    h->active = r;
    h->running++;
}

/* Starts due requests while there is room; returns ms until the next one is due (or 1000). */
static long start_due(struct uf_clickhouse_http *h)
{
    long wait_ms = 1000;
    int64_t now = uf_now_us();
    struct req **pp = &h->waiting;
    while (*pp && h->running < h->inflight) {
        struct req *r = *pp;
        if (r->not_before_us > now) {
            long ms = (long)((r->not_before_us - now) / 1000) + 1;
            wait_ms = ms < wait_ms ? ms : wait_ms;
            pp = &r->next;
            continue;
        }
        *pp = r->next;
        r->next = NULL;
        start(h, r);
    }
    return wait_ms;
}

static void unlink_active(struct uf_clickhouse_http *h, struct req *r)
{
    struct req **pp = &h->active;
    while (*pp != r)
        pp = &(*pp)->next;
    *pp = r->next;
    r->next = NULL;
    curl_multi_remove_handle(h->multi, r->easy);
    curl_easy_cleanup(r->easy);
    r->easy = NULL;
    h->running--;
}

static void collect(struct uf_clickhouse_http *h)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(h->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        struct req *r;
        long status = 0;
        CURLcode rc = m->data.result;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &status);
        unlink_active(h, r);
        if (rc != CURLE_OK)
            finish(r, true, status, r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc));
        else
            finish(r, false, status, r->resp.buf ? r->resp.buf : "");
    }
}

/* Moves newly posted requests to the end of the waiting list; returns whether to quit. */
static bool take_incoming(struct uf_clickhouse_http *h)
{
    pthread_mutex_lock(&h->lock);
    struct req *in = h->incoming;
    h->incoming = NULL;
    h->incoming_tail = &h->incoming;
    bool quit = h->quit;
    pthread_mutex_unlock(&h->lock);
    struct req **pp = &h->waiting;
    while (*pp)
        pp = &(*pp)->next;
    *pp = in;
    return quit;
}

static void abort_all(struct uf_clickhouse_http *h)
{
    while (h->active) {
        struct req *r = h->active;
        unlink_active(h, r);
        finish(r, true, 0, "shutting down");
    }
    while (h->waiting) {
        struct req *r = h->waiting;
        h->waiting = r->next;
        finish(r, true, 0, "shutting down");
    }
}

static void *sender_main(void *arg)
{
    struct uf_clickhouse_http *h = arg;
    for (;;) {
        bool quit = take_incoming(h);
        if (quit)
            break;
        long wait_ms = start_due(h);
        int still;
        curl_multi_perform(h->multi, &still);
        collect(h);
        curl_multi_poll(h->multi, NULL, 0, (int)wait_ms, NULL);
    }
    /* Callbacks of aborted requests may post again; those land in incoming and are aborted
     * by the loop below until nothing is left. */
    do {
        abort_all(h);
        take_incoming(h);
    } while (h->waiting);
    return NULL;
}

void uf_clickhouse_http_free(struct uf_clickhouse_http *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->lock);
    h->quit = true;
    pthread_mutex_unlock(&h->lock);
    curl_multi_wakeup(h->multi);
    pthread_join(h->thread, NULL);
    curl_multi_cleanup(h->multi);
    pthread_mutex_destroy(&h->lock);
    free(h->base);
    free(h->user);
    free(h->password);
    free(h);
}

int uf_clickhouse_http_exec(const struct uf_clickhouse_http_cfg *cfg, const char *sql,
                            struct uf_strbuf *out, struct uf_err *err)
{
    char *url = uf_xasprintf("%s/", cfg->url);
    CURL *e = make_easy(url, cfg->user, cfg->password, cfg->timeout_ms);
    struct uf_strbuf resp = { 0 };
    char ebuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, sql);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, out ? out : &resp);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, ebuf);
    CURLcode rc = curl_easy_perform(e);
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    int ret = 0;
    if (rc != CURLE_OK)
        ret = uf_err_set(err, UF_EIO, "%s (%s)", ebuf[0] ? ebuf : curl_easy_strerror(rc), cfg->url);
    else if (status != 200)
        ret = uf_err_set(err, UF_EIO, "HTTP %ld: %.300s", status,
                         out ? (out->buf ? out->buf : "") : (resp.buf ? resp.buf : ""));
    uf_strbuf_free(&resp);
    curl_easy_cleanup(e);
    free(url);
    return ret;
}
