/* update_request.h - the bodies of the update routes (docs/api.md
 * "Updates"): strict validation, kept apart from the handlers so fuzz/
 * can reach it. */
#ifndef BO_SCHEDULER_UPDATE_REQUEST_H
#define BO_SCHEDULER_UPDATE_REQUEST_H

#include <jansson.h>
#include <stdbool.h>

#include "base/error.h"
#include "model/job.h"

struct update_request {
    struct job_config *config; /* start only: the new config (ref held) */
    const char *message;       /* NULL if none; points into the body */
    const char *request_id;    /* NULL if none; points into the body */
    bool dry_run;
};

/* POST .../updates: {"config": JOB, "message"?: TEXT, "request_id"?: ID,
 * "dry_run"?: BOOL}, the config for job `job_key` (its key must match).
 * With `start` false (pause, resume, abort, rollback) only "message" is
 * allowed, and the body may be {}. Errors are BO_E_INVALID naming the
 * field. The strings stay valid while `body` lives. */
int update_request_parse(json_t *body, const char *job_key, bool start, struct update_request *ret,
                         bo_error_t *err);
void update_request_clear(struct update_request *r);

#endif
