/* executor.c - borealis-executor SANDBOX: the per-task supervisor. Owns the
 * task's life cycle (STARTING -> RUNNING -> FINISHED / FAILED / KILLED; with
 * a health check RUNNING only once healthy, FAILED when it turns unhealthy)
 * and the event loop: a signalfd for SIGCHLD, SIGTERM and SIGINT and the
 * health check's socket, polled with a timeout only while a kill or a check
 * is due. Process mechanics live in process.c, health checks in health.c,
 * what the agent sees in status.c, task.json in spec.c.
 *
 * Kept small on purpose: one runs per task, at -1000 oom_score_adj, and it
 * never depends on the agent being alive. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "executor/health.h"
#include "executor/process.h"
#include "executor/spec.h"
#include "executor/status.h"

/* After SIGKILL, how long we wait for the groups to empty before writing
 * the terminal status anyway (a process stuck in D state cannot be helped
 * by waiting; the agent's cgroup teardown deals with it). */
#define SWEEP_BOUND_MS 5000
/* While leaders are gone but their groups are not, nothing wakes us when
 * a member whose parent is still alive exits: re-check this often. */
#define GROUP_RECHECK_MS 50

/* Aurora's kill sequence: POST the graceful endpoint and wait, POST the
 * other one and wait (only with a shutdown port), SIGTERM and wait the
 * grace, SIGKILL. Each step ends early when nothing is left to stop. */
enum kill_step { STEP_QUIT, STEP_ABORT, STEP_TERM, STEP_KILL };

struct executor {
    struct exec_spec spec;
    struct status_notifier notifier;
    struct health health;
    int sfd;
    enum task_state state;
    char *message;         /* first failure, or "" */
    bool completed;        /* every regular process succeeded: FINISHED unless a final one fails */
    int failed_procs;      /* processes failed for good (task max_failures) */
    bool finalizing;       /* final processes run (until final_deadline, CLOCK_MONOTONIC ms) */
    bool finalized;        /* finalization is over: nothing more to start */
    int64_t final_deadline;
    bool killing;          /* the kill sequence runs (`step`); every end is reported KILLED */
    bool kill_requested;   /* SIGTERM/SIGINT to us: the task ends KILLED */
    bool sigkilled;        /* the grace expired and groups got SIGKILL */
    int64_t kill_deadline; /* CLOCK_MONOTONIC ms at which the next kill step is due */
    enum kill_step step;
    struct probe post;     /* the shutdown step's POST in flight */
    struct health_spec post_spec;
    bool dirty;            /* status.json is behind */
};

static void publish(struct executor *ex)
{
    _cleanup_error_ bo_error_t err = NULL;
    if (status_write(ex->spec.task_id, ex->state, ex->message, ex->spec.procs, ex->spec.n_procs,
                     &err) < 0)
        log_warn("%s", err->msg);
    status_notify(&ex->notifier, ex->spec.task_id);
    ex->dirty = false;
}

static void set_state(struct executor *ex, enum task_state s)
{
    if (ex->state == s)
        return;
    log_info("task %s", task_state_name(s));
    ex->state = s;
    ex->dirty = true;
}

static size_t live_procs(const struct executor *ex)
{
    size_t n = 0;
    for (size_t i = 0; i < ex->spec.n_procs; i++)
        n += ex->spec.procs[i].state == PROC_RUNNING;
    return n;
}

/* As the container's init (pid 1 of its pid namespace), kill(-1) reaches
 * every other process of the container, also those that left their
 * process group (double forks, setsid), and nothing outside it. Elsewhere
 * (tests, by hand) it would reach every process of our user: never. */
static bool container_init(void)
{
    return getpid() == 1;
}

/* `sig` to every process group of the task and, in a container, to every
 * process of it. Returns how many targets may still have members (0: the
 * task is gone). */
static size_t signal_task(struct executor *ex, int sig)
{
    size_t left = proc_signal_groups(ex->spec.procs, ex->spec.n_procs, sig);
    if (container_init() && kill(-1, sig) == 0)
        left++;
    return left;
}

