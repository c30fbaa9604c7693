/* registry.c - Docker Registry HTTP API v2 client over libcurl's easy
 * interface (see registry.h). */
#include "image/registry.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <string.h>

#include "base/fs.h"
#include "image/digest.h"
#include "image/manifest.h"

#define HEADER_MAX 8192
#define TOKEN_MAX (64u << 10)
#define ERRBODY_MAX 512

struct registry {
    struct registry_opts o;
    char *base; /* "https://host:port/v2/repo" */
    char *host;
    char *repository;
    char *userpwd; /* "user:pass" or NULL */
    char *bearer;  /* current token or NULL */
};

/* ---- WWW-Authenticate ------------------------------------------------ */

void registry_challenge_clear(struct registry_challenge *c)
{
    free(c->scheme);
    free(c->realm);
    free(c->service);
    free(c->scope);
    *c = (struct registry_challenge){0};
}

/* Scheme SP param="value" *(, param="value"): values may be quoted (with
 * backslash escapes) or bare tokens. */
int registry_parse_challenge(const char *h, struct registry_challenge *ret, bo_error_t *err)
{
    if (strlen(h) > HEADER_MAX)
        return bo_error_set(err, BO_E_INVALID, "WWW-Authenticate header longer than %d bytes", HEADER_MAX);
    struct registry_challenge c = {0};
    const char *p = h;
    while (*p == ' ' || *p == '\t')
        p++;
    const char *s = p;
    while (*p && *p != ' ' && *p != '\t')
        p++;
    if (p == s)
        return bo_error_set(err, BO_E_INVALID, "empty WWW-Authenticate challenge");
    c.scheme = bo_xstrndup(s, (size_t)(p - s));
    for (char *q = c.scheme; *q; q++)
        *q = (char)tolower((unsigned char)*q);
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (!*p)
            break;
        const char *ks = p;
        while (*p && *p != '=' && *p != ',' && *p != ' ')
            p++;
        size_t kn = (size_t)(p - ks);
        if (*p != '=') {
            registry_challenge_clear(&c);
            return bo_error_set(err, BO_E_INVALID, "WWW-Authenticate: parameter without a value");
        }
        p++;
        char *val = bo_xmalloc(strlen(p) + 1);
        size_t vn = 0;
        if (*p == '"') {
            p++;
            while (*p && *p != '"') {
                if (*p == '\\' && p[1])
                    p++;
                val[vn++] = *p++;
            }
            if (*p != '"') {
                free(val);
                registry_challenge_clear(&c);
                return bo_error_set(err, BO_E_INVALID, "WWW-Authenticate: unterminated quoted value");
            }
            p++;
        } else {
            while (*p && *p != ',' && *p != ' ')
                val[vn++] = *p++;
        }
        val[vn] = 0;
        char **slot = NULL;
        if (kn == 5 && strncasecmp(ks, "realm", 5) == 0)
            slot = &c.realm;
        else if (kn == 7 && strncasecmp(ks, "service", 7) == 0)
            slot = &c.service;
        else if (kn == 5 && strncasecmp(ks, "scope", 5) == 0)
            slot = &c.scope;
        if (slot) {
            free(*slot);
            *slot = val;
        } else {
            free(val);
        }
    }
    *ret = c;
    return 0;
}

/* ---- credentials ------------------------------------------------------ */

