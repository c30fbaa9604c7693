/* join.h - the agent's TLS identity: its key and certificate in the data
 * directory (agent.key 0600, agent.pem, ca.pem), obtained once by joining
 * the cluster with the join token, then re-used after every restart. */
#ifndef BO_AGENT_JOIN_H
#define BO_AGENT_JOIN_H

#include "base/error.h"
#include "net/http_client.h"

struct agent_tls {
    char *ca_file, *cert_file, *key_file;
};

/* For an https:// scheduler: load DATA's certificate, or join with the
 * token in token_file (its CA fingerprint checked against the CA the
 * scheduler shows, or ca_file trusted instead). For http:// nothing is
 * done (all fields NULL). */
int agent_join(const char *scheduler_url, const char *data_dir, const char *agent_id, const char *token_file,
               const char *ca_file, struct agent_tls *ret, bo_error_t *err);
void agent_tls_clear(struct agent_tls *t);
/* As a struct http_tls for libcurl. */
struct http_tls agent_tls_http(const struct agent_tls *t);

#endif
