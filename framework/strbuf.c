/* strbuf.c: growable text buffer (see strbuf.h). */
#include "framework/strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framework/mem.h"

void uf_strbuf_reserve(struct uf_strbuf *sb, size_t extra)
{
    if (sb->len + extra + 1 <= sb->cap)
        return;
    size_t cap = sb->cap ? sb->cap : 256;
    while (cap < sb->len + extra + 1)
        cap *= 2;
    sb->buf = uf_xrealloc(sb->buf, cap);
    sb->cap = cap;
}

void uf_strbuf_append(struct uf_strbuf *sb, const char *s, size_t n)
{
    uf_strbuf_reserve(sb, n);
    memcpy(sb->buf + sb->len, s, n);
    sb->len += n;
    sb->buf[sb->len] = '\0';
}

void uf_strbuf_puts(struct uf_strbuf *sb, const char *s)
{
    uf_strbuf_append(sb, s, strlen(s));
}

void uf_strbuf_printf(struct uf_strbuf *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    uf_strbuf_reserve(sb, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb->len += (size_t)n;
}

void uf_strbuf_reset(struct uf_strbuf *sb)
{
    sb->len = 0;
    if (sb->buf)
        sb->buf[0] = '\0';
}

char *uf_strbuf_take(struct uf_strbuf *sb)
{
    char *out = sb->buf ? sb->buf : uf_xstrdup("");
    sb->buf = NULL;
    sb->len = sb->cap = 0;
    return out;
}

void uf_strbuf_free(struct uf_strbuf *sb)
{
    free(sb->buf);
    sb->buf = NULL;
    sb->len = sb->cap = 0;
}
