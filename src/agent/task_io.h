/* task_io.h - the agent's side of task reads (docs/protocol.md section
 * 3.2): a sync answer may carry "reads" (a user's `task logs` or `task
 * files`, relayed by the scheduler); each is parsed strictly, done in the
 * task's sandbox (task_files.h, confined by the kernel) and answered with
 * one reply the agent posts back. A follower's read that finds no new log
 * data waits here, woken by inotify on the process's log folder, until
 * data comes, the task ends or its wait runs out. */
#ifndef BO_AGENT_TASK_IO_H
#define BO_AGENT_TASK_IO_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent/runtime.h"
#include "base/error.h"

/* Bytes of one write (`task cp` to a sandbox): 342 KiB of base64. */
#define TASK_IO_WRITE_MAX (256u << 10)
/* Longest wait of a follower's read (the scheduler holds the user's
 * request for it plus a margin). */
#define TASK_IO_WAIT_MAX_MS 30000
/* Reads in one sync answer the agent looks at (the scheduler sends fewer). */
#define TASK_IO_MAX_READS 1000
/* Follows waiting at once; more are answered at once, empty. */
#define TASK_IO_MAX_PARKED 4096

/* `task run`: a command's longest run, its output kept (more is counted
 * and dropped: the answer, base64, fits the 1 MiB body limit), its
 * length, and how many run at once on this agent. */
#define TASK_IO_RUN_TIMEOUT_MAX_MS 600000
#define TASK_IO_RUN_OUTPUT_MAX (256u << 10)
#define TASK_IO_RUN_CMD_MAX 16384
#define TASK_IO_MAX_RUNS 64

enum task_io_op { TASK_IO_LOG, TASK_IO_FILES, TASK_IO_WRITE, TASK_IO_RUN };

struct task_io_request {
    int64_t id; /* 0: none (the item cannot be answered) */
    char *task_id;
    enum task_io_op op;
    char *process; /* log: NULL for the only one */
    bool stderr_stream;
    int64_t tail; /* -1: none */
    int64_t offset;
    int64_t inode;
    int64_t wait_ms;
    int64_t max;
    char *path; /* files: "" for the sandbox */
    char *data; /* write: the bytes (decoded from base64) */
    size_t data_len;
    char *cmd;          /* run: for /bin/sh -c */
    int64_t timeout_ms; /* run */
};

/* Strict: unknown keys, wrong types and out-of-range values are refused
 * with an error naming the field. ret->id is set whenever the item has a
 * valid id, even when the rest fails, so the refusal can be answered. */
int task_io_request_parse(json_t *j, struct task_io_request *ret, bo_error_t *err);
void task_io_request_clear(struct task_io_request *r);

struct task_io_hooks {
    void *ctx;
    /* The sandbox path of a task this agent holds, or NULL; *ret_ended
     * says the task has ended (its log will not grow). */
    const char *(*sandbox)(void *ctx, const char *task_id, bool *ret_ended);
    /* Post one reply {"id", "result"} or {"id", "error": {"code",
     * "message"}} (consumed). */
    void (*reply)(void *ctx, json_t *reply);
    /* Start `cmd` in a running task's container as its user (`task
     * run`); refusals name the task. */
    int (*run)(void *ctx, const char *task_id, const char *cmd, struct runtime_exec *ret, bo_error_t *err);
};

struct task_io;

int task_io_new(const struct task_io_hooks *hooks, struct task_io **ret, bo_error_t *err);
void task_io_free(struct task_io *io);
/* One item of a sync answer's "reads": answered now, or parked. */
void task_io_handle(struct task_io *io, json_t *item);
/* The inotify fd to poll (POLLIN), and what to call when it is readable. */
int task_io_fd(const struct task_io *io);
void task_io_ready(struct task_io *io);
/* Answer parked reads whose wait is over (or whose task ended), and
 * runs that ended or ran out of time. Returns
 * the milliseconds until it next needs to run (INT32_MAX: nothing parked). */
int task_io_tick(struct task_io *io);

#endif
