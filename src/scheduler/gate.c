/* gate.c - browser checks, authentication and the route table's
 * permission column, before any handler runs. */
#include "scheduler/gate.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#include "base/clock.h"
#include "base/log.h"
#include "scheduler/auth.h"
#include "scheduler/scheduler.h"

#define HOST_MAX 255

/* Split "host[:port]" or "[v6][:port]" into the host part. */
static bool host_part(const char *hostport, char *ret, size_t size, bool *ret_v6)
{
    const char *end;
    *ret_v6 = false;
    if (hostport[0] == '[') {
        end = strchr(hostport, ']');
        if (!end || (end[1] && end[1] != ':'))
            return false;
        hostport++;
        *ret_v6 = true;
    } else {
        end = strchr(hostport, ':');
        if (!end)
            end = hostport + strlen(hostport);
    }
    size_t n = (size_t)(end - hostport);
    if (n == 0 || n >= size)
        return false;
    const char *port = *end == ']' ? end + 1 : end;
    if (*port == ':' && (!port[1] || strspn(port + 1, "0123456789") != strlen(port + 1) || strlen(port + 1) > 5))
        return false;
    memcpy(ret, hostport, n);
    ret[n] = '\0';
    return true;
}

bool gate_host_ok(const char *host, const char *const *names, size_t n_names)
{
    char h[HOST_MAX + 1];
    bool v6;
    if (!host || !host_part(host, h, sizeof(h), &v6))
        return false;
    unsigned char addr[16];
    /* An IP literal cannot be rebound: the page's origin is then the
     * scheduler itself. A name can be: only our own names pass. */
    if (inet_pton(v6 ? AF_INET6 : AF_INET, h, addr) == 1)
        return true;
    if (v6)
        return false;
    if (!strcasecmp(h, "localhost"))
        return true;
    for (size_t i = 0; i < n_names; i++)
        if (!strcasecmp(h, names[i]))
            return true;
    return false;
}

bool gate_origin_ok(const char *origin, const char *host)
{
    if (!origin || !host)
        return false;
    const char *p = strstr(origin, "://");
    if (!p || (strncasecmp(origin, "http://", 7) != 0 && strncasecmp(origin, "https://", 8) != 0))
        return false;
    return strcasecmp(p + 3, host) == 0;
}

bool gate_json_type(const char *ct)
{
    if (!ct)
        return false;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    static const char want[] = "application/json";
    if (strncasecmp(ct, want, sizeof(want) - 1) != 0)
        return false;
    ct += sizeof(want) - 1;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    return *ct == '\0' || *ct == ';';
}

static bool is_write(const char *method) { return strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0; }

static void audit_refused(struct scheduler *s, struct http_request *req, const char *principal, unsigned status,
                          const char *why)
{
    if (!is_write(req->method))
        return;
    /* Job routes name the job in their path (cluster/role/env/name). */
    _cleanup_free_ char *job = req->n_params >= 4 ? bo_xasprintf("%s/%s/%s/%s", req->params[0], req->params[1],
                                                                 req->params[2], req->params[3])
                                                  : NULL;
    struct audit_entry e = {.principal = principal, .action = req->route->name, .method = req->method,
                            .path = req->path, .job = job, .detail = why, .status = status};
    _cleanup_error_ bo_error_t err = NULL;
    if (!store_in_batch(s->state.store) && !s->state.fatal &&
        audit_append(&s->audit, s->state.store, &e, bo_wall_ms(), &err) < 0)
        log_warn("audit log: %s", err->msg);
}

/* Answer 403 naming what is missing ("permission to act on role `x`"). */
static bool deny(struct scheduler *s, struct http_request *req, const struct auth_token *t, const char *missing,
                 const char *what)
{
    _cleanup_free_ char *msg = bo_xasprintf("%s `%s` is required", missing, what);
    audit_refused(s, req, t->name, 403, msg);
    http_reply_error(req, 403, "FORBIDDEN", "%s (token `%s`)", msg, t->name);
    return false;
}

