/* http_upgrade.h - the client of an HTTP Upgrade (`task exec`): one
 * request through libcurl's connection (so TLS, its CA and the client
 * certificate are as in http_client.h), then the raw stream both ways. */
#ifndef BO_NET_HTTP_UPGRADE_H
#define BO_NET_HTTP_UPGRADE_H

#include <jansson.h>
#include <sys/types.h>

#include "base/error.h"
#include "net/http_client.h"

struct http_stream;

/* POST `url` with the JSON `body` (may be NULL), asking to switch to
 * `protocol`. On 101: 0 and *ret_stream. On any other answer: 0,
 * *ret_stream NULL and *ret_refusal (status, body). Transport failures
 * are errors, kinds as http_request's. timeout_ms bounds the request, not
 * the stream. */
int http_upgrade_open(const char *url, const char *protocol, json_t *body, const char *bearer,
                      const struct http_tls *tls, long timeout_ms, struct http_stream **ret_stream,
                      struct http_response *ret_refusal, bo_error_t *err);
/* The socket to poll. Data may wait inside the stream (TLS records, bytes
 * read with the answer): call http_stream_recv until it gives -EAGAIN
 * before polling for more. */
int http_stream_fd(const struct http_stream *s);
/* Non-blocking: bytes read, 0 at the end of the stream, -EAGAIN, or
 * another negative errno. */
ssize_t http_stream_recv(struct http_stream *s, void *buf, size_t cap);
/* Non-blocking: bytes sent (0: none now), or a negative errno. */
ssize_t http_stream_send(struct http_stream *s, const void *buf, size_t len);
/* All of it, waiting up to timeout_ms for the peer to take it. */
int http_stream_send_all(struct http_stream *s, const void *buf, size_t len, int timeout_ms, bo_error_t *err);
void http_stream_close(struct http_stream *s);

#endif
