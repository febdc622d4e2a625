/* jscan.h: a strict single-pass scanner for JSON objects, for the paths that read a payload's
 * top-level fields without building a jansson tree (a Kafka message straight into a ClickHouse
 * row, the stat API's request bodies). It checks the whole text as jansson would and reports
 * each top-level member as spans into the text, copying nothing; duplicate keys and numbers
 * beyond a machine type are looked for only on request (uf_jscan_check). Pure functions,
 * thread-safe. What exactly is checked: docs/architecture.md, "Module notes". */
#ifndef UF_JSCAN_H
#define UF_JSCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "framework/err.h"

enum uf_jtype {
    UF_J_STRING,
    UF_J_NUMBER,
    UF_J_TRUE,
    UF_J_FALSE,
    UF_J_NULL,
    UF_J_OBJECT,
    UF_J_ARRAY
};

/* One top-level member. Spans borrow the scanned text. */
struct uf_jmember {
    const char *key; /* between the quotes, escapes not decoded */
    size_t key_len;
    bool key_escaped; /* key holds a backslash: decode before comparing */
    enum uf_jtype type;
    const char *val; /* strings: between the quotes; others: the value's whole text */
    size_t val_len;
    bool escaped; /* strings: the value holds a backslash escape */
    bool integer; /* numbers: no fraction and no exponent */
    size_t index; /* position among the members or elements, from 0 */
};

/* Called per top-level member, in text order; a non-zero return stops the scan and is
 * returned by uf_jscan_object (the callback fills err itself). */
typedef int (*uf_jmember_fn)(void *arg, const struct uf_jmember *m, struct uf_err *err);

/* The first byte of s[0..n) that is not a JSON blank, '\0' when there is none: whether a text
 * holds an object or an array ('{', '['), without scanning it. */
char uf_jscan_first(const char *s, size_t n);

/* Scans s[0..n) as one JSON object. Returns 0, the callback's non-zero value, or UF_EINVAL
 * with "not JSON: <why> at byte <offset>" (or "not a JSON object") in err. */
int uf_jscan_object(const char *s, size_t n, uf_jmember_fn fn, void *arg, struct uf_err *err);

/* Scans s[0..n) as one JSON value of any type, blanks around it allowed, into *out (may be
 * NULL; key NULL; the span of a string includes its quotes here). With unique_keys, an object
 * anywhere inside that holds a key twice is refused ("duplicate object key"), as jansson's
 * JSON_REJECT_DUPLICATES does. Returns 0 or UF_EINVAL with err set as uf_jscan_object does. */
int uf_jscan_value(const char *s, size_t n, bool unique_keys, struct uf_jmember *out,
                   struct uf_err *err);

/* uf_jscan_value with more found on the way, for a caller that would otherwise pass over the
 * text again (the http source's check of a body): the caller sets the two options, the scan
 * fills the rest (also on failure, then partly). */
struct uf_jcheck {
    bool unique_keys;        /* as uf_jscan_value's */
    bool numbers;            /* look for numbers jansson refuses (bad_number) */
    struct uf_jmember value; /* as uf_jscan_value's out */
    size_t elements;         /* a top-level array's element count; 0 for other values */
    size_t non_object;       /* the index of its first element that is not an object, or
                              * SIZE_MAX when there is none */
    /* With numbers: the first number (in text order) that jansson refuses, an integer beyond
     * 64 bits or a real beyond a double, and jansson's words for it ("too big integer", "too
     * big negative integer", "real number overflow"); NULL when none. Told, not refused: the
     * text is still well-formed, and the caller decides which of its faults comes first. */
    const char *bad_number, *bad_number_why;
};
int uf_jscan_check(const char *s, size_t n, struct uf_jcheck *c, struct uf_err *err);

/* Scans s[0..n) as one JSON array, calling fn per element in order (key NULL, index set); a
 * non-zero return stops the scan and is returned. Not an array: UF_EINVAL. */
int uf_jscan_array(const char *s, size_t n, uf_jmember_fn fn, void *arg, struct uf_err *err);

