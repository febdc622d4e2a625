/* validate_int.h: what the files of the `validate` transform share (not a public interface).
 * validate.c holds the options, the lifecycle and the walk over an event's items, from a tree
 * or from raw text, with the failures it answers; validate_rules.c reads the rules at init;
 * validate_check.c holds the checks. The checks see a value as a struct uf_validate_val, filled
 * from a jansson value or from a member scanned in JSON text, so both paths apply the very same
 * rules. Rules are read-only after init; everything else lives on the stack of one process() call.
 */
#ifndef UF_VALIDATE_INT_H
#define UF_VALIDATE_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "framework/err.h"
#include "framework/jscan.h"
#include "framework/uuid.h"

enum uf_validate_type {
    UF_VT_ANY,
    UF_VT_STRING,
    UF_VT_INT,
    UF_VT_NUMBER,
    UF_VT_BOOL,
    UF_VT_UUID,
    UF_VT_OBJECT,
    UF_VT_ARRAY,
    UF_VT_RFC3339,
};

struct uf_validate_rule {
    char *path;
    char **parts;
    size_t nparts;
    const char *field; /* path without its body./params./query. prefix */
    size_t key;        /* a one-name path: its index in uf_validate_ctx.keys; else SIZE_MAX */
    enum uf_validate_type type;
    bool required, coerce, flat;
    int64_t min_len, max_len, max_bytes, max_keys, max_value_bytes; /* -1 when unset */
    double min, max;                                                /* NAN when unset */
    bool charset[128];
    char *charset_text;
    json_t *enum_values, *def;
    json_t *not_prefix; /* strings a value must not start with, or NULL */
    int status;
};

struct uf_validate_set {
    const char *name; /* borrowed from the rules option */
    struct uf_validate_rule *rules;
    size_t n;
};

struct uf_validate_ctx {
    json_t *rules_opt;
    char *items;
    int match, unmatched; /* match: 0 route, 1 type; unmatched: 0 pass, 1 reject */
    int64_t status;

    struct uf_validate_set *sets;
    size_t nsets;
    /* What a raw item's members are picked by (uf_jscan_pick, or by name as uf_jscan_items
     * reports them): every one-name rule path of every set, and "type" (at type_key) with
     * match: type. Borrowed from the rules; their lengths measured once, at init. */
    const char **keys;
    size_t *key_lens;
    size_t nkeys, type_key;
    bool on_text; /* the rules can be checked on text (see uf_validate_parse_rules) */
};

/* Reads vc->rules_opt into vc->sets and indexes vc->keys (init). Returns 0, or UF_EINVAL with
 * "rules: <set>: <path>: <what>" in err; uf_validate_free_rules frees what was read either way. */
int uf_validate_parse_rules(struct uf_validate_ctx *vc, struct uf_err *err);
void uf_validate_free_rules(struct uf_validate_ctx *vc);

/* ---- values under check ---- */

enum uf_validate_kind {
    UF_VK_NULL,
    UF_VK_STRING,
    UF_VK_INT,
    UF_VK_REAL,
    UF_VK_BOOL,
    UF_VK_OBJECT,
    UF_VK_ARRAY
};

struct uf_validate_val {
    enum uf_validate_kind kind;
    const char *str; /* strings: the decoded bytes, NUL-terminated when nul */
    size_t len;
    bool nul;
    int64_t i;          /* UF_VK_INT */
    double num;         /* UF_VK_INT and UF_VK_REAL */
    bool b;             /* UF_VK_BOOL */
    const json_t *tree; /* the tree path's value (what objects and arrays are walked from) */
    const char *text;   /* the raw path's value text (objects and arrays: the whole of it) */
    size_t text_len;
    bool recased; /* a UUID that is not in lower case: str now points at canon */
    char canon[UF_UUID_STR];
};

/* Room for a string decoded from JSON text: on the stack for the usual short one, on the heap
 * past it (a body may hold strings up to max_body). Get room once, free once. */
struct uf_validate_buf {
    char *p;
    char stack[256];
};

/* s[0..n) decoded when escaped, NUL-terminated, in b; its length in *len. */
const char *uf_validate_buf_text(struct uf_validate_buf *b, const char *s, size_t n, bool escaped,
                                 size_t *len);
void uf_validate_buf_free(struct uf_validate_buf *b);

/* Fills x from a jansson value (borrowed). */
void uf_validate_val_tree(const json_t *v, struct uf_validate_val *x);
/* Fills x from a member scanned from text; b holds what x points at until uf_validate_buf_free.
 * Strings are decoded when escaped, and copied with a NUL when nul asks for one. */
void uf_validate_val_text(const struct uf_jmember *m, bool nul, struct uf_validate_buf *b,
                          struct uf_validate_val *x);

/* ---- checks ---- */

struct uf_validate_failure {
    const struct uf_validate_rule *rule;
    /* A key inside an object value (flat, max_value_bytes), or NULL: a span of the body's tree
     * or text, valid until the event is finished; escaped keys are decoded for the message. */
    const char *key;
    size_t key_len;
    bool key_escaped;
    char why[160];
};

/* Records why in f (and no key); returns false, for `return uf_validate_fail(...)`. */
bool uf_validate_fail(struct uf_validate_failure *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Checks a present (non-null) value against f->rule; false with f filled on failure. A UUID
 * that passes comes back in canon, recased when the value's owner must write it back. */
bool uf_validate_check_value(struct uf_validate_failure *f, struct uf_validate_val *v);

#endif
