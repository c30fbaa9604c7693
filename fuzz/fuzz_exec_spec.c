/* fuzz_exec_spec.c - libFuzzer target for the executor's reader of
 * SANDBOX/.borealis/task.json (src/executor/spec.c). The agent writes that
 * file, but the sandbox is writable by the task, so the content is
 * untrusted. A parsed spec must hold what spec.h promises. */
#include <stdint.h>
#include <string.h>

#include "executor/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct exec_spec s;
    bo_error_t err = NULL;
    if (spec_parse("task.json", (const char *)data, size, &s, &err) == 0) {
        if (!s.task_id || s.n_procs < 1 || s.n_procs > SPEC_MAX_PROCESSES || s.kill_grace_ms < 0 ||
            s.kill_grace_ms > SPEC_MAX_GRACE_MS)
            __builtin_trap();
        for (size_t i = 0; i < s.n_procs; i++) {
            const struct proc *p = &s.procs[i];
            size_t n = strlen(p->name);
            /* names become .logs/NAME: never empty, ".", ".." or with a '/' */
            if (n == 0 || n > SPEC_MAX_NAME || strchr(p->name, '/') || strcmp(p->name, ".") == 0 ||
                strcmp(p->name, "..") == 0 || !*p->cmdline || p->state != PROC_WAITING)
                __builtin_trap();
        }
        if (strchr(s.task_id, '/'))
            __builtin_trap();
        spec_clear(&s);
    } else if (!err || !err->msg || !*err->msg) {
        __builtin_trap(); /* every failure explains itself */
    }
    bo_error_free(err);
    return 0;
}
