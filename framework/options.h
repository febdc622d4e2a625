/* options.h: option tables, the single source of a stage kind's configuration.
 * Each kind declares a NULL-terminated array of struct uf_option; from it the config loader
 * checks values and fills the kind's context at `offset`, and `ugcflow stages` and
 * docs/stages.md are made. Values filled in are owned by the framework; kinds never free them.
 * Storage at `offset`: STR char *, INT int64_t, FLOAT double, BOOL bool, DURATION int64_t ms,
 * SIZE int64_t bytes, ENUM int (index into `values`), LIST json_t * array of strings, MAP
 * json_t * object. Unit spellings and MAP values: docs/architecture.md, "Module notes". */
#ifndef UF_OPTIONS_H
#define UF_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum uf_opt_type {
    UF_OPT_STR,
    UF_OPT_INT,
    UF_OPT_FLOAT,
    UF_OPT_BOOL,
    UF_OPT_DURATION,
    UF_OPT_SIZE,
    UF_OPT_ENUM,
    UF_OPT_LIST,
    UF_OPT_MAP,
};

enum {
    UF_OPT_REQUIRED = 1 << 0, /* no default; must be given */
    UF_OPT_SECRET = 1 << 1,   /* masked in /api/graph, logs and the graph page */
};

struct uf_option {
    const char *name;
    enum uf_opt_type type;
    unsigned flags;
    const char *def;           /* default as text; NULL means unset (zero/NULL) unless REQUIRED */
    int64_t min, max;          /* INT/DURATION/SIZE range, checked when min < max */
    const char *const *values; /* ENUM: allowed values, NULL-terminated */
    const char *desc;          /* one sentence */
    size_t offset;             /* where the value goes in the kind's context */
};

struct uf_err;

/* Parses text as an option value of opt's type and range into dst (the address at offset).
 * Used for defaults and for YAML scalars. Fills err with what was expected. STR/LIST/MAP are
 * handled by the config loader, not here. */
int uf_option_parse_scalar(const struct uf_option *opt, const char *text, void *dst,
                           struct uf_err *err);

/* The type's name as shown to users ("string", "integer", "duration"...). */
const char *uf_option_type_name(enum uf_opt_type type);

/* Finds an option by name in a table, or NULL. */
const struct uf_option *uf_option_find(const struct uf_option *table, const char *name);

/* The closest option name to `name` (edit distance <= 3), or NULL; for "did you mean". */
const char *uf_option_suggest(const struct uf_option *table, const char *name);
/* Edit distance helper shared with other "did you mean" lookups. */
size_t uf_edit_distance(const char *a, const char *b);

#endif
