/* update_request.h - the bodies of the update routes and of the restart
 * route (docs/api.md "Updates"): strict validation, kept apart from the
 * handlers so fuzz/ can reach it. */
#ifndef BO_SCHEDULER_UPDATE_REQUEST_H
#define BO_SCHEDULER_UPDATE_REQUEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "model/job.h"

enum update_request_kind {
    UPDATE_REQ_START,   /* POST .../updates */
    UPDATE_REQ_COMMAND, /* POST .../update/pause (resume, abort, rollback) */
    UPDATE_REQ_RESTART, /* POST .../restart */
    UPDATE_REQ_JOB_START, /* POST .../start: killed instances back */
    UPDATE_REQ_JOB_ADD,   /* POST .../add: clones of an instance */
    UPDATE_REQ_KIND_COUNT
};

/* Settings a restart request may set; -1: not given (the job's own). */
struct update_request_settings {
    int64_t batch_size, watch_secs, max_per_instance_failures, max_total_failures;
};

struct update_request {
    struct job_config *config; /* start only: the new config (ref held) */
    const char *message;       /* NULL if none; points into the body */
    const char *request_id;    /* start, job start, add; NULL if none; points into the body */
    bool dry_run;              /* start, job start, add */
    int64_t *instances;        /* start, restart, job start: increasing, or NULL for all (heap) */
    int64_t instance, count;   /* add only: the instance cloned, how many clones */
    size_t n_instances;
    struct update_request_settings settings; /* restart only */
};

/* Validate `body` for the route `kind` of job `job_key`:
 *   start:   {"config": JOB, "message"?, "request_id"?, "dry_run"?, "instances"?}
 *            (the config's key must be job_key);
 *   command: {"message"?} (or {});
 *   restart: {"instances"?, "batch_size"?, "watch_secs"?,
 *             "max_per_instance_failures"?, "max_total_failures"?, "message"?};
 *   job start: {"instances"?, "message"?, "request_id"?, "dry_run"?};
 *   add:     {"instance", "count", "message"?, "request_id"?, "dry_run"?}
 *            (count 1 to JOB_MAX_INSTANCES; the job's limit is checked by
 *            the handler).
 * "instances" is an increasing list of instance numbers. Errors are
 * BO_E_INVALID naming the field. The strings stay valid while `body` lives;
 * update_request_clear releases the rest. */
int update_request_parse(json_t *body, const char *job_key, enum update_request_kind kind, struct update_request *ret,
                         bo_error_t *err);
void update_request_clear(struct update_request *r);

#endif
