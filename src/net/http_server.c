/* http_server.c - libmicrohttpd glue: request accumulation with a size
 * limit, route matching, JSON answers, suspend/resume. */
#include "net/http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <poll.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <uthash.h>

#include "base/clock.h"
#include "base/utf8.h"
#include "net/tls.h"

/* Connections waiting to be accepted: every agent of a large cluster may
 * reconnect at once after a restart. */
#define LISTEN_BACKLOG 65535

/* Most trusted client addresses remembered (one per agent machine). */
#define TRUSTED_MAX 65536

struct trusted_addr {
    uint32_t addr;
    UT_hash_handle hh;
};

struct http_server {
    struct MHD_Daemon *mhd;
    const struct http_route *routes;
    size_t n_routes;
    void *ctx;
    http_observe_fn observe;
    http_gate_fn gate;
    unsigned port;
    bool tls;
    /* Connection budget: beyond max - reserve only trusted addresses
     * (agents that proved their certificate, and 127.0.0.1) get in, beyond
     * max nobody,
     * so idle connections of others cannot lock agents out. */
    unsigned max_connections, reserve;
    unsigned n_connections;
    uint64_t refused;
    /* Connections that carried a request of held_route (agents' long
     * polls), at most max_held: the rest of the budget is the API's. */
    const char *held_route;
    unsigned n_held, max_held;
    uint64_t refused_held;
    int listen_fd; /* MHD's, accepted from here too (accept_all) */
    /* A connection was resumed outside MHD_run: the next run must come at
     * once. MHD's own wake-up for it (an eventfd in its epoll set) was
     * sometimes not seen, and the answer then waited for unrelated
     * traffic (test_recovery.py: fake agents, one connection each sync). */
    bool resume_pending;
    struct trusted_addr *trusted;
    unsigned n_trusted;
    /* Requests whose answer is kept back (http_defer_answer), oldest
     * first, so in the order of their tickets (a caller's tickets never go
     * down); a request leaves the list when its answer goes or it is
     * freed. */
    struct http_request *deferred, *deferred_last;
};

/* The IPv4 address of a peer, also when it comes v4-mapped on a
 * dual-stack socket. IPv6 peers are not remembered (they get the budget
 * without the reserve), except ::1. */
static bool peer_v4(const struct sockaddr *addr, uint32_t *ret)
{
    if (addr->sa_family == AF_INET) {
        *ret = ((const struct sockaddr_in *)addr)->sin_addr.s_addr;
        return true;
    }
    if (addr->sa_family == AF_INET6) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)addr)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a6)) {
            memcpy(ret, &a6->s6_addr[12], 4);
            return true;
        }
        if (IN6_IS_ADDR_LOOPBACK(a6)) {
            *ret = htonl(INADDR_LOOPBACK);
            return true;
        }
    }
    return false;
}

static bool is_trusted(struct http_server *s, const struct sockaddr *addr)
{
    uint32_t a;
    if (!peer_v4(addr, &a))
        return false;
    /* The scheduler's own host (its CLI, `up`'s health checks) shares the
     * reserve; it is held to the per-address limit like anyone. */
    if (a == htonl(INADDR_LOOPBACK))
        return true;
    struct trusted_addr *t = NULL;
    HASH_FIND(hh, s->trusted, &a, sizeof(a), t);
    return t != NULL;
}

/* Within the budget: trusted addresses up to it; others while the
 * connections that are not agents' long polls leave the reserve free
 * (agents' own connections are bounded by max_held, so they never shut
 * the CLI of another host out), and never into the API's share (what
 * max_held leaves): agents beyond max_held reconnecting in a burst, not
 * yet known as agents, must not take the last connections of the CLI on
 * the scheduler's host. */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    struct http_server *s = cls;
    unsigned api = s->held_route ? s->max_connections - s->max_held : 0;
    if (s->n_connections < s->max_connections &&
        ((s->n_connections - s->n_held < s->max_connections - s->reserve &&
          s->n_connections < s->max_connections - api) ||
         is_trusted(s, addr)))
        return MHD_YES;
    s->refused++;
    return MHD_NO;
}

/* Per connection: the peer's verified certificate name, checked once (a
 * chain verification per request would cost more than the request). */
