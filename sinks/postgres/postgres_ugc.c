/* postgres_ugc.c: the UGC API's operations as prepared statements plus
 * request/reply mapping. Each route (the http source's route name) has a bind
 * function (request event -> statement and parameters, or a 4xx) and an answer
 * function (rows -> reply). Every statement is a single SQL
 * statement that PostgreSQL runs as its own transaction, so a pipeline of them
 * never leaves a request half done; uniqueness (one reaction or favorite per
 * user and movie, one vote per user and comment) lives in the schema, and
 * writes are upserts that cannot fail on a concurrent duplicate. Rows come back
 * as JSON objects built by PostgreSQL, with times as RFC 3339 UTC text with
 * microseconds, which is also what cursors carry. Replies are written as JSON
 * text with those rows spliced in as they are: no tree is built, parsed or
 * encoded on the way from the database to the client (a list of 20 comments
 * through jansson cost more CPU than the rest of the request). Does no I/O;
 * does not know libpq. */
#include "postgres_ugc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framework/event.h"
#include "framework/jscan.h"
#include "framework/mem.h"
#include "framework/stage.h"
#include "framework/strbuf.h"

/* The keyset position of a first page: after every row. */
#define SENTINEL_TS "infinity"
#define SENTINEL_ID "ffffffff-ffff-ffff-ffff-ffffffffffff"
#define SENTINEL_SCORE "2147483647"

/* ---- small helpers ---- */

static int reject(struct uf_pg_reply *rep, int status, const char *code, const char *fmt,
                  const char *what)
{
    rep->status = status;
    rep->code = code;
    snprintf(rep->msg, sizeof rep->msg, fmt, what);
    return -1;
}

