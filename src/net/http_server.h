/* http_server.h - a small JSON HTTP server over libmicrohttpd, driven from
 * the caller's own event loop (MHD's epoll fd is polled by the owner, so the
 * scheduler stays single-threaded and lock-free).
 *
 * A handler either answers at once (http_reply_*) or suspends the request
 * (http_suspend) to answer later: the agents' long polls. http_resume()
 * makes the server call the same handler again with req->resumed set.
 * A handler may also answer now but have the answer sent later
 * (http_defer_answer): the scheduler's answers that wait for its store. */
#ifndef BO_NET_HTTP_SERVER_H
#define BO_NET_HTTP_SERVER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define HTTP_MAX_BODY (1u << 20)
/* libmicrohttpd's memory per connection (its default is 32 KiB): the
 * request line and headers are read into it, the answer's header written
 * from it, and an upgraded TLS connection (`task exec`) relays through
 * what is left. Bodies go to our own buffer. It is most of what an idle
 * agent's parked poll costs (docs/benchmarks.md "Scale"): 4 KiB made 6.8
 * KiB per idle agent. 3 KiB serves a request whose line and headers take
 * up to about 2.8 KiB in one header, 2.2 KiB in 10, 1.9 KiB in 15 (a
 * browser sends 15 with 0.65 KiB, the CLI and agents 4 with 0.2 KiB);
 * beyond it the client gets 431 (docs/api.md "Limits"). */
#define HTTP_CONNECTION_MEMORY 3072
#define HTTP_MAX_PARAMS 6

struct http_server;
struct http_request;

typedef void (*http_handler_fn)(struct http_request *req, void *ctx);

struct http_route {
    const char *method;
    const char *pattern; /* `*` in the pattern matches one path segment */
    http_handler_fn handler;
    const char *name;    /* label for metrics, e.g. "job_create" */
    int perm;            /* what the route needs; read by the owner's gate only */
};

struct http_request {
    const char *method;
    const char *path; /* MHD's, valid until the request completes */
    const struct http_route *route;
    char *params[HTTP_MAX_PARAMS]; /* `*` segments of the pattern, URL-decoded */
    size_t n_params;
    char *body; /* freed by http_suspend: read it before */
    size_t body_len;
    void *user; /* handler-owned state kept across suspend/resume */
    void (*user_free)(void *user);
    char *principal; /* set by the gate (heap, freed with the request) */
    /* private */
    void *conn;
    struct http_server *server;
    char *answer_header; /* "Name:value" for the next answer */
    int64_t start_ms;
    void *deferred_resp; /* the answer http_defer_answer kept back */
    unsigned deferred_status;
    uint64_t deferred_ticket; /* what it waits for (http_server_send_deferred) */
    struct http_request *deferred_prev, *deferred_next; /* the server's list of kept answers */
    bool too_large;
    bool answered;
    bool suspended;
    bool defer_next; /* http_defer_answer: keep the next answer back */
    /* public, here to share the padding of the flags above */
    bool resumed;
};

/* Called once per request, after its route is found and before its body
 * is read: returns true to let it through, or answers it (http_reply_*)
 * and returns false. Not called again when a suspended request resumes. */
typedef bool (*http_gate_fn)(struct http_request *req, void *ctx);

/* Called after every answered request, for metrics. */
typedef void (*http_observe_fn)(const struct http_request *req, unsigned status, int64_t duration_ms,
                                void *ctx);

/* Transport and connection limits of a server. */
struct http_server_config {
    const char *listen; /* IPv4 address */
    unsigned port;      /* 0: any free port */
    /* TLS when cert_pem is set (PEM strings, copied by MHD). With
     * trust_pem, clients are asked for a certificate (optional: a request
     * reads the verified one with http_peer_identity). */
    const char *cert_pem, *key_pem, *trust_pem;
    unsigned max_connections;  /* total budget */
    unsigned reserve;          /* of which kept for trusted addresses */
    /* Requests of the route named held_route (the agents' long polls)
     * hold their connection: at most max_held connections may carry one
     * (the rest of the budget stays for the API: the CLI, health checks).
     * Beyond it such a request is answered 503 and its connection closed. */
    const char *held_route;
    unsigned max_held;
    unsigned per_address;      /* connections per client address */
    unsigned idle_timeout_s;   /* a connection idle this long is closed */
};