/* A POST nobody took (nothing listens: refused) cannot make the task
 * stop, so its wait ends at once; one that was delivered keeps its wait. */
static void post_failed(struct executor *ex, int64_t now)
{
    bool delivered = ex->post.request_len && ex->post.sent == ex->post.request_len;
    log_info("POST %s: %s%s", ex->post_spec.path, ex->post.message, delivered ? "" : "; not waiting for it");
    if (!delivered)
        ex->kill_deadline = now;
}

static void post(struct executor *ex, char *path, int64_t wait_ms, int64_t now)
{
    static char any_body[] = "";
    ex->post_spec = (struct health_spec){.kind = HEALTH_HTTP, .port = ex->spec.shutdown.port, .path = path,
                                         .expected_body = any_body, .timeout_ms = wait_ms > 0 ? wait_ms : 1,
                                         .post = true};
    log_info("killing: POST %s to 127.0.0.1:%d, then up to %lld ms for the task to end", path, ex->spec.shutdown.port,
             (long long)wait_ms);
    if (probe_start(&ex->post, &ex->post_spec, now) == PROBE_FAILED)
        post_failed(ex, now);
}

static void enter_step(struct executor *ex, enum kill_step step, int64_t now)
{
    ex->step = step;
    switch (step) {
    case STEP_QUIT:
        ex->kill_deadline = now + ex->spec.shutdown.graceful_wait_ms;
        post(ex, ex->spec.shutdown.graceful_path, ex->spec.shutdown.graceful_wait_ms, now);
        break;
    case STEP_ABORT:
        ex->kill_deadline = now + ex->spec.shutdown.abort_wait_ms;
        post(ex, ex->spec.shutdown.abort_path, ex->spec.shutdown.abort_wait_ms, now);
        break;
    case STEP_TERM: {
        probe_abort(&ex->post);
        ex->kill_deadline = now + ex->spec.kill_grace_ms;
        /* Exactly one SIGTERM per process: in a container kill(-1) alone
         * reaches them all, and signalling the groups too would deliver a
         * second one to whoever ran in between (many programs take a
         * second SIGTERM as "quit now, skip the cleanup"). */
        if (container_init()) {
            (void)kill(-1, SIGTERM);
            log_info("killing: SIGTERM to every process of the container, SIGKILL in %lld ms",
                     (long long)ex->spec.kill_grace_ms);
        } else {
            size_t groups = proc_signal_groups(ex->spec.procs, ex->spec.n_procs, SIGTERM);
            log_info("killing: SIGTERM to %zu process group(s), SIGKILL in %lld ms", groups,
                     (long long)ex->spec.kill_grace_ms);
        }
        break;
    }
    case STEP_KILL:
        log_info("kill grace expired: SIGKILL to what remains");
        signal_task(ex, SIGKILL);
        ex->sigkilled = true;
        ex->kill_deadline = now; /* the sweep bound counts from here */
        break;
    }
}

static void begin_kill(struct executor *ex)
{
    /* Finalization is bounded by finalization_wait on its own; a kill
     * then must not stop the cleanup it is running. */
    if (ex->killing || ex->finalizing || ex->finalized)
        return;
    ex->killing = true;
    health_stop(&ex->health);
    enter_step(ex, ex->spec.shutdown.port > 0 ? STEP_QUIT : STEP_TERM, bo_mono_ms());
}

/* The first failure decides the task's fate; the rest are then killed. */
static void fail(struct executor *ex, char *message)
{
    if (task_state_is_terminal(ex->state) || ex->kill_requested) {
        free(message);
    } else {
        log_info("%s", message);
        free(ex->message);
        ex->message = message;
        set_state(ex, TASK_FAILED);
    }
    begin_kill(ex);
}

