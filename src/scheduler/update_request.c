/* update_request.c - validation of the update and restart routes' bodies. */
#include "scheduler/update_request.h"

#include <stddef.h>
#include <string.h>

#include "scheduler/update.h"

/* A message or request id: a string without control bytes (ids: only
 * [A-Za-z0-9_.-]), within `max` bytes (it is stored, logged and shown). */
static int get_text(json_t *v, const char *field, size_t max, bool id, const char **ret, bo_error_t *err)
{
    if (!json_is_string(v))
        return bo_error_set(err, BO_E_INVALID, "update request: `%s` must be a string", field);
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (n > max || (id && n == 0))
        return bo_error_set(err, BO_E_INVALID, "update request: `%s` must be 1 to %zu bytes", field, max);
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

static int get_instances(json_t *v, struct update_request *r, bo_error_t *err)
{
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > JOB_MAX_INSTANCES)
        return bo_error_set(err, BO_E_INVALID, "update request: `instances` must be a list of 1 to %d instance "
                            "numbers", JOB_MAX_INSTANCES);
    r->instances = bo_xcalloc(json_array_size(v), sizeof(*r->instances));
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x)
    {
        json_int_t k = json_is_integer(x) ? json_integer_value(x) : -1;
        if (k < 0 || k >= JOB_MAX_INSTANCES)
            return bo_error_set(err, BO_E_INVALID, "update request: instances[%zu] is not an instance number "
                                "(0-%d)", i, JOB_MAX_INSTANCES - 1);
        if (i > 0 && k <= r->instances[i - 1])
            return bo_error_set(err, BO_E_INVALID, "update request: instances[%zu] (%lld) is not above the one "
                                "before: list them in increasing order, once each", i, (long long)k);
        r->instances[r->n_instances++] = k;
    }
    return 0;
}

/* The restart settings, with the bounds of the job file's `update:`. */
static const struct {
    const char *name;
    size_t offset;
    int64_t min, max;
} restart_fields[] = {
    {"batch_size", offsetof(struct update_request_settings, batch_size), 1, JOB_MAX_INSTANCES},
    {"watch_secs", offsetof(struct update_request_settings, watch_secs), 0, 86400},
    {"max_per_instance_failures", offsetof(struct update_request_settings, max_per_instance_failures), 0, 1000},
    {"max_total_failures", offsetof(struct update_request_settings, max_total_failures), 0, JOB_MAX_INSTANCES},
};

static int get_setting(const char *field, json_t *v, struct update_request *r, bool *ret_known, bo_error_t *err)
{
    *ret_known = false;
    for (size_t i = 0; i < BO_ARRAY_SIZE(restart_fields); i++) {
        if (strcmp(field, restart_fields[i].name) != 0)
            continue;
        *ret_known = true;
        json_int_t x = json_is_integer(v) ? json_integer_value(v) : -1;
        if (x < restart_fields[i].min || x > restart_fields[i].max)
            return bo_error_set(err, BO_E_INVALID, "restart request: `%s` must be an integer within %lld-%lld",
                                field, (long long)restart_fields[i].min, (long long)restart_fields[i].max);
        *(int64_t *)((char *)&r->settings + restart_fields[i].offset) = x;
    }
    return 0;
}

/* add's `instance` and `count`. */
static int get_number(json_t *v, const char *field, int64_t min, int64_t max, int64_t *ret, bo_error_t *err)
{
    json_int_t x = json_is_integer(v) ? json_integer_value(v) : -1;
    if (x < min || x > max)
        return bo_error_set(err, BO_E_INVALID, "add request: `%s` must be an integer within %lld-%lld", field,
                            (long long)min, (long long)max);
    *ret = x;
    return 0;
}

static const char *const allowed[UPDATE_REQ_KIND_COUNT] = {
    [UPDATE_REQ_START] = "config, message, request_id, dry_run, instances",
    [UPDATE_REQ_COMMAND] = "message",
    [UPDATE_REQ_RESTART] = "instances, batch_size, watch_secs, max_per_instance_failures, max_total_failures, message",
    [UPDATE_REQ_JOB_START] = "instances, message, request_id, dry_run",
    [UPDATE_REQ_JOB_ADD] = "instance, count, message, request_id, dry_run",
};

static const char *const kind_name[UPDATE_REQ_KIND_COUNT] = {
    [UPDATE_REQ_START] = "update", [UPDATE_REQ_COMMAND] = "update", [UPDATE_REQ_RESTART] = "restart",
    [UPDATE_REQ_JOB_START] = "start", [UPDATE_REQ_JOB_ADD] = "add",
};

int update_request_parse(json_t *body, const char *job_key, enum update_request_kind kind, struct update_request *ret,
                         bo_error_t *err)
{
    struct update_request r = {.settings = {-1, -1, -1, -1}, .instance = -1, .count = -1};
    if ((unsigned)kind >= UPDATE_REQ_KIND_COUNT)
        return bo_error_set(err, BO_E_INVALID, "unknown update request kind %d", (int)kind);
    bool start = kind == UPDATE_REQ_START;
    bool add = kind == UPDATE_REQ_JOB_ADD;
    /* The routes that start an update: retried and previewed the same way. */
    bool starts = start || add || kind == UPDATE_REQ_JOB_START;
    if (!json_is_object(body))
        return bo_error_set(err, BO_E_INVALID, "update request must be a JSON object");
    const char *field;
    json_t *v;
    json_object_foreach(body, field, v)
    {
        bool known = false;
        int rc = 0;
        if (strcmp(field, "message") == 0) {
            known = true;
            rc = get_text(v, field, UPDATE_MESSAGE_MAX, false, &r.message, err);
        } else if (starts && strcmp(field, "request_id") == 0) {
            known = true;
            rc = get_text(v, field, UPDATE_REQUEST_ID_MAX, true, &r.request_id, err);
        } else if (starts && strcmp(field, "dry_run") == 0) {
            known = true;
            if (!json_is_boolean(v))
                rc = bo_error_set(err, BO_E_INVALID, "update request: `dry_run` must be true or false");
            r.dry_run = json_is_true(v);
        } else if (start && strcmp(field, "config") == 0) {
            known = true;
        } else if (add && strcmp(field, "instance") == 0) {
            known = true;
            rc = get_number(v, field, 0, JOB_MAX_INSTANCES - 1, &r.instance, err);
        } else if (add && strcmp(field, "count") == 0) {
            known = true;
            rc = get_number(v, field, 1, JOB_MAX_INSTANCES, &r.count, err);
        } else if ((start || kind == UPDATE_REQ_RESTART || kind == UPDATE_REQ_JOB_START) &&
                   strcmp(field, "instances") == 0) {
            known = true;
            rc = get_instances(v, &r, err);
        } else if (kind == UPDATE_REQ_RESTART) {
            rc = get_setting(field, v, &r, &known, err);
        }
        if (rc == 0 && !known)
            rc = bo_error_set(err, BO_E_INVALID, "unknown field `%.64s` in %s request (%s)", field, kind_name[kind],
                              allowed[kind]);
        if (rc < 0)
            goto fail;
    }
    if (add && (r.instance < 0 || r.count < 0)) {
        bo_error_set(err, BO_E_INVALID, "add request: `%s` is missing", r.instance < 0 ? "instance" : "count");
        goto fail;
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
    free(r->instances);
    r->instances = NULL;
    r->n_instances = 0;
}
