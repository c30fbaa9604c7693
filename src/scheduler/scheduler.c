/* scheduler.c - `borealis scheduler`: options, recovery and the event loop.
 *
 * One thread does everything: it polls the HTTP server's epoll fd and a
 * signalfd, runs MHD, then the timers that are due and a placement pass
 * when something changed, each in one store batch committed before any
 * agent hears of it. The poll sleeps until the earliest deadline (timer
 * heap, long polls, MHD), so an idle scheduler does not wake up. No locks,
 * and the order of events is the order of the loop. */
#include "scheduler/scheduler.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>

#include "base/clock.h"
#include "base/fs.h"
#include "base/help.h"
#include "base/ident.h"
#include "base/log.h"
#include "base/parse.h"
#include "base/timefmt.h"
#include "scheduler/agent_sync.h"
#include "scheduler/gate.h"
#include "scheduler/lifecycle.h"
#include "scheduler/placement.h"
#include "scheduler/store_open.h"

/* Tasks examined per placement pass: about 100 ms of work at the measured
 * ~50k/s, then the loop serves HTTP again (and agents get their launches). */
#define PLACEMENT_PASS_MAX 5000

struct sched_cli {
    const char *data_dir;
    const char *listen;
    int64_t port;
    int sync; /* index in sync_modes */
    bool new_cluster;
    bool new_admin_token;
    int64_t audit_keep;
    const char *const *hostnames; /* into argv */
    size_t n_hostnames;
    struct sched_options opt;
};

static const char *const sync_modes[] = {"full", "normal", NULL};
#define SYNC_NORMAL 1

#define AT(m) BO_OPT_AT(struct sched_cli, m)

/* One table: parsing, defaults (also for tests and benchmarks through
 * scheduler_default_options), --help and docs/cli.md come from it. */
const struct bo_option scheduler_options[] = {
    {.name = "data-dir", .kind = BO_OPT_STRING, .arg = "DIR", .def = "/var/lib/borealis/scheduler",
     .at = AT(data_dir),
     .help = "directory of the embedded store (created if missing); a new cluster starts only in an empty one"},
    {.name = "new-cluster", .kind = BO_OPT_FLAG, .at = AT(new_cluster),
     .help = "make a new, empty cluster even though the data directory holds other files or a 0-byte store "
             "(a store with data is opened as usual, never replaced)"},
    {.name = "listen", .kind = BO_OPT_STRING, .arg = "ADDRESS", .def = "127.0.0.1", .at = AT(listen),
     .help = "address to serve the API on: IPv4 (0.0.0.0: all) or IPv6 (`::`: every IPv6 and IPv4 address)"},
    {.name = "port", .kind = BO_OPT_INT, .arg = "PORT", .def = "8081", .min = 0, .max = 65535, .at = AT(port),
     .help = "TCP port of the API (0: any free port)"},
    {.name = "hostname", .kind = BO_OPT_STRING, .arg = "NAME", .repeat = true,
     .help = "a DNS name clients reach the API by (repeatable): requests whose Host header names anything "
             "else than an IP address, localhost or these names are refused (DNS rebinding)"},
    {.name = "new-admin-token", .kind = BO_OPT_FLAG, .at = AT(new_admin_token),
     .help = "replace token `admin` by a new one written to DIR/" AUTH_ADMIN_TOKEN_FILE
             " (when that file was lost); a new cluster gets one anyway"},
    {.name = "audit-keep", .kind = BO_OPT_INT, .arg = "N", .def = "10000", .min = 10, .max = 10000000,
     .at = AT(audit_keep), .help = "audit records kept; the oldest are deleted beyond"},
    {.name = "cluster", .kind = BO_OPT_STRING, .arg = "NAME", .def = "local", .at = AT(opt.cluster),
     .help = "cluster name; jobs for another cluster are refused"},
    {.name = "agent-timeout", .kind = BO_OPT_DURATION, .def = "6s", .at = AT(opt.agent_timeout_ms),
     .min = 300, .max = 3600000,
     .help = "an agent silent this long is lost and its tasks rescheduled (at least 3 heartbeats)"},
    {.name = "agent-heartbeat", .kind = BO_OPT_DURATION, .def = "2s", .at = AT(opt.agent_heartbeat_ms),
     .min = 100, .max = 600000,
     .help = "how often agents sync when idle (their long poll is answered after this long)"},
    {.name = "drain-timeout", .kind = BO_OPT_DURATION, .def = "10m", .min = 1000, .max = 7 * 86400 * 1000LL,
     .at = AT(opt.drain_timeout_ms),
     .help = "a host drain waits for jobs' SLA policies at most this long, then moves every task (force)"},
    {.name = "reschedule-rate", .kind = BO_OPT_INT, .arg = "N", .def = "200", .min = 0, .max = 1000000,
     .at = AT(opt.reschedule_rate),
     .help = "tasks of lost agents rescheduled per second at most, after a burst of as many (0: no limit)"},
    {.name = "flap-window", .kind = BO_OPT_DURATION, .def = "5m", .at = AT(opt.flap_window_ms),
     .help = "a run shorter than this counts as flapping"},
    {.name = "flap-penalty", .kind = BO_OPT_DURATION, .def = "30s", .at = AT(opt.flap_penalty_ms),
     .help = "first THROTTLED delay of a flapping task (doubles per flap)"},
    {.name = "flap-penalty-max", .kind = BO_OPT_DURATION, .def = "5m", .at = AT(opt.flap_penalty_max_ms),
     .help = "cap of the flapping penalty"},
    {.name = "transient-timeout", .kind = BO_OPT_DURATION, .def = "5m", .at = AT(opt.transient_timeout_ms),
     .help = "a task stuck in ASSIGNED, KILLING, ... this long becomes LOST"},
    {.name = "command-resend", .kind = BO_OPT_DURATION, .def = "10s", .at = AT(opt.command_resend_ms),
     .help = "resend an unanswered launch or kill after this long"},
    {.name = "sync", .kind = BO_OPT_CHOICE, .arg = "MODE", .def = "full", .choices = sync_modes, .at = AT(sync),
     .help = "store durability: full (fsync every commit) or normal (survives process crashes only)"},
    {.name = NULL},
};

