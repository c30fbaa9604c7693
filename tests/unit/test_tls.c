/* Unit tests for the scheduler's CA (src/net/tls.c) and the join request
 * parser (src/scheduler/agent_auth.c). */
#include <stdlib.h>
#include <sys/stat.h>

#include "base/fs.h"
#include "harness.h"
#include "net/tls.h"
#include "scheduler/agent_auth.h"

static char *tmpdir(void)
{
    char *d = bo_xstrdup("/tmp/test-tls-XXXXXX");
    CHECK(mkdtemp(d));
    return d;
}

TEST(ca_is_made_once_then_loaded)
{
    _cleanup_free_ char *d = tmpdir();
    _cleanup_free_ char *dir = bo_xasprintf("%s/tls", d);
    struct tls_ca *a = NULL, *b = NULL;
    CHECK(tls_ca_load_or_create(dir, "t", &a, NULL) == 0);
    CHECK(tls_ca_load_or_create(dir, "t", &b, NULL) == 0);
    CHECK(strcmp(tls_ca_fingerprint(a), tls_ca_fingerprint(b)) == 0);
    CHECK(strncmp(tls_ca_fingerprint(a), "sha256:", 7) == 0 && strlen(tls_ca_fingerprint(a)) == TLS_FINGERPRINT_LEN);
    struct stat st;
    _cleanup_free_ char *key = bo_xasprintf("%s/ca.key", dir);
    CHECK(stat(key, &st) == 0 && (st.st_mode & 0777) == 0600);
    tls_ca_free(b);
    /* A key others can read is refused, naming the file. */
    CHECK(chmod(key, 0644) == 0);
    _cleanup_error_ bo_error_t err = NULL;
    CHECK(tls_ca_load_or_create(dir, "t", &b, &err) < 0);
    CHECK_CONTAINS(err->msg, "ca.key");
    bo_error_freep(&err);
    /* A certificate without its key is refused, not replaced. */
    CHECK(unlink(key) == 0);
    CHECK(tls_ca_load_or_create(dir, "t", &b, &err) < 0);
    CHECK_CONTAINS(err->msg, "without");
    tls_ca_free(a);
    bo_rm_rf(d, NULL);
}

TEST(csr_round_trip_subject_is_ours)
{
    _cleanup_free_ char *d = tmpdir();
    struct tls_ca *ca = NULL;
    CHECK(tls_ca_load_or_create(d, "t", &ca, NULL) == 0);
    _cleanup_free_ char *key = NULL, *csr = NULL, *cn = NULL, *cert = NULL;
    CHECK(tls_make_key_and_csr("agent-1", &key, &csr, NULL) == 0);
    CHECK(tls_csr_parse(csr, strlen(csr), &cn, NULL) == 0);
    CHECK(strcmp(cn, "agent-1") == 0);
    CHECK(tls_ca_sign_client(ca, csr, strlen(csr), "agent-1", 1, &cert, NULL) == 0);
    char fp[TLS_FINGERPRINT_LEN + 1];
    CHECK(tls_cert_fingerprint(cert, strlen(cert), fp, NULL) == 0);
    CHECK(tls_cert_fingerprint(tls_ca_pem(ca), strlen(tls_ca_pem(ca)), fp, NULL) == 0);
    CHECK(strcmp(fp, tls_ca_fingerprint(ca)) == 0);
    tls_ca_free(ca);
    bo_rm_rf(d, NULL);
}

TEST(csr_errors_name_the_input)
{
    _cleanup_free_ char *key = NULL, *csr = NULL, *cn = NULL;
    _cleanup_error_ bo_error_t err = NULL;
    CHECK(tls_csr_parse("hello", 5, &cn, &err) < 0);
    CHECK_CONTAINS(err->msg, "certificate request");
    bo_error_freep(&err);
    CHECK(tls_make_key_and_csr("a", &key, &csr, NULL) == 0);
    /* One changed byte in the body: the self-signature no longer holds
     * (or it is no longer DER at all). */
    csr[100] = csr[100] == 'A' ? 'B' : 'A';
    CHECK(tls_csr_parse(csr, strlen(csr), &cn, &err) < 0);
    bo_error_freep(&err);
    char big[TLS_MAX_CSR + 2];
    memset(big, 'A', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    CHECK(tls_csr_parse(big, strlen(big), &cn, &err) < 0);
    CHECK_CONTAINS(err->msg, "larger");
}

TEST(join_request_shape)
{
    _cleanup_free_ char *key = NULL, *csr = NULL;
    CHECK(tls_make_key_and_csr("8d1f9a9e-1111-4b5e-9d0f-aaaaaaaaaaaa", &key, &csr, NULL) == 0);
    char token[JOIN_TOKEN_LEN + 1];
    snprintf(token, sizeof(token), JOIN_TOKEN_PREFIX "%064d-%032d", 0, 0);
    json_t *ok = json_pack("{s:s, s:s}", "token", token, "csr", csr);
    const char *t, *c;
    char *cn = NULL;
    _cleanup_error_ bo_error_t err = NULL;
    CHECK(agent_auth_parse_join(ok, &t, &c, &cn, &err) == 0);
    CHECK(strcmp(cn, "8d1f9a9e-1111-4b5e-9d0f-aaaaaaaaaaaa") == 0);
    free(cn);
    json_object_set_new(ok, "token", json_string("BRLS1-short"));
    CHECK(agent_auth_parse_join(ok, &t, &c, &cn, &err) < 0);
    CHECK_CONTAINS(err->msg, "token");
    bo_error_freep(&err);
    json_object_set_new(ok, "token", json_string(token));
    json_object_set_new(ok, "extra", json_true());
    CHECK(agent_auth_parse_join(ok, &t, &c, &cn, &err) < 0);
    bo_error_freep(&err);
    json_decref(ok);
    /* The common name is the agent id: the identifier rule applies. */
    _cleanup_free_ char *k2 = NULL, *c2 = NULL;
    CHECK(tls_make_key_and_csr("../x", &k2, &c2, NULL) == 0);
    json_t *bad = json_pack("{s:s, s:s}", "token", token, "csr", c2);
    CHECK(agent_auth_parse_join(bad, &t, &c, &cn, &err) < 0);
    CHECK_CONTAINS(err->msg, "agent id");
    json_decref(bad);
}

TEST_MAIN()
