/* spec.h - the task the agent hands the executor: strict parsing of
 * .borealis/task.json (docs/protocol.md section 4). */
#ifndef BO_EXECUTOR_SPEC_H
#define BO_EXECUTOR_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "executor/probe.h"
#include "executor/process.h"
#include "model/task_id.h" /* TASK_ID_MAX only: a constant, nothing to link */

#define SPEC_MAX_BYTES (1 << 20)
#define SPEC_MAX_PROCESSES 64
#define SPEC_MAX_NAME 64
#define SPEC_MAX_TASK_ID TASK_ID_MAX /* the limit the scheduler and agent share */
#define SPEC_MAX_CMDLINE (64 * 1024)
#define SPEC_MAX_ARGS 4096
#define SPEC_MAX_ARGV_BYTES (512 * 1024)
#define SPEC_MAX_CWD 4096
#define SPEC_MAX_GRACE_MS 600000
#define SPEC_DEFAULT_GRACE_MS 5000
#define SPEC_MAX_FINALIZATION_WAIT_MS 600000
#define SPEC_DEFAULT_FINALIZATION_WAIT_MS 30000
#define SPEC_MAX_MIN_DURATION_MS 86400000
#define SPEC_MAX_PROCESS_FAILURES 1000

/* Graceful shutdown over HTTP (task.json "shutdown"): port 0 = none, a
 * kill goes straight to SIGTERM. */
struct shutdown_spec {
    int port;
    char *graceful_path;
    int64_t graceful_wait_ms;
    char *abort_path;
    int64_t abort_wait_ms;
};

#define SPEC_MAX_SHUTDOWN_WAIT_MS 60000

struct exec_spec {
    char *task_id;
    struct proc *procs; /* WAITING, in task.json order */
    size_t n_procs;
    bool sequential;
    int64_t kill_grace_ms;
    int64_t finalization_wait_ms; /* final processes may run this long */
    int64_t max_failures;         /* processes failed for good that fail the task; 0: none does */
    int64_t max_concurrency;      /* processes running at once; 0: no limit */
    char *notify_socket; /* NULL: nobody to notify */
    char *cwd;           /* the processes' working directory; NULL: the sandbox */
    struct health_spec health; /* kind HEALTH_NONE: RUNNING once started */
    struct shutdown_spec shutdown;
};

/* Read and validate `path`. Errors (BO_E_INVALID, or BO_E_IO for an
 * unreadable file) name the file and the field: "`/s/.borealis/task.json`:
 * processes[1].cmdline: must be a non-empty string". */
int spec_load(const char *path, struct exec_spec *ret, bo_error_t *err);
/* The same for `len` bytes of task.json text; `name` is the file named in
 * errors. (spec_load is this after reading the file; fuzz/ calls it.) */
int spec_parse(const char *name, const char *buf, size_t len, struct exec_spec *ret, bo_error_t *err);
void spec_clear(struct exec_spec *s);

#endif
