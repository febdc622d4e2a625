/* err.c: filling and prefixing struct uf_err (see err.h). */
#include "framework/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int uf_err_set(struct uf_err *err, int code, const char *fmt, ...)
{
    if (!err)
        return code;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return code;
}

void uf_err_prefix(struct uf_err *err, const char *fmt, ...)
{
    if (!err)
        return;
    char prefix[UF_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    char joined[2 * UF_ERR_MSG_MAX + 2];
    snprintf(joined, sizeof joined, "%s: %s", prefix, err->msg);
    memcpy(err->msg, joined, UF_ERR_MSG_MAX - 1);
    err->msg[UF_ERR_MSG_MAX - 1] = '\0';
}
