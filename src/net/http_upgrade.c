/* http_upgrade.c - HTTP Upgrade over a libcurl CONNECT_ONLY connection. */
#include "net/http_upgrade.h"

#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>

#include "base/clock.h"
#include "base/parse.h"

/* Longest answer head, and body of a refusal. */
#define HEAD_MAX (16u << 10)
#define REFUSAL_MAX (1u << 20)

struct http_stream {
    CURL *c;
    int fd;
    char *ahead; /* read with the answer's head, not yet returned */
    size_t ahead_len, ahead_at;
};

int http_stream_fd(const struct http_stream *s) { return s->fd; }

ssize_t http_stream_recv(struct http_stream *s, void *buf, size_t cap)
{
    if (s->ahead_at < s->ahead_len) {
        size_t n = s->ahead_len - s->ahead_at < cap ? s->ahead_len - s->ahead_at : cap;
        memcpy(buf, s->ahead + s->ahead_at, n);
        s->ahead_at += n;
        return (ssize_t)n;
    }
    size_t n = 0;
    CURLcode rc = curl_easy_recv(s->c, buf, cap, &n);
    if (rc == CURLE_AGAIN)
        return -EAGAIN;
    if (rc != CURLE_OK)
        return -ECONNRESET;
    return (ssize_t)n;
}

ssize_t http_stream_send(struct http_stream *s, const void *buf, size_t len)
{
    size_t n = 0;
    CURLcode rc = curl_easy_send(s->c, buf, len, &n);
    if (rc == CURLE_AGAIN)
        return 0;
    if (rc != CURLE_OK)
        return -EPIPE;
    return (ssize_t)n;
}

/* No child of ours (the runtime, the command in the container) keeps the
 * stream open. */
static int on_socket(void *clientp, curl_socket_t fd, curlsocktype purpose)
{
    (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
    return CURL_SOCKOPT_OK;
}

static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - bo_mono_ms();
        if (left <= 0)
            return 0;
        struct pollfd p = {fd, events, 0};
        int r = poll(&p, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        return r;
    }
}

