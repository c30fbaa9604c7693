/* fuzz_join_request.c - libFuzzer target for what a joining agent sends
 * before it is trusted: the join request body (agent_auth_parse_join in
 * src/scheduler/agent_auth.c: JSON shape, token form) and the PEM
 * certificate request in it (tls_csr_parse in src/net/tls.c: import,
 * self-signature, key, common name). An input that does not start with
 * `{` is taken as a bare CSR. Whatever parses is then signed by a CA made
 * once per process, as the scheduler would, and the certificate must
 * carry exactly the requested common name's fingerprintable PEM. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/fs.h"
#include "net/tls.h"
#include "scheduler/agent_auth.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct tls_ca *ca;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char dir[] = "/tmp/fuzz-join-XXXXXX";
    bo_error_t err = NULL;
    if (!mkdtemp(dir) || tls_ca_load_or_create(dir, "fuzz", &ca, &err) < 0) {
        fprintf(stderr, "fuzz_join_request: making the CA: %s\n", err ? err->msg : "mkdtemp");
        abort();
    }
    bo_rm_rf(dir, NULL);
    return 0;
}

static void sign(const char *csr, const char *cn)
{
    bo_error_t err = NULL;
    char *cert = NULL;
    if (tls_ca_sign_client(ca, csr, strlen(csr), cn, 1, &cert, &err) < 0) {
        /* It parsed: signing it must work. */
        fprintf(stderr, "fuzz_join_request: a parsed request could not be signed: %s\n", err->msg);
        abort();
    }
    char fp[TLS_FINGERPRINT_LEN + 1];
    if (tls_cert_fingerprint(cert, strlen(cert), fp, &err) < 0)
        abort();
    free(cert);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    bo_error_t err = NULL;
    char *cn = NULL;
    if (size > 0 && data[0] == '{') {
        json_t *j = json_loadb(text, size, JSON_REJECT_DUPLICATES, NULL);
        const char *token, *csr;
        if (j && agent_auth_parse_join(j, &token, &csr, &cn, &err) == 0) {
            if (strlen(token) != JOIN_TOKEN_LEN)
                abort();
            sign(csr, cn);
        }
        json_decref(j);
    } else if (tls_csr_parse(text, strlen(text), &cn, &err) == 0) {
        if (strlen(cn) == 0 || strlen(cn) > TLS_MAX_CN)
            abort();
        sign(text, cn);
    }
    free(cn);
    bo_error_free(err);
    free(text);
    return 0;
}