static void start_one(struct executor *ex, struct proc *p)
{
    _cleanup_error_ bo_error_t err = NULL;
    ex->dirty = true;
    p->runs++;
    p->start_mono_ms = bo_mono_ms();
    p->rerun_at_ms = 0;
    if (proc_start(p, ex->spec.cwd, &err) == 0) {
        log_info("started process `%s` (pid %d, run %lld)", p->name, (int)p->pid, (long long)p->runs);
        return;
    }
    p->state = PROC_FAILED;
    p->ended_ms = bo_wall_ms();
    fail(ex, bo_xasprintf("process `%s` could not be started: %s", p->name, err->msg));
}

/* Bit k set: procs[k] has succeeded once, so those after it may start. */
static uint64_t succeeded_mask(const struct executor *ex)
{
    uint64_t m = 0;
    for (size_t i = 0; i < ex->spec.n_procs; i++)
        if (ex->spec.procs[i].succeeded)
            m |= UINT64_C(1) << i;
    return m;
}

/* Start every regular process that is WAITING, whose predecessors have
 * all succeeded and whose min_duration since its last start is over. */
static void schedule(struct executor *ex)
{
    if (ex->killing || ex->finalizing || ex->finalized || task_state_is_terminal(ex->state))
        return;
    int64_t now = bo_mono_ms();
    size_t running = live_procs(ex);
    for (size_t i = 0; i < ex->spec.n_procs && !ex->killing && !task_state_is_terminal(ex->state); i++) {
        struct proc *p = &ex->spec.procs[i];
        if (p->final || p->state != PROC_WAITING || (p->after_mask & ~succeeded_mask(ex)) || p->rerun_at_ms > now)
            continue;
        if (ex->spec.max_concurrency > 0 && running >= (size_t)ex->spec.max_concurrency)
            return; /* the next end makes room (reap, then schedule) */
        start_one(ex, p);
        running += p->state == PROC_RUNNING;
    }
}

/* When the next rerun is due (poll timeout; -1: none waits). */
static int rerun_timeout_ms(const struct executor *ex, int64_t now)
{
    int64_t until = -1;
    for (size_t i = 0; i < ex->spec.n_procs; i++) {
        const struct proc *p = &ex->spec.procs[i];
        if (p->state == PROC_WAITING && p->rerun_at_ms > 0 && (until < 0 || p->rerun_at_ms < until))
            until = p->rerun_at_ms;
    }
    if (until < 0)
        return -1;
    return until <= now ? 0 : (int)(until - now);
}

/* A regular process ended on its own: rerun it (a daemon after success,
 * any process after a failure within max_failures), no sooner than
 * min_duration after its last start; or fail the task. */
static void regular_ended(struct executor *ex, struct proc *p, bool failed)
{
    bool rerun;
    if (!failed) {
        p->succeeded = true;
        rerun = p->daemon;
    } else {
        p->failures++;
        rerun = p->max_failures == 0 || p->failures < p->max_failures;
        if (!rerun) {
            /* Task max_failures: until that many processes failed for
             * good, the task goes on without this one (and without those
             * after it). */
            ex->failed_procs++;
            if (ex->spec.max_failures > 0 && ex->failed_procs >= ex->spec.max_failures)
                fail(ex, proc_failure_message(p));
            else
                log_info("process `%s` failed for good (%d failed process(es) tolerated)", p->name,
                         ex->failed_procs);
            return;
        }
        log_info("process `%s` failed (%lld of %lld failures allowed); rerunning it", p->name,
                 (long long)p->failures, (long long)p->max_failures);
    }
    if (!rerun)
        return;
    int64_t now = bo_mono_ms();
    int64_t at = p->start_mono_ms + p->min_duration_ms;
    p->state = PROC_WAITING;
    p->rerun_at_ms = at > now ? at : now;
}

/* Bit k: procs[k] failed for good (tolerated by the task's max_failures)
 * or waits, directly or not, on one that did: it will never succeed. */
