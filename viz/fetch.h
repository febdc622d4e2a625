/* viz/fetch.h: one GET of an admin listener's JSON (/api/graph) with libcurl, bounded in time
 * and size, for `ugcflow top` and the deployment poller. Blocks for at most timeout_ms. The
 * handle is the caller's (one per thread: libcurl easy handles are not shared). */
#ifndef UF_VIZ_FETCH_H
#define UF_VIZ_FETCH_H

#include <curl/curl.h>
#include <jansson.h>
#include <stddef.h>

/* GETs http://ADDRESS/PATH and parses the answer. NULL with why filled ("Couldn't connect to
 * server", "HTTP 404", "not JSON") when it cannot. New reference. */
json_t *uf_fetch_json(CURL *curl, const char *address, const char *path, long timeout_ms, char *why,
                      size_t whylen);

#endif
