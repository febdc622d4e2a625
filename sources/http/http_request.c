/* http_request.c: one HTTP request's life in the `http` source: body, events, completion, reply.
 * A request becomes one event (the envelope {"route","method","path","params","query","body"}),
 * one per array item on split_array routes, or on batch routes one event whose body is the
 * array of items. All its events share one completion, whose status and body become the reply
 * (else the route's success status with {"accepted": n}); a per-route timer answers 504 when it
 * is late. Batches held as text borrow the body from the request until the completion runs.
 * Reference counting and lock order: http_int.h; the details: docs/architecture.md,
 * "sources/http". */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "framework/event.h"
#include "framework/log.h"
#include "framework/mem.h"
#include "framework/netaddr.h"
#include "framework/stage.h"
#include "framework/uuid.h"
#include "sources/http/http_int.h"

/* A client's X-Request-Id is kept when it is short and made of safe characters, so it can be
 * logged and echoed without escaping. */
static bool request_id_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 64)
        return false;
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

struct http_req *http_req_new(struct http_ctx *hc, struct http_route *route,
                              struct MHD_Connection *conn, const char *path, json_t *params)
{
    struct http_req *req = uf_xcalloc(1, sizeof(*req));
    req->path = uf_xstrdup(path);
    req->hc = hc;
    req->route = route;
    req->conn = conn;
    req->params = params;
    pthread_mutex_init(&req->lock, NULL);
    atomic_init(&req->refs, 1);
    req->state = REQ_READING;
    req->start_us = uf_now_us();
    const char *rid = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
    if (request_id_ok(rid))
        snprintf(req->request_id, sizeof(req->request_id), "%s", rid);
    else {
        uint8_t id[16];
        uf_uuid_v7(id);
        uf_uuid_format(id, req->request_id);
    }
    return req;
}

void http_req_unref(struct http_req *req)
{
    if (!req || atomic_fetch_sub(&req->refs, 1) != 1)
        return;
    free(req->body);
    free(req->path);
    json_decref(req->params);
    json_decref(req->reply);
    json_decref(req->reply_headers);
    free(req->reply_text);
    pthread_mutex_destroy(&req->lock);
    free(req);
}

void http_req_append(struct http_req *req, const char *data, size_t n)
{
    if (req->too_large)
        return;
    if (req->len + n > (size_t)req->route->max_body) {
        req->too_large = true;
        free(req->body);
        req->body = NULL;
        return;
    }
    if (req->len + n + 1 > req->cap) {
        req->cap = req->cap ? req->cap : 1024;
        while (req->cap < req->len + n + 1)
            req->cap *= 2;
        req->body = uf_xrealloc(req->body, req->cap);
    }
    memcpy(req->body + req->len, data, n);
    req->len += n;
}

static struct http_reply_info reply_info(const struct http_req *req)
{
    return (struct http_reply_info){
        .request_id = req->request_id,
        .retry_after_ms = req->hc->retry_after_ms,
        .close = atomic_load(&req->hc->stopping),
    };
}

/* Answers at once from the MHD thread (before anything was emitted). Takes ownership of body. */
static enum MHD_Result reply_now(struct http_req *req, int status, json_t *body)
{
    struct http_reply_info info = reply_info(req);
    req->state = REQ_ANSWERED;
    http_count_status(req->route, status);
    return http_send(req->conn, status, body, &info);
}

/* ---- building events ---- */

struct req_facts {
    json_t *query; /* object of strings */
    bool bad_utf8;
};

static enum MHD_Result add_query(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
    struct req_facts *f = cls;
    json_t *v = json_string(value ? value : "");
    json_t *k = key ? json_string(key) : NULL; /* NULL when the key is not valid UTF-8 */
    bool key_ok = k != NULL;
    json_decref(k);
    if (!v || !key_ok) {
        json_decref(v);
        f->bad_utf8 = true;
        return MHD_NO;
    }
    if (!json_object_get(f->query, key))
        json_object_set_new(f->query, key, v);
    else
        json_decref(v);
    return MHD_YES;
}

