/* enrich.c: the `enrich` transform: adds the server's facts to an event's body before it is
 * stored: event_id (the client's own UUID with keep_event_id, else the event's UUIDv7),
 * received_at (RFC 3339, microseconds), user_id (the authenticated user; a client's is
 * removed), the client IP truncated to a prefix, the user agent and the request id, and with
 * `route_types` a fixed `type` per route. Client values under these names are replaced. Raw
 * events are rewritten into an owned text in one pass, with the same fields (compute()).
 * Validates nothing and keeps no state: process() is safe on any number of threads. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "framework/event.h"
#include "framework/jscan.h"
#include "framework/jsonenc.h"
#include "framework/log.h"
#include "framework/netaddr.h"
#include "framework/stage.h"
#include "framework/strbuf.h"
#include "framework/timefmt.h"
#include "framework/uuid.h"

struct enrich_ctx {
    int64_t ipv4_prefix;
    int64_t ipv6_prefix;
    bool user_agent;
    bool keep_event_id;
    json_t *route_types;
};

static const struct uf_option enrich_options[] = {
    { .name = "ipv4_prefix", .type = UF_OPT_INT, .def = "24", .min = 0, .max = 32,
      .desc = "Bits of a client IPv4 address kept (the rest is zeroed); 32 keeps it whole",
      .offset = offsetof(struct enrich_ctx, ipv4_prefix) },
    { .name = "ipv6_prefix", .type = UF_OPT_INT, .def = "48", .min = 0, .max = 128,
      .desc = "Bits of a client IPv6 address kept (the rest is zeroed); 128 keeps it whole",
      .offset = offsetof(struct enrich_ctx, ipv6_prefix) },
    { .name = "user_agent", .type = UF_OPT_BOOL, .def = "true",
      .desc = "Whether the client's User-Agent is added as user_agent",
      .offset = offsetof(struct enrich_ctx, user_agent) },
    { .name = "keep_event_id", .type = UF_OPT_BOOL, .def = "true",
      .desc = "Whether an event_id the producer sent (a UUID, lower-cased) is kept; otherwise, "
              "and for anything that is not a UUID, the event gets its own",
      .offset = offsetof(struct enrich_ctx, keep_event_id) },
    { .name = "route_types", .type = UF_OPT_MAP,
      .desc = "http route names (meta.route) mapped to the type their events get",
      .offset = offsetof(struct enrich_ctx, route_types) },
    { 0 }
};

static int enrich_init(struct uf_stage *st, void *ctx, struct uf_err *err)
{
    const struct enrich_ctx *c = ctx;
    const char *route;
    json_t *type;
    json_object_foreach(c->route_types, route, type) {
        if (!json_is_string(type) || !*json_string_value(type))
            return uf_err_set(err, UF_EINVAL, "route_types: '%s': expected a type name", route);
    }
    return 0;
}

/* Zeroes every bit after the first `keep` bits of addr (n bytes). */
static void mask_bits(unsigned char *addr, size_t n, int64_t keep)
{
    for (size_t i = 0; i < n; i++) {
        int64_t bits = keep - (int64_t)i * 8;
        if (bits <= 0)
            addr[i] = 0;
        else if (bits < 8)
            addr[i] &= (unsigned char)(0xff << (8 - bits));
    }
}

/* Writes the truncated form of ip into out; false when ip is not an address. IPv4-mapped IPv6
 * addresses (::ffff:a.b.c.d, as dual-stack sockets report IPv4 clients) count as IPv4. */
static bool truncate_ip(const struct enrich_ctx *c, const char *ip, char *out, size_t size)
{
    unsigned char a[16];
    if (inet_pton(AF_INET, ip, a) == 1) {
        mask_bits(a, 4, c->ipv4_prefix);
        return uf_addr_format(AF_INET, a, out, size);
    }
    if (inet_pton(AF_INET6, ip, a) != 1)
        return false;
    static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    if (memcmp(a, mapped, sizeof mapped) == 0) {
        mask_bits(a + 12, 4, c->ipv4_prefix);
        return uf_addr_format(AF_INET, a + 12, out, size);
    }
    mask_bits(a, 16, c->ipv6_prefix);
    return uf_addr_format(AF_INET6, a, out, size);
}

