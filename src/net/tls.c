/* tls.c - the scheduler's certificate authority (GnuTLS x509): makes and
 * loads the CA, issues the server certificate and agents' client
 * certificates, checks certificate requests from untrusted peers, and
 * reads the verified identity of a TLS peer. */
#include "net/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/fs.h"

#define CA_YEARS 10
#define SERVER_DAYS 825

struct tls_ca {
    gnutls_x509_crt_t crt;
    gnutls_x509_privkey_t key;
    char *pem;
    char fingerprint[TLS_FINGERPRINT_LEN + 1];
};

static int gt_fail(bo_error_t *err, int rc, const char *what)
{
    return bo_error_set(err, BO_E_INVALID, "%s: %s", what, gnutls_strerror(rc));
}

static char *datum_str(gnutls_datum_t *d)
{
    char *s = bo_xmalloc(d->size + 1);
    memcpy(s, d->data, d->size);
    s[d->size] = '\0';
    gnutls_free(d->data);
    d->data = NULL;
    return s;
}

void tls_random_hex(char *out, size_t n_bytes)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char buf[64];
    if (n_bytes > sizeof(buf) || gnutls_rnd(GNUTLS_RND_KEY, buf, n_bytes) < 0)
        abort(); /* a caller bug, or no randomness at all: nothing safe to do */
    for (size_t i = 0; i < n_bytes; i++) {
        out[2 * i] = hex[buf[i] >> 4];
        out[2 * i + 1] = hex[buf[i] & 15];
    }
    out[2 * n_bytes] = '\0';
}

static int crt_fingerprint(gnutls_x509_crt_t crt, char ret[TLS_FINGERPRINT_LEN + 1], bo_error_t *err)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char buf[32];
    size_t size = sizeof(buf);
    int rc = gnutls_x509_crt_get_fingerprint(crt, GNUTLS_DIG_SHA256, buf, &size);
    if (rc < 0 || size != 32)
        return gt_fail(err, rc, "certificate fingerprint");
    memcpy(ret, "sha256:", 7);
    for (size_t i = 0; i < 32; i++) {
        ret[7 + 2 * i] = hex[buf[i] >> 4];
        ret[8 + 2 * i] = hex[buf[i] & 15];
    }
    ret[TLS_FINGERPRINT_LEN] = '\0';
    return 0;
}

static int new_key(gnutls_x509_privkey_t *ret, bo_error_t *err)
{
    gnutls_x509_privkey_t key;
    int rc = gnutls_x509_privkey_init(&key);
    if (rc == 0)
        rc = gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
                                          GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0);
    if (rc < 0) {
        gnutls_x509_privkey_deinit(key);
        return gt_fail(err, rc, "generating a key");
    }
    *ret = key;
    return 0;
}

/* Version, random positive serial, validity from an hour ago. */
static int crt_common(gnutls_x509_crt_t crt, time_t now, time_t until)
{
    unsigned char serial[16];
    if (gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof(serial)) < 0)
        return GNUTLS_E_RANDOM_FAILED;
    serial[0] = (serial[0] & 0x7f) | 0x01;
    int rc = gnutls_x509_crt_set_version(crt, 3);
    if (rc == 0)
        rc = gnutls_x509_crt_set_serial(crt, serial, sizeof(serial));
    if (rc == 0)
        rc = gnutls_x509_crt_set_activation_time(crt, now - 3600);
    if (rc == 0)
        rc = gnutls_x509_crt_set_expiration_time(crt, until);
    return rc;
}

static int set_cn(gnutls_x509_crt_t crt, const char *cn)
{
    return gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn, (unsigned)strlen(cn));
}

/* Subject key id of the new certificate, authority key id of the CA. */
static int set_key_ids(gnutls_x509_crt_t crt, gnutls_x509_crt_t issuer)
{
    unsigned char id[64];
    size_t size = sizeof(id);
    int rc = gnutls_x509_crt_get_key_id(crt, 0, id, &size);
    if (rc == 0)
        rc = gnutls_x509_crt_set_subject_key_id(crt, id, size);
    if (rc == 0 && issuer) {
        size = sizeof(id);
        rc = gnutls_x509_crt_get_subject_key_id(issuer, id, &size, NULL);
        if (rc == 0)
            rc = gnutls_x509_crt_set_authority_key_id(crt, id, size);
    }
    return rc;
}

