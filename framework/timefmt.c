/* timefmt.c: RFC 3339 formatting and strict parsing (see timefmt.h). The parser checks every
 * field's range itself instead of trusting strptime, which accepts more than RFC 3339 does. */
#include "timefmt.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

void uf_time_format(int64_t us, char out[UF_TIME_STR])
{
    int64_t secs = us / 1000000, frac = us % 1000000;
    if (frac < 0) {
        frac += 1000000;
        secs--;
    }
    time_t t = (time_t)secs;
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(out, UF_TIME_STR, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, UF_TIME_STR - n, ".%06ldZ", (long)frac);
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

static bool leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

bool uf_time_parse(const char *s, int64_t *us)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
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
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
                    .tm_hour = h, .tm_min = mi, .tm_sec = sec};
    *us = ((int64_t)timegm(&tm) - off) * 1000000 + frac;
    return true;
}
