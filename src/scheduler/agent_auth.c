/* agent_auth.c - agent identity: the CA and TLS files in DATA/tls, the
 * join token, signing joining agents' certificate requests (the subject is
 * always CN=<agent id>), the revocation list, and the bounds on joining
 * (pending joins expire, a total limit). */
#include "scheduler/agent_auth.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <string.h>
#include <sys/stat.h>
#include <uthash.h>

#include "base/clock.h"
#include "base/fs.h"
#include "base/log.h"
#include "model/job.h"
#include "scheduler/lifecycle.h"
#include "scheduler/scheduler.h"

struct agent_id_set {
    char *id;
    int64_t expires_mono; /* pending only */
    UT_hash_handle hh;
};

static struct agent_id_set *set_find(struct agent_id_set *set, const char *id)
{
    struct agent_id_set *e = NULL;
    HASH_FIND_STR(set, id, e);
    return e;
}

static void set_add(struct agent_id_set **set, const char *id, int64_t expires)
{
    struct agent_id_set *e = set_find(*set, id);
    if (!e) {
        e = bo_xcalloc(1, sizeof(*e));
        e->id = bo_xstrdup(id);
        HASH_ADD_KEYPTR(hh, *set, e->id, strlen(e->id), e);
    }
    e->expires_mono = expires;
}

static void set_del(struct agent_id_set **set, struct agent_id_set *e)
{
    HASH_DEL(*set, e);
    free(e->id);
    free(e);
}

static void set_free(struct agent_id_set **set)
{
    struct agent_id_set *e, *tmp;
    HASH_ITER(hh, *set, e, tmp)
    set_del(set, e);
}

static char *path_in(const char *dir, const char *name) { return bo_xasprintf("%s/%s", dir, name); }

static void make_token(const struct tls_ca *ca, char out[JOIN_TOKEN_LEN + 1])
{
    char secret[33];
    tls_random_hex(secret, 16);
    snprintf(out, JOIN_TOKEN_LEN + 1, JOIN_TOKEN_PREFIX "%s-%s", tls_ca_fingerprint(ca) + 7, secret);
}

static bool token_form_ok(const char *t)
{
    if (strlen(t) != JOIN_TOKEN_LEN || strncmp(t, JOIN_TOKEN_PREFIX, 6) != 0 || t[70] != '-')
        return false;
    for (size_t i = 6; i < JOIN_TOKEN_LEN; i++)
        if (i != 70 && !strchr("0123456789abcdef", t[i]))
            return false;
    return true;
}

/* The token of DATA/tls/join-token, made if missing or rotate. */
static int load_token(const char *dir, const struct tls_ca *ca, bool rotate, char out[JOIN_TOKEN_LEN + 1],
                      bo_error_t *err)
{
    _cleanup_free_ char *path = path_in(dir, "join-token");
    _cleanup_free_ char *buf = NULL;
    bo_error_t e = NULL;
    if (!rotate && bo_read_file(path, 1024, &buf, NULL, &e) == 0) {
        buf[strcspn(buf, "\r\n")] = '\0';
        if (!token_form_ok(buf) || strncmp(buf + 6, tls_ca_fingerprint(ca) + 7, 64) != 0)
            return bo_error_set(err, BO_E_INVALID,
                                "`%s` does not hold a join token of this CA (make a new one with "
                                "`borealis scheduler join-token --rotate`)", path);
        memcpy(out, buf, JOIN_TOKEN_LEN + 1);
        return 0;
    }
    if (e && e->sys_errno != ENOENT) {
        *err = e;
        return -1;
    }
    bo_error_free(e);
    make_token(ca, out);
    _cleanup_free_ char *line = bo_xasprintf("%s\n", out);
    return bo_write_file_atomic_mode(path, line, strlen(line), true, 0600, err);
}

/* One id per line. */
static int load_ids(struct agent_auth *a, const char *name, struct agent_id_set **set, bo_error_t *err)
{
    _cleanup_free_ char *path = path_in(a->dir, name);
    _cleanup_free_ char *buf = NULL;
    bo_error_t e = NULL;
    if (bo_read_file(path, 16u << 20, &buf, NULL, &e) < 0) {
        if (e->sys_errno == ENOENT) {
            bo_error_free(e);
            return 0;
        }
        *err = e;
        return -1;
    }
    char *save = NULL;
    for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
        if (*line)
            set_add(set, line, 0);
    return 0;
}

