/* exec_session.h - the agent's side of `task exec` (docs/protocol.md
 * section 3.3): for each session the scheduler names in a sync answer
 * ("execs"), a thread dials out to the scheduler (an upgraded POST
 * /api/v1/agents/exec/ID), runs the runtime's `exec --tty` in the task's
 * container, and copies between the terminal and the stream in frames
 * (net/exec_frame.h). The loop only starts sessions and stops them all. */
#ifndef BO_AGENT_EXEC_SESSION_H
#define BO_AGENT_EXEC_SESSION_H

#include <jansson.h>
#include <sys/types.h>

#include "agent/runtime.h"
#include "base/error.h"
#include "net/http_client.h"

/* Sessions of one agent at once (the scheduler's cap is the same): more
 * are dropped, and the user is told that the agent did not attach. */
#define EXEC_AGENT_MAX_SESSIONS 64

struct exec_request {
    char *session; /* 32 hex digits */
    char *task_id;
    char **argv; /* NULL-terminated; empty: the shell */
    unsigned rows, cols;
    char *term;
};

/* Strict: unknown fields, an argv word with NUL, sizes out of range fail. */
int exec_request_parse(json_t *j, struct exec_request *ret, bo_error_t *err);
void exec_request_clear(struct exec_request *r);

struct exec_sessions;

/* The task's runtime and user, or an error the user is shown. */
struct exec_target {
    const struct runtime *rt;
    uid_t uid;
    gid_t gid;
};
typedef int (*exec_target_fn)(void *ctx, const char *task_id, struct exec_target *ret, bo_error_t *err);

/* scheduler_url, agent_id and tls (its strings) must outlive m. */
struct exec_sessions *exec_sessions_new(const char *scheduler_url, const char *agent_id, const struct http_tls *tls,
                                        exec_target_fn target, void *ctx);
/* Start one session for an item of "execs" (a bad item is dropped: the
 * scheduler tells the user when the agent does not attach). */
void exec_sessions_start(struct exec_sessions *m, json_t *item);
/* Ends every session (its command killed) and waits for the threads. */
void exec_sessions_free(struct exec_sessions *m);

#endif
