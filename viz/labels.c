/* viz/labels.c: human labels and units for component metrics (see labels.h). The table holds
 * every kind metric of docs/metrics.md with the words an operator uses; keep the two in step
 * when a kind adds a metric. Counters come from the history as rates, so their values get
 * "/s"; a labelled metric ("name{value}") keeps its label value in parentheses. */
#include "viz/labels.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

enum unit { U_COUNT, U_PLAIN, U_BYTES, U_MS };

static const struct {
    const char *name, *label;
    enum unit unit;
} metrics[] = {
    { "http_listen_port", "port", U_PLAIN },
    { "http_inflight_requests", "requests in flight", U_COUNT },
    { "http_unrouted_total", "unrouted requests", U_COUNT },
    { "http_offloaded_requests_total", "batches to workers", U_COUNT },
    { "http_requests_total", "requests", U_COUNT },
    { "http_client_errors_total", "4xx answers", U_COUNT },
    { "http_server_errors_total", "5xx answers", U_COUNT },
    { "http_timeouts_total", "timeouts", U_COUNT },
    { "kafka_consumer_lag_messages", "consumer lag", U_COUNT },
    { "kafka_stalled_partitions", "stalled partitions", U_PLAIN },
    { "jwt_auth_requests_total", "tokens", U_COUNT },
    { "view_state_entries", "sessions tracked", U_COUNT },
    { "views_emitted_total", "views emitted", U_COUNT },
    { "view_state_evicted_total", "sessions evicted", U_COUNT },
    { "view_state_saved_total", "sessions saved", U_COUNT },
    { "view_state_save_failures_total", "failed checkpoints", U_COUNT },
    { "view_state_loaded", "sessions read at start", U_COUNT },
    { "spool_bytes", "spool size", U_BYTES },
    { "spool_records", "messages spooled", U_COUNT },
    { "kafka_acked_events_total", "acked by broker", U_COUNT },
    { "kafka_delivery_errors_total", "failed deliveries", U_COUNT },
    { "spool_written_events_total", "written to spool", U_COUNT },
    { "spool_replayed_events_total", "replayed from spool", U_COUNT },
    { "spool_full_events_total", "refused, spool full", U_COUNT },
    { "kafka_rejected_events_total", "refused by broker", U_COUNT },
    { "spool_discarded_records_total", "discarded from spool", U_COUNT },
    { "forward_buffer_bytes", "buffered", U_BYTES },
    { "forward_spool_bytes", "spool size", U_BYTES },
    { "forward_sent_events_total", "delivered", U_COUNT },
    { "forward_spooled_events_total", "written to spool", U_COUNT },
    { "forward_dropped_events_total", "dropped", U_COUNT },
    { "forward_rejected_events_total", "rejected by receiver", U_COUNT },
    { "forward_failed_posts_total", "failed posts", U_COUNT },
    { "pg_connections_up", "connections up", U_PLAIN },
    { "pg_connections_lost_total", "connections lost", U_COUNT },
    { "pg_unavailable_total", "503s, database down", U_COUNT },
    { "pg_round_trips_total", "round trips", U_COUNT },
    { "outbox_depth", "outbox depth", U_COUNT },
    { "outbox_oldest_age_ms", "oldest in outbox", U_MS },
    { "outbox_published_events_total", "published", U_COUNT },
    { "outbox_retried_batches_total", "batches retried", U_COUNT },
    { "outbox_dead_letters_total", "dead letters", U_COUNT },
    { "progress_pending_keys", "positions waiting", U_COUNT },
    { "progress_written_rows_total", "positions written", U_COUNT },
    { "progress_dropped_events_total", "positions dropped", U_COUNT },
    { "progress_write_failures_total", "failed flushes", U_COUNT },
    { "clickhouse_batches_waiting", "batches waiting", U_COUNT },
    { "clickhouse_row_bytes_total", "row bytes", U_BYTES },
};

void uf_fmt_num(char *out, size_t n, double v)
{
    if (v <= 0)
        snprintf(out, n, "0");
    else if (v < 10)
        snprintf(out, n, "%.1f", v);
    else if (v < 1000)
        snprintf(out, n, "%.0f", v);
    else if (v < 1e6)
        snprintf(out, n, v < 1e4 ? "%.1fk" : "%.0fk", v / 1e3);
    else
        snprintf(out, n, "%.1fM", v / 1e6);
}

void uf_fmt_us(char *out, size_t n, double us)
{
    if (us <= 0)
        snprintf(out, n, "-");
    else if (us < 1000)
        snprintf(out, n, "%.0fus", us);
    else if (us < 1e6)
        snprintf(out, n, "%.1fms", us / 1e3);
    else
        snprintf(out, n, "%.2fs", us / 1e6);
}

static void fmt_bytes(char *out, size_t n, double b)
{
    if (b < 1024)
        snprintf(out, n, "%.0f B", b);
    else if (b < 1024 * 1024)
        snprintf(out, n, "%.1f KiB", b / 1024);
    else
        snprintf(out, n, "%.1f MiB", b / (1024 * 1024));
}

static void fmt_value(enum unit u, bool rate, double v, char *out, size_t n)
{
    char num[24];
    if (u == U_PLAIN)
        snprintf(num, sizeof num, "%.0f", v);
    else if (u == U_BYTES)
        fmt_bytes(num, sizeof num, v);
    else if (u == U_MS)
        uf_fmt_us(num, sizeof num, v * 1000);
    else
        uf_fmt_num(num, sizeof num, v);
    snprintf(out, n, "%s%s", num, rate ? "/s" : "");
}