/* What enrich writes: each name it owns with its value, or value NULL for a name it removes
 * (a client's value under it never survives). Worked out once per event, then applied to the
 * body or written into the raw text, so both paths give the same fields. */
struct enrich_set {
    struct {
        const char *name, *value;
        size_t name_len;
    } f[7];
    size_t n;
    char id[UF_UUID_STR], at[UF_TIME_STR], ip[INET6_ADDRSTRLEN];
};

static void put(struct enrich_set *s, const char *name, const char *value)
{
    s->f[s->n].name = name;
    s->f[s->n].name_len = strlen(name); /* a literal: folded */
    s->f[s->n++].value = value;
}

static const char *meta_str(const struct uf_event *ev, const char *key)
{
    return json_string_value(uf_event_meta_get(ev, key));
}

static void compute(const struct enrich_ctx *c, const struct uf_event *ev, struct enrich_set *s)
{
    s->n = 0;
    uf_uuid_format(ev->id, s->id);
    put(s, "event_id", s->id);
    uf_time_format(ev->received_us, s->at);
    put(s, "received_at", s->at);
    put(s, "user_id", ev->user);
    const char *ip = meta_str(ev, "ip");
    put(s, "ip", ip && truncate_ip(c, ip, s->ip, sizeof s->ip) ? s->ip : NULL);
    if (c->user_agent)
        put(s, "user_agent", meta_str(ev, "user_agent"));
    put(s, "request_id", meta_str(ev, "request_id"));
    /* Other routes' events keep the type they sent. */
    const char *route = meta_str(ev, "route");
    json_t *type = route && c->route_types ? json_object_get(c->route_types, route) : NULL;
    if (type)
        put(s, "type", json_string_value(type));
}

static void apply_body(const struct enrich_set *s, struct uf_event *ev)
{
    for (size_t i = 0; i < s->n; i++) {
        if (s->f[i].value)
            uf_event_set_str(ev, s->f[i].name, s->f[i].value);
        else
            json_object_del(ev->body, s->f[i].name);
    }
}

/* Where each member of the rewritten text lies, so the event can remember its members
 * (uf_event_set_raw_members) and the route and the kafka sink after enrich read their fields
 * without scanning the text again. The buffer is sized once (rewrite_size), so the spans taken
 * while writing stay valid; apply_raw checks that it did not move. */
struct placed {
    const char *base; /* the output buffer */
    struct uf_jmembers list;
};

/* Records member m, whose text starts at from, as written at offset at of the output. */
static void place(struct placed *p, const struct uf_jmember *m, const char *from, size_t at)
{
    struct uf_jmember *o = uf_jmembers_add(&p->list);
    *o = *m;
    o->key = p->base + at + (m->key - from);
    o->val = p->base + at + (m->val - from);
    o->index = p->list.n - 1;
}

struct rewrite {
    struct enrich_set *s;
    struct uf_event *ev;
    bool keep_event_id;
    struct uf_strbuf *sb;
    struct placed *placed;
};

/* A producer's own event id (a UUID string) becomes the event's: written after the members,
 * the event_id field then carries it, lower-cased. */
static void take_event_id(struct rewrite *rw, const struct uf_jmember *m)
{
    uint8_t id[16];
    if (rw->keep_event_id && m->type == UF_J_STRING && !m->escaped &&
        uf_uuid_parse_n(m->val, m->val_len, id)) {
        memcpy(rw->ev->id, id, sizeof id);
        uf_uuid_format(id, rw->s->id);
    }
}

/* Copies a client member as it was sent, unless enrich owns its name. */
static int keep_member(void *arg, const struct uf_jmember *m, struct uf_err *err)
{
    struct rewrite *rw = arg;
    if (uf_jscan_key_is(m, "event_id"))
        take_event_id(rw, m);
    for (size_t i = 0; i < rw->s->n; i++)
        if (uf_jscan_key_is_n(m, rw->s->f[i].name, rw->s->f[i].name_len))
            return 0;
    const char *text;
    size_t len;
    uf_jmember_span(m, &text, &len);
    if (rw->sb->len > 1)
        uf_strbuf_append(rw->sb, ",", 1);
    place(rw->placed, m, text, rw->sb->len);
    uf_strbuf_append(rw->sb, text, len);
    return 0;
}