#define STR_(x) #x
#define STR(x) STR_(x)
const char scheduler_help_text[] =
    "Runs the scheduler: the HTTP API (docs/api.md), the job and task store, and placement of tasks on "
    "agents. Durations take a unit: 250ms, 30s, 5m, 1h. A new, empty cluster is made only in an empty (or "
    "new) --data-dir, or with --new-cluster; a store that is missing from a data dir holding other files, "
    "empty (0 bytes), unreadable or holding an invalid row is refused with a message naming the file (and "
    "the table and row), and the scheduler exits " STR(SCHEDULER_EXIT_STORE) ". It exits 1 when it stops on a "
    "failure while running (e.g. a store write failed: fail-stop), 2 on a usage error, 0 after SIGINT or "
    "SIGTERM.";
const char scheduler_examples[] =
    "borealis scheduler --data-dir /var/lib/borealis/scheduler --port 8081 --cluster local";

static void usage(FILE *f)
{
    const struct bo_option *const tables[] = {scheduler_options, NULL};
    struct bo_help_page p = {.usage = "borealis scheduler [OPTIONS]",
                             .text = scheduler_help_text,
                             .options = tables,
                             .examples = scheduler_examples};
    bo_help_page(f, &p);
}

/* Returns 0, or BO_OPTS_BAD_USAGE / BO_OPTS_BAD_VALUE with an error. */
static int parse_args(int argc, char **argv, struct sched_cli *c, bool *help, bo_error_t *err)
{
    memset(c, 0, sizeof(*c));
    struct bo_opts o;
    int r = bo_opts_parse(scheduler_options, argc > 0 ? argc - 1 : 0, argv + (argc > 0), c, &o, err);
    if (r < 0)
        return r;
    *help = o.help;
    const char *const *names = bo_opts_texts(&o, "hostname", &c->n_hostnames);
    if (c->n_hostnames) {
        const char **copy = bo_xcalloc(c->n_hostnames, sizeof(char *));
        memcpy(copy, names, c->n_hostnames * sizeof(char *));
        c->hostnames = copy;
    }
    for (size_t i = 0; r == 0 && i < c->n_hostnames; i++)
        r = bo_ident_check(c->hostnames[i], 253, 0, "--hostname", err);
    if (r < 0) {
        free((void *)c->hostnames);
        c->hostnames = NULL;
    }
    if (!o.help && o.n_pos > 0)
        r = bo_error_set(err, BO_E_INVALID, "unexpected argument `%.100s` (the scheduler takes only options)",
                         o.pos[0]);
    bo_opts_clear(&o);
    c->opt.terminal_keep_per_job = 100;
    /* Three heartbeats missed before an agent is lost: one late or
     * dropped answer is not a dead machine. */
    if (r == 0 && c->opt.agent_timeout_ms < 3 * c->opt.agent_heartbeat_ms) {
        char to[32], hb[32];
        bo_format_duration(c->opt.agent_timeout_ms, to, sizeof(to));
        bo_format_duration(c->opt.agent_heartbeat_ms, hb, sizeof(hb));
        bo_error_set(err, BO_E_INVALID,
                     "--agent-timeout %s is shorter than 3 heartbeats (--agent-heartbeat %s): healthy agents "
                     "would be marked lost",
                     to, hb);
        r = BO_OPTS_BAD_VALUE;
    }
    return r;
}