static int write_pem(const char *path, const char *pem, bool secret, bo_error_t *err)
{
    return bo_write_file_atomic_mode(path, pem, strlen(pem), true, secret ? 0600 : 0644, err);
}

static struct tls_ca *ca_new(void) { return bo_xcalloc(1, sizeof(struct tls_ca)); }

void tls_ca_free(struct tls_ca *ca)
{
    if (!ca)
        return;
    if (ca->crt)
        gnutls_x509_crt_deinit(ca->crt);
    if (ca->key)
        gnutls_x509_privkey_deinit(ca->key);
    free(ca->pem);
    free(ca);
}

static int ca_create(struct tls_ca *ca, const char *name, bo_error_t *err)
{
    if (new_key(&ca->key, err) < 0)
        return -1;
    time_t now = time(NULL);
    _cleanup_free_ char *cn = bo_xasprintf("Borealis CA %s", name);
    int rc = gnutls_x509_crt_init(&ca->crt);
    if (rc == 0)
        rc = crt_common(ca->crt, now, now + (time_t)CA_YEARS * 365 * 86400);
    if (rc == 0)
        rc = set_cn(ca->crt, cn);
    if (rc == 0)
        rc = gnutls_x509_crt_set_key(ca->crt, ca->key);
    if (rc == 0)
        rc = gnutls_x509_crt_set_basic_constraints(ca->crt, 1, 0);
    if (rc == 0)
        rc = gnutls_x509_crt_set_key_usage(ca->crt, GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN);
    if (rc == 0)
        rc = set_key_ids(ca->crt, NULL);
    if (rc == 0)
        rc = gnutls_x509_crt_sign2(ca->crt, ca->crt, ca->key, GNUTLS_DIG_SHA256, 0);
    if (rc < 0)
        return gt_fail(err, rc, "making the CA certificate");
    return 0;
}

static int ca_import(struct tls_ca *ca, const char *cert_path, const char *cert, const char *key_path,
                     const char *key, bo_error_t *err)
{
    gnutls_datum_t d = {(unsigned char *)cert, (unsigned)strlen(cert)};
    int rc = gnutls_x509_crt_init(&ca->crt);
    if (rc == 0)
        rc = gnutls_x509_crt_import(ca->crt, &d, GNUTLS_X509_FMT_PEM);
    if (rc < 0)
        return bo_error_set(err, BO_E_INVALID, "`%s`: not a PEM certificate: %s", cert_path, gnutls_strerror(rc));
    d = (gnutls_datum_t){(unsigned char *)key, (unsigned)strlen(key)};
    rc = gnutls_x509_privkey_init(&ca->key);
    if (rc == 0)
        rc = gnutls_x509_privkey_import(ca->key, &d, GNUTLS_X509_FMT_PEM);
    if (rc < 0)
        return bo_error_set(err, BO_E_INVALID, "`%s`: not a PEM private key: %s", key_path, gnutls_strerror(rc));
    /* The key must be the certificate's. */
    unsigned char a[64], b[64];
    size_t na = sizeof(a), nb = sizeof(b);
    if (gnutls_x509_crt_get_key_id(ca->crt, 0, a, &na) < 0 || gnutls_x509_privkey_get_key_id(ca->key, 0, b, &nb) < 0 ||
        na != nb || memcmp(a, b, na) != 0)
        return bo_error_set(err, BO_E_INVALID, "`%s` is not the key of `%s`", key_path, cert_path);
    return 0;
}

