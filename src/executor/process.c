/* process.c - starts, observes and signals the task's processes (see
 * process.h). Owns everything that happens between fork and exec. */
#include "executor/process.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/fs.h"
#include "base/parse.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

extern char **environ;

const char *proc_state_name(enum proc_state s)
{
    static const char *const names[] = {
        [PROC_WAITING] = "WAITING", [PROC_RUNNING] = "RUNNING", [PROC_SUCCESS] = "SUCCESS",
        [PROC_FAILED] = "FAILED",   [PROC_KILLED] = "KILLED",
    };
    return names[s];
}

/* Open (creating) a directory under `dirfd` without following a symlink:
 * the sandbox is writable by the task, and a process of a sequential task
 * could otherwise plant .logs/NEXT/stdout -> /some/host/file. */
static int open_dir_at(int dirfd, const char *name, const char *shown, bo_error_t *err)
{
    if (mkdirat(dirfd, name, 0755) < 0 && errno != EEXIST)
        return bo_error_sys(err, errno, "mkdir `%s`", shown);
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return bo_error_sys(err, errno, "open `%s`", shown);
    return fd;
}

static void write_str(int fd, const char *s)
{
    (void)!write(fd, s, strlen(s));
}

/* Runs in the child between fork and exec; the executor is single-threaded,
 * so plain libc calls are safe here. Never returns. */
static void __attribute__((noreturn)) child_exec(const struct proc *p, const char *cwd, int in, int out, int errfd)
{
    /* The executor in a container is not dumpable; its task must be (its
     * own /proc files, core dumps) and becomes so at exec anyway, but
     * oom_score_adj below is written before exec. */
    (void)prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
    (void)setpgid(0, 0);
    if (dup2(in, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0 || dup2(errfd, STDERR_FILENO) < 0)
        _exit(127);
    /* fds the agent leaked to us without O_CLOEXEC must not reach the task. */
    (void)syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);

    /* A clean slate: the executor blocks SIGCHLD/SIGTERM/SIGINT for its
     * signalfd, and whoever started it may have ignored SIGINT/SIGQUIT. */
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    for (int sig = 1; sig < NSIG; sig++)
        (void)sigaction(sig, &dfl, NULL);
    sigset_t none;
    sigemptyset(&none);
    (void)sigprocmask(SIG_SETMASK, &none, NULL);

    /* The agent runs us at -1000 so the OOM killer never picks the
     * supervisor; the task's own processes must be fair game. Raising it
     * is always permitted, but ignore failure (e.g. no /proc). */
    int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        (void)!write(fd, "0", 1);
        close(fd);
    }

    /* The image's WorkingDir: the executor itself stays in the sandbox. */
    if (cwd && chdir(cwd) < 0) {
        int e = errno;
        write_str(STDERR_FILENO, "borealis-executor: cannot enter the working directory `");
        write_str(STDERR_FILENO, cwd);
        write_str(STDERR_FILENO, "`: ");
        write_str(STDERR_FILENO, strerror(e));
        write_str(STDERR_FILENO, "\n");
        _exit(126);
    }
    /* PATH from the container's environment (the image's, or the agent's
     * default), as a shell would search it. */
    execvpe(p->argv[0], p->argv, environ);
    int e = errno;
    write_str(STDERR_FILENO, "borealis-executor: exec `");
    write_str(STDERR_FILENO, p->argv[0]);
    write_str(STDERR_FILENO, "`: ");
    write_str(STDERR_FILENO, strerror(e));
    write_str(STDERR_FILENO, "\n");
    _exit(e == ENOENT ? 127 : 126);
}