struct auth_token *gate_principal(struct http_request *req, void *ctx)
{
    struct scheduler *s = ctx;
    return req->principal ? auth_find_name(&s->auth, req->principal) : NULL;
}

bool gate_role(struct http_request *req, void *ctx, const char *role, bool write)
{
    struct auth_token *t = gate_principal(req, ctx);
    if (t && auth_may_role(t, role, write))
        return true;
    if (!t) {
        http_reply_error(req, 401, "UNAUTHENTICATED", "the token of this request was revoked meanwhile");
        return false;
    }
    return deny(ctx, req, t, write ? "permission to act on role" : "permission to read role", role);
}

static bool browser_checks(struct scheduler *s, struct http_request *req)
{
    const char *host = http_header(req, "Host");
    if (host && !gate_host_ok(host, (const char *const *)s->hostnames, s->n_hostnames)) {
        http_reply_error(req, 421, "MISDIRECTED", "Host `%.100s` is not a name of this scheduler (add it with "
                                                 "`borealis scheduler --hostname NAME`)", host);
        return false;
    }
    const char *origin = http_header(req, "Origin");
    if (origin && !gate_origin_ok(origin, host)) {
        http_reply_error(req, 403, "FORBIDDEN", "requests from web pages (Origin `%.100s`) are refused", origin);
        return false;
    }
    /* A page can POST text/plain or a form without a CORS preflight; a
     * DELETE (or a JSON POST) it can send only after a preflight, which
     * this API never grants (OPTIONS is not a route). */
    bool simple = strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0 &&
                  strcmp(req->method, "DELETE") != 0;
    if (simple && !gate_json_type(http_header(req, "Content-Type"))) {
        http_reply_error(req, 415, "UNSUPPORTED_MEDIA_TYPE", "a %s must have Content-Type: application/json",
                         req->method);
        return false;
    }
    return true;
}

bool gate_check(struct http_request *req, void *ctx)
{
    struct scheduler *s = ctx;
    enum auth_perm perm = (enum auth_perm)req->route->perm;
    /* Agents prove who they are on their own routes (see auth.h). */
    if (perm == PERM_PUBLIC || perm == PERM_AGENT)
        return true;
    if (!browser_checks(s, req))
        return false;
    const char *h = http_header(req, "Authorization");
    const char *tok = NULL;
    size_t len = 0;
    _cleanup_error_ bo_error_t err = NULL;
    struct auth_token *t = NULL;
    if (!h) {
        http_answer_header(req, "WWW-Authenticate", "Bearer");
        http_reply_error(req, 401, "UNAUTHENTICATED",
                         "authentication required: send `Authorization: Bearer TOKEN` (the CLI reads its token "
                         "from $BOREALIS_TOKEN_FILE, $BOREALIS_TOKEN or ~/.config/borealis/credentials)");
        return false;
    }
    if (auth_parse_header(h, &tok, &len, &err) < 0 || !(t = auth_find(&s->auth, tok, len))) {
        http_answer_header(req, "WWW-Authenticate", "Bearer error=\"invalid_token\"");
        http_reply_error(req, 401, "UNAUTHENTICATED", "%s", err ? err->msg : "unknown or revoked token");
        return false;
    }
    req->principal = bo_xstrdup(t->name);
    switch (perm) {
    case PERM_ADMIN:
        return t->admin || deny(s, req, t, "the permission", "admin");
    case PERM_ROLE_READ:
    case PERM_ROLE_WRITE:
        /* Job routes: /api/v1/jobs/CLUSTER/ROLE/ENV/NAME...; other routes
         * of this kind (job create, lists) check in their handler. */
        if (req->n_params >= 4)
            return gate_role(req, ctx, req->params[1], perm == PERM_ROLE_WRITE);
        return true;
    default:
        return true;
    }
}