static int append_issued(struct agent_auth *a, const char *id, bo_error_t *err)
{
    _cleanup_free_ char *path = path_in(a->dir, "issued-agents");
    _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0)
        return bo_error_sys(err, errno, "open `%s`", path);
    _cleanup_free_ char *line = bo_xasprintf("%s\n", id);
    ssize_t n = write(fd, line, strlen(line));
    if (n != (ssize_t)strlen(line) || fdatasync(fd) < 0)
        return bo_error_sys(err, n < 0 ? errno : EIO, "write `%s`", path);
    set_add(&a->issued, id, 0);
    return 0;
}

static int save_revoked(struct agent_auth *a, bo_error_t *err)
{
    size_t len = 0;
    struct agent_id_set *e, *tmp;
    HASH_ITER(hh, a->revoked, e, tmp)
    len += strlen(e->id) + 1;
    _cleanup_free_ char *buf = bo_xmalloc(len + 1), *path = path_in(a->dir, "revoked-agents");
    char *p = buf;
    HASH_ITER(hh, a->revoked, e, tmp)
    p += sprintf(p, "%s\n", e->id);
    return bo_write_file_atomic(path, buf, len, true, err);
}

static int open_ca(const char *data_dir, const char *cluster, char **ret_dir, struct tls_ca **ret_ca,
                   bo_error_t *err)
{
    char *dir = path_in(data_dir, "tls");
    if (tls_ca_load_or_create(dir, cluster, ret_ca, err) < 0) {
        free(dir);
        return -1;
    }
    *ret_dir = dir;
    return 0;
}

int agent_auth_open(struct agent_auth *a, const char *data_dir, const char *cluster, bo_error_t *err)
{
    if (open_ca(data_dir, cluster, &a->dir, &a->ca, err) < 0)
        return -1;
    if (load_token(a->dir, a->ca, false, a->token, err) < 0 || load_ids(a, "revoked-agents", &a->revoked, err) < 0 ||
        load_ids(a, "issued-agents", &a->issued, err) < 0)
        return -1;
    return 0;
}

void agent_auth_close(struct agent_auth *a)
{
    tls_ca_free(a->ca);
    free(a->dir);
    free(a->server_cert);
    free(a->server_key);
    set_free(&a->revoked);
    set_free(&a->issued);
    set_free(&a->pending);
    memset(a, 0, sizeof(*a));
}

int agent_auth_server_cert(struct agent_auth *a, const char *const *dns, size_t n_dns, const char *const *ips,
                           size_t n_ips, const char *cert_file, const char *key_file, bo_error_t *err)
{
    if (cert_file) {
        struct stat st;
        if (stat(key_file, &st) == 0 && (st.st_mode & 077) != 0)
            return bo_error_set(err, BO_E_INVALID, "`%s` is readable by others (mode %o): chmod 600 it", key_file,
                                st.st_mode & 0777);
        if (bo_read_file(cert_file, 1u << 20, &a->server_cert, NULL, err) < 0 ||
            bo_read_file(key_file, 1u << 20, &a->server_key, NULL, err) < 0)
            return -1;
        return 0;
    }
    if (tls_ca_issue_server(a->ca, dns, n_dns, ips, n_ips, &a->server_cert, &a->server_key, err) < 0)
        return -1;
    /* Written for the operator's tools (openssl s_client, curl); the
     * scheduler itself uses the copy in memory. */
    _cleanup_free_ char *cp = path_in(a->dir, "server.pem"), *kp = path_in(a->dir, "server.key");
    if (bo_write_file_atomic_mode(kp, a->server_key, strlen(a->server_key), true, 0600, err) < 0 ||
        bo_write_file_atomic(cp, a->server_cert, strlen(a->server_cert), true, err) < 0)
        return -1;
    return 0;
}

int agent_auth_join_token(const char *data_dir, const char *cluster, bool rotate, char **ret, bo_error_t *err)
{
    _cleanup_free_ char *dir = NULL;
    struct tls_ca *ca = NULL;
    if (open_ca(data_dir, cluster, &dir, &ca, err) < 0)
        return -1;
    char token[JOIN_TOKEN_LEN + 1];
    int r = load_token(dir, ca, rotate, token, err);
    tls_ca_free(ca);
    if (r < 0)
        return -1;
    *ret = bo_xstrdup(token);
    return 0;
}