int proc_start(struct proc *p, const char *cwd, bo_error_t *err)
{
    _cleanup_close_ int logs = open_dir_at(AT_FDCWD, ".logs", ".logs", err);
    if (logs < 0)
        return -1;
    _cleanup_free_ char *shown = bo_xasprintf(".logs/%s", p->name);
    _cleanup_close_ int dir = open_dir_at(logs, p->name, shown, err);
    if (dir < 0)
        return -1;
    _cleanup_close_ int out = log_stream_open(&p->streams[0], &p->log, dir, p->name, 1, p->fresh_logs, err);
    if (out < 0)
        return -1;
    _cleanup_close_ int errfd = log_stream_open(&p->streams[1], &p->log, dir, p->name, 2, p->fresh_logs, err);
    if (errfd < 0)
        return -1;
    _cleanup_close_ int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return bo_error_sys(err, errno, "open `/dev/null`");

    pid_t pid = fork();
    if (pid < 0)
        return bo_error_sys(err, errno, "fork");
    if (pid == 0)
        child_exec(p, cwd, in, out, errfd);
    /* Also from the parent, so the group exists before we might signal it
     * (EACCES once the child has exec'd means it did it itself). */
    (void)setpgid(pid, pid);

    p->pid = pid;
    p->state = PROC_RUNNING;
    p->group_gone = false;
    p->exit_code = -1;
    p->signal = 0;
    p->started_ms = bo_wall_ms();
    p->ended_ms = 0;
    return 0;
}

bool proc_ended(struct proc *p, int wstatus, bool killing)
{
    p->ended_ms = bo_wall_ms();
    if (WIFEXITED(wstatus))
        p->exit_code = WEXITSTATUS(wstatus);
    else if (WIFSIGNALED(wstatus))
        p->signal = WTERMSIG(wstatus);
    bool ok = p->exit_code == 0;
    if (killing)
        p->state = PROC_KILLED;
    else
        p->state = ok ? PROC_SUCCESS : PROC_FAILED;
    return !killing && !ok;
}

char *proc_failure_message(const struct proc *p)
{
    if (p->signal) {
        const char *d = sigdescr_np(p->signal);
        return bo_xasprintf("process `%s` was killed by signal %d (%s)", p->name, p->signal,
                            d ? d : "unknown signal");
    }
    return bo_xasprintf("process `%s` exited with status %d", p->name, p->exit_code);
}

size_t proc_signal_groups(struct proc *procs, size_t n, int sig)
{
    size_t left = 0;
    for (size_t i = 0; i < n; i++) {
        struct proc *p = &procs[i];
        if (p->pid <= 0 || p->group_gone)
            continue;
        /* ESRCH: nobody left in the group. EPERM: only members we may not
         * signal are left, so waiting for them would be pointless. */
        if (kill(-p->pid, sig) < 0 && (errno == ESRCH || errno == EPERM))
            p->group_gone = true;
        else
            left++;
    }
    return left;
}

size_t proc_forget_empty_groups(struct proc *procs, size_t n)
{
    size_t marked = 0;
    for (size_t i = 0; i < n; i++) {
        struct proc *p = &procs[i];
        /* A leader not yet reaped keeps its id from being reused. */
        if (p->pid <= 0 || p->group_gone || p->state == PROC_RUNNING)
            continue;
        if (kill(-p->pid, 0) < 0 && (errno == ESRCH || errno == EPERM)) {
            p->group_gone = true;
            marked++;
        }
    }
    return marked;
}

size_t proc_kill_children(void)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int)getpid());
    _cleanup_free_ char *buf = NULL;
    if (bo_read_file(path, 1 << 20, &buf, NULL, NULL) < 0)
        return 0;
    size_t found = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
        int64_t pid;
        if (bo_parse_i64(tok, 1, INT32_MAX, "pid", &pid, NULL) < 0)
            continue;
        (void)kill((pid_t)pid, SIGKILL);
        found++;
    }
    return found;
}

size_t proc_log_fds(const struct proc *procs, size_t n, int *fds, size_t *who)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        for (int j = 0; j < 2; j++)
            if (procs[i].streams[j].piped) {
                fds[k] = procs[i].streams[j].rfd;
                who[k++] = i * 2 + (size_t)j;
            }
    return k;
}

void proc_log_drain(struct proc *procs, size_t who)
{
    struct proc *p = &procs[who / 2];
    (void)log_stream_drain(&p->streams[who % 2], &p->log, p->name, (int)(who % 2) + 1);
}

void proc_log_close(struct proc *procs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (int j = 0; j < 2; j++)
            log_stream_close(&procs[i].streams[j], &procs[i].log, procs[i].name, j + 1);
}