int http_stream_send_all(struct http_stream *s, const void *buf, size_t len, int timeout_ms, bo_error_t *err)
{
    int64_t deadline = bo_mono_ms() + timeout_ms;
    const char *p = buf;
    while (len > 0) {
        ssize_t n = http_stream_send(s, p, len);
        if (n < 0)
            return bo_error_set(err, BO_E_NETWORK, "the stream was closed by the peer");
        if (n == 0 && wait_fd(s->fd, POLLOUT, deadline) <= 0)
            return bo_error_set(err, BO_E_TIMEOUT, "the peer took nothing for %d ms", timeout_ms);
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

void http_stream_close(struct http_stream *s)
{
    if (!s)
        return;
    curl_easy_cleanup(s->c);
    free(s->ahead);
    free(s);
}

/* Read until the head's end; *ret_len bytes in buf (head and what came
 * after). Returns the head's length, or -1. */
static ssize_t read_head(struct http_stream *s, char *buf, size_t cap, size_t *ret_len, int64_t deadline,
                         bo_error_t *err)
{
    size_t len = 0;
    for (;;) {
        buf[len] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (end) {
            *ret_len = len;
            return end + 4 - buf;
        }
        if (len == cap - 1)
            return bo_error_set(err, BO_E_NETWORK, "the answer's head is over %zu bytes", cap);
        ssize_t n = http_stream_recv(s, buf + len, cap - 1 - len);
        if (n == -EAGAIN) {
            if (wait_fd(s->fd, POLLIN, deadline) <= 0)
                return bo_error_set(err, BO_E_TIMEOUT, "no answer in time");
            continue;
        }
        if (n <= 0)
            return bo_error_set(err, BO_E_NETWORK, "the connection was closed before an answer");
        len += (size_t)n;
    }
}

/* A refusal's body: Content-Length bytes (or up to the end). */
static void read_refusal(struct http_stream *s, const char *head, const char *rest, size_t rest_len,
                         int64_t deadline, struct http_response *ret)
{
    size_t want = REFUSAL_MAX;
    const char *cl = strcasestr(head, "\r\nContent-Length:");
    if (cl) {
        int64_t v;
        _cleanup_free_ char *num = bo_xstrndup(cl + 17, strcspn(cl + 17, "\r"));
        char *t = num + strspn(num, " \t");
        if (bo_parse_i64(t, 0, REFUSAL_MAX, "Content-Length", &v, NULL) == 0)
            want = (size_t)v;
    }
    char *body = bo_xcalloc(1, want + 1);
    size_t len = rest_len < want ? rest_len : want;
    memcpy(body, rest, len);
    while (len < want) {
        ssize_t n = http_stream_recv(s, body + len, want - len);
        if (n == -EAGAIN && wait_fd(s->fd, POLLIN, deadline) > 0)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    body[len] = '\0';
    ret->raw = body;
    ret->body = json_loadb(body, len, 0, NULL);
}

int http_upgrade_open(const char *url, const char *protocol, json_t *body, const char *bearer,
                      const struct http_tls *tls, long timeout_ms, struct http_stream **ret_stream,
                      struct http_response *ret_refusal, bo_error_t *err)
{
    int64_t deadline = bo_mono_ms() + timeout_ms;
    CURLU *u = curl_url();
    char *host = NULL, *port = NULL, *path = NULL, *query = NULL;
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK || curl_url_get(u, CURLUPART_HOST, &host, 0) ||
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) || curl_url_get(u, CURLUPART_PATH, &path, 0)) {
        curl_url_cleanup(u);
        curl_free(host);
        curl_free(port);
        return bo_error_set(err, BO_E_INVALID, "`%s` is not a URL", url);
    }
    (void)curl_url_get(u, CURLUPART_QUERY, &query, 0);
    curl_url_cleanup(u);
    _cleanup_free_ char *payload = body ? json_dumps(body, JSON_COMPACT) : bo_xstrdup("");
    _cleanup_free_ char *auth = bearer ? bo_xasprintf("Authorization: Bearer %s\r\n", bearer) : bo_xstrdup("");
    _cleanup_free_ char *req = bo_xasprintf(
        "POST %s%s%s HTTP/1.1\r\nHost: %s:%s\r\nConnection: Upgrade\r\nUpgrade: %s\r\n%sContent-Type: "
        "application/json\r\nContent-Length: %zu\r\n\r\n%s",
        path, query ? "?" : "", query ? query : "", host, port, protocol, auth, strlen(payload), payload);
    explicit_bzero(auth, strlen(auth));
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_free(query);
    struct http_stream *s = bo_xcalloc(1, sizeof(*s));
    s->c = curl_easy_init();
    if (!s->c) {
        free(s);
        return bo_error_set(err, BO_E_INTERNAL, "cannot initialise libcurl");
    }
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(s->c, CURLOPT_URL, url);
    curl_easy_setopt(s->c, CURLOPT_CONNECT_ONLY, 1L);
    curl_easy_setopt(s->c, CURLOPT_SOCKOPTFUNCTION, on_socket);
    curl_easy_setopt(s->c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 5000 ? timeout_ms : 5000L);
    curl_easy_setopt(s->c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(s->c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(s->c, CURLOPT_PROTOCOLS_STR, "http,https");
    http_tls_apply(s->c, tls);
    CURLcode rc = curl_easy_perform(s->c);
    curl_socket_t sock = CURL_SOCKET_BAD;
    if (rc == CURLE_OK)
        rc = curl_easy_getinfo(s->c, CURLINFO_ACTIVESOCKET, &sock);
    if (rc != CURLE_OK || sock == CURL_SOCKET_BAD) {
        int r = http_tls_failure(rc)
                    ? bo_error_set(err, BO_E_TLS, "%s: the TLS connection failed: %s", url,
                                   errbuf[0] ? errbuf : curl_easy_strerror(rc))
                    : bo_error_set(err, rc == CURLE_OPERATION_TIMEDOUT ? BO_E_TIMEOUT : BO_E_NETWORK,
                                   "cannot reach %s: %s", url, errbuf[0] ? errbuf : curl_easy_strerror(rc));
        http_stream_close(s);
        return r;
    }
    s->fd = (int)sock;
    char *head = bo_xcalloc(1, HEAD_MAX);
    size_t len = 0;
    ssize_t head_len;
    if (http_stream_send_all(s, req, strlen(req), (int)timeout_ms, err) < 0 ||
        (head_len = read_head(s, head, HEAD_MAX, &len, deadline, err)) < 0) {
        free(head);
        http_stream_close(s);
        return bo_error_wrap(err, "%s", url);
    }
    long status = 0;
    if (sscanf(head, "HTTP/1.%*[01] %ld", &status) != 1) {
        free(head);
        http_stream_close(s);
        return bo_error_set(err, BO_E_NETWORK, "%s: not an HTTP answer", url);
    }
    if (status != 101) {
        memset(ret_refusal, 0, sizeof(*ret_refusal));
        ret_refusal->status = status;
        read_refusal(s, head, head + head_len, len - (size_t)head_len, deadline, ret_refusal);
        free(head);
        http_stream_close(s);
        *ret_stream = NULL;
        return 0;
    }
    s->ahead_len = len - (size_t)head_len;
    s->ahead = bo_xcalloc(1, s->ahead_len + 1);
    memcpy(s->ahead, head + head_len, s->ahead_len);
    free(head);
    *ret_stream = s;
    return 0;
}
