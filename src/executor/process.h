/* process.h - supervision of the task's processes: starting one as
 * its argv (the agent decides whether through /bin/sh) in its own process group with its logs, recording
 * how it ended, and signalling or sweeping what is left of the groups.
 *
 * A process's pid is also its process-group id (the child calls setpgid(0,
 * 0) and the parent repeats it, so the group exists before fork returns to
 * either side). A group outlives its leader when the leader leaves children
 * behind; those are what the kill sequence and the final sweep go after. */
#ifndef BO_EXECUTOR_PROCESS_H
#define BO_EXECUTOR_PROCESS_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"
#include "executor/logsink.h"

enum proc_state { PROC_WAITING, PROC_RUNNING, PROC_SUCCESS, PROC_FAILED, PROC_KILLED };

struct proc {
    char *name;    /* validated: a plain file name, used under .logs/ */
    char **argv;   /* NULL-terminated; argv[0] is looked up in PATH */
    enum proc_state state;
    pid_t pid;          /* 0 until started; also the process-group id */
    bool group_gone;    /* the group was seen empty; never signal it again */
    int exit_code;      /* -1 unless it exited normally */
    int signal;         /* 0 unless it was killed by a signal */
    int64_t started_ms; /* wall clock; 0 = not yet */
    int64_t ended_ms;   /* wall clock; 0 = not yet */
    bool fresh_logs;    /* logs hold only the last run (truncated at start) */
    struct log_policy log;       /* task.json "logging" (zero: files, not rotated) */
    struct log_stream streams[2]; /* [0] stdout, [1] stderr, while the executor copies them */
    /* From task.json (docs/jobs.md "Processes"): */
    int64_t max_failures;    /* failed runs before it stays FAILED; 0: never */
    bool daemon;             /* rerun after success too */
    bool ephemeral;          /* the task completes without it */
    int64_t min_duration_ms; /* from one start to the next */
    bool final;              /* runs at finalization only */
    char **after;            /* names, as in task.json */
    size_t n_after;
    uint64_t after_mask;     /* bit k: runs after procs[k] (model/process_graph.h) */
    /* Run bookkeeping (executor.c): */
    int64_t runs;            /* starts so far (a fast daemon may make many) */
    int64_t failures;        /* failed runs so far */
    bool succeeded;          /* one run succeeded: those after it may start */
    int64_t start_mono_ms;   /* CLOCK_MONOTONIC start of the last run */
    int64_t rerun_at_ms;     /* CLOCK_MONOTONIC; WAITING for a rerun until then (0: not a rerun) */
};

const char *proc_state_name(enum proc_state s);

/* Start `p` in `cwd` (NULL: the current directory, the sandbox): stdin
 * /dev/null, stdout/stderr to the targets of p->log (logsink.h; by
 * default appended to .logs/NAME/{stdout,stderr}), signal
 * dispositions and mask reset, oom_score_adj 0. On success p is RUNNING.
 * On failure p is untouched and err names what could not be set up. */
int proc_start(struct proc *p, const char *cwd, bo_error_t *err);

/* Record the wait status of `p`'s leader. `killing`: the task is being
 * killed, so however it ended the process is reported KILLED. Returns true
 * when the process failed on its own (the task fails). */
bool proc_ended(struct proc *p, int wstatus, bool killing);

/* "process `NAME` exited with status N" / "... was killed by signal N
 * (Description)", for the task message. Heap-allocated. */
char *proc_failure_message(const struct proc *p);

/* Send `sig` to every started process group not yet seen empty, marking
 * the empty ones. Returns how many groups may still have members. */
size_t proc_signal_groups(struct proc *procs, size_t n, int sig);

/* Mark the groups of reaped leaders that are now empty as gone. Call it
 * right after reaping: an empty group's id is a free pid, and once another
 * process (any shell job on the host) takes it and leads a group, signalling
 * the old id would hit that stranger. Returns how many were marked. */
size_t proc_forget_empty_groups(struct proc *procs, size_t n);

/* SIGKILL every direct child of this process (leaders not yet reaped and
 * orphans re-parented to us as subreaper, including ones that left our
 * process groups). Returns how many were found; 0 also when the kernel
 * does not list children (no CONFIG_PROC_CHILDREN). */
size_t proc_kill_children(void);

/* The log pipes of `procs` the executor copies from: fills `fds` (room
 * for 2 * n) with their read ends and `who` with the proc index * 2 +
 * stream. Returns how many. */
size_t proc_log_fds(const struct proc *procs, size_t n, int *fds, size_t *who);
/* Copy what the log pipe `who` (from proc_log_fds) holds. */
void proc_log_drain(struct proc *procs, size_t who);
/* Copy everything left in every log pipe and close them (the end). */
void proc_log_close(struct proc *procs, size_t n);

#endif
