/* sandbox.h - a task's sandbox (DATA/sandboxes/<task_id>/): creating it,
 * writing .borealis/task.json for the executor and reading back the
 * executor's .borealis/status.json (docs/protocol.md section 4). */
#ifndef BO_AGENT_SANDBOX_H
#define BO_AGENT_SANDBOX_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "image/manifest.h"
#include "model/job.h"

struct sandbox_launch {
    const char *task_id;
    int64_t instance;
    const char *hostname;
    json_t *ports; /* object name -> port */
    const struct task_config *task;
    const char *notify_socket;
    const struct image_config *image; /* NULL: no image */
};

/* Check a task id before it becomes a path component and a cgroup name. */
int sandbox_validate_task_id(const char *task_id, bo_error_t *err);
/* Create SANDBOX, SANDBOX/.borealis, SANDBOX/.logs; render each cmdline's
 * runtime variables and make each process's argv (agent/command.h); write
 * .borealis/task.json. */
int sandbox_prepare(const char *sandbox, const struct sandbox_launch *l, bo_error_t *err);

struct sandbox_process {
    char *name;
    char *state;
    int64_t pid;       /* 0: none */
    int64_t runs;      /* starts so far; 0 also from an executor that does not say */
    bool has_exit_code;
    int64_t exit_code;
    bool has_signal;
    int64_t signal;
};

struct sandbox_status {
    char *state; /* STARTING, RUNNING, FINISHED, FAILED, KILLED */
    char *message;
    int64_t executor_pid;
    struct sandbox_process *processes;
    size_t n_processes;
};

/* Read and strictly validate .borealis/status.json. A missing file is
 * BO_E_NOTFOUND (the executor has not written it yet). */
int sandbox_read_status(const char *sandbox, const char *task_id, struct sandbox_status *ret, bo_error_t *err);
/* The same for `len` bytes of status.json text; `name` is the file named in
 * errors. (sandbox_read_status is this after reading the file; fuzz/ calls it.) */
int sandbox_parse_status(const char *name, const char *text, size_t len, const char *task_id,
                         struct sandbox_status *ret, bo_error_t *err);
void sandbox_status_clear(struct sandbox_status *s);
/* The update's "processes": [{name, state, pid, runs, exit_code}]. */
json_t *sandbox_status_processes_json(const struct sandbox_status *s);

#endif
