/* event_int.h: how the framework holds an event, for event.c and the runtime only. Kinds see
 * an event through the functions of event.h; the representation (a jansson tree, or the JSON
 * text a source received with the members scanned so far) may change without them knowing. */
#ifndef UF_EVENT_INT_H
#define UF_EVENT_INT_H

#include "event.h"

struct uf_raw_members {
    size_t n, cap;
    struct uf_jmember m[];
};

struct uf_event {
    json_t *body; /* owned; a JSON object (NULL when raw is set, and once a
                   * sink that keeps the event to finish it later has let go
                   * of its data: uf_event_release_data) */
    /* The payload as JSON text, not parsed, as a source received it: NULL when body holds the
     * event. body is NULL then (a tree per event was most of the cost of the hot paths); the
     * field API reads either form, and parses the text into body only when a kind asks for a
     * tree or sets a field that needs one (event_fields.c). Borrowed from the source unless
     * raw_owned: the source keeps the bytes until the event's completion runs, so only an
     * event with a completion carries borrowed raw, and copies share it. A rewrite gives the
     * event its own copy (uf_event_set_raw). What was checked is the source's to say (the
     * kafka_source: the text up to its id; the http source: the whole body, strictly,
     * duplicate keys refused): readers check it strictly first (uf_event_check_raw) and a
     * malformed text fails the event with a 4xx. */
    const char *raw;
    size_t raw_len;
    bool raw_owned; /* raw is malloc'd and the event's (uf_event_set_raw) */
    /* raw is known to be valid JSON with unique keys (the http source checked it strictly, or
     * a kind wrote it from such a text): kinds may read it with jscan's trusted functions,
     * which skip values without checking them. Copies keep it; uf_event_set_raw clears it. */
    bool raw_checked;
    struct uf_raw_members *raw_members; /* owned: raw's top-level members once uf_event_pick
                                         * scanned them (or the kind that wrote raw told them);
                                         * NULL otherwise. Copies keep them. */
    json_t *meta;                       /* referenced, read-only: NULL until uf_event_meta() creates
                                         * it; may be shared with other events (a batch's items, a
                                         * copy), so it is read here and changed only through
                                         * uf_event_meta(), which first gives the event its own */
    int32_t index;                      /* the item's place in its request (a batch route's or
                                         * split's items), -1 when the event is not an item */
    int32_t count;                      /* the request's number of items; 0 when not an item */
    char *user;                         /* owned; NULL for anonymous */
    const char *source;                 /* borrowed: the source component's name (lives with the
                                         * graph) */
    int64_t received_us;                /* server time, UTC microseconds */
    uint8_t id[16];                     /* UUIDv7, assigned by uf_event_new */
    struct uf_completion *done;         /* shared; NULL for fire-and-forget */
    struct uf_stage *at; /* framework-maintained: the stage that holds the event now */
};

/* The named top-level members of the event's raw object, as uf_jscan_pick reports them: the
 * first call checks the text (uf_event_check_raw), scans it and remembers every member, so the
 * stages after it (uf_event_fields, uf_event_get_scalar) look their fields up without another
 * scan. Returns 0 or the check's error (nothing remembered then). */
int uf_event_pick(struct uf_event *ev, const char *const keys[], size_t nkeys,
                  struct uf_jmember out[], struct uf_err *err);

/* Remembers the n members at m (copied; their spans must point into the current raw text) as
 * raw's members, for a rewrite that wrote the text and knows where each member is. */
void uf_event_set_raw_members(struct uf_event *ev, const struct uf_jmember *m, size_t n);

/* The runtime's copy for a branch of a fan-out (kinds never copy events). Deep-copies body and
 * user (and raw when the event owns it); the copy shares meta (copied on its first change) and
 * shares (and references) the completion. */
struct uf_event *uf_event_copy(const struct uf_event *ev);

/* Whether the event owns its text (a copy, or uf_event_set_raw's) rather than borrowing it. */
bool uf_event_raw_owned(const struct uf_event *ev);

/* The members of the event's text, scanned (after a strict check) on the first call and
 * remembered until the text changes; NULL with err set when the text is not one JSON object. */
const struct uf_raw_members *uf_event_members(struct uf_event *ev, struct uf_err *err);

#endif
