/* viz/fetch.c: bounded JSON GETs from admin listeners (see fetch.h). The body limit protects
 * the caller from a wrong address answering with something huge; a graph JSON is a few hundred
 * KB at most. */
#include "viz/fetch.h"

#include <stdio.h>

#include "framework/strbuf.h"

#define MAX_BODY (64u << 20)

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    struct uf_strbuf *sb = arg;
    if (sb->len + size * nmemb > MAX_BODY)
        return 0; /* makes curl fail the transfer */
    uf_strbuf_append(sb, data, size * nmemb);
    return size * nmemb;
}

json_t *uf_fetch_json(CURL *curl, const char *address, const char *path, long timeout_ms, char *why,
                      size_t whylen)
{
    char url[300];
    snprintf(url, sizeof url, "http://%s%s", address, path);
    struct uf_strbuf sb = { 0 };
    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sb);
    CURLcode rc = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    json_t *j = NULL;
    if (rc != CURLE_OK)
        snprintf(why, whylen, "%s", curl_easy_strerror(rc));
    else if (status != 200)
        snprintf(why, whylen, "HTTP %ld", status);
    else if (!(j = json_loadb(sb.buf ? sb.buf : "", sb.len, 0, NULL)))
        snprintf(why, whylen, "not JSON");
    uf_strbuf_free(&sb);
    return j;
}
