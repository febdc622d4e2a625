/* postgres_pool.h: a pool of PostgreSQL connections that run calls (postgres_call.h) in
 * pipeline mode, one thread per connection: it sends up to `pipeline_max` queued calls at once,
 * each its own implicit transaction closed by a sync, then reads the answers in order, so
 * concurrent requests share a round trip. A lost connection fails its in-flight calls with 503
 * and is reopened with backoff; a call unanswered past statement_timeout fails with 504. Every
 * call ends in exactly one finish callback, on a pool thread (or in submit/free). Failures and
 * the outbox NOTIFY: docs/architecture.md, "sinks/postgres". */
#ifndef UF_POSTGRES_POOL_H
#define UF_POSTGRES_POOL_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdint.h>

#include "framework/err.h"
#include "framework/pg.h"
#include "sinks/postgres/postgres_call.h"

struct uf_stage;
struct uf_pg_pool;

struct uf_pg_failure {
    int status;       /* 503, 504, 500, 409 or 400 */
    const char *code; /* static: store_unavailable, store_timeout, store_error... */
    char msg[256];
};

/* Takes ownership of call. rows (n rows' columns, borrowed for the call) are set when the
 * statement succeeded, f otherwise. Must not block for long: it runs on a connection thread. */
typedef void (*uf_pg_finish_fn)(void *arg, struct uf_pg_call *call, const struct uf_pg_row *rows,
                                size_t n, const struct uf_pg_failure *f);

struct uf_pg_pool_cfg {
    const char *dsn;
    const char *quoted_schema; /* search_path of every connection */
    int64_t size;              /* connections */
    int64_t pipeline_max;      /* calls sent per round trip */
    int64_t max_pending;       /* queued calls beyond which submit answers 503 overloaded */
    int64_t statement_timeout_ms;
    int64_t connect_timeout_ms;
    const char *notify_channel;  /* NOTIFYed after each round trip with a write; NULL: none */
    const struct uf_pg_ops *ops; /* their statements are prepared on every connection */
    struct uf_stage *st;         /* for logs and metrics */
    uf_pg_finish_fn finish;
    void *arg;
};

/* Starts the connection threads (they connect in the background). NULL with err
 * when a thread cannot be created. cfg strings must outlive the pool. */
struct uf_pg_pool *uf_pg_pool_new(const struct uf_pg_pool_cfg *cfg, struct uf_err *err);

/* Queues call (takes ownership, whatever happens). Thread-safe; never blocks.
 */
void uf_pg_pool_submit(struct uf_pg_pool *p, struct uf_pg_call *call);

/* Waits until no call is queued or in flight, or timeout_ms passed. Returns 0
 * when drained. */
int uf_pg_pool_drain(struct uf_pg_pool *p, int64_t timeout_ms);

/* Stops the threads, fails what is still queued with 503 shutting_down, closes
 * connections. Accepts NULL. */
void uf_pg_pool_free(struct uf_pg_pool *p);

#endif