struct conn_ctx {
    bool checked;
    char *peer_cn;
    bool held; /* counted in n_held */
};

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct http_server *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        s->n_connections++;
        *socket_context = bo_xcalloc(1, sizeof(struct conn_ctx));
        return;
    }
    if (s->n_connections > 0)
        s->n_connections--;
    struct conn_ctx *cc = *socket_context;
    if (cc) {
        if (cc->held && s->n_held > 0)
            s->n_held--;
        free(cc->peer_cn);
        free(cc);
        *socket_context = NULL;
    }
}

uint64_t http_server_take_refused(struct http_server *s)
{
    uint64_t n = s->refused;
    s->refused = 0;
    return n;
}

uint64_t http_server_take_refused_held(struct http_server *s)
{
    uint64_t n = s->refused_held;
    s->refused_held = 0;
    return n;
}

unsigned http_server_connections(const struct http_server *s) { return s->n_connections; }

unsigned http_server_held(const struct http_server *s) { return s->n_held; }

static struct conn_ctx *conn_ctx_of(struct http_request *req)
{
    const union MHD_ConnectionInfo *sc = MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return sc ? sc->socket_context : NULL;
}

/* A request of the held route: its connection counts against max_held
 * from now on (it stays an agent's until it closes), or, when that is
 * full, the request is answered 503 and the connection closed, so the
 * agent backs off and the API keeps its share of the budget. */
static bool admit_held(struct http_server *s, struct http_request *req)
{
    struct conn_ctx *cc = conn_ctx_of(req);
    if (!cc || cc->held)
        return true;
    if (s->n_held < s->max_held) {
        cc->held = true;
        s->n_held++;
        return true;
    }
    s->refused_held++;
    http_answer_header(req, MHD_HTTP_HEADER_CONNECTION, "close");
    http_reply_error(req, 503, "UNAVAILABLE",
                     "the scheduler holds its most agent connections (%u; --max-connections minus "
                     "--api-connection-reserve): retry later", s->max_held);
    return false;
}

char *http_peer_identity(struct http_request *req)
{
    if (!req->server->tls)
        return NULL;
    struct conn_ctx *cc = conn_ctx_of(req);
    if (cc && cc->checked)
        return cc->peer_cn ? bo_xstrdup(cc->peer_cn) : NULL;
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    char *cn = ci ? tls_session_peer_cn(ci->tls_session) : NULL;
    if (cc) {
        cc->checked = true;
        cc->peer_cn = cn ? bo_xstrdup(cn) : NULL;
    }
    return cn;
}

void http_trust_peer_address(struct http_request *req)
{
    struct http_server *s = req->server;
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    uint32_t a;
    if (!ci || !ci->client_addr || !peer_v4(ci->client_addr, &a) || is_trusted(s, ci->client_addr) ||
        s->n_trusted >= TRUSTED_MAX)
        return;
    struct trusted_addr *t = bo_xcalloc(1, sizeof(*t));
    t->addr = a;
    HASH_ADD(hh, s->trusted, addr, sizeof(t->addr), t);
    s->n_trusted++;
}

static bool is_listed(const struct http_request *r)
{
    return r->deferred_prev || r->server->deferred == r;
}

static void unlink_deferred(struct http_request *r)
{
    if (!is_listed(r))
        return;
    struct http_server *s = r->server;
    if (r->deferred_prev)
        r->deferred_prev->deferred_next = r->deferred_next;
    else
        s->deferred = r->deferred_next;
    if (r->deferred_next)
        r->deferred_next->deferred_prev = r->deferred_prev;
    else
        s->deferred_last = r->deferred_prev;
    r->deferred_prev = r->deferred_next = NULL;
}