static int load_auth(const char *file, const char *host, char **ret_userpwd, bo_error_t *err)
{
    _cleanup_free_ char *buf = NULL;
    size_t len;
    if (bo_read_file(file, 1u << 20, &buf, &len, err) < 0)
        return -1;
    json_error_t je;
    json_t *j = json_loadb(buf, len, 0, &je);
    if (!j)
        return bo_error_set(err, BO_E_INVALID, "registry auth file `%s`: not JSON (line %d: %s)", file, je.line,
                            je.text);
    int r = 0;
    json_t *e = json_object_get(json_object_get(j, "auths"), host);
    const char *b64 = json_string_value(json_object_get(e, "auth"));
    const char *user = json_string_value(json_object_get(e, "username"));
    const char *pass = json_string_value(json_object_get(e, "password"));
    if (b64) {
        size_t n = strlen(b64);
        if (n == 0 || n > 4096 || n % 4) {
            r = bo_error_set(err, BO_E_INVALID, "registry auth file `%s`: auth of %s is not base64", file, host);
        } else {
            unsigned char *out = bo_xmalloc(n + 1);
            int dn = EVP_DecodeBlock(out, (const unsigned char *)b64, (int)n);
            if (dn < 0) {
                free(out);
                r = bo_error_set(err, BO_E_INVALID, "registry auth file `%s`: auth of %s is not base64", file, host);
            } else {
                /* EVP_DecodeBlock counts the padding as zero bytes. */
                while (dn > 0 && b64[n - 1] == '=' && out[dn - 1] == 0) {
                    dn--;
                    n--;
                }
                out[dn] = 0;
                if (!strchr((char *)out, ':') || strlen((char *)out) != (size_t)dn) {
                    free(out);
                    r = bo_error_set(err, BO_E_INVALID, "registry auth file `%s`: auth of %s is not user:password",
                                     file, host);
                } else {
                    *ret_userpwd = (char *)out;
                }
            }
        }
    } else if (user && pass) {
        *ret_userpwd = bo_xasprintf("%s:%s", user, pass);
    }
    json_decref(j);
    return r;
}

int registry_open(const struct registry_opts *o, const struct image_ref *ref, struct registry **ret, bo_error_t *err)
{
    struct registry *r = bo_xcalloc(1, sizeof(*r));
    r->o = *o;
    if (!r->o.connect_timeout_ms)
        r->o.connect_timeout_ms = 10000;
    if (!r->o.stall_timeout_ms)
        r->o.stall_timeout_ms = 30000;
    if (!r->o.doc_timeout_ms)
        r->o.doc_timeout_ms = 60000;
    bool plain = false;
    for (size_t i = 0; i < o->n_plain_http; i++)
        if (strcmp(o->plain_http[i], ref->registry) == 0)
            plain = true;
    r->host = bo_xstrdup(ref->registry);
    r->repository = bo_xstrdup(ref->repository);
    r->base = bo_xasprintf("%s://%s/v2/%s", plain ? "http" : "https", ref->registry, ref->repository);
    if (o->auth_file && load_auth(o->auth_file, ref->registry, &r->userpwd, err) < 0) {
        registry_close(r);
        return -1;
    }
    *ret = r;
    return 0;
}

void registry_close(struct registry *r)
{
    if (!r)
        return;
    free(r->base);
    free(r->host);
    free(r->repository);
    if (r->userpwd) {
        explicit_bzero(r->userpwd, strlen(r->userpwd));
        free(r->userpwd);
    }
    free(r->bearer);
    free(r);
}

/* ---- one transfer ------------------------------------------------------ */

struct sink {
    CURL *curl;
    /* document mode */
    char *buf;
    size_t len, max;
    /* blob mode */
    int fd;
    struct image_hasher *hasher;
    int64_t expect_size;
    int write_errno;
    bool too_big;
    /* error body of a non-2xx answer */
    char errbody[ERRBODY_MAX + 1];
    size_t errlen;
    /* headers of the last response */
    char *www_authenticate;
    char *content_digest;
};

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
    struct sink *s = arg;
    size_t len = size * n;
    if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) { /* a new response: forget the last one's */
        free(s->www_authenticate);
        free(s->content_digest);
        s->www_authenticate = s->content_digest = NULL;
        return len;
    }
    const char *colon = memchr(data, ':', len);
    if (!colon || len > HEADER_MAX)
        return len;
    size_t kn = (size_t)(colon - data);
    const char *v = colon + 1;
    size_t vn = len - kn - 1;
    while (vn && (*v == ' ' || *v == '\t'))
        v++, vn--;
    while (vn && (v[vn - 1] == '\r' || v[vn - 1] == '\n' || v[vn - 1] == ' '))
        vn--;
    char **slot = NULL;
    if (kn == 16 && strncasecmp(data, "WWW-Authenticate", 16) == 0)
        slot = &s->www_authenticate;
    else if (kn == 21 && strncasecmp(data, "Docker-Content-Digest", 21) == 0)
        slot = &s->content_digest;
    if (slot) {
        free(*slot);
        *slot = bo_xstrndup(v, vn);
    }
    return len;
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    struct sink *s = arg;
    size_t len = size * n;
    long code = 0;
    curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &code);
    if (code < 200 || code > 299) {
        size_t k = len < ERRBODY_MAX - s->errlen ? len : ERRBODY_MAX - s->errlen;
        memcpy(s->errbody + s->errlen, data, k);
        s->errlen += k;
        s->errbody[s->errlen] = 0;
        return len;
    }
    if (s->fd < 0) {
        if (len > s->max - s->len) {
            s->too_big = true;
            return 0;
        }
        s->buf = bo_xrealloc(s->buf, s->len + len + 1);
        memcpy(s->buf + s->len, data, len);
        s->len += len;
        s->buf[s->len] = 0;
        return len;
    }
    if ((int64_t)(s->len + len) > s->expect_size) {
        s->too_big = true;
        return 0;
    }
    image_hasher_update(s->hasher, data, len);
    for (size_t off = 0; off < len;) {
        ssize_t w = write(s->fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            s->write_errno = errno;
            return 0;
        }
        off += (size_t)w;
    }
    s->len += len;
    return len;
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    const int *cancel = arg;
    return cancel && __atomic_load_n(cancel, __ATOMIC_RELAXED) ? 1 : 0;
}

