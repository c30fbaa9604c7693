/* task_read.h - a user's read of a task's logs or files (`borealis task
 * logs`, `task files`, `task cp`), relayed to the agent that holds the
 * sandbox (docs/protocol.md section 3.2). Agents only dial out, so the
 * user's request is suspended here, the read goes to the agent in the
 * answer of its (parked) sync, and the agent posts the result back to
 * POST /api/v1/agents/reads, which resumes the user's request. Reads are
 * bounded: TASK_READ_MAX_PENDING in flight, one chunk each, and every one
 * ends by its deadline. */
#ifndef BO_SCHEDULER_TASK_READ_H
#define BO_SCHEDULER_TASK_READ_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "net/http_server.h"
#include "scheduler/state.h"

#define TASK_READ_MAX_PENDING 1024
/* Reads handed to one agent per sync answer. */
#define TASK_READ_MAX_PER_ANSWER 100
#define TASK_READ_MAX_WRITES 8
/* A follower's longest wait at the agent (its own bound, task_io.h). */
#define TASK_READ_WAIT_MAX_MS 30000
/* How long past its wait a read may take before the user is told the
 * agent did not answer. */
#define TASK_READ_MARGIN_MS 10000

/* Route handlers (ctx: struct scheduler). */
void task_read_handle_logs(struct http_request *req, void *ctx);
void task_read_handle_files(struct http_request *req, void *ctx);
void task_read_handle_reply(struct http_request *req, void *ctx);
/* POST .../files {"path", "offset", "data"}: `task cp` to the sandbox. */
/* POST .../instances/I/run {"cmd", "timeout_s"}: `task run`, audited. */
void task_read_handle_run(struct http_request *req, void *ctx);
#define TASK_READ_RUN_CMD_MAX 16384
#define TASK_READ_RUN_TIMEOUT_DEFAULT_S 60
#define TASK_READ_RUN_TIMEOUT_MAX_S 600
void task_read_handle_write(struct http_request *req, void *ctx);
/* The task of a route .../jobs/R/E/N/J/instances/I (its current one, or
 * `?task=`), or NULL with req answered (404). */
struct sched_task *task_read_find_task(struct http_request *req, struct sched_state *st);

/* The reads due for agent `agent_id` (marked sent), as the sync answer's
 * "reads" array, or NULL when none; *ret_more: some are left for the next
 * answer. */
json_t *task_read_take(const char *agent_id, bool *ret_more);
/* Answer reads whose deadline passed or whose agent is not up. */
void task_read_expire(struct sched_state *st, int64_t now_mono);
/* Earliest deadline (mono ms), 0 when a handler left work for the loop
 * (it must turn again at once), or -1. */
int64_t task_read_next_deadline(void);
/* Answer every pending read (the scheduler stops). */
void task_read_release_all(void);

/* A reply's body, checked (fuzz/ calls this): agent_id, id, and either a
 * result object or an error {code, message} with a known code. *ret_status
 * and *ret_answer (new reference) are what the user gets. */
struct task_read_reply {
    const char *agent_id;
    int64_t id;
    unsigned status;
    json_t *answer;
};
int task_read_reply_parse(json_t *body, struct task_read_reply *ret, bo_error_t *err);

#endif
