/* http_client.c - blocking JSON requests with libcurl. */
#include "net/http_client.h"

#include <curl/curl.h>
#include <pthread.h>
#include <string.h>

#define HTTP_MAX_BODY (64u << 20)

struct buf {
    char *data;
    size_t len;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct buf *b = userdata;
    size_t n = size * nmemb;
    if (b->len + n > HTTP_MAX_BODY)
        return 0; /* makes curl fail the transfer */
    b->data = bo_xrealloc(b->data, b->len + n + 1);
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

static struct http_tls default_tls;

void http_client_set_tls(const struct http_tls *tls) { default_tls = *tls; }

const struct http_tls *http_client_tls(void) { return &default_tls; }

void http_tls_apply(void *easy, const struct http_tls *tls)
{
    CURL *c = easy;
    if (tls->ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, tls->ca_file);
    if (tls->cert_file) {
        curl_easy_setopt(c, CURLOPT_SSLCERT, tls->cert_file);
        curl_easy_setopt(c, CURLOPT_SSLKEY, tls->key_file);
    }
    if (tls->no_verify) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
}

bool http_tls_failure(int rc)
{
    return rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE || rc == CURLE_SSL_CONNECT_ERROR ||
           rc == CURLE_SSL_CERTPROBLEM;
}

int http_request(const char *method, const char *url, json_t *body, long timeout_ms, const char *bearer,
                 struct http_response *ret, bo_error_t *err)
{
    return http_request_tls(method, url, body, timeout_ms, bearer, &default_tls, ret, err);
}

int http_request_tls(const char *method, const char *url, json_t *body, long timeout_ms, const char *bearer,
                     const struct http_tls *tls, struct http_response *ret, bo_error_t *err)
{
    pthread_once(&curl_once, curl_init_once);
    CURL *c = curl_easy_init();
    if (!c)
        return bo_error_set(err, BO_E_INTERNAL, "cannot initialise libcurl");
    struct buf b = {NULL, 0};
    _cleanup_free_ char *payload = body ? json_dumps(body, JSON_COMPACT) : NULL;
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    hdrs = curl_slist_append(hdrs, "Accept: application/json");
    _cleanup_free_ char *auth = bearer ? bo_xasprintf("Authorization: Bearer %s", bearer) : NULL;
    if (auth)
        hdrs = curl_slist_append(hdrs, auth);
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : 30000L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    http_tls_apply(c, tls);
    if (payload) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(payload));
    }
    CURLcode rc = curl_easy_perform(c);
    int r = 0;
    if (rc != CURLE_OK) {
        if (http_tls_failure(rc))
            r = bo_error_set(err, BO_E_TLS, "%s: the TLS connection failed (is the scheduler's certificate "
                             "signed by the trusted CA%s%s?): %s", url, tls->ca_file ? " " : "",
                             tls->ca_file ? tls->ca_file : "", errbuf[0] ? errbuf : curl_easy_strerror(rc));
        else
            r = bo_error_set(err, rc == CURLE_OPERATION_TIMEDOUT ? BO_E_TIMEOUT : BO_E_NETWORK,
                             "cannot reach %s: %s", url, errbuf[0] ? errbuf : curl_easy_strerror(rc));
        free(b.data);
    } else {
        memset(ret, 0, sizeof(*ret));
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &ret->status);
        ret->raw = b.data ? b.data : bo_xstrdup("");
        if (b.len > 0)
            ret->body = json_loadb(ret->raw, b.len, 0, NULL);
    }
    curl_slist_free_all(hdrs);
    if (auth)
        explicit_bzero(auth, strlen(auth));
    curl_easy_cleanup(c);
    return r;
}

void http_response_clear(struct http_response *r)
{
    json_decref(r->body);
    free(r->raw);
    memset(r, 0, sizeof(*r));
}