static void sink_reset(struct sink *s)
{
    free(s->buf);
    s->buf = NULL;
    s->len = 0;
    s->errlen = 0;
    s->errbody[0] = 0;
    s->too_big = false;
}

static void sink_clear(struct sink *s)
{
    free(s->buf);
    free(s->www_authenticate);
    free(s->content_digest);
    image_hasher_free(s->hasher);
}

/* Perform one GET; ret_code gets the HTTP status. Transport errors are
 * errors; any status is success here. */
static int perform(struct registry *r, const char *url, const char *accept, const char *userpwd, long timeout_ms,
                   struct sink *s, long *ret_code, bo_error_t *err)
{
    CURL *c = curl_easy_init();
    if (!c)
        return bo_error_set(err, BO_E_INTERNAL, "libcurl: cannot create a handle");
    s->curl = c;
    struct curl_slist *hdr = NULL;
    _cleanup_free_ char *accept_h = accept ? bo_xasprintf("Accept: %s", accept) : NULL;
    _cleanup_free_ char *auth_h = !userpwd && r->bearer ? bo_xasprintf("Authorization: Bearer %s", r->bearer) : NULL;
    if (accept_h)
        hdr = curl_slist_append(hdr, accept_h);
    if (auth_h)
        hdr = curl_slist_append(hdr, auth_h);
    char ebuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, r->o.connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (r->o.stall_timeout_ms + 999) / 1000);
    if (timeout_ms)
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    if (r->o.ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, r->o.ca_file);
    if (userpwd) {
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(c, CURLOPT_USERPWD, userpwd);
    }
    curl_easy_setopt(c, CURLOPT_USERAGENT, "borealis-image/0.1");
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, s);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
    if (r->o.cancel) {
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, (void *)r->o.cancel);
    }
    CURLcode rc = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(c);
    s->curl = NULL;
    if (auth_h)
        explicit_bzero(auth_h, strlen(auth_h));
    if (rc == CURLE_ABORTED_BY_CALLBACK)
        return bo_error_set(err, BO_E_INTERNAL, "GET %s: cancelled", url);
    if (rc == CURLE_WRITE_ERROR && s->too_big)
        return bo_error_set(err, BO_E_INVALID, "GET %s: the answer is larger than %s", url,
                            s->fd < 0 ? "allowed for a document" : "the size the manifest gives");
    if (rc == CURLE_WRITE_ERROR && s->write_errno)
        return bo_error_sys(err, s->write_errno, "GET %s: writing the blob", url);
    if (rc == CURLE_OPERATION_TIMEDOUT)
        return bo_error_set(err, BO_E_TIMEOUT, "registry %s did not answer in time: GET %s: %s", r->host, url,
                            ebuf[0] ? ebuf : curl_easy_strerror(rc));
    if (rc != CURLE_OK)
        return bo_error_set(err, BO_E_NETWORK, "registry %s unreachable: GET %s: %s", r->host, url,
                            ebuf[0] ? ebuf : curl_easy_strerror(rc));
    *ret_code = code;
    return 0;
}