void scheduler_default_options(struct sched_options *ret)
{
    char *argv[] = {(char *)"scheduler", NULL};
    struct sched_cli c;
    bool help = false;
    if (parse_args(1, argv, &c, &help, NULL) < 0)
        abort(); /* the table's own defaults are invalid: a bug */
    free((void *)c.hostnames);
    *ret = c.opt;
}

static void observe(const struct http_request *req, unsigned status, int64_t duration_ms, void *ctx)
{
    struct scheduler *s = ctx;
    metrics_observe_request(&s->metrics, req->route ? req->route->name : "unknown", status, duration_ms);
}

/* Run one batch of work (timers or placement) and commit it. */
static int run_batch(struct scheduler *s, int (*fn)(struct scheduler *, bo_error_t *), bo_error_t *err)
{
    if (store_begin(s->state.store, err) < 0)
        return -1;
    if (fn(s, err) < 0 || store_commit(s->state.store, err) < 0) {
        store_rollback(s->state.store);
        return -1;
    }
    return 0;
}

static int do_timers(struct scheduler *s, bo_error_t *err)
{
    return lifecycle_run_timers(&s->state, bo_mono_ms(), err);
}

static int do_place(struct scheduler *s, bo_error_t *err)
{
    int n = placement_run(&s->state, PLACEMENT_PASS_MAX, err);
    return n < 0 ? -1 : 0;
}

/* The earlier of two poll timeouts, where -1 means none. */
static int64_t earliest(int64_t a, int64_t b)
{
    return a < 0 ? b : b < 0 ? a : a < b ? a : b;
}

static int read_signal(struct scheduler *s, int sigfd, bo_error_t *err)
{
    struct signalfd_siginfo si;
    ssize_t n = read(sigfd, &si, sizeof(si));
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (n != (ssize_t)sizeof(si))
        return bo_error_sys(err, n < 0 ? errno : EIO, "read signalfd");
    log_info("signal %u: stopping", si.ssi_signo);
    s->stopping = true;
    return 0;
}

/* A request failed its commit with memory ahead of the store: stop before
 * timers or placement act on that memory (the store refuses their writes
 * anyway, see state_fatal). */
static int stop_if_fatal(struct scheduler *s, bo_error_t *err)
{
    if (!s->state.fatal)
        return 0;
    return bo_error_set(err, BO_E_IO, "store failure, stopping to recover from the store on restart: %s",
                        s->state.fatal);
}

/* If no request waits to be read, the loop has heard every agent that
 * spoke before `now`: silence is judged up to there (heard_until_mono).
 * A loop busy for longer than --agent-timeout (a huge create, a long
 * placement pass, a backlog of requests) thus never counts its own
 * deafness against an agent; under an overload that never drains, agents
 * are judged once it does (a late LOST is safe, a false one makes two
 * copies). */
static void note_heard(struct scheduler *s, int64_t now)
{
    if (http_server_drained(s->http))
        s->state.heard_until_mono = now;
}

static int loop(struct scheduler *s, int sigfd, bo_error_t *err)
{
    struct sched_state *st = &s->state;
    while (!s->stopping) {
        int64_t now = bo_mono_ms();
        int64_t timeout = placement_is_due(st) ? 0 : -1;
        timeout = earliest(timeout, bo_timer_heap_timeout_ms(&st->timers, now));
        int64_t poll_deadline = agent_sync_next_deadline(st);
        timeout = earliest(timeout, poll_deadline < 0 ? -1 : poll_deadline > now ? poll_deadline - now : 0);
        timeout = earliest(timeout, http_server_timeout_ms(s->http));
        struct pollfd pfd[2] = {{http_server_fd(s->http), POLLIN, 0}, {sigfd, POLLIN, 0}};
        if (poll(pfd, 2, timeout > INT_MAX ? INT_MAX : (int)timeout) < 0 && errno != EINTR)
            return bo_error_sys(err, errno, "poll");
        if ((pfd[1].revents & POLLIN) && read_signal(s, sigfd, err) < 0)
            return -1;
        http_server_run(s->http);
        if (stop_if_fatal(s, err) < 0)
            return -1;
        now = bo_mono_ms();
        note_heard(s, now);
        if (bo_timer_heap_timeout_ms(&st->timers, now) == 0 && run_batch(s, do_timers, err) < 0)
            return -1;
        if (placement_is_due(st) && run_batch(s, do_place, err) < 0)
            return -1;
        agent_sync_wake(st, now);
        http_server_run(s->http);
        if (stop_if_fatal(s, err) < 0)
            return -1;
        note_heard(s, bo_mono_ms());
    }
    return 0;
}

