/* wait.h - `--wait-until PENDING|RUNNING|FINISHED`: deciding from one
 * GET /api/v1/jobs/KEY answer whether a job has reached a state (pure,
 * unit-tested), and the polling loop around it. */
#ifndef BO_CLI_WAIT_H
#define BO_CLI_WAIT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "cli/cli.h"

enum wait_target { WAIT_PENDING, WAIT_RUNNING, WAIT_FINISHED };

/* Exact upper-case name; a BO_E_INVALID error lists the choices. */
int wait_target_parse(const char *s, enum wait_target *ret, bo_error_t *err);
const char *wait_target_name(enum wait_target t);

/* Verdict on one answer. Each instance's current task is its live task,
 * else its most recent terminal one. Reached:
 *   PENDING  every instance has a task (in any state);
 *   RUNNING  every current task is RUNNING (or already FINISHED, for a
 *            short batch job that ended between two polls);
 *   FINISHED every current task is FINISHED.
 * For RUNNING and FINISHED, an instance whose current task ended FAILED,
 * KILLED or LOST (no replacement) has failed. */
struct wait_verdict {
    bool reached;
    bool failed;
    bool job_active; /* the job summary's state is "active" */
    int64_t instances, done;
    char *missing;  /* what keeps it from `reached` (NULL if reached) */
    char *failures; /* which instances failed and how (NULL if none) */
};
void wait_evaluate(json_t *job_answer, enum wait_target t, struct wait_verdict *ret);
void wait_verdict_clear(struct wait_verdict *v);

/* Poll the job until the target is reached (CLI_EXIT_OK), an instance
 * failed (CLI_EXIT_COMMAND_FAILURE), the timeout passed (CLI_EXIT_TIMEOUT)
 * or the scheduler failed us. Prints progress once and the outcome. */
int wait_for_job(const struct cli_ctx *ctx, const char *key, enum wait_target t,
                 int64_t timeout_ms);

#endif