/* uf_jscan_array that also reports the top-level members of each object element, so a caller
 * reading an array of objects passes over it once: for an object element, fn gets each of its
 * members in order (key set, index among the element's members), then the element itself when
 * it ends (key NULL, its whole span, type UF_J_OBJECT, index among the elements); any other
 * element is reported only as an element. Members and elements tell apart by key. A non-zero
 * return stops the scan and is returned; errors as uf_jscan_array's. */
int uf_jscan_items(const char *s, size_t n, uf_jmember_fn fn, void *arg, struct uf_err *err);

/* Looks up the named top-level members of the object s[0..n) in one scan: out[i] gets the
 * member named keys[i], or key NULL when there is none (the last one when a key repeats: use
 * texts checked with unique_keys). Returns what uf_jscan_object returns. */
int uf_jscan_pick(const char *s, size_t n, const char *const keys[], size_t nkeys,
                  struct uf_jmember out[], struct uf_err *err);

/* The same four on text that was checked before (event.h: raw_checked; text a kind wrote
 * itself): the same spans, types and callbacks in a fraction of the time, since strings are
 * skipped to their closing quote, nested values to their closing bracket and numbers to their
 * last byte, with nothing checked on the way (no UTF-8, escapes, number grammar or depth). On
 * text that is not valid JSON they still stay within its bounds and return UF_EINVAL or
 * meaningless spans, never read past it. */
int uf_jscan_object_trusted(const char *s, size_t n, uf_jmember_fn fn, void *arg,
                            struct uf_err *err);
int uf_jscan_array_trusted(const char *s, size_t n, uf_jmember_fn fn, void *arg,
                           struct uf_err *err);
int uf_jscan_items_trusted(const char *s, size_t n, uf_jmember_fn fn, void *arg,
                           struct uf_err *err);
int uf_jscan_pick_trusted(const char *s, size_t n, const char *const keys[], size_t nkeys,
                          struct uf_jmember out[], struct uf_err *err);

/* The text of a member as it appears in the source: `"key":value` with any blanks between,
 * or the element's value (quotes included) for an array element. */
void uf_jmember_span(const struct uf_jmember *m, const char **start, size_t *len);

/* Decodes the escapes of a string span into out, which must hold len bytes (decoding never
 * grows a string); returns the decoded length. Spans a strict scan accepted decode exactly; in
 * any other text a malformed escape is copied as it is, and nothing outside the span is read. */
size_t uf_jscan_unescape(const char *s, size_t len, char *out);
/* A string member's value as a C string: copied into out (val_len + 1 bytes at least), escapes
 * decoded, NUL-terminated (the scan refused \u0000, so the text holds no other NUL). Returns
 * its length. */
size_t uf_jscan_cstr(const struct uf_jmember *m, char *out);
/* A string member's bytes (*len of them): borrowed from the text when it holds no escape,
 * else decoded into *own (malloc'd, NUL-terminated; the caller frees it). */
const char *uf_jscan_str(const struct uf_jmember *m, char **own, size_t *len);
/* A member's value as a double, as jansson's json_number_value reads it: NAN when it is not a
 * number, or is one beyond a double's range (a text jansson refuses: "real number overflow"). */
double uf_jscan_number(const struct uf_jmember *m);
/* A number member's value as jansson reads an integer into *out: false when it has a fraction
 * or an exponent (jansson makes those reals) or does not fit 64 bits (jansson refuses it). */
bool uf_jscan_integer(const struct uf_jmember *m, int64_t *out);

/* A list of members that grows as a scan reports them (a uf_jmember_fn collecting them): the
 * first 32 in the struct itself, more on the heap. uf_jmembers_init points m at the struct's
 * own storage, so a list is used where it was initialised, never copied. */
struct uf_jmembers {
    struct uf_jmember *m, few[32];
    size_t n, cap;
};
void uf_jmembers_init(struct uf_jmembers *l);
/* A new member at the end of the list, for the caller to fill. */
struct uf_jmember *uf_jmembers_add(struct uf_jmembers *l);
void uf_jmembers_free(struct uf_jmembers *l);

/* Whether a key span (as reported) equals the NUL-terminated name, decoding escapes. */
bool uf_jscan_key_is(const struct uf_jmember *m, const char *name);
/* The same with name's length known (n bytes): for callers that match many members against
 * the same names, measured once. */
bool uf_jscan_key_is_n(const struct uf_jmember *m, const char *name, size_t n);

#endif
