/* http_raw.c: the checks of a batch request's body when the `http` source holds it as text, in
 * place of json_loadb and the tree path's checks, with the tree path's answers (statuses, codes,
 * `position`, `index`, messages; only a malformed body's message gives jscan's byte offset).
 * What passes is what a batch held as text promises downstream: one object, or an array of at
 * most max_items objects, checked strictly in one scan (uf_jscan_check), duplicate keys refused
 * at any depth and numbers jansson would take. Pure functions of the body bytes: thread-safe;
 * they allocate only for the duplicate-key check and an unusually long real. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framework/jscan.h"
#include "sources/http/http_int.h"

static void verdict(struct http_raw_verdict *v, int status, const char *code)
{
    v->status = status;
    v->code = code;
}

/* Malformed JSON at byte pos, for a reason found here. */
static void malformed_at(struct http_raw_verdict *v, size_t pos, const char *why)
{
    verdict(v, 400, "malformed_json");
    /* why is a short reason; bounded so that a whole error message could never overflow */
    snprintf(v->msg, sizeof(v->msg), "malformed JSON at byte %zu: %.*s", pos,
             (int)(sizeof(v->msg) - 64), why);
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
    snprintf(v->msg, sizeof(v->msg), "malformed JSON at byte %zu: %.*s", pos, (int)(at - why), why);
    v->position = (long long)pos;
}

/* Too many items (413) before an item that is not an object (400); both paths answer so. */
void http_items_verdict(size_t n, size_t non_object, int64_t max_items, struct http_raw_verdict *v)
{
    if ((int64_t)n > max_items) {
        verdict(v, 413, "too_many_items");
        snprintf(v->msg, sizeof(v->msg), "%zu items; at most %lld are accepted", n,
                 (long long)max_items);
    } else if (non_object != SIZE_MAX) {
        verdict(v, 400, "malformed_json");
        snprintf(v->msg, sizeof(v->msg), "item %zu is not a JSON object", non_object);
        v->index = (long long)non_object;
    }
    v->nitems = n;
}

/* One strict pass gathers all the verdict needs: well-formedness, duplicate keys, numbers
 * jansson refuses and the items. Faults are answered in the order they were before that pass
 * gathered them all: the grammar, the top-level type, numbers, then the items. */
void http_raw_check(const char *body, size_t len, int64_t max_items, struct http_raw_verdict *v)
{
    *v = (struct http_raw_verdict){ .position = -1, .index = -1 };
    if (len == 0) {
        verdict(v, 400, "empty_body");
        snprintf(v->msg, sizeof(v->msg), "a JSON body is required");
        return;
    }
    struct uf_jcheck c = { .unique_keys = true, .numbers = true };
    struct uf_err err = { 0 };
    if (uf_jscan_check(body, len, &c, &err) != 0) {
        malformed_scan(v, err.msg);
        return;
    }
    if (c.value.type != UF_J_OBJECT && c.value.type != UF_J_ARRAY) { /* as jansson's top */
        malformed_at(v, (size_t)(c.value.val - body), "'[' or '{' expected");
        return;
    }
    if (c.bad_number) {
        malformed_at(v, (size_t)(c.bad_number - body), c.bad_number_why);
        return;
    }
    if (c.value.type == UF_J_OBJECT)
        v->nitems = 1;
    else
        http_items_verdict(c.elements, c.non_object, max_items, v);
}