int tls_ca_load_or_create(const char *dir, const char *name, struct tls_ca **ret, bo_error_t *err)
{
    if (bo_mkdir_p(dir, 0700, err) < 0)
        return -1;
    _cleanup_free_ char *cert_path = bo_xasprintf("%s/ca.pem", dir), *key_path = bo_xasprintf("%s/ca.key", dir);
    struct stat stc, stk;
    bool have_cert = stat(cert_path, &stc) == 0, have_key = stat(key_path, &stk) == 0;
    struct tls_ca *ca = ca_new();
    if (have_cert != have_key) {
        bo_error_set(err, BO_E_INVALID, "`%s` exists without `%s`: restore it, or remove both to make a new CA "
                     "(every agent must then join again)", have_cert ? cert_path : key_path,
                     have_cert ? key_path : cert_path);
        goto fail;
    }
    if (have_cert) {
        if ((stk.st_mode & 077) != 0) {
            bo_error_set(err, BO_E_INVALID, "`%s` is readable by others (mode %o): chmod 600 it", key_path,
                         stk.st_mode & 0777);
            goto fail;
        }
        _cleanup_free_ char *cert = NULL, *key = NULL;
        if (bo_read_file(cert_path, 65536, &cert, NULL, err) < 0 || bo_read_file(key_path, 65536, &key, NULL, err) < 0 ||
            ca_import(ca, cert_path, cert, key_path, key, err) < 0)
            goto fail;
    } else {
        if (ca_create(ca, name, err) < 0)
            goto fail;
        gnutls_datum_t d;
        int rc = gnutls_x509_privkey_export2(ca->key, GNUTLS_X509_FMT_PEM, &d);
        if (rc < 0) {
            gt_fail(err, rc, "exporting the CA key");
            goto fail;
        }
        _cleanup_free_ char *key = datum_str(&d);
        rc = gnutls_x509_crt_export2(ca->crt, GNUTLS_X509_FMT_PEM, &d);
        if (rc < 0) {
            gt_fail(err, rc, "exporting the CA certificate");
            goto fail;
        }
        _cleanup_free_ char *cert = datum_str(&d);
        /* The key first: a certificate without its key is refused above. */
        if (write_pem(key_path, key, true, err) < 0 || write_pem(cert_path, cert, false, err) < 0)
            goto fail;
    }
    gnutls_datum_t d;
    int rc = gnutls_x509_crt_export2(ca->crt, GNUTLS_X509_FMT_PEM, &d);
    if (rc < 0) {
        gt_fail(err, rc, "exporting the CA certificate");
        goto fail;
    }
    ca->pem = datum_str(&d);
    if (crt_fingerprint(ca->crt, ca->fingerprint, err) < 0)
        goto fail;
    *ret = ca;
    return 0;
fail:
    tls_ca_free(ca);
    return -1;
}

const char *tls_ca_pem(const struct tls_ca *ca) { return ca->pem; }

const char *tls_ca_fingerprint(const struct tls_ca *ca) { return ca->fingerprint; }

static int export_crt(gnutls_x509_crt_t crt, char **ret, bo_error_t *err)
{
    gnutls_datum_t d;
    int rc = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &d);
    if (rc < 0)
        return gt_fail(err, rc, "exporting a certificate");
    *ret = datum_str(&d);
    return 0;
}

int tls_ca_issue_server(struct tls_ca *ca, const char *const *dns, size_t n_dns, const char *const *ips,
                        size_t n_ips, char **ret_cert, char **ret_key, bo_error_t *err)
{
    gnutls_x509_privkey_t key = NULL;
    gnutls_x509_crt_t crt = NULL;
    if (new_key(&key, err) < 0)
        return -1;
    time_t now = time(NULL);
    int rc = gnutls_x509_crt_init(&crt);
    if (rc == 0)
        rc = crt_common(crt, now, now + (time_t)SERVER_DAYS * 86400);
    if (rc == 0)
        rc = set_cn(crt, n_dns ? dns[0] : "borealis-scheduler");
    if (rc == 0)
        rc = gnutls_x509_crt_set_key(crt, key);
    if (rc == 0)
        rc = gnutls_x509_crt_set_basic_constraints(crt, 0, -1);
    if (rc == 0)
        rc = gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE);
    if (rc == 0)
        rc = gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0);
    for (size_t i = 0; rc == 0 && i < n_dns; i++)
        rc = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, dns[i], (unsigned)strlen(dns[i]),
                                                  GNUTLS_FSAN_APPEND);
    for (size_t i = 0; rc == 0 && i < n_ips; i++) {
        unsigned char a[16];
        if (inet_pton(AF_INET, ips[i], a) == 1)
            rc = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, a, 4, GNUTLS_FSAN_APPEND);
        else if (inet_pton(AF_INET6, ips[i], a) == 1)
            rc = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, a, 16, GNUTLS_FSAN_APPEND);
        else
            rc = GNUTLS_E_INVALID_REQUEST;
    }
    if (rc == 0)
        rc = set_key_ids(crt, ca->crt);
    if (rc == 0)
        rc = gnutls_x509_crt_sign2(crt, ca->crt, ca->key, GNUTLS_DIG_SHA256, 0);
    int r = -1;
    if (rc < 0) {
        gt_fail(err, rc, "making the server certificate");
        goto out;
    }
    gnutls_datum_t d;
    rc = gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &d);
    if (rc < 0) {
        gt_fail(err, rc, "exporting the server key");
        goto out;
    }
    char *key_pem = datum_str(&d);
    if (export_crt(crt, ret_cert, err) < 0) {
        free(key_pem);
        goto out;
    }
    *ret_key = key_pem;
    r = 0;
