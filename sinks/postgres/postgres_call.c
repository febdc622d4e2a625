/* postgres_call.c: request event -> call, and rows -> reply, for any declared operation (see
 * postgres_call.h). Binding reads each parameter from its event path as text (strings as they
 * are, other JSON values as JSON text, missing ones as NULL). Replies are written as JSON text
 * with the rows' `reply` values spliced in without the spaces PostgreSQL puts between tokens:
 * no tree is built, parsed or encoded on the way from the database to the client (a list of
 * 20 items through jansson cost more CPU than the rest of the request). No I/O, no libpq. */
#include "sinks/postgres/postgres_call.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framework/event.h"
#include "framework/mem.h"
#include "framework/strbuf.h"
#include "framework/uuid.h"

static int reject(struct uf_pg_reply *rep, int status, const char *code, const char *fmt,
                  const char *what)
{
    rep->status = status;
    rep->code = code;
    snprintf(rep->msg, sizeof rep->msg, fmt, what);
    return -1;
}

/* The last segment of a path, which names the field in messages ("query.limit" -> "limit"). */
static const char *field_name(const char *path)
{
    const char *dot = strrchr(path, '.');
    return dot ? dot + 1 : path;
}

/* ---- binding ---- */

/* A JSON value as a parameter's text: NULL for null, a string as it is, others as JSON. */
static int value_text(const json_t *v, const char *path, char **out, struct uf_pg_reply *rep)
{
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (json_is_string(v)) {
        if (strlen(json_string_value(v)) != json_string_length(v))
            return reject(rep, 422, "invalid_field", "%s: must not contain NUL characters",
                          field_name(path));
        *out = uf_xstrdup(json_string_value(v));
    } else {
        *out = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    }
    return 0;
}

/* The page size: absent -> the default; an integer (or its text) in 1..max, else 422. */
static int list_limit(const struct uf_pg_list *l, const struct uf_event *ev, int64_t *out,
                      struct uf_pg_reply *rep)
{
    json_t *v = l->limit_path ? uf_event_get_path(ev, l->limit_path) : NULL;
    long long n = l->limit_def;
    if (json_is_integer(v)) {
        n = json_integer_value(v);
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end = NULL;
        n = strtoll(s, &end, 10);
        if (!*s || *end)
            n = 0;
    } else if (v && !json_is_null(v)) {
        n = 0;
    }
    if (n < 1 || n > l->limit_max) {
        rep->status = 422;
        rep->code = "invalid_field";
        snprintf(rep->msg, sizeof rep->msg, "%s: must be an integer from 1 to %lld",
                 field_name(l->limit_path), (long long)l->limit_max);
        return -1;
    }
    *out = n;
    return 0;
}

/* A timestamp of a cursor: RFC 3339 as PostgreSQL rendered it, so only these characters. */
static bool is_ts(const char *s)
{
    size_t n = strlen(s);
    return n >= 20 && n <= 32 && strspn(s, "0123456789-:.TZ") == n;
}

static bool is_int(const char *s)
{
    char *end = NULL;
    long v = strtol(s, &end, 10);
    return *s && !*end && v >= -2147483647L && v <= 2147483647L;
}

static bool key_ok(const struct uf_pg_key *k, const char *s)
{
    switch (k->type) {
    case UF_PG_KEY_INT:
        return is_int(s);
    case UF_PG_KEY_UUID:
        return uf_uuid_is_valid(s);
    case UF_PG_KEY_TIME:
        return is_ts(s);
    default:
        return true;
    }
}

/* The keyset position: the cursor's fields, or the keys' first-page values. */
static int list_keys(const struct uf_pg_list *l, const struct uf_event *ev, char buf[256],
                     const char *fields[UF_PG_KEYS_MAX], struct uf_pg_reply *rep)
{
    json_t *v = l->cursor_path ? uf_event_get_path(ev, l->cursor_path) : NULL;
    const char *cursor = json_string_value(v);
    for (size_t i = 0; i < l->nkeys; i++)
        fields[i] = l->keys[i].first;
    if (!cursor || !*cursor)
        return 0;
    int n = uf_pg_cursor_decode(cursor, l->tag, buf, 256, fields, l->nkeys);
    bool ok = n == (int)l->nkeys;
    for (size_t i = 0; ok && i < l->nkeys; i++)
        ok = key_ok(&l->keys[i], fields[i]);
    if (!ok)
        return reject(rep, 422, "invalid_field", "%s: not a cursor of this list",
                      field_name(l->cursor_path));
    return 0;
}

