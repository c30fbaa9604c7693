/* http_client.h - blocking JSON-over-HTTP calls (libcurl), for the CLI and
 * for tests. The agent's long-poll loop uses libcurl's multi interface
 * directly (src/agent/sync.c). */
#ifndef BO_NET_HTTP_CLIENT_H
#define BO_NET_HTTP_CLIENT_H

#include <jansson.h>

#include "base/error.h"

struct http_response {
    long status;   /* HTTP status code */
    json_t *body;  /* parsed JSON body, or NULL if empty / not JSON */
    char *raw;     /* raw body text (NUL-terminated) */
};

/* method: "GET", "POST", "DELETE". body may be NULL. timeout_ms 0 = 30 s.
 * bearer: a token sent as `Authorization: Bearer TOKEN`, or NULL.
 * A transport failure is BO_E_NETWORK (message names the URL), a timeout
 * BO_E_TIMEOUT. Any HTTP status is success at this level: callers inspect
 * resp->status. */
int http_request(const char *method, const char *url, json_t *body, long timeout_ms, const char *bearer,
                 struct http_response *ret, bo_error_t *err);
void http_response_clear(struct http_response *r);

#endif
