/* http_raw.c: the checks of a batch request's body when the `http` source emits it raw (every
 * stage downstream takes raw events, see http_request.c), in place of json_loadb and the tree
 * path's checks. The answers are the tree path's: the same statuses and codes, the `position`
 * of malformed JSON, the `index` of an item that is not an object, and the same messages for
 * item counts and items; only a malformed body's message differs, giving jscan's reason and
 * byte offset where jansson gives a line and column. What passes is what the raw request event
 * promises downstream (docs: raw contract): one JSON object, or an array of at most max_items
 * objects, strictly checked with duplicate keys refused at any depth, and numbers that jansson
 * would take (integers that fit 64 bits, reals that do not overflow), since the tree path
 * answers the others 400 too. Pure functions of the body bytes: thread-safe, no allocation
 * beyond the copy of an unusually long real number. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_int.h"
#include "jscan.h"
#include "mem.h"

static void verdict(struct http_raw_verdict *v, int status, const char *code)
{
    v->status = status;
    v->code = code;
}

/* Malformed JSON at byte pos, for a reason found here. */
static void malformed_at(struct http_raw_verdict *v, size_t pos, const char *why)
{
    verdict(v, 400, "malformed_json");
    snprintf(v->msg, sizeof(v->msg), "malformed JSON at byte %zu: %s", pos, why);
    v->position = (long long)pos;
}

/* Malformed JSON as jscan reported it: "not JSON: <why> at byte <pos>". */
static void malformed_scan(struct http_raw_verdict *v, const char *msg)
{
    const char *why = strncmp(msg, "not JSON: ", 10) == 0 ? msg + 10 : msg;
    const char *at = strstr(why, " at byte ");
    if (!at) { /* not jscan's usual form: keep its text whole */
        malformed_at(v, 0, why);
        return;
    }
    size_t pos = (size_t)strtoull(at + 9, NULL, 10);
    verdict(v, 400, "malformed_json");
    snprintf(v->msg, sizeof(v->msg), "malformed JSON at byte %zu: %.*s", pos, (int)(at - why),
             why);
    v->position = (long long)pos;
}

/* ---- numbers jansson would refuse ---- */

/* The index just past the string whose opening quote is at s[i] (the text was checked, so the
 * closing quote is there; memchr keeps long strings cheap). */
static size_t string_end(const char *s, size_t n, size_t i)
{
    for (;;) {
        const char *q = memchr(s + i + 1, '"', n - i - 1);
        if (!q)
            return n;
        size_t k = (size_t)(q - s), bs = 0;
        while (s[k - 1 - bs] == '\\')
            bs++;
        if (bs % 2 == 0)
            return k + 1;
        i = k;
    }
}

static size_t number_end(const char *s, size_t n, size_t i)
{
    while (i < n && ((s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '+' || s[i] == '.' ||
                     s[i] == 'e' || s[i] == 'E'))
        i++;
    return i;
}

/* Whether the number tok[0..len) cannot be out of jansson's range, decided from its length:
 * an integer of at most 18 digits fits 64 bits, and a real without an exponent and under 300
 * characters is below 1e300. Most numbers of a request end here, without strtod. */
static bool number_surely_fits(const char *tok, size_t len, bool *real)
{
    bool exp = memchr(tok, 'e', len) || memchr(tok, 'E', len);
    *real = exp || memchr(tok, '.', len);
    if (!*real)
        return len - (tok[0] == '-') <= 18;
    return !exp && len < 300;
}

/* Why jansson refuses the number tok[0..len) (its own words), or NULL when it takes it. */
static const char *number_refused(const char *tok, size_t len)
{
    bool real;
    if (number_surely_fits(tok, len, &real))
        return NULL;
    char small[64];
    char *buf = len < sizeof(small) ? small : uf_xmalloc(len + 1);
    memcpy(buf, tok, len);
    buf[len] = '\0';
    const char *why = NULL;
    errno = 0;
    if (real) {
        double d = strtod(buf, NULL); /* an underflow (ERANGE near 0) is taken, as by jansson */
        if (errno == ERANGE && fabs(d) == HUGE_VAL)
            why = "real number overflow";
    } else {
        strtoll(buf, NULL, 10);
        if (errno == ERANGE)
            why = tok[0] == '-' ? "too big negative integer" : "too big integer";
    }
    if (buf != small)
        free(buf);
    return why;
}

/* Checks every number of the (already checked) text; answers 400 for the first refused. */
static bool numbers_fit(const char *s, size_t n, struct http_raw_verdict *v)
{
    for (size_t i = 0; i < n;) {
        char c = s[i];
        if (c == '"') {
            i = string_end(s, n, i);
            continue;
        }
        if (c != '-' && (c < '0' || c > '9')) {
            i++;
            continue;
        }
        size_t end = number_end(s, n, i);
        const char *why = number_refused(s + i, end - i);
        if (why) {
            malformed_at(v, i, why);
            return false;
        }
        i = end;
    }
    return true;
}

/* ---- the items ---- */

struct items {
    size_t n;
    size_t bad; /* the first element that is not an object; SIZE_MAX when none */
};

static int count_item(void *arg, const struct uf_jmember *m, struct uf_err *err)
{
    (void)err;
    struct items *it = arg;
    if (m->type != UF_J_OBJECT && it->bad == SIZE_MAX)
        it->bad = m->index;
    it->n++;
    return 0;
}

/* The tree path's order: too many items (413) before an item that is not an object (400). */
static void check_items(const char *body, size_t len, int64_t max_items,
                        struct http_raw_verdict *v)
{
    struct items it = { .bad = SIZE_MAX };
    struct uf_err err = { 0 };
    if (uf_jscan_array_trusted(body, len, count_item, &it, &err) != 0) {
        malformed_scan(v, err.msg); /* not reached: uf_jscan_value checked the text */
        return;
    }
    if ((int64_t)it.n > max_items) {
        verdict(v, 413, "too_many_items");
        snprintf(v->msg, sizeof(v->msg), "%zu items; at most %lld are accepted", it.n,
                 (long long)max_items);
    } else if (it.bad != SIZE_MAX) {
        verdict(v, 400, "malformed_json");
        snprintf(v->msg, sizeof(v->msg), "item %zu is not a JSON object", it.bad);
        v->index = (long long)it.bad;
    }
    v->nitems = it.n;
}

void http_raw_check(const char *body, size_t len, int64_t max_items, struct http_raw_verdict *v)
{
    *v = (struct http_raw_verdict){ .position = -1, .index = -1 };
    if (len == 0) {
        verdict(v, 400, "empty_body");
        snprintf(v->msg, sizeof(v->msg), "a JSON body is required");
        return;
    }
    struct uf_jmember m;
    struct uf_err err = { 0 };
    if (uf_jscan_value(body, len, true, &m, &err) != 0) {
        malformed_scan(v, err.msg);
        return;
    }
    if (m.type != UF_J_OBJECT && m.type != UF_J_ARRAY) { /* jansson takes only these at the top */
        malformed_at(v, (size_t)(m.val - body), "'[' or '{' expected");
        return;
    }
    if (!numbers_fit(body, len, v))
        return;
    if (m.type == UF_J_OBJECT)
        v->nitems = 1;
    else
        check_items(body, len, max_items, v);
}
