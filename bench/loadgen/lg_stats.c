/* lg_stats.c: the counters of `ugcflow loadgen` and their three forms: the live line, the text
 * summary and the JSON report (see lg_stats.h). Field names of the report are an interface:
 * scripts read .sent, .errors_total, .errors["503"] and .latency_ms.p99. */
#include "bench/loadgen/lg_stats.h"

#include <string.h>

void uf_lg_stats_reset(struct uf_lg_stats *s)
{
    memset(s, 0, sizeof(*s));
}

void uf_lg_stats_sent(struct uf_lg_stats *s, size_t route, bool late)
{
    s->sent++;
    s->late += late;
    if (route < UF_LG_ROUTES_MAX)
        s->routes[route]++;
}

void uf_lg_stats_ended(struct uf_lg_stats *s, size_t route, enum uf_lg_outcome o, int status,
                       int64_t latency_us)
{
    switch (o) {
    case UF_LG_REPLY:
        s->replies++;
        if (status >= 0 && status < 600)
            s->status[status]++;
        if (uf_lg_workload_is_answer(route, status))
            s->ok++;
        else if (status >= 0 && status < 600)
            s->error_status[status]++;
        uf_lg_hist_add(&s->hist, latency_us);
        break;
    case UF_LG_CONNECT:
        s->connect++;
        break;
    case UF_LG_TIMEOUT:
        s->timeout++;
        uf_lg_hist_add(&s->hist, latency_us);
        break;
    case UF_LG_PROTOCOL:
        s->protocol++;
        break;
    }
}

uint64_t uf_lg_stats_errors(const struct uf_lg_stats *s)
{
    return s->replies - s->ok + s->connect + s->timeout + s->protocol;
}

void uf_lg_stats_merge(struct uf_lg_stats *dst, const struct uf_lg_stats *src)
{
    dst->sent += src->sent;
    dst->late += src->late;
    dst->replies += src->replies;
    dst->ok += src->ok;
    dst->connect += src->connect;
    dst->timeout += src->timeout;
    dst->protocol += src->protocol;
    for (size_t i = 0; i < 600; i++) {
        dst->status[i] += src->status[i];
        dst->error_status[i] += src->error_status[i];
    }
    for (size_t i = 0; i < UF_LG_ROUTES_MAX; i++)
        dst->routes[i] += src->routes[i];
    uf_lg_hist_merge(&dst->hist, &src->hist);
}

static double ms(const struct uf_lg_stats *s, double q)
{
    return uf_lg_hist_quantile(&s->hist, q) / 1000.0;
}

json_t *uf_lg_stats_latency(const struct uf_lg_stats *s)
{
    return json_pack("{s:f,s:f,s:f,s:f,s:f}", "p50", ms(s, 0.5), "p90", ms(s, 0.9), "p99",
                     ms(s, 0.99), "p999", ms(s, 0.999), "max", (double)s->hist.max_us / 1000.0);
}

/* {"503": n, ..., "connect": n, "timeout": n, "protocol": n}; the last three always there. */
static json_t *errors_json(const struct uf_lg_stats *s)
{
    json_t *e = json_object();
    char code[8];
    for (int i = 0; i < 600; i++) {
        if (!s->error_status[i])
            continue;
        snprintf(code, sizeof code, "%d", i);
        json_object_set_new(e, code, json_integer((json_int_t)s->error_status[i]));
    }
    json_object_set_new(e, "connect", json_integer((json_int_t)s->connect));
    json_object_set_new(e, "timeout", json_integer((json_int_t)s->timeout));
    json_object_set_new(e, "protocol", json_integer((json_int_t)s->protocol));
    return e;
}

static json_t *statuses_json(const struct uf_lg_stats *s)
{
    json_t *o = json_object();
    char code[8];
    for (int i = 0; i < 600; i++) {
        if (!s->status[i])
            continue;
        snprintf(code, sizeof code, "%d", i);
        json_object_set_new(o, code, json_integer((json_int_t)s->status[i]));
    }
    return o;
}

static json_t *routes_json(const struct uf_lg_stats *s, const struct uf_lg_workload *w)
{
    json_t *o = json_object();
    for (size_t r = 0; r < uf_lg_workload_nroutes(w); r++)
        if (s->routes[r])
            json_object_set_new(o, uf_lg_workload_route_name(w, r),
                                json_integer((json_int_t)s->routes[r]));
    return o;
}

