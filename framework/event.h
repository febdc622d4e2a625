/* event.h: the unit that flows through a pipeline, and the completion handle behind replies.
 * An event is a JSON object (a tree or the received text: kinds use the field API either way)
 * plus an id, a receive time, the source, the user and `meta` (request facts). Whoever holds a
 * struct uf_event * ends that ownership exactly once: uf_emit() or uf_event_done/drop/fail.
 * A completion is shared by every event derived from one request or message; its callback runs
 * once, when the last reference goes, with the recorded status and body. Completions are
 * thread-safe; events have one owner at a time. */
#ifndef UF_EVENT_H
#define UF_EVENT_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "jscan.h"

struct uf_stage;
struct uf_completion;
struct uf_raw_members;

enum uf_outcome {
    UF_OUTCOME_DONE,    /* written or delivered */
    UF_OUTCOME_DROPPED, /* discarded on purpose (filter, unmatched route) */
    UF_OUTCOME_FAILED,  /* an error: counted, reported through the completion */
};

/* Opaque: how an event holds its body (a jansson tree, or JSON text scanned on demand) is the
 * framework's (event_int.h). Kinds use the functions below. */
struct uf_event;

/* Creates an event; takes ownership of body (which must be a JSON object). Never NULL. */
struct uf_event *uf_event_new(json_t *body);

/* Creates an event for a source payload left unparsed (event_int.h: raw): it holds no tree,
 * and its text borrows len bytes at raw (the source keeps them until the event's completion
 * runs, or gives the event a copy with uf_event_own_raw); id is copied (NULL: a new UUIDv7).
 * Never NULL. */
struct uf_event *uf_event_new_raw(const char *raw, size_t len, const uint8_t id[16]);

/* Replaces the event's raw text with text (len bytes, malloc'd; the event takes ownership),
 * freeing a previous text the event owned and the members remembered of it, and clears
 * raw_checked (the caller sets it again when it knows the new text is valid). body must be
 * NULL. */
void uf_event_set_raw(struct uf_event *ev, char *text, size_t len);

/* Checks the event's raw text strictly, once: uf_jscan_value with duplicate keys refused at any
 * depth, as the http source checks a body and as jansson's JSON_REJECT_DUPLICATES parse of the
 * tree path refuses (so a kind reading fields by name sees what the tree path would, whatever
 * the source checked), then marks it raw_checked: from then on the trusted scanners read it.
 * Returns 0 (at once when it was checked already) or UF_EINVAL with err set. */
int uf_event_check_raw(struct uf_event *ev, struct uf_err *err);

/* A few named fields of an event, read from its body or its raw text alike (uf_event_fields):
 * strings NULL when missing or not a string, numbers NAN when missing or not a number. From a
 * body the strings borrow it; from a raw text they are decoded into scratch, on the stack for
 * the usual short values. */
#define UF_FIELDS_MAX 16
struct uf_fields {
    const char *str[UF_FIELDS_MAX];
    double num[UF_FIELDS_MAX];
    struct uf_jmember m[UF_FIELDS_MAX]; /* the framework's, for a text's members */
    struct uf_err err;                  /* why, when uf_event_fields returned false */
    char *heap;
    char stack[512];
};

/* Reads names[0..nstr) as strings and names[nstr..n) as numbers (n <= UF_FIELDS_MAX) into f,
 * whose str[i] and num[i] follow names. False when the raw text is not a JSON object (nothing
 * to release then); otherwise release f with uf_fields_free. */
bool uf_event_fields(struct uf_event *ev, const char *const names[], size_t nstr, size_t n,
                     struct uf_fields *f);
void uf_fields_free(struct uf_fields *f);

/* Gives the event a copy of its own of the raw text it borrows (for an event that outlives the
 * source's buffer: no completion keeps it); raw_checked and the members remembered stay, moved
 * onto the copy. Nothing when the event has no raw text or owns it already. */