static void request_free(struct http_request *r)
{
    if (!r)
        return;
    if (r->user && r->user_free)
        r->user_free(r->user);
    for (size_t i = 0; i < r->n_params; i++)
        free(r->params[i]);
    free(r->body);
    free(r->principal);
    free(r->answer_header);
    unlink_deferred(r);
    if (r->deferred_resp)
        MHD_destroy_response(r->deferred_resp);
    free(r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode t)
{
    request_free(*con_cls);
    *con_cls = NULL;
}

bool http_route_match(const char *pattern, const char *path, char **ret_params, size_t *ret_n)
{
    const char *p = pattern, *s = path;
    size_t n = 0;
    char *caps[HTTP_MAX_PARAMS];
    while (*p && *s) {
        if (*p == '*') {
            const char *end = strchr(s, '/');
            size_t len = end ? (size_t)(end - s) : strlen(s);
            if (len == 0 || n >= HTTP_MAX_PARAMS)
                goto fail;
            caps[n] = bo_xstrndup(s, len);
            MHD_http_unescape(caps[n]);
            n++;
            s += len;
            p++;
            continue;
        }
        if (*p != *s)
            goto fail;
        p++;
        s++;
    }
    if (*p || *s)
        goto fail;
    for (size_t i = 0; i < n; i++)
        ret_params[i] = caps[i];
    *ret_n = n;
    return true;
fail:
    for (size_t i = 0; i < n; i++)
        free(caps[i]);
    return false;
}

static void queue(struct http_request *req, unsigned status, const char *ctype, char *data, size_t len)
{
    struct MHD_Connection *c = req->conn;
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, "Content-Type", ctype);
    if (req->answer_header) {
        char *colon = strchr(req->answer_header, ':');
        *colon = '\0';
        MHD_add_response_header(resp, req->answer_header, colon + 1);
    }
    req->answered = true;
    if (req->defer_next) {
        req->defer_next = false;
        if (!is_listed(req)) {
            struct http_server *s = req->server;
            req->deferred_prev = s->deferred_last;
            if (s->deferred_last)
                s->deferred_last->deferred_next = req;
            else
                s->deferred = req;
            s->deferred_last = req;
        }
        req->deferred_resp = resp;
        req->deferred_status = status;
        if (!req->suspended)
            http_suspend(req);
        return;
    }
    MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    if (req->server->observe)
        req->server->observe(req, status, bo_mono_ms() - req->start_ms, req->server->ctx);
}

void http_defer_answer(struct http_request *req, uint64_t ticket)
{
    req->defer_next = true;
    req->deferred_ticket = ticket;
}

void http_server_send_deferred(struct http_server *s, uint64_t upto, const char *error)
{
    struct http_request *req = s->deferred, *next;
    for (; req; req = next) {
        next = req->deferred_next;
        if (!req->suspended) /* resumed already: its answer goes in the next run */
            continue;
        if (!error && req->deferred_ticket > upto)
            break; /* and so are all after it */
        if (error) { /* the kept answer is replaced; the request stays listed */
            MHD_destroy_response(req->deferred_resp);
            req->deferred_resp = NULL;
            req->answered = false;
            req->defer_next = true;
            http_reply_error(req, 500, "INTERNAL", "%s", error);
        }
        http_resume(req);
    }
}

/* A deferred answer's request resumed: send what was kept back. */
static void send_deferred(struct http_request *req)
{
    struct MHD_Response *resp = req->deferred_resp;
    unlink_deferred(req);
    req->deferred_resp = NULL;
    MHD_queue_response(req->conn, req->deferred_status, resp);
    MHD_destroy_response(resp);
    if (req->server->observe)
        req->server->observe(req, req->deferred_status, bo_mono_ms() - req->start_ms, req->server->ctx);
}

void http_reply_text(struct http_request *req, unsigned status, const char *content_type, char *text)
{
    queue(req, status, content_type, text, strlen(text));
}

void http_reply_json(struct http_request *req, unsigned status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text) {
        /* json_pack refused a string (invalid UTF-8 from a handler): an
         * answer without a message and a code helps nobody. */
        status = 500;
        text = bo_xstrdup("{\"error\":\"the answer could not be encoded as JSON (invalid UTF-8?)\","
                          "\"code\":\"INTERNAL\"}");
    }
    size_t len = strlen(text);
    text = bo_xrealloc(text, len + 2);
    text[len] = '\n';
    text[len + 1] = '\0';
    queue(req, status, "application/json", text, len + 1);
}

void http_reply_error(struct http_request *req, unsigned status, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *raw = bo_xvasprintf(fmt, ap);
    va_end(ap);
    /* Messages echo what the client sent (a job key, a path, a field):
     * invalid UTF-8 there would make the whole answer unencodable. */
    _cleanup_free_ char *msg = bo_utf8_sanitize(raw);
    http_reply_json(req, status, json_pack("{s:s, s:s}", "error", msg, "code", code));
}