static int bind_param(const struct uf_pg_param *pa, const struct uf_event *ev,
                      const char *const *keys, int64_t limit, char **out, struct uf_pg_reply *rep)
{
    char n[24];
    switch (pa->src) {
    case UF_PG_SRC_USER:
        if (!uf_event_user(ev))
            return reject(rep, 401, "unauthorized", "%s", "a valid bearer token is required");
        *out = uf_xstrdup(uf_event_user(ev));
        return 0;
    case UF_PG_SRC_META:
        return value_text(uf_event_meta_get(ev, pa->arg), pa->arg, out, rep);
    case UF_PG_SRC_CONST:
        *out = uf_xstrdup(pa->arg);
        return 0;
    case UF_PG_SRC_LIMIT:
        snprintf(n, sizeof n, "%lld", (long long)limit + 1);
        *out = uf_xstrdup(n);
        return 0;
    case UF_PG_SRC_KEY:
        *out = uf_xstrdup(keys[pa->key]);
        return 0;
    default:
        return value_text(uf_event_get_path(ev, pa->arg), pa->arg, out, rep);
    }
}

/* The case a switch's value picks; NULL with rep set when there is none. */
static const struct uf_pg_op *pick_case(const struct uf_pg_ops *ops, const struct uf_pg_op *op,
                                        const struct uf_event *ev, struct uf_pg_reply *rep)
{
    json_t *v = uf_event_get_path(ev, op->switch_path);
    const char *s = json_is_string(v)  ? json_string_value(v)
                    : json_is_true(v)  ? "true"
                    : json_is_false(v) ? "false"
                                       : NULL;
    int pick = !v || json_is_null(v) ? op->default_case : -1;
    for (size_t i = 0; s && i < op->ncases; i++)
        if (strcmp(op->case_values[i], s) == 0)
            pick = (int)i;
    if (pick >= 0)
        return &ops->v[op->case_ops[pick]];
    struct uf_strbuf sb = { 0 };
    for (size_t i = 0; i < op->ncases; i++)
        uf_strbuf_printf(&sb, "%s%s",
                         i == 0                ? ""
                         : i + 1 == op->ncases ? " or "
                                               : ", ",
                         op->case_values[i]);
    rep->status = 422;
    rep->code = "invalid_field";
    snprintf(rep->msg, sizeof rep->msg, "%s: must be %s", field_name(op->switch_path), sb.buf);
    uf_strbuf_free(&sb);
    return NULL;
}

static int bind_all(const struct uf_pg_op *op, const struct uf_event *ev, struct uf_pg_call *call,
                    struct uf_pg_reply *rep)
{
    char buf[256];
    const char *keys[UF_PG_KEYS_MAX] = { NULL };
    if (op->is_list &&
        (list_limit(&op->list, ev, &call->limit, rep) || list_keys(&op->list, ev, buf, keys, rep)))
        return -1;
    for (int i = 0; i < op->nparams; i++) {
        if (bind_param(&op->params[i], ev, keys, call->limit, &call->params[i], rep) != 0)
            return -1;
        call->nparams = i + 1;
    }
    return 0;
}

int uf_pg_call_build(const struct uf_pg_ops *ops, const struct uf_event *ev,
                     struct uf_pg_call *call, struct uf_pg_reply *rep)
{
    memset(call, 0, sizeof *call);
    memset(rep, 0, sizeof *rep);
    const char *name = uf_event_get_str(ev, "route");
    const struct uf_pg_op *op = uf_pg_ops_find(ops, name);
    if (!op)
        return reject(rep, 404, "not_found", "no operation named '%s'", name ? name : "");
    if (op->switch_path && !(op = pick_case(ops, op, ev, rep)))
        return -1;
    call->op = op;
    if (bind_all(op, ev, call, rep) == 0)
        return 0;
    uf_pg_call_clear(call);
    return -1;
}

/* ---- answering ---- */

/* Appends a row's JSON without the whitespace PostgreSQL puts between tokens (json_build_object
 * writes "key" : value, ...), so replies are as compact as the rest of the API's. */
static void append_compact(struct uf_strbuf *sb, const char *s, size_t len)
{
    const char *end = s + len, *run = s;
    bool in_str = false;
    for (const char *p = s; p < end; p++) {
        if (in_str) {
            if (*p == '\\')
                p++;
            else if (*p == '"')
                in_str = false;
        } else if (*p == '"') {
            in_str = true;
        } else if (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r') {
            uf_strbuf_append(sb, run, (size_t)(p - run));
            run = p + 1;
        }
    }
    uf_strbuf_append(sb, run, (size_t)(end - run));
}

static void take_body(struct uf_pg_reply *rep, struct uf_strbuf *sb)
{
    rep->body_len = sb->len;
    rep->body = uf_strbuf_take(sb);
}

/* An error status: its declared code and message, or 404's not_found one, or a default. */
static void answer_error(const struct uf_pg_op *op, int status, struct uf_pg_reply *rep)
{
    rep->status = status;
    for (size_t i = 0; i < op->nerrors; i++)
        if (op->errors[i].status == status) {
            rep->code = op->errors[i].code;
            snprintf(rep->msg, sizeof rep->msg, "%s", op->errors[i].message);
            return;
        }
    rep->code = status == 404 ? "not_found" : status == 409 ? "conflict" : "request_failed";
    snprintf(rep->msg, sizeof rep->msg, "%s", status == 404 ? op->not_found : "request failed");
}

/* {"items": the first `limit` rows, "next_cursor": the cursor of the last one when more
 * exist, else null}. */