int scheduler_main(int argc, char **argv)
{
    bo_log_init("scheduler");
    struct sched_cli cli;
    bool help = false;
    _cleanup_error_ bo_error_t err = NULL;
    if (parse_args(argc, argv, &cli, &help, &err) < 0) {
        fprintf(stderr, "borealis scheduler: %s\nRun `borealis scheduler --help` for its options.\n", err->msg);
        return 2;
    }
    _cleanup_free_ void *hostnames = (void *)cli.hostnames; /* the array; names are argv's */
    (void)hostnames;
    if (help) {
        usage(stdout);
        return 0;
    }
    if (job_ident_validate(cli.opt.cluster, "--cluster", &err) < 0) {
        fprintf(stderr, "borealis scheduler: %s\n", err->msg);
        return 2;
    }
    /* Agents hold a connection each; make room for many (best effort: the
     * scheduler works with fewer agents without it). */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            log_warn("raising the open file limit to %llu: %s", (unsigned long long)rl.rlim_max,
                     strerror(errno));
    }
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    _cleanup_close_ int sigfd = -1;
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR || sigprocmask(SIG_BLOCK, &mask, NULL) < 0 ||
        (sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK)) < 0) {
        log_error("setting up signal handling: %s", strerror(errno));
        return 1;
    }

    struct scheduler *s = bo_xcalloc(1, sizeof(*s));
    s->metrics.started_wall_ms = bo_wall_ms();
    struct store *store = NULL;
    int rc = SCHEDULER_EXIT_STORE;
    if (sched_store_open(cli.data_dir, cli.sync != SYNC_NORMAL, cli.new_cluster, &store, &err) < 0)
        goto out;
    state_init(&s->state, &cli.opt, store);
    int64_t t0 = bo_mono_ms();
    if (state_load(&s->state, &err) < 0)
        goto out;
    rc = 1;
    char jobs[48], tasks[48], agents[48];
    bo_format_count(HASH_COUNT(s->state.jobs), "job", jobs, sizeof(jobs));
    bo_format_count(HASH_COUNT(s->state.tasks), "task", tasks, sizeof(tasks));
    bo_format_count(HASH_COUNT(s->state.agents), "agent", agents, sizeof(agents));
    log_info("recovered %s, %s, %s from %s in %lld ms", jobs, tasks, agents, store_path(store),
             (long long)(bo_mono_ms() - t0));
    if (auth_load(&s->auth, store, &err) < 0 || audit_load(&s->audit, store, cli.audit_keep, &err) < 0)
        goto out;
    int made = auth_bootstrap(&s->auth, store, cli.data_dir, cli.new_admin_token, bo_wall_ms(), &err);
    if (made < 0)
        goto out;
    if (made)
        log_info("admin token written to %s/" AUTH_ADMIN_TOKEN_FILE " (mode 0600)", cli.data_dir);
    s->hostnames = (char **)cli.hostnames;
    s->n_hostnames = cli.n_hostnames;
    lifecycle_recovered(&s->state, bo_mono_ms(), bo_wall_ms());
    lifecycle_maintenance_recovered(&s->state);
    s->state.agent_waiting = agent_sync_is_parked;
    if (http_server_start(cli.listen, (unsigned)cli.port, api_routes, api_routes_count, s, observe, &s->http,
                          &err) < 0)
        goto out;
    http_server_set_gate(s->http, gate_check);
    bool v6 = strchr(cli.listen, ':') != NULL;
    log_info("cluster %s: API on http://%s%s%s:%u/api/v1", cli.opt.cluster, v6 ? "[" : "", cli.listen, v6 ? "]" : "",
             http_server_port(s->http));
    if (loop(s, sigfd, &err) < 0)
        goto out;
    rc = 0;
out:
    if (err)
        log_error("%s", err->msg);
    if (s->http) {
        agent_sync_release_all(&s->state);
        http_server_run(s->http); /* answers the resumed polls */
    }
    http_server_stop(s->http);
    state_free(&s->state);
    auth_free(&s->auth);
    metrics_free(&s->metrics);
    store_close(store);
    free(s);
    return rc;
}