int agent_auth_parse_join(json_t *body, const char **ret_token, const char **ret_csr, char **ret_cn,
                          bo_error_t *err)
{
    const char *token = NULL, *csr = NULL;
    json_error_t jerr;
    if (json_unpack_ex(body, &jerr, JSON_STRICT, "{s:s, s:s}", "token", &token, "csr", &csr) < 0)
        return bo_error_set(err, BO_E_INVALID, "join request: %s", jerr.text);
    if (!token_form_ok(token))
        return bo_error_set(err, BO_E_INVALID, "join request: `token` is not a join token (%s<64 hex>-<32 hex>)",
                            JOIN_TOKEN_PREFIX);
    char *cn = NULL;
    if (tls_csr_parse(csr, strlen(csr), &cn, err) < 0)
        return -1;
    if (job_ident_validate(cn, "the certificate request's common name (the agent id)", err) < 0) {
        free(cn);
        return -1;
    }
    *ret_token = token;
    *ret_csr = csr;
    *ret_cn = cn;
    return 0;
}

bool agent_auth_is_revoked(const struct agent_auth *a, const char *id) { return set_find(a->revoked, id) != NULL; }

void agent_auth_seen(struct agent_auth *a, const char *id)
{
    struct agent_id_set *e = set_find(a->pending, id);
    if (e)
        set_del(&a->pending, e);
}

static void expire_pending(struct agent_auth *a, int64_t now)
{
    struct agent_id_set *e, *tmp;
    HASH_ITER(hh, a->pending, e, tmp)
    {
        if (now >= e->expires_mono) {
            log_info("agent %s joined but never synced: its join expired", e->id);
            set_del(&a->pending, e);
        }
    }
}

bool agent_auth_is_pending(struct agent_auth *a, const char *id, int64_t now_mono)
{
    struct agent_id_set *e = set_find(a->pending, id);
    return e && now_mono < e->expires_mono;
}