static void client_ip(struct MHD_Connection *conn, char *out, size_t n)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    out[0] = '\0';
    if (sa && sa->sa_family == AF_INET)
        uf_addr_format(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, n);
    else if (sa && sa->sa_family == AF_INET6)
        uf_addr_format(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, n);
}

/* The raw bearer token (the scheme is case-insensitive, RFC 6750 section 2.1), or NULL. */
static const char *bearer_token(struct MHD_Connection *conn)
{
    const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return NULL;
    h += 7;
    while (*h == ' ')
        h++;
    return *h ? h : NULL;
}

/* The meta of the request's events, one object they share (uf_event_set_item). Its
 * params and query are its own copies (the envelope refers to the request's), so a stage that
 * changes one (validate's coerce) does not change the other. */
static json_t *request_meta(struct http_req *req, json_t *query)
{
    char ip[INET6_ADDRSTRLEN];
    client_ip(req->conn, ip, sizeof(ip));
    const struct http_route *r = req->route;
    json_t *meta = json_object(); /* the keys are ours (ASCII): no UTF-8 check needed */
    json_object_set_new_nocheck(meta, "route", json_incref(r->j_name));
    json_object_set_new_nocheck(meta, "request_id", json_string(req->request_id));
    json_object_set_new_nocheck(meta, "method", json_incref(r->j_method));
    json_object_set_new_nocheck(meta, "ip", json_string(ip));
    json_object_set_new_nocheck(meta, "params", json_deep_copy(req->params));
    json_object_set_new_nocheck(meta, "query", json_deep_copy(query));
    json_t *p = json_string(req->path);
    json_object_set_new_nocheck(meta, "path", p ? p : json_string(""));
    const char *ua = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "User-Agent");
    json_t *uav = ua ? json_stringn(ua, strnlen(ua, 512)) : NULL;
    if (uav)
        json_object_set_new_nocheck(meta, "user_agent", uav);
    if (r->j_auth)
        json_object_set_new_nocheck(meta, "auth", json_incref(r->j_auth));
    const char *token = bearer_token(req->conn);
    json_t *tv = token ? json_stringn(token, strnlen(token, 16384)) : NULL;
    if (tv)
        json_object_set_new_nocheck(meta, "token", tv);
    return meta;
}

/* Takes ownership of body and meta. */
static struct uf_event *event_with_meta(json_t *body, json_t *meta)
{
    struct uf_event *ev = uf_event_new(body);
    uf_event_set_meta(ev, meta);
    return ev;
}

/* ---- parsing the body ---- */

/* Parses the body; on failure answers 400 and returns NULL with *answered set. */
static json_t *parse_body(struct http_req *req, enum MHD_Result *answered)
{
    json_error_t jerr;
    if (req->len == 0) {
        *answered = reply_now(req, 400, http_error_body("empty_body", "a JSON body is required"));
        return NULL;
    }
    json_t *body = json_loadb(req->body, req->len, JSON_REJECT_DUPLICATES, &jerr);
    if (!body) {
        json_t *e = http_error_body("malformed_json", "malformed JSON at line %d, column %d: %s",
                                    jerr.line, jerr.column, jerr.text);
        json_object_set_new(json_object_get(e, "error"), "position", json_integer(jerr.position));
        *answered = reply_now(req, 400, e);
        return NULL;
    }
    bool many = req->route->split_array || req->route->batch;
    if (!json_is_object(body) && !(many && json_is_array(body))) {
        json_decref(body);
        *answered = reply_now(req, 400,
                              http_error_body("malformed_json", "%s",
                                              many ? "body must be a JSON object or array"
                                                   : "body must be a JSON object"));
        return NULL;
    }
    return body;
}

/* The error answer for a verdict of http_raw.c (a raw body's, or the items' on either path). */
static json_t *raw_error(const struct http_raw_verdict *v)
{
    json_t *e = http_error_body(v->code, "%s", v->msg);
    json_t *inner = json_object_get(e, "error");
    if (v->position >= 0)
        json_object_set_new(inner, "position", json_integer((json_int_t)v->position));
    if (v->index >= 0)
        json_object_set_new(inner, "index", json_integer((json_int_t)v->index));
    return e;
}

