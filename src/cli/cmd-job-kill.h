/* cmd-job-kill.h - the kill request shared by `job kill` and `job killall`. */
#ifndef BO_CLI_CMD_JOB_KILL_H
#define BO_CLI_CMD_JOB_KILL_H

#include <stddef.h>
#include <stdint.h>

#include "cli/cli.h"

/* POST /api/v1/jobs/KEY/kill for the instances (inst NULL: all), print the
 * killed task ids. Returns an exit code: CLI_EXIT_COMMAND_FAILURE when no
 * live task matched. `key` must be valid. */
int job_kill(const struct cli_ctx *ctx, const char *key, const int64_t *inst, size_t n_inst);

#endif
