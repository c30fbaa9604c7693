/* journal.h - the agent's durable state in DATA/agent.db (SQLite, WAL,
 * synchronous FULL): the tasks it runs and the journal of status updates
 * not yet acknowledged by the scheduler. */
#ifndef BO_AGENT_JOURNAL_H
#define BO_AGENT_JOURNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"

struct journal;

struct journal_task {
    char *task_id;
    char *sandbox;
    char *cgroup;
    int64_t executor_pid;   /* 0: never started */
    int64_t executor_start; /* /proc/PID/stat field 22, to detect pid reuse */
    char *state;            /* last state reported (enqueued) */
    int64_t ended_ms;       /* wall clock; 0 while not terminal */
    uint64_t ram;           /* for the OOM message */
    uint64_t disk;          /* the disk limit (0: none), watched by disk_watch.c */
    int64_t grace_ms;
    bool cleaned;           /* executor gone and cgroup removed */
};

int journal_open(const char *path, struct journal **ret, bo_error_t *err);
void journal_close(struct journal *j);

/* Append an update (an object without "seq"); the stored copy gets "seq".
 * Durable when this returns. */
/* Group several writes into one durable commit (one fsync). Calls outside
 * a group commit on their own. */
int journal_begin(struct journal *j, bo_error_t *err);
int journal_commit(struct journal *j, bo_error_t *err);
int journal_enqueue(struct journal *j, json_t *update, int64_t *ret_seq, bo_error_t *err);
/* Oldest unacked updates after seq `after_seq` (0: all) first, at most
 * `max`, as a new JSON array. */
int journal_list(struct journal *j, int64_t after_seq, size_t max, json_t **ret, bo_error_t *err);
/* Highest seq in the journal (0 if empty). */
int journal_last_seq(struct journal *j, int64_t *ret, bo_error_t *err);
/* Delete an acked update; an unknown seq is not an error. */
int journal_ack(struct journal *j, int64_t seq, bo_error_t *err);
int journal_count(struct journal *j, int64_t *ret, bo_error_t *err);
/* Whether any unacked update concerns `task_id`. */
int journal_has_task(struct journal *j, const char *task_id, bool *ret, bo_error_t *err);

/* Insert or replace a task record. */
int journal_task_put(struct journal *j, const struct journal_task *t, bo_error_t *err);
int journal_task_delete(struct journal *j, const char *task_id, bo_error_t *err);
int journal_task_list(struct journal *j, struct journal_task **ret, size_t *ret_n, bo_error_t *err);
void journal_task_clear(struct journal_task *t);

#endif