/* Checks the items of a split_array or batch body; on failure answers and returns false. */
static bool check_items(struct http_req *req, const json_t *items, enum MHD_Result *answered)
{
    size_t n = json_array_size(items), non_object = SIZE_MAX;
    for (size_t i = 0; i < n && non_object == SIZE_MAX; i++)
        if (!json_is_object(json_array_get(items, i)))
            non_object = i;
    struct http_raw_verdict v = { .position = -1, .index = -1 };
    http_items_verdict(n, non_object, req->route->max_items, &v);
    if (v.status)
        *answered = reply_now(req, v.status, raw_error(&v));
    return v.status == 0;
}

/* Builds the request's events into *evs (count in req->nevents). Takes ownership of body and
 * meta; query (the envelope's) is borrowed. */
static struct uf_event **build_events(struct http_req *req, json_t *body, json_t *meta,
                                      json_t *query)
{
    if (req->route->batch && json_is_object(body)) {
        json_t *arr = json_array();
        json_array_append_new(arr, body);
        body = arr;
    }
    if (req->route->batch)
        req->nitems = json_array_size(body);
    if (!req->route->split_array) {
        json_t *env = json_pack("{s:s,s:s,s:O,s:O,s:O}", "route", req->route->name, "method",
                                req->route->method, "path", json_object_get(meta, "path"), "params",
                                req->params, "query", query);
        if (body)
            json_object_set_new(env, "body", body);
        struct uf_event **evs = uf_xmalloc(sizeof(*evs));
        evs[0] = event_with_meta(env, meta);
        req->nevents = 1;
        return evs;
    }
    if (json_is_object(body)) {
        json_t *arr = json_array();
        json_array_append_new(arr, body);
        body = arr;
    }
    size_t n = json_array_size(body);
    struct uf_event **evs = uf_xcalloc(n ? n : 1, sizeof(*evs));
    for (size_t i = 0; i < n; i++) {
        evs[i] = uf_event_new(json_incref(json_array_get(body, i)));
        uf_event_set_item(evs[i], meta, i, n);
    }
    json_decref(body);
    json_decref(meta);
    req->nevents = req->nitems = n;
    return evs;
}

/* ---- emitting and waiting ---- */

static void route_unlist(struct http_route *r, struct http_req *req)
{
    if (!req->listed)
        return;
    if (req->prev)
        req->prev->next = req->next;
    else
        r->head = req->next;
    if (req->next)
        req->next->prev = req->prev;
    else
        r->tail = req->prev;
    req->prev = req->next = NULL;
    req->listed = false;
}

/* Resumes the connection of a request that was just made READY, after req->lock is released:
 * the MHD thread it wakes takes that lock at once (http_req_answer), and resuming under it made
 * that thread sleep on the lock, a futex wait and a context switch for most replies. Nothing
 * else resumes a READY request, and `suspended` drops only after the resume, so stop() cannot
 * stop the daemon in between (libmicrohttpd aborts when stopped with a suspended connection). */
static void resume(struct http_req *req)
{
    MHD_resume_connection(req->conn);
    atomic_fetch_sub(&req->hc->suspended, 1);
}

/* Runs on whichever thread released the last reference; must not block. */
static void on_complete(struct uf_completion *c, void *arg)
{
    struct http_req *req = arg;
    bool suspended = false;
    pthread_mutex_lock(&req->lock);
    if (req->state == REQ_EMITTING || req->state == REQ_SUSPENDED) {
        req->status = uf_completion_status(c);
        req->reply = uf_completion_take_body(c);
        req->reply_text = uf_completion_take_text(c, &req->reply_len);
        req->reply_headers = uf_completion_take_headers(c);
        suspended = req->state == REQ_SUSPENDED;
        /* READY before resuming: the MHD thread may call back before resume returns. */
        req->state = REQ_READY;
        if (suspended) {
            pthread_mutex_lock(&req->route->lock);
            route_unlist(req->route, req);
            pthread_mutex_unlock(&req->route->lock);
        }
    }
    pthread_mutex_unlock(&req->lock);
    if (suspended)
        resume(req);
    http_req_unref(req);
}