static char *url_escape(const char *s)
{
    CURL *c = curl_easy_init();
    char *e = c ? curl_easy_escape(c, s, 0) : NULL;
    char *out = bo_xstrdup(e ? e : "");
    curl_free(e);
    if (c)
        curl_easy_cleanup(c);
    return out;
}

/* Answer a challenge: fetch a bearer token, or decide to send basic auth. */
static int authenticate(struct registry *r, const char *header, bool *ret_basic, bo_error_t *err)
{
    struct registry_challenge ch = {0};
    if (!header)
        return bo_error_set(err, BO_E_REFUSED, "registry %s refused access to %s (HTTP 401 without a challenge)",
                            r->host, r->repository);
    if (registry_parse_challenge(header, &ch, err) < 0)
        return bo_error_wrap(err, "registry %s", r->host);
    int ret = 0;
    if (strcmp(ch.scheme, "basic") == 0) {
        if (!r->userpwd)
            ret = bo_error_set(err, BO_E_REFUSED,
                               "registry %s asks for a user and password for %s, and none is configured for it",
                               r->host, r->repository);
        else
            *ret_basic = true;
    } else if (strcmp(ch.scheme, "bearer") == 0) {
        if (!ch.realm || (strncmp(ch.realm, "https://", 8) != 0 && strncmp(ch.realm, "http://", 7) != 0)) {
            ret = bo_error_set(err, BO_E_REFUSED, "registry %s: bearer challenge without an http(s) realm", r->host);
        } else {
            _cleanup_free_ char *svc = url_escape(ch.service ? ch.service : "");
            _cleanup_free_ char *defscope = bo_xasprintf("repository:%s:pull", r->repository);
            _cleanup_free_ char *scope = url_escape(ch.scope ? ch.scope : defscope);
            _cleanup_free_ char *url = bo_xasprintf("%s%sservice=%s&scope=%s", ch.realm,
                                                    strchr(ch.realm, '?') ? "&" : "?", svc, scope);
            struct sink s = {.fd = -1, .max = TOKEN_MAX};
            long code = 0;
            free(r->bearer);
            r->bearer = NULL;
            ret = perform(r, url, "application/json", r->userpwd, r->o.doc_timeout_ms, &s, &code, err);
            if (ret == 0 && (code == 401 || code == 403))
                ret = bo_error_set(err, BO_E_REFUSED, "registry %s: the token service refused %s (HTTP %ld)%s",
                                   r->host, r->repository, code,
                                   r->userpwd ? "" : "; no credentials are configured for this registry");
            else if (ret == 0 && code != 200)
                ret = bo_error_set(err, BO_E_API, "registry %s: token service answered HTTP %ld", r->host, code);
            if (ret == 0) {
                json_t *j = json_loadb(s.buf ? s.buf : "", s.len, 0, NULL);
                const char *t = json_string_value(json_object_get(j, "token"));
                if (!t)
                    t = json_string_value(json_object_get(j, "access_token"));
                if (!t || !*t || strlen(t) > 16384 || strpbrk(t, "\r\n"))
                    ret = bo_error_set(err, BO_E_API, "registry %s: the token service answered no usable token",
                                       r->host);
                else
                    r->bearer = bo_xstrdup(t);
                json_decref(j);
            }
            if (s.buf)
                explicit_bzero(s.buf, s.len);
            sink_clear(&s);
        }
    } else {
        ret = bo_error_set(err, BO_E_REFUSED, "registry %s asks for unsupported auth scheme `%.20s`", r->host,
                           ch.scheme);
    }
    registry_challenge_clear(&ch);
    return ret;
}

