/* enrich.c: the `enrich` transform: adds the server's facts to an event's body before it is
 * stored: event_id (the event's UUIDv7), received_at (server time, UTC, RFC 3339 with
 * microseconds), user_id (the authenticated user; a user_id sent by the client is removed, so
 * anonymous callers cannot pose as a user; their anonymous_id/session_id stay as sent), and from
 * the request facts the http source put in the event's meta: the client IP truncated to a
 * network prefix (/24 and /48 by default, so no single address is stored), the user agent and
 * the request id. Values the client sent under these names are replaced. With `route_types`,
 * events of the named http routes (meta.route) get that fixed `type` (a page view or player
 * event body does not carry one; /events bodies do and keep theirs).
 * Does not validate anything (the `validate` stage does) and keeps no state: process() is safe
 * on any number of threads. */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "event.h"
#include "log.h"
#include "stage.h"
#include "uuid.h"
#include "timefmt.h"

struct enrich_ctx {
    int64_t ipv4_prefix;
    int64_t ipv6_prefix;
    bool user_agent;
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
        return inet_ntop(AF_INET, a, out, (socklen_t)size) != NULL;
    }
    if (inet_pton(AF_INET6, ip, a) != 1)
        return false;
    static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    if (memcmp(a, mapped, sizeof mapped) == 0) {
        mask_bits(a + 12, 4, c->ipv4_prefix);
        return inet_ntop(AF_INET, a + 12, out, (socklen_t)size) != NULL;
    }
    mask_bits(a, 16, c->ipv6_prefix);
    return inet_ntop(AF_INET6, a, out, (socklen_t)size) != NULL;
}

static void copy_meta_str(struct uf_event *ev, const char *key)
{
    const char *v = ev->meta ? json_string_value(json_object_get(ev->meta, key)) : NULL;
    if (v)
        uf_event_set_str(ev, key, v);
    else
        json_object_del(ev->body, key);
}

static void enrich_process(struct uf_stage *st, void *ctx, struct uf_event *ev)
{
    const struct enrich_ctx *c = ctx;
    char buf[UF_UUID_STR > 48 ? UF_UUID_STR : 48];
    uf_uuid_format(ev->id, buf);
    uf_event_set_str(ev, "event_id", buf);
    uf_time_format(ev->received_us, buf);
    uf_event_set_str(ev, "received_at", buf);
    if (ev->user)
        uf_event_set_str(ev, "user_id", ev->user);
    else
        json_object_del(ev->body, "user_id");
    const char *ip = ev->meta ? json_string_value(json_object_get(ev->meta, "ip")) : NULL;
    if (ip && truncate_ip(c, ip, buf, sizeof buf))
        uf_event_set_str(ev, "ip", buf);
    else
        json_object_del(ev->body, "ip");
    if (c->user_agent)
        copy_meta_str(ev, "user_agent");
    copy_meta_str(ev, "request_id");
    const char *route = ev->meta ? json_string_value(json_object_get(ev->meta, "route")) : NULL;
    json_t *type = route && c->route_types ? json_object_get(c->route_types, route) : NULL;
    if (type)
        json_object_set(ev->body, "type", type);
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
