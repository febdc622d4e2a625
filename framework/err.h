/* err.h: the error value every ugcflow function fills on failure.
 * A struct uf_err carries a negative UF_E* code and a fixed-size message. Callers may pass NULL
 * when they do not care about the message. Context is added on the way up with
 * uf_err_prefix(), never by overwriting the cause. Not thread-shared: one per call chain. */
#ifndef UF_ERR_H
#define UF_ERR_H

#include <stddef.h>

enum uf_errcode {
    UF_EOK = 0,
    UF_EINVAL = -1,   /* bad input or configuration */
    UF_EIO = -2,      /* a system or network call failed */
    UF_EFULL = -3,    /* a bounded queue or spool is full */
    UF_ECLOSED = -4,  /* the target is shutting down */
    UF_ETIMEOUT = -5, /* a deadline passed */
    UF_ENOTFOUND = -6,
};

#define UF_ERR_MSG_MAX 512

struct uf_err {
    int code;
    char msg[UF_ERR_MSG_MAX];
};

/* Sets code and message (printf-style); returns code so callers can `return uf_err_set(...)`. */
int uf_err_set(struct uf_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepends "<context>: " to the message, keeping the cause. */
void uf_err_prefix(struct uf_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
