/* registry.h - a blocking client of the Docker Registry HTTP API v2 (libcurl):
 * manifests and blobs, bearer-token and basic auth, HTTP or HTTPS with a
 * configurable CA. Meant to run beside a daemon's loop (a thread or a child
 * process), never in it. Every transfer has a connect timeout and a stall
 * timeout, so an unreachable or silent registry is an error, never a hang. */
#ifndef BO_IMAGE_REGISTRY_H
#define BO_IMAGE_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "model/image_ref.h"

struct registry_opts {
    const char *ca_file;           /* PEM bundle for HTTPS; NULL: the system's */
    const char *const *plain_http; /* "host:port" of registries spoken to over plain HTTP */
    size_t n_plain_http;
    const char *auth_file; /* Docker-style {"auths": {"HOST": {"auth": base64("user:pass")}}}; NULL: none */
    long connect_timeout_ms; /* 0: 10 s */
    long stall_timeout_ms;   /* no byte for this long ends a transfer; 0: 30 s */
    long doc_timeout_ms;     /* whole manifest or token request; 0: 60 s */
    /* Non-zero (read atomically, set by another thread) ends every transfer
     * soon with BO_E_INTERNAL "cancelled"; NULL: never. */
    const int *cancel;
};

struct registry;

int registry_open(const struct registry_opts *o, const struct image_ref *ref, struct registry **ret, bo_error_t *err);
void registry_close(struct registry *r);
/* GET a manifest or index by tag or digest. ret_digest is the sha256 of the
 * bytes received; when `reference` is a digest it must match (else
 * BO_E_INVALID, "digest mismatch"). Unknown tag: BO_E_NOTFOUND; auth
 * refused: BO_E_REFUSED; unreachable: BO_E_NETWORK; timeout: BO_E_TIMEOUT. */
int registry_get_manifest(struct registry *r, const char *reference, char **ret_body, size_t *ret_len,
                          char ret_digest[IMAGE_DIGEST_LEN + 1], bo_error_t *err);
/* GET a blob into fd (from its current offset), verifying its size and
 * digest as it streams; a mismatch is BO_E_INVALID and the caller must
 * discard what was written. */
int registry_get_blob(struct registry *r, const char *digest, int64_t size, int fd, bo_error_t *err);

/* A parsed WWW-Authenticate challenge (untrusted input: fuzzed). */
struct registry_challenge {
    char *scheme; /* "bearer" or "basic", lowercased */
    char *realm, *service, *scope;
};
int registry_parse_challenge(const char *header, struct registry_challenge *ret, bo_error_t *err);
void registry_challenge_clear(struct registry_challenge *c);

#endif
