/* probe.c - one health check attempt (see probe.h): the loopback HTTP and
 * TCP clients, the shell check's process, and the judge of an HTTP answer. */
#include "executor/probe.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/parse.h"

/* The shell check's output (of its last run) is kept in .logs/NAME/. */
#define SHELL_CHECK_NAME ".health_check"
/* What of an answer is quoted in a message. */
#define QUOTE_MAX 64

void probe_init(struct probe *p)
{
    *p = (struct probe){.fd = -1};
}

static void close_socket(struct probe *p)
{
    if (p->fd >= 0)
        close(p->fd);
    p->fd = -1;
}

void probe_abort(struct probe *p)
{
    close_socket(p);
    if (p->proc.pid > 0 && !p->reaped)
        (void)kill(-p->proc.pid, SIGKILL);
    p->proc.pid = 0;
    p->active = false;
}

void probe_clear(struct probe *p)
{
    probe_abort(p);
    free(p->request);
    free(p->buf);
    free(p->message);
    probe_init(p);
}

/* A printable, bounded quote of untrusted bytes (it ends up in JSON). */
static char *quote(const char *s, size_t n)
{
    size_t shown = n < QUOTE_MAX ? n : QUOTE_MAX;
    char *q = bo_xmalloc(shown + 4);
    for (size_t i = 0; i < shown; i++)
        q[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
    strcpy(q + shown, n > shown ? "..." : "");
    return q;
}

static void trim(const char **s, size_t *n)
{
    while (*n && isspace((unsigned char)**s))
        (*s)++, (*n)--;
    while (*n && isspace((unsigned char)(*s)[*n - 1]))
        (*n)--;
}

/* The end of the line starting at `from`, or NULL. */
static const char *line_end(const char *from, const char *end)
{
    const char *nl = memchr(from, '\n', (size_t)(end - from));
    return nl;
}

enum probe_result probe_http_judge(const char *buf, size_t len, bool complete, int expected_status,
                                   const char *expected_body, char **ret_message)
{
    const char *end = buf + len;
    const char *eol = line_end(buf, end);
    if (!eol) {
        if (!complete)
            return PROBE_PENDING;
        *ret_message = len ? bo_xstrdup("answered something that is not HTTP")
                           : bo_xstrdup("closed the connection without an answer");
        return PROBE_FAILED;
    }
    /* "HTTP/1.1 200 OK": the version, one space, three digits. */
    const char *s = buf;
    if ((size_t)(eol - s) < 12 || strncmp(s, "HTTP/", 5) != 0 || !isdigit((unsigned char)s[5]) || s[6] != '.' ||
        !isdigit((unsigned char)s[7]) || s[8] != ' ' || !isdigit((unsigned char)s[9]) ||
        !isdigit((unsigned char)s[10]) || !isdigit((unsigned char)s[11]) ||
        (s + 12 < eol && s[12] != ' ' && s[12] != '\r')) {
        _cleanup_free_ char *q = quote(buf, (size_t)(eol - buf));
        *ret_message = bo_xasprintf("answered a malformed status line `%s`", q);
        return PROBE_FAILED;
    }
    int status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
    if (expected_status && status != expected_status) {
        *ret_message = bo_xasprintf("returned status %d (expected %d)", status, expected_status);
        return PROBE_FAILED;
    }
    if (!*expected_body)
        return PROBE_PASSED;

    /* Headers, to their blank line; Content-Length says when the body is
     * whole before the peer closes. */
    const char *body = NULL;
    bool has_length = false;
    int64_t length = 0;
    for (const char *h = eol + 1; h < end;) {
        const char *e = line_end(h, end);
        if (!e)
            break;
        size_t n = (size_t)(e - h);
        if (n && h[n - 1] == '\r')
            n--;
        if (n == 0) {
            body = e + 1;
            break;
        }
        static const char cl[] = "content-length:";
        if (n > sizeof(cl) - 1 && strncasecmp(h, cl, sizeof(cl) - 1) == 0) {
            const char *v = h + sizeof(cl) - 1;
            size_t vn = n - (sizeof(cl) - 1);
            trim(&v, &vn);
            char num[24];
            if (vn > 0 && vn < sizeof(num)) {
                memcpy(num, v, vn);
                num[vn] = '\0';
                has_length = bo_parse_i64(num, 0, INT64_MAX, "Content-Length", &length, NULL) == 0;
            }
        }
        h = e + 1;
    }
    if (!body) {
        if (!complete)
            return PROBE_PENDING;
        *ret_message = bo_xstrdup(len >= PROBE_RESPONSE_MAX ? "answered headers longer than the 8 KiB read"
                                                            : "closed the connection in the middle of the headers");
        return PROBE_FAILED;
    }
    size_t have = (size_t)(end - body);
    if (has_length && (uint64_t)length <= have)
        have = (size_t)length;
    else if (!complete)
        return PROBE_PENDING;
    const char *b = body, *x = expected_body;
    size_t bn = have, xn = strlen(expected_body);
    trim(&b, &bn);
    trim(&x, &xn);
    if (bn == xn && memcmp(b, x, bn) == 0)
        return PROBE_PASSED;
    _cleanup_free_ char *qb = quote(b, bn), *qx = quote(x, xn);
    *ret_message = bo_xasprintf("answered `%s` (expected `%s`)", qb, qx);
    return PROBE_FAILED;
}

static enum probe_result failed(struct probe *p, char *message)
{
    free(p->message);
    p->message = message;
    close_socket(p);
    p->active = false;
    return PROBE_FAILED;
}

static enum probe_result passed(struct probe *p)
{
    close_socket(p);
    p->active = false;
    return PROBE_PASSED;
}

static enum probe_result start_shell(struct probe *p, const struct health_spec *h)
{
    _cleanup_error_ bo_error_t err = NULL;
    p->shell_argv[0] = (char *)"/bin/sh";
    p->shell_argv[1] = (char *)"-c";
    p->shell_argv[2] = h->command;
    p->shell_argv[3] = NULL;
    p->proc = (struct proc){.name = SHELL_CHECK_NAME, .argv = p->shell_argv, .fresh_logs = true, .exit_code = -1};
    p->reaped = false;
    /* In the sandbox, whatever the image's WorkingDir: the command's
     * paths are the job's, relative to the sandbox like the snooze file. */
    if (proc_start(&p->proc, NULL, &err) < 0) {
        p->proc.pid = 0;
        return failed(p, bo_xasprintf("could not be started: %s", err->msg));
    }
    return PROBE_PENDING;
}

static enum probe_result start_connect(struct probe *p, const struct health_spec *h)
{
    p->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (p->fd < 0)
        return failed(p, bo_xasprintf("socket: %s", strerror(errno)));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)h->port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    p->connected = false;
    if (connect(p->fd, (struct sockaddr *)&a, sizeof(a)) == 0)
        p->connected = true;
    else if (errno != EINPROGRESS)
        return failed(p, bo_xstrdup(strerror(errno)));
    if (h->kind == HEALTH_TCP && p->connected)
        return passed(p);
    if (h->kind == HEALTH_HTTP) {
        free(p->request);
        p->request = bo_xasprintf("%s %s HTTP/1.0\r\nHost: 127.0.0.1:%d\r\nUser-Agent: borealis-executor\r\n"
                                  "%sConnection: close\r\n\r\n",
                                  h->post ? "POST" : "GET", h->path, h->port, h->post ? "Content-Length: 0\r\n" : "");
        p->request_len = strlen(p->request);
        p->sent = 0;
        if (!p->buf)
            p->buf = bo_xmalloc(PROBE_RESPONSE_MAX);
        p->len = 0;
    }
    return PROBE_PENDING;
}

