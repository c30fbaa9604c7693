/* fuzz_task_read_reply.c - libFuzzer target for the scheduler's parser of
 * an agent's reply to a task read (task_read_reply_parse in
 * src/scheduler/task_read.c): what it passes on to the user is an object,
 * with a status it knows. */
#include <stdint.h>

#include "scheduler/task_read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t jerr;
    json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
    if (!j)
        return 0;
    struct task_read_reply r;
    bo_error_t err = NULL;
    if (task_read_reply_parse(j, &r, &err) == 0) {
        if (!json_is_object(r.answer) || r.id < 1 || !r.agent_id ||
            (r.status != 200 && r.status != 400 && r.status != 404 && r.status != 409 && r.status != 502))
            __builtin_trap();
        if (r.status != 200 && !json_string_value(json_object_get(r.answer, "error")))
            __builtin_trap();
        json_decref(r.answer);
    } else if (!err || !err->msg || !*err->msg) {
        __builtin_trap();
    }
    bo_error_free(err);
    json_decref(j);
    return 0;
}
