/* log.c: logfmt lines on stderr (see log.h).
 * Each line is formatted into a stack buffer and written with one write(2), so lines from
 * different threads never interleave. Values are quoted when they contain spaces, quotes or '='.
 * Rate limiting keys on (stage, message pointer): messages are string literals, so the pointer
 * identifies the call site cheaply. */
#include "framework/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "framework/secret.h"
#include "framework/stage.h"

enum uf_level uf_log_level = UF_LOG_INFO;

static const char *const level_names[] = { "trace", "debug", "info", "warn", "error", "off" };

int uf_log_parse_level(const char *s)
{
    for (int i = 0; i <= UF_LOG_OFF; i++)
        if (strcmp(s, level_names[i]) == 0)
            return i;
    return -1;
}

struct line {
    char buf[4096];
    size_t len;
};

static void put(struct line *l, const char *s, size_t n)
{
    if (l->len + n >= sizeof l->buf - 2)
        n = sizeof l->buf - 2 - l->len;
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

static void put_value(struct line *l, const char *v)
{
    if (!v)
        v = "";
    bool quote = *v == '\0' || strpbrk(v, " \"=\\") != NULL;
    for (const unsigned char *p = (const unsigned char *)v; *p && !quote; p++)
        quote = *p < 0x20 || *p == 0x7f;
    if (!quote) {
        put(l, v, strlen(v));
        return;
    }
    put(l, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (*p == '"' || *p == '\\')
            put(l, "\\", 1);
        if (*p < 0x20 || *p == 0x7f) { /* untrusted text must not forge or break lines */
            char esc[8];
            snprintf(esc, sizeof esc, *p == '\n' ? "\\n" : "\\x%02x", *p);
            put(l, esc, strlen(esc));
            continue;
        }
        put(l, (const char *)p, 1);
    }
    put(l, "\"", 1);
}

/* Values pass secret.c's rules: a field named like a secret is never shown, and a URL or DSN
 * in a message keeps its user but not its password. */
static void put_kv(struct line *l, const char *k, const char *v)
{
    char clean[sizeof l->buf];
    put(l, " ", 1);
    put(l, k, strlen(k));
    put(l, "=", 1);
    if (v && *v && uf_secret_is_secret_name(k))
        v = UF_SECRET_MASK;
    else if (uf_secret_has_inline(v))
        v = uf_secret_redact(v, clean, sizeof clean);
    put_value(l, v);
}

static void emit(enum uf_level level, const struct uf_stage *st, const char *msg, va_list ap,
                 unsigned long suppressed)
{
    struct line l = { .len = 0 };
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char t[64];
    size_t n = strftime(t, sizeof t, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(t + n, sizeof t - n, ".%03ldZ", ts.tv_nsec / 1000000);
    put(&l, "ts=", 3);
    put(&l, t, strlen(t));
    put_kv(&l, "level", level_names[level]);
    if (st) {
        put_kv(&l, "pipeline", uf_stage_pipeline(st));
        put_kv(&l, "component", uf_stage_name(st));
        put_kv(&l, "kind", uf_stage_kind(st)->name);
    }
    put_kv(&l, "msg", msg);
    for (const char *k = va_arg(ap, const char *); k; k = va_arg(ap, const char *))
        put_kv(&l, k, va_arg(ap, const char *));
    if (suppressed) {
        char s[32];
        snprintf(s, sizeof s, "%lu", suppressed);
        put_kv(&l, "suppressed", s);
    }
    put(&l, "\n", 1);
    ssize_t w = write(STDERR_FILENO, l.buf, l.len);
    (void)w;
}

void uf_log_write(enum uf_level level, const struct uf_stage *st, const char *msg, ...)
{
    va_list ap;
    va_start(ap, msg);
    emit(level, st, msg, ap, 0);
    va_end(ap);
}

#define LIMIT_SLOTS 128
#define LIMIT_WINDOW_NS (10LL * 1000000000LL)

struct limit_slot {
    const void *st, *msg;
    int64_t last_ns;
    unsigned long suppressed;
};

static struct limit_slot limits[LIMIT_SLOTS];
static pthread_mutex_t limits_lock = PTHREAD_MUTEX_INITIALIZER;

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

#define LIMIT_PROBES 4

/* The slot for (st, msg): its own if present among the probed slots, else the one used least
 * recently, so two call sites that hash alike do not keep resetting each other. */
static struct limit_slot *slot_for(const void *st, const void *msg)
{
    uintptr_t h = ((uintptr_t)st * 31u + (uintptr_t)msg) >> 3;
    struct limit_slot *victim = NULL;
    for (int i = 0; i < LIMIT_PROBES; i++) {
        struct limit_slot *s = &limits[(h + (uintptr_t)i) % LIMIT_SLOTS];
        if (s->st == st && s->msg == msg)
            return s;
        if (!victim || s->last_ns < victim->last_ns)
            victim = s;
    }
    return victim;
}

/* Returns true when the line should be written, with the count suppressed since the last one. */
static bool admit(const void *st, const void *msg, unsigned long *suppressed)
{
    int64_t now = mono_ns();
    bool ok;
    pthread_mutex_lock(&limits_lock);
    struct limit_slot *s = slot_for(st, msg);
    if (s->st != st || s->msg != msg) {
        *s = (struct limit_slot){ .st = st, .msg = msg, .last_ns = now };
        *suppressed = 0;
        ok = true;
    } else if (now - s->last_ns >= LIMIT_WINDOW_NS) {
        *suppressed = s->suppressed;
        s->suppressed = 0;
        s->last_ns = now;
        ok = true;
    } else {
        s->suppressed++;
        ok = false;
    }
    pthread_mutex_unlock(&limits_lock);
    return ok;
}

void uf_log_limited_write(enum uf_level level, const struct uf_stage *st, const char *msg, ...)
{
    unsigned long suppressed;
    if (!admit(st, msg, &suppressed))
        return;
    va_list ap;
    va_start(ap, msg);
    emit(level, st, msg, ap, suppressed);
    va_end(ap);
}