static void wake_timer(struct http_ctx *hc)
{
    pthread_mutex_lock(&hc->timer_lock);
    hc->timer_kick = true;
    pthread_cond_signal(&hc->timer_cond);
    pthread_mutex_unlock(&hc->timer_lock);
}

/* Decides the reply of a request whose reply is not decided yet: 503, the source is stopping
 * (req->lock held). */
static void ready_shutting_down(struct http_req *req)
{
    req->status = 503;
    req->reply = http_error_body("shutting_down", "the server is shutting down");
    req->state = REQ_READY;
}

/* Settles a request whose events are out: true when its reply is decided, because the
 * completion already ran while the events were emitted, or stop() already abandoned the
 * waiting requests (nothing would resume this one then, and libmicrohttpd aborts when stopped
 * with a suspended connection, so it gets 503 now; the late completion is ignored, as after a
 * 504). Otherwise lists it for the timer as SUSPENDED until the completion or the timer
 * resumes it, suspending the connection first when `suspend` (a listener's request; an
 * offloaded one is suspended already). */
static bool settle(struct http_req *req, bool suspend)
{
    struct http_route *r = req->route;
    pthread_mutex_lock(&req->lock);
    if (req->state != REQ_READY && atomic_load(&req->hc->abandoning))
        ready_shutting_down(req);
    if (req->state == REQ_READY) {
        pthread_mutex_unlock(&req->lock);
        return true;
    }
    req->state = REQ_SUSPENDED;
    if (suspend)
        atomic_fetch_add(&req->hc->suspended, 1);
    pthread_mutex_lock(&r->lock);
    bool was_empty = r->head == NULL;
    req->prev = r->tail;
    if (r->tail)
        r->tail->next = req;
    else
        r->head = req;
    r->tail = req;
    req->listed = true;
    pthread_mutex_unlock(&r->lock);
    if (suspend)
        MHD_suspend_connection(req->conn);
    pthread_mutex_unlock(&req->lock);
    if (was_empty)
        wake_timer(req->hc);
    return false;
}

/* Suspends the connection until the completion or the timer resumes it, unless the reply is
 * decided already (settle): then it is answered now. */
static enum MHD_Result wait_or_answer(struct http_req *req)
{
    return settle(req, true) ? http_req_answer(req) : MHD_YES;
}

/* Emits the events in order; stops at the first refusal (the engine failed that event through
 * the completion) and frees the events not emitted. Returns uf_emit's first error or 0. */
static int emit_all(struct http_req *req, struct uf_event **evs, struct uf_completion *c)
{
    int rc = 0;
    for (size_t i = 0; i < req->nevents; i++) {
        if (rc) {
            uf_event_free(evs[i]);
            continue;
        }
        if (c)
            uf_completion_attach(c, evs[i]);
        rc = uf_emit(req->hc->st, evs[i]);
    }
    return rc;
}

/* Emits the events, sharing a completion when the route waits for one (*waits). Returns
 * uf_emit's first error or 0. */
static int emit_events(struct http_req *req, struct uf_event **evs, bool *waits)
{
    struct uf_completion *c = NULL;
    /* The timeout runs from the emit, on a listener or a worker alike: the route's list of
     * waiting requests stays in deadline order, which the timer relies on. */
    req->deadline_us = uf_now_us() + req->route->timeout_ms * 1000;
    req->state = REQ_EMITTING;
    if (req->route->wait && req->nevents > 0) {
        atomic_fetch_add(&req->refs, 1);
        c = uf_completion_new(on_complete, req);
    }
    int rc = emit_all(req, evs, c);
    free(evs);
    if (c)
        uf_completion_release(c);
    *waits = c != NULL;
    return rc;
}

