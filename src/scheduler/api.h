/* api.h - what the route handlers of the public API (api.c and the
 * api_*.c files beside it) share: the job a path names and the one way a
 * write ends (audit record, commit, answer). */
#ifndef BO_SCHEDULER_API_H
#define BO_SCHEDULER_API_H

#include "net/http_server.h"
#include "scheduler/state.h"

/* Record the write (audit.h) in the batch opened by a handler, commit it,
 * or roll it back and answer the error (a store failure is fatal).
 * Returns 0 when the caller may answer with success (`status`). */
int api_finish_batch(struct http_request *req, void *ctx, int r, const char *job, const char *detail,
                     unsigned status, bo_error_t *err);
/* The job named by the first four path parameters, or answers 404. */
struct sched_job *api_job_from_path(struct http_request *req, struct sched_state *st);

#endif
