/* fuzz_sync_answer.c - libFuzzer target for the agent's parser of the
 * scheduler's sync answer (sync_answer_parse in src/agent/sync.c), loaded
 * as request_done loads it. Every valid launch item is then rendered as the
 * agent renders it for task.json (runtime templates with the item's ports),
 * and every id it would use as a path component must be a plain name (an
 * invalid item keeps its id only to report the refusal against it). */
#include <stdint.h>
#include <string.h>

#include "agent/sandbox.h"
#include "agent/sync.h"
#include "model/template.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t jerr;
    json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
    if (!j)
        return 0;
    struct sync_answer a;
    bo_error_t err = NULL;
    if (sync_answer_parse(j, &a, &err) == 0) {
        for (size_t i = 0; i < a.n_launch; i++) {
            const struct sync_launch *l = &a.launch[i];
            if (l->error) {
                if (!l->error->msg || !*l->error->msg)
                    __builtin_trap();
                continue;
            }
            if (!l->task_id || !l->job || !json_is_object(l->ports) || l->task.n_processes == 0)
                __builtin_trap();
            if (strchr(l->task_id, '/') || strcmp(l->task_id, "..") == 0)
                __builtin_trap();
            struct template_runtime rt = {
                .instance = l->instance, .hostname = "host", .task_id = l->task_id, .ports = l->ports};
            for (size_t k = 0; k < l->task.n_processes; k++) {
                char *s = NULL;
                bo_error_t e = NULL;
                if (template_expand_runtime(l->task.processes[k].cmdline, &rt, &s, &e) == 0)
                    free(s);
                bo_error_free(e);
            }
        }
        for (size_t i = 0; i < a.n_kill; i++) {
            const struct sync_kill *k = &a.kill[i];
            if (!k->error && (!k->task_id || k->grace_ms < 0 || k->grace_ms > 600000))
                __builtin_trap();
        }
        for (size_t i = 0; i < a.n_acks; i++)
            if (a.acks[i] < 1)
                __builtin_trap();
        for (size_t i = 0; i < a.n_rejected; i++)
            if (a.rejected[i].seq < 1 || !a.rejected[i].reason)
                __builtin_trap();
        sync_answer_clear(&a);
    } else if (!err || !err->msg || !*err->msg) {
        __builtin_trap();
    }
    bo_error_free(err);
    json_decref(j);
    return 0;
}
