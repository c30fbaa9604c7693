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
                strcmp(p->name, "..") == 0 || !p->argv || !p->argv[0] || !*p->argv[0] || p->state != PROC_WAITING)
                __builtin_trap();
        }
        if (strchr(s.task_id, '/'))
            __builtin_trap();
        const struct shutdown_spec *sd = &s.shutdown;
        if (sd->port) {
            if (sd->port < 1 || sd->port > 65535 || sd->graceful_wait_ms < 0 ||
                sd->graceful_wait_ms > SPEC_MAX_SHUTDOWN_WAIT_MS || sd->abort_wait_ms < 0 ||
                sd->abort_wait_ms > SPEC_MAX_SHUTDOWN_WAIT_MS || sd->graceful_path[0] != '/' || sd->abort_path[0] != '/')
                __builtin_trap();
            for (const char *c = sd->graceful_path; *c; c++)
                if (*c <= ' ' || *c > '~')
                    __builtin_trap();
        }
        /* A health check is within its bounds; the HTTP path can go into
         * a request line as it is, the snooze file stays in the sandbox. */
        const struct health_spec *h = &s.health;
        if (h->kind != HEALTH_NONE) {
            if (h->interval_ms < 100 || h->timeout_ms < 10 || h->min_successes < 1 || h->max_failures < 0 ||
                !h->snooze_file || h->snooze_file[0] == '/' || strstr(h->snooze_file, ".."))
                __builtin_trap();
            if (h->kind == HEALTH_SHELL && (!h->command || !*h->command))
                __builtin_trap();
            if (h->kind != HEALTH_SHELL && (h->port < 1 || h->port > 65535))
                __builtin_trap();
            if (h->kind == HEALTH_HTTP) {
                if (h->path[0] != '/' || !h->expected_body || h->expected_status < 100 || h->expected_status > 599)
                    __builtin_trap();
                for (const char *c = h->path; *c; c++)
                    if (*c <= ' ' || *c > '~')
                        __builtin_trap();
            }
        }
        spec_clear(&s);
    } else if (!err || !err->msg || !*err->msg) {
        __builtin_trap(); /* every failure explains itself */
    }
    bo_error_free(err);
    return 0;
}
