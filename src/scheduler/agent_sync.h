/* agent_sync.h - the scheduler's side of the agent protocol (docs/protocol.md
 * section 3): registration, status updates, reconciliation and the long
 * poll that carries launches and kills back to the agent. */
#ifndef BO_SCHEDULER_AGENT_SYNC_H
#define BO_SCHEDULER_AGENT_SYNC_H

#include "net/http_server.h"
#include "scheduler/state.h"

struct scheduler;

#define SYNC_MAX_WAIT_MS 30000
/* Launches and kills in one answer (the rest follow in the next). */
#define SYNC_MAX_COMMANDS 200

/* Apply one sync request (read by sync_request.h; not consumed) in one
 * store batch: register or refresh the agent, apply its updates, reconcile its
 * inventory, commit deferred (store_commit_deferred: durable at the next
 * store_flush, which must come before the answer is sent). On success
 * the answer is appended to `out` as JSON text (acks, the launches and
 * kills due now, heartbeat_ms, ...; written directly, no tree) and *ret
 * says what it holds. A sync without the agent's registration (a bare
 * sync) is applied only to an agent the scheduler can trust it holds; for
 * any other, nothing is applied, ret->agent is NULL and the answer asks
 * for the registration (`"register": true`), to be sent at once. Errors:
 * BO_E_INVALID for a malformed request (nothing applied), others when the
 * store fails. The HTTP handler below is this plus the long poll. */
struct bo_buf;
struct sync_outcome {
    struct sched_agent *agent; /* NULL: the registration was asked for */
    bool may_wait;             /* the answer holds nothing but acks: the request may be held */
    char *acks;                /* when may_wait, its acks as JSON array elements ("17,18"); NULL for none; freed
                                  by the caller */
};
struct sync_request;
int agent_sync_apply_text(struct sched_state *st, const struct sync_request *rq, struct bo_buf *out,
                          struct sync_outcome *ret, bo_error_t *err);
/* The same for a body given as a tree (not consumed), read from its text
 * as the HTTP handler reads it, with the answer parsed back into
 * *ret_answer (new reference): for tests, fuzz/ and benchmarks, which so
 * check the text the agents get (BO_E_INTERNAL if it is not JSON). */
int agent_sync_apply(struct sched_state *st, json_t *body, struct sched_agent **ret_agent, json_t **ret_answer,
                     bo_error_t *err);

/* Route handler for POST /api/v1/agents/sync; ctx is the scheduler. */
void agent_sync_handle(struct http_request *req, void *ctx);
/* Answer suspended polls of agents that have work or whose wait expired. */
void agent_sync_wake(struct scheduler *sch, int64_t now_mono);
/* The earliest deadline (mono ms) of a suspended poll, or -1 if none: the
 * loop sleeps no longer than this. */
int64_t agent_sync_next_deadline(const struct sched_state *st);

/* Over TLS an agent's identity is its certificate (issued at join, CN =
 * agent id): a request on an agent route must come with it, claim that id,
 * from an agent not revoked, that synced before or joined recently.
 * Answers and returns false otherwise. */
bool agent_sync_identity_ok(struct scheduler *sch, struct http_request *req, const char *claimed);

/* Whether the agent waits on us: a poll of it is parked here, or the
 * answer to a sync of it waits for the store (contact, for its timeout). */
bool agent_sync_is_waiting(const struct sched_agent *a);

/* Answer every suspended poll now (before the server stops: MHD refuses to
 * stop with suspended connections). */
void agent_sync_release_all(struct sched_state *st);

#endif
