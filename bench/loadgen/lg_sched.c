/* lg_sched.c: intended send times from a piecewise-linear rate profile. Within a segment the
 * requests sent by time t are N(t) = a t + (b - a) t^2 / (2 D); the k-th request is at the t
 * where N(t) = k, solved in closed form, so times never drift the way adding 1/rate would. */
#include "bench/loadgen/lg_sched.h"

#include <math.h>

bool uf_lg_sched_add(struct uf_lg_sched *s, double from, double to, double dur_s)
{
    if (s->n == UF_LG_SCHED_MAX || from < 0 || to < 0 || (from == 0 && to == 0) || !(dur_s > 0))
        return false;
    s->seg[s->n++] = (struct uf_lg_segment){ .from = from, .to = to, .dur_s = dur_s };
    return true;
}

double uf_lg_sched_duration(const struct uf_lg_sched *s)
{
    double d = 0;
    for (size_t i = 0; i < s->n; i++)
        d += s->seg[i].dur_s;
    return d;
}

static double seg_count(const struct uf_lg_segment *g)
{
    return (g->from + g->to) / 2.0 * g->dur_s;
}

uint64_t uf_lg_sched_total(const struct uf_lg_sched *s)
{
    double n = 0;
    for (size_t i = 0; i < s->n; i++)
        n += seg_count(&s->seg[i]);
    return (uint64_t)floor(n + 1e-9);
}

/* Time within segment g at which n requests were due (n below the segment's count): the root
 * of a t + slope t^2 / 2 = n written as 2n / (a + sqrt(a^2 + 2 slope n)), which, unlike the
 * textbook form, neither divides by a slope near 0 nor loses digits to cancellation. */
static double seg_time(const struct uf_lg_segment *g, double n)
{
    double a = g->from, slope = (g->to - g->from) / g->dur_s;
    if (n <= 0)
        return 0;
    double disc = a * a + 2.0 * slope * n;
    return 2.0 * n / (a + sqrt(disc > 0 ? disc : 0));
}

double uf_lg_sched_time(const struct uf_lg_sched *s, uint64_t k)
{
    double base_t = 0, base_n = 0, n = (double)k;
    for (size_t i = 0; i < s->n; i++) {
        double c = seg_count(&s->seg[i]);
        if (n < base_n + c - 1e-9)
            return base_t + seg_time(&s->seg[i], n - base_n);
        base_t += s->seg[i].dur_s;
        base_n += c;
    }
    return -1;
}

size_t uf_lg_sched_segment_at(const struct uf_lg_sched *s, double t)
{
    double base = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (t < base + s->seg[i].dur_s)
            return i;
        base += s->seg[i].dur_s;
    }
    return s->n;
}

double uf_lg_sched_rate_at(const struct uf_lg_sched *s, double t)
{
    double base = 0;
    for (size_t i = 0; i < s->n; i++) {
        const struct uf_lg_segment *g = &s->seg[i];
        if (t < base + g->dur_s)
            return g->from + (g->to - g->from) * (t - base) / g->dur_s;
        base += g->dur_s;
    }
    return 0;
}
