/* task_files.h - reading a task's logs and files for `borealis task logs`
 * and `task files` (docs/protocol.md section 3.2), confined to its sandbox
 * by the kernel: every path is opened with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV) below the sandbox's directory fd,
 * so `..`, absolute paths and symlinks that lead out (made by the task,
 * which owns its sandbox) are refused whatever the scheduler or the CLI
 * checked. Every answer is bounded (TASK_FILES_CHUNK_MAX bytes of data,
 * TASK_FILES_LIST_MAX entries). */
#ifndef BO_AGENT_TASK_FILES_H
#define BO_AGENT_TASK_FILES_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"

/* Bytes of file data in one answer: base64 makes it 342 KiB, well under
 * the scheduler's 1 MiB request body limit. */
#define TASK_FILES_CHUNK_MAX (256u << 10)
#define TASK_FILES_LIST_MAX 10000
#define TASK_FILES_PATH_MAX 4096
#define TASK_FILES_TAIL_MAX 100000

/* Why a read was refused: the reply's error code, which the scheduler maps
 * to an HTTP status (and the CLI to an exit code). */
enum task_files_code {
    TASK_FILES_INVALID,  /* a malformed request */
    TASK_FILES_NOT_FOUND,
    TASK_FILES_OUTSIDE,  /* the path leads outside the sandbox */
    TASK_FILES_REFUSED,  /* exists but is not something we read (fifo, device, hard link) */
    TASK_FILES_IO,
};
const char *task_files_code_name(enum task_files_code c);

/* A refusal: code + message (heap). */
struct task_files_error {
    enum task_files_code code;
    char *message;
};
void task_files_error_clear(struct task_files_error *e);

struct task_log_query {
    const char *process; /* NULL: the task's only process */
    bool stderr_stream;
    int64_t tail;   /* >= 0: the last `tail` lines (then offset is ignored) */
    int64_t offset; /* byte offset in the file `inode` (or the current one) */
    int64_t inode;  /* 0: the current file */
    int64_t max;    /* bytes, <= TASK_FILES_CHUNK_MAX */
};

/* Read a chunk of a process's log from the sandbox at `sandbox` (a path
 * the agent made). *ret is {"data": base64, "offset": next, "inode": N,
 * "size": bytes in that file, "process": NAME, "rotated": bool}. A log
 * rotated by renaming (stdout -> stdout.1) is followed: a query naming the
 * old inode gets the rest of that file first, then the new file from 0.
 * *ret_empty says no data was there (a follower may wait). */
int task_files_log(const char *sandbox, const char *task_id, const struct task_log_query *q, json_t **ret,
                   bool *ret_empty, struct task_files_error *err);

/* `path` relative to the sandbox ("" or "." is the sandbox): a directory is
 * {"type": "dir", "entries": [{"name", "type", "size", "mode", "mtime_ms",
 * "target"?}], "truncated": bool}; a regular file is {"type": "file",
 * "data": base64 of at most `max` bytes from `offset`, "offset": next,
 * "size", "eof": bool}. */
int task_files_get(const char *sandbox, const char *path, int64_t offset, int64_t max, json_t **ret,
                   struct task_files_error *err);

/* Write `len` bytes at `offset` of the file `path` (relative to the
 * sandbox; created, as the sandbox's owner, when absent; cut to its end
 * when offset is 0). The file itself may not be a symlink, a fifo, a file
 * with several hard links, or anything in `.borealis/` (the agent's and
 * the executor's files). *ret is {"type": "file", "offset": next, "size"}. */
int task_files_put(const char *sandbox, const char *path, int64_t offset, const char *data, size_t len,
                   json_t **ret, struct task_files_error *err);

/* An O_PATH fd of the directory holding a process's logs (opened as the
 * logs are), for a follower to watch with inotify; -1 if it cannot be. */
int task_files_log_dir_fd(const char *sandbox, const char *process);

#endif
