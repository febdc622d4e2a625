/* ch_latency_main.c: `ch_latency`, the UGC benchmark's write -> ClickHouse probe: every
 * INTERVAL_MS it makes one UGC write that changes something (adds or removes a favorite, in
 * turn), takes the Event-Id of the reply, and polls ClickHouse every 5 ms until that event's
 * row is there; the time from the reply to the row is the write's end-to-end latency through
 * the outbox, the relay, Kafka and the ETL. Prints p50, p99 and max over COUNT probes.
 *   ch_latency UGC_BASE TOKEN MOVIE CH_URL DATABASE TABLE COUNT [INTERVAL_MS]
 * UGC_BASE is e.g. http://127.0.0.1:8080/api/v1. Exits 1 when a probe's row does not arrive
 * within 30 s, or a write fails. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "framework/strbuf.h"

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    uf_strbuf_append(arg, p, size * n);
    return size * n;
}

/* Picks the Event-Id header's value into arg (a char[64]). */
static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    size_t len = size * n;
    if (len > 10 && strncasecmp(p, "Event-Id:", 9) == 0)
        sscanf(p + 9, " %63[0-9a-f-]", (char *)arg);
    return len;
}

/* One write; fills id with its Event-Id. Returns the HTTP status. */
static long write_once(CURL *e, const char *url, const char *method, const char *auth, char id[64])
{
    struct curl_slist *h = curl_slist_append(NULL, auth);
    struct uf_strbuf body = { 0 };
    id[0] = '\0';
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, id);
    long status = 0;
    if (curl_easy_perform(e) == CURLE_OK)
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    uf_strbuf_free(&body);
    return status;
}

/* Whether the row of event id is in ClickHouse. */
static int row_there(CURL *e, const char *url, const char *table, const char *id)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count() FROM %s WHERE event_id = '%s'", table, id);
    struct uf_strbuf out = { 0 };
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, sql);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &out);
    int there = curl_easy_perform(e) == CURLE_OK && out.buf && atoi(out.buf) > 0;
    uf_strbuf_free(&out);
    return there;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 8) {
        fprintf(stderr, "usage: ch_latency UGC_BASE TOKEN MOVIE CH_URL DATABASE TABLE COUNT "
                        "[INTERVAL_MS]\n");
        return 2;
    }
    int count = atoi(argv[7]), interval_ms = argc > 8 ? atoi(argv[8]) : 200;
    char url[512], auth[4096], ch[512];
    snprintf(url, sizeof url, "%s/favorites/%s", argv[1], argv[3]);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", argv[2]);
    snprintf(ch, sizeof ch, "%s/?database=%s", argv[4], argv[5]);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURL *w = curl_easy_init(), *q = curl_easy_init();
    int64_t *lat = calloc((size_t)count, sizeof *lat);
    for (int i = 0; i < count; i++) {
        char id[64];
        long st = write_once(w, url, i % 2 ? "DELETE" : "PUT", auth, id);
        int64_t t0 = now_us();
        if (st < 200 || st >= 300 || !id[0]) {
            fprintf(stderr, "ch_latency: write %d: status %ld, event id '%s'\n", i, st, id);
            return 1;
        }
        while (!row_there(q, ch, argv[6], id)) {
            if (now_us() - t0 > 30000000) {
                fprintf(stderr, "ch_latency: event %s not in ClickHouse after 30 s\n", id);
                return 1;
            }
            usleep(5000);
        }
        lat[i] = now_us() - t0;
        usleep((useconds_t)interval_ms * 1000);
    }
    qsort(lat, (size_t)count, sizeof *lat, cmp_i64);
    printf("write -> ClickHouse: %d probes, p50 %.0f ms, p99 %.0f ms, max %.0f ms\n", count,
           lat[count / 2] / 1e3, lat[(count * 99) / 100] / 1e3, lat[count - 1] / 1e3);
    free(lat);
    curl_easy_cleanup(w);
    curl_easy_cleanup(q);
    curl_global_cleanup();
    return 0;
}