void uf_event_own_raw(struct uf_event *ev);

/* Frees without counting or completing anything: only for events never emitted (for example
 * rejected before entering the graph). Accepts NULL. Releases the completion reference. */
void uf_event_free(struct uf_event *ev);

/* The meta object to change, created on first use; when it was shared with other events, the
 * event gets a copy of its own first (nested objects and arrays copied too), so a change never
 * reaches another event. Borrowed. To read, use uf_event_meta_peek (may be NULL) or
 * uf_event_meta_get. */
json_t *uf_event_meta(struct uf_event *ev);

/* Meta's member key, NULL when there is none. Borrowed; never copies. */
json_t *uf_event_meta_get(const struct uf_event *ev, const char *key);

/* Makes ev item index of a request of count items, sharing meta (referenced, copied on change
 * by uf_event_meta). */
void uf_event_set_item(struct uf_event *ev, json_t *meta, size_t index, size_t count);

/* Sets the user (copied). NULL clears it. */
void uf_event_set_user(struct uf_event *ev, const char *user);

/* ---- batches ---- */

/* What uf_event_items made of a batch. */
enum uf_items_rc {
    UF_ITEMS_SPLIT, /* *out holds *n new item events (malloc'd array); the batch holds none */
    UF_ITEMS_SELF,  /* a batch of one held as text: the event itself is item 0 of 1 */
    UF_ITEMS_NONE,  /* no array at path: the event is no batch */
    UF_ITEMS_FAIL,  /* an item that is not an object, or a text that is not JSON: err says */
};
/* Cuts a batch into its items: the objects of the array at path, or for a batch held as its
 * text (the http source's batch requests, whose envelope puts the items at "body"), the
 * text's elements. Item events share the batch's meta (copied by the item that changes it),
 * user, source, receive time and completion, and get their index and count; each has its own
 * id. Nothing is made when one item is not an object. The batch stays the caller's. */
enum uf_items_rc uf_event_items(struct uf_event *ev, const char *path, struct uf_event ***out,
                                size_t *n, struct uf_err *err);

/* ---- metadata ---- */

/* The user: borrowed, NULL for anonymous. */
const char *uf_event_user(const struct uf_event *ev);
/* The source component's name (borrowed from the graph), NULL until a source sets it. */
const char *uf_event_source(const struct uf_event *ev);
void uf_event_set_source(struct uf_event *ev, const char *source);
/* Server time the event was received, UTC microseconds. */
int64_t uf_event_received_us(const struct uf_event *ev);
void uf_event_set_received_us(struct uf_event *ev, int64_t us);
/* The event's UUIDv7 (16 bytes, borrowed). */
const uint8_t *uf_event_id(const struct uf_event *ev);
void uf_event_set_id(struct uf_event *ev, const uint8_t id[16]);
/* The item's place in its request and the request's item count (uf_event_set_item): -1 and 0
 * when the event is not an item. */
int uf_event_index(const struct uf_event *ev);
int uf_event_count(const struct uf_event *ev);
/* The meta object to read (borrowed, NULL when the event has none yet). Change it only through
 * uf_event_meta, which first gives the event its own. */
json_t *uf_event_meta_peek(const struct uf_event *ev);
/* Replaces meta (takes ownership of the reference; NULL clears it). */
void uf_event_set_meta(struct uf_event *ev, json_t *meta);
/* The completion shared by the events of one request or input message (NULL: fire and forget).
 * Borrowed; uf_completion_attach to share it with a new event. */
struct uf_completion *uf_event_completion(const struct uf_event *ev);

/* ---- the body as a tree ---- */

/* The body as a jansson object to read or change (borrowed): an event held as text is parsed
 * on the first call (strictly, duplicate keys refused) and holds the tree from then on. NULL
 * when the text is not one JSON object. */
json_t *uf_event_body(struct uf_event *ev);
/* Replaces the body (takes ownership of body, a JSON object; NULL: the event lets go of its
 * data, for a sink that keeps the event only to finish it later). */