out:
    gnutls_x509_crt_deinit(crt);
    gnutls_x509_privkey_deinit(key);
    return r;
}

static bool cn_ok(const char *cn, size_t len)
{
    if (len == 0 || len > TLS_MAX_CN)
        return false;
    for (size_t i = 0; i < len; i++)
        if (cn[i] < 0x21 || cn[i] > 0x7e)
            return false;
    return true;
}

/* Import and check a request; on success *ret holds it. */
static int csr_import(const char *pem, size_t len, gnutls_x509_crq_t *ret, char **ret_cn, bo_error_t *err)
{
    if (len > TLS_MAX_CSR)
        return bo_error_set(err, BO_E_INVALID, "certificate request: larger than %u bytes", TLS_MAX_CSR);
    gnutls_x509_crq_t crq;
    int rc = gnutls_x509_crq_init(&crq);
    if (rc < 0)
        return gt_fail(err, rc, "certificate request");
    gnutls_datum_t d = {(unsigned char *)pem, (unsigned)len};
    rc = gnutls_x509_crq_import(crq, &d, GNUTLS_X509_FMT_PEM);
    if (rc < 0) {
        bo_error_set(err, BO_E_INVALID, "certificate request: not a PEM certificate request: %s",
                     gnutls_strerror(rc));
        goto fail;
    }
    rc = gnutls_x509_crq_verify(crq, 0);
    if (rc < 0) {
        bo_error_set(err, BO_E_INVALID, "certificate request: its signature does not verify: %s",
                     gnutls_strerror(rc));
        goto fail;
    }
    unsigned bits = 0;
    int pk = gnutls_x509_crq_get_pk_algorithm(crq, &bits);
    bool key_ok = (pk == GNUTLS_PK_ECDSA && bits >= 256) || (pk == GNUTLS_PK_RSA && bits >= 2048) ||
                  pk == GNUTLS_PK_EDDSA_ED25519;
    if (!key_ok) {
        bo_error_set(err, BO_E_INVALID,
                     "certificate request: its key must be ECDSA (256 bits or more), Ed25519 or RSA (2048 bits "
                     "or more)");
        goto fail;
    }
    char cn[TLS_MAX_CN + 2];
    size_t size = sizeof(cn);
    rc = gnutls_x509_crq_get_dn_by_oid(crq, GNUTLS_OID_X520_COMMON_NAME, 0, 0, cn, &size);
    if (rc < 0 || !cn_ok(cn, strnlen(cn, sizeof(cn))) || strlen(cn) != size) {
        bo_error_set(err, BO_E_INVALID,
                     "certificate request: it needs a common name (CN) of 1-%d printable ASCII characters",
                     TLS_MAX_CN);
        goto fail;
    }
    *ret = crq;
    *ret_cn = bo_xstrdup(cn);
    return 0;
fail:
    gnutls_x509_crq_deinit(crq);
    return -1;
}

int tls_csr_parse(const char *pem, size_t len, char **ret_cn, bo_error_t *err)
{
    gnutls_x509_crq_t crq;
    if (csr_import(pem, len, &crq, ret_cn, err) < 0)
        return -1;
    gnutls_x509_crq_deinit(crq);
    return 0;
}

int tls_ca_sign_client(struct tls_ca *ca, const char *pem, size_t len, const char *cn, unsigned days,
                       char **ret_cert, bo_error_t *err)
{
    gnutls_x509_crq_t crq;
    _cleanup_free_ char *req_cn = NULL;
    if (csr_import(pem, len, &crq, &req_cn, err) < 0)
        return -1;
    gnutls_pubkey_t pub = NULL;
    gnutls_x509_crt_t crt = NULL;
    time_t now = time(NULL);
    /* Only the request's key is taken: the subject is ours (CN = the
     * agent id), as are every extension and the validity. */
    int rc = gnutls_pubkey_init(&pub);
    if (rc == 0)
        rc = gnutls_pubkey_import_x509_crq(pub, crq, 0);
    if (rc == 0)
        rc = gnutls_x509_crt_init(&crt);
    if (rc == 0)
        rc = crt_common(crt, now, now + (time_t)days * 86400);
    if (rc == 0)
        rc = set_cn(crt, cn);
    if (rc == 0)
        rc = gnutls_x509_crt_set_pubkey(crt, pub);
    if (rc == 0)
        rc = gnutls_x509_crt_set_basic_constraints(crt, 0, -1);
    if (rc == 0)
        rc = gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE);
    if (rc == 0)
        rc = gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_CLIENT, 0);
    if (rc == 0)
        rc = set_key_ids(crt, ca->crt);
    if (rc == 0)
        rc = gnutls_x509_crt_sign2(crt, ca->crt, ca->key, GNUTLS_DIG_SHA256, 0);
    int r = rc < 0 ? gt_fail(err, rc, "signing the certificate request") : export_crt(crt, ret_cert, err);
    if (crt)
        gnutls_x509_crt_deinit(crt);
    if (pub)
        gnutls_pubkey_deinit(pub);
    gnutls_x509_crq_deinit(crq);
    return r;
}