static uint64_t dead_mask(const struct executor *ex)
{
    uint64_t dead = 0;
    for (size_t i = 0; i < ex->spec.n_procs; i++)
        if (ex->spec.procs[i].state == PROC_FAILED)
            dead |= UINT64_C(1) << i;
    for (bool grew = true; grew;) {
        grew = false;
        for (size_t i = 0; i < ex->spec.n_procs; i++)
            if (!(dead & (UINT64_C(1) << i)) && (ex->spec.procs[i].after_mask & dead) &&
                ex->spec.procs[i].state == PROC_WAITING) {
                dead |= UINT64_C(1) << i;
                grew = true;
            }
    }
    return dead;
}

/* Every regular process that is not ephemeral has succeeded for good, or
 * failed for good within the task's max_failures (or waits on one that
 * did). */
static bool regular_done(const struct executor *ex)
{
    uint64_t dead = dead_mask(ex);
    for (size_t i = 0; i < ex->spec.n_procs; i++) {
        const struct proc *p = &ex->spec.procs[i];
        if (!p->final && !p->ephemeral && p->state != PROC_SUCCESS && !(dead & (UINT64_C(1) << i)))
            return false;
    }
    return true;
}

static bool has_final(const struct executor *ex)
{
    for (size_t i = 0; i < ex->spec.n_procs; i++)
        if (ex->spec.procs[i].final)
            return true;
    return false;
}

/* Finalization: the final processes one after another in their listed
 * order, all within finalization_wait. Starts the next one when none
 * runs; returns false once none is left to run (or the time is up). */
static bool finalize_step(struct executor *ex)
{
    if (!ex->finalizing) {
        if (ex->finalized || !has_final(ex))
            return false;
        ex->finalizing = true;
        health_stop(&ex->health);
        ex->final_deadline = bo_mono_ms() + ex->spec.finalization_wait_ms;
        log_info("finalizing: final processes for up to %lld ms", (long long)ex->spec.finalization_wait_ms);
    }
    if (bo_mono_ms() >= ex->final_deadline) {
        log_info("finalization_wait expired: SIGKILL to what remains");
    } else {
        for (size_t i = 0; i < ex->spec.n_procs; i++) {
            struct proc *p = &ex->spec.procs[i];
            if (!p->final)
                continue;
            if (p->state == PROC_RUNNING)
                return true; /* one at a time: wait for it */
            if (p->state == PROC_WAITING) {
                start_one(ex, p);
                if (p->state == PROC_RUNNING)
                    return true;
            }
        }
    }
    ex->finalizing = false;
    ex->finalized = true;
    return false;
}

static struct proc *find_proc(struct executor *ex, pid_t pid)
{
    for (size_t i = 0; i < ex->spec.n_procs; i++)
        if (ex->spec.procs[i].pid == pid && ex->spec.procs[i].state == PROC_RUNNING)
            return &ex->spec.procs[i];
    return NULL;
}

/* Reap everything that has ended: our processes and, as subreaper, any
 * orphaned descendant (those need nothing but the wait). */
static void reap(struct executor *ex)
{
    for (;;) {
        int st;
        pid_t pid = waitpid(-1, &st, WNOHANG);
        if (pid < 0 && errno == EINTR)
            continue;
        if (pid <= 0) {
            /* While a zombie member pinned it, a group id could not be
             * reused; now that it is reaped, the id may go to a stranger. */
            proc_forget_empty_groups(ex->spec.procs, ex->spec.n_procs);
            return;
        }
        if (health_reaped(&ex->health, pid, st))
            continue;
        struct proc *p = find_proc(ex, pid);
        if (!p)
            continue;
        bool stopping = ex->killing || ex->finalizing || ex->finalized || task_state_is_terminal(ex->state);
        bool failed = proc_ended(p, st, stopping && !p->final);
        ex->dirty = true;
        log_info("process `%s` (pid %d) ended: %s, exit_code %d, signal %d", p->name, (int)pid,
                 proc_state_name(p->state), p->exit_code, p->signal);
        if (p->final) {
            /* A failed clean-up fails a task that had succeeded so far. */
            if (failed && !task_state_is_terminal(ex->state) && !ex->kill_requested) {
                free(ex->message);
                ex->message = proc_failure_message(p);
                log_info("%s", ex->message);
                set_state(ex, TASK_FAILED);
            }
        } else if (!stopping) {
            regular_ended(ex, p, failed);
        }
    }
}