/* GET with one round of authentication on a 401. */
static int get(struct registry *r, const char *url, const char *accept, long timeout_ms, struct sink *s,
               long *ret_code, bo_error_t *err)
{
    bool basic = false;
    for (int round = 0;; round++) {
        long code = 0;
        if (perform(r, url, accept, basic ? r->userpwd : NULL, timeout_ms, s, &code, err) < 0)
            return -1;
        if (code != 401 || round == 1) {
            if (code == 401 || code == 403)
                return bo_error_set(err, BO_E_REFUSED, "registry %s refused access to %s (HTTP %ld)%s", r->host,
                                    r->repository, code, r->userpwd ? "" : "; no credentials are configured for it");
            *ret_code = code;
            return 0;
        }
        _cleanup_free_ char *challenge = s->www_authenticate ? bo_xstrdup(s->www_authenticate) : NULL;
        if (authenticate(r, challenge, &basic, err) < 0)
            return -1;
        sink_reset(s);
        if (s->fd >= 0 && (ftruncate(s->fd, 0) < 0 || lseek(s->fd, 0, SEEK_SET) < 0))
            return bo_error_sys(err, errno, "truncate the blob being fetched");
    }
}

static int status_error(struct registry *r, const char *what, const char *ref, long code, const struct sink *s,
                        bo_error_t *err)
{
    if (code == 404)
        return bo_error_set(err, BO_E_NOTFOUND, "registry %s has no %s %s in %s", r->host, what, ref, r->repository);
    return bo_error_set(err, BO_E_API, "registry %s answered HTTP %ld for %s %s of %s%s%.200s", r->host, code, what,
                        ref, r->repository, s->errlen ? ": " : "", s->errbody);
}

int registry_get_manifest(struct registry *r, const char *reference, char **ret_body, size_t *ret_len,
                          char ret_digest[IMAGE_DIGEST_LEN + 1], bo_error_t *err)
{
    _cleanup_free_ char *url = bo_xasprintf("%s/manifests/%s", r->base, reference);
    struct sink s = {.fd = -1, .max = IMAGE_DOC_MAX};
    long code = 0;
    int ret = get(r, url, IMAGE_MANIFEST_ACCEPT, r->o.doc_timeout_ms, &s, &code, err);
    if (ret == 0 && code != 200)
        ret = status_error(r, image_digest_valid(reference) ? "manifest" : "tag", reference, code, &s, err);
    char dg[IMAGE_DIGEST_LEN + 1];
    if (ret == 0) {
        image_digest_buf(s.buf ? s.buf : "", s.len, dg);
        if (image_digest_valid(reference) && strcmp(reference, dg) != 0)
            ret = bo_error_set(err, BO_E_INVALID, "digest mismatch: manifest %s of %s/%s has digest %s", reference,
                               r->host, r->repository, dg);
        else if (s.content_digest && image_digest_valid(s.content_digest) && strcmp(s.content_digest, dg) != 0)
            ret = bo_error_set(err, BO_E_INVALID,
                               "digest mismatch: registry %s says manifest %s of %s is %s, its bytes are %s", r->host,
                               reference, r->repository, s.content_digest, dg);
    }
    if (ret == 0) {
        *ret_body = s.buf ? BO_STEAL(s.buf) : bo_xstrdup("");
        *ret_len = s.len;
        memcpy(ret_digest, dg, sizeof(dg));
    }
    sink_clear(&s);
    return ret;
}

int registry_get_blob(struct registry *r, const char *digest, int64_t size, int fd, bo_error_t *err)
{
    if (!image_digest_valid(digest))
        return bo_error_set(err, BO_E_INVALID, "blob digest `%.80s` is not a sha256 digest", digest);
    _cleanup_free_ char *url = bo_xasprintf("%s/blobs/%s", r->base, digest);
    struct sink s = {.fd = fd, .hasher = image_hasher_new(), .expect_size = size};
    long code = 0;
    int ret = get(r, url, NULL, 0, &s, &code, err);
    if (ret == 0 && code != 200)
        ret = status_error(r, "blob", digest, code, &s, err);
    if (ret == 0 && (int64_t)s.len != size)
        ret = bo_error_set(err, BO_E_INVALID, "blob %s of %s/%s: %zu bytes received, the manifest says %lld", digest,
                           r->host, r->repository, s.len, (long long)size);
    if (ret == 0) {
        char dg[IMAGE_DIGEST_LEN + 1];
        image_hasher_finish(s.hasher, dg);
        s.hasher = NULL;
        if (strcmp(dg, digest) != 0)
            ret = bo_error_set(err, BO_E_INVALID, "digest mismatch: blob %s of %s/%s has digest %s (rejected)",
                               digest, r->host, r->repository, dg);
    }
    s.buf = NULL;
    sink_clear(&s);
    return ret;
}
