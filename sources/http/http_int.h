/* http_int.h: the parts of the `http` source shared by its files, not a public interface.
 * http.c holds the kind (options, lifecycle, the libmicrohttpd callbacks); http_routes.c parses
 * the route table and matches paths; http_request.c turns a request into events and carries
 * its reply back; http_raw.c checks a batch body emitted raw; http_reply.c builds responses;
 * http_work.c runs the batch workers. A struct http_req is reference-counted (the connection's
 * reference and the completion's). Lock order: request, then route. The states, the stop and
 * why libmicrohttpd needs them: docs/architecture.md, "sources/http". */
#ifndef UF_HTTP_INT_H
#define UF_HTTP_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <jansson.h>
#include <microhttpd.h>

#include "framework/err.h"

struct uf_stage;
struct uf_event;

enum http_auth { HTTP_AUTH_UNSET, HTTP_AUTH_REGISTERED, HTTP_AUTH_OPTIONAL, HTTP_AUTH_NONE };
enum http_body { HTTP_BODY_NONE, HTTP_BODY_JSON };

struct http_req;

struct http_route {
    char *key;  /* "POST /api/v1/movies/{movie_id}/like", as configured */
    char *name; /* `name`, default: the key */
    char *method;
    char **segs; /* path template split at '/'; "{x}" segments are parameters */
    size_t nsegs, nparams;
    size_t literals; /* literal segments rank routes that match the same path */
    enum http_auth auth;
    enum http_body body;
    bool split_array, batch, wait; /* batch: one event, body.body = the items (see docs) */
    int64_t max_items, timeout_ms, max_body;
    int success_status;
    json_t *j_name, *j_method, *j_auth; /* as every request's meta holds them (j_auth NULL when
                                         * unset): shared, jansson strings never change */
    /* Requests waiting for their completion, oldest first (one timeout per route keeps the
     * list ordered by deadline). */
    pthread_mutex_t lock;
    struct http_req *head, *tail;
    _Atomic int64_t *m_requests, *m_client_errors, *m_server_errors, *m_timeouts, *m_limited;
    struct http_limit *limit; /* `rate_limit`, NULL when none (http_limit.c) */
    bool limit_shared;        /* limit is an earlier route's (the same mapping): one budget */
};

/* A per-client rate limit (http_limit.c) parsed from its mapping; NULL with err when invalid. */
struct http_limit *http_limit_parse(const json_t *m, struct uf_err *err);
void http_limit_free(struct http_limit *l);
/* true when both were declared with equal mappings. */
bool http_limit_same(const struct http_limit *a, const struct http_limit *b);
/* Takes a token for the request's client; false with *retry_after_ms when over the limit.
 * trusted: the header a trusted proxy sets to the client's IP, or NULL. Thread-safe. */
bool http_limit_allows(const struct http_limit *l, struct MHD_Connection *conn, const char *trusted,
                       int64_t *retry_after_ms);

struct http_routes {
    struct http_route *v;
    size_t n;
};

/* Defaults applied to routes that do not set a value. */
struct http_route_defaults {
    int64_t timeout_ms, max_body, max_items;
    int success_status;
};

/* Parses the `routes` option (an object: "METHOD /path" -> settings). Returns 0 or UF_EINVAL
 * with a message naming the route and the setting. No I/O. */
int http_routes_parse(const json_t *map, const struct http_route_defaults *d,
                      struct http_routes *out, struct uf_err *err);
void http_routes_free(struct http_routes *r);
/* Declares each route and the event paths it fills (stage.h, uf_stage_route_provides), at the
 * position of its key in the `routes` option. Init only. */
void http_routes_declare(const struct http_routes *r, struct uf_stage *st);

/* Finds the route for method and path; fills params (an object) with the path parameters.
 * When no route matches, returns NULL and sets *path_known when some route matches the path with
 * another method; `allow` then lists those methods ("GET, POST"). */
struct http_route *http_routes_match(const struct http_routes *r, const char *method,
                                     const char *path, json_t *params, bool *path_known,
                                     char *allow, size_t allow_len);

