/* mem.h: allocation wrappers that never return NULL.
 * Out of memory is not bad input: these log and abort, so callers carry no untested NULL
 * branches. Sizes that come from input must be checked against a limit before calling. */
#ifndef UF_MEM_H
#define UF_MEM_H

#include <stddef.h>

void *uf_xmalloc(size_t n);
void *uf_xcalloc(size_t count, size_t n);
void *uf_xrealloc(void *p, size_t n);
char *uf_xstrdup(const char *s);
char *uf_xstrndup(const char *s, size_t n);
/* printf into a fresh heap string. */
char *uf_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