/* Constant time: the token is a secret. */
static bool token_equal(const char *a, const char *b)
{
    unsigned char d = 0;
    for (size_t i = 0; i < JOIN_TOKEN_LEN; i++)
        d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

void agent_auth_handle_ca(struct http_request *req, void *ctx)
{
    struct agent_auth *a = &((struct scheduler *)ctx)->agent_auth;
    http_reply_json(req, 200,
                    json_pack("{s:s, s:s}", "ca", tls_ca_pem(a->ca), "fingerprint", tls_ca_fingerprint(a->ca)));
}

void agent_auth_handle_join(struct http_request *req, void *ctx)
{
    struct scheduler *s = ctx;
    struct agent_auth *a = &s->agent_auth;
    json_t *body = http_body_json(req);
    if (!body)
        return;
    const char *token, *csr;
    _cleanup_free_ char *id = NULL;
    _cleanup_error_ bo_error_t err = NULL;
    if (agent_auth_parse_join(body, &token, &csr, &id, &err) < 0) {
        json_decref(body);
        http_reply_bo_error(req, err);
        return;
    }
    int64_t now = bo_mono_ms();
    expire_pending(a, now);
    /* Re-read: `borealis scheduler join-token --rotate` works offline and
     * takes effect at the next join. */
    if (load_token(a->dir, a->ca, false, a->token, &err) < 0) {
        json_decref(body);
        http_reply_bo_error(req, err);
        return;
    }
    if (!token_equal(token, a->token)) {
        http_reply_error(req, 401, "UNAUTHENTICATED",
                         "the join token is not this cluster's current one (`borealis scheduler join-token`)");
    } else if (agent_auth_is_revoked(a, id)) {
        http_reply_error(req, 403, "FORBIDDEN", "agent `%s` was revoked: it cannot join again under this id", id);
    } else if (set_find(a->issued, id) || set_find(a->pending, id)) {
        /* An agent's id is public (GET /api/v1/agents): a join token must
         * not be a way to take over another agent's identity. An agent
         * registered before the cluster had TLS has no certificate yet: it
         * joins once under its id. */
        http_reply_error(req, 409, "EXISTS",
                         "agent `%s` already joined: its certificate is in its data directory; an agent that lost "
                         "it joins under a new id", id);
    } else if ((int64_t)HASH_COUNT(a->pending) >= a->max_pending) {
        http_reply_error(req, 429, "TOO_MANY",
                         "%lld agents joined and have not synced yet (--max-pending-agents); try again later",
                         (long long)a->max_pending);
    } else if (!state_agent_find(&s->state, id) &&
               (int64_t)(HASH_COUNT(s->state.agents) + HASH_COUNT(a->pending)) >= a->max_agents) {
        http_reply_error(req, 429, "TOO_MANY", "the cluster has its maximum of %lld agents (--max-agents)",
                         (long long)a->max_agents);
    } else {
        _cleanup_free_ char *cert = NULL;
        /* The join token is the principal: audited as the agent. */
        _cleanup_free_ char *who = bo_xasprintf("agent %s (join token)", id);
        struct audit_entry e = {.principal = who, .action = req->route->name, .method = req->method,
                                .path = req->path, .status = 200};
        struct store *store = s->state.store;
        int r = tls_ca_sign_client(a->ca, csr, strlen(csr), id, AGENT_CERT_DAYS, &cert, &err);
        if (r == 0)
            r = append_issued(a, id, &err);
        if (r == 0 && (r = store_begin(store, &err)) == 0) {
            r = audit_append(&s->audit, store, &e, bo_wall_ms(), &err);
            if (r == 0)
                r = store_commit(store, &err);
            if (r < 0) {
                store_rollback(store);
                if (!state_error_is_clean(err))
                    state_fatal(&s->state, "auditing an agent join", err->msg);
            }
        }
        if (r < 0) {
            http_reply_bo_error(req, err);
        } else {
            set_add(&a->pending, id, now + a->pending_ttl_ms);
            log_info("agent %s joined: certificate issued", id);
            http_reply_json(req, 200, json_pack("{s:s, s:s, s:s}", "agent_id", id, "certificate", cert, "ca",
                                                tls_ca_pem(a->ca)));
        }
    }
    json_decref(body);
}

void agent_auth_handle_revoke(struct http_request *req, void *ctx)
{
    struct scheduler *s = ctx;
    struct agent_auth *a = &s->agent_auth;
    struct sched_state *st = &s->state;
    const char *id = req->params[0];
    _cleanup_error_ bo_error_t err = NULL;
    struct sched_agent *ag = state_agent_find(st, id);
    struct agent_id_set *p = set_find(a->pending, id);
    if (!ag && !p && !agent_auth_is_revoked(a, id)) {
        http_reply_error(req, 404, "NOT_FOUND", "agent `%s` is unknown", id);
        return;
    }
    if (p)
        set_del(&a->pending, p);
    set_add(&a->revoked, id, 0);
    if (save_revoked(a, &err) < 0) {
        /* Not durable: refuse rather than claim a revocation that a restart
         * would forget. The in-memory entry stays (safer). */
        http_reply_bo_error(req, err);
        return;
    }
    /* One batch: the agent's tasks LOST (if it was up) and the audit
     * record of the revocation. */
    _cleanup_free_ char *detail = bo_xasprintf("agent %s", id);
    struct audit_entry e = {.principal = req->principal, .action = req->route->name, .method = req->method,
                            .path = req->path, .detail = detail, .status = 200};
    int r = store_begin(st->store, &err);
    if (r == 0 && ag && ag->up) {
        _cleanup_free_ char *why = bo_xasprintf("agent %s (%s) was revoked", ag->hostname, ag->id);
        lifecycle_agent_set_state(st, ag, AGENT_DOWN, "revoked");
        r = lifecycle_agent_lost(st, ag, why, &err);
        state_agent_has_work(st, ag); /* answers its parked poll: refused from now on */
    }
    if (r == 0)
        r = audit_append(&s->audit, st->store, &e, bo_wall_ms(), &err);
    if (r == 0)
        r = store_commit(st->store, &err);
    if (r < 0) {
        store_rollback(st->store);
        if (!state_error_is_clean(err))
            state_fatal(st, "revoking an agent", err->msg);
        http_reply_bo_error(req, err);
        return;
    }
    log_info("agent %s revoked", id);
    http_reply_json(req, 200, json_pack("{s:s, s:b}", "agent_id", id, "revoked", 1));
}