/* The source's context (filled from the options table, see http.c). */
struct http_ctx {
    char *address;
    json_t *routes_opt;
    int64_t threads, max_connections, max_body, timeout_ms, idle_timeout_ms, retry_after_ms;
    int64_t connection_memory;
    int event_loop; /* index into loop_values: 0 epoll, 1 poll */
    int64_t max_items, success_status;
    int64_t batch_workers, offload_items;
    json_t *rate_limit_opt; /* the listener's limit, for every route without its own */
    char *client_ip_header; /* set by a trusted proxy to the client's IP; NULL: the peer */
    struct http_limit *limit;

    struct uf_stage *st;
    /* Set once in start: every path downstream ends a batch held as text, so batch routes
     * emit the request's text unparsed (http_request.c). */
    bool batch_text;
    struct sockaddr_storage addr; /* parsed from `address` in init */
    bool ipv6;
    struct http_routes routes;
    /* One daemon per listener thread, all on the same port (see start_listeners in http.c). */
    struct MHD_Daemon *daemons[64]; /* `threads` is at most 64 */
    size_t ndaemons;
    atomic_bool stopping;      /* stop began: no new request emits events */
    atomic_bool abandoning;    /* stop gave up waiting: no request suspends any more */
    _Atomic int64_t inflight;  /* requests between arrival and MHD's completion notice */
    _Atomic int64_t emitting;  /* MHD threads and batch workers between emitting and answering
                                * or suspending (or, for a worker, listing or resuming) */
    _Atomic int64_t suspended; /* connections suspended by us and not yet resumed */
    _Atomic int64_t *m_port, *m_inflight, *m_not_found, *m_offloaded;
    pthread_t timer;
    bool timer_running;
    pthread_mutex_t timer_lock;
    pthread_cond_t timer_cond;
    bool timer_stop, timer_kick;
    /* Batch requests offloaded to the workers (http_work.c), in arrival order. */
    pthread_mutex_t work_lock;
    pthread_cond_t work_cond;
    struct http_req *work_head, *work_tail;
    size_t work_len;
    bool work_stop;
    pthread_t workers[64]; /* `batch_workers` is at most 64 */
    size_t nworkers;
};

enum req_state {
    REQ_READING,   /* receiving the body */
    REQ_EMITTING,  /* events are being emitted by the MHD thread */
    REQ_SUSPENDED, /* connection suspended, waiting for the completion or the timeout */
    REQ_READY,     /* the reply is decided; the MHD thread sends it */
    REQ_ANSWERED,
};

struct http_req {
    struct http_ctx *hc;
    struct http_route *route;
    struct MHD_Connection *conn;
    char *path;
    pthread_mutex_t lock;
    atomic_int refs;
    enum req_state state;
    char *body; /* bounded by the route's max_body */
    size_t len, cap;
    bool too_large;
    json_t *params;
    int status; /* the reply, once READY */
    json_t *reply;
    char *reply_text; /* or the reply as JSON text (uf_event_reply_text) */
    size_t reply_len;
    json_t *reply_headers; /* stages' headers (uf_event_reply_header), or NULL */
    size_t nevents;
    size_t nitems; /* items of a batch or split_array request: {"accepted": n} */
    int64_t start_us, deadline_us;
    bool listed; /* on the route's pending list (route lock) */
    struct http_req *prev, *next;
    struct uf_event **work; /* offloaded: the events a worker emits (http_work.c) */
    struct http_req *work_next;
    char request_id[65];
};

/* ---- http_request.c ---- */
/* Takes ownership of params. */
struct http_req *http_req_new(struct http_ctx *hc, struct http_route *route,
                              struct MHD_Connection *conn, const char *path, json_t *params);
void http_req_unref(struct http_req *req);
/* Appends upload data, remembering (not failing) when the route's max_body is passed. */
void http_req_append(struct http_req *req, const char *data, size_t n);
/* The body is complete: builds the events, emits them and either answers at once or suspends
 * the connection until the completion or the timeout. */
