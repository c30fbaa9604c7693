/* durable.h - answers that leave only once the store holds what they say.
 *
 * A request that changed state writes into the store's group commit
 * (store_commit_deferred) and answers at once, but its answer is kept
 * back (http_defer_answer) until the store's commits started so far are
 * durable (store.h "Background commits"). That covers what the request
 * wrote and everything its answer can say: an agent's acks, the launches
 * and kills placement and timers wrote, a job's acceptance. The loop
 * meanwhile serves other requests while the store writes. */
#ifndef BO_SCHEDULER_DURABLE_H
#define BO_SCHEDULER_DURABLE_H

#include <stdbool.h>

#include "net/http_server.h"
#include "scheduler/state.h"

/* Call before answering req: the answer waits, unless the store already
 * holds everything written so far. Returns whether it waits. */
bool durable_answer(struct sched_state *st, struct http_request *req);

/* Start committing what was written since the last call, and send the
 * answers whose commits finished (with `wait`, wait for the commit: every
 * answer goes). When a commit failed every kept answer goes as 500 and
 * this fails: the caller stops, as on any store failure. */
int durable_flush(struct sched_state *st, struct http_server *http, bool wait, bo_error_t *err);

#endif