static void answer_list(const struct uf_pg_call *call, const struct uf_pg_row *rows, size_t n,
                        struct uf_pg_reply *rep)
{
    const struct uf_pg_list *l = &call->op->list;
    size_t shown = (int64_t)n > call->limit ? (size_t)call->limit : n;
    struct uf_strbuf sb = { 0 };
    uf_strbuf_puts(&sb, "{\"items\":[");
    for (size_t i = 0, k = 0; i < shown; i++) {
        if (!rows[i].text)
            continue;
        if (k++)
            uf_strbuf_puts(&sb, ",");
        append_compact(&sb, rows[i].text, rows[i].len);
    }
    uf_strbuf_puts(&sb, "],\"next_cursor\":");
    if (shown < n && l->tag) {
        const char *f[UF_PG_KEYS_MAX];
        for (size_t k = 0; k < l->nkeys; k++)
            f[k] = rows[shown - 1].keys[k] ? rows[shown - 1].keys[k] : "";
        char *c = uf_pg_cursor_encode(l->tag, f, l->nkeys);
        uf_strbuf_printf(&sb, "\"%s\"", c); /* base64url: nothing to escape */
        free(c);
    } else {
        uf_strbuf_puts(&sb, "null");
    }
    uf_strbuf_puts(&sb, "}");
    rep->status = call->op->status;
    take_body(rep, &sb);
}

void uf_pg_call_answer(const struct uf_pg_call *call, const struct uf_pg_row *rows, size_t n,
                       struct uf_pg_reply *rep)
{
    memset(rep, 0, sizeof *rep);
    const struct uf_pg_op *op = call->op;
    if (op->is_list) {
        answer_list(call, rows, n, rep);
        return;
    }
    if (n == 0) {
        answer_error(op, 404, rep);
        return;
    }
    int status = rows[0].status ? atoi(rows[0].status) : op->status;
    if (status < 100 || status > 599)
        status = 500;
    if (status >= 400) {
        answer_error(op, status, rep);
        return;
    }
    rep->status = status;
    if (rows[0].text && status != 204) {
        struct uf_strbuf sb = { 0 };
        append_compact(&sb, rows[0].text, rows[0].len);
        take_body(rep, &sb);
    }
}

void uf_pg_call_clear(struct uf_pg_call *call)
{
    for (int i = 0; i < call->nparams; i++) {
        free(call->params[i]);
        call->params[i] = NULL;
    }
    call->nparams = 0;
}

void uf_pg_reply_clear(struct uf_pg_reply *rep)
{
    free(rep->body);
    rep->body = NULL;
    rep->body_len = 0;
}

/* ---- cursors ---- */

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *uf_pg_cursor_encode(const char *tag, const char *const *fields, size_t n)
{
    struct uf_strbuf raw = { 0 }, out = { 0 };
    uf_strbuf_puts(&raw, tag);
    for (size_t i = 0; i < n; i++) {
        uf_strbuf_puts(&raw, "|");
        uf_strbuf_puts(&raw, fields[i]);
    }
    const unsigned char *p = (const unsigned char *)raw.buf;
    for (size_t i = 0; i < raw.len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        size_t left = raw.len - i;
        if (left > 1)
            v |= (uint32_t)p[i + 1] << 8;
        if (left > 2)
            v |= p[i + 2];
        char q[4] = { b64url[v >> 18], b64url[(v >> 12) & 63], b64url[(v >> 6) & 63],
                      b64url[v & 63] };
        uf_strbuf_append(&out, q, left > 2 ? 4 : left + 1);
    }
    uf_strbuf_free(&raw);
    return uf_strbuf_take(&out);
}

static int b64val(char c)
{
    const char *p = c ? strchr(b64url, c) : NULL;
    return p ? (int)(p - b64url) : -1;
}

int uf_pg_cursor_decode(const char *cursor, const char *tag, char *buf, size_t bufsize,
                        const char **fields, size_t max)
{
    size_t len = strlen(cursor), o = 0;
    if (len % 4 == 1 || len / 4 * 3 + 3 >= bufsize)
        return -1;
    for (size_t i = 0; i < len; i += 4) {
        uint32_t v = 0;
        size_t k = len - i < 4 ? len - i : 4;
        for (size_t j = 0; j < 4; j++) {
            int d = j < k ? b64val(cursor[i + j]) : 0;
            if (d < 0)
                return -1;
            v = v << 6 | (uint32_t)d;
        }
        char out[3] = { (char)(v >> 16), (char)(v >> 8), (char)v };
        memcpy(buf + o, out, k - 1);
        o += k - 1;
    }
    buf[o] = '\0';
    if (strlen(buf) != o)
        return -1;
    size_t tl = strlen(tag);
    if (strncmp(buf, tag, tl) != 0 || buf[tl] != '|')
        return -1;
    size_t n = 0;
    for (char *s = buf + tl + 1; s; n++) {
        if (n == max)
            return -1;
        fields[n] = s;
        s = strchr(s, '|');
        if (s)
            *s++ = '\0';
    }
    return (int)n;
}
