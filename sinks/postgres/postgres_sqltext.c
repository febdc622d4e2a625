/* postgres_sqltext.c: the text of an operation's statement: named parameters (:name) become
 * PostgreSQL's numbered ones ($n), and a position PostgreSQL reports in the numbered text is
 * mapped back to the file, line and column of the statement as written. The scanner knows
 * just enough SQL to leave casts (::type), string literals, quoted names, dollar quotes and
 * remarks (-- and block ones) alone. Pure text work; see postgres_op.h. */
#include "sinks/postgres/postgres_op.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framework/mem.h"
#include "framework/strbuf.h"

static bool is_word(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* The length of the quoted or remarked span starting at s, 0 when s starts none. */
static size_t skip_span(const char *s)
{
    const char *end = NULL;
    if (s[0] == '\'' || s[0] == '"') {
        end = s + 1;
        while (*end && !(*end == s[0] && end[1] != s[0]))
            end += *end == s[0] ? 2 : 1; /* a doubled quote stays inside */
    } else if (s[0] == '-' && s[1] == '-') {
        end = strchr(s, '\n');
    } else if (s[0] == '/' && s[1] == '*') {
        end = strstr(s + 2, "*/");
        end = end ? end + 1 : NULL;
    } else if (s[0] == '$' && (s[1] == '$' || (is_word(s[1]) && !(s[1] >= '0' && s[1] <= '9')))) {
        const char *tag_end = strchr(s + 1, '$');
        if (!tag_end)
            return 0;
        size_t tl = (size_t)(tag_end - s) + 1;
        char *close = strndup(s, tl);
        end = strstr(tag_end + 1, close);
        free(close);
        end = end ? end + tl - 1 : NULL;
    } else {
        return 0;
    }
    return end && *end ? (size_t)(end - s) + 1 : strlen(s);
}

static int param_index(const struct uf_pg_op *op, const char *name, size_t len)
{
    for (int i = 0; i < op->nparams; i++)
        if (strlen(op->params[i].name) == len && memcmp(op->params[i].name, name, len) == 0)
            return i;
    return -1;
}

static void anchor(struct uf_pg_op *op, size_t out, size_t src)
{
    op->anchors = uf_xrealloc(op->anchors, (op->nanchors + 1) * 2 * sizeof *op->anchors);
    op->anchors[op->nanchors * 2] = out;
    op->anchors[op->nanchors * 2 + 1] = src;
    op->nanchors++;
}

int uf_pg_sql_rewrite(struct uf_pg_op *op, char *msg, size_t msgsize)
{
    const char *s = op->source;
    struct uf_strbuf out = { 0 };
    bool used[UF_PG_PARAMS_MAX] = { false };
    int rc = 0;
    for (size_t i = 0; s[i] && rc == 0;) {
        size_t span = skip_span(s + i);
        if (span || s[i] != ':' || s[i + 1] == ':' || (i > 0 && s[i - 1] == ':') ||
            !is_word(s[i + 1]) || (s[i + 1] >= '0' && s[i + 1] <= '9')) {
            size_t n = span ? span : (s[i] == ':' && s[i + 1] == ':' ? 2 : 1);
            uf_strbuf_append(&out, s + i, n);
            i += n;
            continue;
        }
        size_t len = 0;
        while (is_word(s[i + 1 + len]))
            len++;
        int k = param_index(op, s + i + 1, len);
        if (k < 0) {
            snprintf(msg, msgsize, "the statement uses :%.*s, which params does not bind", (int)len,
                     s + i + 1);
            rc = -1;
            break;
        }
        used[k] = true;
        uf_strbuf_printf(&out, "$%d", k + 1);
        i += len + 1;
        anchor(op, out.len, i);
    }
    for (int k = 0; rc == 0 && k < op->nparams; k++)
        if (!used[k]) {
            snprintf(msg, msgsize, "parameter '%s' is not used by the statement (:%s)",
                     op->params[k].name, op->params[k].name);
            rc = k + 1;
        }
    if (rc == 0)
        op->sql = uf_strbuf_take(&out);
    uf_strbuf_free(&out);
    return rc;
}

/* The byte offset in op->sql of the 1-based character position pos. */
static size_t byte_of(const char *s, int pos)
{
    size_t b = 0;
    for (int c = 1; s[b] && c < pos; c++) {
        b++;
        while ((s[b] & 0xC0) == 0x80)
            b++;
    }
    return b;
}

void uf_pg_sql_where(const struct uf_pg_op *op, int pos, char *buf, size_t size)
{
    size_t out = byte_of(op->sql, pos), src = out;
    for (size_t i = 0; i < op->nanchors && op->anchors[i * 2] <= out; i++)
        src = op->anchors[i * 2 + 1] + (out - op->anchors[i * 2]);
    int line = 1, col = 1;
    for (size_t i = 0; i < src && op->source[i]; i++) {
        if (op->source[i] == '\n')
            line++, col = 1;
        else if ((op->source[i] & 0xC0) != 0x80)
            col++;
    }
    if (op->source_file)
        snprintf(buf, size, "%s:%d:%d", op->source_file, line, col);
    else
        snprintf(buf, size, "%s:%d:%d (line %d, column %d of the statement)", op->sql_pos.file,
                 op->sql_pos.line, op->sql_pos.col, line, col);
}
