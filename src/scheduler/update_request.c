/* update_request.c - validation of the update routes' bodies. */
#include "scheduler/update_request.h"

#include <string.h>

#include "scheduler/update.h"

/* A message or request id: a string of valid UTF-8 without control
 * bytes, within `max` bytes (it is stored, logged and shown). */
static int get_text(json_t *v, const char *field, size_t max, bool id, const char **ret, bo_error_t *err)
{
    if (!json_is_string(v))
        return bo_error_set(err, BO_E_INVALID, "update request: `%s` must be a string", field);
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (n > max)
        return bo_error_set(err, BO_E_INVALID, "update request: `%s` is longer than %zu bytes", field, max);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        bool ok = id ? (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
                           c == '_' || c == '.'
                     : c >= 0x20 && c != 0x7f;
        if (!ok)
            return bo_error_set(err, BO_E_INVALID, "update request: `%s` has a %s at offset %zu", field,
                                id ? "byte outside [A-Za-z0-9_.-]" : "control byte", i);
    }
    *ret = s;
    return 0;
}

int update_request_parse(json_t *body, const char *job_key, bool start, struct update_request *ret,
                         bo_error_t *err)
{
    struct update_request r = {0};
    if (!json_is_object(body))
        return bo_error_set(err, BO_E_INVALID, "update request must be a JSON object");
    const char *field;
    json_t *v;
    json_object_foreach(body, field, v)
    {
        if (strcmp(field, "message") == 0) {
            if (get_text(v, field, UPDATE_MESSAGE_MAX, false, &r.message, err) < 0)
                goto fail;
        } else if (start && strcmp(field, "request_id") == 0) {
            if (get_text(v, field, UPDATE_REQUEST_ID_MAX, true, &r.request_id, err) < 0)
                goto fail;
        } else if (start && strcmp(field, "dry_run") == 0) {
            if (!json_is_boolean(v)) {
                bo_error_set(err, BO_E_INVALID, "update request: `dry_run` must be true or false");
                goto fail;
            }
            r.dry_run = json_is_true(v);
        } else if (!(start && strcmp(field, "config") == 0)) {
            bo_error_set(err, BO_E_INVALID, "unknown field `%.64s` in update request%s", field,
                         start ? " (config, message, request_id, dry_run)" : " (message)");
            goto fail;
        }
    }
    if (start) {
        json_t *c = json_object_get(body, "config");
        if (!c) {
            bo_error_set(err, BO_E_INVALID, "update request: `config` (the new job config) is missing");
            goto fail;
        }
        _cleanup_error_ bo_error_t cerr = NULL;
        if (job_config_from_json(c, &r.config, &cerr) < 0) {
            bo_error_set(err, BO_E_INVALID, "update request: config: %s", cerr->msg);
            goto fail;
        }
        _cleanup_free_ char *key = job_key_str(&r.config->key);
        if (strcmp(key, job_key) != 0) {
            bo_error_set(err, BO_E_INVALID, "update request: the config is for job %s, not %s", key, job_key);
            goto fail;
        }
    }
    *ret = r;
    return 0;
fail:
    update_request_clear(&r);
    return -1;
}

void update_request_clear(struct update_request *r)
{
    job_config_unref(r->config);
    r->config = NULL;
}