void http_reply_bo_error(struct http_request *req, bo_error_t e)
{
    static const struct {
        enum bo_errkind kind;
        unsigned status;
        const char *code;
    } map[] = {
        {BO_E_INVALID, 400, "INVALID"}, {BO_E_NOTFOUND, 404, "NOT_FOUND"}, {BO_E_EXISTS, 409, "EXISTS"},
        {BO_E_REFUSED, 409, "REFUSED"},
    };
    for (size_t i = 0; i < BO_ARRAY_SIZE(map); i++)
        if (map[i].kind == e->kind) {
            http_reply_error(req, map[i].status, map[i].code, "%s", e->msg);
            return;
        }
    http_reply_error(req, 500, "INTERNAL", "%s", e->msg);
}

const char *http_header(struct http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

void http_answer_header(struct http_request *req, const char *name, const char *value)
{
    free(req->answer_header);
    req->answer_header = bo_xasprintf("%s:%s", name, value);
}

const char *http_query(struct http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

json_t *http_body_json(struct http_request *req)
{
    json_error_t jerr;
    json_t *j = req->body_len ? json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
    if (!j) {
        if (req->body_len)
            http_reply_error(req, 400, "INVALID", "request body is not valid JSON: %s (line %d, column %d)",
                             jerr.text, jerr.line, jerr.column);
        else
            http_reply_error(req, 400, "INVALID", "request body is empty: a JSON object is required");
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        http_reply_error(req, 400, "INVALID", "request body must be a JSON object");
        return NULL;
    }
    return j;
}

struct upgrade_cb {
    http_upgraded_fn fn;
    void *cls;
};

static void on_upgraded(void *cls, struct MHD_Connection *c, void *con_cls, const char *extra, size_t extra_len,
                        MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
    struct upgrade_cb cb = *(struct upgrade_cb *)cls;
    free(cls);
    cb.fn(cb.cls, sock, extra, extra_len, urh);
}

void http_reply_upgrade(struct http_request *req, const char *protocol, http_upgraded_fn fn, void *cls)
{
    struct upgrade_cb *cb = bo_xcalloc(1, sizeof(*cb));
    *cb = (struct upgrade_cb){fn, cls};
    struct MHD_Response *resp = MHD_create_response_for_upgrade(on_upgraded, cb);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_UPGRADE, protocol);
    if (MHD_queue_response(req->conn, MHD_HTTP_SWITCHING_PROTOCOLS, resp) != MHD_YES) {
        /* Refused by MHD (not HTTP/1.1, no `Connection: upgrade`): the
         * connection is closed. */
        free(cb);
    }
    MHD_destroy_response(resp);
    req->answered = true;
    if (req->server->observe)
        req->server->observe(req, 101, bo_mono_ms() - req->start_ms, req->server->ctx);
}

void http_upgraded_close(void *handle)
{
    MHD_upgrade_action(handle, MHD_UPGRADE_ACTION_CLOSE);
}

void http_suspend(struct http_request *req)
{
    /* The handler read the body before parking the request: a parked poll
     * (one per idle agent) keeps no copy of it (about 230 bytes each). */
    free(req->body);
    req->body = NULL;
    req->body_len = 0;
    req->suspended = true;
    MHD_suspend_connection(req->conn);
}

void http_resume(struct http_request *req)
{
    if (!req->suspended)
        return;
    req->suspended = false;
    req->resumed = true;
    req->server->resume_pending = true;
    MHD_resume_connection(req->conn);
}

/* Find the route for the request (its `*` segments captured into req), or
 * answer 404 (unknown path) or 405 (known path, other method). */
static bool route_request(struct http_server *s, struct http_request *req, const char *url, const char *method)
{
    bool path_known = false;
    for (size_t i = 0; i < s->n_routes; i++) {
        if (!http_route_match(s->routes[i].pattern, url, req->params, &req->n_params))
            continue;
        if (strcmp(s->routes[i].method, method) == 0) {
            req->route = &s->routes[i];
            return true;
        }
        path_known = true;
        for (size_t k = 0; k < req->n_params; k++)
            free(req->params[k]);
        req->n_params = 0;
    }
    if (path_known)
        http_reply_error(req, 405, "INVALID", "method %s is not allowed on %s", method, url);
    else
        http_reply_error(req, 404, "NOT_FOUND", "no such endpoint: %s %s", method, url);
    return false;
}

struct framing {
    const char *content_length; /* the first one */
    bool content_length_differs;
    unsigned transfer_encodings;
    bool chunked; /* the only Transfer-Encoding is exactly "chunked" */
};

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    struct framing *f = cls;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
        if (!f->content_length)
            f->content_length = value;
        else if (strcmp(f->content_length, value) != 0)
            f->content_length_differs = true;
    } else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        f->transfer_encodings++;
        f->chunked = strcasecmp(value, "chunked") == 0;
    }
    return MHD_YES;
}