static void read_signals(struct executor *ex)
{
    struct signalfd_siginfo si;
    for (;;) {
        ssize_t n = read(ex->sfd, &si, sizeof(si));
        if (n < 0 && errno == EINTR)
            continue;
        if (n != (ssize_t)sizeof(si))
            return;
        if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
            log_info("received %s", sigabbrev_np((int)si.ssi_signo));
            if (!task_state_is_terminal(ex->state))
                ex->kill_requested = true;
            begin_kill(ex);
        }
        /* SIGCHLD: reap() runs after every wake-up anyway. */
    }
}

static void wait_events(struct executor *ex, int timeout_ms)
{
    /* The signalfd, the probe's socket, and the log pipes the executor
     * copies (logsink.h). */
    struct pollfd pfd[2 + 2 * SPEC_MAX_PROCESSES] = {{.fd = ex->sfd, .events = POLLIN}, {.fd = -1}};
    int fds[2 * SPEC_MAX_PROCESSES];
    size_t who[2 * SPEC_MAX_PROCESSES];
    size_t n_logs = proc_log_fds(ex->spec.procs, ex->spec.n_procs, fds, who);
    pfd[1].fd = ex->killing ? probe_poll_fd(&ex->post, &pfd[1].events) : health_poll_fd(&ex->health, &pfd[1].events);
    for (size_t i = 0; i < n_logs; i++)
        pfd[2 + i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
    if (poll(pfd, 2 + n_logs, timeout_ms) < 0 && errno != EINTR)
        log_warn("poll: %s", strerror(errno));
    for (size_t i = 0; i < n_logs; i++)
        if (pfd[2 + i].revents)
            proc_log_drain(ex->spec.procs, who[i]);
    read_signals(ex);
}

/* Checks due now: the first pass makes a STARTING task RUNNING, turning
 * unhealthy fails it (and so kills it). */
static void run_health(struct executor *ex)
{
    if (ex->killing || task_state_is_terminal(ex->state))
        return;
    char *why = NULL;
    switch (health_run(&ex->health, bo_mono_ms(), &why)) {
    case HEALTH_BECAME_HEALTHY:
        set_state(ex, TASK_RUNNING);
        break;
    case HEALTH_BECAME_UNHEALTHY:
        fail(ex, why);
        break;
    case HEALTH_NOTHING:
        break;
    }
}

/* The earlier of two poll timeouts (-1: none). */
static int earlier(int a, int b)
{
    if (a < 0)
        return b;
    if (b < 0)
        return a;
    return a < b ? a : b;
}

/* Until the task is terminal and every process group is empty. */
static void run(struct executor *ex)
{
    for (;;) {
        size_t live = live_procs(ex);
        if (ex->finalizing || (!ex->killing && ex->completed)) {
            /* Finalization (after a kill, a failure or the regular
             * processes' end): then the sweep SIGKILLs what is left. */
            if (!finalize_step(ex))
                return;
            if (ex->dirty)
                publish(ex);
            int64_t now = bo_mono_ms();
            wait_events(ex, ex->final_deadline > now ? (int)(ex->final_deadline - now) : 0);
            reap(ex);
            continue;
        }
        if (!ex->killing && !task_state_is_terminal(ex->state) && regular_done(ex)) {
            /* Ephemeral processes still running are stopped as a kill
             * would, then the final processes run. */
            ex->completed = true;
            log_info("the regular processes are done");
            if (live > 0)
                begin_kill(ex);
            continue;
        }
        bool groups_left = false;
        if (ex->killing && live == 0) {
            groups_left = signal_task(ex, 0) > 0;
            if (!groups_left) {
                if (finalize_step(ex))
                    continue;
                return;
            }
        }
        if (!ex->killing && task_state_is_terminal(ex->state))
            return; /* cannot happen: a failure starts the kill */
        if (ex->dirty)
            publish(ex);

        int timeout = -1;
        if (ex->killing) {
            int64_t now = bo_mono_ms();
            if (ex->post.active && probe_advance(&ex->post, &ex->post_spec, now) == PROBE_FAILED)
                post_failed(ex, now);
            while (!ex->sigkilled && now >= ex->kill_deadline)
                enter_step(ex, ex->step + 1, now);
            if (ex->sigkilled && now >= ex->kill_deadline + SWEEP_BOUND_MS) {
                log_warn("processes survive SIGKILL after %d ms; giving up on them", SWEEP_BOUND_MS);
                return;
            }
            int64_t until = ex->sigkilled ? ex->kill_deadline + SWEEP_BOUND_MS : ex->kill_deadline;
            timeout = (int)(until - now);
            if (groups_left && timeout > GROUP_RECHECK_MS)
                timeout = GROUP_RECHECK_MS;
        } else {
            timeout = earlier(timeout, health_timeout_ms(&ex->health, bo_mono_ms()));
            timeout = earlier(timeout, rerun_timeout_ms(ex, bo_mono_ms()));
        }
        wait_events(ex, timeout);
        reap(ex);
        run_health(ex);
        schedule(ex);
    }
}

/* After the terminal state: nothing of ours may outlive us. SIGKILL the
 * groups (the leaders of a FINISHED task may have left children behind)
 * and every child we still have (orphans that left their group), reap. */
static void sweep(struct executor *ex)
{
    int64_t deadline = bo_mono_ms() + SWEEP_BOUND_MS;
    for (;;) {
        reap(ex);
        size_t groups = proc_signal_groups(ex->spec.procs, ex->spec.n_procs, SIGKILL);
        size_t children = proc_kill_children();
        if (container_init() && kill(-1, SIGKILL) == 0)
            children++;
        if (groups == 0 && children == 0)
            break;
        if (bo_mono_ms() >= deadline) {
            log_warn("%zu group(s) and %zu child(ren) survive SIGKILL; leaving them", groups, children);
            break;
        }
        wait_events(ex, GROUP_RECHECK_MS);
    }
    /* Leaders we could not reap (stuck in the kernel) are reported
     * KILLED rather than RUNNING in a terminal status. */
    for (size_t i = 0; i < ex->spec.n_procs; i++) {
        struct proc *p = &ex->spec.procs[i];
        if (p->state == PROC_RUNNING) {
            p->state = PROC_KILLED;
            p->ended_ms = bo_wall_ms();
            ex->dirty = true;
        }
    }
}

static int setup_signals(int *ret_sfd)
{
    /* SIGCHLD ignored by whoever started us would make the kernel reap
     * our children behind our back. */
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    sigaction(SIGCHLD, &dfl, NULL);
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
        return -1;
    int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0)
        return -1;
    *ret_sfd = sfd;
    return 0;
}

