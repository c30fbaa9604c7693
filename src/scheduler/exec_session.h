/* exec_session.h - `borealis task exec`: an interactive stream between a
 * user's CLI and the agent of a task (docs/protocol.md section 3.3).
 *
 * The CLI's POST .../instances/I/exec is upgraded at once (after the
 * checks of `task run`); the agent is told in the answer of its sync
 * ("execs": a session id of 128 random bits), dials out and upgrades
 * POST /api/v1/agents/exec/ID; the id works once, for that agent only.
 * A thread per session then copies bytes both ways through bounded
 * buffers (the loop never blocks on a session); the frames inside are
 * the ends' business (net/exec_frame.h). */
#ifndef BO_SCHEDULER_EXEC_SESSION_H
#define BO_SCHEDULER_EXEC_SESSION_H

#include <jansson.h>
#include <stdint.h>

#include "net/http_server.h"
#include "scheduler/state.h"

#define EXEC_PROTOCOL "borealis-exec"
/* Sessions open at once (waiting or relaying), over all users. */
#define EXEC_MAX_SESSIONS 64
/* How long an agent has to attach once the session is open. */
#define EXEC_ATTACH_TIMEOUT_MS 20000
/* Bytes buffered per direction of a session. */
#define EXEC_RELAY_BUF (64u << 10)
#define EXEC_ARGV_MAX 64
#define EXEC_CMD_BYTES_MAX 16384

/* Route handlers (ctx: struct scheduler). */
void exec_session_handle_open(struct http_request *req, void *ctx);
void exec_session_handle_attach(struct http_request *req, void *ctx);
/* The sessions waiting for agent_id (a JSON array to put in its sync
 * answer as "execs"), or NULL. */
json_t *exec_session_take(const char *agent_id);
/* Loop duties: attach deadlines, agents gone, ended relays reaped. */
void exec_session_expire(struct sched_state *st, int64_t now_mono);
/* The next mono ms exec_session_expire has work, or -1. */
int64_t exec_session_next_deadline(int64_t now_mono);
/* Stopping: every session is closed and its thread joined. */
void exec_session_release_all(void);

#endif
