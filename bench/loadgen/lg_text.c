/* lg_text.c: printf-free appends for the loadgen's per-request text (see lg_text.h). A number
 * is written backwards into a small stack buffer, then appended once. "%.1f" rounds the exact
 * binary value half to even; v * 10 is not exact, so the tenths come from the decimal the C
 * library would print only where that cannot matter: away from a halfway point. */
#include "bench/loadgen/lg_text.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>

void uf_lg_put(struct uf_strbuf *sb, ...)
{
    va_list ap;
    va_start(ap, sb);
    for (const char *s; (s = va_arg(ap, const char *));)
        uf_strbuf_append(sb, s, strlen(s));
    va_end(ap);
}

void uf_lg_put_u64(struct uf_strbuf *sb, uint64_t v)
{
    char buf[20];
    size_t i = sizeof buf;
    do {
        buf[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    uf_strbuf_append(sb, buf + i, sizeof buf - i);
}

void uf_lg_put_tenths(struct uf_strbuf *sb, double v)
{
    double t = v * 10, r = floor(t + 0.5);
    if (!(v >= 0 && v <= 1e12) || fabs(t - floor(t) - 0.5) < 1e-6) {
        uf_strbuf_printf(sb, "%.1f", v); /* a halfway case (or out of range): printf decides */
        return;
    }
    uint64_t n = (uint64_t)r;
    uf_lg_put_u64(sb, n / 10);
    char tail[2] = { '.', (char)('0' + n % 10) };
    uf_strbuf_append(sb, tail, 2);
}
