/* launcher.c - fork/exec of the executor into a task's cgroup. */
#include "agent/launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/resource.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/cgroup.h"
#include "base/fs.h"
#include "base/parse.h"

enum child_step {
    STEP_SIGNALS = 1,
    STEP_CGROUP,
    STEP_SETSID,
    STEP_OOM_ADJ,
    STEP_STDIN,
    STEP_LOG,
    STEP_FDS,
    STEP_CHDIR,
    STEP_EXEC
};

static const char *step_name(int step)
{
    switch (step) {
    case STEP_SIGNALS: return "reset the signal mask";
    case STEP_CGROUP: return "join the task cgroup";
    case STEP_SETSID: return "start a session";
    case STEP_OOM_ADJ: return "set oom_score_adj";
    case STEP_STDIN: return "open /dev/null";
    case STEP_LOG: return "open executor.log";
    case STEP_FDS: return "mark inherited fds close-on-exec";
    case STEP_CHDIR: return "enter the sandbox";
    default: return "exec the executor";
    }
}

int launcher_pidfd_open(pid_t pid)
{
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd < 0)
        return -errno;
    /* pidfd_open sets O_CLOEXEC itself. */
    return fd;
}

int launcher_pidfd_signal(int pidfd, int sig)
{
    if (syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0)
        return -errno;
    return 0;
}

/* Child side: only async-signal-safe calls (the agent may have libcurl
 * resolver threads). Reports {step, errno} on the pipe and exits. */
/* The fd limit the agent was started with: tasks get this one, not the
 * agent's raised limit (see launcher_raise_fd_limit). */
static struct rlimit task_nofile = {0, 0};

const struct rlimit *launcher_task_nofile(void)
{
    return &task_nofile;
}

void launcher_raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return;
    task_nofile = rl;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static void __attribute__((noreturn))
child(const char *executor, const char *sandbox, const char *log, char *const *procs_files, int errfd)
{
    int report[2] = {0, 0};
    sigset_t none;
    sigemptyset(&none);
    if (sigprocmask(SIG_SETMASK, &none, NULL) < 0 || signal(SIGPIPE, SIG_DFL) == SIG_ERR) {
        report[0] = STEP_SIGNALS;
        goto fail_errno;
    }
    /* Best effort: a task keeping the agent's raised limit still works. */
    if (task_nofile.rlim_max)
        (void)setrlimit(RLIMIT_NOFILE, &task_nofile);
    int r = cgroup_join_self(procs_files);
    if (r < 0) {
        report[0] = STEP_CGROUP;
        report[1] = -r;
        goto fail;
    }
    if (setsid() < 0) {
        report[0] = STEP_SETSID;
        goto fail_errno;
    }
    /* Lowering the score needs CAP_SYS_RESOURCE; without it (containers)
     * the executor just keeps the default score: best effort, and the
     * agent warns once at start (launcher_can_protect_executor). */
    int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (fd < 0 || (write(fd, "-1000", 5) != 5 && errno != EACCES && errno != EPERM)) {
        report[0] = STEP_OOM_ADJ;
        goto fail_errno;
    }
    close(fd);
    fd = open("/dev/null", O_RDONLY);
    if (fd < 0 || dup2(fd, 0) < 0) {
        report[0] = STEP_STDIN;
        goto fail_errno;
    }
    if (fd != 0)
        close(fd);
    fd = open(log, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0) {
        report[0] = STEP_LOG;
        goto fail_errno;
    }
    if (fd > 2)
        close(fd);
    /* Everything else is closed at exec, including the error pipe. Kernels
     * before 5.11 lack CLOSE_RANGE_CLOEXEC: mark them one by one. */
    if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
            report[0] = STEP_FDS;
            goto fail_errno;
        }
        for (rlim_t i = 3; i < rl.rlim_cur && i < (1u << 20); i++)
            (void)fcntl((int)i, F_SETFD, FD_CLOEXEC); /* EBADF: not open */
    }
    if (chdir(sandbox) < 0) {
        report[0] = STEP_CHDIR;
        goto fail_errno;
    }
    char *const argv[] = {(char *)executor, (char *)sandbox, NULL};
    execv(executor, argv);
    report[0] = STEP_EXEC;
