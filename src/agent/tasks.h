/* tasks.h - the tasks this agent runs: launch, monitor (notify socket
 * datagrams, executor pidfds, periodic re-reads), kill, OOM reporting,
 * cleanup and sandbox garbage collection, and re-attach after a restart.
 * Every state change becomes a journaled update (journal.h); the caller's
 * loop owns the fds and calls in here. */
#ifndef BO_AGENT_TASKS_H
#define BO_AGENT_TASKS_H

#include <curl/curl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent/cgroup.h"
#include "agent/journal.h"
#include "agent/runtime.h"
#include "agent/sync.h"
#include "base/error.h"

struct agent_images;

struct task_mgr_config {
    const char *data_dir;
    const char *hostname;
    const char *executor;
    const char *notify_socket;
    int64_t pids_max;
    /* NULL only in unit tests: the executor is then forked directly, with
     * no container (the agent always has a runtime). */
    const struct runtime *runtime;
    json_t *allow_root_roles; /* role names that may run as root, or NULL */
    char *const *host_mount_allow; /* --host-mount-allow, resolved */
    size_t n_host_mount_allow;
    int64_t sandbox_retention_ms;
    int64_t disk_check_ms; /* how often tasks' disk usage is measured (0: never) */
    struct agent_images *images; /* pulls beside the loop (agent/images.h); NULL: images refused */
};

struct task_mgr;

int task_mgr_new(const struct task_mgr_config *cfg, struct journal *j, const struct cgroup_mgr *cg,
                 struct task_mgr **ret, bo_error_t *err);
void task_mgr_free(struct task_mgr *m);

/* Load the task records and re-attach: live executors are watched again,
 * changes that happened while the agent was down are reported. Never
 * starts or stops a task. */
int task_mgr_recover(struct task_mgr *m, bo_error_t *err);

/* Launch a batch (one sync answer): records first, in one durable commit,
 * then each executor. Launches of known task ids are ignored. */
void task_mgr_launch(struct task_mgr *m, const struct sync_launch *ls, size_t n);
void task_mgr_kill(struct task_mgr *m, const struct sync_kill *k);
/* A notify datagram named this task: re-read its status. */
void task_mgr_notified(struct task_mgr *m, const char *task_id);
/* `fd` (a pidfd from task_mgr_waitfds) became readable. */
void task_mgr_pidfd_ready(struct task_mgr *m, int fd);
/* Append one POLLIN entry per watched executor to *fds (grown as needed). */
void task_mgr_waitfds(struct task_mgr *m, struct curl_waitfd **fds, unsigned *n, unsigned *cap);
/* Timers: kill backstops, periodic status re-reads, sandbox GC. Returns the
 * milliseconds until it next needs to run. */
int task_mgr_tick(struct task_mgr *m);
/* Run sandbox GC now (after acks, for a retention of 0). */
void task_mgr_gc(struct task_mgr *m);
/* [{"task_id", "state"}] of every non-terminal task, and of every terminal
 * one whose final update is not acked yet (so it is never taken for lost). */
json_t *task_mgr_inventory(struct task_mgr *m);
/* The sync request's "usage": [{task_id, cpu_ms, memory_bytes,
 * memory_peak_bytes}] of every live task, read from its cgroup (a counter
 * the kernel lacks is null). */
json_t *task_mgr_usage(struct task_mgr *m);

/* The sandbox path of a task this agent holds, or NULL; *ret_ended: the
 * task ended and its executor is gone (task_io.h). */
/* `task run`: start `/bin/sh -c cmd` in a running task's container, as
 * its user, in its sandbox (runtime_exec_begin). */
int task_mgr_run(struct task_mgr *m, const char *task_id, const char *cmd, struct runtime_exec *ret,
                 bo_error_t *err);
/* Where `task exec` runs in task_id: its runtime and user (the sandbox's
 * owner); refused unless the task runs in a container. */
int task_mgr_exec_target(struct task_mgr *m, const char *task_id, const struct runtime **ret_rt, uid_t *ret_uid,
                         gid_t *ret_gid, bo_error_t *err);
const char *task_mgr_sandbox(struct task_mgr *m, const char *task_id, bool *ret_ended);

/* The agent stops without killing its tasks: wait (at most timeout_ms)
 * for the container starts in flight and record their executors, so a
 * restart re-attaches to them instead of reporting them lost. */
void task_mgr_settle_starts(struct task_mgr *m, int timeout_ms);

/* The first journal write that failed, or NULL. Once set, updates may be
 * lost: the agent must stop (fail-stop) and recover from the journal on
 * restart. */
const struct bo_error_s *task_mgr_failure(const struct task_mgr *m);

/* --cleanup-on-exit: start killing every live task (kill sequence). Tasks
 * that end from now on are reported with cause "agent_shutdown", and
 * launches are refused (reported LOST with that cause). */
void task_mgr_begin_cleanup(struct task_mgr *m);
/* True once no executor is left; then removes cgroups, sandboxes and
 * records of every task (sandboxes and cgroups even if the journal fails). */
bool task_mgr_cleanup_done(struct task_mgr *m);

#endif
