/* http_limit.c: per-client rate limits of the `http` source (framework/ratelimit.c buckets).
 * A limit is a mapping {rate, burst, key, header, slots}, on a route or on the listener. The key
 * is the client's IP (the peer address, or the value a trusted proxy put in the header named by
 * the source's `client_ip_header`: the last address of X-Forwarded-For, which is the one the
 * proxy appended), the `sub` of the bearer token (decoded, not verified: jwt_auth verifies it
 * later, and a forged token gains nothing but its own 401s), or a named header's value; a
 * request without one is keyed by its IP. Checked before the body is read. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "framework/jwt.h"
#include "framework/mem.h"
#include "framework/options.h"
#include "framework/ratelimit.h"
#include "framework/stage.h"
#include "sources/http/http_int.h"

enum { KEY_IP, KEY_SUB, KEY_HEADER };
static const char *const key_values[] = { "ip", "sub", "header", NULL };
static const char *const limit_settings[] = { "rate", "burst", "key", "header", "slots", NULL };

struct http_limit {
    struct uf_ratelimit *rl;
    int key;
    char *header;
    int64_t rate, burst, slots;
    json_t *spec; /* the mapping it was parsed from: routes with equal ones share the budget */
};

/* An integer setting of the limit with the stage options' parser and range. */
static int int_setting(const json_t *m, const char *name, int64_t def, int64_t max, int64_t *out,
                       struct uf_err *err)
{
    const json_t *v = json_object_get(m, name);
    *out = def;
    if (!v)
        return def ? 0 : uf_err_set(err, UF_EINVAL, "%s: required", name);
    char buf[32];
    const char *text = json_is_string(v) ? json_string_value(v) : buf;
    if (json_is_integer(v))
        snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
    else if (!json_is_string(v))
        return uf_err_set(err, UF_EINVAL, "%s: expected an integer", name);
    struct uf_option opt = { .name = name, .type = UF_OPT_INT, .min = 1, .max = max };
    return uf_option_parse_scalar(&opt, text, out, err);
}

static int check_names(const json_t *m, struct uf_err *err)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)m, k, v)
    {
        bool known = false;
        for (size_t i = 0; limit_settings[i]; i++)
            known |= strcmp(limit_settings[i], k) == 0;
        if (!known)
            return uf_err_set(err, UF_EINVAL,
                              "unknown setting '%s' (rate, burst, key, header, slots)", k);
    }
    return 0;
}

static int parse_key(struct http_limit *l, const json_t *m, struct uf_err *err)
{
    const char *k = json_string_value(json_object_get(m, "key"));
    const char *h = json_string_value(json_object_get(m, "header"));
    l->key = KEY_IP;
    for (int i = 0; k && key_values[i]; i++)
        l->key = strcmp(key_values[i], k) == 0 ? i : l->key;
    if (k && strcmp(key_values[l->key], k) != 0)
        return uf_err_set(err, UF_EINVAL, "key: expected one of: ip, sub, header");
    if (l->key == KEY_HEADER && !(h && *h))
        return uf_err_set(err, UF_EINVAL, "key: header needs `header`, the header's name");
    if (l->key != KEY_HEADER && h)
        return uf_err_set(err, UF_EINVAL, "header: only with key: header");
    l->header = h ? uf_xstrdup(h) : NULL;
    return 0;
}

struct http_limit *http_limit_parse(const json_t *m, struct uf_err *err)
{
    if (!json_is_object(m))
        return uf_err_set(err, UF_EINVAL, "expected a mapping {rate, burst, key}"), NULL;
    struct http_limit *l = uf_xcalloc(1, sizeof(*l));
    if (check_names(m, err) || int_setting(m, "rate", 0, 10000000, &l->rate, err) ||
        int_setting(m, "burst", 0, 10000000, &l->burst, err) ||
        int_setting(m, "slots", 65536, 1 << 24, &l->slots, err) || parse_key(l, m, err)) {
        http_limit_free(l);
        return NULL;
    }
    l->rl = uf_ratelimit_new((double)l->rate, (double)l->burst, (size_t)l->slots);
    l->spec = json_deep_copy(m);
    return l;
}

void http_limit_free(struct http_limit *l)
{
    if (!l)
        return;
    uf_ratelimit_free(l->rl);
    json_decref(l->spec);
    free(l->header);
    free(l);
}

bool http_limit_same(const struct http_limit *a, const struct http_limit *b)
{
    return a && b && json_equal(a->spec, b->spec);
}

/* The peer's address bytes into buf; their length (0 when unknown). */
static size_t peer_ip(struct MHD_Connection *conn, char *buf, size_t n)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    if (sa && sa->sa_family == AF_INET && n >= 4)
        return memcpy(buf, &((const struct sockaddr_in *)sa)->sin_addr, 4), 4;
    if (sa && sa->sa_family == AF_INET6 && n >= 16)
        return memcpy(buf, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16), 16;
    return 0;
}

/* The client's IP as the trusted header gives it (the last list element), else the peer's. */
static size_t client_ip(struct MHD_Connection *conn, const char *trusted, char *buf, size_t n)
{
    const char *v = trusted ? MHD_lookup_connection_value(conn, MHD_HEADER_KIND, trusted) : NULL;
    if (!v || !*v)
        return peer_ip(conn, buf, n);
    const char *last = strrchr(v, ',');
    last = last ? last + 1 : v;
    last += strspn(last, " \t");
    size_t len = strcspn(last, " \t");
    len = len < n - 1 ? len : n - 1;
    buf[0] = 'h'; /* never equal to a peer address's bytes */
    memcpy(buf + 1, last, len);
    return len + 1;
}

/* The bearer token's sub into buf ('s' first); 0 when there is no readable one. */
static size_t token_sub(struct MHD_Connection *conn, char *buf, size_t n)
{
    const char *a = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    if (!a || strncasecmp(a, "Bearer ", 7) != 0 ||
        !uf_jwt_peek_sub(a + 7, strlen(a + 7), buf + 1, n - 1))
        return 0;
    buf[0] = 's';
    return strlen(buf + 1) + 1;
}

static size_t limit_key(const struct http_limit *l, struct MHD_Connection *conn,
                        const char *trusted, char *buf, size_t n)
{
    size_t k = 0;
    if (l->key == KEY_SUB)
        k = token_sub(conn, buf, n);
    if (l->key == KEY_HEADER) {
        const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, l->header);
        if (v && *v && (k = strlen(v)) < n - 1) {
            buf[0] = 'v';
            memcpy(buf + 1, v, k++);
        } else {
            k = 0;
        }
    }
    return k ? k : client_ip(conn, trusted, buf, n);
}

bool http_limit_allows(const struct http_limit *l, struct MHD_Connection *conn, const char *trusted,
                       int64_t *retry_after_ms)
{
    char key[256];
    size_t n = limit_key(l, conn, trusted, key, sizeof key);
    return uf_ratelimit_take(l->rl, key, n, uf_now_us(), retry_after_ms);
}
