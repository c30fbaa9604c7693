/* launcher.h - starting the executor of a task inside its cgroup, and the
 * process identity (pid + start time) used to re-attach after a restart. */
#ifndef BO_AGENT_LAUNCHER_H
#define BO_AGENT_LAUNCHER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"

struct launcher_result {
    pid_t pid;
    int pidfd;          /* O_CLOEXEC; readable when the executor exits */
    int64_t start_time; /* /proc/PID/stat field 22 */
};

/* Fork and exec `executor SANDBOX`: the child joins the cgroup (procs_files
 * from cgroup_procs_files), starts a new session, sets oom_score_adj to
 * -1000, gets stdin /dev/null and stdout/stderr appended to
 * SANDBOX/.borealis/executor.log, and runs in SANDBOX with no other fds.
 * A failure in the child (up to and including exec) is reported here with
 * the step that failed. */
/* Raise the agent's open-file limit to its hard limit (one pidfd per task,
 * plus sockets and the journal) and remember the original for the tasks. */
void launcher_raise_fd_limit(void);
/* The limit remembered by launcher_raise_fd_limit (rlim_max 0: none). */
struct rlimit;
const struct rlimit *launcher_task_nofile(void);
int launcher_start(const char *executor, const char *sandbox, char *const *procs_files, struct launcher_result *ret,
                   bo_error_t *err);
/* Start time of a process (clock ticks since boot); BO_E_NOTFOUND if the
 * process is gone or a zombie. */
int launcher_proc_start_time(pid_t pid, int64_t *ret, bo_error_t *err);
/* pidfd_open(2) wrapper: -errno on failure. */
int launcher_pidfd_open(pid_t pid);
int launcher_pidfd_signal(int pidfd, int sig);
/* Whether this process may set oom_score_adj to -1000 (CAP_SYS_RESOURCE). */
bool launcher_can_protect_executor(void);

#endif
