/* enrich.c: the `enrich` transform: adds the server's facts to an event's body before it is
 * stored: event_id (the client's own UUID with keep_event_id, else the event's UUIDv7),
 * received_at (RFC 3339, microseconds), user_id (the authenticated user; a client's is
 * removed), the client IP truncated to a prefix, the user agent and the request id, and with
 * `route_types` a fixed `type` per route. Client values under these names are replaced. The
 * fields are set in one step (uf_event_set_strs), so an event held as text is rewritten
 * without a tree. Validates nothing and keeps no state: process() is safe on any number of
 * threads. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "framework/event.h"
#include "framework/log.h"
#include "framework/netaddr.h"
#include "framework/stage.h"
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
    { .name = "ipv4_prefix",
      .type = UF_OPT_INT,
      .def = "24",
      .min = 0,
      .max = 32,
      .desc = "Bits of a client IPv4 address kept (the rest is zeroed); 32 keeps it whole",
      .offset = offsetof(struct enrich_ctx, ipv4_prefix) },
    { .name = "ipv6_prefix",
      .type = UF_OPT_INT,
      .def = "48",
      .min = 0,
      .max = 128,
      .desc = "Bits of a client IPv6 address kept (the rest is zeroed); 128 keeps it whole",
      .offset = offsetof(struct enrich_ctx, ipv6_prefix) },
    { .name = "user_agent",
      .type = UF_OPT_BOOL,
      .def = "true",
      .desc = "Whether the client's User-Agent is added as user_agent",
      .offset = offsetof(struct enrich_ctx, user_agent) },
    { .name = "keep_event_id",
      .type = UF_OPT_BOOL,
      .def = "true",
      .desc = "Whether an event_id the producer sent (a UUID, lower-cased) is kept; otherwise, "
              "and for anything that is not a UUID, the event gets its own",
      .offset = offsetof(struct enrich_ctx, keep_event_id) },
    { .name = "route_types",
      .type = UF_OPT_MAP,
      .desc = "http route names (meta.route) mapped to the type their events get",
      .offset = offsetof(struct enrich_ctx, route_types) },
    { 0 }
};

static int enrich_init(struct uf_stage *st, void *ctx, struct uf_err *err)
{
    const struct enrich_ctx *c = ctx;
    const char *route;
    json_t *type;
    json_object_foreach(c->route_types, route, type)
    {
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
 * (a client's value under it never survives). Worked out once per event, then set in one step. */
struct enrich_set {
    struct uf_strfield f[7];
    size_t n;
    char id[UF_UUID_STR], at[UF_TIME_STR], ip[INET6_ADDRSTRLEN];
};

static void put(struct enrich_set *s, const char *name, const char *value)
{
    s->f[s->n].name = name;
    s->f[s->n++].value = value;
}

static const char *meta_str(const struct uf_event *ev, const char *key)
{
    return json_string_value(uf_event_meta_get(ev, key));
}

static void compute(const struct enrich_ctx *c, const struct uf_event *ev, struct enrich_set *s)
{
    s->n = 0;
    uf_uuid_format(uf_event_id(ev), s->id);
    put(s, "event_id", s->id);
    uf_time_format(uf_event_received_us(ev), s->at);
    put(s, "received_at", s->at);
    put(s, "user_id", uf_event_user(ev));
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

/* A producer's own event id (a UUID string) becomes the event's, before compute() formats it:
 * the event_id field then carries it, lower-cased. */
static void keep_event_id(const struct enrich_ctx *c, struct uf_event *ev)
{
    static const char *const names[] = { "event_id" };
    struct uf_fields f;
    uint8_t id[16];
    if (!c->keep_event_id || !uf_event_fields(ev, names, 1, 1, &f))
        return;
    if (f.str[0] && uf_uuid_parse(f.str[0], id))
        uf_event_set_id(ev, id);
    uf_fields_free(&f);
}

static void enrich_process(struct uf_stage *st, void *ctx, struct uf_event *ev)
{
    struct enrich_set s;
    keep_event_id(ctx, ev);
    compute(ctx, ev, &s);
    struct uf_err err; /* filled on failure; not cleared per event (half a KiB) */
    err.msg[0] = '\0';
    if (uf_event_set_strs(ev, s.f, s.n, &err) != 0) {
        uf_event_fail(ev, 400, "malformed_json", err.msg);
        return;
    }
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
};
