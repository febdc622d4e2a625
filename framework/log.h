/* log.h: one logfmt line per message on stderr.
 * uf_log(level, st, "Message.", "key", value, ...) checks the level before formatting anything.
 * `st` may be NULL (process-wide messages); otherwise its pipeline, component and kind are added.
 * Key/value pairs are strings; use uf_log_fmt-style helpers for numbers (see UF_LOG_INT).
 * The same message from one component is rate-limited to one line per 10 s with a count of the
 * suppressed lines (uf_log_limited). Thread-safe: each line is written with one write(2). */
#ifndef UF_LOG_H
#define UF_LOG_H

#include <stdbool.h>

enum uf_level { UF_LOG_TRACE, UF_LOG_DEBUG, UF_LOG_INFO, UF_LOG_WARN, UF_LOG_ERROR, UF_LOG_OFF };

struct uf_stage;

extern enum uf_level uf_log_level; /* the log sink's one mutable global */

/* Parses "trace|debug|info|warn|error|off"; returns -1 when unknown. */
int uf_log_parse_level(const char *s);

/* Writes the line; kv is a NULL-terminated list of key, value strings. Use the macro. */
void uf_log_write(enum uf_level level, const struct uf_stage *st, const char *msg, ...);

#define uf_log(level, st, ...)                                                                     \
    do {                                                                                           \
        if ((level) >= uf_log_level)                                                               \
            uf_log_write((level), (st), __VA_ARGS__, (const char *)0);                             \
    } while (0)

/* Rate-limited variant: at most one line per `key` (a static string naming the condition) and
 * stage every 10 s; the next line carries suppressed=N. */
void uf_log_limited_write(enum uf_level level, const struct uf_stage *st, const char *msg, ...);
#define uf_log_limited(level, st, ...)                                                             \
    do {                                                                                           \
        if ((level) >= uf_log_level)                                                               \
            uf_log_limited_write((level), (st), __VA_ARGS__, (const char *)0);                     \
    } while (0)

#endif
