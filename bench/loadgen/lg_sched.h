/* lg_sched.h: the open-model schedule of `ugcflow loadgen`: the intended send time of the k-th
 * request from a rate profile made of segments (constant, or a linear ramp from one rate to
 * another), independent of how the server answers. Pure arithmetic: no clock, no I/O. */
#ifndef UF_LG_SCHED_H
#define UF_LG_SCHED_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UF_LG_SCHED_MAX 64

struct uf_lg_segment {
    double from, to; /* requests/s at the segment's start and end */
    double dur_s;
};

struct uf_lg_sched {
    struct uf_lg_segment seg[UF_LG_SCHED_MAX];
    size_t n;
};

/* Appends a segment; false when the profile is full or the segment is invalid (negative
 * rates, both zero, or a duration not above 0). */
bool uf_lg_sched_add(struct uf_lg_sched *s, double from, double to, double dur_s);
double uf_lg_sched_duration(const struct uf_lg_sched *s);
/* Requests the profile intends over its whole duration (rounded down). */
uint64_t uf_lg_sched_total(const struct uf_lg_sched *s);
/* Intended time of request k (0-based) in seconds from the start; a negative value when the
 * profile ends before it. */
double uf_lg_sched_time(const struct uf_lg_sched *s, uint64_t k);
/* Offered rate at time t (seconds from the start); 0 after the end. */
double uf_lg_sched_rate_at(const struct uf_lg_sched *s, double t);
/* Index of the segment holding time t; s->n after the end. */
size_t uf_lg_sched_segment_at(const struct uf_lg_sched *s, double t);
#endif
