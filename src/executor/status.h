/* status.h - what the executor tells the agent: .borealis/status.json,
 * replaced atomically on every change, followed by one datagram holding the
 * task id on the agent's notify socket (docs/protocol.md section 4). */
#ifndef BO_EXECUTOR_STATUS_H
#define BO_EXECUTOR_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "base/error.h"
#include "executor/process.h"
#include "model/task_state.h"

#define STATUS_PATH ".borealis/status.json"

/* The executor's states are STARTING, RUNNING and the terminal FINISHED,
 * FAILED, KILLED of the one task state enum (model/task_state.h). */

struct status_notifier {
    int fd; /* -1: no socket configured (or it could not be created) */
    struct sockaddr_un addr;
    socklen_t addr_len;
};

/* `socket_path` may be NULL (nobody to notify). Never fails: the agent may
 * be down, and it re-reads every status file when it starts. */
void status_notifier_init(struct status_notifier *n, const char *socket_path);
void status_notifier_close(struct status_notifier *n);
/* A datagram socket already connected to the agent's (the agent passes it
 * into the container, where the socket's path is hidden). */
void status_notifier_init_fd(struct status_notifier *n, int fd);
/* Write status.json in this directory (an fd the agent passed in) instead
 * of STATUS_PATH. */
void status_set_dir(int dirfd);

/* Write STATUS_PATH (relative to the sandbox, our cwd). Terminal states are
 * fsync'ed: they are the last word of the executor. */
int status_write(const char *task_id, enum task_state state, const char *message,
                 const struct proc *procs, size_t n_procs, bo_error_t *err);

/* Send the task id; errors (no agent, full queue) are ignored. */
void status_notify(const struct status_notifier *n, const char *task_id);

#endif
