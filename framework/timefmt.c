/* timefmt.c: RFC 3339 formatting and strict parsing (see timefmt.h). The parser checks every
 * field's range itself instead of trusting strptime, which accepts more than RFC 3339 does. */
#include "framework/timefmt.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* The proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's civil_from_days):
 * pure arithmetic, where gmtime_r + strftime + snprintf showed up in profiles of every event
 * that gets a received_at. */
static void civil_from_days(int64_t days, int64_t *y, int *m, int *d)
{
    days += 719468;
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    int64_t doe = days - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static char *put_digits(char *p, int64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--, v /= 10)
        p[i] = (char)('0' + v % 10);
    return p + n;
}

/* Years outside 0000-9999 (never a real event time) keep the libc path and its wider %Y. */
static void format_libc(int64_t secs, int64_t frac, char out[UF_TIME_STR])
{
    time_t t = (time_t)secs;
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(out, UF_TIME_STR, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, UF_TIME_STR - n, ".%06ldZ", (long)frac);
}

void uf_time_format(int64_t us, char out[UF_TIME_STR])
{
    int64_t secs = us / 1000000, frac = us % 1000000;
    if (frac < 0) {
        frac += 1000000;
        secs--;
    }
    int64_t days = secs / 86400, sod = secs % 86400;
    if (sod < 0) {
        sod += 86400;
        days--;
    }
    int64_t y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999) {
        format_libc(secs, frac, out);
        return;
    }
    char *p = put_digits(out, y, 4);
    *p++ = '-';
    p = put_digits(p, m, 2);
    *p++ = '-';
    p = put_digits(p, d, 2);
    *p++ = 'T';
    p = put_digits(p, sod / 3600, 2);
    *p++ = ':';
    p = put_digits(p, sod / 60 % 60, 2);
    *p++ = ':';
    p = put_digits(p, sod % 60, 2);
    *p++ = '.';
    p = put_digits(p, frac, 6);
    memcpy(p, "Z", 2);
}

static bool digits(const char *s, int n, int lo, int hi, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return v >= lo && v <= hi;
}

/* H. Hinnant's days_from_civil. */
int64_t uf_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static bool leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

bool uf_time_parse(const char *s, int64_t *us)
{
    static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int y, mo, d, h, mi, sec;
    if (!s || strlen(s) < 20 || !digits(s, 4, 0, 9999, &y) || s[4] != '-' ||
        !digits(s + 5, 2, 1, 12, &mo) || s[7] != '-' || !digits(s + 8, 2, 1, mdays[mo - 1], &d) ||
        (mo == 2 && d == 29 && !leap(y)) || (s[10] != 'T' && s[10] != 't') ||
        !digits(s + 11, 2, 0, 23, &h) || s[13] != ':' || !digits(s + 14, 2, 0, 59, &mi) ||
        s[16] != ':' || !digits(s + 17, 2, 0, 60, &sec))
        return false;
    const char *p = s + 19;
    int64_t frac = 0, scale = 1000000;
    if (*p == '.') {
        if (p[1] < '0' || p[1] > '9')
            return false;
        for (p++; *p >= '0' && *p <= '9'; p++)
            if (scale > 1)
                frac += (*p - '0') * (scale /= 10);
    }
    int off = 0, oh, om;
    if ((*p == 'Z' || *p == 'z') && p[1] == '\0')
        off = 0;
    else if ((*p == '+' || *p == '-') && digits(p + 1, 2, 0, 23, &oh) && p[3] == ':' &&
             digits(p + 4, 2, 0, 59, &om) && p[6] == '\0')
        off = (*p == '+' ? 1 : -1) * (oh * 3600 + om * 60);
    else
        return false;
    int64_t secs = uf_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
    *us = (secs - off) * 1000000 + frac;
    return true;
}