static enum MHD_Result emit_and_wait(struct http_req *req, struct uf_event **evs)
{
    bool waits;
    int rc = emit_events(req, evs, &waits);
    if (waits)
        return wait_or_answer(req);
    if (rc) {
        bool closed = rc == UF_ECLOSED;
        return reply_now(req, 503,
                         http_error_body(closed ? "shutting_down" : "overloaded", "%s",
                                         closed ? "the server is shutting down"
                                                : "the server is overloaded; retry later"));
    }
    req->state = REQ_READY;
    return http_req_answer(req);
}

/* Counts the MHD thread as emitting until the request is answered or suspended, so stop() can
 * wait for it (uf_emit may block on a full queue for a while). */
static enum MHD_Result emit_request(struct http_req *req, struct uf_event **evs)
{
    if (http_work_offload(req, evs))
        return MHD_YES;
    atomic_fetch_add(&req->hc->emitting, 1);
    enum MHD_Result rc = emit_and_wait(req, evs);
    atomic_fetch_sub(&req->hc->emitting, 1);
    return rc;
}

void http_req_work(struct http_req *req)
{
    struct http_ctx *hc = req->hc;
    struct uf_event **evs = req->work;
    req->work = NULL;
    atomic_fetch_add(&hc->emitting, 1);
    bool ready = true;
    if (atomic_load(&hc->stopping)) { /* as http_req_dispatch: a stopping source emits nothing */
        for (size_t i = 0; i < req->nevents; i++)
            uf_event_free(evs[i]);
        free(evs);
        pthread_mutex_lock(&req->lock);
        ready_shutting_down(req);
        pthread_mutex_unlock(&req->lock);
    } else {
        bool waits; /* always: only requests that wait are offloaded */
        emit_events(req, evs, &waits);
        ready = settle(req, false); /* false: listed, the completion or the timer resumes it */
    }
    if (ready)
        resume(req); /* the listener answers */
    atomic_fetch_sub(&hc->emitting, 1);
}

/* ---- raw batches ---- */

/* The request's one raw event (see the file comment for whose text it carries). Takes
 * ownership of meta. */
static struct uf_event *raw_event(struct http_req *req, json_t *meta)
{
    struct uf_event *ev = uf_event_new_raw(req->body, req->len, NULL);
    uf_event_set_raw_checked(ev, true); /* http_raw_check: strictly, duplicate keys refused */
    if (!req->route->wait) /* no completion keeps the request, and so its body, alive */
        uf_event_own_raw(ev);
    uf_event_set_meta(ev, meta);
    return ev;
}

/* A batch request on the raw path: checks, then emits the one raw event. Takes ownership of
 * query. */
static enum MHD_Result dispatch_raw(struct http_req *req, json_t *query)
{
    struct http_raw_verdict v;
    http_raw_check(req->body, req->len, req->route->max_items, &v);
    if (v.status) {
        json_decref(query);
        return reply_now(req, v.status, raw_error(&v));
    }
    req->nitems = v.nitems;
    json_t *meta = request_meta(req, query);
    json_decref(query);
    struct uf_event **evs = uf_xmalloc(sizeof(*evs));
    evs[0] = raw_event(req, meta);
    req->nevents = 1;
    return emit_request(req, evs);
}

enum MHD_Result http_req_dispatch(struct http_req *req)
{
    enum MHD_Result answered = MHD_YES;
    /* A body that finished uploading after stop began: a stopping source emits nothing. */
    if (atomic_load(&req->hc->stopping))
        return reply_now(req, 503, http_error_body("shutting_down", "the server is shutting down"));
    if (req->too_large)
        return reply_now(req, 413,
                         http_error_body("body_too_large", "request body is larger than %lld bytes",
                                         (long long)req->route->max_body));
    if (json_object_size(req->params) != req->route->nparams)
        return reply_now(req, 400,
                         http_error_body("invalid_path", "a path parameter is not valid UTF-8"));
    struct req_facts f = { .query = json_object() };
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, add_query, &f);
    if (f.bad_utf8) {
        json_decref(f.query);
        return reply_now(req, 400,
                         http_error_body("invalid_query", "a query parameter is not valid UTF-8"));
    }
    if (req->route->batch && req->hc->batch_text)
        return dispatch_raw(req, f.query);
    json_t *body = NULL;
    if (req->route->body == HTTP_BODY_JSON && !(body = parse_body(req, &answered))) {
        json_decref(f.query);
        return answered;
    }
    bool many = req->route->split_array || req->route->batch;
    if (many && json_is_array(body) && !check_items(req, body, &answered)) {
        json_decref(body);
        json_decref(f.query);
        return answered;
    }
    json_t *meta = request_meta(req, f.query);
    struct uf_event **evs = build_events(req, body, meta, f.query);
    json_decref(f.query);
    return emit_request(req, evs);
}

