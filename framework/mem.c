/* mem.c: allocation that aborts on exhaustion (see mem.h for why). */
#include "framework/mem.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *check(void *p, size_t n)
{
    if (!p && n) {
        fprintf(stderr, "ugcflow: out of memory allocating %zu bytes\n", n);
        abort();
    }
    return p;
}

void *uf_xmalloc(size_t n)
{
    return check(malloc(n ? n : 1), n ? n : 1);
}
void *uf_xcalloc(size_t count, size_t n)
{
    return check(calloc(count ? count : 1, n ? n : 1), 1);
}
void *uf_xrealloc(void *p, size_t n)
{
    return check(realloc(p, n ? n : 1), 1);
}
char *uf_xstrdup(const char *s)
{
    return check(strdup(s), 1);
}
char *uf_xstrndup(const char *s, size_t n)
{
    return check(strndup(s, n), 1);
}

char *uf_xasprintf(const char *fmt, ...)
{
    char *out = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&out, fmt, ap);
    va_end(ap);
    if (n < 0)
        check(NULL, 1);
    return out;
}