/* libmicrohttpd 0.9.75 uses the first Content-Length when several differ,
 * and with a Transfer-Encoding other than chunked it reads the body until
 * the peer closes, so such a request would hang until the connection
 * timeout. Ambiguous framing is also how requests get smuggled past a
 * proxy. Refuse both at once (RFC 9112 section 6.3), before any body is
 * read: MHD then answers and closes the connection. */
static bool framing_ok(struct http_request *req)
{
    struct framing f = {0};
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, count_header, &f);
    if (f.content_length_differs) {
        http_reply_error(req, 400, "INVALID", "the request has several different Content-Length headers");
        return false;
    }
    if (f.transfer_encodings && f.content_length) {
        http_reply_error(req, 400, "INVALID", "the request has both Transfer-Encoding and Content-Length");
        return false;
    }
    if (f.transfer_encodings && (f.transfer_encodings > 1 || !f.chunked)) {
        http_reply_error(req, 501, "NOT_IMPLEMENTED", "only the chunked Transfer-Encoding is supported");
        return false;
    }
    return true;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    struct http_server *s = cls;
    struct http_request *req = *con_cls;
    if (!req) {
        req = bo_xcalloc(1, sizeof(*req));
        req->conn = c;
        req->server = s;
        req->method = method;
        req->path = url; /* MHD's, valid until the request completes */
        req->start_ms = bo_mono_ms();
        *con_cls = req;
        if (!framing_ok(req))
            return MHD_YES;
        /* Route and gate before the body: a request that may not pass
         * is refused without reading (and buffering) what it sends. */
        if (!route_request(s, req, url, method))
            return MHD_YES;
        if (s->held_route && strcmp(req->route->name, s->held_route) == 0 && !admit_held(s, req))
            return MHD_YES;
        if (s->gate && !s->gate(req, s->ctx))
            return MHD_YES;
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > HTTP_MAX_BODY)
            req->too_large = true;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (req->answered) {
            /* Refused before its body (framing_ok): discard what MHD still hands over. */
        } else if (!req->too_large && req->body_len + *upload_data_size <= HTTP_MAX_BODY) {
            req->body = bo_xrealloc(req->body, req->body_len + *upload_data_size + 1);
            memcpy(req->body + req->body_len, upload_data, *upload_data_size);
            req->body_len += *upload_data_size;
            req->body[req->body_len] = '\0';
        } else {
            req->too_large = true;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (req->deferred_resp && !req->suspended) {
        send_deferred(req);
        return MHD_YES;
    }
    if (req->answered)
        return MHD_YES;
    if (req->too_large)
        http_reply_error(req, 413, "TOO_LARGE", "request body exceeds %u bytes", HTTP_MAX_BODY);
    else
        req->route->handler(req, s->ctx);
    return MHD_YES;
}