int http_server_start(const struct http_server_config *cfg, const struct http_route *routes, size_t n_routes,
                      void *ctx, http_observe_fn observe, struct http_server **ret, bo_error_t *err);
void http_server_stop(struct http_server *s);
void http_server_set_gate(struct http_server *s, http_gate_fn gate);
/* The fd to poll for readability, and how long until MHD needs a run
 * (-1 = no deadline). */
int http_server_fd(struct http_server *s);
int64_t http_server_timeout_ms(struct http_server *s);
void http_server_run(struct http_server *s);
/* Send the kept answers whose ticket is at most `upto`; with `error`,
 * every kept answer is dropped and its client gets 500 `INTERNAL` with
 * that message instead. */
void http_server_send_deferred(struct http_server *s, uint64_t upto, const char *error);
/* No request is waiting to be read or served: everything that arrived
 * before this call has been handled. */
bool http_server_drained(struct http_server *s);
unsigned http_server_port(struct http_server *s);
/* Connections refused for the budget, and held-route requests refused for
 * max_held, since the last call (the owner logs them: a library does not). */
uint64_t http_server_take_refused(struct http_server *s);
uint64_t http_server_take_refused_held(struct http_server *s);
/* Connections open now, and of them those holding a held-route request. */
unsigned http_server_connections(const struct http_server *s);
unsigned http_server_held(const struct http_server *s);
/* The common name of the client certificate of req's connection, verified
 * against the trust list (heap), or NULL: no TLS, no certificate, or one
 * that does not verify. */
char *http_peer_identity(struct http_request *req);
/* Keep connections from req's client address inside the reserve: called
 * once the peer proved who it is (an agent's certificate). */
void http_trust_peer_address(struct http_request *req);

/* Match `path` against a route pattern, where `*` matches one non-empty
 * segment. On a match, ret_params[0..*ret_n) are the URL-decoded star
 * segments (heap strings, HTTP_MAX_PARAMS at most; caller frees). */
bool http_route_match(const char *pattern, const char *path, char **ret_params, size_t *ret_n);

/* Request header value (case-insensitive name) or NULL. */
const char *http_header(struct http_request *req, const char *name);
/* Add a header to the answer this request gets next. */
void http_answer_header(struct http_request *req, const char *name, const char *value);

/* Query-string value or NULL. */
const char *http_query(struct http_request *req, const char *name);
/* Parse the body as a JSON object; on failure answers 400 and returns NULL. */
json_t *http_body_json(struct http_request *req);

/* Answers take ownership of `body`. */
void http_reply_json(struct http_request *req, unsigned status, json_t *body);
void http_reply_text(struct http_request *req, unsigned status, const char *content_type, char *text);
/* {"error": msg, "code": code} */
void http_reply_error(struct http_request *req, unsigned status, const char *code, const char *fmt, ...)
    BO_PRINTF(4, 5);
/* Map a bo_error kind to status + code and answer with its message. */
void http_reply_bo_error(struct http_request *req, bo_error_t e);

/* Answer 101 Switching Protocols (`Upgrade: protocol`). Once it is sent,
 * `fn` gets the raw stream from the same loop: `fd` (the socket, or under
 * TLS MHD's end of a socket pair, encrypted by http_server_run), the
 * bytes the client sent after its request, and a handle. The owner never
 * closes fd: it calls http_upgraded_close(handle), from the thread that
 * runs the server. A connection that fails first never gets `fn`. */
typedef void (*http_upgraded_fn)(void *cls, int fd, const char *extra, size_t extra_len, void *handle);
void http_reply_upgrade(struct http_request *req, const char *protocol, http_upgraded_fn fn, void *cls);
void http_upgraded_close(void *handle);

void http_suspend(struct http_request *req);
/* Keep the request's next answer (http_reply_*) back, and the request
 * suspended, until http_server_send_deferred() reaches `ticket` (tickets
 * of later calls must not be lower): an answer
 * that may only leave once something else happened (the scheduler's, once
 * its store holds what they say). A request freed meanwhile (its
 * connection closed) leaves the server's list. */
void http_defer_answer(struct http_request *req, uint64_t ticket);
void http_resume(struct http_request *req);

#endif