void uf_event_set_body(struct uf_event *ev, json_t *body);
/* The body tree when the event holds one (borrowed; never parses): NULL when it is held as
 * text or was let go of. */
json_t *uf_event_tree(const struct uf_event *ev);

/* ---- the body as JSON text ---- */

/* The body as JSON text (borrowed: valid until the event changes or finishes): the text the
 * event holds, or its tree encoded compactly (uf_jsonenc_dumps), which the event then holds
 * instead. For a sink that encodes every event from text. NULL when it holds no body. */
const char *uf_event_text(struct uf_event *ev, size_t *len);
/* Takes the body out of the event as JSON text (malloc'd, *len bytes, not NUL-terminated; the
 * caller frees it): the text the event holds, moved or copied as it is, or the tree encoded
 * compactly (uf_jsonenc_dumps). The event holds no body afterwards. NULL when it held none. */
char *uf_event_take_text(struct uf_event *ev, size_t *len);
/* Lets go of the event's data now (body, meta, user), keeping what finishing it needs (its
 * completion, id, item place): for a sink that finishes the event later on another thread,
 * so the data is freed where it was used and is still in cache. */
void uf_event_release_data(struct uf_event *ev);

/* The body's JSON text when the event holds it as text (borrowed, *len bytes, not
 * NUL-terminated), NULL when it holds a tree. */
const char *uf_event_raw(const struct uf_event *ev, size_t *len);
/* Whether the text is known to be valid JSON with unique keys (see uf_event_check_raw). */
bool uf_event_raw_checked(const struct uf_event *ev);
/* Tells the event its text is valid JSON with unique keys (a source or kind that checked it
 * strictly, or wrote it from such a text): jscan's trusted scanners may read it. */
void uf_event_set_raw_checked(struct uf_event *ev, bool checked);

/* Sets (value non-NULL, copied) or removes (value NULL) top-level string fields, in one step:
 * an event held as text is rewritten without a tree (its other members as they were, then the
 * fields set, in order); n <= UF_STRFIELDS_MAX. Returns 0, or UF_EINVAL with err set when the
 * event holds a text that is not one JSON object (nothing changed then). */
#define UF_STRFIELDS_MAX 16
struct uf_strfield {
    const char *name, *value;
};
int uf_event_set_strs(struct uf_event *ev, const struct uf_strfield *f, size_t n,
                      struct uf_err *err);

/* Convenience setters on body; they copy strings. */
void uf_event_set_str(struct uf_event *ev, const char *key, const char *value);
void uf_event_set_int(struct uf_event *ev, const char *key, int64_t value);
/* One field's value, read from a tree or a text alike, for a kind that compares it: type
 * UF_J_NULL also when the field is missing; a string's decoded bytes in str (len of them,
 * borrowed from the event, or from buf when decoding needed a copy); a number's value in ival
 * when it is an integer that fits 64 bits (int_ok), as jansson would read it. */
struct uf_scalar {
    enum uf_jtype type;
    const char *str;
    size_t len;
    bool int_ok;
    int64_t ival;
    char *buf;
};
/* Reads the field at path (dotted: "params.movie_id") into out; release it with
 * uf_scalar_free. Returns 0, or UF_EINVAL with err set when the event holds a text that is not
 * one JSON object. */
int uf_event_get_scalar(struct uf_event *ev, const char *path, struct uf_scalar *out,
                        struct uf_err *err);
void uf_scalar_free(struct uf_scalar *s);

/* A top-level field's value as a new jansson reference (the caller releases it), NULL when
 * missing: from a tree the value itself, from a text a parse of the member's span. */
json_t *uf_event_get_value(struct uf_event *ev, const char *key);
/* Borrowed string field of body, or NULL when missing or not a string. */
const char *uf_event_get_str(const struct uf_event *ev, const char *key);
/* The value at a dotted path into body ("params.movie_id"), NULL when missing. Borrowed. */
json_t *uf_event_get_path(const struct uf_event *ev, const char *path);

