/* api_update.h - the update routes of the public API (docs/api.md
 * "Updates"); listed in api.c's route table. */
#ifndef BO_SCHEDULER_API_UPDATE_H
#define BO_SCHEDULER_API_UPDATE_H

#include "net/http_server.h"

void api_update_start(struct http_request *req, void *ctx);
void api_update_list(struct http_request *req, void *ctx);
void api_update_get(struct http_request *req, void *ctx);
void api_update_pause(struct http_request *req, void *ctx);
void api_update_resume(struct http_request *req, void *ctx);
void api_update_abort(struct http_request *req, void *ctx);
void api_update_rollback(struct http_request *req, void *ctx);
void api_update_pulse(struct http_request *req, void *ctx);
/* A rolling restart: an update that replaces each instance by itself. */
void api_job_restart(struct http_request *req, void *ctx);
/* Killed instances back: an update to the job's config scoped to them. */
void api_job_start(struct http_request *req, void *ctx);
/* New instances cloning one's config: an update that only adds. */
void api_job_add(struct http_request *req, void *ctx);

#endif