json_t *uf_lg_stats_report(const struct uf_lg_stats *s, const struct uf_lg_run_info *ri)
{
    json_t *j = json_pack("{s:s,s:s,s:f,s:f,s:f,s:f,s:I,s:I,s:I,s:I,s:I}", "url", ri->url, "api",
                          ri->api, "target_rate", ri->target_rate, "achieved_rate",
                          ri->duration_s > 0 ? (double)s->replies / ri->duration_s : 0.0,
                          "duration_s", ri->duration_s, "elapsed_s", ri->elapsed_s, "intended",
                          (json_int_t)ri->intended, "sent", (json_int_t)s->sent, "unsent",
                          (json_int_t)(ri->intended > s->sent ? ri->intended - s->sent : 0),
                          "replies", (json_int_t)s->replies, "ok", (json_int_t)s->ok);
    json_object_set_new(j, "errors", errors_json(s));
    json_object_set_new(j, "errors_total", json_integer((json_int_t)uf_lg_stats_errors(s)));
    json_object_set_new(j, "statuses", statuses_json(s));
    json_object_set_new(j, "late_sends", json_integer((json_int_t)s->late));
    json_object_set_new(j, "late_threshold_ms", json_real(1.0));
    json_object_set_new(j, "latency_ms", uf_lg_stats_latency(s));
    json_object_set_new(j, "corrected", json_true());
    json_object_set_new(j, "routes", routes_json(s, ri->w));
    json_object_set_new(j, "connections", json_integer((json_int_t)ri->connections));
    json_object_set_new(j, "slack_us", json_integer((json_int_t)ri->slack_us));
    json_object_set_new(j, "seed", json_integer((json_int_t)ri->seed));
    json_object_set_new(j, "tag", ri->tag ? json_string(ri->tag) : json_null());
    json_object_set_new(j, "workload", ri->workload ? json_string(ri->workload) : json_null());
    return j;
}

/* "503:12 connect:3" for the errors that happened, or "0". */
static void errors_text(FILE *f, const struct uf_lg_stats *s)
{
    int any = 0;
    for (int i = 0; i < 600; i++)
        if (s->error_status[i])
            fprintf(f, "%s%d:%llu", any++ ? " " : "", i, (unsigned long long)s->error_status[i]);
    const char *names[] = { "connect", "timeout", "protocol" };
    const uint64_t counts[] = { s->connect, s->timeout, s->protocol };
    for (int i = 0; i < 3; i++)
        if (counts[i])
            fprintf(f, "%s%s:%llu", any++ ? " " : "", names[i], (unsigned long long)counts[i]);
    if (!any)
        fputs("0", f);
}

void uf_lg_stats_summary(FILE *f, const struct uf_lg_stats *s, const struct uf_lg_run_info *ri)
{
    fprintf(f, "loadgen %s (%s API), %.1f s at %.0f req/s, %zu connections, seed %llu\n", ri->url,
            ri->api, ri->duration_s, ri->target_rate, ri->connections,
            (unsigned long long)ri->seed);
    fprintf(f, "  requests  intended %llu  sent %llu  replies %llu  ok %llu  achieved %.1f req/s\n",
            (unsigned long long)ri->intended, (unsigned long long)s->sent,
            (unsigned long long)s->replies, (unsigned long long)s->ok,
            ri->duration_s > 0 ? (double)s->replies / ri->duration_s : 0.0);
    fprintf(f, "  errors    %llu (", (unsigned long long)uf_lg_stats_errors(s));
    errors_text(f, s);
    fprintf(f, ")  late sends %llu (> 1 ms after the intended time)\n",
            (unsigned long long)s->late);
    fprintf(f,
            "  latency   p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  p99.9 %.2f ms  max %.2f ms "
            "(from the intended send time)\n",
            ms(s, 0.5), ms(s, 0.9), ms(s, 0.99), ms(s, 0.999), (double)s->hist.max_us / 1000.0);
    fputs("  routes   ", f);
    for (size_t r = 0; r < uf_lg_workload_nroutes(ri->w); r++)
        if (s->routes[r])
            fprintf(f, " %s %llu", uf_lg_workload_route_name(ri->w, r),
                    (unsigned long long)s->routes[r]);
    fputc('\n', f);
}

void uf_lg_stats_live(FILE *f, double t_s, double target, const struct uf_lg_stats *window,
                      double window_s, size_t inflight)
{
    fprintf(f, "\r%5.0fs  target %.0f/s  achieved %.0f/s  p50 %.2f ms  p99 %.2f ms  errors ", t_s,
            target, window_s > 0 ? (double)window->replies / window_s : 0.0, ms(window, 0.5),
            ms(window, 0.99));
    errors_text(f, window);
    fprintf(f, "  in flight %zu\033[K", inflight);
    fflush(f);
}