/* Records the reply for the event's completion (takes ownership of body, which may be NULL).
 * The first reply wins, except that an error status (>= 400) replaces a success. Does not
 * finish the event. No-op (body freed) when the event has no completion. */
void uf_event_reply(struct uf_event *ev, int status, json_t *body);
/* The same with a body that is already JSON text (takes ownership of the malloc'd json, which
 * must be one valid JSON value of len bytes): for stages that assemble a reply from text they
 * already hold, such as rows a database rendered as JSON, without a tree in between. */
void uf_event_reply_text(struct uf_event *ev, int status, char *json, size_t len);
/* Adds a response header to the event's reply (name and value copied; a later value for the
 * same name replaces an earlier one), sent whichever status wins: e.g. the id of the event a
 * write produced. No-op when the event has no completion. */
void uf_event_reply_header(struct uf_event *ev, const char *name, const char *value);

/* Finishing: each takes ownership of ev and frees it, counting on the stage that holds it. */
void uf_event_done(struct uf_event *ev);
void uf_event_drop(struct uf_event *ev, const char *reason);
/* An error: status is the HTTP status the request should get (e.g. 422, 503), code a short
 * machine-readable string and msg a human sentence; both end up in {"error":{code,message}}
 * unless a reply with an error status was already recorded. */
void uf_event_fail(struct uf_event *ev, int status, const char *code, const char *msg);

/* ---- completions ---- */

/* Called once, from whichever thread released the last reference. It must not block. The
 * completion is freed right after the callback returns. */
typedef void (*uf_done_fn)(struct uf_completion *c, void *arg);

/* Creates a completion holding one reference for the creator. */
struct uf_completion *uf_completion_new(uf_done_fn fn, void *arg);
/* Attaches c to ev (adds a reference). ev must not have a completion yet. */
void uf_completion_attach(struct uf_completion *c, struct uf_event *ev);
/* Drops one reference; the last one runs the callback and frees c. */
void uf_completion_release(struct uf_completion *c);

/* Results, for the callback: the HTTP status (0 when no stage set one), the reply body (borrowed,
 * may be NULL), counts of events finished per outcome. */
int uf_completion_status(const struct uf_completion *c);
json_t *uf_completion_body(const struct uf_completion *c);
/* Takes the body out (caller owns it); the completion then holds none. */
json_t *uf_completion_take_body(struct uf_completion *c);
/* Takes out a body recorded as text by uf_event_reply_text (caller frees it), or NULL; its
 * length in *len. A completion holds a body or a text, never both. */
char *uf_completion_take_text(struct uf_completion *c, size_t *len);
/* Takes out the headers recorded by uf_event_reply_header: an object of name -> string, or NULL
 * when none (caller owns the reference). */
json_t *uf_completion_take_headers(struct uf_completion *c);
unsigned uf_completion_count(const struct uf_completion *c, enum uf_outcome o);

/* A waitable completion for callers that block (tests, the stdin source, simple request/reply).
 * uf_waiter_new returns a completion and a waiter; the waiter holds its own reference.
 * uf_waiter_wait blocks until the completion ran or timeout_ms passed: 0 when done (results
 * readable through uf_waiter_completion-like accessors below), UF_ETIMEOUT otherwise. A late
 * completion after a timeout is harmless. uf_waiter_free releases everything. */
struct uf_waiter;
struct uf_waiter *uf_waiter_new(struct uf_completion **c);
int uf_waiter_wait(struct uf_waiter *w, int timeout_ms);
int uf_waiter_status(const struct uf_waiter *w);
json_t *uf_waiter_body(const struct uf_waiter *w); /* borrowed; NULL when none */
unsigned uf_waiter_count(const struct uf_waiter *w, enum uf_outcome o);
void uf_waiter_free(struct uf_waiter *w);

#endif
