/* event_rewrite.c: setting an event's top-level string fields (uf_event_set_strs) without a
 * tree when it holds its body as text: the text is rewritten in one pass over the members
 * remembered of it, which become the new text's, so the stages after read their fields
 * without scanning it again. */
#include "event.h"
#include "event_int.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "jsonenc.h"
#include "mem.h"
#include "strbuf.h"

/* Where each member of the rewritten text lies: the event's remembered members, compacted in
 * place as the text is written (a member kept moves to an index no higher than its own, the
 * fields set go after them), so no list is built and copied per event. The buffer is sized
 * once (rewrite_size), so the spans taken while writing stay valid. */
struct placed {
    const char *base; /* the output buffer */
    struct uf_raw_members *rm;
    size_t n; /* members placed so far */
};

/* Records member m, whose text starts at from, as written at offset at of the output. */
static void place(struct placed *p, const struct uf_jmember *m, const char *from, size_t at)
{
    struct uf_jmember o = *m; /* m may be the slot written */
    o.key = p->base + at + (m->key - from);
    o.val = p->base + at + (m->val - from);
    o.index = p->n;
    p->rm->m[p->n++] = o;
}

/* Whether member m is one of the n names set or removed (lens: their lengths). */
static bool is_set(const struct uf_jmember *m, const struct uf_strfield *f, const size_t *lens,
                   size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (uf_jscan_key_is_n(m, f[i].name, lens[i]))
            return true;
    return false;
}

/* Appends "name":"value" and places it. */
static void put_field(struct uf_strbuf *sb, struct placed *p, const char *name, const char *value)
{
    if (sb->len > 1)
        uf_strbuf_append(sb, ",", 1);
    size_t at = sb->len;
    uf_jsonenc_append_str(sb, name, strlen(name));
    size_t key_end = sb->len;
    uf_strbuf_append(sb, ":", 1);
    size_t val_at = sb->len;
    uf_jsonenc_append_str(sb, value, strlen(value));
    const char *b = sb->buf;
    struct uf_jmember m = {
        .key = b + at + 1,
        .key_len = key_end - at - 2,
        .type = UF_J_STRING,
        .val = b + val_at + 1,
        .val_len = sb->len - val_at - 2,
    };
    m.key_escaped = memchr(m.key, '\\', m.key_len) != NULL;
    m.escaped = memchr(m.val, '\\', m.val_len) != NULL;
    place(p, &m, b, 0);
}

/* The most the rewrite can take: the text plus each field escaped at worst (6 bytes a byte),
 * so the buffer is allocated once. */
static size_t rewrite_size(const struct uf_strfield *f, size_t n, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (f[i].value)
            len += 6 * (strlen(f[i].name) + strlen(f[i].value)) + 6;
    return len + 2;
}

/* Room for the fields set after the members, in the remembered list itself. */
static struct uf_raw_members *make_room(struct uf_event *ev, size_t n)
{
    struct uf_raw_members *rm = ev->raw_members;
    if (rm->cap < rm->n + n) {
        rm->cap = rm->n + n;
        rm = uf_xrealloc(rm, sizeof(*rm) + rm->cap * sizeof(rm->m[0]));
        ev->raw_members = rm;
    }
    return rm;
}

/* Gives the event the rewritten text; its members are the ones placed, unless the buffer
 * moved (never, as sized: the spans would be stale then). */
static void take_text(struct uf_event *ev, struct uf_strbuf *sb, struct placed *p)
{
    size_t len = sb->len;
    char *text = uf_strbuf_take(sb);
    if (ev->raw_owned)
        free((char *)ev->raw);
    ev->raw = text;
    ev->raw_len = len;
    ev->raw_owned = true;
    ev->raw_checked = true; /* members of a checked text, and fields written here */
    p->rm->n = p->n;
    if (text != p->base) {
        free(ev->raw_members);
        ev->raw_members = NULL;
    }
}

/* The text's members minus the names set or removed, then the fields set, in order. */
static void rewrite(struct uf_event *ev, const struct uf_strfield *f, size_t n)
{
    struct uf_raw_members *rm = make_room(ev, n);
    struct uf_strbuf sb = { 0 };
    uf_strbuf_reserve(&sb, rewrite_size(f, n, ev->raw_len));
    uf_strbuf_append(&sb, "{", 1);
    struct placed placed = { .base = sb.buf, .rm = rm };
    size_t lens[UF_STRFIELDS_MAX];
    for (size_t i = 0; i < n; i++)
        lens[i] = strlen(f[i].name);
    for (size_t k = 0; k < rm->n; k++) {
        const struct uf_jmember *m = &rm->m[k];
        if (is_set(m, f, lens, n))
            continue;
        const char *text;
        size_t len;
        uf_jmember_span(m, &text, &len);
        if (sb.len > 1)
            uf_strbuf_append(&sb, ",", 1);
        place(&placed, m, text, sb.len);
        uf_strbuf_append(&sb, text, len);
    }
    for (size_t i = 0; i < n; i++)
        if (f[i].value)
            put_field(&sb, &placed, f[i].name, f[i].value);
    uf_strbuf_append(&sb, "}", 1);
    take_text(ev, &sb, &placed);
}

int uf_event_set_strs(struct uf_event *ev, const struct uf_strfield *f, size_t n,
                      struct uf_err *err)
{
    assert(n <= UF_STRFIELDS_MAX);
    if (ev->raw) {
        if (!uf_event_members(ev, err))
            return UF_EINVAL;
        rewrite(ev, f, n);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (f[i].value)
            json_object_set_new(ev->body, f[i].name, json_string(f[i].value));
        else
            json_object_del(ev->body, f[i].name);
    }
    return 0;
}
