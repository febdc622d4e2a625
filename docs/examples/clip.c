/* docs/examples/clip.c: the `clip` transform, the worked example of docs/writing-a-stage.md.
 * Cuts a top-level string field down to at most `max_chars` characters (UTF-8: never inside a
 * character) or, with `on_long: fail`, fails the event with 422. An event without the field,
 * or whose field is not a string, passes unchanged. Keeps no state between events, so
 * concurrent calls need no lock. Built into tests/test_clip.c, not into the binary. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framework/mem.h"
#include "framework/stage.h"

enum clip_on_long { CLIP_CUT, CLIP_FAIL };

struct clip_ctx {
    char *field; /* filled from the options table; owned by the framework */
    int64_t max_chars;
    int on_long; /* enum clip_on_long: the index into on_long_values */
};

static const char *const on_long_values[] = { "cut", "fail", NULL };

static const struct uf_option clip_options[] = {
    { .name = "field",
      .type = UF_OPT_STR,
      .flags = UF_OPT_REQUIRED,
      .desc = "Top-level string field to clip",
      .offset = offsetof(struct clip_ctx, field) },
    { .name = "max_chars",
      .type = UF_OPT_INT,
      .def = "280",
      .min = 1,
      .max = 65536,
      .desc = "Most characters the field keeps",
      .offset = offsetof(struct clip_ctx, max_chars) },
    { .name = "on_long",
      .type = UF_OPT_ENUM,
      .def = "cut",
      .values = on_long_values,
      .desc = "What a longer value gets: cut to max_chars, or fail the event with 422",
      .offset = offsetof(struct clip_ctx, on_long) },
    { 0 }
};

/* Checks what the table cannot say: the field is a name, not a path. No I/O. */
static int clip_init(struct uf_stage *st, void *ctx, struct uf_err *err)
{
    struct clip_ctx *c = ctx;
    if (!c->field[0] || strchr(c->field, '.'))
        return uf_err_set(err, UF_EINVAL, "option 'field' must name a top-level field, not '%s'",
                          c->field);
    return 0;
}

/* Bytes taken by the first max characters of s, or all of s when it has no more. Counts the
 * bytes that start a character (not 10xxxxxx), so a cut never splits one. */
static size_t prefix_bytes(const char *s, int64_t max)
{
    int64_t chars = 0;
    size_t i = 0;
    for (; s[i]; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80 && chars++ == max)
            break;
    return i;
}

static void clip_process(struct uf_stage *st, void *ctx, struct uf_event *ev)
{
    struct clip_ctx *c = ctx;
    const char *value = uf_event_get_str(ev, c->field); /* borrowed from the event */
    size_t keep = value ? prefix_bytes(value, c->max_chars) : 0;
    if (!value || !value[keep]) {
        uf_emit(st, ev);
        return;
    }
    if (c->on_long == CLIP_FAIL) {
        char msg[160];
        snprintf(msg, sizeof msg, "field '%s' is longer than %lld characters", c->field,
                 (long long)c->max_chars);
        uf_event_fail(ev, 422, "too_long", msg);
        return;
    }
    /* Copied first: setting the field frees the string value points into. */
    char *cut = uf_xstrndup(value, keep);
    uf_event_set_str(ev, c->field, cut);
    free(cut);
    uf_emit(st, ev);
}

const struct uf_kind uf_transform_clip = {
    .name = "clip",
    .role = UF_TRANSFORM,
    .summary = "Cut a string field to a maximum length",
    .options = clip_options,
    .ctx_size = sizeof(struct clip_ctx),
    .init = clip_init,
    .process = clip_process,
};
