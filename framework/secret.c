/* secret.c: what is a secret, and hiding it (see secret.h).
 * The name rule is a list of words because librdkafka alone has a dozen secret properties
 * (sasl.password, ssl.key.password, ssl.keystore.password, sasl.oauthbearer.client.secret,
 * ssl.key.pem...) and more arrive with each release: a word list catches the new ones, a list
 * of names would not. Redaction copies text and leaves the secret out, so a line cut short can
 * never end inside a password. */
#include "framework/secret.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "framework/mem.h"
#include "framework/options.h"

#define MAX_NAME 128

static const char *const secret_words[] = {
    "password",           "passwd", "secret",  "token",
    "credential",         "apikey", "api_key", "api-key",
    "authorization",      "cookie", "private", "jaas",
    "oauthbearer.config", NULL,
};

/* Where a secret is kept, not the secret: the name of a variable, a file, a claim. */
static const char *const place_suffixes[] = {
    "_env", "_file", "_path", ".location", "_location", "_claim", "_cache", NULL,
};

static bool ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

/* The rule on a name of n bytes at s (no NUL needed). */
static bool secret_name_n(const char *s, size_t n)
{
    char low[MAX_NAME + 1];
    if (n == 0 || n > MAX_NAME)
        return false;
    for (size_t i = 0; i < n; i++)
        low[i] = (char)tolower((unsigned char)s[i]);
    low[n] = '\0';
    for (const char *const *p = place_suffixes; *p; p++)
        if (ends_with(low, n, *p))
            return false;
    if (strcmp(low, "pwd") == 0 || ends_with(low, n, "key.pem"))
        return true;
    for (const char *const *w = secret_words; *w; w++)
        if (strstr(low, *w))
            return true;
    return false;
}

bool uf_secret_is_secret_name(const char *name)
{
    return name && secret_name_n(name, strlen(name));
}

struct out {
    char *buf; /* NULL: only detect */
    size_t n, len;
    bool found;
};

static void put(struct out *o, const char *s, size_t k)
{
    if (!o->buf)
        return;
    size_t room = o->n - 1 - o->len;
    k = k < room ? k : room;
    memcpy(o->buf + o->len, s, k);
    o->len += k;
}

static bool is_name_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '.' || c == '-';
}

/* At "://" (i points there): copies the authority, leaving out a userinfo password. Returns
 * the index after what was consumed. */
static size_t url_authority(const char *t, size_t i, struct out *o)
{
    size_t j = i + 3, end = j + strcspn(t + j, "/?# \t\r\n\"'");
    const char *at = NULL;
    for (size_t k = j; k < end; k++)
        at = t[k] == '@' ? t + k : at;
    const char *colon = at ? memchr(t + j, ':', (size_t)(at - (t + j))) : NULL;
    if (!colon)
        return put(o, t + i, 3), j;
    put(o, t + i, (size_t)(colon - (t + i)) + 1);
    put(o, UF_SECRET_MASK, strlen(UF_SECRET_MASK));
    o->found = true;
    return (size_t)(at - t);
}

/* At '=' (i points there) after a secret-named key: copies '=' and the mask for the value.
 * Returns the index after the value. */
static size_t kv_value(const char *t, size_t i, struct out *o)
{
    size_t j = i + 1;
    char q = t[j] == '\'' || t[j] == '"' ? t[j] : 0;
    if (q) {
        for (j++; t[j] && t[j] != q; j++)
            j += t[j] == '\\' && t[j + 1];
        j += t[j] == q;
    } else {
        j += strcspn(t + j, " \t\r\n&;,\"'");
    }
    if (j == i + 1)
        return put(o, "=", 1), j;
    put(o, "=", 1);
    put(o, UF_SECRET_MASK, strlen(UF_SECRET_MASK));
    o->found = true;
    return j;
}

static bool after_secret_name(const char *t, size_t i)
{
    size_t b = i;
    while (b > 0 && is_name_char(t[b - 1]))
        b--;
    return secret_name_n(t + b, i - b);
}

static void scan(const char *t, struct out *o)
{
    size_t i = 0;
    while (t[i]) {
        if (t[i] == ':' && t[i + 1] == '/' && t[i + 2] == '/') {
            i = url_authority(t, i, o);
        } else if (t[i] == '=' && after_secret_name(t, i)) {
            i = kv_value(t, i, o);
        } else {
            size_t k = 1 + strcspn(t + i + 1, ":=");
            put(o, t + i, k);
            i += k;
        }
    }
    if (o->buf)
        o->buf[o->len] = '\0';
}

bool uf_secret_has_inline(const char *text)
{
    struct out o = { 0 };
    if (text)
        scan(text, &o);
    return o.found;
}

char *uf_secret_redact(const char *text, char *out, size_t n)
{
    struct out o = { .buf = out, .n = n };
    if (n == 0)
        return out;
    out[0] = '\0';
    if (text)
        scan(text, &o);
    return out;
}

static json_t *redact_string(const json_t *j)
{
    const char *s = json_string_value(j);
    if (!uf_secret_has_inline(s))
        return json_copy((json_t *)j);
    size_t n = 3 * strlen(s) + 4; /* a mask may be longer than the one byte it hides */
    char *buf = uf_xmalloc(n);
    json_t *r = json_string(uf_secret_redact(s, buf, n));
    free(buf);
    return r;
}

json_t *uf_secret_redact_json(const json_t *j)
{
    if (!j)
        return NULL;
    if (json_is_string(j))
        return redact_string(j);
    const char *key;
    json_t *v;
    size_t i;
    if (json_is_object(j)) {
        json_t *r = json_object();
        json_object_foreach((json_t *)j, key, v)
        {
            bool hide = uf_secret_is_secret_name(key) && !json_is_null(v);
            json_object_set_new(r, key,
                                hide ? json_string(UF_SECRET_MASK) : uf_secret_redact_json(v));
        }
        return r;
    }
    if (json_is_array(j)) {
        json_t *r = json_array();
        json_array_foreach(j, i, v) json_array_append_new(r, uf_secret_redact_json(v));
        return r;
    }
    return json_copy((json_t *)j);
}

json_t *uf_secret_option_json(const struct uf_option *o, const void *base)
{
    const char *p = (const char *)base + o->offset;
    if (o->flags & UF_OPT_SECRET)
        return *(const char *const *)p ? json_string(UF_SECRET_MASK) : json_null();
    switch (o->type) {
    case UF_OPT_STR: {
        const char *s = *(const char *const *)p;
        json_t *raw = s ? json_string(s) : NULL;
        json_t *r = raw ? uf_secret_redact_json(raw) : json_null();
        json_decref(raw);
        return r;
    }
    case UF_OPT_INT:
    case UF_OPT_DURATION:
    case UF_OPT_SIZE:
        return json_integer(*(const int64_t *)p);
    case UF_OPT_FLOAT:
        return json_real(*(const double *)p);
    case UF_OPT_BOOL:
        return json_boolean(*(const bool *)p);
    case UF_OPT_ENUM:
        return json_string(o->values[*(const int *)p]);
    case UF_OPT_LIST:
    case UF_OPT_MAP: {
        json_t *j = *(json_t *const *)p;
        return j ? uf_secret_redact_json(j) : json_null();
    }
    }
    return json_null();
}
