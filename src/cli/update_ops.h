/* update_ops.h - steps the `update` commands share: the API path of a
 * job's updates, printing an update and its plan, and waiting for an
 * update to end. Each returns a CLI exit code, having printed any error
 * once. */
#ifndef BO_CLI_UPDATE_OPS_H
#define BO_CLI_UPDATE_OPS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "cli/cli.h"

/* The exit code of an error answer of an update route: a missing job is
 * CLI_EXIT_API; an update that cannot take the command (another is
 * active, none is, wrong status) CLI_EXIT_COMMAND_FAILURE. */
int update_ops_fail(const struct bo_error_s *e, const char *key);
/* "Instances to add: 3-4" ... lines of a plan object. */
void update_ops_print_plan(json_t *plan);
/* The summary lines of an update (status, who, when, message); with
 * `events`, its history too. */
void update_ops_print(json_t *update, bool events);
/* Poll the update `id` of job `key` until it leaves the active states.
 * CLI_EXIT_OK when it ROLLED_FORWARD, CLI_EXIT_COMMAND_FAILURE for any
 * other end (rolled back, aborted, failed), CLI_EXIT_TIMEOUT. */
int update_ops_wait(const struct cli_ctx *ctx, const char *key, const char *id, int64_t timeout_ms);

/* "--wait-timeout needs --wait": CLI_EXIT_INVALID_PARAMETER when only the
 * timeout was given. */
int update_ops_check_wait(const struct cli_args *a);
/* The body of `job start` and `job restart` over `instances` (the text of
 * KEY/INSTANCES, NULL: every instance): {"instances": [...]} or {}.
 * CLI_EXIT_INVALID_PARAMETER for a bad list. */
int update_ops_scoped_body(const char *instances, json_t **ret_body);

/* `job start` and `job add`: POST `body` (taken) to the job's `route`
 * ("start", "add") as a dry run, print the instances already running
 * and the plan, then for real with a request id and `message` (NULL:
 * none); with `wait` (timeout_ms), wait as update_ops_wait. An answer
 * refusing the request's instances or count is CLI_EXIT_INVALID_PARAMETER;
 * nothing to add prints `nothing` and is CLI_EXIT_OK. */
int update_ops_start_scoped(const struct cli_ctx *ctx, const char *key, const char *route, json_t *body,
                            const char *message, const char *nothing, bool wait, int64_t timeout_ms);

#endif
