/* fuzz_job_json.c - libFuzzer target for the strict job JSON decoder
 * (what the scheduler's API accepts) and the runtime template expansion
 * the agent performs on the decoded cmdlines, and the allowlist check of
 * its host mounts. */
#include <stdint.h>
#include <string.h>

#include "model/job.h"
#include "model/template.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (!j)
        return 0;
    struct job_config *c = NULL;
    bo_error_t err = NULL;
    if (job_config_from_json(j, &c, &err) == 0) {
        /* The scheduler's allowlist check of the host mounts. */
        static char *const allow[] = {"/srv", "/data/shared"};
        bo_error_t merr = NULL;
        if (job_config_check_mounts_allowed(c, allow, 2, &merr) < 0)
            bo_error_free(merr);
        json_t *out = job_config_to_json(c);
        struct job_config *c2 = NULL;
        if (job_config_from_json(out, &c2, NULL) < 0)
            __builtin_trap();
        json_t *out2 = job_config_to_json(c2);
        if (!json_equal(out, out2))
            __builtin_trap();
        json_t *ports = json_object();
        for (size_t i = 0; i < c->task.n_ports; i++)
            json_object_set_new(ports, c->task.ports[i], json_integer(31000 + (json_int_t)i));
        struct template_runtime rt = {.instance = 7, .hostname = "host", .task_id = "id", .ports = ports};
        for (size_t i = 0; i < c->task.n_processes; i++) {
            char *s = NULL;
            /* every port a cmdline names was requested, so this cannot fail */
            if (template_expand_runtime(c->task.processes[i].cmdline, &rt, &s, NULL) < 0)
                __builtin_trap();
            free(s);
        }
        json_decref(ports);
        json_decref(out2);
        json_decref(out);
        job_config_unref(c2);
        job_config_unref(c);
    } else if (!err || !err->msg || !*err->msg) {
        __builtin_trap();
    }
    bo_error_free(err);
    json_decref(j);
    return 0;
}