enum MHD_Result http_req_dispatch(struct http_req *req);
/* Called when MHD resumes the connection: queues the decided reply (MHD_NO, closing the
 * connection, if the request is not READY). */
enum MHD_Result http_req_answer(struct http_req *req);
/* Answers every request whose deadline passed with 504; returns the earliest deadline left
 * (INT64_MAX when none). */
int64_t http_req_expire(struct http_ctx *hc, int64_t now_us);
/* Shutdown: answers every waiting request with 503 so that MHD can be stopped. Requests that
 * suspend later are not seen: set hc->abandoning first and repeat until hc->suspended is 0. */
void http_req_abandon_all(struct http_ctx *hc);
/* An offloaded request on a worker: emits its events (or answers 503 when the source is
 * stopping) and settles it: listed until its completion, or resumed to be answered. */
void http_req_work(struct http_req *req);

/* ---- http_work.c ---- */
/* The batch workers: a request of a batch or split_array route with at least `offload_items`
 * items has its connection suspended and its events emitted by a worker, so the listener
 * thread goes on serving its other connections meanwhile. */
void http_work_init(struct http_ctx *hc);
int http_work_start(struct http_ctx *hc, struct uf_err *err);
/* Whether req goes to a worker; if so, takes evs and suspends the connection (listener
 * thread, in the request's callback). */
bool http_work_offload(struct http_req *req, struct uf_event **evs);
/* After the daemons stopped (nothing more is offloaded): the workers finish what is queued
 * and end. */
void http_work_stop(struct http_ctx *hc);
void http_work_destroy(struct http_ctx *hc);

/* ---- http_raw.c ---- */
/* What the raw path answers a batch body. */
struct http_raw_verdict {
    int status;               /* 0: accepted; else 400 or 413 */
    const char *code;         /* the error code (static), when status is set */
    char msg[UF_ERR_MSG_MAX]; /* the error message, when status is set */
    long long position;       /* malformed JSON: the byte offset; else -1 */
    long long index;          /* an item that is not an object: its index; else -1 */
    size_t nitems;            /* accepted: the items of the batch (an object is one) */
};
/* Checks body[0..len) as a batch route's tree path would (see http_raw.c). Never fails other
 * than by its verdict. */
void http_raw_check(const char *body, size_t len, int64_t max_items, struct http_raw_verdict *v);
/* The verdict on a batch of n items whose first non-object is at non_object (SIZE_MAX: none),
 * for both paths: 413 for more than max_items, else 400 naming the item; status 0 when fine.
 * v must start as http_raw_check starts it (index -1). */
void http_items_verdict(size_t n, size_t non_object, int64_t max_items, struct http_raw_verdict *v);

/* ---- http_reply.c ---- */
struct http_reply_info {
    const char *request_id; /* X-Request-Id, may be NULL */
    const char *allow;      /* Allow header for 405, may be NULL */
    int64_t retry_after_ms; /* for 503 and 429 */
    bool close;             /* Connection: close */
    const json_t *headers;  /* stages' headers, name -> string; may be NULL */
};
/* Sends status with body (takes ownership; NULL sends no body). Adds the headers the status
 * calls for: Allow (405), WWW-Authenticate (401), Retry-After (503). */
enum MHD_Result http_send(struct MHD_Connection *conn, int status, json_t *body,
                          const struct http_reply_info *info);
/* Sends status with a body that is already JSON text (takes ownership of the malloc'd text). */
enum MHD_Result http_send_text(struct MHD_Connection *conn, int status, char *text, size_t len,
                               const struct http_reply_info *info);
/* {"error":{"code","message"}} as a new object. */
json_t *http_error_body(const char *code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
enum MHD_Result http_send_error(struct MHD_Connection *conn, int status, const char *code,
                                const char *msg, const struct http_reply_info *info);
/* Counts the reply on the route's metrics. */
void http_count_status(struct http_route *route, int status);

#endif
