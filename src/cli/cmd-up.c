/* cmd-up.c - `borealis up`: a whole cluster on this machine for newcomers.
 * Owns the two child daemons (scheduler, agent): starts them, waits until
 * they work, creates the example job, and stops them in order (agent
 * first, so it kills its tasks and cleans up, then the scheduler) on
 * Ctrl-C, on SIGTERM, when one of them dies, and when startup fails. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "base/clock.h"
#include "base/fs.h"
#include "base/parse.h"
#include "base/timefmt.h"
#include "cli/api.h"
#include "cli/cli.h"
#include "cli/credentials.h"
#include "cli/trust.h"
#include "net/http_client.h"
#include "cli/exitcode.h"
#include "cli/job_ops.h"
#include "cli/wait.h"

#define UP_DEFAULT_DIR "./.borealis-up"
#define UP_DEFAULT_PORT "8081"
#define UP_DEFAULT_FILE "examples/hello.yaml"
#define UP_DEFAULT_JOB "local/www-data/devel/hello"
#define UP_START_TIMEOUT_MS 20000  /* scheduler healthy, agent registered */
#define UP_JOB_TIMEOUT_MS 30000    /* example job running */
#define UP_AGENT_STOP_MS 60000     /* agent: kill grace of its tasks + cleanup */
#define UP_SCHEDULER_STOP_MS 20000
#define UP_TICK_MS 100
#define UP_LOG_TAIL 4096           /* bytes of a dead daemon's log we show */

static const struct bo_option options[] = {
    {.name = "data-dir", .kind = BO_OPT_STRING, .arg = "DIR", .def = UP_DEFAULT_DIR,
     .help = "state and logs of both daemons"},
    {.name = "port", .kind = BO_OPT_INT, .arg = "PORT", .def = UP_DEFAULT_PORT, .min = 1, .max = 65535,
     .help = "scheduler API port"},
    {.name = "file", .kind = BO_OPT_STRING, .arg = "FILE", .def = UP_DEFAULT_FILE,
     .help = "job file of the example job"},
    {.name = "job", .kind = BO_OPT_STRING, .arg = "KEY", .def = UP_DEFAULT_JOB, .help = "example job to create"},
    {.name = NULL},
};

struct daemon {
    const char *name;
    pid_t pid; /* 0: not running */
    char *log;
};

struct up {
    int sfd; /* signalfd: SIGINT, SIGTERM, SIGHUP, SIGCHLD */
    sigset_t old_mask;
    struct daemon scheduler, agent;
    struct daemon *died;
    int died_status;
};

enum tick { TICK_OK, TICK_STOP, TICK_DIED };

static pid_t spawn(struct up *u, struct daemon *d, char *const *argv)
{
    int log = open(d->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log < 0)
        return cli_fail(1, "open `%s`: %s", d->log, strerror(errno)), -1;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        close(log);
        return cli_fail(1, "fork: %s", strerror(errno)), -1;
    }
    if (pid == 0) {
        /* Own process group: Ctrl-C in the terminal reaches only us, and we
         * stop the daemons in order. If we die without stopping them, the
         * kernel sends them SIGTERM. */
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(1);
        int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(log, 1) < 0 || dup2(log, 2) < 0)
            _exit(127);
        sigprocmask(SIG_SETMASK, &u->old_mask, NULL);
        execv("/proc/self/exe", argv);
        dprintf(2, "borealis up: exec /proc/self/exe: %s\n", strerror(errno));
        _exit(127);
    }
    close(log);
    d->pid = pid;
    return pid;
}

static void describe_exit(int status, char *buf, size_t len)
{
    if (WIFEXITED(status))
        snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, len, "was killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(buf, len, "stopped");
}

/* Reap what has exited; remember the first daemon that died. */
static void reap(struct up *u)
{
    struct daemon *all[] = {&u->scheduler, &u->agent};
    for (size_t i = 0; i < BO_ARRAY_SIZE(all); i++) {
        int st;
        if (all[i]->pid > 0 && waitpid(all[i]->pid, &st, WNOHANG) == all[i]->pid) {
            all[i]->pid = 0;
            if (!u->died) {
                u->died = all[i];
                u->died_status = st;
            }
        }
    }
}

/* Wait up to `ms` (-1: forever) for a signal; report a stop request or a
 * dead daemon. */