fail_errno:
    report[1] = errno;
fail:
    (void)!write(errfd, report, sizeof(report));
    _exit(127);
}

static void reap(pid_t pid)
{
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

/* Kill (it may have exited already) and reap a child that must not run on.
 * If the kill failed otherwise, waiting could block for ever: leave it. */
static void kill_and_reap(pid_t pid)
{
    if (kill(pid, SIGKILL) == 0 || errno == ESRCH)
        reap(pid);
}

int launcher_start(const char *executor, const char *sandbox, char *const *procs_files, struct launcher_result *ret,
                   bo_error_t *err)
{
    _cleanup_free_ char *log = bo_xasprintf("%s/.borealis/executor.log", sandbox);
    int p[2];
    pid_t pid = bo_fork_with_pipe(p, err);
    if (pid < 0)
        return pid;
    if (pid == 0)
        child(executor, sandbox, log, procs_files, p[1]);
    close(p[1]);
    int report[2] = {0, 0};
    ssize_t n;
    do
        n = read(p[0], report, sizeof(report));
    while (n < 0 && errno == EINTR);
    close(p[0]);
    if (n < 0) {
        int e = errno;
        kill_and_reap(pid);
        return bo_error_sys(err, e, "reading the launch report of executor %d", (int)pid);
    }
    if (n == (ssize_t)sizeof(report)) {
        reap(pid);
        return bo_error_sys(err, report[1], "cannot %s `%s`", step_name(report[0]),
                            report[0] == STEP_EXEC ? executor : sandbox);
    }
    int pidfd = launcher_pidfd_open(pid);
    if (pidfd < 0) {
        kill_and_reap(pid);
        return bo_error_sys(err, -pidfd, "pidfd_open of executor %d", (int)pid);
    }
    int64_t start = 0;
    bo_error_t e = NULL;
    /* The executor may already have finished and become a zombie: then its
     * start time no longer matters (the pidfd says it exited). */
    if (launcher_proc_start_time(pid, &start, &e) < 0)
        bo_error_free(e);
    *ret = (struct launcher_result){.pid = pid, .pidfd = pidfd, .start_time = start};
    return 0;
}

int launcher_proc_start_time(pid_t pid, int64_t *ret, bo_error_t *err)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    _cleanup_free_ char *buf = NULL;
    bo_error_t e = NULL;
    if (bo_read_file(path, 4096, &buf, NULL, &e) < 0) {
        bo_error_free(e);
        return bo_error_set(err, BO_E_NOTFOUND, "process %d is gone", (int)pid);
    }
    /* comm may hold spaces and parentheses: fields start after the last ')'. */
    char *p = strrchr(buf, ')');
    if (!p || p[1] != ' ')
        return bo_error_set(err, BO_E_INTERNAL, "cannot parse `%s`", path);
    p += 2;
    if (*p == 'Z' || *p == 'X')
        return bo_error_set(err, BO_E_NOTFOUND, "process %d is a zombie", (int)pid);
    /* p is field 3 (state); field 22 is 19 fields further. */
    for (int field = 3; field < 22; field++) {
        p = strchr(p, ' ');
        if (!p)
            return bo_error_set(err, BO_E_INTERNAL, "cannot parse `%s`", path);
        p++;
    }
    char *end = strchr(p, ' ');
    if (end)
        *end = '\0';
    return bo_parse_i64(p, 0, INT64_MAX, path, ret, err);
}

bool launcher_can_protect_executor(void)
{
    _cleanup_free_ char *buf = NULL;
    if (bo_read_file("/proc/self/status", 1 << 16, &buf, NULL, NULL) < 0)
        return false;
    const char *p = strstr(buf, "CapEff:");
    if (!p)
        return false;
    unsigned long long caps = strtoull(p + strlen("CapEff:"), NULL, 16);
    return (caps >> 24) & 1; /* CAP_SYS_RESOURCE */
}