/* Appends "name":"value" and places it. */
static void put_field(struct uf_strbuf *sb, struct placed *p, const char *name, size_t name_len,
                      const char *value)
{
    if (sb->len > 1)
        uf_strbuf_append(sb, ",", 1);
    size_t at = sb->len;
    uf_jsonenc_append_str(sb, name, name_len);
    size_t key_end = sb->len;
    uf_strbuf_append(sb, ":", 1);
    size_t val_at = sb->len;
    uf_jsonenc_append_str(sb, value, strlen(value));
    const char *b = sb->buf;
    struct uf_jmember m = {
        .key = b + at + 1, .key_len = key_end - at - 2, .type = UF_J_STRING,
        .val = b + val_at + 1, .val_len = sb->len - val_at - 2,
    };
    m.key_escaped = memchr(m.key, '\\', m.key_len) != NULL;
    m.escaped = memchr(m.val, '\\', m.val_len) != NULL;
    place(p, &m, b, 0);
}

/* The most the rewrite can take: the client's text plus each field escaped at worst (6 bytes a
 * byte), so the buffer is allocated once. */
static size_t rewrite_size(const struct enrich_set *s, size_t raw_len)
{
    size_t n = raw_len + 2;
    for (size_t i = 0; i < s->n; i++)
        if (s->f[i].value)
            n += s->f[i].name_len + 6 * strlen(s->f[i].value) + 6;
    return n;
}

/* Rewrites the raw object in one pass: the client's members minus enrich's names, then the
 * fields. A text that is not one object (the http source checked it, so only from a source
 * that checks less) fails with 400. Returns false when ev was finished. */
static bool apply_raw(const struct enrich_ctx *c, struct enrich_set *s, struct uf_event *ev)
{
    struct uf_strbuf sb = { 0 };
    uf_strbuf_reserve(&sb, rewrite_size(s, ev->raw_len));
    uf_strbuf_append(&sb, "{", 1);
    struct placed placed = { .base = sb.buf };
    uf_jmembers_init(&placed.list);
    struct rewrite rw = { s, ev, c->keep_event_id, &sb, &placed };
    struct uf_err err = { 0 };
    bool ok = uf_event_check_raw(ev, &err) == 0 &&
              uf_jscan_object_trusted(ev->raw, ev->raw_len, keep_member, &rw, &err) == 0;
    if (!ok) {
        uf_strbuf_free(&sb);
        uf_event_fail(ev, 400, "malformed_json", err.msg);
    } else {
        for (size_t i = 0; i < s->n; i++)
            if (s->f[i].value)
                put_field(&sb, &placed, s->f[i].name, s->f[i].name_len, s->f[i].value);
        uf_strbuf_append(&sb, "}", 1);
        size_t len = sb.len;
        char *text = uf_strbuf_take(&sb);
        uf_event_set_raw(ev, text, len);
        ev->raw_checked = true; /* members of a checked text and fields written here */
        if (text == placed.base) /* always, as sized: otherwise the spans would be stale */
            uf_event_set_raw_members(ev, placed.list.m, placed.list.n);
    }
    uf_jmembers_free(&placed.list);
    return ok;
}

/* The body path's take_event_id: before compute(), which formats the event's id. */
static void body_event_id(const struct enrich_ctx *c, struct uf_event *ev)
{
    const char *v = uf_event_get_str(ev, "event_id");
    uint8_t id[16];
    if (c->keep_event_id && v && uf_uuid_parse(v, id))
        memcpy(ev->id, id, sizeof id);
}

static void enrich_process(struct uf_stage *st, void *ctx, struct uf_event *ev)
{
    struct enrich_set s;
    if (!ev->raw)
        body_event_id(ctx, ev);
    compute(ctx, ev, &s);
    if (!ev->raw)
        apply_body(&s, ev);
    else if (!apply_raw(ctx, &s, ev))
        return;
    uf_emit(st, ev);
}

const struct uf_kind uf_transform_enrich = {
    .name = "enrich",
    .role = UF_TRANSFORM,
    .summary = "Add event_id, received_at, user_id and the request's truncated IP, agent and id",
    .options = enrich_options,
    .ctx_size = sizeof(struct enrich_ctx),
    .init = enrich_init,
    .process = enrich_process,
    .takes_raw = true,
};
