/* agent_sync.h - the scheduler's side of the agent protocol (docs/protocol.md
 * section 3): registration, status updates, reconciliation and the long
 * poll that carries launches and kills back to the agent. */
#ifndef BO_SCHEDULER_AGENT_SYNC_H
#define BO_SCHEDULER_AGENT_SYNC_H

#include "net/http_server.h"
#include "scheduler/state.h"

#define SYNC_MAX_WAIT_MS 30000

/* Route handler for POST /api/v1/agents/sync; ctx is the scheduler. */
void agent_sync_handle(struct http_request *req, void *ctx);
/* Answer suspended polls of agents that have work or whose wait expired. */
void agent_sync_wake(struct sched_state *st, int64_t now_mono);

/* Answer every suspended poll now (before the server stops: MHD refuses to
 * stop with suspended connections). */
void agent_sync_release_all(struct sched_state *st);

#endif
