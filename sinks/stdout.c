/* sinks/stdout.c: the `stdout` sink: writes each event as one line of JSON.
 * A batch is formatted into one buffer and written with a single fwrite under stdout's lock,
 * so lines from several workers never interleave. With `metadata: true` the line is
 * {"id","received_at_us","source","user","body"} instead of the bare body. */
#include <stdio.h>
#include <stdlib.h>

#include "framework/stage.h"
#include "framework/strbuf.h"
#include "framework/uuid.h"

struct stdout_ctx {
    bool metadata;
};

static const struct uf_option stdout_options[] = {
    { .name = "metadata",
      .type = UF_OPT_BOOL,
      .def = "false",
      .desc = "Wrap each event with its id, time, source and user",
      .offset = offsetof(struct stdout_ctx, metadata) },
    { 0 }
};

static void append_event(struct uf_strbuf *sb, struct uf_event *ev, bool metadata)
{
    char *s;
    if (metadata) {
        char id[UF_UUID_STR];
        uf_uuid_format(uf_event_id(ev), id);
        json_t *w = json_pack("{s:s,s:I,s:s?,s:s?,s:O}", "id", id, "received_at_us",
                              (json_int_t)uf_event_received_us(ev), "source", uf_event_source(ev),
                              "user", uf_event_user(ev), "body", uf_event_body(ev));
        s = json_dumps(w, JSON_COMPACT);
        json_decref(w);
    } else {
        s = json_dumps(uf_event_body(ev), JSON_COMPACT);
    }
    if (!s) /* a text that is not one JSON object: nothing to print */
        return;
    uf_strbuf_puts(sb, s);
    uf_strbuf_append(sb, "\n", 1);
    free(s);
}

static int stdout_write(struct uf_stage *st, void *ctx, struct uf_event **evs, size_t n,
                        struct uf_err *err)
{
    struct stdout_ctx *c = ctx;
    struct uf_strbuf sb = { 0 };
    for (size_t i = 0; i < n; i++)
        append_event(&sb, evs[i], c->metadata);
    bool ok = fwrite(sb.buf, 1, sb.len, stdout) == sb.len && fflush(stdout) == 0;
    uf_strbuf_free(&sb);
    if (!ok)
        return uf_err_set(err, UF_EIO, "writing to stdout failed"), UF_RETRY;
    for (size_t i = 0; i < n; i++)
        uf_event_done(evs[i]);
    return UF_OK;
}

const struct uf_kind uf_sink_stdout = {
    .name = "stdout",
    .role = UF_SINK,
    .summary = "Write events to stdout as JSON lines",
    .options = stdout_options,
    .ctx_size = sizeof(struct stdout_ctx),
    .write = stdout_write,
};
