/* fuzz_update_request.c - libFuzzer target for the bodies of the update
 * routes (update_request_parse in src/scheduler/update_request.c, used by
 * api_update.c). The first byte picks the route (modulo 3: start, with a
 * job config; pause/resume/abort/rollback; restart); the rest is the
 * body, loaded as http_body_json loads it. A parse either fails with a
 * message, or gives strings within their limits, increasing instances
 * and, for a start, a config of the route's job. */
#include <stdint.h>
#include <string.h>

#include "scheduler/update.h"
#include "scheduler/update_request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    enum update_request_kind kind = (enum update_request_kind)(data[0] % UPDATE_REQ_KIND_COUNT);
    bool start = kind == UPDATE_REQ_START;
    bool add = kind == UPDATE_REQ_JOB_ADD;
    bool starts = start || add || kind == UPDATE_REQ_JOB_START;
    json_t *body = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES, NULL);
    if (!body)
        return 0;
    struct update_request r = {0};
    bo_error_t err = NULL;
    if (update_request_parse(body, "local/www-data/prod/web", kind, &r, &err) == 0) {
        for (size_t i = 0; i < r.n_instances; i++)
            if (r.instances[i] < 0 || r.instances[i] >= JOB_MAX_INSTANCES || (i && r.instances[i] <= r.instances[i - 1]))
                __builtin_trap();
        if (kind != UPDATE_REQ_RESTART && r.settings.batch_size != -1)
            __builtin_trap();
        if (r.message && strlen(r.message) > UPDATE_MESSAGE_MAX)
            __builtin_trap();
        if (r.request_id && (!starts || strlen(r.request_id) > UPDATE_REQUEST_ID_MAX))
            __builtin_trap();
        if (start != (r.config != NULL))
            __builtin_trap();
        /* add: both numbers given and in range; nobody else has them. */
        if (add ? r.instance < 0 || r.instance >= JOB_MAX_INSTANCES || r.count < 1 || r.count > JOB_MAX_INSTANCES
                : r.instance != -1 || r.count != -1)
            __builtin_trap();
        if (add && r.n_instances)
            __builtin_trap();
        if (r.config) {
            char *key = job_key_str(&r.config->key);
            if (strcmp(key, "local/www-data/prod/web") != 0)
                __builtin_trap();
            free(key);
        }
        update_request_clear(&r);
    } else if (!err || !err->msg || !*err->msg) {
        __builtin_trap();
    }
    bo_error_free(err);
    json_decref(body);
    return 0;
}
