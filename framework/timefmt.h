/* timefmt.h: RFC 3339 timestamps, the one format ugcflow writes and reads for times:
 * formatting UTC microseconds (2026-11-29T15:31:58.123456Z) and strict parsing of client
 * times (fractions of any length, Z or a ±hh:mm offset) into UTC microseconds. */
#ifndef UF_TIMEFMT_H
#define UF_TIMEFMT_H

#include <stdbool.h>
#include <stdint.h>

#define UF_TIME_STR 32

/* Formats UTC microseconds since the epoch; out gets 27 characters and the NUL. */
void uf_time_format(int64_t us, char out[UF_TIME_STR]);
/* Parses an RFC 3339 date-time; false when malformed (bad field, month day, offset...). */
bool uf_time_parse(const char *s, int64_t *us);
/* Days since 1970-01-01 of a proleptic Gregorian date (m 1-12): what timegm works out, without
 * its time zone lock (glibc takes one even for UTC) and its normalisation. Linear in d, so a
 * day past the month's end (31 February) lands where timegm would put it. */
int64_t uf_days_from_civil(int64_t y, int m, int d);

#endif
