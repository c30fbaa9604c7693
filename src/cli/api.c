/* api.c - scheduler API calls for the CLI, with error mapping. */
#include "cli/api.h"

#include <string.h>

#include "net/http_client.h"

static enum bo_errkind kind_of(long status, const char *code)
{
    switch (status) {
    case 400:
        return BO_E_INVALID;
    case 401:
    case 403:
        return BO_E_AUTH;
    case 404:
        return BO_E_NOTFOUND;
    case 409:
        return code && strcmp(code, "REFUSED") == 0 ? BO_E_REFUSED : BO_E_EXISTS;
    default:
        return BO_E_API;
    }
}

int api_call(const struct cli_ctx *ctx, const char *method, const char *path, json_t *body,
             json_t **ret_body, bo_error_t *err)
{
    return api_call_timeout(ctx, method, path, body, 0, ret_body, err);
}

int api_transport_error(const struct cli_ctx *ctx, const struct bo_error_s *e, bo_error_t *err)
{
    if (e->kind == BO_E_TLS)
        return bo_error_set(err, BO_E_TLS, "%s; set $BOREALIS_CA to the scheduler's CA file (DATA/tls/ca.pem)",
                            e->msg);
    if (e->kind == BO_E_TIMEOUT)
        return bo_error_set(err, BO_E_TIMEOUT, "the scheduler at %s did not answer in time (%s)", ctx->scheduler,
                            e->msg);
    return bo_error_set(err, BO_E_NETWORK,
                        "%s; is the scheduler running? Choose it with --scheduler URL or $" CLI_SCHEDULER_ENV
                        " (now %s)",
                        e->msg, ctx->scheduler);
}

int api_call_timeout(const struct cli_ctx *ctx, const char *method, const char *path, json_t *body,
                     long timeout_ms, json_t **ret_body, bo_error_t *err)
{
    _cleanup_free_ char *url = bo_xasprintf("%s%s", ctx->scheduler, path);
    _cleanup_error_ bo_error_t e = NULL;
    struct http_response r;
    if (http_request(method, url, body, timeout_ms, ctx->token, &r, &e) < 0)
        return api_transport_error(ctx, e, err);
    int ret = 0;
    if (r.status < 200 || r.status > 299) {
        const char *msg = json_string_value(json_object_get(r.body, "error"));
        const char *code = json_string_value(json_object_get(r.body, "code"));
        if (r.status == 401 && !ctx->token)
            ret = bo_error_set(err, BO_E_AUTH, "the scheduler requires a token and none was found: %s",
                               CLI_CREDENTIALS_HINT);
        else if (msg)
            ret = bo_error_set(err, kind_of(r.status, code), "%s", msg);
        else
            ret = bo_error_set(err, kind_of(r.status, code), "%s %s: the scheduler answered HTTP %ld",
                               method, path, r.status);
    } else if (!r.body && ret_body) {
        ret = bo_error_set(err, BO_E_API, "%s %s: the scheduler's answer is not JSON", method,
                           path);
    } else if (ret_body && !json_is_object(r.body)) {
        /* Every answer of the API is an object (docs/api.md). */
        ret = bo_error_set(err, BO_E_API, "%s %s: the scheduler's answer is not a JSON object",
                           method, path);
    } else if (ret_body) {
        *ret_body = json_incref(r.body);
    }
    http_response_clear(&r);
    return ret;
}

static const char *type_name(json_type type)
{
    switch (type) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "a list";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    default:
        return "a value";
    }
}

int api_expect(json_t *body, const char *method, const char *path, const char *field, json_type type,
               bo_error_t *err)
{
    json_t *v = json_object_get(body, field);
    if (v && json_typeof(v) == type)
        return 0;
    return bo_error_set(err, BO_E_API, "%s %s: the scheduler's answer has no `%s` (%s)", method, path,
                        field, type_name(type));
}

char *api_escape(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = bo_xmalloc(strlen(s) * 3 + 1), *o = out;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            strchr("-_.~", *p)) {
            *o++ = (char)*p;
        } else {
            *o++ = '%';
            *o++ = hex[*p >> 4];
            *o++ = hex[*p & 15];
        }
    }
    *o = '\0';
    return out;
}

int api_get_all(const struct cli_ctx *ctx, const char *path, const char *field, json_t **ret_body, bo_error_t *err)
{
    json_t *all = NULL;
    _cleanup_free_ char *next = NULL;
    for (int page = 0; page < API_PAGES_MAX; page++) {
        _cleanup_free_ char *after = next ? api_escape(next) : NULL;
        _cleanup_free_ char *url =
            after ? bo_xasprintf("%s%safter=%s", path, strchr(path, '?') ? "&" : "?", after) : bo_xstrdup(path);
        json_t *answer = NULL;
        if (api_call(ctx, "GET", url, NULL, &answer, err) < 0 ||
            api_expect(answer, "GET", path, field, JSON_ARRAY, err) < 0) {
            json_decref(answer);
            json_decref(all);
            return -1;
        }
        const char *n = json_string_value(json_object_get(answer, "next"));
        free(next);
        next = n ? bo_xstrdup(n) : NULL;
        if (!all)
            all = answer;
        else {
            json_array_extend(json_object_get(all, field), json_object_get(answer, field));
            json_decref(answer);
        }
        if (!next) {
            json_object_del(all, "next");
            *ret_body = all;
            return 0;
        }
    }
    json_decref(all);
    return bo_error_set(err, BO_E_API, "GET %s: more than %d pages", path, API_PAGES_MAX);
}