int http_server_start(const struct http_server_config *cfg, const struct http_route *routes, size_t n_routes,
                      void *ctx, http_observe_fn observe, struct http_server **ret, bo_error_t *err)
{
    /* IPv4, or IPv6 (`::` also takes IPv4 clients, as v4-mapped
     * addresses: the socket is dual-stack). */
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)cfg->port)};
    struct sockaddr_in6 sa6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)cfg->port)};
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_ALLOW_UPGRADE;
    struct sockaddr *addr = (struct sockaddr *)&sa;
    if (inet_pton(AF_INET6, cfg->listen, &sa6.sin6_addr) == 1) {
        addr = (struct sockaddr *)&sa6;
        flags |= MHD_USE_DUAL_STACK;
    } else if (inet_pton(AF_INET, cfg->listen, &sa.sin_addr) != 1) {
        return bo_error_set(err, BO_E_INVALID, "listen address `%.100s` is not an IPv4 or IPv6 address",
                            cfg->listen);
    }
    if (cfg->max_connections == 0 || cfg->reserve >= cfg->max_connections)
        return bo_error_set(err, BO_E_INVALID, "the connection reserve (%u) must be below the budget (%u)",
                            cfg->reserve, cfg->max_connections);
    struct http_server *s = bo_xcalloc(1, sizeof(*s));
    s->routes = routes;
    s->n_routes = n_routes;
    s->ctx = ctx;
    s->observe = observe;
    s->tls = cfg->cert_pem != NULL;
    s->max_connections = cfg->max_connections;
    s->reserve = cfg->reserve;
    s->held_route = cfg->held_route;
    s->max_held = cfg->held_route ? cfg->max_held : 0;
    if (s->tls)
        flags |= MHD_USE_TLS;
    /* MHD's own limit is a backstop above ours (on_accept refuses first). */
    struct MHD_OptionItem tls_opts[] = {
        {s->tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, (void *)cfg->cert_pem},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)cfg->key_pem},
        {cfg->trust_pem ? MHD_OPTION_HTTPS_MEM_TRUST : MHD_OPTION_END, 0, (void *)cfg->trust_pem},
        {MHD_OPTION_END, 0, NULL},
    };
    s->mhd = MHD_start_daemon(
        flags, (uint16_t)cfg->port, on_accept, s, on_request, s, MHD_OPTION_SOCK_ADDR, addr,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
        MHD_OPTION_CONNECTION_LIMIT, cfg->max_connections + 16, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        cfg->per_address, MHD_OPTION_CONNECTION_TIMEOUT, cfg->idle_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONNECTION_MEMORY,
        /* The kernel caps it at net.core.somaxconn (4096 by default). */
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)LISTEN_BACKLOG,
        MHD_OPTION_ARRAY, s->tls ? tls_opts : &tls_opts[3], MHD_OPTION_END);
    if (!s->mhd) {
        free(s);
        return bo_error_set(err, BO_E_IO, "cannot listen on %s:%u (address in use or not permitted%s?)",
                            cfg->listen, cfg->port, cfg->cert_pem ? ", or the TLS certificate or key is invalid" : "");
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : cfg->port;
    info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_LISTEN_FD);
    s->listen_fd = info ? info->listen_fd : -1;
    *ret = s;
    return 0;
}

void http_server_set_gate(struct http_server *s, http_gate_fn gate) { s->gate = gate; }

void http_server_stop(struct http_server *s)
{
    if (!s)
        return;
    MHD_stop_daemon(s->mhd);
    struct trusted_addr *t, *tmp;
    HASH_ITER(hh, s->trusted, t, tmp)
    {
        HASH_DEL(s->trusted, t);
        free(t);
    }
    free(s);
}

int http_server_fd(struct http_server *s)
{
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_EPOLL_FD);
    return info ? info->epoll_fd : -1;
}

int64_t http_server_timeout_ms(struct http_server *s)
{
    if (s->resume_pending)
        return 0;
    MHD_UNSIGNED_LONG_LONG t;
    if (MHD_get_timeout(s->mhd, &t) != MHD_YES)
        return -1;
    return (int64_t)t;
}

/* MHD accepts at most 10 connections per run: thousands of agents
 * reconnecting at once (a scheduler restart) would wait in the listen
 * backlog, and overflow it, while the loop serves everything else. So the
 * loop takes every waiting connection itself and hands it to MHD, which
 * applies the same checks (on_accept, the per-address limit) as to those
 * it accepts. A bound per run keeps one flood from starving the loop. */
#define ACCEPT_PER_RUN 4096

static void accept_all(struct http_server *s)
{
    for (int i = 0; s->listen_fd >= 0 && i < ACCEPT_PER_RUN; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        int fd = accept4(s->listen_fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return; /* EAGAIN: none left; EMFILE: it waits in the backlog */
        }
        MHD_add_connection(s->mhd, fd, (struct sockaddr *)&ss, len); /* closes fd if refused */
    }
}

void http_server_run(struct http_server *s)
{
    accept_all(s);
    s->resume_pending = false;
    MHD_run(s->mhd);
}

bool http_server_drained(struct http_server *s)
{
    /* MHD's epoll is edge-triggered: a connection it has read from but not
     * served yet shows as a zero timeout, not on the epoll fd. */
    struct pollfd p = {http_server_fd(s), POLLIN, 0};
    return poll(&p, 1, 0) == 0 && http_server_timeout_ms(s) != 0;
}

unsigned http_server_port(struct http_server *s) { return s->port; }
