/* http_client.h - blocking JSON-over-HTTP calls (libcurl), for the CLI and
 * for tests. The agent's long-poll loop uses libcurl's multi interface
 * directly (src/agent/sync.c). */
#ifndef BO_NET_HTTP_CLIENT_H
#define BO_NET_HTTP_CLIENT_H

#include <jansson.h>
#include <stdbool.h>

#include "base/error.h"

struct http_response {
    long status;   /* HTTP status code */
    json_t *body;  /* parsed JSON body, or NULL if empty / not JSON */
    char *raw;     /* raw body text (NUL-terminated) */
};

/* How an https:// peer is verified and who we are to it. */
struct http_tls {
    const char *ca_file;   /* trust only this CA (PEM); NULL: the system's */
    const char *cert_file; /* client certificate (PEM), with key_file */
    const char *key_file;
    bool no_verify;        /* only to fetch a CA checked by its fingerprint */
};

/* The TLS settings http_request uses (the CLI sets them once). */
void http_client_set_tls(const struct http_tls *tls);
const struct http_tls *http_client_tls(void);

/* method: "GET", "POST", "DELETE". body may be NULL. timeout_ms 0 = 30 s.
 * bearer: a token sent as `Authorization: Bearer TOKEN`, or NULL.
 * A transport failure is BO_E_NETWORK (message names the URL), a timeout
 * BO_E_TIMEOUT. Any HTTP status is success at this level: callers inspect
 * resp->status. */
int http_request(const char *method, const char *url, json_t *body, long timeout_ms, const char *bearer,
                 struct http_response *ret, bo_error_t *err);
/* The same with explicit TLS settings instead of the process default. A
 * certificate that does not verify is BO_E_TLS. */
int http_request_tls(const char *method, const char *url, json_t *body, long timeout_ms, const char *bearer,
                     const struct http_tls *tls, struct http_response *ret, bo_error_t *err);
void http_response_clear(struct http_response *r);
/* Apply tls to a libcurl easy handle (the agent's multi loop uses it). */
void http_tls_apply(void *curl_easy, const struct http_tls *tls);
/* A libcurl result that means the peer's certificate did not verify. */
bool http_tls_failure(int curl_code);

#endif