enum MHD_Result http_req_answer(struct http_req *req)
{
    pthread_mutex_lock(&req->lock);
    if (req->state != REQ_READY) {
        pthread_mutex_unlock(&req->lock);
        return MHD_NO;
    }
    int status = req->status;
    json_t *body = req->reply;
    char *text = req->reply_text;
    size_t text_len = req->reply_len;
    req->reply = NULL;
    req->reply_text = NULL;
    req->state = REQ_ANSWERED;
    pthread_mutex_unlock(&req->lock);
    if (text && status == 0)
        status = req->route->success_status;
    if (status == 0) {
        status = req->route->success_status;
        size_t n = req->route->split_array || req->route->batch ? req->nitems : req->nevents;
        if (!body)
            body = json_pack("{s:I}", "accepted", (json_int_t)n);
    } else if (status >= 400 && !body)
        body = http_error_body("error", "request failed with status %d", status);
    struct http_reply_info info = reply_info(req);
    info.headers = req->reply_headers; /* freed with the request, after the send copied them */
    http_count_status(req->route, status);
    uf_log(UF_LOG_TRACE, req->hc->st, "Request answered.", "route", req->route->name, "request_id",
           req->request_id);
    if (text) {
        json_decref(body); /* a completion holds one of the two; a text wins */
        return http_send_text(req->conn, status, text, text_len, &info);
    }
    return http_send(req->conn, status, body, &info);
}

/* ---- timeouts and shutdown ---- */

/* Moves a route's requests whose deadline is <= now onto *out (each with a reference). */
static int64_t take_expired(struct http_route *r, int64_t now, struct http_req **out)
{
    pthread_mutex_lock(&r->lock);
    while (r->head && r->head->deadline_us <= now) {
        struct http_req *req = r->head;
        route_unlist(r, req);
        atomic_fetch_add(&req->refs, 1);
        req->next = *out;
        *out = req;
    }
    int64_t next = r->head ? r->head->deadline_us : INT64_MAX;
    pthread_mutex_unlock(&r->lock);
    return next;
}

static void resume_with(struct http_req *req, int status, json_t *body)
{
    bool suspended = false;
    pthread_mutex_lock(&req->lock);
    if (req->state == REQ_SUSPENDED) {
        req->status = status;
        json_decref(req->reply);
        free(req->reply_text);
        req->reply = body;
        req->reply_text = NULL;
        body = NULL;
        req->state = REQ_READY; /* before resuming, as in on_complete */
        suspended = true;
    }
    pthread_mutex_unlock(&req->lock);
    if (suspended)
        resume(req);
    json_decref(body);
}

static int64_t answer_expired(struct http_ctx *hc, int64_t now, int status)
{
    int64_t next = INT64_MAX;
    struct http_req *list = NULL;
    for (size_t i = 0; i < hc->routes.n; i++) {
        int64_t t = take_expired(&hc->routes.v[i], now, &list);
        next = t < next ? t : next;
    }
    while (list) {
        struct http_req *req = list;
        list = req->next;
        req->next = NULL;
        json_t *body = status == 504
                           ? http_error_body("timeout", "no reply within %lld ms",
                                             (long long)req->route->timeout_ms)
                           : http_error_body("shutting_down", "the server is shutting down");
        resume_with(req, status, body);
        http_req_unref(req);
    }
    return next;
}

int64_t http_req_expire(struct http_ctx *hc, int64_t now_us)
{
    return answer_expired(hc, now_us, 504);
}

void http_req_abandon_all(struct http_ctx *hc)
{
    answer_expired(hc, INT64_MAX, 503);
}