int tls_make_key_and_csr(const char *cn, char **ret_key, char **ret_csr, bo_error_t *err)
{
    gnutls_x509_privkey_t key;
    if (new_key(&key, err) < 0)
        return -1;
    gnutls_x509_crq_t crq;
    int rc = gnutls_x509_crq_init(&crq);
    if (rc < 0) {
        gnutls_x509_privkey_deinit(key);
        return gt_fail(err, rc, "certificate request");
    }
    rc = gnutls_x509_crq_set_version(crq, 1);
    if (rc == 0)
        rc = gnutls_x509_crq_set_dn_by_oid(crq, GNUTLS_OID_X520_COMMON_NAME, 0, cn, (unsigned)strlen(cn));
    if (rc == 0)
        rc = gnutls_x509_crq_set_key(crq, key);
    if (rc == 0)
        rc = gnutls_x509_crq_sign2(crq, key, GNUTLS_DIG_SHA256, 0);
    gnutls_datum_t dk = {NULL, 0}, dc = {NULL, 0};
    if (rc == 0)
        rc = gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &dk);
    if (rc == 0)
        rc = gnutls_x509_crq_export2(crq, GNUTLS_X509_FMT_PEM, &dc);
    gnutls_x509_crq_deinit(crq);
    gnutls_x509_privkey_deinit(key);
    if (rc < 0) {
        gnutls_free(dk.data);
        gnutls_free(dc.data);
        return gt_fail(err, rc, "making a certificate request");
    }
    *ret_key = datum_str(&dk);
    *ret_csr = datum_str(&dc);
    return 0;
}

int tls_cert_fingerprint(const char *pem, size_t len, char ret[TLS_FINGERPRINT_LEN + 1], bo_error_t *err)
{
    gnutls_x509_crt_t crt;
    int rc = gnutls_x509_crt_init(&crt);
    if (rc < 0)
        return gt_fail(err, rc, "certificate");
    gnutls_datum_t d = {(unsigned char *)pem, (unsigned)len};
    rc = gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM);
    int r = rc < 0 ? gt_fail(err, rc, "not a PEM certificate") : crt_fingerprint(crt, ret, err);
    gnutls_x509_crt_deinit(crt);
    return r;
}

static bool has_client_purpose(gnutls_x509_crt_t crt)
{
    for (unsigned i = 0;; i++) {
        char oid[128];
        size_t size = sizeof(oid);
        int rc = gnutls_x509_crt_get_key_purpose_oid(crt, i, oid, &size, NULL);
        if (rc < 0)
            return false;
        if (strcmp(oid, GNUTLS_KP_TLS_WWW_CLIENT) == 0)
            return true;
    }
}

char *tls_session_peer_cn(void *session)
{
    gnutls_session_t s = session;
    unsigned status = 0, n = 0;
    if (!s || gnutls_certificate_verify_peers2(s, &status) < 0 || status != 0)
        return NULL;
    const gnutls_datum_t *certs = gnutls_certificate_get_peers(s, &n);
    if (!certs || n == 0)
        return NULL;
    gnutls_x509_crt_t crt;
    if (gnutls_x509_crt_init(&crt) < 0)
        return NULL;
    char *ret = NULL;
    char cn[TLS_MAX_CN + 2];
    size_t size = sizeof(cn);
    if (gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) == 0 && has_client_purpose(crt) &&
        gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, cn, &size) == 0 &&
        cn_ok(cn, strnlen(cn, sizeof(cn))))
        ret = bo_xstrdup(cn);
    gnutls_x509_crt_deinit(crt);
    return ret;
}
