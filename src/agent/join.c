/* join.c - joining the cluster (protocol §4): read the join token, fetch
 * the scheduler's CA and check it against the fingerprint in the token
 * (so the secret goes only to the real scheduler), make a key and a
 * certificate request for CN=<agent id>, send them, store the certificate.
 * An agent that has a certificate re-uses it. */
#include "agent/join.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/log.h"
#include "net/tls.h"

#define TOKEN_PREFIX "BRLS1-"
#define TOKEN_LEN (6 + 64 + 1 + 32)

void agent_tls_clear(struct agent_tls *t)
{
    free(t->ca_file);
    free(t->cert_file);
    free(t->key_file);
    memset(t, 0, sizeof(*t));
}

struct http_tls agent_tls_http(const struct agent_tls *t)
{
    return (struct http_tls){.ca_file = t->ca_file, .cert_file = t->cert_file, .key_file = t->key_file};
}

static int read_token(const char *file, char out[TOKEN_LEN + 1], bo_error_t *err)
{
    struct stat st;
    if (stat(file, &st) == 0 && (st.st_mode & 077) != 0)
        return bo_error_set(err, BO_E_INVALID, "--join-token-file `%s` is readable by others (mode %o): chmod 600 it",
                            file, st.st_mode & 0777);
    _cleanup_free_ char *buf = NULL;
    if (bo_read_file(file, 1024, &buf, NULL, err) < 0)
        return -1;
    buf[strcspn(buf, "\r\n")] = '\0';
    if (strlen(buf) != TOKEN_LEN || strncmp(buf, TOKEN_PREFIX, 6) != 0 || buf[70] != '-')
        return bo_error_set(err, BO_E_INVALID,
                            "--join-token-file `%s` does not hold a join token (from `borealis scheduler join-token`)",
                            file);
    memcpy(out, buf, TOKEN_LEN + 1);
    return 0;
}

/* Fetch the CA without verifying the server (we have nothing to verify it
 * with yet) and accept it only if its fingerprint is the token's. */
static int fetch_ca(const char *url, const char *token, const char *path, bo_error_t *err)
{
    _cleanup_free_ char *u = bo_xasprintf("%s/api/v1/ca", url);
    struct http_tls insecure = {.no_verify = true};
    struct http_response r;
    if (http_request_tls("GET", u, NULL, 10000, NULL, &insecure, &r, err) < 0)
        return -1;
    const char *pem = json_string_value(json_object_get(r.body, "ca"));
    char fp[TLS_FINGERPRINT_LEN + 1];
    int ret = 0;
    if (r.status != 200 || !pem)
        ret = bo_error_set(err, BO_E_API, "GET %s: HTTP %ld, no CA in the answer", u, r.status);
    else if (tls_cert_fingerprint(pem, strlen(pem), fp, err) < 0)
        ret = -1;
    else if (strncmp(fp + 7, token + 6, 64) != 0)
        ret = bo_error_set(err, BO_E_TLS,
                           "the CA of %s (%s) is not the one in the join token: wrong scheduler, or someone in "
                           "between", url, fp);
    else
        ret = bo_write_file_atomic(path, pem, strlen(pem), true, err);
    http_response_clear(&r);
    return ret;
}

static int do_join(const char *url, const char *id, const char *token, const struct agent_tls *t,
                   bo_error_t *err)
{
    _cleanup_free_ char *key = NULL, *csr = NULL;
    if (tls_make_key_and_csr(id, &key, &csr, err) < 0)
        return -1;
    _cleanup_free_ char *u = bo_xasprintf("%s/api/v1/agents/join", url);
    json_t *body = json_pack("{s:s, s:s}", "token", token, "csr", csr);
    struct http_tls tls = {.ca_file = t->ca_file};
    struct http_response r;
    int rc = http_request_tls("POST", u, body, 15000, NULL, &tls, &r, err);
    json_decref(body);
    if (rc < 0)
        return -1;
    const char *cert = json_string_value(json_object_get(r.body, "certificate"));
    int ret = 0;
    if (r.status != 200 || !cert) {
        const char *msg = json_string_value(json_object_get(r.body, "error"));
        ret = bo_error_set(err, r.status == 401 || r.status == 403 ? BO_E_TLS : BO_E_API,
                           "joining the cluster at %s: HTTP %ld: %s", url, r.status, msg ? msg : "(no message)");
    } else if (bo_write_file_atomic_mode(t->key_file, key, strlen(key), true, 0600, err) < 0 ||
               bo_write_file_atomic(t->cert_file, cert, strlen(cert), true, err) < 0) {
        ret = -1;
    }
    http_response_clear(&r);
    return ret;
}

int agent_join(const char *url, const char *data_dir, const char *id, const char *token_file, const char *ca_file,
               struct agent_tls *ret, bo_error_t *err)
{
    if (strncmp(url, "https://", 8) != 0) {
        memset(ret, 0, sizeof(*ret));
        return 0;
    }
    struct agent_tls t = {
        .ca_file = ca_file ? bo_xstrdup(ca_file) : bo_xasprintf("%s/ca.pem", data_dir),
        .cert_file = bo_xasprintf("%s/agent.pem", data_dir),
        .key_file = bo_xasprintf("%s/agent.key", data_dir),
    };
    if (access(t.cert_file, R_OK) == 0 && access(t.key_file, R_OK) == 0 && access(t.ca_file, R_OK) == 0) {
        *ret = t;
        return 0;
    }
    char token[TOKEN_LEN + 1];
    if (!token_file) {
        bo_error_set(err, BO_E_INVALID,
                     "the agent has no certificate in `%s` yet: join the cluster with --join-token-file FILE "
                     "(the token of `borealis scheduler join-token`)", data_dir);
        goto fail;
    }
    if (read_token(token_file, token, err) < 0)
        goto fail;
    if (!ca_file && fetch_ca(url, token, t.ca_file, err) < 0)
        goto fail;
    if (do_join(url, id, token, &t, err) < 0)
        goto fail;
    log_info("joined the cluster at %s as agent %s (certificate in %s)", url, id, t.cert_file);
    *ret = t;
    return 0;
fail:
    agent_tls_clear(&t);
    return -1;
}
