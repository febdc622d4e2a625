/* sources/stdin.c: the `stdin` source: one event per line of newline-delimited JSON.
 * A line that is not a JSON object is counted as an error and reported with its line number,
 * never fatal. End of input finishes the source, so `ugcflow run` drains and exits. Reads with
 * poll() so that a shutdown is noticed while stdin is idle. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "framework/log.h"
#include "framework/metrics.h"
#include "framework/stage.h"

struct stdin_ctx {
    int64_t max_line;
    int fd;
    pthread_t tid;
    atomic_bool stop;
    struct uf_stage *st;
};

static const struct uf_option stdin_options[] = {
    { .name = "max_line",
      .type = UF_OPT_SIZE,
      .def = "1MiB",
      .min = 64,
      .max = 64 << 20,
      .desc = "Longest accepted line; longer lines are counted as errors and skipped",
      .offset = offsetof(struct stdin_ctx, max_line) },
    { 0 }
};

static void emit_line(struct stdin_ctx *c, const char *line, size_t len, long lineno)
{
    json_error_t jerr;
    json_t *j = json_loadb(line, len, 0, &jerr);
    if (!json_is_object(j)) {
        char where[32];
        snprintf(where, sizeof where, "%ld", lineno);
        uf_log_limited(UF_LOG_WARN, c->st, "Skipping a line that is not a JSON object.", "line",
                       where, "err", j ? "not an object" : jerr.text);
        uf_metrics_add(&uf_stage_metrics(c->st)->errors, 1);
        json_decref(j);
        return;
    }
    struct uf_event *ev = uf_event_new(j);
    uf_event_set_source(ev, uf_stage_name(c->st));
    uf_emit(c->st, ev);
}

/* Emits every complete line in buf[0..*len), keeping the incomplete tail. */
static void split_lines(struct stdin_ctx *c, char *buf, size_t *len, long *lineno)
{
    size_t start = 0;
    for (size_t i = 0; i < *len; i++) {
        if (buf[i] != '\n')
            continue;
        (*lineno)++;
        if (i > start)
            emit_line(c, buf + start, i - start, *lineno);
        start = i + 1;
    }
    memmove(buf, buf + start, *len - start);
    *len -= start;
}

static void *stdin_thread(void *arg)
{
    struct stdin_ctx *c = arg;
    size_t cap = (size_t)c->max_line + 1, len = 0;
    char *buf = malloc(cap);
    long lineno = 0;
    bool skipping = false;
    while (buf && !atomic_load(&c->stop)) {
        struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
        if (poll(&pfd, 1, 100) <= 0)
            continue;
        ssize_t n = read(c->fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (len && !skipping)
                emit_line(c, buf, len, lineno + 1);
            break;
        }
        len += (size_t)n;
        if (skipping) {
            char *nl = memchr(buf, '\n', len);
            if (!nl) {
                len = 0;
                continue;
            }
            skipping = false;
            lineno++;
            len -= (size_t)(nl + 1 - buf);
            memmove(buf, nl + 1, len);
        }
        split_lines(c, buf, &len, &lineno);
        if (len == cap) { /* a line longer than max_line */
            uf_metrics_add(&uf_stage_metrics(c->st)->errors, 1);
            uf_log_limited(UF_LOG_WARN, c->st, "Skipping a line longer than max_line.");
            skipping = true;
            len = 0;
        }
    }
    free(buf);
    if (!atomic_load(&c->stop))
        uf_stage_source_done(c->st);
    return NULL;
}

static int stdin_start(struct uf_stage *st, void *ctx, struct uf_err *err)
{
    struct stdin_ctx *c = ctx;
    c->st = st;
    c->fd = STDIN_FILENO;
    pthread_create(&c->tid, NULL, stdin_thread, c);
    return 0;
}

static void stdin_stop(struct uf_stage *st, void *ctx)
{
    struct stdin_ctx *c = ctx;
    atomic_store(&c->stop, true);
    pthread_join(c->tid, NULL);
}

const struct uf_kind uf_source_stdin = {
    .name = "stdin",
    .role = UF_SOURCE,
    .summary = "Read newline-delimited JSON events from stdin",
    .options = stdin_options,
    .ctx_size = sizeof(struct stdin_ctx),
    .start = stdin_start,
    .stop = stdin_stop,
};
