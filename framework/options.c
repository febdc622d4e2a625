/* options.c: parsing option values by their table entry, and "did you mean" suggestions.
 * Defaults go through the same parser as user input, so a bad default fails the registry test
 * instead of hiding. Values out of range are errors, never clamped. */
#include "framework/options.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "framework/err.h"

const char *uf_option_type_name(enum uf_opt_type type)
{
    static const char *const names[] = {
        [UF_OPT_STR] = "string",   [UF_OPT_INT] = "integer",       [UF_OPT_FLOAT] = "number",
        [UF_OPT_BOOL] = "boolean", [UF_OPT_DURATION] = "duration", [UF_OPT_SIZE] = "size",
        [UF_OPT_ENUM] = "enum",    [UF_OPT_LIST] = "list",         [UF_OPT_MAP] = "mapping",
    };
    return names[type];
}

const struct uf_option *uf_option_find(const struct uf_option *table, const char *name)
{
    for (const struct uf_option *o = table; o && o->name; o++)
        if (strcmp(o->name, name) == 0)
            return o;
    return NULL;
}

size_t uf_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return 99;
    size_t row[65];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = diag + cost;
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

const char *uf_option_suggest(const struct uf_option *table, const char *name)
{
    const char *best = NULL;
    size_t best_d = 3; /* at most two edits: beyond that a guess misleads */
    for (const struct uf_option *o = table; o && o->name; o++) {
        size_t d = uf_edit_distance(name, o->name);
        if (d < best_d) {
            best_d = d;
            best = o->name;
        }
    }
    return best;
}

static int parse_int(const char *text, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || *end)
        return -1;
    *out = v;
    return 0;
}

/* A number followed by a unit from `units`; returns -1 when malformed. */
struct unit {
    const char *suffix;
    double mult;
};

static int parse_with_units(const char *text, const struct unit *units, double def_mult,
                            int64_t *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || v < 0 || isnan(v))
        return -1;
    while (*end == ' ')
        end++;
    double mult = def_mult;
    if (*end) {
        mult = 0;
        for (const struct unit *u = units; u->suffix; u++)
            if (strcmp(end, u->suffix) == 0)
                mult = u->mult;
        if (mult == 0)
            return -1;
    }
    double r = v * mult;
    if (r > 9.2e18)
        return -1;
    *out = (int64_t)llround(r);
    return 0;
}

static const struct unit duration_units[] = { { "us", 0.001 }, { "ms", 1 },      { "s", 1000 },
                                              { "m", 60000 },  { "h", 3600000 }, { NULL, 0 } };
static const struct unit size_units[] = { { "B", 1 },           { "KiB", 1024.0 },
                                          { "MiB", 1048576.0 }, { "GiB", 1073741824.0 },
                                          { "KB", 1000.0 },     { "MB", 1e6 },
                                          { "GB", 1e9 },        { "k", 1000.0 },
                                          { NULL, 0 } };

static int check_range(const struct uf_option *opt, int64_t v, const char *text, struct uf_err *err)
{
    if (opt->min < opt->max && (v < opt->min || v > opt->max))
        return uf_err_set(err, UF_EINVAL,
                          "option '%s': %s is out of range (expected %" PRId64 "..%" PRId64 ")",
                          opt->name, text, opt->min, opt->max);
    return 0;
}

static int parse_enum(const struct uf_option *opt, const char *text, int *out, struct uf_err *err)
{
    char allowed[256] = "";
    for (int i = 0; opt->values && opt->values[i]; i++) {
        if (strcmp(opt->values[i], text) == 0) {
            *out = i;
            return 0;
        }
        if (i)
            strncat(allowed, ", ", sizeof allowed - strlen(allowed) - 1);
        strncat(allowed, opt->values[i], sizeof allowed - strlen(allowed) - 1);
    }
    return uf_err_set(err, UF_EINVAL, "option '%s': '%s' is not allowed (expected one of: %s)",
                      opt->name, text, allowed);
}

int uf_option_parse_scalar(const struct uf_option *opt, const char *text, void *dst,
                           struct uf_err *err)
{
    int64_t v;
    switch (opt->type) {
    case UF_OPT_INT:
        if (parse_int(text, &v))
            return uf_err_set(err, UF_EINVAL, "option '%s': '%s' is not an integer", opt->name,
                              text);
        if (check_range(opt, v, text, err))
            return UF_EINVAL;
        *(int64_t *)dst = v;
        return 0;
    case UF_OPT_DURATION:
        if (parse_with_units(text, duration_units, 1, &v))
            return uf_err_set(err, UF_EINVAL,
                              "option '%s': '%s' is not a duration (expected e.g. 250ms, 1s, 5m)",
                              opt->name, text);
        if (check_range(opt, v, text, err))
            return UF_EINVAL;
        *(int64_t *)dst = v;
        return 0;
    case UF_OPT_SIZE:
        if (parse_with_units(text, size_units, 1, &v))
            return uf_err_set(err, UF_EINVAL,
                              "option '%s': '%s' is not a size (expected e.g. 512, 64KiB, 8MiB)",
                              opt->name, text);
        if (check_range(opt, v, text, err))
            return UF_EINVAL;
        *(int64_t *)dst = v;
        return 0;
    case UF_OPT_FLOAT: {
        char *end;
        errno = 0;
        double d = strtod(text, &end);
        if (errno || end == text || *end || isnan(d))
            return uf_err_set(err, UF_EINVAL, "option '%s': '%s' is not a number", opt->name, text);
        if (opt->min < opt->max && (d < (double)opt->min || d > (double)opt->max))
            return uf_err_set(err, UF_EINVAL,
                              "option '%s': %s is out of range (expected %" PRId64 "..%" PRId64 ")",
                              opt->name, text, opt->min, opt->max);
        *(double *)dst = d;
        return 0;
    }
    case UF_OPT_BOOL:
        if (strcmp(text, "true") == 0 || strcmp(text, "false") == 0) {
            *(bool *)dst = text[0] == 't';
            return 0;
        }
        return uf_err_set(err, UF_EINVAL,
                          "option '%s': '%s' is not a boolean (expected true or false)", opt->name,
                          text);
    case UF_OPT_ENUM:
        return parse_enum(opt, text, (int *)dst, err);
    default:
        return uf_err_set(err, UF_EINVAL, "option '%s': not a scalar type", opt->name);
    }
}
