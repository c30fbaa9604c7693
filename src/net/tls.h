/* tls.h - the scheduler's own certificate authority and the TLS identities
 * it issues (GnuTLS x509): the server certificate of the API, and one
 * client certificate per agent whose common name is the agent id. The
 * agent side makes its key and certificate request here too. */
#ifndef BO_NET_TLS_H
#define BO_NET_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"

/* Longest certificate request accepted (a P-256 or RSA-4096 CSR is far
 * below). */
#define TLS_MAX_CSR 8192
/* Longest common name accepted in a request. */
#define TLS_MAX_CN 64
/* "sha256:" + 64 hex digits. */
#define TLS_FINGERPRINT_LEN 71

struct tls_ca;

/* Load DIR/ca.pem and DIR/ca.key, or make a new CA there when neither
 * exists (keys 0600, DIR 0700). One without the other is an error naming
 * the file. */
int tls_ca_load_or_create(const char *dir, const char *name, struct tls_ca **ret, bo_error_t *err);
void tls_ca_free(struct tls_ca *ca);
const char *tls_ca_pem(const struct tls_ca *ca);
/* "sha256:HEX" of the CA certificate (DER). */
const char *tls_ca_fingerprint(const struct tls_ca *ca);

/* A server certificate for the given DNS names and IP addresses (IPv4 or
 * IPv6 text), signed by ca, with a new key. Heap PEM strings. */
int tls_ca_issue_server(struct tls_ca *ca, const char *const *dns, size_t n_dns, const char *const *ips,
                        size_t n_ips, char **ret_cert, char **ret_key, bo_error_t *err);

/* Parse and check a PEM certificate request from an untrusted peer: size,
 * format, its self-signature, a key of at least 256 (EC) / 2048 (RSA)
 * bits, a common name of printable characters. *ret_cn is the common name
 * (heap). */
int tls_csr_parse(const char *pem, size_t len, char **ret_cn, bo_error_t *err);
/* Sign a request already checked by tls_csr_parse as a TLS client
 * certificate whose subject is exactly CN=cn, valid `days`. */
int tls_ca_sign_client(struct tls_ca *ca, const char *pem, size_t len, const char *cn, unsigned days,
                       char **ret_cert, bo_error_t *err);

/* Agent side: a new P-256 key and a request for CN=cn (heap PEM). */
int tls_make_key_and_csr(const char *cn, char **ret_key, char **ret_csr, bo_error_t *err);
/* "sha256:HEX" of a PEM certificate. */
int tls_cert_fingerprint(const char *pem, size_t len, char ret[TLS_FINGERPRINT_LEN + 1], bo_error_t *err);
/* Random hex string of 2*n_bytes characters (n_bytes <= 64). */
void tls_random_hex(char *out, size_t n_bytes);

/* The verified client certificate of a GnuTLS session (chain checked
 * against the server's trust list, in its validity period): its common
 * name (heap), or NULL when the peer sent none or it does not verify. */
char *tls_session_peer_cn(void *gnutls_session);

#endif