static enum tick tick(struct up *u, int ms)
{
    struct pollfd p = {.fd = u->sfd, .events = POLLIN};
    int64_t end = ms < 0 ? -1 : bo_mono_ms() + ms;
    for (;;) {
        reap(u);
        if (u->died)
            return TICK_DIED;
        int left = end < 0 ? -1 : (int)(end - bo_mono_ms());
        if (end >= 0 && left <= 0)
            return TICK_OK;
        if (poll(&p, 1, left) < 0 && errno != EINTR)
            return TICK_STOP;
        struct signalfd_siginfo si;
        bool stop = false;
        while (read(u->sfd, &si, sizeof(si)) == sizeof(si))
            if (si.ssi_signo != SIGCHLD)
                stop = true;
        if (stop)
            return TICK_STOP;
    }
}

static void print_log_tail(const struct daemon *d)
{
    int fd = open(d->log, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    off_t size = lseek(fd, 0, SEEK_END);
    off_t from = size > UP_LOG_TAIL ? size - UP_LOG_TAIL : 0;
    char buf[UP_LOG_TAIL + 1];
    ssize_t n = pread(fd, buf, UP_LOG_TAIL, from);
    close(fd);
    if (n <= 0)
        return;
    buf[n] = '\0';
    /* The last 10 lines. */
    char *p = buf + n;
    int lines = 0;
    while (p > buf && lines <= 10)
        if (*--p == '\n' && p + 1 < buf + n)
            lines++;
    if (lines > 10)
        p++;
    fprintf(stderr, "--- last lines of %s ---\n%s%s", d->log, p, buf[n - 1] == '\n' ? "" : "\n");
}

/* SIGTERM, wait up to `ms`, then SIGKILL. A second Ctrl-C skips the wait. */
static void stop_daemon(struct up *u, struct daemon *d, int ms, const char *why)
{
    if (d->pid <= 0)
        return;
    printf("Stopping the %s%s...\n", d->name, why);
    fflush(stdout);
    kill(d->pid, SIGTERM);
    int64_t end = bo_mono_ms() + ms;
    struct pollfd p = {.fd = u->sfd, .events = POLLIN};
    while (bo_mono_ms() < end) {
        int st;
        if (waitpid(d->pid, &st, WNOHANG) == d->pid) {
            d->pid = 0;
            return;
        }
        bool force = false;
        if (poll(&p, 1, UP_TICK_MS) > 0) {
            struct signalfd_siginfo si;
            while (read(u->sfd, &si, sizeof(si)) == sizeof(si))
                if (si.ssi_signo != SIGCHLD)
                    force = true;
        }
        if (force)
            break;
    }
    fprintf(stderr, CLI_PROGRAM ": the %s did not stop; killing it (SIGKILL)\n", d->name);
    kill(d->pid, SIGKILL);
    while (waitpid(d->pid, NULL, 0) < 0 && errno == EINTR)
        ;
    d->pid = 0;
}

/* The one exit path once a daemon was started: nothing is left behind. */
static int shutdown_all(struct up *u, int code)
{
    if (u->died) {
        char how[96];
        describe_exit(u->died_status, how, sizeof(how));
        cli_fail(1, "the %s %s unexpectedly; its log is %s", u->died->name, how, u->died->log);
        print_log_tail(u->died);
        code = 1;
    }
    stop_daemon(u, &u->agent, UP_AGENT_STOP_MS, " (it kills its tasks and cleans up)");
    stop_daemon(u, &u->scheduler, UP_SCHEDULER_STOP_MS, "");
    printf("Stopped.\n");
    return code;
}

/* Poll until `ready` says yes, a stop is asked, a daemon dies or the
 * startup timeout passes. Returns -1 with the exit code in *ret_code. */
static int await(struct up *u, const struct cli_ctx *api, bool (*ready)(const struct cli_ctx *),
                 const char *what, const char *log, int *ret_code)
{
    int64_t end = bo_mono_ms() + UP_START_TIMEOUT_MS;
    for (;;) {
        if (ready(api))
            return 0;
        enum tick t = tick(u, UP_TICK_MS);
        if (t == TICK_STOP) {
            *ret_code = 0;
            return -1;
        }
        if (t == TICK_DIED) {
            *ret_code = 1;
            return -1;
        }
        if (bo_mono_ms() >= end) {
            *ret_code = cli_fail(1, "%s within %d s; see %s", what, UP_START_TIMEOUT_MS / 1000,
                                 log);
            return -1;
        }
    }
}

static bool scheduler_healthy(const struct cli_ctx *api)
{
    json_t *body = NULL;
    if (api_call(api, "GET", "/health", NULL, &body, NULL) < 0)
        return false;
    json_decref(body);
    return true;
}

static bool agent_registered(const struct cli_ctx *api)
{
    json_t *body = NULL, *a;
    size_t i;
    bool up = false;
    if (api_call(api, "GET", "/api/v1/agents", NULL, &body, NULL) < 0)
        return false;
    json_array_foreach(json_object_get(body, "agents"), i, a)
    {
        const char *st = json_string_value(json_object_get(a, "state"));
        up = up || (st && !strcmp(st, "up"));
    }
    json_decref(body);
    return up;
}

/* Wait (reacting to signals and dead daemons) for the example job to run;
 * a job that does not get there is reported but the cluster stays up, so
 * it can be looked at. */
static enum tick await_job(struct up *u, const struct cli_ctx *api, const char *key)
{
    _cleanup_free_ char *path = bo_xasprintf("/api/v1/jobs/%s", key);
    int64_t end = bo_mono_ms() + UP_JOB_TIMEOUT_MS;
    for (;;) {
        json_t *answer = NULL;
        struct wait_verdict v = {0};
        if (api_call(api, "GET", path, NULL, &answer, NULL) == 0) {
            wait_evaluate(answer, WAIT_RUNNING, &v);
            json_decref(answer);
            if (v.reached || v.failed || bo_mono_ms() >= end) {
                if (v.reached) {
                    char count[48];
                    bo_format_count(v.instances, "instance", count, sizeof(count));
                    printf("Job %s is RUNNING (%lld of %s)\n", key, (long long)v.done, count);
                } else {
                    fprintf(stderr, CLI_PROGRAM ": warning: job %s is not running: %s\n", key,
                            v.failures ? v.failures : v.missing);
                }
                wait_verdict_clear(&v);
                return TICK_OK;
            }
            wait_verdict_clear(&v);
        } else if (bo_mono_ms() >= end) {
            fprintf(stderr, CLI_PROGRAM ": warning: cannot read the state of job %s\n", key);
            return TICK_OK;
        }
        enum tick t = tick(u, 2 * UP_TICK_MS);
        if (t != TICK_OK)
            return t;
    }
}

static int run(struct cli_ctx *ctx, const struct cli_args *a)
{
    const char *dir = cli_value(a, "data-dir"), *file = cli_value(a, "file"), *job = cli_value(a, "job");
    int64_t port = cli_typed(a, "port").i;
    _cleanup_error_ bo_error_t err = NULL;
    if (strlen(dir) > PATH_MAX - 64)
        return cli_fail(CLI_EXIT_INVALID_PARAMETER, "--data-dir is too long");
    _cleanup_free_ char *key = NULL;
    int r = job_ops_check_key(job, &key);
    if (r != CLI_EXIT_OK)
        return r;
    if (bo_mkdir_p(dir, 0755, &err) < 0)
        return cli_fail(1, "%s", err->msg);

    _cleanup_free_ char *sched_dir = bo_xasprintf("%s/scheduler", dir);
    _cleanup_free_ char *agent_dir = bo_xasprintf("%s/agent", dir);
    _cleanup_free_ char *url = bo_xasprintf("https://127.0.0.1:%lld", (long long)port);
    /* The scheduler makes its CA and join token in DATA/scheduler/tls on
     * first start: up trusts that CA, hands the token to its agent, and
     * saves the CA where the CLI looks for this address (cli/trust.c). */
    _cleanup_free_ char *ca_file = bo_xasprintf("%s/tls/ca.pem", sched_dir);
    _cleanup_free_ char *token_file = bo_xasprintf("%s/tls/join-token", sched_dir);
    _cleanup_free_ char *ca_pem = NULL;
    struct http_tls tls = {.ca_file = ca_file};
    http_client_set_tls(&tls);
    _cleanup_free_ char *port_arg = bo_xasprintf("%lld", (long long)port);
    struct up u = {
        .scheduler = {"scheduler", 0, bo_xasprintf("%s/scheduler.log", dir)},
        .agent = {"agent", 0, bo_xasprintf("%s/agent.log", dir)},
    };
    struct cli_ctx api = {.argv0 = ctx->argv0, .scheduler = url};
    _cleanup_free_ char *token = NULL, *token_path = NULL;
    const char *me = strchr(ctx->argv0, '/') ? ctx->argv0 : CLI_PROGRAM;

    /* Signals are read from a signalfd; blocked before the first fork so
     * none is lost, unblocked again in the children before exec. */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGHUP);
    sigaddset(&mask, SIGCHLD);
    sigprocmask(SIG_BLOCK, &mask, &u.old_mask);
    u.sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (u.sfd < 0) {
        r = cli_fail(1, "signalfd: %s", strerror(errno));
        goto out;
    }

    char *sched_argv[] = {"borealis", "scheduler", "--data-dir", sched_dir, "--port", port_arg,
                          "--cluster", "local", NULL};
    char *agent_argv[] = {"borealis", "agent", "--data-dir", agent_dir, "--scheduler", url,
                          "--join-token-file", token_file, "--ca", ca_file, "--cleanup-on-exit", NULL};
    /* Else the health check below would be answered by someone else. */
    if (scheduler_healthy(&api)) {
        r = cli_fail(1, "something already answers on %s; stop it or choose another --port", url);
        goto out;
    }
    printf("Starting the scheduler on %s (log: %s)\n", url, u.scheduler.log);
    fflush(stdout);
    if (spawn(&u, &u.scheduler, sched_argv) < 0) {
        r = 1;
        goto out;
    }
    if (await(&u, &api, scheduler_healthy, "the scheduler did not answer GET /health",
              u.scheduler.log, &r) < 0) {
        r = shutdown_all(&u, r);
        goto out;
    }
    /* The scheduler made its admin token on its first start: up acts with
     * it, and tells the user where it is. */
    token_path = bo_xasprintf("%s/admin.token", sched_dir);
    if (credentials_read_file(token_path, &token, &err) < 0) {
        cli_fail(1, "%s", err->msg);
        r = shutdown_all(&u, 1);
        goto out;
    }
    api.token = token;
    bool ca_saved = bo_read_file(ca_file, 65536, &ca_pem, NULL, &err) == 0 && cli_trust_save(url, ca_pem, &err) == 0;
    if (!ca_saved) {
        fprintf(stderr, CLI_PROGRAM ": warning: the scheduler's CA was not saved for the CLI: %s\n", err->msg);
        bo_error_free(err);
        err = NULL;
    }
    printf("Starting the agent (log: %s)\n", u.agent.log);
    fflush(stdout);
    if (spawn(&u, &u.agent, agent_argv) < 0) {
        r = shutdown_all(&u, 1);
        goto out;
    }
    if (await(&u, &api, agent_registered, "the agent did not register with the scheduler",
              u.agent.log, &r) < 0) {
        r = shutdown_all(&u, r);
        goto out;
    }

    struct stat st;
    bool have_job = stat(file, &st) == 0;
    if (!have_job) {
        fprintf(stderr, CLI_PROGRAM ": warning: job file %s not found; no example job created\n",
                file);
    } else {
        struct job_create_opts o = {.key = key, .file = file, .exists_ok = true};
        r = job_ops_create(&api, &o);
        if (r != CLI_EXIT_OK) {
            r = shutdown_all(&u, r);
            goto out;
        }
        if (await_job(&u, &api, key) != TICK_OK) {
            r = shutdown_all(&u, 0);
            goto out;
        }
    }

    printf("\nBorealis is up: scheduler API at %s\n\n", url);
    printf("In another shell, try:\n");
    printf("  export " CLI_SCHEDULER_ENV "=%s\n", url);
    char *abs = realpath(token_path, NULL);
    printf("  export " CLI_TOKEN_FILE_ENV "=%s\n", abs ? abs : token_path);
    free(abs);
    if (!ca_saved)
        printf("  export " CLI_CA_ENV "=%s\n", ca_file);
    if (have_job) {
        printf("  %s job status %s\n", me, key);
        printf("  %s job list\n", me);
        printf("  %s task list --job %s\n", me, key);
        printf("  %s job killall %s\n", me, key);
    } else {
        printf("  %s job create %s FILE\n", me, key);
        printf("  %s job list\n", me);
    }
    printf("\nLogs: %s, %s. Press Ctrl-C to stop (the agent kills every task and cleans up).\n",
           u.scheduler.log, u.agent.log);
    fflush(stdout);
    r = shutdown_all(&u, tick(&u, -1) == TICK_DIED ? 1 : 0);
out:
    if (u.sfd >= 0)
        close(u.sfd);
    sigprocmask(SIG_SETMASK, &u.old_mask, NULL);
    free(u.scheduler.log);
    free(u.agent.log);
    if (token)
        explicit_bzero(token, strlen(token));
    return r;
}

const struct cli_command cmd_up_entry = {
    .name = "up",
    .args = "",
    .summary = "run a whole cluster on this machine (scheduler, agent, example job)",
    .help = "Starts a scheduler and an agent as child processes (state and logs in DIR), "
            "waits until the scheduler answers and the agent has registered, creates the "
            "example job and prints how to reach the cluster (the scheduler's admin token is "
            "DIR/scheduler/admin.token, mode 0600: the CLI uses it with $BOREALIS_TOKEN_FILE). Stays in the foreground until "
            "Ctrl-C or SIGTERM, then stops the agent (which kills every task and removes its "
            "cgroups and sandboxes) and the scheduler. If a daemon dies, the other is stopped "
            "and up exits 1, naming the daemon and its log. Running up again on the same DIR "
            "keeps the cluster's state.",
    .examples = "borealis up\n"
                "borealis up --port 9090 --data-dir /tmp/borealis",
    .options = options,
    .min_args = 0,
    .max_args = 0,
    .offline = true,
    .run = run,
};
