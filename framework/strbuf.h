/* strbuf.h: a growable byte buffer for building text (metrics, JSON, SQL parameters).
 * Never fails (allocation goes through uf_xrealloc). Not thread-safe. */
#ifndef UF_STRBUF_H
#define UF_STRBUF_H

#include <stddef.h>

struct uf_strbuf {
    char *buf; /* NUL-terminated when len > 0 or after any append */
    size_t len, cap;
};

void uf_strbuf_append(struct uf_strbuf *sb, const char *s, size_t n);
/* Makes room for n more bytes and the NUL after them, keeping the contents: a caller that
 * writes many small pieces reserves once and then writes at buf + len itself. */
void uf_strbuf_reserve(struct uf_strbuf *sb, size_t n);
void uf_strbuf_puts(struct uf_strbuf *sb, const char *s);
void uf_strbuf_printf(struct uf_strbuf *sb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void uf_strbuf_reset(struct uf_strbuf *sb);
/* Hands the buffer to the caller (never NULL) and empties sb. */
char *uf_strbuf_take(struct uf_strbuf *sb);
void uf_strbuf_free(struct uf_strbuf *sb);

#endif
