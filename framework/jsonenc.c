/* jsonenc.c: compact JSON text (see jsonenc.h). Strings are copied in runs between the
 * characters that need an escape ('"', '\\' and controls below 0x20, as jansson escapes them:
 * the short forms \b \f \n \r \t, else \u00XX in upper case); bytes from 0x80 up are copied as
 * they are, since jansson keeps strings valid UTF-8. */
#include "framework/jsonenc.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const char hex[] = "0123456789ABCDEF";

static bool needs_escape(unsigned char c)
{
    return c < 0x20 || c == '"' || c == '\\';
}

static void put_escape(struct uf_strbuf *sb, unsigned char c)
{
    char seq[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
    const char *brief = c == '"'    ? "\\\""
                        : c == '\\' ? "\\\\"
                        : c == '\b' ? "\\b"
                        : c == '\f' ? "\\f"
                        : c == '\n' ? "\\n"
                        : c == '\r' ? "\\r"
                        : c == '\t' ? "\\t"
                                    : NULL;
    if (brief)
        uf_strbuf_append(sb, brief, 2);
    else
        uf_strbuf_append(sb, seq, sizeof seq);
}

void uf_jsonenc_append_str(struct uf_strbuf *sb, const char *s, size_t n)
{
    uf_strbuf_append(sb, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        if (!needs_escape((unsigned char)s[i]))
            continue;
        uf_strbuf_append(sb, s + run, i - run);
        put_escape(sb, (unsigned char)s[i]);
        run = i + 1;
    }
    uf_strbuf_append(sb, s + run, n - run);
    uf_strbuf_append(sb, "\"", 1);
}

static void put_integer(struct uf_strbuf *sb, json_int_t v)
{
    char buf[24], *p = buf + sizeof buf;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    uf_strbuf_append(sb, p, (size_t)(buf + sizeof buf - p));
}

/* jansson's real format: "%.17g", ".0" when the text has neither '.' nor 'e', and the
 * exponent without '+' or leading zeros. (The C locale is assumed, as everywhere here.) */
static void put_real(struct uf_strbuf *sb, double d)
{
    char buf[40];
    int n = snprintf(buf, sizeof buf - 2, "%.17g", d);
    if (n < 0 || (size_t)n >= sizeof buf - 2)
        n = 0;
    buf[n] = '\0';
    if (!strchr(buf, '.') && !strchr(buf, 'e')) {
        memcpy(buf + n, ".0", 3);
        n += 2;
    }
    char *e = strchr(buf, 'e');
    if (e) {
        char *start = e + 1 + (e[1] == '-');
        char *end = e + 2;
        while (*end == '0')
            end++;
        if (end != start) {
            memmove(start, end, (size_t)(buf + n - end) + 1);
            n -= (int)(end - start);
        }
    }
    uf_strbuf_append(sb, buf, (size_t)n);
}

/* Appends the compact text of v (any JSON value) to sb. */
static void append_value(struct uf_strbuf *sb, const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *key;
        size_t key_len;
        json_t *x;
        bool first = true;
        uf_strbuf_append(sb, "{", 1);
        json_object_keylen_foreach((json_t *)v, key, key_len, x)
        {
            if (!first)
                uf_strbuf_append(sb, ",", 1);
            first = false;
            uf_jsonenc_append_str(sb, key, key_len);
            uf_strbuf_append(sb, ":", 1);
            append_value(sb, x);
        }
        uf_strbuf_append(sb, "}", 1);
        return;
    }
    case JSON_ARRAY:
        uf_strbuf_append(sb, "[", 1);
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i)
                uf_strbuf_append(sb, ",", 1);
            append_value(sb, json_array_get(v, i));
        }
        uf_strbuf_append(sb, "]", 1);
        return;
    case JSON_STRING:
        uf_jsonenc_append_str(sb, json_string_value(v), json_string_length(v));
        return;
    case JSON_INTEGER:
        put_integer(sb, json_integer_value(v));
        return;
    case JSON_REAL:
        put_real(sb, json_real_value(v));
        return;
    case JSON_TRUE:
        uf_strbuf_append(sb, "true", 4);
        return;
    case JSON_FALSE:
        uf_strbuf_append(sb, "false", 5);
        return;
    case JSON_NULL:
        uf_strbuf_append(sb, "null", 4);
        return;
    }
}

char *uf_jsonenc_dumps(const json_t *v, size_t *len)
{
    struct uf_strbuf sb = { 0 };
    append_value(&sb, v);
    if (len)
        *len = sb.len;
    return uf_strbuf_take(&sb);
}