/* Read task.json from the directory fd the agent passed in. */
static int spec_load_at(int dirfd, struct exec_spec *ret, bo_error_t *err)
{
    int fd = openat(dirfd, "task.json", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return bo_error_sys(err, errno, "open `task.json`");
    char *buf = malloc(SPEC_MAX_BYTES + 1);
    size_t len = 0;
    while (buf && len <= SPEC_MAX_BYTES) {
        ssize_t n = read(fd, buf + len, SPEC_MAX_BYTES + 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    if (!buf)
        return bo_error_sys(err, ENOMEM, "read `task.json`");
    int r = len > SPEC_MAX_BYTES ? bo_error_set(err, BO_E_INVALID, "`task.json` is too long")
                                 : spec_parse("task.json", buf, len, ret, err);
    free(buf);
    return r;
}

static int parse_fd_arg(const char *s)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || !end || *end || v < 3 || v > 1024)
        return -1;
    return (int)v;
}

static void usage(void)
{
    fprintf(stderr, "usage: borealis-executor [--state-fd N --notify-fd N] SANDBOX\n");
}

int main(int argc, char **argv)
{
    bo_log_init("executor");
    /* In a container (the agent's way): fd N is the task's .borealis
     * directory (task.json in, status.json out), hidden from the task, and
     * the notify fd a socket connected to the agent. Without them (tests,
     * by hand): SANDBOX/.borealis and the socket path in task.json. */
    int state_fd = -1, notify_fd = -1;
    int i = 1;
    while (i + 1 < argc && strncmp(argv[i], "--", 2) == 0) {
        int v = parse_fd_arg(argv[i + 1]);
        if (v < 0) {
            usage();
            return 2;
        }
        if (strcmp(argv[i], "--state-fd") == 0)
            state_fd = v;
        else if (strcmp(argv[i], "--notify-fd") == 0)
            notify_fd = v;
        else {
            usage();
            return 2;
        }
        i += 2;
    }
    if (argc != i + 1 || argv[i][0] == '\0') {
        usage();
        return 2;
    }
    const char *sandbox = argv[i];
    struct executor ex = {.sfd = -1, .state = TASK_STARTING, .message = bo_xstrdup("")};
    probe_init(&ex.post);

    _cleanup_error_ bo_error_t err = NULL;
    if (state_fd >= 0) {
        /* Not dumpable: a task running as our uid can neither ptrace us nor
         * open our fds through /proc/1/fd, so the status directory stays
         * ours. (Children become dumpable again at exec.) */
        (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        (void)fcntl(state_fd, F_SETFD, FD_CLOEXEC);
        if (notify_fd >= 0)
            (void)fcntl(notify_fd, F_SETFD, FD_CLOEXEC);
        status_set_dir(state_fd);
        if (spec_load_at(state_fd, &ex.spec, &err) < 0) {
            fprintf(stderr, "borealis-executor: %s\n", err->msg);
            return 2;
        }
    } else {
        _cleanup_free_ char *spec_path = bo_xasprintf("%s/.borealis/task.json", sandbox);
        if (spec_load(spec_path, &ex.spec, &err) < 0) {
            fprintf(stderr, "borealis-executor: %s\n", err->msg);
            return 2;
        }
    }
    if (chdir(sandbox) < 0) {
        fprintf(stderr, "borealis-executor: chdir `%s`: %s\n", sandbox, strerror(errno));
        return 1;
    }
    if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) {
        fprintf(stderr, "borealis-executor: PR_SET_CHILD_SUBREAPER: %s\n", strerror(errno));
        return 1;
    }
    if (setup_signals(&ex.sfd) < 0) {
        fprintf(stderr, "borealis-executor: signalfd: %s\n", strerror(errno));
        return 1;
    }
    if (notify_fd >= 0)
        status_notifier_init_fd(&ex.notifier, notify_fd);
    else if (state_fd < 0)
        status_notifier_init(&ex.notifier, ex.spec.notify_socket);
    else
        status_notifier_init(&ex.notifier, NULL);
    log_info("task %s: %zu process(es), %s, kill grace %lld ms", ex.spec.task_id, ex.spec.n_procs,
             ex.spec.sequential ? "sequential" : "parallel", (long long)ex.spec.kill_grace_ms);

    publish(&ex); /* STARTING */
    schedule(&ex);
    health_init(&ex.health, &ex.spec.health, bo_mono_ms());
    /* Without a check, started is running; with one, the check decides. */
    if (!task_state_is_terminal(ex.state) && !health_enabled(&ex.health))
        set_state(&ex, TASK_RUNNING);
    run_health(&ex);
    publish(&ex);

    run(&ex);
    sweep(&ex);
    /* Every process is gone: what they wrote last is in the pipes. */
    proc_log_close(ex.spec.procs, ex.spec.n_procs);
    if (!task_state_is_terminal(ex.state))
        set_state(&ex, ex.completed && !ex.kill_requested ? TASK_FINISHED : TASK_KILLED);
    publish(&ex);

    status_notifier_close(&ex.notifier);
    health_clear(&ex.health);
    probe_clear(&ex.post);
    close(ex.sfd);
    free(ex.message);
    spec_clear(&ex.spec);
    return 0;
}
