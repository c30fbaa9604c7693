/* fuzz_sandbox_status.c - libFuzzer target for the agent's reader of
 * SANDBOX/.borealis/status.json (src/agent/sandbox.c). The executor writes
 * it, but a task's processes can write their sandbox: the content is
 * attacker-controlled. A parsed status is turned into the update's
 * "processes" array the agent sends the scheduler, as tasks.c does. */
#include <stdint.h>
#include <string.h>

#include "agent/sandbox.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sandbox_status s;
    bo_error_t err = NULL;
    if (sandbox_parse_status("status.json", (const char *)data, size, "web-devel-hello-0-x", &s, &err) == 0) {
        if (!s.state || !s.message || s.n_processes > 64)
            __builtin_trap();
        /* The message is journaled and sent in every resend of the update:
         * bounded, and still valid UTF-8 after any cut. */
        json_t *m = json_string(s.message);
        if (!m || strlen(s.message) > 1024)
            __builtin_trap();
        json_decref(m);
        json_t *procs = sandbox_status_processes_json(&s);
        if (!procs || json_array_size(procs) != s.n_processes)
            __builtin_trap(); /* json_pack failed on some field */
        char *text = json_dumps(procs, JSON_COMPACT);
        if (!text)
            __builtin_trap();
        free(text);
        json_decref(procs);
        sandbox_status_clear(&s);
    } else if (!err || !err->msg || !*err->msg) {
        __builtin_trap();
    }
    bo_error_free(err);
    return 0;
}