enum probe_result probe_start(struct probe *p, const struct health_spec *h, int64_t now)
{
    probe_abort(p);
    free(p->message);
    p->message = NULL;
    p->active = true;
    p->deadline = now + h->timeout_ms;
    if (h->kind == HEALTH_SHELL)
        return start_shell(p, h);
    return start_connect(p, h);
}

int probe_poll_fd(const struct probe *p, short *ret_events)
{
    if (!p->active || p->fd < 0)
        return -1;
    *ret_events = !p->connected || p->sent < p->request_len ? POLLOUT : POLLIN;
    return p->fd;
}

bool probe_reaped(struct probe *p, pid_t pid, int wstatus)
{
    if (!p->active || p->proc.pid <= 0 || pid != p->proc.pid)
        return false;
    p->reaped = true;
    p->wstatus = wstatus;
    return true;
}

static enum probe_result advance_shell(struct probe *p, const struct health_spec *h, int64_t now)
{
    if (p->reaped) {
        /* Its group may hold what it left running: those go too. */
        (void)kill(-p->proc.pid, SIGKILL);
        p->proc.pid = 0;
        if (WIFEXITED(p->wstatus) && WEXITSTATUS(p->wstatus) == 0)
            return passed(p);
        if (WIFSIGNALED(p->wstatus))
            return failed(p, bo_xasprintf("was killed by signal %d", WTERMSIG(p->wstatus)));
        return failed(p, bo_xasprintf("exited with status %d", WEXITSTATUS(p->wstatus)));
    }
    if (now < p->deadline)
        return PROBE_PENDING;
    probe_abort(p);
    return failed(p, bo_xasprintf("did not finish within %lld ms", (long long)h->timeout_ms));
}

enum probe_result probe_advance(struct probe *p, const struct health_spec *h, int64_t now)
{
    if (!p->active)
        return PROBE_PENDING;
    if (h->kind == HEALTH_SHELL)
        return advance_shell(p, h, now);
    if (!p->connected) {
        struct pollfd pfd = {.fd = p->fd, .events = POLLOUT};
        if (poll(&pfd, 1, 0) > 0) {
            int e = 0;
            socklen_t el = sizeof(e);
            if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0)
                e = errno;
            if (e)
                return failed(p, bo_xstrdup(strerror(e)));
            p->connected = true;
            if (h->kind == HEALTH_TCP)
                return passed(p);
        }
    }
    while (p->connected && p->sent < p->request_len) {
        ssize_t n = send(p->fd, p->request + p->sent, p->request_len - p->sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n < 0)
            return failed(p, bo_xasprintf("sending the request: %s", strerror(errno)));
        p->sent += (size_t)n;
    }
    if (p->connected && p->sent == p->request_len) {
        bool eof = false;
        while (p->len < PROBE_RESPONSE_MAX) {
            ssize_t n = recv(p->fd, p->buf + p->len, PROBE_RESPONSE_MAX - p->len, 0);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && errno == EAGAIN)
                break;
            if (n < 0)
                return failed(p, bo_xasprintf("reading the answer: %s", strerror(errno)));
            if (n == 0) {
                eof = true;
                break;
            }
            p->len += (size_t)n;
        }
        char *why = NULL;
        enum probe_result r = probe_http_judge(p->buf, p->len, eof || p->len >= PROBE_RESPONSE_MAX,
                                               h->expected_status, h->expected_body, &why);
        if (r == PROBE_PASSED)
            return passed(p);
        if (r == PROBE_FAILED)
            return failed(p, why);
    }
    if (now < p->deadline)
        return PROBE_PENDING;
    return failed(p, bo_xasprintf(p->connected ? "no answer within %lld ms" : "no connection within %lld ms",
                                  (long long)h->timeout_ms));
}
