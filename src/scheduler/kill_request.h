/* kill_request.h - the body of POST /api/v1/jobs/C/R/E/N/kill (docs/api.md):
 * strict validation, kept apart from the handler so fuzz/ can reach it. */
#ifndef BO_SCHEDULER_KILL_REQUEST_H
#define BO_SCHEDULER_KILL_REQUEST_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* `body` is the request's JSON object: {} or {"instances": [N, ...]}, each
 * N in [0, n_instances) of job `job_key` (named in errors). On success
 * *ret_instances (heap; caller frees) lists the instances to kill in the
 * order given, or all 0..n_instances-1 when "instances" is absent. Errors
 * are BO_E_INVALID. */
int kill_request_parse(json_t *body, const char *job_key, int64_t n_instances, int64_t **ret_instances,
                       size_t *ret_n, bo_error_t *err);

#endif
