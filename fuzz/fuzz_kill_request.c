/* fuzz_kill_request.c - libFuzzer target for the body of a job kill request
 * (kill_request_parse in src/scheduler/kill_request.c, used by the API's
 * h_job_kill). The first byte picks the job's instance count (0..255); the
 * rest is the body, loaded as http_body_json loads it. Every instance the
 * parser returns must index the job's current tasks. */
#include <stdint.h>
#include <string.h>

#include "scheduler/kill_request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int64_t n_instances = data[0];
    json_t *body = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES, NULL);
    if (!body)
        return 0;
    int64_t *inst = NULL;
    size_t n = 0;
    bo_error_t err = NULL;
    if (kill_request_parse(body, "local/r/devel/web", n_instances, &inst, &n, &err) == 0) {
        for (size_t i = 0; i < n; i++)
            if (inst[i] < 0 || inst[i] >= n_instances)
                __builtin_trap();
        free(inst);
    } else if (!err || !err->msg || !*err->msg) {
        __builtin_trap();
    }
    bo_error_free(err);
    json_decref(body);
    return 0;
}
