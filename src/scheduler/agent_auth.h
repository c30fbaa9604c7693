/* agent_auth.h - who may speak as an agent: the scheduler's CA and TLS
 * material in DATA/tls, the join token, certificates issued to joining
 * agents (CN = agent id), revocation, and the limits on joining. */
#ifndef BO_SCHEDULER_AGENT_AUTH_H
#define BO_SCHEDULER_AGENT_AUTH_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "net/http_server.h"
#include "net/tls.h"

/* "BRLS1-" + 64 hex (CA sha256) + "-" + 32 hex (secret). */
#define JOIN_TOKEN_PREFIX "BRLS1-"
#define JOIN_TOKEN_LEN (6 + 64 + 1 + 32)
/* Validity of an agent certificate. */
#define AGENT_CERT_DAYS 365

struct agent_id_set;

struct agent_auth {
    char *dir; /* DATA/tls */
    struct tls_ca *ca;
    char *server_cert, *server_key; /* PEM: issued at start, or the operator's */
    char token[JOIN_TOKEN_LEN + 1];
    struct agent_id_set *revoked;
    /* Every id a certificate was issued for (DATA/tls/issued-agents). */
    struct agent_id_set *issued;
    /* Issued but not yet seen in a sync: expire after pending_ttl_ms. */
    struct agent_id_set *pending;
    int64_t pending_ttl_ms;
    int64_t max_pending;
    int64_t max_agents;
};

/* Load or make DATA/tls (CA, join token, revocation list). */
int agent_auth_open(struct agent_auth *a, const char *data_dir, const char *cluster, bo_error_t *err);
void agent_auth_close(struct agent_auth *a);
/* Issue the server certificate for these names and addresses (the CA's
 * own), or load the operator's PEM files. */
int agent_auth_server_cert(struct agent_auth *a, const char *const *dns, size_t n_dns, const char *const *ips,
                           size_t n_ips, const char *cert_file, const char *key_file, bo_error_t *err);

/* `borealis scheduler join-token [--rotate]`, offline: the token of the
 * cluster in data_dir (made with the CA if missing). Heap string. */
int agent_auth_join_token(const char *data_dir, const char *cluster, bool rotate, char **ret, bo_error_t *err);

/* Parse a join request {"token": T, "csr": PEM}: the token's form (not its
 * value) and the request (tls_csr_parse). *ret_cn is the requested agent
 * id. Used by the handler and the fuzz target. */
int agent_auth_parse_join(json_t *body, const char **ret_token, const char **ret_csr, char **ret_cn,
                          bo_error_t *err);

bool agent_auth_is_revoked(const struct agent_auth *a, const char *id);
/* The agent synced: it is no longer pending. */
void agent_auth_seen(struct agent_auth *a, const char *id);
/* Is id issued and waiting for its first sync (not expired)? */
bool agent_auth_is_pending(struct agent_auth *a, const char *id, int64_t now_mono);

/* Routes (api.c lists them). */
void agent_auth_handle_ca(struct http_request *req, void *ctx);
void agent_auth_handle_join(struct http_request *req, void *ctx);
void agent_auth_handle_revoke(struct http_request *req, void *ctx);

#endif
