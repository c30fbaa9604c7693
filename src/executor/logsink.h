/* logsink.h - where a process's stdout and stderr go (task.json
 * "logging", docs/jobs.md "Process logs"): files under .logs/NAME in the
 * sandbox, the executor's own stdout/stderr ("console"), both, or nowhere;
 * and rotation of the files by size.
 *
 * A process writes straight into its target when no copy is needed (a
 * file that is not rotated, the console, /dev/null). Otherwise (rotation,
 * or both) it writes into a pipe the executor drains: bounded memory (one
 * static buffer), and a process that writes faster than the executor
 * copies blocks on the full pipe rather than losing lines. */
#ifndef BO_EXECUTOR_LOGSINK_H
#define BO_EXECUTOR_LOGSINK_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"

enum log_dest { LOG_TO_FILE, LOG_TO_CONSOLE, LOG_TO_BOTH, LOG_TO_NONE };

#define LOG_ROTATE_SIZE_MIN 1024
#define LOG_ROTATE_SIZE_MAX (INT64_C(1) << 40)
#define LOG_ROTATE_BACKUPS_MAX 100

struct log_policy {
    enum log_dest dest;
    bool rotate;      /* only with LOG_TO_FILE or LOG_TO_BOTH */
    int64_t log_size; /* rotate: each file at most this many bytes */
    int64_t backups;  /* rotate: STREAM.1 (newest) .. STREAM.backups kept */
};

/* One stream (stdout or stderr) of one process; all zero until its
 * first run that needs a copy. */
struct log_stream {
    bool piped;   /* the fds below are open */
    int rfd, wfd; /* the pipe the executor copies from (the write end kept for reruns) */
    int file;     /* .logs/NAME/STREAM */
    int64_t size; /* bytes in `file` */
    bool warned;  /* a write or rotation failure was logged once */
};

/* Open the targets of stream `which` (1: stdout, 2: stderr) of process
 * `proc` under `logs_dir` (an fd of .logs/NAME) for a new run and return
 * the fd the process is to write into (the caller dup2s it and closes it).
 * `fresh`: the file holds only this run (truncated). */
int log_stream_open(struct log_stream *s, const struct log_policy *pol, int logs_dir, const char *proc, int which,
                    bool fresh, bo_error_t *err);

/* Copy what the pipe holds now to the targets, rotating as needed; at most
 * a few buffers at a time so one chatty process cannot starve the loop.
 * Returns true when the pipe may hold more. */
bool log_stream_drain(struct log_stream *s, const struct log_policy *pol, const char *proc, int which);

/* Drain everything left, then close every fd. */
void log_stream_close(struct log_stream *s, const struct log_policy *pol, const char *proc, int which);

#endif