/* A name missing from the table in words: "foo_bar_total" -> "foo bar". */
static void words(const char *name, size_t len, char *out, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < len && k + 1 < n; i++)
        out[k++] = name[i] == '_' ? ' ' : name[i];
    out[k] = '\0';
}

void uf_label_metric(const char *key, double v, char *label, size_t ln, char *value, size_t vn)
{
    size_t len = strcspn(key, "{");
    const char *lv = key[len] == '{' ? key + len + 1 : NULL;
    bool counter = len > 6 && strncmp(key + len - 6, "_total", 6) == 0;
    char base[96] = "";
    enum unit u = U_COUNT;
    for (size_t i = 0; i < sizeof metrics / sizeof *metrics; i++)
        if (strlen(metrics[i].name) == len && strncmp(metrics[i].name, key, len) == 0) {
            snprintf(base, sizeof base, "%s", metrics[i].label);
            u = metrics[i].unit;
        }
    if (!base[0])
        words(key, counter ? len - 6 : len, base, sizeof base);
    if (lv)
        snprintf(label, ln, "%s (%.*s)", base, (int)strcspn(lv, "}"), lv);
    else
        snprintf(label, ln, "%s", base);
    fmt_value(u, counter, v, value, vn);
}

static double num(const json_t *o, const char *key)
{
    return json_number_value(json_object_get(o, key));
}

/* The sum of a node's consumer lag gauges (0 when it has none). */
static double lag_of(const json_t *node)
{
    double lag = 0;
    const char *key;
    json_t *v;
    json_object_foreach(json_object_get(json_object_get(node, "rates"), "extra"), key, v)
    {
        if (strncmp(key, "kafka_consumer_lag_messages", 27) == 0)
            lag += json_number_value(v);
    }
    return lag;
}

static void line(json_t *arr, const char *label, const char *value)
{
    json_array_append_new(arr, json_pack("[s,s]", label, value));
}

static const char *role(const json_t *node)
{
    const char *r = json_string_value(json_object_get(node, "role"));
    return r ? r : "transform";
}

/* The role's fixed lines: the same for every kind, so nodes of one role read alike. */
static void fixed_lines(const json_t *node, json_t *body)
{
    const json_t *r = json_object_get(node, "rates"), *m = json_object_get(node, "metrics");
    char v[48];
    bool source = strcmp(role(node), "source") == 0, sink = strcmp(role(node), "sink") == 0;
    if (!source) {
        fmt_value(U_COUNT, true, num(r, "in"), v, sizeof v);
        line(body, "in", v);
    }
    fmt_value(U_COUNT, true, num(r, "out"), v, sizeof v);
    line(body, "out", v);
    fmt_value(U_COUNT, true, num(r, "errors"), v, sizeof v);
    line(body, "errors", v);
    uf_fmt_us(v, sizeof v, num(r, "p99_us"));
    line(body, "p99", v);
    double cap = num(m, "queue_capacity");
    if (cap > 0) {
        snprintf(v, sizeof v, "%.0f%%", 100 * num(m, "queue_depth") / cap);
        line(body, "queue", v);
    }
    if (sink) {
        uf_fmt_num(v, sizeof v, num(r, "batch_avg"));
        line(body, "batch", v);
        uf_fmt_us(v, sizeof v, num(r, "flush_avg_us"));
        line(body, "flush", v);
    }
    if (source && strcmp(json_string_value(json_object_get(node, "kind")), "kafka_source") == 0) {
        uf_fmt_num(v, sizeof v, lag_of(node));
        line(body, "lag", v);
    }
}

json_t *uf_labels_node(const json_t *node)
{
    json_t *body = json_array(), *more = json_array();
    fixed_lines(node, body);
    const char *key;
    json_t *v;
    json_object_foreach(json_object_get(json_object_get(node, "rates"), "extra"), key, v)
    {
        size_t len = strcspn(key, "{");
        bool counter = len > 6 && strncmp(key + len - 6, "_total", 6) == 0;
        if (counter && json_number_value(v) == 0)
            continue;
        char label[160], value[48];
        uf_label_metric(key, json_number_value(v), label, sizeof label, value, sizeof value);
        line(more, label, value);
    }
    return json_pack("{s:o,s:o}", "body", body, "more", more);
}

void uf_labels_notes(const json_t *node, char *out, size_t n)
{
    const json_t *r = json_object_get(node, "rates");
    char a[32], b[32];
    size_t used = 0;
    out[0] = '\0';
    if (strcmp(role(node), "sink") == 0) {
        uf_fmt_num(a, sizeof a, num(r, "batch_avg"));
        uf_fmt_us(b, sizeof b, num(r, "flush_avg_us"));
        used = (size_t)snprintf(out, n, "batch %s flush %s", a, b);
    }
    const char *key;
    json_t *v;
    json_object_foreach(json_object_get(r, "extra"), key, v)
    {
        if (used >= n - 1 || json_number_value(v) == 0)
            continue;
        char label[160], value[48];
        uf_label_metric(key, json_number_value(v), label, sizeof label, value, sizeof value);
        used += (size_t)snprintf(out + used, n - used, "%s%s %s", used ? ", " : "", label, value);
    }
}