static const char *field_str(const struct uf_event *ev, const char *section, const char *key)
{
    json_t *v = json_object_get(json_object_get(ev->body, section), key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static void set_param(struct uf_pg_call *call, int i, const char *value)
{
    call->params[i] = value ? uf_xstrdup(value) : NULL;
    if (i >= call->nparams)
        call->nparams = i + 1;
}

/* Copies the path's UUID (params.<key>) into call->target; 400 when missing or
 * malformed. */
static int path_uuid(const struct uf_event *ev, const char *key, struct uf_pg_call *call,
                     struct uf_pg_reply *rep)
{
    const char *s = field_str(ev, "params", key);
    if (!s || !uf_uuid_is_valid(s))
        return reject(rep, 400, "bad_uuid", "%s: not a UUID", key);
    snprintf(call->target, sizeof call->target, "%s", s);
    return 0;
}

static int need_user(const struct uf_pg_call *call, struct uf_pg_reply *rep)
{
    if (call->user[0])
        return 0;
    return reject(rep, 401, "unauthorized", "%s", "a valid bearer token is required");
}

/* query.limit: absent -> default; an integer (or its text) in 1..100, else 422.
 */
static int query_limit(const struct uf_event *ev, struct uf_pg_call *call, struct uf_pg_reply *rep)
{
    json_t *v = json_object_get(json_object_get(ev->body, "query"), "limit");
    long long n = UF_PG_LIMIT_DEFAULT;
    if (json_is_integer(v)) {
        n = json_integer_value(v);
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end = NULL;
        n = strtoll(s, &end, 10);
        if (!*s || *end)
            n = 0;
    } else if (v) {
        n = 0;
    }
    if (n < 1 || n > UF_PG_LIMIT_MAX)
        return reject(rep, 422, "invalid_field", "%s: must be an integer from 1 to 100", "limit");
    call->limit = n;
    char buf[24];
    snprintf(buf, sizeof buf, "%lld", n + 1);
    set_param(call, 3, buf);
    return 0;
}

static bool query_flag(const struct uf_event *ev, const char *key, bool *out)
{
    json_t *v = json_object_get(json_object_get(ev->body, "query"), key);
    const char *s = json_is_string(v) ? json_string_value(v) : NULL;
    if (!v || json_is_false(v) || (s && strcmp(s, "false") == 0))
        *out = false;
    else if (json_is_true(v) || (s && strcmp(s, "true") == 0))
        *out = true;
    else
        return false;
    return true;
}

/* A timestamp field of a cursor: RFC 3339 as we wrote it, so only these
 * characters. */
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

/* Keyset position: $2 (time), $3 (id) and, for `top`, $5 (score), from the
 * cursor or the sentinels that sort after every row. */
static int keyset(const struct uf_event *ev, const char *tag, bool scored, struct uf_pg_call *call,
                  struct uf_pg_reply *rep)
{
    const char *cursor = field_str(ev, "query", "cursor");
    if (!cursor || !*cursor) {
        set_param(call, 1, SENTINEL_TS);
        set_param(call, 2, SENTINEL_ID);
        if (scored)
            set_param(call, 4, SENTINEL_SCORE);
        return 0;
    }
    char buf[256];
    const char *f[3];
    size_t want = scored ? 3 : 2;
    int n = uf_pg_cursor_decode(cursor, tag, buf, sizeof buf, f, want);
    const char *ts = scored ? f[1] : f[0], *id = scored ? f[2] : f[1];
    if (n != (int)want || !is_ts(ts) || !uf_uuid_is_valid(id) || (scored && !is_int(f[0])))
        return reject(rep, 422, "invalid_field", "%s: not a cursor of this list", "cursor");
    set_param(call, 1, ts);
    set_param(call, 2, id);
    if (scored)
        set_param(call, 4, f[0]);
    return 0;
}

/* ---- bind: request -> statement ---- */

static int bind_react(const struct uf_event *ev, struct uf_pg_call *call, struct uf_pg_reply *rep,
                      const char *value)
{
    if (need_user(call, rep) || path_uuid(ev, "movie_id", call, rep))
        return -1;
    call->stmt = ST_REACT;
    set_param(call, 0, call->user);
    set_param(call, 1, call->target);
    set_param(call, 2, value);
    return 0;
}

static int bind_like(const struct uf_event *ev, struct uf_pg_call *call, struct uf_pg_reply *rep)
{
    return bind_react(ev, call, rep, "1");
}

static int bind_dislike(const struct uf_event *ev, struct uf_pg_call *call, struct uf_pg_reply *rep)
{
    return bind_react(ev, call, rep, "-1");
}

/* user + movie statements: reaction_delete, reaction_get, favorite_*,
 * progress_get. */
static int bind_user_movie(const struct uf_event *ev, struct uf_pg_call *call,
                           struct uf_pg_reply *rep, int stmt)
{
    if (need_user(call, rep) || path_uuid(ev, "movie_id", call, rep))
        return -1;
    call->stmt = stmt;
    set_param(call, 0, call->user);
    set_param(call, 1, call->target);
    return 0;
}

#define BIND_USER_MOVIE(fn, stmt)                                                                  \
    static int fn(const struct uf_event *ev, struct uf_pg_call *call, struct uf_pg_reply *rep)     \
    {                                                                                              \
        return bind_user_movie(ev, call, rep, stmt);                                               \
    }
BIND_USER_MOVIE(bind_reaction_delete, ST_REACT_DEL)
BIND_USER_MOVIE(bind_reaction_get, ST_REACT_GET)
BIND_USER_MOVIE(bind_favorite_put, ST_FAV_PUT)
BIND_USER_MOVIE(bind_favorite_delete, ST_FAV_DEL)
BIND_USER_MOVIE(bind_favorite_get, ST_FAV_GET)
BIND_USER_MOVIE(bind_progress_get, ST_PROGRESS)

static int bind_reactions_count(const struct uf_event *ev, struct uf_pg_call *call,
                                struct uf_pg_reply *rep)
{
    if (path_uuid(ev, "movie_id", call, rep))
        return -1;
    call->stmt = ST_REACT_COUNT;
    set_param(call, 0, call->target);
    return 0;
}

/* 1..5000 characters of UTF-8 (jansson already checked the encoding), no NUL.
 */
static int comment_text(const struct uf_event *ev, struct uf_pg_reply *rep, const char **out)
{
    json_t *v = json_object_get(json_object_get(ev->body, "body"), "text");
    if (!json_is_string(v))
        return reject(rep, 422, "invalid_field", "%s: a string is required", "text");
    const char *s = json_string_value(v);
    size_t chars = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        chars += (*p & 0xC0) != 0x80;
    if (strlen(s) != json_string_length(v) || chars < 1 || chars > UF_PG_TEXT_MAX)
        return reject(rep, 422, "invalid_field", "%s: must be 1 to 5000 characters", "text");
    *out = s;
    return 0;
}

static int bind_comment_create(const struct uf_event *ev, struct uf_pg_call *call,
                               struct uf_pg_reply *rep)
{
    const char *text = NULL;
    if (need_user(call, rep) || path_uuid(ev, "movie_id", call, rep) ||
        comment_text(ev, rep, &text))
        return -1;
    uint8_t id[16];
    char sid[UF_UUID_STR];
    uf_uuid_v7(id);
    uf_uuid_format(id, sid);
    call->stmt = ST_COMMENT_ADD;
    set_param(call, 0, sid);
    set_param(call, 1, call->target);
    set_param(call, 2, call->user);
    set_param(call, 3, text);
    return 0;
}

static int bind_comments_list(const struct uf_event *ev, struct uf_pg_call *call,
                              struct uf_pg_reply *rep)
{
    const char *sort = field_str(ev, "query", "sort");
    bool top = sort && strcmp(sort, "top") == 0;
    if (sort && !top && strcmp(sort, "new") != 0)
        return reject(rep, 422, "invalid_field", "%s: must be new or top", "sort");
    if (path_uuid(ev, "movie_id", call, rep) || query_limit(ev, call, rep) ||
        keyset(ev, top ? "ct" : "cn", top, call, rep))
        return -1;
    call->stmt = top ? ST_COMMENTS_TOP : ST_COMMENTS_NEW;
    set_param(call, 0, call->target);
    return 0;
}

static int bind_comment_delete(const struct uf_event *ev, struct uf_pg_call *call,
                               struct uf_pg_reply *rep)
{
    if (need_user(call, rep) || path_uuid(ev, "comment_id", call, rep))
        return -1;
    call->stmt = ST_COMMENT_DEL;
    set_param(call, 0, call->target);
    set_param(call, 1, call->user);
    set_param(call, 2, call->admin ? "true" : "false");
    return 0;
}

static int bind_vote_put(const struct uf_event *ev, struct uf_pg_call *call,
                         struct uf_pg_reply *rep)
{
    if (need_user(call, rep) || path_uuid(ev, "comment_id", call, rep))
        return -1;
    const char *v = field_str(ev, "body", "value");
    if (!v || (strcmp(v, "up") != 0 && strcmp(v, "down") != 0))
        return reject(rep, 422, "invalid_field", "%s: must be up or down", "value");
    call->stmt = ST_VOTE_PUT;
    set_param(call, 0, call->target);
    set_param(call, 1, call->user);
    set_param(call, 2, strcmp(v, "up") == 0 ? "1" : "-1");
    return 0;
}

static int bind_vote_delete(const struct uf_event *ev, struct uf_pg_call *call,
                            struct uf_pg_reply *rep)
{
    if (need_user(call, rep) || path_uuid(ev, "comment_id", call, rep))
        return -1;
    call->stmt = ST_VOTE_DEL;
    set_param(call, 0, call->target);
    set_param(call, 1, call->user);
    return 0;
}

static int bind_favorites_list(const struct uf_event *ev, struct uf_pg_call *call,
                               struct uf_pg_reply *rep)
{
    if (need_user(call, rep) || query_limit(ev, call, rep) || keyset(ev, "f", false, call, rep))
        return -1;
    call->stmt = ST_FAVS;
    set_param(call, 0, call->user);
    return 0;
}

static int bind_history_list(const struct uf_event *ev, struct uf_pg_call *call,
                             struct uf_pg_reply *rep)
{
    bool unfinished = false;
    if (!query_flag(ev, "unfinished", &unfinished))
        return reject(rep, 422, "invalid_field", "%s: must be true or false", "unfinished");
    if (need_user(call, rep) || query_limit(ev, call, rep) ||
        keyset(ev, unfinished ? "hu" : "h", false, call, rep))
        return -1;
    call->stmt = unfinished ? ST_HISTORY_UNFINISHED : ST_HISTORY;
    set_param(call, 0, call->user);
    return 0;
}

/* ---- answer: rows -> reply ---- */

/* ---- reading rows ---- */

struct find {
    const char *key;
    struct uf_jmember m;
    bool found;
};

static int find_member(void *arg, const struct uf_jmember *m, struct uf_err *err)
{
    (void)err;
    struct find *f = arg;
    if (!f->found && uf_jscan_key_is(m, f->key)) {
        f->m = *m;
        f->found = true;
    }
    return 0;
}

/* The member `key` of a row, or false when the row lacks it (or is not a JSON object). */
static bool row_get(const struct uf_pg_row *row, const char *key, struct uf_jmember *out)
{
    struct find f = {.key = key};
    if (!row || uf_jscan_object(row->text, row->len, find_member, &f, NULL) != 0 || !f.found)
        return false;
    *out = f.m;
    return true;
}

static bool row_true(const struct uf_pg_row *row, const char *key)
{
    struct uf_jmember m;
    return row_get(row, key, &m) && m.type == UF_J_TRUE;
}

static long long row_int(const struct uf_pg_row *row, const char *key)
{
    struct uf_jmember m;
    return row_get(row, key, &m) && m.type == UF_J_NUMBER ? strtoll(m.val, NULL, 10) : 0;
}

/* A string member into buf (escapes decoded, truncated to the buffer); "" when missing. */
static const char *row_str(const struct uf_pg_row *row, const char *key, char *buf, size_t size)
{
    struct uf_jmember m;
    buf[0] = '\0';
    if (!row_get(row, key, &m) || m.type != UF_J_STRING || m.val_len >= size)
        return buf;
    size_t n = m.escaped ? uf_jscan_unescape(m.val, m.val_len, buf) : m.val_len;
    if (!m.escaped)
        memcpy(buf, m.val, n);
    buf[n] = '\0';
    return buf;
}

static const struct uf_pg_row *first_row(const struct uf_pg_row *rows, size_t n)
{
    return n ? &rows[0] : NULL;
}

/* ---- writing replies ---- */

/* Appends a row's JSON without the whitespace PostgreSQL puts between tokens (json_build_object
 * writes "key" : value, ...), so replies are as compact as the rest of the API's. */
static void append_compact(struct uf_strbuf *sb, const struct uf_pg_row *row)
{
    const char *s = row->text, *end = s + row->len, *run = s;
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

/* Appends "key": to an object being written; first is the object's opening. */
static void key(struct uf_strbuf *sb, const char *name, bool first)
{
    uf_strbuf_printf(sb, "%s\"%s\":", first ? "{" : ",", name);
}

/* A JSON string of text that needs no escapes: ids, times and fixed words. */
static void plain(struct uf_strbuf *sb, const char *s)
{
    uf_strbuf_printf(sb, "\"%s\"", s);
}

static void reply(struct uf_pg_reply *rep, int status, struct uf_strbuf *sb)
{
    rep->status = status;
    if (sb) {
        rep->body_len = sb->len;
        rep->body = uf_strbuf_take(sb);
    }
}

/* {"movie_id": <target>, ... : the common start of the single-object replies. */
static void start_movie(struct uf_strbuf *sb, const char *movie_id)
{
    key(sb, "movie_id", true);
    plain(sb, movie_id);
}

static void not_found(struct uf_pg_reply *rep, const char *what)
{
    reject(rep, 404, "not_found", "%s not found", what);
}

static void answer_react(const struct uf_pg_call *call, const struct uf_pg_row *rows, size_t n,
                         struct uf_pg_reply *rep)
{
    const struct uf_pg_row *row = first_row(rows, n);
    bool like = strcmp(call->params[2], "1") == 0;
    char at[64];
    struct uf_strbuf sb = {0};
    start_movie(&sb, call->target);
    key(&sb, "reaction", false);
    plain(&sb, like ? "like" : "dislike");
    key(&sb, "updated_at", false);
    plain(&sb, row_str(row, "updated_at", at, sizeof at));
    uf_strbuf_puts(&sb, "}");
    reply(rep, row_true(row, "created") ? 201 : 200, &sb);
}

static void answer_reaction_delete(const struct uf_pg_call *call, const struct uf_pg_row *rows,
                                   size_t n, struct uf_pg_reply *rep)
{
    if (!first_row(rows, n)) {
        not_found(rep, "reaction");
        return;
    }
    reply(rep, 204, NULL);
}

static void answer_reaction_get(const struct uf_pg_call *call, const struct uf_pg_row *rows,
                                size_t n, struct uf_pg_reply *rep)
{
    long long r = row_int(first_row(rows, n), "reaction");
    struct uf_strbuf sb = {0};
    start_movie(&sb, call->target);
    key(&sb, "reaction", false);
    uf_strbuf_puts(&sb, r == 1 ? "\"like\"" : r == -1 ? "\"dislike\"" : "null");
    key(&sb, "liked", false);
    uf_strbuf_puts(&sb, r == 1 ? "true}" : "false}");
    reply(rep, 200, &sb);
}

static void answer_reactions_count(const struct uf_pg_call *call, const struct uf_pg_row *rows,
                                   size_t n, struct uf_pg_reply *rep)
{
    const struct uf_pg_row *row = first_row(rows, n);
    struct uf_strbuf sb = {0};
    start_movie(&sb, call->target);
    uf_strbuf_printf(&sb, ",\"likes\":%lld,\"dislikes\":%lld}", row_int(row, "likes"),
                     row_int(row, "dislikes"));
    reply(rep, 200, &sb);
}

/* The row itself as the reply (404 when there is none). */
static void answer_row(const struct uf_pg_row *rows, size_t n, int status, const char *what,
                       struct uf_pg_reply *rep)
{
    if (!first_row(rows, n)) {
        not_found(rep, what);
        return;
    }
    struct uf_strbuf sb = {0};
    append_compact(&sb, &rows[0]);
    reply(rep, status, &sb);
}

static void answer_comment_create(const struct uf_pg_call *call, const struct uf_pg_row *rows,
                                  size_t n, struct uf_pg_reply *rep)
{
    (void)call;
    answer_row(rows, n, 201, "comment", rep);
}

/* The cursor of an item: its keyset position in the list it came from. */
static char *item_cursor(const char *tag, const struct uf_pg_row *item)
{
    char a[64], b[64];
    if (tag[0] == 'c') {
        const char *f[3] = {NULL, row_str(item, "created_at", a, sizeof a),
                            row_str(item, "id", b, sizeof b)};
        if (tag[1] == 'n')
            return uf_pg_cursor_encode(tag, f + 1, 2);
        char score[24];
        snprintf(score, sizeof score, "%lld", row_int(item, "up") - row_int(item, "down"));
        f[0] = score;
        return uf_pg_cursor_encode(tag, f, 3);
    }
    const char *k = tag[0] == 'f' ? "created_at" : "updated_at";
    const char *f[2] = {row_str(item, k, a, sizeof a), row_str(item, "movie_id", b, sizeof b)};
    return uf_pg_cursor_encode(tag, f, 2);
}

/* {"items": first `limit` rows, "next_cursor": cursor of the last one when more
 * exist}. */
static void answer_list(const struct uf_pg_call *call, const struct uf_pg_row *rows, size_t n,
                        const char *tag, struct uf_pg_reply *rep)
{
    size_t shown = (int64_t)n > call->limit ? (size_t)call->limit : n;
    struct uf_strbuf sb = {0};
    uf_strbuf_puts(&sb, "{\"items\":[");
    for (size_t i = 0; i < shown; i++) {
        if (i)
            uf_strbuf_puts(&sb, ",");
        append_compact(&sb, &rows[i]);
    }
    uf_strbuf_puts(&sb, "],\"next_cursor\":");
    if (shown < n) {
        char *c = item_cursor(tag, &rows[shown - 1]);
        plain(&sb, c); /* base64url: nothing to escape */
        free(c);
    } else {
        uf_strbuf_puts(&sb, "null");
    }
    uf_strbuf_puts(&sb, "}");
    reply(rep, 200, &sb);
}

static void answer_comments_list(const struct uf_pg_call *call, const struct uf_pg_row *rows,
                                 size_t n, struct uf_pg_reply *rep)
{
    answer_list(call, rows, n, call->stmt == ST_COMMENTS_TOP ? "ct" : "cn", rep);
}

static void answer_favorites_list(const struct uf_pg_call *call, const struct uf_pg_row *rows,
                                  size_t n, struct uf_pg_reply *rep)
{
    answer_list(call, rows, n, "f", rep);
}

static void answer_history_list(const struct uf_pg_call *call, const struct uf_pg_row *rows,
                                size_t n, struct uf_pg_reply *rep)
{
    answer_list(call, rows, n, call->stmt == ST_HISTORY_UNFINISHED ? "hu" : "h", rep);
}

static void answer_comment_delete(const struct uf_pg_call *call, const struct uf_pg_row *rows,
                                  size_t n, struct uf_pg_reply *rep)
{
    const struct uf_pg_row *row = first_row(rows, n);
    if (!row) {
        not_found(rep, "comment");
        return;
    }
    char author[64];
    if (!row_true(row, "deleted")) {
        /* Allowed but not deleted: someone deleted it between the two CTE scans. */
        if (call->admin ||
            strcmp(row_str(row, "author", author, sizeof author), call->user) == 0) {
            not_found(rep, "comment");
            return;
        }
        reject(rep, 403, "forbidden", "%s", "only the author or an admin may delete a comment");
        return;
    }
    reply(rep, 204, NULL);
}

static void answer_vote_put(const struct uf_pg_call *call, const struct uf_pg_row *rows, size_t n,
                            struct uf_pg_reply *rep)
{
    const struct uf_pg_row *row = first_row(rows, n);
    if (!row) {
        not_found(rep, "comment");
        return;
    }
    struct uf_strbuf sb = {0};
    key(&sb, "comment_id", true);
    plain(&sb, call->target);
    key(&sb, "value", false);
    plain(&sb, strcmp(call->params[2], "1") == 0 ? "up" : "down");
    uf_strbuf_puts(&sb, "}");
    reply(rep, row_true(row, "created") ? 201 : 200, &sb);
}

static void answer_deleted(const struct uf_pg_row *rows, size_t n, struct uf_pg_reply *rep,
                           const char *what)
{
    if (first_row(rows, n))
        reply(rep, 204, NULL);
    else
        not_found(rep, what);
}

static void answer_vote_delete(const struct uf_pg_call *call, const struct uf_pg_row *rows,
                               size_t n, struct uf_pg_reply *rep)
{
    (void)call;
    answer_deleted(rows, n, rep, "vote");
}

/* {"movie_id": <target>, "favorite": <favorite>} */
static void favorite_reply(const struct uf_pg_call *call, int status, bool favorite,
                           struct uf_pg_reply *rep)
{
    struct uf_strbuf sb = {0};
    start_movie(&sb, call->target);
    key(&sb, "favorite", false);
    uf_strbuf_puts(&sb, favorite ? "true}" : "false}");
    reply(rep, status, &sb);
}

static void answer_favorite_put(const struct uf_pg_call *call, const struct uf_pg_row *rows,
                                size_t n, struct uf_pg_reply *rep)
{
    bool added = first_row(rows, n) != NULL;
    favorite_reply(call, added ? 201 : 200, true, rep);
}

static void answer_favorite_delete(const struct uf_pg_call *call, const struct uf_pg_row *rows,
                                   size_t n, struct uf_pg_reply *rep)
{
    (void)call;
    answer_deleted(rows, n, rep, "favorite");
}

static void answer_favorite_get(const struct uf_pg_call *call, const struct uf_pg_row *rows,
                                size_t n, struct uf_pg_reply *rep)
{
    favorite_reply(call, 200, first_row(rows, n) != NULL, rep);
}

static void answer_progress_get(const struct uf_pg_call *call, const struct uf_pg_row *rows,
                                size_t n, struct uf_pg_reply *rep)
{
    (void)call;
    answer_row(rows, n, 200, "progress", rep);
}

/* ---- the route table ---- */

struct route {
    const char *name;
    int (*bind)(const struct uf_event *ev, struct uf_pg_call *call, struct uf_pg_reply *rep);
    void (*answer)(const struct uf_pg_call *call, const struct uf_pg_row *rows, size_t n,
                   struct uf_pg_reply *rep);
};

static const struct route routes[] = {
    {"like", bind_like, answer_react},
    {"dislike", bind_dislike, answer_react},
    {"reaction_delete", bind_reaction_delete, answer_reaction_delete},
    {"reaction_get", bind_reaction_get, answer_reaction_get},
    {"reactions_count", bind_reactions_count, answer_reactions_count},
    {"comment_create", bind_comment_create, answer_comment_create},
    {"comments_list", bind_comments_list, answer_comments_list},
    {"comment_delete", bind_comment_delete, answer_comment_delete},
    {"comment_vote_put", bind_vote_put, answer_vote_put},
    {"comment_vote_delete", bind_vote_delete, answer_vote_delete},
    {"favorite_put", bind_favorite_put, answer_favorite_put},
    {"favorite_delete", bind_favorite_delete, answer_favorite_delete},
    {"favorite_get", bind_favorite_get, answer_favorite_get},
    {"favorites_list", bind_favorites_list, answer_favorites_list},
    {"progress_get", bind_progress_get, answer_progress_get},
    {"history_list", bind_history_list, answer_history_list},
};
#define NROUTES (sizeof routes / sizeof routes[0])

const char *const uf_pg_route_names[] = {
    "like",
    "dislike",
    "reaction_delete",
    "reaction_get",
    "reactions_count",
    "comment_create",
    "comments_list",
    "comment_delete",
    "comment_vote_put",
    "comment_vote_delete",
    "favorite_put",
    "favorite_delete",
    "favorite_get",
    "favorites_list",
    "progress_get",
    "history_list",
    NULL,
};

static bool has_role(const struct uf_event *ev, const char *role)
{
    json_t *roles = uf_event_meta_get(ev, "roles");
    size_t i;
    json_t *r;
    json_array_foreach(roles, i, r)
    {
        if (json_is_string(r) && strcmp(json_string_value(r), role) == 0)
            return true;
    }
    return false;
}

int uf_pg_call_build(const struct uf_event *ev, struct uf_pg_call *call, struct uf_pg_reply *rep)
{
    memset(call, 0, sizeof *call);
    memset(rep, 0, sizeof *rep);
    const char *name = uf_event_get_str(ev, "route");
    call->route = -1;
    for (size_t i = 0; name && i < NROUTES; i++) {
        if (strcmp(routes[i].name, name) == 0)
            call->route = (int)i;
    }
    if (call->route < 0)
        return reject(rep, 404, "not_found", "no UGC operation named '%s'", name ? name : "");
    if (ev->user && uf_uuid_is_valid(ev->user))
        snprintf(call->user, sizeof call->user, "%s", ev->user);
    call->admin = has_role(ev, "admin");
    if (routes[call->route].bind(ev, call, rep) == 0)
        return 0;
    uf_pg_call_clear(call);
    return -1;
}

void uf_pg_call_answer(const struct uf_pg_call *call, const struct uf_pg_row *rows, size_t n,
                       struct uf_pg_reply *rep)
{
    memset(rep, 0, sizeof *rep);
    routes[call->route].answer(call, rows, n, rep);
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
    struct uf_strbuf raw = {0}, out = {0};
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
        char q[4] = {b64url[v >> 18], b64url[(v >> 12) & 63], b64url[(v >> 6) & 63],
                     b64url[v & 63]};
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
        char out[3] = {(char)(v >> 16), (char)(v >> 8), (char)v};
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
