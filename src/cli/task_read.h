/* task_read.h - what `task logs`, `job logs`, `task files` and `task cp`
 * share: the KEY/INSTANCE argument, the read routes of the API
 * (GET /api/v1/jobs/KEY/instances/I/{logs,files}, docs/api.md) with their
 * errors mapped to exit codes, base64 data, and reading a log to its end
 * or following it. */
#ifndef BO_CLI_TASK_READ_H
#define BO_CLI_TASK_READ_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>

#include "cli/cli.h"

/* A follower's wait at the agent per request (the scheduler allows 30 s). */
#define TASK_READ_FOLLOW_WAIT_MS 20000

/* The options of `task logs` and `job logs` (cmd-task-logs.c). */
extern const struct bo_option task_logs_options[];

/* "KEY/INSTANCE": a job key and one instance number (exit code). */
int task_read_target(const char *arg, char **ret_key, int64_t *ret_instance);

/* GET `path` (which starts with /api/v1/jobs/KEY/instances/I/): 0 and the
 * answer, or an exit code having printed the error: a path outside the
 * sandbox or a bad parameter is INVALID_PARAMETER, an unknown job, task or
 * file API_ERROR, a task not started, a file that is not read, or a down
 * agent COMMAND_FAILURE, an agent that did not answer TIMEOUT. */
int task_read_get(const struct cli_ctx *ctx, const char *path, long timeout_ms, json_t **ret);

/* The same for any method, with a JSON body (not consumed) or NULL. */
int task_read_call(const struct cli_ctx *ctx, const char *method, const char *path, json_t *body, long timeout_ms,
                   json_t **ret);

/* The answer's "data" (base64) decoded (heap, NUL-terminated); exit code. */
int task_read_data(json_t *answer, char **ret, size_t *ret_len);

/* GET the files route: `path` in the sandbox of KEY/INSTANCE (a folder's
 * listing, or a file's chunk at `offset`); exit code. */
int task_read_files(const struct cli_ctx *ctx, const char *key, int64_t instance, const char *path, int64_t offset,
                    json_t **ret);
/* Write the file whose first chunk is `first` to fd, asking for the rest
 * chunk by chunk until its end; `shown` names the destination in errors.
 * Exit code. */
int task_read_copy(const struct cli_ctx *ctx, const char *key, int64_t instance, const char *path, json_t *first,
                   int fd, const char *shown);

/* A log being read: one per instance. */
struct log_cursor {
    const char *key;
    int64_t instance;
    const char *process; /* NULL: the task's only one */
    bool stderr_stream;
    int64_t tail;        /* -1: the whole log; else the first read's lines */
    const char *prefix;  /* NULL: bytes as they are; else each line gets it */
    /* private */
    int64_t offset, inode;
    bool started;
    char *partial; /* with a prefix: the last line, not ended yet */
    size_t n_partial;
};

/* Print the log to its current end (follow: until the task ended and its
 * log is read, waiting for data at the agent). Output goes to `out`; with a
 * prefix, whole lines are written at once under `lock` (may be NULL).
 * Returns an exit code. */
int task_read_log(const struct cli_ctx *ctx, struct log_cursor *c, bool follow, FILE *out,
                  pthread_mutex_t *lock);
void log_cursor_clear(struct log_cursor *c);

#endif
