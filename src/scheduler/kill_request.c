/* kill_request.c - validation of a job kill request body. */
#include "scheduler/kill_request.h"

#include <string.h>

int kill_request_parse(json_t *body, const char *job_key, int64_t n_instances, int64_t **ret_instances,
                       size_t *ret_n, bo_error_t *err)
{
    if (!json_is_object(body))
        return bo_error_set(err, BO_E_INVALID, "kill request must be a JSON object");
    const char *field;
    json_t *v;
    json_object_foreach(body, field, v)
    {
        if (strcmp(field, "instances") != 0)
            return bo_error_set(err, BO_E_INVALID, "unknown field `%s` in kill request", field);
    }
    json_t *inst = json_object_get(body, "instances");
    if (inst && !json_is_array(inst))
        return bo_error_set(err, BO_E_INVALID, "instances must be an array of instance numbers");
    size_t i;
    json_array_foreach(inst, i, v)
    {
        if (!json_is_integer(v)) {
            _cleanup_free_ char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
            return bo_error_set(err, BO_E_INVALID, "instances: %.64s is not an instance number",
                                text ? text : "?");
        }
        json_int_t k = json_integer_value(v);
        if (k < 0 || k >= n_instances) {
            _cleanup_free_ char *has = n_instances == 0   ? bo_xstrdup("it has none")
                                       : n_instances == 1 ? bo_xstrdup("its only instance is 0")
                                                          : bo_xasprintf("its instances are 0-%lld",
                                                                         (long long)n_instances - 1);
            return bo_error_set(err, BO_E_INVALID, "job %s has no instance %lld (%s)", job_key, (long long)k, has);
        }
    }
    size_t n = inst ? json_array_size(inst) : (size_t)(n_instances > 0 ? n_instances : 0);
    int64_t *out = bo_xcalloc(n + 1, sizeof(*out));
    for (i = 0; i < n; i++)
        out[i] = inst ? json_integer_value(json_array_get(inst, i)) : (int64_t)i;
    *ret_instances = out;
    *ret_n = n;
    return 0;
}
